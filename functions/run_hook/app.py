"""RunPreTrafficHook / RunPostTrafficHook: invoke the user's hook and judge its answer."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollouts import tasks
from rollouts.events import HookEvent

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=HookEvent)
def lambda_handler(event: HookEvent, context: LambdaContext) -> dict[str, Any]:
    state = tasks.run_hook(
        event.rollout,
        event.lifecycle_event,
        tasks.Services.from_environment(),
        datetime.now(UTC),
        context=context,
    )
    logger.info(
        "hook passed",
        extra={"rolloutId": state.rollout_id, "lifecycleEvent": event.lifecycle_event},
    )
    metrics.add_metric(name="HooksPassed", unit=MetricUnit.Count, value=1)
    return state.as_json()
