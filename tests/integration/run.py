#!/usr/bin/env python3
"""Integration tests: le.h electors (through its HTTPS transport) and
client-go's own elector against the local kube-apiserver (tools/kube).

    tools/kube/up.sh && python3 tests/integration/run.py [scenario ...]

Each scenario uses its own Lease. Leadership intervals from every replica
are checked for overlap (CLOCK_MONOTONIC stamps, one machine)."""
import json, os, subprocess, sys, time, traceback

sys.path.insert(0, os.path.dirname(__file__))
from harness import (STATE, TOP, Replica, check_no_overlap, env, first_start_after, leader,
                     mono_ns, wait_for)

CFG = env()
PEER = os.path.join(CFG.get("LE_KUBE_BIN") or os.path.join(TOP, "tools", "kube", "bin"), "le-peer")
FAST = ("4s", "3s", "1s")  # LeaseDuration, RenewDeadline, RetryPeriod for the long scenarios


def takeover_bound(lease, retry, kind):
    """Latest a follower of this kind can take over after the leader dies.
    Both start the expiry clock when their poll sees the last renew, up to
    one jittered poll (2.2 x RetryPeriod) after it; le.h then polls at the
    expiry itself, client-go at its next jittered poll after it. 0.5 s for
    request latency and process start-up."""
    return lease + 2.2 * retry * (1 if kind == "c" else 2) + 0.5
results = []


def get_lease(name):
    out = subprocess.run([PEER, "get", "--kubeconfig", CFG["LE_KUBECONFIG"], "--namespace",
                          "default", "--name", name], capture_output=True, text=True, timeout=60)
    if out.returncode:
        raise AssertionError("client-go could not read Lease %s: %s" % (name, out.stderr.strip()))
    return json.loads(out.stdout)


def stop_all(rs):
    for r in rs:
        if r.p.poll() is None:
            r.kill()


def secs(ns):
    return ns / 1e9


def scenario(fn):
    results.append(fn)
    return fn


@scenario
def acquire_renew_release():
    """One le.h elector: acquires (POST), renews, releases on SIGTERM."""
    r = Replica("c", "it-a-0", "it-basic", CFG)
    try:
        wait_for(r.leading, 10, "it-a-0 to lead")
        l1 = get_lease("it-basic")["lease"]
        time.sleep(4.5)  # two renews at the default RetryPeriod of 2 s
        l2 = get_lease("it-basic")["lease"]
        assert l2["spec"]["holderIdentity"] == "it-a-0", l2["spec"]
        assert l2["spec"]["renewTime"] != l1["spec"]["renewTime"], "no renew in 4.5 s"
        assert l2["spec"]["acquireTime"] == l1["spec"]["acquireTime"]
        assert int(l2["metadata"]["resourceVersion"]) > int(l1["metadata"]["resourceVersion"])
        r.term()
        l3 = get_lease("it-basic")["lease"]
        assert l3["spec"].get("holderIdentity", "") == "", "not released: %s" % l3["spec"]
        assert l3["spec"]["leaseDurationSeconds"] == 1, l3["spec"]
        check_no_overlap([r])
        return "renewed every 2 s; released on SIGTERM (holderIdentity \"\", leaseDurationSeconds 1)"
    finally:
        stop_all([r])


@scenario
def handover_and_takeover():
    """Two le.h electors, default timing: graceful handover, then kill -9 and
    takeover after expiry."""
    rs = [Replica("c", "it-b-%d" % i, "it-handover", CFG) for i in range(3)]
    try:
        first = wait_for(lambda: leader(rs), 20, "a leader")
        time.sleep(3)
        t0 = mono_ns()
        first.term()
        s = wait_for(lambda: first_start_after(rs, t0, first), 10, "a handover")
        hand = secs(s[0] - t0)
        assert hand <= 4.4 + 0.5, "handover took %.2f s" % hand
        second = s[1]
        time.sleep(5)
        t1 = mono_ns()
        second.kill()
        s2 = wait_for(lambda: first_start_after(rs, t1, second), 25, "a takeover")
        take = secs(s2[0] - t1)
        assert take <= takeover_bound(15, 2, "c"), "takeover took %.2f s" % take
        assert take >= 15 - 2 - 0.1, "took over %.2f s after the kill: before the lease expired" % take
        check_no_overlap(rs)
        return "graceful handover %.2f s; takeover after kill -9 %.2f s" % (hand, take)
    finally:
        stop_all(rs)


@scenario
def mixed_contention():
    """3 le.h + 2 client-go electors on one Lease: leaders are killed (-9) and
    stopped (SIGTERM) in turn and restarted; leadership never overlaps and
    someone leads again within LeaseDuration + 2 x RetryPeriod."""
    ld, rd, rp = FAST
    bound = 4 + 2 * 1  # LeaseDuration + 2 x RetryPeriod
    kinds = ["go", "go", "c", "c", "c"]
    rs = []
    notes = []
    worst = 0
    try:
        # client-go first, so that a Go leader is among those killed
        for i, k in enumerate(kinds):
            if k == "c" and len(rs) == 2:
                wait_for(lambda: leader(rs), 30, "a client-go leader")
            rs.append(Replica(k, "it-m-%s-%d" % (k, i), "it-mixed", CFG, FAST))
        for rnd in range(8):
            cur = wait_for(lambda: leader(rs), 30, "a leader (round %d)" % rnd)
            time.sleep(1.5)
            t = mono_ns()
            graceful = rnd % 2 == 1
            if graceful:
                cur.term()
            else:
                cur.kill()
            s = wait_for(lambda: first_start_after(rs, t, cur), 3 * bound, "a new leader (round %d)" % rnd)
            d = secs(s[0] - t)
            notes.append("%s %s(%s) -> %s(%s) %.2f s" % ("stop" if graceful else "kill", cur.id, cur.kind,
                                                         s[1].id, s[1].kind, d))
            # the bound, strictly: with three le.h followers polling at
            # the expiry, the first takeover comes well inside it
            assert d <= bound, "round %d: no leader for %.2f s > LeaseDuration + 2 x RetryPeriod" % (rnd, d)
            worst = max(worst, d)
            # restart the replica under the same identity (a restarted pod)
            i = rs.index(cur)
            rs[i] = Replica(cur.kind, cur.id, "it-mixed", CFG, FAST)
            rs[i].events[:0] = cur.events  # keep its history for the checker
        iv = check_no_overlap(rs)
        kinds_led = set(i[2].split("-")[2] for i in iv)
        assert kinds_led == {"c", "go"}, "only %s replicas ever led" % kinds_led
        return "worst %.2f s (LeaseDuration + 2 x RetryPeriod = %d s): %s" % (worst, bound, "; ".join(notes))
    finally:
        stop_all(rs)


@scenario
def interop_handover():
    """One le.h and one client-go replica hand the Lease back and forth:
    graceful release both ways, then takeover after kill -9 both ways."""
    notes = []
    c = Replica("c", "it-i-c-0", "it-interop", CFG)
    rs = [c]
    try:
        wait_for(c.leading, 10, "le.h to lead")
        g = Replica("go", "it-i-go-0", "it-interop", CFG)
        rs.append(g)
        time.sleep(3)
        for step, (old, mk) in enumerate([("c", "go"), ("go", "c"), ("c", "go"), ("go", "c")]):
            cur = leader(rs)
            assert cur is not None and cur.kind == old, "step %d: expected a %s leader" % (step, old)
            t = mono_ns()
            graceful = step < 2
            cur.term() if graceful else cur.kill()
            s = wait_for(lambda: first_start_after(rs, t, cur), 25, "a %s leader" % mk)
            assert s[1].kind == mk
            d = secs(s[0] - t)
            if graceful:
                assert d <= 2 * 2.2 + 0.5, "handover %s -> %s took %.2f s" % (old, mk, d)
            else:
                assert 15 - 2 - 0.1 <= d <= takeover_bound(15, 2, mk), "takeover %s -> %s took %.2f s" % (old, mk, d)
            notes.append("%s %s -> %s %.2f s" % ("release" if graceful else "kill -9", old, mk, d))
            i = rs.index(cur)
            rs[i] = Replica(cur.kind, cur.id, "it-interop", CFG)
            rs[i].events[:0] = cur.events
            time.sleep(3)
        check_no_overlap(rs)
        return "; ".join(notes)
    finally:
        stop_all(rs)


@scenario
def lease_compat():
    """A Lease written by le.h reads back through client-go without error and
    has the same fields, in the same formats, as one client-go writes."""
    c = Replica("c", "it-c-0", "it-compat-c", CFG)
    g = Replica("go", "it-g-0", "it-compat-go", CFG)
    try:
        wait_for(c.leading, 10, "le.h to lead")
        wait_for(g.leading, 10, "client-go to lead")
        time.sleep(2.5)
        lc, lg = get_lease("it-compat-c"), get_lease("it-compat-go")
        sc, sg = lc["lease"]["spec"], lg["lease"]["spec"]
        assert sorted(sc) == sorted(sg), "spec fields differ: %s vs %s" % (sorted(sc), sorted(sg))
        for k in sc:
            assert type(sc[k]) == type(sg[k]), k
        for k in ("acquireTime", "renewTime"):
            for v in (sc[k], sg[k]):
                assert len(v) == 27 and v[19] == "." and v.endswith("Z"), "%s=%s" % (k, v)
        assert lc["record"]["holderIdentity"] == "it-c-0", lc["record"]
        assert lc["record"]["leaseDurationSeconds"] == 15
        return "spec fields %s identical in kind and format" % ",".join(sorted(sc))
    finally:
        stop_all([c, g])


@scenario
def apiserver_restart():
    """The API server stops for longer than RenewDeadline and restarts with
    its etcd data kept: the leader stops leading in time, the electors
    recover, and leadership never overlaps."""
    rs = [Replica("c", "it-r-c-%d" % i, "it-restart", CFG) for i in range(2)]
    rs.append(Replica("go", "it-r-go-0", "it-restart", CFG))
    try:
        before = wait_for(lambda: leader(rs), 20, "a leader")
        time.sleep(2)
        t0 = mono_ns()
        subprocess.run([os.path.join(TOP, "tools", "kube", "down.sh"), STATE], check=True, capture_output=True)
        time.sleep(14)  # > RenewDeadline (10 s; client-go: up to RetryPeriod + RenewDeadline)
        assert not before.leading(), "%s still leads 14 s into the outage" % before.id
        subprocess.run([os.path.join(TOP, "tools", "kube", "up.sh"), STATE], check=True, capture_output=True)
        up = secs(mono_ns() - t0)
        after = wait_for(lambda: leader(rs), 40, "a leader after the restart")
        back = secs(mono_ns() - t0) - up
        check_no_overlap(rs)
        return "API server away %.1f s; %s stopped leading during it; %s leads %.1f s after it is back" % (
            up, before.id, after.id, back)
    finally:
        stop_all(rs)


@scenario
def short_outage():
    """The API server is away for less than RenewDeadline: the leader keeps
    trying (at least once per request, whatever the reconnect backoff) and
    keeps leading without a gap."""
    r = Replica("c", "it-o-c-0", "it-outage", CFG)
    try:
        wait_for(r.leading, 10, "a leader")
        time.sleep(2.5)
        t0 = mono_ns()
        subprocess.run([os.path.join(TOP, "tools", "kube", "down.sh"), STATE], check=True, capture_output=True)
        time.sleep(2)
        subprocess.run([os.path.join(TOP, "tools", "kube", "up.sh"), STATE], check=True, capture_output=True)
        away = secs(mono_ns() - t0)
        time.sleep(6)  # past the RenewDeadline counted from the last renew before the outage
        stops = [e for e in r.events if e["ev"] == "stopped"]
        assert not stops, "leadership lost after a %.1f s outage: %s" % (away, stops)
        assert r.leading()
        errs = sum(1 for e in r.events if e["ev"] == "error")
        return "API server away %.1f s; still leading, %d failed requests reported" % (away, errs)
    finally:
        stop_all([r])


def main():
    want = sys.argv[1:]
    os.makedirs(os.path.join(TOP, "build"), exist_ok=True)
    passed = failed = 0
    for fn in results:
        if want and fn.__name__ not in want:
            continue
        t = time.monotonic()
        try:
            note = fn()
            passed += 1
            print("integration: %-24s ok   %5.1f s  %s" % (fn.__name__, time.monotonic() - t, note), flush=True)
        except Exception as e:
            failed += 1
            print("integration: %-24s FAIL %5.1f s  %s" % (fn.__name__, time.monotonic() - t, e), flush=True)
            traceback.print_exc()
    print("integration: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
