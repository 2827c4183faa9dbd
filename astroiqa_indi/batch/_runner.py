"""``grade_paths``: discover, grade in parallel, report, act; stop cleanly on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from astroiqa_indi.actions import MANIFEST_NAME
from astroiqa_indi.batch._actions import accepted_list_text, act_on_frame, link_frames
from astroiqa_indi.batch._actions import write_text_atomic as _write_text
from astroiqa_indi.batch._discover import discover
from astroiqa_indi.batch._local import Backend, InlineBackend, ProcessBackend
from astroiqa_indi.batch._report import (
    ReportRecord,
    ReportWriter,
    error_row,
    graded_row,
    open_report,
    read_report,
)
from astroiqa_indi.batch._siril import write_siril
from astroiqa_indi.batch._types import BatchOptions, BatchResult, FrameResult
from astroiqa_indi.batch._worker import (
    Outcome,
    WorkerSetup,
    file_time,
    parse_time,
)
from astroiqa_indi.errors import ModelError, ReferenceFileError
from astroiqa_indi.grading import (
    SavePacer,
    TransparencyReference,
    Verdict,
    default_model_dir,
    load_reference,
    save_reference,
)
from astroiqa_indi.reports import plot_session

if TYPE_CHECKING:
    from astroiqa_indi.config import Profile

__all__ = ["grade_paths"]

FrameCallback = Callable[[FrameResult], None]

# At most this share of a run's time goes to rewriting the transparency reference.
_SAVE_SHARE = 0.05
# How often a wait for a worker's result looks for a Ctrl-C that came meanwhile.
_POLL_S = 0.2


class _RateColumn(ProgressColumn):
    """Frames per second over rich's recent-speed window."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- frames/s" if speed is None else f"{speed:.2f} frames/s")


class _Interrupts:
    """Ctrl-C during a run: immediate while waiting, deferred while a frame is recorded.

    Writing a frame's row and moving the frame must happen together or not at all, so
    a SIGINT arriving in between is held until the frame is done. Only the main thread
    can own signal handlers; elsewhere, and when SIGINT is ignored, nothing changes.
    """

    def __init__(self) -> None:
        self._shielded = 0
        self._pending = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is signal.default_int_handler:
                self._previous = signal.signal(signal.SIGINT, self._handle)
                self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._shielded:
            self._pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        self._shielded += 1
        try:
            yield
        finally:
            self._shielded -= 1
            if not self._shielded and self._pending:
                self._pending = False
                raise KeyboardInterrupt


class _Clock:
    """Named instants of a run, from its creation (``None``)."""

    def __init__(self) -> None:
        self._marks: dict[str | None, float] = {None: time.perf_counter()}

    def mark(self, name: str) -> None:
        self._marks[name] = time.perf_counter()

    def span(self, start: str | None, end: str) -> float:
        """Seconds between two marks; 0 when either was never reached."""
        if start not in self._marks or end not in self._marks:
            return 0.0
        return self._marks[end] - self._marks[start]


@dataclass
class _Run:
    """Mutable bookkeeping of one run (kept private; the result is frozen)."""

    options: BatchOptions
    writer: ReportWriter | None
    records: list[ReportRecord]
    interrupts: _Interrupts
    on_frame: FrameCallback | None
    graded: int = 0
    errors: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    action_errors: list[tuple[Path, str]] = field(default_factory=list)
    min_transparency: float | None = None
    transparency: TransparencyReference = field(default_factory=TransparencyReference)
    reference_file: Path | None = None
    reference_unsaved: bool = False
    reference_pacer: SavePacer = field(default_factory=lambda: SavePacer(share=_SAVE_SHARE))

    @property
    def done(self) -> int:
        """Files recorded so far (graded, unreadable or skipped)."""
        return self.graded + len(self.errors) + len(self.skipped)

    def handle(self, outcome: Outcome, path: Path) -> FrameResult:
        # Recording a frame, acting on it and telling the caller happen together: a
        # Ctrl-C in between would leave a row nobody printed, or a move not in the report.
        with self.interrupts.shielded():
            before = self.transparency
            result, row = self._record(outcome, path)
            if row is not None:
                if self.writer is not None:
                    self.writer.append(row)
                self.records.append(ReportRecord.from_csv(row))
            if self.transparency is not before:
                self.reference_unsaved = True
                if self.reference_pacer.due():
                    self.save_reference()
            if self.on_frame is not None:
                self.on_frame(result)
        return result

    def save_reference(self) -> None:
        """Rewrite the reference file if the reference changed since the last save."""
        # After the report row: a crash in between loses reference frames, not a row.
        if self.reference_file is None or not self.reference_unsaved:
            return
        self.reference_unsaved = False
        try:
            self.reference_pacer.took(save_reference(self.reference_file, self.transparency))
        except OSError as exc:
            self.action_errors.append((self.reference_file, f"not saved: {exc}"))
            self.reference_file = None  # one complaint, not one per frame

    def _record(self, outcome: Outcome, path: Path) -> tuple[FrameResult, dict[str, str] | None]:
        key = os.path.abspath(path)
        captured = parse_time(outcome.captured_at)
        if outcome.status == "skipped":
            self.skipped.append((path, outcome.detail))
            return FrameResult(path=path, status="skipped", detail=outcome.detail), None
        if outcome.status != "graded" or outcome.verdict is None:
            self.errors.append((path, outcome.detail))
            result = FrameResult(path=path, status="error", detail=outcome.detail)
            return result, error_row(key, file_time(path), outcome.detail)
        verdict = Verdict.from_dict(outcome.verdict)
        if self.min_transparency is not None:
            # Each frame is judged against the good frames of its setup before it
            # in file order (see _InOrder).
            self.transparency, verdict = self.transparency.step(
                verdict, outcome.camera_setup, min_transparency=self.min_transparency
            )
        accepted = verdict.label in self.options.keep
        # Read the file's time before a move takes it away.
        when = captured or file_time(path) or datetime.now(UTC)
        actions, failures = act_on_frame(
            path,
            verdict,
            accepted=accepted,
            write_keywords=self.options.write_keywords,
            move_rejected=self.options.move_rejected,
        )
        self.action_errors.extend((path, f) for f in failures)
        self.graded += 1
        result = FrameResult(
            path=path,
            status="graded",
            verdict=verdict,
            accepted=accepted,
            captured_at=captured,
            bayer=outcome.bayer,
            actions=tuple(actions),
        )
        row = graded_row(
            key, when, verdict, [*actions, *(f"error:{f}" for f in failures)], outcome.bayer
        )
        return result, row


def _check_model(options: BatchOptions) -> None:
    """Fail before starting workers when the model folder is visibly missing here."""
    folder = options.model_dir if options.model_dir is not None else default_model_dir()
    if not (folder / "model.json").is_file():
        raise ModelError(
            f"no model at {folder} (model.json missing); train one with "
            "`astroiqa-indi train` or reinstall the package"
        )


def _backend(options: BatchOptions, setup: WorkerSetup, n_files: int) -> Backend:
    jobs = options.worker_count()
    if options.dask is not None:
        try:
            from astroiqa_indi.batch._dask import DaskBackend
        except ImportError as exc:
            if exc.name not in ("dask", "distributed"):
                raise
            raise ImportError(
                "--dask needs dask.distributed, which is not installed: "
                "pip install 'astroiqa-indi[dask]'"
            ) from exc
        if options.dask.strip() == "local":
            _check_model(options)
        # A remote cluster's workers may see the model where this machine does not.
        return DaskBackend(setup, address=options.dask, jobs=jobs)
    _check_model(options)
    jobs = min(jobs, n_files)
    return InlineBackend(setup) if jobs <= 1 else ProcessBackend(setup, jobs=jobs)


def _progress(enabled: bool, console: Console | None) -> Progress:
    stdout_is_terminal = hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=not enabled,
        # Lines printed to a terminal go above the bar; printed to a pipe or a file
        # (``--json > verdicts.jsonl``) they must stay there, not join the bar's stream.
        redirect_stdout=stdout_is_terminal,
    )


class _InOrder:
    """Hands outcomes to the run in file order when the order matters to the verdicts.

    The session transparency rule judges each frame against the good frames before
    it, so with parallel workers the frames are recorded in the order they were
    submitted, not the order they finish: the verdicts then do not depend on
    ``--jobs``. A finished frame waits at most for those still in flight before it.
    """

    def __init__(self, run: _Run, by_key: dict[str, Path], advance: Callable[[], None]) -> None:
        self._run = run
        self._by_key = by_key
        self._advance = advance
        self._ordered = run.min_transparency is not None
        self._submitted: deque[str] = deque()
        self._finished: dict[str, Outcome] = {}

    def submitted(self, key: str) -> None:
        if self._ordered:
            self._submitted.append(key)

    def finished(self, outcome: Outcome) -> None:
        if not self._ordered:
            self._record(outcome)
            return
        self._finished[outcome.path] = outcome
        while self._submitted and self._submitted[0] in self._finished:
            self._record(self._finished.pop(self._submitted.popleft()))

    def flush(self) -> None:
        """Record what finished, in order, skipping files that never ran (a Ctrl-C)."""
        while self._submitted:
            key = self._submitted.popleft()
            if key in self._finished:
                self._record(self._finished.pop(key))

    def _record(self, outcome: Outcome) -> None:
        self._run.handle(outcome, self._by_key[outcome.path])
        self._advance()


def _next_outcome(backend: Backend, interrupts: _Interrupts) -> Outcome:
    """The backend's next result; a Ctrl-C that comes while waiting for it is raised here.

    The wait is shielded and polled: a KeyboardInterrupt raised inside the futures'
    own lock handling (concurrent.futures.wait takes each future's lock in turn) can
    leave a lock held, and the pool's shutdown then waits for ever.
    """
    while True:
        with interrupts.shielded():
            ready = backend.wait(_POLL_S)
        if ready:
            return backend.next_outcome()


def _drive(
    backend: Backend, todo: list[Path], run: _Run, advance: Callable[[], None]
) -> tuple[bool, int]:
    """Keep the backend's slots full until every file is done; returns (interrupted, left)."""
    by_key = {str(p): p for p in todo}
    pending = deque(str(p) for p in todo)
    outcomes = _InOrder(run, by_key, advance)
    try:
        while pending or backend.in_flight:
            while pending and backend.in_flight < backend.slots:
                key = pending.popleft()
                backend.submit(key)
                outcomes.submitted(key)
            outcomes.finished(_next_outcome(backend, run.interrupts))
    except KeyboardInterrupt:
        backend.cancel_pending()
        pending.clear()
        try:
            # Files already being read: wait for them and keep their results.
            while backend.in_flight:
                outcomes.finished(_next_outcome(backend, run.interrupts))
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting
        outcomes.flush()
        # Counted from what was recorded: a frame graded in this process when Ctrl-C
        # came is neither pending nor in flight any more, and is left too.
        return True, len(todo) - run.done
    return False, 0


def grade_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    options: BatchOptions | None = None,
    profile: Profile | None = None,
    on_frame: FrameCallback | None = None,
    progress: bool = False,
    console: Console | None = None,
) -> BatchResult:
    """Grade every light frame found in ``paths`` and act on the verdicts.

    Parameters
    ----------
    paths
        Frame files and folders (see :func:`astroiqa_indi.batch.discover`).
    options
        What to do (:class:`BatchOptions`); defaults grade and report nothing to disk.
    profile
        Rig profile: pixel scale, Bayer layout and quality limits.
    on_frame
        Called in this process after each file is recorded: in completion order, or
        in file order when the profile sets ``quality.min_transparency``.
    progress
        Show a progress bar (rate and ETA) on ``console`` (default: stderr).

    Returns
    -------
    BatchResult
        Counts, records and outputs. A Ctrl-C (``KeyboardInterrupt``) stops the run:
        files not yet started are left, files being read are finished and recorded,
        derived outputs are written for what was graded, and ``interrupted`` is set.

    Raises
    ------
    ModelError
        The model cannot be loaded (here or in a worker).
    AstroIQAError
        The report exists and ``resume`` is off, or it is not a batch report.
    """
    options = options or BatchOptions()
    outputs = (options.move_rejected, options.link_accepted, options.siril)
    discovery = discover(
        paths, recursive=options.recursive, exclude=[p for p in outputs if p is not None]
    )
    writer: ReportWriter | None = None
    previous: list[ReportRecord] = []
    if options.report is not None:
        writer, previous = open_report(options.report, resume=options.resume)
    # A file that could not be read is tried again: a frame caught while the capture
    # program was still writing it is whole by the next --resume.
    # Real paths: the same folder reached through a symbolic link is the same frames.
    done = {os.path.realpath(r.path) for r in previous if r.error is None}
    todo = [p for p in discovery.files if os.path.realpath(p) not in done]
    setup = WorkerSetup(
        model_dir=None if options.model_dir is None else str(options.model_dir), profile=profile
    )
    run = _Run(
        options,
        writer,
        list(previous),
        _Interrupts(),
        on_frame,
        min_transparency=profile.quality.min_transparency if profile is not None else None,
    )
    if options.report is not None and run.min_transparency is not None:
        # Only a report with rows has a session to continue.
        _carry_reference(run, reference_path(options.report), resume=bool(previous))
    clock = _Clock()
    interrupted, left, workers = False, 0, "none"
    try:
        with run.interrupts, _progress(progress, console) as bar:
            task = bar.add_task("loading the model", total=len(todo))
            if todo:
                try:
                    with _backend(options, setup, len(todo)) as backend:
                        clock.mark("started")
                        workers = backend.description
                        bar.update(task, description="grading")
                        interrupted, left = _drive(backend, todo, run, lambda: bar.advance(task))
                        clock.mark("finished")
                except KeyboardInterrupt:  # while the workers start or shut down
                    interrupted, left = True, len(todo) - run.done
    finally:
        if writer is not None:
            writer.close()
        run.save_reference()  # the good frames since the last paced save
    written, failed = _derived_outputs(options, run)
    return BatchResult(
        records=tuple(run.records),
        keep=options.keep,
        graded=run.graded,
        errors=tuple(run.errors),
        skipped=tuple(run.skipped),
        ignored=discovery.ignored,
        already_done=len(discovery.files) - len(todo),
        not_graded=left,
        action_errors=(*run.action_errors, *failed),
        interrupted=interrupted,
        startup_s=clock.span(None, "started"),
        grading_s=clock.span("started", "finished"),
        workers=workers,
        outputs=written,
    )


def reference_path(report: Path) -> Path:
    """Where a run with ``report`` keeps its session transparency reference."""
    return report.with_name(f"{report.name}.transparency.json")


def _carry_reference(run: _Run, path: Path, *, resume: bool) -> None:
    """Start from the reference an interrupted run saved, or forget a stale one.

    The report keeps no star fluxes, so without this file a resumed run would judge
    its first frames against nothing and let a thin cloud at the restart through.
    """
    run.reference_file = path
    if not resume:
        try:
            path.unlink(missing_ok=True)  # an earlier report's, not this one's
        except OSError as exc:
            run.action_errors.append((path, f"an earlier report's, not removed: {exc}"))
        return
    try:
        run.transparency = load_reference(path) or run.transparency
    except ReferenceFileError as exc:
        run.action_errors.append(
            (path, f"unreadable, so this run's frames start a new reference: {exc}")
        )


def _derived_outputs(
    options: BatchOptions, run: _Run
) -> tuple[dict[str, Path], list[tuple[Path, str]]]:
    """Plot, links, Siril script and file list, from every record of the report.

    Returns what was written, and the outputs that could not be (an unwritable folder
    must not lose the summary of a night's grading).
    """
    written: dict[str, Path] = {}
    failed: list[tuple[Path, str]] = []
    if options.report is not None:
        written["report"] = options.report
        # The file is the truth (earlier runs included); reread it whole.
        run.records[:] = read_report(options.report)
    if options.move_rejected is not None:
        manifest = options.move_rejected / MANIFEST_NAME
        if manifest.is_file():
            written["manifest"] = manifest
    accepted = [r for r in run.records if r.label in options.keep and r.error is None]
    earliest = datetime.min.replace(tzinfo=UTC)
    accepted.sort(key=lambda r: (r.time or earliest, r.path))
    frames = [Path(r.path) for r in accepted]
    rows = [row for r in run.records if (row := r.to_report_row()) is not None]
    title = f"astroiqa-indi: {len(rows)} frames"

    def plot(path: Path) -> Path:
        return plot_session(rows, path, title=title)

    def links(folder: Path) -> Path:
        link_frames(frames, folder, known=[Path(r.path) for r in run.records])
        return folder

    def siril(folder: Path) -> Path | None:
        bayer = [r.bayer for r in accepted]
        return write_siril(folder, frames, keep=sorted(options.keep), bayer=bayer).script

    def listing(path: Path) -> Path:
        return _write_text(path, accepted_list_text([str(f) for f in frames]))

    steps: list[tuple[str, Path | None, Callable[[Path], Path | None]]] = [
        ("plot", options.plot_path if rows else None, plot),
        ("links", options.link_accepted, links),
        ("siril_script", options.siril, siril),
        ("accepted_list", options.accepted_list, listing),
    ]
    for name, target, make in steps:
        if target is None:
            continue
        try:
            made = make(target)
        except OSError as exc:
            failed.append((target, f"{name.replace('_', ' ')}: {exc.strerror or exc}"))
            continue
        if made is not None:
            written[name] = made
    return written, failed
