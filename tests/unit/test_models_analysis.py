"""``analysis`` in the request: every bad field refused by name, before anything changes."""

from typing import Any

import pytest

from rollouts.errors import ValidationError
from rollouts.models import parse_request
from rollouts.state import RolloutState

BASE: dict[str, Any] = {
    "functionName": "orders-api",
    "alias": "live",
    "version": "7",
    "strategy": "Canary10Percent5Minutes",
}
METRIC: dict[str, Any] = {
    "namespace": "Orders",
    "name": "CheckoutFailed",
    "dimensions": [{"name": "Version", "value": "${version}"}],
    "max": 5,
}


def refused(analysis: Any, **request: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        parse_request({**BASE, **request, "analysis": analysis})
    return dict(raised.value.errors)


@pytest.mark.parametrize(
    ("analysis", "request_", "field", "words"),
    [
        pytest.param({}, {}, "analysis", "judges nothing", id="judges-nothing"),
        pytest.param([], {}, "analysis", "must be a JSON object", id="not-an-object"),
        pytest.param({"maxErrorRate": 150}, {}, "analysis.maxErrorRate", "100", id="rate-over-100"),
        pytest.param({"maxErrorRate": -1}, {}, "analysis.maxErrorRate", "0", id="rate-negative"),
        pytest.param({"maxErrorRate": "1"}, {}, "analysis.maxErrorRate", "number", id="rate-text"),
        pytest.param({"maxErrorRate": True}, {}, "analysis.maxErrorRate", "number", id="rate-bool"),
        pytest.param(
            {"compareToBaseline": "yes"},
            {},
            "analysis.compareToBaseline",
            "boolean",
            id="compare-text",
        ),
        pytest.param(
            {"compareToBaseline": True, "confidence": 1},
            {},
            "analysis.confidence",
            "less than 1",
            id="confidence-1",
        ),
        pytest.param(
            {"compareToBaseline": True, "confidence": 0.3},
            {},
            "analysis.confidence",
            "0.5",
            id="confidence-low",
        ),
        pytest.param({"maxP99DurationMs": 0}, {}, "analysis.maxP99DurationMs", "0", id="p99-zero"),
        pytest.param(
            {"maxDurationIncrease": -2}, {}, "analysis.maxDurationIncrease", "0", id="increase-neg"
        ),
        pytest.param(
            {"maxErrorRate": 1, "minInvocations": 2.5},
            {},
            "analysis.minInvocations",
            "integer",
            id="min-not-whole",
        ),
        pytest.param(
            {"maxErrorRate": 1, "inconclusive": "wait"},
            {},
            "analysis.inconclusive",
            "'pause', 'rollback' or 'continue'",
            id="inconclusive-unknown",
        ),
        pytest.param(
            {"maxErrorRate": 1, "settleSeconds": 400},
            {},
            "analysis.settleSeconds",
            "longer than step 1's bake of 300 s",
            id="settle-longer-than-bake",
        ),
        pytest.param(
            {"maxErrorRate": 1, "settleSeconds": 0},
            {"strategy": "Linear10PercentEvery1Minute"},
            "strategy",
            "at least 120 s",
            id="a-one-minute-step-cannot-be-judged",
        ),
        pytest.param(
            {"maxErrorRate": 1}, {"strategy": "AllAtOnce"}, "analysis", "no step", id="all-at-once"
        ),
        pytest.param(
            {"maxErrorRate": 1, "dryrun": True},
            {},
            "analysis.dryrun",
            "unknown field; accepted: maxErrorRate",
            id="typo-refused",
        ),
        pytest.param(
            {"metrics": [{**METRIC, "dimensions": [{"name": "Service", "value": "orders"}]}]},
            {},
            "analysis.metrics[0].dimensions",
            "${version}",
            id="metric-reads-both-versions-as-one",
        ),
        pytest.param(
            {"metrics": [{k: v for k, v in METRIC.items() if k != "max"}]},
            {},
            "analysis.metrics[0]",
            "give max, maxIncrease or both",
            id="metric-judged-by-nothing",
        ),
        pytest.param(
            {"metrics": [{**METRIC, "statistic": "Median"}]},
            {},
            "analysis.metrics[0].statistic",
            "a percentile like p99",
            id="metric-statistic-unknown",
        ),
        pytest.param(
            {"metrics": [{**METRIC, "statistic": "p100.5"}]},
            {},
            "analysis.metrics[0].statistic",
            "percentile",
            id="metric-percentile-over-100",
        ),
        pytest.param(
            {"metrics": [{**METRIC, "colour": "red"}]},
            {},
            "analysis.metrics[0].colour",
            "unknown field; accepted: namespace, name, dimensions",
            id="metric-unknown-field",
        ),
        pytest.param(
            {"maxP99DurationMs": 1e200}, {}, "analysis.maxP99DurationMs", "1e+12", id="p99-huge"
        ),
        pytest.param(
            {"maxErrorRate": 1e-320}, {}, "analysis.maxErrorRate", "1e-06", id="rate-underflows"
        ),
        pytest.param(
            {"metrics": [{**METRIC, "max": -1e300}]},
            {},
            "analysis.metrics[0].max",
            "1e+12",
            id="metric-max-huge",
        ),
        pytest.param(
            {"metrics": [{**METRIC, "namespace": ":aws"}]},
            {},
            "analysis.metrics[0].namespace",
            "must not start with a colon",
            id="metric-namespace-colon",
        ),
        pytest.param(
            {
                "metrics": [
                    {
                        **METRIC,
                        "dimensions": [
                            {"name": "Version", "value": "${version}"},
                            {"name": "Version", "value": "7"},
                        ],
                    }
                ]
            },
            {},
            "analysis.metrics[0].dimensions",
            'names "Version" more than once',
            id="metric-dimension-twice",
        ),
        pytest.param(
            {
                "metrics": [
                    {
                        **METRIC,
                        "dimensions": [
                            {"name": f"d{n}", "value": "${version}" + "x" * 1000} for n in range(30)
                        ],
                    }
                ]
                * 10
            },
            {},
            "analysis",
            "more than the 8192 it may hold",
            id="too-big-to-travel-with-every-task",
        ),
        pytest.param(
            {"maxErrorRate": 1},
            {
                "strategy": {
                    "steps": [{"pause": {"seconds": 300}}, {"weight": 10, "bakeSeconds": 300}]
                }
            },
            "strategy",
            "a pause before the first step holds 0% on the target",
            id="a-leading-pause-can-never-be-judged",
        ),
        pytest.param(
            {"metrics": [METRIC] * 11},
            {},
            "analysis.metrics",
            "10",
            id="too-many-metrics",
        ),
    ],
)
def test_a_bad_analysis_is_refused_naming_the_field(
    analysis: Any, request_: dict[str, Any], field: str, words: str
) -> None:
    errors = refused(analysis, **request_)
    assert field in errors, errors
    assert words in errors[field]


def test_a_whole_analysis_is_accepted_with_its_defaults() -> None:
    request = parse_request(
        {
            **BASE,
            "analysis": {
                "compareToBaseline": True,
                "metrics": [METRIC, {**METRIC, "statistic": "p99.9"}],
            },
        }
    )
    analysis = request.analysis
    assert analysis is not None
    assert (analysis.confidence, analysis.min_invocations, analysis.inconclusive) == (
        0.99,
        0,
        "pause",
    )
    assert (analysis.settle_seconds, analysis.dry_run) == (120, False)
    assert [m.statistic for m in analysis.metrics] == ["Sum", "p99.9"]
    assert analysis.metrics[0].dimensions[0].for_version("7") == {"Name": "Version", "Value": "7"}


def _state(**changes: Any) -> RolloutState:
    request = parse_request({**BASE, "analysis": {"maxErrorRate": 1, "inconclusive": "rollback"}})
    base = RolloutState(
        rollout_id="r",
        execution_arn="arn",
        started_at="2026-12-01T10:00:00+00:00",
        function_name="orders-api",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:orders-api",
        alias="live",
        baseline_version="6",
        target_version="7",
        first_deploy=False,
        strategy="Canary10Percent5Minutes",
        steps=(),
        check_interval_seconds=60,
        analysis=request.analysis,
    )
    return base.with_(**changes)


def test_a_live_step_with_no_verdict_yet_is_inconclusive_never_passed() -> None:
    judged = _state(step_index=0).judgement()
    assert judged is not None
    assert (judged.outcome, judged.reason, judged.inconclusive.value) == (
        "inconclusive",
        "not judged yet",
        "rollback",
    )
    assert _state(step_index=-1).judgement() is None  # nothing to judge before the shift


def test_a_dry_run_never_weighs_in_the_decision() -> None:
    dry = parse_request({**BASE, "analysis": {"maxErrorRate": 1, "dryRun": True}}).analysis
    failed = {"outcome": "fail", "reason": "target 50.0% errors"}
    assert _state(step_index=0, analysis=dry, verdict=failed).judgement() is None
    judged = _state(step_index=0, verdict=failed).judgement()
    assert judged is not None and judged.outcome == "fail"


def test_an_analysis_read_back_from_the_state_is_the_same_analysis() -> None:
    # Every task parses the state it is given: the analysis it carries (its unset
    # options as nulls) must parse back, or no task of the rollout could run.
    only_increase = {**{k: v for k, v in METRIC.items() if k != "max"}, "maxIncrease": 1.5}
    request = parse_request(
        {**BASE, "analysis": {"compareToBaseline": True, "metrics": [METRIC, only_increase]}}
    )
    state = _state(analysis=request.analysis)

    again = RolloutState.model_validate(state.as_json())

    assert again.analysis == request.analysis
    assert again.as_json() == state.as_json()
