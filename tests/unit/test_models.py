from typing import Any

import pydantic
import pytest

from rollouts.errors import ValidationError
from rollouts.models import Hooks, RolloutRequest, parse_request, request_to_dict
from rollouts.plan import Step
from rollouts.strategy import ACCEPTED_FORMS, NAME_FORMS, Strategy, StrategyKind

FULL: dict[str, Any] = {
    "functionName": "orders-api",
    "alias": "live",
    "version": "7",
    "strategy": "Canary10Percent5Minutes",
    "alarms": ["orders-api-errors"],
    "hooks": {"preTraffic": "orders-api-pre", "postTraffic": "orders-api-post"},
    "checkIntervalSeconds": 60,
}
MINIMAL: dict[str, Any] = {
    "functionName": "orders-api",
    "alias": "live",
    "strategy": "AllAtOnce",
}
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders-api"
FIELDS = (
    "functionName, alias, version, codeSha256, strategy, alarms, hooks, checkIntervalSeconds,"
    " analysis, createAlias"
)
FUNCTION_FORMS = (
    "a function name (1-64 letters, digits, - or _) "
    "or an ARN arn:aws:lambda:<region>:<account>:function:<name>"
)
ALIAS_RULE = "must be 1-128 letters, digits, - or _, and not only digits, not"
VERSION_RULE = 'must be a published version number like "7", not'
HOOK_RULE = f"must be {FUNCTION_FORMS}, optionally with :<qualifier>, not"
INTERVAL_RULE = "must be a whole number of seconds between 1 and 3600, not"


def hooks(**fields: str) -> Hooks:
    return Hooks.model_validate(fields)


def with_(**changes: Any) -> dict[str, Any]:
    return {**MINIMAL, **changes}


def test_full_request() -> None:
    request = parse_request(FULL)

    assert request.function_name == "orders-api"
    assert request.alias == "live"
    assert request.version == "7"
    assert request.strategy == Strategy(
        StrategyKind.CANARY, "Canary10Percent5Minutes", percent=10, minutes=5
    )
    assert request.steps == (Step(10, 300),)
    assert request.alarms == ("orders-api-errors",)
    assert request.hooks == hooks(preTraffic="orders-api-pre", postTraffic="orders-api-post")
    assert request.check_interval_seconds == 60
    assert request.resolved_check_interval_seconds == 60
    assert request_to_dict(request) == FULL


def test_minimal_request() -> None:
    request = parse_request(MINIMAL)

    assert (request.version, request.alarms, request.hooks) == (None, (), None)
    assert request.check_interval_seconds is None
    assert request.resolved_check_interval_seconds == 300
    assert request.steps == ()
    assert request_to_dict(request) == {**MINIMAL, "alarms": []}


def test_request_is_frozen() -> None:
    request = parse_request(MINIMAL)

    with pytest.raises(pydantic.ValidationError):
        request.alias = "other"


def test_python_names_are_accepted() -> None:
    request = parse_request(
        {
            "function_name": "orders-api",
            "alias": "live",
            "strategy": "AllAtOnce",
            "hooks": {"pre_traffic": "orders-api-pre"},
            "check_interval_seconds": 30,
        }
    )

    assert request_to_dict(request) == {
        **MINIMAL,
        "alarms": [],
        "hooks": {"preTraffic": "orders-api-pre"},
        "checkIntervalSeconds": 30,
    }


def test_the_model_itself_parses_the_strategy() -> None:
    request = RolloutRequest.model_validate(with_(strategy="Linear10PercentEvery1Minute"))

    assert len(request.steps) == 9
    with pytest.raises(pydantic.ValidationError, match="strategy: unknown strategy Foo"):
        RolloutRequest.model_validate(with_(strategy="Foo"))


def test_default_interval_is_widened_to_fit_the_history_budget() -> None:
    request = parse_request(with_(strategy="Linear1PercentEvery120Minutes"))

    assert request.resolved_check_interval_seconds == 515


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        pytest.param({"functionName": ARN}, "function_name", ARN, id="function-arn"),
        pytest.param(
            {"functionName": "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f"},
            "function_name",
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f",
            id="function-arn-govcloud",
        ),
        pytest.param(
            {"functionName": "arn:aws-cn:lambda:cn-north-1:123456789012:function:f_1"},
            "function_name",
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:f_1",
            id="function-arn-china",
        ),
        pytest.param({"functionName": "a" * 64}, "function_name", "a" * 64, id="name-64-chars"),
        pytest.param({"alias": "a" * 128}, "alias", "a" * 128, id="alias-128-chars"),
        pytest.param({"alias": "v2"}, "alias", "v2", id="alias-with-digits"),
        pytest.param({"alias": "7a"}, "alias", "7a", id="alias-starting-with-digit"),
        pytest.param({"version": 7}, "version", "7", id="version-int"),
        pytest.param({"version": "12"}, "version", "12", id="version-string"),
        pytest.param({"version": None}, "version", None, id="version-null"),
        pytest.param({"alarms": []}, "alarms", (), id="no-alarms"),
        pytest.param({"alarms": None}, "alarms", (), id="alarms-null"),
        pytest.param(
            {"alarms": [f"a{i}" for i in range(25)]},
            "alarms",
            tuple(f"a{i}" for i in range(25)),
            id="25-alarms",
        ),
        pytest.param({"alarms": ["x" * 255]}, "alarms", ("x" * 255,), id="alarm-255-chars"),
        pytest.param({"hooks": None}, "hooks", None, id="hooks-null"),
        pytest.param({"hooks": {}}, "hooks", hooks(), id="hooks-empty"),
        pytest.param(
            {"hooks": {"preTraffic": "pre:live", "postTraffic": f"{ARN}-post:3"}},
            "hooks",
            hooks(preTraffic="pre:live", postTraffic=f"{ARN}-post:3"),
            id="hooks-qualified",
        ),
        pytest.param(
            {"hooks": {"postTraffic": "post:$LATEST"}},
            "hooks",
            hooks(postTraffic="post:$LATEST"),
            id="hook-latest",
        ),
        pytest.param({"checkIntervalSeconds": 1}, "check_interval_seconds", 1, id="interval-1"),
        pytest.param(
            {"checkIntervalSeconds": 3600}, "check_interval_seconds", 3600, id="interval-3600"
        ),
        pytest.param(
            {"strategy": {"steps": [{"weight": 5, "bakeSeconds": 300}]}},
            "steps",
            (Step(5, 300),),
            id="explicit-steps",
        ),
    ],
)
def test_valid_fields(changes: dict[str, Any], field: str, value: object) -> None:
    assert getattr(parse_request(with_(**changes)), field) == value


def refused(payload: object) -> tuple[tuple[str, str], ...]:
    with pytest.raises(ValidationError) as caught:
        parse_request(payload)
    return caught.value.errors


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        pytest.param(None, [("input", f"must be a JSON object with {FIELDS}")], id="payload-null"),
        pytest.param(
            ["orders-api"], [("input", f"must be a JSON object with {FIELDS}")], id="payload-list"
        ),
        pytest.param(
            {},
            [("functionName", "required"), ("alias", "required"), ("strategy", "required")],
            id="empty-object",
        ),
        pytest.param(
            with_(foo=1),
            [("foo", f"unknown field; accepted: {FIELDS}")],
            id="unknown-field",
        ),
        pytest.param(
            with_(FunctionName="x"),
            [("FunctionName", f"unknown field; accepted: {FIELDS}")],
            id="wrong-case-field",
        ),
    ],
)
def test_refused_payloads(payload: object, errors: list[tuple[str, str]]) -> None:
    assert refused(payload) == tuple(errors)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param({"functionName": ""}, "functionName", f"must be {FUNCTION_FORMS}, not \"\"",
                     id="function-empty"),
        pytest.param({"functionName": 7}, "functionName", f"must be {FUNCTION_FORMS}, not 7",
                     id="function-int"),
        pytest.param({"functionName": "a" * 65}, "functionName",
                     f"must be {FUNCTION_FORMS}, not \"{'a' * 40}…\"", id="function-too-long"),
        pytest.param({"functionName": "orders api"}, "functionName",
                     f"must be {FUNCTION_FORMS}, not \"orders api\"", id="function-space"),
        pytest.param({"functionName": "orders-api:7"}, "functionName",
                     "must not include a qualifier (\":7\"); give the version in version instead",
                     id="function-name-qualified"),
        pytest.param({"functionName": f"{ARN}:live"}, "functionName",
                     "must not include a qualifier (\":live\"); give the version in version "
                     "instead", id="function-arn-qualified"),
        pytest.param({"functionName": "arn:aws:lambda:eu-west-1:1234:function:f"},
                     "functionName",
                     f"must be {FUNCTION_FORMS}, not \"arn:aws:lambda:eu-west-1:1234:function:f\"",
                     id="function-arn-short-account"),
        pytest.param({"functionName": "arn:aws:s3:::bucket"}, "functionName",
                     f"must be {FUNCTION_FORMS}, not \"arn:aws:s3:::bucket\"",
                     id="function-arn-not-lambda"),
        pytest.param({"alias": ""}, "alias", f"{ALIAS_RULE} \"\"", id="alias-empty"),
        pytest.param({"alias": "7"}, "alias", f"{ALIAS_RULE} \"7\"", id="alias-only-digits"),
        pytest.param({"alias": "a" * 129}, "alias", f"{ALIAS_RULE} \"{'a' * 40}…\"",
                     id="alias-too-long"),
        pytest.param({"alias": "live!"}, "alias", f"{ALIAS_RULE} \"live!\"", id="alias-bad-char"),
        pytest.param({"alias": "$LATEST"}, "alias", f"{ALIAS_RULE} \"$LATEST\"",
                     id="alias-latest"),
        pytest.param({"alias": None}, "alias", f"{ALIAS_RULE} null", id="alias-null"),
        pytest.param({"version": "$LATEST"}, "version", "omit version to publish $LATEST",
                     id="version-latest"),
        pytest.param({"version": "0"}, "version", f"{VERSION_RULE} \"0\"", id="version-zero"),
        pytest.param({"version": 0}, "version", f"{VERSION_RULE} 0", id="version-int-zero"),
        pytest.param({"version": -1}, "version", f"{VERSION_RULE} -1", id="version-negative"),
        pytest.param({"version": "07"}, "version", f"{VERSION_RULE} \"07\"",
                     id="version-leading-zero"),
        pytest.param({"version": "v7"}, "version", f"{VERSION_RULE} \"v7\"", id="version-text"),
        pytest.param({"version": 7.0}, "version", f"{VERSION_RULE} 7.0", id="version-float"),
        pytest.param({"version": True}, "version", f"{VERSION_RULE} a boolean",
                     id="version-bool"),
        pytest.param({"strategy": "Foo"}, "strategy",
                     f"unknown strategy Foo; {NAME_FORMS}", id="strategy-unknown"),
        pytest.param({"strategy": None}, "strategy",
                     f"must be a strategy name or an object with steps, not null; "
                     f"{ACCEPTED_FORMS}", id="strategy-null"),
        pytest.param({"strategy": {"steps": []}}, "strategy.steps",
                     'must be a non-empty list like [{"weight": 5, "bakeSeconds": 300}]',
                     id="strategy-no-steps"),
        pytest.param({"alarms": "orders-api-errors"}, "alarms",
                     "must be a list of CloudWatch alarm names, not \"orders-api-errors\"",
                     id="alarms-string"),
        pytest.param({"alarms": [f"a{i}" for i in range(26)]}, "alarms",
                     "at most 25 alarms, not 26", id="alarms-26"),
        pytest.param({"alarms": [""]}, "alarms[0]", "must be a non-empty alarm name, not \"\"",
                     id="alarm-empty"),
        pytest.param({"alarms": ["  "]}, "alarms[0]", "must be a non-empty alarm name, not \"  \"",
                     id="alarm-blank"),
        pytest.param({"alarms": [7]}, "alarms[0]", "must be a non-empty alarm name, not 7",
                     id="alarm-int"),
        pytest.param({"alarms": ["x" * 256]}, "alarms[0]", "must be at most 255 characters",
                     id="alarm-too-long"),
        pytest.param({"alarms": ["a", "b", "a"]}, "alarms[2]", "duplicate of alarms[0] (\"a\")",
                     id="alarm-duplicate"),
        pytest.param({"hooks": "pre"}, "hooks",
                     "must be a JSON object with preTraffic, postTraffic", id="hooks-string"),
        pytest.param({"hooks": {"preTraffic": ""}}, "hooks.preTraffic", f"{HOOK_RULE} \"\"",
                     id="hook-pre-empty"),
        pytest.param({"hooks": {"postTraffic": 3}}, "hooks.postTraffic", f"{HOOK_RULE} 3",
                     id="hook-post-int"),
        pytest.param({"hooks": {"preTraffic": "pre:"}}, "hooks.preTraffic", f"{HOOK_RULE} \"pre:\"",
                     id="hook-empty-qualifier"),
        pytest.param({"hooks": {"pre": "pre"}}, "hooks.pre",
                     "unknown field; accepted: preTraffic, postTraffic", id="hook-unknown"),
        pytest.param({"checkIntervalSeconds": 0}, "checkIntervalSeconds", f"{INTERVAL_RULE} 0",
                     id="interval-0"),
        pytest.param({"checkIntervalSeconds": 3601}, "checkIntervalSeconds",
                     f"{INTERVAL_RULE} 3601", id="interval-3601"),
        pytest.param({"checkIntervalSeconds": True}, "checkIntervalSeconds",
                     f"{INTERVAL_RULE} a boolean", id="interval-bool"),
        pytest.param({"checkIntervalSeconds": "60"}, "checkIntervalSeconds",
                     f"{INTERVAL_RULE} \"60\"", id="interval-string"),
        pytest.param({"checkIntervalSeconds": 60.0}, "checkIntervalSeconds",
                     f"{INTERVAL_RULE} 60.0", id="interval-float"),
        pytest.param({"strategy": "Linear1PercentEvery1Minute", "checkIntervalSeconds": 1},
                     "checkIntervalSeconds",
                     "checking every 1 s would need about 77,973 history events, over the "
                     "20,000 allowed (Step Functions' limit of 25,000, less 20% kept for "
                     "retries); use at least 5 seconds", id="interval-over-history-budget"),
    ],
)  # fmt: skip
def test_bad_fields(changes: dict[str, Any], field: str, message: str) -> None:
    assert refused(with_(**changes)) == ((field, message),)


def test_every_bad_field_is_listed_once() -> None:
    errors = refused(
        {
            "functionName": "orders-api:7",
            "alias": "1",
            "version": "$LATEST",
            "strategy": {
                "steps": [{"weight": 50, "bakeSeconds": 1}, {"weight": 40, "bakeSeconds": -1}]
            },
            "alarms": ["a", ""],
            "hooks": {"preTraffic": 3, "foo": 1},
            "checkIntervalSeconds": 0,
            "foo": 1,
        }
    )

    assert [field for field, _ in errors] == [
        "functionName",
        "alias",
        "version",
        "strategy.steps[1].weight",
        "strategy.steps[1].bakeSeconds",
        "alarms[1]",
        "hooks.preTraffic",
        "hooks.foo",
        "checkIntervalSeconds",
        "foo",
    ]
    assert not any("pydantic" in message or "http" in message for _, message in errors)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(FULL, id="full"),
        pytest.param(MINIMAL | {"alarms": []}, id="minimal"),
        pytest.param(
            MINIMAL
            | {
                "alarms": [],
                "version": "3",
                "strategy": {"steps": [{"weight": 5, "bakeSeconds": 0}]},
                "hooks": {"postTraffic": ARN},
            },
            id="explicit-steps",
        ),
    ],
)
def test_request_to_dict_round_trips(payload: dict[str, Any]) -> None:
    request = parse_request(payload)

    assert request_to_dict(request) == payload
    assert parse_request(request_to_dict(request)) == request


# -- codeSha256 -------------------------------------------------------------------------
SHA = "3Uq0pK8yZr3nW1v9mX2cT7bE6hJ4sL5dA0fG8kQ1wYo="  # the CloudTrail sample's CodeSha256
SHA_RULE = (
    "must be the code's SHA-256 as Lambda reports it in CodeSha256 "
    "(base64 of 32 bytes: 44 characters ending in =), not"
)


def test_code_sha256_pins_the_code_to_publish() -> None:
    request = parse_request(with_(codeSha256=SHA))

    assert (request.code_sha256, request.version) == (SHA, None)
    assert request_to_dict(request) == {**MINIMAL, "alarms": [], "codeSha256": SHA}
    assert parse_request(request_to_dict(request)) == request


def test_code_sha256_is_optional() -> None:
    assert parse_request(MINIMAL).code_sha256 is None
    assert "codeSha256" not in request_to_dict(parse_request(MINIMAL))


def quoted(text: str) -> str:
    """A value as a message shows it: a JSON string (these need no escaping)."""
    return f'"{text}"'


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(SHA[:-1], quoted(SHA[:-1]), id="no-padding"),
        pytest.param(SHA[:-2] + "==", quoted(SHA[:-2] + "=="), id="31-bytes"),
        pytest.param("A" * 43 + "=" + "AAAA", quoted("A" * 43 + "=AAAA"), id="too-long"),
        pytest.param(SHA.replace("+", "-").replace("3", "_"), quoted(SHA.replace("3", "_")),
                     id="url-safe-alphabet"),
        pytest.param(SHA[:-2] + "p=", quoted(SHA[:-2] + "p="), id="not-canonical"),
        pytest.param(" " + SHA[1:], quoted(" " + SHA[1:]), id="space"),
        pytest.param("", '""', id="empty"),
        pytest.param(32, "32", id="number"),
        pytest.param([SHA], "a list", id="list"),
        pytest.param("a" * 100_000, quoted("a" * 64 + "…"), id="100-kb"),  # a digest and more
    ],
)  # fmt: skip
def test_a_bad_code_sha256_is_refused_naming_it(value: object, shown: str) -> None:
    assert refused(with_(codeSha256=value)) == (("codeSha256", f"{SHA_RULE} {shown}"),)


def test_code_sha256_with_a_version_is_refused_naming_code_sha256() -> None:
    assert refused(with_(version="7", codeSha256=SHA)) == (
        (
            "codeSha256",
            "applies only when publishing $LATEST: give version or codeSha256, not both",
        ),
    )


# -- any input is refused briefly ------------------------------------------------------
HUGE = "z" * 100_000


def refusal(payload: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse_request(payload)
    assert len(str(caught.value)) <= 4_000
    return caught.value


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"functionName": HUGE}, "functionName", id="functionName"),
        pytest.param({"alias": HUGE}, "alias", id="alias"),
        pytest.param({"version": HUGE}, "version", id="version"),
        pytest.param({"codeSha256": HUGE}, "codeSha256", id="codeSha256"),
        pytest.param({"strategy": HUGE}, "strategy", id="strategy"),
        pytest.param({"alarms": [HUGE]}, "alarms[0]", id="alarm"),
        pytest.param({"hooks": {"preTraffic": HUGE}}, "hooks.preTraffic", id="hook"),
        pytest.param({"checkIntervalSeconds": HUGE}, "checkIntervalSeconds", id="interval"),
        pytest.param({"strategy": {"steps": [{"weight": HUGE, "bakeSeconds": 1}]}},
                     "strategy.steps[0].weight", id="step-weight"),
        pytest.param({"strategy": {"steps": [{"weight": 5, "bakeSeconds": HUGE}]}},
                     "strategy.steps[0].bakeSeconds", id="step-bake"),
    ],
)  # fmt: skip
def test_a_100_kb_string_in_any_field_is_quoted_by_its_first_40_characters(
    changes: dict[str, Any], field: str
) -> None:
    error = refusal(with_(**changes))
    shown = 64 if field == "codeSha256" else 40  # a digest is quoted whole, and a little more

    assert error.field == field
    assert len(str(error)) < 1_000
    assert "z" * (shown + 1) not in str(error)
    if field != "alarms[0]":  # an over-long alarm name is refused by its length alone
        # Quoted as JSON or as the other fields quote (either way: its first characters only).
        assert any(f"{q}{'z' * shown}…{q}" in error.message for q in "'\"")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(with_(**{HUGE: 1}), "z" * 40 + "…", id="unknown-key"),
        pytest.param(with_(hooks={HUGE: "pre"}), "hooks." + "z" * 40 + "…", id="hook-key"),
        pytest.param(with_(strategy={HUGE: 1}), "strategy." + "z" * 40 + "…",
                     id="strategy-key"),
        pytest.param(with_(strategy={"steps": [{"weight": 5, "bakeSeconds": 1, HUGE: 1}]}),
                     "strategy.steps[0]." + "z" * 40 + "…", id="step-key"),
    ],
)  # fmt: skip
def test_a_100_kb_key_is_named_by_its_first_40_characters(payload: object, field: str) -> None:
    assert refusal(payload).field == field


def test_ten_thousand_unknown_keys_name_ten_and_count_the_rest() -> None:
    error = refusal(with_(**{f"extra{i}": i for i in range(10_000)}))

    assert [field for field, _ in error.errors] == [f"extra{i}" for i in range(len(error.errors))]
    assert error.omitted == 10_000 - len(error.errors)
    assert str(error).endswith(f"…and {error.omitted:,} more")


def test_ten_thousand_bad_steps_are_counted_not_listed() -> None:
    error = refusal(with_(strategy={"steps": [{"weight": 0, "bakeSeconds": -1}] * 10_000}))

    assert error.field == "strategy.steps[0].weight"
    assert error.omitted == 20_000 - len(error.errors)


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value, {"a": value}]  # shared, so cheap to build
    return value


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"functionName": nested(10_000)}, "functionName", id="functionName"),
        pytest.param({"strategy": nested(10_000)}, "strategy", id="strategy"),
        pytest.param({"strategy": {"steps": nested(10_000)}}, "strategy.steps[0]", id="steps"),
        pytest.param({"alarms": nested(10_000)}, "alarms[0]", id="alarms"),
        pytest.param({"hooks": nested(10_000)}, "hooks", id="hooks"),
        pytest.param({"hooks": {"preTraffic": nested(10_000)}}, "hooks.preTraffic", id="hook"),
        pytest.param({"deep": nested(10_000)}, "deep", id="unknown-field"),
    ],
)
def test_deep_nesting_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    assert refusal(with_(**changes)).field == field


def test_a_deeply_nested_payload_is_refused() -> None:
    assert refusal(nested(10_000)).field == "input"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"version": 10**5000}, "version", id="version"),
        pytest.param({"version": "1" * 20}, "version", id="version-20-digits"),
        pytest.param({"checkIntervalSeconds": -(10**5000)}, "checkIntervalSeconds",
                     id="interval"),
        pytest.param({"strategy": {"steps": [{"weight": 10**5000, "bakeSeconds": 1}]}},
                     "strategy", id="weight-over-4300-digits"),
        pytest.param({"strategy": {"steps": [{"weight": 5, "bakeSeconds": 10**4000}]}},
                     "strategy", id="bake-of-4000-digits"),
        pytest.param({"strategy": "Canary10Percent" + "9" * 4_000 + "Minutes"}, "strategy",
                     id="strategy-name-of-4000-digits"),
    ],
)  # fmt: skip
def test_huge_numbers_are_refused_without_printing_them(
    changes: dict[str, Any], field: str
) -> None:
    error = refusal(with_(**changes))

    assert error.field == field
    assert "9" * 31 not in str(error) and "0" * 31 not in str(error)
    assert len(str(error)) < 1_000


def test_a_version_of_19_digits_is_still_a_version() -> None:
    assert parse_request(with_(version="9" * 19)).version == "9" * 19


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(with_(**{"": 1}), '[""]', id="empty-key"),
        pytest.param(with_(**{"a.b": 1}), '["a.b"]', id="dotted-key"),
        pytest.param(with_(hooks={"pre traffic": "x"}), 'hooks["pre traffic"]', id="spaced-key"),
    ],
)
def test_a_key_that_a_path_cannot_show_plainly_is_quoted(payload: object, field: str) -> None:
    assert refusal(payload).field == field
