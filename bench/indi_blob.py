"""Receive-and-decode throughput of a 60 MB FITS BLOB: native client vs pyindi vs indipyclient.

Run: ``.venv/bin/python -m bench.indi_blob [--mb 60] [--repeat 3]``

A loopback server in a *separate process* replays what indiserver sends for one CCD
exposure: the CCD's definitions, then, when a client asks for ``CCD_EXPOSURE``, a
``setBLOBVector`` holding a synthetic 16-bit FITS image as base64 in 72-character
lines (libindi's layout). Each client is timed from sending ``newNumberVector
CCD_EXPOSURE`` to holding the decoded bytes, and checked byte for byte. A ticker task
on the client's event loop records the loop's longest stall meanwhile.

Clients: ``native`` (``astroiqa_indi.indi.IndiClient``, decoding with pybase64 when it
is installed), ``native-stdlib`` (the same with ``binascii``, shown when pybase64 is
installed), ``pyindi`` (our backend over pyindi-client 2.3.0, skipped if PyIndi is not
installed), ``indipyclient`` (pure Python, PyPI). Targets: native >= 2x indipyclient,
>= pyindi, loop stall < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import cast

import numpy as np

DEVICE = "CCD Simulator"
_DEFS = (
    f'<defSwitchVector device="{DEVICE}" name="CONNECTION" label="Connection" '
    'group="Main Control" state="Ok" perm="rw" rule="OneOfMany" timeout="60">'
    '<defSwitch name="CONNECT" label="Connect">On</defSwitch>'
    '<defSwitch name="DISCONNECT" label="Disconnect">Off</defSwitch></defSwitchVector>\n'
    f'<defNumberVector device="{DEVICE}" name="CCD_EXPOSURE" label="Expose" '
    'group="Main Control" state="Idle" perm="rw" timeout="60">'
    '<defNumber name="CCD_EXPOSURE_VALUE" label="Duration (s)" format="%5.2f" min="0.01" '
    'max="3600" step="1">1</defNumber></defNumberVector>\n'
    f'<defBLOBVector device="{DEVICE}" name="CCD1" label="Image Data" group="Image Info" '
    'state="Idle" perm="ro" timeout="60"><defBLOB name="CCD1" label="Image"/></defBLOBVector>\n'
).encode()


def synthetic_fits(megabytes: float, seed: int = 1) -> bytes:
    """A FITS file of about ``megabytes`` MB: 16-bit sky noise, 3:2 aspect."""
    from astropy.io import fits

    pixels = int(megabytes * 1e6 / 2)
    height = int((pixels / 1.5) ** 0.5)
    width = pixels // height
    rng = np.random.default_rng(seed)
    data = rng.normal(1000, 30, size=(height, width)).astype(np.uint16)
    hdu = fits.PrimaryHDU(data)
    return hdu.header.tostring().encode("ascii") + data.astype(">u2").tobytes()


def blob_message(payload: bytes) -> bytes:
    text = base64.b64encode(payload)
    lines = b"\n".join(text[i : i + 72] for i in range(0, len(text), 72))
    return (
        (
            f'<setBLOBVector device="{DEVICE}" name="CCD1" state="Ok" timeout="60" '
            f'timestamp="2024-05-01T22:00:00">\n  <oneBLOB name="CCD1" size="{len(payload)}" '
            # As libindi writes it: enclen counts base64 characters, not the line breaks.
            f'enclen="{len(text)}" format=".fits">\n'
        ).encode()
        + lines
        + b"\n  </oneBLOB>\n</setBLOBVector>\n"
    )


# --------------------------------------------------------------------------- server


async def _serve(megabytes: float) -> None:
    blob = blob_message(synthetic_fits(megabytes))
    modes: dict[asyncio.StreamWriter, str] = {}
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        modes[writer] = "Never"
        parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        parser.feed(b"<root>")
        depth = 0
        try:
            while data := await reader.read(65536):
                parser.feed(data)
                for item in parser.read_events():
                    event, element = cast(tuple[str, ET.Element], item)
                    depth += 1 if event == "start" else -1
                    if event == "end" and depth == 1 and isinstance(element, ET.Element):
                        await _answer(element, writer)
        except (ConnectionError, ET.ParseError):
            pass
        finally:
            modes.pop(writer, None)
            writer.close()
            handlers.discard(task)

    async def _answer(element: ET.Element, writer: asyncio.StreamWriter) -> None:
        tag = element.tag
        if tag == "getProperties" and modes[writer] != "Only":
            writer.write(_DEFS)
        elif tag == "enableBLOB":
            modes[writer] = (element.text or "Never").strip()
        elif tag == "pingRequest":
            writer.write(f'<pingReply uid="{element.get("uid", "")}"/>\n'.encode())
        elif tag == "newSwitchVector":
            writer.write(
                f'<setSwitchVector device="{DEVICE}" name="CONNECTION" state="Ok">'
                '<oneSwitch name="CONNECT">On</oneSwitch>'
                '<oneSwitch name="DISCONNECT">Off</oneSwitch></setSwitchVector>\n'.encode()
            )
        elif tag == "newNumberVector" and element.get("name") == "CCD_EXPOSURE":
            done = (
                f'<setNumberVector device="{DEVICE}" name="CCD_EXPOSURE" state="Ok">'
                '<oneNumber name="CCD_EXPOSURE_VALUE">0</oneNumber></setNumberVector>\n'
            ).encode()
            for other, mode in list(modes.items()):
                if mode != "Only":
                    other.write(done)
                if mode in ("Also", "Only"):
                    other.write(blob)
        await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        # Serve until the parent closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for writer in list(modes):
            writer.transport.abort()  # handlers see EOF and finish by themselves
        if handlers:
            await asyncio.wait(handlers)


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class Run:
    seconds: float
    stall_ms: float


async def _measure(receive: Callable[[], Coroutine[None, None, bytes]], expected: str) -> Run:
    """Time ``receive()`` (trigger + wait) while a ticker watches the loop."""
    period = 0.005  # fine enough to see a 50 ms stall, coarse enough not to perturb
    worst = 0.0
    stop = False

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not stop:
            await asyncio.sleep(period)
            now = time.perf_counter()
            worst = max(worst, now - last - period)
            last = now

    task = asyncio.create_task(ticker(), name="bench-ticker")
    await asyncio.sleep(0.05)  # the ticker is running before the BLOB is asked for
    start = time.perf_counter()
    async with asyncio.timeout(120):  # a client that never delivers fails, not hangs
        data = await receive()
    seconds = time.perf_counter() - start
    await asyncio.sleep(0.05)  # stalls right after delivery count too
    stop = True
    await task
    if hashlib.sha256(data).hexdigest() != expected:
        raise RuntimeError("received BLOB differs from the one sent")
    return Run(seconds, worst * 1000)


async def run_native(port: int, expected: str) -> Run:
    from astroiqa_indi.indi import IndiClient

    async with IndiClient(port=port) as indi:
        stream = indi.blobs(device=DEVICE)
        await indi.wait_for(DEVICE, "CCD_EXPOSURE")

        async def receive() -> bytes:
            await indi.set_number(DEVICE, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 1.0})
            return (await anext(stream)).data

        return await _measure(receive, expected)


async def run_native_stdlib(port: int, expected: str) -> Run:
    """The native client with the standard library's base64 decoder (no pybase64)."""
    from astroiqa_indi.indi import _blob

    chosen, _blob.DECODER = _blob.DECODER, _blob.stdlib_decoder
    try:
        return await run_native(port, expected)
    finally:
        _blob.DECODER = chosen


async def run_pyindi(port: int, expected: str) -> Run:
    from astroiqa_indi.indi.pyindi_backend import PyIndiClient

    async with PyIndiClient(port=port) as indi:
        stream = indi.blobs(device=DEVICE)
        await indi.wait_for(DEVICE, "CCD_EXPOSURE")

        async def receive() -> bytes:
            await indi.set_number(DEVICE, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 1.0})
            return (await anext(stream)).data

        return await _measure(receive, expected)


async def run_indipyclient(port: int, expected: str) -> Run:
    import indipyclient

    loop = asyncio.get_running_loop()
    defined: asyncio.Future[None] = loop.create_future()
    received: asyncio.Future[bytes] = loop.create_future()

    class Client(indipyclient.IPyClient):
        async def rxevent(self, event: object) -> None:
            kind = getattr(event, "eventtype", "")
            if kind == "Define" and getattr(event, "vectorname", "") == "CCD_EXPOSURE":
                if not defined.done():
                    defined.set_result(None)
            elif kind == "SetBLOB" and not received.done():
                received.set_result(event["CCD1"])  # type: ignore[index]

    client = Client(indihost="127.0.0.1", indiport=port)
    client.enableBLOBdefault = "Also"
    client.debug_verbosity(0)
    runner = asyncio.create_task(client.asyncrun(), name="indipyclient")
    try:
        await asyncio.wait_for(defined, 10)

        async def receive() -> bytes:
            await client.send_newVector(DEVICE, "CCD_EXPOSURE", members={"CCD_EXPOSURE_VALUE": 1.0})
            return await received

        return await _measure(receive, expected)
    finally:
        client.shutdown()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


CLIENTS: dict[str, Callable[[int, str], Coroutine[None, None, Run]]] = {
    "native": run_native,
    "native-stdlib": run_native_stdlib,
    "pyindi": run_pyindi,
    "indipyclient": run_indipyclient,
}


def _available() -> list[str]:
    from astroiqa_indi.indi import _blob

    names = ["native"]
    if _blob.SIMD_DECODER is not None:
        names.append("native-stdlib")  # "native" decodes with pybase64: show both
    else:
        print("native: standard-library base64 (pip install pybase64 for the SIMD decoder)")
    try:
        import PyIndi  # noqa: F401

        names.append("pyindi")
    except ImportError:
        print("pyindi: skipped (pip install --no-deps pyindi-client==2.3.0)")
    names.append("indipyclient")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=60.0, help="decoded BLOB size, MB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.mb))
        return

    payload = synthetic_fits(args.mb)
    expected = hashlib.sha256(payload).hexdigest()
    size_mb = len(payload) / 1e6
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.indi_blob", "--serve", "--mb", str(args.mb)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        names = _available()
        runs: dict[str, list[Run]] = {name: [] for name in names}
        for _ in range(args.repeat):  # interleaved, so drift hits every client alike
            for name in names:
                runs[name].append(asyncio.run(CLIENTS[name](port, expected)))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)

    rate = {n: size_mb / statistics.median(r.seconds for r in runs[n]) for n in names}
    print(f"\n{size_mb:.1f} MB FITS BLOB, loopback replay server, median of {args.repeat}")
    print(f"{'client':<15}{'MB/s':>9}{'median s':>10}{'max stall ms':>14}{'native is':>12}")
    for name in names:
        seconds = statistics.median(r.seconds for r in runs[name])
        stall = max(r.stall_ms for r in runs[name])
        ratio = rate["native"] / rate[name]
        print(f"{name:<15}{rate[name]:>9.1f}{seconds:>10.3f}{stall:>14.1f}{ratio:>11.2f}x")


if __name__ == "__main__":
    main()
