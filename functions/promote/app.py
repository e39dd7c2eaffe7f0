"""PromoteTarget: all of the alias's traffic to the target (creates the alias on a first deploy)."""

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
    state = tasks.promote(event.rollout, tasks.Services.from_environment(), clock.now())
    logger.info(state.summary, extra={"rolloutId": state.rollout_id})
    metrics.add_metric(name="RolloutsPromoted", unit=MetricUnit.Count, value=1)
    return state.as_json()
