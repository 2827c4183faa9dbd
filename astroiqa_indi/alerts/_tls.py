"""The TLS context of the broker connection."""

from __future__ import annotations

import ssl
from typing import Any

from astroiqa_indi.errors import AlertError

__all__ = ["tls_context"]


class _ClosingSSLSocket(ssl.SSLSocket):
    """An SSL socket that closes itself when the handshake fails.

    paho-mqtt wraps the socket and runs the handshake itself; when the handshake
    fails (untrusted certificate, wrong port) it drops the socket without closing it,
    and every retry would leak a file descriptor until the garbage collector runs.
    """

    def do_handshake(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().do_handshake(*args, **kwargs)
        except BaseException:
            self.close()
            raise


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify the broker's certificate and host name against ``ca_file`` (PEM), or the
    system's trusted CAs when ``None``.

    Raises
    ------
    AlertError
        ``ca_file`` cannot be read or holds no certificate.
    """
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise AlertError(f"cannot load the MQTT CA file {ca_file}: {exc}") from exc
    context.sslsocket_class = _ClosingSSLSocket
    return context
