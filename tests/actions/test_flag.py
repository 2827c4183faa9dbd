"""Frame flagging on real temporary files: header keywords, sidecars, moves and undo."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astroiqa_indi.actions import (
    MANIFEST_NAME,
    FlagResult,
    _flag,
    flag_frame,
    numbered_name,
    undo_moves,
)
from astroiqa_indi.config import FramesSettings
from astroiqa_indi.errors import FrameError
from astroiqa_indi.grading import FrameMetrics, Verdict

HEADER = FramesSettings(flag="header")
IN_PLACE = FramesSettings(flag="header", keywords_in_place=True)
SIDECAR = FramesSettings(flag="sidecar")
NONE = FramesSettings(flag="none")


def _verdict(*, fwhm_arcsec: float | None = 4.8, eccentricity: float | None = 0.62) -> Verdict:
    return Verdict(
        label="bad_tracking",
        probabilities={"bad_tracking": 0.8, "good": 0.15, "bad_seeing": 0.05},
        metrics=FrameMetrics(
            n_sources=12, n_stars=9, fwhm_px=3.2, fwhm_arcsec=fwhm_arcsec, eccentricity=eccentricity
        ),
        reasons=("stars elongated along one axis",),
        model_version="som-cnn-1",
    )


def _pixels() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 65535, (24, 32), dtype=np.uint16)


def _write(path: Path, layout: str = "primary", *, checksum: bool = False) -> Path:
    data = _pixels()
    if layout == "primary":
        hdus = fits.HDUList([fits.PrimaryHDU(data)])
        hdus[0].header["OBJECT"] = "M 31"
    elif layout == "extension":
        hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, name="SCI")])
    else:
        hdus = fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)])
    hdus.writeto(path, checksum=checksum)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _image_index(path: Path) -> int:
    return 0 if path.name.endswith((".fits", ".fit")) and "ext" not in path.name else 1


def _data_tail(path: Path, index: int) -> bytes:
    """Every byte from the start of HDU ``index``'s data unit to the end of the file."""
    with fits.open(path) as hdul:
        start = hdul.fileinfo(index)["datLoc"]
    return path.read_bytes()[start:]


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# ------------------------------------------------------------------ header mode
@pytest.mark.parametrize(
    ("name", "layout", "index"),
    [
        ("light.fits", "primary", 0),
        ("light.fit", "primary", 0),
        ("light_ext.fits", "extension", 1),
        ("light.fits.fz", "compressed", 1),
    ],
)
def test_header_copy_adds_keywords_and_keeps_every_data_byte(
    tmp_path: Path, name: str, layout: str, index: int
) -> None:
    source = _write(tmp_path / name, layout)
    before = _digest(source)
    result = flag_frame(source, _verdict(), HEADER, rejected=True, model_version="som-cnn-1")
    suffix = ".fits.fz" if name.endswith(".fz") else Path(name).suffix
    assert result == FlagResult(
        source=source, action="header", written=tmp_path / (name[: -len(suffix)] + ".iqa" + suffix)
    )
    assert _digest(source) == before  # the original is untouched
    assert _data_tail(result.written, index) == _data_tail(source, index)  # type: ignore[arg-type]
    with fits.open(result.written) as hdul:
        header = hdul[index].header
        assert header["IQACLASS"] == "bad_tracking"
        assert header["IQAPROB"] == 0.8
        assert header["IQAFWHM"] == 4.8 and "arcsec" in header.comments["IQAFWHM"]
        assert header["IQAECC"] == 0.62
        assert header["IQAREJ"] is True
        assert header["IQAVER"] == "som-cnn-1"
        assert any("IQACLASS=bad_tracking" in h for h in header["HISTORY"])
        np.testing.assert_array_equal(hdul[index].data, _pixels())
    assert _listing(tmp_path) == {name, result.written.name}  # type: ignore[union-attr]


def test_header_in_place_replaces_the_file_atomically_and_keeps_data(tmp_path: Path) -> None:
    source = _write(tmp_path / "light.fits")
    source.chmod(0o640)
    tail = _data_tail(source, 0)
    inode = source.stat().st_ino
    result = flag_frame(source, _verdict(), IN_PLACE, rejected=False, model_version="v2")
    assert result.written == source
    assert source.stat().st_ino != inode  # a new file renamed over the old one
    assert source.stat().st_mode & 0o777 == 0o640
    assert _data_tail(source, 0) == tail
    with fits.open(source) as hdul:
        assert hdul[0].header["IQAREJ"] is False and hdul[0].header["OBJECT"] == "M 31"
    assert _listing(tmp_path) == {"light.fits"}


def test_flagging_twice_replaces_the_keywords_instead_of_repeating_them(tmp_path: Path) -> None:
    source = _write(tmp_path / "light.fits")
    flag_frame(source, _verdict(), IN_PLACE, rejected=True, model_version="v1")
    flag_frame(source, _verdict(fwhm_arcsec=None), IN_PLACE, rejected=True, model_version="v2")
    with fits.open(source) as hdul:
        header = hdul[0].header
        cards = [card.keyword for card in header.cards]
    assert cards.count("IQACLASS") == cards.count("IQAVER") == 1
    assert header["IQAVER"] == "v2"
    assert header["IQAFWHM"] == 3.2 and "px" in header.comments["IQAFWHM"]  # no arcsec: pixels
    assert len(header["HISTORY"]) == 2  # history accumulates


def test_missing_metrics_leave_their_keywords_out(tmp_path: Path) -> None:
    source = _write(tmp_path / "light.fits")
    verdict = Verdict(
        label="background_issues",
        probabilities={"background_issues": 1.0},
        metrics=FrameMetrics(n_sources=0, n_stars=0),
    )
    result = flag_frame(source, verdict, HEADER, rejected=True, model_version="rules")
    with fits.open(result.written) as hdul:
        assert "IQAFWHM" not in hdul[0].header and "IQAECC" not in hdul[0].header
        assert hdul[0].header["IQAPROB"] == 1.0


def test_stale_checksum_is_dropped_and_datasum_still_verifies(tmp_path: Path) -> None:
    source = _write(tmp_path / "light.fits", checksum=True)
    result = flag_frame(source, _verdict(), HEADER, rejected=True, model_version="v")
    # filterwarnings=error: a checksum mismatch warning would fail this test.
    with fits.open(result.written, checksum=True) as hdul:
        assert "CHECKSUM" not in hdul[0].header and "DATASUM" in hdul[0].header


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"SIMPLE  = T"),
        ("garbage.fits", b"this is not a FITS file at all" * 100),
        ("truncated.fits", b"SIMPLE  =                    T" + b" " * 50),
        ("noend.fits", (b"SIMPLE  =                    T".ljust(80) * 36)),
    ],
)
def test_non_fits_files_raise_frame_error_and_leave_nothing(
    tmp_path: Path, name: str, content: bytes
) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    with pytest.raises(FrameError, match=name.replace(".", r"\.")):
        flag_frame(source, _verdict(), HEADER, rejected=True, model_version="v")
    assert _listing(tmp_path) == {name}
    assert source.read_bytes() == content


def test_missing_frame_is_a_frame_error(tmp_path: Path) -> None:
    with pytest.raises(FrameError, match="no such file"):
        flag_frame(tmp_path / "gone.fits", _verdict(), SIDECAR, rejected=False, model_version="v")


def test_failure_while_writing_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _write(tmp_path / "light.fits")
    before = _digest(source)

    def disk_full(stream, edit, header, out) -> None:  # type: ignore[no-untyped-def]
        out.write(header[:1000])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_flag, "write_with_header", disk_full)
    for settings_ in (HEADER, IN_PLACE):
        with pytest.raises(FrameError, match="No space left on device"):
            flag_frame(source, _verdict(), settings_, rejected=True, model_version="v")
        assert _listing(tmp_path) == {"light.fits"}
        assert _digest(source) == before


def test_unwritable_folder_is_a_frame_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The suite may run as root, which ignores a chmod'ed folder: inject the refusal.
    source = _write(tmp_path / "light.fits")

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    for settings_ in (HEADER, SIDECAR):
        with pytest.raises(FrameError, match="Permission denied") as info:
            flag_frame(source, _verdict(), settings_, rejected=True, model_version="v")
        assert isinstance(info.value.__cause__, PermissionError)
    assert _listing(tmp_path) == {"light.fits"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_a_frame_error(tmp_path: Path) -> None:
    source = _write(tmp_path / "light.fits")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(FrameError):
            flag_frame(source, _verdict(), HEADER, rejected=True, model_version="v")
    finally:
        tmp_path.chmod(0o755)
    assert _listing(tmp_path) == {"light.fits"}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    dtype=st.sampled_from([np.uint8, np.int16, np.int32, np.float32, np.float64]),
    shape=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    extra=st.dictionaries(
        st.from_regex(r"[A-Z][A-Z0-9]{0,7}", fullmatch=True).filter(
            lambda k: (
                not k.startswith(("NAXIS", "IQA", "BITPIX", "SIMPLE", "EXTEND"))
                and k not in {"END", "BSCALE", "BZERO", "BLANK", "COMMENT", "HISTORY", "CONTINUE"}
            )
        ),
        # FITS ignores trailing blanks in strings, so generate none.
        st.integers(-1000, 1000) | st.text(alphabet="abcxyz -", max_size=40).map(str.rstrip),
        max_size=40,
    ),
    seed=st.integers(0, 2**16),
)
def test_any_image_keeps_its_bytes_and_gains_keywords(
    tmp_path_factory: pytest.TempPathFactory,
    dtype,
    shape,
    extra,
    seed,  # type: ignore[no-untyped-def]
) -> None:
    folder = tmp_path_factory.mktemp("prop")
    data = (np.random.default_rng(seed).random(shape) * 100).astype(dtype)
    hdu = fits.PrimaryHDU(data)
    for key, value in extra.items():
        hdu.header[key] = value
    source = folder / "frame.fits"
    hdu.writeto(source)
    result = flag_frame(source, _verdict(), HEADER, rejected=False, model_version="p")
    assert result.written is not None
    assert _data_tail(result.written, 0) == _data_tail(source, 0)
    with fits.open(result.written) as hdul:
        assert hdul[0].header["IQACLASS"] == "bad_tracking"
        for key, value in extra.items():
            assert hdul[0].header[key] == value
        np.testing.assert_array_equal(hdul[0].data, data)


# ----------------------------------------------------------------- sidecar mode
def test_sidecar_holds_the_verdict_payload(tmp_path: Path) -> None:
    source = _write(tmp_path / "light.fits")
    before = _digest(source)
    verdict = _verdict()
    result = flag_frame(source, verdict, SIDECAR, rejected=True, model_version="som-cnn-2")
    assert result.written == tmp_path / "light.fits.iqa.json"
    payload = json.loads(result.written.read_text())
    expected = {**verdict.to_dict(), "model_version": "som-cnn-2", "rejected": True}
    assert payload == json.loads(json.dumps(expected))
    assert _digest(source) == before
    assert _listing(tmp_path) == {"light.fits", "light.fits.iqa.json"}


def test_sidecar_works_for_any_file_type(tmp_path: Path) -> None:
    source = tmp_path / "light.xisf"
    source.write_bytes(b"XISF0100")
    result = flag_frame(source, _verdict(), SIDECAR, rejected=False, model_version="v")
    assert (
        result.written is not None and json.loads(result.written.read_text())["rejected"] is False
    )


def test_none_mode_touches_nothing(tmp_path: Path) -> None:
    source = _write(tmp_path / "light.fits")
    before = _digest(source)
    assert flag_frame(source, _verdict(), NONE, rejected=True, model_version="v") == FlagResult(
        source=source, action="none"
    )
    assert _listing(tmp_path) == {"light.fits"} and _digest(source) == before


# -------------------------------------------------------------------- move mode
def _move(reject: Path | str) -> FramesSettings:
    return FramesSettings(flag="move", reject_dir=str(reject))


def test_kept_frames_do_not_move(tmp_path: Path) -> None:
    source = _write(tmp_path / "light.fits")
    result = flag_frame(
        source, _verdict(), _move(tmp_path / "rej"), rejected=False, model_version="v"
    )
    assert result.action == "kept" and source.exists() and not (tmp_path / "rej").exists()


def test_rejected_frames_move_without_overwriting_and_are_recorded(tmp_path: Path) -> None:
    reject = tmp_path / "rejected"
    night1, night2 = tmp_path / "n1", tmp_path / "n2"
    night1.mkdir()
    night2.mkdir()
    a = _write(night1 / "light.fits")
    b = night2 / "light.fits"
    b.write_bytes(b"second frame with the same name")
    digest_a = _digest(a)
    first = flag_frame(a, _verdict(), _move(reject), rejected=True, model_version="v")
    second = flag_frame(b, _verdict(), _move(reject), rejected=True, model_version="v")
    assert (first.action, first.written) == ("moved", reject / "light.fits")
    assert second.written == reject / "light_1.fits"
    assert not a.exists() and not b.exists()
    assert _digest(reject / "light.fits") == digest_a
    assert (reject / "light_1.fits").read_bytes() == b"second frame with the same name"
    lines = [json.loads(line) for line in (reject / MANIFEST_NAME).read_text().splitlines()]
    assert [(e["from"], e["to"], e["label"]) for e in lines] == [
        (str(a), str(reject / "light.fits"), "bad_tracking"),
        (str(b), str(reject / "light_1.fits"), "bad_tracking"),
    ]
    assert all(e["time"].endswith("+00:00") for e in lines)
    assert first.manifest == reject / MANIFEST_NAME


def test_compound_suffix_is_kept_when_numbering(tmp_path: Path) -> None:
    reject = tmp_path / "rej"
    reject.mkdir()
    (reject / "light.fits.fz").write_bytes(b"already there")
    source = _write(tmp_path / "light.fits.fz", "compressed")
    result = flag_frame(source, _verdict(), _move(reject), rejected=True, model_version="v")
    assert result.written == reject / "light_1.fits.fz"
    assert (reject / "light.fits.fz").read_bytes() == b"already there"


@pytest.mark.parametrize(
    ("name", "numbered"),
    [
        ("light.fits.gz", "light_2.fits.gz"),
        ("light.fits.z", "light_2.fits.z"),
        ("light.FIT.FZ", "light_2.FIT.FZ"),
        ("light.xisf", "light_2.xisf"),
        (".fits.gz", ".fits_2.gz"),  # no stem: only the last suffix is one
    ],
)
def test_numbered_names_keep_the_whole_frame_suffix(name: str, numbered: str) -> None:
    assert numbered_name(name, 0) == name
    assert numbered_name(name, 2) == numbered


@pytest.mark.parametrize("cross_device", [False, True])
def test_a_move_whose_unlink_fails_leaves_no_second_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cross_device: bool
) -> None:
    # A lights folder the user cannot write (a read-only share): the new name, a hard
    # link or a verified copy, is taken back, and the frame stays where it was.
    (tmp_path / "lights").mkdir()
    source = _write(tmp_path / "lights" / "light.fits")
    digest = _digest(source)
    real_unlink = Path.unlink

    def refused(path: Path, missing_ok: bool = False) -> None:
        if path == source:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refused)
    if cross_device:
        monkeypatch.setattr(
            _flag.os, "link", lambda s, d: (_ for _ in ()).throw(OSError(errno.EXDEV, "xdev"))
        )
    with pytest.raises(FrameError, match="Permission denied"):
        flag_frame(source, _verdict(), _move(tmp_path / "rej"), rejected=True, model_version="v")
    assert _digest(source) == digest and os.stat(source).st_nlink == 1
    assert _listing(tmp_path / "rej") == set()


def test_a_rejected_link_moves_as_a_link_to_the_same_frame(tmp_path: Path) -> None:
    # A lights folder of links into an archive: the link leaves the folder, the frame
    # stays in the archive, and the moved link still reaches it.
    (tmp_path / "archive").mkdir()
    frame = _write(tmp_path / "archive" / "frame_0001.fits")
    digest = _digest(frame)
    lights = tmp_path / "lights"
    lights.mkdir()
    link = lights / "light_0001.fits"
    link.symlink_to(os.path.relpath(frame, lights))
    result = flag_frame(link, _verdict(), _move("rejected"), rejected=True, model_version="v")
    moved = lights / "rejected" / "light_0001.fits"
    assert result.written == moved
    assert not os.path.lexists(link)
    assert moved.is_symlink() and moved.resolve() == frame.resolve()
    assert _digest(frame) == digest
    undone = undo_moves(lights / "rejected" / MANIFEST_NAME)
    assert undone.restored == ((moved, link),)
    assert link.resolve() == frame.resolve() and not os.path.lexists(moved)


def test_relative_reject_dir_is_next_to_the_frame(tmp_path: Path) -> None:
    source = _write(tmp_path / "light.fits")
    result = flag_frame(source, _verdict(), _move("rejected"), rejected=True, model_version="v")
    assert result.written == tmp_path / "rejected" / "light.fits"


def test_move_across_devices_copies_verifies_then_unlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _write(tmp_path / "light.fits")
    digest = _digest(source)

    def cross_device(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(_flag.os, "link", cross_device)
    result = flag_frame(
        source, _verdict(), _move(tmp_path / "rej"), rejected=True, model_version="v"
    )
    assert not source.exists() and _digest(result.written) == digest  # type: ignore[arg-type]


def test_failed_copy_verification_keeps_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _write(tmp_path / "light.fits")
    digest = _digest(source)
    monkeypatch.setattr(
        _flag.os, "link", lambda s, d: (_ for _ in ()).throw(OSError(errno.EXDEV, "cross-device"))
    )
    real = _flag._sha256
    monkeypatch.setattr(
        _flag, "_sha256", lambda p: real(p) if p == source else (0, "corrupted copy")
    )
    with pytest.raises(FrameError, match="does not match; original kept"):
        flag_frame(source, _verdict(), _move(tmp_path / "rej"), rejected=True, model_version="v")
    assert _digest(source) == digest
    assert _listing(tmp_path / "rej") == set()  # the bad copy is gone, no manifest entry


def test_file_systems_without_hard_links_fall_back_to_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _write(tmp_path / "light.fits")
    reject = tmp_path / "rej"
    reject.mkdir()
    (reject / "light.fits").write_bytes(b"taken")

    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(_flag.os, "link", no_links)
    result = flag_frame(source, _verdict(), _move(reject), rejected=True, model_version="v")
    assert result.written == reject / "light_1.fits"
    assert (reject / "light.fits").read_bytes() == b"taken"


def test_real_cross_device_move_when_available(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system to move across")
    source = _write(tmp_path / "light.fits")
    digest = _digest(source)
    reject = shm / f"astroiqa-test-{os.getpid()}-{tmp_path.name}"
    try:
        result = flag_frame(source, _verdict(), _move(reject), rejected=True, model_version="v")
        assert not source.exists() and _digest(result.written) == digest  # type: ignore[arg-type]
        undo = undo_moves(reject / MANIFEST_NAME)
        assert undo.restored == ((reject / "light.fits", source),)
        assert _digest(source) == digest
    finally:
        for leftover in reject.glob("*"):
            leftover.unlink()
        reject.rmdir()


def test_move_without_reject_dir_is_a_value_error(tmp_path: Path) -> None:
    class Loose:
        flag = "move"
        reject_dir = None
        keywords_in_place = False

    source = _write(tmp_path / "light.fits")
    with pytest.raises(ValueError, match="reject_dir"):
        flag_frame(source, _verdict(), Loose(), rejected=True, model_version="v")
    Loose.flag = "shred"
    with pytest.raises(ValueError, match=r"unknown frames\.flag 'shred'"):
        flag_frame(source, _verdict(), Loose(), rejected=True, model_version="v")
    assert source.exists()


# ------------------------------------------------------------------------- undo
def test_undo_restores_every_move_and_is_idempotent(tmp_path: Path) -> None:
    reject = tmp_path / "rej"
    frames = [_write(tmp_path / f"light_{i:03d}.fits") for i in range(3)]
    digests = [_digest(f) for f in frames]
    for frame in frames:
        flag_frame(frame, _verdict(), _move(reject), rejected=True, model_version="v")
    manifest = reject / MANIFEST_NAME
    undo = undo_moves(manifest)
    assert [orig for _moved, orig in undo.restored] == frames[::-1]  # newest first
    assert [_digest(f) for f in frames] == digests
    again = undo_moves(manifest)
    assert again.restored == () and len(again.skipped) == 3
    assert manifest.exists()  # kept, never deleted


def test_undo_never_overwrites_a_retaken_path(tmp_path: Path) -> None:
    reject = tmp_path / "rej"
    source = _write(tmp_path / "light.fits")
    flag_frame(source, _verdict(), _move(reject), rejected=True, model_version="v")
    source.write_bytes(b"a new frame under the old name")
    manifest = reject / MANIFEST_NAME
    with manifest.open("a") as out:
        out.write("this line is not JSON\n")
    undo = undo_moves(manifest)
    assert undo.restored == ()
    reasons = [reason for _line, reason in undo.skipped]
    assert reasons[0] == "not a manifest entry" and "not overwriting" in reasons[1]
    assert source.read_bytes() == b"a new frame under the old name"
    assert (reject / "light.fits").exists()


def test_missing_manifest_is_a_frame_error(tmp_path: Path) -> None:
    with pytest.raises(FrameError, match="move manifest"):
        undo_moves(tmp_path / MANIFEST_NAME)


def test_in_place_edits_the_target_of_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    target = _write(tmp_path / "store" / "light.fits")
    link = tmp_path / "light.fits"
    link.symlink_to(target)
    result = flag_frame(link, _verdict(), IN_PLACE, rejected=False, model_version="v")
    assert link.is_symlink() and result.written == target
    with fits.open(target) as hdul:
        assert hdul[0].header["IQACLASS"] == "bad_tracking"


def test_in_place_keywords_leave_a_read_only_frame_as_it_is(tmp_path: Path) -> None:
    # The folder is writable, so a temporary file and a rename would replace it: a
    # frame made read-only (chmod 444) is one its owner wants untouched, even by root.
    source = _write(tmp_path / "light.fits")
    source.chmod(0o444)
    digest = _digest(source)
    with pytest.raises(FrameError, match="read-only"):
        flag_frame(source, _verdict(), IN_PLACE, rejected=False, model_version="v")
    assert _digest(source) == digest and source.stat().st_mode & 0o777 == 0o444
    # A copy beside it is still allowed.
    copied = flag_frame(
        source, _verdict(), FramesSettings(flag="header"), rejected=False, model_version="v"
    )
    assert copied.written is not None and copied.written != source
