"""Fixtures for the template tests: the SAM template, read and translated in-process.

`aws-sam-translator` turns template.yaml into plain CloudFormation without AWS:
local paths are swapped for S3 URIs first (the translator accepts only those),
and the state machine's `DefinitionUri` is swapped for the ASL itself as
`Definition`, so the `${...}` placeholders and `DefinitionSubstitutions`
survive translation for the tests to compare.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
ASL_PATH = ROOT / "statemachine" / "rollout.asl.json"

Template = dict[str, Any]


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short-form tags (`!Ref`, `!Sub`, ...)."""


def _construct_cfn_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_cfn_tag)


def load_template(path: Path = TEMPLATE_PATH) -> Template:
    """Read a CloudFormation/SAM YAML template into plain dicts (long-form intrinsics)."""
    with path.open(encoding="utf-8") as stream:
        # _CfnLoader is a SafeLoader: no arbitrary Python objects.
        loaded: Template = yaml.load(stream, Loader=_CfnLoader)
    return loaded


class _NoManagedPolicies:
    """Stands in for `ManagedPolicyLoader`, which would list AWS managed policies through IAM.

    The template names no managed policy; SAM's X-Ray policy is resolved by ARN.
    """

    def load(self) -> dict[str, str]:
        return {}


def prepare_for_translation(template: Template, asl_path: Path = ASL_PATH) -> Template:
    """Swap local code paths for S3 URIs and inline the state machine definition."""
    prepared = copy.deepcopy(template)
    for logical_id, resource in prepared["Resources"].items():
        properties = resource.get("Properties", {})
        match resource["Type"]:
            case "AWS::Serverless::Function":
                properties["CodeUri"] = f"s3://artifacts/{logical_id}.zip"
            case "AWS::Serverless::LayerVersion":
                properties["ContentUri"] = f"s3://artifacts/{logical_id}.zip"
            case "AWS::Serverless::StateMachine":
                properties.pop("DefinitionUri")
                properties["Definition"] = json.loads(asl_path.read_text(encoding="utf-8"))
    return prepared


def translate(template: Template, region: str = "us-east-1") -> Template:
    """Translate a SAM template (already prepared) to CloudFormation, offline."""
    with pytest.MonkeyPatch.context() as patch:
        # The translator reads the region from a boto3 session; no call is made.
        patch.setenv("AWS_DEFAULT_REGION", region)
        patch.delenv("AWS_PROFILE", raising=False)
        translated: Template = transform(
            copy.deepcopy(template),
            {},
            _NoManagedPolicies(),  # duck-typed: only load() is called
        )
    return translated


@pytest.fixture(scope="session")
def sam_template() -> Template:
    """template.yaml as written (SAM resources, intrinsics in long form)."""
    return load_template()


@pytest.fixture(scope="session")
def asl_text() -> str:
    """The state machine definition, raw (with its `${...}` placeholders)."""
    return ASL_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def cfn_template(sam_template: Template) -> Template:
    """template.yaml translated to plain CloudFormation by aws-sam-translator."""
    return translate(prepare_for_translation(sam_template))
