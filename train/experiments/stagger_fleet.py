"""Copy of a simulated fleet whose machines start reporting telemetry at staggered instants.

    python train/experiments/stagger_fleet.py --csv train/out/m100-d240-s42/csv --out DIR --seed 1 \
        [--from-day 1 --to-day 140]

Machine m keeps only telemetry at or after its own start (a random whole bucket in [from-day, to-day]);
errors, maintenance, metadata and failures are copied unchanged. `pdm-stream features build --labels` on the
copy then gives every machine a cold start (its first buckets with one reading and 0 std) at a different
time of the year, with real labels: the training rows for "let the model learn cold start".
"""

from __future__ import annotations

import argparse
import os
import shutil

import numpy as np
import pandas as pd

BUCKET_H = 12


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--from-day", type=int, default=1)
    ap.add_argument("--to-day", type=int, default=140)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tel = pd.read_csv(os.path.join(args.csv, "telemetry.csv"), dtype=str)
    ts = pd.to_datetime(tel["datetime"], utc=True)
    first = ts.min()
    machines = sorted(tel["machineID"].astype(int).unique())
    rng = np.random.default_rng(args.seed)
    start_bucket = rng.integers(args.from_day * 24 // BUCKET_H, args.to_day * 24 // BUCKET_H + 1, len(machines))
    start = {m: first + pd.Timedelta(hours=int(b) * BUCKET_H) for m, b in zip(machines, start_bucket)}
    keep = ts >= tel["machineID"].astype(int).map(start)
    tel[keep.to_numpy()].to_csv(os.path.join(args.out, "telemetry.csv"), index=False)
    for name in ("errors.csv", "maint.csv", "machines.csv", "failures.csv"):
        shutil.copy(os.path.join(args.csv, name), os.path.join(args.out, name))
    print(f"{len(machines)} machines, {int(keep.sum())} of {len(tel)} telemetry rows kept → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
