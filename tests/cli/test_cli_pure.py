"""The CLI's pure parts, without an engine: live progress, exit codes, requests, stack outputs."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from click.testing import CliRunner
from rich.console import Console

from rollouts.errors import TransientError
from rollouts_cli.cli import aws_failure, build_request, exit_code_for, main, strategy_value
from rollouts_cli.follow import Progress, follow, line, progress_of
from rollouts_cli.stack import StackError, required_outputs, stack_outputs
from rollouts_cli.views import list_lines, started_document

STEPS = [{"weight": 10, "bakeSeconds": 300}, {"weight": 50, "bakeSeconds": 600}]


def described(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "rolloutId": "orders-live-v2-1a2b3c4d",
        "status": "RUNNING",
        "step": 1,
        "stepCount": 2,
        "weight": 10,
        "steps": STEPS,
        "fromVersion": "1",
        "toVersion": "2",
        "checks": [],
    }
    return {**base, **changes}


def check(step: int, baked: int, action: str = "bake", **alarms: str) -> dict[str, Any]:
    """A check as CheckHealth records it: the alarms watched, and those not OK by name."""
    return {
        "step": step,
        "bakedSeconds": baked,
        "action": action,
        "alarmsWatched": len(alarms),
        "alarmsNotOk": {name: state for name, state in alarms.items() if state != "OK"},
    }


# -- progress_of ----------------------------------------------------------------
PAUSED = {"by": "arn:aws:iam::123456789012:user/alice", "reason": "checking logs", "at": "t"}
LIVE_BASELINE = {"version": "1", "extra": {}, "describes": "100% on version 1, the baseline"}
LIVE_OTHER = {"version": "3", "extra": {}, "describes": "100% on version 3"}


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        pytest.param(
            described(step=0, weight=0),
            "RUNNING before traffic moves, 0% on version 2, 100% on version 1, "
            "health not checked yet",
            id="before-traffic",
        ),
        pytest.param(
            described(),
            "RUNNING baking, step 1 of 2, 10% on version 2, 90% on version 1, "
            "bake 5 min left of 5 min, health not checked yet",
            id="just-shifted",
        ),
        pytest.param(
            described(checks=[check(1, 60, errors="OK"), check(1, 120, errors="OK")]),
            "RUNNING baking, step 1 of 2, 10% on version 2, 90% on version 1, "
            "bake 3 min left of 5 min, health OK: 1 alarm",
            id="mid-bake",
        ),
        pytest.param(
            described(step=2, weight=50, checks=[check(1, 300, "shift", errors="OK")]),
            "RUNNING baking, step 2 of 2, 50% on version 2, 50% on version 1, "
            "bake 10 min left of 10 min, health OK: 1 alarm",
            id="previous-step-checks-do-not-count",
        ),
        pytest.param(
            described(checks=[check(1, 60, "rollback", errors="ALARM", latency="OK")]),
            "RUNNING rolling back, step 1 of 2, 10% on version 2, 90% on version 1, "
            "bake 4 min left of 5 min, health ALARM: errors",
            id="alarm-firing",
        ),
        pytest.param(
            described(bakedSeconds=250, checks=[check(1, 240, errors="INSUFFICIENT_DATA")]),
            "RUNNING baking, step 1 of 2, 10% on version 2, 90% on version 1, "
            "bake 50 s left of 5 min, health errors=INSUFFICIENT_DATA",
            id="baked-seconds-given",
        ),
        pytest.param(
            described(paused=PAUSED),
            "RUNNING holding, paused by alice: checking logs, step 1 of 2, "
            "10% on version 2, 90% on version 1, health not checked yet",
            id="paused",
        ),
        pytest.param(
            described(step=0, weight=0, waiting={"kind": "PreTraffic", "hook": "pre"}),
            "RUNNING before traffic moves, waiting for the PreTraffic hook pre, "
            "0% on version 2, 100% on version 1, health not checked yet",
            id="waiting-for-a-hook",
        ),
        pytest.param(
            described(status="SUCCEEDED", step=2, checks=[check(2, 600, "promote")]),
            "SUCCEEDED promoted, 100% on version 2, health no alarms",
            id="promoted",
        ),
        pytest.param(
            described(status="FAILED", error="RolledBack"),
            "FAILED rolled back, 0% on version 2, 100% on version 1, health not checked yet",
            id="rolled-back",
        ),
        pytest.param(
            described(status="FAILED", error="RolledBack", live=LIVE_BASELINE),
            "FAILED rolled back, live: 100% on version 1, the baseline, health not checked yet",
            id="rolled-back-live",
        ),
        pytest.param(
            described(status="FAILED", error="AliasDrift"),
            "FAILED stopped on drift, traffic as someone else left it, health not checked yet",
            id="drifted",
        ),
        pytest.param(
            described(status="FAILED", error="AliasDrift", live=LIVE_OTHER),
            "FAILED stopped on drift, live: 100% on version 3, health not checked yet",
            id="drifted-live",
        ),
        pytest.param(
            described(status="ABORTED", step=0, toVersion=None),
            "ABORTED stopped, 0% on the target, 100% on version 1, health not checked yet",
            id="stopped",
        ),
    ],
)
def test_progress_line(rollout: dict[str, Any], expected: str) -> None:
    assert line(progress_of(rollout)) == expected


def test_bake_left_never_goes_below_zero() -> None:
    progress = progress_of(described(checks=[check(1, 400)]))
    assert progress.bake_left == 0


# -- follow -----------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def scripted(*answers: dict[str, Any]) -> Any:
    remaining = list(answers)

    def describe() -> dict[str, Any]:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return describe


def test_follow_prints_a_line_only_when_it_changes_when_not_a_terminal() -> None:
    out = io.StringIO()
    clock = Clock()
    last = described(status="SUCCEEDED")
    describe = scripted(described(), described(), described(checks=[check(1, 60)]), last)

    ended, finished = follow(describe, Console(file=out), 1.0, clock=clock, sleep=clock.sleep)

    assert (ended, finished) == (last, True)
    assert out.getvalue().splitlines() == [
        "  RUNNING baking, step 1 of 2, 10% on version 2, 90% on version 1, "
        "bake 5 min left of 5 min, health not checked yet",
        "  RUNNING baking, step 1 of 2, 10% on version 2, 90% on version 1, "
        "bake 4 min left of 5 min, health no alarms",
        "  SUCCEEDED promoted, 100% on version 2, health not checked yet",
    ]
    assert clock.now == 3.0


def test_follow_stops_waiting_at_the_timeout_with_the_rollout_still_running() -> None:
    clock = Clock()
    running = described()

    last, finished = follow(
        scripted(running),
        Console(file=io.StringIO()),
        poll_seconds=2.0,
        timeout=5.0,
        clock=clock,
        sleep=clock.sleep,
    )

    assert (last, finished) == (running, False)
    assert clock.now == 6.0


def test_follow_on_a_terminal_shows_a_live_panel() -> None:
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=100, color_system=None)
    clock = Clock()
    live = {"version": "2", "extra": {}, "describes": "100% on version 2, the target"}
    describe = scripted(
        described(checks=[check(1, 120, errors="OK")]), described(status="SUCCEEDED", live=live)
    )

    follow(describe, terminal, 1.0, clock=clock, sleep=clock.sleep)

    shown = out.getvalue()
    assert "orders-live-v2-1a2b3c4d" in shown
    assert "baseline 1 -> target 2" in shown
    assert "SUCCEEDED: promoted" in shown
    assert "live: 100% on version 2, the target" in shown


def test_panel_shows_step_weight_bake_left_and_health() -> None:
    from rollouts_cli.follow import panel

    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(
        panel(progress_of(described(checks=[check(1, 120, errors="ALARM")])))
    )
    shown = out.getvalue()
    for text in (
        "RUNNING: baking",
        "versions  baseline 1 -> target 2",
        "step      1 of 2",
        "10% on version 2, 90% on version 1",
        "3 min left of 5 min (rollout time)",
        "ALARM: errors",
    ):
        assert text in shown, shown


def test_panel_at_the_end_shows_why_and_what_is_live() -> None:
    from rollouts_cli.follow import panel

    out = io.StringIO()
    rolled_back = described(
        status="FAILED",
        error="RolledBack",
        cause="Rolled back orders:live to version 1: alarm errors is in ALARM at step 1 of 2 "
        "(10% on the target).",
        live=LIVE_BASELINE,
    )
    Console(file=out, width=120, color_system=None).print(panel(progress_of(rolled_back)))
    shown = out.getvalue()
    assert "FAILED: rolled back" in shown
    assert "live: 100% on version 1, the baseline" in shown
    assert "alarm errors is in ALARM at step 1 of 2 (10% on the target)" in shown
    assert "left of" not in shown and "step   " not in shown  # no step or bake once ended


# -- exit codes, requests, outputs ---------------------------------------------------
@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        pytest.param("SUCCEEDED", None, 0, id="promoted"),
        pytest.param("FAILED", "RolledBack", 3, id="rolled-back"),
        pytest.param("FAILED", "AliasDrift", 3, id="drifted"),
        pytest.param("FAILED", "RollbackFailed", 3, id="rollback-failed"),
        pytest.param("ABORTED", None, 3, id="stopped"),
        pytest.param("TIMED_OUT", None, 3, id="timed-out"),
        pytest.param("FAILED", "ValidationError", 4, id="refused-bad-input"),
        pytest.param("FAILED", "RolloutInProgress", 4, id="refused-busy"),
    ],
)
def test_exit_code_for_an_ended_rollout(status: str, error: str | None, code: int) -> None:
    assert exit_code_for({"status": status, "error": error}) == code


def test_build_request_spells_the_contract_and_leaves_absent_options_out() -> None:
    assert build_request("orders", "live", None, "AllAtOnce", (), None, None, None) == {
        "functionName": "orders",
        "alias": "live",
        "strategy": "AllAtOnce",
    }
    assert build_request(
        "orders", "live", "7", '[{"weight": 5, "bakeSeconds": 60}]', ("a", "b"), "pre", None, 30
    ) == {
        "functionName": "orders",
        "alias": "live",
        "version": "7",
        "strategy": {"steps": [{"weight": 5, "bakeSeconds": 60}]},
        "alarms": ["a", "b"],
        "hooks": {"preTraffic": "pre"},
        "checkIntervalSeconds": 30,
    }


def test_build_request_asks_for_a_first_deploy_and_hook_timeouts() -> None:
    request = build_request(
        "orders",
        "live",
        None,
        "AllAtOnce",
        (),
        "pre",
        "post",
        None,
        create_alias=True,
        pre_traffic_timeout=600,
    )

    assert request["createAlias"] is True
    assert request["hooks"] == {
        "preTraffic": {"function": "pre", "timeoutSeconds": 600},
        "postTraffic": "post",
    }


def test_strategy_value_takes_a_name_an_object_or_a_list() -> None:
    assert strategy_value("Canary10Percent5Minutes") == "Canary10Percent5Minutes"
    steps = {"steps": [{"weight": 5, "bakeSeconds": 60}]}
    assert strategy_value('{"steps": [{"weight": 5, "bakeSeconds": 60}]}') == steps
    assert strategy_value(' [{"weight": 5, "bakeSeconds": 60}]') == steps


def test_started_document_adds_error_and_cause_once_ended() -> None:
    running = described()
    assert set(started_document(running, ended=False)) == {
        "rolloutId",
        "executionArn",
        "status",
        "functionName",
        "alias",
        "fromVersion",
        "toVersion",
        "summary",
    }
    ended = started_document(described(status="FAILED", error="RolledBack", cause="c"), True)
    assert (ended["error"], ended["cause"]) == ("RolledBack", "c")


def test_list_lines_offer_the_next_page() -> None:
    assert list_lines([], None) == ["no rollouts"]
    lines = list_lines(
        [{"rolloutId": "r1", "status": "RUNNING", "startedAt": "2026-12-01T12:03:04+00:00"}],
        "tok",
    )
    assert lines[0].endswith("started 2026-12-01 12:03:04 UTC")
    assert lines[-1] == "more: --next-token tok"


def test_stack_outputs_name_what_is_missing() -> None:
    outputs = stack_outputs({"Outputs": [{"OutputKey": "TableName", "OutputValue": "t"}]})
    with pytest.raises(StackError, match="has no output StateMachineArn"):
        required_outputs(outputs, "lambda-rollouts")
    assert required_outputs({**outputs, "StateMachineArn": "arn"}, "s") == ("arn", "t")


def caused(error: Exception, cause: Exception) -> Exception:
    """``error`` as ``raise error from cause`` leaves it."""
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "text"),
    [
        pytest.param(NoCredentialsError(), "no AWS credentials found", id="credentials"),
        pytest.param(NoRegionError(), "set AWS_DEFAULT_REGION", id="region"),
        pytest.param(
            caused(
                TransientError("EndpointConnectionError: ..."),
                EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
            ),
            "cannot reach http://127.0.0.1:9",
            id="network-through-the-service",
        ),
        pytest.param(
            EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
            "cannot reach http://127.0.0.1:9",
            id="network",
        ),
        pytest.param(
            ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
                "StartExecution",
            ),
            "AWS answered AccessDeniedException: not allowed (StartExecution)",
            id="client-error",
        ),
    ],
)
def test_aws_failures_read_as_one_sentence(error: Exception, text: str) -> None:
    assert text in aws_failure(error)


def test_help_documents_every_exit_code() -> None:
    shown = CliRunner().invoke(main, ["--help"]).output
    for code in ("0  promoted", "1  the CLI itself failed", "2  usage", "3  the rollout ended"):
        assert code in shown
    assert "4  refused before anything changed" in shown
    for command in ("start", "status", "pause", "resume", "promote", "abort", "hook-result"):
        assert command in shown


def test_progress_is_a_frozen_value() -> None:
    progress = progress_of(described())
    assert isinstance(progress, Progress)
    with pytest.raises(AttributeError):
        progress.step = 2  # type: ignore[misc]


def test_the_panel_and_the_line_show_both_sides_of_the_latest_verdict() -> None:
    from rollouts_cli.follow import panel

    verdict = {
        "outcome": "pass",
        "reason": "target 1.0% errors over 100 invocations vs baseline 1.1% over 900: not worse",
        "target": {"invocations": 100, "errors": 1, "errorRate": 1.0, "p99Ms": 120.0},
        "baseline": {"invocations": 900, "errors": 10, "errorRate": 1.11, "p99Ms": 118.0},
        "pValue": 0.71,
        "window": {"start": "s", "end": "e"},
    }
    judged = {**check(1, 180, errors="OK"), "analysis": verdict}
    progress = progress_of(described(checks=[check(1, 120, errors="OK"), judged]))
    out = io.StringIO()
    Console(file=out, width=140, color_system=None).print(panel(progress))

    shown = (
        "PASS  target 1.0% errors over 100, p99 120 ms"
        " | baseline 1.1% errors over 900, p99 118 ms | p=0.71"
    )
    assert f"analysis  {shown}" in out.getvalue()
    assert line(progress).endswith(f", analysis {shown}")
