"""A rollout as a picture: the marks read from a described rollout, and the files drawn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rollouts_cli.picture import Mark, draw, marks

from .conftest import Cli, Target

AT = "2026-12-01T10:{:02d}:{:02d}+00:00"
FAILED = {
    "outcome": "fail",
    "reason": "target 30.0% errors over 20 invocations vs baseline 2.4% over 84: worse",
    "target": {"invocations": 20, "errors": 6, "errorRate": 30.0, "p99Ms": 13.5},
    "baseline": {"invocations": 84, "errors": 2, "errorRate": 2.38, "p99Ms": 10.7},
    "window": {"start": AT.format(1, 0), "end": AT.format(3, 0)},
}
ROLLED_BACK: dict[str, Any] = {
    "rolloutId": "orders-live-v3-1a2b3c4d",
    "functionName": "orders",
    "alias": "live",
    "fromVersion": "2",
    "toVersion": "3",
    "status": "FAILED",
    "error": "RolledBack",
    "startedAt": AT.format(0, 0),
    "endedAt": AT.format(3, 5),
    "stepsTaken": [{"step": 1, "weight": 20, "bakeSeconds": 300, "at": AT.format(0, 10)}],
    "checks": [
        {"at": AT.format(1, 10), "step": 1, "action": "bake", "alarmsNotOk": {}},
        {
            "at": AT.format(2, 10),
            "step": 1,
            "action": "bake",
            "alarmsNotOk": {},
            "analysis": {"outcome": "inconclusive", "reason": "settling: 20 s", "target": {}},
        },
        {"at": AT.format(3, 0), "step": 1, "action": "rollback", "analysis": FAILED},
    ],
    "hooks": {"PreTraffic": {"function": "smoke", "result": "Succeeded", "at": AT.format(0, 5)}},
    "requests": [{"verb": "pause", "by": "alice", "at": AT.format(1, 30)}],
}


def test_the_marks_of_a_rolled_back_rollout_in_time_order() -> None:
    picture = marks(ROLLED_BACK)

    # 0% from the start to the shift.
    assert [(at.strftime("%M:%S"), weight) for at, weight in picture.weights] == [
        ("00:00", 0),
        ("00:10", 20),
        ("03:05", 0),
    ]
    assert [(m.at.strftime("%M:%S"), m.weight, m.kind, m.label) for m in picture.marks] == [
        ("00:05", 0, "hook", "PreTraffic hook passed"),
        ("00:10", 20, "shift", "shifted to 20% (step 1)"),
        ("01:10", 20, "check", "health check"),
        ("01:30", 20, "request", "pause by alice"),
        ("02:10", 20, "inconclusive", "analysis: inconclusive"),
        ("03:00", 20, "fail", "analysis: fail (30.0% errors over 20)"),
        ("03:05", 0, "rolled-back", "rolled back: 100% on the baseline"),
    ]
    assert picture.title == "orders:live 2 -> 3 (orders-live-v3-1a2b3c4d)"


def test_a_promoted_rollout_ends_at_100_with_an_alarm_marked() -> None:
    promoted = {
        **ROLLED_BACK,
        "status": "SUCCEEDED",
        "error": None,
        "promotedAt": AT.format(5, 10),
        "endedAt": AT.format(5, 12),
        "checks": [{"at": AT.format(2, 0), "alarmsNotOk": {"errors": "ALARM"}}],
        "hooks": {},
        "requests": [],
    }
    picture = marks(promoted)

    assert [weight for _, weight in picture.weights] == [0, 20, 100, 100]
    assert [(m.kind, m.label) for m in picture.marks][-3:] == [
        ("alarm", "alarm errors in ALARM"),
        ("promoted", "promoted: 100% on the target"),
        ("succeeded", "succeeded: 100% on the target"),
    ]


def test_an_svg_keeps_every_mark_as_words(tmp_path: Path) -> None:
    written = draw(marks(ROLLED_BACK), tmp_path / "rollout.svg")

    svg = written.read_text()
    for words in (
        "shifted to 20% (step 1)",
        "analysis: fail (30.0% errors over 20)",
        "rolled back: 100% on the baseline",
        "PreTraffic hook passed",
        "pause by alice",
        "% of traffic on the target",
        "orders:live 2 -&gt; 3 (orders-live-v3-1a2b3c4d)",
    ):
        assert words in svg, words


def test_a_png_draws_the_line_and_the_failed_verdict_in_their_colours(tmp_path: Path) -> None:
    written = draw(marks(ROLLED_BACK), tmp_path / "rollout.png")

    image = Image.open(written).convert("RGB")
    assert image.size == (1100, 550)
    colours = {colour for _, colour in image.getcolors(maxcolors=1_000_000) or []}
    assert (0x1F, 0x77, 0xB4) in colours  # the weight line
    assert (0xD6, 0x27, 0x28) in colours  # the failed verdict and the rollback


def test_a_picture_is_png_or_svg(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"a picture is \.png or \.svg"):
        draw(marks(ROLLED_BACK), tmp_path / "rollout.gif")


def test_status_plot_writes_the_picture_of_a_real_rollout(
    cli: Cli, target: Target, tmp_path: Path
) -> None:
    started = cli(
        *target.start_args("--strategy", "Canary10Percent5Minutes", "--wait", "--output", "json")
    )
    assert started.exit_code == 0, started.stderr
    rollout = json.loads(started.stdout)["rolloutId"]
    path = tmp_path / "canary.svg"

    shown = cli("status", rollout, "--plot", str(path))

    assert shown.exit_code == 0, shown.stderr
    assert f"picture written to {path}" in shown.stdout
    svg = path.read_text()
    assert "shifted to 10% (step 1)" in svg
    assert "promoted: 100% on the target" in svg
    assert "succeeded: 100% on the target" in svg


def test_status_plot_refuses_another_format_before_reading_anything(cli: Cli) -> None:
    refused = cli("status", "orders-live-v2-1a2b3c4d", "--plot", "rollout.gif")

    assert refused.exit_code == 2
    assert "must end in .png or .svg" in refused.stderr


def test_a_mark_is_plain_data() -> None:
    picture = marks({"rolloutId": "r", "startedAt": "not a time", "checks": [{"at": None}]})
    assert (picture.weights, picture.marks) == ((), ())
    assert Mark.__dataclass_params__.frozen  # type: ignore[attr-defined]
