"""``rollouts local demo``: two real rollouts on the embedded engine, shown live.

1. deploys the control plane from template.yaml on the local engine, which
   publishes Lambda's metrics for every invocation it runs, per executed
   version, a minute late as AWS does;
2. creates ``orders-api`` (version 1, alias ``live``), then publishes version 2,
   as noisy as version 1 (each fails one request in fifty), and a faulty version
   3 (it fails three requests in ten);
3. sends steady traffic through the alias all along; the engine routes each
   request by the alias's weights;
4. rolls out version 2, then version 3, each with ``analysis`` and no alarm at
   all: CheckHealth judges the target by its own errors against the baseline
   serving beside it (Fisher's exact test). Version 2 is promoted; version 3 is
   rolled back by its verdict. Each is shown live as ``rollouts start --wait``
   shows it (both sides' figures while it bakes), with how it ended, its timeline
   and its picture (``demo-pictures/rollout-N-ID.png``, as ``rollouts status ID
   --plot FILE`` draws it).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from rollouts.durations import human
from rollouts.plan import plan
from rollouts.service import start_rollout
from rollouts.strategy import parse_strategy
from rollouts_cli.follow import follow
from rollouts_cli.local import metrics
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.load import Load, Served, service_source
from rollouts_cli.local.samples import create_function, publish
from rollouts_cli.picture import draw, marks
from rollouts_cli.stack import Connection
from rollouts_cli.timeline import render, timeline
from rollouts_cli.views import ended, ending, percent

FUNCTION = "orders-api"
ALIAS = "live"
# Every version fails a little (a flaky payment provider): the analysis must tell
# "as noisy as before" from "worse".
NOISE_PERCENT = 2.0
FAULTY_PERCENT = 30.0
# Real requests a second: at the demo's time scale, two a second of rollout time.
REQUESTS_PER_SECOND = 40.0
# Lambda publishes its metrics about a minute after the invocation; so does the engine here.
METRICS_DELAY_SECONDS = 60
ANALYSIS = {"compareToBaseline": True, "minInvocations": 20, "inconclusive": "rollback"}
# Where the demo leaves each rollout's picture (``rollouts status ID --plot FILE`` draws it).
PICTURES = Path("demo-pictures")


def _alias(engine: LocalEngine) -> tuple[str, dict[str, int | float]]:
    answer = engine.client("lambda").get_alias(FunctionName=FUNCTION, Name=ALIAS)
    weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return answer["FunctionVersion"], {v: percent(w) for v, w in weights.items()}


def served_text(served: Served) -> str:
    """``version 1: 319 ok, 7 errors; version 2: 40 ok``: the requests each version served."""
    answered, failed = served.snapshot()
    if not answered:
        return "none yet"
    parts = []
    for version in sorted(answered, key=lambda v: (not v.isdigit(), v.zfill(10))):
        errors = failed.get(version, 0)
        shown = f", {errors} error{'s' if errors != 1 else ''}" if errors else ""
        parts.append(f"version {version}: {answered[version] - errors} ok{shown}")
    return "; ".join(parts)


def request_text(request: dict[str, Any]) -> str:
    """The request a pipeline would send, in words."""
    steps = plan(parse_strategy(request["strategy"]))
    shape = ", then ".join(f"{s.weight}% for {human(s.bake_seconds)}" for s in steps)
    alarms = ", ".join(request.get("alarms") or []) or "no alarm"
    judged = ""
    analysis = request.get("analysis") or {}
    if analysis.get("compareToBaseline"):
        judged = (
            ", judged by its own errors against the baseline's (Fisher's exact test,"
            f" {analysis.get('confidence', 0.99) * 100:g}% confidence,"
            f" at least {analysis.get('minInvocations', 1)} invocations)"
        )
    return (
        f"{request['functionName']}:{request['alias']} to version {request['version']} with "
        f"{request['strategy']} ({shape}, then 100%), watching {alarms}{judged}, "
        f"health checked every {human(request['checkIntervalSeconds'])}"
    )


def _lasts(seconds: float) -> str:
    return human(seconds) if seconds >= 1 else f"{seconds:g} s"


def run_demo(
    console: Console,
    time_scale: float = 0.05,
    *,
    console_port: int = 0,
    keep: Callable[[], None] | None = None,
) -> int:
    """Run both rollouts; 0 when the healthy one is promoted and the faulty one rolled back.

    The rollouts console serves on ``console_port`` meanwhile (its URL is printed);
    with ``keep``, the engine and the console stay up after the demo until ``keep``
    returns.
    """
    from rollouts_cli.cli import Where  # the commands' own way to the control plane
    from rollouts_cli.console.server import ConsoleServer

    started = time.monotonic()
    # The task handlers run in this process: Powertools' warning that a task put no
    # metric is theirs to log, not news for the person watching the demo.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    console.rule("[bold]Lambda Rollouts: local demo")
    # No spinner here: the engine routes handler output through its own stdout, and
    # a live display that also redirects stdout would write into itself.
    console.print("Starting the local engine and deploying template.yaml...")
    engine = LocalEngine(time_scale=time_scale)
    info = engine.start()
    metrics.set_metrics_delay(METRICS_DELAY_SECONDS)
    console.print(
        f"Control plane deployed on [bold]{info.endpoint}[/] (time x{time_scale:g}: "
        f"a 5-minute bake lasts {_lasts(300 * time_scale)})\n"
        f"  state machine {info.state_machine_arn}\n  table {info.table_name}",
        highlight=False,
    )
    PICTURES.mkdir(exist_ok=True)
    where = Where(info.stack_name, Connection(endpoint_url=info.endpoint))
    plane = where.plane
    server = ConsoleServer(where, console_port, allow_actions=True)
    try:
        try:
            url = server.start()
        except OSError as taken:
            console.print(f"cannot serve the console on 127.0.0.1:{console_port}: {taken}")
            return 1
        console.print(f"Watch it in the console: [bold]{url}[/]", highlight=False)
        lam = engine.client("lambda")
        iam = engine.client("iam")
        create_function(lam, iam, FUNCTION, service_source("1", fail_percent=NOISE_PERCENT))
        lam.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1")
        healthy = publish(lam, FUNCTION, service_source("2", fail_percent=NOISE_PERCENT))
        faulty = publish(lam, FUNCTION, service_source("3", fail_percent=FAULTY_PERCENT))
        console.print(
            f"{FUNCTION}:{ALIAS} runs version 1, which fails {NOISE_PERCENT:g}% of requests;"
            f" version {healthy} fails {NOISE_PERCENT:g}% too, version {faulty}"
            f" {FAULTY_PERCENT:g}%. No alarm anywhere: each rollout judges its target by"
            " its own traffic.",
            highlight=False,
        )
        load = Load(lam, FUNCTION, ALIAS, per_second=REQUESTS_PER_SECOND).start()
        outcomes = []
        for number, version in enumerate((healthy, faulty), start=1):
            request = {
                "functionName": FUNCTION,
                "alias": ALIAS,
                "version": version,
                "strategy": "Canary20Percent5Minutes",
                "checkIntervalSeconds": 30,
                "analysis": ANALYSIS,
            }
            console.print(f"\n[bold]Rollout {number}[/]: {request_text(request)}", highlight=False)
            rollout = start_rollout(
                request, plane.sfn, plane.store, plane.state_machine_arn, scope=plane.scope
            )
            console.print(f"rollout {rollout.rollout_id} started", highlight=False)
            title = f"rollout {number}: {FUNCTION}:{ALIAS} -> version {version}"
            rollout_id = rollout.rollout_id

            def described(rollout_id: str = rollout_id) -> dict[str, Any]:
                found = where.describe(rollout_id)
                return where.with_live(found) if ended(found) else found

            last, _ = follow(
                described,
                console,
                poll_seconds=0.1,
                title=title,
                rows=lambda: {"requests": served_text(load.served)},
            )
            outcomes.append(last)
            status = str(last["status"])
            style = "green" if status == "SUCCEEDED" else "red"
            error = f" {last['error']}" if last.get("error") else ""
            console.print(
                f"[{style} bold]{status}{error}[/]  {escape(ending(last) or '')}", highlight=False
            )
            history = engine.client("stepfunctions").get_execution_history(
                executionArn=rollout.execution_arn, maxResults=1000
            )["events"]
            console.print("[bold]Timeline[/] (UTC)")
            for line in render(timeline(history, last.get("requests") or [])):
                console.print(f"  {line}", highlight=False, markup=False)
            picture = draw(
                marks(where.describe(rollout_id)),
                PICTURES / f"rollout-{number}-{rollout_id}.png",
            )
            console.print(f"Picture of rollout {number}: {picture}", highlight=False)
        load.stop()
        console.rule()
        final_version, final_weights = _alias(engine)
        split = (
            "with "
            + ", ".join(f"{w}% on version {v}" for v, w in sorted(final_weights.items()))
            + " besides"
            if final_weights
            else "with no split"
        )
        console.print(
            f"{FUNCTION}:{ALIAS} ends on version {final_version} {split}; "
            f"requests served: {served_text(load.served)}",
            highlight=False,
        )
        console.print(f"Demo finished in {time.monotonic() - started:.1f} s")
        expected = (
            outcomes[0]["status"] == "SUCCEEDED"
            and outcomes[1].get("error") == "RolledBack"
            and final_version == healthy
            and not final_weights
        )
        if keep is not None:
            console.print(
                f"The engine stays up on {info.endpoint} and the console on {server.url}"
                " until you stop it (Ctrl-C).",
                highlight=False,
            )
            keep()
        return 0 if expected else 1
    finally:
        server.stop()
        metrics.set_metrics_delay(0)
        engine.stop()
