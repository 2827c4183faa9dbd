"""The live terminal view: one line per frame, coloured by label."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from astroiqa_indi.grading import Verdict

__all__ = ["LiveView"]

_STYLE = {
    "good": "green",
    "bad_tracking": "yellow",
    "very_bad_tracking": "bold red",
    "bad_seeing": "magenta",
    "background_issues": "cyan",
}


class LiveView:
    """Prints frames and events as they happen (or nothing, when disabled)."""

    def __init__(self, *, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(highlight=False)
        self._header_done = False

    def _header(self) -> None:
        if not self._header_done:
            self.console.print(
                f"{'#':>4}  {'time':8}  {'label':18} {'p':>4}  {'FWHM':>6} {'ecc':>5} "
                f"{'stars':>5}  actions",
                style="bold",
            )
            self._header_done = True

    def frame(self, index: int, clock: str, verdict: Verdict, actions: list[str]) -> None:
        if not self.enabled:
            return
        self._header()
        m = verdict.metrics
        fwhm = (
            f'{m.fwhm_arcsec:5.2f}"'
            if m.fwhm_arcsec
            else (f"{m.fwhm_px:4.1f}px" if m.fwhm_px else "    - ")
        )
        ecc = f"{m.eccentricity:5.2f}" if m.eccentricity is not None else "    -"
        line = Text(f"{index:>4}  {clock:8}  ")
        line.append(f"{verdict.label:18}", style=_STYLE[verdict.label])
        line.append(
            f" {verdict.probabilities[verdict.label]:4.2f}  {fwhm:>6} {ecc} {m.n_stars:>5}  "
            + (", ".join(actions) if actions else "")
        )
        if not verdict.confident:
            line.append("  (low confidence)", style="dim")
        self.console.print(line)

    def event(self, text: str, *, style: str = "bold") -> None:
        if self.enabled:
            self.console.print(Text(f"      {text}", style=style))
