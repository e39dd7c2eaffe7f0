"""Each correction in ``rollouts_cli.local.corrections``, asserted as the AWS behaviour it restores.

Every test talks to the engine through boto3 on its endpoint, as a client on AWS
would, and fails on plain moto 5.2.5.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rollouts_cli.local import clock as engine_clock
from rollouts_cli.local import samples
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.faults import STATES, FaultKind, FaultPoint, Faults

from .conftest import STATES_ROLE, TERMINAL, eventually

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
LONG_WAIT_MACHINE = {
    "StartAt": "Bake",
    "States": {
        "Bake": {"Type": "Wait", "Seconds": 600, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}

# Returns which code ran: the number baked into the source, and the version the runtime saw.
VERSIONED_SOURCE = """
def handler(event, context):
    return {{"code": {code}, "version": context.function_version}}
"""

# Stores every event it receives in a table, for the test to read back.
SINK_SOURCE = """
import json
import boto3

def handler(event, context):
    boto3.client("dynamodb").put_item(
        TableName="{table}",
        Item={{"pk": {{"S": event["id"]}}, "event": {{"S": json.dumps(event)}}}},
    )
"""


def code_error(call: Callable[[], Any]) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def error_code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


@pytest.fixture
def versioned(lambda_client: Any, make_function: Callable[..., str]) -> str:
    """A function with published versions 1, 2 and 3, each returning its own number."""
    name = make_function(VERSIONED_SOURCE.format(code=1), prefix="versioned")
    for code in (2, 3):
        samples.publish(lambda_client, name, VERSIONED_SOURCE.format(code=code))
    return name


def invoke(lambda_client: Any, name: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    answer = lambda_client.invoke(FunctionName=name, **kwargs)
    assert "FunctionError" not in answer
    return str(answer["ExecutedVersion"]), json.loads(answer["Payload"].read())


def sink_events(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    return [json.loads(item["event"]["S"]) for item in items]


# --- unique_execution_names -------------------------------------------------------------


def test_unnamed_executions_each_get_a_fresh_uuid(
    sfn: Any, make_state_machine: Callable[[Any], str], finished: Callable[..., Any]
) -> None:
    machine = make_state_machine(PASS_MACHINE)

    first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    names = [finished(arn)["name"] for arn in (first, second)]
    assert first != second
    assert names[0] != names[1]
    assert all(UUID.match(name) for name in names), names
    assert [arn.rsplit(":", 1)[1] for arn in (first, second)] == names


# --- alias_revision_ids -----------------------------------------------------------------


def test_every_alias_write_changes_the_revision_id_and_a_stale_one_is_refused(
    lambda_client: Any, versioned: str
) -> None:
    created = lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")
    shifted = lambda_client.update_alias(
        FunctionName=versioned,
        Name="live",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
        RevisionId=created["RevisionId"],
    )
    described = lambda_client.update_alias(
        FunctionName=versioned, Name="live", Description="no routing change"
    )
    revisions = [created["RevisionId"], shifted["RevisionId"], described["RevisionId"]]
    assert len(set(revisions)) == 3, revisions
    current = lambda_client.get_alias(FunctionName=versioned, Name="live")
    assert current["RevisionId"] == revisions[-1]

    stale = code_error(
        lambda: lambda_client.update_alias(
            FunctionName=versioned,
            Name="live",
            FunctionVersion="3",
            RoutingConfig={"AdditionalVersionWeights": {}},
            RevisionId=created["RevisionId"],
        )
    )

    assert error_code(stale) == "PreconditionFailedException"
    assert stale.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    after = lambda_client.get_alias(FunctionName=versioned, Name="live")
    assert after["FunctionVersion"] == "1"
    assert after["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert after["RevisionId"] == revisions[-1]


# --- alias_conflicts --------------------------------------------------------------------


def test_creating_an_existing_alias_is_a_resource_conflict(
    lambda_client: Any, versioned: str
) -> None:
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    again = code_error(
        lambda: lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="2")
    )

    assert error_code(again) == "ResourceConflictException"
    assert again.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert lambda_client.get_alias(FunctionName=versioned, Name="live")["FunctionVersion"] == "1"


# --- alias_routing_validation -----------------------------------------------------------

# The codes AWS answers. Where the documentation does not name one, both plausible codes
# are accepted: the point is that the weights are refused and nothing is stored.
REFUSED_ROUTES = [
    pytest.param(
        {"$LATEST": 0.1},
        {"InvalidParameterValueException", "ValidationException"},
        id="additional-latest",
    ),
    pytest.param(
        {"9": 0.1},
        {"InvalidParameterValueException", "ResourceNotFoundException"},
        id="missing-version",
    ),
    pytest.param({"1": 0.1}, {"InvalidParameterValueException"}, id="primary-version"),
    pytest.param(
        {"2": 1.5}, {"InvalidParameterValueException", "ValidationException"}, id="weight-1.5"
    ),
    pytest.param(
        {"2": 0.1, "3": 0.1}, {"InvalidParameterValueException"}, id="two-additional-versions"
    ),
]


@pytest.mark.parametrize(("weights", "codes"), REFUSED_ROUTES)
def test_create_alias_refuses_invalid_weights(
    lambda_client: Any, versioned: str, weights: dict[str, float], codes: set[str]
) -> None:
    refused = code_error(
        lambda: lambda_client.create_alias(
            FunctionName=versioned,
            Name="live",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": weights},
        )
    )

    assert error_code(refused) in codes
    assert lambda_client.list_aliases(FunctionName=versioned)["Aliases"] == []


@pytest.mark.parametrize(("weights", "codes"), REFUSED_ROUTES)
def test_update_alias_refuses_invalid_weights(
    lambda_client: Any, versioned: str, weights: dict[str, float], codes: set[str]
) -> None:
    before = lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    refused = code_error(
        lambda: lambda_client.update_alias(
            FunctionName=versioned,
            Name="live",
            RoutingConfig={"AdditionalVersionWeights": weights},
        )
    )

    assert error_code(refused) in codes
    after = lambda_client.get_alias(FunctionName=versioned, Name="live")
    assert after["FunctionVersion"] == "1"
    assert not after.get("RoutingConfig", {}).get("AdditionalVersionWeights")
    assert after["RevisionId"] == before["RevisionId"]


def test_valid_weights_are_accepted_and_stored(lambda_client: Any, versioned: str) -> None:
    lambda_client.create_alias(
        FunctionName=versioned,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    for weights in ({"2": 0.0}, {"3": 0.5}, {"2": 1.0}, {}):
        lambda_client.update_alias(
            FunctionName=versioned,
            Name="live",
            RoutingConfig={"AdditionalVersionWeights": weights},
        )
        stored = lambda_client.get_alias(FunctionName=versioned, Name="live")
        assert stored.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}) == weights

    moved = lambda_client.update_alias(
        FunctionName=versioned,
        Name="live",
        FunctionVersion="3",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.2}},
    )
    assert moved["FunctionVersion"] == "3"
    assert moved["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.2}}


def test_an_alias_on_latest_cannot_route_to_another_version(
    lambda_client: Any, versioned: str
) -> None:
    refused = code_error(
        lambda: lambda_client.create_alias(
            FunctionName=versioned,
            Name="edge",
            FunctionVersion="$LATEST",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}},
        )
    )
    assert error_code(refused) == "InvalidParameterValueException"


# --- publish_version_when_changed -------------------------------------------------------


def test_publish_version_publishes_only_what_changed(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(VERSIONED_SOURCE.format(code=1), prefix="publish")

    assert lambda_client.publish_version(FunctionName=name)["Version"] == "1"
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "1"

    samples.update_code(lambda_client, name, VERSIONED_SOURCE.format(code=2))
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "2"

    samples.update_code(lambda_client, name, VERSIONED_SOURCE.format(code=2))
    republished = lambda_client.publish_version(FunctionName=name)
    assert republished["Version"] == "2"

    lambda_client.update_function_configuration(FunctionName=name, Timeout=12)
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "3"

    versions = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2", "3"]
    assert invoke(lambda_client, name, Qualifier="2") == ("2", {"code": 2, "version": "2"})


# --- publish_version_code_sha256 --------------------------------------------------------

ONE = VERSIONED_SOURCE.format(code=1)
TWO = VERSIONED_SOURCE.format(code=2)


def sha256_of(source: str) -> str:
    """The CodeSha256 Lambda reports for ``source``'s deployment package."""
    return base64.b64encode(hashlib.sha256(samples.zip_source(source)).digest()).decode()


# (code in $LATEST, CodeSha256 given, version published or error code, versions after)
CODE_SHA256 = [
    pytest.param(TWO, sha256_of(TWO), "2", ["1", "2"], id="matches-latest-publishes"),
    pytest.param(TWO, sha256_of(ONE), "InvalidParameterValueException", ["1"], id="stale-refused"),
    pytest.param(ONE, sha256_of(ONE), "1", ["1"], id="unchanged-returns-existing"),
    pytest.param(
        ONE, sha256_of(TWO), "InvalidParameterValueException", ["1"], id="unchanged-stale"
    ),
    pytest.param(TWO, None, "2", ["1", "2"], id="absent-publishes"),
]


@pytest.mark.parametrize(("latest", "given", "outcome", "after"), CODE_SHA256)
def test_publish_version_honours_code_sha256(
    lambda_client: Any,
    make_function: Callable[..., str],
    latest: str,
    given: str | None,
    outcome: str,
    after: list[str],
) -> None:
    name = make_function(ONE, prefix="sha")  # published as version 1
    if latest != ONE:
        samples.update_code(lambda_client, name, latest)
    in_latest = lambda_client.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
    assert in_latest == sha256_of(latest)
    request = {"FunctionName": name} | ({"CodeSha256": given} if given else {})

    if outcome.isdigit():
        assert lambda_client.publish_version(**request)["Version"] == outcome
    else:
        refused = code_error(lambda: lambda_client.publish_version(**request))
        assert error_code(refused) == outcome
        assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert refused.response["Error"]["Message"] == (
            f"CodeSHA256 ({given}) is different from current CodeSHA256 in $LATEST "
            f"({in_latest}). Please try again with the CodeSHA256 in $LATEST."
        )

    versions = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", *after]


# --- versions_in_use_are_kept -------------------------------------------------------------

# Aliases on the ``versioned`` function (versions 1-3), the version deleted, and the aliases
# AWS names in its refusal.
IN_USE = [
    pytest.param({"live": ("2", {})}, "2", ["live"], id="primary-version"),
    pytest.param({"live": ("1", {"3": 0.1})}, "3", ["live"], id="additional-version"),
    pytest.param(
        {"beta": ("2", {}), "live": ("1", {"2": 0.5})}, "2", ["beta", "live"], id="two-aliases"
    ),
]


@pytest.mark.parametrize(("aliases", "version", "named"), IN_USE)
@pytest.mark.parametrize("form", ["qualifier", "qualified-name"])
def test_a_version_an_alias_routes_to_cannot_be_deleted(
    lambda_client: Any,
    versioned: str,
    aliases: dict[str, tuple[str, dict[str, float]]],
    version: str,
    named: list[str],
    form: str,
) -> None:
    for alias, (primary, weights) in aliases.items():
        lambda_client.create_alias(
            FunctionName=versioned,
            Name=alias,
            FunctionVersion=primary,
            RoutingConfig={"AdditionalVersionWeights": weights},
        )
    target = (
        {"FunctionName": versioned, "Qualifier": version}
        if form == "qualifier"
        else {"FunctionName": f"{versioned}:{version}"}
    )

    refused = code_error(lambda: lambda_client.delete_function(**target))

    assert error_code(refused) == "ResourceConflictException"
    assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert refused.response["Error"]["Message"] == (
        f"Unable to delete version because the following aliases reference it: [{', '.join(named)}]"
    )
    versions = lambda_client.list_versions_by_function(FunctionName=versioned)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2", "3"]
    assert invoke(lambda_client, versioned, Qualifier=version) == (
        version,
        {"code": int(version), "version": version},
    )


def test_a_version_no_alias_routes_to_is_deleted(lambda_client: Any, versioned: str) -> None:
    lambda_client.create_alias(
        FunctionName=versioned,
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"3": 0.0}},
    )

    lambda_client.delete_function(FunctionName=versioned, Qualifier="1")

    versions = lambda_client.list_versions_by_function(FunctionName=versioned)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "2", "3"]
    # The whole function, aliases and all, can still be deleted.
    lambda_client.delete_function(FunctionName=versioned)
    gone = code_error(lambda: lambda_client.get_function(FunctionName=versioned))
    assert error_code(gone) == "ResourceNotFoundException"


# --- invoke_qualifier_and_weights -------------------------------------------------------


def test_invoke_qualifier_runs_that_versions_code(lambda_client: Any, versioned: str) -> None:
    assert invoke(lambda_client, versioned, Qualifier="1") == ("1", {"code": 1, "version": "1"})
    assert invoke(lambda_client, versioned, Qualifier="2") == ("2", {"code": 2, "version": "2"})
    assert invoke(lambda_client, f"{versioned}:1") == ("1", {"code": 1, "version": "1"})
    assert invoke(lambda_client, versioned) == ("$LATEST", {"code": 3, "version": "$LATEST"})


def test_an_alias_without_weights_runs_its_primary_version_only(
    lambda_client: Any, versioned: str
) -> None:
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="2")

    runs = {invoke(lambda_client, versioned, Qualifier="live")[0] for _ in range(20)}
    runs |= {invoke(lambda_client, f"{versioned}:live")[0] for _ in range(5)}

    assert runs == {"2"}


def test_an_alias_routes_invocations_by_its_weights(lambda_client: Any, versioned: str) -> None:
    lambda_client.create_alias(
        FunctionName=versioned,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )

    ran = Counter[str]()
    for _ in range(200):
        version, payload = invoke(lambda_client, versioned, Qualifier="live")
        assert payload == {"code": int(version), "version": version}
        ran[version] += 1

    assert set(ran) == {"1", "2"}
    # 200 fair coin flips: the chance of fewer than 50 on either side is about 1e-12.
    assert 50 <= ran["2"] <= 150, ran


# --- cloudformation_state_machines ------------------------------------------------------


def task_resources(states: dict[str, Any]) -> dict[str, str]:
    """Task state name -> the function it calls, in nested Map/Parallel states too."""
    found: dict[str, str] = {}
    for name, state in states.items():
        if state.get("Type") == "Task":
            resource = state["Resource"]
            if resource.startswith("arn:aws:states:::lambda:invoke"):
                resource = state["Parameters"]["FunctionName"]
            found[name] = resource
        for branch in state.get("Branches", []):
            found |= task_resources(branch["States"])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found |= task_resources(processor["States"])
    return found


def test_the_stack_state_machine_has_its_substitutions_resolved(
    local_engine: LocalEngine, sfn: Any, lambda_client: Any
) -> None:
    cloudformation = local_engine.client("cloudformation")
    resources = cloudformation.list_stack_resources(StackName=local_engine.info.stack_name)
    function_arns = {
        lambda_client.get_function(FunctionName=r["PhysicalResourceId"])["Configuration"][
            "FunctionArn"
        ]
        for r in resources["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::Lambda::Function"
    }

    described = sfn.describe_state_machine(stateMachineArn=local_engine.info.state_machine_arn)

    assert "${" not in described["definition"]
    assert described["type"] == "STANDARD"
    tasks = task_resources(json.loads(described["definition"])["States"])
    assert tasks, "the rollout state machine has Task states"
    assert set(tasks.values()) <= function_arns, set(tasks.values()) - function_arns


def test_the_stack_state_machine_runs(
    local_engine: LocalEngine, sfn: Any, finished: Callable[..., Any]
) -> None:
    # An empty request is refused by the machine's first task: it ran.
    definition = sfn.describe_state_machine(stateMachineArn=local_engine.info.state_machine_arn)[
        "definition"
    ]
    execution = sfn.start_execution(
        stateMachineArn=local_engine.info.state_machine_arn, input=json.dumps({})
    )["executionArn"]

    assert finished(execution, timeout=30)["status"] in TERMINAL
    history = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert entered[0] == json.loads(definition)["StartAt"]
    kinds = {e["type"] for e in history}
    assert kinds & {
        "TaskSucceeded",
        "TaskFailed",
        "LambdaFunctionSucceeded",
        "LambdaFunctionFailed",
    }


# --- stop_execution_cause ---------------------------------------------------------------


def test_stop_execution_keeps_its_error_and_cause(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    time_scale(1.0)
    execution = sfn.start_execution(stateMachineArn=make_state_machine(LONG_WAIT_MACHINE))[
        "executionArn"
    ]
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    sfn.stop_execution(executionArn=execution, error="Operator.Stop", cause="stopped by a test")

    described = finished(execution)
    assert described["status"] == "ABORTED"
    assert described.get("error") == "Operator.Stop"
    assert described.get("cause") == "stopped by a test"


# --- executions_on_the_clock ------------------------------------------------------------
SHORT_WAIT_MACHINE = {
    "StartAt": "Bake",
    "States": {
        "Bake": {"Type": "Wait", "Seconds": 300, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}


def test_an_execution_and_its_history_are_on_the_engine_clock(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    # 300 s at scale 0.01 pass in 3 real seconds: on the engine clock, as on AWS, they are 300 s.
    time_scale(0.01)
    before = engine_clock.now()
    execution = sfn.start_execution(stateMachineArn=make_state_machine(SHORT_WAIT_MACHINE))[
        "executionArn"
    ]

    described = finished(execution, timeout=30)
    after = engine_clock.now()
    assert described["status"] == "SUCCEEDED", described
    started, stopped = described["startDate"], described["stopDate"]
    assert before - timedelta(seconds=5) <= started <= before + timedelta(seconds=60)
    assert timedelta(seconds=300) <= stopped - started <= after - before + timedelta(seconds=5)
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert events[-1]["timestamp"] - events[0]["timestamp"] >= timedelta(seconds=300)
    assert all(started - timedelta(seconds=1) <= e["timestamp"] <= after for e in events)


UNTIL_MACHINE = {
    "StartAt": "Entered",
    "States": {
        "Entered": {
            "Type": "Pass",
            "Parameters": {"until.$": "$.until", "entered.$": "$$.State.EnteredTime"},
            "Next": "Until",
        },
        "Until": {"Type": "Wait", "TimestampPath": "$.until", "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}


def test_a_wait_until_a_timestamp_waits_until_that_moment_on_the_engine_clock(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    # The engine clock runs ahead of the wall clock once time has been compressed.
    time_scale(0.001)
    time.sleep(0.5)  # 500 engine seconds
    time_scale(0.01)
    start = engine_clock.now()
    until = (start + timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
    execution = sfn.start_execution(
        stateMachineArn=make_state_machine(UNTIL_MACHINE), input=json.dumps({"until": until})
    )["executionArn"]

    described = finished(execution, timeout=60)
    assert described["status"] == "SUCCEEDED", described
    entered = datetime.fromisoformat(json.loads(described["output"])["entered"])
    assert abs(entered - start) < timedelta(seconds=30)
    events = sfn.get_execution_history(executionArn=execution)["events"]
    at = {e["type"]: e["timestamp"] for e in events}
    waited = at["WaitStateExited"] - at["WaitStateEntered"]
    # Until that moment, on the clock the moment was read from (not 500 s more).
    assert timedelta(seconds=270) <= waited <= timedelta(seconds=400), waited


def test_a_stopped_execution_stops_on_the_engine_clock(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    time_scale: Callable[[float], None],
) -> None:
    time_scale(0.01)
    execution = sfn.start_execution(stateMachineArn=make_state_machine(LONG_WAIT_MACHINE))[
        "executionArn"
    ]
    time.sleep(1.0)  # 100 engine seconds
    stopping = engine_clock.now()

    sfn.stop_execution(executionArn=execution, error="Operator.Stop", cause="by a test")

    described = finished(execution)
    assert described["status"] == "ABORTED"
    assert described["stopDate"] - described["startDate"] >= timedelta(seconds=90)
    assert abs(described["stopDate"] - stopping) < timedelta(seconds=30)


# --- send_task_failure_cause ------------------------------------------------------------
CALLBACK_MACHINE = {
    "StartAt": "Wait",
    "States": {
        "Wait": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "{queue}", "MessageBody": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 600,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Done"}],
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


def test_send_task_failure_keeps_its_cause(
    sfn: Any,
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    local_engine: LocalEngine,
    time_scale: Callable[[float], None],
) -> None:
    time_scale(1.0)
    sqs = local_engine.client("sqs")
    queue = sqs.create_queue(QueueName=f"tokens-{int(time.time() * 1000)}")["QueueUrl"]
    machine = json.loads(json.dumps(CALLBACK_MACHINE).replace("{queue}", queue))
    execution = sfn.start_execution(stateMachineArn=make_state_machine(machine))["executionArn"]
    token = eventually(
        lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages")
    )[0]["Body"]

    sfn.send_task_failure(
        taskToken=json.loads(token)["token"], error="TestsFailed", cause="build 42 failed"
    )

    described = finished(execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["caught"] == {
        "Error": "TestsFailed",
        "Cause": "build 42 failed",
    }


# --- execution_status_events + rule_targets_delivered -----------------------------------


@pytest.fixture
def status_sink(
    events: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_state_machine: Callable[[Any], str],
    make_table: Callable[[], str],
    rule_cleanup: list[str],
    unique_name: Callable[[str], str],
) -> Callable[..., tuple[str, str]]:
    """A machine, and a rule that sends its status changes to a function that stores them.

    Returns the machine's ARN and the table the events land in.
    """

    def make(definition: dict[str, Any], statuses: list[str] | None = None) -> tuple[str, str]:
        machine = make_state_machine(definition)
        table = make_table()
        sink = make_function(SINK_SOURCE.format(table=table), prefix="sink")
        detail: dict[str, Any] = {"stateMachineArn": [machine]}
        if statuses:
            detail["status"] = statuses
        rule = unique_name("status-rule")
        events.put_rule(
            Name=rule,
            EventPattern=json.dumps(
                {
                    "source": ["aws.states"],
                    "detail-type": ["Step Functions Execution Status Change"],
                    "detail": detail,
                }
            ),
        )
        rule_cleanup.append(rule)
        arn = lambda_client.get_function(FunctionName=sink)["Configuration"]["FunctionArn"]
        events.put_targets(Rule=rule, Targets=[{"Id": "sink", "Arn": arn}])
        return machine, table

    return make


def test_an_ended_execution_emits_a_status_change_to_a_lambda_target(
    sfn: Any,
    status_sink: Callable[..., tuple[str, str]],
    finished: Callable[..., Any],
    dynamodb: Any,
) -> None:
    machine, table = status_sink(PASS_MACHINE)
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"a": 1}))[
        "executionArn"
    ]
    assert finished(execution)["status"] == "SUCCEEDED"

    received = eventually(lambda: sink_events(dynamodb, table))

    assert len(received) == 1, received
    event = received[0]
    assert event["source"] == "aws.states"
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["resources"] == [execution]
    assert event["detail"]["executionArn"] == execution
    assert event["detail"]["stateMachineArn"] == machine
    assert event["detail"]["name"] == execution.rsplit(":", 1)[1]
    assert json.loads(event["detail"]["input"]) == {"a": 1}
    assert event["detail"]["status"] == "SUCCEEDED"


def test_a_stopped_execution_reaches_a_rule_filtering_on_status(
    sfn: Any,
    status_sink: Callable[..., tuple[str, str]],
    finished: Callable[..., Any],
    dynamodb: Any,
    time_scale: Callable[[float], None],
) -> None:
    time_scale(1.0)
    machine, table = status_sink(LONG_WAIT_MACHINE, statuses=["FAILED", "TIMED_OUT", "ABORTED"])
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    sfn.stop_execution(executionArn=execution)
    assert finished(execution)["status"] == "ABORTED"

    received = eventually(lambda: sink_events(dynamodb, table), timeout=5)

    assert received[0]["detail"]["executionArn"] == execution
    assert received[0]["detail"]["status"] == "ABORTED"


# --- stopped_executions_end_at_once --------------------------------------------------------

# Marks "started", sleeps past the stop, marks "finished", then ends as ``{ending}``.
IN_FLIGHT_SOURCE = """
import time
import boto3

def mark(what):
    boto3.client("dynamodb").put_item(TableName="{table}", Item={{"pk": {{"S": what}}}})

def handler(event, context):
    mark("started")
    time.sleep({seconds})
    mark("finished")
    if "{ending}" == "raises":
        raise RuntimeError("failed after the stop")
    return {{"done": True}}
"""

IN_FLIGHT = [
    pytest.param("returns", 1.5, 60, id="task-succeeds-later"),
    pytest.param("raises", 1.5, 60, id="task-fails-later"),
    pytest.param("returns", 2.5, 1, id="task-times-out-later"),
]


@pytest.mark.parametrize(("ending", "seconds", "task_timeout"), IN_FLIGHT)
def test_a_stopped_execution_is_aborted_at_once_whatever_its_task_does_later(
    sfn: Any,
    dynamodb: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_table: Callable[[], str],
    status_sink: Callable[..., tuple[str, str]],
    ending: str,
    seconds: float,
    task_timeout: int,
) -> None:
    marks = make_table()
    slow = make_function(
        IN_FLIGHT_SOURCE.format(table=marks, seconds=seconds, ending=ending), prefix="inflight"
    )
    arn = lambda_client.get_function(FunctionName=slow)["Configuration"]["FunctionArn"]
    machine, events_table = status_sink(
        {
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": arn,
                    "TimeoutSeconds": task_timeout,
                    "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
                    "End": True,
                }
            },
        }
    )

    def marked(what: str) -> bool:
        found = dynamodb.get_item(TableName=marks, Key={"pk": {"S": what}}, ConsistentRead=True)
        return "Item" in found

    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    eventually(lambda: marked("started"))
    sfn.stop_execution(executionArn=execution, error="Operator.Stop", cause="by a test")

    # Ended when StopExecution answered, while the handler is still running.
    stopped = sfn.describe_execution(executionArn=execution)
    assert not marked("finished")
    assert (stopped["status"], stopped.get("error")) == ("ABORTED", "Operator.Stop")
    received = eventually(lambda: sink_events(dynamodb, events_table), timeout=5)
    assert [e["detail"]["status"] for e in received] == ["ABORTED"]

    # The task's later outcome changes nothing, and is not retried.
    eventually(lambda: marked("finished"), timeout=10)
    time.sleep(1.0)
    after = sfn.describe_execution(executionArn=execution)
    assert (after["status"], after.get("error"), after.get("cause")) == (
        "ABORTED",
        "Operator.Stop",
        "by a test",
    )
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert history[-1]["type"] == "ExecutionAborted"
    assert [h["type"] for h in history].count("LambdaFunctionScheduled") == 1
    assert [e["detail"]["status"] for e in sink_events(dynamodb, events_table)] == ["ABORTED"]


def test_put_events_starts_a_state_machine_target_with_the_event(
    sfn: Any,
    events: Any,
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    rule_cleanup: list[str],
    unique_name: Callable[[str], str],
) -> None:
    machine = make_state_machine(PASS_MACHINE)
    source = unique_name("engine.tests")
    rule = unique_name("custom-rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    rule_cleanup.append(rule)
    events.put_targets(
        Rule=rule, Targets=[{"Id": "machine", "Arn": machine, "RoleArn": STATES_ROLE}]
    )

    answer = events.put_events(
        Entries=[
            {"Source": source, "DetailType": "Deploy requested", "Detail": json.dumps({"k": "v"})}
        ]
    )
    assert answer["FailedEntryCount"] == 0

    started = eventually(lambda: sfn.list_executions(stateMachineArn=machine)["executions"])
    assert len(started) == 1
    described = finished(started[0]["executionArn"])
    assert described["status"] == "SUCCEEDED"
    event = json.loads(described["input"])
    assert event["id"] == answer["Entries"][0]["EventId"]
    assert event["source"] == source
    assert event["detail-type"] == "Deploy requested"
    assert event["detail"] == {"k": "v"}
    assert json.loads(described["output"]) == event


def test_targets_receive_the_aws_event_envelope(
    sfn: Any,
    events: Any,
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    rule_cleanup: list[str],
    unique_name: Callable[[str], str],
) -> None:
    machine = make_state_machine(PASS_MACHINE)
    source = unique_name("engine.tests")
    rule = unique_name("custom-rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    rule_cleanup.append(rule)
    events.put_targets(
        Rule=rule, Targets=[{"Id": "machine", "Arn": machine, "RoleArn": STATES_ROLE}]
    )
    events.put_events(Entries=[{"Source": source, "DetailType": "x", "Detail": "{}"}])

    started = eventually(lambda: sfn.list_executions(stateMachineArn=machine)["executions"])
    event = json.loads(finished(started[0]["executionArn"])["input"])

    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", str(event["time"])), event["time"]


# --- cloudformation_rest_api_body ---------------------------------------------------------


def test_the_stack_rest_api_has_the_methods_of_its_body_with_iam(
    local_engine: LocalEngine,
) -> None:
    cloudformation = local_engine.client("cloudformation")
    apigateway = local_engine.client("apigateway")
    resources = cloudformation.list_stack_resources(StackName=local_engine.info.stack_name)
    (api_id,) = [
        r["PhysicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::ApiGateway::RestApi"
    ]

    items = apigateway.get_resources(restApiId=api_id, embed=["methods"])["items"]
    methods = {
        (item["path"], method): apigateway.get_method(
            restApiId=api_id, resourceId=item["id"], httpMethod=method
        )
        for item in items
        for method in item.get("resourceMethods", {})
    }

    assert set(methods) == {
        ("/functions/{functionName}/aliases/{alias}/rollouts", "POST"),
        ("/functions/{functionName}/aliases/{alias}/rollouts", "GET"),
        ("/functions/{functionName}/aliases/{alias}/rollouts/{rolloutId}", "GET"),
        ("/functions/{functionName}/aliases/{alias}/rollouts/{rolloutId}/abort", "POST"),
        ("/functions/{functionName}/aliases/{alias}/rollouts/{rolloutId}/pause", "POST"),
        ("/functions/{functionName}/aliases/{alias}/rollouts/{rolloutId}/resume", "POST"),
        ("/functions/{functionName}/aliases/{alias}/rollouts/{rolloutId}/promote", "POST"),
    }
    assert {m["authorizationType"] for m in methods.values()} == {"AWS_IAM"}
    assert {m["methodIntegration"]["type"] for m in methods.values()} == {"AWS_PROXY"}


def test_a_disabled_rule_delivers_nothing(local_engine: Any, unique_name: Any) -> None:
    events = local_engine.client("events")
    sqs = local_engine.client("sqs")
    queue = sqs.create_queue(QueueName=unique_name("disabled-rule"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = unique_name("test.disabled")
    rule = unique_name("disabled")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}), State="DISABLED")
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
    entry = {"Source": source, "DetailType": "t", "Detail": "{}"}
    try:
        events.put_events(Entries=[entry])
        assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages") is None

        events.enable_rule(Name=rule)
        events.put_events(Entries=[entry])
        assert len(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)["Messages"]) == 1
    finally:
        events.remove_targets(Rule=rule, Ids=["queue"])
        events.delete_rule(Name=rule)


# --- lambda_task_service_errors -----------------------------------------------------------

# What Step Functions names a failed Invoke of a task's function: Lambda.<code> for a
# Lambda service error, Lambda.SdkClientException when its own client gets no answer.
INVOKE_FAILURES = [
    pytest.param(kind, resource, error, ran, id=f"{resource}-{kind}")
    for resource in ("function-arn", "lambda-invoke")
    for kind, error, ran in (
        (FaultKind.THROTTLE, "Lambda.TooManyRequestsException", False),
        (FaultKind.SERVER_ERROR, "Lambda.ServiceException", False),
        (FaultKind.READ_TIMEOUT, "Lambda.SdkClientException", False),
        (FaultKind.CONNECTION_RESET, "Lambda.SdkClientException", False),
        (FaultKind.ANSWER_LOST, "Lambda.SdkClientException", True),
    )
]


@pytest.mark.parametrize(("kind", "resource", "error", "ran"), INVOKE_FAILURES)
def test_a_failed_invoke_of_a_tasks_function_reaches_the_asl_by_its_aws_name(
    faults: Faults,
    sfn: Any,
    dynamodb: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_table: Callable[[], str],
    make_state_machine: Callable[[Any], str],
    finished: Callable[..., Any],
    kind: FaultKind,
    resource: str,
    error: str,
    ran: bool,
) -> None:
    table = make_table()
    name = make_function(SINK_SOURCE.format(table=table), prefix="invoked")
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    task: dict[str, Any] = {"Type": "Task", "Parameters": {"id": "ran"}, "End": True}
    if resource == "function-arn":
        task["Resource"] = arn
    else:
        task["Resource"] = "arn:aws:states:::lambda:invoke"
        task["Parameters"] = {"FunctionName": arn, "Payload": {"id": "ran"}}
    # Caught by the AWS name only: a Catch on the name moto gave would not match.
    task["Catch"] = [{"ErrorEquals": [error], "ResultPath": "$.caught", "Next": "Caught"}]
    machine = make_state_machine(
        {
            "StartAt": "Invoke",
            "States": {"Invoke": task, "Caught": {"Type": "Pass", "End": True}},
        }
    )

    with faults.injecting(
        FaultPoint("lambda", "Invoke", STATES, 1), kind, params_contain=arn
    ) as injected:
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        described = finished(execution)

    assert injected.fired
    assert described["status"] == "SUCCEEDED", described
    caught = json.loads(described["output"])["caught"]
    assert caught["Error"] == error
    if kind in (FaultKind.THROTTLE, FaultKind.SERVER_ERROR):
        assert "Service: AWSLambda" in caught["Cause"]
    assert [event["id"] for event in sink_events(dynamodb, table)] == (["ran"] if ran else [])


def test_a_cloudformation_event_bus_is_named_by_ref_and_keeps_its_policy(
    local_engine: Any,
) -> None:
    """The stack's rule names its bus by Ref; DescribeEventBus shows the declared policy."""
    events = local_engine.client("events")
    requests = local_engine.info.request_bus_name
    status = events.describe_event_bus(Name=local_engine.info.status_bus_name)

    rules = events.list_rules(EventBusName=requests)["Rules"]
    (statement,) = json.loads(status["Policy"])["Statement"]

    assert [json.loads(r["EventPattern"])["detail-type"] for r in rules] == [["Rollout Requested"]]
    assert statement["Sid"] == "OnlyTheControlPlanePutsStatusEvents"
    assert statement["Resource"] == status["Arn"]
    # Fn::If left one statement of the request bus's two as AWS::NoValue only when
    # nobody is named; the engine names its account, so both are there.
    request_policy = json.loads(events.describe_event_bus(Name=requests)["Policy"])
    assert [s["Effect"] for s in request_policy["Statement"]] == ["Allow", "Deny"]


# --- alarm_state_change_events ------------------------------------------------------------

ALARM_STATE_CHANGE = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
}
AWS_ALARM_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


@pytest.fixture
def alarm_sinks(
    local_engine: LocalEngine,
    events: Any,
    dynamodb: Any,
    lambda_client: Any,
    make_function: Callable[..., str],
    make_table: Callable[[], str],
    rule_cleanup: list[str],
    unique_name: Callable[[str], str],
) -> tuple[str, Callable[[str], list[dict[str, Any]]]]:
    """An alarm, and two default-bus rules on its state changes, each to a sink function.

    Returns the alarm's name and a reader of what a sink got: "alarm" (a rule on
    ``state.value`` ALARM only) or "every" (a rule on every state change).
    """
    alarm = unique_name("errors")
    local_engine.client("cloudwatch").put_metric_alarm(
        AlarmName=alarm,
        AlarmDescription="errors of the canary",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "orders"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    tables = {}
    for sink, state in (("alarm", {"state": {"value": ["ALARM"]}}), ("every", {})):
        table = make_table()
        function = make_function(SINK_SOURCE.format(table=table), prefix=f"{sink}-sink")
        rule = unique_name(f"{sink}-rule")
        pattern = ALARM_STATE_CHANGE | {"detail": {"alarmName": [alarm], **state}}
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
        rule_cleanup.append(rule)
        arn = lambda_client.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        events.put_targets(Rule=rule, Targets=[{"Id": "sink", "Arn": arn}])
        tables[sink] = table

    def received(sink: str) -> list[dict[str, Any]]:
        return sorted(
            sink_events(dynamodb, tables[sink]), key=lambda e: e["detail"]["state"]["timestamp"]
        )

    return alarm, received


def settled(read: Callable[[], list[dict[str, Any]]], count: int) -> list[dict[str, Any]]:
    """What ``read`` gives once it has ``count`` events, and still after a grace period."""
    eventually(lambda: len(read()) >= count)
    time.sleep(0.5)
    found = read()
    assert len(found) == count, found
    return found


def test_an_alarm_going_into_alarm_emits_one_state_change_event(
    local_engine: LocalEngine, alarm_sinks: tuple[str, Callable[[str], list[dict[str, Any]]]]
) -> None:
    alarm, received = alarm_sinks
    cloudwatch = local_engine.client("cloudwatch")
    (described,) = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    reason_data = json.dumps({"version": "1.0", "recentDatapoints": [3.0], "threshold": 1.0})

    cloudwatch.set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="3 errors", StateReasonData=reason_data
    )

    (event,) = settled(lambda: received("alarm"), 1)
    account = local_engine.client("sts").get_caller_identity()["Account"]
    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["resources"] == [described["AlarmArn"]]
    assert (event["account"], event["region"]) == (account, local_engine.region)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", event["time"]), event["time"]
    detail = event["detail"]
    assert detail["alarmName"] == alarm
    state, previous = detail["state"], detail["previousState"]
    assert (state["value"], state["reason"], state["reasonData"]) == (
        "ALARM",
        "3 errors",
        reason_data,
    )
    assert (previous["value"], previous["reason"]) == ("OK", "Unchecked: Initial alarm creation")
    assert AWS_ALARM_TIMESTAMP.match(state["timestamp"]), state["timestamp"]
    assert AWS_ALARM_TIMESTAMP.match(previous["timestamp"]), previous["timestamp"]
    assert previous["timestamp"] <= state["timestamp"]
    assert detail["configuration"]["description"] == "errors of the canary"
    (metric,) = detail["configuration"]["metrics"]
    assert metric["returnData"] is True
    assert metric["metricStat"] == {
        "metric": {
            "dimensions": {"FunctionName": "orders"},
            "name": "Errors",
            "namespace": "AWS/Lambda",
        },
        "period": 60,
        "stat": "Sum",
    }
    assert [e["id"] for e in settled(lambda: received("every"), 1)] == [event["id"]]


def test_only_a_change_of_state_value_emits(
    local_engine: LocalEngine, alarm_sinks: tuple[str, Callable[[str], list[dict[str, Any]]]]
) -> None:
    alarm, received = alarm_sinks
    cloudwatch = local_engine.client("cloudwatch")

    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="still fine")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="errors")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="more errors")

    (event,) = settled(lambda: received("every"), 1)
    assert (event["detail"]["previousState"]["value"], event["detail"]["state"]["value"]) == (
        "OK",
        "ALARM",
    )
    assert event["detail"]["state"]["reason"] == "errors"
    assert len(received("alarm")) == 1


def test_ok_alarm_ok_emits_two_changes_and_the_state_filter_sees_one(
    local_engine: LocalEngine, alarm_sinks: tuple[str, Callable[[str], list[dict[str, Any]]]]
) -> None:
    alarm, received = alarm_sinks
    cloudwatch = local_engine.client("cloudwatch")

    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="errors")
    time.sleep(0.01)  # distinct state timestamps, to read the changes back in order
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="recovered")

    every = settled(lambda: received("every"), 2)
    assert [
        (e["detail"]["previousState"]["value"], e["detail"]["state"]["value"]) for e in every
    ] == [("OK", "ALARM"), ("ALARM", "OK")]
    assert every[1]["detail"]["previousState"]["reason"] == "errors"
    (alarmed,) = settled(lambda: received("alarm"), 1)
    assert alarmed["id"] == every[0]["id"]


def test_put_metric_alarm_emits_only_when_it_changes_the_state(
    local_engine: LocalEngine, alarm_sinks: tuple[str, Callable[[str], list[dict[str, Any]]]]
) -> None:
    # Creating the alarm (the fixture) emitted nothing. moto resets an updated alarm to OK
    # (AWS keeps its state): the event says what the engine's DescribeAlarms then shows.
    alarm, received = alarm_sinks
    cloudwatch = local_engine.client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="errors")
    settled(lambda: received("every"), 1)

    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=2,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )

    (described,) = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    every = settled(lambda: received("every"), 2)
    assert every[1]["detail"]["state"]["value"] == described["StateValue"]
    assert every[1]["detail"]["previousState"]["value"] == "ALARM"
    assert "description" not in every[1]["detail"]["configuration"]
