"""The standalone INDI server, driven by our native client and by raw sockets."""

from __future__ import annotations

import asyncio
import io
import itertools
import json

import numpy as np
import pytest
from astropy.io import fits

from astroiqa_indi.errors import IndiError
from astroiqa_indi.indi import Blob, IndiClient, PropertyState, PropertyVector
from simulators.observatory import Observatory, ObservatoryConfig, ObservatoryServer
from tests.observatory._raw import RawClient, is_
from tests.observatory.conftest import CCD, MOUNT, Served

pytestmark = pytest.mark.network

# Keys a frame must never carry: they would hand the grader the answer.
TRUTH_WORDS = ("LABEL", "TRUTH", "TRAIL", "SEEING", "TRANSP", "CLEAR")


async def _connect(indi: IndiClient, device: str = CCD) -> None:
    await indi.set_switch(device, "CONNECTION", {"CONNECT": True}, wait=True)


async def _expose(indi: IndiClient, seconds: float = 10.0, *, timeout: float = 20.0) -> Blob:
    blobs = indi.blobs(device=CCD)
    await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": seconds})
    async with asyncio.timeout(timeout):
        async for blob in blobs:
            return blob
    raise AssertionError("BLOB stream ended")


def _hdu(blob: Blob) -> fits.ImageHDU | fits.PrimaryHDU | fits.CompImageHDU:
    hdus = fits.open(io.BytesIO(blob.data))
    return hdus[1] if blob.format == ".fits.fz" else hdus[0]


async def test_exposure_counts_down_then_delivers_a_fits_frame(served: Served) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await _connect(indi)
        await indi.set_text(CCD, "FITS_HEADER", {"FITS_OBSERVER": "Ada", "FITS_OBJECT": "M 31"})
        seen: list[tuple[PropertyState, float]] = []

        def watch(vector: PropertyVector) -> bool:
            seen.append((vector.state, float(vector.value("CCD_EXPOSURE_VALUE"))))
            return vector.state is PropertyState.OK

        waiter = asyncio.create_task(
            indi.wait_for(CCD, "CCD_EXPOSURE", predicate=watch, timeout=20)
        )
        await asyncio.sleep(0)  # let the waiter look at the current (Idle) vector first
        blob = await _expose(indi, 150.0)  # 1.5 s at x100: at least one countdown tick
        await waiter
    busy = [value for state, value in seen if state is PropertyState.BUSY]
    assert seen[0][0] is PropertyState.IDLE and seen[-1] == (PropertyState.OK, 0.0)
    assert busy[0] == 150.0 and len(busy) >= 2
    assert all(a > b for a, b in itertools.pairwise(busy))  # counts down
    assert (blob.device, blob.property, blob.format) == (CCD, "CCD1", ".fits")
    hdu = _hdu(blob)
    header = hdu.header
    assert hdu.data.shape == (128, 128) and hdu.data.dtype == np.uint16
    assert header["EXPTIME"] == 150.0
    assert header["INSTRUME"] == "ZWO ASI2600MM Pro" and header["TELESCOP"] == "80mm f/6 APO"
    assert header["OBSERVER"] == "Ada" and header["OBJECT"] == "M 31"
    assert header["DATE-OBS"].startswith(("20", "21"))
    assert not [k for k in header if any(word in k for word in TRUTH_WORDS)]
    # The truth went to the log instead.
    (entry,) = [json.loads(line) for line in served.truth_log.read_text().splitlines()]
    assert entry["label"] == "good" and entry["frame"] == 1 and entry["exposure_s"] == 150.0


async def test_compressed_binned_subframe(served: Served) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await _connect(indi)
        await indi.set_switch(CCD, "CCD_COMPRESSION", {"INDI_ENABLED": True}, wait=True)
        await indi.set_number(
            CCD, "CCD_FRAME", {"X": 10, "Y": 20, "WIDTH": 64, "HEIGHT": 32}, wait=True
        )
        await indi.set_number(CCD, "CCD_BINNING", {"HOR_BIN": 2, "VER_BIN": 2}, wait=True)
        blob = await _expose(indi)
        with pytest.raises(IndiError, match="Alert"):
            await indi.set_number(CCD, "CCD_FRAME", {"X": 100, "WIDTH": 64}, wait=True)
    assert blob.format == ".fits.fz"
    hdu = _hdu(blob)
    assert isinstance(hdu, fits.CompImageHDU)
    assert hdu.data.shape == (16, 32)
    assert (hdu.header["XBINNING"], hdu.header["XORGSUBF"], hdu.header["YORGSUBF"]) == (2, 5, 10)


async def test_dark_frames_have_no_stars_and_no_label(served: Served) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await _connect(indi)
        await indi.set_switch(CCD, "CCD_FRAME_TYPE", {"FRAME_DARK": True}, wait=True)
        blob = await _expose(indi, 60.0)
    hdu = _hdu(blob)
    assert hdu.header["IMAGETYP"] == "Dark Frame"
    # Bias 500 ADU plus read noise: nothing bright anywhere.
    assert 450 < float(np.median(hdu.data)) < 560 and hdu.data.max() < 700
    entry = json.loads(served.truth_log.read_text())
    assert entry["label"] is None and entry["truth"] is None


async def test_abort_stops_the_exposure_without_a_frame(served: Served) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await _connect(indi)
        blobs = indi.blobs(device=CCD)
        await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 3000})
        await indi.wait_for(CCD, "CCD_EXPOSURE", state=PropertyState.BUSY)
        await indi.set_switch(CCD, "CCD_ABORT_EXPOSURE", {"ABORT": True}, wait=True)
        exposure = await indi.wait_for(CCD, "CCD_EXPOSURE", state=PropertyState.IDLE)
        assert exposure.value("CCD_EXPOSURE_VALUE") == 0
        assert not served.observatory.ccd.exposing
        # A later exposure still works and is the only frame delivered.
        blob = await _expose(indi)
        assert blob.format == ".fits"
        assert blobs.pending == 1  # the aborted exposure left nothing behind
    assert len(served.truth_log.read_text().splitlines()) == 1


async def test_an_abort_during_read_out_comes_too_late_and_a_new_exposure_waits() -> None:
    config = ObservatoryConfig(
        rig="refractor80_asi2600mm", size=(128, 128), time_scale=100.0, seed=3, readout_s=1.0
    )
    async with (
        Observatory(config) as observatory,
        ObservatoryServer(observatory, host="127.0.0.1", port=0) as server,
        IndiClient(port=server.port, fail_fast=True) as indi,
    ):
        await _connect(indi)
        blobs = indi.blobs(device=CCD)
        await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 10})
        await asyncio.sleep(0.5)  # shutter closed after 0.1 s: reading out
        assert observatory.ccd.exposing
        answer = await indi.set_switch(CCD, "CCD_ABORT_EXPOSURE", {"ABORT": True}, wait=True)
        assert answer is not None and answer.state is PropertyState.OK
        assert blobs.pending == 1  # the frame came first, and whole
        await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 10})
        await asyncio.sleep(0.5)
        await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 10})
        async with asyncio.timeout(10):
            while blobs.pending < 3:
                await asyncio.sleep(0.05)
        # The second request came during a read-out: it waited, and every exposure
        # asked for was taken and sent.
        assert observatory.ccd.busy_exposure_requests == 1
        assert observatory.ccd.frames_sent == 3


async def test_next_update_sees_each_update_from_now_on_in_order(served: Served) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await _connect(indi)
        states: list[PropertyState] = []

        def ran_to_end(vector: PropertyVector) -> bool:
            states.append(vector.state)
            return vector.state is PropertyState.OK and PropertyState.BUSY in states

        current = await indi.wait_for(CCD, "CCD_EXPOSURE")
        future = indi.next_update(CCD, "CCD_EXPOSURE", ran_to_end)
        await asyncio.sleep(0.2)
        assert not future.done(), current.state  # the value already there does not count
        await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 10})
        ended = await asyncio.wait_for(future, 20)
        assert ended.state is PropertyState.OK and states[0] is PropertyState.BUSY
        unwanted = indi.next_update(CCD, "CCD_EXPOSURE", lambda v: False)
        unwanted.cancel()


async def test_a_predicate_that_raises_fails_its_future_not_the_connection(
    served: Served,
) -> None:
    async with IndiClient(port=served.port, fail_fast=True) as indi:
        await _connect(indi)

        def broken(vector: PropertyVector) -> bool:
            raise TypeError("a bug in the caller's predicate")

        future = indi.next_update(CCD, "CCD_EXPOSURE", broken)
        blob = await _expose(indi)  # the connection carries on
        with pytest.raises(TypeError, match="caller's predicate"):
            await asyncio.wait_for(future, 5)
        assert blob.format == ".fits"
        assert indi.stats.protocol_errors == 0


async def test_local_upload_writes_a_file_and_sends_no_blob(served: Served) -> None:
    raw = await RawClient.open(served.port)
    try:
        await raw.send('<getProperties version="1.7"/>')
        await raw.send(f'<enableBLOB device="{CCD}">Also</enableBLOB>')
        await raw.send(_new_switch(CCD, "CONNECTION", "CONNECT"))
        await raw.send(_new_switch(CCD, "UPLOAD_MODE", "UPLOAD_LOCAL"))
        await raw.send(_new_number(CCD, "CCD_EXPOSURE", "CCD_EXPOSURE_VALUE", 10))
        path_update = await raw.wait(is_("setTextVector", "CCD_FILE_PATH"))
        await raw.wait(is_("setNumberVector", "CCD_EXPOSURE", "Ok"))
    finally:
        await raw.close()
    path = path_update[0].text or ""
    assert path.endswith("uploads/IMAGE_001.fits")
    with fits.open(path) as hdus:
        assert hdus[0].data.shape == (128, 128)
    assert "setBLOBVector" not in raw.tags()
    assert json.loads(served.truth_log.read_text())["file"] == path


async def test_clients_get_what_their_enable_blob_asks_for(served: Served) -> None:
    clients = {policy: await RawClient.open(served.port) for policy in ("Also", "Never", "Only")}
    try:
        for policy, client in clients.items():
            await client.send('<getProperties version="1.7"/>')
            await client.wait(is_("defSwitchVector", "CONNECTION"))
            if policy != "Never":
                await client.send(f'<enableBLOB device="{CCD}">{policy}</enableBLOB>')
        also = clients["Also"]
        await also.send(_new_switch(CCD, "CONNECTION", "CONNECT"))
        await also.send(_new_number(CCD, "CCD_EXPOSURE", "CCD_EXPOSURE_VALUE", 10))
        await also.wait(is_("setNumberVector", "CCD_EXPOSURE", "Ok"))
        await clients["Never"].wait(is_("setNumberVector", "CCD_EXPOSURE", "Ok"))
        await clients["Only"].wait(is_("setBLOBVector", "CCD1"))
        # Everything after the BLOB was queued to all three before this ping's reply.
        for client in clients.values():
            await client.send('<pingRequest uid="sync"/>')
            await client.wait(is_("pingReply"))
    finally:
        for client in clients.values():
            await client.close()
    assert "setBLOBVector" in clients["Also"].tags()
    assert "setBLOBVector" not in clients["Never"].tags()
    only = [(e.tag, e.get("device")) for e in clients["Only"].received if e.get("device") == CCD]
    # Before enableBLOB Only it saw the definitions; afterwards nothing but the BLOB.
    after = only[[tag for tag, _ in only].index("setBLOBVector") :]
    assert after == [("setBLOBVector", CCD)]
    assert not [e for e in clients["Only"].received if e.tag == "setNumberVector"]


async def test_get_properties_for_one_device_or_one_property(served: Served) -> None:
    raw = await RawClient.open(served.port)
    try:
        await raw.send(f'<getProperties version="1.7" device="{MOUNT}" name="CONNECTION"/>')
        await raw.send('<pingRequest uid="1"/>')
        await raw.wait(is_("pingReply"))
        assert [(e.tag, e.get("device"), e.get("name")) for e in raw.received[:-1]] == [
            ("defSwitchVector", MOUNT, "CONNECTION")
        ]
        await raw.send(f'<getProperties version="1.7" device="{CCD}"/>')
        await raw.send('<pingRequest uid="2"/>')
        await raw.wait(lambda e: e.tag == "pingReply" and e.get("uid") == "2")
        devices = {e.get("device") for e in raw.received if e.tag.startswith("def")}
        assert devices == {MOUNT, CCD}
        assert {e.get("name") for e in raw.received if e.get("device") == CCD} == {
            "CONNECTION",
            "DRIVER_INFO",
        }
        # Subscribed to the mount's CONNECTION only: its other traffic stays away.
        served.observatory.mount.connect()
        served.observatory.ccd.log("hello")
        await raw.wait(is_("message"))
        mount_names = {e.get("name") for e in raw.received if e.get("device") == MOUNT}
        assert mount_names == {"CONNECTION"}
    finally:
        await raw.close()


async def test_bad_requests_get_an_answer_not_a_hang_up(served: Served) -> None:
    raw = await RawClient.open(served.port)
    try:
        await raw.send('<getProperties version="1.7"/>')
        await raw.send(_new_switch(CCD, "CONNECTION", "CONNECT"))
        await raw.send(_new_number(CCD, "CCD_BINNING", "HOR_BIN", 9))
        alert = await raw.wait(is_("setNumberVector", "CCD_BINNING", "Alert"))
        assert "outside" in (alert.get("message") or "")
        await raw.send(_new_number("Nobody", "X", "Y", 1))
        await raw.wait(lambda e: e.tag == "message" and "Nobody" in (e.get("message") or ""))
        await raw.send(_new_number(CCD, "CCD_INFO", "CCD_MAX_X", 1))
        await raw.wait(lambda e: e.tag == "message" and "read-only" in (e.get("message") or ""))
        await raw.send("<oops></nope>")
        await raw.wait_eof()  # malformed XML: the server hangs up, as indiserver does
    finally:
        await raw.close()
    assert served.server.client_count == 0


def _new_switch(device: str, name: str, element: str) -> str:
    return (
        f'<newSwitchVector device="{device}" name="{name}">'
        f'<oneSwitch name="{element}">On</oneSwitch></newSwitchVector>'
    )


def _new_number(device: str, name: str, element: str, value: float) -> str:
    return (
        f'<newNumberVector device="{device}" name="{name}">'
        f'<oneNumber name="{element}">{value}</oneNumber></newNumberVector>'
    )
