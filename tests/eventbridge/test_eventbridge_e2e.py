"""Rollouts started by EventBridge, and the status events they put, on the local engine.

The engine deploys template.yaml with its rules, and delivers rule targets:
a PutEvents that matches the start function's rules invokes it (asynchronously,
as on AWS), and a rule with an SQS target receives the status events.

One gap, stated in the README: the emulator emits no CloudTrail events, so
``UpdateFunctionCode`` is followed here by a PutEvents of the event CloudTrail
would put (events/eventbridge/cloudtrail-update-function-code.json, naming the
function). On AWS a PutEvents with an ``aws.*`` source is refused; the emulator
accepts it, which is what lets this test stand in for CloudTrail. That the
rule's pattern matches CloudTrail's real event is tested on the samples in
tests/template/test_eventbridge.py.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rollouts import triggers
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.pytest_plugin import (
    V2,
    AliasWrites,
    Rollouts,
    StatusEvents,
    Target,
    eventually,
)
from rollouts_cli.local.samples import create_function, publish, update_code

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "eventbridge"
POLL_SECONDS = 30.0

HOOK_FAILS = (
    "def handler(event, context):\n"
    "    return {'status': 'Failed', 'reason': 'smoke test got HTTP 500'}\n"
)


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


def put_event(
    engine: LocalEngine,
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    bus: str = "default",
) -> None:
    entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
    answer = engine.client("events").put_events(Entries=[{**entry, "EventBusName": bus}])
    assert answer["FailedEntryCount"] == 0, answer


def cloudtrail_code_update(engine: LocalEngine, target: Target) -> str:
    """What CloudTrail puts on the default bus after UpdateFunctionCode (see the module doc).

    Its responseElements are UpdateFunctionCode's answer: the CodeSha256 of the code
    it uploaded, which $LATEST holds now. Returns that CodeSha256.
    """
    event = copy.deepcopy(sample("cloudtrail-update-function-code.json"))
    detail = event["detail"]
    code_sha256 = str(
        target.lam.get_function(FunctionName=target.name)["Configuration"]["CodeSha256"]
    )
    detail["requestParameters"]["functionName"] = target.name
    detail["responseElements"].update(
        functionName=target.name, functionArn=target.arn, codeSha256=code_sha256
    )
    put_event(engine, event["source"], event["detail-type"], detail)
    return code_sha256


def started_by_rule(engine: LocalEngine, function: str, alias: str = "live") -> str:
    """The ARN of the one execution the start function began for ``function:alias``."""
    sfn = engine.client("stepfunctions")

    def find() -> list[str]:
        executions = sfn.list_executions(stateMachineArn=engine.info.state_machine_arn)
        return [
            e["executionArn"]
            for e in executions["executions"]
            if e["name"].startswith(f"{function}-{alias}-")
        ]

    (arn,) = eventually(find, f"an execution for {function}:{alias}")
    return str(arn)


def executions_of(engine: LocalEngine, function: str) -> list[str]:
    executions = engine.client("stepfunctions").list_executions(
        stateMachineArn=engine.info.state_machine_arn
    )
    return [e["name"] for e in executions["executions"] if e["name"].startswith(f"{function}-")]


def rollout_id(arn: str) -> str:
    return arn.rsplit(":", 1)[1]


# -- (a) a "Rollout Requested" custom event ------------------------------------------------
def test_a_rollout_requested_event_starts_a_rollout_named_for_what_it_moves(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
) -> None:
    target = Target(local_engine, unique_name("orders"), second=None)
    publish(target.lam, target.name, V2)

    put_event(
        local_engine,
        "lambda-rollouts",
        "Rollout Requested",
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent5Minutes",
        },
        bus=local_engine.info.request_bus_name,
    )
    ended = rollouts.wait(started_by_rule(local_engine, target.name), timeout=POLL_SECONDS)

    assert re.fullmatch(rf"{target.name}-live-v2-[0-9a-f]{{8}}", rollout_id(ended.arn))
    assert (ended.status, ended.error) == ("SUCCEEDED", None)
    assert target.alias() == ("2", {})
    assert alias_writes.routes(target.name, "live") == [("1", {"2": 10}), ("2", {})]


def test_a_bad_rollout_requested_event_is_refused_on_the_bus_and_starts_nothing(
    local_engine: LocalEngine,
    unique_name: Callable[[str], str],
    status_events: Callable[[str], StatusEvents],
) -> None:
    target = Target(local_engine, unique_name("orders"), second=None)
    publish(target.lam, target.name, V2)
    team = status_events(target.name)

    put_event(
        local_engine,
        "lambda-rollouts",
        "Rollout Requested",
        {"functionName": target.name, "alias": "live", "version": "2", "strategy": "Fast"},
        bus=local_engine.info.request_bus_name,
    )

    (refused,) = team.of(None, until="refused")
    assert refused["reason"].startswith("strategy: ")
    assert (refused["functionName"], refused["alias"], refused["toVersion"]) == (
        target.name,
        "live",
        "2",
    )
    assert executions_of(local_engine, target.name) == []
    assert target.alias() == ("1", {})


# -- (b) automatic rollouts of tagged functions ---------------------------------------------
@pytest.mark.parametrize(
    ("tags", "routes"),
    [
        pytest.param(
            {"rollouts:alias": "live", "rollouts:strategy": "AllAtOnce"},
            [("2", {})],
            id="all-at-once",
        ),
        pytest.param(
            {"rollouts:alias": "live"}, [("1", {"2": 10}), ("2", {})], id="default-canary"
        ),
    ],
)
def test_a_tagged_functions_code_update_rolls_out_its_latest(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    unique_name: Callable[[str], str],
    tags: dict[str, str],
    routes: list[tuple[str, dict[str, int]]],
) -> None:
    target = Target(local_engine, unique_name("tagged"), second=None, tags=tags)
    update_code(target.lam, target.name, V2)

    code_sha256 = cloudtrail_code_update(local_engine, target)
    arn = started_by_rule(local_engine, target.name)
    ended = rollouts.wait(arn, timeout=POLL_SECONDS)

    execution = local_engine.client("stepfunctions").describe_execution(executionArn=arn)
    assert json.loads(execution["input"])["codeSha256"] == code_sha256  # exactly that code

    assert re.fullmatch(rf"{target.name}-live-latest-[0-9a-f]{{8}}", rollout_id(ended.arn))
    assert (ended.status, ended.error) == ("SUCCEEDED", None)
    assert ended.output is not None and ended.output["toVersion"] == "2"
    assert target.versions() == ["1", "2"]  # $LATEST was published as version 2
    assert target.alias() == ("2", {})
    assert alias_writes.routes(target.name, "live") == routes
    invoked = target.lam.invoke(FunctionName=target.name, Qualifier="live")
    assert invoked["Payload"].read() == b'{"version": "two"}'


def test_an_untagged_functions_code_update_starts_nothing(
    local_engine: LocalEngine,
    unique_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = Target(local_engine, unique_name("untagged"), second=None)
    update_code(target.lam, target.name, V2)
    # The start function runs in this process: watch what it decides for each function.
    decided: dict[str, Any] = {}
    original = triggers.request_from_tags

    def spy(function_name: str, tags: Any, code_sha256: str | None = None) -> Any:
        decided[function_name] = original(function_name, tags, code_sha256)
        return decided[function_name]

    monkeypatch.setattr(triggers, "request_from_tags", spy)

    cloudtrail_code_update(local_engine, target)

    eventually(lambda: target.name in decided, f"the start function looking at {target.name}")
    assert decided[target.name] is None  # so it returned without starting anything
    assert executions_of(local_engine, target.name) == []
    assert target.versions() == ["1"]
    assert target.alias() == ("1", {})


# -- (c) status events --------------------------------------------------------------------
def test_a_canary_that_succeeds_puts_started_shifted_promoted_succeeded(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    unique_name: Callable[[str], str],
    status_events: Callable[[str], StatusEvents],
) -> None:
    target = Target(local_engine, unique_name("orders"), second=None)
    publish(target.lam, target.name, V2)
    team = status_events(target.name)

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent5Minutes",
        },
        timeout=POLL_SECONDS,
    )
    details = team.of(rollout_id(ended.arn), until="succeeded")

    assert ended.status == "SUCCEEDED"
    assert [(d["phase"], d["step"], d["weight"]) for d in details] == [
        ("started", 0, 0),
        ("shifted", 1, 10),
        ("promoted", 1, 100),
        ("succeeded", 1, 100),
    ]
    assert {(d["fromVersion"], d["toVersion"], d["stepCount"]) for d in details} == {("1", "2", 1)}
    assert {d["executionArn"] for d in details} == {ended.arn}
    assert {d["strategy"] for d in details} == {"Canary10Percent5Minutes"}
    assert list(details[0]) == list(sample("status-started.json")["detail"])


def test_a_failing_pre_traffic_hook_puts_started_then_rolled_back(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    unique_name: Callable[[str], str],
    status_events: Callable[[str], StatusEvents],
) -> None:
    target = Target(local_engine, unique_name("orders"), second=None)
    publish(target.lam, target.name, V2)
    hook = unique_name("orders-pre")
    create_function(target.lam, local_engine.client("iam"), hook, HOOK_FAILS)
    team = status_events(target.name)

    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent5Minutes",
            "hooks": {"preTraffic": hook},
        },
        timeout=POLL_SECONDS,
    )
    details = team.of(rollout_id(ended.arn), until="rolled-back")

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert [d["phase"] for d in details] == ["started", "rolled-back"]
    assert hook in details[-1]["reason"] and "smoke test got HTTP 500" in details[-1]["reason"]
    assert details[-1]["weight"] == 0


def test_bad_input_through_start_execution_puts_refused_naming_the_field(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    unique_name: Callable[[str], str],
    status_events: Callable[[str], StatusEvents],
) -> None:
    target = Target(local_engine, unique_name("orders"), second=None)
    team = status_events(target.name)

    ended = rollouts.run(
        {"functionName": target.name, "alias": "live", "strategy": "AllAtOnce", "version": "42"},
        timeout=POLL_SECONDS,
    )
    details = team.of(rollout_id(ended.arn), until="refused")

    assert (ended.status, ended.error) == ("FAILED", "ValidationError")
    assert [d["phase"] for d in details] == ["refused"]
    assert details[0]["reason"].startswith("version: ")
    assert details[0]["executionArn"] == ended.arn


def test_a_hand_change_mid_rollout_puts_drifted(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    time_scale: Callable[[float], None],
    unique_name: Callable[[str], str],
    status_events: Callable[[str], StatusEvents],
) -> None:
    target = Target(local_engine, unique_name("orders"), second=None)
    publish(target.lam, target.name, V2)
    publish(target.lam, target.name, "def handler(e, c):\n    return 3\n")
    team = status_events(target.name)
    time_scale(0.01)  # 30 minutes of bake: 18 s, checked every 0.6 s

    arn = rollouts.start(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "Canary10Percent30Minutes",
        }
    )
    eventually(lambda: target.alias() == ("1", {"2": 0.1}), "the canary step")
    target.lam.update_alias(
        FunctionName=target.name,
        Name="live",
        FunctionVersion="3",
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    ended = rollouts.wait(arn, timeout=POLL_SECONDS)
    details = team.of(rollout_id(arn), until="drifted")

    assert (ended.status, ended.error) == ("FAILED", "AliasDrift")
    assert [d["phase"] for d in details] == ["started", "shifted", "drifted"]
    assert "version 3" in details[-1]["reason"]
    assert target.alias() == ("3", {})


def test_a_refusal_by_the_cli_is_printed_not_put_on_the_status_bus(
    local_engine: LocalEngine,
    unique_name: Callable[[str], str],
    status_events: Callable[[str], StatusEvents],
) -> None:
    """Only the control plane's roles may put on the status bus: the CLI's caller may not."""
    from click.testing import CliRunner

    from rollouts_cli.cli import main

    target = Target(local_engine, unique_name("orders"), second=None)
    team = status_events(target.name)

    result = CliRunner().invoke(
        main,
        [
            "start",
            "--endpoint-url",
            local_engine.endpoint,
            "--output",
            "json",
            "--function",
            target.name,
            "--alias",
            "live",
            "--strategy",
            "AllAtOnce",
            "--check-interval",
            "0",
        ],
    )
    # Then the control plane refuses a request of its own: the first refusal on the bus.
    put_event(
        local_engine,
        "lambda-rollouts",
        "Rollout Requested",
        {"functionName": target.name, "alias": "live", "strategy": "Fast"},
        bus=local_engine.info.request_bus_name,
    )
    details = team.of(None, until="refused")

    assert result.exit_code == 4
    assert "checkIntervalSeconds" in [f["field"] for f in json.loads(result.stdout)["fields"]]
    assert [d["phase"] for d in details] == ["refused"]
    assert details[0]["reason"].startswith("strategy: ")


def test_a_rollout_requested_event_on_the_default_bus_starts_nothing(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    unique_name: Callable[[str], str],
) -> None:
    """Any application role may put on the default bus: requests are heard on their own bus."""
    ignored = Target(local_engine, unique_name("orders"), second=None)
    heard = Target(local_engine, unique_name("orders"), second=None)
    publish(ignored.lam, ignored.name, V2)
    publish(heard.lam, heard.name, V2)
    request = {"alias": "live", "version": "2", "strategy": "AllAtOnce"}

    put_event(
        local_engine,
        "lambda-rollouts",
        "Rollout Requested",
        {**request, "functionName": ignored.name},
    )
    put_event(
        local_engine,
        "lambda-rollouts",
        "Rollout Requested",
        {**request, "functionName": heard.name},
        bus=local_engine.info.request_bus_name,
    )
    ended = rollouts.wait(started_by_rule(local_engine, heard.name), timeout=POLL_SECONDS)

    assert ended.status == "SUCCEEDED"
    assert executions_of(local_engine, ignored.name) == []
    assert ignored.alias() == ("1", {})
