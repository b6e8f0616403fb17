"""The first session of the README against a real appid-local process, with libraries we did
not write: requests for HTTP and PyJWT (with its JWKS client) to verify the token offline."""

import base64
import json
import stat

import jwt
import requests

ADMIN = "e2e-admin-token-0123456789abcdefghijklmnopqrstuvwxyz"


def admin_headers(token=ADMIN):
    return {"Authorization": f"Bearer {token}"}


def create_tenant(url, name="Acme", token=ADMIN):
    answer = requests.post(f"{url}/management/v4/tenants", json={"name": name}, headers=admin_headers(token))
    assert answer.status_code == 201, answer.text
    return answer.json()


def register_app(url, tenant_id, name="ApplicationName", token=ADMIN):
    answer = requests.post(
        f"{url}/management/v4/{tenant_id}/applications", json={"name": name}, headers=admin_headers(token)
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def get_token(app):
    return requests.post(
        f"{app['oAuthServerUrl']}/token",
        auth=(app["clientId"], app["secret"]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data="grant_type=client_credentials",
    )


def verify(access_token, app):
    jwks = jwt.PyJWKClient(f"{app['oAuthServerUrl']}/publickeys")
    key = jwks.get_signing_key_from_jwt(access_token)
    return jwt.decode(
        access_token,
        key.key,
        algorithms=["RS256"],
        issuer=app["oAuthServerUrl"],
        audience=app["clientId"],
        options={"require": ["exp", "iat", "iss", "sub", "aud", "jti"]},
    )


def test_first_session_register_get_a_token_and_verify_it_offline(make_server):
    server = make_server(admin_token=ADMIN)
    tenant = create_tenant(server.url)
    assert tenant["oAuthServerUrl"] == f"{server.url}/oauth/v4/{tenant['tenantId']}"
    app = register_app(server.url, tenant["tenantId"])
    assert set(app) >= {"clientId", "tenantId", "secret", "name", "oAuthServerUrl"}
    assert app["oAuthServerUrl"] == tenant["oAuthServerUrl"]

    answer = get_token(app)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Pragma"] == "no-cache"
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600

    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"
    claims = verify(body["access_token"], app)
    assert claims["sub"] == claims["client_id"] == app["clientId"]
    assert claims["aud"] == [app["clientId"]]
    assert claims["tenant"] == tenant["tenantId"]
    assert claims["amr"] == ["appid_client_credentials"] and claims["ver"] == 4
    assert claims["exp"] - claims["iat"] == 3600


def test_a_tampered_or_foreign_token_does_not_verify(make_server):
    server = make_server(admin_token=ADMIN)
    app = register_app(server.url, create_tenant(server.url)["tenantId"])
    token = get_token(app).json()["access_token"]
    head, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    try:
        verify(f"{head}.{forged}.{signature}", app)
        raise AssertionError("a tampered token verified")
    except jwt.InvalidSignatureError:
        pass
    other = register_app(server.url, create_tenant(server.url, "Other")["tenantId"])
    try:
        verify(token, other)
        raise AssertionError("a token of another tenant verified as its own")
    except jwt.PyJWKClientError:
        pass  # every tenant signs with keys of its own: the other one does not publish this kid


def test_apps_and_the_signing_key_survive_a_restart(make_server, tmp_path):
    first = make_server(admin_token=ADMIN)
    app = register_app(first.url, create_tenant(first.url)["tenantId"])
    kid = jwt.get_unverified_header(get_token(app).json()["access_token"])["kid"]
    first.stop()

    second = make_server(admin_token=ADMIN, data_dir=first.data_dir)
    app["oAuthServerUrl"] = app["oAuthServerUrl"].replace(first.url, second.url)
    answer = get_token(app)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == kid
    verify(token, app)


def test_without_an_admin_token_one_is_generated_privately_and_required(make_server):
    server = make_server()
    token_file = server.data_dir / "admin-token"
    assert str(token_file) in server.banner
    token = token_file.read_text().strip()
    assert token not in server.banner, "the token itself is never printed"
    for path in [token_file, server.data_dir / "master-key"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    unauthenticated = requests.post(f"{server.url}/management/v4/tenants", json={"name": "x"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"] == "unauthorized"
    create_tenant(server.url, token=token)


def test_oversized_bodies_are_refused_while_streaming(make_server):
    server = make_server(admin_token=ADMIN)
    answer = requests.post(
        f"{server.url}/management/v4/tenants",
        data=b"{" + b" " * 100_000 + b"}",
        headers={**admin_headers(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "payload_too_large"
    answer = requests.get(f"{server.url}/management/v4/tenants", headers={**admin_headers(), "X-Padding": "x" * 20_000})
    assert answer.status_code == 431
    assert answer.json()["error"] == "headers_too_large"


def test_the_server_log_holds_no_secret_token_or_credential(make_server):
    server = make_server(admin_token=ADMIN)
    app = register_app(server.url, create_tenant(server.url)["tenantId"])
    token = get_token(app).json()["access_token"]
    requests.post(f"{app['oAuthServerUrl']}/token", auth=(app["clientId"], "wrong"), data="grant_type=client_credentials")
    requests.post(f"{app['oAuthServerUrl']}/token", headers={"Authorization": f"Bearer {token}"}, data="grant_type=x")
    server.stop()
    log = server.log()
    assert app["clientId"] in log, "requests are logged"
    basic = base64.b64encode(f"{app['clientId']}:{app['secret']}".encode()).decode()
    for secret in [app["secret"], token, token.split(".")[2], ADMIN, basic]:
        assert secret not in log


def test_a_server_stopped_by_sigterm_has_written_every_log_line(make_server):
    # On one core the server's only thread is its runtime's worker, which holds its log lines
    # until it runs out of work; what it logs after its last request is written only as it exits.
    server = make_server(admin_token=ADMIN, cores={0})
    tenant = create_tenant(server.url)["tenantId"]
    server.stop()
    log = server.log()
    assert tenant in log, "the request's line"
    assert log.rstrip().endswith("stopped"), "the line logged as the server stops is the last"


def test_repeated_failed_authentications_are_refused_but_not_the_holder(make_server):
    server = make_server(admin_token=ADMIN, auth_failures_per_minute=2)
    app = register_app(server.url, create_tenant(server.url)["tenantId"])
    assert get_token(app).status_code == 200, "the holder authenticates from 127.0.0.1 first"
    wrong = {**app, "secret": "not-the-secret"}
    assert [get_token(wrong).status_code for _ in range(2)] == [401, 401]
    refused = get_token(wrong)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error_code"] == "too many requests"
    assert int(refused.headers["Retry-After"]) >= 1
    other = {**app, "clientId": "0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11"}
    assert get_token(other).status_code == 429, "the address is spent for every client id"
    assert get_token(app).status_code == 200, "but never for the holder of the right secret"
