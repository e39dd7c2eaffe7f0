"""What the console's pages show (pure): the graph of the real ASL, the states an execution
visited, a list row, the checks and the summary in the CLI's words; and the browser
libraries shipped in the package, which must be the ones VENDOR.json names."""

from __future__ import annotations

import doctest
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rollouts_cli.console import pages, source
from rollouts_cli.picture import Mark, Picture

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "rollout.asl.json").read_text())
CONSOLE = ROOT / "src" / "rollouts_cli" / "console"


def test_the_examples_in_the_docstrings_hold() -> None:
    results = doctest.testmod(pages)
    assert results.attempted >= 4
    assert results.failed == 0


def _transitions(state: dict[str, Any]) -> set[tuple[str, str]]:
    found = {("next", state["Next"])} if state.get("Next") else set()
    found |= {("choice", rule["Next"]) for rule in state.get("Choices") or []}
    if state.get("Default"):
        found.add(("default", state["Default"]))
    found |= {("catch", catch["Next"]) for catch in state.get("Catch") or []}
    return found


def test_the_graph_of_the_real_state_machine_has_every_state_and_every_transition() -> None:
    graph = pages.state_graph(ASL)

    assert graph["startAt"] == "ReadRequest"
    assert [node["id"] for node in graph["nodes"]] == list(ASL["States"])
    assert {node["id"]: node["type"] for node in graph["nodes"]}["NextAction"] == "Choice"
    drawn = {(e["source"], e["kind"], e["target"]) for e in graph["edges"]}
    expected = {
        (name, kind, target)
        for name, state in ASL["States"].items()
        for kind, target in _transitions(state)
    }
    assert drawn == expected
    assert len(graph["edges"]) == len(drawn)  # a Catch listed twice is drawn once
    assert {e["target"] for e in graph["edges"]} <= set(ASL["States"])
    rollback = [e for e in graph["edges"] if e["source"] == "ShiftTraffic" and e["kind"] == "catch"]
    assert [e["target"] for e in rollback] == ["RollBack"]
    assert rollback[0]["label"]  # the errors it catches


def test_a_state_that_ends_leads_to_an_end_node() -> None:
    graph = pages.state_graph({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})

    assert [n["id"] for n in graph["nodes"]] == ["A", "End"]
    assert [(e["source"], e["target"], e["kind"]) for e in graph["edges"]] == [("A", "End", "end")]


def entered(name: str, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name}}


def exited(name: str, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateExited", "stateExitedEventDetails": {"name": name}}


def through(*names: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [{"type": "ExecutionStarted"}]
    for name in names:
        events += [entered(name), exited(name)]
    return events


VISITS = [
    pytest.param(
        [*through("ReadRequest", "ShiftTraffic"), entered("Bake")],
        True,
        ("Bake", None, ["ReadRequest", "ShiftTraffic", "Bake"]),
        id="baking-now",
    ),
    pytest.param(
        [
            *through("ShiftTraffic", "RollBack"),
            entered("RolledBack", "Fail"),
            {"type": "ExecutionFailed"},
        ],
        False,
        (None, "RolledBack", ["ShiftTraffic", "RollBack", "RolledBack"]),
        id="failed-in-a-fail-state",
    ),
    pytest.param(
        [*through("ShiftTraffic"), entered("Bake"), {"type": "ExecutionAborted"}],
        False,
        (None, "Bake", ["ShiftTraffic", "Bake"]),
        id="stopped-mid-bake",
    ),
    pytest.param(
        [
            *through("ShiftTraffic", "FinishRollout"),
            entered("Promoted", "Succeed"),
            exited("Promoted", "Succeed"),
            {"type": "ExecutionSucceeded"},
        ],
        False,
        (None, None, ["ShiftTraffic", "FinishRollout", "Promoted"]),
        id="succeeded",
    ),
    pytest.param(
        [*through("ShiftTraffic"), entered("Bake"), {"type": "ExecutionTimedOut"}],
        False,
        (None, "Bake", ["ShiftTraffic", "Bake"]),
        id="timed-out-mid-bake",
    ),
    pytest.param(
        [
            *through("ShiftTraffic"),
            entered("Bake"),
            {"type": "ExecutionFailed"},
            {"type": "ExecutionRedriven"},
            entered("Bake"),
        ],
        True,
        ("Bake", None, ["ShiftTraffic", "Bake"]),
        id="redriven-after-a-failure",
    ),
    pytest.param([{"type": "ExecutionStarted"}], True, (None, None, []), id="not-in-a-state-yet"),
]


@pytest.mark.parametrize(("events", "running", "expected"), VISITS)
def test_visits_light_the_current_and_the_failed_state(
    events: list[dict[str, Any]], running: bool, expected: tuple[Any, Any, list[str]]
) -> None:
    seen = pages.visits(events, running)

    assert (seen["current"], seen["failed"], seen["visited"]) == expected


def test_a_loop_counts_each_visit_and_each_transition_once() -> None:
    seen = pages.visits(
        through("NextAction", "ShiftTraffic", "NextAction", "Bake", "CheckHealth", "NextAction"),
        running=True,
    )

    assert seen["counts"] == {"NextAction": 3, "ShiftTraffic": 1, "Bake": 1, "CheckHealth": 1}
    assert seen["transitions"] == [
        ["NextAction", "ShiftTraffic"],
        ["ShiftTraffic", "NextAction"],
        ["NextAction", "Bake"],
        ["Bake", "CheckHealth"],
        ["CheckHealth", "NextAction"],
    ]
    assert seen["current"] is None  # between states: none is lit


RECORD = {
    "status": "ROLLED_BACK",
    "functionName": "orders",
    "alias": "live",
    "baselineVersion": "6",
    "targetVersion": "7",
    "strategy": "Canary10Percent5Minutes",
    "startedAt": "2026-12-01T10:00:00+00:00",
    "endedAt": "2026-12-01T10:02:30+00:00",
    "reason": "alarm errors is in ALARM",
    "state": {"steps": [{"weight": 10, "bakeSeconds": 300}], "stepIndex": 0},
}


def test_a_row_takes_its_times_and_versions_from_the_record() -> None:
    execution = {
        "name": "orders-live-v7-1a2b",
        "status": "FAILED",
        "startDate": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    }

    found = pages.row(execution, RECORD)

    assert found["rolloutId"] == "orders-live-v7-1a2b"
    assert (found["status"], found["outcome"]) == ("FAILED", "ROLLED_BACK")
    assert (found["functionName"], found["alias"]) == ("orders", "live")
    assert (found["fromVersion"], found["toVersion"]) == ("6", "7")
    assert found["startedAt"] == "2026-12-01T10:00:00+00:00"
    assert found["durationSeconds"] == 150.0
    assert (found["step"], found["stepCount"], found["weight"]) == (1, 1, 10)
    assert found["reason"] == "alarm errors is in ALARM"


def test_a_rollout_refused_before_its_record_shows_its_executions_times() -> None:
    execution = {
        "name": "x",
        "status": "FAILED",
        "startDate": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        "stopDate": datetime(2026, 12, 1, 9, 0, 2, tzinfo=UTC),
    }

    found = pages.row(execution, None)

    assert (found["functionName"], found["outcome"]) == (None, None)
    assert found["startedAt"] == "2026-12-01T09:00:00+00:00"
    assert found["durationSeconds"] == 2.0


def test_a_running_row_has_no_duration_yet() -> None:
    running = {**RECORD, "status": "RUNNING", "endedAt": None}

    found = pages.row({"name": "r", "status": "RUNNING"}, running)

    assert found["durationSeconds"] is None


def test_the_picture_document_keeps_every_mark_with_its_colour() -> None:
    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    picture = Picture(
        "orders:live 6 -> 7 (r)",
        ((at, 0), (at, 10)),
        (
            Mark(at, 10, "shift", "shifted to 10% (step 1)"),
            Mark(at, 0, "rolled-back", "rolled back"),
        ),
    )

    document = pages.picture_document(picture)

    assert document["weights"] == [
        {"at": "2026-12-01T10:00:00+00:00", "weight": 0},
        {"at": "2026-12-01T10:00:00+00:00", "weight": 10},
    ]
    assert [(m["kind"], m["label"], m["colour"]) for m in document["marks"]] == [
        ("shift", "shifted to 10% (step 1)", "#1f77b4"),
        ("rolled-back", "rolled back", "#d62728"),
    ]


def test_checks_are_shown_newest_first_in_the_clis_words() -> None:
    described = {
        "checks": [
            {
                "at": "t1",
                "step": 1,
                "weight": 10,
                "bakedSeconds": 60,
                "alarmsWatched": 1,
                "action": "wait",
            },
            {
                "at": "t2",
                "step": 1,
                "weight": 10,
                "bakedSeconds": 90,
                "alarmsWatched": 1,
                "alarmsNotOk": {"errors": "ALARM"},
                "alarmReasons": {"errors": "Threshold Crossed"},
                "action": "rollback",
                "reason": "alarm errors is in ALARM",
            },
        ]
    }

    rows = pages.check_rows(described)

    assert [r["at"] for r in rows] == ["t2", "t1"]
    assert rows[0]["alarms"] == "errors=ALARM (Threshold Crossed)"
    assert rows[0]["firing"] is True
    assert rows[0]["step"] == "step 1 at 10%, baked 1 min 30 s"
    assert (rows[0]["action"], rows[0]["reason"]) == ("rollback", "alarm errors is in ALARM")
    assert (rows[1]["alarms"], rows[1]["firing"]) == ("1 alarm OK", False)


def test_the_summary_is_the_clis_summary_as_pairs() -> None:
    described = {
        "rolloutId": "r",
        "status": "FAILED",
        "error": "RolledBack",
        "cause": "Rolled back orders:live to version 6: alarm errors",
        "functionName": "orders",
        "alias": "live",
        "fromVersion": "6",
        "toVersion": "7",
        "executionArn": "arn:x",
    }

    pairs = pages.summary_lines(described)

    assert ["alias", "orders:live"] in pairs
    assert ["error", "RolledBack"] in pairs
    assert ["cause", "Rolled back orders:live to version 6: alarm errors"] in pairs
    assert pairs[-1] == ["execution", "arn:x"]


OVER = [
    pytest.param("RUNNING", "RUNNING", False, id="running"),
    pytest.param("ABORTED", "ENDING", False, id="stopped-its-cleanup-still-running"),
    pytest.param("ABORTED", "ROLLED_BACK", True, id="stopped-and-cleaned-up"),
    pytest.param("SUCCEEDED", "SUCCEEDED", True, id="promoted"),
    pytest.param("FAILED", None, True, id="refused-before-its-record"),
    pytest.param("RUNNING", None, False, id="starting"),
]


@pytest.mark.parametrize(("execution", "record", "over"), OVER)
def test_a_row_is_kept_only_once_nothing_about_it_can_change(
    execution: str, record: str | None, over: bool
) -> None:
    found = {"status": record} if record else None

    assert source._over({"status": execution}, found) is over


# --- what ships in the package -----------------------------------------------------------


def test_the_vendored_libraries_are_the_ones_vendor_json_names() -> None:
    vendor = CONSOLE / "static" / "vendor"
    manifest = json.loads((vendor / "VENDOR.json").read_text())

    assert {entry["package"] for entry in manifest} == {"chart.js", "cytoscape", "cytoscape-dagre"}
    for entry in manifest:
        shipped = (vendor / entry["file"]).read_bytes()
        assert hashlib.sha256(shipped).hexdigest() == entry["sha256"], entry["file"]
        assert "MIT" in (vendor / entry["licence"]).read_text()
    assert {p.name for p in vendor.iterdir()} == {"VENDOR.json"} | {
        name for entry in manifest for name in (entry["file"], entry["licence"])
    }


def test_the_pages_load_nothing_from_another_origin() -> None:
    templates = [p.read_text() for p in (CONSOLE / "templates").glob("*.html")]
    own = [(CONSOLE / "static" / name).read_text() for name in ("console.js", "console.css")]

    for text in templates + own:
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
        assert "http://" not in text and "https://" not in text
    scripts = re.findall(r"filename='([^']+)'", "".join(templates))
    assert {"console.js", "console.css", "vendor/chart.umd.min.js"} <= set(scripts)
    for name in scripts:
        assert (CONSOLE / "static" / name).is_file(), name
