"""Messages from PHD2's EventMonitoring wiki page, verbatim, to test against the real protocol.

Source: https://github.com/OpenPHDGuiding/phd2/wiki/EventMonitoring (read through the
daleghent/phd2-wiki mirror of EventMonitoring.md). Each constant names its section.
Attribute tables (events the page documents without an example) are transcribed as
name -> JSON type; where PHD2's own event server (src/event_server.cpp) spells a name
differently from the table, the server's spelling is used and the difference noted.
"""

from __future__ import annotations

from typing import Any

# --- "Version" (Example) --------------------------------------------------------------
VERSION_EVENT = (
    '{"Event":"Version","Timestamp":1372082668.897,"Host":"AGALASSO","Inst":1,'
    '"PHDVersion":"2.0.4","PHDSubver":"a","MsgVersion":1}'
)

# --- "PHD Server method invocation": the three example exchanges ----------------------
GET_EXPOSURE_REQUEST = '{"method": "get_exposure", "id": 1}'
GET_EXPOSURE_RESPONSE = '{"jsonrpc": "2.0", "result": 1000, "id": 1}'
SET_EXPOSURE_REQUEST = '{"method": "set_exposure", "params": [1500], "id": 2}'
SET_EXPOSURE_RESPONSE = '{"jsonrpc": "2.0", "result": 0, "id": 2}'
SET_EXPOSURE_ERROR_REQUEST = '{"method": "set_exposure", "params": [1502], "id": 3}'
SET_EXPOSURE_ERROR_RESPONSE = (
    '{"jsonrpc": "2.0", "error": {"code": 1, "message": "could not set exposure duration"}, '
    '"id": 3}'
)

# --- "Available Methods", set_paused row (Example) ------------------------------------
SET_PAUSED_FULL_REQUEST = '{"method":"set_paused","params":[true,"full"],"id":42}'

# --- "Guide Method" (Example, and Example showing optional recalibrate and roi) --------
GUIDE_REQUEST = (
    '{"method": "guide", "params": {"settle": {"pixels": 1.5, "time": 8, "timeout": 40}}, "id": 42}'
)
GUIDE_REQUEST_WITH_ROI = (
    '{"method": "guide", "params": {"settle": {"pixels": 1.5, "time": 8, "timeout": 40}, '
    '"recalibrate": false, "roi": [20, -50, 1280, 960]}, "id": 42}'
)

# --- "Dither Method" (Example) ----------------------------------------------------------
DITHER_REQUEST = (
    '{"method": "dither", "params": {"amount": 10, "raOnly": false, '
    '"settle": {"pixels": 1.5, "time": 8, "timeout": 40}}, "id": 42}'
)

# --- "Settle parameter" (example object) -----------------------------------------------
SETTLE_OBJECT = '{"pixels": 1.5, "time": 10, "timeout": 60}'

# --- "Common attributes" and "Event Message Descriptions" tables ------------------------
NUMBER: Any = (int, float)
STRING: Any = str
BOOLEAN: Any = bool

COMMON_ATTRIBUTES = {"Event": STRING, "Timestamp": NUMBER, "Host": STRING, "Inst": NUMBER}

EVENT_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "Version": {
        "PHDVersion": STRING,
        "PHDSubver": STRING,
        "MsgVersion": NUMBER,
        "OverlapSupport": BOOLEAN,
    },
    "AppState": {"State": STRING},
    "LockPositionSet": {"X": NUMBER, "Y": NUMBER},
    "StarSelected": {"X": NUMBER, "Y": NUMBER},
    "CalibrationComplete": {"Mount": STRING},
    "StartCalibration": {"Mount": STRING},
    "LoopingExposures": {"Frame": NUMBER},
    "Settling": {"Distance": NUMBER, "Time": NUMBER, "SettleTime": NUMBER, "StarLocked": BOOLEAN},
    # Error is present only when Status is non-zero (event_server.cpp ev_settle_done).
    "SettleDone": {"Status": NUMBER, "TotalFrames": NUMBER, "DroppedFrames": NUMBER},
    # PHD2 also sends HFD (event_server.cpp NotifyStarLost), which the table omits.
    "StarLost": {
        "Frame": NUMBER,
        "Time": NUMBER,
        "StarMass": NUMBER,
        "SNR": NUMBER,
        "HFD": NUMBER,
        "AvgDist": NUMBER,
        "ErrorCode": NUMBER,
        "Status": STRING,
    },
    "Calibrating": {
        "Mount": STRING,
        "dir": STRING,
        "dist": NUMBER,
        "dx": NUMBER,
        "dy": NUMBER,
        "pos": list,
        "step": NUMBER,
        "State": STRING,
    },
    # The table says DecDistanceRaw/DecDistanceGuide; PHD2 sends DECDistanceRaw/-Guide.
    # RADuration/RADirection and DECDuration/DECDirection are sent only for a pulse > 0 ms;
    # RALimited/DecLimited and ErrorCode only when set.
    "GuideStep": {
        "Frame": NUMBER,
        "Time": NUMBER,
        "Mount": STRING,
        "dx": NUMBER,
        "dy": NUMBER,
        "RADistanceRaw": NUMBER,
        "DECDistanceRaw": NUMBER,
        "RADistanceGuide": NUMBER,
        "DECDistanceGuide": NUMBER,
        "StarMass": NUMBER,
        "SNR": NUMBER,
        "HFD": NUMBER,
        "AvgDist": NUMBER,
    },
    "GuidingDithered": {"dx": NUMBER, "dy": NUMBER},
    "Paused": {},
    "Resumed": {},
    "StartGuiding": {},
    "GuidingStopped": {},
    "SettleBegin": {},
    "LoopingExposuresStopped": {},
}
OPTIONAL_GUIDE_STEP = {
    "RADuration": NUMBER,
    "RADirection": STRING,
    "DECDuration": NUMBER,
    "DECDirection": STRING,
    "RALimited": BOOLEAN,
    "DecLimited": BOOLEAN,
    "ErrorCode": NUMBER,
}

# The "AppState" section's state table.
APP_STATES = {"Stopped", "Selected", "Calibrating", "Guiding", "LostLock", "Paused", "Looping"}

# A GuideStep line built from the attribute table (the page has no GuideStep example);
# values are made up, names and types are the documented ones, in PHD2's spelling.
GUIDE_STEP_FROM_TABLE = (
    '{"Event":"GuideStep","Timestamp":1372082700.125,"Host":"AGALASSO","Inst":1,"Frame":7,'
    '"Time":14.2,"Mount":"Mount","dx":0.412,"dy":-0.203,"RADistanceRaw":0.45,'
    '"DECDistanceRaw":-0.12,"RADistanceGuide":0.31,"DECDistanceGuide":-0.08,"RADuration":75,'
    '"RADirection":"East","DECDuration":20,"DECDirection":"North","StarMass":18230,'
    '"SNR":37.41,"HFD":2.31,"AvgDist":0.34}'
)
# The same step with the table's own spelling of the Dec fields.
GUIDE_STEP_TABLE_SPELLING = (
    GUIDE_STEP_FROM_TABLE.replace('"DEC', '"Dec')
    .replace('"DecDuration', '"DECDuration')
    .replace('"DecDirection', '"DECDirection')
)


def check_event_shape(event: dict[str, Any]) -> None:
    """Assert an event object has the documented common and own attributes, with their types."""
    for name, kind in COMMON_ATTRIBUTES.items():
        assert isinstance(event.get(name), kind), (name, event)
        assert not isinstance(event[name], bool) or kind is BOOLEAN, (name, event)
    table = EVENT_ATTRIBUTES.get(event["Event"])
    assert table is not None, f"event {event['Event']} is not in the documented tables"
    for name, kind in table.items():
        assert name in event, (name, event)
        assert isinstance(event[name], kind), (name, event)
        assert kind is BOOLEAN or not isinstance(event[name], bool), (name, event)
    if event["Event"] == "GuideStep":
        for name, kind in OPTIONAL_GUIDE_STEP.items():
            if name in event:
                assert isinstance(event[name], kind), (name, event)
        allowed = set(COMMON_ATTRIBUTES) | set(table) | set(OPTIONAL_GUIDE_STEP)
    elif event["Event"] == "SettleDone":
        allowed = set(COMMON_ATTRIBUTES) | set(table) | {"Error"}
    else:
        allowed = set(COMMON_ATTRIBUTES) | set(table)
    assert set(event) <= allowed, sorted(set(event) - allowed)
