"""Frame decoding: bytes or files in, one float32 luminance plane out.

Supported: FITS (``.fits``/``.fit``/``.fts``, gzipped too), fpack (``.fits.fz``),
INDI's zlib-compressed BLOBs (``.fits.z``/``.z``) and XISF (``.xisf``, with the
optional ``xisf`` package). The first HDU holding a 2-D or 3-D image is used;
RGB cubes are averaged and Bayer mosaics folded into 2x2 super-pixels.

Every failure to decode is a :class:`~astroiqa_indi.errors.FrameError` naming the
source::

    frame = Frame.from_bytes(blob.data, blob.format, source=blob.name)
    frame = Frame.from_path("light_0001.fits", bayer="RGGB", pixel_scale_arcsec=1.2)
"""

from astroiqa_indi.frames._decode import read_header
from astroiqa_indi.frames._frame import Frame
from astroiqa_indi.frames._header import BAYER_PATTERNS, FrameKind, frame_kind, separation_deg

__all__ = ["BAYER_PATTERNS", "Frame", "FrameKind", "frame_kind", "read_header", "separation_deg"]
