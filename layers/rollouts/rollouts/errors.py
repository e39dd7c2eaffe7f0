"""Errors a rollout can end with, and the adapter from botocore's ``ClientError``.

Class names matter: a Lambda task that raises ``ThrottlingError`` fails with the
error name ``ThrottlingError``, and the state machine's ``Retry``/``Catch``
blocks match on that name.
"""

from __future__ import annotations

from collections.abc import Iterable

from botocore.exceptions import ClientError


class RolloutError(Exception):
    """Base class of every error the rollouts package raises on purpose."""


class ValidationError(RolloutError):
    """Bad input, refused before any change; names every bad field.

    Fields use the input contract's camelCase with dotted and indexed paths:
    ``hooks.preTraffic``, ``alarms[1]``, ``strategy.steps[2].weight``.

    >>> e = ValidationError("alias", "required")
    >>> str(e), e.field
    ('alias: required', 'alias')
    >>> str(ValidationError.from_errors([("alias", "required"), ("version", "bad")]))
    'alias: required; version: bad'
    """

    errors: tuple[tuple[str, str], ...]

    def __init__(self, field: str, message: str) -> None:
        self.errors = ((field, message),)
        super().__init__(self._text())

    @classmethod
    def from_errors(cls, errors: Iterable[tuple[str, str]]) -> ValidationError:
        """One error listing several ``(field, message)`` pairs, in the order given."""
        pairs = tuple((str(field), str(message)) for field, message in errors)
        if not pairs:
            raise ValueError("ValidationError.from_errors needs at least one (field, message)")
        error = cls(*pairs[0])
        error.errors = pairs
        error.args = (error._text(),)
        return error

    @property
    def field(self) -> str:
        """The first bad field."""
        return self.errors[0][0]

    @property
    def message(self) -> str:
        """The message for the first bad field."""
        return self.errors[0][1]

    def _text(self) -> str:
        return "; ".join(f"{field}: {message}" for field, message in self.errors)

    def __str__(self) -> str:
        return self._text()

    def __reduce__(self) -> tuple[object, ...]:
        # Keep every pair when pickled (the default would call cls(text)).
        return (_rebuild_validation_error, (self.errors,))


def _rebuild_validation_error(errors: tuple[tuple[str, str], ...]) -> ValidationError:
    return ValidationError.from_errors(errors)


class RolloutInProgressError(RolloutError):
    """Another rollout holds the lock on this alias."""


class AliasDriftError(RolloutError):
    """Someone else changed the alias while the rollout was running."""


class HookFailedError(RolloutError):
    """A PreTraffic or PostTraffic hook did not answer ``{"status": "Succeeded"}``."""


class AbortedError(RolloutError):
    """Someone asked the rollout to stop (``rollouts abort``, ``POST /rollouts/{id}/abort``)."""


class NotFoundError(RolloutError):
    """A function, version, alias or record does not exist."""


class AwsError(RolloutError):
    """An AWS call failed; keeps the error code and the operation name."""

    def __init__(self, message: str, *, code: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation


class ThrottlingError(AwsError):
    """AWS throttled the call; the state machine retries with back-off."""


class ResourceConflictError(AwsError):
    """The resource is busy (e.g. a function update in progress); retried."""


class AccessDeniedError(AwsError):
    """The stack's role may not touch this resource (outside its name prefixes)."""


class PreconditionFailedError(AwsError):
    """A conditional write lost: the ``RevisionId`` passed is no longer current."""


class TransientError(AwsError):
    """AWS failed on its side (HTTP 5xx) or could not be reached: the state machine retries."""


class AwsServiceError(AwsError):
    """Any other AWS error."""


_THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
    }
)
_TRANSIENT_CODES = frozenset(
    {"ServiceException", "InternalServerError", "InternalFailure", "ServiceUnavailable"}
)
# moto answers a duplicate CreateAlias with ConflictException; AWS with ResourceConflictException.
_CONFLICT_CODES = frozenset({"ResourceConflictException", "ConflictException"})


def from_client_error(error: ClientError) -> RolloutError:
    """Turn a botocore ``ClientError`` into the named error the state machine retries by.

    The text keeps the code, the message and the operation, e.g.
    ``"TooManyRequestsException: Rate exceeded (UpdateAlias)"``.
    """
    details = error.response.get("Error", {})
    code = str(details.get("Code") or "Unknown")
    message = str(details.get("Message") or "no message")
    operation = str(getattr(error, "operation_name", "") or "unknown operation")
    text = f"{code}: {message} ({operation})"
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _THROTTLING_CODES:
        return ThrottlingError(text, code=code, operation=operation)
    if code in _CONFLICT_CODES:
        return ResourceConflictError(text, code=code, operation=operation)
    if code == "PreconditionFailedException":
        return PreconditionFailedError(text, code=code, operation=operation)
    if code in ("AccessDeniedException", "AccessDenied"):
        return AccessDeniedError(text, code=code, operation=operation)
    if code == "ResourceNotFoundException":
        return NotFoundError(text)
    if status >= 500 or code in _TRANSIENT_CODES:
        return TransientError(text, code=code, operation=operation)
    return AwsServiceError(text, code=code, operation=operation)
