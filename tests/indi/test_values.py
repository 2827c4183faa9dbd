"""Value types, the property model, BLOB streams, settings and the backend factory."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from dataclasses import dataclass

import pytest

import astroiqa_indi.indi as indi_pkg
from astroiqa_indi.errors import IndiError, IndiProtocolError
from astroiqa_indi.indi import (
    Blob,
    BlobStream,
    DefVector,
    DelProperty,
    EncodedBlob,
    IndiClient,
    NumberElement,
    PropertyModel,
    PropertyState,
    ReconnectPolicy,
    SetBlobVector,
    SetVector,
    SwitchElement,
    VectorKind,
    open_client,
)
from astroiqa_indi.indi._blob import StreamingDecodeSink, decode_base64
from tests.indi._streams import b64_lines

NOW = dt.datetime(2024, 5, 1, 22, 0, tzinfo=dt.UTC)


def _blob(n: int) -> Blob:
    return Blob("CCD", "CCD1", "CCD1", ".fits", bytes([n]), 1, NOW)


def test_all_public_names_are_exported() -> None:
    public = {n for n in dir(indi_pkg) if not n.startswith("_")}
    modules = {"client", "protocol", "pyindi_backend"}
    assert public - modules - {"annotations"} <= set(indi_pkg.__all__)
    for name in indi_pkg.__all__:
        assert hasattr(indi_pkg, name), name


def test_blob_validates_and_knows_compressed_formats() -> None:
    assert Blob("C", "CCD1", "CCD1", ".fits.fz", b"x", 10, NOW).compressed
    assert Blob("C", "CCD1", "CCD1", ".fits.z", b"x", 10, NOW).compressed
    assert not _blob(1).compressed
    with pytest.raises(ValueError, match="timezone"):
        Blob("C", "CCD1", "CCD1", ".fits", b"", 0, dt.datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="device"):
        Blob("", "CCD1", "CCD1", ".fits", b"", 0, NOW)


def test_model_merges_set_values_into_the_definition() -> None:
    model = PropertyModel()
    definition = DefVector(
        kind=VectorKind.NUMBER,
        device="F",
        name="POS",
        elements=(NumberElement("X", 1.0, "X", "%g", 0.0, 10.0, 1.0), NumberElement("Y", 2.0)),
    )
    model.apply(definition)
    vector = model.apply(
        SetVector(
            kind=VectorKind.NUMBER,
            device="F",
            name="POS",
            elements=(NumberElement("X", 5.0), NumberElement("Z", 9.0)),
            state=PropertyState.BUSY,
        )
    )
    assert vector is not None and vector.state is PropertyState.BUSY
    assert vector.element("X") == NumberElement("X", 5.0, "X", "%g", 0.0, 10.0, 1.0)
    assert vector.value("Y") == 2.0 and "Z" not in vector
    assert model.get("F", "POS") is vector
    # A set of the wrong kind, or for an undefined vector, is ignored.
    wrong = SetVector(kind=VectorKind.SWITCH, device="F", name="POS", elements=())
    assert model.apply(wrong) is None
    assert (
        model.apply(SetVector(kind=VectorKind.NUMBER, device="F", name="NO", elements=())) is None
    )


def test_model_blob_sets_and_deletes() -> None:
    model = PropertyModel()
    model.apply(
        DefVector(
            kind=VectorKind.BLOB,
            device="C",
            name="CCD1",
            elements=(indi_pkg.BlobElement("CCD1"),),
        )
    )
    model.apply(
        DefVector(
            kind=VectorKind.SWITCH,
            device="C",
            name="CONNECTION",
            elements=(SwitchElement("CONNECT", True), SwitchElement("DISCONNECT", False)),
        )
    )
    updated = model.apply(
        SetBlobVector(
            device="C",
            name="CCD1",
            blobs=(EncodedBlob("CCD1", 100, ".fits.fz", b""),),
            state=PropertyState.OK,
        )
    )
    assert updated is not None and updated.value("CCD1") == ".fits.fz"
    assert model.get("C", "CONNECTION").on_switches == ("CONNECT",)  # type: ignore[union-attr]
    assert model.devices() == ("C",) and len(model) == 2
    model.apply(DelProperty(device="C", name="CCD1"))
    assert [v.name for v in model.vectors("C")] == ["CONNECTION"]
    model.apply(DelProperty(device="C"))
    assert model.devices() == ()


async def test_blob_stream_drops_oldest_and_counts() -> None:
    drops: list[int] = []
    stream = BlobStream(
        device=None,
        prop="CCD1",
        maxsize=2,
        on_drop=lambda s, b: drops.append(b.data[0]),
        on_close=lambda s: None,
    )
    for n in range(5):
        stream.put(_blob(n))
    assert stream.dropped == 3 and drops == [0, 1, 2]
    stream.finish()
    assert [b.data[0] async for b in stream] == [3, 4]


async def test_blob_stream_wakes_a_waiting_consumer_and_ends_with_an_error() -> None:
    stream = BlobStream(
        device="CCD", prop=None, maxsize=1, on_drop=lambda s, b: None, on_close=lambda s: None
    )
    assert stream.wants("CCD", "anything") and not stream.wants("Other", "CCD1")
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    stream.put(_blob(7))
    assert (await waiting).data == bytes([7])
    stream.finish(IndiError("gone"))
    with pytest.raises(IndiError, match="gone"):
        await anext(stream)


async def test_streaming_sink_decodes_on_a_worker_thread() -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = random.Random(1).randbytes(100_000)
    text = b64_lines(data)
    with ThreadPoolExecutor(1) as pool:
        sink = StreamingDecodeSink(asyncio.get_running_loop(), pool)
        for i in range(0, len(text), 4097):
            sink.write(text[i : i + 4097])
        future = sink.close()
        assert isinstance(future, asyncio.Future)
        assert await future == data
        bad = StreamingDecodeSink(asyncio.get_running_loop(), pool)
        bad.write(b"QUJD\nRA")
        with pytest.raises(IndiProtocolError, match="base64"):
            await bad.close()  # type: ignore[misc]
        aborted = StreamingDecodeSink(asyncio.get_running_loop(), pool)
        aborted.write(b"QUJD")
        aborted.abort()  # the worker returns; nothing hangs


def test_decode_base64_errors_are_protocol_errors() -> None:
    assert decode_base64(b"QUJD\nRA==") == b"ABCD"
    with pytest.raises(IndiProtocolError):
        decode_base64(b"QUJDR")


def test_reconnect_policy_backs_off_exponentially_with_bounded_jitter() -> None:
    policy = ReconnectPolicy(initial=0.5, maximum=4.0, factor=2.0, jitter=0.25)
    rng = random.Random(3)
    for attempt, base in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        delays = [policy.delay(attempt, rng) for _ in range(50)]
        assert min(delays) >= base * 0.75 and max(delays) <= base * 1.25
        assert max(delays) - min(delays) > 0  # jitter is applied
    assert ReconnectPolicy(jitter=0).delay(10_000, rng) == 30.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"initial": 0}, "initial"),
        ({"initial": 2, "maximum": 1}, "maximum"),
        ({"factor": 0.5}, "factor"),
        ({"jitter": 1.0}, "jitter"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_reconnect_policy_validates(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ReconnectPolicy(**kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Endpoint:
    """Stands in for a profile's ``indi`` section."""

    host: str = "127.0.0.1"
    port: int = 7624
    local_socket: str | None = None
    backend: str = "native"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"port": 0}, "port"),
        ({"host": ""}, "host"),
        ({"blob_queue_size": 0}, "blob_queue_size"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"ping_interval": -1}, "ping_interval"),
    ],
)
def test_client_options_are_validated(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        IndiClient(**kwargs)  # type: ignore[arg-type]


def test_open_client_picks_the_backend() -> None:
    native = open_client(Endpoint(port=7000), blob_queue_size=3)
    assert isinstance(native, IndiClient) and native.port == 7000
    with pytest.raises(ValueError, match="backend"):
        open_client(Endpoint(backend="indigo"))
    try:
        import PyIndi  # noqa: F401
    except ImportError:
        with pytest.raises(IndiError, match="pip install --no-deps pyindi-client"):
            open_client(Endpoint(backend="pyindi"))
        return
    from astroiqa_indi.indi.pyindi_backend import PyIndiClient

    assert isinstance(open_client(Endpoint(backend="pyindi")), PyIndiClient)


async def test_client_misuse_raises_runtime_error() -> None:
    client = IndiClient("127.0.0.1", 9)
    with pytest.raises(RuntimeError, match="async with"):
        client.blobs()
    with pytest.raises(RuntimeError, match="async with"):
        await client.wait_for("CCD", "CCD1")
