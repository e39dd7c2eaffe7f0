import pickle

import pytest
from botocore.exceptions import ClientError

from rollouts.errors import (
    AccessDeniedError,
    AliasDriftError,
    AwsError,
    AwsServiceError,
    HookFailedError,
    NotFoundError,
    PreconditionFailedError,
    ResourceConflictError,
    RolloutError,
    RolloutInProgressError,
    ThrottlingError,
    TransientError,
    ValidationError,
    from_client_error,
)


def client_error(code: str, message: str = "boom", operation: str = "UpdateAlias") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def test_validation_error_single_field() -> None:
    error = ValidationError("strategy", "unknown strategy 'Foo'")

    assert error.errors == (("strategy", "unknown strategy 'Foo'"),)
    assert error.field == "strategy"
    assert error.message == "unknown strategy 'Foo'"
    assert str(error) == "strategy: unknown strategy 'Foo'"
    assert isinstance(error, RolloutError)


def test_validation_error_from_errors_keeps_order() -> None:
    error = ValidationError.from_errors(
        [("alias", "required"), ("checkIntervalSeconds", "must be between 1 and 3600")]
    )

    assert error.errors == (
        ("alias", "required"),
        ("checkIntervalSeconds", "must be between 1 and 3600"),
    )
    assert error.field == "alias"
    assert str(error) == "alias: required; checkIntervalSeconds: must be between 1 and 3600"
    assert error.args == (str(error),)


def test_validation_error_from_no_errors_is_a_bug() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ValidationError.from_errors([])


def test_validation_error_survives_pickling() -> None:
    error = ValidationError.from_errors([("alarms[1]", "duplicate"), ("hooks.preTraffic", "bad")])

    copy = pickle.loads(pickle.dumps(error))

    assert copy.errors == error.errors
    assert str(copy) == str(error)


@pytest.mark.parametrize(
    "cls",
    [
        pytest.param(RolloutInProgressError, id="rollout-in-progress"),
        pytest.param(AliasDriftError, id="alias-drift"),
        pytest.param(HookFailedError, id="hook-failed"),
        pytest.param(NotFoundError, id="not-found"),
    ],
)
def test_plain_errors_are_rollout_errors(cls: type[RolloutError]) -> None:
    error = cls("alias live is locked by rollout r-1")

    assert isinstance(error, RolloutError)
    assert str(error) == "alias live is locked by rollout r-1"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param("TooManyRequestsException", ThrottlingError, id="lambda-throttled"),
        pytest.param("ThrottlingException", ThrottlingError, id="throttling"),
        pytest.param("ThrottledException", ThrottlingError, id="throttled"),
        pytest.param("RequestLimitExceeded", ThrottlingError, id="request-limit"),
        pytest.param(
            "ProvisionedThroughputExceededException", ThrottlingError, id="dynamodb-throughput"
        ),
        pytest.param("ResourceConflictException", ResourceConflictError, id="lambda-conflict"),
        pytest.param("ConflictException", ResourceConflictError, id="moto-conflict"),
        pytest.param(
            "PreconditionFailedException", PreconditionFailedError, id="stale-revision-id"
        ),
        pytest.param("ResourceNotFoundException", NotFoundError, id="not-found"),
        pytest.param("AccessDeniedException", AccessDeniedError, id="access-denied"),
        pytest.param("AccessDenied", AccessDeniedError, id="access-denied-sts-style"),
        pytest.param("ServiceException", TransientError, id="lambda-service-exception"),
        pytest.param("InternalServerError", TransientError, id="internal-server-error"),
        pytest.param("InvalidParameterValueException", AwsServiceError, id="other-code"),
    ],
)
def test_from_client_error_maps_codes(code: str, expected: type[RolloutError]) -> None:
    error = from_client_error(client_error(code, "Rate exceeded", "UpdateAlias"))

    assert type(error) is expected
    assert str(error) == f"{code}: Rate exceeded (UpdateAlias)"


def test_from_client_error_keeps_code_and_operation() -> None:
    error = from_client_error(client_error("AccessDeniedException", "no", "PublishVersion"))

    assert isinstance(error, AwsError)
    assert (error.code, error.operation) == ("AccessDeniedException", "PublishVersion")


def test_from_client_error_without_details() -> None:
    error = from_client_error(ClientError({}, "GetAlias"))

    assert type(error) is AwsServiceError
    assert str(error) == "Unknown: no message (GetAlias)"


def test_any_http_5xx_answer_is_transient() -> None:
    error = ClientError(
        {
            "Error": {"Code": "SomethingNew", "Message": "oops"},
            "ResponseMetadata": {"HTTPStatusCode": 503},
        },
        "UpdateAlias",
    )
    assert isinstance(from_client_error(error), TransientError)


def test_an_unreachable_endpoint_is_transient() -> None:
    from botocore.exceptions import EndpointConnectionError

    from rollouts.aws import aws_errors

    with pytest.raises(TransientError, match="EndpointConnectionError"), aws_errors():
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
