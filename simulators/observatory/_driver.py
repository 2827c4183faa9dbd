"""The observatory as an INDI driver that Debian's ``indiserver`` starts.

A driver speaks the same XML as a server, over its stdin (commands from
indiserver) and stdout (definitions and updates); stderr lines land in
indiserver's log. indiserver passes no arguments, so options come from
``ASTROIQA_SIM_*`` environment variables (see ``_options``). indiserver does the
per-client ``enableBLOB`` filtering, so the driver sends every message it has.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import stat
import sys
from collections.abc import Sequence

from astroiqa_indi.errors import IndiProtocolError
from simulators.observatory import _xml
from simulators.observatory._observatory import Observatory, ObservatoryConfig
from simulators.observatory._options import add_config_arguments, config_from_args
from simulators.observatory._outbox import Outbox

__all__ = ["main", "run_driver"]

_log = logging.getLogger(__name__)

# indiserver itself queues per client; this only bounds what waits for the pipe.
STDOUT_LIMIT = 512 * 1024 * 1024
READ_CHUNK = 256 * 1024


def _same_socket(fd_a: int, fd_b: int) -> bool:
    a, b = os.fstat(fd_a), os.fstat(fd_b)
    return stat.S_ISSOCK(a.st_mode) and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


async def _stdio() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    if _same_socket(stdin, stdout):
        # indiserver 1.9 hands drivers one UNIX socket as both stdin and stdout. A
        # write-pipe transport on it would take every incoming byte for a hang-up,
        # so treat it as the socket it is.
        sock = socket.socket(fileno=os.dup(stdin))
        return await asyncio.open_connection(sock=sock, limit=READ_CHUNK)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_CHUNK)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, sys.stdout.buffer
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return reader, writer


async def run_driver(
    config: ObservatoryConfig,
    *,
    reader: asyncio.StreamReader | None = None,
    writer: asyncio.StreamWriter | None = None,
) -> None:
    """Serve the observatory over a driver pipe until the reader reaches EOF.

    Parameters
    ----------
    config
        The observatory to build.
    reader, writer
        The pipe; default stdin/stdout.
    """
    if reader is None or writer is None:
        reader, writer = await _stdio()
    async with Observatory(config) as observatory, asyncio.TaskGroup() as group:
        outbox = Outbox(writer, name="stdout", limit=STDOUT_LIMIT)
        group.create_task(outbox.run(), name="driver stdout")
        unsubscribe = observatory.subscribe(lambda message: outbox.put(message.data))
        parser = _xml.ClientParser()
        try:
            while data := await reader.read(READ_CHUNK):
                for command in parser.feed(data):
                    _dispatch(observatory, outbox, command)
        except IndiProtocolError as exc:
            _log.error("indiserver sent malformed XML: %s", exc)
        finally:
            unsubscribe()
            outbox.close()


def _dispatch(observatory: Observatory, outbox: Outbox, command: _xml.ClientCommand) -> None:
    match command:
        case _xml.GetProperties(device=device, name=name):
            for message in observatory.definitions(device, name):
                outbox.put(message.data)
        case _xml.NewNumbers() | _xml.NewSwitches() | _xml.NewTexts() | _xml.NewBlobs():
            observatory.handle(command)
        case _xml.PingRequest(uid=uid):
            outbox.put(_xml.ping_reply(uid))
        case _xml.Invalid(tag=tag, reason=reason, device=device):
            outbox.put(_xml.message(device, f"Bad <{tag}>: {reason}"))
        case _:
            # enableBLOB is indiserver's business; snooped set* are not ours.
            pass


def build_parser() -> argparse.ArgumentParser:
    """Options of the driver executable (defaults from ``ASTROIQA_SIM_*``)."""
    parser = argparse.ArgumentParser(
        prog="indi_astroiqa_observatory",
        description=(
            "AstroIQA simulated observatory as an INDI driver: run it under indiserver, "
            "e.g. `indiserver indi_astroiqa_observatory`. Options may also be given as "
            "ASTROIQA_SIM_* environment variables."
        ),
    )
    add_config_arguments(parser, env=os.environ)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``indi_astroiqa_observatory``."""
    args = build_parser().parse_args(argv)
    level = os.environ.get("ASTROIQA_SIM_LOG_LEVEL", "INFO").upper()
    # stdout is the protocol channel: logs must go to stderr only.
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(run_driver(config_from_args(args)))
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"indi_astroiqa_observatory: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
