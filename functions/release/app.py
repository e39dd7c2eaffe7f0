"""ReleaseRollout: after an execution stopped, failed or timed out, finish what it left.

EventBridge sends every "Step Functions Execution Status Change" of the rollout
state machine with status ABORTED, FAILED or TIMED_OUT. A rollout that ended
through its own RollBack is already recorded; one that was stopped from the
console or crashed is still RUNNING in the table: restore its baseline (unless
the alias drifted), record why, and release its lock.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollouts import clock, tasks
from rollouts.events import ExecutionStatusChange

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class StatusChangeEvent(EventBridgeModel):
    detail: ExecutionStatusChange


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=StatusChangeEvent)
def lambda_handler(event: StatusChangeEvent, context: LambdaContext) -> dict[str, Any]:
    detail = event.detail
    services = tasks.Services.from_environment()
    metrics.add_metric(name="ExecutionEndsSeen", unit=MetricUnit.Count, value=1)
    why = f"the execution ended {detail.status}"
    if detail.error or detail.cause:
        why += f" ({': '.join(x for x in (detail.error, detail.cause) if x)})"
    record = services.store.record(detail.name)
    # A refused execution took nothing and wrote no record (a stop can carry any error
    # name, so the name alone proves nothing: a stop is ABORTED, a refusal FAILED).
    refused = detail.status == "FAILED" and detail.error in tasks.REFUSALS and record is None
    if refused or not tasks.needs_release(record):
        logger.info("nothing to release", extra={"rolloutId": detail.name, "status": detail.status})
        return {"released": False, "rolloutId": detail.name}
    # Also when there is no record yet: the mark it leaves stops a PrepareRollout still running.
    outcome = tasks.conclude(detail.name, None, detail.request(), why, services, clock.now())
    metrics.add_metric(name="RolloutsReleased", unit=MetricUnit.Count, value=1)
    logger.warning(outcome["cause"], extra={"rolloutId": detail.name})
    return {"released": True, "rolloutId": detail.name, **outcome}
