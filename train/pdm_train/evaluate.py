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


def wilson_lower(successes: int, n: int, z: float) -> float:
    """Lower end of the Wilson score interval of a proportion (z = 1.645: one-sided 95 %)."""
    if n == 0:
        return 0.0
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre - margin) / (1 + z * z / n))


def choose_thresholds(
    proba: np.ndarray, truth: np.ndarray, target: float, min_alerts: int = 5, z: float = 1.645
) -> tuple[np.ndarray, list[bool]]:
    """Per component, the smallest grid threshold from which the Wilson lower bound of precision stays
    >= target (see module doc). Where no threshold reaches the target, the one with the best bound is used
    and flagged."""
    thresholds, reached = [], []
    for k in range(truth.shape[1]):
        prec = []
        for t in THRESHOLD_GRID:
            fired = proba[:, k + 1] >= t
            n = int(fired.sum())
            # Too few alerts to certify the target even if all were right: no evidence either way.
            informative = n >= min_alerts and wilson_lower(n, n, z) >= target
            prec.append(wilson_lower(int(truth[fired, k].sum()), n, z) if informative else np.nan)
        prec = np.array(prec)
        ok = np.where(np.isnan(prec), True, prec >= target)
        chosen = None
        for i in range(len(THRESHOLD_GRID)):
            if not np.isnan(prec[i]) and ok[i:].all():
                chosen = i
                break
        if chosen is None:
            best = np.nanargmax(prec) if not np.isnan(prec).all() else len(THRESHOLD_GRID) - 1
            thresholds.append(float(THRESHOLD_GRID[best]))
            reached.append(False)
        else:
            thresholds.append(float(THRESHOLD_GRID[chosen]))
            reached.append(True)
    return np.array(thresholds), reached


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
) -> dict:
    pred = proba.argmax(axis=1)
    truth = failure_within_horizon(machine, bucket, failures, len(classes) - 1)
    fired = alerts(proba, thresholds)
    n_alerts = int(fired.sum())
    per_comp_alert = {}
    for k, c in enumerate(classes[1:]):
        n = int(fired[:, k].sum())
        per_comp_alert[c] = {"alerts": n, "precision": float(truth[fired[:, k], k].mean()) if n else None}
    lt = lead_time(machine, bucket, fired, failures, range_start, range_end, classes[1:])
    return {
        "rows": int(len(y)),
        "classCounts": {c: int((y == i).sum()) for i, c in enumerate(classes)},
        "argmax": {"perClass": per_class(y, pred, classes), "confusion": confusion(y, pred, len(classes))},
        "macroAveragePrecision": macro_average_precision(y, proba),
        "alert": {
            "alerts": n_alerts,
            "bucketPrecision": float(truth[fired].mean()) if n_alerts else None,
            "perComponent": per_comp_alert,
            "episode": episode_precision(machine, bucket, fired, failures, bucket_ms),
            "perClassAtAlertRule": per_class(y, alert_prediction(proba, thresholds), classes),
        },
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
