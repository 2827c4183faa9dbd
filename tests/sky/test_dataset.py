"""write_dataset, the `simulate frames` / `simulate preview` CLI, determinism."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits

from astroiqa_indi.cli import main
from astroiqa_indi.labels import LABELS
from simulators.sky import CSV_COLUMNS, RIGS, Truth, write_dataset, write_preview


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ds")
    code = main(
        [
            "simulate",
            "frames",
            "--out",
            str(out),
            "--per-class",
            "2",
            "--seed",
            "5",
            "--rigs",
            "seestar_s50,newton200_kaf8300",
            "--size",
            "160x128",
        ]
    )
    assert code == 0
    return out


def test_layout_and_labels_csv(dataset: Path) -> None:
    with (dataset / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {"file", "label", "label_clear", "rig", "seed"} <= set(CSV_COLUMNS)
    assert set(Truth.__dataclass_fields__) <= set(CSV_COLUMNS)
    assert len(rows) == 10
    assert sorted(r["label"] for r in rows) == sorted(list(LABELS) * 2)
    assert all(r["label_clear"] == "1" for r in rows)
    assert {r["rig"] for r in rows} == {"seestar_s50", "newton200_kaf8300"}
    for r in rows:
        path = dataset / r["file"]
        assert path.is_file()
        assert r["label"] not in path.name
        with fits.open(path) as hdul:
            assert hdul[0].data.shape == (128, 160)
            assert hdul[0].header["INSTRUME"] == RIGS[r["rig"]].instrument


def test_profiles_written_for_every_rig_used(dataset: Path) -> None:
    names = sorted(p.stem for p in (dataset / "profiles").glob("*.yaml"))
    assert names == ["newton200_kaf8300", "seestar_s50"]
    data = yaml.safe_load((dataset / "profiles" / "seestar_s50.yaml").read_text())
    assert data["optics"]["bayer"] == "GRBG"
    assert data["quality"]["max_fwhm_arcsec"] == RIGS["seestar_s50"].max_fwhm_arcsec


def test_uint16_frames_use_bzero(dataset: Path) -> None:
    raw = (dataset / "frames" / "frame_000000.fits").read_bytes()[:2880].decode()
    assert "BITPIX  =                   16" in raw
    assert "BZERO   =                32768" in raw


def test_same_seed_same_bytes_with_workers(tmp_path: Path) -> None:
    kwargs = {"per_class": 1, "seed": 11, "random_rigs": True, "boundary": True, "size": (96, 64)}
    a = write_dataset(tmp_path / "a", **kwargs)  # type: ignore[arg-type]
    b = write_dataset(tmp_path / "b", workers=2, **kwargs)  # type: ignore[arg-type]
    assert _digest(a) == _digest(b)
    c = write_dataset(tmp_path / "c", **{**kwargs, "seed": 12})  # type: ignore[arg-type]
    assert _digest(a)["labels.csv"] != _digest(c)["labels.csv"]
    with (a / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["rig"].startswith("random-") for r in rows)
    assert len(list((a / "profiles").glob("random-*.yaml"))) == len({r["rig"] for r in rows})


def test_fewest_stars_draws_sparser_fields_of_every_label() -> None:
    from simulators.sky import conditions_for
    from simulators.sky._sampling import predict_truth

    rig = RIGS["refractor80_asi2600mm"]
    for label in LABELS:
        default = [conditions_for(label, rig, np.random.default_rng(i)) for i in range(50)]
        sparse = [
            conditions_for(label, rig, np.random.default_rng(i), fewest_stars=30) for i in range(50)
        ]
        assert min(c.n_stars for c in default) >= 100
        assert min(c.n_stars for c in sparse) >= 30
        assert any(c.n_stars < 100 for c in sparse), label
    # A sparse good frame may have as few as 6 detectable stars, never fewer.
    counts = [
        predict_truth(c, rig, gradient=0.0).n_detectable
        for c in (
            conditions_for("good", rig, np.random.default_rng(i), fewest_stars=30)
            for i in range(40)
        )
    ]
    assert min(counts) >= 6
    with pytest.raises(ValueError, match="fewest_stars"):
        conditions_for("good", rig, np.random.default_rng(0), fewest_stars=0)


def test_boundary_sets_hold_ambiguous_frames(tmp_path: Path) -> None:
    out = write_dataset(
        tmp_path, per_class=4, seed=2, boundary=True, size=(64, 64), rigs=["refractor80_asi2600mm"]
    )
    with (out / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    clear = [r["label_clear"] for r in rows]
    assert "0" in clear and "1" in clear


def test_preview_png(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "sheet.png"
    assert main(["simulate", "preview", str(dataset), "--out", str(out), "--per-label", "2"]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    img = imread(out)
    assert img.shape[0] > 200 and img.shape[1] > 200
    assert np.ptp(img[..., 0]) > 0.5  # not blank
    assert write_preview(dataset, tmp_path / "b.png") == tmp_path / "b.png"


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(
            [
                "simulate",
                "frames",
                "--out",
                str(tmp_path),
                "--per-class",
                "1",
                "--seed",
                "1",
                "--size",
                "12x12",
            ]
        )
    with pytest.raises(SystemExit):
        main(
            [
                "simulate",
                "frames",
                "--out",
                str(tmp_path),
                "--per-class",
                "1",
                "--seed",
                "1",
                "--rigs",
                "no_such_rig",
            ]
        )
    assert main(["simulate"]) == 2
