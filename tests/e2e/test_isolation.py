"""Tenant isolation, generated over every route of shared/openapi.yaml: without a valid admin
credential every management operation answers 401 and changes nothing; ids of one tenant used
under another name nothing there (404) and change nothing; credentials and tokens of one tenant
mint, introspect and revoke nothing in another."""

from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = yaml.safe_load((ROOT / "shared/openapi.yaml").read_text())
ADMIN = "isolation-admin-token-0123456789abcdefghijkl"
HEADERS = {"Authorization": f"Bearer {ADMIN}"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
METHODS = ("get", "put", "post", "delete")
# A valid body for every management operation that takes one, so that only the ids decide.
BODIES = {
    ("post", "/management/v4/tenants"): {"name": "intruder"},
    ("put", "/management/v4/tenants/{tenantId}"): {"name": "renamed"},
    ("post", "/management/v4/{tenantId}/applications"): {"name": "intruder"},
    ("put", "/management/v4/{tenantId}/applications/{clientId}"): {"name": "renamed"},
    ("put", "/management/v4/{tenantId}/applications/{clientId}/scopes"): {"scopes": ["stolen"]},
    ("put", "/management/v4/{tenantId}/applications/{clientId}/roles"): {"roles": {"ids": []}},
    ("post", "/management/v4/{tenantId}/applications/{clientId}/secret"): {"graceSeconds": 0},
    ("post", "/management/v4/{tenantId}/roles"): {"name": "intruder"},
    ("put", "/management/v4/{tenantId}/roles/{roleId}"): {"name": "renamed"},
    ("put", "/management/v4/{tenantId}/config/tokens"): {"access": {"expires_in": 300}},
    ("put", "/management/v4/{tenantId}/config/keys"): {"algorithm": "ES256"},
    ("put", "/management/v4/{tenantId}/applications/{clientId}/config/tokens"): {"access": {"expires_in": 300}},
}


def operations(prefix):
    return [
        (method, template)
        for template, item in DOC["paths"].items()
        if template.startswith(prefix)
        for method in item
        if method in METHODS
    ]


def tenant_with_app(base, name):
    tenant = requests.post(f"{base}/management/v4/tenants", json={"name": name}, headers=HEADERS).json()
    t = tenant["tenantId"]
    app = requests.post(f"{base}/management/v4/{t}/applications", json={"name": "api"}, headers=HEADERS).json()
    c = app["clientId"]
    requests.put(f"{base}/management/v4/{t}/applications/{c}/scopes", json={"scopes": ["read"]}, headers=HEADERS)
    role = requests.post(f"{base}/management/v4/{t}/roles", headers=HEADERS,
                         json={"name": "readers", "access": [{"application_id": c, "scopes": ["read"]}]}).json()
    token = requests.post(f"{base}/oauth/v4/{t}/token", auth=(c, app["secret"]),
                          data={"grant_type": "client_credentials"}).json()["access_token"]
    return {"tenantId": t, "clientId": c, "roleId": role["id"], "secret": app["secret"], "token": token}


@pytest.fixture
def world(make_server):
    server = make_server(admin_token=ADMIN, key_publication_lead_seconds=0)
    return server.url, tenant_with_app(server.url, "A"), tenant_with_app(server.url, "B")


def snapshot(base, a):
    """Everything of tenant A a management call could change."""
    t, c, r = a["tenantId"], a["clientId"], a["roleId"]
    paths = [f"/tenants/{t}", f"/{t}/applications", f"/{t}/applications/{c}", f"/{t}/applications/{c}/scopes",
             f"/{t}/applications/{c}/roles", f"/{t}/roles", f"/{t}/roles/{r}", f"/{t}/config/tokens",
             f"/{t}/config/keys", f"/{t}/applications/{c}/config/tokens"]
    return {p: requests.get(f"{base}/management/v4{p}", headers=HEADERS).json() for p in paths}


@pytest.mark.parametrize("credential", [None, "Bearer wrong-token-0123456789abcdefghijklmnopq", "Basic YTpi"])
def test_every_management_operation_without_a_valid_admin_credential_is_401_and_changes_nothing(world, credential):
    base, a, _ = world
    before = snapshot(base, a)
    for method, template in operations("/management"):
        headers = {"Authorization": credential} if credential else {}
        answer = requests.request(method, base + template.format(**a), headers=headers,
                                  json=BODIES.get((method, template)))
        assert answer.status_code == 401, (method, template, answer.text)
        assert answer.json()["error"] == "unauthorized"
    assert snapshot(base, a) == before


def test_ids_of_one_tenant_name_nothing_under_another(world):
    base, a, b = world
    before = snapshot(base, a)
    crossed = 0
    for method, template in operations("/management/v4/{tenantId}/"):
        if "{clientId}" not in template and "{roleId}" not in template:
            continue
        ids = {**a, "tenantId": b["tenantId"]}  # A's app and role, under B's name
        answer = requests.request(method, base + template.format(**ids), headers=HEADERS,
                                  json=BODIES.get((method, template)))
        assert answer.status_code == 404, (method, template, answer.text)
        assert answer.json()["error"] in ("application_not_found", "role_not_found"), answer.text
        crossed += 1
    assert crossed >= 12
    # B cannot reach A's apps through its own roles or assignments either.
    role = requests.post(f"{base}/management/v4/{b['tenantId']}/roles", headers=HEADERS,
                         json={"name": "x", "access": [{"application_id": a["clientId"], "scopes": ["read"]}]})
    assert (role.status_code, role.json()["error"]) == (400, "invalid_role"), role.text
    assign = requests.put(f"{base}/management/v4/{b['tenantId']}/applications/{b['clientId']}/roles",
                          headers=HEADERS, json={"roles": {"ids": [a["roleId"]]}})
    assert (assign.status_code, assign.json()["error"]) == (400, "invalid_role"), assign.text
    assert snapshot(base, a) == before


def test_credentials_and_tokens_of_one_tenant_mint_introspect_and_revoke_nothing_in_another(world):
    base, a, b = world
    a_credentials = (a["clientId"], a["secret"])
    b_credentials = (b["clientId"], b["secret"])
    for endpoint, data in [("token", {"grant_type": "client_credentials"}), ("introspect", {"token": a["token"]}),
                           ("revoke", {"token": a["token"]})]:
        answer = requests.post(f"{base}/oauth/v4/{b['tenantId']}/{endpoint}", auth=a_credentials, data=data)
        assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client"), (endpoint, answer.text)

    audience = requests.post(f"{base}/oauth/v4/{b['tenantId']}/token", auth=b_credentials,
                             data={"grant_type": "client_credentials", "audience": a["clientId"]})
    assert (audience.status_code, audience.json()["error"]) == (400, "invalid_target"), audience.text

    foreign = requests.post(f"{base}/oauth/v4/{b['tenantId']}/introspect", auth=b_credentials,
                            data={"token": a["token"]})
    assert foreign.json() == {"active": False}, foreign.text
    revoked = requests.post(f"{base}/oauth/v4/{b['tenantId']}/revoke", auth=b_credentials, data={"token": a["token"]})
    assert revoked.status_code == 200, revoked.text
    own = requests.post(f"{base}/oauth/v4/{a['tenantId']}/introspect", auth=a_credentials, data={"token": a["token"]})
    assert own.json()["active"] is True, "another tenant's revocation changed nothing"

    a_kids = {k["kid"] for k in requests.get(f"{base}/oauth/v4/{a['tenantId']}/publickeys").json()["keys"]}
    b_kids = {k["kid"] for k in requests.get(f"{base}/oauth/v4/{b['tenantId']}/publickeys").json()["keys"]}
    assert not a_kids & b_kids, "no tenant publishes another's keys"
