"""Compressed time: waits follow the time scale, compute never does.

Wait states, retry back-off and a ``.waitForTaskToken`` task's wait for its token
are scaled (no floor: at scale 0 only an answer sent during the call counts); a
Lambda task's TimeoutSeconds, the call a callback task makes, and a function's own
Timeout are real seconds. Only outcomes are asserted (and lower bounds on real time, which a busy
machine can only lengthen); the poll timeouts are generous bounds, not measurements.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from rollouts_cli.local import clock as engine_clock
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


# Stores its task token in a table, for the test to answer (or not).
KEEPER_SOURCE = """
import boto3

def handler(event, context):
    item = {{"pk": {{"S": "token"}}, "token": {{"S": event["token"]}}}}
    boto3.client("dynamodb").put_item(TableName="{table}", Item=item)
"""

# Works for ``seconds`` of real time, then answers its own token (or not) before it returns.
ANSWERER_SOURCE = """
import json
import threading
import time
import boto3

def handler(event, context):
    began = time.monotonic()
    time.sleep({seconds})
    slept = time.monotonic() - began
    if {answers}:
        boto3.client("stepfunctions").send_task_success(
            taskToken=event["token"], output=json.dumps({{"answered": "by-itself", "slept": slept}})
        )
    return {{"slept": slept}}
"""

# How a callback task declares its timeout, and the execution input that goes with it.
TIMEOUT_FORMS = [
    pytest.param("TimeoutSeconds", id="TimeoutSeconds"),
    pytest.param("TimeoutSecondsPath", id="TimeoutSecondsPath"),
]


def callback_machine(
    make_state_machine: Callable[[Any], str],
    function_arn: str,
    form: str | None = "TimeoutSeconds",
    catch_timeout: bool = False,
) -> str:
    """A ``lambda:invoke.waitForTaskToken`` task handing ``$$.Task.Token`` to its function.

    ``form`` names how its timeout is declared (the value is the input's ``timeout``
    for both), or None for no timeout. ``catch_timeout`` catches States.Timeout.
    """
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": function_arn, "Payload": {"token.$": "$$.Task.Token"}},
        "End": True,
    }
    states: dict[str, Any] = {"Await": task}
    if form == "TimeoutSeconds":
        task["TimeoutSeconds"] = 600
    elif form == "TimeoutSecondsPath":
        task["TimeoutSecondsPath"] = "$.timeout"
    if catch_timeout:
        task["Catch"] = [{"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}]
        states["TimedOut"] = {"Type": "Pass", "End": True}
    return make_state_machine({"StartAt": "Await", "States": states})


def start(sfn: Any, machine: str, timeout: int = 600) -> str:
    execution: str = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps({"timeout": timeout})
    )["executionArn"]
    return execution


def history_types(sfn: Any, execution: str) -> list[str]:
    return [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]


def waited(sfn: Any, execution: str, ended: str) -> float:
    """Real seconds between the function's return (TaskSubmitted) and the ``ended`` event.

    The history is stamped by the engine clock, which runs ``1 / scale`` times faster
    than real time (the scale is not changed during these tests).
    """
    events = sfn.get_execution_history(executionArn=execution)["events"]
    at = {e["type"]: e["timestamp"] for e in events}
    return float((at[ended] - at["TaskSubmitted"]).total_seconds()) / engine_clock.rate()


@pytest.fixture
def keeper(
    lambda_client: Any,
    dynamodb: Any,
    make_function: Callable[..., str],
    make_table: Callable[[], str],
) -> tuple[str, Callable[[], str]]:
    """A function that stores its token, and a probe that waits for the stored token."""
    table = make_table()
    name = make_function(KEEPER_SOURCE.format(table=table), prefix="keeper")
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]

    def token() -> str:
        def probe() -> str | None:
            item = dynamodb.get_item(
                TableName=table, Key={"pk": {"S": "token"}}, ConsistentRead=True
            )
            found: str | None = item.get("Item", {}).get("token", {}).get("S")
            return found

        return eventually(probe, timeout=10)

    return str(arn), token


def answerer(
    lambda_client: Any, make_function: Callable[..., str], seconds: float, answers: bool
) -> str:
    name = make_function(
        ANSWERER_SOURCE.format(seconds=seconds, answers=answers), prefix="answerer"
    )
    return str(lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"])


@pytest.mark.parametrize("form", TIMEOUT_FORMS)
def test_an_unanswered_callback_times_out_at_once_at_scale_zero(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    keeper: tuple[str, Callable[[], str]],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
    form: str,
) -> None:
    # Ten minutes at scale 0 is no wait at all: nobody answered during the call, so it
    # times out as soon as the function returned, and the timeout is catchable.
    time_scale(0.0)
    arn, _ = keeper
    machine = callback_machine(make_state_machine, arn, form, catch_timeout=True)

    execution = start(sfn, machine)

    described = finished(execution, timeout=4)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["Error"] == "States.Timeout"
    types = history_types(sfn, execution)
    assert types.index("TaskSubmitted") < types.index("TaskTimedOut")


def test_a_token_sent_during_the_invocation_is_taken_at_scale_zero(
    sfn: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    time_scale(0.0)
    arn = answerer(lambda_client, make_function, seconds=0, answers=True)
    machine = callback_machine(make_state_machine, arn)

    described = finished(start(sfn, machine))

    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["answered"] == "by-itself"


@pytest.mark.parametrize("answers", [True, False], ids=["answers", "stays-silent"])
def test_a_slow_function_is_not_cut_off_by_the_compressed_wait(
    sfn: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
    answers: bool,
) -> None:
    # TimeoutSeconds 60 at scale 0.001 is a 0.06 s wait, but it starts once the call
    # returned: the 1.5 s of real work before it are bounded by the real 60 s only.
    time_scale(0.001)
    arn = answerer(lambda_client, make_function, seconds=1.5, answers=answers)
    machine = callback_machine(make_state_machine, arn, form="TimeoutSecondsPath")

    execution = start(sfn, machine, timeout=60)

    described = finished(execution, timeout=20)
    events = sfn.get_execution_history(executionArn=execution)["events"]
    (submitted,) = [e for e in events if e["type"] == "TaskSubmitted"]
    returned = json.loads(submitted["taskSubmittedEventDetails"]["output"])["Payload"]
    assert returned["slept"] >= 1.5
    (scheduled,) = [e for e in events if e["type"] == "TaskScheduled"]
    assert scheduled["taskScheduledEventDetails"]["timeoutInSeconds"] == 60
    if answers:
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"])["slept"] >= 1.5
    else:
        assert (described["status"], described.get("error")) == ("FAILED", "States.Timeout")


@pytest.mark.parametrize("form", TIMEOUT_FORMS)
def test_a_compressed_wait_lasts_its_scaled_time(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    keeper: tuple[str, Callable[[], str]],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
    form: str,
) -> None:
    # 150 s at scale 0.01 is 1.5 real seconds after the function returned, no floor.
    time_scale(0.01)
    arn, _ = keeper
    machine = callback_machine(make_state_machine, arn, form)

    execution = start(sfn, machine, timeout=150)

    described = finished(execution, timeout=20)
    assert (described["status"], described.get("error")) == ("FAILED", "States.Timeout")
    assert waited(sfn, execution, "TaskTimedOut") >= 1.4


def test_a_compressed_wait_ends_when_it_is_answered(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    keeper: tuple[str, Callable[[], str]],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    # Ten minutes at scale 0.01 is a 6 s wait; an answer from another thread after 1 s ends it.
    time_scale(0.01)
    arn, token = keeper
    execution = start(sfn, callback_machine(make_state_machine, arn))
    found = token()

    def answer() -> None:
        time.sleep(1.0)
        sfn.send_task_success(taskToken=found, output=json.dumps({"answered": "later"}))

    answering = threading.Thread(target=answer)
    answering.start()
    answering.join()

    described = finished(execution, timeout=20)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"answered": "later"}
    assert "TaskTimedOut" not in history_types(sfn, execution)
    assert waited(sfn, execution, "TaskSucceeded") >= 0.9


def test_an_undeclared_timeout_waits_unbounded_at_scale_zero(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    keeper: tuple[str, Callable[[], str]],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    # No TimeoutSeconds: nothing to compress, the task waits for its answer (as moto does).
    time_scale(0.0)
    arn, token = keeper
    execution = start(sfn, callback_machine(make_state_machine, arn, form=None))
    found = token()
    time.sleep(1.0)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    sfn.send_task_success(taskToken=found, output=json.dumps({"answered": True}))

    described = finished(execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"answered": True}


@pytest.mark.parametrize("form", ["TimeoutSeconds", None], ids=["declared", "undeclared"])
def test_stop_execution_ends_a_token_wait_at_once(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    keeper: tuple[str, Callable[[], str]],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
    form: str | None,
) -> None:
    time_scale(1.0)
    arn, token = keeper
    execution = start(sfn, callback_machine(make_state_machine, arn, form))
    token()

    sfn.stop_execution(executionArn=execution, error="Operator.Stop", cause="by a test")

    described = finished(execution, timeout=2)
    assert (described["status"], described.get("error")) == ("ABORTED", "Operator.Stop")

    # The interpreter writes ExecutionAborted once its task's wait has ended.
    def aborted() -> list[str] | None:
        types = history_types(sfn, execution)
        return types if types[-1] == "ExecutionAborted" else None

    types = eventually(aborted, timeout=2)
    assert "TaskSucceeded" not in types


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
