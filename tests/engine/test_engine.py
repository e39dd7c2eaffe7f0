"""The engine itself: refusing a taken port, and what it tells clients about itself."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from rollouts_cli.local.engine import EngineInfo, LocalEngine


@pytest.mark.timeout(30)
def test_starting_on_a_taken_port_raises_oserror_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        engine = LocalEngine(port=port, time_scale=0.0)

        began = time.monotonic()
        with pytest.raises(OSError, match=str(port)):
            engine.start()

        # moto's server would wait forever on a taken port; the engine checks first.
        assert time.monotonic() - began < 10
        assert engine.stack is None
        with pytest.raises(RuntimeError):
            _ = engine.info


def test_engine_info_tells_a_client_how_to_reach_the_control_plane(
    local_engine: LocalEngine, sfn: Any, dynamodb: Any
) -> None:
    info = local_engine.info
    assert isinstance(info, EngineInfo)

    document = json.loads(json.dumps(info.as_json()))

    assert document["endpoint"] == local_engine.endpoint
    assert document["endpoint"].startswith("http://127.0.0.1:")
    assert document["region"] == local_engine.region
    assert document["stackName"] == local_engine.stack_name
    assert document["timeScale"] == local_engine.time_scale
    machine = sfn.describe_state_machine(stateMachineArn=document["stateMachineArn"])
    assert machine["status"] == "ACTIVE"
    table = dynamodb.describe_table(TableName=document["tableName"])["Table"]
    assert table["TableStatus"] == "ACTIVE"
