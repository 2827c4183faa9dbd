"""Session reports shared by the live agent and batch grading: CSV rows and a PNG plot."""

from astroiqa_indi.reports._report import REPORT_COLUMNS, ReportRow, plot_session, write_csv

__all__ = ["REPORT_COLUMNS", "ReportRow", "plot_session", "write_csv"]
