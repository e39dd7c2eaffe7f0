"""ShiftTraffic (functions/shift_traffic): move the alias to the next step's weight."""

from __future__ import annotations


def test_the_alias_sends_the_step_weight_to_the_target(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare()

    shifted = tasks.shift(state)

    assert aws.routing() == ("1", {"2": 0.1})
    assert shifted["aliasRevisionId"] == aws.alias()["RevisionId"]
    assert shifted["stepIndex"] == 0
    assert shifted["action"] == "bake"
    assert shifted["waitSeconds"] == 60
    record = aws.record("rollout-1")
    assert [(s["step"], s["weight"], s["bakeSeconds"]) for s in record["stepsTaken"]] == [
        (1, 10, 300)
    ]
    assert record["state"] == shifted


def test_each_step_of_a_linear_rollout_raises_the_weight(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare(
        strategy={"steps": [{"weight": 5, "bakeSeconds": 0}, {"weight": 50, "bakeSeconds": 60}]}
    )

    first = tasks.shift(state)
    assert aws.routing() == ("1", {"2": 0.05})
    assert first["action"] == "shift"  # a 0 s bake goes straight on
    second = tasks.shift(first)

    assert aws.routing() == ("1", {"2": 0.5})
    assert second["stepIndex"] == 1
    assert second["action"] == "bake"
    record = aws.record("rollout-1")
    assert [s["weight"] for s in record["stepsTaken"]] == [5, 50]


def test_running_the_same_shift_twice_gives_the_same_result_without_drift(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare()

    first = tasks.shift(state)
    again = tasks.shift(state)  # retried with the same input

    assert again["action"] == "bake"
    # The same result, but for when the retry decided to bake (a second later, maybe):
    # its bake is timed from then, never from before.
    assert {**again, "bakeStartedAt": None} == {**first, "bakeStartedAt": None}
    assert again["bakeStartedAt"] >= first["bakeStartedAt"]
    assert aws.routing() == ("1", {"2": 0.1})
    assert len(aws.record("rollout-1")["stepsTaken"]) == 1


def test_an_alias_changed_by_someone_else_is_drift_and_left_alone(aws, tasks):
    aws.function(versions=3)
    aws.create_alias("1")
    state = tasks.prepare()
    aws.recreate_alias("3")  # someone else points it at version 3 (new RevisionId)

    drifted = tasks.shift(state)

    assert drifted["action"] == "drift"
    assert "version 3" in drifted["reason"]
    assert aws.routing() == ("3", {})
    assert aws.record("rollout-1")["stepsTaken"] == []
