"""astroiqa-indi: grade every telescope exposure as it lands, and act on it.

The top-level package stays light: importing it loads neither TensorFlow nor
any network client. Import the subpackages (``astroiqa_indi.frames``,
``astroiqa_indi.grading``, ``astroiqa_indi.indi``, ...) for their APIs.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from astroiqa_indi._malloc import tune_malloc
from astroiqa_indi.labels import LABELS

try:
    __version__ = version("astroiqa-indi")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["LABELS", "__version__", "tune_malloc"]
