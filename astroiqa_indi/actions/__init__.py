"""Acting on verdicts: pause and resume PHD2 guiding, flag frame files.

- :class:`Phd2Client`: an ``async with`` client for PHD2's event server
  (JSON-RPC 2.0 over TCP) with typed events and a running guide RMS.
- :func:`flag_frame`: write FITS keywords or a JSON sidecar, or move a rejected frame
  to a reject folder (undo with :func:`undo_moves`).

Importing this package opens no connection and loads no model.
"""

from __future__ import annotations

from astroiqa_indi.actions._flag import (
    MANIFEST_NAME,
    FlagResult,
    FlagSettings,
    UndoResult,
    flag_frame,
    numbered_name,
    undo_moves,
)
from astroiqa_indi.actions._phd2 import (
    GuideRms,
    Phd2Client,
    Phd2ClientState,
    Phd2EventStream,
    SettleParams,
)
from astroiqa_indi.actions._phd2_protocol import (
    AlertEvent,
    AppStateEvent,
    CalibrationCompleteEvent,
    CalibrationFailedEvent,
    GuideStepEvent,
    GuidingDitheredEvent,
    GuidingStoppedEvent,
    LockPositionLostEvent,
    LockPositionSetEvent,
    LoopingExposuresEvent,
    LoopingExposuresStoppedEvent,
    OtherEvent,
    PausedEvent,
    Phd2AppState,
    Phd2Event,
    ResumedEvent,
    SettleBeginEvent,
    SettleDoneEvent,
    SettlingEvent,
    StarLostEvent,
    StarSelectedEvent,
    StartCalibrationEvent,
    StartGuidingEvent,
    VersionEvent,
)

__all__ = [
    "MANIFEST_NAME",
    "AlertEvent",
    "AppStateEvent",
    "CalibrationCompleteEvent",
    "CalibrationFailedEvent",
    "FlagResult",
    "FlagSettings",
    "GuideRms",
    "GuideStepEvent",
    "GuidingDitheredEvent",
    "GuidingStoppedEvent",
    "LockPositionLostEvent",
    "LockPositionSetEvent",
    "LoopingExposuresEvent",
    "LoopingExposuresStoppedEvent",
    "OtherEvent",
    "PausedEvent",
    "Phd2AppState",
    "Phd2Client",
    "Phd2ClientState",
    "Phd2Event",
    "Phd2EventStream",
    "ResumedEvent",
    "SettleBeginEvent",
    "SettleDoneEvent",
    "SettleParams",
    "SettlingEvent",
    "StarLostEvent",
    "StarSelectedEvent",
    "StartCalibrationEvent",
    "StartGuidingEvent",
    "UndoResult",
    "VersionEvent",
    "flag_frame",
    "numbered_name",
    "undo_moves",
]
