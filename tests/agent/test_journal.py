"""The session journal on a disk that fills up."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from astroiqa_indi.agent._journal import Journal


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_a_full_disk_is_counted_not_raised() -> None:
    # /dev/full answers every write with ENOSPC, as a full observatory disk does.
    with Journal(Path("/dev/full")) as journal:
        journal.event("start", text="watching")
        journal.event("pause", text="3 of the last 5 frames are bad_tracking")
        assert (journal.lines, journal.write_errors) == (0, 2)


def test_the_line_after_a_failed_write_starts_on_a_line_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.jsonl"
    real_write = os.write
    calls = 0

    def half_then_full(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second line: half of it lands, then the disk is full
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    with Journal(path) as journal:
        monkeypatch.setattr(os, "write", half_then_full)
        journal.event("one", text="a")
        journal.event("two", text="b")  # torn
        journal.event("three", text="c")
        monkeypatch.undo()
    lines = path.read_text().splitlines()
    parsed = [json.loads(line)["event"] for line in lines if line.endswith("}")]
    assert parsed == ["one", "three"] and len(lines) == 3
    assert (journal.lines, journal.write_errors) == (2, 1)
