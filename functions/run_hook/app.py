"""RunPreTrafficHook / RunPostTrafficHook: invoke the user's hook; JudgeXHook: judge its answer."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollouts import clock, tasks
from rollouts.events import HookEvent

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=HookEvent)
def lambda_handler(event: HookEvent, context: LambdaContext) -> dict[str, Any]:
    services = tasks.Services.from_environment()
    extra = {"rolloutId": event.rollout.rollout_id, "lifecycleEvent": event.lifecycle_event}
    if event.judge:
        state = tasks.judge_hook(
            event.rollout, event.lifecycle_event, event.answer, services, clock.now()
        )
        logger.info("hook passed", extra=extra)
        metrics.add_metric(name="HooksPassed", unit=MetricUnit.Count, value=1)
        return state.as_json()
    state = tasks.run_hook(
        event.rollout,
        event.lifecycle_event,
        services,
        clock.now(),
        context=context,
        token=event.callback_token,
    )
    logger.info("hook invoked", extra=extra)
    return state.as_json()
