"""Child process of the Last Will test: connect, say ``ready``, wait to be killed.

Run as ``python -m tests.alerts._lwt_child HOST PORT RIG`` from the repository root.
"""

from __future__ import annotations

import asyncio
import sys

from astroiqa_indi.alerts import MqttNotifier
from astroiqa_indi.config import MqttSettings


async def _main(host: str, port: int, rig: str) -> None:
    settings = MqttSettings(host=host, port=port, home_assistant=False)
    async with MqttNotifier(settings, rig=rig) as mqtt:
        await asyncio.wait_for(mqtt.wait_connected(), 10)
        mqtt.publish_state("watching")
        await asyncio.wait_for(mqtt.flush(), 10)
        print("ready", flush=True)
        await asyncio.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
