"""
Validates the custom resources in deploy/k8s/ that kubernetes-validate has no schema for (KEDA ScaledObject
and TriggerAuthentication, Prometheus operator PodMonitor) against pydantic models generated from the
CRDs' published OpenAPI schemas (PyPI: cloudcoil-models-keda, cloudcoil-models-prometheus-operator):
types, required fields and enums, plus unknown fields at any depth (the models allow extras; an unknown
field is a typo the API server would silently prune, so it is reported here: every key of the
document must be one the parsed model has).

Usage: k8s_crd_validate.py FILE...  → one JSON line per document: {"file", "kind", "ok", "errors"}.
Documents of other kinds are reported with "ok": null (not checked here).
"""

import json
import sys

import pydantic
import yaml
from cloudcoil.models.keda import v1alpha1 as keda
from cloudcoil.models.prometheus_operator import v1 as monitoring

MODELS = {
    ("keda.sh/v1alpha1", "ScaledObject"): keda.ScaledObject,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): keda.TriggerAuthentication,
    ("monitoring.coreos.com/v1", "PodMonitor"): monitoring.PodMonitor,
}


def unknown_fields(given, parsed, path):
    """Keys of the document that the parsed model does not have (the models ignore unknown keys)."""
    if isinstance(given, dict) and isinstance(parsed, dict):
        found = [f"{path}.{k}" for k in given if k not in parsed]
        for k, v in given.items():
            if k in parsed:
                found += unknown_fields(v, parsed[k], f"{path}.{k}")
        return found
    if isinstance(given, list) and isinstance(parsed, list):
        return [f for i, (g, p) in enumerate(zip(given, parsed)) for f in unknown_fields(g, p, f"{path}[{i}]")]
    return []


def main() -> None:
    for file in sys.argv[1:]:
        with open(file, encoding="utf-8") as fh:
            docs = [d for d in yaml.safe_load_all(fh) if d is not None]
        for doc in docs:
            kind = f"{doc.get('apiVersion')}/{doc.get('kind')}"
            model = MODELS.get((doc.get("apiVersion"), doc.get("kind")))
            if model is None:
                print(json.dumps({"file": file, "kind": kind, "ok": None, "errors": []}))
                continue
            try:
                obj = model.model_validate(doc)
                dumped = obj.model_dump(by_alias=True, exclude_unset=True, mode="json")
                errors = [f"unknown field {f}" for f in unknown_fields(doc, dumped, doc["kind"])]
            except pydantic.ValidationError as err:
                errors = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
            print(json.dumps({"file": file, "kind": kind, "ok": not errors, "errors": errors}))


if __name__ == "__main__":
    main()
