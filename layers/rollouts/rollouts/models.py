"""The execution input contract, as a pydantic model.

```json
{"functionName": "orders-api", "alias": "live", "version": "7",
 "strategy": "Canary10Percent5Minutes", "alarms": ["orders-api-errors"],
 "hooks": {"preTraffic": "orders-api-pre", "postTraffic": "orders-api-post"},
 "checkIntervalSeconds": 60}
```

``codeSha256`` (optional, only without ``version``) pins the code to publish:
the ``CodeSha256`` Lambda reported for ``$LATEST`` (base64 of 32 bytes). Publishing
then fails, naming ``codeSha256``, if ``$LATEST`` holds other code by then.

``parse_request`` turns every problem into one ``rollouts.errors.ValidationError``
whose fields use the contract's camelCase paths (``hooks.preTraffic``, ``alarms[0]``,
``strategy.steps[1].weight``). Any value is refused that way, briefly: a bad value
is quoted by its first characters only, and the error's text is bounded (see
``ValidationError``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from rollouts.errors import ELLIPSIS, QUOTE_LENGTH, ValidationError, quote
from rollouts.plan import (
    MAX_CHECK_INTERVAL_SECONDS,
    MIN_CHECK_INTERVAL_SECONDS,
    check_interval_for,
    plan,
)
from rollouts.strategy import ACCEPTED_FORMS, Step, Strategy, parse_strategy

MAX_ALARMS = 25
MAX_ALARM_NAME_LENGTH = 255

_NAME = r"[A-Za-z0-9_-]{1,64}"
# A plain function name (what API paths and the stack's prefixes speak of).
FUNCTION_NAME = re.compile(_NAME)
_QUALIFIER = r"\$LATEST|[A-Za-z0-9_-]{1,128}"
_REGION = r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d"
_ARN_PREFIX = rf"arn:aws[a-zA-Z-]*:lambda:{_REGION}:\d{{12}}:function:"
_FUNCTION = re.compile(rf"(?:{_ARN_PREFIX})?{_NAME}(?::(?P<qualifier>{_QUALIFIER}))?")
_HOOK = re.compile(rf"(?:{_ARN_PREFIX})?{_NAME}(?::(?:{_QUALIFIER}))?")
ALIAS_NAME = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}")
_ALIAS = ALIAS_NAME
# Lambda numbers versions from 1; a qualifier is at most 128 characters, and no
# function gets near 10**19 versions: more digits are a typo or garbage.
_VERSION = re.compile(r"[1-9][0-9]{0,18}")
# Lambda's CodeSha256: standard base64 (with its padding) of a 32-byte SHA-256 digest.
_CODE_SHA256 = re.compile(r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=")
# A digest is quoted whole (and a little more), to compare it with the one meant.
_SHA256_QUOTE_LENGTH = 64
# No strategy name is this long (the longest CodeDeploy one is 53 characters).
_MAX_STRATEGY_NAME_LENGTH = 200
# Integers with more digits are shown by their size: Python refuses to print
# integers over 4,300 digits, and no field takes one anywhere near this big.
_MAX_SHOWN_DIGITS = 30

_FUNCTION_FORMS = (
    "a function name (1-64 letters, digits, - or _) "
    "or an ARN arn:aws:lambda:<region>:<account>:function:<name>"
)

# The error type our validators raise; its context carries the (field, message) pairs.
_ERROR_TYPE = "rollouts_invalid"


def _fail(errors: Iterable[tuple[str, str]], omitted: int = 0) -> NoReturn:
    # Bounded here already: pydantic's own text of the error repeats it.
    error = ValidationError.from_errors(errors, omitted=omitted)
    raise PydanticCustomError(
        _ERROR_TYPE,
        "{text}",
        {"text": str(error), "errors": list(error.errors), "omitted": error.omitted},
    )


_HUGE = f"a number of more than {_MAX_SHOWN_DIGITS} digits"
_HUGE_FROM: int = 10**_MAX_SHOWN_DIGITS


def _is_huge(value: int) -> bool:
    return abs(value) >= _HUGE_FROM


def _show(value: object, length: int = QUOTE_LENGTH) -> str:
    """A bad value as a message names it: short values quoted, long ones by a prefix."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return quote(value, length)
    if isinstance(value, int):
        return _HUGE if _is_huge(value) else repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _function_name(value: object) -> str:
    field = "functionName"
    if not isinstance(value, str):
        _fail([(field, f"must be {_FUNCTION_FORMS}, not {_show(value)}")])
    match = _FUNCTION.fullmatch(value)
    if match is None:
        _fail([(field, f"must be {_FUNCTION_FORMS}, not {_show(value)}")])
    if match["qualifier"] is not None:
        _fail(
            [
                (
                    field,
                    f"must not include a qualifier ({quote(':' + match['qualifier'])}); "
                    "give the version in version instead",
                )
            ]
        )
    return value


def _alias(value: object) -> str:
    if not isinstance(value, str) or _ALIAS.fullmatch(value) is None:
        _fail(
            [
                (
                    "alias",
                    "must be 1-128 letters, digits, - or _, and not only digits, "
                    f"not {_show(value)}",
                )
            ]
        )
    return value


def _version(value: object) -> str | None:
    field = "version"
    if value is None:
        return None
    if value == "$LATEST":
        _fail([(field, "omit version to publish $LATEST")])
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 10**19:
        return str(value)
    if isinstance(value, str) and _VERSION.fullmatch(value):
        return value
    _fail([(field, f'must be a published version number like "7", not {_show(value)}')])


def _code_sha256(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and _CODE_SHA256.fullmatch(value):
        try:
            if len(base64.b64decode(value, validate=True)) == 32:
                return value
        except binascii.Error:
            pass
    _fail(
        [
            (
                "codeSha256",
                "must be the code's SHA-256 as Lambda reports it in CodeSha256 "
                "(base64 of 32 bytes: 44 characters ending in =), "
                f"not {_show(value, _SHA256_QUOTE_LENGTH)}",
            )
        ]
    )


def _stub(value: object) -> object:
    """An overlong text as its first characters and "…" (still a text, still wrong)."""
    if isinstance(value, str) and len(value) > QUOTE_LENGTH:
        return value[:QUOTE_LENGTH] + ELLIPSIS
    return value


def _shortened(value: object) -> object:
    """The strategy with every overlong text in a step shortened, so messages quote briefly.

    Only texts are shortened, and only where a text is wrong anyway (a weight or a
    bake time); keys are left alone (their paths are shortened later).
    """
    if not isinstance(value, Mapping) or not isinstance(value.get("steps"), list | tuple):
        return value
    steps = [
        {key: _stub(item) for key, item in step.items()} if isinstance(step, Mapping) else step
        for step in value["steps"]
    ]
    return {**value, "steps": steps}


def _strategy(value: object) -> Strategy:
    if isinstance(value, str) and len(value) > _MAX_STRATEGY_NAME_LENGTH:
        _fail([("strategy", f"unknown strategy {quote(value)}; {ACCEPTED_FORMS}")])
    try:
        return parse_strategy(_shortened(value))
    except ValidationError as error:
        _fail(error.errors, error.omitted)
    except ValueError:  # an integer with more digits than Python converts
        _fail([("strategy", f"holds {_HUGE}")])


def _alarms(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        _fail([("alarms", f"must be a list of CloudWatch alarm names, not {_show(value)}")])
    if len(value) > MAX_ALARMS:
        _fail([("alarms", f"at most {MAX_ALARMS} alarms, not {len(value)}")])
    errors: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for index, name in enumerate(value):
        field = f"alarms[{index}]"
        if not isinstance(name, str) or not name.strip():
            errors.append((field, f"must be a non-empty alarm name, not {_show(name)}"))
        elif len(name) > MAX_ALARM_NAME_LENGTH:
            errors.append((field, f"must be at most {MAX_ALARM_NAME_LENGTH} characters"))
        elif name in seen:
            errors.append((field, f"duplicate of alarms[{seen[name]}] ({quote(name)})"))
        else:
            seen[name] = index
    if errors:
        _fail(errors)
    return tuple(value)


def _hook(field: str) -> PlainValidator:
    def validate(value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or _HOOK.fullmatch(value) is None:
            _fail(
                [
                    (
                        field,
                        f"must be {_FUNCTION_FORMS}, optionally with :<qualifier>, "
                        f"not {_show(value)}",
                    )
                ]
            )
        return value

    return PlainValidator(validate)


def _create_alias(value: object) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        _fail([("createAlias", f"must be true or false, not {_show(value)}")])
    return value


def _check_interval(value: object) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not MIN_CHECK_INTERVAL_SECONDS <= value <= MAX_CHECK_INTERVAL_SECONDS
    ):
        _fail(
            [
                (
                    "checkIntervalSeconds",
                    "must be a whole number of seconds between "
                    f"{MIN_CHECK_INTERVAL_SECONDS} and {MAX_CHECK_INTERVAL_SECONDS}, "
                    f"not {_show(value)}",
                )
            ]
        )
    return value


# How long a hook may take to answer (its callback included): CodeDeploy gives an hour.
DEFAULT_HOOK_TIMEOUT_SECONDS = 3_600
MAX_HOOK_TIMEOUT_SECONDS = 86_400
_HOOK_FIELDS = {
    "preTraffic": "preTrafficTimeoutSeconds",
    "postTraffic": "postTrafficTimeoutSeconds",
}


def _hook_objects(value: object) -> object:
    """``{"function": name, "timeoutSeconds": N}`` as the name plus its timeout field."""
    if not isinstance(value, Mapping):
        return value
    flat = dict(value)
    errors: list[tuple[str, str]] = []
    for key, timeout_key in _HOOK_FIELDS.items():
        hook = flat.get(key)
        if timeout_key in flat:
            errors.append(
                (f"hooks.{timeout_key}", f"unknown field; give hooks.{key}.timeoutSeconds")
            )
        if not isinstance(hook, Mapping):
            continue
        field = f"hooks.{key}"
        errors += [
            (f"{field}.{k}", "unknown field; accepted: function, timeoutSeconds")
            for k in hook
            if k not in ("function", "timeoutSeconds")
        ]
        if "function" not in hook:
            errors.append((f"{field}.function", "required"))
        timeout = hook.get("timeoutSeconds", DEFAULT_HOOK_TIMEOUT_SECONDS)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int)
            or not 1 <= timeout <= MAX_HOOK_TIMEOUT_SECONDS
        ):
            errors.append(
                (
                    f"{field}.timeoutSeconds",
                    f"must be a whole number of seconds from 1 to {MAX_HOOK_TIMEOUT_SECONDS}"
                    f" (a day), not {_show(timeout)}",
                )
            )
        flat[key] = hook.get("function")
        flat[timeout_key] = timeout
    if errors:
        _fail(errors)
    return flat


class Hooks(BaseModel):
    """Lifecycle hooks: Lambda functions invoked before and after traffic moves.

    Each is a function name, or ``{"function": name, "timeoutSeconds": N}``: how
    long the rollout waits for its answer, a callback included (default an hour,
    at most a day).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    pre_traffic: Annotated[str | None, _hook("hooks.preTraffic")] = Field(
        default=None, alias="preTraffic"
    )
    post_traffic: Annotated[str | None, _hook("hooks.postTraffic")] = Field(
        default=None, alias="postTraffic"
    )
    pre_traffic_timeout_seconds: int = Field(
        default=DEFAULT_HOOK_TIMEOUT_SECONDS, alias="preTrafficTimeoutSeconds", exclude=True
    )
    post_traffic_timeout_seconds: int = Field(
        default=DEFAULT_HOOK_TIMEOUT_SECONDS, alias="postTrafficTimeoutSeconds", exclude=True
    )

    @model_validator(mode="before")
    @classmethod
    def _objects(cls, value: object) -> object:
        return _hook_objects(value)


class RolloutRequest(BaseModel):
    """A validated execution input; ``strategy`` is already parsed."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    function_name: Annotated[str, PlainValidator(_function_name)] = Field(alias="functionName")
    alias: Annotated[str, PlainValidator(_alias)] = Field(alias="alias")
    version: Annotated[str | None, PlainValidator(_version)] = Field(default=None, alias="version")
    code_sha256: Annotated[str | None, PlainValidator(_code_sha256)] = Field(
        default=None, alias="codeSha256"
    )
    strategy: Annotated[
        Strategy,
        PlainValidator(_strategy),
        PlainSerializer(lambda s: s.as_input()),
    ] = Field(alias="strategy")
    alarms: Annotated[tuple[str, ...], PlainValidator(_alarms), PlainSerializer(list)] = Field(
        default=(), alias="alarms"
    )
    hooks: Hooks | None = Field(default=None, alias="hooks")
    check_interval_seconds: Annotated[int | None, PlainValidator(_check_interval)] = Field(
        default=None, alias="checkIntervalSeconds"
    )
    # A first deploy: create the alias (a missing alias is refused without it).
    create_alias: Annotated[bool | None, PlainValidator(_create_alias)] = Field(
        default=None, alias="createAlias"
    )

    @model_validator(mode="after")
    def _consistent(self) -> RolloutRequest:
        errors: list[tuple[str, str]] = []
        omitted = 0
        if self.code_sha256 is not None and self.version is not None:
            errors.append(
                (
                    "codeSha256",
                    "applies only when publishing $LATEST: give version or codeSha256, not both",
                )
            )
        try:
            check_interval_for(self.steps, self.check_interval_seconds)
        except ValidationError as error:
            errors.extend(error.errors)
            omitted += error.omitted
        except ValueError:  # an integer with more digits than Python converts
            errors.append(("strategy", f"holds {_HUGE}"))
        if errors:
            _fail(errors, omitted)
        return self

    @property
    def steps(self) -> tuple[Step, ...]:
        """The traffic steps of the strategy (the promotion to 100% is not one)."""
        return plan(self.strategy)

    @property
    def resolved_check_interval_seconds(self) -> int:
        """``checkIntervalSeconds``, or 300 s widened to fit the history budget when absent."""
        return check_interval_for(self.steps, self.check_interval_seconds)


def _accepted(model: type[BaseModel]) -> str:
    """The fields a request may hold (not the ones the model fills in itself)."""
    return ", ".join(
        info.alias or name for name, info in model.model_fields.items() if not info.exclude
    )


_CAMEL = {
    name: info.alias or name
    for model in (RolloutRequest, Hooks)
    for name, info in model.model_fields.items()
}


# A path part (an unknown key, as sent) longer than this is shown by its first characters.
_LONG_PART = re.compile(rf"[^.\[\]]{{{QUOTE_LENGTH + 1},}}")
# A number this long in a message (a bake time in the history budget's) is a bad value too.
_LONG_NUMBER = re.compile(rf"[0-9]{{{_MAX_SHOWN_DIGITS + 1},}}")


# A key that can be written plainly in a dotted path; any other is written ["like this"].
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]+")


def _short_path(field: str) -> str:
    """``field`` with every overlong key in it cut to its first characters and "…"."""
    return _LONG_PART.sub(lambda match: match[0][:QUOTE_LENGTH] + ELLIPSIS, field)


def _path(loc: tuple[int | str, ...]) -> str:
    """The contract's path of a location: ``hooks.preTraffic``, ``alarms[1]``, ``[""]``.

    Keys as sent are cut to their first characters; an empty key, or one with
    dots, spaces or brackets, is quoted in brackets, so that it is still seen.
    """
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        camel = _CAMEL.get(part, part)
        if len(camel) > QUOTE_LENGTH:
            camel = camel[:QUOTE_LENGTH] + ELLIPSIS
        if _PLAIN_KEY.fullmatch(camel.removesuffix(ELLIPSIS)):
            path += f".{camel}" if path else camel
        else:
            path += f"[{json.dumps(camel, ensure_ascii=False)}]"
    return path


def _pairs(error: PydanticValidationError) -> tuple[list[tuple[str, str]], int]:
    pairs: list[tuple[str, str]] = []
    omitted = 0
    # Without the input: pydantic would copy every bad value into every error.
    for item in error.errors(include_url=False, include_input=False):
        kind, loc = item["type"], tuple(item["loc"])
        ctx: dict[str, Any] = item.get("ctx") or {}
        field = _path(loc)
        if kind == _ERROR_TYPE:
            # Paths our validators (and the strategy's) built, with keys as sent.
            pairs.extend((_short_path(str(f)), str(m)) for f, m in ctx["errors"])
            omitted += int(ctx.get("omitted") or 0)
        elif kind == "missing":
            pairs.append((field, "required"))
        elif kind == "extra_forbidden":
            model = Hooks if loc[:1] == ("hooks",) else RolloutRequest
            pairs.append((field, f"unknown field; accepted: {_accepted(model)}"))
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            model = Hooks if loc else RolloutRequest
            pairs.append((field or "input", f"must be a JSON object with {_accepted(model)}"))
        else:
            # pydantic's own words, which may quote the input: kept short.
            pairs.append((field or "input", _short_message(str(item["msg"]))))
    return [(field, _short_numbers(message)) for field, message in pairs], omitted


def _short_message(message: str) -> str:
    limit = 4 * QUOTE_LENGTH
    return message if len(message) <= limit else message[:limit] + ELLIPSIS


def _short_numbers(message: str) -> str:
    return _LONG_NUMBER.sub(lambda match: match[0][:_MAX_SHOWN_DIGITS] + ELLIPSIS, message)


def parse_request(payload: object) -> RolloutRequest:
    """Validate an execution input; every bad field is named in one ``ValidationError``.

    Total: any value at all gives a request or a ValidationError, never another error.
    """
    try:
        return RolloutRequest.model_validate(payload)
    except PydanticValidationError as error:
        pairs, omitted = _pairs(error)
        raise ValidationError.from_errors(pairs, omitted=omitted) from None
    except RecursionError:
        # Nesting deeper than Python follows: nothing a pipeline would send.
        raise ValidationError("input", "is nested too deeply to be an execution input") from None


def request_to_dict(request: RolloutRequest) -> dict[str, Any]:
    """The request in the contract's camelCase JSON form; absent options are left out."""
    return request.model_dump(mode="json", by_alias=True, exclude_none=True)
