#!/usr/bin/env bash
# Runs every test of the project on a machine with only Rust, Python 3 and pip:
#   formatting and lint gates, unit and in-process handler tests, the adapter tests against
#   moto_server (started here on 127.0.0.1 and stopped on exit), the end-to-end test of
#   appid-local with independent HTTP and JWT libraries, and cfn-lint on the SAM template.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Python tools in .venv (moto, cfn-lint, cargo-lambda, pytest, PyJWT)"
infra/venv.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "moto_server on 127.0.0.1"
work=$(mktemp -d)
trap 'infra/moto.sh stop "$work/moto.pid"; rm -rf "$work"' EXIT
moto_url=$(infra/moto.sh start "$work/moto.pid")
echo "$moto_url"

step "cargo test (unit, handlers, store contract, DynamoDB and KMS on moto)"
APPID_TEST_MOTO_URL=$moto_url cargo test --workspace --all-features --locked

step "end-to-end: appid-local, and the functions under cargo lambda watch, with requests and PyJWT"
cargo build --locked -p appid-local
APPID_TEST_MOTO_URL=$moto_url APPID_LOCAL_BIN=target/debug/appid-local PATH="$PWD/.venv/bin:$PATH" \
  .venv/bin/pytest -q tests/e2e

step "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
echo "cfn-lint: template.yaml is clean"
