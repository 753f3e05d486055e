#!/usr/bin/env python3
"""le-run against the local kube-apiserver (tools/kube), for one binary:

    tools/kube/up.sh && python3 tests/le-run/run.py build/le-run [scenario ...]

- options: bad options and a too long --grace are refused with a reason;
  --help names every option and its variable.
- chaos: three replicas run tests/le-run/witness.c (a child plus a grandchild
  in its process group that ignores SIGTERM); 20 rounds of kill -9 of the
  leading le-run, SIGTERM of it, the API server stopped (SIGSTOP) for longer
  than RenewDeadline, and the child crashing. Every process's life is taken
  from its own CLOCK_MONOTONIC start stamp to the moment the test sees its
  Unix socket close (the kernel closes it when the process is gone), and no
  two process groups may overlap; each round a new child must run within
  the takeover bound; after kill -9 the group must be dead at once.
- http: /healthz, /leader, /metrics while leading and following; a
  slowloris on the port does not delay a renew; /healthz fails while the API
  server is stopped for longer than LeaseDuration + --healthz-timeout.
- once: --once against a real PostgreSQL (Debian's, an unprivileged cluster
  in a temp dir): three replicas at once run a non-idempotent migration
  exactly once; a fourth exits 0 at once; the runner killed mid-transaction
  is replaced and the table exists once with one row; a rollback KEY runs
  nothing.
- emptyroot (static binaries): le-run in a chroot with only itself, the
  CA, the token and /dev/null: no /etc, no libc, no /dev/urandom.

Prints PASS/FAIL lines and "le-run: N passed, M failed"."""
import glob, json, os, re, selectors, shutil, signal, socket, subprocess, sys, tempfile
import threading, time, traceback, urllib.request

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from harness import env, mono_ns  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build", "le-run"))
ONLY = sys.argv[2:]
STATIC = "/static/" in BIN
WITNESS = os.path.join(os.path.dirname(BIN), "le-run-witness")
TAG = "static" if STATIC else "dyn"
WORK = os.path.join(TOP, "build", "le-run-test", TAG)
CFG = env()
PEER = os.path.join(CFG.get("LE_KUBE_BIN") or os.path.join(TOP, "tools", "kube", "bin"), "le-peer")
LEASE_S, RENEW_S, RETRY_S, GRACE_S = 4, 3, 1, 0.4
TIMING = ["--lease-duration", "%ds" % LEASE_S, "--renew-deadline", "%ds" % RENEW_S,
          "--retry-period", "%ds" % RETRY_S, "--grace", "400ms"]
CONN = ["--server", CFG["LE_SERVER"], "--ca", CFG["LE_CA"], "--token-file",
        CFG["LE_USER_TOKEN_FILE"], "--namespace", "default"]
npass = nfail = 0


def ok(cond, what):
    global npass, nfail
    if cond:
        npass += 1
        print("PASS %s: %s" % (TAG, what), flush=True)
    else:
        nfail += 1
        print("FAIL %s: %s" % (TAG, what), flush=True)
    return cond


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = pred()
        if r:
            return r
        time.sleep(step)
    return pred()


class Witnesses:
    """The Unix socket every witness process connects to; its close is the
    process's end, stamped with CLOCK_MONOTONIC."""

    def __init__(self, path, log):
        self.path, self.log = path, log
        self.lock = threading.Lock()
        self.ends = {}   # pid -> ns
        self.roles = {}  # pid -> (role, pgid)
        self.sel = selectors.DefaultSelector()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):
            os.unlink(path)
        self.srv.bind(path)
        self.srv.listen(64)
        self.sel.register(self.srv, selectors.EVENT_READ)
        self.stop = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        bufs, pids = {}, {}
        while not self.stop:
            for key, _ in self.sel.select(0.05):
                s = key.fileobj
                if s is self.srv:
                    c, _ = self.srv.accept()
                    bufs[c] = b""
                    self.sel.register(c, selectors.EVENT_READ)
                    continue
                try:
                    d = s.recv(256)
                except OSError:
                    d = b""
                if d:
                    bufs[s] += d
                    if b"\n" in bufs[s]:
                        role, pid, pgid = bufs[s].split(b"\n")[0].decode().split()
                        with self.lock:
                            self.roles[int(pid)] = (role, int(pgid))
                        pids[s] = int(pid)
                    continue
                t = mono_ns()
                self.sel.unregister(s)
                with self.lock:
                    if s in pids:
                        self.ends[pids.pop(s)] = t
                bufs.pop(s, None)
                s.close()

    def records(self):
        out = []
        if os.path.exists(self.log):
            for line in open(self.log):
                f = line.split()
                if len(f) >= 6:
                    out.append({"ev": f[0], "t": int(f[1]), "pid": int(f[2]), "pgid": int(f[3]),
                                "id": f[4], "term": f[5]})
        return out

    def groups(self):
        """pgid -> {start, end (None while alive), id, pids}"""
        gs = {}
        for r in self.records():
            if r["ev"] not in ("start", "gstart"):
                continue
            g = gs.setdefault(r["pgid"], {"start": r["t"], "pids": set(), "id": r["id"],
                                          "term": r["term"]})
            g["start"] = min(g["start"], r["t"])
            g["pids"].add(r["pid"])
        with self.lock:
            for g in gs.values():
                ends = [self.ends.get(p) for p in g["pids"]]
                g["end"] = None if None in ends else max(ends)
        return gs

    def running(self):
        return {k: g for k, g in self.groups().items() if g["end"] is None}

    def close(self):
        self.stop = True
        self.t.join()
        self.srv.close()


class LeRun:
    def __init__(self, ident, lease, cmd, extra=(), env_add=None, name=None):
        self.id = ident
        e = dict(os.environ)
        e.update(env_add or {})
        self.errpath = os.path.join(WORK, "%s.err" % (name or ident))
        self.err = open(self.errpath, "w")
        self.p = subprocess.Popen([BIN] + CONN + TIMING + ["--lease", lease, "--identity", ident]
                                  + list(extra) + ["--"] + list(cmd),
                                  stdout=self.err, stderr=self.err, env=e)

    def text(self):
        self.err.flush()
        return open(self.errpath).read()

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def proc_alive(pid):
    try:
        st = open("/proc/%d/stat" % pid).read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] != "Z"


def group_alive(pgid):
    for st in glob.glob("/proc/[0-9]*/stat"):
        try:
            s = open(st).read()
        except OSError:
            continue
        f = s[s.rindex(")") + 2:].split()
        if int(f[2]) == pgid and f[0] != "Z":
            return True
    return False


def apiserver_pid():
    return int(CFG["LE_APISERVER_PID"])


def api_stop(secs):
    pid = apiserver_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(secs)
    finally:
        os.kill(pid, signal.SIGCONT)


def http_get(port, path, timeout=3):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except Exception as e:  # noqa: BLE001
        return None, str(e)


def http_port(lr):
    m = wait_for(lambda: re.search(r"on http://127\.0\.0\.1:(\d+)", lr.text()), 5)
    return int(m.group(1)) if m else None


# ---- scenarios ---------------------------------------------------------------------

def t_options():
    def run(args, env_add=None):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("LE_RUN_"):
                del e[k]
        e.update(env_add or {})
        p = subprocess.run([BIN] + args, capture_output=True, text=True, env=e, timeout=20)
        return p.returncode, p.stdout + p.stderr
    rc, out = run(["--lease", "x", "--grace", "6s", "--", "true"])
    ok(rc == 1 and "at most 4500ms" in out and "take the Lease" in out,
       "--grace longer than LeaseDuration - RenewDeadline - 500ms is refused with the reason (%r)"
       % out.strip()[:90])
    rc, out = run(["--lease", "x", "--", "true"], {"LE_RUN_GRACE": "5s"})
    ok(rc == 1 and "--grace 5s is too long" in out, "options come from the environment too (LE_RUN_GRACE)")
    rc, out = run(["--lease", "x", "--", "true"], {"LE_RUN_GRACE": "10s", "LE_RUN_LEASE_DURATION": "30s"})
    ok(rc != 1 or "too long" not in out, "a longer LeaseDuration from the environment allows a longer grace")
    rc, out = run(["--", "true"])
    ok(rc == 1 and "--lease NAME" in out, "a missing --lease is an error naming the fix")
    rc, out = run(["--lease", "x", "--retry-period", "2", "--", "true"])
    ok(rc == 1 and "not a duration" in out, "a duration without a unit is refused")
    rc, out = run(["--lease", "x", "--bogus", "--", "true"])
    ok(rc == 1 and "unknown option --bogus" in out, "unknown options are refused")
    rc, out = run(["--lease", "x"])
    ok(rc == 1 and "no command" in out, "a missing CMD is refused")
    rc, out = run(["--lease", "x", "--once", "has space", "--", "true"])
    ok(rc == 1 and "KEY must be" in out, "a bad --once KEY is refused")
    rc, out = run(["--lease", "x", "--http", "localhost:80", "--server", "https://127.0.0.1:1",
                   "--ca", CFG["LE_CA"], "--token-file", CFG["LE_USER_TOKEN_FILE"], "--", "true"])
    ok(rc == 1 and "names are not resolved" in out, "--http with a host name is refused")
    rc, out = run(["--lease", "x", "--", "true"], {"KUBERNETES_SERVICE_HOST": "", "KUBECONFIG": ""})
    ok(rc == 1 and "--kubeconfig" in out, "outside a pod without a kubeconfig: the message says what to give")
    rc, out = run(["--help"])
    src = open(os.path.join(TOP, "tools", "le-run", "le-run.c")).read()
    names = re.findall(r'\{"([a-z-]+)", (?:"[A-Z]+"|0), "(LE_RUN_[A-Z_]+)"', src)
    missing = [n for n, v in names if ("--" + n) not in out or ("$" + v) not in out]
    ok(rc == 0 and len(names) >= 18 and not missing and out.count("default:") >= len(names),
       "--help documents all %d options with their variable and default (missing: %s)"
       % (len(names), missing))
    rc, out = run(["--version"])
    ok(rc == 0 and out.startswith("le-run ") and "TLS" in out, "--version: %s" % out.strip())
    kubectl = os.path.join(os.path.dirname(PEER), "kubectl")
    p = subprocess.run([kubectl, "--kubeconfig", CFG["LE_KUBECONFIG"], "-n", "le-test", "apply",
                        "--dry-run=server", "-f", os.path.join(TOP, "examples", "deploy", "le-run-app.yaml")],
                       capture_output=True, text=True, timeout=60)
    ok(p.returncode == 0 and "deployment.apps/my-app created (server dry run)" in p.stdout,
       "examples/deploy/le-run-app.yaml: accepted by kube-apiserver (server-side dry run)%s"
       % ("" if p.returncode == 0 else ": " + p.stderr.strip()[:200]))
    # RBAC: a token without rights fails at once with the 403 message
    e = dict(os.environ)
    p = subprocess.run([BIN, "--server", CFG["LE_SERVER"], "--ca", CFG["LE_CA"], "--token-file",
                        CFG["LE_NORBAC_TOKEN_FILE"], "--namespace", "default", "--lease", "norbac",
                        "--", "true"], capture_output=True, text=True, env=e, timeout=30)
    ok(p.returncode == 1 and "403" in p.stderr and "Fix:" in p.stderr,
       "a token without RBAC: exits 1 with the 403 message and its fix")


def takeover_bound_s():
    # a follower sees the last renew up to one jittered poll late, then polls
    # at the expiry; 1 s for requests and the child's start
    return LEASE_S + 2.2 * RETRY_S + 1.0


def t_chaos():
    lease = "lr-chaos-%s-%d" % (TAG, os.getpid())
    wdir = os.path.join(WORK, "chaos")
    shutil.rmtree(wdir, ignore_errors=True)
    os.makedirs(wdir)
    log, ctl = os.path.join(wdir, "life.log"), os.path.join(wdir, "ctl")
    os.makedirs(ctl)
    w = Witnesses(os.path.join(wdir, "w.sock"), log)
    wenv = {"WITNESS_LOG": log, "WITNESS_SOCK": w.path, "WITNESS_CTL": ctl}
    reps, seq, every = {}, [0], []

    def spawn():
        seq[0] += 1
        ident = "r%d" % seq[0]
        reps[ident] = LeRun(ident, lease, [WITNESS], ["--restart"], wenv)
        every.append(reps[ident])

    for _ in range(3):
        spawn()
    kinds = ["kill9", "term", "apistop", "crash"]

    def stubborn(k):
        return (k // 4) % 2 == 1
    rounds, late, kill_orphans, stop_late = 20, [], [], []
    try:
        first = wait_for(lambda: w.running(), 15)
        ok(bool(first), "a child runs under one of three replicas")
        for i in range(rounds):
            kind = kinds[i % 4]
            # a child reads ctl/stubborn when it starts: the one started in
            # this round serves the next. Rounds 4-7, 12-15: children that
            # ignore SIGTERM (SIGKILL after the grace), one of each kind.
            stub = os.path.join(ctl, "stubborn")
            if stubborn(i + 1):
                open(stub, "w").close()
            elif os.path.exists(stub):
                os.unlink(stub)
            run = wait_for(lambda: w.running(), 15)
            if not run or len(run) != 1:
                ok(False, "round %d: exactly one child group before the round (%s)" % (i, run))
                break
            pgid, g = list(run.items())[0]
            lr = reps.get(g["id"])
            if lr is None:
                ok(False, "round %d: child of unknown replica %s" % (i, g["id"]))
                break
            t0 = mono_ns()
            bound = takeover_bound_s()
            if kind == "kill9":
                lr.kill()
                dead = wait_for(lambda: pgid not in w.running() and not group_alive(pgid), 1.5, 0.01)
                if not dead:
                    kill_orphans.append((i, pgid))
                del reps[g["id"]]
                spawn()
            elif kind == "term":
                lr.p.send_signal(signal.SIGTERM)
                rc = lr.wait(10)
                if rc != 0:
                    ok(False, "round %d: le-run exit status %s after SIGTERM" % (i, rc))
                del reps[g["id"]]
                spawn()
                bound = GRACE_S + 2.2 * RETRY_S + 1.5
            elif kind == "apistop":
                freeze = RENEW_S + 0.8
                api_stop(freeze)
                ended = w.groups()[pgid]["end"]
                limit = t0 + int((RENEW_S + GRACE_S + 0.5) * 1e9)
                if ended is None or ended > limit:
                    stop_late.append((i, None if ended is None else (ended - t0) / 1e9))
                t0 = mono_ns()
            elif kind == "crash":
                os.kill(pgid, signal.SIGUSR1)
                m = wait_for(lambda: re.findall(r"running CMD again in (\d+) ms", lr.text()), 3)
                back = int(m[-1]) / 1000 if m else 30
                bound = back + 1.5
            nxt = wait_for(lambda: [x for x in w.groups().values() if x["start"] > t0], bound + 10)
            took = (min(x["start"] for x in nxt) - t0) / 1e9 if nxt else None
            print("  round %2d %-7s%s: next child after %s s (bound %.1f s)"
                  % (i, kind, " stubborn" if stubborn(i) else "", "%.2f" % took if took else "-", bound),
                  flush=True)
            if took is None or took > bound:
                late.append((i, kind, took, bound))
        gs = w.groups()
        iv = sorted((g["start"], g["end"] if g["end"] else mono_ns(), k, g["id"]) for k, g in gs.items())
        overlaps = [(a, b) for a, b in zip(iv, iv[1:]) if b[0] < a[1]]
        ok(len(iv) >= rounds and not overlaps,
           "%d child groups over %d rounds (kill -9, SIGTERM, API server stopped, crash; "
           "8 of them ignoring SIGTERM): no two overlap%s" % (len(iv), rounds,
           "" if not overlaps else " - OVERLAP %s" % overlaps[:2]))
        gaps = [(b[0] - a[1]) / 1e6 for a, b in zip(iv, iv[1:])]
        if gaps:
            print("  smallest gap between two groups: %.1f ms" % min(gaps))
        ok(not late, "each round a new child runs within the takeover bound (late: %s)" % late)
        kills = sum(r.text().count("grace of 400 ms is over") for r in every)
        ok(kills >= 4, "children that ignore SIGTERM got SIGKILL after the grace (%d times)" % kills)
        ok(not kill_orphans, "kill -9 of le-run: its child and grandchild are dead within 1.5 s "
           "(%d rounds; left running: %s)" % (len([k for k in range(rounds) if k % 4 == 0]), kill_orphans))
        ok(not stop_late, "API server unreachable: the leader's child group is dead within "
           "RenewDeadline + grace (late: %s)" % stop_late)
    finally:
        for r in list(reps.values()):
            r.p.send_signal(signal.SIGTERM)
        rcs = [r.wait(10) for r in reps.values()]
        for r in reps.values():
            r.kill()
        left = wait_for(lambda: not w.running(), 3)
        ok(left and all(rc == 0 for rc in rcs), "SIGTERM to every replica: all exit 0, no child left")
        w.close()


def metric(text, name):
    m = re.search(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(2)) if m else None


def t_http():
    lease = "lr-http-%s-%d" % (TAG, os.getpid())
    if os.path.exists(os.path.join(WORK, "http.log")):
        os.unlink(os.path.join(WORK, "http.log"))
    a = LeRun("http-a", lease, [WITNESS], ["--http", "127.0.0.1:0", "--healthz-timeout", "1s"],
              {"WITNESS_LOG": os.path.join(WORK, "http.log")})
    try:
        pa = http_port(a)
        wait_for(lambda: "started" in a.text(), 10)
        b = LeRun("http-b", lease, [WITNESS], ["--http", "127.0.0.1:0"],
              {"WITNESS_LOG": os.path.join(WORK, "http.log")})
        pb = http_port(b)
        wait_for(lambda: "following http-a" in b.text(), 10)
        sa, ha = http_get(pa, "/healthz")
        sb, hb = http_get(pb, "/healthz")
        ok(sa == 200 and ha == "ok\n" and sb == 200, "/healthz: 200 ok on the leader and the follower")
        la, lb = http_get(pa, "/leader"), http_get(pb, "/leader")
        ok(la[0] == 200 and json.loads(la[1]) == {"name": "http-a"} and lb[0] == 200 and
           json.loads(lb[1]) == {"name": "http-a"}, "/leader: {\"name\": \"http-a\"} from both")
        ma, mb = http_get(pa, "/metrics")[1], http_get(pb, "/metrics")[1]
        ok(metric(ma, "leader_election_master_status") == 1 and
           metric(mb, "leader_election_master_status") == 0 and
           'leader_election_master_status{name="%s"}' % lease in ma and
           metric(ma, "leader_election_slowpath_total") is not None and
           metric(ma, "le_run_child_starts_total") == 1 and metric(mb, "le_run_child_starts_total") == 0 and
           metric(ma, "le_run_child_running") == 1 and
           'le_run_errors_total{name="%s",kind="timeout"}' % lease in ma,
           "/metrics: master_status 1/0, slowpath, child starts, errors by kind")
        ok(http_get(pa, "/nope")[0] == 404, "unknown paths: 404")
        # slowloris: 20 connections dribbling a request, for twice RenewDeadline
        before = metric(http_get(pa, "/metrics")[1], "le_run_api_requests_total")
        socks, end = [], time.monotonic() + 2 * RENEW_S
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", pa))
            s.send(b"GET /metrics HTTP/1.1\r\n")
            socks.append(s)
        probe = []
        while time.monotonic() < end:
            for s in socks:
                try:
                    s.send(b"X")
                except OSError:
                    pass
            t = time.monotonic()
            st, _ = http_get(pa, "/healthz", timeout=3)
            probe.append((st, time.monotonic() - t))
            time.sleep(0.3)
        for s in socks:
            s.close()
        after = metric(http_get(pa, "/metrics")[1], "le_run_api_requests_total")
        renews = (after or 0) - (before or 0)
        ok("stopped leading" not in a.text() and renews >= 2 * RENEW_S / RETRY_S - 1,
           "slowloris (20 dribbling connections for %ds): the leader keeps renewing (%d requests) "
           "and leading" % (2 * RENEW_S, renews))
        worst = max(d for _, d in probe)
        ok(all(st == 200 for st, _ in probe) and worst < 2.5,
           "during the slowloris, /healthz still answers on a new connection (slowest %.2f s)" % worst)
        # API server stopped past LeaseDuration + --healthz-timeout: the leader,
        # which still believes it holds the Lease, turns unhealthy
        pid = apiserver_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(LEASE_S + 1 + 1.0)
            sa, ha = http_get(pa, "/healthz")
            sb, _ = http_get(pb, "/healthz")
        finally:
            os.kill(pid, signal.SIGCONT)
        ok(sa == 500 and "has not renewed" in ha and sb == 200,
           "API server stopped for LeaseDuration + timeout + 1 s: the leader's /healthz is 500, "
           "the follower's 200 (%s %r / %s)" % (sa, ha.strip()[:60], sb))
        back = wait_for(lambda: http_get(pa, "/healthz")[0] == 200, 15)
        ok(back, "after the API server is back, /healthz is 200 again")
        # SIGUSR1 to the leading le-run goes to its child (which exits 3 on
        # it); CMD done without --restart: le-run exits with that status
        # (after the outage leadership may move: signal the replica whose own
        # metrics show its child running, not the holder one of them saw)
        def running():
            for r, port in ((a, pa), (b, pb)):
                try:
                    if metric(http_get(port, "/metrics")[1], "le_run_child_running") == 1:
                        return r
                except OSError:
                    pass
            return None
        wait_for(lambda: running() is not None, 15)
        lead = running() or a
        os.kill(lead.p.pid, signal.SIGUSR1)
        rc = lead.wait(10)
        ok(rc == 3 and "exited with status 3" in lead.text() and
           "crash" in open(os.path.join(WORK, "http.log")).read(),
           "SIGUSR1 is forwarded to CMD; CMD's exit status 3 becomes le-run's (rc %s)" % rc)
        b.p.send_signal(signal.SIGTERM)
        b.wait(10)
    finally:
        a.p.send_signal(signal.SIGTERM)
        a.wait(10)
        a.kill()
        try:
            b.kill()
        except NameError:
            pass


class Postgres:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="le-run-pg-")
        os.chmod(self.dir, 0o755)
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            raise RuntimeError("PostgreSQL is not installed (tools/deps.sh installs postgresql)")
        self.bin = bins[-1]
        self.sock = os.path.join(self.dir, "sock")
        os.makedirs(self.sock)
        self.data = os.path.join(self.dir, "data")
        self.user = None
        if os.getuid() == 0:
            import pwd
            pwd.getpwnam("postgres")  # Debian's package creates it
            self.user = "postgres"
            subprocess.run(["chown", "-R", "postgres", self.dir], check=True)
        self._as(["initdb", "-D", self.data, "--auth=trust", "-U", "postgres", "-E", "UTF8"])
        self._as(["pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-o",
                  "-k %s -c listen_addresses='' -c fsync=off" % self.sock, "start"])

    def _as(self, cmd):
        cmd = [os.path.join(self.bin, cmd[0])] + cmd[1:]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sql(self, q):
        p = subprocess.run([os.path.join(self.bin, "psql"), "-h", self.sock, "-U", "postgres", "-At",
                            "-c", q], capture_output=True, text=True)
        return p.stdout.strip()

    def stop(self):
        try:
            self._as(["pg_ctl", "-D", self.data, "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


MIGRATION = r"""#!/bin/sh
# a non-idempotent migration: CREATE TABLE fails if it ever runs twice
echo "run $LE_IDENTITY $$ $LE_ONCE" >> "$D/runs"
exec "$PGBIN/psql" -h "$PGSOCK" -U postgres -v ON_ERROR_STOP=1 -q <<SQL
BEGIN;
CREATE TABLE t_$T (id int PRIMARY KEY, who text);
INSERT INTO t_$T VALUES (1, '$LE_IDENTITY');
\! if [ -e "$D/hold" ]; then rm "$D/hold"; touch "$D/holding"; sleep 30; else sleep 1; fi
COMMIT;
SQL
"""


def t_once():
    try:
        pg = Postgres()
    except Exception as e:  # noqa: BLE001
        ok(False, "PostgreSQL for --once: %s" % e)
        return
    d = os.path.join(WORK, "once")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    mig = os.path.join(d, "migrate.sh")
    open(mig, "w").write(MIGRATION)
    os.chmod(mig, 0o755)
    lease = "lr-once-%s-%d" % (TAG, os.getpid())
    runs = os.path.join(d, "runs")

    def nruns():
        return len(open(runs).read().splitlines()) if os.path.exists(runs) else 0

    def start(ident, key, table):
        e = {"D": d, "PGBIN": pg.bin, "PGSOCK": pg.sock, "T": table}
        return LeRun(ident, lease, [mig], ["--once", key], e, name="once-%s-%s" % (key, ident))
    try:
        rs = [start("m%d" % i, "v1", "v1") for i in range(3)]
        rcs = [r.wait(30) for r in rs]
        ok(rcs == [0, 0, 0], "--once v1: three replicas started at once all exit 0 (%s)" % rcs)
        ok(nruns() == 1, "--once v1: the migration ran exactly once (%d runs)" % nruns())
        ok(pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 't_v1'") == "1" and
           pg.sql("SELECT count(*) FROM t_v1") == "1", "--once v1: table t_v1 exists once with one row")
        waited = [r for r in rs if "once key already recorded" in r.text() and "): started" not in r.text()]
        ok(len(waited) == 2, "--once v1: two replicas waited and exited on seeing the record")
        t = time.monotonic()
        r4 = start("m3", "v1", "v1")
        rc = r4.wait(15)
        ok(rc == 0 and nruns() == 1 and time.monotonic() - t < 5,
           "--once v1: a fourth replica started later exits 0 at once without running it "
           "(%.1f s)" % (time.monotonic() - t))
        # the runner dies inside the migration's transaction
        open(os.path.join(d, "hold"), "w").close()
        rs = [start("n%d" % i, "v2", "v2") for i in range(3)]
        held = wait_for(lambda: os.path.exists(os.path.join(d, "holding")), 20)
        line = open(runs).read().splitlines()[-1].split() if held else None
        victim = [r for r in rs if line and r.id == line[1]]
        if not (held and victim):
            ok(False, "--once v2: a runner reached the migration's wait")
        else:
            pgid = int(line[2])
            victim[0].kill()
            ok(wait_for(lambda: not group_alive(pgid), 2),
               "--once v2: kill -9 of the runner mid-transaction kills psql and its shell at once")
            rest = [r for r in rs if r is not victim[0]]
            rcs = [r.wait(40) for r in rest]
            ok(rcs == [0, 0], "--once v2: the other two replicas exit 0 (%s)" % rcs)
            ok(nruns() == 3, "--once v2: another replica ran the migration again (%d runs in all)" % nruns())
            ok(pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 't_v2'") == "1" and
               pg.sql("SELECT count(*) FROM t_v2") == "1",
               "--once v2: table t_v2 exists exactly once with one row")
        # a rollback to v1: recorded before, so nothing runs
        n0 = nruns()
        r5 = start("m5", "v1", "v1")
        ok(r5.wait(15) == 0 and nruns() == n0, "--once v1 after v2 (a rollback): exits 0, runs nothing")
        # a failing CMD records nothing and exits with its status
        e = {"WITNESS_EXIT": "7", "WITNESS_EXIT_MS": "100"}
        f = LeRun("f0", lease, [WITNESS], ["--once", "v3"], e, name="once-fail")
        ok(f.wait(20) == 7 and "nothing recorded" in f.text(),
           "--once v3 with a CMD that fails: exits with its status 7, nothing recorded")
        g = LeRun("f1", lease, [WITNESS], ["--once", "v3"], {"WITNESS_EXIT": "0", "WITNESS_EXIT_MS": "100"},
                  name="once-retry")
        ok(g.wait(20) == 0 and "): started" in g.text(), "--once v3 again: runs (the failure left no record) and exits 0")
        lz = json.loads(subprocess.run([PEER, "get", "--kubeconfig", CFG["LE_KUBECONFIG"], "--namespace",
                                        "default", "--name", lease], capture_output=True, text=True).stdout)
        ann = lz["lease"]["metadata"].get("annotations", {})
        ok(ann.get("le.h/once") == "v3 v2 v1", "the record le.h/once lists the done KEYs newest first (%r)"
           % ann.get("le.h/once"))
    finally:
        pg.stop()


def t_emptyroot():
    """The static binary as in a FROM scratch pod: a chroot with le-run, a
    static CMD, the service account's files where a pod has them and
    /dev/null - nothing else. Configured like in a pod: no flags but
    --lease, KUBERNETES_SERVICE_HOST/PORT and POD_NAME in the environment."""
    if not STATIC:
        return
    root = os.path.join(WORK, "root")
    shutil.rmtree(root, ignore_errors=True)
    sa = os.path.join(root, "var", "run", "secrets", "kubernetes.io", "serviceaccount")
    os.makedirs(sa)
    os.makedirs(os.path.join(root, "dev"))
    shutil.copy(BIN, os.path.join(root, "le-run"))
    shutil.copy(WITNESS, os.path.join(root, "witness"))
    shutil.copy(CFG["LE_CA"], os.path.join(sa, "ca.crt"))
    shutil.copy(CFG["LE_USER_TOKEN_FILE"], os.path.join(sa, "token"))
    open(os.path.join(sa, "namespace"), "w").write("default")
    if subprocess.run(["mknod", "-m", "666", os.path.join(root, "dev", "null"), "c", "1", "3"]).returncode:
        ok(False, "empty root: mknod /dev/null")
        return
    listing = sorted(os.path.relpath(os.path.join(a, f), root) for a, _, fs in os.walk(root) for f in fs)
    port = CFG["LE_SERVER"].rsplit(":", 1)[1]
    lease = "lr-root-%d" % os.getpid()
    err = open(os.path.join(WORK, "root.err"), "w")
    p = subprocess.Popen(["/le-run", "--lease", lease, "--", "/witness"], stdout=err, stderr=err,
                         preexec_fn=lambda: os.chroot(root), cwd="/",
                         env={"WITNESS_LOG": "/life.log", "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                              "KUBERNETES_SERVICE_PORT": port, "POD_NAME": "root-0"})
    started = wait_for(lambda: os.path.exists(os.path.join(root, "life.log")), 15)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    err.close()
    text = open(os.path.join(WORK, "root.err")).read()
    ok(started and rc == 0 and "leading the Lease default/%s" % lease in text,
       "empty root, configured as in a pod (%s; no /etc, no libc, no /dev/urandom or /dev/random): "
       "the static le-run reads the service account, leads, runs CMD, releases on SIGTERM (rc %s)"
       % (" ".join(listing), rc))
    if not started:
        print(text)


def t_pid1():
    """le-run as PID 1 of a new PID namespace reaps orphans CMD leaves."""
    if not shutil.which("unshare"):
        ok(False, "pid1: unshare (util-linux) is missing")
        return
    lease = "lr-pid1-%s-%d" % (TAG, os.getpid())
    script = ("for i in 1 2 3 4 5; do (sleep 0.2 &); done; sleep 1.5; "
              "echo zombies=$(cat /proc/[0-9]*/stat | grep -c ') Z '); echo pid1=$(cat /proc/1/comm)")
    p = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", BIN] + CONN + TIMING +
                       ["--lease", lease, "--identity", "pid1", "--", "/bin/sh", "-c", script],
                       capture_output=True, text=True, timeout=30)
    ok(p.returncode == 0 and "zombies=0" in p.stdout and "pid1=le-run" in p.stdout,
       "as PID 1 of a PID namespace: the five orphans CMD left are reaped, CMD's status 0 is "
       "le-run's (%s, rc %d)" % (" ".join(p.stdout.split()), p.returncode))


def t_exitloss():
    """--exit-on-loss: the API server unreachable past RenewDeadline: CMD is
    stopped, then le-run exits 3 instead of contending again."""
    lease = "lr-loss-%s-%d" % (TAG, os.getpid())
    a = LeRun("loss-a", lease, [WITNESS], ["--exit-on-loss"])
    try:
        if not wait_for(lambda: "): started" in a.text(), 10):
            ok(False, "--exit-on-loss: the replica leads")
            return
        api_stop(RENEW_S + 1.0)
        rc = a.wait(10)
        t = a.text()
        ok(rc == 3 and "stopping" in t and t.index("stopping") < t.index("exiting 3"),
           "--exit-on-loss: leadership lost (API server stopped): CMD stopped, then exit 3 (rc %s)" % rc)
    finally:
        a.kill()


SCENARIOS = [("pid1", t_pid1), ("exitloss", t_exitloss), ("options", t_options), ("emptyroot", t_emptyroot), ("http", t_http),
             ("once", t_once), ("chaos", t_chaos)]


def main():
    os.makedirs(WORK, exist_ok=True)
    if not os.path.exists(BIN) or not os.path.exists(WITNESS):
        ok(False, "%s and %s exist (make; make static)" % (BIN, WITNESS))
    else:
        for name, fn in SCENARIOS:
            if ONLY and name not in ONLY:
                continue
            print("== le-run %s: %s (%s)" % (TAG, name, BIN), flush=True)
            t = time.monotonic()
            try:
                fn()
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                ok(False, "%s raised" % name)
            print("   (%s: %.0f s)" % (name, time.monotonic() - t), flush=True)
    print("le-run: %d passed, %d failed" % (npass, nfail))
    sys.exit(1 if nfail else 0)


if __name__ == "__main__":
    main()
