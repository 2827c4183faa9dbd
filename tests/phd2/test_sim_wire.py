"""The simulator on a real loopback socket, checked against PHD2's documented messages."""

from __future__ import annotations

import json

import pytest

from simulators.phd2 import GuiderState, Phd2Simulator, SimulatorState
from tests.phd2 import _doc_examples as doc
from tests.phd2._wire import RawConnection, Sky, is_event, is_response

pytestmark = pytest.mark.network


async def _guiding(conn: RawConnection) -> None:
    await conn.send(doc.GUIDE_REQUEST)
    await conn.until(is_event("SettleDone"))


async def test_connect_sends_version_first_like_the_documented_example(sim, connect) -> None:
    conn: RawConnection = await connect(sim.port)
    version = await conn.recv()
    example = json.loads(doc.VERSION_EVENT)
    assert list(version)[:4] == list(example)[:4]  # common attributes first, same order
    for key, value in example.items():
        assert type(version[key]) is type(value), key
    doc.check_event_shape(version)
    app_state = await conn.recv()
    doc.check_event_shape(app_state)
    assert app_state["State"] == "Stopped" and app_state["State"] in doc.APP_STATES
    assert all(line.endswith(b"\r\n") for line in conn.raw_lines)


@pytest.mark.parametrize(
    ("request_line", "response_line"),
    [
        (doc.GET_EXPOSURE_REQUEST, doc.GET_EXPOSURE_RESPONSE),
        (doc.SET_EXPOSURE_REQUEST, doc.SET_EXPOSURE_RESPONSE),
        (doc.SET_EXPOSURE_ERROR_REQUEST, doc.SET_EXPOSURE_ERROR_RESPONSE),
    ],
)
async def test_documented_exchanges_are_answered_as_documented(
    sky: Sky, connect, request_line: str, response_line: str
) -> None:
    # exposure_s=1.0: the documented get_exposure answer is 1000 ms.
    async with Phd2Simulator(cadence_s=0.01, exposure_s=1.0, conditions=sky) as sim:
        conn: RawConnection = await connect(sim.port)
        await conn.until(is_event("AppState"))
        await conn.send(request_line)
        assert await conn.recv() == json.loads(response_line)


async def test_documented_full_pause_sends_paused_before_the_answer(sim, connect) -> None:
    conn: RawConnection = await connect(sim.port)
    await conn.until(is_event("AppState"))
    await _guiding(conn)
    await conn.send(doc.SET_PAUSED_FULL_REQUEST)
    seen = await conn.until(is_response(42))
    assert seen[-1] == {"jsonrpc": "2.0", "result": 0, "id": 42}
    paused = [m for m in seen if m.get("Event") == "Paused"]
    assert len(paused) == 1
    doc.check_event_shape(paused[0])
    await conn.send('{"method":"get_app_state","id":43}')
    assert (await conn.until(is_response(43)))[-1]["result"] == "Paused"
    await conn.send('{"method":"get_paused","id":44}')
    assert (await conn.until(is_response(44)))[-1]["result"] is True


async def test_documented_guide_example_runs_to_settle_done(sim, connect) -> None:
    conn: RawConnection = await connect(sim.port)
    await conn.until(is_event("AppState"))
    await conn.send(doc.GUIDE_REQUEST_WITH_ROI)
    seen = await conn.until(is_event("SettleDone"))
    assert seen[0] == {"jsonrpc": "2.0", "result": 0, "id": 42}
    events = seen[1:]
    for event in events:
        doc.check_event_shape(event)
    names = [e["Event"] for e in events]
    assert names.index("StartGuiding") < names.index("SettleBegin") < names.index("GuideStep")
    assert events[-1]["Status"] == 0 and "Error" not in events[-1]
    assert sim.app_state is GuiderState.GUIDING


async def test_documented_dither_example_dithers_and_settles(sim, connect) -> None:
    conn: RawConnection = await connect(sim.port)
    await conn.until(is_event("AppState"))
    await _guiding(conn)
    await conn.send(doc.DITHER_REQUEST)
    seen = await conn.until(is_response(42))
    # As in PHD2, the events a call causes precede its answer.
    assert [m.get("Event") for m in seen if "Event" in m][-2:] == ["GuidingDithered", "SettleBegin"]
    assert seen[-1]["result"] == 0
    done = (await conn.until(is_event("SettleDone")))[-1]
    doc.check_event_shape(done)


async def test_unknown_method_gets_json_rpc_method_not_found(sim, connect) -> None:
    conn: RawConnection = await connect(sim.port)
    await conn.until(is_event("AppState"))
    await conn.send('{"method":"no_such_method","params":[],"id":"abc"}')
    assert (await conn.until(is_response("abc")))[-1] == {
        "jsonrpc": "2.0",
        "error": {"code": -32601, "message": "method not found"},
        "id": "abc",
    }


async def test_garbage_gets_a_parse_error_and_the_connection_survives(sim, connect) -> None:
    conn: RawConnection = await connect(sim.port)
    await conn.until(is_event("AppState"))
    await conn.send("{not json")
    error = (await conn.until(lambda m: "error" in m))[-1]
    assert error["error"]["code"] == -32700 and error["id"] is None
    await conn.send('{"method":"get_connected","id":5}')
    assert (await conn.until(is_response(5)))[-1]["result"] is True


async def test_notifications_get_no_answer(sim, connect) -> None:
    conn: RawConnection = await connect(sim.port)
    await conn.until(is_event("AppState"))
    await conn.send('{"method":"get_app_state"}')
    await conn.send('{"method":"get_pixel_scale","id":9}')
    responses = [m for m in await conn.until(is_response(9)) if "jsonrpc" in m]
    assert responses == [{"jsonrpc": "2.0", "result": 1.5, "id": 9}]


async def test_batch_requests_get_one_array(sim, connect) -> None:
    conn: RawConnection = await connect(sim.port)
    await conn.until(is_event("AppState"))
    await conn.send('[{"method":"get_app_state","id":1},{"method":"nope","id":2}]')
    batch = (await conn.until(lambda m: isinstance(m, list)))[-1]
    assert batch[0] == {"jsonrpc": "2.0", "result": "Stopped", "id": 1}
    assert batch[1]["error"]["code"] == -32601


async def test_events_reach_every_client(sim, connect) -> None:
    first: RawConnection = await connect(sim.port)
    second: RawConnection = await connect(sim.port)
    for conn in (first, second):
        await conn.until(is_event("AppState"))
    await first.send('{"method":"set_paused","params":[true],"id":1}')
    assert (await second.until(is_event("Paused")))[-1]["Event"] == "Paused"
    # ...but only the caller gets the answer.
    await second.send('{"method":"get_paused","id":77}')
    assert (await second.until(is_response(77)))[-1]["result"] is True
    assert sim.client_count == 2


async def test_late_client_gets_catch_up_events_for_the_current_state(sim, connect) -> None:
    conn: RawConnection = await connect(sim.port)
    await conn.until(is_event("AppState"))
    await _guiding(conn)
    late: RawConnection = await connect(sim.port)
    catch_up = await late.until(is_event("AppState"))
    names = [m["Event"] for m in catch_up]
    assert names[0] == "Version" and "StartGuiding" in names
    assert catch_up[-1]["State"] in {"Guiding", "LostLock"}


async def test_clouds_send_star_lost_then_guide_steps_resume(sim, sky: Sky, connect) -> None:
    conn: RawConnection = await connect(sim.port)
    await conn.until(is_event("AppState"))
    await _guiding(conn)
    sky.star_lost = True
    lost = (await conn.until(is_event("StarLost")))[-1]
    doc.check_event_shape(lost)
    await conn.send('{"method":"get_app_state","id":3}')
    assert (await conn.until(is_response(3)))[-1]["result"] == "LostLock"
    sky.star_lost = False
    await conn.until(is_event("GuideStep"))


async def test_simulator_lifecycle_is_explicit(sky: Sky) -> None:
    sim = Phd2Simulator(cadence_s=0.01, conditions=sky)
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.port
    async with sim:
        assert sim.state is SimulatorState.RUNNING and sim.port > 0
        with pytest.raises(RuntimeError, match="twice"):
            await sim.__aenter__()
    assert sim.state is SimulatorState.CLOSED
