"""What a rollout costs: history events, state transitions, task invocations, dollars.

Runs each strategy once on the local engine (time scale 0) and prints, per
rollout: the execution's history events (Step Functions caps them at 25,000),
its state transitions (what Standard workflows bill), the Lambda task
invocations, an AWS cost estimate at list prices, and the wall time here.

    .venv/bin/python benchmarks/rollout_cost.py

Prices (us-east-1, list): Step Functions Standard $0.025 per 1,000 state
transitions; Lambda $0.20 per million requests and $0.0000166667 per GB-second
(256 MB tasks, ~100 ms each assumed). The wall time is this machine's, with
waits compressed to nothing: it measures the control plane's own overhead.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rollouts.plan import estimate_history_events, plan
from rollouts.strategy import parse_strategy
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.samples import create_function, publish

TRANSITION_PRICE = 0.025 / 1000
REQUEST_PRICE = 0.20 / 1_000_000
GB_SECOND_PRICE = 0.0000166667
TASK_GB_SECONDS = 0.256 * 0.1

STRATEGIES: list[tuple[str, Any, int]] = [
    ("AllAtOnce", "AllAtOnce", 60),
    ("Canary10Percent5Minutes", "Canary10Percent5Minutes", 60),
    ("Canary10Percent30Minutes", "Canary10Percent30Minutes", 60),
    ("Linear10PercentEvery1Minute", "Linear10PercentEvery1Minute", 60),
    ("Linear10PercentEvery10Minutes", "Linear10PercentEvery10Minutes", 60),
    ("Linear10PercentEvery10Minutes, checks every 10 s", "Linear10PercentEvery10Minutes", 10),
]


def run(engine: LocalEngine, number: int, strategy: Any, interval: int) -> dict[str, Any]:
    lam = engine.client("lambda")
    name = f"bench-{number}"
    create_function(lam, engine.client("iam"), name, "def handler(e, c):\n    return 1\n")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    version = publish(lam, name, "def handler(e, c):\n    return 2\n")
    sfn = engine.client("stepfunctions")
    started = time.perf_counter()
    arn = sfn.start_execution(
        stateMachineArn=engine.info.state_machine_arn,
        input=json.dumps(
            {
                "functionName": name,
                "alias": "live",
                "version": version,
                "strategy": strategy,
                "checkIntervalSeconds": interval,
            }
        ),
    )["executionArn"]
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    status = sfn.describe_execution(executionArn=arn)["status"]
    transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
    invocations = sum(1 for e in events if e["type"] == "LambdaFunctionScheduled")
    cost = transitions * TRANSITION_PRICE + invocations * (
        REQUEST_PRICE + TASK_GB_SECONDS * GB_SECOND_PRICE
    )
    steps = plan(parse_strategy(strategy))
    return {
        "status": status,
        "events": len(events),
        "estimate": estimate_history_events(steps, interval),
        "transitions": transitions,
        "invocations": invocations,
        "cost": cost,
        "seconds": elapsed,
    }


def main() -> None:
    with LocalEngine(time_scale=0.0) as engine:
        header = (
            f"{'strategy':<50} {'status':<10} {'events':>6} {'planned':>7} "
            f"{'transitions':>11} {'tasks':>5} {'USD':>9} {'wall s':>7}"
        )
        print(header)
        print("-" * len(header))
        for number, (label, strategy, interval) in enumerate(STRATEGIES):
            row = run(engine, number, strategy, interval)
            print(
                f"{label:<50} {row['status']:<10} {row['events']:>6} {row['estimate']:>7} "
                f"{row['transitions']:>11} {row['invocations']:>5} {row['cost']:>9.5f} "
                f"{row['seconds']:>7.2f}"
            )


if __name__ == "__main__":
    main()
