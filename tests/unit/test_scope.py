"""The stack's prefixes: which functions may be rolled out, and which invoked as hooks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.errors import ValidationError
from rollouts.models import parse_request
from rollouts.scope import EVERY_FUNCTION, Scope, function_name_of

NAMES = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


@pytest.mark.parametrize(
    ("name_or_arn", "name"),
    [
        ("orders-api", "orders-api"),
        (f"{ARN}orders-api", "orders-api"),
        (f"{ARN}orders-api:live", "orders-api"),
        ("orders-api:7", "orders-api"),
    ],
)
def test_a_function_is_judged_by_its_name_in_every_form(name_or_arn: str, name: str) -> None:
    assert function_name_of(name_or_arn) == name


@given(NAMES)
def test_every_function_means_every_name(name: str) -> None:
    assert Scope(EVERY_FUNCTION, EVERY_FUNCTION).problems(name, name, name) == []


@given(NAMES, NAMES)
def test_a_name_is_inside_exactly_when_it_starts_with_the_prefix(prefix: str, name: str) -> None:
    targets = Scope(targets=prefix, hooks=EVERY_FUNCTION)
    hooks = Scope(targets=EVERY_FUNCTION, hooks=prefix)
    inside = name.startswith(prefix)

    assert (targets.problems(name) == []) is inside
    assert (targets.problems(f"{ARN}{name}") == []) is inside
    assert (hooks.problems("any", pre_traffic=name) == []) is inside
    assert (hooks.problems("any", post_traffic=f"{ARN}{name}:live") == []) is inside


def test_a_prefix_is_not_a_pattern() -> None:
    """ "orders-*" would be a glob to a reader; to the stack it is a literal prefix."""
    assert Scope("orders", "*").problems("orders-evil") == []
    assert Scope("orders-", "*").problems("ordersx") != []


def test_every_field_outside_is_named_with_the_parameter_to_change() -> None:
    request = parse_request(
        {
            "functionName": f"{ARN}payments-api",
            "alias": "live",
            "strategy": "AllAtOnce",
            "hooks": {"preTraffic": "orders-hooks-smoke", "postTraffic": f"{ARN}payments-post"},
        }
    )

    with pytest.raises(ValidationError) as refused:
        Scope(targets="orders-", hooks="orders-hooks-").refuse_outside(request)

    assert [field for field, _ in refused.value.errors] == ["functionName", "hooks.postTraffic"]
    assert "TargetFunctionNamePrefix" in refused.value.errors[0][1]
    assert "HookFunctionNamePrefix" in refused.value.errors[1][1]
    assert "payments-post" in refused.value.errors[1][1]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, Scope(EVERY_FUNCTION, EVERY_FUNCTION)),
        (
            {"TARGET_FUNCTION_PREFIX": "orders-", "HOOK_FUNCTION_PREFIX": "orders-hooks-"},
            Scope("orders-", "orders-hooks-"),
        ),
        ({"TARGET_FUNCTION_PREFIX": "*", "HOOK_FUNCTION_PREFIX": "*"}, Scope("*", "*")),
    ],
)
def test_the_prefixes_come_from_the_environment_the_template_gives(
    environ: dict[str, str], expected: Scope
) -> None:
    assert Scope.from_environment(environ) == expected


STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:lambda-rollouts-rollout"


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        pytest.param(
            "functionName",
            {"functionName": "arn:aws:lambda:us-east-1:999999999999:function:orders-api"},
            id="function-of-another-account",
        ),
        pytest.param(
            "functionName",
            {"functionName": "arn:aws:lambda:eu-west-1:123456789012:function:orders-api"},
            id="function-in-another-region",
        ),
        pytest.param(
            "hooks.postTraffic",
            {"hooks": {"postTraffic": "arn:aws:lambda:us-east-1:999999999999:function:h"}},
            id="hook-of-another-account",
        ),
    ],
)
def test_an_arn_of_another_account_or_region_is_refused_naming_it(
    field: str, changes: dict[str, object]
) -> None:
    """The roles reach only their own account and region: say so, not "outside the prefix"."""
    request = parse_request(
        {"functionName": "orders-api", "alias": "live", "strategy": "AllAtOnce", **changes}
    )

    with pytest.raises(ValidationError) as refused:
        Scope(EVERY_FUNCTION, EVERY_FUNCTION).at(STATE_MACHINE).refuse_outside(request)

    ((named, message),) = refused.value.errors
    assert named == field
    assert "this stack reaches only account 123456789012 in us-east-1" in message


def test_an_arn_at_home_and_a_plain_name_are_judged_by_prefix_only() -> None:
    scope = Scope("orders-", "orders-").at(STATE_MACHINE)

    assert scope.problems(f"{ARN}orders-api", pre_traffic="orders-smoke") == []
    assert [f for f, _ in scope.problems(f"{ARN}payments")] == ["functionName"]
    assert Scope("*", "*").problems("arn:aws:lambda:eu-west-1:999999999999:function:x") == []
