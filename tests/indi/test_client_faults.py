"""The native client against a scripted server: separation, faults, floods, reconnects."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from astroiqa_indi.errors import IndiConnectionError, IndiTimeoutError
from astroiqa_indi.indi import ClientState, IndiClient, PropertyState, ReconnectPolicy
from tests._servers import free_port
from tests.indi._fake import FakeConnection, FakeIndiServer
from tests.indi._streams import (
    def_blob_vector,
    def_number_vector,
    def_text_vector,
    set_blob_vector,
    set_number_vector,
)

FAST = ReconnectPolicy(initial=0.02, maximum=0.1, jitter=0.1)
CCD = "CCD Simulator"


def frame(n: int, size: int = 5000) -> bytes:
    return bytes([n % 256]) * size


async def test_blobs_arrive_on_their_own_connection() -> None:
    async def handler(conn: FakeConnection) -> None:
        if conn.role == "control":
            await conn.send(def_blob_vector(CCD, "CCD1", "CCD1"))
            await conn.send(def_number_vector(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 1.0}))
        else:
            await conn.read_until(b"<enableBLOB device=")  # per-device, after the definition
            await conn.send(set_blob_vector(CCD, "CCD1", [("CCD1", frame(1, 300_000), ".fits")]))
            await conn.send(set_blob_vector(CCD, "CCD2", [("CCD2", frame(2), ".fits")]))
        await conn.hold()

    async with FakeIndiServer(handler) as server, IndiClient(port=server.port) as indi:
        stream = indi.blobs(device=CCD)  # property defaults to "CCD1"
        blob = await asyncio.wait_for(anext(stream), 5)
        assert (blob.device, blob.property, blob.element, blob.format) == (
            CCD,
            "CCD1",
            "CCD1",
            ".fits",
        )
        assert blob.data == frame(1, 300_000) and blob.size == 300_000
        await indi.wait_for(CCD, "CCD1", state=PropertyState.OK, timeout=5)
        stats = indi.stats
        assert (stats.blobs_received, stats.blobs_ignored, stats.blob_bytes) == (1, 1, 300_000)
        (control,) = server.role("control")
        (blob_conn,) = server.role("blob")
        assert b"enableBLOB" not in control.received  # control stays at the default, Never
        assert blob_conn.received.startswith(b"<enableBLOB>Only</enableBLOB>")
        assert f'<enableBLOB device="{CCD}">Only</enableBLOB>'.encode() in blob_conn.received


async def test_garbage_is_counted_and_the_connection_survives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(conn: FakeConnection) -> None:
        if conn.role == "control":
            await conn.send(b"\x00\x01<<not xml>>" + def_number_vector(CCD, "P", {"X": 1.0}))
            await conn.send(b"<setNumberVector device='C'><oneNumber>1</oneNumber></setNumber>")
            await conn.send(set_number_vector(CCD, "P", {"X": 2.0}))
        await conn.hold()

    caplog.set_level(logging.WARNING, "astroiqa_indi.indi")
    async with FakeIndiServer(handler) as server, IndiClient(port=server.port) as indi:
        vector = await indi.wait_for(CCD, "P", predicate=lambda v: v.value("X") == 2.0)
        assert vector.value("X") == 2.0
        assert indi.stats.protocol_errors >= 2
        assert indi.state is ClientState.CONNECTED and indi.stats.reconnects == 0
    assert "skipped malformed input" in caplog.text


async def test_server_dying_mid_blob_reconnects_and_the_next_blob_arrives() -> None:
    attempts = 0

    async def handler(conn: FakeConnection) -> None:
        nonlocal attempts
        if conn.role == "blob":
            attempts += 1
            data = set_blob_vector(CCD, "CCD1", [("CCD1", frame(attempts, 2_000_000), ".fits")])
            if attempts == 1:
                await conn.send(data[: len(data) // 2])
                conn.writer.transport.abort()  # gone in the middle of the payload
                return
            await conn.send(data)
        await conn.hold()

    async with FakeIndiServer(handler) as server:
        async with IndiClient(port=server.port, reconnect=FAST) as indi:
            stream = indi.blobs(device=None, property=None)
            blob = await asyncio.wait_for(anext(stream), 10)
            assert blob.data == frame(2, 2_000_000)
            stats = indi.stats
            assert stats.reconnects == 1 and stats.protocol_errors >= 1
            assert stats.blobs_received == 1
        assert indi.state is ClientState.CLOSED


async def test_bad_base64_is_a_counted_error_not_a_crash() -> None:
    async def handler(conn: FakeConnection) -> None:
        if conn.role == "blob":
            bad = set_blob_vector(CCD, "CCD1", [("CCD1", frame(1), ".fits")], size=1)
            await conn.send(bad.replace(b"AQEB", b"AQE", 1))  # three characters short
            await conn.send(set_blob_vector(CCD, "CCD1", [("CCD1", frame(9), ".fits")]))
        await conn.hold()

    async with FakeIndiServer(handler) as server, IndiClient(port=server.port) as indi:
        stream = indi.blobs(device=CCD)
        assert (await asyncio.wait_for(anext(stream), 5)).data == frame(9)
        assert indi.stats.protocol_errors == 1


async def test_slow_consumer_drops_oldest_and_control_traffic_flows() -> None:
    flood = 12

    async def handler(conn: FakeConnection) -> None:
        if conn.role == "blob":
            for n in range(flood):
                await conn.send(
                    set_blob_vector(CCD, "CCD1", [("CCD1", frame(n, 400_000), ".fits")])
                )
            # BLOBs are delivered in order: when this one arrives, the flood is through.
            await conn.send(set_blob_vector(CCD, "DONE", [("DONE", b"end", ".txt")]))
        else:
            await conn.send(def_number_vector(CCD, "CCD_TEMPERATURE", {"T": 20.0}))
            await conn.read_until(b"newNumberVector")
            await conn.send(set_number_vector(CCD, "CCD_TEMPERATURE", {"T": -10.0}))
        await conn.hold()

    async with (
        FakeIndiServer(handler) as server,
        IndiClient(port=server.port, blob_queue_size=2) as indi,
    ):
        stream = indi.blobs(device=CCD)
        done = indi.blobs(device=CCD, property="DONE")
        # Nobody reads the stream; the client still answers control traffic.
        await indi.set_number(CCD, "CCD_TEMPERATURE", {"T": -10.0})
        await indi.wait_for(
            CCD, "CCD_TEMPERATURE", predicate=lambda v: v.value("T") == -10.0, timeout=5
        )
        assert (await asyncio.wait_for(anext(done), 10)).data == b"end"
        # Dropped by the stream's queue (or, on a starved machine, before decoding).
        assert indi.stats.blobs_dropped == flood - 2 >= stream.dropped > 0
        assert [(await anext(stream)).data[0] for _ in range(2)] == [flood - 2, flood - 1]


async def test_unreachable_server_fails_fast_when_asked() -> None:
    client = IndiClient(port=free_port(), fail_fast=True, connect_timeout=1)
    with pytest.raises(IndiConnectionError, match="cannot connect"):
        async with client:
            pass
    assert client.state is ClientState.FAILED


async def test_unreachable_server_is_retried_in_the_background() -> None:
    port = free_port()
    policy = ReconnectPolicy(initial=0.02, maximum=0.05)

    async def handler(conn: FakeConnection) -> None:
        if conn.role == "control":
            await conn.send(def_number_vector(CCD, "P", {"X": 3.0}))
        await conn.hold()

    async with IndiClient(port=port, reconnect=policy, rng=random.Random(0)) as indi:
        assert indi.state in (ClientState.RECONNECTING, ClientState.CONNECTING)
        server = FakeIndiServer(handler)
        server.port = port
        await server.restart()
        try:
            await indi.wait_for_state(ClientState.CONNECTED, timeout=5)
            assert (await indi.wait_for(CCD, "P", timeout=5)).value("X") == 3.0
        finally:
            await server.stop()


async def test_lost_server_with_fail_fast_ends_streams_and_waits() -> None:
    async def handler(conn: FakeConnection) -> None:
        await conn.hold()

    async with (
        FakeIndiServer(handler) as server,
        IndiClient(port=server.port, fail_fast=True) as indi,
    ):
        stream = indi.blobs()
        waiting = asyncio.ensure_future(indi.wait_for(CCD, "NEVER", timeout=30))
        await server.stop()
        with pytest.raises(IndiConnectionError, match="lost"):
            await asyncio.wait_for(anext(stream), 5)
        with pytest.raises(IndiConnectionError):
            await waiting
        assert indi.state is ClientState.FAILED
        with pytest.raises(IndiConnectionError):
            indi.blobs()


async def test_giving_up_after_max_attempts() -> None:
    policy = ReconnectPolicy(initial=0.01, maximum=0.02, max_attempts=2)
    async with IndiClient(port=free_port(), reconnect=policy) as indi:
        await indi.wait_for_state(ClientState.FAILED, timeout=5)
        with pytest.raises(IndiConnectionError, match="gave up"):
            await indi.wait_for(CCD, "P")


async def test_ping_both_ways() -> None:
    async def handler(conn: FakeConnection) -> None:
        if conn.role == "control":
            await conn.send(b"<pingRequest uid='server-1'/>\n")
            await conn.read_until(b"<pingRequest uid=")
            uid = conn.received.split(b"<pingRequest uid=")[1].split(b"/>")[0]
            await conn.send(b"<pingReply uid=" + uid + b"/>\n")
        await conn.hold()

    async with FakeIndiServer(handler) as server, IndiClient(port=server.port) as indi:
        assert 0 < await indi.ping(timeout=5) < 5
        (control,) = server.role("control")
        await control.read_until(b'<pingReply uid="server-1"/>')


async def test_timeouts_name_the_device_and_property() -> None:
    async def handler(conn: FakeConnection) -> None:
        if conn.role == "control":
            await conn.send(def_text_vector(CCD, "INFO", {"NAME": "sim"}))
        await conn.hold()

    async with FakeIndiServer(handler) as server, IndiClient(port=server.port) as indi:
        with pytest.raises(IndiTimeoutError) as info:
            await indi.wait_for(CCD, "CCD_EXPOSURE", timeout=0.05)
        assert (info.value.device, info.value.prop) == (CCD, "CCD_EXPOSURE")
        with pytest.raises(IndiTimeoutError):
            await indi.set_number(CCD, "CCD_EXPOSURE", {"X": 1}, timeout=0.05)
        with pytest.raises(ValueError, match="read-only"):
            await indi.set_text(CCD, "INFO", {"NAME": "x"})
        with pytest.raises(ValueError, match="Text vector, not Number"):
            await indi.set_number(CCD, "INFO", {"NAME": 1})


async def test_the_client_is_single_use() -> None:
    async def handler(conn: FakeConnection) -> None:
        await conn.hold()

    async with FakeIndiServer(handler) as server:
        client = IndiClient(port=server.port)
        async with client:
            with pytest.raises(RuntimeError, match="entered once"):
                async with client:
                    pass
        with pytest.raises(RuntimeError, match="closed"):
            client.blobs()


async def test_connections_ask_the_kernel_to_probe_a_silent_peer() -> None:
    import socket

    async def handler(conn: FakeConnection) -> None:
        await conn.hold()

    async with FakeIndiServer(handler) as server, IndiClient(port=server.port) as indi:
        for connection in (indi._control, indi._blob):
            assert connection is not None and connection._transport is not None
            sock = connection._transport.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            if hasattr(socket, "TCP_KEEPIDLE"):
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60


async def test_a_server_that_stops_answering_pings_is_reconnected_to() -> None:
    # The link carries TCP but the server is wedged: only pings notice.
    from astroiqa_indi.config import IndiSettings
    from astroiqa_indi.indi import open_client

    async def handler(conn: FakeConnection) -> None:
        await conn.hold()  # never a pingReply

    async with FakeIndiServer(handler) as server:
        settings = IndiSettings(port=server.port, ping_interval_s=0.2)
        policy = ReconnectPolicy(initial=0.01, maximum=0.02)
        async with open_client(
            settings, ping_interval=settings.ping_interval_s, reconnect=policy
        ) as indi:
            async with asyncio.timeout(5):
                while indi.stats.reconnects < 1:
                    await asyncio.sleep(0.05)
