"""The ``rollouts`` command line: start, follow, inspect and abort rollouts; plan a strategy.

Every command that talks to the control plane finds it by stack name (the
stack's outputs name the state machine and the table) on AWS, or on the local
engine with ``--endpoint-url`` (then no AWS credentials or region are needed).
``--output json`` prints one JSON document for machines; text is the default.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import wraps
from typing import Any, NoReturn

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from rich.console import Console

from rollouts.errors import AwsError, NotFoundError, RolloutInProgressError, ValidationError
from rollouts.plan import plan as plan_steps
from rollouts.plan import total_bake_seconds
from rollouts.service import (
    RolloutEndedError,
    abort_rollout,
    describe_rollout,
    list_rollouts,
    start_rollout,
)
from rollouts.strategy import parse_strategy
from rollouts_cli.follow import follow
from rollouts_cli.stack import (
    DEFAULT_STACK_NAME,
    Connection,
    ControlPlane,
    StackError,
    find_control_plane,
)
from rollouts_cli.timeline import render, timeline
from rollouts_cli.views import (
    list_lines,
    refusal_document,
    rollout_lines,
    started_document,
    status_lines,
)

# Exit codes, shared by every command (documented in the README and in --help).
EXIT_OK = 0
EXIT_CLI_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_PROMOTED = 3
EXIT_REFUSED = 4

# Execution errors that mean "refused before anything changed" (the state machine's names).
REFUSALS = frozenset({"ValidationError", "RolloutInProgress"})

EXIT_CODES_HELP = """\b
Exit codes:
  0  promoted (start --wait); done (every other command)
  1  the CLI itself failed: credentials, network, no such stack or rollout,
     a bug; or start --wait --timeout stopped waiting (the rollout goes on)
  2  usage error (bad or missing option)
  3  the rollout ended without promotion: rolled back, drifted, aborted,
     timed out
  4  refused before anything changed: bad input (the field is named), busy
     alias (the holder is named), abort of an ended rollout"""

# How often --wait polls: the local engine compresses time, AWS bakes for minutes.
LOCAL_POLL_SECONDS = 0.2
AWS_POLL_SECONDS = 2.0

console = Console()
errors = Console(stderr=True)


class Failure(click.ClickException):
    """An expected failure: its message on stderr (no traceback), then its exit code."""

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)


class CliFailed(Failure):
    exit_code = EXIT_CLI_FAILED


class Refused(Failure):
    exit_code = EXIT_REFUSED


def aws_failure(error: Exception) -> str:
    """A readable sentence for an error reaching AWS (or the endpoint)."""
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials found: configure them (aws configure, AWS_PROFILE, "
            "AWS_ACCESS_KEY_ID), or pass --endpoint-url for the local engine"
        )
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(error, EndpointConnectionError):
        return (
            f"cannot reach {error.kwargs.get('endpoint_url')}: the connection failed "
            "(is it running, and is the URL right?)"
        )
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return (
            f"AWS answered {details.get('Code', 'an error')}: {details.get('Message', '')} "
            f"({error.operation_name})"
        )
    return f"AWS call failed: {error}"


class RolloutsGroup(click.Group):
    """Turns AWS, network and stack errors from any command into exit 1 with one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StackError as error:
            raise CliFailed(f"error: {error}") from error
        except (BotoCoreError, ClientError, AwsError) as error:
            raise CliFailed(f"error: {aws_failure(error)}") from error


def emit(output: str, document: dict[str, Any], lines: list[str]) -> None:
    """Print ``document`` as JSON, or ``lines`` as text."""
    if output == "json":
        click.echo(json.dumps(document, default=str))
    else:
        for text in lines:
            click.echo(text)


def refuse(output: str, error: str, cause: str, fields: Sequence[tuple[str, str]] = ()) -> NoReturn:
    """Exit 4: refused before anything changed, with the offending field or holder named."""
    if output == "json":
        click.echo(json.dumps(refusal_document(error, cause, list(fields))))
    if fields:
        detail = "".join(f"\n  {field}: {message}" for field, message in fields)
    else:
        detail = f"\n  {cause}"
    raise Refused(f"refused ({error}); nothing was changed:{detail}")


def fail(output: str, error: str, cause: str) -> NoReturn:
    """Exit 1 for an expected failure other than a refusal (e.g. no such rollout)."""
    if output == "json":
        click.echo(json.dumps({"error": error, "cause": cause}))
    raise CliFailed(cause)


def output_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        envvar="ROLLOUTS_OUTPUT",
        help="text for people, json for machines.  [env: ROLLOUTS_OUTPUT]",
    )(command)


def control_plane_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--stack-name``, ``--endpoint-url`` and ``--region``, handed in as one ``where``."""

    @click.option(
        "--region",
        help="AWS region (default: the AWS configuration's; us-east-1 with --endpoint-url).",
    )
    @click.option(
        "--endpoint-url",
        envvar="ROLLOUTS_ENDPOINT_URL",
        help="Talk to this endpoint instead of AWS, e.g. the local engine "
        "(no AWS credentials needed).  [env: ROLLOUTS_ENDPOINT_URL]",
    )
    @click.option(
        "--stack-name",
        default=DEFAULT_STACK_NAME,
        show_default=True,
        envvar="ROLLOUTS_STACK_NAME",
        help="The control plane's CloudFormation stack.  [env: ROLLOUTS_STACK_NAME]",
    )
    @wraps(command)
    def wrapper(stack_name: str, endpoint_url: str | None, region: str | None, **kw: Any) -> Any:
        where = Where(stack_name, Connection(endpoint_url=endpoint_url, region=region))
        return command(where=where, **kw)

    return wrapper


class Where:
    """Where the control plane is; found (DescribeStacks) only when a command needs it."""

    def __init__(self, stack_name: str, connection: Connection) -> None:
        self.stack_name = stack_name
        self.connection = connection
        self._plane: ControlPlane | None = None

    @property
    def plane(self) -> ControlPlane:
        if self._plane is None:
            self._plane = find_control_plane(self.connection, self.stack_name)
        return self._plane

    @property
    def poll_seconds(self) -> float:
        return LOCAL_POLL_SECONDS if self.connection.endpoint_url else AWS_POLL_SECONDS

    def describe(
        self, rollout_id: str, *, function_name: str | None = None, alias: str | None = None
    ) -> dict[str, Any]:
        """The rollout; with ``function_name``/``alias``, NotFoundError for another's."""
        plane = self.plane
        return describe_rollout(
            rollout_id,
            plane.store,
            plane.sfn,
            plane.state_machine_arn,
            function_name=function_name,
            alias=alias,
        )


def belongs_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--function`` and ``--alias``: act only on a rollout of that function and alias."""
    command = click.option(
        "--alias",
        help="Only a rollout of this alias: one of another is not found (exit 1).",
    )(command)
    return click.option(
        "--function",
        "function_name",
        help="Only a rollout of this function (name or ARN): one of another is not found (exit 1).",
    )(command)


def strategy_value(text: str) -> object:
    """A strategy option as the contract wants it: a name, or the parsed JSON step list.

    ``'[{"weight": 5, "bakeSeconds": 60}]'`` is taken as ``{"steps": [...]}``.
    """
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return text
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError as error:
        raise ValidationError("strategy", f"not valid JSON ({error})") from None
    return {"steps": value} if isinstance(value, list) else value


def exit_code_for(described: dict[str, Any]) -> int:
    """0 promoted; 4 refused by the state machine; 3 any other end without promotion."""
    if described.get("status") == "SUCCEEDED":
        return EXIT_OK
    if described.get("status") == "FAILED" and described.get("error") in REFUSALS:
        return EXIT_REFUSED
    return EXIT_NOT_PROMOTED


@click.group(cls=RolloutsGroup, epilog=EXIT_CODES_HELP)
@click.version_option(package_name="lambda-rollouts")
def main() -> None:
    """Lambda Rollouts: ship a new version of an AWS Lambda function safely.

    Commands find the control plane by its stack name (--stack-name, default
    lambda-rollouts) on AWS, or on the local engine with --endpoint-url.
    """


@main.command("plan", epilog=EXIT_CODES_HELP)
@click.option("--strategy", "-s", required=True, help="A strategy name or a JSON step list.")
@output_option
def plan_command(strategy: str, output: str) -> None:
    """Print the steps a strategy would follow; starts nothing."""
    try:
        parsed = parse_strategy(strategy_value(strategy))
    except ValidationError as error:
        refuse(output, "ValidationError", str(error), list(error.errors))
    steps = plan_steps(parsed)
    if output == "json":
        click.echo(
            json.dumps(
                {"steps": [{"weight": s.weight, "bakeSeconds": s.bake_seconds} for s in steps]}
            )
        )
        return
    console.print(f"[bold]{parsed.name}[/]")
    elapsed = 0
    for number, step in enumerate(steps, start=1):
        console.print(
            f"  {elapsed:>6} s  step {number}: {step.weight:>2}% on the target, "
            f"bake {step.bake_seconds} s"
        )
        elapsed += step.bake_seconds
    console.print(f"  {elapsed:>6} s  promote: 100% on the target")
    console.print(f"  total bake: {total_bake_seconds(steps)} s")


def build_request(
    function_name: str,
    alias: str,
    version: str | None,
    strategy: str,
    alarms: tuple[str, ...],
    pre_traffic: str | None,
    post_traffic: str | None,
    check_interval: int | None,
) -> dict[str, Any]:
    """The execution input, exactly as the contract spells it; absent options are left out."""
    request: dict[str, Any] = {
        "functionName": function_name,
        "alias": alias,
        "strategy": strategy_value(strategy),
    }
    if version is not None:
        request["version"] = version
    if alarms:
        request["alarms"] = list(alarms)
    hooks = {
        key: value
        for key, value in (("preTraffic", pre_traffic), ("postTraffic", post_traffic))
        if value is not None
    }
    if hooks:
        request["hooks"] = hooks
    if check_interval is not None:
        request["checkIntervalSeconds"] = check_interval
    return request


@main.command("start", epilog=EXIT_CODES_HELP)
@click.option("--function", "function_name", required=True, help="Function name or ARN.")
@click.option("--alias", required=True, help="The alias to move (created on a first deploy).")
@click.option("--version", help="A published version; omit it to publish $LATEST.")
@click.option(
    "--strategy",
    "-s",
    required=True,
    help="A strategy name (Canary10Percent5Minutes, ...) or JSON steps: "
    '\'[{"weight": 10, "bakeSeconds": 300}]\'.',
)
@click.option("--alarm", "alarms", multiple=True, help="A CloudWatch alarm to watch (repeatable).")
@click.option("--pre-traffic", help="PreTraffic hook function.")
@click.option("--post-traffic", help="PostTraffic hook function.")
@click.option(
    "--check-interval",
    type=int,
    help="Seconds between health checks while baking (checkIntervalSeconds, 1..3600).",
)
@click.option("--wait", is_flag=True, help="Follow the rollout live until it ends.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="With --wait: stop waiting after this many seconds (exit 1; the rollout goes on).",
)
@control_plane_options
@output_option
def start_command(
    where: Where,
    output: str,
    function_name: str,
    alias: str,
    version: str | None,
    strategy: str,
    alarms: tuple[str, ...],
    pre_traffic: str | None,
    post_traffic: str | None,
    check_interval: int | None,
    wait: bool,
    timeout: float | None,
) -> None:
    """Start a rollout; --wait follows it live.

    The options spell the execution input contract. A bad field or a busy
    alias is refused (exit 4) before anything starts. Without --wait it prints
    the started rollout and exits 0. With --wait it follows the rollout live
    (step, traffic, time left in the bake, health) and exits by its outcome.
    """
    if timeout is not None and not wait:
        raise click.UsageError("--timeout only applies with --wait")
    try:
        request = build_request(
            function_name,
            alias,
            version,
            strategy,
            alarms,
            pre_traffic,
            post_traffic,
            check_interval,
        )
        # Validated by start_rollout, as every way in is, within the stack's prefixes.
        plane = where.plane
        started = start_rollout(
            request, plane.sfn, plane.store, plane.state_machine_arn, scope=plane.scope
        )
    except ValidationError as error:
        refuse(output, "ValidationError", str(error), list(error.errors))
    except RolloutInProgressError as error:
        refuse(output, "RolloutInProgress", str(error))
    if not wait:
        emit(
            output,
            started.as_json(),
            [
                f"started {started.rollout_id}  RUNNING",
                f"  execution  {started.execution_arn}",
                f"  follow it: rollouts status {started.rollout_id}",
            ],
        )
        return
    progress_view = errors if output == "json" else console
    try:
        described, ended = follow(
            lambda: where.describe(started.rollout_id),
            progress_view,
            where.poll_seconds,
            timeout,
        )
    except KeyboardInterrupt:
        described, ended = where.describe(started.rollout_id), False
    document = started_document(described, ended)
    emit(output, document, rollout_lines(described))
    if not ended:
        raise CliFailed(
            f"stopped waiting: rollout {started.rollout_id} is still running. "
            f"Check it with: rollouts status {started.rollout_id}",
        )
    sys.exit(exit_code_for(described))


def _timeline(plane: ControlPlane, execution_arn: str) -> list[str]:
    events: list[dict[str, Any]] = []
    paginator = plane.sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return render(timeline(events))


@main.command("status", epilog=EXIT_CODES_HELP)
@click.argument("rollout_id")
@belongs_options
@control_plane_options
@output_option
def status_command(
    where: Where,
    output: str,
    rollout_id: str,
    function_name: str | None,
    alias: str | None,
) -> None:
    """Show a rollout, its steps and its checks.

    Where it is or how it ended, the steps taken, the latest health checks and
    (in text) the timeline of its execution. With --function and/or --alias, a
    rollout of another function or alias is "no rollout ID for F:A".
    Exits 0 for any rollout found, whatever its outcome; 1 when there is none.
    """
    try:
        described = where.describe(rollout_id, function_name=function_name, alias=alias)
    except NotFoundError as error:
        fail(output, "NotFound", str(error))
    if output == "json":
        emit(output, described, [])
        return
    moments = _timeline(where.plane, described["executionArn"])
    emit(
        output,
        described,
        status_lines(described, moments if described["status"] != "UNKNOWN" else []),
    )


@main.command("list", epilog=EXIT_CODES_HELP)
@click.option("--function", "function_name", required=True, help="Function name or ARN.")
@click.option("--alias", required=True, help="The alias.")
@click.option(
    "--limit", type=click.IntRange(1, 100), default=20, show_default=True, help="Page size."
)
@click.option("--next-token", help="Continue after the page that printed this token.")
@control_plane_options
@output_option
def list_command(
    where: Where,
    output: str,
    function_name: str,
    alias: str,
    limit: int,
    next_token: str | None,
) -> None:
    """List an alias's rollouts, newest first, a page at a time."""
    try:
        items, token = list_rollouts(function_name, alias, where.plane.store, limit, next_token)
    except ValidationError as error:
        hint = "--next-token" if error.field == "nextToken" else f"--{error.field}"
        raise click.BadParameter(error.message, param_hint=hint) from error
    emit(output, {"rollouts": items, "nextToken": token}, list_lines(items, token))


@main.command("abort", epilog=EXIT_CODES_HELP)
@click.argument("rollout_id")
@click.option("--reason", help="Why: recorded, and part of the rollout's cause.")
@belongs_options
@control_plane_options
@output_option
def abort_command(
    where: Where,
    output: str,
    rollout_id: str,
    reason: str | None,
    function_name: str | None,
    alias: str | None,
) -> None:
    """Ask a running rollout to roll back.

    Its next health check acts on it. Recorded with your identity (STS
    GetCallerIdentity). With --function and/or --alias, a rollout of another
    function or alias is not found, and nothing is recorded. Exits 0 when
    requested, 4 when the rollout has already ended, 1 when there is no such
    rollout.
    """
    plane = where.plane
    by = str(where.connection.client("sts").get_caller_identity()["Arn"])
    try:
        answer = abort_rollout(
            rollout_id,
            by,
            reason,
            plane.store,
            datetime.now(UTC),
            function_name=function_name,
            alias=alias,
        )
    except NotFoundError as error:
        fail(output, "NotFound", str(error))
    except RolloutEndedError as error:
        refuse(output, "RolloutEnded", str(error))
    emit(
        output,
        answer,
        [
            f"abort requested for {rollout_id} by {by} at {answer['at']}",
            f"  it rolls back at its next health check; follow it: rollouts status {rollout_id}",
        ],
    )


@main.group("local")
def local() -> None:
    """The embedded local engine (moto, with the control plane deployed from template.yaml)."""


@local.command("up")
@click.option("--port", "-p", type=click.IntRange(1, 65535), default=4566, show_default=True)
@click.option(
    "--time-scale",
    "-t",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiplies every wait: 0.01 turns a 5-minute bake into 3 s; 0 never waits.",
)
def local_up(port: int, time_scale: float) -> None:
    """Serve the control plane on 127.0.0.1:PORT until interrupted.

    Prints one JSON line: endpoint, region, stateMachineArn, tableName.
    """
    from rollouts_cli.local.engine import LocalEngine

    engine = LocalEngine(port=port, time_scale=time_scale)
    try:
        info = engine.start()
    except OSError as error:
        errors.print(f"cannot start the local engine: {error}")
        sys.exit(EXIT_CLI_FAILED)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(json.dumps(info.as_json()), nl=True)
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()


@local.command("demo")
@click.option(
    "--time-scale", "-t", type=click.FloatRange(min=0.001), default=0.01, show_default=True
)
def local_demo(time_scale: float) -> None:
    """Two canaries on the local engine: a healthy version promoted, a faulty one rolled back."""
    from rollouts_cli.local.demo import run_demo

    sys.exit(run_demo(console, time_scale))


if __name__ == "__main__":
    main()
