"""Fixtures for the REST API handler (functions/api/app.py), run in process against moto.

Like tests/functions/conftest.py: the environment the template gives the
function, a fresh moto account per test, and no cached clients across tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import botocore.loaders
import botocore.session
import pytest
from apitest import (
    ACCOUNT,
    ENVIRONMENT,
    REGION,
    STATE_MACHINE,
    Api,
    create_table,
    lambda_context,
)
from moto import mock_aws

import rollouts.aws
from rollouts_cli.local import corrections


@pytest.fixture(scope="session")
def shared_loader() -> botocore.loaders.Loader:
    """One botocore data loader for every session (parsing service models is the slow part)."""
    return botocore.loaders.create_loader()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, shared_loader: botocore.loaders.Loader) -> Iterator[Api]:
    """A fresh moto account: the rollout table and an (idle) rollout state machine.

    With the engine's SendTaskFailure correction, as any test process may have it
    (it is process-wide): moto's plain backend must take the API's wakes either way.
    """
    corrections.send_task_failure_cause()
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "POWERTOOLS_IDEMPOTENCY_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(botocore.session, "create_loader", lambda *_: shared_loader)
    # The state machine stays idle, whatever the local engine (started by other tests in
    # this process) set for moto: the routes are tested against RUNNING executions.
    from moto.core.config import default_user_config

    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", False)
    rollouts.aws._cache.clear()
    with mock_aws():
        table = create_table(boto3.resource("dynamodb", region_name=REGION))
        sfn = boto3.client("stepfunctions", region_name=REGION)
        # Only StartExecution and DescribeExecution are used: any definition will do.
        sfn.create_state_machine(
            name=STATE_MACHINE,
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/lambda-rollouts-state-machine",
        )
        yield Api(sfn=sfn, table=table, context=lambda_context())
    rollouts.aws._cache.clear()
