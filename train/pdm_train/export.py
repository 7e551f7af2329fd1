"""ONNX export with a plain probability tensor, parity check against the training library, fixtures."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import to_onnx
from skl2onnx.common import tree_ensemble
from skl2onnx.common.data_types import FloatTensorType

def _patch_skl2onnx_bool_attribute() -> None:
    """skl2onnx 1.20 passes a Python bool (`missing = False`) for leaf nodes of HistGradientBoosting trees into
    an integer ONNX attribute, which protobuf >= 5 rejects. Cast it to int at the one place it is created."""
    orig = tree_ensemble.add_node
    if getattr(orig, "_pdm_patched", False):
        return

    def add_node(*args, **kwargs):
        v = kwargs.get("nodes_missing_value_tracks_true")
        if isinstance(v, (bool, np.bool_)):
            kwargs["nodes_missing_value_tracks_true"] = int(v)
        return orig(*args, **kwargs)

    add_node._pdm_patched = True  # type: ignore[attr-defined]
    tree_ensemble.add_node = add_node


_patch_skl2onnx_bool_attribute()

INPUT_NAME = "features"
PROBABILITIES = "probabilities"
# Opsets that onnxruntime-node 1.30 and the pinned Python onnxruntime both run (TreeEnsembleClassifier is
# ai.onnx.ml v3 here).
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def export(model, n_features: int, metadata: dict[str, str]) -> bytes:
    proto = to_onnx(
        model,
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        # zipmap=False: probabilities come out as one float tensor [n, n_classes] instead of a list of maps,
        # which is what the TypeScript scorer reads without any per-row allocation.
        options={id(model): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    outputs = [o.name for o in proto.graph.output]
    if PROBABILITIES not in outputs:
        raise RuntimeError(f"ONNX outputs are {outputs}, no {PROBABILITIES!r}")
    for k, v in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def session(onnx_bytes: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])


def run(sess: ort.InferenceSession, X: np.ndarray) -> np.ndarray:
    return sess.run([PROBABILITIES], {INPUT_NAME: np.ascontiguousarray(X, dtype=np.float32)})[0]


def parity(model, sess: ort.InferenceSession, X: np.ndarray) -> dict:
    """Training library vs Python onnxruntime on the same float32 rows."""
    ref = model.predict_proba(X.astype(np.float32))
    got = run(sess, X)
    diff = np.abs(ref - got)
    row_max = diff.max(axis=1)
    return {
        "rows": int(len(X)),
        "maxAbsDiff": float(diff.max()),
        "meanAbsDiff": float(diff.mean()),
        "rowsOver1e-5": int((row_max > 1e-5).sum()),
        "argmaxAgreement": float((ref.argmax(axis=1) == got.argmax(axis=1)).mean()),
    }


def fixtures(sess: ort.InferenceSession, X: np.ndarray, y: np.ndarray, machine: np.ndarray, bucket: np.ndarray,
             splits: list[tuple[int, float]], per_class: int, seed: int) -> dict:
    """A few dozen rows (a few of every class, plus rows sitting exactly on split thresholds of the trees,
    where float32 comparison edges would show) with Python onnxruntime's probabilities."""
    rng = np.random.default_rng(seed)
    picks: list[int] = []
    for k in np.unique(y):
        idx = np.flatnonzero(y == k)
        picks += rng.choice(idx, size=min(per_class, len(idx)), replace=False).tolist()
    rows = X[sorted(picks)].astype(np.float32)
    meta = [{"machineId": int(machine[i]), "bucketTs": int(bucket[i]), "label": int(y[i])} for i in sorted(picks)]
    edge = rows[: min(8, len(rows))].copy() if splits else rows[:0]
    for j in range(len(edge)):
        f, v = splits[int(rng.integers(0, len(splits)))]
        edge[j, f] = np.float32(v)
        meta.append({"machineId": -1, "bucketTs": -1, "label": -1, "edge": f"feature {f} set to split value {v!r}"})
    rows = np.vstack([rows, edge])
    probs = run(sess, rows)
    return {
        "note": "rows are float32 values (exact as JSON doubles); probabilities from Python onnxruntime",
        "rows": [[float(v) for v in r] for r in rows],
        "rowInfo": meta,
        "probabilities": [[float(v) for v in p] for p in probs],
    }


def split_points(onnx_bytes: bytes) -> list[tuple[int, float]]:
    """(feature index, threshold) of every branch node of the exported tree ensembles."""
    proto = onnx.load_from_string(onnx_bytes)
    out: list[tuple[int, float]] = []
    for node in proto.graph.node:
        if node.op_type.startswith("TreeEnsemble"):
            attrs = {a.name: a for a in node.attribute}
            modes = [m.decode() for m in attrs["nodes_modes"].strings]
            feats = list(attrs["nodes_featureids"].ints)
            vals = list(attrs["nodes_values"].floats)
            out += [(f, v) for m, f, v in zip(modes, feats, vals) if m != "LEAF"]
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
