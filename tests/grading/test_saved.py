"""Pacing the rewrites of a saved transparency reference."""

from __future__ import annotations

import pytest

from astroiqa_indi.grading import SavePacer


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_slow_save_spaces_the_next_by_its_share_of_the_time() -> None:
    clock = _Clock()
    pacer = SavePacer(share=0.05, clock=clock)
    assert pacer.due()  # the first save is never held back
    pacer.took(0.5)  # the largest reference: about two sep extractions
    clock.now += 9.9
    assert not pacer.due()
    clock.now += 0.1
    assert pacer.due()  # 0.5 s of saving per 10 s: 5%
    pacer.took(0.0004)  # a typical reference: every frame
    clock.now += 0.008
    assert pacer.due()


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="share"):
        SavePacer(share=share)
