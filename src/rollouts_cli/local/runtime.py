"""Run Lambda functions in this process, where moto would start a Docker container.

moto's Lambda backend hands every invocation to ``LambdaFunction._invoke_lambda``,
which runs the code with ``docker run``. There is no Docker daemon here, so the
engine replaces that one method: the function's code (the zip that
CreateFunction or CloudFormation uploaded) is unpacked once per code hash, its
handler imported under a name of its own, and called in a worker thread with a
Lambda-like context. What the handler prints is kept as the function's log, in
the emulator's CloudWatch Logs, as it would be on AWS.

Known limits, all stated in the README: environment variables are process-wide
(each invocation adds its function's variables to ``os.environ``), layers are
not unpacked (the control plane's layer package is importable already), and a
handler that outlives its function timeout keeps running in its thread after the
invocation has answered ``Task timed out``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from rollouts_cli.local.faults import invoked_as

Handler = Callable[[Any, Any], Any]


class _ThreadLocalStream(io.TextIOBase):
    """stdout/stderr stand-in: a thread that runs a handler writes to its own buffer.

    Every other thread writes through to the real stream, so the CLI's progress
    output and a handler's logs never mix.
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self._local = threading.local()

    @property
    def real(self) -> Any:
        return self._real

    def write(self, text: str) -> int:
        buffer = getattr(self._local, "buffer", None)
        if buffer is not None:
            return int(buffer.write(text))
        return int(self._real.write(text))

    def flush(self) -> None:
        if getattr(self._local, "buffer", None) is None:
            self._real.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._local, "buffer", None) is None and self._real.isatty())

    def fileno(self) -> int:
        return int(self._real.fileno())

    @contextlib.contextmanager
    def capture(self) -> Iterator[io.StringIO]:
        buffer = io.StringIO()
        self._local.buffer = buffer
        try:
            yield buffer
        finally:
            self._local.buffer = None


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: float
    log_group_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """What a handler answered: the payload moto returns, and whether it failed."""

    payload: str
    errored: bool
    logs: str


class InProcessRuntime:
    """Loads and runs Lambda handlers from their deployment packages, in this process."""

    def __init__(self, workdir: Path | None = None) -> None:
        self._workdir = workdir or Path(tempfile.mkdtemp(prefix="rollouts-lambda-"))
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.RLock()
        self.stdout = _ThreadLocalStream(sys.stdout)
        self.stderr = _ThreadLocalStream(sys.stderr)

    def install_streams(self) -> None:
        """Route handler output to per-invocation buffers (idempotent).

        Whatever replaced sys.stdout since (pytest's capture does, at every test
        phase) becomes the stream other threads write through to; ``invoke`` calls
        this every time, so a swapped stream never takes a handler's logs away.
        """
        for name, stream in (("stdout", self.stdout), ("stderr", self.stderr)):
            current = getattr(sys, name)
            if current is not stream:
                if not isinstance(current, _ThreadLocalStream):
                    stream._real = current
                setattr(sys, name, stream)

    def uninstall_streams(self) -> None:
        if isinstance(sys.stdout, _ThreadLocalStream):
            sys.stdout = sys.stdout.real
        if isinstance(sys.stderr, _ThreadLocalStream):
            sys.stderr = sys.stderr.real

    def load_handler(self, code: bytes, handler: str, scope: str = "") -> Handler:
        """Import ``handler`` ("module.function", module may be a dotted path) from a zip."""
        digest = hashlib.sha256(code).hexdigest()[:16]
        module_path, _, function_name = handler.rpartition(".")
        if not module_path or not function_name:
            raise ValueError(f"Handler {handler!r} is not of the form module.function")
        sandbox = hashlib.sha256(f"{scope}|{digest}".encode()).hexdigest()[:16]
        key = f"{sandbox}:{module_path}"
        with self._lock:
            module = self._modules.get(key)
            if module is None:
                root = self._workdir / digest
                if not root.exists():
                    with zipfile.ZipFile(io.BytesIO(code)) as archive:
                        archive.extractall(root)
                module = _import_from(root, module_path, f"_lambda_{sandbox}_{module_path}")
                self._modules[key] = module
        target = getattr(module, function_name, None)
        if not callable(target):
            raise ValueError(f"Handler {handler!r}: no function {function_name!r} in the module")
        return cast(Handler, target)

    def invoke(
        self,
        handler: Handler,
        event: Any,
        context: LambdaContext,
        environment: dict[str, str],
    ) -> Invocation:
        """Call ``handler(event, context)`` in a worker thread, bounded by the function timeout."""
        result: dict[str, Any] = {}

        def run() -> None:
            with self.stdout.capture() as out:
                try:
                    # The handler's AWS calls are its function's (see faults).
                    with invoked_as(context.function_name):
                        result["value"] = handler(event, context)
                except Exception as error:  # the Lambda runtime reports every exception
                    result["error"] = error
                    result["trace"] = traceback.format_exception(error)
                    print(f"[ERROR] {type(error).__name__}: {error}")
                finally:
                    result["logs"] = out.getvalue()

        self.install_streams()
        os.environ.update({key: str(value) for key, value in environment.items()})
        worker = threading.Thread(target=run, name=f"lambda-{context.function_name}", daemon=True)
        worker.start()
        worker.join(context.timeout_seconds)
        if worker.is_alive():
            message = f"Task timed out after {context.timeout_seconds:.2f} seconds"
            return Invocation(
                payload=json.dumps({"errorMessage": message, "errorType": "Sandbox.Timedout"}),
                errored=True,
                logs=result.get("logs", "") + message + "\n",
            )
        if "error" in result:
            error: Exception = result["error"]
            body = {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": [line.rstrip("\n") for line in result["trace"][1:]],
            }
            return Invocation(json.dumps(body), errored=True, logs=result["logs"])
        return Invocation(json.dumps(result.get("value")), errored=False, logs=result["logs"])


def _import_from(root: Path, module_path: str, unique_name: str) -> ModuleType:
    """Import ``module_path`` from ``root`` under ``unique_name``.

    Every function's handler module is usually ``app``; a unique name keeps two
    functions (or two versions of one) from sharing a cached module.
    """
    relative = Path(*module_path.replace("/", ".").split("."))
    for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
        if candidate.exists():
            spec = importlib.util.spec_from_file_location(unique_name, candidate)
            break
    else:
        raise ValueError(f"Handler module {module_path!r} not found in the deployment package")
    if spec is None or spec.loader is None:
        raise ValueError(f"Cannot load handler module {module_path!r}")
    module = importlib.util.module_from_spec(spec)
    # Sibling imports (``import helpers`` next to app.py) resolve from the package root.
    sys.path.insert(0, str(root))
    # A package's sibling modules (helpers.py) are its own: hide other packages' ones
    # while importing, and take this package's out of sys.modules afterwards (the handler
    # module keeps its references), so two packages with a helpers.py never share one.
    workdir = str(root.parent)

    def packaged(mod: Any) -> bool:
        return str(getattr(mod, "__file__", None) or "").startswith(workdir)

    hidden = {name: mod for name, mod in list(sys.modules.items()) if packaged(mod)}
    for name in hidden:
        del sys.modules[name]
    try:
        sys.modules[unique_name] = module
        spec.loader.exec_module(module)
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(root))
        for name, mod in list(sys.modules.items()):
            if name != unique_name and packaged(mod):
                del sys.modules[name]
        sys.modules.update(hidden)
    return module
