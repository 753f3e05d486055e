#!/usr/bin/env python3
"""le.h next to client-go, in one run, on one kube-apiserver.

Starts a dedicated kube-apiserver (tools/kube: embedded etcd and the real
kube-apiserver in one process, its own state dir and port) with an audit
policy that logs every Lease request at Metadata level, then runs le.h's
elector (build/le-elector) and client-go's (tools/kube/bin/le-peer), each
group on its own Lease, all with client-go's default timing (LeaseDuration
15 s, RenewDeadline 10 s, RetryPeriod 2s), and measures:

  1. cost: 20 le.h replicas alone, then 20 client-go replicas alone, each
     right after an idle baseline of the API server: API requests per hour
     by verb (audit log), the API server's CPU time (/proc/PID/stat) and the
     bytes it sends (ss: TCP bytes acked on its port), RSS and CPU of every
     replica (leader and followers separately);
  2. 3 replicas of each, side by side and instrumented: requests per hour,
     heap allocations per renew and per watch event (le.h, malloc_count.c
     preloaded) or per poll (client-go, runtime.MemStats);
  3. at the same time, a group of 3 per implementation whose leader is
     stopped again and again: SIGTERM -> another leads, and kill -9 ->
     another leads, counted from the kill and from the leader's last
     successful renew (the audit log's last update of the Lease);

then writes bench/results.md and bench/timeline.svg (one kill -9 per
implementation: who leads when). Every process it starts, and the API
server, is stopped at the end, also on errors and on Ctrl-C.

    make build/le-elector kube && python3 bench/side_by_side.py [--quick]
"""
import argparse
import datetime
import html
import json
import math
import os
import random
import re
import shlex
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ELECTOR = os.path.join(TOP, "build", "le-elector")
KUBE = os.path.join(TOP, "tools", "kube")
PEER = os.path.join(KUBE, "bin", "le-peer")
WORK = os.path.join(TOP, "build", "bench")
COUNTER_SRC = os.path.join(TOP, "bench", "malloc_count.c")
COUNTER_SO = os.path.join(WORK, "malloc_count.so")
TIMING = ("15s", "10s", "2s")
LEASE_S = 15.0
NAMES = {"leh": "le.h", "go": "client-go"}
VERBS = ("get", "update", "create", "watch")
CLK_TCK = os.sysconf("SC_CLK_TCK")

AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: coordination.k8s.io
    resources: ["leases"]
- level: None
"""

PROCS = []          # every Proc started, for the cleanup
PROCS_LOCK = threading.Lock()
T_START = time.monotonic()


def mono_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def wall_minus_mono():
    """Unix time minus CLOCK_MONOTONIC, in seconds (the tightest of a few
    readings), to put the audit log's wall-clock stamps and the electors'
    monotonic ones on one axis."""
    best = None
    for _ in range(20):
        a = mono_ns()
        w = time.time_ns()
        b = mono_ns()
        if best is None or b - a < best[0]:
            best = (b - a, (w - (a + b) / 2) / 1e9)
    return best[1]


def log(msg):
    sys.stderr.write("[%6.1fs] %s\n" % (time.monotonic() - T_START, msg))
    sys.stderr.flush()


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while True:
        r = pred()
        if r:
            return r
        if time.monotonic() >= end:
            raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def pctl(v, p):
    """Nearest-rank percentile (p99 of fewer than 100 values is the max)."""
    s = sorted(v)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


# ---- processes -----------------------------------------------------------------

class Proc:
    """One elector process (kind "leh" or "go"); its JSON lines in .events."""

    def __init__(self, kind, ident, lease, cfg, preload=False, stats=None):
        self.kind, self.id, self.lease = kind, ident, lease
        self.events, self.cond = [], threading.Condition()
        self.killed_at = self.termed_at = None
        if kind == "leh":
            cmd = [ELECTOR]
            if stats:
                cmd += ["--print-stats", "1"]
        else:
            cmd = [PEER, "run", "--rejoin"]
            if stats:
                cmd += ["--stats-every", stats]
        cmd += ["--server", cfg["LE_SERVER"], "--ca", cfg["LE_CA"],
                "--token-file", cfg["LE_USER_TOKEN_FILE"], "--namespace", "default",
                "--name", lease, "--identity", ident, "--lease-duration", TIMING[0],
                "--renew-deadline", TIMING[1], "--retry-period", TIMING[2]]
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if preload:
            env["LD_PRELOAD"] = COUNTER_SO
            env["LE_MALLOC_COUNT_FD"] = "1"
        self.out = open(os.path.join(WORK, "logs", ident + ".jsonl"), "w")
        self.err = open(os.path.join(WORK, "logs", ident + ".err"), "w")
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                  env=env, start_new_session=True)
        self.started_at = mono_ns()
        with PROCS_LOCK:
            PROCS.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stdout:
            self.out.write(line)
            self.out.flush()
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def evs(self, name=None):
        with self.cond:
            return [e for e in self.events if name is None or e.get("ev") == name]

    def leading(self):
        if self.killed_at is not None or not self.alive():
            return False
        state = False
        for ev in self.evs():
            if ev.get("ev") == "started":
                state = True
            elif ev.get("ev") in ("stopped", "exit"):
                state = False
        return state

    def last_leader_seen(self):
        seen = [e.get("leader") for e in self.evs("new_leader")]
        return seen[-1] if seen else None

    def kill9(self):
        t = mono_ns()
        self.killed_at = t
        os.kill(self.pid, signal.SIGKILL)
        return t

    def term(self):
        t = mono_ns()
        self.termed_at = t
        os.kill(self.pid, signal.SIGTERM)
        return t

    def wait_exit(self, timeout):
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            self.p.wait()
            raise RuntimeError("%s did not exit within %d s of SIGTERM" % (self.id, timeout))
        self.reader.join(5)

    def ended_at(self):
        """CLOCK_MONOTONIC ns when it stopped existing as a replica, or None."""
        if self.killed_at is not None:
            return self.killed_at
        ex = self.evs("exit")
        return ex[-1]["t"] if ex else None

    def proc_status(self):
        """VmRSS, VmHWM (kB) and CPU time (s: the time on the CPU from
        schedstat, ns resolution, summed over the threads); None once it has
        exited."""
        try:
            st = open("/proc/%d/status" % self.pid).read()
            cpu_ns = 0
            for task in os.listdir("/proc/%d/task" % self.pid):
                try:
                    cpu_ns += int(open("/proc/%d/task/%s/schedstat" % (self.pid, task)).read().split()[0])
                except OSError:
                    pass  # a thread that just ended
        except OSError:
            return None
        vals = {}
        for line in st.splitlines():
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                vals[k] = int(v.split()[0])
        vals["cpu_s"] = cpu_ns / 1e9
        return vals


def stop_all(procs, timeout=30):
    for p in procs:
        if p.alive():
            try:
                p.term()
            except ProcessLookupError:
                pass
    for p in procs:
        p.wait_exit(timeout)


def cleanup_procs():
    with PROCS_LOCK:
        procs = list(PROCS)
    for p in procs:
        if p.alive():
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for p in procs:
        try:
            p.p.wait(10)
        except subprocess.TimeoutExpired:
            pass


def start_group(kind, prefix, lease, cfg, n, preload=False, stats=None):
    """n replicas on one Lease: the first one, once it leads, then the
    others; returns when every follower has reported that leader."""
    ps = [Proc(kind, "%s-0" % prefix, lease, cfg, preload=preload, stats=stats)]
    wait_for(ps[0].leading, 60, "%s to lead" % ps[0].id)
    for i in range(1, n):
        ps.append(Proc(kind, "%s-%d" % (prefix, i), lease, cfg, preload=preload, stats=stats))
        time.sleep(0.05)
    for f in ps[1:]:
        wait_for(lambda f=f: f.last_leader_seen() == ps[0].id, 60,
                 "%s to see its leader" % f.id)
    return ps


# ---- API server: start/stop, CPU, bytes, audit log --------------------------------------

def server_up(state, port):
    os.makedirs(state, exist_ok=True)
    pidf = os.path.join(state, "pid")
    if os.path.exists(pidf):  # a server left on this state dir: it lacks our audit flags
        subprocess.run([os.path.join(KUBE, "down.sh"), state], stdout=subprocess.DEVNULL)
    policy = os.path.join(state, "bench-audit-policy.yaml")
    audit = os.path.join(state, "bench-audit.log")
    with open(policy, "w") as f:
        f.write(AUDIT_POLICY)
    if os.path.exists(audit):
        os.remove(audit)
    env = dict(os.environ, LE_KUBE_PORT=str(port),
               LE_KUBE_ARGS="-- --audit-log-path=%s --audit-policy-file=%s" % (audit, policy))
    env.pop("LE_KUBE_VERSION", None)  # the default release (1.37)
    r = subprocess.run([os.path.join(KUBE, "up.sh"), state], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode:
        sys.stderr.write(r.stderr)
        raise RuntimeError("tools/kube/up.sh failed")
    cfg = {}
    for line in open(r.stdout.strip()):
        k, _, v = line.strip().partition("=")
        if k:
            cfg[k] = v
    return cfg, audit


def server_down(state):
    subprocess.run([os.path.join(KUBE, "down.sh"), state], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def server_version(cfg):
    """gitVersion from the API server's /version."""
    ctx = ssl.create_default_context(cafile=cfg["LE_CA"])
    tok = open(cfg["LE_ADMIN_TOKEN_FILE"]).read().strip()
    req = urllib.request.Request(cfg["LE_SERVER"] + "/version",
                                 headers={"Authorization": "Bearer " + tok})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return json.load(r).get("gitVersion", "?")
    except (OSError, ValueError):
        return "?"


def proc_cpu_s(pid):
    """utime + stime of a process, all its threads (live and ended), s."""
    s = open("/proc/%d/stat" % pid).read()
    f = s[s.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / CLK_TCK


SS_KEYS = re.compile(r"\b(bytes_acked|bytes_received|bytes_sent):(\d+)")
SS_PID = re.compile(r"pid=(\d+)")


class NetMeter:
    """Bytes on the API server's TCP connections, from `ss -tinp`, sampled
    every `every` s and on demand. For each server-side socket (local port
    = the server's) it keeps the bytes the server sent and the client
    acknowledged (bytes_acked) and received (bytes_received), cumulated
    across samples (a socket that closes keeps its last sample; a counter
    that went down is a new socket on the same port pair), and the client
    process owning the other end (from the client-side socket's pid)."""

    def __init__(self, port, every=2.0):
        self.port, self.every = port, every
        self.lock = threading.Lock()
        self.socks = {}   # (local, peer) -> {"base": [a, r], "cur": [a, r], "pid": pid}
        self.owner = {}   # client address -> pid
        self.stop = threading.Event()
        self.samples = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop.wait(self.every):
            self.sample()

    def sample(self):
        out = subprocess.run(["ss", "-tinpH", "state", "established",
                              "( sport = :%d or dport = :%d )" % (self.port, self.port)],
                             capture_output=True, text=True).stdout
        cur = None
        rows = []
        for line in out.splitlines():
            if not line.strip():
                continue
            if not line[0].isspace():
                f = line.split()
                # Recv-Q Send-Q Local Peer [users:(...)]
                cur = {"local": f[2], "peer": f[3], "pid": None, "v": {}}
                m = SS_PID.search(line)
                if m:
                    cur["pid"] = int(m.group(1))
                rows.append(cur)
            elif cur is not None:
                for k, v in SS_KEYS.findall(line):
                    cur["v"][k] = int(v)
        sfx = ":%d" % self.port
        with self.lock:
            self.samples += 1
            for r in rows:
                if r["peer"].endswith(sfx) and r["pid"]:
                    self.owner[r["local"]] = r["pid"]
            for r in rows:
                if not r["local"].endswith(sfx):
                    continue
                key = (r["local"], r["peer"])
                v = [r["v"].get("bytes_acked", 0), r["v"].get("bytes_received", 0)]
                s = self.socks.get(key)
                if s is None:
                    s = self.socks[key] = {"base": [0, 0], "cur": [0, 0], "pid": None}
                s["seen"] = self.samples
                if v[0] < s["cur"][0] or v[1] < s["cur"][1]:  # a new socket, same ports
                    s["base"] = [s["base"][0] + s["cur"][0], s["base"][1] + s["cur"][1]]
                s["cur"] = v
                if s["pid"] is None:
                    s["pid"] = self.owner.get(r["peer"])

    def snapshot(self):
        self.sample()
        with self.lock:
            return {k: {"sent": s["base"][0] + s["cur"][0], "recv": s["base"][1] + s["cur"][1],
                        "pid": s["pid"], "open": s["seen"] == self.samples}
                    for k, s in self.socks.items()}

    @staticmethod
    def delta(a, b, pids=None):
        """Bytes sent / received by the server between snapshots a and b, on
        all its connections, or only on those to the processes in pids."""
        sent = recv = 0
        for k, s in b.items():
            if pids is not None and s["pid"] not in pids:
                continue
            s0 = a.get(k, {"sent": 0, "recv": 0})
            sent += s["sent"] - s0["sent"]
            recv += s["recv"] - s0["recv"]
        return {"sent": sent, "recv": recv}

    def close(self):
        self.stop.set()


TIMEOUT_RE = re.compile(r"[?&]timeoutSeconds=(\d+)")


def parse_ts(s):
    # "2026-11-24T10:00:00.123456Z" -> Unix seconds
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def read_audit(path):
    """One entry per request (auditID) on a Lease: its name, verb, status,
    when it was received and when it completed (None: still running, e.g. a
    watch)."""
    reqs = {}
    with open(path) as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            ref = ev.get("objectRef") or {}
            if ref.get("resource") != "leases":
                continue
            r = reqs.get(ev["auditID"])
            if r is None:
                r = reqs[ev["auditID"]] = {
                    "name": ref.get("name", ""), "verb": ev.get("verb"),
                    "ua": ev.get("userAgent", ""), "code": None, "done": None,
                    "t": parse_ts(ev["requestReceivedTimestamp"]), "timeout": None}
                m = TIMEOUT_RE.search(ev.get("requestURI", ""))
                if m:
                    r["timeout"] = int(m.group(1))
            if ev.get("stage") == "ResponseComplete":
                r["done"] = parse_ts(ev["stageTimestamp"])
                r["code"] = (ev.get("responseStatus") or {}).get("code")
            elif ev.get("stage") == "ResponseStarted" and r["code"] is None:
                r["code"] = (ev.get("responseStatus") or {}).get("code")
    return sorted(reqs.values(), key=lambda r: r["t"])


def count_requests(audit, lease, t0, t1):
    """Requests on a Lease received in [t0, t1), by verb; a watch counts
    once, when it was made. open_watches: watches running at any time of
    the window; watch_implied_h: the watches per hour their timeoutSeconds
    imply (the API server ends each one after that, and the client makes a
    new one)."""
    c = {v: 0 for v in VERBS}
    c.update({"other": 0, "non2xx": 0, "codes": {}, "open_watches": 0, "watch_implied_h": 0.0})
    for a in audit:
        if a["name"] != lease:
            continue
        if a["verb"] == "watch" and a["t"] < t1 and (a["done"] is None or a["done"] >= t0):
            c["open_watches"] += 1
            if a["timeout"]:
                c["watch_implied_h"] += 3600.0 / a["timeout"]
        if not t0 <= a["t"] < t1:
            continue
        c[a["verb"] if a["verb"] in VERBS else "other"] += 1
        if a["code"] is not None and not 200 <= a["code"] < 300:
            c["non2xx"] += 1
            key = "%s %s" % (a["verb"], a["code"])
            c["codes"][key] = c["codes"].get(key, 0) + 1
    return c


# ---- phase 1: 20 replicas of one implementation alone: what they cost ------------------

SLICE_S = 30.0


def cpu_slices(pid, span):
    """Sleeps span s; the process's CPU per hour in each SLICE_S of it."""
    out, end = [], time.monotonic() + span
    t, c = time.monotonic(), proc_cpu_s(pid)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(SLICE_S, left))
        t2, c2 = time.monotonic(), proc_cpu_s(pid)
        if t2 - t >= SLICE_S - 0.5:
            out.append((c2 - c) * 3600.0 / (t2 - t))
            t, c = t2, c2
    return out

def cost_run(kind, n, cfg, lease, audit_path, net, apid, base_s, window_s, warmup_s):
    """Idle baseline, then n replicas of kind alone on the API server."""
    log("cost, %s x %d: %.0f s idle baseline" % (NAMES[kind], n, base_s))
    b_cpu0, b_net0, b_w0 = proc_cpu_s(apid), net.snapshot(), time.time()
    b_slices = cpu_slices(apid, base_s)
    b_cpu1, b_net1, b_w1 = proc_cpu_s(apid), net.snapshot(), time.time()
    log("cost, %s x %d: starting the replicas" % (NAMES[kind], n))
    ps = start_group(kind, "%s-cost%d" % (kind, n), lease, cfg, n)
    log("cost, %s x %d: all up; %.0f s warm-up, then a %.0f s window" %
        (NAMES[kind], n, warmup_s, window_s))
    time.sleep(warmup_s)
    st0 = {p.id: p.proc_status() for p in ps}
    cpu0, net0, w0 = proc_cpu_s(apid), net.snapshot(), time.time()
    end = time.monotonic() + window_s
    rss = {p.id: [] for p in ps}
    slices, sl_t, sl_c = [], time.monotonic(), cpu0
    while True:
        for p in ps:
            s = p.proc_status()
            if s:
                rss[p.id].append(s["VmRSS"])
        now = time.monotonic()
        if now - sl_t >= SLICE_S - 0.5:
            c = proc_cpu_s(apid)
            slices.append((c - sl_c) * 3600.0 / (now - sl_t))
            sl_t, sl_c = now, c
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(5.0, left))
    cpu1, net1, w1 = proc_cpu_s(apid), net.snapshot(), time.time()
    st1 = {p.id: p.proc_status() for p in ps}
    changes = [p.id for i, p in enumerate(ps) if p.leading() != (i == 0)]
    pids = {p.pid for p in ps}
    # one graceful handover among n: its time, and the requests it causes
    log("cost, %s x %d: window over; SIGTERM to the leader, then stopping" % (NAMES[kind], n))
    h_w0 = time.time()
    h_t0 = ps[0].term()

    def first_start():
        ts = [e["t"] for p in ps[1:] for e in p.evs("started") if e["t"] > h_t0]
        return min(ts) if ts else None
    h_t1 = wait_for(first_start, 60, "a new %s leader among %d" % (NAMES[kind], n))
    time.sleep(1.0)
    h_w1 = time.time()
    stop_all(ps)
    time.sleep(1.0)  # the releases reach the audit log
    audit = read_audit(audit_path)
    hand = {"ms": (h_t1 - h_t0) / 1e6, "span_s": h_w1 - h_w0, "requests": {}}
    for a in audit:
        if a["name"] == lease and h_w0 <= a["t"] < h_w1:
            k = "%s %s" % (a["verb"], a["code"])
            hand["requests"][k] = hand["requests"].get(k, 0) + 1
    reps = []
    for i, p in enumerate(ps):
        reps.append({"id": p.id, "role": "leader" if i == 0 else "follower",
                     "rss_end_kb": st1[p.id]["VmRSS"], "rss_max_kb": max(rss[p.id]),
                     "hwm_kb": st1[p.id]["VmHWM"],
                     "cpu_s": st1[p.id]["cpu_s"] - st0[p.id]["cpu_s"]})
    return {
        "kind": kind, "n": n, "lease": lease, "leadership_changes": changes,
        "baseline": {"s": b_w1 - b_w0, "cpu_s": b_cpu1 - b_cpu0,
                     "net": NetMeter.delta(b_net0, b_net1), "slices": b_slices},
        "window": {"s": w1 - w0, "w0": w0, "w1": w1, "cpu_s": cpu1 - cpu0, "slices": slices,
                   "net": NetMeter.delta(net0, net1),
                   "net_replicas": NetMeter.delta(net0, net1, pids),
                   "connections": sum(1 for k, s in net1.items() if s["pid"] in pids and (
                       s["open"] or net0.get(k, {}).get("open") or
                       s["sent"] > net0.get(k, {"sent": 0})["sent"])),
                   "open_at_end": sum(1 for s in net1.values() if s["pid"] in pids and s["open"])},
        "requests": count_requests(audit, lease, w0, w1),
        "replicas": reps, "handover": hand,
    }


# ---- phase 2: 3 replicas each, instrumented: requests and allocations -------------------

def last_before(p, ev, t, pred=None):
    ls = [e for e in p.evs(ev) if e["t"] <= t and (pred is None or pred(e))]
    return ls[-1] if ls else None


def conns_of(port, pid):
    """Established TCP connections of process pid to port."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", "( dport = :%d )" % port],
                         capture_output=True, text=True).stdout
    return sum(1 for l in out.splitlines() if "pid=%d," % pid in l)


def steady3(cfg, port, leases, audit_path, window_s, warmup_s, stats_every, out):
    """Runs in its own thread next to the failover groups; fills out.
    A le.h follower keeps two connections, one for requests and one for its
    watch; the API server closes the first one after 90 s without a
    request. The window starts once that has happened to both followers,
    so it holds the steady state: the close is measured apart."""
    try:
        g = {"leh": start_group("leh", "leh-s3", leases["leh-s3"], cfg, 3, preload=True,
                                stats=True),
             "go": start_group("go", "go-s3", leases["go-s3"], cfg, 3, stats=stats_every)}
        out["procs"] = g
        leh = g["leh"]
        m_up = mono_ns()
        for p in leh:
            os.kill(p.pid, signal.SIGUSR1)
        log("3 replicas each (instrumented): all up; at least %.0f s warm-up, until the le.h "
            "followers' idle request connections are closed, then a %.0f s window" %
            (warmup_s, window_s))
        time.sleep(warmup_s)
        end = time.monotonic() + 150
        while time.monotonic() < end and any(conns_of(port, p.pid) > 1 for p in leh[1:]):
            time.sleep(1.0)
        out["idle_closed"] = all(conns_of(port, p.pid) == 1 for p in leh[1:])
        w0, m0 = time.time(), mono_ns()
        for p in leh:
            os.kill(p.pid, signal.SIGUSR1)
        time.sleep(window_s)
        w1, m1 = time.time(), mono_ns()  # before the signals: a replica may print first
        for p in leh:
            os.kill(p.pid, signal.SIGUSR1)
        time.sleep(0.5)
        out.update({"w0": w0, "w1": w1, "m0": m0, "m1": m1, "m_up": m_up,
                    "changes": [p.id for k in g for i, p in enumerate(g[k])
                                if p.leading() != (i == 0)]})
        log("3 replicas each: window over")
    except Exception as e:  # reported by the main thread
        out["error"] = e


def allocations(s3, audit):
    """Heap allocations per renew and per watch event or poll, from the
    window of steady3."""
    g = s3["procs"]
    res = {}

    def line_at(p, m):
        """The counter's line for the SIGUSR1 sent at m."""
        ls = [e for e in p.evs("mallocs") if e.get("at") == "signal" and e["t"] >= m]
        if not ls:
            raise RuntimeError("no malloc counter line from %s" % p.id)
        return ls[0]

    def leh_delta(procs, what, m0=s3["m0"], m1=s3["m1"]):
        d = {"calls": 0, "bytes": 0, "connect": 0, "start_calls": 0, "start_bytes": 0,
             "ops": 0, "s": (m1 - m0) / 1e9}
        for p in procs:
            a, b = line_at(p, m0), line_at(p, m1)
            d["start_calls"] += sum(a[k] for k in ("malloc", "calloc", "realloc", "memalign"))
            d["start_bytes"] += a["bytes"]
            d["calls"] += sum(b[k] - a[k] for k in ("malloc", "calloc", "realloc", "memalign"))
            d["bytes"] += b["bytes"] - a["bytes"]
            d["connect"] += b["connect"] - a["connect"]
            # the elector's own counters, as last printed before each signal
            sa, sb = last_before(p, "stats", a["t"]), last_before(p, "stats", b["t"])
            if sa and sb:
                d["ops"] += sb[what] - sa[what]
        return d

    def go_delta(procs):
        d = {"calls": 0, "bytes": 0, "gets": 0, "updates": 0, "start_calls": 0,
             "start_bytes": 0}
        for p in procs:
            ls = [e for e in p.evs("stats") if s3["m0"] <= e["t"] <= s3["m1"]]
            if len(ls) < 2:
                raise RuntimeError("fewer than 2 stats lines from %s in the window" % p.id)
            a, b = ls[0], ls[-1]
            d["start_calls"] += a["mallocs"]
            d["start_bytes"] += a["total_alloc"]
            d["calls"] += b["mallocs"] - a["mallocs"]
            d["bytes"] += b["total_alloc"] - a["total_alloc"]
            d["gets"] += b["gets"] - a["gets"]
            d["updates"] += b["updates"] - a["updates"]
        d["ops"] = d["gets"] + d["updates"]
        return d

    # a le.h leader's renews: the Lease's updates in the window (it is the
    # only writer), cross-checked by its own request counter
    d = leh_delta(g["leh"][:1], "requests")
    d["audit_updates"] = count_requests(audit, g["leh"][0].lease, s3["w0"], s3["w1"])["update"]
    res["leh-leader"] = d
    res["leh-follower"] = leh_delta(g["leh"][1:], "watch_events")
    res["leh-follower"]["watching"] = [
        (last_before(p, "stats", s3["m1"]) or {}).get("watching") for p in g["leh"][1:]]
    # from all up to the window: the followers' idle request connections close
    res["leh-follower-close"] = leh_delta(g["leh"][1:], "watch_events", s3["m_up"], s3["m0"])
    res["leh-follower-close"]["closed"] = s3.get("idle_closed")
    res["go-leader"] = go_delta(g["go"][:1])
    res["go-follower"] = go_delta(g["go"][1:])
    return res


def leh_init_allocs(cfg):
    """Allocations of le-elector's initialisation alone: the same flags, but
    a server address where nothing listens, so no TLS handshake happens."""
    env = dict(os.environ, LD_PRELOAD=COUNTER_SO, LE_MALLOC_COUNT_FD="1")
    p = subprocess.Popen([ELECTOR, "--server", "https://127.0.0.1:1", "--ca", cfg["LE_CA"],
                          "--token-file", cfg["LE_USER_TOKEN_FILE"], "--namespace", "default",
                          "--name", "bench-probe", "--identity", "probe"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        time.sleep(1.0)
        os.kill(p.pid, signal.SIGUSR1)
        time.sleep(0.2)
        os.kill(p.pid, signal.SIGTERM)
        out, _ = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    for line in out.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("ev") == "mallocs" and ev.get("at") == "signal":
            return {"calls": sum(ev[k] for k in ("malloc", "calloc", "realloc", "memalign")),
                    "bytes": ev["bytes"]}
    return None


# ---- phase 3: takeover and handover ------------------------------------------------

class Group:
    def __init__(self, kind, lease, cfg, n=3):
        self.kind, self.lease, self.cfg, self.seq, self.n = kind, lease, cfg, 0, n
        self.replicas, self.all = [], []
        self.rounds, self.error = [], None
        for _ in range(n):
            self.spawn()

    def spawn(self):
        self.seq += 1
        p = Proc(self.kind, "%s-ha-%d" % (self.kind, self.seq), self.lease, self.cfg)
        self.replicas.append(p)
        self.all.append(p)
        return p

    def leader(self):
        ls = [p for p in self.replicas if p.leading()]
        return ls[0] if len(ls) == 1 else None

    def stable(self):
        """One leader, and every other replica has seen it."""
        L = self.leader()
        if not L or len(self.replicas) != self.n or not all(p.alive() for p in self.replicas):
            return None
        if all(p.last_leader_seen() == L.id for p in self.replicas if p is not L):
            return L
        return None

    def first_start_after(self, t0, exclude):
        best = None
        for p in self.replicas:
            if p is exclude:
                continue
            for e in p.evs("started"):
                if e["t"] > t0 and (best is None or e["t"] < best[0]):
                    best = (e["t"], p, e.get("term"))
        return best

    def run(self, modes, settle, offset):
        try:
            for mode in modes:
                wait_for(self.stable, 60, "a stable %s group" % NAMES[self.kind])
                # let the newest replica settle (le.h: open its watch), then a
                # random phase against the leader's 2 s renew schedule
                time.sleep(settle + random.uniform(0, 2.0))
                L = wait_for(self.stable, 10, "a stable %s group" % NAMES[self.kind])
                t0 = L.kill9() if mode == "kill" else L.term()
                got = wait_for(lambda: self.first_start_after(t0, L), 60,
                               "a new %s leader after %s" % (NAMES[self.kind], mode))
                rec = {"mode": mode, "ms": (got[0] - t0) / 1e6, "old": L.id, "new": got[1].id,
                       "term": got[2], "t0": t0, "t_new": got[0],
                       "wall0": t0 / 1e9 + offset, "wall_new": got[0] / 1e9 + offset}
                L.wait_exit(30)
                if mode == "term":
                    ex = [e["t"] for e in L.evs("exit") if e["t"] > t0]
                    rec["exit_ms"] = (ex[0] - t0) / 1e6 if ex else None
                self.rounds.append(rec)
                log("%s: %s of %s -> %s leads after %.0f ms" %
                    (NAMES[self.kind], "kill -9" if mode == "kill" else "SIGTERM", L.id,
                     got[1].id, rec["ms"]))
                self.replicas.remove(L)
                self.spawn()
        except Exception as e:  # reported by the main thread
            self.error = e

    def intervals(self):
        """(start, end, id) of every leadership, CLOCK_MONOTONIC ns."""
        iv = []
        for p in self.all:
            start = None
            for e in sorted(p.evs(), key=lambda e: e["t"]):
                if e.get("ev") == "started" and start is None:
                    start = e["t"]
                elif e.get("ev") in ("stopped", "exit") and start is not None:
                    iv.append((start, e["t"], p.id))
                    start = None
            if start is not None:
                iv.append((start, p.killed_at or mono_ns(), p.id))
        return sorted(iv)

    def overlaps(self):
        iv = self.intervals()
        return [(a[2], b[2], (a[1] - b[0]) / 1e6) for a, b in zip(iv, iv[1:]) if b[0] < a[1]]


def renew_times(audit, lease, before=None):
    """Completion times (Unix s) of the Lease's successful updates."""
    return [a["done"] for a in audit if a["name"] == lease and a["verb"] == "update" and
            a["code"] == 200 and a["done"] is not None and (before is None or a["t"] < before)]


def failover_phase(cfg, leases, kills, terms, settle, offset, steady_args):
    modes = []  # the SIGTERMs spread evenly between the kills
    for i in range(kills):
        modes.append("kill")
        modes += ["term"] * (terms * (i + 1) // kills - terms * i // kills)
    if not kills:
        modes = ["term"] * terms
    log("failover: a group of 3 per implementation, %d x kill -9 and %d x SIGTERM each, "
        "in parallel" % (kills, terms))
    groups = {k: Group(k, leases["%s-ha" % k], cfg) for k in ("leh", "go")}
    threads = [threading.Thread(target=g.run, args=(modes, settle, offset), daemon=True)
               for g in groups.values()]
    s3 = {}
    threads.append(threading.Thread(target=steady3, args=steady_args + (s3,), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(len(modes) * 90 + 120)
    for g in groups.values():
        if g.error:
            raise g.error
    if "error" in s3:
        raise s3["error"]
    stop_all([p for g in groups.values() for p in g.replicas] +
             [p for k in s3["procs"] for p in s3["procs"][k]])
    return groups, s3


def failover_results(groups, audit):
    res = {}
    for k, g in groups.items():
        for r in g.rounds:
            if r["mode"] != "kill":
                continue
            rt = renew_times(audit, g.lease, before=r["wall0"])
            r["last_renew_wall"] = max(rt) if rt else None
            r["from_renew_ms"] = (r["wall_new"] - max(rt)) * 1000 if rt else None
        res[k] = {"rounds": g.rounds, "overlaps": g.overlaps()}
    return res


# ---- the timeline (SVG) ----------------------------------------------------------------

def timeline_svg(groups, audit, offset, path):
    """One kill -9 per implementation (the round with the median time from
    the kill): a lane per replica, leadership as bars, the Lease's requests
    from the audit log below."""
    panels = []
    for k in ("leh", "go"):
        g = groups[k]
        kills = [r for r in g.rounds if r["mode"] == "kill"]
        if not kills:
            continue
        r = sorted(kills, key=lambda r: r["ms"])[(len(kills) - 1) // 2]
        t0 = r["t0"]
        lo, hi = -6.0, (r["t_new"] - t0) / 1e9 + 3.0
        later = [x["t0"] for x in g.rounds if x["t0"] > t0]
        if later:  # stop before the next round's signal
            hi = min(hi, (min(later) - t0) / 1e9 - 0.2)
        prev = [x["t_new"] for x in g.rounds if x["t_new"] < t0]
        if prev:
            lo = max(lo, (max(prev) - t0) / 1e9)
        lanes = []
        for p in g.all:
            a = (p.started_at - t0) / 1e9
            e = p.ended_at()
            b = (e - t0) / 1e9 if e is not None else hi
            if b < lo or a > hi:
                continue
            lanes.append(p)
        ivs = [(s, e, i) for s, e, i in g.intervals()]
        reqs = [a for a in audit if a["name"] == g.lease and lo <= a["t"] - offset - t0 / 1e9 <= hi]
        lanes = [p for p in lanes if (p.started_at - t0) / 1e9 < hi]
        panels.append({"kind": k, "round": r, "lo": lo, "hi": hi, "lanes": lanes, "ivs": ivs,
                       "reqs": reqs, "t0": t0})
    if not panels:
        return False
    W, left, right, lane_h, top = 960, 150, 30, 26, 40
    colors = {"leh": "#2b6cb0", "go": "#c05621"}
    verb_col = {"get": "#718096", "update": "#2f855a", "create": "#805ad5", "watch": "#d69e2e"}
    out = []
    y = 20
    body = []
    for pn in panels:
        span = pn["hi"] - pn["lo"]

        def X(t, pn=pn, span=span):
            return left + (t - pn["lo"]) / span * (W - left - right)

        r = pn["round"]
        body.append('<text x="10" y="%d" class="h">%s: kill -9 of %s at 0 s, %s leads after '
                    '%.2f s (%.2f s after the last renew)</text>' %
                    (y + 14, NAMES[pn["kind"]], html.escape(r["old"]), html.escape(r["new"]),
                     r["ms"] / 1000, (r.get("from_renew_ms") or float("nan")) / 1000))
        y += top
        y0 = y
        for p in pn["lanes"]:
            a = max(pn["lo"], (p.started_at - pn["t0"]) / 1e9)
            e = p.ended_at()
            b = min(pn["hi"], (e - pn["t0"]) / 1e9) if e is not None else pn["hi"]
            body.append('<text x="%d" y="%d" class="l">%s</text>' % (left - 8, y + 17,
                                                                    html.escape(p.id)))
            body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="alive"/>' %
                        (X(a), y + 13, X(b), y + 13))
            for s, en, i in pn["ivs"]:
                if i != p.id:
                    continue
                s, en = (s - pn["t0"]) / 1e9, (en - pn["t0"]) / 1e9
                if en < pn["lo"] or s > pn["hi"]:
                    continue
                body.append('<rect x="%.1f" y="%d" width="%.1f" height="14" fill="%s"/>' %
                            (X(max(s, pn["lo"])), y + 6, max(1.0, X(min(en, pn["hi"])) -
                                                          X(max(s, pn["lo"]))),
                             colors[pn["kind"]]))
            if p.id == r["old"]:
                body.append('<text x="%.1f" y="%d" class="kill">✕ kill -9</text>' %
                            (X(0) + 4, y + 18))
            y += lane_h
        # the API server's view: every request on the Lease
        body.append('<text x="%d" y="%d" class="l">requests (audit)</text>' % (left - 8, y + 17))
        for a in pn["reqs"]:
            t = a["t"] - offset - pn["t0"] / 1e9
            body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" '
                        'stroke-width="2"><title>%s %s</title></line>' %
                        (X(t), y + 4, X(t), y + 22, verb_col.get(a["verb"], "#000"),
                         a["verb"], a["code"]))
        y += lane_h
        lr = r.get("last_renew_wall")
        marks = [(0.0, "#e53e3e", "kill")]
        if lr:
            marks.append((lr - offset - pn["t0"] / 1e9, "#2f855a", "last renew"))
            marks.append((lr - offset - pn["t0"] / 1e9 + LEASE_S, "#718096",
                          "last renew + 15 s"))
        marks.append(((r["t_new"] - pn["t0"]) / 1e9, colors[pn["kind"]], "takeover"))
        for i, (t, c, label) in enumerate(marks):
            body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" '
                        'stroke-dasharray="4 3"/>' % (X(t), y0, X(t), y + 4 + 12 * i, c))
            body.append('<text x="%.1f" y="%d" class="m" fill="%s" text-anchor="%s">%s</text>' %
                        (X(t) + (-3 if label == "last renew" else 3), y + 12 + 12 * i, c,
                         "end" if label == "last renew" else "start", label))
        y += 12 * len(marks) + 8
        # axis
        t = math.ceil(pn["lo"])
        while t <= pn["hi"]:
            body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="tick"/>' %
                        (X(t), y, X(t), y + 4))
            if int(t) % 2 == 0:
                body.append('<text x="%.1f" y="%d" class="a">%d s</text>' % (X(t), y + 15, t))
            t += 1
        body.append('<line x1="%d" y1="%d" x2="%d" y2="%d" class="tick"/>' %
                    (left, y, W - right, y))
        y += 35
    legend = ('<text x="10" y="%d" class="a">bars: leading (from the replica\'s own started / '
              'stopped lines); thin line: running; requests: '
              '<tspan fill="%s">get</tspan> <tspan fill="%s">update</tspan> '
              '<tspan fill="%s">create</tspan> <tspan fill="%s">watch</tspan> '
              '(when the API server received them)</text>' %
              (y, verb_col["get"], verb_col["update"], verb_col["create"], verb_col["watch"]))
    y += 15
    out.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
               'viewBox="0 0 %d %d" font-family="sans-serif">' % (W, y, W, y))
    out.append('<style>.h{font-size:14px;font-weight:bold}.l{font-size:12px;text-anchor:end}'
               '.a{font-size:11px;fill:#4a5568}.m{font-size:11px}.kill{font-size:11px;'
               'fill:#e53e3e}.alive{stroke:#a0aec0;stroke-width:2}.tick{stroke:#4a5568}</style>')
    out.append('<rect width="100%" height="100%" fill="white"/>')
    out.extend(body)
    out.append(legend)
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


# ---- sizes, machine, load ----------------------------------------------------------------

def size_of(path):
    """{"text", "data", "bss"} from size(1) (Berkeley format), or None."""
    try:
        out = subprocess.run(["size", path], capture_output=True, text=True, check=True).stdout
        f = out.splitlines()[1].split()
        return {"text": int(f[0]), "data": int(f[1]), "bss": int(f[2])}
    except (OSError, subprocess.CalledProcessError, IndexError, ValueError):
        return None


def shared_libs(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        if "=>" in line:
            lib = line.split("=>")[1].split("(")[0].strip()
            if lib:
                libs.append(os.path.realpath(lib))
    return libs


def binaries():
    res = {}
    for key, path in (("leh", ELECTOR), ("go", PEER)):
        stripped = os.path.join(WORK, os.path.basename(path) + ".stripped")
        subprocess.run(["strip", "-o", stripped, path], check=True)
        libs = [l for l in shared_libs(path) if "/libc.so" not in l and "/ld-linux" not in l]
        res[key] = {"file": os.path.getsize(path), "stripped": os.path.getsize(stripped),
                    "size": size_of(path), "libs": [
                        {"name": os.path.basename(l), "file": os.path.getsize(l),
                         "size": size_of(l)} for l in libs]}
    return res


def machine():
    model = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    gov = subprocess.run(["go", "version", PEER], capture_output=True, text=True).stdout.strip()
    mbed = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libmbedtls-dev"],
                          capture_output=True, text=True).stdout.strip()
    clientgo = "?"
    for line in open(os.path.join(KUBE, "go.mod")):
        f = line.split()
        if len(f) == 2 and f[0] == "k8s.io/client-go":
            clientgo = f[1]
            break
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": os.uname().release,
            "go": gov.split(": ")[-1] if gov else "?", "mbedtls": mbed or "?",
            "client_go": clientgo}


def all_cpu():
    """CPU time (s) of every process on the machine, by pid: (comm, s), its
    own and that of the children it has waited for (a build's compilers)."""
    res = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            s = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        f = s[s.rindex(")") + 2:].split()
        res[int(d)] = (comm, sum(int(x) for x in f[11:15]) / CLK_TCK)
    return res


def busy_ticks():
    """(busy, total) CPU ticks of the whole machine, from /proc/stat."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = f[3] + f[4]
    return sum(f[:8]) - idle, sum(f[:8])


class LoadMeter:
    """The machine's load through the run: load averages, how busy its
    CPUs were, and which processes not started by this script used CPU."""

    def __init__(self):
        self.start = self._la()
        self.max1 = self.start[0]
        self.cpu0 = all_cpu()
        self.busy0 = busy_ticks()
        self.t0 = time.monotonic()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    @staticmethod
    def _la():
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]

    def _loop(self):
        while not self.stop.wait(10):
            self.max1 = max(self.max1, self._la()[0])

    def finish(self, ours):
        self.stop.set()
        end = self._la()
        cpu1 = all_cpu()
        b1 = busy_ticks()
        by = {}
        for pid, (comm, s) in cpu1.items():
            if pid in ours or pid == os.getpid():
                continue
            d = s - self.cpu0.get(pid, (comm, 0.0))[1]
            by[comm] = by.get(comm, 0.0) + d
        top = sorted(((s, c) for c, s in by.items() if s >= 1.0), reverse=True)[:8]
        return {"start": self.start, "end": end, "max1": self.max1,
                "elapsed_s": time.monotonic() - self.t0, "others": top,
                "busy": (b1[0] - self.busy0[0]) / max(1, b1[1] - self.busy0[1])}


# ---- report --------------------------------------------------------------------------------

def fmt_ms(ms):
    if ms is None:
        return "?"
    return "%.2f s" % (ms / 1000.0) if abs(ms) >= 1000 else "%.0f ms" % ms


def kb(n):
    return "%.1f MB" % (n / 1024.0) if n >= 1024 else "%d kB" % n


def byt(n):
    if n is None:
        return "?"
    if abs(n) >= 1 << 20:
        return "%.1f MB" % (n / 1048576.0)
    if abs(n) >= 1024:
        return "%.0f kB" % (n / 1024.0)
    return "%.0f B" % n


def met(ok):
    return "**met**" if ok else "**missed**"


def report(args, mach, kver, cost, s3req, allocs, ini, fo, bins, load, command, date,
           svg_rel):
    L = []
    A = L.append
    A("# le.h vs client-go, side by side")
    A("")
    A("- date: %s" % date)
    A("- command: `%s`%s, %.0f s in all" % (command, " (quick mode)" if args.quick else "",
                                           load["elapsed_s"]))
    A("- machine: %d CPUs (nproc), %s, Linux %s" % (mach["nproc"], mach["cpu"], mach["kernel"]))
    A("- load average (1 min) at the start %.2f, at the end %.2f, highest seen %.2f; the "
      "CPUs were %.0f%% busy over the run (everything included); other processes' CPU time "
      "during the run: %s" %
      (load["start"][0], load["end"][0], load["max1"], 100 * load["busy"],
       ", ".join("%s %.0f s" % (c, s) for s, c in load["others"]) or "none over 1 s"))
    A("- le.h: build/le-elector (le.h with LE_HTTPS, mbedTLS %s, shared); client-go %s: "
      "tools/kube/bin/le-peer (%s); kube-apiserver-local (Kubernetes %s with embedded etcd, "
      "one process, audit log on) on the same machine" %
      (mach["mbedtls"], mach["client_go"], mach["go"], kver))
    A("- timing: LeaseDuration %s, RenewDeadline %s, RetryPeriod %s (client-go's defaults); "
      "le.h followers watch (its default), client-go followers poll" % TIMING)
    A("")

    # targets first
    c20 = {k: cost[k] for k in cost}
    def per_h(c, x):
        return x * 3600.0 / c["window"]["s"]

    def req_total(c):
        """Per window: every request, watches as the window saw them made."""
        return sum(c[v] for v in VERBS) + c["other"]

    def steady_h(c, w):
        """Per hour: the window's other requests, and the watches the open
        ones' timeoutSeconds imply."""
        return (req_total(c) - c["watch"]) * 3600.0 / w + c["watch_implied_h"]

    A("## Targets")
    A("")
    A("| target | le.h | client-go | |")
    A("| --- | ---: | ---: | --- |")
    rows_t = []
    if "leh" in c20 and "go" in c20:
        rl = steady_h(c20["leh"]["requests"], c20["leh"]["window"]["s"])
        rg = steady_h(c20["go"]["requests"], c20["go"]["window"]["s"])
        rows_t.append(("API requests per hour, %d replicas, ≤ 1/10 of client-go's" % args.n,
                       "%.0f" % rl, "%.0f" % rg, "%s (%.3f of client-go's)" % (met(rl <= rg / 10),
                                                                             rl / rg if rg else 0)))
        cl = per_h(c20["leh"], c20["leh"]["window"]["cpu_s"]) - \
            c20["leh"]["baseline"]["cpu_s"] * 3600 / c20["leh"]["baseline"]["s"]
        cg = per_h(c20["go"], c20["go"]["window"]["cpu_s"]) - \
            c20["go"]["baseline"]["cpu_s"] * 3600 / c20["go"]["baseline"]["s"]
        rows_t.append(("API server CPU per hour above idle, %d replicas, below client-go's" %
                       args.n, "%.1f s" % cl, "%.1f s" % cg, met(cl < cg)))
    th = [r["ms"] for r in fo["leh"]["rounds"] if r["mode"] == "term"]
    tg = [r["ms"] for r in fo["go"]["rounds"] if r["mode"] == "term"]
    if th:
        rows_t.append(("graceful handover (SIGTERM → another leads), median ≤ 50 ms",
                       fmt_ms(statistics.median(th)), fmt_ms(statistics.median(tg)) if tg else "",
                       met(statistics.median(th) <= 50)))
    kh = [r["from_renew_ms"] for r in fo["leh"]["rounds"] if r["mode"] == "kill" and
          r.get("from_renew_ms") is not None]
    kg = [r["from_renew_ms"] for r in fo["go"]["rounds"] if r["mode"] == "kill" and
          r.get("from_renew_ms") is not None]
    if kh:
        rows_t.append(("takeover after kill -9, median ≤ LeaseDuration + 300 ms after the "
                       "leader's last renew", fmt_ms(statistics.median(kh)),
                       fmt_ms(statistics.median(kg)) if kg else "",
                       met(statistics.median(kh) <= LEASE_S * 1000 + 300)))
    al, af = allocs["leh-leader"], allocs["leh-follower"]
    rows_t.append(("0 heap allocations per renew and per watch event",
                   "%d in %d renews, %d in %d watch events" % (al["calls"], al["audit_updates"],
                                                               af["calls"], af["ops"]),
                   "%.0f per renew, %.0f per poll" % (
                       allocs["go-leader"]["calls"] / max(1, allocs["go-leader"]["ops"]),
                       allocs["go-follower"]["calls"] / max(1, allocs["go-follower"]["ops"])),
                   met(al["calls"] == 0 and af["calls"] == 0)))
    for r in rows_t:
        A("| %s | %s | %s | %s |" % r)
    A("")

    # requests
    A("## API requests per hour")
    A("")
    A("From the API server's audit log: every request on the group's Lease received in the "
      "window, by verb, times 3600 / window. A watch counts once, when it is made, and then "
      "stays open until the API server ends it after the timeoutSeconds the client asked "
      "for (le.h: 600-1200 s, at random), when the client makes a new one. The followers "
      "opened theirs during the warm-up, so a window sees few or none being made: the watch "
      "column gives what the window saw, how many were open, and the watches per hour "
      "their timeoutSeconds imply (sum of 3600 / timeoutSeconds); \"total/h\" counts "
      "those implied watches instead of the window's, and is what the target is judged on.")
    A("")
    A("| replicas | implementation | window | get/h | update/h | create/h | watch/h: window "
      "(open; implied) | total/h | le.h / client-go | non-2xx in window |")
    A("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    req_rows = [(3, k, s3req[k], s3req["window_s"]) for k in ("leh", "go")]
    req_rows += [(cost[k]["n"], k, cost[k]["requests"], cost[k]["window"]["s"])
                 for k in ("leh", "go") if k in cost]
    tot = {}
    for n, k, c, w in req_rows:
        tot[(n, k)] = steady_h(c, w)
    for n, k, c, w in req_rows:
        sc = 3600.0 / w
        bad = ", ".join("%s: %d" % kv for kv in sorted(c["codes"].items())) or "0"
        ratio = "%.3f" % (tot[(n, k)] / tot[(n, "go")]) if k == "leh" and tot.get((n, "go")) else ""
        A("| %d | %s | %.0f s | %.0f | %.0f | %.0f | %.0f (%d; %.0f) | %.0f | %s | %s |" %
          (n, NAMES[k], w, c["get"] * sc, c["update"] * sc, c["create"] * sc, c["watch"] * sc,
           c["open_watches"], c["watch_implied_h"], tot[(n, k)], ratio, bad))
    A("")
    if s3req.get("changes"):
        A("**Leadership changed in a 3-replica group during its window:** %s" % s3req["changes"])
        A("")
    A("The 3-replica groups ran side by side (and next to the failover groups below, on their "
      "own Leases); the %d-replica groups each ran alone, in the runs of the next table." %
      args.n)
    A("")

    # API server cost
    if cost:
        A("## API server cost, %d replicas" % args.n)
        A("")
        A("Each implementation alone: an idle baseline of %.0f s, then %d replicas (the first "
          "one leading before the others start), %.0f s of warm-up, a %.0f s window. CPU: "
          "utime + stime of kube-apiserver-local (kube-apiserver and etcd in one process, all "
          "threads) from /proc/PID/stat. Bytes: what the API server sent on its port, TCP "
          "payload (TLS records, HTTP, watch events) the clients acknowledged (`ss -ti` "
          "bytes_acked, sampled every 2 s and at both ends of each window)." %
          (args.baseline, args.n, args.warmup, args.window))
        A("")
        A("| | le.h | client-go |")
        A("| --- | ---: | ---: |")

        def cell(f):
            return " | ".join(f(cost[k]) if k in cost else "" for k in ("leh", "go"))

        A("| API server CPU per hour, idle baseline | %s |" % cell(
            lambda c: "%.1f s" % (c["baseline"]["cpu_s"] * 3600 / c["baseline"]["s"])))
        A("| API server CPU per hour, with the replicas | %s |" % cell(
            lambda c: "%.1f s" % per_h(c, c["window"]["cpu_s"])))
        A("| the same in %.0f s slices, min-max: idle / with the replicas | %s |" % (SLICE_S, cell(
            lambda c: "%s / %s" % (
                "%.0f-%.0f s" % (min(c["baseline"]["slices"]), max(c["baseline"]["slices"]))
                if c["baseline"]["slices"] else "?",
                "%.0f-%.0f s" % (min(c["window"]["slices"]), max(c["window"]["slices"]))
                if c["window"]["slices"] else "?"))))
        A("| API server CPU per hour, difference | %s |" % cell(
            lambda c: "%.1f s" % (per_h(c, c["window"]["cpu_s"]) -
                                  c["baseline"]["cpu_s"] * 3600 / c["baseline"]["s"])))
        A("| bytes sent by the API server per hour, to the replicas' connections | %s |" % cell(
            lambda c: byt(per_h(c, c["window"]["net_replicas"]["sent"]))))
        A("| bytes received by it per hour, from the replicas | %s |" % cell(
            lambda c: byt(per_h(c, c["window"]["net_replicas"]["recv"]))))
        A("| bytes sent per hour on all its connections: baseline → with the replicas | %s |" %
          cell(lambda c: "%s → %s" % (byt(c["baseline"]["net"]["sent"] * 3600 / c["baseline"]["s"]),
                                       byt(per_h(c, c["window"]["net"]["sent"])))))
        A("| the replicas' connections to the API server: used in the window / open at its "
          "end | %s |" % cell(lambda c: "%d / %d" % (c["window"]["connections"],
                                                     c["window"]["open_at_end"])))
        A("| requests per hour (audit log, total/h as above) | %s |" % cell(
            lambda c: "%.0f" % steady_h(c["requests"], c["window"]["s"])))
        A("| after the window, one graceful handover (SIGTERM to the leader): another leads "
          "after | %s |" % cell(lambda c: fmt_ms(c["handover"]["ms"])))
        A("| requests on the Lease from that SIGTERM until 1 s after the new leader started "
          "(all of them: client-go's followers' regular polls too) | "
          "%s |" % cell(lambda c: "%s in %.1f s" % (", ".join(
              "%d %s" % (v, k) for k, v in sorted(c["handover"]["requests"].items())),
              c["handover"]["span_s"])))
        ch = [c["leadership_changes"] for c in cost.values() if c["leadership_changes"]]
        if ch:
            A("")
            A("**Leadership changed during a window:** %s" % ch)
        A("")

    # failover
    A("## Handover and takeover")
    A("")
    A("A group of 3 replicas per implementation, each on its own Lease, both groups at the "
      "same time. Before each round the group is stable (every follower has seen the leader), "
      "then %.0f s plus a random 0-2 s pass, so the signal falls at a random point of the "
      "renew cycle. The time runs from the CLOCK_MONOTONIC stamp taken just before `kill` to "
      "the `started` line of another replica; \"after the last renew\" runs from the moment "
      "the API server completed the old leader's last successful update of the Lease (audit "
      "log, `stageTimestamp`) to that line (wall clock and CLOCK_MONOTONIC tied by one "
      "reading at start). The stopped replica is replaced by a new one after each round. "
      "p99 is nearest-rank: with fewer than 100 rounds, the slowest one." % args.settle)
    A("")
    A("| event | implementation | rounds | median | p99 | min |")
    A("| --- | --- | ---: | ---: | ---: | ---: |")

    def frow(label, k, v):
        if v:
            A("| %s | %s | %d | %s | %s | %s |" % (label, NAMES[k], len(v),
                                                  fmt_ms(statistics.median(v)),
                                                  fmt_ms(pctl(v, 99)), fmt_ms(min(v))))

    for k in ("leh", "go"):
        frow("SIGTERM to the leader → another leads", k,
             [r["ms"] for r in fo[k]["rounds"] if r["mode"] == "term"])
    for k in ("leh", "go"):
        frow("SIGTERM → the old leader has released and exited", k,
             [r["exit_ms"] for r in fo[k]["rounds"] if r["mode"] == "term" and r.get("exit_ms")])
    for k in ("leh", "go"):
        frow("kill -9 of the leader → another leads", k,
             [r["ms"] for r in fo[k]["rounds"] if r["mode"] == "kill"])
    for k in ("leh", "go"):
        frow("the old leader's last renew → another leads (kill -9)", k,
             [r["from_renew_ms"] for r in fo[k]["rounds"] if r["mode"] == "kill" and
              r.get("from_renew_ms") is not None])
    A("")
    ov = [(k, o) for k in ("leh", "go") for o in fo[k]["overlaps"]]
    A("Overlapping leadership (two replicas leading at once): %s." %
      ("none" if not ov else "; ".join("%s: %s and %s for %.1f ms" % (NAMES[k], a, b, ms)
                                       for k, (a, b, ms) in ov)))
    A("")
    for k in ("leh", "go"):
        A("- %s, every round: %s" % (NAMES[k], ", ".join(
            ("kill %s (%s)" % (fmt_ms(r["ms"]), fmt_ms(r.get("from_renew_ms")))
             if r["mode"] == "kill" else "term %s" % fmt_ms(r["ms"])) for r in fo[k]["rounds"])))
    A("")
    if svg_rel:
        A("![timeline of one kill -9 per implementation](%s)" % svg_rel)
        A("")

    # replicas
    A("## Per replica: memory, CPU, allocations")
    A("")
    if cost:
        A("RSS (VmRSS at the end of the window) and CPU time (schedstat, all threads) of the "
          "uninstrumented replicas of the %d-replica runs; followers: median (min-max) of %d." %
          (args.n, args.n - 1))
        A("")
        A("| | le.h | client-go |")
        A("| --- | ---: | ---: |")

        def role(c, r):
            return [x for x in c["replicas"] if x["role"] == r]

        def mm(v, f):
            return "%s (%s-%s)" % (f(statistics.median(v)), f(min(v)), f(max(v)))

        A("| RSS, leader | %s |" % cell(lambda c: kb(role(c, "leader")[0]["rss_end_kb"])))
        A("| RSS, followers | %s |" % cell(
            lambda c: mm([x["rss_end_kb"] for x in role(c, "follower")], kb)))
        A("| CPU time per hour, leader | %s |" % cell(
            lambda c: "%.2f s" % per_h(c, role(c, "leader")[0]["cpu_s"])))
        A("| CPU time per hour, followers | %s |" % cell(
            lambda c: mm([per_h(c, x["cpu_s"]) for x in role(c, "follower")],
                         lambda v: "%.2f s" % v)))
        A("| CPU time per hour, all %d together | %s |" % (args.n, cell(
            lambda c: "%.1f s" % per_h(c, sum(x["cpu_s"] for x in c["replicas"])))))
        A("| RSS, all %d together | %s |" % (args.n, cell(
            lambda c: kb(sum(x["rss_end_kb"] for x in c["replicas"])))))
        A("")

    def per(d, n):
        return "%.1f" % (d["calls"] / n) if n else "n/a"

    def per_b(d, n):
        return byt(d["bytes"] / n) if n else "n/a"

    A("Allocations: in the 3-replica groups, over their %.0f s window, which starts once the "
      "API server has closed the le.h followers' idle request connections (they keep one for "
      "requests and one for the watch; the server closes the first after 90 s without a "
      "request; what that costs is the row before the window). le.h: "
      "bench/malloc_count.c preloaded into all three (malloc + calloc + realloc + aligned, "
      "read by SIGUSR1 at both ends of the window), divided by the leader's renews (the "
      "Lease's updates in the audit log) and by the followers' watch events (their own "
      "counter, `le-elector --print-stats 1`, bookmarks included). client-go: "
      "runtime.MemStats Mallocs / TotalAlloc (`le-peer --stats-every %s`, first and last "
      "line in the window), divided by the lock's Update and Get calls between them." %
      (s3req["window_s"], args.stats_every))
    A("")
    A("| | le.h | client-go |")
    A("| --- | ---: | ---: |")
    al, af, gl, gf = (allocs[k] for k in ("leh-leader", "leh-follower", "go-leader", "go-follower"))
    A("| heap allocations per renew (renews in the window) | %s (%d) | %s (%d) |" %
      (per(al, al["audit_updates"]), al["audit_updates"], per(gl, gl["ops"]), gl["ops"]))
    A("| heap bytes per renew | %s | %s |" % (per_b(al, al["audit_updates"]), per_b(gl, gl["ops"])))
    A("| heap allocations per watch event (le.h) / per poll (client-go), 2 followers | "
      "%s (%d events) | %s (%d polls) |" % (per(af, af["ops"]), af["ops"], per(gf, gf["ops"]),
                                            gf["ops"]))
    A("| heap bytes per watch event / per poll | %s | %s |" % (per_b(af, af["ops"]),
                                                            per_b(gf, gf["ops"])))
    A("| heap allocations from start to the window, leader | %d calls, %s (%s before "
      "connecting) | %d calls, %s (Go runtime included) |" %
      (al["start_calls"], byt(al["start_bytes"]),
       "%d calls, %s" % (ini["calls"], byt(ini["bytes"])) if ini else "?",
       gl["start_calls"], byt(gl["start_bytes"])))
    fc = allocs.get("leh-follower-close")
    if fc:
        A("| heap allocations before the window, 2 followers: from all up until the API "
          "server %s their idle request connections (%.0f s, %d watch events) | %d calls, %s "
          "| |" % ("had closed" if fc.get("closed") else "had not yet closed (150 s) all of",
                   fc["s"], fc["ops"], fc["calls"], byt(fc["bytes"])))
    A("| TCP connects in the window (leader, 2 followers) | %d, %d | not counted |" %
      (al["connect"], af["connect"]))
    A("| followers watching at the end of the window | %s | (client-go polls) |" %
      ", ".join(str(w) for w in af["watching"]))
    A("")

    b = bins

    def tdb(sz):
        return "%s / %s / %s" % (byt(sz["text"]), byt(sz["data"]), byt(sz["bss"])) if sz else "?"

    libsum = {"text": 0, "data": 0, "bss": 0}
    for l in b["leh"]["libs"]:
        if l["size"]:
            libsum = {k: libsum[k] + l["size"][k] for k in libsum}
    A("## Size")
    A("")
    A("| | le.h | client-go |")
    A("| --- | ---: | ---: |")
    A("| executable on disk | %s (with -g); %s stripped | %s (built with -s -w) |" %
      (byt(b["leh"]["file"]), byt(b["leh"]["stripped"]), byt(b["go"]["file"])))
    A("| executable, `size` text / data / bss | %s | %s |" %
      (tdb(b["leh"]["size"]), tdb(b["go"]["size"])))
    A("| shared libraries besides libc, on disk | %s: %s | %s |" %
      (" + ".join(l["name"] for l in b["leh"]["libs"]),
       byt(sum(l["file"] for l in b["leh"]["libs"])),
       " + ".join(l["name"] for l in b["go"]["libs"]) or "none"))
    A("")
    A("## Method and its limits")
    A("")
    A("- All processes share the machine's %d CPUs with the API server; the failover groups "
      "ran next to the instrumented 3-replica groups. The API server's CPU is a process "
      "total: anything else it did in a window (its own controllers, the audit log, other "
      "groups' requests) is in it; the baseline right before each run is what the "
      "difference subtracts, so the difference carries the noise of both windows." %
      mach["nproc"])
    A("- Bytes: TCP payload on the API server's sockets on its port, as `ss` reports them "
      "(bytes_acked: sent and acknowledged; no IP/TCP headers). Connections are attributed "
      "to a replica by the pid owning the other end. A connection that closes between two "
      "samples loses what it carried since the last sample; one that opens and closes "
      "between samples is missed (the replicas keep theirs open: le.h one for requests and, "
      "on a follower, one for the watch; client-go one HTTP/2 connection).")
    A("- The le.h followers' watches were opened during the warm-up, so the watch column "
      "counts only those a window saw being made; the totals and the ≤ 1/10 target count "
      "instead the watches the open ones' timeoutSeconds imply.")
    A("- kill -9 → another leads depends on where in the renew cycle the kill falls (up to "
      "one RetryPeriod after the last renew), so the time from the last renew is the one "
      "comparable with LeaseDuration.")
    return "\n".join(L) + "\n"


# ---- main -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="short run for development (~4 min): short windows, 2 kills and 2 "
                    "SIGTERMs per group; writes to build/bench/ unless --out is given")
    ap.add_argument("--n", type=int, default=20, help="replicas in the cost runs (default 20)")
    ap.add_argument("--window", type=float, help="cost window, s (default 300, quick 30)")
    ap.add_argument("--baseline", type=float, help="idle baseline, s (default 120, quick 15)")
    ap.add_argument("--warmup", type=float, help="warm-up, s (default 20, quick 8)")
    ap.add_argument("--kills", type=int, help="kill -9 rounds per group (default 10, quick 2)")
    ap.add_argument("--terms", type=int, help="SIGTERM rounds per group (default 20, quick 2)")
    ap.add_argument("--settle", type=float, default=2.0,
                    help="wait before each kill/SIGTERM, s, plus 0-2 s random")
    ap.add_argument("--stats-every", default="5s", help="le-peer --stats-every")
    ap.add_argument("--state", default="/tmp/bench-kube", help="API server state dir")
    ap.add_argument("--port", type=int, default=16943, help="API server port")
    ap.add_argument("--out", help="report (default bench/results.md; quick: "
                    "build/bench/results-quick.md); the SVG goes next to it")
    ap.add_argument("--date", help="date to print (default: now, UTC)")
    args = ap.parse_args()
    q = args.quick
    args.window = args.window or (30.0 if q else 300.0)
    args.baseline = args.baseline or (15.0 if q else 120.0)
    args.warmup = args.warmup or (8.0 if q else 20.0)
    args.kills = args.kills if args.kills is not None else (2 if q else 10)
    args.terms = args.terms if args.terms is not None else (2 if q else 20)
    out = args.out or (os.path.join(WORK, "results-quick.md") if q else
                       os.path.join(TOP, "bench", "results.md"))
    svg = os.path.join(os.path.dirname(os.path.abspath(out)),
                       "timeline-quick.svg" if q and not args.out else "timeline.svg")
    command = " ".join(shlex.quote(a) for a in ["python3", os.path.relpath(sys.argv[0], TOP)]
                       + sys.argv[1:])

    for path, how in ((ELECTOR, "make build/le-elector"), (PEER, "make kube")):
        if not os.access(path, os.X_OK):
            raise SystemExit("side_by_side: %s is missing: run %s" % (path, how))
    if not shutil.which("ss"):
        raise SystemExit("side_by_side: ss (iproute2) is missing: run tools/deps.sh")
    os.makedirs(os.path.join(WORK, "logs"), exist_ok=True)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", COUNTER_SRC, "-o", COUNTER_SO, "-ldl"],
                   check=True)

    def on_signal(sig, frame):
        raise KeyboardInterrupt("signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    run = "%x" % int(time.time())
    leases = {k: "bench-%s-%s" % (run, k) for k in
              ("leh-cost", "go-cost", "leh-s3", "go-s3", "leh-ha", "go-ha")}
    state = os.path.abspath(args.state)
    date = args.date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = LoadMeter()
    net = None
    started = False
    ours = set()
    try:
        log("starting kube-apiserver on port %d, state %s, audit log on" % (args.port, state))
        started = True
        cfg, audit_path = server_up(state, args.port)
        apid = int(cfg["LE_APISERVER_PID"])
        ours.add(apid)
        kver = server_version(cfg)
        offset = wall_minus_mono()
        log("API server ready: %s (pid %d)" % (cfg["LE_SERVER"], apid))
        net = NetMeter(args.port)
        time.sleep(5.0 if q else 15.0)  # past the start-up work
        cost = {}
        for k in ("leh", "go"):
            cost[k] = cost_run(k, args.n, cfg, leases["%s-cost" % k], audit_path, net, apid,
                               args.baseline, args.window, args.warmup)
        ini = leh_init_allocs(cfg)
        s3_window = min(args.window, 240.0)
        groups, s3 = failover_phase(
            cfg, leases, args.kills, args.terms, args.settle, offset,
            (cfg, args.port, leases, audit_path, s3_window, args.warmup, args.stats_every))
        time.sleep(1.0)
        with PROCS_LOCK:
            ours |= {p.pid for p in PROCS}
    finally:
        if net:
            net.close()
        cleanup_procs()
        if started:
            log("stopping the API server")
            server_down(state)
    audit = read_audit(audit_path)
    fo = failover_results(groups, audit)
    allocs = allocations(s3, audit)
    s3req = {k: count_requests(audit, leases["%s-s3" % k], s3["w0"], s3["w1"])
             for k in ("leh", "go")}
    s3req["window_s"] = s3["w1"] - s3["w0"]
    s3req["changes"] = s3.get("changes")
    have_svg = timeline_svg(groups, audit, offset, svg)
    bins = binaries()
    mach = machine()
    ld = load.finish(ours)
    md = report(args, mach, kver, cost, s3req, allocs, ini, fo, bins, ld, command, date,
                os.path.basename(svg) if have_svg else None)
    sys.stdout.write(md)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(md)
    raw = os.path.join(WORK, os.path.splitext(os.path.basename(out))[0] + ".json")
    with open(raw, "w") as f:
        json.dump({"machine": mach, "kube": kver, "leases": leases, "cost": cost,
                   "steady3": {"requests": s3req, "allocs": allocs, "init": ini,
                               "changes": s3.get("changes")},
                   "failover": fo, "binaries": bins, "load": ld, "command": command,
                   "date": date}, f, indent=1, default=str)
    log("wrote %s, %s and %s (%.0f s in all)" % (os.path.relpath(out), os.path.relpath(svg),
                                                 os.path.relpath(raw),
                                                 time.monotonic() - T_START))


if __name__ == "__main__":
    main()
