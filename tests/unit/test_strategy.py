from typing import Any

import pytest

from rollouts.errors import ValidationError
from rollouts.strategy import (
    ACCEPTED_FORMS,
    CODEDEPLOY_NAMES,
    NAME_FORMS,
    Step,
    Strategy,
    StrategyKind,
    parse_strategy,
)

CANARY = StrategyKind.CANARY
LINEAR = StrategyKind.LINEAR

CODEDEPLOY = [
    ("Canary10Percent5Minutes", Strategy(CANARY, "Canary10Percent5Minutes", 10, 5)),
    ("Canary10Percent10Minutes", Strategy(CANARY, "Canary10Percent10Minutes", 10, 10)),
    ("Canary10Percent15Minutes", Strategy(CANARY, "Canary10Percent15Minutes", 10, 15)),
    ("Canary10Percent30Minutes", Strategy(CANARY, "Canary10Percent30Minutes", 10, 30)),
    ("Linear10PercentEvery1Minute", Strategy(LINEAR, "Linear10PercentEvery1Minute", 10, 1)),
    ("Linear10PercentEvery2Minutes", Strategy(LINEAR, "Linear10PercentEvery2Minutes", 10, 2)),
    ("Linear10PercentEvery3Minutes", Strategy(LINEAR, "Linear10PercentEvery3Minutes", 10, 3)),
    ("Linear10PercentEvery10Minutes", Strategy(LINEAR, "Linear10PercentEvery10Minutes", 10, 10)),
    ("AllAtOnce", Strategy(StrategyKind.ALL_AT_ONCE, "AllAtOnce")),
]


def test_the_table_covers_every_codedeploy_name() -> None:
    assert tuple(name for name, _ in CODEDEPLOY) == CODEDEPLOY_NAMES


@pytest.mark.parametrize(
    ("value", "expected"),
    [pytest.param(name, strategy, id=name) for name, strategy in CODEDEPLOY]
    + [
        pytest.param(f"CodeDeployDefault.Lambda{name}", strategy, id=f"prefixed-{name}")
        for name, strategy in CODEDEPLOY
    ],
)
def test_codedeploy_names(value: str, expected: Strategy) -> None:
    assert parse_strategy(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Canary5Percent1Minute", Strategy(CANARY, "Canary5Percent1Minute", 5, 1),
                     id="canary-singular"),
        pytest.param("Canary1Percent120Minutes",
                     Strategy(CANARY, "Canary1Percent120Minutes", 1, 120), id="canary-plural"),
        pytest.param("Canary99Percent2880Minutes",
                     Strategy(CANARY, "Canary99Percent2880Minutes", 99, 2880), id="canary-99"),
        pytest.param("Linear1PercentEvery1Minute",
                     Strategy(LINEAR, "Linear1PercentEvery1Minute", 1, 1), id="linear-1"),
        pytest.param("Linear30PercentEvery5Minutes",
                     Strategy(LINEAR, "Linear30PercentEvery5Minutes", 30, 5), id="linear-30"),
        pytest.param("CodeDeployDefault.LambdaLinear25PercentEvery1Minute",
                     Strategy(LINEAR, "Linear25PercentEvery1Minute", 25, 1),
                     id="linear-custom-prefixed"),
    ],
)  # fmt: skip
def test_custom_names(value: str, expected: Strategy) -> None:
    assert parse_strategy(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            {"steps": [{"weight": 5, "bakeSeconds": 300}, {"weight": 50, "bakeSeconds": 600}]},
            Strategy(
                StrategyKind.STEPS,
                "Custom(5%/300s, 50%/600s)",
                steps=(Step(5, 300), Step(50, 600)),
            ),
            id="two-steps",
        ),
        pytest.param(
            {"steps": [{"bakeSeconds": 0, "weight": 99}]},
            Strategy(StrategyKind.STEPS, "Custom(99%/0s)", steps=(Step(99, 0),)),
            id="one-step-no-bake",
        ),
        pytest.param(
            {"steps": ({"weight": 1, "bakeSeconds": 1}, {"weight": 2, "bakeSeconds": 2})},
            Strategy(StrategyKind.STEPS, "Custom(1%/1s, 2%/2s)", steps=(Step(1, 1), Step(2, 2))),
            id="tuple-of-steps",
        ),
    ],
)
def test_explicit_steps(value: object, expected: Strategy) -> None:
    assert parse_strategy(value) == expected


def test_a_parsed_strategy_passes_through() -> None:
    strategy = parse_strategy("AllAtOnce")

    assert parse_strategy(strategy) is strategy


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Canary10Percent5Minutes", "Canary10Percent5Minutes", id="name"),
        pytest.param("CodeDeployDefault.LambdaAllAtOnce", "AllAtOnce", id="prefix-dropped"),
        pytest.param(
            {"steps": [{"weight": 5, "bakeSeconds": 300}]},
            {"steps": [{"weight": 5, "bakeSeconds": 300}]},
            id="steps",
        ),
    ],
)
def test_as_input_round_trips(value: object, expected: object) -> None:
    strategy = parse_strategy(value)

    assert strategy.as_input() == expected
    assert parse_strategy(strategy.as_input()) == strategy


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Foo", id="unknown"),
        pytest.param("", id="empty"),
        pytest.param("canary10Percent5Minutes", id="lower-case"),
        pytest.param("CodeDeployDefault.Lambda", id="prefix-only"),
        pytest.param("CodeDeployDefault.LambdaFoo", id="prefix-unknown"),
        pytest.param("CodeDeployDefault.Canary10Percent5Minutes", id="wrong-prefix"),
        pytest.param(" Canary10Percent5Minutes", id="leading-space"),
        pytest.param("Canary0Percent5Minutes", id="canary-0-percent"),
        pytest.param("Canary100Percent5Minutes", id="canary-100-percent"),
        pytest.param("Canary010Percent5Minutes", id="canary-leading-zero"),
        pytest.param("Canary10Percent0Minutes", id="canary-0-minutes"),
        pytest.param("Canary10Percent05Minutes", id="canary-minutes-leading-zero"),
        pytest.param("Canary10Percent5", id="canary-no-unit"),
        pytest.param("Canary10Percent5Seconds", id="canary-seconds"),
        pytest.param("Linear0PercentEvery1Minute", id="linear-0-percent"),
        pytest.param("Linear100PercentEvery1Minute", id="linear-100-percent"),
        pytest.param("Linear10PercentEvery0Minutes", id="linear-0-minutes"),
        pytest.param("Linear10Percent1Minute", id="linear-without-every"),
        pytest.param("Linear-10PercentEvery1Minute", id="linear-negative"),
        pytest.param("AllAtOnceMinutes", id="all-at-once-suffix"),
    ],
)
def test_unknown_names_are_refused(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_strategy(value)

    ((field, message),) = caught.value.errors
    assert field == "strategy"
    assert message.startswith("unknown strategy ")
    assert message.endswith(NAME_FORMS)
    assert "'" not in message.removesuffix(NAME_FORMS)  # no Python repr of the name


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "Canary10Percent5Minute",
            "unknown strategy Canary10Percent5Minute; did you mean Canary10Percent5Minutes?",
            id="singular-for-many",
        ),
        pytest.param(
            "canary10percent5minutes",
            "unknown strategy canary10percent5minutes; did you mean Canary10Percent5Minutes?",
            id="lower-case",
        ),
        pytest.param(
            "Linear10PercentEvery10Minute",
            "unknown strategy Linear10PercentEvery10Minute; "
            "did you mean Linear10PercentEvery10Minutes?",
            id="linear-singular-for-many",
        ),
        pytest.param(
            "Linear10PercentEvery1Minutes",
            "unknown strategy Linear10PercentEvery1Minutes; "
            "did you mean Linear10PercentEvery1Minute?",
            id="plural-for-one",
        ),
        pytest.param(
            "Canary5Percent2Minute",
            "unknown strategy Canary5Percent2Minute; did you mean Canary5Percent2Minutes?",
            id="custom-singular-for-many",
        ),
        pytest.param(
            "Canary10Percent5Minuts",
            "unknown strategy Canary10Percent5Minuts; did you mean Canary10Percent5Minutes?",
            id="typo",
        ),
        pytest.param("allatonce", "unknown strategy allatonce; did you mean AllAtOnce?",
                     id="all-at-once-lower-case"),
        pytest.param(
            " Canary10Percent5Minutes",
            'unknown strategy " Canary10Percent5Minutes"; did you mean Canary10Percent5Minutes?',
            id="spaces-shown",
        ),
        pytest.param(
            "CodeDeployDefault.Canary10Percent5Minutes",
            "unknown strategy CodeDeployDefault.Canary10Percent5Minutes; "
            "did you mean Canary10Percent5Minutes?",
            id="wrong-prefix",
        ),
        pytest.param("Canary010Percent5Minutes",
                     "unknown strategy Canary010Percent5Minutes; "
                     "did you mean Canary10Percent5Minutes?", id="leading-zero"),
        pytest.param("Foo", "unknown strategy Foo;", id="nothing-close"),
        pytest.param("", "unknown strategy (an empty name);", id="empty"),
    ],
)  # fmt: skip
def test_a_mistyped_name_gets_the_name_it_probably_meant(value: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_strategy(value)

    assert caught.value.field == "strategy"
    assert caught.value.message == f"{message} {NAME_FORMS}"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(None, "null", id="null"),
        pytest.param(10, "10", id="number"),
        pytest.param(True, "a boolean", id="boolean"),
        pytest.param(["Canary10Percent5Minutes"], "a list", id="list"),
    ],
)
def test_wrong_types_are_refused(value: object, shown: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_strategy(value)

    assert caught.value.errors == (
        (
            "strategy",
            f"must be a strategy name or an object with steps, not {shown}; {ACCEPTED_FORMS}",
        ),
    )


STEPS_LIST = 'must be a non-empty list like [{"weight": 5, "bakeSeconds": 300}]'
WEIGHT = "must be an integer between 1 and 99, not"
BAKE = "must be an integer of 0 or more, not"


def step(weight: Any = 10, bake: Any = 60) -> dict[str, Any]:
    return {"weight": weight, "bakeSeconds": bake}


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        pytest.param({}, [("strategy.steps", f"required; {ACCEPTED_FORMS}")], id="no-steps-key"),
        pytest.param(
            {"steps": [step()], "name": "x"},
            [("strategy.name", "unknown field; an explicit strategy accepts only steps")],
            id="extra-key",
        ),
        pytest.param({"steps": []}, [("strategy.steps", STEPS_LIST)], id="empty-list"),
        pytest.param({"steps": None}, [("strategy.steps", STEPS_LIST)], id="null-steps"),
        pytest.param({"steps": step()}, [("strategy.steps", STEPS_LIST)], id="steps-not-a-list"),
        pytest.param(
            {"steps": [10]},
            [
                (
                    "strategy.steps[0]",
                    'must be an object like {"weight": 5, "bakeSeconds": 300}, not 10',
                )
            ],
            id="step-not-an-object",
        ),
        pytest.param(
            {"steps": [{"bakeSeconds": 60}]},
            [("strategy.steps[0].weight", "required")],
            id="weight-missing",
        ),
        pytest.param(
            {"steps": [{"weight": 10}]},
            [("strategy.steps[0].bakeSeconds", "required")],
            id="bake-missing",
        ),
        pytest.param(
            {"steps": [{**step(), "bake": 1}]},
            [("strategy.steps[0].bake", "unknown field; accepted: weight, bakeSeconds, or pause")],
            id="step-extra-key",
        ),
        pytest.param(
            {"steps": [step(weight=0)]},
            [("strategy.steps[0].weight", f"{WEIGHT} 0")],
            id="weight-0",
        ),
        pytest.param(
            {"steps": [step(weight=100)]},
            [("strategy.steps[0].weight", f"{WEIGHT} 100 (100% is the promotion, not a step)")],
            id="weight-100",
        ),
        pytest.param(
            {"steps": [step(weight=-5)]},
            [("strategy.steps[0].weight", f"{WEIGHT} -5")],
            id="weight-negative",
        ),
        pytest.param(
            {"steps": [step(weight=10.0)]},
            [("strategy.steps[0].weight", f"{WEIGHT} 10.0")],
            id="weight-float",
        ),
        pytest.param(
            {"steps": [step(weight="10")]},
            [("strategy.steps[0].weight", f'{WEIGHT} the string "10"')],
            id="weight-string",
        ),
        pytest.param(
            {"steps": [step(weight=True)]},
            [("strategy.steps[0].weight", f"{WEIGHT} a boolean")],
            id="weight-bool",
        ),
        pytest.param(
            {"steps": [step(bake=-1)]},
            [("strategy.steps[0].bakeSeconds", f"{BAKE} -1")],
            id="bake-negative",
        ),
        pytest.param(
            {"steps": [step(bake=False)]},
            [("strategy.steps[0].bakeSeconds", f"{BAKE} a boolean")],
            id="bake-bool",
        ),
        pytest.param(
            {"steps": [step(bake=None)]},
            [("strategy.steps[0].bakeSeconds", f"{BAKE} null")],
            id="bake-null",
        ),
        pytest.param(
            {"steps": [step(weight=20), step(weight=20)]},
            [
                (
                    "strategy.steps[1].weight",
                    "must be greater than the previous step's 20; weights increase strictly",
                )
            ],
            id="weights-equal",
        ),
        pytest.param(
            {"steps": [step(weight=5), step(weight=50), step(weight=30)]},
            [
                (
                    "strategy.steps[2].weight",
                    "must be greater than the previous step's 50; weights increase strictly",
                )
            ],
            id="weights-decrease",
        ),
        pytest.param(
            {"steps": [step(weight=0, bake=-1), step(weight=True), "x"]},
            [
                ("strategy.steps[0].weight", f"{WEIGHT} 0"),
                ("strategy.steps[0].bakeSeconds", f"{BAKE} -1"),
                ("strategy.steps[1].weight", f"{WEIGHT} a boolean"),
                (
                    "strategy.steps[2]",
                    'must be an object like {"weight": 5, "bakeSeconds": 300}, not the string "x"',
                ),
            ],
            id="every-bad-step-listed",
        ),
    ],
)
def test_bad_explicit_steps_are_refused(value: object, errors: list[tuple[str, str]]) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_strategy(value)

    assert caught.value.errors == tuple(errors)
