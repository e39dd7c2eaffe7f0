"""The whole fault matrix: every scenario x every AWS call of its clean run x every fault kind.

For each scenario of ``tests/e2e/fault_matrix.py`` (canary, linear, all at once,
first deploy; each with a PreTraffic and a PostTraffic hook and one alarm in OK),
records the calls of a clean run, then runs a fresh rollout with one fault
(THROTTLE, SERVER_ERROR, READ_TIMEOUT, CONNECTION_RESET, ANSWER_LOST) injected at
each call, and one stopped at each state entry of the clean run, and checks the
safety invariants after each (see that module). Prints a table per scenario and
every violation, with what the alias, record and lock were and the execution's
error and cause. Exit code 1 if any cell broke an invariant.

    .venv/bin/python benchmarks/faults.py                 # everything (about 20-25 min)
    .venv/bin/python benchmarks/faults.py --scenario canary --kind answer-lost --no-stops

Progress goes to stderr, one line per cell; ``--json FILE`` keeps every result.
Cells run one at a time: fault points count calls per calling function, and the
control plane's functions are shared by every rollout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rollouts_cli.local.deploy import project_root
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.faults import FaultKind

sys.path.insert(0, str(project_root() / "tests" / "e2e"))

from fault_matrix import (
    SCENARIOS,
    Cell,
    Matrix,
    Result,
    fault_cells,
    stop_cells,
)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS))
    parser.add_argument("--kind", action="append", choices=[k.value for k in FaultKind])
    parser.add_argument("--no-stops", action="store_true", help="skip the stop variant")
    parser.add_argument("--no-faults", action="store_true", help="only the stop variant")
    parser.add_argument("--json", type=Path, help="write every result to this file")
    return parser.parse_args()


def as_json(result: Result) -> dict[str, Any]:
    cell = result.cell
    return {
        "id": cell.id,
        "scenario": cell.scenario,
        "point": cell.point.as_json() if cell.point else None,
        "kind": cell.kind.value if cell.kind else None,
        "stop": cell.stop.as_json() if cell.stop else None,
        "status": result.status,
        "error": result.error,
        "cause": result.cause,
        "fired": result.fired,
        "firedOn": result.fired_on,
        "hookRuns": result.hook_runs,
        "atEnd": result.at_end.describe() if result.at_end else None,
        "settled": result.settled.describe() if result.settled else None,
        "violations": result.violations,
        "notes": result.notes,
        "seconds": round(result.seconds, 3),
    }


def table(results: list[Result], points: dict[str, int], stops: dict[str, int]) -> str:
    header = (
        f"{'scenario':<13} {'variant':<6} {'points':>6} {'kinds':>5} {'runs':>5} "
        f"{'violations':>10} {'wall s':>7}  outcomes"
    )
    lines = [header, "-" * len(header)]
    for scenario in SCENARIOS:
        for variant in ("fault", "stop"):
            mine = [
                r
                for r in results
                if r.cell.scenario == scenario and (r.cell.stop is not None) is (variant == "stop")
            ]
            if not mine:
                continue
            kinds = {r.cell.kind for r in mine if r.cell.kind is not None}
            outcomes = Counter(r.outcome for r in mine)
            shown = ", ".join(f"{k} {n}" for k, n in outcomes.most_common())
            lines.append(
                f"{scenario:<13} {variant:<6} "
                f"{points[scenario] if variant == 'fault' else stops[scenario]:>6} "
                f"{len(kinds) if variant == 'fault' else '-':>5} {len(mine):>5} "
                f"{sum(1 for r in mine if r.violations):>10} "
                f"{sum(r.seconds for r in mine):>7.0f}  {shown}"
            )
    total = len(results)
    broken = sum(1 for r in results if r.violations)
    lines.append("-" * len(header))
    lines.append(f"{'all':<13} {'':<6} {'':>6} {'':>5} {total:>5} {broken:>10}")
    return "\n".join(lines)


def main() -> int:
    args = arguments()
    scenarios = args.scenario or list(SCENARIOS)
    kinds = [FaultKind(k) for k in args.kind] if args.kind else list(FaultKind)
    started = time.monotonic()
    with LocalEngine(time_scale=0.0, evaluate_alarms=False) as engine:
        matrix = Matrix(engine, Path(tempfile.mkdtemp(prefix="fault-matrix-")))
        cleans = {name: matrix.clean_run(SCENARIOS[name]) for name in scenarios}
        cells: list[Cell] = []
        if not args.no_faults:
            cells += [cell for name in scenarios for cell in fault_cells(cleans[name], kinds)]
        if not args.no_stops:
            cells += [cell for name in scenarios for cell in stop_cells(cleans[name])]
        points = {name: len(clean.points) for name, clean in cleans.items()}
        stops = {name: len(clean.stops()) for name, clean in cleans.items()}
        print(
            "clean runs: "
            + ", ".join(f"{n} {points[n]} calls, {stops[n]} state entries" for n in scenarios)
            + f"; {len(cells)} cells",
            file=sys.stderr,
            flush=True,
        )
        results: list[Result] = []
        for number, cell in enumerate(cells, 1):
            result = matrix.run(cell)
            results.append(result)
            mark = "VIOLATION" if result.violations else "ok"
            print(
                f"[{number}/{len(cells)}] {result.seconds:5.2f}s {cell.id} -> "
                f"{result.outcome} {mark}",
                file=sys.stderr,
                flush=True,
            )
            if result.violations:
                print(result.report(), file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps([as_json(r) for r in results], indent=1))
    print(table(results, points, stops))
    print(f"\nwall time: {time.monotonic() - started:.0f} s")
    noted = [r for r in results if r.notes]
    if noted:
        print(f"\nnotes, not violations ({len(noted)}):")
        for result in noted:
            print(f"  {result.cell.id}: {'; '.join(result.notes)}")
    broken = [r for r in results if r.violations]
    print(f"\nviolations ({len(broken)}):" if broken else "\nviolations: none")
    for result in broken:
        print(result.report())
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
