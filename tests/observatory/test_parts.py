"""The observatory's parts on their own: binning, the scenario clock, options, life cycles."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import simulators.observatory as observatory_api
from simulators.observatory import (
    Observatory,
    ObservatoryConfig,
    ScenarioPlayer,
    SkyFields,
    bin_image,
    sidereal_trail_px,
)
from simulators.observatory._frames import next_upload_path
from simulators.observatory._options import add_config_arguments, config_from_args
from simulators.observatory._outbox import Outbox, OutboxState
from simulators.sky import RIGS, Conditions, load_scenario
from tests.observatory.conftest import CCD

NIGHT = Path(__file__).parents[2] / "simulators" / "scenarios" / "night-with-faults.yaml"


def test_public_api_is_complete() -> None:
    # Every name in __all__ resolves, and each is defined where the package says.
    for name in observatory_api.__all__:
        value = getattr(observatory_api, name)
        module = getattr(value, "__module__", None)
        assert module is None or module.startswith("simulators.observatory."), name
    assert sorted(observatory_api._HOMES) == sorted(observatory_api.__all__)
    with pytest.raises(AttributeError):
        _ = observatory_api.Nothing


def test_bin_image_sums_blocks_and_saturates_like_a_camera() -> None:
    image = np.array([[1, 2, 3, 4, 9], [5, 6, 7, 8, 9], [9, 9, 9, 9, 9]], dtype=np.uint16)
    assert_array_equal(bin_image(image, 2, 2), [[14, 22]])  # edge row/column dropped
    bright = np.full((2, 2), 40000, dtype=np.uint16)
    assert bin_image(bright, 2, 2).tolist() == [[65535]]
    floats = np.ones((4, 4), dtype=np.float32)
    assert bin_image(floats, 4, 1).dtype == np.float32
    assert bin_image(floats, 4, 1).tolist() == [[4.0]] * 4


def test_sidereal_trail() -> None:
    # 15.041 arcsec/s for 10 s at the equator on 1.5"/px is 100.27 px; half at 60 degrees.
    assert sidereal_trail_px(10, 0, 1.5) == pytest.approx(100.273, rel=1e-4)
    assert sidereal_trail_px(10, 60, 1.5) == pytest.approx(50.137, rel=1e-4)
    with pytest.raises(ValueError, match="pixel_scale"):
        sidereal_trail_px(10, 0, 0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_scenario_clock_overrides_last_until_the_next_segment() -> None:
    clock = FakeClock()
    player = ScenarioPlayer(
        RIGS["refractor80_asi2600mm"], scenario=load_scenario(NIGHT), time_scale=2.0, clock=clock
    )
    clock.now += 5  # 10 simulated seconds into "clear" (0-60 s)
    assert player.now().segment == "clear"
    assert player.seconds_to_next_change() == pytest.approx(25.0, abs=0.02)
    player.override({"TRANSPARENCY": 0.3})
    moment = player.now()
    assert moment.overridden and moment.conditions.transparency == 0.3
    player.pause()
    clock.now += 100
    assert player.elapsed_s() == pytest.approx(10.0) and player.seconds_to_next_change() is None
    player.play()
    clock.now += 30  # t = 70 s: "periodic-error" has begun, the override is gone
    moment = player.now()
    assert moment.segment == "periodic-error" and not moment.overridden
    assert moment.conditions.transparency != 0.3
    player.seek(240.0)
    assert player.now().segment == "clear-again"
    with pytest.raises(ValueError, match="unknown element"):
        player.override({"CLOUDS": 1.0})
    with pytest.raises(ValueError, match="transparency"):
        player.override({"TRANSPARENCY": 1.5})


def test_driver_options_come_from_the_environment() -> None:
    parser = argparse.ArgumentParser()
    env = {
        "ASTROIQA_SIM_SIZE": "320x240",
        "ASTROIQA_SIM_TIME_SCALE": "5",
        "ASTROIQA_SIM_SCENARIO": "night.yaml",
        "ASTROIQA_SIM_AUTO_CONNECT": "yes",
        "ASTROIQA_SIM_CCD_NAME": "Cam",
    }
    add_config_arguments(parser, env=env)
    config = config_from_args(parser.parse_args([]))
    assert (config.size, config.time_scale, config.scenario) == (
        (320, 240),
        5.0,
        Path("night.yaml"),
    )
    assert (
        config.auto_connect and config.ccd_name == "Cam" and config.mount_name == "AstroIQA Mount"
    )
    flags = config_from_args(parser.parse_args(["--size", "64x64", "--time-scale", "2"]))
    assert (flags.size, flags.time_scale) == ((64, 64), 2.0)
    with pytest.raises(SystemExit):
        parser.parse_args(["--size", "big"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ccd_name": "X", "mount_name": "X"},
        {"size": (8, 8)},
        {"time_scale": 0.0},
        {"seed": -1},
    ],
)
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ObservatoryConfig(**kwargs)  # type: ignore[arg-type]


async def test_observatory_is_entered_once() -> None:
    observatory = Observatory(ObservatoryConfig(size=(32, 32)))
    with pytest.raises(RuntimeError, match="inside 'async with'"):
        _ = observatory.ccd
    async with observatory:
        assert observatory.ccd.name == CCD
    with pytest.raises(RuntimeError, match="entered once"):
        await observatory.__aenter__()


class _StalledWriter:
    """A stream whose peer never reads: drain() blocks until the transport is aborted."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.aborted = asyncio.Event()
        self.transport = self

    def write(self, data: bytes) -> None:
        self.written.append(data)

    async def drain(self) -> None:
        await self.aborted.wait()
        raise ConnectionResetError("connection lost")

    def is_closing(self) -> bool:
        return self.aborted.is_set()

    def abort(self) -> None:
        self.aborted.set()

    def close(self) -> None:
        self.aborted.set()


async def test_a_stalled_reader_is_cut_loose_not_waited_for() -> None:
    writer = _StalledWriter()
    outbox = Outbox(writer, name="stalled", limit=30)  # type: ignore[arg-type]
    async with asyncio.TaskGroup() as group:
        task = group.create_task(outbox.run())
        outbox.put(b"a" * 20)
        await asyncio.sleep(0)  # run() writes it and blocks in drain()
        outbox.put(b"b" * 20)
        assert outbox.pending == 20 and not writer.aborted.is_set()
        outbox.put(b"c" * 20)  # 40 bytes waiting > 30: the peer counts as stalled
        assert outbox.overflowed and writer.aborted.is_set()
        outbox.put(b"d")  # ignored from now on
    assert task.done() and outbox.state is OutboxState.CLOSED
    assert writer.written == [b"a" * 20]


def test_local_uploads_take_the_next_free_index(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "dir"
    first = next_upload_path(folder, "IMAGE_XXX", ".fits")
    assert first == folder / "IMAGE_001.fits"
    first.write_bytes(b"")
    (folder / "IMAGE_002.fits.fz").write_bytes(b"")  # another format does not count
    assert next_upload_path(folder, "IMAGE_XXX", ".fits") == folder / "IMAGE_002.fits"
    assert next_upload_path(folder, "M31", ".fits") == folder / "M31.fits"


def test_the_sky_passed_during_a_slew_is_not_remembered_as_a_field() -> None:
    fields = SkyFields(0.5)
    start = Conditions(exposure_s=60.0, seeing_fwhm_arcsec=2.0, field_seed=11, n_stars=1000)
    assert fields.conditions_at(start, 5.0, 10.0) == start  # the scenario's own field
    # Exposing while slewing over other sky: a field of its own, smeared, forgotten...
    passing = fields.conditions_at(start, 5.5, 10.0, remember=False)
    assert passing.field_seed != start.field_seed
    assert fields.index_at(5.5, 10.0, remember=False) == 1
    # ...so the field where the slew ends is the second one, wherever that is.
    assert fields.index_at(6.0, 10.0) == 1
    assert fields.index_at(5.0, 10.0 + 0.2) == 0  # within half the field of the first
    assert fields.index_at(5.5, 10.0, remember=False) == 2
