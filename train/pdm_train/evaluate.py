"""Evaluation: per-class metrics, the alert rule, alert precision and the spec's lead-time recall.

Definitions (also written into every report):

- Alert rule: at bucket B of machine m an alert for component c fires iff P(c) >= t_c. The thresholds t_c
  are chosen on the validation range only: t_c is the smallest threshold from which the one-sided 95 %
  Wilson lower bound of the bucket alert precision for c stays >= the target for every higher threshold.
  The lower bound (rather than the measured precision) leaves a margin for sampling noise: a validation
  range holds a few hundred alerts per component, so a measured 0.70 could as well be 0.66 on the next
  range; "for every higher threshold" picks a stable point of the precision curve, not a lucky spike.
- Bucket alert precision (the "alert precision" of the product goal): among all (machine, bucket, c) alerts,
  the share for which machine m has a failure of c with ts in (B, B + 7 d], i.e. the alert's claim "c fails
  within the label horizon" came true. This equals `label == c` except when two different components fail
  within the same 7 days.
- Episode alert precision: consecutive alerts of one (machine, c) (gaps of at most one bucket) form an
  episode; it is true iff a failure of c on m has ts in (first alert, last alert + 7 d].
- Lead-time recall (FEATURES.md): share of failures F for which some bucket B in [F - 7 d, F - 24 h] of
  that machine alerted for the failing component. Only failures whose whole window [F - 7 d, F - 24 h] lies
  inside the evaluated range count. The lead time of a caught failure is F minus its earliest alert in
  [F - 7 d, F).
- Warming up (the package's cold-start rule, mirrored by src/score/decision.ts): a row whose 36 h windows
  hold no reading older than its 24 h windows (for every sensor, mean_36h == mean_24h and std_36h == std_24h
  exactly: no telemetry in (B - 36 h, B - 24 h]) never alerts. That is a machine's first two buckets, or
  its first buckets after a telemetry gap of 12 h or more. Such rows are left out of the threshold choice.
- Unseen fleets: fleets simulated with seeds the model never saw. Calibration fleets take part in the
  threshold choice: t_c must satisfy the rule above on the validation range and on every calibration fleet
  separately (the worst set decides), and, because precision varies between fleets more than within one
  (comp1 at a fixed threshold: 0.72-0.79 over six fleets), the one-sided 95 % prediction bound (Student t
  over the calibration fleets) for a new fleet of the lower end of its 95 % Wilson interval must be >= the
  target too, at t_c (its stability comes from the first condition).
  Evaluation fleets take no part in any choice; their per-component precision is reported with a two-sided
  95 % Wilson interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix, precision_recall_fscore_support

from .data import Failures
from .spec import LABEL_HORIZON_MS

HOUR_MS = 3_600_000
LEAD_MIN_MS = 24 * HOUR_MS
THRESHOLD_GRID = np.round(np.arange(0.02, 0.991, 0.01), 2)


def per_class(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict:
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(len(classes))), zero_division=0
    )
    return {
        c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, c in enumerate(classes)
    }


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> list[list[int]]:
    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes))).tolist()


def macro_average_precision(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean over the component classes (1..) of the area under the precision-recall curve (threshold-free)."""
    aps = [average_precision_score(y_true == k, proba[:, k]) for k in range(1, proba.shape[1]) if (y_true == k).any()]
    return float(np.mean(aps)) if aps else 0.0


def failure_within_horizon(machine: np.ndarray, bucket: np.ndarray, failures: Failures, n_comp: int) -> np.ndarray:
    """truth[i, c-1] = machine[i] has a failure of comp c with ts in (bucket[i], bucket[i] + 7 d]."""
    truth = np.zeros((len(machine), n_comp), dtype=bool)
    for m in np.unique(machine):
        rows = np.flatnonzero(machine == m)
        fm = failures.machine == m
        for t, c in zip(failures.ts_ms[fm], failures.comp[fm]):
            b = bucket[rows]
            truth[rows[(b < t) & (t <= b + LABEL_HORIZON_MS)], c - 1] = True
    return truth


def alerts(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """alerts[i, c-1]: the alert rule fires for component c at row i."""
    return proba[:, 1:] >= thresholds[None, :]


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """Two-sided Wilson score interval of a proportion (z = 1.96: 95 %); None without trials."""
    if n == 0:
        return None
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre - margin) / (1 + z * z / n)), float((centre + margin) / (1 + z * z / n))


def warm_up_pairs(feature_names: list[str]) -> list[tuple[int, int]]:
    """(24 h, 36 h) feature index pairs of every sensor's mean and std: equal while warming up."""
    index = {n: i for i, n in enumerate(feature_names)}
    return [
        (index[f"{s}_{stat}_24h"], index[f"{s}_{stat}_36h"])
        for s in ("volt", "rotate", "pressure", "vibration")
        for stat in ("mean", "std")
    ]


def warming_up(X: np.ndarray, feature_names: list[str]) -> np.ndarray:
    """warming[i]: row i is warming up (see module doc). Exact equality, as in the TypeScript scorer: pass
    the float64 features (equal float64 values stay equal in float32, so float32 works too)."""
    warm = np.ones(len(X), dtype=bool)
    for a, b in warm_up_pairs(feature_names):
        warm &= X[:, a] == X[:, b]
    return warm


def decide(proba: np.ndarray, thresholds: np.ndarray, warming: np.ndarray | None) -> np.ndarray:
    """The package's decision: alerts(proba, thresholds) with warming-up rows never alerting."""
    fired = alerts(proba, thresholds)
    if warming is not None:
        fired &= ~warming[:, None]
    return fired


def per_component_precision(fired: np.ndarray, truth: np.ndarray, components: list[str], z: float = 1.96) -> dict:
    """Bucket alert precision per component and pooled, each with its two-sided Wilson interval."""
    out = {}
    for k, c in enumerate(components):
        n = int(fired[:, k].sum())
        t = int(truth[fired[:, k], k].sum())
        out[c] = {"alerts": n, "true": t, "precision": t / n if n else None, "ci95": wilson_interval(t, n, z)}
    n = int(fired.sum())
    t = int(truth[fired].sum())
    out["pooled"] = {"alerts": n, "true": t, "precision": t / n if n else None, "ci95": wilson_interval(t, n, z)}
    return out


def wilson_lower(successes: int, n: int, z: float) -> float:
    """Lower end of the Wilson score interval of a proportion (z = 1.645: one-sided 95 %)."""
    if n == 0:
        return 0.0
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre - margin) / (1 + z * z / n))


def _lower_bounds(proba: np.ndarray, truth: np.ndarray, k: int, target: float, min_alerts: int, z: float) -> np.ndarray:
    """Wilson lower bound of component k's precision at every grid threshold; NaN where too few alerts to
    certify the target even if all were right (no evidence either way)."""
    prec = []
    for t in THRESHOLD_GRID:
        fired = proba[:, k + 1] >= t
        n = int(fired.sum())
        informative = n >= min_alerts and wilson_lower(n, n, z) >= target
        prec.append(wilson_lower(int(truth[fired, k].sum()), n, z) if informative else np.nan)
    return np.array(prec)


def prediction_lower(values: np.ndarray, confidence: float = 0.95) -> float:
    """One-sided lower prediction bound for one more draw from the population `values` were drawn from
    (normal model): mean - t_{conf, K-1} * sd * sqrt(1 + 1/K). NaN with fewer than 3 values."""
    from scipy.stats import t as student_t

    k = len(values)
    if k < 3:
        return float("nan")
    sd = float(np.std(values, ddof=1))
    return float(np.mean(values) - student_t.ppf(confidence, k - 1) * sd * np.sqrt(1 + 1 / k))


def choose_thresholds_sets(
    sets: list[tuple[np.ndarray, np.ndarray]],
    target: float,
    min_alerts: int = 5,
    z: float = 1.645,
    fleets: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[np.ndarray, list[bool]]:
    """Per component, the smallest grid threshold from which, for it and every higher threshold,
    (a) the Wilson lower bound of precision is >= target on every (proba, truth) set of `sets` plus `fleets`
    (the worst set decides), and, at the threshold itself, (b) with 3 or more `fleets`, the one-sided 95 % prediction bound for one more
    fleet of the lower end of its two-sided 95 % Wilson interval is >= target: a new fleet's measured
    precision, confidence interval included, is expected to clear the target. (b) covers the variation
    between fleets, which is larger than the sampling noise within one. Where no threshold qualifies, the one with the best worst-set bound is used and flagged."""
    fleets = fleets or []
    all_sets = sets + fleets
    n_comp = all_sets[0][1].shape[1]
    thresholds, reached = [], []
    for k in range(n_comp):
        bounds = np.vstack([_lower_bounds(p, t, k, target, min_alerts, z) for p, t in all_sets])
        known = ~np.isnan(bounds)
        # A threshold is acceptable when every informative set holds the target and at least one is informative.
        ok = np.where(known, bounds >= target, True).all(axis=0)
        some = known.any(axis=0)
        # (b) at the threshold itself: its stability is (a)'s; at high thresholds a fleet holds few alerts and
        # its interval widens, which says nothing about the precision there.
        ok_b = np.ones(len(THRESHOLD_GRID), dtype=bool)
        if len(fleets) >= 3:
            for i, t in enumerate(THRESHOLD_GRID):
                lows = []
                for p, tr in fleets:
                    fired = p[:, k + 1] >= t
                    n = int(fired.sum())
                    # The lower end of the fleet's 95 % interval: what a report of that fleet would certify.
                    lows.append((wilson_interval(int(tr[fired, k].sum()), n) or (0.0, 0.0))[0])
                ok_b[i] = prediction_lower(np.array(lows)) >= target
        chosen = next((i for i in range(len(THRESHOLD_GRID)) if some[i] and ok_b[i] and ok[i:].all()), None)
        if chosen is None:
            worst = np.where(known, bounds, np.inf).min(axis=0)
            worst[~some] = np.nan
            best = int(np.nanargmax(worst)) if not np.isnan(worst).all() else len(THRESHOLD_GRID) - 1
            thresholds.append(float(THRESHOLD_GRID[best]))
            reached.append(False)
        else:
            thresholds.append(float(THRESHOLD_GRID[chosen]))
            reached.append(True)
    return np.array(thresholds), reached


def choose_thresholds(
    proba: np.ndarray, truth: np.ndarray, target: float, min_alerts: int = 5, z: float = 1.645
) -> tuple[np.ndarray, list[bool]]:
    """choose_thresholds_sets with one set (the validation range)."""
    return choose_thresholds_sets([(proba, truth)], target, min_alerts, z)


@dataclass(frozen=True)
class LeadTime:
    failures: int
    caught: int
    recall: float
    lead_hours: list[float]  # per caught-or-late-caught failure: F - earliest alert in [F - 7 d, F)
    per_component: dict


def lead_time(
    machine: np.ndarray,
    bucket: np.ndarray,
    fired: np.ndarray,
    failures: Failures,
    range_start: int,
    range_end: int,
    components: list[str],
) -> LeadTime:
    n_total = n_caught = 0
    hours: list[float] = []
    per = {c: {"failures": 0, "caught": 0} for c in components}
    for m, t, c in zip(failures.machine, failures.ts_ms, failures.comp):
        if t - LABEL_HORIZON_MS < range_start or t - LEAD_MIN_MS > range_end:
            continue
        rows = np.flatnonzero(machine == m)
        if len(rows) == 0:
            continue
        b = bucket[rows]
        f = fired[rows, c - 1]
        n_total += 1
        per[components[c - 1]]["failures"] += 1
        early = f & (b >= t - LABEL_HORIZON_MS) & (b <= t - LEAD_MIN_MS)
        if early.any():
            n_caught += 1
            per[components[c - 1]]["caught"] += 1
        any_before = f & (b >= t - LABEL_HORIZON_MS) & (b < t)
        if any_before.any():
            hours.append(float((t - b[any_before].min()) / HOUR_MS))
    for v in per.values():
        v["recall"] = v["caught"] / v["failures"] if v["failures"] else None
    return LeadTime(n_total, n_caught, n_caught / n_total if n_total else float("nan"), hours, per)


def episode_precision(machine: np.ndarray, bucket: np.ndarray, fired: np.ndarray, failures: Failures, bucket_ms: int) -> dict:
    episodes = true_episodes = 0
    for m in np.unique(machine):
        rows = np.flatnonzero(machine == m)
        fm = failures.machine == m
        for k in range(fired.shape[1]):
            b = bucket[rows][fired[rows, k]]
            if len(b) == 0:
                continue
            ft = failures.ts_ms[fm & (failures.comp == k + 1)]
            starts = np.concatenate([[0], np.flatnonzero(np.diff(b) > 2 * bucket_ms) + 1])
            ends = np.concatenate([starts[1:] - 1, [len(b) - 1]])
            for s, e in zip(starts, ends):
                episodes += 1
                if ((ft > b[s]) & (ft <= b[e] + LABEL_HORIZON_MS)).any():
                    true_episodes += 1
    return {"episodes": episodes, "true": true_episodes, "precision": true_episodes / episodes if episodes else None}


def cold_start(proba: np.ndarray, thresholds: np.ndarray, warming: np.ndarray, truth: np.ndarray,
               machine: np.ndarray) -> dict:
    """What the thresholds alone would do on warming-up rows (the rule suppresses all of it)."""
    fired = alerts(proba[warming], thresholds)
    n = int(fired.sum())
    t = int(truth[warming][fired].sum())
    return {
        "rows": int(warming.sum()),
        "machinesWithWarmRows": int(len(np.unique(machine[warming]))),
        "machinesAlertingUnsuppressed": int(len(np.unique(machine[warming][fired.any(axis=1)]))),
        "alertsUnsuppressed": n,
        "trueUnsuppressed": t,
        "precisionUnsuppressed": t / n if n else None,
        "ci95Unsuppressed": wilson_interval(t, n),
    }


def evaluate_range(
    proba: np.ndarray,
    y: np.ndarray,
    machine: np.ndarray,
    bucket: np.ndarray,
    failures: Failures,
    thresholds: np.ndarray,
    range_start: int,
    range_end: int,
    classes: list[str],
    bucket_ms: int,
    warming: np.ndarray | None = None,
) -> dict:
    pred = proba.argmax(axis=1)
    truth = failure_within_horizon(machine, bucket, failures, len(classes) - 1)
    fired = decide(proba, thresholds, warming)
    n_alerts = int(fired.sum())
    per_comp_alert = per_component_precision(fired, truth, classes[1:])
    pooled = per_comp_alert.pop("pooled")
    argmax_fired = np.stack([pred == k + 1 for k in range(len(classes) - 1)], axis=1)
    lt = lead_time(machine, bucket, fired, failures, range_start, range_end, classes[1:])
    at_rule = alert_prediction(proba, thresholds)
    if warming is not None:
        at_rule = np.where(warming, 0, at_rule)
    return {
        "rows": int(len(y)),
        "classCounts": {c: int((y == i).sum()) for i, c in enumerate(classes)},
        "argmax": {
            "perClass": per_class(y, pred, classes),
            "confusion": confusion(y, pred, len(classes)),
            # The argmax read as an alert rule ("machines at risk" before the package's rule was applied).
            "alertPrecision": per_component_precision(argmax_fired, truth, classes[1:]),
        },
        "macroAveragePrecision": macro_average_precision(y, proba),
        "alert": {
            "alerts": n_alerts,
            "bucketPrecision": float(truth[fired].mean()) if n_alerts else None,
            "bucketPrecisionCi95": pooled["ci95"],
            "perComponent": per_comp_alert,
            "episode": episode_precision(machine, bucket, fired, failures, bucket_ms),
            "perClassAtAlertRule": per_class(y, at_rule, classes),
        },
        "coldStart": cold_start(proba, thresholds, warming, truth, machine) if warming is not None else None,
        "leadTime": {
            "failures": lt.failures,
            "caughtAtLeast24h": lt.caught,
            "recall": lt.recall,
            "perComponent": lt.per_component,
            "medianLeadHours": float(np.median(lt.lead_hours)) if lt.lead_hours else None,
        },
        "_leadHours": lt.lead_hours,
    }


def alert_prediction(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """One class per row under the alert rule: the alerting component with the highest P(c)/t_c, else none."""
    ratio = proba[:, 1:] / thresholds[None, :]
    best = ratio.argmax(axis=1)
    return np.where(ratio.max(axis=1) >= 1.0, best + 1, 0)
