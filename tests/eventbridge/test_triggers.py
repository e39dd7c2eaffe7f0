"""rollouts.triggers: which events start a rollout, and the request a tagged function asks for.

Pure functions, table tests, one named row per case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rollouts.errors import ValidationError
from rollouts.models import Analysis, parse_request
from rollouts.triggers import (
    ANALYSIS_TAG_KEYS,
    DEFAULT_STRATEGY,
    TAG_ANALYSIS,
    Trigger,
    analysis_from_tag,
    request_from_tags,
    split_names,
    trigger_of,
)

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "eventbridge"
# responseElements.codeSha256 of cloudtrail-update-function-code.json
SAMPLE_SHA = "3Uq0pK8yZr3nW1v9mX2cT7bE6hJ4sL5dA0fG8kQ1wYo="


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


# -- request_from_tags -------------------------------------------------------------------
REQUESTS: dict[str, tuple[dict[str, str], dict[str, Any] | None]] = {
    "full-tags": (
        {
            "rollouts:alias": "live",
            "rollouts:strategy": "Linear10PercentEvery1Minute",
            "rollouts:alarms": "orders-errors orders-p99",
            "rollouts:pre-traffic": "orders-api-smoke",
            "rollouts:post-traffic": "arn:aws:lambda:us-east-1:123456789012:function:orders-post",
            "team": "orders",
        },
        {
            "functionName": "orders-api",
            "alias": "live",
            "strategy": "Linear10PercentEvery1Minute",
            "alarms": ["orders-errors", "orders-p99"],
            "hooks": {
                "preTraffic": "orders-api-smoke",
                "postTraffic": "arn:aws:lambda:us-east-1:123456789012:function:orders-post",
            },
        },
    ),
    "only-alias": (
        {"rollouts:alias": "live"},
        {"functionName": "orders-api", "alias": "live", "strategy": DEFAULT_STRATEGY},
    ),
    "alarms-comma-separated": (
        {"rollouts:alias": "live", "rollouts:alarms": "a,b, c"},
        {
            "functionName": "orders-api",
            "alias": "live",
            "strategy": DEFAULT_STRATEGY,
            "alarms": ["a", "b", "c"],
        },
    ),
    "alarms-blank": (
        {"rollouts:alias": "live", "rollouts:alarms": "  "},
        {"functionName": "orders-api", "alias": "live", "strategy": DEFAULT_STRATEGY},
    ),
    "only-pre-traffic": (
        {"rollouts:alias": "live", "rollouts:pre-traffic": "smoke"},
        {
            "functionName": "orders-api",
            "alias": "live",
            "strategy": DEFAULT_STRATEGY,
            "hooks": {"preTraffic": "smoke"},
        },
    ),
    "values-trimmed": (
        {"rollouts:alias": " live ", "rollouts:strategy": " AllAtOnce "},
        {"functionName": "orders-api", "alias": "live", "strategy": "AllAtOnce"},
    ),
    "blank-strategy-is-the-default": (
        {"rollouts:alias": "live", "rollouts:strategy": ""},
        {"functionName": "orders-api", "alias": "live", "strategy": DEFAULT_STRATEGY},
    ),
    "analysis": (
        {"rollouts:alias": "live", "rollouts:analysis": "compareToBaseline=true minInvocations=50"},
        {
            "functionName": "orders-api",
            "alias": "live",
            "strategy": DEFAULT_STRATEGY,
            "analysis": {"compareToBaseline": True, "minInvocations": 50},
        },
    ),
    "analysis-blank": (
        {"rollouts:alias": "live", "rollouts:analysis": "  "},
        {"functionName": "orders-api", "alias": "live", "strategy": DEFAULT_STRATEGY},
    ),
    "untagged": ({}, None),
    "other-tags-only": ({"team": "orders", "rollouts:strategy": "AllAtOnce"}, None),
    "blank-alias": ({"rollouts:alias": " "}, None),
}


@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_request_from_tags(case: str) -> None:
    tags, expected = REQUESTS[case]

    assert request_from_tags("orders-api", tags) == expected


@pytest.mark.parametrize("case", [c for c, (_, r) in sorted(REQUESTS.items()) if r is not None])
def test_a_request_from_good_tags_is_a_valid_execution_input(case: str) -> None:
    request = request_from_tags("orders-api", REQUESTS[case][0])

    parsed = parse_request(request)
    assert parsed.version is None  # the state machine publishes $LATEST


@pytest.mark.parametrize(
    ("tags", "field"),
    [
        pytest.param({"rollouts:strategy": "Canary10Percent"}, "strategy", id="bad-strategy"),
        pytest.param({"rollouts:alias": "42"}, "alias", id="numeric-alias"),
        pytest.param({"rollouts:alarms": "a a"}, "alarms[1]", id="duplicate-alarm"),
        pytest.param({"rollouts:pre-traffic": "not a name"}, "hooks.preTraffic", id="bad-hook"),
        pytest.param(
            {"rollouts:analysis": "maxErrorRate=1 confidence=high"},
            "analysis.confidence",
            id="bad-analysis",
        ),
    ],
)
def test_a_bad_tag_is_passed_on_and_refused_by_validation_naming_the_field(
    tags: dict[str, str], field: str
) -> None:
    request = request_from_tags("orders-api", {"rollouts:alias": "live", **tags})

    with pytest.raises(ValidationError) as refused:
        parse_request(request)
    assert refused.value.field == field


# -- rollouts:analysis ---------------------------------------------------------------------
FULL_ANALYSIS = (
    "compareToBaseline=true maxErrorRate=1 minInvocations=50 inconclusive=rollback"
    " maxP99DurationMs=1500 maxDurationIncrease=1.5 confidence=0.99 settleSeconds=120"
    " dryRun=true"
)

# The tag's value -> the request's analysis, converted to the JSON types the model takes.
ANALYSES: dict[str, tuple[str, dict[str, Any]]] = {
    "every-key": (
        FULL_ANALYSIS,
        {
            "compareToBaseline": True,
            "maxErrorRate": 1.0,
            "minInvocations": 50,
            "inconclusive": "rollback",
            "maxP99DurationMs": 1500.0,
            "maxDurationIncrease": 1.5,
            "confidence": 0.99,
            "settleSeconds": 120,
            "dryRun": True,
        },
    ),
    "one-key": ("maxErrorRate=2.5", {"maxErrorRate": 2.5}),
    "false": (
        "compareToBaseline=false dryRun=false",
        {"compareToBaseline": False, "dryRun": False},
    ),
    "exponent": ("maxP99DurationMs=1.5e3", {"maxP99DurationMs": 1500.0}),
    "extra-spaces": ("  maxErrorRate=1    dryRun=true ", {"maxErrorRate": 1.0, "dryRun": True}),
    "commas": ("maxErrorRate=1,dryRun=true", {"maxErrorRate": 1.0, "dryRun": True}),
    "blank": ("", {}),
    # What does not read as its field's type is passed on as written, to be refused.
    "not-a-number": ("maxErrorRate=high", {"maxErrorRate": "high"}),
    "not-a-boolean": ("compareToBaseline=yes", {"compareToBaseline": "yes"}),
    "capitalised-boolean": ("dryRun=True", {"dryRun": "True"}),
    "fraction-for-a-count": ("minInvocations=50.5", {"minInvocations": "50.5"}),
    "unicode-digits": ("minInvocations=\u0665\u0660", {"minInvocations": "\u0665\u0660"}),
    "no-equals": ("maxErrorRate", {"maxErrorRate": ""}),
    "empty-value": ("maxErrorRate=", {"maxErrorRate": ""}),
    "empty-key": ("=1", {"": "1"}),
    "value-with-equals": ("inconclusive=a=b", {"inconclusive": "a=b"}),
    "unknown-key": ("maxErrors=1", {"maxErrors": "1"}),
    "wrong-case": ("maxerrorrate=1", {"maxerrorrate": "1"}),
    "repeated-key": ("maxErrorRate=1 maxErrorRate=2", {"maxErrorRate": [1.0, 2.0]}),
    "metrics": ("metrics=Orders", {"metrics": "Orders"}),
}


@pytest.mark.parametrize("case", sorted(ANALYSES))
def test_analysis_from_tag(case: str) -> None:
    value, expected = ANALYSES[case]

    assert analysis_from_tag(value) == expected


def test_the_analysis_tag_names_every_field_but_metrics() -> None:
    fields = {info.alias or name for name, info in Analysis.model_fields.items()}

    assert fields - {"metrics"} == ANALYSIS_TAG_KEYS


def test_every_analysis_key_is_valid_in_a_request() -> None:
    request = request_from_tags(
        "orders-api", {"rollouts:alias": "live", TAG_ANALYSIS: FULL_ANALYSIS}
    )

    analysis = parse_request(request).analysis

    assert analysis is not None
    assert (analysis.compare_to_baseline, analysis.max_error_rate) == (True, 1.0)
    assert (analysis.min_invocations, analysis.settle_seconds) == (50, 120)
    assert (analysis.inconclusive, analysis.dry_run, analysis.confidence) == (
        "rollback",
        True,
        0.99,
    )
    assert (analysis.max_p99_duration_ms, analysis.max_duration_increase) == (1500.0, 1.5)


# A bad analysis tag is refused by the same validation as every way in, naming
# analysis.<key>: the tag's field and the key as written.
REFUSED_ANALYSES: dict[str, tuple[dict[str, str], str, str]] = {
    "not-a-number": (
        {TAG_ANALYSIS: "maxErrorRate=high"},
        "analysis.maxErrorRate",
        "valid number",
    ),
    "percent-above-100": (
        {TAG_ANALYSIS: "maxErrorRate=150"},
        "analysis.maxErrorRate",
        "less than or equal to 100",
    ),
    "infinite": ({TAG_ANALYSIS: "maxP99DurationMs=1e999"}, "analysis.maxP99DurationMs", "finite"),
    "confidence-too-low": (
        {TAG_ANALYSIS: "compareToBaseline=true confidence=0.3"},
        "analysis.confidence",
        "greater than or equal to 0.5",
    ),
    "not-a-boolean": (
        {TAG_ANALYSIS: "compareToBaseline=yes"},
        "analysis.compareToBaseline",
        "valid boolean",
    ),
    "fraction-for-a-count": (
        {TAG_ANALYSIS: "maxErrorRate=1 minInvocations=50.5"},
        "analysis.minInvocations",
        "valid integer",
    ),
    "negative-count": (
        {TAG_ANALYSIS: "maxErrorRate=1 minInvocations=-1"},
        "analysis.minInvocations",
        "greater than or equal to 0",
    ),
    "unknown-inconclusive": (
        {TAG_ANALYSIS: "maxErrorRate=1 inconclusive=stop"},
        "analysis.inconclusive",
        "'pause', 'rollback' or 'continue'",
    ),
    "no-equals": (
        {TAG_ANALYSIS: "compareToBaseline=true maxErrorRate"},
        "analysis.maxErrorRate",
        "valid number",
    ),
    "no-equals-on-a-flag": ({TAG_ANALYSIS: "maxErrorRate=1 dryRun"}, "analysis.dryRun", "boolean"),
    "unknown-key": (
        {TAG_ANALYSIS: "maxErrorRate=1 maxErrors=1"},
        "analysis.maxErrors",
        "unknown field; accepted: maxErrorRate",
    ),
    "empty-key": ({TAG_ANALYSIS: "maxErrorRate=1 =1"}, 'analysis[""]', "unknown field"),
    "repeated-key": (
        {TAG_ANALYSIS: "maxErrorRate=1 maxErrorRate=2"},
        "analysis.maxErrorRate",
        "valid number",
    ),
    "metrics-cannot-be-tagged": (
        {TAG_ANALYSIS: "maxErrorRate=1 metrics=Orders"},
        "analysis.metrics",
        "valid tuple",
    ),
    "judges-nothing": ({TAG_ANALYSIS: "minInvocations=50"}, "analysis", "judges nothing"),
    "settle-longer-than-the-bake": (
        {TAG_ANALYSIS: "maxErrorRate=1 settleSeconds=600"},
        "analysis.settleSeconds",
        "longer than step 1's bake of 300 s",
    ),
    "all-at-once": (
        {"rollouts:strategy": "AllAtOnce", TAG_ANALYSIS: "maxErrorRate=1"},
        "analysis",
        "no step to judge",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED_ANALYSES))
def test_a_bad_analysis_tag_is_refused_naming_the_field_and_key(case: str) -> None:
    tags, field, words = REFUSED_ANALYSES[case]
    request = request_from_tags("orders-api", {"rollouts:alias": "live", **tags})

    with pytest.raises(ValidationError) as refused:
        parse_request(request)

    assert refused.value.field == field
    assert words in refused.value.message


def test_a_code_update_pins_the_code_it_uploaded() -> None:
    request = request_from_tags("orders-api", {"rollouts:alias": "live"}, code_sha256=SAMPLE_SHA)

    assert request == {
        "functionName": "orders-api",
        "alias": "live",
        "strategy": DEFAULT_STRATEGY,
        "codeSha256": SAMPLE_SHA,
    }
    parsed = parse_request(request)
    assert (parsed.version, parsed.code_sha256) == (None, SAMPLE_SHA)


def test_a_malformed_code_sha256_is_refused_naming_it() -> None:
    request = request_from_tags("orders-api", {"rollouts:alias": "live"}, code_sha256="abc")

    with pytest.raises(ValidationError) as refused:
        parse_request(request)
    assert refused.value.field == "codeSha256"


def test_an_untagged_function_asks_for_nothing_whatever_its_code() -> None:
    assert request_from_tags("orders-api", {}, code_sha256=SAMPLE_SHA) is None


@pytest.mark.parametrize(
    ("value", "names"),
    [
        pytest.param("a b", ["a", "b"], id="spaces"),
        pytest.param("a,b", ["a", "b"], id="commas"),
        pytest.param(" a ,  b\tc ", ["a", "b", "c"], id="mixed"),
        pytest.param("", [], id="empty"),
        pytest.param(",,", [], id="only-separators"),
    ],
)
def test_split_names(value: str, names: list[str]) -> None:
    assert split_names(value) == names


# -- trigger_of ----------------------------------------------------------------------------
def trigger_of_sample(name: str) -> Trigger:
    event = sample(name)
    return trigger_of(event["source"], event["detail-type"], event["detail"])


SAMPLE_TRIGGERS = {
    "rollout-requested.json": ("requested", None, None),
    "cloudtrail-update-function-code.json": ("code-update", "orders-api", SAMPLE_SHA),
    "cloudtrail-update-function-code-failed.json": ("other", None, None),
    "cloudtrail-publish-version.json": ("other", None, None),
    "status-succeeded.json": ("other", None, None),
    "execution-aborted.json": ("other", None, None),
}


@pytest.mark.parametrize("name", sorted(SAMPLE_TRIGGERS))
def test_trigger_of_a_sample(name: str) -> None:
    trigger = trigger_of_sample(name)

    assert (trigger.kind, trigger.function_name, trigger.code_sha256) == SAMPLE_TRIGGERS[name]


def test_the_sample_code_update_asks_for_exactly_its_code() -> None:
    trigger = trigger_of_sample("cloudtrail-update-function-code.json")
    assert trigger.function_name is not None

    request = request_from_tags(
        trigger.function_name, {"rollouts:alias": "live"}, trigger.code_sha256
    )

    assert parse_request(request).code_sha256 == SAMPLE_SHA


def test_a_requested_trigger_carries_the_detail_as_sent() -> None:
    event = sample("rollout-requested.json")

    assert trigger_of_sample("rollout-requested.json").request == event["detail"]


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        pytest.param(
            {"requestParameters": {"functionName": "orders-api"}},
            ("code-update", "orders-api"),
            id="name",
        ),
        pytest.param(
            {
                "requestParameters": {
                    "functionName": "arn:aws:lambda:us-east-1:123456789012:function:orders-api"
                }
            },
            ("code-update", "arn:aws:lambda:us-east-1:123456789012:function:orders-api"),
            id="arn",
        ),
        pytest.param({"requestParameters": None}, ("other", None), id="no-parameters"),
        pytest.param({"requestParameters": {"functionName": ""}}, ("other", None), id="blank"),
        pytest.param(
            {"requestParameters": {"functionName": "orders-api"}, "errorCode": "AccessDenied"},
            ("other", None),
            id="failed-call",
        ),
        pytest.param(
            {"eventName": "UpdateFunctionConfiguration20150331v2"},
            ("other", None),
            id="configuration",
        ),
        pytest.param({"eventSource": None}, ("other", None), id="malformed"),
        pytest.param(
            {"requestParameters": {"functionName": "orders-api", "dryRun": True}},
            ("other", None),
            id="dry-run-changed-nothing",
        ),
        pytest.param(
            {"requestParameters": {"functionName": "orders-api", "dryRun": False}},
            ("code-update", "orders-api"),
            id="not-a-dry-run",
        ),
    ],
)
def test_trigger_of_a_cloudtrail_detail(detail: dict[str, Any], expected: tuple[str, Any]) -> None:
    base = {
        "eventSource": "lambda.amazonaws.com",
        "eventName": "UpdateFunctionCode20150331v2",
        "requestParameters": {"functionName": "orders-api"},
    }

    trigger = trigger_of("aws.lambda", "AWS API Call via CloudTrail", {**base, **detail})

    assert (trigger.kind, trigger.function_name) == expected


@pytest.mark.parametrize(
    ("response", "code_sha256"),
    [
        pytest.param({"codeSha256": SAMPLE_SHA}, SAMPLE_SHA, id="given"),
        pytest.param({"codeSha256": "not base64"}, "not base64", id="passed-on-as-sent"),
        pytest.param({}, None, id="absent"),
        pytest.param(None, None, id="no-response-elements"),
        pytest.param({"codeSha256": ""}, None, id="blank"),
        pytest.param({"codeSha256": 7}, None, id="not-a-text"),
    ],
)
def test_a_code_updates_code_sha256_comes_from_its_response(
    response: dict[str, Any] | None, code_sha256: str | None
) -> None:
    detail = {
        "eventSource": "lambda.amazonaws.com",
        "eventName": "UpdateFunctionCode20150331v2",
        "requestParameters": {"functionName": "orders-api"},
        "responseElements": response,
    }

    trigger = trigger_of("aws.lambda", "AWS API Call via CloudTrail", detail)

    assert (trigger.kind, trigger.code_sha256) == ("code-update", code_sha256)
