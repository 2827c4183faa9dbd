"""Grading speed on ever denser star fields, as ratios to bare sep in one process.

A crowded field (a globular cluster, the Milky Way core) can overflow sep's
deblending; the grader then repeats the whole extraction at twice the threshold, and
again at four times. For each density this prints the threshold that worked, and the
grading time as a ratio to one bare ``sep.Background`` + ``sep.extract`` at that same
threshold (the floor any sep-based grader pays), and to bare sep at the default
threshold when that one works.

Run: ``.venv/bin/python -m bench.dense_field [--repeat 3] [--size 2048]``
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from bench.grade_speed import _paired_times

# (stars drawn, seeing as a multiple of the good frame's): the simulator draws at most
# one star per 80 px^2, about 52,000 in 2048x2048; wider stars crowd it further.
_FIELDS = ((1_000, 1.0), (10_000, 1.0), (50_000, 1.0), (10_000, 3.0), (50_000, 3.0))


def _render(path: Path, n_stars: int, seeing: float, size: int) -> int:
    """Write a good frame of the refractor rig with ``n_stars`` drawn and its seeing
    times ``seeing``; the number of stars in it."""
    from astropy.io import fits

    from simulators.sky import RIGS, conditions_for, render_frame

    rig = RIGS["refractor80_asi2600mm"]
    rng = np.random.default_rng(11)
    good = conditions_for("good", rig, rng)
    cond = dataclasses.replace(
        good, n_stars=n_stars, seeing_fwhm_arcsec=good.seeing_fwhm_arcsec * seeing
    )
    array, header, truth = render_frame(rig, cond, rng, size=(size, size))
    fits.PrimaryHDU(array, header=header).writeto(path, overwrite=True)
    return int(truth.n_stars)


def _bare(data: np.ndarray, sigma: float) -> None:
    import sep

    from astroiqa_indi.grading._sources import _MIN_AREA

    sub = np.array(data, dtype=np.float32)
    bkg = sep.Background(sub)
    sep.extract(sub - bkg, sigma, err=bkg.globalrms, minarea=_MIN_AREA)


def _working_sigma(data: np.ndarray) -> float:
    """The first threshold of the grader's ladder at which bare sep does not overflow."""
    from astroiqa_indi.grading._sources import DETECT_SIGMA

    for sigma in (DETECT_SIGMA, 2 * DETECT_SIGMA, 4 * DETECT_SIGMA):
        try:
            _bare(data, sigma)
        except Exception as exc:  # sep raises plain Exception on buffer overflows
            if "overflow" not in str(exc) and "buffer" not in str(exc):
                raise
            continue
        return sigma
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    import sep

    from astroiqa_indi.config import loads_profile
    from astroiqa_indi.frames import Frame
    from astroiqa_indi.grading import Grader
    from astroiqa_indi.grading._sources import _PIXSTACK, DETECT_SIGMA
    from simulators.sky import RIGS, profile_yaml

    # The limits the grader sets, so the baseline overflows where the grader does.
    sep.set_extract_pixstack(_PIXSTACK)
    sep.set_sub_object_limit(4096)
    profile = loads_profile(profile_yaml(RIGS["refractor80_asi2600mm"]))
    grader = Grader.load(args.model)
    print(f"{args.size}x{args.size} frames of refractor80_asi2600mm, {args.repeat} rounds")
    print(
        f"{'stars drawn':>11} {'seeing':>6} {'in frame':>9} {'sources':>8} {'sigma':>6} "
        f"{'bare s':>8} {'grade s':>8} {'ratio':>6} {'to 5-sigma bare':>15}  label"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n_stars, seeing in _FIELDS:
            path = Path(tmp) / f"dense-{n_stars}-{seeing:g}.fits"
            inside = _render(path, n_stars, seeing, args.size)
            frame = Frame.from_path(path, pixel_scale_arcsec=profile.optics.pixel_scale())
            sigma = _working_sigma(frame.data)
            grader.grade(frame, profile)  # warm caches once
            base_s, grade_s, ratio = _paired_times(
                lambda f=frame, s=sigma: _bare(f.data, s),
                lambda f=frame: grader.grade(f, profile),
                args.repeat,
            )
            to_default = "overflow"
            if sigma == DETECT_SIGMA:
                to_default = f"{ratio:.2f}"
            verdict = grader.grade(frame, profile)
            print(
                f"{n_stars:>11} {seeing:>5g}x {inside:>9} {verdict.metrics.n_sources:>8} "
                f"{sigma:>6.0f} "
                f"{base_s:>8.3f} {grade_s:>8.3f} {ratio:>6.2f} {to_default:>15}  {verdict.label}"
            )


if __name__ == "__main__":
    main()
