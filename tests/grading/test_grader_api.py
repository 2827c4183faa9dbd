"""The shipped grader's public API: grade, grade_async from threads, predict_batch."""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from astroiqa_indi.config import Profile, loads_profile
from astroiqa_indi.frames import Frame
from astroiqa_indi.grading import METRIC_FEATURES, Grader, analyse, default_model_dir, represent
from astroiqa_indi.grading._represent import CELL_SIZE
from astroiqa_indi.labels import LABELS
from simulators.sky import RIGS, conditions_for, profile_yaml, render_frame

RIG = RIGS["refractor80_asi2600mm"]
PROFILE = loads_profile(profile_yaml(RIG))


@pytest.fixture(scope="module")
def grader() -> Grader:
    if not (default_model_dir() / "model.json").is_file():
        pytest.fail("the shipped model is missing from astroiqa_indi/grading/model")
    return Grader.load()


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    out = []
    for seed, label in enumerate(("good", "very_bad_tracking", "bad_seeing")):
        rng = np.random.default_rng(100 + seed)
        array, header, _ = render_frame(RIG, conditions_for(label, RIG, rng), rng, size=(512, 384))
        out.append(
            Frame.from_array(array, header=header, pixel_scale_arcsec=RIG.pixel_scale_arcsec)
        )
    return out


def test_predict_batch_matches_grade(grader: Grader, frames: list[Frame]) -> None:
    images, tables, verdicts = [], [], []
    for frame in frames:
        analysis = analyse(
            frame.data,
            saturation=frame.saturation_adu,
            pixel_scale_arcsec=RIG.pixel_scale_arcsec,
            max_fwhm_arcsec=PROFILE.quality.max_fwhm_arcsec,
            nominal_sky_adu=PROFILE.quality.nominal_sky_adu,
            bias_adu=PROFILE.quality.bias_adu,
        )
        image, table = represent(analysis, grader.som)
        images.append(image)
        tables.append(table)
        verdicts.append(grader.grade(frame, PROFILE))
    probs = grader.predict_batch(np.stack(images), np.stack(tables), batch_size=2)
    assert probs.shape == (3, len(LABELS))
    for row, verdict in zip(probs, verdicts, strict=True):
        expected = [verdict.probabilities[name] for name in LABELS]
        np.testing.assert_allclose(row / row.sum(), expected, atol=1e-5)
    # The three frames are drawn for different labels: the network tells them apart.
    assert len({int(np.argmax(row)) for row in probs}) >= 2


def test_predict_batch_rejects_wrong_shapes(grader: Grader) -> None:
    side = grader.som.rows * CELL_SIZE
    width = grader.som.n_nodes + len(METRIC_FEATURES)
    with pytest.raises(ValueError, match="expected images"):
        grader.predict_batch(np.zeros((2, side, side + 1)), np.zeros((2, width)))
    with pytest.raises(ValueError, match="expected images"):
        grader.predict_batch(np.zeros((2, side, side)), np.zeros((2, width - 1)))
    with pytest.raises(ValueError, match="2 images but 3 tables"):
        grader.predict_batch(np.zeros((2, side, side)), np.zeros((3, width)))


async def test_grade_async_from_threads_gives_the_same_verdicts(
    grader: Grader, frames: list[Frame]
) -> None:
    serial = [grader.grade(frame, PROFILE).probabilities for frame in frames]
    with ThreadPoolExecutor(max_workers=3) as pool:
        parallel = await asyncio.gather(
            *(grader.grade_async(frame, PROFILE, executor=pool) for frame in frames * 2)
        )
    assert [v.probabilities for v in parallel] == serial * 2


def test_a_saturated_sky_says_so_and_a_dark_empty_frame_does_not(grader: Grader) -> None:
    # A 12-bit camera writing BITPIX 16: its saturated sky sits at 4095, which no
    # header states.
    full = np.full((300, 400), 4095, np.uint16)
    full[::37, ::41] = 4000  # a few dead columns' worth of lower pixels
    verdict = grader.grade(Frame.from_array(full), PROFILE)
    assert verdict.label == "background_issues"
    assert any("saturation level" in r for r in verdict.reasons), verdict.reasons
    # A known saturation level: a sky at 95 % of it.
    rng = np.random.default_rng(5)
    bright = rng.normal(62_000, 30, (300, 400)).clip(0, 65535).astype(np.uint16)
    verdict = grader.grade(Frame.from_array(bright), PROFILE)
    assert verdict.label == "background_issues"
    assert any("saturation level" in r for r in verdict.reasons), verdict.reasons
    # Dark sky, no stars (a closed cover): not called saturated.
    dark = rng.normal(800, 10, (300, 400)).astype(np.float32)
    verdict = grader.grade(Frame.from_array(dark), PROFILE)
    assert verdict.label == "background_issues"
    assert any("no usable stars" in r for r in verdict.reasons), verdict.reasons
    assert not any("saturation" in r for r in verdict.reasons)
    # An empty sky is plainly a background problem, said by the rules, not the network.
    assert verdict.confident and verdict.model_version == "rules"


def test_detections_none_of_them_a_star_are_not_a_confident_verdict(grader: Grader) -> None:
    # Long streaks (a mount that did not track): sep detects them, none is a star.
    image = np.random.default_rng(9).normal(800, 10, (300, 400)).astype(np.float32)
    for row in range(20, 290, 27):
        image[row : row + 3, 40:360] += 400.0
    verdict = grader.grade(Frame.from_array(image), PROFILE)
    assert verdict.metrics.n_stars == 0 and verdict.metrics.n_sources >= 8
    assert verdict.label == "background_issues" and not verdict.confident
    assert "none usable as a star" in verdict.reasons[0]


def _tracking_frame(seed: int, label: str) -> Frame:
    rng = np.random.default_rng(seed)
    array, header, _ = render_frame(RIG, conditions_for(label, RIG, rng), rng, size=(512, 384))
    return Frame.from_array(array, header=header, pixel_scale_arcsec=RIG.pixel_scale_arcsec)


def _with_max_elongation(limit: float) -> Profile:
    return dataclasses.replace(
        PROFILE, quality=dataclasses.replace(PROFILE.quality, max_elongation=limit)
    )


def test_max_elongation_excuses_mild_elongation_only(grader: Grader) -> None:
    frame = _tracking_frame(202, "bad_tracking")
    strict = grader.grade(frame, PROFILE)
    assert strict.label == "bad_tracking"  # the premise: the network calls it so
    ratio = strict.metrics.elongation
    assert ratio is not None

    tolerant = grader.grade(frame, _with_max_elongation(ratio + 0.05))
    assert tolerant.label not in {"bad_tracking", "very_bad_tracking"}
    rest = {k: v for k, v in strict.probabilities.items() if "tracking" not in k}
    assert tolerant.label == max(rest, key=rest.__getitem__)
    assert tolerant.probabilities == strict.probabilities  # the network's, untouched
    # Sure of it only when the network gave that label 0.6 itself.
    assert tolerant.confident == (strict.probabilities[tolerant.label] >= 0.6)
    assert "not counted as bad_tracking" in tolerant.reasons[0]
    assert not any(r.startswith("round stars") for r in tolerant.reasons)

    # Stars more elongated than the tolerance stay bad_tracking.
    assert grader.grade(frame, _with_max_elongation(ratio - 0.05)).label == "bad_tracking"


def test_max_elongation_never_excuses_trails(grader: Grader) -> None:
    frame = _tracking_frame(207, "bad_tracking")
    strict = grader.grade(frame, PROFILE)
    assert strict.label == "very_bad_tracking"  # the premise
    assert grader.grade(frame, _with_max_elongation(3.0)).label == "very_bad_tracking"
