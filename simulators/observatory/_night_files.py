"""A scenario night as a folder of FITS files, for ``indi_simulator_ccd``'s directory mode.

Debian's CCD simulator cannot trail stars or cloud the sky, but it can serve files
from a folder (``CCD_DIRECTORY_LOCATION`` + ``CCD_DIRECTORY_TOGGLE``), one per
exposure, in file-name order, starting over after the last. This module renders a
scenario's frames with the same camera the simulated observatory uses, names them
so that name order is time order, and writes the truth next to them
(``truth.jsonl``, which the driver ignores: it only reads FITS files).

The driver replaces the header with its own, so what survives the trip is the
pixels: a profile for such a session must state the optics (and the Bayer pattern)
itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulators.observatory._frames import ExposureRequest, SkyCamera
from simulators.sky import RIGS, load_scenario

__all__ = ["NightFile", "write_night_files"]


@dataclass(frozen=True, slots=True)
class NightFile:
    """One written frame and its truth.

    Attributes
    ----------
    index
        1-based position in the night (and in name order).
    path
        The FITS file.
    segment
        Scenario segment the exposure started in.
    label, clear
        ``label_of`` on the rendered truth; ``clear`` is False near a class boundary.
    """

    index: int
    path: Path
    segment: str
    label: str
    clear: bool


@dataclass(frozen=True, slots=True)
class _Job:
    scenario: Path
    rig: str
    size: tuple[int, int]
    seed: int
    index: int
    folder: Path


_Cameras = dict[tuple[str, tuple[int, int], int], SkyCamera]
_WORKER_CAMERAS: _Cameras = {}  # one per spawned worker process, which ends with the pool
_START = datetime(2024, 6, 7, 22, 0, tzinfo=UTC)


def _render_in_worker(job: _Job) -> tuple[NightFile, float]:
    return _render(job, _WORKER_CAMERAS)


def _render(job: _Job, cameras: _Cameras) -> tuple[NightFile, float]:
    """Render and write frame ``job.index``.

    Frame ``n`` depends only on ``(seed, n)`` and the scenario time, so any number
    of workers writes the same bytes.
    """
    key = (job.rig, job.size, job.seed)
    camera = cameras.get(key)
    if camera is None:
        camera = cameras[key] = SkyCamera(RIGS[job.rig], size=job.size, seed=job.seed)
    night = load_scenario(job.scenario)
    t = (job.index - 1) * night.exposure_s
    conditions, segment = night.conditions_at(t, camera.rig)
    result = camera.expose(
        ExposureRequest(
            exposure_s=night.exposure_s,
            start=_START + timedelta(seconds=t),
            conditions=conditions,
            x=0,
            y=0,
            width=camera.width,
            height=camera.height,
            frame_number=job.index,
        )
    )
    path = job.folder / f"frame_{job.index:05d}.fits"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(result.data)
    tmp.replace(path)
    return NightFile(job.index, path, segment.name, str(result.label), result.clear), t


def write_night_files(
    scenario: str | Path,
    out_dir: str | Path,
    *,
    rig: str | None = None,
    size: tuple[int, int] = (640, 480),
    seed: int = 1,
    count: int | None = None,
    workers: int = 1,
) -> list[NightFile]:
    """Render one pass of ``scenario`` into ``out_dir`` as ``frame_00001.fits``...

    Parameters
    ----------
    scenario
        Scenario YAML file (``simulators/scenarios``).
    out_dir
        Created if missing; must not already hold ``frame_*.fits`` files (the driver
        would serve them too).
    rig
        Catalogue rig name; default the scenario's rig, else ``seestar_s50``.
    size
        ``(width, height)`` crop of the rig's sensor.
    seed
        Noise seed of the camera (frame ``n`` uses ``(seed, n)``).
    count
        Number of frames; default one pass of the night (duration / exposure).
    workers
        Processes rendering frames in parallel; the files are the same for any number.

    Returns
    -------
    list of NightFile
        In order. ``out_dir/truth.jsonl`` holds the same, one JSON object per line.
    """
    night = load_scenario(scenario)
    rig_name = rig or night.rig or "seestar_s50"
    if rig_name not in RIGS:
        raise ValueError(f"unknown rig {rig_name!r}; known: {', '.join(sorted(RIGS))}")
    if workers < 1:
        raise ValueError("workers must be >= 1")
    total = count if count is not None else max(1, int(night.duration_s // night.exposure_s))
    if total < 1:
        raise ValueError("count must be >= 1")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.glob("frame_*.fits")):
        raise ValueError(f"{folder} already holds frame_*.fits files")
    jobs = [
        _Job(Path(scenario), rig_name, size, seed, index, folder) for index in range(1, total + 1)
    ]
    if workers > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(min(workers, total)) as pool:
            results = pool.map(_render_in_worker, jobs, chunksize=1)
    else:
        cameras: _Cameras = {}
        results = [_render(job, cameras) for job in jobs]
    with (folder / "truth.jsonl").open("w") as truth_log:
        for item, t in results:
            truth_log.write(
                json.dumps(
                    {
                        "frame": item.index,
                        "file": item.path.name,
                        "scenario_time_s": t,
                        "segment": item.segment,
                        "label": item.label,
                        "clear": item.clear,
                        "rig": rig_name,
                    }
                )
                + "\n"
            )
    return [item for item, _ in results]
