"""Steady traffic through an alias, so that each version's own metrics have something to say.

``Load`` invokes ``function:alias`` from a few background threads at a steady
rate (real seconds), and counts what each executed version answered, as a
client of the function would see it. The engine routes every invocation by the
alias's weights and publishes Lambda's metrics for it; the analysis reads those.

``service_source`` is a sample function that fails a given share of its
requests (every n-th one, so that two versions failing alike fail exactly
alike) and takes a given time to answer.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any


def service_source(version: str, fail_percent: float = 0.0, delay_ms: int = 0) -> str:
    """A handler that answers ``{"version": version}``, failing ``fail_percent`` of requests.

    Failures are spread evenly (request ``k`` fails when ``floor(k * p)`` grows), so
    that 5% means exactly one request in twenty, whatever the traffic.
    """
    return f"""
import threading
import time

_lock = threading.Lock()
_served = 0
FAIL_SHARE = {fail_percent / 100!r}
DELAY_SECONDS = {delay_ms / 1000!r}


def handler(event, context):
    global _served
    with _lock:
        _served += 1
        failing = int(_served * FAIL_SHARE) > int((_served - 1) * FAIL_SHARE)
    if DELAY_SECONDS:
        time.sleep(DELAY_SECONDS)
    if failing:
        raise RuntimeError("version {version} failed this request")
    return {{"version": {version!r}}}
"""


@dataclass
class Served:
    """What the clients saw, per executed version: requests answered, and failed."""

    answered: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, version: str, failed: bool) -> None:
        with self.lock:
            self.answered[version] += 1
            if failed:
                self.failed[version] += 1

    def snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        with self.lock:
            return dict(self.answered), dict(self.failed)


class Load:
    """Invoke ``function:alias`` ``per_second`` times a second (real time) until stopped.

    Use as a context manager. ``on_request(version, failed)`` is called after each
    answer (the demo counts with it).
    """

    def __init__(
        self,
        lambda_client: Any,
        function: str,
        alias: str = "live",
        per_second: float = 20.0,
        threads: int = 4,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be > 0")
        self._client = lambda_client
        self._function = function
        self._alias = alias
        self._interval = threads / per_second
        self._threads = [
            threading.Thread(target=self._run, name=f"load-{function}-{n}", daemon=True)
            for n in range(threads)
        ]
        self._stopped = threading.Event()
        self.served = Served()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stopped.is_set():
            try:
                answer = self._client.invoke(FunctionName=self._function, Qualifier=self._alias)
                answer["Payload"].read()
                version = str(answer.get("ExecutedVersion", "?"))
                self.served.add(version, "FunctionError" in answer)
            except Exception:  # the engine stopping under us, a reset: traffic just goes on
                if self._stopped.is_set():
                    return
            next_at += self._interval
            self._stopped.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
