"""Metric alarms evaluated from their metrics, as CloudWatch does (``alarm_evaluation``).

First the pure evaluation, in tables (one named row per case): CloudWatch's two
worked tables of missing data ("How alarm state is evaluated when data is
missing", every row under each of the four treatments), its premature-alarm
examples, the comparison operators, the statistics, the periods evaluated, the
reason and the reason data. Then on the engine: PutMetricData and PutMetricAlarm
through boto3, ``evaluate_all`` at a chosen moment of the engine clock, and what
DescribeAlarms and a rule on the default bus see.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollouts_cli.local import clock, metrics
from rollouts_cli.local.alarm_evaluation import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmConfig,
    AlarmEvaluator,
    Datapoint,
    Sample,
    aggregate,
    datapoints_by_period,
    evaluate,
    evaluate_all,
    evaluation_range,
    java_double,
    window_end,
)
from rollouts_cli.local.engine import LocalEngine

from .conftest import eventually

# Every pure case is evaluated at 10:05:30 on 12 January 2026: with one-minute periods
# the last complete period is 10:04, and the evaluation range of N = 3 is 10:00-10:04.
NOW = datetime(2026, 1, 12, 10, 5, 30)
RETAIN = "retain"  # the expected outcome: the alarm keeps its state, with no new reason


def config(**changed: Any) -> AlarmConfig:
    """An alarm on ``Sum > 1.0`` over one-minute periods, 3 out of 3, with ``changed``."""
    base: dict[str, Any] = {
        "namespace": "Rollouts/Test",
        "metric_name": "Errors",
        "statistic": "Sum",
        "period": 60,
        "evaluation_periods": 3,
        "threshold": 1.0,
        "comparison_operator": "GreaterThanThreshold",
    }
    return AlarmConfig(**{**base, **changed})


def series(alarm: AlarmConfig, pattern: str, now: datetime = NOW) -> dict[datetime, Datapoint]:
    """Datapoints from AWS's notation, oldest first: ``X`` breaching (5.0), ``0`` not (0.0),
    ``-`` missing; one mark per period of the evaluation range."""
    starts = evaluation_range(alarm, now)
    marks = pattern.split()
    assert len(marks) == len(starts), f"{pattern!r} is not {len(starts)} periods"
    values = {"X": 5.0, "0": 0.0}
    return {
        start: Datapoint(values[mark], 1.0)
        for start, mark in zip(starts, marks, strict=True)
        if mark != "-"
    }


# --- CloudWatch's worked tables -----------------------------------------------------------


@dataclass(frozen=True)
class MissingDataCase:
    name: str
    data: str  # AWS's notation, oldest first
    datapoints_to_alarm: int
    treat: str
    want: str  # a state, or RETAIN
    current: str = INSUFFICIENT_DATA


MISSING_DATA_CASES = [
    # The first table: Datapoints to Alarm and Evaluation Periods both 3, a range of 5.
    MissingDataCase("3 of 3, 0 - X - X, missing", "0 - X - X", 3, "missing", OK),
    MissingDataCase("3 of 3, 0 - X - X, ignore", "0 - X - X", 3, "ignore", OK),
    MissingDataCase("3 of 3, 0 - X - X, breaching", "0 - X - X", 3, "breaching", OK),
    MissingDataCase("3 of 3, 0 - X - X, notBreaching", "0 - X - X", 3, "notBreaching", OK),
    MissingDataCase("3 of 3, 0 - - - -, missing", "0 - - - -", 3, "missing", OK),
    MissingDataCase("3 of 3, 0 - - - -, ignore", "0 - - - -", 3, "ignore", OK),
    MissingDataCase("3 of 3, 0 - - - -, breaching", "0 - - - -", 3, "breaching", OK),
    MissingDataCase("3 of 3, 0 - - - -, notBreaching", "0 - - - -", 3, "notBreaching", OK),
    MissingDataCase("3 of 3, - - - - -, missing", "- - - - -", 3, "missing", INSUFFICIENT_DATA, OK),
    MissingDataCase("3 of 3, - - - - -, ignore keeps OK", "- - - - -", 3, "ignore", RETAIN, OK),
    MissingDataCase(
        "3 of 3, - - - - -, ignore keeps ALARM", "- - - - -", 3, "ignore", RETAIN, ALARM
    ),
    MissingDataCase("3 of 3, - - - - -, breaching", "- - - - -", 3, "breaching", ALARM),
    MissingDataCase("3 of 3, - - - - -, notBreaching", "- - - - -", 3, "notBreaching", OK),
    MissingDataCase("3 of 3, 0 X X - X, missing", "0 X X - X", 3, "missing", ALARM),
    MissingDataCase("3 of 3, 0 X X - X, ignore", "0 X X - X", 3, "ignore", ALARM),
    MissingDataCase("3 of 3, 0 X X - X, breaching", "0 X X - X", 3, "breaching", ALARM),
    MissingDataCase("3 of 3, 0 X X - X, notBreaching", "0 X X - X", 3, "notBreaching", ALARM),
    MissingDataCase("3 of 3, - - X - -, missing (premature)", "- - X - -", 3, "missing", ALARM),
    MissingDataCase("3 of 3, - - X - -, ignore", "- - X - -", 3, "ignore", RETAIN, OK),
    MissingDataCase("3 of 3, - - X - -, breaching", "- - X - -", 3, "breaching", ALARM),
    MissingDataCase("3 of 3, - - X - -, notBreaching", "- - X - -", 3, "notBreaching", OK, ALARM),
    # The second table: 2 out of 3, the same range of 5.
    MissingDataCase("2 of 3, 0 - X - X, missing", "0 - X - X", 2, "missing", ALARM),
    MissingDataCase("2 of 3, 0 - X - X, ignore", "0 - X - X", 2, "ignore", ALARM),
    MissingDataCase("2 of 3, 0 - X - X, breaching", "0 - X - X", 2, "breaching", ALARM),
    MissingDataCase("2 of 3, 0 - X - X, notBreaching", "0 - X - X", 2, "notBreaching", ALARM),
    MissingDataCase("2 of 3, 0 0 X 0 X, missing", "0 0 X 0 X", 2, "missing", ALARM),
    MissingDataCase("2 of 3, 0 0 X 0 X, ignore", "0 0 X 0 X", 2, "ignore", ALARM),
    MissingDataCase("2 of 3, 0 0 X 0 X, breaching", "0 0 X 0 X", 2, "breaching", ALARM),
    MissingDataCase("2 of 3, 0 0 X 0 X, notBreaching", "0 0 X 0 X", 2, "notBreaching", ALARM),
    MissingDataCase("2 of 3, 0 - X - -, missing", "0 - X - -", 2, "missing", OK),
    MissingDataCase("2 of 3, 0 - X - -, ignore", "0 - X - -", 2, "ignore", OK),
    MissingDataCase("2 of 3, 0 - X - -, breaching", "0 - X - -", 2, "breaching", ALARM),
    MissingDataCase("2 of 3, 0 - X - -, notBreaching", "0 - X - -", 2, "notBreaching", OK),
    MissingDataCase("2 of 3, - - - - 0, missing", "- - - - 0", 2, "missing", OK),
    MissingDataCase("2 of 3, - - - - 0, ignore", "- - - - 0", 2, "ignore", OK),
    MissingDataCase("2 of 3, - - - - 0, breaching", "- - - - 0", 2, "breaching", ALARM),
    MissingDataCase("2 of 3, - - - - 0, notBreaching", "- - - - 0", 2, "notBreaching", OK),
    MissingDataCase("2 of 3, - - - X -, missing (premature)", "- - - X -", 2, "missing", ALARM),
    MissingDataCase("2 of 3, - - - X -, ignore", "- - - X -", 2, "ignore", RETAIN, OK),
    MissingDataCase("2 of 3, - - - X -, breaching", "- - - X -", 2, "breaching", ALARM),
    MissingDataCase("2 of 3, - - - X -, notBreaching", "- - - X -", 2, "notBreaching", OK),
    # "Avoiding premature transitions to alarm state": a breach too recent to alarm on.
    MissingDataCase("3 of 3, - - - - X, missing, not yet", "- - - - X", 3, "missing", OK),
    MissingDataCase("3 of 3, - - - X -, missing, not yet", "- - - X -", 3, "missing", OK),
    MissingDataCase("3 of 3, - - - X 0, missing", "- - - X 0", 3, "missing", OK, ALARM),
    MissingDataCase("3 of 3, - - X - 0, missing", "- - X - 0", 3, "missing", OK, ALARM),
    # No DatapointsToAlarm: N out of N.
    MissingDataCase("default 3 of 3, 0 0 X X X, missing", "0 0 X X X", 0, "missing", ALARM),
    MissingDataCase("default 3 of 3, 0 X 0 X X, missing", "0 X 0 X X", 0, "missing", OK, ALARM),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in MISSING_DATA_CASES])
def test_missing_data_is_treated_as_cloudwatch_documents(case: MissingDataCase) -> None:
    alarm = config(
        datapoints_to_alarm=case.datapoints_to_alarm or None, treat_missing_data=case.treat
    )

    outcome = evaluate(alarm, series(alarm, case.data), NOW, case.current)

    if case.want == RETAIN:
        assert (outcome.state, outcome.reason) == (case.current, None)
    else:
        assert outcome.state == case.want, outcome.reason
        assert outcome.reason


@dataclass(frozen=True)
class ComparisonCase:
    name: str
    operator: str
    value: float
    want: str


COMPARISON_CASES = [
    ComparisonCase(">= at the threshold breaches", "GreaterThanOrEqualToThreshold", 1.0, ALARM),
    ComparisonCase(">= below the threshold", "GreaterThanOrEqualToThreshold", 0.99, OK),
    ComparisonCase("> at the threshold does not breach", "GreaterThanThreshold", 1.0, OK),
    ComparisonCase("> above the threshold", "GreaterThanThreshold", 1.01, ALARM),
    ComparisonCase("< below the threshold", "LessThanThreshold", 0.99, ALARM),
    ComparisonCase("< at the threshold does not breach", "LessThanThreshold", 1.0, OK),
    ComparisonCase("<= at the threshold breaches", "LessThanOrEqualToThreshold", 1.0, ALARM),
    ComparisonCase("<= above the threshold", "LessThanOrEqualToThreshold", 1.01, OK),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in COMPARISON_CASES])
def test_each_comparison_operator_compares_with_the_threshold(case: ComparisonCase) -> None:
    alarm = config(evaluation_periods=1, comparison_operator=case.operator)
    last = evaluation_range(alarm, NOW)[-1]

    outcome = evaluate(alarm, {last: Datapoint(case.value, 1.0)}, NOW, INSUFFICIENT_DATA)

    assert outcome.state == case.want


# --- statistics ---------------------------------------------------------------------------

VALUES = [Sample.of_value(v) for v in (3.0, 1.0, 10.0, 2.0)]
STATISTIC_SET = Sample.of_statistic_set(6.0, 1.0, 5.0, 3.0)
UNIFORM_SET = Sample.of_statistic_set(12.0, 4.0, 4.0, 3.0)


@dataclass(frozen=True)
class StatisticCase:
    name: str
    samples: list[Sample]
    statistic: str
    want: float | None
    want_count: float = 4.0


STATISTIC_CASES = [
    StatisticCase("Sum of values", VALUES, "Sum", 16.0),
    StatisticCase("SampleCount of values", VALUES, "SampleCount", 4.0),
    StatisticCase("Average of values", VALUES, "Average", 4.0),
    StatisticCase("Minimum of values", VALUES, "Minimum", 1.0),
    StatisticCase("Maximum of values", VALUES, "Maximum", 10.0),
    StatisticCase("p50 is the nearest rank", VALUES, "p50", 2.0),
    StatisticCase("p99 of four values is the largest", VALUES, "p99", 10.0),
    StatisticCase("p25.5 rounds the rank up", VALUES, "p25.5", 2.0),
    StatisticCase("Sum with a statistic set", [*VALUES, STATISTIC_SET], "Sum", 22.0, 7.0),
    StatisticCase("SampleCount with a set", [*VALUES, STATISTIC_SET], "SampleCount", 7.0, 7.0),
    StatisticCase("Average with a set", [*VALUES, STATISTIC_SET], "Average", 22.0 / 7, 7.0),
    StatisticCase("Minimum with a set", [*VALUES, STATISTIC_SET], "Minimum", 1.0, 7.0),
    StatisticCase("Maximum with a set", [STATISTIC_SET], "Maximum", 5.0, 3.0),
    StatisticCase("no percentile from a mixed set", [*VALUES, STATISTIC_SET], "p90", None),
    StatisticCase("a uniform set gives percentiles", [VALUES[1], UNIFORM_SET], "p90", 4.0),
    StatisticCase("no percentile of a negative value", [Sample.of_value(-1.0)], "p50", None),
    StatisticCase("no datapoint without samples", [], "Sum", None),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in STATISTIC_CASES])
def test_the_datapoint_of_a_period_is_its_statistic(case: StatisticCase) -> None:
    point = aggregate(case.samples, case.statistic)

    if case.want is None:
        assert point is None
    else:
        assert point is not None
        assert point.value == pytest.approx(case.want)
        assert point.sample_count == case.want_count


# --- the periods evaluated --------------------------------------------------------------


@dataclass(frozen=True)
class RangeCase:
    name: str
    period: int
    evaluation_periods: int
    now: datetime
    want: list[datetime]


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 1, 12, hour, minute, second)


RANGE_CASES = [
    RangeCase(
        "one-minute periods end at the last whole minute",
        60,
        1,
        _at(10, 5, 30),
        [_at(10, 2), _at(10, 3), _at(10, 4)],
    ),
    RangeCase(
        "at a minute's first second that minute has not ended",
        60,
        1,
        _at(10, 5, 0),
        [_at(10, 2), _at(10, 3), _at(10, 4)],
    ),
    RangeCase(
        "five-minute periods are evaluated every minute",
        300,
        1,
        _at(10, 7, 30),
        [_at(9, 52), _at(9, 57), _at(10, 2)],
    ),
    RangeCase(
        "ten-second periods every ten seconds",
        10,
        1,
        _at(10, 5, 37),
        [_at(10, 5, 0), _at(10, 5, 10), _at(10, 5, 20)],
    ),
    RangeCase(
        "more than a day of periods: up to the hour",
        3600,
        25,
        _at(10, 5, 30),
        [_at(10, 0) - timedelta(hours=27 - i) for i in range(27)],
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in RANGE_CASES])
def test_only_whole_periods_that_have_ended_are_evaluated(case: RangeCase) -> None:
    alarm = config(period=case.period, evaluation_periods=case.evaluation_periods)

    assert evaluation_range(alarm, case.now) == case.want
    assert evaluation_range(alarm, case.now.replace(tzinfo=UTC)) == case.want


def test_samples_fall_into_their_periods_and_the_running_period_is_left_out() -> None:
    alarm = config(evaluation_periods=1)
    samples = [
        (_at(10, 4, 0), Sample.of_value(2.0)),  # the first instant of the last whole period
        (_at(10, 4, 59) + timedelta(microseconds=999_999), Sample.of_value(3.0)),
        (_at(10, 5, 10), Sample.of_value(100.0)),  # the period still running at 10:05:30
        (_at(10, 1, 59), Sample.of_value(100.0)),  # before the evaluation range
        (_at(10, 3, 30).replace(tzinfo=UTC), Sample.of_value(7.0)),
    ]

    assert datapoints_by_period(alarm, samples, NOW) == {
        _at(10, 3): Datapoint(7.0, 1.0),
        _at(10, 4): Datapoint(5.0, 2.0),
    }


def test_a_percentile_alarm_with_too_few_samples_keeps_its_state_when_told_to() -> None:
    # p90 needs 10 / (1 - 0.9) = 100 samples to be significant; the period has 5.
    points = {_at(10, 4): Datapoint(50.0, 5.0)}
    ignoring = config(
        statistic="p90", evaluation_periods=1, evaluate_low_sample_count_percentile="ignore"
    )
    evaluating = config(
        statistic="p90", evaluation_periods=1, evaluate_low_sample_count_percentile="evaluate"
    )
    enough = {_at(10, 4): Datapoint(50.0, 100.0)}

    assert (
        evaluate(ignoring, points, NOW, OK).state,
        evaluate(ignoring, points, NOW, OK).reason,
    ) == (
        OK,
        None,
    )
    assert evaluate(evaluating, points, NOW, OK).state == ALARM
    assert evaluate(ignoring, enough, NOW, OK).state == ALARM


def test_dynamodb_alarms_always_ignore_missing_data() -> None:
    alarm = config(namespace="AWS/DynamoDB", evaluation_periods=1, treat_missing_data="breaching")

    outcome = evaluate(alarm, {}, NOW, OK)

    assert (outcome.state, outcome.reason) == (OK, None)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param({"statistic": "tm99"}, id="a trimmed mean"),
        pytest.param({"comparison_operator": "GreaterThanUpperThreshold"}, id="anomaly band"),
        pytest.param({"treat_missing_data": "zero"}, id="an unknown treatment"),
        pytest.param({"datapoints_to_alarm": 4}, id="M above N"),
        pytest.param({"evaluation_periods": 0}, id="no evaluation period"),
    ],
)
def test_a_configuration_cloudwatch_refuses_is_not_evaluated(changed: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        config(**changed)


# --- the reason ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonCase:
    name: str
    alarm: AlarmConfig
    data: str
    want_state: str
    want: str


def _when(minute: int) -> str:
    return f"12/01/26 10:{minute:02d}:00"


ONE_OF_ONE = config(evaluation_periods=1, comparison_operator="GreaterThanOrEqualToThreshold")
REASON_CASES = [
    ReasonCase(
        "1 of 1 breaching",
        ONE_OF_ONE,
        "- - X",
        ALARM,
        f"Threshold Crossed: 1 out of the last 1 datapoints [5.0 ({_when(4)})] was greater than "
        "or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).",
    ),
    ReasonCase(
        "1 of 1 healthy",
        ONE_OF_ONE,
        "- - 0",
        OK,
        f"Threshold Crossed: 1 out of the last 1 datapoints [0.0 ({_when(4)})] was not greater "
        "than or equal to the threshold (1.0) (minimum 1 datapoint for ALARM -> OK transition).",
    ),
    ReasonCase(
        "2 of 3 breaching, newest first",
        config(datapoints_to_alarm=2),
        "0 0 X 0 X",
        ALARM,
        f"Threshold Crossed: 2 out of the last 3 datapoints [5.0 ({_when(4)}), 5.0 ({_when(2)})] "
        "were greater than the threshold (1.0) (minimum 2 datapoints for OK -> ALARM transition).",
    ),
    ReasonCase(
        "2 of 3 healthy: N - M + 1 to recover",
        config(datapoints_to_alarm=2),
        "X X 0 0 X",
        OK,
        f"Threshold Crossed: 2 out of the last 3 datapoints [0.0 ({_when(3)}), 0.0 ({_when(2)})] "
        "were not greater than the threshold (1.0) (minimum 2 datapoints for ALARM -> OK "
        "transition).",
    ),
    ReasonCase(
        "no data, notBreaching",
        config(evaluation_periods=1, treat_missing_data="notBreaching"),
        "- - -",
        OK,
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [NonBreaching].",
    ),
    ReasonCase(
        "no data, breaching",
        config(treat_missing_data="breaching"),
        "- - - - -",
        ALARM,
        "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints "
        "were treated as [Breaching].",
    ),
    ReasonCase(
        "no data, missing, one period",
        config(evaluation_periods=1),
        "- - -",
        INSUFFICIENT_DATA,
        "Insufficient Data: 1 datapoint was unknown.",
    ),
    ReasonCase(
        "no data, missing, three periods",
        config(),
        "- - - - -",
        INSUFFICIENT_DATA,
        "Insufficient Data: 3 datapoints were unknown.",
    ),
    ReasonCase(
        "a filled breach completes M",
        config(datapoints_to_alarm=2, treat_missing_data="breaching"),
        "0 - X - -",
        ALARM,
        f"Threshold Crossed: 1 out of the last 3 datapoints [5.0 ({_when(2)})] was greater than "
        "the threshold (1.0) and 1 missing datapoint was treated as [Breaching] (minimum 2 "
        "datapoints for OK -> ALARM transition).",
    ),
    ReasonCase(
        "filled healthy datapoints",
        config(treat_missing_data="notBreaching"),
        "- - - - 0",
        OK,
        f"Threshold Crossed: 1 out of the last 3 datapoints [0.0 ({_when(4)})] was not greater "
        "than the threshold (1.0) and 2 missing datapoints were treated as [NonBreaching] "
        "(minimum 1 datapoint for ALARM -> OK transition).",
    ),
    ReasonCase(
        "only filled breaches",
        config(datapoints_to_alarm=2, treat_missing_data="breaching"),
        "- - - - 0",
        ALARM,
        "Threshold Crossed: 2 missing datapoints were treated as [Breaching] (minimum 2 "
        "datapoints for OK -> ALARM transition).",
    ),
    ReasonCase(
        "a premature alarm names its one breach",
        config(),
        "- - X - -",
        ALARM,
        f"Threshold Crossed: 1 out of the last 3 datapoints [5.0 ({_when(2)})] was greater than "
        "the threshold (1.0) (minimum 3 datapoints for OK -> ALARM transition).",
    ),
    ReasonCase(
        "less than",
        config(evaluation_periods=1, comparison_operator="LessThanThreshold", threshold=2.5),
        "- - 0",
        ALARM,
        f"Threshold Crossed: 1 out of the last 1 datapoints [0.0 ({_when(4)})] was less than "
        "the threshold (2.5) (minimum 1 datapoint for OK -> ALARM transition).",
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in REASON_CASES])
def test_the_reason_is_written_as_cloudwatch_writes_it(case: ReasonCase) -> None:
    outcome = evaluate(case.alarm, series(case.alarm, case.data), NOW, OK)

    assert (outcome.state, outcome.reason) == (case.want_state, case.want)


@pytest.mark.parametrize(
    ("value", "want"),
    [
        pytest.param(5.0, "5.0", id="a whole number"),
        pytest.param(0.0, "0.0", id="zero"),
        pytest.param(-2.5, "-2.5", id="negative"),
        pytest.param(0.19726775956284198, "0.19726775956284198", id="shortest digits"),
        pytest.param(1234567.0, "1234567.0", id="below ten million"),
        pytest.param(1e7, "1.0E7", id="ten million"),
        pytest.param(12345678.5, "1.23456785E7", id="above ten million"),
        pytest.param(0.001, "0.001", id="one thousandth"),
        pytest.param(0.0001234, "1.234E-4", id="below one thousandth"),
    ],
)
def test_numbers_are_written_as_java_writes_a_double(value: float, want: str) -> None:
    assert java_double(value) == want


def test_the_reason_data_holds_the_evaluated_datapoints() -> None:
    alarm = config(datapoints_to_alarm=2, unit="Count")
    points = series(alarm, "0 0 X 0 X")

    outcome = evaluate(alarm, points, NOW, OK)

    assert outcome.reason_data == {
        "version": "1.0",
        "queryDate": "2026-01-12T10:05:30.000+0000",
        "startDate": "2026-01-12T10:02:00.000+0000",
        "unit": "Count",
        "statistic": "Sum",
        "period": 60,
        "recentDatapoints": [5.0, 0.0, 5.0],
        "threshold": 1.0,
        "evaluatedDatapoints": [
            {"timestamp": "2026-01-12T10:04:00.000+0000", "sampleCount": 1.0, "value": 5.0},
            {"timestamp": "2026-01-12T10:03:00.000+0000", "sampleCount": 1.0, "value": 0.0},
            {"timestamp": "2026-01-12T10:02:00.000+0000", "sampleCount": 1.0, "value": 5.0},
        ],
    }
    assert json.loads(outcome.reason_data_json()) == outcome.reason_data


def test_the_reason_data_of_unknown_and_filled_periods_has_their_timestamps_only() -> None:
    unknown = config(evaluation_periods=1, statistic="p99")
    filled = config(datapoints_to_alarm=2, treat_missing_data="breaching")

    insufficient = evaluate(unknown, {}, NOW, OK).reason_data
    breached = evaluate(filled, series(filled, "0 - X - -"), NOW, OK).reason_data

    assert insufficient == {
        "version": "1.0",
        "queryDate": "2026-01-12T10:05:30.000+0000",
        "extendedStatistic": "p99",
        "period": 60,
        "recentDatapoints": [],
        "threshold": 1.0,
        "evaluatedDatapoints": [{"timestamp": "2026-01-12T10:04:00.000+0000"}],
    }
    assert breached["startDate"] == "2026-01-12T10:00:00.000+0000"
    assert breached["recentDatapoints"] == [0.0, 5.0]
    assert breached["evaluatedDatapoints"] == [
        {"timestamp": "2026-01-12T10:04:00.000+0000"},
        {"timestamp": "2026-01-12T10:02:00.000+0000", "sampleCount": 1.0, "value": 5.0},
        {"timestamp": "2026-01-12T10:00:00.000+0000", "sampleCount": 1.0, "value": 0.0},
    ]


# --- on the engine ------------------------------------------------------------------------


@pytest.fixture
def cloudwatch(local_engine: LocalEngine) -> Iterator[Any]:
    """A CloudWatch client; every datum visible at once while the test runs."""
    delay = metrics.get_metrics_delay()
    metrics.set_metrics_delay(0)
    yield local_engine.client("cloudwatch")
    metrics.set_metrics_delay(delay)


def minute(moment: datetime) -> datetime:
    """``moment`` (naive UTC) down to its minute."""
    return moment.replace(second=0, microsecond=0)


def put_datum(
    cloudwatch: Any,
    metric: str,
    dimensions: dict[str, str],
    at: datetime,
    value: float,
    namespace: str = "AWS/Lambda",
) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": at.replace(tzinfo=UTC),
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def put_errors_alarm(
    cloudwatch: Any, name: str, dimensions: dict[str, str], treat_missing_data: str
) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData=treat_missing_data,
    )


def described(cloudwatch: Any, name: str) -> dict[str, Any]:
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return dict(alarm)


def test_an_alarm_fires_on_breaching_data_and_recovers_on_healthy_data(
    cloudwatch: Any, unique_name: Callable[[str], str]
) -> None:
    name, function = unique_name("errors"), unique_name("orders")
    dimensions = {"FunctionName": function}
    # Moments of the engine clock already past, so that whenever the evaluator runs on its
    # own it sees what these evaluations see.
    this_minute = minute(clock.naive_now())
    breached, recovered = this_minute - timedelta(minutes=2), this_minute - timedelta(minutes=1)
    put_datum(cloudwatch, "Errors", dimensions, breached, 5.0)
    put_errors_alarm(cloudwatch, name, dimensions, "notBreaching")

    fired = evaluate_all(recovered + timedelta(seconds=30))
    alarm = described(cloudwatch, name)
    put_datum(cloudwatch, "Errors", dimensions, recovered, 0.0)
    healed = evaluate_all(this_minute + timedelta(seconds=30))
    after = described(cloudwatch, name)

    assert [(c.previous, c.state) for c in fired if c.alarm_name == name] == [(OK, ALARM)]
    assert alarm["StateValue"] == ALARM
    assert alarm["StateReason"] == (
        f"Threshold Crossed: 1 out of the last 1 datapoints [5.0 ({breached:%d/%m/%y %H:%M:%S})] "
        "was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM "
        "transition)."
    )
    data = json.loads(alarm["StateReasonData"])
    assert (data["recentDatapoints"], data["threshold"], data["statistic"]) == ([5.0], 1.0, "Sum")
    assert data["startDate"] == f"{breached:%Y-%m-%dT%H:%M:%S}.000+0000"
    assert [(c.previous, c.state) for c in healed if c.alarm_name == name] == [(ALARM, OK)]
    assert after["StateValue"] == OK
    assert after["StateReason"] == (
        f"Threshold Crossed: 1 out of the last 1 datapoints [0.0 ({recovered:%d/%m/%y %H:%M:%S})] "
        "was not greater than or equal to the threshold (1.0) (minimum 1 datapoint for ALARM -> "
        "OK transition)."
    )


def test_an_alarm_without_data_is_insufficient_under_missing_and_kept_under_ignore(
    cloudwatch: Any, unique_name: Callable[[str], str]
) -> None:
    missing, ignore = unique_name("missing"), unique_name("ignore")
    put_errors_alarm(cloudwatch, missing, {"FunctionName": unique_name("quiet")}, "missing")
    put_errors_alarm(cloudwatch, ignore, {"FunctionName": unique_name("quiet")}, "ignore")

    evaluate_all()
    evaluate_all()

    unknown, kept = described(cloudwatch, missing), described(cloudwatch, ignore)
    assert (unknown["StateValue"], unknown["StateReason"]) == (
        INSUFFICIENT_DATA,
        "Insufficient Data: 1 datapoint was unknown.",
    )
    # moto starts an alarm OK (AWS: INSUFFICIENT_DATA); ignore keeps whatever it is.
    assert (kept["StateValue"], kept["StateReason"]) == (OK, "Unchecked: Initial alarm creation")


def test_only_datapoints_of_exactly_the_alarms_metric_count(
    cloudwatch: Any, unique_name: Callable[[str], str]
) -> None:
    function = unique_name("orders")
    alias = {"FunctionName": function, "Resource": f"{function}:live"}
    put_datum(cloudwatch, "Errors", alias, minute(clock.naive_now()) - timedelta(minutes=1), 5.0)
    put_datum(
        cloudwatch,
        "Errors",
        {"FunctionName": function},
        minute(clock.naive_now()) - timedelta(minutes=1),
        5.0,
        namespace="Custom/Lambda",
    )
    on_alias, on_function = unique_name("alias-errors"), unique_name("function-errors")
    put_errors_alarm(cloudwatch, on_alias, alias, "missing")
    put_errors_alarm(cloudwatch, on_function, {"FunctionName": function}, "missing")

    evaluate_all()

    # {FunctionName} is another metric than {FunctionName, Resource}, and another namespace
    # is another metric too.
    assert described(cloudwatch, on_alias)["StateValue"] == ALARM
    assert described(cloudwatch, on_function)["StateValue"] == INSUFFICIENT_DATA


def test_a_metric_math_alarm_is_left_alone(
    cloudwatch: Any, unique_name: Callable[[str], str]
) -> None:
    name, function = unique_name("error-rate"), unique_name("orders")

    def query(identifier: str, metric: str) -> dict[str, Any]:
        return {
            "Id": identifier,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": function}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }

    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Metrics=[
            query("errors", "Errors"),
            query("invocations", "Invocations"),
            {"Id": "rate", "Expression": "100 * errors / invocations", "ReturnData": True},
        ],
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )

    evaluate_all()

    alarm = described(cloudwatch, name)
    assert (alarm["StateValue"], alarm["StateReason"]) == (OK, "Unchecked: Initial alarm creation")


def test_a_state_change_reaches_a_rule_on_the_default_bus_once(
    local_engine: LocalEngine,
    cloudwatch: Any,
    events: Any,
    rule_cleanup: list[str],
    unique_name: Callable[[str], str],
) -> None:
    sqs = local_engine.client("sqs")
    name, function, rule = unique_name("errors"), unique_name("orders"), unique_name("alarms")
    queue = sqs.create_queue(QueueName=rule)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"alarmName": [name]},
            }
        ),
    )
    rule_cleanup.append(rule)
    events.put_targets(
        Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn["Attributes"]["QueueArn"]}]
    )
    received: list[dict[str, Any]] = []

    def receive() -> list[dict[str, Any]]:
        answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
        for message in answer.get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return received

    now = clock.naive_now()
    put_datum(
        cloudwatch, "Errors", {"FunctionName": function}, minute(now) - timedelta(minutes=1), 3
    )
    put_errors_alarm(cloudwatch, name, {"FunctionName": function}, "notBreaching")

    try:
        evaluate_all(now)
        evaluate_all(now)  # the same outcome again: no change, no event
        eventually(receive)
        time.sleep(0.5)  # a second event would have arrived by now
        events_seen = receive()
    finally:
        sqs.delete_queue(QueueUrl=queue)

    alarm = described(cloudwatch, name)
    (event,) = events_seen
    assert (event["source"], event["detail-type"]) == (
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
    )
    assert event["resources"] == [alarm["AlarmArn"]]
    state, previous = event["detail"]["state"], event["detail"]["previousState"]
    assert (previous["value"], state["value"]) == (OK, ALARM)
    assert (state["reason"], state["reasonData"]) == (
        alarm["StateReason"],
        alarm["StateReasonData"],
    )
    assert state["reason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [3.0 (")


def test_a_state_set_by_hand_lasts_until_the_next_evaluation_of_the_alarm(
    cloudwatch: Any, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("errors")
    put_errors_alarm(cloudwatch, name, {"FunctionName": unique_name("quiet")}, "missing")
    evaluator = AlarmEvaluator()
    # Early in a minute, so that a second later is still the same minute.
    now = clock.naive_now().replace(second=10, microsecond=0)
    alarm = config(evaluation_periods=1)  # the same evaluation interval: a minute
    next_minute = window_end(alarm, now) + timedelta(minutes=1, seconds=1)

    evaluator.evaluate_due(now)  # a new alarm is evaluated at once
    first = described(cloudwatch, name)["StateValue"]
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing")
    evaluator.evaluate_due(now + timedelta(seconds=1))  # the same minute: not again
    held = described(cloudwatch, name)["StateValue"]
    evaluator.evaluate_due(next_minute)
    after = described(cloudwatch, name)

    assert (first, held) == (INSUFFICIENT_DATA, ALARM)
    assert (after["StateValue"], after["StateReason"]) == (
        INSUFFICIENT_DATA,
        "Insufficient Data: 1 datapoint was unknown.",
    )


def test_the_evaluator_thread_evaluates_a_new_alarm_and_stops(
    cloudwatch: Any, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("errors")
    evaluator = AlarmEvaluator()
    evaluator.start()
    try:
        put_errors_alarm(cloudwatch, name, {"FunctionName": unique_name("quiet")}, "missing")
        eventually(lambda: described(cloudwatch, name)["StateValue"] == INSUFFICIENT_DATA)
        running = evaluator.running
    finally:
        evaluator.stop()

    assert running
    assert not evaluator.running
