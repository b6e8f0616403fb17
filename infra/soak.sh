#!/usr/bin/env bash
# Soak run of appid-local: at least SOAK_TOKENS (default 1,000,000) token requests over 16
# keep-alive connections, in rounds of SOAK_ROUND_SECONDS (default 20), while a second client
# keeps changing the tenant (registering apps, rotating secrets, renaming, changing the token
# lifetime, rotating signing keys). Prints each round's tokens, errors and the server's
# resident memory, then the totals; exits non-zero on any error. SOAK_ALG picks the tenant's
# algorithm (ES256 by default, to reach the count sooner).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${SOAK_TOKENS:-1000000}
round=${SOAK_ROUND_SECONDS:-20}
alg=${SOAK_ALG:-ES256}
cargo build --release --locked -p appid-local -p appid-tests --bin appid-local --bin appid-load >&2

work=$(mktemp -d)
cleanup() {
  [ -n "${churn:-}" ] && kill "$churn" 2>/dev/null
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
admin=soak-admin-token-0123456789abcdefghijklmnopq
APPID_ADMIN_TOKEN=$admin APPID_TENANT_RATE_LIMIT=0 APPID_KEY_PUBLICATION_LEAD_SECONDS=0 \
  taskset -c 0 target/release/appid-local --listen "127.0.0.1:$port" --data-dir "$work/data" \
  >"$work/server.out" 2>"$work/server.log" &
server=$!
for _ in $(seq 1 100); do
  grep -q "listening" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done

read -r tenant client secret < <(python3 - "$port" "$admin" "$alg" <<'PY'
import json, sys, urllib.request
port, admin, alg = sys.argv[1:]
def post(path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
        {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))
tenant = post("/management/v4/tenants", {"name": "soak", "algorithm": alg})["tenantId"]
app = post(f"/management/v4/{tenant}/applications", {"name": "load"})
print(tenant, app["clientId"], app["secret"])
PY
)

# Management churn on the same tenant for the whole run; it counts its own failures.
taskset -c 1 python3 - "$port" "$admin" "$tenant" "$work/churn" <<'PY' &
import json, sys, time, urllib.error, urllib.request
port, admin, tenant, out = sys.argv[1:]
base = f"http://127.0.0.1:{port}/management/v4"
def call(method, path, body=None):
    request = urllib.request.Request(base + path, json.dumps(body).encode() if body is not None else None,
        {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(request) as answer:
        return json.load(answer) if answer.status != 204 else None
changes = failures = 0
i = 0
while True:
    i += 1
    try:
        app = call("POST", f"/{tenant}/applications", {"name": f"churn {i}"})
        call("POST", f"/{tenant}/applications/{app['clientId']}/secret", {"graceSeconds": 0})
        call("PUT", f"/{tenant}/applications/{app['clientId']}", {"name": f"renamed {i}"})
        call("PUT", f"/{tenant}/config/tokens", {"access": {"expires_in": 600 + i % 600}})
        call("DELETE", f"/{tenant}/applications/{app['clientId']}")
        changes += 5
        if i % 20 == 0:
            call("POST", f"/{tenant}/config/keys/rotate")
            changes += 1
    except urllib.error.HTTPError as error:
        # A rotation may wait for retiring keys (409 key_not_ready); anything else is a failure.
        if error.code != 409:
            failures += 1
    with open(out, "w") as f:
        f.write(f"{changes} {failures}\n")
    time.sleep(0.01)
PY
churn=$!

rss() { awk '/VmRSS/ { print $2 }' "/proc/$server/status"; }
total=0 errors=0 rounds=0
echo "soak: $alg, 16 connections, rounds of ${round}s, until ${target} tokens"
echo "round tokens errors tokens_per_s p99_us rss_kib"
echo "0 0 0 - - $(rss)"
while [ "$total" -lt "$target" ]; do
  line=$(taskset -c 1 target/release/appid-load "127.0.0.1:$port" "$tenant" "$client" "$secret" 16 "$round")
  tokens=$(sed -E 's/.* tokens=([0-9]+).*/\1/' <<<"$line")
  failed=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
  rate=$(sed -E 's/.*tokens_per_s=([0-9]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$line")
  total=$((total + tokens)) errors=$((errors + failed)) rounds=$((rounds + 1))
  echo "$rounds $tokens $failed $rate $p99 $(rss)"
done
read -r changes churn_failures <"$work/churn"
echo "total: $total tokens, $errors errors; $changes management changes alongside, $churn_failures failed"
[ "$errors" -eq 0 ] && [ "$churn_failures" -eq 0 ]
