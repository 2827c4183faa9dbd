"""Render one simulated night into a temporary folder and grade its frames in order."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from astroiqa_indi.config import Profile
    from astroiqa_indi.grading import CameraSetup, Grader, Verdict
    from simulators.observatory import NightFile


def grade_night(
    grader: Grader,
    profile: Profile,
    scenario: Path,
    night: dict[str, Any],
    *,
    night_seed: int,
    rig: str,
    size: tuple[int, int],
    camera_seed: int = 1,
    count: int | None = None,
    workers: int = 1,
) -> tuple[list[NightFile], list[Verdict], list[CameraSetup]]:
    """The night ``night`` (the scenario's YAML, loaded) with seed ``night_seed``: its
    files' truth, and each frame's verdict and camera setup, in time order."""
    from astroiqa_indi.frames import Frame
    from astroiqa_indi.grading import camera_setup
    from simulators.observatory import write_night_files

    with tempfile.TemporaryDirectory() as tmp:
        night_file = Path(tmp) / scenario.name
        night_file.write_text(yaml.safe_dump({**night, "seed": night_seed}))
        files = write_night_files(
            night_file,
            Path(tmp) / "frames",
            rig=rig,
            size=size,
            seed=camera_seed,
            count=count,
            workers=workers,
        )
        verdicts, setups = [], []
        for item in files:
            frame = Frame.from_path(
                item.path,
                pixel_scale_arcsec=profile.optics.pixel_scale(),
                bayer=profile.optics.bayer,
            )
            verdicts.append(grader.grade(frame, profile))
            setups.append(camera_setup(frame))
    return files, verdicts, setups
