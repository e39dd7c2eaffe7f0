"""The AWS edge: the one place clients are built, and botocore errors get domain names.

Clients are made on first use, never at import time, from an optional session,
and cached per (service, region, endpoint) so that a Lambda container reuses
them across invocations. Tests hand in their own session or point
``AWS_ENDPOINT_URL`` at the local engine.
"""

from __future__ import annotations

import builtins
import http.client
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import urllib3.exceptions
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from rollouts.errors import TransientError, from_client_error

# Every SDK call gives up before the Lambda function making it is stopped, so a
# hung call fails as a named, retried TransientError, never as a task timeout:
#
#   attempts x (connect + read) + the SDK's back-off between attempts < function timeout
#
# In a task, Step Functions owns retries (with back-off, visible in the execution
# history), so each SDK call is made once. The ways in (API, EventBridge starter)
# have no state machine around them: they let the SDK try 3 times, with shorter
# reads, inside the same 30 s.
TASK = "task"
CALLER = "caller"
HOOK = "hook"

# template.yaml: Globals Function Timeout, and RunHookFunction's own Timeout.
FUNCTION_TIMEOUT_SECONDS = 30
HOOK_FUNCTION_TIMEOUT_SECONDS = 900

CONNECT_TIMEOUT_SECONDS = 3
# 3 + 20 = 23 s, one attempt: inside a task's 30 s.
TASK_READ_TIMEOUT_SECONDS = 20
# Hooks may run for up to 15 minutes; RunHook's own limit is 900 s, so its client
# gives up first (3 + 870 = 873 s) and the failure names the hook instead of the task's timeout.
HOOK_READ_TIMEOUT_SECONDS = 870
# 3 x (3 + 5) = 24 s, plus at most 1 + 2 s of back-off: inside the API's and starter's 30 s.
CALLER_READ_TIMEOUT_SECONDS = 5

ATTEMPTS = {TASK: 1, HOOK: 1, CALLER: 3}
READ_TIMEOUTS = {
    TASK: TASK_READ_TIMEOUT_SECONDS,
    HOOK: HOOK_READ_TIMEOUT_SECONDS,
    CALLER: CALLER_READ_TIMEOUT_SECONDS,
}
LIMITS = {
    TASK: FUNCTION_TIMEOUT_SECONDS,
    HOOK: HOOK_FUNCTION_TIMEOUT_SECONDS,
    CALLER: FUNCTION_TIMEOUT_SECONDS,
}
# botocore's standard mode sleeps at most rand(0, 1) x 2**i s before retry i (i from 0),
# capped at 20 s (an x-amz-retry-after header, when a service sends one, can add up to
# 5 s per retry: not counted here).
_MAX_BACKOFF_SECONDS = 20


def worst_case_seconds(kind: str, read_timeout: float | None = None) -> float:
    """How long one SDK call of this kind can take before it fails, back-off included."""
    attempts = ATTEMPTS[kind]
    read = READ_TIMEOUTS[kind] if read_timeout is None else read_timeout
    backoff = sum(min(1 << i, _MAX_BACKOFF_SECONDS) for i in range(attempts - 1))
    return attempts * (CONNECT_TIMEOUT_SECONDS + read) + backoff


def config(kind: str = TASK, read_timeout: float | None = None) -> Config:
    """The botocore ``Config`` of a client of this kind (``TASK``, ``HOOK`` or ``CALLER``).

    Raises ValueError when a call could outlast the function making it.
    """
    if kind not in ATTEMPTS:
        raise ValueError(f"retries must be one of {sorted(ATTEMPTS)}, not {kind!r}")
    read = READ_TIMEOUTS[kind] if read_timeout is None else read_timeout
    # A read this long is the hook's client, whatever kind it was asked as.
    limit = HOOK_FUNCTION_TIMEOUT_SECONDS if read > TASK_READ_TIMEOUT_SECONDS else LIMITS[kind]
    if worst_case_seconds(kind, read) >= limit:
        raise ValueError(
            f"{ATTEMPTS[kind]} attempt(s) of {CONNECT_TIMEOUT_SECONDS} + {read} s "
            f"do not fit in the function's {limit} s"
        )
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=read,
        # total_max_attempts counts the first attempt; botocore's max_attempts would not
        # (max_attempts=1 is 2 attempts).
        retries={"total_max_attempts": ATTEMPTS[kind], "mode": "standard"},
    )


_cache: dict[tuple[str, ...], Any] = {}
_lock = threading.Lock()


def _where() -> tuple[str, str]:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return region, os.environ.get("AWS_ENDPOINT_URL", "")


def client(
    service: str,
    session: boto3.Session | None = None,
    *,
    retries: str = TASK,
    read_timeout: float | None = None,
) -> Any:
    """A boto3 client for ``service``; the same one again for the same region and endpoint.

    ``retries`` is ``TASK`` (one attempt: the state machine retries), ``HOOK`` (one
    attempt, reads up to ``HOOK_READ_TIMEOUT_SECONDS``) or ``CALLER`` (3 attempts).
    ``read_timeout`` overrides the kind's read timeout (``HOOK_READ_TIMEOUT_SECONDS``
    for a task's hook client).
    """
    settings = config(retries, read_timeout)
    if session is not None:
        return session.client(service, config=settings)
    region, endpoint = _where()
    key = (service, region, endpoint, retries, str(settings.read_timeout))
    with _lock:
        if key not in _cache:
            _cache[key] = boto3.session.Session().client(
                service, region_name=region, config=settings
            )
        return _cache[key]


def table(name: str, *, retries: str = TASK) -> Any:
    """A DynamoDB ``Table`` resource (cached like the clients, with the same timeouts)."""
    region, endpoint = _where()
    key = ("dynamodb-table", name, region, endpoint, retries)
    with _lock:
        if key not in _cache:
            resource = boto3.session.Session().resource(
                "dynamodb",
                region_name=region,
                endpoint_url=endpoint or None,
                config=config(retries),
            )
            _cache[key] = resource.Table(name)
        return _cache[key]


# Failures to reach AWS or to hear its whole answer: botocore's own (unreachable,
# connect or read timed out, connection closed or reset, proxy, TLS), and what
# can escape below them while a response body is read (urllib3, http.client,
# socket). None of them says the request was refused, so all are worth a retry.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    # botocore: EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError, SSLError
    BotocoreConnectionError,
    # botocore: ReadTimeoutError, ConnectionClosedError, ResponseStreamingError
    HTTPClientError,
    IncompleteReadError,
    urllib3.exceptions.HTTPError,  # ProtocolError, ReadTimeoutError, NewConnectionError, ...
    http.client.HTTPException,  # IncompleteRead, BadStatusLine
    builtins.ConnectionError,  # ConnectionResetError, BrokenPipeError, RemoteDisconnected
    TimeoutError,  # socket.timeout
    socket.gaierror,
    socket.herror,
    ssl.SSLError,
)


@contextmanager
def aws_errors() -> Iterator[None]:
    """Re-raise botocore ``ClientError`` as the named error the state machine retries or catches.

    Every connection-level failure (``CONNECTION_ERRORS``) becomes a ``TransientError``.
    """
    try:
        yield
    except ClientError as error:
        raise from_client_error(error) from error
    except CONNECTION_ERRORS as error:
        raise TransientError(f"{type(error).__name__}: {error}") from error
