from astroiqa_indi.agent._policy import Observation, replay
from astroiqa_indi.config import PolicySettings

G, T, V, S, B = "good", "bad_tracking", "very_bad_tracking", "bad_seeing", "background_issues"


def run(labels: list[str], settings: PolicySettings | None = None, dt: float = 60.0):  # type: ignore[no-untyped-def]
    history = [Observation(label, i * dt) for i, label in enumerate(labels)]
    return replay(history, settings or PolicySettings())


def test_two_of_three_very_bad_frames_pause_once() -> None:
    state, decisions = run([G, V, G, V, V, V])
    assert [d.pause for d in decisions] == [False, False, False, True, False, False]
    assert decisions[3].actions == ("alert", "pause_guiding")
    assert state.paused


def test_isolated_bad_frames_never_pause() -> None:
    state, decisions = run([G, V, G, G, B, G, G, V, G])
    assert not any(d.pause for d in decisions)
    assert not state.paused


def test_resume_needs_three_consecutive_good_frames() -> None:
    _, decisions = run([V, V, G, G, B, G, G, G, G])
    assert [i for i, d in enumerate(decisions) if d.pause] == [1]
    assert [i for i, d in enumerate(decisions) if d.resume] == [7]
    assert decisions[7].actions == ("alert", "pause_guiding")


def test_mixed_pause_labels_count_together() -> None:
    _, decisions = run([G, V, B])
    assert decisions[2].pause
    assert "background_issues / very_bad_tracking" in decisions[2].reason


def test_labels_outside_pause_labels_alert_but_do_not_pause() -> None:
    _, decisions = run([S, S, S])
    assert not any(d.pause for d in decisions)
    alerts = [a for d in decisions for a in d.alerts]
    assert [a.label for a in alerts] == [S]
    assert "2 of the last 2 frames are bad_seeing" in alerts[0].text


def test_alert_cooldown_per_label() -> None:
    settings = PolicySettings(alert_cooldown_s=300.0, pause_labels=("very_bad_tracking",))
    # Frames every 60 s: the bad_seeing alert may repeat only 5 frames later.
    _, decisions = run([S] * 9, settings)
    fired = [i for i, d in enumerate(decisions) if d.alerts]
    assert fired == [1, 6]


def test_no_alert_action_means_silent_pause() -> None:
    settings = PolicySettings(actions=("pause_sequence",))
    _, decisions = run([V, V], settings)
    assert decisions[1].pause and decisions[1].actions == ("pause_sequence",)
    assert decisions[1].alerts == ()


def test_window_of_one_pauses_on_first_bad_frame() -> None:
    settings = PolicySettings(window=1, pause_after=1, resume_after_good=1)
    _, decisions = run([G, B, B, G], settings)
    assert [(d.pause, d.resume) for d in decisions] == [
        (False, False),
        (True, False),
        (False, False),
        (False, True),
    ]
