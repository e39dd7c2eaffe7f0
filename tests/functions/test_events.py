"""The samples in events/ are valid by the contracts, and are what the handlers send and take.

The JSON files stay pure samples; what each should produce is in the tables here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rollouts.errors import HookFailedError, ValidationError
from rollouts.events import BakeEvent, EndEvent, HookEvent, TaskEvent
from rollouts.models import parse_request
from rollouts.state import RolloutState
from rollouts.tasks import hook_payload

EVENTS = Path(__file__).resolve().parents[2] / "events"
INPUTS = EVENTS / "execution-input"
TASKS = EVENTS / "task"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.json")}


# -- execution inputs -----------------------------------------------------------
VALID = {
    # file: (strategy name, step weights, version)
    "canary.json": ("Canary10Percent5Minutes", [10], "7"),
    "linear.json": ("Linear10PercentEvery1Minute", [10, 20, 30, 40, 50, 60, 70, 80, 90], "7"),
    "all-at-once.json": ("AllAtOnce", [], "7"),
    "explicit-steps.json": (None, [5, 25, 50], "7"),
    "publish-latest.json": ("Canary10Percent10Minutes", [10], None),
    "first-deploy.json": ("Canary10Percent5Minutes", [10], "1"),
    "analysis.json": (None, [10, 50], "7"),
}

INVALID = {
    "analysis-error-rate-over-100.json": "analysis.maxErrorRate",
    "analysis-metric-without-version.json": "analysis.metrics[0].dimensions",
    # A 60 s bake is shorter than the default 120 s settle: no step would get a verdict.
    "analysis-settle-longer-than-bake.json": "analysis.settleSeconds",
    "bad-strategy.json": "strategy",
    "check-interval-zero.json": "checkIntervalSeconds",
    "code-sha256-hex.json": "codeSha256",  # a hex digest: Lambda's CodeSha256 is base64
    "code-sha256-with-version.json": "codeSha256",
    "duplicate-alarm.json": "alarms[1]",
    "missing-alias.json": "alias",
    "missing-function-name.json": "functionName",
    "missing-strategy.json": "strategy",
    "negative-bake.json": "strategy.steps[0].bakeSeconds",
    "no-steps.json": "strategy.steps",
    "not-an-object.json": "input",
    "numeric-alias.json": "alias",
    "over-history-budget.json": "strategy",
    "qualified-function-name.json": "functionName",
    "unknown-field.json": "trafficRouting",
    "unknown-hook-field.json": "hooks.beforeAllowTraffic",
    "version-latest.json": "version",
    "weight-100.json": "strategy.steps[1].weight",
    "weights-not-increasing.json": "strategy.steps[1].weight",
}


def test_every_sample_input_is_in_a_table():
    assert names(INPUTS) == set(VALID)
    assert names(INPUTS / "invalid") == set(INVALID)


def test_the_canary_sample_is_the_design_example():
    assert load(INPUTS / "canary.json") == {
        "functionName": "orders-api",
        "alias": "live",
        "version": "7",
        "strategy": "Canary10Percent5Minutes",
        "alarms": ["orders-api-errors"],
        "hooks": {"preTraffic": "orders-api-pre", "postTraffic": "orders-api-post"},
        "checkIntervalSeconds": 60,
    }


@pytest.mark.parametrize("name", sorted(VALID))
def test_a_valid_sample_input_parses(name: str):
    strategy, weights, version = VALID[name]

    request = parse_request(load(INPUTS / name))

    if strategy is not None:
        assert request.strategy.name == strategy
    assert [s.weight for s in request.steps] == weights
    assert request.version == version


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_sample_input_is_refused_naming_the_field(name: str):
    with pytest.raises(ValidationError) as refused:
        parse_request(load(INPUTS / "invalid" / name))

    assert refused.value.field == INVALID[name]
    assert INVALID[name] in str(refused.value)


# -- task events --------------------------------------------------------------------
TASK_MODELS: dict[str, type[Any]] = {
    "prepare.json": dict,  # the request inside is checked by parse_request
    "publish_version.json": TaskEvent,
    "run_hook-pre-traffic.json": HookEvent,
    "run_hook-post-traffic.json": HookEvent,
    "shift_traffic.json": TaskEvent,
    "check_health.json": BakeEvent,
    "check_health-bake.json": BakeEvent,
    "promote.json": TaskEvent,
    "finish.json": TaskEvent,
    "roll_back.json": EndEvent,
    "roll_back-hook-failed.json": EndEvent,
    "roll_back-stop-on-drift.json": EndEvent,
    "roll_back-prepare-failed.json": EndEvent,
}


def test_every_task_sample_is_in_the_table_and_every_task_has_one():
    assert names(TASKS) == set(TASK_MODELS)
    functions = {p.name for p in (EVENTS.parent / "functions").iterdir() if p.is_dir()}
    sampled = {name.split("-")[0].removesuffix(".json") for name in TASK_MODELS}
    # release, start_rollout and wake take events/eventbridge/, api events/api/
    assert functions - {"release", "start_rollout", "wake", "api"} == sampled


@pytest.mark.parametrize("name", sorted(TASK_MODELS))
def test_a_task_sample_parses_with_its_handlers_model(name: str):
    sample = load(TASKS / name)
    model = TASK_MODELS[name]

    if model is dict:
        parse_request(sample["request"])
        assert set(sample) == {"request", "rolloutId", "executionArn", "startedAt"}
        return
    event = model.model_validate(sample)
    if isinstance(event, TaskEvent):
        # Exactly the shape a task returns: nothing missing, nothing extra.
        assert event.rollout.as_json() == sample["rollout"]
    else:
        assert set(sample) == {"state", "rolloutId", "drift"}
        rollout = event.rollout
        if rollout is not None:
            assert rollout.as_json() == sample["state"]["rollout"]
            assert rollout.rollout_id == event.rollout_id
        assert set(sample["state"]) <= {"request", "rollout", "failure"}
        parse_request(sample["state"]["request"])


@pytest.mark.parametrize(
    ("name", "action", "drift", "failure"),
    [
        ("roll_back.json", "rollback", False, False),
        ("roll_back-hook-failed.json", "shift", False, True),
        ("roll_back-stop-on-drift.json", "drift", True, False),
        ("roll_back-prepare-failed.json", None, False, True),
    ],
)
def test_the_end_samples_are_the_ends_they_name(name, action, drift, failure):
    event = EndEvent.model_validate(load(TASKS / name))

    assert (event.rollout.action if event.rollout else None) == action
    assert event.drift is drift
    assert (event.failure is not None) is failure


def test_the_release_sample_parses_with_the_release_handlers_model(handler):
    sample = load(EVENTS / "eventbridge/execution-aborted.json")

    event = handler("release").StatusChangeEvent.model_validate(sample)

    assert event.detail_type == "Step Functions Execution Status Change"
    assert event.source == "aws.states"
    assert event.detail.status == "ABORTED"
    assert event.detail.name == load(TASKS / "prepare.json")["rolloutId"]


# -- hooks -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "task_sample", "lifecycle_event"),
    [
        ("pre-traffic.json", "run_hook-pre-traffic.json", "PreTraffic"),
        ("post-traffic.json", "run_hook-post-traffic.json", "PostTraffic"),
    ],
)
def test_the_hook_payload_samples_are_what_run_hook_sends(payload, task_sample, lifecycle_event):
    event = HookEvent.model_validate(load(TASKS / task_sample))
    assert event.lifecycle_event == lifecycle_event

    assert hook_payload(event.rollout, lifecycle_event) == load(EVENTS / "hook-payload" / payload)


def test_the_hook_response_samples_pass_and_fail(aws, tasks, hooks):
    aws.function(versions=2)
    aws.function("orders-api-pre", versions=0)
    aws.create_alias("1")
    # One hook for both lifecycle events: each event's answer is its own (a hook runs once
    # per lifecycle event, so one event cannot be asked twice).
    state = tasks.prepare(hooks={"preTraffic": "orders-api-pre", "postTraffic": "orders-api-pre"})

    hooks.answer("orders-api-pre", (EVENTS / "hook-response/succeeded.json").read_bytes())
    assert tasks.hook(state, "PreTraffic") == state

    failed = load(EVENTS / "hook-response/failed.json")
    hooks.answer("orders-api-pre", (EVENTS / "hook-response/failed.json").read_bytes())
    with pytest.raises(HookFailedError, match=failed["reason"]):
        tasks.hook(state, "PostTraffic")


# -- the samples are what the handlers make ----------------------------------------------
def test_the_task_samples_follow_one_another_through_the_handlers(aws, tasks, hooks):
    """Replay prepare.json through the handlers and meet each sample on the way.

    RevisionIds differ (moto makes its own), so they are set aside.
    """
    aws.function(versions=7)
    aws.function("orders-api-pre", versions=0)
    aws.function("orders-api-post", versions=0)
    aws.alarm("orders-api-errors", "OK")
    aws.create_alias("6")

    def same(state: dict[str, Any], sample: str) -> None:
        expected = dict(load(TASKS / sample)["rollout"])

        def comparable(rollout: dict[str, Any]) -> dict[str, Any]:
            # The revision and the moments a bake began and a step shifted differ from run
            # to run.
            began = rollout.get("bakeStartedAt") is not None
            shifted = rollout.get("shiftedAt") is not None
            return {
                **rollout,
                "aliasRevisionId": None,
                "bakeStartedAt": began,
                "shiftedAt": shifted,
            }

        assert comparable(state) == comparable(expected)

    prepared = tasks.run("prepare", load(TASKS / "prepare.json"))
    same(prepared, "shift_traffic.json")
    same(prepared, "run_hook-pre-traffic.json")
    baking = tasks.shift(prepared)
    same(baking, "check_health.json")
    state = baking
    for _ in range(5):
        state = tasks.check(state)
    same(state, "promote.json")
    promoted = tasks.promote(state)
    same(promoted, "finish.json")
    same(promoted, "run_hook-post-traffic.json")
    RolloutState.model_validate(promoted)
