"""Frame grading: sep sources -> SOM representative image + table -> Keras network.

Importing this package does not import TensorFlow; :meth:`Grader.load` does.
"""

from astroiqa_indi.grading._baseline import ClassicalCuts
from astroiqa_indi.grading._grader import Grader, GradingContext, default_model_dir
from astroiqa_indi.grading._represent import METRIC_FEATURES, Analysis, analyse, represent
from astroiqa_indi.grading._som import SomCodebook
from astroiqa_indi.grading._verdict import FrameMetrics, Verdict

__all__ = [
    "METRIC_FEATURES",
    "Analysis",
    "ClassicalCuts",
    "FrameMetrics",
    "Grader",
    "GradingContext",
    "SomCodebook",
    "Verdict",
    "analyse",
    "default_model_dir",
    "represent",
]
