/* Unit tests of the le.h core: no server, no sockets, a synthetic clock.
   Replies are in kube-apiserver's formats (see tests/fixtures/ for ones
   recorded from a real server). Builds as C99 and as C++. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf assert_jmp;
static int assert_armed, assert_hits;
static void test_assert(int ok) {
    if (ok) return;
    assert_hits++;
    if (assert_armed) longjmp(assert_jmp, 1);
    abort();
}
#define LE_ASSERT(x) test_assert(!!(x))
#define LE_IMPLEMENTATION
#include "le.h"

/* ---- tiny harness ------------------------------------------------------- */

static int passed, failed;
#define CHECK(c) check_((c) ? 1 : 0, #c, __FILE__, __LINE__)
static int check_(int ok, const char *what, const char *f, int l) {
    if (ok) passed++;
    else { failed++; fprintf(stderr, "%s:%d: FAILED: %s\n", f, l, what); }
    return ok;
}
#define HAS(hay, needle) CHECK(strstr((hay), (needle)) != NULL)
#define LACKS(hay, needle) CHECK(strstr((hay), (needle)) == NULL)

#define WALL0 1790000000000000LL /* 2026-09-21T14:13:20Z, in us */
static le_time T(int64_t ms) { le_time t; t.mono_ms = ms; t.wall_us = WALL0 + ms * 1000; return t; }
static le_time TW(int64_t ms, int64_t wall_us) { le_time t; t.mono_ms = ms; t.wall_us = wall_us; return t; }

typedef struct { int type; int64_t t, term; int reason; char leader[300]; int error, status; char msg[LE_ERRMSG_MAX]; char key[64], value[LE_RECORD_MAX + 1]; } rec;
typedef struct { rec ev[256]; int n; le_elector *self; int reenter; } evlog;

static void on_event(void *user, const le_event *ev) {
    evlog *l = (evlog *)user;
    rec *r;
    if (l->reenter) { le_next(l->self, T(0)); }
    if (l->n == 256) return;
    r = &l->ev[l->n++];
    memset(r, 0, sizeof *r);
    r->type = ev->type; r->t = ev->mono_ms; r->term = ev->term; r->reason = ev->reason;
    r->error = ev->error; r->status = ev->status;
    if (ev->leader) snprintf(r->leader, sizeof r->leader, "%s", ev->leader);
    if (ev->message) snprintf(r->msg, sizeof r->msg, "%s", ev->message);
    if (ev->key) snprintf(r->key, sizeof r->key, "%s", ev->key);
    if (ev->value) snprintf(r->value, sizeof r->value, "%s", ev->value);
}
static int count(const evlog *l, int type) {
    int i, n = 0;
    for (i = 0; i < l->n; i++) n += l->ev[i].type == type;
    return n;
}
static const rec *last(const evlog *l, int type) {
    int i;
    for (i = l->n - 1; i >= 0; i--) if (l->ev[i].type == type) return &l->ev[i];
    return NULL;
}

static uint32_t zero_rand(void *u) { (void)u; return 0; }

static evlog LOG;
static le_elector E, E2;

static int WATCH; /* 0: the electors of the tests poll (poll_only) */
static void setup_cfg(le_elector *e, evlog *l, const char *id, le_config *c) {
    if (!WATCH) c->poll_only = 1;
    memset(l, 0, sizeof *l);
    l->self = e;
    c->ns = c->ns ? c->ns : "default";
    c->name = c->name ? c->name : "my-lock";
    c->identity = id;
    c->token = c->token ? c->token : "tok123";
    c->host = "127.0.0.1:6443";
    c->rand32 = zero_rand;
    c->on_event = on_event;
    c->user = l;
    CHECK(le_init(e, c) == 0);
}
static void setup(le_elector *e, evlog *l, const char *id) {
    le_config c;
    memset(&c, 0, sizeof c);
    setup_cfg(e, l, id, &c);
}

/* ---- the API server's formats ---------------------------------------------- */

static char REQ[LE_REQ_MAX + 1];
/* The renewTime of the last write sent: the next Lease reply carries it,
   as the API server's reply to that write would. */
static char ECHO[64];

/* Expects a SEND at t (wall clock: WALL0 + t, or wall_us); returns the
   request and acks all of it. */
static const char *send_tw(le_elector *e, le_time tw);
static const char *send_at(le_elector *e, int64_t t) { return send_tw(e, T(t)); }
static const char *send_tw(le_elector *e, le_time tw) {
    int64_t t = tw.mono_ms;
    le_action a = le_next(e, tw);
    if (!CHECK(a.want == LE_WANT_SEND)) { fprintf(stderr, "  want %d at %lld: %s\n", (int)a.want, (long long)t, le_errmsg(e)); REQ[0] = 0; return REQ; }
    memcpy(REQ, a.data, a.len);
    REQ[a.len] = 0;
    le_sent(e, tw, a.len);
    {
        const char *p = strstr(REQ, "\"renewTime\":\"");
        ECHO[0] = 0;
        if (p && strncmp(REQ, "GET ", 4)) {
            p += 13;
            snprintf(ECHO, sizeof ECHO, "%.*s", (int)strcspn(p, "\""), p);
        }
    }
    return REQ;
}
static const char *body_of(const char *req) {
    const char *b = strstr(req, "\r\n\r\n");
    return b ? b + 4 : "";
}

static const char *reason_of(int st) {
    switch (st) {
    case 200: return "OK"; case 201: return "Created"; case 401: return "Unauthorized";
    case 403: return "Forbidden"; case 404: return "Not Found"; case 409: return "Conflict";
    case 422: return "Unprocessable Entity"; case 429: return "Too Many Requests";
    case 500: return "Internal Server Error"; default: return "Whatever";
    }
}
static char RAW[LE_BODY_MAX * 2 + 4096];
/* A reply as kube-apiserver writes it (header set and order as observed). */
static const char *http(int st, const char *extra_hdr, const char *body) {
    snprintf(RAW, sizeof RAW,
             "HTTP/1.1 %d %s\r\nAudit-Id: 2f6c1a3e-4b1e-4f63-9d0c-3f2f0e1b7a11\r\n"
             "Cache-Control: no-cache, private\r\nContent-Type: application/json\r\n"
             "X-Kubernetes-Pf-Flowschema-Uid: 5b5e0e4a-3d8e-4e43-a3b9-77b7b1f1a0c2\r\n"
             "X-Kubernetes-Pf-Prioritylevel-Uid: 9d1b4c43-2f7e-4b9b-8a3e-1c1e6f2d9b10\r\n"
             "%sDate: Tue, 24 Nov 2026 09:00:00 GMT\r\nContent-Length: %zu\r\n\r\n%s",
             st, reason_of(st), extra_hdr ? extra_hdr : "", strlen(body), body);
    return RAW;
}
static char LEASE[LE_BODY_MAX * 2];
static const char *lease_x(const char *name, const char *holder, int dur, int tr,
                           const char *rv, const char *meta_extra, const char *spec_extra) {
    char h[400], ren[64];
    if (ECHO[0]) { snprintf(ren, sizeof ren, "%s", ECHO); ECHO[0] = 0; }
    else snprintf(ren, sizeof ren, "2026-11-24T08:59:%02d.000000Z", atoi(rv) % 60);
    if (holder) snprintf(h, sizeof h, "\"holderIdentity\":\"%s\",", holder);
    else h[0] = 0;
    snprintf(LEASE, sizeof LEASE,
             "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{"
             "\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"8a1d8a52-0f0c-4f3c-9a53-"
             "5a0b6a3f6d5e\",\"resourceVersion\":\"%s\",\"creationTimestamp\":"
             "\"2026-11-24T08:59:00Z\"%s,\"managedFields\":[{\"manager\":\"le.h\","
             "\"operation\":\"Update\",\"apiVersion\":\"coordination.k8s.io/v1\",\"time\":"
             "\"2026-11-24T08:59:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":"
             "{\"f:acquireTime\":{},\"f:holderIdentity\":{},\"f:leaseDurationSeconds\":{},"
             "\"f:leaseTransitions\":{},\"f:renewTime\":{}}}}]},\"spec\":{%s"
             "\"leaseDurationSeconds\":%d,\"acquireTime\":\"2026-11-24T08:59:00.000000Z\","
             "\"renewTime\":\"%s\",\"leaseTransitions\":%d%s}}\n",
             name, rv, meta_extra ? meta_extra : "", h, dur, ren, tr,
             spec_extra ? spec_extra : "");
    return LEASE;
}
static const char *lease(const char *holder, int tr, const char *rv) {
    return lease_x("my-lock", holder, 15, tr, rv, NULL, NULL);
}
static const char *status(int code, const char *reason, const char *msg) {
    static char s[1024];
    snprintf(s, sizeof s,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
             "\"Failure\",\"message\":\"%s\",\"reason\":\"%s\",\"details\":{\"name\":"
             "\"my-lock\",\"group\":\"coordination.k8s.io\",\"kind\":\"leases\"},\"code\":%d}\n",
             msg, reason, code);
    return s;
}
static int feed(le_elector *e, int64_t t, const char *raw) {
    return le_feed(e, T(t), raw, strlen(raw));
}

/* Brings e to leading: GET 404 at t, POST 201. Returns with term 0. */
static void become_leader(le_elector *e, int64_t t, const char *id) {
    char rv[16];
    send_at(e, t);
    feed(e, t, http(404, NULL, status(404, "NotFound", "leases.coordination.k8s.io \\\"my-lock\\\" not found")));
    send_at(e, t);
    snprintf(rv, sizeof rv, "%d", 100 + (int)(t % 1000));
    feed(e, t, http(201, NULL, lease(id, 0, rv)));
}

/* ---- tests ----------------------------------------------------------------- */

static void test_acquire_on_404(void) {
    const char *r;
    setup(&E, &LOG, "pod-a");
    r = send_at(&E, 0);
    HAS(r, "GET /apis/coordination.k8s.io/v1/namespaces/default/leases/my-lock HTTP/1.1\r\n");
    HAS(r, "\r\nHost: 127.0.0.1:6443\r\n");
    HAS(r, "\r\nAuthorization: Bearer tok123\r\n");
    HAS(r, "\r\nAccept: application/json\r\n");
    HAS(r, "\r\nUser-Agent: le.h/");
    LACKS(r, "Content-Length");
    CHECK(strcmp(r + strlen(r) - 4, "\r\n\r\n") == 0);
    CHECK(le_next(&E, T(1)).want == LE_WANT_RECV);
    CHECK(feed(&E, 5, http(404, NULL, status(404, "NotFound", "leases.coordination.k8s.io \\\"my-lock\\\" not found"))) == 0);
    CHECK(count(&LOG, LE_EV_ERROR) == 0);
    r = send_at(&E, 5);
    HAS(r, "POST /apis/coordination.k8s.io/v1/namespaces/default/leases HTTP/1.1\r\n");
    HAS(r, "Content-Type: application/json\r\n");
    {
        char cl[64];
        snprintf(cl, sizeof cl, "Content-Length: %zu\r\n\r\n", strlen(body_of(r)));
        HAS(r, cl);
    }
    HAS(body_of(r), "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"namespace\":\"default\"},\"spec\":{");
    HAS(body_of(r), "\"holderIdentity\":\"pod-a\",\"leaseDurationSeconds\":15,");
    /* WALL0 + 5 ms */
    HAS(body_of(r), "\"acquireTime\":\"2026-09-21T14:13:20.005000Z\",\"renewTime\":\"2026-09-21T14:13:20.005000Z\",\"leaseTransitions\":0}");
    CHECK(!le_is_leader(&E, 5));
    CHECK(feed(&E, 9, http(201, NULL, lease("pod-a", 0, "101"))) == 0);
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 1);
    CHECK(last(&LOG, LE_EV_STARTED_LEADING)->term == 0);
    CHECK(last(&LOG, LE_EV_NEW_LEADER) && !strcmp(last(&LOG, LE_EV_NEW_LEADER)->leader, "pod-a"));
    CHECK(le_is_leader(&E, 9));
    CHECK(le_term(&E) == 0);
    /* the leadership deadline counts from when the winning write was sent */
    CHECK(le_is_leader(&E, 5 + 10000));
    CHECK(!le_is_leader(&E, 5 + 10001));
    {
        le_action a = le_next(&E, T(10));
        CHECK(a.want == LE_WANT_WAIT);
        CHECK(a.deadline == 9 + 2000); /* renew every RetryPeriod */
    }
}

static void test_follow(void) {
    le_action a;
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    CHECK(feed(&E, 10, http(200, NULL, lease("pod-a", 3, "200"))) == 0);
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 0);
    CHECK(!strcmp(last(&LOG, LE_EV_NEW_LEADER)->leader, "pod-a"));
    CHECK(!strcmp(le_leader(&E), "pod-a"));
    CHECK(!le_is_leader(&E, 10));
    a = le_next(&E, T(11));
    CHECK(a.want == LE_WANT_WAIT);
    CHECK(a.deadline == 10 + 2000); /* rand 0: exactly RetryPeriod */
    CHECK(le_next(&E, T(2009)).want == LE_WANT_WAIT);
    HAS(send_at(&E, 2010), "GET ");
    /* the leader renewed: the record changed, so expiry moves */
    CHECK(feed(&E, 2015, http(200, NULL, lease("pod-a", 3, "201"))) == 0);
    CHECK(count(&LOG, LE_EV_NEW_LEADER) == 1); /* same leader, no new event */
    CHECK(le_next(&E, T(2016)).deadline == 4015);
}

static uint32_t max_rand(void *u) { (void)u; return 0xffffffffu; }

static void test_jitter(void) {
    le_config c;
    le_action a;
    uint64_t seen_lo = 0, seen_hi = 0;
    int i;
    memset(&c, 0, sizeof c);
    setup_cfg(&E, &LOG, "pod-b", &c);
    c.rand32 = max_rand;
    CHECK(le_init(&E, &c) == 0);
    send_at(&E, 0);
    feed(&E, 0, http(200, NULL, lease("pod-a", 3, "200")));
    a = le_next(&E, T(0));
    CHECK(a.deadline >= 4399 && a.deadline < 4400); /* 2000 + 1.2 * 2000 */
    /* the built-in generator: spread over [2000, 4400) */
    c.rand32 = NULL;
    c.seed = 42;
    for (i = 0; i < 200; i++) {
        int64_t d;
        CHECK(le_init(&E, &c) == 0);
        E.rng += (uint64_t)i * 7919;
        send_at(&E, 0);
        feed(&E, 0, http(200, NULL, lease("pod-a", 3, "200")));
        d = le_next(&E, T(0)).deadline;
        if (d < 2000 || d >= 4400) { CHECK(!"jitter out of range"); break; }
        if (d < 2600) seen_lo++;
        if (d > 3800) seen_hi++;
    }
    CHECK(seen_lo > 10 && seen_hi > 10);
}

/* Take over after expiry, and not one millisecond before. */
static void test_takeover_after_expiry(void) {
    const char *r;
    int64_t t;
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 100, http(200, NULL, lease("pod-a", 3, "300"))); /* seen at 100 */
    /* the holder stops renewing: every poll sees the same record */
    for (t = 2100; t <= 12100; t += 2000) {
        CHECK(le_next(&E, T(t - 1)).want == LE_WANT_WAIT);
        send_at(&E, t);
        feed(&E, t, http(200, NULL, lease("pod-a", 3, "300")));
    }
    /* a slow reply lands 1 ms before the expiry: still follow */
    send_at(&E, 14100);
    feed(&E, 15099, http(200, NULL, lease("pod-a", 3, "300")));
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 0);
    /* the next poll is scheduled for exactly the expiry: 100 + 15000 */
    CHECK(le_next(&E, T(15099)).want == LE_WANT_WAIT);
    CHECK(le_next(&E, T(15099)).deadline == 15100);
    r = send_at(&E, 15100);
    HAS(r, "GET ");
    feed(&E, 15100, http(200, NULL, lease("pod-a", 3, "300")));
    r = send_at(&E, 15100); /* expired: take it over at once */
    HAS(r, "PUT /apis/coordination.k8s.io/v1/namespaces/default/leases/my-lock HTTP/1.1\r\n");
    HAS(body_of(r), "\"resourceVersion\":\"300\"");
    HAS(body_of(r), "\"holderIdentity\":\"pod-b\",\"leaseDurationSeconds\":15,");
    HAS(body_of(r), "\"leaseTransitions\":4}");
    HAS(body_of(r), "\"acquireTime\":\"2026-09-21T14:13:35.100000Z\",\"renewTime\":\"2026-09-21T14:13:35.100000Z\"");
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 0);
    feed(&E, 15120, http(200, NULL, lease("pod-b", 4, "301")));
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 1);
    CHECK(last(&LOG, LE_EV_STARTED_LEADING)->term == 4);
    CHECK(!strcmp(last(&LOG, LE_EV_NEW_LEADER)->leader, "pod-b"));
    CHECK(le_is_leader(&E, 15120));
}

/* An empty holder means free: take it at once, transitions + 1. */
static void test_free_lease(void) {
    const char *r;
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 1, http(200, NULL, lease_x("my-lock", "", 1, 7, "400", NULL, NULL)));
    r = send_at(&E, 1);
    HAS(r, "PUT ");
    HAS(body_of(r), "\"leaseTransitions\":8}");
    feed(&E, 2, http(200, NULL, lease("pod-b", 8, "401")));
    CHECK(le_term(&E) == 8 && le_is_leader(&E, 2));
    /* a missing holderIdentity (null) is free too */
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 1, http(200, NULL, lease_x("my-lock", NULL, 15, 2, "402", NULL, NULL)));
    HAS(send_at(&E, 1), "PUT ");
}

static void test_conflict_on_takeover(void) {
    const char *r;
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 1, http(200, NULL, lease_x("my-lock", "", 1, 7, "500", NULL, NULL)));
    HAS(send_at(&E, 1), "PUT ");
    CHECK(feed(&E, 2, http(409, NULL, status(409, "Conflict", "Operation cannot be fulfilled on leases.coordination.k8s.io \\\"my-lock\\\": the object has been modified; please apply your changes to the latest version and try again"))) == 0);
    CHECK(count(&LOG, LE_EV_ERROR) == 0); /* contention is normal */
    r = send_at(&E, 2); /* re-read at once, never retry blindly */
    HAS(r, "GET ");
    feed(&E, 3, http(200, NULL, lease("pod-c", 8, "501")));
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 0);
    CHECK(!strcmp(last(&LOG, LE_EV_NEW_LEADER)->leader, "pod-c"));
    CHECK(le_next(&E, T(3)).want == LE_WANT_WAIT);
}

/* Create races: 409 AlreadyExists on POST re-reads. */
static void test_create_conflict(void) {
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 1, http(404, NULL, status(404, "NotFound", "not found")));
    HAS(send_at(&E, 1), "POST ");
    feed(&E, 2, http(409, NULL, status(409, "AlreadyExists", "leases.coordination.k8s.io \\\"my-lock\\\" already exists")));
    HAS(send_at(&E, 2), "GET ");
    feed(&E, 3, http(200, NULL, lease("pod-a", 0, "600")));
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 0);
    CHECK(le_next(&E, T(3)).want == LE_WANT_WAIT);
}

static const char *FOREIGN_META =
    ",\"labels\":{\"app\":\"web\",\"tier\":\"x\\\"y\"},\"annotations\":{\"note\":\"keep \\u00e9 me\"},"
    "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\","
    "\"uid\":\"0d5a4c60-5f0b-4c47-8d39-3a8b1f2c4e77\",\"controller\":true}]";
static const char *FOREIGN_SPEC =
    ",\"strategy\":\"OldestEmulationVersion\",\"preferredHolder\":\"pod-z\","
    "\"futureField\":{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}";

static void test_fast_path_renew_and_foreign_fields(void) {
    const char *r, *b;
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    feed(&E, 1, http(200, NULL, lease_x("my-lock", "pod-z", 15, 5, "700", FOREIGN_META, FOREIGN_SPEC)));
    /* pod-z holds it: follow; it stops renewing; we take over after expiry */
    send_at(&E, 16001);
    feed(&E, 16001, http(200, NULL, lease_x("my-lock", "pod-z", 15, 5, "700", FOREIGN_META, FOREIGN_SPEC)));
    r = send_at(&E, 16001);
    b = body_of(r);
    HAS(r, "PUT ");
    HAS(b, FOREIGN_META);
    HAS(b, ",\"strategy\":\"OldestEmulationVersion\"");
    HAS(b, ",\"preferredHolder\":\"pod-z\"");
    HAS(b, ",\"futureField\":{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}");
    HAS(b, "\"managedFields\":[{\"manager\":\"le.h\"");
    HAS(b, "\"creationTimestamp\":\"2026-11-24T08:59:00Z\"");
    HAS(b, "\"leaseTransitions\":6");
    LACKS(b, "\"holderIdentity\":\"pod-z\"");
    feed(&E, 16010, http(200, NULL, lease_x("my-lock", "pod-a", 15, 6, "701", FOREIGN_META, FOREIGN_SPEC)));
    CHECK(le_is_leader(&E, 16010) && le_term(&E) == 6);
    /* fast path: one PUT of the cached object, no GET first */
    CHECK(le_next(&E, T(18009)).want == LE_WANT_WAIT);
    r = send_at(&E, 18010);
    b = body_of(r);
    HAS(r, "PUT ");
    HAS(b, "\"resourceVersion\":\"701\"");
    HAS(b, "\"holderIdentity\":\"pod-a\"");
    HAS(b, "\"acquireTime\":\"2026-11-24T08:59:00.000000Z\""); /* kept */
    HAS(b, "\"renewTime\":\"2026-09-21T14:13:38.010000Z\"");    /* new */
    HAS(b, "\"leaseTransitions\":6");
    HAS(b, FOREIGN_META);
    HAS(b, ",\"futureField\":{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}");
    /* the whole body is a valid Lease again */
    {
        le__record rr;
        le__objinfo oi;
        static char copy[LE_BODY_MAX];
        size_t bl = strlen(b);
        memcpy(copy, b, bl + 1);
        CHECK(le__parse_lease(&E, copy, bl, &rr, &oi, 0) == 0);
        CHECK(rr.transitions == 6 && !strcmp(rr.holder, "pod-a"));
        /* the cached spec keeps exactly the members le.h does not own */
        CHECK(oi.spec_s >= 0 && (size_t)(oi.spec_e - oi.spec_s) == strlen(FOREIGN_SPEC) + 1 &&
              !memcmp(copy + oi.spec_s + 1, FOREIGN_SPEC + 1, strlen(FOREIGN_SPEC) - 1));
    }
    feed(&E, 18015, http(200, NULL, lease_x("my-lock", "pod-a", 15, 6, "702", FOREIGN_META, FOREIGN_SPEC)));
    CHECK(le_is_leader(&E, 18010 + 10000) && !le_is_leader(&E, 18010 + 10001));
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 1);
    CHECK(count(&LOG, LE_EV_ERROR) == 0);
}

/* Renew failures until RenewDeadline: stopped leading, exactly then. */
static void test_renew_deadline(void) {
    int64_t t;
    le_action a;
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a"); /* write sent at 0: leader until 10000 */
    CHECK(le_is_leader(&E, 10000) && !le_is_leader(&E, 10001));
    /* fast path fails with 500, the GET falls back and fails too */
    HAS(send_at(&E, 2000), "PUT ");
    feed(&E, 2001, http(500, NULL, status(500, "InternalError", "etcdserver: request timed out")));
    CHECK(last(&LOG, LE_EV_ERROR)->error == LE_ESERVER);
    HAS(last(&LOG, LE_EV_ERROR)->msg, "etcdserver: request timed out");
    HAS(send_at(&E, 2001), "GET ");
    feed(&E, 2002, http(503, NULL, "{}"));
    /* retries every RetryPeriod while leading */
    CHECK(le_next(&E, T(2002)).deadline == 4002);
    for (t = 4002; t < 10000; t += 2002) {
        HAS(send_at(&E, t), "PUT ");
        feed(&E, t + 1, http(500, NULL, "{}"));
        HAS(send_at(&E, t + 1), "GET ");
        feed(&E, t + 2, http(500, NULL, "{}"));
    }
    CHECK(count(&LOG, LE_EV_STOPPED_LEADING) == 0);
    /* nobody drives it: still no leader past the deadline */
    CHECK(!le_is_leader(&E, 10001));
    a = le_next(&E, T(9990));
    CHECK(a.deadline == 10001);
    le_next(&E, T(10001));
    CHECK(count(&LOG, LE_EV_STOPPED_LEADING) == 1);
    CHECK(last(&LOG, LE_EV_STOPPED_LEADING)->reason == LE_STOP_DEADLINE);
    CHECK(last(&LOG, LE_EV_STOPPED_LEADING)->term == 0);
    CHECK(last(&LOG, LE_EV_STOPPED_LEADING)->t == 10001);
}

/* A hung server: the request times out, and a leader's request may not
   outlive its leadership. */
static void test_timeouts(void) {
    le_action a;
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    a = le_next(&E, T(1));
    CHECK(a.want == LE_WANT_RECV && a.deadline == 5000); /* renew_deadline / 2 */
    a = le_next(&E, T(5000));
    CHECK(a.want == LE_WANT_CLOSE);
    CHECK(last(&LOG, LE_EV_ERROR)->error == LE_ETIMEDOUT);
    CHECK(le_next(&E, T(5000)).want == LE_WANT_WAIT);
    /* a late reply on the dropped connection is refused */
    CHECK(feed(&E, 5001, http(200, NULL, lease("pod-a", 0, "1"))) == LE_EPROTO);
    CHECK(le_next(&E, T(5001)).want == LE_WANT_CLOSE);

    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    send_at(&E, 8000); /* renew at 8000 would time out at 13000: clipped */
    a = le_next(&E, T(8001));
    CHECK(a.want == LE_WANT_RECV && a.deadline == 10001);
    CHECK(le_is_leader(&E, 10000));
    a = le_next(&E, T(10001));
    CHECK(a.want == LE_WANT_CLOSE);
    CHECK(count(&LOG, LE_EV_STOPPED_LEADING) == 1);
}

static void test_release(void) {
    const char *r;
    le_action a;
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    le_stop(&E, T(100));
    /* stopped leading before anything is sent */
    CHECK(count(&LOG, LE_EV_STOPPED_LEADING) == 1);
    CHECK(last(&LOG, LE_EV_STOPPED_LEADING)->reason == LE_STOP_CANCEL);
    CHECK(!le_is_leader(&E, 100));
    r = send_at(&E, 100);
    HAS(r, "PUT ");
    HAS(body_of(r), "\"resourceVersion\":\"100\"");
    HAS(body_of(r), "{\"holderIdentity\":\"\",\"leaseDurationSeconds\":1,\"acquireTime\":\"2026-09-21T14:13:20.100000Z\",\"renewTime\":\"2026-09-21T14:13:20.100000Z\",\"leaseTransitions\":0}");
    feed(&E, 101, http(200, NULL, lease_x("my-lock", "", 1, 0, "102", NULL, NULL)));
    a = le_next(&E, T(101));
    CHECK(a.want == LE_WANT_CLOSE || a.want == LE_WANT_DONE);
    CHECK(le_next(&E, T(102)).want == LE_WANT_DONE);
    CHECK(count(&LOG, LE_EV_ERROR) == 0);

    /* conflict: re-read once; still ours, so release again */
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    le_stop(&E, T(100));
    send_at(&E, 100);
    feed(&E, 101, http(409, NULL, status(409, "Conflict", "modified")));
    HAS(send_at(&E, 101), "GET ");
    feed(&E, 102, http(200, NULL, lease("pod-a", 0, "150")));
    r = send_at(&E, 102);
    HAS(r, "PUT ");
    HAS(body_of(r), "\"resourceVersion\":\"150\"");
    HAS(body_of(r), "\"holderIdentity\":\"\"");
    feed(&E, 103, http(409, NULL, status(409, "Conflict", "modified")));
    a = le_next(&E, T(103)); /* only once */
    CHECK(a.want == LE_WANT_CLOSE || a.want == LE_WANT_DONE);

    /* conflict, and somebody else holds it now: nothing to release */
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    le_stop(&E, T(100));
    send_at(&E, 100);
    feed(&E, 101, http(409, NULL, status(409, "Conflict", "modified")));
    HAS(send_at(&E, 101), "GET ");
    feed(&E, 102, http(200, NULL, lease("pod-c", 1, "151")));
    a = le_next(&E, T(102));
    CHECK(a.want == LE_WANT_CLOSE || a.want == LE_WANT_DONE);

    /* a follower has nothing to release */
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 1, http(200, NULL, lease("pod-a", 0, "160")));
    le_stop(&E, T(2));
    CHECK(le_next(&E, T(2)).want == LE_WANT_CLOSE);
    CHECK(le_next(&E, T(2)).want == LE_WANT_DONE);

    /* keep_on_stop: no release */
    {
        le_config c;
        memset(&c, 0, sizeof c);
        c.keep_on_stop = 1;
        setup_cfg(&E, &LOG, "pod-a", &c);
        become_leader(&E, 0, "pod-a");
        le_stop(&E, T(5));
        CHECK(count(&LOG, LE_EV_STOPPED_LEADING) == 1);
        CHECK(le_next(&E, T(5)).want == LE_WANT_CLOSE);
        CHECK(le_next(&E, T(5)).want == LE_WANT_DONE);
    }

    /* a hung release gives up after RenewDeadline */
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    le_stop(&E, T(100));
    send_at(&E, 100);
    a = le_next(&E, T(200));
    CHECK(a.want == LE_WANT_RECV && a.deadline <= 10100);
    a = le_next(&E, T(10100));
    CHECK(a.want == LE_WANT_CLOSE);
    CHECK(le_next(&E, T(10100)).want == LE_WANT_DONE);
}

/* The leader sees another holder: stops at once. */
static void test_lost_to_other(void) {
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    HAS(send_at(&E, 2000), "PUT ");
    feed(&E, 2001, http(409, NULL, status(409, "Conflict", "modified")));
    HAS(send_at(&E, 2001), "GET ");
    feed(&E, 2002, http(200, NULL, lease("pod-x", 1, "900")));
    CHECK(count(&LOG, LE_EV_STOPPED_LEADING) == 1);
    CHECK(last(&LOG, LE_EV_STOPPED_LEADING)->reason == LE_STOP_LOST);
    CHECK(!le_is_leader(&E, 2002));
    CHECK(le_next(&E, T(2002)).want == LE_WANT_WAIT);
}

/* The Lease was deleted under the leader: re-create it. */
static void test_deleted_under_leader(void) {
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    send_at(&E, 2000);
    feed(&E, 2001, http(404, NULL, status(404, "NotFound", "not found")));
    HAS(send_at(&E, 2001), "GET ");
    feed(&E, 2002, http(404, NULL, status(404, "NotFound", "not found")));
    HAS(send_at(&E, 2002), "POST ");
    feed(&E, 2003, http(201, NULL, lease("pod-a", 0, "5")));
    CHECK(le_is_leader(&E, 2003) && count(&LOG, LE_EV_STARTED_LEADING) == 1);
}

/* Deleted while leading at term 6 and re-created: leaseTransitions starts
   again, so the tenure ends and a new one starts with the new term. */
static void test_recreated_new_term(void) {
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    feed(&E, 1, http(200, NULL, lease_x("my-lock", "", 1, 5, "50", NULL, NULL)));
    send_at(&E, 1);
    feed(&E, 2, http(200, NULL, lease("pod-a", 6, "51")));
    CHECK(le_term(&E) == 6);
    send_at(&E, 2002);
    feed(&E, 2003, http(404, NULL, "{}"));
    send_at(&E, 2003);
    feed(&E, 2004, http(404, NULL, "{}"));
    HAS(send_at(&E, 2004), "POST ");
    feed(&E, 2005, http(201, NULL, lease("pod-a", 0, "52")));
    CHECK(le_is_leader(&E, 2005) && le_term(&E) == 0);
    CHECK(count(&LOG, LE_EV_STOPPED_LEADING) == 1 && last(&LOG, LE_EV_STOPPED_LEADING)->term == 6);
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 2 && last(&LOG, LE_EV_STARTED_LEADING)->term == 0);
}

/* Same identity already holds it (a restarted process): keep term, renew. */
static void test_restart_same_identity(void) {
    const char *r;
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    feed(&E, 1, http(200, NULL, lease("pod-a", 9, "42")));
    r = send_at(&E, 1);
    HAS(r, "PUT ");
    HAS(body_of(r), "\"leaseTransitions\":9");
    HAS(body_of(r), "\"acquireTime\":\"2026-11-24T08:59:00.000000Z\"");
    feed(&E, 2, http(200, NULL, lease("pod-a", 9, "43")));
    CHECK(le_is_leader(&E, 2) && le_term(&E) == 9);
}

/* Every reply split at every byte boundary gives the same outcome. */
static void test_every_split(void) {
    static char raw[8192];
    size_t n, cut, k;
    int ok_all = 1;
    const char *variants[3];
    char chunked[8192];
    const char *body;
    snprintf(ECHO, sizeof ECHO, "2026-09-21T14:13:20.000000Z"); /* the POST's, at t = 0 */
    body = lease("pod-a", 0, "101");
    snprintf(chunked, sizeof chunked,
             "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n%x\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n",
             40, 40, body, strlen(body) - 40, body + 40);
    variants[0] = http(201, NULL, body);
    snprintf(raw, sizeof raw, "%s", variants[0]);
    variants[0] = raw;
    variants[1] = chunked;
    variants[2] = NULL;
    for (k = 0; variants[k]; k++) {
        n = strlen(variants[k]);
        for (cut = 0; cut <= n; cut++) {
            int rc;
            setup(&E, &LOG, "pod-a");
            send_at(&E, 0);
            feed(&E, 0, http(404, NULL, "{}"));
            send_at(&E, 0);
            /* (a zero-length feed means EOF, so only non-empty pieces) */
            rc = cut ? le_feed(&E, T(1), variants[k], cut) : 0;
            rc |= cut < n ? le_feed(&E, T(1), variants[k] + cut, n - cut) : 0;
            if (rc || !le_is_leader(&E, 1) || LOG.n != 2) { ok_all = 0; fprintf(stderr, "split %zu/%zu of variant %zu\n", cut, n, k); break; }
        }
        /* byte by byte */
        setup(&E, &LOG, "pod-a");
        send_at(&E, 0);
        feed(&E, 0, http(404, NULL, "{}"));
        send_at(&E, 0);
        for (cut = 0; cut < n; cut++) le_feed(&E, T(1), variants[k] + cut, 1);
        CHECK(le_is_leader(&E, 1));
    }
    CHECK(ok_all);
    /* partial sends: le_sent with pieces */
    setup(&E, &LOG, "pod-a");
    {
        le_action a = le_next(&E, T(0));
        size_t total = a.len;
        le_sent(&E, T(0), 10);
        a = le_next(&E, T(0));
        CHECK(a.want == LE_WANT_SEND && a.len == total - 10);
        le_sent(&E, T(0), a.len);
        CHECK(le_next(&E, T(0)).want == LE_WANT_RECV);
    }
}

/* Keep-alive and Connection: close. */
static void test_connection_handling(void) {
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 1, http(200, "Connection: close\r\n", lease("pod-a", 0, "1")));
    CHECK(le_next(&E, T(1)).want == LE_WANT_CLOSE);
    CHECK(le_next(&E, T(1)).want == LE_WANT_WAIT);
    /* reply without a length, ended by the close */
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    {
        char raw[4096];
        snprintf(raw, sizeof raw, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n%s", lease("pod-a", 0, "1"));
        CHECK(feed(&E, 1, raw) == 0);
        CHECK(le_feed(&E, T(1), NULL, 0) == 0);
        CHECK(!strcmp(le_leader(&E), "pod-a"));
    }
    /* an idle keep-alive connection closed by the server is not an error */
    CHECK(le_feed(&E, T(2), NULL, 0) == 0);
    CHECK(count(&LOG, LE_EV_ERROR) == 0);
    /* closed mid-reply */
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    {
        const char *raw = http(200, NULL, lease("pod-a", 0, "1"));
        CHECK(le_feed(&E, T(1), raw, strlen(raw) / 2) == 0);
        CHECK(le_feed(&E, T(1), NULL, 0) == LE_EIO);
        HAS(last(&LOG, LE_EV_ERROR)->msg, "closed before the reply was complete");
    }
    /* the server answers before the request is fully sent: the exchange
       fails, the connection goes, and the request is sent again whole */
    setup(&E, &LOG, "pod-b");
    {
        le_action a = le_next(&E, T(0));
        size_t total = a.len;
        le_sent(&E, T(0), 10);
        CHECK(feed(&E, 1, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n") == LE_EPROTO);
        CHECK(le_next(&E, T(1)).want == LE_WANT_CLOSE);
        a = le_next(&E, T(5000));
        CHECK(a.want == LE_WANT_SEND && a.len == total && !strncmp(a.data, "GET ", 4));
    }
    /* EOF while sending */
    setup(&E, &LOG, "pod-b");
    {
        le_action a = le_next(&E, T(0));
        le_sent(&E, T(0), 10);
        CHECK(le_feed(&E, T(1), NULL, 0) == LE_EIO);
        CHECK(le_next(&E, T(1)).want == LE_WANT_CLOSE);
        (void)a;
    }
    /* EOF mid-reply: the connection must go too */
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    {
        const char *raw = http(200, NULL, lease("pod-a", 0, "1"));
        le_feed(&E, T(1), raw, 40);
        CHECK(le_feed(&E, T(1), NULL, 0) == LE_EIO);
        CHECK(le_next(&E, T(1)).want == LE_WANT_CLOSE);
    }
    /* transport errors reach the events */
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    le_io_error(&E, T(3), LE_ECONNECT, "connect 10.96.0.1:443: connection refused");
    CHECK(last(&LOG, LE_EV_ERROR)->error == LE_ECONNECT);
    HAS(last(&LOG, LE_EV_ERROR)->msg, "connection refused");
    CHECK(le_next(&E, T(3)).want == LE_WANT_CLOSE); /* the exchange is abandoned */
    CHECK(le_next(&E, T(3)).want == LE_WANT_WAIT);
    /* extra bytes after a reply: the reply counts, the connection goes */
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    {
        char raw[8192];
        snprintf(raw, sizeof raw, "%sHTTP/1.1 200 OK\r\n", http(200, NULL, lease("pod-a", 0, "1")));
        CHECK(feed(&E, 1, raw) == 0);
        CHECK(!strcmp(le_leader(&E), "pod-a"));
        CHECK(le_next(&E, T(1)).want == LE_WANT_CLOSE);
    }
}

typedef struct { const char *name, *reply; int err; const char *msg; } bad_case;

/* Bad input: a defined error that names the cause; never leadership. */
static void test_bad_replies(void) {
    static char big[LE_BODY_MAX + 100], toks[20000], b5[20000];
    char b1[4096], b2[4096], b3[4096], b4[4096], b6[4096], b7[4096], b8[4096], b9[4096], b10[4096], b11[4096];
    bad_case cases[64];
    int n = 0, i;
    size_t k;
    memset(big, ' ', sizeof big - 1);
    big[0] = '{'; big[sizeof big - 3] = '}'; big[sizeof big - 2] = 0;
    strcpy(toks, "{\"a\":[");
    for (k = 0; k < 3000; k++) strcat(toks, "1,");
    strcat(toks, "1]}");
#define CASE(nm, rep, er, m) do { cases[n].name = nm; cases[n].reply = rep; cases[n].err = er; cases[n].msg = m; n++; } while (0)
    /* copies, since http() reuses its buffer */
#define KEEP(buf, expr) (snprintf(buf, sizeof buf, "%s", expr), buf)
    CASE("bad status line", "HTTP/1.1 2x0 OK\r\n\r\n", LE_EPROTO, "malformed HTTP reply");
    CASE("not http", "SSH-2.0-OpenSSH_9.2\r\n", LE_EPROTO, "malformed HTTP reply");
    CASE("bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n", LE_EPROTO, "malformed HTTP");
    CASE("truncated json", KEEP(b1, http(200, NULL, "{\"kind\":\"Lease\",\"metadata\":{\"name\":")), LE_EJSON, "truncated");
    CASE("invalid json", KEEP(b2, http(200, NULL, "{\"kind\":Lease}")), LE_EJSON, "not a single valid JSON object");
    CASE("bad escape", KEEP(b9, http(200, NULL, "{\"kind\":\"Lease\",\"spec\":{\"holderIdentity\":\"bad \\x escape\"}}")), LE_EJSON, "");
    CASE("key without value", KEEP(b10, http(200, NULL, "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"1\"},\"spec\"}")), LE_EJSON, "not a single valid JSON object");
    CASE("nested key without value", KEEP(b11, http(200, NULL, "{\"kind\":\"Lease\",\"metadata\":{\"name\"},\"spec\":{}}")), LE_EJSON, "not a single valid JSON object");
    CASE("array", KEEP(b3, http(200, NULL, "[1,2]")), LE_EJSON, "not a single valid JSON object");
    CASE("trailing garbage", KEEP(b4, http(200, NULL, "{\"kind\":\"Lease\"} x")), LE_EJSON, "");
    CASE("empty body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", LE_EJSON, "");
    CASE("too many tokens", KEEP(b5, http(200, NULL, toks)), LE_ETOOBIG, "LE_JSON_TOKENS");
    cases[n].name = "too big"; cases[n].reply = NULL; cases[n].err = LE_ETOOBIG; cases[n].msg = "LE_BODY_MAX"; n++;
    CASE("other name", KEEP(b6, http(200, NULL, lease_x("other-lock", "pod-a", 15, 0, "1", NULL, NULL))), LE_ELEASE, "metadata.name");
    CASE("wrong kind", KEEP(b7, http(200, NULL, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"1\"}}")), LE_ELEASE, "kind");
    CASE("no name", KEEP(b8, http(200, NULL, "{\"kind\":\"Lease\",\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{}}")), LE_ELEASE, "metadata.name is missing");
    for (i = 0; i < n; i++) {
        int rc;
        setup(&E, &LOG, "pod-a");
        send_at(&E, 0);
        if (cases[i].reply) rc = feed(&E, 1, cases[i].reply);
        else {
            char *raw = (char *)malloc(LE_BODY_MAX * 2);
            snprintf(raw, LE_BODY_MAX * 2, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(big), big);
            rc = feed(&E, 1, raw);
            free(raw);
        }
        if (!CHECK(rc == cases[i].err)) fprintf(stderr, "  case %s: got %d (%s)\n", cases[i].name, rc, le_errmsg(&E));
        CHECK(last(&LOG, LE_EV_ERROR) && last(&LOG, LE_EV_ERROR)->error == cases[i].err);
        if (cases[i].msg[0]) HAS(le_errmsg(&E), cases[i].msg);
        CHECK(!le_is_leader(&E, 1) && count(&LOG, LE_EV_STARTED_LEADING) == 0);
        /* and the elector carries on: the next step is a wait or a close */
        {
            le_want w = le_next(&E, T(1)).want;
            CHECK(w == LE_WANT_WAIT || w == LE_WANT_CLOSE);
        }
    }
}

/* Absurd or missing fields in an otherwise fine Lease. */
static void test_bad_fields(void) {
    static const char *const specs[] = {
        "\"holderIdentity\":\"pod-x\",\"leaseDurationSeconds\":-1",
        "\"holderIdentity\":\"pod-x\",\"leaseDurationSeconds\":1e3",
        "\"holderIdentity\":\"pod-x\",\"leaseDurationSeconds\":15.5",
        "\"holderIdentity\":\"pod-x\",\"leaseDurationSeconds\":99999999999",
        "\"holderIdentity\":\"pod-x\",\"leaseDurationSeconds\":\"15\"",
        "\"holderIdentity\":\"pod-x\",\"leaseDurationSeconds\":015",
        "\"holderIdentity\":\"pod-x\",\"leaseTransitions\":-3",
        "\"holderIdentity\":\"pod-x\",\"leaseTransitions\":2147483648",
        "\"holderIdentity\":17",
        "\"holderIdentity\":\"pod-x\",\"renewTime\":\"yesterday\"",
        "\"holderIdentity\":\"pod-x\",\"acquireTime\":12",
        "\"holderIdentity\":\"pod-x\",\"holderIdentity\":\"pod-y\"",
        NULL};
    static const char *const metas[] = {
        "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\"},\"spec\":{}}",
        "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"\"},\"spec\":{}}",
        "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"namespace\":\"kube-system\",\"resourceVersion\":\"1\"},\"spec\":{}}",
        "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1beta1\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"1\"},\"spec\":{}}",
        "{\"kind\":\"Lease\",\"metadata\":[],\"spec\":{}}",
        "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"1\"},\"spec\":[]}",
        /* a second spec: its first one's compaction would leave a PUT
           body that is not JSON */
        "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"1\"},\"spec\":{\"x\":{\"a\":[1]},\"holderIdentity\":\"\"},\"spec\":{\"y\":2}}",
        "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"1\"},\"spec\":{},\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"2\"}}",
        NULL};
    char body[2048];
    int i;
    for (i = 0; specs[i]; i++) {
        snprintf(body, sizeof body, "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":\"my-lock\",\"namespace\":\"default\",\"resourceVersion\":\"5\"},\"spec\":{%s}}", specs[i]);
        setup(&E, &LOG, "pod-a");
        send_at(&E, 0);
        if (!CHECK(feed(&E, 1, http(200, NULL, body)) == LE_ELEASE)) fprintf(stderr, "  spec %s\n", specs[i]);
        HAS(le_errmsg(&E), "not a usable Lease");
        CHECK(le_next(&E, T(1)).want == LE_WANT_WAIT); /* no write follows */
    }
    for (i = 0; metas[i]; i++) {
        setup(&E, &LOG, "pod-a");
        send_at(&E, 0);
        if (!CHECK(feed(&E, 1, http(200, NULL, metas[i])) == LE_ELEASE)) fprintf(stderr, "  meta %s: %s\n", metas[i], le_errmsg(&E));
        CHECK(le_next(&E, T(1)).want == LE_WANT_WAIT);
    }
    HAS(le_errmsg(&E), "the Lease has two metadata members");
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    CHECK(feed(&E, 1, http(200, NULL, metas[i - 2])) == LE_ELEASE);
    HAS(le_errmsg(&E), "the Lease has two spec members");
    /* a successful write that names another holder is not leadership */
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    feed(&E, 1, http(404, NULL, "{}"));
    send_at(&E, 1);
    CHECK(feed(&E, 2, http(201, NULL, lease("pod-q", 0, "3"))) == LE_ELEASE);
    CHECK(!le_is_leader(&E, 2) && count(&LOG, LE_EV_STARTED_LEADING) == 0);
    /* null spec and escaped holder names are fine */
    setup(&E, &LOG, "pod \"a\"");
    send_at(&E, 0);
    CHECK(feed(&E, 1, http(200, NULL, "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"8\"},\"spec\":null}")) == 0);
    {
        const char *r = send_at(&E, 1);
        HAS(body_of(r), "\"spec\":{\"holderIdentity\":\"pod \\\"a\\\"\"");
        LACKS(body_of(r), "null");
    }
    feed(&E, 2, http(200, NULL, "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"9\"},\"spec\":{\"holderIdentity\":\"pod \\\"\\u0061\\\"\",\"leaseDurationSeconds\":15,\"renewTime\":\"2026-09-21T14:13:20.001000Z\",\"leaseTransitions\":1}}"));
    CHECK(le_is_leader(&E, 2) && le_term(&E) == 1);
}

/* API Status replies: each a defined error whose message names cause and fix. */
static void test_status_errors(void) {
    static const struct { int st, op, err; const char *reason, *want1, *want2; } c[] = {
        {401, 0, LE_EUNAUTHORIZED, "Unauthorized", "token was rejected", "re-reads the token file"},
        {403, 0, LE_EFORBIDDEN, "Forbidden", "verb 'get'", "\"get\", \"create\", \"update\""},
        {403, 1, LE_EFORBIDDEN, "Forbidden", "verb 'create'", "resources: [\"leases\"]"},
        {403, 2, LE_EFORBIDDEN, "Forbidden", "verb 'update'", "apiGroups: [\"coordination.k8s.io\"]"},
        {404, 1, LE_ENOTFOUND, "NotFound", "namespace 'default' does not exist", "namespaces \"default\" not found"},
        {422, 2, LE_EINVALID, "Invalid", "rejected the Lease as invalid", "Server says"},
        {429, 0, LE_ETHROTTLED, "TooManyRequests", "throttled", ""},
        {500, 0, LE_ESERVER, "InternalError", "HTTP 500", "server-side"},
        {418, 0, LE_EHTTP, "Teapot", "unexpected status", ""},
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        char msg[256];
        int rc;
        setup(&E, &LOG, "pod-a");
        send_at(&E, 0);
        if (c[i].op == 1) { /* GET 404, so the failing request is the POST */
            feed(&E, 0, http(404, NULL, "{}"));
            HAS(send_at(&E, 0), "POST ");
        } else if (c[i].op == 2) { /* a free Lease, so it is the PUT */
            feed(&E, 0, http(200, NULL, lease_x("my-lock", "", 1, 0, "7", NULL, NULL)));
            HAS(send_at(&E, 0), "PUT ");
        }
        snprintf(msg, sizeof msg, c[i].st == 404 ? "namespaces \\\"default\\\" not found" : "server text for %d", c[i].st);
        rc = feed(&E, 1, http(c[i].st, NULL, status(c[i].st, c[i].reason, msg)));
        if (!CHECK(rc == c[i].err)) fprintf(stderr, "  status %d: %d %s\n", c[i].st, rc, le_errmsg(&E));
        CHECK(last(&LOG, LE_EV_ERROR) && last(&LOG, LE_EV_ERROR)->status == c[i].st);
        HAS(le_errmsg(&E), c[i].want1);
        if (c[i].want2[0]) HAS(le_errmsg(&E), c[i].want2);
        if (c[i].st != 404) { snprintf(msg, sizeof msg, "server text for %d", c[i].st); HAS(le_errmsg(&E), msg); }
        CHECK(!le_is_leader(&E, 1) && count(&LOG, LE_EV_STARTED_LEADING) == 0);
        CHECK(le_next(&E, T(1)).want == LE_WANT_WAIT);
    }
    /* Retry-After is honoured */
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    feed(&E, 1, http(429, "Retry-After: 7\r\n", status(429, "TooManyRequests", "slow down")));
    CHECK(le_next(&E, T(1)).deadline == 7001);
    /* a body that is not a Status still gives the status error */
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    CHECK(feed(&E, 1, http(502, NULL, "<html>bad gateway</html>")) == LE_ESERVER);
    HAS(le_errmsg(&E), "HTTP 502");
    /* a Status whose last key has no value, at the end of the token array */
    {
        char body[1024];
        int k, n = 0;
        n += snprintf(body + n, sizeof body - (size_t)n, "{");
        for (k = 0; k < 31; k++) n += snprintf(body + n, sizeof body - (size_t)n, "\"k%d\":0,", k);
        snprintf(body + n, sizeof body - (size_t)n, "\"message\"}");
        setup(&E, &LOG, "pod-a");
        send_at(&E, 0);
        CHECK(feed(&E, 1, http(500, NULL, body)) == LE_ESERVER);
        LACKS(le_errmsg(&E), "Server says");
    }
    /* server text is cleaned of control bytes */
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    feed(&E, 1, http(500, NULL, "{\"kind\":\"Status\",\"message\":\"a\\u001bb\tc\"}"));
    LACKS(le_errmsg(&E), "\t");
}

static void test_config_validation(void) {
    static const struct { int lease, renew, retry; const char *ns, *name, *id, *want; } c[] = {
        {10000, 10000, 2000, "default", "x", "a", "greater than renew_deadline_ms"},
        {15000, 2400, 2000, "default", "x", "a", "1.2 * retry_period_ms"},
        {15500, 10000, 2000, "default", "x", "a", "whole seconds"},
        {-1, 0, 0, "default", "x", "a", "negative"},
        {0, 0, 0, "Default", "x", "a", "namespace"},
        {0, 0, 0, "", "x", "a", "namespace"},
        {0, 0, 0, "default", "My_Lock", "a", "DNS-1123 subdomain"},
        {0, 0, 0, "default", "a..b", "a", "DNS-1123 subdomain"},
        {0, 0, 0, "default", "-a", "a", "DNS-1123 subdomain"},
        {0, 0, 0, "default", "x", "", "identity is empty"},
        {0, 0, 0, "default", "x", NULL, "identity is empty"},
        {0, 0, 0, "default", "x", "a\nb", "control characters"},
        {0, 0, 0, NULL, "x", "a", "namespace"},
        {0, 0, 0, "default", "x", "rv-\xff", "not valid UTF-8"},
        {0, 0, 0, "default", "x", "a\xc3", "not valid UTF-8"},
        {0, 0, 0, "default", "x", "\xed\xa0\x80", "not valid UTF-8"},
    };
    size_t i;
    le_config cfg;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        memset(&cfg, 0, sizeof cfg);
        cfg.lease_duration_ms = c[i].lease; cfg.renew_deadline_ms = c[i].renew;
        cfg.retry_period_ms = c[i].retry; cfg.ns = c[i].ns; cfg.name = c[i].name;
        cfg.identity = c[i].id;
        CHECK(le_init(&E, &cfg) == LE_EINVAL);
        if (!strstr(le_errmsg(&E), c[i].want)) { CHECK(!"message"); fprintf(stderr, "  got: %s\n", le_errmsg(&E)); }
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = "default"; cfg.name = "x"; cfg.identity = "pod-\xc3\xa9-\xf0\x9f\x98\x80";
    CHECK(le_init(&E, &cfg) == 0); /* UTF-8 is fine */
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = "kube-system"; cfg.name = "a.b-c"; cfg.identity = "x";
    cfg.lease_duration_ms = 3000; cfg.renew_deadline_ms = 2000; cfg.retry_period_ms = 1000;
    CHECK(le_init(&E, &cfg) == 0);
    memset(&cfg, 0, sizeof cfg);
    cfg.ns = "default"; cfg.name = "x"; cfg.identity = "me";
    CHECK(le_init(&E, &cfg) == 0);
    CHECK(E.lease_ms == 15000 && E.renew_ms == 10000 && E.retry_ms == 2000 && E.timeout_ms == 5000);
    HAS(send_at(&E, 0), "Host: kubernetes.default.svc\r\n");
    LACKS(REQ, "Authorization");
    /* a token with a newline (a token file read raw) is refused clearly */
    cfg.token = "abc\n";
    memset(&LOG, 0, sizeof LOG);
    cfg.on_event = on_event; cfg.user = &LOG;
    CHECK(le_init(&E, &cfg) == 0);
    CHECK(le_next(&E, T(0)).want == LE_WANT_WAIT);
    CHECK(last(&LOG, LE_EV_ERROR)->error == LE_EINVAL);
    HAS(le_errmsg(&E), "trailing newline");
    le_set_token(&E, "abc");
    HAS(send_at(&E, 5000), "Authorization: Bearer abc\r\n");
}

static void test_microtime(void) {
    static const struct { int64_t us; const char *want; } c[] = {
        {0, "1970-01-01T00:00:00.000000Z"},
        {1767323045123456LL, "2026-01-02T03:04:05.123456Z"},
        {951782400000001LL, "2000-02-29T00:00:00.000001Z"},
        {4107542399999999LL, "2100-02-28T23:59:59.999999Z"},
        {-1, "1969-12-31T23:59:59.999999Z"},
        {INT64_MIN, "0001-01-01T00:00:00.000000Z"},
        {INT64_MAX, "9999-12-31T23:59:59.999999Z"},
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        char buf[64];
        le__sb b;
        b.p = buf; b.cap = sizeof buf; b.len = 0; b.over = 0;
        le__microtime(&b, c[i].us);
        le__cstr(&b);
        if (!CHECK(!strcmp(buf, c[i].want))) fprintf(stderr, "  %s != %s\n", buf, c[i].want);
    }
}

static void test_ordinal(void) {
    long n = -1;
    CHECK(le_ordinal("web-12", &n) == 0 && n == 12);
    CHECK(le_ordinal("web-0", &n) == 0 && n == 0);
    CHECK(le_ordinal("my-db-3", &n) == 0 && n == 3);
    CHECK(le_ordinal("7", &n) == 0 && n == 7);
    n = -1;
    CHECK(le_ordinal("web", &n) == LE_EINVAL && n == -1);
    CHECK(le_ordinal("web-", &n) == LE_EINVAL);
    CHECK(le_ordinal("-1", &n) == LE_EINVAL);
    CHECK(le_ordinal("web-01", &n) == LE_EINVAL);
    CHECK(le_ordinal("web-1a", &n) == LE_EINVAL);
    CHECK(le_ordinal("web-7d9f8b-x2x4z", &n) == LE_EINVAL); /* a Deployment pod */
    CHECK(le_ordinal("web-99999999999999999999", &n) == LE_EINVAL);
    CHECK(le_ordinal("", &n) == LE_EINVAL);
    CHECK(le_ordinal(NULL, &n) == LE_EINVAL);
}

/* Two electors in one process share nothing. */
static void test_two_electors(void) {
    evlog l2;
    setup(&E, &LOG, "pod-a");
    setup(&E2, &l2, "pod-b");
    send_at(&E, 0);
    send_at(&E2, 0);
    feed(&E, 1, http(404, NULL, "{}"));
    feed(&E2, 1, http(404, NULL, "{}"));
    send_at(&E, 1);
    send_at(&E2, 1);
    feed(&E, 2, http(201, NULL, lease("pod-a", 0, "1")));
    feed(&E2, 2, http(409, NULL, status(409, "AlreadyExists", "exists")));
    CHECK(le_is_leader(&E, 2) && !le_is_leader(&E2, 2));
    HAS(send_at(&E2, 2), "GET ");
    feed(&E2, 3, http(200, NULL, lease("pod-a", 0, "1")));
    CHECK(!strcmp(l2.ev[l2.n - 1].leader, "pod-a"));
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 1 && count(&l2, LE_EV_STARTED_LEADING) == 0);
}

/* Driving the elector from its own callback is refused. */
static void test_reentry(void) {
    setup(&E, &LOG, "pod-a");
    LOG.reenter = 1;
    assert_hits = 0;
    assert_armed = 1;
    if (setjmp(assert_jmp) == 0) {
        become_leader(&E, 0, "pod-a");
        CHECK(!"re-entry was not caught");
    }
    assert_armed = 0;
    CHECK(assert_hits == 1);
}

/* ---- replies recorded from a real kube-apiserver (tools/capture-fixtures.py) */

static char FIX[16384];
static const char *fixture(const char *name) {
    char path[256];
    FILE *f;
    size_t n;
    snprintf(path, sizeof path, "tests/fixtures/%s", name);
    f = fopen(path, "rb");
    if (!CHECK(f != NULL)) { fprintf(stderr, "  missing %s (run from the top directory)\n", path); FIX[0] = 0; return FIX; }
    n = fread(FIX, 1, sizeof FIX - 1, f);
    fclose(f);
    FIX[n] = 0;
    return FIX;
}

/* Feeds a fixture split at every byte boundary into copies of e. */
static int feed_fixture_all_splits(le_elector *e, int64_t t, const char *name) {
    static le_elector copy;
    const char *raw = fixture(name);
    size_t n = strlen(raw), cut;
    int rc0 = -100;
    evlog saved = LOG;
    for (cut = 1; cut < n; cut += (cut < 64 || n - cut < 64) ? 1 : 7) {
        int rc;
        copy = *e;
        copy.rx.http.data = &copy.rx;
        copy.rx.body = copy.buf[copy.cur ^ 1];
        LOG = saved;
        rc = le_feed(&copy, T(t), raw, cut) | le_feed(&copy, T(t), raw + cut, n - cut);
        if (rc0 == -100) rc0 = rc;
        if (rc != rc0) { CHECK(!"a split changed the outcome"); fprintf(stderr, "  %s at %zu\n", name, cut); break; }
    }
    LOG = saved;
    return le_feed(e, T(t), raw, n);
}

static void test_recorded_replies(void) {
    le_config c;
    const char *r;
    memset(&c, 0, sizeof c);
    c.name = "fixture-lock";
    setup_cfg(&E, &LOG, "pod-a", &c);
    send_at(&E, 0);
    CHECK(feed_fixture_all_splits(&E, 1, "get-404.http") == 0);
    /* the capture wrote these times; a reply must carry the renewTime sent */
    HAS(send_tw(&E, TW(1, 1795510800000000LL)), "POST ");
    CHECK(feed_fixture_all_splits(&E, 2, "post-201.http") == 0);
    CHECK(le_is_leader(&E, 2) && le_term(&E) == 0);
    r = send_tw(&E, TW(2002, 1795510802000000LL));
    HAS(r, "PUT ");
    HAS(body_of(r), "\"labels\":{\"app\":\"web\"},\"annotations\":{\"note\":\"keep me\"}");
    HAS(body_of(r), "\"managedFields\":[{\"manager\":\"le.h\"");
    HAS(body_of(r), ",\"strategy\":\"OldestEmulationVersion\",\"preferredHolder\":\"pod-z\"}");
    CHECK(feed_fixture_all_splits(&E, 2003, "put-200.http") == 0);
    CHECK(le_is_leader(&E, 2003) && count(&LOG, LE_EV_ERROR) == 0);
    HAS(send_at(&E, 4003), "PUT ");
    CHECK(feed_fixture_all_splits(&E, 4004, "put-409.http") == 0);
    HAS(send_at(&E, 4004), "GET "); /* conflict: re-read */
    CHECK(feed_fixture_all_splits(&E, 4005, "get-200.http") == 0);
    /* the record still names pod-a: update with the newer resourceVersion */
    r = send_at(&E, 4005);
    HAS(r, "PUT ");
    CHECK(feed_fixture_all_splits(&E, 4006, "put-403.http") == LE_EFORBIDDEN);
    HAS(le_errmsg(&E), "verb 'update'");
    HAS(le_errmsg(&E), "User \"le-norbac\" cannot update resource \"leases\"");

    setup_cfg(&E, &LOG, "pod-b", &c);
    send_at(&E, 0);
    CHECK(feed_fixture_all_splits(&E, 1, "get-200.http") == 0);
    CHECK(!strcmp(last(&LOG, LE_EV_NEW_LEADER)->leader, "pod-a"));
    CHECK(le_next(&E, T(1)).want == LE_WANT_WAIT);
    send_at(&E, 2001);
    CHECK(feed_fixture_all_splits(&E, 2002, "get-401.http") == LE_EUNAUTHORIZED);
    HAS(le_errmsg(&E), "token was rejected");

    setup_cfg(&E, &LOG, "pod-b", &c);
    send_at(&E, 0);
    feed(&E, 1, http(200, NULL, lease_x("fixture-lock", "", 1, 0, "5", NULL, NULL)));
    HAS(send_at(&E, 1), "PUT ");
    CHECK(feed_fixture_all_splits(&E, 2, "put-422.http") == LE_EINVALID);
    HAS(le_errmsg(&E), "must be specified for an update");

    setup_cfg(&E, &LOG, "pod-b", &c);
    send_at(&E, 0);
    feed(&E, 1, http(404, NULL, "{}"));
    HAS(send_at(&E, 1), "POST ");
    CHECK(feed_fixture_all_splits(&E, 2, "post-404-namespace.http") == LE_ENOTFOUND);
    HAS(le_errmsg(&E), "Server says: namespaces \"nope\" not found");
}

/* ---- defects found in review: each test failed on the le.h before them ---- */

/* A transport error abandons the exchange: the connection must go, so the
   abandoned request's late reply can never be read as the next one's. */
static void test_io_error_closes(void) {
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    send_at(&E, 2000); /* renew */
    le_io_error(&E, T(2001), LE_EIO, "recv: connection reset by peer");
    /* a reply that still arrives on that connection is not taken */
    CHECK(feed(&E, 2002, http(200, NULL, lease("pod-a", 0, "150"))) == 0);
    CHECK(count(&LOG, LE_EV_ERROR) == 1);
    CHECK(le_next(&E, T(2002)).want == LE_WANT_CLOSE);
    HAS(send_at(&E, 2002), "GET "); /* the slow path, on a new connection */
    /* the same while idle: an error for a connection that is kept */
    setup(&E, &LOG, "pod-b");
    le_io_error(&E, T(0), LE_EIO, "idle connection reset");
    CHECK(le_next(&E, T(0)).want == LE_WANT_CLOSE);
}

static const char *renew_of(const char *req) {
    static char v[64];
    const char *p = strstr(body_of(req), "\"renewTime\":\"");
    v[0] = 0;
    if (p) snprintf(v, sizeof v, "%.*s", (int)strcspn(p + 13, "\""), p + 13);
    return v;
}

/* A wall clock that stands still, is 0 or goes back still changes
   renewTime with every write: a byte-identical update is a no-op for the
   API server, and followers would take over from a live leader. */
static void test_renew_time_always_changes(void) {
    char prev[64];
    int i, ok = 1;
    setup(&E, &LOG, "pod-a");
    send_tw(&E, TW(0, 0));
    feed(&E, 0, http(404, NULL, "{}"));
    snprintf(prev, sizeof prev, "%s", renew_of(send_tw(&E, TW(0, 0))));
    feed(&E, 1, http(201, NULL, lease("pod-a", 0, "100")));
    CHECK(le_is_leader(&E, 1));
    for (i = 1; i <= 5; i++) {
        /* frozen at 0, then jumping back by an hour */
        int64_t wall = i < 3 ? 0 : WALL0 - 3600000000LL * i;
        char rv[16];
        const char *r = send_tw(&E, TW(1 + 2000 * i, wall));
        if (strcmp(renew_of(r), prev) <= 0) ok = 0;
        snprintf(prev, sizeof prev, "%s", renew_of(r));
        snprintf(rv, sizeof rv, "%d", 100 + i);
        feed(&E, 1 + 2000 * i, http(200, NULL, lease("pod-a", 0, rv)));
        CHECK(le_is_leader(&E, 1 + 2000 * i));
    }
    CHECK(ok);
    /* a restarted process with the same identity and the same wall clock as
       the record it finds: its renew must still differ */
    setup(&E, &LOG, "pod-a");
    send_tw(&E, TW(0, WALL0));
    ECHO[0] = 0;
    snprintf(ECHO, sizeof ECHO, "2026-09-21T14:13:20.000000Z"); /* = WALL0 */
    feed(&E, 1, http(200, NULL, lease("pod-a", 3, "200")));
    CHECK(strcmp(renew_of(send_tw(&E, TW(1, WALL0))), "2026-09-21T14:13:20.000000Z") != 0);
}

static char LONG_HOLDER[400];
static const char *long_holder(char last) {
    memset(LONG_HOLDER, 'h', 300);
    LONG_HOLDER[299] = last;
    LONG_HOLDER[300] = 0;
    return LONG_HOLDER;
}

/* A holder longer than LE_IDENTITY_MAX is followed and, once expired,
   replaced; a change after its first LE_IDENTITY_MAX bytes is a change. */
static void test_long_holder(void) {
    const rec *nl;
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    CHECK(feed(&E, 0, http(200, NULL, lease(long_holder('1'), 4, "50"))) == 0);
    nl = last(&LOG, LE_EV_NEW_LEADER);
    CHECK(nl && strlen(nl->leader) == LE_IDENTITY_MAX + 3 && !strcmp(nl->leader + LE_IDENTITY_MAX, "..."));
    CHECK(le_next(&E, T(0)).want == LE_WANT_WAIT);
    /* the same 300 bytes but the last: another holder, expiry restarts */
    send_at(&E, 10000);
    CHECK(feed(&E, 10000, http(200, NULL, lease(long_holder('2'), 5, "51"))) == 0);
    CHECK(count(&LOG, LE_EV_NEW_LEADER) == 2);
    send_at(&E, 24999);
    feed(&E, 24999, http(200, NULL, lease(long_holder('2'), 5, "51")));
    CHECK(le_next(&E, T(24999)).want == LE_WANT_WAIT); /* 15 s from 10000 */
    send_at(&E, 25000);
    feed(&E, 25000, http(200, NULL, lease(long_holder('2'), 5, "51")));
    {
        const char *r = send_at(&E, 25000);
        HAS(r, "PUT ");
        HAS(body_of(r), "\"holderIdentity\":\"pod-b\"");
        HAS(body_of(r), "\"leaseTransitions\":6");
    }
    CHECK(feed(&E, 25001, http(200, NULL, lease("pod-b", 6, "52"))) == 0);
    CHECK(le_is_leader(&E, 25001) && le_term(&E) == 6);
}

/* Any number of spec fields le.h does not own, sent back byte for byte. */
static void test_many_foreign_fields(void) {
    static char spec[4096], want[4200];
    size_t n = 0;
    int i;
    for (i = 0; i < 40; i++)
        n += (size_t)snprintf(spec + n, sizeof spec - n, ",\"future%d\":{\"v\":[%d,\"x\"]}", i, i);
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    CHECK(feed(&E, 0, http(200, NULL, lease_x("my-lock", "", 1, 2, "70", NULL, spec))) == 0);
    snprintf(want, sizeof want, "\"leaseTransitions\":3%s}", spec);
    HAS(body_of(send_at(&E, 0)), want);
    CHECK(feed(&E, 1, http(200, NULL, lease_x("my-lock", "pod-a", 15, 3, "71", NULL, spec))) == 0);
    CHECK(le_is_leader(&E, 1));
    HAS(body_of(send_at(&E, 2001)), want); /* and on every renew */
}

/* spec.preferredHolder and spec.strategy are part of the record client-go
   compares: a change of either restarts the expiry. */
static void test_extra_fields_restart_expiry(void) {
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 0, http(200, NULL, lease_x("my-lock", "pod-a", 15, 1, "10", NULL, ",\"preferredHolder\":\"pod-x\"")));
    send_at(&E, 10000);
    feed(&E, 10000, http(200, NULL, lease_x("my-lock", "pod-a", 15, 1, "10", NULL, ",\"preferredHolder\":\"pod-y\"")));
    send_at(&E, 15000);
    feed(&E, 15000, http(200, NULL, lease_x("my-lock", "pod-a", 15, 1, "10", NULL, ",\"preferredHolder\":\"pod-y\"")));
    CHECK(le_next(&E, T(15000)).want == LE_WANT_WAIT); /* not expired: 10000 + 15 s */
    send_at(&E, 20000);
    feed(&E, 20000, http(200, NULL, lease_x("my-lock", "pod-a", 15, 1, "10", NULL, ",\"strategy\":\"OldestEmulationVersion\",\"preferredHolder\":\"pod-y\"")));
    send_at(&E, 34999);
    feed(&E, 34999, http(200, NULL, lease_x("my-lock", "pod-a", 15, 1, "10", NULL, ",\"strategy\":\"OldestEmulationVersion\",\"preferredHolder\":\"pod-y\"")));
    CHECK(le_next(&E, T(34999)).want == LE_WANT_WAIT);
    send_at(&E, 35000);
    feed(&E, 35000, http(200, NULL, lease_x("my-lock", "pod-a", 15, 1, "10", NULL, ",\"strategy\":\"OldestEmulationVersion\",\"preferredHolder\":\"pod-y\"")));
    HAS(send_at(&E, 35000), "PUT ");
}

/* A reply fed after its request's deadline is a timeout: events and
   le_is_leader() never disagree. */
static void test_late_reply_is_timeout(void) {
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a"); /* leads until 10000 */
    send_at(&E, 8000);             /* deadline 10001 */
    CHECK(le_is_leader(&E, 10000) && !le_is_leader(&E, 10001));
    CHECK(feed(&E, 11000, http(200, NULL, lease("pod-a", 0, "120"))) == 0);
    CHECK(!le_is_leader(&E, 11000));
    CHECK(count(&LOG, LE_EV_STOPPED_LEADING) == 1 && last(&LOG, LE_EV_STOPPED_LEADING)->reason == LE_STOP_DEADLINE);
    CHECK(last(&LOG, LE_EV_ERROR) && last(&LOG, LE_EV_ERROR)->error == LE_ETIMEDOUT);
    CHECK(le_next(&E, T(11000)).want == LE_WANT_CLOSE);
    CHECK(count(&LOG, LE_EV_STARTED_LEADING) == 1);
}

static void test_timeout_bound_and_term_limit(void) {
    le_config c;
    memset(&c, 0, sizeof c);
    c.ns = "default"; c.name = "x"; c.identity = "a";
    c.request_timeout_ms = 10000; /* = RenewDeadline */
    CHECK(le_init(&E2, &c) == LE_EINVAL);
    HAS(le_errmsg(&E2), "request_timeout_ms must be less than renew_deadline_ms");
    c.request_timeout_ms = 9999;
    CHECK(le_init(&E2, &c) == 0);
    /* leaseTransitions at INT32_MAX: no takeover that would write 0 */
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 0, http(200, NULL, lease_x("my-lock", "", 1, 2147483647, "9", NULL, NULL)));
    CHECK(le_next(&E, T(0)).want != LE_WANT_SEND);
    CHECK(last(&LOG, LE_EV_ERROR) && last(&LOG, LE_EV_ERROR)->error == LE_ELEASE);
    HAS(last(&LOG, LE_EV_ERROR)->msg, "2147483647");
    CHECK(!le_is_leader(&E, 0));
}

/* A write counts only if its reply is the Lease as written. */
static void test_write_reply_must_match(void) {
    /* the resourceVersion that was sent: a no-op, nothing was applied */
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a"); /* resourceVersion 100 */
    send_at(&E, 2000);
    CHECK(feed(&E, 2001, http(200, NULL, lease("pod-a", 0, "100"))) == LE_ELEASE);
    HAS(le_errmsg(&E), "resourceVersion that was sent");
    CHECK(le_is_leader(&E, 10000) && !le_is_leader(&E, 10001)); /* still from t=0 */
    /* another renewTime: a reply to something else */
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    send_at(&E, 2000);
    ECHO[0] = 0;
    CHECK(feed(&E, 2001, http(200, NULL, lease("pod-a", 0, "101"))) == LE_ELEASE);
    HAS(le_errmsg(&E), "renewTime");
    CHECK(!le_is_leader(&E, 10001));
    /* a reply before the request was completely sent is refused */
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    {
        le_action a = le_next(&E, T(2000));
        CHECK(a.want == LE_WANT_SEND);
        le_sent(&E, T(2000), a.len / 2);
        CHECK(feed(&E, 2000, http(200, NULL, lease("pod-a", 0, "101"))) == LE_EPROTO);
        CHECK(le_next(&E, T(2000)).want == LE_WANT_CLOSE);
        CHECK(!le_is_leader(&E, 10001));
    }
}

/* Retry-After only on 429 and 5xx, and never past the observed expiry (a
   follower) or past the point a renew can still succeed (a leader). */
static void test_retry_after_bounds(void) {
    le_action a;
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 0, http(200, "Retry-After: 999999\r\n", lease("pod-a", 1, "5")));
    a = le_next(&E, T(0));
    CHECK(a.want == LE_WANT_WAIT && a.deadline == 2000); /* jitter 0: RetryPeriod */
    send_at(&E, 2000);
    feed(&E, 2000, http(429, "Retry-After: 600\r\n", status(429, "TooManyRequests", "slow down")));
    a = le_next(&E, T(2000));
    CHECK(a.want == LE_WANT_WAIT && a.deadline == 15000); /* the observed expiry */
    HAS(last(&LOG, LE_EV_ERROR)->msg, "Retry-After: 600 s");
    send_at(&E, 15000);
    feed(&E, 15000, http(503, "Retry-After: 3\r\n", status(503, "ServiceUnavailable", "x")));
    a = le_next(&E, T(15000));
    CHECK(a.want == LE_WANT_WAIT && a.deadline == 18000);
    /* a leader: no later than RenewDeadline - request timeout */
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    send_at(&E, 2000);
    feed(&E, 2000, http(429, "Retry-After: 600\r\n", status(429, "TooManyRequests", "slow down")));
    HAS(send_at(&E, 2000), "GET "); /* the slow path first, like client-go */
    feed(&E, 2000, http(429, "Retry-After: 600\r\n", status(429, "TooManyRequests", "slow down")));
    a = le_next(&E, T(2000));
    CHECK(a.want == LE_WANT_WAIT && a.deadline == 5000); /* 10000 - 5000 */
}

/* A holder with an embedded NUL is another identity. */
static void test_holder_with_nul(void) {
    setup(&E, &LOG, "hostile-a");
    send_at(&E, 0);
    CHECK(feed(&E, 0, http(200, NULL, lease("hostile-a\\u0000x", 7, "30"))) == 0);
    CHECK(count(&LOG, LE_EV_NEW_LEADER) == 1);
    CHECK(strcmp(le_leader(&E), "hostile-a") != 0);
    CHECK(strcmp(last(&LOG, LE_EV_NEW_LEADER)->leader, "hostile-a") != 0);
    CHECK(le_next(&E, T(0)).want == LE_WANT_WAIT); /* follows it: not ours */
    send_at(&E, 15000);
    feed(&E, 15000, http(200, NULL, lease("hostile-a\\u0000x", 7, "30")));
    HAS(body_of(send_at(&E, 15000)), "\"leaseTransitions\":8"); /* a takeover */
}

/* Headers, trailers and interim replies are bounded. */
static void test_header_limits(void) {
    static char big[LE_HEADER_MAX + 2048];
    int i;
    size_t n;
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    n = (size_t)snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX-Junk: ");
    memset(big + n, 'a', sizeof big - n - 1);
    big[sizeof big - 1] = 0;
    CHECK(feed(&E, 1, big) == LE_EPROTO);
    HAS(le_errmsg(&E), "LE_HEADER_MAX");
    CHECK(le_next(&E, T(1)).want == LE_WANT_CLOSE);
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    for (i = 0; i <= LE__INTERIM_MAX; i++) feed(&E, 1, "HTTP/1.1 100 Continue\r\n\r\n");
    HAS(le_errmsg(&E), "interim (1xx)");
    CHECK(le_next(&E, T(1)).want == LE_WANT_CLOSE);
    /* a few interim replies are fine */
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    for (i = 0; i < 3; i++) CHECK(feed(&E, 1, "HTTP/1.1 100 Continue\r\n\r\n") == 0);
    CHECK(feed(&E, 1, http(404, NULL, "{}")) == 0);
    HAS(send_at(&E, 1), "POST ");
}

static void test_size_messages(void) {
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    CHECK(feed(&E, 1, "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n{") == LE_ETOOBIG);
    HAS(le_errmsg(&E), "announces 104857600 bytes");
    HAS(le_errmsg(&E), "No Lease is that large");
    LACKS(le_errmsg(&E), "define LE_BODY_MAX larger");
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    CHECK(feed(&E, 1, "HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n{") == LE_ETOOBIG);
    HAS(le_errmsg(&E), "define LE_BODY_MAX larger");
    setup(&E, &LOG, "pod-a");
    send_at(&E, 0);
    CHECK(feed(&E, 1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n") == LE_EPROTO);
    HAS(le_errmsg(&E), "101 Switching Protocols");
    LACKS(le_errmsg(&E), "Pause");
}

/* ---- fenced records and stats ----------------------------------------------- */

static void test_records(void) {
    const char *r;
    char v[64];
    le_stats st;
    setup(&E, &LOG, "pod-a");
    CHECK(le_record_set(&E, T(0), "once", "v1") == LE_ENOTLEADER);
    become_leader(&E, 0, "pod-a");
    CHECK(le_record_set(&E, T(1), "", "v1") == LE_EINVAL);
    CHECK(le_record_set(&E, T(1), "-x", "v1") == LE_EINVAL);
    CHECK(le_record_set(&E, T(1), "a/b", "v1") == LE_EINVAL);
    CHECK(le_record_set(&E, T(1), "once", "\xff") == LE_EINVAL);
    CHECK(le_record_get(&E, "once", v, sizeof v) == -1);
    /* no annotations yet: they are added to metadata, by the next renew,
       which goes out at once */
    CHECK(le_record_set(&E, T(1), "once", "v1 \"q\"\n") == 0);
    r = send_at(&E, 1);
    HAS(r, "PUT ");
    HAS(body_of(r), "\"metadata\":{\"annotations\":{\"le.h/once\":\"v1 \\\"q\\\"\\u000a\"},\"name\":\"my-lock\"");
    CHECK(feed(&E, 2, http(200, NULL, lease_x("my-lock", "pod-a", 15, 0, "120",
                ",\"annotations\":{\"le.h/once\":\"v1 \\\"q\\\"\\n\"}", NULL))) == 0);
    CHECK(count(&LOG, LE_EV_RECORD_STORED) == 1);
    {
        const rec *rs = last(&LOG, LE_EV_RECORD_STORED);
        CHECK(rs && !strcmp(rs->key, "once") && !strcmp(rs->value, "v1 \"q\"\n"));
    }
    CHECK(le_record_get(&E, "once", v, sizeof v) == 7);
    CHECK(!strcmp(v, "v1 \"q\"\n"));
    CHECK(le_record_get(&E, "once", v, 4) == LE_ETOOBIG);
    /* existing annotations stay; ours replaces its old value */
    CHECK(le_record_set(&E, T(3), "once", "v2") == 0);
    CHECK(le_record_set(&E, T(3), "slot", "12:00") == 0);
    r = send_at(&E, 3);
    HAS(body_of(r), "\"annotations\":{\"le.h/once\":\"v2\",\"le.h/slot\":\"12:00\"}");
    LACKS(body_of(r), "\"v1 ");
    /* lost before it was stored: dropped, never stored */
    CHECK(feed(&E, 4, http(409, NULL, status(409, "Conflict", "x"))) == 0);
    send_at(&E, 4);
    CHECK(feed(&E, 4, http(200, NULL, lease("pod-b", 1, "130"))) == 0);
    CHECK(count(&LOG, LE_EV_STOPPED_LEADING) == 1 && count(&LOG, LE_EV_RECORD_STORED) == 1);
    CHECK(E.npend == 0);
    /* a follower reads what it observes; foreign annotations are kept */
    setup(&E, &LOG, "pod-c");
    send_at(&E, 0);
    feed(&E, 0, http(200, NULL, lease_x("my-lock", "pod-b", 15, 1, "131",
                ",\"annotations\":{\"note\":\"x\",\"le.h/once\":\"v9\"}", NULL)));
    CHECK(le_record_get(&E, "once", v, sizeof v) == 2 && !strcmp(v, "v9"));
    CHECK(le_record_get(&E, "note", v, sizeof v) == -1);
    /* take over, then record: the other annotation is sent back as it was */
    send_at(&E, 15000);
    feed(&E, 15000, http(200, NULL, lease_x("my-lock", "pod-b", 15, 1, "131",
                ",\"annotations\":{\"note\":\"x\",\"le.h/once\":\"v9\"}", NULL)));
    send_at(&E, 15000);
    feed(&E, 15001, http(200, NULL, lease_x("my-lock", "pod-c", 15, 2, "132",
                ",\"annotations\":{\"note\":\"x\",\"le.h/once\":\"v9\"}", NULL)));
    CHECK(le_is_leader(&E, 15001));
    /* set while a renew is in flight: the next write goes out at once */
    send_at(&E, 17001);
    CHECK(le_record_set(&E, T(17002), "once", "v10") == 0);
    feed(&E, 17003, http(200, NULL, lease_x("my-lock", "pod-c", 15, 2, "133",
                ",\"annotations\":{\"note\":\"x\",\"le.h/once\":\"v9\"}", NULL)));
    r = send_at(&E, 17003);
    HAS(body_of(r), "\"annotations\":{\"note\":\"x\",\"le.h/once\":\"v10\"}");
    /* le_stop() right after: the value goes out with the release */
    feed(&E, 17004, http(409, NULL, status(409, "Conflict", "x")));
    send_at(&E, 17004);
    feed(&E, 17004, http(200, NULL, lease_x("my-lock", "pod-c", 15, 2, "134",
                ",\"annotations\":{\"note\":\"x\",\"le.h/once\":\"v9\"}", NULL)));
    le_stop(&E, T(17005));
    r = send_at(&E, 17005);
    HAS(body_of(r), "\"holderIdentity\":\"\"");
    HAS(body_of(r), "\"le.h/once\":\"v10\"");
    feed(&E, 17006, http(200, NULL, lease_x("my-lock", "", 1, 2, "135",
                ",\"annotations\":{\"note\":\"x\",\"le.h/once\":\"v10\"}", NULL)));
    {
        const rec *rs = last(&LOG, LE_EV_RECORD_STORED);
        CHECK(count(&LOG, LE_EV_RECORD_STORED) == 1 && rs && !strcmp(rs->value, "v10"));
    }
    CHECK(le_next(&E, T(17006)).want == LE_WANT_CLOSE);
    st = le_get_stats(&E);
    CHECK(st.started == 1 && st.stopped == 1 && st.slowpath == 1);
    CHECK(st.last_renew_ms == 17001 && st.requests == 7); /* the 17003 renew met a conflict */
}

/* ---- the watch ------------------------------------------------------------------- */

static char WREQ[LE_WATCH_REQ_MAX + 1];
static char CHUNK[LE_BODY_MAX * 2 + 64];
/* A watch event as kube-apiserver streams it: one JSON line in one chunk. */
static const char *wev(const char *type, const char *obj) {
    static char ev[LE_BODY_MAX * 2];
    size_t n = (size_t)snprintf(ev, sizeof ev, "{\"type\":\"%s\",\"object\":%s", type, obj);
    while (n && (ev[n - 1] == '\n')) ev[--n] = 0;
    snprintf(ev + n, sizeof ev - n, "}\n");
    snprintf(CHUNK, sizeof CHUNK, "%zx\r\n%s\r\n", strlen(ev), ev);
    return CHUNK;
}
static const char WATCH_200[] = "HTTP/1.1 200 OK\r\nCache-Control: no-cache, private\r\n"
    "Content-Type: application/json\r\nDate: Tue, 24 Nov 2026 09:00:00 GMT\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";
static int wfeed(le_elector *e, int64_t t, const char *raw) {
    return le_watch_feed(e, T(t), raw, strlen(raw));
}
/* Expects the watch request at t; sends it; returns it. */
static const char *watch_at(le_elector *e, int64_t t) {
    le_action a = le_next(e, T(t));
    WREQ[0] = 0;
    if (!CHECK(a.watch == LE_WANT_SEND)) { fprintf(stderr, "  watch %d at %lld\n", (int)a.watch, (long long)t); return WREQ; }
    memcpy(WREQ, a.wdata, a.wlen);
    WREQ[a.wlen] = 0;
    le_watch_sent(e, T(t), a.wlen);
    return WREQ;
}
static void follower_watching(le_elector *e, const char *id) {
    WATCH = 1;
    setup(e, &LOG, id);
    WATCH = 0;
    send_at(e, 0);
    feed(e, 0, http(200, NULL, lease("pod-a", 3, "50")));
    watch_at(e, 0);
    CHECK(wfeed(e, 1, WATCH_200) == 0);
}

static void test_watch_follower(void) {
    le_action a;
    const char *w;
    le_stats st;
    WATCH = 1;
    setup(&E, &LOG, "pod-b");
    WATCH = 0;
    send_at(&E, 0);
    feed(&E, 0, http(200, NULL, lease("pod-a", 3, "50")));
    w = watch_at(&E, 0);
    HAS(w, "GET /apis/coordination.k8s.io/v1/namespaces/default/leases?allowWatchBookmarks=true"
           "&fieldSelector=metadata.name%3Dmy-lock&resourceVersion=50&timeoutSeconds=");
    HAS(w, "&watch=true HTTP/1.1\r\n");
    HAS(w, "\r\nAuthorization: Bearer tok123\r\n");
    /* until the watch is up the follower still polls */
    a = le_next(&E, T(1));
    CHECK(a.want == LE_WANT_WAIT && a.watch == LE_WANT_RECV && a.deadline == 2000);
    CHECK(wfeed(&E, 1, WATCH_200) == 0);
    CHECK(le_get_stats(&E).watching == 1);
    a = le_next(&E, T(1));
    /* no polling while events come; the next request is a GET only if they
       stop for 2.2 RetryPeriods (4.4 s) */
    CHECK(a.want == LE_WANT_WAIT && a.deadline == 4401);
    /* a renew arrives as an event: the expiry moves, and the silence limit */
    CHECK(wfeed(&E, 3000, wev("MODIFIED", lease("pod-a", 3, "51"))) == 0);
    a = le_next(&E, T(3000));
    CHECK(a.want == LE_WANT_WAIT && a.deadline == 7400);
    CHECK(E.next_at == 7400 && E.next_op == LE__NONE);
    /* a bookmark: no record change, a newer resourceVersion to resume from */
    CHECK(wfeed(&E, 4000, wev("BOOKMARK", "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"77\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}},\"spec\":{}}")) == 0);
    CHECK(le_next(&E, T(4000)).deadline == 7400);
    CHECK(!strcmp(E.w_rv, "77"));
    /* two events in one chunk, split at every byte: same outcome */
    {
        static char two[LE_BODY_MAX * 2], ev1[LE_BODY_MAX];
        size_t n, cut;
        int ok = 1;
        snprintf(ev1, sizeof ev1, "%s", wev("MODIFIED", lease("pod-a", 3, "52")));
        snprintf(two, sizeof two, "%s%s", ev1, wev("MODIFIED", lease("pod-a", 3, "53")));
        n = strlen(two);
        for (cut = 1; cut < n; cut += 3) {
            static le_elector c;
            c = E;
            c.wrx.http.data = &c.wrx;
            c.wrx.owner = &c;
            c.rx.http.data = &c.rx;
            if (le_watch_feed(&c, T(5000), two, cut) || le_watch_feed(&c, T(5000), two + cut, n - cut) ||
                le_next(&c, T(5000)).deadline != 9400 || le_get_stats(&c).watch_events != 4)
                ok = 0;
        }
        CHECK(ok);
        CHECK(wfeed(&E, 5000, two) == 0);
    }
    /* the leader releases: take it at once, with the object of the event */
    CHECK(wfeed(&E, 6000, wev("MODIFIED", lease_x("my-lock", "", 1, 3, "54", NULL, NULL))) == 0);
    {
        const char *r = send_at(&E, 6000);
        HAS(r, "PUT ");
        HAS(body_of(r), "\"resourceVersion\":\"54\"");
        HAS(body_of(r), "\"holderIdentity\":\"pod-b\"");
        HAS(body_of(r), "\"leaseTransitions\":4");
    }
    CHECK(feed(&E, 6002, http(200, NULL, lease("pod-b", 4, "55"))) == 0);
    CHECK(le_is_leader(&E, 6002) && le_term(&E) == 4);
    a = le_next(&E, T(6002));
    CHECK(a.watch == LE_WANT_CLOSE); /* the leader does not watch */
    a = le_next(&E, T(6002));
    CHECK(a.watch == 0 && a.want == LE_WANT_WAIT && a.deadline == 8002);
    st = le_get_stats(&E);
    CHECK(st.watching == 0 && st.watch_events == 5 && st.requests == 3);
}

/* A dead leader: no more events. After 2.2 RetryPeriods of silence the
   follower polls as without a watch (the stream may be the dead part); the
   unchanged record keeps its expiry, and the take-over is a PUT at it. A
   conflict means somebody wrote: read again; the watch that stayed silent
   through that write is restarted. */
static void test_watch_takeover_at_expiry(void) {
    const char *r;
    int polls = 0;
    int64_t t;
    follower_watching(&E, "pod-b");
    CHECK(wfeed(&E, 2000, wev("MODIFIED", lease("pod-a", 3, "51"))) == 0);
    CHECK(le_next(&E, T(6399)).want == LE_WANT_WAIT);
    HAS(send_at(&E, 6400), "GET ");
    CHECK(feed(&E, 6401, http(200, NULL, lease("pod-a", 3, "51"))) == 0);
    CHECK(le_next(&E, T(6401)).watch == LE_WANT_RECV); /* same version: kept */
    CHECK(count(&LOG, LE_EV_ERROR) == 0);
    /* polls every jittered RetryPeriod (2-4.4 s) until the expiry, 17 s */
    for (t = 6401; t < 17000; ) {
        le_action a = le_next(&E, T(t));
        if (a.want == LE_WANT_SEND) {
            CHECK(!strncmp(a.data, "GET ", 4));
            send_at(&E, t);
            feed(&E, t, http(200, NULL, lease("pod-a", 3, "51")));
            polls++;
            continue;
        }
        CHECK(a.want == LE_WANT_WAIT && a.deadline > t && a.deadline <= t + 4400);
        t = a.deadline < 17000 ? a.deadline : 17000;
    }
    CHECK(polls >= 2 && polls <= 5);
    r = send_at(&E, 17000);
    HAS(r, "PUT ");
    HAS(body_of(r), "\"resourceVersion\":\"51\"");
    CHECK(feed(&E, 17001, http(409, NULL, status(409, "Conflict", "the object has been modified"))) == 0);
    HAS(send_at(&E, 17001), "GET ");
    CHECK(feed(&E, 17002, http(200, NULL, lease("pod-a", 3, "60"))) == 0);
    HAS(last(&LOG, LE_EV_ERROR)->msg, "restarting the watch");
    CHECK(le_next(&E, T(17002)).watch == LE_WANT_CLOSE);
    HAS(watch_at(&E, 17002), "&resourceVersion=60&");
    CHECK(wfeed(&E, 17003, WATCH_200) == 0);
    CHECK(le_next(&E, T(17003)).deadline == 21403); /* trusted again */
}

/* A handover among watchers: all try the released Lease, one wins; the
   others' 409 needs no GET, since the winner's record comes as an event
   (the GET follows only if it does not come within 2.2 RetryPeriods). */
static void test_watch_conflict_no_get(void) {
    le_action a;
    le_stats st;
    follower_watching(&E, "pod-b");
    CHECK(wfeed(&E, 1000, wev("MODIFIED", lease_x("my-lock", "", 1, 3, "51", NULL, NULL))) == 0);
    HAS(send_at(&E, 1000), "PUT ");
    CHECK(feed(&E, 1003, http(409, NULL, status(409, "Conflict", "the object has been modified"))) == 0);
    a = le_next(&E, T(1003));
    CHECK(a.want == LE_WANT_WAIT && a.deadline > 1003 && a.deadline <= 1000 + 4400);
    /* the winner's write arrives: followed, still no request */
    CHECK(wfeed(&E, 1004, wev("MODIFIED", lease("pod-c", 4, "52"))) == 0);
    a = le_next(&E, T(1004));
    CHECK(a.want == LE_WANT_WAIT && a.deadline == 1004 + 4400);
    CHECK(!le_is_leader(&E, 1004));
    st = le_get_stats(&E);
    CHECK(st.requests == 3); /* the GET, the watch, the PUT */
    /* the event never comes: the GET at the silence limit finds the winner */
    follower_watching(&E, "pod-b");
    CHECK(wfeed(&E, 1000, wev("MODIFIED", lease_x("my-lock", "", 1, 3, "51", NULL, NULL))) == 0);
    HAS(send_at(&E, 1000), "PUT ");
    CHECK(feed(&E, 1003, http(409, NULL, status(409, "Conflict", "the object has been modified"))) == 0);
    a = le_next(&E, T(1003));
    HAS(send_at(&E, a.deadline), "GET ");
    CHECK(a.deadline <= 1000 + 4400);
    CHECK(feed(&E, a.deadline, http(200, NULL, lease("pod-c", 4, "52"))) == 0);
    CHECK(!le_is_leader(&E, a.deadline));
    /* a poll_only follower reads again at once, as client-go does */
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 0, http(200, NULL, lease_x("my-lock", "", 1, 3, "51", NULL, NULL)));
    HAS(send_at(&E, 0), "PUT ");
    CHECK(feed(&E, 3, http(409, NULL, status(409, "Conflict", "the object has been modified"))) == 0);
    HAS(send_at(&E, 3), "GET ");
}

/* A stream that dies with its connection up (a lost NAT entry): the leader
   renews once more, the event never comes, then the leader dies. The GET
   after the silence finds the missed renew: the watch is restarted and the
   expiry counts from that GET, as for a polling follower (LeaseDuration +
   2.2 RetryPeriods after the kill at most), not from the record the dead
   stream showed last (which a PUT at its expiry would meet with 409, and
   take over a LeaseDuration later still). */
static void test_watch_dead_stream(void) {
    le_action a;
    follower_watching(&E, "pod-b");
    CHECK(wfeed(&E, 2000, wev("MODIFIED", lease("pod-a", 3, "51"))) == 0);
    /* the leader renews at 4000 (rv 52, lost) and is killed at 4001 */
    HAS(send_at(&E, 6400), "GET ");
    CHECK(feed(&E, 6402, http(200, NULL, lease("pod-a", 3, "52"))) == 0);
    CHECK(last(&LOG, LE_EV_ERROR)->error == LE_ETIMEDOUT);
    HAS(last(&LOG, LE_EV_ERROR)->msg, "did not deliver");
    a = le_next(&E, T(6402));
    CHECK(a.watch == LE_WANT_CLOSE);
    HAS(watch_at(&E, 6402), "&resourceVersion=52&");
    CHECK(wfeed(&E, 6403, WATCH_200) == 0);
    /* the new stream is healthy and silent (the leader is dead): polls
       again after 4.4 s, then the take-over at 6402 + 15 s */
    HAS(send_at(&E, 10803), "GET ");
    CHECK(feed(&E, 10804, http(200, NULL, lease("pod-a", 3, "52"))) == 0);
    CHECK(le_next(&E, T(10804)).watch == LE_WANT_RECV);
    while (E.next_at < 21402) {
        int64_t t = E.next_at;
        HAS(send_at(&E, t), "GET ");
        feed(&E, t, http(200, NULL, lease("pod-a", 3, "52")));
    }
    CHECK(E.next_at == 21402 && E.next_op == LE__UPDATE);
    HAS(send_at(&E, 21402), "PUT ");
    CHECK(feed(&E, 21403, http(200, NULL, lease("pod-b", 4, "53"))) == 0);
    CHECK(le_is_leader(&E, 21403));
}

/* From t until `until`, the elector only waits: no request, no watch. */
static void no_watch_until(le_elector *e, int64_t t, int64_t until) {
    int n = 0;
    while (t < until && n++ < 100) {
        le_action a = le_next(e, T(t));
        if (!CHECK(a.want == LE_WANT_WAIT && (a.watch == 0 || a.watch == LE_WANT_CLOSE) &&
                   a.deadline > t)) {
            fprintf(stderr, "  at %lld: want %d watch %d deadline %lld\n", (long long)t,
                    (int)a.want, (int)a.watch, (long long)a.deadline);
            return;
        }
        t = a.deadline;
    }
    CHECK(t == until);
}

static void test_watch_deleted_and_gone(void) {
    follower_watching(&E, "pod-b");
    /* deleted: read it again at once, create it a LeaseDuration later */
    CHECK(wfeed(&E, 3000, wev("DELETED", lease("pod-a", 3, "51"))) == 0);
    {
        le_action a = le_next(&E, T(3000));
        CHECK(a.want == LE_WANT_SEND && !strncmp(a.data, "GET ", 4) && a.watch == LE_WANT_CLOSE);
    }
    send_at(&E, 3000);
    feed(&E, 3001, http(404, NULL, status(404, "NotFound", "not found")));
    /* and no watch meanwhile: from the object seen last it would bring the
       DELETED again (or 410), each time followed by a GET */
    no_watch_until(&E, 3001, 18000);
    CHECK(le_next(&E, T(17999)).want == LE_WANT_WAIT);
    HAS(send_at(&E, 18000), "POST "); /* a LeaseDuration after the deletion */
    /* 410 for a Lease deleted meanwhile: GET, 404, no watch until it exists */
    follower_watching(&E, "pod-b");
    CHECK(wfeed(&E, 3000, wev("ERROR", "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: 50 (70)\",\"reason\":\"Expired\",\"code\":410}")) == 0);
    HAS(send_at(&E, 3000), "GET ");
    feed(&E, 3001, http(404, NULL, status(404, "NotFound", "not found")));
    no_watch_until(&E, 3001, 18001);
    HAS(send_at(&E, 18001), "POST ");
    CHECK(feed(&E, 18002, http(201, NULL, lease("pod-b", 0, "90"))) == 0);
    CHECK(le_is_leader(&E, 18002));
    /* 410 Gone as an event: GET, then a new watch from the new version */
    follower_watching(&E, "pod-b");
    CHECK(wfeed(&E, 3000, wev("ERROR", "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: 50 (70)\",\"reason\":\"Expired\",\"code\":410}")) == 0);
    HAS(send_at(&E, 3000), "GET ");
    feed(&E, 3001, http(200, NULL, lease("pod-a", 3, "71")));
    HAS(watch_at(&E, 3001), "&resourceVersion=71&");
    /* 410 as the watch's status: the same */
    follower_watching(&E, "pod-b");
    le_watch_error(&E, T(2), LE_EIO, "reset");
    CHECK(le_next(&E, T(2)).watch == LE_WANT_CLOSE);
    watch_at(&E, 4000); /* after the backoff, 1-2 s */
    CHECK(wfeed(&E, 4001, http(410, NULL, status(410, "Expired", "too old resource version"))) == 0);
    HAS(send_at(&E, 4001), "GET ");
}

/* No list/watch permission: one event naming the verbs and the rule, then
   polling like client-go. */
static void test_watch_forbidden(void) {
    le_action a;
    WATCH = 1;
    setup(&E, &LOG, "pod-b");
    WATCH = 0;
    send_at(&E, 0);
    feed(&E, 0, http(200, NULL, lease("pod-a", 3, "50")));
    watch_at(&E, 0);
    CHECK(wfeed(&E, 1, http(403, NULL, status(403, "Forbidden", "leases.coordination.k8s.io is forbidden: User \\\"x\\\" cannot watch resource \\\"leases\\\""))) == 0);
    CHECK(count(&LOG, LE_EV_ERROR) == 1);
    HAS(last(&LOG, LE_EV_ERROR)->msg, "'list' and 'watch'");
    HAS(last(&LOG, LE_EV_ERROR)->msg, "resourceNames: [\"my-lock\"]");
    a = le_next(&E, T(1));
    CHECK(a.watch == 0 || a.watch == LE_WANT_CLOSE);
    a = le_next(&E, T(1));
    CHECK(a.want == LE_WANT_WAIT && a.deadline == 2000 && a.watch == 0); /* polls */
    send_at(&E, 2000);
    feed(&E, 2000, http(200, NULL, lease("pod-a", 3, "51")));
    CHECK(le_next(&E, T(2000)).watch == 0);
    /* tried again after a while; a second refusal says nothing new */
    watch_at(&E, 600001);
    wfeed(&E, 600002, http(403, NULL, status(403, "Forbidden", "no")));
    CHECK(count(&LOG, LE_EV_ERROR) == 1);
    /* a follower whose watch worked before (an API server restarted, its
       authorizer not ready yet): the watch is tried again within 30 s */
    follower_watching(&E, "pod-b");
    le_watch_error(&E, T(5), LE_EIO, "reset");
    CHECK(le_next(&E, T(5)).watch == LE_WANT_CLOSE);
    watch_at(&E, 2000);
    CHECK(wfeed(&E, 2001, http(403, NULL, status(403, "Forbidden", "no"))) == 0);
    HAS(last(&LOG, LE_EV_ERROR)->msg, "retried in 30 s if a watch worked before");
    CHECK(le_next(&E, T(2001)).watch == LE_WANT_CLOSE);
    CHECK(E.w_next_at > 2001 && E.w_next_at <= 2001 + 30000);
    watch_at(&E, E.w_next_at);
    /* poll_only: never a watch */
    setup(&E, &LOG, "pod-c");
    send_at(&E, 0);
    feed(&E, 0, http(200, NULL, lease("pod-a", 3, "50")));
    CHECK(le_next(&E, T(0)).watch == 0);
}

/* Silence past the bookmark interval restarts the watch; the server ending
   it resumes from the last version seen. */
static void test_watch_silence_and_end(void) {
    le_action a;
    follower_watching(&E, "pod-b");
    CHECK(wfeed(&E, 2000, wev("MODIFIED", lease("pod-a", 3, "51"))) == 0);
    a = le_next(&E, T(2000));
    CHECK(a.deadline == 6400);
    /* the leader renews: events keep it fresh */
    CHECK(wfeed(&E, 60000, wev("MODIFIED", lease("pod-a", 3, "52"))) == 0);
    a = le_next(&E, T(134999));
    CHECK(a.watch == LE_WANT_RECV);
    a = le_next(&E, T(135000)); /* 75 s after the last event */
    CHECK(a.watch == LE_WANT_CLOSE);
    HAS(last(&LOG, LE_EV_ERROR)->msg, "silent for 75 s");
    HAS(watch_at(&E, 135000), "&resourceVersion=52&");
    /* the end of the stream: a new watch at once, on the same connection */
    CHECK(wfeed(&E, 135001, WATCH_200) == 0);
    CHECK(wfeed(&E, 135002, wev("BOOKMARK", "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"90\"},\"spec\":{}}")) == 0);
    CHECK(wfeed(&E, 135003, "0\r\n\r\n") == 0);
    HAS(watch_at(&E, 135003), "&resourceVersion=90&");
    /* garbage in the stream: an error, a restart later */
    CHECK(wfeed(&E, 135004, WATCH_200) == 0);
    CHECK(wfeed(&E, 135005, "5\r\nhello\r\n") == 0);
    CHECK(last(&LOG, LE_EV_ERROR)->error == LE_EPROTO);
    CHECK(le_next(&E, T(135005)).watch == LE_WANT_CLOSE);
    /* an event whose Lease is another one: refused, restarted */
    watch_at(&E, 140000);
    CHECK(wfeed(&E, 140001, WATCH_200) == 0);
    CHECK(wfeed(&E, 140002, wev("MODIFIED", lease_x("other", "pod-x", 15, 1, "91", NULL, NULL))) == 0);
    CHECK(last(&LOG, LE_EV_ERROR)->error == LE_ELEASE);
    CHECK(strcmp(le_leader(&E), "pod-x") != 0);
}

/* A follower reads records from watch events. */
static void test_watch_records(void) {
    char v[32];
    follower_watching(&E, "pod-b");
    CHECK(wfeed(&E, 2000, wev("MODIFIED", lease_x("my-lock", "pod-a", 15, 3, "51",
                  ",\"annotations\":{\"le.h/once\":\"v3\"}", NULL))) == 0);
    CHECK(le_record_get(&E, "once", v, sizeof v) == 2 && !strcmp(v, "v3"));
}

/* A Lease deleted while another replica holds it: that holder believes it
   leads until its deadline, and a follower's view of who that is may be
   stale, so a follower that saw the Lease creates it again only a
   LeaseDuration after it learnt of the deletion. */
static void test_deleted_under_other_holder(void) {
    le_action a;
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 0, http(200, NULL, lease("pod-a", 4, "40")));
    send_at(&E, 3000);
    feed(&E, 3000, http(404, NULL, status(404, "NotFound", "not found")));
    a = le_next(&E, T(3000));
    CHECK(a.want == LE_WANT_WAIT && a.deadline == 18000);
    CHECK(le_next(&E, T(17999)).want == LE_WANT_WAIT);
    HAS(send_at(&E, 18000), "POST ");
    CHECK(feed(&E, 18001, http(201, NULL, lease("pod-b", 0, "41"))) == 0);
    CHECK(le_is_leader(&E, 18001) && le_term(&E) == 0);
    /* the same through a watch: DELETED, GET, 404, create at expiry */
    follower_watching(&E, "pod-b");
    CHECK(wfeed(&E, 5000, wev("DELETED", lease("pod-a", 3, "51"))) == 0);
    HAS(send_at(&E, 5000), "GET ");
    feed(&E, 5001, http(404, NULL, status(404, "NotFound", "not found")));
    CHECK(le_next(&E, T(5001)).want == LE_WANT_WAIT);
    CHECK(le_next(&E, T(19999)).want == LE_WANT_WAIT);
    HAS(send_at(&E, 20000), "POST ");
    /* replaced by a new object (another uid) with no holder, at once (a
       kubectl replace --force): the same wait before taking it */
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    feed(&E, 0, http(200, NULL, lease("pod-a", 4, "40")));
    send_at(&E, 3000);
    {
        static char other[LE_BODY_MAX];
        char *u;
        snprintf(other, sizeof other, "%s", lease_x("my-lock", "", 1, 0, "44", NULL, NULL));
        u = strstr(other, "8a1d8a52");
        if (u) memcpy(u, "9b2e9b63", 8);
        feed(&E, 3000, http(200, NULL, other));
    }
    CHECK(le_next(&E, T(3000)).want == LE_WANT_WAIT);
    HAS(send_at(&E, 18000), "PUT ");
    /* le_stop() while a watch brings another holder's record: no release of
       a Lease that is not ours */
    follower_watching(&E, "pod-b");
    CHECK(wfeed(&E, 2000, wev("MODIFIED", lease_x("my-lock", "", 1, 3, "52", NULL, NULL))) == 0);
    HAS(send_at(&E, 2000), "PUT ");
    feed(&E, 2001, http(200, NULL, lease("pod-b", 4, "53")));
    CHECK(le_is_leader(&E, 2001));
    le_stop(&E, T(2002));
    {
        /* a record of another holder arrives (as a late read would bring it) */
        le__record r;
        le__objinfo oi;
        static char b2[LE_BODY_MAX];
        snprintf(b2, sizeof b2, "%s", lease("pod-c", 5, "54"));
        CHECK(le__parse_lease(&E, b2, strlen(b2), &r, &oi, 2002) == 0);
        memcpy(E.buf[E.wbuf], b2, oi.len);
        le__accept(&E, 2002, &E.wbuf, &r, &oi);
    }
    {
        le_action a2 = le_next(&E, T(2002));
        CHECK(a2.want == LE_WANT_CLOSE || a2.want == LE_WANT_DONE);
        if (a2.want == LE_WANT_CLOSE) a2 = le_next(&E, T(2002));
        CHECK(a2.want == LE_WANT_DONE);
    }
    /* a PUT answered 201 (the server re-created the Lease from it) counts */
    setup(&E, &LOG, "pod-a");
    become_leader(&E, 0, "pod-a");
    send_at(&E, 2000);
    CHECK(feed(&E, 2001, http(201, NULL, lease("pod-a", 0, "9"))) == 0);
    CHECK(le_is_leader(&E, 11999));
}

/* jsmn takes members without a comma ({"a":1 "b":2}); such a Lease is
   refused as malformed JSON (sent back it would not even be JSON). */
static void test_json_separators(void) {
    static const char *bad[] = {
        "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"8\"},\"spec\":{\"x\":{}\"y\":{}}}",
        "{\"kind\":\"Lease\" \"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"8\"},\"spec\":{}}",
        "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"8\"},\"spec\":{\"x\":[1 2]}}",
        "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"my-lock\",\"resourceVersion\":\"8\"},\"spec\":{\"x\":[1,,2]}}",
        NULL};
    int i;
    for (i = 0; bad[i]; i++) {
        setup(&E, &LOG, "pod-b");
        send_at(&E, 0);
        CHECK(feed(&E, 0, http(200, NULL, bad[i])) == LE_EJSON);
        CHECK(le_next(&E, T(0)).want == LE_WANT_WAIT); /* no write built from it */
    }
    setup(&E, &LOG, "pod-b");
    send_at(&E, 0);
    CHECK(feed(&E, 0, http(200, NULL, "{ \"kind\" : \"Lease\" ,\"metadata\":{\"name\":\"my-lock\",\n\"resourceVersion\":\"8\"},\"spec\":{\"x\":[1 , 2],\"holderIdentity\":\"\"}}")) == 0);
    HAS(body_of(send_at(&E, 0)), "\"leaseTransitions\":1,\"x\":[1 , 2]}");
}

int main(void) {
    test_acquire_on_404();
    test_follow();
    test_jitter();
    test_takeover_after_expiry();
    test_free_lease();
    test_conflict_on_takeover();
    test_create_conflict();
    test_fast_path_renew_and_foreign_fields();
    test_renew_deadline();
    test_timeouts();
    test_release();
    test_lost_to_other();
    test_deleted_under_leader();
    test_restart_same_identity();
    test_recreated_new_term();
    test_every_split();
    test_connection_handling();
    test_bad_replies();
    test_bad_fields();
    test_status_errors();
    test_config_validation();
    test_microtime();
    test_ordinal();
    test_two_electors();
    test_reentry();
    test_recorded_replies();
    test_io_error_closes();
    test_renew_time_always_changes();
    test_long_holder();
    test_many_foreign_fields();
    test_extra_fields_restart_expiry();
    test_late_reply_is_timeout();
    test_timeout_bound_and_term_limit();
    test_write_reply_must_match();
    test_retry_after_bounds();
    test_holder_with_nul();
    test_header_limits();
    test_size_messages();
    test_records();
    test_watch_follower();
    test_watch_takeover_at_expiry();
    test_watch_conflict_no_get();
    test_watch_dead_stream();
    test_watch_deleted_and_gone();
    test_watch_forbidden();
    test_watch_silence_and_end();
    test_watch_records();
    test_deleted_under_other_holder();
    test_json_separators();
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
