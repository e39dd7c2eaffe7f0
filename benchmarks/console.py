"""What one poll of the console costs: AWS calls and time, for the list and a rollout's page.

Runs on the local engine (time scale 0: no waiting), with ``--rollouts N`` ended
rollouts of one function (AllAtOnce) and one running rollout held at a pause, then
asks the console's JSON as its pages do, ``--polls`` times each:

- the list, unfiltered (the newest executions) and by function and alias (the
  table's ``byAlias`` index);
- the running rollout's page, and an ended one's.

It prints, per kind of poll, the AWS calls the console made (counted on its
boto3 session, by operation) on the first poll and on each later one, and the
median and worst time of a poll in milliseconds. On AWS each call is a network
round trip (tens of milliseconds) and counts against the API's rate limits:
GetExecutionHistory, DescribeExecution and GetItem are the ones a page repeats.

    .venv/bin/python benchmarks/console.py [--rollouts N] [--polls N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from collections import Counter
from typing import Any

from rollouts_cli.cli import Where
from rollouts_cli.console.server import ConsoleServer
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.samples import create_function, publish
from rollouts_cli.stack import Connection

FUNCTION = "orders-api"
GATED = {"steps": [{"weight": 10, "bakeSeconds": 1}, {"pause": {}}]}


def wait_for(sfn: Any, arn: str, ended: bool) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=arn)["status"]
        if (status != "RUNNING") is ended:
            return
        time.sleep(0.05)
    raise TimeoutError(arn)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rollouts", type=int, default=30, help="ended rollouts (default 30)")
    parser.add_argument("--polls", type=int, default=20, help="polls of each kind (default 20)")
    args = parser.parse_args()

    with LocalEngine(time_scale=0.0) as engine:
        lam, sfn = engine.client("lambda"), engine.client("stepfunctions")
        create_function(lam, engine.client("iam"), FUNCTION, "def handler(e, c):\n    return 0\n")
        lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
        machine = engine.info.state_machine_arn
        ended = ""
        for number in range(args.rollouts):
            version = publish(lam, FUNCTION, f"def handler(e, c):\n    return {number + 1}\n")
            request = {"functionName": FUNCTION, "alias": "live", "version": version}
            arn = sfn.start_execution(
                stateMachineArn=machine, input=json.dumps({**request, "strategy": "AllAtOnce"})
            )["executionArn"]
            wait_for(sfn, arn, ended=True)
            ended = arn.rsplit(":", 1)[1]
            print(f"rollout {number + 1} of {args.rollouts} ended", file=sys.stderr)
        version = publish(lam, FUNCTION, "def handler(e, c):\n    return -1\n")
        running = sfn.start_execution(
            stateMachineArn=machine,
            input=json.dumps(
                {"functionName": FUNCTION, "alias": "live", "version": version, "strategy": GATED}
            ),
        )["executionArn"].rsplit(":", 1)[1]

        connection = Connection(endpoint_url=engine.endpoint)
        calls: Counter[str] = Counter()
        connection.session.events.register(
            "before-call.*.*",
            lambda model, **_: calls.update([f"{model.service_model.service_name}:{model.name}"]),
        )
        server = ConsoleServer(Where(engine.info.stack_name, connection), 0, allow_actions=True)
        server.start()
        base, key = server.base, server.settings.key
        try:
            kinds = {
                "list, newest executions": "api/rollouts",
                "list, by function and alias": f"api/rollouts?function={FUNCTION}&alias=live",
                "running rollout's page": f"api/rollouts/{running}",
                "ended rollout's page": f"api/rollouts/{ended}",
            }
            print(
                f"{'poll':<30} {'first poll: AWS calls':>22} {'each later':>11}"
                f" {'median ms':>10} {'worst ms':>9}"
            )
            for kind, path in kinds.items():
                spent: list[float] = []
                first: Counter[str] = Counter()
                later: Counter[str] = Counter()
                for poll in range(args.polls):
                    calls.clear()
                    begun = time.perf_counter()
                    request = urllib.request.Request(
                        base + path, headers={"Cookie": f"rollouts-console-key={key}"}
                    )
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        answer.read()
                    spent.append((time.perf_counter() - begun) * 1000)
                    (first if poll == 0 else later).update(calls)
                each = sum(later.values()) / max(1, args.polls - 1)
                print(
                    f"{kind:<30} {sum(first.values()):>22} {each:>11.1f}"
                    f" {statistics.median(spent):>10.1f} {max(spent):>9.1f}"
                )
                print(
                    "    later polls: "
                    + ", ".join(
                        f"{name} {count / max(1, args.polls - 1):g}"
                        for name, count in sorted(later.items())
                    )
                    if later
                    else "    later polls: no AWS call"
                )
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
