"""Compressed time: waits follow the time scale, compute never does.

Wait states, retry back-off and callback (``.waitForTaskToken``) timeouts are
scaled; a Lambda task's TimeoutSeconds and a function's own Timeout are real
seconds. Only outcomes are asserted (and lower bounds on real time, which a busy
machine can only lengthen); the poll timeouts are generous bounds, not measurements.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from rollouts_cli.local import timescale

from .conftest import eventually

BAKE = 300


@pytest.mark.parametrize(
    ("wait", "execution_input"),
    [
        pytest.param({"Seconds": BAKE}, {}, id="Seconds"),
        pytest.param({"SecondsPath": "$.waitSeconds"}, {"waitSeconds": BAKE}, id="SecondsPath"),
    ],
)
def test_a_five_minute_wait_finishes_at_scale_one_hundredth(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
    wait: dict[str, Any],
    execution_input: dict[str, Any],
) -> None:
    time_scale(0.01)
    assert timescale.scaled(BAKE) == pytest.approx(3.0)
    machine = make_state_machine(
        {
            "StartAt": "Bake",
            "States": {
                "Bake": {"Type": "Wait", **wait, "Next": "Done"},
                "Done": {"Type": "Pass", "End": True},
            },
        }
    )

    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input))[
        "executionArn"
    ]

    assert finished(execution, timeout=30)["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert "WaitStateExited" in {event["type"] for event in history}


def test_a_retry_with_a_long_interval_completes_at_scale_zero(
    sfn: Any,
    dynamodb: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_table: Callable[[], str],
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    time_scale(0.0)
    table = make_table()
    # Fails on its first call, succeeds on the next: counts its calls in the table.
    flaky = make_function(
        f"""
        import boto3

        def handler(event, context):
            answer = boto3.client("dynamodb").update_item(
                TableName="{table}",
                Key={{"pk": {{"S": "calls"}}}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={{":one": {{"N": "1"}}}},
                ReturnValues="UPDATED_NEW",
            )
            calls = int(answer["Attributes"]["n"]["N"])
            if calls == 1:
                raise RuntimeError("first call fails")
            return {{"calls": calls}}
        """,
        prefix="flaky",
    )
    arn = lambda_client.get_function(FunctionName=flaky)["Configuration"]["FunctionArn"]
    machine = make_state_machine(
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": arn,
                    "Retry": [
                        {
                            "ErrorEquals": ["States.ALL"],
                            "IntervalSeconds": 100,
                            "MaxAttempts": 3,
                            "BackoffRate": 2,
                        }
                    ],
                    "End": True,
                }
            },
        }
    )

    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    described = finished(execution, timeout=20)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"calls": 2}
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "calls"}})["Item"]
    assert item["n"] == {"N": "2"}


SLOW_SOURCE = """
import time

def handler(event, context):
    began = time.monotonic()
    time.sleep({seconds})
    remaining = context.get_remaining_time_in_millis()
    return {{"slept": time.monotonic() - began, "remaining": remaining}}
"""


def lambda_task(arn: str, form: str, timeout: int) -> dict[str, Any]:
    if form == "function-arn":
        return {"Type": "Task", "Resource": arn, "TimeoutSeconds": timeout, "End": True}
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": arn, "Payload": {}},
        "OutputPath": "$.Payload",
        "TimeoutSeconds": timeout,
        "End": True,
    }


LAMBDA_TIMEOUTS = [
    pytest.param(form, scale, id=f"{form}-scale-{scale}")
    for form in ("function-arn", "lambda-invoke")
    for scale in (0.0, 0.001)
]


@pytest.mark.parametrize(("form", "scale"), LAMBDA_TIMEOUTS)
def test_a_lambda_tasks_timeout_is_real_seconds_at_any_scale(
    sfn: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
    form: str,
    scale: float,
) -> None:
    # 2 s of real handler time under TimeoutSeconds 60: compressed, 60 would be 0.06 s (or 0).
    time_scale(scale)
    slow = make_function(SLOW_SOURCE.format(seconds=2), prefix="slow")
    arn = lambda_client.get_function(FunctionName=slow)["Configuration"]["FunctionArn"]
    machine = make_state_machine(
        {"StartAt": "Call", "States": {"Call": lambda_task(arn, form, 60)}}
    )

    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    described = finished(execution, timeout=30)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["slept"] >= 2.0
    history = sfn.get_execution_history(executionArn=execution)["events"]
    scheduled = [
        e.get("lambdaFunctionScheduledEventDetails") or e.get("taskScheduledEventDetails")
        for e in history
        if e["type"] in ("LambdaFunctionScheduled", "TaskScheduled")
    ]
    assert [d["timeoutInSeconds"] for d in scheduled] == [60]


def test_a_handler_slower_than_the_callback_floor_still_finishes_at_scale_zero(
    sfn: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    # What a busy machine does to a healthy task: it takes longer than any compressed bound.
    time_scale(0.0)
    seconds = timescale.TIMEOUT_FLOOR_SECONDS + 1
    slow = make_function(SLOW_SOURCE.format(seconds=seconds), prefix="slow")
    arn = lambda_client.get_function(FunctionName=slow)["Configuration"]["FunctionArn"]
    machine = make_state_machine(
        {"StartAt": "Call", "States": {"Call": lambda_task(arn, "function-arn", 60)}}
    )

    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    described = finished(execution, timeout=40)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["slept"] >= seconds


@pytest.mark.parametrize("form", ["function-arn", "lambda-invoke"])
def test_a_lambda_task_still_times_out_after_its_real_timeout_at_scale_zero(
    sfn: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
    form: str,
) -> None:
    time_scale(0.0)
    slow = make_function(SLOW_SOURCE.format(seconds=4), prefix="slow")
    arn = lambda_client.get_function(FunctionName=slow)["Configuration"]["FunctionArn"]
    machine = make_state_machine({"StartAt": "Call", "States": {"Call": lambda_task(arn, form, 1)}})

    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    described = finished(execution, timeout=30)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"


@pytest.fixture
def callback_machine(
    lambda_client: Any,
    make_function: Callable[..., str],
    make_table: Callable[[], str],
    make_state_machine: Callable[[Any], str],
) -> tuple[str, str]:
    """A ``.waitForTaskToken`` task (TimeoutSeconds 3600) whose function stores its token."""
    table = make_table()
    keeper = make_function(
        f"""
        import boto3

        def handler(event, context):
            item = {{"pk": {{"S": "token"}}, "token": {{"S": event["token"]}}}}
            boto3.client("dynamodb").put_item(TableName="{table}", Item=item)
        """,
        prefix="keeper",
    )
    arn = lambda_client.get_function(FunctionName=keeper)["Configuration"]["FunctionArn"]
    machine = make_state_machine(
        {
            "StartAt": "Await",
            "States": {
                "Await": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": arn, "Payload": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 3600,
                    "End": True,
                }
            },
        }
    )
    return machine, table


def test_a_callback_tasks_timeout_is_compressed(
    sfn: Any,
    callback_machine: tuple[str, str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    # An hour at scale 0.001 is 3.6 s (the floor is 5 s): nobody answers, so it times out.
    time_scale(0.001)
    machine, _ = callback_machine
    assert timescale.callback_timeout(3600) == max(3.6, timescale.TIMEOUT_FLOOR_SECONDS)

    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    described = finished(execution, timeout=30)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"


def test_a_callback_answered_in_real_time_succeeds_at_scale_zero(
    sfn: Any,
    dynamodb: Any,
    callback_machine: tuple[str, str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    # At scale 0 the callback wait is the floor, not nothing: an answer 1 s later still counts.
    time_scale(0.0)
    machine, table = callback_machine
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    def token() -> str | None:
        item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "token"}}, ConsistentRead=True)
        return item.get("Item", {}).get("token", {}).get("S")

    found = eventually(token, timeout=10)
    time.sleep(1.0)
    sfn.send_task_success(taskToken=found, output=json.dumps({"answered": True}))

    described = finished(execution, timeout=30)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"answered": True}


def test_a_functions_own_timeout_is_real_seconds(
    lambda_client: Any,
    make_function: Callable[..., str],
    time_scale: Callable[[float], None],
) -> None:
    time_scale(0.001)
    slow = make_function(SLOW_SOURCE.format(seconds=1.5), prefix="slow", timeout=3)
    hung = make_function(SLOW_SOURCE.format(seconds=3), prefix="hung", timeout=1)

    answer = lambda_client.invoke(FunctionName=slow)
    timed_out = lambda_client.invoke(FunctionName=hung)

    assert "FunctionError" not in answer
    payload = json.loads(answer["Payload"].read())
    assert payload["slept"] >= 1.5
    assert 0 < payload["remaining"] <= 1500
    assert "FunctionError" in timed_out
    assert json.loads(timed_out["Payload"].read())["errorType"] == "Sandbox.Timedout"


def test_the_time_scale_fixture_restores_scale_zero(time_scale: Callable[[float], None]) -> None:
    # Runs after the tests above changed it (file order): the session engine is back at 0.
    assert timescale.time_scale() == 0.0
    with pytest.raises(ValueError):
        time_scale(-1.0)
