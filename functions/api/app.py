"""The REST API for pipelines: start, describe and list rollouts, and act on a running one.

API Gateway (IAM/SigV4 on every route) proxies each request here; the routes
parse, call ``rollouts.service`` (the same validation, execution names and
record as every other way in) and answer JSON. ``api/openapi.yaml`` documents
them, and a test keeps the two equal.

Every route names the function and alias it acts on, so that an IAM policy on
``execute-api:Invoke`` can confine a caller to its own (the README shows one);
no route acts on a rollout of another function or alias. Under
``/functions/{functionName}/aliases/{alias}``:

- ``POST /rollouts``: 202 ``{rolloutId, executionArn, status, statusUrl}``; the body
  may leave out ``functionName`` and ``alias`` (the path's are used) and must not
  name others. With an ``Idempotency-Key`` header, a retry answers the first 202
  and starts nothing.
- ``GET /rollouts[?limit=&nextToken=]``: the alias's history.
- ``GET /rollouts/{rolloutId}``: status, step, weight, steps and checks, people's
  requests, what it waits for, and why it ended.
- ``POST /rollouts/{rolloutId}/abort`` (``{"reason"}`` optional): it rolls back
  within seconds.
- ``POST /rollouts/{rolloutId}/pause`` (``{"reason"}`` optional): it holds its weight
  until resumed or promoted (health is still watched).
- ``POST /rollouts/{rolloutId}/resume`` (``{"reason"}`` optional): a paused rollout goes on.
- ``POST /rollouts/{rolloutId}/promote`` (``{"full": true, "reason"}`` optional): its bake or
  pause ends now and it takes the next step (``full``: 100% at once), health allowing.

Each verb records the caller (its IAM ARN) and wakes the rollout, so that its bake,
or (for an abort) a hook's wait, ends at once; it answers 202 with what was recorded
and ``statusUrl``. A verb the rollout cannot take answers 409: it has ended (the
message says how), or it cannot take it now (resume when not paused).

A rollout id of another function or alias answers 404, as an unknown one does.
"""

import json
import os
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollouts import clock, service
from rollouts.aws import CALLER, client, table
from rollouts.errors import (
    AwsError,
    NotFoundError,
    RolloutInProgressError,
    ThrottlingError,
    ValidationError,
)
from rollouts.notify import StatusEvents
from rollouts.store import RolloutStore, TooManyRequestsOnRecordError

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_LIMIT = 255
# A retried start within a day answers the first 202 (the table's TTL removes the record).
IDEMPOTENCY_SECONDS = 24 * 60 * 60
# Idempotency records share the rollout table under their own partition, apart from the
# hook answers RunHook keeps (IDEMPOTENCY#hooks): neither role may write the other's.
IDEMPOTENCY_PK = "IDEMPOTENCY#api"
DEFAULT_PAGE_SIZE = 20
# A verb's reason, as the record keeps it.
REASON_LIMIT = 1000
UNKNOWN_CALLER = "unknown caller"
# Every operation requires SigV4 (API Gateway's AWS_IAM authorization); see api/openapi.yaml.
SIGV4: list[dict[str, list[str]]] = [{"sigv4": []}]
JSON = content_types.APPLICATION_JSON

# What app.get_openapi_schema() says; api/openapi.yaml is the full document.
app.configure_openapi(
    title="Lambda Rollouts API",
    version="0.1.0",
    security_schemes={
        "sigv4": APIKey.model_validate(
            {"name": "Authorization", "in": APIKeyIn.header, "description": "AWS SigV4"}
        )
    },
    security=SIGV4,
)


# -- the AWS edge ---------------------------------------------------------------
def _store() -> RolloutStore:
    return RolloutStore(table(os.environ["TABLE_NAME"], retries=CALLER))


def _state_machine_arn() -> str:
    return os.environ["STATE_MACHINE_ARN"]


# -- the request ------------------------------------------------------------------
# Every route's prefix: IAM policies match on it (see the README).
ALIAS_ROUTE = "/functions/<functionName>/aliases/<alias>/rollouts"


def _refuse_bad_path(function_name: str, alias: str) -> None:
    """400 naming ``functionName`` or ``alias`` when the path's is not a plain name."""
    problems = service.path_problems(function_name, alias)
    if problems:
        raise ValidationError.from_errors(problems)


def _caller() -> str:
    """Who is asking: the IAM principal API Gateway authenticated (SigV4)."""
    return app.current_event.request_context.identity.user_arn or UNKNOWN_CALLER


def _json_body(required: bool) -> Any:
    """The request body as JSON; None when absent and not required."""
    body = app.current_event.decoded_body
    if body is None or not body.strip():
        if required:
            raise ValidationError("body", "required: a JSON object (the execution input)")
        return None
    try:
        return json.loads(body)
    except ValueError as error:
        raise ValidationError("body", f"is not JSON ({error})") from None


# What a verb's body may hold: each field's check, and what to say when it fails.
BodyField = tuple[Callable[[Any], bool], str]
REASON: BodyField = (
    lambda value: isinstance(value, str) and len(value) <= REASON_LIMIT,
    f"must be a text of at most {REASON_LIMIT} characters",
)
FULL: BodyField = (
    lambda value: isinstance(value, bool),
    "must be true (to 100% now) or false (the next step)",
)


def _verb_body(example: str, **accepted: BodyField) -> dict[str, Any]:
    """A verb's optional body: a JSON object of ``accepted`` fields only, each valid.

    No body is ``{}``, and a field given as null is left out. A 400 names ``body``
    when it is not a JSON object, else every unknown field and every bad value.
    """
    body = _json_body(required=False)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValidationError("body", f"must be a JSON object, e.g. {example}")
    known = f"accepted: {', '.join(accepted)}" if accepted else "this takes no fields"
    errors = [(name, f"unknown field; {known}") for name in body if name not in accepted]
    errors += [
        (name, message)
        for name, (valid, message) in accepted.items()
        if body.get(name) is not None and not valid(body[name])
    ]
    if errors:
        raise ValidationError.from_errors(errors)
    return {name: value for name, value in body.items() if value is not None}


def _status_url(function_name: str, alias: str, rollout_id: str) -> str:
    """The absolute URL that describes the rollout, as the caller reached this API.

    requestContext.path is the path the caller sent (``/v1/functions/...`` on the
    execute-api domain, ``/<base path>/functions/...`` on a custom domain) and the
    event's path the resource path (``/functions/...``): what precedes it is the prefix.
    """
    event = app.current_event
    context = event.request_context
    path = "/".join(
        ("", "functions", function_name, "aliases", alias, "rollouts", quote(rollout_id, safe=""))
    )
    domain = context.domain_name or event.headers.get("Host")
    if not domain:
        return path
    sent = context.path or ""
    if event.path and sent.endswith(event.path):
        prefix = sent[: len(sent) - len(event.path)]
    else:
        prefix = f"/{context.stage}" if context.stage else ""
    return f"https://{domain}{prefix}{path}"


def _query(name: str) -> str | None:
    value = app.current_event.query_string_parameters.get(name)
    return value if value else None


def _limit() -> int:
    text = _query("limit")
    if text is None:
        return DEFAULT_PAGE_SIZE
    try:
        return int(text)
    except ValueError:
        raise ValidationError(
            "limit", f"must be a whole number from 1 to {service.MAX_PAGE_SIZE}, not {text!r}"
        ) from None


def _json(status: HTTPStatus, body: dict[str, Any], **headers: str) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=JSON, body=body, headers=headers or None)


# -- starting, once per Idempotency-Key -----------------------------------------------
def _start(payload: Any, function_name: str, alias: str) -> dict[str, Any]:
    started = service.start_rollout(
        payload,
        client("stepfunctions", retries=CALLER),
        _store(),
        _state_machine_arn(),
        events=StatusEvents(client("events", retries=CALLER)),
    )
    metrics.add_metric(name="RolloutsRequested", unit=MetricUnit.Count, value=1)
    logger.info("rollout started", extra={"rolloutId": started.rollout_id, "caller": _caller()})
    return {
        **started.as_json(),
        "statusUrl": _status_url(function_name, alias, started.rollout_id),
    }


def _start_once(key: str, payload: Any, function_name: str, alias: str) -> dict[str, Any]:
    """Start at most once per (caller, key): a retry answers what the first start did.

    The payload is checked too: the same key with a different request is refused
    (IdempotencyValidationError). A start that raised leaves no record behind, so a
    retry after a 400 or 409 is judged again.
    """
    persistence = DynamoDBPersistenceLayer(
        table_name=os.environ["TABLE_NAME"],
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=IDEMPOTENCY_PK,
        expiry_attr="expiresAt",
        boto3_client=client("dynamodb", retries=CALLER),
    )
    config = IdempotencyConfig(
        event_key_jmespath="[caller, key]",
        payload_validation_jmespath="payload",
        expires_after_seconds=IDEMPOTENCY_SECONDS,
    )
    config.register_lambda_context(app.lambda_context)

    def start(request: dict[str, Any]) -> dict[str, Any]:
        return _start(request["payload"], function_name, alias)

    once: Callable[..., dict[str, Any]] = idempotent_function(
        start,
        data_keyword_argument="request",
        persistence_store=persistence,
        config=config,
        key_prefix="start-rollout",
    )
    return once(request={"caller": _caller(), "key": key, "payload": payload})


# -- routes -------------------------------------------------------------------------
# The path's names (``functionName``, ``alias``, ``rolloutId``) are the handlers'.
@app.post(
    ALIAS_ROUTE,
    summary="Start a rollout of the path's function and alias",
    operation_id="startRollout",
    security=SIGV4,
    tags=["rollouts"],
)
@tracer.capture_method
def start_rollout(functionName: str, alias: str) -> Response[dict[str, Any]]:  # noqa: N803
    _refuse_bad_path(functionName, alias)
    payload = service.request_for(_json_body(required=True), functionName, alias)
    key = app.current_event.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is None:
        answer = _start(payload, functionName, alias)
    elif not 1 <= len(key.strip()) <= IDEMPOTENCY_KEY_LIMIT:
        raise ValidationError(
            IDEMPOTENCY_KEY_HEADER, f"must be 1 to {IDEMPOTENCY_KEY_LIMIT} characters"
        )
    else:
        answer = _start_once(key.strip(), payload, functionName, alias)
    return _json(HTTPStatus.ACCEPTED, answer, Location=answer["statusUrl"])


@app.get(
    ALIAS_ROUTE,
    summary="List the alias's rollouts, newest first",
    operation_id="listRollouts",
    security=SIGV4,
    tags=["rollouts"],
)
@tracer.capture_method
def list_rollouts(functionName: str, alias: str) -> Response[dict[str, Any]]:  # noqa: N803
    _refuse_bad_path(functionName, alias)
    rollouts, next_token = service.list_rollouts(
        functionName, alias, _store(), limit=_limit(), next_token=_query("nextToken")
    )
    return _json(HTTPStatus.OK, {"rollouts": rollouts, "nextToken": next_token})


@app.get(
    f"{ALIAS_ROUTE}/<rolloutId>",
    summary="Describe a rollout of the alias",
    operation_id="describeRollout",
    security=SIGV4,
    tags=["rollouts"],
)
@tracer.capture_method
def describe_rollout(
    functionName: str,  # noqa: N803 (the path's names)
    alias: str,
    rolloutId: str,  # noqa: N803
) -> Response[dict[str, Any]]:
    _refuse_bad_path(functionName, alias)
    described = service.describe_rollout(
        rolloutId,
        _store(),
        client("stepfunctions", retries=CALLER),
        _state_machine_arn(),
        function_name=functionName,
        alias=alias,
    )
    return _json(HTTPStatus.OK, described)


def _accepted(
    verb: str, answer: dict[str, Any], function_name: str, alias: str
) -> Response[dict[str, Any]]:
    """202: what the service recorded, and where to follow the rollout."""
    rollout_id = answer["rolloutId"]
    metrics.add_metric(name=f"Rollout{verb.title()}sRequested", unit=MetricUnit.Count, value=1)
    log = logger.warning if verb == "abort" else logger.info
    log(f"{verb} requested", extra={"rolloutId": rollout_id, "caller": _caller()})
    return _json(
        HTTPStatus.ACCEPTED,
        {**answer, "statusUrl": _status_url(function_name, alias, rollout_id)},
    )


def _ask(
    verb: str,
    act: Callable[..., dict[str, Any]],
    function_name: str,
    alias: str,
    rollout_id: str,
    example: str,
    defaults: dict[str, Any] | None = None,
    **accepted: BodyField,
) -> Response[dict[str, Any]]:
    """One verb on a rollout of the alias: its path checked, its body's ``accepted``
    fields (else their ``defaults``) passed to ``act`` (a ``service`` verb), 202 with
    what was recorded."""
    _refuse_bad_path(function_name, alias)
    body = {**(defaults or {}), **_verb_body(example, **accepted)}
    answer = act(
        rollout_id,
        by=_caller(),
        store=_store(),
        now=clock.now(),
        sfn=client("stepfunctions", retries=CALLER),
        function_name=function_name,
        alias=alias,
        **body,
    )
    return _accepted(verb, answer, function_name, alias)


# Each verb wakes the rollout through Step Functions (its bake, or a hook's wait for
# an abort, ends at once); without the wake it would act at its next health check.
@app.post(
    f"{ALIAS_ROUTE}/<rolloutId>/abort",
    summary="Abort a rollout of the alias: it rolls back within seconds",
    operation_id="abortRollout",
    security=SIGV4,
    tags=["rollouts"],
)
@tracer.capture_method
def abort_rollout(
    functionName: str,  # noqa: N803 (the path's names)
    alias: str,
    rolloutId: str,  # noqa: N803
) -> Response[dict[str, Any]]:
    return _ask(
        "abort",
        service.abort_rollout,
        functionName,
        alias,
        rolloutId,
        '{"reason": "..."}',
        {"reason": None},
        reason=REASON,
    )


@app.post(
    f"{ALIAS_ROUTE}/<rolloutId>/pause",
    summary="Pause a rollout of the alias: it holds its weight until resumed or promoted",
    operation_id="pauseRollout",
    security=SIGV4,
    tags=["rollouts"],
)
@tracer.capture_method
def pause_rollout(
    functionName: str,  # noqa: N803 (the path's names)
    alias: str,
    rolloutId: str,  # noqa: N803
) -> Response[dict[str, Any]]:
    return _ask(
        "pause",
        service.pause_rollout,
        functionName,
        alias,
        rolloutId,
        '{"reason": "..."}',
        {"reason": None},
        reason=REASON,
    )


@app.post(
    f"{ALIAS_ROUTE}/<rolloutId>/resume",
    summary="Resume a paused rollout of the alias",
    operation_id="resumeRollout",
    security=SIGV4,
    tags=["rollouts"],
)
@tracer.capture_method
def resume_rollout(
    functionName: str,  # noqa: N803 (the path's names)
    alias: str,
    rolloutId: str,  # noqa: N803
) -> Response[dict[str, Any]]:
    return _ask(
        "resume",
        service.resume_rollout,
        functionName,
        alias,
        rolloutId,
        '{"reason": "..."} (or no body)',
        {"reason": None},
        reason=REASON,
    )


@app.post(
    f"{ALIAS_ROUTE}/<rolloutId>/promote",
    summary="Promote a rollout of the alias: the next step now, or 100% with full",
    operation_id="promoteRollout",
    security=SIGV4,
    tags=["rollouts"],
)
@tracer.capture_method
def promote_rollout(
    functionName: str,  # noqa: N803 (the path's names)
    alias: str,
    rolloutId: str,  # noqa: N803
) -> Response[dict[str, Any]]:
    return _ask(
        "promote",
        service.promote_rollout,
        functionName,
        alias,
        rolloutId,
        '{"full": true, "reason": "..."}',
        {"full": False, "reason": None},
        full=FULL,
        reason=REASON,
    )


# -- errors ---------------------------------------------------------------------------
ErrorHandler = Callable[[Any], Response[dict[str, Any]]]


def _handles(*errors: type[Exception]) -> Callable[[ErrorHandler], ErrorHandler]:
    """``@app.exception_handler``, typed."""
    register: Callable[[ErrorHandler], ErrorHandler] = app.exception_handler(list(errors))
    return register


def _message(status: HTTPStatus, error: Exception) -> Response[dict[str, Any]]:
    return _json(status, {"message": str(error)})


@_handles(ValidationError)
def bad_request(error: ValidationError) -> Response[dict[str, Any]]:
    errors = [{"field": field, "message": message} for field, message in error.errors]
    return _json(HTTPStatus.BAD_REQUEST, {"message": str(error), "errors": errors})


@_handles(NotFoundError)
def not_found(error: NotFoundError) -> Response[dict[str, Any]]:
    return _message(HTTPStatus.NOT_FOUND, error)


# A busy alias; a verb on a rollout that ended (the message says how) or cannot take it
# now (resume when not paused); a record that holds all the requests it may.
@_handles(RolloutInProgressError, service.VerbRefusedError, TooManyRequestsOnRecordError)
def conflict(error: Exception) -> Response[dict[str, Any]]:
    return _message(HTTPStatus.CONFLICT, error)


@_handles(IdempotencyAlreadyInProgressError)
def same_key_in_progress(error: IdempotencyAlreadyInProgressError) -> Response[dict[str, Any]]:
    text = f"a request with this {IDEMPOTENCY_KEY_HEADER} is still being handled; retry"
    return _json(HTTPStatus.CONFLICT, {"message": text}, **{"Retry-After": "1"})


@_handles(IdempotencyValidationError)
def same_key_other_request(error: IdempotencyValidationError) -> Response[dict[str, Any]]:
    text = f"this {IDEMPOTENCY_KEY_HEADER} was already used with a different request"
    return _json(HTTPStatus.UNPROCESSABLE_ENTITY, {"message": text})


@_handles(ThrottlingError)
def throttled(error: ThrottlingError) -> Response[dict[str, Any]]:
    return _json(HTTPStatus.TOO_MANY_REQUESTS, {"message": str(error)}, **{"Retry-After": "1"})


@_handles(AwsError)
def aws_failed(error: AwsError) -> Response[dict[str, Any]]:
    logger.exception("AWS call failed")
    return _message(HTTPStatus.BAD_GATEWAY, error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)
    return app.resolve(event, context)
