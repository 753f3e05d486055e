/* le.h - Kubernetes leader election in one C header.          v0.1.0
   Exactly one replica of a deployment leads; another takes over within
   seconds when it dies or leaves.

   TL;DR ------------------------------------------------------------------

     #define LE_IMPLEMENTATION          // in exactly one .c file
     #include "le.h"

     le_elector e;                       // ~90 KB: static, heap or a big stack
     le_config c = {0};                  // zero = default, see le_config
     c.ns = "default"; c.name = "my-app"; c.identity = pod_name;
     c.on_event = on_event; c.user = &app;
     c.poll_only = 1;                    // one connection; see WATCH below
     if (le_init(&e, &c) != 0) die(le_errmsg(&e));
     for (;;) {
         le_action a = le_next(&e, now());       // what the elector wants
         switch (a.want) {
         case LE_WANT_SEND:  n = write(fd, a.data, a.len); le_sent(&e, now(), n); break;
         case LE_WANT_RECV:  n = read(fd, buf, sizeof buf);  // until a.deadline
                             if (n < 0) le_io_error(&e, now(), LE_EIO, "read");
                             else le_feed(&e, now(), buf, n);     // 0: EOF
                             break;
         case LE_WANT_WAIT:  sleep_until(a.deadline); break;
         case LE_WANT_CLOSE: close(fd); break;                  // reconnect lazily
         case LE_WANT_DONE:  return;                            // after le_stop()
         }
     }

   A loop that also serves a.watch (a second connection, below) lets
   followers watch the Lease instead of polling it.

   With LE_HTTPS defined as well, le.h brings its own HTTPS transport,
   in-cluster configuration and a blocking runner, so the loop above
   becomes le_run() (see "TRANSPORT (LE_HTTPS)" below).

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
   - Followers watch the Lease (see WATCH), or with poll_only poll it every
     RetryPeriod * [1, 2.2) (client-go's jitter), and also at the exact
     moment the record they observed would expire, when that comes first:
     same rule, a dead leader replaced up to one poll sooner, no extra
     request while the leader is alive.
   - The leader renews every RetryPeriod with one PUT of the cached object
     (no GET first); any failure falls back to a GET. A write counts only
     if its reply is the Lease as written: this holder, the renewTime it
     sent and a new resourceVersion (the API server's storage makes a
     byte-identical update a no-op, so renewTime changes with every write
     even if the wall clock stands still, is 0 or goes back).
   - Retry-After is honoured on 429 and 5xx replies only, up to 600 s, and
     never past the observed lease's expiry (a follower still polls then)
     or the last moment a renew can succeed (a leader).
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
   timestamps written into the Lease. Read it right before each call: a
   reply is stamped with the now it is fed with, and a stale one makes a
   follower believe it saw the record earlier than it did. Jitter (client-go's factor 1.2 on the
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
   exchange (a timeout, le_io_error(), malformed or unsolicited bytes, a
   reply fed after its request's deadline, which counts as a timeout) it
   asks for the connection to be dropped (LE_WANT_CLOSE) and ignores what
   is fed until then, so no reply is ever taken for another request's.
   Bytes that arrive before a request is completely sent, or while none is
   outstanding, are refused: read what is there before writing. Headers,
   trailers and interim (1xx) replies are bounded (LE_HEADER_MAX, 8).

   WATCH ------------------------------------------------------------------

   Unless le_config.poll_only is set, a follower watches the Lease on a
   stream of its own (le_action.watch): GET .../leases?fieldSelector=
   metadata.name=NAME&watch=true&resourceVersion=RV&allowWatchBookmarks=true
   on a second connection, since HTTP/1.1 cannot send a write while a watch
   streams on the same one. Every event is an observation exactly like a GET
   reply (same expiry rule); a released Lease (empty holder) or a deleted
   one is taken at once, with the object of the event, so a graceful
   handover costs one write; while events come (a holder renews every
   RetryPeriod) there is no polling, and the take-over after a crash is a
   PUT at the observed expiry. After 2.2 RetryPeriods without an event the
   follower polls as without a watch (the stream may be dead with its
   connection up), and a GET that finds a change the watch did not deliver
   restarts the watch. The watch resumes from the last resourceVersion seen
   (bookmarks keep it fresh) when the server ends it; 410 Gone means a GET,
   then a new watch; a watch silent for 75 s (the API server bookmarks
   about every minute) is restarted; 403 (no list/watch on leases) falls
   back to polling with one event naming the verbs and the rule, and the
   watch is tried again in 10 minutes (30 s if one worked before: a server
   that has just started answers 403 for a moment). Safety never rests on
   the watch: every write is conditional, so a late, lost or stale event
   costs time, never a second leader. The leader does not watch. Serving
   it in a loop of your own: on LE_WANT_SEND write a.wdata/a.wlen on the
   watch connection (open it first if needed) and le_watch_sent(); on
   LE_WANT_RECV read what arrives and le_watch_feed() it (0 bytes: EOF), on
   an error le_watch_error(); on LE_WANT_CLOSE close it; on 0 nothing is
   wanted on it. a.deadline covers both streams.

   GUARANTEES AND THEIR CONDITIONS -----------------------------------------

   Two electors never both believe they lead at the same instant if:
   every identity is unique (two processes with one identity both lead);
   now is fresh in every call (see above);
   clocks on all machines run at nearly the same *rate* (arbitrary offset
   is fine; the margin is LeaseDuration - RenewDeadline, 5 s by default);
   and the process is not frozen between asking le_is_leader() and acting
   on the answer for longer than that margin. Like client-go, this is
   leases, not consensus: use the term as a fencing token where a stale
   leader could do harm.

   TRANSPORT (LE_HTTPS) ---------------------------------------------------

   With LE_HTTPS defined, le.h brings everything a program needs to take
   part in an election against a real API server:

   - HTTPS over mbedTLS (2.28 or 3.6 LTS), one keep-alive connection for
     all requests and one for a follower's watch (one TLS handshake per
     connection), non-blocking sockets, every step bounded by the core's
     deadlines;
   - configuration like client-go's rest.InClusterConfig, or an explicit
     server, or a subset of kubeconfig;
   - token files re-read every minute and at once after a 401;
   - reconnects with capped exponential backoff and jitter (a leader's
     renewal never waits for it: RetryPeriod paces those);
   - two ways to drive an elector: le_run(), a blocking runner, and
     le_https_step(), for poll/epoll/libuv-style event loops.

   TL;DR (in a pod):

     #define LE_IMPLEMENTATION
     #define LE_HTTPS
     #include "le.h"

     static le_cancel stop;                        // SIGTERM -> release
     static void on_term(int s) { (void)s; le_cancel_fire(&stop); }

     le_https t; le_elector e; le_io io;
     le_https_config hc = {0};                     // 0 = in cluster
     le_config c = {0};
     c.name = "my-app"; c.on_event = on_event;     // ns, identity, host,
     if (le_https_init(&t, &hc, &c))               // token: filled in
         die(le_https_errmsg(&t));
     if (le_init(&e, &c)) die(le_errmsg(&e));
     le_cancel_init(&stop); signal(SIGTERM, on_term);
     memset(&io, 0, sizeof io); io.https = &t; io.cancel = &stop;
     le_run(&e, &io);                              // returns after release
     le_https_free(&t);
     le_https_global_free();                       // mbedTLS 3's PSA state

   Build: cc -D_POSIX_C_SOURCE=200809L (or gnu99) app.c llhttp.o api.o
   http.o -lmbedtls -lmbedx509 -lmbedcrypto. The transport needs POSIX.1-2008
   (sockets, poll, clock_gettime, getaddrinfo).

   WHERE THE SERVER, CA AND TOKEN COME FROM (le_https_init) ---------------

   1. le_https_config.server = "https://host[:port]": explicit; ca_file,
      token_file (or client_cert_file/client_key_file) as given.
   2. else le_https_config.kubeconfig = path: a kubeconfig (see below).
   3. else in cluster, like rest.InClusterConfig: the server is
      https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6
      address becomes [addr]:port), the token, ca.crt and namespace files
      of /var/run/secrets/kubernetes.io/serviceaccount (sa_dir).
   ca_file and token_file override what 2 and 3 find.

   le_https_init fills the le_config fields left 0: seed (random), ns
   (POD_NAMESPACE, then the kubeconfig context's namespace or the service
   account's namespace file; "default" outside a cluster), identity (POD_NAME, else the host
   name plus "_" and 16 random hex digits from getrandom or /dev/urandom,
   so two replicas sharing a host name, e.g. hostNetwork pods, never share
   an identity), host (the server's host:port, the Host header) and token
   (a pointer to the transport's token buffer, re-read from the token file
   every token_reload_ms, 60 s by default, and at once after a 401; bound
   service account tokens rotate about hourly).

   Kubeconfig subset: a small line-based reader for the block-style YAML
   kubectl writes (no flow style, anchors, block scalars or multi-document
   files; JSON kubeconfigs are refused). It follows current-context (or
   le_https_config.context) to its cluster (server, certificate-authority
   or certificate-authority-data, tls-server-name) and user (token,
   tokenFile, client-certificate + client-key or their -data forms) and
   takes the context's namespace. Relative paths are relative to the
   kubeconfig's directory. Users with exec or auth-provider (cloud login
   plugins), username/password, and insecure-skip-tls-verify are refused
   with a message saying what to use instead. Only the one file is read
   (no KUBECONFIG merging).

   TLS ----------------------------------------------------------------------

   TLS 1.2, and TLS 1.3 when the mbedTLS build has it (3.6 with
   MBEDTLS_SSL_PROTO_TLS1_3; Debian's 2.28 has no TLS 1.3). RSA and ECDSA
   chains. The certificate is always verified against the configured CA;
   there is no switch to turn that off. The name checked is the server's
   host (or tls_server_name). For a DNS name, mbedTLS checks it
   (mbedtls_ssl_set_hostname) and sends it as SNI. For an IP address, le.h
   checks the certificate's iPAddress SANs itself in a verify callback and
   sends no SNI (RFC 6066 forbids IP literals there). Why: mbedTLS 2.28
   does not match an IP against iPAddress SANs at all (a certificate for
   IP:127.0.0.1 fails mbedtls_x509_crt_verify(..., "127.0.0.1", ...) with
   BADCERT_CN_MISMATCH; 2.28 keeps only dNSName and otherName SANs), and
   3.6, which does match them, would also send the IP as SNI. The callback
   reads the SAN extension from the certificate's DER, the same way on both
   versions. Plain http:// is accepted
   only to a loopback address (kubectl proxy) and only with
   le_https_config.allow_http = 1.

   CONNECTIONS AND TIME ---------------------------------------------------

   One connection carries every request, a second one a follower's watch.
   Each is opened when the elector first wants to send on it, kept while
   the elector waits (an idle connection the server closes is noticed and
   reopened at the next request) and dropped on LE_WANT_CLOSE, errors and
   timeouts; the watch connection is dropped when the elector leads. Connecting, the handshake, sending
   and receiving are all non-blocking and bounded by the core's deadline of
   the request, so a server that accepts and never answers costs the leader
   its leadership exactly at RenewDeadline, never later. After a failed
   connection attempt the next one waits 500 ms, then twice as long each
   time up to 8 s, with jitter - but only when that wait ends before the
   request's deadline: every request the core makes gets at least one
   attempt, so a follower notices a recovered server at its next poll and
   a leader within RetryPeriod, as with client-go, and every error names a
   real attempt. Before the first byte of a request the connection is
   read: anything the server sent unasked fails the request and drops the
   connection. A server given by name is resolved with getaddrinfo before
   each connection; that call blocks, and while it blocks nothing reports a
   passed deadline (le_is_leader() still answers correctly). In-cluster
   servers are IP literals, which never block; LE_HTTPS_NO_DNS rules names
   out.

   MEMORY -----------------------------------------------------------------

   le_https lives where the caller puts it; nothing in the transport
   allocates in steady state: a renew moves bytes through mbedTLS's
   existing record buffers, the token is re-read into a fixed buffer, and
   poll() is the only wait (measured: 0 allocations in 20 renews, both
   mbedTLS versions). mbedTLS allocates during le_https_init (CA, record
   buffers) and during every handshake, mostly bignum temporaries freed
   when it ends (measured per ECDSA P-256 handshake: ~27000 calls with
   2.28, ~9500 with 3.6), so each reconnect allocates. To run a whole process
   without malloc once started, build mbedTLS with
   MBEDTLS_MEMORY_BUFFER_ALLOC_C and MBEDTLS_PLATFORM_MEMORY (Debian's 2.28
   has neither; tools/mbedtls/build.sh builds a 3.6 that has both) and call
   mbedtls_memory_buffer_alloc_init(buf, size) before le_https_init: every
   mbedTLS allocation then comes from buf (64 KB was enough against an
   ECDSA P-256 API server with 3.6; give 128 KB for RSA-4096 chains and
   headroom), and the
   transport's own init-time buffers (files read once) too, because they
   are taken with mbedtls_calloc. getaddrinfo allocates; give IP literals
   to avoid it.

   DRIVING IT ---------------------------------------------------------------

   le_run(e, io) blocks until the elector is done: after le_cancel_fire()
   (async-signal-safe: it sets a volatile sig_atomic_t and writes a byte to
   a self-pipe, so a poll() in progress wakes at once; no signalfd, no
   ppoll) it calls le_stop(), which stops leading and releases the Lease,
   then returns. io->tick, if set, runs the program's own work on the same
   thread between elector steps, and at once when leadership starts or
   ends; it may call le_is_leader() and le_stop(). A cancelled run returns
   when the release is done or has failed, at most RenewDeadline later.
   Its clock (io->now, default le_clock(): CLOCK_MONOTONIC ms and
   CLOCK_REALTIME us) and its transport (io->send/recv/close, default the
   bundled one) can be replaced; a transport of your own carries the
   request stream only, so its followers poll.

   le_https_step(t, e, now) is the same engine for an event loop: it does
   all the IO that can be done without blocking and returns an le_step: two
   file descriptors (fd for requests, wfd for a follower's watch) with the
   poll events wanted (or -1), and a deadline. Call it again when either fd
   is ready or at the deadline, whichever comes first. After a reconnect
   the socket is new but its number may be the old one (closing a
   descriptor drops it from an epoll set): watch le_step.conn and
   le_step.wconn, which change with every new socket, and register again
   when they do (epoll: EPOLL_CTL_ADD; libuv: a new uv_poll_t). Level- or
   edge-triggered both work: it reads and writes until it would block.

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
   LE_IDENTITY_MAX     longest identity of this elector       (default 255);
                       longer holders are compared by length and hash and
                       reported as their first bytes and "..."
   LE_HEADER_MAX       status line + headers + trailers + chunk framing of
                       a reply, bytes                         (default 16384)
   LE_ASSERT(x)        assertion used for API misuse       (default assert)
   LE_HTTPS_TOKEN_MAX   largest bearer token, bytes              (4096)
   LE_HTTPS_PATH_MAX    longest file path, bytes                  (512)
   LE_HTTPS_FILE_MAX    largest kubeconfig or CA file, bytes  (1048576)
   LE_HTTPS_NO_DNS      never call getaddrinfo: servers must be IP literals
                        (in-cluster they are); for small static binaries

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
#ifndef LE_RECORD_MAX
#define LE_RECORD_MAX 1024
#endif
#ifndef LE_RECORDS
#define LE_RECORDS 4
#endif
#ifndef LE_WATCH_REQ_MAX
#define LE_WATCH_REQ_MAX (LE_REQ_MAX - LE_BODY_MAX + 1024)
#endif
#define LE__SLACK 256 /* a watch event's envelope around the Lease */
#define LE__RV_MAX 64
#define LE_RECORD_KEY_MAX 63
#define LE_RECORD_PREFIX "le.h/" 
#define LE_ERRMSG_MAX 512
#define LE__NS_MAX 63
#define LE__NAME_MAX 253
#define LE__HOST_MAX 255
#define LE__TS_MAX 40
#ifndef LE_HEADER_MAX
#define LE_HEADER_MAX 16384
#endif
#define LE__INTERIM_MAX 8

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
    LE_ECONNECT = -17,     /* could not connect (transport) */
    LE_ENOTLEADER = -18    /* le_record_set() while not leading */
};

typedef struct le_time {
    int64_t mono_ms; /* monotonic clock, ms: drives every decision */
    int64_t wall_us; /* Unix time, us: only written into the Lease (as
                        renewTime, made later than the last one written
                        whatever this clock does, so 0 is safe) */
} le_time;

typedef enum le_event_type {
    LE_EV_STARTED_LEADING = 1, /* term, mono_ms */
    LE_EV_STOPPED_LEADING,     /* term, reason */
    LE_EV_NEW_LEADER,          /* leader ("" when the Lease is free) */
    LE_EV_ERROR,               /* error, status, message */
    LE_EV_RECORD_STORED        /* key, value: a record is on the Lease */
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
    const char *key;     /* RECORD_STORED: the key given to le_record_set */
    const char *value;   /* RECORD_STORED: its value */
} le_event;

typedef struct le_config {
    const char *ns;        /* namespace of the Lease; required */
    const char *name;      /* name of the Lease; required (DNS-1123 subdomain) */
    const char *identity;  /* this replica, unique; required */
    int lease_duration_ms; /* 0 = 15000; whole seconds, > renew_deadline_ms */
    int renew_deadline_ms; /* 0 = 10000; > 1.2 * retry_period_ms */
    int retry_period_ms;   /* 0 = 2000 */
    int request_timeout_ms;/* 0 = renew_deadline_ms / 2; < renew_deadline_ms */
    int keep_on_stop;      /* 0 = le_stop() releases the Lease */
    int poll_only;         /* 0 = followers watch the Lease (a second stream,
                              le_action.watch); 1 = they poll like client-go */
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
    le_want want;     /* the request stream */
    const char *data; /* SEND: bytes still to write */
    size_t len;
    int64_t deadline; /* monotonic ms: call le_next() again by then (the
                         earliest over both streams) */
    int64_t req_deadline;   /* the request stream's own deadline */
    int64_t watch_deadline; /* the watch stream's own deadline (LE__FAR if
                               nothing is due on it) */
    le_want watch;    /* the watch stream, on a connection of its own: 0 =
                         none wanted (close it if open), LE_WANT_SEND (wdata,
                         then le_watch_sent), LE_WANT_RECV (feed what arrives
                         to le_watch_feed), LE_WANT_CLOSE */
    const char *wdata;
    size_t wlen;
} le_action;

/* Private: a Lease record as observed. A holder longer than
   LE_IDENTITY_MAX is kept as its first bytes, its length and a hash: enough
   to tell it from ours and to see it change. */
typedef struct le__record {
    char holder[LE_IDENTITY_MAX + 1];
    size_t holder_len;        /* the whole identity's length */
    uint64_t holder_hash;     /* of all its bytes */
    uint64_t extra_hash;      /* spec.strategy and spec.preferredHolder, raw */
    int32_t dur_s, transitions;
    char acquire[LE__TS_MAX + 1], renew[LE__TS_MAX + 1]; /* "" = null */
} le__record;

/* Private: where the parts of a cached Lease object are. Its spec keeps only
   the members le.h does not own (compacted when it was parsed). */
typedef struct le__objinfo {
    size_t len;
    int spec_s, spec_e, close; /* spec value span or -1; final '}' */
    int rv_s, rv_e;            /* metadata.resourceVersion, inside the quotes */
    int meta_s;                /* metadata's '{' */
    int ann_s, ann_e;          /* metadata.annotations value span or -1 */
    uint64_t uid_hash;         /* metadata.uid: another one is another object */
} le__objinfo;

/* Counters for health checks and metrics: le_get_stats(). */
typedef struct le_stats {
    uint64_t requests;      /* requests built and sent */
    uint64_t slowpath;      /* renews whose one-PUT fast path failed, so a GET
                               followed (client-go's leader_election_slowpath) */
    uint64_t started;       /* times this elector started leading */
    uint64_t stopped;       /* times it stopped leading */
    uint64_t errors;        /* LE_EV_ERROR events */
    uint64_t errors_by[24]; /* by code: errors_by[-LE_ETIMEDOUT] ... */
    uint64_t watch_events;  /* watch events received */
    int64_t last_renew_ms;  /* send time (monotonic) of the last write that
                               kept or took the Lease; INT64_MIN if none */
    int64_t observed_ms;    /* when the observed record last changed (client-
                               go's observedTime); INT64_MIN if none */
    int watching;           /* 1 while a watch stream is open and healthy */
} le_stats;

/* Private: a record waiting to be written. */
typedef struct le__pending {
    char key[LE_RECORD_KEY_MAX + 1];
    char val[LE_RECORD_MAX + 1];
    size_t vlen;
    int sent; /* in the write in flight, or in one already answered */
} le__pending;

/* Private: one HTTP/1.1 reply being received. */
struct le_elector;
typedef struct le__rx {
    llhttp_t http;
    struct le_elector *owner;  /* watch: events are handled as they arrive */
    int watch, streaming;
    char *body;
    size_t body_len, body_cap, body_total, fed, hdr_bytes;
    uint64_t announced;        /* Content-Length over body_cap, or 0 */
    size_t extra;              /* bytes that came after the reply */
    int msg_done, keep_alive, status, interim, over, hdr_ra;
    char hname[16], hval[16];
    size_t hname_len, hval_len;
    int64_t retry_after_ms;
} le__rx;

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
    int64_t retry_after_ms, wall_last;
    int64_t hold_until; /* a Lease deleted or replaced: no take-over before */
    int gone;           /* a 404 since the last Lease seen */
    le__record obs;
    int have_obs;
    int64_t obs_at;
    char reported[LE_IDENTITY_MAX + 4];
    size_t reported_len;
    uint64_t reported_hash;
    int have_reported;
    /* what the write in flight sent: its reply must show it */
    uint64_t sent_rv_hash;
    char sent_renew[LE__TS_MAX + 1];
    /* the cached object (buf[cur]), the reply being received (buf[rbuf])
       and the watch event being received (buf[wbuf]) */
    char buf[3][LE_BODY_MAX + LE__SLACK];
    int cur, rbuf, wbuf, have_obj;
    le__objinfo obj;
    /* records waiting for a write, and the counters */
    le__pending pend[LE_RECORDS];
    int npend;
    le_stats st;
    /* HTTP */
    llhttp_settings_t hs;
    le__rx rx;
    char out[LE_REQ_MAX];
    size_t out_len, out_sent;
    /* the watch (followers) */
    int watch_on, w_state, w_close, w_live, w_worked, w_fails, w_told;
    int64_t w_next_at, w_until, w_now, w_heard;
    char w_rv[LE__RV_MAX + 1];
    le__rx wrx;
    size_t w_len;             /* bytes of the event being scanned */
    int w_depth, w_str, w_esc;
    char w_out[LE_WATCH_REQ_MAX];
    size_t w_out_len, w_out_sent;
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
/* The watch stream (see le_action.watch): n bytes of wdata were written;
   bytes that arrived on it (n == 0: the peer closed); its connection
   failed. Like le_sent, le_feed and le_io_error for the request stream. */
LEDEF void le_watch_sent(le_elector *e, le_time now, size_t n);
LEDEF int le_watch_feed(le_elector *e, le_time now, const void *data, size_t n);
LEDEF void le_watch_error(le_elector *e, le_time now, int err,
                          const char *detail);
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
/* Counters and times for health checks and metrics. */
LEDEF le_stats le_get_stats(const le_elector *e);
/* Fenced records: small values kept in the Lease's annotations (under
   LE_RECORD_PREFIX + key) and written only as part of this elector's own
   conditional writes while it holds the Lease, so a replica that lost it
   can record nothing. key: 1..63 of [A-Za-z0-9._-], starting and ending
   alphanumeric; value: UTF-8 without NUL, at most LE_RECORD_MAX bytes.
   Only while leading: 0, LE_EINVAL, LE_ENOTLEADER, or LE_ETOOBIG (more than
   LE_RECORDS keys waiting). A renew carrying it is sent at once; when a
   Lease read back from the server (the write's reply, a GET, a watch
   event) carries key = value, LE_EV_RECORD_STORED reports it durably
   stored. If leadership is lost first the value is dropped (the stopped
   event comes instead; a write whose reply was lost may still have stored
   it: le_record_get tells); after le_stop() it goes out with the release. */
LEDEF int le_record_set(le_elector *e, le_time now, const char *key,
                        const char *value);
/* The value of a record in the last Lease observed (leader or follower):
   its length (NUL-terminated in out), -1 if absent, LE_ETOOBIG if it does
   not fit cap. */
LEDEF long le_record_get(const le_elector *e, const char *key, char *out,
                         size_t cap);

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
    e->st.errors++;
    if (err < 0 && -err < (int)(sizeof e->st.errors_by / sizeof e->st.errors_by[0]))
        e->st.errors_by[-err]++;
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
    case LE_ENOTLEADER: return "not leading";
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

static int le__utf8(const char *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p, *end = s + n;
    while (s < end) {
        unsigned c = *s++, k, cp, min;
        if (c < 0x80) continue;
        if (c >= 0xc2 && c <= 0xdf) { k = 1; cp = c & 0x1f; min = 0x80; }
        else if (c >= 0xe0 && c <= 0xef) { k = 2; cp = c & 0x0f; min = 0x800; }
        else if (c >= 0xf0 && c <= 0xf4) { k = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if ((size_t)(end - s) < k) return 0;
        while (k--) {
            if ((*s & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (*s++ & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return 0;
    }
    return 1;
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

static int le__ours(const le_elector *e) {
    return e->obs.holder_len == e->id_len &&
           !memcmp(e->obs.holder, e->id, e->id_len);
}

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
    if (e->timeout_ms >= e->renew_ms)
        return le__cfg_err(e, "request_timeout_ms must be less than "
                              "renew_deadline_ms: a write answered after "
                              "RenewDeadline cannot keep the leadership it "
                              "was sent for (0 = renew_deadline_ms / 2)");
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
    if (!le__utf8(c->identity, e->id_len))
        return le__cfg_err(e, "identity is not valid UTF-8 (the API server "
                              "would store another name, held by nobody)");
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
    e->st.last_renew_ms = e->st.observed_ms = INT64_MIN;
    e->rbuf = 1;
    e->wbuf = 2;
    e->watch_on = !c->poll_only;
    le__on_settings(e);
    return 0;
}

LEDEF void le_set_token(le_elector *e, const char *token) { e->token = token; }

/* ---- time and jitter ---------------------------------------------------- */

/* RFC 3339 with exactly six fractional digits, UTC: the API's MicroTime. */
static void le__microtime(le__sb *b, int64_t us) {
    int64_t s;
    if (us < -62135596800000000LL) us = -62135596800000000LL; /* year 1 */
    if (us > 253402300799999999LL) us = 253402300799999999LL; /* 9999 */
    s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
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

static uint64_t le__fnv(uint64_t h, const char *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}
#define LE__FNV0 1469598103934665603ULL

/* A resourceVersion to resume a watch from goes into its URL: only a
   plain token (etcd's are decimal) is taken. */
static void le__rv_take(char *rv, const char *s, int a, int b) {
    size_t n = (size_t)(b - a), i;
    if (n > LE__RV_MAX) n = 0;
    for (i = 0; i < n; i++) {
        char c = s[a + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.'))
            n = 0;
    }
    memcpy(rv, s + a, n);
    rv[n] = 0;
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

/* Where a decoded JSON string goes: its first cap - 1 bytes into out (NUL-
   terminated), its whole length into n and a hash of all of it into h, so
   a string of any length can be compared without being stored. */
typedef struct le__sink { char *out; size_t cap, n; uint64_t h; } le__sink;
static void le__sink_put(le__sink *k, unsigned long c) {
    if (k->n + 1 < k->cap) k->out[k->n] = (char)c;
    k->n++;
    k->h = (k->h ^ (c & 0xff)) * 1099511628211ULL;
}
static int le__decode(const le__json *j, int i, le__sink *k) {
    const char *s = j->s + j->t[i].start, *end = j->s + j->t[i].end;
    k->n = 0;
    k->h = LE__FNV0;
    if (j->t[i].type != JSMN_STRING) return -1;
    while (s < end) {
        unsigned long cp;
        char c = *s++;
        if (c != '\\') { le__sink_put(k, (unsigned char)c); continue; }
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
            int q;
            cp = 0;
            if (end - s < 4) return -1;
            for (q = 0; q < 4; q++) {
                int h = le__hex(*s++);
                if (h < 0) return -1;
                cp = cp << 4 | (unsigned long)h;
            }
            if (cp >= 0xd800 && cp < 0xdc00) { /* surrogate pair */
                unsigned long lo = 0;
                if (end - s < 6 || s[0] != '\\' || s[1] != 'u') return -1;
                s += 2;
                for (q = 0; q < 4; q++) {
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
        if (cp < 0x80) le__sink_put(k, cp);
        else if (cp < 0x800) {
            le__sink_put(k, 0xc0 | cp >> 6);
            le__sink_put(k, 0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            le__sink_put(k, 0xe0 | cp >> 12);
            le__sink_put(k, 0x80 | (cp >> 6 & 0x3f));
            le__sink_put(k, 0x80 | (cp & 0x3f));
        } else {
            le__sink_put(k, 0xf0 | cp >> 18);
            le__sink_put(k, 0x80 | (cp >> 12 & 0x3f));
            le__sink_put(k, 0x80 | (cp >> 6 & 0x3f));
            le__sink_put(k, 0x80 | (cp & 0x3f));
        }
    }
    if (k->cap) k->out[k->n < k->cap ? k->n : k->cap - 1] = 0;
    return 0;
}
/* Decoded JSON string into out (NUL-terminated); its length, or -1 if it
   does not fit or is malformed. */
static long le__unescape(const le__json *j, int i, char *out, size_t cap) {
    le__sink k;
    k.out = out; k.cap = cap;
    if (le__decode(j, i, &k) || k.n >= cap) return -1;
    return (long)k.n;
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

/* The raw span of token i, quotes included. */
static int le__raw_s(const le__json *j, int i) {
    return j->t[i].start - (j->t[i].type == JSMN_STRING);
}
static int le__raw_e(const le__json *j, int i) {
    return j->t[i].end + (j->t[i].type == JSMN_STRING);
}
/* Only blanks and exactly one sep in s[a, b). */
static int le__sep_ok(const char *s, int a, int b, char sep) {
    int n = 0;
    for (; a < b; a++) {
        if (s[a] == sep) n++;
        else if (s[a] != ' ' && s[a] != '\n' && s[a] != '\r' && s[a] != '\t')
            return 0;
    }
    return n == 1;
}
/* jsmn accepts a key with no value ({"a"}) and members or elements with
   no comma between them ({"a":1 "b":2}); every object member must be a
   string key with exactly one value and every separator in its place, or
   the walks below would step past the tokens and a Lease sent back would
   not be JSON. */
static int le__tree_ok(const le__json *j) {
    int i, c, m, prev;
    for (i = 0; i < j->n; i++) {
        if (j->t[i].type == JSMN_OBJECT) {
            for (c = i + 1, m = 0, prev = -1; m < j->t[i].size; m++) {
                if (c + 1 >= j->n || j->t[c].type != JSMN_STRING || j->t[c].size != 1)
                    return 0;
                if (!le__sep_ok(j->s, le__raw_e(j, c), le__raw_s(j, c + 1), ':'))
                    return 0;
                if (prev >= 0 && !le__sep_ok(j->s, le__raw_e(j, prev),
                                             le__raw_s(j, c), ','))
                    return 0;
                prev = c + 1;
                c = le__skip(j, c + 1);
            }
        } else if (j->t[i].type == JSMN_ARRAY) {
            for (c = i + 1, m = 0, prev = -1; m < j->t[i].size; m++) {
                if (c >= j->n) return 0;
                if (prev >= 0 && !le__sep_ok(j->s, le__raw_e(j, prev),
                                             le__raw_s(j, c), ','))
                    return 0;
                prev = c;
                c = le__skip(j, c);
            }
        }
    }
    return 1;
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
            " has more than LE_JSON_TOKENS JSON tokens (a Lease with large "
            "annotations or managedFields); define LE_JSON_TOKENS larger");
    if (j->n == JSMN_ERROR_PART)
        return le__fail_msg(e, LE_EJSON, now, what, " is truncated JSON");
    if (j->n <= 0 || j->t[0].type != JSMN_OBJECT || le__skip(j, 0) != j->n ||
        !le__tree_ok(j))
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

/* Our spec members, then the ones le.h does not own, verbatim (the cached
   spec holds only those, compacted when it was parsed). */
static void le__put_spec(le_elector *e, le__sb *b, int release,
                         const char *acquire, const char *renew,
                         int32_t transitions, const le__objinfo *oi) {
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
    if (oi && oi->spec_s >= 0 && e->buf[e->cur][oi->spec_s] == '{' &&
        oi->spec_e - oi->spec_s > 2) {
        le__put(b, ",", 1);
        le__put(b, e->buf[e->cur] + oi->spec_s + 1,
                (size_t)(oi->spec_e - oi->spec_s - 2));
    }
    le__put(b, "}", 1);
}

static int le__token_ok(const char *t) {
    for (; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) return 0;
    return 1;
}


/* The renewTime of a write: the caller's wall clock, but always after the
   last one this elector wrote and never the one it observed. The API
   server's storage treats a byte-identical update as a no-op (same
   resourceVersion, nothing for observers to see), so a wall clock that
   stands still, is 0 or goes back must still change the record. */
static void le__stamp(le_elector *e, int64_t wall_us, char *ts) {
    int64_t us = wall_us;
    int k;
    if (us < -62135596800000000LL) us = -62135596800000000LL; /* year 1 */
    if (us > 253402300799999999LL - 1000000000000LL)
        us = 253402300799999999LL - 1000000000000LL; /* year 9999 */
    if (us <= e->wall_last) us = e->wall_last + 1;
    for (k = 0; k < 2; k++) {
        le__sb t;
        t.p = ts; t.cap = LE__TS_MAX + 1; t.len = 0; t.over = 0;
        le__microtime(&t, us);
        le__cstr(&t);
        if (strcmp(ts, e->obs.renew)) break;
        us++;
    }
    e->wall_last = us;
}

/* A JSON string's contents: quotes, backslashes and controls escaped. */
static void le__put_jstr(le__sb *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { char q[2]; q[0] = '\\'; q[1] = (char)c; le__put(b, q, 2); }
        else if (c < 0x20) {
            char u[6];
            u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
            u[4] = hex[c >> 4]; u[5] = hex[c & 15];
            le__put(b, u, 6);
        } else le__put(b, s + i, 1);
    }
}

static int le__key_is(const char *k, size_t n, const char *key) {
    size_t pl = sizeof LE_RECORD_PREFIX - 1, kl = strlen(key);
    return n == pl + kl && !memcmp(k, LE_RECORD_PREFIX, pl) &&
           !memcmp(k + pl, key, kl);
}

/* The annotations with the records waiting: the others as they were,
   ours after them (so they win over any lookalike). */
static void le__put_annotations(le_elector *e, le__sb *b) {
    const char *o = e->buf[e->cur];
    const le__objinfo *oi = &e->obj;
    int i, first = 1;
    le__put(b, "{", 1);
    if (oi->ann_s >= 0 && o[oi->ann_s] == '{') {
        jsmntok_t toks[LE_JSON_TOKENS];
        jsmn_parser p;
        int n, m;
        le__json j;
        jsmn_init(&p);
        n = jsmn_parse(&p, o + oi->ann_s, (size_t)(oi->ann_e - oi->ann_s), toks,
                       LE_JSON_TOKENS);
        j.s = o + oi->ann_s; j.t = toks; j.n = n;
        for (m = 1; n > 0 && m < n;) { /* parsed before: well formed */
            int mk = m, ks = toks[mk].start - 1, ve;
            m = le__skip(&j, mk + 1);
            ve = toks[mk + 1].end + (toks[mk + 1].type == JSMN_STRING);
            for (i = 0; i < e->npend; i++)
                if (le__key_is(j.s + toks[mk].start,
                               (size_t)(toks[mk].end - toks[mk].start),
                               e->pend[i].key))
                    break;
            if (i < e->npend) continue;
            if (!first) le__put(b, ",", 1);
            le__put(b, j.s + ks, (size_t)(ve - ks));
            first = 0;
        }
    }
    for (i = 0; i < e->npend; i++) {
        e->pend[i].sent = 1;
        if (!first) le__put(b, ",", 1);
        le__puts(b, "\"" LE_RECORD_PREFIX);
        le__puts(b, e->pend[i].key);
        le__puts(b, "\":\"");
        le__put_jstr(b, e->pend[i].val, e->pend[i].vlen);
        le__put(b, "\"", 1);
        first = 0;
    }
    le__put(b, "}", 1);
}

/* The cached object as read, with a new spec and, when records wait, new
   annotations; everything else byte for byte. */
static void le__put_object(le_elector *e, le__sb *b, int release,
                           const char *acq, const char *ts, int32_t tr) {
    const char *o = e->buf[e->cur];
    const le__objinfo *oi = &e->obj;
    int ed[2][3], ne = 0, k; /* edits: start, end, what (0 spec, 1 ann) */
    size_t at = 0;
    if (oi->spec_s >= 0) { ed[ne][0] = oi->spec_s; ed[ne][1] = oi->spec_e; }
    else { ed[ne][0] = ed[ne][1] = oi->close; }
    ed[ne++][2] = 0;
    if (e->npend) {
        if (oi->ann_s >= 0) { ed[ne][0] = oi->ann_s; ed[ne][1] = oi->ann_e; }
        else { ed[ne][0] = ed[ne][1] = oi->meta_s + 1; }
        ed[ne++][2] = 1;
        if (ed[1][0] < ed[0][0]) {
            int t[3];
            memcpy(t, ed[0], sizeof t);
            memcpy(ed[0], ed[1], sizeof t);
            memcpy(ed[1], t, sizeof t);
        }
    }
    for (k = 0; k < ne; k++) {
        le__put(b, o + at, (size_t)ed[k][0] - at);
        if (ed[k][2] == 0) {
            if (oi->spec_s < 0) le__puts(b, ",\"spec\":");
            le__put_spec(e, b, release, acq, ts, tr,
                         oi->spec_s >= 0 ? oi : 0);
        } else {
            if (oi->ann_s < 0) le__puts(b, "\"annotations\":");
            le__put_annotations(e, b);
            if (oi->ann_s < 0) le__put(b, ",", 1);
        }
        at = (size_t)ed[k][1];
    }
    le__put(b, o + at, oi->len - at);
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
        if (e->op == LE__CREATE) {
            le__stamp(e, now.wall_us, ts);
            le__puts(&b, "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":"
                         "\"Lease\",\"metadata\":{\"name\":\"");
            le__puts(&b, e->name);
            le__puts(&b, "\",\"namespace\":\"");
            le__puts(&b, e->ns);
            le__puts(&b, "\"},\"spec\":");
            le__put_spec(e, &b, 0, ts, ts, 0, 0);
            le__puts(&b, "}");
            e->sent_rv_hash = 0;
        } else {
            /* PUT of the object as read: only spec's own members change, the
               resourceVersion in it makes the write conditional. */
            const char *o = e->buf[e->cur];
            const le__objinfo *oi = &e->obj;
            int ours = le__ours(e);
            int release = e->op == LE__RELEASE;
            int32_t tr = e->obs.transitions;
            if (!ours && !release) {
                if (tr == INT32_MAX)
                    return le__fail_msg(e, LE_ELEASE, now.mono_ms,
                        "leaseTransitions is 2147483647, the largest the "
                        "Lease can hold, so a new holder's term could not "
                        "grow. Fix: delete the Lease (kubectl delete lease); "
                        "it is re-created with leaseTransitions 0", 0);
                tr++;
            }
            le__stamp(e, now.wall_us, ts);
            le__put_object(e, &b, release, release || !ours ? ts
                           : e->obs.acquire, ts, tr);
            e->sent_rv_hash = le__fnv(LE__FNV0, o + oi->rv_s,
                                      (size_t)(oi->rv_e - oi->rv_s));
        }
        memcpy(e->sent_renew, ts, sizeof ts);
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

#define LE__RX(p) ((le__rx *)(p)->data)

/* Status line, header and trailer names and values, chunk extensions: all
   count against LE_HEADER_MAX, so an endless header cannot keep the
   elector reading until the request's deadline. */
static int le__rx_hdr(le__rx *rx, size_t n) {
    rx->hdr_bytes += n;
    if (rx->hdr_bytes <= LE_HEADER_MAX) return 0;
    rx->over = 3;
    return -1;
}
static int le__h_status(llhttp_t *p, const char *at, size_t n) {
    (void)at;
    return le__rx_hdr(LE__RX(p), n);
}
static int le__h_field(llhttp_t *p, const char *at, size_t n) {
    le__rx *rx = LE__RX(p);
    size_t k = sizeof rx->hname - rx->hname_len;
    memcpy(rx->hname + rx->hname_len, at, n < k ? n : k);
    rx->hname_len += n < k ? n : k;
    return le__rx_hdr(rx, n);
}
static int le__h_field_done(llhttp_t *p) {
    le__rx *rx = LE__RX(p);
    static const char ra[] = "retry-after";
    size_t i;
    rx->hdr_ra = rx->hname_len == sizeof ra - 1;
    for (i = 0; rx->hdr_ra && i < sizeof ra - 1; i++)
        if ((rx->hname[i] | 0x20) != ra[i]) rx->hdr_ra = 0;
    rx->hname_len = 0;
    rx->hval_len = 0;
    return 0;
}
static int le__h_value(llhttp_t *p, const char *at, size_t n) {
    le__rx *rx = LE__RX(p);
    size_t k = sizeof rx->hval - rx->hval_len;
    if (rx->hdr_ra) {
        memcpy(rx->hval + rx->hval_len, at, n < k ? n : k);
        rx->hval_len += n < k ? n : k;
    }
    return le__rx_hdr(rx, n);
}
static int le__h_value_done(llhttp_t *p) {
    le__rx *rx = LE__RX(p);
    size_t i;
    int64_t v = 0;
    if (!rx->hdr_ra) return 0;
    /* delta-seconds only; an HTTP-date falls back to the retry period */
    for (i = 0; i < rx->hval_len && i < 8; i++) {
        if (rx->hval[i] < '0' || rx->hval[i] > '9') return 0;
        v = v * 10 + (rx->hval[i] - '0');
    }
    if (i == rx->hval_len && i > 0) rx->retry_after_ms = (v > 600 ? 600 : v) * 1000;
    return 0;
}
static int le__h_ext(llhttp_t *p, const char *at, size_t n) {
    (void)at;
    return le__rx_hdr(LE__RX(p), n);
}
static int le__w_bytes(le_elector *e, le__rx *rx, const char *at, size_t n);
static int le__h_headers_done(llhttp_t *p) {
    le__rx *rx = LE__RX(p);
    rx->keep_alive = llhttp_should_keep_alive(p);
    /* a watch's 200 is a stream of events, handled as they arrive */
    rx->streaming = rx->watch && llhttp_get_status_code(p) == 200;
    if (llhttp_get_status_code(p) / 100 != 1 && (p->flags & F_CONTENT_LENGTH) &&
        p->content_length > rx->body_cap - rx->body_len) {
        rx->announced = p->content_length; /* refuse before reading it */
        rx->over = 2;
        return -1;
    }
    return 0;
}
static int le__h_body(llhttp_t *p, const char *at, size_t n) {
    le__rx *rx = LE__RX(p);
    if (rx->streaming) {
        rx->body_total += n;
        return le__w_bytes(rx->owner, rx, at, n);
    }
    if (n > rx->body_cap - rx->body_len) {
        rx->over = 1;
        return -1;
    }
    memcpy(rx->body + rx->body_len, at, n);
    rx->body_len += n;
    rx->body_total += n;
    return 0;
}
static int le__h_done(llhttp_t *p) {
    le__rx *rx = LE__RX(p);
    if (llhttp_get_status_code(p) / 100 == 1) { /* interim reply: skip */
        rx->body_len = 0;
        rx->retry_after_ms = 0;
        if (++rx->interim <= LE__INTERIM_MAX) return 0;
        rx->over = 4;
        return -1;
    }
    rx->msg_done = 1;
    rx->status = llhttp_get_status_code(p);
    return HPE_PAUSED;
}

static void le__on_settings(le_elector *e) {
    llhttp_settings_init(&e->hs);
    e->hs.on_status = le__h_status;
    e->hs.on_header_field = le__h_field;
    e->hs.on_header_field_complete = le__h_field_done;
    e->hs.on_header_value = le__h_value;
    e->hs.on_header_value_complete = le__h_value_done;
    e->hs.on_chunk_extension_name = le__h_ext;
    e->hs.on_chunk_extension_value = le__h_ext;
    e->hs.on_headers_complete = le__h_headers_done;
    e->hs.on_body = le__h_body;
    e->hs.on_message_complete = le__h_done;
}

static void le__rx_start(le_elector *e, le__rx *rx, char *body, size_t cap) {
    llhttp_init(&rx->http, HTTP_RESPONSE, &e->hs);
    rx->http.data = rx;
    rx->owner = e;
    rx->watch = rx == &e->wrx;
    rx->streaming = 0;
    rx->body = body;
    rx->body_cap = cap;
    rx->body_len = rx->body_total = rx->fed = rx->hdr_bytes = 0;
    rx->announced = rx->extra = 0;
    rx->msg_done = rx->status = rx->interim = rx->over = rx->hdr_ra = 0;
    rx->keep_alive = 1;
    rx->hname_len = rx->hval_len = 0;
    rx->retry_after_ms = 0;
}

/* Feeds reply bytes to rx (n == 0: the peer closed). 0, or an LE_E* error
   (reported; the connection must be dropped), or 1: a watch stream that
   its events ended. */
static int le__rx_feed(le_elector *e, le__rx *rx, int64_t t, const char *data,
                       size_t n) {
    llhttp_errno_t rc;
    le__sb b;
    if (n == 0) {
        llhttp_finish(&rx->http); /* completes a body delimited by the close */
        if (!rx->msg_done)
            return le__fail_msg(e, LE_EIO, t, "the connection closed before "
                                "the reply was complete", 0);
        rx->keep_alive = 0;
        return 0;
    }
    rx->fed += n;
    rc = llhttp_execute(&rx->http, data, n);
    if (rx->over == 5) return 1; /* the watch stopped itself (handled) */
    if (rc == HPE_PAUSED) {
        const char *pos = llhttp_get_error_pos(&rx->http);
        /* bytes after the reply answer no request: drop the connection */
        if (pos && pos < data + n) {
            rx->keep_alive = 0;
            rx->extra = (size_t)(data + n - pos);
        }
        return 0;
    }
    if (rc == HPE_OK && rx->fed - rx->body_total <= LE_HEADER_MAX + rx->body_total)
        return 0;
    b = le__err_begin(e);
    if (rc == HPE_PAUSED_UPGRADE) {
        le__puts(&b, "the server answered 101 Switching Protocols to a plain "
                     "request: kube-apiserver never does; something else "
                     "listens at the server address (a proxy or another "
                     "service)");
        return le__err_end(e, &b, LE_EPROTO, 101, t);
    }
    if (rc == HPE_OK || rx->over == 3) {
        le__puts(&b, "the reply's status line, headers, trailers or chunk "
                     "framing exceed LE_HEADER_MAX (");
        le__puti(&b, LE_HEADER_MAX);
        le__puts(&b, ") bytes; no API server sends that much");
        return le__err_end(e, &b, LE_EPROTO, 0, t);
    }
    if (rx->over == 4) {
        le__puts(&b, "the server sent more than ");
        le__puti(&b, LE__INTERIM_MAX);
        le__puts(&b, " interim (1xx) replies before the reply; no API server "
                     "does");
        return le__err_end(e, &b, LE_EPROTO, 0, t);
    }
    if (rx->over == 1 || rx->over == 2) {
        uint64_t lim = rx->body_cap;
        le__puts(&b, "the reply body ");
        if (rx->over == 2) {
            le__puts(&b, "announces ");
            le__puti(&b, rx->announced > (uint64_t)INT64_MAX
                             ? INT64_MAX : (int64_t)rx->announced);
            le__puts(&b, " bytes, ");
        } else {
            le__puts(&b, "is ");
        }
        le__puts(&b, "more than LE_BODY_MAX (");
        le__puti(&b, (int64_t)lim);
        le__puts(&b, " bytes). ");
        /* etcd refuses objects over 1.5 MiB, so nothing larger is a Lease */
        if (rx->over == 2 && rx->announced > 1572864)
            le__puts(&b, "No Lease is that large (the API server stores at "
                         "most 1.5 MiB per object): something other than the "
                         "API server answered");
        else
            le__puts(&b, "A Lease is normally under 2 KB; if this one really "
                         "carries that much (large annotations or "
                         "managedFields), define LE_BODY_MAX larger");
        return le__err_end(e, &b, LE_ETOOBIG, rx->http.status_code, t);
    }
    le__puts(&b, "malformed HTTP reply: ");
    le__put_clean(&b, llhttp_get_error_reason(&rx->http),
                  strlen(llhttp_get_error_reason(&rx->http)), 120);
    return le__err_end(e, &b, LE_EPROTO, 0, t);
}

/* Parses a Lease object in s (which it modifies): the record; the spans of
   the spec and the resourceVersion; checks name and namespace. The spec is
   compacted in place to the members le.h does not own, so any number of
   them (newer API versions) is sent back byte for byte. */
static int le__parse_lease(le_elector *e, char *s, size_t n, le__record *r,
                           le__objinfo *oi, int64_t now) {
    jsmntok_t toks[LE_JSON_TOKENS];
    le__json j;
    char tmp[LE__NAME_MAX + 2];
    int i, err, have_name = 0, have_rv = 0, seen = 0, top = 0;
    char *w = 0; /* compaction: where the next foreign spec member goes */
    int spec_obj = 0;
    j.t = toks;
    if ((err = le__tokenize(e, &j, s, n, now, "the Lease in the reply")))
        return err;
    memset(r, 0, sizeof *r);
    r->holder_hash = LE__FNV0;
    r->extra_hash = LE__FNV0;
    oi->len = n;
    oi->spec_s = oi->spec_e = -1;
    oi->rv_s = oi->rv_e = 0;
    oi->meta_s = oi->ann_s = oi->ann_e = -1;
    oi->uid_hash = 0;
    oi->close = j.t[0].end - 1;
    for (i = 1; i < j.n;) {
        int k = i, v = i + 1, bit = le__is(&j, k, "metadata") ? 1
                                  : le__is(&j, k, "spec") ? 2 : 0;
        i = le__skip(&j, v);
        /* the API server never repeats them; a second spec would also
           defeat the in-place compaction of the first */
        if (top & bit)
            return le__bad_lease(e, now, bit == 1 ? "the Lease has two "
                                 "metadata members" : "the Lease has two spec "
                                 "members");
        top |= bit;
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
            oi->meta_s = j.t[v].start;
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
                    oi->rv_s = j.t[mv].start;
                    oi->rv_e = j.t[mv].end;
                    have_rv = 1;
                } else if (le__is(&j, mk, "uid")) {
                    oi->uid_hash = le__fnv(LE__FNV0, s + j.t[mv].start,
                                           (size_t)(j.t[mv].end - j.t[mv].start));
                } else if (le__is(&j, mk, "annotations")) {
                    if (j.t[mv].type != JSMN_OBJECT && !le__null(&j, mv))
                        return le__bad_lease(e, now, "metadata.annotations is "
                                             "not an object");
                    oi->ann_s = j.t[mv].start;
                    oi->ann_e = j.t[mv].end;
                }
            }
        } else if (le__is(&j, k, "spec")) {
            int m;
            oi->spec_s = j.t[v].start;
            oi->spec_e = j.t[v].end;
            if (le__null(&j, v)) continue; /* replaced as a whole */
            if (j.t[v].type != JSMN_OBJECT)
                return le__bad_lease(e, now, "spec is not an object");
            spec_obj = 1;
            w = s + oi->spec_s + 1;
            for (m = v + 1; m < i;) {
                int mk = m, mv = m + 1, bit = 0;
                m = le__skip(&j, mv);
                if (le__is(&j, mk, "holderIdentity")) {
                    le__sink hk;
                    bit = 1;
                    hk.out = r->holder; hk.cap = sizeof r->holder;
                    if (!le__null(&j, mv)) {
                        if (le__decode(&j, mv, &hk))
                            return le__bad_lease(e, now, "holderIdentity is not "
                                                 "a JSON string");
                        r->holder_len = hk.n;
                        r->holder_hash = hk.h;
                    }
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
                    /* not ours: kept verbatim. strategy and preferredHolder
                       are part of the record client-go compares, so a
                       change of either restarts the expiry too */
                    int ks = j.t[mk].start - 1;
                    int ve = j.t[mv].end + (j.t[mv].type == JSMN_STRING);
                    if (le__is(&j, mk, "strategy") ||
                        le__is(&j, mk, "preferredHolder"))
                        r->extra_hash = le__fnv(r->extra_hash, s + ks,
                                                (size_t)(ve - ks)) * 31;
                    if (w != s + oi->spec_s + 1) *w++ = ',';
                    memmove(w, s + ks, (size_t)(ve - ks));
                    w += ve - ks;
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
    if (spec_obj) { /* close the compacted spec and move the rest up */
        int d;
        *w++ = '}';
        d = (int)(s + oi->spec_e - w);
        memmove(w, s + oi->spec_e, n - (size_t)oi->spec_e);
        if (oi->rv_s > oi->spec_e) { oi->rv_s -= d; oi->rv_e -= d; }
        if (oi->meta_s > oi->spec_e) oi->meta_s -= d;
        if (oi->ann_s > oi->spec_e) { oi->ann_s -= d; oi->ann_e -= d; }
        if (oi->close > oi->spec_e) oi->close -= d;
        oi->spec_e -= d;
        oi->len = n - (size_t)d;
    }
    return 0;
}

/* Error message for a non-success status, from the API's Status object. */
static int le__status_err(le_elector *e, int64_t now) {
    static const char *const verb[] = {"", "get", "create", "update", "update",
                                       "update", "get"};
    const char *body = e->rx.body;
    jsmntok_t toks[64];
    le__json j;
    le__sb b = le__err_begin(e);
    int st = e->rx.status, err, i, msg = -1;
    jsmn_parser p;
    j.t = toks;
    j.s = body;
    jsmn_init(&p);
    j.n = jsmn_parse(&p, body, e->rx.body_len, toks, 64);
    if (j.n > 0 && toks[0].type == JSMN_OBJECT && le__tree_ok(&j))
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
    if (e->retry_after_ms) {
        le__puts(&b, " (Retry-After: ");
        le__puti(&b, e->retry_after_ms / 1000);
        le__puts(&b, " s)");
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

static void le__stop_leading(le_elector *e, int64_t now, le_stop_reason why) {
    le_event ev;
    if (!e->leading) return;
    e->leading = 0;
    e->st.stopped++;
    if (why != LE_STOP_CANCEL) e->npend = 0; /* only a holder may write them */
    memset(&ev, 0, sizeof ev);
    ev.type = LE_EV_STOPPED_LEADING;
    ev.mono_ms = now;
    ev.term = e->term;
    ev.reason = why;
    le__emit(e, &ev);
}

/* The one place a Lease record enters the state machine, whichever way it
   arrived. Expiry restarts whenever the record changes: holder, duration,
   times, transitions, strategy or preferredHolder (client-go compares the
   same record). */
static void le__observe(le_elector *e, int64_t now, const le__record *r) {
    le__record *o = &e->obs;
    if (!e->have_obs || o->holder_len != r->holder_len ||
        o->holder_hash != r->holder_hash || strcmp(o->holder, r->holder) ||
        o->extra_hash != r->extra_hash || o->dur_s != r->dur_s ||
        o->transitions != r->transitions || strcmp(o->acquire, r->acquire) ||
        strcmp(o->renew, r->renew)) {
        *o = *r;
        e->have_obs = 1;
        e->obs_at = now;
    }
    if (!e->have_reported || e->reported_len != o->holder_len ||
        e->reported_hash != o->holder_hash) {
        /* printable for logs; compared by length and hash, not as text,
           so "x\0y" is never taken for "x" */
        le_event ev;
        size_t i, n = o->holder_len < LE_IDENTITY_MAX ? o->holder_len
                                                      : LE_IDENTITY_MAX;
        for (i = 0; i < n; i++) {
            unsigned char c = (unsigned char)o->holder[i];
            e->reported[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
        }
        if (o->holder_len > n) memcpy(e->reported + n, "...", 3), n += 3;
        e->reported[n] = 0;
        e->reported_len = o->holder_len;
        e->reported_hash = o->holder_hash;
        e->have_reported = 1;
        memset(&ev, 0, sizeof ev);
        ev.type = LE_EV_NEW_LEADER;
        ev.mono_ms = now;
        ev.leader = e->reported;
        le__emit(e, &ev);
    }
}

/* The token of record key's value in the Lease object o, or -1. */
static int le__find_record(const char *o, size_t n, const char *key,
                           le__json *j) {
    jsmn_parser p;
    int i, m, a;
    jsmn_init(&p);
    j->s = o;
    j->n = jsmn_parse(&p, o, n, j->t, LE_JSON_TOKENS);
    if (j->n <= 0 || j->t[0].type != JSMN_OBJECT || !le__tree_ok(j)) return -1;
    for (i = 1; i < j->n; i = le__skip(j, i + 1)) {
        if (!le__is(j, i, "metadata") || j->t[i + 1].type != JSMN_OBJECT) continue;
        for (m = i + 2; m < le__skip(j, i + 1); m = le__skip(j, m + 1)) {
            if (!le__is(j, m, "annotations") || j->t[m + 1].type != JSMN_OBJECT)
                continue;
            for (a = m + 2; a < le__skip(j, m + 1); a = le__skip(j, a + 1))
                if (le__key_is(o + j->t[a].start,
                               (size_t)(j->t[a].end - j->t[a].start), key))
                    return j->t[a + 1].type == JSMN_STRING ? a + 1 : -1;
        }
    }
    return -1;
}

/* Records waiting whose value the cached Lease now carries are stored. */
static void le__records_check(le_elector *e, int64_t now) {
    jsmntok_t toks[LE_JSON_TOKENS];
    char val[LE_RECORD_MAX + 1];
    int i = 0;
    le__json j;
    j.t = toks;
    while (i < e->npend) {
        le__pending *pd = &e->pend[i];
        int v = le__find_record(e->buf[e->cur], e->obj.len, pd->key, &j);
        long n = v < 0 ? -1 : le__unescape(&j, v, val, sizeof val);
        if (n == (long)pd->vlen && !memcmp(val, pd->val, pd->vlen)) {
            le_event ev;
            le__pending done = *pd;
            e->pend[i] = e->pend[--e->npend];
            memset(&ev, 0, sizeof ev);
            ev.type = LE_EV_RECORD_STORED;
            ev.mono_ms = now;
            ev.term = e->term;
            ev.key = done.key;
            ev.value = done.val;
            le__emit(e, &ev);
            continue;
        }
        i++;
    }
}

/* A parsed Lease in buf[*slot] (a reply or a watch event) becomes the
   cached object and an observation; the old cache becomes the slot. */
static void le__hold(le_elector *e, int64_t now);
static void le__accept(le_elector *e, int64_t now, int *slot,
                       const le__record *r, const le__objinfo *oi) {
    int c = e->cur;
    if (e->have_obj && e->obj.uid_hash && oi->uid_hash != e->obj.uid_hash)
        le__hold(e, now); /* deleted and created again: another object */
    e->gone = 0;
    e->cur = *slot;
    *slot = c;
    e->obj = *oi;
    e->have_obj = 1;
    le__rv_take(e->w_rv, e->buf[e->cur], oi->rv_s, oi->rv_e);
    le__observe(e, now, r);
    if (e->npend) le__records_check(e, now);
}

/* The Lease this elector saw was deleted (or replaced by a new object):
   whoever held it may still believe it leads, and a stale observation
   cannot tell who that is. Any holder's last renew was sent before the
   deletion, so its deadline has passed one LeaseDuration from now: no
   create or take-over by another replica before then. */
static void le__hold(le_elector *e, int64_t now) {
    int64_t w = e->lease_ms, until;
    le__sb b;
    if ((int64_t)e->obs.dur_s * 1000 > w) w = (int64_t)e->obs.dur_s * 1000;
    until = now + w;
    if (until <= e->hold_until) return;
    e->hold_until = until;
    if (e->leading && le__ours(e)) return;
    b = le__err_begin(e);
    le__puts(&b, "lease ");
    le__puts(&b, e->ns);
    le__puts(&b, "/");
    le__puts(&b, e->name);
    le__puts(&b, " was deleted or replaced by a new object: this replica "
                 "waits ");
    le__puti(&b, w);
    le__puts(&b, " ms (the larger of its LeaseDuration and the last "
                 "record's) before it creates or takes it, since the last "
                 "holder may believe it leads until then. Fix: do not delete "
                 "or replace a Lease that is held");
    le__err_end(e, &b, LE_ENOTFOUND, 404, now);
}

static int64_t le__expiry(const le_elector *e) {
    return e->obs_at + (int64_t)e->obs.dur_s * 1000;
}

static void le__done(le_elector *e) {
    e->state = LE__DONE;
    e->close_conn = 1;
}

/* A live watch is trusted while it brings news: a holder renews every
   RetryPeriod and each renew is an event. Silent for 2.2 RetryPeriods (the
   longest a polling follower waits between two GETs), the stream may be
   dead with its connection still up (a lost NAT entry, a proxy failover):
   the follower polls as it would without a watch until an event comes. */
static int64_t le__w_quiet(const le_elector *e) {
    return e->w_heard + e->retry_ms * 11 / 5;
}

static int le__w_trusted(const le_elector *e, int64_t now) {
    return e->w_live && now < le__w_quiet(e);
}

/* Wait before the next attempt: the leader retries every RetryPeriod,
   followers with jitter. A server's Retry-After (429, 5xx only) is
   honoured, but a follower still polls when the lease it observed would
   expire, and a leader still renews while a renew can succeed. */
static void le__retry_later(le_elector *e, int64_t now) {
    int64_t d = e->leading ? e->retry_ms : le__jitter(e, e->retry_ms);
    int64_t at, cap;
    if (e->retry_after_ms > d) d = e->retry_after_ms;
    at = now + d;
    if (e->leading) {
        cap = e->lead_until - e->timeout_ms;
        if (cap < now + e->retry_ms) cap = now + e->retry_ms;
        if (at > cap) at = cap;
    } else if (e->have_obs && e->obs.holder_len && !le__ours(e)) {
        int trusted = le__w_trusted(e, now);
        cap = le__expiry(e); /* poll exactly when it would expire, if sooner */
        if (cap > now && (at > cap || trusted)) at = cap;
        if (trusted && at > le__w_quiet(e)) at = le__w_quiet(e);
    }
    e->next_op = LE__NONE;
    e->next_at = at;
    if (e->w_live && !e->leading && at == le__expiry(e)) e->next_op = LE__UPDATE;
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
    /* the Lease was deleted and re-created under us: leaseTransitions
       started again, so this is a new tenure with a new term */
    if (e->leading && e->term != e->obs.transitions)
        le__stop_leading(e, now, LE_STOP_LOST);
    e->lead_until = until;
    e->st.last_renew_ms = e->req_sent;
    {   /* records set while this write was in flight go out at once */
        int i;
        for (i = 0; i < e->npend; i++)
            if (!e->pend[i].sent) e->next_at = now;
    }
    if (!e->leading) {
        le_event ev;
        e->leading = 1;
        e->st.started++;
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
        le__retry_later(e, now);
        return;
    }
    le__again(e, now, LE__UPDATE);
}

/* A write counts only if its reply is the Lease as written: our holder (or
   none, for a release), the renewTime sent, and a new resourceVersion. A
   reply to another request, a replayed one or a no-op update is none. */
static int le__check_write(le_elector *e, int64_t now, const le__record *r,
                           const le__objinfo *oi, const char *body) {
    size_t hl = e->op == LE__RELEASE ? 0 : e->id_len;
    if (r->holder_len != hl || memcmp(r->holder, e->id, hl))
        return le__bad_lease(e, now, "a successful write returned another "
                             "holder");
    if (strcmp(r->renew, e->sent_renew))
        return le__bad_lease(e, now, "the reply to a write does not carry the "
                             "renewTime written (a reply to another request?)");
    if (e->op != LE__CREATE &&
        le__fnv(LE__FNV0, body + oi->rv_s, (size_t)(oi->rv_e - oi->rv_s)) ==
            e->sent_rv_hash)
        return le__bad_lease(e, now, "the reply to a write has the "
                             "resourceVersion that was sent: the server did not "
                             "apply it");
    return 0;
}

static void le__watch_end(le_elector *e, int64_t now, int64_t again_at);

/* A complete reply to e->op is in e->rx. */
static int le__on_reply(le_elector *e, int64_t now) {
    le__record r;
    le__objinfo oi;
    int st = e->rx.status, op = e->op, err, missed;
    char *body = e->rx.body;
    e->state = LE__IDLE;
    if (!e->rx.keep_alive) e->close_conn = 1;
    e->retry_after_ms = st == 429 || (st >= 500 && st < 600)
                        ? e->rx.retry_after_ms : 0;
    /* 201 to a PUT: the server re-created a deleted Lease from it */
    if (st == 200 || (st == 201 && op != LE__GET && op != LE__RELEASE_GET)) {
        if ((err = le__parse_lease(e, body, e->rx.body_len, &r, &oi, now)) ||
            (op != LE__GET && op != LE__RELEASE_GET &&
             (err = le__check_write(e, now, &r, &oi, body)))) {
            le__failed(e, now);
            return err;
        }
        /* a GET that shows a change the live watch did not bring: the
           stream is dead or stale; a new one starts from this version */
        missed = op == LE__GET && e->w_live && !le__w_trusted(e, now) &&
                 e->have_obj &&
                 (oi.rv_e - oi.rv_s != e->obj.rv_e - e->obj.rv_s ||
                  memcmp(body + oi.rv_s, e->buf[e->cur] + e->obj.rv_s,
                         (size_t)(oi.rv_e - oi.rv_s)));
        le__accept(e, now, &e->rbuf, &r, &oi);
        if (missed) {
            le__fail_msg(e, LE_ETIMEDOUT, now, "the watch stayed silent while "
                         "the Lease changed (a GET found a version it did not "
                         "deliver): a dead stream; restarting the watch", 0);
            le__watch_end(e, now, now);
        }
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
        if (e->have_obj && !e->gone) { /* deleted since we saw it */
            e->gone = 1;
            le__hold(e, now);
        }
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
        /* a follower whose watch is live learns the winner's record from
           its event: no GET (at a handover every watcher tries at once) */
        if (!e->leading && le__w_trusted(e, now)) {
            le__retry_later(e, now);
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

/* ---- the watch (followers) ------------------------------------------------ */

/* A follower watches the Lease on a stream of its own instead of polling:
   every event is an observation like a GET reply (same expiry rule), a
   released or deleted Lease is taken at once, and the take-over at expiry
   is a PUT of the object last seen. Safety never rests on the watch: every
   write is conditional on the resourceVersion, so a late, lost or stale
   event only costs time. A watch silent for longer than the API server's
   bookmark interval (about a minute) is restarted. */
#define LE__WATCH_SILENT_MS 75000
#define LE__WATCH_FORBIDDEN_RETRY_MS 600000

static void le__tick(le_elector *e, int64_t t);

/* Whether this elector may watch (the leader does not). */
static int le__watch_could(const le_elector *e) {
    /* not for a Lease a GET found gone: a watch from the object seen last
       would bring its DELETED again, or 410 once that version is
       compacted, each followed by a GET, in a loop until it is created */
    return e->watch_on && !e->leading && !e->stopping && e->state != LE__DONE &&
           e->have_obj && !e->gone;
}

static int le__watch_wanted(const le_elector *e, int64_t t) {
    return le__watch_could(e) && t >= e->w_next_at;
}

/* The watch ends (closed, failed, not wanted): polling resumes. */
static void le__watch_end(le_elector *e, int64_t now, int64_t again_at) {
    if (e->w_state != 0) e->w_close = 1;
    e->w_state = 0;
    e->w_len = 0;
    e->w_depth = e->w_str = e->w_esc = 0;
    e->w_next_at = again_at;
    if (e->w_live) {
        e->w_live = 0;
        e->st.watching = 0;
        if (e->state == LE__IDLE && !e->leading && !e->stopping &&
            e->next_at > now + e->retry_ms) {
            e->next_op = LE__NONE;
            e->next_at = now + le__jitter(e, e->retry_ms);
        }
    }
}

static int64_t le__watch_backoff(le_elector *e, int64_t now) {
    int64_t d = 1000;
    int i;
    for (i = 0; i < e->w_fails && d < 30000; i++) d *= 2;
    if (d > 30000) d = 30000;
    e->w_fails++;
    return now + d / 2 + (int64_t)(((uint64_t)d / 2 * le__rand(e)) >> 32);
}

static void le__watch_fail(le_elector *e, int64_t now, int err, const char *a,
                           const char *b2) {
    le__fail_msg(e, err, now, a, b2);
    le__watch_end(e, now, le__watch_backoff(e, now));
}

/* A follower that has seen a record: when to act on it. While the watch is
   live there is no polling: the next request is the take-over at the
   observed expiry, with the object last seen. */
static void le__watch_react(le_elector *e, int64_t now) {
    if (e->leading || e->stopping || e->state != LE__IDLE) return;
    if (!e->obs.holder_len || le__ours(e) || now >= le__expiry(e)) {
        le__again(e, now, LE__UPDATE);
        return;
    }
    if (le__w_quiet(e) < le__expiry(e)) { /* poll if the events stop */
        e->next_op = LE__NONE;
        e->next_at = le__w_quiet(e) > now ? le__w_quiet(e) : now;
        return;
    }
    e->next_op = LE__UPDATE;
    e->next_at = le__expiry(e);
}

/* One complete event, in buf[wbuf][0..n). 0: go on; 1: the stream is
   ended (already reported if that was an error). */
static int le__w_event(le_elector *e, size_t n) {
    jsmntok_t toks[LE_JSON_TOKENS];
    le__json j;
    char *s = e->buf[e->wbuf];
    int64_t now = e->w_now;
    int i, type = -1, obj = -1;
    j.t = toks;
    if (le__tokenize(e, &j, s, n, now, "a watch event")) {
        le__watch_end(e, now, le__watch_backoff(e, now));
        return 1;
    }
    for (i = 1; i < j.n; i = le__skip(&j, i + 1)) {
        if (le__is(&j, i, "type")) type = i + 1;
        else if (le__is(&j, i, "object") && j.t[i + 1].type == JSMN_OBJECT)
            obj = i + 1;
    }
    if (type < 0 || obj < 0) {
        le__watch_fail(e, now, LE_EJSON, "a watch event has no type or no "
                       "object; restarting the watch", 0);
        return 1;
    }
    e->st.watch_events++;
    e->w_until = now + LE__WATCH_SILENT_MS;
    if (le__is(&j, type, "BOOKMARK")) { /* fresh resourceVersion, no record */
        int m, k;
        for (m = obj + 1; m < le__skip(&j, obj); m = le__skip(&j, m + 1)) {
            if (!le__is(&j, m, "metadata") || j.t[m + 1].type != JSMN_OBJECT)
                continue;
            for (k = m + 2; k < le__skip(&j, m + 1); k = le__skip(&j, k + 1))
                if (le__is(&j, k, "resourceVersion") &&
                    j.t[k + 1].type == JSMN_STRING)
                    le__rv_take(e->w_rv, s, j.t[k + 1].start, j.t[k + 1].end);
        }
        return 0;
    }
    if (le__is(&j, type, "ADDED") || le__is(&j, type, "MODIFIED")) {
        le__record r;
        le__objinfo oi;
        size_t on = (size_t)(j.t[obj].end - j.t[obj].start);
        memmove(s, s + j.t[obj].start, on);
        if (le__parse_lease(e, s, on, &r, &oi, now)) {
            le__watch_end(e, now, le__watch_backoff(e, now));
            return 1;
        }
        le__accept(e, now, &e->wbuf, &r, &oi);
        e->w_heard = now;
        le__watch_react(e, now);
        return 0;
    }
    if (le__is(&j, type, "DELETED")) { /* gone: read again, then create it */
        if (!e->gone) { e->gone = 1; le__hold(e, now); }
        le__watch_end(e, now, now);
        e->w_rv[0] = 0;
        if (!e->leading && !e->stopping && e->state == LE__IDLE)
            le__again(e, now, LE__GET);
        return 1;
    }
    if (le__is(&j, type, "ERROR")) { /* a Status: 410 Gone means GET again */
        int32_t code = 0;
        for (i = obj + 1; i < le__skip(&j, obj); i = le__skip(&j, i + 1))
            if (le__is(&j, i, "code") && le__int32(&j, i + 1, &code)) code = 0;
        if (code == 410) {
            e->w_rv[0] = 0;
            le__watch_end(e, now, now);
            if (!e->leading && !e->stopping && e->state == LE__IDLE)
                le__again(e, now, LE__GET);
            return 1;
        }
        le__watch_fail(e, now, LE_EHTTP, "the API server ended the watch with "
                       "an error event; restarting it", 0);
        return 1;
    }
    le__watch_fail(e, now, LE_EJSON, "a watch event of an unknown type; "
                   "restarting the watch", 0);
    return 1;
}

/* Watch stream bytes (the body of its 200): complete JSON objects are
   events. Returns 0, or -1 with rx->over = 5 when the stream ended. */
static int le__w_bytes(le_elector *e, le__rx *rx, const char *at, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        char c = at[i];
        if (e->w_depth == 0 && !e->w_str) {
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
            if (c != '{') {
                le__watch_fail(e, e->w_now, LE_EPROTO, "the watch stream is not "
                               "a sequence of JSON objects", 0);
                rx->over = 5;
                return -1;
            }
        }
        if (e->w_len == LE_BODY_MAX + LE__SLACK) {
            le__watch_fail(e, e->w_now, LE_ETOOBIG, "a watch event is larger "
                           "than LE_BODY_MAX; define LE_BODY_MAX larger", 0);
            rx->over = 5;
            return -1;
        }
        e->buf[e->wbuf][e->w_len++] = c;
        if (e->w_str) {
            if (e->w_esc) e->w_esc = 0;
            else if (c == '\\') e->w_esc = 1;
            else if (c == '"') e->w_str = 0;
        } else if (c == '"') {
            e->w_str = 1;
        } else if (c == '{' || c == '[') {
            e->w_depth++;
        } else if ((c == '}' || c == ']') && --e->w_depth == 0) {
            size_t len = e->w_len;
            e->w_len = 0;
            if (le__w_event(e, len)) {
                rx->over = 5;
                return -1;
            }
        }
    }
    return 0;
}

static int le__build_watch(le_elector *e, int64_t now) {
    le__sb b;
    b.p = e->w_out; b.cap = sizeof e->w_out; b.len = 0; b.over = 0;
    if (!e->w_rv[0]) /* resume from the object last seen */
        le__rv_take(e->w_rv, e->buf[e->cur], e->obj.rv_s, e->obj.rv_e);
    if (!e->w_rv[0]) return -1;
    le__puts(&b, "GET " LE__API);
    le__puts(&b, e->ns);
    le__puts(&b, "/leases?allowWatchBookmarks=true&fieldSelector=metadata.name"
                 "%3D");
    le__puts(&b, e->name);
    le__puts(&b, "&resourceVersion=");
    le__puts(&b, e->w_rv);
    le__puts(&b, "&timeoutSeconds=");
    le__puti(&b, 600 + (int64_t)((600ULL * le__rand(e)) >> 32));
    le__puts(&b, "&watch=true HTTP/1.1\r\nHost: ");
    le__puts(&b, e->host);
    le__puts(&b, "\r\nUser-Agent: ");
    le__puts(&b, e->ua);
    if (e->token && e->token[0]) {
        le__puts(&b, "\r\nAuthorization: Bearer ");
        le__puts(&b, e->token);
    }
    le__puts(&b, "\r\nAccept: application/json\r\n\r\n");
    if (b.over) {
        le__fail_msg(e, LE_ETOOBIG, now, "the watch request does not fit "
                     "LE_WATCH_REQ_MAX bytes (a long token); define it larger", 0);
        return -1;
    }
    e->w_out_len = b.len;
    e->w_out_sent = 0;
    return 0;
}

/* The watch stream's part of le_next(). */
static void le__watch_next(le_elector *e, int64_t t, le_action *a) {
    int wanted = le__watch_wanted(e, t);
    a->watch_deadline = LE__FAR;
    if (e->w_state && !e->watch_on) le__watch_end(e, t, LE__FAR);
    else if (e->w_state && (e->leading || e->stopping || e->state == LE__DONE))
        le__watch_end(e, t, t); /* the leader does not watch */
    if (e->w_close) {
        e->w_close = 0;
        a->watch = LE_WANT_CLOSE;
        a->watch_deadline = t;
        if (t < a->deadline) a->deadline = t;
        return;
    }
    if (!e->w_state && wanted) {
        if (le__build_watch(e, t)) {
            e->w_next_at = le__watch_backoff(e, t);
        } else {
            e->w_state = 1; /* sending */
            e->w_until = t + e->timeout_ms;
            e->st.requests++;
        }
    }
    if (e->w_state == 1) {
        a->watch = LE_WANT_SEND;
        a->wdata = e->w_out + e->w_out_sent;
        a->wlen = e->w_out_len - e->w_out_sent;
    } else if (e->w_state == 2) {
        a->watch = LE_WANT_RECV;
    }
    if (e->w_state) a->watch_deadline = e->w_until;
    if (e->w_state && e->w_until < a->deadline) a->deadline = e->w_until;
    else if (!e->w_state && le__watch_could(e) && e->w_next_at < a->deadline)
        a->deadline = e->w_next_at > t ? e->w_next_at : t;
}

/* The watch's 200 came: polling stops, the take-over waits for expiry. */
static void le__watch_live(le_elector *e, int64_t now) {
    e->w_live = 1;
    e->w_worked = 1;
    e->w_heard = now;
    e->st.watching = 1;
    e->w_fails = 0;
    e->w_until = now + LE__WATCH_SILENT_MS;
    if (e->state == LE__IDLE && e->next_op == LE__NONE && !e->leading &&
        !e->stopping && e->have_obs)
        le__watch_react(e, now);
}

/* A watch request answered with an error status. */
static void le__watch_status(le_elector *e, int64_t now) {
    int st = e->wrx.status;
    le__sb b;
    if (st == 410) { /* too old to resume from: GET, then watch again */
        e->w_rv[0] = 0;
        le__watch_end(e, now, now);
        if (!e->leading && !e->stopping && e->state == LE__IDLE)
            le__again(e, now, LE__GET);
        return;
    }
    if (st == 403) {
        /* no list/watch: poll like client-go; say so once, try again in a
           while (the rule may be added) */
        if (!e->w_told) {
            b = le__err_begin(e);
            le__puts(&b, "HTTP 403 on watch lease ");
            le__puts(&b, e->ns);
            le__puts(&b, "/");
            le__puts(&b, e->name);
            le__puts(&b, ": RBAC does not allow 'list' and 'watch' on leases, "
                         "so this follower polls like client-go. Fix: add "
                         "\"list\", \"watch\" to the verbs of the Role's "
                         "rule {apiGroups: [\"coordination.k8s.io\"], "
                         "resources: [\"leases\"], resourceNames: [\"");
            le__puts(&b, e->name);
            le__puts(&b, "\"]}, or set le_config.poll_only. A server that has "
                         "just started answers 403 until its authorizer is "
                         "ready: retried in 30 s if a watch worked before, "
                         "else in 10 min");
            le__err_end(e, &b, LE_EFORBIDDEN, 403, now);
            e->w_told = 1;
        }
        le__watch_end(e, now, e->w_worked ? le__watch_backoff(e, now)
                                          : now + LE__WATCH_FORBIDDEN_RETRY_MS);
        return;
    }
    b = le__err_begin(e);
    le__puts(&b, "HTTP ");
    le__puti(&b, st);
    le__puts(&b, " on watch lease ");
    le__puts(&b, e->ns);
    le__puts(&b, "/");
    le__puts(&b, e->name);
    le__puts(&b, st == 401 ? ": the bearer token was rejected; polling until "
                             "the watch works again"
                           : ": polling until the watch works again");
    le__err_end(e, &b, st == 401 ? LE_EUNAUTHORIZED : st == 429 ? LE_ETHROTTLED
                : st >= 500 && st < 600 ? LE_ESERVER : LE_EHTTP, st, now);
    le__watch_end(e, now, le__watch_backoff(e, now));
    if ((st == 429 || st >= 500) && e->wrx.retry_after_ms &&
        e->w_next_at < now + e->wrx.retry_after_ms)
        e->w_next_at = now + e->wrx.retry_after_ms;
}

/* What the passing of time decides, whichever call brings the news: every
   entry point runs this first, so a reply fed after its request's deadline
   is a timeout, and leadership ends at its deadline even if the next call
   is le_feed(). */
static void le__tick(le_elector *e, int64_t t) {
    if (e->leading && t > e->lead_until)
        le__stop_leading(e, t, LE_STOP_DEADLINE);
    if (e->stopping && e->state != LE__DONE && t >= e->stop_until) {
        le__fail_msg(e, LE_ETIMEDOUT, t, "the release did not complete within "
                     "renew_deadline_ms; the Lease will expire on its own", 0);
        le__done(e);
    }
    if ((e->state == LE__SENDING || e->state == LE__WAITING) && t >= e->req_until)
        le__timeout(e, t);
    if (e->w_state && t >= e->w_until) {
        if (e->w_live) { /* no event, no bookmark: a dead path; restart */
            le__fail_msg(e, LE_ETIMEDOUT, t, "the watch was silent for 75 s "
                         "(no event and no bookmark); restarting it", 0);
            le__watch_end(e, t, t);
        } else {
            le__watch_fail(e, t, LE_ETIMEDOUT, "the watch request got no "
                           "reply in time; polling meanwhile", 0);
        }
    }
}

static le_action le__next(le_elector *e, le_time now) {
    le_action a;
    int64_t t = now.mono_ms;
    memset(&a, 0, sizeof a);
    if (e->close_conn) {
        e->close_conn = 0;
        a.want = LE_WANT_CLOSE;
        a.deadline = a.req_deadline = t;
        return a;
    }
    if (e->state == LE__DONE) {
        a.want = LE_WANT_DONE;
        a.deadline = a.req_deadline = LE__FAR;
        return a;
    }
    if (e->state == LE__IDLE && t >= e->next_at) {
        int op = e->next_op;
        if (op == LE__NONE)
            op = e->stopping ? LE__RELEASE
               : (e->leading && e->have_obj) ? LE__RENEW : LE__GET;
        /* a Lease deleted or replaced: others wait out a LeaseDuration
           before they create or take it (le__hold); its leader need not */
        if ((op == LE__CREATE || (op == LE__UPDATE && !le__ours(e))) &&
            t < e->hold_until && !(e->leading && le__ours(e))) {
            e->next_op = op;
            e->next_at = e->hold_until;
            return le__next(e, now);
        }
        /* release only a record that names us as it is cached now: a watch
           event may have brought another holder's since le_stop() */
        if (op == LE__RELEASE && !le__ours(e)) {
            le__done(e);
            return le__next(e, now);
        }
        e->op = op;
        e->next_op = LE__NONE;
        e->retry_after_ms = 0;
        if (e->op == LE__GET && e->leading) e->st.slowpath++; /* after a failed renew */
        if (le__build(e, now)) {
            le__failed(e, t);
            return le__next(e, now);
        }
        e->state = LE__SENDING;
        e->st.requests++;
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
    a.req_deadline = a.deadline;
    return a;
}

LEDEF le_action le_next(le_elector *e, le_time now) {
    le_action a;
    LE_ASSERT(!e->in_cb);
    le__tick(e, now.mono_ms);
    a = le__next(e, now);
    le__watch_next(e, now.mono_ms, &a);
    return a;
}

LEDEF void le_sent(le_elector *e, le_time now, size_t n) {
    LE_ASSERT(!e->in_cb);
    le__tick(e, now.mono_ms);
    if (e->state != LE__SENDING) return;
    LE_ASSERT(n <= e->out_len - e->out_sent);
    e->out_sent += n;
    if (e->out_sent < e->out_len) return;
    e->state = LE__WAITING;
    le__rx_start(e, &e->rx, e->buf[e->rbuf], LE_BODY_MAX);
}

LEDEF int le_feed(le_elector *e, le_time now, const void *data, size_t n) {
    int64_t t = now.mono_ms;
    int err;
    LE_ASSERT(!e->in_cb);
    le__tick(e, t);
    if (e->close_conn) return 0; /* the connection is being dropped */
    if (e->state != LE__WAITING) {
        if (n == 0 && e->state != LE__SENDING)
            return 0; /* an idle connection closed: fine */
        /* bytes before the request was sent, or when none is outstanding,
           answer nothing that was asked: never take them as a reply */
        e->close_conn = 1;
        err = le__fail_msg(e, n ? LE_EPROTO : LE_EIO, t, n
                           ? "the server sent bytes while no request was "
                             "waiting for a reply"
                           : "the connection closed while a request was being "
                             "sent", 0);
        if (e->state == LE__SENDING) le__failed(e, t); /* resend it whole */
        return err;
    }
    if ((err = le__rx_feed(e, &e->rx, t, (const char *)data, n))) {
        e->close_conn = 1;
        le__failed(e, t);
        return err;
    }
    if (!e->rx.msg_done) return 0;
    err = le__on_reply(e, t);
    if (e->rx.extra) { /* the reply counts (a write's shows it is ours) */
        static const char *const verb[] = {"", "get", "create", "update",
                                           "update", "update", "get"};
        le__sb b = le__err_begin(e);
        le__puts(&b, "the server sent ");
        le__puti(&b, (int64_t)e->rx.extra);
        le__puts(&b, " bytes after its reply to ");
        le__puts(&b, verb[e->op]);
        le__puts(&b, " lease ");
        le__puts(&b, e->ns);
        le__puts(&b, "/");
        le__puts(&b, e->name);
        le__puts(&b, " (a second reply, or garbage from a proxy); the "
                     "connection is dropped");
        le__err_end(e, &b, LE_EPROTO, 0, t);
        e->rx.extra = 0;
    }
    return err;
}

LEDEF void le_io_error(le_elector *e, le_time now, int err, const char *detail) {
    LE_ASSERT(!e->in_cb);
    /* whatever was under way on this connection is abandoned with it: a
       late reply must never be read as the answer to the next request.
       The transport's cause is reported even at the request's deadline
       (a handshake that timed out says more than "no reply"). */
    e->close_conn = 1;
    if (e->state == LE__SENDING || e->state == LE__WAITING) {
        le__fail_msg(e, err, now.mono_ms, detail ? detail : le_strerror(err), 0);
        le__failed(e, now.mono_ms);
    }
    le__tick(e, now.mono_ms);
}

LEDEF void le_watch_sent(le_elector *e, le_time now, size_t n) {
    LE_ASSERT(!e->in_cb);
    le__tick(e, now.mono_ms);
    if (e->w_state != 1) return;
    LE_ASSERT(n <= e->w_out_len - e->w_out_sent);
    e->w_out_sent += n;
    if (e->w_out_sent < e->w_out_len) return;
    e->w_state = 2;
    le__rx_start(e, &e->wrx, e->buf[e->wbuf], LE_BODY_MAX);
}

LEDEF int le_watch_feed(le_elector *e, le_time now, const void *data, size_t n) {
    int64_t t = now.mono_ms;
    int err, live;
    LE_ASSERT(!e->in_cb);
    le__tick(e, t);
    if (e->stopping && e->w_state) le__watch_end(e, t, LE__FAR); /* adopt nothing now */
    if (e->w_close || e->w_state == 0) return 0; /* being dropped */
    if (e->w_state == 1) {
        if (n) le__watch_fail(e, t, LE_EPROTO, "the server sent bytes on the "
                              "watch connection before the watch request", 0);
        else le__watch_end(e, t, le__watch_backoff(e, t));
        return n ? LE_EPROTO : 0;
    }
    e->w_now = t;
    live = e->wrx.streaming;
    err = le__rx_feed(e, &e->wrx, t, (const char *)data, n);
    if (err == 1) return 0; /* ended by an event: handled */
    if (err) {
        le__watch_end(e, t, le__watch_backoff(e, t));
        return err;
    }
    if (!live && e->wrx.streaming && e->w_state == 2) le__watch_live(e, t);
    if (!e->wrx.msg_done) return 0;
    if (e->wrx.streaming) { /* the server ended it (timeoutSeconds): resume */
        le__watch_end(e, t, t);
        if (e->wrx.keep_alive) e->w_close = 0; /* the connection can serve the next */
        return 0;
    }
    le__watch_status(e, t);
    return 0;
}

LEDEF void le_watch_error(le_elector *e, le_time now, int err,
                          const char *detail) {
    LE_ASSERT(!e->in_cb);
    if (e->w_state == 0) e->w_close = 1;
    else le__watch_fail(e, now.mono_ms, err, "the watch connection failed: ",
                        detail ? detail : le_strerror(err));
    le__tick(e, now.mono_ms);
}

LEDEF void le_stop(le_elector *e, le_time now) {
    int64_t t = now.mono_ms;
    LE_ASSERT(!e->in_cb);
    le__tick(e, t);
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
LEDEF const char *le_leader(const le_elector *e) { return e->reported; }

LEDEF le_stats le_get_stats(const le_elector *e) {
    le_stats s = e->st;
    s.observed_ms = e->have_obs ? e->obs_at : INT64_MIN;
    return s;
}

LEDEF int le_record_set(le_elector *e, le_time now, const char *key,
                        const char *value) {
    size_t kl, vl, i;
    le__pending *pd = 0;
    LE_ASSERT(!e->in_cb);
    le__tick(e, now.mono_ms);
    kl = key ? strlen(key) : 0;
    if (kl == 0 || kl > LE_RECORD_KEY_MAX) return LE_EINVAL;
    for (i = 0; i < kl; i++) {
        char c = key[i];
        int an = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
        if (!an && ((c != '-' && c != '_' && c != '.') || i == 0 || i == kl - 1))
            return LE_EINVAL;
    }
    vl = value ? strlen(value) : 0;
    if (!value || vl > LE_RECORD_MAX || !le__utf8(value, vl)) return LE_EINVAL;
    if (!le_is_leader(e, now.mono_ms) || e->stopping) return LE_ENOTLEADER;
    for (i = 0; i < (size_t)e->npend; i++)
        if (!strcmp(e->pend[i].key, key)) pd = &e->pend[i];
    if (!pd) {
        if (e->npend == LE_RECORDS) return LE_ETOOBIG;
        pd = &e->pend[e->npend++];
    }
    memcpy(pd->key, key, kl + 1);
    memcpy(pd->val, value, vl + 1);
    pd->vlen = vl;
    pd->sent = 0;
    if (e->state == LE__IDLE) e->next_at = now.mono_ms; /* renew now */
    return 0;
}

LEDEF long le_record_get(const le_elector *e, const char *key, char *out,
                         size_t cap) {
    jsmntok_t toks[LE_JSON_TOKENS];
    le__json j;
    le__sink k;
    int v;
    if (!e->have_obj || !key) return -1;
    j.t = toks;
    v = le__find_record(e->buf[e->cur], e->obj.len, key, &j);
    if (v < 0) return -1;
    k.out = out; k.cap = cap;
    if (le__decode(&j, v, &k)) return -1;
    if (k.n >= cap) return LE_ETOOBIG;
    return (long)k.n;
}

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

/* ======================================================================= */
/*             TRANSPORT (LE_HTTPS): declarations, implementation          */
/* ======================================================================= */
#ifdef LE_HTTPS
#ifndef LE__HTTPS_DECL
#define LE__HTTPS_DECL

#include <signal.h>
#include <sys/socket.h>
#include <mbedtls/ssl.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/pk.h>

#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#error "le.h's HTTPS transport needs POSIX.1-2008: define _POSIX_C_SOURCE 200809L before the first #include (or compile with -std=gnu99 / gnu11)"
#endif

#ifndef LE_HTTPS_TOKEN_MAX
#define LE_HTTPS_TOKEN_MAX 4096
#endif
#ifndef LE_HTTPS_PATH_MAX
#define LE_HTTPS_PATH_MAX 512
#endif
#ifndef LE_HTTPS_FILE_MAX
#define LE_HTTPS_FILE_MAX 1048576
#endif
#define LE__HTTPS_ADDRS 8
#define LE__HTTPS_DN 160

#ifdef __cplusplus
extern "C" {
#endif

typedef struct le_https_config {
    const char *server;      /* "https://host[:port]", "http://127.0.0.1:8001";
                                0 = kubeconfig if given, else in cluster */
    const char *kubeconfig;  /* path of a kubeconfig; 0 = none */
    const char *context;     /* kubeconfig context; 0 = current-context */
    const char *ca_file;     /* PEM CA bundle; 0 = in-cluster ca.crt or the
                                kubeconfig's */
    const char *token_file;  /* bearer token file; 0 = in-cluster token or
                                the kubeconfig's */
    const char *client_cert_file; /* PEM client certificate; 0 = none or the
                                     kubeconfig's */
    const char *client_key_file;  /* its PEM private key */
    const char *tls_server_name;  /* name (or IP) to check the server's
                                     certificate against; 0 = server host */
    const char *sa_dir;      /* 0 = "/var/run/secrets/kubernetes.io/
                                serviceaccount" */
    int allow_http;          /* 1 = allow http:// to a loopback address */
    int token_reload_ms;     /* 0 = 60000: re-read the token file */
    int backoff_min_ms;      /* 0 = 500: wait after a failed connection */
    int backoff_max_ms;      /* 0 = 8000: cap of the doubling wait */
} le_https_config;

typedef struct le_https_stats {
    uint64_t connects;      /* TCP connections established */
    uint64_t handshakes;    /* TLS handshakes completed */
    uint64_t requests;      /* requests written completely */
    uint64_t failures;      /* connection attempts or connections that failed */
    uint64_t token_reloads; /* new tokens picked up from the token file */
} le_https_stats;

/* What le_https_step() wants: watch fd for events, call again by deadline. */
typedef struct le_step {
    int fd;           /* the request connection; -1: nothing to watch */
    short events;     /* POLLIN and/or POLLOUT */
    int wfd;          /* a follower's watch connection; -1: none */
    short wevents;
    int64_t deadline; /* monotonic ms */
    int done;         /* 1: the elector is done (after le_stop()) */
    unsigned conn;    /* changes with every new socket; fd numbers are reused
                         after close, so epoll/libuv users compare this */
    unsigned wconn;   /* the same for wfd */
} le_step;

/* Private: one connection of the transport. */
typedef struct le__hconn {
    int fd, state, fails, ssl_used, wrote, sys_errno, stream;
    unsigned seq;
    int64_t retry_at, deadline;
    char addr_text[64];
    mbedtls_ssl_context ssl;
} le__hconn;

/* The transport. Caller-owned: 17 KB (minimal 3.6) to 55 KB (Debian's
   2.28, mostly its entropy context); mbedTLS keeps its record buffers on
   the heap (or in the static buffer). Do not copy it after le_https_init().
   Fields are private unless marked. */
typedef struct le_https {
    le_https_stats stats;        /* public, read-only */
    const char *tls_version;     /* public: "TLSv1.3" ... of the connection */
    /* where */
    int tls, port, host_is_ip, ip_len, naddr, next_addr, resolved, numeric;
    unsigned char ip[16];
    char host[LE__HOST_MAX + 1], hostport[LE__HOST_MAX + 8];
    char vname[LE__HOST_MAX + 1], origin[LE_HTTPS_PATH_MAX + 64];
    struct sockaddr_storage addr[LE__HTTPS_ADDRS];
    socklen_t addr_len[LE__HTTPS_ADDRS];
    /* credentials and defaults handed to le_config */
    char token[LE_HTTPS_TOKEN_MAX + 1], token_path[LE_HTTPS_PATH_MAX];
    char ca_path[LE_HTTPS_PATH_MAX];
    char ns[LE__NS_MAX + 1], identity[LE_IDENTITY_MAX + 1];
    int reload, token_reload_ms, token_failing;
    int64_t token_next;
    /* connections: c[0] requests, c[1] a follower's watch */
    le__hconn c[2];
    unsigned conn_seq;
    int64_t backoff_min, backoff_max;
    uint64_t rng;
    int last_err;
    char last_msg[LE_ERRMSG_MAX];
    /* TLS */
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca, cert;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    int mbed_ready;
    char ca_subject[LE__HTTPS_DN], peer_subject[LE__HTTPS_DN];
    char peer_issuer[LE__HTTPS_DN], top_issuer[LE__HTTPS_DN];
    char peer_names[256];
    int vcalls;
    /* events for problems outside a request (token reloads) */
    void (*on_event)(void *user, const le_event *ev);
    void *user;
    le_time step_now;  /* the now le_https_step was given, and when (us) */
    int64_t step_us;
    unsigned char rbuf[4096];
    char errmsg[LE_ERRMSG_MAX];
} le_https;

/* Cancellation safe to trigger from a signal handler. */
typedef struct le_cancel {
    volatile sig_atomic_t fired;
    int fd[2]; /* self-pipe: fd[0] becomes readable when fired */
    volatile sig_atomic_t ok; /* cleared before the pipe is closed */
} le_cancel;

/* The blocking runner's clock, transport and work. Zero = default. */
typedef struct le_io {
    le_https *https;     /* the bundled transport (used when send is 0) */
    le_cancel *cancel;   /* 0 = runs until the elector is done */
    void *ctx;           /* passed to every callback below */
    le_time (*now)(void *ctx);  /* 0 = le_clock() */
    /* The program's own work, called between elector steps (it may call
       le_is_leader, le_term, le_stop). Returns when it wants to run next
       (monotonic ms; INT64_MAX = only when something else happens). */
    int64_t (*tick)(void *ctx, le_elector *e, le_time now);
    /* A transport of your own (send, recv and close all set, or none).
       Each blocks at most until deadline (monotonic ms) and returns the
       number of bytes moved (> 0), 0 from recv when the peer closed,
       LE_ETIMEDOUT at the deadline, or another LE_E* error after writing a
       message naming the cause into err (LE_ERRMSG_MAX bytes). close drops
       the connection; the next send opens a new one. */
    long (*send)(void *ctx, const void *data, size_t n, int64_t deadline,
                 char *err);
    long (*recv)(void *ctx, void *buf, size_t cap, int64_t deadline,
                 char *err);
    void (*close)(void *ctx);
    /* Sleep until the deadline (monotonic ms), or less; 0 = poll() on the
       cancel pipe. */
    void (*wait)(void *ctx, int64_t deadline);
} le_io;

/* Loads the configuration (see above) and fills c's zero fields: ns,
   identity, host, token. 0, or LE_EINVAL/LE_ETLS/LE_EIO with the cause and
   fix in le_https_errmsg(t). Keeps c->on_event/c->user for problems it
   finds later outside a request. Call le_https_free() either way. */
LEDEF int le_https_init(le_https *t, const le_https_config *hc, le_config *c);
LEDEF void le_https_free(le_https *t);
/* mbedTLS 3 keeps PSA crypto state for the whole process (psa_crypto_init,
   which le_https_init calls). Call this once at exit, after the last
   le_https_free(), if nothing else in the process uses mbedTLS; it frees
   that state (clean valgrind runs). No-op with mbedTLS 2. */
LEDEF void le_https_global_free(void);
LEDEF const char *le_https_errmsg(const le_https *t);
/* Event-loop interface: do what can be done now, say what to wait for.
   Read now from the clock right before each call (not a loop's cached
   time): replies are stamped with it, and a stale now makes a follower
   believe it saw the record earlier than it did. Within the call, now is
   advanced by the CLOCK_MONOTONIC time the call has taken (a handshake,
   a preemption), so a reply read late in it is stamped when it was read. */
LEDEF le_step le_https_step(le_https *t, le_elector *e, le_time now);
/* Drops the connection (e.g. in a child after fork(), or to reconnect to
   a moved API server) without a TLS alert, so a parent sharing the socket
   keeps its connection; the next request opens a new one. A request in
   flight fails with LE_EIO (the elector retries it as usual). */
LEDEF void le_https_close(le_https *t, le_elector *e, le_time now);

/* Blocking runner: drives e until it is done (after le_stop() or a fired
   cancel, which releases the Lease first). 0, or LE_EINVAL for a bad io. */
LEDEF int le_run(le_elector *e, const le_io *io);
/* CLOCK_MONOTONIC in ms and CLOCK_REALTIME in us. */
LEDEF le_time le_clock(void);
/* poll() timeout for a deadline: 0 .. INT_MAX ms, rounded up. */
LEDEF int le_timeout_ms(int64_t deadline, int64_t now_ms);

LEDEF int le_cancel_init(le_cancel *c);   /* 0 or LE_EIO (no pipe) */
LEDEF void le_cancel_fire(le_cancel *c);  /* async-signal-safe */
LEDEF int le_cancel_fired(const le_cancel *c);
LEDEF void le_cancel_free(le_cancel *c);

#ifdef __cplusplus
}
#endif
#endif /* LE__HTTPS_DECL */

/* ======================================================================= */
/*                      TRANSPORT IMPLEMENTATION                           */
/* ======================================================================= */
#if defined(LE_IMPLEMENTATION) && !defined(LE__HTTPS_IMPL)
#define LE__HTTPS_IMPL

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 25)
#include <sys/random.h>
#define LE__HAVE_GETRANDOM 1
#endif
#include <mbedtls/asn1.h>
#include <mbedtls/base64.h>
#include <mbedtls/platform.h>
#include <mbedtls/version.h>
#if defined(MBEDTLS_ERROR_C)
#include <mbedtls/error.h>
#endif
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define LE__SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
enum { LE__C_NONE, LE__C_CONNECTING, LE__C_HANDSHAKE, LE__C_READY };

/* ---- messages ------------------------------------------------------------ */

static le__sb le__https_sb(char *p, size_t cap) {
    le__sb b;
    b.p = p; b.cap = cap; b.len = 0; b.over = 0;
    return b;
}

static int le__https_cfg_err(le_https *t, int err, const char *a,
                             const char *b2, const char *c) {
    le__sb b = le__https_sb(t->errmsg, sizeof t->errmsg);
    le__puts(&b, a);
    if (b2) le__puts(&b, b2);
    if (c) le__puts(&b, c);
    le__cstr(&b);
    return err;
}

static void le__https_mbed_err(le__sb *b, int r) {
#if defined(MBEDTLS_ERROR_C)
    char m[128];
    mbedtls_strerror(r, m, sizeof m);
    le__puts(b, m);
#else
    static const char hex[] = "0123456789abcdef";
    unsigned v = (unsigned)(r < 0 ? -r : r);
    char m[8];
    m[0] = '-'; m[1] = '0'; m[2] = 'x';
    m[3] = hex[v >> 12 & 15]; m[4] = hex[v >> 8 & 15];
    m[5] = hex[v >> 4 & 15]; m[6] = hex[v & 15]; m[7] = 0;
    le__puts(b, "mbedTLS error ");
    le__puts(b, m);
#endif
}

/* An error event outside any request (the core is not involved). */
static void le__https_event(le_https *t, int64_t now, int err,
                            const char *msg) {
    le_event ev;
    if (!t->on_event) return;
    memset(&ev, 0, sizeof ev);
    ev.type = LE_EV_ERROR;
    ev.mono_ms = now;
    ev.error = err;
    ev.message = msg;
    t->on_event(t->user, &ev);
}

/* ---- small helpers --------------------------------------------------------- */

static int le__https_random(void *out, size_t n) {
    unsigned char *p = (unsigned char *)out;
    int fd;
#if defined(LE__HAVE_GETRANDOM)
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        p += r;
        n -= (size_t)r;
    }
    if (n == 0) return 0;
#endif
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { close(fd); return -1; }
        p += r;
        n -= (size_t)r;
    }
    close(fd);
    return 0;
}

static int le__https_loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s =
            (const struct sockaddr_in6 *)(const void *)sa;
        static const unsigned char lo[16] = {0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1};
        return !memcmp(s->sin6_addr.s6_addr, lo, 16);
    }
    return 0;
}

/* An address as inet_ntop() writes it (glibc's rules: the first longest run
   of two or more zero groups becomes "::", ::ffff:a.b.c.d and ::a.b.c.d
   dotted). musl's inet_ntop formats with snprintf, which would bring the C
   library's printf into a static binary for this alone. */
static void le__https_ip(le__sb *b, int v6, const unsigned char *a) {
    static const char hex[] = "0123456789abcdef";
    unsigned w[8];
    int i, base = -1, len = 0, run = 0;
    if (!v6) {
        for (i = 0; i < 4; i++) {
            if (i) le__puts(b, ".");
            le__puti(b, a[i]);
        }
        return;
    }
    for (i = 0; i < 8; i++) {
        w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
        run = w[i] ? 0 : run + 1;
        if (run > len) { len = run; base = i - run + 1; }
    }
    if (len < 2) {
        base = -1;
        len = 0;
    }
    for (i = 0; i < 8; i++) {
        int d;
        if (base >= 0 && i >= base && i < base + len) {
            if (i == base) le__puts(b, ":");
            continue;
        }
        if (i) le__puts(b, ":");
        if (i == 6 && base == 0 && (len == 6 || (len == 5 && w[5] == 0xffff))) {
            le__https_ip(b, 0, a + 12);
            return;
        }
        for (d = 12; d > 0 && !(w[i] >> d); d -= 4) {}
        for (; d >= 0; d -= 4) le__put(b, &hex[w[i] >> d & 15], 1);
    }
    if (base >= 0 && base + len == 8) le__puts(b, ":");
}

static void le__https_addr_text(char *out, size_t cap, const struct sockaddr *sa) {
    le__sb b = le__https_sb(out, cap);
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        le__https_ip(&b, 0, (const unsigned char *)&s->sin_addr);
        port = ntohs(s->sin_port);
    } else {
        const struct sockaddr_in6 *s =
            (const struct sockaddr_in6 *)(const void *)sa;
        le__puts(&b, "[");
        le__https_ip(&b, 1, s->sin6_addr.s6_addr);
        le__puts(&b, "]");
        port = ntohs(s->sin6_port);
    }
    le__puts(&b, ":");
    le__puti(&b, port);
    le__cstr(&b);
}

/* Reads a whole file with mbedtls_calloc, NUL-terminated. 0, or -errno /
   -EFBIG. */
static int le__https_slurp(const char *path, char **out, size_t *len) {
    struct stat st;
    size_t n = 0, cap;
    char *p;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *out = 0;
    *len = 0;
    if (fd < 0) return -errno;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); return -e; }
    if (st.st_size > LE_HTTPS_FILE_MAX) { close(fd); return -EFBIG; }
    cap = (size_t)st.st_size + 1;
    p = (char *)mbedtls_calloc(1, cap + 1);
    if (!p) { close(fd); return -ENOMEM; }
    for (;;) {
        ssize_t r = read(fd, p + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { int e = errno; close(fd); mbedtls_free(p); return -e; }
        if (r == 0) break;
        n += (size_t)r;
        if (n == cap) { close(fd); mbedtls_free(p); return -EFBIG; } /* grew */
    }
    close(fd);
    p[n] = 0;
    *out = p;
    *len = n;
    return 0;
}

static void le__https_put_errno(le__sb *b, int e) {
    le__puts(b, strerror(e));
}

/* ---- token file ------------------------------------------------------------- */

/* Reads the token file into t->token. 0, or an LE_E* code with msg. */
static int le__https_read_token(le_https *t, char *msg, size_t cap,
                                int *changed, int again) {
    static const char kept[] = "; still using the token read before";
    char buf[LE_HTTPS_TOKEN_MAX];
    size_t n = 0, s = 0;
    le__sb b = le__https_sb(msg, cap);
    int fd = open(t->token_path, O_RDONLY | O_CLOEXEC);
    *changed = 0;
    if (fd < 0) {
        int e = errno;
        le__puts(&b, "token file ");
        le__puts(&b, t->token_path);
        le__puts(&b, e == ENOENT ? " is missing" : " cannot be read: ");
        if (e != ENOENT) le__https_put_errno(&b, e);
        if (again) le__puts(&b, kept);
        le__puts(&b, t->reload == 2
            ? ". Fix: mount the service account token (the pod's service "
              "account must exist and automountServiceAccountToken must not "
              "be false), or give le_https_config.token_file"
            : ". Fix: give an existing file (a ServiceAccount token, e.g. "
              "from kubectl create token)");
        le__cstr(&b);
        return LE_EINVAL;
    }
    /* one word of header-safe bytes, blanks around it: anything else (a
       NUL, a second word, more than fits) is refused, never cut short */
    {
        char chunk[512];
        size_t off = 0;
        int phase = 0, bad = -1, over = 0, words = 0; /* 0 before, 1 in, 2 after */
        for (;;) {
            ssize_t r = read(fd, chunk, sizeof chunk), i;
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) { /* a partial token would be sent as if whole */
                int e = errno;
                close(fd);
                le__puts(&b, "token file ");
                le__puts(&b, t->token_path);
                le__puts(&b, " cannot be read: ");
                le__https_put_errno(&b, e);
                if (again) le__puts(&b, kept);
                le__cstr(&b);
                return LE_EIO;
            }
            if (r == 0) break;
            for (i = 0; i < r && bad < 0; i++, off++) {
                unsigned char c = (unsigned char)chunk[i];
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                    if (phase == 1) phase = 2;
                } else if (c < 0x21 || c > 0x7e) {
                    bad = (int)c;
                } else {
                    if (phase != 1) words++;
                    phase = 1;
                    if (n == LE_HTTPS_TOKEN_MAX) over = 1;
                    else buf[n++] = (char)c;
                }
            }
            if (bad >= 0 || off > LE_HTTPS_FILE_MAX) break;
        }
        close(fd);
        if (bad >= 0 || words > 1) {
            static const char hex[] = "0123456789abcdef";
            char h[5];
            le__puts(&b, "token file ");
            le__puts(&b, t->token_path);
            if (bad >= 0) {
                h[0] = '0'; h[1] = 'x'; h[2] = hex[bad >> 4]; h[3] = hex[bad & 15];
                h[4] = 0;
                le__puts(&b, " has a byte ");
                le__puts(&b, h);
                le__puts(&b, " at offset ");
                le__puti(&b, (int64_t)(off - 1));
                le__puts(&b, ", which cannot go in an Authorization header");
            } else {
                le__puts(&b, " holds more than one word; a bearer token is one");
            }
            if (again) le__puts(&b, kept);
            le__puts(&b, ". Fix: write only the token into it");
            le__cstr(&b);
            return LE_EINVAL;
        }
        if (over || off > LE_HTTPS_FILE_MAX) {
            le__puts(&b, "token file ");
            le__puts(&b, t->token_path);
            le__puts(&b, " holds more than LE_HTTPS_TOKEN_MAX bytes");
            if (again) le__puts(&b, kept);
            le__puts(&b, ". Fix: define LE_HTTPS_TOKEN_MAX (and LE_REQ_MAX) larger");
            le__cstr(&b);
            return LE_ETOOBIG;
        }
    }
    if (n == 0) {
        le__puts(&b, "token file ");
        le__puts(&b, t->token_path);
        le__puts(&b, " is empty");
        if (again) le__puts(&b, kept);
        le__puts(&b, ". Fix: write a bearer token into it (the kubelet writes "
                     "the projected service account token)");
        le__cstr(&b);
        return LE_EINVAL;
    }
    if (strlen(t->token) != n - s || memcmp(t->token, buf + s, n - s)) {
        memcpy(t->token, buf + s, n - s);
        t->token[n - s] = 0;
        *changed = 1;
    }
    return 0;
}

/* Periodic or after-401 reload; keeps the old token when the file is bad. */
static void le__https_reload(le_https *t, le_elector *e, int64_t now,
                             int why401) {
    char msg[LE_ERRMSG_MAX];
    int changed, err;
    if (!t->reload) return;
    t->token_next = now + t->token_reload_ms;
    err = le__https_read_token(t, msg, sizeof msg, &changed, 1);
    if (err) {
        if (!t->token_failing || why401) le__https_event(t, now, err, msg);
        t->token_failing = 1;
        return;
    }
    t->token_failing = 0;
    if (changed) {
        le_set_token(e, t->token);
        t->stats.token_reloads++;
    }
}

/* ---- certificates ---------------------------------------------------------- */

/* Walks the subjectAltName extension of crt: calls fn(ctx, tag, data, len)
   for every GeneralName. Works on 2.28 and 3.6 alike, from the raw DER. */
static void le__https_sans(const mbedtls_x509_crt *crt,
                           void (*fn)(void *ctx, int tag,
                                      const unsigned char *p, size_t n),
                           void *ctx) {
    static const unsigned char san_oid[3] = {0x55, 0x1d, 0x11}; /* 2.5.29.17 */
    unsigned char *p = crt->v3_ext.p, *end;
    size_t len;
    if (!p || crt->v3_ext.len == 0) return;
    end = p + crt->v3_ext.len;
    if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3)) {
        if (mbedtls_asn1_get_tag(&p, end, &len, *p)) return;
        end = p + len;
    }
    if (mbedtls_asn1_get_tag(&p, end, &len,
                             MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
        return;
    end = p + len;
    while (p < end) {
        unsigned char *ext_end, *oid;
        size_t olen, vlen;
        if (mbedtls_asn1_get_tag(&p, end, &len,
                                 MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
            return;
        ext_end = p + len;
        if (mbedtls_asn1_get_tag(&p, ext_end, &olen, MBEDTLS_ASN1_OID)) return;
        oid = p;
        p += olen;
        if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN) {
            if (mbedtls_asn1_get_tag(&p, ext_end, &vlen, MBEDTLS_ASN1_BOOLEAN))
                return;
            p += vlen;
        }
        if (mbedtls_asn1_get_tag(&p, ext_end, &vlen, MBEDTLS_ASN1_OCTET_STRING))
            return;
        if (olen == 3 && !memcmp(oid, san_oid, 3)) {
            unsigned char *q = p, *qend = p + vlen;
            size_t glen;
            if (mbedtls_asn1_get_tag(&q, qend, &glen, MBEDTLS_ASN1_CONSTRUCTED |
                                                       MBEDTLS_ASN1_SEQUENCE))
                return;
            qend = q + glen;
            while (q < qend) {
                int tag = *q++;
                if (mbedtls_asn1_get_len(&q, qend, &glen)) return;
                fn(ctx, tag, q, glen);
                q += glen;
            }
            return;
        }
        p = ext_end;
    }
}

typedef struct le__ipmatch { const unsigned char *ip; size_t n; int hit; } le__ipmatch;
static void le__https_ip_cb(void *ctx, int tag, const unsigned char *p,
                            size_t n) {
    le__ipmatch *m = (le__ipmatch *)ctx;
    if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && n == m->n &&
        !memcmp(p, m->ip, n))
        m->hit = 1;
}
static void le__https_names_cb(void *ctx, int tag, const unsigned char *p,
                               size_t n) {
    le__sb *b = (le__sb *)ctx;
    if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)) {
        if (b->len) le__puts(b, ", ");
        le__put_clean(b, (const char *)p, n, 80);
    } else if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
               (n == 4 || n == 16)) {
        if (b->len) le__puts(b, ", ");
        le__https_ip(b, n == 16, p);
    }
}

static void le__https_dn(char *out, size_t cap, const mbedtls_x509_name *dn) {
    if (mbedtls_x509_dn_gets(out, cap, dn) < 0) out[0] = 0;
}

/* mbedTLS calls this for every certificate of the chain, top first. */
static int le__https_verify(void *ctx, mbedtls_x509_crt *crt, int depth,
                            uint32_t *flags) {
    le_https *t = (le_https *)ctx;
    if (t->vcalls++ == 0)
        le__https_dn(t->top_issuer, sizeof t->top_issuer, &crt->issuer);
    if (depth == 0) {
        le__sb b = le__https_sb(t->peer_names, sizeof t->peer_names);
        le__https_dn(t->peer_subject, sizeof t->peer_subject, &crt->subject);
        le__https_dn(t->peer_issuer, sizeof t->peer_issuer, &crt->issuer);
        le__https_sans(crt, le__https_names_cb, &b);
        le__cstr(&b);
        if (t->host_is_ip) {
            le__ipmatch m;
            m.ip = t->ip; m.n = (size_t)t->ip_len; m.hit = 0;
            le__https_sans(crt, le__https_ip_cb, &m);
            if (!m.hit) *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
        }
    }
    return 0;
}

/* ---- bio over a non-blocking socket ------------------------------------- */

static int le__https_bio_send(void *ctx, const unsigned char *p, size_t n) {
    le__hconn *t = (le__hconn *)ctx;
    ssize_t r;
    do r = send(t->fd, p, n, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
    if (r >= 0) return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
    t->sys_errno = errno;
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}
static int le__https_bio_recv(void *ctx, unsigned char *p, size_t n) {
    le__hconn *t = (le__hconn *)ctx;
    ssize_t r;
    do r = recv(t->fd, p, n, 0); while (r < 0 && errno == EINTR);
    if (r > 0) return (int)r;
    if (r == 0) return MBEDTLS_ERR_SSL_CONN_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
    t->sys_errno = errno;
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

/* ---- configuration ----------------------------------------------------------- */

static int le__https_copy(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap) return -1;
    memcpy(dst, s, n);
    dst[n] = 0;
    return 0;
}

/* "dir of base" + rel, unless rel is absolute. */
static int le__https_path(char *dst, size_t cap, const char *base,
                          const char *rel, size_t rn) {
    const char *slash = base ? strrchr(base, '/') : 0;
    size_t dn = (rel[0] == '/' || !slash) ? 0 : (size_t)(slash - base) + 1;
    if (dn + rn >= cap) return -1;
    memcpy(dst, base, dn);
    memcpy(dst + dn, rel, rn);
    dst[dn + rn] = 0;
    return 0;
}

/* Parses "https://host[:port][/]" into t. */
static int le__https_url(le_https *t, const char *url, int allow_http) {
    const char *h, *he, *p, *end;
    size_t hn;
    long port = 0;
    if (!strncmp(url, "https://", 8)) { t->tls = 1; h = url + 8; }
    else if (!strncmp(url, "http://", 7)) { t->tls = 0; h = url + 7; }
    else
        return le__https_cfg_err(t, LE_EINVAL, "server URL '", url,
            "' must start with https:// (or http:// for kubectl proxy)");
    end = h + strcspn(h, "/?#");
    if (*end && !(end[0] == '/' && end[1] == 0))
        return le__https_cfg_err(t, LE_EINVAL, "server URL '", url,
            "' has a path; le.h talks to the API server's root only (no "
            "proxied API paths)");
    if (*h == '[') {
        he = (const char *)memchr(h, ']', (size_t)(end - h));
        if (!he)
            return le__https_cfg_err(t, LE_EINVAL, "server URL '", url,
                                     "' has an unterminated [IPv6] address");
        p = he + 1;
        h++;
    } else {
        he = h;
        while (he < end && *he != ':') he++;
        p = he;
    }
    hn = (size_t)(he - h);
    if (hn == 0 || le__https_copy(t->host, sizeof t->host, h, hn))
        return le__https_cfg_err(t, LE_EINVAL, "server URL '", url,
                                 "' has no host or too long a host");
    if (*he == ']') { /* [...] holds an IPv6 address and nothing else */
        struct in6_addr a6;
        if (inet_pton(AF_INET6, t->host, &a6) != 1)
            return le__https_cfg_err(t, LE_EINVAL, "server URL '", url,
                                     "' has a [bracketed] host that is not "
                                     "an IPv6 address");
    } else {
        size_t i;
        for (i = 0; i < hn; i++) {
            unsigned char c = (unsigned char)h[i];
            if (!(c == '-' || c == '.' || c == '_' || (c >= '0' && c <= '9') ||
                  (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
                return le__https_cfg_err(t, LE_EINVAL, "server URL '", url,
                    "' has a host that is neither a DNS name nor an IP "
                    "address (an IPv6 address goes in [brackets])");
        }
    }
    if (p < end) {
        if (*p != ':' || p + 1 == end)
            return le__https_cfg_err(t, LE_EINVAL, "server URL '", url,
                                     "' has a malformed port");
        for (p++; p < end; p++) {
            if (*p < '0' || *p > '9' || port > 65535)
                return le__https_cfg_err(t, LE_EINVAL, "server URL '", url,
                                         "' has a malformed port");
            port = port * 10 + (*p - '0');
        }
    } else {
        port = t->tls ? 443 : 80;
    }
    if (port < 1 || port > 65535)
        return le__https_cfg_err(t, LE_EINVAL, "server URL '", url,
                                 "' has a port outside 1..65535");
    t->port = (int)port;
    if (!t->tls && !allow_http)
        return le__https_cfg_err(t, LE_EINVAL, "server URL '", url,
            "' is plain http://, which is refused unless "
            "le_https_config.allow_http = 1 (and only to a loopback address, "
            "e.g. kubectl proxy); use https:// with the cluster's CA");
    return 0;
}

static void le__https_hostport(le_https *t) {
    le__sb b = le__https_sb(t->hostport, sizeof t->hostport);
    int v6 = strchr(t->host, ':') != 0;
    if (v6) le__puts(&b, "[");
    le__puts(&b, t->host);
    if (v6) le__puts(&b, "]");
    le__puts(&b, ":");
    le__puti(&b, t->port);
    le__cstr(&b);
}

/* Numeric host: fills ip / addr[0]. 1 if numeric, 0 if a name. */
static int le__https_numeric(le_https *t) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&t->addr[0];
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&t->addr[0];
    memset(&t->addr[0], 0, sizeof t->addr[0]);
    if (inet_pton(AF_INET, t->host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((unsigned short)t->port);
        t->addr_len[0] = sizeof *s4;
    } else if (inet_pton(AF_INET6, t->host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((unsigned short)t->port);
        t->addr_len[0] = sizeof *s6;
    } else {
        return 0;
    }
    t->naddr = 1;
    t->resolved = 1;
    t->numeric = 1;
    return 1;
}

/* ---- kubeconfig (block-style YAML subset) ---------------------------------- */

enum { LE__KC_NAME, LE__KC_SERVER, LE__KC_CA, LE__KC_CA_DATA, LE__KC_TLS_NAME,
       LE__KC_INSECURE, LE__KC_CLUSTER, LE__KC_USER, LE__KC_NS, LE__KC_TOKEN,
       LE__KC_TOKEN_FILE, LE__KC_CERT, LE__KC_KEY, LE__KC_CERT_DATA,
       LE__KC_KEY_DATA, LE__KC_EXEC, LE__KC_AUTHP, LE__KC_USERNAME,
       LE__KC_N };
static const char *const le__kc_keys[LE__KC_N] = {
    "name", "server", "certificate-authority", "certificate-authority-data",
    "tls-server-name", "insecure-skip-tls-verify", "cluster", "user",
    "namespace", "token", "tokenFile", "client-certificate", "client-key",
    "client-certificate-data", "client-key-data", "exec", "auth-provider",
    "username"};

typedef struct le__kspan { const char *p; size_t n; int set; } le__kspan;

static int le__kc_named(const le__kspan *f, const char *name) {
    return f[LE__KC_NAME].set && f[LE__KC_NAME].n == strlen(name) &&
           !memcmp(f[LE__KC_NAME].p, name, f[LE__KC_NAME].n);
}

/* Finds the list item named `name` in the top-level section `sect`
   (clusters, contexts, users) and fills f[LE__KC_*] with the values of the
   keys it knows, at any depth below the item. 1 if found. */
static int le__kc_find(const char *s, const char *sect, const char *name,
                       le__kspan *f) {
    le__kspan cur[LE__KC_N];
    int in_sect = 0, item = 0, dash = -1, col = -1, found = 0;
    const char *line = s;
    memset(cur, 0, sizeof cur);
    memset(f, 0, sizeof cur);
    for (;;) {
        const char *eol = line + strcspn(line, "\n");
        const char *k = line, *ke, *v, *ve;
        int ind = 0, is_dash = 0, key_ind, i, bare;
        while (k < eol && *k == ' ') { k++; ind++; }
        if (k < eol && *k == '-' &&
            (k + 1 == eol || k[1] == ' ' || k[1] == '\r')) {
            is_dash = 1;
            k++;
            while (k < eol && *k == ' ') k++;
        }
        key_ind = (int)(k - line);
        bare = k == eol || *k == '#' || *k == '\r';
        if (bare && !is_dash) goto next; /* blank, comment */
        if ((ind == 0 && !is_dash) || (is_dash && (dash < 0 || ind == dash))) {
            /* the item so far ends: a new top-level key or a new item */
            if (item && !found && le__kc_named(cur, name)) {
                memcpy(f, cur, sizeof cur);
                found = 1;
            }
            memset(cur, 0, sizeof cur);
            item = 0;
        }
        if (ind == 0 && !is_dash) { /* top-level key: a new section */
            ke = k + strcspn(k, ":");
            in_sect = (size_t)(ke - k) == strlen(sect) &&
                      !memcmp(k, sect, (size_t)(ke - k));
            dash = -1;
            goto next;
        }
        if (!in_sect) goto next;
        if (is_dash && (dash < 0 || ind == dash)) {
            dash = ind;
            /* the item's own keys start in this column; after a bare "-"
               in the column of its first key, on a line of its own */
            col = bare ? -1 : key_ind;
            item = 1;
        }
        if (!item || bare) goto next;
        if (col < 0) col = key_ind;
        /* key: value */
        ke = k;
        while (ke < eol && *ke != ':') ke++;
        if (ke == eol) goto next;
        v = ke + 1;
        while (v < eol && (*v == ' ' || *v == '\t')) v++;
        ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\r' || ve[-1] == '\t')) ve--;
        if (ve - v >= 2 && (*v == '"' || *v == '\'') && ve[-1] == *v) {
            v++;
            ve--;
        }
        for (i = 0; i < LE__KC_N; i++) {
            if ((size_t)(ke - k) != strlen(le__kc_keys[i]) ||
                memcmp(k, le__kc_keys[i], (size_t)(ke - k)))
                continue;
            /* an item's own name sits right at its key column */
            if (i == LE__KC_NAME && key_ind != col) break;
            if (v == ve && i != LE__KC_EXEC && i != LE__KC_AUTHP) break;
            cur[i].p = v;
            cur[i].n = (size_t)(ve - v);
            cur[i].set = 1;
            break;
        }
    next:
        if (!*eol) break;
        line = eol + 1;
    }
    if (item && !found && le__kc_named(cur, name)) {
        memcpy(f, cur, sizeof cur);
        found = 1;
    }
    return found;
}

/* base64 in a kubeconfig -> PEM/DER buffer (mbedtls_calloc, NUL-ended). */
static int le__kc_b64(const le__kspan *v, unsigned char **out, size_t *len) {
    size_t cap = v->n / 4 * 3 + 4, n = 0;
    unsigned char *p = (unsigned char *)mbedtls_calloc(1, cap + 1);
    *out = 0;
    if (!p) return -1;
    if (mbedtls_base64_decode(p, cap, &n, (const unsigned char *)v->p, v->n)) {
        mbedtls_free(p);
        return -1;
    }
    p[n] = 0;
    *out = p;
    *len = n + 1; /* mbedTLS wants the NUL counted for PEM */
    return 0;
}

/* Certificates from a file or kubeconfig data into crt. */
static int le__https_load_crt(le_https *t, mbedtls_x509_crt *crt,
                              const char *path, const unsigned char *data,
                              size_t dlen, const char *what) {
    char *buf = 0;
    size_t n = 0;
    int r;
    if (path) {
        r = le__https_slurp(path, &buf, &n);
        if (r) {
            le__sb b = le__https_sb(t->errmsg, sizeof t->errmsg);
            le__puts(&b, what);
            le__puts(&b, " file ");
            le__puts(&b, path);
            le__puts(&b, r == -ENOENT ? " is missing" : " cannot be read: ");
            if (r != -ENOENT) le__https_put_errno(&b, -r);
            le__puts(&b, t->reload == 2 && crt == &t->ca
                ? ". Fix: mount the service account (ca.crt comes with its "
                  "token), or give le_https_config.ca_file"
                : ". Fix: give the path of the PEM file");
            le__cstr(&b);
            return LE_EINVAL;
        }
        data = (const unsigned char *)buf;
        dlen = n + 1;
    }
    r = mbedtls_x509_crt_parse(crt, data, dlen);
    if (buf) mbedtls_free(buf);
    if (r != 0) {
        le__sb b = le__https_sb(t->errmsg, sizeof t->errmsg);
        le__puts(&b, what);
        le__puts(&b, " ");
        le__puts(&b, path ? path : "(kubeconfig data)");
        le__puts(&b, r > 0 ? ": some certificates could not be parsed ("
                           : ": not a PEM or DER certificate (");
        if (r < 0) le__https_mbed_err(&b, r);
        else le__puti(&b, r);
        le__puts(&b, ")");
        le__cstr(&b);
        return LE_ETLS;
    }
    return 0;
}

static int le__https_load_key(le_https *t, const char *path,
                              const unsigned char *data, size_t dlen) {
    char *buf = 0;
    size_t n = 0;
    int r;
    if (path) {
        r = le__https_slurp(path, &buf, &n);
        if (r)
            return le__https_cfg_err(t, LE_EINVAL, "client key file ", path,
                                     r == -ENOENT ? " is missing"
                                                  : " cannot be read");
        data = (const unsigned char *)buf;
        dlen = n + 1;
    }
#if MBEDTLS_VERSION_MAJOR >= 3
    r = mbedtls_pk_parse_key(&t->key, data, dlen, 0, 0,
                             mbedtls_ctr_drbg_random, &t->drbg);
#else
    r = mbedtls_pk_parse_key(&t->key, data, dlen, 0, 0);
#endif
    if (buf) {
        mbedtls_platform_zeroize(buf, n);
        mbedtls_free(buf);
    }
    if (r) {
        le__sb b = le__https_sb(t->errmsg, sizeof t->errmsg);
        le__puts(&b, "client key ");
        le__puts(&b, path ? path : "(kubeconfig client-key-data)");
        le__puts(&b, " is not an unencrypted PEM/DER RSA or EC key (");
        le__https_mbed_err(&b, r);
        le__puts(&b, ")");
        le__cstr(&b);
        return LE_ETLS;
    }
    return 0;
}

/* What the kubeconfig supplies. */
typedef struct le__kc {
    char *text;
    size_t len;
    le__kspan ctx[LE__KC_N], cl[LE__KC_N], us[LE__KC_N];
} le__kc;

static int le__kc_load(le_https *t, const char *path, const char *want_ctx,
                       le__kc *k) {
    size_t n;
    char name[256];
    const char *cn;
    int r = le__https_slurp(path, &k->text, &n);
    k->len = n;
    if (r)
        return le__https_cfg_err(t, LE_EINVAL, "kubeconfig ", path,
            r == -ENOENT ? " is missing. Fix: give an existing kubeconfig, or "
                           "run in a pod" : " cannot be read");
    cn = k->text;
    while (*cn == ' ' || *cn == '\n' || *cn == '\r' || *cn == '\t') cn++;
    if (*cn == '{')
        return le__https_cfg_err(t, LE_EINVAL, "kubeconfig ", path,
            " is JSON; le.h reads the YAML form kubectl writes (convert it "
            "with: kubectl config view --raw > file)");
    if (want_ctx) {
        if (le__https_copy(name, sizeof name, want_ctx, strlen(want_ctx)))
            return le__https_cfg_err(t, LE_EINVAL, "context name too long", 0, 0);
    } else {
        {   /* current-context: a top-level key */
            const char *l = k->text;
            name[0] = 0;
            while (l && *l) {
                if (!strncmp(l, "current-context:", 16)) {
                    const char *v = l + 16, *ve;
                    while (*v == ' ') v++;
                    ve = v + strcspn(v, "\r\n#");
                    while (ve > v && ve[-1] == ' ') ve--;
                    if (ve - v >= 2 && (*v == '"' || *v == '\'')) { v++; ve--; }
                    le__https_copy(name, sizeof name, v, (size_t)(ve - v));
                    break;
                }
                l = strchr(l, '\n');
                if (l) l++;
            }
        }
        if (!name[0])
            return le__https_cfg_err(t, LE_EINVAL, "kubeconfig ", path,
                " has no current-context. Fix: kubectl config use-context "
                "NAME, or set le_https_config.context");
    }
    if (!le__kc_find(k->text, "contexts", name, k->ctx))
        return le__https_cfg_err(t, LE_EINVAL, "kubeconfig: context '", name,
                                 "' is not in its contexts list");
    if (!k->ctx[LE__KC_CLUSTER].set)
        return le__https_cfg_err(t, LE_EINVAL, "kubeconfig: context '", name,
                                 "' names no cluster");
    if (le__https_copy(name, sizeof name, k->ctx[LE__KC_CLUSTER].p,
                       k->ctx[LE__KC_CLUSTER].n) ||
        !le__kc_find(k->text, "clusters", name, k->cl))
        return le__https_cfg_err(t, LE_EINVAL, "kubeconfig: cluster '", name,
                                 "' is not in its clusters list");
    if (k->ctx[LE__KC_USER].set) {
        if (le__https_copy(name, sizeof name, k->ctx[LE__KC_USER].p,
                           k->ctx[LE__KC_USER].n) ||
            !le__kc_find(k->text, "users", name, k->us))
            return le__https_cfg_err(t, LE_EINVAL, "kubeconfig: user '", name,
                                     "' is not in its users list");
        if (k->us[LE__KC_EXEC].set || k->us[LE__KC_AUTHP].set)
            return le__https_cfg_err(t, LE_EINVAL, "kubeconfig: user '", name,
                k->us[LE__KC_EXEC].set
                ? "' uses an exec credential plugin (e.g. aws, gke-gcloud-"
                  "auth-plugin, kubelogin), which le.h does not run. Fix: use "
                  "a ServiceAccount token in a file (kubectl create token SA "
                  "> file; le_https_config.token_file) or a client "
                  "certificate, or run in a pod"
                : "' uses an auth-provider (legacy cloud login), which le.h "
                  "does not support. Fix: use a ServiceAccount token file "
                  "(le_https_config.token_file) or a client certificate");
        if (k->us[LE__KC_USERNAME].set)
            return le__https_cfg_err(t, LE_EINVAL, "kubeconfig: user '", name,
                "' uses username/password (basic auth), which le.h does not "
                "support. Fix: use a token file or a client certificate");
    }
    if (k->cl[LE__KC_INSECURE].set && k->cl[LE__KC_INSECURE].n == 4 &&
        !memcmp(k->cl[LE__KC_INSECURE].p, "true", 4))
        return le__https_cfg_err(t, LE_EINVAL, "kubeconfig: cluster '", name,
            "' sets insecure-skip-tls-verify, which le.h refuses: give the "
            "cluster's CA (certificate-authority or le_https_config.ca_file)");
    if (!k->cl[LE__KC_SERVER].set)
        return le__https_cfg_err(t, LE_EINVAL, "kubeconfig: the cluster has no "
                                 "server", 0, 0);
    return 0;
}

/* ---- init / free --------------------------------------------------------- */

static void le__https_mbed_init(le_https *t) {
    mbedtls_ssl_init(&t->c[0].ssl);
    mbedtls_ssl_init(&t->c[1].ssl);
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_x509_crt_init(&t->ca);
    mbedtls_x509_crt_init(&t->cert);
    mbedtls_pk_init(&t->key);
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    t->mbed_ready = 1;
}

LEDEF void le_https_free(le_https *t) {
    int k;
    for (k = 0; k < 2; k++) {
        if (t->c[k].fd >= 0) close(t->c[k].fd);
        t->c[k].fd = -1;
        t->c[k].state = LE__C_NONE;
    }
    if (t->mbed_ready) {
        mbedtls_ssl_free(&t->c[0].ssl);
        mbedtls_ssl_free(&t->c[1].ssl);
        mbedtls_ssl_config_free(&t->conf);
        mbedtls_x509_crt_free(&t->ca);
        mbedtls_x509_crt_free(&t->cert);
        mbedtls_pk_free(&t->key);
        mbedtls_ctr_drbg_free(&t->drbg);
        mbedtls_entropy_free(&t->entropy);
        t->mbed_ready = 0;
    }
    mbedtls_platform_zeroize(t->token, sizeof t->token);
}

LEDEF const char *le_https_errmsg(const le_https *t) { return t->errmsg; }

LEDEF void le_https_global_free(void) {
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
    mbedtls_psa_crypto_free();
#endif
}

static int le__https_tls(le_https *t, const unsigned char *ca_data,
                         size_t ca_len, const unsigned char *cert_data,
                         size_t cert_len, const unsigned char *key_data,
                         size_t key_len, const char *cert_path,
                         const char *key_path) {
    static const char pers[] = "le.h";
    const char *vn;
    int r, k;
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
    {
        psa_status_t ps = psa_crypto_init();
        if (ps == PSA_ERROR_INSUFFICIENT_ENTROPY)
            return le__https_cfg_err(t, LE_ETLS, "mbedTLS found no entropy "
                "(psa_crypto_init: PSA_ERROR_INSUFFICIENT_ENTROPY): the kernel "
                "refused getrandom(2) and /dev/urandom is missing. Fix: build "
                "mbedTLS with tools/mbedtls/build.sh (getrandom on any libc), "
                "or give the container /dev/urandom", 0, 0);
        if (ps == PSA_ERROR_INSUFFICIENT_MEMORY)
            return le__https_cfg_err(t, LE_ETLS, "psa_crypto_init: out of "
                "memory (with mbedtls_memory_buffer_alloc_init, give it a "
                "larger buffer)", 0, 0);
        if (ps != PSA_SUCCESS) {
            le__sb b = le__https_sb(t->errmsg, sizeof t->errmsg);
            le__puts(&b, "psa_crypto_init failed with PSA status ");
            le__puti(&b, (int64_t)ps);
            le__puts(&b, ": mbedTLS's crypto could not start (no entropy: "
                         "give the container /dev/urandom, or allow getrandom(2) "
                         "in its seccomp profile)");
            le__cstr(&b);
            return LE_ETLS;
        }
    }
#endif
    r = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                              (const unsigned char *)pers, sizeof pers - 1);
    if (r) return le__https_cfg_err(t, LE_ETLS, "mbedTLS found no entropy "
                                    "to seed its random generator: the kernel "
                                    "refused getrandom(2) and /dev/urandom is "
                                    "missing. Fix: give the container "
                                    "/dev/urandom, or build mbedTLS with "
                                    "tools/mbedtls/build.sh", 0, 0);
    if (ca_data || t->ca_path[0]) {
        r = le__https_load_crt(t, &t->ca, ca_data ? 0 : t->ca_path, ca_data,
                               ca_len, "CA");
        if (r) return r;
    } else {
        return le__https_cfg_err(t, LE_EINVAL, "no CA to verify the API server "
            "with: give le_https_config.ca_file (the cluster's CA, e.g. "
            "certificate-authority of your kubeconfig)", 0, 0);
    }
    le__https_dn(t->ca_subject, sizeof t->ca_subject, &t->ca.subject);
    if (cert_data || cert_path) {
        if (!key_data && !key_path)
            return le__https_cfg_err(t, LE_EINVAL, "a client certificate needs "
                                     "its key (client_key_file)", 0, 0);
        if ((r = le__https_load_crt(t, &t->cert, cert_path, cert_data,
                                    cert_len, "client certificate")))
            return r;
        if ((r = le__https_load_key(t, key_path, key_data, key_len))) return r;
    }
    r = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
                                    MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
    if (r) return le__https_cfg_err(t, LE_ETLS, "mbedtls_ssl_config_defaults "
                                    "failed", 0, 0);
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_ssl_conf_min_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, 0);
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    mbedtls_ssl_conf_verify(&t->conf, le__https_verify, t);
    if (cert_data || cert_path) {
        r = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key);
        if (r) return le__https_cfg_err(t, LE_ETLS, "the client certificate "
                                        "does not match its key", 0, 0);
    }
    for (k = 0; k < 2; k++)
        if ((r = mbedtls_ssl_setup(&t->c[k].ssl, &t->conf)))
            return le__https_cfg_err(t, LE_ETLS, "mbedtls_ssl_setup failed (out "
                                     "of memory?)", 0, 0);
    /* The name to verify: a DNS name goes to mbedTLS (checked and sent as
       SNI); an IP literal is checked by le__https_verify against the
       iPAddress SANs, and no SNI is sent. */
    vn = t->vname;
    {
        struct in6_addr a6;
        struct in_addr a4;
        if (inet_pton(AF_INET, vn, &a4) == 1) {
            memcpy(t->ip, &a4, 4);
            t->ip_len = 4;
            t->host_is_ip = 1;
        } else if (inet_pton(AF_INET6, vn, &a6) == 1) {
            memcpy(t->ip, &a6, 16);
            t->ip_len = 16;
            t->host_is_ip = 1;
        }
    }
    for (k = 0; k < 2; k++) {
        r = mbedtls_ssl_set_hostname(&t->c[k].ssl, t->host_is_ip ? 0 : vn);
        if (r) return le__https_cfg_err(t, LE_ETLS, "mbedtls_ssl_set_hostname "
                                        "failed for ", vn, 0);
        mbedtls_ssl_set_bio(&t->c[k].ssl, &t->c[k], le__https_bio_send,
                            le__https_bio_recv, 0);
    }
    return 0;
}

static int le__https_identity(le_https *t) {
    char host[256];
    unsigned char rnd[8];
    static const char hex[] = "0123456789abcdef";
    le__sb b = le__https_sb(t->identity, sizeof t->identity);
    int i;
    if (gethostname(host, sizeof host) != 0) host[0] = 0;
    host[sizeof host - 1] = 0;
    if (le__https_random(rnd, sizeof rnd))
        return le__https_cfg_err(t, LE_EIO, "no randomness for the identity "
            "suffix (getrandom and /dev/urandom failed); set POD_NAME or "
            "le_config.identity", 0, 0);
    le__puts(&b, host[0] ? host : "le");
    le__puts(&b, "_");
    for (i = 0; i < 8; i++) {
        char h[2];
        h[0] = hex[rnd[i] >> 4];
        h[1] = hex[rnd[i] & 15];
        le__put(&b, h, 2);
    }
    le__cstr(&b);
    return 0;
}

/* Namespace file: its content, trimmed, a namespace name. */
static int le__https_ns_file(le_https *t, const char *path) {
    char *buf;
    size_t n, s = 0;
    int r = le__https_slurp(path, &buf, &n);
    if (r)
        return le__https_cfg_err(t, LE_EINVAL, "namespace file ", path,
            r == -ENOENT
            ? " is missing (no service account mounted?). Fix: set "
              "le_config.ns, or pass the namespace through the downward API "
              "(env POD_NAMESPACE from fieldRef metadata.namespace)"
            : " cannot be read. Fix: set le_config.ns or POD_NAMESPACE");
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                     buf[n - 1] == ' '))
        n--;
    while (s < n && buf[s] == ' ') s++;
    r = memchr(buf + s, 0, n - s) ? -1
        : le__https_copy(t->ns, sizeof t->ns, buf + s, n - s);
    mbedtls_free(buf);
    if (r || n == s || !le__dns1123(t->ns, LE__NS_MAX, 0))
        return le__https_cfg_err(t, LE_EINVAL, "namespace file ", path,
            " does not hold a namespace name (empty, too long, a NUL byte or "
            "characters outside a-z, 0-9, '-'). Fix: set le_config.ns or "
            "POD_NAMESPACE");
    return 0;
}

LEDEF int le_https_init(le_https *t, const le_https_config *hc, le_config *c) {
    const char *sa = hc->sa_dir ? hc->sa_dir : LE__SA_DIR;
    const char *url = hc->server, *env;
    const char *cert_path = hc->client_cert_file, *key_path = hc->client_key_file;
    unsigned char *ca_d = 0, *cert_d = 0, *key_d = 0;
    size_t ca_n = 0, cert_n = 0, key_n = 0;
    char urlbuf[LE__HOST_MAX + 32], certbuf[LE_HTTPS_PATH_MAX],
        keybuf[LE_HTTPS_PATH_MAX], nspath[LE_HTTPS_PATH_MAX];
    le__kc kc;
    int r = 0, incluster = 0;
    memset(t, 0, sizeof *t);
    memset(&kc, 0, sizeof kc);
    t->c[0].fd = t->c[1].fd = -1;
    t->c[1].stream = 1;
    nspath[0] = 0;
    le__https_mbed_init(t);
    t->on_event = c->on_event;
    t->user = c->user;
    t->token_reload_ms = hc->token_reload_ms > 0 ? hc->token_reload_ms : 60000;
    t->backoff_min = hc->backoff_min_ms > 0 ? hc->backoff_min_ms : 500;
    t->backoff_max = hc->backoff_max_ms > 0 ? hc->backoff_max_ms : 8000;
    if (t->backoff_max < t->backoff_min) t->backoff_max = t->backoff_min;
    le__https_random(&t->rng, sizeof t->rng);
    t->rng ^= (uint64_t)(uintptr_t)t;
    /* a restarted replica keeps its identity; its jitter need not repeat */
    if (!c->seed && !c->rand32) c->seed = le__mix(t->rng);

    if (url) {
        le__sb b = le__https_sb(t->origin, sizeof t->origin);
        le__puts(&b, "le_https_config.server");
        le__cstr(&b);
    } else if (hc->kubeconfig) {
        le__sb b = le__https_sb(t->origin, sizeof t->origin);
        if ((r = le__kc_load(t, hc->kubeconfig, hc->context, &kc))) goto out;
        le__puts(&b, "kubeconfig ");
        le__puts(&b, hc->kubeconfig);
        le__cstr(&b);
        if (le__https_copy(urlbuf, sizeof urlbuf, kc.cl[LE__KC_SERVER].p,
                           kc.cl[LE__KC_SERVER].n)) {
            r = le__https_cfg_err(t, LE_EINVAL, "kubeconfig: server URL too "
                                  "long", 0, 0);
            goto out;
        }
        url = urlbuf;
        if (!hc->ca_file && kc.cl[LE__KC_CA_DATA].set) {
            if (le__kc_b64(&kc.cl[LE__KC_CA_DATA], &ca_d, &ca_n)) {
                r = le__https_cfg_err(t, LE_EINVAL, "kubeconfig: "
                    "certificate-authority-data is not valid base64", 0, 0);
                goto out;
            }
        } else if (!hc->ca_file && kc.cl[LE__KC_CA].set &&
                   le__https_path(t->ca_path, sizeof t->ca_path, hc->kubeconfig,
                                  kc.cl[LE__KC_CA].p, kc.cl[LE__KC_CA].n)) {
            r = le__https_cfg_err(t, LE_EINVAL, "kubeconfig: "
                                  "certificate-authority path too long", 0, 0);
            goto out;
        }
        if (!hc->token_file && kc.us[LE__KC_TOKEN_FILE].set) {
            if (le__https_path(t->token_path, sizeof t->token_path,
                               hc->kubeconfig, kc.us[LE__KC_TOKEN_FILE].p,
                               kc.us[LE__KC_TOKEN_FILE].n)) {
                r = le__https_cfg_err(t, LE_EINVAL, "kubeconfig: tokenFile "
                                      "path too long", 0, 0);
                goto out;
            }
            t->reload = 1;
        } else if (!hc->token_file && kc.us[LE__KC_TOKEN].set) {
            if (le__https_copy(t->token, sizeof t->token, kc.us[LE__KC_TOKEN].p,
                               kc.us[LE__KC_TOKEN].n)) {
                r = le__https_cfg_err(t, LE_ETOOBIG, "kubeconfig: token longer "
                                      "than LE_HTTPS_TOKEN_MAX", 0, 0);
                goto out;
            }
        }
        if (!cert_path && kc.us[LE__KC_CERT_DATA].set &&
            le__kc_b64(&kc.us[LE__KC_CERT_DATA], &cert_d, &cert_n)) {
            r = le__https_cfg_err(t, LE_EINVAL, "kubeconfig: "
                "client-certificate-data is not valid base64", 0, 0);
            goto out;
        }
        if (!cert_path && !cert_d && kc.us[LE__KC_CERT].set) {
            if (le__https_path(certbuf, sizeof certbuf, hc->kubeconfig,
                               kc.us[LE__KC_CERT].p, kc.us[LE__KC_CERT].n)) {
                r = le__https_cfg_err(t, LE_EINVAL, "kubeconfig: path too "
                                      "long", 0, 0);
                goto out;
            }
            cert_path = certbuf;
        }
        if (!key_path && kc.us[LE__KC_KEY_DATA].set &&
            le__kc_b64(&kc.us[LE__KC_KEY_DATA], &key_d, &key_n)) {
            r = le__https_cfg_err(t, LE_EINVAL, "kubeconfig: client-key-data "
                                  "is not valid base64", 0, 0);
            goto out;
        }
        if (!key_path && !key_d && kc.us[LE__KC_KEY].set) {
            if (le__https_path(keybuf, sizeof keybuf, hc->kubeconfig,
                               kc.us[LE__KC_KEY].p, kc.us[LE__KC_KEY].n)) {
                r = le__https_cfg_err(t, LE_EINVAL, "kubeconfig: path too "
                                      "long", 0, 0);
                goto out;
            }
            key_path = keybuf;
        }
        if (!hc->tls_server_name && kc.cl[LE__KC_TLS_NAME].set &&
            le__https_copy(t->vname, sizeof t->vname, kc.cl[LE__KC_TLS_NAME].p,
                           kc.cl[LE__KC_TLS_NAME].n)) {
            r = le__https_cfg_err(t, LE_EINVAL, "kubeconfig: tls-server-name "
                                  "too long", 0, 0);
            goto out;
        }
        if (!c->ns && kc.ctx[LE__KC_NS].set &&
            le__https_copy(t->ns, sizeof t->ns, kc.ctx[LE__KC_NS].p,
                           kc.ctx[LE__KC_NS].n)) {
            r = le__https_cfg_err(t, LE_EINVAL, "kubeconfig: namespace too "
                                  "long", 0, 0);
            goto out;
        }
    } else {
        /* in cluster, like rest.InClusterConfig */
        const char *h = getenv("KUBERNETES_SERVICE_HOST");
        const char *p = getenv("KUBERNETES_SERVICE_PORT");
        le__sb b = le__https_sb(urlbuf, sizeof urlbuf);
        if (!h || !*h || !p || !*p) {
            r = le__https_cfg_err(t, LE_EINVAL,
                "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not "
                "set: this is not a Kubernetes pod. Outside a cluster give "
                "le_https_config.kubeconfig (e.g. $KUBECONFIG or "
                "~/.kube/config), or .server with .ca_file and .token_file "
                "(in the examples: --kubeconfig FILE, or --server URL --ca "
                "FILE --token-file FILE)", 0, 0);
            goto out;
        }
        incluster = 1;
        le__puts(&b, "https://");
        if (strchr(h, ':')) le__puts(&b, "[");
        le__puts(&b, h);
        if (strchr(h, ':')) le__puts(&b, "]");
        le__puts(&b, ":");
        le__puts(&b, p);
        le__cstr(&b);
        if (b.over) {
            r = le__https_cfg_err(t, LE_EINVAL, "KUBERNETES_SERVICE_HOST is "
                                  "too long", 0, 0);
            goto out;
        }
        url = urlbuf;
        b = le__https_sb(t->origin, sizeof t->origin);
        le__puts(&b, "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT");
        le__cstr(&b);
        if (!hc->ca_file) {
            b = le__https_sb(t->ca_path, sizeof t->ca_path);
            le__puts(&b, sa);
            le__puts(&b, "/ca.crt");
            le__cstr(&b);
        }
        if (!hc->token_file) {
            b = le__https_sb(t->token_path, sizeof t->token_path);
            le__puts(&b, sa);
            le__puts(&b, "/token");
            le__cstr(&b);
            t->reload = 2;
        }
        b = le__https_sb(nspath, sizeof nspath);
        le__puts(&b, sa);
        le__puts(&b, "/namespace");
        le__cstr(&b);
    }
    if (hc->ca_file &&
        le__https_copy(t->ca_path, sizeof t->ca_path, hc->ca_file,
                       strlen(hc->ca_file))) {
        r = le__https_cfg_err(t, LE_EINVAL, "ca_file path too long", 0, 0);
        goto out;
    }
    if (hc->token_file) {
        if (le__https_copy(t->token_path, sizeof t->token_path, hc->token_file,
                           strlen(hc->token_file))) {
            r = le__https_cfg_err(t, LE_EINVAL, "token_file path too long", 0, 0);
            goto out;
        }
        t->reload = 1;
    }
    if ((r = le__https_url(t, url, hc->allow_http))) goto out;
    le__https_hostport(t);
    if (hc->tls_server_name &&
        le__https_copy(t->vname, sizeof t->vname, hc->tls_server_name,
                       strlen(hc->tls_server_name))) {
        r = le__https_cfg_err(t, LE_EINVAL, "tls_server_name too long", 0, 0);
        goto out;
    }
    if (!t->vname[0]) memcpy(t->vname, t->host, strlen(t->host) + 1);
    if (le__https_numeric(t) && !t->tls &&
        !le__https_loopback((const struct sockaddr *)(const void *)&t->addr[0])) {
        r = le__https_cfg_err(t, LE_EINVAL, "plain http:// to ", t->host,
            " is refused: le.h speaks plain HTTP only to a loopback address "
            "(kubectl proxy); use https:// with the cluster's CA");
        goto out;
    }
    if (t->tls &&
        (r = le__https_tls(t, ca_d, ca_n, cert_d, cert_n, key_d, key_n,
                           cert_path, key_path)))
        goto out;
    /* credentials */
    if (t->reload) {
        int changed;
        r = le__https_read_token(t, t->errmsg, sizeof t->errmsg, &changed, 0);
        if (r) goto out;
    }
    /* namespace, identity, host, token for le_config */
    if (!c->ns) {
        env = getenv("POD_NAMESPACE");
        if (env && *env) {
            if (le__https_copy(t->ns, sizeof t->ns, env, strlen(env))) {
                r = le__https_cfg_err(t, LE_EINVAL, "POD_NAMESPACE is too "
                                      "long", 0, 0);
                goto out;
            }
        } else if (incluster) {
            if ((r = le__https_ns_file(t, nspath))) goto out;
        } else if (!t->ns[0]) {
            memcpy(t->ns, "default", 8);
        }
        c->ns = t->ns;
    }
    if (!c->identity) {
        env = getenv("POD_NAME");
        if (env && *env) {
            if (le__https_copy(t->identity, sizeof t->identity, env,
                               strlen(env))) {
                r = le__https_cfg_err(t, LE_EINVAL, "POD_NAME is too long", 0, 0);
                goto out;
            }
        } else if ((r = le__https_identity(t))) {
            goto out;
        }
        c->identity = t->identity;
    }
    if (!c->host) c->host = t->hostport;
    if (!c->token) {
        if (t->token[0]) c->token = t->token;
    } else {
        t->reload = 0; /* the caller's own token: not ours to reload */
    }
    t->token_next = INT64_MIN; /* first step schedules the next reload */
out:
    if (kc.text) { /* it holds the token or the client key */
        mbedtls_platform_zeroize(kc.text, kc.len);
        mbedtls_free(kc.text);
    }
    if (ca_d) mbedtls_free(ca_d);
    if (cert_d) mbedtls_free(cert_d);
    if (key_d) {
        mbedtls_platform_zeroize(key_d, key_n);
        mbedtls_free(key_d);
    }
    return r;
}

/* ---- connection -------------------------------------------------------------- */

/* Two connections: c[0] carries the requests, c[1] a follower's watch
   (HTTP/1.1 cannot send a write while a watch streams on the same one). */

static void le__https_drop(le_https *t, le__hconn *c) {
    if (c->state == LE__C_READY && t->tls)
        mbedtls_ssl_close_notify(&c->ssl); /* best effort, non-blocking */
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = LE__C_NONE;
    c->wrote = 0;
    /* the SSL context is reset before the next handshake, not here: with
       mbedTLS 2.28 a reset allocates the next handshake's state, and an
       idle connection the server closes should cost nothing until used */
}

/* A failure on c reaches the stream it carries. */
static void le__https_report(le_elector *e, le_time now, const le__hconn *c,
                             int err, const char *msg) {
    if (c->stream) le_watch_error(e, now, err, msg);
    else le_io_error(e, now, err, msg);
}

LEDEF void le_https_close(le_https *t, le_elector *e, le_time now) {
    /* no TLS close_notify: after fork() the socket is shared with the
       parent, and an alert sent by the child would end its connection */
    int i;
    for (i = 0; i < 2; i++) {
        t->c[i].state = LE__C_NONE;
        le__https_drop(t, &t->c[i]);
        /* no-op for the elector unless something is in flight */
        le__https_report(e, now, &t->c[i], LE_EIO, "the connection was closed "
                         "by le_https_close() while a request was in flight");
    }
}

static int64_t le__https_backoff(le_https *t, const le__hconn *c) {
    int64_t d = t->backoff_min;
    int i;
    for (i = 1; i < c->fails && d < t->backoff_max; i++) d *= 2;
    if (d > t->backoff_max) d = t->backoff_max;
    t->rng = le__mix(t->rng + 0x9e3779b97f4a7c15ULL);
    return d / 2 + (int64_t)(t->rng % (uint64_t)(d / 2 + 1)); /* [d/2, d] */
}

/* A connection attempt or connection failed: report it to the core (which
   fails what was in flight), drop, back off. */
static void le__https_fail(le_https *t, le_elector *e, le_time now,
                           le__hconn *c, int err, le__sb *b,
                           int connect_failed) {
    le__cstr(b);
    le__https_drop(t, c);
    t->stats.failures++;
    t->last_err = err;
    if (b->p != t->last_msg) memcpy(t->last_msg, b->p, b->len + 1);
    if (connect_failed) {
        c->fails++;
        if (c->fails > 1 && b->p == t->last_msg) {
            le__puts(b, " (");
            le__puti(b, c->fails);
            le__puts(b, " failed connection attempts in a row; the next one "
                        "comes with the next request)");
            le__cstr(b);
        }
        c->retry_at = now.mono_ms + le__https_backoff(t, c);
        t->next_addr++;
        if (!t->numeric) t->resolved = 0; /* resolve the name again */
    }
    le__https_report(e, now, c, err, t->last_msg);
}

static int le__https_resolve(le_https *t, le_elector *e, le_time now,
                             le__hconn *c) {
    struct addrinfo hints, *res = 0, *ai;
    char port[8];
    le__sb b;
    int r, n = 0;
    if (t->resolved) return 0;
    if (le__https_numeric(t)) return 0;
#ifdef LE_HTTPS_NO_DNS
    (void)hints; (void)res; (void)ai; (void)port; (void)r; (void)n;
    b = le__https_sb(t->last_msg, sizeof t->last_msg);
    le__puts(&b, "the API server is given by name ('");
    le__puts(&b, t->host);
    le__puts(&b, "', from ");
    le__puts(&b, t->origin);
    le__puts(&b, ") but this program was built with LE_HTTPS_NO_DNS. Fix: "
                 "give an IP address (in a pod KUBERNETES_SERVICE_HOST is one)"
                 ", or build without LE_HTTPS_NO_DNS");
    le__https_fail(t, e, now, c, LE_ECONNECT, &b, 1);
    return -1;
#else
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    b = le__https_sb(port, sizeof port);
    le__puti(&b, t->port);
    le__cstr(&b);
    r = getaddrinfo(t->host, port, &hints, &res);
    for (ai = res; r == 0 && ai && n < LE__HTTPS_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof t->addr[0]) continue;
        if (!t->tls && !le__https_loopback(ai->ai_addr)) continue;
        memcpy(&t->addr[n], ai->ai_addr, ai->ai_addrlen);
        t->addr_len[n++] = (socklen_t)ai->ai_addrlen;
    }
    if (res) freeaddrinfo(res);
    if (r != 0 || n == 0) {
        b = le__https_sb(t->last_msg, sizeof t->last_msg);
        if (r == 0) {
            le__puts(&b, "plain http:// to ");
            le__puts(&b, t->host);
            le__puts(&b, " is refused: it does not resolve to a loopback "
                         "address; use https:// with the cluster's CA");
        } else {
            le__puts(&b, "cannot resolve the API server's host name '");
            le__puts(&b, t->host);
            le__puts(&b, "' (from ");
            le__puts(&b, t->origin);
            le__puts(&b, "): ");
            le__puts(&b, gai_strerror(r));
            le__puts(&b, ". Fix: check the name in the server URL and the "
                         "DNS configuration (/etc/resolv.conf)");
        }
        le__https_fail(t, e, now, c, LE_ECONNECT, &b, 1);
        return -1;
    }
    t->naddr = n;
    t->resolved = 1;
    return 0;
#endif
}

static void le__https_connect_msg(le_https *t, const le__hconn *c, le__sb *b,
                                  int err) {
    le__puts(b, "cannot connect to the API server at ");
    le__puts(b, c->addr_text);
    if (strcmp(t->hostport, c->addr_text)) {
        le__puts(b, " (");
        le__puts(b, t->hostport);
        le__puts(b, ")");
    }
    le__puts(b, ", from ");
    le__puts(b, t->origin);
    le__puts(b, ": ");
    le__https_put_errno(b, err);
    switch (err) {
    case ECONNREFUSED:
        le__puts(b, ". Nothing listens there: is the API server running and "
                    "the address and port right?");
        break;
    case EHOSTUNREACH: case ENETUNREACH:
        le__puts(b, ". No route to it: check the address, the network, and "
                    "NetworkPolicy egress rules");
        break;
    case ETIMEDOUT:
        le__puts(b, ". Packets are dropped: check firewalls and NetworkPolicy "
                    "egress rules");
        break;
    default: break;
    }
}

/* Opens a non-blocking TCP connection. 0 = started (or connected). */
static int le__https_connect(le_https *t, le_elector *e, le_time now,
                             le__hconn *c, int64_t deadline) {
    const struct sockaddr *sa;
    le__sb b;
    int fd, one = 1, r;
    if (le__https_resolve(t, e, now, c)) return -1;
    sa = (const struct sockaddr *)(const void *)&t->addr[t->next_addr % t->naddr];
    le__https_addr_text(c->addr_text, sizeof c->addr_text, sa);
    fd = socket(sa->sa_family, SOCK_STREAM, 0);
    if (fd < 0) {
        b = le__https_sb(t->last_msg, sizeof t->last_msg);
        le__puts(&b, "socket() failed: ");
        le__https_put_errno(&b, errno);
        le__https_fail(t, e, now, c, LE_ECONNECT, &b, 1);
        return -1;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->seq = ++t->conn_seq;
    c->deadline = deadline;
    do r = connect(fd, sa, t->addr_len[t->next_addr % t->naddr]);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EINPROGRESS) {
        int err = errno;
        b = le__https_sb(t->last_msg, sizeof t->last_msg);
        le__https_connect_msg(t, c, &b, err);
        le__https_fail(t, e, now, c, LE_ECONNECT, &b, 1);
        return -1;
    }
    c->state = LE__C_CONNECTING;
    return 0;
}

static void le__https_tls_fail(le_https *t, le_elector *e, le_time now,
                               le__hconn *c, int r) {
    le__sb b = le__https_sb(t->last_msg, sizeof t->last_msg);
    uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
    int err = LE_ETLS;
    if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 &&
        flags != (uint32_t)-1) {
        if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
            le__puts(&b, "TLS: the API server at ");
            le__puts(&b, t->hostport);
            le__puts(&b, " presented a certificate for '");
            le__puts(&b, t->peer_subject);
            le__puts(&b, "' issued by '");
            le__puts(&b, t->vcalls > 1 ? t->top_issuer : t->peer_issuer);
            le__puts(&b, "', which the CA in ");
            le__puts(&b, t->ca_path[0] ? t->ca_path : "the kubeconfig's "
                         "certificate-authority-data");
            le__puts(&b, " ('");
            le__puts(&b, t->ca_subject);
            le__puts(&b, "') did not sign. Fix: use the cluster's CA (in a pod: "
                         "the service account's ca.crt; outside: the "
                         "kubeconfig's certificate-authority), or check that "
                         "this is the right server");
        } else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
            le__puts(&b, "TLS: the API server's certificate is valid for [");
            le__puts(&b, t->peer_names[0] ? t->peer_names : t->peer_subject);
            le__puts(&b, "] but not for '");
            le__puts(&b, t->vname);
            le__puts(&b, "'. Fix: connect with one of those names or addresses "
                         "(or set tls_server_name / the kubeconfig's "
                         "tls-server-name), or add it to the API server's "
                         "certificate SANs");
        } else if (flags & (MBEDTLS_X509_BADCERT_EXPIRED |
                            MBEDTLS_X509_BADCERT_FUTURE)) {
            le__puts(&b, "TLS: the API server's certificate ('");
            le__puts(&b, t->peer_subject);
            le__puts(&b, flags & MBEDTLS_X509_BADCERT_EXPIRED
                ? "') has expired. Fix: renew the API server's certificate, "
                  "or check this machine's clock"
                : "') is not valid yet. Fix: check this machine's clock");
        } else {
            char info[200];
            le__puts(&b, "TLS: the API server's certificate was rejected: ");
            if (mbedtls_x509_crt_verify_info(info, sizeof info, "", flags) > 0) {
                size_t n = strlen(info);
                while (n && info[n - 1] == '\n') info[--n] = 0;
                le__put_clean(&b, info, n, 180);
            }
        }
    } else if (r == MBEDTLS_ERR_SSL_CONN_EOF ||
               (r == MBEDTLS_ERR_SSL_INTERNAL_ERROR && c->sys_errno)) {
        le__puts(&b, "TLS handshake with ");
        le__puts(&b, c->addr_text);
        le__puts(&b, ": the connection ");
        if (r == MBEDTLS_ERR_SSL_CONN_EOF) {
            le__puts(&b, "was closed");
        } else {
            le__puts(&b, "failed: ");
            le__https_put_errno(&b, c->sys_errno);
        }
        le__puts(&b, ". Is this an HTTPS port of the API server?");
        err = LE_EIO;
    } else {
        le__puts(&b, "TLS handshake with the API server at ");
        le__puts(&b, c->addr_text);
        le__puts(&b, " failed: ");
        le__https_mbed_err(&b, r);
        if (r == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
            le__puts(&b, " (the server refused the handshake: an unsupported "
                         "TLS version or cipher, or a client certificate it "
                         "does not accept)");
    }
    le__https_fail(t, e, now, c, err, &b, 1);
}

/* Connect/handshake progress. 1 = ready, 0 = wait (*ev set), -1 = failed. */
static int le__https_establish(le_https *t, le_elector *e, le_time now,
                               le__hconn *c, short *ev) {
    if (c->state == LE__C_CONNECTING) {
        struct pollfd p;
        int err = 0;
        socklen_t el = sizeof err;
        p.fd = c->fd;
        p.events = POLLOUT;
        p.revents = 0;
        if (poll(&p, 1, 0) <= 0) { /* not yet (or EINTR) */
            *ev = POLLOUT;
            return 0;
        }
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
        if (err) {
            le__sb b = le__https_sb(t->last_msg, sizeof t->last_msg);
            le__https_connect_msg(t, c, &b, err);
            le__https_fail(t, e, now, c, LE_ECONNECT, &b, 1);
            return -1;
        }
        t->stats.connects++;
        if (!t->tls) {
            c->state = LE__C_READY;
            c->fails = 0;
            return 1;
        }
        if (c->ssl_used && (err = mbedtls_ssl_session_reset(&c->ssl)) != 0) {
            le__https_tls_fail(t, e, now, c, err);
            return -1;
        }
        c->state = LE__C_HANDSHAKE;
        c->ssl_used = 1;
        c->sys_errno = 0;
        t->vcalls = 0;
        t->peer_subject[0] = t->peer_issuer[0] = t->top_issuer[0] = 0;
        t->peer_names[0] = 0;
    }
    if (c->state == LE__C_HANDSHAKE) {
        int r = mbedtls_ssl_handshake(&c->ssl);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
            *ev = r == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
            return 0;
        }
        if (r != 0) {
            le__https_tls_fail(t, e, now, c, r);
            return -1;
        }
        c->state = LE__C_READY;
        c->fails = 0;
        t->stats.handshakes++;
        t->tls_version = mbedtls_ssl_get_version(&c->ssl);
    }
    return 1;
}

static void le__https_io_fail(le_https *t, le_elector *e, le_time now,
                              le__hconn *c, const char *doing, int r) {
    le__sb b = le__https_sb(t->last_msg, sizeof t->last_msg);
    le__puts(&b, "the connection to the API server at ");
    le__puts(&b, c->addr_text);
    le__puts(&b, " failed while ");
    le__puts(&b, doing);
    le__puts(&b, ": ");
    if (c->sys_errno) le__https_put_errno(&b, c->sys_errno);
    else le__https_mbed_err(&b, r);
    le__puts(&b, "; reconnecting");
    le__https_fail(t, e, now, c, LE_EIO, &b, 0);
}

/* One non-blocking read: > 0 bytes, 0 closed, LE__RD_AGAIN would block,
   LE__RD_TICKET a TLS 1.3 session ticket (read again), else an error (an
   mbedTLS code, or -1 with sys_errno). */
#define LE__RD_AGAIN (-0x7ff0)
#define LE__RD_TICKET (-0x7ff1)
static int le__https_rd(le_https *t, le__hconn *c) {
    c->sys_errno = 0;
    if (t->tls) {
        int r = mbedtls_ssl_read(&c->ssl, t->rbuf, sizeof t->rbuf);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
            return LE__RD_AGAIN;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
        if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) return LE__RD_TICKET;
#endif
        if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF)
            return 0;
        return r;
    } else {
        ssize_t n;
        do n = recv(c->fd, t->rbuf, sizeof t->rbuf, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return LE__RD_AGAIN;
        if (n < 0) { c->sys_errno = errno; return -1; }
        return (int)n;
    }
}

static int64_t le__https_us(void) {
    struct timespec m;
    clock_gettime(CLOCK_MONOTONIC, &m);
    return (int64_t)m.tv_sec * 1000000 + m.tv_nsec / 1000;
}

/* The now le_https_step was given, advanced by the CLOCK_MONOTONIC time
   the step has taken so far: a handshake's crypto or a preemption can take
   milliseconds, and a reply read after it must not be stamped with the
   time before it (a follower's observed expiry would come early). */
static le_time le__https_now(const le_https *t) {
    le_time n = t->step_now;
    int64_t el = le__https_us() - t->step_us;
    if (el > 0) {
        n.mono_ms += el / 1000;
        n.wall_us += el;
    }
    return n;
}

/* Reads what is there for the stream c carries. 1 = progress (call
   le_next again), 0 = would block. */
static int le__https_read(le_https *t, le_elector *e, le_time now,
                          le__hconn *c, int waiting) {
    int r = le__https_rd(t, c);
    if (r == LE__RD_AGAIN) return 0;
    if (r == LE__RD_TICKET) return 1;
    now = le__https_now(t); /* when it was read */
    if (r < 0) {
        if (waiting) le__https_io_fail(t, e, now, c, "reading the reply", r);
        else le__https_drop(t, c); /* an idle connection broke: reopen later */
        return 1;
    }
    if (r == 0) { /* the server closed the connection */
        le__https_drop(t, c);
        if (c->stream) le_watch_feed(e, now, 0, 0);
        else le_feed(e, now, 0, 0);
        return 1;
    }
    if (c->stream) le_watch_feed(e, now, t->rbuf, (size_t)r);
    else if (le_feed(e, now, t->rbuf, (size_t)r) == LE_EUNAUTHORIZED)
        le__https_reload(t, e, now.mono_ms, 1);
    return 1;
}

/* Before the first byte of a request on a ready connection: 1 if the
   connection had something to say (bytes, handed to the core, which fails
   the request; a close or an error, after which it is reopened), 0 if it
   is quiet. */
static int le__https_unsolicited(le_https *t, le_elector *e, le_time now,
                                 le__hconn *c) {
    for (;;) {
        int r = le__https_rd(t, c);
        if (r == LE__RD_AGAIN) return 0;
        if (r == LE__RD_TICKET) continue;
        if (r <= 0) { /* an idle connection the server closed: reopen */
            le__https_drop(t, c);
            return 1;
        }
        now = le__https_now(t);
        if (c->stream) le_watch_feed(e, now, t->rbuf, (size_t)r);
        else le_feed(e, now, t->rbuf, (size_t)r);
        return 1;
    }
}

/* After a failed attempt, a request waits out the backoff only if it ends
   before the request's deadline: every request gets at least one attempt,
   so a follower sees a recovered server at its next poll, as with
   client-go. A leader's renewal never waits: RetryPeriod already paces it,
   and an attempt put off to the end of its window can miss RenewDeadline
   although the server is back. */
static int le__https_waits(const le_https *t, const le_elector *e,
                           le_time now, const le__hconn *c, int64_t deadline) {
    if (now.mono_ms >= c->retry_at || c->retry_at > deadline) return 0;
    return c != &t->c[0] || !le_is_leader(e, now.mono_ms);
}

/* Moves a request on c: connect, handshake, write. 1 = progress, 0 = wait
   for *ev on c->fd. */
static int le__https_send(le_https *t, le_elector *e, le_time now,
                          le__hconn *c, const char *data, size_t len,
                          int64_t deadline, short *ev) {
    long n;
    if (c->state == LE__C_NONE) {
        if (le__https_waits(t, e, now, c, deadline)) {
            *ev = 0;
            return 0;
        }
        if (le__https_connect(t, e, now, c, deadline)) return 1;
    }
    if (c->state != LE__C_READY) {
        int r = le__https_establish(t, e, now, c, ev);
        if (r <= 0) return r < 0;
    }
    /* bytes that came before the request answer nothing: the core refuses
       them (and the connection) instead of taking them as its reply */
    if (!c->wrote && le__https_unsolicited(t, e, now, c)) return 1;
    c->sys_errno = 0;
    if (t->tls) {
        int r = mbedtls_ssl_write(&c->ssl, (const unsigned char *)data, len);
        if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
            *ev = r == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
            return 0;
        }
        if (r < 0) {
            le__https_io_fail(t, e, now, c, "sending a request", r);
            return 1;
        }
        n = r;
    } else {
        ssize_t w;
        do w = send(c->fd, data, len, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *ev = POLLOUT;
            return 0;
        }
        if (w < 0) {
            c->sys_errno = errno;
            le__https_io_fail(t, e, now, c, "sending a request", 0);
            return 1;
        }
        n = (long)w;
    }
    if (n > 0) c->wrote = 1;
    if ((size_t)n == len) t->stats.requests++;
    if (c->stream) le_watch_sent(e, now, (size_t)n);
    else le_sent(e, now, (size_t)n);
    return 1;
}

/* One stream's part of a step: 1 = progress, 0 = waiting (*fd, *ev). */
static int le__https_stream(le_https *t, le_elector *e, le_time now,
                            le__hconn *c, le_want want, const char *data,
                            size_t len, int64_t deadline, int *fd, short *ev) {
    *fd = -1;
    *ev = 0;
    if (want != LE_WANT_SEND) c->wrote = 0;
    switch (want) {
    case LE_WANT_CLOSE:
        le__https_drop(t, c);
        return 1;
    case LE_WANT_SEND: {
        int r = le__https_send(t, e, now, c, data, len, deadline, ev);
        if (!r && *ev) *fd = c->fd;
        return r;
    }
    case LE_WANT_RECV:
        if (c->state != LE__C_READY) { /* cannot happen; be safe */
            le__sb b = le__https_sb(t->last_msg, sizeof t->last_msg);
            le__puts(&b, "no connection while a reply was expected");
            le__https_fail(t, e, now, c, LE_EIO, &b, 0);
            return 1;
        }
        if (le__https_read(t, e, now, c, 1)) return 1;
        *fd = c->fd;
        *ev = POLLIN;
        return 0;
    default: /* waiting: watch an idle request connection for a close;
                a watch connection nobody wants is dropped */
        if (c->state == LE__C_READY && !c->stream) {
            if (le__https_read(t, e, now, c, 0)) return 1;
            *fd = c->fd;
            *ev = POLLIN;
        } else if (c->state != LE__C_NONE) {
            le__https_drop(t, c); /* half-open and nobody waits for it */
        }
        return 0;
    }
}

static le_step le__https_step(le_https *t, le_elector *e, le_time now);
LEDEF le_step le_https_step(le_https *t, le_elector *e, le_time now) {
    le_step s = le__https_step(t, e, now);
    s.conn = t->c[0].seq;
    s.wconn = t->c[1].seq;
    return s;
}

static le_step le__https_step(le_https *t, le_elector *e, le_time now) {
    le_step s;
    int i, k;
    t->step_now = now;
    t->step_us = le__https_us();
    memset(&s, 0, sizeof s);
    s.fd = s.wfd = -1;
    s.deadline = now.mono_ms;
    if (t->reload && now.mono_ms >= t->token_next) {
        if (t->token_next == INT64_MIN) t->token_next = now.mono_ms + t->token_reload_ms;
        else le__https_reload(t, e, now.mono_ms, 0);
    }
    for (i = 0; i < 64; i++) {
        le_action a;
        now = le__https_now(t);
        /* a connection that is not up by its request's deadline */
        for (k = 0; k < 2; k++) {
            le__hconn *c = &t->c[k];
            if ((c->state == LE__C_CONNECTING || c->state == LE__C_HANDSHAKE) &&
                now.mono_ms >= c->deadline) {
                le__sb b = le__https_sb(t->last_msg, sizeof t->last_msg);
                int tls = c->state == LE__C_HANDSHAKE;
                le__puts(&b, tls ? "TLS handshake with the API server at "
                                 : "no TCP connection to the API server at ");
                le__puts(&b, c->addr_text);
                le__puts(&b, tls ? " did not complete in time (the server "
                                   "accepts connections but does not answer)"
                                 : " in time (packets dropped: firewall, "
                                   "NetworkPolicy egress, or the server is "
                                   "down)");
                le__https_fail(t, e, now, c, tls ? LE_ETLS : LE_ECONNECT, &b, 1);
            }
        }
        a = le_next(e, now);
        if (a.want == LE_WANT_DONE) {
            le__https_drop(t, &t->c[0]);
            le__https_drop(t, &t->c[1]);
            s.fd = s.wfd = -1;
            s.done = 1;
            s.deadline = INT64_MAX;
            return s;
        }
        /* one stream at a time: whatever moved, ask the core again */
        if (le__https_stream(t, e, now, &t->c[0], a.want, a.data, a.len,
                             a.req_deadline, &s.fd, &s.events))
            continue;
        if (le__https_stream(t, e, now, &t->c[1], a.watch, a.wdata, a.wlen,
                             a.watch_deadline, &s.wfd, &s.wevents))
            continue;
        s.deadline = a.deadline;
        for (k = 0; k < 2; k++) /* a backoff to wait out */
            if (t->c[k].state == LE__C_NONE && t->c[k].retry_at < s.deadline &&
                (k ? a.watch : a.want) == LE_WANT_SEND &&
                le__https_waits(t, e, now, &t->c[k],
                                k ? a.watch_deadline : a.req_deadline))
                s.deadline = t->c[k].retry_at;
        if (t->reload && t->token_next < s.deadline) s.deadline = t->token_next;
        return s;
    }
    return s; /* busy: come back at once */
}

/* ---- clock, cancel, runner -------------------------------------------------- */

LEDEF le_time le_clock(void) {
    struct timespec m, w;
    le_time t;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &w);
    t.mono_ms = (int64_t)m.tv_sec * 1000 + m.tv_nsec / 1000000;
    t.wall_us = (int64_t)w.tv_sec * 1000000 + w.tv_nsec / 1000;
    return t;
}

LEDEF int le_timeout_ms(int64_t deadline, int64_t now_ms) {
    if (deadline <= now_ms) return 0;
    if (deadline - now_ms > INT_MAX) return INT_MAX;
    return (int)(deadline - now_ms);
}

LEDEF int le_cancel_init(le_cancel *c) {
    int i;
    c->fired = 0;
    c->ok = 0;
    if (pipe(c->fd) != 0) return LE_EIO;
    for (i = 0; i < 2; i++) {
        fcntl(c->fd[i], F_SETFD, FD_CLOEXEC);
        fcntl(c->fd[i], F_SETFL, fcntl(c->fd[i], F_GETFL) | O_NONBLOCK);
    }
    c->ok = 1;
    return 0;
}

LEDEF void le_cancel_fire(le_cancel *c) {
    int saved = errno; /* a signal handler must not clobber errno */
    c->fired = 1;
    if (c->ok) {
        ssize_t r = write(c->fd[1], "x", 1); /* full pipe: already woken */
        (void)r;
    }
    errno = saved;
}

LEDEF int le_cancel_fired(const le_cancel *c) { return c->fired != 0; }

LEDEF void le_cancel_free(le_cancel *c) {
    if (!c->ok) return;
    c->ok = 0; /* first, so a signal arriving now writes to no descriptor */
    close(c->fd[0]);
    close(c->fd[1]);
}

static le_time le__io_now(const le_io *io) {
    return io->now ? io->now(io->ctx) : le_clock();
}

static void le__io_drain(const le_cancel *c) {
    char buf[64];
    while (read(c->fd[0], buf, sizeof buf) > 0) {}
}

/* Waits for fd/events and wfd/wevents (either may be -1) until deadline,
   and for the cancel pipe until the cancel has been acted on. */
static void le__io_poll(const le_io *io, int fd, short events, int wfd,
                        short wevents, int64_t deadline, int watch_cancel) {
    struct pollfd p[3];
    int n = 0, c = watch_cancel && io->cancel && io->cancel->ok;
    if (fd >= 0) {
        p[n].fd = fd; p[n].events = events; p[n].revents = 0; n++;
    }
    if (wfd >= 0) {
        p[n].fd = wfd; p[n].events = wevents; p[n].revents = 0; n++;
    }
    if (c) {
        if (io->cancel->fired) return; /* act on it first */
        p[n].fd = io->cancel->fd[0]; p[n].events = POLLIN; p[n].revents = 0; n++;
    }
    if (poll(p, (nfds_t)n, le_timeout_ms(deadline, le__io_now(io).mono_ms)) > 0 &&
        c && p[n - 1].revents)
        le__io_drain(io->cancel);
}

LEDEF int le_run(le_elector *e, const le_io *io) {
    int stopped = 0;
    char err[LE_ERRMSG_MAX];
    int own = io->send != 0;
    if (own ? (!io->recv || !io->close) : !io->https) return LE_EINVAL;
    if (own) e->watch_on = 0; /* one connection: followers poll */
    for (;;) {
        le_time now = le__io_now(io);
        int64_t tick_at = INT64_MAX, until;
        if (!stopped && io->cancel && io->cancel->fired) {
            stopped = 1;
            le_stop(e, now);
        }
        if (io->tick) {
            tick_at = io->tick(io->ctx, e, now);
            now = le__io_now(io);
        }
        if (!own) {
            int led = le_is_leader(e, now.mono_ms);
            le_step s = le_https_step(io->https, e, now);
            if (s.done) return 0;
            /* leadership changed: let the work start (or stop) at once */
            if (io->tick && le_is_leader(e, now.mono_ms) != led) continue;
            until = s.deadline < tick_at ? s.deadline : tick_at;
            le__io_poll(io, s.fd, s.events, s.wfd, s.wevents, until, !stopped);
            continue;
        }
        {
            le_action a = le_next(e, now);
            long n;
            until = a.deadline < tick_at ? a.deadline : tick_at;
            err[0] = 0;
            switch (a.want) {
            case LE_WANT_DONE:
                io->close(io->ctx);
                return 0;
            case LE_WANT_CLOSE:
                io->close(io->ctx);
                break;
            case LE_WANT_WAIT:
                if (io->wait) io->wait(io->ctx, until);
                else le__io_poll(io, -1, 0, -1, 0, until, !stopped);
                break;
            case LE_WANT_SEND:
                n = io->send(io->ctx, a.data, a.len, until, err);
                now = le__io_now(io);
                if (n > 0) le_sent(e, now, (size_t)(n > (long)a.len ? (long)a.len : n));
                else if (n < 0 && n != LE_ETIMEDOUT)
                    le_io_error(e, now, (int)n, err[0] ? err : 0);
                break;
            case LE_WANT_RECV: {
                unsigned char buf[4096];
                n = io->recv(io->ctx, buf, sizeof buf, until, err);
                now = le__io_now(io);
                if (n >= 0) le_feed(e, now, buf, (size_t)n);
                else if (n != LE_ETIMEDOUT)
                    le_io_error(e, now, (int)n, err[0] ? err : 0);
                break;
            }
            }
        }
    }
}

#ifdef __cplusplus
}
#endif
#endif /* LE_IMPLEMENTATION && !LE__HTTPS_IMPL */
#endif /* LE_HTTPS */
