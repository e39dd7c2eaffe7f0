"""Deploy ``template.yaml`` to the emulator, the way ``sam deploy`` deploys it to AWS.

The SAM template is transformed by the real SAM translator, in process. Local
``CodeUri`` and ``ContentUri`` folders are zipped and uploaded to the emulator's
S3, exactly as ``sam package`` does; the state machine's ``DefinitionUri`` is
read into ``Definition`` so that its ``DefinitionSubstitutions`` stay visible to
CloudFormation. The result is created as a CloudFormation stack in the emulator.
Nothing here knows which resources the template holds.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ARTIFACT_BUCKET = "lambda-rollouts-local-artifacts"


@dataclass(frozen=True)
class Stack:
    """A deployed stack: its name and its outputs."""

    name: str
    outputs: dict[str, str]


class _AwsManagedPolicies(dict[str, str]):
    """Stands in for the IAM ListPolicies lookup the translator makes for managed policy names."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __missing__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"


class _PolicyLoader:
    def load(self) -> dict[str, str]:
        return _AwsManagedPolicies()


def zip_folder(folder: Path) -> bytes:
    """Zip a folder deterministically (same files, same bytes, same code hash)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                info = zipfile.ZipInfo(
                    str(path.relative_to(folder)), date_time=(2020, 1, 1, 0, 0, 0)
                )
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def package(template: dict[str, Any], root: Path, s3: Any) -> dict[str, Any]:
    """Upload local code folders and inline the state machine definitions (``sam package``)."""
    buckets = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    if ARTIFACT_BUCKET not in buckets:
        region = s3.meta.region_name
        # S3 refuses a bucket outside us-east-1 that does not say where it is.
        where = {} if region == "us-east-1" else {"LocationConstraint": region}
        s3.create_bucket(
            Bucket=ARTIFACT_BUCKET, **({"CreateBucketConfiguration": where} if where else {})
        )

    def upload(folder: str) -> str:
        code = zip_folder(root / folder)
        key = f"{Path(folder).name}-{hashlib.sha256(code).hexdigest()[:16]}.zip"
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=code)
        return f"s3://{ARTIFACT_BUCKET}/{key}"

    for resource in template.get("Resources", {}).values():
        properties = resource.setdefault("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = upload(properties["CodeUri"])
        elif kind == "AWS::Serverless::LayerVersion" and isinstance(
            properties.get("ContentUri"), str
        ):
            properties["ContentUri"] = upload(properties["ContentUri"])
        elif kind == "AWS::Serverless::StateMachine" and isinstance(
            properties.get("DefinitionUri"), str
        ):
            definition_path = root / properties.pop("DefinitionUri")
            properties["Definition"] = json.loads(definition_path.read_text())
    return template


def translate(template_path: Path, s3: Any, region: str, account_id: str) -> dict[str, Any]:
    """SAM template -> CloudFormation template, with code uploaded to the emulator."""
    template = yaml_parse(template_path.read_text())
    template = package(template, template_path.parent, s3)
    parameters = {"AWS::Region": region, "AWS::AccountId": account_id, "AWS::Partition": "aws"}
    # The translator reads the region from boto3's default session, not from the parameters.
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        result: dict[str, Any] = transform(template, parameters, _PolicyLoader())
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous
    return result


def deploy(
    template_path: Path,
    stack_name: str,
    session: Any,
    endpoint_url: str,
    parameters: dict[str, str] | None = None,
) -> Stack:
    """Create (or replace) ``stack_name`` from the SAM template, and return its outputs."""
    s3 = session.client("s3", endpoint_url=endpoint_url)
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)
    sts = session.client("sts", endpoint_url=endpoint_url)
    account_id = sts.get_caller_identity()["Account"]
    template = translate(template_path, s3, session.region_name, account_id)
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in (parameters or {}).items()
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        failed = [e for e in events if e.get("ResourceStatus", "").endswith("FAILED")]
        raise RuntimeError(f"stack {stack_name} is {stack['StackStatus']}: {failed[:3]}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return Stack(name=stack_name, outputs=outputs)


def project_root() -> Path:
    """The folder that holds template.yaml: $ROLLOUTS_PROJECT_ROOT, else the working tree."""
    configured = os.environ.get("ROLLOUTS_PROJECT_ROOT")
    candidates = [Path(configured)] if configured else []
    candidates += [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[3]]
    for candidate in candidates:
        if (candidate / "template.yaml").exists() and (candidate / "statemachine").is_dir():
            return candidate
    raise FileNotFoundError(
        "template.yaml not found: run from the project folder or set ROLLOUTS_PROJECT_ROOT"
    )
