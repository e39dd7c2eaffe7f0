"""Parse the ``strategy`` field of a rollout request into a ``Strategy``.

Parsing only: the steps a named strategy expands to are computed by
``rollouts.plan.plan``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rollouts.errors import ValidationError, clip

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

# Exact and case-sensitive, like CodeDeploy: N is 1..99 and M >= 1, no leading zeros,
# "Minute" when M is 1 and "Minutes" otherwise (checked against the canonical name).
_CANARY = re.compile(r"Canary(?P<percent>[1-9][0-9]?)Percent(?P<minutes>[1-9][0-9]*)Minutes?")
_LINEAR = re.compile(r"Linear(?P<percent>[1-9][0-9]?)PercentEvery(?P<minutes>[1-9][0-9]*)Minutes?")
_ALL_AT_ONCE = "AllAtOnce"
# What a mistyped name probably meant: any case, spaces around, leading zeros, a prefix
# spelled loosely, "Minute" for "Minutes" and back. Only ever used to suggest a name.
_LOOSE = re.compile(
    r"\s*(?:codedeploydefault\.(?:lambda)?\.?)?"
    r"(?P<kind>canary|linear)0*(?P<percent>[1-9][0-9]?)percent(?P<every>every)?"
    r"0*(?P<minutes>[1-9][0-9]*)\s*minutes?\s*",
    re.IGNORECASE,
)
_LOOSE_PREFIX = re.compile(r"\s*(?:codedeploydefault\.(?:lambda)?\.?)?", re.IGNORECASE)
# How alike a name must be to a CodeDeploy one to be suggested (difflib's ratio).
_SUGGESTION_CUTOFF = 0.8
_SHOWN_NAME_LENGTH = 60

# Every message that ends with these stays below ValidationError's bound (600 characters
# a message): keep it short enough, or the forms get clipped mid-word.
ACCEPTED_FORMS = (
    "accepted: a CodeDeploy name (Canary10Percent5Minutes, ...10, 15 or 30Minutes, "
    "Linear10PercentEvery1Minute, ...2, 3 or 10Minutes, AllAtOnce), "
    f"optionally prefixed with {CODEDEPLOY_PREFIX}; "
    "Canary<N>Percent<M>Minutes or Linear<N>PercentEvery<M>Minutes, N 1..99, M >= 1 "
    "(Minute when M is 1); "
    'or {"steps": [{"weight": 5, "bakeSeconds": 300}, {"pause": {}}, ...]}'
    ' (a pause holds the weight before it: {} until promoted, {"seconds": N} for N s)'
)

# The forms a strategy *name* may take, for the refusal of an unknown name: shorter than
# ACCEPTED_FORMS, so that the whole message stays below ValidationError's bound.
NAME_FORMS = (
    "accepted: a CodeDeploy name (" + ", ".join(CODEDEPLOY_NAMES) + "), "
    f"optionally prefixed with {CODEDEPLOY_PREFIX}; "
    "Canary<N>Percent<M>Minutes or Linear<N>PercentEvery<M>Minutes with N 1..99 and M >= 1 "
    '(Minute when M is 1); or explicit steps {"steps": [...]}'
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
    five minutes before the next step (or the promotion to 100%). A pause step
    (``pause``) holds the weight of the step before it (0 when it comes first):
    for ``bake_seconds``, or, ``until_promoted``, until someone runs
    ``rollouts promote``. Health is watched during a pause as during any bake.
    """

    weight: int
    bake_seconds: int
    pause: bool = False
    until_promoted: bool = False

    def as_input(self) -> dict[str, Any]:
        """The step in the request's JSON form."""
        if self.until_promoted:
            return {"pause": {}}
        if self.pause:
            return {"pause": {"seconds": self.bake_seconds}}
        return {"weight": self.weight, "bakeSeconds": self.bake_seconds}

    def label(self) -> str:
        """``10%/300s``, ``pause 600s`` or ``pause``: how the strategy's name shows it."""
        if self.until_promoted:
            return "pause"
        if self.pause:
            return f"pause {self.bake_seconds}s"
        return f"{self.weight}%/{self.bake_seconds}s"


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

    def as_input(self) -> str | dict[str, list[dict[str, Any]]]:
        """The strategy in the request's JSON form (a name, or the explicit steps)."""
        if self.kind is StrategyKind.STEPS:
            return {"steps": [s.as_input() for s in self.steps]}
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
    name = "Custom(" + ", ".join(s.label() for s in steps) + ")"
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
    parsed: Strategy | None = None
    if match := _CANARY.fullmatch(name):
        parsed = canary(int(match["percent"]), int(match["minutes"]))
    elif match := _LINEAR.fullmatch(name):
        parsed = linear(int(match["percent"]), int(match["minutes"]))
    if parsed is not None and parsed.name == name:
        return parsed
    raise ValidationError("strategy", unknown_strategy(text))


def unknown_strategy(text: str) -> str:
    """The refusal of a name no strategy has, with the likeliest one it meant.

    >>> unknown_strategy("Canary10Percent5Minute").split("?")[0]
    'unknown strategy Canary10Percent5Minute; did you mean Canary10Percent5Minutes'
    """
    if not text:
        shown = "(an empty name)"
    elif text.strip() != text or any(not char.isprintable() for char in text):
        shown = json.dumps(text)  # the spaces around it, or what cannot be seen, shown
    else:
        shown = text
    # Clipped, so that the name, the suggestion and the forms all fit in the message.
    shown = clip(shown, _SHOWN_NAME_LENGTH)
    meant = suggestion(text)
    hint = f"did you mean {meant}? " if meant else ""
    return f"unknown strategy {shown}; {hint}{NAME_FORMS}"


def suggestion(text: str) -> str | None:
    """The strategy name ``text`` probably meant, or None.

    A custom name with the wrong case, "Minute" for "Minutes" or spaces around is
    spelled right (``canary5percent2minute`` -> ``Canary5Percent2Minutes``); anything
    else is compared with the CodeDeploy names, case-insensitively
    (``Canary10Percent5Minuts`` -> ``Canary10Percent5Minutes``).
    """
    if match := _LOOSE.fullmatch(text):
        make = canary if match["kind"].lower() == "canary" and not match["every"] else linear
        if match["kind"].lower() == "canary" and match["every"]:
            return None  # "CanaryNPercentEvery..." mixes the two: no one name fits
        meant = make(int(match["percent"]), int(match["minutes"])).name
        return meant if meant != text else None
    core = _LOOSE_PREFIX.sub("", text, count=1).strip().lower()
    by_lower = {name.lower(): name for name in CODEDEPLOY_NAMES}
    close = difflib.get_close_matches(core, list(by_lower), n=1, cutoff=_SUGGESTION_CUTOFF)
    if not close or by_lower[close[0]] == text:
        return None
    return by_lower[close[0]]


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
        if "pause" in item:
            pause = _pause_step(item, path, previous or 0, errors)
            if pause is not None:
                steps.append(pause)
            continue
        for key in item:
            if key not in ("weight", "bakeSeconds"):
                errors.append(
                    (f"{path}.{key}", "unknown field; accepted: weight, bakeSeconds, or pause")
                )
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


def _pause_step(
    item: Mapping[object, object], path: str, weight: int, errors: list[tuple[str, str]]
) -> Step | None:
    """``{"pause": {}}`` (until promoted) or ``{"pause": {"seconds": N}}``, at ``weight``."""
    for key in item:
        if key != "pause":
            errors.append((f"{path}.{key}", "unknown field; a pause step holds only pause"))
    pause = item["pause"]
    if not isinstance(pause, Mapping):
        errors.append(
            (
                f"{path}.pause",
                'must be {} (until promoted) or {"seconds": N}, not ' + _kind(pause),
            )
        )
        return None
    for key in pause:
        if key != "seconds":
            errors.append((f"{path}.pause.{key}", "unknown field; accepted: seconds"))
    if "seconds" not in pause:
        return Step(weight, 0, pause=True, until_promoted=True)
    seconds = _step_int(pause, "seconds", f"{path}.pause", errors, low=1, high=None)
    return None if seconds is None else Step(weight, seconds, pause=True)


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
        return str(value)
    if isinstance(value, str):
        return f"the string {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
