"""A fake API server for the hostile cases: TLS on 127.0.0.1 through
ssl.MemoryBIO, so a case decides what goes into which TLS record and which
records leave in one TCP write; a Lease store just good enough for an
elector to create, renew, take over and release one Lease; and a log of
what it really answered, which the checks compare with what le-elector
believed.

Not an imitation of kube-apiserver: it plays a Lease store only as far as
a case needs, and misbehaves where the case says."""
import json
import socket
import ssl
import struct
import threading
import time

IDENTITY = "hostile-a"
LEASE = "hostile"
NS = "default"
PATH = "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % NS


def now():
    return time.monotonic()


class Closed(Exception):
    pass


class TLSConn:
    def __init__(self, sock, ctx):
        self.sock = sock
        self.inb, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inb, self.outb, server_side=True) if ctx else None
        self.buf = b""
        sock.settimeout(0.5)

    # -- raw TCP
    def flush(self):
        data = self.outb.read()
        while data:
            try:
                self.sock.sendall(data)
                return
            except socket.timeout:
                if self.stopping():
                    raise Closed()
            except OSError:
                raise Closed()

    def stopping(self):
        return getattr(self, "stop_event", None) is not None and self.stop_event.is_set()

    def fill(self, deadline):
        while True:
            if now() > deadline or self.stopping():
                raise Closed()
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                raise Closed()
            if not data:
                raise Closed()
            return data

    # -- TLS
    def handshake(self, timeout=5.0):
        deadline = now() + timeout
        while True:
            try:
                self.obj.do_handshake()
                return  # not flushed: the caller may add records first
            except ssl.SSLWantReadError:
                self.flush()
                self.inb.write(self.fill(deadline))
            except (ssl.SSLError, OSError):
                raise Closed()

    def records(self, *parts):
        """Each part becomes its own TLS record(s), all sent in one write."""
        try:
            for p in parts:
                self.obj.write(p)
        except (ssl.SSLError, OSError):
            raise Closed()
        self.flush()

    def read_app(self, deadline):
        while True:
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                self.flush()
                self.inb.write(self.fill(deadline))
            except ssl.SSLZeroReturnError:
                raise Closed()
            except (ssl.SSLError, OSError):
                raise Closed()

    def read_request(self, timeout=30.0):
        deadline = now() + timeout
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.read_app(deadline)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = (lines[0].split(" ") + ["", "", ""])[:3]
        hdr = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdr[k.strip().lower()] = v.strip()
        n = int(hdr.get("content-length", "0") or 0)
        while len(rest) < n:
            rest += self.read_app(deadline)
        self.buf = rest[n:]
        path, _, query = target.partition("?")
        return Req(method, path, query, hdr, rest[:n], now())

    def close_notify(self):
        try:
            self.obj.unwrap()
        except (ssl.SSLError, OSError, ValueError):
            pass
        try:
            self.flush()
        except Closed:
            pass
        self.close()

    def reset(self):
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Req:
    def __init__(self, method, path, query, hdr, body, t):
        self.method, self.path, self.query, self.hdr, self.body, self.t = method, path, query, hdr, body, t

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Reply:
    def __init__(self, status, obj, accept=False, keep=True):
        self.status, self.obj, self.accept, self.keep = status, obj, accept, keep

    def body(self):
        return json.dumps(self.obj, separators=(",", ":")).encode() if self.obj is not None else b""

    def holder(self):
        if self.obj and self.obj.get("kind") == "Lease":
            return (self.obj.get("spec") or {}).get("holderIdentity") or ""
        return None


TEXT = {200: "OK", 201: "Created", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
        429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def http(status, body=b"", headers=b"", text=None):
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n" % (status, (text or TEXT.get(status, "X")).encode()) +
            headers + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def status_obj(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = []     # writes answered 200/201 with our holder: {"t": received}
        self.genuine = []      # (sent, holder) of Lease replies that really answered
        self.decoys = []       # (sent, holder) of Lease replies that answered nothing
        self.requests = []     # (received, method, path)
        self.violations = []
        self.hostile_at = None
        self.first_sent = {}   # store version -> when it was first sent
        self.notes = []

    def hostile(self):
        with self.lock:
            if self.hostile_at is None:
                self.hostile_at = now()

    def dump(self):
        return {k: getattr(self, k) for k in ("accepted", "genuine", "decoys", "requests",
                                              "violations", "hostile_at", "notes")}


class Store:
    """One Lease: GET, POST, PUT with resourceVersion preconditions."""
    def __init__(self, log):
        self.log = log
        self.lock = threading.Lock()
        self.obj = None
        self.rv = 100
        self.version = 0

    def put_lease(self, spec, annotations=None):
        self.rv += 1
        self.version += 1
        md = {"name": LEASE, "namespace": NS, "uid": "00000000-0000-4000-8000-000000000001",
              "resourceVersion": str(self.rv), "creationTimestamp": "2026-11-24T09:00:00Z"}
        if annotations:
            md["annotations"] = annotations
        self.obj = {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1", "metadata": md, "spec": spec}

    def handle(self, req):
        with self.lock:
            return self._handle(req)

    def _handle(self, req):
        if req.method == "GET" and "watch=" in req.query:
            return Reply(403, status_obj(403, "Forbidden", "watch is not served here"))
        if req.method == "GET" and req.path == PATH + "/" + LEASE:
            if self.obj is None:
                return Reply(404, status_obj(404, "NotFound", 'leases.coordination.k8s.io "%s" not found' % LEASE))
            return Reply(200, json.loads(json.dumps(self.obj)))
        if req.method == "POST" and req.path == PATH:
            o = req.json()
            if self.obj is not None:
                return Reply(409, status_obj(409, "AlreadyExists", "already exists"))
            if not o:
                return Reply(400, status_obj(400, "BadRequest", "bad body"))
            self.put_lease(o.get("spec") or {})
            return Reply(201, json.loads(json.dumps(self.obj)),
                         accept=self.holder() == IDENTITY)
        if req.method == "PUT" and req.path == PATH + "/" + LEASE:
            o = req.json()
            if self.obj is None:
                return Reply(404, status_obj(404, "NotFound", "not found"))
            if not o or (o.get("metadata") or {}).get("resourceVersion") != self.obj["metadata"]["resourceVersion"]:
                return Reply(409, status_obj(409, "Conflict", "the object has been modified"))
            prev, prev_v = self.holder(), self.version
            prev_dur = (self.obj["spec"] or {}).get("leaseDurationSeconds") or 0
            spec = o.get("spec") or {}
            new = spec.get("holderIdentity") or ""
            if new == IDENTITY and prev not in ("", IDENTITY):
                seen = self.log.first_sent.get(prev_v)
                # 5 ms: le.h's clock is in whole milliseconds
                if seen is None or req.t < seen + prev_dur - 0.005:
                    self.log.violations.append(
                        "took the Lease from %r at %.2f s after first sending it (leaseDurationSeconds %s)"
                        % (prev[:40], req.t - seen if seen else -1, prev_dur))
            self.put_lease(spec, (o.get("metadata") or {}).get("annotations"))
            return Reply(200, json.loads(json.dumps(self.obj)), accept=new == IDENTITY)
        return Reply(404, status_obj(404, "NotFound", "no such path"))

    def holder(self):
        return ((self.obj or {}).get("spec") or {}).get("holderIdentity") or ""


class HostileServer:
    def __init__(self, case, pki):
        self.case, self.pki = case, pki
        self.log = Log()
        self.store = Store(self.log)
        self.stop_event = threading.Event()
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.nconn = 0
        self.t0 = now()
        self.state = {}  # the case's own
        self.ctx = None
        if case.cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.minimum_version = self.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            self.ctx.load_cert_chain("%s/%s.crt" % (pki, case.cert), "%s/%s.key" % (pki, case.cert))
        case.setup(self)

    def start(self):
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def stop(self):
        self.stop_event.set()
        time.sleep(0.3)
        self.ls.close()

    def accept_loop(self):
        while not self.stop_event.is_set():
            try:
                s, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.nconn += 1
            threading.Thread(target=self.serve, args=(s, self.nconn), daemon=True).start()

    def serve(self, sock, n):
        c = TLSConn(sock, self.ctx)
        c.stop_event = self.stop_event
        c.n = n
        try:
            if self.case.connection(self, c):
                return
            c.handshake()
            if self.case.after_handshake(self, c):
                return
            c.flush()
            while not self.stop_event.is_set():
                req = c.read_request()
                with self.log.lock:
                    self.log.requests.append((req.t, req.method, req.path))
                if not self.case.handle(self, c, req):
                    break
        except Closed:
            pass
        finally:
            c.close()

    # -- what cases use
    def answer(self, req):
        return self.store.handle(req)

    def sent(self, rep, req, decoy=False, t_start=None):
        """rep went out whole: log what it said (and a write it accepted).
        t_start: when sending began, the earliest the client can have read it."""
        t = now()
        h = rep.holder()
        with self.log.lock:
            if h is not None:
                (self.log.decoys if decoy else self.log.genuine).append((t, h))
                if not decoy and self.store.obj is not None:
                    self.log.first_sent.setdefault(self.store.version, t_start or t)
            if rep.accept and not decoy:
                self.log.accepted.append({"t": req.t, "sent": t})

    def reply(self, c, req, rep, headers=b"", after=b"", decoy=False):
        """The reply as one TLS record, optionally with bytes after it."""
        t = now()
        c.records(http(rep.status, rep.body(), headers) + after)
        self.sent(rep, req, decoy, t)
        return rep.keep

    def leading_since(self, n):
        """The case's trigger: n writes accepted so far."""
        return len(self.log.accepted) >= n
