#!/usr/bin/env bash
# The benchmark: builds userpool and the harness in release, installs the peers (moto from
# PyPI, cognito-local from npm, fakecloud from crates.io) under bench/, starts a throw-away
# PostgreSQL cluster (durable: fsync and synchronous_commit on), runs every scenario against
# userpool on SQLite, userpool on PostgreSQL (one node and three nodes), moto, cognito-local,
# fakecloud and a fixed-JSON ceiling in one run, and writes bench/results/latest.md and the
# README's benchmark section. Everything listens on 127.0.0.1 and stops when done.
#   bash bench/run.sh                      # full run (10 s per scenario, 10-minute soak)
#   bash bench/run.sh --secs 5 --soak-secs 60 --big-users 20000   # a quicker look
#   bash bench/run.sh --only S8,S9 --secs 10 --soak-secs 0 --no-readme --out /tmp/s8s9.md
#       # some scenarios only (S1-S9; S6's big pools, S8 and S9 run on userpool alone),
#       # the README left as it is
# FAKECLOUD=/path/to/fakecloud uses that binary instead of installing one (its build takes
# 20 minutes or more); FAKECLOUD=none leaves fakecloud out; CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p userpool -p userpool-bench
TARGET=${CARGO_TARGET_DIR:-target}
PY=${PYTHON:-python3}
if [ ! -x bench/.venv/bin/moto_server ]; then
  "$PY" -m venv bench/.venv
  bench/.venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==5.2.1"
fi
if [ ! -d bench/node_modules/cognito-local ]; then
  (cd bench && npm install --no-audit --no-fund --loglevel=error --no-save cognito-local@5.3.0)
fi
CL=$(node -e 'const p=require("./bench/node_modules/cognito-local/package.json"); const b=typeof p.bin==="string"?p.bin:Object.values(p.bin)[0]; console.log(require("path").resolve("bench/node_modules/cognito-local", b))')
FC=${FAKECLOUD:-bench/.fakecloud/bin/fakecloud}
FC_ARGS=()
if [ "$FC" != none ]; then
  if [ ! -x "$FC" ]; then
    cargo install fakecloud --version 0.51.0 --locked --root bench/.fakecloud
  fi
  FC_ARGS=(--fakecloud "$FC")
fi
# shellcheck source=scripts/pg-cluster.sh
source scripts/pg-cluster.sh
PG_CLUSTER_FSYNC=on pg_cluster_start
trap pg_cluster_stop EXIT
"$TARGET/release/userpool-bench" run --userpool "$TARGET/release/userpool" \
  --postgres "postgres://userpool@127.0.0.1:$PG_CLUSTER_PORT/postgres" \
  --moto bench/.venv/bin/moto_server --cognito-local "$CL" "${FC_ARGS[@]}" --readme README.md "$@"
