"""Errors a rollout can end with, and the adapter from botocore's ``ClientError``.

Class names matter: a Lambda task that raises ``ThrottlingError`` fails with the
error name ``ThrottlingError``, and the state machine's ``Retry``/``Catch``
blocks match on that name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from botocore.exceptions import ClientError

# A ValidationError's text becomes a Step Functions cause (at most 32,768 characters,
# after the Lambda runtime JSON-escapes it), an API answer and a status event: it is
# bounded here, whatever the input held. Lengths count JSON-escaped characters
# (``json.dumps`` with ``ensure_ascii``), so "é" costs 6 and "😀" 12: the escaped text,
# not only the text, stays at most MAX_TEXT_LENGTH.
MAX_TEXT_LENGTH = 4_000
MAX_FIELD_LENGTH = 120
MAX_MESSAGE_LENGTH = 600
MAX_LISTED = 10
# How much of a bad value a message quotes.
QUOTE_LENGTH = 40
ELLIPSIS = "\u2026"
# Room kept for "; …and 1,234,567 more".
_MORE_RESERVE = 40


def escaped_length(text: str) -> int:
    """The length of ``text`` once JSON-escaped, quotes excluded: ``'a"b'`` is 4."""
    return len(json.dumps(text)) - 2


def _cost(char: str) -> int:
    if char in '"\\\b\f\n\r\t':
        return 2
    if " " <= char <= "~":
        return 1
    return 6 if ord(char) < 0x10000 else 12


def clip(text: str, limit: int) -> str:
    """``text``, or its longest prefix + "…" whose JSON-escaped length is at most ``limit``.

    >>> clip("abcdef", 6), clip("abcdefg", 8)
    ('abcdef', 'ab…')
    """
    if len(text) <= limit and escaped_length(text) <= limit:
        return text
    budget = limit - _cost(ELLIPSIS)
    kept = 0
    cost = 0
    for char in text:
        cost += _cost(char)
        if cost > budget:
            break
        kept += 1
    return text[:kept] + ELLIPSIS


def quote(value: str, length: int = QUOTE_LENGTH) -> str:
    """A bad value as a message shows it: as a JSON string (what the caller sent, in the
    API's own notation), only the first ``length`` characters.

    >>> quote("orders-api"), quote("x" * 100)
    ('"orders-api"', '"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"')
    """
    return json.dumps(
        value if len(value) <= length else value[:length] + ELLIPSIS, ensure_ascii=False
    )


class RolloutError(Exception):
    """Base class of every error the rollouts package raises on purpose."""


class ValidationError(RolloutError):
    """Bad input, refused before any change; names every bad field.

    Fields use the input contract's camelCase with dotted and indexed paths:
    ``hooks.preTraffic``, ``alarms[1]``, ``strategy.steps[2].weight``.

    The text is bounded whatever the input: each field and message is clipped
    (with "…"), at most ``MAX_LISTED`` pairs are listed and the rest counted
    ("…and 9,990 more", in ``omitted``), and the whole text, JSON-escaped, is at
    most ``MAX_TEXT_LENGTH`` characters. ``errors`` holds the pairs listed.

    >>> e = ValidationError("alias", "required")
    >>> str(e), e.field
    ('alias: required', 'alias')
    >>> str(ValidationError.from_errors([("alias", "required"), ("version", "bad")]))
    'alias: required; version: bad'
    >>> str(ValidationError.from_errors((f"k{i}", "unknown") for i in range(12)))[-32:]
    'k8: unknown; k9: unknown; …and 2 more'
    """

    errors: tuple[tuple[str, str], ...]
    omitted: int

    def __init__(self, field: str, message: str) -> None:
        self._keep([(field, message)], 0)
        super().__init__(self._text())

    @classmethod
    def from_errors(
        cls, errors: Iterable[tuple[object, object]], *, omitted: int = 0
    ) -> ValidationError:
        """One error listing several ``(field, message)`` pairs, in the order given.

        ``omitted`` counts pairs already left out (when re-raising another
        ValidationError's ``errors``, pass its ``omitted``).
        """
        error = cls.__new__(cls)
        error._keep(errors, omitted)
        if not error.errors:
            raise ValueError("ValidationError.from_errors needs at least one (field, message)")
        RolloutError.__init__(error, error._text())
        return error

    def _keep(self, errors: Iterable[tuple[object, object]], omitted: int) -> None:
        listed: list[tuple[str, str]] = []
        cost = 0
        more = max(0, int(omitted))
        full = False  # once one pair is left out, so is every later one: "and N more"
        for field, message in errors:
            if not full and len(listed) < MAX_LISTED:
                pair = (clip(str(field), MAX_FIELD_LENGTH), clip(str(message), MAX_MESSAGE_LENGTH))
                pair_cost = escaped_length(f"{pair[0]}: {pair[1]}") + (2 if listed else 0)
                if not listed or cost + pair_cost <= MAX_TEXT_LENGTH - _MORE_RESERVE:
                    listed.append(pair)
                    cost += pair_cost
                    continue
            full = True
            more += 1
        self.errors = tuple(listed)
        self.omitted = more

    @property
    def field(self) -> str:
        """The first bad field."""
        return self.errors[0][0]

    @property
    def message(self) -> str:
        """The message for the first bad field."""
        return self.errors[0][1]

    def _text(self) -> str:
        text = "; ".join(f"{field}: {message}" for field, message in self.errors)
        if self.omitted:
            text += f"; {ELLIPSIS}and {self.omitted:,} more"
        return text

    def __str__(self) -> str:
        return self._text()

    def __reduce__(self) -> tuple[object, ...]:
        # Keep every pair when pickled (the default would call cls(text)).
        return (_rebuild_validation_error, (self.errors, self.omitted))


def _rebuild_validation_error(
    errors: tuple[tuple[str, str], ...], omitted: int = 0
) -> ValidationError:
    return ValidationError.from_errors(errors, omitted=omitted)


class RolloutInProgressError(RolloutError):
    """Another rollout holds the lock on this alias."""


class AliasDriftError(RolloutError):
    """Someone else changed the alias while the rollout was running."""


class HookFailedError(RolloutError):
    """A PreTraffic or PostTraffic hook did not answer ``{"status": "Succeeded"}``."""


class AbortedError(RolloutError):
    """Someone asked the rollout to stop (``rollouts abort``, ``POST /rollouts/{id}/abort``)."""


class AlarmFiringError(RolloutError):
    """A watched alarm is in ALARM while a hook's answer is awaited: the wait is failed."""


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
