"""Names of feature set pdm-v1 as Python sees them (mirror of src/features/spec.ts).

The training script takes the authoritative names, classes and spec hash from the feature file's sidecar
(written by the TypeScript feature engine) and only uses this mirror to cross-check it, so a drift between
the two languages is caught at training time instead of silently producing a model with shuffled inputs.
"""

FEATURE_SET = "pdm-v1"
SENSORS = ("volt", "rotate", "pressure", "vibration")
WINDOW_HOURS = (12, 24, 36)
ERROR_IDS = tuple(f"error{k}" for k in range(1, 6))
COMPONENTS = tuple(f"comp{k}" for k in range(1, 5))
MODELS = tuple(f"model{k}" for k in range(1, 5))
CLASSES = ("none", *COMPONENTS)
LABEL_HORIZON_MS = 7 * 86_400_000


def _feature_names() -> tuple[str, ...]:
    names: list[str] = []
    for s in SENSORS:
        for w in WINDOW_HOURS:
            names += [f"{s}_mean_{w}h", f"{s}_std_{w}h"]
    names += [f"{e}_count_24h" for e in ERROR_IDS]
    names += [f"{c}_days_since_replacement" for c in COMPONENTS]
    names.append("age")
    names += [f"model_{m}" for m in MODELS]
    return tuple(names)


FEATURE_NAMES = _feature_names()
