#!/usr/bin/env bash
# Creates .venv with the pinned Python tools of infra/requirements.txt, once; re-installs only
# when the requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! cmp -s infra/requirements.txt "$stamp"; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
  cp infra/requirements.txt "$stamp"
fi
