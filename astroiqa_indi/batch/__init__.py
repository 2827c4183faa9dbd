"""Batch grading of folders and archives, before stacking.

>>> from pathlib import Path
>>> from astroiqa_indi.batch import BatchOptions, grade_paths
>>> result = grade_paths(  # doctest: +SKIP
...     ["night-2024-05-01/"],
...     options=BatchOptions(recursive=True, report=Path("night.csv"), jobs=2),
... )
>>> result.label_counts()  # doctest: +SKIP

Frames are graded in worker processes that each load the model once, or on a Dask
cluster (``BatchOptions(dask="local")`` or a scheduler address; the ``dask`` extra).
The CSV report is written frame by frame and can be resumed; accepted frames can be
linked for stacking tools or stacked by a generated Siril script, rejected ones moved
away (undoable). Importing this package loads neither TensorFlow nor Dask.
"""

from astroiqa_indi.batch._actions import LinkResult, link_frames
from astroiqa_indi.batch._discover import FRAME_SUFFIXES, Discovery, discover, is_frame_name
from astroiqa_indi.batch._report import (
    BATCH_COLUMNS,
    ReportRecord,
    ReportWriter,
    open_report,
    read_report,
)
from astroiqa_indi.batch._runner import grade_paths
from astroiqa_indi.batch._siril import SCRIPT_NAME, SirilScript, siril_script_text, write_siril
from astroiqa_indi.batch._summary import summary_lines, summary_table
from astroiqa_indi.batch._types import BatchOptions, BatchResult, FrameResult, FrameStatus

__all__ = [
    "BATCH_COLUMNS",
    "FRAME_SUFFIXES",
    "SCRIPT_NAME",
    "BatchOptions",
    "BatchResult",
    "Discovery",
    "FrameResult",
    "FrameStatus",
    "LinkResult",
    "ReportRecord",
    "ReportWriter",
    "SirilScript",
    "discover",
    "grade_paths",
    "is_frame_name",
    "link_frames",
    "open_report",
    "read_report",
    "siril_script_text",
    "summary_lines",
    "summary_table",
    "write_siril",
]
