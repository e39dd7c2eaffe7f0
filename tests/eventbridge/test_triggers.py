"""rollouts.triggers: which events start a rollout, and the request a tagged function asks for.

Pure functions, table tests, one named row per case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rollouts.errors import ValidationError
from rollouts.models import parse_request
from rollouts.triggers import (
    DEFAULT_STRATEGY,
    Trigger,
    request_from_tags,
    split_names,
    trigger_of,
)

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "eventbridge"
# responseElements.codeSha256 of cloudtrail-update-function-code.json
SAMPLE_SHA = "3Uq0pK8yZr3nW1v9mX2cT7bE6hJ4sL5dA0fG8kQ1wYo="


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


# -- request_from_tags -------------------------------------------------------------------
REQUESTS: dict[str, tuple[dict[str, str], dict[str, Any] | None]] = {
    "full-tags": (
        {
            "rollouts:alias": "live",
            "rollouts:strategy": "Linear10PercentEvery1Minute",
            "rollouts:alarms": "orders-errors orders-p99",
            "rollouts:pre-traffic": "orders-api-smoke",
            "rollouts:post-traffic": "arn:aws:lambda:us-east-1:123456789012:function:orders-post",
            "team": "orders",
        },
        {
            "functionName": "orders-api",
            "alias": "live",
            "strategy": "Linear10PercentEvery1Minute",
            "alarms": ["orders-errors", "orders-p99"],
            "hooks": {
                "preTraffic": "orders-api-smoke",
                "postTraffic": "arn:aws:lambda:us-east-1:123456789012:function:orders-post",
            },
        },
    ),
    "only-alias": (
        {"rollouts:alias": "live"},
        {"functionName": "orders-api", "alias": "live", "strategy": DEFAULT_STRATEGY},
    ),
    "alarms-comma-separated": (
        {"rollouts:alias": "live", "rollouts:alarms": "a,b, c"},
        {
            "functionName": "orders-api",
            "alias": "live",
            "strategy": DEFAULT_STRATEGY,
            "alarms": ["a", "b", "c"],
        },
    ),
    "alarms-blank": (
        {"rollouts:alias": "live", "rollouts:alarms": "  "},
        {"functionName": "orders-api", "alias": "live", "strategy": DEFAULT_STRATEGY},
    ),
    "only-pre-traffic": (
        {"rollouts:alias": "live", "rollouts:pre-traffic": "smoke"},
        {
            "functionName": "orders-api",
            "alias": "live",
            "strategy": DEFAULT_STRATEGY,
            "hooks": {"preTraffic": "smoke"},
        },
    ),
    "values-trimmed": (
        {"rollouts:alias": " live ", "rollouts:strategy": " AllAtOnce "},
        {"functionName": "orders-api", "alias": "live", "strategy": "AllAtOnce"},
    ),
    "blank-strategy-is-the-default": (
        {"rollouts:alias": "live", "rollouts:strategy": ""},
        {"functionName": "orders-api", "alias": "live", "strategy": DEFAULT_STRATEGY},
    ),
    "untagged": ({}, None),
    "other-tags-only": ({"team": "orders", "rollouts:strategy": "AllAtOnce"}, None),
    "blank-alias": ({"rollouts:alias": " "}, None),
}


@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_request_from_tags(case: str) -> None:
    tags, expected = REQUESTS[case]

    assert request_from_tags("orders-api", tags) == expected


@pytest.mark.parametrize("case", [c for c, (_, r) in sorted(REQUESTS.items()) if r is not None])
def test_a_request_from_good_tags_is_a_valid_execution_input(case: str) -> None:
    request = request_from_tags("orders-api", REQUESTS[case][0])

    parsed = parse_request(request)
    assert parsed.version is None  # the state machine publishes $LATEST


@pytest.mark.parametrize(
    ("tags", "field"),
    [
        pytest.param({"rollouts:strategy": "Canary10Percent"}, "strategy", id="bad-strategy"),
        pytest.param({"rollouts:alias": "42"}, "alias", id="numeric-alias"),
        pytest.param({"rollouts:alarms": "a a"}, "alarms[1]", id="duplicate-alarm"),
        pytest.param({"rollouts:pre-traffic": "not a name"}, "hooks.preTraffic", id="bad-hook"),
    ],
)
def test_a_bad_tag_is_passed_on_and_refused_by_validation_naming_the_field(
    tags: dict[str, str], field: str
) -> None:
    request = request_from_tags("orders-api", {"rollouts:alias": "live", **tags})

    with pytest.raises(ValidationError) as refused:
        parse_request(request)
    assert refused.value.field == field


def test_a_code_update_pins_the_code_it_uploaded() -> None:
    request = request_from_tags("orders-api", {"rollouts:alias": "live"}, code_sha256=SAMPLE_SHA)

    assert request == {
        "functionName": "orders-api",
        "alias": "live",
        "strategy": DEFAULT_STRATEGY,
        "codeSha256": SAMPLE_SHA,
    }
    parsed = parse_request(request)
    assert (parsed.version, parsed.code_sha256) == (None, SAMPLE_SHA)


def test_a_malformed_code_sha256_is_refused_naming_it() -> None:
    request = request_from_tags("orders-api", {"rollouts:alias": "live"}, code_sha256="abc")

    with pytest.raises(ValidationError) as refused:
        parse_request(request)
    assert refused.value.field == "codeSha256"


def test_an_untagged_function_asks_for_nothing_whatever_its_code() -> None:
    assert request_from_tags("orders-api", {}, code_sha256=SAMPLE_SHA) is None


@pytest.mark.parametrize(
    ("value", "names"),
    [
        pytest.param("a b", ["a", "b"], id="spaces"),
        pytest.param("a,b", ["a", "b"], id="commas"),
        pytest.param(" a ,  b\tc ", ["a", "b", "c"], id="mixed"),
        pytest.param("", [], id="empty"),
        pytest.param(",,", [], id="only-separators"),
    ],
)
def test_split_names(value: str, names: list[str]) -> None:
    assert split_names(value) == names


# -- trigger_of ----------------------------------------------------------------------------
def trigger_of_sample(name: str) -> Trigger:
    event = sample(name)
    return trigger_of(event["source"], event["detail-type"], event["detail"])


SAMPLE_TRIGGERS = {
    "rollout-requested.json": ("requested", None, None),
    "cloudtrail-update-function-code.json": ("code-update", "orders-api", SAMPLE_SHA),
    "cloudtrail-update-function-code-failed.json": ("other", None, None),
    "cloudtrail-publish-version.json": ("other", None, None),
    "status-succeeded.json": ("other", None, None),
    "execution-aborted.json": ("other", None, None),
}


@pytest.mark.parametrize("name", sorted(SAMPLE_TRIGGERS))
def test_trigger_of_a_sample(name: str) -> None:
    trigger = trigger_of_sample(name)

    assert (trigger.kind, trigger.function_name, trigger.code_sha256) == SAMPLE_TRIGGERS[name]


def test_the_sample_code_update_asks_for_exactly_its_code() -> None:
    trigger = trigger_of_sample("cloudtrail-update-function-code.json")
    assert trigger.function_name is not None

    request = request_from_tags(
        trigger.function_name, {"rollouts:alias": "live"}, trigger.code_sha256
    )

    assert parse_request(request).code_sha256 == SAMPLE_SHA


def test_a_requested_trigger_carries_the_detail_as_sent() -> None:
    event = sample("rollout-requested.json")

    assert trigger_of_sample("rollout-requested.json").request == event["detail"]


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        pytest.param(
            {"requestParameters": {"functionName": "orders-api"}},
            ("code-update", "orders-api"),
            id="name",
        ),
        pytest.param(
            {
                "requestParameters": {
                    "functionName": "arn:aws:lambda:us-east-1:123456789012:function:orders-api"
                }
            },
            ("code-update", "arn:aws:lambda:us-east-1:123456789012:function:orders-api"),
            id="arn",
        ),
        pytest.param({"requestParameters": None}, ("other", None), id="no-parameters"),
        pytest.param({"requestParameters": {"functionName": ""}}, ("other", None), id="blank"),
        pytest.param(
            {"requestParameters": {"functionName": "orders-api"}, "errorCode": "AccessDenied"},
            ("other", None),
            id="failed-call",
        ),
        pytest.param(
            {"eventName": "UpdateFunctionConfiguration20150331v2"},
            ("other", None),
            id="configuration",
        ),
        pytest.param({"eventSource": None}, ("other", None), id="malformed"),
        pytest.param(
            {"requestParameters": {"functionName": "orders-api", "dryRun": True}},
            ("other", None),
            id="dry-run-changed-nothing",
        ),
        pytest.param(
            {"requestParameters": {"functionName": "orders-api", "dryRun": False}},
            ("code-update", "orders-api"),
            id="not-a-dry-run",
        ),
    ],
)
def test_trigger_of_a_cloudtrail_detail(detail: dict[str, Any], expected: tuple[str, Any]) -> None:
    base = {
        "eventSource": "lambda.amazonaws.com",
        "eventName": "UpdateFunctionCode20150331v2",
        "requestParameters": {"functionName": "orders-api"},
    }

    trigger = trigger_of("aws.lambda", "AWS API Call via CloudTrail", {**base, **detail})

    assert (trigger.kind, trigger.function_name) == expected


@pytest.mark.parametrize(
    ("response", "code_sha256"),
    [
        pytest.param({"codeSha256": SAMPLE_SHA}, SAMPLE_SHA, id="given"),
        pytest.param({"codeSha256": "not base64"}, "not base64", id="passed-on-as-sent"),
        pytest.param({}, None, id="absent"),
        pytest.param(None, None, id="no-response-elements"),
        pytest.param({"codeSha256": ""}, None, id="blank"),
        pytest.param({"codeSha256": 7}, None, id="not-a-text"),
    ],
)
def test_a_code_updates_code_sha256_comes_from_its_response(
    response: dict[str, Any] | None, code_sha256: str | None
) -> None:
    detail = {
        "eventSource": "lambda.amazonaws.com",
        "eventName": "UpdateFunctionCode20150331v2",
        "requestParameters": {"functionName": "orders-api"},
        "responseElements": response,
    }

    trigger = trigger_of("aws.lambda", "AWS API Call via CloudTrail", detail)

    assert (trigger.kind, trigger.code_sha256) == ("code-update", code_sha256)
