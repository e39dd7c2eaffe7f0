"""PrepareRollout: validate the request, plan it, take the alias lock, write the record."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollouts import clock, tasks

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The request is validated by rollouts.models (field-level errors), not by the parser.
    state = tasks.prepare(event, tasks.Services.from_environment(), clock.now())
    metrics.add_metric(name="RolloutsStarted", unit=MetricUnit.Count, value=1)
    logger.info(state.summary, extra={"rolloutId": state.rollout_id, "steps": len(state.steps)})
    return state.as_json()
