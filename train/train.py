"""Train a pdm-stream model and write a model package.

    python train/train.py --features FEATURES.csv [--failures failures.csv] --out models/pdm-default/1 \
        [--name pdm-default] [--version 1] [--fast] [--forest-trees N] [--expect-spec-hash HEX]

Reads the labelled rows written by `pdm-stream features build --labels` (and its .meta.json sidecar), splits
them by time, trains a random forest and a histogram gradient-boosting model, keeps the better one on the
validation range, exports it to ONNX, checks onnxruntime against scikit-learn, and writes model.onnx,
model.json, fixtures.json, report.md and two PNGs into --out. Exits non-zero with a message on bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pdm_train import candidates as cand  # noqa: E402
from pdm_train import export, report  # noqa: E402
from pdm_train.spec import LABEL_HORIZON_MS  # noqa: E402
from pdm_train.data import (  # noqa: E402
    InputError,
    failures_from_labels,
    load_failures,
    load_features,
    temporal_split,
    verify_labels,
)
from pdm_train.evaluate import (  # noqa: E402
    choose_thresholds_sets,
    decide,
    evaluate_range,
    failure_within_horizon,
    lead_time,
    macro_average_precision,
)

FORMAT_VERSION = 1
MAX_ONNX_BYTES = 8 * 1024 * 1024


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _libraries() -> dict:
    import matplotlib
    import onnx
    import onnxruntime
    import pandas
    import skl2onnx
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "matplotlib": matplotlib.__version__,
    }


def _portable(source):
    """The sidecar's source description with paths made relative to the working directory, so that the
    committed model.json does not name one machine's directories."""
    if isinstance(source, dict):
        return {k: (os.path.relpath(v) if k in ("dir", "path") and isinstance(v, str) and os.path.isabs(v) else v)
                for k, v in source.items()}
    return source


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, got {text}")
    return n


def _log(msg: str) -> None:
    print(f"[train] {msg}", file=sys.stderr, flush=True)


def _fleet(spec: str, expect_spec_hash: str | None) -> dict:
    """FEATURES:FAILURES[:NOTE] → loaded feature set and failures; the labels are checked like the training file's."""
    parts = spec.split(":", 2)
    if len(parts) < 2:
        raise InputError(f"{spec}: expected FEATURES:FAILURES[:NOTE]")
    ffs = load_features(parts[0], expect_spec_hash)
    fl = load_failures(parts[1])
    verify_labels(ffs, fl)
    name = os.path.basename(os.path.dirname(os.path.abspath(parts[0])))
    return {"name": name, "note": parts[2] if len(parts) > 2 else "", "fs": ffs, "failures": fl}


def _by_history(evaluation: list[dict], sess, thresholds: np.ndarray, bucket_ms: int) -> list[dict]:
    """Thresholds alone (no warm-up rule) by hours since the machine's first bucket, pooled over the evaluation
    fleets: where cold-start alerts stop being worse than the steady state."""
    out = []
    groups = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 13), (14, 10**9)]
    acc = {g: [0, 0, 0, 0] for g in groups}  # rows, warming rows, alerts, true alerts
    for f in evaluation:
        ffs = f["fs"]
        first = {m: ffs.bucket_ms[ffs.machine == m].min() for m in np.unique(ffs.machine)}
        k = (ffs.bucket_ms - np.array([first[m] for m in ffs.machine])) // bucket_ms
        fired = decide(export.run(sess, ffs.X), thresholds, None)
        for g in groups:
            rows = (k >= g[0]) & (k <= g[1])
            a = acc[g]
            a[0] += int(rows.sum())
            a[1] += int(ffs.warming[rows].sum())
            a[2] += int(fired[rows].sum())
            a[3] += int(f["truth"][rows][fired[rows]].sum())
    for (lo, hi), (n, w, a, t) in acc.items():
        out.append({"fromHours": lo * bucket_ms // 3_600_000,
                    "toHours": None if hi >= 10**9 else hi * bucket_ms // 3_600_000,
                    "rows": n, "warmingUp": w, "alerts": a, "true": t,
                    "alertsPerRow": a / n if n else None, "precision": t / a if a else None})
    return out


def _cold_start_experiment(chosen, args, fs, train, cold, choose, evaluation, thresholds, sess, classes, bucket_ms) -> dict:
    """The alternative to the warm-up rule: let the model learn cold start from the warming-up rows of
    staggered-start copies of the training fleet (rows whose label window ends inside the training range), with
    thresholds chosen the same way but on every row. Compared with the package (rule) on the evaluation fleets."""
    extra_X, extra_y = [], []
    for c in cold:
        keep = c.warming & (c.bucket_ms + LABEL_HORIZON_MS <= train.end_ms)
        extra_X.append(c.X[keep])
        extra_y.append(c.y[keep])
    X = np.concatenate([fs.X[train.mask], *extra_X])
    y = np.concatenate([fs.y[train.mask], *extra_y])
    model = cand.make(chosen, args.seed, args.fast, args.forest_trees)
    model.fit(X, y)
    th, reached = choose(model, learned_cold_start=True)
    out = {"extraWarmRows": int(sum(len(e) for e in extra_y)),
           "extraWarmRowsByClass": {cl: int(sum((e == i).sum() for e in extra_y)) for i, cl in enumerate(classes)},
           "learnedThresholds": dict(zip(classes[1:], th.tolist())), "learnedTargetReached": reached, "fleets": {}}
    for f in evaluation:
        ffs = f["fs"]
        res = {}
        for name, proba, t, warm in (("rule", export.run(sess, ffs.X), thresholds, ffs.warming),
                                     ("learned", model.predict_proba(ffs.X), th, None)):
            ev = evaluate_range(proba, ffs.y, ffs.machine, ffs.bucket_ms, f["failures"], t,
                                int(ffs.bucket_ms.min()), int(ffs.bucket_ms.max()), classes, bucket_ms, warm)
            fired = decide(proba, t, warm)
            w = ffs.warming
            truth_w = f["truth"][w]
            n = int(fired[w].sum())
            res[name] = {
                "warmAlerts": n, "warmTrue": int(truth_w[fired[w]].sum()),
                "warmMachinesAlerting": int(len(np.unique(ffs.machine[w][fired[w].any(axis=1)]))),
                "bucketPrecision": ev["alert"]["bucketPrecision"],
                "perComponent": {c: v["precision"] for c, v in ev["alert"]["perComponent"].items()},
                "leadTimeRecall": ev["leadTime"]["recall"],
            }
        out["fleets"][f["name"]] = res
        _log(f"cold start on {f['name']}: " + "; ".join(
            f"{k}: warm alerts {v['warmAlerts']} ({v['warmTrue']} true), precision {v['bucketPrecision']:.3f}, "
            f"LTR {v['leadTimeRecall']:.3f}" for k, v in res.items()))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, help="labelled feature CSV (with its .meta.json sidecar)")
    ap.add_argument("--failures", help="reference-format failures.csv; default: derived from the labels")
    ap.add_argument("--out", required=True, help="package directory to write, e.g. models/pdm-default/1")
    ap.add_argument("--name", default="pdm-default")
    ap.add_argument("--version", default="1")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--fast", action="store_true", help="few trees (CI)")
    ap.add_argument("--forest-trees", type=_positive_int, metavar="N",
                    help="trees of the random forest candidate (default 200, 30 with --fast): each tree costs "
                         "scoring time in every engine")
    ap.add_argument("--train-frac", type=float, default=0.6)
    ap.add_argument("--val-frac", type=float, default=0.2)
    ap.add_argument("--target-precision", type=float, default=0.7)
    ap.add_argument("--expect-spec-hash", help="refuse a feature file whose specHash differs")
    ap.add_argument("--candidates", default=",".join(cand.CANDIDATES))
    ap.add_argument("--data-note", default="", help="how the data was made (recorded in model.json), e.g. the simulate command")
    ap.add_argument("--calibration", action="append", default=[], metavar="FEATURES:FAILURES:NOTE",
                    help="a fleet the trees never see whose rows take part in the threshold choice (repeatable)")
    ap.add_argument("--evaluation", action="append", default=[], metavar="FEATURES:FAILURES:NOTE",
                    help="a fleet that takes part in no choice: reported with per-component confidence intervals (repeatable)")
    ap.add_argument("--cold-start", action="append", default=[], metavar="FEATURES",
                    help="staggered-start copy of the training fleet (train/experiments/stagger_fleet.py): its "
                         "warming-up rows in the training range train a variant that learns cold start, "
                         "compared with the warm-up rule on the evaluation fleets (repeatable)")
    args = ap.parse_args(argv)

    try:
        fs = load_features(args.features, args.expect_spec_hash)
        failures = load_failures(args.failures) if args.failures else failures_from_labels(fs)
        if args.failures:
            verify_labels(fs, failures)
        train, val, test = temporal_split(fs, args.train_frac, args.val_frac)
        calibration = [_fleet(spec, args.expect_spec_hash) for spec in args.calibration]
        evaluation = [_fleet(spec, args.expect_spec_hash) for spec in args.evaluation]
        cold = [load_features(f, args.expect_spec_hash) for f in args.cold_start]
    except InputError as e:
        print(f"train: {e}", file=sys.stderr)
        return 2
    bucket_ms = int(fs.meta.get("bucketMs", 43_200_000))
    classes = fs.classes
    _log(f"{len(fs.y)} rows, {len(failures.ts_ms)} failures; train {int(train.mask.sum())}, "
         f"validation {int(val.mask.sum())}, test {int(test.mask.sum())} rows")
    for s in (train, val):
        missing = [c for i, c in enumerate(classes) if not (fs.y[s.mask] == i).any()]
        if missing:
            print(f"train: the {s.name} range has no rows of class {missing}; simulate more machines or days", file=sys.stderr)
            return 2

    Xtr, ytr = fs.X[train.mask], fs.y[train.mask]
    Xva, yva = fs.X[val.mask], fs.y[val.mask]
    truth_va = failure_within_horizon(fs.machine[val.mask], fs.bucket_ms[val.mask], failures, len(classes) - 1)
    warm_va = fs.warming[val.mask]
    for f in calibration + evaluation:
        f["truth"] = failure_within_horizon(f["fs"].machine, f["fs"].bucket_ms, f["failures"], len(classes) - 1)

    def choose(model, learned_cold_start: bool = False):
        """Thresholds on the validation range and every calibration fleet (worst set decides). Warming-up
        rows never alert under the rule, so they take no part; a model that learns cold start keeps them."""
        def scored(X, truth, warm):
            keep = np.ones(len(X), dtype=bool) if learned_cold_start else ~warm
            return model.predict_proba(X[keep]), truth[keep]

        return choose_thresholds_sets(
            [scored(Xva, truth_va, warm_va)], args.target_precision,
            fleets=[scored(f["fs"].X, f["truth"], f["fs"].warming) for f in calibration],
        )

    results: dict[str, dict] = {}
    fitted = {}
    for name in args.candidates.split(","):
        model = cand.make(name, args.seed, args.fast, args.forest_trees)
        t0 = time.perf_counter()
        model.fit(Xtr, ytr)
        fit_s = time.perf_counter() - t0
        proba = model.predict_proba(Xva)
        th, reached = choose(model)
        fired = decide(proba, th, warm_va)
        lt = lead_time(fs.machine[val.mask], fs.bucket_ms[val.mask], fired, failures, val.start_ms, val.end_ms, classes[1:])
        onnx_bytes = export.export(model, fs.X.shape[1], {})
        results[name] = {
            "leadTimeRecall": lt.recall,
            "bucketPrecision": float(truth_va[fired].mean()) if fired.any() else None,
            "macroAveragePrecision": macro_average_precision(yva, proba),
            "thresholds": th.tolist(),
            "targetReached": reached,
            "onnxBytes": len(onnx_bytes),
            "fitSeconds": fit_s,
            "params": cand.params(model),
        }
        fitted[name] = model
        _log(f"{name}: fit {fit_s:.1f}s, validation lead-time recall {lt.recall:.3f}, "
             f"macro AP {results[name]['macroAveragePrecision']:.3f}, thresholds {th.tolist()}, ONNX {len(onnx_bytes)} B")

    def key(n: str):
        r = results[n]
        fits = r["onnxBytes"] <= MAX_ONNX_BYTES
        return (fits, round(r["leadTimeRecall"], 3), r["macroAveragePrecision"])

    chosen = max(results, key=key)
    others = [n for n in results if n != chosen]
    why = (
        f"Kept **{chosen}**: on the validation range it reaches lead-time recall "
        f"{results[chosen]['leadTimeRecall']:.3f} at the validation-chosen thresholds and macro average precision "
        f"{results[chosen]['macroAveragePrecision']:.3f}"
        + "".join(
            f", against {results[o]['leadTimeRecall']:.3f} and {results[o]['macroAveragePrecision']:.3f} for {o}"
            for o in others
        )
        + ". Selection order: package fits in the size limit, then lead-time recall at the precision target (the "
        "product goal), then macro average precision (threshold-free ranking quality) as the tie-break."
    )
    model = fitted[chosen]
    thresholds = np.array(results[chosen]["thresholds"])

    version_meta = {"name": args.name, "version": args.version, "featureSet": fs.meta["featureSet"], "specHash": fs.meta["specHash"]}
    onnx_bytes = export.export(model, fs.X.shape[1], version_meta)
    if len(onnx_bytes) > MAX_ONNX_BYTES:
        print(f"train: ONNX model is {len(onnx_bytes)} bytes, over the {MAX_ONNX_BYTES} limit", file=sys.stderr)
        return 3
    sess = export.session(onnx_bytes)
    par = export.parity(model, sess, fs.X[test.mask])
    _log(f"parity sklearn vs onnxruntime: {par}")
    if par["argmaxAgreement"] < 0.999 or par["maxAbsDiff"] > 1e-3:
        print(f"train: onnxruntime does not reproduce the training library: {par}", file=sys.stderr)
        return 4

    # Metrics use onnxruntime's probabilities: those are what the engine will act on.
    evals = {}
    for s in (val, test):
        proba = export.run(sess, fs.X[s.mask])
        evals[s.name] = evaluate_range(
            proba, fs.y[s.mask], fs.machine[s.mask], fs.bucket_ms[s.mask], failures, thresholds,
            s.start_ms, s.end_ms, classes, bucket_ms, fs.warming[s.mask],
        )
    lead_hours = evals["test"].pop("_leadHours")
    evals["validation"].pop("_leadHours")
    fleets = {}
    for role, group in (("calibration", calibration), ("evaluation", evaluation)):
        for f in group:
            ffs = f["fs"]
            ev = evaluate_range(
                export.run(sess, ffs.X), ffs.y, ffs.machine, ffs.bucket_ms, f["failures"], thresholds,
                int(ffs.bucket_ms.min()), int(ffs.bucket_ms.max()), classes, bucket_ms, ffs.warming,
            )
            ev.pop("_leadHours")
            fleets[f["name"]] = {"role": role, "note": f["note"], **ev}
            _log(f"{role} fleet {f['name']}: bucket precision {ev['alert']['bucketPrecision']:.3f}, per component "
                 + ", ".join(f"{c} {v['precision']:.3f}" for c, v in ev["alert"]["perComponent"].items() if v["precision"] is not None)
                 + f"; lead-time recall {ev['leadTime']['recall']:.3f}")
    history = _by_history(evaluation, sess, thresholds, bucket_ms) if evaluation else None
    cold_start = None
    if cold and evaluation:
        cold_start = _cold_start_experiment(chosen, args, fs, train, cold, choose, evaluation, thresholds, sess, classes,
                                            bucket_ms)
    per_comp_ok = all(
        (v["precision"] or 0) >= args.target_precision
        for f in fleets.values() if f["role"] == "evaluation"
        for v in f["alert"]["perComponent"].values()
    )
    te = evals["test"]
    goal = (
        te["leadTime"]["recall"] == te["leadTime"]["recall"]  # not NaN
        and te["leadTime"]["recall"] >= 0.8
        and (te["alert"]["bucketPrecision"] or 0) >= 0.7
    )

    fx = export.fixtures(sess, fs.X[test.mask], fs.y[test.mask], fs.machine[test.mask], fs.bucket_ms[test.mask],
                         export.split_points(onnx_bytes), per_class=6, seed=args.seed)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "model.onnx"), "wb") as f:
        f.write(onnx_bytes)
    with open(os.path.join(args.out, "fixtures.json"), "w", encoding="utf-8") as f:
        json.dump({"modelSha256": export.sha256(onnx_bytes), **fx}, f)

    model_json = {
        "formatVersion": FORMAT_VERSION,
        "name": args.name,
        "version": args.version,
        "createdAt": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "featureSet": fs.meta["featureSet"],
        "specHash": fs.meta["specHash"],
        "featureNames": fs.feature_names,
        "classes": classes,
        "bucketMs": bucket_ms,
        "onnx": {
            "file": "model.onnx",
            "sha256": export.sha256(onnx_bytes),
            "bytes": len(onnx_bytes),
            "inputName": export.INPUT_NAME,
            "inputType": "float32",
            "probabilitiesOutput": export.PROBABILITIES,
            "opset": export.TARGET_OPSET,
        },
        "algorithm": {"chosen": chosen, "params": results[chosen]["params"], "why": why, "classImbalance": cand.__doc__.strip().split("\n\n")[1]},
        "alertRule": {
            "kind": "per-class-threshold",
            "description": "alert for component c when P(c) >= thresholds[c] and the row is not warming up",
            "warmingUp": "suppress",
            "warmingUpRule": "a row whose 36 h windows hold no reading older than its 24 h windows (for every "
                             "sensor <s>_mean_36h == <s>_mean_24h and <s>_std_36h == <s>_std_24h) never alerts",
            "thresholds": {c: float(t) for c, t in zip(classes[1:], thresholds)},
            "targetPrecision": args.target_precision,
            "targetReached": dict(zip(classes[1:], results[chosen]["targetReached"])),
            "chosenOn": "validation" + "".join(f" + {f['name']}" for f in calibration),
            "criterion": "one-sided 95 % Wilson lower bound of each component's bucket alert precision >= target "
                         "on every set, for this and every higher threshold; and, over the calibration fleets, the "
                         "one-sided 95 % prediction bound for a new fleet of the lower end of its 95 % Wilson "
                         "interval >= target",
        },
        "ranges": {
            s.name: {"start": _iso(s.start_ms), "end": _iso(s.end_ms), "startMs": s.start_ms, "endMs": s.end_ms,
                     "rows": int(s.mask.sum())}
            for s in (train, val, test)
        },
        "metrics": {"validation": evals["validation"], "test": te, "goalMet": bool(goal),
                    "unseenFleets": fleets, "perComponentTargetOnEvaluationFleets": bool(per_comp_ok) if evaluation else None,
                    "coldStartExperiment": cold_start, "alertsByHistory": history,
                    "candidates": {n: {k: v for k, v in r.items() if k != "params"} for n, r in results.items()}},
        "parity": {**par, "fixtureRows": len(fx["rows"])},
        "libraries": _libraries(),
        "training": {
            "source": _portable(fs.meta.get("source", os.path.basename(args.features))),
            "dataNote": args.data_note,
            "featureFile": os.path.basename(args.features),
            "rows": int(len(fs.y)),
            "failures": int(len(failures.ts_ms)),
            "failuresFrom": "failures.csv" if args.failures else "labels (approximate)",
            "seed": args.seed,
            "fast": bool(args.fast),
        },
    }
    with open(os.path.join(args.out, "model.json"), "w", encoding="utf-8") as f:
        json.dump(model_json, f, indent=2)
        f.write("\n")
    report.confusion_png(os.path.join(args.out, report.CONFUSION_PNG), te["argmax"]["confusion"], classes,
                         f"{args.name}/{args.version} test range, argmax")
    report.lead_time_png(os.path.join(args.out, report.LEAD_TIME_PNG), lead_hours, te["leadTime"]["failures"],
                         te["leadTime"]["caughtAtLeast24h"],
                         f"{args.name}/{args.version} test range, lead time of the first alert")
    report.write_markdown(args.out, model_json, results)
    print(json.dumps({
        "out": args.out, "algorithm": chosen, "onnxBytes": len(onnx_bytes),
        "testLeadTimeRecall": te["leadTime"]["recall"], "testBucketPrecision": te["alert"]["bucketPrecision"],
        "testEpisodePrecision": te["alert"]["episode"]["precision"], "goalMet": bool(goal),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
