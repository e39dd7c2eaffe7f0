"""rollouts.aliases.Lambda at the AWS edge: CodeSha256-pinned publishing, waiting for a
function update, and how a hook invocation's failures are named.

Lambda's answers are stubbed (botocore's Stubber checks every request against the
API model); failures below HTTP come from a stand-in client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.waiter
import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.stub import Stubber

from rollouts.aliases import InvocationTimeoutError, Lambda
from rollouts.errors import (
    AccessDeniedError,
    AwsServiceError,
    NotFoundError,
    PreconditionFailedError,
    ResourceConflictError,
    TransientError,
    ValidationError,
)

FUNCTION = "orders-api"
WANTED = "3Uq0pK8yZr3nW1v9mX2cT7bE6hJ4sL5dA0fG8kQ1wYo="
ACTUAL = "tdyqRkkKx/a07107njvZdVBadu5nffhsxgbIRqJjli4="
URL = "https://lambda.us-east-1.amazonaws.com/"
# What AWS answers a PublishVersion whose CodeSha256 is not $LATEST's.
AWS_MISMATCH = (
    f"CodeSHA256 ({WANTED}) is different from current CodeSHA256 in $LATEST ({ACTUAL}). "
    "Please try again with the CodeSHA256 in $LATEST."
)


@pytest.fixture
def stubbed() -> Iterator[tuple[Lambda, Stubber]]:
    client = boto3.Session(
        region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    ).client("lambda")
    with Stubber(client) as stubber:
        yield Lambda(client), stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waiter's sleeps, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.waiter.time, "sleep", slept.append)
    return slept


def configuration(status: str | None, **extra: str) -> dict[str, Any]:
    config: dict[str, Any] = {"FunctionName": FUNCTION, "CodeSha256": ACTUAL, **extra}
    if status is not None:
        config["LastUpdateStatus"] = status
    return {"Configuration": config}


# -- publish ----------------------------------------------------------------------------------
def test_publish_passes_code_sha256_when_given(stubbed: tuple[Lambda, Stubber]) -> None:
    lambda_, stubber = stubbed
    stubber.add_response(
        "publish_version",
        {"Version": "8"},
        {"FunctionName": FUNCTION, "Description": "Lambda Rollouts r-1", "CodeSha256": WANTED},
    )

    assert lambda_.publish(FUNCTION, "Lambda Rollouts r-1", code_sha256=WANTED) == "8"


def test_publish_without_code_sha256_sends_none(stubbed: tuple[Lambda, Stubber]) -> None:
    lambda_, stubber = stubbed
    stubber.add_response(
        "publish_version", {"Version": "8"}, {"FunctionName": FUNCTION, "Description": "d"}
    )

    assert lambda_.publish(FUNCTION, "d") == "8"


def test_other_code_on_latest_as_aws_says_it_is_refused_naming_code_sha256(
    stubbed: tuple[Lambda, Stubber],
) -> None:
    lambda_, stubber = stubbed
    stubber.add_client_error("publish_version", "InvalidParameterValueException", AWS_MISMATCH, 400)

    with pytest.raises(ValidationError) as refused:
        lambda_.publish(FUNCTION, "d", code_sha256=WANTED)

    assert refused.value.errors == (
        (
            "codeSha256",
            f"{FUNCTION} $LATEST now holds code {ACTUAL}, not {WANTED}: "
            "it changed since the request; nothing was published",
        ),
    )


def test_a_precondition_failure_reads_the_code_latest_holds(
    stubbed: tuple[Lambda, Stubber],
) -> None:
    lambda_, stubber = stubbed
    stubber.add_client_error("publish_version", "PreconditionFailedException", "no", 412)
    stubber.add_response("get_function_configuration", configuration("Successful")["Configuration"])

    with pytest.raises(ValidationError) as refused:
        lambda_.publish(FUNCTION, "d", code_sha256=WANTED)

    assert refused.value.field == "codeSha256"
    assert f"now holds code {ACTUAL}, not {WANTED}" in refused.value.message


def test_code_latest_holds_that_cannot_be_read_is_said_to_be_unknown(
    stubbed: tuple[Lambda, Stubber],
) -> None:
    lambda_, stubber = stubbed
    stubber.add_client_error("publish_version", "PreconditionFailedException", "no", 412)
    stubber.add_client_error("get_function_configuration", "AccessDeniedException", "no", 403)

    with pytest.raises(ValidationError, match=r"now holds code \(unknown\), not"):
        lambda_.publish(FUNCTION, "d", code_sha256=WANTED)


def test_a_precondition_failure_without_code_sha256_is_not_about_code(
    stubbed: tuple[Lambda, Stubber],
) -> None:
    lambda_, stubber = stubbed
    stubber.add_client_error("publish_version", "PreconditionFailedException", "no", 412)

    with pytest.raises(PreconditionFailedError):
        lambda_.publish(FUNCTION, "d")


def test_another_invalid_parameter_is_not_about_code(stubbed: tuple[Lambda, Stubber]) -> None:
    lambda_, stubber = stubbed
    stubber.add_client_error(
        "publish_version", "InvalidParameterValueException", "Description too long", 400
    )

    with pytest.raises(AwsServiceError, match="Description too long"):
        lambda_.publish(FUNCTION, "d", code_sha256=WANTED)


def test_a_busy_function_is_still_a_resource_conflict(stubbed: tuple[Lambda, Stubber]) -> None:
    lambda_, stubber = stubbed
    stubber.add_client_error(
        "publish_version", "ResourceConflictException", "An update is in progress", 409
    )

    with pytest.raises(ResourceConflictError):
        lambda_.publish(FUNCTION, "d", code_sha256=WANTED)


# -- wait_until_updated -------------------------------------------------------------------------
def test_an_updated_function_needs_one_look(
    stubbed: tuple[Lambda, Stubber], sleeps: list[float]
) -> None:
    lambda_, stubber = stubbed
    stubber.add_response("get_function", configuration("Successful"), {"FunctionName": FUNCTION})

    lambda_.wait_until_updated(FUNCTION, max_seconds=10)

    assert sleeps == []


def test_an_update_in_progress_is_waited_for(
    stubbed: tuple[Lambda, Stubber], sleeps: list[float]
) -> None:
    lambda_, stubber = stubbed
    for status in ("InProgress", "InProgress", "Successful"):
        stubber.add_response("get_function", configuration(status), {"FunctionName": FUNCTION})

    lambda_.wait_until_updated(FUNCTION, max_seconds=10)

    assert sleeps == [1, 1]


@pytest.mark.parametrize("max_seconds", [1, 5, 12.5])
def test_an_update_still_in_progress_is_a_resource_conflict_within_max_seconds(
    stubbed: tuple[Lambda, Stubber], sleeps: list[float], max_seconds: float
) -> None:
    lambda_, stubber = stubbed
    looks = max(1, int(max_seconds))
    for _ in range(looks):
        stubber.add_response("get_function", configuration("InProgress"))

    with pytest.raises(ResourceConflictError) as busy:
        lambda_.wait_until_updated(FUNCTION, max_seconds=max_seconds)

    assert sum(sleeps) <= max_seconds
    assert len(sleeps) == looks - 1
    assert str(busy.value) == (
        f"{FUNCTION} is still updating after {max_seconds:g} s (LastUpdateStatus InProgress); "
        "nothing was published"
    )
    assert (busy.value.code, busy.value.operation) == ("ResourceConflictException", "GetFunction")


def test_a_failed_update_is_refused_naming_the_function_and_the_reason(
    stubbed: tuple[Lambda, Stubber], sleeps: list[float]
) -> None:
    lambda_, stubber = stubbed
    stubber.add_response("get_function", configuration("InProgress"))
    stubber.add_response(
        "get_function",
        configuration(
            "Failed",
            LastUpdateStatusReason="The image manifest or layer media type is not supported.",
            LastUpdateStatusReasonCode="ImageAccessDenied",
        ),
    )

    with pytest.raises(ValidationError) as refused:
        lambda_.wait_until_updated(FUNCTION, max_seconds=10)

    assert refused.value.errors == (
        (
            "functionName",
            f"{FUNCTION}'s last update failed (ImageAccessDenied: The image manifest or layer "
            "media type is not supported.); fix the function and start again: "
            "nothing was published",
        ),
    )


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        pytest.param("ResourceNotFoundException", 404, NotFoundError, id="gone"),
        pytest.param("AccessDeniedException", 403, AccessDeniedError, id="not-ours"),
        pytest.param("ServiceException", 500, TransientError, id="lambda-failed"),
    ],
)
def test_an_error_while_waiting_keeps_its_name(
    stubbed: tuple[Lambda, Stubber], code: str, status: int, expected: type[Exception]
) -> None:
    lambda_, stubber = stubbed
    stubber.add_client_error("get_function", code, "no", status)

    with pytest.raises(expected):
        lambda_.wait_until_updated(FUNCTION, max_seconds=10)


class _Unreachable:
    def get_waiter(self, name: str) -> Any:
        assert name == "function_updated_v2"
        return self

    def wait(self, **kwargs: Any) -> None:
        raise EndpointConnectionError(endpoint_url=URL)


def test_lambda_unreachable_while_waiting_is_transient() -> None:
    with pytest.raises(TransientError, match="EndpointConnectionError"):
        Lambda(_Unreachable()).wait_until_updated(FUNCTION, max_seconds=10)


# -- invoke (hooks) -------------------------------------------------------------------------------
class _Body:
    def __init__(self, failure: BaseException | None) -> None:
        self.failure = failure

    def read(self) -> bytes:
        if self.failure is not None:
            raise self.failure
        return b'{"status": "Succeeded"}'


class _Hooks:
    """Lambda's Invoke, failing as told: on the call, or while the answer is read."""

    def __init__(self, on_call: BaseException | None = None, on_read: BaseException | None = None):
        self.on_call = on_call
        self.on_read = on_read

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        if self.on_call is not None:
            raise self.on_call
        return {"Payload": _Body(self.on_read), "StatusCode": 200}


def test_an_answered_invocation_returns_the_payload() -> None:
    assert Lambda(_Hooks()).invoke("hook", b"{}") == (b'{"status": "Succeeded"}', None)


@pytest.mark.parametrize(
    "where", [pytest.param("on_call", id="waiting"), pytest.param("on_read", id="reading")]
)
def test_no_answer_within_the_read_timeout_is_an_invocation_timeout(where: str) -> None:
    hooks = _Hooks(**{where: ReadTimeoutError(endpoint_url=URL)})

    with pytest.raises(InvocationTimeoutError, match="hook did not answer in time"):
        Lambda(hooks).invoke("hook", b"{}")


@pytest.mark.parametrize(
    ("where", "failure"),
    [
        pytest.param("on_call", EndpointConnectionError(endpoint_url=URL), id="unreachable"),
        pytest.param("on_call", ConnectTimeoutError(endpoint_url=URL), id="connect-timeout"),
        pytest.param("on_call", ConnectionClosedError(endpoint_url=URL), id="closed"),
        pytest.param("on_call", ConnectionResetError(104, "reset"), id="reset"),
        pytest.param("on_read", ResponseStreamingError(error="broken"), id="broken-answer"),
    ],
)
def test_other_connection_failures_are_transient(where: str, failure: BaseException) -> None:
    with pytest.raises(TransientError, match=f"{type(failure).__name__} invoking hook") as caught:
        Lambda(_Hooks(**{where: failure})).invoke("hook", b"{}")

    assert caught.value.__cause__ is failure
