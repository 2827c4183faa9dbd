"""A slew to another field on a clear night: false thin-cloud calls, with and without pointing.

``quality.min_transparency`` compares a frame's brightest stars with those of the
session's recent good frames. After a slew to a sparser field without a new
``OBJECT`` keyword, that comparison would read the new field as a veil over the old
one, unless the frames say where they point (``RA``/``DEC``, ``OBJCTRA``/``OBJCTDEC``).

For each rig and each pair of night seeds, renders the clear start of
``simulators/scenarios/thin-cloud.yaml`` twice (two star fields), grades the frames
with the shipped model, then runs the session rule over field A followed by field B
and over B followed by A: once with the setups the files give (no pointing), once
with each field's frames carrying a pointing 10 degrees from the other's. Counts the
second field's frames that the network calls ``good`` and the rule turns into
``background_issues`` (every frame here is clear sky, so each one is a false call).

Run: ``.venv/bin/python -m bench.field_change [--rig NAME ...] [--pairs 4] [--frames 6]``
"""

from __future__ import annotations

import argparse
import dataclasses

import yaml

_DEFAULT_RIGS = (
    "seestar_s50",
    "refractor80_asi2600mm",
    "edgehd8_asi294mc_reducer",
    "ed72_asi533mc",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rig", action="append", default=None)
    parser.add_argument("--pairs", type=int, default=4, help="pairs of fields per rig")
    parser.add_argument("--frames", type=int, default=6, help="frames per field (<= 12)")
    parser.add_argument("--first-seed", type=int, default=600, help="night seed of the first field")
    parser.add_argument("--limit", type=float, default=0.5, help="min_transparency")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from astroiqa_indi.config import loads_profile
    from astroiqa_indi.grading import CameraSetup, Grader, TransparencyReference
    from bench._nights import grade_night
    from simulators.sky import RIGS, SCENARIO_DIR, profile_yaml

    scenario = SCENARIO_DIR / "thin-cloud.yaml"
    night = yaml.safe_load(scenario.read_text())
    width, height = (int(v) for v in args.size.split("x"))
    grader = Grader.load()
    totals = {"good alone": 0, "flagged without pointing": 0, "flagged with pointing": 0}
    print(f"clear frames of two fields in a row, {args.size} crops, min_transparency {args.limit}")
    for rig_name in args.rig or _DEFAULT_RIGS:
        profile = loads_profile(profile_yaml(RIGS[rig_name]))
        for pair in range(args.pairs):
            fields = []
            for index in range(2):
                seed = args.first_seed + 2 * pair + index
                _, verdicts, blind = grade_night(
                    grader,
                    profile,
                    scenario,
                    night,
                    night_seed=seed,
                    rig=rig_name,
                    size=(width, height),
                    count=args.frames,
                    workers=args.workers,
                )
                graded = [
                    (verdict, setup, dataclasses.replace(setup, pointing=(10.0 * index, 20.0)))
                    for verdict, setup in zip(verdicts, blind, strict=True)
                ]
                fields.append((seed, graded))
            for first, second in (fields, fields[::-1]):
                counts = []
                for which in (1, 2):  # blind, then pointed setups
                    reference = TransparencyReference()
                    flagged = 0
                    for n, (verdict, *setups) in enumerate(first[1] + second[1]):
                        setup: CameraSetup = setups[which - 1]
                        reference, judged = reference.step(
                            verdict, setup, min_transparency=args.limit
                        )
                        flagged += n >= args.frames and judged.label != verdict.label
                    counts.append(flagged)
                good = sum(v.label == "good" for v, *_ in second[1])
                totals["good alone"] += good
                totals["flagged without pointing"] += counts[0]
                totals["flagged with pointing"] += counts[1]
                print(
                    f"{rig_name:26} field {first[0]} then {second[0]}: second field "
                    f"{good}/{args.frames} good alone, flagged as cloud {counts[0]} without "
                    f"pointing, {counts[1]} with"
                )
    print("\nall rigs: " + ", ".join(f"{k} {v}" for k, v in totals.items()))


if __name__ == "__main__":
    main()
