"""Many healthy rollouts at once, on a busy machine: how many end promoted?

Starts N canary rollouts of N functions at the same moment on the local engine
(time scale 0.01: a 5-minute bake lasts 3 s) and prints how each ended, the wall
time, and the slowest task. A healthy rollout must never be rolled back because
the machine is busy: the engine compresses waits, never a handler's own compute.

    .venv/bin/python benchmarks/busy_machine.py [N]          # default 30
    # beside two CPU-bound processes:
    (python3 -c 'while True: pass' & python3 -c 'while True: pass' & \\
     .venv/bin/python benchmarks/busy_machine.py; kill %1 %2)
"""

from __future__ import annotations

import collections
import json
import sys
import time
from typing import Any

from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.samples import create_function, publish


def main(count: int) -> int:
    with LocalEngine(time_scale=0.01) as engine:
        lam = engine.client("lambda")
        sfn = engine.client("stepfunctions")
        names = []
        for number in range(count):
            name = f"busy-{number}"
            create_function(lam, engine.client("iam"), name, "def handler(e, c):\n    return 1\n")
            lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
            publish(lam, name, "def handler(e, c):\n    return 2\n")
            names.append(name)
        started = time.perf_counter()
        arns = [
            sfn.start_execution(
                stateMachineArn=engine.info.state_machine_arn,
                input=json.dumps(
                    {
                        "functionName": name,
                        "alias": "live",
                        "version": "2",
                        "strategy": "Canary10Percent5Minutes",
                    }
                ),
            )["executionArn"]
            for name in names
        ]
        ended: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 600
        while len(ended) < len(arns) and time.monotonic() < deadline:
            for arn in arns:
                if arn not in ended:
                    described = sfn.describe_execution(executionArn=arn)
                    if described["status"] != "RUNNING":
                        ended[arn] = described
            time.sleep(0.2)
        wall = time.perf_counter() - started
        outcomes = collections.Counter(
            f"{d['status']} {d.get('error') or ''}".strip() for d in ended.values()
        )
        outcomes["still RUNNING"] = len(arns) - len(ended)
        print(f"{count} concurrent canary rollouts, time scale 0.01, wall {wall:.1f} s")
        for outcome, number in sorted(outcomes.items()):
            if number:
                print(f"  {outcome:<30} {number}")
        causes = collections.Counter(
            (d.get("cause") or "")[:120] for d in ended.values() if d["status"] != "SUCCEEDED"
        )
        for cause, number in causes.items():
            print(f"  {number} x {cause}")
        misrouted = [
            name
            for name in names
            if lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] != "2"
        ]
        print(f"  aliases not on version 2: {len(misrouted)}")
        return 0 if outcomes.get("SUCCEEDED", 0) == count else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
