"""TLS with a test-generated CA, and user/password from an environment variable."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import pytest

from astroiqa_indi.alerts import Backoff, MqttNotifier, NotifierState
from astroiqa_indi.errors import AlertError, ProfileError
from tests._mosquitto import MosquittoBroker, TlsFiles, make_tls_files
from tests.alerts._support import LogWaiter, Observer, make_verdict, payload_json, settings_for
from tests.alerts.conftest import TEST_PASSWORD, TEST_USER

pytestmark = pytest.mark.network

FAST = Backoff(initial_s=0.05, max_s=0.2)
ENV = "ASTROIQA_TEST_MQTT_PASSWORD"


def tls_observer(broker: MosquittoBroker, tls: TlsFiles, *topics: str) -> Observer:
    context = ssl.create_default_context(cafile=str(tls.ca_cert))
    return Observer(
        broker, *topics, username=TEST_USER, password=TEST_PASSWORD, tls_context=context
    )


async def test_tls_with_password_from_environment(
    tls_broker: MosquittoBroker, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, TEST_PASSWORD)
    settings = settings_for(
        tls_broker, tls=True, ca_file=str(tls_files.ca_cert), username=TEST_USER, password_env=ENV
    )
    async with (
        tls_observer(tls_broker, tls_files, "astroiqa/rig1/frame") as obs,
        MqttNotifier(settings, rig="rig1", backoff=FAST) as mqtt,
    ):
        mqtt.publish_verdict(make_verdict(), frame_name="tls.fits")
        (message,) = await obs.take(1)
        assert mqtt.state is NotifierState.CONNECTED
    assert payload_json(message)["frame"] == "tls.fits"


async def test_wrong_password_is_an_error_state_not_a_crash(
    tls_broker: MosquittoBroker,
    tls_files: TlsFiles,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-the-password-1234"
    monkeypatch.setenv(ENV, wrong)
    settings = settings_for(
        tls_broker, tls=True, ca_file=str(tls_files.ca_cert), username=TEST_USER, password_env=ENV
    )
    caplog.set_level(logging.DEBUG)
    with LogWaiter(lambda r: r.levelno == logging.ERROR) as waiter:
        async with MqttNotifier(settings, rig="rig1", backoff=FAST) as mqtt:
            record = await asyncio.wait_for(waiter.seen, 5)
            mqtt.publish_verdict(make_verdict(), frame_name="kept.fits")  # still accepted
            assert mqtt.state is not NotifierState.CONNECTED
            assert mqtt.stats.buffered >= 2
    message = record.getMessage()
    assert TEST_USER in message and f"${ENV}" in message
    assert "password" in message.lower()
    assert mqtt.last_error is not None and TEST_USER in mqtt.last_error
    assert all(wrong not in r.getMessage() for r in caplog.records)
    assert wrong not in repr(mqtt)


async def test_untrusted_certificate_is_reported(
    tls_broker: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_ca = make_tls_files(tmp_path / "other").ca_cert
    monkeypatch.setenv(ENV, TEST_PASSWORD)
    settings = settings_for(
        tls_broker, tls=True, ca_file=str(other_ca), username=TEST_USER, password_env=ENV
    )
    with LogWaiter(lambda r: "cannot connect" in r.getMessage()) as waiter:
        async with MqttNotifier(settings, rig="rig1", backoff=FAST) as mqtt:
            record = await asyncio.wait_for(waiter.seen, 5)
    assert "certificate verify failed" in record.getMessage()
    assert mqtt.stats.connect_failures >= 1


async def test_missing_password_variable_fails_at_start(
    tls_broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    settings = settings_for(tls_broker, username=TEST_USER, password_env=ENV)
    with pytest.raises(ProfileError, match=ENV):
        async with MqttNotifier(settings, rig="rig1"):
            pass


async def test_missing_ca_file_fails_at_start(tls_broker: MosquittoBroker, tmp_path: Path) -> None:
    settings = settings_for(tls_broker, tls=True, ca_file=str(tmp_path / "nope.pem"))
    with pytest.raises(AlertError, match=r"nope\.pem"):
        async with MqttNotifier(settings, rig="rig1"):
            pass
