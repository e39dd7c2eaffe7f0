"""Fault injection at the botocore edge, for the AWS calls a task makes.

Every Lambda handler runs in this process (``runtime``), and its boto3 clients
reach the emulator on loopback through botocore's ``Endpoint``. This module
patches two ``Endpoint`` methods, once, for the whole process:

- ``_do_get_response`` (one call per HTTP attempt, with the operation known)
  decides: it counts and records the call, and picks the fault, if any;
- ``_send`` (the socket round trip) carries the fault out.

Only calls made from inside an in-process invocation are seen: the runtime
marks the worker thread that runs a handler with the function's name
(``invoked_as``), and the clients the Step Functions interpreter builds to call
Lambda and the other integrations are marked ``"states"`` (``STATES``). Every
other call (a test's, the CLI's, the engine's own) passes untouched. A handler
that starts threads of its own makes unmarked calls from them.

What a caller with one attempt per call sees (``total_max_attempts=1``, as task
clients use; botocore's ``max_attempts=1`` would mean two attempts):

============== =================================================================
THROTTLE       ``ClientError``, the service's throttling code, parsed by botocore
               from a wire-format answer: Lambda ``TooManyRequestsException``
               (429); DynamoDB ``ProvisionedThroughputExceededException`` (400)
               on item operations, ``ThrottlingException`` on the others;
               CloudWatch ``Throttling`` (400); others ``ThrottlingException``
               (400; ``Throttling`` on query-protocol services such as IAM).
SERVER_ERROR   ``ClientError`` with HTTP 500 and the service's own code: Lambda
               ``ServiceException``, DynamoDB ``InternalServerError``,
               CloudWatch ``InternalServiceError`` (``InternalServiceFault``),
               EventBridge ``InternalException``, others ``InternalFailure``.
READ_TIMEOUT   ``botocore.exceptions.ReadTimeoutError``, at once; the request
               never reached the emulator.
CONNECTION_RESET ``botocore.exceptions.ConnectionClosedError`` (what botocore
               raises for ECONNRESET), the request never reached the emulator.
ANSWER_LOST    the request is sent and takes effect; the answer is read and
               dropped, and the caller gets ``ReadTimeoutError``.
============== =================================================================

A client that retries (more than one attempt) sees the fault on one attempt
only: occurrences count HTTP attempts, so its retry is the next occurrence.

What Step Functions reports when a ``"states"`` call to Lambda ``Invoke``
fails (with ``corrections.lambda_task_service_errors`` installed), for a
direct-ARN task and for ``arn:aws:states:::lambda:invoke`` alike:
THROTTLE -> ``Lambda.TooManyRequestsException``, SERVER_ERROR ->
``Lambda.ServiceException`` (``Lambda.<code>`` for any Lambda error code), and
READ_TIMEOUT, CONNECTION_RESET, ANSWER_LOST -> ``Lambda.SdkClientException``.
The ``Lambda.<code>`` names are the ones AWS documents for Lambda service errors;
``Lambda.SdkClientException`` for a call that got no answer is inferred (it is
the documented name of Step Functions' own client failing), not observed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore import client as botocore_client
from botocore.awsrequest import AWSResponse
from botocore.endpoint import Endpoint
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from urllib3.exceptions import ProtocolError

# The caller name of every call the Step Functions interpreter makes.
STATES = "states"
# Any caller: a FaultPoint whose function is ANY matches calls from every function.
ANY = "*"

_PARAMS_KEY = "rollouts_faults_params"
_CALLER_ATTRIBUTE = "_rollouts_faults_caller"


class FaultKind(StrEnum):
    THROTTLE = "throttle"
    SERVER_ERROR = "server-error"
    READ_TIMEOUT = "read-timeout"
    CONNECTION_RESET = "connection-reset"
    ANSWER_LOST = "answer-lost"


@dataclass(frozen=True)
class FaultPoint:
    """One AWS call: the ``occurrence``-th (1-based) with this service, operation and caller.

    ``service`` is botocore's service name ("lambda", "dynamodb", "cloudwatch",
    "events", "stepfunctions"), ``operation`` the API name ("UpdateAlias"),
    ``function`` the calling function's name, ``STATES`` or ``ANY``.
    """

    service: str
    operation: str
    function: str
    occurrence: int


@dataclass(frozen=True)
class Call:
    """An AWS call seen while recording; ``params_summary`` like "FunctionName=orders Name=live".

    ``params`` are the call's full parameters as the caller gave them (what an IAM
    evaluation of the call needs); they take no part in equality or ``repr``.
    """

    service: str
    operation: str
    function: str
    occurrence: int
    params_summary: str
    params: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def point(self) -> FaultPoint:
        return FaultPoint(self.service, self.operation, self.function, self.occurrence)


@dataclass
class Injected:
    """One ``injecting()`` or ``before()`` block: whether it fired, and on which call."""

    point: FaultPoint
    kind: FaultKind | None
    only_function_prefix: str | None = None
    params_contain: str | None = None
    fired: bool = False
    call: Call | None = None
    # before(): what runs just before the chosen call is sent (instead of a fault).
    action: Callable[[], None] | None = None
    _seen: int = 0

    def _matches(self, service: str, operation: str, function: str, summary: str) -> bool:
        point = self.point
        return (
            point.service == service
            and point.operation == operation
            and point.function in (function, ANY)
            and (
                self.only_function_prefix is None or function.startswith(self.only_function_prefix)
            )
            and (self.params_contain is None or self.params_contain in summary)
        )


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.counts: Counter[tuple[str, str, str]] = Counter()


_local = threading.local()


def current_function() -> str | None:
    """The function whose handler runs in this thread, if any."""
    return getattr(_local, "function", None)


@contextlib.contextmanager
def invoked_as(function_name: str) -> Iterator[None]:
    """Mark this thread's AWS calls as ``function_name``'s (the runtime does, around a handler)."""
    previous = current_function()
    _local.function = function_name
    try:
        yield
    finally:
        _local.function = previous


class Faults:
    """Records the AWS calls tasks make, and injects one fault at a chosen call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recorders: list[_Recorder] = []
        self._injections: list[Injected] = []
        self._installed = False

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[Call]]:
        """Every call made inside invocations while the block runs, in order, counted afresh."""
        self.install()
        recorder = _Recorder()
        with self._lock:
            self._recorders.append(recorder)
        try:
            yield recorder.calls
        finally:
            with self._lock:
                self._recorders.remove(recorder)

    @contextlib.contextmanager
    def injecting(
        self,
        point: FaultPoint,
        kind: FaultKind,
        only_function_prefix: str | None = None,
        *,
        params_contain: str | None = None,
    ) -> Iterator[Injected]:
        """Inject ``kind`` once, at the ``point.occurrence``-th call matching ``point``.

        Calls are counted from the start of the block. ``only_function_prefix``
        and ``params_contain`` (a substring of the call's params summary) narrow
        which calls match, and so are counted: with ``point.function == ANY`` a
        prefix picks a test's own functions; ``params_contain`` picks, say, the
        one function a ``STATES`` Invoke is for.
        """
        if point.occurrence < 1:
            raise ValueError("occurrence is 1-based")
        self.install()
        injected = Injected(point, FaultKind(kind), only_function_prefix, params_contain)
        with self._lock:
            self._injections.append(injected)
        try:
            yield injected
        finally:
            with self._lock:
                self._injections.remove(injected)

    @contextlib.contextmanager
    def before(
        self,
        point: FaultPoint,
        action: Callable[[], None],
        only_function_prefix: str | None = None,
        *,
        params_contain: str | None = None,
    ) -> Iterator[Injected]:
        """Run ``action`` once, just before the ``point.occurrence``-th matching call is sent.

        A race made on purpose: what another actor does between a task's calls (an
        alarm entering ALARM between a look and the write after it). ``action`` runs
        in the task's thread but as nobody's call: its own AWS calls are neither
        recorded nor faulted. Matching is as for ``injecting``.
        """
        if point.occurrence < 1:
            raise ValueError("occurrence is 1-based")
        self.install()
        injected = Injected(point, None, only_function_prefix, params_contain, action=action)
        with self._lock:
            self._injections.append(injected)
        try:
            yield injected
        finally:
            with self._lock:
                self._injections.remove(injected)

    def install(self) -> None:
        """Patch botocore's Endpoint and mark the interpreter's clients (idempotent)."""
        with self._lock:
            if self._installed:
                return
            self._installed = True
        _patch_endpoint(self)
        _patch_request_params()
        _mark_interpreter_clients()

    def _observe(
        self, service: str, operation: str, function: str, params: Any
    ) -> tuple[FaultKind | None, list[Callable[[], None]]]:
        """Count and record one call; the fault to inject into it, and what runs before it."""
        actions: list[Callable[[], None]] = []
        with self._lock:
            if not self._recorders and not self._injections:
                return None, actions
            summary = summarize(params)
            full = dict(params) if isinstance(params, dict) else {}
            for recorder in self._recorders:
                key = (service, operation, function)
                recorder.counts[key] += 1
                recorder.calls.append(Call(*key, recorder.counts[key], summary, full))
            chosen: FaultKind | None = None
            for injected in self._injections:
                if injected.fired or not injected._matches(service, operation, function, summary):
                    continue
                injected._seen += 1
                if injected._seen != injected.point.occurrence:
                    continue
                call = Call(service, operation, function, injected._seen, summary, full)
                if injected.action is not None:
                    injected.fired, injected.call = True, call
                    actions.append(injected.action)
                # Each block counts every call it matches; one call takes one fault at most.
                elif chosen is None:
                    injected.fired, injected.call = True, call
                    chosen = injected.kind
        return chosen, actions


faults = Faults()


def summarize(params: Any) -> str:
    """The scalar parameters ("FunctionName=orders Name=live") of a call, in the caller's order.

    Blobs (code, payloads) are left out, long strings cut; DynamoDB keys are shown
    as ``Key=pk:value``.
    """
    if not isinstance(params, dict):
        return ""
    parts: list[str] = []
    for name, value in params.items():
        if isinstance(value, bool | int | float):
            parts.append(f"{name}={value}")
        elif isinstance(value, str):
            parts.append(f"{name}={_cut(value)}")
        elif name == "Key" and isinstance(value, dict):
            keys = ",".join(f"{k}:{_cut(str(_attribute(v)))}" for k, v in value.items())
            parts.append(f"Key={keys}")
    return " ".join(parts)


def _attribute(value: Any) -> Any:
    """{"S": "x"} -> "x" (a DynamoDB attribute value, low-level or already plain)."""
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    return value


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- the botocore edge ------------------------------------------------------------------

_pending = threading.local()


def _patch_endpoint(owner: Faults) -> None:
    original_get: Callable[..., Any] = Endpoint._do_get_response
    original_send: Callable[..., Any] = Endpoint._send

    def _do_get_response(self: Endpoint, request: Any, operation_model: Any, context: Any) -> Any:
        function = getattr(self, _CALLER_ATTRIBUTE, None) or current_function()
        if function is None or not (owner._recorders or owner._injections):
            return original_get(self, request, operation_model, context)
        service = str(operation_model.service_model.service_name)
        params = (context or {}).get(_PARAMS_KEY)
        kind, actions = owner._observe(service, str(operation_model.name), function, params)
        if actions:
            previous = current_function()
            _local.function = None  # the action's calls are nobody's
            try:
                for action in actions:
                    action()
            finally:
                _local.function = previous
        if kind is None:
            return original_get(self, request, operation_model, context)
        _pending.fault = (kind, operation_model)
        try:
            return original_get(self, request, operation_model, context)
        finally:
            _pending.fault = None

    def _send(self: Endpoint, request: Any) -> Any:
        pending = getattr(_pending, "fault", None)
        if pending is None:
            return original_send(self, request)
        _pending.fault = None
        kind, operation_model = pending
        if kind in (FaultKind.THROTTLE, FaultKind.SERVER_ERROR):
            return _error_response(kind, operation_model, request.url)
        if kind is FaultKind.READ_TIMEOUT:
            raise ReadTimeoutError(endpoint_url=request.url, error="read timeout (injected)")
        if kind is FaultKind.CONNECTION_RESET:
            reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer (injected)")
            raise ConnectionClosedError(
                error=ProtocolError("Connection aborted.", reset),
                request=request,
                endpoint_url=request.url,
            )
        # ANSWER_LOST: the server does the work; its answer never arrives.
        answer = original_send(self, request)
        with contextlib.suppress(Exception):
            _ = answer.content
        raise ReadTimeoutError(endpoint_url=request.url, error="answer lost (injected)")

    Endpoint._do_get_response = _do_get_response
    Endpoint._send = _send


def _patch_request_params() -> None:
    """Keep each call's parameters in its request context, where the Endpoint can read them."""
    original: Callable[..., Any] = botocore_client.BaseClient._convert_to_request_dict

    def _convert_to_request_dict(
        self: Any, api_params: Any, operation_model: Any, *args: Any, **kwargs: Any
    ) -> Any:
        context = kwargs.get("context")
        if context is None and len(args) >= 2:
            context = args[1]
        if isinstance(context, dict):
            context[_PARAMS_KEY] = api_params
        return original(self, api_params, operation_model, *args, **kwargs)

    botocore_client.BaseClient._convert_to_request_dict = _convert_to_request_dict


def _mark_interpreter_clients() -> None:
    """Every client the Step Functions interpreter builds makes its calls as ``STATES``."""
    # Loads every task integration module, so that each has imported boto_client_for.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (  # noqa: F401
        state_task_factory,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    # moto builds each client from boto3's default session, which is not thread-safe;
    # executions (and Map/Parallel branches) run in threads of their own.
    creating = threading.Lock()

    def boto_client_for(*args: Any, **kwargs: Any) -> Any:
        with creating:
            client = original(*args, **kwargs)
        setattr(client._endpoint, _CALLER_ATTRIBUTE, STATES)
        return client

    for module in list(sys.modules.values()):
        if getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


# --- error answers, in each protocol's wire format ----------------------------------------

# DynamoDB throttles item operations with ProvisionedThroughputExceededException.
_DYNAMODB_ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)


@dataclass(frozen=True)
class _Error:
    code: str
    status: int
    message: str
    # awsQueryCompatible services (CloudWatch): the query-protocol code and fault type.
    query_code: str | None = None
    sender: bool = True


def error_for(kind: FaultKind, service: str, operation: str, protocol: str) -> _Error:
    """The error AWS answers ``service`` with for a throttled or failed request."""
    if kind is FaultKind.THROTTLE:
        if service == "lambda":
            return _Error("TooManyRequestsException", 429, "Rate Exceeded.")
        if service == "dynamodb" and operation in _DYNAMODB_ITEM_OPERATIONS:
            return _Error(
                "ProvisionedThroughputExceededException",
                400,
                "The level of configured provisioned throughput for the table was exceeded.",
            )
        if service == "cloudwatch":
            return _Error("ThrottlingException", 400, "Rate exceeded", query_code="Throttling")
        if protocol in ("query", "ec2", "rest-xml"):
            return _Error("Throttling", 400, "Rate exceeded")
        return _Error("ThrottlingException", 400, "Rate exceeded")
    message = "An internal error occurred (injected)."
    if service == "lambda":
        return _Error("ServiceException", 500, message, sender=False)
    if service == "dynamodb":
        return _Error("InternalServerError", 500, message, sender=False)
    if service == "cloudwatch":
        return _Error(
            "InternalServiceFault", 500, message, query_code="InternalServiceError", sender=False
        )
    if service == "events":
        return _Error("InternalException", 500, message, sender=False)
    return _Error("InternalFailure", 500, message, sender=False)


class _Body:
    """The ``raw`` of a made-up AWSResponse: botocore only streams it."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        body, self._body = self._body, b""
        return body

    def close(self) -> None:
        pass


def _error_response(kind: FaultKind, operation_model: Any, url: str) -> AWSResponse:
    service_model = operation_model.service_model
    protocol = str(service_model.resolved_protocol)
    error = error_for(kind, str(service_model.service_name), str(operation_model.name), protocol)
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id, "x-amz-request-id": request_id}
    fault = "Sender" if error.sender else "Receiver"
    if protocol in ("query", "ec2", "rest-xml"):
        body = _xml_error(protocol, error, fault, request_id)
        headers["Content-Type"] = "text/xml"
    else:
        document: dict[str, Any] = {"__type": error.code, "message": error.message}
        if protocol == "rest-json":
            headers["x-amzn-ErrorType"] = error.code
            document["Type"] = "User" if error.sender else "Service"
        if error.query_code:
            headers["x-amzn-query-error"] = f"{error.query_code};{fault}"
        headers["Content-Type"] = (
            "application/json" if protocol == "rest-json" else "application/x-amz-json-1.0"
        )
        body = json.dumps(document).encode()
    headers["Content-Length"] = str(len(body))
    return AWSResponse(url, error.status, headers, _Body(body))


def _xml_error(protocol: str, error: _Error, fault: str, request_id: str) -> bytes:
    inner = f"<Code>{error.code}</Code><Message>{error.message}</Message>"
    if protocol == "rest-xml":
        text = f"<Error>{inner}<RequestId>{request_id}</RequestId></Error>"
    elif protocol == "ec2":
        text = (
            f"<Response><Errors><Error>{inner}</Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
    else:
        text = (
            f"<ErrorResponse><Error><Type>{fault}</Type>{inner}</Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return text.encode()
