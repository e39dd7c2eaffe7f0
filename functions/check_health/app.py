"""Bake / CheckHealth: begin a bake's wait; after it, read alarms, requests and alias; decide."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollouts import clock, tasks
from rollouts.events import BakeEvent

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=BakeEvent)
def lambda_handler(event: BakeEvent, context: LambdaContext) -> dict[str, Any]:
    services = tasks.Services.from_environment()
    if event.bake_token is not None:
        waiting = tasks.bake(event.rollout, event.bake_token, services, clock.now())
        logger.info("baking", extra={"rolloutId": event.rollout.rollout_id, **waiting})
        return waiting
    state = tasks.check(event.rollout, services, clock.now(), event.wake)
    metrics.add_metric(name="HealthChecks", unit=MetricUnit.Count, value=1)
    logger.info(state.summary, extra={"rolloutId": state.rollout_id, "action": state.action})
    return state.as_json()
