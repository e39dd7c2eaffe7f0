"""``rollouts local demo``: two real rollouts on the embedded engine, shown live.

1. deploys the control plane from template.yaml on the local engine;
2. creates ``orders-api`` (version 1 healthy, alias ``live``), then publishes a
   healthy version 2 and a faulty version 3 (every request raises);
3. sends traffic through the alias all along, honouring its weights, and
   publishes per-version ``Invocations`` and ``Errors`` metrics;
4. evaluates one CloudWatch alarm per new version on those metrics (the
   emulator does not evaluate alarms itself);
5. rolls out version 2 with a canary (it is promoted), then version 3 (its
   alarm fires at 10% and the rollout rolls back), each shown live as
   ``rollouts start --wait`` shows it, and prints how each ended and its timeline.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape

from rollouts.durations import human
from rollouts.plan import plan
from rollouts.service import start_rollout
from rollouts.strategy import parse_strategy
from rollouts_cli.follow import follow
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.samples import create_function, publish
from rollouts_cli.stack import Connection
from rollouts_cli.timeline import render, timeline
from rollouts_cli.views import ended, ending, percent

FUNCTION = "orders-api"
ALIAS = "live"
NAMESPACE = "LambdaRollouts/Demo"
HEALTHY = """
def handler(event, context):
    return {"order": event.get("order"), "status": "accepted", "by": "%s"}
"""
FAULTY = """
def handler(event, context):
    raise RuntimeError("payment provider rejected order %s" % event.get("order"))
"""


@dataclass
class Traffic:
    """Requests sent through the alias, by the version that served them."""

    ok: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, version: str, failed: bool) -> None:
        with self.lock:
            (self.errors if failed else self.ok)[version] += 1

    def snapshot(self) -> dict[str, tuple[int, int]]:
        with self.lock:
            versions = sorted(set(self.ok) | set(self.errors), key=int)
            return {v: (self.ok[v], self.errors[v]) for v in versions}


class TrafficAndAlarms(threading.Thread):
    """Sends requests through ``orders-api:live`` and evaluates the demo's alarms.

    Each tick: a batch of invocations (Lambda picks the version by the alias
    weights), per-version metrics put to CloudWatch, then every demo alarm set
    to ALARM when its version had errors in the last window, OK otherwise.
    """

    def __init__(self, engine: LocalEngine, traffic: Traffic, per_tick: int = 10) -> None:
        super().__init__(name="demo-traffic", daemon=True)
        self.lam = engine.client("lambda")
        self.cloudwatch = engine.client("cloudwatch")
        self.traffic = traffic
        self.per_tick = per_tick
        self.alarms: dict[str, str] = {}  # alarm name -> version it watches
        self.stopping = threading.Event()
        self.order = 0

    def run(self) -> None:
        while not self.stopping.is_set():
            served: Counter[str] = Counter()
            failed: Counter[str] = Counter()
            for _ in range(self.per_tick):
                self.order += 1
                answer = self.lam.invoke(
                    FunctionName=FUNCTION,
                    Qualifier=ALIAS,
                    Payload=json.dumps({"order": self.order}).encode(),
                )
                version = answer.get("ExecutedVersion", "?")
                error = bool(answer.get("FunctionError"))
                served[version] += 1
                failed[version] += int(error)
                self.traffic.add(version, error)
            self._publish(served, failed)
            self._evaluate()
            self.stopping.wait(0.05)

    def _publish(self, served: Counter[str], failed: Counter[str]) -> None:
        data = []
        for version, count in served.items():
            dimensions = [
                {"Name": "FunctionName", "Value": FUNCTION},
                {"Name": "ExecutedVersion", "Value": version},
            ]
            data.append({"MetricName": "Invocations", "Dimensions": dimensions, "Value": count})
            data.append(
                {"MetricName": "Errors", "Dimensions": dimensions, "Value": failed[version]}
            )
        if data:
            self.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)

    def _evaluate(self) -> None:
        now = datetime.now(UTC)
        for name, version in list(self.alarms.items()):
            stats = self.cloudwatch.get_metric_statistics(
                Namespace=NAMESPACE,
                MetricName="Errors",
                Dimensions=[
                    {"Name": "FunctionName", "Value": FUNCTION},
                    {"Name": "ExecutedVersion", "Value": version},
                ],
                StartTime=now - timedelta(seconds=5),
                EndTime=now + timedelta(seconds=1),
                Period=60,
                Statistics=["Sum"],
            )
            errors = sum(point["Sum"] for point in stats["Datapoints"])
            state = "ALARM" if errors >= 3 else "OK"
            current = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
            if current["StateValue"] != state:
                self.cloudwatch.set_alarm_state(
                    AlarmName=name,
                    StateValue=state,
                    StateReason=f"{int(errors)} errors on version {version} in the last 5 s",
                )

    def watch(self, version: str) -> str:
        name = f"{FUNCTION}-v{version}-errors"
        self.cloudwatch.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=f"Errors served by {FUNCTION} version {version}",
            Namespace=NAMESPACE,
            MetricName="Errors",
            Dimensions=[
                {"Name": "FunctionName", "Value": FUNCTION},
                {"Name": "ExecutedVersion", "Value": version},
            ],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=3,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        self.alarms[name] = version
        return name


def _alias(engine: LocalEngine) -> tuple[str, dict[str, int | float]]:
    answer = engine.client("lambda").get_alias(FunctionName=FUNCTION, Name=ALIAS)
    weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return answer["FunctionVersion"], {v: percent(w) for v, w in weights.items()}


def served_text(snapshot: dict[str, tuple[int, int]]) -> str:
    """``version 1: 319 ok; version 3: 0 ok, 7 errors``: the requests each version served."""
    if not snapshot:
        return "none yet"
    parts = []
    for version, (ok, failed) in snapshot.items():
        errors = f", {failed} error{'s' if failed != 1 else ''}" if failed else ""
        parts.append(f"version {version}: {ok} ok{errors}")
    return "; ".join(parts)


def request_text(request: dict[str, Any]) -> str:
    """The request a pipeline would send, in words."""
    steps = plan(parse_strategy(request["strategy"]))
    shape = ", then ".join(f"{s.weight}% for {human(s.bake_seconds)}" for s in steps)
    alarms = ", ".join(request.get("alarms") or []) or "no alarm"
    return (
        f"{request['functionName']}:{request['alias']} to version {request['version']} with "
        f"{request['strategy']} ({shape}, then 100%), watching {alarms}, "
        f"health checked every {human(request['checkIntervalSeconds'])}"
    )


def _lasts(seconds: float) -> str:
    return human(seconds) if seconds >= 1 else f"{seconds:g} s"


def run_demo(console: Console, time_scale: float = 0.01) -> int:
    """Run both rollouts; 0 when the healthy one is promoted and the faulty one rolled back."""
    from rollouts_cli.cli import Where  # the commands' own way to the control plane

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
    console.print(
        f"Control plane deployed on [bold]{info.endpoint}[/] (time x{time_scale:g}: "
        f"a 5-minute bake lasts {_lasts(300 * time_scale)})\n"
        f"  state machine {info.state_machine_arn}\n  table {info.table_name}",
        highlight=False,
    )
    try:
        lam = engine.client("lambda")
        create_function(lam, engine.client("iam"), FUNCTION, HEALTHY % "version 1")
        lam.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1")
        healthy = publish(lam, FUNCTION, HEALTHY % "version 2")
        faulty = publish(lam, FUNCTION, FAULTY)
        console.print(
            f"{FUNCTION}:{ALIAS} runs version 1; version {healthy} is healthy, "
            f"version {faulty} fails every request.",
            highlight=False,
        )
        where = Where(info.stack_name, Connection(endpoint_url=info.endpoint))
        plane = where.plane
        traffic = Traffic()
        load = TrafficAndAlarms(engine, traffic)
        load.start()
        outcomes = []
        for number, version in enumerate((healthy, faulty), start=1):
            alarm = load.watch(version)
            request = {
                "functionName": FUNCTION,
                "alias": ALIAS,
                "version": version,
                "strategy": "Canary10Percent5Minutes",
                "alarms": [alarm],
                "checkIntervalSeconds": 30,
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
                rows=lambda: {"requests": served_text(traffic.snapshot())},
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
        load.stopping.set()
        load.join(5)
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
            f"requests served: {served_text(traffic.snapshot())}",
            highlight=False,
        )
        console.print(f"Demo finished in {time.monotonic() - started:.1f} s")
        expected = (
            outcomes[0]["status"] == "SUCCEEDED"
            and outcomes[1].get("error") == "RolledBack"
            and final_version == healthy
            and not final_weights
        )
        return 0 if expected else 1
    finally:
        engine.stop()
