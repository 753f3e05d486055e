/* tests/fuzz/core.h - a libFuzzer play of the le.h core.

   One input drives one elector through a sequence of server replies: the
   first byte picks the request the first reply answers (GET, POST, PUT
   takeover, PUT renew, release PUT, release GET; reached with canned
   valid replies), then every record of the input is one reply to whatever
   the elector asks next. A record is

     [ctrl0][ctrl1][ctrl2][len hi][len lo][len bytes]

   ctrl0: bits 0-2 split the reply into pieces of 1,2,3,5,8,13,64 or all
   bytes; bit 3 ends with EOF; bit 4 feeds the record when no reply is
   expected (while waiting, or while the request is being sent: ctrl2 bit 5
   first sends half of it); bits 5-7 advance the clock before it (0, 1 ms,
   RetryPeriod/2, RetryPeriod, request timeout - 1, + 1, LeaseDuration,
   10 x LeaseDuration). ctrl2 bit 4 (FZ_RECORD_BIT) calls le_record_set()
   first if leading. The rest of ctrl1/ctrl2 and the bytes are the
   target's: core_reply() turns them into the bytes to feed, after the
   @-placeholders that echo the request in flight (@R its renewTime, @A
   acquireTime, @T leaseTransitions, @V its resourceVersion, @N a new one),
   since a write counts only if its reply is the Lease as written.

   The harness keeps a shadow of what the server accepted, judged from the
   bytes it fed, independently of le.h: a write (POST, PUT) is accepted
   only if its final reply is 200 (or 201 to a POST) with a JSON object
   whose metadata.name is the Lease, whose spec.holderIdentity is exactly
   our identity, and whose resourceVersion differs from the one the PUT
   carried. Invariants, checked after every call:
   - le_is_leader(t) only while t <= send time + RenewDeadline of an
     accepted write (a GET reply never makes it lead; a write counts only
     if its reply names us; a no-op write does not count; bytes fed while
     no reply was expected never count);
   - le_next: a known action, a deadline in the future (unless something is
     to be closed now), a leader's wait never past its leadership, a
     follower's wait at most 2.2 x RetryPeriod (75 s while a watch is open)
     unless the last reply was a 429 or 5xx (Retry-After), never more than
     10 minutes beyond that, except le.h's hold of a deleted or replaced
     Lease (its deadline is hold_until); SEND within LE_REQ_MAX; the leader and a
     stopped elector do not watch;
   - every request is well-formed HTTP/1.1 whose header lines are
     printable ASCII, Content-Length matches, the body is one JSON object
     naming the Lease, and every resourceVersion in a PUT is one the server
     sent (writes are conditional, nothing invented);
   - every error message is printable ASCII and NUL-terminated, has a
     known code, and le_feed returns the code of an error it reported;
   - a reported leader equal to our identity is exactly our identity (no
     NUL-truncated holder taken for ours); STARTED/STOPPED alternate;
   - a record is reported stored only as set, and only once a reply fed
     carried it;
   - after le_stop() it does not lead, and it is done within RenewDeadline.
   FZ_TRACE=1 in the environment prints every step (to read a reproducer). */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LE_IMPLEMENTATION
#include "le.h"

#ifndef FZ_POLL_ONLY
#define FZ_POLL_ONLY 1 /* the request stream only; tests/fuzz/watch.c: both */
#endif
#define ID "me"
#define ID_LEN 2
#define LEASE_NAME "f"
#define LEASE_MS 15000
#define RENEW_MS 10000
#define RETRY_MS 2000
#define TIMEOUT_MS (RENEW_MS / 2)

static le_elector E;
static int64_t NOW;

/* ---- failures ------------------------------------------------------------ */

static void bad(const char *what, const char *detail) {
    fprintf(stderr, "fuzz: invariant broken: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static le_time at(int64_t ms) {
    le_time t;
    t.mono_ms = ms;
    t.wall_us = 1790000000000000LL + ms * 1000;
    return t;
}

/* ---- a small JSON reader of our own (on jsmn tokens) ----------------------- */

typedef struct { const char *s; jsmntok_t t[1024]; int n; } fz_json;

static int fz_skip(const fz_json *j, int i) {
    int left = 1;
    while (left > 0 && i < j->n) { left += j->t[i].size - 1; i++; }
    return i;
}
/* 0 if s[0..n) is one JSON object (and nothing but blanks after it) */
static int fz_parse(fz_json *j, const char *s, size_t n) {
    jsmn_parser p;
    size_t k;
    int i, c, m;
    jsmn_init(&p);
    j->s = s;
    j->n = jsmn_parse(&p, s, n, j->t, sizeof j->t / sizeof j->t[0]);
    if (j->n <= 0 || j->t[0].type != JSMN_OBJECT || fz_skip(j, 0) != j->n) return -1;
    for (k = (size_t)j->t[0].end; k < n; k++)
        if (!strchr(" \t\r\n", s[k])) return -1;
    for (i = 0; i < j->n; i++) { /* every member a string key with one value */
        if (j->t[i].type != JSMN_OBJECT) continue;
        for (c = i + 1, m = 0; m < j->t[i].size; m++) {
            if (c + 1 >= j->n || j->t[c].type != JSMN_STRING || j->t[c].size != 1) return -1;
            c = fz_skip(j, c + 1);
        }
    }
    return 0;
}
static int fz_key(const fz_json *j, int i, const char *k) {
    size_t n = strlen(k);
    return j->t[i].type == JSMN_STRING && (size_t)(j->t[i].end - j->t[i].start) == n &&
           !memcmp(j->s + j->t[i].start, k, n);
}
/* Decodes the JSON string token i into out; its length or -1. */
static long fz_str(const fz_json *j, int i, char *out, size_t cap) {
    const char *s = j->s + j->t[i].start, *e = j->s + j->t[i].end;
    size_t n = 0;
    if (j->t[i].type != JSMN_STRING) return -1;
    while (s < e) {
        unsigned long cp = (unsigned char)*s++;
        if (cp == '\\') {
            if (s >= e) return -1;
            switch (*s++) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = 8; break;
            case 'f': cp = 12; break;
            case 'n': cp = 10; break;
            case 'r': cp = 13; break;
            case 't': cp = 9; break;
            case 'u': {
                char h[5] = {0};
                if (e - s < 4) return -1;
                memcpy(h, s, 4);
                s += 4;
                cp = strtoul(h, NULL, 16);
                if (cp >= 0xd800 && cp < 0xdc00 && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
                    memcpy(h, s + 2, 4);
                    s += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (strtoul(h, NULL, 16) - 0xdc00);
                }
                break;
            }
            default: return -1;
            }
            if (n + 4 >= cap) return -1;
            if (cp < 0x80) out[n++] = (char)cp;
            else if (cp < 0x800) { out[n++] = (char)(0xc0 | cp >> 6); out[n++] = (char)(0x80 | (cp & 63)); }
            else if (cp < 0x10000) { out[n++] = (char)(0xe0 | cp >> 12); out[n++] = (char)(0x80 | (cp >> 6 & 63)); out[n++] = (char)(0x80 | (cp & 63)); }
            else { out[n++] = (char)(0xf0 | cp >> 18); out[n++] = (char)(0x80 | (cp >> 12 & 63)); out[n++] = (char)(0x80 | (cp >> 6 & 63)); out[n++] = (char)(0x80 | (cp & 63)); }
            continue;
        }
        if (n + 1 >= cap) return -1;
        out[n++] = (char)cp;
    }
    out[n] = 0;
    return (long)n;
}
/* Calls fn for every value of key k in the object at token obj. */
static void fz_each(const fz_json *j, int obj, const char *k,
                    void (*fn)(const fz_json *, int, void *), void *ctx) {
    int i, m;
    if (obj >= j->n || j->t[obj].type != JSMN_OBJECT) return;
    for (i = obj + 1, m = 0; m < j->t[obj].size && i + 1 < j->n; m++, i = fz_skip(j, i + 1))
        if (fz_key(j, i, k)) fn(j, i + 1, ctx);
}

/* le.h keeps a resourceVersion of any length; an input is at most 4096
   bytes, so no resourceVersion in it is longer than this */
#define FZ_RV_MAX 4100

/* What a Lease body says, leniently: any occurrence counts. */
typedef struct {
    int name_ok, holder_ours;
    char rv[4][FZ_RV_MAX];
    int nrv;
} fz_lease;

static void fz_on_name(const fz_json *j, int v, void *c) {
    char b[300];
    if (fz_str(j, v, b, sizeof b) >= 0 && !strcmp(b, LEASE_NAME)) ((fz_lease *)c)->name_ok = 1;
}
static void fz_on_rv(const fz_json *j, int v, void *c) {
    fz_lease *l = (fz_lease *)c;
    if (l->nrv < 4 && fz_str(j, v, l->rv[l->nrv], sizeof l->rv[0]) > 0) l->nrv++;
}
static void fz_on_holder(const fz_json *j, int v, void *c) {
    char b[600];
    long n = fz_str(j, v, b, sizeof b);
    if (n == ID_LEN && !memcmp(b, ID, ID_LEN)) ((fz_lease *)c)->holder_ours = 1;
}
static void fz_on_meta(const fz_json *j, int v, void *c) {
    fz_each(j, v, "name", fz_on_name, c);
    fz_each(j, v, "resourceVersion", fz_on_rv, c);
}
static void fz_raw(const fz_json *j, int v, char *out, size_t cap) {
    size_t n = (size_t)(j->t[v].end - j->t[v].start);
    if (n >= cap) n = 0;
    memcpy(out, j->s + j->t[v].start, n);
    out[n] = 0;
}
static void fz_on_renew(const fz_json *j, int v, void *c) { fz_raw(j, v, ((char **)c)[0], 64); }
static void fz_on_acq(const fz_json *j, int v, void *c) { fz_raw(j, v, ((char **)c)[1], 64); }
static void fz_on_tr(const fz_json *j, int v, void *c) { fz_raw(j, v, ((char **)c)[2], 16); }
static void fz_on_spec(const fz_json *j, int v, void *c) {
    fz_each(j, v, "holderIdentity", fz_on_holder, c);
}
static void fz_on_reqspec(const fz_json *j, int v, void *c) {
    fz_each(j, v, "renewTime", fz_on_renew, c);
    fz_each(j, v, "acquireTime", fz_on_acq, c);
    fz_each(j, v, "leaseTransitions", fz_on_tr, c);
}
static fz_json FJ;
static int fz_lease_of(const char *body, size_t n, fz_lease *l) {
    memset(l, 0, sizeof *l);
    if (fz_parse(&FJ, body, n)) return -1;
    fz_each(&FJ, 0, "metadata", fz_on_meta, l);
    fz_each(&FJ, 0, "spec", fz_on_spec, l);
    return 0;
}

/* ---- the shadow of the server ------------------------------------------- */

enum { RQ_NONE, RQ_GET, RQ_POST, RQ_PUT };
static struct {
    int method;            /* of the request in flight */
    char rv[FZ_RV_MAX];    /* resourceVersion it carried ("" for POST/GET) */
    int64_t sent;          /* now of the le_next that built it */
    int64_t grant;         /* leading allowed up to here */
    char seen_rv[64][FZ_RV_MAX];  /* resourceVersions the server sent */
    int nseen;
    int last_status;       /* final status of the last reply fed, 0 if none */
    int stopped;           /* le_stop() was called */
    int leading_ev;        /* STARTED/STOPPED balance from events */
    int last_err;          /* code of the last error event */
    unsigned errs_seen;    /* bit -code of every error event (since feed() began) */
    int last_err_status;   /* its HTTP status */
    char last_msg[LE_ERRMSG_MAX];
    int nerr;
    int closes_in_row;
    int server_has_record; /* a reply fed carried "le.h/k" */
    /* the request in flight, as raw JSON text, for @-placeholders */
    char req_renew[64], req_acquire[64], req_tr[16];
    unsigned next_rv;
} S;

/* FZ_TRACE=1 in the environment: every step on stderr (reproducing). */
static int TRACE = -1;
static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...) {
    va_list ap;
    if (TRACE < 0) TRACE = getenv("FZ_TRACE") != NULL;
    if (!TRACE) return;
    va_start(ap, fmt);
    fprintf(stderr, "[%lld] ", (long long)NOW);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void on_event(void *user, const le_event *ev) {
    (void)user;
    trace("event %d: %s%s", (int)ev->type, ev->message ? ev->message : "",
          ev->leader ? ev->leader : "");
    switch (ev->type) {
    case LE_EV_ERROR: {
        size_t i, n;
        if (!ev->message) bad("error event without message", 0);
        n = strlen(ev->message);
        if (n == 0 || n >= LE_ERRMSG_MAX) bad("error message empty or too long", 0);
        for (i = 0; i < n; i++)
            if ((unsigned char)ev->message[i] < 0x20 || (unsigned char)ev->message[i] > 0x7e)
                bad("error message has a byte outside printable ASCII", ev->message);
        if (!strcmp(le_strerror(ev->error), "unknown error") || ev->error >= 0)
            bad("error event with an unknown code", ev->message);
        /* llhttp takes 1 to 3 digits as a status code; nothing more */
        if (ev->status < 0 || ev->status > 999)
            bad("error event with an impossible HTTP status", ev->message);
        S.last_err = ev->error;
        S.errs_seen |= 1u << (-ev->error & 31);
        S.last_err_status = ev->status;
        snprintf(S.last_msg, sizeof S.last_msg, "%s", ev->message);
        S.nerr++;
        break;
    }
    case LE_EV_NEW_LEADER:
        if (!ev->leader) bad("new-leader event without leader", 0);
        if (!strcmp(ev->leader, ID) &&
            (E.obs.holder_len != ID_LEN || memcmp(E.obs.holder, ID, ID_LEN)))
            bad("a holder that is not exactly our identity was reported as ours", ev->leader);
        break;
    case LE_EV_STARTED_LEADING:
        if (S.leading_ev) bad("started leading twice", 0);
        if (ev->term < 0) bad("negative term", 0);
        if (ev->mono_ms > S.grant) bad("started leading without an accepted write", 0);
        S.leading_ev = 1;
        break;
    case LE_EV_STOPPED_LEADING:
        if (!S.leading_ev) bad("stopped leading without having started", 0);
        S.leading_ev = 0;
        break;
    case LE_EV_RECORD_STORED:
        if (!ev->key || !ev->value || strcmp(ev->key, "k") || strcmp(ev->value, "v"))
            bad("a record stored that was never set", ev->key);
        if (!S.server_has_record) bad("a record reported stored that no reply carried", 0);
        break;
    }
}

static void check_leader(int64_t t) {
    if (le_is_leader(&E, t) && t > S.grant) {
        char d[96];
        snprintf(d, sizeof d, "t=%lld, last accepted write allows until %lld", (long long)t,
                 (long long)S.grant);
        bad("leads without an accepted write within RenewDeadline", d);
    }
    if (le_is_leader(&E, t) && S.stopped) bad("leads after le_stop()", 0);
    if (le_is_leader(&E, t) && (E.obs.holder_len != ID_LEN || memcmp(E.obs.holder, ID, ID_LEN)))
        bad("leads while the observed holder is another", 0);
}

/* The request just built: well-formed, conditional, no injected lines. */
static void check_request(const char *p, size_t n) {
    const char *hend = NULL, *body;
    size_t i, blen, cl = (size_t)-1;
    int line = 0;
    char rv[FZ_RV_MAX];
    fz_lease l;
    for (i = 0; i + 3 < n; i++)
        if (!memcmp(p + i, "\r\n\r\n", 4)) { hend = p + i; break; }
    if (!hend) bad("request without end of header", 0);
    for (i = 0; p + i < hend + 2; i++) { /* printable lines, CRLF only */
        unsigned char c = (unsigned char)p[i];
        if (c == '\r') { if (p[i + 1] != '\n') bad("bare CR in request header", 0); i++; line++; continue; }
        if (c < 0x20 || c > 0x7e) bad("request header has a byte outside printable ASCII", 0);
    }
    if (!strncmp(p, "GET ", 4)) S.method = RQ_GET;
    else if (!strncmp(p, "POST ", 5)) S.method = RQ_POST;
    else if (!strncmp(p, "PUT ", 4)) S.method = RQ_PUT;
    else bad("request method", 0);
    {
        static const char path[] = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
        if (strncmp(strchr(p, ' ') + 1, path, sizeof path - 1)) bad("request path", 0);
    }
    body = hend + 4;
    blen = n - (size_t)(body - p);
    {
        const char *h = strstr(p, "\r\nContent-Length: ");
        if (h && h < hend) cl = strtoul(h + 18, NULL, 10);
    }
    S.rv[0] = S.req_renew[0] = S.req_acquire[0] = S.req_tr[0] = 0;
    if (S.method == RQ_GET) {
        if (blen || cl != (size_t)-1) bad("GET with a body", 0);
        return;
    }
    if (cl != blen) bad("Content-Length does not match the body", 0);
    if (fz_lease_of(body, blen, &l)) {
        fprintf(stderr, "request body: %.*s\n", (int)blen, body);
        bad("request body is not one JSON object", 0);
    }
    if (!l.name_ok) bad("request body does not name the Lease", 0);
    {
        char *f[3];
        f[0] = S.req_renew; f[1] = S.req_acquire; f[2] = S.req_tr;
        fz_each(&FJ, 0, "spec", fz_on_reqspec, f);
    }
    if (S.method == RQ_PUT) {
        /* the object as the server sent it: a duplicate key stays (the API
           server reads the last one, as le.h does) */
        int k, q;
        if (l.nrv < 1) bad("PUT without a resourceVersion", 0);
        for (q = 0; q < l.nrv; q++) {
            int known = 0;
            for (k = 0; k < S.nseen; k++) known |= !strcmp(S.seen_rv[k], l.rv[q]);
            if (!known) bad("PUT carries a resourceVersion the server never sent", l.rv[q]);
        }
        snprintf(rv, sizeof rv, "%s", l.rv[l.nrv - 1]);
        memcpy(S.rv, rv, sizeof rv);
    }
    (void)line;
}

static void seen_add(const char *rv) {
    int i;
    for (i = 0; i < S.nseen; i++)
        if (!strcmp(S.seen_rv[i], rv)) return;
    if (S.nseen < 64) snprintf(S.seen_rv[S.nseen++], FZ_RV_MAX, "%s", rv);
}

/* The final reply to the request in flight, as the harness framed it:
   decides whether the server accepted the write. */
static void shadow_reply(int status, const char *body, size_t n) {
    fz_lease l;
    int k;
    S.last_status = status;
    if (!body || status / 100 != 2 || fz_lease_of(body, n, &l)) return;
    for (k = 0; k < l.nrv; k++) seen_add(l.rv[k]);
    /* 201 to a PUT too: Leases allow create-on-update, so a PUT can
       re-create a Lease deleted meanwhile, and that write is stored */
    if (status != 200 && status != 201) return;
    if (S.method != RQ_POST && S.method != RQ_PUT) return;
    if (!l.name_ok || !l.holder_ours) return;
    for (k = 0; k < l.nrv; k++) {
        if (S.method == RQ_PUT && !strcmp(l.rv[k], S.rv)) continue; /* no-op write */
        if (S.sent + RENEW_MS > S.grant) S.grant = S.sent + RENEW_MS;
        return;
    }
}

/* ---- driving ----------------------------------------------------------------- */

static le_action next(void) {
    static const char *const w[] = {"?", "WAIT", "SEND", "RECV", "CLOSE", "DONE"};
    le_action a = le_next(&E, at(NOW));
    trace("le_next: %s deadline %lld%s", w[a.want >= 1 && a.want <= 5 ? a.want : 0],
          (long long)a.deadline, le_is_leader(&E, NOW) ? " (leading)" : "");
    check_leader(NOW);
    if (a.want < LE_WANT_WAIT || a.want > LE_WANT_DONE) bad("unknown action", 0);
    if (FZ_POLL_ONLY && a.watch) bad("a poll_only elector wants a watch", 0);
    if ((le_is_leader(&E, NOW) || S.stopped) && a.watch && a.watch != LE_WANT_CLOSE)
        bad("a leader or a stopped elector watches", 0);
    if (a.want == LE_WANT_CLOSE) {
        if (++S.closes_in_row > 2) bad("CLOSE again and again", 0);
        return a;
    }
    S.closes_in_row = 0;
    if (a.want == LE_WANT_DONE) {
        if (!S.stopped) bad("done without le_stop()", 0);
        return a;
    }
    if (a.deadline <= NOW && a.watch != LE_WANT_CLOSE) bad("deadline not in the future", 0);
    if (a.want == LE_WANT_SEND) {
        if (!a.data || a.len == 0 || a.len > LE_REQ_MAX) bad("bad request size", 0);
        if (E.out_sent == 0) {
            check_request(a.data, a.len);
            S.sent = NOW;
        }
    }
    if (a.want == LE_WANT_WAIT) {
        int64_t d = a.deadline - NOW;
        int ra = S.last_status == 429 || S.last_status / 100 == 5;
        if (le_is_leader(&E, NOW) && a.deadline > E.lead_until + 1)
            bad("a leader waits past its leadership", 0);
        /* an open watch bounds the wait by its silence limit instead */
        int64_t fmax = E.w_state ? LE__WATCH_SILENT_MS + 1 : RETRY_MS * 22 / 10 + 1;
        /* le.h's hold: after the Lease was deleted or replaced (another
           uid) nobody else creates or takes it for a LeaseDuration (the
           observed record's, if longer): its old holder may still lead */
        int hold = a.deadline == E.hold_until;
        if (!le_is_leader(&E, NOW) && !ra && !hold && d > fmax) {
            char m[96];
            snprintf(m, sizeof m, "waits %lld ms after a %d reply", (long long)d, S.last_status);
            bad("a follower waits longer than 2.2 x RetryPeriod (75 s with a watch open) without a 429/5xx", m);
        }
        if (!hold && d > 600000 + RETRY_MS * 22 / 10 + 1) bad("waits more than 10 minutes", 0);
    }
    return a;
}

static void feed(const void *p, size_t n) {
    int r;
    S.errs_seen = 0;
    trace("le_feed %zu bytes: %.*s", n, (int)(n > 300 ? 300 : n), p ? (const char *)p : "");
    r = le_feed(&E, at(NOW), p, n);
    if (r > 0) bad("le_feed returned a positive value", 0);
    /* one feed may report two (a bad reply, and bytes after it) */
    if (r < 0 && !(S.errs_seen & (1u << (-r & 31))))
        bad("le_feed returned an error it did not report", le_strerror(r));
    check_leader(NOW);
}

/* Drives the elector until it has a request to send or waits for a reply
   (its want), or is done (LE_WANT_DONE). */
static le_want until_send(void) {
    int i;
    for (i = 0; i < 32; i++) {
        le_action a = next();
        switch (a.want) {
        case LE_WANT_SEND: case LE_WANT_RECV: case LE_WANT_DONE: return a.want;
        case LE_WANT_CLOSE: break;
        case LE_WANT_WAIT: NOW = a.deadline; break;
        }
    }
    bad("no request after 32 steps", 0);
    return LE_WANT_DONE;
}
/* ... and sends it: 1 when it waits for the reply, 0 when done. */
static int until_recv(void) {
    int i;
    for (i = 0; i < 4; i++) {
        le_want w = until_send();
        if (w == LE_WANT_DONE) return 0;
        if (w == LE_WANT_RECV) return 1;
        le_sent(&E, at(NOW), E.out_len - E.out_sent);
    }
    bad("a request that is never sent", 0);
    return 0;
}

/* ---- @-placeholders: what a reply echoes of the request in flight --------- */

/* @R renewTime, @A acquireTime (inside quotes), @T leaseTransitions, @V
   the resourceVersion sent, @N a new one: so fuzzed replies can be the
   Lease as written, which is what a write's reply must show. */
static size_t fz_subst(const char *in, size_t n, char *out, size_t cap) {
    size_t i, o = 0;
    for (i = 0; i < n && o < cap; i++) {
        const char *v = NULL;
        char nv[16];
        if (in[i] == '@' && i + 1 < n) {
            switch (in[i + 1]) {
            case 'R': v = S.req_renew[0] == '"' ? S.req_renew + 1 : S.req_renew; break;
            case 'A': v = S.req_acquire[0] == '"' ? S.req_acquire + 1 : S.req_acquire; break;
            case 'T': v = S.req_tr[0] ? S.req_tr : "0"; break;
            case 'V': v = S.rv; break;
            case 'N': snprintf(nv, sizeof nv, "%u", 100 + S.next_rv++); v = nv; break;
            }
        }
        if (v) {
            size_t k = strlen(v);
            if ((in[i + 1] == 'R' || in[i + 1] == 'A') && k && v[k - 1] == '"') k--;
            if (k > cap - o) k = cap - o;
            memcpy(out + o, v, k);
            o += k;
            i++;
            continue;
        }
        out[o++] = in[i];
    }
    return o;
}

/* ---- canned replies for the setup ------------------------------------------ */

static char CAN[2048];
static size_t canned(int status, const char *holder, const char *rv) {
    char body[1024], tmpl[1024];
    int n;
    if (holder) { /* a write's reply echoes what was written */
        int w = S.method != RQ_GET;
        snprintf(tmpl, sizeof tmpl,
            "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":\""
            LEASE_NAME "\",\"namespace\":\"default\",\"resourceVersion\":\"%s\"},\"spec\":{"
            "\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":15,\"acquireTime\":"
            "\"%s\",\"renewTime\":\"%s\",\"leaseTransitions\":%s}}", rv, holder,
            w ? "@A" : "2026-11-24T09:00:00.000000Z", w ? "@R" : "2026-11-24T09:00:00.000000Z",
            w ? "@T" : "3");
        n = (int)fz_subst(tmpl, strlen(tmpl), body, sizeof body - 1);
        body[n] = 0;
    }
    else
        n = snprintf(body, sizeof body, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
                     "\"Failure\",\"code\":%d}", status);
    return (size_t)snprintf(CAN, sizeof CAN, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                            "Content-Length: %d\r\n\r\n%s", status, n, body);
}
static void canned_reply(int status, const char *holder, const char *rv) {
    size_t n;
    if (!until_recv()) bad("setup: no request", 0);
    n = canned(status, holder, rv);
    shadow_reply(status, strstr(CAN, "\r\n\r\n") + 4, strlen(strstr(CAN, "\r\n\r\n") + 4));
    NOW += 1;
    feed(CAN, n);
}

enum { K_GET, K_POST, K_TAKEOVER, K_RENEW, K_RELEASE, K_RELEASE_GET, K_N };

static void setup(int kind) {
    le_config c;
    memset(&c, 0, sizeof c);
    memset(&S, 0, sizeof S);
    S.grant = INT64_MIN;
    c.ns = "default"; c.name = LEASE_NAME; c.identity = ID;
    c.lease_duration_ms = LEASE_MS; c.renew_deadline_ms = RENEW_MS; c.retry_period_ms = RETRY_MS;
    c.on_event = on_event;
    c.token = "fake-token";
    c.poll_only = FZ_POLL_ONLY;
    if (le_init(&E, &c)) bad("le_init", le_errmsg(&E));
    NOW = 1000;
    switch (kind) {
    case K_GET: break;
    case K_POST: canned_reply(404, NULL, NULL); break;
    case K_TAKEOVER: canned_reply(200, "", "5"); break;
    default:
        canned_reply(200, "", "5");
        canned_reply(200, ID, "6");
        if (!le_is_leader(&E, NOW)) bad("setup: not leading", le_errmsg(&E));
        if (kind >= K_RELEASE) { le_stop(&E, at(NOW)); S.stopped = 1; }
        if (kind == K_RELEASE_GET) canned_reply(409, NULL, NULL);
    }
    if (until_send() == LE_WANT_DONE) bad("setup: no request", 0);
}

/* ---- the play ---------------------------------------------------------------- */

/* The target turns a record into reply bytes: *status and the body span
   for the shadow (status 0: the target cannot tell), returns the length. */
static size_t core_reply(int ctrl1, int ctrl2, const uint8_t *p, size_t n, char *out,
                         size_t cap, int *status, const char **body, size_t *blen, int *eof);

/* Called after a record was fed as the reply to the request in flight
   (method: RQ_*), with the error count before it. */
static void core_after_feed(int status, int method, int nerr_before, int ctrl1, int ctrl2);

#ifndef FZ_RECORD_BIT
#define FZ_RECORD_BIT 0x10 /* ctrl2 bit: le_record_set("k", "v") first */
#endif

static char OUT[1 << 17];

static void feed_split(const char *p, size_t n, int split) {
    static const size_t steps[8] = {1, 2, 3, 5, 8, 13, 64, (size_t)-1};
    size_t step = steps[split & 7], i;
    for (i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        feed(p + i, k);
        if (E.state != LE__WAITING) break; /* the rest is for nobody */
    }
}

#ifndef FZ_OWN_PLAY
static void play(const uint8_t *data, size_t n) {
    static const int64_t adv[8] = {0, 1, RETRY_MS / 2, RETRY_MS, TIMEOUT_MS - 1,
                                   TIMEOUT_MS + 1, LEASE_MS, 10 * LEASE_MS};
    int live = 1;
    if (n == 0) return;
    setup(data[0] % K_N);
    data++; n--;
    while (n >= 5 && live) {
        int c0 = data[0], c1 = data[1], c2 = data[2], status = 0, eof;
        size_t len = (size_t)data[3] << 8 | data[4], rl, blen = 0;
        const char *body = NULL;
        data += 5; n -= 5;
        if (len > n) len = n;
        eof = (c0 >> 3) & 1;
        {
            const uint8_t *rec = data;
            data += len; n -= len;
            if ((c2 & FZ_RECORD_BIT) && le_is_leader(&E, NOW)) {
                int r = le_record_set(&E, at(NOW), "k", "v");
                if (r && r != LE_ETOOBIG) bad("le_record_set refused while leading", le_strerror(r));
            }
            if (c0 & 16) { /* bytes nobody asked for: while it waits or sends */
                le_action a = next();
                if (a.want == LE_WANT_DONE) break;
                if (a.want == LE_WANT_WAIT || a.want == LE_WANT_SEND) {
                    if (a.want == LE_WANT_WAIT) NOW += (a.deadline - NOW) / 2;
                    else if (c2 & 0x20) le_sent(&E, at(NOW), a.len / 2); /* half of it */
                    rl = core_reply(c1, c2, rec, len, OUT, sizeof OUT, &status, &body, &blen, &eof);
                    if (memmem(OUT, rl, "\"le.h/k\"", 8)) S.server_has_record = 1;
                    feed(OUT, rl);
                    if (eof) feed(NULL, 0);
                    live = until_send() != LE_WANT_DONE;
                    continue;
                }
            }
            if (!until_recv()) break;
            NOW += adv[c0 >> 5];
            {
                le_action a = next(); /* the clock moved: maybe a timeout */
                if (a.want != LE_WANT_RECV) { live = until_send() != LE_WANT_DONE; continue; }
            }
            /* framed now: @-placeholders echo the request in flight */
            rl = core_reply(c1, c2, rec, len, OUT, sizeof OUT, &status, &body, &blen, &eof);
            if (memmem(OUT, rl, "\"le.h/k\"", 8)) S.server_has_record = 1;
        }
        shadow_reply(status, body, blen);
        {
            int before = S.nerr, method = S.method;
            feed_split(OUT, rl, c0 & 7);
            if (eof && E.state == LE__WAITING) feed(NULL, 0);
            core_after_feed(status, method, before, c1, c2);
        }
        if (E.state == LE__WAITING) { /* incomplete: let it time out */
            NOW = E.req_until;
            next();
        }
        live = until_send() != LE_WANT_DONE; /* not sent yet: the next record may come first */
    }
    /* a clean stop always works: stops leading at once, ends in DONE */
    if (!S.stopped) { le_stop(&E, at(NOW)); S.stopped = 1; }
    check_leader(NOW);
    {
        int i;
        for (i = 0; i < 8; i++) {
            le_action a = next();
            if (a.want == LE_WANT_DONE) return;
            if (a.want == LE_WANT_SEND) le_sent(&E, at(NOW), a.len);
            if (a.want == LE_WANT_RECV || a.want == LE_WANT_WAIT) NOW = a.deadline;
        }
        bad("not done after le_stop() and RenewDeadline", 0);
    }
}
#endif

#ifndef FZ_OWN_PLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    play(data, n);
    return 0;
}
#endif
