"""What the commands print: the JSON documents machines read, and the text people read.

Pure functions from described rollouts (``rollouts.service``) to dicts and lines;
the commands only choose which to print.
"""

from __future__ import annotations

from typing import Any

# The fields ``start`` prints; ``error`` and ``cause`` join them once the rollout has ended.
START_FIELDS = (
    "rolloutId",
    "executionArn",
    "status",
    "functionName",
    "alias",
    "fromVersion",
    "toVersion",
    "summary",
)
LAST_CHECKS_SHOWN = 5


def started_document(described: dict[str, Any], ended: bool) -> dict[str, Any]:
    """``start``'s JSON: the rollout; once ended, also ``error`` and ``cause`` (null if promoted).

    >>> started_document({"rolloutId": "r", "status": "FAILED", "error": "RolledBack",
    ...                   "cause": "c"}, ended=True)["error"]
    'RolledBack'
    """
    document = {key: described.get(key) for key in START_FIELDS}
    if ended:
        document["error"] = described.get("error")
        document["cause"] = described.get("cause")
    return document


def refusal_document(error: str, cause: str, fields: list[tuple[str, str]]) -> dict[str, Any]:
    """The JSON of a refusal (exit 4): the error name, the cause, and each bad field."""
    document: dict[str, Any] = {"error": error, "cause": cause}
    if fields:
        document["fields"] = [{"field": f, "message": m} for f, m in fields]
    return document


def _versions(described: dict[str, Any]) -> str:
    before = described.get("fromVersion") or "none (first deploy)"
    return f"{before} -> {described.get('toVersion') or '(to be published)'}"


def rollout_lines(described: dict[str, Any]) -> list[str]:
    """The summary block of a rollout: who, what, where it is, and why it ended."""
    subject = f"{described.get('functionName') or '?'}:{described.get('alias') or '?'}"
    lines = [
        f"{described.get('rolloutId')}  {described.get('status')}",
        f"  alias      {subject}",
        f"  versions   {_versions(described)}",
    ]
    if described.get("strategy"):
        count = int(described.get("stepCount") or 0)
        lines.append(
            f"  strategy   {described['strategy']} ({count} step{'s' if count != 1 else ''})"
        )
    if described.get("status") == "RUNNING" and described.get("step"):
        lines.append(
            f"  step       {described['step']} of {described.get('stepCount')}, "
            f"{described.get('weight')}% on the target"
        )
    if described.get("startedAt"):
        ended = f", ended {described['endedAt']}" if described.get("endedAt") else ""
        lines.append(f"  started    {described['startedAt']}{ended}")
    if described.get("summary"):
        lines.append(f"  summary    {described['summary']}")
    if described.get("error"):
        lines.append(f"  error      {described['error']}")
    if described.get("cause"):
        lines.append(f"  cause      {described['cause']}")
    elif described.get("reason") and not str(described["reason"]).startswith(
        str(described.get("summary"))
    ):
        lines.append(f"  reason     {described['reason']}")
    lines.append(f"  execution  {described.get('executionArn')}")
    return lines


def _alarms(check: dict[str, Any]) -> str:
    """``"1 alarm OK"``, ``"errors=ALARM"`` or ``"no alarms"`` for one check."""
    not_ok: dict[str, str] = dict(check.get("alarmsNotOk") or {})
    watched = int(check.get("alarmsWatched") or 0)
    if not_ok:
        return ", ".join(f"{name}={state}" for name, state in sorted(not_ok.items()))
    if not watched:
        return "no alarms"
    return f"{watched} alarm{'s' if watched != 1 else ''} OK"


def status_lines(described: dict[str, Any], timeline: list[str]) -> list[str]:
    """``rollouts status``: the summary block, the steps taken, the last checks, the timeline."""
    lines = rollout_lines(described)
    taken: list[dict[str, Any]] = described.get("stepsTaken") or []
    lines.append(f"Steps taken ({len(taken)} of {described.get('stepCount') or 0})")
    for step in taken:
        lines.append(
            f"  step {step.get('step')}: {step.get('weight')}% at {step.get('at')}, "
            f"bake {step.get('bakeSeconds')} s"
        )
    checks: list[dict[str, Any]] = described.get("checks") or []
    total = int(described.get("checkCount") or len(checks))
    shown = checks[-LAST_CHECKS_SHOWN:]
    lines.append(f"Last checks ({len(shown)} of {total})")
    for check in shown:
        reason = f" ({check['reason']})" if check.get("reason") else ""
        lines.append(
            f"  {check.get('at')}  step {check.get('step')} at {check.get('weight')}%, "
            f"baked {check.get('bakedSeconds')} s, {_alarms(check)}"
            f" -> {check.get('action')}{reason}"
        )
    if timeline:
        lines.append("Timeline")
        lines.extend(f"  {moment}" for moment in timeline)
    return lines


def list_lines(rollouts: list[dict[str, Any]], next_token: str | None) -> list[str]:
    """``rollouts list``: one line per rollout, newest first, and how to get the next page."""
    if not rollouts:
        return ["no rollouts"]
    lines = []
    for item in rollouts:
        ended = f"  ended {item['endedAt']}" if item.get("endedAt") else ""
        reason = f"  {item['reason']}" if item.get("reason") else ""
        lines.append(
            f"{item.get('rolloutId')}  {item.get('status'):<11}  "
            f"{item.get('fromVersion') or '-'} -> {item.get('toVersion') or '-'}  "
            f"{item.get('strategy')}  started {item.get('startedAt')}{ended}{reason}"
        )
    if next_token:
        lines.append(f"more: --next-token '{next_token}'")
    return lines
