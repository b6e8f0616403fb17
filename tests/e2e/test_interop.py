"""Widely used client libraries we did not write, with no glue code: they discover the
endpoints from the metadata document, get tokens with both client authentication methods, and
verify them by `kid`, issuer and audience; and they reject tokens that are not right."""

import base64
import json

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

ADMIN = "interop-admin-token-0123456789abcdefghijklmn"


@pytest.fixture
def app(make_server):
    server = make_server(admin_token=ADMIN)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    tenant = requests.post(f"{server.url}/management/v4/tenants", json={"name": "Interop"}, headers=headers).json()
    registered = requests.post(
        f"{server.url}/management/v4/{tenant['tenantId']}/applications", json={"name": "worker"}, headers=headers
    ).json()
    discovery = requests.get(f"{registered['oAuthServerUrl']}/.well-known/openid-configuration")
    assert discovery.status_code == 200, discovery.text
    return {**registered, "metadata": discovery.json()}


def verify(token, app, **overrides):
    metadata = app["metadata"]
    key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token)
    options = {"issuer": metadata["issuer"], "audience": app["clientId"], **overrides}
    return jwt.decode(token, key.key, algorithms=["RS256"], **options)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_gets_a_token_with_each_auth_method(app, method):
    session = AuthlibSession(app["clientId"], app["secret"], token_endpoint_auth_method=method)
    token = session.fetch_token(app["metadata"]["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert verify(token["access_token"], app)["client_id"] == app["clientId"]


@pytest.mark.parametrize("include_client_id", [False, True])
def test_requests_oauthlib_gets_a_token_in_the_header_or_the_body(app, include_client_id, monkeypatch):
    # oauthlib insists on HTTPS unless told the transport is local; appid-local serves HTTP.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    session = OAuth2Session(client=BackendApplicationClient(client_id=app["clientId"]))
    token = session.fetch_token(
        token_url=app["metadata"]["token_endpoint"],
        client_id=app["clientId"],
        client_secret=app["secret"],
        include_client_id=include_client_id,
    )
    assert verify(token["access_token"], app)["sub"] == app["clientId"]


def test_the_metadata_names_what_the_server_does(app):
    metadata = app["metadata"]
    assert metadata["issuer"] == app["oAuthServerUrl"]
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    rfc8414 = app["oAuthServerUrl"].replace("/oauth/v4/", "/.well-known/oauth-authorization-server/oauth/v4/")
    assert requests.get(rfc8414).json() == metadata


def fresh_token(app):
    session = AuthlibSession(app["clientId"], app["secret"])
    return session.fetch_token(app["metadata"]["token_endpoint"], grant_type="client_credentials")["access_token"]


def reencode(part):
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def test_pyjwt_rejects_a_wrong_audience_or_issuer(app):
    token = fresh_token(app)
    with pytest.raises(jwt.InvalidAudienceError):
        verify(token, app, audience="some-other-api")
    with pytest.raises(jwt.InvalidIssuerError):
        verify(token, app, issuer="https://issuer.example/oauth/v4/other")


def test_pyjwt_rejects_an_expired_token(app):
    token = fresh_token(app)
    # A leeway of minus the lifetime moves the verifier's clock past `exp` (and so before
    # `iat`, which is therefore not checked here).
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(token, app, leeway=-3601, options={"verify_iat": False})


def test_pyjwt_rejects_a_tampered_payload_or_an_unknown_key(app):
    token = fresh_token(app)
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = f"{header}.{reencode({**claims, 'client_id': 'admin'})}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, app)
    unknown_kid = f"{reencode({**jwt.get_unverified_header(token), 'kid': 'not-a-published-key'})}.{payload}.{signature}"
    with pytest.raises(jwt.PyJWKClientError):
        verify(unknown_kid, app)
