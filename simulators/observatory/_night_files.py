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


def write_night_files(
    scenario: str | Path,
    out_dir: str | Path,
    *,
    rig: str | None = None,
    size: tuple[int, int] = (640, 480),
    seed: int = 1,
    count: int | None = None,
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

    Returns
    -------
    list of NightFile
        In order. ``out_dir/truth.jsonl`` holds the same, one JSON object per line.
    """
    night = load_scenario(scenario)
    rig_name = rig or night.rig or "seestar_s50"
    if rig_name not in RIGS:
        raise ValueError(f"unknown rig {rig_name!r}; known: {', '.join(sorted(RIGS))}")
    camera = SkyCamera(RIGS[rig_name], size=size, seed=seed)
    total = count if count is not None else max(1, int(night.duration_s // night.exposure_s))
    if total < 1:
        raise ValueError("count must be >= 1")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.glob("frame_*.fits")):
        raise ValueError(f"{folder} already holds frame_*.fits files")
    start = datetime(2024, 6, 7, 22, 0, tzinfo=UTC)
    written: list[NightFile] = []
    with (folder / "truth.jsonl").open("w") as truth_log:
        for index in range(1, total + 1):
            t = (index - 1) * night.exposure_s
            conditions, segment = night.conditions_at(t, camera.rig)
            result = camera.expose(
                ExposureRequest(
                    exposure_s=night.exposure_s,
                    start=start + timedelta(seconds=t),
                    conditions=conditions,
                    x=0,
                    y=0,
                    width=camera.width,
                    height=camera.height,
                    frame_number=index,
                )
            )
            path = folder / f"frame_{index:05d}.fits"
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(result.data)
            tmp.replace(path)
            item = NightFile(index, path, segment.name, str(result.label), result.clear)
            written.append(item)
            truth_log.write(
                json.dumps(
                    {
                        "frame": index,
                        "file": path.name,
                        "scenario_time_s": t,
                        "segment": segment.name,
                        "label": item.label,
                        "clear": item.clear,
                        "rig": rig_name,
                    }
                )
                + "\n"
            )
    return written
