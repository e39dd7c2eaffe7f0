"""Fetch the console's browser libraries from the npm registry into the package.

The console must work with no network at run time, so the libraries it loads ship
inside the Python package (``src/rollouts_cli/console/static/vendor``), each with
its licence; ``VENDOR.json`` names every file's package, version and SHA-256, and
``tests/cli/test_console_pages.py`` checks the files still match it. Run this (it
needs npm) only to change a version:

    python tools/vendor_console.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "src/rollouts_cli/console/static/vendor"
# (package, version, file in its tarball, licence in its tarball, name here)
LIBRARIES = (
    ("chart.js", "4.5.1", "dist/chart.umd.min.js", "LICENSE.md", "chart.umd.min.js"),
    ("cytoscape", "3.35.0", "dist/cytoscape.min.js", "LICENSE", "cytoscape.min.js"),
    (
        "cytoscape-dagre",
        "4.0.1",
        "dist/cytoscape-dagre.min.js",
        "LICENSE",
        "cytoscape-dagre.min.js",
    ),
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    manifest = []
    with tempfile.TemporaryDirectory() as scratch:
        for package, version, dist, licence, name in LIBRARIES:
            packed = subprocess.run(
                ["npm", "pack", f"{package}@{version}", "--pack-destination", scratch, "--json"],
                check=True,
                capture_output=True,
                text=True,
            )
            tarball = Path(scratch) / json.loads(packed.stdout)[0]["filename"]
            with tarfile.open(tarball) as archive:
                archive.extractall(Path(scratch) / package, filter="data")
            root = Path(scratch) / package / "package"
            shutil.copyfile(root / dist, VENDOR / name)
            stem = name.removesuffix(".min.js").removesuffix(".umd")
            shutil.copyfile(root / licence, VENDOR / f"{stem}.{licence}")
            manifest.append(
                {
                    "package": package,
                    "version": version,
                    "file": name,
                    "licence": f"{stem}.{licence}",
                    "sha256": sha256(VENDOR / name),
                }
            )
    (VENDOR / "VENDOR.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{len(manifest)} libraries in {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
