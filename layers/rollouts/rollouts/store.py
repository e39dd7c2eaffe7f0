"""The rollout table: one lock item per alias, one record per rollout.

Items (single table, ``pk``/``sk``):

- lock: ``pk = LOCK#orders-api:live``, ``sk = LOCK``, holding ``rolloutId``;
  taken with a conditional put, released with a conditional delete.
- record: ``pk = ROLLOUT#<rolloutId>``, ``sk = ROLLOUT``, with ``aliasKey`` and
  ``startedAt`` (the ``byAlias`` index lists an alias's history, newest first),
  ``status``, ``state`` (the last rollout state), ``stepsTaken``, ``checks``
  (the latest ``MAX_CHECKS_KEPT``) and ``checkCount``, ``reason``, ``abort``;
  people's requests: ``pause``, ``promote`` and the list ``requests`` (who asked
  what, when, why); ``waiting``: the task token of the wait in progress (a bake,
  or a hook's answer), for whoever wakes it (never shown: it completes the task).
- watch: ``pk = ALARM#<alarmName>``, ``sk = ROLLOUT#<rolloutId>``: which rollouts an
  alarm's state change wakes, written before the record and deleted by the rollout's
  ending (one an ending could not delete expires at ``expiresAt``, past any
  execution's year).

Every write is safe to repeat: Step Functions may run a task twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from rollouts.aws import aws_errors
from rollouts.errors import RolloutError, RolloutInProgressError

# The record stays far below DynamoDB's 400 KB item, however long the rollout: it keeps the
# latest checks only, and every text it stores is cut to a bound.
MAX_CHECKS_KEPT = 20
MAX_TEXT = 1_000
# People's requests (pause, resume, promote, abort, hook results) kept on one record.
MAX_REQUESTS = 50
# A watch item outlives any execution (Step Functions ends an execution after a year).
WATCH_KEPT_SECONDS = 400 * 24 * 60 * 60
RUNNING = "RUNNING"
# An ending has begun (rollback, release after a stop, stale takeover): no task may write
# the record or the alias any more; the ending itself finishes the cleanup.
ENDING = "ENDING"
SUCCEEDED = "SUCCEEDED"
ROLLED_BACK = "ROLLED_BACK"
DRIFTED = "DRIFTED"
ROLLBACK_FAILED = "ROLLBACK_FAILED"
ENDED = frozenset({SUCCEEDED, ROLLED_BACK, DRIFTED, ROLLBACK_FAILED})


class RecordClosedError(RolloutError):
    """The rollout's record is no longer RUNNING: an ending began, so this task must not act."""


class AbortRequestedError(RolloutError):
    """An abort was accepted while this task was writing the alias: it takes its write back."""


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying so.

    >>> bounded("x" * 20, 10)
    'xxxxxxxxx…'
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals back to ints and floats."""
    return json.loads(json.dumps(value, default=lambda d: int(d) if d == int(d) else float(d)))


def storable(value: Any) -> Any:
    """``value`` with its floats as Decimals, which DynamoDB takes (it refuses floats).

    >>> storable({"rate": 21.5, "count": 3})
    {'rate': Decimal('21.5'), 'count': 3}
    """
    return json.loads(json.dumps(value), parse_float=Decimal)


def _busy(alias_key: str, holder: dict[str, Any]) -> RolloutInProgressError:
    return RolloutInProgressError(
        f"{alias_key} is being rolled out by {holder.get('rolloutId', 'another rollout')}"
        f" (since {holder.get('acquiredAt', 'an unknown time')}); nothing was changed."
        " Wait for it to end, or abort it."
    )


def _lost_condition(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


def record_key(rollout_id: str) -> dict[str, str]:
    return {"pk": f"ROLLOUT#{rollout_id}", "sk": "ROLLOUT"}


def lock_item_key(alias_key: str) -> dict[str, str]:
    return {"pk": f"LOCK#{alias_key}", "sk": "LOCK"}


def watch_key(alarm_name: str, rollout_id: str) -> dict[str, str]:
    return {"pk": f"ALARM#{alarm_name}", "sk": f"ROLLOUT#{rollout_id}"}


class TooManyRequestsOnRecordError(RolloutError):
    """The record holds MAX_REQUESTS people's requests already."""


class RolloutStore:
    """Locks and records in the rollout table (a boto3 ``Table`` resource).

    Every write a task makes is conditional on the record being RUNNING, so that
    a task still running after its execution stopped can never bring an ended
    rollout back; every botocore failure leaves here as a named error.
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    def _conditional(self, call: Callable[..., Any], **request: Any) -> bool:
        """Make a conditional write; False when its condition did not hold."""
        for part in ("Item", "ExpressionAttributeValues"):
            if part in request:
                request[part] = storable(request[part])
        try:
            with aws_errors():
                try:
                    call(**request)
                except ClientError as error:
                    if _lost_condition(error):
                        return False
                    raise
        except RolloutError:
            raise
        return True

    # -- the per-alias lock -------------------------------------------------
    def acquire(
        self,
        alias_key: str,
        rollout_id: str,
        execution_arn: str,
        now: str,
        replacing: str | None = None,
    ) -> None:
        """Take the lock on ``alias_key`` for ``rollout_id`` (again, if it already holds it).

        ``replacing``: take it over from that stale holder, in one conditional write,
        so that of two rollouts racing to take over a stale lock exactly one wins.
        """
        condition = "attribute_not_exists(pk) OR rolloutId = :me"
        values = {":me": rollout_id}
        if replacing is not None:
            condition += " OR rolloutId = :stale"
            values[":stale"] = replacing
        taken = self._conditional(
            self._table.put_item,
            Item={
                **lock_item_key(alias_key),
                "rolloutId": rollout_id,
                "executionArn": execution_arn,
                "acquiredAt": now,
            },
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        if not taken:
            raise _busy(alias_key, self.lock_holder(alias_key) or {})

    def refuse_if_busy(
        self,
        alias_key: str,
        rollout_id: str,
        still_running: Callable[[str], bool] | None = None,
    ) -> dict[str, Any] | None:
        """Raise RolloutInProgressError when another rollout holds the lock (reads only).

        With ``still_running`` (execution ARN -> bool), a lock whose execution has
        ended is stale: it is returned, for the caller to take over, instead of raised.
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
        self._conditional(
            self._table.delete_item,
            Key=lock_item_key(alias_key),
            ConditionExpression="rolloutId = :me",
            ExpressionAttributeValues={":me": rollout_id},
        )

    # -- the rollout record -------------------------------------------------
    def create_record(self, state: dict[str, Any], alias_key: str, now: str) -> bool:
        """Write the record of a new rollout; False when one exists already.

        An existing record is either this rollout's own (the task ran again) or the
        mark a cleanup left for a rollout that ended before it was prepared.
        """
        return self._conditional(
            self._table.put_item,
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

    def mark_ended_before_prepared(
        self, rollout_id: str, request: dict[str, Any] | None, reason: str, now: str
    ) -> bool:
        """Record that a rollout ended before PrepareRollout wrote its record.

        A PrepareRollout still running (Lambda keeps running a task after its
        execution stopped) then finds this record and takes nothing. False when
        the record exists already (it was prepared after all: clean it up instead).
        """
        known = request or {}
        item: dict[str, Any] = {
            **record_key(rollout_id),
            "rolloutId": rollout_id,
            "status": ROLLED_BACK,
            "reason": bounded(reason),
            "startedAt": now,
            "updatedAt": now,
            "endedAt": now,
        }
        function, alias = known.get("functionName"), known.get("alias")
        if isinstance(function, str) and isinstance(alias, str):
            from rollouts.state import lock_key

            item.update(
                aliasKey=lock_key(bounded(function, 256), bounded(alias, 128)),
                functionName=bounded(function, 256),
                alias=bounded(alias, 128),
            )
        return self._conditional(
            self._table.put_item, Item=item, ConditionExpression="attribute_not_exists(pk)"
        )

    def record(self, rollout_id: str) -> dict[str, Any] | None:
        with aws_errors():
            item = self._table.get_item(Key=record_key(rollout_id), ConsistentRead=True)
        found = item.get("Item")
        return _plain(found) if found else None

    def update(
        self, rollout_id: str, now: str, *, unless_aborted: bool = False, **fields: Any
    ) -> None:
        """SET the given attributes (and ``updatedAt``) on a RUNNING record.

        Raises RecordClosedError when the record is no longer RUNNING (or gone), and
        with ``unless_aborted`` AbortRequestedError when an abort was requested.
        """
        fields["updatedAt"] = now
        names = {f"#{key}": key for key in fields}
        values = {f":{key}": value for key, value in fields.items()}
        sets = [f"#{key} = :{key}" for key in fields if fields[key] is not None]
        removes = [f"#{key}" for key in fields if fields[key] is None]
        values = {k: v for k, v in values.items() if v is not None}
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        condition = "#status = :running"
        names["#status"] = "status"
        if unless_aborted:
            condition += " AND attribute_not_exists(#abort)"
            names["#abort"] = "abort"
        updated = self._conditional(
            self._table.update_item,
            Key=record_key(rollout_id),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":running": RUNNING},
            ConditionExpression=condition,
        )
        running = not updated and unless_aborted and self._status(rollout_id) == RUNNING
        if running:
            raise AbortRequestedError(f"rollout {rollout_id}: an abort was requested")
        if not updated:
            raise RecordClosedError(
                f"rollout {rollout_id} is ending or has ended: this task does nothing more"
            )

    def _status(self, rollout_id: str) -> str | None:
        status = (self.record(rollout_id) or {}).get("status")
        return None if status is None else str(status)

    def mark_writing(self, rollout_id: str, now: str, writing: dict[str, Any]) -> bool:
        """Announce the alias write about to be made; False when an abort was requested.

        Conditional on the record being RUNNING with no abort request, so that an
        abort accepted before this moment moves no traffic. Raises RecordClosedError
        when the record is no longer RUNNING.
        """
        marked = self._conditional(
            self._table.update_item,
            Key=record_key(rollout_id),
            UpdateExpression="SET writing = :writing, updatedAt = :now",
            ConditionExpression="#status = :running AND attribute_not_exists(#abort)",
            ExpressionAttributeNames={"#status": "status", "#abort": "abort"},
            ExpressionAttributeValues={":writing": writing, ":now": now, ":running": RUNNING},
        )
        if marked:
            return True
        if (self.record(rollout_id) or {}).get("status") != RUNNING:
            raise RecordClosedError(
                f"rollout {rollout_id} is ending or has ended: this task does nothing more"
            )
        return False

    def close(self, rollout_id: str, now: str) -> dict[str, Any] | None:
        """Begin an ending: RUNNING (or ENDING) becomes ENDING; returns the record as closed.

        None when the record has ended already or does not exist. From here on no
        task can write the record, nor mark an alias write (see ``update``).
        """
        try:
            with aws_errors():
                try:
                    answer = self._table.update_item(
                        Key=record_key(rollout_id),
                        UpdateExpression="SET #status = :ending, updatedAt = :now",
                        ConditionExpression="#status IN (:running, :ending)",
                        ExpressionAttributeNames={"#status": "status"},
                        ExpressionAttributeValues={
                            ":ending": ENDING,
                            ":running": RUNNING,
                            ":now": now,
                        },
                        ReturnValues="ALL_NEW",
                    )
                except ClientError as error:
                    if _lost_condition(error):
                        return None
                    raise
        except RolloutError:
            raise
        closed: dict[str, Any] = _plain(answer["Attributes"])
        return closed

    def end(
        self,
        rollout_id: str,
        now: str,
        status: str,
        reason: str,
        state: dict[str, Any],
        *,
        from_status: str = ENDING,
        unless_aborted: bool = False,
    ) -> bool:
        """Mark the record ended; False when its status is not ``from_status`` any more.

        ``unless_aborted``: also False when an abort was requested (success loses to it).
        """
        condition = "#status = :from"
        names = {"#status": "status", "#state": "state"}
        if unless_aborted:
            condition += " AND attribute_not_exists(#abort)"
            names["#abort"] = "abort"
        return self._conditional(
            self._table.update_item,
            Key=record_key(rollout_id),
            UpdateExpression=(
                "SET #status = :status, reason = :reason, #state = :state,"
                " endedAt = :now, updatedAt = :now REMOVE writing"
            ),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":status": status,
                ":reason": bounded(reason, 4 * MAX_TEXT),
                ":state": state,
                ":now": now,
                ":from": from_status,
            },
        )

    def record_step(
        self,
        rollout_id: str,
        record: dict[str, Any],
        step: dict[str, Any],
        state: dict[str, Any],
        now: str,
    ) -> None:
        """Record that step ``step['step']`` went live (once, however often the task runs).

        Raises AbortRequestedError when an abort was accepted during the shift.
        """
        taken = [s for s in record.get("stepsTaken", []) if s.get("step") != step["step"]]
        self.update(
            rollout_id,
            now,
            unless_aborted=True,
            stepsTaken=[*taken, step],
            state=state,
            writing=None,
        )

    def record_check(
        self,
        rollout_id: str,
        record: dict[str, Any],
        check: dict[str, Any],
        state: dict[str, Any],
        now: str,
    ) -> None:
        """Keep ``check`` among the latest MAX_CHECKS_KEPT, counting every check once."""
        # A check is identified by its step and bake time: a retried task replaces it.
        key = (check.get("step"), check.get("bakedSeconds"))
        checks = record.get("checks", [])
        kept = [c for c in checks if (c.get("step"), c.get("bakedSeconds")) != key]
        repeated = len(kept) != len(checks)
        self.update(
            rollout_id,
            now,
            checks=[*kept, check][-MAX_CHECKS_KEPT:],
            checkCount=int(record.get("checkCount", 0)) + (0 if repeated else 1),
            state=state,
        )

    def request_abort(self, rollout_id: str, by: str, reason: str, now: str) -> bool:
        """Ask a RUNNING rollout to roll back; False when it is ending or has ended.

        Conditional, so that an abort and a success cannot both be accepted: the
        rollout's success is itself conditional on no abort (``end``).
        """
        return self._conditional(
            self._table.update_item,
            Key=record_key(rollout_id),
            # Also among people's requests (an abort is taken even when that list is full).
            UpdateExpression=(
                "SET #abort = :abort, updatedAt = :now,"
                " #requests = list_append(if_not_exists(#requests, :none), :entry)"
            ),
            ConditionExpression="#status = :running",
            ExpressionAttributeNames={
                "#status": "status",
                "#abort": "abort",
                "#requests": "requests",
            },
            ExpressionAttributeValues={
                ":abort": {"by": bounded(by, 512), "reason": bounded(reason), "at": now},
                ":entry": [
                    {"verb": "abort", "by": bounded(by, 512), "reason": bounded(reason), "at": now}
                ],
                ":none": [],
                ":now": now,
                ":running": RUNNING,
            },
        )

    # -- people's requests, and the wait they wake -------------------------------
    def request(
        self,
        rollout_id: str,
        entry: dict[str, Any],
        now: str,
        *,
        set_fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        require: str | None = None,
    ) -> bool:
        """Record a person's request on a RUNNING record: ``entry`` joins ``requests``.

        ``set_fields`` and ``remove`` change the record in the same conditional write;
        ``require``: an attribute that must exist (resume needs a pause). False when
        the record is not RUNNING or lacks ``require``; TooManyRequestsOnRecordError
        when it already holds MAX_REQUESTS requests.
        """
        fields = {"updatedAt": now, **(set_fields or {})}
        names = {f"#{k}": k for k in [*fields, *remove]}
        names.update({"#status": "status", "#requests": "requests"})
        values: dict[str, Any] = {f":{k}": v for k, v in fields.items()}
        values.update({":running": RUNNING, ":entry": [entry], ":none": [], ":max": MAX_REQUESTS})
        expression = "SET " + ", ".join(
            [f"#{k} = :{k}" for k in fields]
            + ["#requests = list_append(if_not_exists(#requests, :none), :entry)"]
        )
        if remove:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in remove)
        condition = (
            "#status = :running AND (attribute_not_exists(#requests) OR size(#requests) < :max)"
        )
        if require is not None:
            names["#required"] = require
            condition += " AND attribute_exists(#required)"
        done = self._conditional(
            self._table.update_item,
            Key=record_key(rollout_id),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        if not done and len((self.record(rollout_id) or {}).get("requests") or []) >= MAX_REQUESTS:
            raise TooManyRequestsOnRecordError(
                f"rollout {rollout_id} already holds {MAX_REQUESTS} requests; abort it instead"
            )
        return done

    def set_waiting(
        self, rollout_id: str, waiting: dict[str, Any], now: str, *, unless_aborted: bool = False
    ) -> bool:
        """Leave the token of the wait about to begin where a request or an alarm finds it.

        False when the record is not RUNNING (or, ``unless_aborted``, an abort is
        requested): then nothing may wait; or when a later wait's token is there
        already (``waiting.since``, to the microsecond, is later): this task's wait has
        ended (it timed out before its task got here) and must not hide the live one.
        """
        condition = (
            "#status = :running"
            " AND (attribute_not_exists(#waiting.#since) OR #waiting.#since <= :since)"
        )
        names = {"#status": "status", "#waiting": "waiting", "#since": "since"}
        if unless_aborted:
            condition += " AND attribute_not_exists(#abort)"
            names["#abort"] = "abort"
        return self._conditional(
            self._table.update_item,
            Key=record_key(rollout_id),
            UpdateExpression="SET #waiting = :waiting, updatedAt = :now",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":waiting": waiting,
                ":now": now,
                ":running": RUNNING,
                ":since": waiting["since"],
            },
        )

    def clear_waiting(self, rollout_id: str, kind: str, now: str) -> None:
        """Forget the wait of ``kind`` once it has ended; a later wait's token stays."""
        self._conditional(
            self._table.update_item,
            Key=record_key(rollout_id),
            UpdateExpression="SET #waiting = :none, updatedAt = :now",
            ConditionExpression="#waiting.#kind = :kind",
            ExpressionAttributeNames={"#waiting": "waiting", "#kind": "kind"},
            ExpressionAttributeValues={":none": None, ":now": now, ":kind": kind},
        )

    def watch(self, rollout_id: str, alarms: tuple[str, ...], now_epoch: int) -> None:
        """Let each alarm's state change find this rollout (safe to repeat)."""
        with aws_errors(), self._table.batch_writer() as batch:
            for name in alarms:
                batch.put_item(
                    Item={
                        **watch_key(name, rollout_id),
                        "rolloutId": rollout_id,
                        "expiresAt": now_epoch + WATCH_KEPT_SECONDS,
                    }
                )

    def unwatch(self, rollout_id: str, alarms: tuple[str, ...]) -> None:
        """An ended rollout no longer watches its alarms (safe to repeat)."""
        with aws_errors(), self._table.batch_writer() as batch:
            for name in alarms:
                batch.delete_item(Key=watch_key(name, rollout_id))

    def watchers(self, alarm_name: str) -> list[str]:
        """The rollouts that watch ``alarm_name``: running ones, and ended ones whose
        ending could not forget the watch (until it expires)."""
        found: list[str] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": f"ALARM#{alarm_name}"},
            "ProjectionExpression": "rolloutId",
        }
        while True:
            with aws_errors():
                page = self._table.query(**query)
            found += [str(item["rolloutId"]) for item in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                return found
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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
