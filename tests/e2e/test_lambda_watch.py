"""The Lambda functions under `cargo lambda watch` and `cargo lambda invoke`, against moto:
the seed flow through the function URLs the emulator serves, as README's section on
cargo lambda describes it, and the scheduled key rotation invoked as EventBridge would."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))

ADMIN = "watch-admin-token-0123456789abcdefghijklmnop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def watch(tmp_path_factory):
    moto_url = os.environ.get("APPID_TEST_MOTO_URL")
    assert moto_url, "APPID_TEST_MOTO_URL is not set: run through infra/test.sh"
    import emulated_resources

    env_file = tmp_path_factory.mktemp("watch") / "functions.env"
    port = free_port()
    base = f"http://127.0.0.1:{port}/lambda-url"
    with open(env_file, "w") as out:
        sys.stdout, saved = out, sys.stdout
        try:
            emulated_resources.main(moto_url)
        finally:
            sys.stdout = saved
        out.write(f"APPID_ADMIN_AUTH=token\nAPPID_ADMIN_TOKEN={ADMIN}\nAPPID_PUBLIC_URL={base}/token\n")
        # Next keys may sign at once, so that the rotation below has work to do.
        out.write("APPID_KEY_PUBLICATION_LEAD_SECONDS=0\n")
    log = open(env_file.with_suffix(".log"), "wb")
    process = subprocess.Popen(
        ["cargo", "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
         "--env-file", str(env_file), "--ignore-changes"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "info"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    yield {"base": base, "port": port}
    process.terminate()
    process.wait(timeout=30)


def test_the_functions_register_issue_and_publish_under_cargo_lambda_watch(watch):
    management = f"{watch['base']}/management/management/v4"
    headers = {"Authorization": f"Bearer {ADMIN}"}
    # The first call of each function waits for cargo lambda to compile it.
    tenant = requests.post(f"{management}/tenants", json={"name": "Acme"}, headers=headers, timeout=900)
    assert tenant.status_code == 201, tenant.text
    tenant_id = tenant.json()["tenantId"]
    app = requests.post(f"{management}/{tenant_id}/applications", json={"name": "worker"}, headers=headers)
    assert app.status_code == 201, app.text
    app = app.json()
    assert app["oAuthServerUrl"] == f"{watch['base']}/token/oauth/v4/{tenant_id}"

    answer = requests.post(
        f"{app['oAuthServerUrl']}/token",
        auth=(app["clientId"], app["secret"]),
        data={"grant_type": "client_credentials"},
        timeout=900,
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    key = jwt.PyJWKClient(f"{app['oAuthServerUrl']}/publickeys").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], issuer=app["oAuthServerUrl"], audience=app["clientId"])
    assert claims["tenant"] == tenant_id

    # The rest of the management API through the same function, on DynamoDB.
    apps = requests.get(f"{management}/{tenant_id}/applications", headers=headers)
    assert [a["clientId"] for a in apps.json()["applications"]] == [app["clientId"]], apps.text
    rotated = requests.post(f"{management}/{tenant_id}/applications/{app['clientId']}/secret",
                            json={"graceSeconds": 0}, headers=headers)
    assert rotated.status_code == 200, rotated.text
    old = requests.post(f"{app['oAuthServerUrl']}/token", auth=(app["clientId"], app["secret"]),
                        data={"grant_type": "client_credentials"})
    assert old.status_code == 401, "a secret revoked by rotation stops working at once"
    config = requests.put(f"{management}/{tenant_id}/config/tokens", json={"access": {"expires_in": 600}}, headers=headers)
    assert config.status_code == 200, config.text
    new = requests.post(f"{app['oAuthServerUrl']}/token", auth=(app["clientId"], rotated.json()["secret"]),
                        data={"grant_type": "client_credentials"})
    assert new.status_code == 200 and new.json()["expires_in"] == 600, new.text
    deleted = requests.delete(f"{management}/tenants/{tenant_id}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    gone = requests.get(f"{management}/tenants/{tenant_id}", headers=headers)
    assert gone.status_code == 404


def test_cargo_lambda_invoke_answers_an_api_gateway_event(watch):
    result = subprocess.run(
        ["cargo", "lambda", "invoke", "token", "--invoke-address", "127.0.0.1",
         "--invoke-port", str(watch["port"]), "--data-file", "tests/fixtures/token-request.json"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 401
    assert response["headers"]["www-authenticate"] == 'Basic realm="appid"'
    assert json.loads(response["body"])["error"] == "invalid_client"


def test_the_scheduled_rotation_rotates_tenant_keys_when_invoked(watch):
    management = f"{watch['base']}/management/management/v4"
    headers = {"Authorization": f"Bearer {ADMIN}"}
    tenant = requests.post(f"{management}/tenants", json={"name": "Rotating", "algorithm": "ES256"},
                           headers=headers, timeout=900)
    assert tenant.status_code == 201, tenant.text
    tenant_id = tenant.json()["tenantId"]
    before = requests.get(f"{management}/{tenant_id}/config/keys", headers=headers).json()

    scheduled = json.dumps({"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
    result = subprocess.run(
        ["cargo", "lambda", "invoke", "rotation", "--invoke-address", "127.0.0.1",
         "--invoke-port", str(watch["port"]), "--data-ascii", scheduled],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rotated"] >= 1, result.stdout

    after = requests.get(f"{management}/{tenant_id}/config/keys", headers=headers).json()
    status = {key["kid"]: key["status"] for key in after["keys"]}
    old_current = next(k["kid"] for k in before["keys"] if k["status"] == "current")
    old_next = next(k["kid"] for k in before["keys"] if k["status"] == "next")
    assert (status[old_current], status[old_next]) == ("retiring", "current"), after
    assert after["algorithm"] == "ES256"
