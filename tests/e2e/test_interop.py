"""Widely used client libraries we did not write, with no glue code: they discover the
endpoints from the metadata document, get tokens with both client authentication methods, and
verify them by `kid`, issuer and audience, for RS256 and ES256 tenants alike; they reject
tokens that are not right; and a verifier's cached key set survives a key rotation."""

import base64
import json

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

ADMIN = "interop-admin-token-0123456789abcdefghijklmn"


HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def register(url, algorithm):
    tenant = requests.post(f"{url}/management/v4/tenants", json={"name": "Interop", "algorithm": algorithm},
                           headers=HEADERS).json()
    registered = requests.post(
        f"{url}/management/v4/{tenant['tenantId']}/applications", json={"name": "worker"}, headers=HEADERS
    ).json()
    discovery = requests.get(f"{registered['oAuthServerUrl']}/.well-known/openid-configuration")
    assert discovery.status_code == 200, discovery.text
    return {**registered, "metadata": discovery.json(), "algorithm": algorithm, "url": url}


@pytest.fixture(params=["RS256", "ES256"])
def app(make_server, request):
    return register(make_server(admin_token=ADMIN).url, request.param)


def verify(token, app, jwks=None, **overrides):
    metadata = app["metadata"]
    key = (jwks or jwt.PyJWKClient(metadata["jwks_uri"])).get_signing_key_from_jwt(token)
    options = {"issuer": metadata["issuer"], "audience": app["clientId"], **overrides}
    # The verifier pins the tenant's algorithm, as a resource server should.
    return jwt.decode(token, key.key, algorithms=[app["algorithm"]], **options)


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
    assert app["algorithm"] in metadata["id_token_signing_alg_values_supported"]
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


def test_pyjwt_rejects_a_token_of_another_algorithm_than_the_tenants(app):
    token = fresh_token(app)
    other = "ES256" if app["algorithm"] == "RS256" else "RS256"
    with pytest.raises((jwt.InvalidAlgorithmError, jwt.PyJWKClientError, jwt.InvalidKeyError)):
        verify(token, {**app, "algorithm": other})


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_a_verifier_that_cached_the_key_set_verifies_tokens_of_the_old_and_new_key_after_a_rotation(
    make_server, algorithm
):
    app = register(make_server(admin_token=ADMIN, key_publication_lead_seconds=0).url, algorithm)
    jwks = jwt.PyJWKClient(app["metadata"]["jwks_uri"])
    old = fresh_token(app)
    verify(old, app, jwks=jwks)

    tenant_id = app["tenantId"]
    rotated = requests.post(f"{app['url']}/management/v4/{tenant_id}/config/keys/rotate", headers=HEADERS)
    assert rotated.status_code == 200, rotated.text
    new = fresh_token(app)
    assert jwt.get_unverified_header(new)["kid"] != jwt.get_unverified_header(old)["kid"]

    def refetch():
        raise AssertionError("the key set was fetched again: the new key was not published in advance")

    jwks.fetch_data = refetch
    for token in (old, new):
        assert verify(token, app, jwks=jwks)["client_id"] == app["clientId"]
