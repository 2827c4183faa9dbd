"""Sky simulator: single telescope exposures with known truth, and the label rules.

>>> import numpy as np
>>> from simulators.sky import RIGS, conditions_for, render_frame, label_of
>>> rig = RIGS["seestar_s50"]
>>> rng = np.random.default_rng(1)
>>> cond = conditions_for("bad_tracking", rig, rng)
>>> array, header, truth = render_frame(rig, cond, rng, size=(256, 256))
>>> label_of(truth, rig)
('bad_tracking', True)

See docs/classes.md for the labels and docs/simulator.md for what is drawn.
"""

from ._conditions import Conditions
from ._dataset import CSV_COLUMNS, write_dataset
from ._labels import THRESHOLDS, Truth, label_of
from ._preview import write_preview
from ._render import render_frame
from ._rigs import RIGS, Rig, profile_yaml, random_rig
from ._sampling import conditions_for
from ._scenario import SCENARIO_DIR, Scenario, Segment, load_scenario

__all__ = [
    "CSV_COLUMNS",
    "RIGS",
    "SCENARIO_DIR",
    "THRESHOLDS",
    "Conditions",
    "Rig",
    "Scenario",
    "Segment",
    "Truth",
    "conditions_for",
    "label_of",
    "load_scenario",
    "profile_yaml",
    "random_rig",
    "render_frame",
    "write_dataset",
    "write_preview",
]
