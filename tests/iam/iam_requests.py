"""What IAM authorizes for one AWS call: its action, resource ARN and context keys.

A recorded call (botocore service and operation, and its parameters) becomes
the requests AWS evaluates against the caller's role, e.g.

    lambda UpdateAlias {FunctionName: "orders-api", Name: "live"}
      -> lambda:UpdateAlias on arn:aws:lambda:us-east-1:123456789012:function:orders-api
    dynamodb GetItem {TableName: "t", Key: {"pk": {"S": "LOCK#orders-api:live"}, ...}}
      -> dynamodb:GetItem on arn:aws:dynamodb:...:table/t, dynamodb:LeadingKeys = [LOCK#...]
    events PutEvents {Entries: [{EventBusName: "b"}, {}]}
      -> events:PutEvents on event-bus/b and on event-bus/default

Only the operations the control plane makes are known; any other raises
UnknownOperationError naming it, so that a new call is never passed unexamined.
Resource types follow the service authorization reference (as iam-simulate's
iam-data holds it): Lambda alias, version and tag operations act on the function
(the unqualified ARN); Invoke and the GetFunction reads on the ARN the caller
named, qualified when it gave a version or alias; DynamoDB on the table, or on
the index a Query names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BUS = "default"


class UnknownOperationError(Exception):
    """A call this module cannot turn into IAM requests (so it cannot be proven allowed)."""


@dataclass(frozen=True)
class IamRequest:
    """One authorization: ``action`` on ``resource``, with condition keys in ``context``."""

    action: str
    resource: str
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def context_variables(self) -> dict[str, list[str]]:
        return {key: list(values) for key, values in self.context}

    def describe(self) -> str:
        keys = " ".join(f"{k}={list(v)}" for k, v in self.context)
        return f"{self.action} on {self.resource}" + (f" ({keys})" if keys else "")


@dataclass(frozen=True)
class Where:
    """The account and region calls are made in, and the rollout table's partition keys."""

    region: str
    account: str
    partition: str = "aws"
    # The partition key attribute of the table (key "") and of each index, by name.
    partition_keys: Mapping[str, str] = field(
        default_factory=lambda: {"": "pk", "byAlias": "aliasKey"}
    )

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


def requests_for(
    service: str, operation: str, params: Mapping[str, Any], where: Where
) -> list[IamRequest]:
    """The IAM requests one call needs allowed (all of them), in order."""
    mapper = _MAPPERS.get((service, operation))
    if mapper is None:
        raise UnknownOperationError(
            f"{service} {operation}: no IAM mapping (add it to tests/iam/iam_requests.py)"
        )
    return mapper(params, where)


# -- Lambda -----------------------------------------------------------------------------
_FUNCTION_ARN = re.compile(
    r"^(?:arn:[^:]+:lambda:[^:]+:\d{12}:function:|\d{12}:function:)?(?P<name>[^:]+)(?::(?P<q>[^:]+))?$"
)


def function_name(identifier: str) -> tuple[str, str | None]:
    """("orders-api", "7") from "orders-api:7", a partial ARN or a full ARN.

    >>> function_name("arn:aws:lambda:us-east-1:123456789012:function:orders-api:live")
    ('orders-api', 'live')
    """
    found = _FUNCTION_ARN.match(identifier)
    if found is None:
        raise UnknownOperationError(f"not a Lambda function name or ARN: {identifier!r}")
    return found["name"], found["q"]


def _function(params: Mapping[str, Any], where: Where, *, qualified: bool) -> str:
    name, qualifier = function_name(str(params["FunctionName"]))
    qualifier = params.get("Qualifier") or qualifier
    arn = where.arn("lambda", f"function:{name}")
    return f"{arn}:{qualifier}" if qualified and qualifier else arn


def _lambda(
    action: str, *, qualified: bool
) -> Callable[[Mapping[str, Any], Where], list[IamRequest]]:
    def mapper(params: Mapping[str, Any], where: Where) -> list[IamRequest]:
        return [IamRequest(f"lambda:{action}", _function(params, where, qualified=qualified))]

    return mapper


def _list_tags(params: Mapping[str, Any], where: Where) -> list[IamRequest]:
    name, _ = function_name(str(params["Resource"]))
    return [IamRequest("lambda:ListTags", where.arn("lambda", f"function:{name}"))]


# -- DynamoDB ---------------------------------------------------------------------------
def _plain(value: Any) -> str:
    """{"S": "x"} (low-level) or "x" (a Table resource's) -> "x"."""
    if isinstance(value, Mapping) and len(value) == 1:
        value = next(iter(value.values()))
    return str(value)


def _table(params: Mapping[str, Any], where: Where) -> tuple[str, str]:
    """(table name, table ARN) from a TableName that is a name or an ARN."""
    table = str(params["TableName"])
    if table.startswith("arn:"):
        return table.rsplit("/", 1)[-1], table
    return table, where.arn("dynamodb", f"table/{table}")


def _leading_keys(*values: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (("dynamodb:LeadingKeys", tuple(values)),)


def _item(action: str, key_param: str) -> Callable[[Mapping[str, Any], Where], list[IamRequest]]:
    def mapper(params: Mapping[str, Any], where: Where) -> list[IamRequest]:
        _, arn = _table(params, where)
        key = params[key_param]
        attribute = where.partition_keys[""]
        if attribute not in key:
            raise UnknownOperationError(f"dynamodb {action}: no {attribute} in {key_param}")
        return [IamRequest(f"dynamodb:{action}", arn, _leading_keys(_plain(key[attribute])))]

    return mapper


def _batch_write(params: Mapping[str, Any], where: Where) -> list[IamRequest]:
    """One request per table, with the partition keys of every item it puts or deletes."""
    requests: list[IamRequest] = []
    attribute = where.partition_keys[""]
    for table, writes in params["RequestItems"].items():
        _, arn = _table({"TableName": table}, where)
        keys: list[str] = []
        for write in writes:
            ((kind, body),) = write.items()
            item = body["Item"] if kind == "PutRequest" else body["Key"]
            if attribute not in item:
                raise UnknownOperationError(f"dynamodb BatchWriteItem: no {attribute} in {kind}")
            if (key := _plain(item[attribute])) not in keys:
                keys.append(key)
        requests.append(IamRequest("dynamodb:BatchWriteItem", arn, _leading_keys(*keys)))
    return requests


def _query(params: Mapping[str, Any], where: Where) -> list[IamRequest]:
    _, arn = _table(params, where)
    index = params.get("IndexName")
    resource = f"{arn}/index/{index}" if index else arn
    attribute = where.partition_keys.get(index or "")
    if attribute is None:
        raise UnknownOperationError(
            f"dynamodb Query: the partition key of index {index} is unknown"
        )
    names = {v: k for k, v in (params.get("ExpressionAttributeNames") or {}).items()}
    values = params.get("ExpressionAttributeValues") or {}
    expression = str(params.get("KeyConditionExpression", ""))
    for left, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", expression):
        if names.get(attribute) == left or left == attribute:
            value = _plain(values[placeholder])
            return [IamRequest("dynamodb:Query", resource, _leading_keys(value))]
    raise UnknownOperationError(f"dynamodb Query: no {attribute} = :value in {expression!r}")


# -- the others -------------------------------------------------------------------------
def _describe_alarms(params: Mapping[str, Any], where: Where) -> list[IamRequest]:
    names = params.get("AlarmNames") or ["*"]
    return [
        IamRequest("cloudwatch:DescribeAlarms", where.arn("cloudwatch", f"alarm:{n}"))
        for n in names
    ]


def _get_metric_data(params: Mapping[str, Any], where: Where) -> list[IamRequest]:
    """GetMetricData names no resource: IAM checks ``*``."""
    return [IamRequest("cloudwatch:GetMetricData", "*")]


def _put_events(params: Mapping[str, Any], where: Where) -> list[IamRequest]:
    requests: list[IamRequest] = []
    for entry in params["Entries"]:
        bus = str(entry.get("EventBusName") or DEFAULT_BUS)
        arn = bus if bus.startswith("arn:") else where.arn("events", f"event-bus/{bus}")
        request = IamRequest("events:PutEvents", arn)
        if request not in requests:
            requests.append(request)
    return requests


def _states(action: str, param: str) -> Callable[[Mapping[str, Any], Where], list[IamRequest]]:
    def mapper(params: Mapping[str, Any], where: Where) -> list[IamRequest]:
        return [IamRequest(f"states:{action}", str(params[param]))]

    return mapper


def _task_token(action: str) -> Callable[[Mapping[str, Any], Where], list[IamRequest]]:
    """SendTaskSuccess and SendTaskFailure name a token, not a resource: IAM checks ``*``."""

    def mapper(params: Mapping[str, Any], where: Where) -> list[IamRequest]:
        return [IamRequest(f"states:{action}", "*")]

    return mapper


_Mapper = Callable[[Mapping[str, Any], Where], list[IamRequest]]
_MAPPERS: dict[tuple[str, str], _Mapper] = {
    ("lambda", "Invoke"): _lambda("InvokeFunction", qualified=True),
    ("lambda", "GetFunction"): _lambda("GetFunction", qualified=True),
    ("lambda", "GetFunctionConfiguration"): _lambda("GetFunctionConfiguration", qualified=True),
    ("lambda", "GetAlias"): _lambda("GetAlias", qualified=False),
    ("lambda", "CreateAlias"): _lambda("CreateAlias", qualified=False),
    ("lambda", "UpdateAlias"): _lambda("UpdateAlias", qualified=False),
    ("lambda", "DeleteAlias"): _lambda("DeleteAlias", qualified=False),
    ("lambda", "ListVersionsByFunction"): _lambda("ListVersionsByFunction", qualified=False),
    ("lambda", "PublishVersion"): _lambda("PublishVersion", qualified=False),
    ("lambda", "ListTags"): _list_tags,
    ("dynamodb", "GetItem"): _item("GetItem", "Key"),
    ("dynamodb", "PutItem"): _item("PutItem", "Item"),
    ("dynamodb", "UpdateItem"): _item("UpdateItem", "Key"),
    ("dynamodb", "DeleteItem"): _item("DeleteItem", "Key"),
    ("dynamodb", "Query"): _query,
    ("dynamodb", "BatchWriteItem"): _batch_write,
    ("cloudwatch", "DescribeAlarms"): _describe_alarms,
    ("cloudwatch", "GetMetricData"): _get_metric_data,
    ("events", "PutEvents"): _put_events,
    ("stepfunctions", "StartExecution"): _states("StartExecution", "stateMachineArn"),
    ("stepfunctions", "DescribeExecution"): _states("DescribeExecution", "executionArn"),
    ("stepfunctions", "GetExecutionHistory"): _states("GetExecutionHistory", "executionArn"),
    ("stepfunctions", "StopExecution"): _states("StopExecution", "executionArn"),
    ("stepfunctions", "SendTaskSuccess"): _task_token("SendTaskSuccess"),
    ("stepfunctions", "SendTaskFailure"): _task_token("SendTaskFailure"),
}
