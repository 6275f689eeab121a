#!/usr/bin/env bash
# Runs every test: the Rust unit and store tests, then the end-to-end suite that drives the
# real binary with the real clients (boto3, the AWS CLI), a real browser (headless Chromium:
# skipped without it, required with USERPOOL_REQUIRE_BROWSER=1) and Node. One command, from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo build"
cargo build --workspace --all-targets
echo "== Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
echo "== client venv"
bash scripts/setup-clients.sh
echo "== end-to-end: boto3, AWS CLI, pycognito against target/debug/userpool"
USERPOOL_BIN="$PWD/target/debug/userpool" .venv/bin/python -m pytest tests/clients -n 2 -q -p no:cacheprovider "$@"
if [ -n "${USERPOOL_TEST_POSTGRES:-}" ]; then
  # The same suite again with every server (and `userpool codes` / `outbox`) on
  # PostgreSQL, through the environment the flags read; one data key for all of them.
  echo "== end-to-end again on PostgreSQL ($USERPOOL_TEST_POSTGRES)"
  key_dir=$(mktemp -d)
  head -c 32 /dev/urandom > "$key_dir/shared.key"
  USERPOOL_DATABASE="$USERPOOL_TEST_POSTGRES" USERPOOL_DATA_KEY_FILE="$key_dir/shared.key" \
    USERPOOL_BIN="$PWD/target/debug/userpool" .venv/bin/python -m pytest tests/clients -n 2 -q -p no:cacheprovider "$@"
  rm -rf "$key_dir"
fi
echo "== end-to-end: headless Chromium (WebDriver) walks the hosted sign-in pages"
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/browser/requirements.txt
USERPOOL_BIN="$PWD/target/debug/userpool" .venv/bin/python -m pytest tests/browser -q -p no:cacheprovider
echo "== end-to-end: aws-sdk-js v3, amazon-cognito-identity-js against target/debug/userpool"
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error && USERPOOL_BIN="$PWD/../../target/debug/userpool" node --test --test-reporter=spec)
if [ -n "${USERPOOL_TEST_POSTGRES:-}" ]; then
  echo "== end-to-end (Node) again on PostgreSQL"
  key_dir=$(mktemp -d)
  head -c 32 /dev/urandom > "$key_dir/shared.key"
  (cd tests/node && USERPOOL_DATABASE="$USERPOOL_TEST_POSTGRES" USERPOOL_DATA_KEY_FILE="$key_dir/shared.key" \
    USERPOOL_BIN="$PWD/../../target/debug/userpool" node --test --test-reporter=spec)
  rm -rf "$key_dir"
fi
