"""React at once, people in control: woken bakes, pauses, promotes, long-running hooks.

Each test runs the real state machine and handlers on the local engine. Where a
test proves that something happens *at once*, it runs at time scale 1 with a check
interval of an hour: a bake nobody woke would outlast the test, so the rollout
ending at all proves the wake (and the history says which task ended the wait).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rollouts.service import (
    RolloutEndedError,
    VerbRefusedError,
    abort_rollout,
    pause_rollout,
    promote_rollout,
    report_hook,
    resume_rollout,
)
from rollouts.store import RolloutStore
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.faults import FaultPoint, Faults, Injected
from rollouts_cli.local.pytest_plugin import (
    AliasWrites,
    Rollouts,
    StatusEvents,
    Target,
    alias_lock,
    baking,
    create_alarm,
    create_hook,
    eventually,
    rollout_id,
    rollout_record,
    rollout_table,
    stack_function,
)

pytestmark = pytest.mark.e2e

HOUR = 3600
EVENTS = Path(__file__).resolve().parents[2] / "events" / "eventbridge"
# A hook that hands its callback token to its "test job" (here: a table the test reads)
# and answers Pending; the job reports later with SendTaskSuccess / SendTaskFailure.
PENDING_HOOK = """
import boto3

def handler(event, context):
    boto3.client("dynamodb").put_item(
        TableName="{table}",
        Item={{"pk": {{"S": event["rolloutId"]}}, "token": {{"S": event["callbackToken"]}}}},
    )
    return {{"status": "Pending"}}
"""


def store(engine: LocalEngine) -> RolloutStore:
    return RolloutStore(rollout_table(engine))


def now() -> datetime:
    return datetime.now(UTC)


def record_of(engine: LocalEngine, arn: str) -> dict[str, Any]:
    found = rollout_record(engine, rollout_id(arn))
    assert found is not None
    return found


def bake_ends(ended_history: list[dict[str, Any]]) -> list[str]:
    """How each Bake task ended: TaskSucceeded (woken) or TaskTimedOut."""
    ends: list[str] = []
    in_bake = False
    for event in ended_history:
        details = event.get("stateEnteredEventDetails")
        if details:
            in_bake = details["name"] == "Bake"
        if in_bake and event["type"] in ("TaskSucceeded", "TaskTimedOut", "TaskFailed"):
            ends.append(event["type"])
            in_bake = False
    return ends


def start_baking(
    engine: LocalEngine, rollouts: Rollouts, target: Target, strategy: Any, **request: Any
) -> str:
    arn = rollouts.start(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": strategy,
            "checkIntervalSeconds": HOUR,
            **request,
        }
    )
    eventually(lambda: baking(engine, arn), "the first bake", 60)
    return arn


# -- a bake that can be woken ------------------------------------------------------
def test_an_alarm_entering_alarm_wakes_the_bake_and_rolls_back_at_once(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(1.0)  # an hour's check interval is an hour: only a wake ends it in time
    target = Target(local_engine, unique_name("orders"))
    alarm = create_alarm(local_engine, unique_name("orders-errors"))
    arn = start_baking(local_engine, rollouts, target, "Canary10Percent30Minutes", alarms=[alarm])
    assert target.alias() == ("1", {"2": 0.1})

    local_engine.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="5 errors on version 2"
    )
    ended = rollouts.wait(arn, timeout=60)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None
    assert f"alarm {alarm} is in ALARM at step 1 of 1 (10% on the target)" in ended.cause
    assert target.alias() == ("1", {})
    assert alias_writes.routes(target.name, "live") == [("1", {"2": 10}), ("1", {})]
    assert bake_ends(ended.history) == ["TaskSucceeded"]
    last = record_of(local_engine, arn)["checks"][-1]
    assert last["wokenBy"] == f"alarm {alarm} is in ALARM: 5 errors on version 2"
    assert last["alarmReasons"] == {alarm: "5 errors on version 2"}
    assert alias_lock(local_engine, target.name) is None
    # Ended, it watches the alarm no more: the alarm's next wake reads no record of it.
    assert watchers(local_engine, alarm) == []


def watchers(engine: LocalEngine, alarm: str) -> list[str]:
    return store(engine).watchers(alarm)


def test_a_rollout_watches_its_alarms_while_it_runs_and_not_after(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(1.0)
    target = Target(local_engine, unique_name("orders"))
    alarms = [create_alarm(local_engine, unique_name(f"orders-{n}")) for n in ("errors", "p99")]
    arn = start_baking(local_engine, rollouts, target, "Canary10Percent30Minutes", alarms=alarms)
    assert [watchers(local_engine, a) for a in alarms] == [[rollout_id(arn)]] * 2

    promote_rollout(
        rollout_id(arn), "carol", store(local_engine), now(), full=True, sfn=rollouts.sfn
    )
    ended = rollouts.wait(arn, timeout=60)

    assert ended.status == "SUCCEEDED"
    assert [watchers(local_engine, a) for a in alarms] == [[], []]


@contextlib.contextmanager
def alarm_fires_before_token(
    engine: LocalEngine, faults: Faults, alarm: str, function: str
) -> Iterator[Injected]:
    """While the block runs: ``alarm`` enters ALARM just before ``function`` (a logical
    name) writes its token, and its event is late (the wake rule is off)."""
    events = engine.client("events")
    (rule,) = [
        r["Name"]
        for r in events.list_rules()["Rules"]
        if "aws.cloudwatch" in json.loads(r.get("EventPattern") or "{}").get("source", [])
    ]
    cloudwatch = engine.client("cloudwatch")

    def fire() -> None:
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx")

    # The task's first UpdateItem is the write of its token.
    token_write = FaultPoint("dynamodb", "UpdateItem", stack_function(engine, function), 1)
    events.disable_rule(Name=rule)
    try:
        with faults.before(token_write, fire) as raced:
            yield raced
    finally:
        events.enable_rule(Name=rule)


def test_an_alarm_that_fires_before_the_bake_leaves_its_token_ends_it_at_once(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    faults: Faults,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    """The race a wake cannot win: the alarm enters ALARM after ShiftTraffic looked and
    before the bake left its token, and its event is late (the wake rule is off). The
    bake's own first look sees it and ends the wait itself."""
    time_scale(1.0)  # an hour's check interval is an hour: only the look ends it in time
    target = Target(local_engine, unique_name("orders"))
    alarm = create_alarm(local_engine, unique_name("orders-errors"))

    with alarm_fires_before_token(local_engine, faults, alarm, "CheckHealthFunction") as raced:
        ended = rollouts.run(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": "Canary10Percent30Minutes",
                "alarms": [alarm],
                "checkIntervalSeconds": HOUR,
            },
            timeout=60,
        )

    assert raced.fired
    assert (ended.status, ended.error) == ("FAILED", "RolledBack"), ended.cause
    assert ended.cause is not None
    assert f"alarm {alarm} is in ALARM at step 1 of 1 (10% on the target)" in ended.cause
    assert bake_ends(ended.history) == ["TaskSucceeded"]
    last = record_of(local_engine, ended.arn)["checks"][-1]
    assert last["wokenBy"] == (
        f"rolling back: alarm {alarm} is in ALARM at step 1 of 1 (10% on the target)"
    )
    assert target.alias() == ("1", {})


def test_abort_wakes_the_bake_and_rolls_back_at_once(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(1.0)
    target = Target(local_engine, unique_name("orders"))
    arn = start_baking(local_engine, rollouts, target, "Canary10Percent30Minutes")

    answer = abort_rollout(
        rollout_id(arn), "alice", "p99 up", store(local_engine), now(), sfn=rollouts.sfn
    )
    ended = rollouts.wait(arn, timeout=60)

    assert answer["abortRequested"] is True
    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and "aborted by alice: p99 up" in ended.cause
    assert target.alias() == ("1", {})
    assert alias_writes.routes(target.name, "live") == [("1", {"2": 10}), ("1", {})]
    assert bake_ends(ended.history) == ["TaskSucceeded"]
    requests = record_of(local_engine, arn)["requests"]
    assert [(r["verb"], r["by"], r["reason"]) for r in requests] == [("abort", "alice", "p99 up")]


# -- pause, resume, promote ---------------------------------------------------------
def test_pause_holds_the_weight_until_resumed_and_health_is_still_watched(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    status_events: Callable[[str], StatusEvents],
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(1.0)
    target = Target(local_engine, unique_name("orders"))
    team = status_events(target.name)
    alarm = create_alarm(local_engine, unique_name("orders-errors"))
    arn = start_baking(local_engine, rollouts, target, "Canary10Percent30Minutes", alarms=[alarm])
    rollout = rollout_id(arn)

    paused = pause_rollout(
        rollout, "alice", "checking logs", store(local_engine), now(), sfn=rollouts.sfn
    )
    eventually(lambda: baking(local_engine, arn, held=True), "the hold", 30)
    held = record_of(local_engine, arn)
    assert (paused["paused"], paused["step"], paused["weight"]) == (True, 1, 10)
    assert held["state"]["reason"] == (
        "paused by alice: checking logs at step 1 of 1 (10% on the target)"
    )
    assert target.alias() == ("1", {"2": 0.1})

    resume_rollout(rollout, "bob", store(local_engine), now(), sfn=rollouts.sfn)
    eventually(lambda: baking(local_engine, arn, held=False), "the bake again", 30)
    with pytest.raises(VerbRefusedError, match="is not paused; nothing to resume"):
        resume_rollout(rollout, "bob", store(local_engine), now(), sfn=rollouts.sfn)

    pause_rollout(rollout, "alice", None, store(local_engine), now(), sfn=rollouts.sfn)
    eventually(lambda: baking(local_engine, arn, held=True), "the second hold", 30)
    local_engine.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="errors while paused"
    )
    ended = rollouts.wait(arn, timeout=60)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and f"alarm {alarm} is in ALARM" in ended.cause
    assert target.alias() == ("1", {})
    assert alias_writes.routes(target.name, "live") == [("1", {"2": 10}), ("1", {})]
    verbs = [(r["verb"], r["by"]) for r in record_of(local_engine, arn)["requests"]]
    assert verbs == [("pause", "alice"), ("resume", "bob"), ("pause", "alice")]
    # The team's rule on the status bus heard each hold begin and end, and who did it.
    told = [(d["phase"], d["reason"]) for d in team.of(rollout, "rolled-back")]
    where = "at step 1 of 1 (10% on the target)"
    assert [phase for phase, _ in told] == [
        "started",
        "shifted",
        "paused",
        "resumed",
        "paused",
        "rolled-back",
    ]
    assert told[2:5] == [
        ("paused", f"paused by alice: checking logs {where}"),
        ("resumed", "resumed by bob"),
        ("paused", f"paused by alice {where}"),
    ]


def test_a_pause_step_waits_at_its_weight_until_promoted(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    status_events: Callable[[str], StatusEvents],
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(1.0)
    target = Target(local_engine, unique_name("orders"))
    team = status_events(target.name)
    gated = {
        "steps": [
            {"weight": 10, "bakeSeconds": 1},
            {"pause": {}},
            {"weight": 50, "bakeSeconds": 1},
        ]
    }
    arn = rollouts.start(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": gated}
    )
    eventually(lambda: baking(local_engine, arn, held=True), "the pause step", 60)
    state = record_of(local_engine, arn)["state"]
    assert (state["stepIndex"], state["reason"]) == (
        1,
        "waiting for rollouts promote at step 2 of 3 (10% on the target)",
    )
    assert target.alias() == ("1", {"2": 0.1})

    promoted = promote_rollout(
        rollout_id(arn), "carol", store(local_engine), now(), sfn=rollouts.sfn
    )
    ended = rollouts.wait(arn, timeout=60)

    assert promoted["step"] == 2
    assert (ended.status, ended.output and ended.output["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert alias_writes.routes(target.name, "live") == [
        ("1", {"2": 10}),
        ("1", {"2": 50}),
        ("2", {}),
    ]
    assert target.alias() == ("2", {})
    told = [(d["phase"], d["reason"]) for d in team.of(rollout_id(arn), "succeeded")]
    assert [(phase, why) for phase, why in told if phase in ("paused", "resumed")] == [
        ("paused", "waiting for rollouts promote at step 2 of 3 (10% on the target)"),
        ("resumed", "promoted by carol"),
    ]


def test_a_timed_pause_step_holds_its_weight_for_its_seconds(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    timed = {"steps": [{"weight": 20, "bakeSeconds": 60}, {"pause": {"seconds": 600}}]}
    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": timed}
    )
    assert ended.status == "SUCCEEDED"
    assert alias_writes.routes(target.name, "live") == [("1", {"2": 20}), ("2", {})]
    checks = record_of(local_engine, ended.arn)["checks"]
    assert (checks[-1]["step"], checks[-1]["weight"], checks[-1]["bakedSeconds"]) == (2, 20, 600)


def test_promote_ends_the_bake_and_goes_to_the_next_step(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    status_events: Callable[[str], StatusEvents],
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(1.0)
    target = Target(local_engine, unique_name("orders"))
    team = status_events(target.name)
    two_steps = {
        "steps": [{"weight": 10, "bakeSeconds": HOUR}, {"weight": 40, "bakeSeconds": HOUR}]
    }
    arn = start_baking(local_engine, rollouts, target, two_steps)

    promote_rollout(rollout_id(arn), "dave", store(local_engine), now(), sfn=rollouts.sfn)
    eventually(lambda: target.alias() == ("1", {"2": 0.4}), "step 2", 30)
    eventually(lambda: baking(local_engine, arn), "step 2's bake", 30)
    promote_rollout(
        rollout_id(arn), "dave", store(local_engine), now(), full=True, sfn=rollouts.sfn
    )
    ended = rollouts.wait(arn, timeout=60)

    assert ended.status == "SUCCEEDED"
    assert alias_writes.routes(target.name, "live") == [
        ("1", {"2": 10}),
        ("1", {"2": 40}),
        ("2", {}),
    ]
    requests = record_of(local_engine, arn)["requests"]
    assert [(r["verb"], r["full"], r["step"]) for r in requests] == [
        ("promote", False, 1),
        ("promote", True, 2),
    ]
    # The team hears who moved it.
    told = {d["phase"]: d["reason"] for d in team.of(rollout_id(arn), "succeeded")}
    assert told["shifted"] == "promoted by dave"
    assert told["promoted"] == (f"{target.name}:live promoted to version 2 (was 1), asked by dave")


def test_every_verb_on_an_ended_rollout_is_refused_saying_how_it_ended(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    target = Target(local_engine, unique_name("orders"))
    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": "AllAtOnce"}
    )
    rollout = rollout_id(ended.arn)
    verbs: list[Callable[[], Any]] = [
        lambda: abort_rollout(rollout, "a", None, store(local_engine), now()),
        lambda: pause_rollout(rollout, "a", None, store(local_engine), now()),
        lambda: resume_rollout(rollout, "a", store(local_engine), now()),
        lambda: promote_rollout(rollout, "a", store(local_engine), now()),
        lambda: report_hook(rollout, "a", True, None, store(local_engine), rollouts.sfn, now()),
    ]
    for verb in verbs:
        with pytest.raises(RolloutEndedError, match=f"rollout {rollout} already ended SUCCEEDED"):
            verb()
    assert "requests" not in record_of(local_engine, ended.arn)


# -- hooks that take their time ------------------------------------------------------
@pytest.fixture
def tokens(local_engine: LocalEngine, unique_name: Callable[[str], str]) -> Any:
    """A table where PENDING_HOOK leaves its callback token (its "test job" reads it)."""
    name = unique_name("hook-tokens")
    dynamodb = local_engine.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def token_of(engine: LocalEngine, table: str, arn: str) -> str:
    def found() -> str | None:
        item = engine.client("dynamodb").get_item(
            TableName=table, Key={"pk": {"S": rollout_id(arn)}}, ConsistentRead=True
        )
        return item.get("Item", {}).get("token", {}).get("S")

    return str(eventually(found, "the hook's callback token", 60))


def pending_request(
    target: Target,
    hook: str,
    lifecycle: str = "preTraffic",
    timeout_seconds: int = 86_400,
    alarms: tuple[str, ...] = (),
) -> dict[str, Any]:
    """All at once to version 2, with ``hook`` as the ``lifecycle`` hook (a day to answer)."""
    request: dict[str, Any] = {
        "functionName": target.name,
        "alias": "live",
        "version": "2",
        "strategy": "AllAtOnce",
        "hooks": {lifecycle: {"function": hook, "timeoutSeconds": timeout_seconds}},
    }
    if alarms:
        request["alarms"] = list(alarms)
    return request


def pending_rollout(
    engine: LocalEngine,
    rollouts: Rollouts,
    target: Target,
    hook: str,
    timeout_seconds: int = 86_400,
) -> str:
    return rollouts.start(pending_request(target, hook, timeout_seconds=timeout_seconds))


def test_a_hook_that_answers_forty_minutes_later_passes(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    tokens: str,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    scale = 0.001  # 40 minutes are 2.4 s; the hook's day is 86 s
    time_scale(scale)
    target = Target(local_engine, unique_name("orders"))
    hook = create_hook(local_engine, unique_name("pending-pre"), PENDING_HOOK.format(table=tokens))
    arn = pending_rollout(local_engine, rollouts, target, hook)
    token = token_of(local_engine, tokens, arn)
    assert record_of(local_engine, arn)["waiting"]["kind"] == "PreTraffic"

    time.sleep(40 * 60 * scale)
    rollouts.sfn.send_task_success(taskToken=token, output=json.dumps({"status": "Succeeded"}))
    ended = rollouts.wait(arn, timeout=60)

    assert ended.status == "SUCCEEDED"
    assert target.alias() == ("2", {})
    assert record_of(local_engine, arn)["hookPreTraffic"]["result"] == "Succeeded"


@pytest.mark.parametrize(
    ("send", "cause"),
    [
        pytest.param(
            lambda sfn, token: sfn.send_task_success(
                taskToken=token, output=json.dumps({"status": "Failed", "reason": "3 tests red"})
            ),
            "PreTraffic hook {hook} failed: 3 tests red before any traffic moved",
            id="failed-answer",
        ),
        pytest.param(
            lambda sfn, token: sfn.send_task_failure(
                taskToken=token, error="TestsFailed", cause="CodeBuild build 42 failed"
            ),
            "PreTraffic hook {hook} failed with TestsFailed: CodeBuild build 42 failed"
            " before any traffic moved",
            id="task-failure",
        ),
    ],
)
def test_a_hook_that_reports_failure_later_rolls_back_naming_it(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    tokens: str,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
    send: Callable[[Any, str], Any],
    cause: str,
) -> None:
    time_scale(0.001)
    target = Target(local_engine, unique_name("orders"))
    hook = create_hook(local_engine, unique_name("pending-pre"), PENDING_HOOK.format(table=tokens))
    arn = pending_rollout(local_engine, rollouts, target, hook)
    send(rollouts.sfn, token_of(local_engine, tokens, arn))
    ended = rollouts.wait(arn, timeout=60)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause == (
        f"Rolled back {target.name}:live: it stayed on version 1: {cause.format(hook=hook)}."
    )
    assert alias_writes.routes(target.name, "live") == []
    assert target.alias() == ("1", {})


def test_a_hook_that_never_answers_times_out_naming_it(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    tokens: str,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(0.01)  # its 2 minutes last 1.2 s
    target = Target(local_engine, unique_name("orders"))
    hook = create_hook(local_engine, unique_name("silent-pre"), PENDING_HOOK.format(table=tokens))
    ended = rollouts.wait(pending_rollout(local_engine, rollouts, target, hook, 120), timeout=60)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause == (
        # The hook may still run (its wait timed out): the baseline is written again.
        f"Rolled back {target.name}:live to version 1: PreTraffic hook {hook}"
        " did not answer within 2 min before any traffic moved."
    )
    assert target.alias() == ("1", {})
    assert alias_lock(local_engine, target.name) is None


def test_an_abort_while_a_hook_is_pending_ends_the_wait_at_once(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    tokens: str,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(1.0)  # the hook's day is a day: only the abort ends the wait in time
    target = Target(local_engine, unique_name("orders"))
    hook = create_hook(local_engine, unique_name("pending-pre"), PENDING_HOOK.format(table=tokens))
    arn = pending_rollout(local_engine, rollouts, target, hook)
    token = token_of(local_engine, tokens, arn)

    abort_rollout(
        rollout_id(arn), "erin", "wrong build", store(local_engine), now(), sfn=rollouts.sfn
    )
    ended = rollouts.wait(arn, timeout=60)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and "aborted by erin: wrong build" in ended.cause
    assert target.alias() == ("1", {})
    # A late answer on the ended wait is refused: it cannot bring the rollout back.
    with pytest.raises(ClientError):
        rollouts.sfn.send_task_success(taskToken=token, output=json.dumps({"status": "Succeeded"}))


def test_an_alarm_entering_alarm_while_a_post_traffic_hook_waits_rolls_back_at_once(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    tokens: str,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    """100% on the target, its PostTraffic test job still running: the alarm ends the wait."""
    time_scale(1.0)  # the hook's day is a day: only the alarm ends the wait in time
    target = Target(local_engine, unique_name("orders"))
    alarm = create_alarm(local_engine, unique_name("orders-errors"))
    hook = create_hook(local_engine, unique_name("pending-post"), PENDING_HOOK.format(table=tokens))
    arn = rollouts.start(pending_request(target, hook, "postTraffic", alarms=(alarm,)))
    token_of(local_engine, tokens, arn)
    eventually(lambda: (record_of(local_engine, arn).get("waiting") or {}).get("hook"), "wait")
    assert target.alias() == ("2", {})

    local_engine.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="5 errors on version 2"
    )
    ended = rollouts.wait(arn, timeout=60)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause == (
        f"Rolled back {target.name}:live to version 1: alarm {alarm} is in ALARM:"
        f" 5 errors on version 2, while the PostTraffic hook {hook} ran"
        " after promotion (100% on the target)."
    )
    assert target.alias() == ("1", {})
    assert alias_writes.routes(target.name, "live") == [("2", {}), ("1", {})]
    assert alias_lock(local_engine, target.name) is None


def test_an_alarm_that_fired_before_the_hook_left_its_token_fails_the_wait_at_once(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    faults: Faults,
    tokens: str,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    """The alarm entered ALARM after PromoteTarget looked and before RunHook left its
    token, its event late (the wake rule is off): RunHook's own look fails the wait."""
    time_scale(1.0)
    target = Target(local_engine, unique_name("orders"))
    alarm = create_alarm(local_engine, unique_name("orders-errors"))
    hook = create_hook(local_engine, unique_name("pending-post"), PENDING_HOOK.format(table=tokens))

    with alarm_fires_before_token(local_engine, faults, alarm, "RunHookFunction") as raced:
        ended = rollouts.run(
            pending_request(target, hook, "postTraffic", alarms=(alarm,)), timeout=60
        )

    assert raced.fired
    assert (ended.status, ended.error) == ("FAILED", "RolledBack"), ended.cause
    assert ended.cause == (
        f"Rolled back {target.name}:live to version 1: alarm {alarm} is in ALARM,"
        f" while the PostTraffic hook {hook} ran after promotion (100% on the target)."
    )
    assert target.alias() == ("1", {})


def test_a_late_alarm_event_about_an_alarm_now_ok_fails_no_hook_wait(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    tokens: str,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    """EventBridge delivers at least once, and late: the wake function reads the alarm
    before failing a hook's wait on its word."""
    time_scale(1.0)
    target = Target(local_engine, unique_name("orders"))
    alarm = create_alarm(local_engine, unique_name("orders-errors"))
    hook = create_hook(local_engine, unique_name("pending-post"), PENDING_HOOK.format(table=tokens))
    arn = rollouts.start(pending_request(target, hook, "postTraffic", alarms=(alarm,)))
    token = token_of(local_engine, tokens, arn)
    eventually(lambda: (record_of(local_engine, arn).get("waiting") or {}).get("hook"), "wait")
    late = json.loads((EVENTS / "alarm-state-change.json").read_text())
    late["detail"]["alarmName"] = alarm

    woke = local_engine.client("lambda").invoke(
        FunctionName=stack_function(local_engine, "WakeRolloutsFunction"),
        Payload=json.dumps(late).encode(),
    )

    assert "FunctionError" not in woke, woke["Payload"].read()
    assert json.loads(woke["Payload"].read())["woken"] == []
    assert rollouts.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    rollouts.sfn.send_task_success(taskToken=token, output=json.dumps({"status": "Succeeded"}))
    assert rollouts.wait(arn, timeout=60).status == "SUCCEEDED"
    assert target.alias() == ("2", {})


def test_a_person_reports_the_hook_result(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    tokens: str,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    time_scale(1.0)
    target = Target(local_engine, unique_name("orders"))
    hook = create_hook(local_engine, unique_name("manual-pre"), PENDING_HOOK.format(table=tokens))
    arn = pending_rollout(local_engine, rollouts, target, hook)
    token_of(local_engine, tokens, arn)
    eventually(lambda: (record_of(local_engine, arn).get("waiting") or {}).get("hook"), "wait")

    answer = report_hook(
        rollout_id(arn), "frank", True, "checked by hand", store(local_engine), rollouts.sfn, now()
    )
    ended = rollouts.wait(arn, timeout=60)

    assert (answer["status"], answer["hook"]) == ("Succeeded", hook)
    assert ended.status == "SUCCEEDED"
    requests = record_of(local_engine, arn)["requests"]
    assert [(r["verb"], r["by"], r["status"]) for r in requests] == [
        ("hook-result", "frank", "Succeeded")
    ]


# -- first deploys are asked for ------------------------------------------------------
def test_a_missing_alias_is_refused_unless_a_first_deploy_is_asked_for(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    target = Target(local_engine, unique_name("orders"))
    typo = rollouts.run(
        {"functionName": target.name, "alias": "lvie", "version": "2", "strategy": "AllAtOnce"}
    )
    assert (typo.status, typo.error) == ("FAILED", "ValidationError")
    assert typo.cause is not None and typo.cause.startswith(
        f"alias: {target.name} has no alias lvie"
    )
    assert "lvie" not in [
        a["Name"] for a in target.lam.list_aliases(FunctionName=target.name)["Aliases"]
    ]

    first = rollouts.run(
        {
            "functionName": target.name,
            "alias": "canary",
            "version": "2",
            "strategy": "AllAtOnce",
            "createAlias": True,
        }
    )
    assert first.status == "SUCCEEDED"
    assert target.lam.get_alias(FunctionName=target.name, Name="canary")["FunctionVersion"] == "2"
