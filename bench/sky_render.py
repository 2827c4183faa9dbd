"""Render time of a 2048x2048 frame with 2000 stars, against numpy's Poisson draw.

Run: ``.venv/bin/python -m bench.sky_render [--repeat N]``

Prints the median render time of a few representative frames (static good
frame, trailed frame, colour frame) and, measured in the same process as the
baseline, ``np.random.default_rng().poisson`` on the same 2048x2048 shape.
Target (docs/simulator.md): <= 0.5 s median on one core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

# one core: keep BLAS/FFT threads from spreading over the machine
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np

from simulators.sky import RIGS, Conditions, render_frame

SIZE = (2048, 2048)


def _time(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    mono = RIGS["refractor80_asi2600mm"]
    colour = RIGS["rasa8_asi2600mc"]
    fwhm = 3.0
    cases = {
        "mono, static (good)": (
            mono,
            Conditions(
                exposure_s=180,
                seeing_fwhm_arcsec=fwhm * mono.pixel_scale_arcsec,
                n_stars=2000,
                wind_rms_px=0.3,
                field_seed=1,
            ),
        ),
        "mono, trailed 12 px": (
            mono,
            Conditions(
                exposure_s=180,
                seeing_fwhm_arcsec=fwhm * mono.pixel_scale_arcsec,
                n_stars=2000,
                drift_px=12.0,
                drift_angle_deg=30,
                wind_rms_px=0.3,
                field_seed=1,
            ),
        ),
        "colour+aberration, trailed 4 px": (
            colour,
            Conditions(
                exposure_s=30,
                seeing_fwhm_arcsec=fwhm * colour.pixel_scale_arcsec,
                n_stars=2000,
                drift_px=4.0,
                wind_rms_px=0.3,
                field_seed=1,
            ),
        ),
    }
    rng = np.random.default_rng(0)
    for rig, cond in cases.values():  # warm caches (PSF tables, FFT plans)
        render_frame(rig, cond, rng, size=SIZE)
    lam = np.full(SIZE, 200.0)
    baseline = _time(lambda: rng.poisson(lam), args.repeat)
    print(f"baseline rng.poisson {SIZE[0]}x{SIZE[1]}: {baseline:.3f} s")
    results = []
    for name, (rig, cond) in cases.items():
        t = _time(lambda rig=rig, cond=cond: render_frame(rig, cond, rng, size=SIZE), args.repeat)
        results.append(t)
        print(f"render {name:32s}: {t:.3f} s  ({t / baseline:.2f} x poisson)")
    overall = statistics.median(results)
    print(
        f"median over cases: {overall:.3f} s ({overall / baseline:.2f} x poisson); target <= 0.5 s"
    )


if __name__ == "__main__":
    main()
