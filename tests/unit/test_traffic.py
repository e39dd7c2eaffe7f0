"""Reading both versions' traffic: every query answered in full, or no verdict at all."""

from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.analysis import (
    Outcome,
    Reading,
    Sample,
    Thresholds,
    Window,
    check_metric,
    judge,
    verdict_json,
)
from rollouts.models import CustomMetric
from rollouts.store import storable
from rollouts.traffic import Traffic

START = datetime(2026, 12, 1, 10, 1, tzinfo=UTC)
WINDOW = Window(START, START + timedelta(minutes=3))


class CloudWatch:
    """Answers GetMetricData from ``answers`` (query id -> (values, status)), in pages."""

    def __init__(self, answers: dict[str, tuple[list[float], str]], pages: int = 1) -> None:
        self.answers = answers
        self.pages = pages
        self.asked: list[dict[str, Any]] = []

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        self.asked.append(request)
        page = len(self.asked)
        results = []
        for query in request["MetricDataQueries"]:
            values, status = self.answers.get(query["Id"], ([], "Complete"))
            last = page == self.pages
            results.append(
                {
                    "Id": query["Id"],
                    "Values": values if last else [],
                    "StatusCode": status if last else "PartialData",
                }
            )
        answer: dict[str, Any] = {"MetricDataResults": results}
        if page < self.pages:
            answer["NextToken"] = f"page-{page + 1}"
        return answer


COUNTS = {
    "t_invocations": ([1000.0], "Complete"),
    "t_errors": ([300.0], "Complete"),
    "b_invocations": ([9000.0], "Complete"),
    "b_errors": ([45.0], "Complete"),
}


def test_both_versions_are_read_in_one_call_with_one_period_spanning_the_window() -> None:
    cloudwatch = CloudWatch(COUNTS)
    seen = Traffic(cloudwatch).read("orders", "live", "7", "6", WINDOW)

    (asked,) = cloudwatch.asked
    assert (asked["StartTime"], asked["EndTime"]) == (WINDOW.start, WINDOW.end)
    assert {q["MetricStat"]["Period"] for q in asked["MetricDataQueries"]} == {180}
    assert (seen.target, seen.baseline, seen.incomplete) == (
        Sample(1000, 300, None),
        Sample(9000, 45, None),
        None,
    )


def test_a_query_not_answered_in_full_is_no_evidence() -> None:
    # The Errors query failed: its zero must never read as "no errors".
    failed = {**COUNTS, "t_errors": ([], "InternalError")}
    seen = Traffic(CloudWatch(failed)).read("orders", "live", "7", "6", WINDOW)

    assert seen.incomplete == (
        "CloudWatch answered InternalError for t_errors: no verdict on partial figures"
    )


def test_partial_pages_are_followed_to_the_end() -> None:
    cloudwatch = CloudWatch(COUNTS, pages=3)
    seen = Traffic(cloudwatch).read("orders", "live", "7", "6", WINDOW)

    assert [a.get("NextToken") for a in cloudwatch.asked] == [None, "page-2", "page-3"]
    assert seen.incomplete is None and seen.target == Sample(1000, 300, None)


def test_a_tiny_p_value_is_recorded_as_a_number_dynamodb_can_keep() -> None:
    verdict = judge(Sample(1000, 300), Sample(9000, 45), Thresholds(compare_to_baseline=True))
    assert verdict.outcome is Outcome.FAIL and verdict.p_value is not None
    assert verdict.p_value < 1e-200
    shown = verdict_json(verdict)
    assert shown["pValue"] == 0.0
    storable(shown)  # no decimal.Underflow


def test_a_sum_is_compared_per_invocation_whatever_the_split() -> None:
    metric = CustomMetric.model_validate(
        {
            "namespace": "Shop",
            "name": "CheckoutFailed",
            "dimensions": [{"name": "Version", "value": "${version}"}],
            "maxIncrease": 2,
        }
    )
    # At 10%, the target serves 100 of 1000 requests: 10 failures on it is ten times
    # worse per request than 9 on the baseline's 900, though the sums are alike.
    answers = {
        **COUNTS,
        "t_invocations": ([100.0], "Complete"),
        "b_invocations": ([900.0], "Complete"),
        "t_metric0": ([10.0], "Complete"),
        "b_metric0": ([9.0], "Complete"),
    }
    seen = Traffic(CloudWatch(answers)).read("orders", "live", "7", "6", WINDOW, (metric,))
    (reading,) = seen.readings

    outcome, reason = check_metric(reading)
    assert outcome is Outcome.FAIL
    assert reason == (
        "Shop CheckoutFailed Sum per invocation 0.1 on the target vs 0.01 on the baseline,"
        " above the 2x allowed"
    )
    # An average needs no counting: it is per datapoint already.
    average = Reading("Shop Latency Average", 330.0, 300.0, max_increase=1.2)
    assert check_metric(average)[0] is Outcome.PASS
