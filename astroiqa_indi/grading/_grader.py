"""The public grader: frame -> Verdict."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from astroiqa_indi.errors import ModelError
from astroiqa_indi.grading._baseline import ClassicalCuts
from astroiqa_indi.grading._reasons import explain
from astroiqa_indi.grading._represent import CELL_SIZE, METRIC_FEATURES, analyse, represent
from astroiqa_indi.grading._som import SomCodebook
from astroiqa_indi.grading._sources import bright_stars
from astroiqa_indi.grading._verdict import FrameMetrics, Verdict
from astroiqa_indi.labels import LABELS

if TYPE_CHECKING:
    from astroiqa_indi.config import Profile
    from astroiqa_indi.frames import Frame

__all__ = ["Grader", "GradingContext", "default_model_dir"]

# Below this top probability the label is reported, but flagged as not confident.
_CONFIDENT_PROBABILITY = 0.6


def default_model_dir() -> Path:
    """Folder of the model shipped inside the package."""
    return Path(str(resources.files("astroiqa_indi.grading") / "model"))


@dataclass(frozen=True, slots=True, kw_only=True)
class GradingContext:
    """What the grader needs to know about the rig (normally from the profile)."""

    pixel_scale_arcsec: float | None = None
    max_fwhm_arcsec: float | None = None
    nominal_sky_adu: float | None = None
    bias_adu: float | None = None
    min_stars: int = 8
    max_elongation: float | None = None

    @classmethod
    def for_frame(cls, frame: Frame, profile: Profile | None) -> GradingContext:
        """Profile values first; the frame's header-derived pixel scale otherwise."""
        scale = frame.pixel_scale_arcsec
        if profile is None:
            return cls(pixel_scale_arcsec=scale)
        profile_scale = profile.optics.pixel_scale()
        if profile_scale is not None:
            # The profile states the sensor's own pixels; a Bayer frame was 2x2 binned.
            scale = profile_scale * frame.binned
        return cls(
            pixel_scale_arcsec=scale,
            max_fwhm_arcsec=profile.quality.max_fwhm_arcsec,
            nominal_sky_adu=profile.quality.nominal_sky_adu,
            bias_adu=profile.quality.bias_adu,
            min_stars=profile.quality.min_stars,
            max_elongation=profile.quality.max_elongation,
        )


_TRACKING = frozenset({"bad_tracking", "very_bad_tracking"})


def _tolerated_elongation(label: str, elongation: float | None, limit: float | None) -> bool:
    return (
        label == "bad_tracking"
        and limit is not None
        and elongation is not None
        and elongation <= limit
    )


class Grader:
    """SOM + CNN frame grader (Teimoorinia et al. 2020, per exposure).

    Thread-safe: :meth:`grade` may be called from several executor threads.
    """

    def __init__(
        self,
        *,
        som: SomCodebook,
        network: Any,
        cuts: ClassicalCuts,
        meta: Mapping[str, Any],
    ) -> None:
        self.som = som
        self.cuts = cuts
        self.meta = dict(meta)
        self.version = str(meta.get("version", "unknown"))
        self._network = network
        self._lock = threading.Lock()
        features = tuple(meta.get("metric_features", ()))
        if features != METRIC_FEATURES:
            raise ModelError("model was trained on other table features; retrain with this version")
        self._table_range = _table_range(meta, som.n_nodes + len(METRIC_FEATURES))

    @classmethod
    def load(cls, model_dir: Path | str | None = None) -> Grader:
        """Load a model folder (the shipped model by default)."""
        folder = Path(model_dir) if model_dir is not None else default_model_dir()
        meta_path = folder / "model.json"
        if not meta_path.is_file():
            raise ModelError(
                f"no model at {folder} (model.json missing); train one with "
                "`astroiqa-indi train` or reinstall the package"
            )
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot read {meta_path}: {exc}") from exc
        som = SomCodebook.load(folder / "som.npz")
        cuts = ClassicalCuts.load(folder / "cuts.json")
        network = _load_keras(folder / "network.keras")
        grader = cls(som=som, network=network, cuts=cuts, meta=meta)
        grader._warm_up()
        return grader

    def _warm_up(self) -> None:
        side = self.som.rows * CELL_SIZE, self.som.cols * CELL_SIZE
        table = np.zeros((1, self.som.n_nodes + len(METRIC_FEATURES)), np.float32)
        self._predict(np.zeros((1, *side, 1), np.float32), table)

    def _predict(self, image: np.ndarray, table: np.ndarray) -> np.ndarray:
        if self._table_range is not None:
            # The range the network was trained on (model.json "table_range").
            table = np.clip(table, *self._table_range)
        with self._lock:
            out = self._network({"image": image, "table": table}, training=False)
        return np.asarray(out, dtype=np.float64)

    def predict_batch(
        self, images: np.ndarray, tables: np.ndarray, *, batch_size: int = 256
    ) -> np.ndarray:
        """Network probabilities for precomputed representative images and tables.

        Parameters
        ----------
        images
            ``(n, rows * CELL_SIZE, cols * CELL_SIZE)`` representative images (what
            ``astroiqa_indi.training`` builds for a dataset); a trailing channel
            axis of 1 is accepted.
        tables
            ``(n, n_nodes + len(METRIC_FEATURES))`` tables.
        batch_size
            Frames per network call (bounds memory on large datasets).

        Returns
        -------
        ndarray
            ``(n, 5)`` probabilities in :data:`astroiqa_indi.labels.LABELS` order. The
            no-stars rule of :meth:`grade` is not applied: these are the network's.
        """
        imgs = np.asarray(images, dtype=np.float32)
        if imgs.ndim == 3:
            imgs = imgs[..., None]
        tabs = np.asarray(tables, dtype=np.float32)
        side = (self.som.rows * CELL_SIZE, self.som.cols * CELL_SIZE)
        width = self.som.n_nodes + len(METRIC_FEATURES)
        if imgs.shape[1:] != (*side, 1) or tabs.ndim != 2 or tabs.shape[1] != width:
            raise ValueError(
                f"expected images (n, {side[0]}, {side[1]}) and tables (n, {width}); "
                f"got {images.shape} and {tables.shape}"
            )
        if imgs.shape[0] != tabs.shape[0]:
            raise ValueError(f"{imgs.shape[0]} images but {tabs.shape[0]} tables")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        out = np.zeros((imgs.shape[0], len(LABELS)), np.float64)
        for start in range(0, imgs.shape[0], batch_size):
            stop = start + batch_size
            out[start:stop] = self._predict(imgs[start:stop], tabs[start:stop])
        return out

    def grade(self, frame: Frame, profile: Profile | None = None) -> Verdict:
        """Grade one frame; never raises for a frame without stars."""
        context = GradingContext.for_frame(frame, profile)
        return self.grade_array(
            frame.data, context, saturation=frame.saturation_adu, source=frame.source
        )

    async def grade_async(
        self, frame: Frame, profile: Profile | None = None, *, executor: Executor | None = None
    ) -> Verdict:
        """:meth:`grade` in an executor, so the event loop keeps running."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, self.grade, frame, profile)

    def grade_array(
        self,
        data: np.ndarray,
        context: GradingContext,
        *,
        saturation: float | None = None,
        source: str | None = None,
    ) -> Verdict:
        """Grade a 2-D luminance array with an explicit context."""
        t0 = time.perf_counter()
        analysis = analyse(
            data,
            saturation=saturation,
            pixel_scale_arcsec=context.pixel_scale_arcsec,
            max_fwhm_arcsec=context.max_fwhm_arcsec,
            nominal_sky_adu=context.nominal_sky_adu,
            bias_adu=context.bias_adu,
        )
        metrics = analysis.measured.metrics
        timings = dict(analysis.timings)
        tolerated = False
        top = 1.0
        if metrics.n_stars == 0:
            probs: dict[str, float] = dict.fromkeys(LABELS, 0.0)
            probs["background_issues"] = 1.0
            label = "background_issues"
            # An empty sky is plainly a background problem; detections none of which
            # is a star (trails, blends) are something the network never saw.
            confident = metrics.n_sources < context.min_stars
            version = "rules"
        else:
            version = self.version
            t1 = time.perf_counter()
            image, table = represent(analysis, self.som)
            t2 = time.perf_counter()
            out = self._predict(image[None, :, :, None], table[None, :])[0]
            timings["som"] = t2 - t1
            timings["network"] = time.perf_counter() - t2
            out = out / out.sum()
            probs = {name: float(p) for name, p in zip(LABELS, out, strict=True)}
            label = LABELS[int(np.argmax(out))]
            top = float(max(out))
            tolerated = _tolerated_elongation(label, metrics.elongation, context.max_elongation)
            if tolerated:
                # The network's probabilities stay as they are; the label is the
                # most probable of those the rig's tolerance leaves.
                # Stars within the rig's tolerance are no trail: the label is the most
                # probable of the rest. The network's own probability for it says how
                # sure the verdict is (renormalised, a 2% call read as confident).
                rest = {k: v for k, v in probs.items() if k not in _TRACKING}
                label = max(rest, key=rest.__getitem__)
                top = rest[label]
            confident = metrics.n_stars >= context.min_stars and top >= _CONFIDENT_PROBABILITY
        reasons = explain(
            label,
            metrics,
            max_fwhm_arcsec=context.max_fwhm_arcsec,
            min_stars=context.min_stars,
            sky_ratio=analysis.measured.sky_ratio,
            density_cv=analysis.measured.density_cv,
            sky_fill=_sky_fill(data, metrics, saturation),
            pairs=(analysis.measured.pair_fraction, analysis.measured.pair_separation_px),
            tolerated_elongation=context.max_elongation if tolerated else None,
        )
        if metrics.n_stars and top < _CONFIDENT_PROBABILITY:
            reasons.append(f"top probability only {top:.2f}: borderline frame")
        timings["total"] = time.perf_counter() - t0
        return Verdict(
            label=label,  # type: ignore[arg-type]
            probabilities=probs,
            metrics=metrics,
            reasons=tuple(reasons),
            confident=confident,
            timings=timings,
            source=source,
            model_version=version,
            bright_stars=bright_stars(analysis.sources, fwhm_px=metrics.fwhm_px),
        )


def _load_keras(path: Path) -> Any:
    if not path.is_file():
        raise ModelError(f"network file missing: {path}")
    import keras

    from astroiqa_indi.grading._network import custom_objects

    try:
        return keras.saving.load_model(path, compile=False, custom_objects=custom_objects())
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load network {path}: {exc}") from exc


def _sky_fill(data: np.ndarray, metrics: FrameMetrics, saturation: float | None) -> float | None:
    """Sky level / saturation level, where it can be told.

    A 12-bit camera writing BITPIX 16 saturates at 4095, which no header states: a
    frame without stars whose pixels mostly sit at its own maximum counts as full.
    """
    fill = metrics.background / saturation if saturation else None
    if metrics.n_stars == 0 and data.size and (fill is None or fill < 1.0):
        top = float(data.max())
        if top > 0 and np.count_nonzero(data >= top) > data.size // 2:
            return 1.0
    return fill


def _table_range(meta: Mapping[str, Any], width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-column (low, high) of the training table, if the model records one."""
    recorded = meta.get("table_range")
    if recorded is None:
        return None
    try:
        low = np.asarray(recorded["low"], np.float32)
        high = np.asarray(recorded["high"], np.float32)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model.json table_range is malformed: {exc}") from exc
    if low.shape != (width,) or high.shape != (width,) or np.any(low > high):
        raise ModelError(f"model.json table_range does not fit a table of {width} columns")
    return low, high
