"""The grading done in a worker (a process, a Dask worker, or the caller itself).

A worker loads the model once and then grades file after file. What crosses the
process boundary is plain data (:class:`Outcome`): a :class:`Verdict` holds
``MappingProxyType`` fields, which do not pickle, so it travels as
``Verdict.to_dict()`` and is rebuilt on the caller's side.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from astroiqa_indi.errors import FrameError
from astroiqa_indi.frames import Frame, frame_kind
from astroiqa_indi.grading import CameraSetup, camera_setup

if TYPE_CHECKING:
    from astroiqa_indi.config import Profile
    from astroiqa_indi.grading import Grader

__all__ = [
    "Outcome",
    "WorkerSetup",
    "file_time",
    "grade_file",
    "load_grader",
    "parse_time",
]

log = logging.getLogger(__name__)

_CALIBRATION = frozenset({"dark", "flat", "bias"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSetup:
    """What every worker needs: the model and the rig profile (both picklable)."""

    model_dir: str | None = None
    profile: Profile | None = None

    @property
    def bayer(self) -> str:
        return self.profile.optics.bayer if self.profile is not None else "auto"

    @property
    def pixel_scale(self) -> float | None:
        return self.profile.optics.pixel_scale() if self.profile is not None else None


# Only graded outcomes carry their frame's setup.
_NO_SETUP = CameraSetup("")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One file's result as plain, picklable data.

    ``status`` is ``"graded"`` (``verdict`` holds ``Verdict.to_dict()``), ``"skipped"``
    (a calibration frame; ``detail`` says which) or ``"error"`` (``detail`` holds the
    :class:`FrameError` message).
    """

    path: str
    status: str
    verdict: Mapping[str, Any] | None = None
    captured_at: str | None = None
    bayer: str | None = None
    detail: str = ""
    seconds: float = 0.0
    camera_setup: CameraSetup = _NO_SETUP


def load_grader(setup: WorkerSetup, *, single_thread: bool) -> Grader:
    """Load the model for one worker.

    ``single_thread`` caps TensorFlow at one thread: a worker process is one of
    ``jobs`` on as many cores, and TensorFlow's default pool (one thread per core in
    every process) would make the workers fight over the cores.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if single_thread:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # TensorFlow already started in this process: its pool stays as it is
    from astroiqa_indi.grading import Grader

    return Grader.load(setup.model_dir)


def _kind_detail(frame: Frame, kind: str) -> str:
    for key in ("IMAGETYP", "FRAME", "FRAMETYP", "OBSTYPE"):
        value = frame.header.get(key)
        if isinstance(value, str):
            return f"{kind} frame ({key}={value.strip()!r})"
    return f"{kind} frame"


def grade_file(path: str, grader: Grader, setup: WorkerSetup) -> Outcome:
    """Decode and grade one file; calibration frames are skipped, bad files reported.

    :class:`FrameError` (the file cannot become a frame) is an error outcome. So is
    an unexpected exception while grading a frame that decoded: a bug, logged with
    its traceback and named in the report, but one odd frame must not stop an
    archive. A model that cannot load stops the run before any frame.
    """
    t0 = time.perf_counter()
    try:
        frame = Frame.from_path(path, pixel_scale_arcsec=setup.pixel_scale, bayer=setup.bayer)
    except FrameError as exc:
        return Outcome(path=path, status="error", detail=str(exc), seconds=time.perf_counter() - t0)
    captured = frame.captured_at.isoformat() if frame.captured_at is not None else None
    kind = frame_kind(frame.header)
    if kind in _CALIBRATION:
        return Outcome(
            path=path,
            status="skipped",
            detail=_kind_detail(frame, kind),
            captured_at=captured,
            seconds=time.perf_counter() - t0,
        )
    try:
        verdict = grader.grade(frame, setup.profile)
    except Exception as exc:
        log.exception("grading %s failed", path)
        detail = f"{path}: grading failed (a bug, please report it): {type(exc).__name__}: {exc}"
        return Outcome(path=path, status="error", detail=detail, seconds=time.perf_counter() - t0)
    return Outcome(
        path=path,
        status="graded",
        verdict=verdict.to_dict(),
        captured_at=captured,
        bayer=frame.bayer,
        seconds=time.perf_counter() - t0,
        camera_setup=camera_setup(frame),
    )


def parse_time(text: str | None) -> datetime | None:
    """An ISO time written by :class:`Outcome` or the report, or ``None``."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def file_time(path: str | Path) -> datetime | None:
    """Modification time of a file, UTC (stand-in for a missing ``DATE-OBS``)."""
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    except OSError:
        return None
