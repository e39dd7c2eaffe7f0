"""The control plane stack, checked on the CloudFormation that SAM makes of it.

Everything here runs offline on `aws-sam-translator` output (see conftest.py):
the ASL placeholders match the substitutions, each role holds exactly the
rights its task needs, and the cleanup rule fires on the right executions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern
from moto.events.utils import EventMessageType

ROOT = Path(__file__).resolve().parents[2]
Template = dict[str, Any]

# Task functions the state machine invokes, by the substitution naming their ARN.
TASK_FUNCTIONS = {
    "PrepareRolloutFunctionArn": "PrepareRolloutFunction",
    "PublishVersionFunctionArn": "PublishVersionFunction",
    "RunHookFunctionArn": "RunHookFunction",
    "ShiftTrafficFunctionArn": "ShiftTrafficFunction",
    "CheckHealthFunctionArn": "CheckHealthFunction",
    "PromoteTargetFunctionArn": "PromoteTargetFunction",
    "RollBackFunctionArn": "RollBackFunction",
    "FinishRolloutFunctionArn": "FinishRolloutFunction",
}
# Every function of the stack and its code folder under functions/.
FUNCTION_DIRS = {
    "PrepareRolloutFunction": "prepare",
    "PublishVersionFunction": "publish_version",
    "RunHookFunction": "run_hook",
    "ShiftTrafficFunction": "shift_traffic",
    "CheckHealthFunction": "check_health",
    "PromoteTargetFunction": "promote",
    "RollBackFunction": "roll_back",
    "FinishRolloutFunction": "finish",
    "ReleaseRolloutFunction": "release",
    "StartRolloutFunction": "start_rollout",
    "ApiFunction": "api",
    "WakeRolloutsFunction": "wake",
}

# Task tokens are not resources IAM can name ("*"): the token is the secret, and only the
# record (and the hook it was given to) holds it.
END_WAITS = "*"
WATCHES = "table[ALARM#*]"
# The rollout table, by kind of item: every item grant names the partition keys it may
# touch (``dynamodb:LeadingKeys``), e.g. "table[ROLLOUT#*]" (see `grants`).
RECORDS = "table[ROLLOUT#*]"
LOCKS = "table[LOCK#*]"
# Powertools idempotency records: the hook answers, and the API's starts, each apart.
HOOK_ANSWERS = "table[IDEMPOTENCY#hooks]"
API_STARTS = "table[IDEMPOTENCY#api]"
POWERTOOLS_IDEMPOTENCY = frozenset(
    {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:DeleteItem"}
)
# What a task that moves or watches traffic does: updates its record, reads its lock.
TASK_TABLE = {
    RECORDS: frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"}),
    LOCKS: frozenset({"dynamodb:GetItem"}),
}
# What an ending does besides: releases the lock; marks ended a rollout never prepared.
ENDING_TABLE = {
    RECORDS: frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"}),
    LOCKS: frozenset({"dynamodb:GetItem", "dynamodb:DeleteItem"}),
    # An ended rollout's watch items go (its alarms wake it no more).
    WATCHES: frozenset({"dynamodb:BatchWriteItem"}),
}
# CloudWatch Logs vended-log delivery for the state machine; these actions
# take no resource but "*".
LOG_DELIVERY = frozenset(
    f"logs:{action}"
    for action in (
        "CreateLogDelivery",
        "GetLogDelivery",
        "UpdateLogDelivery",
        "DeleteLogDelivery",
        "ListLogDeliveries",
        "PutResourcePolicy",
        "DescribeResourcePolicies",
        "DescribeLogGroups",
    )
)
# The only AWS managed policies SAM may attach: logging and X-Ray.
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}

# Every phase change is put on the status bus by the task that makes it.
PUT_STATUS_EVENTS = frozenset({"events:PutEvents"})

# What each task may do, by kind of resource (see `resource_kind`).
EXPECTED_GRANTS: dict[str, dict[str, frozenset[str]]] = {
    "PrepareRolloutFunction": {
        "status-bus": PUT_STATUS_EVENTS,
        RECORDS: frozenset({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}),
        LOCKS: frozenset({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}),
        "targets": frozenset(
            {
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:GetAlias",
                # The baseline's pin, and the cleanup after a stale lock.
                "lambda:CreateAlias",
                "lambda:UpdateAlias",
                "lambda:DeleteAlias",
            }
        ),
        "executions": frozenset({"states:DescribeExecution"}),
        "hooks": frozenset({"lambda:GetFunction"}),
        "alarms": frozenset({"cloudwatch:DescribeAlarms"}),
        # Which rollouts each alarm wakes, written before the record.
        WATCHES: frozenset({"dynamodb:BatchWriteItem"}),
    },
    "PublishVersionFunction": {
        RECORDS: frozenset({"dynamodb:UpdateItem"}),
        "targets": frozenset(
            {"lambda:PublishVersion", "lambda:GetFunction", "lambda:GetFunctionConfiguration"}
        ),
    },
    # Its hook answers are Powertools idempotency records (pk IDEMPOTENCY#hooks); no lock.
    "RunHookFunction": {
        RECORDS: frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"}),
        HOOK_ANSWERS: POWERTOOLS_IDEMPOTENCY,
        "hooks": frozenset({"lambda:InvokeFunction"}),
        # An alarm already in ALARM once the token is left fails the wait.
        "alarms": frozenset({"cloudwatch:DescribeAlarms"}),
        # Answers on the hook's token when the hook answered at once.
        END_WAITS: frozenset({"states:SendTaskSuccess"}),
    },
    # Every task that moves traffic reads the alarms first: nothing moves while one fires.
    "ShiftTrafficFunction": {
        "status-bus": PUT_STATUS_EVENTS,
        **TASK_TABLE,
        "targets": frozenset({"lambda:GetAlias", "lambda:UpdateAlias"}),
        "alarms": frozenset({"cloudwatch:DescribeAlarms"}),
    },
    "CheckHealthFunction": {
        # Announces a hold beginning and ending (paused, resumed).
        "status-bus": PUT_STATUS_EVENTS,
        **TASK_TABLE,
        "targets": frozenset({"lambda:GetAlias"}),
        "alarms": frozenset({"cloudwatch:DescribeAlarms"}),
        # Ends its own bake when its first look finds it must not wait; and the analysis
        # reads both versions' metrics (GetMetricData names no resource IAM can scope).
        END_WAITS: frozenset({"states:SendTaskSuccess", "cloudwatch:GetMetricData"}),
    },
    "PromoteTargetFunction": {
        "status-bus": PUT_STATUS_EVENTS,
        **TASK_TABLE,
        # DeleteAlias: a first deploy's alias created after its rollout ended is taken back.
        "targets": frozenset(
            {"lambda:GetAlias", "lambda:UpdateAlias", "lambda:CreateAlias", "lambda:DeleteAlias"}
        ),
        "alarms": frozenset({"cloudwatch:DescribeAlarms"}),
    },
    "RollBackFunction": {
        "status-bus": PUT_STATUS_EVENTS,
        **ENDING_TABLE,
        "targets": frozenset({"lambda:GetAlias", "lambda:UpdateAlias", "lambda:DeleteAlias"}),
    },
    # The last look (the alias, the alarms) before success; the baseline's pin removed.
    "FinishRolloutFunction": {
        "status-bus": PUT_STATUS_EVENTS,
        RECORDS: frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"}),
        LOCKS: frozenset({"dynamodb:GetItem", "dynamodb:DeleteItem"}),
        WATCHES: frozenset({"dynamodb:BatchWriteItem"}),
        "targets": frozenset({"lambda:GetAlias", "lambda:DeleteAlias"}),
        "alarms": frozenset({"cloudwatch:DescribeAlarms"}),
    },
    # Its event carries the execution: it reads nothing of Step Functions.
    "ReleaseRolloutFunction": {
        "status-bus": PUT_STATUS_EVENTS,
        **ENDING_TABLE,
        "targets": frozenset({"lambda:GetAlias", "lambda:UpdateAlias", "lambda:DeleteAlias"}),
        "failure-queue": frozenset({"sqs:SendMessage"}),
    },
    # Starts rollouts from EventBridge: reads the lock to refuse a busy alias (and its
    # execution, to tell a stale lock), reads a code-updated function's tags, announces refusals.
    "StartRolloutFunction": {
        "state-machine": frozenset({"states:StartExecution"}),
        "executions": frozenset({"states:DescribeExecution"}),
        "status-bus": PUT_STATUS_EVENTS,
        LOCKS: frozenset({"dynamodb:GetItem"}),
        "targets": frozenset({"lambda:GetFunction", "lambda:ListTags"}),
        "failure-queue": frozenset({"sqs:SendMessage"}),
    },
    # The REST API: starts and describes executions; reads records and locks,
    # writes abort requests and idempotency records, queries byAlias. It can neither
    # take nor delete a lock.
    "ApiFunction": {
        "status-bus": PUT_STATUS_EVENTS,
        "state-machine": frozenset({"states:StartExecution"}),
        "executions": frozenset({"states:DescribeExecution"}),
        "table[LOCK#*,ROLLOUT#*]": frozenset({"dynamodb:GetItem"}),
        RECORDS: frozenset({"dynamodb:UpdateItem"}),
        API_STARTS: POWERTOOLS_IDEMPOTENCY,
        "history-index": frozenset({"dynamodb:Query"}),
        # Wakes the rollout a request is for; an abort fails a hook's wait.
        END_WAITS: frozenset({"states:SendTaskSuccess", "states:SendTaskFailure"}),
    },
    # Finds the rollouts watching an alarm that entered ALARM and ends their bakes.
    "WakeRolloutsFunction": {
        WATCHES: frozenset({"dynamodb:Query"}),
        RECORDS: frozenset({"dynamodb:GetItem"}),
        # The alarm's state now: only a firing alarm fails a hook's wait.
        "alarms": frozenset({"cloudwatch:DescribeAlarms"}),
        # A bake is woken to look; a hook's wait is failed (the rollout rolls back).
        END_WAITS: frozenset({"states:SendTaskSuccess", "states:SendTaskFailure"}),
    },
}

# Environment variables a function has besides the Globals' ones.
EXTRA_ENVIRONMENT: dict[str, dict[str, Any]] = {
    "StartRolloutFunction": {
        "STATE_MACHINE_ARN": {"Ref": "RolloutStateMachine"},
        "AUTOMATIC_ROLLOUTS": {"Ref": "AutomaticRollouts"},
    },
    "ApiFunction": {"STATE_MACHINE_ARN": {"Ref": "RolloutStateMachine"}},
}

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


# --- helpers -----------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline policy statements of an `AWS::IAM::Role`."""
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in as_list(policy["PolicyDocument"]["Statement"])
    ]


def all_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement of the stack, identity and resource policies, with its owner."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        match resource["Type"]:
            case "AWS::IAM::Role":
                for statement in role_statements(resource):
                    yield logical_id, statement
            case "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy":
                for statement in as_list(properties["PolicyDocument"]["Statement"]):
                    yield logical_id, statement
            case "AWS::SQS::QueuePolicy" | "AWS::SNS::TopicPolicy":
                for statement in as_list(properties["PolicyDocument"]["Statement"]):
                    yield logical_id, statement


def role_of(template: Template, logical_id: str) -> dict[str, Any]:
    """The execution role SAM generated for a function or state machine."""
    role_ref = template["Resources"][logical_id]["Properties"][
        "RoleArn" if "StateMachine" in logical_id else "Role"
    ]
    assert role_ref == {"Fn::GetAtt": [f"{logical_id}Role", "Arn"]}
    role: dict[str, Any] = template["Resources"][f"{logical_id}Role"]
    return role


def resource_kind(resource: Any) -> str:
    """Name what an IAM `Resource` entry points at, in this stack's terms."""
    match resource:
        case "*":
            return "*"
        case {"Fn::Sub": str(pattern)}:
            pass
        case {"Fn::Sub": [str(pattern), dict()]}:
            pass
        case {"Fn::GetAtt": [str(logical_id), "Arn"]} if logical_id.endswith("OnFailureQueue"):
            return "failure-queue"
        case _:
            return f"unknown: {resource!r}"
    kinds = {
        r":function:\$\{TargetFunctionNamePrefix\}\*(:\*)?$": "targets",
        r":function:\$\{HookFunctionNamePrefix\}\*(:\*)?$": "hooks",
        r":cloudwatch:.*:alarm:\*$": "alarms",
        r":dynamodb:.*:table/\$\{tableName\}$": "table",
        r":dynamodb:.*:table/\$\{tableName\}/index/byAlias$": "history-index",
        r":states:.*:execution:\$\{AWS::StackName\}-rollout:\*$": "executions",
        r":events:.*:event-bus/\$\{eventBusName\}$": "status-bus",
        r":states:.*:stateMachine:\$\{stateMachineName\}$": "state-machine",
    }
    for regex, kind in kinds.items():
        if re.search(regex, pattern):
            return kind
    return f"unknown: {pattern}"


def leading_keys(statement: dict[str, Any]) -> list[str] | None:
    """The partition keys a statement's ``ForAllValues:StringLike`` condition allows, if any."""
    condition = statement.get("Condition") or {}
    keys = (condition.get("ForAllValues:StringLike") or {}).get("dynamodb:LeadingKeys")
    return None if keys is None else sorted(as_list(keys))


def grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Allowed actions by resource kind, e.g. {"targets": {"lambda:GetAlias"}}.

    A table grant's kind names the partition keys it is limited to, e.g.
    "table[ROLLOUT#*]"; a table grant with no such limit is "table" (none is expected).
    """
    granted: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow", statement
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        keys = leading_keys(statement)
        for resource in as_list(statement["Resource"]):
            kind = resource_kind(resource)
            if kind == "table" and keys is not None:
                kind = f"table[{','.join(keys)}]"
            granted.setdefault(kind, set()).update(as_list(statement["Action"]))
    return granted


def resolve_refs(value: Any, refs: dict[str, str]) -> Any:
    """Replace `{"Ref": id}` with `refs[id]`; any other intrinsic is an error."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return refs[value["Ref"]]
        assert not any(key.startswith("Fn::") for key in value), value
        return {key: resolve_refs(item, refs) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_refs(item, refs) for item in value]
    return value


# --- state machine definition ----------------------------------------------------


def test_every_asl_placeholder_is_a_substitution_and_every_substitution_is_used(
    cfn_template: Template, asl_text: str
) -> None:
    substitutions = cfn_template["Resources"]["RolloutStateMachine"]["Properties"][
        "DefinitionSubstitutions"
    ]
    used = set(PLACEHOLDER.findall(asl_text))

    assert used - set(substitutions) == set(), "placeholders without a substitution"
    assert set(substitutions) - used == set(), "substitutions the ASL never uses"


def test_substitutions_are_exactly_the_task_function_arns(cfn_template: Template) -> None:
    substitutions = cfn_template["Resources"]["RolloutStateMachine"]["Properties"][
        "DefinitionSubstitutions"
    ]

    assert substitutions == {
        name: {"Fn::GetAtt": [logical_id, "Arn"]} for name, logical_id in TASK_FUNCTIONS.items()
    }


def test_state_machine_is_standard_traced_and_logs_errors_with_data(
    cfn_template: Template,
) -> None:
    resources = cfn_template["Resources"]
    properties = resources["RolloutStateMachine"]["Properties"]

    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"] == {
        "Level": "ERROR",
        "IncludeExecutionData": True,
        "Destinations": [
            {
                "CloudWatchLogsLogGroup": {
                    "LogGroupArn": {"Fn::GetAtt": ["RolloutStateMachineLogGroup", "Arn"]}
                }
            }
        ],
    }
    assert resources["RolloutStateMachineLogGroup"]["Properties"]["RetentionInDays"] == 30


# --- IAM -----------------------------------------------------------------------


def test_state_machine_may_invoke_only_the_eight_task_functions(cfn_template: Template) -> None:
    role = role_of(cfn_template, "RolloutStateMachine")
    invoked: set[str] = set()
    other_actions: set[str] = set()
    for statement in role_statements(role):
        actions = set(as_list(statement["Action"]))
        if "lambda:InvokeFunction" not in actions:
            other_actions |= actions
            continue
        assert actions == {"lambda:InvokeFunction"}, statement
        for resource in as_list(statement["Resource"]):
            # SAM's LambdaInvokePolicy: function:${functionName}* with a Ref to the function.
            pattern, variables = resource["Fn::Sub"]
            assert pattern.endswith(":function:${functionName}*"), resource
            invoked.add(variables["functionName"]["Ref"])

    assert invoked == set(TASK_FUNCTIONS.values())
    assert other_actions <= LOG_DELIVERY, "the state machine may only deliver its logs besides"
    assert set(role["Properties"].get("ManagedPolicyArns", [])) <= ALLOWED_MANAGED_POLICIES


@pytest.mark.parametrize("function", sorted(EXPECTED_GRANTS))
def test_function_role_grants_exactly_what_its_task_needs(
    cfn_template: Template, function: str
) -> None:
    role = role_of(cfn_template, function)

    assert grants(role_statements(role)) == EXPECTED_GRANTS[function]
    managed = role["Properties"]["ManagedPolicyArns"]
    ours = [arn for arn in managed if isinstance(arn, dict)]
    assert {arn for arn in managed if isinstance(arn, str)} == ALLOWED_MANAGED_POLICIES
    # Every role that names functions by prefix is kept off the control plane's own.
    expected = [] if function == "ApiFunction" else [{"Ref": "ControlPlaneOutOfReach"}]
    assert ours == expected


def test_no_task_may_touch_the_control_plane_s_own_functions(cfn_template: Template) -> None:
    """Whatever the prefixes say ("*" included): a Deny on the functions this stack tagged."""
    policy = cfn_template["Resources"]["ControlPlaneOutOfReach"]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]

    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert (statement["Effect"], statement["Action"]) == ("Deny", "lambda:*")
    assert statement["Resource"]["Fn::Sub"].endswith(":function:*")
    assert statement["Condition"] == {
        "StringEquals": {"aws:ResourceTag/aws:cloudformation:stack-name": {"Ref": "AWS::StackName"}}
    }


def test_every_table_grant_names_the_items_it_may_touch(cfn_template: Template) -> None:
    """No role holds the whole table: item grants name their partition keys, Query its index."""
    unscoped = [
        function
        for function in EXPECTED_GRANTS
        if "table" in grants(role_statements(role_of(cfn_template, function)))
    ]
    assert not unscoped


def test_only_the_preparation_and_the_endings_may_delete_a_lock(cfn_template: Template) -> None:
    deleters = {
        function
        for function in EXPECTED_GRANTS
        for kind, actions in grants(role_statements(role_of(cfn_template, function))).items()
        if kind.startswith("table[") and "LOCK#*" in kind and "dynamodb:DeleteItem" in actions
    }
    assert deleters == {
        "PrepareRolloutFunction",
        "RollBackFunction",
        "FinishRolloutFunction",
        "ReleaseRolloutFunction",
    }


def test_no_statement_grants_a_wildcard_action(cfn_template: Template) -> None:
    wildcards = [
        (owner, action)
        for owner, statement in all_statements(cfn_template)
        for action in as_list(statement.get("Action", []))
        if (action == "*" or action.endswith(":*")) and statement["Effect"] != "Deny"
    ]
    # A Deny of every action is the strict kind: it takes away, whatever else grants.
    denied = [
        action
        for _, statement in all_statements(cfn_template)
        if statement["Effect"] == "Deny"
        for action in as_list(statement.get("Action", []))
    ]

    assert wildcards == []
    assert denied == ["lambda:*"]
    assert all("NotAction" not in statement for _, statement in all_statements(cfn_template))


def test_only_log_delivery_is_granted_on_every_resource(cfn_template: Template) -> None:
    unscoped = {
        action
        for _, statement in all_statements(cfn_template)
        if "*" in as_list(statement.get("Resource", []))
        for action in as_list(statement["Action"])
    }

    # Task tokens and metric reads are not resources IAM can name.
    assert unscoped <= LOG_DELIVERY | {
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "cloudwatch:GetMetricData",
    }


# --- the cleanup rule -------------------------------------------------------------

STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:lambda-rollouts-rollout"


def execution_status_change(
    status: str, state_machine_arn: str = STATE_MACHINE_ARN
) -> EventMessageType:
    """A Step Functions "Execution Status Change" event, as EventBridge delivers it."""
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:") + ":rollout-1"
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2025-11-26T10:00:00Z",
        "region": "us-east-1",
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": state_machine_arn,
            "name": "rollout-1",
            "status": status,
            "startDate": 1764151200000,
            "stopDate": 1764151260000 if status != "RUNNING" else None,
            "input": json.dumps({"functionName": "orders-api", "alias": "live"}),
            "output": None,
        },
    }


@pytest.fixture(scope="module")
def release_rule(cfn_template: Template) -> dict[str, Any]:
    rules = [
        resource["Properties"]
        for resource in cfn_template["Resources"].values()
        if resource["Type"] == "AWS::Events::Rule"
        and any(
            target["Arn"] == {"Fn::GetAtt": ["ReleaseRolloutFunction", "Arn"]}
            for target in resource["Properties"]["Targets"]
        )
    ]
    assert len(rules) == 1
    rule: dict[str, Any] = rules[0]
    return rule


@pytest.fixture(scope="module")
def release_pattern(release_rule: dict[str, Any]) -> EventPattern:
    pattern = resolve_refs(release_rule["EventPattern"], {"RolloutStateMachine": STATE_MACHINE_ARN})
    return EventPattern.load(json.dumps(pattern))


@pytest.mark.parametrize("status", ["ABORTED", "FAILED", "TIMED_OUT"])
def test_release_runs_when_an_execution_ends_without_success(
    release_pattern: EventPattern, status: str
) -> None:
    assert release_pattern.matches_event(execution_status_change(status))


@pytest.mark.parametrize("status", ["SUCCEEDED", "RUNNING"])
def test_release_ignores_running_and_succeeded_executions(
    release_pattern: EventPattern, status: str
) -> None:
    assert not release_pattern.matches_event(execution_status_change(status))


def test_release_ignores_other_state_machines(release_pattern: EventPattern) -> None:
    other = STATE_MACHINE_ARN.replace("lambda-rollouts-rollout", "someone-else")

    assert not release_pattern.matches_event(execution_status_change("ABORTED", other))


def test_undeliverable_and_failed_cleanups_land_in_dead_letter_queues(
    cfn_template: Template, release_rule: dict[str, Any]
) -> None:
    resources = cfn_template["Resources"]
    (target,) = release_rule["Targets"]
    invoke_config = resources["ReleaseRolloutFunctionEventInvokeConfig"]["Properties"]

    rule_dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    on_failure = invoke_config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert resources[rule_dlq]["Type"] == "AWS::SQS::Queue"
    assert resources[on_failure]["Type"] == "AWS::SQS::Queue"


# --- functions, layer, table -----------------------------------------------------------


def test_the_stack_has_exactly_the_listed_functions(cfn_template: Template) -> None:
    functions = {
        logical_id
        for logical_id, resource in cfn_template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }

    assert functions == set(FUNCTION_DIRS)


@pytest.mark.parametrize("function", sorted(FUNCTION_DIRS))
def test_function_runs_its_handler_on_python_312_with_the_layer(
    cfn_template: Template, sam_template: Template, function: str
) -> None:
    code_uri = sam_template["Resources"][function]["Properties"]["CodeUri"]
    properties = cfn_template["Resources"][function]["Properties"]
    (layer,) = properties["Layers"]

    assert code_uri == f"functions/{FUNCTION_DIRS[function]}/"
    assert (ROOT / code_uri / "app.py").is_file()
    assert properties["Handler"] == "app.lambda_handler"
    assert properties["Runtime"] == "python3.12"
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert cfn_template["Resources"][layer["Ref"]]["Type"] == "AWS::Lambda::LayerVersion"
    assert properties["Environment"]["Variables"] == {
        "TABLE_NAME": {"Ref": "RolloutTable"},
        "POWERTOOLS_SERVICE_NAME": "lambda-rollouts",
        "POWERTOOLS_METRICS_NAMESPACE": "LambdaRollouts",
        "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
        "EVENT_BUS_NAME": {
            "Fn::If": [
                "OwnStatusBus",
                {"Fn::Sub": "${AWS::StackName}-status"},
                {"Ref": "StatusEventBusName"},
            ]
        },
        "TARGET_FUNCTION_PREFIX": {"Ref": "TargetFunctionNamePrefix"},
        "HOOK_FUNCTION_PREFIX": {"Ref": "HookFunctionNamePrefix"},
        **EXTRA_ENVIRONMENT.get(function, {}),
    }
    assert properties["Timeout"] == (900 if function == "RunHookFunction" else 30)


@pytest.mark.parametrize("function", sorted(FUNCTION_DIRS))
def test_function_logs_expire(cfn_template: Template, function: str) -> None:
    log_group = cfn_template["Resources"][f"{function}LogGroup"]["Properties"]

    assert log_group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{function}}}"}
    assert log_group["RetentionInDays"] == 30


def test_layer_holds_the_rollouts_package(sam_template: Template) -> None:
    layer = sam_template["Resources"]["RolloutsLayer"]
    content = ROOT / layer["Properties"]["ContentUri"]

    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    assert (content / "rollouts" / "__init__.py").is_file()
    assert (content / "requirements.txt").is_file()


def test_table_keys_index_and_protection(cfn_template: Template) -> None:
    table = cfn_template["Resources"]["RolloutTable"]
    properties = table["Properties"]

    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    (by_alias,) = properties["GlobalSecondaryIndexes"]
    assert by_alias == {
        "IndexName": "byAlias",
        "KeySchema": [
            {"AttributeName": "aliasKey", "KeyType": "HASH"},
            {"AttributeName": "startedAt", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    assert {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]} == {
        "pk": "S",
        "sk": "S",
        "aliasKey": "S",
        "startedAt": "S",
    }
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}


def test_outputs_name_what_clients_need(cfn_template: Template) -> None:
    assert set(cfn_template["Outputs"]) == {
        "StateMachineArn",
        "StateMachineName",
        "TableName",
        "RolloutsLayerArn",
        "DashboardName",
        "ApiUrl",
        "ApiExecuteArn",
        "RequestBusName",
        "StatusBusName",
    }


@pytest.mark.parametrize("name", ["TargetFunctionNamePrefix", "HookFunctionNamePrefix"])
def test_a_prefix_has_no_default_and_every_function_must_be_said(
    sam_template: Template, name: str
) -> None:
    """No silent "everything": `sam deploy --guided` asks, and "*" is the explicit all."""
    parameter = sam_template["Parameters"][name]
    pattern = re.compile(parameter["AllowedPattern"])

    assert "Default" not in parameter
    assert pattern.fullmatch("*") and pattern.fullmatch("orders-")
    assert not pattern.fullmatch("")
    assert not pattern.fullmatch("orders-*") and not pattern.fullmatch("arn:aws:lambda")


@pytest.mark.parametrize(
    ("variable", "parameter"),
    [
        ("TARGET_FUNCTION_PREFIX", "TargetFunctionNamePrefix"),
        ("HOOK_FUNCTION_PREFIX", "HookFunctionNamePrefix"),
    ],
)
def test_every_function_knows_the_prefixes_to_refuse_early(
    sam_template: Template, variable: str, parameter: str
) -> None:
    variables = sam_template["Globals"]["Function"]["Environment"]["Variables"]

    assert variables[variable] == {"Ref": parameter}


def test_log_level_defaults_to_info(sam_template: Template) -> None:
    parameters = sam_template["Parameters"]

    assert parameters["LogLevel"]["Default"] == "INFO"
    assert "INFO" in parameters["LogLevel"]["AllowedValues"]


def test_translation_keeps_the_definition_file_out_of_the_template(
    sam_template: Template,
) -> None:
    # One ASL file (STYLE.md): the template points at it and never inlines a copy.
    properties = sam_template["Resources"]["RolloutStateMachine"]["Properties"]

    assert properties["DefinitionUri"] == "statemachine/rollout.asl.json"
    assert "Definition" not in properties
    assert Path(ROOT / properties["DefinitionUri"]).is_file()
