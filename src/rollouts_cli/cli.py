"""The ``rollouts`` command line: start, follow, inspect, pause, resume, promote and abort
rollouts, answer for a hook; plan a strategy.

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
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from rich.console import Console

from rollouts.errors import (
    AwsError,
    NotFoundError,
    RolloutInProgressError,
    ValidationError,
)
from rollouts.models import RolloutRequest, parse_request
from rollouts.plan import (
    HISTORY_EVENT_LIMIT,
    estimate_history_events,
    history_budget,
)
from rollouts.service import (
    RolloutEndedError,
    VerbRefusedError,
    abort_rollout,
    describe_rollout,
    list_rollouts,
    pause_rollout,
    promote_rollout,
    report_hook,
    resume_rollout,
    start_rollout,
)
from rollouts_cli.follow import follow
from rollouts_cli.picture import FORMATS, draw, marks
from rollouts_cli.stack import (
    DEFAULT_STACK_NAME,
    Connection,
    ControlPlane,
    StackError,
    find_control_plane,
)
from rollouts_cli.timeline import render, timeline
from rollouts_cli.views import (
    ended,
    list_lines,
    live_document,
    plan_document,
    plan_lines,
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
     alias (the holder is named); pause, resume, promote, abort or
     hook-result of an ended rollout (RolloutEnded), or one that does not
     apply now: resume when not paused, hook-result with no hook waiting"""

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
        # botocore reads AWS_DEFAULT_REGION (and the config file), not AWS_REGION.
        return (
            "no AWS region: pass --region, or set AWS_DEFAULT_REGION (or a region in ~/.aws/config)"
        )
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return (
            f"cannot reach {error.kwargs.get('endpoint_url')}: the connection failed "
            "(is it running, and is the URL right?)"
        )
    if isinstance(error, ReadTimeoutError):
        return f"{error.kwargs.get('endpoint_url')} did not answer in time"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return (
            f"AWS answered {details.get('Code', 'an error')}: {details.get('Message', '')} "
            f"({error.operation_name})"
        )
    if isinstance(error, AwsError) and isinstance(error.__cause__, BotoCoreError | ClientError):
        return aws_failure(error.__cause__)  # the service's named error, from botocore's
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
        except NotFoundError as error:
            raise CliFailed(f"error: {error}") from error


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


def _endpoint_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An endpoint URL botocore can use (``http://127.0.0.1:4566``), or a usage error."""
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise click.BadParameter(f"must be a URL like http://127.0.0.1:4566, not {value}")
    return value


def control_plane_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--stack-name``, ``--endpoint-url`` and ``--region``, handed in as one ``where``."""

    @click.option(
        "--region",
        help="AWS region (default: the AWS configuration's; us-east-1 with --endpoint-url).",
    )
    @click.option(
        "--endpoint-url",
        envvar="ROLLOUTS_ENDPOINT_URL",
        callback=_endpoint_url,
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
        self,
        rollout_id: str,
        *,
        function_name: str | None = None,
        alias: str | None = None,
        live: bool = False,
    ) -> dict[str, Any]:
        """The rollout; with ``function_name``/``alias``, NotFoundError for another's.

        With ``live``, also where its alias is now (``live``, read from Lambda), and,
        once ended, whether it was promoted when it ended (``promoted``).
        """
        plane = self.plane
        described = describe_rollout(
            rollout_id,
            plane.store,
            plane.sfn,
            plane.state_machine_arn,
            function_name=function_name,
            alias=alias,
        )
        if live:
            described = self.with_live(described)
        return described

    def with_live(self, described: dict[str, Any]) -> dict[str, Any]:
        """``described`` with ``live`` (where its alias is now) and, once ended, ``promoted``."""
        function_name, alias = described.get("functionName"), described.get("alias")
        if not function_name or not alias:
            return described
        try:
            config = self.connection.client("lambda").get_alias(
                FunctionName=function_name, Name=alias
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if code != "ResourceNotFoundException":
                # Not ours to read (IAM): say so, rather than fail the whole status.
                return {**described, "live": None, "liveUnknown": f"{code} from GetAlias"}
            config = None
        described = {
            **described,
            "live": live_document(config, described.get("fromVersion"), described.get("toVersion")),
        }
        if "promoted" not in described and ended(described):
            record = self.plane.store.record(str(described["rolloutId"])) or {}
            described["promoted"] = bool((record.get("state") or {}).get("promoted"))
        return described


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


# Placeholders for what ``plan`` needs no value of: the request model checks them too.
_PLAN_FUNCTION = "plan"
_PLAN_ALIAS = "plan"
# The fields ``plan`` validates, as ``start`` does.
_PLAN_FIELDS = ("strategy", "checkIntervalSeconds")


def plan_request(strategy: str, check_interval: int | None) -> RolloutRequest:
    """The strategy and check interval validated as ``start`` would: ValidationError naming them.

    The function and alias are placeholders; only problems with the strategy and the
    check interval are reported.
    """
    request: dict[str, Any] = {
        "functionName": _PLAN_FUNCTION,
        "alias": _PLAN_ALIAS,
        "strategy": strategy_value(strategy),
    }
    if check_interval is not None:
        request["checkIntervalSeconds"] = check_interval
    try:
        return parse_request(request)
    except ValidationError as error:
        mine = [(f, m) for f, m in error.errors if f.startswith(_PLAN_FIELDS)]
        raise ValidationError.from_errors(mine or error.errors, omitted=error.omitted) from None


@main.command("plan", epilog=EXIT_CODES_HELP)
@click.option("--strategy", "-s", required=True, help="A strategy name or a JSON step list.")
@click.option(
    "--check-interval",
    type=int,
    help="Seconds between health checks while baking (checkIntervalSeconds, 1..3600); "
    "default 60, widened when a long plan needs it.",
)
@output_option
def plan_command(strategy: str, check_interval: int | None, output: str) -> None:
    """Print the steps a strategy would follow, and when it would check health; starts nothing.

    Refuses (exit 4, naming the field) what start would refuse for this strategy and
    check interval, and estimates the execution history events the rollout would use.
    """
    try:
        request = plan_request(strategy, check_interval)
    except ValidationError as error:
        refuse(output, "ValidationError", str(error), list(error.errors))
    steps = request.steps
    interval = request.resolved_check_interval_seconds
    events = estimate_history_events(steps, interval)
    name = request.strategy.name
    emit(
        output,
        plan_document(name, steps, interval, events, history_budget()),
        plan_lines(
            name, steps, interval, check_interval, events, history_budget(), HISTORY_EVENT_LIMIT
        ),
    )


def build_request(
    function_name: str,
    alias: str,
    version: str | None,
    strategy: str,
    alarms: tuple[str, ...],
    pre_traffic: str | None,
    post_traffic: str | None,
    check_interval: int | None,
    *,
    create_alias: bool = False,
    pre_traffic_timeout: int | None = None,
    post_traffic_timeout: int | None = None,
    analysis: Any = None,
) -> dict[str, Any]:
    """The execution input, exactly as the contract spells it; absent options are left out.

    A hook given a timeout is sent as ``{"function": name, "timeoutSeconds": N}``.
    """
    request: dict[str, Any] = {
        "functionName": function_name,
        "alias": alias,
        "strategy": strategy_value(strategy),
    }
    if version is not None:
        request["version"] = version
    if create_alias:
        request["createAlias"] = True
    if alarms:
        request["alarms"] = list(alarms)
    hooks: dict[str, Any] = {}
    for key, hook, timeout in (
        ("preTraffic", pre_traffic, pre_traffic_timeout),
        ("postTraffic", post_traffic, post_traffic_timeout),
    ):
        if hook is not None:
            hooks[key] = hook if timeout is None else {"function": hook, "timeoutSeconds": timeout}
    if hooks:
        request["hooks"] = hooks
    if check_interval is not None:
        request["checkIntervalSeconds"] = check_interval
    if analysis is not None:
        request["analysis"] = analysis
    return request


def analysis_value(text: str | None) -> Any:
    """``--analysis``'s JSON, as sent (validated with the rest of the request), or None."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(
            f"must be a JSON object, e.g. '{{\"compareToBaseline\": true}}' ({error.msg})",
            param_hint="--analysis",
        ) from None


@main.command("start", epilog=EXIT_CODES_HELP)
@click.option("--function", "function_name", required=True, help="Function name or ARN.")
@click.option(
    "--alias",
    required=True,
    help="The alias to move. It must exist, unless --create-alias (a first deploy).",
)
@click.option(
    "--create-alias",
    is_flag=True,
    help="A first deploy: create the alias on the target (after the PreTraffic hook). "
    "Without it a missing alias is refused, so that a typo never creates one.",
)
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
@click.option(
    "--pre-traffic-timeout",
    type=int,
    help="Seconds the PreTraffic hook has to answer (default: an hour).",
)
@click.option("--post-traffic", help="PostTraffic hook function.")
@click.option(
    "--post-traffic-timeout",
    type=int,
    help="Seconds the PostTraffic hook has to answer (default: an hour).",
)
@click.option(
    "--check-interval",
    type=int,
    help="Seconds between health checks while baking (checkIntervalSeconds, 1..3600).",
)
@click.option(
    "--analysis",
    help="Judge the target by its own traffic, as JSON: "
    '\'{"compareToBaseline": true, "maxErrorRate": 1, "minInvocations": 50}\'.',
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
    create_alias: bool,
    version: str | None,
    strategy: str,
    alarms: tuple[str, ...],
    pre_traffic: str | None,
    pre_traffic_timeout: int | None,
    post_traffic: str | None,
    post_traffic_timeout: int | None,
    check_interval: int | None,
    analysis: str | None,
    wait: bool,
    timeout: float | None,
) -> None:
    """Start a rollout; --wait follows it live.

    The options spell the execution input contract. A bad field or a busy
    alias is refused (exit 4) before anything starts. The first line printed
    names the rollout ("rollout ID started"; on stderr with --output json and
    --wait). Without --wait it then exits 0. With --wait it follows the rollout
    live (step, traffic, time left in the bake, health) and exits by its outcome.
    """
    if timeout is not None and not wait:
        raise click.UsageError("--timeout only applies with --wait")
    for option, hook, hook_timeout in (
        ("--pre-traffic", pre_traffic, pre_traffic_timeout),
        ("--post-traffic", post_traffic, post_traffic_timeout),
    ):
        if hook_timeout is not None and hook is None:
            raise click.UsageError(f"{option}-timeout needs {option}")
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
            create_alias=create_alias,
            pre_traffic_timeout=pre_traffic_timeout,
            post_traffic_timeout=post_traffic_timeout,
            analysis=analysis_value(analysis),
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
                f"rollout {started.rollout_id} started",
                f"  execution  {started.execution_arn}",
                f"  follow it: rollouts status {started.rollout_id}",
            ],
        )
        return
    # First, before the live view: a pipeline killed while it waits still has the id.
    click.echo(f"rollout {started.rollout_id} started", err=output == "json")
    progress_view = errors if output == "json" else console
    try:
        described, finished = follow(
            lambda: _followed(where, started.rollout_id),
            progress_view,
            where.poll_seconds,
            timeout,
        )
    except KeyboardInterrupt:
        described, finished = where.describe(started.rollout_id, live=True), False
    emit(output, started_document(described, finished), rollout_lines(described))
    if not finished:
        raise CliFailed(
            f"stopped waiting: rollout {started.rollout_id} is still running. "
            f"Check it with: rollouts status {started.rollout_id}",
        )
    sys.exit(exit_code_for(described))


def _followed(where: Where, rollout_id: str) -> dict[str, Any]:
    """The rollout as the live view shows it: once ended, with where its alias is now."""
    described = where.describe(rollout_id)
    return where.with_live(described) if ended(described) else described


def _timeline(plane: ControlPlane, execution_arn: str, requests: list[dict[str, Any]]) -> list[str]:
    events: list[dict[str, Any]] = []
    paginator = plane.sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return render(timeline(events, requests))


def _plot_path(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if path.suffix.lower() not in FORMATS:
        raise click.BadParameter(f"must end in .png or .svg, not {path.name!r}")
    return path


@main.command("status", epilog=EXIT_CODES_HELP)
@click.argument("rollout_id")
@click.option(
    "--plot",
    metavar="FILE",
    callback=_plot_path,
    help="Also write the weight on the target over time, with every shift, check, verdict,"
    " hook, request and the end marked, to FILE (.png or .svg).",
)
@belongs_options
@control_plane_options
@output_option
def status_command(
    where: Where,
    output: str,
    rollout_id: str,
    plot: Path | None,
    function_name: str | None,
    alias: str | None,
) -> None:
    """Show a rollout, its steps and its checks, and where its alias is now.

    Where it is or how it ended, where the alias sends traffic now (read from
    Lambda: "live"), the steps taken, the latest health checks and (in text) the
    timeline of its execution and of the requests people made. With --function and/or --alias, a
    rollout of another function or alias is "no rollout ID for F:A".
    Exits 0 for any rollout found, whatever its outcome; 1 when there is none.
    """
    try:
        described = where.describe(rollout_id, function_name=function_name, alias=alias, live=True)
    except NotFoundError as error:
        fail(output, "NotFound", str(error))
    if plot is not None:
        draw(marks(described), plot)
        click.echo(f"picture written to {plot}", err=output == "json")
    if output == "json":
        emit(output, described, [])
        return
    moments = _timeline(where.plane, described["executionArn"], described.get("requests") or [])
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


def caller(where: Where) -> str:
    """Who is asking: the caller's ARN (STS GetCallerIdentity), recorded with the request."""
    return str(where.connection.client("sts").get_caller_identity()["Arn"])


def _position(answer: dict[str, Any]) -> str:
    """``at 10% on the target (step 1)`` or ``before traffic moves``, from a verb's answer."""
    step = int(answer.get("step") or 0)
    if not step:
        return "before traffic moves"
    return f"at {answer.get('weight') or 0}% on the target (step {step})"


def act(
    where: Where,
    output: str,
    request: Callable[[str, ControlPlane], dict[str, Any]],
    lines: Callable[[dict[str, Any], str], list[str]],
) -> None:
    """Run one verb on a rollout as the caller; say what was asked and what happens next.

    Exit 1 when there is no such rollout (or it is another alias's), 4 when it has
    ended (RolloutEnded) or the verb does not apply now (VerbRefused), 2 for a bad
    option (the service names the field; the option of that name is named).
    """
    plane = where.plane
    by = caller(where)
    try:
        answer = request(by, plane)
    except NotFoundError as error:
        fail(output, "NotFound", str(error))
    except RolloutEndedError as error:
        refuse(output, "RolloutEnded", str(error))
    except VerbRefusedError as error:
        refuse(output, "VerbRefused", str(error))
    except ValidationError as error:
        raise click.BadParameter(error.message, param_hint=f"--{error.field}") from error
    emit(output, answer, lines(answer, by))


def _now() -> datetime:
    return datetime.now(UTC)


def asking(
    verb: Callable[..., dict[str, Any]],
    rollout_id: str,
    function_name: str | None,
    alias: str | None,
    **fields: Any,
) -> Callable[[str, ControlPlane], dict[str, Any]]:
    """The request ``act`` makes: ``verb`` (a ``service`` verb) on the rollout, by its caller."""

    def request(by: str, plane: ControlPlane) -> dict[str, Any]:
        return verb(
            rollout_id,
            by=by,
            store=plane.store,
            now=_now(),
            sfn=plane.sfn,
            function_name=function_name,
            alias=alias,
            **fields,
        )

    return request


def verb_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The rollout id, ``--function``/``--alias``, the control plane's options, ``--output``."""
    command = output_option(control_plane_options(belongs_options(command)))
    return click.argument("rollout_id")(command)


@main.command("abort", epilog=EXIT_CODES_HELP)
@click.option("--reason", help="Why: recorded, and part of the rollout's cause.")
@verb_options
def abort_command(
    where: Where,
    output: str,
    rollout_id: str,
    reason: str | None,
    function_name: str | None,
    alias: str | None,
) -> None:
    """Roll a running rollout back now.

    It is woken at once: its bake (or a hook's wait) ends and it rolls back
    within seconds. Recorded with your identity (STS GetCallerIdentity). With
    --function and/or --alias, a rollout of another function or alias is not
    found, and nothing is recorded. Exits 0 when requested, 4 when the rollout
    has already ended, 1 when there is no such rollout.
    """

    request = asking(abort_rollout, rollout_id, function_name, alias, reason=reason)

    act(
        where,
        output,
        request,
        lambda answer, by: [
            f"abort requested for {rollout_id} by {by}",
            f"  it rolls back within seconds; follow it: rollouts status {rollout_id}",
        ],
    )


@main.command("pause", epilog=EXIT_CODES_HELP)
@click.option("--reason", help="Why: recorded, and shown by status.")
@verb_options
def pause_command(
    where: Where,
    output: str,
    rollout_id: str,
    reason: str | None,
    function_name: str | None,
    alias: str | None,
) -> None:
    """Hold a running rollout at its weight until resumed.

    Traffic stays where it is; health is still checked (a firing alarm still rolls
    back). Exits 0 when paused, 4 when the rollout has ended, 1 when there is none.
    """

    request = asking(pause_rollout, rollout_id, function_name, alias, reason=reason)

    act(
        where,
        output,
        request,
        lambda answer, by: [
            f"paused {rollout_id} {_position(answer)} by {by}",
            "  traffic stays there and health is still checked; "
            f"resume it: rollouts resume {rollout_id}",
        ],
    )


@main.command("resume", epilog=EXIT_CODES_HELP)
@click.option("--reason", help="Why: recorded with the request, and shown by status.")
@verb_options
def resume_command(
    where: Where,
    output: str,
    rollout_id: str,
    reason: str | None,
    function_name: str | None,
    alias: str | None,
) -> None:
    """Let a paused rollout go on: its bake continues where it was paused.

    Exits 0 when resumed, 4 when it is not paused or has ended, 1 when there is none.
    """

    request = asking(resume_rollout, rollout_id, function_name, alias, reason=reason)

    act(
        where,
        output,
        request,
        lambda answer, by: [
            f"resumed {rollout_id} {_position(answer)} by {by}",
            f"  its bake goes on where it was paused; follow it: rollouts status {rollout_id}",
        ],
    )


@main.command("promote", epilog=EXIT_CODES_HELP)
@click.option(
    "--full", is_flag=True, help="Go to 100% on the target now, skipping every step left."
)
@click.option("--reason", help="Why: recorded with the request, and shown by status.")
@verb_options
def promote_command(
    where: Where,
    output: str,
    rollout_id: str,
    full: bool,
    reason: str | None,
    function_name: str | None,
    alias: str | None,
) -> None:
    """End the current bake or pause now and go to the next step (--full: to 100%).

    Health is still checked first: a firing alarm rolls back instead. It also ends
    a pause. Exits 0 when requested, 4 when the rollout has ended, 1 when there is none.
    """

    request = asking(promote_rollout, rollout_id, function_name, alias, full=full, reason=reason)

    def lines(answer: dict[str, Any], by: str) -> list[str]:
        then = (
            "it goes to 100% on the target within seconds, skipping the steps left"
            if full
            else "it goes to the next step within seconds (after the last: 100% on the target)"
        )
        return [
            f"{'full promotion' if full else 'promotion'} requested for {rollout_id} "
            f"{_position(answer)} by {by}",
            f"  {then}, unless an alarm fires first; follow it: rollouts status {rollout_id}",
        ]

    act(where, output, request, lines)


@main.command("hook-result", epilog=EXIT_CODES_HELP)
@click.option(
    "--status",
    type=click.Choice(["Succeeded", "Failed"]),
    required=True,
    help="The hook's answer: Succeeded lets the rollout go on, Failed rolls it back.",
)
@click.option("--reason", help="Why: recorded (with Failed, part of the rollout's cause).")
@verb_options
def hook_result_command(
    where: Where,
    output: str,
    rollout_id: str,
    status: str,
    reason: str | None,
    function_name: str | None,
    alias: str | None,
) -> None:
    """Answer, as a person, for the hook the rollout is waiting for.

    For a hook that answered {"status": "Pending"} and reports later, or never
    will. Exits 0 when reported, 4 when no hook is waiting or the rollout has
    ended, 1 when there is no such rollout.
    """

    request = asking(
        report_hook,
        rollout_id,
        function_name,
        alias,
        succeeded=status == "Succeeded",
        reason=reason,
    )

    def lines(answer: dict[str, Any], by: str) -> list[str]:
        hook = f" {answer['hook']}" if answer.get("hook") else ""
        event = answer.get("lifecycleEvent") or "waiting"
        then = "the rollout goes on" if status == "Succeeded" else "the rollout rolls back"
        return [
            f"reported {status} for the {event} hook{hook} of {rollout_id} by {by}",
            f"  {then} within seconds; follow it: rollouts status {rollout_id}",
        ]

    act(where, output, request, lines)


@main.group("local")
def local() -> None:
    """The embedded local engine (moto, with the control plane deployed from template.yaml)."""


def _serve_until_stopped() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


def console_port_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--console-port",
        type=click.IntRange(0, 65535),
        default=0,
        show_default=True,
        help="The console's port on 127.0.0.1 (0: any free port; consoleUrl names it).",
    )(command)


@main.command("console", epilog=EXIT_CODES_HELP)
@click.option(
    "--port",
    "-p",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="The port on 127.0.0.1 (0: any free port; the URL printed names it).",
)
@click.option(
    "--allow-actions",
    is_flag=True,
    help="Show pause, resume, promote and abort as buttons, asked as you"
    " (your credentials, your identity recorded with each). Off: the console only shows.",
)
@control_plane_options
def console_command(where: Where, port: int, allow_actions: bool) -> None:
    """Serve a console for the stack's rollouts on 127.0.0.1, with your own credentials.

    Its pages list the rollouts, newest first, and show each one live: the state
    machine with the states its execution visited and the one it is in now, the
    weight on the target over time with every shift, check, verdict, hook,
    request and the end marked, its checks and its cause. Prints the URL, then
    serves until interrupted. Exits 1 when the stack cannot be found.
    """
    from rollouts_cli.console.server import ConsoleServer

    where.plane  # noqa: B018 (fail now, not in the first page, when the stack is missing)
    server = ConsoleServer(where, port, allow_actions=allow_actions)
    try:
        url = server.start()
    except OSError as error:
        errors.print(f"cannot serve the console on 127.0.0.1:{port}: {error}")
        sys.exit(EXIT_CLI_FAILED)
    actions = "with actions" if allow_actions else "read-only (--allow-actions to act)"
    click.echo(f"console for {where.stack_name} in {where.connection.where}, {actions}: {url}")
    sys.stdout.flush()
    try:
        _serve_until_stopped()
    finally:
        server.stop()


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
@console_port_option
def local_up(port: int, time_scale: float, console_port: int) -> None:
    """Serve the control plane on 127.0.0.1:PORT, and its console, until interrupted.

    Prints one JSON line: endpoint, region, stateMachineArn, tableName, consoleUrl.
    The console's buttons act (pause, resume, promote, abort) as the engine's caller.
    """
    from rollouts_cli.console.server import ConsoleServer
    from rollouts_cli.local.engine import LocalEngine

    engine = LocalEngine(port=port, time_scale=time_scale)
    try:
        info = engine.start()
    except OSError as error:
        errors.print(f"cannot start the local engine: {error}")
        sys.exit(EXIT_CLI_FAILED)
    where = Where(info.stack_name, Connection(endpoint_url=info.endpoint))
    where.plane  # noqa: B018 (found once, before the console's threads ask for it)
    server = ConsoleServer(where, console_port, allow_actions=True)
    try:
        try:
            url = server.start()
        except OSError as error:
            errors.print(f"cannot serve the console on 127.0.0.1:{console_port}: {error}")
            sys.exit(EXIT_CLI_FAILED)
        click.echo(json.dumps({**info.as_json(), "consoleUrl": url}), nl=True)
        sys.stdout.flush()
        _serve_until_stopped()
    finally:
        server.stop()
        engine.stop()


@local.command("demo")
@click.option(
    "--time-scale", "-t", type=click.FloatRange(min=0.001), default=0.05, show_default=True
)
@click.option(
    "--keep",
    is_flag=True,
    help="Leave the engine and its console running after the demo, until interrupted.",
)
@console_port_option
def local_demo(time_scale: float, keep: bool, console_port: int) -> None:
    """Two canaries on the local engine, judged by analysis: a healthy version promoted, a
    faulty one rolled back by its own errors against the baseline's. Watch them in the
    console whose URL it prints."""
    from rollouts_cli.local.demo import run_demo

    sys.exit(
        run_demo(
            console,
            time_scale,
            console_port=console_port,
            keep=_serve_until_stopped if keep else None,
        )
    )


if __name__ == "__main__":
    main()
