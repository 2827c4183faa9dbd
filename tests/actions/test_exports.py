"""``astroiqa_indi.actions`` exports its public names and imports nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import astroiqa_indi.actions as actions
from astroiqa_indi.actions import FlagSettings
from astroiqa_indi.config import FramesSettings


def test_all_is_complete() -> None:
    public = {n for n in vars(actions) if not n.startswith("_")} - {"annotations"}
    assert public <= set(actions.__all__)
    assert all(hasattr(actions, name) for name in actions.__all__)


def test_frames_settings_satisfy_the_flag_protocol() -> None:
    settings: FlagSettings = FramesSettings(flag="header", keywords_in_place=True)
    assert (settings.flag, settings.reject_dir, settings.keywords_in_place) == (
        "header",
        None,
        True,
    )


def test_importing_actions_loads_neither_tensorflow_nor_simulators() -> None:
    code = (
        "import sys, astroiqa_indi.actions; "
        "print(any(m.startswith(('tensorflow', 'simulators')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
