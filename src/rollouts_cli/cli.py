"""The ``rollouts`` command line."""

from __future__ import annotations

import json
import signal
import sys
import threading

import click
from rich.console import Console

from rollouts.errors import ValidationError
from rollouts.plan import plan as plan_steps
from rollouts.plan import total_bake_seconds
from rollouts.strategy import parse_strategy

# Exit codes, shared by every command (documented in the README and in --help).
EXIT_OK = 0
EXIT_CLI_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_PROMOTED = 3
EXIT_REFUSED = 4

console = Console()
errors = Console(stderr=True)


@click.group(
    epilog=(
        "Exit codes: 0 promoted (or done); 1 the CLI itself failed; 2 usage error; "
        "3 the rollout ended without promotion; 4 refused before anything changed."
    )
)
@click.version_option(package_name="lambda-rollouts")
def main() -> None:
    """Lambda Rollouts: ship a new version of an AWS Lambda function safely."""


@main.command("plan")
@click.option("--strategy", "-s", required=True, help="A strategy name or a JSON step list.")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text")
def plan_command(strategy: str, output: str) -> None:
    """Print the steps a strategy would follow; starts nothing."""
    value: object = strategy
    if strategy.lstrip().startswith("{"):
        try:
            value = json.loads(strategy)
        except json.JSONDecodeError as error:
            errors.print(f"strategy: not valid JSON ({error})")
            sys.exit(EXIT_REFUSED)
    try:
        parsed = parse_strategy(value)
    except ValidationError as error:
        errors.print(str(error))
        sys.exit(EXIT_REFUSED)
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
