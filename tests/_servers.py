"""Helpers and fixtures for tests that need real programs (indiserver, mosquitto)."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def find_program(program: str) -> str | None:
    """Path of ``program`` on ``PATH`` or in the sbin folders (mosquitto lives there)."""
    return shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/local/sbin")


def require_program(program: str, package: str) -> str:
    """Path of ``program``; skip locally, fail under CI=true, when it is missing."""
    path = find_program(program)
    if path is None:
        message = f"{program} not found: install the Debian package {package!r}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
