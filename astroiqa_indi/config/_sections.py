"""Profile sections about the observatory itself: INDI, optics, frames, sequence, agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from astroiqa_indi.config._check import check_range, validate_fields
from astroiqa_indi.errors import ProfileError

__all__ = [
    "AgentSettings",
    "Bayer",
    "FrameFlag",
    "FramesSettings",
    "IndiBackend",
    "IndiMode",
    "IndiSettings",
    "OpticsSettings",
    "SequenceSettings",
]

IndiMode = Literal["passive", "sequence"]
IndiBackend = Literal["native", "pyindi"]
Bayer = Literal["auto", "none", "RGGB", "GRBG", "GBRG", "BGGR"]
FrameFlag = Literal["none", "header", "sidecar", "move"]

# 206265 arcsec per radian, times 1e-3 because pixel size is in µm and focal length in mm.
_ARCSEC_PER_RAD_UM_PER_MM = 206.265
# How far an explicit pixel scale may stray from the one implied by focal length and pixel size.
_SCALE_TOLERANCE = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class IndiSettings:
    """Where the INDI server is and which camera to watch.

    Attributes
    ----------
    host, port
        INDI server address; port in 1..65535.
    local_socket
        Path of indiserver's local socket (``indiserver -u``; ``/tmp/indiserver``
        unless changed) when the agent runs on the same machine: frames then come as
        shared memory instead of base64 text over TCP, which saves the server encoding
        them (docs/benchmarks.md). ``host`` and ``port`` are then unused. Native
        backend only.
    ccd_device
        INDI device name of the camera, e.g. ``"CCD Simulator"``.
    blob_property
        BLOB vector carrying the frames (``"CCD1"`` for most drivers).
    mode
        ``"passive"``: grade frames another program (Ekos, ...) takes;
        ``"sequence"``: drive the exposures ourselves (see ``sequence``).
    backend
        ``"native"``: our own asyncio client; ``"pyindi"``: the third-party client adapter.
    connect_timeout_s
        Seconds to wait for the connection and the camera's properties; > 0.
    abort_on_bad
        Abort the running exposure when the policy pauses (sequence mode only).
    ping_interval_s
        Seconds between ``pingRequest`` keep-alives, or ``None``. Only INDI 2.x servers
        answer them (Debian 12's 1.9.9 does not, and would look dead): a server that
        stops answering is then reconnected to within two intervals, even when the
        link still carries TCP. Native backend only. Without it, the native backend's
        TCP keep-alive still notices a server that vanished, within about 90 s (the
        pyindi backend has neither).
    """

    _SECTION: ClassVar[str] = "indi"
    _PATHS: ClassVar[tuple[str, ...]] = ()

    host: str = "127.0.0.1"
    port: int = 7624
    local_socket: str | None = None
    ccd_device: str = "CCD Simulator"
    blob_property: str = "CCD1"
    mode: IndiMode = "passive"
    backend: IndiBackend = "native"
    connect_timeout_s: float = 10.0
    abort_on_bad: bool = False
    ping_interval_s: float | None = None

    def __post_init__(self) -> None:
        validate_fields(self)
        check_range(self, "port", ge=1, le=65535)
        check_range(self, "connect_timeout_s", gt=0)
        check_range(self, "ping_interval_s", gt=0)
        if self.ping_interval_s is not None and self.backend != "native":
            raise ProfileError(
                "pings are sent by the native backend only; set indi.backend: native "
                "or leave ping_interval_s out",
                key="indi.ping_interval_s",
            )
        if self.local_socket is not None:
            if not self.local_socket.strip():
                raise ProfileError(
                    "must be a path such as /tmp/indiserver, or left out",
                    key="indi.local_socket",
                )
            if self.backend != "native":
                raise ProfileError(
                    "the local socket is read by the native backend only; "
                    "set indi.backend: native or leave local_socket out",
                    key="indi.local_socket",
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class OpticsSettings:
    """Image scale and colour layout of the frames.

    Attributes
    ----------
    pixel_scale_arcsec
        Scale of the frames as they arrive (after binning), arcsec per pixel; > 0.
    focal_length_mm
        Effective focal length (with reducer/barlow), mm; > 0.
    pixel_size_um
        Unbinned pixel size, µm; > 0.
    binning
        Hardware binning factor, 1..8.
    bayer
        Colour filter array: ``"auto"`` reads the FITS ``BAYERPAT`` keyword,
        ``"none"`` means mono, otherwise the pattern to debayer with.

    Notes
    -----
    When ``pixel_scale_arcsec`` *and* both ``focal_length_mm`` and ``pixel_size_um``
    are given they must agree within 5 %: two inconsistent numbers in a profile
    are a typo waiting to skew every FWHM in arcsec.
    """

    _SECTION: ClassVar[str] = "optics"
    _PATHS: ClassVar[tuple[str, ...]] = ()

    pixel_scale_arcsec: float | None = None
    focal_length_mm: float | None = None
    pixel_size_um: float | None = None
    binning: int = 1
    bayer: Bayer = "auto"

    def __post_init__(self) -> None:
        validate_fields(self)
        for name in ("pixel_scale_arcsec", "focal_length_mm", "pixel_size_um"):
            check_range(self, name, gt=0)
        check_range(self, "binning", ge=1, le=8)
        given, derived = self.pixel_scale_arcsec, self._derived_scale()
        if given is not None and derived is not None:
            mismatch = abs(given - derived) / derived
            if mismatch > _SCALE_TOLERANCE:
                raise ProfileError(
                    f"{given:g} arcsec/px disagrees by {mismatch:.1%} (more than 5%) with "
                    f"206.265 * pixel_size_um ({self.pixel_size_um:g}) * binning "
                    f"({self.binning}) / focal_length_mm ({self.focal_length_mm:g}) "
                    f"= {derived:.3f} arcsec/px; give only one, or fix the other",
                    key="optics.pixel_scale_arcsec",
                )

    def _derived_scale(self) -> float | None:
        if self.focal_length_mm is None or self.pixel_size_um is None:
            return None
        return _ARCSEC_PER_RAD_UM_PER_MM * self.pixel_size_um * self.binning / self.focal_length_mm

    def pixel_scale(self) -> float | None:
        """Image scale of the frames, arcsec per (binned) pixel, or ``None`` if unknown.

        ``pixel_scale_arcsec`` when given, else
        ``206.265 * pixel_size_um * binning / focal_length_mm`` when both are given.
        """
        if self.pixel_scale_arcsec is not None:
            return self.pixel_scale_arcsec
        return self._derived_scale()


@dataclass(frozen=True, slots=True, kw_only=True)
class FramesSettings:
    """How graded frame files are flagged.

    Attributes
    ----------
    flag
        ``"none"``: leave files alone; ``"header"``: write the verdict as FITS keywords;
        ``"sidecar"``: write a sidecar file next to the frame; ``"move"``: move bad
        frames to ``reject_dir``.
    reject_dir
        Folder for rejected frames; required when ``flag`` is ``"move"``.
    keywords_in_place
        In header mode, edit the original file instead of writing ``<name>.iqa.fits``.
    """

    _SECTION: ClassVar[str] = "frames"
    _PATHS: ClassVar[tuple[str, ...]] = ("reject_dir",)

    flag: FrameFlag = "sidecar"
    reject_dir: str | None = None
    keywords_in_place: bool = False

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.flag == "move" and self.reject_dir is None:
            raise ProfileError(
                "required when frames.flag is 'move': the folder bad frames go to",
                key="frames.reject_dir",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceSettings:
    """Exposures to take in ``indi.mode: sequence``.

    Attributes
    ----------
    exposure_s
        Exposure time, seconds; > 0.
    count
        Number of exposures; 0 means until stopped.
    interval_s
        Pause between the end of one exposure and the start of the next, seconds; >= 0.
    """

    _SECTION: ClassVar[str] = "sequence"
    _PATHS: ClassVar[tuple[str, ...]] = ()

    exposure_s: float = 10.0
    count: int = 0
    interval_s: float = 0.0

    def __post_init__(self) -> None:
        validate_fields(self)
        check_range(self, "exposure_s", gt=0)
        check_range(self, "count", ge=0)
        check_range(self, "interval_s", ge=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSettings:
    """The live agent's journal and worker pool.

    Attributes
    ----------
    journal_dir
        Folder for the session journal (verdicts, events).
    workers
        Grading worker processes, 1..64.
    queue_size
        How many frames may wait to be graded; >= 1.
    live_view
        Show the live terminal view.
    """

    _SECTION: ClassVar[str] = "agent"
    _PATHS: ClassVar[tuple[str, ...]] = ("journal_dir",)

    journal_dir: str = "astroiqa-session"
    workers: int = 1
    queue_size: int = 8
    live_view: bool = True

    def __post_init__(self) -> None:
        validate_fields(self)
        check_range(self, "workers", ge=1, le=64)
        check_range(self, "queue_size", ge=1)
