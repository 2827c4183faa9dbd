"""``write_dataset``: a labelled folder of rendered frames.

Layout::

    DIR/frames/frame_000000.fits ...
    DIR/labels.csv            file, label, label_clear, rig, seed, <every Truth field>
    DIR/profiles/<rig>.yaml   a valid profile for each rig used

Frame ``i`` is drawn from ``np.random.SeedSequence([seed, i])`` alone, so the
output is byte-identical for a given seed whatever the number of workers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from astroiqa_indi.labels import LABELS

from ._labels import Truth, label_of
from ._render import render_frame
from ._rigs import RIGS, Rig, profile_yaml, random_rig
from ._sampling import FEWEST_STARS, conditions_for

__all__ = ["CSV_COLUMNS", "write_dataset"]

CSV_COLUMNS: tuple[str, ...] = (
    "file",
    "label",
    "label_clear",
    "rig",
    "seed",
    *(f.name for f in fields(Truth)),
)
_BOUNDARY_SHARE = 0.5  # share of ambiguous frames in a --boundary set


@dataclass(frozen=True)
class _Job:
    index: int
    seed: int
    label: str
    rigs: tuple[Rig, ...]
    random_rigs: bool
    boundary: bool
    size: tuple[int, int] | None
    frames_dir: Path
    fewest_stars: int = FEWEST_STARS


def _frame(job: _Job) -> tuple[dict[str, str | int | float], Rig]:
    rng = np.random.default_rng(np.random.SeedSequence([job.seed, job.index]))
    # each round of five labels shares a rig, so every label sees every rig
    n_round = job.index // len(LABELS)
    rig = random_rig(rng) if job.random_rigs else job.rigs[n_round % len(job.rigs)]
    clear = not (job.boundary and rng.random() < _BOUNDARY_SHARE)
    # conditions_for checks the label on the full sensor and typical crops;
    # re-draw in the rare case the rendered crop lands elsewhere.
    for _ in range(20):
        cond = conditions_for(job.label, rig, rng, clear=clear, fewest_stars=job.fewest_stars)
        array, header, truth = render_frame(rig, cond, rng, size=job.size)
        label, is_clear = label_of(truth, rig)
        if (label, is_clear) == (job.label, clear):
            break
    else:  # pragma: no cover - practically unreachable
        raise RuntimeError(f"frame {job.index}: could not render a {job.label!r} frame")
    name = f"frame_{job.index:06d}.fits"
    _write_fits(job.frames_dir / name, array, header)
    row: dict[str, str | int | float] = {
        "file": f"frames/{name}",
        "label": label,
        "label_clear": int(is_clear),
        "rig": rig.name,
        "seed": job.seed,
    }
    row.update(truth.to_row())
    return row, rig


def _write_fits(path: Path, array: np.ndarray, header: object) -> None:
    from astropy.io import fits

    hdu = fits.PrimaryHDU(data=array, header=header)
    buf = io.BytesIO()
    hdu.writeto(buf)
    path.write_bytes(buf.getvalue())


def write_dataset(
    out_dir: str | Path,
    *,
    per_class: int,
    seed: int,
    rigs: Sequence[Rig | str] | None = None,
    random_rigs: bool = False,
    boundary: bool = False,
    size: tuple[int, int] | None = None,
    workers: int = 1,
    fewest_stars: int = FEWEST_STARS,
) -> Path:
    """Render ``per_class`` frames of every label into ``out_dir``.

    Parameters
    ----------
    out_dir
        Output folder (created; existing files with the same names are overwritten).
    per_class
        Frames per label.
    seed
        Dataset seed: same seed, same bytes.
    rigs
        Rigs (or catalogue names) to cycle through; default: the whole catalogue.
    random_rigs
        Draw a new random rig for every frame instead.
    boundary
        Make about half the frames ambiguous (``label_clear=0``).
    size
        ``(width, height)`` crop to render instead of full sensors.
    workers
        Processes to render with (output does not depend on it).
    fewest_stars
        Lower end of the stars drawn per frame (see ``conditions_for``).

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    if per_class < 1:
        raise ValueError("per_class must be >= 1")
    chosen = tuple(RIGS[r] if isinstance(r, str) else r for r in (rigs or tuple(RIGS.values())))
    if not chosen and not random_rigs:
        raise ValueError("no rigs")
    out = Path(out_dir)
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    (out / "profiles").mkdir(exist_ok=True)
    jobs = [
        _Job(
            i,
            seed,
            LABELS[i % len(LABELS)],
            chosen,
            random_rigs,
            boundary,
            size,
            frames_dir,
            fewest_stars,
        )
        for i in range(per_class * len(LABELS))
    ]
    if workers > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.map(_frame, jobs, chunksize=1)
    else:
        results = [_frame(job) for job in jobs]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    used: dict[str, Rig] = {}
    for row, rig in results:
        writer.writerow(row)
        used[rig.name] = rig
    (out / "labels.csv").write_text(buf.getvalue())
    for name in sorted(used):
        (out / "profiles" / f"{name}.yaml").write_text(profile_yaml(used[name]))
    return out
