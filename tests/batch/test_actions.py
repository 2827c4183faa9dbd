"""Acting on verdicts: moves (undoable), keywords, links, the Siril script."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from astropy.io import fits

from astroiqa_indi.actions import MANIFEST_NAME, undo_moves
from astroiqa_indi.batch import SCRIPT_NAME, link_frames, siril_script_text, write_siril
from astroiqa_indi.batch._actions import act_on_frame
from tests.batch.test_report import verdict


def _frames(folder: Path, *names: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, name in enumerate(names):
        path = folder / name
        fits.PrimaryHDU(data=[[i, i], [i, i]]).writeto(path)
        paths.append(path)
    return paths


def test_rejected_frames_move_without_overwriting_and_undo(tmp_path: Path) -> None:
    a = _frames(tmp_path / "n1", "light.fits")[0]
    b = _frames(tmp_path / "n2", "light.fits")[0]
    kept = _frames(tmp_path / "n2", "good.fits")[0]
    rejects = tmp_path / "rejected"
    contents = {p: p.read_bytes() for p in (a, b, kept)}
    moved = []
    for path, accepted in ((a, False), (b, False), (kept, True)):
        actions, errors = act_on_frame(
            path, verdict(), accepted=accepted, write_keywords=False, move_rejected=rejects
        )
        assert errors == []
        moved += actions
    assert moved == [f"moved:{rejects / 'light.fits'}", f"moved:{rejects / 'light_1.fits'}"]
    assert not a.exists() and not b.exists() and kept.exists()
    assert (rejects / "light.fits").read_bytes() == contents[a]
    assert (rejects / "light_1.fits").read_bytes() == contents[b]
    entries = [json.loads(line) for line in (rejects / MANIFEST_NAME).read_text().splitlines()]
    assert [e["from"] for e in entries] == [str(a), str(b)]
    undone = undo_moves(rejects / MANIFEST_NAME)
    assert len(undone.restored) == 2
    assert all(p.read_bytes() == c for p, c in contents.items())


def test_keywords_are_written_in_place_and_failures_recorded(tmp_path: Path) -> None:
    frame = _frames(tmp_path, "light.fits")[0]
    not_fits = tmp_path / "light.xisf"
    not_fits.write_bytes(b"XISF0100")
    actions, errors = act_on_frame(
        frame, verdict("bad_seeing"), accepted=False, write_keywords=True, move_rejected=None
    )
    assert (actions, errors) == (["keywords"], [])
    header = fits.getheader(frame)
    assert (header["IQACLASS"], header["IQAREJ"]) == ("bad_seeing", True)
    actions, errors = act_on_frame(
        not_fits, verdict(), accepted=True, write_keywords=True, move_rejected=None
    )
    assert actions == [] and len(errors) == 1 and errors[0].startswith("keywords:")
    assert not_fits.read_bytes() == b"XISF0100"


def test_links_mirror_the_accepted_frames(tmp_path: Path) -> None:
    a, b = _frames(tmp_path / "n1", "light.fits", "other.fits")
    c = _frames(tmp_path / "n2", "light.fits")[0]
    folder = tmp_path / "links"
    first = link_frames([a, c], folder)
    assert sorted(p.name for p in first.created) == ["light.fits", "light_1.fits"]
    assert {os.path.realpath(p) for p in folder.iterdir()} == {str(a), str(c)}
    (folder / "mine.txt").write_text("user file")
    again = link_frames([a, b, tmp_path / "gone.fits"], folder)
    assert [p.name for p in again.created] == ["other.fits"]
    assert [p.name for p in again.existing] == ["light.fits"]
    assert again.removed == (folder / "light_1.fits",)  # the link to c
    assert again.missing == (tmp_path / "gone.fits",)
    assert {os.path.realpath(p) for p in folder.iterdir() if p.is_symlink()} == {str(a), str(b)}
    assert (folder / "mine.txt").read_text() == "user file"
    assert a.exists() and c.exists(), "removing a link never touches the frame"


def test_links_to_frames_the_report_does_not_list_are_left_alone(tmp_path: Path) -> None:
    # One stacking folder for two nights graded with two reports, plus the user's own
    # link to a master dark: each run removes only the links to its own rejected frames.
    n1, rejected = _frames(tmp_path / "n1", "light.fits", "cloudy.fits")
    (n2,) = _frames(tmp_path / "n2", "light.fits")
    (dark,) = _frames(tmp_path / "calib", "master_dark.fits")
    folder = tmp_path / "stack"
    folder.mkdir()
    (folder / "master_dark.fits").symlink_to(dark)
    link_frames([n1, rejected], folder, known=[n1, rejected])
    second = link_frames([n2], folder, known=[n2])
    assert second.removed == ()
    again = link_frames([n1], folder, known=[n1, rejected])  # night 1 regraded
    assert [p.name for p in again.removed] == ["cloudy.fits"]
    assert {os.path.realpath(p) for p in folder.iterdir()} == {str(n1), str(n2), str(dark)}


@pytest.mark.parametrize("debayer", [False, True])
def test_siril_script_commands(debayer: bool) -> None:
    text = siril_script_text(n_frames=12, keep=["good"], debayer=debayer)
    commands = [line for line in text.splitlines() if line and not line.startswith("#")]
    convert = "convert light -out=../process" + (" -debayer" if debayer else "")
    assert commands == [
        "requires 1.2.0",
        "cd lights",
        convert,
        "cd ../process",
        "register light",
        "stack r_light rej 3 3 -norm=addscale -output_norm -out=../accepted_stack",
        "cd ..",
        "close",
    ]
    assert "12 frames graded good" in text


def test_write_siril_links_accepted_frames(tmp_path: Path) -> None:
    frames = _frames(tmp_path / "n", "a.fits", "b.fits")
    out = write_siril(tmp_path / "siril", frames, keep=["good"], bayer=["RGGB", None])
    assert out.script == tmp_path / "siril" / SCRIPT_NAME
    text = out.script.read_text()
    assert "-debayer" in text and "WARNING: colour and mono" in text
    assert sorted(p.name for p in (tmp_path / "siril" / "lights").iterdir()) == ["a.fits", "b.fits"]
    lonely = write_siril(tmp_path / "one", frames[:1], keep=["good"], bayer=[None])
    assert lonely.script is None, "registration needs two frames"
