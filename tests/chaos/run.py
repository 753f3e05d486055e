#!/usr/bin/env python3
"""Chaos against the real API server (tools/kube): 3 le.h and 2 client-go
electors on one Lease, each through its own port of build/faultproxy, under
a seeded schedule of network faults (delay, reset, drop, blackhole,
partition), kill -9 (also in loops: each new leader killed in turn),
SIGTERM, SIGSTOP/SIGCONT and API server restarts on the same etcd data.

    tools/kube/up.sh && python3 tests/chaos/run.py [--seconds 240] [--seed N]

Phases, each on a fresh Lease with fresh replicas: "fast" (LeaseDuration
5 s, RenewDeadline 2 s, RetryPeriod 1 s, le.h watching), "default"
(client-go's defaults 15 s / 10 s / 2 s) and, in long runs, "poll" (fast
timing, le.h with poll_only). Each starts with every kind of episode once
in a seeded order, then picks them at random. A "watch-cut" episode drops
only the le.h followers' watch streams (new connections pass) just after
they received an event, kills the leader as soon as it has renewed once
more (an event the followers miss), with the client-go replicas held off,
and measures how long le.h takes to take over after the kill.

What counts as leading, and when a frozen or killed tenure ends:
tests/chaos/check.py. The le.h replica is build/chaos-elector: le.h's
events plus "until", the instant le_is_leader() turns false.

The bound on a leaderless gap, counted once faults end (E: the end of the
last fault window; every process runs and every path to the API server
works again): a le.h follower's request in flight at E ends by E + request
timeout (RenewDeadline / 2), its next poll comes within RetryPeriod x 2.2,
and from the first observation of the last record it takes over at the
expiry, LeaseDuration later: LeaseDuration + RetryPeriod x 2.2 + request
timeout, plus 0.5 s for the takeover write and scheduling on a loaded
machine. A client-go follower polls once more after the expiry (+ 2.2 x
RetryPeriod) and keeps a dead HTTP/2 connection until its health check
(30 s idle + 15 s ping); that bound applies only when no le.h replica runs.

client-go's own safety margin is smaller than le.h's, and its replicas
are configured inside it. Its renew loop counts RenewDeadline from the
start of the renew cycle that follows its last successful reply
(RetryPeriod after it), and with ReleaseOnCancel (le-peer's setting, like
le.h's release) it cancels the leading context only after the release
attempt that follows a failed renew (k8s.io/client-go/tools/leaderelection:
renew() calls release() before Run's cancel). So its leading context can
last until RetryPeriod + RenewDeadline + two request timeouts (the
release's Get and Update) + the reply latency (at most one more) after the
write the followers last saw; and a release that arrives after a takeover
releases the new holder's Lease, because tryRelease checks the holder it
last observed, not the one it has just read (--sabotage client-go-release
shows both). Both are harmless while that sum stays below LeaseDuration,
so client-go gets a request timeout of (LeaseDuration - RetryPeriod -
RenewDeadline - 1 s) / 3: 0.3 s at 5 s / 2 s / 1 s, 0.6 s at 15 s / 10 s /
2 s. No timeout would do at 4 s / 3 s / 1 s, hence the fast timing. A
client-go process is frozen only while nothing else fails and someone
leads (SIGCONT in the middle of a failing renew cycle outlives a takeover
by up to RenewDeadline), a leader for at most LeaseDuration - RetryPeriod
- 1 s. le.h (RenewDeadline counted from the send of its last successful
write, stopped leading reported before any release) gets every fault
without limits.

Output: one line per check and "chaos: N passed, M failed"; logs, the
schedule and every event in build/chaos/<time>-<seed>/."""
import argparse, heapq, itertools, json, os, random, signal, subprocess, sys, threading, time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
from harness import STATE, TOP, Replica, env, mono_ns  # noqa: E402
from proxyctl import Proxy  # noqa: E402
import check  # noqa: E402

S = 10 ** 9
KINDS = ["c", "c", "c", "go", "go"]  # slot -> implementation; slot i = proxy client i


class Timing:
    def __init__(self, name, ld, rd, rp, poll_only=False):
        self.name, self.ld, self.rd, self.rp, self.poll_only = name, ld, rd, rp, poll_only
        self.rt = rd / 2  # le.h's default request timeout
        self.rt_go = int((ld - rp - rd - 1) / 3 * 10) / 10  # client-go's, inside its margin (see the top)
        self.bound_c = ld + 2.2 * rp + self.rt + 0.5
        self.bound_go = ld + 2 * 2.2 * rp + self.rt_go + 45 + 0.5

    def args(self):
        return ("%gs" % self.ld, "%gs" % self.rd, "%gs" % self.rp)

    def __str__(self):
        return "%gs/%gs/%gs%s" % (self.ld, self.rd, self.rp, ", le.h polling" if self.poll_only else "")


FAST = Timing("fast", 5, 2, 1)
DEFAULT = Timing("default", 15, 10, 2)
POLL = Timing("poll", 5, 2, 1, poll_only=True)


def task_states(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                out.append(f.read().rsplit(")", 1)[1].split()[0])
    except OSError:
        pass
    return out


class Proc(Replica):
    """One elector process: le.h (build/chaos-elector) or client-go (le-peer).
    Events as in tests/integration/harness.py, plus marks for SIGSTOP/SIGCONT."""

    def __init__(self, kind, ident, lease, server, cfg, timing, logpath, slot):
        self.kind, self.id, self.events, self.lines = kind, ident, [], []
        self.cond = threading.Condition()
        self.slot, self.frozen, self.gone, self.spawn = slot, False, False, mono_ns()
        self.pending_thaw, self.terminating = None, False
        ld, rd, rp = timing.args()
        if kind == "c":
            cmd = [os.path.join(TOP, "build", "chaos-elector"), "--server", server, "--ca", cfg["LE_CA"],
                   "--token-file", cfg["LE_USER_TOKEN_FILE"]]
            if timing.poll_only:
                cmd += ["--poll-only", "1"]
        else:
            kbin = cfg.get("LE_KUBE_BIN") or os.path.join(TOP, "tools", "kube", "bin")
            cmd = [os.path.join(kbin, "le-peer"), "run", "--rejoin", "--server", server, "--ca", cfg["LE_CA"],
                   "--token-file", cfg["LE_USER_TOKEN_FILE"], "--request-timeout", "%gs" % timing.rt_go]
        cmd += ["--namespace", "default", "--name", lease, "--identity", ident,
                "--lease-duration", ld, "--renew-deadline", rd, "--retry-period", rp]
        self.log = open(logpath, "w")
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def kill(self):  # the tenure ends once the process is reaped
        self.p.kill()
        self.p.wait()
        self.mark("killed")
        self.gone = True

    def freeze(self):
        os.kill(self.p.pid, signal.SIGSTOP)
        end = time.monotonic() + 2  # every thread stopped: only then it cannot act
        while time.monotonic() < end and any(s not in "Tt" for s in task_states(self.p.pid)):
            time.sleep(0.0005)
        self.mark("frozen")
        self.frozen = True

    def thaw(self):
        self.mark("thawed")  # before SIGCONT: it cannot run earlier
        self.frozen = False
        os.kill(self.p.pid, signal.SIGCONT)

    def leading_now(self):
        return not self.gone and not self.frozen and self.leading()


class Phase:
    def __init__(self, run, timing, seconds):
        self.run, self.t, self.seconds = run, timing, seconds
        self.rng = random.Random("%s-%s" % (run.seed, timing.name))
        self.lease = "chaos-%s-%d-%x" % (timing.name, run.seed, self.rng.getrandbits(24))
        self.procs, self.slots = [], [None] * len(KINDS)
        self.windows = []  # [start_ns, end_ns or None, kind]
        self.counts = {}
        self.timers, self.seq = [], itertools.count()
        self.posted, self.lock = [], threading.Lock()
        self.failures, self.notes = [], []
        self.busy = {}  # slot or "partition"/"api" -> until a fault on it is lifted
        self.watchcuts = []
        self.incarnation = {}
        self.last_api = -1e9

    # ---- bookkeeping ------------------------------------------------------
    def log(self, what):
        self.run.log("%-7s %s" % (self.t.name, what))

    def count(self, kind, n=1):
        self.counts[kind] = self.counts.get(kind, 0) + n

    def window(self, kind, start=None):
        w = [start or mono_ns(), None, kind]
        self.windows.append(w)
        return w

    def instant(self, kind):
        t = mono_ns()
        self.windows.append([t, t, kind])

    def close(self, w):
        w[1] = mono_ns()

    def at(self, delay, fn, what):
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self.seq), fn, what))

    def post(self, fn):  # from other threads
        with self.lock:
            self.posted.append(fn)

    def wait(self, secs):
        end = time.monotonic() + secs
        while True:
            with self.lock:
                posted, self.posted = self.posted, []
            for fn in posted:
                fn()
            while self.timers and self.timers[0][0] <= time.monotonic():
                _, _, fn, what = heapq.heappop(self.timers)
                self.log(what)
                fn()
            self.reap()
            now = time.monotonic()
            if now >= end:
                return
            time.sleep(min(0.01, end - now))

    def reap(self):
        for s, p in enumerate(self.slots):
            if p and not p.gone and not p.frozen and not p.terminating and p.p.poll() is not None:
                p.mark("exit")
                p.gone = True
                self.failures.append("%s exited by itself (status %s); see %s" % (p.id, p.p.returncode, p.log.name))
                self.log("%s exited by itself, status %s" % (p.id, p.p.returncode))
                self.at(0.5, lambda s=s: self.spawn(s), "respawn slot %d" % s)

    def proxy(self, cmd):
        r = self.run.proxy.cmd(cmd)
        self.log("proxy %s -> %s" % (cmd, r))
        if not r.startswith("ok"):
            raise AssertionError("faultproxy refused '%s': %s" % (cmd, r))
        return r

    # ---- replicas ---------------------------------------------------------
    def spawn(self, s):
        kind = KINDS[s]
        ident = "ch-%s-%s%d" % (self.t.name, kind, s)
        if self.run.sabotage == "same-identity" and s == 1:
            ident = "ch-%s-%s%d" % (self.t.name, KINDS[0], 0)  # two processes, one identity: both lead
        n = self.incarnation[ident] = self.incarnation.get(ident, 0) + 1
        p = Proc(kind, ident, self.lease, "https://127.0.0.1:%d" % self.run.proxy.ports[s], self.run.cfg, self.t,
                 os.path.join(self.run.dir, "%s.%d.log" % (ident, n)), s)
        p.key = "%s#%d" % (ident, n)
        self.slots[s] = p
        self.procs.append(p)
        self.log("spawn %s" % p.key)

    def running(self, kinds=("c", "go")):
        return [s for s, p in enumerate(self.slots) if p and not p.gone and not p.frozen and p.kind in kinds]

    def leader(self):
        ls = [s for s, p in enumerate(self.slots) if p and p.leading_now()]
        return ls[-1] if ls else None

    def wait_leader(self, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            s = self.leader()
            if s is not None:
                return s
            self.wait(0.05)
        return None

    def active(self):
        return [w for w in self.windows if w[1] is None]

    def settle(self, secs):
        """Wait until no fault is active and every slot runs."""
        end = time.monotonic() + secs
        while time.monotonic() < end and (self.active() or self.busy or len(self.running()) < len(KINDS)):
            self.wait(0.05)
        return not self.active()

    def pick(self, lead_p, kinds=("c", "go"), free=True):
        cands = [s for s in self.running(kinds) if not (free and s in self.busy)]
        lead = self.leader()
        if lead in cands and self.rng.random() < lead_p:
            return lead
        return self.rng.choice(cands) if cands else None

    def kill(self, s, respawn):
        p = self.slots[s]
        was = "leader" if p.leading_now() else "follower"
        p.kill()
        self.instant("kill")
        self.count("kill -9")
        self.log("kill -9 %s (%s); respawn in %.1f s" % (p.key, was, respawn))
        self.busy[s] = True
        self.at(respawn, lambda: (self.busy.pop(s, None), self.spawn(s)), "respawn slot %d" % s)

    def term(self, s, respawn):
        p = self.slots[s]
        w = self.window("sigterm")
        self.count("SIGTERM")
        self.busy[s] = True
        self.log("SIGTERM %s (%s)" % (p.key, "leader" if p.leading_now() else "follower"))
        p.terminating = True  # its exit is the waiter's to record
        p.p.send_signal(signal.SIGTERM)

        def waiter():
            try:
                p.p.wait(30)
                p.mark("exited")
                ok = True
            except subprocess.TimeoutExpired:
                p.kill()
                ok = False
            p.gone = True

            def done():
                self.close(w)
                if not ok:
                    self.failures.append("%s did not exit within 30 s of SIGTERM" % p.key)
                self.at(respawn, lambda: (self.busy.pop(s, None), self.spawn(s)), "respawn slot %d" % s)
            self.post(done)
        threading.Thread(target=waiter, daemon=True).start()

    # ---- episodes -----------------------------------------------------------
    def ep_delay(self):
        t = self.t
        targets = self.running() if self.rng.random() < 0.25 else [self.pick(0.6)]
        targets = [s for s in targets if s is not None and s not in self.busy]
        if not targets:
            return False
        dur = self.rng.uniform(1, 2.5 * t.ld) if t.ld < 10 else self.rng.uniform(2, 1.2 * t.ld)
        w = self.window("delay")
        for s in targets:
            if self.rng.random() < 0.5:
                ms = self.rng.uniform(20, 0.4 * t.rt * 1000)  # slow, requests still succeed
            else:
                ms = self.rng.uniform(0.5 * t.rt * 1000, 1.5 * t.rt * 1000)  # requests time out
            jit = ms * self.rng.uniform(0, 0.3)
            self.proxy("delay %d %d %d" % (s, ms, jit))
            self.busy[s] = True

        def clear():
            for s in targets:
                self.proxy("delay %d 0" % s)
                self.busy.pop(s, None)
            self.close(w)
        self.at(dur, clear, "end delay on %s" % targets)
        return True

    def ep_reset(self):
        for _ in range(self.rng.randint(1, 3)):
            s = self.pick(0.6)
            if s is None:
                return False
            sel = self.rng.choice(["all", "newest", "oldest", "stream", "random"])
            r = self.proxy("reset %d %s" % (s, sel))
            if r != "ok 0":
                self.instant("reset")
            self.wait(self.rng.uniform(0.1, 1.0))
        return True

    def ep_drop(self):
        s = self.pick(0.5)
        if s is None:
            return False
        sel = self.rng.choice(["all", "stream", "oldest", "newest"])
        if self.proxy("drop %d %s" % (s, sel)) != "ok 0":
            self.instant("drop")
        return True

    def ep_blackhole(self):
        t = self.t
        targets = {self.pick(0.6)}
        if self.rng.random() < 0.3:
            targets.add(self.pick(0.0))
        targets = sorted(s for s in targets if s is not None)
        if not targets:
            return False
        dur = self.rng.uniform(0.5, 2 * t.ld) if t.ld < 10 else self.rng.uniform(2, 1.3 * t.ld)
        w = self.window("blackhole")
        for s in targets:
            self.proxy("blackhole %d on" % s)
            self.busy[s] = True

        def clear():
            for s in targets:
                self.proxy("blackhole %d off" % s)
                self.busy.pop(s, None)
            self.close(w)
        self.at(dur, clear, "end blackhole on %s" % targets)
        return True

    def ep_partition(self):
        t = self.t
        if "partition" in self.busy:
            return False
        run = self.running()
        lead = self.leader()
        shape = self.rng.choice(["leader", "leader+1", "followers", "majority", "all"])
        if shape == "leader" and lead is not None:
            cut = [lead]
        elif shape == "leader+1" and lead is not None:
            cut = [lead, self.rng.choice([s for s in run if s != lead] or [lead])]
        elif shape == "followers":
            cut = [s for s in run if s != lead]
        elif shape == "majority":
            cut = self.rng.sample(range(len(KINDS)), 3)
        else:
            cut = list(range(len(KINDS)))
        cut = sorted(set(cut))
        if not cut:
            return False
        dur = self.rng.uniform(0.3, 2.2 * t.ld) if t.ld < 10 else self.rng.uniform(1, 1.4 * t.ld)
        w = self.window("partition")
        self.busy["partition"] = True
        self.proxy("partition %s" % ",".join(map(str, cut)))

        def heal():
            self.proxy("heal")
            self.busy.pop("partition", None)
            self.close(w)
        self.at(dur, heal, "heal partition of %s (%s)" % (cut, shape))
        return True

    def respawn_after(self):
        # mostly after the others could take over: a replica restarted under the identity that holds the
        # Lease takes it back at once, which is no takeover
        return self.rng.uniform(0.3, 0.8) * self.t.ld if self.rng.random() < 0.3 else \
            self.rng.uniform(1, 2) * self.t.ld

    def ep_kill(self):
        s = self.pick(0.8, free=True)
        if s is None:
            return False
        self.kill(s, self.respawn_after())
        return True

    def ep_killloop(self):
        n = self.rng.randint(2, 4)
        self.log("kill loop: the next %d leaders" % n)
        for _ in range(n):
            s = self.wait_leader(3 * self.t.bound_c)
            if s is None or s in self.busy:
                break
            self.kill(s, self.respawn_after())
        return True

    def ep_term(self):
        s = self.pick(0.8)
        if s is None:
            return False
        self.term(s, self.respawn_after())
        return True

    def ep_freeze(self):
        t = self.t
        s = self.pick(0.6)
        if s is None:
            return False
        p = self.slots[s]
        if p.kind == "c":
            dur = self.rng.choice([self.rng.uniform(0.2, 0.5 * t.rd), self.rng.uniform(t.rd, t.ld),
                                   self.rng.uniform(t.ld, 2.5 * t.ld)])
        else:
            # client-go: frozen only while nothing else fails and someone leads
            lead = self.leader()
            if self.active() or lead is None:
                return False
            if lead == s:
                dur = self.rng.uniform(0.2, t.ld - t.rp - 1)
            else:
                dur = self.rng.uniform(0.5, 2.5 * t.ld)
        role = "leader" if p.leading_now() else "follower"
        p.freeze()
        w = self.window("freeze")
        self.count("SIGSTOP")
        self.busy[s] = True
        self.log("SIGSTOP %s (%s) for %.1f s" % (p.key, role, dur))

        def thaw():
            if p.pending_thaw:
                p.pending_thaw = None
                self.close(w)
                p.thaw()
                self.busy.pop(s, None)
        p.pending_thaw = thaw
        self.at(dur, thaw, "SIGCONT %s" % p.key)
        return True

    def ep_apirestart(self):
        t = self.t
        if "api" in self.busy or time.monotonic() - self.last_api < self.run.api_every:
            return False
        self.last_api = time.monotonic()
        self.busy["api"] = True
        away = self.rng.uniform(0, 1.5 * t.ld)
        w = self.window("apirestart")
        self.count("API server restart")
        self.log("API server restart, down for %.1f s more than it takes" % away)

        def restart():
            err, took = None, []
            for script, pause in (("down.sh", away), ("up.sh", 0)):
                t1 = time.monotonic()
                try:  # up.sh runs whatever down.sh did: the server must come back
                    r = subprocess.run([os.path.join(TOP, "tools", "kube", script), STATE], capture_output=True,
                                       text=True, timeout=180)
                    if r.returncode:
                        err = "%s exited %d: %s" % (script, r.returncode, r.stderr.strip()[-500:])
                except subprocess.TimeoutExpired:
                    err = "%s did not finish within 180 s" % script
                took.append(time.monotonic() - t1)
                time.sleep(pause)

            def done():
                self.close(w)
                self.busy.pop("api", None)
                self.log("API server back after %.1f s (down.sh %.1f s, up.sh %.1f s)" % (
                    (w[1] - w[0]) / S, took[0], took[1]))
                if err:
                    self.failures.append("API server restart failed: %s" % err)
            self.post(done)
        threading.Thread(target=restart, daemon=True).start()
        return True

    def ep_watchcut(self):
        """Only the le.h followers' watch streams die (new connections pass),
        the leader is killed, client-go is held off: le.h must take over
        within the bound, counted from the kill."""
        t = self.t
        if t.poll_only or not self.settle(3 * t.ld + 30):
            return False
        lead = self.wait_leader(3 * t.bound_c)
        if lead is None:
            return False
        # followers watching again after earlier faults, their streams a few events old ("stream" picks the
        # connection with the longest run of server bytes since the client last sent: 3 at least)
        self.wait(self.rng.uniform(4, 6) * t.rp)
        lead = self.leader()
        if lead is None:
            return False
        fol = [s for s in self.running(("c",)) if s != lead]
        hold = [s for s in self.running(("go",)) if s != lead]
        hw = None
        if hold:
            hw = self.window("partition")
            self.busy["partition"] = True
            self.proxy("partition %s" % ",".join(map(str, hold)))
        # cut just after the followers got an event (a renew of the leader), so that what they last saw
        # is as fresh as the cut and the takeover time does not depend on where in the renew period
        # the cut fell
        ref = self.stream_bytes(fol[0]) if fol else None
        end = time.monotonic() + 3 * t.rp
        while ref is not None and time.monotonic() < end and self.stream_bytes(fol[0]) == ref:
            time.sleep(0.003)
        cuts = [s for s in fol if self.proxy("drop %d stream" % s) != "ok 0"]
        cut = len(cuts)
        self.instant("drop")
        t_cut = time.monotonic()
        # the leader renews once more, which the followers miss (the proxy discards that event), and dies
        ref = self.dropped_bytes(cuts[0]) if cuts else 0
        end = time.monotonic() + 3 * t.rp
        while cuts and time.monotonic() < end and self.dropped_bytes(cuts[0]) == ref:
            time.sleep(0.003)
        x = time.monotonic() - t_cut
        self.log("watch-cut: %d of %d le.h followers' watches dropped; they missed a renew %.2f s later" %
                 (cut, len(fol), x))
        if self.leader() != lead:
            self.log("watch-cut: leadership moved before the kill; not measured")
            took = None
        else:
            k = mono_ns()
            self.kill(lead, t.bound_c + 3)  # back only after the measurement
            end = time.monotonic() + t.bound_c + 3
            took = None
            while time.monotonic() < end and took is None:
                self.wait(0.05)
                for p in self.procs:
                    if p.kind == "c":
                        st = [e["t"] for e in p.events if e["ev"] == "started" and e["t"] > k]
                        if st:
                            took = (min(st) - k) / S
            self.watchcuts.append({"took": took, "cut": cut, "followers": len(fol), "bound": t.bound_c,
                                   "x": x, "leader_kind": KINDS[lead]})
            self.log("watch-cut: le.h took over %s after the kill (bound %.1f s)" %
                     ("%.2f s" % took if took is not None else "not", t.bound_c))
        if hw:
            self.proxy("heal")
            self.busy.pop("partition", None)
            self.close(hw)
        return True

    def lead_kind(self, want):
        """The slot of a leader of this kind, after killing leaders of the other kind; None."""
        for _ in range(8):
            s = self.wait_leader(3 * self.t.bound_c)
            if s is None:
                return None
            if KINDS[s] == want:
                return s
            self.kill(s, 3 * self.t.ld)
            self.wait(0.5)
        return None

    def ep_freeze_leader(self):
        """--sabotage freeze-client-go, ignore-until: freeze the leader of the wanted
        kind for 2.5 x LeaseDuration."""
        s = self.lead_kind("go" if self.run.sabotage == "freeze-client-go" else "c")
        if s is None:
            return False
        p = self.slots[s]
        p.freeze()
        w = self.window("freeze")
        self.count("SIGSTOP")
        self.log("SIGSTOP %s (leader) for %.1f s" % (p.key, 2.5 * self.t.ld))
        self.wait(2.5 * self.t.ld)
        self.close(w)
        p.thaw()
        return True

    def ep_release_race(self):
        """--sabotage client-go-release: a client-go leader with a 5 s request timeout
        is cut off just after a renew and healed LeaseDuration + 1 s later, while its
        release (after its failed renew) waits on the dead path: the release lands after
        the takeover and frees the new holder's Lease, which another follower takes."""
        s = self.lead_kind("go")
        fol = self.running(("c",))
        if s is None or not fol:
            return False
        self.wait(4 * self.t.rp)
        ref = self.stream_bytes(fol[0])
        end = time.monotonic() + 3 * self.t.rp
        while ref is not None and time.monotonic() < end and self.stream_bytes(fol[0]) == ref:
            time.sleep(0.003)
        w = self.window("partition")
        self.proxy("partition %d" % s)
        self.wait(self.t.ld + 1)
        self.proxy("heal")
        self.close(w)
        return True

    def dropped_bytes(self, s):
        """Bytes the proxy discarded on slot s's dropped connections."""
        return sum(int(l.split()[15]) for l in self.run.proxy.cmd_lines("conns")
                   if int(l.split()[3]) == s and l.split()[5] == "dropped")

    def stream_bytes(self, s):
        """Bytes the server sent on slot s's streaming connection (a watch), or None."""
        best = None
        for l in self.run.proxy.cmd_lines("conns"):
            f = l.split()  # conn ID client C state S age_ms A c2s N s2c N run R
            if int(f[3]) == s and f[5] == "relay" and int(f[13]) >= 3 and (best is None or int(f[13]) > best[1]):
                best = (int(f[11]), int(f[13]))
        return best and best[0]

    def ep_combo(self):
        a, b = self.rng.sample(["delay", "partition", "kill", "freeze", "reset", "drop", "blackhole", "term"], 2)
        self.log("combo: %s + %s" % (a, b))
        ra = getattr(self, "ep_" + a)()
        rb = getattr(self, "ep_" + b)()
        return ra or rb

    EPISODES = [("delay", 12), ("reset", 9), ("drop", 8), ("blackhole", 8), ("partition", 12), ("kill", 11),
                ("killloop", 4), ("term", 8), ("freeze", 12), ("apirestart", 3), ("watchcut", 5), ("combo", 6)]

    # ---- the phase ----------------------------------------------------------
    def go(self):
        t = self.t
        self.run.proxy.cmd("clear")
        self.run.proxy.cmd("mark phase %s lease %s" % (t.name, self.lease))
        self.t0 = mono_ns()
        start = time.monotonic()
        deadline = start + self.seconds
        w = self.window("start", self.t0)
        for s in range(len(KINDS)):
            self.spawn(s)
        self.close(w)
        if self.wait_leader(3 * t.bound_c) is None:
            self.failures.append("no leader within %.1f s of the start" % (3 * t.bound_c))
        names = [n for n, _ in self.EPISODES if not (t.poll_only and n == "watchcut") and
                 (not self.run.only or n in self.run.only)]
        if self.run.sabotage in ("freeze-client-go", "ignore-until", "client-go-release"):
            names = ["release_race" if self.run.sabotage == "client-go-release" else "freeze_leader"]
            self.EPISODES = [(names[0], 1)]
        # every kind once: the watch cut first, the API server restart last (a restarted server's first
        # replies can be 403, RBAC not yet synced, and a follower refused a watch polls for minutes)
        self.names = names
        tour = [n for n in names if n not in ("watchcut", "apirestart")]
        self.rng.shuffle(tour)
        tour = [n for n in ("watchcut",) if n in names] + tour + [n for n in ("apirestart",) if n in names]
        stop_at = deadline - (t.bound_c + 4)
        n = 0
        while time.monotonic() < stop_at:
            if tour:
                name = tour.pop(0)
            else:
                name = self.rng.choices(*zip(*[(e, wt) for e, wt in self.EPISODES if e in names]))[0]
            n += 1
            self.log("episode %d: %s" % (n, name))
            try:
                done = getattr(self, "ep_" + name)()
            except AssertionError as e:
                self.failures.append("episode %s: %s" % (name, e))
                done = False
            if not done:
                self.log("episode %d: %s skipped (not possible now)" % (n, name))
                self.wait(0.2)
                continue
            if self.rng.random() < 0.4:
                quiet = t.bound_c + self.rng.uniform(1, t.ld)  # long enough to measure recovery
            else:
                quiet = self.rng.uniform(0.3, 1.5 * t.ld)
            self.wait(min(quiet, max(0, stop_at - time.monotonic())))
        # lift everything, then one quiet bound
        self.log("last faults lifted; quiet")
        for p in self.slots:
            if p and p.pending_thaw:
                p.pending_thaw()
        while self.timers and time.monotonic() < deadline + 120:
            self.wait(0.05)
        if not self.settle(60):
            self.failures.append("faults still active at the end: %s" % self.active())
        self.wait(t.bound_c + 2)
        self.t_end = mono_ns()
        if self.leader() is None:
            self.failures.append("nobody leads %.1f s after the last fault" % (t.bound_c + 2))
        self.run.proxy.cmd("mark phase %s end" % t.name)
        # stop everything, in parallel: each must exit within 30 s of SIGTERM
        for p in self.slots:
            if p and not p.gone:
                p.p.send_signal(signal.SIGTERM)
        for p in self.slots:
            if p and not p.gone:
                try:
                    p.p.wait(30)
                    p.mark("exited")
                except subprocess.TimeoutExpired:
                    p.kill()
                    self.failures.append("%s did not exit within 30 s of SIGTERM" % p.key)
                p.gone = True
        self.wall = time.monotonic() - start

    # ---- verdicts -----------------------------------------------------------
    def analyse(self):
        t = self.t
        now = mono_ns()
        def evs(p):  # --sabotage ignore-until: le.h judged by its events alone
            if self.run.sabotage == "ignore-until":
                return [e for e in p.events if e["ev"] != "until"]
            return p.events
        pieces = {p.key: check.live_pieces(evs(p), now) for p in self.procs}
        ov = check.overlaps(pieces)
        gs = check.gaps(pieces, self.t0, self.t_end)
        info = [{"kind": p.kind, "spawn": p.spawn, "events": p.events} for p in self.procs]
        bounds = {"c": int(t.bound_c * S), "go": int(t.bound_go * S)}
        verdicts = [v for v in (check.judge_gap(g, self.windows, info, bounds) for g in gs) if v]
        acq = sorted((e["t"], p.id) for p in self.procs for e in p.events if e["ev"] == "started")
        takeovers = sum(1 for (_, a), (_, b) in zip(acq, acq[1:]) if a != b)
        # le.h's stopped event must follow le_is_leader()'s end promptly while it runs
        late = []
        for p in self.procs:
            if p.kind != "c":
                continue
            horizon, frozen_since, fz = None, None, False
            for e in sorted(p.events, key=lambda e: e["t"]):
                if e["ev"] == "until":
                    horizon = e["until"]
                elif e["ev"] == "frozen":
                    fz = True
                elif e["ev"] == "thawed":
                    fz, frozen_since = False, e["t"]
                elif e["ev"] == "stopped" and horizon is not None:
                    lag = (e["t"] - max(horizon, frozen_since or 0)) / S
                    if lag > 0.5:
                        late.append((p.key, lag))
                    horizon = None
        faults = {}
        for f in self.run.proxy.faults():
            if self.t0 <= f["t"] <= self.t_end and (f.get("conns") != [] or "conns" not in f):
                faults[f["fault"]] = faults.get(f["fault"], 0) + 1
        faults.update(self.counts)
        self.faults = faults
        self.takeovers, self.acquisitions = takeovers, len(acq)
        self.overlaps = ov
        self.verdicts = verdicts
        checks = []
        checks.append(("no-overlap", not ov, "%d overlaps%s" % (
            len(ov), "".join("; %s and %s both led for %.1f ms at %.3f s" % (a, b, d / 1e6, (t0 - self.t0) / S)
                             for t0, d, a, b in ov[:5]))))
        c_v = [v for v in verdicts if v["kind"] == "c"]
        bad = [v for v in verdicts if not v["ok"]]
        longest = max(c_v, key=lambda v: v["measured"], default=None)
        go_v = [v for v in verdicts if v["kind"] == "go"]
        msg = "%d gaps measured after faults; longest %.2f s (bound %.2f s = LeaseDuration + 2.2 x RetryPeriod + " \
              "request timeout + 0.5 s)" % (len(c_v), longest["measured"] / S if longest else 0, t.bound_c)
        if go_v:
            msg += "; %d with only client-go able to lead, longest %.2f s (bound %.1f s)" % (
                len(go_v), max(v["measured"] for v in go_v) / S, t.bound_go)
        for v in bad:
            msg += "; MISSED: %.2f s > %.2f s from %.3f s (%s)" % (v["measured"] / S, v["bound"] / S,
                                                                   (v["from"] - self.t0) / S, v["kind"])
        checks.append(("gap-bound", not bad, msg))
        self.longest = longest
        if "watchcut" in self.names:
            wc = [x for x in self.watchcuts if x["cut"]]
            miss = [x for x in wc if x["took"] is None or x["took"] > x["bound"]]
            checks.append(("watch-cut", bool(wc) and not miss, "%d watch cuts (%d streams dropped; %d more "
                           "episodes found no live watch to cut), one renew missed, kill -9: le.h took "
                           "over in %s (bound %.2f s)" % (
                               len(wc), sum(x["cut"] for x in wc), len(self.watchcuts) - len(wc),
                               ", ".join("%.2f s" % x["took"] if x["took"] is not None else "never" for x in wc) or "-",
                               t.bound_c)))
        checks.append(("stopped-events", not late, "le.h reported stopped within 0.5 s of le_is_leader() "
                       "turning false%s" % "".join("; %s %.2f s late" % x for x in late[:5])))
        checks.append(("replicas", not self.failures, "; ".join(self.failures[:6]) or
                       "no unexpected exit, every SIGTERM honoured, a leader at the end"))
        self.checks = checks
        with open(os.path.join(self.run.dir, "events-%s.jsonl" % t.name), "w") as f:
            for p in self.procs:
                for e in sorted(p.events, key=lambda e: e["t"]):
                    f.write(json.dumps(dict(e, key=p.key)) + "\n")
            for w in self.windows:
                f.write(json.dumps({"window": w[2], "start": w[0], "end": w[1]}) + "\n")
        return checks


class Run:
    def __init__(self, args):
        self.seed = args.seed
        self.only = [e for e in args.episodes.split(",") if e]
        self.sabotage = args.sabotage
        self.cfg = env()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.dir = os.path.join(TOP, "build", "chaos", "%s-%d" % (stamp, self.seed))
        os.makedirs(self.dir, exist_ok=True)
        self.schedule = open(os.path.join(self.dir, "schedule.log"), "w")
        self.t0 = time.monotonic()
        self.api_every = 150 if args.seconds < 600 else 240
        up = self.cfg["LE_SERVER"].split("://", 1)[1].rstrip("/")
        self.proxy = Proxy(os.path.join(TOP, "build", "faultproxy"), up, len(KINDS), self.dir, seed=self.seed)

    def log(self, what):
        line = "%8.3f %s" % (time.monotonic() - self.t0, what)
        self.schedule.write(line + "\n")
        self.schedule.flush()
        if os.environ.get("CHAOS_VERBOSE"):
            print(line, flush=True)


def plan(seconds, want):
    """Phases and their shares of the run."""
    if want:
        table = {"fast": FAST, "default": DEFAULT, "poll": POLL}
        ps = [table[w] for w in want.split(",")]
        return [(p, seconds / len(ps)) for p in ps]
    if seconds < 600:
        return [(FAST, seconds * 0.62), (DEFAULT, seconds * 0.38)]
    return [(FAST, seconds * 0.5), (DEFAULT, seconds * 0.3), (POLL, seconds * 0.2)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=240, help="whole run (default 240)")
    ap.add_argument("--seed", type=int, default=None, help="schedule seed (default: from the clock, printed)")
    ap.add_argument("--phases", default="", help="comma list of fast, default, poll (default: by --seconds)")
    ap.add_argument("--episodes", default="", help="comma list: only these kinds of episode (%s)" %
                    ", ".join(n for n, _ in Phase.EPISODES))
    ap.add_argument("--sabotage", default="", choices=["", "same-identity", "freeze-client-go", "ignore-until",
                                                        "client-go-release"],
                    help="break a rule on purpose; the overlap check must then fail: two processes with one "
                    "identity; a client-go leader frozen past its lease; le.h judged without \"until\" "
                    "(a frozen le.h leader's stopped event only comes after SIGCONT); client-go with a request "
                    "timeout of RenewDeadline / 2, outside its margin (default timing only)")
    args = ap.parse_args()
    if args.sabotage == "client-go-release":
        args.phases = "default"
        DEFAULT.rt_go = DEFAULT.rd / 2
    if args.seed is None:
        args.seed = int(time.time()) % 1000000
    run = Run(args)
    print("chaos: seed %d, %.0f s, logs in %s" % (args.seed, args.seconds, os.path.relpath(run.dir, TOP)), flush=True)
    passed = failed = 0
    t0 = time.monotonic()
    totals = {"faults": {}, "takeovers": 0, "overlaps": 0}
    try:
        for timing, secs in plan(args.seconds, args.phases):
            ph = Phase(run, timing, secs)
            try:
                ph.go()
                checks = ph.analyse()
            except Exception as e:
                traceback.print_exc()
                checks = [("run", False, "%s: %s" % (type(e).__name__, e))]
                for p in ph.procs:
                    if not p.gone:
                        p.thaw() if p.frozen else None
                        p.kill()
            for name, ok, msg in checks:
                print("chaos: %-7s %-15s %s  %s" % (timing.name, name, "ok  " if ok else "FAIL", msg), flush=True)
                passed, failed = passed + bool(ok), failed + (not ok)
            if hasattr(ph, "faults"):
                n = sum(ph.faults.values())
                print("chaos: %-7s summary         %s, %.0f s: %d faults (%s), %d acquisitions, %d takeovers, "
                      "%d overlaps" % (timing.name, timing, ph.wall, n,
                                       ", ".join("%s %d" % kv for kv in sorted(ph.faults.items())),
                                       ph.acquisitions, ph.takeovers, len(ph.overlaps)), flush=True)
                for k, v in ph.faults.items():
                    totals["faults"][k] = totals["faults"].get(k, 0) + v
                totals["takeovers"] += ph.takeovers
                totals["overlaps"] += len(ph.overlaps)
    finally:
        run.proxy.stop()
    n = sum(totals["faults"].values())
    print("chaos: total %.0f s, seed %d: %d faults injected (%s), %d takeovers, %d overlaps" % (
        time.monotonic() - t0, args.seed, n, ", ".join("%s %d" % kv for kv in sorted(totals["faults"].items())),
        totals["takeovers"], totals["overlaps"]))
    print("chaos: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
