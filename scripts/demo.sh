#!/usr/bin/env bash
# The main job on the embedded local stack, from a fresh clone: install, build, start Kafka + schema
# registry + ClickHouse as local processes, migrate, register schemas and topics, start the engine,
# simulate a small fleet at full speed, wait until the engine has caught up, print what ops look at.
# Leaves the stack running (stop it with `npm run stack -- down`).
set -euo pipefail
cd "$(dirname "$0")/.."
MACHINES="${DEMO_MACHINES:-50}"
DAYS="${DEMO_DAYS:-30}"
SEED="${DEMO_SEED:-7}"
cli() { node bin/pdm-stream.js "$@"; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_node_modules
step "build"
npm run --silent build
step "stack up"
cli stack up
# Publishing the same fleet again into topics whose buckets are already scored would only produce
# LATE_EVENT dead letters (correctly: those events are at or before their machines' closed buckets). A
# second run therefore gets its own topics, consumer group and database.
ch_url="${CLICKHOUSE_URL:-http://127.0.0.1:8123}"
existing=$(curl -fsS "$ch_url/" --data-binary "SELECT count() FROM ${CLICKHOUSE_DATABASE:-pdm}.predictions" 2>/dev/null || echo 0)
if [ "${existing:-0}" != 0 ]; then
  run="demo$(date +%s)"
  export PDM_TOPIC_PREFIX="$run." PDM_GROUP_ID="$run" CLICKHOUSE_DATABASE="pdm_$run"
  step "earlier demo data found: this run uses topics $PDM_TOPIC_PREFIX*, group $PDM_GROUP_ID, database $CLICKHOUSE_DATABASE"
fi
DB="${CLICKHOUSE_DATABASE:-pdm}"

step "migrate"
cli migrate
step "schemas register"
cli schemas register

mkdir -p .cache/run
if [ -f .cache/run/engine.pid ] && kill -0 "$(cat .cache/run/engine.pid)" 2>/dev/null; then
  step "engine already running (pid $(cat .cache/run/engine.pid))"
else
  step "start engine (logs: .cache/engine.log)"
  nohup node bin/pdm-stream.js run >>.cache/engine.log 2>&1 &
  echo $! >.cache/run/engine.pid
fi
metrics="http://${PDM_HTTP_HOST:-127.0.0.1}:${PDM_HTTP_PORT:-9464}/metrics"
for _ in $(seq 1 60); do curl -fsS "${metrics%/metrics}/readyz" >/dev/null 2>&1 && break; sleep 1; done

step "simulate $MACHINES machines x $DAYS days (seed $SEED)"
cli simulate --machines "$MACHINES" --days "$DAYS" --seed "$SEED"

step "wait for the engine to catch up"
# Caught up = records in, predictions written and lag all unchanged for three polls in a row, after
# predictions started to arrive (bounded: 6 minutes).
last=""
stable=0
for _ in $(seq 1 180); do
  m=$(curl -fsS "$metrics" 2>/dev/null || true)
  lag=$(printf '%s\n' "$m" | awk '/^pdm_consumer_lag_messages\{/ {s += $2} END {print s + 0}')
  preds=$(printf '%s\n' "$m" | awk '/^pdm_predictions_total / {print $2 + 0}')
  recs=$(printf '%s\n' "$m" | awk '/^pdm_records_in_total\{/ {s += $2} END {print s + 0}')
  now="$recs/$preds/$lag"
  if [ "${preds:-0}" != 0 ] && [ "$lag" = 0 ] && [ "$now" = "$last" ]; then stable=$((stable + 1)); else stable=0; fi
  [ "$stable" -ge 3 ] && break
  last="$now"
  sleep 2
done
echo "predictions written this run: ${preds:-0}, consumer lag: ${lag:-?}"

step "report"
cli report

step "stop engine (graceful)"
kill -TERM "$(cat .cache/run/engine.pid)" 2>/dev/null || true
for _ in $(seq 1 40); do kill -0 "$(cat .cache/run/engine.pid)" 2>/dev/null || break; sleep 0.5; done
rm -f .cache/run/engine.pid

cat <<EOT

The stack is still running:
  node bin/pdm-stream.js stack status
  CLICKHOUSE_DATABASE=$DB node bin/pdm-stream.js report
  curl -s 'http://127.0.0.1:8123/?query=SELECT+machine_id,bucket_ts,alert_class,warming_up,predicted_class,p_comp1,p_comp2,p_comp3,p_comp4+FROM+$DB.predictions_latest+ORDER+BY+bucket_ts+DESC+LIMIT+10'
  curl -s 'http://127.0.0.1:8123/?query=SELECT+reason,count()+FROM+$DB.dead_letters_latest+GROUP+BY+reason'
  PDM_TOPIC_PREFIX=${PDM_TOPIC_PREFIX:-pdm.} PDM_GROUP_ID=${PDM_GROUP_ID:-pdm-stream} CLICKHOUSE_DATABASE=$DB node bin/pdm-stream.js run   # the engine again (Ctrl-C stops it)
  npm run stack -- down             # stop Kafka, the registry and ClickHouse
EOT
