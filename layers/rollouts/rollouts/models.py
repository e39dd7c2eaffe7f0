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
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from rollouts.analysis import DEFAULT_SETTLE_SECONDS, PERIOD_SECONDS, Thresholds
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
# The same from a nested model's validators: each field is relative to the error's location.
_NESTED_ERROR_TYPE = "rollouts_invalid_here"


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


# The shortest bake a step can be judged in: the first whole minute after its shift
# starts up to a minute later, and a verdict needs a whole minute of data after that.
MIN_JUDGED_BAKE_SECONDS = 2 * PERIOD_SECONDS
# At most this many custom metrics: each is two more queries at every health check.
MAX_METRICS = 10
MAX_SETTLE_SECONDS = 3600
# Numbers a record can keep: DynamoDB stores 1e-130 to 1e126, and no threshold needs
# more than six decimals or more than a trillion.
_SMALLEST, _LARGEST = 1e-6, 1e12


def _storable_number(value: float | None) -> float | None:
    if value is not None and value != 0 and not _SMALLEST <= abs(value) <= _LARGEST:
        _fail_here(
            "", f"must be 0 or between {_SMALLEST:g} and {_LARGEST:g} in size, not {value:g}"
        )
    return value


_Percent = Annotated[
    float, Field(strict=True, ge=0, le=100, allow_inf_nan=False), AfterValidator(_storable_number)
]
_Positive = Annotated[
    float, Field(strict=True, gt=0, allow_inf_nan=False), AfterValidator(_storable_number)
]
# What the analysis may hold in all, as JSON: it travels with every task of the rollout.
MAX_ANALYSIS_BYTES = 8_192
# A CloudWatch namespace: printable, and not starting with a colon.
_NAMESPACE = re.compile(r"[^:\x00-\x1f][^\x00-\x1f]*")
# A CloudWatch statistic: Sum, Average, Minimum, Maximum, SampleCount, or a percentile.
_STATISTIC = (
    r"Sum|Average|Minimum|Maximum|SampleCount|p(?:100(?:\.0{1,2})?|[1-9]?[0-9](?:\.[0-9]{1,2})?)"
)
VERSION_PLACEHOLDER = "${version}"


def _fail_here(field: str, message: str) -> NoReturn:
    """Refuse a value inside a nested model: ``field`` is relative to where it is."""
    raise PydanticCustomError(_NESTED_ERROR_TYPE, "{errors}", {"errors": [(field, message)]})


def _namespace(value: str) -> str:
    if not _NAMESPACE.fullmatch(value):
        _fail_here("", "must be printable and must not start with a colon, as CloudWatch asks")
    return value


def _statistic(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(_STATISTIC, value):
        _fail_here(
            "",
            "must be Sum, Average, Minimum, Maximum, SampleCount or a percentile like p99,"
            f" not {_show(value)}",
        )
    return value


class MetricDimension(BaseModel):
    """``{"name": "Version", "value": "${version}"}``: ``${version}`` is the version judged."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: Annotated[str, Field(strict=True, min_length=1, max_length=255)]
    value: Annotated[str, Field(strict=True, min_length=1, max_length=1024)]

    def for_version(self, version: str) -> dict[str, str]:
        """CloudWatch's ``{"Name", "Value"}`` with ``${version}`` replaced."""
        return {"Name": self.name, "Value": self.value.replace(VERSION_PLACEHOLDER, version)}


class CustomMetric(BaseModel):
    """A metric of your own, judged for the target and the baseline like Lambda's.

    One of its dimensions (or more) must hold ``${version}``, so that each version
    is read apart; ``max`` fails a target whose statistic is above it,
    ``maxIncrease`` one above that many times the baseline's.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    namespace: Annotated[
        str, Field(strict=True, min_length=1, max_length=255), AfterValidator(_namespace)
    ]
    name: Annotated[str, Field(strict=True, min_length=1, max_length=255)]
    dimensions: Annotated[tuple[MetricDimension, ...], Field(min_length=1, max_length=30)]
    statistic: Annotated[str, PlainValidator(_statistic)] = "Sum"
    max: Annotated[
        float | None, Field(strict=True, allow_inf_nan=False), AfterValidator(_storable_number)
    ] = None
    max_increase: _Positive | None = Field(default=None, alias="maxIncrease")

    @model_validator(mode="after")
    def _judged_somehow(self) -> CustomMetric:
        names = [d.name for d in self.dimensions]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            _fail_here("dimensions", f"names {', '.join(map(quote, repeated))} more than once")
        if self.max is None and self.max_increase is None:
            _fail_here("", "give max, maxIncrease or both: a metric must be judged")
        if not any(VERSION_PLACEHOLDER in d.value for d in self.dimensions):
            _fail_here(
                "dimensions",
                "no dimension value holds ${version}: the target and the baseline"
                " would be read as one",
            )
        return self

    @property
    def label(self) -> str:
        """``Orders CheckoutFailures Sum``: how reasons name it."""
        return f"{self.namespace} {self.name} {self.statistic}"


class Analysis(BaseModel):
    """Judge the target by its own traffic (``rollouts.analysis``), at every health check.

    ``maxErrorRate`` (percent), ``compareToBaseline`` with ``confidence``,
    ``maxP99DurationMs``, ``maxDurationIncrease``, custom ``metrics``; below
    ``minInvocations`` a verdict is inconclusive, and a step whose bake ended
    inconclusive does what ``inconclusive`` says; ``settleSeconds`` after each
    shift before its first verdict; ``dryRun`` records verdicts and acts on none.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    max_error_rate: _Percent | None = Field(default=None, alias="maxErrorRate")
    compare_to_baseline: Annotated[bool, Field(strict=True)] = Field(
        default=False, alias="compareToBaseline"
    )
    confidence: Annotated[float, Field(strict=True, ge=0.5, lt=1, allow_inf_nan=False)] = 0.99
    max_p99_duration_ms: _Positive | None = Field(default=None, alias="maxP99DurationMs")
    max_duration_increase: _Positive | None = Field(default=None, alias="maxDurationIncrease")
    min_invocations: Annotated[int, Field(strict=True, ge=0, le=1_000_000_000)] = Field(
        default=0, alias="minInvocations"
    )
    inconclusive: Literal["pause", "rollback", "continue"] = "pause"
    metrics: Annotated[tuple[CustomMetric, ...], Field(max_length=MAX_METRICS)] = ()
    settle_seconds: Annotated[int, Field(strict=True, ge=0, le=MAX_SETTLE_SECONDS)] = Field(
        default=DEFAULT_SETTLE_SECONDS, alias="settleSeconds"
    )
    dry_run: Annotated[bool, Field(strict=True)] = Field(default=False, alias="dryRun")

    @model_validator(mode="after")
    def _judges_something(self) -> Analysis:
        judged = (
            self.max_error_rate is not None
            or self.compare_to_baseline
            or self.max_p99_duration_ms is not None
            or self.max_duration_increase is not None
            or self.metrics
        )
        if not judged:
            _fail_here(
                "",
                "judges nothing: give maxErrorRate, compareToBaseline,"
                " maxP99DurationMs, maxDurationIncrease or metrics",
            )
        return self

    def thresholds(self) -> Thresholds:
        return Thresholds(
            max_error_rate=self.max_error_rate,
            compare_to_baseline=self.compare_to_baseline,
            confidence=self.confidence,
            max_p99_duration_ms=self.max_p99_duration_ms,
            max_duration_increase=self.max_duration_increase,
            min_invocations=self.min_invocations,
        )


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
    analysis: Analysis | None = Field(default=None, alias="analysis")
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
        else:
            errors += _analysis_fits(self.analysis, self.steps)
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


def _analysis_fits(analysis: Analysis | None, steps: tuple[Step, ...]) -> list[tuple[str, str]]:
    """Why ``analysis`` cannot judge these steps: none to judge, or a bake shorter than
    the settle delay (that step would never get a verdict)."""
    if analysis is None:
        return []
    if not steps:
        return [("analysis", "the strategy moves all traffic at once: no step to judge")]
    size = len(analysis.model_dump_json(by_alias=True, exclude_defaults=True))
    if size > MAX_ANALYSIS_BYTES:
        return [
            (
                "analysis",
                f"is {size} bytes as JSON, more than the {MAX_ANALYSIS_BYTES} it may hold"
                " (it travels with every task of the rollout)",
            )
        ]
    if steps[0].pause:
        return [
            (
                "strategy",
                "a pause before the first step holds 0% on the target: with analysis it"
                " could never be judged; pause after a step instead",
            )
        ]
    for number, step in enumerate(steps, 1):
        if step.pause:
            continue  # a pause holds the step before: it is judged on with it
        if step.bake_seconds < analysis.settle_seconds:
            return [
                (
                    "analysis.settleSeconds",
                    f"{analysis.settle_seconds} s is longer than step {number}'s bake of"
                    f" {step.bake_seconds} s: that step would never get a verdict",
                )
            ]
        if step.bake_seconds < MIN_JUDGED_BAKE_SECONDS:
            return [
                (
                    "strategy",
                    f"step {number} bakes {step.bake_seconds} s: with analysis every step must"
                    f" bake at least {MIN_JUDGED_BAKE_SECONDS} s, a whole minute of its own"
                    " traffic after the minute it shifted in (Lambda's metrics are per minute)",
                )
            ]
    return []


def _accepted(model: type[BaseModel]) -> str:
    """The fields a request may hold (not the ones the model fills in itself)."""
    return ", ".join(
        info.alias or name for name, info in model.model_fields.items() if not info.exclude
    )


_CAMEL = {
    name: info.alias or name
    for model in (RolloutRequest, Hooks, Analysis, CustomMetric, MetricDimension)
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
        elif kind == _NESTED_ERROR_TYPE:
            for relative, message in ctx["errors"]:
                here = ".".join(part for part in (field, str(relative)) if part)
                pairs.append((_short_path(here or "input"), str(message)))
        elif kind == "missing":
            pairs.append((field, "required"))
        elif kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            pairs.append((field, f"unknown field; accepted: {_accepted(model)}"))
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            model = _model_at(loc)
            pairs.append((field or "input", f"must be a JSON object with {_accepted(model)}"))
        else:
            # pydantic's own words, which may quote the input: kept short.
            pairs.append((field or "input", _short_message(str(item["msg"]))))
    return [(field, _short_numbers(message)) for field, message in pairs], omitted


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The model that the object at ``loc`` is validated by: ``("analysis",)`` -> Analysis."""
    names = [part for part in loc if isinstance(part, str)]
    if not names:
        return RolloutRequest
    if names[0] == "hooks":
        return Hooks
    if names[0] != "analysis":
        return RolloutRequest
    nested: dict[int, type[BaseModel]] = {1: Analysis, 2: CustomMetric}
    return nested.get(len(names), MetricDimension)


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
