#!/usr/bin/env python3
"""Checks each fault of build/faultproxy does what it says, against a local
echo upstream (this tests the proxy, not le.h: no API server needed).

    python3 tests/chaos/proxy_test.py [build/faultproxy]

The upstream echoes what it reads; a connection that sends "STREAM\\n" gets a
line every 20 ms instead (like a watch)."""
import json, os, shutil, socket, sys, tempfile, threading, time, traceback

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
from proxyctl import Proxy  # noqa: E402


class Upstream:
    def __init__(self):
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                if d.startswith(b"STREAM"):
                    i = 0
                    while True:
                        s.sendall(b"event %d\n" % i)
                        i += 1
                        time.sleep(0.02)
                s.sendall(d)
        except OSError:
            pass
        finally:
            s.close()

    def close(self):
        self.ls.shutdown(socket.SHUT_RDWR)  # wakes the accept() in progress: the port is closed
        self.ls.close()


def conn(port, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def echo(s, data=b"ping\n", timeout=2.0):
    s.settimeout(timeout)
    t = time.monotonic()
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        d = s.recv(4096)
        if not d:
            raise AssertionError("EOF while waiting for the echo")
        got += d
    assert got == data, got
    return time.monotonic() - t


def silent(s, secs):
    """True if nothing (not even EOF) arrives on s for secs."""
    s.settimeout(secs)
    try:
        d = s.recv(4096)
    except socket.timeout:
        return True
    raise AssertionError("expected silence, got %r" % d)


tests = []


def test(fn):
    tests.append(fn)
    return fn


@test
def relay(px, up):
    for port in px.ports:
        s = conn(port)
        d = echo(s, b"x" * 200000)  # larger than one read, through bounded buffers
        s.close()
        assert d < 1.0, d
    return "echo through every port, 200 kB each"


@test
def delay(px, up):
    a, b = conn(px.ports[0]), conn(px.ports[1])
    echo(a), echo(b)
    px.cmd("delay 1 300")
    d1, d0 = echo(b), echo(a)
    assert d1 >= 0.6, "delayed round trip took %.3f s, want >= 0.6" % d1
    assert d0 < 0.2, "client 0 was slowed too: %.3f s" % d0
    px.cmd("delay 1 0")
    d2 = echo(b)
    assert d2 < 0.2, d2
    return "round trip %.2f s with 300 ms each way; client 0 %.3f s" % (d1, d0)


@test
def reset(px, up):
    s = conn(px.ports[0])
    echo(s)
    r = px.cmd("reset 0 all")
    assert r.startswith("ok") and int(r.split()[1]) >= 1, r
    s.settimeout(2)
    try:
        d = s.recv(10)
        raise AssertionError("expected a reset, got %r" % d)
    except ConnectionResetError:
        pass
    return "ECONNRESET on the client"


@test
def drop_stream(px, up):
    px.cmd("reset 0 all")
    a = conn(px.ports[0])
    echo(a)
    w = conn(px.ports[0])
    w.sendall(b"STREAM\n")
    w.settimeout(2)
    assert w.recv(100).startswith(b"event")
    time.sleep(0.2)
    r = px.cmd("drop 0 stream")
    assert r == "ok 1", r
    time.sleep(0.1)
    w.settimeout(0.05)
    end = time.monotonic() + 0.3
    try:  # what was in flight when it was dropped
        while w.recv(4096) and time.monotonic() < end:
            pass
    except socket.timeout:
        pass
    assert silent(w, 0.6), "the dropped stream still delivers"
    echo(a)  # the other connection of this client still works
    echo(conn(px.ports[0]))  # and new ones
    c = [l for l in px.cmd_lines("conns") if " client 0 " in l]
    assert any("dropped" in l for l in c), c
    w.close()
    a.close()
    return "the streaming connection went silent, still open; the idle one and new ones relay"


@test
def blackhole(px, up):
    old = conn(px.ports[2])
    echo(old)
    n0 = up.accepted
    px.cmd("blackhole 2 on")
    s = conn(px.ports[2])  # accepted
    s.sendall(b"hello\n")
    assert silent(s, 0.5)
    old.sendall(b"again\n")
    assert silent(old, 0.3)
    assert up.accepted == n0, "a blackholed connection reached the upstream"
    echo(conn(px.ports[1]))
    px.cmd("blackhole 2 off")
    echo(conn(px.ports[2]))
    assert silent(s, 0.2), "a held connection came back to life"
    return "accepted, nothing relayed, kept open; other clients unaffected"


@test
def partition(px, up):
    a, b = conn(px.ports[0]), conn(px.ports[1])
    echo(a), echo(b)
    px.cmd("partition 0")
    a.sendall(b"queued\n")
    assert silent(a, 0.5)
    late = conn(px.ports[0])  # accepted while cut off: connects on heal
    late.sendall(b"late\n")
    echo(b)
    px.cmd("heal")
    a.settimeout(2)
    assert a.recv(100) == b"queued\n"
    late.settimeout(2)
    assert late.recv(100) == b"late\n"
    return "client 0 cut off while client 1 passed; queued bytes delivered on heal"


@test
def upstream_down(px, up):
    px.cmd("clear")
    up.close()
    time.sleep(0.1)
    try:  # the reset may come before conn() has set its socket options
        s = conn(px.ports[0])
        s.settimeout(2)
        d = s.recv(10)
        assert d == b"", d
        raise AssertionError("a FIN, not an RST")
    except ConnectionResetError:
        pass
    return "a connection to a down upstream is reset, like a refused connect"


@test
def bad_input(px, up):
    for c in ("nonsense", "delay 9 100", "delay 0 -5", "reset 0 sideways", "partition x", "blackhole 0 maybe"):
        r = px.cmd(c)
        assert r.startswith("err "), (c, r)
    return "malformed commands get an error naming the form"


@test
def log_and_schedule(px, up):
    faults = [json.loads(l) for l in open(px.log_path) if '"fault"' in l]
    kinds = {}
    for f in faults:
        kinds[f["fault"]] = kinds.get(f["fault"], 0) + 1
        assert isinstance(f["t"], int) and f["t"] > 0
    st = px.cmd("stats").split()[1:]
    stats = dict(zip(st[::2], map(int, st[1::2])))
    for k in ("delay", "partition", "blackhole"):
        assert kinds.get(k, 0) == stats[k] >= 1, (k, kinds, stats)
    # a second proxy that runs a schedule by itself
    d = tempfile.mkdtemp(prefix="fp-", dir=os.path.join(TOP, "build"))
    with open(os.path.join(d, "sched"), "w") as f:
        f.write("# ms command\n100 delay 0 250\n300 partition 0,1\n400 heal\n")
    t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    p2 = Proxy(px.binary, "127.0.0.1:%d" % px.upstream_port, 2, d, extra=["--schedule", os.path.join(d, "sched")])
    time.sleep(0.6)
    p2.stop()
    got = [json.loads(l) for l in open(p2.log_path) if '"fault"' in l or '"end"' in l]
    shutil.rmtree(d)
    assert [g.get("fault") or "end" for g in got] == ["delay", "partition", "end"], got
    at = (got[0]["t"] - t0) / 1e6
    assert 80 <= at <= 400, "scheduled at 100 ms, ran at %.0f ms" % at
    return "faults by kind in the log match stats %s; a schedule file ran on time" % stats


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build", "faultproxy")
    up = Upstream()
    d = tempfile.mkdtemp(prefix="fp-", dir=os.path.join(TOP, "build"))
    px = Proxy(binary, "127.0.0.1:%d" % up.port, 3, d)
    px.upstream_port = up.port
    passed = failed = 0
    try:
        for fn in tests:
            t = time.monotonic()
            try:
                note = fn(px, up)
                passed += 1
                print("faultproxy: %-18s ok   %4.1f s  %s" % (fn.__name__, time.monotonic() - t, note), flush=True)
            except Exception as e:
                failed += 1
                print("faultproxy: %-18s FAIL %4.1f s  %s" % (fn.__name__, time.monotonic() - t, e), flush=True)
                traceback.print_exc()
    finally:
        px.stop()
    if not failed:
        shutil.rmtree(d)
    print("faultproxy: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
