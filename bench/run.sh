#!/usr/bin/env bash
# The benchmark: builds userpool and the harness in release, installs the peers (moto from
# PyPI, cognito-local from npm) under bench/, runs every scenario against userpool, moto,
# cognito-local and a fixed-JSON ceiling in one run, and writes bench/results/latest.md and
# the README's benchmark section. Everything listens on 127.0.0.1 and stops when done.
#   bash bench/run.sh                      # full run (10 s per scenario, 10-minute soak)
#   bash bench/run.sh --secs 5 --soak-secs 60 --big-users 20000   # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p userpool -p userpool-bench
PY=${PYTHON:-python3}
if [ ! -x bench/.venv/bin/moto_server ]; then
  "$PY" -m venv bench/.venv
  bench/.venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==5.2.1"
fi
if [ ! -d bench/node_modules/cognito-local ]; then
  (cd bench && npm install --no-audit --no-fund --loglevel=error --no-save cognito-local@5.3.0)
fi
CL=$(node -e 'const p=require("./bench/node_modules/cognito-local/package.json"); const b=typeof p.bin==="string"?p.bin:Object.values(p.bin)[0]; console.log(require("path").resolve("bench/node_modules/cognito-local", b))')
exec target/release/userpool-bench run --userpool target/release/userpool \
  --moto bench/.venv/bin/moto_server --cognito-local "$CL" --readme README.md "$@"
