"""Simulated INDI observatory: a camera whose frames come from the sky simulator,
a mount with a pulse-guide interface, a scenario player, and two ways to serve them:
a standalone INDI server on TCP, or a driver started by Debian's ``indiserver``.

>>> async with Observatory(ObservatoryConfig(size=(256, 256))) as obs:   # doctest: +SKIP
...     async with ObservatoryServer(obs, port=7624) as server:
...         await server.serve_forever()

See docs/observatory.md for the properties and how to point KStars at it.

Names load on first use (PEP 562), so ``astroiqa-indi --help``, which imports this
package's CLI module, does not pay for numpy and astropy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulators.observatory._ccd import Ccd
    from simulators.observatory._driver import run_driver
    from simulators.observatory._frames import (
        ExposureRequest,
        ExposureResult,
        SkyCamera,
        SkyFields,
        bin_image,
        j2000_of,
    )
    from simulators.observatory._mount import Mount, MountStatus, sidereal_trail_px
    from simulators.observatory._night_files import NightFile, write_night_files
    from simulators.observatory._observatory import (
        Observatory,
        ObservatoryConfig,
        ObservatoryState,
    )
    from simulators.observatory._scenario_player import (
        FIELDS,
        ConditionField,
        Moment,
        ScenarioPlayer,
    )
    from simulators.observatory._server import ObservatoryServer, ServerState

_HOMES = {
    "Ccd": "_ccd",
    "ConditionField": "_scenario_player",
    "ExposureRequest": "_frames",
    "ExposureResult": "_frames",
    "FIELDS": "_scenario_player",
    "Moment": "_scenario_player",
    "Mount": "_mount",
    "NightFile": "_night_files",
    "MountStatus": "_mount",
    "Observatory": "_observatory",
    "ObservatoryConfig": "_observatory",
    "ObservatoryServer": "_server",
    "ObservatoryState": "_observatory",
    "ScenarioPlayer": "_scenario_player",
    "ServerState": "_server",
    "SkyCamera": "_frames",
    "SkyFields": "_frames",
    "bin_image": "_frames",
    "j2000_of": "_frames",
    "run_driver": "_driver",
    "write_night_files": "_night_files",
    "sidereal_trail_px": "_mount",
}

__all__ = [
    "FIELDS",
    "Ccd",
    "ConditionField",
    "ExposureRequest",
    "ExposureResult",
    "Moment",
    "Mount",
    "MountStatus",
    "NightFile",
    "Observatory",
    "ObservatoryConfig",
    "ObservatoryServer",
    "ObservatoryState",
    "ScenarioPlayer",
    "ServerState",
    "SkyCamera",
    "SkyFields",
    "bin_image",
    "j2000_of",
    "run_driver",
    "sidereal_trail_px",
    "write_night_files",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
