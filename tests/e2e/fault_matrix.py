"""The fault matrix: one rollout scenario under one fault, and the safety invariants after it.

Shared by ``tests/e2e/test_fault_matrix.py`` (a fixed sample, in CI) and
``benchmarks/faults.py`` (the whole matrix). Nothing here changes the product.

A **scenario** is a rollout request (canary, linear, all at once, first deploy),
each with a PreTraffic and a PostTraffic hook that succeed and append their
``lifecycleEvent`` to a file (so that hook runs can be counted), and one
CloudWatch alarm in OK. Its **fault points** are the distinct AWS calls a clean
run makes from the control plane's functions and from the Step Functions
interpreter (``"states"``), as ``faults.recording()`` sees them; calls made by
the hook functions themselves are left out. A **cell** runs a fresh rollout
(fresh function names) with one ``FaultKind`` injected at one point, waits for
its end, and checks:

- the execution ended (not RUNNING) within ``END_TIMEOUT_SECONDS``;
- it ended SUCCEEDED, or FAILED ``RolledBack`` (nobody else writes the alias, so
  ``AliasDrift`` must not happen; ``RollbackFailed`` must not happen either);
- the alias is 100% on one version, the one the outcome names (SUCCEEDED: the
  target; RolledBack: the baseline, or no alias at all on a first deploy);
- the lock item is gone; the record's status matches the execution;
- each hook ran at most once per lifecycle event (twice when the fault was a
  lost answer at that hook's own Invoke), and at least once on success;
- no alias but the target alias exists afterwards (no baseline pin left).

These are checked when the execution ends and again once every in-process
function has gone quiet (the release function runs after any FAILED end).

A **stop cell** stops the execution (StopExecution, as from the console) when it
enters one state of the clean run, waits until the release function has ended
the record, and checks: the alias is 100% on the baseline (no alias on a first
deploy) unless the stop came after the rollout had succeeded, the lock is gone,
no pin is left, and no hook ran twice.

Run cells one at a time: fault points count calls per (service, operation,
calling function), and the control plane's functions are shared by every rollout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.faults import STATES, Call, FaultKind, FaultPoint, faults
from rollouts_cli.local.samples import create_function, publish

ALIAS = "live"
PIN_PREFIX = "rollout-baseline-"
END_TIMEOUT_SECONDS = 60.0
CLEANUP_TIMEOUT_SECONDS = 30.0
# How long every in-process function must have made no AWS call for a cell to be settled.
QUIET_SECONDS = 0.15
SETTLE_TIMEOUT_SECONDS = 20.0
# How long a FAILED or ABORTED end may take to reach the release function.
RELEASE_TIMEOUT_SECONDS = 5.0
# A hook may run twice only when its own answer may have been lost (the request took effect).
ANSWER_MAY_BE_LOST = frozenset({FaultKind.ANSWER_LOST})

BASELINE_SOURCE = "def handler(event, context):\n    return {'version': 'one'}\n"
TARGET_SOURCE = "def handler(event, context):\n    return {'version': 'two'}\n"
# Shared by every run: each run's hook calls are appended to <workdir>/<rolloutId>.hooks.
HOOK_SOURCE = (
    "import os\n"
    "def handler(event, context):\n"
    "    path = os.path.join({workdir!r}, event['rolloutId'] + '.hooks')\n"
    "    with open(path, 'a') as f:\n"
    "        f.write(event['lifecycleEvent'] + '\\n')\n"
    "    return {{'status': 'Succeeded'}}\n"
)
HOOK_EVENTS = ("PreTraffic", "PostTraffic")


# -- scenarios -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    name: str
    strategy: Any
    first_deploy: bool = False
    check_interval: int | None = None

    @property
    def baseline(self) -> str | None:
        """The version the alias is on before the rollout (None: no alias yet)."""
        return None if self.first_deploy else "1"

    @property
    def target(self) -> str:
        return "1" if self.first_deploy else "2"


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        # Checked every 150 s: one check that bakes on, one that promotes (not five alike).
        Scenario("canary", "Canary10Percent5Minutes", check_interval=150),
        Scenario(
            "linear",
            {
                "steps": [
                    {"weight": 25, "bakeSeconds": 60},
                    {"weight": 50, "bakeSeconds": 60},
                    {"weight": 75, "bakeSeconds": 60},
                ]
            },
            check_interval=60,
        ),
        Scenario("all-at-once", "AllAtOnce"),
        Scenario("first-deploy", "Canary10Percent5Minutes", first_deploy=True),
    )
}


# -- points, independent of one engine's physical function names ----------------------------
def logical_name(function: str, stack: str) -> str:
    """ "lambda-rollouts-ShiftTrafficFunction-KTCY..." -> "ShiftTrafficFunction"; "states" stays."""
    prefix = f"{stack}-"
    if function.startswith(prefix):
        return function[len(prefix) :].rsplit("-", 1)[0]
    return function


@dataclass(frozen=True)
class Point:
    """A fault point of a clean run, named by the caller's logical name ("ShiftTrafficFunction").

    ``task``: for a ``states`` Invoke, the logical name of the task function it invokes;
    for a hook's Invoke by RunHook, the lifecycle event of that hook.
    """

    service: str
    operation: str
    caller: str
    occurrence: int
    task: str = ""

    @property
    def id(self) -> str:
        caller = self.caller.removesuffix("Function")
        text = f"{caller}.{self.operation}#{self.occurrence}"
        if self.task:
            text += f"({self.task.removesuffix('Function')})"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "caller": self.caller,
            "occurrence": self.occurrence,
            "task": self.task,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Point:
        return cls(
            str(data["service"]),
            str(data["operation"]),
            str(data["caller"]),
            int(data["occurrence"]),
            str(data.get("task", "")),
        )


@dataclass(frozen=True)
class StopAt:
    """Stop the execution as it enters ``state`` for the ``nth`` time.

    ``after_success``: the clean run had ended its FinishRollout task by then.
    ``after``: hold the interpreter as it leaves this earlier entry instead of as it
    enters ``state`` (used for Choice states: moto's Choice fails ``States.Runtime``
    when stopped as it is entered, where AWS would abort it).
    """

    state: str
    nth: int
    after_success: bool
    after: tuple[str, int] | None = None

    @property
    def id(self) -> str:
        return f"stop@{self.state}#{self.nth}"

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "nth": self.nth,
            "afterSuccess": self.after_success,
            "after": list(self.after) if self.after else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StopAt:
        after = data.get("after")
        return cls(
            str(data["state"]),
            int(data["nth"]),
            bool(data["afterSuccess"]),
            (str(after[0]), int(after[1])) if after else None,
        )


@dataclass
class CleanRun:
    """What a scenario's clean run did: its fault points and the states it entered."""

    scenario: str
    status: str
    points: list[Point]
    # (name, history event type) of every state entered, in order.
    states: list[tuple[str, str]]

    def stops(self) -> list[StopAt]:
        """Every state entry of the run; after success = after its FinishRollout task ended."""
        names = [name for name, _ in self.states]
        finished = max((i for i, s in enumerate(names) if s == "FinishRollout"), default=-1)
        seen: dict[str, int] = {}
        stops: list[StopAt] = []
        previous: tuple[str, int] | None = None
        for index, (state, kind) in enumerate(self.states):
            seen[state] = seen.get(state, 0) + 1
            after = previous if kind == "ChoiceStateEntered" else None
            stops.append(StopAt(state, seen[state], 0 <= finished < index, after))
            previous = (state, seen[state])
        return stops

    def first_stops(self) -> list[StopAt]:
        """The first entry of every state the run entered."""
        return [s for s in self.stops() if s.nth == 1]

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "status": self.status,
            "points": [p.as_json() for p in self.points],
            "states": [list(s) for s in self.states],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CleanRun:
        return cls(
            str(data["scenario"]),
            str(data["status"]),
            [Point.from_json(p) for p in data["points"]],
            [(str(name), str(kind)) for name, kind in data["states"]],
        )


@dataclass(frozen=True)
class Cell:
    """One run of the matrix: a scenario under one fault, or stopped at one state."""

    scenario: str
    point: Point | None = None
    kind: FaultKind | None = None
    stop: StopAt | None = None

    @property
    def id(self) -> str:
        if self.stop is not None:
            return f"{self.scenario}-{self.stop.id}"
        assert self.point is not None and self.kind is not None
        return f"{self.scenario}-{self.point.id}-{self.kind.value}"


# -- what a cell found ----------------------------------------------------------------------
@dataclass
class Snapshot:
    """The alias, the other aliases, the lock and the record, read at one moment."""

    alias: tuple[str, dict[str, float]] | None
    aliases: list[str]
    lock: dict[str, Any] | None
    record_status: str | None

    def describe(self) -> str:
        if self.alias is None:
            alias = "no alias"
        else:
            version, weights = self.alias
            alias = f"alias on {version}" + (f" + {weights}" if weights else "")
        lock = "lock held" if self.lock else "lock gone"
        if self.lock:
            lock += f" by {self.lock.get('rolloutId')}"
        return f"{alias}; aliases {self.aliases}; {lock}; record {self.record_status or 'missing'}"


@dataclass
class Result:
    cell: Cell
    status: str = ""
    error: str | None = None
    cause: str | None = None
    fired: bool | None = None
    fired_on: str = ""
    hook_runs: dict[str, int] = field(default_factory=dict)
    at_end: Snapshot | None = None
    settled: Snapshot | None = None
    states: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    # Not violations: what the engine did that AWS would not, waits that ran out.
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def outcome(self) -> str:
        return f"{self.status} {self.error}" if self.error else self.status

    def report(self) -> str:
        """A violation report: the cell, what broke, and what the alias, record and lock were."""
        lines = [f"{self.cell.id}: {'; '.join(self.violations)}"]
        lines.append(f"    execution: {self.outcome}")
        if self.cause:
            lines.append(f"    cause: {_clip(self.cause, 600)}")
        if self.fired_on:
            lines.append(f"    fault on: {self.fired_on}")
        if self.settled is not None:
            lines.append(f"    after: {self.settled.describe()}")
        if self.at_end is not None and self.at_end != self.settled:
            lines.append(f"    at the end: {self.at_end.describe()}")
        lines.append(f"    hook runs: {self.hook_runs}")
        for note in self.notes:
            lines.append(f"    note: {note}")
        if self.states:
            lines.append(f"    states: {' > '.join(self.states[-12:])}")
        return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- stopping an execution when it enters a state ------------------------------------------
@dataclass
class _Gate:
    marker: str
    event: str  # "StateEntered" or "StateExited"
    state: str
    nth: int
    seen: int = 0
    managers: set[int] = field(default_factory=set)
    reached: threading.Event = field(default_factory=threading.Event)
    proceed: threading.Event = field(default_factory=threading.Event)


_gates: list[_Gate] = []
_gates_lock = threading.Lock()
_gate_installed = False


def _install_gate() -> None:
    """Wrap the interpreter's ``EventManager.add_event`` (once) so that a gate can hold it."""
    global _gate_installed
    with _gates_lock:
        if _gate_installed:
            return
        _gate_installed = True
    from moto.stepfunctions.parser.asl.eval.event import event_manager

    original = event_manager.EventManager.add_event

    def add_event(self: Any, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> Any:
        answer = original(self, context, event_type, *args, **kwargs)
        details = kwargs.get("event_details", args[0] if args else None) or {}
        kind = str(getattr(event_type, "value", event_type))
        hold: _Gate | None = None
        with _gates_lock:
            for gate in _gates:
                if kind == "ExecutionStarted":
                    started = str(details.get("executionStartedEventDetails", {}).get("input"))
                    if gate.marker in started:
                        gate.managers.add(id(self))
                elif kind.endswith(gate.event) and id(self) in gate.managers:
                    key = f"state{gate.event.removeprefix('State')}EventDetails"
                    if details.get(key, {}).get("name") == gate.state:
                        gate.seen += 1
                        if gate.seen == gate.nth:
                            hold = gate
        if hold is not None:
            # The interpreter thread waits here while the test thread stops the execution.
            hold.reached.set()
            hold.proceed.wait(30)
        return answer

    event_manager.EventManager.add_event = add_event


@contextlib.contextmanager
def holding(marker: str, stop: StopAt) -> Iterator[_Gate]:
    """Hold the interpreter where ``stop`` says, in the execution whose input holds ``marker``."""
    _install_gate()
    if stop.after is not None:
        gate = _Gate(marker, "StateExited", stop.after[0], stop.after[1])
    else:
        gate = _Gate(marker, "StateEntered", stop.state, stop.nth)
    with _gates_lock:
        _gates.append(gate)
    try:
        yield gate
    finally:
        gate.proceed.set()
        with _gates_lock:
            _gates.remove(gate)


# -- the harness ---------------------------------------------------------------------------
@dataclass
class _Run:
    """The fixtures of one run: a fresh function, and its request."""

    name: str
    request: dict[str, Any]


class Matrix:
    """Runs cells on one started engine, one at a time.

    The two hooks and the alarm are shared by every run (the hooks write to a file
    named by the rollout id); each run gets a function of its own.
    """

    def __init__(self, engine: LocalEngine, workdir: Path) -> None:
        import boto3

        self.engine = engine
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.lam = engine.client("lambda")
        self.iam = engine.client("iam")
        self.sfn = engine.client("stepfunctions")
        self.cloudwatch = engine.client("cloudwatch")
        self.table = boto3.resource(
            "dynamodb",
            endpoint_url=engine.endpoint,
            region_name=engine.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        ).Table(engine.info.table_name)
        self.stack = engine.info.stack_name
        functions: list[str] = []
        for page in self.lam.get_paginator("list_functions").paginate():
            functions += [str(f["FunctionName"]) for f in page["Functions"]]
        # The control plane's functions: logical name -> this engine's physical name.
        self.physical = {
            logical_name(f, self.stack): f for f in functions if f.startswith(f"{self.stack}-")
        }
        self.release_function = self.physical.get("ReleaseRolloutFunction", "")
        tag = uuid.uuid4().hex[:8]
        self.hooks = {"preTraffic": f"fm-pre-{tag}", "postTraffic": f"fm-post-{tag}"}
        self.hook_events = {self.hooks["preTraffic"]: "PreTraffic"}
        self.hook_events[self.hooks["postTraffic"]] = "PostTraffic"
        for hook in self.hooks.values():
            create_function(self.lam, self.iam, hook, HOOK_SOURCE.format(workdir=str(self.workdir)))
        self.alarm = f"fm-errors-{tag}"
        self.cloudwatch.put_metric_alarm(
            AlarmName=self.alarm,
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        self._clean: dict[str, CleanRun] = {}

    def quiesce(self, quiet: float = 0.5, timeout: float = 15.0) -> None:
        """Wait until no in-process function has made an AWS call for ``quiet`` seconds.

        Fault points count calls from the start of a cell: work left running by an
        earlier test (a release after its FAILED end) must not be counted in it.
        """
        with faults.recording() as calls:
            deadline = time.monotonic() + timeout
            seen, quiet_since = len(calls), time.monotonic()
            while time.monotonic() < deadline:
                time.sleep(0.02)
                if len(calls) != seen:
                    seen, quiet_since = len(calls), time.monotonic()
                elif time.monotonic() - quiet_since >= quiet:
                    return

    # -- fixtures of one run
    def _prepare(self, scenario: Scenario) -> _Run:
        name = f"fm-{scenario.name}-{uuid.uuid4().hex[:8]}"
        # Published apart: moto's CreateFunction with Publish deep-copies the function, and
        # with it the region's whole CloudWatch Logs backend, whose every copied model moto
        # then keeps (BaseModel tracks instances): memory and time would grow with each run.
        create_function(self.lam, self.iam, name, BASELINE_SOURCE, publish=False)
        self.lam.publish_version(FunctionName=name)
        if not scenario.first_deploy:
            self.lam.create_alias(FunctionName=name, Name=ALIAS, FunctionVersion="1")
            publish(self.lam, name, TARGET_SOURCE)
        request: dict[str, Any] = {
            "functionName": name,
            "alias": ALIAS,
            "version": scenario.target,
            "strategy": scenario.strategy,
            "alarms": [self.alarm],
            "hooks": dict(self.hooks),
        }
        if scenario.check_interval is not None:
            request["checkIntervalSeconds"] = scenario.check_interval
        if scenario.first_deploy:
            request["createAlias"] = True
        return _Run(name, request)

    def _dispose(self, run: _Run) -> None:
        """Delete the run's function (the emulator keeps every resource otherwise)."""
        with contextlib.suppress(Exception):
            self.lam.delete_function(FunctionName=run.name)

    def _start(self, run: _Run) -> tuple[str, str]:
        arn = str(
            self.sfn.start_execution(
                stateMachineArn=self.engine.info.state_machine_arn,
                input=json.dumps(run.request),
            )["executionArn"]
        )
        return arn, arn.rsplit(":", 1)[1]

    # -- observing
    def snapshot(self, function: str, rollout_id: str) -> Snapshot:
        try:
            answer = self.lam.get_alias(FunctionName=function, Name=ALIAS)
            weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            alias: tuple[str, dict[str, float]] | None = (
                str(answer["FunctionVersion"]),
                {str(k): float(v) for k, v in weights.items()},
            )
        except self.lam.exceptions.ResourceNotFoundException:
            alias = None
        aliases = sorted(
            str(a["Name"]) for a in self.lam.list_aliases(FunctionName=function)["Aliases"]
        )
        lock = self.table.get_item(
            Key={"pk": f"LOCK#{function}:{ALIAS}", "sk": "LOCK"}, ConsistentRead=True
        ).get("Item")
        return Snapshot(alias, aliases, lock, self._record_status(rollout_id))

    def _record_status(self, rollout_id: str) -> str | None:
        record = self.table.get_item(
            Key={"pk": f"ROLLOUT#{rollout_id}", "sk": "ROLLOUT"}, ConsistentRead=True
        ).get("Item")
        return str(record["status"]) if record and "status" in record else None

    def _wait_end(self, arn: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                return None
            time.sleep(0.01)

    def _states(self, arn: str) -> list[tuple[str, str]]:
        events = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return [
            (str(e["stateEnteredEventDetails"]["name"]), str(e["type"]))
            for e in events
            if "stateEnteredEventDetails" in e
        ]

    def _settle(self, calls: list[Call], release_expected: bool) -> str:
        """Wait until the release function ran (when due) and every function is quiet.

        Returns what it waited for in vain ("" when all went as expected).
        """
        deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        missed = ""
        if release_expected:
            release_by = time.monotonic() + RELEASE_TIMEOUT_SECONDS
            while not any(c.function == self.release_function for c in list(calls)):
                if time.monotonic() > release_by:
                    missed = f"no release call within {RELEASE_TIMEOUT_SECONDS:.0f} s; "
                    break
                time.sleep(0.01)
        seen, quiet_since = len(calls), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.02)
            if len(calls) != seen:
                seen, quiet_since = len(calls), time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_SECONDS:
                return missed
        last = ", ".join(
            f"{logical_name(c.function, self.stack)}.{c.operation}" for c in list(calls)[-5:]
        )
        return f"{missed}calls still made {SETTLE_TIMEOUT_SECONDS:.0f} s on (last: {last})"

    def _hook_runs(self, rollout_id: str) -> dict[str, int]:
        path = self.workdir / f"{rollout_id}.hooks"
        lines = path.read_text().splitlines() if path.exists() else []
        with contextlib.suppress(OSError):
            path.unlink()
        return {event: lines.count(event) for event in HOOK_EVENTS if event in lines}

    # -- the clean run
    def clean_run(self, scenario: Scenario) -> CleanRun:
        """Run the scenario without faults; its fault points and the states it entered."""
        if scenario.name in self._clean:
            return self._clean[scenario.name]
        run = self._prepare(scenario)
        with faults.recording() as calls:
            arn, rollout_id = self._start(run)
            described = self._wait_end(arn, END_TIMEOUT_SECONDS) or {"status": "RUNNING"}
            self._settle(calls, release_expected=described["status"] != "SUCCEEDED")
        self._hook_runs(rollout_id)
        if described["status"] != "SUCCEEDED":
            raise RuntimeError(
                f"the clean {scenario.name} run ended {described['status']}: "
                f"{described.get('error')} {described.get('cause')}"
            )
        points = [self._point(c) for c in calls if c.function not in self.hook_events]
        clean = CleanRun(scenario.name, "SUCCEEDED", points, self._states(arn))
        self._clean[scenario.name] = clean
        return clean

    def _point(self, call: Call) -> Point:
        task = ""
        if call.operation == "Invoke":
            invoked = _param(call.params_summary, "FunctionName").rsplit(":function:", 1)[-1]
            if call.function == STATES:
                # The summary clips long values ("lambda-rollouts-RunHookFunctio..."): the
                # control-plane function whose name starts with what is left is the one.
                clipped = invoked.removesuffix("...")
                named = [k for k, v in self.physical.items() if v.startswith(clipped)]
                task = named[0] if len(named) == 1 else clipped
            else:
                task = self.hook_events.get(invoked, "")
        caller = logical_name(call.function, self.stack)
        return Point(call.service, call.operation, caller, call.occurrence, task)

    def fault_point(self, point: Point) -> FaultPoint:
        function = point.caller if point.caller == STATES else self.physical[point.caller]
        return FaultPoint(point.service, point.operation, function, point.occurrence)

    # -- one cell
    def run(self, cell: Cell) -> Result:
        scenario = SCENARIOS[cell.scenario]
        started = time.monotonic()
        run = self._prepare(scenario)
        try:
            if cell.stop is not None:
                result = self._run_stop(scenario, cell, run)
            else:
                result = self._run_fault(scenario, cell, run)
        finally:
            self._dispose(run)
        result.seconds = time.monotonic() - started
        return result

    def _run_fault(self, scenario: Scenario, cell: Cell, run: _Run) -> Result:
        assert cell.point is not None and cell.kind is not None
        result = Result(cell)
        with (
            faults.recording() as calls,
            faults.injecting(self.fault_point(cell.point), cell.kind) as injected,
        ):
            arn, rollout_id = self._start(run)
            described = self._wait_end(arn, END_TIMEOUT_SECONDS)
            result.at_end = self.snapshot(run.name, rollout_id)
            if described is None:
                result.violations.append(
                    f"the execution was still RUNNING after {END_TIMEOUT_SECONDS:.0f} s"
                )
                with contextlib.suppress(Exception):
                    self.sfn.stop_execution(executionArn=arn)
                described = self._wait_end(arn, 10) or {"status": "RUNNING"}
                result.status = "RUNNING"
            else:
                result.status = str(described["status"])
            result.error = described.get("error")
            result.cause = described.get("cause")
            # A FAILED end invokes the release function: let it do its work first.
            if result.status != "SUCCEEDED" and (
                missed := self._settle(calls, release_expected=True)
            ):
                result.notes.append(missed)
        result.fired = injected.fired
        if injected.call is not None:
            result.fired_on = (
                f"{injected.call.service}.{injected.call.operation} by "
                f"{logical_name(injected.call.function, self.stack)} "
                f"#{injected.call.occurrence}: {_clip(injected.call.params_summary, 200)}"
            )
        # Every task of a SUCCEEDED execution has answered: nothing can change after its end.
        settled = result.status == "SUCCEEDED" and not result.violations
        result.settled = result.at_end if settled else self.snapshot(run.name, rollout_id)
        result.hook_runs = self._hook_runs(rollout_id)
        self._check_fault(scenario, cell, result)
        if result.violations:
            result.states = [name for name, _ in self._states(arn)]
        return result

    def _check_fault(self, scenario: Scenario, cell: Cell, result: Result) -> None:
        assert cell.point is not None and cell.kind is not None
        if not result.fired:
            result.violations.append("the fault never fired (the run did not reach its point)")
        expected: str | None = None
        record: str | None = None
        if result.status == "SUCCEEDED":
            expected, record = scenario.target, "SUCCEEDED"
        elif (result.status, result.error) == ("FAILED", "RolledBack"):
            expected, record = scenario.baseline, "ROLLED_BACK"
        elif result.status != "RUNNING":
            result.violations.append(f"ended {result.outcome}")
        for moment, snapshot in (("at the end", result.at_end), ("after settling", result.settled)):
            if snapshot is not None:
                for problem in _snapshot_problems(snapshot, expected, record):
                    _add(result, problem, moment)
        twice_allowed = {
            event
            for event in HOOK_EVENTS
            if cell.kind in ANSWER_MAY_BE_LOST
            and cell.point.caller == "RunHookFunction"
            and cell.point.operation == "Invoke"
            and cell.point.task == event
        }
        _check_hooks(result, twice_allowed, succeeded=result.status == "SUCCEEDED")

    def _run_stop(self, scenario: Scenario, cell: Cell, run: _Run) -> Result:
        assert cell.stop is not None
        stop = cell.stop
        result = Result(cell)
        with faults.recording() as calls, holding(run.name, stop) as gate:
            arn, rollout_id = self._start(run)
            reached = gate.reached.wait(END_TIMEOUT_SECONDS)
            if reached:
                self.sfn.stop_execution(
                    executionArn=arn, error="FaultMatrix", cause=f"stopped at {stop.id}"
                )
            gate.proceed.set()
            described = self._wait_end(arn, END_TIMEOUT_SECONDS) or {"status": "RUNNING"}
            result.status = str(described["status"])
            result.error = described.get("error")
            result.cause = described.get("cause")
            if not reached:
                result.violations.append(f"the execution never reached {stop.id}")
            elif result.status != "ABORTED":
                result.notes.append(f"ended {result.outcome} after the stop, not ABORTED")
            # The release function's cleanup ends the record (then unpins and unlocks).
            deadline = time.monotonic() + CLEANUP_TIMEOUT_SECONDS
            while self._record_status(rollout_id) in (None, "RUNNING", "ENDING"):
                if time.monotonic() > deadline:
                    result.violations.append(
                        f"the record was still {self._record_status(rollout_id) or 'missing'}"
                        f" {CLEANUP_TIMEOUT_SECONDS:.0f} s after the stop"
                    )
                    break
                time.sleep(0.01)
            result.at_end = self.snapshot(run.name, rollout_id)
            if missed := self._settle(calls, release_expected=True):
                result.notes.append(missed)
        result.settled = self.snapshot(run.name, rollout_id)
        result.hook_runs = self._hook_runs(rollout_id)
        expected: str | None = scenario.target if stop.after_success else scenario.baseline
        record = "SUCCEEDED" if stop.after_success else "ROLLED_BACK"
        # Checked once the cleanup is over: it ends the record before it unpins and unlocks.
        for problem in _snapshot_problems(result.settled, expected, record):
            _add(result, problem, "after the cleanup")
        _check_hooks(result, set(), succeeded=False)
        if result.violations:
            result.states = [name for name, _ in self._states(arn)]
        return result


def _param(summary: str, name: str) -> str:
    for part in summary.split(" "):
        if part.startswith(f"{name}="):
            return part[len(name) + 1 :]
    return ""


def _add(result: Result, problem: str, moment: str) -> None:
    """Add a problem seen at ``moment``; one seen at two moments is reported once."""
    for index, known in enumerate(result.violations):
        if known.rsplit(" (", 1)[0] == problem:
            result.violations[index] = f"{problem} (at both moments)"
            return
    result.violations.append(f"{problem} ({moment})")


def _snapshot_problems(snapshot: Snapshot, expected: str | None, record: str | None) -> list[str]:
    """What is wrong with the alias, lock and record, given the outcome (record None: unknown)."""
    problems = []
    if snapshot.alias is not None and snapshot.alias[1]:
        problems.append(f"the alias keeps a split {snapshot.alias[0]} + {snapshot.alias[1]}")
    if record is not None:
        version = snapshot.alias[0] if snapshot.alias is not None else None
        if version != expected:
            want = f"on version {expected}" if expected else "absent"
            got = f"on version {version}" if version else "absent"
            problems.append(f"the alias should be {want}, is {got}")
        if snapshot.record_status != record:
            problems.append(f"the record is {snapshot.record_status or 'missing'}, not {record}")
    if snapshot.lock is not None:
        problems.append(f"the lock is still held by {snapshot.lock.get('rolloutId')}")
    pins = [a for a in snapshot.aliases if a.startswith(PIN_PREFIX)]
    if pins:
        problems.append(f"the baseline pin is left: {pins}")
    others = [a for a in snapshot.aliases if a != ALIAS and not a.startswith(PIN_PREFIX)]
    if others:
        problems.append(f"unexpected aliases: {others}")
    return problems


def _check_hooks(result: Result, twice_allowed: set[str], succeeded: bool) -> None:
    for event in HOOK_EVENTS:
        runs = result.hook_runs.get(event, 0)
        limit = 2 if event in twice_allowed else 1
        if runs > limit:
            result.violations.append(f"the {event} hook ran {runs} times (at most {limit})")
        if succeeded and runs == 0:
            result.violations.append(f"succeeded without running the {event} hook")


# -- building the matrix --------------------------------------------------------------------
def fault_cells(clean: CleanRun, kinds: Iterable[FaultKind] = tuple(FaultKind)) -> list[Cell]:
    chosen = list(kinds)
    return [Cell(clean.scenario, point, kind) for point in clean.points for kind in chosen]


def stop_cells(clean: CleanRun, first_only: bool = False) -> list[Cell]:
    stops = clean.first_stops() if first_only else clean.stops()
    return [Cell(clean.scenario, stop=stop) for stop in stops]


def all_cells(cleans: dict[str, CleanRun]) -> list[Cell]:
    """The whole matrix: every scenario x point x kind, then a stop at every state entry."""
    cells = [cell for name in SCENARIOS for cell in fault_cells(cleans[name])]
    return cells + [cell for name in SCENARIOS for cell in stop_cells(cleans[name])]


CI_SEED = 20261201
CI_OTHERS = 40


def ci_sample(
    cleans: dict[str, CleanRun], seed: int = CI_SEED, others: int = CI_OTHERS
) -> list[Cell]:
    """The fixed CI sample: every canary point with ANSWER_LOST (the kind that takes
    effect and hides it), a seeded sample of ``others`` other fault cells of any scenario
    and kind, and a stop at every canary state. The whole matrix: benchmarks/faults.py."""
    canary = cleans["canary"]
    chosen = fault_cells(canary, (FaultKind.ANSWER_LOST,))
    taken = {c.id for c in chosen}
    rest = [
        cell for name in SCENARIOS for cell in fault_cells(cleans[name]) if cell.id not in taken
    ]
    chosen += random.Random(seed).sample(rest, min(others, len(rest)))
    return chosen + stop_cells(canary, first_only=True)


def sources_digest(root: Path) -> str:
    """A digest of everything that decides which calls a rollout makes."""
    digest = hashlib.sha256()
    patterns = (
        "template.yaml",
        "statemachine/*.json",
        "functions/**/*.py",
        "layers/rollouts/rollouts/**/*.py",
        "src/rollouts_cli/local/**/*.py",
        "tests/e2e/fault_matrix.py",
    )
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def clean_runs(engine: LocalEngine, workdir: Path) -> dict[str, CleanRun]:
    """Every scenario's clean run, on a started engine."""
    matrix = Matrix(engine, workdir)
    return {name: matrix.clean_run(scenario) for name, scenario in SCENARIOS.items()}
