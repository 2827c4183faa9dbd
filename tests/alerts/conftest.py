"""Fixtures: a real mosquitto per test (plain, or TLS with a password file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._mosquitto import MosquittoBroker, TlsFiles, make_tls_files, mosquitto_program

TEST_USER = "agent"
TEST_PASSWORD = "correct horse battery staple"


@pytest.fixture
def broker_program() -> str:
    return mosquitto_program()


@pytest.fixture
def idle_broker(broker_program: str, tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker with a port, not started (tests start, stop and restart it)."""
    broker = MosquittoBroker(broker_program, tmp_path / "mosquitto")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def broker(idle_broker: MosquittoBroker) -> MosquittoBroker:
    """A running anonymous broker on plain TCP, private to the test."""
    idle_broker.start()
    return idle_broker


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_broker(
    broker_program: str, tls_files: TlsFiles, tmp_path: Path
) -> Iterator[MosquittoBroker]:
    """A TLS broker that accepts only ``TEST_USER`` / ``TEST_PASSWORD``."""
    with MosquittoBroker(
        broker_program, tmp_path / "mosquitto-tls", tls=tls_files, users={TEST_USER: TEST_PASSWORD}
    ) as broker:
        yield broker
