"""The five frame labels, in the fixed order used by every model output."""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["BAD_LABELS", "LABELS", "Label"]

Label = Literal["good", "bad_tracking", "very_bad_tracking", "bad_seeing", "background_issues"]

LABELS: Final[tuple[Label, ...]] = (
    "good",
    "bad_tracking",
    "very_bad_tracking",
    "bad_seeing",
    "background_issues",
)

BAD_LABELS: Final[frozenset[str]] = frozenset(LABELS[1:])
