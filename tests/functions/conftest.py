"""Fixtures for running each task handler in process against moto (``mock_aws``).

Everything the handlers touch goes through moto for real: Lambda functions,
versions and aliases, CloudWatch alarms, and the rollout table. The one thing
in-process moto cannot do is run a hook's code (that needs Docker), so the
``hooks`` fixture replaces ``rollouts.aliases.Lambda.invoke`` with canned answers.

moto 5.2.5 gaps that shape these tests (the local engine corrects them; mock_aws
does not):

- ``UpdateAlias`` ignores ``RevisionId`` and never changes it. An alias changed
  "by someone else" is therefore deleted and created again (a new RevisionId and
  a different routing), which is a change any client can make on AWS too.
  Changing only the routing would keep the RevisionId the rollout holds, and
  the rollout (rightly, on AWS) trusts a RevisionId it wrote.
- ``PublishVersion`` making a function's first version leaves moto's "code
  changed" flag set, so the next PublishVersion would publish it again: version 1
  comes from ``CreateFunction(Publish=True)`` instead (see ``Aws.function``).
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.config import default_user_config

import rollouts.aws
from rollouts.aliases import Lambda
from rollouts_cli.local.pytest_plugin import create_rollout_table
from rollouts_cli.local.runtime import LambdaContext

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = "lambda-rollouts-test"
FUNCTION = "orders-api"
ALIAS = "live"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
STARTED_AT = "2026-01-01T00:00:00.000Z"

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

_modules: dict[str, ModuleType] = {}


def handler_module(task: str) -> ModuleType:
    """``functions/<task>/app.py`` as the module ``functions_<task>_app`` (loaded once)."""
    name = f"functions_{task}_app"
    if name not in _modules:
        spec = importlib.util.spec_from_file_location(name, FUNCTIONS / task / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _modules[name] = module
    return _modules[name]


def lambda_context() -> LambdaContext:
    """The Lambda context the engine's runtime hands a handler (``lambda-rollouts-task``)."""
    return LambdaContext(
        function_name="lambda-rollouts-task",
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:lambda-rollouts-task",
        memory_limit_in_mb=256,
        timeout_seconds=60,
        log_group_name="/aws/lambda/lambda-rollouts-task",
    )


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


@dataclass
class Aws:
    """moto, seen through plain boto3 clients (what a user or the console would do)."""

    lambda_: Any
    iam: Any
    cloudwatch: Any
    table: Any
    _code: dict[str, int] = field(default_factory=dict)

    # -- Lambda ---------------------------------------------------------------
    def role(self) -> str:
        try:
            return str(self.iam.get_role(RoleName="fn-role")["Role"]["Arn"])
        except self.iam.exceptions.NoSuchEntityException:
            return str(
                self.iam.create_role(
                    RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(TRUST_POLICY)
                )["Role"]["Arn"]
            )

    def function(self, name: str = FUNCTION, versions: int = 2) -> str:
        """Create ``name`` and publish ``versions`` versions of it (each with new code)."""
        self._code[name] = 0
        self.lambda_.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role(),
            Handler="app.handler",
            Code={"ZipFile": zipped("def handler(event, context):\n    return 0\n")},
            # Version 1 from CreateFunction: moto 5.2.5 forgets to clear its "code
            # changed" flag when PublishVersion makes a function's first version,
            # and would publish that code again on the next PublishVersion.
            Publish=versions > 0,
        )
        for _ in range(versions - 1):
            self.publish(name)
        return str(self.lambda_.get_function(FunctionName=name)["Configuration"]["FunctionArn"])

    def new_code(self, name: str = FUNCTION) -> None:
        """Upload changed code to $LATEST (unpublished)."""
        self._code[name] += 1
        source = f"def handler(event, context):\n    return {self._code[name]}\n"
        self.lambda_.update_function_code(FunctionName=name, ZipFile=zipped(source))

    def publish(self, name: str = FUNCTION) -> str:
        self.new_code(name)
        return str(self.lambda_.publish_version(FunctionName=name)["Version"])

    def versions(self, name: str = FUNCTION) -> list[str]:
        listed = self.lambda_.list_versions_by_function(FunctionName=name)["Versions"]
        return [v["Version"] for v in listed if v["Version"] != "$LATEST"]

    def create_alias(
        self,
        version: str,
        weights: dict[str, float] | None = None,
        name: str = FUNCTION,
        alias: str = ALIAS,
    ) -> str:
        extra: dict[str, Any] = {}
        if weights:
            extra["RoutingConfig"] = {"AdditionalVersionWeights": weights}
        answer = self.lambda_.create_alias(
            FunctionName=name, Name=alias, FunctionVersion=version, **extra
        )
        return str(answer["RevisionId"])

    def recreate_alias(
        self,
        version: str,
        weights: dict[str, float] | None = None,
        name: str = FUNCTION,
        alias: str = ALIAS,
    ) -> str:
        """Someone else replaces the alias: a different routing and a new RevisionId."""
        self.lambda_.delete_alias(FunctionName=name, Name=alias)
        return self.create_alias(version, weights, name, alias)

    def alias(self, name: str = FUNCTION, alias: str = ALIAS) -> dict[str, Any] | None:
        try:
            answer = self.lambda_.get_alias(FunctionName=name, Name=alias)
        except self.lambda_.exceptions.ResourceNotFoundException:
            return None
        return dict(answer)

    def routing(self, name: str = FUNCTION, alias: str = ALIAS) -> tuple[str, dict[str, float]]:
        """``("1", {"2": 0.1})``: the alias's primary version and extra weights, read back."""
        answer = self.alias(name, alias)
        assert answer is not None, f"alias {name}:{alias} does not exist"
        weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return str(answer["FunctionVersion"]), dict(weights)

    # -- CloudWatch -------------------------------------------------------------
    def alarm(self, name: str, state: str = "OK") -> None:
        self.cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        self.set_alarm(name, state)

    def set_alarm(self, name: str, state: str) -> None:
        self.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")

    # -- the rollout table --------------------------------------------------------
    def record(self, rollout_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(
            Key={"pk": f"ROLLOUT#{rollout_id}", "sk": "ROLLOUT"}, ConsistentRead=True
        ).get("Item")
        return _plain(item) if item else None

    def lock(self, alias_key: str = f"{FUNCTION}:{ALIAS}") -> dict[str, Any] | None:
        item = self.table.get_item(
            Key={"pk": f"LOCK#{alias_key}", "sk": "LOCK"}, ConsistentRead=True
        ).get("Item")
        return _plain(item) if item else None

    def items(self) -> list[dict[str, Any]]:
        return [_plain(i) for i in self.table.scan(ConsistentRead=True)["Items"]]

    def put_lock(self, rollout_id: str, alias_key: str = f"{FUNCTION}:{ALIAS}") -> None:
        self.table.put_item(
            Item={
                "pk": f"LOCK#{alias_key}",
                "sk": "LOCK",
                "rolloutId": rollout_id,
                "executionArn": "",
                "acquiredAt": STARTED_AT,
            }
        )

    def request_abort(self, rollout_id: str, by: str, reason: str) -> None:
        self.table.update_item(
            Key={"pk": f"ROLLOUT#{rollout_id}", "sk": "ROLLOUT"},
            UpdateExpression="SET #abort = :abort",
            ExpressionAttributeNames={"#abort": "abort"},
            ExpressionAttributeValues={":abort": {"by": by, "reason": reason, "at": STARTED_AT}},
        )


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda d: int(d) if d == int(d) else float(d)))


def create_table(dynamodb: Any) -> Any:
    """The RolloutTable of template.yaml: pk/sk, and byAlias on aliasKey + startedAt."""
    return create_rollout_table(dynamodb, TABLE)


@pytest.fixture(scope="session")
def shared_loader() -> botocore.loaders.Loader:
    """One botocore data loader for every session the tests and handlers create.

    Each new boto3 session (mock_aws resets the default one; rollouts.aws builds
    its own) would otherwise parse the service models again, which is most of
    the run time. The model files never change, so sharing their parse is safe.
    """
    return botocore.loaders.create_loader()


ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "TABLE_NAME": TABLE,
    "POWERTOOLS_SERVICE_NAME": "lambda-rollouts",
    "POWERTOOLS_METRICS_NAMESPACE": "LambdaRollouts",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a task function's environment holds (template.yaml's Globals), and no endpoint."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ENDPOINT_URL_LAMBDA"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws(
    environment: None, monkeypatch: pytest.MonkeyPatch, shared_loader: botocore.loaders.Loader
) -> Iterator[Aws]:
    """A fresh moto account with the rollout table, seen by the handlers and by the test."""
    monkeypatch.setattr(botocore.session, "create_loader", lambda *_: shared_loader)
    # Plain moto here: executions stay RUNNING (the local engine, when it ran earlier
    # in this process, turned on running them).
    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", False)
    # Clients are cached per (service, region, endpoint): start each test with none.
    rollouts.aws._cache.clear()
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        yield Aws(
            lambda_=boto3.client("lambda", region_name=REGION),
            iam=boto3.client("iam", region_name=REGION),
            cloudwatch=boto3.client("cloudwatch", region_name=REGION),
            table=create_table(dynamodb),
        )
    rollouts.aws._cache.clear()


def running_execution(rollout_id: str) -> str:
    """A RUNNING execution named ``rollout_id`` of a state machine named ``rollout``.

    Its ARN is the one ``Tasks.prepare_event`` gives the rollout: a lock holder
    whose execution is alive is busy; one whose execution has ended is stale.
    """
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:rollout"
    if not any(m["stateMachineArn"] == machine for m in sfn.list_state_machines()["stateMachines"]):
        sfn.create_state_machine(
            name="rollout",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/rollout",
        )
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:rollout:{rollout_id}"
    try:
        sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        sfn.start_execution(stateMachineArn=machine, name=rollout_id)
    return arn


@pytest.fixture
def handler(environment: None) -> Callable[[str], ModuleType]:
    """``handler("release")``: the module of ``functions/release/app.py``."""
    return handler_module


@pytest.fixture
def context() -> LambdaContext:
    return lambda_context()


def _alias_exists(function: str, alias: str) -> bool:
    try:
        boto3.client("lambda", region_name=REGION).get_alias(FunctionName=function, Name=alias)
    except ClientError:
        return False
    return True


class Tasks:
    """Calls the task handlers with the events the state machine sends them.

    ``tasks.prepare(version="3")`` -> PrepareRollout's output (``$.rollout``);
    ``tasks.shift(state)`` -> ShiftTraffic's, and so on: chaining them walks a
    rollout through its states the way the ASL would.
    """

    function = FUNCTION
    alias = ALIAS
    function_arn = FUNCTION_ARN
    alias_key = f"{FUNCTION}:{ALIAS}"
    started_at = STARTED_AT

    def __init__(self, context: LambdaContext) -> None:
        self.context = context

    def run(self, task: str, event: Any) -> Any:
        """``functions/<task>/app.py``'s ``lambda_handler(event, context)``."""
        return handler_module(task).lambda_handler(event, self.context)

    @staticmethod
    def request(**changes: Any) -> dict[str, Any]:
        """An execution input for orders-api:live (version 2, Canary10Percent5Minutes).

        A change to ``None`` leaves the field out.
        """
        base: dict[str, Any] = {
            "functionName": FUNCTION,
            "alias": ALIAS,
            "version": "2",
            "strategy": "Canary10Percent5Minutes",
            "checkIntervalSeconds": 60,
        }
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    @staticmethod
    def prepare_event(request: dict[str, Any], rollout_id: str = "rollout-1") -> dict[str, Any]:
        """What PrepareRollout's Parameters build from the execution input and context."""
        return {
            "request": request,
            "rolloutId": rollout_id,
            "executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:rollout:{rollout_id}",
            "startedAt": STARTED_AT,
        }

    @staticmethod
    def end_event(
        execution_state: dict[str, Any], rollout_id: str = "rollout-1", drift: bool = False
    ) -> dict[str, Any]:
        """What RollBack / StopOnDrift receive: the whole execution state (``$``)."""
        return {"state": execution_state, "rolloutId": rollout_id, "drift": drift}

    @staticmethod
    def failure(error: str, message: str) -> dict[str, str]:
        """``$.failure`` as a Catch (ResultPath) stores a Lambda task's error."""
        cause = {"errorMessage": message, "errorType": error, "requestId": "r", "stackTrace": []}
        return {"Error": error, "Cause": json.dumps(cause)}

    def prepare(self, rollout_id: str = "rollout-1", **changes: Any) -> dict[str, Any]:
        """PrepareRollout's output. Where the alias does not exist yet, the request asks
        for a first deploy (``createAlias``), as a pipeline's first deploy does."""
        running_execution(rollout_id)
        function, alias = changes.get("functionName", FUNCTION), changes.get("alias", ALIAS)
        plain = isinstance(function, str) and isinstance(alias, str)
        if "createAlias" not in changes and plain and not _alias_exists(function, alias):
            changes["createAlias"] = True
        result: dict[str, Any] = self.run(
            "prepare", self.prepare_event(self.request(**changes), rollout_id)
        )
        return result

    def publish(self, state: dict[str, Any]) -> dict[str, Any]:
        return dict(self.run("publish_version", {"rollout": state}))

    def hook(self, state: dict[str, Any], lifecycle_event: str) -> dict[str, Any]:
        return dict(self.run("run_hook", {"rollout": state, "lifecycleEvent": lifecycle_event}))

    def shift(self, state: dict[str, Any]) -> dict[str, Any]:
        return dict(self.run("shift_traffic", {"rollout": state}))

    def check(self, state: dict[str, Any]) -> dict[str, Any]:
        return dict(self.run("check_health", {"rollout": state}))

    def baked(self, state: dict[str, Any]) -> dict[str, Any]:
        """The state after its health checks, as NextAction then sends it on."""
        while state["action"] == "bake":
            state = self.check(state)
        return state

    def promote(self, state: dict[str, Any]) -> dict[str, Any]:
        return dict(self.run("promote", {"rollout": state}))

    def finish(self, state: dict[str, Any]) -> dict[str, Any]:
        return dict(self.run("finish", {"rollout": state}))

    def roll_back(
        self, execution_state: dict[str, Any], rollout_id: str = "rollout-1", drift: bool = False
    ) -> dict[str, Any]:
        return dict(self.run("roll_back", self.end_event(execution_state, rollout_id, drift)))


@pytest.fixture
def tasks(aws: Aws, context: LambdaContext) -> Tasks:
    return Tasks(context)


@dataclass
class HookCalls:
    """Canned hook answers, and every invocation the rollout made."""

    answers: dict[str, tuple[bytes, str | None]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def answer(self, hook: str, body: Any, function_error: str | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers[hook] = (raw, function_error)


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> HookCalls:
    """Replace the hook invocation at the AWS edge (moto runs function code only in Docker)."""
    recorded = HookCalls()

    def invoke(self: Lambda, function_name: str, payload: bytes) -> tuple[bytes, str | None]:
        recorded.calls.append((function_name, json.loads(payload)))
        return recorded.answers[function_name]

    monkeypatch.setattr(Lambda, "invoke", invoke)
    return recorded
