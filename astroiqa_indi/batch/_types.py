"""Value types of batch grading: the options, one frame's result, the run's result."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from astroiqa_indi.labels import LABELS

if TYPE_CHECKING:
    from astroiqa_indi.batch._report import ReportRecord
    from astroiqa_indi.grading import Verdict

__all__ = ["BatchOptions", "BatchResult", "FrameResult", "FrameStatus"]

FrameStatus = Literal["graded", "skipped", "error"]


def _optional_path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchOptions:
    """How to grade a batch of frames and what to do with the verdicts.

    Attributes
    ----------
    recursive
        Descend into sub-folders of the folders given.
    jobs
        Worker processes (or, with ``dask="local"``, Dask workers); ``None``: every core.
        One job grades in the calling process.
    dask
        ``None`` (local processes), ``"local"`` (start a ``LocalCluster``) or a Dask
        scheduler address such as ``"tcp://10.0.0.5:8786"``.
    model_dir
        Model folder; ``None``: the model shipped with the package. With Dask it must
        be readable by the workers under the same path.
    report
        CSV report, appended to and fsynced frame by frame; ``None``: no file.
    resume
        Continue ``report``: frames already in it are not graded again. Without it an
        existing non-empty report is refused rather than overwritten.
    plot
        Session plot (PNG); default: ``report`` with a ``.png`` suffix, none without a report.
    keep
        Labels of the accepted frames; every other label is rejected.
    move_rejected
        Move rejected frames into this folder (atomic, never overwriting; manifest to undo).
    link_accepted
        Folder of symbolic links to the accepted frames, for stacking tools.
    siril
        Folder for a Siril script that converts, registers and stacks the accepted frames
        (through links in ``siril/lights``).
    accepted_list
        Text file listing the accepted frames, one absolute path per line.
    write_keywords
        Write the verdict as FITS keywords into the original files (the only option
        that modifies them).
    """

    recursive: bool = False
    jobs: int | None = None
    dask: str | None = None
    model_dir: Path | None = None
    report: Path | None = None
    resume: bool = False
    plot: Path | None = None
    keep: frozenset[str] = frozenset({"good"})
    move_rejected: Path | None = None
    link_accepted: Path | None = None
    siril: Path | None = None
    accepted_list: Path | None = None
    write_keywords: bool = False

    def __post_init__(self) -> None:
        for name in (
            "model_dir",
            "report",
            "plot",
            "move_rejected",
            "link_accepted",
            "siril",
            "accepted_list",
        ):
            object.__setattr__(self, name, _optional_path(getattr(self, name)))
        keep = frozenset(self.keep)
        unknown = sorted(keep - set(LABELS))
        if unknown:
            raise ValueError(f"keep: unknown labels {unknown}; expected some of {LABELS}")
        if not keep:
            raise ValueError("keep: at least one label must be accepted")
        object.__setattr__(self, "keep", keep)
        if self.jobs is not None and self.jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {self.jobs}")
        if self.dask is not None and not self.dask.strip():
            raise ValueError("dask: give a scheduler address or 'local'")
        if self.resume and self.report is None:
            raise ValueError("resume needs a report to resume from")
        if self.move_rejected is not None and self.link_accepted is not None:
            raise ValueError("move_rejected and link_accepted are exclusive: choose one")

    @property
    def plot_path(self) -> Path | None:
        """Where the session plot goes, if anywhere."""
        if self.plot is not None:
            return self.plot
        return None if self.report is None else self.report.with_suffix(".png")

    def worker_count(self) -> int:
        """``jobs``, or the number of cores."""
        return self.jobs if self.jobs is not None else max(os.cpu_count() or 1, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameResult:
    """What happened to one frame file.

    Attributes
    ----------
    path
        The file as discovered (relative paths stay relative).
    status
        ``"graded"``, ``"skipped"`` (a calibration frame) or ``"error"`` (unreadable).
    verdict
        The verdict, for graded frames only.
    accepted
        Whether the label is one of the kept labels; ``None`` unless graded.
    captured_at
        Start of the exposure from the header, UTC, when known.
    bayer
        Bayer pattern of a colour mosaic, ``None`` for mono.
    detail
        The error message, or why the frame was skipped.
    actions
        What was done to the file (``"keywords"``, ``"moved:<path>"``...).
    """

    path: Path
    status: FrameStatus
    verdict: Verdict | None = None
    accepted: bool | None = None
    captured_at: datetime | None = None
    bayer: str | None = None
    detail: str = ""
    actions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in ("graded", "skipped", "error"):
            raise ValueError(f"unknown status {self.status!r}")
        graded = self.status == "graded"
        if graded != (self.verdict is not None) or graded != (self.accepted is not None):
            raise ValueError("a graded frame has a verdict and an accepted flag; others none")
        if not graded and not self.detail:
            raise ValueError(f"a {self.status} frame needs a detail saying why")
        object.__setattr__(self, "actions", tuple(self.actions))


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResult:
    """The outcome of :func:`astroiqa_indi.batch.grade_paths`.

    Attributes
    ----------
    records
        Every frame of the report (earlier runs included) or, without a report, of this run.
    graded, errors, skipped
        This run: frames graded; unreadable frames and their errors; calibration frames
        and why they were skipped.
    ignored
        Files and folders that discovery passed over, and why.
    already_done
        Frames found in the report and not graded again (``resume``).
    not_graded
        Frames left when the run was interrupted.
    action_errors
        Frames whose keywords or move failed, and outputs (plot, links, Siril script,
        list) that could not be written, and why.
    interrupted
        The run was stopped by Ctrl-C (``KeyboardInterrupt``); what was written is kept.
    startup_s, grading_s
        Seconds to start the workers (and load the model), and to grade.
    workers
        Where the frames were graded, in words ("2 worker processes").
    outputs
        Files and folders written: ``report``, ``plot``, ``manifest``, ``links``,
        ``siril_script``, ``accepted_list``.
    """

    records: tuple[ReportRecord, ...]
    keep: frozenset[str]
    graded: int = 0
    errors: tuple[tuple[Path, str], ...] = ()
    skipped: tuple[tuple[Path, str], ...] = ()
    ignored: tuple[tuple[Path, str], ...] = ()
    already_done: int = 0
    not_graded: int = 0
    action_errors: tuple[tuple[Path, str], ...] = ()
    interrupted: bool = False
    startup_s: float = 0.0
    grading_s: float = 0.0
    workers: str = "none"
    outputs: Mapping[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.graded < 0 or self.already_done < 0 or self.not_graded < 0:
            raise ValueError("counts must be >= 0")
        object.__setattr__(self, "records", tuple(self.records))
        object.__setattr__(self, "outputs", MappingProxyType(dict(self.outputs)))

    @property
    def rate(self) -> float:
        """Frames graded (or found unreadable) per second of grading, this run."""
        done = self.graded + len(self.errors) + len(self.skipped)
        return done / self.grading_s if self.grading_s > 0 else 0.0

    def label_counts(self) -> Counter[str]:
        """Frames per label over :attr:`records`."""
        return Counter(r.label for r in self.records if r.label is not None)

    def accepted(self) -> tuple[ReportRecord, ...]:
        """Records whose label is kept."""
        return tuple(r for r in self.records if r.label in self.keep)
