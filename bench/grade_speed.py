"""Grading speed on a full-resolution 6248x4176 uint16 frame, as ratios in one process.

Baseline: bare ``sep.Background`` + ``sep.extract`` on the same full-resolution frame
(the cost floor of any sep-based grader). Also reported: model load time (after
imports), peak RSS, and ASTAP's ``-analyse`` on the same file when ``astap`` runs.

Run: ``.venv/bin/python -m bench.grade_speed [--repeat 5] [--model DIR]``
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def _render(path: Path, size: tuple[int, int] | None = None) -> tuple[str, float]:
    """Write a frame drawn for ``good`` (or a crop of the same sky); return the label
    its truth really earns and its simulated FWHM (px)."""
    from astropy.io import fits

    from simulators.sky import RIGS, conditions_for, label_of, render_frame

    rig = RIGS["refractor80_asi2600mm"]
    rng = np.random.default_rng(7)
    cond = conditions_for("good", rig, rng)
    array, header, truth = render_frame(rig, cond, rng, size=size)
    fits.PrimaryHDU(array, header=header).writeto(path, overwrite=True)
    label, clear = label_of(truth, rig)
    return (label if clear else f"{label} (near a boundary)"), truth.fwhm_px


def _astap_result(stdout: str) -> str:
    return ", ".join(line.strip() for line in stdout.splitlines() if "=" in line)


def _time_astap(path: Path, repeat: int) -> tuple[float | None, str, str]:
    """Median seconds of ``astap -f FILE -analyse``, a note on how it ran, its output.

    Debian's astap is a GTK program: it exits with "cannot open display" without
    an X server, even for ``-analyse``. Where ``Xvfb`` is installed it runs on a
    virtual display started once for all rounds, so only astap itself is timed.
    """
    astap = shutil.which("astap")
    if astap is None:
        return None, "astap not installed", ""
    command = [astap, "-f", str(path), "-analyse"]
    env = dict(os.environ)
    server = None
    probe = subprocess.run(command, capture_output=True, text=True, timeout=300)
    note = "run directly"
    if "cannot open display" in probe.stderr:
        xvfb = shutil.which("Xvfb")
        if xvfb is None:
            return None, "astap does not run headless (GTK: cannot open display)", ""
        display = f":{90 + os.getpid() % 9}"
        server = subprocess.Popen(
            [xvfb, display, "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(2.0)
        env["DISPLAY"] = display
        note = f"on a virtual display (Xvfb {display})"
    outputs: list[str] = []

    def run_astap() -> None:
        run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        outputs.append(run.stdout)

    try:
        return _median_time(run_astap, repeat), note, _astap_result(outputs[-1])
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)


def _median_time(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _paired_times(first: object, second: object, repeat: int) -> tuple[float, float, float]:
    """Medians of both and the median of their per-round ratio, rounds alternating.

    On a shared machine a neighbour's burst lands on whichever runs at that moment;
    alternating, and taking the ratio within each round, keeps it from landing on
    the baseline alone.
    """
    a, b = [], []
    for _ in range(repeat):
        for fn, times in ((first, a), (second, b)):
            t0 = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - t0)
    ratio = statistics.median(y / x for x, y in zip(a, b, strict=True))
    return statistics.median(a), statistics.median(b), ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", default=None)
    parser.add_argument("--frame", default=None, help="use this FITS file instead")
    args = parser.parse_args()

    import sep

    from astroiqa_indi.config import loads_profile
    from astroiqa_indi.frames import Frame
    from astroiqa_indi.grading import Grader
    from simulators.sky import RIGS, profile_yaml

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.frame) if args.frame else Path(tmp) / "full.fits"
        truth, true_fwhm = "unknown", None
        crop_fwhm = None
        if not args.frame:
            truth, true_fwhm = _render(path)
        # The rendered rig's own profile (optics, seeing limit, sky level, bias).
        profile = loads_profile(profile_yaml(RIGS["refractor80_asi2600mm"]))
        frame = Frame.from_path(path, pixel_scale_arcsec=profile.optics.pixel_scale())
        h, w = frame.data.shape

        # "Model load" is measured after the imports: importing TensorFlow and Keras
        # (several seconds, paid once per process) is reported on its own.
        t0 = time.perf_counter()
        import keras  # noqa: F401
        import tensorflow  # noqa: F401

        import_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        grader = Grader.load(args.model)
        load_s = time.perf_counter() - t0

        def baseline() -> None:
            data = np.array(frame.data, dtype=np.float32)
            bkg = sep.Background(data)
            sep.extract(data - bkg, 5.0, err=bkg.globalrms, minarea=5)

        grader.grade(frame, profile)  # warm caches once
        base_s, grade_s, grade_ratio = _paired_times(
            baseline, lambda: grader.grade(frame, profile), args.repeat
        )
        verdict = grader.grade(frame, profile)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        astap_s, astap_note, astap_out = _time_astap(path, max(1, args.repeat // 2))
        if not args.frame:
            # The same sky as a 640x640 crop, the size the model was trained on: the
            # full frame's median FWHM should read the same.
            crop_path = Path(tmp) / "crop.fits"
            _render(crop_path, size=(640, 640))
            crop = Frame.from_path(crop_path, pixel_scale_arcsec=profile.optics.pixel_scale())
            crop_fwhm = grader.grade(crop, profile).metrics.fwhm_px

    print(
        f"frame: {w}x{h} uint16, {verdict.metrics.n_sources} sources, "
        f"label {verdict.label} (truth {truth})"
    )
    # The grader's ratio is the median of the per-round ratios, not a ratio of medians.
    print(f"{'what':42} {'median s':>9} {'ratio':>7}")
    print(f"{'sep.Background + sep.extract (baseline)':42} {base_s:9.3f} {1.0:7.2f}")
    print(f"{'Grader.grade (whole pipeline)':42} {grade_s:9.3f} {grade_ratio:7.2f}")
    if astap_s is not None:
        print(f"{'astap -f FILE -analyse (process)':42} {astap_s:9.3f} {astap_s / base_s:7.2f}")
        print(f"astap {astap_note}: {astap_out}")
    else:
        print(astap_note)
    print(
        f"import tensorflow + keras: {import_s:.2f} s; model load after imports: {load_s:.2f} s; "
        f"peak RSS {peak_mb:.0f} MB"
    )
    stages = ", ".join(f"{k} {v:.3f}" for k, v in verdict.timings.items())
    print(f"stages (s): {stages}")
    if true_fwhm is not None:
        print(
            f"median FWHM: full frame {verdict.metrics.fwhm_px:.2f} px, 640x640 crop of the "
            f"same sky {crop_fwhm:.2f} px, simulated {true_fwhm:.2f} px"
        )


if __name__ == "__main__":
    main()
