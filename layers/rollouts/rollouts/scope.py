"""Which functions this stack may roll out, and which it may invoke as hooks.

The stack's parameters ``TargetFunctionNamePrefix`` and ``HookFunctionNamePrefix``
bound its roles' IAM policies; the functions get them as ``TARGET_FUNCTION_PREFIX``
and ``HOOK_FUNCTION_PREFIX``, so that a request outside them is refused before any
AWS call, naming the field, instead of failing later on an AccessDenied. ``*``
(said explicitly: the parameters have no default) means every function.

>>> scope = Scope(targets="orders-", hooks="orders-hooks-")
>>> scope.problems("payments-api", pre_traffic="orders-hooks-smoke")
[('functionName', "payments-api is outside the functions this stack may roll out: \
names starting 'orders-' (its TargetFunctionNamePrefix parameter)")]
>>> Scope(targets=EVERY_FUNCTION, hooks=EVERY_FUNCTION).problems("anything")
[]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from rollouts.errors import ValidationError
from rollouts.models import RolloutRequest

EVERY_FUNCTION = "*"
TARGETS_VARIABLE = "TARGET_FUNCTION_PREFIX"
HOOKS_VARIABLE = "HOOK_FUNCTION_PREFIX"


def function_name_of(name_or_arn: str) -> str:
    """The function's name, from a name, a partial or full ARN, qualified or not.

    >>> function_name_of("arn:aws:lambda:us-east-1:123456789012:function:orders-api:7")
    'orders-api'
    >>> function_name_of("orders-api")
    'orders-api'
    """
    return name_or_arn.split(":function:")[-1].split(":")[0]


def _within(prefix: str, name_or_arn: str) -> bool:
    return prefix == EVERY_FUNCTION or function_name_of(name_or_arn).startswith(prefix)


def _region_and_account(arn: str) -> tuple[str, str] | None:
    """``("us-east-1", "123456789012")`` of an ARN; None for a plain name."""
    parts = arn.split(":")
    return (parts[3], parts[4]) if arn.startswith("arn:") and len(parts) > 5 else None


@dataclass(frozen=True)
class Scope:
    """The two prefixes: ``targets`` (rolled out) and ``hooks`` (invoked).

    ``home`` (region, account), when known, is where the stack runs: an ARN naming
    another region or account is refused too (the roles reach only their own).
    """

    targets: str
    hooks: str
    home: tuple[str, str] | None = None

    def at(self, stack_arn: str) -> Scope:
        """This scope, at home where ``stack_arn`` (the state machine, an execution) is."""
        return replace(self, home=_region_and_account(stack_arn))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Scope:
        """The prefixes the template gives every function; unset means every function.

        (Unset only outside a deployed stack: the IAM policies bound it there anyway.)
        """
        found = os.environ if environ is None else environ
        return cls(
            targets=found.get(TARGETS_VARIABLE) or EVERY_FUNCTION,
            hooks=found.get(HOOKS_VARIABLE) or EVERY_FUNCTION,
        )

    def problems(
        self,
        function_name: str,
        pre_traffic: str | None = None,
        post_traffic: str | None = None,
    ) -> list[tuple[str, str]]:
        """Every name outside its prefix, as (field, message) pairs; empty when all are in."""
        found: list[tuple[str, str]] = []
        named = (("functionName", function_name), ("hooks.preTraffic", pre_traffic))
        for field, name in (*named, ("hooks.postTraffic", post_traffic)):
            where = _region_and_account(name) if name else None
            if where is not None and self.home is not None and where != self.home:
                found.append(
                    (
                        field,
                        f"names a function of account {where[1]} in {where[0]}: this stack"
                        f" reaches only account {self.home[1]} in {self.home[0]}",
                    )
                )
        if found:
            return found
        if not _within(self.targets, function_name):
            found.append(
                (
                    "functionName",
                    f"{function_name_of(function_name)} is outside the functions this stack"
                    f" may roll out: names starting {self.targets!r}"
                    " (its TargetFunctionNamePrefix parameter)",
                )
            )
        for field, hook in (("hooks.preTraffic", pre_traffic), ("hooks.postTraffic", post_traffic)):
            if hook and not _within(self.hooks, hook):
                found.append(
                    (
                        field,
                        f"{function_name_of(hook)} is outside the hooks this stack may invoke:"
                        f" names starting {self.hooks!r} (its HookFunctionNamePrefix parameter)",
                    )
                )
        return found

    def refuse_outside(self, request: RolloutRequest) -> None:
        """Raise ValidationError naming every field outside its prefix; nothing else."""
        hooks = request.hooks
        found = self.problems(
            request.function_name,
            pre_traffic=hooks.pre_traffic if hooks else None,
            post_traffic=hooks.post_traffic if hooks else None,
        )
        if found:
            raise ValidationError.from_errors(found)
