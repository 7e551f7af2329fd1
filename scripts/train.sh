#!/usr/bin/env bash
# Reproduces a model package with one command: simulate a fleet → build labelled pdm-v1 features → train,
# compare, export ONNX → models/<name>/<version>/.
#
#   bash scripts/train.sh                       # the committed default model, models/pdm-default/1
#   bash scripts/train.sh --fast --out DIR      # CI: small fleet, few trees, a few minutes on 2 cores
#   bash scripts/train.sh --from-clickhouse [--from T] [--to T] [--machines IDS]
#                                               # the engine's own logged feature vectors (see below)
#
# Full runs also simulate 6 calibration and 3 evaluation fleets (other seeds) and 4 staggered-start copies
# of the training fleet (≈ 2 more minutes): see train/README.md.
# Options: --out DIR, --machines N, --days D, --seed S, --name NAME, --version V, --work DIR (intermediate
# CSVs; default train/out/<fleet>), --fast, --no-build (dist/ is already current), --reuse-data (keep the
# simulated CSVs and features of an earlier run with the same fleet and spec hash), --forest-trees N (trees
# of the random-forest candidate, default 200; scoring cost grows with it: train/README.md, "Forest size").
# --from-clickhouse: no simulation; `pdm-stream training-set` exports the feature vectors the engine logged
# in ClickHouse (this engine's spec hash, buckets [--from, --to), --machines) with labels from the failures
# topic, and the model is trained on them (work dir default train/out/clickhouse-<database>). No simulated
# unseen fleets or cold-start copies: thresholds are chosen on the validation range of the exported data.
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
# Unseen fleets (never the training seed): 6 calibration + 3 evaluation fleets of the same size.
CALIBRATION_SEEDS="7 8 9 10 11 12"
EVALUATION_SEEDS="101 102 103"
FAST=0
FOREST_TREES=""
BUILD=1
REUSE=0
FROM_CH=0
CH_ARGS=()
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
    --forest-trees) FOREST_TREES="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --reuse-data) REUSE=1; shift ;;
    --from-clickhouse) FROM_CH=1; shift ;;
    --from|--to|--machines) CH_ARGS+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;  # the header comment, however long
    *) echo "train.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
# Checked before minutes of simulation, not only by train.py at the end.
if [[ -n "$FOREST_TREES" && ! "$FOREST_TREES" =~ ^[1-9][0-9]*$ ]]; then
  echo "train.sh: --forest-trees takes a whole number ≥ 1, got '$FOREST_TREES'" >&2; exit 64
fi
if [[ $FROM_CH == 0 && ${#CH_ARGS[@]} -gt 0 ]]; then
  echo "train.sh: ${CH_ARGS[0]} selects logged feature vectors; it needs --from-clickhouse" >&2; exit 64
fi
if [[ $FROM_CH == 1 && ( -n "$MACHINES" || -n "$DAYS" || $REUSE == 1 ) ]]; then
  echo "train.sh: --machines N, --days and --reuse-data describe a simulated fleet; --from-clickhouse has none" >&2; exit 64
fi
if [[ $FAST == 1 ]]; then
  MACHINES="${MACHINES:-40}"; DAYS="${DAYS:-150}"
else
  MACHINES="${MACHINES:-100}"; DAYS="${DAYS:-240}"
fi
OUT="${OUT:-models/$NAME/$VERSION}"
if [[ $FROM_CH == 1 ]]; then
  WORK="${WORK:-train/out/clickhouse-${CLICKHOUSE_DATABASE:-pdm}}"
else
  WORK="${WORK:-train/out/m${MACHINES}-d${DAYS}-s${SEED}}"
fi
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
if [[ $FROM_CH == 1 ]]; then
  # The export's report (rows, label classes, what was dropped and why) goes to the log and next to the file.
  log "exporting the logged feature vectors from ClickHouse → $WORK/features.csv"
  node bin/pdm-stream.js training-set --out "$WORK/features.csv" --failures-out "$WORK/failures.csv" \
    --no-progress "${CH_ARGS[@]}" | tee "$WORK/training-set.txt" >&2
  echo "$SPEC_HASH" > "$WORK/.spec-hash"
elif [[ $REUSE == 0 || ! -s "$WORK/features.csv" || ! -s "$WORK/features.csv.meta.json" \
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
[[ $FROM_CH == 1 ]] && FAILURES="$WORK/failures.csv"
[[ -f "$FAILURES" ]] || FAILURES="$WORK/csv/PdM_failures.csv"

# --- unseen fleets and cold-start copies (full runs only) ---------------------------------------------
# Calibration fleets take part in the threshold choice, evaluation fleets in no choice; staggered-start
# copies of the training fleet train the "model learns cold start" variant the report compares with the
# warm-up rule. Seeds differ from the training seed; each fleet takes ~10 s.
EXTRA=()
if [[ $FAST == 0 && $FROM_CH == 0 ]]; then
  fleet() {  # fleet SEED → features of an unseen fleet, built once per spec hash
    local w="train/out/m${MACHINES}-d${DAYS}-s$1"
    if [[ ! -s "$w/features.csv" || "$(cat "$w/.spec-hash" 2>/dev/null || true)" != "$SPEC_HASH" ]]; then
      log "simulating unseen fleet seed $1 → $w"
      rm -rf "$w/csv"
      node bin/pdm-stream.js simulate --machines "$MACHINES" --days "$DAYS" --seed "$1" --out-csv "$w/csv" \
        --no-progress --no-ensure-topics >/dev/null
      node bin/pdm-stream.js features build --csv "$w/csv" --out "$w/features.csv" --labels >&2
      echo "$SPEC_HASH" > "$w/.spec-hash"
    fi
    echo "$w"
  }
  for s in $CALIBRATION_SEEDS; do [[ $s == "$SEED" ]] && continue; w="$(fleet "$s")"; EXTRA+=(--calibration "$w/features.csv:$w/csv/failures.csv:seed $s"); done
  for s in $EVALUATION_SEEDS; do [[ $s == "$SEED" ]] && continue; w="$(fleet "$s")"; EXTRA+=(--evaluation "$w/features.csv:$w/csv/failures.csv:seed $s"); done
  for v in 1 2 3 4; do
    w="$WORK-stagger$v"
    if [[ ! -s "$w/features.csv" || "$(cat "$w/.spec-hash" 2>/dev/null || true)" != "$SPEC_HASH" ]]; then
      log "staggered-start copy $v of $WORK → $w"
      "$VENV/bin/python" train/experiments/stagger_fleet.py --csv "$WORK/csv" --out "$w/csv" --seed "$v" >/dev/null
      node bin/pdm-stream.js features build --csv "$w/csv" --out "$w/features.csv" --labels >&2
      echo "$SPEC_HASH" > "$w/.spec-hash"
    fi
    EXTRA+=(--cold-start "$w/features.csv")
  done
fi

# --- train -------------------------------------------------------------------------------------------
if [[ $FROM_CH == 1 ]]; then
  NOTE="pdm-stream training-set ${CH_ARGS[*]} (ClickHouse ${CLICKHOUSE_DATABASE:-pdm}.feature_vectors + failures topic)"
else
  NOTE="pdm-stream simulate --machines $MACHINES --days $DAYS --seed $SEED; features build --labels"
fi
ARGS=(--features "$WORK/features.csv" --failures "$FAILURES" --out "$OUT" --name "$NAME" --version "$VERSION"
      --seed "$SEED" --expect-spec-hash "$SPEC_HASH" --data-note "$NOTE")
[[ $FAST == 1 ]] && ARGS+=(--fast)
[[ -n "$FOREST_TREES" ]] && ARGS+=(--forest-trees "$FOREST_TREES")
ARGS+=("${EXTRA[@]}")
log "training → $OUT"
"$VENV/bin/python" train/train.py "${ARGS[@]}"
if [[ $FROM_CH == 1 ]]; then
  log "training data: $(head -n 1 "$WORK/training-set.txt")"
  log "export report: $WORK/training-set.txt; model report: $OUT/report.md"
fi
