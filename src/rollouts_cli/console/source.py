"""Where the console's pages get what they show: the control plane, read with the caller's
credentials, as the CLI reads it (``Where``), and the verbs, as the CLI asks them.

I/O only: what a page shows is decided in ``pages``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from rollouts.service import (
    ENDED_EXECUTION_STATUSES,
    abort_rollout,
    execution_arn,
    of_execution,
    pause_rollout,
    promote_rollout,
    resume_rollout,
)
from rollouts.state import lock_key
from rollouts.store import ENDED
from rollouts_cli.console.pages import (
    check_rows,
    picture_document,
    row,
    state_graph,
    summary_lines,
    visits,
)
from rollouts_cli.picture import marks
from rollouts_cli.views import ending

if TYPE_CHECKING:
    from rollouts_cli.cli import Where

# The newest executions the list reads (ListExecutions pages of 100).
LIST_LIMIT = 100
# GetExecutionHistory's largest page.
HISTORY_PAGE = 1000
# Ended rows kept (each is read once); past this, all are read again once.
MAX_KEPT = 2000
VERBS = ("pause", "resume", "promote", "abort")


Method = TypeVar("Method", bound=Callable[..., Any])


def one_at_a_time(method: Method) -> Method:
    """Run ``method`` holding the source's lock."""

    @wraps(method)
    def locked(self: Source, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return cast(Method, locked)


@dataclass(frozen=True)
class Verb:
    """A person's request from a console button."""

    name: str
    reason: str | None = None
    full: bool = False


class Source:
    """The rollouts of one control plane, as the console shows them."""

    def __init__(self, where: Where) -> None:
        self.where = where
        # boto3 resources (the store's table) and sessions are not thread-safe, and the
        # server answers each request in a thread of its own: one AWS conversation at a time.
        self._lock = threading.RLock()
        self._graphs: dict[str, dict[str, Any]] = {}
        self._caller: str | None = None
        # An ended rollout's row and history no longer change: read them once.
        self._ended_rows: dict[str, dict[str, Any]] = {}
        self._ended_visits: dict[str, dict[str, Any]] = {}

    @property
    def plane_name(self) -> str:
        return self.where.stack_name

    @one_at_a_time
    def graph(self, rollout_id: str | None = None) -> dict[str, Any]:
        """The state machine as drawn: the definition the rollout's execution runs
        (DescribeStateMachineForExecution: an execution started before a stack update
        keeps its own), or the current one; each definition laid out once."""
        plane = self.where.plane
        answer = None
        if rollout_id is not None:
            answer = of_execution(
                plane.sfn.describe_state_machine_for_execution,
                execution_arn(plane.state_machine_arn, rollout_id),
            )
        if answer is None:
            answer = plane.sfn.describe_state_machine(stateMachineArn=plane.state_machine_arn)
        definition = str(answer["definition"])
        graph = self._graphs.get(definition)
        if graph is None:
            graph = {
                "stateMachineArn": plane.state_machine_arn,
                **state_graph(json.loads(definition)),
            }
            self._graphs[definition] = graph
        return graph

    @one_at_a_time
    def rows(
        self, function_name: str | None = None, alias: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest rollouts first; with ``function_name`` and ``alias``, that alias's
        (its history in the table, as ``rollouts list`` reads it), else the newest
        executions, only those of ``function_name`` or ``alias`` when one is given."""
        plane = self.where.plane
        if len(self._ended_rows) > MAX_KEPT:
            self._ended_rows.clear()
        if function_name and alias:
            items, _ = plane.store.history(lock_key(function_name, alias), limit=LIST_LIMIT)
            return [self._row(str(item["rolloutId"])) for item in items]
        executions: list[dict[str, Any]] = []
        paginator = plane.sfn.get_paginator("list_executions")
        for page in paginator.paginate(
            stateMachineArn=plane.state_machine_arn,
            PaginationConfig={"MaxItems": LIST_LIMIT, "PageSize": LIST_LIMIT},
        ):
            executions.extend(page.get("executions") or [])
        executions.sort(key=lambda e: e.get("startDate") or 0, reverse=True)
        found = [self._row(str(e.get("name")), e) for e in executions]
        return [
            r
            for r in found
            if (not function_name or r.get("functionName") == function_name)
            and (not alias or r.get("alias") == alias)
        ]

    def _row(self, name: str, execution: dict[str, Any] | None = None) -> dict[str, Any]:
        """The list's row of one rollout; ``execution`` as ListExecutions gave it, if it did."""
        known = self._ended_rows.get(name)
        if known is not None:
            return known
        plane = self.where.plane
        if execution is None:
            arn = execution_arn(plane.state_machine_arn, name)
            execution = of_execution(plane.sfn.describe_execution, arn) or {
                "name": name,
                "status": "UNKNOWN",
            }
        record = plane.store.record(name)
        known = row({**execution, "name": name}, record)
        if _over(execution, record):
            self._ended_rows[name] = known
        return known

    @one_at_a_time
    def rollout(self, rollout_id: str) -> dict[str, Any]:
        """A rollout as its page shows it: described (with where its alias is now), the
        states its execution visited, its picture and its cause. NotFoundError if none."""
        described = self.where.describe(rollout_id, live=True)
        seen = self._ended_visits.get(rollout_id)
        if seen is None:
            events: list[dict[str, Any]] = []
            if described.get("status") != "UNKNOWN":
                paginator = self.where.plane.sfn.get_paginator("get_execution_history")
                for page in paginator.paginate(
                    executionArn=described["executionArn"],
                    PaginationConfig={"PageSize": HISTORY_PAGE},
                ):
                    events.extend(page.get("events") or [])
            seen = visits(events, running=described.get("status") == "RUNNING")
            if str(described.get("status")) in ENDED_EXECUTION_STATUSES:
                self._ended_visits[rollout_id] = seen
        return {
            "rollout": described,
            "visits": seen,
            "picture": picture_document(marks(described)),
            "cause": ending(described),
            "summary": summary_lines(described),
            "checks": check_rows(described),
        }

    @one_at_a_time
    def caller(self) -> str:
        """Who the console acts as (STS GetCallerIdentity), asked once."""
        if self._caller is None:
            identity = self.where.connection.client("sts").get_caller_identity()
            self._caller = str(identity["Arn"])
        return self._caller

    @one_at_a_time
    def ask(self, rollout_id: str, verb: Verb, now: Any) -> dict[str, Any]:
        """Run ``verb`` on the rollout as the caller, as ``rollouts <verb>`` does."""
        plane = self.where.plane
        common: dict[str, Any] = {
            "by": self.caller(),
            "store": plane.store,
            "now": now,
            "sfn": plane.sfn,
        }
        if verb.name == "abort":
            return abort_rollout(rollout_id, reason=verb.reason, **common)
        if verb.name == "pause":
            return pause_rollout(rollout_id, reason=verb.reason, **common)
        if verb.name == "resume":
            return resume_rollout(rollout_id, reason=verb.reason, **common)
        if verb.name == "promote":
            return promote_rollout(rollout_id, reason=verb.reason, full=verb.full, **common)
        raise ValueError(f"no verb {verb.name!r}")


def _over(execution: dict[str, Any], record: dict[str, Any] | None) -> bool:
    """Whether a rollout can no longer change: its execution has ended, and its record
    too (a stopped execution's record is still ENDING while its cleanup runs)."""
    if str(execution.get("status")) not in ENDED_EXECUTION_STATUSES:
        return False
    return record is None or record.get("status") in ENDED
