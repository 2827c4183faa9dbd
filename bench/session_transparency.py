"""Thin cloud on a simulated night: frames judged alone, and against the session.

Renders one pass of a night scenario (default ``simulators/scenarios/thin-cloud.yaml``:
a uniform veil with no glow and no patches) for each rig and each of ``--nights``
night seeds (the scenario's seed, then the next ones), grades the frames in time
order with the shipped model and the rig's profile, and applies
``quality.min_transparency`` at a few limits the way the live agent does
(:class:`astroiqa_indi.grading.TransparencyReference`). Scored against the
simulator's truth: frames near a class boundary are left out.

Run: ``.venv/bin/python -m bench.session_transparency [--rig NAME ...] [--workers 2]``
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import yaml

_DEFAULT_RIGS = (
    "seestar_s50",
    "refractor80_asi2600mm",
    "edgehd8_asi294mc_reducer",
    "ed72_asi533mc",
)


def _score(labels: list[str], truth: list[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    """Per true label (clear frames only): (graded as that label, frames)."""
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for label, (true, clear) in zip(labels, truth, strict=True):
        if clear:
            totals[true] += 1
            hits[true] += label == true
    return {k: (hits[k], totals[k]) for k in sorted(totals)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=None)
    parser.add_argument("--rig", action="append", default=None)
    parser.add_argument("--seed", type=int, default=1, help="camera noise seed")
    parser.add_argument("--nights", type=int, default=3, help="night seeds per rig")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--limits", type=float, nargs="+", default=[0.4, 0.5, 0.6])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    from astroiqa_indi.config import loads_profile
    from astroiqa_indi.grading import Grader, TransparencyReference
    from bench._nights import grade_night
    from simulators.sky import RIGS, SCENARIO_DIR, profile_yaml

    scenario = Path(args.scenario) if args.scenario else SCENARIO_DIR / "thin-cloud.yaml"
    width, height = (int(v) for v in args.size.split("x"))
    grader = Grader.load(args.model)
    night = yaml.safe_load(scenario.read_text())
    rows = []
    for rig_name in args.rig or _DEFAULT_RIGS:
        profile = loads_profile(profile_yaml(RIGS[rig_name]))
        for night_seed in range(int(night["seed"]), int(night["seed"]) + args.nights):
            files, verdicts, setups = grade_night(
                grader,
                profile,
                scenario,
                night,
                night_seed=night_seed,
                rig=rig_name,
                size=(width, height),
                camera_seed=args.seed,
                workers=args.workers,
            )
            truth = [(f.label, f.clear) for f in files]
            results = {"alone": _score([v.label for v in verdicts], truth)}
            for limit in args.limits:
                reference = TransparencyReference()
                labels = []
                for verdict, setup in zip(verdicts, setups, strict=True):
                    reference, judged = reference.step(verdict, setup, min_transparency=limit)
                    labels.append(judged.label)
                results[f"min_transparency {limit:g}"] = _score(labels, truth)
            rows.append(
                {"rig": rig_name, "night": night_seed, "frames": len(files), "results": results}
            )

    print(f"scenario {scenario.name}, {args.size} crops, camera seed {args.seed}")
    print("recall per true label on clear frames (graded right / frames)")
    for row in rows:
        print(f"\n{row['rig']}, night seed {row['night']} ({row['frames']} frames)")
        for name, scores in row["results"].items():
            cells = "  ".join(f"{k} {h}/{n}" for k, (h, n) in scores.items())
            print(f"  {name:22} {cells}")
    total: dict[str, Counter[str]] = {}
    for row in rows:
        for name, scores in row["results"].items():
            for k, (h, n) in scores.items():
                total.setdefault(name, Counter())[f"{k} hit"] += h
                total[name][f"{k} n"] += n
    print("\nall rigs and nights")
    for name, counts in total.items():
        labels = sorted({key.rsplit(" ", 1)[0] for key in counts})
        cells = "  ".join(f"{k} {counts[k + ' hit']}/{counts[k + ' n']}" for k in labels)
        print(f"  {name:22} {cells}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
