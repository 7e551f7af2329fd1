#!/usr/bin/env bash
# Reproduces a model package with one command: simulate a fleet → build labelled pdm-v1 features → train,
# compare, export ONNX → models/<name>/<version>/.
#
#   bash scripts/train.sh                       # the committed default model, models/pdm-default/1
#   bash scripts/train.sh --fast --out DIR      # CI: small fleet, few trees, a few minutes on 2 cores
#
# Options: --out DIR, --machines N, --days D, --seed S, --name NAME, --version V, --work DIR (intermediate
# CSVs; default train/out/<fleet>), --fast, --no-build (dist/ is already current), --reuse-data (keep the
# simulated CSVs and features of an earlier run with the same fleet and spec hash).
# Python packages come from PyPI into train/.venv (pinned in train/requirements.txt); the TypeScript side
# never needs Python at run time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

OUT=""
MACHINES=""
DAYS=""
SEED=42
NAME="pdm-default"
VERSION="1"
WORK=""
FAST=0
BUILD=1
REUSE=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --machines) MACHINES="$2"; shift 2 ;;
    --days) DAYS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --name) NAME="$2"; shift 2 ;;
    --version) VERSION="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --fast) FAST=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --reuse-data) REUSE=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "train.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
if [[ $FAST == 1 ]]; then
  MACHINES="${MACHINES:-40}"; DAYS="${DAYS:-150}"
else
  MACHINES="${MACHINES:-100}"; DAYS="${DAYS:-240}"
fi
OUT="${OUT:-models/$NAME/$VERSION}"
WORK="${WORK:-train/out/m${MACHINES}-d${DAYS}-s${SEED}}"
log() { echo "[train.sh] $*" >&2; }

# --- Python virtualenv -------------------------------------------------------------------------------
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "train.sh: Python ≥ 3.11 is required ($PY)" >&2; exit 69
fi
VENV="$ROOT/train/.venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian splits venv/ensurepip into python3-venv; install it when we can.
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      log "installing python3-venv"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
      echo "train.sh: python3 -m venv is unavailable; install python3-venv" >&2; exit 69
    fi
  fi
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi
REQ_HASH="$(sha256sum train/requirements.txt | cut -d' ' -f1)"
if [[ "$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)" != "$REQ_HASH" ]]; then
  log "installing train/requirements.txt into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r train/requirements.txt
  echo "$REQ_HASH" > "$VENV/.requirements.sha256"
fi

# --- simulate → features ---------------------------------------------------------------------------------
if [[ $BUILD == 1 ]]; then
  log "npm run build"
  npm run build --silent
fi
mkdir -p "$WORK"
SPEC_HASH="$(node --input-type=module -e "const m = await import('$ROOT/dist/features/spec.js'); console.log(m.SPEC_HASH)")"
if [[ $REUSE == 0 || ! -s "$WORK/features.csv" || ! -s "$WORK/features.csv.meta.json" \
      || "$(cat "$WORK/.spec-hash" 2>/dev/null || true)" != "$SPEC_HASH" ]]; then
  log "simulating $MACHINES machines × $DAYS days (seed $SEED) → $WORK/csv"
  rm -rf "$WORK/csv"
  node bin/pdm-stream.js simulate --machines "$MACHINES" --days "$DAYS" --seed "$SEED" --out-csv "$WORK/csv"
  log "building labelled features → $WORK/features.csv"
  node bin/pdm-stream.js features build --csv "$WORK/csv" --out "$WORK/features.csv" --labels
  echo "$SPEC_HASH" > "$WORK/.spec-hash"
else
  log "reusing $WORK/features.csv (same spec hash; delete $WORK to rebuild)"
fi
FAILURES="$WORK/csv/failures.csv"
[[ -f "$FAILURES" ]] || FAILURES="$WORK/csv/PdM_failures.csv"

# --- train -------------------------------------------------------------------------------------------
ARGS=(--features "$WORK/features.csv" --failures "$FAILURES" --out "$OUT" --name "$NAME" --version "$VERSION"
      --seed "$SEED" --expect-spec-hash "$SPEC_HASH"
      --data-note "pdm-stream simulate --machines $MACHINES --days $DAYS --seed $SEED; features build --labels")
[[ $FAST == 1 ]] && ARGS+=(--fast)
log "training → $OUT"
"$VENV/bin/python" train/train.py "${ARGS[@]}"
