"""Fixtures for the CLI tests: the command run in process, pointed at the local engine.

The CLI only uses boto3, so running it in the engine's process changes nothing:
it reaches the engine through ``--endpoint-url`` as it would from a shell.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rollouts_cli.cli import main
from rollouts_cli.local import engine as engine_module
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.pytest_plugin import create_alarm
from rollouts_cli.local.samples import create_function, publish

V1 = "def handler(event, context):\n    return {'version': 'one'}\n"
V2 = "def handler(event, context):\n    return {'version': 'two'}\n"
HOOK_FAILS = (
    "def handler(event, context):\n"
    "    return {'status': 'Failed', 'reason': 'smoke test got HTTP 500'}\n"
)

# What a Python value looks like when printed raw: a quoted repr, None/True/False, a
# dict or list literal.
_REPRS = (
    re.compile(r"(?:^|[\s(\[{:=,])'[^'\n]*'"),
    re.compile(r"\b(?:None|True|False)\b"),
    re.compile(r"\{'|\['|\{\}|\[\]|\(\)"),
)


def assert_readable(text: str) -> None:
    """``text`` holds no Python value printed as such (what people read is words)."""
    for pattern in _REPRS:
        found = pattern.search(text)
        assert found is None, f"{found[0]!r} in:\n{text}"


class _Rollouts:
    """``main``, with the engine's per-handler output streams put back over CliRunner's.

    CliRunner swaps sys.stdout while the command runs; a task handler first imported
    then would bind its Powertools logger to CliRunner's stream, and its logs would
    land in the command's stdout. (The engine imports a handler before it routes
    output to per-invocation buffers; moving its install_streams() before
    load_handler would make this unnecessary.)
    """

    name = "rollouts"

    def main(self, *args: Any, **kw: Any) -> Any:
        engine_module._runtime.install_streams()
        return main.main(*args, **kw)


@dataclass
class Cli:
    """``rollouts ...`` against the local engine; ``json`` parses stdout."""

    engine: LocalEngine

    def __call__(self, *args: str, endpoint: bool = True, **kw: Any) -> Result:
        where = ["--endpoint-url", self.engine.endpoint] if endpoint else []
        return CliRunner().invoke(
            _Rollouts(),  # type: ignore[arg-type]
            [*args, *where],
            catch_exceptions=False,
            **kw,
        )

    def json(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = self(*args, "--output", "json")
        return result.exit_code, json.loads(result.stdout)

    def status(self, rollout_id: str) -> dict[str, Any]:
        code, described = self.json("status", rollout_id)
        assert code == 0, described
        return described

    def wait_until(
        self, rollout_id: str, condition: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            described = self.status(rollout_id)
            if condition(described):
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"{rollout_id}: condition not met; last {described}")
            time.sleep(0.05)


@pytest.fixture
def cli(local_engine: LocalEngine) -> Cli:
    return Cli(local_engine)


class Target:
    """A function with alias ``live`` on version 1, and version 2 published."""

    def __init__(self, engine: LocalEngine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.lam = engine.client("lambda")
        create_function(self.lam, engine.client("iam"), name, V1)
        self.lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        publish(self.lam, name, V2)

    def publish(self, number: int) -> str:
        return publish(self.lam, self.name, f"def handler(e, c):\n    return {number}\n")

    def alias(self) -> tuple[str, dict[str, float]]:
        answer = self.lam.get_alias(FunctionName=self.name, Name="live")
        weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return answer["FunctionVersion"], weights

    def hook(self, source: str) -> str:
        name = f"{self.name}-hook"
        create_function(self.lam, self.engine.client("iam"), name, source)
        return name

    def alarm(self) -> str:
        return create_alarm(self.engine, f"{self.name}-errors")

    def start_args(self, *extra: str, version: str = "2") -> list[str]:
        return ["start", "--function", self.name, "--alias", "live", "--version", version, *extra]


@pytest.fixture
def target(local_engine: LocalEngine, unique_name: Callable[[str], str]) -> Target:
    return Target(local_engine, unique_name("orders"))


def executions(engine: LocalEngine) -> int:
    listed = engine.client("stepfunctions").list_executions(
        stateMachineArn=engine.info.state_machine_arn, maxResults=1000
    )
    return len(listed["executions"])
