"""The package's human-readable report: report.md, confusion-matrix PNG, lead-time histogram PNG."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # no display on CI machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .evaluate import __doc__ as DEFINITIONS  # noqa: E402

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
    if isinstance(src, dict):
        parts = [f"{src.get('kind', 'features')} {src.get('dir', '')}".strip()]
        parts += [f"{k} {src[k]}" for k in ("records", "machines") if k in src]
        src = ", ".join(parts)
    note = training.get("dataNote") or ""
    return f"`{note}` → {src}" if note else str(src)


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
        f"Alert for component c when P(c) ≥ t_c, thresholds chosen on validation so that the one-sided 95 % "
        f"lower bound of the bucket alert precision is ≥ {rule['targetPrecision']} (see Definitions): " + ", ".join(f"{c} {t}" for c, t in rule["thresholds"].items())
        + ("" if all(rule["targetReached"].values()) else f" (target not reached on validation for: "
           + ", ".join(c for c, ok in rule["targetReached"].items() if not ok) + ")")
        + "."
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
        "| component | failures | caught ≥ 24 h | lead-time recall | alerts | bucket precision |",
        "|---|---|---|---|---|---|",
    ]
    for c, v in lt["perComponent"].items():
        a = test["alert"]["perComponent"][c]
        lines.append(f"| {c} | {v['failures']} | {v['caught']} | {_fmt(v['recall'])} | {a['alerts']} | {_fmt(a['precision'])} |")
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
