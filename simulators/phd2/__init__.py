"""A PHD2 guider simulator speaking PHD2's event-server protocol on loopback.

JSON-RPC 2.0 over TCP, one JSON object per CR LF terminated line, as documented on
PHD2's EventMonitoring wiki page. See ``docs/phd2.md`` for the subset implemented.

>>> async with Phd2Simulator(port=0, cadence_s=0.01) as sim:  # doctest: +SKIP
...     print(sim.port)
"""

from simulators.phd2._engine import GuiderEngine
from simulators.phd2._model import GuideConditions, GuiderState, SettleSpec
from simulators.phd2._server import Phd2Simulator, SimulatorState

__all__ = [
    "GuideConditions",
    "GuiderEngine",
    "GuiderState",
    "Phd2Simulator",
    "SettleSpec",
    "SimulatorState",
]
