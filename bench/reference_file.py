"""The saved session transparency reference: its size, and the cost of saving it.

The live agent and batch runs rewrite the reference after every good frame
(docs/architecture.md, docs/stacking.md). This measures that write and the read at a
restart for a typical session (one setup, 20 good frames) and for the largest
reference kept (16 setups of 160 frames), each frame with 32 bright stars. Timings
are medians, as ratios to bare ``sep.Background`` + ``sep.extract`` on a 1920x1080
frame of the Seestar rig in the same process (the cheapest part of grading one frame).

Last, a paced run: 200 frames of one baseline extraction each, the largest reference
changing after every one and saved when ``SavePacer`` allows (as batch runs and the
agent do). It prints the share of that run's time spent saving.

Run: ``.venv/bin/python -m bench.reference_file [--repeat 20]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _median_s(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _reference(setups: int, frames: int) -> object:
    from astroiqa_indi.grading import (
        BrightStars,
        CameraSetup,
        FrameMetrics,
        TransparencyReference,
        Verdict,
    )
    from astroiqa_indi.labels import LABELS

    rng = np.random.default_rng(0)
    reference = TransparencyReference()
    probabilities = dict.fromkeys(LABELS, 0.0) | {"good": 1.0}
    for s in range(setups):
        for f in range(frames):
            flux = np.sort(rng.lognormal(9, 1.5, 32))[::-1]
            verdict = Verdict(
                label="good",
                probabilities=probabilities,
                metrics=FrameMetrics(n_sources=200, n_stars=100),
                bright_stars=BrightStars(tuple(flux), tuple(flux > 60000)),
            )
            # Eight fields per setup, 20 frames each.
            pointing = (10.0 * (f // 20), 20.0 + s)
            setup = CameraSetup(f"300s FILTER=F{s}", pointing, 1.0)
            reference = reference.record(verdict, setup)
    return reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import sep

    from astroiqa_indi.grading import SavePacer, load_reference, save_reference
    from simulators.sky import RIGS, conditions_for, render_frame

    rig = RIGS["seestar_s50"]
    rng = np.random.default_rng(7)
    image, _, _ = render_frame(rig, conditions_for("good", rig, rng), rng)
    data = np.ascontiguousarray(image, dtype=np.float32)

    def extract() -> object:
        background = sep.Background(data)
        return sep.extract(data - background, 1.5, err=background.globalrms)

    baseline = _median_s(extract, args.repeat)
    print(
        f"baseline: sep.Background + sep.extract on {data.shape[1]}x{data.shape[0]}: "
        f"{baseline * 1000:.1f} ms (median of {args.repeat})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transparency.json"
        for name, setups, frames in (("typical", 1, 20), ("largest", 16, 160)):
            reference = _reference(setups, frames)
            kept = sum(len(v) for v in reference.history.values())  # type: ignore[attr-defined]
            save = _median_s(lambda r=reference: save_reference(path, r), args.repeat)  # type: ignore[misc]
            size = path.stat().st_size
            load = _median_s(lambda: load_reference(path), args.repeat)
            print(
                f"{name}: {kept} frames, {size / 1024:.0f} KiB; save {save / baseline:.3f}x, "
                f"load {load / baseline:.3f}x the baseline"
            )
        pacer, saving, saves = SavePacer(), 0.0, 0
        started = time.perf_counter()
        for _ in range(200):
            extract()
            if pacer.due():
                took = save_reference(path, reference)
                pacer.took(took)
                saving += took
                saves += 1
        total = time.perf_counter() - started
        print(
            f"paced, largest: 200 frames, {saves} saves, saving {saving / total:.1%} of the "
            f"run's time ({saving / 200 / baseline:.3f}x the baseline per frame)"
        )


if __name__ == "__main__":
    main()
