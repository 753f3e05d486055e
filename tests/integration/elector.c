/* le-elector: one le.h replica for the integration tests and benchmarks.
   Runs le_run() through the bundled HTTPS transport and prints each event
   as a JSON line stamped with CLOCK_MONOTONIC (ns), the same format as
   tools/kube's client-go peer, so both can be checked together.
   SIGTERM/SIGINT: stop leading, release the Lease, exit 0.
   --print-stats 1 adds a "stats" line (le_get_stats: requests, watch
   events, watching, last renew) whenever one of those changes; it is seen
   between le_run's steps, so a change shows at the step after it. */
#define _POSIX_C_SOURCE 200809L
#define LE_IMPLEMENTATION
#define LE_HTTPS
#include "le.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static le_cancel stop;
static const char *ident = "";

static void on_signal(int s) {
    (void)s;
    le_cancel_fire(&stop);
}

static long long mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* JSON string: the strings here are identities and messages we control or
   cleaned server text; escape what JSON requires. */
static size_t jstr(char *o, size_t cap, const char *s) {
    size_t n = 0;
    if (cap < 3) return 0;
    o[n++] = '"';
    for (; *s && n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { o[n++] = '\\'; o[n++] = (char)c; }
        else if (c < 0x20) n += (size_t)snprintf(o + n, cap - n, "\\u%04x", c);
        else o[n++] = (char)c;
    }
    o[n++] = '"';
    o[n] = 0;
    return n;
}

static void line(const char *ev, const char *extra) {
    char buf[2048], id[600];
    int n;
    jstr(id, sizeof id, ident);
    n = snprintf(buf, sizeof buf, "{\"t\":%lld,\"id\":%s,\"ev\":\"%s\"%s}\n", mono_ns(), id, ev,
                 extra ? extra : "");
    if (n > 0 && write(1, buf, (size_t)n) < 0) { /* nothing to do */ }
}

static void on_event(void *user, const le_event *ev) {
    char extra[2600], s[1200];
    (void)user;
    switch (ev->type) {
    case LE_EV_STARTED_LEADING:
        snprintf(extra, sizeof extra, ",\"term\":%lld", (long long)ev->term);
        line("started", extra);
        break;
    case LE_EV_STOPPED_LEADING:
        snprintf(extra, sizeof extra, ",\"term\":%lld,\"reason\":%d", (long long)ev->term, (int)ev->reason);
        line("stopped", extra);
        break;
    case LE_EV_NEW_LEADER:
        jstr(s, sizeof s, ev->leader);
        snprintf(extra, sizeof extra, ",\"leader\":%s", s);
        line("new_leader", extra);
        break;
    case LE_EV_RECORD_STORED: {
        char v[600];
        jstr(s, sizeof s, ev->key);
        jstr(v, sizeof v, ev->value);
        snprintf(extra, sizeof extra, ",\"key\":%s,\"value\":%s", s, v);
        line("record", extra);
        break;
    }
    case LE_EV_ERROR:
        jstr(s, sizeof s, ev->message);
        snprintf(extra, sizeof extra, ",\"error\":%d,\"status\":%d,\"err\":%s", ev->error, ev->status, s);
        line("error", extra);
        break;
    }
}

/* --print-stats: the counters as last printed */
static le_stats shown;

static int64_t on_tick(void *user, le_elector *e, le_time now) {
    char extra[300];
    le_stats s = le_get_stats(e);
    (void)user;
    (void)now;
    if (s.requests != shown.requests || s.watch_events != shown.watch_events ||
        s.watching != shown.watching || s.last_renew_ms != shown.last_renew_ms) {
        snprintf(extra, sizeof extra,
                 ",\"requests\":%llu,\"watch_events\":%llu,\"watching\":%d,"
                 "\"slowpath\":%llu,\"last_renew_ms\":%lld",
                 (unsigned long long)s.requests, (unsigned long long)s.watch_events, s.watching,
                 (unsigned long long)s.slowpath,
                 s.last_renew_ms == INT64_MIN ? -1LL : (long long)s.last_renew_ms);
        line("stats", extra);
        shown = s;
    }
    return INT64_MAX;
}

/* "15s", "500ms", "2" (seconds) */
static int dur_ms(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (!strcmp(end, "ms")) return (int)v;
    if (!strcmp(end, "s") || !*end) return (int)(v * 1000);
    if (!strcmp(end, "m")) return (int)(v * 60000);
    fprintf(stderr, "le-elector: bad duration '%s'\n", s);
    exit(2);
}

int main(int argc, char **argv) {
    static le_https t;
    static le_elector e;
    le_https_config hc;
    le_config c;
    le_io io;
    struct sigaction sa;
    int i, rc, print_stats = 0;
    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    for (i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--server")) hc.server = v;
        else if (!strcmp(k, "--ca")) hc.ca_file = v;
        else if (!strcmp(k, "--token-file")) hc.token_file = v;
        else if (!strcmp(k, "--kubeconfig")) hc.kubeconfig = v;
        else if (!strcmp(k, "--namespace")) c.ns = v;
        else if (!strcmp(k, "--name")) c.name = v;
        else if (!strcmp(k, "--identity")) c.identity = v;
        else if (!strcmp(k, "--lease-duration")) c.lease_duration_ms = dur_ms(v);
        else if (!strcmp(k, "--renew-deadline")) c.renew_deadline_ms = dur_ms(v);
        else if (!strcmp(k, "--retry-period")) c.retry_period_ms = dur_ms(v);
        else if (!strcmp(k, "--token-reload")) hc.token_reload_ms = dur_ms(v);
        else if (!strcmp(k, "--poll-only")) c.poll_only = atoi(v);
        else if (!strcmp(k, "--print-stats")) print_stats = atoi(v);
        else { fprintf(stderr, "le-elector: unknown flag %s\n", k); return 2; }
    }
    c.on_event = on_event;
    if (le_https_init(&t, &hc, &c)) {
        fprintf(stderr, "le-elector: %s\n", le_https_errmsg(&t));
        le_https_free(&t);
        return 1;
    }
    ident = c.identity;
    if (le_init(&e, &c)) {
        fprintf(stderr, "le-elector: %s\n", le_errmsg(&e));
        le_https_free(&t);
        return 1;
    }
    if (le_cancel_init(&stop)) { fprintf(stderr, "le-elector: no pipe\n"); return 1; }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    line("running", NULL);
    memset(&io, 0, sizeof io);
    io.https = &t;
    io.cancel = &stop;
    if (print_stats) {
        shown.last_renew_ms = INT64_MIN;
        io.tick = on_tick;
    }
    rc = le_run(&e, &io);
    line("exit", NULL);
    le_https_free(&t);
    le_cancel_free(&stop);
    return rc ? 1 : 0;
}
