"""Parse the ``strategy`` field of a rollout request into a ``Strategy``.

Parsing only: the steps a named strategy expands to are computed by
``rollouts.plan.plan``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from rollouts.errors import ValidationError

CODEDEPLOY_PREFIX = "CodeDeployDefault.Lambda"

CODEDEPLOY_NAMES: tuple[str, ...] = (
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
    "AllAtOnce",
)

# Exact and case-sensitive, like CodeDeploy: N is 1..99 and M >= 1, no leading zeros.
_CANARY = re.compile(r"Canary(?P<percent>[1-9][0-9]?)Percent(?P<minutes>[1-9][0-9]*)Minutes?")
_LINEAR = re.compile(r"Linear(?P<percent>[1-9][0-9]?)PercentEvery(?P<minutes>[1-9][0-9]*)Minutes?")
_ALL_AT_ONCE = "AllAtOnce"

ACCEPTED_FORMS = (
    "accepted: a CodeDeploy name (" + ", ".join(CODEDEPLOY_NAMES) + "), "
    f"optionally prefixed with {CODEDEPLOY_PREFIX}; "
    "Canary<N>Percent<M>Minute(s) or Linear<N>PercentEvery<M>Minute(s) with N 1..99 and M >= 1; "
    'or {"steps": [{"weight": 5, "bakeSeconds": 300}, ...]}'
)


class StrategyKind(StrEnum):
    """How traffic moves: one canary step, equal linear steps, all at once, or explicit steps."""

    CANARY = "canary"
    LINEAR = "linear"
    ALL_AT_ONCE = "allAtOnce"
    STEPS = "steps"


@dataclass(frozen=True)
class Step:
    """One traffic step: ``weight`` percent on the target, held for ``bake_seconds``.

    ``Step(10, 300)`` sends 10% of invocations to the target version and bakes for
    five minutes before the next step (or the promotion to 100%).
    """

    weight: int
    bake_seconds: int


@dataclass(frozen=True)
class Strategy:
    """A parsed strategy.

    ``percent``/``minutes`` are set for CANARY and LINEAR, ``steps`` for STEPS;
    ``name`` is the canonical display name without the CodeDeploy prefix.
    """

    kind: StrategyKind
    name: str
    percent: int = 0
    minutes: int = 0
    steps: tuple[Step, ...] = ()

    def as_input(self) -> str | dict[str, list[dict[str, int]]]:
        """The strategy in the request's JSON form (a name, or the explicit steps)."""
        if self.kind is StrategyKind.STEPS:
            return {
                "steps": [{"weight": s.weight, "bakeSeconds": s.bake_seconds} for s in self.steps]
            }
        return self.name


def _minutes_name(minutes: int) -> str:
    return "Minute" if minutes == 1 else "Minutes"


def canary(percent: int, minutes: int) -> Strategy:
    """``canary(10, 5)`` is ``Canary10Percent5Minutes``."""
    name = f"Canary{percent}Percent{minutes}{_minutes_name(minutes)}"
    return Strategy(StrategyKind.CANARY, name, percent=percent, minutes=minutes)


def linear(percent: int, minutes: int) -> Strategy:
    """``linear(10, 1)`` is ``Linear10PercentEvery1Minute``."""
    name = f"Linear{percent}PercentEvery{minutes}{_minutes_name(minutes)}"
    return Strategy(StrategyKind.LINEAR, name, percent=percent, minutes=minutes)


ALL_AT_ONCE = Strategy(StrategyKind.ALL_AT_ONCE, _ALL_AT_ONCE)


def explicit(steps: tuple[Step, ...]) -> Strategy:
    """``explicit((Step(5, 300), Step(50, 600)))`` is named ``Custom(5%/300s, 50%/600s)``."""
    name = "Custom(" + ", ".join(f"{s.weight}%/{s.bake_seconds}s" for s in steps) + ")"
    return Strategy(StrategyKind.STEPS, name, steps=steps)


def parse_strategy(value: object) -> Strategy:
    """Parse the request's ``strategy``: a name, or ``{"steps": [...]}``.

    Raises ``ValidationError`` naming ``strategy`` or the bad part of it
    (``strategy.steps[1].weight``), with the accepted forms in the message.
    """
    if isinstance(value, Strategy):
        return value
    if isinstance(value, str):
        return _parse_name(value)
    if isinstance(value, Mapping):
        return _parse_steps(value)
    raise ValidationError(
        "strategy",
        f"must be a strategy name or an object with steps, not {_kind(value)}; " + ACCEPTED_FORMS,
    )


def _parse_name(text: str) -> Strategy:
    name = text.removeprefix(CODEDEPLOY_PREFIX)
    if name == _ALL_AT_ONCE:
        return ALL_AT_ONCE
    if match := _CANARY.fullmatch(name):
        return canary(int(match["percent"]), int(match["minutes"]))
    if match := _LINEAR.fullmatch(name):
        return linear(int(match["percent"]), int(match["minutes"]))
    raise ValidationError("strategy", f"unknown strategy {text!r}; {ACCEPTED_FORMS}")


def _parse_steps(value: Mapping[object, object]) -> Strategy:
    unknown = [key for key in value if key != "steps"]
    if unknown:
        raise ValidationError.from_errors(
            (f"strategy.{key}", "unknown field; an explicit strategy accepts only steps")
            for key in unknown
        )
    if "steps" not in value:
        raise ValidationError("strategy.steps", "required; " + ACCEPTED_FORMS)
    raw = value["steps"]
    if not isinstance(raw, list | tuple) or not raw:
        raise ValidationError(
            "strategy.steps",
            'must be a non-empty list like [{"weight": 5, "bakeSeconds": 300}]',
        )
    errors: list[tuple[str, str]] = []
    steps: list[Step] = []
    previous: int | None = None
    for index, item in enumerate(raw):
        path = f"strategy.steps[{index}]"
        if not isinstance(item, Mapping):
            errors.append(
                (
                    path,
                    f'must be an object like {{"weight": 5, "bakeSeconds": 300}}, '
                    f"not {_kind(item)}",
                )
            )
            continue
        for key in item:
            if key not in ("weight", "bakeSeconds"):
                errors.append((f"{path}.{key}", "unknown field; accepted: weight, bakeSeconds"))
        weight = _step_int(item, "weight", path, errors, low=1, high=99)
        if weight is not None and previous is not None and weight <= previous:
            errors.append(
                (
                    f"{path}.weight",
                    f"must be greater than the previous step's {previous}; "
                    "weights increase strictly",
                )
            )
        if weight is not None:
            previous = weight
        bake = _step_int(item, "bakeSeconds", path, errors, low=0, high=None)
        if weight is not None and bake is not None:
            steps.append(Step(weight, bake))
    if errors:
        raise ValidationError.from_errors(errors)
    return explicit(tuple(steps))


def _step_int(
    item: Mapping[object, object],
    key: str,
    path: str,
    errors: list[tuple[str, str]],
    *,
    low: int,
    high: int | None,
) -> int | None:
    field = f"{path}.{key}"
    if key not in item:
        errors.append((field, "required"))
        return None
    value = item[key]
    bounds = f"between {low} and {high}" if high is not None else f"of {low} or more"
    # bool is an int subclass; True is not a weight.
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append((field, f"must be an integer {bounds}, not {_kind(value)}"))
        return None
    if value < low or (high is not None and value > high):
        extra = " (100% is the promotion, not a step)" if key == "weight" and value >= 100 else ""
        errors.append((field, f"must be an integer {bounds}, not {value}{extra}"))
        return None
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
