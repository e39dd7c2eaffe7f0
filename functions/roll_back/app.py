"""RollBack / StopOnDrift: end a rollout unpromoted, restoring the baseline unless it drifted."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollouts import clock, tasks
from rollouts.events import EndEvent

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=EndEvent)
def lambda_handler(event: EndEvent, context: LambdaContext) -> dict[str, Any]:
    rollout = event.rollout
    why = tasks.failure_reason(event.failure, rollout, event.failed_task)
    outcome = tasks.conclude(
        event.rollout_id,
        rollout,
        event.request,
        why,
        tasks.Services.from_environment(),
        clock.now(),
        drift_reported=event.drift,
        # A task that timed out may still be running: its late write must fail.
        fence=tasks.may_still_run(event.failure),
    )
    metrics.add_metric(
        name="RolloutsDrifted" if outcome["drifted"] else "RolloutsRolledBack",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.warning(outcome["cause"], extra={"rolloutId": event.rollout_id})
    return outcome
