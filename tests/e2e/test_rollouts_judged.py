"""Judge the target by its own traffic: rollouts with ``analysis`` and no alarm at all.

Each test runs the real state machine and handlers on the local engine, with real
traffic through the weighted alias (``Load``): the engine routes each request by
the alias's weights, runs the version it picked, and publishes Lambda's metrics
per executed version on its clock; CheckHealth reads them back with
GetMetricData and judges. Time is compressed (one real second is 50 engine
seconds), so a six-minute bake lasts seven real seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollouts.service import promote_rollout
from rollouts.store import RolloutStore
from rollouts_cli.local import metrics
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.faults import FaultKind, FaultPoint, Faults
from rollouts_cli.local.load import Load, service_source
from rollouts_cli.local.pytest_plugin import (
    AliasWrites,
    Rollouts,
    StatusEvents,
    alias_lock,
    eventually,
    rollout_id,
    rollout_record,
    rollout_table,
    stack_function,
)
from rollouts_cli.local.samples import create_function, publish

pytestmark = pytest.mark.e2e

SCALE = 0.02  # one real second is 50 engine seconds
# Half the traffic on the target, so both sides have counts to compare within minutes.
HALF = {"steps": [{"weight": 50, "bakeSeconds": 360}]}
REQUESTS_PER_SECOND = 40.0  # real: 0.8 a second of engine time, 48 a minute


class Service:
    """A function whose alias ``live`` runs version 1, and a version 2 to roll out."""

    def __init__(
        self,
        engine: LocalEngine,
        name: str,
        baseline_fails: float = 0.0,
        target_fails: float = 0.0,
        target_delay_ms: int = 0,
    ) -> None:
        self.name = name
        self.lam = engine.client("lambda")
        create_function(
            self.lam, engine.client("iam"), name, service_source("1", fail_percent=baseline_fails)
        )
        self.lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        publish(
            self.lam,
            name,
            service_source("2", fail_percent=target_fails, delay_ms=target_delay_ms),
        )

    def alias(self) -> tuple[str, dict[str, float]]:
        answer = self.lam.get_alias(FunctionName=self.name, Name="live")
        weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return str(answer["FunctionVersion"]), dict(weights)


@pytest.fixture
def compressed(time_scale: Callable[[float], None]) -> Iterator[None]:
    time_scale(SCALE)
    yield


def request(service: Service, analysis: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "functionName": service.name,
        "alias": "live",
        "version": "2",
        "strategy": HALF,
        "checkIntervalSeconds": 60,
        "analysis": analysis,
        **more,
    }


def verdicts(engine: LocalEngine, arn: str) -> list[dict[str, Any]]:
    record = rollout_record(engine, rollout_id(arn)) or {}
    return [c["analysis"] for c in record.get("checks", []) if "analysis" in c]


def judged(engine: LocalEngine, arn: str) -> list[dict[str, Any]]:
    """The verdicts that had a window (not settling)."""
    return [v for v in verdicts(engine, arn) if "window" in v]


def test_a_target_failing_30_percent_is_rolled_back_with_no_alarm(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alias_writes: AliasWrites,
    status_events: Callable[[str], StatusEvents],
    compressed: None,
    unique_name: Callable[[str], str],
) -> None:
    service = Service(local_engine, unique_name("orders"), target_fails=30)
    team = status_events(service.name)
    analysis = {"compareToBaseline": True, "minInvocations": 20}
    with Load(local_engine.client("lambda"), service.name, per_second=REQUESTS_PER_SECOND):
        ended = rollouts.run(request(service, analysis), timeout=120)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None
    assert "analysis failed at step 1 of 1 (50% on the target): target" in ended.cause
    assert "vs baseline 0.0% over" in ended.cause
    assert "worse at 99% confidence" in ended.cause
    assert service.alias() == ("1", {})
    assert alias_writes.routes(service.name, "live") == [("1", {"2": 50}), ("1", {})]
    failed = judged(local_engine, ended.arn)[-1]
    assert failed["outcome"] == "fail"
    assert failed["target"]["invocations"] >= 20
    assert failed["target"]["errors"] > 0
    assert failed["baseline"]["errors"] == 0
    assert failed["pValue"] < 0.01
    record = rollout_record(local_engine, rollout_id(ended.arn)) or {}
    assert record["status"] == "ROLLED_BACK"
    assert "worse at 99% confidence" in record["reason"]
    told = team.of(rollout_id(ended.arn), "rolled-back")
    assert told[-1]["phase"] == "rolled-back"
    assert told[-1]["analysis"]["outcome"] == "fail"


def test_a_target_as_noisy_as_its_baseline_is_promoted(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    compressed: None,
    unique_name: Callable[[str], str],
) -> None:
    # Both fail one request in twenty, exactly: the test finds no difference.
    service = Service(local_engine, unique_name("orders"), baseline_fails=5, target_fails=5)
    analysis = {"compareToBaseline": True, "minInvocations": 20}
    with Load(local_engine.client("lambda"), service.name, per_second=REQUESTS_PER_SECOND):
        ended = rollouts.run(request(service, analysis), timeout=120)

    assert (ended.status, ended.cause) == ("SUCCEEDED", None)
    assert service.alias() == ("2", {})
    seen = judged(local_engine, ended.arn)
    assert seen, "no verdict had a window"
    assert all(v["outcome"] == "pass" for v in seen), seen
    last = seen[-1]
    assert last["target"]["errors"] > 0 and last["baseline"]["errors"] > 0
    assert "not worse at 99% confidence" in last["reason"]


def test_a_slow_target_is_rolled_back_by_its_p99(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    compressed: None,
    unique_name: Callable[[str], str],
) -> None:
    service = Service(local_engine, unique_name("orders"), target_delay_ms=300)
    analysis = {"maxP99DurationMs": 150, "minInvocations": 10}
    with Load(local_engine.client("lambda"), service.name, per_second=REQUESTS_PER_SECOND):
        ended = rollouts.run(request(service, analysis), timeout=120)

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None
    assert "above the 150 ms allowed" in ended.cause
    assert service.alias() == ("1", {})
    failed = judged(local_engine, ended.arn)[-1]
    assert failed["target"]["p99Ms"] >= 300


def test_an_inconclusive_step_pauses_until_promoted(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    compressed: None,
    unique_name: Callable[[str], str],
) -> None:
    # No traffic at all: the step bakes its time with no verdict, then holds.
    service = Service(local_engine, unique_name("orders"))
    short = {"steps": [{"weight": 50, "bakeSeconds": 180}]}
    arn = rollouts.start(
        request(service, {"maxErrorRate": 1, "minInvocations": 10}, strategy=short)
    )

    def held() -> dict[str, Any] | None:
        state = (rollout_record(local_engine, rollout_id(arn)) or {}).get("state") or {}
        return state if state.get("held") else None

    state = eventually(held, "the hold", 60)
    assert state["reason"].startswith(
        "analysis inconclusive at step 1 of 1 (50% on the target) after its bake: "
    )
    assert "holding until a verdict passes, or rollouts promote" in state["reason"]
    assert state["verdict"]["outcome"] == "inconclusive"
    assert service.alias() == ("1", {"2": 0.5})

    promote_rollout(
        rollout_id(arn),
        "carol",
        RolloutStore(rollout_table(local_engine)),
        datetime.now(UTC),
        sfn=rollouts.sfn,
    )
    ended = rollouts.wait(arn, timeout=60)
    assert ended.status == "SUCCEEDED"
    assert service.alias() == ("2", {})


def test_a_dry_run_is_promoted_with_its_verdicts_recorded(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    compressed: None,
    unique_name: Callable[[str], str],
) -> None:
    service = Service(local_engine, unique_name("orders"), target_fails=50)
    analysis = {"maxErrorRate": 1, "minInvocations": 10, "dryRun": True}
    with Load(local_engine.client("lambda"), service.name, per_second=REQUESTS_PER_SECOND):
        ended = rollouts.run(request(service, analysis), timeout=120)

    assert (ended.status, ended.cause) == ("SUCCEEDED", None)
    assert service.alias() == ("2", {})
    seen = judged(local_engine, ended.arn)
    assert seen and all(v["dryRun"] for v in seen)
    assert any(v["outcome"] == "fail" for v in seen), seen
    assert "above the 1% allowed" in seen[-1]["reason"]


def test_a_real_alarm_evaluated_by_the_engine_rolls_back_the_target(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    alarm_evaluation: Any,
    compressed: None,
    unique_name: Callable[[str], str],
) -> None:
    # No SetAlarmState anywhere: the engine evaluates the alarm from the target's own
    # Errors, it enters ALARM, its state change event wakes the bake, and it rolls back.
    service = Service(local_engine, unique_name("orders"), target_fails=30)
    alarm = unique_name("orders-v2-errors")
    local_engine.client("cloudwatch").put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[
            {"Name": "FunctionName", "Value": service.name},
            {"Name": "Resource", "Value": f"{service.name}:live"},
            {"Name": "ExecutedVersion", "Value": "2"},
        ],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=3,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    with Load(local_engine.client("lambda"), service.name, per_second=REQUESTS_PER_SECOND):
        ended = rollouts.run(
            {
                "functionName": service.name,
                "alias": "live",
                "version": "2",
                "strategy": HALF,
                "checkIntervalSeconds": 300,
                "alarms": [alarm],
            },
            timeout=120,
        )

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None
    assert f"alarm {alarm} is in ALARM" in ended.cause
    assert service.alias() == ("1", {})
    # The check that rolled back kept the reason CloudWatch's evaluation gave (the alarm
    # itself may be OK again by now: the load stopped).
    record = rollout_record(local_engine, rollout_id(ended.arn)) or {}
    reason = record["checks"][-1]["alarmReasons"][alarm]
    assert reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints")


BUSINESS_SOURCE = """
import boto3

cloudwatch = boto3.client("cloudwatch")
served = 0


def handler(event, context):
    # A business metric of its own, per version: 1 for a checkout that failed (every
    # {every}th), else 0. The request itself succeeds: Lambda's Errors see nothing.
    global served
    served += 1
    cloudwatch.put_metric_data(
        Namespace="{namespace}",
        MetricData=[{{
            "MetricName": "CheckoutFailed",
            "Dimensions": [{{"Name": "Version", "Value": "{version}"}}],
            "Value": 1.0 if served % {every} == 0 else 0.0,
        }}],
    )
    return {{"version": "{version}"}}
"""


def test_a_custom_metric_judged_against_the_baseline_rolls_back(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    compressed: None,
    unique_name: Callable[[str], str],
) -> None:
    name = unique_name("checkout")
    namespace = f"Shop/{name}"
    lam = local_engine.client("lambda")
    create_function(
        lam,
        local_engine.client("iam"),
        name,
        BUSINESS_SOURCE.format(namespace=namespace, version="1", every=20),
    )
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    publish(lam, name, BUSINESS_SOURCE.format(namespace=namespace, version="2", every=2))
    metric = {
        "namespace": namespace,
        "name": "CheckoutFailed",
        "dimensions": [{"name": "Version", "value": "${version}"}],
        "statistic": "Average",
        "maxIncrease": 2,
    }
    with Load(lam, name, per_second=REQUESTS_PER_SECOND):
        ended = rollouts.run(
            {
                "functionName": name,
                "alias": "live",
                "version": "2",
                "strategy": HALF,
                "checkIntervalSeconds": 60,
                "analysis": {"metrics": [metric]},
            },
            timeout=120,
        )

    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None
    judged = re.search(
        rf"{namespace} CheckoutFailed Average ([0-9.]+) on the target vs ([0-9.]+) on the"
        r" baseline, above the 2x allowed",
        ended.cause,
    )
    assert judged is not None, ended.cause
    # Every second checkout fails on the target, every twentieth on the baseline.
    assert 0.4 <= float(judged[1]) <= 0.6
    assert 0.0 < float(judged[2]) <= 0.1
    live = lam.get_alias(FunctionName=name, Name="live")
    weights = (live.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    assert (live["FunctionVersion"], weights) == ("1", {})


@pytest.fixture
def metrics_late() -> Iterator[None]:
    """Lambda's metrics visible a minute after the invocation, as on AWS."""
    metrics.set_metrics_delay(60)
    yield
    metrics.set_metrics_delay(0)


def test_each_step_is_judged_by_its_own_minutes_after_it_settled(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    compressed: None,
    metrics_late: None,
    unique_name: Callable[[str], str],
) -> None:
    service = Service(local_engine, unique_name("orders"), baseline_fails=2, target_fails=2)
    two = {"steps": [{"weight": 20, "bakeSeconds": 300}, {"weight": 50, "bakeSeconds": 300}]}
    analysis = {"maxErrorRate": 10, "minInvocations": 5}
    with Load(local_engine.client("lambda"), service.name, per_second=REQUESTS_PER_SECOND):
        ended = rollouts.run(request(service, analysis, strategy=two), timeout=120)

    assert (ended.status, ended.cause) == ("SUCCEEDED", None)
    record = rollout_record(local_engine, rollout_id(ended.arn)) or {}
    shifts = {s["step"]: datetime.fromisoformat(s["at"]) for s in record["stepsTaken"]}
    seen = verdicts(local_engine, ended.arn)
    assert {v["step"] for v in seen} == {1, 2}
    for verdict in seen:
        shifted = shifts[verdict["step"]]
        age = (datetime.fromisoformat(verdict["at"]) - shifted).total_seconds()
        if "window" not in verdict:
            assert verdict["reason"].startswith("settling"), verdict
            continue
        # No verdict before the default 120 s settle, and none counts a minute of the
        # step before: its window starts at the first whole minute after its own shift.
        start = datetime.fromisoformat(verdict["window"]["start"])
        assert age >= 120 - 1, verdict
        assert shifted <= start < shifted + timedelta(seconds=61), verdict
        assert start.second == 0
        # Settled long enough for metrics a minute late: the window holds traffic.
        assert verdict["target"]["invocations"] > 0, verdict
    assert any(v["outcome"] == "pass" and v["step"] == 2 for v in seen)


@pytest.mark.parametrize("kind", [FaultKind.THROTTLE, FaultKind.READ_TIMEOUT])
def test_a_failed_metrics_read_is_retried_and_the_failing_target_still_rolled_back(
    local_engine: LocalEngine,
    rollouts: Rollouts,
    faults: Faults,
    compressed: None,
    unique_name: Callable[[str], str],
    kind: FaultKind,
) -> None:
    service = Service(local_engine, unique_name("orders"), target_fails=30)
    first_read = FaultPoint(
        "cloudwatch", "GetMetricData", stack_function(local_engine, "CheckHealthFunction"), 1
    )
    analysis = {"compareToBaseline": True, "minInvocations": 20}
    with (
        Load(local_engine.client("lambda"), service.name, per_second=REQUESTS_PER_SECOND),
        faults.injecting(first_read, kind) as injected,
    ):
        ended = rollouts.run(request(service, analysis), timeout=120)

    assert injected.fired
    assert (ended.status, ended.error) == ("FAILED", "RolledBack")
    assert ended.cause is not None and "analysis failed at step 1 of 1" in ended.cause
    assert service.alias() == ("1", {})
    assert alias_lock(local_engine, service.name) is None
