/* eventloop.c - the elector inside a program's own poll() loop.

   The program has its own work on the same thread: a timer that fires every
   --every ms (default 1000) and prints a heartbeat with the leadership
   state, and stdin, echoed back while this replica leads. The elector
   needs two file descriptors at most (the request connection, and a
   follower's watch) and a deadline, all from le_https_step(); the loop
   polls them next to its own, with no threads.

   SIGTERM/SIGINT go through le_cancel: the handler only sets a flag and
   writes to a pipe that is in the poll set, so the loop wakes at once,
   calls le_stop() (the Lease is released) and keeps stepping until the
   elector is done.

   With epoll instead of poll: register le_step.fd and le_step.wfd
   (EPOLLIN|EPOLLOUT, or as asked) and register each again whenever
   le_step.conn (le_step.wconn) changes: after a reconnect the socket is new
   even when its number is the same, and the old one left the epoll set
   when it was closed. With libuv: a uv_poll_t on each fd and a uv_timer_t
   for the deadline, a new uv_poll_t whenever its conn changes.

   Same options as periodic.c: --kubeconfig FILE | --server URL --ca FILE
   --token-file FILE, --name, --ns, --id, --every, --lease-ms, --renew-ms,
   --retry-ms.
*/
#define _POSIX_C_SOURCE 200809L
#define LE_IMPLEMENTATION
#define LE_HTTPS
#include "le.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static le_cancel quit;
static void on_signal(int sig) { (void)sig; le_cancel_fire(&quit); }

typedef struct app { const char *id; } app;

static void on_event(void *user, const le_event *ev) {
    app *a = (app *)user;
    switch (ev->type) {
    case LE_EV_STARTED_LEADING:
        printf("[%s] leading (term %lld)\n", a->id, (long long)ev->term);
        break;
    case LE_EV_STOPPED_LEADING:
        printf("[%s] stopped leading (term %lld)\n", a->id, (long long)ev->term);
        break;
    case LE_EV_NEW_LEADER:
        printf("[%s] leader: %s\n", a->id, ev->leader[0] ? ev->leader : "(none)");
        break;
    case LE_EV_ERROR:
        printf("[%s] error: %s\n", a->id, ev->message);
        break;    default: /* LE_EV_RECORD_STORED: this program stores no records */
        break;
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    static le_https t;
    static le_elector e;
    le_https_config hc;
    le_config c;
    app a;
    int i, stopping = 0, stdin_open = 1;
    int64_t every = 1000, timer_at;

    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    c.name = "eventloop-example";
    c.ns = getenv("NAMESPACE");
    if (c.ns && !*c.ns) c.ns = 0;
    for (i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--kubeconfig")) hc.kubeconfig = v;
        else if (!strcmp(k, "--server")) hc.server = v;
        else if (!strcmp(k, "--ca")) hc.ca_file = v;
        else if (!strcmp(k, "--token-file")) hc.token_file = v;
        else if (!strcmp(k, "--name")) c.name = v;
        else if (!strcmp(k, "--ns")) c.ns = v;
        else if (!strcmp(k, "--id")) c.identity = v;
        else if (!strcmp(k, "--every")) every = atol(v);
        else if (!strcmp(k, "--lease-ms")) c.lease_duration_ms = atoi(v);
        else if (!strcmp(k, "--renew-ms")) c.renew_deadline_ms = atoi(v);
        else if (!strcmp(k, "--retry-ms")) c.retry_period_ms = atoi(v);
        else { fprintf(stderr, "eventloop: unknown option %s\n", k); return 2; }
    }
    if (i < argc) { fprintf(stderr, "eventloop: %s needs a value\n", argv[i]); return 2; }
    if (!hc.server && !hc.kubeconfig && !getenv("KUBERNETES_SERVICE_HOST"))
        hc.kubeconfig = getenv("KUBECONFIG");
    c.on_event = on_event;
    c.user = &a;
    if (le_https_init(&t, &hc, &c)) {
        fprintf(stderr, "eventloop: %s\n", le_https_errmsg(&t));
        le_https_free(&t);
        return 1;
    }
    if (le_init(&e, &c)) {
        fprintf(stderr, "eventloop: %s\n", le_errmsg(&e));
        le_https_free(&t);
        return 1;
    }
    a.id = c.identity;
    if (le_cancel_init(&quit)) return 1;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    timer_at = le_clock().mono_ms + every;
    for (;;) {
        struct pollfd p[4];
        int n = 0, ie = -1, iq, is = -1;
        int64_t until;
        le_time now = le_clock();
        le_step s;

        if (le_cancel_fired(&quit) && !stopping) {
            stopping = 1;
            printf("[%s] shutting down: releasing the Lease\n", a.id);
            le_stop(&e, now); /* never from the signal handler itself */
        }
        s = le_https_step(&t, &e, now);
        if (s.done) break;

        /* the program's own timer */
        if (now.mono_ms >= timer_at) {
            printf("[%s] heartbeat: %s (term %lld)\n", a.id,
                   le_is_leader(&e, now.mono_ms) ? "leader" : "follower",
                   (long long)le_term(&e));
            fflush(stdout);
            timer_at = now.mono_ms + every;
        }
        until = s.deadline < timer_at ? s.deadline : timer_at;

        if (s.fd >= 0) {
            p[n].fd = s.fd; p[n].events = s.events; p[n].revents = 0; ie = n++;
        }
        if (s.wfd >= 0) {
            p[n].fd = s.wfd; p[n].events = s.wevents; p[n].revents = 0; n++;
        }
        p[n].fd = quit.fd[0]; p[n].events = POLLIN; p[n].revents = 0; iq = n++;
        if (stdin_open && !stopping) {
            p[n].fd = 0; p[n].events = POLLIN; p[n].revents = 0; is = n++;
        }
        poll(p, (nfds_t)n, le_timeout_ms(until, le_clock().mono_ms));
        (void)ie; /* the elector's fds: le_https_step() does the IO */
        if (p[iq].revents) {
            char b[16];
            while (read(quit.fd[0], b, sizeof b) > 0) {}
        }
        if (is >= 0 && p[is].revents) {
            char line[256];
            ssize_t r = read(0, line, sizeof line);
            if (r <= 0) stdin_open = 0;
            else if (le_is_leader(&e, le_clock().mono_ms))
                printf("[%s] (leader) got %ld bytes on stdin\n", a.id, (long)r);
        }
    }
    printf("[%s] done\n", a.id);
    le_cancel_free(&quit);
    le_https_free(&t);
    le_https_global_free(); /* mbedTLS 3's process-wide PSA state */
    return 0;
}
