"""The live session agent: grade each INDI exposure, apply the policy, act.

>>> agent = Agent(profile, grader=Grader.load(), out_dir=Path("session"))  # doctest: +SKIP
>>> summary = await agent.run()  # doctest: +SKIP
"""

from astroiqa_indi.agent._agent import Agent, AgentState, Notifier, SessionSummary
from astroiqa_indi.agent._journal import Journal
from astroiqa_indi.agent._policy import Alert, Decision, Observation, PolicyState, replay, step
from astroiqa_indi.agent._view import LiveView

__all__ = [
    "Agent",
    "AgentState",
    "Alert",
    "Decision",
    "Journal",
    "LiveView",
    "Notifier",
    "Observation",
    "PolicyState",
    "SessionSummary",
    "replay",
    "step",
]
