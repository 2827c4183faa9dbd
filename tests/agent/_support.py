"""What the agent tests against our simulated observatory share."""

from __future__ import annotations

import dataclasses

from astroiqa_indi.config import Phd2Settings, Profile, default_profile


def sequence_profile(port: int, *, exposure_s: float = 1.0) -> Profile:
    """The default profile, driving the camera on ``127.0.0.1:port`` itself (sequence
    mode, ``exposure_s`` subs), without PHD2."""
    base = default_profile()
    return dataclasses.replace(
        base,
        indi=dataclasses.replace(base.indi, host="127.0.0.1", port=port, mode="sequence"),
        phd2=Phd2Settings(enabled=False),
        sequence=dataclasses.replace(base.sequence, exposure_s=exposure_s),
    )
