"""Integration harness: replicas of le.h and of client-go's elector as
processes against the local kube-apiserver, their leadership events as JSON
lines stamped with CLOCK_MONOTONIC (one machine, so stamps compare), and a
checker for overlapping leadership."""
import json, os, signal, subprocess, threading, time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STATE = os.environ.get("LE_STATE_DIR", os.path.join(TOP, "tools", "kube", "state"))


def env():
    e = {}
    for line in open(os.path.join(STATE, "env")):
        k, _, v = line.strip().partition("=")
        if k:
            e[k] = v
    return e


def mono_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class Replica:
    """One elector process; its JSON lines land in self.events."""

    def __init__(self, kind, ident, lease, cfg, timing=("15s", "10s", "2s"), extra=()):
        self.kind, self.id, self.events, self.lines = kind, ident, [], []
        self.cond = threading.Condition()
        ld, rd, rp = timing
        if kind == "c":
            cmd = [os.path.join(TOP, "build", "le-elector"), "--server", cfg["LE_SERVER"],
                   "--ca", cfg["LE_CA"], "--token-file", cfg["LE_USER_TOKEN_FILE"]]
        else:
            # client-go of the server's own release (tools/kube/versions.sh)
            kbin = cfg.get("LE_KUBE_BIN") or os.path.join(TOP, "tools", "kube", "bin")
            cmd = [os.path.join(kbin, "le-peer"), "run", "--rejoin",
                   "--server", cfg["LE_SERVER"], "--ca", cfg["LE_CA"],
                   "--token-file", cfg["LE_USER_TOKEN_FILE"]]
        cmd += ["--namespace", "default", "--name", lease, "--identity", ident,
                "--lease-duration", ld, "--renew-deadline", rd, "--retry-period", rp, *extra]
        self.log = open(os.path.join(TOP, "build", "it-%s.log" % ident), "w")
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.log.write(line)
            self.log.flush()
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()

    def mark(self, ev):
        with self.cond:
            self.events.append({"t": mono_ns(), "id": self.id, "ev": ev})
            self.cond.notify_all()

    def kill(self):  # kill -9: leadership ends now, nothing is released
        self.p.kill()
        self.mark("killed")
        self.p.wait()

    def term(self):  # graceful: SIGTERM, the elector releases the Lease
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not exit within 30 s of SIGTERM" % self.id)
        self.mark("exited")

    def leading(self):
        state = False
        with self.cond:
            for ev in self.events:
                if ev["ev"] == "started":
                    state = True
                elif ev["ev"] in ("stopped", "killed", "exited", "exit"):
                    state = False
        return state


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = pred()
        if r:
            return r
        time.sleep(0.02)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def leader(replicas):
    ls = [r for r in replicas if r.leading()]
    return ls[0] if len(ls) == 1 else None


def intervals(replicas):
    """Leadership intervals (start_ns, end_ns, id) from every replica's events."""
    out = []
    for r in replicas:
        start = None
        with r.cond:
            evs = sorted(r.events, key=lambda e: e["t"])
        for ev in evs:
            if ev["ev"] == "started" and start is None:
                start = ev["t"]
            elif ev["ev"] in ("stopped", "killed", "exited", "exit") and start is not None:
                out.append((start, ev["t"], r.id))
                start = None
        if start is not None:
            out.append((start, mono_ns(), r.id))
    return sorted(out)


def check_no_overlap(replicas):
    iv = intervals(replicas)
    for a, b in zip(iv, iv[1:]):
        if b[0] < a[1]:
            raise AssertionError("%s and %s both led for %.1f ms (from %d)" %
                                 (a[2], b[2], (a[1] - b[0]) / 1e6, b[0]))
    return iv


def first_start_after(replicas, t_ns, exclude=None):
    best = None
    for r in replicas:
        if r is exclude:
            continue
        with r.cond:
            for ev in r.events:
                if ev["ev"] == "started" and ev["t"] > t_ns and (best is None or ev["t"] < best[0]):
                    best = (ev["t"], r)
    return best
