"""Where moto 5.2.5 behaves otherwise than AWS in ways Lambda Rollouts depends on.

Every correction is one small function that patches one moto behaviour back to
what AWS does, documented with the AWS behaviour it restores, and tested in
``tests/engine/test_corrections.py`` by a test that fails without it. They are
written so that each could be offered upstream as it is. ``apply_all()``
installs them all, once; the engine calls it before it serves anything.
"""

from __future__ import annotations

import copy
import datetime
import inspect
import json
import random
import threading
import types
import uuid
from collections.abc import Callable
from typing import Any

from moto.awslambda import models as lambda_models
from moto.awslambda import responses as lambda_responses
from moto.awslambda.exceptions import (
    InvalidParameterValueException,
    LambdaClientError,
    PreconditionFailedException,
)
from moto.cloudwatch import models as cloudwatch_models
from moto.events import models as events_models
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.parser import models as sfn_parser_models
from moto.stepfunctions.parser.backend import execution as sfn_execution

from rollouts_cli.local import clock, metrics

_applied: set[str] = set()
_lock = threading.Lock()

# Where Step Functions status-change events go; set by the engine (see emit_execution_events).
ExecutionListener = Callable[[Any], None]
_execution_listeners: list[ExecutionListener] = []


def _once(name: str) -> bool:
    with _lock:
        if name in _applied:
            return False
        _applied.add(name)
        return True


class ResourceConflictException(LambdaClientError):  # type: ignore[misc]  # noqa: N818
    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ResourceConflictException", message)


def unique_execution_names() -> None:
    """StartExecution without a name gets a fresh UUID, as on AWS.

    moto names such an execution ``None``, so the second unnamed start fails
    with ExecutionAlreadyExists; pipelines and EventBridge never send names.
    """
    if not _once("unique_execution_names"):
        return
    original = sfn_parser_models.StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    sfn_parser_models.StepFunctionsParserBackend.start_execution = start_execution


def alias_revision_ids() -> None:
    """Every alias write gets a new RevisionId, and a stale RevisionId is refused.

    AWS answers UpdateAlias with PreconditionFailedException when the request's
    RevisionId is not the alias's current one. moto ignores the parameter and
    never changes the RevisionId, so optimistic locking could not be observed.
    """
    if not _once("alias_revision_ids"):
        return
    original_update = lambda_models.LambdaAlias.update

    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        original_update(self, *args, **kwargs)
        self.revision_id = str(uuid.uuid4())

    lambda_models.LambdaAlias.update = update
    original_response = lambda_responses.LambdaResponse.update_alias

    def update_alias(self: Any) -> Any:
        expected = json.loads(self.body or "{}").get("RevisionId")
        if expected:
            function_name = lambda_responses.unquote(self.path.rsplit("/")[-3])
            alias_name = lambda_responses.unquote(self.path.rsplit("/", 2)[-1])
            alias = self.backend.get_alias(alias_name, function_name)
            if alias.revision_id != expected:
                raise PreconditionFailedException(
                    "The Revision Id provided does not match the latest Revision Id. "
                    "Call the GetAlias API to retrieve the latest Revision Id"
                )
        return original_response(self)

    lambda_responses.LambdaResponse.update_alias = update_alias


def alias_conflicts() -> None:
    """CreateAlias on an existing alias raises ResourceConflictException (moto: Conflict...)."""
    if not _once("alias_conflicts"):
        return
    original = lambda_models.LambdaStorage.put_alias

    def put_alias(self: Any, name: str, function_name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, name, function_name, *args, **kwargs)
        except lambda_models.ConflictException as error:
            raise ResourceConflictException(error.message) from error

    lambda_models.LambdaStorage.put_alias = put_alias


def alias_routing_validation() -> None:
    """Alias weights must name another published version, with a weight in [0.0, 1.0].

    AWS refuses $LATEST, a missing version, the alias's own primary version and
    an out-of-range weight with InvalidParameterValueException; moto stores anything.
    """
    if not _once("alias_routing_validation"):
        return

    def check(storage: Any, function_name: str, primary: str | None, routing: Any) -> None:
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        if weights and str(primary) == "$LATEST":
            raise InvalidParameterValueException(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        if len(weights) > 1:
            raise InvalidParameterValueException("Only one additional version can be routed to")
        for version, weight in weights.items():
            if version == "$LATEST" or not str(version).isdigit():
                raise InvalidParameterValueException(
                    f"Routing is only supported for published versions, not {version}"
                )
            if primary is not None and str(version) == str(primary):
                raise InvalidParameterValueException(
                    "The additional version cannot be the alias's primary version"
                )
            storage.get_function_by_name_or_arn_with_qualifier(function_name, str(version))
            if not isinstance(weight, int | float) or not 0.0 <= float(weight) <= 1.0:
                raise InvalidParameterValueException(
                    f"Weight {weight!r} for version {version} is not between 0.0 and 1.0"
                )

    original_put = lambda_models.LambdaStorage.put_alias
    original_update = lambda_models.LambdaStorage.update_alias

    def put_alias(
        self: Any, name: str, function_name: str, function_version: str, *args: Any
    ) -> Any:
        check(self, function_name, function_version, args[-1] if args else None)
        return original_put(self, name, function_name, function_version, *args)

    def update_alias(
        self: Any,
        name: str,
        function_name: str,
        function_version: str | None,
        description: str | None,
        routing_config: Any,
    ) -> Any:
        primary = function_version or self.get_alias(name, function_name).function_version
        check(self, function_name, primary, routing_config)
        return original_update(
            self, name, function_name, function_version, description, routing_config
        )

    lambda_models.LambdaStorage.put_alias = put_alias
    lambda_models.LambdaStorage.update_alias = update_alias


def _code_and_config(function: Any) -> tuple[Any, ...]:
    return (
        function.code_sha_256,
        function.handler,
        function.run_time,
        function.timeout,
        function.memory_size,
        json.dumps(function.environment_vars, sort_keys=True),
        json.dumps(function.layers, sort_keys=True, default=str),
        function.role,
    )


def publish_version_when_changed() -> None:
    """PublishVersion returns the latest version when code and configuration are unchanged.

    AWS publishes a new version only when $LATEST differs from the last
    published version; moto publishes again after an identical re-upload or any
    configuration update, so a retried publish would make a second version.
    """
    if not _once("publish_version_when_changed"):
        return
    original = lambda_models.LambdaStorage.publish_version

    def publish_version(self: Any, name_or_arn: str, description: str = "") -> Any:
        latest = self.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
        versions = self._functions.get(latest.function_name, {}).get("versions", [])
        if versions and _code_and_config(versions[-1]) == _code_and_config(latest):
            return versions[-1]
        latest.code_or_config_updated = True
        return original(self, name_or_arn, description)

    lambda_models.LambdaStorage.publish_version = publish_version


def publish_version_code_sha256() -> None:
    """PublishVersion with a CodeSha256 other than $LATEST's raises InvalidParameterValueException.

    AWS publishes only when the caller's ``CodeSha256`` (the code it built and
    uploaded) is still the code in $LATEST, so a concurrent upload is never
    published in its place; moto ignores the parameter. The refusal AWS gives
    (seen in CLI and CloudFormation transcripts) is a 400
    InvalidParameterValueException, "CodeSHA256 (X) is different from current
    CodeSHA256 in $LATEST (Y). Please try again with the CodeSHA256 in $LATEST."
    A matching hash then publishes as ``publish_version_when_changed`` does (the
    existing version when nothing changed).
    """
    if not _once("publish_version_code_sha256"):
        return
    original = lambda_responses.LambdaResponse.publish_version

    def publish_version(self: Any) -> Any:
        expected = json.loads(self.body or "{}").get("CodeSha256")
        if expected is not None:
            function_name = lambda_responses.unquote(self.path.split("/")[-2])
            latest = self.backend.get_function(function_name)
            if latest.code_sha_256 != expected:
                raise InvalidParameterValueException(
                    f"CodeSHA256 ({expected}) is different from current CodeSHA256 in "
                    f"$LATEST ({latest.code_sha_256}). Please try again with the CodeSHA256 "
                    "in $LATEST."
                )
        return original(self)

    lambda_responses.LambdaResponse.publish_version = publish_version


def versions_in_use_are_kept() -> None:
    """DeleteFunction on a version that an alias routes to raises ResourceConflictException.

    AWS refuses to delete a version that is an alias's ``FunctionVersion`` or one
    of its ``AdditionalVersionWeights`` ("Unable to delete version because the
    following aliases reference it: [live]"); moto deletes it, and the alias
    then routes to a version that no longer exists.
    """
    if not _once("versions_in_use_are_kept"):
        return
    original = lambda_models.LambdaStorage.del_function

    def del_function(self: Any, name_or_arn: str, qualifier: str | None = None) -> None:
        name, qualifier = _split_qualifier(name_or_arn, qualifier)
        if qualifier and qualifier.isdigit():
            referencing = [
                alias.name
                for alias in self.list_aliases(name)
                if str(alias.function_version) == qualifier
                or qualifier
                in {
                    str(version)
                    for version in (
                        (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
                    )
                }
            ]
            if referencing:
                raise ResourceConflictException(
                    "Unable to delete version because the following aliases reference it: "
                    f"[{', '.join(referencing)}]"
                )
        original(self, name_or_arn, qualifier)

    lambda_models.LambdaStorage.del_function = del_function


def invoke_qualifier_and_weights() -> None:
    """Invoke honours the Qualifier parameter, and an alias routes by its weights.

    moto reads ``qualifier`` from the query string while boto3 sends
    ``Qualifier``, so ``Invoke(FunctionName=f, Qualifier="7")`` ran $LATEST.
    An alias with ``AdditionalVersionWeights`` runs the additional version with
    that probability on AWS, and the response names the version that ran
    (``X-Amz-Executed-Version``); moto always ran the primary version. The
    invocation's metrics (``metrics.lambda_metrics``) learn here what was invoked.
    """
    if not _once("invoke_qualifier_and_weights"):
        return
    original_response = lambda_responses.LambdaResponse.invoke

    def invoke_response(self: Any) -> Any:
        if "Qualifier" in self.querystring and "qualifier" not in self.querystring:
            self.querystring["qualifier"] = self.querystring["Qualifier"]
        return original_response(self)

    lambda_responses.LambdaResponse.invoke = invoke_response

    def invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> Any:
        name, qualifier = _split_qualifier(function_name, qualifier)
        requested, alias_name = qualifier, None
        if qualifier and not qualifier.isdigit() and qualifier != "$LATEST":
            alias = self._lambdas.get_alias(qualifier, name)
            alias_name = qualifier
            qualifier = _pick_version(alias.function_version, alias.routing_config)
        fn = self.get_function(name, qualifier)
        # Its metrics name what the caller invoked, and the version that ran (lambda_metrics).
        with metrics.invoked_through(requested, alias_name):
            payload = fn.invoke(body, headers, response_headers)
        response_headers["x-amz-executed-version"] = str(fn.version)
        response_headers["Content-Length"] = str(len(payload))
        return payload

    lambda_models.LambdaBackend.invoke = invoke


def _split_qualifier(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    """'orders:live' or 'arn:...:function:orders:live' -> ('orders', 'live')."""
    name = function_name.split(":function:")[-1]
    if ":" in name:
        name, qualifier = name.split(":", 1)
    return name, qualifier


def _pick_version(primary: str, routing: Any) -> str:
    weights = (routing or {}).get("AdditionalVersionWeights") or {}
    draw = random.random()
    for version, weight in weights.items():
        if draw < float(weight):
            return str(version)
        draw -= float(weight)
    return str(primary)


def cloudformation_state_machines() -> None:
    """CloudFormation state machines honour DefinitionSubstitutions and run.

    moto's ``AWS::StepFunctions::StateMachine`` reads only ``DefinitionString``,
    leaves ``${...}`` placeholders as they are, ignores ``Definition`` and
    ``Type``, and registers the machine with the backend that does not execute,
    even when ``execute_state_machine`` is on.
    """
    if not _once("cloudformation_state_machines"):
        return

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        from moto.stepfunctions.responses import get_backend

        properties = cloudformation_json["Properties"]
        definition = properties.get("DefinitionString") or json.dumps(
            properties.get("Definition", {})
        )
        for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        backend = get_backend(account_id, region_name)
        return backend.create_state_machine(
            properties.get("StateMachineName", resource_name),
            definition,
            properties.get("RoleArn", ""),
            tags=sfn_models.cfn_to_api_tags(properties.get("Tags", [])),
            sm_type=properties.get("StateMachineType", "STANDARD"),
        )

    sfn_models.StateMachine.create_from_cloudformation_json = classmethod(
        create_from_cloudformation_json
    )


def stop_execution_cause() -> None:
    """StopExecution keeps the error and cause it was given, as DescribeExecution shows on AWS."""
    if not _once("stop_execution_cause"):
        return
    from moto.core.responses import ActionResult
    from moto.stepfunctions import responses as sfn_responses
    from moto.stepfunctions.exceptions import ExecutionDoesNotExist

    def stop_execution(self: Any) -> Any:
        arn = self._get_param("executionArn")
        backend = self.stepfunction_backend
        backend._validate_execution_arn(arn)
        machine = backend._get_state_machine_for_execution(arn)
        execution = next((e for e in machine.executions if e.execution_arn == arn), None)
        if execution is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        execution.stop(
            stop_date=clock.naive_now(),
            error=self._get_param("error"),
            cause=self._get_param("cause"),
        )
        return ActionResult({"stopDate": execution.stop_date})

    sfn_responses.StepFunctionResponse.stop_execution = stop_execution
    original = sfn_execution.BaseExecutionWorkerCommunication._reflect_execution_status

    def reflect(self: Any) -> None:
        original(self)
        state = self.execution.exec_worker.env.program_state()
        if isinstance(state, sfn_execution.ProgramStopped):
            self.execution.error = state.error
            self.execution.cause = state.cause

    sfn_execution.BaseExecutionWorkerCommunication._reflect_execution_status = reflect


class _EngineDatetime(datetime.datetime):
    """``datetime.datetime`` whose ``now()`` reads the engine clock."""

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> Any:
        moment = clock.now()
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


def _datetime_on_the_clock() -> types.ModuleType:
    """The ``datetime`` module, but ``datetime.datetime.now()`` reads the engine clock."""
    shim = types.ModuleType("datetime")
    shim.__dict__.update(datetime.__dict__)
    shim.datetime = _EngineDatetime  # type: ignore[attr-defined]
    return shim


def executions_on_the_clock() -> None:
    """An execution's start and stop dates, its history's timestamps,
    ``$$.Execution.StartTime``, ``$$.State.EnteredTime`` and the Wait states that wait
    until a ``Timestamp`` read the engine clock.

    On AWS they are the time things happened, the same clock the tasks read. moto
    stamps them with the wall clock, which under compressed time is not the clock
    the handlers, the record and the metrics use: a rollout's record would say it
    started minutes before its first shift, and a timeline would put an
    execution's events before the requests that caused them.
    """
    if not _once("executions_on_the_clock"):
        return
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp
    from moto.stepfunctions.parser.asl.eval.event import event_manager

    shim = _datetime_on_the_clock()
    sfn_parser_models.datetime = shim  # StartExecution's start date
    sfn_execution.datetime = shim  # the stop date of an execution that ends by itself
    state.datetime = shim  # $$.State.EnteredTime
    timestamp.datetime = shim  # how long a Wait until a Timestamp waits
    event_manager.EventManager._get_current_timestamp = staticmethod(clock.now)


def send_task_failure_cause() -> None:
    """SendTaskFailure keeps the cause it was given: the task fails with that error and cause.

    moto's response handler passes only the error on, so a Catch (and the history)
    got an empty cause; AWS gives the cause the sender wrote.
    """
    if not _once("send_task_failure_cause"):
        return
    from moto.core.responses import EmptyResult
    from moto.stepfunctions import responses as sfn_responses

    def send_task_failure(self: Any) -> Any:
        backend = self.stepfunction_backend
        given = {"error": self._get_param("error"), "cause": self._get_param("cause")}
        # The interpreting backend takes the cause; moto's plain one (no executions run)
        # takes only the error and ignores the call.
        accepted = inspect.signature(backend.send_task_failure).parameters
        backend.send_task_failure(
            self._get_param("taskToken"), **{k: v for k, v in given.items() if k in accepted}
        )
        return EmptyResult()

    sfn_responses.StepFunctionResponse.send_task_failure = send_task_failure


def execution_status_events() -> None:
    """An execution that ends emits "Step Functions Execution Status Change" on the default bus.

    moto emits no Step Functions events at all, so a rule that cleans up after
    an aborted, failed or timed-out execution would never run.
    """
    if not _once("execution_status_events"):
        return
    original = sfn_execution.BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        original(self)
        execution = self.execution
        from moto.events.models import events_backends

        detail = {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine.arn,
            "name": execution.name,
            "status": getattr(execution.exec_status, "value", str(execution.exec_status)),
            "startDate": int(execution.start_date.timestamp() * 1000),
            "stopDate": int(execution.stop_date.timestamp() * 1000)
            if execution.stop_date
            else None,
            "input": execution.input_data if isinstance(execution.input_data, str) else None,
            "output": execution.output if isinstance(execution.output, str) else None,
            "error": execution.error,
            "cause": execution.cause,
        }
        if not isinstance(detail["input"], str):
            detail["input"] = json.dumps(execution.input_data)
        if execution.output is not None and not isinstance(execution.output, str):
            detail["output"] = json.dumps(execution.output)
        backend = events_backends[execution.account_id][execution.region_name]
        backend.put_events(
            [
                {
                    "Source": "aws.states",
                    "DetailType": "Step Functions Execution Status Change",
                    "Detail": json.dumps(detail),
                    "Resources": [execution.exec_arn],
                }
            ]
        )

    sfn_execution.BaseExecutionWorkerCommunication.terminated = terminated


def stopped_executions_end_at_once() -> None:
    """StopExecution ends the execution ABORTED at once; a task still in flight cannot change it.

    On AWS the execution is ABORTED (and its status change emitted) when
    StopExecution returns; a Lambda task already running goes on, and its
    outcome is ignored (no event follows ExecutionAborted in the history). moto
    kept the execution RUNNING until the in-flight task returned, and a task that
    then failed or timed out turned it FAILED (or TIMED_OUT), so cleanup after a
    stop could not be tested.
    """
    if not _once("stopped_executions_end_at_once"):
        return
    from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    def keeps_stopped(original: Callable[..., None]) -> Callable[..., None]:
        def wrapped(self: Any, *args: Any, **kwargs: Any) -> None:
            with self._state_mutex:  # an RLock: the original takes it again
                if isinstance(self._program_state, ProgramStopped):
                    return
                original(self, *args, **kwargs)

        return wrapped

    Environment.set_error = keeps_stopped(Environment.set_error)
    Environment.set_timed_out = keeps_stopped(Environment.set_timed_out)

    # Nothing is added to a history after the execution's last event (a late task's result).
    final = {
        HistoryEventType.ExecutionAborted,
        HistoryEventType.ExecutionFailed,
        HistoryEventType.ExecutionSucceeded,
        HistoryEventType.ExecutionTimedOut,
    }
    original_add_event = EventManager.add_event

    def add_event(self: Any, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> Any:
        closed = getattr(self, "_rollouts_closed_at", None)
        if closed is not None:
            return closed
        event_id = original_add_event(self, context, event_type, *args, **kwargs)
        if event_type in final:
            self._rollouts_closed_at = event_id
        return event_id

    EventManager.add_event = add_event

    communication = sfn_execution.BaseExecutionWorkerCommunication
    original_terminated = communication.terminated
    ending = threading.Lock()

    def terminated(self: Any) -> None:
        # Once per execution: at StopExecution, or when the interpreter's thread ends.
        with ending:
            if getattr(self, "_rollouts_terminated", False):
                return
            self._rollouts_terminated = True
        original_terminated(self)

    communication.terminated = terminated
    original_stop = sfn_execution.Execution.stop

    def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        original_stop(self, stop_date, error, cause)
        worker = self.exec_worker
        if (
            worker is not None
            and self.exec_status == ExecutionStatus.RUNNING
            and isinstance(worker.env.program_state(), ProgramStopped)
        ):
            worker._execution_communication.terminated()

    sfn_execution.Execution.stop = stop


def rule_targets_delivered() -> None:
    """Rules deliver matching events to Lambda functions and state machines.

    moto answers PutEvents with HTTP 500 when a matching rule targets Lambda or
    Step Functions (it raises an error for them) and never delivers. AWS
    invokes the function asynchronously, or starts an execution, with the event
    (after the target's InputPath / InputTransformer, if any). A disabled rule
    delivers nothing (moto delivered through disabled rules too).
    """
    if not _once("rule_targets_delivered"):
        return
    original = events_models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if _service(t["Arn"]) in ("lambda", "states")]
        others = [t for t in self.targets if t not in ours]
        for target in ours:
            event = _target_input(target, original_event)
            _deliver(self.account_id, self.region_name, target["Arn"], event)
        if others:
            rest = copy.copy(self)
            rest.targets = others
            original(rest, original_event, transform_input)

    events_models.Rule.send_to_targets = send_to_targets


def _service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 else ""


def _aws_envelope(event: dict[str, Any]) -> dict[str, Any]:
    """moto's internal event -> what AWS delivers: ISO 8601 time, no ingestion-time."""
    from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp

    envelope = {k: v for k, v in event.items() if k != "ingestion-time"}
    if isinstance(envelope.get("time"), int | float):
        envelope["time"] = iso_8601_datetime_without_milliseconds(
            utcfromtimestamp(envelope["time"])
        )
    return envelope


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    event = _aws_envelope(event)
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        path = target["InputPath"].lstrip("$").strip(".")
        value: Any = event
        for part in filter(None, path.split(".")):
            value = value.get(part) if isinstance(value, dict) else None
        return value
    transformer = target.get("InputTransformer")
    if transformer:
        text = events_models.EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
        return json.loads(text) if isinstance(text, str) else text
    return event


def _deliver(account_id: str, region: str, arn: str, event: Any) -> None:
    """Invoke a Lambda function asynchronously, or start an execution, with ``event``."""
    body = json.dumps(event, default=str)
    if _service(arn) == "lambda":
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[account_id][region]

        def invoke() -> None:
            backend.invoke(arn, None, body, {"x-amz-invocation-type": "Event"}, {})

        threading.Thread(target=invoke, name="eventbridge-delivery", daemon=True).start()
    else:
        from moto.stepfunctions.responses import get_backend

        get_backend(account_id, region).start_execution(arn, name=None, execution_input=body)


def cloudformation_rest_api_body() -> None:
    """A CloudFormation REST API gets the resources and methods of its ``Body``, as on AWS.

    AWS imports an ``AWS::ApiGateway::RestApi``'s ``Body`` (the Swagger/OpenAPI
    document SAM generates from ``Api`` events). moto ignores it, so the API has
    no methods and the stack fails at its ``AWS::ApiGateway::Deployment`` ("The
    REST API doesn't contain any methods"). Methods get ``AWS_IAM`` when their
    security scheme is SigV4 (``x-amazon-apigateway-authtype: awsSigv4``).
    """
    if not _once("cloudformation_rest_api_body"):
        return
    from moto.apigateway import models as apigateway_models

    original = apigateway_models.RestAPI.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        api = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        body = cloudformation_json["Properties"].get("Body") or {}
        backend = apigateway_models.apigateway_backends[account_id][region_name]
        schemes = body.get("securityDefinitions") or body.get("components", {}).get(
            "securitySchemes", {}
        )
        sigv4 = {
            name
            for name, scheme in schemes.items()
            if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4"
        }
        for path, item in (body.get("paths") or {}).items():
            resource = api.default
            for part in filter(None, path.split("/")):
                children = [
                    child
                    for child in api.resources.values()
                    if child.parent_id == resource.id and child.path_part == part
                ]
                resource = (
                    children[0] if children else backend.create_resource(api.id, resource.id, part)
                )
            for method, operation in item.items():
                if method == "x-amazon-apigateway-any-method":
                    method = "ANY"
                elif method.startswith("x-") or not isinstance(operation, dict):
                    continue
                names = {name for entry in operation.get("security", []) for name in entry}
                authorization = "AWS_IAM" if names & sigv4 else "NONE"
                backend.put_method(api.id, resource.id, method.upper(), authorization)
                integration = operation.get("x-amazon-apigateway-integration")
                if integration:
                    backend.put_integration(
                        api.id,
                        resource.id,
                        method.upper(),
                        str(integration["type"]).upper(),
                        integration.get("uri", ""),
                        integration.get("httpMethod", "POST"),
                    )
        return api

    apigateway_models.RestAPI.create_from_cloudformation_json = classmethod(
        create_from_cloudformation_json
    )


def lambda_task_service_errors() -> None:
    """A Lambda task whose Invoke call fails reports ``Lambda.<code>``, as Step Functions does.

    AWS names a Lambda service error of a Lambda task ``Lambda.`` and its code
    (``Lambda.TooManyRequestsException`` for a 429, ``Lambda.ServiceException``
    for a 500), for a task on the function's ARN and for ``lambda:invoke``
    alike, and a failure of its own SDK client to get an answer (timed out,
    connection reset) ``Lambda.SdkClientException``. moto names the service
    error of a task on the function's ARN ``Exception``, and the client failure
    ``States.TaskFailed`` (function ARN) or ``States.Runtime`` (``lambda:invoke``),
    so a Retry or Catch on the AWS names never matched.
    """
    if not _once("lambda_task_service_errors"):
        return
    from botocore.exceptions import ClientError, HTTPClientError
    from moto.stepfunctions.parser.api import (
        HistoryEventType,
        LambdaFunctionFailedEventDetails,
        TaskFailedEventDetails,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_lambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    service_task = state_task_service_lambda.StateTaskServiceLambda

    def client_failure(error: Exception) -> tuple[str, str]:
        return "Lambda.SdkClientException", f"Unable to execute HTTP request: {error}"

    original_direct = StateTaskLambda._from_error

    def direct_from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            error, cause = service_task._error_cause_from_client_error(ex)
        elif isinstance(ex, HTTPClientError):
            error, cause = client_failure(ex)
        else:
            return original_direct(self, env, ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                    error=error, cause=cause
                )
            ),
        )

    original_service = service_task._from_error

    def service_from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, HTTPClientError):
            return original_service(self, env, ex)
        error, cause = client_failure(ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    StateTaskLambda._from_error = direct_from_error
    service_task._from_error = service_from_error


def cloudformation_event_buses() -> None:
    """A CloudFormation event bus: ``Ref`` gives its name, and its ``Policy`` is kept.

    moto gave ``Ref`` the bus object itself (a rule naming the bus by ``Ref``
    failed to create) and dropped the ``Policy`` property, so DescribeEventBus
    showed none. Statements that ``Fn::If`` left as ``AWS::NoValue`` are dropped,
    as CloudFormation drops them. (The emulator still enforces no bus policy.)
    """
    if not _once("cloudformation_event_buses"):
        return
    from moto.events.models import EventBus

    original_policy: Any = EventBus.policy
    original_create: Any = EventBus.create_from_cloudformation_json.__func__

    def policy(self: Any) -> str | None:
        declared: str | None = getattr(self, "_rollouts_policy", None)
        if declared is not None:
            return declared
        kept: str | None = original_policy.fget(self)
        return kept

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        bus = original_create(cls, resource_name, cloudformation_json, *args, **kwargs)
        declared = (cloudformation_json.get("Properties") or {}).get("Policy")
        if isinstance(declared, dict):
            statements = declared.get("Statement")
            if isinstance(statements, list):
                declared = {**declared, "Statement": [s for s in statements if s is not None]}
            bus._rollouts_policy = json.dumps(declared)
        return bus

    setattr(EventBus, "physical_resource_id", property(lambda self: self.name))  # noqa: B010
    setattr(EventBus, "policy", property(policy))  # noqa: B010
    setattr(  # noqa: B010
        EventBus, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json)
    )


def alarm_state_change_events() -> None:
    """An alarm whose state changes emits "CloudWatch Alarm State Change" on the default bus.

    AWS puts the event (source ``aws.cloudwatch``, the alarm's ARN in ``resources``,
    ``detail`` with ``alarmName``, ``state``, ``previousState`` and ``configuration``)
    on the default bus of the alarm's account and region whenever the state value
    changes, and only then. moto emits nothing, so a rule reacting to an alarm never
    ran. Covered: SetAlarmState, and PutMetricAlarm over an existing alarm (moto
    resets its state to that of a new alarm; AWS keeps it).
    """
    if not _once("alarm_state_change_events"):
        return
    original_update = cloudwatch_models.Alarm.update_state

    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        previous = _alarm_state(self)
        original_update(self, reason, reason_data, state_value)
        if self.state_value != previous["value"]:
            _emit_alarm_state_change(self, previous)

    original_put = cloudwatch_models.CloudWatchBackend.put_metric_alarm

    def put_metric_alarm(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        existing = self.alarms.get(name)
        previous = _alarm_state(existing) if existing is not None else None
        alarm = original_put(self, name, *args, **kwargs)
        if previous is not None and alarm.state_value != previous["value"]:
            _emit_alarm_state_change(alarm, previous)
        return alarm

    cloudwatch_models.Alarm.update_state = update_state
    cloudwatch_models.CloudWatchBackend.put_metric_alarm = put_metric_alarm


def _alarm_timestamp(moment: Any) -> str:
    """``2019-10-01T13:56:40.987+0000``, as in AWS's alarm events (moto keeps naive UTC)."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def _alarm_state(alarm: Any) -> dict[str, Any]:
    state = {
        "value": alarm.state_value,
        "reason": alarm.state_reason,
        "timestamp": _alarm_timestamp(alarm.state_updated_timestamp),
    }
    # moto's "{}" on a new alarm is no reason data; AWS gives reasonData when there is some.
    if alarm.state_reason_data not in (None, "", "{}"):
        state["reasonData"] = alarm.state_reason_data
    return state


def _alarm_metrics(alarm: Any) -> list[dict[str, Any]]:
    """The ``configuration.metrics`` of an alarm's event: its metric, or its metric queries."""

    def metric_stat(metric: Any, period: Any, stat: Any, unit: Any) -> dict[str, Any]:
        stated: dict[str, Any] = {
            "metric": {
                "dimensions": {d.name: d.value for d in metric.dimensions},
                "name": metric.metric_name,
                "namespace": metric.namespace,
            },
            "period": int(period) if period is not None else None,
            "stat": stat,
        }
        if unit:
            stated["unit"] = unit
        return stated

    if alarm.metric_data_queries:
        metrics = []
        for query in alarm.metric_data_queries:
            entry: dict[str, Any] = {"id": query.id, "returnData": query.return_data is not False}
            if query.label:
                entry["label"] = query.label
            if query.expression:
                entry["expression"] = query.expression
            if query.metric_stat is not None:
                stat = query.metric_stat
                entry["metricStat"] = metric_stat(stat.metric, stat.period, stat.stat, stat.unit)
            metrics.append(entry)
        return metrics
    if not alarm.metric_name:
        return []
    metric = cloudwatch_models.Metric(alarm.metric_name, alarm.namespace, alarm.dimensions)
    return [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
            "metricStat": metric_stat(
                metric, alarm.period, alarm.statistic or alarm.extended_statistic, alarm.unit
            ),
            "returnData": True,
        }
    ]


def _emit_alarm_state_change(alarm: Any, previous: dict[str, Any]) -> None:
    from moto.events.models import events_backends

    configuration: dict[str, Any] = {}
    if alarm.description:
        configuration["description"] = alarm.description
    if alarm.rule:
        configuration["alarmRule"] = alarm.rule
    else:
        configuration["metrics"] = _alarm_metrics(alarm)
    detail = {
        "alarmName": alarm.name,
        "state": _alarm_state(alarm),
        "previousState": previous,
        "configuration": configuration,
    }
    account_id = alarm.alarm_arn.split(":")[4]
    backend = events_backends[account_id][alarm.region_name]
    backend.put_events(
        [
            {
                "Source": "aws.cloudwatch",
                "DetailType": "CloudWatch Alarm State Change",
                "Detail": json.dumps(detail),
                "Resources": [alarm.alarm_arn],
            }
        ]
    )


CORRECTIONS: tuple[Callable[[], None], ...] = (
    unique_execution_names,
    alias_revision_ids,
    alias_conflicts,
    alias_routing_validation,
    publish_version_when_changed,
    publish_version_code_sha256,
    versions_in_use_are_kept,
    invoke_qualifier_and_weights,
    cloudformation_state_machines,
    stop_execution_cause,
    executions_on_the_clock,
    send_task_failure_cause,
    execution_status_events,
    stopped_executions_end_at_once,
    rule_targets_delivered,
    cloudformation_rest_api_body,
    lambda_task_service_errors,
    cloudformation_event_buses,
    alarm_state_change_events,
    metrics.lambda_metrics,
    metrics.percentile_statistics,
    metrics.metric_queries_keep_namespace,
    metrics.metric_math_arithmetic,
    metrics.metrics_delay,
    metrics.put_metric_data_on_the_clock,
)


def apply_all() -> None:
    """Install every correction (each installs itself once)."""
    for correction in CORRECTIONS:
        correction()
