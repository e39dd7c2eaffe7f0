"""``rollouts local demo``: two real rollouts on the embedded engine, shown live.

1. deploys the control plane from template.yaml on the local engine;
2. creates ``orders-api`` (version 1 healthy, alias ``live``), then publishes a
   healthy version 2 and a faulty version 3 (every request raises);
3. sends traffic through the alias all along, honouring its weights, and
   publishes per-version ``Invocations`` and ``Errors`` metrics;
4. evaluates one CloudWatch alarm per new version on those metrics (the
   emulator does not evaluate alarms itself);
5. rolls out version 2 with a canary (it is promoted), then version 3 (its
   alarm fires at 10% and the rollout rolls back), and prints each timeline.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.samples import create_function, publish
from rollouts_cli.timeline import render, timeline

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


def _alias(engine: LocalEngine) -> tuple[str, dict[str, int]]:
    answer = engine.client("lambda").get_alias(FunctionName=FUNCTION, Name=ALIAS)
    weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return answer["FunctionVersion"], {v: round(w * 100) for v, w in weights.items()}


def _view(
    title: str,
    engine: LocalEngine,
    execution_arn: str,
    alarm: str,
    traffic: Traffic,
    target: str,
) -> tuple[Panel, str]:
    sfn = engine.client("stepfunctions")
    # The emulator ignores reverseOrder: read the history and take its last event.
    history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    state = entered[-1] if entered else "starting"
    version, weights = _alias(engine)
    on_target = 100 if version == target else weights.get(target, 0)
    health = engine.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("state", state)
    bar = ProgressBar(total=100, completed=on_target, width=30)
    traffic_row = Table.grid(padding=(0, 1))
    traffic_row.add_row(bar, Text(f"{on_target}% on version {target}"))
    grid.add_row("traffic", traffic_row)
    color = "red" if health["StateValue"] == "ALARM" else "green"
    grid.add_row("health", Text(f"{alarm}: {health['StateValue']}", style=color))
    served = "   ".join(
        f"v{v}: {ok} ok, {err} errors" for v, (ok, err) in traffic.snapshot().items()
    )
    grid.add_row("requests", served)
    line = f"{state:<22} {on_target:>3}% on v{target}  {alarm}={health['StateValue']}"
    return Panel(grid, title=title, expand=False), line


def _follow(
    console: Console,
    title: str,
    engine: LocalEngine,
    execution_arn: str,
    alarm: str,
    traffic: Traffic,
    target: str,
) -> dict[str, Any]:
    sfn = engine.client("stepfunctions")
    if console.is_terminal:
        with Live(
            console=console,
            refresh_per_second=10,
            transient=False,
            # The engine already owns sys.stdout (handler logs go to CloudWatch Logs).
            redirect_stdout=False,
            redirect_stderr=False,
        ) as live:
            while True:
                described = sfn.describe_execution(executionArn=execution_arn)
                panel, _ = _view(title, engine, execution_arn, alarm, traffic, target)
                live.update(panel)
                if described["status"] != "RUNNING":
                    return dict(described)
                time.sleep(0.1)
    previous = ""
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        _, line = _view(title, engine, execution_arn, alarm, traffic, target)
        if line != previous:
            console.print(f"  {line}")
            previous = line
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.1)


def run_demo(console: Console, time_scale: float = 0.01) -> int:
    """Run both rollouts; 0 when the healthy one is promoted and the faulty one rolled back."""
    started = time.monotonic()
    console.rule("[bold]Lambda Rollouts: local demo")
    # No spinner here: the engine routes handler output through its own stdout, and
    # a live display that also redirects stdout would write into itself.
    console.print("Starting the local engine and deploying template.yaml...")
    engine = LocalEngine(time_scale=time_scale)
    info = engine.start()
    console.print(
        f"Control plane deployed on [bold]{info.endpoint}[/] (time x{time_scale}: "
        f"a 5-minute bake lasts {300 * time_scale:g} s)\n"
        f"  state machine {info.state_machine_arn}\n  table {info.table_name}"
    )
    try:
        lam = engine.client("lambda")
        create_function(lam, engine.client("iam"), FUNCTION, HEALTHY % "version 1")
        lam.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1")
        healthy = publish(lam, FUNCTION, HEALTHY % "version 2")
        faulty = publish(lam, FUNCTION, FAULTY)
        console.print(
            f"{FUNCTION}:{ALIAS} runs version 1; version {healthy} is healthy, "
            f"version {faulty} fails every request."
        )
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
            console.print(f"\n[bold]Rollout {number}[/]: {json.dumps(request)}")
            execution = engine.client("stepfunctions").start_execution(
                stateMachineArn=info.state_machine_arn, input=json.dumps(request)
            )
            arn = execution["executionArn"]
            title = f"rollout {number}: {FUNCTION}:{ALIAS} -> version {version}"
            described = _follow(console, title, engine, arn, alarm, traffic, version)
            outcomes.append(described)
            status = described["status"]
            style = "green" if status == "SUCCEEDED" else "red"
            console.print(f"[{style} bold]{status}[/] {described.get('error') or ''}")
            if described.get("cause"):
                console.print(f"  {described['cause']}")
            history = engine.client("stepfunctions").get_execution_history(
                executionArn=arn, maxResults=1000
            )["events"]
            console.print("[bold]Timeline[/]")
            for line in render(timeline(history)):
                console.print(f"  {line}")
            console.print(f"Alias now: {_alias(engine)}")
        load.stopping.set()
        load.join(5)
        console.rule()
        final_version, final_weights = _alias(engine)
        console.print(
            f"{FUNCTION}:{ALIAS} ends on version {final_version} "
            f"{final_weights or 'with no split'}; "
            f"requests served: {traffic.snapshot()}"
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
