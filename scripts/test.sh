#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, builds, lints, runs the unit tests,
# starts the local stack (Kafka, Apicurio Registry, ClickHouse as local processes) unless
# KAFKA_BROKERS, SCHEMA_REGISTRY_URL and CLICKHOUSE_URL point at running services, runs the integration
# and end-to-end tests against it, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_node_modules

step "build"
npm run --silent build

step "type-check src, tests, benchmarks"
npm run --silent typecheck

step "lint (eslint + prettier, zero warnings) and circular imports"
npm run --silent lint
npx madge --circular --extensions ts src

step "unit tests, with coverage (thresholds per folder in vitest.config.ts)"
npx vitest run --project unit --coverage

started_stack=0
if [ -n "${KAFKA_BROKERS:-}" ] && [ -n "${SCHEMA_REGISTRY_URL:-}" ] && [ -n "${CLICKHOUSE_URL:-}" ]; then
  step "using external services: $KAFKA_BROKERS, $SCHEMA_REGISTRY_URL, ${CLICKHOUSE_URL%%@*}"
else
  if ! node bin/pdm-stream.js stack status --quiet >/dev/null 2>&1; then
    step "stack up"
    node bin/pdm-stream.js stack up
    started_stack=1
  else
    step "stack already running (left running afterwards)"
  fi
fi
cleanup() {
  if [ "$started_stack" = 1 ]; then
    step "stack down"
    node bin/pdm-stream.js stack down || true
  fi
}
trap cleanup EXIT

step "integration and end-to-end tests"
npx vitest run --project integration

step "done"
