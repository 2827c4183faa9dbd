"""A real mosquitto broker for tests: plain or TLS, anonymous or with passwords.

>>> broker = MosquittoBroker(program, workdir)  # doctest: +SKIP
>>> broker.start(); broker.restart(); broker.stop()  # doctest: +SKIP

The broker listens on 127.0.0.1 only, on a free port that :meth:`MosquittoBroker.restart`
keeps, and persists its sessions and retained messages in ``workdir`` (so a
persistent-session subscriber sees what was published while it was away, across a
restart). :func:`make_tls_files` writes a throw-away CA and server certificate with
the ``openssl`` command.

Other test areas can reuse it: import :class:`MosquittoBroker` and
:func:`mosquitto_program`, or the :func:`mosquitto_broker` fixture (listed in
``pytest_plugins`` of ``tests/conftest.py``, or imported into an area's conftest).
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._servers import free_port, require_program

__all__ = [
    "MosquittoBroker",
    "TlsFiles",
    "make_tls_files",
    "mosquitto_broker",
    "mosquitto_program",
]

HOST = "127.0.0.1"
_RESIGNAL_S = 0.5
_READY = "running"  # mosquitto logs "mosquitto version X running" once it listens


def mosquitto_program() -> str:
    """Path of ``mosquitto``; skips locally (fails under ``CI=true``) when missing."""
    return require_program("mosquitto", "mosquitto")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files: the CA certificate clients trust, and the broker's certificate and key."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_tls_files(directory: Path, *, host: str = HOST) -> TlsFiles:
    """Generate a CA and a server certificate for ``host`` (an IP SAN), valid 2 days."""
    openssl = require_program("openssl", "openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "server.ext"
    ext.write_text(
        f"subjectAltName=IP:{host},DNS:localhost\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str | Path) -> None:
        subprocess.run([openssl, *map(str, args)], check=True, capture_output=True, timeout=30)

    run(
        "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert, "-days", "2",
        "-subj", "/CN=astroiqa test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    run("req", *ec, "-keyout", key, "-out", csr, "-subj", f"/CN={host}")
    run(
        "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext,
    )  # fmt: skip
    return TlsFiles(ca_cert=ca_cert, server_cert=cert, server_key=key)


class MosquittoBroker:
    """One mosquitto process on ``127.0.0.1:port``.

    Parameters
    ----------
    program
        The ``mosquitto`` executable (see :func:`mosquitto_program`).
    workdir
        Config, password file, persistence database and log go here.
    tls
        Serve TLS with these files instead of plain TCP.
    users
        User name -> password; when given, anonymous clients are refused.
    """

    def __init__(
        self,
        program: str,
        workdir: Path,
        *,
        tls: TlsFiles | None = None,
        users: Mapping[str, str] | None = None,
    ) -> None:
        self.program = program
        self.workdir = workdir
        self.tls = tls
        self.users = dict(users or {})
        self.host = HOST
        self.port = free_port()
        self.log_lines: list[str] = []
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._cond = threading.Condition()
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _config(self) -> Path:
        lines = [
            f"listener {self.port} {self.host}",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",  # unbuffered, unlike stdout into a pipe
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            # Started as root (containers), mosquitto would switch to user "mosquitto",
            # which cannot read the test's files.
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
        ]
        if self.users:
            passwd = self.workdir / "passwd"
            passwd.write_text("")
            passwd.chmod(0o600)
            tool = require_program("mosquitto_passwd", "mosquitto")
            for name, password in self.users.items():
                subprocess.run(
                    [tool, "-b", str(passwd), name, password],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            lines += [f"password_file {passwd}", "allow_anonymous false"]
        else:
            lines.append("allow_anonymous true")
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca_cert}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
            ]
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 10.0) -> None:
        """Start on :attr:`port` and return once mosquitto says it is running."""
        if self.running:
            raise RuntimeError("mosquitto is already running")
        config = self._config()
        with self._cond:
            mark = len(self.log_lines)
        self._proc = subprocess.Popen(
            [self.program, "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read_log, args=(self._proc,), name="mosquitto-log", daemon=True
        )
        self._reader.start()
        with self._cond:
            ready = self._cond.wait_for(
                lambda: any(_READY in line for line in self.log_lines[mark:]) or not self.running,
                timeout=timeout,
            )
            started = ready and self.running
        if not started:
            log = "\n".join(self.log_lines[mark:][-20:])
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}:\n{log}")

    def _read_log(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._cond:
                self.log_lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (mosquitto saves its database) and wait; idempotent."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: the broker vanishes without saving or saying goodbye."""
        self._end(signal.SIGKILL, 10.0)

    def _end(self, sig: signal.Signals, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # mosquitto 2.0 logs "running" just before its main loop; a SIGTERM caught in
        # between only sets a flag, read when epoll_wait next returns (seconds later
        # with no client). Another signal interrupts that wait.
        for _ in range(max(1, int(timeout / _RESIGNAL_S))):
            if proc.poll() is not None:
                break
            proc.send_signal(sig)
            try:
                proc.wait(timeout=_RESIGNAL_S)
            except subprocess.TimeoutExpired:
                continue
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout=timeout)
        if proc.stdout is not None:
            proc.stdout.close()

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def mosquitto_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A running anonymous broker on plain TCP, private to the test; stopped afterwards.

    The test may :meth:`~MosquittoBroker.stop`, :meth:`~MosquittoBroker.start` and
    :meth:`~MosquittoBroker.restart` it (same port).
    """
    with MosquittoBroker(mosquitto_program(), tmp_path / "mosquitto") as broker:
        yield broker
