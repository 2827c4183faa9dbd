"""Frame grading: sep sources -> SOM representative image + table -> Keras network.

Importing this package does not import TensorFlow; :meth:`Grader.load` does.
"""

from astroiqa_indi.grading._baseline import ClassicalCuts
from astroiqa_indi.grading._grader import Grader, GradingContext, default_model_dir
from astroiqa_indi.grading._represent import METRIC_FEATURES, Analysis, analyse, represent
from astroiqa_indi.grading._saved import SavePacer, load_reference, save_reference
from astroiqa_indi.grading._session import (
    CameraSetup,
    RememberedFrame,
    TransparencyReference,
    camera_setup,
)
from astroiqa_indi.grading._som import SomCodebook
from astroiqa_indi.grading._verdict import BrightStars, FrameMetrics, Verdict

__all__ = [
    "METRIC_FEATURES",
    "Analysis",
    "BrightStars",
    "CameraSetup",
    "ClassicalCuts",
    "FrameMetrics",
    "Grader",
    "GradingContext",
    "RememberedFrame",
    "SavePacer",
    "SomCodebook",
    "TransparencyReference",
    "Verdict",
    "analyse",
    "camera_setup",
    "default_model_dir",
    "load_reference",
    "represent",
    "save_reference",
]
