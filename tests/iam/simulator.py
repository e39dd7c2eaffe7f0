"""IAM decisions from @cloud-copilot/iam-simulate (tests/iam/simulate.mjs), a batch at a time.

``evaluate(questions)`` asks one Node process about every distinct question and
answers each in order. The library is installed by ``make test`` (``npm ci`` in
tests/iam, from the committed package-lock.json); without it the tests that need
it fail saying how to install it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iam_requests import IamRequest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "simulate.mjs"
INSTALLED = HERE / "node_modules" / "@cloud-copilot" / "iam-simulate"
INSTALL = "make tests/iam/node_modules/.installed (npm ci --prefix tests/iam)"
ALLOWED = "Allowed"


@dataclass(frozen=True)
class Policy:
    """An identity policy: its name (the role's inline policy name) and document."""

    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Question:
    """May ``principal`` (with ``policies``) make ``request``? ``resource_policy`` of the target."""

    principal: str
    account: str
    request: IamRequest
    policies: tuple[Policy, ...]
    resource_policy: Mapping[str, Any] | None = None

    def key(self) -> str:
        return json.dumps(self.payload(), sort_keys=True)

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "principal": self.principal,
            "action": self.request.action,
            "resource": self.request.resource,
            "account": self.account,
            # What IAM sets for every request of a role's session.
            "context": {
                "aws:PrincipalArn": self.principal,
                "aws:PrincipalAccount": self.account,
                **self.request.context_variables,
            },
            "identityPolicies": [{"name": p.name, "policy": p.document} for p in self.policies],
        }
        if self.resource_policy is not None:
            payload["resourcePolicy"] = self.resource_policy
        return payload


@dataclass(frozen=True)
class StatementRef:
    policy: str
    sid: str | None
    index: int


@dataclass(frozen=True)
class Decision:
    """The evaluator's answer: ``decision`` and why (for messages)."""

    decision: str
    errors: str | None = None
    resource_type: str | None = None
    allowed_by: tuple[StatementRef, ...] = ()
    denied_by: tuple[StatementRef, ...] = ()
    resource_policy: str | None = None
    unmatched: tuple[Mapping[str, Any], ...] = field(default=())
    ignored_context_keys: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED

    def reason(self) -> str:
        if self.errors:
            return f"{self.decision}: {self.errors}"
        parts = [self.decision]
        if self.allowed_by:
            parts.append("allowed by " + ", ".join(_ref(s) for s in self.allowed_by))
        if self.denied_by:
            parts.append("denied by " + ", ".join(_ref(s) for s in self.denied_by))
        if self.resource_policy not in (None, "NotApplicable"):
            parts.append(f"resource policy: {self.resource_policy}")
        for miss in self.unmatched:
            parts.append(
                f"{miss['policy']}#{miss.get('sid') or miss['index']} names the action but"
                f" resource={'matches' if miss['resource'] else 'does not match'},"
                f" condition={miss['condition']}"
            )
        if not self.allowed_by and not self.denied_by and not self.unmatched:
            parts.append("no statement names this action")
        if self.ignored_context_keys:
            parts.append(f"ignored context keys {list(self.ignored_context_keys)}")
        return "; ".join(parts)


def _ref(ref: StatementRef) -> str:
    return f"{ref.policy}#{ref.sid or ref.index}"


def available() -> bool:
    return INSTALLED.is_dir() and shutil.which("node") is not None


def evaluate(questions: Sequence[Question]) -> list[Decision]:
    """The decision on each question, in order (one Node process for all distinct ones)."""
    if not available():
        raise RuntimeError(f"@cloud-copilot/iam-simulate is not installed: run {INSTALL}")
    distinct: dict[str, Question] = {}
    for question in questions:
        distinct.setdefault(question.key(), question)
    keys = list(distinct)
    answer = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps([distinct[k].payload() for k in keys]),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"simulate.mjs failed ({answer.returncode}): {answer.stderr[-2000:]}")
    decided = {k: _decision(raw) for k, raw in zip(keys, json.loads(answer.stdout), strict=True)}
    return [decided[q.key()] for q in questions]


def _decision(raw: Mapping[str, Any]) -> Decision:
    def refs(name: str) -> tuple[StatementRef, ...]:
        return tuple(StatementRef(r["policy"], r.get("sid"), r["index"]) for r in raw.get(name, []))

    return Decision(
        decision=str(raw["decision"]),
        errors=raw.get("errors"),
        resource_type=raw.get("resourceType"),
        allowed_by=refs("allowedBy"),
        denied_by=refs("deniedBy"),
        resource_policy=raw.get("resourcePolicy"),
        unmatched=tuple(raw.get("unmatched", [])),
        ignored_context_keys=tuple(raw.get("ignoredContextKeys", [])),
    )
