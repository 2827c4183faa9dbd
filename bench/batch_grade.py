"""Batch grading throughput: ``--jobs 1``, ``--jobs 2`` and ``--dask local`` on the same frames.

The frames are rendered once by the sky simulator into a temporary folder (every
label, the default rig cycle, 512x512 by default). Each configuration then grades the
whole folder through :func:`astroiqa_indi.batch.grade_paths`, exactly as
``astroiqa-indi grade FOLDER --report R.csv`` does (report fsynced per frame
included). Throughput is frames per second of grading, after the workers have
started and loaded the model; start-up is printed separately. Ratios are against
``--jobs 1`` measured in the same process, runs interleaved when repeated.

Run: ``.venv/bin/python -m bench.batch_grade [--frames 200] [--size 512] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

CONFIGS: tuple[tuple[str, dict[str, object]], ...] = (
    ("--jobs 1", {"jobs": 1}),
    ("--jobs 2", {"jobs": 2}),
    ("--dask local (2 workers)", {"jobs": 2, "dask": "local"}),
)


def _render(folder: Path, frames: int, size: int) -> list[Path]:
    from simulators.sky import write_dataset

    per_class = max(1, -(-frames // 5))
    write_dataset(folder, per_class=per_class, seed=4242, size=(size, size), workers=2)
    files = sorted((folder / "frames").glob("*.fits"))
    for extra in files[frames:]:
        extra.unlink()  # keep exactly the number asked for
    return files[:frames]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", type=int, default=512, help="frame side, px")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of all configurations")
    parser.add_argument("--model", default=None, help="model folder (default: shipped)")
    args = parser.parse_args()

    from astroiqa_indi.batch import BatchOptions, grade_paths

    with tempfile.TemporaryDirectory(prefix="astroiqa-batch-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        files = _render(root / "data", args.frames, args.size)
        print(
            f"rendered {len(files)} frames of {args.size}x{args.size} px in "
            f"{time.perf_counter() - t0:.0f} s; {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        rates: dict[str, list[float]] = {name: [] for name, _ in CONFIGS}
        starts: dict[str, list[float]] = {name: [] for name, _ in CONFIGS}
        for round_ in range(args.repeat):
            for i, (name, extra) in enumerate(CONFIGS):
                options = BatchOptions(
                    model_dir=Path(args.model) if args.model else None,
                    report=root / f"report-{round_}-{i}.csv",
                    **extra,  # type: ignore[arg-type]
                )
                result = grade_paths([root / "data" / "frames"], options=options)
                if result.graded != len(files):
                    raise SystemExit(f"{name}: graded {result.graded} of {len(files)} frames")
                rates[name].append(result.rate)
                starts[name].append(result.startup_s)
                print(
                    f"  round {round_ + 1} {name}: {result.rate:.2f} frames/s "
                    f"({result.grading_s:.1f} s, start-up {result.startup_s:.1f} s, "
                    f"load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )

    base = statistics.median(rates["--jobs 1"])
    jobs2 = statistics.median(rates["--jobs 2"])
    print()
    print(f"{'configuration':28} {'frames/s':>9} {'vs jobs 1':>10} {'start-up s':>11}")
    for name, _ in CONFIGS:
        rate = statistics.median(rates[name])
        start = statistics.median(starts[name])
        print(f"{name:28} {rate:9.2f} {rate / base:9.2f}x {start:11.1f}")
    dask = statistics.median(rates["--dask local (2 workers)"])
    print(f"jobs 2 / jobs 1 = {jobs2 / base:.2f} (goal >= 1.7)")
    print(f"dask local / jobs 2 = {dask / jobs2:.2f} (goal >= 0.85)")


if __name__ == "__main__":
    main()
