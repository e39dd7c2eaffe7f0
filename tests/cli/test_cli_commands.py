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

from .conftest import HOOK_FAILS, Cli, Target, executions

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

    text = cli("status", started["rolloutId"])
    assert text.exit_code == 0
    assert "Steps taken (1 of 1)" in text.stdout
    assert "  step 1: 10% at " in text.stdout
    assert "Last checks (5 of 5)" in text.stdout
    assert "1 alarm OK -> promote" in text.stdout
    assert "shifted to 10% (step 1 of 1)" in text.stdout  # the timeline


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

    code, answer = cli.json("abort", rollout_id, "--reason", "canary looks slow")

    assert code == 0
    assert answer["abortRequested"] is True
    assert answer["by"].startswith("arn:aws:")
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
        "steps": [
            {"weight": 25, "bakeSeconds": 120},
            {"weight": 50, "bakeSeconds": 120},
            {"weight": 75, "bakeSeconds": 120},
        ]
    }


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


def test_unreachable_endpoint_exits_1_with_a_readable_message(cli: Cli) -> None:
    closed = f"http://127.0.0.1:{free_port()}"

    result = cli("status", "any-rollout", "--endpoint-url", closed, endpoint=False)

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach {closed}")
    assert "Traceback" not in result.output


def test_unknown_stack_exits_1_naming_it(cli: Cli) -> None:
    result = cli("list", "--function", "f", "--alias", "a", "--stack-name", "not-deployed")

    assert result.exit_code == 1
    assert "no stack not-deployed" in result.stderr


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
    assert any(
        line.startswith("  RUNNING baking, step 1 of 1, 10% on version 2, bake ")
        and line.endswith(" s left of 120 s, health OK: 1 alarm")
        for line in lines
    ), lines
    assert "  SUCCEEDED promoted, 100% on version 2, health OK: 1 alarm" in lines
    header = next(i for i, line in enumerate(lines) if line.endswith("  SUCCEEDED"))
    assert lines[header + 1 : header + 4] == [
        f"  alias      {target.name}:live",
        "  versions   1 -> 2",
        "  strategy   Custom(10%/120s) (1 step)",
    ]
    assert len(lines) == len(set(lines))  # a line only when something changed
