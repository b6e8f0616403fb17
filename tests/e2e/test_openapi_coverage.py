"""Every operation and every status in shared/openapi.yaml, exercised against appid-local, each
response checked against the schema the document gives for its status.

Statuses 409, 500 and 503 need injected faults (a store that keeps losing races, holds
unreadable data or is throttled); tests/tests/faults.rs produces them in-process. A 429 needs a
server with a tiny rate limit, which the last test here starts."""

from pathlib import Path

import jsonschema
import pytest
import requests
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
DOC = yaml.safe_load((ROOT / "shared/openapi.yaml").read_text())
REGISTRY = Registry().with_resource("urn:appid", Resource.from_contents(DOC, default_specification=DRAFT202012))
FAULT_ONLY = {"409", "500", "503", "429"}
ADMIN = "coverage-admin-token-0123456789abcdefghijklmn"
UNKNOWN = "0b6c1a52-5f44-4d2b-9a43-6b3f1f0e2a11"
METHODS = ("get", "put", "post", "delete")


def pointer(*parts):
    return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def response_spec(template, method, status):
    spec = DOC["paths"][template][method]["responses"].get(str(status))
    assert spec is not None, f"{method.upper()} {template} answered undocumented {status}"
    location = ("paths", template, method, "responses", str(status))
    while "$ref" in spec:
        ref = spec["$ref"]
        location = tuple(ref.removeprefix("#/").split("/"))
        spec = DOC
        for part in location:
            spec = spec[part.replace("~1", "/").replace("~0", "~")]
    return spec, location


class Recorder:
    """Sends requests, validates each answer against the document, and notes what it saw."""

    def __init__(self, base):
        self.base = base
        self.seen = set()

    def call(self, method, template, ids=None, admin=True, **kwargs):
        headers = kwargs.pop("headers", {})
        if admin and template.startswith("/management"):
            headers.setdefault("Authorization", f"Bearer {ADMIN}")
        answer = requests.request(method, self.base + template.format(**(ids or {})), headers=headers, **kwargs)
        self.check(method.lower(), template, answer)
        self.seen.add((method.lower(), template, str(answer.status_code)))
        return answer

    def check(self, method, template, answer):
        spec, location = response_spec(template, method, answer.status_code)
        content = spec.get("content")
        if not content:
            assert answer.content == b"", answer.text
            return
        media = answer.headers["Content-Type"].split(";")[0]
        assert media in content, f"{media} not documented for {method} {template} {answer.status_code}"
        if media == "application/json":
            ref = "urn:appid#/" + pointer(*location, "content", media, "schema")
            validator = jsonschema.Draft202012Validator({"$ref": ref}, registry=REGISTRY)
            errors = sorted(validator.iter_errors(answer.json()), key=str)
            assert not errors, f"{method.upper()} {template} {answer.status_code}: {errors[0].message}"
        for name, header in spec.get("headers", {}).items():
            if header.get("required"):
                assert name in answer.headers, f"{name} missing on {method} {template} {answer.status_code}"


def documented():
    return {
        (method, template, status)
        for template, item in DOC["paths"].items()
        for method, operation in item.items()
        if method in METHODS
        for status in operation["responses"]
        if status not in FAULT_ONLY
    }


@pytest.fixture
def api(make_server):
    # Next keys may sign at once, so that rotation answers 200 here; the 409 of a rotation
    # that comes too early has a test of its own.
    return Recorder(make_server(admin_token=ADMIN, key_publication_lead_seconds=0).url)


def body_statuses(api, method, template, ids, valid_body, invalid_body):
    """401, 413, 415 and 400 for an operation that takes a JSON body, then its success."""
    api.call(method, template, ids, admin=False, json=valid_body)
    api.call(method, template, ids, data=b"{" + b" " * 20_000 + b"}", headers={"Content-Type": "application/json"})
    api.call(method, template, ids, data=b"{}", headers={"Content-Type": "text/plain"})
    api.call(method, template, ids, json=invalid_body)
    return api.call(method, template, ids, json=valid_body)


def test_every_documented_operation_and_status_is_exercised_and_kept(api):
    tenants = "/management/v4/tenants"
    tenant = body_statuses(api, "POST", tenants, {}, {"name": "Acme"}, {"name": ""}).json()
    t = tenant["tenantId"]
    api.call("GET", tenants, admin=False)
    api.call("GET", tenants, params={"limit": 0})
    api.call("GET", tenants, params={"limit": 1})

    one = "/management/v4/tenants/{tenantId}"
    api.call("GET", one, {"tenantId": t}, admin=False)
    api.call("GET", one, {"tenantId": UNKNOWN})
    api.call("GET", one, {"tenantId": t})
    body_statuses(api, "PUT", one, {"tenantId": t}, {"name": "Acme 2"}, {"name": 7})
    api.call("PUT", one, {"tenantId": UNKNOWN}, json={"name": "x"})

    apps = "/management/v4/{tenantId}/applications"
    app = body_statuses(api, "POST", apps, {"tenantId": t}, {"name": "api"}, {})
    c = app.json()["clientId"]
    api.call("POST", apps, {"tenantId": UNKNOWN}, json={"name": "x"})
    api.call("GET", apps, {"tenantId": t}, admin=False)
    api.call("GET", apps, {"tenantId": t}, params={"cursor": "nope"})
    api.call("GET", apps, {"tenantId": UNKNOWN})
    api.call("GET", apps, {"tenantId": t})

    app_one = "/management/v4/{tenantId}/applications/{clientId}"
    ids = {"tenantId": t, "clientId": c}
    missing_app = {"tenantId": t, "clientId": UNKNOWN}
    api.call("GET", app_one, ids, admin=False)
    api.call("GET", app_one, missing_app)
    api.call("GET", app_one, ids)
    body_statuses(api, "PUT", app_one, ids, {"name": "api v2"}, {"name": "x" * 51})
    api.call("PUT", app_one, missing_app, json={"name": "x"})

    scopes = app_one + "/scopes"
    api.call("GET", scopes, ids, admin=False)
    api.call("GET", scopes, missing_app)
    api.call("GET", scopes, ids)
    body_statuses(api, "PUT", scopes, ids, {"scopes": ["read", "write"]}, {"scopes": ["Read"]})
    api.call("PUT", scopes, missing_app, json={"scopes": []})

    roles = "/management/v4/{tenantId}/roles"
    grant = {"name": "readers", "access": [{"application_id": c, "scopes": ["read"]}]}
    role = body_statuses(api, "POST", roles, {"tenantId": t}, grant, {"name": "x", "access": [{"application_id": UNKNOWN, "scopes": []}]})
    r = role.json()["id"]
    api.call("POST", roles, {"tenantId": UNKNOWN}, json={"name": "x"})
    api.call("GET", roles, {"tenantId": t}, admin=False)
    api.call("GET", roles, {"tenantId": t}, params={"limit": 500})
    api.call("GET", roles, {"tenantId": UNKNOWN})
    api.call("GET", roles, {"tenantId": t})

    role_one = roles + "/{roleId}"
    role_ids = {"tenantId": t, "roleId": r}
    missing_role = {"tenantId": t, "roleId": UNKNOWN}
    api.call("GET", role_one, role_ids, admin=False)
    api.call("GET", role_one, missing_role)
    api.call("GET", role_one, role_ids)
    body_statuses(api, "PUT", role_one, role_ids, {"name": "writers"}, {"name": "x", "description": 5})
    api.call("PUT", role_one, missing_role, json={"name": "x"})

    assigned = app_one + "/roles"
    api.call("GET", assigned, ids, admin=False)
    api.call("GET", assigned, missing_app)
    api.call("GET", assigned, ids)
    body_statuses(api, "PUT", assigned, ids, {"roles": {"ids": [r]}}, {"roles": {"ids": [UNKNOWN]}})
    api.call("PUT", assigned, missing_app, json={"roles": {"ids": []}})

    secret = app_one + "/secret"
    rotated = body_statuses(api, "POST", secret, ids, {"graceSeconds": 60}, {"graceSeconds": -1})
    api.call("POST", secret, missing_app)

    tokens = "/management/v4/{tenantId}/config/tokens"
    api.call("GET", tokens, {"tenantId": t}, admin=False)
    api.call("GET", tokens, {"tenantId": UNKNOWN})
    api.call("GET", tokens, {"tenantId": t})
    body_statuses(api, "PUT", tokens, {"tenantId": t}, {"access": {"expires_in": 900}}, {"access": {"expires_in": 1}})
    api.call("PUT", tokens, {"tenantId": UNKNOWN}, json={"access": {"expires_in": 900}})

    app_tokens = app_one + "/config/tokens"
    api.call("GET", app_tokens, ids, admin=False)
    api.call("GET", app_tokens, missing_app)
    api.call("GET", app_tokens, ids)
    body_statuses(api, "PUT", app_tokens, ids, {"access": {"expires_in": None}}, {"access": {"expires_in": 5}})
    api.call("PUT", app_tokens, missing_app, json={"access": {"expires_in": 900}})

    key_config = "/management/v4/{tenantId}/config/keys"
    api.call("GET", key_config, {"tenantId": t}, admin=False)
    api.call("GET", key_config, {"tenantId": UNKNOWN})
    api.call("GET", key_config, {"tenantId": t})
    body_statuses(api, "PUT", key_config, {"tenantId": t}, {"algorithm": "ES256"}, {"algorithm": "HS256"})
    api.call("PUT", key_config, {"tenantId": UNKNOWN}, json={"algorithm": "RS256"})
    rotate = key_config + "/rotate"
    api.call("POST", rotate, {"tenantId": t}, admin=False)
    api.call("POST", rotate, {"tenantId": UNKNOWN})
    rotated_keys = api.call("POST", rotate, {"tenantId": t}).json()
    assert rotated_keys["algorithm"] == "ES256", rotated_keys
    assert [k["status"] for k in rotated_keys["keys"]].count("retiring") == 1, rotated_keys

    token = "/oauth/v4/{tenantId}/token"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    good = (c, rotated.json()["secret"])
    answer = api.call("POST", token, {"tenantId": t}, auth=good, data="grant_type=client_credentials", headers=form)
    assert answer.json()["expires_in"] == 900
    api.call("POST", token, {"tenantId": t}, auth=good, data="grant_type=password", headers=form)
    scoped = api.call("POST", token, {"tenantId": t}, auth=good, headers=form,
                      data=f"grant_type=client_credentials&audience={c}&scope=read")
    assert scoped.status_code == 400 and scoped.json()["error"] == "invalid_scope", scoped.text
    target = api.call("POST", token, {"tenantId": t}, auth=good, headers=form,
                      data=f"grant_type=client_credentials&audience={UNKNOWN}")
    assert target.json()["error"] == "invalid_target", target.text
    api.call("POST", token, {"tenantId": t}, auth=(c, "wrong"), data="grant_type=client_credentials", headers=form)
    api.call("POST", token, {"tenantId": "not-a-tenant"}, auth=good, data="grant_type=client_credentials", headers=form)
    api.call("POST", token, {"tenantId": t}, auth=good, data="grant_type=client_credentials&pad=" + "x" * 20_000, headers=form)

    keys = "/oauth/v4/{tenantId}/publickeys"
    published = api.call("GET", keys, {"tenantId": t}).json()["keys"]
    assert sorted(k["kty"] for k in published) == ["EC", "EC", "RSA"], published
    api.call("GET", keys, {"tenantId": UNKNOWN})
    api.call("GET", "/openapi.yaml")
    for metadata in ["/oauth/v4/{tenantId}/.well-known/openid-configuration",
                     "/oauth/v4/{tenantId}/.well-known/oauth-authorization-server",
                     "/.well-known/oauth-authorization-server/oauth/v4/{tenantId}"]:
        api.call("GET", metadata, {"tenantId": t})
        api.call("GET", metadata, {"tenantId": UNKNOWN})
    access = api.call("POST", token, {"tenantId": t}, auth=good, data="grant_type=client_credentials", headers=form).json()["access_token"]
    for operation in ["/oauth/v4/{tenantId}/introspect", "/oauth/v4/{tenantId}/revoke"]:
        api.call("POST", operation, {"tenantId": t}, auth=good, data="token=", headers=form)
        api.call("POST", operation, {"tenantId": t}, auth=(c, "wrong"), data="token=x", headers=form)
        api.call("POST", operation, {"tenantId": "nope"}, auth=good, data="token=x", headers=form)
        api.call("POST", operation, {"tenantId": t}, auth=good, data="token=" + "x" * 20_000, headers=form)
    active = api.call("POST", "/oauth/v4/{tenantId}/introspect", {"tenantId": t}, auth=good, data=f"token={access}", headers=form)
    assert active.json()["active"] is True, active.text
    api.call("POST", "/oauth/v4/{tenantId}/revoke", {"tenantId": t}, auth=good, data=f"token={access}", headers=form)
    inactive = api.call("POST", "/oauth/v4/{tenantId}/introspect", {"tenantId": t}, auth=good, data=f"token={access}", headers=form)
    assert inactive.json() == {"active": False}, inactive.text
    posted = api.call("POST", token, {"tenantId": t}, headers=form,
                      data={"grant_type": "client_credentials", "client_id": good[0], "client_secret": good[1]})
    assert posted.status_code == 200, posted.text

    for template, key in [(role_one, role_ids), (app_one, ids), (one, {"tenantId": t})]:
        api.call("DELETE", template, key, admin=False)
        api.call("DELETE", template, key)
        api.call("DELETE", template, key)

    missing = documented() - api.seen
    assert not missing, f"documented but never exercised: {sorted(missing)}"


def test_a_tenant_over_its_rate_gets_the_documented_429(make_server):
    server = make_server(admin_token=ADMIN, tenant_rate_limit=1, tenant_burst_limit=1)
    api = Recorder(server.url)
    t = api.call("POST", "/management/v4/tenants", json={"name": "Busy"}).json()["tenantId"]
    app = api.call("POST", "/management/v4/{tenantId}/applications", {"tenantId": t}, json={"name": "a"}).json()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    statuses = [
        api.call("POST", "/oauth/v4/{tenantId}/token", {"tenantId": t}, auth=(app["clientId"], app["secret"]),
                 data="grant_type=client_credentials", headers=form).status_code
        for _ in range(3)
    ]
    assert 429 in statuses, statuses
    assert ("post", "/oauth/v4/{tenantId}/token", "429") in api.seen


def test_a_rotation_before_the_next_key_has_been_published_long_enough_gets_409(make_server):
    api = Recorder(make_server(admin_token=ADMIN).url)
    t = api.call("POST", "/management/v4/tenants", json={"name": "Patient"}).json()["tenantId"]
    early = api.call("POST", "/management/v4/{tenantId}/config/keys/rotate", {"tenantId": t})
    assert early.status_code == 409 and early.json()["error"] == "key_not_ready", early.text
    keys = api.call("GET", "/management/v4/{tenantId}/config/keys", {"tenantId": t}).json()
    assert keys["nextRotationAllowedAt"] >= keys["keys"][1]["createdAt"] + 3600, keys
