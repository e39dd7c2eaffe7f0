"""The REST API (functions/api/app.py): every route's success and every 4xx it answers.

Each answer is also checked against api/openapi.yaml (``documented``): its status
is listed for the operation and its body matches the schema given there.

Every route names its function and alias (``/functions/orders-api/aliases/live/...``,
the samples' unless a test says otherwise): the tests marked "scope" prove that no
route acts outside the path's alias, which is what the README's IAM policies rely on.
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

from rollouts.store import MAX_REQUESTS, ROLLED_BACK, SUCCEEDED

ROOT = Path(__file__).resolve().parents[2]
READABLE_ID = re.compile(r"^orders-api-live-v7-[0-9a-f]{8}$")
ALIAS_ROUTE = "/functions/{functionName}/aliases/{alias}/rollouts"
ROLLOUT_ROUTE = f"{ALIAS_ROUTE}/{{rolloutId}}"
ABORT_ROUTE = f"{ROLLOUT_ROUTE}/abort"
# The verbs on a running rollout: POST .../rollouts/{rolloutId}/<verb>.
VERBS = ("abort", "pause", "resume", "promote")
ORDERS_LIVE = f"https://{API_HOST}/v1/functions/orders-api/aliases/live/rollouts"
ORDERS_LIVE_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"
RECORDED = "orders-api-live-v7-1a2b3c4d"


def canary(**changes: Any) -> dict[str, Any]:
    """The sample start's body (version 7; the path names orders-api:live) with changes.

    None drops a field.
    """
    body: dict[str, Any] = json.loads(sample("start-rollout")["body"])
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def execution_input(**changes: Any) -> dict[str, Any]:
    """What a start from the sample's path passes on: the body with the path's names."""
    return {"functionName": "orders-api", "alias": "live", **canary(**changes)}


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


def untouched(record: dict[str, Any] | None) -> bool:
    """A RUNNING record no person's request reached (as write_record leaves it)."""
    assert record is not None
    asked = {"abort", "pause", "promote", "requests"} & set(record)
    return record["status"] == "RUNNING" and not asked


# -- POST /functions/{functionName}/aliases/{alias}/rollouts --------------------------------


def start(api: Api, payload: Any = ..., key: str | None = None, **changes: Any) -> Answer:
    if payload is ...:
        payload = canary()
    return documented(api.start(payload, key=key, **changes), ALIAS_ROUTE, "post")


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
        "statusUrl": f"{ORDERS_LIVE}/{rollout_id}",
    }
    assert answer.headers["Location"] == answer.body["statusUrl"]
    execution = api.sfn.describe_execution(executionArn=answer.body["executionArn"])
    assert execution["name"] == rollout_id
    assert execution["status"] == "RUNNING"
    assert json.loads(execution["input"]) == execution_input()


def test_a_start_with_analysis_passes_it_on_as_sent(api: Api) -> None:
    analysis = {"compareToBaseline": True, "maxErrorRate": 1.5, "minInvocations": 50}
    answer = start(api, canary(analysis=analysis))

    assert answer.status == 202, answer.body
    execution = api.sfn.describe_execution(executionArn=answer.body["executionArn"])
    assert json.loads(execution["input"]) == execution_input(analysis=analysis)


def test_the_status_url_describes_the_rollout(api: Api) -> None:
    started = start(api, alias="blue")
    rollout_id = started.body["rolloutId"]
    event = request("describe-rollout", alias="blue", rollout_id=rollout_id)

    described = describe(api, rollout_id, alias="blue")

    assert started.body["statusUrl"] == f"https://{API_HOST}{event['requestContext']['path']}"
    assert described.status == 200
    assert (described.body["rolloutId"], described.body["alias"]) == (rollout_id, "blue")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(canary(), id="path-names-only"),
        pytest.param(canary(functionName="orders-api", alias="live"), id="body-repeats-them"),
        pytest.param(canary(alias="live"), id="body-repeats-the-alias"),
    ],
)
def test_the_body_may_leave_out_or_repeat_the_paths_names(api: Api, body: Any) -> None:
    answer = start(api, body)

    assert answer.status == 202
    execution = api.sfn.describe_execution(executionArn=answer.body["executionArn"])
    assert json.loads(execution["input"]) == execution_input()


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        pytest.param(canary(functionName="payments"), ["functionName"], id="other-function"),
        pytest.param(canary(alias="canary"), ["alias"], id="other-alias"),
        pytest.param(
            canary(functionName="payments", alias="canary"),
            ["functionName", "alias"],
            id="both",
        ),
        # Same name, but an ARN names a region and an account the path does not.
        pytest.param(canary(functionName=ORDERS_LIVE_ARN), ["functionName"], id="arn-same-name"),
        pytest.param(canary(functionName="orders-api-evil"), ["functionName"], id="longer-name"),
        pytest.param(canary(alias="LIVE"), ["alias"], id="case-differs"),
        pytest.param(canary(alias=7), ["alias"], id="not-text"),
    ],
)
def test_scope_a_body_naming_another_function_or_alias_is_400_and_starts_nothing(
    api: Api, body: Any, bad: list[str]
) -> None:
    answer = start(api, body, key="run-42")

    assert answer.status == 400
    assert fields(answer) == bad
    assert "in the path" in answer.body["errors"][0]["message"]
    assert api.executions() == []
    assert api.items("IDEMPOTENCY") == []


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        pytest.param({"function_name": ORDERS_LIVE_ARN}, ["functionName"], id="function-arn"),
        pytest.param({"function_name": "orders-api:7"}, ["functionName"], id="qualified"),
        pytest.param({"function_name": "f" * 65}, ["functionName"], id="function-65-chars"),
        pytest.param({"function_name": "orders%2Dapi"}, ["functionName"], id="percent-encoded"),
        pytest.param({"alias": "123"}, ["alias"], id="alias-only-digits"),
        pytest.param({"alias": "live*"}, ["alias"], id="alias-wildcard"),
        pytest.param({"alias": "a" * 129}, ["alias"], id="alias-129-chars"),
        pytest.param(
            {"function_name": "orders.api", "alias": "$LATEST"},
            ["functionName", "alias"],
            id="both",
        ),
    ],
)
@pytest.mark.parametrize("route", ["start", "list", "describe", *VERBS])
def test_scope_a_path_that_is_not_a_plain_function_and_alias_is_400_naming_it(
    api: Api, route: str, path: dict[str, str], bad: list[str]
) -> None:
    api.write_record(RECORDED)
    sample_name, route_path, method = {
        "start": ("start-rollout", ALIAS_ROUTE, "post"),
        "list": ("list-rollouts", ALIAS_ROUTE, "get"),
        "describe": ("describe-rollout", ROLLOUT_ROUTE, "get"),
        **{verb: (f"{verb}-rollout", f"{ROLLOUT_ROUTE}/{verb}", "post") for verb in VERBS},
    }[route]

    answer = documented(api.call(request(sample_name, **path)), route_path, method)

    assert answer.status == 400
    assert fields(answer) == bad
    assert api.executions() == []
    assert untouched(api.store.record(RECORDED))


def test_each_start_gets_a_readable_unique_rollout_id(api: Api) -> None:
    first = start(api, alias="blue")
    second = start(api, alias="green")

    assert first.body["rolloutId"].startswith("orders-api-blue-v7-")
    assert second.body["rolloutId"].startswith("orders-api-green-v7-")
    assert len(api.executions()) == 2


def test_status_url_keeps_a_custom_domain_base_path(api: Api) -> None:
    event = request("start-rollout", headers={"Idempotency-Key": None}, domain="deploy.example.com")
    event["requestContext"]["path"] = "/rollouts-api/functions/orders-api/aliases/live/rollouts"

    answer = api.call(event)

    assert answer.body["statusUrl"] == (
        "https://deploy.example.com/rollouts-api/functions/orders-api/aliases/live/rollouts/"
        f"{answer.body['rolloutId']}"
    )


def test_status_url_is_relative_when_the_request_names_no_host(api: Api) -> None:
    answer = start(api, domain=None)

    assert answer.body["statusUrl"] == (
        f"/functions/orders-api/aliases/live/rollouts/{answer.body['rolloutId']}"
    )


def test_bad_input_is_400_naming_every_bad_field_and_starts_nothing(api: Api) -> None:
    answer = start(api, canary(version="v7", strategy="Sometimes", checkIntervalSeconds=0))

    assert answer.status == 400
    assert fields(answer) == ["version", "strategy", "checkIntervalSeconds"]
    assert all(error["message"] for error in answer.body["errors"])
    assert answer.body["message"].startswith("version: ")
    assert api.executions() == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(canary(strategy=None), "strategy", id="missing-strategy"),
        pytest.param(canary(alarms=["a", "a"]), "alarms[1]", id="duplicate-alarm"),
        pytest.param(canary(hooks={"preTraffik": "x"}), "hooks.preTraffik", id="unknown-hook"),
        pytest.param(canary(colour="blue"), "colour", id="unknown-field"),
        pytest.param(["orders-api"], "input", id="not-an-object"),
        pytest.param(
            canary(analysis={"maxErrorRate": 150}), "analysis.maxErrorRate", id="analysis-rate"
        ),
        pytest.param(
            canary(analysis={"compareToBaseline": True, "dryrun": True}),
            "analysis.dryrun",
            id="analysis-typo",
        ),
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
        ALIAS_ROUTE,
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
    other_alias = start(api, key="run-44", alias="canary")
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
    mine = start(api, key="run-42", alias="blue")

    theirs = start(
        api,
        key="run-42",
        alias="blue",
        caller="arn:aws:sts::123456789012:assumed-role/other-pipeline/x",
    )

    assert theirs.status == 202
    assert theirs.body["rolloutId"] != mine.body["rolloutId"]
    assert len(api.executions()) == 2


def test_the_same_key_on_another_alias_is_422(api: Api) -> None:
    start(api, key="run-42")

    answer = start(api, key="run-42", alias="canary")

    assert answer.status == 422
    assert len(api.executions()) == 1


def test_an_overlong_key_is_400_naming_the_header(api: Api) -> None:
    answer = start(api, key="k" * 256)

    assert answer.status == 400
    assert fields(answer) == ["Idempotency-Key"]
    assert api.executions() == []


# -- GET /functions/{functionName}/aliases/{alias}/rollouts/{rolloutId} ----------------------


def describe(api: Api, rollout_id: str, **path: str) -> Answer:
    return documented(api.describe(rollout_id, **path), ROLLOUT_ROUTE, "get")


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
    assert answer.body["message"] == f"no rollout {rollout_id} for orders-api:live"


OTHER_ALIASES = [
    pytest.param({"alias": "canary"}, "orders-api:canary", id="other-alias"),
    pytest.param({"function_name": "payments"}, "payments:live", id="other-function"),
    pytest.param({"function_name": "orders-api-evil"}, "orders-api-evil:live", id="longer-name"),
    pytest.param({"function_name": "orders"}, "orders:live", id="shorter-name"),
]


@pytest.mark.parametrize(("path", "subject"), OTHER_ALIASES)
def test_scope_describe_of_another_alias_rollout_is_404_like_an_unknown_one(
    api: Api, path: dict[str, str], subject: str
) -> None:
    api.write_record(RECORDED)
    rollout_id = start(api).body["rolloutId"]  # no record yet: its input says whose

    for known in (RECORDED, rollout_id):
        answer = describe(api, known, **path)
        unknown = describe(api, "orders-api-live-v7-deadbeef", **path)

        assert answer.status == unknown.status == 404
        assert answer.body == {"message": f"no rollout {known} for {subject}"}
        assert unknown.body == {"message": f"no rollout orders-api-live-v7-deadbeef for {subject}"}


def test_scope_describe_compares_a_recorded_arn_by_function_name(api: Api) -> None:
    # A record may hold the function as the request gave it (a name or an ARN).
    api.write_record(RECORDED, function_name=ORDERS_LIVE_ARN)

    mine = describe(api, RECORDED)
    other = describe(api, RECORDED, function_name="payments")

    assert mine.status == 200
    assert other.status == 404


# -- GET /functions/{functionName}/aliases/{alias}/rollouts ----------------------------------


def history(api: Api, query: dict[str, str] | None = None, **path: str) -> Answer:
    return documented(api.list(query, **path), ALIAS_ROUTE, "get")


def test_list_pages_an_alias_history_newest_first(api: Api) -> None:
    for n in range(1, 6):
        api.write_record(f"orders-api-live-v{n}-0000000{n}", started_at=f"2026-01-0{n}T00:00:00Z")
    api.write_record("orders-api-beta-v1-00000009", alias="beta", started_at="2026-01-09T00:00:00Z")
    api.write_record("payments-live-v1-00000008", function_name="payments")

    pages: list[list[str]] = []
    token: str | None = None
    while True:
        query = {"limit": "2"}
        if token:
            query["nextToken"] = token
        answer = history(api, query)
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

    (summary,) = history(api).body["rollouts"]

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
    answer = history(api)

    assert answer.body == {"rollouts": [], "nextToken": None}


@pytest.mark.parametrize(("path", "subject"), OTHER_ALIASES)
def test_scope_list_shows_only_the_paths_alias(
    api: Api, path: dict[str, str], subject: str
) -> None:
    api.write_record(RECORDED)
    function_name, alias = subject.split(":")
    api.write_record(
        f"{function_name}-{alias}-v1-00000001", function_name=function_name, alias=alias
    )

    listed = history(api, **path).body["rollouts"]

    assert [r["rolloutId"] for r in listed] == [f"{function_name}-{alias}-v1-00000001"]
    assert {(r["functionName"], r["alias"]) for r in listed} == {(function_name, alias)}


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        pytest.param({"limit": "ten"}, ["limit"], id="limit"),
        pytest.param({"limit": "0"}, ["limit"], id="limit-0"),
        pytest.param({"limit": "101"}, ["limit"], id="limit-101"),
        pytest.param({"nextToken": "garbage!"}, ["nextToken"], id="next-token"),
    ],
)
def test_list_with_bad_query_parameters_is_400_naming_them(
    api: Api, query: dict[str, str], bad: list[str]
) -> None:
    answer = history(api, query)

    assert answer.status == 400
    assert fields(answer) == bad


# -- POST /functions/{functionName}/aliases/{alias}/rollouts/{rolloutId}/abort ---------------


def abort(api: Api, rollout_id: str, body: Any = ..., **changes: Any) -> Answer:
    return documented(api.abort(rollout_id, body=body, **changes), ABORT_ROUTE, "post")


def test_abort_records_who_and_why_for_the_next_health_check(api: Api) -> None:
    rollout_id = start(api).body["rolloutId"]
    api.write_record(rollout_id)

    answer = abort(api, rollout_id, {"reason": "p99 latency regression"})

    assert answer.status == 202
    assert answer.body["rolloutId"] == rollout_id
    assert answer.body["abortRequested"] is True
    assert answer.body["by"] == CALLER
    assert answer.body["statusUrl"] == f"{ORDERS_LIVE}/{rollout_id}"
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
    assert answer.body["message"] == "no rollout orders-api-live-v7-deadbeef for orders-api:live"


@pytest.mark.parametrize(("path", "subject"), OTHER_ALIASES)
def test_scope_abort_of_another_alias_rollout_is_404_and_records_nothing(
    api: Api, path: dict[str, str], subject: str
) -> None:
    api.write_record(RECORDED)

    answer = abort(api, RECORDED, {"reason": "not mine"}, **path)

    assert answer.status == 404
    assert answer.body == {"message": f"no rollout {RECORDED} for {subject}"}
    record = api.store.record(RECORDED)
    assert record is not None and "abort" not in record
    assert record["status"] == "RUNNING"


@pytest.mark.parametrize("outcome", [SUCCEEDED, ROLLED_BACK])
def test_scope_abort_of_another_alias_ended_rollout_is_404_not_409(api: Api, outcome: str) -> None:
    # 409 "already ended" would tell that the id exists elsewhere.
    api.write_record(RECORDED)
    api.store.update(RECORDED, "2026-01-01T00:06:00Z", status=outcome)

    answer = abort(api, RECORDED, alias="canary")

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
        ABORT_ROUTE,
        "post",
    )

    assert answer.status == 400
    assert fields(answer) == [field]
    record = api.store.record("orders-api-live-v7-1a2b3c4d")
    assert record is not None and "abort" not in record


def test_abort_wakes_the_bake_at_once(api: Api) -> None:
    rollout_id = running(api)
    sent = api.task_answers()

    answer = abort(api, rollout_id, {"reason": "p99 latency regression"})

    assert answer.status == 202
    assert sent == [
        {
            "operation": "SendTaskSuccess",
            "taskToken": f"token-bake-{rollout_id}",
            "output": json.dumps({"wokenBy": f"aborted by {CALLER}: p99 latency regression"}),
        }
    ]


def test_abort_ends_a_hooks_wait_at_once(api: Api) -> None:
    rollout_id = running(api, waiting="PreTraffic")
    sent = api.task_answers()

    answer = abort(api, rollout_id, None)

    assert answer.status == 202
    assert sent == [
        {
            "operation": "SendTaskFailure",
            "taskToken": f"token-PreTraffic-{rollout_id}",
            "error": "AbortedError",
            "cause": f"aborted by {CALLER}: no reason given",
        }
    ]


# -- POST .../rollouts/{rolloutId}/pause | resume | promote ----------------------------------


def verb(api: Api, name: str, rollout_id: str, body: Any = ..., **changes: Any) -> Answer:
    return documented(
        api.verb(name, rollout_id, body, **changes), f"{ROLLOUT_ROUTE}/{name}", "post"
    )


def running(api: Api, waiting: str | None = "bake") -> str:
    """A rollout of orders-api:live at step 1 of 2 (10%), started through the API.

    Its record is the one PrepareRollout and the first shift would write; ``waiting``:
    the wait whose token it leaves (Bake's, or a hook's), or None between tasks.
    """
    rollout_id: str = start(api).body["rolloutId"]
    api.write_record(rollout_id, steps=(10, 50), step_index=0)
    if waiting is not None:
        api.wait(rollout_id, waiting, **({"hook": "orders-api-pre"} if waiting != "bake" else {}))
    return rollout_id


def woken(rollout_id: str, why: str) -> list[dict[str, Any]]:
    """What a wake of the rollout's bake sends."""
    return [
        {
            "operation": "SendTaskSuccess",
            "taskToken": f"token-bake-{rollout_id}",
            "output": json.dumps({"wokenBy": why}),
        }
    ]


def test_pause_records_who_and_why_and_wakes_the_bake(api: Api) -> None:
    rollout_id = running(api)
    sent = api.task_answers()

    answer = verb(api, "pause", rollout_id, {"reason": "checking the p99 dashboard"})

    assert answer.status == 202
    at = answer.body["at"]
    assert answer.body == {
        "rolloutId": rollout_id,
        "paused": True,
        "verb": "pause",
        "by": CALLER,
        "at": at,
        "reason": "checking the p99 dashboard",
        "step": 1,
        "weight": 10,
        "statusUrl": f"{ORDERS_LIVE}/{rollout_id}",
    }
    record = api.store.record(rollout_id)
    assert record is not None
    pause = {"by": CALLER, "at": at, "reason": "checking the p99 dashboard"}
    assert record["pause"] == pause
    assert record["requests"] == [{"verb": "pause", **pause}]
    assert sent == woken(rollout_id, f"paused by {CALLER}: checking the p99 dashboard")
    described = describe(api, rollout_id).body
    assert described["paused"] == pause
    assert described["requests"] == record["requests"]
    assert described["waiting"] == {"kind": "bake", "since": "2026-01-01T00:00:05+00:00"}


def test_pause_without_a_body_or_a_known_caller(api: Api) -> None:
    rollout_id = running(api)

    answer = verb(api, "pause", rollout_id, None, caller=None)

    assert answer.status == 202
    record = api.store.record(rollout_id)
    assert record is not None
    assert record["pause"] == {"by": "unknown caller", "at": answer.body["at"]}


def test_pause_cancels_a_promote_not_yet_taken(api: Api) -> None:
    rollout_id = running(api)
    verb(api, "promote", rollout_id)

    answer = verb(api, "pause", rollout_id)

    assert answer.status == 202
    record = api.store.record(rollout_id)
    assert record is not None and "promote" not in record and "pause" in record


def test_resume_removes_the_pause_and_wakes_the_bake(api: Api) -> None:
    rollout_id = running(api)
    verb(api, "pause", rollout_id, {"reason": "checking"})
    sent = api.task_answers()

    answer = verb(api, "resume", rollout_id, None)

    assert answer.status == 202
    assert answer.body == {
        "rolloutId": rollout_id,
        "resumed": True,
        "verb": "resume",
        "by": CALLER,
        "at": answer.body["at"],
        "step": 1,
        "weight": 10,
        "statusUrl": f"{ORDERS_LIVE}/{rollout_id}",
    }
    record = api.store.record(rollout_id)
    assert record is not None and "pause" not in record
    assert [r["verb"] for r in record["requests"]] == ["pause", "resume"]
    assert sent == woken(rollout_id, f"resumed by {CALLER}")
    assert describe(api, rollout_id).body["paused"] is None


def test_resume_takes_an_empty_object(api: Api) -> None:
    rollout_id = running(api)
    verb(api, "pause", rollout_id)

    assert verb(api, "resume", rollout_id, {}).status == 202


@pytest.mark.parametrize(
    ("asked", "body"),
    [("resume", {"reason": "logs are clean"}), ("promote", {"full": True, "reason": "hotfix"})],
)
def test_resume_and_promote_record_their_reason(api: Api, asked: str, body: dict[str, Any]) -> None:
    rollout_id = running(api)
    verb(api, "pause", rollout_id)

    answer = verb(api, asked, rollout_id, body)

    assert answer.status == 202, answer.body
    assert answer.body["reason"] == body["reason"]
    record = api.store.record(rollout_id)
    assert record is not None
    assert (record["requests"][-1]["verb"], record["requests"][-1]["reason"]) == (
        asked,
        body["reason"],
    )


@pytest.mark.parametrize("asked", ["resume", "promote"])
def test_a_reason_that_is_not_text_is_400_naming_it(api: Api, asked: str) -> None:
    rollout_id = running(api)
    verb(api, "pause", rollout_id)
    before = api.store.record(rollout_id)

    answer = verb(api, asked, rollout_id, {"reason": 7})

    assert answer.status == 400
    assert "reason" in str(answer.body)
    assert api.store.record(rollout_id) == before


@pytest.mark.parametrize("asked", ["promoted", "never-paused"])
def test_resume_when_not_paused_is_409_and_records_nothing(api: Api, asked: str) -> None:
    rollout_id = running(api)
    if asked == "promoted":  # a promote ends a pause
        verb(api, "pause", rollout_id)
        verb(api, "promote", rollout_id)
    before = api.store.record(rollout_id)
    sent = api.task_answers()

    answer = verb(api, "resume", rollout_id)

    assert answer.status == 409
    assert answer.body == {"message": f"rollout {rollout_id} is not paused; nothing to resume"}
    assert api.store.record(rollout_id) == before
    assert sent == []


@pytest.mark.parametrize(
    ("body", "full"),
    [
        pytest.param(..., False, id="sample-full-false"),
        pytest.param(None, False, id="no-body"),
        pytest.param({}, False, id="empty"),
        pytest.param({"full": True}, True, id="full"),
    ],
)
def test_promote_records_the_step_it_moves_past_and_wakes_the_bake(
    api: Api, body: Any, full: bool
) -> None:
    rollout_id = running(api)
    sent = api.task_answers()

    answer = verb(api, "promote", rollout_id, body)

    assert answer.status == 202
    at = answer.body["at"]
    assert answer.body == {
        "rolloutId": rollout_id,
        "promoteRequested": True,
        "verb": "promote",
        "by": CALLER,
        "at": at,
        "full": full,
        "step": 1,
        "weight": 10,
        "statusUrl": f"{ORDERS_LIVE}/{rollout_id}",
    }
    record = api.store.record(rollout_id)
    assert record is not None
    # The step it moves past, as the record counts them (stepIndex): never two steps.
    promote = {"by": CALLER, "at": at, "step": 0, "full": full}
    assert record["promote"] == promote
    assert record["requests"] == [
        {"verb": "promote", "by": CALLER, "at": at, "full": full, "step": 1}
    ]
    assert sent == woken(rollout_id, f"promoted by {CALLER}")
    assert describe(api, rollout_id).body["promoteRequested"] == promote


def test_promote_ends_a_pause(api: Api) -> None:
    rollout_id = running(api)
    verb(api, "pause", rollout_id)

    answer = verb(api, "promote", rollout_id)

    assert answer.status == 202
    record = api.store.record(rollout_id)
    assert record is not None and "pause" not in record and "promote" in record


@pytest.mark.parametrize("name", ["pause", "resume", "promote"])
def test_a_verb_leaves_a_hooks_wait_alone(api: Api, name: str) -> None:
    # Only an abort ends a hook's wait: the others are seen when the hook has answered.
    rollout_id = running(api, waiting="PostTraffic")
    if name == "resume":
        verb(api, "pause", rollout_id)
    sent = api.task_answers()

    answer = verb(api, name, rollout_id)

    assert answer.status == 202
    assert sent == []


@pytest.mark.parametrize("name", ["abort", "pause", "promote"])
def test_a_verb_between_tasks_is_recorded_for_the_next_look(api: Api, name: str) -> None:
    rollout_id = running(api, waiting=None)
    sent = api.task_answers()

    answer = verb(api, name, rollout_id)

    assert answer.status == 202
    assert sent == []  # nothing waits: the next task reads the request
    record = api.store.record(rollout_id)
    assert record is not None
    assert [r["verb"] for r in record["requests"]] == [name]


@pytest.mark.parametrize("outcome", [SUCCEEDED, ROLLED_BACK, "DRIFTED"])
@pytest.mark.parametrize("name", VERBS)
def test_a_verb_on_an_ended_rollout_is_409_saying_how_it_ended(
    api: Api, name: str, outcome: str
) -> None:
    rollout_id = running(api, waiting=None)
    reason = f"ended {outcome} at step 1 (10%)"
    api.store.update(rollout_id, "2026-01-01T00:06:00Z", status=outcome, reason=reason)
    before = api.store.record(rollout_id)
    sent = api.task_answers()

    answer = verb(api, name, rollout_id)

    assert answer.status == 409
    assert answer.body == {"message": f"rollout {rollout_id} already ended {outcome}: {reason}"}
    assert api.store.record(rollout_id) == before
    assert sent == []


@pytest.mark.parametrize("name", VERBS)
def test_a_verb_on_an_unknown_rollout_is_404(api: Api, name: str) -> None:
    answer = verb(api, name, "orders-api-live-v7-deadbeef")

    assert answer.status == 404
    assert answer.body == {"message": "no rollout orders-api-live-v7-deadbeef for orders-api:live"}


@pytest.mark.parametrize(("path", "subject"), OTHER_ALIASES)
@pytest.mark.parametrize("name", VERBS)
def test_scope_a_verb_on_another_alias_rollout_is_404_and_records_nothing(
    api: Api, name: str, path: dict[str, str], subject: str
) -> None:
    api.write_record(RECORDED)
    api.wait(RECORDED)
    sent = api.task_answers()

    answer = verb(api, name, RECORDED, **path)

    assert answer.status == 404
    assert answer.body == {"message": f"no rollout {RECORDED} for {subject}"}
    assert untouched(api.store.record(RECORDED))
    assert sent == []


@pytest.mark.parametrize("outcome", [SUCCEEDED, ROLLED_BACK])
@pytest.mark.parametrize("name", VERBS)
def test_scope_a_verb_on_another_alias_ended_rollout_is_404_not_409(
    api: Api, name: str, outcome: str
) -> None:
    # 409 "already ended" would tell that the id exists elsewhere.
    api.write_record(RECORDED)
    api.store.update(RECORDED, "2026-01-01T00:06:00Z", status=outcome)

    assert verb(api, name, RECORDED, alias="canary").status == 404


@pytest.mark.parametrize(
    ("name", "change", "bad"),
    [
        pytest.param("pause", {"raw_body": "hold!"}, ["body"], id="pause-not-json"),
        pytest.param("pause", {"body": ["hold"]}, ["body"], id="pause-not-an-object"),
        pytest.param("pause", {"body": {"reason": 42}}, ["reason"], id="pause-reason-not-text"),
        pytest.param(
            "pause", {"body": {"reason": "x" * 1001}}, ["reason"], id="pause-reason-too-long"
        ),
        pytest.param("pause", {"body": {"why": "x"}}, ["why"], id="pause-unknown-field"),
        pytest.param("resume", {"body": {"why": "x"}}, ["why"], id="resume-unknown-field"),
        pytest.param("resume", {"body": "go"}, ["body"], id="resume-not-an-object"),
        pytest.param("promote", {"body": {"full": "yes"}}, ["full"], id="promote-full-not-bool"),
        pytest.param("promote", {"body": {"full": 1}}, ["full"], id="promote-full-1"),
        pytest.param(
            "promote",
            {"body": {"fully": True, "step": 2}},
            ["fully", "step"],
            id="promote-unknown-fields",
        ),
        pytest.param(
            "abort", {"body": {"why": "x", "reason": 1}}, ["why", "reason"], id="abort-both"
        ),
    ],
)
def test_a_verb_with_a_bad_body_is_400_naming_the_field_and_records_nothing(
    api: Api, name: str, change: dict[str, Any], bad: list[str]
) -> None:
    rollout_id = running(api)
    if name == "resume":
        verb(api, "pause", rollout_id)
    before = api.store.record(rollout_id)
    sent = api.task_answers()

    answer = documented(
        api.call(request(f"{name}-rollout", rollout_id=rollout_id, **change)),
        f"{ROLLOUT_ROUTE}/{name}",
        "post",
    )

    assert answer.status == 400
    assert fields(answer) == bad
    assert api.store.record(rollout_id) == before
    assert sent == []


def test_a_pause_is_409_once_the_record_holds_all_the_requests_it_may(api: Api) -> None:
    rollout_id = running(api)
    for _ in range(MAX_REQUESTS):
        api.store.request(rollout_id, {"verb": "promote", "by": CALLER, "at": "t"}, "t")

    answer = verb(api, "pause", rollout_id)

    assert answer.status == 409
    assert f"already holds {MAX_REQUESTS} requests" in answer.body["message"]
    # ...and an abort is still taken.
    assert abort(api, rollout_id).status == 202


# -- no unscoped route ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/rollouts", id="start"),
        pytest.param("GET", "/rollouts", id="list"),
        pytest.param("GET", f"/rollouts/{RECORDED}", id="describe"),
        *(pytest.param("POST", f"/rollouts/{RECORDED}/{v}", id=v) for v in VERBS),
        pytest.param("GET", "/functions/orders-api/rollouts", id="no-alias"),
        pytest.param("GET", "/functions/orders-api/aliases/live", id="no-rollouts"),
    ],
)
def test_scope_the_old_unscoped_routes_are_not_found(api: Api, method: str, path: str) -> None:
    api.write_record(RECORDED)
    event = request("start-rollout" if method == "POST" else "describe-rollout")
    event.update(httpMethod=method, path=path, resource=path, pathParameters=None)
    event["requestContext"].update(httpMethod=method, path=f"/v1{path}", resourcePath=path)

    answer = api.call(event)

    assert answer.status == 404
    assert "no rollout" not in json.dumps(answer.body)  # the resolver's "not found", no route's
    assert api.executions() == []
    assert untouched(api.store.record(RECORDED))


# -- the samples ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["start-rollout", "describe-rollout", "list-rollouts", *(f"{v}-rollout" for v in VERBS)],
)
def test_every_sample_event_is_routed(api: Api, name: str) -> None:
    # Unknown rollouts are fine here: the point is that no sample falls through to a 404 route.
    answer = api.call(sample(name))

    assert answer.status in {200, 202, 404}
    if answer.status == 404:
        assert "no rollout" in answer.body["message"]
