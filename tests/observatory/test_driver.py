"""Driver mode: Debian's real indiserver starts our observatory and serves it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from astropy.io import fits

from astroiqa_indi.indi import IndiClient, PropertyState
from tests._servers import free_port, require_program
from tests.observatory.conftest import CCD, MOUNT

pytestmark = [pytest.mark.network, pytest.mark.slow]

DRIVER = "indi_astroiqa_observatory"


def driver_executable(tmp_path: Path) -> str:
    """The driver program indiserver should exec.

    The console script pip installs next to this Python when pyproject declares it;
    otherwise a two-line wrapper that runs ``python -m simulators.observatory`` with
    this very interpreter (a ``#!/usr/bin/env python3`` script would find the system
    Python, which lacks our dependencies).
    """
    installed = shutil.which(DRIVER, path=str(Path(sys.executable).parent))
    if installed is not None:
        return installed
    wrapper = tmp_path / DRIVER
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m simulators.observatory "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@dataclass
class IndiServer:
    port: int
    truth_log: Path
    log: list[str]


class _StderrWatcher:
    """Collects indiserver's stderr lines and signals when one matches."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip())
            if "listening to port" in line:
                self._ready.set()
        self._ready.set()  # EOF: let the waiter see the failure

    def wait_listening(self, timeout: float) -> bool:
        return self._ready.wait(timeout) and any("listening to port" in x for x in self.lines)

    def driver_pids(self) -> list[int]:
        return [int(m.group(1)) for x in self.lines if (m := re.search(r"pid=(\d+)", x))]

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@pytest.fixture
def indiserver(tmp_path: Path) -> Iterator[IndiServer]:
    """indiserver on a free port running our driver, with HOME and logs in tmp_path."""
    program = require_program("indiserver", "indi-bin")
    port = free_port()
    truth_log = tmp_path / "truth.jsonl"
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "ASTROIQA_SIM_RIG": "refractor80_asi2600mm",
        "ASTROIQA_SIM_SIZE": "128x128",
        "ASTROIQA_SIM_TIME_SCALE": "100",
        "ASTROIQA_SIM_TRUTH_LOG": str(truth_log),
    }
    # -u: indiserver's local socket is abstract and machine-wide; keep ours unique.
    command = [program, "-v", "-p", str(port), "-u", f"/tmp/astroiqa-test-{port}"]
    process = subprocess.Popen(
        [*command, driver_executable(tmp_path)],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    watcher = _StderrWatcher(process.stderr)
    try:
        if not watcher.wait_listening(timeout=15):
            pytest.fail("indiserver did not start:\n" + "\n".join(watcher.lines))
        yield IndiServer(port, truth_log, watcher.lines)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        watcher.join(5)
        process.stderr.close()
        # The driver exits on EOF from indiserver; make sure it did.
        for pid in watcher.driver_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def test_indiserver_runs_the_driver_and_serves_frames(indiserver: IndiServer) -> None:
    async with IndiClient(port=indiserver.port, fail_fast=True) as indi:
        # The driver needs a moment to import numpy and astropy before it defines anything.
        info = await indi.wait_for(CCD, "DRIVER_INFO", timeout=30)
        assert info.value("DRIVER_INTERFACE") == "2"
        mount_info = await indi.wait_for(MOUNT, "DRIVER_INFO", timeout=10)
        assert mount_info.value("DRIVER_EXEC") == DRIVER
        await indi.set_switch(CCD, "CONNECTION", {"CONNECT": True}, wait=True)
        await indi.set_switch(CCD, "CCD_COMPRESSION", {"INDI_ENABLED": True}, wait=True)
        blobs = indi.blobs(device=CCD)
        await indi.set_number(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 20.0})
        blob = await anext(blobs)
        exposure = await indi.wait_for(CCD, "CCD_EXPOSURE", state=PropertyState.OK, timeout=10)
        assert exposure.value("CCD_EXPOSURE_VALUE") == 0
    assert blob.format == ".fits.fz"
    with fits.open(io.BytesIO(blob.data)) as hdus:
        assert hdus[1].data.shape == (128, 128)
        assert hdus[1].header["EXPTIME"] == 20.0
    assert json.loads(indiserver.truth_log.read_text())["label"] == "good"
