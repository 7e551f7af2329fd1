"""The two tree ensembles compared on the validation range.

Class imbalance is handled with class weights inversely proportional to class frequency in the training
range ("balanced"), not by resampling: every healthy bucket is kept (they teach what normal drift looks
like) while the rare failure classes weigh as much in total as the "none" class. The weights shift the
probabilities upwards for the failure classes; the alert thresholds, chosen on validation, then bring the
operating point back to the precision target, so the weighting buys recall without fixing precision.

Sizes are bounded (depth, leaves, trees) because the model ships in the repository and is loaded by every
engine instance: a few MB of ONNX at most.
"""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

CANDIDATES = ("random_forest", "hist_gradient_boosting")


def make(name: str, seed: int, fast: bool, forest_trees: int | None = None):
    """`forest_trees` overrides the forest's tree count (train.py --forest-trees): scoring cost grows with it
    (onnxruntime walks every tree for every row), so a cheaper package is a smaller forest."""
    if name == "random_forest":
        # The reference notebook's 200-tree forest, with depth and leaf size bounded for the package size.
        return RandomForestClassifier(
            n_estimators=forest_trees if forest_trees is not None else (30 if fast else 200),
            max_depth=10,
            min_samples_leaf=20,
            max_features="sqrt",
            class_weight="balanced_subsample",
            n_jobs=2,
            random_state=seed,
        )
    if name == "hist_gradient_boosting":
        # No early stopping: its internal split would be random rows, not a later time range.
        return HistGradientBoostingClassifier(
            max_iter=40 if fast else 200,
            learning_rate=0.05,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            class_weight="balanced",
            early_stopping=False,
            random_state=seed,
        )
    raise ValueError(f"unknown candidate {name!r}")


def params(model) -> dict:
    keep = ("n_estimators", "max_depth", "min_samples_leaf", "max_features", "class_weight", "max_iter",
            "learning_rate", "max_leaf_nodes", "l2_regularization", "early_stopping", "random_state")
    return {k: v for k, v in model.get_params().items() if k in keep}
