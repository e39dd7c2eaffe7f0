"""The local engine as pytest fixtures (``pytest_plugins = ["rollouts_cli.local.pytest_plugin"]``).

- ``local_engine``: one engine for the session, control plane deployed, time scale 0.
- ``time_scale``: set the time scale for one test (restored after it).
- ``alias_writes``: every write to any alias, in order, as the emulator received it
  (what CloudTrail would show on AWS), to assert the weights a rollout went through.
- ``rollouts``: start an execution by the public contract and wait for its end.
- ``Target``: a sample function with alias ``live`` on version 1; ``eventually``: bounded polling.
- ``create_rollout_table``: the template's RolloutTable, for in-process moto tests.
- ``faults``: record the AWS calls tasks make, and inject a fault at one (``faults``).
- ``status_events``: a team's rule on the status bus, into a queue the test reads.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.awslambda import models as lambda_models

from rollouts_cli.local import timescale
from rollouts_cli.local.alarm_evaluation import AlarmEvaluator
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.faults import Faults
from rollouts_cli.local.faults import faults as _faults
from rollouts_cli.local.samples import create_function, publish, update_code

V1 = "def handler(event, context):\n    return {'version': 'one'}\n"
V2 = "def handler(event, context):\n    return {'version': 'two'}\n"


def create_rollout_table(dynamodb: Any, name: str) -> Any:
    """Create the RolloutTable ``template.yaml`` declares (keys and indexes read from it)."""
    from samtranslator.yaml_helper import yaml_parse

    from rollouts_cli.local.deploy import project_root

    template = yaml_parse((project_root() / "template.yaml").read_text(encoding="utf-8"))
    declared = template["Resources"]["RolloutTable"]["Properties"]
    return dynamodb.create_table(
        TableName=name,
        BillingMode=declared["BillingMode"],
        AttributeDefinitions=declared["AttributeDefinitions"],
        KeySchema=declared["KeySchema"],
        GlobalSecondaryIndexes=declared["GlobalSecondaryIndexes"],
    )


def rollout_table(engine: LocalEngine) -> Any:
    """The deployed rollout table (a boto3 ``Table``)."""
    import boto3

    return boto3.resource(
        "dynamodb",
        endpoint_url=engine.endpoint,
        region_name=engine.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).Table(engine.info.table_name)


def rollout_record(engine: LocalEngine, rollout: str) -> dict[str, Any] | None:
    """A rollout's record, read consistently (None before PrepareRollout wrote it)."""
    key = {"pk": f"ROLLOUT#{rollout}", "sk": "ROLLOUT"}
    item: dict[str, Any] | None = (
        rollout_table(engine).get_item(Key=key, ConsistentRead=True).get("Item")
    )
    return item


def alias_lock(engine: LocalEngine, function: str, alias: str = "live") -> dict[str, Any] | None:
    """The lock item of ``function:alias``, or None when no rollout holds it."""
    key = {"pk": f"LOCK#{function}:{alias}", "sk": "LOCK"}
    item: dict[str, Any] | None = (
        rollout_table(engine).get_item(Key=key, ConsistentRead=True).get("Item")
    )
    return item


def rollout_id(execution_arn: str) -> str:
    """The rollout id of an execution: its name."""
    return execution_arn.rsplit(":", 1)[1]


def baking(engine: LocalEngine, arn: str, *, held: bool | None = None) -> bool:
    """Whether the rollout's bake is waiting now (a hold, when ``held``)."""
    found = rollout_record(engine, rollout_id(arn)) or {}
    waiting = found.get("waiting") or {}
    if waiting.get("kind") != "bake":
        return False
    return held is None or bool((found.get("state") or {}).get("held")) is held


def without_aws_environment() -> dict[str, str]:
    """This process's environment without its AWS and emulator settings: what a user's
    own shell has, for a command run in a process of its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}


def stack_function(engine: LocalEngine, logical: str) -> str:
    """The physical name of one of the stack's functions ("CheckHealthFunction")."""
    names = [
        f["FunctionName"]
        for page in engine.client("lambda").get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if f"-{logical}-" in f["FunctionName"]
    ]
    if len(names) != 1:
        raise AssertionError(f"not one function of the stack is {logical}: {names}")
    return str(names[0])


def create_hook(engine: LocalEngine, name: str, source: str) -> str:
    """A hook function running ``source`` (handler ``app.handler``); returns its name."""
    create_function(engine.client("lambda"), engine.client("iam"), name, source)
    return name


def create_alarm(engine: LocalEngine, name: str) -> str:
    """A CloudWatch alarm on Lambda errors (moto starts it OK); returns its name."""
    engine.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    return name


def eventually(found: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll until ``found()`` is truthy (at most ``timeout`` seconds); return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not seen in {timeout} s")
        time.sleep(0.02)


class Target:
    """A function with alias ``live`` on version 1, and a second version of its code.

    ``second``: "publish" publishes version 2, "upload" leaves it in $LATEST,
    None uploads nothing. ``tags`` are put on the function (automatic rollouts).
    """

    def __init__(
        self,
        engine: LocalEngine,
        name: str,
        second: str | None = "publish",
        tags: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.lam = engine.client("lambda")
        create_function(self.lam, engine.client("iam"), name, V1)
        self.arn = str(self.lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
        if tags:
            self.lam.tag_resource(Resource=self.arn, Tags=tags)
        self.lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        if second == "publish":
            publish(self.lam, name, V2)
        elif second == "upload":
            update_code(self.lam, name, V2)

    def alias(self) -> tuple[str, dict[str, float]]:
        """``("1", {"2": 0.1})``: the alias's version and extra weights, read back."""
        answer = self.lam.get_alias(FunctionName=self.name, Name="live")
        weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return str(answer["FunctionVersion"]), dict(weights)

    def versions(self) -> list[str]:
        listed = self.lam.list_versions_by_function(FunctionName=self.name)["Versions"]
        return [str(v["Version"]) for v in listed if v["Version"] != "$LATEST"]


_running: list[LocalEngine] = []


@pytest.fixture(scope="session")
def local_engine() -> Iterator[LocalEngine]:
    # Tests drive alarms by hand (SetAlarmState); the ones about evaluation start their own
    # evaluator (``alarm_evaluation``), so no hand-set state is evaluated away mid-test.
    engine = LocalEngine(time_scale=0.0, evaluate_alarms=False)
    engine.start()
    _running.append(engine)
    try:
        yield engine
    finally:
        _running.remove(engine)
        engine.stop()


# moto keeps resources process-wide: a test in between that started ``mock_aws`` (it
# resets every backend) wiped the session engine's stack; these deploy it again.
@pytest.fixture(scope="module", autouse=True)
def _engine_deployed_for_module() -> None:
    """Before a module's own fixtures (autouse ones run first in their scope)."""
    if _running:
        _running[0].ensure_deployed()


@pytest.fixture(autouse=True)
def _engine_deployed_for_test(request: pytest.FixtureRequest) -> None:
    if _running and "local_engine" in request.fixturenames:
        _running[0].ensure_deployed()


@pytest.fixture
def time_scale(local_engine: LocalEngine) -> Iterator[Callable[[float], None]]:
    yield timescale.set_time_scale
    timescale.set_time_scale(0.0)


@pytest.fixture
def alarm_evaluation(local_engine: LocalEngine) -> Iterator[AlarmEvaluator]:
    """Metric alarms evaluated from their metrics, as CloudWatch does, during the test."""
    evaluator = AlarmEvaluator()
    evaluator.start()
    try:
        yield evaluator
    finally:
        evaluator.stop()


@pytest.fixture
def faults(local_engine: LocalEngine) -> Faults:
    """The process's fault injector, installed by the running engine."""
    return _faults


@dataclass(frozen=True)
class AliasWrite:
    function: str
    alias: str
    version: str
    weights: dict[str, int]

    @property
    def target_percent(self) -> int:
        return sum(self.weights.values())


@dataclass
class AliasWrites:
    """Alias writes seen by the emulator while the fixture is active."""

    writes: list[AliasWrite] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, function: str, alias: str) -> list[AliasWrite]:
        with self.lock:
            return [w for w in self.writes if w.function == function and w.alias == alias]

    def routes(self, function: str, alias: str) -> list[tuple[str, dict[str, int]]]:
        """Each write's version and percents: ``[("1", {"2": 10}), ("2", {})]``."""
        return [(w.version, w.weights) for w in self.of(function, alias)]


@pytest.fixture
def alias_writes(local_engine: LocalEngine) -> Iterator[AliasWrites]:
    recorder = AliasWrites()
    original = lambda_models.LambdaAlias.update

    def update(self: Any, description: Any, function_version: Any, routing_config: Any) -> None:
        original(self, description, function_version, routing_config)
        weights = (self.routing_config or {}).get("AdditionalVersionWeights") or {}
        function = self.arn.split(":function:")[1].split(":")[0]
        with recorder.lock:
            recorder.writes.append(
                AliasWrite(
                    function,
                    self.name,
                    str(self.function_version),
                    {str(v): round(float(w) * 100) for v, w in weights.items() if float(w) > 0},
                )
            )

    lambda_models.LambdaAlias.update = update
    try:
        yield recorder
    finally:
        lambda_models.LambdaAlias.update = original


@dataclass
class Ended:
    """A finished execution: status, error, cause, output, and its history."""

    arn: str
    status: str
    error: str | None
    cause: str | None
    output: dict[str, Any] | None
    history: list[dict[str, Any]]

    def states_entered(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history
            if "stateEnteredEventDetails" in e
        ]


class Rollouts:
    """Starts rollouts through StartExecution, as a pipeline does, and follows them."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        self.sfn = engine.client("stepfunctions")

    def start(self, request: dict[str, Any]) -> str:
        answer = self.sfn.start_execution(
            stateMachineArn=self.engine.info.state_machine_arn, input=json.dumps(request)
        )
        return str(answer["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 120.0) -> Ended:
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s")
            time.sleep(0.05)
        history = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)
        output = described.get("output")
        return Ended(
            arn=execution_arn,
            status=described["status"],
            error=described.get("error"),
            cause=described.get("cause"),
            output=json.loads(output) if output else None,
            history=history["events"],
        )

    def run(self, request: dict[str, Any], timeout: float = 120.0) -> Ended:
        return self.wait(self.start(request), timeout)


@pytest.fixture
def rollouts(local_engine: LocalEngine) -> Rollouts:
    return Rollouts(local_engine)


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Function names unique to a test, so tests share one engine without meeting."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make


class StatusEvents:
    """A team's rule on the status bus: status events of one function, into an SQS queue."""

    def __init__(self, engine: LocalEngine, function: str) -> None:
        self.events = engine.client("events")
        self.sqs = engine.client("sqs")
        self.rule = f"status-{function}"
        self.queue = self.sqs.create_queue(QueueName=self.rule)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        self.bus = engine.info.status_bus_name
        self.events.put_rule(
            Name=self.rule,
            EventBusName=self.bus,
            EventPattern=json.dumps(
                {
                    "source": ["lambda-rollouts"],
                    "detail-type": ["Rollout Status Change"],
                    "detail": {"functionName": [function]},
                }
            ),
        )
        self.events.put_targets(
            Rule=self.rule,
            EventBusName=self.bus,
            Targets=[{"Id": "queue", "Arn": queue_arn["Attributes"]["QueueArn"]}],
        )
        self.received: list[dict[str, Any]] = []

    def receive(self) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
        for message in answer.get("Messages", []):
            self.received.append(json.loads(message["Body"]))
            self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return self.received

    def of(self, rollout_id: str | None, until: str) -> list[dict[str, Any]]:
        """The details of ``rollout_id``'s status events, once its phase ``until`` arrived."""

        def details() -> list[dict[str, Any]]:
            return [e["detail"] for e in self.receive() if e["detail"]["rolloutId"] == rollout_id]

        eventually(
            lambda: any(d["phase"] == until for d in details()), f"{rollout_id} phase {until}"
        )
        return details()

    def close(self) -> None:
        self.events.remove_targets(Rule=self.rule, EventBusName=self.bus, Ids=["queue"])
        self.events.delete_rule(Name=self.rule, EventBusName=self.bus)
        self.sqs.delete_queue(QueueUrl=self.queue)


@pytest.fixture
def status_events(local_engine: LocalEngine) -> Iterator[Callable[[str], StatusEvents]]:
    made: list[StatusEvents] = []

    def make(function: str) -> StatusEvents:
        made.append(StatusEvents(local_engine, function))
        return made[-1]

    yield make
    for rule in made:
        rule.close()
