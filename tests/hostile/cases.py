"""The hostile cases: each a fake server behaviour, the error that must name
it, and its own checks (tests/hostile/run.py has the ones every case gets).
Timing of le-elector: LeaseDuration 4 s, RenewDeadline 3 s, RetryPeriod 1 s."""
import copy
import json

from server import IDENTITY, Closed, Reply, http, now, status_obj

LEASE_S, RENEW_S, RETRY_S = 4, 3, 1
OLD = "2026-11-24T09:00:00.000000Z"


def started(events):
    return [e for e in events if e["ev"] == "started"]


def never_led(events, t0, why="no write could succeed"):
    return ["led (started at %.2f s), though %s" % (started(events)[0]["t"] - t0, why)] \
        if started(events) else []


def led_by(events, log, t, t0, what):
    s = started(events)
    if not s:
        return ["never led: %s" % what]
    if s[0]["t"] > t:
        return ["led only at %.2f s: %s" % (s[0]["t"] - t0, what)]
    return []


def requests_after(log, t):
    return sum(1 for r in log.requests if r[0] >= t)


def bounded_requests(log, t_exit):
    """After the misbehaviour starts, no more than about two requests per
    RetryPeriod (a renew and its GET): no hammering."""
    if log.hostile_at is None:
        return []
    n, window = requests_after(log, log.hostile_at), t_exit - log.hostile_at
    limit = 2 * window / RETRY_S + 4
    return ["%d requests in %.1f s after the misbehaviour (> %d): hammering" % (n, window, limit)] \
        if n > limit else []


class Case:
    name, about = "", ""
    duration = 8.0
    cert = "good"
    error = None          # regex the first fitting error event must match
    not_error = None      # ... and must not
    errors_ok = False     # with error None: errors allowed (not a failure case)

    def setup(self, s):
        pass

    def connection(self, s, c):
        """Before the TLS handshake; True: the case handled the connection."""
        return False

    def after_handshake(self, s, c):
        """After the handshake, before anything is sent; True: handled."""
        return False

    def handle(self, s, c, req):
        """One request; False closes the connection."""
        return s.reply(c, req, s.answer(req))

    def check(self, events, log, t0, t_exit):
        return []


def flood(s, c, head, block):
    """head, then block again and again until the client goes away."""
    s.log.hostile()
    c.records(head)
    while not s.stop_event.is_set():
        c.records(block)


class Normal(Case):
    name, about = "normal", "a well-behaved store: leads, renews, releases on SIGTERM (the control)"

    def check(self, events, log, t0, t_exit):
        why = led_by(events, log, t0 + 1.5, t0, "on a well-behaved server")
        if len(log.accepted) < 4:
            why.append("only %d writes accepted in %.0f s" % (len(log.accepted), self.duration))
        if not log.genuine or log.genuine[-1][1] != "":
            why.append("the Lease was not released on SIGTERM")
        return why


class OversizedHeader(Case):
    name, about = "oversized-header", "every reply has a 1 MB header line"
    error = r"header|LE_HEADER_MAX"

    def handle(self, s, c, req):
        s.log.hostile()
        rep = s.answer(req)
        c.records(http(rep.status, rep.body(), b"X-Filler: " + b"a" * (1 << 20) + b"\r\n"))
        s.sent(rep, req)
        return True

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0, "every reply should have been refused for its header")


class OversizedBody(Case):
    name, about = "oversized-body", "the Lease carries a 64 KB annotation"
    error = r"LE_BODY_MAX"

    def setup(self, s):
        s.store.put_lease({"holderIdentity": "", "leaseDurationSeconds": 4, "leaseTransitions": 1},
                          {"big": "y" * 65536})

    def handle(self, s, c, req):
        s.log.hostile()
        return Case.handle(self, s, c, req)

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class EndlessChunked(Case):
    name, about = "endless-chunked", "a chunked body that never ends"
    error = r"body.*(LE_BODY_MAX|more than|larger than)"

    def handle(self, s, c, req):
        flood(s, c, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n", b"4000\r\n" + b" " * 0x4000 + b"\r\n")
        return False

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class EndlessHeader(Case):
    name, about = "endless-header", "a status line, then header lines forever"
    error = r"header|LE_HEADER_MAX"

    def handle(self, s, c, req):
        flood(s, c, b"HTTP/1.1 200 OK\r\n", b"".join(b"X-Flood-%d: v\r\n" % i for i in range(1000)))
        return False

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class EndlessTrailer(Case):
    name, about = "endless-trailer", "the real reply chunked, then trailer lines forever"
    error = r"trailer|header|LE_HEADER_MAX"

    def handle(self, s, c, req):
        rep = s.answer(req)
        b = rep.body()
        flood(s, c, b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
              % rep.status + b"%x\r\n" % len(b) + b + b"\r\n0\r\n",
              b"".join(b"X-Trailer-%d: v\r\n" % i for i in range(1000)))
        return False

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class ContinueFlood(Case):
    name, about = "continue-flood", "100 Continue interim replies forever"
    error = r"interim|1xx"

    def handle(self, s, c, req):
        flood(s, c, b"", b"HTTP/1.1 100 Continue\r\n\r\n" * 500)
        return False

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class Slowloris(Case):
    name, about = "slowloris", "after two good writes, every reply one byte per second"
    error = r"no complete reply within|timed out"

    def handle(self, s, c, req):
        if not s.leading_since(2):
            return Case.handle(self, s, c, req)
        s.log.hostile()
        rep = s.answer(req)
        for i, b in enumerate(http(rep.status, rep.body())):
            c.records(bytes([b]))
            if s.stop_event.wait(1.0):
                raise Closed()
        return True

    def check(self, events, log, t0, t_exit):
        return led_by(events, log, t0 + 1.5, t0, "before the slow replies")


class GarbageAfterReply(Case):
    name, about = "garbage-after-reply", "every reply followed by garbage in the same TLS record"
    error = r"after the reply|bytes after|no request was waiting|garbage|unexpected bytes|extra bytes"

    def handle(self, s, c, req):
        s.log.hostile()
        return s.reply(c, req, s.answer(req), after=b"\r\nGARBAGE GARBAGE\r\n")


class TwoReplies(Case):
    name, about = "two-replies", ("after two good writes, each renew answered twice in one TLS record: "
                                  "the real reply, then one naming another holder")
    error = r"after the reply|bytes after|no request was waiting|second reply|two replies|unexpected bytes|extra bytes"

    def handle(self, s, c, req):
        if not s.leading_since(2) or req.method != "PUT":
            return Case.handle(self, s, c, req)
        s.log.hostile()
        rep = s.answer(req)
        decoy = Reply(200, copy.deepcopy(rep.obj))
        if decoy.obj and decoy.obj.get("spec") is not None:
            decoy.obj["spec"]["holderIdentity"] = "hostile-decoy"
        c.records(http(rep.status, rep.body()) + http(200, decoy.body()))
        s.sent(rep, req)
        s.sent(decoy, req, decoy=True)
        return True


class StaleSecondReply(Case):
    name, about = ("stale-second-reply", "the GET answered, then a stale 200 naming us in its own TLS "
                   "record (in the same TCP write): it must not answer the take-over PUT")
    error = r"no request was waiting|another request|before|unsolicited"

    def setup(self, s):
        s.store.put_lease({"holderIdentity": "", "leaseDurationSeconds": 4, "leaseTransitions": 2})

    def handle(self, s, c, req):
        if getattr(c, "poisoned", False):
            s.log.notes.append("a request came after the stale reply on its connection: %s" % req.method)
            return False  # never answered: the stale reply was all it got
        rep = s.answer(req)
        if req.method != "GET":
            return s.reply(c, req, rep)
        s.log.hostile()
        stale = Reply(200, copy.deepcopy(s.store.obj))
        stale.obj["spec"].update({"holderIdentity": IDENTITY, "renewTime": OLD, "acquireTime": OLD,
                                  "leaseDurationSeconds": 4})
        stale.obj["metadata"]["resourceVersion"] = "999999"
        c.records(http(rep.status, rep.body()), http(200, stale.body()))
        s.sent(rep, req)
        s.sent(stale, req, decoy=True)
        c.poisoned = True
        return True

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class ReplyBeforeRequest(Case):
    name, about = ("reply-before-request", "right after the TLS handshake (in the TCP write of its last "
                   "message) a reply naming a decoy holder for an hour, then a reset")
    error = r"no request was waiting|before|unsolicited"

    def after_handshake(self, s, c):
        s.log.hostile()
        decoy = Reply(200, {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
                            "metadata": {"name": "hostile", "namespace": "default", "resourceVersion": "7"},
                            "spec": {"holderIdentity": "hostile-decoy", "leaseDurationSeconds": 3600,
                                     "renewTime": OLD, "acquireTime": OLD, "leaseTransitions": 9}})
        c.records(http(200, decoy.body()))  # flushed with the handshake's last bytes
        s.sent(decoy, None, decoy=True)
        try:
            c.read_request(timeout=1.0)
        except Closed:
            pass
        s.stop_event.wait(0.2)
        c.reset()
        return True

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class CutMidReply(Case):
    duration = 8.0

    def handle(self, s, c, req):
        if not s.leading_since(2):
            return Case.handle(self, s, c, req)
        s.log.hostile()
        rep = s.answer(req)
        b = http(rep.status, rep.body())
        c.records(b[:len(b) // 2])
        s.stop_event.wait(0.05)
        self.cut(c)
        return False

    def check(self, events, log, t0, t_exit):
        return led_by(events, log, t0 + 1.5, t0, "before the replies were cut")


class AlertMidReply(CutMidReply):
    name, about = "alert-mid-reply", "after two good writes, half of each reply, then a TLS close_notify alert"
    error = r"closed before the reply was complete|close_notify|closed the connection|connection closed"

    def cut(self, c):
        c.close_notify()


class ResetMidReply(CutMidReply):
    name, about = "reset-mid-reply", "after two good writes, half of each reply, then a TCP reset"
    error = r"[Rr]eset|connection closed"

    def cut(self, c):
        c.reset()


class HandshakeStall(Case):
    name, about = ("handshake-stall", "after two good writes the connection is closed; new ones never get "
                   "past the ClientHello")
    error = r"TLS handshake .*did not complete in time|handshake"

    def connection(self, s, c):
        if not s.leading_since(2):
            return False
        s.log.hostile()
        while not s.stop_event.wait(0.2):  # read nothing, answer nothing
            pass
        return True

    def handle(self, s, c, req):
        if not s.leading_since(2):
            return Case.handle(self, s, c, req)
        rep = s.answer(req)
        c.records(http(rep.status, rep.body(), b"Connection: close\r\n"))
        s.sent(rep, req)
        return False

    def check(self, events, log, t0, t_exit):
        return led_by(events, log, t0 + 1.5, t0, "before the stalled handshakes")


class BadCert(Case):
    def connection(self, s, c):
        s.log.hostile()
        return False

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class WrongCA(BadCert):
    name, about, cert = "wrong-ca", "a server certificate from another CA", "wrong-ca"
    error = r"did not sign"


class WrongName(BadCert):
    name, about, cert = "wrong-name", "a certificate of our CA for another name and address", "wrong-name"
    error = r"valid for .*but not for '127\.0\.0\.1'"


class Expired(BadCert):
    name, about, cert = "expired-cert", "a certificate of our CA that expired in 2020", "expired"
    error = r"expired"


class AfterTwo(Case):
    """Good until two writes were accepted, then every reply is self.bad()."""
    def handle(self, s, c, req):
        if not s.leading_since(2):
            return Case.handle(self, s, c, req)
        s.log.hostile()
        st, headers, body = self.bad()
        c.records(http(st, json.dumps(body).encode(), headers))
        return True

    def check(self, events, log, t0, t_exit):
        return led_by(events, log, t0 + 1.5, t0, "before the errors") + bounded_requests(log, t_exit)


class ThrottleAbsurd(AfterTwo):
    name, about = "throttle-absurd", "after two good writes, 429 with Retry-After: 999999 to everything"
    error = r"429"

    def bad(self):
        return 429, b"Retry-After: 999999\r\n", status_obj(429, "TooManyRequests", "slow down")


class UnavailableStorm(AfterTwo):
    name, about = "503-storm", "after two good writes, 503 to everything (Retry-After: 1 on every other)"
    error = r"503"
    n = 0

    def bad(self):
        self.n += 1
        return 503, b"Retry-After: 1\r\n" if self.n % 2 else b"", status_obj(503, "ServiceUnavailable", "busy")


class Expiring(Case):
    """Another holder's Lease that is never renewed: it must be taken over
    once expired (LeaseDuration after it was first seen), not before."""
    duration = 9.5
    errors_ok = True
    holder = "hostile-other"

    def setup(self, s):
        s.store.put_lease({"holderIdentity": self.holder, "leaseDurationSeconds": LEASE_S,
                           "acquireTime": OLD, "renewTime": OLD, "leaseTransitions": 3})

    def handle(self, s, c, req):
        if req.method == "PUT":
            o = req.json() or {}
            s.log.notes.append({"put_transitions": (o.get("spec") or {}).get("leaseTransitions"),
                                "acquire_new": (o.get("spec") or {}).get("acquireTime") != OLD})
        return Case.handle(self, s, c, req)

    def check(self, events, log, t0, t_exit):
        if not log.genuine:
            return ["no reply was sent"]
        first = log.genuine[0][0]
        why = led_by(events, log, first + LEASE_S + 2.2 * RETRY_S + 1.0, t0,
                     "the Lease of %r expired %.1f s after it was first read" % (self.holder[:40], LEASE_S))
        puts = [n for n in log.notes if isinstance(n, dict)]
        if puts and (puts[0]["put_transitions"] != 4 or not puts[0]["acquire_new"]):
            why.append("the take-over did not write a new holder's record (leaseTransitions %s, new "
                       "acquireTime %s): taken for our own?" % (puts[0]["put_transitions"], puts[0]["acquire_new"]))
        return why


class RetryAfterOn200(Expiring):
    name, about = ("retry-after-200", "Retry-After: 999999 on every ordinary 200 GET of a dead holder's "
                   "Lease: the follower still polls at its expiry and takes over")

    def handle(self, s, c, req):
        if req.method != "GET":
            return Expiring.handle(self, s, c, req)
        s.log.hostile()
        return s.reply(c, req, s.answer(req), headers=b"Retry-After: 999999\r\n")


class NulHolder(Expiring):
    name, about = ("nul-holder", "a dead holder \"hostile-a\\u0000x\" (our identity, a NUL, more): "
                   "never ours, taken over once expired")
    holder = IDENTITY + "\u0000x"


class LongHolder(Expiring):
    name, about = "long-holder", "a dead holder with a 300-byte identity: taken over once expired"
    holder = "h" * 300


class WrongHolder(Case):
    name, about = "wrong-holder", "every write answered 200/201 naming another holder"
    error = r"another holder"

    def handle(self, s, c, req):
        rep = s.answer(req)
        if req.method in ("PUT", "POST") and rep.status in (200, 201):
            s.log.hostile()
            rep.obj["spec"]["holderIdentity"] = "hostile-someone-else"
            rep.accept = False
        return s.reply(c, req, rep)

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class WrongLeaseName(Case):
    name, about = "wrong-lease-name", "every Lease in a reply is named other-lease"
    error = r"metadata\.name"

    def handle(self, s, c, req):
        rep = s.answer(req)
        if rep.obj and rep.obj.get("kind") == "Lease":
            s.log.hostile()
            rep.obj["metadata"]["name"] = "other-lease"
            rep.accept = False
        return s.reply(c, req, rep)

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class NoopWrite(Case):
    name, about = ("noop-write", "writes answered 200 with the object as sent, resourceVersion "
                   "unchanged (a no-op update): never a renew")
    error = r"resourceVersion that was sent|did not apply|no-op"

    def setup(self, s):
        s.store.put_lease({"holderIdentity": "", "leaseDurationSeconds": 4, "leaseTransitions": 1})

    def handle(self, s, c, req):
        if req.method != "PUT":
            return Case.handle(self, s, c, req)
        s.log.hostile()
        o = req.json() or {}
        o.setdefault("kind", "Lease")
        o.setdefault("apiVersion", "coordination.k8s.io/v1")
        return s.reply(c, req, Reply(200, o))  # not stored: not accepted

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class SwitchingProtocols(Case):
    name, about = "switching-protocols", "101 Switching Protocols to every request, then frames"
    error = r"101|Switching Protocols"
    not_error = r"Pause on"

    def handle(self, s, c, req):
        s.log.hostile()
        c.records(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                  b"\x81\x05hello")
        return True

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


class ContentLength100MB(Case):
    name, about = "content-length-100mb", "a 200 announcing Content-Length: 104857600, then bytes"
    error = r"104857600|100 ?Mi?B"
    not_error = r"define LE_BODY_MAX larger"

    def handle(self, s, c, req):
        flood(s, c, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n",
              b"x" * 65536)
        return False

    def check(self, events, log, t0, t_exit):
        return never_led(events, t0)


CASES = [Normal(), OversizedHeader(), OversizedBody(), EndlessChunked(), EndlessHeader(),
         EndlessTrailer(), ContinueFlood(), Slowloris(), GarbageAfterReply(), TwoReplies(),
         StaleSecondReply(), ReplyBeforeRequest(), AlertMidReply(), ResetMidReply(),
         HandshakeStall(), WrongCA(), WrongName(), Expired(), ThrottleAbsurd(),
         RetryAfterOn200(), UnavailableStorm(), WrongHolder(), WrongLeaseName(), NulHolder(),
         LongHolder(), NoopWrite(), SwitchingProtocols(), ContentLength100MB()]
