"""A rollout's story from its execution history: what happened, when, at which weight.

Pure: history events (as GetExecutionHistory returns them) in, lines out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Moment:
    """One line of the timeline: seconds since the start, and what happened."""

    seconds: float
    what: str


def _output(event: dict[str, Any]) -> dict[str, Any]:
    details = event.get("stateExitedEventDetails") or {}
    try:
        value = json.loads(details.get("output") or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def timeline(events: list[dict[str, Any]]) -> list[Moment]:
    """Condense an execution history into moments.

    Consecutive bake checks at one step become one line ("baked 300 s at 10%:
    5 checks"); shifts, hooks, promotion, rollback and the end each get a line.
    """
    if not events:
        return []
    start: datetime = events[0]["timestamp"]
    moments: list[Moment] = []
    checks = 0
    baked = 0
    weight = 0

    def at(event: dict[str, Any]) -> float:
        return round(float((event["timestamp"] - start).total_seconds()), 2)

    def flush(event: dict[str, Any]) -> None:
        nonlocal checks
        if checks:
            plural = "s" if checks != 1 else ""
            moments.append(
                Moment(at(event), f"baked {baked} s at {weight}%: {checks} health check{plural}")
            )
            checks = 0

    for event in events:
        kind = event["type"]
        if kind != "TaskStateExited":
            if kind == "ExecutionSucceeded":
                flush(event)
                moments.append(Moment(at(event), "succeeded"))
            elif kind in ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
                flush(event)
                details = (
                    event.get("executionFailedEventDetails")
                    or event.get("executionAbortedEventDetails")
                    or {}
                )
                label = kind.removeprefix("Execution").lower()
                error = details.get("error")
                moments.append(Moment(at(event), f"{label}: {error}" if error else label))
            continue
        name = event["stateExitedEventDetails"]["name"]
        rollout = _output(event).get("rollout", {})
        if name == "CheckHealth":
            checks += 1
            baked = int(rollout.get("bakedSeconds", baked))
            continue
        flush(event)
        if name == "ShiftTraffic":
            steps = rollout.get("steps", [])
            index = int(rollout.get("stepIndex", -1))
            weight = int(steps[index]["weight"]) if 0 <= index < len(steps) else weight
            moments.append(
                Moment(at(event), f"shifted to {weight}% (step {index + 1} of {len(steps)})")
            )
        elif name == "PrepareRollout":
            moments.append(
                Moment(
                    at(event),
                    f"prepared: {rollout.get('functionName')}:{rollout.get('alias')} "
                    f"from version {rollout.get('baselineVersion')}, "
                    f"{rollout.get('strategy')}",
                )
            )
        elif name == "PublishVersion":
            moments.append(Moment(at(event), f"published version {rollout.get('targetVersion')}"))
        elif name in ("RunPreTrafficHook", "RunPostTrafficHook"):
            moments.append(Moment(at(event), f"{name.removeprefix('Run')} passed"))
        elif name == "PromoteTarget":
            moments.append(
                Moment(at(event), f"promoted: 100% on version {rollout.get('targetVersion')}")
            )
        elif name in ("RollBack", "StopOnDrift"):
            cause = _output(event).get("outcome", {}).get("cause", "")
            moments.append(Moment(at(event), cause or name))
    return moments


def render(moments: list[Moment]) -> list[str]:
    """``["  0.00 s  prepared: ...", ...]``."""
    return [f"{m.seconds:7.2f} s  {m.what}" for m in moments]
