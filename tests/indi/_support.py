"""Shared helpers of the INDI tests: an indiserver process group and CCD helpers."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from astroiqa_indi.indi import Blob, ClientCore
from tests._servers import free_port

REPO = Path(__file__).resolve().parents[2]
SIMULATORS = REPO / "simulators"
DRIVERS = ("indi_simulator_ccd", "indi_simulator_telescope", "indi_simulator_focus")
CCD = "CCD Simulator"
TELESCOPE = "Telescope Simulator"
FOCUSER = "Focuser Simulator"


@dataclass
class IndiServer:
    """One indiserver process group on 127.0.0.1:``port``."""

    program: str
    home: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def unix_socket(self) -> str:
        """indiserver's local (abstract) socket; the default one is machine-wide and would
        make a second server on this machine fail to start."""
        return f"/tmp/astroiqa-indiserver-{os.getpid()}-{self.port}"

    @property
    def log(self) -> Path:
        return self.home / "indiserver.log"

    def start(self, timeout: float = 10.0, *, new_port_if_taken: bool = False) -> None:
        """Start and wait until the port accepts connections.

        ``free_port()`` cannot reserve its port: an outgoing connection may take it
        before indiserver binds. A first start may then move to another free port.
        """
        for _ in range(3 if new_port_if_taken else 1):
            if self._start_once(timeout):
                return
            self.port = free_port()
        raise RuntimeError(f"indiserver could not bind: {self.log.read_text()[-2000:]}")

    def _start_once(self, timeout: float) -> bool:
        path = f"{SIMULATORS}{os.pathsep}{os.environ['PATH']}"
        env = dict(os.environ, HOME=str(self.home), PATH=path)
        mark = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.program, "-v", "-p", str(self.port), "-u", self.unix_socket, *DRIVERS],
                env=env,
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Bounded retry-connect: the port opens once indiserver has forked its drivers.
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                output = self.log.read_bytes()[mark:].decode(errors="replace")
                self.stop()
                if "Address already in use" in output:
                    return False
                raise RuntimeError(f"indiserver exited: {output[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"indiserver not listening on {self.port}") from None
                time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass
        # Drivers are in the same process group; make sure none is left behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


async def connect_device(indi: ClientCore, device: str, *, timeout: float = 10.0) -> None:
    """Switch ``device`` on and wait until the driver says it is connected."""
    vector = await indi.wait_for(device, "CONNECTION", timeout=timeout)
    if vector.on_switches != ("CONNECT",):
        await indi.set_switch(device, "CONNECTION", {"CONNECT": True}, wait=True, timeout=timeout)


async def serve_directory(indi: ClientCore, folder: Path, *, device: str = CCD) -> None:
    """Connect the CCD simulator and switch it to directory mode on ``folder``: each
    exposure then sends the folder's next FITS file, in name order."""
    await connect_device(indi, device)
    await indi.set_text(device, "CCD_DIRECTORY_LOCATION", {"LOCATION": str(folder)}, wait=True)
    await indi.set_switch(device, "CCD_DIRECTORY_TOGGLE", {"INDI_ENABLED": True}, wait=True)


async def start_exposure(indi: ClientCore, seconds: float, *, device: str = CCD) -> None:
    """Ask for one exposure (returns at once; the BLOB arrives later)."""
    await indi.set_number(device, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": seconds})


def fits_pixels(blob: Blob) -> np.ndarray:
    """The pixels of the first image HDU of a ``.fits`` or ``.fits.fz`` BLOB."""
    with warnings.catch_warnings():
        # INDI 1.9.9 sends fpack's whole output buffer, zero-padded past the last block.
        warnings.filterwarnings("ignore", "Unexpected extra padding", AstropyUserWarning)
        with fits.open(io.BytesIO(blob.data)) as hdul:
            for hdu in hdul:
                if hdu.data is not None:
                    return np.asarray(hdu.data)
    raise AssertionError(f"no image in {blob}")
