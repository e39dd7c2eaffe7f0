"""Fault injection at the AWS calls a task makes (``rollouts_cli.local.faults``).

A tiny function makes the boto3 calls it is given, with one attempt per call as
a task client, and answers what each call raised; the tests inject a fault at
one of those calls and assert what the handler saw and what the emulator holds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from rollouts_cli.local import samples
from rollouts_cli.local.faults import ANY, STATES, Call, FaultKind, FaultPoint, Faults

# Makes event["calls"] in order; each answer is {"ok": True} or what was raised.
CALLER_SOURCE = """
import boto3
import botocore
from botocore.config import Config

CONFIG = Config(retries={{"total_max_attempts": {attempts}, "mode": "standard"}})

def handler(event, context):
    answers = []
    for call in event["calls"]:
        # A session each: boto3's default session is not thread-safe.
        client = boto3.session.Session().client(call["service"], config=CONFIG)
        try:
            getattr(client, call["method"])(**call["params"])
            answers.append({{"ok": True}})
        except botocore.exceptions.ClientError as error:
            answers.append({{
                "raised": type(error).__name__,
                "code": error.response["Error"]["Code"],
                "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
            }})
        except botocore.exceptions.BotoCoreError as error:
            answers.append({{"raised": type(error).__name__}})
    return answers
"""


@dataclass(frozen=True)
class Target:
    """One AWS call a handler makes, and how to tell that it took effect."""

    service: str
    operation: str
    method: str


UPDATE_ALIAS = Target("lambda", "UpdateAlias", "update_alias")
PUT_ITEM = Target("dynamodb", "PutItem", "put_item")
PUT_METRIC_DATA = Target("cloudwatch", "PutMetricData", "put_metric_data")

# What a one-attempt client sees, per fault and service: (exception class, code, HTTP status).
SEEN: dict[tuple[FaultKind, str], dict[str, Any]] = {
    (FaultKind.THROTTLE, "lambda"): {
        "raised": "TooManyRequestsException",
        "code": "TooManyRequestsException",
        "status": 429,
    },
    (FaultKind.THROTTLE, "dynamodb"): {
        "raised": "ProvisionedThroughputExceededException",
        "code": "ProvisionedThroughputExceededException",
        "status": 400,
    },
    # CloudWatch models no throttling error: a plain ClientError with the query code.
    (FaultKind.THROTTLE, "cloudwatch"): {
        "raised": "ClientError",
        "code": "Throttling",
        "status": 400,
    },
    (FaultKind.SERVER_ERROR, "lambda"): {
        "raised": "ServiceException",
        "code": "ServiceException",
        "status": 500,
    },
    (FaultKind.SERVER_ERROR, "dynamodb"): {
        "raised": "InternalServerError",
        "code": "InternalServerError",
        "status": 500,
    },
    (FaultKind.SERVER_ERROR, "cloudwatch"): {
        "raised": "InternalServiceFault",
        "code": "InternalServiceError",
        "status": 500,
    },
}
for _service in ("lambda", "dynamodb", "cloudwatch"):
    SEEN[(FaultKind.READ_TIMEOUT, _service)] = {"raised": "ReadTimeoutError"}
    SEEN[(FaultKind.CONNECTION_RESET, _service)] = {"raised": "ConnectionClosedError"}
    SEEN[(FaultKind.ANSWER_LOST, _service)] = {"raised": "ReadTimeoutError"}

MATRIX = [
    pytest.param(kind, target, id=f"{kind}-{target.service}-{target.operation}")
    for kind in FaultKind
    for target in (UPDATE_ALIAS, PUT_ITEM, PUT_METRIC_DATA)
]


@pytest.fixture
def make_caller(make_function: Callable[..., str]) -> Callable[..., str]:
    """A function that makes the calls it is given; ``attempts`` per call (1: a task client)."""

    def make(attempts: int = 1) -> str:
        return make_function(CALLER_SOURCE.format(attempts=attempts), prefix="caller")

    return make


@pytest.fixture
def run_calls(lambda_client: Any) -> Callable[[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Invoke a caller (from the test: this Invoke itself is outside any invocation)."""

    def run(caller: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answer = lambda_client.invoke(FunctionName=caller, Payload=json.dumps({"calls": calls}))
        assert "FunctionError" not in answer, answer["Payload"].read()
        result: list[dict[str, Any]] = json.loads(answer["Payload"].read())
        return result

    return run


@pytest.fixture
def aliased(lambda_client: Any, make_function: Callable[..., str]) -> str:
    """A function with alias ``live`` on version 1."""
    name = make_function("def handler(event, context):\n    return 1\n", prefix="aliased")
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return name


@dataclass
class Scene:
    """A call of ``target`` to make, and a probe: did it take effect?"""

    call: dict[str, Any]
    took_effect: Callable[[], bool]


@pytest.fixture
def scene(
    lambda_client: Any,
    dynamodb: Any,
    local_engine: Any,
    aliased: str,
    make_table: Callable[[], str],
    unique_name: Callable[[str], str],
) -> Callable[[Target], Scene]:
    def make(target: Target) -> Scene:
        marker = unique_name("marker")
        if target is UPDATE_ALIAS:
            return Scene(
                {
                    "service": "lambda",
                    "method": target.method,
                    "params": {"FunctionName": aliased, "Name": "live", "Description": marker},
                },
                lambda: (
                    lambda_client.get_alias(FunctionName=aliased, Name="live").get("Description")
                    == marker
                ),
            )
        if target is PUT_ITEM:
            table = make_table()
            return Scene(
                {
                    "service": "dynamodb",
                    "method": target.method,
                    "params": {"TableName": table, "Item": {"pk": {"S": marker}}},
                },
                lambda: (
                    "Item"
                    in dynamodb.get_item(
                        TableName=table, Key={"pk": {"S": marker}}, ConsistentRead=True
                    )
                ),
            )
        cloudwatch = local_engine.client("cloudwatch")
        return Scene(
            {
                "service": "cloudwatch",
                "method": target.method,
                "params": {"Namespace": marker, "MetricData": [{"MetricName": "m", "Value": 1.0}]},
            },
            lambda: bool(cloudwatch.list_metrics(Namespace=marker)["Metrics"]),
        )

    return make


@pytest.mark.parametrize(("kind", "target"), MATRIX)
def test_a_fault_at_a_handlers_call_is_what_a_one_attempt_client_sees(
    faults: Faults,
    make_caller: Callable[..., str],
    run_calls: Callable[..., list[dict[str, Any]]],
    scene: Callable[[Target], Scene],
    kind: FaultKind,
    target: Target,
) -> None:
    caller = make_caller()
    made = scene(target)
    point = FaultPoint(target.service, target.operation, caller, 1)

    with faults.injecting(point, kind) as injected:
        answers = run_calls(caller, [made.call])

    assert injected.fired
    assert injected.call is not None and injected.call.point == point
    assert answers == [SEEN[(kind, target.service)]]
    # Only a lost answer was ever sent: the others never reached the emulator.
    assert made.took_effect() is (kind is FaultKind.ANSWER_LOST)


def test_a_lost_answer_to_an_alias_write_leaves_the_write_done_and_its_revision_stale(
    faults: Faults,
    lambda_client: Any,
    make_caller: Callable[..., str],
    run_calls: Callable[..., list[dict[str, Any]]],
    aliased: str,
) -> None:
    caller = make_caller()
    before = lambda_client.get_alias(FunctionName=aliased, Name="live")
    samples.publish(lambda_client, aliased, "def handler(event, context):\n    return 2\n")
    shift = {
        "service": "lambda",
        "method": "update_alias",
        "params": {
            "FunctionName": aliased,
            "Name": "live",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1}},
            "RevisionId": before["RevisionId"],
        },
    }

    # The caller retries its write as it was: the first one did happen.
    with faults.injecting(
        FaultPoint("lambda", "UpdateAlias", caller, 1), FaultKind.ANSWER_LOST
    ) as injected:
        answers = run_calls(caller, [shift, shift])

    assert injected.fired
    assert answers == [
        {"raised": "ReadTimeoutError"},
        {
            "raised": "PreconditionFailedException",
            "code": "PreconditionFailedException",
            "status": 412,
        },
    ]
    after = lambda_client.get_alias(FunctionName=aliased, Name="live")
    assert after["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    assert after["RevisionId"] != before["RevisionId"]


@pytest.mark.parametrize("occurrence", [1, 2, 3], ids=lambda n: f"occurrence-{n}")
def test_a_fault_fires_once_at_its_occurrence(
    faults: Faults,
    dynamodb: Any,
    make_caller: Callable[..., str],
    make_table: Callable[[], str],
    run_calls: Callable[..., list[dict[str, Any]]],
    occurrence: int,
) -> None:
    caller = make_caller()
    table = make_table()
    puts = [
        {
            "service": "dynamodb",
            "method": "put_item",
            "params": {"TableName": table, "Item": {"pk": {"S": f"item-{n}"}}},
        }
        for n in (1, 2, 3)
    ]
    point = FaultPoint("dynamodb", "PutItem", caller, occurrence)

    with faults.injecting(point, FaultKind.SERVER_ERROR) as injected:
        answers = run_calls(caller, puts)
        # A later call in the same block is not faulted again.
        again = run_calls(caller, puts)

    failed = {"raised": "InternalServerError", "code": "InternalServerError", "status": 500}
    assert answers == [failed if n == occurrence else {"ok": True} for n in (1, 2, 3)]
    assert again == [{"ok": True}] * 3
    assert injected.fired
    assert injected.call == Call("dynamodb", "PutItem", caller, occurrence, f"TableName={table}")


def test_occurrences_are_counted_afresh_in_each_block(
    faults: Faults,
    make_caller: Callable[..., str],
    make_table: Callable[[], str],
    run_calls: Callable[..., list[dict[str, Any]]],
) -> None:
    caller = make_caller()
    table = make_table()
    put = {
        "service": "dynamodb",
        "method": "put_item",
        "params": {"TableName": table, "Item": {"pk": {"S": "x"}}},
    }
    point = FaultPoint("dynamodb", "PutItem", caller, 1)

    with faults.recording() as calls:
        run_calls(caller, [put])
    with faults.injecting(point, FaultKind.THROTTLE) as first:
        run_calls(caller, [put])
    with faults.injecting(point, FaultKind.THROTTLE) as second:
        answers = run_calls(caller, [put])

    assert [c.occurrence for c in calls] == [1]
    assert first.fired and second.fired
    assert answers[0]["code"] == "ProvisionedThroughputExceededException"


def test_a_client_that_retries_sees_one_fault_as_one_failed_attempt(
    faults: Faults,
    dynamodb: Any,
    make_caller: Callable[..., str],
    make_table: Callable[[], str],
    run_calls: Callable[..., list[dict[str, Any]]],
) -> None:
    # Occurrences count HTTP attempts: the SDK's retry is the next one, and is not faulted.
    caller = make_caller(attempts=2)
    table = make_table()
    put = {
        "service": "dynamodb",
        "method": "put_item",
        "params": {"TableName": table, "Item": {"pk": {"S": "retried"}}},
    }

    with (
        faults.recording() as calls,
        faults.injecting(FaultPoint("dynamodb", "PutItem", caller, 1), FaultKind.THROTTLE) as hit,
    ):
        answers = run_calls(caller, [put])

    assert hit.fired
    assert answers == [{"ok": True}]
    assert [(c.operation, c.occurrence) for c in calls if c.function == caller] == [
        ("PutItem", 1),
        ("PutItem", 2),
    ]
    assert "Item" in dynamodb.get_item(TableName=table, Key={"pk": {"S": "retried"}})


def test_calls_outside_invocations_are_never_recorded_or_faulted(
    faults: Faults,
    dynamodb: Any,
    local_engine: Any,
    make_caller: Callable[..., str],
    make_table: Callable[[], str],
    run_calls: Callable[..., list[dict[str, Any]]],
) -> None:
    caller = make_caller()
    table = make_table()
    any_put = FaultPoint("dynamodb", "PutItem", ANY, 1)
    outside: list[Any] = []

    def from_another_thread() -> None:
        client = local_engine.client("dynamodb")
        outside.append(client.put_item(TableName=table, Item={"pk": {"S": "thread"}}))

    with (
        faults.recording() as calls,
        faults.injecting(any_put, FaultKind.THROTTLE) as injected,
    ):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "test"}})
        worker = threading.Thread(target=from_another_thread)
        worker.start()
        worker.join(10)
        assert not injected.fired
        assert [c for c in calls if c.service == "dynamodb"] == []
        # The same point does fault the first call made inside an invocation.
        put = {
            "service": "dynamodb",
            "method": "put_item",
            "params": {"TableName": table, "Item": {"pk": {"S": "inside"}}},
        }
        answers = run_calls(caller, [put])

    assert len(outside) == 1
    assert injected.fired
    assert answers[0]["code"] == "ProvisionedThroughputExceededException"
    assert injected.call is not None and injected.call.function == caller
    stored = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    assert sorted(item["pk"]["S"] for item in stored) == ["test", "thread"]


def test_only_function_prefix_narrows_an_any_function_point(
    faults: Faults,
    make_function: Callable[..., str],
    make_table: Callable[[], str],
    run_calls: Callable[..., list[dict[str, Any]]],
) -> None:
    source = CALLER_SOURCE.format(attempts=1)
    other = make_function(source, prefix="other")
    mine = make_function(source, prefix="mine")
    table = make_table()
    put = {
        "service": "dynamodb",
        "method": "put_item",
        "params": {"TableName": table, "Item": {"pk": {"S": "x"}}},
    }

    with faults.injecting(
        FaultPoint("dynamodb", "PutItem", ANY, 1), FaultKind.THROTTLE, only_function_prefix="mine-"
    ) as injected:
        assert run_calls(other, [put]) == [{"ok": True}]
        assert run_calls(mine, [put])[0]["code"] == "ProvisionedThroughputExceededException"

    assert injected.call is not None and injected.call.function == mine


# --- a rollout's calls, enumerated, then faulted one by one -------------------------------


@pytest.fixture
def two_step_machine(
    lambda_client: Any,
    make_caller: Callable[..., str],
    make_table: Callable[[], str],
    make_state_machine: Callable[[Any], str],
) -> tuple[str, str, str, str]:
    """A machine: task A (two PutItems), then task B (one PutItem); and the table."""
    table = make_table()
    first, second = make_caller(), make_caller()

    def put(pk: str) -> dict[str, Any]:
        return {
            "service": "dynamodb",
            "method": "put_item",
            "params": {"TableName": table, "Item": {"pk": {"S": pk}}},
        }

    def task(name: str, calls: list[dict[str, Any]], following: str | None) -> dict[str, Any]:
        arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": arn,
            "Parameters": {"calls": calls},
            "ResultPath": f"$.{'a' if following else 'b'}",
        }
        state |= {"Next": following} if following else {"End": True}
        return state

    machine = make_state_machine(
        {
            "StartAt": "A",
            "States": {
                "A": task(first, [put("a1"), put("a2")], "B"),
                "B": task(second, [put("b1")], None),
            },
        }
    )
    return machine, first, second, table


def test_every_call_of_an_execution_is_recorded_and_each_can_be_faulted(
    faults: Faults,
    sfn: Any,
    lambda_client: Any,
    finished: Callable[..., Any],
    two_step_machine: tuple[str, str, str, str],
) -> None:
    machine, first, second, table = two_step_machine
    arns = {
        name: lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        for name in (first, second)
    }

    with faults.recording() as calls:
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        assert finished(execution)["status"] == "SUCCEEDED"

    ours = [
        c
        for c in calls
        if c.function in (first, second)
        or (c.function == STATES and any(arn in c.params_summary for arn in arns.values()))
    ]
    assert ours == [
        Call("lambda", "Invoke", STATES, 1, f"FunctionName={arns[first]}"),
        Call("dynamodb", "PutItem", first, 1, f"TableName={table}"),
        Call("dynamodb", "PutItem", first, 2, f"TableName={table}"),
        Call("lambda", "Invoke", STATES, 2, f"FunctionName={arns[second]}"),
        Call("dynamodb", "PutItem", second, 1, f"TableName={table}"),
    ]

    # Replay: a fault at each recorded call fires, and its task sees it.
    for call in ours:
        with faults.injecting(call.point, FaultKind.THROTTLE) as injected:
            execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
            described = finished(execution)
        assert injected.fired, call
        assert injected.call == call
        if call.function == STATES:
            assert described["status"] == "FAILED"
            assert described["error"] == "Lambda.TooManyRequestsException"
        else:
            output = json.loads(described["output"])
            answers = output["a"] if call.function == first else output["b"]
            assert answers[call.occurrence - 1]["code"] == "ProvisionedThroughputExceededException"


def test_a_lost_invoke_answer_is_retried_by_the_state_machine_and_the_task_runs_twice(
    faults: Faults,
    sfn: Any,
    dynamodb: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_table: Callable[[], str],
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
) -> None:
    table = make_table()
    counter = make_function(
        f"""
        import boto3

        def handler(event, context):
            boto3.client("dynamodb").update_item(
                TableName="{table}",
                Key={{"pk": {{"S": "runs"}}}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={{":one": {{"N": "1"}}}},
            )
            return "done"
        """,
        prefix="counter",
    )
    arn = lambda_client.get_function(FunctionName=counter)["Configuration"]["FunctionArn"]
    machine = make_state_machine(
        {
            "StartAt": "Count",
            "States": {
                "Count": {
                    "Type": "Task",
                    "Resource": arn,
                    "Retry": [{"ErrorEquals": ["Lambda.SdkClientException"], "MaxAttempts": 2}],
                    "End": True,
                }
            },
        }
    )

    with faults.injecting(
        FaultPoint("lambda", "Invoke", STATES, 1), FaultKind.ANSWER_LOST, params_contain=arn
    ) as injected:
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        described = finished(execution)

    assert injected.fired
    assert described["status"] == "SUCCEEDED"
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "runs"}}, ConsistentRead=True)
    assert item["Item"]["n"] == {"N": "2"}
    history = sfn.get_execution_history(executionArn=execution)["events"]
    failures = [
        e["lambdaFunctionFailedEventDetails"]
        for e in history
        if e["type"] == "LambdaFunctionFailed"
    ]
    assert [f["error"] for f in failures] == ["Lambda.SdkClientException"]


def test_recording_is_safe_from_many_threads(
    faults: Faults,
    make_caller: Callable[..., str],
    make_table: Callable[[], str],
    run_calls: Callable[..., list[dict[str, Any]]],
) -> None:
    caller = make_caller()
    table = make_table()
    put = {
        "service": "dynamodb",
        "method": "put_item",
        "params": {"TableName": table, "Item": {"pk": {"S": "x"}}},
    }

    with faults.recording() as calls:
        workers = [threading.Thread(target=run_calls, args=(caller, [put] * 3)) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)

    mine = [c for c in calls if c.function == caller]
    assert sorted(c.occurrence for c in mine) == list(range(1, 13))


def test_an_invalid_occurrence_is_refused(faults: Faults) -> None:
    with (
        pytest.raises(ValueError, match="1-based"),
        faults.injecting(FaultPoint("lambda", "Invoke", STATES, 0), FaultKind.THROTTLE),
    ):
        pass


def test_an_action_before_a_call_runs_once_just_before_it_as_nobodys_call(
    faults: Faults,
    dynamodb: Any,
    make_caller: Callable[..., str],
    make_table: Callable[[], str],
    run_calls: Callable[..., list[dict[str, Any]]],
) -> None:
    """A race made on purpose: the action's write lands between the caller's two calls."""
    caller = make_caller()
    table = make_table()
    puts = [
        {
            "service": "dynamodb",
            "method": "put_item",
            "params": {"TableName": table, "Item": {"pk": {"S": f"item-{n}"}}},
        }
        for n in (1, 2)
    ]
    seen_by_action: list[set[str]] = []

    def meanwhile() -> None:
        items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
        seen_by_action.append({item["pk"]["S"] for item in items})
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "meanwhile"}})

    point = FaultPoint("dynamodb", "PutItem", caller, 2)
    with faults.recording() as calls, faults.before(point, meanwhile) as injected:
        answers = run_calls(caller, puts + puts)

    assert answers == [{"ok": True}] * 4
    # It ran once, after the first put and before the second.
    assert seen_by_action == [{"item-1"}]
    assert injected.fired
    assert injected.call == Call("dynamodb", "PutItem", caller, 2, f"TableName={table}")
    # Its own calls are nobody's: neither recorded nor counted.
    assert [(c.operation, c.occurrence) for c in calls] == [("PutItem", n) for n in (1, 2, 3, 4)]
