"""One fault anywhere, and every safety invariant still holds: a fixed sample of the matrix.

Each test id is one cell of the fault matrix (``fault_matrix``): a fresh rollout of
one scenario with one fault injected at one AWS call of its clean run, or stopped
as it enters one state. The sample is fixed for a given product: every call of the
canary's clean run with ANSWER_LOST, a seeded pseudo-random
sample of 40 other (scenario, call, kind) cells, and a stop at the first entry of
every state the canary enters. The whole matrix is ``benchmarks/faults.py``.

The cells are named by the calls of each scenario's clean run, so the clean runs
are made when this module is collected, on an engine of their own, and kept in
pytest's cache under a digest of the sources that decide those calls (template,
state machine, functions, layer, local engine): they run again only after one of
those changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fault_matrix import (
    Cell,
    CleanRun,
    Matrix,
    ci_sample,
    sources_digest,
)

from rollouts_cli.local.deploy import project_root
from rollouts_cli.local.engine import LocalEngine

pytestmark = pytest.mark.e2e

CACHE_KEY = "fault_matrix/clean_runs"
_made: dict[str, dict[str, CleanRun]] = {}


_MAKE_CLEAN_RUNS = """
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from fault_matrix import clean_runs
from rollouts_cli.local.engine import LocalEngine
with LocalEngine(time_scale=0.0, evaluate_alarms=False) as engine:
    runs = clean_runs(engine, Path(tempfile.mkdtemp(prefix="fault-matrix-")))
Path(sys.argv[2]).write_text(json.dumps({name: run.as_json() for name, run in runs.items()}))
"""


def _clean_runs_apart() -> dict[str, CleanRun]:
    """The clean runs, made by an engine in a process of its own.

    Collection happens before any test: an engine started and stopped here, in the
    test process, would reset the emulator's process-wide state under every other test.
    """
    with tempfile.TemporaryDirectory(prefix="fault-matrix-") as work:
        out = Path(work) / "clean-runs.json"
        subprocess.run(
            [sys.executable, "-c", _MAKE_CLEAN_RUNS, str(Path(__file__).parent), str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )
        made = json.loads(out.read_text())
    return {name: CleanRun.from_json(run) for name, run in made.items()}


def _clean_runs(config: pytest.Config) -> dict[str, CleanRun]:
    digest = sources_digest(project_root())
    if digest in _made:
        return _made[digest]
    cached: Any = config.cache.get(CACHE_KEY, None) if config.cache else None
    if isinstance(cached, dict) and cached.get("digest") == digest:
        return {name: CleanRun.from_json(run) for name, run in cached["runs"].items()}
    runs = _clean_runs_apart()
    if config.cache:
        config.cache.set(
            CACHE_KEY,
            {"digest": digest, "runs": {name: run.as_json() for name, run in runs.items()}},
        )
    _made[digest] = runs
    return runs


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cell" not in metafunc.fixturenames:
        return
    cells = ci_sample(_clean_runs(metafunc.config))
    stops = metafunc.function.__name__.startswith("test_a_stop")
    chosen = [c for c in cells if (c.stop is not None) is stops]
    metafunc.parametrize("cell", chosen, ids=[c.id for c in chosen])


@pytest.fixture(scope="module")
def matrix(local_engine: LocalEngine, tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    matrix = Matrix(local_engine, tmp_path_factory.mktemp("fault-matrix"))
    matrix.quiesce()
    return matrix


def test_one_fault_at_any_call_keeps_every_invariant(matrix: Matrix, cell: Cell) -> None:
    result = matrix.run(cell)

    assert not result.violations, result.report()


def test_a_stop_at_any_state_is_cleaned_up(matrix: Matrix, cell: Cell) -> None:
    result = matrix.run(cell)

    assert not result.violations, result.report()
