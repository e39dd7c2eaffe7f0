"""The REST API in the stack: IAM (SigV4) on every method, the documented routes, one handler.

Checked on the CloudFormation SAM makes of template.yaml (see conftest.py):
the `AWS::ApiGateway::RestApi` body SAM generates from ApiFunction's events.
ApiFunction's role is checked with the other functions' in test_template.py
(EXPECTED_GRANTS).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
Template = dict[str, Any]
METHODS = {
    "get",
    "put",
    "post",
    "delete",
    "patch",
    "head",
    "options",
    "x-amazon-apigateway-any-method",
}
# Every route names its function and alias: IAM policies on execute-api:Invoke scope on them.
ALIAS_ROUTE = "/functions/{functionName}/aliases/{alias}/rollouts"
ROUTES = {
    (ALIAS_ROUTE, "post"),
    (ALIAS_ROUTE, "get"),
    (f"{ALIAS_ROUTE}/{{rolloutId}}", "get"),
    (f"{ALIAS_ROUTE}/{{rolloutId}}/abort", "post"),
    (f"{ALIAS_ROUTE}/{{rolloutId}}/pause", "post"),
    (f"{ALIAS_ROUTE}/{{rolloutId}}/resume", "post"),
    (f"{ALIAS_ROUTE}/{{rolloutId}}/promote", "post"),
}
HANDLER_URI = {
    "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
    "${ApiFunction.Arn}/invocations"
}


@pytest.fixture(scope="module")
def rest_api(cfn_template: Template) -> dict[str, Any]:
    apis = {
        logical_id: resource
        for logical_id, resource in cfn_template["Resources"].items()
        if resource["Type"] == "AWS::ApiGateway::RestApi"
    }
    assert set(apis) == {"RolloutApi"}
    api: dict[str, Any] = apis["RolloutApi"]
    return api


@pytest.fixture(scope="module")
def methods(rest_api: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every method of the generated API body, by (path, method)."""
    return {
        (path, method): operation
        for path, item in rest_api["Properties"]["Body"]["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


@pytest.fixture(scope="module")
def stage(cfn_template: Template) -> dict[str, Any]:
    stages = [
        resource["Properties"]
        for resource in cfn_template["Resources"].values()
        if resource["Type"] == "AWS::ApiGateway::Stage"
    ]
    assert len(stages) == 1
    only: dict[str, Any] = stages[0]
    return only


def test_the_api_has_exactly_the_seven_routes(methods: dict[tuple[str, str], Any]) -> None:
    assert set(methods) == ROUTES


def test_no_route_is_outside_a_function_and_alias(methods: dict[tuple[str, str], Any]) -> None:
    # An unscoped route would let anyone allowed to invoke it act on any function.
    assert all(path.startswith(ALIAS_ROUTE) for path, _ in methods)


def test_the_routes_are_the_documented_ones(methods: dict[tuple[str, str], Any]) -> None:
    document = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text(encoding="utf-8"))
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }

    assert documented == set(methods)


def test_every_method_requires_aws_iam(
    rest_api: dict[str, Any], methods: dict[tuple[str, str], dict[str, Any]]
) -> None:
    body = rest_api["Properties"]["Body"]
    (scheme,) = body["securityDefinitions"].values()

    # API Gateway gives a method AuthorizationType AWS_IAM for an awsSigv4 scheme.
    assert scheme == {
        "in": "header",
        "type": "apiKey",
        "name": "Authorization",
        "x-amazon-apigateway-authtype": "awsSigv4",
    }
    (scheme_name,) = body["securityDefinitions"]
    for key, operation in methods.items():
        assert operation["security"] == [{scheme_name: []}], key


def test_no_method_is_declared_outside_the_body(cfn_template: Template) -> None:
    # An AWS::ApiGateway::Method resource could carry its own AuthorizationType (e.g. NONE).
    kinds = {resource["Type"] for resource in cfn_template["Resources"].values()}

    assert "AWS::ApiGateway::Method" not in kinds
    assert "AWS::ApiGatewayV2::Api" not in kinds


def test_every_method_proxies_to_the_api_function_with_its_own_permission(
    methods: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for key, operation in methods.items():
        integration = operation["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", key
        assert integration["uri"] == HANDLER_URI, key
        # No "credentials": API Gateway must not call Lambda with the caller's
        # credentials (SAM's AWS_IAM default) but through the function's policy.
        assert "credentials" not in integration, key


def test_api_gateway_may_invoke_the_api_function_only_from_this_api(
    cfn_template: Template,
) -> None:
    permissions = [
        resource["Properties"]
        for resource in cfn_template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Permission"
        and resource["Properties"]["FunctionName"] == {"Ref": "ApiFunction"}
    ]

    routes = set()
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["Action"] == "lambda:InvokeFunction"
        pattern, variables = permission["SourceArn"]["Fn::Sub"]
        assert variables["__ApiId__"] == {"Ref": "RolloutApi"}
        prefix = "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/${__Stage__}/"
        assert pattern.startswith(prefix)
        method, _, path = pattern.removeprefix(prefix).partition("/")
        routes.add((f"/{path}", method.lower()))

    # SAM writes each path parameter as "*".
    assert routes == {(re.sub(r"\{\w+\}", "*", path), method) for path, method in ROUTES}


def test_stage_is_traced_throttled_and_access_logged(
    cfn_template: Template, stage: dict[str, Any]
) -> None:
    assert stage["StageName"] == "v1"
    assert stage["TracingEnabled"] is True
    (defaults,) = stage["MethodSettings"]
    assert (defaults["ResourcePath"], defaults["HttpMethod"]) == ("/*", "*")
    assert defaults["ThrottlingBurstLimit"] > 0 and defaults["ThrottlingRateLimit"] > 0
    log_group = stage["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    assert cfn_template["Resources"][log_group]["Properties"]["RetentionInDays"] == 30


def test_the_api_function_knows_the_state_machine(cfn_template: Template) -> None:
    variables = cfn_template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]

    assert variables["STATE_MACHINE_ARN"] == {"Ref": "RolloutStateMachine"}
    assert variables["TABLE_NAME"] == {"Ref": "RolloutTable"}


def test_outputs_give_the_api_url_and_its_execute_arn(cfn_template: Template) -> None:
    outputs = cfn_template["Outputs"]

    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${RolloutApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1"
    }
    # The prefix the README's policies build on: <prefix>/<METHOD>/functions/...
    # (tests/api/test_readme_policies.py checks them against it).
    assert outputs["ApiExecuteArn"]["Value"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        "${RolloutApi}/v1"
    }
