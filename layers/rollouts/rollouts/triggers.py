"""How EventBridge events become rollout requests: pure functions, no AWS calls.

Two events start a rollout (``functions/start_rollout``):

- a custom event, ``source: lambda-rollouts``, ``detail-type: Rollout Requested``,
  whose ``detail`` is the execution input itself;
- the CloudTrail record of ``UpdateFunctionCode`` (``detail-type: AWS API Call via
  CloudTrail``) for a function tagged ``rollouts:alias``: its tags say how
  to roll out the new ``$LATEST``, and the record's ``responseElements.codeSha256``
  which code: the request carries it as ``codeSha256``, so the rollout publishes
  exactly the code that call uploaded, or nothing if ``$LATEST`` changed again since.
  A dry run (``dryRun: true``) changed nothing and starts nothing.

Tags (AWS tag values allow letters, digits, spaces and ``_ . : / = + - @``)::

    rollouts:alias         live                       required: untagged functions are ignored
    rollouts:strategy      Linear10PercentEvery1Minute default Canary10Percent5Minutes
    rollouts:alarms        orders-errors orders-p99   space (or comma) separated
    rollouts:pre-traffic   orders-api-smoke           PreTraffic hook
    rollouts:post-traffic  orders-api-post            PostTraffic hook
    rollouts:analysis      compareToBaseline=true minInvocations=50   the request's analysis

>>> request_from_tags("orders-api", {"rollouts:alias": "live", "rollouts:alarms": "a b"})
{'functionName': 'orders-api', 'alias': 'live', 'strategy': 'Canary10Percent5Minutes', \
'alarms': ['a', 'b']}

A tag value cannot hold JSON, so ``rollouts:analysis`` is ``key=value`` pairs
separated by spaces, with the contract's names (``compareToBaseline=true
maxErrorRate=1 minInvocations=50 inconclusive=rollback``); see ``analysis_from_tag``.
Custom ``metrics`` cannot be written in a tag: give them through the API, the CLI
or a "Rollout Requested" event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from rollouts.notify import REQUEST_DETAIL_TYPE, SOURCE

TAG_ALIAS = "rollouts:alias"
TAG_STRATEGY = "rollouts:strategy"
TAG_ALARMS = "rollouts:alarms"
TAG_PRE_TRAFFIC = "rollouts:pre-traffic"
TAG_POST_TRAFFIC = "rollouts:post-traffic"
TAG_ANALYSIS = "rollouts:analysis"
TAGS = (TAG_ALIAS, TAG_STRATEGY, TAG_ALARMS, TAG_PRE_TRAFFIC, TAG_POST_TRAFFIC, TAG_ANALYSIS)

# CodeDeploy's default for SAM's DeploymentPreference examples: a cautious start.
DEFAULT_STRATEGY = "Canary10Percent5Minutes"

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
LAMBDA_SOURCE = "aws.lambda"
LAMBDA_EVENT_SOURCE = "lambda.amazonaws.com"
# CloudTrail names the call after its API version, e.g. UpdateFunctionCode20150331v2.
UPDATE_FUNCTION_CODE = "UpdateFunctionCode"

_SEPARATORS = re.compile(r"[\s,]+")

# The analysis fields a tag can set, by the JSON type the Analysis model expects
# (every field but ``metrics``, which a tag value cannot express).
ANALYSIS_BOOLEANS = frozenset({"compareToBaseline", "dryRun"})
ANALYSIS_INTEGERS = frozenset({"minInvocations", "settleSeconds"})
ANALYSIS_NUMBERS = frozenset(
    {"maxErrorRate", "confidence", "maxP99DurationMs", "maxDurationIncrease"}
)
ANALYSIS_TEXTS = frozenset({"inconclusive"})
ANALYSIS_TAG_KEYS = ANALYSIS_BOOLEANS | ANALYSIS_INTEGERS | ANALYSIS_NUMBERS | ANALYSIS_TEXTS

# Plain decimal numbers, ASCII digits only: not "1_000", "+1", "inf", "nan" or "0x10".
_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BOOLEAN = {"true": True, "false": False}


def split_names(value: str) -> list[str]:
    """A tag's list of names: separated by spaces or commas, blanks dropped.

    >>> split_names(" orders-errors, orders-p99  orders-5xx ")
    ['orders-errors', 'orders-p99', 'orders-5xx']
    """
    return [name for name in _SEPARATORS.split(value) if name]


def _analysis_value(key: str, text: str) -> Any:
    """``text`` as the JSON value ``key`` takes; as written when it does not read as one.

    A text left as written is then refused by the request's validation, naming
    ``analysis.<key>``; a number too large for a float is infinite, and refused too.
    """
    if key in ANALYSIS_BOOLEANS:
        return _BOOLEAN.get(text, text)
    if key in ANALYSIS_INTEGERS and _INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts: no field takes that anyway
            return text
    if key in ANALYSIS_NUMBERS and _NUMBER.fullmatch(text):
        return float(text)
    return text


def analysis_from_tag(value: str) -> dict[str, Any]:
    """The ``analysis`` a ``rollouts:analysis`` tag asks for: ``key=value`` pairs, by name.

    Pairs are separated by spaces (or commas); each key is a field of the
    contract's ``analysis`` (case matters), and its value is converted to the
    JSON type that field takes: ``true``/``false``, whole numbers for
    ``minInvocations`` and ``settleSeconds``, numbers for the rest, text for
    ``inconclusive``. Nothing is refused here: whatever cannot be converted is
    passed on so that the request's validation refuses it, naming
    ``analysis.<key>``, as any other bad input (an unknown key is an unknown
    field; a pair without ``=`` has an empty value; a key given twice, all its
    values). ``metrics`` cannot be written in a tag.

    >>> analysis_from_tag("compareToBaseline=true minInvocations=50 maxErrorRate=1")
    {'compareToBaseline': True, 'minInvocations': 50, 'maxErrorRate': 1.0}
    >>> analysis_from_tag("inconclusive=rollback confidence=0.999 dryRun=false")
    {'inconclusive': 'rollback', 'confidence': 0.999, 'dryRun': False}
    >>> analysis_from_tag("maxErrorRate maxP99DurationMs=fast typo=1")
    {'maxErrorRate': '', 'maxP99DurationMs': 'fast', 'typo': '1'}
    """
    found: dict[str, Any] = {}
    repeated: dict[str, list[Any]] = {}
    for pair in split_names(value):
        key, _, text = pair.partition("=")
        converted = _analysis_value(key, text)
        if key in found:
            repeated.setdefault(key, [found[key]]).append(converted)
        found[key] = converted
    # A key given twice is not one value: passed on as the list, and refused.
    return {**found, **repeated}


def request_from_tags(
    function_name: str, tags: Mapping[str, str], code_sha256: str | None = None
) -> dict[str, Any] | None:
    """The execution input a code update of a tagged function asks for; None when untagged.

    No ``version``: the state machine publishes ``$LATEST``, and with ``code_sha256``
    (the code the update uploaded) only if ``$LATEST`` still holds that code. Values
    are passed on as written (only trimmed; ``rollouts:analysis`` as the JSON values
    its pairs read as, ``analysis_from_tag``), so a bad tag is refused by the
    request's validation naming the field, as any other bad input is.

    >>> request_from_tags("orders-api", {"rollouts:alias": "live"}, "3Uq0...")["codeSha256"]
    '3Uq0...'
    """
    alias = tags.get(TAG_ALIAS, "").strip()
    if not alias:
        return None
    request: dict[str, Any] = {
        "functionName": function_name,
        "alias": alias,
        "strategy": tags.get(TAG_STRATEGY, "").strip() or DEFAULT_STRATEGY,
    }
    alarms = split_names(tags.get(TAG_ALARMS, ""))
    if alarms:
        request["alarms"] = alarms
    hooks = {
        key: tags[tag].strip()
        for key, tag in (("preTraffic", TAG_PRE_TRAFFIC), ("postTraffic", TAG_POST_TRAFFIC))
        if tags.get(tag, "").strip()
    }
    if hooks:
        request["hooks"] = hooks
    analysis = analysis_from_tag(tags.get(TAG_ANALYSIS, ""))
    if analysis:
        request["analysis"] = analysis
    if code_sha256 is not None:
        request["codeSha256"] = code_sha256
    return request


class CloudTrailCall(BaseModel):
    """The ``detail`` of an "AWS API Call via CloudTrail" event, as far as a rollout needs it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    event_source: str = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    aws_region: str | None = Field(default=None, alias="awsRegion")
    error_code: str | None = Field(default=None, alias="errorCode")
    request_parameters: dict[str, Any] | None = Field(default=None, alias="requestParameters")
    response_elements: dict[str, Any] | None = Field(default=None, alias="responseElements")

    @property
    def is_code_update(self) -> bool:
        """A successful UpdateFunctionCode call that changed the code (not a dry run).

        Whatever API version CloudTrail names it after.
        """
        return (
            self.event_source == LAMBDA_EVENT_SOURCE
            and self.event_name.startswith(UPDATE_FUNCTION_CODE)
            and self.error_code is None
            and (self.request_parameters or {}).get("dryRun") is not True
        )

    @property
    def code_sha256(self) -> str | None:
        """The CodeSha256 Lambda answered the call with: the code it uploaded.

        Passed on as sent (a malformed one is refused by the request's validation,
        naming ``codeSha256``); None when the record carries none.
        """
        value = (self.response_elements or {}).get("codeSha256")
        return value if isinstance(value, str) and value else None

    @property
    def function_name(self) -> str | None:
        """The function the call named: a name, an ARN or a partial ARN, as the caller gave it."""
        name = (self.request_parameters or {}).get("functionName")
        return name if isinstance(name, str) and name else None


class Trigger(BaseModel):
    """What an event asks for: a request as sent, or a code update to look up."""

    model_config = ConfigDict(frozen=True)

    kind: str  # "requested" | "code-update" | "other"
    request: Any = None
    function_name: str | None = None
    # A code update's CodeSha256: the code to roll out.
    code_sha256: str | None = None


def trigger_of(source: str, detail_type: str, detail: Any) -> Trigger:
    """Which of the two ways in an EventBridge event is.

    >>> trigger_of("lambda-rollouts", "Rollout Requested", {"alias": "live"}).kind
    'requested'
    >>> trigger_of("aws.lambda", "AWS API Call via CloudTrail", {
    ...     "eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionCode20150331v2",
    ...     "requestParameters": {"functionName": "orders-api"},
    ...     "responseElements": {"codeSha256": "3Uq0..."}}).code_sha256
    '3Uq0...'
    """
    if source == SOURCE and detail_type == REQUEST_DETAIL_TYPE:
        return Trigger(kind="requested", request=detail)
    if source == LAMBDA_SOURCE and detail_type == CLOUDTRAIL_DETAIL_TYPE:
        try:
            call = CloudTrailCall.model_validate(detail)
        except PydanticValidationError:
            return Trigger(kind="other")
        if call.is_code_update and call.function_name:
            return Trigger(
                kind="code-update", function_name=call.function_name, code_sha256=call.code_sha256
            )
    return Trigger(kind="other")


__all__ = [
    "ANALYSIS_TAG_KEYS",
    "DEFAULT_STRATEGY",
    "TAGS",
    "CloudTrailCall",
    "Trigger",
    "analysis_from_tag",
    "request_from_tags",
    "split_names",
    "trigger_of",
]
