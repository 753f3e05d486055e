#!/usr/bin/env python3
"""Hostile servers: small TLS servers on loopback that misbehave on purpose,
each against a real build/le-elector (le.h's bundled transport).

    python3 tests/hostile/run.py [--only CASE[,CASE]] [--jobs 3] [--list]
                                 [--elector build/le-elector]

Each case is a fake API server that plays a Lease store only as far as the
case needs (tests/hostile/server.py), with a test CA made here by openssl
(build/hostile/pki). le-elector runs with LeaseDuration 4 s, RenewDeadline
3 s, RetryPeriod 1 s (poll_only: the request connection is the one under
attack) for a few seconds, then gets SIGTERM. Every case checks:

- a clear error naming the cause (a pattern per case) within RenewDeadline
  of the server's first misbehaviour;
- bounded memory (VmHWM of /proc/PID/status) and no busy loop (utime +
  stime of /proc/PID/stat over the run);
- never leadership without a successful write: every leading interval of
  le-elector (its CLOCK_MONOTONIC event stamps) is covered by writes the
  server really answered 200/201 with our holder, each covering the
  RenewDeadline after the server received it;
- never a take-over before the other holder's lease could have expired;
- every leader it reports comes from a genuine reply (not a decoy, an early
  or a stale one);
- a clean exit after SIGTERM, within RenewDeadline;
plus what the case itself is about. Prints PASS/FAIL per case, the reasons
and le-elector's errors for a failure, and "hostile: N passed, M failed"."""
import argparse
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import server as srv  # noqa: E402
from cases import CASES  # noqa: E402

LEASE_S, RENEW_S, RETRY_S = 4, 3, 1
IDENTITY = srv.IDENTITY
MEM_LIMIT_KB = 16 * 1024      # le-elector's peak RSS; a leader is ~3 MB
CPU_LIMIT = 0.10              # of the wall time of the run
POLL_ONLY = ["--poll-only", "1"]  # the request connection is the one under attack
COVER_TOL = 0.25              # s: event lines are stamped when printed
ERR_TOL = 0.30                # s: the same, for "within RenewDeadline"


def sh(cmd, cwd):
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    """A test CA and server certificates: good (IP 127.0.0.1), one from
    another CA, one for another name, one expired. No key leaves d."""
    os.makedirs(d, exist_ok=True)
    if os.path.exists(os.path.join(d, "done")):
        return
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "other-ca"):
        sh(["openssl", "req", "-x509"] + ec + ["-keyout", ca + ".key", "-out", ca + ".crt",
            "-subj", "/CN=le-hostile-" + ca, "-days", "2",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=c\n[c]\ndir=.\ndatabase=index.txt\nnew_certs_dir=.\n"
                "serial=serial\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\n"
                "[p]\ncommonName=supplied\n")
    for name, ca, san, dates in [("good", "ca", "IP:127.0.0.1", None),
                                 ("wrong-ca", "other-ca", "IP:127.0.0.1", None),
                                 ("wrong-name", "ca", "IP:127.0.0.2,DNS:not-the-api-server", None),
                                 ("expired", "ca", "IP:127.0.0.1", ("20200101000000Z", "20200102000000Z"))]:
        sh(["openssl", "req"] + ec + ["-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/CN=le-hostile-" + name, "-addext", "subjectAltName=" + san,
            "-addext", "extendedKeyUsage=serverAuth"], d)
        if dates:
            open(os.path.join(d, "index.txt"), "w").close()
            with open(os.path.join(d, "serial"), "w") as f:
                f.write("1000\n")
            sh(["openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".crt", "-keyfile",
                ca + ".key", "-in", name + ".csr", "-out", name + ".crt", "-startdate", dates[0],
                "-enddate", dates[1], "-notext"], d)
        else:
            sh(["openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey",
                ca + ".key", "-CAcreateserial", "-out", name + ".crt", "-days", "2",
                "-copy_extensions", "copy"], d)
    with open(os.path.join(d, "token"), "w") as f:
        f.write("fake-hostile-token\n")
    open(os.path.join(d, "done"), "w").close()


def proc_stats(pid):
    """(VmHWM kB, utime + stime s) of a live process."""
    hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return hwm, (int(fields[11]) + int(fields[12])) / tick


def intervals(events, t_end):
    out, start = [], None
    for e in events:
        if e["ev"] == "started" and start is None:
            start = e["t"]
        elif e["ev"] == "stopped" and start is not None:
            out.append((start, e["t"]))
            start = None
    if start is not None:
        out.append((start, t_end))
    return out


def covered(iv, accepted):
    """Is [s, e - COVER_TOL] inside the union of [r, r + RenewDeadline]?"""
    s, e = iv
    spans = sorted((r, r + RENEW_S) for r in accepted)
    reach = None
    for a, b in spans:
        if reach is None:
            if a <= s <= b:
                reach = b
        elif a <= reach:
            reach = max(reach, b)
    return reach is not None and reach >= e - COVER_TOL


def reported_as(holder):
    """How le.h may show a holder in its events: itself, control bytes as
    '?', and a long one as its first bytes and '...'."""
    clean = "".join("?" if ord(c) < 0x20 or c == "\x7f" else c for c in holder)
    return {holder, clean}


def leader_ok(x, holders):
    for h in holders:
        forms = reported_as(h)
        if x in forms:
            return True
        if x.endswith("...") and any(f.startswith(x[:-3]) and len(f.encode()) > 255 for f in forms):
            return True
    return False


def run_case(case, work, elector, pki):
    """Runs one case; returns (ok, lines of explanation, summary)."""
    os.makedirs(work, exist_ok=True)
    s = srv.HostileServer(case, pki)
    s.start()
    args = [elector, "--server", "https://127.0.0.1:%d" % s.port, "--ca", os.path.join(pki, "ca.crt"),
            "--token-file", os.path.join(pki, "token"), "--namespace", "default", "--name", srv.LEASE,
            "--identity", IDENTITY, "--lease-duration", "%ds" % LEASE_S, "--renew-deadline",
            "%ds" % RENEW_S, "--retry-period", "%ds" % RETRY_S] + POLL_ONLY
    out = open(os.path.join(work, "elector.out"), "wb")
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=out)
    events, lock = [], threading.Lock()

    def reader():
        for raw in p.stdout:
            out.write(raw)
            try:
                e = json.loads(raw)
                e["t"] = e["t"] / 1e9
            except ValueError:
                continue
            with lock:
                events.append(e)
    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    hwm, cpu, stats_ok = 0, 0.0, True
    deadline = t0 + case.duration
    while time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.2)
        try:
            hwm = max(hwm, proc_stats(p.pid)[0])
        except OSError:
            pass
    crashed = p.poll() is not None
    try:
        hwm, cpu = proc_stats(p.pid)
    except OSError:
        stats_ok = False
    wall = time.monotonic() - t0
    t_term = time.monotonic()
    if not crashed:
        p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=RENEW_S + 2)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    t_exit = time.monotonic()
    rt.join(timeout=2)
    s.stop()
    out.close()
    log = s.log
    with open(os.path.join(work, "server.json"), "w") as f:
        json.dump(log.dump(), f, indent=1, default=str)

    why = []
    errors = [e for e in events if e["ev"] == "error"]
    # exit
    if crashed:
        why.append("le-elector exited by itself before SIGTERM (rc %s)" % p.returncode)
    elif rc != 0 or not any(e["ev"] == "exit" for e in events):
        why.append("le-elector did not exit cleanly after SIGTERM (rc %s)" % rc)
    elif t_exit - t_term > RENEW_S + 0.5:
        why.append("le-elector took %.1f s to exit after SIGTERM (> RenewDeadline)" % (t_exit - t_term))
    # memory, CPU
    if stats_ok and hwm > MEM_LIMIT_KB:
        why.append("VmHWM %d kB > %d kB" % (hwm, MEM_LIMIT_KB))
    if stats_ok and cpu > CPU_LIMIT * wall:
        why.append("CPU %.2f s over %.1f s of run (> %d%%): a busy loop" % (cpu, wall, CPU_LIMIT * 100))
    # leadership only from writes the server accepted
    acc = [w["t"] for w in log.accepted]
    for iv in intervals(events, t_exit):
        if not covered(iv, acc):
            why.append("led from %.2f to %.2f s without a write the server accepted within "
                       "RenewDeadline before (accepted at: %s)" % (
                           iv[0] - t0, iv[1] - t0, ", ".join("%.2f" % (a - t0) for a in acc) or "none"))
    for v in log.violations:
        why.append("server: " + v)
    # every reported leader from a genuine reply sent before it
    for e in events:
        if e["ev"] != "new_leader":
            continue
        holders = [h for (t, h) in log.genuine if t <= e["t"] + 0.05]
        if not leader_ok(e["leader"], holders):
            why.append("reported leader %r at %.2f s, which no genuine reply named (decoys: %s)" % (
                e["leader"], e["t"] - t0, sorted({h for _, h in log.decoys})[:3]))
    # the error naming the cause, in time
    if case.error:
        start = log.hostile_at
        good = [e for e in errors if re.search(case.error, e["err"]) and
                not (case.not_error and re.search(case.not_error, e["err"]))]
        if start is None:
            why.append("the server never misbehaved (case broken?)")
        elif not good:
            why.append("no error matching /%s/%s (errors seen: %s)" % (
                case.error, " without /%s/" % case.not_error if case.not_error else "",
                "; ".join(sorted({e["err"][:160] for e in errors})[:4]) or "none"))
        elif good[0]["t"] - start > RENEW_S + ERR_TOL:
            why.append("the error came %.2f s after the misbehaviour (> RenewDeadline)" % (good[0]["t"] - start))
    elif errors and not case.errors_ok:
        why.append("errors on a well-behaved server: %s" % "; ".join(e["err"][:120] for e in errors[:3]))
    # the case's own checks
    why += case.check(events, log, t0, t_exit)
    led = sum(b - a for a, b in intervals(events, t_exit))
    summary = "led %.1f s, %d writes accepted, %d requests, cpu %.2f s, VmHWM %.1f MB" % (
        led, len(acc), len(log.requests), cpu, hwm / 1024)
    return not why, why, summary, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="")
    ap.add_argument("--jobs", type=int, default=3)
    ap.add_argument("--elector", default=os.path.join(ROOT, "build", "le-elector"))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "hostile"))
    ap.add_argument("--no-poll-only", action="store_true",
                    help="for a le-elector from before poll_only (to check the suite against an older le.h)")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # a single case, in this process: JSON out
    a = ap.parse_args()
    pki = os.path.join(a.work, "pki")
    if a.no_poll_only:
        POLL_ONLY[:] = []
    if a.one:
        case = [c for c in CASES if c.name == a.one][0]
        try:
            r = run_case(case, os.path.join(a.work, case.name), a.elector, pki)
        except Exception as x:  # a broken case is a failure, not a crash of the suite
            import traceback
            r = (False, ["the case raised %r: %s" % (x, traceback.format_exc().splitlines()[-3:])], "", [])
        print(json.dumps(r))
        return 0
    cases = [c for c in CASES if not a.only or c.name in a.only.split(",")]
    if a.list:
        for c in CASES:
            print("%-22s %s" % (c.name, c.about))
        return 0
    if not os.access(a.elector, os.X_OK):
        print("hostile: %s is missing (make build/le-elector)" % a.elector)
        print("hostile: 0 passed, %d failed" % len(cases))
        return 1
    make_pki(pki)
    t_start = time.monotonic()
    results = {}

    def one(c):  # each case in a process of its own: no GIL shared with another's floods
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", c.name, "--elector",
                            a.elector, "--work", a.work] + (["--no-poll-only"] if a.no_poll_only else []),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=c.duration + 60)
        try:
            return json.loads(p.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            return (False, ["the case's process failed: " + p.stderr.decode()[-400:]], "", [])
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = {ex.submit(one, c): c for c in cases}
        for f in concurrent.futures.as_completed(futs):
            c = futs[f]
            try:
                results[c.name] = f.result()
            except Exception as x:
                results[c.name] = (False, ["the case raised %r" % x], "", [])
    passed = 0
    for c in cases:
        ok, why, summary, errors = results[c.name]
        print("%s %-22s %s" % ("PASS" if ok else "FAIL", c.name, summary))
        if ok:
            passed += 1
            continue
        for w in why:
            print("    - " + w)
        for e in errors[:3]:
            print("    le-elector error: " + e["err"][:300])
        print("    logs: %s/" % os.path.join(a.work, c.name))
    print("hostile: %d cases in %.0f s" % (len(cases), time.monotonic() - t_start))
    print("hostile: %d passed, %d failed" % (passed, len(cases) - passed))
    return 0 if passed == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
