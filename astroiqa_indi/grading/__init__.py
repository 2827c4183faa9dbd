"""Frame grading: sep sources -> SOM representative image + table -> Keras network.

Importing this package does not import TensorFlow; :meth:`Grader.load` does.
"""

from astroiqa_indi.grading._verdict import FrameMetrics, Verdict

__all__ = ["FrameMetrics", "Verdict"]
