"""FinishRollout: the last look, then record success, release the lock, set the output."""

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollouts import clock, tasks
from rollouts.events import TaskEvent

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=TaskEvent)
def lambda_handler(event: TaskEvent, context: LambdaContext) -> dict[str, Any]:
    now = clock.now()
    state = tasks.finish(event.rollout, tasks.Services.from_environment(), now)
    if state.outcome is None:
        # The last look found an abort, a firing alarm or drift: NextAction follows it.
        logger.warning(state.summary, extra={"rolloutId": state.rollout_id})
        return state.as_json()
    metrics.add_metric(name="RolloutsSucceeded", unit=MetricUnit.Count, value=1)
    started = datetime.fromisoformat(event.rollout.started_at.replace("Z", "+00:00"))
    metrics.add_metric(
        name="RolloutDuration", unit=MetricUnit.Seconds, value=(now - started).total_seconds()
    )
    logger.info(state.outcome["summary"], extra={"rolloutId": state.rollout_id})
    return state.as_json()
