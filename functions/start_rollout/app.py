"""StartRollout: start a rollout from an EventBridge event.

Two rules invoke it (see ``rollouts.triggers``): a "Rollout Requested" custom
event on the stack's request bus, whose detail is the execution input, and (only
when the stack's ``AutomaticRollouts`` is ``Enabled``) the CloudTrail record of
``UpdateFunctionCode`` for a function tagged ``rollouts:alias``, whose tags
configure a rollout of its new ``$LATEST`` (pinned to the record's CodeSha256:
the code that call uploaded). Either way the rollout starts through
``rollouts.service.start_rollout``, as the API's do.

EventBridge invokes asynchronously: an error here is retried, then lands in the
dead-letter queue. So a refusal (bad input, busy alias) never raises; it puts a
"refused" status event and answers why. Only AWS failures raise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollouts import clock, service, triggers
from rollouts.aws import CALLER, aws_errors, client, table
from rollouts.errors import (
    AwsError,
    NotFoundError,
    RolloutInProgressError,
    ValidationError,
)
from rollouts.notify import StatusEvents
from rollouts.store import RolloutStore

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# A function outside TargetFunctionNamePrefix: this stack may not read it, let alone shift it.
_NOT_OURS = frozenset({"AccessDeniedException", "AccessDenied"})
# The stack's AutomaticRollouts parameter: code updates start rollouts only when Enabled.
AUTOMATIC_ROLLOUTS_VARIABLE = "AUTOMATIC_ROLLOUTS"
ENABLED = "Enabled"


def automatic_rollouts() -> bool:
    """Whether the stack opted in to rolling out tagged functions on every code update."""
    return os.environ.get(AUTOMATIC_ROLLOUTS_VARIABLE) == ENABLED


class TriggerEvent(EventBridgeModel):
    detail: dict[str, Any]


@dataclass(frozen=True)
class Clients:
    """The AWS edge of the starter: built once per container, or handed in by tests."""

    sfn: Any
    lambda_: Any
    store: RolloutStore
    events: StatusEvents
    state_machine_arn: str

    @classmethod
    def from_environment(cls) -> Clients:
        return cls(
            sfn=client("stepfunctions", retries=CALLER),
            lambda_=client("lambda", retries=CALLER),
            store=RolloutStore(table(os.environ["TABLE_NAME"], retries=CALLER)),
            events=StatusEvents(client("events", retries=CALLER)),
            state_machine_arn=os.environ["STATE_MACHINE_ARN"],
        )


def start(request: Any, clients: Clients, now: datetime) -> dict[str, Any]:
    """Start the rollout ``request`` asks for; a refusal is answered and announced, not raised."""
    try:
        started = service.start_rollout(
            request, clients.sfn, clients.store, clients.state_machine_arn, events=clients.events
        )
    except (ValidationError, RolloutInProgressError) as error:
        kind = "ValidationError" if isinstance(error, ValidationError) else "RolloutInProgress"
        metrics.add_metric(name="RolloutTriggersRefused", unit=MetricUnit.Count, value=1)
        logger.warning(str(error), extra={"error": kind, "request": request})
        return {"started": False, "error": kind, "reason": str(error)}
    metrics.add_metric(name="RolloutTriggersStarted", unit=MetricUnit.Count, value=1)
    logger.info("rollout started", extra=started.as_json())
    return {"started": True, **started.as_json()}


def function_tags(lambda_: Any, name_or_arn: str) -> tuple[str, dict[str, str]] | None:
    """The function's name and tags; None when it is gone or outside what this stack may read."""
    try:
        with aws_errors():
            arn = str(
                lambda_.get_function(FunctionName=name_or_arn)["Configuration"]["FunctionArn"]
            )
            tags = dict(lambda_.list_tags(Resource=arn).get("Tags") or {})
    except NotFoundError:
        return None
    except AwsError as error:
        if error.code in _NOT_OURS:
            return None
        raise
    return arn.split(":function:")[-1].split(":")[0], tags


def on_code_update(
    name_or_arn: str, clients: Clients, now: datetime, code_sha256: str | None = None
) -> dict[str, Any]:
    """A tagged function's new code: roll out its $LATEST as its tags say; ignore the untagged.

    ``code_sha256`` (the update's CodeSha256) pins the rollout to that code.
    """
    found = function_tags(clients.lambda_, name_or_arn)
    request = (
        triggers.request_from_tags(found[0], found[1], code_sha256=code_sha256) if found else None
    )
    if found is None or request is None:
        why = (
            f"{name_or_arn} has no {triggers.TAG_ALIAS} tag"
            if found
            else f"{name_or_arn} is gone, or outside the functions this stack may roll out"
        )
        metrics.add_metric(name="RolloutTriggersIgnored", unit=MetricUnit.Count, value=1)
        logger.info(f"ignored: {why}", extra={"functionName": name_or_arn})
        return {"started": False, "ignored": why}
    logger.info("code updated: rolling out $LATEST", extra={"request": request})
    return start(request, clients, now)


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=TriggerEvent)
def lambda_handler(event: TriggerEvent, context: LambdaContext) -> dict[str, Any]:
    trigger = triggers.trigger_of(event.source, event.detail_type, event.detail)
    now = clock.now()
    if trigger.kind == "requested":
        return start(trigger.request, Clients.from_environment(), now)
    if trigger.kind == "code-update" and trigger.function_name and not automatic_rollouts():
        # The rule is disabled too; a rule enabled by hand still starts nothing.
        metrics.add_metric(name="RolloutTriggersIgnored", unit=MetricUnit.Count, value=1)
        why = "automatic rollouts are off (the stack's AutomaticRollouts parameter)"
        logger.info(f"ignored: {why}", extra={"functionName": trigger.function_name})
        return {"started": False, "ignored": why}
    if trigger.kind == "code-update" and trigger.function_name:
        return on_code_update(
            trigger.function_name, Clients.from_environment(), now, code_sha256=trigger.code_sha256
        )
    metrics.add_metric(name="RolloutTriggersIgnored", unit=MetricUnit.Count, value=1)
    logger.info("ignored: not an event that starts a rollout")
    return {"started": False, "ignored": f"{event.source} {event.detail_type} starts nothing"}
