"""rollouts.aws: every SDK call gives up inside its function's timeout, and any
failure to reach AWS or hear its answer is a TransientError the state machine retries."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3.exceptions
import yaml
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
    ProxyConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)

from rollouts import aws
from rollouts.aws import CALLER, HOOK, TASK, aws_errors, client, config, table
from rollouts.errors import ThrottlingError, TransientError

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
URL = "https://lambda.us-east-1.amazonaws.com/"


class _CfnLoader(yaml.SafeLoader):
    """Reads template.yaml's short-form intrinsics (!Ref, !Sub, ...) as plain values."""


def _intrinsic(loader: _CfnLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)
    return loaded


# -- timeouts ---------------------------------------------------------------------------
def test_the_function_timeouts_are_the_templates(template: dict[str, Any]) -> None:
    run_hook = template["Resources"]["RunHookFunction"]["Properties"]

    assert template["Globals"]["Function"]["Timeout"] == aws.FUNCTION_TIMEOUT_SECONDS == 30
    assert run_hook["Timeout"] == aws.HOOK_FUNCTION_TIMEOUT_SECONDS == 900


def test_no_other_function_has_a_timeout_of_its_own(template: dict[str, Any]) -> None:
    own = {
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and "Timeout" in resource.get("Properties", {})
    }

    assert own == {"RunHookFunction"}


@pytest.mark.parametrize(
    ("kind", "attempts", "read", "limit"),
    [
        pytest.param(TASK, 1, 20, 30, id="task"),
        pytest.param(HOOK, 1, 870, 900, id="hook"),
        pytest.param(CALLER, 3, 5, 30, id="caller"),
    ],
)
def test_every_kind_of_client_gives_up_inside_its_function(
    kind: str, attempts: int, read: int, limit: int
) -> None:
    settings = config(kind)

    assert settings.connect_timeout == 3
    assert settings.read_timeout == read
    assert settings.retries == {"total_max_attempts": attempts, "mode": "standard"}
    # Every attempt may wait to connect and then to read; between attempts the SDK
    # sleeps at most 1, then 2 s (standard mode).
    backoff = [0, 0, 1 + 2][attempts - 1]
    assert attempts * (settings.connect_timeout + settings.read_timeout) + backoff < limit
    assert aws.worst_case_seconds(kind) == attempts * (3 + read) + backoff


def test_the_hook_client_tasks_build_fits_run_hook() -> None:
    # tasks.Services: client("lambda", read_timeout=HOOK_READ_TIMEOUT_SECONDS)
    settings = client(
        "lambda", boto3.Session(region_name="us-east-1"), read_timeout=aws.HOOK_READ_TIMEOUT_SECONDS
    ).meta.config

    assert (settings.connect_timeout, settings.read_timeout) == (3, 870)
    assert settings.retries["total_max_attempts"] == 1
    assert aws.HOOK_FUNCTION_TIMEOUT_SECONDS > 3 + 870


@pytest.mark.parametrize(
    ("kind", "read"),
    [
        pytest.param(CALLER, 20, id="caller-reading-20-s-three-times"),
        pytest.param(TASK, 900, id="task-reading-past-run-hook"),
        pytest.param(HOOK, 897, id="hook-reading-past-run-hook"),
    ],
)
def test_a_client_that_could_outlast_its_function_is_refused(kind: str, read: int) -> None:
    with pytest.raises(ValueError, match="do not fit"):
        config(kind, read)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="retries must be one of"):
        config("forever")


@pytest.mark.parametrize("kind", [TASK, CALLER])
def test_clients_and_tables_carry_the_timeouts(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(aws, "_cache", {})

    for settings in (
        client("stepfunctions", retries=kind).meta.config,
        client("stepfunctions", boto3.Session(region_name="us-east-1"), retries=kind).meta.config,
        table("rollouts", retries=kind).meta.client.meta.config,
    ):
        assert (settings.connect_timeout, settings.read_timeout) == (3, aws.READ_TIMEOUTS[kind])
        assert settings.retries["total_max_attempts"] == aws.ATTEMPTS[kind]


# -- a real hung endpoint ----------------------------------------------------------------
@dataclass
class SilentServer:
    url: str
    accepted: list[socket.socket]


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """An endpoint that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield SilentServer(f"http://127.0.0.1:{server.getsockname()[1]}", accepted)
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def hung_client(server: SilentServer, kind: str) -> Any:
    return boto3.Session(
        region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    ).client("lambda", endpoint_url=server.url, config=config(kind, read_timeout=1))


def test_a_task_call_to_a_hung_endpoint_is_one_attempt_then_transient(
    silent_server: SilentServer,
) -> None:
    started = time.monotonic()

    with pytest.raises(TransientError, match="ReadTimeoutError") as caught, aws_errors():
        hung_client(silent_server, TASK).get_alias(FunctionName="orders-api", Name="live")

    assert 1 <= time.monotonic() - started < 3
    assert len(silent_server.accepted) == 1  # the state machine retries, not the SDK
    assert isinstance(caught.value.__cause__, ReadTimeoutError)


def test_a_caller_call_to_a_hung_endpoint_is_three_attempts_then_transient(
    silent_server: SilentServer,
) -> None:
    started = time.monotonic()

    with pytest.raises(TransientError, match="ReadTimeoutError"), aws_errors():
        hung_client(silent_server, CALLER).get_alias(FunctionName="orders-api", Name="live")

    assert 3 <= time.monotonic() - started < 3 + 3 + 2  # 3 reads of 1 s, back-off under 3 s
    assert len(silent_server.accepted) == 3


def test_an_endpoint_nobody_listens_on_fails_as_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    lambda_ = boto3.Session(
        region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    ).client("lambda", endpoint_url=f"http://127.0.0.1:{port}", config=config(TASK))

    with pytest.raises(TransientError, match="EndpointConnectionError"), aws_errors():
        lambda_.get_alias(FunctionName="orders-api", Name="live")


# -- every connection-level failure is transient ----------------------------------------------
CONNECTION_FAILURES: dict[str, BaseException] = {
    "EndpointConnectionError": EndpointConnectionError(endpoint_url=URL),
    "ConnectionClosedError": ConnectionClosedError(endpoint_url=URL),
    "ReadTimeoutError": ReadTimeoutError(endpoint_url=URL),
    "ConnectTimeoutError": ConnectTimeoutError(endpoint_url=URL),
    "ProxyConnectionError": ProxyConnectionError(proxy_url="http://proxy:3128"),
    "SSLError": SSLError(endpoint_url=URL, error="bad handshake"),
    "HTTPClientError": HTTPClientError(error="boom"),
    "ResponseStreamingError": ResponseStreamingError(error="connection broken"),
    "IncompleteReadError": IncompleteReadError(actual_bytes=3, expected_bytes=10),
    "urllib3.ProtocolError": urllib3.exceptions.ProtocolError("Connection aborted."),
    # urllib3 wants its pool and connection; the error needs neither to be raised.
    "urllib3.ReadTimeoutError": urllib3.exceptions.ReadTimeoutError(None, URL, "timed out"),  # type: ignore[arg-type]
    "urllib3.NewConnectionError": urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
    "urllib3.IncompleteRead": urllib3.exceptions.IncompleteRead(3, 7),
    "http.client.IncompleteRead": http.client.IncompleteRead(b"abc", 7),
    "http.client.RemoteDisconnected": http.client.RemoteDisconnected("closed"),
    "ConnectionResetError": ConnectionResetError(104, "Connection reset by peer"),
    "ConnectionRefusedError": ConnectionRefusedError(111, "Connection refused"),
    "BrokenPipeError": BrokenPipeError(32, "Broken pipe"),
    "TimeoutError (socket.timeout)": TimeoutError("timed out"),
    "socket.gaierror": socket.gaierror(-2, "Name or service not known"),
    "ssl.SSLError": ssl.SSLError("EOF occurred in violation of protocol"),
}


@pytest.mark.parametrize("name", list(CONNECTION_FAILURES))
def test_a_connection_failure_is_a_transient_error(name: str) -> None:
    failure = CONNECTION_FAILURES[name]

    with pytest.raises(TransientError) as caught, aws_errors():
        raise failure

    assert caught.value.__cause__ is failure
    assert str(caught.value).startswith(type(failure).__name__)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(ValueError("bad"), id="value-error"),
        pytest.param(FileNotFoundError("gone"), id="os-error-not-a-connection"),
        pytest.param(KeyError("Version"), id="key-error"),
    ],
)
def test_other_errors_pass_through_unchanged(failure: Exception) -> None:
    with pytest.raises(type(failure)) as caught, aws_errors():
        raise failure

    assert caught.value is failure


def test_client_errors_still_get_their_names() -> None:
    error = ClientError({"Error": {"Code": "TooManyRequestsException"}}, "UpdateAlias")

    with pytest.raises(ThrottlingError), aws_errors():
        raise error
