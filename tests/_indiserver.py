"""Fixtures (a pytest plugin, see tests/conftest.py): Debian's indiserver with the CCD,
telescope and focuser simulators.

Each server gets a free loopback port and its own ``HOME`` (drivers save their
configuration in ``$HOME/.indi``), has ``simulators/`` first on ``PATH`` so that
``indi_simulator_ccd`` finds our ``gsc`` and draws stars, and is stopped by process
group (indiserver forks one process per driver).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._servers import require_program
from tests.indi._support import IndiServer


def _server(program: str, home: Path) -> Iterator[IndiServer]:
    server = IndiServer(program=program, home=home)
    server.start(new_port_if_taken=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def indi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServer]:
    """An indiserver shared by the tests of one module."""
    program = require_program("indiserver", "indi-bin")
    yield from _server(program, tmp_path_factory.mktemp("indi-home"))


@pytest.fixture
def private_indi_server(tmp_path: Path) -> Iterator[IndiServer]:
    """An indiserver for one test (it may kill and restart it)."""
    program = require_program("indiserver", "indi-bin")
    yield from _server(program, tmp_path)
