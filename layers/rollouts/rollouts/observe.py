"""Observe: everything a task reads before it decides, in one place.

A task that can move traffic or end a rollout first reads the alias (version,
routing, RevisionId), the record (status, abort request, the write it last
intended), the lock, and the alarms; ``health`` then turns that observation into
the ``Health`` the pure decision takes. Nothing here decides the next action.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rollouts.aliases import AliasConfig
from rollouts.decision import Control, Health, Routing, owns
from rollouts.store import RUNNING

if TYPE_CHECKING:
    from rollouts.state import RolloutState
    from rollouts.tasks import Services


@dataclass(frozen=True)
class Observation:
    """What a task saw, read in this order: record, lock, alarms, alias."""

    record: dict[str, Any]
    lock_holder: str | None
    alarm_states: dict[str, str]
    alias: AliasConfig | None
    alarms_read: bool = True
    # Each alarm's StateReason, as CloudWatch gives it.
    alarm_reasons: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.record.get("status") == RUNNING

    @property
    def abort_reason(self) -> str | None:
        """``"aborted by alice: p99 up"`` when someone asked the rollout to stop."""
        return abort_reason(self.record)

    @property
    def pending(self) -> Routing | None:
        return pending_routing(self.record)

    @property
    def control(self) -> Control:
        return control(self.record)


def abort_reason(record: dict[str, Any] | None) -> str | None:
    abort = (record or {}).get("abort")
    if not abort:
        return None
    return f"aborted by {abort.get('by', 'someone')}: {abort.get('reason') or 'no reason given'}"


def pause_reason(record: dict[str, Any] | None) -> str | None:
    """``"paused by alice: checking logs"`` while someone holds the rollout."""
    pause = (record or {}).get("pause")
    if not pause:
        return None
    why = pause.get("reason")
    return f"paused by {pause.get('by', 'someone')}" + (f": {why}" if why else "")


def promoter(record: dict[str, Any] | None, step_index: int) -> str | None:
    """Who asked for the move past step ``step_index`` (0-based), or None: a promote of
    that step, or a full promote (``rollouts promote [--full]``)."""
    promote = (record or {}).get("promote")
    if not isinstance(promote, dict):
        return None
    if promote.get("full") or promote.get("step") == step_index:
        return str(promote.get("by") or "someone")
    return None


def resumed_by(record: dict[str, Any] | None) -> str | None:
    """``"resumed by bob"`` or ``"promoted by carol"``: the latest request that ends a hold."""
    past = {"resume": "resumed", "promote": "promoted"}
    for entry in reversed((record or {}).get("requests") or []):
        if isinstance(entry, dict) and entry.get("verb") in past:
            return f"{past[entry['verb']]} by {entry.get('by', 'someone')}"
    return None


def control(record: dict[str, Any] | None) -> Control:
    """What people asked of the rollout, as the record holds it (see ``Control``)."""
    promote = (record or {}).get("promote")
    if not isinstance(promote, dict):
        promote = {}
    step, full = promote.get("step"), bool(promote.get("full"))
    return Control(
        paused=pause_reason(record),
        promote_step=int(step) if step is not None and not full else None,
        promote_full=full,
    )


def pending_routing(record: dict[str, Any]) -> Routing | None:
    """The routing a task recorded it was about to write, and never saved as written.

    That task wrote it and then failed, or was stopped, before saving: the routing
    is the rollout's own.
    """
    writing = record.get("writing")
    if not isinstance(writing, dict) or "version" not in writing:
        return None
    extra = {str(v): int(w) for v, w in (writing.get("extra") or {}).items()}
    return Routing.of(str(writing["version"]), extra)


def observe(state: RolloutState, services: Services, *, alarms: bool = True) -> Observation:
    """Read the record, the lock, the alarms (when asked) and the alias, in that order.

    The alias comes last: the RevisionId a write is then fenced by is the newest read.
    """
    record = services.store.record(state.rollout_id) or {}
    holder = services.store.lock_holder(state.lock_key)
    read = services.alarms.read(state.alarms) if alarms and state.alarms else {}
    alarm_states = {name: value for name, (value, _) in read.items()}
    alias = services.lambda_.alias(state.function_name, state.alias)
    return Observation(
        record=record,
        lock_holder=str(holder["rolloutId"]) if holder else None,
        alarm_states=alarm_states,
        alias=alias,
        alarms_read=alarms,
        alarm_reasons={name: reason for name, (_, reason) in read.items()},
    )


def expected_routings(state: RolloutState, seen: Observation) -> list[Routing | None]:
    """How the alias routes if it is as this rollout left it.

    As the task's input says, and as the record says: a task whose answer was lost
    saved its progress in the record, and its retry gets the older input.
    """
    from rollouts.state import RolloutState

    expected = [state.expected_routing()]
    saved = seen.record.get("state")
    if isinstance(saved, dict):
        expected.append(RolloutState.model_validate(saved).expected_routing())
    return expected


def drift(state: RolloutState, seen: Observation) -> str | None:
    """Why the alias is no longer this rollout's, or None while it is (see ``owns``)."""
    if seen.lock_holder is not None and seen.lock_holder != state.rollout_id:
        return f"rollout {seen.lock_holder} now holds alias {state.alias}"
    current = seen.alias.routing if seen.alias is not None else None
    if any(owns(expected, seen.pending, current) for expected in expected_routings(state, seen)):
        return None
    if seen.alias is None:
        return f"alias {state.alias} was deleted"
    if state.first_deploy and not state.promoted:
        return f"alias {state.alias} was created by someone else ({seen.alias.describe()})"
    return f"alias {state.alias} now routes {seen.alias.describe()}, not as this rollout left it"


def health(state: RolloutState, seen: Observation) -> Health:
    """The observation as the decision's ``Health``."""
    watched = state.alarms if seen.alarms_read else ()
    return Health(
        alarms_firing=tuple(n for n in watched if seen.alarm_states.get(n) == "ALARM"),
        alarms_missing=tuple(n for n in watched if n not in seen.alarm_states),
        abort_reason=seen.abort_reason,
        drift=drift(state, seen),
        lock_lost=None
        if seen.lock_holder is not None
        else f"this rollout no longer holds the lock on {state.lock_key}",
        analysis=state.judgement(),
    )
