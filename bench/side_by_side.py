#!/usr/bin/env python3
"""le.h next to client-go, in one run, on one kube-apiserver.

Starts a dedicated kube-apiserver (tools/kube, own state dir and port) with
an audit policy that logs every Lease request at Metadata level, then runs
le.h's elector (build/le-elector) and client-go's (tools/kube/bin/le-peer)
at the same time, each on its own Leases, with client-go's default timing
(LeaseDuration 15s, RenewDeadline 10s, RetryPeriod 2s), and measures:

  1. API requests per hour, per Lease and verb, from the audit log over a
     steady-state window: a leader alone, and 3 replicas (1 leader, 2
     followers);
  2. takeover after kill -9 of the leader and handover after SIGTERM, in
     groups of 3 replicas per implementation: time from the signal to the
     next "started" line of another replica (CLOCK_MONOTONIC on both sides);
  3. RSS of steady-state leaders and followers, CPU time, binary sizes;
  4. heap allocations per renew (leader) and per poll (follower): client-go
     from runtime.MemStats (le-peer --stats-every), le.h from an LD_PRELOAD
     counter (bench/malloc_count.c, compiled here) read by SIGUSR1 at both
     ends of the window.

Prints a markdown report and writes it to build/bench-side-by-side.md (raw
numbers: build/bench-side-by-side.json). Every process it starts, and the
API server, is stopped at the end, also on errors and on Ctrl-C.

    make build/le-elector kube && python3 bench/side_by_side.py [--quick]
"""
import argparse
import datetime
import json
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ELECTOR = os.path.join(TOP, "build", "le-elector")
PEER = os.path.join(TOP, "tools", "kube", "bin", "le-peer")
KUBE = os.path.join(TOP, "tools", "kube")
WORK = os.path.join(TOP, "build", "bench")
COUNTER_SRC = os.path.join(TOP, "bench", "malloc_count.c")
COUNTER_SO = os.path.join(WORK, "malloc_count.so")
TIMING = ("15s", "10s", "2s")
NAMES = {"leh": "le.h", "go": "client-go"}

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


# ---- processes -----------------------------------------------------------------

class Proc:
    """One elector process (kind "leh" or "go"); its JSON lines in .events."""

    def __init__(self, kind, ident, lease, cfg, preload=False, stats_every=None):
        self.kind, self.id, self.lease = kind, ident, lease
        self.events, self.cond = [], threading.Condition()
        self.killed_at = None
        if kind == "leh":
            cmd = [ELECTOR]
        else:
            cmd = [PEER, "run", "--rejoin"]
            if stats_every:
                cmd += ["--stats-every", stats_every]
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


# ---- API server and audit log --------------------------------------------------------

def server_up(state, port):
    os.makedirs(state, exist_ok=True)
    pidf = os.path.join(state, "pid")
    if os.path.exists(pidf):  # a server left on this state dir: it lacks our audit flags
        subprocess.run([os.path.join(KUBE, "down.sh"), state], stdout=subprocess.DEVNULL)
    policy = os.path.join(state, "bench-audit-policy.yaml")
    audit = os.path.join(state, "bench-audit.log")
    with open(policy, "w") as f:
        f.write(AUDIT_POLICY)
    for old in (audit,):
        if os.path.exists(old):
            os.remove(old)
    env = dict(os.environ, LE_KUBE_PORT=str(port),
               LE_KUBE_ARGS="-- --audit-log-path=%s --audit-policy-file=%s" % (audit, policy))
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


def parse_ts(s):
    # "2026-11-24T10:00:00.123456Z" -> Unix seconds
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def read_audit(path):
    out = []
    with open(path) as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            ref = ev.get("objectRef") or {}
            if ev.get("stage") != "ResponseComplete" or ref.get("resource") != "leases":
                continue
            out.append({"name": ref.get("name", ""), "verb": ev.get("verb"),
                        "ua": ev.get("userAgent", ""),
                        "code": (ev.get("responseStatus") or {}).get("code"),
                        "t": parse_ts(ev["requestReceivedTimestamp"])})
    return out


def count_requests(audit, lease, t0, t1):
    c = {"get": 0, "update": 0, "create": 0, "other": 0, "non2xx": 0, "codes": {}}
    for a in audit:
        if a["name"] != lease or not t0 <= a["t"] < t1:
            continue
        c[a["verb"] if a["verb"] in ("get", "update", "create") else "other"] += 1
        if not 200 <= (a["code"] or 0) < 300:
            c["non2xx"] += 1
            key = "%s %s" % (a["verb"], a["code"])
            c["codes"][key] = c["codes"].get(key, 0) + 1
    return c


# ---- phase 1: steady state -------------------------------------------------------------

def counter_lines(p, mono0, mono1):
    """The malloc counter's SIGUSR1 lines of p inside [mono0, mono1]."""
    return [e for e in p.evs("mallocs") if e.get("at") == "signal" and mono0 <= e["t"] <= mono1]


def go_stats(p, mono0, mono1):
    return [e for e in p.evs("stats") if mono0 <= e["t"] <= mono1]


def steady_phase(cfg, leases, audit_path, window, warmup, stats_every):
    """Returns the requests, memory, CPU and allocation numbers."""
    log("steady state: starting 2 solo leaders and 2 groups of 3")
    P = {}
    P["leh-solo"] = Proc("leh", "leh-solo", leases["leh-solo"], cfg, preload=True)
    P["go-solo"] = Proc("go", "go-solo", leases["go-solo"], cfg, stats_every=stats_every)
    P["leh-trio-0"] = Proc("leh", "leh-trio-0", leases["leh-trio"], cfg)
    P["go-trio-0"] = Proc("go", "go-trio-0", leases["go-trio"], cfg)
    for k in list(P):
        wait_for(P[k].leading, 30, "%s to lead" % k)
    # the followers start once the leader leads, so the leaders stay uninstrumented
    for i in (1, 2):
        P["leh-trio-%d" % i] = Proc("leh", "leh-trio-%d" % i, leases["leh-trio"], cfg, preload=True)
        P["go-trio-%d" % i] = Proc("go", "go-trio-%d" % i, leases["go-trio"], cfg,
                                   stats_every=stats_every)
    for i in (1, 2):
        for kind in ("leh", "go"):
            f = P["%s-trio-%d" % (kind, i)]
            wait_for(lambda f=f, kind=kind: f.last_leader_seen() == "%s-trio-0" % kind, 30,
                     "%s to see its leader" % f.id)
    log("steady state: all up; %d s warm-up, then a %d s window" % (warmup, window))
    time.sleep(warmup)

    preloaded = [p for p in P.values() if p.kind == "leh" and p.id != "leh-trio-0"]
    samples = {k: [] for k in P}
    cpu0 = {k: P[k].proc_status()["cpu_s"] for k in P}
    w0, m0 = time.time(), mono_ns()
    for p in preloaded:
        os.kill(p.pid, signal.SIGUSR1)
    end = time.monotonic() + window
    while True:
        for k, p in P.items():
            s = p.proc_status()
            if s:
                samples[k].append(s)
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(5.0, left))
    cpu1 = {k: P[k].proc_status()["cpu_s"] for k in P}
    w1 = time.time()
    for p in preloaded:
        os.kill(p.pid, signal.SIGUSR1)
    m1 = mono_ns()
    time.sleep(0.5)
    m1_lines = mono_ns()
    changes = [k for k, p in P.items()
               if (k.endswith("solo") or k.endswith("-0")) != p.leading()]
    log("steady state: window over; stopping")
    stop_all(P.values())
    time.sleep(0.5)  # the releases reach the audit log
    audit = read_audit(audit_path)

    res = {"window_s": w1 - w0, "leadership_changes": changes, "requests": {}, "rss": {},
           "cpu": {}, "allocs": {}}
    for key, lease in leases.items():
        if key.endswith("-ha"):
            continue
        res["requests"][key] = count_requests(audit, lease, w0, w1)
    for k in P:
        res["rss"][k] = {"end_kb": samples[k][-1]["VmRSS"], "max_kb": max(s["VmRSS"] for s in samples[k]),
                         "hwm_kb": samples[k][-1]["VmHWM"]}
        res["cpu"][k] = cpu1[k] - cpu0[k]

    # heap allocations: le.h from the counter, client-go from MemStats
    def leh_delta(procs):
        d = {"calls": 0, "bytes": 0, "connect": 0, "start_calls": 0, "start_bytes": 0}
        for p in procs:
            ls = counter_lines(p, m0 - 10**9, m1_lines)
            if len(ls) < 2:
                raise RuntimeError("no malloc counter lines from %s" % p.id)
            a, b = ls[0], ls[-1]
            d["start_calls"] += sum(a[k] for k in ("malloc", "calloc", "realloc", "memalign"))
            d["start_bytes"] += a["bytes"]
            d["calls"] += sum(b[k] - a[k] for k in ("malloc", "calloc", "realloc", "memalign"))
            d["bytes"] += b["bytes"] - a["bytes"]
            d["connect"] += b["connect"] - a["connect"]
        return d

    def go_delta(procs):
        d = {"calls": 0, "bytes": 0, "gets": 0, "updates": 0, "span_s": 0.0,
             "start_calls": 0, "start_bytes": 0}
        for p in procs:
            ls = go_stats(p, m0, m1)
            if len(ls) < 2:
                raise RuntimeError("fewer than 2 stats lines from %s in the window" % p.id)
            a, b = ls[0], ls[-1]
            d["start_calls"] += a["mallocs"]
            d["start_bytes"] += a["total_alloc"]
            d["calls"] += b["mallocs"] - a["mallocs"]
            d["bytes"] += b["total_alloc"] - a["total_alloc"]
            d["gets"] += b["gets"] - a["gets"]
            d["updates"] += b["updates"] - a["updates"]
            d["span_s"] += (b["t"] - a["t"]) / 1e9
        return d

    r = res["requests"]
    d = leh_delta([P["leh-solo"]])
    d["ops"] = r["leh-solo"]["update"] + r["leh-solo"]["get"]
    res["allocs"]["leh-leader"] = d
    d = leh_delta([P["leh-trio-1"], P["leh-trio-2"]])
    d["ops"] = r["leh-trio"]["get"]  # the leader (uninstrumented) sends no GET in steady state
    res["allocs"]["leh-follower"] = d
    d = go_delta([P["go-solo"]])
    d["ops"] = d["updates"] + d["gets"]
    res["allocs"]["go-leader"] = d
    d = go_delta([P["go-trio-1"], P["go-trio-2"]])
    d["ops"] = d["gets"] + d["updates"]
    res["allocs"]["go-follower"] = d
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


# ---- phase 2: takeover and handover ------------------------------------------------

class Group:
    def __init__(self, kind, lease, cfg, n=3):
        self.kind, self.lease, self.cfg, self.seq = kind, lease, cfg, 0
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
        if not L or len(self.replicas) != 3 or not all(p.alive() for p in self.replicas):
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

    def run(self, modes, settle):
        try:
            for mode in modes:
                L = wait_for(self.stable, 60, "a stable %s group" % NAMES[self.kind])
                # let the newest replica poll once more, then a random phase
                # against the leader's 2 s renew schedule
                time.sleep(settle + random.uniform(0, 2.0))
                L = wait_for(self.stable, 10, "a stable %s group" % NAMES[self.kind])
                t0 = L.kill9() if mode == "kill" else L.term()
                got = wait_for(lambda: self.first_start_after(t0, L), 60,
                               "a new %s leader after %s" % (NAMES[self.kind], mode))
                rec = {"mode": mode, "ms": (got[0] - t0) / 1e6, "old": L.id, "new": got[1].id,
                       "term": got[2]}
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

    def overlaps(self):
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
        iv.sort()
        return [(a[2], b[2], (a[1] - b[0]) / 1e6) for a, b in zip(iv, iv[1:]) if b[0] < a[1]]


def takeover_phase(cfg, leases, rounds, settle):
    modes = []
    for i in range(rounds):
        modes += ["kill", "term"]
    log("takeover: 2 groups of 3, %d x kill -9 and %d x SIGTERM each, in parallel" %
        (rounds, rounds))
    groups = {k: Group(k, leases["%s-ha" % k], cfg) for k in ("leh", "go")}
    threads = [threading.Thread(target=g.run, args=(modes, settle), daemon=True)
               for g in groups.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(rounds * 2 * 90 + 60)
    for g in groups.values():
        if g.error:
            raise g.error
    res = {}
    for k, g in groups.items():
        res[k] = {"rounds": g.rounds, "overlaps": g.overlaps()}
    stop_all([p for g in groups.values() for p in g.replicas])
    return res


# ---- sizes and machine -------------------------------------------------------------------

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
                         "size": size_of(l)} for l in libs],
                    "all_libs": [os.path.basename(l) for l in shared_libs(path)]}
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


# ---- report --------------------------------------------------------------------------------

def fmt_ms(ms):
    return "%.2f s" % (ms / 1000.0) if ms >= 1000 else "%.0f ms" % ms


def kb(n):
    return "%.1f MB" % (n / 1024.0) if n >= 1024 else "%d kB" % n


def byt(n):
    if n is None:
        return "?"
    if n >= 1 << 20:
        return "%.1f MB" % (n / 1048576.0)
    return "%.0f kB" % (n / 1024.0)


def report(args, mach, steady, take, bins, command, date):
    L = []
    w = steady["window_s"]
    scale = 3600.0 / w
    L.append("# le.h vs client-go, side by side")
    L.append("")
    L.append("- date: %s" % date)
    L.append("- machine: %d CPU (nproc), %s, Linux %s" % (mach["nproc"], mach["cpu"], mach["kernel"]))
    L.append("- le.h: build/le-elector (le.h with LE_HTTPS, mbedTLS %s, shared); client-go %s: "
             "tools/kube/bin/le-peer (%s); kube-apiserver + etcd from tools/kube, on this machine"
             % (mach["mbedtls"], mach["client_go"], mach["go"]))
    L.append("- timing: LeaseDuration %s, RenewDeadline %s, RetryPeriod %s (client-go's defaults)"
             % TIMING)
    L.append("- command: `%s`%s" % (command, " (quick mode)" if args.quick else ""))
    L.append("")
    L.append("## API requests per hour")
    L.append("")
    L.append("Counted per Lease and verb from the API server's audit log over a %.0f s steady-state "
             "window (both implementations running at the same time), times %.1f." % (w, scale))
    L.append("")
    L.append("| setup | implementation | get/h | update/h | create/h | total/h | non-2xx in window |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for setup, suffix in (("leader alone", "solo"), ("3 replicas (1 leader + 2 followers)", "trio")):
        for kind in ("leh", "go"):
            c = steady["requests"]["%s-%s" % (kind, suffix)]
            tot = c["get"] + c["update"] + c["create"] + c["other"]
            bad = ", ".join("%s: %d" % kv for kv in sorted(c["codes"].items())) or "0"
            L.append("| %s | %s | %.0f | %.0f | %.0f | %.0f | %s |" %
                     (setup, NAMES[kind], c["get"] * scale, c["update"] * scale,
                      c["create"] * scale, tot * scale, bad))
    if steady["leadership_changes"]:
        L.append("")
        L.append("**Leadership changed during the window:** %s" % ", ".join(steady["leadership_changes"]))
    L.append("")
    L.append("## Takeover and handover")
    L.append("")
    L.append("A group of 3 replicas per implementation, each group on its own Lease, both groups at "
             "the same time. From the signal to the leader (CLOCK_MONOTONIC, taken just before "
             "`kill`) to the `started` line of another replica. Kills and SIGTERMs alternate; "
             "before each, the group is stable (every follower has seen the leader), then waits "
             "%.0f s plus a random 0-2 s. The stopped replica is replaced by a new one (new "
             "identity) after the takeover." % args.settle)
    L.append("")
    L.append("| event | implementation | n | min | median | max |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: |")
    for mode, label in (("kill", "kill -9 of the leader → another leads"),
                        ("term", "SIGTERM to the leader (releases) → another leads")):
        for kind in ("leh", "go"):
            v = [r["ms"] for r in take[kind]["rounds"] if r["mode"] == mode]
            if v:
                L.append("| %s | %s | %d | %s | %s | %s |" %
                         (label, NAMES[kind], len(v), fmt_ms(min(v)), fmt_ms(statistics.median(v)),
                          fmt_ms(max(v))))
    for kind in ("leh", "go"):
        v = [r["exit_ms"] for r in take[kind]["rounds"] if r["mode"] == "term" and r.get("exit_ms")]
        if v:
            L.append("| SIGTERM → the old leader has released and exits | %s | %d | %s | %s | %s |" %
                     (NAMES[kind], len(v), fmt_ms(min(v)), fmt_ms(statistics.median(v)), fmt_ms(max(v))))
    L.append("")
    for kind in ("leh", "go"):
        rs = take[kind]["rounds"]
        L.append("- %s rounds: %s" % (NAMES[kind], ", ".join(
            "%s %s" % ("kill" if r["mode"] == "kill" else "term", fmt_ms(r["ms"])) for r in rs)))
    ov = [(k, o) for k in ("leh", "go") for o in take[k]["overlaps"]]
    L.append("- overlapping leadership (two replicas leading at once): %s" %
             ("none" if not ov else "; ".join("%s: %s and %s for %.1f ms" % (NAMES[k], a, b, ms)
                                              for k, (a, b, ms) in ov)))
    L.append("")
    L.append("## Memory, CPU, allocations, size")
    L.append("")
    a = steady["allocs"]
    rss, cpu = steady["rss"], steady["cpu"]

    def per(d):
        return "%.1f" % (d["calls"] / d["ops"]) if d["ops"] else "n/a"

    def per_b(d):
        return byt(d["bytes"] / d["ops"]) if d["ops"] and d["bytes"] >= 1024 * d["ops"] else (
            "%.0f B" % (d["bytes"] / d["ops"]) if d["ops"] else "n/a")

    L.append("| | le.h | client-go |")
    L.append("| --- | ---: | ---: |")
    L.append("| RSS, leader of a 3-replica group (end of window / max) | %s / %s | %s / %s |" %
             (kb(rss["leh-trio-0"]["end_kb"]), kb(rss["leh-trio-0"]["max_kb"]),
              kb(rss["go-trio-0"]["end_kb"]), kb(rss["go-trio-0"]["max_kb"])))
    L.append("| RSS, followers (end of window) | %s, %s | %s, %s |" %
             (kb(rss["leh-trio-1"]["end_kb"]), kb(rss["leh-trio-2"]["end_kb"]),
              kb(rss["go-trio-1"]["end_kb"]), kb(rss["go-trio-2"]["end_kb"])))
    L.append("| RSS, leader alone (instrumented, end of window) | %s | %s |" %
             (kb(rss["leh-solo"]["end_kb"]), kb(rss["go-solo"]["end_kb"])))
    L.append("| CPU time per hour, leader of a 3-replica group | %.2f s | %.2f s |" %
             (cpu["leh-trio-0"] * scale, cpu["go-trio-0"] * scale))
    L.append("| CPU time per hour, one follower (mean of 2) | %.2f s | %.2f s |" %
             ((cpu["leh-trio-1"] + cpu["leh-trio-2"]) / 2 * scale,
              (cpu["go-trio-1"] + cpu["go-trio-2"]) / 2 * scale))
    L.append("| heap allocations per renew (leader alone; renews in window) | %s (%d) | %s (%d) |" %
             (per(a["leh-leader"]), a["leh-leader"]["ops"], per(a["go-leader"]), a["go-leader"]["ops"]))
    L.append("| heap bytes per renew | %s | %s |" % (per_b(a["leh-leader"]), per_b(a["go-leader"])))
    L.append("| heap allocations per poll (2 followers; polls in window) | %s (%d) | %s (%d) |" %
             (per(a["leh-follower"]), a["leh-follower"]["ops"], per(a["go-follower"]),
              a["go-follower"]["ops"]))
    L.append("| heap bytes per poll | %s | %s |" % (per_b(a["leh-follower"]), per_b(a["go-follower"])))
    ini = steady.get("leh_init") or {"calls": 0, "bytes": 0}
    L.append("| heap allocations from start to the window (leader alone) | %d calls, %s "
             "(of which %d calls, %s before connecting) | %d calls, %s (Go runtime included) |" %
             (a["leh-leader"]["start_calls"], byt(a["leh-leader"]["start_bytes"]), ini["calls"],
              byt(ini["bytes"]), a["go-leader"]["start_calls"], byt(a["go-leader"]["start_bytes"])))
    L.append("| TCP connects in the window (leader alone, 2 followers) | %d, %d | not counted |" %
             (a["leh-leader"]["connect"], a["leh-follower"]["connect"]))
    b = bins

    def tdb(sz):
        return "%s / %s / %s" % (byt(sz["text"]), byt(sz["data"]), byt(sz["bss"])) if sz else "?"

    def add(x, y):
        return {k: x[k] + y[k] for k in x}

    libsum = {"text": 0, "data": 0, "bss": 0}
    for l in b["leh"]["libs"]:
        libsum = add(libsum, l["size"])
    L.append("| executable on disk | %s (with -g); %s stripped | %s (built with -s -w) |" %
             (byt(b["leh"]["file"]), byt(b["leh"]["stripped"]), byt(b["go"]["file"])))
    L.append("| executable, `size` text / data / bss | %s | %s |" %
             (tdb(b["leh"]["size"]), tdb(b["go"]["size"])))
    L.append("| shared libraries besides libc, on disk | %s: %s | %s |" %
             (" + ".join(l["name"] for l in b["leh"]["libs"]),
              byt(sum(l["file"] for l in b["leh"]["libs"])),
              " + ".join(l["name"] for l in b["go"]["libs"]) or "none"))
    L.append("| executable + those libraries, text / data / bss | %s | %s |" %
             (tdb(add(b["leh"]["size"], libsum)), tdb(b["go"]["size"])))
    L.append("")
    L.append("Allocations: client-go from `runtime.MemStats.Mallocs`/`TotalAlloc` (le-peer "
             "`--stats-every %s`; first and last stats line inside the window, divided by the lock's "
             "Update/Get calls between them; the stats lines' own formatting is included); le.h "
             "from bench/malloc_count.c preloaded into the process (malloc+calloc+realloc+"
             "aligned, read by SIGUSR1 at both ends of the window, divided by the requests the "
             "audit log shows for its Lease in the window). The RSS and CPU of the leaders of the "
             "3-replica groups are of uninstrumented processes." % args.stats_every)
    return "\n".join(L) + "\n"


# ---- main -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="short run: 20 s window, 1 kill + 1 SIGTERM per group (~1.5 min)")
    ap.add_argument("--window", type=float, help="steady-state window, s (default 60, quick 20)")
    ap.add_argument("--rounds", type=int, help="kills (and as many SIGTERMs) per group (default 4, quick 1)")
    ap.add_argument("--settle", type=float, default=2.0, help="wait before each kill/SIGTERM, s, plus 0-2 s random")
    ap.add_argument("--stats-every", default="5s", help="le-peer --stats-every")
    ap.add_argument("--state", default="/tmp/bench-kube", help="API server state dir")
    ap.add_argument("--port", type=int, default=16943, help="API server port")
    ap.add_argument("--out", default=os.path.join(TOP, "build", "bench-side-by-side.md"))
    ap.add_argument("--date", help="date to print (default: now, UTC)")
    args = ap.parse_args()
    window = args.window or (20.0 if args.quick else 60.0)
    rounds = args.rounds or (1 if args.quick else 4)
    warmup = 3.0 if args.quick else 6.0
    command = " ".join(shlex.quote(a) for a in ["python3", os.path.relpath(sys.argv[0], TOP)]
                       + sys.argv[1:])

    for path, how in ((ELECTOR, "make build/le-elector"), (PEER, "make kube")):
        if not os.access(path, os.X_OK):
            raise SystemExit("side_by_side: %s is missing: run %s" % (path, how))
    os.makedirs(os.path.join(WORK, "logs"), exist_ok=True)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", COUNTER_SRC, "-o", COUNTER_SO, "-ldl"], check=True)

    def on_signal(sig, frame):
        raise KeyboardInterrupt("signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    run = "%x" % int(time.time())
    leases = {k: "bench-%s-%s" % (run, k) for k in
              ("leh-solo", "go-solo", "leh-trio", "go-trio", "leh-ha", "go-ha")}
    state = os.path.abspath(args.state)
    date = args.date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    started = False
    try:
        log("starting kube-apiserver on port %d, state %s, audit log on" % (args.port, state))
        started = True
        cfg, audit = server_up(state, args.port)
        log("API server ready: %s" % cfg["LE_SERVER"])
        steady = steady_phase(cfg, leases, audit, window, warmup, args.stats_every)
        steady["leh_init"] = leh_init_allocs(cfg)
        take = takeover_phase(cfg, leases, rounds, args.settle)
    finally:
        cleanup_procs()
        if started:
            log("stopping the API server")
            server_down(state)
    bins = binaries()
    mach = machine()
    md = report(args, mach, steady, take, bins, command, date)
    sys.stdout.write(md)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(md)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"machine": mach, "leases": leases, "steady": steady, "takeover": take,
                   "binaries": bins, "command": command, "date": date}, f, indent=1)
    log("wrote %s (%.0f s in all)" % (os.path.relpath(args.out), time.monotonic() - T_START))


if __name__ == "__main__":
    main()
