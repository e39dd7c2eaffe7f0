"""The SAM CLI on the stack: `sam validate --lint` and a real `sam build`.

The SAM CLI pins its own boto3 and click, so it lives in .venv-sam
(`python3 -m venv .venv-sam && .venv-sam/bin/pip install -r requirements/sam.txt`).
`sam build` needs an interpreter matching the python3.12 runtime on PATH; pyenv
keeps one under ~/.pyenv/versions/3.12.*/bin on these machines, whose shim only
works with PYENV_VERSION set, so the real bin folder goes first on PATH.
No AWS credentials are needed; pip fetches the layer's dependencies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".venv-sam" / "bin" / "sam"
FUNCTIONS = [
    "PrepareRolloutFunction",
    "PublishVersionFunction",
    "RunHookFunction",
    "ShiftTrafficFunction",
    "CheckHealthFunction",
    "PromoteTargetFunction",
    "RollBackFunction",
    "FinishRolloutFunction",
    "ReleaseRolloutFunction",
    "ApiFunction",
]

pytestmark = pytest.mark.sam


def _version_key(path: Path) -> tuple[int, ...]:
    """`~/.pyenv/versions/3.12.10/bin` -> (3, 12, 10), so newer patches sort last."""
    return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())


def find_python312() -> Path | None:
    """A python3.12 that runs, preferring pyenv's real interpreters over its shim."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(pyenv_root.glob("versions/3.12*/bin"), key=_version_key, reverse=True)
    search_path = os.pathsep.join([*map(str, candidates), os.environ.get("PATH", "")])
    found = shutil.which("python3.12", path=search_path)
    if found is None:
        return None
    probe = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0 or not probe.stdout.startswith("Python 3.12"):
        return None  # e.g. a pyenv shim with no 3.12 selected
    return Path(found)


@pytest.fixture(scope="module")
def sam_env() -> dict[str, str]:
    """Environment for the SAM CLI: python3.12 first on PATH, a region, no telemetry."""
    if not SAM.is_file():
        pytest.fail(
            f"{SAM} is missing: create it with `python3 -m venv .venv-sam && "
            ".venv-sam/bin/pip install -r requirements/sam.txt` (make .venv-sam)"
        )
    python312 = find_python312()
    if python312 is None:
        pytest.skip("no python3.12 interpreter on this machine: sam build needs one")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(python312.parent), env.get("PATH", "")])
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    env["SAM_CLI_TELEMETRY"] = "0"
    return env


def sam(
    env: dict[str, str], *args: str | Path, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SAM), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_sam_validate_lint_passes(sam_env: dict[str, str]) -> None:
    result = sam(sam_env, "validate", "--lint", "--template-file", "template.yaml")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def build_dir(sam_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`sam build` output, built once for the module into a temporary folder."""
    root = tmp_path_factory.mktemp("sam")
    build, cache = root / "build", root / "cache"
    # --no-cached: a cached build keeps dependencies under .aws-sam/ in the repo.
    result = sam(
        sam_env,
        "build",
        "--template-file",
        "template.yaml",
        "--build-dir",
        build,
        "--cache-dir",
        cache,
        "--no-cached",
        "--parallel",
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    yield build
    shutil.rmtree(root, ignore_errors=True)


def test_build_writes_a_template(build_dir: Path) -> None:
    assert (build_dir / "template.yaml").is_file()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_build_holds_the_function_handler(build_dir: Path, function: str) -> None:
    assert (build_dir / function / "app.py").is_file()


def test_build_holds_the_layer_with_rollouts_and_its_dependencies(build_dir: Path) -> None:
    python = build_dir / "RolloutsLayer" / "python"

    assert (python / "rollouts" / "__init__.py").is_file()
    assert (python / "pydantic" / "__init__.py").is_file()
    assert (python / "aws_lambda_powertools" / "__init__.py").is_file()
    # pydantic's compiled core must be the Lambda one: CPython 3.12 on x86_64 Linux.
    assert list((python / "pydantic_core").glob("_pydantic_core.cpython-312-x86_64-linux-gnu.so"))
