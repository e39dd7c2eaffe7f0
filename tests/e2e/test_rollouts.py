"""Every rollout path, through the real ASL and the real handlers, on the local engine.

Each test starts an execution by the public contract (StartExecution with the
documented input), then asserts the execution status and error, the alias at
the end, every alias write the emulator received on the way (what CloudTrail
would show), and the rollout record.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from moto.cloudwatch import models as cloudwatch_models
from moto.core.exceptions import JsonRESTError

from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.pytest_plugin import (
    V1,
    AliasWrites,
    Rollouts,
    Target,
    alias_lock,
    create_alarm,
    create_hook,
    eventually,
    rollout_id,
    rollout_record,
    rollout_table,
)
from rollouts_cli.local.samples import create_function, publish, update_code, zip_source

pytestmark = pytest.mark.e2e

HOOK_OK = "def handler(event, context):\n    return {'status': 'Succeeded'}\n"
HOOK_FAILS = (
    "def handler(event, context):\n"
    "    reason = 'smoke test got HTTP 500 from ' + event['toVersion']\n"
    "    return {'status': 'Failed', 'reason': reason}\n"
)


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    eventually(condition, "the condition", timeout)


def start_at_first_step(rollouts: Rollouts, target: Target, strategy: str, **request: Any) -> str:
    """Start a rollout of ``target`` to version 2 and wait until its first step (10%) is live."""
    arn = rollouts.start(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": strategy,
            **request,
        }
    )
    wait_until(lambda: target.alias() == ("1", {"2": 0.1}))
    return arn


# -- strategies that succeed --------------------------------------------------
@pytest.mark.parametrize(
    ("strategy", "routes"),
    [
        pytest.param("Canary10Percent5Minutes", [("1", {"2": 10}), ("2", {})], id="canary"),
        pytest.param(
            "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
            [("1", {"2": w}) for w in range(10, 100, 10)] + [("2", {})],
            id="linear",
        ),
        pytest.param("AllAtOnce", [("2", {})], id="all-at-once"),
        pytest.param(
            {"steps": [{"weight": 5, "bakeSeconds": 120}, {"weight": 50, "bakeSeconds": 0}]},
            [("1", {"2": 5}), ("1", {"2": 50}), ("2", {})],
            id="explicit-steps",
        ),
    ],
)
def test_strategy_shifts_through_each_step_then_promotes(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
    strategy: Any,
    routes: list[tuple[str, dict[str, int]]],
) -> None:
    target = Target(local_engine, unique_name("orders"))

    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": strategy}
    )

    assert (ended.status, ended.error) == ("SUCCEEDED", None)
    assert target.alias() == ("2", {})
    assert alias_writes.routes(target.name, "live") == routes
    assert ended.output is not None
    assert (ended.output["fromVersion"], ended.output["toVersion"]) == ("1", "2")
    saved = rollout_record(local_engine, rollout_id(ended.arn))
    assert saved is not None and saved["status"] == "SUCCEEDED"
    assert [int(s["weight"]) for s in saved["stepsTaken"]] == [
        w for _, weights in routes for w in weights.values()
    ]
    assert alias_lock(local_engine, target.name) is None


def test_canary_checks_health_every_interval_while_baking(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    target = Target(local_engine, unique_name("orders"))
    name = create_alarm(local_engine, unique_name("orders-errors"))

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent5Minutes",
            "alarms": [name],
            "checkIntervalSeconds": 60,
        }
    )

    assert ended.status == "SUCCEEDED"
    saved = rollout_record(local_engine, rollout_id(ended.arn))
    assert saved is not None
    # 300 s of bake, checked every 60 s: five checks, all OK, the last one promotes.
    assert [int(c["bakedSeconds"]) for c in saved["checks"]] == [60, 120, 180, 240, 300]
    assert [(c["alarmsWatched"], c["alarmsNotOk"]) for c in saved["checks"]] == [(1, {})] * 5
    assert [c["action"] for c in saved["checks"]] == ["bake"] * 4 + ["promote"]
    waits = [
        e["stateEnteredEventDetails"]["name"]
        for e in ended.history
        if e.get("stateEnteredEventDetails", {}).get("name") == "Bake"
    ]
    assert len(waits) == 5


def test_version_published_from_latest_when_none_given(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"), second="upload")
    assert target.versions() == ["1"]

    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "strategy": "Canary10Percent5Minutes"}
    )

    assert ended.status == "SUCCEEDED"
    assert target.versions() == ["1", "2"]
    assert target.alias() == ("2", {})
    assert alias_writes.routes(target.name, "live") == [("1", {"2": 10}), ("2", {})]
    invoked = target.lam.invoke(FunctionName=target.name, Qualifier="live")
    assert invoked["Payload"].read() == b'{"version": "two"}'


def test_unchanged_latest_publishes_nothing_and_moves_nothing(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"), second="upload")
    update_code(target.lam, target.name, V1)  # $LATEST is version 1's code again

    ended = rollouts.run({"functionName": target.name, "alias": "live", "strategy": "AllAtOnce"})

    assert ended.status == "SUCCEEDED"
    assert ended.output is not None and "already runs version 1" in ended.output["summary"]
    assert target.versions() == ["1"]
    assert alias_writes.routes(target.name, "live") == []


def test_first_deploy_creates_the_alias_on_the_target(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("fresh")
    lam = local_engine.client("lambda")
    create_function(lam, local_engine.client("iam"), name, V1)
    pre = create_hook(local_engine, unique_name("fresh-pre"), HOOK_OK)

    ended = rollouts.run(
        {
            "functionName": name,
            "alias": "live",
            "version": "1",
            "strategy": "Canary10Percent5Minutes",
            "hooks": {"preTraffic": pre},
            "createAlias": True,
        }
    )

    assert ended.status == "SUCCEEDED"
    assert ended.output is not None and ended.output["firstDeploy"] is True
    assert "first deploy" in ended.output["summary"]
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    states = ended.states_entered()
    assert states.index("RunPreTrafficHook") < states.index("PromoteTarget")
    assert "ShiftTraffic" not in states


# -- hooks ------------------------------------------------------------------------
def test_pre_traffic_hook_failing_means_traffic_never_moves(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    pre = create_hook(local_engine, unique_name("orders-pre"), HOOK_FAILS)

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent5Minutes",
            "hooks": {"preTraffic": pre},
        }
    )

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None
    assert f"PreTraffic hook {pre} failed: smoke test got HTTP 500 from 2" in ended.cause
    assert alias_writes.routes(target.name, "live") == []
    assert target.alias() == ("1", {})
    assert alias_lock(local_engine, target.name) is None
    saved = rollout_record(local_engine, rollout_id(ended.arn))
    assert saved is not None and saved["status"] == "ROLLED_BACK"


def test_hooks_receive_the_contract_payload(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    target = Target(local_engine, unique_name("orders"))
    seen = unique_name("hook-payloads")
    local_engine.client("dynamodb").create_table(
        TableName=seen,
        KeySchema=[{"AttributeName": "event", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "event", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    recorder = f"""
import json, boto3
def handler(event, context):
    boto3.client("dynamodb").put_item(TableName="{seen}", Item={{
        "event": {{"S": event["lifecycleEvent"]}}, "payload": {{"S": json.dumps(event)}}}})
    return {{"status": "Succeeded"}}
"""
    pre = create_hook(local_engine, unique_name("pre"), recorder)
    post = create_hook(local_engine, unique_name("post"), recorder)

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "AllAtOnce",
            "hooks": {"preTraffic": pre, "postTraffic": post},
        }
    )

    assert ended.status == "SUCCEEDED"
    items = local_engine.client("dynamodb").scan(TableName=seen)["Items"]
    payloads = {i["event"]["S"]: json.loads(i["payload"]["S"]) for i in items}
    arn = target.lam.get_function(FunctionName=target.name)["Configuration"]["FunctionArn"]
    # Each hook gets the token of its own wait: a hook may answer on it later instead.
    tokens = {event: payloads[event].pop("callbackToken") for event in payloads}
    assert all(isinstance(t, str) and t for t in tokens.values())
    assert tokens["PreTraffic"] != tokens["PostTraffic"]
    for event in ("PreTraffic", "PostTraffic"):
        assert payloads[event] == {
            "rolloutId": rollout_id(ended.arn),
            "lifecycleEvent": event,
            "functionName": target.name,
            "alias": "live",
            "fromVersion": "1",
            "toVersion": "2",
            "targetArn": f"{arn}:2",
        }


def test_post_traffic_hook_failing_rolls_back(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    post = create_hook(
        local_engine,
        unique_name("orders-post"),
        "def handler(event, context):\n    raise RuntimeError('orders table unreachable')\n",
    )

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent5Minutes",
            "hooks": {"postTraffic": post},
        }
    )

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None
    assert f"PostTraffic hook {post} failed" in ended.cause
    assert "orders table unreachable" in ended.cause
    assert "to version 1" in ended.cause
    assert alias_writes.routes(target.name, "live") == [("1", {"2": 10}), ("2", {}), ("1", {})]
    assert target.alias() == ("1", {})
    assert alias_lock(local_engine, target.name) is None


# -- health ---------------------------------------------------------------------
def test_alarm_entering_alarm_mid_bake_rolls_back_at_the_next_check(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    name = create_alarm(local_engine, unique_name("orders-errors"))
    time_scale(0.01)  # a 60 s check interval lasts 0.6 s

    arn = start_at_first_step(
        rollouts, target, "Canary10Percent30Minutes", alarms=[name], checkIntervalSeconds=60
    )
    local_engine.client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="errors on version 2"
    )
    ended = rollouts.wait(arn)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None
    assert f"alarm {name} is in ALARM at step 1 of 1 (10% on the target)" in ended.cause
    assert target.alias() == ("1", {})
    assert alias_writes.routes(target.name, "live") == [("1", {"2": 10}), ("1", {})]
    saved = rollout_record(local_engine, rollout_id(arn))
    assert saved is not None and saved["status"] == "ROLLED_BACK"
    checks = saved["checks"]
    # Every check before the last saw the alarm OK; the first to see ALARM rolled back,
    # long before the 30-minute bake would have ended.
    assert [c["alarmsNotOk"] for c in checks[:-1]] == [{}] * (len(checks) - 1)
    assert (checks[-1]["alarmsNotOk"], checks[-1]["action"]) == ({name: "ALARM"}, "rollback")
    assert int(checks[-1]["bakedSeconds"]) < 1800
    assert alias_lock(local_engine, target.name) is None


def test_second_rollout_on_a_busy_alias_is_refused_and_the_first_goes_on(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    publish(target.lam, target.name, "def handler(e, c):\n    return 3\n")
    time_scale(0.01)

    first = start_at_first_step(rollouts, target, "Canary10Percent5Minutes")
    second = rollouts.run(
        {"functionName": target.name, "alias": "live", "version": "3", "strategy": "AllAtOnce"}
    )

    assert (second.status, second.error) == ("FAILED", "RolloutInProgress")
    assert second.cause is not None
    assert f"{target.name}:live is being rolled out by {rollout_id(first)}" in second.cause
    assert rollout_record(local_engine, rollout_id(second.arn)) is None
    ended = rollouts.wait(first)
    assert ended.status == "SUCCEEDED"
    assert target.alias() == ("2", {})


def test_alias_changed_by_hand_mid_rollout_stops_on_drift_and_keeps_the_change(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    publish(target.lam, target.name, "def handler(e, c):\n    return 3\n")
    time_scale(0.01)

    arn = start_at_first_step(rollouts, target, "Canary10Percent30Minutes")
    # An engineer points the alias at a hotfix by hand.
    target.lam.update_alias(
        FunctionName=target.name,
        Name="live",
        FunctionVersion="3",
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    ended = rollouts.wait(arn)

    assert (ended.status, ended.error) == ("FAILED", "AliasDrift")
    assert ended.cause is not None and "version 3" in ended.cause
    assert "left as found" in ended.cause
    assert target.alias() == ("3", {})
    assert alias_writes.routes(target.name, "live")[-1] == ("3", {})
    saved = rollout_record(local_engine, rollout_id(arn))
    assert saved is not None and saved["status"] == "DRIFTED"
    assert alias_lock(local_engine, target.name) is None


# -- refusals -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"strategy": "Canary10Percent"}, "strategy", id="unknown-strategy"),
        pytest.param(
            {"strategy": {"steps": [{"weight": 100, "bakeSeconds": 60}]}},
            "strategy.steps[0].weight",
            id="weight-100",
        ),
        pytest.param({"alias": None}, "alias", id="missing-alias"),
        pytest.param({"functionName": "no-such-function"}, "functionName", id="unknown-function"),
        pytest.param({"version": "42"}, "version", id="unknown-version"),
        pytest.param({"version": "$LATEST"}, "version", id="latest-as-version"),
        pytest.param({"alarms": ["no-such-alarm"]}, "alarms[0]", id="unknown-alarm"),
        pytest.param(
            {"hooks": {"preTraffic": "no-such-hook"}}, "hooks.preTraffic", id="unknown-hook"
        ),
        pytest.param({"checkIntervalSeconds": 0}, "checkIntervalSeconds", id="interval-zero"),
        pytest.param(
            {"strategy": "Linear1PercentEvery1Minute", "checkIntervalSeconds": 1},
            "checkIntervalSeconds",
            id="over-history-budget",
        ),
        pytest.param({"stratgey": "AllAtOnce"}, "stratgey", id="unknown-field"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
    change: dict[str, Any],
    field: str,
) -> None:
    target = Target(local_engine, unique_name("orders"), second="upload")
    request: dict[str, Any] = {
        "functionName": target.name,
        "alias": "live",
        "strategy": "Canary10Percent5Minutes",
    }
    for key, value in change.items():
        if value is None:
            request.pop(key)
        else:
            request[key] = value

    ended = rollouts.run(request)

    assert (ended.status, ended.error) == ("FAILED", "ValidationError")
    assert ended.cause is not None and ended.cause.startswith(f"{field}: ")
    assert target.versions() == ["1"]  # nothing published
    assert target.alias() == ("1", {})
    assert alias_writes.routes(target.name, "live") == []
    assert rollout_record(local_engine, rollout_id(ended.arn)) is None
    assert alias_lock(local_engine, target.name) is None


def test_alias_already_split_is_refused(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    target = Target(local_engine, unique_name("orders"))
    target.lam.update_alias(
        FunctionName=target.name,
        Name="live",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )

    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": "AllAtOnce"}
    )

    assert (ended.status, ended.error) == ("FAILED", "ValidationError")
    assert ended.cause is not None and ended.cause.startswith("alias: ")
    assert target.alias() == ("1", {"2": 0.3})


# -- failures of the control plane itself ---------------------------------------
def test_task_failing_beyond_its_retries_after_traffic_moved_rolls_back(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = Target(local_engine, unique_name("orders"))
    name = create_alarm(local_engine, unique_name("orders-errors"))
    calls: list[int] = []
    original = cloudwatch_models.CloudWatchBackend.get_alarms_by_alarm_names

    def throttled_after_prepare(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        # PrepareRollout's look-up and the first shift's pass; every later look is throttled.
        if len(calls) > 2:
            raise JsonRESTError("Throttling", "Rate exceeded")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(
        cloudwatch_models.CloudWatchBackend, "get_alarms_by_alarm_names", throttled_after_prepare
    )

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent5Minutes",
            "alarms": [name],
        }
    )

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None
    assert "ThrottlingError" in ended.cause and "Rate exceeded" in ended.cause
    # The bake's first look is throttled: its task fails, on its first attempt and five
    # retries, then the Catch rolls back naming it.
    assert ended.cause.startswith(f"Rolled back {target.name}:live to version 1: Bake failed")
    retries = [e for e in ended.history if e["type"] == "TaskFailed"]
    assert len(retries) == 6
    assert target.alias() == ("1", {})
    assert alias_writes.routes(target.name, "live") == [("1", {"2": 10}), ("1", {})]
    assert alias_lock(local_engine, target.name) is None


def test_stopped_execution_is_cleaned_up_by_the_release_rule(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    time_scale(0.01)
    arn = start_at_first_step(rollouts, target, "Canary10Percent30Minutes")

    local_engine.client("stepfunctions").stop_execution(
        executionArn=arn, error="Operator", cause="stopped from the console"
    )
    ended = rollouts.wait(arn)

    assert ended.status == "ABORTED"
    wait_until(lambda: target.alias() == ("1", {}), timeout=30)
    wait_until(lambda: alias_lock(local_engine, target.name) is None, timeout=30)
    saved = rollout_record(local_engine, rollout_id(arn))
    assert saved is not None and saved["status"] == "ROLLED_BACK"
    assert "ABORTED" in saved["reason"] and "stopped from the console" in saved["reason"]


def test_concurrent_rollouts_on_different_aliases_do_not_meet(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    targets = [Target(local_engine, unique_name("orders")) for _ in range(3)]
    results: dict[str, str] = {}

    def run(target: Target) -> None:
        ended = rollouts.run(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": "Linear10PercentEvery1Minute",
            }
        )
        results[target.name] = ended.status

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert results == {t.name: "SUCCEEDED" for t in targets}
    assert all(t.alias() == ("2", {}) for t in targets)


def test_zip_source_is_deterministic() -> None:
    assert zip_source(V1) == zip_source(V1)


def test_alias_changed_before_promotion_stops_on_drift_not_success(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    publish(target.lam, target.name, "def handler(e, c):\n    return 3\n")
    # While the PreTraffic hook runs, someone points the alias at version 3 by hand.
    meddler = create_hook(
        local_engine,
        unique_name("meddler"),
        f"""
import boto3
def handler(event, context):
    boto3.client("lambda").update_alias(FunctionName="{target.name}", Name="live",
                                        FunctionVersion="3")
    return {{"status": "Succeeded"}}
""",
    )

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "AllAtOnce",
            "hooks": {"preTraffic": meddler},
        }
    )

    assert (ended.status, ended.error) == ("FAILED", "AliasDrift")
    assert target.alias() == ("3", {})
    assert alias_writes.routes(target.name, "live") == [("3", {})]
    assert "RunPostTrafficHook" not in ended.states_entered()
    saved = rollout_record(local_engine, rollout_id(ended.arn))
    assert saved is not None and saved["status"] == "DRIFTED"
    assert alias_lock(local_engine, target.name) is None


def test_abort_during_the_pre_traffic_hook_of_an_all_at_once_rollout(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    from datetime import UTC, datetime

    from rollouts.service import abort_rollout
    from rollouts.store import RolloutStore

    target = Target(local_engine, unique_name("orders"))
    slow = create_hook(
        local_engine,
        unique_name("slow-pre"),
        "import time\ndef handler(event, context):\n    time.sleep(2)\n"
        "    return {'status': 'Succeeded'}\n",
    )
    arn = rollouts.start(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "AllAtOnce",
            "hooks": {"preTraffic": slow},
        }
    )
    wait_until(lambda: rollout_record(local_engine, rollout_id(arn)) is not None)
    abort_rollout(
        rollout_id(arn),
        "alice",
        "wrong build",
        RolloutStore(rollout_table(local_engine)),
        datetime.now(UTC),
    )
    ended = rollouts.wait(arn)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and "aborted by alice: wrong build" in ended.cause
    assert target.alias() == ("1", {})
    assert alias_writes.routes(target.name, "live") == []
    assert alias_lock(local_engine, target.name) is None


def test_a_lock_left_by_an_ended_execution_is_cleaned_up_by_the_next_rollout(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    events = local_engine.client("events")
    release_rules = [
        rule["Name"]
        for rule in events.list_rules()["Rules"]
        if any(
            "ReleaseRolloutFunction" in t["Arn"]
            for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        )
    ]
    assert len(release_rules) == 1
    time_scale(0.01)
    first = start_at_first_step(rollouts, target, "Canary10Percent30Minutes")
    # The cleanup after a stop never arrives (its event was lost).
    events.disable_rule(Name=release_rules[0])
    try:
        local_engine.client("stepfunctions").stop_execution(executionArn=first)
        assert rollouts.wait(first).status == "ABORTED"
        assert alias_lock(local_engine, target.name) is not None
        assert target.alias() == ("1", {"2": 0.1})
    finally:
        events.enable_rule(Name=release_rules[0])
    time_scale(0.0)

    second = rollouts.run(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": "AllAtOnce"}
    )

    assert second.status == "SUCCEEDED"
    assert target.alias() == ("2", {})
    assert alias_writes.routes(target.name, "live") == [("1", {"2": 10}), ("1", {}), ("2", {})]
    stale = rollout_record(local_engine, rollout_id(first))
    assert stale is not None and stale["status"] == "ROLLED_BACK"
    assert "ended without cleaning up" in stale["reason"]
    assert alias_lock(local_engine, target.name) is None


@pytest.mark.parametrize(
    ("strategy", "interval"),
    [
        pytest.param("Canary10Percent5Minutes", 60, id="canary-five-checks"),
        pytest.param("Linear10PercentEvery10Minutes", 300, id="default-linear"),
        pytest.param(
            {"steps": [{"weight": 5, "bakeSeconds": 90}, {"weight": 50, "bakeSeconds": 0}]},
            60,
            id="explicit-steps-a-short-check",
        ),
    ],
)
def test_the_plans_history_estimate_is_never_below_what_an_execution_spends(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    unique_name: Callable[[str], str],
    strategy: Any,
    interval: int,
) -> None:
    """Plans are refused past the history budget on this estimate: it must bound the real
    count (every hook, alarm and check) and stay close to it."""
    from rollouts.plan import estimate_history_events, plan
    from rollouts.strategy import parse_strategy

    target = Target(local_engine, unique_name("orders"))
    alarm = create_alarm(local_engine, unique_name("orders-errors"))
    pre = create_hook(local_engine, unique_name("pre"), HOOK_OK)
    post = create_hook(local_engine, unique_name("post"), HOOK_OK)

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": strategy,
            "alarms": [alarm],
            "hooks": {"preTraffic": pre, "postTraffic": post},
            "checkIntervalSeconds": interval,
        }
    )

    assert ended.status == "SUCCEEDED", ended.cause
    estimate = estimate_history_events(plan(parse_strategy(strategy)), interval)
    spent = len(ended.history)
    assert spent <= estimate <= spent * 1.1, (spent, estimate)
