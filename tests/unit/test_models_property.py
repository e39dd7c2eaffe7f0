"""Property: ``parse_request`` is total, and its refusals are brief.

For any JSON value it returns a request or raises ``ValidationError`` whose text,
JSON-escaped, is at most 4,000 characters (a Step Functions cause holds 32,768).
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.errors import MAX_TEXT_LENGTH, ValidationError
from rollouts.models import RolloutRequest, parse_request, request_to_dict

FIELDS = (
    "functionName",
    "alias",
    "version",
    "codeSha256",
    "strategy",
    "alarms",
    "hooks",
    "checkIntervalSeconds",
)
SETTINGS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "400")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Long texts cheaply: one character repeated up to 100 KB.
long_texts = st.builds(lambda c, n: c * n, st.characters(), st.integers(0, 100_000))
texts = st.text() | long_texts | st.sampled_from(["", "live", "7", "$LATEST", "AllAtOnce"])
numbers = st.integers() | st.integers(-(10**5000), 10**5000) | st.floats()
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text() | long_texts, children, max_size=5)
    ),
    max_leaves=20,
)
steps = st.lists(
    st.dictionaries(st.sampled_from(["weight", "bakeSeconds"]) | st.text(), json_values, max_size=3)
    | json_values,
    max_size=6,
)
strategies = (
    st.sampled_from(["Canary10Percent5Minutes", "Linear10PercentEvery1Minute", "AllAtOnce"])
    | st.fixed_dictionaries({"steps": steps})
    | json_values
)
# Mostly request-shaped, so that every field's validation is reached, not only the first.
shaped = st.fixed_dictionaries(
    {},
    optional={
        "functionName": st.sampled_from(["orders-api"]) | json_values,
        "alias": st.sampled_from(["live"]) | json_values,
        "version": st.sampled_from(["7", 7]) | json_values,
        "codeSha256": st.sampled_from(["3Uq0pK8yZr3nW1v9mX2cT7bE6hJ4sL5dA0fG8kQ1wYo="])
        | json_values,
        "strategy": strategies,
        "alarms": st.lists(texts | json_values, max_size=30) | json_values,
        "hooks": st.dictionaries(
            st.sampled_from(["preTraffic", "postTraffic"]) | st.text(), texts | json_values
        )
        | json_values,
        "checkIntervalSeconds": numbers | json_values,
    },
)
with_extra_keys = st.builds(
    lambda request, extra: {**extra, **request},
    shaped,
    st.dictionaries(st.text() | long_texts, json_values, max_size=20),
)
payloads = json_values | shaped | with_extra_keys


def check(payload: Any) -> None:
    try:
        request = parse_request(payload)
    except ValidationError as error:
        text = str(error)
        assert len(text) <= MAX_TEXT_LENGTH
        assert len(json.dumps(text)) - 2 <= MAX_TEXT_LENGTH
        assert error.errors and all(field for field, _ in error.errors)
        return
    assert isinstance(request, RolloutRequest)
    assert parse_request(request_to_dict(request)) == request


@SETTINGS
@given(payloads)
def test_any_json_value_is_a_request_or_a_brief_validation_error(payload: Any) -> None:
    check(payload)


@SETTINGS
@given(st.sampled_from(FIELDS), json_values)
def test_any_value_in_any_field_of_a_good_request(field: str, value: Any) -> None:
    check({"functionName": "orders-api", "alias": "live", "strategy": "AllAtOnce", field: value})
