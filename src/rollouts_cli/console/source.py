"""Where the console's pages get what they show: the control plane, read with the caller's
credentials, as the CLI reads it (``Where``), and the verbs, as the CLI asks them.

I/O only: what a page shows is decided in ``pages``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rollouts.service import (
    ENDED_EXECUTION_STATUSES,
    abort_rollout,
    pause_rollout,
    promote_rollout,
    resume_rollout,
)
from rollouts.store import ENDED
from rollouts_cli.console.pages import (
    cause_in_words,
    check_rows,
    picture_document,
    row,
    state_graph,
    summary_lines,
    visits,
)
from rollouts_cli.picture import marks

if TYPE_CHECKING:
    from rollouts_cli.cli import Where

# The newest executions the list reads (ListExecutions pages of 100).
LIST_LIMIT = 100
# GetExecutionHistory's largest page.
HISTORY_PAGE = 1000
VERBS = ("pause", "resume", "promote", "abort")


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
        self._lock = threading.Lock()
        self._graph: dict[str, Any] | None = None
        self._caller: str | None = None
        # An ended rollout's row and history no longer change: read them once.
        self._ended_rows: dict[str, dict[str, Any]] = {}
        self._ended_visits: dict[str, dict[str, Any]] = {}

    @property
    def plane_name(self) -> str:
        return self.where.stack_name

    def graph(self) -> dict[str, Any]:
        """The state machine as drawn: from its definition (DescribeStateMachine), once."""
        with self._lock:
            if self._graph is None:
                plane = self.where.plane
                answer = plane.sfn.describe_state_machine(stateMachineArn=plane.state_machine_arn)
                self._graph = {
                    "stateMachineArn": plane.state_machine_arn,
                    **state_graph(json.loads(answer["definition"])),
                }
            return self._graph

    def rows(
        self, function_name: str | None = None, alias: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest rollouts first, only those of ``function_name``/``alias`` when given."""
        plane = self.where.plane
        executions: list[dict[str, Any]] = []
        paginator = plane.sfn.get_paginator("list_executions")
        for page in paginator.paginate(
            stateMachineArn=plane.state_machine_arn,
            PaginationConfig={"MaxItems": LIST_LIMIT, "PageSize": LIST_LIMIT},
        ):
            executions.extend(page.get("executions") or [])
        executions.sort(key=lambda e: e.get("startDate") or 0, reverse=True)
        found = []
        for execution in executions:
            name = str(execution.get("name"))
            known = self._ended_rows.get(name)
            if known is None:
                record = plane.store.record(name)
                known = row(execution, record)
                if _over(execution, record):
                    self._ended_rows[name] = known
            found.append(known)
        # Only the rows still listed are kept.
        listed = {str(e.get("name")) for e in executions}
        for name in list(self._ended_rows):
            if name not in listed:
                self._ended_rows.pop(name, None)
        return [
            r
            for r in found
            if (not function_name or r.get("functionName") == function_name)
            and (not alias or r.get("alias") == alias)
        ]

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
            "cause": cause_in_words(described),
            "summary": summary_lines(described),
            "checks": check_rows(described),
        }

    def caller(self) -> str:
        """Who the console acts as (STS GetCallerIdentity), asked once."""
        with self._lock:
            if self._caller is None:
                identity = self.where.connection.client("sts").get_caller_identity()
                self._caller = str(identity["Arn"])
            return self._caller

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
