"""pyindi-client (libindiclient, C++) drives the simulator like KStars would."""

from __future__ import annotations

import io

import pytest
from astropy.io import fits

from tests.observatory.conftest import CCD, Served

pytestmark = pytest.mark.network

pytest.importorskip(
    "PyIndi", reason="pyindi-client not installed (pip install --no-deps pyindi-client==2.3.0)"
)


async def test_pyindi_client_takes_an_exposure(served: Served) -> None:
    from astroiqa_indi.indi.pyindi_backend import PyIndiClient

    async with PyIndiClient(port=served.port, fail_fast=True) as indi:
        await indi.set_switch(CCD, "CONNECTION", {"CONNECT": True}, wait=True)
        blobs = indi.blobs(device=CCD)
        await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 10.0})
        blob = await anext(blobs)
    assert blob.format == ".fits"
    with fits.open(io.BytesIO(blob.data)) as hdus:
        assert hdus[0].data.shape == (128, 128)
