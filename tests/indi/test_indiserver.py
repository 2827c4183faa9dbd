"""The native client against Debian's indiserver and its simulator drivers."""

from __future__ import annotations

import asyncio
import io
import signal
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sep
from astropy.io import fits
from numpy.testing import assert_array_equal

from astroiqa_indi.frames import Frame
from astroiqa_indi.grading import camera_setup
from astroiqa_indi.indi import (
    Blob,
    BlobStream,
    ClientState,
    IndiClient,
    PropertyState,
    ReconnectPolicy,
    VectorKind,
)
from simulators.observatory import j2000_of
from tests.indi._support import (
    CCD,
    FOCUSER,
    TELESCOPE,
    IndiServer,
    connect_device,
    fits_pixels,
    start_exposure,
)

pytestmark = pytest.mark.network

FAST = ReconnectPolicy(initial=0.1, maximum=0.5)


async def next_blob(stream: BlobStream, timeout: float = 20.0) -> Blob:
    return await asyncio.wait_for(anext(stream), timeout)


def star_field(pixels: np.ndarray) -> tuple[int, float]:
    """Number of sources sep finds and their median FWHM (pixels)."""
    data = pixels.astype(np.float64)
    background = sep.Background(data)
    sources = sep.extract(data - background, 5.0, err=background.globalrms)
    if len(sources) == 0:
        return 0, float("nan")
    fwhm = 2.0 * np.sqrt(np.log(2.0) * (sources["a"] ** 2 + sources["b"] ** 2))
    return len(sources), float(np.median(fwhm))


async def test_discovers_devices_and_properties(indi_server: IndiServer) -> None:
    async with IndiClient(port=indi_server.port) as indi:
        for device in (CCD, TELESCOPE, FOCUSER):
            connection = await indi.wait_for(device, "CONNECTION")
            assert connection.kind is VectorKind.SWITCH
            assert set(connection.names) == {"CONNECT", "DISCONNECT"}
        await connect_device(indi, CCD)
        exposure = await indi.wait_for(CCD, "CCD_EXPOSURE")
        assert exposure.element("CCD_EXPOSURE_VALUE").maximum == 3600  # type: ignore[union-attr]
        assert (await indi.wait_for(CCD, "CCD1")).kind is VectorKind.BLOB
        assert set(indi.devices()) >= {CCD, TELESCOPE, FOCUSER}
        assert indi.stats.protocol_errors == 0


async def test_an_abort_is_answered_and_the_exposure_ends_without_a_frame(
    indi_server: IndiServer,
) -> None:
    # The agent waits for this answer before its next exposure (docs/architecture.md).
    async with IndiClient(port=indi_server.port) as indi:
        await connect_device(indi, CCD)
        stream = indi.blobs(device=CCD)
        await start_exposure(indi, 2.0)
        await indi.wait_for(CCD, "CCD_EXPOSURE", state=PropertyState.BUSY)
        answer = await indi.set_switch(CCD, "CCD_ABORT_EXPOSURE", {"ABORT": True}, wait=True)
        assert answer is not None and answer.state is PropertyState.OK
        await asyncio.sleep(4.0)  # twice the exposure: its frame would be here by now
        assert stream.pending == 0


@pytest.mark.slow
async def test_exposure_has_real_stars_and_defocus_bloats_them(indi_server: IndiServer) -> None:
    async with IndiClient(port=indi_server.port) as indi:
        await connect_device(indi, CCD)
        await connect_device(indi, FOCUSER)
        stream = indi.blobs(device=CCD)

        async def expose_with_best_focus_at(best: float) -> tuple[int, float]:
            # The driver's seeing follows the snooped focuser position relative to its
            # SIM_FOCUS_POSITION; moving that optimum (instant) and nudging the focuser
            # by a few steps (fast) changes focus without a long focuser travel.
            await indi.set_number(CCD, "SIM_FOCUSING", {"SIM_FOCUS_POSITION": best}, wait=True)
            focuser = await indi.wait_for(FOCUSER, "ABS_FOCUS_POSITION")
            position = float(focuser.value("FOCUS_ABSOLUTE_POSITION"))
            position += 500 if position < 50000 else -500
            await indi.set_number(
                FOCUSER,
                "ABS_FOCUS_POSITION",
                {"FOCUS_ABSOLUTE_POSITION": position},
                wait=True,
                timeout=30,
            )
            await start_exposure(indi, 1.0)
            blob = await next_blob(stream)
            assert blob.format == ".fits" and len(blob.data) == blob.size
            pixels = fits_pixels(blob)
            assert pixels.shape == (1024, 1280)
            return star_field(pixels)

        focuser = await indi.wait_for(FOCUSER, "ABS_FOCUS_POSITION")
        here = float(focuser.value("FOCUS_ABSOLUTE_POSITION"))
        in_focus = await expose_with_best_focus_at(here)
        defocused = await expose_with_best_focus_at(here + 40000 if here < 50000 else here - 40000)
    assert in_focus[0] > 20, in_focus
    assert defocused[1] > 3 * in_focus[1] or defocused[0] < in_focus[0] / 3, (in_focus, defocused)


@pytest.mark.slow
async def test_compressed_blob_decodes_to_the_same_pixels(
    indi_server: IndiServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    # Sky background with shot noise and one star: compressible like a real frame.
    yy, xx = np.mgrid[:480, :640]
    star = 20000 * np.exp(-((xx - 320.0) ** 2 + (yy - 240.0) ** 2) / 8.0)
    frame = rng.poisson(1000 + star).astype(np.uint16)
    header = fits.Header({"PIXSIZE1": 3.76, "PIXSIZE2": 3.76})  # INDI 1.9.9 requires PIXSIZE1
    fits.PrimaryHDU(frame, header=header).writeto(tmp_path / "frame_0001.fits")
    async with IndiClient(port=indi_server.port) as indi:
        await connect_device(indi, CCD)
        stream = indi.blobs(device=CCD)
        await indi.set_text(CCD, "CCD_DIRECTORY_LOCATION", {"LOCATION": str(tmp_path)}, wait=True)
        await indi.set_switch(CCD, "CCD_DIRECTORY_TOGGLE", {"INDI_ENABLED": True}, wait=True)
        try:
            await start_exposure(indi, 0.1)
            plain = await next_blob(stream)
            await indi.set_switch(CCD, "CCD_COMPRESSION", {"INDI_ENABLED": True}, wait=True)
            await start_exposure(indi, 0.1)
            packed = await next_blob(stream)
        finally:
            await indi.set_switch(CCD, "CCD_COMPRESSION", {"INDI_DISABLED": True}, wait=True)
            await indi.set_switch(CCD, "CCD_DIRECTORY_TOGGLE", {"INDI_DISABLED": True}, wait=True)
    assert (plain.format, packed.format) == (".fits", ".fits.fz")
    assert packed.compressed and packed.size == plain.size == len(plain.data)
    with fits.open(io.BytesIO(packed.data)) as hdul:
        assert any(isinstance(hdu, fits.CompImageHDU) for hdu in hdul)
    assert_array_equal(fits_pixels(plain), frame)
    assert_array_equal(fits_pixels(packed), frame)


async def test_passive_mode_hears_exposures_started_by_another_client(
    indi_server: IndiServer,
) -> None:
    async with (
        IndiClient(port=indi_server.port) as listener,
        IndiClient(port=indi_server.port, blobs=False) as other,  # e.g. Ekos
    ):
        stream = listener.blobs(device=CCD)
        await connect_device(other, CCD)
        await listener.wait_for(CCD, "CCD1")
        await start_exposure(other, 0.1)
        blob = await next_blob(stream)
        assert (blob.device, blob.property, blob.format) == (CCD, "CCD1", ".fits")
        # The listener's model followed the other client's exposure too.
        exposure = await listener.wait_for(CCD, "CCD_EXPOSURE", state=PropertyState.OK)
        assert exposure.state is PropertyState.OK
        assert other.stats.blobs_received == 0


@pytest.mark.slow
async def test_server_killed_and_restarted_mid_session(private_indi_server: IndiServer) -> None:
    async with IndiClient(port=private_indi_server.port, reconnect=FAST) as indi:
        stream = indi.blobs(device=CCD)
        await connect_device(indi, CCD)
        await start_exposure(indi, 0.1)
        first = await next_blob(stream)

        private_indi_server.stop(signal.SIGKILL)
        await indi.wait_for_state(ClientState.RECONNECTING, timeout=10)
        private_indi_server.start()
        await indi.wait_for_state(ClientState.CONNECTED, timeout=20)

        # Drivers restarted disconnected: connect again, and expose on the same stream.
        await connect_device(indi, CCD, timeout=20)
        await start_exposure(indi, 0.1)
        second = await next_blob(stream)
        assert second.received_at > first.received_at
        assert indi.stats.reconnects == 1


@pytest.mark.slow
async def test_frames_carry_the_snooped_mount_pointing(indi_server: IndiServer) -> None:
    # The session transparency rule tells fields apart by these keywords.
    async with IndiClient(port=indi_server.port) as indi:
        await connect_device(indi, TELESCOPE)
        await connect_device(indi, CCD)
        stream = indi.blobs(device=CCD)
        setups = []
        for ra_hours, dec_deg in ((5.5875, -5.39), (13.4, 28.4)):
            await indi.set_switch(TELESCOPE, "ON_COORD_SET", {"SYNC": True}, wait=True)
            await indi.set_number(
                TELESCOPE,
                "EQUATORIAL_EOD_COORD",
                {"RA": ra_hours, "DEC": dec_deg},
                wait=True,
            )
            await start_exposure(indi, 0.5)
            blob = await next_blob(stream)
            frame = Frame.from_bytes(blob.data, blob.format)
            assert {"OBJCTRA", "OBJCTDEC"} <= set(frame.header)
            setup = camera_setup(frame)
            assert setup.pointing is not None and setup.field_deg is not None
            # The driver writes J2000; the mount was synced in JNow. Our simulated
            # observatory precesses the same way (it leaves out nutation and
            # aberration, under a minute of arc).
            when = datetime.fromisoformat(frame.header["DATE-OBS"]).replace(tzinfo=UTC)
            ra_2000, dec_2000 = j2000_of(ra_hours, dec_deg, when)
            assert setup.pointing[1] == pytest.approx(dec_2000, abs=30 / 3600)
            ra_error = (setup.pointing[0] - ra_2000 * 15) * np.cos(np.radians(dec_2000))
            assert abs(ra_error) < 30 / 3600, ra_error * 3600
            setups.append(setup)
    assert not setups[0].same_field(setups[1])
