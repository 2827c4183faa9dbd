"""A grading bug on one odd frame, for the tests of what the agent and batch runs do
when the grader raises: the real grader on every other call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from astroiqa_indi.grading import Grader


def grade_failing_on(call: int) -> Callable[..., Any]:
    """A replacement for :meth:`Grader.grade` that raises on its ``call``-th call."""
    real = Grader.grade
    calls = 0

    def grade(self: Grader, frame: Any, profile: Any = None) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            raise ValueError("data must be finite")
        return real(self, frame, profile)

    return grade
