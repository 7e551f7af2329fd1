"""The package's human-readable report: report.md, confusion-matrix PNG, lead-time histogram PNG."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # no display on CI machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .evaluate import __doc__ as DEFINITIONS  # noqa: E402
from .evaluate import wilson_interval  # noqa: E402

CONFUSION_PNG = "confusion_matrix.png"
LEAD_TIME_PNG = "lead_time_histogram.png"


def confusion_png(path: str, matrix: list[list[int]], classes: list[str], title: str) -> None:
    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual (label)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="share of actual row")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def lead_time_png(path: str, lead_hours: list[float], failures: int, caught: int, title: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=100)
    bins = np.arange(0, 7 * 24 + 12, 12)
    ax.hist(lead_hours, bins=bins, color="#4477aa", edgecolor="white")
    ax.axvline(24, color="#cc3311", linestyle="--", label="24 h (minimum useful lead)")
    ax.set_xlabel("hours from first alert (within 7 d) to failure")
    ax.set_ylabel("failures")
    ax.set_title(
        f"{title}\n{caught} of {failures} failures alerted ≥ 24 h ahead, {len(lead_hours)} alerted before failing",
        fontsize=10,
    )
    ax.set_xticks(bins[::2])
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fmt(x) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def _source(training: dict) -> str:
    src = training["source"]
    if isinstance(src, dict) and src.get("summary"):
        # `pdm-stream training-set` says itself where its rows came from (and the sidecar has the details).
        src = src["summary"]
    elif isinstance(src, dict):
        parts = [f"{src.get('kind', 'features')} {src.get('dir', '')}".strip()]
        parts += [f"{k} {src[k]}" for k in ("records", "machines") if k in src]
        src = ", ".join(parts)
    note = training.get("dataNote") or ""
    return f"`{note}` → {src}" if note else str(src)


def _ci(v: dict) -> str:
    """precision [low, high] (alerts) of a per_component_precision entry."""
    if v.get("precision") is None:
        return "– (0 alerts)"
    lo, hi = v["ci95"]
    return f"{v['precision']:.3f} [{lo:.3f}, {hi:.3f}] ({v['alerts']})"


def _unseen_fleets(m: dict) -> list[str]:
    fleets = m["metrics"].get("unseenFleets") or {}
    if not fleets:
        return []
    comps = list(m["alertRule"]["thresholds"])
    lines = [
        "",
        "## Unseen fleets",
        "",
        "Fleets simulated with seeds the model never saw (100 machines × 240 days each, whole range). Calibration "
        "fleets took part in the threshold choice; evaluation fleets took part in no choice. Bucket alert precision "
        "per component at the package's decision, with the two-sided 95 % Wilson interval and the number of alerts:",
        "",
        "| fleet | role | " + " | ".join(comps) + " | pooled | lead-time recall |",
        "|---|---|" + "---|" * len(comps) + "---|---|",
    ]
    for name, f in fleets.items():
        per = f["alert"]["perComponent"]
        pooled = {"precision": f["alert"]["bucketPrecision"], "ci95": f["alert"]["bucketPrecisionCi95"],
                  "alerts": f["alert"]["alerts"]}
        lines.append(f"| {name} | {f['role']} | " + " | ".join(_ci(per[c]) for c in comps)
                     + f" | {_ci(pooled)} | {_fmt(f['leadTime']['recall'])} |")
    ok = m["metrics"].get("perComponentTargetOnEvaluationFleets")
    lines += [
        "",
        f"Every component ≥ {m['alertRule']['targetPrecision']} on every evaluation fleet: **{'yes' if ok else 'no'}**.",
        "",
        "The same fleets read at the argmax (what `run`, `score` and `report` used before the package's rule was "
        "applied), per component:",
        "",
        "| fleet | " + " | ".join(comps) + " | pooled |",
        "|---|" + "---|" * len(comps) + "---|",
    ]
    for name, f in fleets.items():
        per = f["argmax"]["alertPrecision"]
        lines.append(f"| {name} | " + " | ".join(_ci(per[c]) for c in comps) + f" | {_ci(per['pooled'])} |")
    return lines


def _cold_start(m: dict) -> list[str]:
    fleets = m["metrics"].get("unseenFleets") or {}
    test = m["metrics"]["test"]
    rows = [(n, f["coldStart"]) for n, f in fleets.items() if f.get("coldStart")]
    if not rows:
        return []
    lines = [
        "",
        "## Cold start",
        "",
        "Warming-up rows (see Definitions) never alert. What the thresholds alone would do on them (each fleet "
        "starts all its machines at once, so its warming-up rows are every machine's first two buckets):",
        "",
        "| fleet | warming-up rows | machines that would alert | alerts | precision [95 % CI] |",
        "|---|---|---|---|---|",
    ]
    for n, c in rows:
        ci = c["ci95Unsuppressed"]
        lines.append(f"| {n} | {c['rows']} | {c['machinesAlertingUnsuppressed']} of {c['machinesWithWarmRows']} | "
                     f"{c['alertsUnsuppressed']} | {_fmt(c['precisionUnsuppressed'])}"
                     + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") + " |")
    hist = m["metrics"].get("alertsByHistory")
    if hist:
        lines += [
            "",
            "By history (hours since the machine's first bucket), pooled over the evaluation fleets, with the "
            "thresholds alone (no warm-up rule). The rule covers the rows whose 36 h windows add nothing to the "
            "24 h ones (0 h and 12 h). At 24 h the 36 h window holds one reading from before the 24 h window; "
            "its features do not tell it exactly from a steady-state row, so the thresholds decide it:",
            "",
            "| history | rows | warming up | alerts per row | precision [95 % CI] (true of alerts) |",
            "|---|---|---|---|---|",
        ]
        for h in hist:
            span = (f"{h['fromHours']} h" if h["toHours"] == h["fromHours"]
                    else f"{h['fromHours']}–{h['toHours']} h" if h["toHours"] is not None else f"≥ {h['fromHours']} h")
            ci = wilson_interval(h["true"], h["alerts"])
            lines.append(f"| {span} | {h['rows']} | {h['warmingUp']} | {_fmt(h['alertsPerRow'])} | "
                         f"{_fmt(h['precision'])}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
                         + f" ({h['true']} of {h['alerts']}) |")
    exp = m["metrics"].get("coldStartExperiment")
    if exp:
        lines += [
            "",
            f"The alternative, **the model learns cold start**: the same algorithm trained with "
            f"{exp['extraWarmRows']} more warming-up rows (staggered-start copies of the training fleet, "
            "`train/experiments/stagger_fleet.py`, rows whose label window ends in the training range) and "
            "thresholds chosen the same way on every row, including warming-up ones "
            f"({', '.join(f'{c} {t}' for c, t in exp['learnedThresholds'].items())}). On the evaluation fleets:",
            "",
            "| fleet | variant | alerts on warming-up rows (true) | bucket precision | lead-time recall |",
            "|---|---|---|---|---|",
        ]
        for n, res in exp["fleets"].items():
            for k, v in res.items():
                lines.append(f"| {n} | {'warm-up rule (this package)' if k == 'rule' else 'model learns'} | "
                             f"{v['warmAlerts']} ({v['warmTrue']}) | {_fmt(v['bucketPrecision'])} | {_fmt(v['leadTimeRecall'])} |")
        learned = [r["learned"] for r in exp["fleets"].values()]
        rule_ = [r["rule"] for r in exp["fleets"].values()]
        n_warm = sum(v["warmAlerts"] for v in learned)
        t_warm = sum(v["warmTrue"] for v in learned)
        d_prec = [a["bucketPrecision"] - b["bucketPrecision"] for a, b in zip(learned, rule_)]
        d_ltr = [a["leadTimeRecall"] - b["leadTimeRecall"] for a, b in zip(learned, rule_)]
        lines += [
            "",
            f"Learning it leaves {min(v['warmAlerts'] for v in learned)}–{max(v['warmAlerts'] for v in learned)} "
            f"cold-start alerts per evaluation fleet (precision {t_warm / n_warm if n_warm else 0:.2f} over "
            f"{n_warm}), against none with the rule; bucket precision changes by {min(d_prec):+.3f} to "
            f"{max(d_prec):+.3f} and lead-time recall by {min(d_ltr):+.3f} to {max(d_ltr):+.3f}. This package uses "
            "the rule (`alertRule.warmingUp: suppress`): it is also exact and needs no per-machine state, so the "
            "engine, `score` and a rescore of logged feature vectors decide the same way.",
        ]
    return lines


def _per_class_table(per: dict) -> list[str]:
    lines = ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for c, v in per.items():
        lines.append(f"| {c} | {_fmt(v['precision'])} | {_fmt(v['recall'])} | {_fmt(v['f1'])} | {v['support']} |")
    return lines


def write_markdown(out_dir: str, model_json: dict, candidates: dict) -> None:
    m = model_json
    test = m["metrics"]["test"]
    val = m["metrics"]["validation"]
    rule = m["alertRule"]
    lines = [
        f"# Model package {m['name']}/{m['version']}",
        "",
        f"Created {m['createdAt']}; feature set {m['featureSet']} (spec hash `{m['specHash']}`); "
        f"algorithm **{m['algorithm']['chosen']}**.",
        "",
        "## Data and split",
        "",
        f"Source: {_source(m['training'])} ({m['training']['rows']} labelled rows, "
        f"{m['training']['failures']} failures).",
        "",
        "| range | first bucket | last bucket | rows |",
        "|---|---|---|---|",
    ]
    for k in ("train", "validation", "test"):
        r = m["ranges"][k]
        lines.append(f"| {k} | {r['start']} | {r['end']} | {r['rows']} |")
    lines += [
        "",
        "Rows whose 7-day label window reaches into the next range (and the last 7 days of the file, whose labels"
        " are censored) are left out.",
        "",
        "## Model choice (validation range)",
        "",
        "| candidate | lead-time recall @ rule | bucket alert precision | macro AP (comp classes) | ONNX bytes | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in candidates.items():
        lines.append(
            f"| {name} | {_fmt(c['leadTimeRecall'])} | {_fmt(c['bucketPrecision'])} | {_fmt(c['macroAveragePrecision'])}"
            f" | {c['onnxBytes']} | {c['fitSeconds']:.1f} |"
        )
    lines += ["", m["algorithm"]["why"], "", "## Alert rule", ""]
    lines.append(
        f"Alert for component c when P(c) ≥ t_c and the row is not warming up; thresholds chosen on "
        f"{rule['chosenOn']} so that the bucket alert precision of each component holds "
        f"{rule['targetPrecision']} on every set and is predicted to hold it, confidence interval included, on a "
        "new fleet (see Definitions): " + ", ".join(f"{c} {t}" for c, t in rule["thresholds"].items())
        + ("" if all(rule["targetReached"].values()) else f" (target not reached for: "
           + ", ".join(c for c, ok in rule["targetReached"].items() if not ok) + ")")
        + ". The argmax class stays in every prediction as \"most likely\"; alerts and `report` use this rule."
    )
    lt = test["leadTime"]
    lines += [
        "",
        "## Test range (later than training and validation)",
        "",
        f"- **Lead-time recall** (failures alerted for the right component 24 h – 7 d ahead): "
        f"**{_fmt(lt['recall'])}** ({lt['caughtAtLeast24h']} of {lt['failures']} failures); median lead of the first alert "
        f"{lt['medianLeadHours']:.0f} h." if lt["medianLeadHours"] is not None else "no alert.",
        f"- **Bucket alert precision**: **{_fmt(test['alert']['bucketPrecision'])}** over {test['alert']['alerts']} alerts.",
        f"- Episode alert precision: {_fmt(test['alert']['episode']['precision'])} "
        f"({test['alert']['episode']['true']} of {test['alert']['episode']['episodes']} alert episodes).",
        f"- Product goal (lead-time recall ≥ 0.8 at alert precision ≥ 0.7): "
        f"**{'met' if m['metrics']['goalMet'] else 'not met'}** on the test range.",
        f"- Validation, for comparison: lead-time recall {_fmt(val['leadTime']['recall'])}, bucket alert precision "
        f"{_fmt(val['alert']['bucketPrecision'])}.",
        "",
        "Per component at the alert rule (test):",
        "",
        "| component | failures | caught ≥ 24 h | lead-time recall | bucket precision [95 % CI] (alerts) |",
        "|---|---|---|---|---|",
    ]
    for c, v in lt["perComponent"].items():
        a = test["alert"]["perComponent"][c]
        lines.append(f"| {c} | {v['failures']} | {v['caught']} | {_fmt(v['recall'])} | {_ci(a)} |")
    lines += _unseen_fleets(m)
    lines += _cold_start(m)
    lines += ["", "## Per-class metrics (test range)", ""]
    lines += ["", "Per-class metrics at the alert rule (test; a row's class is its strongest alert, else none):", ""]
    lines += _per_class_table(test["alert"]["perClassAtAlertRule"])
    lines += ["", "Per-class metrics at argmax of the probabilities (test):", ""]
    lines += _per_class_table(test["argmax"]["perClass"])
    lines += [
        "",
        f"![confusion matrix]({CONFUSION_PNG})",
        "",
        f"![lead-time histogram]({LEAD_TIME_PNG})",
        "",
        "## ONNX parity",
        "",
        f"Training library vs Python onnxruntime on {m['parity']['rows']} float32 test rows: max abs difference "
        f"{m['parity']['maxAbsDiff']:.3g}, argmax agreement {m['parity']['argmaxAgreement']:.4f}. "
        f"`fixtures.json` holds {m['parity']['fixtureRows']} rows with onnxruntime's probabilities for the "
        "TypeScript parity test.",
        "",
        "## Definitions",
        "",
        DEFINITIONS.strip(),
        "",
        "## Libraries",
        "",
        ", ".join(f"{k} {v}" for k, v in m["libraries"].items()),
        "",
    ]
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
