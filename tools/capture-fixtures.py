#!/usr/bin/env python3
"""Records kube-apiserver's raw HTTP/1.1 replies to the requests le.h makes,
into tests/fixtures/*.http (or OUT_DIR), for the unit tests. Needs the local
API server (LE_STATE_DIR names its state dir if it is not the default one):
    tools/kube/up.sh && python3 tools/capture-fixtures.py [OUT_DIR]
The requests carry le.h's User-Agent: the API server pretty-prints JSON for
curl and wget, and compact JSON is what le.h receives."""
import json, os, re, socket, ssl, sys

env = {}
state = os.environ.get("LE_STATE_DIR", os.path.join(os.path.dirname(__file__), "kube", "state"))
for line in open(os.path.join(state, "env")):
    k, _, v = line.strip().partition("=")
    env[k] = v
host, port = re.match(r"https://([^:/]+):(\d+)", env["LE_SERVER"]).groups()
tok = {k: open(env[f"LE_{k.upper()}_TOKEN_FILE"]).read().strip() for k in ("admin", "user", "norbac")}
ctx = ssl.create_default_context(cafile=env["LE_CA"])
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
os.makedirs(out, exist_ok=True)
API = "/apis/coordination.k8s.io/v1/namespaces/"


def raw(method, path, token, body=None):
    s = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
    data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
    req = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: le.h/0.1\r\n"
    req += f"Authorization: Bearer {token}\r\nAccept: application/json\r\nConnection: close\r\n"
    if body is not None:
        req += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    s.sendall(req.encode() + b"\r\n" + data)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    # the request asked for Connection: close; drop that header so the
    # recording is what a keep-alive client sees
    head, _, rest = got.partition(b"\r\n\r\n")
    head = b"\r\n".join(l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:"))
    return head + b"\r\n\r\n" + rest


def save(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    print(name, data.split(b"\r\n", 1)[0].decode())
    return json.loads(data.partition(b"\r\n\r\n")[2] or b"{}")


lease = API + "default/leases/fixture-lock"
raw("DELETE", lease, tok["admin"])
save("get-404.http", raw("GET", lease, tok["user"]))
created = save("post-201.http", raw("POST", API + "default/leases", tok["user"], {
    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
    "metadata": {"name": "fixture-lock", "namespace": "default",
                 "labels": {"app": "web"}, "annotations": {"note": "keep me"}},
    "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15,
             "acquireTime": "2026-11-24T09:00:00.000000Z", "renewTime": "2026-11-24T09:00:00.000000Z",
             "leaseTransitions": 0, "strategy": "OldestEmulationVersion", "preferredHolder": "pod-z"}}))
got = save("get-200.http", raw("GET", lease, tok["user"]))
got["spec"]["renewTime"] = "2026-11-24T09:00:02.000000Z"
save("put-200.http", raw("PUT", lease, tok["user"], got))
save("put-409.http", raw("PUT", lease, tok["user"], got))  # stale resourceVersion
save("put-403.http", raw("PUT", lease, tok["norbac"], got))
save("get-401.http", raw("GET", lease, "not-a-valid-token"))
bad = json.loads(json.dumps(got))
bad["metadata"].pop("resourceVersion")
bad["spec"]["leaseDurationSeconds"] = -5
save("put-422.http", raw("PUT", lease, tok["user"], bad))
save("post-404-namespace.http", raw("POST", API + "nope/leases", tok["admin"], {
    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
    "metadata": {"name": "fixture-lock", "namespace": "nope"}, "spec": {"holderIdentity": "pod-a"}}))
raw("DELETE", lease, tok["admin"])
