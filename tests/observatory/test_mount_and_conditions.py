"""The mount, SIM_CONDITIONS and SIM_SCENARIO, through the native client."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime

import numpy as np
import pytest
from astropy.io import fits

from astroiqa_indi.errors import IndiError
from astroiqa_indi.frames._header import header_pointing
from astroiqa_indi.indi import IndiClient, PropertyState
from simulators.observatory import sidereal_trail_px
from tests.observatory.conftest import CCD, MOUNT, Served

pytestmark = pytest.mark.network


async def _frame_label(indi: IndiClient, served: Served, seconds: float = 10.0) -> str:
    """Expose, wait for the frame, return its truth label from the log."""
    blobs = indi.blobs(device=CCD)
    await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": seconds})
    async with asyncio.timeout(20):
        await anext(blobs)
    await indi.wait_for(CCD, "CCD_EXPOSURE", state=PropertyState.OK)
    last = served.truth_log.read_text().splitlines()[-1]
    return str(json.loads(last)["label"])


async def test_goto_tracking_and_guide_pulses(served: Served) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await indi.set_switch(MOUNT, "CONNECTION", {"CONNECT": True}, wait=True)
        await indi.set_switch(MOUNT, "ON_COORD_SET", {"TRACK": True}, wait=True)
        coords = await indi.set_number(
            MOUNT, "EQUATORIAL_EOD_COORD", {"RA": 6.5, "DEC": 30.0}, wait=True
        )
        assert coords is not None and coords.state is PropertyState.OK
        assert coords.value("RA") == pytest.approx(6.5) and coords.value("DEC") == 30.0
        track = await indi.wait_for(MOUNT, "TELESCOPE_TRACK_STATE")
        assert track.on_switches == ("TRACK_ON",)

        pulse = await indi.set_number(
            MOUNT, "TELESCOPE_TIMED_GUIDE_NS", {"TIMED_GUIDE_N": 500}, wait=True
        )
        assert pulse is not None and pulse.state is PropertyState.OK
        assert pulse.value("TIMED_GUIDE_N") == 0
        assert served.observatory.mount.status().guide_pulses == 1
        with pytest.raises(IndiError, match="one direction at a time"):
            await indi.set_number(
                MOUNT,
                "TELESCOPE_TIMED_GUIDE_WE",
                {"TIMED_GUIDE_W": 100, "TIMED_GUIDE_E": 100},
                wait=True,
            )

        await indi.set_switch(MOUNT, "ON_COORD_SET", {"SYNC": True}, wait=True)
        synced = await indi.set_number(
            MOUNT, "EQUATORIAL_EOD_COORD", {"RA": 1.0, "DEC": -10.0}, wait=True
        )
        assert synced is not None and synced.value("RA") == 1.0


async def test_an_untracked_mount_trails_the_stars(served: Served) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await indi.set_switch(CCD, "CONNECTION", {"CONNECT": True}, wait=True)
        await indi.set_switch(MOUNT, "CONNECTION", {"CONNECT": True}, wait=True)
        assert await _frame_label(indi, served) == "good"
        await indi.set_switch(MOUNT, "TELESCOPE_TRACK_STATE", {"TRACK_OFF": True}, wait=True)
        assert await _frame_label(indi, served) == "very_bad_tracking"
        # Like libindi, the tracking switch stays Busy while the mount tracks.
        await indi.set_switch(MOUNT, "TELESCOPE_TRACK_STATE", {"TRACK_ON": True})
        await indi.wait_for(MOUNT, "TELESCOPE_TRACK_STATE", state=PropertyState.BUSY)
        assert await _frame_label(indi, served) == "good"
    entries = [json.loads(line) for line in served.truth_log.read_text().splitlines()]
    expected = sidereal_trail_px(10.0, 45.0, 1.6157)
    assert entries[1]["truth"]["drift_px"] == pytest.approx(expected, rel=0.01)


async def test_frames_say_where_a_connected_mount_points(served: Served) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await indi.set_switch(CCD, "CONNECTION", {"CONNECT": True}, wait=True)
        before = await _frame_header(indi)
        await indi.set_switch(MOUNT, "CONNECTION", {"CONNECT": True}, wait=True)
        await indi.set_switch(MOUNT, "ON_COORD_SET", {"TRACK": True}, wait=True)
        await indi.set_number(
            MOUNT, "EQUATORIAL_EOD_COORD", {"RA": 5.5875, "DEC": -5.39}, wait=True
        )
        after = await _frame_header(indi)
    # Like an INDI camera snooping its mount: nothing before the mount is connected.
    assert not {"OBJCTRA", "OBJCTDEC", "RA", "DEC"} & set(before)
    # The mount's JNow position precessed to J2000, by the textbook's first-order
    # formula (annual rates m = 46.12", n = 20.04"; good to an arcsecond here).
    years = (datetime.fromisoformat(after["DATE-OBS"]) - datetime(2000, 1, 1, 12)).days / 365.25
    ra, dec = np.radians(83.8125), np.radians(-5.39)
    ra_2000 = 83.8125 - (46.1244 + 20.0431 * np.sin(ra) * np.tan(dec)) * years / 3600
    dec_2000 = -5.39 - 20.0431 * np.cos(ra) * years / 3600
    assert 83.8125 - ra_2000 > 0.3  # decades of precession: not the mount's JNow value
    arcsec = 1 / 3600
    assert after["RA"] == pytest.approx(ra_2000, abs=3 * arcsec)
    assert after["DEC"] == pytest.approx(dec_2000, abs=3 * arcsec)
    assert after["OBJCTRA"].startswith(" 5 3") and after["OBJCTDEC"].startswith("-5 2")
    pointing = header_pointing(after)
    assert pointing == pytest.approx((after["RA"], after["DEC"]), abs=arcsec)
    del after["RA"], after["DEC"]
    assert header_pointing(after) == pytest.approx(pointing, abs=0.2 * arcsec)  # 0.01 s of RA


async def _frame(indi: IndiClient) -> tuple[np.ndarray, fits.Header]:
    """Expose for 10 s; the frame's pixels and header."""
    blobs = indi.blobs(device=CCD)
    await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 10.0})
    async with asyncio.timeout(20):
        blob = await anext(blobs)
    await indi.wait_for(CCD, "CCD_EXPOSURE", state=PropertyState.OK)
    with fits.open(io.BytesIO(blob.data)) as hdus:
        return np.array(hdus[0].data), hdus[0].header.copy()


async def _frame_header(indi: IndiClient) -> fits.Header:
    return (await _frame(indi))[1]


async def test_sim_conditions_override_the_sky_live(served: Served) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await indi.set_switch(CCD, "CONNECTION", {"CONNECT": True}, wait=True)
        conditions = await indi.wait_for(CCD, "SIM_CONDITIONS")
        assert conditions.state is PropertyState.IDLE
        assert 0.9 < float(conditions.value("TRANSPARENCY")) <= 1.0

        updated = await indi.set_number(CCD, "SIM_CONDITIONS", {"TRANSPARENCY": 0.2}, wait=True)
        assert updated is not None and updated.state is PropertyState.OK  # Ok: overridden
        assert updated.value("TRANSPARENCY") == pytest.approx(0.2)
        assert await _frame_label(indi, served) == "background_issues"

        await indi.set_number(
            CCD, "SIM_CONDITIONS", {"TRANSPARENCY": 1.0, "SEEING_ARCSEC": 12.0}, wait=True
        )
        assert await _frame_label(indi, served) == "bad_seeing"
        with pytest.raises(IndiError, match="outside"):
            await indi.set_number(CCD, "SIM_CONDITIONS", {"SKY_RATIO": 0}, wait=True)


async def test_pausing_and_seeking_the_scenario_clock(served: Served) -> None:
    player = served.observatory.player
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await indi.set_switch(CCD, "CONNECTION", {"CONNECT": True}, wait=True)
        await indi.set_switch(CCD, "SIM_SCENARIO", {"PAUSE": True}, wait=True)
        assert not player.playing
        frozen = player.elapsed_s()
        await indi.ping()
        assert player.elapsed_s() == frozen
        moved = await indi.set_number(CCD, "SIM_TIME", {"ELAPSED_S": 1234}, wait=True)
        assert moved is not None and moved.value("ELAPSED_S") == 1234
        assert player.elapsed_s() == pytest.approx(1234)
        await indi.set_switch(CCD, "SIM_SCENARIO", {"PLAY": True}, wait=True)
        assert player.playing


async def _frame_stars(indi: IndiClient) -> np.ndarray:
    """Expose and return the (x, y) of the frame's sources."""
    import sep

    pixels, _ = await _frame(indi)
    data = np.ascontiguousarray(pixels, dtype=np.float32)
    background = sep.Background(data)
    found = sep.extract(data - background, 5.0, err=background.globalrms)
    return np.column_stack([found["x"], found["y"]])


def _shared(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of the sources of ``a`` found within 1.5 px in ``b``."""
    distance = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    return float(np.mean(distance.min(axis=1) < 1.5))


async def test_the_star_field_follows_the_mount_to_another_field(served: Served) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await indi.set_switch(CCD, "CONNECTION", {"CONNECT": True}, wait=True)
        await indi.set_switch(MOUNT, "CONNECTION", {"CONNECT": True}, wait=True)
        await indi.set_switch(MOUNT, "ON_COORD_SET", {"SYNC": True}, wait=True)
        stars = []
        # Here, 2 deg away (the 128-px frame is under 0.1 deg wide), and back with a
        # dither of a few arcseconds.
        for ra, dec in ((5.5875, -5.39), (5.5875, -3.39), (5.5875 + 2e-4, -5.3905)):
            await indi.set_number(MOUNT, "EQUATORIAL_EOD_COORD", {"RA": ra, "DEC": dec}, wait=True)
            stars.append(await _frame_stars(indi))
    here, there, back = stars
    assert len(here) >= 5 and len(there) >= 1, (len(here), len(there))
    assert _shared(here, back) >= 0.8  # the same stars where they were
    assert _shared(here, there) <= 0.2  # another part of the sky
