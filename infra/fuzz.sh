#!/usr/bin/env bash
# Fuzzes everything that parses caller bytes, with cargo-fuzz (libFuzzer), for FUZZ_SECONDS
# each (default 60): `api_request` (any request to any route through the API appid-local and
# the Lambda functions serve) and `presented_token` (tokens given to introspection and
# revocation). Prints each target's executions and stops at the first crash, which libFuzzer
# writes under tests/fuzz/artifacts/.
#
# libFuzzer's coverage instrumentation is ordinary rustc code generation; only sanitizers need
# a nightly compiler, so the targets run without one (`--sanitizer none`): Rust's own checks
# (bounds, overflow in debug assertions, panics) are what catches a fault.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in api_request presented_token; do
  mkdir -p "tests/fuzz/corpus/$target"
  cargo fuzz run --fuzz-dir tests/fuzz --sanitizer none --release "$target" \
    "tests/fuzz/corpus/$target" -- -max_total_time="$seconds" 2>&1 |
    grep -E "^Done|^#[0-9]+ *DONE|crash|panicked|ERROR|SUMMARY" || true
  echo "$target: ran ${seconds}s"
done
