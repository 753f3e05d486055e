#!/usr/bin/env python3
"""What may differ between the Kubernetes releases the test bed builds
(tools/kube/versions.sh), checked against the running one:

    LE_STATE_DIR=... python3 tests/kube-versions.py MINOR     (e.g. 1.35)

- release: the server, its client-go peer and kubectl are the release asked
  for, so a run against "1.35" really is one.
- replies: the replies le.h's requests get (tools/capture-fixtures.py, into
  build/kube-versions/MINOR/) have the form of the ones in tests/fixtures
  (recorded from the newest release), and the unit tests pass when fed
  with them instead.
- coordinated-fields: with the CoordinatedLeaderElection gate that
  tools/kube turns on, the server keeps spec.strategy and
  spec.preferredHolder, and a le.h leader that acquires, renews and
  releases the Lease keeps them, the labels and the annotations.
- preferred-holder: spec.preferredHolder ends a term only for coordinated
  electors; a client-go LeaseLock leader and a le.h leader both keep leading
  when it is set, and le.h's renews keep it.

Ends with "kube-versions: N passed, M failed"."""
import json, os, shutil, ssl, subprocess, sys, time, traceback, urllib.error, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "integration"))
from harness import TOP, Replica, check_no_overlap, env, mono_ns, wait_for

CFG = env()
KBIN = CFG.get("LE_KUBE_BIN") or os.path.join(TOP, "tools", "kube", "bin")
ADMIN = open(CFG["LE_ADMIN_TOKEN_FILE"]).read().strip()
TLS = ssl.create_default_context(cafile=CFG["LE_CA"])
LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
FAST = ("4s", "3s", "1s")
checks = []


def api(method, path, body=None):
    req = urllib.request.Request(CFG["LE_SERVER"] + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=TLS, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def fresh_lease(name, spec, meta=None):
    api("DELETE", LEASES + "/" + name)
    st, obj = api("POST", LEASES, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                   "metadata": dict(meta or {}, name=name), "spec": spec})
    assert st == 201, "creating Lease %s: HTTP %d %s" % (name, st, obj.get("message"))
    return obj


def check(fn):
    checks.append(fn)
    return fn


@check
def release(want):
    st, v = api("GET", "/version")
    assert st == 200, "/version: HTTP %d" % st
    got = v["gitVersion"]
    assert got.startswith("v%s." % want), "the server is %s, not Kubernetes %s" % (got, want)
    assert got == CFG.get("LE_KUBE_RELEASE"), "env file says %s, /version %s" % (CFG.get("LE_KUBE_RELEASE"), got)
    out = subprocess.run([os.path.join(KBIN, "kubectl"), "version", "--client", "-o", "json"],
                         capture_output=True, text=True, timeout=30)
    kc = json.loads(out.stdout)["clientVersion"]["gitVersion"]
    assert kc == got, "kubectl in %s is %s, the server %s" % (KBIN, kc, got)
    return "server and kubectl %s (built with %s), client-go peer from %s" % (got, v["goVersion"], KBIN)


def shape(path):
    """A recorded reply without what changes on every run: status line,
    header names, body with ids, versions and times blanked."""
    raw = open(path, "rb").read()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")

    def blank(o, key=""):
        if isinstance(o, dict):
            return {k: blank(v, k) for k, v in o.items()}
        if isinstance(o, list):
            return [blank(v, key) for v in o]
        return "<%s>" % key if key in ("uid", "resourceVersion", "creationTimestamp", "time") else o
    return lines[0], sorted(l.split(":")[0] for l in lines[1:]), blank(json.loads(body))


def first_difference(x, y, where=""):
    """The path of the first place where x and y differ, and both values there."""
    if isinstance(x, dict) and isinstance(y, dict):
        for k in list(x) + [k for k in y if k not in x]:
            if x.get(k, "<absent>") != y.get(k, "<absent>"):
                return first_difference(x.get(k, "<absent>"), y.get(k, "<absent>"), where + "." + k)
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (u, v) in enumerate(zip(x, y)):
            if u != v:
                return first_difference(u, v, "%s[%d]" % (where, i))
    return where and " at " + where.lstrip("."), x, y


@check
def replies(want):
    work = os.path.join(TOP, "build", "kube-versions", want)
    shutil.rmtree(work, ignore_errors=True)
    fx = os.path.join(work, "tests", "fixtures")
    out = subprocess.run([sys.executable, os.path.join(TOP, "tools", "capture-fixtures.py"), fx],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ, LE_STATE_DIR=CFG["LE_STATE_DIR"]))
    assert out.returncode == 0, "capture-fixtures.py: %s" % out.stderr.strip()[-500:]
    ref = os.path.join(TOP, "tests", "fixtures")
    names = sorted(os.listdir(ref))
    assert sorted(os.listdir(fx)) == names, "recorded %s, tests/fixtures has %s" % (sorted(os.listdir(fx)), names)
    for n in names:
        a, b = shape(os.path.join(ref, n)), shape(os.path.join(fx, n))
        for what, x, y in zip(("status line", "header names", "body"), a, b):
            if x != y:
                where, x, y = first_difference(x, y)
                raise AssertionError("%s: %s%s differs from tests/fixtures (the unit tests cover only the "
                                     "latter): %s there, %s here" % (n, what, where, json.dumps(x), json.dumps(y)))
    # the unit tests read tests/fixtures/ relative to the working directory
    unit = subprocess.run([os.path.join(TOP, "build", "unit")], cwd=work, capture_output=True, text=True, timeout=300)
    assert unit.returncode == 0, "build/unit fed with this release's replies: %s" % (unit.stdout + unit.stderr)[-2000:]
    return "%d replies in the form of tests/fixtures; build/unit on them: %s" % (
        len(names), unit.stdout.strip().splitlines()[-1])


@check
def coordinated_fields(want):
    meta = {"labels": {"app": "web"}, "annotations": {"note": "keep me"}}
    spec = {"holderIdentity": "", "leaseDurationSeconds": 1, "leaseTransitions": 4,
            "strategy": "OldestEmulationVersion", "preferredHolder": "kv-somebody"}
    obj = fresh_lease("kv-coord", spec, meta)
    assert obj["spec"].get("strategy") == "OldestEmulationVersion" and obj["spec"].get("preferredHolder") == "kv-somebody", \
        "the server dropped spec.strategy/preferredHolder on create (is the CoordinatedLeaderElection gate on?): %s" % obj["spec"]
    r = Replica("c", "kv-coord-c", "kv-coord", CFG, FAST)
    try:
        wait_for(r.leading, 15, "le.h to take the free Lease")
        rv = api("GET", LEASES + "/kv-coord")[1]["metadata"]["resourceVersion"]
        wait_for(lambda: api("GET", LEASES + "/kv-coord")[1]["metadata"]["resourceVersion"] != rv, 5, "a renew")
        r.term()
    finally:
        if r.p.poll() is None:
            r.kill()
    st, got = api("GET", LEASES + "/kv-coord")
    s, m = got["spec"], got["metadata"]
    assert s.get("holderIdentity", "") == "" and s["leaseTransitions"] == 5, "not acquired and released: %s" % s
    assert s.get("strategy") == "OldestEmulationVersion" and s.get("preferredHolder") == "kv-somebody", \
        "lost after le.h's writes: %s" % s
    assert m.get("labels") == meta["labels"] and m.get("annotations", {}).get("note") == "keep me", m
    return "strategy, preferredHolder, labels, annotations kept through le.h's acquire, renew and release"


@check
def preferred_holder(want):
    """spec.preferredHolder marks the end of a term for *coordinated*
    electors (client-go's Coordinated: true, with LeaseCandidates). A plain
    elector, client-go's LeaseLock or le.h, keeps leading: checked for both.
    Whether the marks survive their renews is recorded: le.h must keep them."""
    res = {}
    for kind in ("go", "c"):
        name = "kv-ph-" + kind
        api("DELETE", LEASES + "/" + name)
        r = Replica(kind, name + "-0", name, CFG, FAST)
        try:
            wait_for(r.leading, 15, "the %s replica to lead" % kind)
            for _ in range(10):  # the leader renews every second: retry a conflict
                st, obj = api("GET", LEASES + "/" + name)
                obj["spec"].update(strategy="OldestEmulationVersion", preferredHolder="kv-successor")
                st, put = api("PUT", LEASES + "/" + name, obj)
                if st != 409:
                    break
            assert st == 200, "marking the end of term: HTTP %d %s" % (st, put.get("message"))
            t0 = mono_ns()
            time.sleep(5)  # RenewDeadline (3 s) + RetryPeriod (1 s) + 1 s
            assert r.leading() and not [e for e in r.events if e["ev"] == "stopped" and e["t"] > t0], \
                "the %s replica stopped leading after preferredHolder was set" % kind
            s = api("GET", LEASES + "/" + name)[1]["spec"]
            assert s["holderIdentity"] == name + "-0" and s["renewTime"] != put["spec"]["renewTime"], s
            res[kind] = "strategy" in s and s.get("preferredHolder") == "kv-successor"
            check_no_overlap([r])
        finally:
            if r.p.poll() is None:
                r.kill()
    assert res["c"], "le.h's renews dropped spec.strategy/preferredHolder"
    return "both keep leading after spec.preferredHolder is set; their renews %s (client-go) and keep (le.h) the marks" % (
        "keep" if res["go"] else "drop")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    want = sys.argv[1]
    os.makedirs(os.path.join(TOP, "build"), exist_ok=True)
    passed = failed = 0
    for fn in checks:
        t = time.monotonic()
        try:
            note = fn(want)
            passed += 1
            print("kube-versions: %-18s ok   %5.1f s  %s" % (fn.__name__, time.monotonic() - t, note), flush=True)
        except Exception as e:
            failed += 1
            print("kube-versions: %-18s FAIL %5.1f s  %s" % (fn.__name__, time.monotonic() - t, e), flush=True)
            traceback.print_exc()
    print("kube-versions: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
