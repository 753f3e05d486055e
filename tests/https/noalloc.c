/* noalloc.c - a whole elector process without malloc after start.

   Built only against an mbedTLS with MBEDTLS_MEMORY_BUFFER_ALLOC_C (the 3.6
   from tools/mbedtls/build.sh; Debian's 2.28 lacks it). Every mbedTLS
   allocation, and the transport's own init-time buffers, come from a static
   array given to mbedtls_memory_buffer_alloc_init() before le_https_init().
   tests/https/malloc_count.c counts the process's real malloc/calloc/realloc
   calls: from the first leadership on, through renews, a dropped connection
   with a new TLS handshake, and the release, there must be none.

   Needs LE_SERVER, LE_CA, LE_USER_TOKEN_FILE (tests/https/run.sh). */
#define _POSIX_C_SOURCE 200809L
#define LE_IMPLEMENTATION
#define LE_HTTPS
#include "le.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/memory_buffer_alloc.h>

#ifdef __cplusplus
extern "C" {
#endif
void le_test_count_start(void);
unsigned long le_test_count_stop(void);
#ifdef __cplusplus
}
#endif

static unsigned char heap[256 * 1024];
static size_t heap_len = 128 * 1024;
static le_https t;
static le_elector e;
static int leading, stops, errors;

static void on_event(void *user, const le_event *ev) {
    (void)user;
    if (ev->type == LE_EV_STARTED_LEADING) leading = 1;
    if (ev->type == LE_EV_STOPPED_LEADING) { leading = 0; stops++; }
    if (ev->type == LE_EV_ERROR) errors++;
}

/* Drives e for ms, or until done; returns 1 when done. */
static int drive(int64_t ms, int until_leading) {
    int64_t end = le_clock().mono_ms + ms;
    for (;;) {
        le_time now = le_clock();
        le_step s;
        struct pollfd p[2];
        int n = 0;
        if (now.mono_ms >= end || (until_leading && leading)) return 0;
        s = le_https_step(&t, &e, now);
        if (s.done) return 1;
        if (s.fd >= 0) { p[n].fd = s.fd; p[n].events = s.events; p[n].revents = 0; n++; }
        if (s.wfd >= 0) { p[n].fd = s.wfd; p[n].events = s.wevents; p[n].revents = 0; n++; }
        poll(p, (nfds_t)n,
             le_timeout_ms(s.deadline < end ? s.deadline : end,
                           le_clock().mono_ms));
    }
}

int main(void) {
    le_https_config hc;
    le_config c;
    unsigned long mallocs;
    uint64_t req0, conn0;
    int done, ok;
    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    hc.server = getenv("LE_SERVER");
    hc.ca_file = getenv("LE_CA");
    hc.token_file = getenv("LE_USER_TOKEN_FILE");
    if (!hc.server || !hc.ca_file || !hc.token_file) {
        fprintf(stderr, "noalloc: LE_SERVER, LE_CA, LE_USER_TOKEN_FILE needed\n");
        return 2;
    }
    if (getenv("LE_NOALLOC_KB")) /* to find the smallest heap that works */
        heap_len = (size_t)atoi(getenv("LE_NOALLOC_KB")) * 1024;
    if (heap_len > sizeof heap) heap_len = sizeof heap;
    printf("noalloc: %s, %u KB static heap for mbedTLS\n",
           MBEDTLS_VERSION_STRING_FULL, (unsigned)(heap_len / 1024));
    fflush(stdout);
    mbedtls_memory_buffer_alloc_init(heap, heap_len);

    c.ns = "default";
    c.name = "noalloc";
    c.identity = "noalloc-0";
    c.lease_duration_ms = 2000;
    c.renew_deadline_ms = 1500;
    c.retry_period_ms = 200;
    c.on_event = on_event;
    if (le_https_init(&t, &hc, &c) || le_init(&e, &c)) {
        printf("FAIL noalloc: init: %s\n", le_https_errmsg(&t));
        return 1;
    }
    drive(5000, 1);
    if (!leading) {
        printf("FAIL noalloc: never led\n");
        return 1;
    }
    req0 = t.stats.requests;
    conn0 = t.stats.connects;
    le_test_count_start(); /* from here on: no malloc at all */
    drive(2000, 0);
    {   /* between two renews, reconnect: TCP + a full TLS handshake */
        uint64_t r = t.stats.requests;
        while (t.stats.requests == r) drive(5, 0);
        drive(60, 0);
    }
    le_https_close(&t, &e, le_clock());
    drive(2000, 0);
    {   /* stop between two renews: a stop with a renew in flight abandons
           it and releases on a new connection, a second handshake */
        uint64_t r = t.stats.requests;
        while (t.stats.requests == r) drive(5, 0);
        drive(60, 0);
    }
    le_stop(&e, le_clock());
    done = drive(3000, 0);
    mallocs = le_test_count_stop();
    printf("  after the first leadership: %lu malloc/calloc/realloc calls over "
           "%llu requests, %llu new connection(s) with TLS handshake, and the "
           "release\n", mallocs, (unsigned long long)(t.stats.requests - req0),
           (unsigned long long)(t.stats.connects - conn0));
    ok = mallocs == 0 && done && stops == 1 && errors == 0 &&
         t.stats.connects - conn0 == 1 && t.stats.requests - req0 >= 10;
    printf("%s noalloc: no malloc after start with mbedtls_memory_buffer_alloc "
           "(renews, a reconnect, the release)\n", ok ? "PASS" : "FAIL");
    le_https_free(&t);
    le_https_global_free();
    mbedtls_memory_buffer_alloc_free();
    printf("%d passed, %d failed\n", ok, !ok);
    return ok ? 0 : 1;
}
