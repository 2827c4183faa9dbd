"""Transparency against the session: thin cloud that one frame cannot show.

A uniform thin cloud only dims the stars, which a single frame cannot tell from a
sparse field (docs/model-card.md, known limits). The frames taken minutes earlier of
the same field, with the same camera setup, can: :class:`TransparencyReference`
keeps a session's recent good verdicts per setup, compares the fluxes of their
brightest stars rank by rank (:class:`~astroiqa_indi.grading.BrightStars`), and
:meth:`TransparencyReference.judge` turns a ``good`` verdict whose stars are much
fainter than that into ``background_issues``. Pure and immutable, like the policy:
the caller keeps the newest reference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from astroiqa_indi.frames import Frame
from astroiqa_indi.frames._header import header_pointing, separation_deg
from astroiqa_indi.grading._verdict import BrightStars, Verdict

__all__ = [
    "CameraSetup",
    "RememberedFrame",
    "TransparencyReference",
    "camera_setup",
    "relative_flux",
]

_MIN_RANKS = 3
_SETUP_KEYWORDS = ("FILTER", "XBINNING", "GAIN", "OFFSET", "OBJECT")
# Dithers move a field by a few per cent of its width; a slew to another target
# or the next mosaic panel moves it by most of a width.
_SAME_FIELD_FRACTION = 0.25
# Without a pixel scale the field's size is unknown: the limit for a narrow field.
_SAME_FIELD_DEG = 0.1
# Fields remembered per setup, each with its own window (a night's targets or panels).
_MAX_FIELDS = 8
_MAX_SETUPS = 16
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class CameraSetup:
    """What must match for two frames' star fluxes to be compared.

    Attributes
    ----------
    key
        Exposure time, filter, binning, gain, offset and target (``OBJECT``), from
        the header where it states them, e.g. ``"300s FILTER=Ha XBINNING=2"``.
    pointing
        ``(ra_deg, dec_deg)`` the header gives for the frame, or ``None``.
    field_deg
        The frame's shorter side on the sky, degrees, or ``None`` without a pixel scale.
    """

    key: str
    pointing: tuple[float, float] | None = None
    field_deg: float | None = None

    def same_field(self, other: CameraSetup) -> bool:
        """Whether ``other`` points at this field: within a quarter of the field's
        width (0.1 deg when neither knows its width). Frames that do not state where
        they point are taken to be of the same field."""
        if self.pointing is None or other.pointing is None:
            return True
        widths = [w for w in (self.field_deg, other.field_deg) if w is not None]
        limit = _SAME_FIELD_FRACTION * min(widths) if widths else _SAME_FIELD_DEG
        return separation_deg(self.pointing, other.pointing) <= limit


def camera_setup(frame: Frame) -> CameraSetup:
    """The frame's :class:`CameraSetup`: its exposure, filter, binning, gain, offset
    and ``OBJECT`` keywords, and where it points (``RA``/``DEC``, ``OBJCTRA``/
    ``OBJCTDEC`` or a celestial WCS). A slew to another field changes the pointing
    even when ``OBJECT`` stays the same or is absent."""
    parts = [f"{frame.exposure_s:g}s" if frame.exposure_s else "?s"]
    for key in _SETUP_KEYWORDS:
        value = frame.header.get(key)
        if value is not None and str(value).strip():
            parts.append(f"{key}={str(value).strip()}")
    field_deg = None
    if frame.pixel_scale_arcsec is not None:
        field_deg = min(frame.data.shape) * frame.pixel_scale_arcsec / 3600.0
    return CameraSetup(" ".join(parts), header_pointing(frame.header), field_deg)


@dataclass(frozen=True, slots=True)
class RememberedFrame:
    """What a :class:`TransparencyReference` keeps of a good frame.

    Attributes
    ----------
    setup
        The frame's :class:`CameraSetup` (its pointing tells fields apart).
    bright_stars
        Its brightest detections.
    n_sources
        How many sources it detected (which ranks are measured well).
    """

    setup: CameraSetup
    bright_stars: BrightStars
    n_sources: int

    @classmethod
    def of(cls, verdict: Verdict, setup: CameraSetup) -> RememberedFrame:
        return cls(setup, verdict.bright_stars, verdict.metrics.n_sources)


def _stars(frame: Verdict | RememberedFrame) -> tuple[BrightStars, int]:
    if isinstance(frame, RememberedFrame):
        return frame.bright_stars, frame.n_sources
    return frame.bright_stars, frame.metrics.n_sources


def relative_flux(frame: Verdict, reference: Verdict | RememberedFrame) -> float | None:
    """How bright ``frame``'s stars are against the same field in ``reference``.

    The median flux ratio over the ranks both frames measure well: unsaturated in
    both, and in the brighter half of each frame's detections (near its threshold a
    frame misses some stars, which would shift the ranks). ``None`` with fewer than
    :data:`_MIN_RANKS` such ranks.
    """
    (a, a_sources), (b, b_sources) = _stars(frame), _stars(reference)
    usable = min(len(a), len(b), a_sources // 2, b_sources // 2)
    ratios = [
        a.flux[k] / b.flux[k]
        for k in range(usable)
        if not (a.saturated[k] or b.saturated[k]) and b.flux[k] > 0
    ]
    if len(ratios) < _MIN_RANKS:
        return None
    return float(np.median(ratios))


@dataclass(frozen=True, slots=True, kw_only=True)
class TransparencyReference:
    """A session's recent good frames per camera setup, for measuring transparency.

    Attributes
    ----------
    window
        Good frames remembered per field of a setup (the newest).
    min_frames
        Good frames a setup needs before frames are judged against it.
    percentile
        A frame's transparency is this percentile of its flux ratios to the
        remembered frames: 10 measures it against the brightest of them, so that
        a cloud thickening slowly over many frames is still compared with clear
        sky, not with itself.
    history
        Remembered good frames per :attr:`CameraSetup.key`, oldest first. Every
        field of a setup keeps its newest ``window`` frames; a setup keeps at most
        eight windows' worth (the oldest frames go first), and the reference at most
        16 setups (the one unused longest goes first).
    """

    window: int = 20
    min_frames: int = 3
    percentile: float = 10.0
    history: Mapping[str, tuple[RememberedFrame, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def __post_init__(self) -> None:
        if self.window < 1 or not 1 <= self.min_frames <= self.window:
            raise ValueError("need window >= 1 and 1 <= min_frames <= window")
        if not 0 <= self.percentile <= 100:
            raise ValueError("percentile must be within 0..100")
        object.__setattr__(self, "history", MappingProxyType(dict(self.history)))

    def transparency(self, verdict: Verdict, setup: CameraSetup) -> float | None:
        """The frame's star flux against the good frames of this setup and field, or
        ``None`` before :attr:`min_frames` of them or without enough stars to compare."""
        ratios = [
            r
            for ref in self.history.get(setup.key, ())
            if ref.setup.same_field(setup) and (r := relative_flux(verdict, ref)) is not None
        ]
        if len(ratios) < self.min_frames:
            return None
        return float(np.percentile(ratios, self.percentile))

    def judge(self, verdict: Verdict, setup: CameraSetup, *, min_transparency: float) -> Verdict:
        """``verdict`` with its measured :attr:`Verdict.transparency`, and labelled
        ``background_issues`` when its good-looking stars are too faint.

        Only ``good`` verdicts are measured: the stars of the other labels are
        trailed or bloated past the apertures, and the label already says the frame
        is bad. The probabilities stay as the network gave them; a changed label's
        first reason gives the measured ratio.
        """
        if verdict.label != "good":
            return verdict
        ratio = self.transparency(verdict, setup)
        if ratio is None:
            return verdict
        if ratio >= min_transparency:
            return dataclasses.replace(verdict, transparency=ratio)
        reason = (
            f"stars at {ratio:.2f} of their flux in this session's recent good frames "
            f"(same field and setup; the profile's min_transparency is "
            f"{min_transparency:.2f}): thin cloud, haze or dew"
        )
        return dataclasses.replace(
            verdict,
            label="background_issues",
            reasons=(reason, *verdict.reasons),
            transparency=ratio,
        )

    def step(
        self, verdict: Verdict, setup: CameraSetup, *, min_transparency: float
    ) -> tuple[TransparencyReference, Verdict]:
        """:meth:`judge` the next frame of a session, then :meth:`record` it: the
        newest reference and the frame's verdict."""
        verdict = self.judge(verdict, setup, min_transparency=min_transparency)
        return self.record(verdict, setup), verdict

    def record(self, verdict: Verdict, setup: CameraSetup) -> TransparencyReference:
        """The reference with ``verdict`` remembered, if it is a good frame with stars."""
        if verdict.label != "good" or not verdict.bright_stars:
            return self
        history = dict(self.history)
        remembered = [*history.pop(setup.key, ()), RememberedFrame.of(verdict, setup)]
        # Each field keeps its own newest `window` frames, so that targets or mosaic
        # panels taken in turn do not push each other out of the reference. A frame
        # that does not say where it points shares a window with its like only: one
        # such frame must not count as every field at once.
        if setup.pointing is None:
            same = [i for i, ref in enumerate(remembered) if ref.setup.pointing is None]
        else:
            same = [
                i
                for i, ref in enumerate(remembered)
                if ref.setup.pointing is not None and ref.setup.same_field(setup)
            ]
        forgotten = set(same[: -self.window])
        kept = [ref for i, ref in enumerate(remembered) if i not in forgotten]
        history[setup.key] = tuple(kept[-self.window * _MAX_FIELDS :])
        # Newest setup last; the one unused longest goes first.
        for key in list(history)[:-_MAX_SETUPS]:
            del history[key]
        return dataclasses.replace(self, history=MappingProxyType(history))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for carrying the reference across runs (:meth:`from_dict`)."""
        return {
            "format": _FORMAT,
            "window": self.window,
            "min_frames": self.min_frames,
            "percentile": self.percentile,
            "history": {
                key: [
                    {
                        "key": ref.setup.key,
                        "pointing": list(ref.setup.pointing) if ref.setup.pointing else None,
                        "field_deg": ref.setup.field_deg,
                        "n_sources": ref.n_sources,
                        **ref.bright_stars.to_dict(),
                    }
                    for ref in entries
                ]
                for key, entries in self.history.items()
            },
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> TransparencyReference:
        """Rebuild a reference from :meth:`to_dict`.

        Raises
        ------
        ValueError
            ``payload`` is not a reference this version wrote.
        """
        try:
            if payload["format"] != _FORMAT:
                raise ValueError(f"not a transparency reference of format {_FORMAT}")
            history = {}
            for key, entries in payload["history"].items():
                remembered = []
                for entry in entries:
                    pointing = entry["pointing"]
                    setup = CameraSetup(
                        str(entry["key"]),
                        (float(pointing[0]), float(pointing[1])) if pointing else None,
                        None if entry["field_deg"] is None else float(entry["field_deg"]),
                    )
                    stars = BrightStars(tuple(entry["flux"]), tuple(entry["saturated"]))
                    remembered.append(RememberedFrame(setup, stars, int(entry["n_sources"])))
                history[str(key)] = tuple(remembered)
            return cls(
                window=int(payload["window"]),
                min_frames=int(payload["min_frames"]),
                percentile=float(payload["percentile"]),
                history=history,
            )
        except (KeyError, TypeError, IndexError, AttributeError, OverflowError, ValueError) as exc:
            raise ValueError(f"not a transparency reference: {exc!r}") from exc
