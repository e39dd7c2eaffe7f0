"""Compressed time: Wait states, retry back-off and task timeouts follow the time scale.

Only the outcome is asserted; the poll timeouts are generous bounds, not measurements.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from rollouts_cli.local import timescale

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


def test_a_scaled_task_timeout_keeps_a_floor_for_real_handler_time(
    sfn: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    # TimeoutSeconds 60 at scale 0.01 would be 0.6 s: the floor keeps a 1 s handler alive.
    time_scale(0.01)
    slow = make_function(
        """
        import time

        def handler(event, context):
            time.sleep(1)
            return {"done": True}
        """,
        prefix="slow",
    )
    arn = lambda_client.get_function(FunctionName=slow)["Configuration"]["FunctionArn"]
    machine = make_state_machine(
        {
            "StartAt": "Call",
            "States": {
                "Call": {"Type": "Task", "Resource": arn, "TimeoutSeconds": 60, "End": True}
            },
        }
    )

    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    described = finished(execution, timeout=20)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"done": True}


def test_the_time_scale_fixture_restores_scale_zero(time_scale: Callable[[float], None]) -> None:
    # Runs after the tests above changed it (file order): the session engine is back at 0.
    assert timescale.time_scale() == 0.0
    with pytest.raises(ValueError):
        time_scale(-1.0)
