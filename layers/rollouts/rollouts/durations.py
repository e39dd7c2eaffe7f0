"""Durations in the units people read: ``30 min``, not ``1800 s``."""

from __future__ import annotations

_UNITS = (("day", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def human(seconds: float) -> str:
    """``seconds`` in at most two units, largest first, rounded down to whole seconds.

    >>> human(1800), human(90), human(45), human(0), human(5400), human(90_000)
    ('30 min', '1 min 30 s', '45 s', '0 s', '1 h 30 min', '1 day 1 h')
    >>> human(172_800)
    '2 days'
    """
    left = max(int(seconds), 0)
    if left == 0:
        return "0 s"
    parts: list[str] = []
    for unit, size in _UNITS:
        count, left = divmod(left, size)
        if count:
            name = f"{unit}s" if unit == "day" and count != 1 else unit
            parts.append(f"{count} {name}")
        if len(parts) == 2 or (parts and left == 0):
            break
        if parts and count == 0:
            break  # "1 h 5 s" would skip a unit: say "1 h"
    return " ".join(parts)
