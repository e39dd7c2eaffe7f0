"""The README's IAM policies do what it says, on the routes the API really has.

The two example policies ("The REST API" in README.md) are read from the README
itself and evaluated with moto's IAM policy evaluator (``IAMPolicy``, which
matches Action and Resource wildcards as IAM does, ``*`` spanning ``/``; the
policies use no Condition, so that is all there is to evaluate) against the
method ARN of every route, for the function and alias they name and for its
near neighbours. The routes come from api/openapi.yaml and from the template's
ApiFunction events, which must agree; the README's route table and its curl
example must name those routes too.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.iam.access_control import IAMPolicy, PermissionResult
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
# The README's example ApiExecuteArn: the template's output for these values.
EXAMPLE = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "RolloutApi": "a1b2c3d4e5",
}
PREFIX = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/v1"
ROLLOUT_ID = "orders-api-live-v7-1a2b3c4d"
PIPELINE_SID = "RollOutOrdersApiLive"
WATCHER_SID = "WatchOrdersApiLive"
MINE = ("orders-api", "live")
# Neighbours a careless wildcard would let in: other aliases, names sharing a prefix.
OTHERS = [
    ("orders-api", "canary"),
    ("orders-api", "live-test"),
    ("orders-api", "livex"),
    ("orders-api-evil", "live"),
    ("orders-apix", "live"),
    ("orders", "live"),
    ("payments", "live"),
]
Route = tuple[str, str]  # (METHOD, path template)
# The verbs on a running rollout, each its own route: a pipeline's, never a watcher's.
VERB_ROUTES = [
    ("POST", f"/functions/{{functionName}}/aliases/{{alias}}/rollouts/{{rolloutId}}/{verb}")
    for verb in ("abort", "pause", "resume", "promote")
]


# -- reading the README, the OpenAPI document and the template ---------------------------
@cache
def api_section() -> str:
    """README.md's "### The REST API", up to the next section of its level or above."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("### The REST API\n")
    end = re.compile(r"^#{1,3} ", re.MULTILINE).search(text, start + 1)
    return text[start : end.start() if end else len(text)]


@cache
def policies() -> dict[str, dict[str, Any]]:
    """The section's JSON policies, by their one statement's Sid."""
    found: dict[str, dict[str, Any]] = {}
    for block in re.findall(r"```json\n(.*?)```", api_section(), re.DOTALL):
        document = json.loads(block)
        if isinstance(document, dict) and "Statement" in document:
            (statement,) = document["Statement"]
            found[statement["Sid"]] = document
    return found


def openapi_routes() -> set[Route]:
    document = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text(encoding="utf-8"))
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


@cache
def template() -> dict[str, Any]:
    """template.yaml with long-form intrinsics, read as the project reads it elsewhere."""
    loaded: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    return loaded


def template_routes() -> set[Route]:
    events = template()["Resources"]["ApiFunction"]["Properties"]["Events"]
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for event in events.values()
        if event["Type"] == "Api"
    }


@cache
def routes() -> frozenset[Route]:
    """Every route, once the document and the template are known to agree."""
    assert openapi_routes() == template_routes()
    return frozenset(openapi_routes())


def method_arn(route: Route, function_name: str, alias: str) -> str:
    """What IAM is asked about a request to ``route`` for ``function_name:alias``."""
    method, template_path = route
    values = {"functionName": function_name, "alias": alias, "rolloutId": ROLLOUT_ID}
    path = re.sub(r"\{(\w+)\}", lambda m: values[m[1]], template_path)
    return f"{PREFIX}/{method}{path}"


def allowed(policy: dict[str, Any], arn: str) -> bool:
    answer = IAMPolicy(json.dumps(policy)).is_action_permitted("execute-api:Invoke", arn)
    return bool(answer == PermissionResult.PERMITTED)


# -- the policies ---------------------------------------------------------------------------
def test_the_readme_shows_the_pipeline_and_the_watcher_policy() -> None:
    assert set(policies()) == {PIPELINE_SID, WATCHER_SID}


@pytest.mark.parametrize("sid", [PIPELINE_SID, WATCHER_SID])
def test_a_policy_is_plain_allows_on_the_api_execute_arn(sid: str) -> None:
    # No Condition, NotAction, NotResource or Deny: what the evaluator checks is all of it.
    (statement,) = policies()[sid]["Statement"]

    assert set(statement) == {"Sid", "Effect", "Action", "Resource"}
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    assert all(resource.startswith(f"{PREFIX}/") for resource in statement["Resource"])


def test_the_example_prefix_is_what_the_api_execute_arn_output_gives() -> None:
    value = template()["Outputs"]["ApiExecuteArn"]["Value"]["Fn::Sub"]

    rendered = re.sub(r"\$\{([\w:]+)\}", lambda m: EXAMPLE[m[1]], value)

    assert rendered == PREFIX


def test_the_pipeline_may_do_everything_to_its_own_alias() -> None:
    policy = policies()[PIPELINE_SID]

    denied = [route for route in routes() if not allowed(policy, method_arn(route, *MINE))]

    assert denied == []
    assert {method for method, _ in routes()} == {"GET", "POST"}


@pytest.mark.parametrize("route", VERB_ROUTES, ids=lambda route: route[1].rsplit("/", 1)[-1])
def test_the_pipeline_may_abort_pause_resume_and_promote_its_rollouts_only(route: Route) -> None:
    policy = policies()[PIPELINE_SID]

    assert route in routes()
    assert allowed(policy, method_arn(route, *MINE))
    let_in = [other for other in OTHERS if allowed(policy, method_arn(route, *other))]
    assert let_in == []


@pytest.mark.parametrize("route", VERB_ROUTES, ids=lambda route: route[1].rsplit("/", 1)[-1])
def test_the_watcher_may_not_abort_pause_resume_or_promote(route: Route) -> None:
    policy = policies()[WATCHER_SID]

    assert route in routes()
    assert [who for who in [MINE, *OTHERS] if allowed(policy, method_arn(route, *who))] == []


@pytest.mark.parametrize(("function_name", "alias"), OTHERS)
def test_the_pipeline_may_do_nothing_to_another_alias(function_name: str, alias: str) -> None:
    policy = policies()[PIPELINE_SID]

    let_in = [r for r in routes() if allowed(policy, method_arn(r, function_name, alias))]

    assert let_in == []


def test_the_watcher_may_only_read_its_alias() -> None:
    policy = policies()[WATCHER_SID]

    decided = {route: allowed(policy, method_arn(route, *MINE)) for route in routes()}

    assert decided == {route: route[0] == "GET" for route in routes()}


@pytest.mark.parametrize(("function_name", "alias"), OTHERS)
def test_the_watcher_may_read_nothing_of_another_alias(function_name: str, alias: str) -> None:
    policy = policies()[WATCHER_SID]

    let_in = [r for r in routes() if allowed(policy, method_arn(r, function_name, alias))]

    assert let_in == []


@pytest.mark.parametrize("sid", [PIPELINE_SID, WATCHER_SID])
def test_no_policy_reaches_another_stage_or_api(sid: str) -> None:
    policy = policies()[sid]
    arns = [method_arn(route, *MINE) for route in routes()]

    elsewhere = [
        arn.replace("a1b2c3d4e5/v1/", other, 1)
        for arn in arns
        for other in ("a1b2c3d4e5/v2/", "ffffffffff/v1/")
    ]

    assert [arn for arn in elsewhere if allowed(policy, arn)] == []


def test_the_evaluator_matches_as_iam_does() -> None:
    # What the tests above rely on: "*" spans "/", and a literal segment is literal.
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "a/*"}],
    }

    assert allowed(policy, "a/b/c")
    assert not allowed(policy, "ab/c")
    assert not allowed(policy, "a")


# -- the README's other examples name the real routes ---------------------------------------
def test_the_readme_route_table_is_the_routes() -> None:
    rows = re.findall(r"^\| `(GET|POST) (/[^`\[ ]+)", api_section(), re.MULTILINE)

    assert set(rows) == set(routes())
    assert len(rows) == len(routes())


def test_every_api_call_in_the_readme_is_to_a_route() -> None:
    called = re.findall(r"-X (POST|GET) \"\$API(/[^\"]*)\"", api_section())
    patterns = {
        (method, re.sub(r"\\\{\w+\\\}", "[A-Za-z0-9_-]+", re.escape(path)))
        for method, path in routes()
    }

    assert called, "the README shows no call of the API"
    for method, path in called:
        assert any(m == method and re.fullmatch(p, path) for m, p in patterns), (method, path)
