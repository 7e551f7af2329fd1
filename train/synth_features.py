"""Synthetic labelled feature file, for developing and testing train/ without the simulator.

It writes the same three artefacts the real pipeline produces (`features build --labels` output CSV, its
`.meta.json` sidecar and a reference-format failures.csv), with planted, component-specific degradation in
the days before each failure. The numbers are only loosely realistic: this exists so that the training
script, the package writer and the TypeScript scorer can be exercised end to end; the committed default
model is trained on the real simulator + feature engine output (scripts/train.sh).

    python train/synth_features.py --out DIR --machines 30 --days 120 --spec-hash HEX
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os

import numpy as np

from pdm_train.spec import CLASSES, COMPONENTS, FEATURE_NAMES, FEATURE_SET

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
BUCKET_MS = 12 * HOUR_MS
SENSORS = {"volt": (170.0, 15.0), "rotate": (450.0, 50.0), "pressure": (100.0, 10.0), "vibration": (40.0, 5.0)}
# Which sensor drifts (and which error type rises) before a failure of each component.
DRIFT = {"comp1": ("volt", "error1"), "comp2": ("rotate", "error2"), "comp3": ("pressure", "error3"),
         "comp4": ("vibration", "error4")}


def _fmt(ts_ms: int) -> str:
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def generate(machines: int, days: int, seed: int, start_ms: int):
    rng = np.random.default_rng(seed)
    n_buckets = days * 2
    buckets = start_ms + np.arange(n_buckets, dtype=np.int64) * BUCKET_MS
    rows = []
    failures = []
    for m in range(1, machines + 1):
        model = int(rng.integers(1, 5))
        age = int(rng.integers(0, 21))
        fails = []
        for c in COMPONENTS:
            t = start_ms + int(rng.exponential(80) * DAY_MS)
            while t < start_ms + days * DAY_MS:
                fails.append((t - t % HOUR_MS, c))
                t += int((10 + rng.exponential(80)) * DAY_MS)
        fails.sort()
        failures.extend((m, t, c) for t, c in fails)
        last_repl = {c: start_ms - int(rng.uniform(0, 120) * DAY_MS) for c in COMPONENTS}
        next_sched = {c: start_ms + int(rng.uniform(5, 60) * DAY_MS) for c in COMPONENTS}
        for b in buckets:
            b = int(b)
            for c in COMPONENTS:
                for t, fc in fails:
                    if fc == c and t <= b:
                        last_repl[c] = max(last_repl[c], t)
                if next_sched[c] <= b:
                    last_repl[c] = max(last_repl[c], next_sched[c])
                    next_sched[c] += int(rng.uniform(30, 60) * DAY_MS)
            label = 0
            drift = {s: 0.0 for s in SENSORS}
            err_boost = np.zeros(5)
            for t, c in fails:
                if b < t <= b + 7 * DAY_MS:
                    if label == 0:
                        label = CLASSES.index(c)
                    closeness = 1.0 - (t - b) / (7 * DAY_MS)
                    sensor, err = DRIFT[c]
                    drift[sensor] += 2.5 * closeness
                    err_boost[int(err[-1]) - 1] += 1.5 * closeness
            values = []
            for s, (mu, sd) in SENSORS.items():
                for w in (12, 24, 36):
                    n = w
                    mean = mu + drift[s] * sd * (0.6 + 0.4 * 12 / w) + rng.normal(0, sd / np.sqrt(n))
                    std = sd * (1 + 0.2 * drift[s]) * (1 + rng.normal(0, 0.2 / np.sqrt(n)))
                    values += [mean, max(std, 0.0)]
            values += list(rng.poisson(0.03 + err_boost).astype(float))
            values += [min((b - last_repl[c]) / DAY_MS, 365.0) for c in COMPONENTS]
            values.append(float(age))
            values += [1.0 if model == k else 0.0 for k in range(1, 5)]
            rows.append((m, b, values, label))
    return rows, failures, buckets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--machines", type=int, default=30)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--spec-hash", required=True, help="SPEC_HASH of src/features/spec.ts")
    args = ap.parse_args()
    start_ms = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
    rows, failures, buckets = generate(args.machines, args.days, args.seed, start_ms)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "features.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(["machineId", "bucketTs", *FEATURE_NAMES, "label"]) + "\n")
        for m, b, values, label in rows:
            f.write(",".join([str(m), str(b), *(repr(float(v)) for v in values), str(label)]) + "\n")
    meta = {
        "featureSet": FEATURE_SET,
        "specHash": args.spec_hash,
        "featureNames": list(FEATURE_NAMES),
        "classes": list(CLASSES),
        "bucketMs": BUCKET_MS,
        "allowedLatenessMs": 2 * HOUR_MS,
        "rows": len(rows),
        "firstBucketTs": int(buckets[0]),
        "lastBucketTs": int(buckets[-1]),
        "source": "train/synth_features.py",
    }
    with open(path + ".meta.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    with open(os.path.join(args.out, "failures.csv"), "w", encoding="utf-8") as f:
        f.write("datetime,machineID,failure\n")
        for m, t, c in sorted(failures, key=lambda x: (x[1], x[0])):
            f.write(f"{_fmt(t)},{m},{c}\n")
    print(json.dumps({"rows": len(rows), "failures": len(failures), "out": args.out}))


if __name__ == "__main__":
    main()
