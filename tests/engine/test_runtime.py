"""The in-process Lambda runtime, seen through the engine endpoint as a client sees Lambda."""

from __future__ import annotations

import io
import json
import os
import textwrap
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from rollouts_cli.local import samples

from .conftest import eventually


def invoke(lambda_client: Any, name: str, event: Any = None) -> tuple[Any, str | None]:
    answer = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    return json.loads(answer["Payload"].read()), answer.get("FunctionError")


def test_a_zip_function_runs_in_this_process(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(
        """
        import os

        def handler(event, context):
            return {
                "pid": os.getpid(),
                "echo": event,
                "name": context.function_name,
                "version": context.function_version,
                "remaining": context.get_remaining_time_in_millis(),
            }
        """,
        timeout=7,
    )

    payload, error = invoke(lambda_client, name, {"hello": "world"})

    assert error is None
    assert payload["pid"] == os.getpid()
    assert payload["echo"] == {"hello": "world"}
    assert (payload["name"], payload["version"]) == (name, "$LATEST")
    assert 0 < payload["remaining"] <= 7000


def test_a_handlers_boto3_calls_reach_the_same_emulator(
    lambda_client: Any,
    dynamodb: Any,
    make_function: Callable[..., str],
    make_table: Callable[[], str],
) -> None:
    table = make_table()
    name = make_function(
        """
        import boto3

        def handler(event, context):
            functions = boto3.client("lambda").list_functions()["Functions"]
            names = [f["FunctionName"] for f in functions]
            boto3.client("dynamodb").put_item(
                TableName=event["table"],
                Item={"pk": {"S": "written-by"}, "function": {"S": context.function_name}},
            )
            return names
        """
    )

    payload, error = invoke(lambda_client, name, {"table": table})

    assert error is None
    assert name in payload
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "written-by"}})["Item"]
    assert item["function"] == {"S": name}


def test_an_exception_is_a_function_error_with_its_type_and_message(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(
        """
        class HookRefused(Exception):
            pass

        def handler(event, context):
            raise HookRefused("the canary is unhealthy")
        """
    )

    payload, error = invoke(lambda_client, name)

    # AWS answers "Unhandled" for an exception a Python handler raises; moto says "Handled".
    assert error in ("Unhandled", "Handled")
    assert payload["errorType"] == "HookRefused"
    assert payload["errorMessage"] == "the canary is unhealthy"
    assert isinstance(payload["stackTrace"], list)


def test_a_handler_past_its_timeout_is_a_task_timed_out_error(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(
        """
        import time

        def handler(event, context):
            time.sleep(3)
            return "too late"
        """,
        timeout=1,
    )

    payload, error = invoke(lambda_client, name)

    assert error
    assert "Task timed out" in payload["errorMessage"]
    assert payload["errorType"] == "Sandbox.Timedout"


def test_a_broken_package_is_a_function_error(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function("def not_the_handler(event, context):\n    return 1\n")

    answer = lambda_client.invoke(FunctionName=name, Payload=b"{}")

    assert answer.get("FunctionError")
    assert b"handler" in answer["Payload"].read()


def test_print_output_lands_in_the_functions_log_group(
    request: pytest.FixtureRequest,
    lambda_client: Any,
    make_function: Callable[..., str],
    log_messages: Callable[[str], list[str]],
    unique_name: Callable[[str], str],
) -> None:
    marker = unique_name("marker")
    name = make_function(
        """
        def handler(event, context):
            print("line one " + event["marker"])
            print("line two " + event["marker"])
            return "ok"
        """
    )

    payload, error = invoke(lambda_client, name, {"marker": marker})
    assert (payload, error) == ("ok", None)

    lines = eventually(lambda: [m for m in log_messages(name) if marker in m], timeout=5)
    assert [line.strip() for line in lines] == [f"line one {marker}", f"line two {marker}"]


def test_two_functions_with_their_own_app_py_do_not_share_a_module(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    source = """
        CALLS = []

        def handler(event, context):
            CALLS.append(1)
            return {{"who": "{who}", "calls": len(CALLS)}}
        """
    first = make_function(source.format(who="first"))
    second = make_function(source.format(who="second"))

    assert invoke(lambda_client, first) == ({"who": "first", "calls": 1}, None)
    assert invoke(lambda_client, second) == ({"who": "second", "calls": 1}, None)
    assert invoke(lambda_client, first) == ({"who": "first", "calls": 2}, None)
    assert invoke(lambda_client, second) == ({"who": "second", "calls": 2}, None)


def test_two_functions_with_the_same_package_do_not_share_a_module(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    source = """
        import os

        STAGE = os.environ["STAGE"]

        def handler(event, context):
            return STAGE
        """
    blue = make_function(source, environment={"STAGE": "blue"})
    green = make_function(source, environment={"STAGE": "green"})

    assert invoke(lambda_client, blue) == ("blue", None)
    assert invoke(lambda_client, green) == ("green", None)


def zip_files(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return buffer.getvalue()


def test_sibling_modules_of_two_packages_do_not_mix(
    lambda_client: Any, iam: Any, unique_name: Callable[[str], str]
) -> None:
    names = []
    for colour in ("blue", "green"):
        name = unique_name(colour)
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=samples.execution_role(iam),
            Handler="app.handler",
            Code={
                "ZipFile": zip_files(
                    {
                        "app.py": """
                            import helpers

                            def handler(event, context):
                                return helpers.COLOUR
                            """,
                        "helpers.py": f"COLOUR = {colour!r}\n",
                    }
                )
            },
        )
        names.append(name)

    assert [invoke(lambda_client, name)[0] for name in names] == ["blue", "green"]
