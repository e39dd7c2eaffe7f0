"""The AWS edge: the one place clients are built, and botocore errors get domain names.

Clients are made on first use, never at import time, from an optional session,
and cached per (service, region, endpoint) so that a Lambda container reuses
them across invocations. Tests hand in their own session or point
``AWS_ENDPOINT_URL`` at the local engine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from rollouts.errors import TransientError, from_client_error

# In a task, Step Functions owns retries (with back-off, visible in the execution
# history), so each SDK call is made once. The ways in (API, EventBridge starter,
# CLI) have no state machine around them: they let the SDK retry.
TASK = "task"
CALLER = "caller"
_CONFIGS = {
    TASK: Config(retries={"max_attempts": 1, "mode": "standard"}),
    CALLER: Config(retries={"max_attempts": 3, "mode": "standard"}),
}
# Hooks may run for up to 15 minutes; RunHook's own limit is 900 s, so its client
# gives up first and the failure names the hook instead of the task's timeout.
HOOK_READ_TIMEOUT_SECONDS = 870
# Shorter than the tasks' 30 s function timeout: a hung call fails as a retried
# TransientError, not as a task timeout.
TASK_READ_TIMEOUT_SECONDS = 20

_cache: dict[tuple[str, ...], Any] = {}
_lock = threading.Lock()


def _where() -> tuple[str, str]:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return region, os.environ.get("AWS_ENDPOINT_URL", "")


def client(
    service: str,
    session: boto3.Session | None = None,
    *,
    retries: str = TASK,
    read_timeout: int = TASK_READ_TIMEOUT_SECONDS,
) -> Any:
    """A boto3 client for ``service``; the same one again for the same region and endpoint.

    ``retries`` is ``TASK`` (one attempt: the state machine retries) or ``CALLER``.
    """
    config = _CONFIGS[retries].merge(Config(read_timeout=read_timeout))
    if session is not None:
        return session.client(service, config=config)
    region, endpoint = _where()
    key = (service, region, endpoint, retries, str(read_timeout))
    with _lock:
        if key not in _cache:
            _cache[key] = boto3.session.Session().client(service, region_name=region, config=config)
        return _cache[key]


def table(name: str, *, retries: str = TASK) -> Any:
    """A DynamoDB ``Table`` resource (cached like the clients)."""
    region, endpoint = _where()
    key = ("dynamodb-table", name, region, endpoint, retries)
    with _lock:
        if key not in _cache:
            resource = boto3.session.Session().resource(
                "dynamodb",
                region_name=region,
                endpoint_url=endpoint or None,
                config=_CONFIGS[retries],
            )
            _cache[key] = resource.Table(name)
        return _cache[key]


@contextmanager
def aws_errors() -> Iterator[None]:
    """Re-raise botocore ``ClientError`` as the named error the state machine retries or catches."""
    try:
        yield
    except ClientError as error:
        raise from_client_error(error) from error
    except (ConnectionError, HTTPClientError) as error:  # unreachable, timed out, reset
        raise TransientError(f"{type(error).__name__}: {error}") from error
