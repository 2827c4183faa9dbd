"""The session transparency rule: star flux against the session's recent good frames."""

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from astroiqa_indi.frames import Frame
from astroiqa_indi.grading import (
    BrightStars,
    CameraSetup,
    FrameMetrics,
    TransparencyReference,
    Verdict,
    analyse,
    camera_setup,
)
from astroiqa_indi.grading._session import relative_flux
from astroiqa_indi.grading._sources import bright_stars, extract_sources
from astroiqa_indi.labels import LABELS

_PROBS = dict(zip(LABELS, (0.7, 0.1, 0.05, 0.1, 0.05), strict=True))
# A field's 12 brightest stars at full transparency, ADU; the first one saturates.
_TEN = CameraSetup("10s")
_FIELD = np.array([90000.0, 40000, 25000, 18000, 12000, 9000, 7000, 5000, 4000, 3000, 2500, 2000])


def _verdict(transparency: float | None, label: str = "good", *, n_sources: int = 24) -> Verdict:
    if transparency is None:
        stars = BrightStars()
    else:
        flux = _FIELD * transparency
        stars = BrightStars(tuple(flux), tuple(f >= 60000 for f in flux))
    metrics = FrameMetrics(n_sources=n_sources, n_stars=min(n_sources, 10))
    return Verdict(
        label=label,  # type: ignore[arg-type]
        probabilities=_PROBS,
        metrics=metrics,
        reasons=("round stars",),
        bright_stars=stars,
    )


def _session(levels: list[float], setup: CameraSetup = _TEN) -> TransparencyReference:
    reference = TransparencyReference()
    for level in levels:
        reference = reference.record(_verdict(level), setup)
    return reference


def test_bright_stars_of_a_frame_come_brightest_first_with_saturation() -> None:
    image = np.zeros((64, 64), np.float32)
    image[10:13, 10:13] = 100.0  # 900 ADU
    image[40:43, 40:43] = 1000.0  # 9000 ADU, at the saturation level
    image[20:23, 50:53] = 300.0  # 2700 ADU
    sources = extract_sources(image + 10.0, saturation=1010.0)
    stars = bright_stars(sources, fwhm_px=3.0)
    assert stars.flux == pytest.approx((9000.0, 2700.0, 900.0), rel=0.05)
    assert stars.saturated == (True, False, False)
    with pytest.raises(ValueError, match="decreasing"):
        BrightStars((1.0, 2.0), (False, False))


def test_relative_flux_compares_the_same_ranks_and_skips_saturated_ones() -> None:
    clear, veiled = _verdict(1.0), _verdict(0.4, n_sources=10)
    # Ranks 1-4 (half of the veiled frame's 10 detections, the saturated first skipped).
    assert relative_flux(veiled, clear) == pytest.approx(0.4)
    assert relative_flux(clear, veiled) == pytest.approx(2.5)
    assert relative_flux(_verdict(0.4, n_sources=6), clear) is None  # only 2 usable ranks


def test_a_good_frame_with_faint_stars_becomes_background_issues() -> None:
    reference = _session([1.0, 0.98, 1.01])
    judged = reference.judge(_verdict(0.4), _TEN, min_transparency=0.5)
    assert judged.label == "background_issues"
    assert judged.transparency == pytest.approx(0.4 / 1.008, 1e-3)
    assert judged.reasons[0].startswith("stars at 0.40 of their flux")
    assert judged.reasons[1:] == ("round stars",)
    assert dict(judged.probabilities) == pytest.approx(_PROBS)  # the network's, untouched
    # Against the brightest of the remembered frames (10th percentile of the ratios).
    assert reference.transparency(_verdict(0.4), _TEN) == pytest.approx(0.4 / 1.008, 1e-3)


def test_frames_within_the_limit_keep_their_label_and_carry_the_ratio() -> None:
    reference = _session([1.0, 1.0, 1.0])
    kept = reference.judge(_verdict(0.6), _TEN, min_transparency=0.5)
    assert kept.label == "good" and kept.reasons == ("round stars",)
    assert kept.transparency == pytest.approx(0.6)
    assert kept.to_dict()["transparency"] == pytest.approx(0.6)
    trailed = _verdict(0.1, "bad_tracking")
    assert reference.judge(trailed, _TEN, min_transparency=0.5) is trailed
    assert trailed.transparency is None


def test_no_judgement_before_enough_frames_of_the_same_setup() -> None:
    reference = _session([1.0, 1.0])
    assert reference.judge(_verdict(0.1), _TEN, min_transparency=0.5).label == "good"
    reference = reference.record(_verdict(1.0), _TEN)
    assert reference.judge(_verdict(0.1), _TEN, min_transparency=0.5).label != "good"
    # Another filter or exposure is another reference.
    assert (
        reference.judge(_verdict(0.1), CameraSetup("30s FILTER=Ha"), min_transparency=0.5).label
        == "good"
    )
    assert reference.judge(_verdict(None), _TEN, min_transparency=0.5).label == "good"


def test_only_good_frames_with_stars_are_remembered() -> None:
    reference = _session([1.0, 1.0, 1.0])
    assert reference.record(_verdict(0.2, "background_issues"), _TEN) is reference
    assert reference.record(_verdict(None), _TEN) is reference
    many = _session([1.0 + i / 100 for i in range(30)])
    kept = many.history["10s"]
    assert len(kept) == 20 and kept[0].bright_stars.flux[1] == pytest.approx(40000 * 1.10)


def test_a_slowly_thickening_cloud_is_measured_against_clear_sky() -> None:
    # Each frame 8 % fainter than the last: never a big step from the one before.
    reference = TransparencyReference()
    labels = []
    for i in range(15):
        verdict = reference.judge(_verdict(0.92**i), _TEN, min_transparency=0.5)
        reference = reference.record(verdict, _TEN)
        labels.append(verdict.label)
    # 0.92**8 = 0.51, 0.92**9 = 0.47: flagged from the ninth or tenth frame on,
    # against the clear frames among the remembered ones.
    assert labels.index("background_issues") in (9, 10)
    assert labels[:9] == ["good"] * 9


def test_fields_taken_in_turn_each_keep_their_own_window() -> None:
    # Two targets alternating all night (a scheduler's plan): each keeps its newest
    # 20 frames; sharing one window of 20, each would keep only 10.
    m31, m33 = CameraSetup("10s", (10.7, 41.3), 1.0), CameraSetup("10s", (23.5, 30.7), 1.0)
    reference = TransparencyReference()
    for i in range(30):
        reference = reference.record(_verdict(1.0 + i / 100), m31)
        reference = reference.record(_verdict(0.5 + i / 100), m33)
    kept = reference.history["10s"]
    assert len(kept) == 40
    first_m31 = next(r for r in kept if r.setup == m31)
    assert first_m31.bright_stars.flux[1] == pytest.approx(40000 * 1.10)
    # Each is judged against itself: the other field's brighter stars do not count.
    on_m33 = reference.transparency(_verdict(0.79), m33)
    assert on_m33 is not None and 1.0 <= on_m33 < 1.05  # its own frames reach 0.79
    on_m31 = reference.transparency(_verdict(0.79), m31)
    assert on_m31 is not None and on_m31 < 0.65
    # Many fields: at most eight fields' worth per setup, the oldest forgotten first.
    for field in range(12):
        for _ in range(20):
            reference = reference.record(_verdict(1.0), CameraSetup("10s", (field * 5.0, 0.0), 1.0))
    assert len(reference.history["10s"]) == 160
    assert reference.transparency(_verdict(1.0), m31) is None


def test_a_frame_without_pointing_does_not_count_as_every_field() -> None:
    fields = [CameraSetup("10s", (ra, 0.0), 1.0) for ra in (10.0, 20.0, 30.0)]
    reference = TransparencyReference()
    for setup in fields:
        for _ in range(20):
            reference = reference.record(_verdict(1.0), setup)
    reference = reference.record(_verdict(1.0), CameraSetup("10s"))  # the mount dropped out
    kept = reference.history["10s"]
    assert len(kept) == 61
    assert all(reference.transparency(_verdict(1.0), setup) == 1.0 for setup in fields)


def test_the_setup_unused_longest_is_forgotten_first() -> None:
    reference = TransparencyReference()
    for filter_name in [f"F{i}" for i in range(17)] + ["F0"]:
        reference = reference.record(_verdict(1.0), CameraSetup(f"10s FILTER={filter_name}"))
    assert len(reference.history) == 16
    assert "10s FILTER=F1" not in reference.history and "10s FILTER=F0" in reference.history


def test_reference_round_trips_through_json() -> None:
    here = CameraSetup("10s FILTER=L", (83.8, -5.4), 0.4)
    reference = _session([1.0, 0.98, 1.01], here).record(_verdict(0.99), CameraSetup("?s"))
    again = TransparencyReference.from_dict(json.loads(json.dumps(reference.to_dict())))
    assert again.history.keys() == reference.history.keys()
    assert [r.setup for r in again.history[here.key]] == [here] * 3
    assert again.transparency(_verdict(0.4), here) == reference.transparency(_verdict(0.4), here)
    judged = again.judge(_verdict(0.4), here, min_transparency=0.5)
    assert judged.label == "background_issues"
    payload = reference.to_dict()
    for broken in (
        {**payload, "format": 99},
        {**payload, "history": {"10s": [{"setup": {"key": "10s"}}]}},
        {**payload, "history": {"10s": [{**payload["history"][here.key][0], "flux": [1.0, 2.0]}]}},
        {**payload, "window": float("inf")},
        [],
    ):
        with pytest.raises(ValueError, match="not a transparency reference"):
            TransparencyReference.from_dict(broken)  # type: ignore[arg-type]


def test_reference_validates_its_settings() -> None:
    with pytest.raises(ValueError, match="min_frames"):
        TransparencyReference(window=3, min_frames=4)
    with pytest.raises(ValueError, match="percentile"):
        TransparencyReference(percentile=101)


def test_camera_setup_names_exposure_filter_binning_and_target() -> None:
    header = fits.Header({"FILTER": "Ha ", "XBINNING": 2, "OBJECT": "M 31"})
    frame = Frame(data=np.zeros((8, 8), np.float32), header=header, exposure_s=300.0)
    assert camera_setup(frame) == CameraSetup("300s FILTER=Ha XBINNING=2 OBJECT=M 31")
    bare = Frame(data=np.zeros((8, 8), np.float32))
    assert camera_setup(bare) == CameraSetup("?s")


def test_camera_setup_reads_where_the_frame_points_and_how_wide_it_is() -> None:
    header = fits.Header({"OBJCTRA": "05 35 17.3", "OBJCTDEC": "-05 23 28"})
    frame = Frame(
        data=np.zeros((400, 600), np.float32),
        header=header,
        exposure_s=60.0,
        pixel_scale_arcsec=2.0,
    )
    setup = camera_setup(frame)
    assert setup.key == "60s"
    assert setup.pointing == pytest.approx((83.822083, -5.391111))
    assert setup.field_deg == pytest.approx(400 * 2.0 / 3600)


def test_same_field_within_a_quarter_of_the_field_width() -> None:
    here = CameraSetup("10s", (83.8, -5.4), 0.4)
    assert here.same_field(CameraSetup("10s", (83.8 + 0.09 / np.cos(np.radians(5.4)), -5.4), 0.4))
    assert not here.same_field(CameraSetup("10s", (83.8, -5.29), 0.4))
    # The narrower field decides; without any width, 0.1 deg.
    assert not here.same_field(CameraSetup("10s", (83.8, -5.33), 0.2))
    assert CameraSetup("10s", (83.8, -5.4)).same_field(CameraSetup("10s", (83.8, -5.31)))
    assert not CameraSetup("10s", (83.8, -5.4)).same_field(CameraSetup("10s", (83.8, -5.29)))
    # Across RA 0 and near the pole.
    assert CameraSetup("10s", (359.95, 0.0), 1.0).same_field(CameraSetup("10s", (0.05, 0.0), 1.0))
    assert CameraSetup("10s", (0.0, 89.9), 1.0).same_field(CameraSetup("10s", (180.0, 89.9), 1.0))
    # A frame that does not say where it points could be anywhere: compared as before.
    assert here.same_field(CameraSetup("10s"))


def test_a_slew_to_a_sparser_field_is_not_taken_for_cloud() -> None:
    m31 = CameraSetup("10s", (10.68, 41.27), 1.0)
    m33 = CameraSetup("10s", (23.46, 30.66), 1.0)
    reference = _session([1.0, 1.0, 1.0], m31)
    # M33's brightest stars are fainter than M31's: the same sky, another field.
    assert reference.judge(_verdict(0.3), m33, min_transparency=0.5).label == "good"
    assert reference.transparency(_verdict(0.3), m33) is None
    for _ in range(3):
        reference = reference.record(_verdict(0.3), m33)
    assert reference.transparency(_verdict(0.3), m33) == pytest.approx(1.0)
    assert reference.judge(_verdict(0.1), m33, min_transparency=0.5).label == "background_issues"
    # Back on M31, a dither away, its own frames are the reference again.
    dithered = CameraSetup("10s", (10.69, 41.27), 1.0)
    assert reference.transparency(_verdict(0.9), dithered) == pytest.approx(0.9)
    # Without pointing keywords the slew looks like a thick cloud.
    blind = _session([1.0, 1.0, 1.0])
    assert blind.judge(_verdict(0.3), _TEN, min_transparency=0.5).label == "background_issues"


@pytest.mark.slow
def test_relative_flux_follows_the_simulated_transparency(tmp_path: Path) -> None:
    from simulators.observatory import write_night_files
    from simulators.sky import RIGS, SCENARIO_DIR, load_scenario

    rig = RIGS["edgehd8_asi294mc_reducer"]
    scenario = load_scenario(SCENARIO_DIR / "thin-cloud.yaml")
    # The clear start, then the veil thickening from 0.95 to 0.2.
    files = write_night_files(
        SCENARIO_DIR / "thin-cloud.yaml", tmp_path, rig=rig.name, size=(480, 360), count=27
    )
    verdicts, transparency = [], []
    for item in files:
        frame = Frame.from_path(
            item.path, pixel_scale_arcsec=rig.pixel_scale_arcsec, bayer=rig.bayer
        )
        analysis = analyse(
            frame.data,
            saturation=frame.saturation_adu,
            pixel_scale_arcsec=frame.pixel_scale_arcsec,
            max_fwhm_arcsec=rig.max_fwhm_arcsec,
            nominal_sky_adu=None,
        )
        metrics = analysis.measured.metrics
        verdicts.append(
            Verdict(
                label="good",
                probabilities=_PROBS,
                metrics=metrics,
                bright_stars=bright_stars(analysis.sources, fwhm_px=metrics.fwhm_px),
            )
        )
        conditions, _ = scenario.conditions_at((item.index - 1) * scenario.exposure_s, rig)
        transparency.append(conditions.transparency)
    errors = [
        ratio - t / transparency[0]
        for verdict, t in zip(verdicts[1:], transparency[1:], strict=True)
        if (ratio := relative_flux(verdict, verdicts[0])) is not None
    ]
    assert len(errors) >= 20
    # A satellite or a cosmic ray among the brightest detections can shift one
    # frame's ranks; the rest follow the veil within a few hundredths.
    assert np.median(np.abs(errors)) < 0.05
    assert np.mean(np.abs(errors) < 0.08) >= 0.9, errors


def test_a_saved_reference_loads_back_and_a_broken_one_says_so(tmp_path: Path) -> None:
    from astroiqa_indi.errors import ReferenceFileError
    from astroiqa_indi.grading import load_reference, save_reference

    path = tmp_path / "transparency.json"
    assert load_reference(path) is None
    reference = _session([1.0, 0.98, 1.01])
    save_reference(path, reference)
    loaded = load_reference(path, max_age_s=60)
    assert loaded is not None and loaded.transparency(_verdict(0.4), _TEN) == pytest.approx(
        reference.transparency(_verdict(0.4), _TEN)
    )
    path.write_text('{"format": 1')
    with pytest.raises(ReferenceFileError, match="cannot read"):
        load_reference(path)
    path.write_text('{"format": 1, "history": []}')  # JSON, but not a reference
    with pytest.raises(ReferenceFileError, match="not a transparency reference"):
        load_reference(path)
