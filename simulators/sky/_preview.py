"""``write_preview``: an asinh-stretched contact sheet of a dataset, one row per label.

Each frame gets two panels: the whole frame binned down (clouds, gradients,
trails across the field) and the central 160 x 160 pixels at full resolution
(star shapes). Bayer frames are shown as 2x2 superpixels.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from astroiqa_indi.labels import LABELS

__all__ = ["stretch", "write_preview"]

_CROP = 160
_THUMB = 160


def _load(path: Path) -> NDArray[np.float32]:
    from astropy.io import fits

    with fits.open(path) as hdul:
        data = np.asarray(hdul[0].data, dtype=np.float32)
        bayer = hdul[0].header.get("BAYERPAT")
    if bayer:
        h, w = data.shape
        data = data[: h - h % 2, : w - w % 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    return data


def stretch(
    image: NDArray[np.floating], *, ref: NDArray[np.floating] | None = None
) -> NDArray[np.float32]:
    """Asinh stretch to 0..1: sky at ~0.1, noise visible, bright stars not clipped hard.

    ``ref`` (default: ``image``) sets the sky level and noise.
    """
    ref = image if ref is None else ref
    sky = float(np.median(ref))
    noise = 1.4826 * float(np.median(np.abs(ref - sky))) or 1.0
    x = (image - sky) / noise
    y = np.arcsinh(x / 3.0) / np.arcsinh(3000.0)
    return np.clip(y + 0.1, 0, 1).astype(np.float32)


def _thumb(image: NDArray[np.float32]) -> NDArray[np.float32]:
    h, w = image.shape
    k = max(1, int(np.ceil(max(h, w) / _THUMB)))
    hh, ww = h - h % k, w - w % k
    return image[:hh, :ww].reshape(hh // k, k, ww // k, k).mean(axis=(1, 3))


def _crop(image: NDArray[np.float32]) -> NDArray[np.float32]:
    h, w = image.shape
    y0 = max(0, h // 2 - _CROP // 2)
    x0 = max(0, w // 2 - _CROP // 2)
    return image[y0 : y0 + _CROP, x0 : x0 + _CROP]


def write_preview(dataset_dir: str | Path, out_png: str | Path, *, per_label: int = 6) -> Path:
    """Write a PNG contact sheet of ``dataset_dir`` (made by ``write_dataset``).

    Parameters
    ----------
    dataset_dir
        Folder holding ``labels.csv`` and ``frames/``.
    out_png
        Output PNG path.
    per_label
        Frames shown per label (clear frames first, in file order).

    Returns
    -------
    pathlib.Path
        ``out_png``.
    """
    from matplotlib.figure import Figure

    root = Path(dataset_dir)
    with (root / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    picked: dict[str, list[dict[str, str]]] = {}
    for label in LABELS:
        mine = [r for r in rows if r["label"] == label]
        mine.sort(key=lambda r: r["label_clear"] != "1")
        picked[label] = mine[:per_label]
    cols = max(1, max(len(v) for v in picked.values()))
    fig = Figure(figsize=(0.3 + 2 * cols * 1.3, len(LABELS) * 1.5), dpi=110)
    grid = fig.add_gridspec(
        len(LABELS),
        2 * cols,
        wspace=0.04,
        hspace=0.3,
        left=0.3 / (0.3 + 2 * cols * 1.3),
        right=0.995,
        top=0.96,
        bottom=0.01,
    )
    for i, label in enumerate(LABELS):
        for j in range(cols):
            for k in range(2):
                ax = fig.add_subplot(grid[i, 2 * j + k])
                ax.set_axis_off()
                if j >= len(picked[label]):
                    continue
                row = picked[label][j]
                img = _load(root / row["file"])
                panel = _thumb(img) if k == 0 else _crop(img)
                ax.imshow(
                    stretch(panel, ref=img), cmap="gray", vmin=0, vmax=1, interpolation="nearest"
                )
                if k == 0:
                    title = f"{row['rig'][:14]} L/F={float(row['trail_over_fwhm']):.1f}"
                    ax.set_title(title, fontsize=5, loc="left")
                else:
                    clear = "" if row["label_clear"] == "1" else " (ambig.)"
                    fwhm, trans = float(row["fwhm_px"]), float(row["transparency"])
                    ax.set_title(
                        f"F={fwhm:.1f}px T={trans:.2f}{clear}",
                        fontsize=5,
                        loc="left",
                    )
        box = grid[i, 0].get_position(fig)
        fig.text(0.002, (box.y0 + box.y1) / 2, label, rotation=90, va="center", fontsize=7)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", metadata={"Software": None})
    return out
