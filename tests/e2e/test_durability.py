"""The embedded store under `kill -9`: a storm of concurrent writes (tenants, apps, secret
rotations, key changes) is cut off by SIGKILL; after a restart the store opens cleanly and every
write the server acknowledged is there, whole."""

import signal
import threading

import requests

ADMIN = "durability-admin-token-0123456789abcdefghijk"
HEADERS = {"Authorization": f"Bearer {ADMIN}"}
WRITERS = 8


def test_every_acknowledged_write_survives_a_kill_9_in_the_middle_of_a_write_storm(make_server):
    server = make_server(admin_token=ADMIN, key_publication_lead_seconds=0)
    tenant = requests.post(f"{server.url}/management/v4/tenants", json={"name": "storm"}, headers=HEADERS).json()
    t = tenant["tenantId"]
    acknowledged = {"apps": {}, "tenants": [], "rotations": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n):
        session = requests.Session()
        i = 0
        while not stop.is_set():
            i += 1
            try:
                app = session.post(f"{server.url}/management/v4/{t}/applications", json={"name": f"w{n}-{i}"},
                                   headers=HEADERS, timeout=5)
                if app.status_code != 201:
                    continue
                body = app.json()
                with lock:
                    acknowledged["apps"][body["clientId"]] = body["secret"]
                rotated = session.post(f"{server.url}/management/v4/{t}/applications/{body['clientId']}/secret",
                                       json={"graceSeconds": 3600}, headers=HEADERS, timeout=5)
                if rotated.status_code == 200:
                    with lock:
                        acknowledged["apps"][body["clientId"]] = rotated.json()["secret"]
                if i % 5 == 0:
                    other = session.post(f"{server.url}/management/v4/tenants", json={"name": f"t{n}-{i}"},
                                         headers=HEADERS, timeout=5)
                    if other.status_code == 201:
                        with lock:
                            acknowledged["tenants"].append(other.json()["tenantId"])
                if n == 0 and i % 10 == 0:
                    keys = session.post(f"{server.url}/management/v4/{t}/config/keys/rotate", headers=HEADERS, timeout=5)
                    if keys.status_code == 200:
                        with lock:
                            acknowledged["rotations"] += 1
            except requests.RequestException:
                return  # the server is gone

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    while True:
        with lock:
            if len(acknowledged["apps"]) >= 150:
                break
        stop.wait(0.05)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)

    restarted = make_server(admin_token=ADMIN, data_dir=server.data_dir)
    base = restarted.url
    listed, cursor = set(), None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{base}/management/v4/{t}/applications", params=params, headers=HEADERS)
        assert page.status_code == 200, page.text
        listed |= {a["clientId"] for a in page.json()["applications"]}
        cursor = page.json().get("nextCursor")
        if not cursor:
            break
    missing = set(acknowledged["apps"]) - listed
    assert not missing, f"{len(missing)} acknowledged apps lost"
    for tenant_id in acknowledged["tenants"]:
        assert requests.get(f"{base}/management/v4/tenants/{tenant_id}", headers=HEADERS).status_code == 200
    # Each app answers to the last secret it was acknowledged with (a rotation cut off before its
    # answer leaves the previous secret working for its grace period).
    for client_id, secret in list(acknowledged["apps"].items())[:: max(1, len(acknowledged["apps"]) // 25)]:
        token = requests.post(f"{base}/oauth/v4/{t}/token", auth=(client_id, secret),
                              data={"grant_type": "client_credentials"})
        assert token.status_code == 200, (client_id, token.text)
    keys = requests.get(f"{base}/management/v4/{t}/config/keys", headers=HEADERS).json()
    assert [k["status"] for k in keys["keys"]].count("current") == 1, keys
