"""The REST API (functions/api/app.py): every route's success and every 4xx it answers.

Each answer is also checked against api/openapi.yaml (``documented``): its status
is listed for the operation and its body matches the schema given there.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from apitest import (
    API_HOST,
    CALLER,
    STATE_MACHINE_ARN,
    Answer,
    Api,
    request,
    sample,
)
from openapi_schema_validator import OAS30Validator

from rollouts.store import ROLLED_BACK, SUCCEEDED

ROOT = Path(__file__).resolve().parents[2]
READABLE_ID = re.compile(r"^orders-api-live-v7-[0-9a-f]{8}$")


def canary(**changes: Any) -> dict[str, Any]:
    """The sample start's body (orders-api:live to version 7) with changes; None drops a field."""
    body: dict[str, Any] = json.loads(sample("start-rollout")["body"])
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


# -- the contract ----------------------------------------------------------------------


@cache
def openapi() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())
    return spec


def inline(node: Any) -> Any:
    """The schema with every local ``$ref`` replaced by what it points at."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = openapi()
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return inline(target)
        return {key: inline(value) for key, value in node.items()}
    if isinstance(node, list):
        return [inline(item) for item in node]
    return node


def documented(answer: Answer, path: str, method: str) -> Answer:
    """Assert the answer is one api/openapi.yaml documents for this operation."""
    responses = openapi()["paths"][path][method]["responses"]
    assert str(answer.status) in responses, f"{answer.status} not documented for {method} {path}"
    schema = inline(responses[str(answer.status)])["content"]["application/json"]["schema"]
    OAS30Validator(schema).validate(answer.body)
    return answer


def fields(answer: Answer) -> list[str]:
    return [error["field"] for error in answer.body["errors"]]


# -- POST /rollouts --------------------------------------------------------------------


def start(api: Api, payload: Any = ..., key: str | None = None, **changes: Any) -> Answer:
    if payload is ...:
        payload = canary()
    return documented(api.start(payload, key=key, **changes), "/rollouts", "post")


def test_start_answers_202_and_starts_the_execution_named_by_the_rollout_id(api: Api) -> None:
    answer = start(api)

    assert answer.status == 202
    rollout_id = answer.body["rolloutId"]
    assert READABLE_ID.match(rollout_id)
    assert answer.body == {
        "rolloutId": rollout_id,
        "executionArn": f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:"
        f"{rollout_id}",
        "status": "RUNNING",
        "statusUrl": f"https://{API_HOST}/v1/rollouts/{rollout_id}",
    }
    assert answer.headers["Location"] == answer.body["statusUrl"]
    execution = api.sfn.describe_execution(executionArn=answer.body["executionArn"])
    assert execution["name"] == rollout_id
    assert execution["status"] == "RUNNING"
    assert json.loads(execution["input"]) == canary()


def test_each_start_gets_a_readable_unique_rollout_id(api: Api) -> None:
    first = start(api, canary(alias="blue"))
    second = start(api, canary(alias="green"))

    assert first.body["rolloutId"].startswith("orders-api-blue-v7-")
    assert second.body["rolloutId"].startswith("orders-api-green-v7-")
    assert len(api.executions()) == 2


def test_status_url_keeps_a_custom_domain_base_path(api: Api) -> None:
    event = request("start-rollout", headers={"Idempotency-Key": None}, domain="deploy.example.com")
    event["requestContext"]["path"] = "/rollouts-api/rollouts"

    answer = api.call(event)

    assert answer.body["statusUrl"] == (
        f"https://deploy.example.com/rollouts-api/rollouts/{answer.body['rolloutId']}"
    )


def test_status_url_is_relative_when_the_request_names_no_host(api: Api) -> None:
    answer = start(api, domain=None)

    assert answer.body["statusUrl"] == f"/rollouts/{answer.body['rolloutId']}"


def test_bad_input_is_400_naming_every_bad_field_and_starts_nothing(api: Api) -> None:
    answer = start(api, canary(alias="123", strategy="Sometimes", checkIntervalSeconds=0))

    assert answer.status == 400
    assert fields(answer) == ["alias", "strategy", "checkIntervalSeconds"]
    assert all(error["message"] for error in answer.body["errors"])
    assert answer.body["message"].startswith("alias: ")
    assert api.executions() == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(canary(functionName=None), "functionName", id="missing-function-name"),
        pytest.param(canary(alarms=["a", "a"]), "alarms[1]", id="duplicate-alarm"),
        pytest.param(canary(hooks={"preTraffik": "x"}), "hooks.preTraffik", id="unknown-hook"),
        pytest.param(canary(colour="blue"), "colour", id="unknown-field"),
        pytest.param(["orders-api"], "input", id="not-an-object"),
    ],
)
def test_bad_input_names_the_field(api: Api, payload: Any, field: str) -> None:
    answer = start(api, payload)

    assert answer.status == 400
    assert fields(answer) == [field]


@pytest.mark.parametrize(
    "raw_body", [pytest.param("{not json", id="not-json"), pytest.param("", id="empty")]
)
def test_a_body_that_is_not_json_is_400_naming_body(api: Api, raw_body: str) -> None:
    answer = documented(
        api.call(request("start-rollout", raw_body=raw_body, headers={"Idempotency-Key": None})),
        "/rollouts",
        "post",
    )

    assert answer.status == 400
    assert fields(answer) == ["body"]
    assert api.executions() == []


def test_a_busy_alias_is_409_naming_the_holder_and_starts_nothing(api: Api) -> None:
    api.take_lock("orders-api-live-v6-00000000")

    answer = start(api)

    assert answer.status == 409
    assert "orders-api-live-v6-00000000" in answer.body["message"]
    assert api.executions() == []


def test_an_unreachable_state_machine_is_502(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_MACHINE_ARN", STATE_MACHINE_ARN + "-gone")

    answer = start(api)

    assert answer.status == 502
    assert "StateMachineDoesNotExist" in answer.body["message"]


# -- Idempotency-Key --------------------------------------------------------------------


def test_a_retry_with_the_same_key_answers_the_first_202_and_starts_nothing(api: Api) -> None:
    first = start(api, key="run-42")
    # PrepareRollout takes the lock meanwhile: the retry must not be refused as busy.
    api.take_lock(first.body["rolloutId"])

    retried = start(api, key="run-42")

    assert retried.status == 202
    assert retried.body == first.body
    assert len(api.executions()) == 1
    (record,) = api.items("IDEMPOTENCY")
    assert record["sk"].startswith("start-rollout#")
    assert int(record["expiresAt"]) > 0  # the table's TTL attribute removes it


def test_a_different_key_starts_another_rollout(api: Api) -> None:
    first = start(api, key="run-42")
    api.take_lock(first.body["rolloutId"])

    busy = start(api, key="run-43")
    other_alias = start(api, canary(alias="canary"), key="run-44")
    api.release_lock(first.body["rolloutId"])
    after_first_ended = start(api, key="run-45")

    assert busy.status == 409
    assert other_alias.status == 202
    assert after_first_ended.status == 202
    assert (
        len(
            {first.body["rolloutId"], other_alias.body["rolloutId"]}
            | {after_first_ended.body["rolloutId"]}
        )
        == 3
    )
    assert len(api.executions()) == 3


def test_a_refused_start_is_judged_again_on_retry(api: Api) -> None:
    api.take_lock("orders-api-live-v6-00000000")
    refused = start(api, key="run-42")
    api.release_lock("orders-api-live-v6-00000000")

    retried = start(api, key="run-42")

    assert refused.status == 409
    assert retried.status == 202
    assert len(api.executions()) == 1


def test_the_same_key_with_a_different_request_is_422(api: Api) -> None:
    start(api, key="run-42")

    answer = start(api, canary(version="8"), key="run-42")

    assert answer.status == 422
    assert "Idempotency-Key" in answer.body["message"]
    assert len(api.executions()) == 1


def test_keys_are_scoped_to_the_caller(api: Api) -> None:
    mine = start(api, canary(alias="blue"), key="run-42")

    theirs = start(
        api,
        canary(alias="blue"),
        key="run-42",
        caller="arn:aws:sts::123456789012:assumed-role/other-pipeline/x",
    )

    assert theirs.status == 202
    assert theirs.body["rolloutId"] != mine.body["rolloutId"]
    assert len(api.executions()) == 2


def test_an_overlong_key_is_400_naming_the_header(api: Api) -> None:
    answer = start(api, key="k" * 256)

    assert answer.status == 400
    assert fields(answer) == ["Idempotency-Key"]
    assert api.executions() == []


# -- GET /rollouts/{rolloutId} -------------------------------------------------------------


def describe(api: Api, rollout_id: str) -> Answer:
    return documented(api.describe(rollout_id), "/rollouts/{rolloutId}", "get")


def test_describe_a_rollout_mid_bake(api: Api) -> None:
    rollout_id = start(api).body["rolloutId"]
    state = api.write_record(rollout_id, steps=(10, 50), step_index=0)
    step = {"step": 1, "weight": 10, "at": "2026-01-01T00:00:05+00:00"}
    check = {"at": "2026-01-01T00:01:05+00:00", "alarmsNotOk": {}, "decision": "bake"}
    record = api.store.record(rollout_id) or {}
    api.store.record_step(rollout_id, record, step, state, "2026-01-01T00:00:05+00:00")
    record = api.store.record(rollout_id) or {}
    api.store.record_check(rollout_id, record, check, state, "2026-01-01T00:01:05+00:00")

    answer = describe(api, rollout_id)

    assert answer.status == 200
    body = answer.body
    assert body["rolloutId"] == rollout_id
    assert body["status"] == body["outcome"] == "RUNNING"
    assert (body["functionName"], body["alias"]) == ("orders-api", "live")
    assert (body["fromVersion"], body["toVersion"]) == ("6", "7")
    assert (body["step"], body["stepCount"], body["weight"]) == (1, 2, 10)
    assert body["steps"] == [
        {"weight": 10, "bakeSeconds": 300},
        {"weight": 50, "bakeSeconds": 300},
    ]
    assert body["stepsTaken"] == [step]
    assert body["checks"] == [check]
    assert body["checkCount"] == 1
    assert body["reason"] is None


def test_describe_a_rollout_before_its_record_is_written(api: Api) -> None:
    rollout_id = start(api).body["rolloutId"]

    body = describe(api, rollout_id).body

    assert body["status"] == "RUNNING"
    assert body["outcome"] is None
    assert (body["functionName"], body["alias"]) == ("orders-api", "live")
    assert (body["step"], body["weight"]) == (0, 0)


def test_describe_a_failed_rollout_gives_the_reason(api: Api) -> None:
    rollout_id = start(api).body["rolloutId"]
    api.write_record(rollout_id)
    reason = "alarm orders-api-errors is ALARM at step 1 (10%); rolled back to version 6"
    api.store.update(rollout_id, "2026-01-01T00:03:00+00:00", status=ROLLED_BACK, reason=reason)

    body = describe(api, rollout_id).body

    assert body["outcome"] == ROLLED_BACK
    assert body["reason"] == reason


@pytest.mark.parametrize("rollout_id", ["orders-api-live-v7-deadbeef", "no%20such"])
def test_describe_an_unknown_rollout_is_404(api: Api, rollout_id: str) -> None:
    answer = describe(api, rollout_id)

    assert answer.status == 404
    assert rollout_id in answer.body["message"]


# -- GET /rollouts -------------------------------------------------------------------------


def history(api: Api, **query: str) -> Answer:
    return documented(api.list(**query), "/rollouts", "get")


def test_list_pages_an_alias_history_newest_first(api: Api) -> None:
    for n in range(1, 6):
        api.write_record(f"orders-api-live-v{n}-0000000{n}", started_at=f"2026-01-0{n}T00:00:00Z")
    api.write_record("orders-api-beta-v1-00000009", alias="beta", started_at="2026-01-09T00:00:00Z")

    pages: list[list[str]] = []
    token: str | None = None
    while True:
        query = {"functionName": "orders-api", "alias": "live", "limit": "2"}
        if token:
            query["nextToken"] = token
        answer = history(api, **query)
        assert answer.status == 200
        pages.append([r["rolloutId"] for r in answer.body["rollouts"]])
        token = answer.body["nextToken"]
        if token is None or len(pages) > 5:
            break

    flat = [rollout_id for page in pages for rollout_id in page]
    assert flat == [f"orders-api-live-v{n}-0000000{n}" for n in (5, 4, 3, 2, 1)]
    assert [len(page) for page in pages[:3]] == [2, 2, 1]
    assert all(page == [] for page in pages[3:])


def test_list_summarises_each_rollout(api: Api) -> None:
    api.write_record("orders-api-live-v7-1a2b3c4d")
    api.store.update("orders-api-live-v7-1a2b3c4d", "2026-01-01T00:06:00Z", status=SUCCEEDED)

    (summary,) = history(api, functionName="orders-api", alias="live").body["rollouts"]

    assert summary == {
        "rolloutId": "orders-api-live-v7-1a2b3c4d",
        "status": SUCCEEDED,
        "functionName": "orders-api",
        "alias": "live",
        "fromVersion": "6",
        "toVersion": "7",
        "strategy": "Canary10Percent5Minutes",
        "startedAt": "2026-01-01T00:00:00+00:00",
        "endedAt": None,
        "reason": None,
    }


def test_list_of_an_alias_never_rolled_out_is_empty(api: Api) -> None:
    answer = history(api, functionName="orders-api", alias="live")

    assert answer.body == {"rollouts": [], "nextToken": None}


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        pytest.param({"alias": "live"}, ["functionName"], id="no-function-name"),
        pytest.param({"functionName": "orders-api"}, ["alias"], id="no-alias"),
        pytest.param({}, ["functionName", "alias"], id="neither"),
        pytest.param({"functionName": "orders-api", "alias": ""}, ["alias"], id="empty-alias"),
        pytest.param(
            {"functionName": "orders-api", "alias": "live", "limit": "ten"}, ["limit"], id="limit"
        ),
        pytest.param(
            {"functionName": "orders-api", "alias": "live", "limit": "0"}, ["limit"], id="limit-0"
        ),
        pytest.param(
            {"functionName": "orders-api", "alias": "live", "limit": "101"},
            ["limit"],
            id="limit-101",
        ),
        pytest.param(
            {"functionName": "orders-api", "alias": "live", "nextToken": "garbage!"},
            ["nextToken"],
            id="next-token",
        ),
    ],
)
def test_list_with_bad_query_parameters_is_400_naming_them(
    api: Api, query: dict[str, str], bad: list[str]
) -> None:
    answer = history(api, **query)

    assert answer.status == 400
    assert fields(answer) == bad


# -- POST /rollouts/{rolloutId}/abort ------------------------------------------------------


def abort(api: Api, rollout_id: str, body: Any = ..., **changes: Any) -> Answer:
    return documented(
        api.abort(rollout_id, body=body, **changes), "/rollouts/{rolloutId}/abort", "post"
    )


def test_abort_records_who_and_why_for_the_next_health_check(api: Api) -> None:
    rollout_id = start(api).body["rolloutId"]
    api.write_record(rollout_id)

    answer = abort(api, rollout_id, {"reason": "p99 latency regression"})

    assert answer.status == 202
    assert answer.body["rolloutId"] == rollout_id
    assert answer.body["abortRequested"] is True
    assert answer.body["by"] == CALLER
    assert answer.body["statusUrl"] == f"https://{API_HOST}/v1/rollouts/{rollout_id}"
    record = api.store.record(rollout_id)
    assert record is not None
    assert record["abort"] == {
        "by": CALLER,
        "reason": "p99 latency regression",
        "at": answer.body["at"],
    }
    # What CheckHealth reads back: "aborted by <caller>: <reason>".
    assert record["status"] == "RUNNING"


def test_abort_without_a_body_or_a_known_caller(api: Api) -> None:
    api.write_record("orders-api-live-v7-1a2b3c4d")

    answer = abort(api, "orders-api-live-v7-1a2b3c4d", None, caller=None)

    assert answer.status == 202
    record = api.store.record("orders-api-live-v7-1a2b3c4d")
    assert record is not None
    assert record["abort"]["by"] == "unknown caller"
    assert record["abort"]["reason"] == "no reason given"


def test_abort_of_an_unknown_rollout_is_404(api: Api) -> None:
    answer = abort(api, "orders-api-live-v7-deadbeef")

    assert answer.status == 404


@pytest.mark.parametrize("outcome", [SUCCEEDED, ROLLED_BACK, "DRIFTED"])
def test_abort_of_an_ended_rollout_is_409(api: Api, outcome: str) -> None:
    api.write_record("orders-api-live-v7-1a2b3c4d")
    api.store.update("orders-api-live-v7-1a2b3c4d", "2026-01-01T00:06:00Z", status=outcome)

    answer = abort(api, "orders-api-live-v7-1a2b3c4d")

    assert answer.status == 409
    assert outcome in answer.body["message"]
    record = api.store.record("orders-api-live-v7-1a2b3c4d")
    assert record is not None and "abort" not in record


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"raw_body": "stop!"}, "body", id="not-json"),
        pytest.param({"body": ["stop"]}, "body", id="not-an-object"),
        pytest.param({"body": {"reason": 42}}, "reason", id="reason-not-text"),
        pytest.param({"body": {"why": "x"}}, "why", id="unknown-field"),
    ],
)
def test_abort_with_a_bad_body_is_400_naming_the_field(
    api: Api, change: dict[str, Any], field: str
) -> None:
    api.write_record("orders-api-live-v7-1a2b3c4d")

    answer = documented(
        api.call(request("abort-rollout", rollout_id="orders-api-live-v7-1a2b3c4d", **change)),
        "/rollouts/{rolloutId}/abort",
        "post",
    )

    assert answer.status == 400
    assert fields(answer) == [field]
    record = api.store.record("orders-api-live-v7-1a2b3c4d")
    assert record is not None and "abort" not in record


# -- the samples ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["start-rollout", "describe-rollout", "list-rollouts", "abort-rollout"]
)
def test_every_sample_event_is_routed(api: Api, name: str) -> None:
    # Unknown rollouts are fine here: the point is that no sample falls through to a 404 route.
    answer = api.call(sample(name))

    assert answer.status in {200, 202, 404}
    if answer.status == 404:
        assert "no rollout" in answer.body["message"]
