#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<target>/ (committed; rerun
after changing a target's input format).

  python3 tests/fuzz/seeds.py [--kubectl tools/kube/bin/kubectl]
                              [--kubeconfig tools/kube/state/kubeconfig]

Replies come from tests/fixtures (recorded from a real kube-apiserver), with
the Lease renamed to the targets' "f" and, for writes, the @-placeholders
that echo the request in flight (tests/fuzz/core.h). Kubeconfigs are the
test bed's own (written by tools/kube's apiserver with client-go) and ones
kubectl writes with `kubectl config set-*`; every token, key and path in
them is replaced by a fake one (the CA next to the kubeconfig is the
target's own, see tests/fuzz/tls.h)."""
import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")
FIX = os.path.join(ROOT, "tests", "fixtures")

K_GET, K_POST, K_TAKEOVER, K_RENEW, K_RELEASE, K_RELEASE_GET = range(6)


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        raw = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    body = body.strip().replace(b"fixture-lock", b"f")
    return head.decode(), json.loads(body)


def jb(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def lease(holder, rv="5", echo=False, dur=15, ann=None):
    """A Lease body; echo: the Lease as written by the request in flight."""
    _, obj = fixture("get-200.http")
    spec = obj["spec"]
    spec["holderIdentity"] = holder
    spec["leaseDurationSeconds"] = dur
    if ann:
        obj["metadata"]["annotations"].update(ann)
    if echo:
        spec["acquireTime"], spec["renewTime"] = "@A", "@R"
        obj["metadata"]["resourceVersion"] = "@N"
        b = jb(obj).replace(b'"leaseTransitions":0', b'"leaseTransitions":@T')
        return b
    obj["metadata"]["resourceVersion"] = rv
    return jb(obj)


def status(fixture_name):
    _, obj = fixture(fixture_name)
    return jb(obj)


def status_obj(code, reason, message):
    return jb({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code})


def rec(c0, c1, c2, payload):
    return bytes([c0, c1, c2, len(payload) >> 8 & 255, len(payload) & 255]) + payload


def http(code, text, body, extra=b""):
    """A raw reply; @L is its Content-Length once the @-placeholders are in."""
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n" % (code, text) + extra +
            b"Content-Length: @L\r\n\r\n" + body)


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def core_seeds():
    other = lease("pod-a")
    free = lease("")
    ours_echo = lease("me", echo=True)
    release_echo = lease("", echo=True).replace(b'"leaseDurationSeconds":15', b'"leaseDurationSeconds":1')
    rec_echo = lease("me", echo=True, ann={"le.h/k": "v"})
    errs = {401: status("get-401.http"), 403: status("put-403.http"), 404: status("get-404.http"),
            409: status("put-409.http"), 422: status("put-422.http"),
            429: status_obj(429, "TooManyRequests", "too many requests, please try again later"),
            500: status_obj(500, "InternalError", "Internal error occurred: etcdserver: request timed out"),
            503: status_obj(503, "ServiceUnavailable", "the server is currently unable to handle the request"),
            "ns404": status("post-404-namespace.http")}
    texts = {200: b"OK", 201: b"Created", 401: b"Unauthorized", 403: b"Forbidden", 404: b"Not Found",
             409: b"Conflict", 422: b"Unprocessable Entity", 429: b"Too Many Requests",
             500: b"Internal Server Error", 503: b"Service Unavailable"}

    # plays: (kind, [(code, body), ...]) in the order the elector asks
    plays = {
        "follow": (K_GET, [(200, other), (200, other), (200, free), (200, ours_echo)]),
        "create": (K_GET, [(404, errs[404]), (201, ours_echo), (200, ours_echo), (200, ours_echo)]),
        "create-ns-missing": (K_POST, [(404, errs["ns404"]), (404, errs[404])]),
        "create-conflict": (K_POST, [(409, errs[409]), (200, other)]),
        "takeover": (K_TAKEOVER, [(200, ours_echo), (200, ours_echo)]),
        "takeover-lost": (K_TAKEOVER, [(409, errs[409]), (200, other), (200, other)]),
        "renew": (K_RENEW, [(200, ours_echo), (200, ours_echo), (500, errs[500]), (200, ours_echo)]),
        "renew-forbidden": (K_RENEW, [(403, errs[403]), (200, ours_echo), (422, errs[422])]),
        "renew-throttled": (K_RENEW, [(429, errs[429]), (200, ours_echo)]),
        "renew-unauthorized": (K_RENEW, [(401, errs[401]), (200, lease("me", rv="6"))]),
        "release": (K_RELEASE, [(200, release_echo)]),
        "release-conflict": (K_RELEASE_GET, [(200, lease("me", rv="7")), (200, release_echo)]),
        "release-gone": (K_RELEASE_GET, [(404, errs[404])]),
        "unavailable": (K_GET, [(503, errs[503]), (200, other)]),
    }
    for name, (kind, replies) in plays.items():
        raw, framed, st = bytes([kind]), bytes([kind]), bytes([kind])
        for i, (code, body) in enumerate(replies):
            extra = b"Retry-After: 3\r\n" if code in (429, 503) else b""
            raw += rec(0x07, 0, 0, http(code, texts[code], body, extra))
            if code in (200, 201):
                framed += rec(0x07, 0x00 | (4 * (i % 2)), 0, body)   # CL, then chunked
            else:
                idx = [401, 403, 404, 409, 422, 429, 500, 503].index(code)
                st += rec(0x07, 0x30 if code in (429, 503) else 0, idx << 4, body)
        write("reply", name, raw)
        write("lease", name, framed)
        if len(st) > 1:
            write("status", name, st)
    # a renew that carries a record; interim replies, chunks, close-delimited
    write("lease", "record", bytes([K_RENEW]) + rec(0x07, 0, 0x10, rec_echo) + rec(0x07, 0, 0, rec_echo))
    write("reply", "record", bytes([K_RENEW]) + rec(0x07, 0, 0x10, http(200, b"OK", rec_echo)))
    write("reply", "interim", bytes([K_GET]) + rec(0x02, 0, 0, b"HTTP/1.1 100 Continue\r\n\r\n" +
                                                     http(200, b"OK", other)))
    chunked = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"20\r\n" + other[:32] + b"\r\n" + b"%x\r\n" % (len(other) - 32) + other[32:] +
               b"\r\n0\r\n\r\n")
    write("reply", "chunked", bytes([K_GET]) + rec(0x05, 0, 0, chunked))
    write("reply", "close-delimited", bytes([K_GET]) + rec(0x0f, 0, 0, b"HTTP/1.1 200 OK\r\n"
                                                              b"Connection: close\r\n\r\n" + other))
    write("lease", "padded", bytes([K_GET]) + rec(0x07, 0, 0x01, other) + rec(0x07, 0x04, 0x02, other))
    write("status", "retry-after", bytes([K_RENEW]) + rec(0x07, 0x50, 5 << 4, errs[429]) +
          rec(0x07, 0x60, 7 << 4, errs[503]))
    # hostile replies that le.h must refuse (each catches a mutant of
    # tests/fuzz/mutants.sh at once): a no-op write (the resourceVersion
    # sent comes back), a holder that is our identity plus a NUL and more,
    # a 300-byte holder, a write's reply fed while the write is still
    # being sent (before the request, half of it sent)
    noop = ours_echo.replace(b'"resourceVersion":"@N"', b'"resourceVersion":"@V"')
    nul = lease("me\u0000x")
    for t, enc in (("lease", lambda c0, b: rec(c0, 0, 0, b)), ("reply", lambda c0, b: rec(c0, 0, 0, http(200, b"OK", b))),):
        write(t, "noop-write", bytes([K_TAKEOVER]) + enc(0x07, noop) + enc(0x07, noop))
        write(t, "nul-holder", bytes([K_GET]) + enc(0x07, nul) + enc(0xc7, nul) + enc(0x07, ours_echo))
        write(t, "long-holder", bytes([K_GET]) + enc(0x07, lease("h" * 300)) + enc(0xc7, lease("h" * 300)))
    # JSON that jsmn takes but is not JSON (no comma between two members):
    # refused, or at least never sent back malformed
    nocomma = lease("").replace(b'"spec":{', b'"spec":{"x":{}"y":{},', 1)
    write("lease", "missing-comma", bytes([K_GET]) + rec(0x07, 0, 0, nocomma))
    write("reply", "missing-comma", bytes([K_GET]) + rec(0x07, 0, 0, http(200, b"OK", nocomma)))
    write("lease", "before-request", bytes([K_TAKEOVER]) + rec(0x07, 0, 0, ours_echo) + rec(0x17, 0, 0x20, ours_echo))
    write("reply", "before-request", bytes([K_TAKEOVER]) + rec(0x07, 0, 0, http(200, b"OK", ours_echo)) +
          rec(0x17, 0, 0x20, http(200, b"OK", ours_echo)))
    write("status", "teapot", bytes([K_GET]) + rec(0x07, 0, 12 << 4, status_obj(418, "Teapot", "\u00e9\u0001")))


def watch_seeds():
    other = json.loads(lease("pod-a", rv="6"))
    free = json.loads(lease("", rv="7"))
    ev = lambda t, o: jb({"type": t, "object": o}) + b"\n"
    bookmark = ev("BOOKMARK", {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
                               "metadata": {"resourceVersion": "9", "annotations": {
                                   "k8s.io/initial-events-end": "true"}}})
    gone = ev("ERROR", json.loads(status_obj(410, "Expired", "too old resource version: 5 (9)")))
    ours_echo = lease("me", echo=True)
    take = rec(0x17, 0, 0, http(200, b"OK", ours_echo))
    write("watch", "modified", rec(0x07, 0, 2, ev("MODIFIED", other)) + rec(0x07, 0, 2, bookmark))
    write("watch", "released", rec(0x07, 0, 3, ev("MODIFIED", free)) + take)
    write("watch", "deleted", rec(0x07, 0, 3, ev("DELETED", other)) + rec(0x17, 0, 0, http(
        404, b"Not Found", status("get-404.http"))) + take)
    write("watch", "gone", rec(0x07, 0, 3, gone) + rec(0x17, 0, 0, http(200, b"OK", lease("pod-a"))))
    write("watch", "ended", rec(0x0f, 0, 3, ev("ADDED", other)) + rec(0x07, 0, 3, ev("MODIFIED", other)))
    write("watch", "expiry", rec(0x07, 0, 3, ev("MODIFIED", other)) + rec(0xc7, 0, 3, bookmark) + take)
    write("watch", "forbidden", rec(0x07, 2, 0, http(403, b"Forbidden", status("put-403.http"))))
    write("watch", "close-delimited", rec(0x0f, 1, 0, ev("ADDED", other) + bookmark))


def kubeconfig_seeds(kubectl, kubeconfig):
    fake = "fake-token-0123456789abcdef"
    ca_pem = open(os.path.join(ROOT, "build", "libfuzzer", "ca.crt"), "rb").read() \
        if os.path.exists(os.path.join(ROOT, "build", "libfuzzer", "ca.crt")) else None
    if kubeconfig and os.path.exists(kubeconfig):
        text = open(kubeconfig).read()
        text = re.sub(r"token: .*", "token: " + fake, text)
        text = re.sub(r"certificate-authority: .*", "certificate-authority: ca.crt", text)
        write("kubeconfig", "testbed", text.encode())
        write("kubeconfig", "testbed-tokenfile", text.replace("token: " + fake, "tokenFile: token").encode())
    if not kubectl or not shutil.which(kubectl):
        print("seeds: no kubectl, kubectl-written kubeconfigs skipped", file=sys.stderr)
        return
    d = tempfile.mkdtemp()
    try:
        path = os.path.join(d, "kc")
        kubectl = os.path.abspath(kubectl)
        k = lambda *a: subprocess.run([kubectl, "--kubeconfig", path, "config"] + list(a),
                                      check=True, stdout=subprocess.DEVNULL, cwd=d)
        rel = lambda b: b.replace((os.path.realpath(d) + "/").encode(), b"").replace((d + "/").encode(), b"")
        k("set-cluster", "le", "--server=https://127.0.0.1:16443", "--certificate-authority=ca.crt")
        k("set-cluster", "named", "--server=https://kubernetes.example:6443", "--tls-server-name=api.example")
        k("set-cluster", "v6", "--server=https://[::1]:6443", "--certificate-authority=ca.crt")
        k("set-cluster", "insecure", "--server=https://127.0.0.1:1", "--insecure-skip-tls-verify=true")
        k("set-credentials", "tok", "--token=" + fake)
        k("set-credentials", "cert", "--client-certificate=client.crt", "--client-key=client.key")
        k("set-credentials", "basic", "--username=admin", "--password=fake-password")
        k("set-credentials", "plugin", "--exec-command=kubelogin", "--exec-api-version=client.authentication.k8s.io/v1",
          "--exec-arg=get-token", "--exec-env=A=b")
        k("set-credentials", "cloud", "--auth-provider=oidc", "--auth-provider-arg=client-id=fake")
        for ctx, cl, us, ns in [("le", "le", "tok", "le-test"), ("named", "named", "cert", ""),
                                ("v6", "v6", "tok", ""), ("insecure", "insecure", "tok", ""),
                                ("basic", "le", "basic", ""), ("plugin", "le", "plugin", ""),
                                ("cloud", "le", "cloud", "")]:
            args = ["set-context", ctx, "--cluster=" + cl, "--user=" + us]
            if ns:
                args.append("--namespace=" + ns)
            k(*args)
        for ctx in ["le", "named", "v6", "insecure", "basic", "plugin", "cloud"]:
            k("use-context", ctx)
            write("kubeconfig", "kubectl-" + ctx, rel(open(path, "rb").read()))
        if ca_pem:  # certificate-authority-data: the targets' own CA (no key anywhere)
            k("set-cluster", "le", "--server=https://127.0.0.1:16443", "--embed-certs=true",
              "--certificate-authority=" + os.path.join(ROOT, "build", "libfuzzer", "ca.crt"))
            k("use-context", "le")
            write("kubeconfig", "kubectl-embedded-ca", rel(open(path, "rb").read()))
    finally:
        shutil.rmtree(d)


def token_seeds():
    jwt = (base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"fake"}').rstrip(b"=") + b"." +
           base64.urlsafe_b64encode(b'{"sub":"system:serviceaccount:default:app"}').rstrip(b"=") +
           b".ZmFrZS1zaWduYXR1cmU")[:60]
    for name, data in [("jwt", jwt), ("jwt-newline", jwt + b"\n"), ("crlf", b"  fake-token\r\n"),
                       ("empty", b""), ("blank", b" \n\t\n"), ("max", b"t" * 64), ("over", b"t" * 65),
                       ("over-blanks", b"t" * 64 + b"  x"), ("inner-space", b"fake token")]:
        write("token", name, data)


def env_seeds():
    for name, flags, vals in [
        ("pod", 0x1f, [b"10.96.0.1", b"443", b"web-0", b"prod", b"prod\n"]),
        ("v6", 0x13, [b"fd00::1", b"443", b"", b"", b"default"]),
        ("nsfile", 0x17, [b"10.96.0.1", b"6443", b"web-1", b"", b"kube-system\n"]),
        ("no-host", 0x1e, [b"", b"443", b"web-0", b"prod", b"prod"]),
        ("bad-port", 0x1f, [b"10.96.0.1", b"44x3", b"web-0", b"prod", b"prod"]),
        ("no-nsfile", 0x03, [b"10.96.0.1", b"443", b"", b"", b""]),
        ("long-name", 0x1f, [b"10.96.0.1", b"443", b"p" * 300, b"prod", b"prod"]),
    ]:
        write("env", name, bytes([flags]) + b"\0".join(vals))


def lerun_seeds():
    for name, flags, req in [
        ("healthz", 0x06, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("leader", 0x16, b"GET /leader HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\n\r\n"),
        ("metrics", 0x0e, b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"),
        ("head", 0x06, b"HEAD /healthz HTTP/1.0\n\n"),
        ("post", 0x03, b"POST /leader HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"),
        ("query", 0x00, b"GET /metrics?x=1 HTTP/1.1\r\n\r\n"),
        ("notfound", 0x06, b"GET /nope HTTP/1.1\r\n\r\n"),
        ("long", 0x04, b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 1100 + b"\r\n\r\n"),
    ]:
        write("lerun", name, bytes([flags]) + req)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubectl", default=os.path.join(ROOT, "tools", "kube", "bin", "kubectl"))
    ap.add_argument("--kubeconfig", default=os.path.join(ROOT, "tools", "kube", "state", "kubeconfig"))
    a = ap.parse_args()
    core_seeds()
    watch_seeds()
    kubeconfig_seeds(a.kubectl, a.kubeconfig)
    token_seeds()
    env_seeds()
    lerun_seeds()
    for t in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, t))
        size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        print("seeds: %-10s %2d files, %6d bytes" % (t, len(files), size))


if __name__ == "__main__":
    main()
