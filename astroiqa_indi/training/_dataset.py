"""Per-frame features of a labelled dataset folder, computed once and cached.

A dataset folder is what ``astroiqa-indi simulate frames`` writes:
``frames/*.fits``, ``labels.csv`` (file, label, label_clear, rig, seed, truth...)
and ``profiles/<rig>.yaml``.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from astroiqa_indi.config import load_profile
from astroiqa_indi.errors import AstroIQAError, ModelError
from astroiqa_indi.frames import Frame
from astroiqa_indi.grading import METRIC_FEATURES, GradingContext, analyse
from astroiqa_indi.labels import LABELS

__all__ = ["DatasetFeatures", "load_features"]

log = logging.getLogger(__name__)

# Bump when feature extraction changes, so stale caches are recomputed.
FEATURE_VERSION = "9"


@dataclass(frozen=True, slots=True)
class DatasetFeatures:
    """Features of every frame of one or more dataset folders.

    ``stamps[i]`` holds frame i's star stamps as uint8 (0..255), shape (n_i, 32, 32).
    """

    paths: np.ndarray
    labels: np.ndarray
    clear: np.ndarray
    rigs: np.ndarray
    seeds: np.ndarray
    metrics: np.ndarray
    stamps: tuple[np.ndarray, ...]
    pixel_scale: np.ndarray
    max_fwhm: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.size)

    def subset(self, mask: np.ndarray) -> DatasetFeatures:
        idx = np.flatnonzero(mask)
        return DatasetFeatures(
            paths=self.paths[idx],
            labels=self.labels[idx],
            clear=self.clear[idx],
            rigs=self.rigs[idx],
            seeds=self.seeds[idx],
            metrics=self.metrics[idx],
            stamps=tuple(self.stamps[i] for i in idx),
            pixel_scale=self.pixel_scale[idx],
            max_fwhm=self.max_fwhm[idx],
        )

    @classmethod
    def concat(cls, parts: Sequence[DatasetFeatures]) -> DatasetFeatures:
        return cls(
            paths=np.concatenate([p.paths for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            clear=np.concatenate([p.clear for p in parts]),
            rigs=np.concatenate([p.rigs for p in parts]),
            seeds=np.concatenate([p.seeds for p in parts]),
            metrics=np.concatenate([p.metrics for p in parts]),
            stamps=tuple(s for p in parts for s in p.stamps),
            pixel_scale=np.concatenate([p.pixel_scale for p in parts]),
            max_fwhm=np.concatenate([p.max_fwhm for p in parts]),
        )


def _analyse_one(args: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, float, float]:
    path, profile_path = args
    profile = load_profile(profile_path)
    frame = Frame.from_path(path, bayer=profile.optics.bayer)
    context = GradingContext.for_frame(frame, profile)
    analysis = analyse(
        frame.data,
        saturation=frame.saturation_adu,
        pixel_scale_arcsec=context.pixel_scale_arcsec,
        max_fwhm_arcsec=context.max_fwhm_arcsec,
        nominal_sky_adu=context.nominal_sky_adu,
        bias_adu=context.bias_adu,
    )
    from astroiqa_indi.grading._represent import metric_vector

    stamps = np.rint(analysis.stamps * 255.0).astype(np.uint8)
    return (
        metric_vector(analysis),
        stamps,
        context.pixel_scale_arcsec or np.nan,
        context.max_fwhm_arcsec or np.nan,
    )


def _read_labels(folder: Path) -> list[dict[str, str]]:
    labels_csv = folder / "labels.csv"
    if not labels_csv.is_file():
        raise ModelError(f"{folder} is not a dataset folder: labels.csv missing")
    with labels_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row.get("label") not in LABELS:
            raise ModelError(f"{labels_csv}: unknown label {row.get('label')!r}")
    return rows


def _cache_key(folder: Path, rows: list[dict[str, str]]) -> str:
    digest = hashlib.sha256(FEATURE_VERSION.encode())
    digest.update(",".join(METRIC_FEATURES).encode())
    for row in rows:
        digest.update(row["file"].encode())
        stat = (folder / row["file"]).stat()
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _load_one(folder: Path, *, workers: int) -> DatasetFeatures:
    rows = _read_labels(folder)
    key = _cache_key(folder, rows)
    cache = folder / f"features-{key}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as npz:
            counts = npz["stamp_counts"]
            flat = npz["stamps"]
            splits = np.cumsum(counts)[:-1]
            return DatasetFeatures(
                paths=npz["paths"],
                labels=npz["labels"],
                clear=npz["clear"],
                rigs=npz["rigs"],
                seeds=npz["seeds"],
                metrics=npz["metrics"],
                stamps=tuple(np.split(flat, splits)),
                pixel_scale=npz["pixel_scale"],
                max_fwhm=npz["max_fwhm"],
            )
    jobs = [(str(folder / r["file"]), str(folder / "profiles" / f"{r['rig']}.yaml")) for r in rows]
    log.info("analysing %d frames in %s with %d workers", len(jobs), folder, workers)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_analyse_one, jobs, chunksize=8))
    else:
        results = [_analyse_one(job) for job in jobs]
    features = DatasetFeatures(
        paths=np.array([j[0] for j in jobs]),
        labels=np.array([LABELS.index(r["label"]) for r in rows], np.intp),
        clear=np.array([r.get("label_clear", "1") in {"1", "True", "true"} for r in rows]),
        rigs=np.array([r["rig"] for r in rows]),
        seeds=np.array([int(r.get("seed", 0) or 0) for r in rows], np.int64),
        metrics=np.stack([r[0] for r in results]).astype(np.float32),
        stamps=tuple(r[1] for r in results),
        pixel_scale=np.array([r[2] for r in results], np.float64),
        max_fwhm=np.array([r[3] for r in results], np.float64),
    )
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        paths=features.paths,
        labels=features.labels,
        clear=features.clear,
        rigs=features.rigs,
        seeds=features.seeds,
        metrics=features.metrics,
        stamps=np.concatenate([*features.stamps, np.zeros((0, 32, 32), np.uint8)]),
        stamp_counts=np.array([s.shape[0] for s in features.stamps], np.int64),
        pixel_scale=features.pixel_scale,
        max_fwhm=features.max_fwhm,
    )
    os.replace(tmp, cache)
    return features


def load_features(folders: Sequence[Path | str], *, workers: int = 1) -> DatasetFeatures:
    """Features of every frame in the dataset folders (cached next to the data)."""
    parts = []
    for folder in folders:
        try:
            parts.append(_load_one(Path(folder), workers=workers))
        except AstroIQAError:
            raise
        except OSError as exc:
            raise ModelError(f"cannot read dataset {folder}: {exc}") from exc
    if not parts:
        raise ModelError("no dataset folders given")
    return DatasetFeatures.concat(parts)
