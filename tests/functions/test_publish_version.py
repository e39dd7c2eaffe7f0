"""PublishVersion (functions/publish_version): publish $LATEST as the target."""

from __future__ import annotations

import time

from rollouts.aliases import Lambda


def test_publishes_latest_as_the_target_version(aws, tasks):
    aws.function(versions=1)
    aws.create_alias("1")
    aws.new_code()  # $LATEST now differs from version 1
    state = tasks.prepare(version=None)

    published = tasks.publish(state)

    assert published["targetVersion"] == "2"
    assert aws.versions() == ["1", "2"]
    assert published["action"] == "shift"
    record = aws.record("rollout-1")
    assert record["targetVersion"] == "2"
    assert record["state"] == published


def test_a_retry_publishes_no_second_version_when_the_code_is_unchanged(aws, tasks):
    # moto 5.2.5 returns the last version when nothing changed since it was
    # published, as AWS does; it still publishes again after an identical
    # re-upload (UpdateFunctionCode with the same zip), which AWS does not:
    # that case is left to the local engine's tests.
    aws.function(versions=1)
    aws.create_alias("1")
    aws.new_code()
    state = tasks.prepare(version=None)

    first = tasks.publish(state)
    again = tasks.publish(state)  # Step Functions retries with the same input

    assert first["targetVersion"] == again["targetVersion"] == "2"
    assert aws.versions() == ["1", "2"]


def test_unchanged_latest_is_already_live_so_nothing_moves(aws, tasks):
    aws.function(versions=1)
    aws.create_alias("1")
    state = tasks.prepare(version=None)

    published = tasks.publish(state)

    assert published["targetVersion"] == "1"
    assert published["action"] == "none"
    assert "$LATEST is unchanged" in published["summary"]
    assert aws.versions() == ["1"]
    assert aws.routing() == ("1", {})


def test_a_first_deploy_publishes_its_first_version(aws, tasks):
    aws.function(versions=0)
    state = tasks.prepare(version=None)

    published = tasks.publish(state)

    assert published["targetVersion"] == "1"
    assert published["firstDeploy"] is True
    assert published["action"] == "promote"


# -- the Lambda adapter PublishVersion calls, on moto ---------------------------------------
def test_publishing_the_code_latest_holds_by_its_code_sha256(aws):
    aws.function(versions=1)
    aws.new_code()
    latest = aws.lambda_.get_function(FunctionName="orders-api")["Configuration"]["CodeSha256"]

    version = Lambda(aws.lambda_).publish("orders-api", "Lambda Rollouts r-1", code_sha256=latest)

    assert version == "2"
    published = aws.lambda_.get_function(FunctionName="orders-api", Qualifier="2")
    assert published["Configuration"]["CodeSha256"] == latest
    assert aws.versions() == ["1", "2"]


def test_a_function_whose_last_update_succeeded_is_not_waited_for(aws):
    aws.function(versions=1)
    aws.new_code()
    started = time.monotonic()

    Lambda(aws.lambda_).wait_until_updated("orders-api", max_seconds=10)

    assert time.monotonic() - started < 1  # moto's functions are never InProgress
