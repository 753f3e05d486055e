/* Hostile replies: arbitrary bytes as the reply to each kind of request.
   Built two ways: as a libFuzzer target (clang -fsanitize=fuzzer
   -DLE_LIBFUZZER), and as a standalone driver that mutates recorded replies
   with a fixed seed (run by `make test` under ASan + UBSan).
   Invariants: no crash, no memory error; a reply to a GET never makes the
   elector lead; after any input the elector still answers le_next() with a
   sane action and a deadline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LE_IMPLEMENTATION
#include "le.h"

static le_elector E;

static void bad(const char *what) {
    fprintf(stderr, "fuzz: invariant broken: %s\n", what);
    abort();
}

static le_time at(int64_t ms) {
    le_time t;
    t.mono_ms = ms;
    t.wall_us = 1790000000000000LL + ms * 1000;
    return t;
}

static const char OURS_BODY[] =
    "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":\"f\","
    "\"namespace\":\"default\",\"resourceVersion\":\"7\"},\"spec\":{\"holderIdentity\":\"me\","
    "\"leaseDurationSeconds\":15,\"leaseTransitions\":2,\"renewTime\":null}}";
static char LEASE_OURS[512];

/* Puts the elector in front of a reply to: 0 GET, 1 POST, 2 PUT (renew). */
static int prepare(int kind) {
    le_config c;
    le_action a;
    memset(&c, 0, sizeof c);
    c.ns = "default"; c.name = "f"; c.identity = "me";
    if (le_init(&E, &c)) bad("init");
    a = le_next(&E, at(0));
    le_sent(&E, at(0), a.len);
    if (kind == 0) return 0;
    if (kind == 1) {
        static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}";
        le_feed(&E, at(1), nf, sizeof nf - 1);
    } else {
        le_feed(&E, at(1), LEASE_OURS, strlen(LEASE_OURS)); /* held by us: PUT */
    }
    a = le_next(&E, at(1));
    if (a.want != LE_WANT_SEND) bad("no request after setup");
    le_sent(&E, at(1), a.len);
    return 0;
}

static void one(const uint8_t *data, size_t n) {
    int kind = n ? data[0] % 3 : 0;
    size_t i, step;
    le_action a;
    prepare(kind);
    if (n) { data++; n--; }
    /* feed in pieces whose sizes come from the input itself */
    step = n ? (size_t)(data[0] % 7) + 1 : 1;
    for (i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        le_feed(&E, at(2), data + i, k);
    }
    if (n && data[n - 1] & 1) le_feed(&E, at(2), NULL, 0);
    if (kind == 0 && le_is_leader(&E, 2)) bad("a GET reply made it lead");
    a = le_next(&E, at(3));
    if (a.want < LE_WANT_WAIT || a.want > LE_WANT_DONE) bad("bad action");
    if (a.want == LE_WANT_SEND && (a.len == 0 || a.len > LE_REQ_MAX)) bad("bad request size");
    if (a.deadline < 3 && a.want != LE_WANT_CLOSE && a.want != LE_WANT_SEND) bad("deadline in the past");
    if (le_is_leader(&E, 2) && strcmp(le_leader(&E), "me")) bad("leads while another holds it");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (!LEASE_OURS[0])
        snprintf(LEASE_OURS, sizeof LEASE_OURS, "HTTP/1.1 200 OK\r\nContent-Type: "
                 "application/json\r\nContent-Length: %zu\r\n\r\n%s", sizeof OURS_BODY - 1, OURS_BODY);
    one(data, n);
    return 0;
}

#ifndef LE_LIBFUZZER
static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void) {
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (uint32_t)rs;
}

int main(int argc, char **argv) {
    static const char *const seeds[] = {
        LEASE_OURS,
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"kind\":\"Lease\",\r\n"
        "b4\r\n\"metadata\":{\"name\":\"f\",\"resourceVersion\":\"8\"},\"spec\":{\"holderIdentity\":"
        "\"me\",\"leaseDurationSeconds\":15,\"acquireTime\":\"2026-01-02T03:04:05.123456Z\","
        "\"renewTime\":\"2026-01-02T03:04:05.123456Z\",\"leaseTransitions\":0}}\r\n0\r\n\r\n",
        "HTTP/1.1 409 Conflict\r\nContent-Length: 75\r\n\r\n{\"kind\":\"Status\",\"apiVersion\":"
        "\"v1\",\"message\":\"x\",\"reason\":\"Conflict\",\"code\":409}",
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 2\r\n\r\n{}",
        NULL};
    static uint8_t buf[8192];
    long iters = argc > 1 ? atol(argv[1]) : 200000, i;
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0); /* formats LEASE_OURS */
    for (i = 0; i < iters; i++) {
        const char *s = seeds[rnd() % 4];
        size_t n = strlen(s), k, edits = 1 + rnd() % 8;
        if (n + 1 > sizeof buf - 64) n = sizeof buf - 65;
        buf[0] = (uint8_t)rnd();
        memcpy(buf + 1, s, n);
        n++;
        for (k = 0; k < edits; k++) {
            size_t p = 1 + rnd() % (n - 1);
            switch (rnd() % 5) {
            case 0: buf[p] = (uint8_t)rnd(); break;                       /* replace */
            case 1: buf[p] ^= (uint8_t)(1u << (rnd() % 8)); break;         /* flip */
            case 2: n = p; break;                                           /* truncate */
            case 3: if (n < sizeof buf - 1) { memmove(buf + p + 1, buf + p, n - p); buf[p] = "{}[]\",:0-\\"[rnd() % 10]; n++; } break;
            case 4: if (n > 2) { memmove(buf + p, buf + p + 1, n - p - 1); n--; } break;
            }
            if (n < 2) break;
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz: 1 passed, 0 failed (%ld mutated replies, no invariant broken)\n", iters);
    return 0;
}
#endif
