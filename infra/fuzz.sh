#!/usr/bin/env bash
# Fuzzes everything that parses caller bytes, with cargo-fuzz (libFuzzer), for FUZZ_SECONDS
# each (default 60): `api_request` (any request to any route through the API appid-local and
# the Lambda functions serve), `presented_token` (tokens given to introspection and
# revocation) and `signed_claims` (tokens our key signed over arbitrary claims). Prints each
# target's executions and stops at the first crash, which libFuzzer writes under
# tests/fuzz/artifacts/.
#
# libFuzzer's coverage instrumentation is ordinary rustc code generation; only sanitizers need
# a nightly compiler, so the targets run without one (`--sanitizer none`): Rust's own checks
# (bounds, overflow in debug assertions, panics) are what catches a fault.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# Token-shaped seeds (headers of both algorithms, claims, a signature-sized tail) let the
# verifier's fuzzing start past the base64 and JSON layers.
seed_tokens() {
  python3 - "$1" <<'PY'
import base64, json, sys
b64 = lambda value: base64.urlsafe_b64encode(value).rstrip(b"=").decode()
claims = {"iss": "http://127.0.0.1:8080/oauth/v4/t", "sub": "c", "aud": ["c"], "exp": 4102444800,
          "iat": 1, "jti": "j", "tenant": "t", "client_id": "c", "amr": ["appid_client_credentials"], "ver": 4}
for alg, size in (("RS256", 256), ("ES256", 64)):
    header = {"alg": alg, "typ": "at+jwt", "kid": "k" * 43}
    token = ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(bytes(size))])
    with open(f"{sys.argv[1]}/seed-{alg}", "w") as seed:
        seed.write(token)
PY
}
# Claims-shaped payloads (whole, and with one field missing or mistyped), each followed by the
# three bytes that pick the byte the target changes, start `signed_claims` past the JSON layer.
seed_claims() {
  python3 - "$1" <<'PY'
import json, sys
claims = {"iss": "http://127.0.0.1:8080/oauth/v4/t", "sub": "c", "aud": ["c"], "exp": 4102444800,
          "iat": 1, "jti": "8b7f3e0c-1d2a-4f5b-9c6d-7e8f9a0b1c2d",
          "tenant": "2b0e7a4c-5d6f-4a1b-8c9d-0e1f2a3b4c5d",
          "client_id": "6f5e4d3c-2b1a-4c0d-9e8f-7a6b5c4d3e2f", "scope": "read"}
variants = {"whole": claims, "no-exp": {k: v for k, v in claims.items() if k != "exp"},
            "text-exp": {**claims, "exp": "soon"}, "bad-jti": {**claims, "jti": "j"}}
for name, value in variants.items():
    with open(f"{sys.argv[1]}/seed-{name}", "wb") as seed:
        seed.write(json.dumps(value).encode() + bytes([7, 0, 1]))
PY
}
for target in api_request presented_token signed_claims; do
  mkdir -p "tests/fuzz/corpus/$target"
  [ "$target" = presented_token ] && seed_tokens "tests/fuzz/corpus/$target"
  [ "$target" = signed_claims ] && seed_claims "tests/fuzz/corpus/$target"
  cargo fuzz run --fuzz-dir tests/fuzz --sanitizer none --release "$target" \
    "tests/fuzz/corpus/$target" -- -max_total_time="$seconds" 2>&1 |
    grep -E "^Done|^#[0-9]+ *DONE|crash|panicked|ERROR|SUMMARY" || true
  echo "$target: ran ${seconds}s"
done
