"""Profile sections about judging frames and reacting: quality limits and the policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from astroiqa_indi.config._check import check_range, check_unique, key_of, validate_fields
from astroiqa_indi.errors import ProfileError
from astroiqa_indi.labels import BAD_LABELS, LABELS, Label

__all__ = ["Action", "PolicySettings", "QualitySettings"]

Action = Literal["alert", "pause_guiding", "pause_sequence", "abort_exposure"]


@dataclass(frozen=True, slots=True, kw_only=True)
class QualitySettings:
    """Limits the grader compares measurements against.

    Attributes
    ----------
    max_fwhm_arcsec
        Largest acceptable median star FWHM, arcsec; 0.3..60 (wide-field lenses reach 20+).
    nominal_sky_adu
        Expected sky background, ADU (>= 0), or ``None`` when unknown.
    min_stars
        Fewer measured stars than this marks a verdict as not confident (>= 1), except
        an empty sky: no star and fewer detections than this is confidently
        ``background_issues``.
    bias_adu
        The camera's bias (offset) level, ADU (>= 0), or ``None`` when unknown. Sky
        level and gradient are judged above it; the median of a bias frame gives it.
    max_elongation
        Median star axis ratio (a/b, 1..3) this rig accepts, or ``None``. A frame the
        network calls ``bad_tracking`` whose stars measure no more than this gets the
        most probable of ``good``, ``bad_seeing`` and ``background_issues`` instead,
        confident only when the network's own probability for it is (a
        ``very_bad_tracking`` call is never tolerated). For mounts whose subs always
        show a little elongation, such as alt-az smart telescopes.
    min_transparency
        Star flux, as a fraction of this session's recent good frames of the same
        field and camera setup (0.05..1), below which a frame the network calls
        ``good`` becomes ``background_issues``; ``None``: frames are judged alone.
        One frame cannot tell a uniform thin cloud from a sparse field; the
        session's earlier frames can. Applied by the live agent and across the
        files of one batch run; :meth:`Grader.grade` judges a frame alone.
    """

    _SECTION: ClassVar[str] = "quality"
    _PATHS: ClassVar[tuple[str, ...]] = ()

    max_fwhm_arcsec: float = 4.0
    nominal_sky_adu: float | None = None
    min_stars: int = 8
    bias_adu: float | None = None
    max_elongation: float | None = None
    min_transparency: float | None = None

    def __post_init__(self) -> None:
        validate_fields(self)
        check_range(self, "max_fwhm_arcsec", ge=0.3, le=60)
        check_range(self, "nominal_sky_adu", ge=0)
        check_range(self, "min_stars", ge=1)
        check_range(self, "bias_adu", ge=0)
        check_range(self, "max_elongation", ge=1.0, le=3.0)
        check_range(self, "min_transparency", ge=0.05, le=1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySettings:
    """When verdicts turn into actions.

    Attributes
    ----------
    window
        Number of most recent frames the pause rule looks at; 1..1000.
    pause_after
        Frames with a label in ``pause_labels`` among the last ``window`` that
        trigger a pause; 1..window.
    pause_labels
        Bad labels that count towards a pause.
    alert_labels
        Bad labels that raise an alert.
    resume_after_good
        Consecutive good frames needed to resume after a pause; 1..1000.
    alert_cooldown_s
        Minimum seconds between two alerts about the same label; >= 0.
    actions
        What a pause does, among ``"alert"``, ``"pause_guiding"``,
        ``"pause_sequence"``, ``"abort_exposure"``; may be empty (observe only).

    Notes
    -----
    Labels must be bad labels of :data:`astroiqa_indi.labels.LABELS`: ``"good"``
    can neither pause nor alert. No label or action may be listed twice.
    """

    _SECTION: ClassVar[str] = "policy"
    _PATHS: ClassVar[tuple[str, ...]] = ()

    window: int = 3
    pause_after: int = 2
    pause_labels: tuple[Label, ...] = ("very_bad_tracking", "background_issues")
    alert_labels: tuple[Label, ...] = LABELS[1:]
    resume_after_good: int = 3
    alert_cooldown_s: float = 600.0
    actions: tuple[Action, ...] = ("alert", "pause_guiding")

    def __post_init__(self) -> None:
        validate_fields(self)
        check_range(self, "window", ge=1, le=1000)
        check_range(
            self, "pause_after", ge=1, le=self.window, what=f"1 <= value <= window ({self.window})"
        )
        for name in ("pause_labels", "alert_labels"):
            labels: tuple[str, ...] = getattr(self, name)
            for i, label in enumerate(labels):
                if label not in BAD_LABELS:
                    raise ProfileError(
                        f"{label!r} is not a bad label; expected one of "
                        + ", ".join(repr(bad) for bad in LABELS[1:]),
                        key=f"{key_of(self, name)}[{i}]",
                    )
            check_unique(self, name, labels)
        check_range(self, "resume_after_good", ge=1, le=1000)
        check_range(self, "alert_cooldown_s", ge=0)
        check_unique(self, "actions", self.actions)
