"""The execution input contract, as a pydantic model.

```json
{"functionName": "orders-api", "alias": "live", "version": "7",
 "strategy": "Canary10Percent5Minutes", "alarms": ["orders-api-errors"],
 "hooks": {"preTraffic": "orders-api-pre", "postTraffic": "orders-api-post"},
 "checkIntervalSeconds": 60}
```

``parse_request`` turns every problem into one ``rollouts.errors.ValidationError``
whose fields use the contract's camelCase paths (``hooks.preTraffic``, ``alarms[0]``,
``strategy.steps[1].weight``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from rollouts.errors import ValidationError
from rollouts.plan import (
    MAX_CHECK_INTERVAL_SECONDS,
    MIN_CHECK_INTERVAL_SECONDS,
    check_interval_for,
    plan,
)
from rollouts.strategy import Step, Strategy, parse_strategy

MAX_ALARMS = 25
MAX_ALARM_NAME_LENGTH = 255

_NAME = r"[A-Za-z0-9_-]{1,64}"
_QUALIFIER = r"\$LATEST|[A-Za-z0-9_-]{1,128}"
_REGION = r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d"
_ARN_PREFIX = rf"arn:aws[a-zA-Z-]*:lambda:{_REGION}:\d{{12}}:function:"
_FUNCTION = re.compile(rf"(?:{_ARN_PREFIX})?{_NAME}(?::(?P<qualifier>{_QUALIFIER}))?")
_HOOK = re.compile(rf"(?:{_ARN_PREFIX})?{_NAME}(?::(?:{_QUALIFIER}))?")
_ALIAS = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}")
_VERSION = re.compile(r"[1-9][0-9]*")

_FUNCTION_FORMS = (
    "a function name (1-64 letters, digits, - or _) "
    "or an ARN arn:aws:lambda:<region>:<account>:function:<name>"
)

# The error type our validators raise; its context carries the (field, message) pairs.
_ERROR_TYPE = "rollouts_invalid"


def _fail(errors: Iterable[tuple[str, str]]) -> NoReturn:
    pairs = list(errors)
    text = "; ".join(f"{field}: {message}" for field, message in pairs)
    raise PydanticCustomError(_ERROR_TYPE, "{text}", {"text": text, "errors": pairs})


def _show(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str | int | float):
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
        _fail([(field, f"must be {_FUNCTION_FORMS}, not {value!r}")])
    if match["qualifier"] is not None:
        _fail(
            [
                (
                    field,
                    f"must not include a qualifier (':{match['qualifier']}'); "
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
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return str(value)
    if isinstance(value, str) and _VERSION.fullmatch(value):
        return value
    _fail([(field, f'must be a published version number like "7", not {_show(value)}')])


def _strategy(value: object) -> Strategy:
    try:
        return parse_strategy(value)
    except ValidationError as error:
        _fail(error.errors)


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
            errors.append((field, f"duplicate of alarms[{seen[name]}] ({name!r})"))
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


class Hooks(BaseModel):
    """Lifecycle hooks: Lambda functions invoked before and after traffic moves."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    pre_traffic: Annotated[str | None, _hook("hooks.preTraffic")] = Field(
        default=None, alias="preTraffic"
    )
    post_traffic: Annotated[str | None, _hook("hooks.postTraffic")] = Field(
        default=None, alias="postTraffic"
    )


class RolloutRequest(BaseModel):
    """A validated execution input; ``strategy`` is already parsed."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    function_name: Annotated[str, PlainValidator(_function_name)] = Field(alias="functionName")
    alias: Annotated[str, PlainValidator(_alias)] = Field(alias="alias")
    version: Annotated[str | None, PlainValidator(_version)] = Field(default=None, alias="version")
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

    @model_validator(mode="after")
    def _fits_history_budget(self) -> RolloutRequest:
        try:
            check_interval_for(self.steps, self.check_interval_seconds)
        except ValidationError as error:
            _fail(error.errors)
        return self

    @property
    def steps(self) -> tuple[Step, ...]:
        """The traffic steps of the strategy (the promotion to 100% is not one)."""
        return plan(self.strategy)

    @property
    def resolved_check_interval_seconds(self) -> int:
        """``checkIntervalSeconds``, or 60 s widened to fit the history budget when absent."""
        return check_interval_for(self.steps, self.check_interval_seconds)


def _accepted(model: type[BaseModel]) -> str:
    return ", ".join(info.alias or name for name, info in model.model_fields.items())


_CAMEL = {
    name: info.alias or name
    for model in (RolloutRequest, Hooks)
    for name, info in model.model_fields.items()
}


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            camel = _CAMEL.get(part, part)
            path += f".{camel}" if path else camel
    return path


def _pairs(error: PydanticValidationError) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for item in error.errors(include_url=False):
        kind, loc = item["type"], tuple(item["loc"])
        ctx: dict[str, Any] = item.get("ctx") or {}
        field = _path(loc)
        if kind == _ERROR_TYPE:
            pairs.extend((str(f), str(m)) for f, m in ctx["errors"])
        elif kind == "missing":
            pairs.append((field, "required"))
        elif kind == "extra_forbidden":
            model = Hooks if loc[:1] == ("hooks",) else RolloutRequest
            pairs.append((field, f"unknown field; accepted: {_accepted(model)}"))
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            model = Hooks if loc else RolloutRequest
            pairs.append((field or "input", f"must be a JSON object with {_accepted(model)}"))
        else:
            pairs.append((field or "input", str(item["msg"])))
    return pairs


def parse_request(payload: object) -> RolloutRequest:
    """Validate an execution input; every bad field is named in one ``ValidationError``."""
    try:
        return RolloutRequest.model_validate(payload)
    except PydanticValidationError as error:
        raise ValidationError.from_errors(_pairs(error)) from None


def request_to_dict(request: RolloutRequest) -> dict[str, Any]:
    """The request in the contract's camelCase JSON form; absent options are left out."""
    return request.model_dump(mode="json", by_alias=True, exclude_none=True)
