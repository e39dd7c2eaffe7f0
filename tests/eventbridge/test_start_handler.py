"""functions/start_rollout: the handler parses each EventBridge event and does what it asks.

No network: the AWS edge is in-memory fakes (Step Functions, Lambda, the lock
table, the status bus) handed to the handler through ``Clients``. The real
path through the emulator is in test_eventbridge_e2e.py.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rollouts.errors import TransientError
from rollouts.notify import StatusEvents
from rollouts.store import RolloutStore
from rollouts_cli.local.runtime import LambdaContext

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "eventbridge"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:lambda-rollouts"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"
EXECUTION_PREFIX = STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:") + ":"
POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME": "lambda-rollouts",
    "POWERTOOLS_METRICS_NAMESPACE": "LambdaRollouts",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} here"}}, operation)


# -- in-memory fakes of the AWS edge -------------------------------------------------------
@dataclass
class FakeStepFunctions:
    started: list[dict[str, Any]] = field(default_factory=list)

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:  # noqa: N803
        self.started.append({"name": name, "input": json.loads(input)})
        return {
            "executionArn": stateMachineArn.replace(":stateMachine:", ":execution:") + f":{name}"
        }


@dataclass
class FakeLambda:
    """Functions by name, each with its tags; ``fail_with`` makes every call fail."""

    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    fail_with: str | None = None
    calls: list[str] = field(default_factory=list)

    def get_function(self, FunctionName: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append(f"GetFunction {FunctionName}")
        if self.fail_with:
            raise client_error(self.fail_with, "GetFunction")
        name = FunctionName.split(":function:")[-1]
        if name not in self.tags:
            raise client_error("ResourceNotFoundException", "GetFunction")
        return {"Configuration": {"FunctionName": name, "FunctionArn": FUNCTION_ARN[:-10] + name}}

    def list_tags(self, Resource: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append(f"ListTags {Resource}")
        return {"Tags": self.tags[Resource.split(":function:")[-1]]}


@dataclass
class FakeTable:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get_item(self, Key: dict[str, str], ConsistentRead: bool = False) -> dict[str, Any]:  # noqa: N803
        found = self.items.get(Key["pk"])
        return {"Item": found} if found else {}


@dataclass
class FakeBus:
    entries: list[dict[str, Any]] = field(default_factory=list)

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}

    def details(self) -> list[dict[str, Any]]:
        return [json.loads(entry["Detail"]) for entry in self.entries]


@dataclass
class Edge:
    sfn: FakeStepFunctions
    lambda_: FakeLambda
    table: FakeTable
    bus: FakeBus


@pytest.fixture(scope="module")
def app() -> ModuleType:
    """functions/start_rollout/app.py, loaded as a module of its own."""
    name = "functions_start_rollout_app"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, ROOT / "functions" / "start_rollout" / "app.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        # Powertools reads its namespace and service when the module makes its Metrics.
        with pytest.MonkeyPatch.context() as patch:
            for key, value in POWERTOOLS.items():
                patch.setenv(key, value)
            spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def edge(app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Edge:
    for key, value in POWERTOOLS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AUTOMATIC_ROLLOUTS", "Enabled")
    fakes = Edge(
        FakeStepFunctions(),
        FakeLambda(tags={"orders-api": {"rollouts:alias": "live"}, "untagged": {}}),
        FakeTable(),
        FakeBus(),
    )
    clients = app.Clients(
        sfn=fakes.sfn,
        lambda_=fakes.lambda_,
        store=RolloutStore(fakes.table),
        events=StatusEvents(fakes.bus, "default"),
        state_machine_arn=STATE_MACHINE_ARN,
    )
    monkeypatch.setattr(app.Clients, "from_environment", classmethod(lambda cls: clients))
    return fakes


def handle(app: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    context = LambdaContext(
        function_name="lambda-rollouts-StartRolloutFunction",
        function_version="$LATEST",
        invoked_function_arn=FUNCTION_ARN.replace("orders-api", "StartRolloutFunction"),
        memory_limit_in_mb=256,
        timeout_seconds=30,
        log_group_name="/aws/lambda/StartRolloutFunction",
    )
    answer: dict[str, Any] = app.lambda_handler(event, context)
    return answer


def code_update(function_name: str) -> dict[str, Any]:
    event = copy.deepcopy(sample("cloudtrail-update-function-code.json"))
    event["detail"]["requestParameters"]["functionName"] = function_name
    return event


def requested(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(sample("rollout-requested.json"))
    for key, value in changes.items():
        if value is None:
            event["detail"].pop(key)
        else:
            event["detail"][key] = value
    return event


# -- Rollout Requested -----------------------------------------------------------------------
def test_a_rollout_requested_event_starts_its_detail_with_a_readable_name(
    app: ModuleType, edge: Edge
) -> None:
    event = sample("rollout-requested.json")

    answer = handle(app, event)

    (started,) = edge.sfn.started
    assert started["input"] == event["detail"]
    assert started["name"].startswith("orders-api-live-v7-")
    assert answer == {
        "started": True,
        "rolloutId": started["name"],
        "executionArn": EXECUTION_PREFIX + started["name"],
        "status": "RUNNING",
    }
    assert edge.bus.entries == []  # the state machine announces "started" itself


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"strategy": "Canary10Percent"}, "strategy", id="bad-strategy"),
        pytest.param({"alias": None}, "alias", id="missing-alias"),
        pytest.param({"stratgey": "AllAtOnce"}, "stratgey", id="unknown-field"),
    ],
)
def test_bad_input_is_refused_announced_and_not_raised(
    app: ModuleType, edge: Edge, changes: dict[str, Any], field: str
) -> None:
    answer = handle(app, requested(**changes))

    assert edge.sfn.started == []
    assert answer["started"] is False and answer["error"] == "ValidationError"
    assert answer["reason"].startswith(f"{field}: ")
    (refused,) = edge.bus.details()
    assert refused["phase"] == "refused"
    assert refused["reason"] == answer["reason"]
    assert (refused["functionName"], refused["rolloutId"]) == ("orders-api", None)
    assert edge.bus.entries[0]["DetailType"] == "Rollout Status Change"


def test_a_function_outside_the_stacks_prefix_is_refused_before_anything(
    app: ModuleType, edge: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TARGET_FUNCTION_PREFIX", "payments-")

    answer = handle(app, requested())

    assert answer["started"] is False and answer["error"] == "ValidationError"
    assert answer["reason"].startswith("functionName: orders-api is outside the functions")
    assert "TargetFunctionNamePrefix" in answer["reason"]
    assert edge.sfn.started == []
    assert [d["phase"] for d in edge.bus.details()] == ["refused"]


def test_a_detail_that_is_not_an_object_is_refused(app: ModuleType, edge: Edge) -> None:
    event = requested()
    event["detail"] = {}

    answer = handle(app, event)

    assert answer["error"] == "ValidationError"
    assert edge.bus.details()[0]["functionName"] is None


def test_a_busy_alias_is_refused_naming_the_holder(app: ModuleType, edge: Edge) -> None:
    edge.table.items["LOCK#orders-api:live"] = {
        "rolloutId": "orders-api-live-v6-0a0b0c0d",
        "acquiredAt": "2026-01-01T00:00:00+00:00",
    }

    answer = handle(app, requested())

    assert edge.sfn.started == []
    assert answer["error"] == "RolloutInProgress"
    assert "orders-api-live-v6-0a0b0c0d" in answer["reason"]
    assert [d["phase"] for d in edge.bus.details()] == ["refused"]


# -- UpdateFunctionCode through CloudTrail ------------------------------------------------------
def test_a_tagged_functions_code_update_rolls_out_its_latest(app: ModuleType, edge: Edge) -> None:
    edge.lambda_.tags["orders-api"] = {
        "rollouts:alias": "live",
        "rollouts:strategy": "AllAtOnce",
        "rollouts:alarms": "orders-errors",
    }

    answer = handle(app, sample("cloudtrail-update-function-code.json"))

    (started,) = edge.sfn.started
    assert started["input"] == {
        "functionName": "orders-api",
        "alias": "live",
        "strategy": "AllAtOnce",
        "alarms": ["orders-errors"],
        # responseElements.codeSha256: publish exactly the code this call uploaded
        "codeSha256": "3Uq0pK8yZr3nW1v9mX2cT7bE6hJ4sL5dA0fG8kQ1wYo=",
    }
    assert started["name"].startswith("orders-api-live-latest-")
    assert answer["started"] is True


@pytest.mark.parametrize("setting", ["Disabled", None])
def test_a_code_update_starts_nothing_unless_the_stack_opted_in(
    app: ModuleType, edge: Edge, monkeypatch: pytest.MonkeyPatch, setting: str | None
) -> None:
    if setting is None:
        monkeypatch.delenv("AUTOMATIC_ROLLOUTS")
    else:
        monkeypatch.setenv("AUTOMATIC_ROLLOUTS", setting)

    answer = handle(app, code_update("orders-api"))

    assert answer == {
        "started": False,
        "ignored": "automatic rollouts are off (the stack's AutomaticRollouts parameter)",
    }
    assert edge.sfn.started == []
    assert edge.lambda_.calls == []  # not even its tags were read
    assert edge.bus.entries == []


def test_a_code_update_without_its_response_rolls_out_latest_unpinned(
    app: ModuleType, edge: Edge
) -> None:
    edge.lambda_.tags["orders-api"] = {"rollouts:alias": "live"}
    event = code_update("orders-api")
    event["detail"]["responseElements"] = None

    handle(app, event)

    (started,) = edge.sfn.started
    assert "codeSha256" not in started["input"]


def test_a_dry_run_of_a_code_update_starts_nothing(app: ModuleType, edge: Edge) -> None:
    edge.lambda_.tags["orders-api"] = {"rollouts:alias": "live"}
    event = code_update("orders-api")
    event["detail"]["requestParameters"]["dryRun"] = True

    answer = handle(app, event)

    assert edge.sfn.started == [] and edge.bus.entries == []
    assert answer["started"] is False and "starts nothing" in answer["ignored"]


def test_a_function_named_by_arn_is_rolled_out_by_name(app: ModuleType, edge: Edge) -> None:
    handle(app, code_update(FUNCTION_ARN))

    (started,) = edge.sfn.started
    assert started["input"]["functionName"] == "orders-api"


@pytest.mark.parametrize(
    ("function", "fail_with", "why"),
    [
        pytest.param("untagged", None, "has no rollouts:alias tag", id="untagged"),
        pytest.param("deleted", None, "is gone", id="gone"),
        pytest.param("orders-api", "AccessDeniedException", "outside", id="outside-prefix"),
    ],
)
def test_a_code_update_that_asks_for_nothing_is_ignored(
    app: ModuleType, edge: Edge, function: str, fail_with: str | None, why: str
) -> None:
    edge.lambda_.fail_with = fail_with

    answer = handle(app, code_update(function))

    assert edge.sfn.started == [] and edge.bus.entries == []
    assert answer["started"] is False and why in answer["ignored"]


def test_a_bad_tag_is_refused_and_announced(app: ModuleType, edge: Edge) -> None:
    edge.lambda_.tags["orders-api"] = {"rollouts:alias": "live", "rollouts:strategy": "Fast"}

    answer = handle(app, sample("cloudtrail-update-function-code.json"))

    assert edge.sfn.started == []
    assert answer["error"] == "ValidationError" and answer["reason"].startswith("strategy: ")
    (refused,) = edge.bus.details()
    assert (refused["phase"], refused["functionName"], refused["alias"]) == (
        "refused",
        "orders-api",
        "live",
    )


def test_an_aws_failure_raises_so_eventbridge_retries(app: ModuleType, edge: Edge) -> None:
    edge.lambda_.fail_with = "ServiceException"

    with pytest.raises(TransientError, match="ServiceException"):
        handle(app, sample("cloudtrail-update-function-code.json"))


# -- other events ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "cloudtrail-publish-version.json",
        "cloudtrail-update-function-code-failed.json",
        "status-succeeded.json",
    ],
)
def test_an_event_no_rule_sends_is_ignored(app: ModuleType, edge: Edge, name: str) -> None:
    answer = handle(app, sample(name))

    assert answer["started"] is False and "starts nothing" in answer["ignored"]
    assert edge.sfn.started == []


def test_an_event_without_the_eventbridge_envelope_fails_parsing(
    app: ModuleType, edge: Edge
) -> None:
    from aws_lambda_powertools.utilities.parser import ValidationError as ParserValidationError

    with pytest.raises(ParserValidationError):
        handle(app, sample("rollout-requested.json")["detail"])
