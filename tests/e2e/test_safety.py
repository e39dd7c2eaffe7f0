"""Safe at every end: the findings of the safety review, each on the real state machine.

Every test here failed on the control plane before the observe-decide-act rewrite:
an abort or a firing alarm ignored before traffic moved, a late task writing the
alias after its cleanup, a baseline deleted under a rollout, a description-only
alias update taken for drift, a hook run twice, a record outgrowing DynamoDB's
item, success declared without a last look, and input that is not an object.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto.awslambda import responses as lambda_responses
from moto.dynamodb import models as dynamodb_models

from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.pytest_plugin import (
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

pytestmark = pytest.mark.e2e

HOOK_OK = "def handler(event, context):\n    return {'status': 'Succeeded'}\n"


def abort(engine: LocalEngine, rollout: str, by: str = "alice", reason: str = "bad build") -> None:
    from rollouts.service import abort_rollout
    from rollouts.store import RolloutStore

    abort_rollout(rollout, by, reason, RolloutStore(rollout_table(engine)), datetime.now(UTC))


def aliases_of(target: Target) -> list[str]:
    return [a["Name"] for a in target.lam.list_aliases(FunctionName=target.name)["Aliases"]]


@contextmanager
def on_alias_write(
    function: str, action: Callable[[dict[str, Any]], None]
) -> Iterator[list[dict[str, Any]]]:
    """Run ``action(request body)`` inside the emulator before each UpdateAlias of ``function``.

    The request is then handled as usual (its RevisionId checked): ``action`` runs
    between the task's decision and the alias write, where a real race would fall.
    """
    original = lambda_responses.LambdaResponse.update_alias
    seen: list[dict[str, Any]] = []

    def update_alias(self: Any) -> Any:
        if f"/functions/{function}/" in self.path:
            body = json.loads(self.body or "{}")
            seen.append(body)
            action(body)
        return original(self)

    lambda_responses.LambdaResponse.update_alias = update_alias
    try:
        yield seen
    finally:
        lambda_responses.LambdaResponse.update_alias = original


def weighted(body: dict[str, Any]) -> bool:
    return bool((body.get("RoutingConfig") or {}).get("AdditionalVersionWeights"))


# -- 1. abort honoured before traffic moves, and after promotion --
def test_abort_during_the_pre_traffic_hook_of_a_canary_moves_nothing(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    flag = Path(local_engine.root) / ".pytest_cache" / f"{unique_name('flag')}"
    flag.parent.mkdir(exist_ok=True)
    slow = create_hook(
        local_engine,
        unique_name("slow-pre"),
        "import time, pathlib\ndef handler(event, context):\n"
        f"    pathlib.Path({str(flag)!r}).write_text('in hook')\n"
        "    time.sleep(1.5)\n    return {'status': 'Succeeded'}\n",
    )
    arn = rollouts.start(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent30Minutes",
            "hooks": {"preTraffic": slow},
            "checkIntervalSeconds": 3600,
        }
    )
    eventually(flag.exists, "the PreTraffic hook running")
    abort(local_engine, rollout_id(arn), reason="wrong build")
    ended = rollouts.wait(arn)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and "aborted by alice: wrong build" in ended.cause
    assert "before any traffic moved" in ended.cause
    assert alias_writes.routes(target.name, "live") == []
    assert target.alias() == ("1", {})
    assert "Bake" not in ended.states_entered()
    assert alias_lock(local_engine, target.name) is None


def test_abort_at_a_zero_bake_step_stops_the_next_shift(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    started: list[str] = []

    def abort_at_first_shift(body: dict[str, Any]) -> None:
        if weighted(body) and started and len(alias_writes.of(target.name, "live")) == 0:
            abort(local_engine, started[0])

    with on_alias_write(target.name, abort_at_first_shift):
        arn = rollouts.start(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": {
                    "steps": [{"weight": 5, "bakeSeconds": 0}, {"weight": 50, "bakeSeconds": 0}]
                },
            }
        )
        started.append(rollout_id(arn))
        eventually(lambda: rollout_record(local_engine, started[0]) is not None, "the record")
        ended = rollouts.wait(arn)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and "aborted by alice" in ended.cause
    routes = alias_writes.routes(target.name, "live")
    assert ("1", {"2": 50}) not in routes
    assert ("2", {}) not in routes
    assert target.alias() == ("1", {})


def test_abort_accepted_after_promotion_rolls_back_instead_of_succeeding(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    started: list[str] = []

    def abort_at_promotion(body: dict[str, Any]) -> None:
        if body.get("FunctionVersion") == "2" and not weighted(body):
            abort(local_engine, started[0], reason="saw errors at 100%")

    with on_alias_write(target.name, abort_at_promotion):
        arn = rollouts.start(
            {"functionName": target.name, "alias": "live", "version": "2", "strategy": "AllAtOnce"}
        )
        started.append(rollout_id(arn))
        ended = rollouts.wait(arn)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and "saw errors at 100%" in ended.cause
    assert target.alias() == ("1", {})
    assert alias_writes.routes(target.name, "live") == [("2", {}), ("1", {})]
    saved = rollout_record(local_engine, started[0])
    assert saved is not None and saved["status"] == "ROLLED_BACK"


def test_abort_of_an_ended_rollout_is_refused_naming_how_it_ended(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    from rollouts.service import RolloutEndedError

    target = Target(local_engine, unique_name("orders"))
    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": "AllAtOnce"}
    )
    assert ended.status == "SUCCEEDED"

    with pytest.raises(RolloutEndedError, match="SUCCEEDED"):
        abort(local_engine, rollout_id(ended.arn))
    saved = rollout_record(local_engine, rollout_id(ended.arn))
    assert saved is not None and "abort" not in saved


# -- 2. alarms read before traffic moves, and during the PostTraffic hook --
@pytest.mark.parametrize("strategy", ["AllAtOnce", "Canary10Percent5Minutes"])
def test_an_alarm_already_firing_moves_no_traffic(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
    strategy: str,
) -> None:
    target = Target(local_engine, unique_name("orders"))
    name = create_alarm(local_engine, unique_name("orders-errors"))
    local_engine.client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="already failing"
    )

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": strategy,
            "alarms": [name],
        }
    )

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and f"alarm {name} is in ALARM" in ended.cause
    assert alias_writes.routes(target.name, "live") == []
    assert target.alias() == ("1", {})


def test_an_alarm_firing_during_the_post_traffic_hook_rolls_back(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    name = create_alarm(local_engine, unique_name("orders-errors"))
    post = create_hook(
        local_engine,
        unique_name("post"),
        "import boto3\ndef handler(event, context):\n"
        "    boto3.client('cloudwatch').set_alarm_state(\n"
        f"        AlarmName={name!r}, StateValue='ALARM', StateReason='errors at 100%')\n"
        "    return {'status': 'Succeeded'}\n",
    )

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "AllAtOnce",
            "alarms": [name],
            "hooks": {"postTraffic": post},
        }
    )

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and f"alarm {name} is in ALARM" in ended.cause
    assert target.alias() == ("1", {})
    assert alias_writes.routes(target.name, "live") == [("2", {}), ("1", {})]


# -- 3. every cleanup fenced against a task still running --
def release_ended(engine: LocalEngine, rollout: str) -> Callable[[], bool]:
    def ended() -> bool:
        saved = rollout_record(engine, rollout)
        return saved is not None and saved["status"] != "RUNNING" and lock_free(saved)

    def lock_free(saved: dict[str, Any]) -> bool:
        return alias_lock(engine, str(saved["functionName"])) is None

    return ended


def test_a_shift_still_in_flight_after_a_stop_cannot_leave_a_split(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    release = threading.Event()
    reached = threading.Event()

    def hold_the_first_shift(body: dict[str, Any]) -> None:
        if weighted(body) and not reached.is_set():
            reached.set()
            release.wait(30)

    with on_alias_write(target.name, hold_the_first_shift):
        arn = rollouts.start(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": "Canary10Percent5Minutes",
            }
        )
        assert reached.wait(30)
        local_engine.client("stepfunctions").stop_execution(executionArn=arn)
        stopped = rollouts.wait(arn)
        assert stopped.status == "ABORTED", (stopped.error, stopped.cause)
        eventually(release_ended(local_engine, rollout_id(arn)), "the cleanup after the stop")
        release.set()
        # The late shift lands (or is refused) now; give it time to do its worst.
        eventually(lambda: len(alias_writes.of(target.name, "live")) >= 1, "the late write")
        threading.Event().wait(1.0)

    assert target.alias() == ("1", {})
    saved = rollout_record(local_engine, rollout_id(arn))
    assert saved is not None and saved["status"] == "ROLLED_BACK"
    assert alias_lock(local_engine, target.name) is None


def test_a_first_deploy_create_still_in_flight_after_a_stop_leaves_no_alias(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    from moto.awslambda import models as lambda_models

    from rollouts_cli.local.samples import create_function

    name = unique_name("fresh")
    lam = local_engine.client("lambda")
    create_function(lam, local_engine.client("iam"), name, "def handler(e, c):\n    return 1\n")
    release = threading.Event()
    reached = threading.Event()
    original = lambda_models.LambdaStorage.put_alias

    def put_alias(self: Any, alias_name: str, function_name: str, *args: Any, **kw: Any) -> Any:
        if function_name.endswith(name) and alias_name == "live" and not reached.is_set():
            reached.set()
            release.wait(30)
        return original(self, alias_name, function_name, *args, **kw)

    lambda_models.LambdaStorage.put_alias = put_alias
    try:
        arn = rollouts.start(
            {
                "functionName": name,
                "alias": "live",
                "version": "1",
                "strategy": "AllAtOnce",
                "createAlias": True,
            }
        )
        assert reached.wait(30)
        local_engine.client("stepfunctions").stop_execution(executionArn=arn)
        assert rollouts.wait(arn).status == "ABORTED"
        eventually(
            lambda: (
                (rollout_record(local_engine, rollout_id(arn)) or {}).get("status") == "ROLLED_BACK"
            ),
            "the cleanup after the stop",
        )
        release.set()

        def no_alias() -> bool:
            names = [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]]
            return "live" not in names

        # The late CreateAlias lands; the task itself takes it back.
        threading.Event().wait(1.0)
        eventually(no_alias, "the late alias taken back", timeout=10)
    finally:
        lambda_models.LambdaStorage.put_alias = original
    assert alias_lock(local_engine, name) is None


def test_a_prepare_still_in_flight_after_its_execution_ended_takes_nothing(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    target = Target(local_engine, unique_name("orders"))
    release = threading.Event()
    reached = threading.Event()
    original = dynamodb_models.DynamoDBBackend.put_item

    def put_item(self: Any, table_name: str, item_attrs: dict[str, Any], *a: Any, **kw: Any) -> Any:
        pk = str((item_attrs.get("pk") or {}).get("S", ""))
        if pk == f"LOCK#{target.name}:live" and not reached.is_set():
            reached.set()
            release.wait(30)
        return original(self, table_name, item_attrs, *a, **kw)

    dynamodb_models.DynamoDBBackend.put_item = put_item
    try:
        arn = rollouts.start(
            {"functionName": target.name, "alias": "live", "version": "2", "strategy": "AllAtOnce"}
        )
        assert reached.wait(30)
        local_engine.client("stepfunctions").stop_execution(executionArn=arn)
        assert rollouts.wait(arn).status == "ABORTED"
        eventually(
            lambda: rollout_record(local_engine, rollout_id(arn)) is not None,
            "the release's tombstone",
        )
        release.set()
        threading.Event().wait(1.5)
    finally:
        dynamodb_models.DynamoDBBackend.put_item = original

    saved = rollout_record(local_engine, rollout_id(arn))
    assert saved is not None and saved["status"] != "RUNNING"
    assert alias_lock(local_engine, target.name) is None
    assert target.alias() == ("1", {})
    # The alias is free: the next rollout goes ahead.
    assert (
        rollouts.run(
            {"functionName": target.name, "alias": "live", "version": "2", "strategy": "AllAtOnce"}
        ).status
        == "SUCCEEDED"
    )


# -- 4. the baseline cannot vanish --
def test_the_baseline_is_pinned_so_pruning_cannot_delete_it(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    post = create_hook(
        local_engine,
        unique_name("prune-then-fail"),
        "import boto3\ndef handler(event, context):\n"
        "    lam = boto3.client('lambda')\n"
        "    try:\n"
        "        lam.delete_function(FunctionName=event['functionName'],"
        " Qualifier=event['fromVersion'])\n"
        "        pruned = 'deleted'\n"
        "    except lam.exceptions.ResourceConflictException as error:\n"
        "        pruned = 'refused'\n"
        "    return {'status': 'Failed', 'reason': 'pruning ' + pruned}\n",
    )

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "AllAtOnce",
            "hooks": {"postTraffic": post},
        }
    )

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and "pruning refused" in ended.cause
    assert target.alias() == ("1", {})
    assert "1" in target.versions()
    assert aliases_of(target) == ["live"]  # the pin is gone with the rollout
    assert alias_lock(local_engine, target.name) is None


def test_a_rollback_made_impossible_still_ends_and_says_so(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    post = create_hook(
        local_engine,
        unique_name("vandal"),
        "import boto3\ndef handler(event, context):\n"
        "    lam = boto3.client('lambda')\n"
        "    for alias in lam.list_aliases(FunctionName=event['functionName'])['Aliases']:\n"
        "        if alias['Name'] != event['alias']:\n"
        "            lam.delete_alias(FunctionName=event['functionName'], Name=alias['Name'])\n"
        "    lam.delete_function(FunctionName=event['functionName'],"
        " Qualifier=event['fromVersion'])\n"
        "    return {'status': 'Failed', 'reason': 'baseline deleted'}\n",
    )

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "AllAtOnce",
            "hooks": {"postTraffic": post},
        }
    )

    assert (ended.status, ended.error) == ("FAILED", "RollbackFailed")
    assert ended.cause is not None and "version 1" in ended.cause
    assert target.alias() == ("2", {})
    saved = rollout_record(local_engine, rollout_id(ended.arn))
    assert saved is not None and saved["status"] == "ROLLBACK_FAILED"
    assert alias_lock(local_engine, target.name) is None
    # The alias is not held forever: the next rollout goes ahead.
    again = rollouts.run(
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": "AllAtOnce"}
    )
    assert again.status == "SUCCEEDED", again.cause


# -- 5. one rule for "is the alias still ours" --
def test_a_description_only_update_then_a_stop_still_restores_the_baseline(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    time_scale(0.01)
    arn = rollouts.start(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent30Minutes",
        }
    )
    eventually(lambda: target.alias() == ("1", {"2": 0.1}), "the first step")
    target.lam.update_alias(FunctionName=target.name, Name="live", Description="on call notes")
    local_engine.client("stepfunctions").stop_execution(executionArn=arn)
    assert rollouts.wait(arn).status == "ABORTED"
    eventually(release_ended(local_engine, rollout_id(arn)), "the cleanup after the stop")

    assert target.alias() == ("1", {})
    saved = rollout_record(local_engine, rollout_id(arn))
    assert saved is not None and saved["status"] == "ROLLED_BACK"


# -- 6. a stale-lock takeover is one conditional write, before any cleanup ---------------------
def test_racing_takeovers_of_a_stale_lock_leave_one_winner_and_no_false_drift(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"))
    events = local_engine.client("events")
    rules = [
        r["Name"]
        for r in events.list_rules()["Rules"]
        if any(
            "ReleaseRolloutFunction" in t["Arn"]
            for t in events.list_targets_by_rule(Rule=r["Name"])["Targets"]
        )
    ]
    time_scale(0.01)
    first = rollouts.start(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent30Minutes",
        }
    )
    eventually(lambda: target.alias() == ("1", {"2": 0.1}), "the first step")
    events.disable_rule(Name=rules[0])
    try:
        local_engine.client("stepfunctions").stop_execution(executionArn=first)
        assert rollouts.wait(first).status == "ABORTED"
    finally:
        events.enable_rule(Name=rules[0])
    time_scale(0.0)

    request = {
        "functionName": target.name,
        "alias": "live",
        "version": "2",
        "strategy": "AllAtOnce",
    }
    arns = [rollouts.start(request) for _ in range(3)]
    ended = [rollouts.wait(arn) for arn in arns]

    outcomes = sorted((e.status, e.error or "") for e in ended)
    assert outcomes.count(("SUCCEEDED", "")) == 1, outcomes
    assert all(e.error in (None, "RolloutInProgress") for e in ended), outcomes
    assert target.alias() == ("2", {})
    assert alias_lock(local_engine, target.name) is None


# -- 7. a hook runs once per lifecycle event --
def test_a_hook_runs_once_when_the_record_write_after_it_is_retried(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    target = Target(local_engine, unique_name("orders"))
    calls = Path(local_engine.root) / ".pytest_cache" / unique_name("hook-calls")
    calls.parent.mkdir(exist_ok=True)
    pre = create_hook(
        local_engine,
        unique_name("counted"),
        "def handler(event, context):\n"
        f"    with open({str(calls)!r}, 'a') as f:\n"
        "        f.write(event['lifecycleEvent'] + '\\n')\n"
        "    return {'status': 'Succeeded'}\n",
    )
    original = dynamodb_models.DynamoDBBackend.update_item
    failed: list[str] = []

    def update_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        names = json.dumps(kwargs.get("expression_attribute_names") or {})
        if "hookPreTraffic" in names and not failed:
            failed.append("once")
            # The emulator answers HTTP 500: a transient failure the state machine retries.
            raise RuntimeError("injected: the record write after the hook failed")
        return original(self, *args, **kwargs)

    dynamodb_models.DynamoDBBackend.update_item = update_item
    try:
        ended = rollouts.run(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": "AllAtOnce",
                "hooks": {"preTraffic": pre},
            }
        )
    finally:
        dynamodb_models.DynamoDBBackend.update_item = original

    assert failed == ["once"]
    assert calls.read_text().splitlines() == ["PreTraffic"]
    assert ended.status == "SUCCEEDED", ended.cause


# -- 8. a bounded record --
def test_the_record_stays_far_below_the_item_limit_with_many_long_alarms(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    target = Target(local_engine, unique_name("orders"))
    prefix = unique_name("a")
    names = [create_alarm(local_engine, f"{prefix}-{i:02d}-".ljust(255, "x")) for i in range(25)]
    largest = [0]
    original = dynamodb_models.DynamoDBBackend.update_item

    def update_item(self: Any, table_name: str, key: dict[str, Any], *a: Any, **kw: Any) -> Any:
        answer = original(self, table_name, key, *a, **kw)
        item = self.get_item(table_name, key)
        if item is not None and str(key.get("pk", {}).get("S", "")).startswith("ROLLOUT#"):
            largest[0] = max(largest[0], item.size())
        return answer

    dynamodb_models.DynamoDBBackend.update_item = update_item
    try:
        ended = rollouts.run(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": {"steps": [{"weight": 10, "bakeSeconds": 100 * 60}]},
                "checkIntervalSeconds": 60,
                "alarms": names,
            },
            timeout=300,
        )
    finally:
        dynamodb_models.DynamoDBBackend.update_item = original

    assert ended.status == "SUCCEEDED", ended.cause
    saved = rollout_record(local_engine, rollout_id(ended.arn))
    assert saved is not None and int(saved["checkCount"]) == 100
    print(f"largest record: {largest[0]} bytes")
    assert 0 < largest[0] < 100_000


# -- 9. a last look before success --
def test_an_alias_repointed_during_the_post_traffic_hook_is_drift_not_success(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    unique_name: Callable[[str], str],
) -> None:
    from rollouts_cli.local.samples import publish

    target = Target(local_engine, unique_name("orders"))
    publish(target.lam, target.name, "def handler(e, c):\n    return 3\n")
    post = create_hook(
        local_engine,
        unique_name("repoint"),
        "import boto3\ndef handler(event, context):\n"
        "    boto3.client('lambda').update_alias(FunctionName=event['functionName'],"
        " Name=event['alias'], FunctionVersion='3')\n"
        "    return {'status': 'Succeeded'}\n",
    )

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "AllAtOnce",
            "hooks": {"postTraffic": post},
        }
    )

    assert (ended.status, ended.error) == ("FAILED", "AliasDrift")
    assert target.alias() == ("3", {})
    saved = rollout_record(local_engine, rollout_id(ended.arn))
    assert saved is not None and saved["status"] == "DRIFTED"
    assert alias_lock(local_engine, target.name) is None


# -- 10. any input shape --
@pytest.mark.parametrize(
    "execution_input",
    [
        pytest.param([1, 2], id="list"),
        pytest.param(None, id="null"),
        pytest.param("orders-api", id="string"),
        pytest.param(7, id="number"),
        pytest.param({"functionName": "x" * 100_000, "alias": "live"}, id="100-kb-value"),
    ],
)
def test_any_input_is_refused_as_a_validation_error_with_a_short_cause(
    local_engine: LocalEngine, rollouts: Rollouts, execution_input: Any
) -> None:
    ended = rollouts.run(execution_input)

    assert (ended.status, ended.error) == ("FAILED", "ValidationError")
    assert ended.cause is not None and 0 < len(ended.cause) < 32_768
    assert "x" * 1_000 not in ended.cause


# -- 12. PublishVersion publishes exactly the code asked for --
def test_a_code_sha256_that_still_matches_latest_is_published(
    local_engine: LocalEngine, rollouts: Rollouts, unique_name: Callable[[str], str]
) -> None:
    target = Target(local_engine, unique_name("orders"), second="upload")
    sha = target.lam.get_function_configuration(FunctionName=target.name)["CodeSha256"]

    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "strategy": "AllAtOnce", "codeSha256": sha}
    )

    assert ended.status == "SUCCEEDED", ended.cause
    assert target.versions() == ["1", "2"]
    assert target.alias() == ("2", {})


def test_a_code_sha256_that_latest_no_longer_holds_is_refused_and_nothing_is_published(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    import base64
    import hashlib

    target = Target(local_engine, unique_name("orders"), second="upload")
    # The code the triggering update uploaded; someone uploaded other code since.
    stale = base64.b64encode(hashlib.sha256(b"the code of the update").digest()).decode()

    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "strategy": "AllAtOnce", "codeSha256": stale}
    )

    assert (ended.status, ended.error) == ("FAILED", "ValidationError")
    assert ended.cause is not None and ended.cause.startswith("codeSha256:")
    assert stale in ended.cause
    assert target.versions() == ["1"]
    assert alias_writes.routes(target.name, "live") == []
    assert alias_lock(local_engine, target.name) is None
    assert aliases_of(target) == ["live"]


# -- 11. the Lambda service's transient task errors are retried --
@pytest.mark.parametrize(
    ("kind", "error"),
    [
        pytest.param("throttle", "Lambda.TooManyRequestsException", id="throttled"),
        pytest.param("server-error", "Lambda.ServiceException", id="service-exception"),
        pytest.param("read-timeout", "Lambda.SdkClientException", id="sdk-client-exception"),
    ],
)
def test_a_lambda_service_error_invoking_a_task_is_retried(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    unique_name: Callable[[str], str],
    kind: str,
    error: str,
) -> None:
    from rollouts_cli.local.faults import STATES, FaultKind, FaultPoint, faults

    target = Target(local_engine, unique_name("orders"))
    point = FaultPoint("lambda", "Invoke", STATES, 1)
    with faults.injecting(
        point, FaultKind(kind), params_contain="lambda-rollouts-ShiftTraffic"
    ) as fault:
        ended = rollouts.run(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": "Canary10Percent5Minutes",
            }
        )

    assert fault.fired
    assert ended.status == "SUCCEEDED", ended.cause
    failed = [
        e["lambdaFunctionFailedEventDetails"]["error"]
        for e in ended.history
        if e["type"] == "LambdaFunctionFailed"
    ]
    assert failed == [error]
    assert target.alias() == ("2", {})


def test_a_task_timed_out_inside_lambda_is_retried(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    unique_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rollouts_cli.local import engine as engine_module
    from rollouts_cli.local.runtime import Invocation

    target = Target(local_engine, unique_name("orders"))
    original = engine_module._runtime.invoke
    timed_out: list[str] = []

    def invoke(handler: Any, event: Any, context: Any, environment: Any) -> Invocation:
        if "ShiftTraffic" in context.function_name and not timed_out:
            timed_out.append(context.function_name)
            message = f"Task timed out after {context.timeout_seconds:.2f} seconds"
            body = json.dumps({"errorMessage": message, "errorType": "Sandbox.Timedout"})
            return Invocation(payload=body, errored=True, logs=message)
        return original(handler, event, context, environment)

    monkeypatch.setattr(engine_module._runtime, "invoke", invoke)
    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent5Minutes",
        }
    )

    assert timed_out
    assert ended.status == "SUCCEEDED", ended.cause
    assert target.alias() == ("2", {})


# ---------------------------------------------------------------------------------------------
# F2 on the real state machine: an alarm fires at the first step, RollBack runs, and the
# on-call engineer annotates the alias in the console while it does (same routing).
# ---------------------------------------------------------------------------------------------
def test_e2e_an_alias_annotated_during_the_rollback_still_ends_on_the_baseline(
    local_engine: Any, rollouts: Any, time_scale: Any, unique_name: Any
) -> None:
    from moto.awslambda import responses as lambda_responses

    from rollouts_cli.local.pytest_plugin import Target, eventually

    target = Target(local_engine, unique_name("orders"))
    cloudwatch = local_engine.client("cloudwatch")
    name = unique_name("orders-errors")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    original = lambda_responses.LambdaResponse.update_alias
    lam = local_engine.client("lambda")
    annotated = threading.Event()

    def update_alias(self: Any) -> Any:
        body = json.loads(self.body or "{}")
        weights = (body.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
        rollback = body.get("FunctionVersion") == "1" and not weights and body.get("RevisionId")
        if f"/functions/{target.name}/" in self.path and rollback and not annotated.is_set():
            annotated.set()  # the engineer's own request (no RevisionId) passes through
            lam.update_alias(FunctionName=target.name, Name="live", Description="investigating")
        return original(self)

    time_scale(0.01)
    lambda_responses.LambdaResponse.update_alias = update_alias
    try:
        arn = rollouts.start(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": "Canary10Percent30Minutes",
                "alarms": [name],
                "checkIntervalSeconds": 60,
            }
        )
        eventually(lambda: target.alias() == ("1", {"2": 0.1}), "the first step")
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="errors")
        ended = rollouts.wait(arn)
    finally:
        lambda_responses.LambdaResponse.update_alias = original

    assert annotated.is_set()
    assert target.alias() == ("1", {}), f"{ended.error}: {ended.cause}"
    assert (ended.status, ended.error) == ("FAILED", "RolledBack"), ended.cause
