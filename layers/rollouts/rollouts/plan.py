"""Expand a strategy into traffic steps, and keep an execution inside its history budget.

Pure arithmetic over integer percents and whole seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

from rollouts.errors import ValidationError
from rollouts.strategy import Step, Strategy, StrategyKind

__all__ = [
    "DEFAULT_CHECK_INTERVAL_SECONDS",
    "HISTORY_EVENTS_FIXED",
    "HISTORY_EVENTS_PER_CHECK",
    "HISTORY_EVENTS_PER_SHIFT",
    "HISTORY_EVENT_LIMIT",
    "HISTORY_HEADROOM",
    "MAX_CHECK_INTERVAL_SECONDS",
    "MIN_CHECK_INTERVAL_SECONDS",
    "Step",
    "check_interval_for",
    "checks_for",
    "estimate_history_events",
    "history_budget",
    "min_check_interval",
    "plan",
    "total_bake_seconds",
]

# Step Functions Standard caps one execution at 25,000 history events.
HISTORY_EVENT_LIMIT = 25_000
# Measured on the real state machine (tests/e2e/test_rollouts.py checks the estimate
# bounds what an execution spends): validate, lock, record, publish, both hooks and their
# judging, promote, finish: 57 events once per rollout, rounded up.
HISTORY_EVENTS_FIXED = 60
# One traffic shift: its task and the choice after it.
HISTORY_EVENTS_PER_SHIFT = 7
# One bake (a task waiting on its token) and the health check and choice after it.
HISTORY_EVENTS_PER_CHECK = 13
# Plan for 80% of the limit; the rest is for task retries.
HISTORY_HEADROOM = 0.8

# Alarms wake a bake at once (their state change is an event), so the periodic check is
# the fallback: every 5 minutes keeps a default rollout within a few hundred events.
DEFAULT_CHECK_INTERVAL_SECONDS = 300
MIN_CHECK_INTERVAL_SECONDS = 1
# Health is checked at least hourly; a wider interval would hide an alarm for too long.
MAX_CHECK_INTERVAL_SECONDS = 3600


def plan(strategy: Strategy) -> tuple[Step, ...]:
    """The traffic steps of a strategy; the promotion to 100% is never a step.

    - ``Canary10Percent5Minutes`` -> ``(Step(10, 300),)``
    - ``Linear10PercentEvery1Minute`` -> weights 10, 20, ..., 90, each baked 60 s
    - ``Linear30PercentEvery1Minute`` -> weights 30, 60, 90 (the next, 120, is past 100)
    - ``Linear50PercentEvery2Minutes`` -> weight 50 only (100 is the promotion)
    - ``AllAtOnce`` -> ``()``
    """
    match strategy.kind:
        case StrategyKind.CANARY:
            return (Step(strategy.percent, strategy.minutes * 60),)
        case StrategyKind.LINEAR:
            bake = strategy.minutes * 60
            return tuple(Step(w, bake) for w in range(strategy.percent, 100, strategy.percent))
        case StrategyKind.ALL_AT_ONCE:
            return ()
        case StrategyKind.STEPS:
            return strategy.steps


def total_bake_seconds(steps: Sequence[Step]) -> int:
    """Seconds spent baking across all steps: ``Linear10PercentEvery1Minute`` -> 540."""
    return sum(step.bake_seconds for step in steps)


def checks_for(steps: Sequence[Step], interval: int) -> int:
    """Health checks needed to bake every step, checking every ``interval`` seconds.

    A step baked 300 s checked every 60 s needs 5 checks; baked 90 s, 2 checks
    (after 60 s, then after the remaining 30 s); baked 0 s, none.
    """
    _require_interval(interval)
    return sum(-(-step.bake_seconds // interval) for step in steps)


def estimate_history_events(steps: Sequence[Step], interval: int) -> int:
    """Approximate history events of a rollout that bakes ``steps``, checking every ``interval``.

    ``Canary10Percent5Minutes`` at 60 s: 60 fixed + 7 x 1 shift + 13 x 5 checks = 132.
    """
    return (
        HISTORY_EVENTS_FIXED
        + HISTORY_EVENTS_PER_SHIFT * len(steps)
        + HISTORY_EVENTS_PER_CHECK * checks_for(steps, interval)
    )


def history_budget() -> int:
    """The events a rollout may plan for: 80% of 25,000 = 20,000."""
    return int(HISTORY_EVENT_LIMIT * HISTORY_HEADROOM)


def min_check_interval(steps: Sequence[Step]) -> int | None:
    """The smallest whole-second interval whose estimate fits the budget; None if none does.

    Intervals wider than the longest bake (or than an hour) check no less often,
    so they are not tried. ``Linear1PercentEvery1Minute`` (99 steps of 60 s) fits
    at 5 s: 60 + 7 x 99 + 13 x 99 x 12 = 16,197 events, where 4 s needs 20,058.
    """
    budget = history_budget()
    widest = _widest_useful_interval(steps)
    if estimate_history_events(steps, widest) > budget:
        return None
    low, high = MIN_CHECK_INTERVAL_SECONDS, widest
    # The estimate never grows as the interval widens: binary search the first fit.
    while low < high:
        middle = (low + high) // 2
        if estimate_history_events(steps, middle) <= budget:
            high = middle
        else:
            low = middle + 1
    return low


def check_interval_for(steps: Sequence[Step], requested: int | None) -> int:
    """The health-check interval to use for ``steps``.

    With no request: 300 s, widened to the smallest interval that fits the history
    budget when 60 s does not. A requested interval is used as given, or refused
    (field ``checkIntervalSeconds``) with the minimum that would fit. A plan that
    fits at no interval up to an hour is refused on ``strategy``.
    """
    if requested is not None and (
        isinstance(requested, bool)
        or not isinstance(requested, int)
        or not MIN_CHECK_INTERVAL_SECONDS <= requested <= MAX_CHECK_INTERVAL_SECONDS
    ):
        raise ValidationError(
            "checkIntervalSeconds",
            f"must be a whole number of seconds between {MIN_CHECK_INTERVAL_SECONDS} and "
            f"{MAX_CHECK_INTERVAL_SECONDS}, not {requested!r}",
        )
    interval = DEFAULT_CHECK_INTERVAL_SECONDS if requested is None else requested
    if estimate_history_events(steps, interval) <= history_budget():
        return interval
    minimum = min_check_interval(steps)
    if minimum is None:
        widest = _widest_useful_interval(steps)
        needed = estimate_history_events(steps, widest)
        raise ValidationError(
            "strategy",
            f"{len(steps)} steps baking {total_bake_seconds(steps)} s would need about "
            f"{needed:,} history events even checking every {widest} s, {_over_budget()}; "
            "use fewer steps or shorter bakes",
        )
    if requested is None:
        return minimum
    needed = estimate_history_events(steps, requested)
    raise ValidationError(
        "checkIntervalSeconds",
        f"checking every {requested} s would need about {needed:,} history events, "
        f"{_over_budget()}; use at least {minimum} seconds",
    )


def _over_budget() -> str:
    headroom = round((1 - HISTORY_HEADROOM) * 100)
    return (
        f"over the {history_budget():,} allowed (Step Functions' limit of "
        f"{HISTORY_EVENT_LIMIT:,}, less {headroom}% kept for retries)"
    )


def _widest_useful_interval(steps: Sequence[Step]) -> int:
    longest = max((step.bake_seconds for step in steps), default=0)
    return max(MIN_CHECK_INTERVAL_SECONDS, min(longest, MAX_CHECK_INTERVAL_SECONDS))


def _require_interval(interval: int) -> None:
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ValueError(f"interval must be a whole number of seconds >= 1, not {interval!r}")
