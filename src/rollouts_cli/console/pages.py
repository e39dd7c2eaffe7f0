"""What the console's pages show, as plain data: pure functions of what AWS answered.

- ``state_graph(definition)``: the state machine as nodes and edges, from its ASL
  (every ``Next``, ``Default``, Choice rule and ``Catch``), for the graph library
  to lay out and draw;
- ``visits(events, running)``: which states an execution entered, which one it is
  in now and where it failed, from its history, as the Step Functions console
  lights them;
- ``row(execution, record)``: one line of the rollouts list;
- ``picture_document(picture)``: the weight over time and its marks (the same
  ``picture.marks`` that ``rollouts status --plot`` draws), for the chart;
- ``check_rows(described)``, ``summary_lines(described)``: the checks and the
  summary in the words ``rollouts status`` uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollouts.durations import human
from rollouts_cli.picture import STYLES, Picture
from rollouts_cli.timeline import parse_time
from rollouts_cli.views import alarms_text, analysis_line, rollout_lines

# The history events that say a state was entered or left (their details name it).
_ENTERED = "StateEntered"
_EXITED = "StateExited"
# The ends that light the state the execution was in as where it failed.
_ENDED_BADLY = ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")
# Where a state with ``"End": true`` leads.
END_NODE = "End"


def _edge(source: str, target: str, kind: str, label: str = "") -> dict[str, str]:
    return {
        "id": f"{source}->{target}:{kind}:{label}",
        "source": source,
        "target": target,
        "kind": kind,
        "label": label,
    }


def _choice_label(rule: dict[str, Any]) -> str:
    """``$.action == "shift"`` for a simple rule; the operator alone for compound ones."""
    variable = rule.get("Variable", "")
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key in ("And", "Or", "Not"):
            return key.lower()
        shown = value if isinstance(value, str | int | float | bool) else "..."
        return f"{variable} {key} {shown}".strip()
    return ""


def state_graph(definition: dict[str, Any]) -> dict[str, Any]:
    """The states as nodes and their transitions as edges, with an ``End`` node.

    >>> graph = state_graph({"StartAt": "A", "States": {
    ...     "A": {"Type": "Task", "Next": "B", "Catch": [{"ErrorEquals": ["X"], "Next": "C"}]},
    ...     "B": {"Type": "Succeed"}, "C": {"Type": "Fail"}}})
    >>> [(n["id"], n["type"]) for n in graph["nodes"]]
    [('A', 'Task'), ('B', 'Succeed'), ('C', 'Fail')]
    >>> [(e["source"], e["target"], e["kind"]) for e in graph["edges"]]
    [('A', 'B', 'next'), ('A', 'C', 'catch')]
    >>> graph["startAt"]
    'A'
    """
    states: dict[str, Any] = definition.get("States") or {}
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, str]] = []
    ends = False
    for name, state in states.items():
        kind = str(state.get("Type", "Task"))
        nodes.append({"id": name, "type": kind, "comment": str(state.get("Comment", ""))})
        if state.get("Next"):
            edges.append(_edge(name, state["Next"], "next"))
        for rule in state.get("Choices") or []:
            if rule.get("Next"):
                edges.append(_edge(name, rule["Next"], "choice", _choice_label(rule)))
        if state.get("Default"):
            edges.append(_edge(name, state["Default"], "default", "default"))
        for catch in state.get("Catch") or []:
            if catch.get("Next"):
                label = ", ".join(catch.get("ErrorEquals") or [])
                edges.append(_edge(name, catch["Next"], "catch", label))
        if state.get("End"):
            edges.append(_edge(name, END_NODE, "end"))
            ends = True
    if ends:
        nodes.append({"id": END_NODE, "type": "End", "comment": ""})
    # One edge per source, target and kind: a Catch listed twice is drawn once.
    unique = list({(e["source"], e["target"], e["kind"]): e for e in edges}.values())
    return {"startAt": definition.get("StartAt"), "nodes": nodes, "edges": unique}


def _state_name(event: dict[str, Any]) -> str | None:
    for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
        details = event.get(key)
        if isinstance(details, dict) and details.get("name"):
            return str(details["name"])
    return None


def visits(events: list[dict[str, Any]], running: bool) -> dict[str, Any]:
    """Where an execution has been: the states entered (first entry first), how often,
    the transitions it took, the state it is in now (while it runs), and the state it
    failed in.

    >>> def entered(name): return {"type": "TaskStateEntered",
    ...     "stateEnteredEventDetails": {"name": name}}
    >>> def exited(name): return {"type": "TaskStateExited",
    ...     "stateExitedEventDetails": {"name": name}}
    >>> seen = visits([entered("A"), exited("A"), entered("B")], running=True)
    >>> seen["visited"], seen["transitions"], seen["current"], seen["failed"]
    (['A', 'B'], [['A', 'B']], 'B', None)
    >>> seen = visits([entered("A"), {"type": "TaskFailed"}, {"type": "ExecutionFailed"}],
    ...               running=False)
    >>> seen["current"], seen["failed"]
    (None, 'A')
    """
    visited: list[str] = []
    counts: dict[str, int] = {}
    transitions: list[list[str]] = []
    inside: str | None = None
    failed: str | None = None
    last_entered: str | None = None
    for event in events:
        kind = str(event.get("type", ""))
        name = _state_name(event)
        if kind.endswith(_ENTERED) and name:
            if name not in counts:
                visited.append(name)
            counts[name] = counts.get(name, 0) + 1
            if last_entered is not None and [last_entered, name] not in transitions:
                transitions.append([last_entered, name])
            inside = last_entered = name
        elif kind.endswith(_EXITED) and name:
            if inside == name:
                inside = None
        elif kind in _ENDED_BADLY and failed is None:
            # The execution failed (or was stopped, or timed out) in the state it was in:
            # a Fail state, or one whose error nothing caught.
            failed = inside or last_entered
        elif kind == "ExecutionRedriven":
            # A redrive goes on from where it failed: that failure is over.
            failed = None
    return {
        "visited": visited,
        "counts": counts,
        "transitions": transitions,
        "current": inside if running else None,
        "failed": failed,
        "events": len(events),
    }


def _text_time(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None


def _seconds_between(start: Any, end: Any) -> float | None:
    begun, done = parse_time(start), parse_time(end)
    if begun is None or done is None:
        return None
    return max(0.0, (done - begun).total_seconds())


def row(execution: dict[str, Any], record: dict[str, Any] | None) -> dict[str, Any]:
    """One line of the rollouts list, from ListExecutions' entry and the rollout's record.

    Times come from the record (the control plane's clock) when there is one; a
    rollout refused before it had a record shows its execution's.
    """
    record = record or {}
    state = record.get("state") or {}
    status = str(execution.get("status") or "UNKNOWN")
    started = record.get("startedAt") or _text_time(execution.get("startDate"))
    finished = record.get("endedAt") or (
        _text_time(execution.get("stopDate")) if not record else None
    )
    steps = state.get("steps") or []
    index = int(state.get("stepIndex", -1))
    return {
        "rolloutId": str(execution.get("name")),
        "status": status,
        "outcome": record.get("status"),
        "functionName": record.get("functionName") or state.get("functionName"),
        "alias": record.get("alias") or state.get("alias"),
        "fromVersion": record.get("baselineVersion") or state.get("baselineVersion"),
        "toVersion": record.get("targetVersion") or state.get("targetVersion"),
        "strategy": record.get("strategy"),
        "startedAt": started,
        "endedAt": finished,
        "durationSeconds": _seconds_between(started, finished),
        "step": index + 1 if index >= 0 else 0,
        "stepCount": len(steps),
        "weight": int(steps[index]["weight"]) if 0 <= index < len(steps) else 0,
        "reason": record.get("reason"),
    }


def picture_document(picture: Picture) -> dict[str, Any]:
    """The picture as JSON: ISO times, each mark with its kind's colour."""
    return {
        "title": picture.title,
        "weights": [{"at": at.isoformat(), "weight": weight} for at, weight in picture.weights],
        "marks": [
            {
                "at": mark.at.isoformat(),
                "weight": mark.weight,
                "kind": mark.kind,
                "label": mark.label,
                "colour": STYLES.get(mark.kind, STYLES["check"])[0],
            }
            for mark in picture.marks
        ],
    }


def check_rows(described: dict[str, Any]) -> list[dict[str, Any]]:
    """The recorded health checks, newest first, in the words ``rollouts status`` uses."""
    rows = []
    for check in reversed(described.get("checks") or []):
        verdict = check.get("analysis")
        rows.append(
            {
                "at": check.get("at"),
                "step": f"step {check.get('step')} at {check.get('weight')}%, baked "
                f"{human(int(check.get('bakedSeconds') or 0))}",
                "action": str(check.get("action") or ""),
                "reason": check.get("reason"),
                "alarms": alarms_text(check),
                "firing": any(s == "ALARM" for s in (check.get("alarmsNotOk") or {}).values()),
                "analysis": analysis_line(verdict) if isinstance(verdict, dict) else None,
                "outcome": verdict.get("outcome") if isinstance(verdict, dict) else None,
            }
        )
    return rows


def summary_lines(described: dict[str, Any]) -> list[list[str]]:
    """The summary block ``rollouts status`` prints first, as ``[key, value]`` pairs
    (a continued line has the key ``""``).

    >>> summary_lines({"rolloutId": "r", "status": "UNKNOWN", "functionName": "f",
    ...                "alias": "live", "executionArn": "arn"})[0]
    ['alias', 'f:live']
    """
    pairs: list[list[str]] = []
    for line in rollout_lines(described)[1:]:
        text = line.strip()
        if not text:
            continue
        if line.startswith("   "):
            pairs.append(["", text])
        else:
            key, _, value = text.partition(" ")
            pairs.append([key, value.strip()])
    return pairs
