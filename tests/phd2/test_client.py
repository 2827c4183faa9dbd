"""Our Phd2Client against the simulator (real TCP) and against replayed/broken PHD2 lines."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from astroiqa_indi.actions import (
    GuideStepEvent,
    GuidingDitheredEvent,
    LoopingExposuresEvent,
    PausedEvent,
    Phd2AppState,
    Phd2Client,
    Phd2ClientState,
    Phd2Event,
    Phd2EventStream,
    ResumedEvent,
    SettleParams,
    StarLostEvent,
)
from astroiqa_indi.errors import GuiderError
from simulators.phd2 import Phd2Simulator
from tests._servers import free_port
from tests.phd2 import _doc_examples as doc
from tests.phd2._fake import FakeConnection, FakePhd2
from tests.phd2._wire import WAIT_S, Sky

pytestmark = pytest.mark.network

QUICK = SettleParams(pixels=1.5, time=4, timeout=60)


def _client(port: int, **kwargs: Any) -> Phd2Client:
    options: dict[str, Any] = {"connect_timeout": 2.0, "request_timeout": 2.0}
    options.update(kwargs)
    return Phd2Client("127.0.0.1", port, **options)


async def _next(stream: Phd2EventStream, kind: type[Phd2Event]) -> Any:
    async with asyncio.timeout(WAIT_S):
        async for event in stream:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"stream ended before a {kind.__name__}")


async def _steps(stream: Phd2EventStream, n: int) -> list[GuideStepEvent]:
    return [await _next(stream, GuideStepEvent) for _ in range(n)]


# ------------------------------------------------------------ against the simulator
async def test_connect_reads_catch_up_and_pixel_scale(sim: Phd2Simulator) -> None:
    async with _client(sim.port) as phd2:
        assert phd2.state is Phd2ClientState.CONNECTED
        assert phd2.app_state is Phd2AppState.STOPPED
        assert phd2.version is not None and phd2.version.msg_version == 1
        assert phd2.pixel_scale == 1.5
        assert await phd2.get_connected() is True
        assert phd2.rms() is None
    assert phd2.state is Phd2ClientState.CLOSED


async def test_guide_waits_for_settle_done_and_tracks_state(sim: Phd2Simulator) -> None:
    async with _client(sim.port) as phd2:
        done = await phd2.guide(QUICK)
        assert done is not None and done.ok and done.total_frames >= 3
        assert await phd2.get_app_state() is Phd2AppState.GUIDING
        assert phd2.app_state is Phd2AppState.GUIDING


async def test_pause_and_resume(sim: Phd2Simulator) -> None:
    async with _client(sim.port) as phd2:
        await phd2.guide(QUICK)
        async with phd2.events() as stream:
            await phd2.pause()
            # PHD2 sends Paused before answering set_paused: already tracked on return.
            assert phd2.app_state is Phd2AppState.PAUSED
            assert isinstance(await _next(stream, PausedEvent), PausedEvent)
            assert await phd2.get_paused() is True
            assert sim.app_state.value == "Paused"
            await phd2.resume()
            assert isinstance(await _next(stream, ResumedEvent), ResumedEvent)
            assert phd2.app_state is Phd2AppState.GUIDING
            assert await phd2.get_paused() is False


async def test_full_pause_stops_exposures(sim: Phd2Simulator) -> None:
    async with _client(sim.port) as phd2:
        await phd2.guide(QUICK)
        await phd2.pause(full=True)
        assert await phd2.get_app_state() is Phd2AppState.PAUSED
        assert sim.engine.tick() == []  # a fully paused guider takes no frames
        await phd2.resume()


async def test_rms_follows_the_scenario(sim: Phd2Simulator, sky: Sky) -> None:
    async with _client(sim.port, rms_window=40) as phd2, phd2.events() as stream:
        await phd2.guide(QUICK)
        sky.rms_arcsec = 0.5
        await _steps(stream, 45)
        calm = phd2.rms()
        sky.rms_arcsec = 5.0
        await _steps(stream, 45)
        rough = phd2.rms()
    assert calm is not None and rough is not None
    assert calm.n_steps == rough.n_steps == 40
    assert calm.total_arcsec is not None and rough.total_arcsec is not None
    assert 0.25 < calm.total_arcsec < 0.9
    assert 3.0 < rough.total_arcsec < 7.5
    assert rough.ra_arcsec == pytest.approx(rough.ra_px * 1.5)


async def test_dither_reports_the_offset_and_settles(sim: Phd2Simulator) -> None:
    async with _client(sim.port) as phd2:
        await phd2.guide(QUICK)
        async with phd2.events() as stream:
            done = await phd2.dither(3.0, settle=SettleParams(pixels=1.5, time=2, timeout=60))
            dithered = await _next(stream, GuidingDitheredEvent)
        assert done is not None and done.ok
        assert abs(dithered.dx) <= 3.0 and abs(dithered.dy) <= 3.0


async def test_star_lost_event_and_lost_lock_state(sim: Phd2Simulator, sky: Sky) -> None:
    async with _client(sim.port) as phd2:
        await phd2.guide(QUICK)
        async with phd2.events() as stream:
            sky.star_lost = True
            lost = await _next(stream, StarLostEvent)
            assert lost.frame > 0
            assert phd2.app_state is Phd2AppState.LOST_LOCK
            sky.star_lost = False
            await _next(stream, GuideStepEvent)
            assert phd2.app_state is Phd2AppState.GUIDING


async def test_settle_failure_raises_guider_error(sim: Phd2Simulator, sky: Sky) -> None:
    async with _client(sim.port) as phd2:
        await phd2.guide(QUICK)
        sky.rms_arcsec = 40.0
        with pytest.raises(GuiderError, match="did not settle: timed-out"):
            await phd2.guide(SettleParams(pixels=0.2, time=10, timeout=6))


async def test_phd2_refusals_become_guider_errors_naming_the_method(sim: Phd2Simulator) -> None:
    async with _client(sim.port) as phd2:
        with pytest.raises(GuiderError, match=r"'dither': Dither error \(JSON-RPC error 1\)"):
            await phd2.dither(5.0)
        with pytest.raises(GuiderError, match=r"'no_such_method': method not found .*-32601"):
            await phd2.call("no_such_method")
        # The connection is still usable afterwards.
        assert await phd2.get_app_state() is Phd2AppState.STOPPED


async def test_loop_and_stop_capture(sim: Phd2Simulator) -> None:
    async with _client(sim.port) as phd2, phd2.events() as stream:
        await phd2.loop()
        await _next(stream, LoopingExposuresEvent)
        assert await phd2.get_app_state() is Phd2AppState.LOOPING
        await phd2.stop_capture()
        assert await phd2.get_app_state() is Phd2AppState.STOPPED


async def test_two_clients_see_the_same_events(sim: Phd2Simulator) -> None:
    async with _client(sim.port) as first, _client(sim.port) as second:
        async with second.events() as stream:
            await first.loop()
            await first.pause()
            assert isinstance(await _next(stream, PausedEvent), PausedEvent)
        assert second.app_state is Phd2AppState.PAUSED


async def test_reentry_and_use_after_close_raise_runtime_error(sim: Phd2Simulator) -> None:
    client = _client(sim.port)
    with pytest.raises(RuntimeError, match="inside 'async with"):
        await client.get_app_state()
    async with client:
        with pytest.raises(RuntimeError, match="entered twice"):
            await client.__aenter__()
    with pytest.raises(RuntimeError, match="closed"):
        await client.pause()
    with pytest.raises(RuntimeError, match="closed"):
        client.events()
    with pytest.raises(RuntimeError, match="entered twice"):
        async with client:
            pass


async def test_event_stream_ends_when_the_client_closes(sim: Phd2Simulator) -> None:
    async with _client(sim.port) as phd2:
        stream = phd2.events()
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


# ---------------------------------------------------- against replayed PHD2 lines
async def test_documented_exchanges_through_the_client() -> None:
    async def replay(request: dict[str, Any], conn: FakeConnection) -> None:
        if request["method"] == "get_exposure":
            await conn.answer(request, doc.GET_EXPOSURE_RESPONSE)
        elif request["params"] == [1500]:
            await conn.answer(request, doc.SET_EXPOSURE_RESPONSE)
        else:
            await conn.answer(request, doc.SET_EXPOSURE_ERROR_RESPONSE)

    async with FakePhd2(replay) as fake, _client(fake.port) as phd2:
        assert phd2.version is not None and phd2.version.phd_version == "2.0.4"
        assert phd2.pixel_scale is None  # PHD2 answered null: scale unknown
        assert await phd2.call("get_exposure") == 1000
        assert await phd2.call("set_exposure", [1500]) == 0
        with pytest.raises(GuiderError, match="could not set exposure duration"):
            await phd2.call("set_exposure", [1502])
    assert [r["method"] for r in fake.requests] == [
        "get_pixel_scale",
        "get_exposure",
        "set_exposure",
        "set_exposure",
    ]
    assert all(r["jsonrpc"] == "2.0" and isinstance(r["id"], int) for r in fake.requests)


async def test_pause_sends_the_documented_set_paused_request() -> None:
    async def ok(request: dict[str, Any], conn: FakeConnection) -> None:
        await conn.answer(request, doc.SET_EXPOSURE_RESPONSE)  # {"result": 0}

    async with FakePhd2(ok) as fake, _client(fake.port) as phd2:
        await phd2.pause(full=True)
        await phd2.pause()
    documented = json.loads(doc.SET_PAUSED_FULL_REQUEST)
    assert fake.requests[1]["params"] == documented["params"] == [True, "full"]
    assert fake.requests[2]["params"] == [True]


async def test_responses_are_matched_by_id_not_by_order() -> None:
    held: list[tuple[dict[str, Any], FakeConnection]] = []

    async def reverse(request: dict[str, Any], conn: FakeConnection) -> None:
        held.append((request, conn))
        if len(held) == 2:
            for req, c in reversed(held):
                await c.send(
                    json.dumps({"jsonrpc": "2.0", "result": req["method"], "id": req["id"]})
                )

    async with FakePhd2(reverse) as fake, _client(fake.port) as phd2:
        first, second = await asyncio.gather(phd2.call("get_app_state"), phd2.call("get_paused"))
    assert (first, second) == ("get_app_state", "get_paused")


async def test_events_before_the_answer_and_garbage_lines_are_handled() -> None:
    async def noisy(request: dict[str, Any], conn: FakeConnection) -> None:
        await conn.send(
            "this is not JSON",
            '{"Event":"Paused","Timestamp":1,"Host":"h","Inst":1}',
            json.dumps({"jsonrpc": "2.0", "result": 0, "id": request["id"]}),
        )

    async with FakePhd2(noisy) as fake, _client(fake.port) as phd2:
        await phd2.call("set_paused", [True])
        assert phd2.app_state is Phd2AppState.PAUSED
        assert phd2.protocol_errors == 1


async def test_silent_phd2_times_out_with_the_method_name() -> None:
    async def silent(request: dict[str, Any], conn: FakeConnection) -> None:
        return None

    async with FakePhd2(silent) as fake, _client(fake.port) as phd2:
        with pytest.raises(GuiderError, match=r"did not answer 'set_paused' within 0.2 s"):
            await phd2.call("set_paused", [True], timeout=0.2)
        # guide() answers within request_timeout too, before any settling.
        phd2.request_timeout = 0.2
        with pytest.raises(GuiderError, match=r"did not answer 'guide' within 0\.2 s"):
            await phd2.guide(QUICK)


async def test_guide_without_settle_done_times_out() -> None:
    async def accept(request: dict[str, Any], conn: FakeConnection) -> None:
        await conn.send(json.dumps({"jsonrpc": "2.0", "result": 0, "id": request["id"]}))

    async with FakePhd2(accept) as fake, _client(fake.port) as phd2:
        assert await phd2.guide(QUICK, wait=False) is None
        with pytest.raises(GuiderError, match=r"no SettleDone for 'guide' within 0\.2 s"):
            await phd2.guide(QUICK, timeout=0.2)


async def test_phd2_going_away_fails_requests_and_streams() -> None:
    async def hang_up(request: dict[str, Any], conn: FakeConnection) -> None:
        conn.close()

    async with FakePhd2(hang_up) as fake, _client(fake.port) as phd2:
        stream = phd2.events()
        with pytest.raises(GuiderError, match="closed the connection"):
            await phd2.get_app_state()
        assert phd2.state is Phd2ClientState.LOST
        with pytest.raises(GuiderError, match="closed the connection"):
            await stream.__anext__()
        with pytest.raises(GuiderError, match="no longer connected"):
            await phd2.resume()


async def test_unreachable_phd2_is_a_guider_error() -> None:
    with pytest.raises(GuiderError, match=r"cannot reach PHD2 at 127\.0\.0\.1"):
        async with _client(free_port()):
            pass


async def test_server_without_catch_up_events_is_a_guider_error() -> None:
    async with FakePhd2(greeting=[]) as fake:
        client = _client(fake.port, connect_timeout=0.3)
        with pytest.raises(GuiderError, match=r"no Version/AppState within 0\.3 s"):
            async with client:
                pass
        assert client.state is Phd2ClientState.CLOSED


async def test_many_pipelined_requests_are_all_answered(sim: Phd2Simulator) -> None:
    # More than the simulator buffers per client: answers must wait, never be dropped.
    async with _client(sim.port) as phd2:
        states = await asyncio.gather(*(phd2.get_app_state() for _ in range(1500)))
    assert set(states) == {Phd2AppState.STOPPED}


async def test_errors_inside_async_with_propagate_unchanged(sim: Phd2Simulator) -> None:
    with pytest.raises(GuiderError, match="method not found"):
        async with _client(sim.port) as phd2:
            await phd2.call("no_such_method")
    with pytest.raises(KeyError):
        async with Phd2Simulator(cadence_s=0.01):
            raise KeyError("not wrapped in an ExceptionGroup")


async def test_refused_pixel_scale_still_connects_with_rms_in_pixels() -> None:
    async def refuse(request: dict[str, Any], conn: FakeConnection) -> None:
        await conn.send(
            json.dumps(
                {"jsonrpc": "2.0", "error": {"code": -32601, "message": "x"}, "id": request["id"]}
            )
        )

    async with FakePhd2(refuse) as fake:
        fake.answers_pixel_scale = False
        async with _client(fake.port) as phd2:
            assert phd2.state is Phd2ClientState.CONNECTED and phd2.pixel_scale is None
