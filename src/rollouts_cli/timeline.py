"""A rollout's story from its execution history: what happened, when, at which weight.

Pure: history events (as GetExecutionHistory returns them) and the requests people
made (pause, resume, promote, abort, hook results, as ``describe_rollout`` lists
them) in, lines out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rollouts.durations import human

# History events that say the task running in a state failed (its state may still exit,
# to a Catch): the state's line then tells the failure, never that it passed.
_FAILURES = {
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
}
# A retried task that then succeeds did not fail.
_SUCCESSES = frozenset({"LambdaFunctionSucceeded", "TaskSucceeded"})
# A hook runs in one state, or in two: invoked (waiting for its answer), then judged.
_HOOKS = {
    "RunPreTrafficHook": "PreTraffic",
    "RunPostTrafficHook": "PostTraffic",
    "JudgePreTrafficHook": "PreTraffic",
    "JudgePostTrafficHook": "PostTraffic",
}
# States that only wait (a bake, woken early or timed out): the checks after them tell.
_WAITS = frozenset({"Bake"})
_ENDINGS = {
    "ExecutionFailed": "failed",
    "ExecutionAborted": "stopped",
    "ExecutionTimedOut": "timed out",
}


@dataclass(frozen=True)
class Moment:
    """One line of the timeline: when, and what happened."""

    at: datetime
    what: str


def _output(event: dict[str, Any]) -> dict[str, Any]:
    details = event.get("stateExitedEventDetails") or {}
    try:
        value = json.loads(details.get("output") or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def failure_text(error: str | None, cause: str | None) -> str:
    """What a task failure says: a Lambda error's ``errorMessage``, else its cause or name.

    >>> failure_text("HookFailedError", '{"errorMessage": "hook x failed: 500"}')
    'hook x failed: 500'
    >>> failure_text("States.Timeout", None)
    'States.Timeout'
    """
    if cause:
        try:
            parsed = json.loads(cause)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("errorMessage"):
            return str(parsed["errorMessage"])
        return cause
    return error or "no reason given"


def who(by: object) -> str:
    """A caller as a person reads it: the last part of an ARN.

    >>> who("arn:aws:sts::123456789012:assumed-role/deployer/alice"), who("alice")
    ('alice', 'alice')
    """
    text = str(by or "someone")
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") and "/" in text else text


def parse_time(text: object) -> datetime | None:
    """An ISO 8601 time as the record keeps it, or None."""
    if isinstance(text, datetime):
        return text
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def request_line(request: dict[str, Any]) -> str:
    """One request a person made, as the timeline tells it.

    >>> request_line({"verb": "pause", "by": "arn:aws:iam::1:user/alice", "reason": "logs"})
    'paused by alice: logs'
    """
    verb = str(request.get("verb") or "request")
    by = who(request.get("by"))
    reason = f": {request['reason']}" if request.get("reason") else ""
    if verb == "pause":
        return f"paused by {by}{reason}"
    if verb == "resume":
        return f"resumed by {by}{reason}"
    if verb == "promote":
        if request.get("full"):
            return f"full promotion (to 100%, skipping the steps left) requested by {by}{reason}"
        return f"promotion to the next step requested by {by}{reason}"
    if verb == "abort":
        return f"abort requested by {by}{reason}"
    if verb == "hook-result":
        status = request.get("status")
        if status is None and "succeeded" in request:
            status = "Succeeded" if request["succeeded"] else "Failed"
        answer = f" {status}" if status else ""
        return f"hook result{answer} reported by {by}{reason}"
    return f"{verb} requested by {by}{reason}"


def _shift_line(rollout: dict[str, Any], weight: int) -> tuple[str, int]:
    """``("shifted to 10% (step 1 of 2)", 10)``, or how a pause step holds its weight."""
    steps: list[dict[str, Any]] = rollout.get("steps") or []
    index = int(rollout.get("stepIndex", -1))
    if not 0 <= index < len(steps):
        return f"shifted to {weight}%", weight
    step = steps[index]
    where = f"(step {index + 1} of {len(steps)})"
    weight = int(step.get("weight", weight))
    if step.get("untilPromoted"):
        return f"paused at {weight}% until promoted {where}", weight
    if step.get("pause"):
        return f"paused at {weight}% for {human(int(step.get('bakeSeconds', 0)))} {where}", weight
    return f"shifted to {weight}% {where}", weight


def timeline(events: list[dict[str, Any]], requests: Sequence[dict[str, Any]] = ()) -> list[Moment]:
    """Condense an execution history, and the requests made, into moments in time order.

    Consecutive bake checks at one step become one line ("baked 5 min at 10%:
    5 health checks"); shifts, hooks, promotion, rollback, each request and the end
    each get a line. A state whose task failed says so, with the failure's message.
    """
    moments: list[Moment] = []
    checks = 0
    baked = 0
    weight = 0
    failure: tuple[str, str] | None = None  # (error, what it says)
    # With a judge state, the hook has passed only once it is judged.
    judged = {
        _HOOKS[name]
        for event in events
        if (name := (event.get("stateExitedEventDetails") or {}).get("name", "")).startswith(
            "Judge"
        )
        and name in _HOOKS
    }

    def flush(event: dict[str, Any]) -> None:
        nonlocal checks
        if checks:
            plural = "s" if checks != 1 else ""
            moments.append(
                Moment(
                    event["timestamp"],
                    f"baked {human(baked)} at {weight}%: {checks} health check{plural}",
                )
            )
            checks = 0

    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered") or kind in _SUCCESSES:
            failure = None
        if kind in _FAILURES:
            details = event.get(_FAILURES[kind]) or {}
            error = str(details.get("error") or "")
            failure = (error, failure_text(error, details.get("cause")))
            continue
        if kind == "ExecutionSucceeded":
            flush(event)
            moments.append(Moment(event["timestamp"], "succeeded"))
            continue
        if kind in _ENDINGS:
            flush(event)
            details = (
                event.get("executionFailedEventDetails")
                or event.get("executionAbortedEventDetails")
                or event.get("executionTimedOutEventDetails")
                or {}
            )
            label = _ENDINGS[kind]
            ended_with = details.get("error")
            moments.append(
                Moment(event["timestamp"], f"{label}: {ended_with}" if ended_with else label)
            )
            continue
        if kind != "TaskStateExited":
            continue
        name = event["stateExitedEventDetails"]["name"]
        if name in _WAITS:
            continue
        rollout = _output(event).get("rollout", {})
        if name == "CheckHealth" and failure is None:
            checks += 1
            baked = int(rollout.get("bakedSeconds", baked))
            continue
        flush(event)
        at = event["timestamp"]
        if failure is not None:
            moments.append(Moment(at, _failed(name, *failure)))
            continue
        if name == "ShiftTraffic":
            what, weight = _shift_line(rollout, weight)
            moments.append(Moment(at, what))
        elif name == "PrepareRollout":
            baseline = rollout.get("baselineVersion")
            start = f"from version {baseline}" if baseline else "a first deploy (no alias yet)"
            moments.append(
                Moment(
                    at,
                    f"prepared: {rollout.get('functionName')}:{rollout.get('alias')} "
                    f"{start}, {rollout.get('strategy')}",
                )
            )
        elif name == "PublishVersion":
            moments.append(Moment(at, f"published version {rollout.get('targetVersion')}"))
        elif name in _HOOKS and (name.startswith("Judge") or _HOOKS[name] not in judged):
            moments.append(Moment(at, f"{_HOOKS[name]} hook passed"))
        elif name == "PromoteTarget":
            moments.append(Moment(at, f"promoted: 100% on version {rollout.get('targetVersion')}"))
        elif name in ("RollBack", "StopOnDrift"):
            cause = _output(event).get("outcome", {}).get("cause", "")
            moments.append(Moment(at, cause or name))
    for request in requests:
        when = parse_time(request.get("at"))
        if when is not None:
            moments.append(Moment(when, request_line(request)))
    # Stable: moments at one instant keep the history's order.
    return sorted(moments, key=lambda m: _utc(m.at))


def _failed(state: str, error: str, text: str) -> str:
    """``PreTraffic hook h failed: HTTP 500``, or which state failed, and how."""
    if state in _HOOKS:
        if error == "States.Timeout":
            return f"{_HOOKS[state]} hook did not answer within its timeout"
        return text if "hook" in text else f"{_HOOKS[state]} hook failed: {text}"
    if error == "States.Timeout":
        return f"{state} timed out"
    return f"{state} failed: {text}"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def clock(moment: datetime) -> str:
    """``12:03:04``: the UTC time of day of a moment."""
    return f"{_utc(moment):%H:%M:%S}"


def render(moments: list[Moment]) -> list[str]:
    """``["12:03:04  prepared: ...", ...]``, times of day in UTC."""
    return [f"{clock(m.at)}  {m.what}" for m in moments]
