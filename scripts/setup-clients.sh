#!/usr/bin/env bash
# Creates .venv with the pinned Python clients (boto3, the AWS CLI, pytest...).
# Idempotent: re-running only installs what changed in tests/clients/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(sha256sum tests/clients/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
  echo "$want" > "$stamp"
fi
