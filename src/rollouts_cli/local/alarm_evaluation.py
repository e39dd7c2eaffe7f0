"""CloudWatch metric alarms evaluated from their metrics, as CloudWatch does.

moto 5.2.5 never evaluates an alarm: its state changes only by SetAlarmState. This
module gives the local engine what CloudWatch does. It has a pure part (the
evaluation of one alarm from its datapoints at a moment, ``evaluate``, with the
statistics and the period arithmetic beside it) and an impure part that reads
moto's CloudWatch backends and changes an alarm's state (``evaluate_all``, and
``AlarmEvaluator``, a daemon thread that evaluates each alarm once per evaluation
interval of the engine clock).

What CloudWatch documents, and what is implemented here (the user guide's "Using
Amazon CloudWatch alarms",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html,
now split into "Alarm evaluation",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html,
and the API reference of PutMetricAlarm,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html):

- "Evaluating an alarm": *Period* is the length of each datapoint; *Evaluation
  Periods* (N) is "the number of the most recent periods, or data points, to
  evaluate"; *Datapoints to Alarm* (M, default N) is how many of them must breach,
  not necessarily consecutive: an "M out of N" alarm. "For any period of one minute
  or longer, an alarm is evaluated every minute", on the window that ends then
  ("at the end of minute 6, the alarm is evaluated based on the data from minutes 2
  to 6"); an alarm of 10, 20 or 30 second periods every 10 seconds; an alarm whose
  N periods exceed one day once per hour, on "the metrics up to the current hour
  at the :00 minute". So the evaluated periods end at the last whole minute (10 s,
  hour) of the engine clock, and only periods that have ended are evaluated.
- Each datapoint is the alarm's statistic over its period: ``SampleCount``,
  ``Average``, ``Sum``, ``Minimum``, ``Maximum``, or a percentile ``pNN`` /
  ``pNN.NN`` (ExtendedStatistic). Only datapoints of the alarm's namespace, metric
  name and exactly its dimensions count (CloudWatch treats each combination of
  dimensions as its own metric), and of its unit when it names one.
- The comparison operators ``GreaterThanOrEqualToThreshold``,
  ``GreaterThanThreshold``, ``LessThanThreshold``, ``LessThanOrEqualToThreshold``.
- "Configuring how CloudWatch alarms treat missing data": ``notBreaching``,
  ``breaching``, ``ignore`` ("the current alarm state is maintained") and
  ``missing`` ("if all data points in the alarm evaluation range are missing, the
  alarm transitions to INSUFFICIENT_DATA"), the default. "Alarms that evaluate
  metrics in the AWS/DynamoDB namespace always ignore missing data."
- "How alarm state is evaluated when data is missing": CloudWatch reads an
  *evaluation range* longer than N periods. With at least N real datapoints in it,
  the N most recent are evaluated and the treatment of missing data is not used;
  with fewer, every real datapoint of the range is evaluated and only as many
  missing ones as make N are filled by the treatment. CloudWatch publishes no
  formula for the range's length, only its worked example (N = 3, a range of 5):
  this module reads N + 2 periods (``EXTRA_RANGE_PERIODS``). Both worked tables of
  that section are the first rows of ``tests/engine/test_alarm_evaluation.py``.
- "Avoiding premature transitions to alarm state": with no real non-breaching
  datapoint evaluated, an alarm goes to ALARM (under ``missing``; ``ignore`` keeps
  its state) when the oldest breaching datapoint of the N most recent periods is
  at least M periods old and every more recent one is breaching or missing, even
  with fewer than M breaching datapoints.
- "Percentile-based alarms and low data samples": with
  ``EvaluateLowSampleCountPercentile`` ``ignore`` the state does not change while a
  period holds fewer than 10/(1-p) samples (p in [0.5, 1)) or 10/p (p below 0.5).
  Percentiles are read by nearest rank over the published values; a statistic set
  gives them only when its SampleCount is 1 or its Minimum equals its Maximum.
- "SetAlarmState ... This temporary state change lasts only until the next alarm
  comparison occurs": the evaluator evaluates an alarm once per evaluation
  interval (and at once when it is new or was put again), so a state set by hand
  holds until the next whole minute of the engine clock, as on AWS.

The reason is written in CloudWatch's style (no document specifies it; these are
the shapes of real alarms' ``StateReason``), e.g. ``Threshold Crossed: 1 out of the
last 1 datapoints [5.0 (12/01/26 10:00:00)] was greater than or equal to the
threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).``, ``Threshold
Crossed: no datapoints were received for 1 period and 1 missing datapoint was
treated as [NonBreaching].`` and ``Insufficient Data: 1 datapoint was unknown.``;
datapoints newest first, dates ``dd/mm/yy``, numbers as Java prints a double. The
reason data is CloudWatch's JSON: ``version``, ``queryDate``, ``startDate``,
``unit``, ``statistic`` (``extendedStatistic`` for a percentile), ``period``,
``recentDatapoints`` (oldest first), ``threshold`` and ``evaluatedDatapoints``
(newest first; a filled or unknown period has only its ``timestamp``).

Left alone (never evaluated, their state stays as it is): composite alarms,
metric-math alarms (``Metrics`` / ``metric_data_queries``), anomaly-detection alarms
(``ThresholdMetricId``, no threshold) and any alarm whose configuration CloudWatch
would have refused (an unknown statistic, operator or treatment, M > N). Alarm
actions are not performed (moto performs none).

Datapoints are read from moto's backend (``get_all_metrics``) as the engine's own
GetMetricData reads them (``rollouts_cli.local.metrics``): only those visible yet
under the engine's metric delay (``metrics.visible``), with the same nearest-rank
percentiles (``metrics.percentile``).
"""

from __future__ import annotations

import json
import logging
import math
import operator
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from rollouts_cli.local import clock
from rollouts_cli.local.metrics import parse_percentile, percentile, visible

logger = logging.getLogger(__name__)

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
TREATMENTS = ("missing", "notBreaching", "breaching", "ignore")
COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", operator.ge),
    "GreaterThanThreshold": ("greater than", operator.gt),
    "LessThanThreshold": ("less than", operator.lt),
    "LessThanOrEqualToThreshold": ("less than or equal to", operator.le),
}
# The evaluation range is N + EXTRA_RANGE_PERIODS periods (AWS's example: N = 3, range 5).
EXTRA_RANGE_PERIODS = 2

_EPOCH = datetime(1970, 1, 1)
_ONE_DAY = 86_400


@dataclass(frozen=True)
class AlarmConfig:
    """What CloudWatch evaluates of a metric alarm (PutMetricAlarm's names, snake_case)."""

    namespace: str
    metric_name: str
    statistic: str  # "Sum", ..., or an ExtendedStatistic "p99"
    period: int
    evaluation_periods: int
    threshold: float
    comparison_operator: str
    dimensions: frozenset[tuple[str, str]] = frozenset()
    datapoints_to_alarm: int | None = None
    treat_missing_data: str | None = None
    unit: str | None = None
    evaluate_low_sample_count_percentile: str | None = None

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS and percentile_of(self.statistic) is None:
            raise ValueError(f"unsupported statistic {self.statistic!r}")
        if self.comparison_operator not in COMPARISONS:
            raise ValueError(f"unsupported ComparisonOperator {self.comparison_operator!r}")
        if self.treat_missing_data not in (None, *TREATMENTS):
            raise ValueError(f"unsupported TreatMissingData {self.treat_missing_data!r}")
        if self.period < 1 or self.evaluation_periods < 1:
            raise ValueError("Period and EvaluationPeriods must be at least 1")
        if not 1 <= self.datapoints_to_alarm_or_default <= self.evaluation_periods:
            raise ValueError("DatapointsToAlarm must be between 1 and EvaluationPeriods")

    @property
    def datapoints_to_alarm_or_default(self) -> int:
        """M: DatapointsToAlarm, or EvaluationPeriods when it is not set."""
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def treatment(self) -> str:
        """How missing data is treated: ``missing`` by default, ``ignore`` for AWS/DynamoDB."""
        if self.namespace == "AWS/DynamoDB":
            return "ignore"
        return self.treat_missing_data or "missing"

    @property
    def evaluation_interval(self) -> int:
        """Seconds between evaluations: 60, 10 for sub-minute periods, 3600 beyond a day."""
        if self.period * self.evaluation_periods > _ONE_DAY:
            return 3600
        return 60 if self.period >= 60 else 10


@dataclass(frozen=True)
class Sample:
    """One published datum: a value, or a statistic set (``values``: (value, count) pairs
    for percentiles, None when the set cannot give percentiles)."""

    sum: float
    minimum: float
    maximum: float
    sample_count: float
    values: tuple[tuple[float, float], ...] | None
    unit: str | None = None

    @classmethod
    def of_value(cls, value: float, unit: str | None = None) -> Sample:
        return cls(value, value, value, 1.0, ((value, 1.0),), unit)

    @classmethod
    def of_statistic_set(
        cls,
        sum_: float,
        minimum: float,
        maximum: float,
        sample_count: float,
        unit: str | None = None,
    ) -> Sample:
        uniform = sample_count == 1 or minimum == maximum
        values = ((minimum, sample_count),) if uniform else None
        return cls(sum_, minimum, maximum, sample_count, values, unit)


@dataclass(frozen=True)
class Datapoint:
    """The alarm's statistic over one period, and how many samples it summarises."""

    value: float
    sample_count: float


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one evaluation. ``reason`` is None when the alarm keeps its state
    without a new reason (``ignore``, or a percentile with too few samples)."""

    state: str
    reason: str | None
    reason_data: dict[str, Any] = field(default_factory=dict)

    def reason_data_json(self) -> str:
        """The reason data as CloudWatch writes it (compact JSON)."""
        return json.dumps(self.reason_data, separators=(",", ":"))


def percentile_of(statistic: str) -> float | None:
    """``p99`` -> 0.99, ``p99.9`` -> 0.999; None when it is no percentile (p0 to p100)."""
    percent = parse_percentile(statistic)
    return None if percent is None else float(percent) / 100


def low_sample_minimum(fraction: float) -> float:
    """Samples a percentile needs to be significant: 10/(1-p) from p 0.5, 10/p below."""
    if fraction <= 0 or fraction >= 1:
        return 0.0
    exact = Decimal(repr(fraction))  # 10 / (1 - 0.9) is 100, not 100.00000000000003
    return float(10 / (1 - exact) if exact >= Decimal("0.5") else 10 / exact)


def aggregate(samples: Sequence[Sample], statistic: str) -> Datapoint | None:
    """The statistic over one period's samples; None when it has no value."""
    if not samples:
        return None
    count = math.fsum(s.sample_count for s in samples)
    total = math.fsum(s.sum for s in samples)
    value: float | None
    if statistic == "Sum":
        value = total
    elif statistic == "SampleCount":
        value = count
    elif statistic == "Average":
        value = total / count if count > 0 else None
    elif statistic == "Minimum":
        value = min(s.minimum for s in samples)
    elif statistic == "Maximum":
        value = max(s.maximum for s in samples)
    else:
        value = _percentile(samples, statistic)
    return None if value is None else Datapoint(value, count)


def _percentile(samples: Sequence[Sample], statistic: str) -> float | None:
    """The nearest-rank percentile the engine's GetMetricData answers too (``metrics``);
    none when a statistic set cannot give it or a value is negative, as on AWS."""
    percent = parse_percentile(statistic)
    if percent is None:
        raise ValueError(f"unsupported statistic {statistic!r}")
    pairs: list[tuple[float, float]] = []
    for sample in samples:
        if sample.values is None:
            return None
        pairs.extend(sample.values)
    if any(value < 0 for value, _ in pairs):
        return None
    return percentile([v for v, _ in pairs], percent, [c for _, c in pairs])


def naive_utc(moment: datetime) -> datetime:
    """``moment`` as naive UTC, the way moto keeps timestamps."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def window_end(config: AlarmConfig, now: datetime) -> datetime:
    """Where the evaluated periods end: ``now`` down to a whole evaluation interval."""
    seconds = (naive_utc(now) - _EPOCH).total_seconds()
    interval = config.evaluation_interval
    return _EPOCH + timedelta(seconds=math.floor(seconds / interval) * interval)


def evaluation_range(config: AlarmConfig, now: datetime) -> list[datetime]:
    """The starts of the periods CloudWatch reads at ``now``, oldest first (N + 2 of them)."""
    end = window_end(config, now)
    length = config.evaluation_periods + EXTRA_RANGE_PERIODS
    period = timedelta(seconds=config.period)
    return [end - period * (length - index) for index in range(length)]


def datapoints_by_period(
    config: AlarmConfig, samples: Iterable[tuple[datetime, Sample]], now: datetime
) -> dict[datetime, Datapoint]:
    """The alarm's datapoint of each period of its evaluation range that has samples."""
    starts = evaluation_range(config, now)
    period = timedelta(seconds=config.period)
    first, end = starts[0], starts[-1] + period
    buckets: dict[datetime, list[Sample]] = {}
    for timestamp, sample in samples:
        moment = naive_utc(timestamp)
        if not first <= moment < end:
            continue
        start = first + period * ((moment - first) // period)
        buckets.setdefault(start, []).append(sample)
    points = {start: aggregate(found, config.statistic) for start, found in buckets.items()}
    return {start: point for start, point in points.items() if point is not None}


def evaluate(
    config: AlarmConfig,
    datapoints: Mapping[datetime, Datapoint],
    now: datetime,
    current_state: str = INSUFFICIENT_DATA,
) -> Evaluation:
    """The state CloudWatch gives the alarm at ``now`` from its datapoints (keyed by period
    start, as ``datapoints_by_period`` gives them), with the reason and reason data."""
    now = naive_utc(now)
    slots = evaluation_range(config, now)
    n, m = config.evaluation_periods, config.datapoints_to_alarm_or_default
    treatment = config.treatment
    _, breaches = COMPARISONS[config.comparison_operator]
    found = [(start, datapoints.get(start)) for start in slots]
    real = [(start, point) for start, point in found if point is not None]
    if len(real) >= n:
        evaluated, filled = real[-n:], []
    else:
        missing = [start for start, point in found if point is None]
        evaluated, filled = real, missing[len(missing) - (n - len(real)) :]
    breaching = [(s, p) for s, p in evaluated if breaches(p.value, config.threshold)]
    healthy = [(s, p) for s, p in evaluated if not breaches(p.value, config.threshold)]
    describe = _Describer(config, now, evaluated, filled, breaching, healthy)

    fraction = percentile_of(config.statistic)
    if (
        config.evaluate_low_sample_count_percentile == "ignore"
        and fraction is not None
        and any(p.sample_count < low_sample_minimum(fraction) for _, p in evaluated)
    ):
        return Evaluation(current_state, None)
    breach_count = len(breaching) + (len(filled) if treatment == "breaching" else 0)
    if breach_count >= m:
        return describe.alarm()
    premature = (
        treatment in ("missing", "ignore")
        and not healthy
        and _premature_alarm([start for start, _ in breaching], slots[-n:], m)
    )
    if treatment == "ignore" and (not real or premature):
        return Evaluation(current_state, None)
    if premature:
        return describe.alarm()
    if not real and treatment == "missing":
        return describe.insufficient_data(slots[-n:])
    return describe.ok()


def _premature_alarm(breaching: Sequence[datetime], window: Sequence[datetime], m: int) -> bool:
    """The oldest breaching datapoint of the last N periods is at least M periods old
    (the caller has checked that no evaluated datapoint is healthy)."""
    inside = [window.index(start) for start in breaching if start in window]
    return bool(inside) and len(window) - min(inside) >= m


class _Describer:
    """CloudWatch's reason and reason data for an evaluation's outcome."""

    def __init__(
        self,
        config: AlarmConfig,
        now: datetime,
        evaluated: Sequence[tuple[datetime, Datapoint]],
        filled: Sequence[datetime],
        breaching: Sequence[tuple[datetime, Datapoint]],
        healthy: Sequence[tuple[datetime, Datapoint]],
    ) -> None:
        self.config = config
        self.now = now
        self.evaluated = evaluated
        self.filled = filled
        self.breaching = breaching
        self.healthy = healthy
        self.words, _ = COMPARISONS[config.comparison_operator]
        self.n = config.evaluation_periods
        self.m = config.datapoints_to_alarm_or_default

    def alarm(self) -> Evaluation:
        fills = len(self.filled)
        if not self.evaluated:
            reason = self._nothing_received("Breaching")
        else:
            if self.breaching:
                head = self._crossed(self.breaching, self.words) + self._filled_clause()
            else:
                head = f"Threshold Crossed: {self._treated(fills, 'Breaching')}"
            reason = f"{head} (minimum {_count(self.m, 'datapoint')} for OK -> ALARM transition)."
        return Evaluation(ALARM, reason, self._data())

    def ok(self) -> Evaluation:
        if not self.evaluated:
            reason = self._nothing_received("NonBreaching")
        elif self.healthy:
            minimum = self.n - self.m + 1
            reason = (
                self._crossed(self.healthy, f"not {self.words}")
                + self._filled_clause()
                + f" (minimum {_count(minimum, 'datapoint')} for ALARM -> OK transition)."
            )
        else:  # breaching datapoints, fewer than M of them
            reason = (
                self._crossed(self.breaching, self.words)
                + self._filled_clause()
                + f" (minimum {_count(self.m, 'datapoint')} for OK -> ALARM transition)."
            )
        return Evaluation(OK, reason, self._data())

    def insufficient_data(self, window: Sequence[datetime]) -> Evaluation:
        reason = f"Insufficient Data: {_count(self.n, 'datapoint')} {_was(self.n)} unknown."
        data = self._data(unknown=window)
        return Evaluation(INSUFFICIENT_DATA, reason, data)

    def _crossed(self, points: Sequence[tuple[datetime, Datapoint]], words: str) -> str:
        listed = ", ".join(
            f"{java_double(p.value)} ({start:%d/%m/%y %H:%M:%S})" for start, p in reversed(points)
        )
        return (
            f"Threshold Crossed: {len(points)} out of the last {self.n} datapoints [{listed}] "
            f"{_was(len(points))} {words} the threshold ({java_double(self.config.threshold)})"
        )

    def _filled_clause(self) -> str:
        treatment = self.config.treatment
        if not self.filled or treatment not in ("breaching", "notBreaching"):
            return ""
        label = "Breaching" if treatment == "breaching" else "NonBreaching"
        return f" and {self._treated(len(self.filled), label)}"

    @staticmethod
    def _treated(count: int, label: str) -> str:
        return f"{_count(count, 'missing datapoint')} {_was(count)} treated as [{label}]"

    def _nothing_received(self, label: str) -> str:
        return (
            f"Threshold Crossed: no datapoints were received for {_count(self.n, 'period')} "
            f"and {self._treated(len(self.filled), label)}."
        )

    def _data(self, unknown: Sequence[datetime] = ()) -> dict[str, Any]:
        data: dict[str, Any] = {"version": "1.0", "queryDate": _aws_time(self.now)}
        stamps = [start for start, _ in self.evaluated] + list(self.filled)
        if stamps and not unknown:
            data["startDate"] = _aws_time(min(stamps))
        if self.config.unit:
            data["unit"] = self.config.unit
        if self.config.statistic in STATISTICS:
            data["statistic"] = self.config.statistic
        else:
            data["extendedStatistic"] = self.config.statistic
        data["period"] = self.config.period
        data["recentDatapoints"] = [] if unknown else [p.value for _, p in self.evaluated]
        data["threshold"] = self.config.threshold
        entries: list[tuple[datetime, dict[str, Any]]] = [
            (start, {"timestamp": _aws_time(start)}) for start in (unknown or self.filled)
        ]
        if not unknown:
            entries += [
                (
                    start,
                    {
                        "timestamp": _aws_time(start),
                        "sampleCount": p.sample_count,
                        "value": p.value,
                    },
                )
                for start, p in self.evaluated
            ]
        entries.sort(key=lambda entry: entry[0], reverse=True)
        data["evaluatedDatapoints"] = [entry for _, entry in entries]
        return data


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _was(number: int) -> str:
    return "was" if number == 1 else "were"


def _aws_time(moment: datetime) -> str:
    """``2026-01-12T10:00:00.000+0000``, as CloudWatch writes its dates."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def java_double(value: float) -> str:
    """``value`` as Java's ``Double.toString`` prints it (CloudWatch's reasons do)."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        return repr(value)  # Python writes no exponent in this range, Java neither
    decimal = Decimal(repr(value))
    digits = "".join(str(d) for d in decimal.as_tuple().digits).rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{decimal.adjusted()}"


# ---------------------------------------------------------------------------------------
# The impure part: moto's backends.


@dataclass(frozen=True)
class StateChange:
    """An alarm whose state the evaluator changed."""

    alarm_name: str
    alarm_arn: str
    previous: str
    state: str
    reason: str


_lock = threading.Lock()


def alarm_config(alarm: Any) -> AlarmConfig | None:
    """The configuration of a moto ``Alarm`` to evaluate; None for one left alone."""
    if alarm.rule is not None or alarm.metric_data_queries or not alarm.metric_name:
        return None
    if alarm.threshold is None or alarm.threshold_metric_id:
        return None
    try:
        return AlarmConfig(
            namespace=alarm.namespace,
            metric_name=alarm.metric_name,
            statistic=alarm.statistic or alarm.extended_statistic or "",
            period=int(alarm.period),
            evaluation_periods=int(alarm.evaluation_periods),
            threshold=float(alarm.threshold),
            comparison_operator=alarm.comparison_operator,
            dimensions=_dimensions(alarm.dimensions),
            datapoints_to_alarm=int(alarm.datapoints_to_alarm)
            if alarm.datapoints_to_alarm
            else None,
            treat_missing_data=alarm.treat_missing_data or None,
            unit=alarm.unit or None,
            evaluate_low_sample_count_percentile=alarm.evaluate_low_sample_count_percentile,
        )
    except (TypeError, ValueError):
        return None


def _dimensions(dimensions: Iterable[Any]) -> frozenset[tuple[str, str]]:
    return frozenset((str(d.name), str(d.value)) for d in dimensions)


def sample_of(datum: Any) -> Sample:
    """A moto ``MetricDatum`` (one value) or ``MetricAggregatedDatum`` (a statistic set)."""
    unit = datum.unit or None
    if hasattr(datum, "value"):
        return Sample.of_value(float(datum.value), unit)
    return Sample.of_statistic_set(
        float(datum.sum), float(datum.min), float(datum.max), float(datum.sample_count), unit
    )


_MetricKey = tuple[str, str, frozenset[tuple[str, str]]]


def _index(
    metric_data: Iterable[Any], configs: Sequence[AlarmConfig], now: datetime
) -> dict[_MetricKey, list[tuple[datetime, Sample]]]:
    """The samples visible at ``now`` of the metrics ``configs`` watch, in their ranges."""
    watched = {(c.namespace, c.metric_name) for c in configs}
    since = min(evaluation_range(c, now)[0] for c in configs)
    seconds = (now - _EPOCH).total_seconds()
    index: dict[_MetricKey, list[tuple[datetime, Sample]]] = {}
    for datum in metric_data:
        if (datum.namespace, datum.name) not in watched:
            continue
        timestamp = naive_utc(datum.timestamp)
        if timestamp < since or timestamp >= now or not visible(datum, seconds):
            continue
        key = (datum.namespace, datum.name, _dimensions(datum.dimensions))
        index.setdefault(key, []).append((timestamp, sample_of(datum)))
    return index


def _metric_backends() -> list[Any]:
    """Every CloudWatch backend moto holds (only those some request created)."""
    from moto.cloudwatch.models import cloudwatch_backends

    return [
        backend
        for regions in list(dict.values(cloudwatch_backends))
        for backend in list(dict.values(regions))
    ]


def _evaluate(
    now: datetime, due: Callable[[Any, AlarmConfig], bool] | None = None
) -> list[StateChange]:
    changes: list[StateChange] = []
    with _lock:
        for backend in _metric_backends():
            alarms = [
                (alarm, config)
                for alarm in list(backend.alarms.values())
                if (config := alarm_config(alarm)) is not None
                and (due is None or due(alarm, config))
            ]
            if not alarms:
                continue
            index = _index(backend.get_all_metrics(), [config for _, config in alarms], now)
            for alarm, config in alarms:
                found = index.get((config.namespace, config.metric_name, config.dimensions), [])
                samples = [
                    (timestamp, sample)
                    for timestamp, sample in found
                    if config.unit is None or sample.unit == config.unit
                ]
                points = datapoints_by_period(config, samples, now)
                outcome = evaluate(config, points, now, alarm.state_value)
                previous = alarm.state_value
                if outcome.reason is None or outcome.state == previous:
                    continue
                alarm.update_state(outcome.reason, outcome.reason_data_json(), outcome.state)
                changes.append(
                    StateChange(
                        alarm.name, alarm.alarm_arn, previous, outcome.state, outcome.reason
                    )
                )
    return changes


def evaluate_all(now: datetime | None = None) -> list[StateChange]:
    """Evaluate every metric alarm of every backend at ``now`` (engine clock by default)
    and change the state of those whose state value changes; returns the changes."""
    return _evaluate(naive_utc(now) if now is not None else clock.naive_now())


def poll_seconds() -> float:
    """Real seconds between the evaluator's looks: 10 engine seconds, within [0.05, 1]."""
    return min(1.0, max(0.05, clock.real_seconds(10)))


class AlarmEvaluator:
    """A daemon thread that evaluates each metric alarm as CloudWatch does: once per
    evaluation interval of the engine clock (every whole minute for periods of a minute
    or more), and at once when an alarm is new or was put again."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # alarm ARN -> (the alarm object evaluated, the window end it was evaluated at)
        self._evaluated: dict[str, tuple[Any, datetime]] = {}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alarm-evaluator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self._evaluated.clear()

    def evaluate_due(self, now: datetime | None = None) -> list[StateChange]:
        """Evaluate the alarms not yet evaluated for the current window (or new ones)."""
        moment = naive_utc(now) if now is not None else clock.naive_now()
        seen: set[str] = set()

        def due(alarm: Any, config: AlarmConfig) -> bool:
            seen.add(alarm.alarm_arn)
            end = window_end(config, moment)
            last = self._evaluated.get(alarm.alarm_arn)
            if last is not None and last[0] is alarm and last[1] >= end:
                return False
            self._evaluated[alarm.alarm_arn] = (alarm, end)
            return True

        changes = _evaluate(moment, due)
        for arn in set(self._evaluated) - seen:
            del self._evaluated[arn]
        return changes

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.evaluate_due()
            except Exception:  # the thread must outlive a backend reset mid-pass
                logger.exception("alarm evaluation failed; trying again")
            self._stop.wait(poll_seconds())
