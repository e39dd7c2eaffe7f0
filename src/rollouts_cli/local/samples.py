"""Sample functions for the demo and the tests: zip a source, create, publish, update.

These talk to the emulator only through boto3, exactly as a user's script would.
"""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from typing import Any

LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def zip_source(source: str, filename: str = "app.py") -> bytes:
    """A deployment package holding one Python file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo(filename, date_time=(2020, 1, 1, 0, 0, 0)), textwrap.dedent(source)
        )
    return buffer.getvalue()


def execution_role(iam: Any, name: str = "sample-function-role") -> str:
    """The ARN of a role Lambda can assume (created on first use)."""
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        return str(
            iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY)
            )["Role"]["Arn"]
        )


def create_function(
    lambda_client: Any,
    iam: Any,
    name: str,
    source: str,
    environment: dict[str, str] | None = None,
    timeout: int = 30,
    publish: bool = True,
) -> str:
    """Create a Python function from ``source`` (handler ``app.handler``); returns its version."""
    answer = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=execution_role(iam),
        Handler="app.handler",
        Code={"ZipFile": zip_source(source)},
        Environment={"Variables": environment or {}},
        Timeout=timeout,
        Publish=publish,
    )
    return str(answer["Version"])


def update_code(lambda_client: Any, name: str, source: str) -> None:
    """Upload new code to $LATEST (what a pipeline's build step does)."""
    lambda_client.update_function_code(FunctionName=name, ZipFile=zip_source(source))


def publish(lambda_client: Any, name: str, source: str) -> str:
    """Upload ``source`` and publish it; returns the new version."""
    update_code(lambda_client, name, source)
    return str(lambda_client.publish_version(FunctionName=name)["Version"])
