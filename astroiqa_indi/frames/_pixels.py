"""Pixels to luminance: pure numpy, no I/O.

Every decoder ends here, so every frame gets the same treatment: one plane,
non-finite pixels patched, colour folded into luminance, float32, read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from astroiqa_indi.errors import FrameError

__all__ = ["Luminance", "storage_max", "to_luminance"]

_FLOAT32_MAX: Final = float(np.finfo(np.float32).max)
# Sample types float32 holds exactly (or already is): patch them in float32, half the memory.
_SMALL_TYPES: Final = frozenset("?bBhHef")


@dataclass(frozen=True, slots=True)
class Luminance:
    """Result of :func:`to_luminance`.

    Attributes
    ----------
    data
        2-D float32, C-contiguous, read-only.
    original_shape
        ``(height, width)`` of the plane before any 2x2 super-pixel binning, px.
    binned
        1, or 2 when a Bayer mosaic was folded into 2x2 super-pixels.
    nonfinite
        Input samples (all channels counted) that were NaN, +-inf or ``BLANK``.
    """

    data: np.ndarray
    original_shape: tuple[int, int]
    binned: int
    nonfinite: int


def storage_max(dtype: np.dtype, *, bscale: float = 1.0, bzero: float = 0.0) -> float | None:
    """Largest physical value an integer sample type can hold, ``None`` for floats.

    ``physical = stored * bscale + bzero``; e.g. FITS ``BITPIX = 16`` (int16) with
    ``BZERO = 32768`` gives 65535.
    """
    if dtype.kind not in "iu":
        return None
    info = np.iinfo(dtype)
    top = max(info.min * bscale + bzero, info.max * bscale + bzero)
    return float(top) if np.isfinite(top) and top > 0 else None


def _plane_layout(shape: tuple[int, ...], source: str) -> tuple[int | None, int | None]:
    """``(channel_axis, squeeze_axis)`` for a 2-D or 3-D sample array."""
    if len(shape) == 2:
        return None, None
    if len(shape) != 3:
        raise FrameError(f"{source}: image has {len(shape)} dimensions; expected 2 or 3")
    # FITS stores colour as NAXIS3 (numpy axis 0); XISF and PIL-style arrays put it last.
    # Three channels win over a length-1 axis: (1, W, 3) is one row of RGB pixels.
    if shape[0] == 3:
        return 0, None
    if shape[-1] == 3:
        return 2, None
    if shape[0] == 1:
        return None, 0
    if shape[-1] == 1:
        return None, 2
    raise FrameError(
        f"{source}: 3-D image of shape {shape} is neither one plane nor an RGB cube "
        "(3 x H x W or H x W x 3)"
    )


def to_luminance(
    samples: np.ndarray,
    *,
    mosaic: bool,
    blank: float | None = None,
    source: str,
) -> Luminance:
    """Fold a decoded sample array into one float32 luminance plane.

    Parameters
    ----------
    samples
        2-D plane, or 3-D cube (``3 x H x W``, ``H x W x 3``, or one plane with a
        length-1 axis), of any integer or float type, in physical units (ADU).
    mosaic
        The plane is a raw Bayer mosaic: replace each 2x2 cell by its mean. Any
        2x2 cell of a Bayer mosaic holds one red, two green and one blue pixel
        whatever the pattern's phase, so the pattern itself is not needed. An odd
        last row or column is cropped. Ignored for RGB cubes.
    blank
        Physical value that marks undefined samples (FITS ``BLANK`` of integer data).
    source
        Name used in error messages.

    Returns
    -------
    Luminance
        The plane; NaN/inf/``BLANK`` samples replaced by the median of the finite
        samples before any averaging. Values beyond float32's range are clipped.

    Raises
    ------
    FrameError
        Non-numeric samples, wrong dimensions, a zero-size image, no finite
        sample at all, or a mosaic smaller than one 2x2 cell.
    """
    array = np.asarray(samples)
    if array.dtype.kind not in "biuf":
        raise FrameError(f"{source}: unsupported pixel type {array.dtype}")
    channel_axis, squeeze_axis = _plane_layout(array.shape, source)
    if array.size == 0:
        raise FrameError(f"{source}: zero-size image (shape {array.shape})")
    if squeeze_axis is not None:
        array = array.squeeze(axis=squeeze_axis)

    work_type = np.float32 if array.dtype.char in _SMALL_TYPES else np.float64
    work = array.astype(work_type)  # always a fresh copy: the input is never touched
    # Integers are always finite: the full-frame scan, a large part of decoding a
    # 26 MP frame, is for floats only.
    bad: np.ndarray | None = None if array.dtype.kind in "biu" else ~np.isfinite(work)
    if blank is not None:
        # astropy turns BLANK pixels into NaN, except when BLANK is 0 (or data is uint16).
        bad = array == blank if bad is None else bad | (array == blank)
    nonfinite = 0 if bad is None else int(np.count_nonzero(bad))
    if nonfinite == work.size:
        raise FrameError(f"{source}: image has no finite pixel")
    if bad is not None and nonfinite:
        work[bad] = np.median(work[~bad])
    if work_type is np.float64:
        # Clip to what float32 can hold now, so that the float64 sums below stay finite.
        np.clip(work, -_FLOAT32_MAX, _FLOAT32_MAX, out=work)

    # Means accumulate in float64: four float32 values near 3e38 would overflow.
    if channel_axis is not None:
        work = work.mean(axis=channel_axis, dtype=np.float64)
    height, width = work.shape
    binned = 1
    if mosaic and channel_axis is None:
        half_h, half_w = height // 2, width // 2
        if half_h == 0 or half_w == 0:
            raise FrameError(f"{source}: {height}x{width} mosaic is smaller than one 2x2 cell")
        cells = work[: 2 * half_h, : 2 * half_w].reshape(half_h, 2, half_w, 2)
        work = cells.mean(axis=(1, 3), dtype=np.float64)
        binned = 2

    data = np.ascontiguousarray(work, dtype=np.float32)
    data.flags.writeable = False
    return Luminance(data=data, original_shape=(height, width), binned=binned, nonfinite=nonfinite)
