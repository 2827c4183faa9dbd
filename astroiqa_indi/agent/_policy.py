"""The pause/resume/alert policy: a pure fold over the verdict history.

``step(state, observation, settings)`` returns the next state and what to do;
``replay(history, settings)`` folds a whole history. No clock, no I/O: the
agent supplies each frame's time, so sequences can be tested by hand.

Rules
-----
* **Pause** when at least ``pause_after`` of the last ``window`` frames carry a
  label from ``pause_labels``. The decision lists the profile's ``actions``.
* **Resume** after ``resume_after_good`` consecutive ``good`` frames while paused.
* **Alert** about a label from ``alert_labels`` when it appears in at least
  ``pause_after`` of the last ``window`` frames (one bad frame never wakes a
  phone), at most once per ``alert_cooldown_s`` per label. Pausing and resuming
  always alert when ``"alert"`` is among the actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from astroiqa_indi.config import Action, PolicySettings

__all__ = ["Alert", "Decision", "Observation", "PolicyState", "replay", "step"]


@dataclass(frozen=True, slots=True)
class Observation:
    """One graded frame as the policy sees it: its label and when it landed (s)."""

    label: str
    time_s: float


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a person should hear about."""

    label: str
    text: str
    severity: str  # "info" | "warning" | "critical"


@dataclass(frozen=True, slots=True)
class PolicyState:
    """What the policy remembers between frames."""

    recent: tuple[str, ...] = ()
    paused: bool = False
    good_streak: int = 0
    last_alert_s: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Decision:
    """What the agent must do after one frame."""

    pause: bool = False
    resume: bool = False
    actions: tuple[Action, ...] = ()
    alerts: tuple[Alert, ...] = ()
    reason: str = ""


def _cooled(state: PolicyState, label: str, now: float, cooldown: float) -> bool:
    last = state.last_alert_s.get(label)
    return last is None or now - last >= cooldown


def step(
    state: PolicyState, obs: Observation, settings: PolicySettings
) -> tuple[PolicyState, Decision]:
    """Advance the policy by one frame."""
    recent = (*state.recent, obs.label)[-settings.window :]
    good_streak = state.good_streak + 1 if obs.label == "good" else 0
    alerts: list[Alert] = []
    last_alert = dict(state.last_alert_s)
    wants_alert = "alert" in settings.actions or not settings.actions

    for label in settings.alert_labels:
        count = recent.count(label)
        if (
            count >= settings.pause_after
            and obs.label == label
            and _cooled(state, label, obs.time_s, settings.alert_cooldown_s)
        ):
            alerts.append(
                Alert(label, f"{count} of the last {len(recent)} frames are {label}", "warning")
            )
            last_alert[label] = obs.time_s

    pause = resume = False
    reason = ""
    paused = state.paused
    if not paused:
        bad = [label for label in recent if label in settings.pause_labels]
        if len(bad) >= settings.pause_after:
            pause = paused = True
            worst = max(set(bad), key=bad.count)
            reason = (
                f"{len(bad)} of the last {len(recent)} frames are {' / '.join(sorted(set(bad)))}"
            )
            if wants_alert:
                alerts.append(Alert(worst, f"pausing: {reason}", "critical"))
            good_streak = 0
    elif good_streak >= settings.resume_after_good:
        resume, paused = True, False
        reason = f"{good_streak} consecutive good frames"
        if wants_alert:
            alerts.append(Alert("good", f"resuming: {reason}", "info"))

    actions: tuple[Action, ...] = settings.actions if (pause or resume) else ()
    if not wants_alert:
        alerts = []
    new_state = replace(
        state,
        recent=recent,
        paused=paused,
        good_streak=good_streak,
        last_alert_s=MappingProxyType(last_alert),
    )
    return new_state, Decision(
        pause=pause, resume=resume, actions=actions, alerts=tuple(alerts), reason=reason
    )


def replay(
    history: Iterable[Observation], settings: PolicySettings
) -> tuple[PolicyState, list[Decision]]:
    """Fold a whole history; returns the final state and one decision per frame."""
    state = PolicyState()
    decisions = []
    for obs in history:
        state, decision = step(state, obs, settings)
        decisions.append(decision)
    return state, decisions
