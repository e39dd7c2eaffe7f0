"""Lambda's metrics in the local engine, and the CloudWatch queries that read them, as on AWS.

moto 5.2.5 publishes no metric for a Lambda invocation, answers no percentile,
loses a query's namespace, evaluates no metric math but a bare id, and shows a
datapoint the moment it is put. The corrections here (registered in
``corrections.CORRECTIONS``, each installed once) restore what AWS does:

- ``lambda_metrics``: every invocation publishes ``Invocations``, ``Errors`` and
  ``Duration`` into ``AWS/Lambda`` with Lambda's dimension sets (``dimension_sets``);
- ``percentile_statistics``: ``p99``, ``p50``, ``p99.9`` in GetMetricData and
  GetMetricStatistics (``ExtendedStatistics``);
- ``metric_queries_keep_namespace``: a query reads one metric: its namespace, its
  name and exactly its dimension set;
- ``metric_math_arithmetic``: ``100 * errors / invocations`` in GetMetricData;
- ``metrics_delay``: a datapoint is answered only ``get_metrics_delay()`` engine
  seconds after it was published (``set_metrics_delay``; 0, the default, shows it
  at once).

Each is tested, as the AWS behaviour it restores, in ``tests/engine/test_metrics.py``.

Timestamps are the engine's clock (``clock``), as naive UTC like everything moto
keeps; the delay is measured on that clock too, so it shrinks with the time scale.
"""

from __future__ import annotations

import logging
import math
import operator
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from moto.awslambda import models as lambda_models
from moto.cloudwatch import models as cloudwatch_models
from moto.cloudwatch import responses as cloudwatch_responses
from moto.cloudwatch.exceptions import InvalidParameterValue

from rollouts_cli.local import clock

logger = logging.getLogger(__name__)

NAMESPACE = "AWS/Lambda"

# Engine epoch seconds at which a datum was published (put, or a Lambda invocation's end).
_PUBLISHED = "_rollouts_published"
# (namespace, name, frozenset of (dimension, value)): the one metric a datum belongs to.
_IDENTITY = "_rollouts_identity"

_applied: set[str] = set()
_lock = threading.Lock()
_delay = 0.0
# Per thread: the invocation being made (backend invoke -> LambdaFunction.invoke), and the
# metric and the moment a query reads (query wrappers -> get_all_metrics).
_local = threading.local()

Identity = tuple[str, str, frozenset[tuple[str, str | None]]]


def _once(name: str) -> bool:
    with _lock:
        if name in _applied:
            return False
        _applied.add(name)
        return True


# --- the delay -------------------------------------------------------------------------


def set_metrics_delay(seconds: float) -> None:
    """Answer a datapoint only ``seconds`` engine seconds after it was published (0: at once).

    On AWS, Lambda's metrics show about a minute after the invocation; 60 makes
    the engine do the same (0.6 real seconds at time scale 0.01).
    """
    global _delay
    if seconds < 0 or math.isnan(seconds):
        raise ValueError("the metrics delay must be >= 0 seconds")
    _delay = float(seconds)


def get_metrics_delay() -> float:
    """The delay ``set_metrics_delay`` set, in engine seconds."""
    return _delay


def visible(datum: Any, now: float | None = None) -> bool:
    """Whether a query at ``now`` (engine epoch seconds; default: the clock) sees ``datum``.

    A datum published at ``t`` shows from ``t + delay`` on. One that was never
    stamped (a metric a moto provider computes on the fly) always shows.
    """
    published = getattr(datum, _PUBLISHED, None)
    if published is None or _delay <= 0:
        return True
    return bool(published + _delay <= (clock.timestamp() if now is None else now))


def _stamp(datum: Any, moment: float) -> None:
    if getattr(datum, _PUBLISHED, None) is None:
        setattr(datum, _PUBLISHED, moment)


# --- percentiles -----------------------------------------------------------------------

_PERCENTILE = re.compile(r"^p(\d{1,3}(?:\.\d+)?)$")


def parse_percentile(stat: str) -> Decimal | None:
    """``"p99"`` -> 99, ``"p99.9"`` -> 99.9; None for anything that is no percentile (0..100)."""
    match = _PERCENTILE.match(stat or "")
    if match is None:
        return None
    value = Decimal(match.group(1))
    return value if 0 <= value <= 100 else None


def percentile(
    values: Sequence[float], p: Decimal | float, counts: Sequence[float] = ()
) -> float | None:
    """The nearest-rank percentile: the smallest value with at least ``p`` % of values <= it.

    The rank is ``ceil(p / 100 * N)`` (at least 1) in the ascending values, so
    over 1..100 p99 is 99, p50 is 50, p99.9 and p100 are 100, p0 is 1. ``counts``
    (as many as ``values``) weigh each value. None when there is no value.
    """
    weights = list(counts) or [1.0] * len(values)
    pairs = sorted((float(v), float(w)) for v, w in zip(values, weights, strict=True) if w > 0)
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        return None
    rank = max(
        Decimal(1), (Decimal(str(p)) * Decimal(str(total)) / 100).to_integral_value("ROUND_CEILING")
    )
    seen = Decimal(0)
    for value, weight in pairs:
        seen += Decimal(str(weight))
        if seen >= rank:
            return value
    return pairs[-1][0]


def _percentile_of(statistics: Any, p: Decimal) -> float | None:
    """A period's percentile, over its raw values, as CloudWatch computes it.

    CloudWatch needs raw values: a statistic set counts only when it is one value
    (SampleCount 1, or Minimum == Maximum); any other set, or a negative value,
    makes percentiles unavailable for the period.
    """
    values: list[float] = list(statistics.metric_single_values_list)
    counts: list[float] = [1.0] * len(values)
    for aggregated in statistics.metric_aggregated_list:
        if aggregated.sample_count == 1 or aggregated.min == aggregated.max:
            values.append(float(aggregated.min))
            counts.append(float(aggregated.sample_count))
        else:
            return None
    if any(value < 0 for value in values):
        return None
    return percentile(values, p, counts)


def percentile_statistics() -> None:
    """Percentile statistics (``p99``, ``p50``, ``p99.9``) are answered, as CloudWatch does.

    AWS answers a percentile for ``MetricStat.Stat`` in GetMetricData and for each
    of GetMetricStatistics' ``ExtendedStatistics`` (``p0.0`` to ``p100``, in each
    datapoint's ``ExtendedStatistics``). moto's ``get_statistics_for_type`` knew
    only Sum, Average, Minimum, Maximum and SampleCount (None for the rest), and
    its GetMetricStatistics dropped ``ExtendedStatistics``. A period whose
    percentile is unavailable (``_percentile_of``) has no datapoint, as on AWS
    (moto put None among the values and answered HTTP 500). The percentile here is
    the nearest rank over the period's raw values (``percentile``); CloudWatch
    documents no interpolation, and on whole ranks the two agree.
    """
    if not _once("percentile_statistics"):
        return
    original_type = cloudwatch_models.Statistics.get_statistics_for_type

    def get_statistics_for_type(self: Any, stat: str) -> Any:
        p = parse_percentile(stat)
        if p is None:
            return original_type(self, stat)
        return _percentile_of(self, p)

    cloudwatch_models.Statistics.get_statistics_for_type = get_statistics_for_type
    original_data = cloudwatch_models.CloudWatchBackend.get_metric_data

    def get_metric_data(self: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        # A period whose percentile is unavailable has no datapoint (moto's None was a 500).
        answered: list[dict[str, Any]] = original_data(self, *args, **kwargs)
        for result in answered:
            pairs = [
                (stamp, value)
                for stamp, value in zip(result["timestamps"], result["values"], strict=False)
                if value is not None
            ]
            result["timestamps"] = [stamp for stamp, _ in pairs]
            result["values"] = [value for _, value in pairs]
        return answered

    cloudwatch_models.CloudWatchBackend.get_metric_data = get_metric_data
    original_response = cloudwatch_responses.CloudWatchResponse.get_metric_statistics

    def get_metric_statistics(self: Any) -> Any:
        extended = self._get_param("ExtendedStatistics") or []
        wanted = {name: parse_percentile(name) for name in extended}
        for name, p in wanted.items():
            if p is None:
                raise InvalidParameterValue(
                    f"The value {name} for parameter ExtendedStatistics is not a valid "
                    "percentile: specify values between p0.0 and p100."
                )
        answer = original_response(self)
        for datapoint in (getattr(answer, "result", None) or {}).get("Datapoints", []):
            computed = {
                name: _percentile_of(datapoint, p) for name, p in wanted.items() if p is not None
            }
            datapoint.extended_statistics = {
                name: value for name, value in computed.items() if value is not None
            } or None
        return answer

    cloudwatch_responses.CloudWatchResponse.get_metric_statistics = get_metric_statistics


# --- queries: one metric, seen when visible ----------------------------------------------


def _identity(datum: Any) -> Identity:
    known: Identity | None = datum.__dict__.get(_IDENTITY)
    if known is None:
        known = (
            datum.namespace,
            datum.name,
            frozenset((d.name, d.value) for d in datum.dimensions),
        )
        datum.__dict__[_IDENTITY] = known
    return known


def _selector(namespace: str, name: str, dimensions: Sequence[dict[str, Any]]) -> Identity:
    return (namespace, name, frozenset((d["Name"], d.get("Value")) for d in dimensions or ()))


@contextmanager
def _scoped(attribute: str, value: Any) -> Iterator[None]:
    previous = getattr(_local, attribute, None)
    setattr(_local, attribute, value)
    try:
        yield
    finally:
        setattr(_local, attribute, previous)


def _filter_all_metrics(keep: Callable[[Any], bool]) -> None:
    """Wrap ``get_all_metrics`` (what every query reads) with one more filter."""
    original = cloudwatch_models.CloudWatchBackend.get_all_metrics

    def get_all_metrics(self: Any) -> list[Any]:
        return [datum for datum in original(self) if keep(datum)]

    cloudwatch_models.CloudWatchBackend.get_all_metrics = get_all_metrics


def metric_queries_keep_namespace() -> None:
    """A query reads one metric: its namespace, its name and exactly its dimension set.

    On AWS a metric is its namespace, name and full set of dimensions (in any
    order); GetMetricData's ``MetricStat`` and GetMetricStatistics read that metric
    only. moto's GetMetricData, once a query had dimensions, filtered by name and
    dimensions but forgot the namespace (a custom metric of the same name and
    dimensions in another namespace was counted too), compared dimension lists
    sorted by a broken ``Dimension.__lt__`` (the same set given in another order
    could miss), and without dimensions read every datum of the name (Lambda's
    ``{FunctionName}`` datums counted again in the all-functions metric); its
    GetMetricStatistics took any datum whose dimensions included the query's, so
    ``{FunctionName}`` also summed the ``{FunctionName, Resource}`` datums. Each
    metric query now runs alone on the datums of its own metric; metric math
    and Metrics Insights queries run on the results as before.
    """
    if not _once("metric_queries_keep_namespace"):
        return

    def of_the_metric(datum: Any) -> bool:
        wanted: Identity | None = getattr(_local, "metric", None)
        return wanted is None or _identity(datum) == wanted

    _filter_all_metrics(of_the_metric)
    backend = cloudwatch_models.CloudWatchBackend
    original_data = backend.get_metric_data

    def get_metric_data(
        self: Any,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        metric_queries = [q for q in queries if "MetricStat" in q]
        math_queries = [
            q for q in queries if "Expression" in q and not q["Expression"].startswith("SELECT")
        ]
        insights = [q for q in queries if q.get("Expression", "").startswith("SELECT")]
        computed: list[dict[str, Any]] = []
        answered: list[dict[str, Any]] = []
        if not metric_queries:  # moto's own checks of the window
            original_data(self, [], start_time, end_time, scan_by)
        for query in metric_queries:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            wanted = _selector(metric["Namespace"], metric["MetricName"], metric.get("Dimensions"))
            # The datums are those of the metric already: moto's dimension match is not needed.
            alone = {
                **query,
                "ReturnData": True,
                "MetricStat": {
                    **stat,
                    "Metric": {k: v for k, v in metric.items() if k != "Dimensions"},
                },
            }
            with _scoped("metric", wanted):
                (result,) = original_data(self, [alone], start_time, end_time, scan_by)
            computed.append(result)
            if query.get("ReturnData", True) is not False:
                answered.append(result)
        for query in math_queries:
            values, timestamps = cloudwatch_models.parse_expression(query["Expression"], computed)
            result = {
                "id": query["Id"],
                "label": query.get("Label") or query["Id"],
                "values": values,
                "timestamps": timestamps,
                "status_code": "Complete",
            }
            computed.append(result)
            if query.get("ReturnData", True) is not False:
                answered.append(result)
        if insights:
            answered.extend(original_data(self, insights, start_time, end_time, scan_by))
        return answered

    original_statistics = backend.get_metric_statistics

    def get_metric_statistics(
        self: Any,
        namespace: str,
        metric_name: str,
        start_time: datetime,
        end_time: datetime,
        period: int,
        stats: list[str],
        dimensions: list[dict[str, str]],
        unit: str | None = None,
    ) -> Any:
        with _scoped("metric", _selector(namespace, metric_name, dimensions)):
            return original_statistics(
                self, namespace, metric_name, start_time, end_time, period, stats, [], unit
            )

    backend.get_metric_data = get_metric_data
    backend.get_metric_statistics = get_metric_statistics


def put_metric_data_on_the_clock() -> None:
    """A PutMetricData datapoint without a Timestamp is timestamped by the engine clock.

    On AWS a datapoint without a Timestamp is stamped with the time CloudWatch
    received it. moto stamps it with the wall clock, which under compressed time
    is not the clock the handlers, Lambda's metrics and every query use: a
    function publishing its own business metric would land minutes in the past.
    """
    if not _once("put_metric_data_on_the_clock"):
        return
    backend = cloudwatch_models.CloudWatchBackend
    original_put = backend.put_metric_data

    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        received = clock.naive_now()
        stamped = [
            datum if datum.get("Timestamp") else {**datum, "Timestamp": received}
            for datum in metric_data
        ]
        original_put(self, namespace, stamped)

    backend.put_metric_data = put_metric_data


def metrics_delay() -> None:
    """A datapoint is answered only once it has been published for ``get_metrics_delay()``.

    On AWS, Lambda's metrics become visible about a minute after the invocation
    (timestamped at its start), so a query that looks at the last minute sees
    less than happened. moto answers a datum the moment it is put. Every datum is
    stamped with the engine clock's reading when it is put (PutMetricData, or a
    Lambda invocation's end), and GetMetricData and GetMetricStatistics read only
    those stamped at least the delay before the clock's now. The delay is 0
    (everything visible at once) until ``set_metrics_delay`` sets one.
    """
    if not _once("metrics_delay"):
        return

    def visible_now(datum: Any) -> bool:
        now: float | None = getattr(_local, "now", None)
        return now is None or visible(datum, now)

    _filter_all_metrics(visible_now)
    backend = cloudwatch_models.CloudWatchBackend
    original_put = backend.put_metric_data

    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        before = len(self.metric_data)
        original_put(self, namespace, metric_data)
        moment = clock.timestamp()
        for datum in self.metric_data[before:]:
            _stamp(datum, moment)

    def at_the_clock(original: Callable[..., Any]) -> Callable[..., Any]:
        def query(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _scoped("now", clock.timestamp()):
                return original(self, *args, **kwargs)

        return query

    backend.put_metric_data = put_metric_data
    backend.get_metric_data = at_the_clock(backend.get_metric_data)
    backend.get_metric_statistics = at_the_clock(backend.get_metric_statistics)


# --- metric math -------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([a-z][A-Za-z0-9_]*)|(\S))")

Series = dict[datetime, float]
Operand = float | Series


class _UnsupportedError(Exception):
    """An expression this evaluator does not handle (a function, an unknown id)."""


def _tokens(expression: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _UnsupportedError(expression)
        number, name, symbol = match.groups()
        if number is not None:
            found.append(("number", number))
        elif name is not None:
            found.append(("id", name))
        elif symbol in "+-*/()":
            found.append(("op", symbol))
        else:
            raise _UnsupportedError(expression)
        position = match.end()
    return found


_OPERATORS: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def _apply(op: str, left: Operand, right: Operand) -> Operand:
    def one(a: float, b: float) -> float | None:
        try:
            value = _OPERATORS[op](a, b)
        except ZeroDivisionError:
            return None
        return value if math.isfinite(value) else None

    if isinstance(left, dict) or isinstance(right, dict):
        stamps = list(left) if isinstance(left, dict) else list(right)  # type: ignore[arg-type]
        out: Series = {}
        for stamp in stamps:
            if isinstance(left, dict) and stamp not in left:
                continue
            if isinstance(right, dict) and stamp not in right:
                continue
            a = left[stamp] if isinstance(left, dict) else left
            b = right[stamp] if isinstance(right, dict) else right
            value = one(a, b)
            if value is not None:
                out[stamp] = value
        return out
    value = one(left, right)
    if value is None:
        raise _UnsupportedError("a constant that is not a number")
    return value


def _evaluate(tokens: list[tuple[str, str]], series: dict[str, Series]) -> Operand:
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise _UnsupportedError("the expression ends early")
        position += 1
        return tokens[position - 1]

    def expression() -> Operand:
        value = term()
        while peek() in (("op", "+"), ("op", "-")):
            value = _apply(take()[1], value, term())
        return value

    def term() -> Operand:
        value = factor()
        while peek() in (("op", "*"), ("op", "/")):
            value = _apply(take()[1], value, factor())
        return value

    def factor() -> Operand:
        kind, text = take()
        if (kind, text) == ("op", "-"):
            return _apply("*", -1.0, factor())
        if (kind, text) == ("op", "+"):
            return factor()
        if (kind, text) == ("op", "("):
            value = expression()
            if take() != ("op", ")"):
                raise _UnsupportedError("unbalanced parentheses")
            return value
        if kind == "number":
            return float(text)
        if kind == "id" and text in series and peek() != ("op", "("):
            return dict(series[text])
        raise _UnsupportedError(text)

    value = expression()
    if position != len(tokens):
        raise _UnsupportedError("trailing tokens")
    return value


def evaluate_expression(
    expression: str, results: list[dict[str, Any]]
) -> tuple[list[Any], list[datetime]] | None:
    """Arithmetic (``+ - * /``, parentheses, numbers) over the ids of earlier query results.

    A time series combined with a number applies it to every datapoint; two time
    series combine on the timestamps both have. A datapoint whose result is not
    a finite number (division by zero) is left out. The order is that of the
    first time series in the expression. None when the expression is anything
    else (a function such as ``FILL``, an unknown id).
    """
    series: dict[str, Series] = {}
    for result in results:
        series[result["id"]] = {
            stamp: float(value)
            for stamp, value in zip(result["timestamps"], result["values"], strict=False)
            if value is not None
        }
    try:
        value = _evaluate(_tokens(expression), series)
    except _UnsupportedError:
        return None
    if not isinstance(value, dict):
        return None
    return list(value.values()), list(value.keys())


def metric_math_arithmetic() -> None:
    """GetMetricData evaluates arithmetic metric math, ``100 * errors / invocations``.

    AWS evaluates an ``Expression`` over the results of the other queries, by
    their ids, with ``+ - * /``, numbers and parentheses (and functions). moto's
    ``parse_expression`` answered only an expression that is exactly one id;
    anything else came back empty, so no error rate could be computed. Arithmetic
    now works (``evaluate_expression``); anything else still goes to moto.
    """
    if not _once("metric_math_arithmetic"):
        return
    original = cloudwatch_models.parse_expression

    def parse_expression(expression: str, results: list[dict[str, Any]]) -> Any:
        evaluated = evaluate_expression(expression, results)
        return evaluated if evaluated is not None else original(expression, results)

    cloudwatch_models.parse_expression = parse_expression


# --- Lambda's own metrics ---------------------------------------------------------------


@contextmanager
def invoked_through(qualifier: str | None, alias: str | None) -> Iterator[None]:
    """Tell the next invocation on this thread how it was invoked (for its dimensions).

    ``LambdaBackend.invoke`` knows the qualifier the caller gave (a version or
    an alias) before it resolves an alias to the version it runs; the function
    object it then invokes knows only that version.
    """
    with _scoped("through", (qualifier, alias)):
        yield


def _header(headers: Any, name: str) -> str | None:
    try:
        found = headers.get(name) or headers.get(name.title())
    except AttributeError:
        return None
    return str(found) if found is not None else None


def dimension_sets(
    function_name: str, qualifier: str | None, alias: str | None, executed_version: str
) -> list[list[dict[str, str]]]:
    """The dimension sets Lambda publishes an invocation's metrics with.

    ``{}`` (all functions of the region), ``{FunctionName}``; with a qualifier
    (version or alias) ``{FunctionName, Resource=fn:qualifier}``; through an alias
    also ``{FunctionName, Resource=fn:alias, ExecutedVersion}``.
    """
    name = [{"Name": "FunctionName", "Value": function_name}]
    sets: list[list[dict[str, str]]] = [[], name]
    if qualifier:
        resource = [*name, {"Name": "Resource", "Value": f"{function_name}:{qualifier}"}]
        sets.append(resource)
        if alias:
            sets.append([*resource, {"Name": "ExecutedVersion", "Value": executed_version}])
    return sets


def handler_ran(milliseconds: float) -> None:
    """Tell this invocation's metrics how long its handler ran, init left out (the runtime
    calls it; without it ``Duration`` is the whole in-process invocation)."""
    _local.ran_ms = milliseconds


def publish_invocation(
    function: Any,
    qualifier: str | None,
    alias: str | None,
    started: datetime,
    duration_ms: float,
    errored: bool,
) -> None:
    """Append one invocation's ``Invocations``, ``Errors`` and ``Duration`` to CloudWatch.

    Straight into moto's backend of the function's account and region (no
    HTTP), timestamped ``started`` (naive UTC), stamped as published now. Never
    raises: a metric that cannot be published is logged and dropped.
    """
    try:
        backend = cloudwatch_models.cloudwatch_backends[function.account_id][function.region]
        moment = clock.timestamp()
        values = (
            ("Invocations", 1.0, "Count"),
            ("Errors", 1.0 if errored else 0.0, "Count"),
            ("Duration", float(duration_ms), "Milliseconds"),
        )
        sets = dimension_sets(function.function_name, qualifier, alias, str(function.version))
        for dimensions in sets:
            for metric, value, unit in values:
                datum = cloudwatch_models.MetricDatum(
                    NAMESPACE, metric, value, dimensions, started, unit
                )
                setattr(datum, _PUBLISHED, moment)
                backend.metric_data.append(datum)
    except Exception:  # metrics must never fail the invocation
        logger.warning("could not publish the metrics of an invocation", exc_info=True)


def lambda_metrics() -> None:
    """Every invocation publishes Lambda's ``Invocations``, ``Errors`` and ``Duration`` metrics.

    AWS Lambda publishes, for each invocation, into ``AWS/Lambda``:
    ``Invocations`` 1 (Count), ``Errors`` 1 when the function errored (a handled
    or unhandled error, a timeout; else 0, Count) and ``Duration`` (the
    milliseconds the code ran, Milliseconds), timestamped when it was invoked,
    with the dimension sets of ``dimension_sets`` (``ExecutedVersion`` tells apart
    the two versions of a weighted alias). moto publishes nothing. Here every
    ``LambdaFunction.invoke`` (the Invoke API, Step Functions tasks, which call
    Invoke, and moto's event sources, which invoke the function directly)
    publishes them; ``Duration`` is the real time the handler ran (``handler_ran``),
    without the import of a cold start, which Lambda reports apart as its init.
    A ``DryRun`` publishes nothing, as on AWS. ``Throttles`` is never published:
    the engine never throttles an invocation.
    """
    if not _once("lambda_metrics"):
        return
    original = lambda_models.LambdaFunction.invoke

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
        through = getattr(_local, "through", None)
        _local.through = None  # this invocation's only: nested ones are asked anew
        if through is None:  # invoked directly (an event source): its own version, if any
            version = str(self.version)
            through = (None if version == "$LATEST" else version, None)
        started = clock.naive_now()
        begun = time.perf_counter()
        _local.ran_ms = None
        payload = original(self, body, request_headers, response_headers)
        # The handler's own run when the runtime measured it: Lambda's Duration leaves
        # the init (the import of a cold start) out.
        ran: float | None = getattr(_local, "ran_ms", None)
        duration_ms = ran if ran is not None else (time.perf_counter() - begun) * 1000.0
        if _header(request_headers, "x-amz-invocation-type") != "DryRun":
            errored = "x-amz-function-error" in (response_headers or {})
            publish_invocation(self, through[0], through[1], started, duration_ms, errored)
        return payload

    lambda_models.LambdaFunction.invoke = invoke
