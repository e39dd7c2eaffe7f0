"""`rollouts local up` in a process of its own, driven by plain boto3 as a user's script would,
and `rollouts local demo --keep` on a terminal, as a person runs `make demo`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from rollouts_cli.local.engine import free_port
from rollouts_cli.local.pytest_plugin import without_aws_environment
from rollouts_cli.local.samples import create_function, publish

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ROLLOUTS = Path(sys.executable).with_name("rollouts")


# What a terminal shows that is not text: colours, cursor moves, window titles.
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][AB012]|\r")


class Terminal:
    """A process on a pseudo-terminal of its own, its output read as it comes."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        import pty

        self._controller, terminal = pty.openpty()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=terminal, stdout=terminal, stderr=terminal
        )
        os.close(terminal)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._controller, 65536)
            except OSError:  # the terminal closed: the process has ended
                break
            if not chunk:
                break
            self._chunks.append(chunk)

    @property
    def raw(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    @property
    def text(self) -> str:
        """What it printed, without the terminal's control sequences."""
        return _CONTROL.sub("", self.raw)

    def wait_for(self, words: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while words not in self.text:
            assert self.process.poll() is None, self.text[-3000:]
            assert time.monotonic() < deadline, self.text[-3000:]
            time.sleep(0.2)
        return self.text

    def end(self) -> int:
        """SIGTERM, then its exit code once everything it printed is read."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(120)
        self._reader.join(30)
        os.close(self._controller)
        return code


@pytest.fixture(scope="module", autouse=True)
def demo() -> Iterator[Terminal]:
    """`rollouts local demo --keep` on a terminal, as a person runs `make demo`, in a
    process of its own (one emulator per process), started with the module: it runs
    beside the module's other tests."""
    env = {**without_aws_environment(), "COLUMNS": "250", "LINES": "50", "TERM": "xterm"}
    running = Terminal([str(ROLLOUTS), "local", "demo", "--keep"], env)
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait(30)


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, Any]]:
    port = free_port()
    env = without_aws_environment()
    process = subprocess.Popen(
        [str(ROLLOUTS), "local", "up", "--port", str(port), "--time-scale", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        yield json.loads(line)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def client(info: dict[str, Any], service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=info["endpoint"],
        region_name=info["region"],
        aws_access_key_id="any",
        aws_secret_access_key="any",
    )


def console_get(printed: str, path: str = "") -> tuple[int, str]:
    """GET ``path`` of the console a printed ``http://127.0.0.1:P/?key=K`` opens, with
    its key as the cookie that URL sets."""
    base, _, key = printed.partition("?key=")
    assert base.startswith("http://127.0.0.1:") and key, printed
    request = urllib.request.Request(base + path, headers={"Cookie": f"rollouts-console-key={key}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, answer.read().decode()


def test_up_prints_one_json_line_with_the_contract_fields(served: dict[str, Any]) -> None:
    assert served["endpoint"].startswith("http://127.0.0.1:")
    assert served["region"] == "us-east-1"
    assert served["stateMachineArn"].startswith("arn:aws:states:us-east-1:")
    assert served["tableName"]
    assert served["consoleUrl"].startswith("http://127.0.0.1:")
    status, page = console_get(served["consoleUrl"])
    assert status == 200
    assert "<title>Rollouts · Lambda Rollouts</title>" in page


def test_plain_boto3_client_runs_a_rollout_with_a_zip_uploaded_hook(
    served: dict[str, Any],
) -> None:
    lam, iam, sfn = (client(served, s) for s in ("lambda", "iam", "stepfunctions"))
    create_function(lam, iam, "orders", "def handler(e, c):\n    return 1\n")
    lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")
    version = publish(lam, "orders", "def handler(e, c):\n    return 2\n")
    # The hook's own boto3 call reaches the same emulator: it checks the target version exists.
    create_function(
        lam,
        iam,
        "orders-pre",
        """
import boto3
def handler(event, context):
    boto3.client("lambda").get_function(FunctionName=event["targetArn"])
    return {"status": "Succeeded"}
""",
    )

    arn = sfn.start_execution(
        stateMachineArn=served["stateMachineArn"],
        input=json.dumps(
            {
                "functionName": "orders",
                "alias": "live",
                "version": version,
                "strategy": "Linear10PercentEvery1Minute",
                "hooks": {"preTraffic": "orders-pre"},
            }
        ),
    )["executionArn"]
    deadline = time.monotonic() + 120
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    alias = lam.get_alias(FunctionName="orders", Name="live")
    assert alias["FunctionVersion"] == version
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    assert json.loads(described["output"])["toVersion"] == version
    # The console beside the engine lists it.
    _, listed = console_get(served["consoleUrl"], "api/rollouts?function=orders")
    assert [(r["rolloutId"], r["status"]) for r in json.loads(listed)["rollouts"]] == [
        (arn.rsplit(":", 1)[1], "SUCCEEDED")
    ]


def test_up_refuses_a_taken_port(served: dict[str, Any]) -> None:
    port = served["endpoint"].rsplit(":", 1)[1]
    finished = subprocess.run(
        [str(ROLLOUTS), "local", "up", "--port", port],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in finished.stderr


def test_demo_promotes_the_healthy_version_and_rolls_back_the_faulty_one(
    demo: Terminal,
) -> None:
    kept = demo.wait_for("until you stop it", timeout=300)
    console = kept.split("the console on ")[1].split()[0]
    assert "Watch it in the console: " + console in kept
    # --keep: the engine and the console stay up after the demo, with both rollouts.
    _, listed = console_get(console, "api/rollouts?function=orders-api")
    rows = json.loads(listed)["rollouts"]
    assert [(r["toVersion"], r["status"]) for r in rows] == [("3", "FAILED"), ("2", "SUCCEEDED")]
    status, page = console_get(console, f"rollouts/{rows[0]['rolloutId']}")
    assert status == 200 and 'id="graph"' in page

    code = demo.end()

    text = demo.text
    assert code == 0, text[-3000:]
    # Live panels while the in-process engine routes handler output through its own
    # stdout: the two must not write into each other.
    assert "╭" in demo.raw and "rollout 1: orders-api:live -> version 2" in text
    assert "Demo finished" in text
    assert "SUCCEEDED" in text
    assert "FAILED RolledBack" in text
    # No alarm: version 3 is caught by its own errors against version 2's.
    assert "analysis failed at step 1 of 1 (20% on the target): target" in text
    assert "worse at 99% confidence" in text
    assert "alarm" not in text.split("Rollout 2")[1].split("rolled back")[0].replace("no alarm", "")
    assert "orders-api:live ends on version 2 with no split" in text
    assert "shifted to 20% (step 1 of 1)" in text
