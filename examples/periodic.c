/* periodic.c - a periodic job that runs only while this replica leads.

   Every --every ms (default 1000) the job does one unit of work (prints a
   line, and appends it to --out FILE if given), but only after checking
   le_is_leader(): the moment leadership is lost (renew deadline passed,
   another holder seen) the work stops, before anybody else can start it.
   SIGTERM or SIGINT releases the Lease, so another replica takes over at
   once instead of waiting for the lease to expire, and exits 0.

   In a pod nothing needs configuring: the API server, CA, token and
   namespace come from the service account (see examples/deploy/), the
   identity from POD_NAME. Outside a cluster:

     periodic --kubeconfig ~/.kube/config
     periodic --server https://127.0.0.1:6443 --ca ca.crt --token-file tok

   Options: --name LEASE (default "periodic-example"), --ns NAMESPACE
   (default: $NAMESPACE, else the service account's), --id IDENTITY,
   --every MS, --out FILE, --lease-ms/--renew-ms/--retry-ms (client-go's
   LeaseDuration/RenewDeadline/RetryPeriod), --context NAME.

   Output, one line per event:
     [pod-a] following: leader is pod-b
     [pod-a] leading (term 3)
     [pod-a] work 1 (term 3)
     [pod-a] stopped leading (term 3): renew deadline passed
*/
#define _POSIX_C_SOURCE 200809L
#define LE_IMPLEMENTATION
#define LE_HTTPS
#include "le.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct app {
    const char *id;
    FILE *out;
    int64_t every_ms, next_at;
    long units;
} app;

static le_cancel stop;

static void on_signal(int sig) {
    (void)sig;
    le_cancel_fire(&stop); /* async-signal-safe: flag + self-pipe */
}

static const char *reason(le_stop_reason r) {
    switch (r) {
    case LE_STOP_DEADLINE: return "renew deadline passed";
    case LE_STOP_LOST: return "another replica took the Lease";
    case LE_STOP_CANCEL: return "shutting down";
    }
    return "?";
}

static void on_event(void *user, const le_event *ev) {
    app *a = (app *)user;
    switch (ev->type) {
    case LE_EV_STARTED_LEADING:
        printf("[%s] leading (term %lld)\n", a->id, (long long)ev->term);
        a->next_at = ev->mono_ms; /* first unit of work right away */
        break;
    case LE_EV_STOPPED_LEADING:
        printf("[%s] stopped leading (term %lld): %s\n", a->id,
               (long long)ev->term, reason(ev->reason));
        break;
    case LE_EV_NEW_LEADER:
        if (!ev->leader[0]) printf("[%s] the Lease is free\n", a->id);
        else if (strcmp(ev->leader, a->id))
            printf("[%s] following: leader is %s\n", a->id, ev->leader);
        break;
    case LE_EV_ERROR:
        printf("[%s] error: %s\n", a->id, ev->message);
        break;    default: /* LE_EV_RECORD_STORED: this program stores no records */
        break;
    }
    fflush(stdout);
}

/* The job, called by le_run between elector steps. */
static int64_t tick(void *ctx, le_elector *e, le_time now) {
    app *a = (app *)ctx;
    if (!le_is_leader(e, now.mono_ms)) return INT64_MAX; /* events wake us */
    if (now.mono_ms < a->next_at) return a->next_at;
    a->units++;
    printf("[%s] work %ld (term %lld)\n", a->id, a->units,
           (long long)le_term(e));
    fflush(stdout);
    if (a->out) {
        fprintf(a->out, "%lld %lld %s %ld\n", (long long)now.mono_ms,
                (long long)le_term(e), a->id, a->units);
        fflush(a->out);
    }
    a->next_at = now.mono_ms + a->every_ms;
    return a->next_at;
}

static int usage(void) {
    fprintf(stderr, "usage: periodic [--kubeconfig FILE | --server URL --ca FILE "
                    "--token-file FILE] [--context NAME] [--name LEASE] [--ns NS] "
                    "[--id ID] [--every MS] [--out FILE] [--lease-ms N] "
                    "[--renew-ms N] [--retry-ms N]\n");
    return 2;
}

int main(int argc, char **argv) {
    static le_https t;  /* ~50 KB each: static, not on the stack */
    static le_elector e;
    le_https_config hc;
    le_config c;
    le_io io;
    app a;
    const char *out = 0;
    int i, r;
    struct sigaction sa;

    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    memset(&a, 0, sizeof a);
    a.every_ms = 1000;
    c.name = "periodic-example";
    c.ns = getenv("NAMESPACE"); /* downward API; 0 = the service account's */
    if (c.ns && !*c.ns) c.ns = 0;
    for (i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
        if (!v) return usage();
        i++;
        if (!strcmp(k, "--kubeconfig")) hc.kubeconfig = v;
        else if (!strcmp(k, "--context")) hc.context = v;
        else if (!strcmp(k, "--server")) hc.server = v;
        else if (!strcmp(k, "--ca")) hc.ca_file = v;
        else if (!strcmp(k, "--token-file")) hc.token_file = v;
        else if (!strcmp(k, "--name")) c.name = v;
        else if (!strcmp(k, "--ns")) c.ns = v;
        else if (!strcmp(k, "--id")) c.identity = v;
        else if (!strcmp(k, "--every")) a.every_ms = atol(v);
        else if (!strcmp(k, "--out")) out = v;
        else if (!strcmp(k, "--lease-ms")) c.lease_duration_ms = atoi(v);
        else if (!strcmp(k, "--renew-ms")) c.renew_deadline_ms = atoi(v);
        else if (!strcmp(k, "--retry-ms")) c.retry_period_ms = atoi(v);
        else return usage();
    }
    if (!hc.server && !hc.kubeconfig && !getenv("KUBERNETES_SERVICE_HOST"))
        hc.kubeconfig = getenv("KUBECONFIG"); /* outside a cluster */
    c.on_event = on_event;
    c.user = &a;

    r = le_https_init(&t, &hc, &c);
    if (r) {
        fprintf(stderr, "periodic: %s\n", le_https_errmsg(&t));
        le_https_free(&t);
        return 1;
    }
    if (le_init(&e, &c)) {
        fprintf(stderr, "periodic: %s\n", le_errmsg(&e));
        le_https_free(&t);
        return 1;
    }
    a.id = c.identity;
    if (out && !(a.out = fopen(out, "a"))) {
        perror(out);
        le_https_free(&t);
        return 1;
    }
    printf("[%s] contending for lease %s/%s at %s\n", a.id, c.ns, c.name,
           c.host);
    fflush(stdout);

    if (le_cancel_init(&stop)) {
        fprintf(stderr, "periodic: no pipe for the signal handler\n");
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, 0);
    sigaction(SIGINT, &sa, 0);

    memset(&io, 0, sizeof io);
    io.https = &t;
    io.cancel = &stop;
    io.ctx = &a;
    io.tick = tick;
    le_run(&e, &io); /* returns after SIGTERM: the Lease is released */

    printf("[%s] exiting after %ld units of work (%s, %llu connection(s), "
           "%llu handshake(s), %llu requests)\n", a.id, a.units,
           t.tls_version ? t.tls_version : "no TLS",
           (unsigned long long)t.stats.connects,
           (unsigned long long)t.stats.handshakes,
           (unsigned long long)t.stats.requests);
    if (a.out) fclose(a.out);
    le_cancel_free(&stop);
    le_https_free(&t);
    le_https_global_free(); /* mbedTLS 3's process-wide PSA state */
    return 0;
}
