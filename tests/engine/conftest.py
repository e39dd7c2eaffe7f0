"""Fixtures for the engine tests: boto3 clients on the local engine, and small builders.

Everything here talks to the engine through its endpoint, as a user's script
would; nothing reaches into moto.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from rollouts_cli.local import samples
from rollouts_cli.local.engine import LocalEngine

T = TypeVar("T")

# Step Functions never assumes roles in the emulator; any role ARN of the account will do.
STATES_ROLE = "arn:aws:iam::123456789012:role/engine-tests-states"

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def eventually(probe: Callable[[], T | None], timeout: float = 10.0, every: float = 0.05) -> T:
    """Poll ``probe`` until it answers something truthy (delivery is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {timeout} s of polling")
        time.sleep(every)


@pytest.fixture(scope="session")
def lambda_client(local_engine: LocalEngine) -> Any:
    return local_engine.client("lambda")


@pytest.fixture(scope="session")
def iam(local_engine: LocalEngine) -> Any:
    return local_engine.client("iam")


@pytest.fixture(scope="session")
def sfn(local_engine: LocalEngine) -> Any:
    return local_engine.client("stepfunctions")


@pytest.fixture(scope="session")
def logs(local_engine: LocalEngine) -> Any:
    return local_engine.client("logs")


@pytest.fixture(scope="session")
def events(local_engine: LocalEngine) -> Any:
    return local_engine.client("events")


@pytest.fixture(scope="session")
def dynamodb(local_engine: LocalEngine) -> Any:
    return local_engine.client("dynamodb")


@pytest.fixture
def make_function(
    lambda_client: Any, iam: Any, unique_name: Callable[[str], str]
) -> Callable[..., str]:
    """Create a Python function (handler ``app.handler``) from source; returns its name."""

    def make(
        source: str,
        prefix: str = "fn",
        environment: dict[str, str] | None = None,
        timeout: int = 30,
    ) -> str:
        name = unique_name(prefix)
        samples.create_function(
            lambda_client, iam, name, source, environment=environment, timeout=timeout
        )
        return name

    return make


@pytest.fixture
def make_state_machine(sfn: Any, unique_name: Callable[[str], str]) -> Callable[[Any], str]:
    """Create a STANDARD state machine from an ASL dict; returns its ARN."""

    def make(definition: dict[str, Any]) -> str:
        answer = sfn.create_state_machine(
            name=unique_name("sm"), definition=json.dumps(definition), roleArn=STATES_ROLE
        )
        return str(answer["stateMachineArn"])

    return make


@pytest.fixture
def make_table(dynamodb: Any, unique_name: Callable[[str], str]) -> Callable[[], str]:
    """Create a DynamoDB table keyed by the string ``pk``; returns its name."""

    def make() -> str:
        name = unique_name("table")
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return name

    return make


@pytest.fixture
def finished(sfn: Any) -> Callable[..., dict[str, Any]]:
    """Wait (bounded) until an execution leaves RUNNING; returns DescribeExecution."""

    def wait(execution_arn: str, timeout: float = 10.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            return described if described["status"] in TERMINAL else None

        return eventually(probe, timeout)

    return wait


@pytest.fixture
def log_messages(logs: Any) -> Callable[[str], list[str]]:
    """Every message in a function's log group so far (empty while the group does not exist)."""

    def read(function_name: str) -> list[str]:
        group = f"/aws/lambda/{function_name}"
        try:
            found = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [str(event["message"]) for event in found]

    return read


@pytest.fixture
def rule_cleanup(events: Any) -> Iterator[list[str]]:
    """Rules named here are deleted (targets first) after the test, so they meet no other test."""
    names: list[str] = []
    yield names
    for name in names:
        targets = events.list_targets_by_rule(Rule=name)["Targets"]
        if targets:
            events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=name)
