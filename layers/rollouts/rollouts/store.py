"""The rollout table: one lock item per alias, one record per rollout.

Items (single table, ``pk``/``sk``):

- lock: ``pk = LOCK#orders-api:live``, ``sk = LOCK``, holding ``rolloutId``;
  taken with a conditional put, released with a conditional delete.
- record: ``pk = ROLLOUT#<rolloutId>``, ``sk = ROLLOUT``, with ``aliasKey`` and
  ``startedAt`` (the ``byAlias`` index lists an alias's history, newest first),
  ``status``, ``state`` (the last rollout state), ``stepsTaken``, ``checks``
  (the latest ``MAX_CHECKS_KEPT``) and ``checkCount``, ``reason``, ``abort``.

Every write is safe to repeat: Step Functions may run a task twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from rollouts.aws import aws_errors
from rollouts.errors import RolloutInProgressError

MAX_CHECKS_KEPT = 100
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
ROLLED_BACK = "ROLLED_BACK"
DRIFTED = "DRIFTED"
ENDED = frozenset({SUCCEEDED, ROLLED_BACK, DRIFTED})


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals back to ints and floats."""
    return json.loads(json.dumps(value, default=lambda d: int(d) if d == int(d) else float(d)))


def _busy(alias_key: str, holder: dict[str, Any]) -> RolloutInProgressError:
    return RolloutInProgressError(
        f"{alias_key} is being rolled out by {holder.get('rolloutId', 'another rollout')}"
        f" (since {holder.get('acquiredAt', 'an unknown time')}); nothing was changed."
        " Wait for it to end, or abort it."
    )


def record_key(rollout_id: str) -> dict[str, str]:
    return {"pk": f"ROLLOUT#{rollout_id}", "sk": "ROLLOUT"}


def lock_item_key(alias_key: str) -> dict[str, str]:
    return {"pk": f"LOCK#{alias_key}", "sk": "LOCK"}


class RolloutStore:
    """Locks and records in the rollout table (a boto3 ``Table`` resource)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    # -- the per-alias lock -------------------------------------------------
    def acquire(self, alias_key: str, rollout_id: str, execution_arn: str, now: str) -> None:
        """Take the lock on ``alias_key`` for ``rollout_id`` (again, if it already holds it)."""
        try:
            self._table.put_item(
                Item={
                    **lock_item_key(alias_key),
                    "rolloutId": rollout_id,
                    "executionArn": execution_arn,
                    "acquiredAt": now,
                },
                ConditionExpression="attribute_not_exists(pk) OR rolloutId = :me",
                ExpressionAttributeValues={":me": rollout_id},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                with aws_errors():
                    raise
            raise _busy(alias_key, self.lock_holder(alias_key) or {}) from error

    def refuse_if_busy(
        self,
        alias_key: str,
        rollout_id: str,
        still_running: Callable[[str], bool] | None = None,
    ) -> dict[str, Any] | None:
        """Raise RolloutInProgressError when another rollout holds the lock (reads only).

        With ``still_running`` (execution ARN -> bool), a lock whose execution has
        ended is stale: it is returned, for the caller to clean up, instead of raised.
        """
        holder = self.lock_holder(alias_key)
        if holder is None or holder.get("rolloutId") == rollout_id:
            return None
        execution = holder.get("executionArn")
        if still_running is not None and execution and not still_running(str(execution)):
            return holder
        raise _busy(alias_key, holder)

    def lock_holder(self, alias_key: str) -> dict[str, Any] | None:
        with aws_errors():
            item = self._table.get_item(Key=lock_item_key(alias_key), ConsistentRead=True)
        found = item.get("Item")
        return _plain(found) if found else None

    def release(self, alias_key: str, rollout_id: str) -> None:
        """Release the lock if ``rollout_id`` holds it; a no-op otherwise."""
        try:
            self._table.delete_item(
                Key=lock_item_key(alias_key),
                ConditionExpression="rolloutId = :me",
                ExpressionAttributeValues={":me": rollout_id},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                with aws_errors():
                    raise

    # -- the rollout record -------------------------------------------------
    def create_record(self, state: dict[str, Any], alias_key: str, now: str) -> None:
        """Write the record of a new rollout (kept as it is when the task runs again)."""
        try:
            self._table.put_item(
                Item={
                    **record_key(state["rolloutId"]),
                    "rolloutId": state["rolloutId"],
                    "aliasKey": alias_key,
                    "startedAt": state["startedAt"],
                    "updatedAt": now,
                    "status": RUNNING,
                    "functionName": state["functionName"],
                    "alias": state["alias"],
                    "baselineVersion": state["baselineVersion"],
                    "targetVersion": state["targetVersion"],
                    "strategy": state["strategy"],
                    "executionArn": state["executionArn"],
                    "state": state,
                    "stepsTaken": [],
                    "checks": [],
                    "checkCount": 0,
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                with aws_errors():
                    raise

    def record(self, rollout_id: str) -> dict[str, Any] | None:
        with aws_errors():
            item = self._table.get_item(Key=record_key(rollout_id), ConsistentRead=True)
        found = item.get("Item")
        return _plain(found) if found else None

    def update(self, rollout_id: str, now: str, **fields: Any) -> None:
        """SET the given top-level attributes (and ``updatedAt``) on the record."""
        fields["updatedAt"] = now
        names = {f"#{key}": key for key in fields}
        values = {f":{key}": value for key, value in fields.items()}
        with aws_errors():
            self._table.update_item(
                Key=record_key(rollout_id),
                UpdateExpression="SET " + ", ".join(f"#{key} = :{key}" for key in fields),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ConditionExpression="attribute_exists(pk)",
            )

    def end(
        self, rollout_id: str, now: str, status: str, reason: str, state: dict[str, Any]
    ) -> bool:
        """Mark a RUNNING record ended; False when something else ended it first."""
        try:
            self._table.update_item(
                Key=record_key(rollout_id),
                UpdateExpression=(
                    "SET #status = :status, reason = :reason, #state = :state,"
                    " endedAt = :now, updatedAt = :now"
                ),
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status", "#state": "state"},
                ExpressionAttributeValues={
                    ":status": status,
                    ":reason": reason,
                    ":state": state,
                    ":now": now,
                    ":running": RUNNING,
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                with aws_errors():
                    raise
            return False
        return True

    def record_step(
        self, rollout_id: str, step: dict[str, Any], state: dict[str, Any], now: str
    ) -> None:
        """Record that step ``step['step']`` went live (once, however often the task runs)."""
        record = self.record(rollout_id) or {}
        taken = [s for s in record.get("stepsTaken", []) if s.get("step") != step["step"]]
        self.update(rollout_id, now, stepsTaken=[*taken, step], state=state, writing=None)

    def record_check(
        self, rollout_id: str, check: dict[str, Any], state: dict[str, Any], now: str
    ) -> None:
        record = self.record(rollout_id) or {}
        # A check is identified by its step and bake time: a retried task replaces it.
        key = (check.get("step"), check.get("bakedSeconds"))
        kept = [
            c for c in record.get("checks", []) if (c.get("step"), c.get("bakedSeconds")) != key
        ]
        repeated = len(kept) != len(record.get("checks", []))
        self.update(
            rollout_id,
            now,
            checks=[*kept, check][-MAX_CHECKS_KEPT:],
            checkCount=int(record.get("checkCount", 0)) + (0 if repeated else 1),
            state=state,
        )

    def request_abort(self, rollout_id: str, by: str, reason: str, now: str) -> None:
        """Ask a running rollout to roll back; its next health check acts on it."""
        self.update(rollout_id, now, abort={"by": by, "reason": reason, "at": now})

    def history(
        self, alias_key: str, limit: int = 20, start: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """An alias's rollouts, newest first, a page at a time."""
        query: dict[str, Any] = {
            "IndexName": "byAlias",
            "KeyConditionExpression": "aliasKey = :key",
            "ExpressionAttributeValues": {":key": alias_key},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            query["ExclusiveStartKey"] = start
        with aws_errors():
            page = self._table.query(**query)
        return [_plain(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")
