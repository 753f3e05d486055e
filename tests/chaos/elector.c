/* chaos-elector: one le.h replica for tests/chaos (le_run() through the
   bundled HTTPS transport), printing JSON lines stamped with
   CLOCK_MONOTONIC ns like tests/integration's le-elector and tools/kube's
   client-go peer ("running", "started", "stopped", "new_leader", "error",
   "exit"), and two more the chaos checker needs:

     {"ev":"until","until":NS}  while leading: the last instant at which
                                le_is_leader() answers yes, as the elector
                                stands (moves with every renew)
     {"ev":"watch","on":0|1}    the follower's watch stream opened or closed

   "until" is what a process frozen by SIGSTOP believed: le_is_leader()
   turns false at that instant whether or not the process runs, so a
   frozen leader's tenure ends there even though its stopped event can
   only come after SIGCONT. It is found by asking le_is_leader() about
   future instants (it is monotonic in time), not from le.h's internals.

   SIGTERM/SIGINT: stop leading, release the Lease, exit 0. */
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

typedef struct replica {
    const char *id;
    int64_t until_ms; /* last "until" printed; INT64_MIN: none */
    int watching;     /* last "watch" printed */
    int64_t span_ms;  /* how far ahead to look: beyond any deadline */
} replica;

static le_cancel stop; /* the signal handler's only way in */

static void on_signal(int s) {
    (void)s;
    le_cancel_fire(&stop);
}

static long long mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* s as a JSON string into o (cap >= 8), cut to fit */
static void quote(char *o, size_t cap, const char *s) {
    size_t n = 0;
    o[n++] = '"';
    for (; *s && n + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            o[n++] = '\\';
            o[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(o + n, cap - n, "\\u%04x", c);
        } else {
            o[n++] = (char)c;
        }
    }
    o[n++] = '"';
    o[n] = 0;
}

/* one line, one write(2), so lines from concurrent processes never mix */
static void emit(const replica *r, const char *ev, const char *fields) {
    char buf[3072], id[600];
    int n;
    quote(id, sizeof id, r->id);
    n = snprintf(buf, sizeof buf, "{\"t\":%lld,\"id\":%s,\"ev\":\"%s\"%s}\n", mono_ns(), id, ev, fields);
    if (n > 0 && write(1, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0) {
        /* stdout gone: nothing better to do */
    }
}

static void on_event(void *user, const le_event *ev) {
    const replica *r = (const replica *)user;
    char f[2600], s[1200];
    switch (ev->type) {
    case LE_EV_STARTED_LEADING:
        snprintf(f, sizeof f, ",\"term\":%lld", (long long)ev->term);
        emit(r, "started", f);
        break;
    case LE_EV_STOPPED_LEADING:
        snprintf(f, sizeof f, ",\"term\":%lld,\"reason\":%d", (long long)ev->term, (int)ev->reason);
        emit(r, "stopped", f);
        break;
    case LE_EV_NEW_LEADER:
        quote(s, sizeof s, ev->leader);
        snprintf(f, sizeof f, ",\"leader\":%s", s);
        emit(r, "new_leader", f);
        break;
    case LE_EV_ERROR:
        quote(s, sizeof s, ev->message);
        snprintf(f, sizeof f, ",\"error\":%d,\"status\":%d,\"err\":%s", ev->error, ev->status, s);
        emit(r, "error", f);
        break;
    default:
        break;
    }
}

/* Between elector steps: report le_is_leader()'s horizon when it moves,
   and the watch stream's state when it changes. */
static int64_t tick(void *ctx, le_elector *e, le_time now) {
    replica *r = (replica *)ctx;
    le_stats st = le_get_stats(e);
    char f[64];
    int64_t until = INT64_MIN;
    if (le_is_leader(e, now.mono_ms)) {
        int64_t lo = now.mono_ms, hi = now.mono_ms + r->span_ms; /* yes at lo */
        if (le_is_leader(e, hi)) {
            lo = hi;
        } else {
            while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                if (le_is_leader(e, mid)) lo = mid;
                else hi = mid;
            }
        }
        until = lo;
    }
    if (until != INT64_MIN && until != r->until_ms) {
        /* yes through the whole millisecond lo: up to the next one */
        snprintf(f, sizeof f, ",\"until\":%lld", (long long)(until + 1) * 1000000LL);
        emit(r, "until", f);
    }
    r->until_ms = until;
    if (st.watching != r->watching) {
        r->watching = st.watching;
        snprintf(f, sizeof f, ",\"on\":%d", st.watching);
        emit(r, "watch", f);
    }
    return INT64_MAX;
}

/* "15s", "500ms", "2" (seconds), "1m" */
static int dur_ms(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (!strcmp(end, "ms")) return (int)v;
    if (!strcmp(end, "s") || !*end) return (int)(v * 1000);
    if (!strcmp(end, "m")) return (int)(v * 60000);
    fprintf(stderr, "chaos-elector: bad duration '%s' (15s, 500ms, 1m)\n", s);
    exit(2);
}

int main(int argc, char **argv) {
    static le_https t;
    static le_elector e;
    le_https_config hc;
    le_config c;
    le_io io;
    replica r;
    struct sigaction sa;
    int i, rc;
    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    memset(&r, 0, sizeof r);
    for (i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--server")) hc.server = v;
        else if (!strcmp(k, "--ca")) hc.ca_file = v;
        else if (!strcmp(k, "--token-file")) hc.token_file = v;
        else if (!strcmp(k, "--namespace")) c.ns = v;
        else if (!strcmp(k, "--name")) c.name = v;
        else if (!strcmp(k, "--identity")) c.identity = v;
        else if (!strcmp(k, "--lease-duration")) c.lease_duration_ms = dur_ms(v);
        else if (!strcmp(k, "--renew-deadline")) c.renew_deadline_ms = dur_ms(v);
        else if (!strcmp(k, "--retry-period")) c.retry_period_ms = dur_ms(v);
        else if (!strcmp(k, "--poll-only")) c.poll_only = atoi(v);
        else {
            fprintf(stderr, "chaos-elector: unknown flag %s\n", k);
            return 2;
        }
    }
    if (i < argc) {
        fprintf(stderr, "chaos-elector: flag %s has no value\n", argv[i]);
        return 2;
    }
    c.on_event = on_event;
    c.user = &r;
    if (le_https_init(&t, &hc, &c)) {
        fprintf(stderr, "chaos-elector: %s\n", le_https_errmsg(&t));
        le_https_free(&t);
        return 1;
    }
    r.id = c.identity;
    r.until_ms = INT64_MIN;
    /* past RenewDeadline, whatever the defaults are */
    r.span_ms = 4 * (int64_t)(c.lease_duration_ms > 0 ? c.lease_duration_ms : 15000) + 60000;
    if (le_init(&e, &c)) {
        fprintf(stderr, "chaos-elector: %s\n", le_errmsg(&e));
        le_https_free(&t);
        return 1;
    }
    if (le_cancel_init(&stop)) {
        fprintf(stderr, "chaos-elector: no pipe for the cancel\n");
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    emit(&r, "running", "");
    memset(&io, 0, sizeof io);
    io.https = &t;
    io.cancel = &stop;
    io.ctx = &r;
    io.tick = tick;
    rc = le_run(&e, &io);
    emit(&r, "exit", "");
    le_https_free(&t);
    le_cancel_free(&stop);
    return rc ? 1 : 0;
}
