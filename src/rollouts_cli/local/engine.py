"""The embedded local engine: the AWS emulator on loopback, with the control plane deployed.

``LocalEngine`` starts moto's server on 127.0.0.1, turns on its Step Functions
interpreter, applies the corrections in ``corrections``, runs every Lambda
function in this process (``runtime``), compresses time (``timescale``) and
deploys ``template.yaml`` through the SAM translator (``deploy``). Any client
that points boto3 at ``engine.endpoint`` then sees one AWS account: functions
it creates run in process too, and their own boto3 calls reach the same emulator.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from moto.awslambda import models as lambda_models
from moto.core.config import default_user_config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from rollouts_cli.local import clock, corrections, metrics, timescale
from rollouts_cli.local.alarm_evaluation import AlarmEvaluator
from rollouts_cli.local.deploy import Stack, deploy, project_root
from rollouts_cli.local.faults import faults, invoked_as
from rollouts_cli.local.runtime import InProcessRuntime, LambdaContext

DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "lambda-rollouts"
# Fixed fake credentials: the emulator accepts any, and clients need some.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}

# The stack parameters the engine deploys with: every function may be a target or
# a hook (tests and the demo name theirs freely), code updates of tagged functions
# roll out, and any principal of the account may request a rollout by event.
# (The emulator enforces no IAM: tests/iam proves what the policies allow.)
LOCAL_PARAMETERS = {
    "TargetFunctionNamePrefix": "*",
    "HookFunctionNamePrefix": "*",
    "AutomaticRollouts": "Enabled",
    "RolloutRequesters": "arn:aws:iam::{account}:*",
}

_runtime = InProcessRuntime()
_install_lock = threading.Lock()
_installed = False


@dataclass(frozen=True)
class EngineInfo:
    """What ``rollouts local up`` prints: how a client reaches the deployed control plane."""

    endpoint: str
    region: str
    stack_name: str
    state_machine_arn: str
    table_name: str
    time_scale: float
    request_bus_name: str
    status_bus_name: str

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "region": self.region,
            "stackName": self.stack_name,
            "stateMachineArn": self.state_machine_arn,
            "tableName": self.table_name,
            "timeScale": self.time_scale,
            "requestBusName": self.request_bus_name,
            "statusBusName": self.status_bus_name,
        }


def _invoke_in_process(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for moto's ``LambdaFunction._invoke_lambda`` (which needs Docker)."""
    self.logs_backend.ensure_log_group(self.logs_group_name)
    environment = {
        "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(self.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
        **{key: str(value) for key, value in (self.environment_vars or {}).items()},
    }
    # Module-level code (Powertools Metrics reads its namespace) sees the function's variables.
    os.environ.update(environment)
    # Before the import: a logger created at import binds the stdout it finds then.
    _runtime.install_streams()
    try:
        # Module-level code runs here, at the first import: its AWS calls are the function's too.
        with invoked_as(self.function_name):
            handler = _runtime.load_handler(self.code_bytes, self.handler, scope=self.function_arn)
    except Exception as error:  # a broken package fails the invocation, as on AWS
        message = f"Runtime.ImportModuleError: {error}"
        self.save_logs(message)
        return message, True, message
    context = LambdaContext(
        function_name=self.function_name,
        function_version=str(self.version),
        invoked_function_arn=self.function_arn,
        memory_limit_in_mb=int(self.memory_size),
        timeout_seconds=float(self.timeout),
        log_group_name=self.logs_group_name,
    )
    begun = time.perf_counter()
    result = _runtime.invoke(handler, event if event is not None else {}, context, environment)
    metrics.handler_ran((time.perf_counter() - begun) * 1000.0)
    if result.logs:
        self.save_logs(result.logs)
    return result.payload, result.errored, result.logs


def _install() -> None:
    """Process-wide, once: corrections, in-process Lambda, Step Functions execution."""
    global _installed
    with _install_lock:
        if _installed:
            return
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        # One line per request from the emulator's web server would drown everything else.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # The interpreter logs every failed state; the execution history already says it.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        # Resources the emulator cannot create (EventInvokeConfig, QueuePolicy) only matter on
        # AWS; moto names them on its root logger, so only that message is filtered out.
        logging.getLogger("moto").addFilter(
            lambda record: not record.getMessage().startswith("No Moto CloudFormation support")
        )
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
        clock.install()
        corrections.apply_all()
        faults.install()
        lambda_models.LambdaFunction._invoke_lambda = _invoke_in_process
        _runtime.install_streams()
        _installed = True


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalEngine:
    """The control plane on the emulator, on ``127.0.0.1:port``. Use as a context manager."""

    def __init__(
        self,
        port: int = 0,
        time_scale: float = 1.0,
        region: str = DEFAULT_REGION,
        stack_name: str = DEFAULT_STACK_NAME,
        root: Path | None = None,
        evaluate_alarms: bool = True,
    ) -> None:
        self.port = port or free_port()
        self.time_scale = time_scale
        self.region = region
        self.stack_name = stack_name
        self.root = root or project_root()
        self._server: ThreadedMotoServer | None = None
        self.stack: Stack | None = None
        # Metric alarms change state from their metrics, as on CloudWatch. Off, an alarm
        # keeps the state SetAlarmState gave it (tests that drive alarms by hand).
        self._alarm_evaluator = AlarmEvaluator() if evaluate_alarms else None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def session(self, region: str | None = None) -> boto3.Session:
        """A session on the emulator, in the engine's region unless told another."""
        return boto3.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region or self.region,
        )

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint)

    def start(self) -> EngineInfo:
        if not _port_is_free(self.port):
            # moto's ThreadedMotoServer.start() would wait forever on a taken port.
            raise OSError(f"port {self.port} on 127.0.0.1 is already in use")
        _install()
        timescale.set_time_scale(self.time_scale)
        # Handlers run in this process: their boto3 clients must reach this emulator.
        os.environ.update(LOCAL_CREDENTIALS)
        os.environ.update(
            {
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_ENDPOINT_URL": self.endpoint,
                "MOTO_PORT": str(self.port),
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self._deploy()
        if self._alarm_evaluator is not None:
            self._alarm_evaluator.start()
        return self.info

    def _deploy(self) -> None:
        self.stack = self.deploy_copy(self.stack_name, self.region)

    def deploy_copy(self, stack_name: str, region: str, **changed: str) -> Stack:
        """``template.yaml`` deployed as ``stack_name`` in ``region``, with the engine's
        parameters but ``changed``: another region is apart from the engine's own stack
        (the emulator keeps regions apart), so a test can deploy what it needs to read."""
        account = self.client("sts").get_caller_identity()["Account"]
        parameters = {key: value.format(account=account) for key, value in LOCAL_PARAMETERS.items()}
        return deploy(
            self.root / "template.yaml",
            stack_name,
            self.session(region),
            self.endpoint,
            parameters={**parameters, **changed},
        )

    def ensure_deployed(self) -> bool:
        """Deploy the stack again if the emulator forgot it; True when it had to.

        moto keeps its resources process-wide: anything in the same process that
        resets them (``moto.mock_aws`` starting, another engine stopping) wipes the
        running engine's stack too.
        """
        if self._server is None:
            raise RuntimeError("the engine is not started")
        stacks = self.client("cloudformation").list_stacks()["StackSummaries"]
        if any(
            s["StackName"] == self.stack_name and s["StackStatus"] == "CREATE_COMPLETE"
            for s in stacks
        ):
            return False
        self._deploy()
        return True

    @property
    def info(self) -> EngineInfo:
        if self.stack is None:
            raise RuntimeError("the engine is not started")
        return EngineInfo(
            endpoint=self.endpoint,
            region=self.region,
            stack_name=self.stack.name,
            state_machine_arn=self.stack.outputs["StateMachineArn"],
            table_name=self.stack.outputs["TableName"],
            time_scale=self.time_scale,
            request_bus_name=self.stack.outputs["RequestBusName"],
            status_bus_name=self.stack.outputs["StatusBusName"],
        )

    def stop(self) -> None:
        if self._alarm_evaluator is not None:
            self._alarm_evaluator.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None
        _reset_backends()

    def __enter__(self) -> LocalEngine:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _reset_backends() -> None:
    """Forget every emulated resource, so that the next engine starts empty."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
