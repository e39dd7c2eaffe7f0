"""Lambda's metrics in the local engine, and the CloudWatch queries that read them (``metrics``).

Each test asserts what AWS documents: an invocation's ``Invocations``, ``Errors``
and ``Duration`` in ``AWS/Lambda`` with Lambda's dimension sets, percentiles,
one metric per query, arithmetic metric math, and metrics that show only a
while after they were published. Everything goes through boto3 on the engine's
endpoint, as a client on AWS would; timestamps are the engine's clock.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.cloudwatch import models as cloudwatch_models

from rollouts_cli.local import clock, metrics, samples
from rollouts_cli.local.engine import LocalEngine

NAMESPACE = "AWS/Lambda"

# Sleeps and fails as the event asks; says which version ran.
SOURCE = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {{"code": {code}, "version": context.function_version}}
"""


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cloudwatch(local_engine: LocalEngine) -> Any:
    return local_engine.client("cloudwatch")


@pytest.fixture
def versioned(lambda_client: Any, make_function: Callable[..., str]) -> str:
    """A function with published versions 1 and 2 (each answering its own code number)."""
    name = make_function(SOURCE.format(code=1), prefix="metrics")
    samples.publish(lambda_client, name, SOURCE.format(code=2))
    return name


@pytest.fixture
def delay() -> Iterator[Callable[[float], None]]:
    """Set the metrics delay for one test (back to 0 after it)."""
    yield metrics.set_metrics_delay
    metrics.set_metrics_delay(0.0)


@contextmanager
def clock_rate(rate: float) -> Iterator[None]:
    previous = clock.rate()
    clock.set_rate(rate)
    try:
        yield
    finally:
        clock.set_rate(previous)


def advance_clock(engine_seconds: float) -> None:
    """Let ``engine_seconds`` of engine time pass quickly (the clock never jumps)."""
    target = clock.timestamp() + engine_seconds
    with clock_rate(10_000.0):
        while clock.timestamp() < target:
            time.sleep(0.005)


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def invoke(lambda_client: Any, name: str, **event: Any) -> dict[str, Any]:
    answer: dict[str, Any] = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event))
    answer["Payload"] = json.loads(answer["Payload"].read())
    return answer


def dims(function: str, **more: str) -> list[dict[str, str]]:
    return [{"Name": "FunctionName", "Value": function}] + [
        {"Name": key, "Value": value} for key, value in more.items()
    ]


def stat_query(
    query_id: str,
    metric: str,
    dimensions: list[dict[str, str]],
    stat: str = "Sum",
    period: int = 3600,
    namespace: str = NAMESPACE,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
            "Period": period,
            "Stat": stat,
        },
        **extra,
    }


def results(
    cloudwatch: Any, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[str, dict[datetime, float]]:
    """GetMetricData: each returned query's datapoints, by timestamp."""
    answer = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    return {
        r["Id"]: {t.astimezone(UTC): v for t, v in zip(r["Timestamps"], r["Values"], strict=True)}
        for r in answer["MetricDataResults"]
    }


def recent(cloudwatch: Any, queries: list[dict[str, Any]]) -> dict[str, float | None]:
    """Each query's one value over the last few minutes and the next (one hour-long period)."""
    now = clock.now()
    found = results(
        cloudwatch, queries, minute(now) - timedelta(minutes=5), now + timedelta(minutes=5)
    )
    answers: dict[str, float | None] = {}
    for query_id, points in found.items():
        assert len(points) <= 1, points
        answers[query_id] = next(iter(points.values()), None)
    return answers


def total(cloudwatch: Any, metric: str, dimensions: list[dict[str, str]], **kwargs: Any) -> Any:
    return recent(cloudwatch, [stat_query("q", metric, dimensions, **kwargs)])["q"]


def statistics(
    cloudwatch: Any, metric: str, dimensions: list[dict[str, str]], **kwargs: Any
) -> list[dict[str, Any]]:
    now = clock.now()
    answer = cloudwatch.get_metric_statistics(
        Namespace=kwargs.pop("namespace", NAMESPACE),
        MetricName=metric,
        Dimensions=dimensions,
        StartTime=minute(now) - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        **kwargs,
    )
    points: list[dict[str, Any]] = answer["Datapoints"]
    return points


# --- lambda_metrics -------------------------------------------------------------------------


def test_a_weighted_alias_counts_invocations_per_executed_version(
    lambda_client: Any, cloudwatch: Any, versioned: str
) -> None:
    lambda_client.create_alias(
        FunctionName=versioned,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    ran = Counter[str]()
    for _ in range(60):
        answer = lambda_client.invoke(FunctionName=versioned, Qualifier="live", Payload=b"{}")
        ran[str(answer["ExecutedVersion"])] += 1
    # 60 fair coin flips: both versions ran (all on one side: about 1e-18).
    assert set(ran) == {"1", "2"}

    resource = f"{versioned}:live"
    found = recent(
        cloudwatch,
        [
            stat_query(
                f"v{v}", "Invocations", dims(versioned, Resource=resource, ExecutedVersion=v)
            )
            for v in ("1", "2")
        ]
        + [
            stat_query("alias", "Invocations", dims(versioned, Resource=resource)),
            stat_query("function", "Invocations", dims(versioned)),
            stat_query("errors", "Errors", dims(versioned, Resource=resource, ExecutedVersion="2")),
        ],
    )

    assert found == {
        "v1": ran["1"],
        "v2": ran["2"],
        "alias": 60,
        "function": 60,
        "errors": 0,
    }


def test_errors_count_the_invocations_that_failed(
    lambda_client: Any, cloudwatch: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SOURCE.format(code=1), prefix="errors")
    outcomes = [invoke(lambda_client, name, fail=i % 4 == 0) for i in range(12)]
    assert sum("FunctionError" in answer for answer in outcomes) == 3

    found = recent(
        cloudwatch,
        [
            stat_query("errors", "Errors", dims(name)),
            stat_query("invocations", "Invocations", dims(name)),
            stat_query("samples", "Errors", dims(name), stat="SampleCount"),
            {"Id": "rate", "Expression": "100 * errors / invocations", "Label": "Error rate"},
        ],
    )

    assert found == {"errors": 3, "invocations": 12, "samples": 12, "rate": 25.0}


def test_each_invocation_publishes_lambdas_dimension_sets_and_units(
    lambda_client: Any, cloudwatch: Any, versioned: str
) -> None:
    invoke(lambda_client, versioned)  # unqualified: $LATEST
    lambda_client.invoke(FunctionName=versioned, Qualifier="1", Payload=b"{}")
    lambda_client.invoke(FunctionName=f"{versioned}:1", Payload=b"{}")
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="2")
    lambda_client.invoke(FunctionName=versioned, Qualifier="live", Payload=b"{}")

    found = recent(
        cloudwatch,
        [
            stat_query("function", "Invocations", dims(versioned)),
            stat_query("version", "Invocations", dims(versioned, Resource=f"{versioned}:1")),
            stat_query("alias", "Invocations", dims(versioned, Resource=f"{versioned}:live")),
            stat_query(
                "executed",
                "Invocations",
                dims(versioned, Resource=f"{versioned}:live", ExecutedVersion="2"),
            ),
            # A version invoked by its number is no alias: no ExecutedVersion set for it.
            stat_query(
                "no_alias",
                "Invocations",
                dims(versioned, Resource=f"{versioned}:1", ExecutedVersion="1"),
            ),
            stat_query("everything", "Invocations", []),
        ],
    )
    assert found["everything"] is not None and found["everything"] >= 4  # every function's
    del found["everything"]
    assert found == {"function": 4, "version": 2, "alias": 1, "executed": 1, "no_alias": None}

    units = {
        metric: {
            point["Unit"]
            for point in statistics(cloudwatch, metric, dims(versioned), Statistics=["Sum"])
        }
        for metric in ("Invocations", "Errors", "Duration")
    }
    assert units == {"Invocations": {"Count"}, "Errors": {"Count"}, "Duration": {"Milliseconds"}}
    listed = cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName="Throttles")["Metrics"]
    assert not [
        m for m in listed if {"Name": "FunctionName", "Value": versioned} in m["Dimensions"]
    ]


def test_tasks_of_a_state_machine_publish_their_invocations(
    lambda_client: Any,
    cloudwatch: Any,
    sfn: Any,
    versioned: str,
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
) -> None:
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="2")
    arn = lambda_client.get_function(FunctionName=versioned)["Configuration"]["FunctionArn"]
    machine = make_state_machine(
        {
            "StartAt": "Direct",
            "States": {
                "Direct": {"Type": "Task", "Resource": arn, "ResultPath": None, "Next": "Alias"},
                "Alias": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": f"{arn}:live", "Payload": {"fail": True}},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                    "Next": "Done",
                },
                "Done": {"Type": "Pass", "End": True},
            },
        }
    )

    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert finished(execution)["status"] == "SUCCEEDED"

    live = dims(versioned, Resource=f"{versioned}:live", ExecutedVersion="2")
    found = recent(
        cloudwatch,
        [
            stat_query("function", "Invocations", dims(versioned)),
            stat_query("live", "Invocations", live),
            stat_query("live_errors", "Errors", live),
            stat_query("errors", "Errors", dims(versioned)),
        ],
    )
    assert found == {"function": 2, "live": 1, "live_errors": 1, "errors": 1}


def test_duration_is_the_milliseconds_the_invocation_ran(
    lambda_client: Any, cloudwatch: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SOURCE.format(code=1), prefix="duration")
    for index in range(20):
        invoke(lambda_client, name, sleep=0.25 if index == 7 else 0)

    (point,) = statistics(
        cloudwatch,
        "Duration",
        dims(name),
        Statistics=["SampleCount", "Maximum", "Minimum"],
        ExtendedStatistics=["p99", "p50", "p0"],
    )

    assert point["Unit"] == "Milliseconds"
    assert point["SampleCount"] == 20
    extended = point["ExtendedStatistics"]
    # Nearest rank over 20 values: p99 is the 20th (the longest), p0 the first (the shortest).
    assert extended["p99"] == point["Maximum"] >= 250.0
    assert extended["p0"] == point["Minimum"] > 0
    assert point["Minimum"] <= extended["p50"] <= point["Maximum"]
    assert total(cloudwatch, "Duration", dims(name), stat="p99") == extended["p99"]


SLOW_INIT = """
import time

time.sleep(0.4)  # a cold start: the import takes its time, the handler none


def handler(event, context):
    return {"ok": True}
"""


def test_duration_leaves_out_the_init_of_a_cold_start(
    lambda_client: Any, cloudwatch: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SLOW_INIT, prefix="cold")
    invoke(lambda_client, name)

    (point,) = statistics(cloudwatch, "Duration", dims(name), Statistics=["Maximum"])

    # Lambda reports the init apart (Init Duration); Duration is the handler's run.
    assert point["Maximum"] < 400.0


def test_a_dry_run_publishes_nothing(
    lambda_client: Any, cloudwatch: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SOURCE.format(code=1), prefix="dryrun")
    lambda_client.invoke(FunctionName=name, InvocationType="DryRun", Payload=b"{}")
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")

    assert total(cloudwatch, "Invocations", dims(name)) == 1


def test_a_metric_that_cannot_be_published_never_fails_the_invocation(
    lambda_client: Any,
    cloudwatch: Any,
    make_function: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = make_function(SOURCE.format(code=1), prefix="unpublished")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CloudWatch is down")

    monkeypatch.setattr(cloudwatch_models, "MetricDatum", broken)
    answer = invoke(lambda_client, name)
    monkeypatch.undo()

    assert "FunctionError" not in answer
    assert answer["Payload"] == {"code": 1, "version": "$LATEST"}
    assert total(cloudwatch, "Invocations", dims(name)) is None


# --- percentile_statistics ------------------------------------------------------------------


def test_nearest_rank_percentiles() -> None:
    hundred = [float(v) for v in range(100, 0, -1)]
    assert metrics.percentile(hundred, 99) == 99
    assert metrics.percentile(hundred, 50) == 50
    assert metrics.percentile(hundred, Decimal("99.9")) == 100
    assert metrics.percentile(hundred, 100) == 100
    assert metrics.percentile(hundred, 0) == 1
    assert metrics.percentile(hundred, 1) == 1
    assert metrics.percentile(hundred, Decimal("1.5")) == 2
    assert metrics.percentile([], 50) is None
    assert metrics.percentile([1.0, 2.0], 50, counts=[3, 1]) == 1
    assert metrics.percentile([1.0, 2.0], 80, counts=[3, 1]) == 2
    assert metrics.parse_percentile("p99.9") == Decimal("99.9")
    assert [metrics.parse_percentile(s) for s in ("Sum", "p101", "P99", "p", "tm99")] == [None] * 5


@pytest.fixture
def known_values(cloudwatch: Any) -> Callable[[list[dict[str, Any]]], tuple[str, list[Any]]]:
    """Put data into a fresh custom metric; returns its namespace and dimensions."""

    def put(data: list[dict[str, Any]]) -> tuple[str, list[Any]]:
        namespace = f"Rollouts/Test-{uuid.uuid4().hex[:8]}"
        dimensions = [{"Name": "Series", "Value": "known"}]
        stamp = clock.now()
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {"MetricName": "Latency", "Dimensions": dimensions, "Timestamp": stamp, **d}
                for d in data
            ],
        )
        return namespace, dimensions

    return put


def test_percentiles_of_known_values_in_get_metric_data_and_statistics(
    cloudwatch: Any, known_values: Callable[..., tuple[str, list[Any]]]
) -> None:
    # 1..100, as 50 single values and the rest in one Values/Counts entry (100 once, 99 twice...).
    namespace, dimensions = known_values(
        [{"Value": float(v)} for v in range(1, 51)]
        + [{"Values": [float(v) for v in range(51, 101)], "Counts": [1.0] * 50}]
    )
    stats = ("p99", "p50", "p99.9", "p100", "p0", "p10.5")

    found = recent(
        cloudwatch,
        [
            stat_query(f"q{i}", "Latency", dimensions, stat=s, namespace=namespace)
            for i, s in enumerate(stats)
        ],
    )
    (point,) = statistics(
        cloudwatch,
        "Latency",
        dimensions,
        namespace=namespace,
        ExtendedStatistics=list(stats),
    )

    expected = {"p99": 99, "p50": 50, "p99.9": 100, "p100": 100, "p0": 1, "p10.5": 11}
    assert {s: found[f"q{i}"] for i, s in enumerate(stats)} == expected
    assert point["ExtendedStatistics"] == expected
    assert "Sum" not in point  # only what was asked for


def test_a_statistic_set_has_percentiles_only_when_it_is_one_value(
    cloudwatch: Any, known_values: Callable[..., tuple[str, list[Any]]]
) -> None:
    one_value = {"StatisticValues": {"SampleCount": 4, "Sum": 28, "Minimum": 7, "Maximum": 7}}
    spread = {"StatisticValues": {"SampleCount": 2, "Sum": 10, "Minimum": 1, "Maximum": 9}}
    namespace, dimensions = known_values([{"Value": 3.0}, one_value])
    assert total(cloudwatch, "Latency", dimensions, stat="p50", namespace=namespace) == 7

    namespace, dimensions = known_values([{"Value": 3.0}, spread])
    (point,) = statistics(
        cloudwatch,
        "Latency",
        dimensions,
        namespace=namespace,
        Statistics=["Sum"],
        ExtendedStatistics=["p50"],
    )
    assert point["Sum"] == 13
    assert "ExtendedStatistics" not in point or not point["ExtendedStatistics"]
    found = recent(
        cloudwatch,
        [
            stat_query("p50", "Latency", dimensions, stat="p50", namespace=namespace),
            stat_query("sum", "Latency", dimensions, namespace=namespace),
        ],
    )
    assert found == {"p50": None, "sum": 13}


def test_an_extended_statistic_that_is_no_percentile_is_refused(cloudwatch: Any) -> None:
    with pytest.raises(ClientError) as refused:
        statistics(cloudwatch, "Duration", [], ExtendedStatistics=["p101"])
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"


# --- metric_queries_keep_namespace ----------------------------------------------------------


def test_a_query_reads_only_its_own_namespace(
    lambda_client: Any, cloudwatch: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SOURCE.format(code=1), prefix="namespace")
    for _ in range(3):
        invoke(lambda_client, name)
    shadow = f"Custom/Shadow-{uuid.uuid4().hex[:8]}"
    cloudwatch.put_metric_data(
        Namespace=shadow,
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": dims(name),
                "Value": 100.0,
                "Timestamp": clock.now(),
            }
        ],
    )

    found = recent(
        cloudwatch,
        [
            stat_query("lambda", "Invocations", dims(name)),
            stat_query("shadow", "Invocations", dims(name), namespace=shadow),
        ],
    )
    assert found == {"lambda": 3, "shadow": 100}
    assert [
        p["Sum"] for p in statistics(cloudwatch, "Invocations", dims(name), Statistics=["Sum"])
    ] == [3]


def test_a_query_reads_exactly_its_dimension_set_in_any_order(
    lambda_client: Any, cloudwatch: Any, versioned: str
) -> None:
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")
    for _ in range(5):
        lambda_client.invoke(FunctionName=versioned, Qualifier="live", Payload=b"{}")
    executed = dims(versioned, Resource=f"{versioned}:live", ExecutedVersion="1")

    found = recent(
        cloudwatch,
        [
            stat_query("given", "Invocations", executed),
            stat_query("reversed", "Invocations", list(reversed(executed))),
            stat_query("rotated", "Invocations", executed[1:] + executed[:1]),
            stat_query("partial", "Invocations", executed[1:]),  # no metric has just these
        ],
    )
    assert found == {"given": 5, "reversed": 5, "rotated": 5, "partial": None}
    # {FunctionName} is its own metric: the Resource and ExecutedVersion datums are not in it.
    assert [
        p["Sum"] for p in statistics(cloudwatch, "Invocations", dims(versioned), Statistics=["Sum"])
    ] == [5]
    assert [
        p["Sum"]
        for p in statistics(cloudwatch, "Invocations", list(reversed(executed)), Statistics=["Sum"])
    ] == [5]


# --- metric_math_arithmetic -----------------------------------------------------------------


def test_metric_math_computes_a_rate_on_the_timestamps_both_series_have(cloudwatch: Any) -> None:
    namespace = f"Rollouts/Math-{uuid.uuid4().hex[:8]}"
    base = minute(clock.now()) - timedelta(minutes=10)
    at = [base + timedelta(minutes=m, seconds=5) for m in range(4)]
    # minute 0: 1 of 10 failed; 1: 0 of 4; 2: 0 of 0 (no rate); 3: errors only (no rate).
    data = [("Invocations", 0, 10.0), ("Errors", 0, 1.0), ("Invocations", 1, 4.0)]
    data += [("Errors", 1, 0.0), ("Invocations", 2, 0.0), ("Errors", 2, 0.0), ("Errors", 3, 2.0)]
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": metric, "Value": value, "Timestamp": at[m], "Dimensions": []}
            for metric, m, value in data
        ],
    )

    found = results(
        cloudwatch,
        [
            stat_query("errors", "Errors", [], period=60, namespace=namespace, ReturnData=False),
            stat_query(
                "invocations", "Invocations", [], period=60, namespace=namespace, ReturnData=False
            ),
            {"Id": "rate", "Expression": "100 * errors / invocations"},
            {"Id": "ok", "Expression": "100 * (invocations - errors) / (invocations + 0)"},
            {"Id": "negated", "Expression": "-errors + 1"},
            {"Id": "of_rate", "Expression": "rate / 100"},
        ],
        base,
        base + timedelta(minutes=5),
    )

    minutes = [stamp.astimezone(UTC) for stamp in (base + timedelta(minutes=m) for m in range(4))]
    assert set(found) == {"rate", "ok", "negated", "of_rate"}
    assert found["rate"] == {minutes[0]: 10.0, minutes[1]: 0.0}
    assert found["ok"] == {minutes[0]: 90.0, minutes[1]: 100.0}
    assert found["negated"] == {minutes[0]: 0.0, minutes[1]: 1.0, minutes[2]: 1.0, minutes[3]: -1.0}
    assert found["of_rate"] == {minutes[0]: 0.1, minutes[1]: 0.0}


def test_evaluate_expression_leaves_what_it_does_not_know_to_moto() -> None:
    stamp = datetime(2030, 1, 1)
    given = [{"id": "a", "values": [2.0], "timestamps": [stamp]}]
    assert metrics.evaluate_expression("a * 3", given) == ([6.0], [stamp])
    assert metrics.evaluate_expression("FILL(a, 0)", given) is None
    assert metrics.evaluate_expression("a / b", given) is None
    assert metrics.evaluate_expression("a +", given) is None
    assert metrics.evaluate_expression("3", given) is None


# --- periods and the engine's clock -------------------------------------------------------


def test_a_period_spanning_the_window_sums_it_in_one_datapoint(
    lambda_client: Any, cloudwatch: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SOURCE.format(code=1), prefix="window")
    start = minute(clock.now())
    for index in range(7):
        invoke(lambda_client, name, fail=index < 2)
    queries = [
        stat_query("invocations", "Invocations", dims(name), period=300),
        stat_query("errors", "Errors", dims(name), period=300),
        stat_query("by_minute", "Invocations", dims(name), period=60),
    ]

    found = results(cloudwatch, queries, start, start + timedelta(seconds=300))

    when = start.astimezone(UTC)
    assert found["invocations"] == {when: 7.0}
    assert found["errors"] == {when: 2.0}
    assert sum(found["by_minute"].values()) == 7
    assert all((stamp - when).total_seconds() % 60 == 0 for stamp in found["by_minute"])


def test_timestamps_ahead_of_the_wall_clock_are_kept_and_answered(
    lambda_client: Any, cloudwatch: Any, make_function: Callable[..., str]
) -> None:
    # Under compressed waits the engine's clock runs ahead of the wall clock.
    ahead = clock.timestamp() - time.time()
    if ahead < 600:
        advance_clock(600 - ahead)
    name = make_function(SOURCE.format(code=1), prefix="ahead")
    invoke(lambda_client, name)
    cloudwatch.put_metric_data(
        Namespace=f"Custom/Ahead-{name}",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": dims(name),
                "Value": 4.0,
                "Timestamp": clock.now(),
            }
        ],
    )

    found = results(
        cloudwatch,
        [
            stat_query("lambda", "Invocations", dims(name), period=60),
            stat_query(
                "put", "Invocations", dims(name), period=60, namespace=f"Custom/Ahead-{name}"
            ),
        ],
        minute(clock.now()) - timedelta(minutes=2),
        clock.now() + timedelta(minutes=2),
    )

    wall = datetime.now(UTC)
    assert list(found["lambda"].values()) == [1.0]
    assert list(found["put"].values()) == [4.0]
    assert all(stamp > wall + timedelta(minutes=8) for stamp in [*found["lambda"], *found["put"]])


# --- metrics_delay ------------------------------------------------------------------------


def test_visibility_follows_the_delay_on_the_engine_clock(delay: Callable[[float], None]) -> None:
    class Datum:
        pass

    datum = Datum()
    setattr(datum, "_rollouts_published", 1000.0)  # noqa: B010
    assert metrics.visible(datum, 1000.0)
    delay(60)
    assert metrics.get_metrics_delay() == 60
    assert not metrics.visible(datum, 1059.9)
    assert metrics.visible(datum, 1060.0)
    assert metrics.visible(Datum(), 0.0)  # never stamped: a metric moto computes on the fly
    with pytest.raises(ValueError):
        delay(-1)


def test_a_datapoint_shows_only_once_the_delay_has_passed(
    lambda_client: Any,
    cloudwatch: Any,
    make_function: Callable[..., str],
    delay: Callable[[float], None],
) -> None:
    name = make_function(SOURCE.format(code=1), prefix="delayed")
    custom = f"Custom/Delayed-{name}"
    delay(600)
    invoked_at = clock.now()
    invoke(lambda_client, name, fail=True)
    cloudwatch.put_metric_data(
        Namespace=custom,
        MetricData=[
            {"MetricName": "Orders", "Dimensions": [], "Value": 5.0, "Timestamp": invoked_at}
        ],
    )
    window = (minute(invoked_at) - timedelta(minutes=1), invoked_at + timedelta(hours=1))
    queries = [
        stat_query("invocations", "Invocations", dims(name)),
        stat_query("errors", "Errors", dims(name)),
        stat_query("orders", "Orders", [], namespace=custom),
    ]

    def statistics_now() -> list[Any]:
        answer = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="Invocations",
            Dimensions=dims(name),
            StartTime=window[0],
            EndTime=window[1],
            Period=3600,
            Statistics=["Sum"],
        )
        return [point["Sum"] for point in answer["Datapoints"]]

    # Published, but not yet 600 engine seconds ago (the clock runs at the wall clock's rate).
    with clock_rate(1.0):
        before = results(cloudwatch, queries, *window)
        assert before == {"invocations": {}, "errors": {}, "orders": {}}
        assert statistics_now() == []

    advance_clock(600)
    after = results(cloudwatch, queries, *window)

    assert [list(points.values()) for points in after.values()] == [[1.0], [1.0], [5.0]]
    assert statistics_now() == [1.0]
    # Timestamped at the invocation, not at the moment it became visible.
    by_minute = results(
        cloudwatch, [stat_query("m", "Invocations", dims(name), period=60)], *window
    )["m"]
    (stamp,) = by_minute
    assert minute(invoked_at) <= stamp < invoked_at + timedelta(minutes=1)


def test_a_datapoint_put_without_a_timestamp_is_stamped_by_the_engine_clock(
    cloudwatch: Any,
) -> None:
    # Under compressed waits the engine's clock runs ahead of the wall clock: a business
    # metric a function puts without a Timestamp belongs to the engine's present.
    ahead = clock.timestamp() - time.time()
    if ahead < 600:
        advance_clock(600 - ahead)
    namespace = f"Orders/{uuid.uuid4().hex[:8]}"
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "CheckoutFailures", "Value": 3.0, "Unit": "Count"}],
    )
    now = clock.now()
    query = {
        "Id": "failures",
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": "CheckoutFailures"},
            "Period": 60,
            "Stat": "Sum",
        },
    }
    engine_side = cloudwatch.get_metric_data(
        MetricDataQueries=[query],
        StartTime=now - timedelta(seconds=60),
        EndTime=now + timedelta(seconds=60),
    )["MetricDataResults"][0]["Values"]
    wall_now = datetime.now(UTC)
    wall_side = cloudwatch.get_metric_data(
        MetricDataQueries=[query],
        StartTime=wall_now - timedelta(seconds=60),
        EndTime=wall_now + timedelta(seconds=60),
    )["MetricDataResults"][0]["Values"]

    assert (engine_side, wall_side) == ([3.0], [])
