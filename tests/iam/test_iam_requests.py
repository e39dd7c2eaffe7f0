"""Recorded calls -> IAM requests (iam_requests), on small literal calls; and the evaluator's view.

Each mapped request is also shown to iam-simulate with an allow-all policy: it
validates the action and the resource ARN against the action's resource types,
so a wrong resource type fails here, not as a puzzling denial later.
"""

from __future__ import annotations

from typing import Any

import pytest
from iam_requests import IamRequest, UnknownOperationError, Where, function_name, requests_for
from simulator import Policy, Question, evaluate
from stack_roles import unexercised_comments

WHERE = Where(region="us-east-1", account="123456789012")
FN = "arn:aws:lambda:us-east-1:123456789012:function"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/rollouts"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:lambda-rollouts-rollout:r1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:lambda-rollouts-rollout"


def leading(*keys: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (("dynamodb:LeadingKeys", keys),)


CASES: list[Any] = [
    pytest.param(
        "lambda",
        "Invoke",
        {"FunctionName": "orders-hooks-pre"},
        [IamRequest("lambda:InvokeFunction", f"{FN}:orders-hooks-pre")],
        id="invoke-by-name",
    ),
    pytest.param(
        "lambda",
        "Invoke",
        {"FunctionName": f"{FN}:task"},
        [IamRequest("lambda:InvokeFunction", f"{FN}:task")],
        id="invoke-by-arn",
    ),
    pytest.param(
        "lambda",
        "Invoke",
        {"FunctionName": "orders-api:7"},
        [IamRequest("lambda:InvokeFunction", f"{FN}:orders-api:7")],
        id="invoke-qualified-name",
    ),
    pytest.param(
        "lambda",
        "Invoke",
        {"FunctionName": "123456789012:function:orders-api", "Qualifier": "live"},
        [IamRequest("lambda:InvokeFunction", f"{FN}:orders-api:live")],
        id="invoke-partial-arn-and-qualifier",
    ),
    pytest.param(
        "lambda",
        "GetFunctionConfiguration",
        {"FunctionName": "orders-api", "Qualifier": "2"},
        [IamRequest("lambda:GetFunctionConfiguration", f"{FN}:orders-api:2")],
        id="get-function-configuration-of-a-version",
    ),
    pytest.param(
        "lambda",
        "GetFunction",
        {"FunctionName": "orders-api"},
        [IamRequest("lambda:GetFunction", f"{FN}:orders-api")],
        id="get-function",
    ),
    pytest.param(
        "lambda",
        "UpdateAlias",
        {"FunctionName": f"{FN}:orders-api", "Name": "live", "FunctionVersion": "2"},
        [IamRequest("lambda:UpdateAlias", f"{FN}:orders-api")],
        id="update-alias-acts-on-the-function",
    ),
    pytest.param(
        "lambda",
        "CreateAlias",
        {"FunctionName": "orders-api", "Name": "live", "FunctionVersion": "1"},
        [IamRequest("lambda:CreateAlias", f"{FN}:orders-api")],
        id="create-alias",
    ),
    pytest.param(
        "lambda",
        "DeleteAlias",
        {"FunctionName": "orders-api", "Name": "rollout-pin"},
        [IamRequest("lambda:DeleteAlias", f"{FN}:orders-api")],
        id="delete-alias",
    ),
    pytest.param(
        "lambda",
        "GetAlias",
        {"FunctionName": "orders-api", "Name": "live"},
        [IamRequest("lambda:GetAlias", f"{FN}:orders-api")],
        id="get-alias",
    ),
    pytest.param(
        "lambda",
        "PublishVersion",
        {"FunctionName": "orders-api", "CodeSha256": "abc"},
        [IamRequest("lambda:PublishVersion", f"{FN}:orders-api")],
        id="publish-version",
    ),
    pytest.param(
        "lambda",
        "ListTags",
        {"Resource": f"{FN}:orders-api"},
        [IamRequest("lambda:ListTags", f"{FN}:orders-api")],
        id="list-tags",
    ),
    pytest.param(
        "dynamodb",
        "GetItem",
        {
            "TableName": "rollouts",
            "Key": {"pk": {"S": "LOCK#orders-api:live"}, "sk": {"S": "LOCK"}},
        },
        [IamRequest("dynamodb:GetItem", TABLE, leading("LOCK#orders-api:live"))],
        id="get-item-low-level",
    ),
    pytest.param(
        "dynamodb",
        "PutItem",
        {"TableName": TABLE, "Item": {"pk": "ROLLOUT#r1", "sk": "ROLLOUT", "status": "RUNNING"}},
        [IamRequest("dynamodb:PutItem", TABLE, leading("ROLLOUT#r1"))],
        id="put-item-plain-table-arn",
    ),
    pytest.param(
        "dynamodb",
        "UpdateItem",
        {"TableName": "rollouts", "Key": {"pk": {"S": "IDEMPOTENCY"}, "sk": {"S": "hook#x"}}},
        [IamRequest("dynamodb:UpdateItem", TABLE, leading("IDEMPOTENCY"))],
        id="update-item",
    ),
    pytest.param(
        "dynamodb",
        "DeleteItem",
        {"TableName": "rollouts", "Key": {"pk": {"S": "LOCK#a:b"}, "sk": {"S": "LOCK"}}},
        [IamRequest("dynamodb:DeleteItem", TABLE, leading("LOCK#a:b"))],
        id="delete-item",
    ),
    pytest.param(
        "dynamodb",
        "Query",
        {
            "TableName": "rollouts",
            "IndexName": "byAlias",
            "KeyConditionExpression": "aliasKey = :key",
            "ExpressionAttributeValues": {":key": {"S": "orders-api:live"}},
        },
        [IamRequest("dynamodb:Query", f"{TABLE}/index/byAlias", leading("orders-api:live"))],
        id="query-an-index-by-its-partition-key",
    ),
    pytest.param(
        "dynamodb",
        "Query",
        {
            "TableName": "rollouts",
            "KeyConditionExpression": "#p = :p AND begins_with(sk, :s)",
            "ExpressionAttributeNames": {"#p": "pk"},
            "ExpressionAttributeValues": {":p": {"S": "ROLLOUT#r1"}, ":s": {"S": "R"}},
        },
        [IamRequest("dynamodb:Query", TABLE, leading("ROLLOUT#r1"))],
        id="query-the-table-with-a-name-placeholder",
    ),
    pytest.param(
        "cloudwatch",
        "DescribeAlarms",
        {"AlarmNames": ["a", "b"]},
        [
            IamRequest(
                "cloudwatch:DescribeAlarms", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"
            ),
            IamRequest(
                "cloudwatch:DescribeAlarms", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:b"
            ),
        ],
        id="describe-alarms-one-request-per-alarm",
    ),
    pytest.param(
        "events",
        "PutEvents",
        {"Entries": [{"EventBusName": "status"}, {"Source": "x"}, {"EventBusName": "status"}]},
        [
            IamRequest(
                "events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/status"
            ),
            IamRequest(
                "events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default"
            ),
        ],
        id="put-events-per-bus-default-when-absent",
    ),
    pytest.param(
        "stepfunctions",
        "StartExecution",
        {"stateMachineArn": MACHINE, "input": "{}"},
        [IamRequest("states:StartExecution", MACHINE)],
        id="start-execution",
    ),
    pytest.param(
        "stepfunctions",
        "DescribeExecution",
        {"executionArn": EXECUTION},
        [IamRequest("states:DescribeExecution", EXECUTION)],
        id="describe-execution",
    ),
    pytest.param(
        "stepfunctions",
        "GetExecutionHistory",
        {"executionArn": EXECUTION},
        [IamRequest("states:GetExecutionHistory", EXECUTION)],
        id="get-execution-history",
    ),
    pytest.param(
        "stepfunctions",
        "StopExecution",
        {"executionArn": EXECUTION},
        [IamRequest("states:StopExecution", EXECUTION)],
        id="stop-execution",
    ),
    pytest.param(
        "dynamodb",
        "BatchWriteItem",
        {
            "RequestItems": {
                "rollouts": [
                    {"PutRequest": {"Item": {"pk": {"S": "ALARM#errors"}, "sk": {"S": "a"}}}},
                    {"PutRequest": {"Item": {"pk": {"S": "ALARM#latency"}, "sk": {"S": "a"}}}},
                    {"DeleteRequest": {"Key": {"pk": {"S": "ALARM#errors"}, "sk": {"S": "b"}}}},
                ]
            }
        },
        [IamRequest("dynamodb:BatchWriteItem", TABLE, leading("ALARM#errors", "ALARM#latency"))],
        id="batch-write-every-partition-key-once",
    ),
    pytest.param(
        "stepfunctions",
        "SendTaskSuccess",
        {"taskToken": "t", "output": "{}"},
        [IamRequest("states:SendTaskSuccess", "*")],
        id="send-task-success-on-any-resource",
    ),
    pytest.param(
        "stepfunctions",
        "SendTaskFailure",
        {"taskToken": "t", "error": "E"},
        [IamRequest("states:SendTaskFailure", "*")],
        id="send-task-failure-on-any-resource",
    ),
]


@pytest.mark.parametrize(("service", "operation", "params", "expected"), CASES)
def test_a_call_maps_to_its_iam_requests(
    service: str, operation: str, params: dict[str, Any], expected: list[IamRequest]
) -> None:
    assert requests_for(service, operation, params, WHERE) == expected


def test_the_evaluator_accepts_every_mapped_action_and_resource_type() -> None:
    requests = [r for case in CASES for r in case.values[3]]
    allow_all = Policy(
        "AllowAll", {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    )
    role = "arn:aws:iam::123456789012:role/probe"
    decisions = evaluate([Question(role, WHERE.account, r, (allow_all,)) for r in requests])
    wrong = [
        f"{r.describe()}: {d.reason()}"
        for r, d in zip(requests, decisions, strict=True)
        if not d.allowed or d.ignored_context_keys
    ]
    assert not wrong, "\n".join(wrong)


def test_a_leading_keys_condition_is_evaluated() -> None:
    """moto's own evaluator passes any condition but StringEquals; this one does not."""
    locks_only = Policy(
        "LocksOnly",
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "dynamodb:GetItem",
                    "Resource": TABLE,
                    "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["LOCK#*"]}},
                }
            ]
        },
    )
    role = "arn:aws:iam::123456789012:role/probe"
    lock, record = (
        IamRequest("dynamodb:GetItem", TABLE, leading(key)) for key in ("LOCK#a:b", "ROLLOUT#r1")
    )
    decisions = evaluate([Question(role, WHERE.account, r, (locks_only,)) for r in (lock, record)])
    assert [d.decision for d in decisions] == ["Allowed", "ImplicitlyDenied"]
    assert "condition=NoMatch" in decisions[1].reason()


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        pytest.param("dynamodb", "Scan", {"TableName": "rollouts"}, id="unknown-operation"),
        pytest.param("s3", "GetObject", {"Bucket": "b", "Key": "k"}, id="unknown-service"),
        pytest.param(
            "dynamodb",
            "Query",
            {"TableName": "rollouts", "IndexName": "other", "KeyConditionExpression": "x = :x"},
            id="query-of-an-unknown-index",
        ),
        pytest.param(
            "dynamodb", "GetItem", {"TableName": "rollouts", "Key": {"id": {"S": "x"}}}, id="no-pk"
        ),
    ],
)
def test_a_call_that_cannot_be_mapped_fails_naming_it(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    with pytest.raises(UnknownOperationError, match=operation):
        requests_for(service, operation, params, WHERE)


def test_function_names_and_arns() -> None:
    assert function_name("orders-api") == ("orders-api", None)
    assert function_name("orders-api:live") == ("orders-api", "live")
    assert function_name(f"{FN}:orders-api:$LATEST") == ("orders-api", "$LATEST")
    with pytest.raises(UnknownOperationError):
        function_name("a:b:c")


TEMPLATE = """\
Resources:
  OneFunction:
    Properties:
      Policies:
        - Statement:
            - Sid: Aliases
              Effect: Allow
              Action:
                - lambda:GetAlias
                # Why this is here.
                # unexercised: a late promotion takes itself back
                - lambda:DeleteAlias
              Resource: "*"
            # unexercised: not this statement's
            - Sid: Other
              Action:
                - lambda:UpdateAlias
  TwoFunction:
    Properties:
      Policies:
        - Statement:
            - Sid: Aliases
              Action:
                # unexercised: another function's
                - lambda:GetAlias
"""


def test_an_unexercised_comment_explains_the_action_below_it_in_its_own_statement() -> None:
    assert unexercised_comments(TEMPLATE, "OneFunction", "Aliases") == {
        "lambda:DeleteAlias": "a late promotion takes itself back"
    }
    assert unexercised_comments(TEMPLATE, "OneFunction", "Other") == {}
    assert unexercised_comments(TEMPLATE, "TwoFunction", "Aliases") == {
        "lambda:GetAlias": "another function's"
    }
    assert unexercised_comments(TEMPLATE, "ThreeFunction", "Aliases") == {}
