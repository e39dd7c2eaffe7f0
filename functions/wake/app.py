"""WakeRollouts: an alarm entered ALARM; wake every rollout that watches it, at once.

EventBridge sends each "CloudWatch Alarm State Change" whose new state is ALARM.
Each running rollout watching the alarm has its bake ended now (``rollouts.wake``);
its health check then sees the alarm and rolls back, instead of at the end of its
check interval. A rollout waiting for a hook's answer has that wait failed, and
rolls back, when the alarm is in ALARM as read now (not on the event's word: it may
be late, or delivered again). A rollout that has ended is left alone.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollouts import tasks
from rollouts.events import AlarmStateChangeEvent
from rollouts.wake import wake_watchers

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=AlarmStateChangeEvent)
def lambda_handler(event: AlarmStateChangeEvent, context: LambdaContext) -> dict[str, Any]:
    detail = event.detail
    services = tasks.Services.from_environment()
    # A hook's wait is failed only on the alarm's state now, not on the event's word.
    firing = services.alarms.states((detail.alarm_name,)).get(detail.alarm_name) == "ALARM"
    # Said as every look says it ("is in ALARM") when it still is; a bake is woken anyway.
    state = "is in ALARM" if firing else f"entered {detail.state.value}"
    why = f"alarm {detail.alarm_name} {state}"
    if detail.state.reason:
        why += f": {detail.state.reason}"
    woken = wake_watchers(detail.alarm_name, why, services.store, services.sfn, firing=firing)
    metrics.add_metric(name="RolloutsWoken", unit=MetricUnit.Count, value=len(woken))
    logger.info(why, extra={"alarmName": detail.alarm_name, "woken": woken})
    return {"alarmName": detail.alarm_name, "woken": woken}
