"""The shipped model on real telescope frames (../shared/realdata): a sanity check.

These frames have no labels to tune to; the manifest's category guess is by eye.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from astroiqa_indi.config import load_profile
from astroiqa_indi.frames import Frame
from astroiqa_indi.grading import Grader, default_model_dir

REPO = Path(__file__).resolve().parents[2]
REALDATA = REPO.parent / "shared" / "realdata"
# The shipped profile, from the Seestar's own headers (250 mm, 2.9 um pixels, GRBG).
SEESTAR = load_profile(REPO / "profiles" / "seestar-s50.yaml")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def grader() -> Grader:
    if not REALDATA.is_dir():
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{REALDATA} is missing")
        pytest.skip(f"{REALDATA} is missing")
    if not (default_model_dir() / "model.json").is_file():
        pytest.fail("the shipped model is missing from astroiqa_indi/grading/model")
    return Grader.load()


def _seestar_labels(grader: Grader) -> list[str]:
    labels = []
    for path in sorted(REALDATA.glob("seestar_*.fit")):
        frame = Frame.from_path(path, pixel_scale_arcsec=SEESTAR.optics.pixel_scale(), bayer="GRBG")
        labels.append(grader.grade(frame, SEESTAR).label)
    assert len(labels) == 12
    return labels


def test_most_seestar_subs_grade_good_and_none_as_background(grader: Grader) -> None:
    labels = _seestar_labels(grader)
    # Sparse fields (15-40 stars) must not read as a background problem.
    assert "background_issues" not in labels
    assert labels.count("good") >= 7, labels


@pytest.mark.xfail(
    reason="known miss (docs/model-card.md): 5 of 12 real Seestar subs grade bad_tracking; "
    "their undersampled stars measure a coherent 1.18-1.32 axis ratio",
    strict=True,
)
def test_every_seestar_sub_grades_good(grader: Grader) -> None:
    assert set(_seestar_labels(grader)) == {"good"}


def test_rotating_mount_frame_is_not_good(grader: Grader) -> None:
    verdict = grader.grade(Frame.from_path(REALDATA / "panoptes_rotation.fits"), None)
    assert verdict.label != "good"


def test_every_real_frame_grades_and_small_cutouts_say_so(grader: Grader) -> None:
    with (REALDATA / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        frame = Frame.from_path(REALDATA / row["file"])
        verdict = grader.grade(frame, None)
        assert abs(sum(verdict.probabilities.values()) - 1) < 1e-3
        if 0 < verdict.metrics.n_stars < 8:
            assert not verdict.confident, row["file"]
            assert any("usable stars" in r for r in verdict.reasons), verdict.reasons
