#!/usr/bin/env python3
"""make demo: three replicas of examples/periodic.c elect a leader through a
real kube-apiserver running on this machine. The leader is killed (-9) and
another takes over once the lease expires; then the new leader is stopped
gracefully and hands over at once. Every time shown is measured."""
import os, signal, subprocess, sys, threading, time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
STATE = os.path.join(TOP, "build", "demo-kube")
PORT = os.environ.get("LE_DEMO_PORT", "16480")
LEASE = "periodic-demo"
BIN = os.path.join(TOP, "build", "https", "periodic")
tty = sys.stdout.isatty()
COLORS = {"pod-a": "\033[36m", "pod-b": "\033[35m", "pod-c": "\033[33m"}
t_start = time.monotonic()


def c(text, code):
    return "\033[%sm%s\033[0m" % (code, text) if tty else text


def say(msg):
    print(c("%6.1fs  ==> %s" % (time.monotonic() - t_start, msg), "1"), flush=True)


class Pod:
    def __init__(self, name, env):
        self.name, self.lines, self.cond = name, [], threading.Condition()
        cmd = [BIN, "--server", env["LE_SERVER"], "--ca", env["LE_CA"],
               "--token-file", env["LE_USER_TOKEN_FILE"], "--ns", "default",
               "--name", LEASE, "--id", name, "--every", "1000"]
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  bufsize=1)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.p.stdout:
            line = line.rstrip("\n")
            stamp = time.monotonic()
            col = COLORS.get(self.name, "") if tty else ""
            print("%6.1fs      %s%s%s" % (stamp - t_start, col, line, "\033[0m" if tty else ""), flush=True)
            with self.cond:
                self.lines.append((stamp, line))
                self.cond.notify_all()

    def leading_since(self, after):
        """Time of the last 'leading' line after `after` if still leading."""
        last = None
        with self.cond:
            for t, l in self.lines:
                if t < after:
                    continue
                if "] leading (term" in l:
                    last = (t, l)
                elif "] stopped leading" in l:
                    last = None
        return last


def wait_leader(pods, after, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for p in pods:
            if p.p.poll() is None:
                got = p.leading_since(after)
                if got:
                    return p, got
        time.sleep(0.01)
    raise SystemExit("demo: no leader within %d s" % timeout)


def main():
    print(c("le.h demo: one of three replicas runs a periodic job; kill it, and another takes over", "1"))
    say("starting a local kube-apiserver with etcd, built from Kubernetes' Go modules (tools/kube)")
    t0 = time.monotonic()
    up = subprocess.run([os.path.join(TOP, "tools", "kube", "up.sh"), STATE], env=dict(os.environ, LE_KUBE_PORT=PORT),
                        capture_output=True, text=True)
    if up.returncode:
        sys.stderr.write(up.stderr)
        raise SystemExit("demo: the API server did not start")
    env = {}
    for line in open(os.path.join(STATE, "env")):
        k, _, v = line.strip().partition("=")
        env[k] = v
    say("API server ready in %.1f s at %s" % (time.monotonic() - t0, env["LE_SERVER"]))
    # a fresh Lease each time (the API server keeps its etcd data between runs)
    subprocess.run([os.path.join(TOP, "tools", "kube", "bin", "kubectl"), "--kubeconfig", env["LE_KUBECONFIG"],
                    "-n", "default", "delete", "lease", LEASE, "--ignore-not-found"], capture_output=True)
    pods = []
    try:
        say("starting pod-a, pod-b, pod-c: examples/periodic, Lease default/%s, client-go's timing "
            "(LeaseDuration 15 s, RenewDeadline 10 s, RetryPeriod 2 s)" % LEASE)
        for n in ("pod-a", "pod-b", "pod-c"):
            pods.append(Pod(n, env))
        leader, (t, _) = wait_leader(pods, 0, 30)
        say("%s leads; only it does the work, once a second" % leader.name)
        time.sleep(4.5)

        say("kill -9 %s: it cannot release the Lease, so the others must wait for it to expire "
            "(LeaseDuration after they last saw it renewed)" % leader.name)
        t_kill = time.monotonic()
        leader.p.kill()
        leader.p.wait()
        new, (t_new, line) = wait_leader(pods, t_kill, 40)
        say("%s took over %.1f s after the kill" % (new.name, t_new - t_kill))
        time.sleep(4.5)

        say("SIGTERM %s (a rolling update): it stops its work, releases the Lease, and exits" % new.name)
        t_term = time.monotonic()
        new.p.send_signal(signal.SIGTERM)
        third, (t_third, _) = wait_leader([p for p in pods if p is not new], t_term, 20)
        new.p.wait(20)
        say("%s took over %s after the SIGTERM: the followers watch the Lease, so the release reaches "
            "them at once" % (third.name, "%.0f ms" % ((t_third - t_term) * 1000) if t_third - t_term < 1
                              else "%.1f s" % (t_third - t_term)))
        time.sleep(3.5)
        peer = subprocess.run([os.path.join(TOP, "tools", "kube", "bin", "le-peer"), "get", "--kubeconfig",
                               env["LE_KUBECONFIG"], "--namespace", "default", "--name", LEASE],
                              capture_output=True, text=True)
        if peer.returncode == 0:
            import json
            spec = json.loads(peer.stdout)["lease"]["spec"]
            say("the Lease as client-go reads it: holderIdentity=%s leaseTransitions=%s renewTime=%s" %
                (spec.get("holderIdentity"), spec.get("leaseTransitions"), spec.get("renewTime")))
        # leadership intervals as the replicas reported them (the killed one
        # ends at the kill), checked for overlap
        iv = []
        for p in pods:
            start = None
            for t, l in p.lines:
                if "] leading (term" in l:
                    start = t
                elif "] stopped leading" in l and start is not None:
                    iv.append((start, t, p.name))
                    start = None
            if start is not None:
                iv.append((start, t_kill if p is leader else time.monotonic(), p.name))
        iv.sort()
        overlap = [(a, b) for a, b in zip(iv, iv[1:]) if b[0] < a[1]]
        say("summary: takeover after a crash %.1f s, handover on shutdown %.3f s; %d leadership "
            "intervals, %s" % (t_new - t_kill, t_third - t_term, len(iv),
                               "none overlapping" if not overlap else "OVERLAP: %s" % overlap))
    finally:
        for p in pods:
            if p.p.poll() is None:
                p.p.send_signal(signal.SIGTERM)
        for p in pods:
            try:
                p.p.wait(15)
            except subprocess.TimeoutExpired:
                p.p.kill()
        subprocess.run([os.path.join(TOP, "tools", "kube", "down.sh"), STATE], capture_output=True)
        say("cleaned up: replicas and API server stopped")


if __name__ == "__main__":
    main()
