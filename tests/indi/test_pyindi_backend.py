"""The pyindi-client backend behind the same interface, against Debian's indiserver.

pyindi-client is optional (``pip install --no-deps pyindi-client==2.3.0``); without it
this module is skipped.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass

import pytest

pytest.importorskip(
    "PyIndi", reason="pyindi-client not installed (pip install --no-deps pyindi-client==2.3.0)"
)

from astroiqa_indi.indi import (
    ClientState,
    IndiClient,
    PropertyState,
    ReconnectPolicy,
    VectorKind,
    open_client,
)
from astroiqa_indi.indi.pyindi_backend import PyIndiClient
from tests.indi._support import (
    CCD,
    TELESCOPE,
    IndiServer,
    connect_device,
    fits_pixels,
    start_exposure,
)

pytestmark = pytest.mark.network


@dataclass(frozen=True)
class Endpoint:
    """Stands in for a profile's ``indi`` section."""

    host: str = "127.0.0.1"
    port: int = 7624
    local_socket: str | None = None
    backend: str = "pyindi"


async def test_connect_discover_expose_and_receive(indi_server: IndiServer) -> None:
    client = open_client(Endpoint(port=indi_server.port, backend="pyindi"))
    assert isinstance(client, PyIndiClient)
    async with client as indi:
        assert indi.state is ClientState.CONNECTED
        connection = await indi.wait_for(TELESCOPE, "CONNECTION")
        assert connection.kind is VectorKind.SWITCH
        await connect_device(indi, CCD)
        exposure = await indi.wait_for(CCD, "CCD_EXPOSURE")
        assert exposure.element("CCD_EXPOSURE_VALUE").maximum == 3600  # type: ignore[union-attr]
        stream = indi.blobs(device=CCD)
        await start_exposure(indi, 0.1)
        blob = await asyncio.wait_for(anext(stream), 20)
        assert (blob.device, blob.property, blob.element, blob.format) == (
            CCD,
            "CCD1",
            "CCD1",
            ".fits",
        )
        assert len(blob.data) == blob.size and fits_pixels(blob).shape == (1024, 1280)
        done = await indi.wait_for(CCD, "CCD_EXPOSURE", state=PropertyState.OK)
        assert done.state is PropertyState.OK
        assert indi.stats.blobs_received == 1


async def test_both_backends_receive_the_same_frame(indi_server: IndiServer) -> None:
    async with (
        IndiClient(port=indi_server.port) as native,
        PyIndiClient(port=indi_server.port) as pyindi,
    ):
        native_stream = native.blobs(device=CCD)
        pyindi_stream = pyindi.blobs(device=CCD)
        await connect_device(native, CCD)
        await pyindi.wait_for(CCD, "CCD1")
        await start_exposure(native, 0.1)
        a, b = await asyncio.wait_for(
            asyncio.gather(anext(native_stream), anext(pyindi_stream)), 20
        )
    assert a.data == b.data and (a.format, a.size) == (b.format, b.size)


@pytest.mark.slow
async def test_reconnects_after_a_server_restart(private_indi_server: IndiServer) -> None:
    policy = ReconnectPolicy(initial=0.1, maximum=0.5)
    async with PyIndiClient(port=private_indi_server.port, reconnect=policy) as indi:
        stream = indi.blobs(device=CCD)
        await connect_device(indi, CCD)
        private_indi_server.stop(signal.SIGKILL)
        await indi.wait_for_state(ClientState.RECONNECTING, timeout=10)
        private_indi_server.start()
        await indi.wait_for_state(ClientState.CONNECTED, timeout=20)
        await connect_device(indi, CCD, timeout=20)
        await start_exposure(indi, 0.1)
        blob = await asyncio.wait_for(anext(stream), 20)
        assert blob.format == ".fits"
        assert indi.stats.reconnects == 1
