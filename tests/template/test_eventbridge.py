"""The EventBridge side of the stack, on the CloudFormation SAM makes of it.

Each rule's event pattern, as translated, is matched by moto's EventBridge
pattern engine against the samples in events/eventbridge/: what should start a
rollout does, and nothing else does. The status samples are checked against
the schema ``rollouts.notify`` emits, and against a rule a team would write.
The dashboard shows the metrics the task functions emit.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from rollouts.notify import REQUEST_DETAIL_TYPE, SOURCE, STATUS_DETAIL_TYPE, Phase, status_detail

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "eventbridge"
Template = dict[str, Any]

STATUS_SAMPLES = {f"status-{phase.value}.json": phase for phase in Phase}
START_FUNCTION = {"Fn::GetAtt": ["StartRolloutFunction", "Arn"]}
DASHBOARD_METRICS = {
    "RolloutsStarted",
    "RolloutsSucceeded",
    "RolloutsRolledBack",
    "RolloutDuration",
}


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


def every_sample() -> list[str]:
    return sorted(p.name for p in SAMPLES.glob("*.json"))


def rule_of(template: Template, event_name: str) -> dict[str, Any]:
    """The rule SAM made of StartRolloutFunction's event ``event_name``."""
    rule: dict[str, Any] = template["Resources"][f"StartRolloutFunction{event_name}"]
    assert rule["Type"] == "AWS::Events::Rule"
    properties: dict[str, Any] = rule["Properties"]
    return properties


@pytest.fixture(scope="module")
def requested(cfn_template: Template) -> EventPattern:
    return EventPattern.load(json.dumps(rule_of(cfn_template, "RolloutRequested")["EventPattern"]))


SAMPLE_ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def code_updated(cfn_template: Template) -> EventPattern:
    """The rule's pattern as deployed in the samples' account."""
    pattern = copy.deepcopy(rule_of(cfn_template, "FunctionCodeUpdated")["EventPattern"])
    assert pattern["account"] == [{"Ref": "AWS::AccountId"}]
    pattern["account"] = [SAMPLE_ACCOUNT]
    return EventPattern.load(json.dumps(pattern))


def matching(pattern: EventPattern) -> list[str]:
    return [name for name in every_sample() if pattern.matches_event(sample(name))]


# -- the rules that start rollouts ---------------------------------------------------
def test_the_requested_rule_matches_only_the_rollout_requested_sample(
    requested: EventPattern,
) -> None:
    assert matching(requested) == ["rollout-requested.json"]


def test_the_code_update_rule_matches_only_a_successful_update_function_code(
    code_updated: EventPattern,
) -> None:
    # Not PublishVersion, not a failed UpdateFunctionCode, not status or custom events.
    assert matching(code_updated) == ["cloudtrail-update-function-code.json"]


@pytest.mark.parametrize(
    ("event_name", "matches"),
    [
        pytest.param("UpdateFunctionCode20150331v2", True, id="current-api-version"),
        pytest.param("UpdateFunctionCode", True, id="unversioned"),
        pytest.param("UpdateFunctionConfiguration20150331v2", False, id="configuration"),
        pytest.param("PublishVersion20150331", False, id="publish-version"),
        pytest.param("CreateFunction20150331", False, id="create-function"),
    ],
)
def test_the_code_update_rule_matches_update_function_code_by_prefix(
    code_updated: EventPattern, event_name: str, matches: bool
) -> None:
    event = copy.deepcopy(sample("cloudtrail-update-function-code.json"))
    event["detail"]["eventName"] = event_name

    assert code_updated.matches_event(event) is matches


def test_the_code_update_rule_ignores_another_accounts_calls(code_updated: EventPattern) -> None:
    """A CloudTrail event forwarded from another account's bus names a function not ours."""
    event = copy.deepcopy(sample("cloudtrail-update-function-code.json"))
    assert code_updated.matches_event(event)
    event["account"] = "444455556666"

    assert not code_updated.matches_event(event)


def test_the_code_update_rule_ignores_other_services(code_updated: EventPattern) -> None:
    event = copy.deepcopy(sample("cloudtrail-update-function-code.json"))
    event["detail"]["eventSource"] = "s3.amazonaws.com"

    assert not code_updated.matches_event(event)


@pytest.mark.parametrize("event_name", ["RolloutRequested", "FunctionCodeUpdated"])
def test_each_rule_targets_the_start_function_with_a_dead_letter_queue(
    cfn_template: Template, event_name: str
) -> None:
    rule = rule_of(cfn_template, event_name)
    (target,) = rule["Targets"]
    dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]

    assert target["Arn"] == START_FUNCTION
    assert "Input" not in target and "InputPath" not in target  # the whole event
    assert cfn_template["Resources"][dlq]["Type"] == "AWS::SQS::Queue"


# -- who may start a rollout by event ------------------------------------------------
def test_rollout_requests_are_heard_on_the_stacks_request_bus_only(
    cfn_template: Template,
) -> None:
    """Any application role may put on the default bus; the request bus has a policy."""
    resources = cfn_template["Resources"]
    listening = {
        logical_id: resource["Properties"].get("EventBusName", "default")
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Events::Rule"
        and SOURCE in resource["Properties"].get("EventPattern", {}).get("source", [])
    }

    assert listening == {"StartRolloutFunctionRolloutRequested": {"Ref": "RolloutRequestBus"}}
    assert resources["RolloutRequestBus"]["Type"] == "AWS::Events::EventBus"
    assert resources["RolloutRequestBus"]["Properties"]["Policy"]["Statement"]


def test_rules_on_the_default_bus_hear_only_events_nobody_can_forge(
    cfn_template: Template,
) -> None:
    """EventBridge refuses a PutEvents whose source starts with "aws.": only AWS puts those."""
    on_default = [
        resource["Properties"]["EventPattern"]["source"]
        for resource in cfn_template["Resources"].values()
        if resource["Type"] == "AWS::Events::Rule"
        and resource["Properties"].get("EventBusName", "default") == "default"
    ]

    assert sorted(on_default) == [["aws.cloudwatch"], ["aws.lambda"], ["aws.states"]]


def test_automatic_rollouts_are_off_unless_the_stack_opts_in(
    sam_template: Template, cfn_template: Template
) -> None:
    """Off (the default), the rule, its permission, queue, queue policy and alarm do not exist."""
    parameter = sam_template["Parameters"]["AutomaticRollouts"]
    resources = cfn_template["Resources"]
    environment = resources["StartRolloutFunction"]["Properties"]["Environment"]
    opted_in = sorted(
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Condition") == "AutomaticRolloutsEnabled"
    )

    assert parameter["Default"] == "Disabled"
    assert parameter["AllowedValues"] == ["Enabled", "Disabled"]
    assert cfn_template["Conditions"]["AutomaticRolloutsEnabled"] == {
        "Fn::Equals": [{"Ref": "AutomaticRollouts"}, "Enabled"]
    }
    assert opted_in == [
        "StartRolloutFunctionFunctionCodeUpdated",
        "StartRolloutFunctionFunctionCodeUpdatedDeadLetterAlarm",
        "StartRolloutFunctionFunctionCodeUpdatedPermission",
        "StartRolloutFunctionFunctionCodeUpdatedQueue",
        "StartRolloutFunctionFunctionCodeUpdatedQueuePolicy",
    ]
    # Nothing else refers to them: a stack without them is whole.
    others = json.dumps({k: v for k, v in resources.items() if k not in opted_in})
    assert "StartRolloutFunctionFunctionCodeUpdated" not in others
    # And the function itself ignores code updates unless told (a rule made by hand).
    assert environment["Variables"]["AUTOMATIC_ROLLOUTS"] == {"Ref": "AutomaticRollouts"}
    assert "State" not in rule_of(cfn_template, "RolloutRequested")


def _puts_status_events(resource: dict[str, Any]) -> bool:
    for policy in resource["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            if "events:PutEvents" in ([actions] if isinstance(actions, str) else actions):
                return True
    return False


def test_only_the_roles_that_put_status_events_may_put_on_the_status_bus(
    cfn_template: Template,
) -> None:
    resources = cfn_template["Resources"]
    (statement,) = resources["RolloutStatusBus"]["Properties"]["Policy"]["Statement"]
    allowed = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    putting = sorted(
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role" and _puts_status_events(resource)
    )

    assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
        "Deny",
        {"AWS": "*"},
        "events:PutEvents",
    )
    assert sorted(arn["Fn::GetAtt"][0] for arn in allowed) == putting
    assert len(putting) == 9
    assert resources["RolloutStatusBus"]["Condition"] == "OwnStatusBus"


def test_status_events_go_to_the_status_bus_by_default(
    sam_template: Template, cfn_template: Template
) -> None:
    own = {"Fn::Sub": "${AWS::StackName}-status"}
    bus = {"Fn::If": ["OwnStatusBus", own, {"Ref": "StatusEventBusName"}]}

    assert sam_template["Parameters"]["StatusEventBusName"]["Default"] == ""
    assert sam_template["Globals"]["Function"]["Environment"]["Variables"]["EVENT_BUS_NAME"] == bus
    assert cfn_template["Resources"]["RolloutStatusBus"]["Properties"]["Name"] == own
    assert cfn_template["Outputs"]["StatusBusName"]["Value"] == {
        "Fn::If": ["OwnStatusBus", {"Ref": "RolloutStatusBus"}, {"Ref": "StatusEventBusName"}]
    }


def test_a_start_that_keeps_failing_lands_in_a_queue(cfn_template: Template) -> None:
    resources = cfn_template["Resources"]
    config = resources["StartRolloutFunctionEventInvokeConfig"]["Properties"]
    on_failure = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]

    assert config["MaximumRetryAttempts"] == 2
    assert resources[on_failure]["Type"] == "AWS::SQS::Queue"


def test_eventbridge_may_invoke_the_start_function_from_its_two_rules_only(
    cfn_template: Template,
) -> None:
    permissions = [
        resource["Properties"]
        for resource in cfn_template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Permission"
        and resource["Properties"]["FunctionName"] == {"Ref": "StartRolloutFunction"}
    ]

    assert {p["Principal"] for p in permissions} == {"events.amazonaws.com"}
    assert sorted(p["SourceArn"]["Fn::GetAtt"][0] for p in permissions) == [
        "StartRolloutFunctionFunctionCodeUpdated",
        "StartRolloutFunctionRolloutRequested",
    ]


# -- the samples ---------------------------------------------------------------------
def test_the_wake_rule_hears_only_an_alarm_entering_alarm(cfn_template: Template) -> None:
    rule = cfn_template["Resources"]["WakeRolloutsFunctionAlarmEnteredAlarm"]["Properties"]
    deployed = copy.deepcopy(rule["EventPattern"])
    # This account's and region's alarms only (as deployed in the samples' account).
    assert (deployed["account"], deployed["region"]) == (
        [{"Ref": "AWS::AccountId"}],
        [{"Ref": "AWS::Region"}],
    )
    deployed.update(account=[SAMPLE_ACCOUNT], region=["us-east-1"])
    pattern = EventPattern.load(json.dumps(deployed))
    back_to_ok = copy.deepcopy(sample("alarm-state-change.json"))
    back_to_ok["detail"]["state"]["value"] = "OK"
    elsewhere = [copy.deepcopy(sample("alarm-state-change.json")) for _ in range(2)]
    elsewhere[0]["account"] = "210987654321"
    elsewhere[1]["region"] = "eu-west-1"

    assert matching(pattern) == ["alarm-state-change.json"]
    assert not pattern.matches_event(back_to_ok)
    assert not any(pattern.matches_event(event) for event in elsewhere)
    assert rule.get("EventBusName", "default") == "default"


def test_every_sample_is_known() -> None:
    assert set(every_sample()) == {
        "alarm-state-change.json",
        "execution-aborted.json",
        "rollout-requested.json",
        "cloudtrail-update-function-code.json",
        "cloudtrail-update-function-code-failed.json",
        "cloudtrail-publish-version.json",
        *STATUS_SAMPLES,
    }


def test_the_rollout_requested_detail_is_a_valid_execution_input() -> None:
    from rollouts.models import parse_request

    event = sample("rollout-requested.json")

    assert (event["source"], event["detail-type"]) == (SOURCE, REQUEST_DETAIL_TYPE)
    assert parse_request(event["detail"]).alias == "live"


@pytest.mark.parametrize("name", sorted(STATUS_SAMPLES))
def test_a_status_sample_has_exactly_the_schema_notify_emits(name: str) -> None:
    event = sample(name)
    phase = STATUS_SAMPLES[name]
    emitted = status_detail(phase, None, datetime(2026, 1, 1, tzinfo=UTC))

    assert (event["source"], event["detail-type"]) == (SOURCE, STATUS_DETAIL_TYPE)
    assert event["detail"]["phase"] == phase.value
    assert list(event["detail"]) == list(emitted)
    assert event["resources"] == (
        [event["detail"]["executionArn"]] if event["detail"]["executionArn"] else []
    )
    assert datetime.fromisoformat(event["detail"]["at"]).tzinfo is not None
    assert event["detail"]["functionName"] and event["detail"]["alias"]


@pytest.mark.parametrize("name", sorted(STATUS_SAMPLES))
def test_a_status_sample_field_has_its_documented_type(name: str) -> None:
    detail = sample(name)["detail"]
    types = {
        "rolloutId": (str, type(None)),
        "phase": (str,),
        "functionName": (str,),
        "alias": (str,),
        "fromVersion": (str, type(None)),
        "toVersion": (str, type(None)),
        "strategy": (str, type(None)),
        "step": (int,),
        "stepCount": (int,),
        "weight": (int,),
        "reason": (str, type(None)),
        "executionArn": (str, type(None)),
        "at": (str,),
    }

    assert {key: isinstance(value, types[key]) for key, value in detail.items()} == {
        key: True for key in types
    }
    assert 0 <= detail["weight"] <= 100


TEAM_RULES = {
    # A team pages on roll backs of any function...
    "rolled-back": ({"detail": {"phase": ["rolled-back"]}}, ["status-rolled-back.json"]),
    # ...chats every end of orders-api rollouts...
    "ends": (
        {
            "detail": {
                "functionName": ["orders-api"],
                "phase": ["succeeded", "rolled-back", "drifted", "rollback-failed", "refused"],
            }
        },
        [
            "status-drifted.json",
            "status-refused.json",
            "status-rollback-failed.json",
            "status-rolled-back.json",
            "status-succeeded.json",
        ],
    ),
    # ...or follows everything.
    "all": ({}, sorted(STATUS_SAMPLES)),
}


@pytest.mark.parametrize("rule", sorted(TEAM_RULES))
def test_a_team_rule_on_status_events_matches_the_samples_it_means(rule: str) -> None:
    extra, expected = TEAM_RULES[rule]
    pattern = EventPattern.load(
        json.dumps({"source": [SOURCE], "detail-type": [STATUS_DETAIL_TYPE], **extra})
    )

    assert matching(pattern) == expected


# -- the dashboard ---------------------------------------------------------------------
def dashboard_widgets(template: Template) -> list[dict[str, Any]]:
    body = template["Resources"]["RolloutDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(re.findall(r"\$\{([^}]*)\}", body)) == {"AWS::Region"}
    widgets: list[dict[str, Any]] = json.loads(body.replace("${AWS::Region}", "us-east-1"))[
        "widgets"
    ]
    return widgets


def test_the_dashboard_shows_the_rollout_metrics_of_the_service(cfn_template: Template) -> None:
    metrics = [
        metric
        for widget in dashboard_widgets(cfn_template)
        for metric in widget["properties"]["metrics"]
    ]

    assert {(m[0], m[2], m[3]) for m in metrics} == {
        ("LambdaRollouts", "service", "lambda-rollouts")
    }
    assert DASHBOARD_METRICS | {"RolloutsDrifted"} <= {m[1] for m in metrics}


def test_the_dashboard_shows_duration_average_p90_and_max(cfn_template: Template) -> None:
    stats = {
        metric[4]["stat"]
        for widget in dashboard_widgets(cfn_template)
        for metric in widget["properties"]["metrics"]
        if metric[1] == "RolloutDuration"
    }

    assert stats == {"Average", "p90", "Maximum"}


def test_the_dashboard_metrics_are_the_ones_the_functions_emit() -> None:
    emitted = {
        name
        for app in (ROOT / "functions").glob("*/app.py")
        for name in re.findall(r'"(Rollout\w+)"', app.read_text(encoding="utf-8"))
    }

    assert DASHBOARD_METRICS | {"RolloutsDrifted"} <= emitted


def test_the_dashboard_is_an_output(cfn_template: Template, sam_template: Template) -> None:
    assert cfn_template["Outputs"]["DashboardName"]["Value"] == {"Ref": "RolloutDashboard"}
    namespace = sam_template["Globals"]["Function"]["Environment"]["Variables"]
    assert namespace["POWERTOOLS_METRICS_NAMESPACE"] == "LambdaRollouts"
    assert namespace["POWERTOOLS_SERVICE_NAME"] == "lambda-rollouts"
