"""Loading the labelled feature file, the failures, and the temporal split."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .spec import CLASSES, FEATURE_NAMES, FEATURE_SET, LABEL_HORIZON_MS


class InputError(Exception):
    """The feature file, its sidecar or the failures file cannot be trained on (message says why)."""


@dataclass(frozen=True)
class FeatureSet:
    meta: dict
    feature_names: list[str]
    classes: list[str]
    machine: np.ndarray  # int64
    bucket_ms: np.ndarray  # int64, epoch ms
    # float32 on purpose: ONNX tree ensembles compare float32 inputs with float32 thresholds, so the model is
    # fitted on exactly the values the scorer will feed it.
    X: np.ndarray
    y: np.ndarray  # int64 class index
    # warming[i]: row i is warming up (evaluate.warming_up on the float64 values); None when not computed.
    warming: np.ndarray | None = None


def load_features(path: str, expect_spec_hash: str | None = None) -> FeatureSet:
    meta_path = path + ".meta.json"
    if not os.path.exists(meta_path):
        raise InputError(f"{meta_path} not found: the feature file must come with its sidecar")
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    problems: list[str] = []
    if meta.get("featureSet") != FEATURE_SET:
        problems.append(f"featureSet is {meta.get('featureSet')!r}, expected {FEATURE_SET!r}")
    spec_hash = meta.get("specHash")
    if not isinstance(spec_hash, str) or not re.fullmatch(r"[0-9a-f]{64}", spec_hash):
        problems.append(f"specHash {spec_hash!r} is not a sha256 hex digest")
    elif expect_spec_hash is not None and spec_hash != expect_spec_hash:
        problems.append(f"specHash {spec_hash} differs from the running feature engine's {expect_spec_hash}")
    names = meta.get("featureNames")
    if list(names or []) != list(FEATURE_NAMES):
        problems.append(f"featureNames differ from pdm-v1 ({_first_diff(names or [], FEATURE_NAMES)})")
    if list(meta.get("classes") or []) != list(CLASSES):
        problems.append(f"classes are {meta.get('classes')}, expected {list(CLASSES)}")
    header = pd.read_csv(path, nrows=0).columns.tolist()
    expected_header = ["machineId", "bucketTs", *FEATURE_NAMES, "label"]
    if header != expected_header:
        problems.append(f"CSV header differs from the sidecar's featureNames ({_first_diff(header, expected_header)})")
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))

    dtypes = {"machineId": np.int64, "bucketTs": np.int64, "label": np.int64}
    dtypes.update({n: np.float64 for n in FEATURE_NAMES})
    df = pd.read_csv(path, dtype=dtypes)
    if len(df) == 0:
        raise InputError(f"{path}: no rows")
    X64 = df[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    if not np.isfinite(X64).all():
        raise InputError(f"{path}: non-finite feature values")
    y = df["label"].to_numpy(dtype=np.int64)
    if y.min() < 0 or y.max() >= len(CLASSES):
        raise InputError(f"{path}: labels outside 0..{len(CLASSES) - 1}")
    order = np.lexsort((df["machineId"].to_numpy(), df["bucketTs"].to_numpy()))
    return FeatureSet(
        meta=meta,
        feature_names=list(FEATURE_NAMES),
        classes=list(CLASSES),
        machine=df["machineId"].to_numpy(dtype=np.int64)[order],
        bucket_ms=df["bucketTs"].to_numpy(dtype=np.int64)[order],
        X=X64.astype(np.float32)[order],
        y=y[order],
        warming=_warming_up(X64)[order],
    )


def _warming_up(X64: np.ndarray) -> np.ndarray:
    from .evaluate import warming_up  # evaluate imports this module

    return warming_up(X64, list(FEATURE_NAMES))


def _first_diff(got, expected) -> str:
    got, expected = list(got), list(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            return f"position {i}: {g!r} instead of {e!r}"
    return f"{len(got)} names instead of {len(expected)}"


@dataclass(frozen=True)
class Failures:
    machine: np.ndarray  # int64
    ts_ms: np.ndarray  # int64
    comp: np.ndarray  # int64 class index (1..4)


def load_failures(path: str) -> Failures:
    """Reads a reference-format failures.csv (`datetime,machineID,failure`, dates UTC)."""
    df = pd.read_csv(path)
    missing = {"datetime", "machineID", "failure"} - set(df.columns)
    if missing:
        raise InputError(f"{path}: missing columns {sorted(missing)}")
    ts = pd.to_datetime(df["datetime"], utc=True, format="mixed")
    comp = df["failure"].map({c: i for i, c in enumerate(CLASSES) if i > 0})
    if comp.isna().any():
        bad = df["failure"][comp.isna()].unique().tolist()
        raise InputError(f"{path}: unknown failure components {bad}")
    # Through a Timedelta so that the result does not depend on the resolution pandas inferred.
    ts_ms = ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)).to_numpy(dtype=np.int64)
    return Failures(machine=df["machineID"].to_numpy(dtype=np.int64), ts_ms=ts_ms, comp=comp.to_numpy(dtype=np.int64))


def failures_from_labels(fs: FeatureSet) -> Failures:
    """Fallback when no failures.csv is given: each failure is placed one bucket after the last bucket of a
    run of equal labels, an upper bound of its real time (within one bucket length)."""
    bucket = int(fs.meta.get("bucketMs", 43_200_000))
    machines, times, comps = [], [], []
    for m in np.unique(fs.machine):
        idx = np.flatnonzero(fs.machine == m)
        b, y = fs.bucket_ms[idx], fs.y[idx]
        for i in range(len(idx)):
            if y[i] > 0 and (i + 1 == len(idx) or y[i + 1] != y[i] or b[i + 1] - b[i] > bucket):
                machines.append(m)
                times.append(b[i] + bucket)
                comps.append(y[i])
    return Failures(np.array(machines, dtype=np.int64), np.array(times, dtype=np.int64), np.array(comps, dtype=np.int64))


def labels_from_failures(machine: np.ndarray, bucket_ms: np.ndarray, failures: Failures) -> np.ndarray:
    """pdm-v1 label of each row (mirror of src/features/label.ts): the component 1..4 of the machine's earliest
    failure with ts in (B, B + 7 d], 0 when none; failures at the same instant go to the lowest component
    number (FEATURES.md revision 2), so the label never depends on the order of failures.csv."""
    out = np.zeros(len(machine), dtype=np.int64)
    for m in np.unique(machine):
        rows = np.flatnonzero(machine == m)
        fm = failures.machine == m
        if not fm.any():
            continue
        # Sorted by (ts, comp): the first failure after B is the earliest one, and the lowest component of a tie.
        order = np.lexsort((failures.comp[fm], failures.ts_ms[fm]))
        ts, comp = failures.ts_ms[fm][order], failures.comp[fm][order]
        b = bucket_ms[rows]
        i = np.searchsorted(ts, b, side="right")
        j = np.minimum(i, len(ts) - 1)
        hit = (i < len(ts)) & (ts[j] <= b + LABEL_HORIZON_MS)
        out[rows[hit]] = comp[j[hit]]
    return out


def verify_labels(fs: FeatureSet, failures: Failures) -> None:
    """Refuses a feature file whose labels differ from the label rule applied to the failures file: the two
    languages must agree on what is being predicted, or the evaluation measures something else."""
    expected = labels_from_failures(fs.machine, fs.bucket_ms, failures)
    bad = np.flatnonzero(expected != fs.y)
    if len(bad) > 0:
        k = int(bad[0])
        raise InputError(
            f"{len(bad)} labels of the feature file differ from the label rule applied to the failures file "
            f"(first: machine {int(fs.machine[k])}, bucketTs {int(fs.bucket_ms[k])}: file {int(fs.y[k])}, "
            f"failures {int(expected[k])})"
        )


@dataclass(frozen=True)
class Split:
    name: str
    start_ms: int  # first bucket included
    end_ms: int  # last bucket included
    mask: np.ndarray  # rows of the feature set


def temporal_split(fs: FeatureSet, train_frac: float, val_frac: float) -> tuple[Split, Split, Split]:
    """Train on the earliest buckets, validate on the next ones, test on the latest (as the reference
    notebooks do), with a purge: rows whose 7-day label window reaches into the next range are dropped,
    because their labels are made of failures that the next range is supposed to keep unseen."""
    lo, hi = int(fs.bucket_ms.min()), int(fs.bucket_ms.max())
    span = hi - lo
    bucket = int(fs.meta.get("bucketMs", 43_200_000))
    t1 = lo + int(span * train_frac) // bucket * bucket
    t2 = lo + int(span * (train_frac + val_frac)) // bucket * bucket
    b = fs.bucket_ms
    # The last 7 days of the file are purged too: failures after the end of the data are unknown, so the
    # labels of those buckets are censored (a "none" there may be a failure nobody recorded).
    train = Split("train", lo, t1 - LABEL_HORIZON_MS, b <= t1 - LABEL_HORIZON_MS)
    val = Split("validation", t1 + bucket, t2 - LABEL_HORIZON_MS, (b > t1) & (b <= t2 - LABEL_HORIZON_MS))
    test = Split("test", t2 + bucket, hi - LABEL_HORIZON_MS, (b > t2) & (b <= hi - LABEL_HORIZON_MS))
    for s in (train, val, test):
        if not s.mask.any():
            raise InputError(f"{s.name} range is empty: the feature file spans too little time for this split")
    return train, val, test
