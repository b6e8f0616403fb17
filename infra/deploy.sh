#!/usr/bin/env bash
# Builds both functions for arm64 with cargo-lambda and deploys template.yaml with SAM.
# The first deployment asks its questions (`--guided`) and saves the answers to samconfig.toml;
# later ones reuse them. Extra arguments go to `sam deploy`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v sam >/dev/null || { echo "the SAM CLI is required: pip install aws-sam-cli" >&2; exit 1; }
infra/venv.sh
export PATH="$PWD/.venv/bin:$PATH"   # cargo-lambda and zig
sam build --beta-features
if [ -f samconfig.toml ]; then
  sam deploy "$@"
else
  sam deploy --guided "$@"
fi
