"""The live session agent: INDI BLOBs in, verdicts and actions out.

Data flows one way: the receiver task reads CCD BLOBs into a bounded queue; grader
tasks decode and grade in an executor (the event loop keeps reading INDI, MQTT and
PHD2); each verdict goes through the policy, then to the actions, the journal, MQTT
and the live view. In ``sequence`` mode a third task runs the capture sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import itertools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from astroiqa_indi._files import write_atomically
from astroiqa_indi.actions import (
    GuideRms,
    GuideStepEvent,
    Phd2AppState,
    Phd2Client,
    SettleParams,
    StarLostEvent,
    flag_frame,
)
from astroiqa_indi.agent._journal import Journal
from astroiqa_indi.agent._policy import Alert, Decision, Observation, PolicyState, step
from astroiqa_indi.agent._view import LiveView
from astroiqa_indi.config import Profile
from astroiqa_indi.errors import (
    AstroIQAError,
    FrameError,
    GuiderError,
    IndiError,
    IndiTimeoutError,
    ReferenceFileError,
)
from astroiqa_indi.frames import Frame
from astroiqa_indi.grading import (
    CameraSetup,
    Grader,
    SavePacer,
    TransparencyReference,
    Verdict,
    camera_setup,
    load_reference,
    save_reference,
)
from astroiqa_indi.indi import Blob, ClientCore, PropertyState, PropertyVector, open_client
from astroiqa_indi.reports import ReportRow, plot_session, write_csv

__all__ = ["Agent", "AgentState", "Notifier", "SessionSummary"]

log = logging.getLogger(__name__)

_REFERENCE_FILE = "transparency.json"
# A restart within the hour continues the night; an older file is another sky.
_RESTORE_WITHIN_S = 3600.0
# Seconds between attempts to reach PHD2 again: first, and at most.
_PHD2_RETRY_S = (5.0, 60.0)
# A stop waits this long for the frames being graded (a 60 MP frame on a Pi: seconds).
_FINISH_WITHIN_S = 60.0
# After an abort, a frame the driver had already taken may still come this long after
# its answer (libindi uploads from a thread of its own); then the sequence goes on.
_ABORT_GRACE_S = 5.0
# How long a connected camera may take to define UPLOAD_MODE (drivers without it: all).
_UPLOAD_MODE_WAIT_S = 2.0


class AgentState(enum.Enum):
    IDLE = "idle"
    WATCHING = "watching"
    PAUSED = "paused"
    STOPPING = "stopping"
    CLOSED = "closed"


class Notifier(Protocol):
    """What the agent needs from the MQTT layer (``astroiqa_indi.alerts.MqttNotifier``)."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> Any: ...

    def publish_verdict(self, verdict: Verdict, *, frame_name: str) -> None: ...

    def publish_state(self, state: str) -> None: ...

    def publish_alert(
        self, text: str, *, label: str, reason: str, severity: str, fields: dict[str, Any]
    ) -> None: ...


@dataclass(slots=True)
class SessionSummary:
    """What happened during a session (also the journal's last line)."""

    frames: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    pauses: int = 0
    resumes: int = 0
    alerts: int = 0
    dropped: int = 0
    frame_errors: int = 0
    save_errors: int = 0
    reference_errors: int = 0
    action_errors: int = 0
    journal_errors: int = 0
    report_csv: Path | None = None
    report_png: Path | None = None
    journal: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "labels": dict(self.labels),
            "pauses": self.pauses,
            "resumes": self.resumes,
            "alerts": self.alerts,
            "dropped": self.dropped,
            "frame_errors": self.frame_errors,
            "save_errors": self.save_errors,
            "reference_errors": self.reference_errors,
            "action_errors": self.action_errors,
            "journal_errors": self.journal_errors,
            "report_csv": str(self.report_csv) if self.report_csv else None,
            "report_png": str(self.report_png) if self.report_png else None,
            "journal": str(self.journal) if self.journal else None,
        }


@dataclass(frozen=True, slots=True)
class _Arrival:
    blob: Blob
    monotonic: float
    probe: bool


@dataclass(slots=True)
class _InHand:
    """A frame a grade loop took: where it will be saved, and whether it got as far
    as being handled (its verdict acted on, the frame saved)."""

    arrival: _Arrival
    path: Path | None = None
    handling: bool = False


@dataclass(frozen=True, slots=True)
class _GradedFrame:
    """A frame as the grade loop saw it: where it is saved, its camera setup and the
    session's transparency reference before it (what ``regrade-last`` needs)."""

    path: Path
    setup: CameraSetup
    reference: TransparencyReference


class Agent:
    """Grade every exposure of a live INDI session and act on the verdicts.

    Parameters
    ----------
    profile
        The loaded profile (modes, devices, policy, services).
    grader
        A loaded :class:`~astroiqa_indi.grading.Grader`.
    out_dir
        Session folder: journal, saved frames, report.
    max_frames
        Stop by itself after this many graded frames (demo, tests); ``None``: until
        :meth:`stop` or Ctrl-C.
    notifier_factory
        Builds the MQTT notifier from the profile; ``None`` disables MQTT even when
        the profile has an ``mqtt`` section.
    view
        Live terminal view; ``None`` builds one per ``profile.agent.live_view``.
    reference_file
        Where the session's transparency reference is saved after each good frame
        and, at start, restored from when it is less than an hour old (a restart
        continues the night); ``None``: ``out_dir/transparency.json``.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        grader: Grader,
        out_dir: Path,
        max_frames: int | None = None,
        notifier_factory: Callable[[Profile, Callable[[str], Awaitable[None]]], Notifier]
        | None = None,
        view: LiveView | None = None,
        reference_file: Path | None = None,
    ) -> None:
        self.profile = profile
        self.grader = grader
        self.out_dir = Path(out_dir)
        self.max_frames = max_frames
        self.summary = SessionSummary()
        self._notifier_factory = notifier_factory
        self._view = view or LiveView(enabled=profile.agent.live_view)
        self._state = AgentState.IDLE
        self._policy = PolicyState()
        self._transparency = TransparencyReference()
        self._reference_file: Path | None = (
            Path(reference_file) if reference_file is not None else self.out_dir / _REFERENCE_FILE
        )
        # One writer thread and one save at a time: the newest is the one left.
        self._reference_writer: ThreadPoolExecutor | None = None
        self._reference_pacer = SavePacer()
        self._reference_saving = False
        self._reference_unsaved = False
        self._queue: asyncio.Queue[_Arrival] = asyncio.Queue(maxsize=profile.agent.queue_size)
        self._stop = asyncio.Event()
        self._sequence_resumed = asyncio.Event()
        self._sequence_resumed.set()
        # The sequence's exposure under way: True when its BLOB came, False when aborted.
        self._next_blob: asyncio.Future[bool] | None = None
        # Resolves once the camera says the sequence's exposure ran to its end (its
        # frame is on its way, on the BLOB connection), see _abort_exposure.
        self._ran_to_end: asyncio.Future[PropertyVector] | None = None
        self._counter = itertools.count(1)
        self._rows: list[ReportRow] = []
        self._last_frame: _GradedFrame | None = None
        self._indi: ClientCore | None = None
        self._guider: Phd2Client | None = None
        self._notifier: Notifier | None = None
        self._journal: Journal | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._probe_pending = False
        self._in_hand: list[_InHand] = []  # frames being graded and handled right now
        self._held = False  # paused by a command: only a command resumes
        self._guider_paused = False  # PHD2's pause is ours to lift
        # After guiding resumes: PHD2 settling, which the sequence's next frame awaits.
        self._settling: asyncio.Task[None] | None = None
        self._last_rms: GuideRms | None = None
        self._save_failing = False

    @property
    def state(self) -> AgentState:
        return self._state

    def stop(self) -> None:
        """Ask the agent to finish the frame in hand, write its report and return."""
        self._stop.set()

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> SessionSummary:
        """Run the session until :meth:`stop`, ``max_frames`` or cancellation."""
        if self._state is not AgentState.IDLE:
            raise RuntimeError(f"an Agent runs once (state {self._state.value})")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "frames").mkdir(exist_ok=True)
        indi_cfg = self.profile.indi
        self._executor = ThreadPoolExecutor(
            max_workers=self.profile.agent.workers, thread_name_prefix="astroiqa-grade"
        )
        journal_path = self.out_dir / "journal.jsonl"
        self.summary.journal = journal_path
        try:
            async with contextlib.AsyncExitStack() as stack:
                self._journal = stack.enter_context(Journal(journal_path))
                self._restore_reference()
                # Runs after INDI, MQTT and PHD2 are closed, but before the journal is.
                stack.callback(self._finish)
                self._indi = await stack.enter_async_context(
                    open_client(
                        indi_cfg,
                        connect_timeout=indi_cfg.connect_timeout_s,
                        blob_queue_size=self.profile.agent.queue_size,
                        ping_interval=indi_cfg.ping_interval_s,
                    )
                )
                if self.profile.mqtt is not None and self._notifier_factory is not None:
                    notifier = self._notifier_factory(self.profile, self._on_command)
                    self._notifier = await stack.enter_async_context(notifier)
                    # Unwinds before the notifier closes, so "stopped" still goes out.
                    stack.callback(self._announce_stop)
                if indi_cfg.mode == "sequence":
                    await self._connect_camera()
                self._guider = await self._connect_guider(stack)
                self._set_state(AgentState.WATCHING)
                self._journal.event(
                    "start",
                    mode=indi_cfg.mode,
                    device=indi_cfg.ccd_device,
                    model=self.grader.version,
                )
                self._view.event(
                    f"watching {indi_cfg.ccd_device} on {indi_cfg.host}:{indi_cfg.port} "
                    f"({indi_cfg.mode} mode, model {self.grader.version})"
                )
                await self._run_tasks()
        finally:
            self._executor.shutdown(wait=True, cancel_futures=True)
            if self._reference_writer is not None:
                self._reference_writer.shutdown(wait=True)
            self._state = AgentState.CLOSED
        return self.summary

    async def _connect_camera(self) -> None:
        """In sequence mode the agent owns the camera: switch it on if nobody has.

        Passive mode never touches CONNECTION: the capture program owns the camera.
        """
        assert self._indi is not None
        cfg = self.profile.indi
        timeout = cfg.connect_timeout_s
        vector = await self._indi.wait_for(cfg.ccd_device, "CONNECTION", timeout=timeout)
        if vector.on_switches != ("CONNECT",):
            await self._indi.set_switch(
                cfg.ccd_device, "CONNECTION", {"CONNECT": True}, wait=True, timeout=timeout
            )
            self._event("camera_connected", f"connected {cfg.ccd_device}")
        await self._upload_to_client()

    async def _upload_to_client(self) -> None:
        """A camera left saving its frames on its own disk only sends no BLOB: every
        exposure would wait out its timeout. Ask for both, so local files go on."""
        assert self._indi is not None
        device = self.profile.indi.ccd_device
        try:
            mode = await self._indi.wait_for(device, "UPLOAD_MODE", timeout=_UPLOAD_MODE_WAIT_S)
        except IndiTimeoutError:
            return  # a driver without it always sends its frames
        if mode.on_switches != ("UPLOAD_LOCAL",) or "UPLOAD_BOTH" not in mode.names:
            return
        try:
            await self._indi.set_switch(device, "UPLOAD_MODE", {"UPLOAD_BOTH": True}, wait=True)
        except IndiError as exc:
            self.summary.action_errors += 1
            self._event(
                "action_error",
                f"{device} saves frames locally only, and refused "
                f"to send them too ({exc}): no frame will come",
            )
            return
        self._event(
            "upload_mode",
            f"{device} saved frames on its own disk only: now also sends them (UPLOAD_BOTH)",
        )

    async def _connect_guider(self, stack: contextlib.AsyncExitStack) -> Phd2Client | None:
        cfg = self.profile.phd2
        if cfg is None or not cfg.enabled:
            return None
        try:
            return await stack.enter_async_context(Phd2Client(cfg.host, cfg.port))
        except GuiderError as exc:
            # The night goes on without guiding control until PHD2 answers.
            log.warning("PHD2 unreachable, guiding will not be paused: %s", exc)
            self._event("phd2_unreachable", f"PHD2 unreachable ({exc}): guiding control off")
            return None

    async def _run_tasks(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(self._receive(), name="agent-receive"),
                *(
                    tg.create_task(self._grade_loop(), name=f"agent-grade-{i}")
                    for i in range(self.profile.agent.workers)
                ),
            ]
            if self.profile.indi.mode == "sequence":
                tasks.append(tg.create_task(self._sequence(), name="agent-sequence"))
            if self.profile.phd2 is not None and self.profile.phd2.enabled:
                tasks.append(tg.create_task(self._guider_watch(), name="agent-phd2"))
            await self._stop.wait()
            await self._wind_down(tasks)

    async def _wind_down(self, tasks: list[asyncio.Task[None]]) -> None:
        """Stop taking frames, finish the ones in hand, keep the ones not graded."""
        grading = {t for t in tasks if t.get_name().startswith("agent-grade")}
        self._stop_settling()
        for task in tasks:
            if task not in grading:
                task.cancel()
        if self._next_blob is not None and not self._next_blob.done():
            try:
                await self._abort_exposure(timeout=5.0)
                self._event("exposure_aborted", "aborted the exposure under way: session stopping")
            except (IndiError, TimeoutError) as exc:
                self._event("action_error", f"could not abort the exposure under way: {exc}")
        _discard(self._ran_to_end)
        deadline = time.monotonic() + _FINISH_WITHIN_S
        while self._in_hand and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # Still grading after the deadline: kept, not graded (the grading thread ends
        # its frame before the agent exits, but its verdict is not waited for).
        unfinished = [item for item in self._in_hand if not item.handling]
        for task in grading:
            task.cancel()
        left = [(item.arrival, item.path) for item in unfinished]
        while not self._queue.empty():
            left.append((self._queue.get_nowait(), None))
        for arrival, known in left:
            path = known or self._frame_path(arrival.blob, next(self._counter))
            if await self._save(arrival.blob, path):
                self._event(
                    "not_graded", f"stopped before grading {path.name}: saved", frame=path.name
                )

    async def _abort_exposure(self, *, timeout: float = 10.0) -> None:
        """Abort the camera's exposure; the sequence goes on once it knows whether the
        exposure's frame will still come. Raises what ``set_switch`` raises."""
        assert self._indi is not None
        # This exposure's, not the next one's, if its frame comes first.
        aborted, ran_to_end = self._next_blob, self._ran_to_end
        try:
            await self._indi.set_switch(
                self.profile.indi.ccd_device,
                "CCD_ABORT_EXPOSURE",
                {"ABORT": True},
                wait=True,
                timeout=timeout,
            )
        finally:
            # An exposure can end while the abort is on its way, and its frame then
            # still comes; taken for the next exposure's, it put the sequence one frame
            # ahead of the camera for the rest of the night. A driver that took no
            # request while it read the frame out has said the exposure ended (Busy,
            # then Ok) before answering: the frame is waited for as usual. libindi
            # answers at once while a thread of its own uploads the frame, so the
            # sequence waits a little for a frame in any case.
            if aborted is not None and not aborted.done() and not _resolved(ran_to_end):
                asyncio.get_running_loop().call_later(_ABORT_GRACE_S, _no_frame, aborted)

    def _finish(self) -> None:
        self._state = AgentState.STOPPING
        summary = self.summary
        if self._reference_writer is not None:
            self._reference_writer.shutdown(wait=True)
        self._save_reference_last()  # before the summary, which counts its failure
        if self._rows:
            try:
                summary.report_csv = write_csv(self._rows, self.out_dir / "report.csv")
            except OSError as exc:  # a full disk: the journal still has every frame
                log.error("session report failed: %s", exc)
            try:
                summary.report_png = plot_session(self._rows, self.out_dir / "report.png")
            except (OSError, ValueError) as exc:
                log.error("session plot failed: %s", exc)
        if self._journal is not None:
            summary.journal_errors = self._journal.write_errors
            self._journal.summary(**summary.to_dict())
        self._view.event(
            f"session over: {summary.frames} frames "
            + ", ".join(f"{k} {v}" for k, v in sorted(summary.labels.items()))
            + (f"; report {summary.report_csv}" if summary.report_csv else "")
        )

    def _announce_stop(self) -> None:
        if self._notifier is not None:
            self._notifier.publish_state("stopped")
            self._notifier = None

    def _set_state(self, state: AgentState) -> None:
        if state is not self._state:
            self._state = state
            if self._notifier is not None:
                self._notifier.publish_state(state.value)

    def _event(self, name: str, text: str, **fields: Any) -> None:
        if self._journal is not None:
            self._journal.event(name, text=text, **fields)
        self._view.event(text)

    # ------------------------------------------------------------------ frames in

    async def _receive(self) -> None:
        assert self._indi is not None
        cfg = self.profile.indi
        async for blob in self._indi.blobs(device=cfg.ccd_device, property=cfg.blob_property):
            arrival = _Arrival(blob, time.monotonic(), self._probe_pending)
            if self._queue.full():
                # Grading fell behind: keep the newest frame, never block the socket.
                self._queue.get_nowait()
                self.summary.dropped += 1
                self._raise_alert(
                    Alert(
                        "dropped",
                        f"grading fell behind: {self.summary.dropped} frames skipped",
                        "warning",
                    )
                )
            self._queue.put_nowait(arrival)
            if self._next_blob is not None and not self._next_blob.done():
                self._next_blob.set_result(True)

    async def _grade_loop(self) -> None:
        while not self._stop.is_set():
            item = _InHand(await self._queue.get())
            self._in_hand.append(item)
            try:
                await self._grade_one(item)
            finally:
                self._in_hand.remove(item)

    async def _grade_one(self, item: _InHand) -> None:
        loop = asyncio.get_running_loop()
        arrival = item.arrival
        index = next(self._counter)
        path = item.path = self._frame_path(arrival.blob, index)
        try:
            frame = await loop.run_in_executor(self._executor, self._decode, arrival.blob, path)
        except FrameError as exc:
            self.summary.frame_errors += 1
            self._event("frame_error", f"frame {index} unreadable: {exc}", index=index)
            item.handling = True
            await self._save(arrival.blob, path)  # still data: kept for a look by day
            return
        try:
            verdict = await self.grader.grade_async(frame, self.profile, executor=self._executor)
        except Exception as exc:
            # A bug on one odd frame must not end the night: keep the frame, say so.
            log.exception("grading frame %d failed", index)
            self.summary.frame_errors += 1
            self._event("frame_error", f"frame {index} not graded (a bug): {exc!r}", index=index)
            item.handling = True
            await self._save(arrival.blob, path)
            return
        graded = _GradedFrame(path, camera_setup(frame), self._transparency)
        verdict = self._against_session(verdict, graded.setup)
        del frame  # 100 MB of float32: not held while the next BLOB lands
        item.handling = True
        await self._handle(index, graded, verdict, arrival)
        if self.max_frames is not None and self.summary.frames >= self.max_frames:
            self._stop.set()

    def _against_session(self, verdict: Verdict, setup: CameraSetup) -> Verdict:
        """The profile's ``min_transparency`` rule, against this session's good frames."""
        limit = self.profile.quality.min_transparency
        if limit is None:
            return verdict
        before = self._transparency
        self._transparency, verdict = self._transparency.step(
            verdict, setup, min_transparency=limit
        )
        if self._transparency is not before:
            self._save_reference()
        return verdict

    def _save_reference(self) -> None:
        """Write the reference off the event loop, paced (:class:`SavePacer`), one
        save at a time; a failure is told once and counted."""
        self._reference_unsaved = True
        path = self._reference_file
        if path is None or self._reference_saving or not self._reference_pacer.due():
            return
        if self._reference_writer is None:
            self._reference_writer = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="astroiqa-reference"
            )
        self._reference_unsaved = False
        self._reference_saving = True
        loop = asyncio.get_running_loop()
        saving = loop.run_in_executor(
            self._reference_writer, save_reference, path, self._transparency
        )

        def saved(future: asyncio.Future[float]) -> None:
            self._reference_saving = False
            if future.cancelled():
                return
            if (exc := future.exception()) is None:
                self._reference_pacer.took(future.result())
                return
            self.summary.reference_errors += 1
            if self._reference_file is not None:
                self._reference_file = None  # one complaint, not one per frame
                self._event("transparency_reference", f"session reference not saved: {exc}")

        saving.add_done_callback(saved)

    def _save_reference_last(self) -> None:
        """At the end of the session: the good frames the pacing left unsaved."""
        path = self._reference_file
        if path is None or not self._reference_unsaved:
            return
        self._reference_unsaved = False
        try:
            save_reference(path, self._transparency)
        except OSError as exc:
            self.summary.reference_errors += 1
            log.warning("session reference not saved: %s", exc)

    def _restore_reference(self) -> None:
        """Continue the transparency reference of a session restarted within the hour."""
        path = self._reference_file
        if self.profile.quality.min_transparency is None or path is None:
            return
        try:
            saved = load_reference(path, max_age_s=_RESTORE_WITHIN_S)
        except ReferenceFileError as exc:
            self._event("transparency_reference", f"session reference not restored: {exc}")
            return
        if saved is None:
            return
        self._transparency = saved
        frames = sum(len(entries) for entries in saved.history.values())
        self._event(
            "transparency_reference",
            f"restored the session's {frames} recent good frames from {path.name}",
            frames=frames,
        )

    def _frame_path(self, blob: Blob, index: int) -> Path:
        stamp = blob.received_at.strftime("%Y%m%dT%H%M%S")
        return self.out_dir / "frames" / f"{index:05d}_{stamp}{blob.format}"

    def _decode(self, blob: Blob, path: Path) -> Frame:
        optics = self.profile.optics
        return Frame.from_bytes(
            blob.data,
            blob.format,
            source=str(path),
            pixel_scale_arcsec=optics.pixel_scale(),
            bayer=optics.bayer,
        )

    async def _save(self, blob: Blob, path: Path) -> bool:
        """Write the BLOB as it came; False, journalled and alerted once per failing
        spell, when the disk refuses it (full, read-only, gone): grading goes on."""
        loop = asyncio.get_running_loop()
        error = await loop.run_in_executor(self._executor, _write_atomically, blob.data, path)
        if error is None:
            if self._save_failing:
                self._save_failing = False
                self._event("save_ok", f"saving frames again ({path.name})", frame=path.name)
            return True
        self.summary.save_errors += 1
        self._event("save_error", f"could not save {path.name}: {error}", frame=path.name)
        if not self._save_failing:
            self._save_failing = True
            self._raise_alert(
                Alert(
                    "save_error",
                    f"frames are not being saved to {path.parent}: {error.strerror or error}",
                    "critical",
                )
            )
        return False

    # ------------------------------------------------------------------ verdicts out

    async def _handle(
        self, index: int, graded: _GradedFrame, verdict: Verdict, arrival: _Arrival
    ) -> None:
        loop = asyncio.get_running_loop()
        path = graded.path
        self._policy, decision = step(
            self._policy, Observation(verdict.label, arrival.monotonic), self.profile.policy
        )
        actions = await self._act(decision)
        if self._notifier is not None:
            self._notifier.publish_verdict(verdict, frame_name=path.name)
        published = time.monotonic()
        # The frame is written only now: 50 MB of page cache flushing to disk slows a
        # grading running beside it, and nobody waits for the file.
        if await self._save(arrival.blob, path):
            self._last_frame = graded
            try:
                result = await loop.run_in_executor(
                    self._executor,
                    lambda: flag_frame(
                        path,
                        verdict,
                        self.profile.frames,
                        rejected=not verdict.is_good,
                        model_version=verdict.model_version,
                    ),
                )
                if result.action not in {"none", "kept"}:
                    actions.append(f"flag:{result.action}")
                if result.action == "moved" and result.written is not None:
                    self._last_frame = dataclasses.replace(graded, path=Path(result.written))
            except FrameError as exc:
                self.summary.action_errors += 1
                self._event("flag_error", f"could not flag {path.name}: {exc}")
        else:
            actions.append("not_saved")
        self.summary.frames += 1
        self.summary.labels[verdict.label] += 1
        timings = dict(verdict.timings)
        timings["landed_to_verdict"] = published - arrival.monotonic
        assert self._journal is not None
        rms = self._guider.rms() if self._guider is not None else None
        self._journal.frame(
            index=index,
            frame=path.name,
            verdict=verdict,
            actions=actions,
            timings=timings,
            truth={"probe": True} if arrival.probe else None,
        )
        if rms is not None and rms != self._last_rms:
            # Written when PHD2 has guided since the last line, not once per frame.
            self._last_rms = rms
            self._journal.event(
                "guide_rms", total_px=rms.total_px, pixel_scale=rms.pixel_scale, steps=rms.n_steps
            )
        now = datetime.now(UTC)
        self._rows.append(ReportRow(now, path.name, verdict, tuple(actions)))
        self._view.frame(index, now.strftime("%H:%M:%S"), verdict, actions)

    async def _act(self, decision: Decision) -> list[str]:
        done: list[str] = []
        held = decision.resume and self._held
        for alert in decision.alerts:
            if held and alert.label == "good":
                continue  # "resuming: ..." while a pause command holds: not so
            self._raise_alert(alert, reason=decision.reason)
            done.append("alert")
        if decision.pause:
            self.summary.pauses += 1
            self._set_state(AgentState.PAUSED)
            actions = list(decision.actions)
            if self.profile.indi.abort_on_bad and "abort_exposure" not in actions:
                actions.append("abort_exposure")
            self._event("pause", f"pausing: {decision.reason}", actions=actions)
            for action in actions:
                if await self._do(action, pause=True):
                    done.append(action)
        elif held:
            # Paused by a command: the sky looks fine again, but a person asked.
            self._policy = dataclasses.replace(self._policy, paused=True, good_streak=0)
            self._event("resume_held", f"not resuming ({decision.reason}): paused by command")
        elif decision.resume:
            self.summary.resumes += 1
            self._set_state(AgentState.WATCHING)
            self._event("resume", f"resuming: {decision.reason}", actions=list(decision.actions))
            for action in decision.actions:
                if await self._do(action, pause=False):
                    done.append(f"resume:{action}")
        return sorted(set(done), key=done.index)

    async def _do(self, action: str, *, pause: bool) -> bool:
        """Carry out one pause (or resume) action; failures are counted, not fatal."""
        try:
            if action == "pause_guiding" and self.profile.phd2 is not None:
                if not self.profile.phd2.enabled:
                    return False
                if self._guider is None:
                    # Told, and made good when PHD2 is back (_guider_watch).
                    raise GuiderError("PHD2 is not connected")
                await (self._guider.pause() if pause else self._guider.resume())
                self._guider_paused = pause
                if not pause:
                    self._start_settling(self._guider)
                return True
            if action == "pause_sequence" and self.profile.indi.mode == "sequence":
                if pause:
                    self._sequence_resumed.clear()
                else:
                    self._sequence_resumed.set()
                return True
            if action == "abort_exposure" and pause and self._indi is not None:
                await self._abort_exposure()  # the sequence goes on with a probe
                return True
        except (GuiderError, IndiError) as exc:
            self.summary.action_errors += 1
            self._event("action_error", f"{action} failed: {exc}")
        return False

    def _start_settling(self, guider: Phd2Client) -> None:
        # Only a guider that is guiding settles: a guide call would start guiding (and
        # calibrating) one the user left looping or stopped. A settle still running (a
        # pause came meanwhile) is PHD2's to finish: a second guide call is refused.
        settling = self._settling is not None and not self._settling.done()
        if guider.app_state is Phd2AppState.GUIDING and not settling:
            self._settling = asyncio.create_task(self._settle(guider), name="agent-phd2-settle")

    async def _settle(self, guider: Phd2Client) -> None:
        """Ask PHD2 to settle (a ``guide`` while guiding only settles) and say how it went.

        Stars guided back into place trail while the mount catches up: the sequence
        takes its next frame once this ends (or fails; it is told and the night goes
        on, and a trailed frame is graded as such).
        """
        cfg = self.profile.phd2
        assert cfg is not None
        params = SettleParams(
            pixels=cfg.settle_pixels, time=cfg.settle_time_s, timeout=cfg.settle_timeout_s
        )
        started = time.monotonic()
        try:
            await guider.guide(params)
        except GuiderError as exc:
            self._event("settle_failed", f"guiding did not settle after resuming: {exc}")
            return
        took = time.monotonic() - started
        self._event(
            "guiding_settled",
            f"guiding settled after resuming, in {took:.1f} s",
            seconds=round(took, 2),
        )

    async def _guiding_settled(self) -> None:
        """Wait while PHD2 settles after a resume; pausing guiding again ends the wait."""
        while self._settling is not None and not self._settling.done():
            if self._guider_paused:
                return
            await asyncio.wait({self._settling}, timeout=0.5)  # it reports its own end

    def _stop_settling(self) -> None:
        if self._settling is not None and not self._settling.done():
            self._settling.cancel()
        self._settling = None

    def _raise_alert(self, alert: Alert, *, reason: str = "") -> None:
        self.summary.alerts += 1
        if self._journal is not None:
            self._journal.event(
                "alert", text=alert.text, label=alert.label, severity=alert.severity
            )
        self._view.event(f"ALERT [{alert.severity}] {alert.text}", style="bold red")
        if self._notifier is not None:
            self._notifier.publish_alert(
                alert.text,
                label=alert.label,
                reason=reason or alert.text,
                severity=alert.severity,
                fields={"frames": self.summary.frames},
            )

    # ------------------------------------------------------------------ commands

    async def _on_command(self, command: str) -> None:
        """MQTT commands: ``pause``, ``resume``, ``regrade-last``."""
        self._event("command", f"command received: {command}")
        if command == "pause":
            self.summary.pauses += 1
            self._held = True
            # The policy counts itself paused too, so that it neither pauses again
            # nor resumes on its own.
            self._policy = dataclasses.replace(self._policy, paused=True, good_streak=0)
            self._set_state(AgentState.PAUSED)
            for action in self.profile.policy.actions:
                await self._do(action, pause=True)
        elif command == "resume":
            self.summary.resumes += 1
            self._held = False
            # A fresh window: the bad frames before the resume do not pause at once.
            self._policy = dataclasses.replace(self._policy, paused=False, recent=(), good_streak=0)
            self._set_state(AgentState.WATCHING)
            for action in self.profile.policy.actions:
                await self._do(action, pause=False)
        elif command == "regrade-last" and self._last_frame is not None:
            last = self._last_frame
            path = last.path
            loop = asyncio.get_running_loop()
            try:
                frame = await loop.run_in_executor(
                    self._executor,
                    lambda: Frame.from_path(
                        path,
                        pixel_scale_arcsec=self.profile.optics.pixel_scale(),
                        bayer=self.profile.optics.bayer,
                    ),
                )
            except FrameError as exc:
                self._event("frame_error", f"cannot regrade {path.name}: {exc}")
                return
            verdict = await self.grader.grade_async(frame, self.profile, executor=self._executor)
            limit = self.profile.quality.min_transparency
            if limit is not None:
                # Against the session as it stood when the frame came in, so that the
                # same frame gets the same verdict; it is not remembered a second time.
                verdict = last.reference.judge(verdict, last.setup, min_transparency=limit)
            if self._notifier is not None:
                self._notifier.publish_verdict(verdict, frame_name=path.name)
            self._event(
                "regrade",
                f"regraded {path.name}: {verdict.label}",
                frame=path.name,
                label=verdict.label,
                transparency=verdict.transparency,
            )

    # ------------------------------------------------------------------ sequence, guider

    async def _sequence(self) -> None:
        """Expose ``count`` frames (0: until stopped). While paused, keep taking probe
        exposures, so the policy sees the sky recover and can resume."""
        assert self._indi is not None
        cfg = self.profile.sequence
        device = self.profile.indi.ccd_device
        taken = 0
        loop = asyncio.get_running_loop()
        while cfg.count == 0 or taken < cfg.count:
            if self._sequence_resumed.is_set():
                await self._guiding_settled()
            self._probe_pending = not self._sequence_resumed.is_set()
            self._next_blob = loop.create_future()
            reconnects = self._indi.stats.reconnects
            try:
                # Watched from before the request, so that its end cannot slip past.
                _discard(self._ran_to_end)
                self._ran_to_end = None
                self._ran_to_end = self._indi.next_update(
                    device, "CCD_EXPOSURE", _busy_then_ok(cfg.exposure_s)
                )
                await self._indi.set_number(
                    device, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": cfg.exposure_s}, timeout=30.0
                )
                arrived = await self._exposed(cfg.exposure_s + 120.0, reconnects)
            except (TimeoutError, IndiError) as exc:
                self._event("exposure_error", f"exposure failed: {exc!r}")
                await asyncio.sleep(min(5.0, cfg.exposure_s))
                await self._reconnect_camera()
                continue
            if arrived is None:
                # The server went away during the exposure (indiserver restarted, the
                # observatory computer rebooted): a restarted driver starts switched off.
                self._event("exposure_lost", "the INDI server reconnected during the exposure")
                await self._reconnect_camera()
                continue
            if not arrived:
                continue  # aborted by the policy: taken again, as a probe while paused
            if not self._probe_pending:
                taken += 1
            if cfg.interval_s:
                await asyncio.sleep(cfg.interval_s)
        # The session is the sequence: it ends once its last frames are graded.
        while self._in_hand or not self._queue.empty():
            await asyncio.sleep(0.1)
        self._event("sequence_done", f"sequence done: {taken} frames")
        self._stop.set()

    async def _exposed(self, timeout: float, reconnects: int) -> bool | None:
        """The exposure's outcome: True, its frame came; False, the policy aborted it;
        None, the client reconnected meanwhile, so the frame will not come."""
        assert self._indi is not None and self._next_blob is not None
        async with asyncio.timeout(timeout):
            while True:
                done, _ = await asyncio.wait({self._next_blob}, timeout=1.0)
                if done:
                    return self._next_blob.result()
                if self._indi.stats.reconnects != reconnects:
                    return None

    async def _reconnect_camera(self) -> None:
        try:
            await self._connect_camera()
        except (IndiError, TimeoutError) as exc:
            self._event("exposure_error", f"camera not reachable yet: {exc!r}")

    async def _guider_watch(self) -> None:
        """Follow PHD2's events all night. When it cannot be reached (not started yet,
        restarted, its computer rebooted), alert once, try again, backing off to a
        minute, and on its return pause it again if the session is paused."""
        cfg = self.profile.phd2
        assert cfg is not None
        if self._guider is not None:
            await self._guider_events(self._guider)
        self._guider = None
        self._raise_alert(
            Alert("phd2", "PHD2 not connected: guiding will not be paused until it is", "critical")
        )
        delay = _PHD2_RETRY_S[0]
        while True:
            await asyncio.sleep(delay)
            delay = min(2 * delay, _PHD2_RETRY_S[1])
            try:
                async with Phd2Client(cfg.host, cfg.port) as guider:
                    self._guider = guider
                    delay = _PHD2_RETRY_S[0]
                    self._event("phd2_connected", "PHD2 connected: guiding control on")
                    # Guiding as the session is now: paused, or resumed while PHD2 was
                    # away (it kept the pause it had; one the user made is theirs).
                    paused = self._state is AgentState.PAUSED
                    if "pause_guiding" in self.profile.policy.actions and (
                        paused or self._guider_paused
                    ):
                        await self._do("pause_guiding", pause=paused)
                    await self._guider_events(guider)
            except GuiderError as exc:
                log.debug("PHD2 still unreachable: %s", exc)
                continue
            finally:
                self._guider = None
            self._raise_alert(
                Alert("phd2", "PHD2 connection lost: guiding will not be paused", "critical")
            )

    async def _guider_events(self, guider: Phd2Client) -> None:
        """Journal PHD2's events until the connection goes."""
        star_lost = False
        try:
            async for event in guider.events():
                # PHD2 repeats StarLost every guide frame: report a loss once, and its end.
                if isinstance(event, StarLostEvent):
                    if not star_lost:
                        self._event("phd2_star_lost", "PHD2 lost the guide star")
                    star_lost = True
                elif isinstance(event, GuideStepEvent):
                    if star_lost:
                        self._event("phd2_star_found", "PHD2 is guiding on a star again")
                    star_lost = False
                else:
                    name = type(event).__name__.removesuffix("Event")
                    if self._journal is not None:
                        self._journal.event("phd2", phd2_event=name)
        except AstroIQAError as exc:
            self._event("phd2_lost", f"PHD2 connection lost: {exc}")


def _busy_then_ok(seconds: float) -> Callable[[PropertyVector], bool]:
    """Passes CCD_EXPOSURE's first Ok after the Busy that starts a ``seconds`` exposure:
    an exposure that ran to its end. (A previous exposure's late Ok, after the new
    one's first Busy, does not count: that Busy has not been seen yet.)"""
    busy = False

    def ran_to_end(vector: PropertyVector) -> bool:
        nonlocal busy
        if vector.state is PropertyState.BUSY:
            value = (
                vector.value("CCD_EXPOSURE_VALUE") if "CCD_EXPOSURE_VALUE" in vector.names else None
            )
            started = isinstance(value, float) and abs(value - seconds) <= 1e-3 * seconds + 1e-6
            busy = busy or started
            return False
        if vector.state is PropertyState.OK:
            return busy
        busy = False  # Idle or Alert: aborted or failed
        return False

    return ran_to_end


def _no_frame(exposure: asyncio.Future[bool]) -> None:
    if not exposure.done():
        exposure.set_result(False)


def _resolved(future: asyncio.Future[PropertyVector] | None) -> bool:
    return (
        future is not None
        and future.done()
        and not future.cancelled()
        and future.exception() is None
    )


def _discard(future: asyncio.Future[PropertyVector] | None) -> None:
    if future is not None:
        future.cancel()  # a no-op once done (next_update has retrieved any error)


def _write_atomically(data: bytes, path: Path) -> OSError | None:
    """Write ``data`` to ``path``, whole or not at all; the error is returned, not raised.

    Not fsynced: the agent writes frame after frame, and a sync of 50 MB would hold
    the worker thread the next frame's grading needs.
    """
    try:
        write_atomically(path, lambda out: out.write(data), durable=False)
    except OSError as exc:
        return exc
    return None
