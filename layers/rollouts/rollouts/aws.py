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
from botocore.exceptions import ClientError

from rollouts.errors import from_client_error

# Step Functions owns retries (with back-off, visible in the execution history),
# so each SDK call is made once; a hook may run for up to 15 minutes.
_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=910)

_cache: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


def client(service: str, session: boto3.Session | None = None) -> Any:
    """A boto3 client for ``service``; the same one again for the same region and endpoint."""
    if session is not None:
        return session.client(service, config=_CONFIG)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    key = (service, region, endpoint)
    with _lock:
        if key not in _cache:
            _cache[key] = boto3.session.Session().client(
                service, region_name=region, config=_CONFIG
            )
        return _cache[key]


@contextmanager
def aws_errors() -> Iterator[None]:
    """Re-raise botocore ``ClientError`` as the named error the state machine retries or catches."""
    try:
        yield
    except ClientError as error:
        raise from_client_error(error) from error
