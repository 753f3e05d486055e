/* The cost of one renew cycle through the core: build the PUT, take the
   reply (HTTP framing + JSON + state machine). No network: the reply is
   the one kube-apiserver sends for a renew, in its exact format; like the
   real one it shows the write (the renewTime sent, a new resourceVersion),
   which the loop copies in (two small copies per cycle).
   Also counts heap allocations during the cycles (expected: 0). */
#define _POSIX_C_SOURCE 200809L
#define LE_IMPLEMENTATION
#include "le.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Count every allocation the process makes while the loop runs. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static long allocs;
void *malloc(size_t n) { allocs++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { allocs++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { allocs++; return __libc_realloc(p, n); }

static const char BODY[] =
    "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":"
    "\"bench\",\"namespace\":\"default\",\"uid\":\"f3b1f1c2-8e0e-4a54-9a57-1c1f0a3e2b6d\","
    "\"resourceVersion\":\"10048213\",\"creationTimestamp\":\"2026-11-24T09:00:00Z\","
    "\"managedFields\":[{\"manager\":\"le.h\",\"operation\":\"Update\",\"apiVersion\":"
    "\"coordination.k8s.io/v1\",\"time\":\"2026-11-24T09:10:00Z\",\"fieldsType\":"
    "\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\"f:acquireTime\":{},\"f:holderIdentity\":{},"
    "\"f:leaseDurationSeconds\":{},\"f:leaseTransitions\":{},\"f:renewTime\":{}}}}]},"
    "\"spec\":{\"holderIdentity\":\"bench-0\",\"leaseDurationSeconds\":15,\"acquireTime\":"
    "\"2026-11-24T09:00:00.000000Z\",\"renewTime\":\"2026-11-24T09:10:00.123456Z\","
    "\"leaseTransitions\":3}}\n";

static int64_t ns_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static le_elector E;

/* Puts the renewTime of the request (27 characters: six fractional digits
   and Z) and resourceVersion rv (8 digits) into the reply, in place. */
static int show_write(char *rt_at, char *rv_at, const char *req, size_t n, long rv) {
    static const char key[] = "\"renewTime\":\"";
    static size_t at; /* where it was last time: the requests look alike */
    const char *p = 0;
    size_t k;
    int i;
    if (at + sizeof key - 1 <= n && !memcmp(req + at, key, sizeof key - 1)) p = req + at;
    for (k = 0; !p && k + sizeof key - 1 <= n; k++)
        if (req[k] == '"' && !memcmp(req + k, key, sizeof key - 1)) p = req + (at = k);
    if (!p || (size_t)(p - req) + sizeof key - 1 + 28 > n || p[sizeof key - 1 + 27] != '"')
        return -1;
    memcpy(rt_at, p + sizeof key - 1, 27);
    for (i = 7; i >= 0; i--, rv /= 10) rv_at[i] = (char)('0' + rv % 10);
    return 0;
}

int main(int argc, char **argv) {
    static char reply[4096];
    le_config c;
    le_time t;
    long i, n = argc > 1 ? atol(argv[1]) : 200000, before;
    size_t req_bytes = 0;
    int64_t t0, t1;
    char *rt_at, *rv_at;
    int len = snprintf(reply, sizeof reply,
                       "HTTP/1.1 200 OK\r\nAudit-Id: 0b6f0a6c-7a43-4c11-9a3b-2d0e4f5a6b7c\r\n"
                       "Cache-Control: no-cache, private\r\nContent-Type: application/json\r\n"
                       "X-Kubernetes-Pf-Flowschema-Uid: 1d7c3a52-5b4e-4c3f-8a7d-6e5f4a3b2c1d\r\n"
                       "X-Kubernetes-Pf-Prioritylevel-Uid: 2e8d4b63-6c5f-4d40-9b8e-7f6a5b4c3d2e\r\n"
                       "Date: Tue, 24 Nov 2026 09:10:00 GMT\r\nContent-Length: %zu\r\n\r\n%s",
                       sizeof BODY - 1, BODY);
    rt_at = strstr(reply, "\"renewTime\":\"") + 13;
    rv_at = strstr(reply, "\"resourceVersion\":\"") + 19;
    memset(&c, 0, sizeof c);
    c.ns = "default"; c.name = "bench"; c.identity = "bench-0";
    c.token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpiZW5jaCJ9.c2lnbmF0dXJl";
    if (le_init(&E, &c)) { fprintf(stderr, "%s\n", le_errmsg(&E)); return 1; }
    /* become leader: GET -> the Lease already held by this identity -> PUT */
    t.mono_ms = 0; t.wall_us = 1795000000000000LL;
    for (i = 0; i < 2; i++) {
        le_action a = le_next(&E, t);
        le_sent(&E, t, a.len);
        if (i == 1 && show_write(rt_at, rv_at, a.data, a.len, 10048214)) {
            fprintf(stderr, "no renewTime in the request\n");
            return 1;
        }
        le_feed(&E, t, reply, (size_t)len);
    }
    if (!le_is_leader(&E, 0)) { fprintf(stderr, "not leader: %s\n", le_errmsg(&E)); return 1; }
    before = allocs;
    t0 = ns_now();
    for (i = 0; i < n; i++) {
        le_action a;
        t.mono_ms += 2000; /* one renew every RetryPeriod */
        t.wall_us += 2000000;
        a = le_next(&E, t);
        if (a.want != LE_WANT_SEND) { fprintf(stderr, "cycle %ld: want %d\n", i, (int)a.want); return 1; }
        req_bytes = a.len;
        le_sent(&E, t, a.len);
        if (show_write(rt_at, rv_at, a.data, a.len, 10048215 + i)) {
            fprintf(stderr, "cycle %ld: no renewTime in the request\n", i);
            return 1;
        }
        if (le_feed(&E, t, reply, (size_t)len) || !le_is_leader(&E, t.mono_ms)) {
            fprintf(stderr, "cycle %ld: %s\n", i, le_errmsg(&E));
            return 1;
        }
    }
    t1 = ns_now();
    before = allocs - before; /* before printf, which allocates its buffer */
    printf("core renew cycle (build PUT %zu B + parse %d B reply): %.2f us/cycle over %ld cycles, "
           "%ld heap allocations; elector size %zu B\n",
           req_bytes, len, (double)(t1 - t0) / 1000.0 / (double)n, n, before, sizeof E);
    return before ? 1 : 0;
}
