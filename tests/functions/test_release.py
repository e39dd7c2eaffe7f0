"""ReleaseRollout (functions/release): clean up after an execution stopped, failed or timed out.

Its event is EventBridge's "Step Functions Execution Status Change"; the sample
in events/eventbridge/ is the one sent here, with the execution's name changed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from rollouts.store import RecordClosedError

SAMPLE = Path(__file__).resolve().parents[2] / "events/eventbridge/execution-aborted.json"


def status_change(
    rollout_id: str,
    status: str = "ABORTED",
    error: str | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(json.loads(SAMPLE.read_text()))
    arn = f"arn:aws:states:us-east-1:123456789012:execution:lambda-rollouts:{rollout_id}"
    event["resources"] = [arn]
    event["detail"].update(
        executionArn=arn, name=rollout_id, status=status, error=error, cause=cause
    )
    return event


def test_a_stopped_rollout_with_traffic_shifted_is_rolled_back_and_released(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    tasks.shift(tasks.prepare())
    assert aws.routing() == ("1", {"2": 0.1})

    answer = tasks.run("release", status_change("rollout-1"))

    assert answer["released"] is True
    assert answer["rolloutId"] == "rollout-1"
    assert aws.routing() == ("1", {})
    assert aws.lock() is None
    record = aws.record("rollout-1")
    assert record["status"] == "ROLLED_BACK"
    assert "ABORTED" in record["reason"]


def test_a_failed_execution_names_its_error_in_the_reason(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    tasks.shift(tasks.prepare())

    tasks.run(
        "release",
        status_change("rollout-1", "FAILED", error="RollbackFailed", cause="see the history"),
    )

    assert aws.routing() == ("1", {})
    record = aws.record("rollout-1")
    assert record["status"] == "ROLLED_BACK"
    assert "FAILED" in record["reason"]
    assert "RollbackFailed" in record["reason"]
    assert aws.lock() is None


def test_a_timed_out_rollout_whose_alias_drifted_is_left_alone_and_released(aws, tasks):
    aws.function(versions=3)
    aws.create_alias("1")
    tasks.shift(tasks.prepare())
    aws.recreate_alias("3")

    tasks.run("release", status_change("rollout-1", "TIMED_OUT"))

    assert aws.routing() == ("3", {})
    assert aws.record("rollout-1")["status"] == "DRIFTED"
    assert aws.lock() is None


def test_an_ended_rollout_is_left_as_it_is(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    tasks.finish(tasks.promote(tasks.baked(tasks.shift(tasks.prepare()))))
    before = aws.record("rollout-1")

    answer = tasks.run("release", status_change("rollout-1", "FAILED"))

    assert answer == {"released": False, "rolloutId": "rollout-1"}
    assert aws.record("rollout-1") == before
    assert aws.routing() == ("2", {})


@pytest.mark.parametrize("error", ["ValidationError", "RolloutInProgress"])
def test_an_execution_refused_before_any_record_is_a_no_op(aws, tasks, error):
    aws.function(versions=2)
    aws.create_alias("1")
    aws.put_lock("rollout-0")  # someone else's rollout; this one never got a record

    answer = tasks.run("release", status_change("rollout-1", "FAILED", error=error))

    assert answer["released"] is False
    assert aws.lock()["rolloutId"] == "rollout-0"
    assert aws.record("rollout-1") is None
    assert aws.routing() == ("1", {})


def test_an_execution_stopped_before_its_record_leaves_a_mark_that_stops_a_late_prepare(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")

    # Stopped while PrepareRollout was still running (Lambda keeps running it).
    answer = tasks.run("release", status_change("rollout-1", "ABORTED"))
    assert answer["released"] is True
    assert aws.record("rollout-1")["status"] == "ROLLED_BACK"

    # The late PrepareRollout finds the mark, gives back the lock it took, and ends.
    with pytest.raises(RecordClosedError):
        tasks.prepare("rollout-1")
    assert aws.lock() is None
    assert aws.routing() == ("1", {})
    assert [a["Name"] for a in aws.lambda_.list_aliases(FunctionName="orders-api")["Aliases"]] == [
        "live"
    ]


def test_a_second_release_for_the_same_execution_is_a_no_op(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    tasks.shift(tasks.prepare())
    event = status_change("rollout-1")

    assert tasks.run("release", event)["released"] is True
    assert tasks.run("release", event)["released"] is False
    assert aws.record("rollout-1")["status"] == "ROLLED_BACK"
    assert aws.routing() == ("1", {})


def test_a_rollout_stopped_after_promotion_is_put_back_on_the_baseline(aws, tasks):
    # Stopped during the PostTraffic hook: the alias is at 100% target, the record RUNNING.
    aws.function(versions=2)
    aws.create_alias("1")
    tasks.promote(tasks.baked(tasks.shift(tasks.prepare())))
    assert aws.routing() == ("2", {})

    tasks.run("release", status_change("rollout-1"))

    assert aws.routing() == ("1", {})
    assert aws.record("rollout-1")["status"] == "ROLLED_BACK"
    assert aws.lock() is None
