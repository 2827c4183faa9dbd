"""The sentences of a verdict, from its metrics."""

from __future__ import annotations

from astroiqa_indi.grading._reasons import explain
from astroiqa_indi.grading._verdict import FrameMetrics

_TRAILED = FrameMetrics(
    n_sources=120,
    n_stars=90,
    fwhm_px=3.0,
    elongation=1.1,
    orientation_coherence=0.3,
    position_angle_deg=40.0,
)


def _reasons(label: str, pairs: tuple[float, float]) -> list[str]:
    return explain(
        label,
        _TRAILED,
        max_fwhm_arcsec=None,
        min_stars=12,
        sky_ratio=None,
        density_cv=0.1,
        pairs=pairs,
    )


def test_a_double_image_is_named_with_its_offset() -> None:
    reasons = _reasons("very_bad_tracking", (0.42, 23.4))
    assert reasons[0].startswith("stars doubled: repeated 23 px away")
    assert any("elongated 1.1:1" in r for r in reasons)


def test_random_pairs_or_other_labels_do_not_claim_a_double_image() -> None:
    assert not any("doubled" in r for r in _reasons("very_bad_tracking", (0.08, 30.0)))
    assert not any("doubled" in r for r in _reasons("good", (0.42, 23.4)))
