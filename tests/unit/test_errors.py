import json
import pickle

import pytest
from botocore.exceptions import ClientError

from rollouts.errors import (
    MAX_FIELD_LENGTH,
    MAX_LISTED,
    MAX_MESSAGE_LENGTH,
    MAX_TEXT_LENGTH,
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
    clip,
    from_client_error,
    quote,
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


# -- bounded text -------------------------------------------------------------------
def escaped(text: str) -> int:
    return len(json.dumps(text)) - 2


def test_a_huge_field_and_message_are_clipped_with_an_ellipsis() -> None:
    error = ValidationError("f" * 100_000, "m" * 100_000)

    field, message = error.errors[0]
    # "…" costs 6 once JSON-escaped (\u2026): the prefix is 6 shorter than the limit.
    assert field == "f" * (MAX_FIELD_LENGTH - 6) + "…"
    assert message == "m" * (MAX_MESSAGE_LENGTH - 6) + "…"
    assert str(error) == f"{field}: {message}"
    assert len(str(error)) <= MAX_TEXT_LENGTH


def test_ten_thousand_fields_list_ten_and_count_the_rest() -> None:
    error = ValidationError.from_errors((f"key{i}", "unknown field") for i in range(10_000))

    assert len(error.errors) == MAX_LISTED == 10
    assert error.errors[0] == ("key0", "unknown field")
    assert error.omitted == 9_990
    assert str(error).endswith("; key9: unknown field; …and 9,990 more")


def test_long_messages_list_fewer_pairs_to_stay_within_the_bound() -> None:
    error = ValidationError.from_errors((f"field{i}", "x" * 5_000) for i in range(9))

    assert 1 <= len(error.errors) < 9
    assert error.omitted == 9 - len(error.errors)
    assert len(str(error)) <= MAX_TEXT_LENGTH
    assert str(error).endswith(f"…and {error.omitted} more")


def test_the_bound_counts_json_escaping() -> None:
    # "😀" is 1 character but 12 once JSON-escaped (a surrogate pair of \uXXXX).
    error = ValidationError.from_errors((f"😀{i}", '😀\n"' * 10_000) for i in range(50))

    assert escaped(str(error)) <= MAX_TEXT_LENGTH
    assert all(escaped(message) <= MAX_MESSAGE_LENGTH for _, message in error.errors)
    assert error.omitted == 50 - len(error.errors)


def test_omitted_pairs_carry_over_when_re_raised_and_survive_pickling() -> None:
    inner = ValidationError.from_errors((f"strategy.steps[{i}]", "bad") for i in range(15))

    outer = ValidationError.from_errors(
        [("alias", "required"), *inner.errors], omitted=inner.omitted
    )
    copy = pickle.loads(pickle.dumps(outer))

    assert (outer.omitted, len(outer.errors)) == (6, 10)  # 5 left out before, 1 more now
    assert (copy.errors, copy.omitted, str(copy)) == (outer.errors, 6, str(outer))
    assert str(outer).endswith("…and 6 more")


def test_a_short_error_is_left_as_it_is() -> None:
    error = ValidationError.from_errors([("alias", "required")], omitted=0)

    assert (str(error), error.omitted) == ("alias: required", 0)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("live", '"live"', id="short"),
        pytest.param("x" * 40, '"' + "x" * 40 + '"', id="exactly-40"),
        pytest.param("x" * 41, '"' + "x" * 40 + '…"', id="41"),
        pytest.param("y" * 100_000, '"' + "y" * 40 + '…"', id="100-kb"),
        # As JSON writes a string, not as Python would: the caller sent JSON.
        pytest.param('say "hi"', '"say \\"hi\\""', id="quotes-escaped"),
    ],
)
def test_quote_shows_a_short_prefix(value: str, shown: str) -> None:
    assert quote(value) == shown


def test_clip_never_exceeds_its_escaped_limit() -> None:
    for text in ("a" * 50, "é" * 50, "😀" * 50, '"' * 50, "ab"):
        clipped = clip(text, 20)
        assert escaped(clipped) <= 20
        assert text.startswith(clipped.removesuffix("…"))
