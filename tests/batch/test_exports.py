"""``astroiqa_indi.batch`` exports its public names; options are validated."""

from __future__ import annotations

from pathlib import Path

import pytest

import astroiqa_indi.batch as batch
from astroiqa_indi.batch import BatchOptions


def test_all_is_complete() -> None:
    public = {n for n in vars(batch) if not n.startswith("_")} - {"annotations"}
    assert public <= set(batch.__all__)
    assert all(hasattr(batch, name) for name in batch.__all__)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keep": frozenset({"great"})}, "unknown labels"),
        ({"keep": frozenset()}, "at least one label"),
        ({"jobs": 0}, "jobs must be >= 1"),
        ({"resume": True}, "resume needs a report"),
        ({"move_rejected": Path("r"), "link_accepted": Path("l")}, "exclusive"),
        ({"dask": " "}, "scheduler address"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchOptions(**kwargs)  # type: ignore[arg-type]


def test_plot_goes_next_to_the_report() -> None:
    assert BatchOptions(report=Path("n/night.csv")).plot_path == Path("n/night.png")
    assert BatchOptions().plot_path is None
    assert BatchOptions(jobs=3).worker_count() == 3
