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
APPID_TEST_MOTO_URL=$moto_url cargo test --workspace --all-features --locked 2>&1 | tee "$work/cargo-test.log"

step "end-to-end: appid-local, and the functions under cargo lambda watch, with requests and PyJWT"
cargo build --locked -p appid-local
APPID_TEST_MOTO_URL=$moto_url APPID_LOCAL_BIN=target/debug/appid-local PATH="$PWD/.venv/bin:$PATH" \
  .venv/bin/pytest -q tests/e2e 2>&1 | tee "$work/pytest.log"

step "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
echo "cfn-lint: template.yaml is clean"

# One closing line over every suite: Rust tests, end-to-end tests and the template check.
rust=$(awk '/^test result:/ { p += $4; f += $6 } END { print p + 0, f + 0 }' "$work/cargo-test.log")
e2e=$(grep -Eo '[0-9]+ passed' "$work/pytest.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
set -- $rust
printf '\nall suites: %d passed, %d failed\n' "$(($1 + e2e + 1))" "$2"
