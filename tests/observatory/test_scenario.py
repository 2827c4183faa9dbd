"""A scripted night, frame by frame: sep measurements show the conditions in order."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import sep
from astropy.io import fits

from astroiqa_indi.indi import IndiClient
from simulators.observatory import Observatory, ObservatoryConfig, ObservatoryServer
from tests.observatory.conftest import CCD

pytestmark = [pytest.mark.network, pytest.mark.slow]

NIGHT = Path(__file__).parents[2] / "simulators" / "scenarios" / "night-with-faults.yaml"
# Mid-segment times of night-with-faults.yaml and what each segment scripts.
TIMELINE = (
    (30.0, "clear", "good"),
    (90.0, "periodic-error", "bad_tracking"),
    (135.0, "periodic-error-worse", "very_bad_tracking"),
    (235.0, "clouds-rolling-in", "background_issues"),
    (270.0, "clear-again", "good"),
)


def _measure(data: np.ndarray) -> tuple[int, float]:
    """Clean star count and median elongation a/b, as sep sees them."""
    image = np.ascontiguousarray(data, dtype=np.float64)
    background = sep.Background(image)
    sources = sep.extract(image - background, 5.0, err=background.globalrms, minarea=5)
    stars = sources[(sources["flag"] == 0) & (sources["peak"] < 50000)]
    return len(stars), float(np.median(stars["a"] / stars["b"]))


async def test_night_with_faults_plays_its_segments_in_order(tmp_path: Path) -> None:
    truth_log = tmp_path / "truth.jsonl"
    config = ObservatoryConfig(
        rig="refractor80_asi2600mm",  # mono: sep measures stars, not a Bayer mosaic
        size=(256, 256),
        scenario=NIGHT,
        time_scale=100.0,
        truth_log=truth_log,
    )
    measured: list[tuple[int, float]] = []
    segments: list[str] = []
    async with (
        Observatory(config) as observatory,
        ObservatoryServer(observatory, port=0) as server,
        IndiClient(port=server.port, fail_fast=True) as indi,
    ):
        await indi.set_switch(CCD, "CONNECTION", {"CONNECT": True}, wait=True)
        # Paused and sought, every frame samples exactly the moment we choose.
        await indi.set_switch(CCD, "SIM_SCENARIO", {"PAUSE": True}, wait=True)
        blobs = indi.blobs(device=CCD)
        for t, _, _ in TIMELINE:
            await indi.set_number(CCD, "SIM_TIME", {"ELAPSED_S": t}, wait=True)
            state = await indi.wait_for(CCD, "SIM_STATE")
            segments.append(str(state.value("SEGMENT")))
            await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 5.0})
            blob = await anext(blobs)
            measured.append(_measure(fits.getdata(io.BytesIO(blob.data))))
    entries = [json.loads(line) for line in truth_log.read_text().splitlines()]
    assert segments == [name for _, name, _ in TIMELINE]
    assert [e["segment"] for e in entries] == segments
    assert [e["label"] for e in entries] == [label for _, _, label in TIMELINE]

    (n_clear, e_clear), (_, e_pe), (_, e_worse), (n_cloud, _), (n_again, e_again) = measured
    # Tracking: round, then elongated, then trailed; round again once it is clear.
    assert e_clear < 1.25 and e_again < 1.25
    assert e_clear < e_pe < e_worse and e_worse > 2.0
    # Clouds: most stars vanish; they come back when the sky clears.
    assert n_cloud < 0.3 * n_clear
    assert n_again > 0.6 * n_clear
