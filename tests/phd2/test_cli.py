"""``astroiqa-indi simulate phd2``: registers, listens, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import argparse
import json
import re
import select
import signal
import socket
import subprocess
import sys

import pytest

import simulators.phd2
from simulators.phd2._cli import register


def test_register_adds_phd2_with_host_port_and_cadence() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="simulator"))
    args = parser.parse_args(["phd2", "--port", "4401", "--cadence", "0.5"])
    assert (args.simulator, args.host, args.port, args.cadence) == ("phd2", "127.0.0.1", 4401, 0.5)
    assert parser.parse_args(["phd2"]).port == 4400


def test_public_names_are_exported() -> None:
    public = {n for n in vars(simulators.phd2) if not n.startswith("_")}
    assert public - {"annotations"} <= set(simulators.phd2.__all__)
    assert all(hasattr(simulators.phd2, name) for name in simulators.phd2.__all__)


@pytest.mark.network
def test_simulate_phd2_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "astroiqa_indi",
            "simulate",
            "phd2",
            "--port",
            "0",
            "--cadence",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "simulator printed nothing"
        banner = proc.stdout.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", banner)
        assert match, banner
        with socket.create_connection(("127.0.0.1", int(match[1])), timeout=5) as sock:
            first = sock.makefile("rb").readline()
        assert json.loads(first)["Event"] == "Version"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
