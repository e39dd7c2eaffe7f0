"""api/openapi.yaml: a valid OpenAPI 3 document that says what the handler serves.

The routes (paths and methods) and operation ids are compared with the ones
Powertools generates from the resolver in functions/api/app.py, and every
operation must require the SigV4 scheme. (tests/template/test_api.py compares
them with the template's API events too.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from apitest import api_module
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from rollouts.errors import ValidationError
from rollouts.models import _ALIAS, parse_request
from rollouts.service import FUNCTION_NAME

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
SIGV4 = [{"sigv4": []}]
# The routes on a running rollout: POST .../rollouts/{rolloutId}/<verb>.
VERBS = ("abort", "pause", "resume", "promote")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    """What Powertools makes of the resolver's routes."""
    schema = api_module().app.get_openapi_schema()
    dumped: dict[str, Any] = json.loads(schema.model_dump_json(by_alias=True, exclude_none=True))
    return dumped


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method.upper()): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_the_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.")


def test_the_document_has_exactly_the_resolver_routes(
    document: dict[str, Any], generated: dict[str, Any]
) -> None:
    assert set(operations(document)) == set(operations(generated))
    alias_route = "/functions/{functionName}/aliases/{alias}/rollouts"
    assert set(operations(document)) == {
        (alias_route, "POST"),
        (alias_route, "GET"),
        (f"{alias_route}/{{rolloutId}}", "GET"),
        *((f"{alias_route}/{{rolloutId}}/{verb}", "POST") for verb in VERBS),
    }
    # No route may act without naming its function and alias (IAM scopes on them).
    assert all(path.startswith(alias_route) for path, _ in operations(generated))


def test_operation_ids_match_the_resolver(
    document: dict[str, Any], generated: dict[str, Any]
) -> None:
    documented = {key: op["operationId"] for key, op in operations(document).items()}
    served = {key: op["operationId"] for key, op in operations(generated).items()}

    assert documented == served


def test_every_operation_requires_sigv4(
    document: dict[str, Any], generated: dict[str, Any]
) -> None:
    scheme = document["components"]["securitySchemes"]["sigv4"]

    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert document["security"] == SIGV4
    for key, operation in operations(document).items():
        assert operation.get("security") == SIGV4, key
    # ...and no route of the resolver forgot it either.
    for key, operation in operations(generated).items():
        assert operation.get("security") == SIGV4, key


PATH_PARAMETERS = {
    "functionName": "#/components/parameters/FunctionName",
    "alias": "#/components/parameters/Alias",
    "rolloutId": "#/components/parameters/RolloutId",
}


def test_path_parameters_are_documented(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        named = re.findall(r"\{(\w+)\}", path)
        refs = [parameter["$ref"] for parameter in item["parameters"]]

        assert refs == [PATH_PARAMETERS[name] for name in named], path


def test_path_parameter_patterns_are_the_handlers(document: dict[str, Any]) -> None:
    parameters = document["components"]["parameters"]

    assert parameters["FunctionName"]["schema"]["pattern"] == f"^{FUNCTION_NAME.pattern}$"
    assert parameters["Alias"]["schema"]["pattern"] == f"^{_ALIAS.pattern.replace('^', '', 1)}$"
    schemas = document["components"]["schemas"]
    assert (
        schemas["ExecutionInput"]["properties"]["alias"]["pattern"]
        == (parameters["Alias"]["schema"]["pattern"])
    )


def test_the_start_body_takes_every_execution_input_field(document: dict[str, Any]) -> None:
    # Kept by hand beside ExecutionInput (without its required names): they must not drift.
    schemas = document["components"]["schemas"]

    assert set(schemas["StartRolloutBody"]["properties"]) == set(
        schemas["ExecutionInput"]["properties"]
    )
    assert set(schemas["StartRolloutBody"]["required"]) == set(
        schemas["ExecutionInput"]["required"]
    ) - {"functionName", "alias"}


def execution_input_schema(
    document: dict[str, Any], name: str = "ExecutionInput"
) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    # Carry the components along so that "#/components/schemas/..." references resolve.
    return {**schemas[name], "components": {"schemas": schemas}}


@pytest.mark.parametrize(
    "sample",
    sorted(p.name for p in (ROOT / "events" / "execution-input").glob("*.json")),
)
def test_every_valid_execution_input_sample_fits_the_documented_schema(
    document: dict[str, Any], sample: str
) -> None:
    payload = json.loads((ROOT / "events" / "execution-input" / sample).read_text())

    OAS30Validator(execution_input_schema(document)).validate(payload)


def test_the_start_sample_body_fits_the_documented_schema(document: dict[str, Any]) -> None:
    event = json.loads((ROOT / "events" / "api" / "start-rollout.json").read_text())
    body = json.loads(event["body"])

    OAS30Validator(execution_input_schema(document, "StartRolloutBody")).validate(body)
    # ...and so does what it starts: the body with the path's names.
    OAS30Validator(execution_input_schema(document)).validate({**event["pathParameters"], **body})


@pytest.mark.parametrize(
    "sample",
    sorted(p.name for p in (ROOT / "events" / "execution-input").glob("*.json")),
)
def test_every_valid_execution_input_is_a_start_body(document: dict[str, Any], sample: str) -> None:
    # A pipeline may send its execution input as it is, to the route of its function and
    # alias, unless it names the function by ARN: the body must name it as the path does.
    payload = json.loads((ROOT / "events" / "execution-input" / sample).read_text())
    validator = OAS30Validator(execution_input_schema(document, "StartRolloutBody"))

    if ":function:" in payload["functionName"]:
        assert not validator.is_valid(payload)
        payload["functionName"] = payload["functionName"].split(":function:")[-1]
    validator.validate(payload)


BASE = {"functionName": "orders-api", "alias": "live", "strategy": "AllAtOnce"}
GATED = {"steps": [{"weight": 10, "bakeSeconds": 300}, {"pause": {}}, {"pause": {"seconds": 600}}]}


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"createAlias": True}, id="create-alias"),
        pytest.param({"createAlias": False}, id="no-create-alias"),
        pytest.param({"strategy": GATED}, id="pause-steps"),
        pytest.param({"strategy": {"steps": [{"pause": {}}]}}, id="only-a-pause"),
        pytest.param(
            {"hooks": {"preTraffic": {"function": "orders-api-pre", "timeoutSeconds": 86400}}},
            id="hook-object",
        ),
        pytest.param(
            {"hooks": {"preTraffic": "orders-api-pre", "postTraffic": {"function": "post"}}},
            id="hook-name-and-object",
        ),
    ],
)
def test_what_the_models_accept_fits_the_documented_schema(
    document: dict[str, Any], changes: dict[str, Any]
) -> None:
    payload = {**BASE, **changes}
    parse_request(payload)  # the contract's own check

    OAS30Validator(execution_input_schema(document)).validate(payload)
    body = {k: v for k, v in payload.items() if k not in ("functionName", "alias")}
    OAS30Validator(execution_input_schema(document, "StartRolloutBody")).validate(body)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"createAlias": "yes"}, id="create-alias-not-boolean"),
        pytest.param({"strategy": {"steps": [{"pause": {"seconds": 0}}]}}, id="pause-0-seconds"),
        pytest.param({"strategy": {"steps": [{"pause": {"minutes": 5}}]}}, id="pause-minutes"),
        pytest.param(
            {"strategy": {"steps": [{"pause": {}, "weight": 10}]}}, id="pause-with-a-weight"
        ),
        pytest.param(
            {"strategy": {"steps": [{"weight": 10, "bakeSeconds": 1, "colour": "x"}]}},
            id="step-unknown-field",
        ),
        pytest.param(
            {"hooks": {"preTraffic": {"function": "pre", "timeoutSeconds": 0}}}, id="timeout-0"
        ),
        pytest.param(
            {"hooks": {"preTraffic": {"function": "pre", "timeoutSeconds": 86401}}},
            id="timeout-over-a-day",
        ),
        pytest.param({"hooks": {"preTraffic": {"timeoutSeconds": 60}}}, id="hook-no-function"),
        pytest.param(
            {"hooks": {"preTraffic": {"function": "pre", "retries": 2}}}, id="hook-unknown-field"
        ),
    ],
)
def test_what_the_models_refuse_the_documented_schema_refuses(
    document: dict[str, Any], changes: dict[str, Any]
) -> None:
    payload = {**BASE, **changes}
    with pytest.raises(ValidationError):
        parse_request(payload)

    assert not OAS30Validator(execution_input_schema(document)).is_valid(payload)


@pytest.mark.parametrize(
    ("verb", "schema"),
    [
        ("abort", "AbortRequest"),
        ("pause", "PauseRequest"),
        ("resume", "ResumeRequest"),
        ("promote", "PromoteRequest"),
    ],
)
def test_each_verb_sample_fits_its_documented_request(
    document: dict[str, Any], verb: str, schema: str
) -> None:
    event = json.loads((ROOT / "events" / "api" / f"{verb}-rollout.json").read_text())
    path = f"/functions/{{functionName}}/aliases/{{alias}}/rollouts/{{rolloutId}}/{verb}"
    operation = document["paths"][path]["post"]

    assert (event["resource"], event["httpMethod"]) == (path, "POST")
    assert event["requestContext"]["resourcePath"] == path
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{schema}"
    }
    body = json.loads(event["body"]) if event["body"] else {}
    OAS30Validator(execution_input_schema(document, schema)).validate(body)
