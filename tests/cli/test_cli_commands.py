"""Every command and exit code of ``rollouts``, run against the local engine.

Each test runs the CLI in process (click's CliRunner) with ``--endpoint-url``
pointing at the session's engine, and asserts the exit code, the JSON a
pipeline would read, and what the control plane did.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from rollouts_cli.local.engine import LocalEngine, free_port
from rollouts_cli.local.samples import create_function

from .conftest import HOOK_FAILS, Cli, Target, assert_readable, executions

HOOK_PASSES = "def handler(event, context):\n    return {'status': 'Succeeded'}\n"
HOOK_PENDING = "def handler(event, context):\n    return {'status': 'Pending'}\n"

pytestmark = pytest.mark.e2e


# -- start --------------------------------------------------------------------
def test_start_wait_promotes_and_exits_0(cli: Cli, target: Target) -> None:
    result = cli(
        *target.start_args("--strategy", "Canary10Percent5Minutes", "--wait", "--output", "json")
    )

    assert result.exit_code == 0, result.stderr
    started = json.loads(result.stdout)
    assert started["status"] == "SUCCEEDED"
    assert (started["error"], started["cause"]) == (None, None)
    assert (started["fromVersion"], started["toVersion"]) == ("1", "2")
    assert started["rolloutId"].startswith(f"{target.name}-live-v2-")
    assert started["executionArn"].endswith(f":{started['rolloutId']}")
    assert target.alias() == ("2", {})
    # With --output json, live progress goes to stderr: stdout stays one document.
    assert "SUCCEEDED promoted" in result.stderr


def test_start_wait_with_failing_pre_traffic_hook_exits_3(cli: Cli, target: Target) -> None:
    hook = target.hook(HOOK_FAILS)

    result = cli(
        *target.start_args(
            "--strategy", "AllAtOnce", "--pre-traffic", hook, "--wait", "--output", "json"
        )
    )

    assert result.exit_code == 3
    ended = json.loads(result.stdout)
    assert (ended["status"], ended["error"]) == ("FAILED", "RolledBack")
    assert f"PreTraffic hook {hook} failed: smoke test got HTTP 500" in ended["cause"]
    assert target.alias() == ("1", {})


@pytest.mark.parametrize(
    ("options", "field"),
    [
        pytest.param(["--strategy", "Canary0Percent5Minutes"], "strategy", id="bad-name"),
        pytest.param(["--strategy", '[{"weight": 5,'], "strategy", id="bad-json"),
        pytest.param(
            ["--strategy", '[{"weight": 50, "bakeSeconds": 60}, {"weight": 20, "bakeSeconds": 0}]'],
            "strategy.steps[1].weight",
            id="weights-not-increasing",
        ),
        pytest.param(
            ["--strategy", "AllAtOnce", "--check-interval", "0"],
            "checkIntervalSeconds",
            id="check-interval",
        ),
        pytest.param(
            ["--strategy", "Canary10Percent5Minutes", "--analysis", '{"maxErrorRate": 150}'],
            "analysis.maxErrorRate",
            id="analysis-rate",
        ),
    ],
)
def test_bad_input_is_refused_with_exit_4_naming_the_field_and_starts_nothing(
    cli: Cli, local_engine: LocalEngine, target: Target, options: list[str], field: str
) -> None:
    before = executions(local_engine)

    result = cli(*target.start_args(*options, "--output", "json"))

    assert result.exit_code == 4
    refused = json.loads(result.stdout)
    assert refused["error"] == "ValidationError"
    assert field in [f["field"] for f in refused["fields"]]
    assert f"{field}:" in result.stderr
    assert "nothing was changed" in result.stderr
    assert executions(local_engine) == before
    assert target.alias() == ("1", {})


def test_analysis_that_is_no_json_is_a_usage_error_naming_the_option(
    cli: Cli, local_engine: LocalEngine, target: Target
) -> None:
    before = executions(local_engine)

    result = cli(*target.start_args("--strategy", "Canary10Percent5Minutes", "--analysis", "{max"))

    assert result.exit_code == 2
    assert "--analysis" in result.stderr and "must be a JSON object" in result.stderr
    assert executions(local_engine) == before


def test_a_mistyped_strategy_is_refused_with_the_name_it_probably_meant(
    cli: Cli, local_engine: LocalEngine, target: Target
) -> None:
    before = executions(local_engine)

    result = cli(*target.start_args("--strategy", "Canary10Percent5Minute"))

    assert result.exit_code == 4
    assert (
        "strategy: unknown strategy Canary10Percent5Minute; "
        "did you mean Canary10Percent5Minutes?" in result.stderr
    )
    assert executions(local_engine) == before


def test_start_wait_prints_the_rollout_id_first(cli: Cli, target: Target) -> None:
    result = cli(*target.start_args("--strategy", "AllAtOnce", "--wait"))

    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"rollout {target.name}-live-v2-")
    assert first.endswith(" started")
    rollout_id = first.split()[1]
    assert cli.status(rollout_id)["status"] == "SUCCEEDED"


def test_start_wait_json_keeps_stdout_one_document_and_names_the_rollout_first_on_stderr(
    cli: Cli, target: Target
) -> None:
    result = cli(*target.start_args("--strategy", "AllAtOnce", "--wait", "-o", "json"))

    assert result.exit_code == 0, result.stderr
    ended = json.loads(result.stdout)
    assert result.stderr.splitlines()[0] == f"rollout {ended['rolloutId']} started"
    assert ended["live"] == {
        "version": "2",
        "extra": {},
        "describes": "100% on version 2, the target",
    }


def test_a_missing_alias_is_refused_naming_it_unless_create_alias(
    cli: Cli, target: Target, unique_name: Callable[[str], str]
) -> None:
    new = unique_name("first")
    create_function(
        target.lam, target.engine.client("iam"), new, "def handler(e, c):\n    return 1\n"
    )
    start = ("start", "--function", new, "--alias", "live", "--strategy", "AllAtOnce", "--wait")

    refused = cli(*start, "--output", "json")
    created = cli(*start, "--create-alias", "--output", "json")

    assert refused.exit_code == 4, refused.stdout
    assert "alias" in json.loads(refused.stdout)["cause"]
    assert created.exit_code == 0, created.stdout + created.stderr
    answer = target.lam.get_alias(FunctionName=new, Name="live")
    assert answer["FunctionVersion"] == json.loads(created.stdout)["toVersion"]


def test_a_hook_timeout_is_sent_with_the_hook(cli: Cli, target: Target) -> None:
    hook = target.hook(HOOK_PASSES)

    result = cli(
        *target.start_args(
            "--strategy", "AllAtOnce", "--pre-traffic", hook, "--pre-traffic-timeout", "120",
            "--wait", "-o", "json",
        )
    )  # fmt: skip

    assert result.exit_code == 0, result.stdout + result.stderr
    execution = target.engine.client("stepfunctions").describe_execution(
        executionArn=json.loads(result.stdout)["executionArn"]
    )
    assert json.loads(execution["input"])["hooks"] == {
        "preTraffic": {"function": hook, "timeoutSeconds": 120}
    }


def test_busy_alias_is_refused_with_exit_4_naming_the_holder(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    third = target.publish(3)
    time_scale(0.01)  # the first rollout's 5-minute bake lasts 3 s
    code, first = cli.json(*target.start_args("--strategy", "Canary10Percent5Minutes"))
    assert code == 0
    cli.wait_until(first["rolloutId"], lambda d: d["step"] == 1)

    result = cli(*target.start_args("--strategy", "AllAtOnce", "--output", "json", version=third))

    assert result.exit_code == 4
    refused = json.loads(result.stdout)
    assert refused["error"] == "RolloutInProgress"
    assert f"{target.name}:live is being rolled out by {first['rolloutId']}" in refused["cause"]
    assert first["rolloutId"] in result.stderr
    time_scale(0.0)
    ended = cli.wait_until(first["rolloutId"], lambda d: d["status"] != "RUNNING")
    assert ended["status"] == "SUCCEEDED"
    assert target.alias() == ("2", {})


def test_unknown_function_refused_by_the_state_machine_exits_4(
    cli: Cli, unique_name: Callable[[str], str]
) -> None:
    missing = unique_name("missing")

    result = cli(
        "start",
        *("--function", missing, "--alias", "live", "--strategy", "AllAtOnce"),
        *("--wait", "--output", "json"),
    )

    assert result.exit_code == 4
    ended = json.loads(result.stdout)
    assert (ended["status"], ended["error"]) == ("FAILED", "ValidationError")
    assert "functionName" in ended["cause"]


def test_start_without_wait_prints_the_running_rollout_and_exits_0(
    cli: Cli, target: Target
) -> None:
    code, started = cli.json(*target.start_args("--strategy", "AllAtOnce"))

    assert code == 0
    assert started["status"] == "RUNNING"
    assert set(started) == {"rolloutId", "executionArn", "status"}
    ended = cli.wait_until(started["rolloutId"], lambda d: d["status"] != "RUNNING")
    assert ended["status"] == "SUCCEEDED"


def test_wait_timeout_stops_waiting_with_exit_1_and_the_rollout_goes_on(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    time_scale(0.01)

    result = cli(
        *target.start_args(
            "--strategy", "Canary10Percent5Minutes", "--wait", "--timeout", "0.3", "-o", "json"
        )
    )

    assert result.exit_code == 1
    still = json.loads(result.stdout)
    assert still["status"] == "RUNNING"
    assert f"rollout {still['rolloutId']} is still running" in result.stderr
    time_scale(0.0)
    ended = cli.wait_until(still["rolloutId"], lambda d: d["status"] != "RUNNING")
    assert ended["status"] == "SUCCEEDED"


# -- status -------------------------------------------------------------------
def test_status_of_a_finished_rollout_shows_its_steps_and_checks(cli: Cli, target: Target) -> None:
    alarm = target.alarm()
    code, started = cli.json(
        *target.start_args(
            "--strategy", "Canary10Percent5Minutes", "--alarm", alarm, "--check-interval", "60"
        ),
        "--wait",
    )
    assert code == 0

    code, described = cli.json("status", started["rolloutId"])

    assert code == 0
    assert (described["status"], described["outcome"]) == ("SUCCEEDED", "SUCCEEDED")
    assert [(s["step"], s["weight"], s["bakeSeconds"]) for s in described["stepsTaken"]] == [
        (1, 10, 300)
    ]
    assert [c["bakedSeconds"] for c in described["checks"]] == [60, 120, 180, 240, 300]
    assert [(c["alarmsWatched"], c["alarmsNotOk"]) for c in described["checks"]] == [(1, {})] * 5
    assert described["checks"][-1]["action"] == "promote"
    assert "promoted to version 2" in described["summary"]

    assert described["live"] == {
        "version": "2",
        "extra": {},
        "describes": "100% on version 2, the target",
    }

    text = cli("status", started["rolloutId"])
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert "  summary    promoted: 100% on version 2, the target" in lines
    assert "  traffic    100% on the target now" in lines
    assert "Steps taken (1 of 1)" in lines
    assert any(
        line.startswith("  step 1: 10% at ") and line.endswith(", bake 5 min") for line in lines
    )
    assert "Last checks (5 of 5)" in lines
    assert any(line.endswith("baked 5 min, 1 alarm OK -> promote") for line in lines)
    assert any(line.endswith("  shifted to 10% (step 1 of 1)") for line in lines)  # the timeline
    assert any(line.endswith("  baked 5 min at 10%: 5 health checks") for line in lines)
    assert_readable(text.stdout)


def test_status_of_a_rolled_back_rollout_exits_0_with_its_cause(cli: Cli, target: Target) -> None:
    hook = target.hook(HOOK_FAILS)
    code, ended = cli.json(
        *target.start_args("--strategy", "AllAtOnce", "--pre-traffic", hook, "--wait")
    )
    assert code == 3

    text = cli("status", ended["rolloutId"])

    assert text.exit_code == 0
    assert "error      RolledBack" in text.stdout
    assert f"PreTraffic hook {hook} failed" in text.stdout
    assert "hook passed" not in text.stdout
    assert (
        f"  summary    rolled back: PreTraffic hook {hook} failed: smoke test got HTTP 500 "
        "before any traffic moved; live: 100% on version 1, the baseline"
    ) in text.stdout.splitlines()
    assert_readable(text.stdout)


def test_status_after_an_alarm_rollback_says_where_it_ended_and_where_the_alias_is(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    alarm = target.alarm()
    time_scale(0.01)
    code, started = cli.json(
        *target.start_args(
            "--strategy", "Linear10PercentEvery3Minutes", "--alarm", alarm,
            "--check-interval", "30",
        )
    )  # fmt: skip
    assert code == 0
    cli.wait_until(started["rolloutId"], lambda d: d["step"] == 2)
    target.engine.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="Threshold Crossed: 5 errors"
    )
    ended = cli.wait_until(started["rolloutId"], lambda d: d["status"] != "RUNNING")
    assert ended["live"]["describes"] == "100% on version 1, the baseline"

    text = cli("status", started["rolloutId"])

    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    summary = next(line for line in lines if line.startswith("  summary    "))
    assert summary.startswith(f"  summary    rolled back: alarm {alarm} is in ALARM at step ")
    assert summary.endswith("; live: 100% on version 1, the baseline")
    traffic = next(line for line in lines if line.startswith("  traffic    "))
    assert traffic.startswith("  traffic    0% on the target now; it was at ")
    assert "rolling back" not in text.stdout
    assert_readable(text.stdout)


def test_status_after_a_failed_post_traffic_hook_never_shows_it_passed(
    cli: Cli, target: Target
) -> None:
    hook = target.hook(HOOK_FAILS)
    code, ended = cli.json(
        *target.start_args("--strategy", "AllAtOnce", "--post-traffic", hook, "--wait")
    )
    assert code == 3

    text = cli("status", ended["rolloutId"])

    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert "PostTraffic hook passed" not in text.stdout
    assert any(line.endswith(f"  PostTraffic hook {hook} failed: smoke test got HTTP 500")
               for line in lines)  # fmt: skip
    assert (
        f"  summary    rolled back: PostTraffic hook {hook} failed: smoke test got HTTP 500 "
        "after promotion (100% on the target); live: 100% on version 1, the baseline"
    ) in lines
    assert "  traffic    0% on the target now; it was promoted (100%) when it ended" in lines
    assert "promoted to version 2" not in text.stdout


def test_status_of_an_unknown_rollout_exits_1(cli: Cli) -> None:
    result = cli("status", "no-such-rollout-1234")

    assert result.exit_code == 1
    assert "no rollout no-such-rollout-1234" in result.stderr


def test_status_with_the_rollouts_function_and_alias_shows_it(cli: Cli, target: Target) -> None:
    code, ended = cli.json(*target.start_args("--strategy", "AllAtOnce", "--wait"))
    assert code == 0
    arn = target.lam.get_function(FunctionName=target.name)["Configuration"]["FunctionArn"]

    for where in (
        ["--function", target.name, "--alias", "live"],
        ["--function", arn],
        ["--alias", "live"],
    ):
        code, described = cli.json("status", ended["rolloutId"], *where)

        assert code == 0, where
        assert described["rolloutId"] == ended["rolloutId"]


@pytest.mark.parametrize(
    ("where", "subject"),
    [
        pytest.param(["--alias", "canary"], "{name}:canary", id="other-alias"),
        pytest.param(["--function", "{name}-evil"], "{name}-evil:live", id="other-function"),
    ],
)
def test_status_of_another_alias_rollout_exits_1_as_not_found(
    cli: Cli, target: Target, where: list[str], subject: str
) -> None:
    code, ended = cli.json(*target.start_args("--strategy", "AllAtOnce", "--wait"))
    assert code == 0
    options = [w.format(name=target.name) for w in where]
    options += [] if "--function" in options else ["--function", target.name]
    options += [] if "--alias" in options else ["--alias", "live"]

    result = cli("status", ended["rolloutId"], *options, "--output", "json")

    assert result.exit_code == 1
    expected = f"no rollout {ended['rolloutId']} for {subject.format(name=target.name)}"
    assert json.loads(result.stdout) == {"error": "NotFound", "cause": expected}
    assert expected in result.stderr


# -- list ---------------------------------------------------------------------
def test_list_is_newest_first_a_page_at_a_time(cli: Cli, target: Target) -> None:
    versions = ["2", target.publish(3), target.publish(4)]
    ids = []
    for version in versions:
        code, ended = cli.json(
            *target.start_args("--strategy", "AllAtOnce", "--wait", version=version)
        )
        assert code == 0
        ids.append(ended["rolloutId"])
    where = ("--function", target.name, "--alias", "live")

    code, first = cli.json("list", *where, "--limit", "2")
    assert code == 0
    assert first["nextToken"]
    code, second = cli.json("list", *where, "--limit", "2", "--next-token", first["nextToken"])
    assert code == 0

    listed = [r["rolloutId"] for r in first["rollouts"] + second["rollouts"]]
    assert listed == ids[::-1]
    assert [r["toVersion"] for r in first["rollouts"]] == ["4", "3"]
    assert all(r["status"] == "SUCCEEDED" for r in first["rollouts"] + second["rollouts"])
    assert second["nextToken"] is None

    text = cli("list", *where)
    assert text.exit_code == 0
    assert [line.split()[0] for line in text.stdout.splitlines()] == ids[::-1]


def test_list_with_a_bad_next_token_is_a_usage_error(cli: Cli) -> None:
    result = cli("list", "--function", "f", "--alias", "live", "--next-token", "nonsense")

    assert result.exit_code == 2
    assert "--next-token" in result.stderr


# -- abort --------------------------------------------------------------------
def test_abort_of_a_running_rollout_rolls_it_back(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    time_scale(0.01)  # a check every 0.6 s, a 30-minute bake
    code, started = cli.json(
        *target.start_args("--strategy", "Canary10Percent30Minutes", "--check-interval", "60")
    )
    assert code == 0
    rollout_id = started["rolloutId"]
    cli.wait_until(rollout_id, lambda d: d["step"] == 1)

    text = cli("abort", rollout_id, "--reason", "canary looks slow")

    assert text.exit_code == 0, text.stderr
    by = cli.status(rollout_id)["abortRequested"]["by"]
    assert by.startswith("arn:aws:")
    assert text.stdout.splitlines() == [
        f"abort requested for {rollout_id} by {by}",
        f"  it rolls back within seconds; follow it: rollouts status {rollout_id}",
    ]
    answer = {"by": by}
    ended = cli.wait_until(rollout_id, lambda d: d["status"] != "RUNNING")
    assert (ended["status"], ended["error"]) == ("FAILED", "RolledBack")
    assert f"aborted by {answer['by']}: canary looks slow" in ended["cause"]
    assert target.alias() == ("1", {})


def test_abort_of_an_ended_rollout_is_refused_with_exit_4(cli: Cli, target: Target) -> None:
    code, ended = cli.json(*target.start_args("--strategy", "AllAtOnce", "--wait"))
    assert code == 0

    result = cli("abort", ended["rolloutId"], "--output", "json")

    assert result.exit_code == 4
    refused = json.loads(result.stdout)
    assert refused["error"] == "RolloutEnded"
    assert "already ended SUCCEEDED" in refused["cause"]


def test_abort_of_an_unknown_rollout_exits_1(cli: Cli) -> None:
    result = cli("abort", "no-such-rollout-1234")

    assert result.exit_code == 1
    assert "no rollout no-such-rollout-1234" in result.stderr


def test_abort_of_another_alias_rollout_exits_1_and_it_goes_on(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    time_scale(0.01)  # a check every 0.6 s, a 5-minute bake
    code, started = cli.json(
        *target.start_args("--strategy", "Canary10Percent5Minutes", "--check-interval", "60")
    )
    assert code == 0
    rollout_id = started["rolloutId"]
    cli.wait_until(rollout_id, lambda d: d["step"] == 1)

    result = cli("abort", rollout_id, "--function", target.name, "--alias", "canary")

    assert result.exit_code == 1
    assert f"no rollout {rollout_id} for {target.name}:canary" in result.stderr
    ended = cli.wait_until(rollout_id, lambda d: d["status"] != "RUNNING")
    assert ended["status"] == "SUCCEEDED"  # no abort was recorded
    assert target.alias() == ("2", {})


def test_abort_with_the_rollouts_function_and_alias_rolls_it_back(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    time_scale(0.01)
    code, started = cli.json(
        *target.start_args("--strategy", "Canary10Percent30Minutes", "--check-interval", "60")
    )
    assert code == 0
    rollout_id = started["rolloutId"]
    cli.wait_until(rollout_id, lambda d: d["step"] == 1)

    code, answer = cli.json("abort", rollout_id, "--function", target.name, "--alias", "live")

    assert code == 0
    assert answer["abortRequested"] is True
    ended = cli.wait_until(rollout_id, lambda d: d["status"] != "RUNNING")
    assert (ended["status"], ended["error"]) == ("FAILED", "RolledBack")


# -- everything else ------------------------------------------------------------
def test_plan_prints_the_steps_as_json_and_needs_no_engine(cli: Cli) -> None:
    result = cli("plan", "--strategy", "Linear25PercentEvery2Minutes", "-o", "json", endpoint=False)

    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "strategy": "Linear25PercentEvery2Minutes",
        "steps": [
            {"weight": 25, "bakeSeconds": 120},
            {"weight": 50, "bakeSeconds": 120},
            {"weight": 75, "bakeSeconds": 120},
        ],
        # The 300 s default: a 2-minute bake is one check at its end.
        "checkIntervalSeconds": 300,
        "checks": 3,
        "totalBakeSeconds": 360,
        "historyEvents": 60 + 7 * 3 + 13 * 3,
        "historyBudget": 20_000,
    }


def test_plan_text_reads_in_human_units_with_the_checks_and_the_history(cli: Cli) -> None:
    result = cli(
        "plan", "-s", "Canary10Percent30Minutes", "--check-interval", "300", endpoint=False
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Canary10Percent30Minutes: 1 step, then the promotion",
        "  at 0 s                  step 1: 10% on the target, bake 30 min, 6 health checks: "
        "at 5 min, 10 min, 15 min, …, 30 min into it",
        "  at 30 min               promote: 100% on the target",
        "  total bake: 30 min",
        "  health checked every 5 min while baking",
        "  history: about 145 events of the 20,000 a rollout may plan for "
        "(Step Functions allows 25,000)",
    ]


@pytest.mark.parametrize(
    ("options", "field", "says"),
    [
        pytest.param(
            ["-s", "canary10percent5minutes"],
            "strategy",
            "did you mean Canary10Percent5Minutes?",
            id="mistyped-name",
        ),
        pytest.param(
            ["-s", "Linear10PercentEvery10Minute"],
            "strategy",
            "did you mean Linear10PercentEvery10Minutes?",
            id="singular-for-many",
        ),
        pytest.param(
            ["-s", "AllAtOnce", "--check-interval", "0"],
            "checkIntervalSeconds",
            "between 1 and 3600",
            id="interval-out-of-range",
        ),
        pytest.param(
            ["-s", "Linear1PercentEvery1Minute", "--check-interval", "1"],
            "checkIntervalSeconds",
            "use at least 5 seconds",
            id="over-the-history-budget",
        ),
        pytest.param(
            ["-s", '[{"weight": 50, "bakeSeconds": 60}, {"weight": 20, "bakeSeconds": 0}]'],
            "strategy.steps[1].weight",
            "weights increase strictly",
            id="weights-not-increasing",
        ),
    ],
)
def test_plan_refuses_what_start_refuses_with_exit_4_naming_the_field(
    cli: Cli, options: list[str], field: str, says: str
) -> None:
    result = cli("plan", *options, "-o", "json", endpoint=False)

    assert result.exit_code == 4
    refused = json.loads(result.stdout)
    assert [f["field"] for f in refused["fields"]] == [field]
    assert says in refused["fields"][0]["message"]
    assert f"{field}: " in result.stderr
    assert "functionName" not in result.stderr and "alias" not in refused["cause"]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(
            ["start", "--alias", "live", "--strategy", "AllAtOnce"], id="missing-function"
        ),
        pytest.param(
            ["start", "--function", "f", "--alias", "a", "-s", "AllAtOnce", "--timeout", "5"],
            id="timeout-without-wait",
        ),
        pytest.param(["status"], id="missing-id"),
        pytest.param(["list", "--function", "f", "--alias", "a", "-o", "yaml"], id="bad-output"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str]) -> None:
    result = cli(*args)

    assert result.exit_code == 2
    assert "Usage:" in result.stderr


EVERY_AWS_COMMAND = [
    pytest.param(["status", "r-1"], id="status"),
    pytest.param(["list", "--function", "f", "--alias", "a"], id="list"),
    pytest.param(["start", "--function", "f", "--alias", "a", "-s", "AllAtOnce"], id="start"),
    pytest.param(
        ["start", "--function", "f", "--alias", "a", "-s", "AllAtOnce", "--wait"], id="start-wait"
    ),
    pytest.param(["abort", "r-1"], id="abort"),
    pytest.param(["pause", "r-1"], id="pause"),
    pytest.param(["resume", "r-1"], id="resume"),
    pytest.param(["promote", "r-1", "--full"], id="promote"),
    pytest.param(["hook-result", "r-1", "--status", "Failed"], id="hook-result"),
]


@pytest.mark.parametrize("args", EVERY_AWS_COMMAND)
def test_unreachable_endpoint_exits_1_with_one_line_naming_it(cli: Cli, args: list[str]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"

    result = cli(*args, "--endpoint-url", closed, endpoint=False)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: cannot reach {closed}/: the connection failed "
        "(is it running, and is the URL right?)"
    ]
    assert result.stdout == ""


@pytest.mark.parametrize("url", ["127.0.0.1:4566", "htp:/nowhere", "http://"])
def test_a_malformed_endpoint_url_is_a_usage_error(cli: Cli, url: str) -> None:
    result = cli("status", "r-1", "--endpoint-url", url, endpoint=False)

    assert result.exit_code == 2
    assert f"must be a URL like http://127.0.0.1:4566, not {url}" in result.stderr
    assert "Traceback" not in result.output


NO_AWS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
    "AWS_WEB_IDENTITY_TOKEN_FILE": None,
    "HOME": "/nonexistent",
}


@pytest.mark.parametrize("args", EVERY_AWS_COMMAND)
def test_no_aws_credentials_is_one_line(cli: Cli, args: list[str]) -> None:
    result = cli(*args, "--region", "eu-west-1", endpoint=False, env=NO_AWS)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: no AWS credentials found: configure them (aws configure, AWS_PROFILE, "
        "AWS_ACCESS_KEY_ID), or pass --endpoint-url for the local engine"
    ]


def test_no_aws_region_is_one_line_naming_what_botocore_reads(cli: Cli) -> None:
    env = {**NO_AWS, "AWS_REGION": None, "AWS_DEFAULT_REGION": None}

    result = cli("status", "r-1", endpoint=False, env=env)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: no AWS region: pass --region, or set AWS_DEFAULT_REGION "
        "(or a region in ~/.aws/config)"
    ]


@pytest.mark.parametrize("args", EVERY_AWS_COMMAND)
def test_unknown_stack_exits_1_with_one_line_naming_it(cli: Cli, args: list[str]) -> None:
    result = cli(*args, "--stack-name", "not-deployed")

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: no stack not-deployed in {cli.engine.endpoint}: "
        "pass --stack-name or set ROLLOUTS_STACK_NAME"
    ]


def test_endpoint_url_needs_no_aws_credentials_or_region(cli: Cli, target: Target) -> None:
    unset = {
        name: None
        for name in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_PROFILE",
        )
    }
    result = cli(
        "list", "--function", target.name, "--alias", "live", env={**unset, "HOME": "/nonexistent"}
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "no rollouts"


def test_human_output_follows_with_plain_lines_when_not_a_terminal(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    alarm = target.alarm()
    time_scale(0.01)  # a 120 s bake lasts 1.2 s: long enough to be seen mid-way

    result = cli(
        *target.start_args(
            *("--strategy", '[{"weight": 10, "bakeSeconds": 120}]', "--check-interval", "30"),
            *("--alarm", alarm, "--wait"),
        )
    )

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"rollout {target.name}-live-v2-")
    assert any(
        line.startswith("  RUNNING baking, step 1 of 1, 10% on version 2, 90% on version 1, bake ")
        and line.endswith(" left of 2 min, health OK: 1 alarm")
        for line in lines
    ), lines
    assert "  SUCCEEDED promoted, live: 100% on version 2, the target, health OK: 1 alarm" in lines
    header = next(i for i, line in enumerate(lines) if line.endswith("  SUCCEEDED"))
    assert lines[header + 1 : header + 5] == [
        f"  alias      {target.name}:live",
        "  versions   1 -> 2",
        "  strategy   Custom(10%/120s) (1 step)",
        "  traffic    100% on the target now",
    ]
    assert "  summary    promoted: 100% on version 2, the target" in lines
    assert len(lines) == len(set(lines))  # a line only when something changed
    assert_readable(result.stdout)


# -- pause, resume, promote, hook-result ------------------------------------------------
def _running(cli: Cli, target: Target, strategy: str = "Canary10Percent30Minutes") -> str:
    """A rollout at step 1 (10%), baking for a long time (30 min: 18 s at 0.01)."""
    code, started = cli.json(*target.start_args("--strategy", strategy, "--check-interval", "60"))
    assert code == 0
    rollout_id = str(started["rolloutId"])
    cli.wait_until(rollout_id, lambda d: d["step"] == 1)
    return rollout_id


def test_pause_holds_a_rollout_until_resumed_and_status_says_so(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    time_scale(0.01)
    rollout_id = _running(cli, target)

    paused = cli("pause", rollout_id, "--reason", "checking logs")

    assert paused.exit_code == 0, paused.stderr
    by = cli.status(rollout_id)["paused"]["by"]
    assert paused.stdout.splitlines() == [
        f"paused {rollout_id} at 10% on the target (step 1) by {by}",
        "  traffic stays there and health is still checked; "
        f"resume it: rollouts resume {rollout_id}",
    ]
    text = cli("status", rollout_id)
    assert any(
        line.startswith(f"  paused     by {by} at ")
        and line.endswith(f": checking logs; resume it: rollouts resume {rollout_id}")
        for line in text.stdout.splitlines()
    ), text.stdout
    who = by.rsplit("/", 1)[-1]
    assert any(
        line.endswith(f"  paused by {who}: checking logs") for line in text.stdout.splitlines()
    )  # the timeline

    resumed = cli("resume", rollout_id, "--reason", "logs are clean")

    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.stdout.splitlines()[0] == (
        f"resumed {rollout_id} at 10% on the target (step 1) by {by}"
    )
    assert cli.status(rollout_id)["paused"] is None
    again = cli("resume", rollout_id, "-o", "json")
    assert again.exit_code == 4
    assert json.loads(again.stdout) == {
        "error": "VerbRefused",
        "cause": f"rollout {rollout_id} is not paused; nothing to resume",
    }
    assert [(r["verb"], r.get("reason")) for r in cli.status(rollout_id)["requests"]] == [
        ("pause", "checking logs"),
        ("resume", "logs are clean"),
    ]
    assert cli("abort", rollout_id).exit_code == 0
    ended = cli.wait_until(rollout_id, lambda d: d["status"] != "RUNNING")
    assert ended["error"] == "RolledBack"


def test_promote_full_goes_to_100_percent_now(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    time_scale(0.01)
    rollout_id = _running(cli, target)

    result = cli("promote", rollout_id, "--full", "--reason", "hotfix, dashboards clean")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(
        f"full promotion requested for {rollout_id} at 10% on the target (step 1) by arn:"
    )
    # Well before the 30-minute bake (18 s here) would have ended.
    ended = cli.wait_until(rollout_id, lambda d: d["status"] != "RUNNING", timeout=10)
    assert ended["status"] == "SUCCEEDED"
    assert target.alias() == ("2", {})
    assert [(r["verb"], r["full"], r.get("reason")) for r in ended["requests"]] == [
        ("promote", True, "hotfix, dashboards clean")
    ]


def test_hook_result_answers_for_a_pending_hook(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    time_scale(1.0)  # the hook's wait for its answer lasts as long as it says
    hook = target.hook(HOOK_PENDING)
    code, started = cli.json(
        *target.start_args(
            "--strategy", "AllAtOnce", "--pre-traffic", hook, "--pre-traffic-timeout", "600"
        )
    )
    assert code == 0
    rollout_id = started["rolloutId"]
    waiting = cli.wait_until(rollout_id, lambda d: (d.get("waiting") or {}).get("kind"))
    assert waiting["waiting"]["kind"] == "PreTraffic"
    text = cli("status", rollout_id).stdout
    assert f"  waiting    for the PreTraffic hook {hook} since " in text

    result = cli("hook-result", rollout_id, "--status", "Succeeded", "--reason", "smoke ok")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(
        f"reported Succeeded for the PreTraffic hook {hook} of {rollout_id} by arn:"
    )
    ended = cli.wait_until(rollout_id, lambda d: d["status"] != "RUNNING")
    assert ended["status"] == "SUCCEEDED"


def test_hook_result_failed_rolls_back(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    time_scale(1.0)  # the hook's wait for its answer lasts as long as it says
    hook = target.hook(HOOK_PENDING)
    code, started = cli.json(
        *target.start_args(
            "--strategy", "AllAtOnce", "--pre-traffic", hook, "--pre-traffic-timeout", "600"
        )
    )
    assert code == 0
    rollout_id = started["rolloutId"]
    cli.wait_until(rollout_id, lambda d: (d.get("waiting") or {}).get("kind"))

    result = cli("hook-result", rollout_id, "--status", "Failed", "--reason", "smoke failed")

    assert result.exit_code == 0, result.stderr
    ended = cli.wait_until(rollout_id, lambda d: d["status"] != "RUNNING")
    assert (ended["status"], ended["error"]) == ("FAILED", "RolledBack")
    assert "smoke failed" in ended["cause"]
    assert target.alias() == ("1", {})


def test_hook_result_with_no_hook_waiting_is_refused_with_exit_4(
    cli: Cli, target: Target, time_scale: Callable[[float], None]
) -> None:
    time_scale(0.01)
    rollout_id = _running(cli, target)

    result = cli("hook-result", rollout_id, "--status", "Succeeded", "-o", "json")

    assert result.exit_code == 4
    assert json.loads(result.stdout) == {
        "error": "VerbRefused",
        "cause": f"rollout {rollout_id} is not waiting for a hook's answer",
    }
    assert cli("abort", rollout_id).exit_code == 0


VERBS = [
    pytest.param(["pause"], id="pause"),
    pytest.param(["resume"], id="resume"),
    pytest.param(["promote"], id="promote"),
    pytest.param(["promote", "--full"], id="promote-full"),
    pytest.param(["abort"], id="abort"),
    pytest.param(["hook-result", "--status", "Succeeded"], id="hook-result"),
]


@pytest.mark.parametrize("verb", VERBS)
def test_a_verb_on_an_ended_rollout_is_refused_with_exit_4(
    cli: Cli, target: Target, verb: list[str]
) -> None:
    code, ended = cli.json(*target.start_args("--strategy", "AllAtOnce", "--wait"))
    assert code == 0

    result = cli(verb[0], ended["rolloutId"], *verb[1:], "--output", "json")

    assert result.exit_code == 4
    refused = json.loads(result.stdout)
    assert refused["error"] == "RolloutEnded"
    assert "already ended SUCCEEDED" in refused["cause"]
    assert "nothing was changed" in result.stderr


@pytest.mark.parametrize("verb", VERBS)
def test_a_verb_on_an_unknown_rollout_exits_1(cli: Cli, verb: list[str]) -> None:
    result = cli(verb[0], "no-such-rollout-1234", *verb[1:])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["no rollout no-such-rollout-1234"]


def test_hook_result_needs_a_status(cli: Cli) -> None:
    result = cli("hook-result", "r-1", "--status", "Maybe")

    assert result.exit_code == 2
    assert "--status" in result.stderr
