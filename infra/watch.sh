#!/usr/bin/env bash
# Runs the Lambda functions under `cargo lambda watch` against moto_server, with a fresh table
# and wrapping key, so the AWS build of the product can be tried without an AWS account:
#
#   infra/watch.sh          # then follow the printed curl session
#
# The functions answer at http://localhost:9000/lambda-url/<function>/...; both use
# http://localhost:9000/lambda-url/token as their public URL, so every oAuthServerUrl they
# return points at the token function.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/venv.sh
export PATH="$PWD/.venv/bin:$PATH"

port=${WATCH_PORT:-9000}
work=$(mktemp -d)
trap 'infra/moto.sh stop "$work/moto.pid"; rm -rf "$work"' EXIT
moto_url=$(infra/moto.sh start "$work/moto.pid")
env_file="$work/functions.env"
.venv/bin/python infra/emulated_resources.py "$moto_url" >"$env_file"
admin_token=${APPID_ADMIN_TOKEN:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')}
{
  echo "APPID_ADMIN_AUTH=token"
  echo "APPID_ADMIN_TOKEN=$admin_token"
  echo "APPID_PUBLIC_URL=http://localhost:$port/lambda-url/token"
} >>"$env_file"

cat <<MSG
moto_server: $moto_url
admin token: $admin_token
Try:
  curl -X POST http://localhost:$port/lambda-url/management/management/v4/tenants \\
    -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' -d '{"name":"Acme"}'
MSG
cargo lambda watch --invoke-port "$port" --env-file "$env_file" "$@"
