"""Linters over the stack and its state machine: cfn-lint (serverless rules) and statelint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachine" / "rollout.asl.json"
BIN = Path(sys.executable).parent  # the project venv's console scripts

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def cfn_lint(template: Path) -> subprocess.CompletedProcess[str]:
    return run(BIN / "cfn-lint", template, "--append-rules", "cfn_lint_serverless.rules")


def test_cfn_lint_with_serverless_rules_passes() -> None:
    result = cfn_lint(TEMPLATE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_applies_the_serverless_rules(tmp_path: Path) -> None:
    # A log group without retention must trip WS1004: proof the rules are loaded.
    without_retention = tmp_path / "template.yaml"
    text = TEMPLATE.read_text(encoding="utf-8")
    without_retention.write_text(
        text.replace("      RetentionInDays: 30\n", "", 1), encoding="utf-8"
    )

    result = cfn_lint(without_retention)

    assert result.returncode != 0
    assert "WS1004" in result.stdout


def with_fake_arns(asl_text: str) -> str:
    """The ASL with each `${Name}` replaced by a plausible Lambda ARN, as deploy would do."""
    return PLACEHOLDER.sub(
        lambda match: f"arn:aws:lambda:us-east-1:123456789012:function:lambda-rollouts-{match[1]}",
        asl_text,
    )


def statelint(definition: dict[str, Any] | str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "rollout.asl.json"
    text = definition if isinstance(definition, str) else json.dumps(definition)
    path.write_text(text, encoding="utf-8")
    return run(BIN / "statelint", path)


def test_statelint_accepts_the_state_machine(tmp_path: Path) -> None:
    # statelint wants a URI in every Resource, so substitute as deploy would.
    result = statelint(with_fake_arns(ASL.read_text(encoding="utf-8")), tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr


def test_statelint_rejects_a_broken_machine(tmp_path: Path) -> None:
    # Guards the test above: a dangling Next must fail, so a pass means something.
    broken = {
        "StartAt": "PrepareRollout",
        "States": {"PrepareRollout": {"Type": "Pass", "Next": "Nowhere"}},
    }

    result = statelint(broken, tmp_path)

    assert result.returncode != 0
    assert "Nowhere" in result.stdout + result.stderr
