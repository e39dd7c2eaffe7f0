"""Decide a rollout's next action from where it is, how healthy it is, and the time.

Pure: no clients, no clock; ``now`` is passed in and recorded on the decision.
Three pure functions hold every rule a task follows (observe, decide, act):

- ``owns(expected, pending, current)``: whether the alias is still the rollout's;
- ``decide(progress, health, now, control)``: the next action of a running rollout;
- ``wake_reason(...)``: whether a bake must end now rather than wait;
- ``decide_cleanup(...)``: what an ending does to the alias.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from rollouts.durations import human
from rollouts.strategy import Step

# A hold (paused, or a pause step until promoted) looks at least this seldom: the
# alarms wake it at once, so the look is a fallback, and a hold of days must stay
# inside the execution's 25,000 history events (about 13 events a look).
HOLD_CHECK_SECONDS = 900


class Action(StrEnum):
    """What the state machine does next."""

    SHIFT = "shift"
    BAKE = "bake"
    PROMOTE = "promote"
    # After promotion (and the PostTraffic hook): the last look found nothing wrong.
    FINISH = "finish"
    ROLL_BACK = "rollback"
    STOP_ON_DRIFT = "drift"


@dataclass(frozen=True)
class Routing:
    """Where an alias sends traffic: a primary version and percents on others (pure data)."""

    version: str
    extra: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, version: str, extra: dict[str, int] | None = None) -> Routing:
        return cls(version, tuple(sorted((v, w) for v, w in (extra or {}).items() if w > 0)))


def owns(expected: Routing | None, pending: Routing | None, current: Routing | None) -> bool:
    """Whether the alias is still the rollout's: the one rule every task and ending uses.

    The alias is the rollout's when it routes exactly as the rollout last left it
    (``expected``; None: the alias should not exist, a first deploy before its
    promotion), or exactly as a task recorded it was about to write (``pending``:
    that write landed but its answer was lost). The RevisionId does not enter
    into it: a description-only update changes the RevisionId, not who owns the
    routing. Every write is still fenced by the RevisionId it observed.

    >>> owns(Routing.of("1", {"2": 10}), None, Routing.of("1", {"2": 10}))
    True
    >>> owns(Routing.of("1", {"2": 10}), None, Routing.of("3"))
    False
    >>> owns(Routing.of("1"), Routing.of("1", {"2": 10}), Routing.of("1", {"2": 10}))
    True
    """
    return current == expected or (pending is not None and current == pending)


class Cleanup(StrEnum):
    """What an ending does to the alias."""

    # Write the baseline at 100% with the RevisionId just read: restores a split and, when
    # the alias is already on the baseline, renews its RevisionId so that a late write
    # by a task still running for this rollout fails.
    RESTORE = "restore"
    # A first deploy: delete the alias the rollout created.
    DELETE = "delete"
    # Nothing to undo (a first deploy that never created its alias).
    NOTHING = "nothing"
    # Someone else owns the alias now: leave it as found.
    LEAVE = "leave"


def decide_cleanup(
    *,
    expected: Routing | None,
    pending: Routing | None,
    current: Routing | None,
    first_deploy: bool,
    drift_reported: bool,
    lock_taken_by_other: bool,
    baseline: Routing | None = None,
    fence: bool = True,
) -> Cleanup:
    """What an ending (rollback, release after a stop, stale takeover) does to the alias.

    Total over its inputs: another rollout holding the lock, or a drift already
    reported, leaves the alias alone. An alias already on the baseline needs
    nothing (but the fence below). Otherwise an alias the rollout does not own
    (``owns``) is left alone. Otherwise a first deploy deletes the alias it created (or finds
    nothing to do), and every other rollout writes the baseline back, even when
    the alias is on the baseline already if ``fence`` (a task of the rollout may
    still be running: after a stop, a task timeout, or for a stale lock), so that
    the RevisionId that task holds is stale.
    """
    if lock_taken_by_other or drift_reported:
        return Cleanup.LEAVE
    if current is None:
        return Cleanup.NOTHING if first_deploy else Cleanup.LEAVE
    if baseline is not None and current == baseline:
        # Already where every ending wants it (whoever put it there).
        return Cleanup.RESTORE if fence else Cleanup.NOTHING
    if not owns(expected, pending, current):
        return Cleanup.LEAVE
    return Cleanup.DELETE if first_deploy else Cleanup.RESTORE


@dataclass(frozen=True)
class Progress:
    """Where a rollout is.

    ``step_index`` is the step whose weight is live now (-1 before the first
    shift); ``baked_seconds`` is the bake completed at that step, including the
    wait that just ended.
    """

    steps: tuple[Step, ...]
    step_index: int
    baked_seconds: int
    check_interval_seconds: int
    # The alias is 100% on the target; only the last look (FINISH) remains.
    promoted: bool = False

    def __post_init__(self) -> None:
        if not -1 <= self.step_index < len(self.steps):
            raise ValueError(
                f"step_index must be between -1 and {len(self.steps) - 1}, not {self.step_index}"
            )
        if self.baked_seconds < 0:
            raise ValueError(f"baked_seconds must be >= 0, not {self.baked_seconds}")
        if self.check_interval_seconds < 1:
            raise ValueError(
                f"check_interval_seconds must be >= 1, not {self.check_interval_seconds}"
            )

    @classmethod
    def start(cls, steps: tuple[Step, ...], check_interval_seconds: int) -> Progress:
        """A rollout before its first shift."""
        return cls(steps, -1, 0, check_interval_seconds)

    def after_wait(self, seconds: int) -> Progress:
        """The same step, ``seconds`` more baked."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, not {seconds}")
        return replace(self, baked_seconds=self.baked_seconds + seconds)

    def at_step(self, index: int) -> Progress:
        """Step ``index`` is now live, nothing baked yet."""
        return replace(self, step_index=index, baked_seconds=0)

    @property
    def weight(self) -> int:
        """Percent of traffic on the target now (0 before the first shift)."""
        return self.steps[self.step_index].weight if self.step_index >= 0 else 0

    def where(self) -> str:
        """``"at step 2 of 3 (20% on the target)"`` or ``"before any traffic moved"``."""
        if self.promoted:
            return "after promotion (100% on the target)"
        if self.step_index < 0:
            return "before any traffic moved"
        return f"at step {self.step_index + 1} of {len(self.steps)} ({self.weight}% on the target)"


class Inconclusive(StrEnum):
    """What a step whose bake ended with an inconclusive verdict does (``inconclusive``)."""

    PAUSE = "pause"
    ROLL_BACK = "rollback"
    CONTINUE = "continue"


@dataclass(frozen=True)
class Judgement:
    """The analysis's latest verdict on the live step (``rollouts.analysis``).

    ``outcome`` is ``pass``, ``fail`` or ``inconclusive`` (settling included);
    ``reason`` the verdict's words; ``inconclusive`` what a step whose bake has
    ended does while the verdict is not a pass.
    """

    outcome: str
    reason: str
    inconclusive: Inconclusive = Inconclusive.PAUSE


@dataclass(frozen=True)
class Health:
    """What the last health check found."""

    alarms_firing: tuple[str, ...] = ()
    # Alarms the rollout watches that no longer exist: health cannot be judged.
    alarms_missing: tuple[str, ...] = ()
    # e.g. "aborted by alice: bad latency"
    abort_reason: str | None = None
    # e.g. "alias live points at version 9, expected 6 with 10% on 7"
    drift: str | None = None
    # e.g. "this rollout no longer holds the lock on orders-api:live": stop moving traffic,
    # and put the alias back (it is still the rollout's, or this would be drift).
    lock_lost: str | None = None
    # The analysis's verdict on the live step; None without analysis (or in a dry run).
    analysis: Judgement | None = None


@dataclass(frozen=True)
class Control:
    """What people asked of a running rollout, besides an abort (which is ``Health``).

    ``paused``: ``"paused by alice: checking logs"`` while a pause holds it;
    ``promote_step``: promote past this step (the step live when it was asked; -1
    before the first shift); ``promote_full``: go to 100% now.
    """

    paused: str | None = None
    promote_step: int | None = None
    promote_full: bool = False


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The next action.

    ``step_index`` is the step to apply next for SHIFT, the live step otherwise;
    ``wait_seconds`` is set for BAKE, and ``held`` when that wait bakes nothing (a
    pause); ``reason`` for ROLL_BACK and STOP_ON_DRIFT, and for a hold.
    """

    action: Action
    step_index: int
    decided_at: datetime
    wait_seconds: int = 0
    reason: str | None = None
    held: bool = False


def decide(
    progress: Progress, health: Health, now: datetime, control: Control | None = None
) -> Decision:
    """The next action, by these rules in order.

    1. drift -> STOP_ON_DRIFT (someone else owns the alias now; leave it alone);
    2. an abort request, or the alias lock lost -> ROLL_BACK;
    3. any alarm firing, or missing -> ROLL_BACK, naming every such alarm;
       the analysis's verdict a fail -> ROLL_BACK, with the verdict's reason;
    4. promoted -> FINISH (the last look found nothing wrong);
    5. ``promote --full`` -> PROMOTE;
    6. paused -> BAKE, held (nothing moves, nothing bakes) until resumed;
    7. before the first shift -> SHIFT step 0, or PROMOTE when there are no steps;
    8. a promote of the live step -> SHIFT the next step, or PROMOTE after the last;
       so does a live step that has baked its time, once the analysis (if any) passed
       it; while its verdict is inconclusive it does what ``inconclusive`` says:
       BAKE held until promoted (``pause``), ROLL_BACK, or go on (``continue``);
    9. a pause step until promoted -> BAKE, held;
    10. otherwise BAKE for the check interval or the bake remaining, whichever is shorter.

    Rules 1-3 come first at every point, so nothing moves traffic while an abort,
    a firing alarm or drift is observed, before the first shift, during a pause
    and after promotion too. A hold looks again every check interval, and at
    least every ``HOLD_CHECK_SECONDS``.

    Step ``Step(10, 300)`` live with 120 s baked and a 60 s interval -> BAKE 60 s;
    with 270 s baked -> BAKE 30 s; with 300 s baked -> PROMOTE.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    control = control or Control()
    index = progress.step_index

    def decision(
        action: Action,
        step_index: int = index,
        wait_seconds: int = 0,
        reason: str | None = None,
        held: bool = False,
    ) -> Decision:
        return Decision(
            action=action,
            step_index=step_index,
            decided_at=now,
            wait_seconds=wait_seconds,
            reason=reason,
            held=held,
        )

    def after_live_step() -> Decision:
        if index + 1 < len(progress.steps):
            return decision(Action.SHIFT, index + 1)
        return decision(Action.PROMOTE)

    hold = max(progress.check_interval_seconds, HOLD_CHECK_SECONDS)
    if health.drift is not None:
        return decision(Action.STOP_ON_DRIFT, reason=f"{health.drift} {progress.where()}")
    if health.abort_reason is not None:
        return decision(Action.ROLL_BACK, reason=f"{health.abort_reason} {progress.where()}")
    if health.lock_lost is not None:
        return decision(Action.ROLL_BACK, reason=f"{health.lock_lost} {progress.where()}")
    if health.alarms_firing:
        return decision(Action.ROLL_BACK, reason=_alarms_reason(health.alarms_firing, progress))
    if health.alarms_missing:
        missing = ", ".join(health.alarms_missing)
        return decision(
            Action.ROLL_BACK,
            reason=f"alarm {missing} no longer exists, so health cannot be judged"
            f" {progress.where()}",
        )
    judged = health.analysis
    if judged is not None and judged.outcome == "fail" and not progress.promoted:
        return decision(
            Action.ROLL_BACK, reason=f"analysis failed {progress.where()}: {judged.reason}"
        )
    if progress.promoted:
        return decision(Action.FINISH)
    if control.promote_full:
        return decision(Action.PROMOTE)
    if control.paused is not None:
        return decision(
            Action.BAKE,
            wait_seconds=hold,
            reason=f"{control.paused} {progress.where()}",
            held=True,
        )
    if index < 0:
        if not progress.steps:
            return decision(Action.PROMOTE)
        return decision(Action.SHIFT, 0)
    step = progress.steps[index]
    if control.promote_step == index:
        return after_live_step()
    if step.until_promoted:
        return decision(
            Action.BAKE,
            wait_seconds=hold,
            reason=f"waiting for rollouts promote {progress.where()}",
            held=True,
        )
    remaining = step.bake_seconds - progress.baked_seconds
    if remaining > 0:
        return decision(Action.BAKE, wait_seconds=min(progress.check_interval_seconds, remaining))
    if judged is None or judged.outcome == "pass" or judged.inconclusive == Inconclusive.CONTINUE:
        return after_live_step()
    unjudged = f"analysis inconclusive {progress.where()} after its bake: {judged.reason}"
    if judged.inconclusive == Inconclusive.ROLL_BACK:
        return decision(Action.ROLL_BACK, reason=unjudged)
    return decision(
        Action.BAKE,
        wait_seconds=hold,
        reason=f"{unjudged}; holding until a verdict passes, or rollouts promote",
        held=True,
    )


def wake_reason(
    progress: Progress, health: Health, control: Control, now: datetime, *, held: bool
) -> str | None:
    """Why a bake that is about to wait must end now instead, or None to wait.

    A bake waits only while the decision at its start still stands: it ends at
    once when the rollout would now do anything but this same wait (roll back,
    stop, shift or promote on a promote request), or when a pause began or ended
    (``held`` says whether this wait is a hold).
    """
    decided = decide(progress, health, now, control)
    if decided.action != Action.BAKE:
        return describe(decided, progress)
    if decided.held != held:
        return "paused" if decided.held else "resumed"
    return None


def alarms_firing(watched: tuple[str, ...], states: dict[str, str]) -> str | None:
    """``"alarm a is in ALARM"`` (or ``"alarms a, b are in ALARM"``), or None when none is.

    What ends a hook's wait at once: an alarm the rollout watches, in ALARM now.
    """
    firing = tuple(name for name in watched if states.get(name) == "ALARM")
    if not firing:
        return None
    if len(firing) == 1:
        return f"alarm {firing[0]} is in ALARM"
    return f"alarms {', '.join(firing)} are in ALARM"


def _alarms_reason(alarms: tuple[str, ...], progress: Progress) -> str:
    """``"alarm a is in ALARM ..."`` or ``"alarms a, b are in ALARM ..."``."""
    if len(alarms) == 1:
        return f"alarm {alarms[0]} is in ALARM {progress.where()}"
    return f"alarms {', '.join(alarms)} are in ALARM {progress.where()}"


def describe(decision: Decision, progress: Progress) -> str:
    """A one-line summary for logs and the console.

    BAKE at ``Step(10, 300)`` with 120 s baked, interval 60 s ->
    ``"baking step 1 of 1 at 10%: 2 min of 5 min, next check in 1 min"``.
    """
    count = len(progress.steps)
    match decision.action:
        case Action.SHIFT:
            step = progress.steps[decision.step_index]
            if step.until_promoted:
                return (
                    f"pausing at step {decision.step_index + 1} of {count}: "
                    f"{step.weight}% on the target until promoted"
                )
            return (
                f"shifting to step {decision.step_index + 1} of {count}: "
                f"{step.weight}% on the target for {human(step.bake_seconds)}"
            )
        case Action.BAKE:
            if decision.held:
                return f"holding: {decision.reason}; next look in {human(decision.wait_seconds)}"
            step = progress.steps[decision.step_index]
            return (
                f"baking step {decision.step_index + 1} of {count} at {step.weight}%: "
                f"{human(progress.baked_seconds)} of {human(step.bake_seconds)}, "
                f"next check in {human(decision.wait_seconds)}"
            )
        case Action.PROMOTE:
            if count == 0:
                return "promoting: 100% on the target (all at once)"
            return f"promoting: 100% on the target after step {count} of {count}"
        case Action.FINISH:
            return "finishing: 100% on the target, nothing wrong at the last look"
        case Action.ROLL_BACK:
            return f"rolling back: {decision.reason}"
        case Action.STOP_ON_DRIFT:
            return f"stopping on drift, alias left as found: {decision.reason}"
