/* le.h - Kubernetes leader election in one C header.          v0.1.0
   Exactly one replica of a deployment leads; another takes over within
   seconds when it dies or leaves.

   TL;DR ------------------------------------------------------------------

     #define LE_IMPLEMENTATION          // in exactly one .c file
     #include "le.h"

     le_elector e;                       // ~60 KB: static, heap or a big stack
     le_config c = {0};                  // zero = default, see le_config
     c.ns = "default"; c.name = "my-app"; c.identity = pod_name;
     c.on_event = on_event; c.user = &app;
     if (le_init(&e, &c) != 0) die(le_errmsg(&e));
     for (;;) {
         le_action a = le_next(&e, now());       // what the elector wants
         switch (a.want) {
         case LE_WANT_SEND:  n = write(fd, a.data, a.len); le_sent(&e, now(), n); break;
         case LE_WANT_RECV:  n = read(fd, buf, sizeof buf);  // until a.deadline
                             le_feed(&e, now(), buf, n); break;   // n == 0: EOF
         case LE_WANT_WAIT:  sleep_until(a.deadline); break;
         case LE_WANT_CLOSE: close(fd); break;                  // reconnect lazily
         case LE_WANT_DONE:  return;                            // after le_stop()
         }
     }

   With LE_HTTPS defined as well, le.h brings its own HTTPS transport,
   in-cluster configuration and a blocking runner, so the loop above
   becomes le_run() (see "TRANSPORT" below).

   WHAT IT IS -------------------------------------------------------------

   The core is a sans-IO state machine for coordination.k8s.io/v1 Lease
   leader election that behaves like client-go's tools/leaderelection, so
   C replicas and Go replicas can contend for the same Lease:

   - GET the Lease; on 404 create it (POST) already holding it. If another
     identity holds it and it has not expired, follow. Otherwise take it
     over with a PUT of the object as read, which carries the last seen
     resourceVersion: the API server accepts it only if nobody wrote in
     between. A 409 means somebody else won: the elector re-reads, never
     retries blindly.
   - Expiry is judged like client-go: the observer's monotonic time when it
     last saw the record (holder, duration, times, transitions) change,
     plus the record's leaseDurationSeconds. The holder's timestamps are
     never compared with the local clock, so clock skew between machines
     does not matter. An empty holderIdentity means the Lease is free.
   - The leader renews every RetryPeriod with one PUT of the cached object
     (no GET first); any failure falls back to a GET.
   - leaseTransitions grows by one on every change of holder; acquireTime
     is written on acquisition, renewTime on every renew (MicroTime, UTC,
     six fractional digits).
   - The leader stops leading when no renew has succeeded for RenewDeadline
     (counted from the moment the last successful renew was *sent*), when
     it sees another holder, or when le_stop() is called. le_is_leader(e,t)
     answers no once t passes that deadline even if nobody drives e.
   - le_stop() releases the Lease like client-go's ReleaseOnCancel: the
     record is rewritten with holderIdentity "" and leaseDurationSeconds 1,
     conditionally; on conflict it re-reads once and retries only if still
     the holder. The stopped-leading event fires *before* the release is
     sent, so the work stops before anybody else can start it.
   - Fields it does not own survive every write byte for byte: labels,
     annotations, ownerReferences, spec.strategy, spec.preferredHolder and
     anything newer. RBAC verbs needed: get, create, update on leases.

   Events (le_config.on_event) report: started leading, with the term =
   leaseTransitions of this tenure (a fencing token: it increases whenever
   the holder changes, so work stamped with a term can be checked against
   the Lease); stopped leading, with the reason; a new leader observed
   (its identity, "" when the Lease is free); and errors, with a message
   that names the cause and the fix.

   TIME, RANDOMNESS, MEMORY, IO --------------------------------------------

   Every driving call takes an le_time: a monotonic clock in milliseconds
   for every decision, and the Unix time in microseconds, used only for the
   timestamps written into the Lease. Jitter (client-go's factor 1.2 on the
   follower's retry period) comes from le_config.rand32 or from a
   generator seeded by le_config.seed and the identity. The core never
   allocates, never reads a clock, never touches a socket, has no globals;
   it is a pure function of time, random numbers and bytes in, and bytes,
   events and deadlines out. Every call returns the next deadline, so no
   caller busy-polls. Callbacks must not call back into the same elector
   (asserted). Do not copy or move an elector after le_init().

   Outgoing requests are built into the elector (LE_WANT_SEND). Replies are
   parsed with llhttp (chunked bodies, keep-alive) and jsmn; partial input
   is fine, any split works. One request is in flight at a time and each is
   bounded by le_config.request_timeout_ms; when the elector abandons an
   exchange it asks for the connection to be dropped (LE_WANT_CLOSE).

   GUARANTEES AND THEIR CONDITIONS -----------------------------------------

   Two electors never both believe they lead at the same instant if:
   every identity is unique (two processes with one identity both lead);
   clocks on all machines run at nearly the same *rate* (arbitrary offset
   is fine; the margin is LeaseDuration - RenewDeadline, 5 s by default);
   and the process is not frozen between asking le_is_leader() and acting
   on the answer for longer than that margin. Like client-go, this is
   leases, not consensus: use the term as a fencing token where a stale
   leader could do harm.

   STATEFULSET ORDINAL ---------------------------------------------------

   le_ordinal("web-12", &n) gives 12 (a clear error for malformed names).
   "Pod -0 leads" needs no API access, but: there is no failover - while
   pod -0 is stuck (e.g. on an unreachable node) nobody leads, for as long
   as Kubernetes takes to delete it; with .spec.ordinals.start > 0 there is
   no pod -0 at all; and during a rolling update pod -0 is restarted like
   the others. Kubernetes >= 1.28 also sets the label
   apps.kubernetes.io/pod-index, which the downward API can pass as an
   environment variable (le_ordinal accepts a bare number too).

   OPTIONS (define before including) ---------------------------------------

   LE_IMPLEMENTATION   compile the implementation (one translation unit)
   LE_HTTPS            also compile the HTTPS transport and runner
   LE_STATIC           make every function static (LEDEF)
   LE_BODY_MAX         largest reply body, bytes            (default 16384)
   LE_REQ_MAX          largest request, bytes     (default LE_BODY_MAX+8192)
   LE_JSON_TOKENS      JSON tokens per reply, on the stack    (default 512)
   LE_IDENTITY_MAX     longest identity / holderIdentity      (default 255)
   LE_ASSERT(x)        assertion used for API misuse       (default assert)

   Build: the core needs llhttp (Debian: node-llhttp; compile
   /usr/share/llhttp/{llhttp,api,http}.c, include /usr/share/include/llhttp)
   and jsmn.h (Debian: libjsmn-dev). See README.md for everything else.
*/
#ifndef LE_H
#define LE_H

#include <stddef.h>
#include <stdint.h>
#include <llhttp.h>

#ifndef LEDEF
#ifdef LE_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define LEDEF static __attribute__((unused))
#else
#define LEDEF static
#endif
#else
#define LEDEF extern
#endif
#endif

#ifndef LE_BODY_MAX
#define LE_BODY_MAX 16384
#endif
#ifndef LE_REQ_MAX
#define LE_REQ_MAX (LE_BODY_MAX + 8192)
#endif
#ifndef LE_JSON_TOKENS
#define LE_JSON_TOKENS 512
#endif
#ifndef LE_IDENTITY_MAX
#define LE_IDENTITY_MAX 255
#endif
#define LE_ERRMSG_MAX 512
#define LE__NS_MAX 63
#define LE__NAME_MAX 253
#define LE__HOST_MAX 255
#define LE__TS_MAX 40
#define LE__FOREIGN_MAX 16

#ifdef __cplusplus
extern "C" {
#endif

/* Errors are negative. le_strerror() names them; le_errmsg() has details. */
enum {
    LE_OK = 0,
    LE_EINVAL = -1,        /* bad configuration or argument */
    LE_ETIMEDOUT = -2,     /* a request took longer than request_timeout_ms */
    LE_EIO = -3,           /* the transport failed (reported by le_io_error) */
    LE_EPROTO = -4,        /* malformed HTTP */
    LE_EJSON = -5,         /* malformed or truncated JSON */
    LE_ELEASE = -6,        /* a reply that is not a usable Lease */
    LE_ETOOBIG = -7,       /* reply or request larger than its buffer */
    LE_EUNAUTHORIZED = -8, /* 401: token expired, revoked or wrong */
    LE_EFORBIDDEN = -9,    /* 403: RBAC does not allow the verb */
    LE_ENOTFOUND = -10,    /* 404 where a Lease was being created */
    LE_ECONFLICT = -11,    /* 409: somebody else wrote first */
    LE_EINVALID = -12,     /* 422: the API server rejected the object */
    LE_ETHROTTLED = -13,   /* 429: too many requests */
    LE_ESERVER = -14,      /* 5xx */
    LE_EHTTP = -15,        /* any other unexpected HTTP status */
    LE_ETLS = -16,         /* TLS handshake or verification (transport) */
    LE_ECONNECT = -17      /* could not connect (transport) */
};

typedef struct le_time {
    int64_t mono_ms; /* monotonic clock, ms: drives every decision */
    int64_t wall_us; /* Unix time, us: only written into the Lease */
} le_time;

typedef enum le_event_type {
    LE_EV_STARTED_LEADING = 1, /* term, mono_ms */
    LE_EV_STOPPED_LEADING,     /* term, reason */
    LE_EV_NEW_LEADER,          /* leader ("" when the Lease is free) */
    LE_EV_ERROR                /* error, status, message */
} le_event_type;

typedef enum le_stop_reason {
    LE_STOP_DEADLINE = 1, /* no renew succeeded for RenewDeadline */
    LE_STOP_LOST,         /* another holder was seen */
    LE_STOP_CANCEL        /* le_stop() */
} le_stop_reason;

typedef struct le_event {
    le_event_type type;
    int64_t mono_ms;     /* when it happened (the now of the call) */
    int64_t term;        /* STARTED/STOPPED: leaseTransitions of the tenure */
    le_stop_reason reason; /* STOPPED */
    const char *leader;  /* NEW_LEADER */
    int error;           /* ERROR: LE_E* */
    int status;          /* ERROR: HTTP status, 0 if none */
    const char *message; /* ERROR: cause and fix */
} le_event;

typedef struct le_config {
    const char *ns;        /* namespace of the Lease; required */
    const char *name;      /* name of the Lease; required (DNS-1123 subdomain) */
    const char *identity;  /* this replica, unique; required */
    int lease_duration_ms; /* 0 = 15000; whole seconds, > renew_deadline_ms */
    int renew_deadline_ms; /* 0 = 10000; > 1.2 * retry_period_ms */
    int retry_period_ms;   /* 0 = 2000 */
    int request_timeout_ms;/* 0 = renew_deadline_ms / 2 */
    int keep_on_stop;      /* 0 = le_stop() releases the Lease */
    const char *host;      /* Host header; 0 = "kubernetes.default.svc" */
    const char *token;     /* bearer token, kept by pointer; 0 = none */
    const char *user_agent;/* 0 = "le.h/0.1" */
    uint32_t (*rand32)(void *user); /* 0 = built-in generator from seed */
    uint64_t seed;         /* mixed with identity for the built-in generator */
    void (*on_event)(void *user, const le_event *ev); /* 0 = none */
    void *user;
} le_config;

typedef enum le_want {
    LE_WANT_WAIT = 1, /* nothing to do before deadline */
    LE_WANT_SEND,     /* write data[0..len), then le_sent() */
    LE_WANT_RECV,     /* read the reply and le_feed() it, until deadline */
    LE_WANT_CLOSE,    /* drop the connection now; the next SEND needs a new one */
    LE_WANT_DONE      /* stopped (after le_stop) */
} le_want;

typedef struct le_action {
    le_want want;
    const char *data; /* SEND: bytes still to write */
    size_t len;
    int64_t deadline; /* monotonic ms: call le_next() again by then */
} le_action;

/* Private: a Lease record as observed. */
typedef struct le__record {
    char holder[LE_IDENTITY_MAX + 1];
    size_t holder_len;
    int32_t dur_s, transitions;
    char acquire[LE__TS_MAX + 1], renew[LE__TS_MAX + 1]; /* "" = null */
} le__record;

/* Private: where the parts of a cached Lease object are. */
typedef struct le__objinfo {
    size_t len;
    int spec_s, spec_e, close; /* spec value span or -1; final '}' */
    int nforeign;
    int foreign[LE__FOREIGN_MAX][2]; /* spec members le.h does not own */
} le__objinfo;

typedef struct le_elector {
    /* configuration */
    char ns[LE__NS_MAX + 1], name[LE__NAME_MAX + 1], host[LE__HOST_MAX + 1];
    char id[LE_IDENTITY_MAX + 1], ua[64];
    size_t id_len;
    const char *token;
    int32_t lease_ms, renew_ms, retry_ms, timeout_ms;
    int release;
    uint32_t (*rand32)(void *user);
    uint64_t rng;
    void (*on_event)(void *user, const le_event *ev);
    void *user;
    /* election */
    int state, op, next_op, stopping, close_conn, in_cb, leading;
    int fast_failed, conflicts, release_retried;
    int64_t term, lead_until, next_at, req_sent, req_until, stop_until;
    int64_t retry_after_ms;
    le__record obs;
    int have_obs;
    int64_t obs_at;
    char reported[LE_IDENTITY_MAX + 1];
    int have_reported;
    /* cached object (buf[cur]) and the reply being received (buf[cur^1]) */
    char buf[2][LE_BODY_MAX];
    int cur, have_obj;
    le__objinfo obj;
    size_t body_len;
    /* HTTP */
    llhttp_t http;
    llhttp_settings_t hs;
    int msg_done, keep_alive, body_over, hdr_ra, status;
    char hname[16], hval[16];
    size_t hname_len, hval_len;
    char out[LE_REQ_MAX];
    size_t out_len, out_sent;
    /* last error */
    int err, err_status;
    char errmsg[LE_ERRMSG_MAX];
} le_elector;

/* Validates cfg (client-go's rules: lease > renew > 1.2 * retry > 0,
   identity, DNS-1123 names) and resets e. 0 or LE_EINVAL; le_errmsg(e)
   says what is wrong. */
LEDEF int le_init(le_elector *e, const le_config *cfg);
/* What the elector wants now. Call again after doing it, or at deadline. */
LEDEF le_action le_next(le_elector *e, le_time now);
/* n bytes of the LE_WANT_SEND data were written. */
LEDEF void le_sent(le_elector *e, le_time now, size_t n);
/* Reply bytes, any split; n == 0 means the peer closed the connection.
   Returns 0 or the LE_E* error the bytes caused (already reported). */
LEDEF int le_feed(le_elector *e, le_time now, const void *data, size_t n);
/* The transport failed (connect, TLS, reset): err is LE_EIO, LE_ECONNECT,
   LE_ETLS ...; detail names the cause (copied). */
LEDEF void le_io_error(le_elector *e, le_time now, int err, const char *detail);
/* Stop: stop leading at once, release the Lease unless keep_on_stop, then
   LE_WANT_DONE. The release is bounded by renew_deadline_ms. */
LEDEF void le_stop(le_elector *e, le_time now);
/* Leader at monotonic time t? No once t passes the renew deadline. */
LEDEF int le_is_leader(const le_elector *e, int64_t mono_ms);
/* Term (leaseTransitions) of the current or last tenure; -1 if none. */
LEDEF int64_t le_term(const le_elector *e);
/* Holder last observed ("" if free or unknown). */
LEDEF const char *le_leader(const le_elector *e);
/* Replace the bearer token (kept by pointer, e.g. after a token rotation). */
LEDEF void le_set_token(le_elector *e, const char *token);
LEDEF const char *le_strerror(int err);
/* The message of the last error, "" if none. */
LEDEF const char *le_errmsg(const le_elector *e);
/* StatefulSet ordinal of a pod name ("web-12" -> 12) or a bare pod-index
   label value ("12"). 0 or LE_EINVAL. */
LEDEF int le_ordinal(const char *pod, long *ordinal);

#ifdef __cplusplus
}
#endif
#endif /* LE_H */

/* ======================================================================= */
/*                            IMPLEMENTATION                               */
/* ======================================================================= */
#if defined(LE_IMPLEMENTATION) && !defined(LE__IMPLEMENTED)
#define LE__IMPLEMENTED

#include <string.h>
#ifndef LE_ASSERT
#include <assert.h>
#define LE_ASSERT(x) assert(x)
#endif

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { LE__IDLE, LE__SENDING, LE__WAITING, LE__DONE };
enum { LE__NONE, LE__GET, LE__CREATE, LE__UPDATE, LE__RENEW, LE__RELEASE,
       LE__RELEASE_GET };

#define LE__API "/apis/coordination.k8s.io/v1/namespaces/"
#define LE__FAR INT64_MAX

/* ---- small strings, no stdio ------------------------------------------- */

typedef struct le__sb { char *p; size_t cap, len; int over; } le__sb;

static void le__put(le__sb *b, const char *s, size_t n) {
    if (b->over || n > b->cap - b->len) { b->over = 1; return; }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
static void le__puts(le__sb *b, const char *s) { le__put(b, s, strlen(s)); }
static void le__puti(le__sb *b, int64_t v) {
    char t[24];
    int i = 24;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do { t[--i] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) t[--i] = '-';
    le__put(b, t + i, (size_t)(24 - i));
}
static void le__putw(le__sb *b, int64_t v, int width) { /* zero padded */
    char t[20];
    int i;
    for (i = width - 1; i >= 0; i--) { t[i] = (char)('0' + v % 10); v /= 10; }
    le__put(b, t, (size_t)width);
}
/* Server text in our messages: printable ASCII only, bounded. */
static void le__put_clean(le__sb *b, const char *s, size_t n, size_t max) {
    size_t i;
    for (i = 0; i < n && i < max; i++) {
        char c = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
        le__put(b, &c, 1);
    }
    if (n > max) le__puts(b, "...");
}
static void le__cstr(le__sb *b) { /* NUL-terminate, truncating if needed */
    if (b->len >= b->cap) b->len = b->cap - 1;
    b->p[b->len] = 0;
}

/* ---- errors and events ---------------------------------------------------- */

static void le__emit(le_elector *e, le_event *ev) {
    if (!e->on_event) return;
    e->in_cb = 1;
    e->on_event(e->user, ev);
    e->in_cb = 0;
}

/* Starts an error message; finish with le__err_end(). */
static le__sb le__err_begin(le_elector *e) {
    le__sb b;
    b.p = e->errmsg; b.cap = sizeof e->errmsg; b.len = 0; b.over = 0;
    return b;
}
static int le__err_end(le_elector *e, le__sb *b, int err, int status,
                       int64_t now) {
    le_event ev;
    b->over = 0;
    le__cstr(b);
    e->err = err;
    e->err_status = status;
    memset(&ev, 0, sizeof ev);
    ev.type = LE_EV_ERROR;
    ev.mono_ms = now;
    ev.error = err;
    ev.status = status;
    ev.message = e->errmsg;
    le__emit(e, &ev);
    return err;
}
static int le__fail_msg(le_elector *e, int err, int64_t now, const char *a,
                        const char *b2) {
    le__sb b = le__err_begin(e);
    le__puts(&b, a);
    if (b2) le__puts(&b, b2);
    return le__err_end(e, &b, err, 0, now);
}

LEDEF const char *le_strerror(int err) {
    switch (err) {
    case LE_OK: return "ok";
    case LE_EINVAL: return "invalid configuration";
    case LE_ETIMEDOUT: return "request timed out";
    case LE_EIO: return "connection failed";
    case LE_EPROTO: return "malformed HTTP reply";
    case LE_EJSON: return "malformed JSON";
    case LE_ELEASE: return "reply is not a usable Lease";
    case LE_ETOOBIG: return "message larger than its buffer";
    case LE_EUNAUTHORIZED: return "401 Unauthorized";
    case LE_EFORBIDDEN: return "403 Forbidden";
    case LE_ENOTFOUND: return "404 Not Found";
    case LE_ECONFLICT: return "409 Conflict";
    case LE_EINVALID: return "422 Invalid";
    case LE_ETHROTTLED: return "429 Too Many Requests";
    case LE_ESERVER: return "API server error";
    case LE_EHTTP: return "unexpected HTTP status";
    case LE_ETLS: return "TLS failure";
    case LE_ECONNECT: return "cannot connect";
    default: return "unknown error";
    }
}
LEDEF const char *le_errmsg(const le_elector *e) { return e->errmsg; }

/* ---- validation --------------------------------------------------------- */

static int le__dns1123(const char *s, size_t max, int dots) {
    size_t n = strlen(s), i;
    if (n == 0 || n > max) return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum) continue;
        if (c != '-' && !(dots && c == '.')) return 0;
        if (i == 0 || i == n - 1) return 0;
        if (c == '.' && (s[i - 1] == '.' || s[i - 1] == '-' || s[i + 1] == '-'))
            return 0;
    }
    return 1;
}

static int le__cfg_err(le_elector *e, const char *what) {
    le__sb b = le__err_begin(e);
    le__puts(&b, "le_init: ");
    le__puts(&b, what);
    le__cstr(&b);
    e->err = LE_EINVAL;
    return LE_EINVAL;
}

static void le__copy(char *dst, const char *src) {
    size_t n = strlen(src);
    memcpy(dst, src, n + 1);
}

static uint64_t le__mix(uint64_t x) { /* splitmix64 finaliser */
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void le__on_settings(le_elector *e);

LEDEF int le_init(le_elector *e, const le_config *c) {
    size_t i;
    uint64_t h = 1469598103934665603ULL;
    memset(e, 0, sizeof *e);
    e->lease_ms = c->lease_duration_ms ? c->lease_duration_ms : 15000;
    e->renew_ms = c->renew_deadline_ms ? c->renew_deadline_ms : 10000;
    e->retry_ms = c->retry_period_ms ? c->retry_period_ms : 2000;
    if (c->lease_duration_ms < 0 || c->renew_deadline_ms < 0 ||
        c->retry_period_ms < 0 || c->request_timeout_ms < 0)
        return le__cfg_err(e, "durations must not be negative (0 = default)");
    if (e->lease_ms % 1000)
        return le__cfg_err(e, "lease_duration_ms must be whole seconds: "
                              "the Lease stores leaseDurationSeconds");
    if (e->lease_ms > 86400000)
        return le__cfg_err(e, "lease_duration_ms is over a day");
    if (e->lease_ms <= e->renew_ms)
        return le__cfg_err(e, "lease_duration_ms must be greater than "
                              "renew_deadline_ms (client-go's rule)");
    if ((int64_t)e->renew_ms * 10 <= (int64_t)e->retry_ms * 12)
        return le__cfg_err(e, "renew_deadline_ms must be greater than "
                              "1.2 * retry_period_ms (client-go's rule)");
    e->timeout_ms = c->request_timeout_ms ? c->request_timeout_ms
                                          : e->renew_ms / 2;
    if (!c->ns || !le__dns1123(c->ns, LE__NS_MAX, 0))
        return le__cfg_err(e, "ns must be a namespace name (DNS-1123 label: "
                              "a-z, 0-9, '-', at most 63)");
    if (!c->name || !le__dns1123(c->name, LE__NAME_MAX, 1))
        return le__cfg_err(e, "name must be a DNS-1123 subdomain (a-z, 0-9, "
                              "'-', '.', at most 253)");
    if (!c->identity || !c->identity[0])
        return le__cfg_err(e, "identity is empty: give each replica a unique "
                              "one (e.g. the pod name)");
    e->id_len = strlen(c->identity);
    if (e->id_len > LE_IDENTITY_MAX)
        return le__cfg_err(e, "identity is longer than LE_IDENTITY_MAX");
    for (i = 0; i < e->id_len; i++)
        if ((unsigned char)c->identity[i] < 0x20 || c->identity[i] == 0x7f)
            return le__cfg_err(e, "identity contains control characters");
    if (c->host && (strlen(c->host) > LE__HOST_MAX || strpbrk(c->host, "\r\n ")))
        return le__cfg_err(e, "host is too long or has spaces/line breaks");
    if (c->user_agent && (strlen(c->user_agent) >= sizeof e->ua ||
                          strpbrk(c->user_agent, "\r\n")))
        return le__cfg_err(e, "user_agent is too long or has line breaks");
    le__copy(e->ns, c->ns);
    le__copy(e->name, c->name);
    le__copy(e->id, c->identity);
    le__copy(e->host, c->host ? c->host : "kubernetes.default.svc");
    le__copy(e->ua, c->user_agent ? c->user_agent : "le.h/0.1");
    e->token = c->token;
    e->release = !c->keep_on_stop;
    e->rand32 = c->rand32;
    for (i = 0; i < e->id_len; i++) h = (h ^ (unsigned char)e->id[i]) * 1099511628211ULL;
    e->rng = le__mix(c->seed ^ h);
    e->on_event = c->on_event;
    e->user = c->user;
    e->state = LE__IDLE;
    e->next_at = INT64_MIN;
    e->term = -1;
    le__on_settings(e);
    return 0;
}

LEDEF void le_set_token(le_elector *e, const char *token) { e->token = token; }

/* ---- time and jitter ---------------------------------------------------- */

/* RFC 3339 with exactly six fractional digits, UTC: the API's MicroTime. */
static void le__microtime(le__sb *b, int64_t us) {
    int64_t s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - s * 1000000;
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int64_t sod = s - days * 86400;
    /* civil date from days since 1970-01-01 (proleptic Gregorian) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    if (y < 0) y = 0;
    if (y > 9999) y = 9999;
    le__putw(b, y, 4); le__put(b, "-", 1);
    le__putw(b, m, 2); le__put(b, "-", 1);
    le__putw(b, d, 2); le__put(b, "T", 1);
    le__putw(b, sod / 3600, 2); le__put(b, ":", 1);
    le__putw(b, sod / 60 % 60, 2); le__put(b, ":", 1);
    le__putw(b, sod % 60, 2); le__put(b, ".", 1);
    le__putw(b, frac, 6); le__put(b, "Z", 1);
}

static uint32_t le__rand(le_elector *e) {
    if (e->rand32) return e->rand32(e->user);
    e->rng += 0x9e3779b97f4a7c15ULL;
    return (uint32_t)(le__mix(e->rng) >> 32);
}

/* client-go's wait.Jitter(d, 1.2): d + [0, 1.2 d) */
static int64_t le__jitter(le_elector *e, int32_t d) {
    uint64_t span = (uint64_t)d * 6 / 5;
    return d + (int64_t)((span * le__rand(e)) >> 32);
}

/* ---- requests ----------------------------------------------------------- */

static void le__put_escaped(le__sb *b, const char *s, size_t n) {
    size_t i, run = 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            le__put(b, s + run, i - run);
            le__put(b, "\\", 1);
            run = i;
        }
    }
    le__put(b, s + run, n - run);
}

static void le__put_ts(le__sb *b, const char *ts) {
    if (!ts[0]) { le__puts(b, "null"); return; }
    le__put(b, "\"", 1);
    le__puts(b, ts);
    le__put(b, "\"", 1);
}

/* Our spec members, then the ones we do not own, verbatim. */
static void le__put_spec(le_elector *e, le__sb *b, int release,
                         const char *acquire, const char *renew,
                         int32_t transitions, const le__objinfo *oi) {
    int i;
    le__puts(b, "{\"holderIdentity\":\"");
    if (!release) le__put_escaped(b, e->id, e->id_len);
    le__puts(b, "\",\"leaseDurationSeconds\":");
    le__puti(b, release ? 1 : e->lease_ms / 1000);
    le__puts(b, ",\"acquireTime\":");
    le__put_ts(b, acquire);
    le__puts(b, ",\"renewTime\":");
    le__put_ts(b, renew);
    le__puts(b, ",\"leaseTransitions\":");
    le__puti(b, transitions);
    for (i = 0; oi && i < oi->nforeign; i++) {
        le__put(b, ",", 1);
        le__put(b, e->buf[e->cur] + oi->foreign[i][0],
                (size_t)(oi->foreign[i][1] - oi->foreign[i][0]));
    }
    le__put(b, "}", 1);
}

static int le__token_ok(const char *t) {
    for (; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) return 0;
    return 1;
}

/* Builds the request for e->op into e->out. */
static int le__build(le_elector *e, le_time now) {
    static const char *const meth[] = {"", "GET", "POST", "PUT", "PUT", "PUT",
                                       "GET"};
    le__sb b;
    size_t cl_at = 0, body_at, body_len;
    int has_body = e->op != LE__GET && e->op != LE__RELEASE_GET;
    b.p = e->out; b.cap = sizeof e->out; b.len = 0; b.over = 0;
    if (e->token && !le__token_ok(e->token))
        return le__fail_msg(e, LE_EINVAL, now.mono_ms,
            "the bearer token has spaces, line breaks or non-ASCII bytes; "
            "strip the token file's trailing newline", 0);
    le__puts(&b, meth[e->op]);
    le__puts(&b, " " LE__API);
    le__puts(&b, e->ns);
    le__puts(&b, "/leases");
    if (e->op != LE__CREATE) { le__puts(&b, "/"); le__puts(&b, e->name); }
    le__puts(&b, " HTTP/1.1\r\nHost: ");
    le__puts(&b, e->host);
    le__puts(&b, "\r\nUser-Agent: ");
    le__puts(&b, e->ua);
    if (e->token && e->token[0]) {
        le__puts(&b, "\r\nAuthorization: Bearer ");
        le__puts(&b, e->token);
    }
    le__puts(&b, "\r\nAccept: application/json\r\n");
    if (has_body) {
        le__puts(&b, "Content-Type: application/json\r\nContent-Length: ");
        cl_at = b.len;
        if (b.cap - b.len < 24) b.over = 1; /* room for digits, blank line */
        else b.len += 24;
    } else {
        le__puts(&b, "\r\n");
    }
    body_at = b.len;
    if (has_body) {
        char ts[LE__TS_MAX + 1];
        le__sb t;
        t.p = ts; t.cap = sizeof ts; t.len = 0; t.over = 0;
        le__microtime(&t, now.wall_us);
        le__cstr(&t);
        if (e->op == LE__CREATE) {
            le__puts(&b, "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":"
                         "\"Lease\",\"metadata\":{\"name\":\"");
            le__puts(&b, e->name);
            le__puts(&b, "\",\"namespace\":\"");
            le__puts(&b, e->ns);
            le__puts(&b, "\"},\"spec\":");
            le__put_spec(e, &b, 0, ts, ts, 0, 0);
            le__puts(&b, "}");
        } else {
            /* PUT of the object as read: only spec's own members change, the
               resourceVersion in it makes the write conditional. */
            const char *o = e->buf[e->cur];
            const le__objinfo *oi = &e->obj;
            int ours = e->obs.holder_len == e->id_len &&
                       !memcmp(e->obs.holder, e->id, e->id_len);
            int release = e->op == LE__RELEASE;
            const char *acq = release ? ts : ours ? e->obs.acquire : ts;
            int32_t tr = e->obs.transitions;
            if (!ours && !release) tr = tr == INT32_MAX ? 0 : tr + 1;
            if (oi->spec_s >= 0) {
                le__put(&b, o, (size_t)oi->spec_s);
                le__put_spec(e, &b, release, acq, ts, tr, oi);
                le__put(&b, o + oi->spec_e, oi->len - (size_t)oi->spec_e);
            } else {
                le__put(&b, o, (size_t)oi->close);
                le__puts(&b, ",\"spec\":");
                le__put_spec(e, &b, release, acq, ts, tr, 0);
                le__put(&b, o + oi->close, oi->len - (size_t)oi->close);
            }
        }
    }
    if (b.over)
        return le__fail_msg(e, LE_ETOOBIG, now.mono_ms,
            "the request does not fit LE_REQ_MAX bytes (a long token or a large "
            "Lease object); define LE_REQ_MAX larger", 0);
    if (has_body) {
        le__sb h;
        size_t hl;
        body_len = b.len - body_at;
        h.p = e->out + cl_at; h.cap = 24; h.len = 0; h.over = 0;
        le__puti(&h, (int64_t)body_len);
        le__puts(&h, "\r\n\r\n");
        hl = h.len;
        memmove(e->out + cl_at + hl, e->out + body_at, body_len);
        b.len = cl_at + hl + body_len;
    }
    e->out_len = b.len;
    e->out_sent = 0;
    return 0;
}

/* ---- HTTP replies (llhttp) ---------------------------------------------- */

#define LE__SELF(p) ((le_elector *)(p)->data)

static int le__h_field(llhttp_t *p, const char *at, size_t n) {
    le_elector *e = LE__SELF(p);
    size_t k = sizeof e->hname - e->hname_len;
    memcpy(e->hname + e->hname_len, at, n < k ? n : k);
    e->hname_len += n < k ? n : k;
    return 0;
}
static int le__h_field_done(llhttp_t *p) {
    le_elector *e = LE__SELF(p);
    static const char ra[] = "retry-after";
    size_t i;
    e->hdr_ra = e->hname_len == sizeof ra - 1;
    for (i = 0; e->hdr_ra && i < sizeof ra - 1; i++)
        if ((e->hname[i] | 0x20) != ra[i]) e->hdr_ra = 0;
    e->hname_len = 0;
    e->hval_len = 0;
    return 0;
}
static int le__h_value(llhttp_t *p, const char *at, size_t n) {
    le_elector *e = LE__SELF(p);
    size_t k = sizeof e->hval - e->hval_len;
    if (!e->hdr_ra) return 0;
    memcpy(e->hval + e->hval_len, at, n < k ? n : k);
    e->hval_len += n < k ? n : k;
    return 0;
}
static int le__h_value_done(llhttp_t *p) {
    le_elector *e = LE__SELF(p);
    size_t i;
    int64_t v = 0;
    if (!e->hdr_ra) return 0;
    /* delta-seconds only; an HTTP-date falls back to the retry period */
    for (i = 0; i < e->hval_len && i < 8; i++) {
        if (e->hval[i] < '0' || e->hval[i] > '9') return 0;
        v = v * 10 + (e->hval[i] - '0');
    }
    if (i == e->hval_len && i > 0) e->retry_after_ms = (v > 600 ? 600 : v) * 1000;
    return 0;
}
static int le__h_headers_done(llhttp_t *p) {
    LE__SELF(p)->keep_alive = llhttp_should_keep_alive(p);
    return 0;
}
static int le__h_body(llhttp_t *p, const char *at, size_t n) {
    le_elector *e = LE__SELF(p);
    if (n > LE_BODY_MAX - e->body_len) {
        e->body_over = 1;
        return -1;
    }
    memcpy(e->buf[e->cur ^ 1] + e->body_len, at, n);
    e->body_len += n;
    return 0;
}
static int le__h_done(llhttp_t *p) {
    le_elector *e = LE__SELF(p);
    if (llhttp_get_status_code(p) / 100 == 1) { /* interim reply: skip */
        e->body_len = 0;
        return 0;
    }
    e->msg_done = 1;
    e->status = llhttp_get_status_code(p);
    return HPE_PAUSED;
}

static void le__on_settings(le_elector *e) {
    llhttp_settings_init(&e->hs);
    e->hs.on_header_field = le__h_field;
    e->hs.on_header_field_complete = le__h_field_done;
    e->hs.on_header_value = le__h_value;
    e->hs.on_header_value_complete = le__h_value_done;
    e->hs.on_headers_complete = le__h_headers_done;
    e->hs.on_body = le__h_body;
    e->hs.on_message_complete = le__h_done;
}

/* ---- JSON (jsmn) ----------------------------------------------------------- */

typedef struct le__json { const char *s; jsmntok_t *t; int n; } le__json;

static int le__skip(const le__json *j, int i) { /* index after i's subtree */
    int left = 1;
    while (left > 0 && i < j->n) { left += j->t[i].size - 1; i++; }
    return i;
}
static int le__is(const le__json *j, int i, const char *lit) {
    const jsmntok_t *t = &j->t[i];
    size_t n = strlen(lit);
    return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n &&
           !memcmp(j->s + t->start, lit, n);
}
static int le__null(const le__json *j, int i) {
    return j->t[i].type == JSMN_PRIMITIVE && j->s[j->t[i].start] == 'n';
}
static int le__hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}
/* Decoded JSON string into out (NUL-terminated); its length, or -1 if it
   does not fit or is malformed. */
static long le__unescape(const le__json *j, int i, char *out, size_t cap) {
    const char *s = j->s + j->t[i].start, *end = j->s + j->t[i].end;
    size_t n = 0;
    if (j->t[i].type != JSMN_STRING) return -1;
    while (s < end) {
        unsigned long cp;
        char c = *s++;
        if (c != '\\') { if (n + 1 >= cap) return -1; out[n++] = c; continue; }
        if (s >= end) return -1;
        c = *s++;
        switch (c) {
        case '"': case '\\': case '/': cp = (unsigned char)c; break;
        case 'b': cp = 8; break;
        case 'f': cp = 12; break;
        case 'n': cp = 10; break;
        case 'r': cp = 13; break;
        case 't': cp = 9; break;
        case 'u': {
            int k;
            cp = 0;
            if (end - s < 4) return -1;
            for (k = 0; k < 4; k++) {
                int h = le__hex(*s++);
                if (h < 0) return -1;
                cp = cp << 4 | (unsigned long)h;
            }
            if (cp >= 0xd800 && cp < 0xdc00) { /* surrogate pair */
                unsigned long lo = 0;
                if (end - s < 6 || s[0] != '\\' || s[1] != 'u') return -1;
                s += 2;
                for (k = 0; k < 4; k++) {
                    int h = le__hex(*s++);
                    if (h < 0) return -1;
                    lo = lo << 4 | (unsigned long)h;
                }
                if (lo < 0xdc00 || lo > 0xdfff) return -1;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) return -1;
            break;
        }
        default: return -1;
        }
        if (n + 4 >= cap) return -1;
        if (cp < 0x80) out[n++] = (char)cp;
        else if (cp < 0x800) {
            out[n++] = (char)(0xc0 | cp >> 6);
            out[n++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[n++] = (char)(0xe0 | cp >> 12);
            out[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[n++] = (char)(0xf0 | cp >> 18);
            out[n++] = (char)(0x80 | (cp >> 12 & 0x3f));
            out[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    out[n] = 0;
    return (long)n;
}
/* JSON integer within int32 (no fraction, no exponent); 0 on success. */
static int le__int32(const le__json *j, int i, int32_t *v) {
    const char *s = j->s + j->t[i].start, *end = j->s + j->t[i].end;
    int neg = 0;
    int64_t x = 0;
    if (j->t[i].type != JSMN_PRIMITIVE) return -1;
    if (s < end && *s == '-') { neg = 1; s++; }
    if (s >= end || (*s == '0' && end - s > 1)) return -1;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9') return -1;
        x = x * 10 + (*s - '0');
        if (x > (int64_t)INT32_MAX + neg) return -1;
    }
    *v = (int32_t)(neg ? -x : x);
    return 0;
}
static int le__ts(const le__json *j, int i, char *out) {
    const jsmntok_t *t = &j->t[i];
    int k;
    if (le__null(j, i)) { out[0] = 0; return 0; }
    if (t->type != JSMN_STRING || t->end - t->start > LE__TS_MAX ||
        t->end == t->start)
        return -1;
    for (k = t->start; k < t->end; k++) {
        char c = j->s[k];
        if (!((c >= '0' && c <= '9') || c == 'T' || c == 'Z' || c == ':' ||
              c == '.' || c == '-' || c == '+'))
            return -1;
    }
    memcpy(out, j->s + t->start, (size_t)(t->end - t->start));
    out[t->end - t->start] = 0;
    return 0;
}

static int le__tokenize(le_elector *e, le__json *j, const char *s, size_t n,
                        int64_t now, const char *what) {
    jsmn_parser p;
    size_t k;
    jsmn_init(&p);
    j->s = s;
    j->n = jsmn_parse(&p, s, n, j->t, LE_JSON_TOKENS);
    if (j->n == JSMN_ERROR_NOMEM)
        return le__fail_msg(e, LE_ETOOBIG, now, what,
            " has more than LE_JSON_TOKENS JSON tokens; define it larger");
    if (j->n == JSMN_ERROR_PART)
        return le__fail_msg(e, LE_EJSON, now, what, " is truncated JSON");
    if (j->n <= 0 || j->t[0].type != JSMN_OBJECT || le__skip(j, 0) != j->n)
        return le__fail_msg(e, LE_EJSON, now, what,
                            " is not a single valid JSON object");
    for (k = (size_t)j->t[0].end; k < n; k++)
        if (s[k] != ' ' && s[k] != '\n' && s[k] != '\r' && s[k] != '\t')
            return le__fail_msg(e, LE_EJSON, now, what,
                                " has bytes after its JSON object");
    return 0;
}

static int le__bad_lease(le_elector *e, int64_t now, const char *why) {
    return le__fail_msg(e, LE_ELEASE, now, "the API server's reply is not a "
                        "usable Lease: ", why);
}

/* Parses a Lease object: record, spans; checks name and resourceVersion. */
static int le__parse_lease(le_elector *e, const char *s, size_t n,
                           le__record *r, le__objinfo *oi, int64_t now) {
    jsmntok_t toks[LE_JSON_TOKENS];
    le__json j;
    char tmp[LE__NAME_MAX + 2];
    int i, err, have_name = 0, have_rv = 0, seen = 0;
    j.t = toks;
    if ((err = le__tokenize(e, &j, s, n, now, "the Lease in the reply")))
        return err;
    memset(r, 0, sizeof *r);
    oi->len = n;
    oi->spec_s = oi->spec_e = -1;
    oi->close = j.t[0].end - 1;
    oi->nforeign = 0;
    for (i = 1; i < j.n;) {
        int k = i, v = i + 1;
        i = le__skip(&j, v);
        if (le__is(&j, k, "kind")) {
            if (!le__is(&j, v, "Lease"))
                return le__bad_lease(e, now, "kind is not \"Lease\"");
        } else if (le__is(&j, k, "apiVersion")) {
            if (!le__is(&j, v, "coordination.k8s.io/v1"))
                return le__bad_lease(e, now,
                                     "apiVersion is not coordination.k8s.io/v1");
        } else if (le__is(&j, k, "metadata")) {
            int m;
            if (j.t[v].type != JSMN_OBJECT)
                return le__bad_lease(e, now, "metadata is not an object");
            for (m = v + 1; m < i;) {
                int mk = m, mv = m + 1;
                m = le__skip(&j, mv);
                if (le__is(&j, mk, "name")) {
                    if (le__unescape(&j, mv, tmp, sizeof tmp) < 0 ||
                        strcmp(tmp, e->name))
                        return le__bad_lease(e, now, "metadata.name is not the "
                                             "Lease this elector uses");
                    have_name = 1;
                } else if (le__is(&j, mk, "namespace")) {
                    if (le__unescape(&j, mv, tmp, sizeof tmp) < 0 ||
                        strcmp(tmp, e->ns))
                        return le__bad_lease(e, now, "metadata.namespace is not "
                                             "this elector's namespace");
                } else if (le__is(&j, mk, "resourceVersion")) {
                    if (j.t[mv].type != JSMN_STRING || j.t[mv].end == j.t[mv].start)
                        return le__bad_lease(e, now, "resourceVersion is empty");
                    have_rv = 1;
                }
            }
        } else if (le__is(&j, k, "spec")) {
            int m;
            oi->spec_s = j.t[v].start;
            oi->spec_e = j.t[v].end;
            if (le__null(&j, v)) continue; /* replaced as a whole */
            if (j.t[v].type != JSMN_OBJECT)
                return le__bad_lease(e, now, "spec is not an object");
            for (m = v + 1; m < i;) {
                int mk = m, mv = m + 1, bit = 0;
                m = le__skip(&j, mv);
                if (le__is(&j, mk, "holderIdentity")) {
                    long l = 0;
                    bit = 1;
                    if (!le__null(&j, mv) &&
                        (l = le__unescape(&j, mv, r->holder, sizeof r->holder)) < 0)
                        return le__bad_lease(e, now, "holderIdentity is not a "
                            "string of at most LE_IDENTITY_MAX bytes");
                    r->holder_len = (size_t)l;
                } else if (le__is(&j, mk, "leaseDurationSeconds")) {
                    bit = 2;
                    if (!le__null(&j, mv) &&
                        (le__int32(&j, mv, &r->dur_s) || r->dur_s < 0))
                        return le__bad_lease(e, now, "leaseDurationSeconds is "
                            "not a non-negative 32-bit integer");
                } else if (le__is(&j, mk, "acquireTime")) {
                    bit = 4;
                    if (le__ts(&j, mv, r->acquire))
                        return le__bad_lease(e, now, "acquireTime is not a "
                                             "timestamp");
                } else if (le__is(&j, mk, "renewTime")) {
                    bit = 8;
                    if (le__ts(&j, mv, r->renew))
                        return le__bad_lease(e, now, "renewTime is not a "
                                             "timestamp");
                } else if (le__is(&j, mk, "leaseTransitions")) {
                    bit = 16;
                    if (!le__null(&j, mv) &&
                        (le__int32(&j, mv, &r->transitions) || r->transitions < 0))
                        return le__bad_lease(e, now, "leaseTransitions is not a "
                            "non-negative 32-bit integer");
                } else {
                    int end = j.t[mv].end + (j.t[mv].type == JSMN_STRING);
                    if (oi->nforeign == LE__FOREIGN_MAX)
                        return le__bad_lease(e, now, "spec has too many fields");
                    oi->foreign[oi->nforeign][0] = j.t[mk].start - 1;
                    oi->foreign[oi->nforeign][1] = end;
                    oi->nforeign++;
                }
                if (seen & bit)
                    return le__bad_lease(e, now, "spec has a duplicate field");
                seen |= bit;
            }
        }
    }
    if (!have_name) return le__bad_lease(e, now, "metadata.name is missing");
    if (!have_rv)
        return le__bad_lease(e, now, "metadata.resourceVersion is missing, so "
                             "no write could be conditional");
    return 0;
}

/* Error message for a non-success status, from the API's Status object. */
static int le__status_err(le_elector *e, int64_t now) {
    static const char *const verb[] = {"", "get", "create", "update", "update",
                                       "update", "get"};
    const char *body = e->buf[e->cur ^ 1];
    jsmntok_t toks[64];
    le__json j;
    le__sb b = le__err_begin(e);
    int st = e->status, err, i, msg = -1;
    jsmn_parser p;
    j.t = toks;
    j.s = body;
    jsmn_init(&p);
    j.n = jsmn_parse(&p, body, e->body_len, toks, 64);
    if (j.n > 0 && toks[0].type == JSMN_OBJECT)
        for (i = 1; i < j.n; i = le__skip(&j, i + 1))
            if (le__is(&j, i, "message") && j.t[i + 1].type == JSMN_STRING)
                msg = i + 1;
    le__puts(&b, "HTTP ");
    le__puti(&b, st);
    le__puts(&b, " from the API server on ");
    le__puts(&b, verb[e->op]);
    le__puts(&b, " lease ");
    le__puts(&b, e->ns);
    le__puts(&b, "/");
    le__puts(&b, e->name);
    le__puts(&b, ": ");
    switch (st) {
    case 401:
        err = LE_EUNAUTHORIZED;
        le__puts(&b, "the bearer token was rejected (expired, revoked, or "
                     "issued by another cluster). Fix: use a current token; the "
                     "bundled transport re-reads the token file after a 401");
        break;
    case 403:
        err = LE_EFORBIDDEN;
        le__puts(&b, "RBAC does not allow verb '");
        le__puts(&b, verb[e->op]);
        le__puts(&b, "' on leases. Fix: bind a Role with the rule {apiGroups: "
                     "[\"coordination.k8s.io\"], resources: [\"leases\"], verbs: "
                     "[\"get\", \"create\", \"update\"]} to this service account");
        break;
    case 404:
        err = LE_ENOTFOUND;
        le__puts(&b, "namespace '");
        le__puts(&b, e->ns);
        le__puts(&b, "' does not exist, or the API server does not serve "
                     "coordination.k8s.io/v1");
        break;
    case 409: err = LE_ECONFLICT; le__puts(&b, "conflict"); break;
    case 422:
        err = LE_EINVALID;
        le__puts(&b, "the API server rejected the Lease as invalid");
        break;
    case 429:
        err = LE_ETHROTTLED;
        le__puts(&b, "throttled by the API server; retrying later");
        break;
    default:
        err = st >= 500 && st < 600 ? LE_ESERVER : LE_EHTTP;
        le__puts(&b, st >= 500 ? "server-side failure; retrying"
                               : "unexpected status");
    }
    if (msg >= 0) {
        char text[256];
        long n = le__unescape(&j, msg, text, sizeof text);
        le__puts(&b, ". Server says: ");
        if (n >= 0) le__put_clean(&b, text, (size_t)n, 200);
        else le__put_clean(&b, body + toks[msg].start,
                           (size_t)(toks[msg].end - toks[msg].start), 200);
    }
    return le__err_end(e, &b, err, st, now);
}

/* ---- the election ------------------------------------------------------- */

static int le__ours(const le_elector *e) {
    return e->obs.holder_len == e->id_len &&
           !memcmp(e->obs.holder, e->id, e->id_len);
}

static void le__stop_leading(le_elector *e, int64_t now, le_stop_reason why) {
    le_event ev;
    if (!e->leading) return;
    e->leading = 0;
    memset(&ev, 0, sizeof ev);
    ev.type = LE_EV_STOPPED_LEADING;
    ev.mono_ms = now;
    ev.term = e->term;
    ev.reason = why;
    le__emit(e, &ev);
}

/* The one place a Lease record enters the state machine, whichever way it
   arrived. Expiry restarts whenever the record changes. */
static void le__observe(le_elector *e, int64_t now, const le__record *r) {
    le__record *o = &e->obs;
    if (!e->have_obs || o->holder_len != r->holder_len ||
        memcmp(o->holder, r->holder, r->holder_len) || o->dur_s != r->dur_s ||
        o->transitions != r->transitions || strcmp(o->acquire, r->acquire) ||
        strcmp(o->renew, r->renew)) {
        *o = *r;
        e->have_obs = 1;
        e->obs_at = now;
    }
    if (!e->have_reported || strcmp(e->reported, o->holder)) {
        le_event ev;
        memcpy(e->reported, o->holder, o->holder_len + 1);
        e->have_reported = 1;
        memset(&ev, 0, sizeof ev);
        ev.type = LE_EV_NEW_LEADER;
        ev.mono_ms = now;
        ev.leader = e->reported;
        le__emit(e, &ev);
    }
}

static int64_t le__expiry(const le_elector *e) {
    return e->obs_at + (int64_t)e->obs.dur_s * 1000;
}

static void le__done(le_elector *e) {
    e->state = LE__DONE;
    e->close_conn = 1;
}

/* Wait before the next attempt: the leader retries every RetryPeriod,
   followers with jitter, and a server's Retry-After is honoured. */
static void le__retry_later(le_elector *e, int64_t now) {
    int64_t d = e->leading ? e->retry_ms : le__jitter(e, e->retry_ms);
    if (e->retry_after_ms > d) d = e->retry_after_ms;
    e->next_op = LE__NONE;
    e->next_at = now + d;
    e->conflicts = 0;
    e->fast_failed = 0;
}

static void le__again(le_elector *e, int64_t now, int op) {
    e->next_op = op;
    e->next_at = now;
}

/* A request failed (error already reported). */
static void le__failed(le_elector *e, int64_t now) {
    e->state = LE__IDLE;
    if (e->stopping) {
        le__done(e);
        return;
    }
    if (e->op == LE__RENEW && !e->fast_failed) {
        e->fast_failed = 1; /* client-go: fast path failed, try the slow path */
        le__again(e, now, LE__GET);
        return;
    }
    le__retry_later(e, now);
}

static void le__won(le_elector *e, int64_t now) {
    int64_t until = e->req_sent + e->renew_ms;
    e->conflicts = 0;
    e->fast_failed = 0;
    e->next_op = LE__NONE;
    e->next_at = now + e->retry_ms;
    if (now > until) return; /* too late to count: renew again first */
    e->lead_until = until;
    if (!e->leading) {
        le_event ev;
        e->leading = 1;
        e->term = e->obs.transitions;
        memset(&ev, 0, sizeof ev);
        ev.type = LE_EV_STARTED_LEADING;
        ev.mono_ms = now;
        ev.term = e->term;
        le__emit(e, &ev);
    }
}

/* After a GET: follow, or try to take or keep the Lease. */
static void le__decide(le_elector *e, int64_t now) {
    int ours = le__ours(e);
    if (e->leading && !ours) le__stop_leading(e, now, LE_STOP_LOST);
    if (e->obs.holder_len && !ours && now < le__expiry(e)) {
        int64_t at;
        le__retry_later(e, now);
        at = le__expiry(e); /* poll exactly when it would expire, if sooner */
        if (at < e->next_at && e->retry_after_ms == 0) e->next_at = at;
        return;
    }
    le__again(e, now, LE__UPDATE);
}

/* A complete reply to e->op is in buf[cur ^ 1]. */
static int le__on_reply(le_elector *e, int64_t now) {
    le__record r;
    le__objinfo oi;
    int st = e->status, op = e->op, err;
    const char *body = e->buf[e->cur ^ 1];
    e->state = LE__IDLE;
    if (!e->keep_alive) e->close_conn = 1;
    if (st == 200 || (st == 201 && op == LE__CREATE)) {
        if ((err = le__parse_lease(e, body, e->body_len, &r, &oi, now))) {
            le__failed(e, now);
            return err;
        }
        if (op != LE__GET && op != LE__RELEASE_GET) {
            size_t hl = op == LE__RELEASE ? 0 : e->id_len;
            if (r.holder_len != hl || memcmp(r.holder, e->id, hl)) {
                err = le__bad_lease(e, now, "a successful write returned "
                                    "another holder");
                le__failed(e, now);
                return err;
            }
        }
        e->cur ^= 1; /* the reply becomes the cached object */
        e->obj = oi;
        e->have_obj = 1;
        le__observe(e, now, &r);
        switch (op) {
        case LE__GET: le__decide(e, now); break;
        case LE__RELEASE_GET:
            if (le__ours(e)) le__again(e, now, LE__RELEASE);
            else le__done(e);
            break;
        case LE__RELEASE: le__done(e); break;
        default: le__won(e, now);
        }
        return 0;
    }
    if (op == LE__GET && st == 404) { /* no Lease yet: create it, holding it */
        le__again(e, now, LE__CREATE);
        return 0;
    }
    if (st == 409 || (st == 404 && op != LE__CREATE)) {
        /* somebody else wrote (or deleted) first: re-read, once per cycle */
        if (e->stopping) {
            if (op == LE__RELEASE && !e->release_retried) {
                e->release_retried = 1;
                le__again(e, now, LE__RELEASE_GET);
            } else {
                le__done(e);
            }
            return 0;
        }
        if (e->conflicts++ == 0 || op == LE__CREATE) {
            le__again(e, now, LE__GET);
            return 0;
        }
        le__retry_later(e, now);
        return 0;
    }
    err = le__status_err(e, now);
    le__failed(e, now);
    return err;
}

static void le__timeout(le_elector *e, int64_t now) {
    le__sb b = le__err_begin(e);
    le__puts(&b, "no complete reply within ");
    le__puti(&b, e->req_until - e->req_sent);
    le__puts(&b, " ms; the connection is dropped (a hung API server or "
                 "network path)");
    le__err_end(e, &b, LE_ETIMEDOUT, 0, now);
    e->close_conn = 1;
    le__failed(e, now);
}

LEDEF le_action le_next(le_elector *e, le_time now) {
    le_action a;
    int64_t t = now.mono_ms;
    LE_ASSERT(!e->in_cb);
    memset(&a, 0, sizeof a);
    if (e->leading && t > e->lead_until)
        le__stop_leading(e, t, LE_STOP_DEADLINE);
    if (e->stopping && e->state != LE__DONE && t >= e->stop_until) {
        le__fail_msg(e, LE_ETIMEDOUT, t, "the release did not complete within "
                     "renew_deadline_ms; the Lease will expire on its own", 0);
        le__done(e);
    }
    if ((e->state == LE__SENDING || e->state == LE__WAITING) && t >= e->req_until)
        le__timeout(e, t);
    if (e->close_conn) {
        e->close_conn = 0;
        a.want = LE_WANT_CLOSE;
        a.deadline = t;
        return a;
    }
    if (e->state == LE__DONE) {
        a.want = LE_WANT_DONE;
        a.deadline = LE__FAR;
        return a;
    }
    if (e->state == LE__IDLE && t >= e->next_at) {
        e->op = e->next_op;
        if (e->op == LE__NONE)
            e->op = e->stopping ? LE__RELEASE
                  : (e->leading && e->have_obj) ? LE__RENEW : LE__GET;
        e->next_op = LE__NONE;
        e->retry_after_ms = 0;
        if (le__build(e, now)) {
            le__failed(e, t);
            return le_next(e, now);
        }
        e->state = LE__SENDING;
        e->req_sent = t;
        e->req_until = t + e->timeout_ms;
        /* a leader's request may not outlive its leadership */
        if (e->leading && e->req_until > e->lead_until + 1)
            e->req_until = e->lead_until + 1;
        if (e->stopping && e->req_until > e->stop_until)
            e->req_until = e->stop_until;
    }
    if (e->state == LE__SENDING) {
        a.want = LE_WANT_SEND;
        a.data = e->out + e->out_sent;
        a.len = e->out_len - e->out_sent;
        a.deadline = e->req_until;
    } else if (e->state == LE__WAITING) {
        a.want = LE_WANT_RECV;
        a.deadline = e->req_until;
    } else {
        a.want = LE_WANT_WAIT;
        a.deadline = e->next_at;
        if (e->leading && e->lead_until + 1 < a.deadline)
            a.deadline = e->lead_until + 1;
    }
    return a;
}

LEDEF void le_sent(le_elector *e, le_time now, size_t n) {
    LE_ASSERT(!e->in_cb);
    (void)now;
    if (e->state != LE__SENDING) return;
    LE_ASSERT(n <= e->out_len - e->out_sent);
    e->out_sent += n;
    if (e->out_sent < e->out_len) return;
    e->state = LE__WAITING;
    llhttp_init(&e->http, HTTP_RESPONSE, &e->hs);
    e->http.data = e;
    e->msg_done = e->body_over = e->status = 0;
    e->keep_alive = 1;
    e->body_len = e->hname_len = e->hval_len = 0;
    e->hdr_ra = 0;
}

LEDEF int le_feed(le_elector *e, le_time now, const void *data, size_t n) {
    llhttp_errno_t rc;
    int64_t t = now.mono_ms;
    LE_ASSERT(!e->in_cb);
    if (e->state != LE__WAITING) {
        if (n == 0) return 0; /* an idle connection closed: fine */
        e->close_conn = 1;    /* bytes nobody asked for: drop the connection */
        return le__fail_msg(e, LE_EPROTO, t, "the server sent bytes while no "
                            "request was waiting for a reply", 0);
    }
    if (n == 0) {
        llhttp_finish(&e->http); /* completes a body delimited by the close */
        if (!e->msg_done) {
            int err = le__fail_msg(e, LE_EIO, t, "the connection closed before "
                                   "the reply was complete", 0);
            le__failed(e, t);
            return err;
        }
        e->keep_alive = 0;
    } else {
        rc = llhttp_execute(&e->http, (const char *)data, n);
        if (rc == HPE_PAUSED) {
            const char *pos = llhttp_get_error_pos(&e->http);
            if (pos && pos < (const char *)data + n) e->keep_alive = 0;
        } else if (rc != HPE_OK) {
            int err;
            e->close_conn = 1;
            if (e->body_over)
                err = le__fail_msg(e, LE_ETOOBIG, t, "the reply body is larger "
                                   "than LE_BODY_MAX bytes; define LE_BODY_MAX "
                                   "larger", 0);
            else
                err = le__fail_msg(e, LE_EPROTO, t, "malformed HTTP reply: ",
                                   llhttp_get_error_reason(&e->http));
            le__failed(e, t);
            return err;
        }
        if (!e->msg_done) return 0;
    }
    return le__on_reply(e, t);
}

LEDEF void le_io_error(le_elector *e, le_time now, int err, const char *detail) {
    LE_ASSERT(!e->in_cb);
    if (e->state != LE__SENDING && e->state != LE__WAITING) return;
    le__fail_msg(e, err, now.mono_ms, detail ? detail : le_strerror(err), 0);
    le__failed(e, now.mono_ms);
}

LEDEF void le_stop(le_elector *e, le_time now) {
    int64_t t = now.mono_ms;
    LE_ASSERT(!e->in_cb);
    if (e->stopping || e->state == LE__DONE) return;
    e->stopping = 1;
    e->stop_until = t + e->renew_ms;
    if (e->state != LE__IDLE) { /* abandon the exchange in flight */
        e->state = LE__IDLE;
        e->close_conn = 1;
    }
    le__stop_leading(e, t, LE_STOP_CANCEL);
    if (e->release && e->have_obj && le__ours(e)) le__again(e, t, LE__RELEASE);
    else le__done(e);
}

LEDEF int le_is_leader(const le_elector *e, int64_t mono_ms) {
    return e->leading && mono_ms <= e->lead_until;
}
LEDEF int64_t le_term(const le_elector *e) { return e->term; }
LEDEF const char *le_leader(const le_elector *e) { return e->obs.holder; }

/* ---- StatefulSet ordinal -------------------------------------------------- */

LEDEF int le_ordinal(const char *pod, long *ordinal) {
    const char *d;
    long v = 0;
    if (!pod || !*pod) return LE_EINVAL;
    d = strrchr(pod, '-');
    d = d ? d + 1 : pod;
    if (d != pod && d - pod < 2) return LE_EINVAL; /* "-3": no set name */
    if (!*d || (*d == '0' && d[1])) return LE_EINVAL;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || v > 99999999) return LE_EINVAL;
        v = v * 10 + (*d - '0');
    }
    *ordinal = v;
    return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* LE_IMPLEMENTATION */

/* The HTTPS transport, in-cluster configuration and runners. */
#ifdef LE_HTTPS
#include "le_https.h"
#endif
