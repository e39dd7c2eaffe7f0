"""What people read, without an engine: how a rollout ended, where its alias is, its timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollouts.plan import estimate_history_events
from rollouts.strategy import Step
from rollouts_cli.timeline import render, timeline
from rollouts_cli.views import (
    describe_routing,
    ending,
    live_document,
    plan_lines,
    rollout_lines,
    status_lines,
    traffic_line,
)

from .conftest import assert_readable

ALARM = "alarm errors is in ALARM at step 1 of 2 (10% on the target)"
BASELINE = {"version": "2", "extra": {}, "describes": "100% on version 2, the baseline"}
TARGET = {"version": "3", "extra": {}, "describes": "100% on version 3, the target"}


def ended_rollout(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "rolloutId": "orders-live-v3-1a2b3c4d",
        "executionArn": "arn:aws:states:us-east-1:1:execution:m:orders-live-v3-1a2b3c4d",
        "status": "FAILED",
        "functionName": "orders",
        "alias": "live",
        "fromVersion": "2",
        "toVersion": "3",
        "strategy": "Linear50PercentEvery1Minute",
        "step": 1,
        "stepCount": 2,
        "weight": 10,
        "error": "RolledBack",
        "cause": f"Rolled back orders:live to version 2: {ALARM}.",
        "summary": f"rolling back: {ALARM}",
        "live": BASELINE,
    }
    return {**base, **changes}


# -- where the alias is ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "extra", "shown"),
    [
        pytest.param("2", {}, "100% on version 2, the baseline", id="baseline"),
        pytest.param("3", {}, "100% on version 3, the target", id="target"),
        pytest.param("5", {}, "100% on version 5", id="another-version"),
        pytest.param("2", {"3": 10}, "90% on version 2, 10% on version 3", id="split"),
        pytest.param("2", {"3": 5.5}, "94.5% on version 2, 5.5% on version 3", id="fraction"),
    ],
)
def test_routing_in_words(version: str, extra: dict[str, int | float], shown: str) -> None:
    assert describe_routing(version, extra, "2", "3") == shown


def test_live_document_reads_get_alias_in_percents() -> None:
    answer = {"FunctionVersion": "2", "RoutingConfig": {"AdditionalVersionWeights": {"3": 0.1}}}

    assert live_document(answer, "2", "3") == {
        "version": "2",
        "extra": {"3": 10},
        "describes": "90% on version 2, 10% on version 3",
    }
    assert live_document(None, "2", "3")["describes"] == "the alias does not exist"


# -- how it ended -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rollout", "sentence"),
    [
        pytest.param(
            ended_rollout(),
            f"rolled back: {ALARM}; live: 100% on version 2, the baseline",
            id="rolled-back-by-an-alarm",
        ),
        pytest.param(
            ended_rollout(
                step=0,
                weight=0,
                promoted=True,
                cause="Rolled back orders:live to version 2: PostTraffic hook post failed: "
                "HTTP 500 after promotion (100% on the target).",
                summary="orders:live promoted to version 3 (was 2)",
            ),
            "rolled back: PostTraffic hook post failed: HTTP 500 after promotion "
            "(100% on the target); live: 100% on version 2, the baseline",
            id="post-traffic-hook-failed",
        ),
        pytest.param(
            ended_rollout(status="SUCCEEDED", error=None, cause=None, live=TARGET),
            "promoted: 100% on version 3, the target",
            id="promoted",
        ),
        pytest.param(
            ended_rollout(
                error="AliasDrift",
                cause="Stopped orders:live without touching it: alias live now routes "
                "100% to version 5, not as this rollout left it. The alias was left as found.",
                live={"version": "5", "extra": {}, "describes": "100% on version 5"},
            ),
            "stopped on drift: alias live now routes 100% to version 5, not as this rollout "
            "left it; live: 100% on version 5",
            id="drifted",
        ),
        pytest.param(
            ended_rollout(
                cause="The rollout ended before it changed anything: aborted by alice: no",
                step=0,
            ),
            "rolled back: aborted by alice: no; live: 100% on version 2, the baseline",
            id="ended-before-any-change",
        ),
        pytest.param(
            ended_rollout(error="ValidationError", cause="alias: does not exist", live=None),
            "refused: alias: does not exist",
            id="refused",
        ),
        pytest.param(
            ended_rollout(status="ABORTED", error=None, cause=None, reason="stopped by hand"),
            "stopped: stopped by hand; live: 100% on version 2, the baseline",
            id="execution-stopped",
        ),
        pytest.param(
            ended_rollout(live=None, liveUnknown="AccessDeniedException from GetAlias"),
            f"rolled back: {ALARM}; live: not known (AccessDeniedException from GetAlias)",
            id="alias-not-readable",
        ),
    ],
)
def test_the_end_is_said_with_where_the_alias_is_now(
    rollout: dict[str, Any], sentence: str
) -> None:
    assert ending(rollout) == sentence


def test_a_running_rollout_has_no_ending() -> None:
    assert ending(ended_rollout(status="RUNNING", error=None, cause=None)) is None


@pytest.mark.parametrize(
    ("rollout", "shown"),
    [
        pytest.param(
            ended_rollout(),
            "0% on the target now; it was at 10% (step 1 of 2) when it ended",
            id="rolled-back",
        ),
        pytest.param(
            ended_rollout(promoted=True, step=0),
            "0% on the target now; it was promoted (100%) when it ended",
            id="rolled-back-after-promotion",
        ),
        pytest.param(
            ended_rollout(step=0, weight=0),
            "0% on the target now; traffic had not moved when it ended",
            id="before-traffic",
        ),
        pytest.param(
            ended_rollout(status="SUCCEEDED", error=None, live=TARGET),
            "100% on the target now",
            id="promoted",
        ),
        pytest.param(
            ended_rollout(status="RUNNING", error=None),
            "10% on the target at step 1 of 2",
            id="running",
        ),
    ],
)
def test_traffic_line(rollout: dict[str, Any], shown: str) -> None:
    assert traffic_line(rollout) == shown


def test_after_a_rollback_nothing_shown_contradicts_it() -> None:
    lines = rollout_lines(ended_rollout())
    text = "\n".join(lines)

    assert f"  summary    rolled back: {ALARM}; live: 100% on version 2, the baseline" in lines
    assert "  traffic    0% on the target now; it was at 10% (step 1 of 2) when it ended" in lines
    assert "rolling back" not in text  # the record's last summary, before the end
    assert_readable(text)


def test_status_lines_show_pause_waiting_requests_and_alarm_reasons() -> None:
    rollout = ended_rollout(
        status="RUNNING",
        error=None,
        cause=None,
        summary="holding: paused by alice",
        live={
            "version": "2",
            "extra": {"3": 10},
            "describes": "90% on version 2, 10% on version 3",
        },
        paused={
            "by": "arn:aws:iam::1:user/alice",
            "reason": "logs",
            "at": "2026-12-01T12:03:04+00:00",
        },
        waiting={"kind": "bake", "since": "2026-12-01T12:03:04+00:00"},
        checks=[
            {
                "at": "2026-12-01T12:04:00+00:00",
                "step": 1,
                "weight": 10,
                "bakedSeconds": 90,
                "alarmsWatched": 1,
                "alarmsNotOk": {"errors": "ALARM"},
                "alarmReasons": {"errors": "Threshold Crossed: 1 datapoint [5.0] >= 3.0"},
                "action": "rollback",
            }
        ],
        stepsTaken=[{"step": 1, "weight": 10, "bakeSeconds": 300, "at": "2026-12-01T12:02:00Z"}],
        steps=[{"weight": 10, "bakeSeconds": 300}, {"weight": 50, "bakeSeconds": 300}],
    )

    lines = status_lines(rollout, [])

    assert "  live       90% on version 2, 10% on version 3" in lines
    assert (
        "  paused     by arn:aws:iam::1:user/alice at 2026-12-01 12:03:04 UTC: logs; "
        "resume it: rollouts resume orders-live-v3-1a2b3c4d"
    ) in lines
    assert not any(line.startswith("  waiting") for line in lines)  # paused: it bakes nothing
    assert "  waiting    baking since 2026-12-01 12:03:04 UTC" in status_lines(
        {**rollout, "paused": None}, []
    )
    assert "  step 1: 10% at 2026-12-01 12:02:00 UTC, bake 5 min" in lines
    assert (
        "  2026-12-01 12:04:00 UTC  step 1 at 10%, baked 1 min 30 s, "
        "errors=ALARM (Threshold Crossed: 1 datapoint [5.0] >= 3.0) -> rollback"
    ) in lines
    assert_readable("\n".join(lines))


def test_status_lines_show_the_latest_verdict_with_both_sides_and_each_checks_verdict() -> None:
    worse = (
        "target 21.4% errors over 70 invocations vs baseline 0.0% over 630: worse at 99% confidence"
    )
    failed = {
        "outcome": "fail",
        "reason": worse,
        "target": {"invocations": 70, "errors": 15, "errorRate": 21.43, "p99Ms": 820.0},
        "baseline": {"invocations": 630, "errors": 0, "errorRate": 0.0, "p99Ms": 410.5},
        "pValue": 3.1e-12,
        "at": "2026-12-01T12:06:00+00:00",
        "step": 1,
        "window": {"start": "2026-12-01T12:03:00+00:00", "end": "2026-12-01T12:06:00+00:00"},
    }
    settling = {
        "outcome": "inconclusive",
        "reason": "settling: 1 min before the first verdict",
        "target": {"invocations": 0, "errors": 0, "errorRate": None, "p99Ms": None},
        "step": 1,
    }
    check = {"step": 1, "weight": 10, "alarmsWatched": 0, "alarmsNotOk": {}}
    rollout = ended_rollout(
        checks=[
            {
                **check,
                "at": "2026-12-01T12:04:00+00:00",
                "bakedSeconds": 60,
                "action": "bake",
                "analysis": settling,
            },
            {
                **check,
                "at": "2026-12-01T12:06:00+00:00",
                "bakedSeconds": 180,
                "action": "rollback",
                "analysis": failed,
            },
        ],
        steps=[{"weight": 10, "bakeSeconds": 600}],
    )

    lines = status_lines(rollout, [])

    assert (
        "  analysis   FAIL  target 21.4% errors over 70, p99 820 ms"
        " | baseline 0.0% errors over 630, p99 410.5 ms | p=3.1e-12"
    ) in lines
    assert f"             {worse}" in lines
    assert (
        "  2026-12-01 12:04:00 UTC  step 1 at 10%, baked 1 min, no alarms,"
        " analysis INCONCLUSIVE  settling: 1 min before the first verdict -> bake"
    ) in lines
    assert_readable("\n".join(lines))


# -- the timeline ---------------------------------------------------------------------------
START = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def history(*events: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """History events a second apart, from (type, details) pairs."""
    return [
        {"type": kind, "timestamp": START + timedelta(seconds=i), **details}
        for i, (kind, details) in enumerate(events)
    ]


def exited(name: str, rollout: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    import json

    output = json.dumps({"rollout": rollout or {}})
    return "TaskStateExited", {"stateExitedEventDetails": {"name": name, "output": output}}


def entered(name: str) -> tuple[str, dict[str, Any]]:
    return "TaskStateEntered", {"stateEnteredEventDetails": {"name": name}}


def test_a_failed_hook_never_shows_as_passed() -> None:
    events = history(
        ("ExecutionStarted", {}),
        entered("RunPostTrafficHook"),
        (
            "LambdaFunctionFailed",
            {
                "lambdaFunctionFailedEventDetails": {
                    "error": "HookFailedError",
                    "cause": '{"errorMessage": "PostTraffic hook post failed: HTTP 500"}',
                }
            },
        ),
        exited("RunPostTrafficHook"),
        entered("RunPreTrafficHook"),
        ("LambdaFunctionSucceeded", {}),
        exited("RunPreTrafficHook"),
    )

    assert [m.what for m in timeline(events)] == [
        "PostTraffic hook post failed: HTTP 500",
        "PreTraffic hook passed",
    ]


def test_the_timeline_merges_requests_in_time_and_reads_in_human_units() -> None:
    steps = [{"weight": 10, "bakeSeconds": 300}]
    events = history(
        ("ExecutionStarted", {}),
        exited("ShiftTraffic", {"steps": steps, "stepIndex": 0}),
        exited("CheckHealth", {"bakedSeconds": 60}),
        exited("CheckHealth", {"bakedSeconds": 120}),
        exited("PromoteTarget", {"targetVersion": "3"}),
        ("ExecutionSucceeded", {}),
    )
    requests = [
        {"verb": "pause", "by": "arn:aws:iam::1:user/alice", "reason": "checking logs",
         "at": "2026-12-01T12:00:02+00:00"},
        {"verb": "promote", "by": "arn:aws:iam::1:user/bob", "full": True,
         "at": "2026-12-01T12:00:03+00:00"},
    ]  # fmt: skip

    assert render(timeline(events, requests)) == [
        "12:00:01  shifted to 10% (step 1 of 1)",
        "12:00:02  paused by alice: checking logs",
        "12:00:03  full promotion (to 100%, skipping the steps left) requested by bob",
        "12:00:04  baked 2 min at 10%: 2 health checks",
        "12:00:04  promoted: 100% on version 3",
        "12:00:05  succeeded",
    ]


# -- plan ---------------------------------------------------------------------------------
def test_plan_lines_say_when_each_step_starts_and_checks() -> None:
    steps = (Step(10, 1800),)

    lines = plan_lines(
        "Canary10Percent30Minutes", steps, 60, None, estimate_history_events(steps, 60), 20_000,
        25_000,
    )  # fmt: skip

    assert lines == [
        "Canary10Percent30Minutes: 1 step, then the promotion",
        "  at 0 s                  step 1: 10% on the target, bake 30 min, 30 health checks: "
        "at 1 min, 2 min, 3 min, …, 30 min into it",
        "  at 30 min               promote: 100% on the target",
        "  total bake: 30 min",
        "  health checked every 1 min while baking (the default; --check-interval changes it)",
        "  history: about 457 events of the 20,000 a rollout may plan for "
        "(Step Functions allows 25,000)",
    ]
