"""Status events: every phase change of a rollout, put on an EventBridge bus.

Schema (``detail-type: Rollout Status Change``, ``source: lambda-rollouts``)::

    {"rolloutId": "orders-api-live-v7-1a2b3c4d", "phase": "shifted",
     "functionName": "orders-api", "alias": "live", "fromVersion": "6", "toVersion": "7",
     "strategy": "Canary10Percent5Minutes", "step": 1, "stepCount": 1, "weight": 10,
     "reason": null, "executionArn": "arn:aws:states:...", "at": "2026-11-26T06:30:00+00:00"}

Phases: started, shifted, paused, resumed, promoted, succeeded, rolled-back, drifted,
rollback-failed, refused.
Delivery is at least once (a retried task may emit its phase again), and a
failure to emit never fails the rollout: events inform, they do not steer.
Samples: ``events/eventbridge/status-*.json``.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from enum import StrEnum
from typing import Any

from rollouts.state import RolloutState

SOURCE = "lambda-rollouts"
STATUS_DETAIL_TYPE = "Rollout Status Change"
REQUEST_DETAIL_TYPE = "Rollout Requested"

_log = logging.getLogger(__name__)


class Phase(StrEnum):
    STARTED = "started"
    SHIFTED = "shifted"
    # A hold began (someone paused the rollout, or a pause step was reached) or ended.
    PAUSED = "paused"
    RESUMED = "resumed"
    PROMOTED = "promoted"
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled-back"
    DRIFTED = "drifted"
    # The rollback itself was impossible (the baseline is gone): the alias is left as it is.
    ROLLBACK_FAILED = "rollback-failed"
    REFUSED = "refused"


def status_detail(
    phase: Phase,
    state: RolloutState | None,
    now: datetime,
    reason: str | None = None,
    analysis: dict[str, Any] | None = None,
    **known: Any,
) -> dict[str, Any]:
    """The event detail for ``phase``; ``known`` fills fields when there is no state (refusals).

    ``analysis`` is the verdict the event is about (a ``shifted`` event: the one that
    let the step before end); else the state's latest verdict, when it has one.
    """
    detail: dict[str, Any] = {
        "rolloutId": known.get("rolloutId"),
        "phase": phase.value,
        "functionName": known.get("functionName"),
        "alias": known.get("alias"),
        "fromVersion": None,
        "toVersion": known.get("version"),
        "strategy": None,
        "step": 0,
        "stepCount": 0,
        "weight": 0,
        "reason": reason,
        "executionArn": known.get("executionArn"),
        "at": now.isoformat(timespec="seconds"),
    }
    if state is not None:
        weight = 100 if phase in (Phase.PROMOTED, Phase.SUCCEEDED) else state.weight
        detail.update(
            rolloutId=state.rollout_id,
            functionName=state.function_name,
            alias=state.alias,
            fromVersion=state.baseline_version,
            toVersion=state.target_version,
            strategy=state.strategy,
            step=state.step_index + 1,
            stepCount=len(state.steps),
            weight=weight,
            executionArn=state.execution_arn,
        )
        if analysis is None:
            analysis = state.verdict
    if analysis is not None:
        detail["analysis"] = analysis
    return detail


def hold_phase(was_held: bool, held: bool, action: str) -> Phase | None:
    """PAUSED when a hold began, RESUMED when one ended and the rollout goes on, else None.

    A hold that ends in a roll back or a stop is announced by that end alone.
    """
    if held == was_held:
        return None
    if held:
        return Phase.PAUSED
    return None if action in ("rollback", "drift") else Phase.RESUMED


class StatusEvents:
    """Puts status events on the bus named by ``EVENT_BUS_NAME`` (default: the default bus)."""

    def __init__(self, client: Any, bus_name: str | None = None) -> None:
        self._client = client
        self._bus = bus_name or os.environ.get("EVENT_BUS_NAME") or "default"

    def emit(self, detail: dict[str, Any]) -> bool:
        """Put one event; False (and a logged error) when it could not be put."""
        try:
            answer = self._client.put_events(
                Entries=[
                    {
                        "Source": SOURCE,
                        "DetailType": STATUS_DETAIL_TYPE,
                        "Detail": json.dumps(detail),
                        "EventBusName": self._bus,
                        "Resources": [detail["executionArn"]] if detail.get("executionArn") else [],
                    }
                ]
            )
        except Exception:  # an event that cannot be put must not fail the rollout
            _log.exception("could not put the %s status event", detail.get("phase"))
            return False
        if answer.get("FailedEntryCount"):
            _log.error("the %s status event was refused: %s", detail.get("phase"), answer)
            return False
        return True
