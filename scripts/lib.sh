# Shared by the project's scripts: progress lines and the dependency install.
# shellcheck shell=bash

step() { printf '\n== %s (%ss)\n' "$*" "$SECONDS"; }

# npm ci when node_modules is missing or older than the lock file.
ensure_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    step "npm ci"
    npm ci --no-audit --no-fund
  fi
}
