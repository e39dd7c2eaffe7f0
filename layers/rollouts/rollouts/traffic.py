"""What each version's own traffic did: Lambda's per-version metrics, read from CloudWatch.

Behind a weighted alias Lambda publishes ``Invocations``, ``Errors`` and
``Duration`` per executed version (dimensions ``FunctionName``, ``Resource``
``fn:alias`` and ``ExecutedVersion``). ``Traffic.read`` asks for the target's
and the baseline's over one window in a single ``GetMetricData`` call, with one
period spanning the window, so that each query answers one datapoint: the
window's sum (or its p99). Custom metrics are read the same way, with
``${version}`` in their dimensions standing for each version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rollouts.analysis import Reading, Sample, Window
from rollouts.aws import aws_errors
from rollouts.models import CustomMetric

NAMESPACE = "AWS/Lambda"
# Each version's queries: (id suffix, Lambda's metric, statistic).
_LAMBDA_QUERIES = (
    ("invocations", "Invocations", "Sum"),
    ("errors", "Errors", "Sum"),
    ("p99", "Duration", "p99"),
)


@dataclass(frozen=True)
class Observed:
    """Both versions' samples over one window, and each custom metric's reading.

    ``incomplete`` says why the answer cannot be judged (a query CloudWatch did not
    answer in full): then the samples are not evidence of anything.
    """

    target: Sample
    baseline: Sample
    readings: tuple[Reading, ...] = ()
    incomplete: str | None = None


def _query(
    query_id: str,
    namespace: str,
    metric: str,
    stat: str,
    dimensions: list[dict[str, str]],
    period: int,
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def queries(
    function_name: str,
    alias: str,
    versions: dict[str, str],
    metrics: tuple[CustomMetric, ...],
    period: int,
) -> list[dict[str, Any]]:
    """The GetMetricData queries for ``versions`` (``{"t": "7", "b": "6"}``, by query prefix).

    >>> [q["Id"] for q in queries("orders", "live", {"t": "7"}, (), 120)]
    ['t_invocations', 't_errors', 't_p99']
    >>> queries("orders", "live", {"t": "7"}, (), 120)[0]["MetricStat"]["Metric"]["Dimensions"]
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'Name': 'FunctionName', 'Value': 'orders'}, {'Name': 'Resource', 'Value': 'orders:live'},
     {'Name': 'ExecutedVersion', 'Value': '7'}]
    """
    found: list[dict[str, Any]] = []
    for prefix, version in versions.items():
        dimensions = [
            {"Name": "FunctionName", "Value": function_name},
            {"Name": "Resource", "Value": f"{function_name}:{alias}"},
            {"Name": "ExecutedVersion", "Value": version},
        ]
        found += [
            _query(f"{prefix}_{suffix}", NAMESPACE, name, stat, dimensions, period)
            for suffix, name, stat in _LAMBDA_QUERIES
        ]
        found += [
            _query(
                f"{prefix}_metric{index}",
                metric.namespace,
                metric.name,
                metric.statistic,
                [d.for_version(version) for d in metric.dimensions],
                period,
            )
            for index, metric in enumerate(metrics)
        ]
    return found


def _sample(values: dict[str, list[float]], prefix: str) -> Sample:
    """A version's sample from the answered values; counts clamped to whole, consistent ones."""
    invocations = max(0, round(sum(values.get(f"{prefix}_invocations", []))))
    errors = min(invocations, max(0, round(sum(values.get(f"{prefix}_errors", [])))))
    p99s = values.get(f"{prefix}_p99") or []
    return Sample(invocations, errors, max(p99s) if p99s else None)


def _value(values: dict[str, list[float]], query_id: str, statistic: str) -> float | None:
    """One statistic over the window (one period: one value; more are summed or the worst)."""
    found = values.get(query_id) or []
    if not found:
        return None
    return float(sum(found)) if statistic in ("Sum", "SampleCount") else float(max(found))


def _incomplete(asked: list[dict[str, Any]], statuses: dict[str, str]) -> str | None:
    """Why the answer is no evidence: a query not answered, or not Complete (a failed
    Errors query must never read as "no errors")."""
    for query in asked:
        status = statuses.get(query["Id"])
        if status != "Complete":
            said = "no answer" if status is None else status
            return f"CloudWatch answered {said} for {query['Id']}: no verdict on partial figures"
    return None


# Statistics that grow with a version's traffic: compared per invocation under maxIncrease.
_PER_INVOCATION = ("Sum", "SampleCount")


def _reading(
    metric: CustomMetric,
    index: int,
    values: dict[str, list[float]],
    target: Sample,
    baseline: Sample,
) -> Reading:
    per_invocation = metric.statistic in _PER_INVOCATION
    return Reading(
        label=metric.label,
        target=_value(values, f"t_metric{index}", metric.statistic),
        baseline=_value(values, f"b_metric{index}", metric.statistic),
        maximum=metric.max,
        max_increase=metric.max_increase,
        target_invocations=target.invocations if per_invocation else None,
        baseline_invocations=baseline.invocations if per_invocation else None,
    )


class Traffic:
    """Reads both versions' own traffic from CloudWatch."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def read(
        self,
        function_name: str,
        alias: str,
        target: str,
        baseline: str,
        window: Window,
        metrics: tuple[CustomMetric, ...] = (),
    ) -> Observed:
        """The target's and the baseline's samples over ``window``, in one GetMetricData."""
        asked = queries(function_name, alias, {"t": target, "b": baseline}, metrics, window.period)
        values: dict[str, list[float]] = {}
        statuses: dict[str, str] = {}
        request: dict[str, Any] = {
            "MetricDataQueries": asked,
            "StartTime": window.start,
            "EndTime": window.end,
        }
        with aws_errors():
            while True:
                answer = self._client.get_metric_data(**request)
                for result in answer.get("MetricDataResults", []):
                    values.setdefault(result["Id"], []).extend(
                        float(v) for v in result.get("Values", [])
                    )
                    # The last page's word: PartialData goes on with NextToken.
                    statuses[result["Id"]] = str(result.get("StatusCode", "Complete"))
                token = answer.get("NextToken")
                if not token:
                    break
                request["NextToken"] = token
        on_target, on_baseline = _sample(values, "t"), _sample(values, "b")
        readings = tuple(
            _reading(metric, index, values, on_target, on_baseline)
            for index, metric in enumerate(metrics)
        )
        return Observed(on_target, on_baseline, readings, _incomplete(asked, statuses))
