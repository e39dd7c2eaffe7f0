"""How fast a rollout reacts, and what a long bake costs in history events.

Runs on the local engine and prints:

- alarm to baseline: a rollout baking with ``checkIntervalSeconds`` 3,600 at time
  scale 1 (virtual time is real time: nothing is compressed), an alarm set to
  ALARM, and the seconds until the alias is 100% on the baseline again;
- abort to baseline: the same, with ``rollouts abort`` (the service call the CLI
  and the API make) instead of an alarm;
- the same two while a PostTraffic hook's answer is awaited (100% on the target, the
  hook answered Pending and has a day to report): the wait is failed at once;
- the history events of a default ``Linear10PercentEvery10Minutes`` rollout
  (default check interval) at time scale 0, against Step Functions' 25,000.

    .venv/bin/python benchmarks/reaction.py [--runs N]

Each latency is measured from just before the trigger to the first read of the
alias that shows it 100% on the baseline (polled every 10 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from rollouts.service import abort_rollout
from rollouts.store import RolloutStore
from rollouts_cli.local import timescale
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.pytest_plugin import Target, create_alarm, create_hook, rollout_table

HOUR = 3600


PENDING_HOOK = "def handler(event, context):\n    return {'status': 'Pending'}\n"


def waiting(engine: LocalEngine, rollout: str, kind: str) -> bool:
    """Whether the rollout waits on a token of ``kind`` now (bake, PostTraffic)."""
    item = rollout_table(engine).get_item(
        Key={"pk": f"ROLLOUT#{rollout}", "sk": "ROLLOUT"}, ConsistentRead=True
    )
    return (item.get("Item", {}).get("waiting") or {}).get("kind") == kind


def until(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("not seen in time")
        time.sleep(0.01)


def react(engine: LocalEngine, number: int, trigger: str, in_hook: bool) -> float:
    """Seconds from the trigger (an alarm, an abort) to the alias back at 100% on the
    baseline: while a bake waits, or (``in_hook``) while a PostTraffic hook's answer does."""
    where = "hook" if in_hook else "bake"
    target = Target(engine, f"react-{trigger}-{where}-{number}")
    alarm = create_alarm(engine, f"react-{trigger}-{where}-{number}-errors")
    request: dict[str, Any] = {
        "functionName": target.name,
        "alias": "live",
        "version": "2",
        "strategy": "Canary10Percent30Minutes",
        "alarms": [alarm],
        "checkIntervalSeconds": HOUR,
    }
    if in_hook:
        hook = create_hook(engine, f"react-{trigger}-{where}-{number}-post", PENDING_HOOK)
        request |= {
            "strategy": "AllAtOnce",
            "hooks": {"postTraffic": {"function": hook, "timeoutSeconds": 86_400}},
        }
    sfn = engine.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=engine.info.state_machine_arn, input=json.dumps(request)
    )["executionArn"]
    rollout = arn.rsplit(":", 1)[1]
    until(lambda: waiting(engine, rollout, "PostTraffic" if in_hook else "bake"))
    started = time.perf_counter()
    if trigger == "alarm":
        engine.client("cloudwatch").set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="benchmark"
        )
    else:
        abort_rollout(
            rollout,
            "benchmark",
            "benchmark",
            RolloutStore(rollout_table(engine)),
            datetime.now(UTC),
            sfn=sfn,
        )
    until(lambda: target.alias() == ("1", {}))
    elapsed = time.perf_counter() - started
    until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING")
    return elapsed


def history_events(engine: LocalEngine) -> tuple[int, str]:
    target = Target(engine, "history-linear")
    sfn = engine.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=engine.info.state_machine_arn,
        input=json.dumps(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": "Linear10PercentEvery10Minutes",
            }
        ),
    )["executionArn"]
    until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 300)
    events = 0
    token = None
    while True:
        page = sfn.get_execution_history(
            executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        events += len(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    return events, sfn.describe_execution(executionArn=arn)["status"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with LocalEngine(time_scale=1.0, evaluate_alarms=False) as engine:
        for in_hook in (False, True):
            for trigger in ("alarm", "abort"):
                seconds = [react(engine, n, trigger, in_hook) for n in range(runs)]
                where = (
                    "a PostTraffic hook's wait of a day"
                    if in_hook
                    else "a bake, check interval 1 h"
                )
                print(
                    f"{trigger} to 100% on the baseline during {where} (time scale 1):"
                    f" median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s"
                    f" over {runs} runs"
                )
        timescale.set_time_scale(0.0)
        events, status = history_events(engine)
        print(
            f"Linear10PercentEvery10Minutes, default check interval: {events} history events"
            f" ({status}; Step Functions allows 25,000)"
        )


if __name__ == "__main__":
    main()
