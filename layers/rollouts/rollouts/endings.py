"""Endings without promotion: rollback, stop on drift, release after a stop, stale takeover.

Every ending goes through ``conclude``, which is fenced against a task still running
for the same rollout (Lambda keeps running a task after StopExecution or a timeout):

1. close the record (RUNNING -> ENDING, one conditional write): from here on no task
   can write the record, nor announce an alias write;
2. observe the lock and the alias, and ask ``decide_cleanup`` (pure) what to do;
3. act: write the baseline back with the RevisionId just read (even when the alias is
   already on the baseline, so that a late write fenced by an older RevisionId fails),
   or delete the alias a first deploy created, or leave an alias someone else owns;
4. end the record, unpin the baseline, release the lock, announce.

A task that wrote the alias after step 1 finds the record closed when it saves, and
takes its own write back (``tasks._save_or_take_back``): whichever comes second sees
the other. Safe to run again at any point, from any of the endings.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rollouts.aliases import AliasConfig
from rollouts.decision import Cleanup, Routing, decide_cleanup
from rollouts.errors import AwsServiceError, NotFoundError, PreconditionFailedError, RolloutError
from rollouts.notify import Phase, status_detail
from rollouts.observe import pending_routing
from rollouts.state import RolloutState, lock_key
from rollouts.store import (
    DRIFTED,
    ENDED,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    SUCCEEDED,
    bounded,
)

if TYPE_CHECKING:
    from rollouts.tasks import Services


# How often an ending looks again when Lambda refuses its write (the RevisionId moved on).
CLEANUP_ATTEMPTS = 4


def _iso(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


def conclude(
    rollout_id: str,
    state: RolloutState | None,
    request: dict[str, Any] | None,
    why: str,
    services: Services,
    now: datetime,
    *,
    drift_reported: bool = False,
    taken_over_by: str | None = None,
    fence: bool = True,
) -> dict[str, Any]:
    """End a rollout that will not be promoted; returns ``{"status", "drifted", "cause"}``.

    ``state``: the rollout as its execution last knew it (None after a stop);
    ``request``: the execution input, for a rollout stopped before it had a record;
    ``taken_over_by``: the rollout that took this one's stale lock and cleans up for it.
    ``fence``: a task of this rollout may still be running (after a stop, a task
    timeout, a stale lock): renew the alias's RevisionId even when nothing moved.
    A rollout whose record has ended keeps that ending; one recorded SUCCEEDED (only
    its bookkeeping failed after) stays promoted.
    """
    why = bounded(why, 2_000)
    record = services.store.record(rollout_id)
    if record is None:
        if services.store.mark_ended_before_prepared(rollout_id, request, why, _iso(now)):
            _give_back_unprepared(rollout_id, request, services)
            return {
                "drifted": False,
                "status": ROLLED_BACK,
                "cause": f"The rollout ended before it changed anything: {why}",
            }
        record = services.store.record(rollout_id) or {}
    if record.get("status") not in ENDED:
        closed = services.store.close(rollout_id, _iso(now))
        if closed is not None:
            return _clean_up(
                closed, state, why, services, now, drift_reported, taken_over_by, fence
            )
        record = services.store.record(rollout_id) or record
    return _already_ended(rollout_id, record, why, services)


def _give_back_unprepared(
    rollout_id: str, request: dict[str, Any] | None, services: Services
) -> None:
    """Release the lock (and pin) a PrepareRollout may have taken before its record."""
    from rollouts.tasks import pin_name

    function, alias = (request or {}).get("functionName"), (request or {}).get("alias")
    if not isinstance(function, str) or not isinstance(alias, str):
        return
    services.store.release(lock_key(function, alias), rollout_id)
    with contextlib.suppress(RolloutError):
        services.lambda_.unpin(function, pin_name(rollout_id))


def _already_ended(
    rollout_id: str, record: dict[str, Any], why: str, services: Services
) -> dict[str, Any]:
    status = str(record.get("status"))
    saved = record.get("state")
    if isinstance(saved, dict):
        state = RolloutState.model_validate(saved)
        _unpin(state, services)
        services.store.release(state.lock_key, rollout_id)
        cause = str(record.get("reason") or state.summary)
    else:
        cause = str(record.get("reason") or "the rollout ended")
    if status == SUCCEEDED:
        cause = f"{cause} (then: {why})"
    return {"drifted": status == DRIFTED, "status": status, "cause": cause}


def _clean_up(
    record: dict[str, Any],
    state: RolloutState | None,
    why: str,
    services: Services,
    now: datetime,
    drift_reported: bool,
    taken_over_by: str | None,
    fence: bool,
) -> dict[str, Any]:
    """Steps 2 to 4 of ``conclude``, on a record this ending has closed."""
    recorded = RolloutState.model_validate(record["state"])
    state = state or recorded
    rollout_id = recorded.rollout_id
    holder = services.store.lock_holder(recorded.lock_key)
    holder_id = str(holder["rolloutId"]) if holder else None
    other = holder_id is not None and holder_id not in (rollout_id, taken_over_by)
    expected = {recorded.expected_routing(), state.expected_routing()}
    pending = pending_routing(record)
    baseline = None if recorded.first_deploy else Routing.of(str(recorded.baseline_version))
    for attempt in range(CLEANUP_ATTEMPTS):
        current = services.lambda_.alias(recorded.function_name, recorded.alias)
        action = Cleanup.LEAVE
        for routing in expected:
            action = decide_cleanup(
                expected=routing,
                pending=pending,
                current=current.routing if current is not None else None,
                first_deploy=recorded.first_deploy,
                drift_reported=drift_reported,
                lock_taken_by_other=other,
                baseline=baseline,
                # Looking again after a refused write: confirming is enough.
                fence=fence and attempt == 0,
            )
            if action != Cleanup.LEAVE:
                break
        try:
            status, cause = _act(
                action, recorded, current, why, services, holder_id if other else None
            )
            break
        except PreconditionFailedError:
            # Someone wrote the alias between the look and the write (an edit of its
            # description, another ending of this rollout, a late task): look again.
            continue
    else:
        status, cause = (
            DRIFTED,
            _left(recorded, f"alias {recorded.alias} kept changing during the rollback"),
        )
    if drift_reported and action == Cleanup.LEAVE:
        cause = f"Stopped {recorded.subject} without touching it: {why.rstrip('.')}."
        cause += " The alias was left as found."
    ended_state = state.with_(reason=bounded(cause))
    if services.store.end(rollout_id, _iso(now), status, cause, ended_state.as_json()):
        phase = {
            DRIFTED: Phase.DRIFTED,
            ROLLBACK_FAILED: Phase.ROLLBACK_FAILED,
        }.get(status, Phase.ROLLED_BACK)
        services.events.emit(status_detail(phase, recorded, now, reason=cause))
    _unpin(recorded, services)
    services.store.release(recorded.lock_key, rollout_id)
    forget_watches(recorded, services)
    return {"drifted": status == DRIFTED, "status": status, "cause": cause}


def forget_watches(state: RolloutState, services: Services) -> None:
    """An ended rollout's alarms no longer wake it: its watch items go (best effort:
    one left behind only costs an alarm's wake a record read, until it expires)."""
    if state.alarms:
        with contextlib.suppress(RolloutError):
            services.store.unwatch(state.rollout_id, state.alarms)


def _act(
    action: Cleanup,
    state: RolloutState,
    current: AliasConfig | None,
    why: str,
    services: Services,
    other_holder: str | None,
) -> tuple[str, str]:
    """Do the cleanup decided; returns the ending's status and cause."""
    why = why.rstrip(".")
    if action == Cleanup.NOTHING:
        if state.first_deploy:
            return ROLLED_BACK, f"Rolled back {state.subject} (the alias was never created): {why}."
        return (
            ROLLED_BACK,
            f"Rolled back {state.subject}: it stayed on version {state.baseline_version}: {why}.",
        )
    if action == Cleanup.DELETE:
        services.lambda_.delete_alias(state.function_name, state.alias)
        return (
            ROLLED_BACK,
            f"Rolled back {state.subject} by deleting the alias this first deploy created: {why}.",
        )
    if action == Cleanup.RESTORE:
        assert current is not None
        baseline = AliasConfig.of(Routing.of(str(state.baseline_version)))
        try:
            services.lambda_.route(state.function_name, state.alias, baseline, current.revision_id)
        except (NotFoundError, AwsServiceError) as error:
            return ROLLBACK_FAILED, (
                f"Could not roll back {state.subject} to version {state.baseline_version}"
                f" ({bounded(str(error), 300)}): the alias was left as it is"
                f" ({current.describe()}). Point it at a good version by hand. Why the"
                f" rollout ended: {why}."
            )
        return (
            ROLLED_BACK,
            f"Rolled back {state.subject} to version {state.baseline_version}: {why}.",
        )
    if other_holder is not None:
        return DRIFTED, _left(state, f"rollout {other_holder} now holds alias {state.alias}")
    if current is None:
        return DRIFTED, _left(state, f"alias {state.alias} was deleted")
    drift = f"alias {state.alias} now routes {current.describe()}, not as this rollout left it"
    return DRIFTED, _left(state, drift)


def _left(state: RolloutState, drift: str) -> str:
    return f"Stopped {state.subject} without touching it: {drift}. The alias was left as found."


def _unpin(state: RolloutState, services: Services) -> None:
    if state.pin_alias:
        services.lambda_.unpin(state.function_name, state.pin_alias)
