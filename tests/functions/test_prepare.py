"""PrepareRollout (functions/prepare): validate against AWS, plan, lock, record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rollouts.errors import RolloutInProgressError, ValidationError


def test_a_valid_request_plans_the_rollout_takes_the_lock_and_writes_the_record(aws, tasks):
    aws.function(versions=2)
    revision = aws.create_alias("1")
    aws.alarm("orders-api-errors")

    state = tasks.prepare(alarms=["orders-api-errors"])

    assert state["baselineVersion"] == "1"
    assert state["targetVersion"] == "2"
    assert state["firstDeploy"] is False
    assert state["steps"] == [{"weight": 10, "bakeSeconds": 300}]
    assert state["checkIntervalSeconds"] == 60
    assert state["action"] == "shift"
    assert state["stepIndex"] == -1
    assert state["aliasRevisionId"] == revision
    assert state["functionArn"] == tasks.function_arn
    assert state["alarms"] == ["orders-api-errors"]

    lock = aws.lock()
    assert lock is not None
    assert lock["rolloutId"] == "rollout-1"
    record = aws.record("rollout-1")
    assert record is not None
    assert record["status"] == "RUNNING"
    assert record["aliasKey"] == tasks.alias_key
    assert record["startedAt"] == tasks.started_at
    assert (record["baselineVersion"], record["targetVersion"]) == ("1", "2")
    assert record["state"] == state
    # Nothing moved yet.
    assert aws.routing() == ("1", {})


def test_a_function_arn_locks_the_alias_by_function_name(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")

    state = tasks.prepare(functionName=tasks.function_arn)

    assert state["functionName"] == "orders-api"
    assert aws.lock("orders-api:live") is not None


def test_the_check_interval_defaults_to_300_seconds(aws, tasks):
    """Alarms and people's requests wake a bake at once: polling is only the fallback."""
    aws.function(versions=2)
    aws.create_alias("1")

    state = tasks.prepare(checkIntervalSeconds=None, strategy="Linear10PercentEvery1Minute")

    assert state["checkIntervalSeconds"] == 300
    assert [s["weight"] for s in state["steps"]] == [10, 20, 30, 40, 50, 60, 70, 80, 90]


@pytest.mark.parametrize(
    "first_goes_to",
    ["before-any-shift", "while-it-bakes-at-10-percent"],
)
def test_a_second_rollout_on_a_locked_alias_is_refused_naming_the_holder(aws, tasks, first_goes_to):
    aws.function(versions=3)
    aws.create_alias("1")
    first = tasks.prepare("rollout-1")
    if first_goes_to == "while-it-bakes-at-10-percent":
        tasks.shift(first)
    before = aws.routing()

    with pytest.raises(RolloutInProgressError) as refused:
        tasks.prepare("rollout-2", version="3")

    assert "rollout-1" in str(refused.value)
    assert "orders-api:live" in str(refused.value)
    assert aws.lock()["rolloutId"] == "rollout-1"
    assert aws.record("rollout-2") is None
    assert aws.routing() == before


def _split_alias(aws: Any) -> None:
    aws.lambda_.update_alias(
        FunctionName="orders-api",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
    )


BAD_INPUT: list[Any] = [
    pytest.param({"strategy": "BlueGreen"}, None, "strategy", id="bad-strategy"),
    pytest.param(
        {"strategy": {"steps": [{"weight": 10, "bakeSeconds": 60}, {"weight": 100}]}},
        None,
        "strategy.steps[1].weight",
        id="weight-100",
    ),
    pytest.param({"alias": None}, None, "alias", id="missing-alias"),
    pytest.param({"trafficRouting": {}}, None, "trafficRouting", id="unknown-field"),
    pytest.param({"functionName": "payments-api"}, None, "functionName", id="unknown-function"),
    pytest.param({"version": "9"}, None, "version", id="missing-version"),
    pytest.param({"alarms": ["no-such-alarm"]}, None, "alarms[0]", id="unknown-alarm"),
    pytest.param(
        {"alarms": ["orders-api-errors", "no-such-alarm"]},
        lambda aws: aws.alarm("orders-api-errors"),
        "alarms[1]",
        id="unknown-second-alarm",
    ),
    pytest.param(
        {"hooks": {"preTraffic": "no-such-hook"}}, None, "hooks.preTraffic", id="unknown-pre-hook"
    ),
    pytest.param(
        {"hooks": {"postTraffic": "no-such-hook"}},
        None,
        "hooks.postTraffic",
        id="unknown-post-hook",
    ),
    pytest.param({}, _split_alias, "alias", id="alias-already-split"),
]


@pytest.mark.parametrize(("changes", "arrange", "field"), BAD_INPUT)
def test_bad_input_is_refused_naming_the_field_before_any_change(
    aws, tasks, changes: dict[str, Any], arrange: Callable[[Any], None] | None, field: str
):
    aws.function(versions=2)
    aws.create_alias("1")
    if arrange is not None:
        arrange(aws)
    before = aws.routing()

    with pytest.raises(ValidationError) as refused:
        tasks.prepare(**changes)

    assert field in [f for f, _ in refused.value.errors]
    assert field in str(refused.value)
    assert aws.items() == []  # no lock, no record
    assert aws.routing() == before


@pytest.mark.parametrize(
    ("targets", "hooks", "fields"),
    [
        pytest.param("payments-", "*", ["functionName"], id="function-outside"),
        pytest.param("orders-", "orders-hooks-", ["hooks.preTraffic"], id="hook-outside"),
        pytest.param("payments-", "payments-", ["functionName", "hooks.preTraffic"], id="both"),
    ],
)
def test_a_function_or_hook_outside_the_stacks_prefixes_is_refused_before_any_change(
    aws, tasks, monkeypatch: pytest.MonkeyPatch, targets: str, hooks: str, fields: list[str]
):
    """Refused naming the field, with nothing taken (IAM would deny its calls anyway)."""
    aws.function(versions=2)
    aws.create_alias("1")
    monkeypatch.setenv("TARGET_FUNCTION_PREFIX", targets)
    monkeypatch.setenv("HOOK_FUNCTION_PREFIX", hooks)

    with pytest.raises(ValidationError) as refused:
        tasks.prepare(hooks={"preTraffic": "smoke-test"})

    assert [f for f, _ in refused.value.errors] == fields
    assert "Prefix parameter" in str(refused.value)
    assert aws.items() == []
    assert aws.routing() == ("1", {})


def test_a_function_of_another_account_is_refused_naming_it_before_any_change(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    foreign = tasks.function_arn.replace(":123456789012:", ":999999999999:")
    assert foreign != tasks.function_arn

    with pytest.raises(ValidationError) as refused:
        tasks.prepare(functionName=foreign)

    ((field, message),) = refused.value.errors
    assert field == "functionName"
    assert "account 999999999999" in message
    assert aws.items() == []
    assert aws.routing() == ("1", {})


def test_a_function_inside_the_prefixes_is_prepared(aws, tasks, monkeypatch: pytest.MonkeyPatch):
    aws.function(versions=2)
    aws.create_alias("1")
    monkeypatch.setenv("TARGET_FUNCTION_PREFIX", "orders-")
    monkeypatch.setenv("HOOK_FUNCTION_PREFIX", "*")

    state = tasks.prepare()

    assert state["targetVersion"] == "2"


def test_every_problem_found_against_aws_is_named_at_once(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")

    with pytest.raises(ValidationError) as refused:
        tasks.prepare(version="9", alarms=["nope"], hooks={"preTraffic": "missing-hook"})

    assert [f for f, _ in refused.value.errors] == ["version", "alarms[0]", "hooks.preTraffic"]
    assert aws.items() == []


def test_a_missing_alias_is_a_first_deploy_promoted_without_steps(aws, tasks):
    aws.function(versions=1)

    state = tasks.prepare(version="1", createAlias=True)

    assert state["firstDeploy"] is True
    assert state["baselineVersion"] is None
    assert state["steps"] == []
    assert state["action"] == "promote"
    assert state["aliasRevisionId"] is None
    assert aws.alias() is None  # created only by PromoteTarget
    assert aws.lock()["rolloutId"] == "rollout-1"
    assert aws.record("rollout-1")["status"] == "RUNNING"


def test_the_version_already_live_means_nothing_to_do(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("2")

    state = tasks.prepare(version="2")

    assert state["action"] == "none"
    assert "already runs version 2" in state["summary"]
    assert aws.routing() == ("2", {})


def test_no_version_leaves_the_target_to_publish_version(aws, tasks):
    aws.function(versions=1)
    aws.create_alias("1")

    state = tasks.prepare(version=None)

    assert state["targetVersion"] is None
    assert state["action"] == "shift"
    assert aws.versions() == ["1"]


def test_running_prepare_twice_with_the_same_rollout_id_is_safe(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")

    first = tasks.prepare("rollout-1")
    again = tasks.prepare("rollout-1")

    assert again == first
    assert aws.lock()["rolloutId"] == "rollout-1"
    records = [i for i in aws.items() if i["pk"].startswith("ROLLOUT#")]
    assert len(records) == 1
    assert records[0]["state"] == first


def test_an_alias_on_latest_cannot_be_shifted_in_steps(aws, tasks):
    # Lambda weights only published versions: an alias on $LATEST cannot carry
    # AdditionalVersionWeights, so ShiftTraffic would fail on AWS after the lock
    # and record were taken (moto accepts it). Refuse it up front, naming the alias.
    aws.function(versions=2)
    aws.create_alias("$LATEST")

    with pytest.raises(ValidationError) as refused:
        tasks.prepare()

    assert refused.value.field == "alias"
    assert "$LATEST" in str(refused.value)
    assert aws.items() == []


def test_an_alias_on_latest_can_be_promoted_all_at_once(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("$LATEST")

    state = tasks.prepare(strategy="AllAtOnce")

    assert state["baselineVersion"] == "$LATEST"
    assert state["action"] == "promote"
