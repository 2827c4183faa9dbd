"""What the INDI observatory adds on top of rendering a frame.

Run: ``.venv/bin/python -m bench.observatory_latency [--repeat N] [--size WxH]``

Baseline (same process): ``SkyCamera.expose`` called directly, i.e. render, cut,
FITS-encode. Measured: a zero-length-ish exposure (1 simulated second at time
scale 1000) from ``newNumberVector`` to the decoded BLOB in our native client,
through the standalone server on loopback, plain and ``.fits.fz``. Their ratio is
the overhead of the countdown, base64, XML, TCP and decoding. A second figure
times how long the event loop stays responsive (a ``pingRequest`` round trip)
while a frame renders.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

from astroiqa_indi.indi import IndiClient
from simulators.observatory import (
    ExposureRequest,
    Observatory,
    ObservatoryConfig,
    ObservatoryServer,
)

CCD = "AstroIQA CCD"


async def _run(size: tuple[int, int], repeat: int) -> None:
    config = ObservatoryConfig(
        rig="refractor80_asi2600mm", size=size, time_scale=1000.0, auto_connect=True
    )
    async with (
        Observatory(config) as observatory,
        ObservatoryServer(observatory, port=0) as server,
        IndiClient(port=server.port, fail_fast=True) as indi,
    ):
        camera = observatory.ccd.camera
        conditions = observatory.player.now().conditions
        direct = []
        for n in range(repeat):
            request = ExposureRequest(
                exposure_s=1.0,
                start=datetime.now(UTC),
                conditions=conditions,
                x=0,
                y=0,
                width=camera.width,
                height=camera.height,
                frame_number=n + 1,
            )
            t0 = time.perf_counter()
            camera.expose(request)
            direct.append(time.perf_counter() - t0)

        blobs = indi.blobs(device=CCD)  # one stream for every phase: none left to fill up

        async def through_indi(compress: bool) -> float:
            await indi.set_switch(
                CCD, "CCD_COMPRESSION", {"INDI_ENABLED" if compress else "INDI_DISABLED": True}
            )
            await indi.ping()
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 1.0})
                await anext(blobs)
                times.append(time.perf_counter() - t0)
            return statistics.median(times)

        plain = await through_indi(False)
        packed = await through_indi(True)

        pings = []
        await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 1.0})
        frame = asyncio.ensure_future(anext(blobs))
        while not frame.done():
            pings.append(await indi.ping())
        await frame

    base = statistics.median(direct)
    rows = (
        ("baseline SkyCamera.expose (render + FITS)", base),
        ("exposure -> BLOB via INDI, .fits", plain),
        ("exposure -> BLOB via INDI, .fits.fz", packed),
    )
    print(f"frame {size[0]}x{size[1]} uint16, median of {repeat}")
    for label, seconds in rows:
        print(f"  {label:<44} {seconds * 1000:8.1f} ms  ({seconds / base:.2f}x)")
    worst = max(pings) * 1000
    print(f"  {'ping round trip while rendering (max)':<44} {worst:8.1f} ms  ({len(pings)} pings)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", default="1024x1024", help="WxH")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    asyncio.run(_run((width, height), args.repeat))


if __name__ == "__main__":
    main()
