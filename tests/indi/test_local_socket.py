"""The native client over indiserver's local socket: frames as shared memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_array_equal

from astroiqa_indi.config import IndiSettings
from astroiqa_indi.errors import IndiConnectionError, ProfileError
from astroiqa_indi.indi import Blob, BlobStream, IndiClient, open_client
from astroiqa_indi.indi._local import local_socket_address
from tests.indi._support import CCD, IndiServer, connect_device, fits_pixels, start_exposure


async def next_blob(stream: BlobStream, timeout: float = 20.0) -> Blob:
    return await asyncio.wait_for(anext(stream), timeout)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def write_frames(folder: Path, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    frames = []
    for n in range(count):
        frame = rng.poisson(900 + 40 * n, size=(300, 400)).astype(np.uint16)
        header = fits.Header({"PIXSIZE1": 3.76, "PIXSIZE2": 3.76})  # INDI 1.9.9 needs it
        fits.PrimaryHDU(frame, header=header).writeto(folder / f"frame_{n:04d}.fits")
        frames.append(frame)
    return frames


@pytest.mark.network
async def test_frames_arrive_as_shared_memory_with_the_same_bytes_as_over_tcp(
    indi_server: IndiServer, tmp_path: Path
) -> None:
    frames = write_frames(tmp_path, 3)
    async with (
        IndiClient(local_socket=indi_server.unix_socket) as local,
        IndiClient(port=indi_server.port) as remote,
    ):
        local_stream, remote_stream = local.blobs(device=CCD), remote.blobs(device=CCD)
        # Commands go through the local socket's control connection too.
        await connect_device(local, CCD)
        await local.set_text(CCD, "CCD_DIRECTORY_LOCATION", {"LOCATION": str(tmp_path)}, wait=True)
        await local.set_switch(CCD, "CCD_DIRECTORY_TOGGLE", {"INDI_ENABLED": True}, wait=True)
        fds_before = open_fds()
        try:
            for frame in frames:
                await start_exposure(local, 0.1)
                shared, encoded = await next_blob(local_stream), await next_blob(remote_stream)
                assert shared.data == encoded.data
                assert (shared.format, shared.size) == (".fits", len(shared.data))
                assert_array_equal(fits_pixels(shared), frame)
        finally:
            await local.set_switch(CCD, "CCD_DIRECTORY_TOGGLE", {"INDI_DISABLED": True}, wait=True)
        # Every passed descriptor was read and closed.
        assert open_fds() == fds_before
        assert local.stats.blobs_received == 3 and local.stats.protocol_errors == 0


@pytest.mark.network
async def test_compressed_frames_use_the_announced_length(
    indi_server: IndiServer, tmp_path: Path
) -> None:
    (frame,) = write_frames(tmp_path, 1)
    async with IndiClient(local_socket=indi_server.unix_socket) as indi:
        stream = indi.blobs(device=CCD)
        await connect_device(indi, CCD)
        await indi.set_text(CCD, "CCD_DIRECTORY_LOCATION", {"LOCATION": str(tmp_path)}, wait=True)
        await indi.set_switch(CCD, "CCD_DIRECTORY_TOGGLE", {"INDI_ENABLED": True}, wait=True)
        await indi.set_switch(CCD, "CCD_COMPRESSION", {"INDI_ENABLED": True}, wait=True)
        try:
            await start_exposure(indi, 0.1)
            packed = await next_blob(stream)
        finally:
            await indi.set_switch(CCD, "CCD_COMPRESSION", {"INDI_DISABLED": True}, wait=True)
            await indi.set_switch(CCD, "CCD_DIRECTORY_TOGGLE", {"INDI_DISABLED": True}, wait=True)
    assert packed.format == ".fits.fz" and len(packed.data) < packed.size
    assert_array_equal(fits_pixels(packed), frame)


@pytest.mark.network
async def test_unwanted_frames_only_close_their_descriptors(
    indi_server: IndiServer, tmp_path: Path
) -> None:
    write_frames(tmp_path, 2)
    async with (
        IndiClient(local_socket=indi_server.unix_socket) as idle,
        IndiClient(port=indi_server.port) as driver,
    ):
        stream = driver.blobs(device=CCD)
        await connect_device(driver, CCD)
        await idle.wait_for(CCD, "CCD1")
        await driver.set_text(CCD, "CCD_DIRECTORY_LOCATION", {"LOCATION": str(tmp_path)}, wait=True)
        await driver.set_switch(CCD, "CCD_DIRECTORY_TOGGLE", {"INDI_ENABLED": True}, wait=True)
        fds_before = open_fds()
        try:
            for _ in range(2):
                await start_exposure(driver, 0.1)
                await next_blob(stream)
            # The idle client hears the same frames (its BLOB connection is open) but
            # has no subscriber.
            async with asyncio.timeout(10):
                while idle.stats.blobs_ignored < 2:
                    await asyncio.sleep(0.01)
        finally:
            await driver.set_switch(CCD, "CCD_DIRECTORY_TOGGLE", {"INDI_DISABLED": True}, wait=True)
        assert idle.stats.blobs_ignored == 2
        assert open_fds() == fds_before


# --------------------------------------------------------------- scripted server


Script = Callable[[socket.socket], Awaitable[None]]


@contextlib.asynccontextmanager
async def scripted_server(script: Script) -> AsyncIterator[str]:
    """A local-socket server that runs ``script`` on the client's BLOB connection (the
    one that opens with ``enableBLOB``) and holds the control connection open."""
    path = f"/tmp/astroiqa-test-{uuid.uuid4().hex}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(local_socket_address(path))
    listener.listen()
    listener.setblocking(False)
    loop = asyncio.get_running_loop()
    accepted: list[socket.socket] = []
    tasks: set[asyncio.Task[None]] = set()

    async def serve() -> None:
        while True:
            conn, _ = await loop.sock_accept(listener)
            accepted.append(conn)
            opening = await loop.sock_recv(conn, 4096)
            if opening.startswith(b"<enableBLOB"):
                task = asyncio.create_task(script(conn))
                tasks.add(task)

    server = asyncio.create_task(serve())
    try:
        yield path
    finally:
        server.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(server, *tasks, return_exceptions=True)
        for conn in accepted:
            conn.close()
        listener.close()


@contextlib.asynccontextmanager
async def scripted_client(script: Script) -> AsyncIterator[tuple[IndiClient, BlobStream]]:
    """A client of ``scripted_server(script)`` and its stream of the camera's BLOBs."""
    async with scripted_server(script) as path, IndiClient(local_socket=path) as indi:
        yield indi, indi.blobs(device=CCD)


def memfd_holding(data: bytes, *, extra: int = 0) -> int:
    fd = os.memfd_create("astroiqa-test-blob")
    os.write(fd, data + b"\0" * extra)
    return fd


def blob_message(length: int, *, size: int | None = None, body: bytes = b"") -> bytes:
    size = length if size is None else size
    end = f">{body.decode()}</oneBLOB>" if body else "/>"
    return (
        f"<setBLOBVector device='{CCD}' name='CCD1' state='Ok'>"
        f"<oneBLOB name='CCD1' size='{size}' format='.fits' len='{length}' attached='true'"
        f"{end}</setBLOBVector>\n"
    ).encode()


async def send(conn: socket.socket, data: bytes, fds: list[int] = []) -> None:  # noqa: B006
    await asyncio.get_running_loop().run_in_executor(None, socket.send_fds, conn, [data], fds)


async def test_attached_blob_pairs_with_its_descriptor_in_order() -> None:
    payloads = [b"SIMPLE first frame", b"SIMPLE second, longer frame"]

    async def script(conn: socket.socket) -> None:
        fds = [memfd_holding(p, extra=4096) for p in payloads]  # rounded-up allocation
        # Both descriptors with the first message, as indiserver may batch them.
        await send(conn, blob_message(len(payloads[0])), fds)
        await send(conn, blob_message(len(payloads[1])))
        for fd in fds:
            os.close(fd)
        await asyncio.Event().wait()

    async with scripted_client(script) as (_, stream):
        assert [(await next_blob(stream)).data for _ in payloads] == payloads


async def test_attached_blob_without_descriptor_or_too_short_is_a_protocol_error() -> None:
    async def script(conn: socket.socket) -> None:
        await send(conn, blob_message(10))  # no descriptor
        short = memfd_holding(b"12345")
        await send(conn, blob_message(10), [short])  # announces more than it holds
        os.close(short)
        text = memfd_holding(b"0123456789")
        await send(conn, blob_message(10, body=b"QUJD"), [text])  # base64 as well
        os.close(text)
        good = memfd_holding(b"0123456789")
        await send(conn, blob_message(10), [good])
        os.close(good)
        await asyncio.Event().wait()

    async with scripted_client(script) as (indi, stream):
        blob = await next_blob(stream, timeout=5)
        assert blob.data == b"0123456789"
        assert indi.stats.protocol_errors == 3


async def test_unreachable_local_socket_fails_with_its_path() -> None:
    path = f"/tmp/astroiqa-test-{uuid.uuid4().hex}"
    with pytest.raises(IndiConnectionError, match=f"local socket {path}"):
        async with IndiClient(local_socket=path, fail_fast=True, connect_timeout=2):
            pass


def test_profile_and_open_client_take_the_local_socket() -> None:
    settings = IndiSettings(local_socket="/tmp/indiserver")
    client = open_client(settings)
    assert isinstance(client, IndiClient) and client.local_socket == "/tmp/indiserver"
    with pytest.raises(ProfileError, match="native backend only"):
        IndiSettings(local_socket="/tmp/indiserver", backend="pyindi")
    with pytest.raises(ProfileError, match=r"indi\.local_socket"):
        IndiSettings(local_socket="  ")
    with pytest.raises(ValueError, match="local_socket"):
        IndiClient(local_socket="")
