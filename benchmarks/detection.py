"""How long a bad target serves traffic before the alias is 100% on its baseline again.

Runs on the local engine (one for the whole script, alarms evaluated by it) with
real traffic through the alias (``Load``, 10 requests a second of virtual time by
default) and prints, for a target failing 5%, 20% and 100% of its requests, the
detection time of three detection paths:

- ``analysis: compareToBaseline``: ``{"compareToBaseline": true, "minInvocations": 20}``
  (Fisher's exact test at the default 99% confidence, target against baseline);
- ``analysis: maxErrorRate``: ``{"maxErrorRate": 1, "minInvocations": 20}``
  (a fixed error rate, no baseline comparison; ``--max-error-rate``);
- ``alarm``: no analysis, a metric alarm the engine evaluates as CloudWatch does,
  on the target's own ``Errors`` (dimensions FunctionName, Resource ``fn:live``,
  ExecutedVersion 2; Sum, Period 60, EvaluationPeriods 1, >= 1, missing data
  notBreaching).

Every rollout is AWS's default-like canary ``{"steps": [{"weight": 10,
"bakeSeconds": 600}]}`` with ``checkIntervalSeconds`` 60 and the default
``settleSeconds`` (120), and by default Lambda's metrics show 60 s after the
invocation, as on AWS (``--no-delay``: at once).

    .venv/bin/python benchmarks/detection.py [--runs N] [--scale S] [--quick] [--no-delay]
        [--max-error-rate PERCENT] [--fail PERCENT ...]

The default (one run per cell, scale 0.1: 100 real requests a second) takes about
three minutes on two cores; ``--quick`` (100% failing only) under one.

What is measured, in virtual time (the engine clock, ``clock.timestamp()``):

- start: the first invocation that executed version 2, i.e. the moment traffic
  first reached the target. It is read from the engine's published metrics: the
  timestamp of the earliest ``Invocations`` datum with ``ExecutedVersion`` 2 of
  the function's alias (the engine stamps it when the invocation starts, on its
  clock). It is not the first *failing* invocation: a target failing 5% fails its
  20th request (``service_source`` fails every n-th), about 20 virtual seconds
  later at 10% of 10 requests a second. (The alias's first routing to version 2,
  seen by polling it, comes a second or so before; the note prints that gap.)
- end: the first read of the alias (``get_alias``, polled every 10 ms real) that
  shows it on version 1 with no routing, after it had routed to version 2; the
  engine clock is read just after that answer.

Each StartExecution is made at the same second of the engine's minute (run k of
N at ``(k + 0.5) * 60 / N``): analysis windows, alarm periods and evaluations are
whole minutes, so where the shift falls in its minute moves the figures by up to
a check interval. The shift itself follows StartExecution by the control plane's
own run time (a second or two of real time), so its second still varies: the
progress lines print it. With one run a cell is one sample; ``--runs 3`` or more
gives a median over the minute.

A second table gives the failed requests the target served to the load's
clients (``Load.served``) until the alias was off it again.

The real seconds beside each figure are the same interval on the wall clock (the
engine clock runs ``1 / scale`` times faster, at a constant rate). Compute is not
compressed: a task that takes 0.1 s of real time takes ``0.1 / scale`` virtual
seconds, so a smaller scale adds more of the control plane's own run time to the
virtual figures. A rollout that reaches 100% on the target prints "not detected
(promoted)". The note gives the request rate the machine achieved (from
``Load.served``): if it is well below the asked rate, use a larger ``--scale``.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends

from rollouts_cli.local import clock
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.load import Load, service_source
from rollouts_cli.local.metrics import set_metrics_delay
from rollouts_cli.local.samples import create_function, publish

STRATEGY = {"steps": [{"weight": 10, "bakeSeconds": 600}]}
BAKE_SECONDS = 600
CHECK_INTERVAL_SECONDS = 60
MIN_INVOCATIONS = 20
ALARM_THRESHOLD = 1
METRICS_DELAY_SECONDS = 60
VIRTUAL_REQUESTS_PER_SECOND = 10.0
FAIL_PERCENTS = (5, 20, 100)
PATHS = ("baseline", "error-rate", "alarm")
LOAD_THREADS = 8
POLL_SECONDS = 0.01


def path_title(path: str, max_error_rate: float) -> str:
    return {
        "baseline": "analysis: compareToBaseline",
        "error-rate": f"analysis: maxErrorRate {max_error_rate:g}%",
        "alarm": f"alarm: Errors >= {ALARM_THRESHOLD} in 60 s",
    }[path]


@dataclass(frozen=True)
class Run:
    """One rollout's figures (virtual seconds unless said otherwise)."""

    path: str
    fail_percent: float
    outcome: str  # "rolled back", "promoted", or what else happened
    detection: float | None  # first v2 invocation -> alias 100% on the baseline
    shift_gap: float | None  # first routing to v2 seen -> first v2 invocation
    shift_second: float | None  # the second of its minute the shift was seen at
    virtual_rate: float  # requests answered per virtual second, all versions
    target_answered: int
    target_failed: int
    cause: str


class Service:
    """A function whose alias ``live`` runs version 1, and a version 2 failing a share."""

    def __init__(self, engine: LocalEngine, name: str, target_fails: float) -> None:
        self.name = name
        self.lam = engine.client("lambda")
        create_function(self.lam, engine.client("iam"), name, service_source("1"))
        self.lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        publish(self.lam, name, service_source("2", fail_percent=target_fails))

    def alias(self) -> tuple[str, dict[str, float]]:
        answer = self.lam.get_alias(FunctionName=self.name, Name="live")
        weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return str(answer["FunctionVersion"]), dict(weights)


def first_target_invocation(engine: LocalEngine, account: str, name: str) -> float | None:
    """Engine epoch seconds of the first invocation of ``name:live`` that ran version 2.

    Read straight from the engine's CloudWatch store (so the metrics delay, which
    only holds back what queries see, does not matter here).
    """
    wanted = {("FunctionName", name), ("Resource", f"{name}:live"), ("ExecutedVersion", "2")}
    backend = cloudwatch_backends[account][engine.region]
    stamps = [
        datum.timestamp
        for datum in list(backend.metric_data)
        if datum.namespace == "AWS/Lambda"
        and datum.name == "Invocations"
        and {(d.name, d.value) for d in datum.dimensions} == wanted
    ]
    if not stamps:
        return None
    first: datetime = min(stamps)
    if first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    return first.timestamp()


def request(name: str, path: str, max_error_rate: float, alarm: str) -> dict[str, Any]:
    asked: dict[str, Any] = {
        "functionName": name,
        "alias": "live",
        "version": "2",
        "strategy": STRATEGY,
        "checkIntervalSeconds": CHECK_INTERVAL_SECONDS,
    }
    if path == "baseline":
        asked["analysis"] = {"compareToBaseline": True, "minInvocations": MIN_INVOCATIONS}
    elif path == "error-rate":
        asked["analysis"] = {"maxErrorRate": max_error_rate, "minInvocations": MIN_INVOCATIONS}
    else:
        asked["alarms"] = [alarm]
    return asked


def put_alarm(engine: LocalEngine, name: str) -> str:
    alarm = f"{name}-v2-errors"
    engine.client("cloudwatch").put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[
            {"Name": "FunctionName", "Value": name},
            {"Name": "Resource", "Value": f"{name}:live"},
            {"Name": "ExecutedVersion", "Value": "2"},
        ],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=ALARM_THRESHOLD,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    return alarm


def run_once(
    engine: LocalEngine,
    account: str,
    path: str,
    fail_percent: float,
    number: int,
    scale: float,
    max_error_rate: float,
    phase: float,
) -> Run:
    name = f"detect-{path}-f{fail_percent:g}-r{number}"
    service = Service(engine, name, fail_percent)
    alarm = put_alarm(engine, name) if path == "alarm" else ""
    sfn = engine.client("stepfunctions")
    # Generous: the whole bake and a promotion, in real seconds, and a minute to spare.
    deadline = time.monotonic() + (BAKE_SECONDS + 600) * scale + 60

    def running(arn: str) -> bool:
        return sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"

    load = Load(
        engine.client("lambda"),
        name,
        per_second=VIRTUAL_REQUESTS_PER_SECOND / scale,
        threads=LOAD_THREADS,
    )
    load_began = clock.timestamp()
    load.start()
    # Start at the same second of the engine's minute every time: windows, alarm periods
    # and evaluations are whole minutes, so where a shift falls in its minute matters.
    time.sleep(clock.real_seconds((phase - clock.timestamp()) % 60))
    shifted: float | None = None
    ended: float | None = None
    final: tuple[str, dict[str, float]] | None = None
    try:
        arn = sfn.start_execution(
            stateMachineArn=engine.info.state_machine_arn,
            input=json.dumps(request(name, path, max_error_rate, alarm)),
        )["executionArn"]
        polls = 0
        while time.monotonic() < deadline:
            seen = service.alias()
            now = clock.timestamp()
            if shifted is None and "2" in seen[1]:
                shifted = now
            if shifted is not None and seen in (("1", {}), ("2", {})):
                ended, final = now, seen
                break
            polls += 1
            if polls % 50 == 0 and not running(arn):
                final = service.alias()
                break
            time.sleep(POLL_SECONDS)
    finally:
        load.stop()
    load_ended = clock.timestamp()
    while running(arn):
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=arn, error="Benchmark", cause="took too long")
            break
        time.sleep(0.1)
    described = sfn.describe_execution(executionArn=arn)
    status = f"{described['status']} {described.get('error', '')}".strip()
    cause = " ".join(str(described.get("cause", "")).split())

    answered, failed = load.served.snapshot()
    virtual_rate = sum(answered.values()) / max(load_ended - load_began, 1e-9)
    first = first_target_invocation(engine, account, name)
    if shifted is None:
        outcome = f"never shifted ({status})"
    elif final == ("1", {}) and ended is not None:
        outcome = "rolled back"
    elif final == ("2", {}):
        outcome = "promoted"
    elif ended is None and final is None:
        outcome = f"timed out ({status})"
    else:
        outcome = f"ended at {final} ({status})"
    detection = ended - first if outcome == "rolled back" and first and ended else None
    return Run(
        path=path,
        fail_percent=fail_percent,
        outcome=outcome,
        detection=detection,
        shift_gap=first - shifted if first and shifted else None,
        shift_second=shifted % 60 if shifted else None,
        virtual_rate=virtual_rate,
        target_answered=answered.get("2", 0),
        target_failed=failed.get("2", 0),
        cause=cause,
    )


def cell(runs: list[Run], scale: float) -> str:
    detected = [r.detection for r in runs if r.detection is not None]
    promoted = sum(r.outcome == "promoted" for r in runs)
    if not detected:
        if promoted == len(runs):
            return "not detected (promoted)"
        return "; ".join(sorted({r.outcome for r in runs}))
    median = statistics.median(detected)
    shown = f"{median:.1f} s ({median * scale:.1f} s real)"
    if len(detected) < len(runs):
        shown += f" [{len(detected)}/{len(runs)} detected, {promoted} promoted]"
    return shown


def failed_cell(runs: list[Run]) -> str:
    shown = str(round(statistics.median(r.target_failed for r in runs)))
    if all(r.outcome == "promoted" for r in runs):
        shown += " (until promoted)"
    return shown


def print_table(
    results: dict[tuple[float, str], list[Run]],
    fail_percents: tuple[float, ...],
    max_error_rate: float,
    scale: float,
    delay: float,
    runs: int,
) -> None:
    titles = [path_title(p, max_error_rate) for p in PATHS]
    rows = [
        [f"{f:g}% failing"] + [cell(results[(f, p)], scale) for p in PATHS] for f in fail_percents
    ]
    failed_rows = [
        [f"{f:g}% failing"] + [failed_cell(results[(f, p)]) for p in PATHS] for f in fail_percents
    ]
    header = ["target", *titles]
    widths = [max(len(row[i]) for row in [header, *rows, *failed_rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True))

    every = [r for group in results.values() for r in group]
    rates = [r.virtual_rate for r in every]
    gaps = [r.shift_gap for r in every if r.shift_gap is not None]
    print(
        f"Detection time, virtual seconds (median of {runs} run{'s' if runs > 1 else ''}):"
        f" canary 10% with a 600 s bake, checkIntervalSeconds {CHECK_INTERVAL_SECONDS},"
        f" settleSeconds 120, minInvocations {MIN_INVOCATIONS} for both analyses, alarm"
        f" Sum(Errors of version 2) >= {ALARM_THRESHOLD} over 1 period of 60 s;"
        f" metrics delay {delay:g} s; time scale {scale:g}"
    )
    print()
    print(line(header))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    print()
    print("Failed requests the target served until the alias was off it again (median):")
    print(line(header))
    print(line(["-" * w for w in widths]))
    for row in failed_rows:
        print(line(row))
    print()
    print(
        "Note: from the first invocation that executed version 2 (engine metrics) to the"
        " first get_alias read showing 100% on version 1, on the engine clock; real seconds"
        f" are the same interval on the wall clock. Asked {VIRTUAL_REQUESTS_PER_SECOND:g}"
        f" requests per virtual second ({VIRTUAL_REQUESTS_PER_SECOND / scale:g} real);"
        f" achieved {statistics.median(rates):.2f} (min {min(rates):.2f}, max"
        f" {max(rates):.2f}) per virtual second across {len(every)} rollouts. The alias"
        " routed to version 2 a median"
        f" {statistics.median(gaps) if gaps else float('nan'):.2f} virtual s before its first"
        " invocation."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="rollouts per cell (median)")
    parser.add_argument(
        "--scale",
        type=float,
        default=0.1,
        help="time scale: one real second is 1/SCALE virtual seconds (default 0.1, so"
        " 10 virtual requests a second are 100 real ones)",
    )
    parser.add_argument("--quick", action="store_true", help="only the 100%%-failing target")
    parser.add_argument("--no-delay", action="store_true", help="metrics show at once")
    parser.add_argument(
        "--max-error-rate", type=float, default=1.0, help="maxErrorRate of path (b), percent"
    )
    parser.add_argument(
        "--fail",
        type=float,
        action="append",
        help="failure percent of the target (repeatable; default 5, 20, 100)",
    )
    args = parser.parse_args()
    if args.runs < 1 or not 0 < args.scale <= 1:
        parser.error("--runs must be >= 1 and --scale in (0, 1]")
    fail_percents = tuple(args.fail or ((100,) if args.quick else FAIL_PERCENTS))
    delay = 0.0 if args.no_delay else float(METRICS_DELAY_SECONDS)
    began = time.perf_counter()
    results: dict[tuple[float, str], list[Run]] = {(f, p): [] for f in fail_percents for p in PATHS}
    with LocalEngine(time_scale=args.scale, evaluate_alarms=True) as engine:
        set_metrics_delay(delay)
        account = engine.client("sts").get_caller_identity()["Account"]
        total = args.runs * len(fail_percents) * len(PATHS)
        done = 0
        for number in range(args.runs):
            for fail in fail_percents:
                for path in PATHS:
                    started = time.perf_counter()
                    run = run_once(
                        engine,
                        account,
                        path,
                        fail,
                        number,
                        args.scale,
                        args.max_error_rate,
                        phase=(number + 0.5) * 60 / args.runs,
                    )
                    results[(fail, path)].append(run)
                    done += 1
                    shown = f"{run.detection:.1f} virtual s" if run.detection else run.outcome
                    print(
                        f"[{done}/{total}] {fail:g}% failing, {path}: {shown}"
                        f" ({time.perf_counter() - started:.1f} s real for the run;"
                        f" shift at second {run.shift_second or 0:.1f} of its minute;"
                        f" {run.virtual_rate:.2f} req/virtual s; target served"
                        f" {run.target_answered}, failed {run.target_failed})"
                        f" {run.cause[:160]}",
                        file=sys.stderr,
                        flush=True,
                    )
        set_metrics_delay(0)
    print_table(results, fail_percents, args.max_error_rate, args.scale, delay, args.runs)
    print(f"({time.perf_counter() - began:.0f} s in all)", file=sys.stderr)


if __name__ == "__main__":
    main()
