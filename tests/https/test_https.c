/* test_https.c - the HTTPS transport against a real kube-apiserver.

   Run by tests/https/run.sh, which starts tools/kube (etcd + kube-apiserver)
   and exports its env file (LE_SERVER, LE_CA, LE_*_TOKEN_FILE, LE_KUBECONFIG,
   LE_USER_CERT/KEY) plus LE_PEER (the le-peer binary, for TokenRequest
   tokens), LE_TEST_TMP (a scratch directory), LE_TEST_WRONG_CA (a CA that
   did not sign the server's certificate) and LE_TEST_RSA_PORT (a TLS server
   with an RSA chain: root -> intermediate -> leaf).

   The elector is driven through le_https_step() in a poll() loop that also
   runs a small relay which can misbehave on purpose: stop answering
   (accepting new connections and never replying), or reset the connection
   in the middle of a reply. Every scenario prints PASS or FAIL lines.

   Usage: test_https [-v] [scenario ...]   (no scenario: all) */
#define _POSIX_C_SOURCE 200809L
#define LE_IMPLEMENTATION
#define LE_HTTPS
#include "le.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/epoll.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#ifdef __cplusplus
extern "C" {
#endif
void le_test_count_start(void);
unsigned long le_test_count_stop(void);
#ifdef __cplusplus
}
#endif

static int passed, failed, verbose;
static const char *server, *ca, *user_tok, *admin_tok, *norbac_tok, *kubecfg,
    *user_cert, *user_key, *peer_bin, *tmp, *wrong_ca, *rsa_port, *rsa_ca;
static int api_port;
static char lease_prefix[32];

static void check(int ok, const char *what, const char *detail) {
    if (ok) passed++;
    else failed++;
    printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", what,
           !ok && detail ? ": " : "", !ok && detail ? detail : "");
    fflush(stdout);
}

/* ---- what the elector reported --------------------------------------------- */

typedef struct obs {
    int leading, starts, stops, errors, s401, s403;
    le_stop_reason reason;
    int64_t started_at, stopped_at;
    int codes[64];
    char errs[16384];
    size_t errs_len;
} obs;

static obs O;
static le_https T;
static le_elector E;

static void on_event(void *user, const le_event *ev) {
    obs *o = (obs *)user;
    switch (ev->type) {
    case LE_EV_STARTED_LEADING:
        o->leading = 1;
        o->starts++;
        o->started_at = ev->mono_ms;
        if (verbose) printf("  . leading (term %lld)\n", (long long)ev->term);
        break;
    case LE_EV_STOPPED_LEADING:
        o->leading = 0;
        o->stops++;
        o->reason = ev->reason;
        o->stopped_at = ev->mono_ms;
        if (verbose) printf("  . stopped leading (reason %d)\n", (int)ev->reason);
        break;
    case LE_EV_NEW_LEADER:
        if (verbose) printf("  . leader: '%s'\n", ev->leader);
        break;
    case LE_EV_ERROR: {
        size_t n = strlen(ev->message);
        if (o->errors < 64) o->codes[o->errors] = ev->error;
        o->errors++;
        if (ev->status == 401) o->s401++;
        if (ev->status == 403) o->s403++;
        if (o->errs_len + n + 2 < sizeof o->errs) {
            memcpy(o->errs + o->errs_len, ev->message, n);
            o->errs_len += n;
            o->errs[o->errs_len++] = '\n';
            o->errs[o->errs_len] = 0;
        }
        if (verbose) printf("  . error %d (%s): %s\n", ev->error,
                            le_strerror(ev->error), ev->message);
        break;
    }
    case LE_EV_RECORD_STORED:
        break;
    }
    fflush(stdout);
}

static int has_code(int code) {
    int i;
    for (i = 0; i < O.errors && i < 64; i++)
        if (O.codes[i] == code) return 1;
    return 0;
}

/* ---- a relay that misbehaves on purpose --------------------------------------- */

enum { R_RELAY, R_SILENT, R_RESET_NEXT };
#define R_MAX 16
typedef struct relay {
    int on, lfd, port, mode, n, resets, accepted;
    int c[R_MAX], u[R_MAX];
} relay;
static relay R;

static int relay_open_port(relay *r, const char *ip, int port) {
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int one = 1;
    memset(r, 0, sizeof *r);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (bind(r->lfd, (struct sockaddr *)&a, sizeof a) || listen(r->lfd, 16)) {
        close(r->lfd);
        return -1;
    }
    getsockname(r->lfd, (struct sockaddr *)&a, &al);
    r->port = ntohs(a.sin_port);
    r->on = 1;
    return 0;
}

static int relay_open(relay *r, const char *ip) { return relay_open_port(r, ip, 0); }

static void relay_drop(relay *r, int i, int rst) {
    if (rst) {
        struct linger l;
        l.l_onoff = 1;
        l.l_linger = 0;
        setsockopt(r->c[i], SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(r->c[i]);
    if (r->u[i] >= 0) close(r->u[i]);
    r->c[i] = r->c[r->n - 1];
    r->u[i] = r->u[r->n - 1];
    r->n--;
}

static void relay_close(relay *r) {
    if (!r->on) return;
    while (r->n) relay_drop(r, 0, 0);
    close(r->lfd);
    r->on = 0;
}

static int relay_fds(relay *r, struct pollfd *p) {
    int i, n = 0;
    if (!r->on) return 0;
    p[n].fd = r->lfd; p[n].events = POLLIN; p[n].revents = 0; n++;
    for (i = 0; i < r->n; i++) {
        p[n].fd = r->c[i]; p[n].events = POLLIN; p[n].revents = 0; n++;
        p[n].fd = r->u[i]; p[n].events = POLLIN; p[n].revents = 0; n++;
    }
    return n;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void relay_service(relay *r, const struct pollfd *p, int np) {
    char buf[16384];
    int i, k;
    if (!r->on || np == 0) return;
    if (p[0].revents & POLLIN) {
        int c = accept(r->lfd, 0, 0), u = -1;
        if (c >= 0 && r->n < R_MAX) {
            struct sockaddr_in a;
            memset(&a, 0, sizeof a);
            a.sin_family = AF_INET;
            a.sin_port = htons((unsigned short)api_port);
            inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
            r->accepted++;
            if (r->mode != R_SILENT) {
                u = socket(AF_INET, SOCK_STREAM, 0);
                if (connect(u, (struct sockaddr *)&a, sizeof a)) {
                    close(u);
                    u = -1;
                }
            }
            r->c[r->n] = c;
            r->u[r->n] = u;
            r->n++;
        } else if (c >= 0) {
            close(c);
        }
    }
    /* pairs: p[1 + 2i] client, p[2 + 2i] upstream (as listed before) */
    for (k = (np - 1) / 2 - 1; k >= 0; k--) {
        int cfd = p[1 + 2 * k].fd, ufd = p[2 + 2 * k].fd;
        for (i = 0; i < r->n && r->c[i] != cfd; i++) {}
        if (i == r->n) continue;
        if (p[1 + 2 * k].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(cfd, buf, sizeof buf, 0);
            if (n <= 0) { relay_drop(r, i, 0); continue; }
            if (r->mode != R_SILENT && ufd >= 0) write_all(ufd, buf, (size_t)n);
        }
        if (ufd >= 0 && (p[2 + 2 * k].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = recv(ufd, buf, sizeof buf, 0);
            if (n <= 0) { relay_drop(r, i, 0); continue; }
            if (r->mode == R_SILENT) continue;
            if (r->mode == R_RESET_NEXT && n > 1) {
                write_all(cfd, buf, (size_t)n / 2); /* half a reply, then RST */
                relay_drop(r, i, 1);
                r->mode = R_RELAY;
                r->resets++;
                continue;
            }
            write_all(cfd, buf, (size_t)n);
        }
    }
}

/* ---- driving ---------------------------------------------------------------------- */

static int running; /* an elector is initialized */

typedef int (*pred)(void);
static int p_leading(void) { return O.leading; }
static int p_error(void) { return O.errors > 0; }
static int p_stopped(void) { return O.stops > 0; }

/* Drives the elector (if any) and the relay for ms or until p() holds.
   1 when p held, 0 on time out, 2 when the elector is done. */
static int drive(int64_t ms, pred p) {
    int64_t end = le_clock().mono_ms + ms;
    for (;;) {
        struct pollfd fds[3 + 2 * R_MAX];
        le_time now = le_clock();
        le_step s;
        int n = 0, nr, first_relay;
        int64_t until = end;
        if (p && p()) return 1;
        if (now.mono_ms >= end) return 0;
        s.fd = -1;
        s.events = 0;
        if (running) {
            s = le_https_step(&T, &E, now);
            if (s.done) return 2;
            if (p && p()) return 1;
            if (s.deadline < until) until = s.deadline;
        }
        if (s.fd >= 0) {
            fds[n].fd = s.fd;
            fds[n].events = s.events;
            fds[n].revents = 0;
            n++;
        }
        if (running && s.wfd >= 0) {
            fds[n].fd = s.wfd;
            fds[n].events = s.wevents;
            fds[n].revents = 0;
            n++;
        }
        first_relay = n;
        nr = relay_fds(&R, fds + n);
        n += nr;
        poll(fds, (nfds_t)n, le_timeout_ms(until, le_clock().mono_ms));
        relay_service(&R, fds + first_relay, nr);
    }
}

/* A fresh elector on lease "<prefix>-<tag>". Returns le_https_init's
   result; the message is in le_https_errmsg(&T). */
static char lease_name[128];
static int start(const char *tag, le_https_config *hc, le_config *c,
                 int lease, int renew, int retry) {
    int r;
    memset(&O, 0, sizeof O);
    snprintf(lease_name, sizeof lease_name, "%s-%s", lease_prefix, tag);
    c->name = lease_name;
    c->lease_duration_ms = lease;
    c->renew_deadline_ms = renew;
    c->retry_period_ms = retry;
    c->on_event = on_event;
    c->user = &O;
    r = le_https_init(&T, hc, c);
    if (r) {
        if (verbose) printf("  . init: %s\n", le_https_errmsg(&T));
        le_https_free(&T);
        return r;
    }
    if (le_init(&E, c)) {
        printf("  le_init: %s\n", le_errmsg(&E));
        le_https_free(&T);
        return LE_EINVAL;
    }
    running = 1;
    return 0;
}

/* Releases the Lease (le_stop) and frees everything. */
static void finish(void) {
    if (running) {
        le_stop(&E, le_clock());
        drive(3000, 0);
        le_https_free(&T);
        running = 0;
    }
    relay_close(&R);
}

static void base(le_https_config *hc, le_config *c, const char *token_file) {
    memset(hc, 0, sizeof *hc);
    memset(c, 0, sizeof *c);
    hc->server = server;
    hc->ca_file = ca;
    hc->token_file = token_file;
    c->ns = "default";
}

static int contains(const char *hay, const char *needle) {
    return strstr(hay, needle) != 0;
}

static void write_file(const char *path, const char *data) {
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); exit(2); }
    fputs(data, f);
    fclose(f);
}

static char *read_file(const char *path) {
    static char buf[65536];
    FILE *f = fopen(path, "rb");
    size_t n;
    buf[0] = 0;
    if (!f) return buf;
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void b64(const char *in, size_t n, char *out, size_t cap) {
    size_t olen = 0;
    mbedtls_base64_encode((unsigned char *)out, cap, &olen,
                          (const unsigned char *)in, n);
    out[olen] = 0;
}

/* Runs le-peer with args (0-terminated), capturing stdout, while the
   elector keeps being driven. Returns the exit status. */
static int peer(char *out, size_t cap, const char *a1, const char *a2,
                const char *a3, const char *a4, const char *a5) {
    int pfd[2], st = -1;
    size_t n = 0;
    pid_t pid;
    const char *argv[7];
    argv[0] = peer_bin; argv[1] = a1; argv[2] = a2; argv[3] = a3;
    argv[4] = a4; argv[5] = a5; argv[6] = 0;
    if (pipe(pfd)) return -1;
    pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(peer_bin, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    for (;;) {
        ssize_t r;
        pid_t w;
        if (out && n + 1 < cap) {
            r = read(pfd[0], out + n, cap - 1 - n);
            if (r > 0) n += (size_t)r;
        }
        w = waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        drive(20, 0);
    }
    if (out) {
        ssize_t r;
        while (n + 1 < cap && (r = read(pfd[0], out + n, cap - 1 - n)) > 0)
            n += (size_t)r;
        while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r')) n--;
        out[n] = 0;
    }
    close(pfd[0]);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- scenarios ---------------------------------------------------------------- */

/* Leads over one connection; steady state: 0 allocations per renew. */
static void t_steady(void) {
    le_https_config hc;
    le_config c;
    uint64_t req0, req1;
    unsigned long allocs;
    char m[256];
    printf("  sizes: le_elector %zu bytes, le_https %zu bytes (%s)\n", sizeof E,
           sizeof T, MBEDTLS_VERSION_STRING);
    base(&hc, &c, user_tok);
    if (start("steady", &hc, &c, 2000, 1500, 300)) {
        check(0, "steady: init", le_https_errmsg(&T));
        return;
    }
    check(drive(5000, p_leading) == 1, "steady: leads with a token file over "
          "https", O.errs);
    drive(1000, 0); /* settle: a few renews */
    req0 = T.stats.requests;
    le_test_count_start();
    drive(6000, 0);
    allocs = le_test_count_stop();
    req1 = T.stats.requests;
    printf("  steady state: %lu heap allocations in %llu renews = %.2f per "
           "renew\n", allocs, (unsigned long long)(req1 - req0),
           req1 > req0 ? (double)allocs / (double)(req1 - req0) : -1.0);
    printf("  %llu connection(s), %llu TLS handshake(s) (%s) for %llu "
           "requests\n", (unsigned long long)T.stats.connects,
           (unsigned long long)T.stats.handshakes,
           T.tls_version ? T.tls_version : "?",
           (unsigned long long)T.stats.requests);
    snprintf(m, sizeof m, "%lu allocations", allocs);
    check(allocs == 0 && req1 - req0 >= 10, "steady: 0 heap allocations per "
          "renew", m);
    check(T.stats.connects == 1 && T.stats.handshakes == 1,
          "steady: one connection, one handshake for all requests", 0);
    check(O.stops == 0 && O.errors == 0, "steady: no error, no gap", O.errs);
    /* the counter sees mbedTLS: a reconnect (handshake) allocates */
    le_https_close(&T, &E, le_clock());
    le_test_count_start();
    drive(1000, 0);
    allocs = le_test_count_stop();
    printf("  a reconnect with a TLS handshake: %lu heap allocations "
           "(mbedTLS; see noalloc for the static-buffer allocator)\n", allocs);
    check(allocs > 0 && T.stats.handshakes == 2, "steady: the counter sees "
          "mbedTLS's handshake allocations", 0);
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
    check(T.tls_version && !strcmp(T.tls_version, "TLSv1.3"),
          "steady: TLS 1.3 with mbedTLS 3", T.tls_version);
#else
    check(T.tls_version && !strcmp(T.tls_version, "TLSv1.2"),
          "steady: TLS 1.2 with mbedTLS 2.28", T.tls_version);
#endif
    finish();
}

/* Like rest.InClusterConfig: env + service account directory. */
static void t_incluster(void) {
    le_https_config hc;
    le_config c;
    char dir[512], path[600], port[16], id2[LE_IDENTITY_MAX + 1];
    int r;
    snprintf(dir, sizeof dir, "%s/sa", tmp);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/token", dir);
    write_file(path, read_file(user_tok));
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    write_file(path, read_file(ca));
    snprintf(path, sizeof path, "%s/namespace", dir);
    write_file(path, "le-test\n");
    snprintf(port, sizeof port, "%d", api_port);
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    setenv("POD_NAME", "incluster-pod-0", 1);
    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    hc.sa_dir = dir;
    r = start("incluster", &hc, &c, 2000, 1500, 300);
    check(r == 0, "incluster: init from KUBERNETES_SERVICE_HOST/PORT and the "
          "service account files", le_https_errmsg(&T));
    if (r) return;
    check(!strcmp(c.ns, "le-test") && !strcmp(c.identity, "incluster-pod-0"),
          "incluster: namespace file and POD_NAME fill le_config", c.ns);
    check(drive(5000, p_leading) == 1, "incluster: leads (IP SAN verified)",
          O.errs);
    finish();

    /* no POD_NAME: host name + random suffix, different each time */
    unsetenv("POD_NAME");
    memset(&c, 0, sizeof c);
    r = start("incluster", &hc, &c, 2000, 1500, 300);
    if (r == 0) {
        size_t n = strlen(c.identity);
        int hex = n > 17 && c.identity[n - 17] == '_';
        size_t i;
        for (i = n - 16; hex && i < n; i++)
            hex = (c.identity[i] >= '0' && c.identity[i] <= '9') ||
                  (c.identity[i] >= 'a' && c.identity[i] <= 'f');
        snprintf(id2, sizeof id2, "%s", c.identity);
        le_https_free(&T);
        running = 0;
        memset(&c, 0, sizeof c);
        r = start("incluster", &hc, &c, 2000, 1500, 300);
        check(hex && r == 0 && strcmp(id2, c.identity),
              "incluster: no POD_NAME -> hostname_<16 random hex>, unique", id2);
        if (r == 0) { le_https_free(&T); running = 0; }
    } else {
        check(0, "incluster: identity without POD_NAME", le_https_errmsg(&T));
    }

    /* IPv6 service host: [addr]:port, and connection refused names it */
    setenv("KUBERNETES_SERVICE_HOST", "::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "1", 1);
    memset(&c, 0, sizeof c);
    r = start("incluster6", &hc, &c, 2000, 1500, 300);
    check(r == 0 && !strcmp(c.host, "[::1]:1"),
          "incluster: IPv6 KUBERNETES_SERVICE_HOST -> Host [::1]:1",
          r ? le_https_errmsg(&T) : c.host);
    if (r == 0) {
        drive(1500, p_error);
        check(has_code(LE_ECONNECT) && contains(O.errs, "[::1]:1") &&
              contains(O.errs, "refused"),
              "incluster: connection refused names the address", O.errs);
        finish();
    }

    /* namespace file missing */
    snprintf(path, sizeof path, "%s/namespace", dir);
    unlink(path);
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    memset(&c, 0, sizeof c);
    r = start("incluster", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL && contains(le_https_errmsg(&T), "namespace file") &&
          contains(le_https_errmsg(&T), "is missing") &&
          contains(le_https_errmsg(&T), "POD_NAMESPACE"),
          "incluster: missing namespace file -> message", le_https_errmsg(&T));
    if (r == 0) finish();
    /* POD_NAMESPACE instead */
    setenv("POD_NAMESPACE", "le-test", 1);
    memset(&c, 0, sizeof c);
    r = start("incluster", &hc, &c, 2000, 1500, 300);
    check(r == 0 && !strcmp(c.ns, "le-test"),
          "incluster: POD_NAMESPACE replaces the namespace file",
          le_https_errmsg(&T));
    if (r == 0) { le_https_free(&T); running = 0; }
    unsetenv("POD_NAMESPACE");

    /* token file missing, then empty */
    snprintf(path, sizeof path, "%s/token", dir);
    unlink(path);
    memset(&c, 0, sizeof c);
    c.ns = "default";
    r = start("incluster", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL && contains(le_https_errmsg(&T), path) &&
          contains(le_https_errmsg(&T), "is missing") &&
          contains(le_https_errmsg(&T), "automountServiceAccountToken"),
          "incluster: missing token file -> message", le_https_errmsg(&T));
    if (r == 0) finish();
    write_file(path, "\n");
    memset(&c, 0, sizeof c);
    c.ns = "default";
    r = start("incluster", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL && contains(le_https_errmsg(&T), "is empty"),
          "incluster: empty token file -> message", le_https_errmsg(&T));
    if (r == 0) finish();

    /* not in a cluster at all */
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    r = start("nocluster", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL &&
          contains(le_https_errmsg(&T), "KUBERNETES_SERVICE_HOST") &&
          contains(le_https_errmsg(&T), "kubeconfig") &&
          contains(le_https_errmsg(&T), "token_file"),
          "no cluster: KUBERNETES_SERVICE_HOST unset -> says what to give",
          le_https_errmsg(&T));
    if (r == 0) finish();
}

static void t_kubeconfig(void) {
    le_https_config hc;
    le_config c;
    static char kc[65536], cab[8192], crtb[8192], keyb[8192];
    char path[600], data[8192];
    int r;

    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    hc.kubeconfig = kubecfg;
    r = start("kubeconfig", &hc, &c, 2000, 1500, 300);
    check(r == 0, "kubeconfig: the test bed's kubeconfig (token, CA path)",
          le_https_errmsg(&T));
    if (r == 0) {
        check(drive(5000, p_leading) == 1, "kubeconfig: leads", O.errs);
        finish();
    }

    /* client certificate data, CA data, a DNS name, indented lists,
       quotes, comments, a decoy context, an exec user */
    snprintf(data, sizeof data, "%s", read_file(ca));
    b64(data, strlen(data), cab, sizeof cab);
    snprintf(data, sizeof data, "%s", read_file(user_cert));
    b64(data, strlen(data), crtb, sizeof crtb);
    snprintf(data, sizeof data, "%s", read_file(user_key));
    b64(data, strlen(data), keyb, sizeof keyb);
    snprintf(kc, sizeof kc,
        "# written by hand\n"
        "apiVersion: v1\n"
        "kind: Config\n"
        "preferences: {}\n"
        "clusters:\n"
        "  - name: decoy\n"
        "    cluster:\n"
        "      server: https://127.0.0.1:1\n"
        "  - cluster:\n"
        "      certificate-authority-data: %s\n"
        "      server: \"https://localhost:%d\"\n"
        "    name: 'le-cert'\n"
        "  - name: insecure\n"
        "    cluster:\n"
        "      server: https://localhost:%d\n"
        "      insecure-skip-tls-verify: true\n"
        "contexts:\n"
        "- context:\n"
        "    cluster: decoy\n"
        "    user: cert-user\n"
        "  name: decoy-ctx\n"
        "- context:\n"
        "    cluster: le-cert\n"
        "    namespace: le-test\n"
        "    user: cert-user\n"
        "  name: cert-ctx\n"
        "- name: exec-ctx\n"
        "  context:\n"
        "    cluster: le-cert\n"
        "    user: exec-user\n"
        "- name: insecure-ctx\n"
        "  context:\n"
        "    cluster: insecure\n"
        "    user: cert-user\n"
        "current-context: cert-ctx\n"
        "users:\n"
        "- name: exec-user\n"
        "  user:\n"
        "    exec:\n"
        "      apiVersion: client.authentication.k8s.io/v1\n"
        "      command: kubelogin\n"
        "      env:\n"
        "      - name: cert-user\n"
        "        value: x\n"
        "- name: cert-user\n"
        "  user:\n"
        "    client-certificate-data: %s\n"
        "    client-key-data: %s\n",
        cab, api_port, api_port, crtb, keyb);
    snprintf(path, sizeof path, "%s/kubeconfig-cert", tmp);
    write_file(path, kc);
    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    hc.kubeconfig = path;
    r = start("kubeconfig-cert", &hc, &c, 2000, 1500, 300);
    check(r == 0 && !strcmp(c.ns, "le-test") &&
          !strcmp(c.host, "localhost:16443") + (api_port != 16443) >= 1,
          "kubeconfig: client-certificate-data, certificate-authority-data, "
          "context namespace", r ? le_https_errmsg(&T) : c.ns);
    if (r == 0) {
        check(drive(5000, p_leading) == 1, "kubeconfig: leads with a client "
              "certificate (DNS name 'localhost' verified)", O.errs);
        finish();
    }
    hc.context = "exec-ctx";
    memset(&c, 0, sizeof c);
    r = start("kubeconfig-cert", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL && contains(le_https_errmsg(&T), "exec-user") &&
          contains(le_https_errmsg(&T), "exec credential plugin") &&
          contains(le_https_errmsg(&T), "token_file"),
          "kubeconfig: exec user -> clear error", le_https_errmsg(&T));
    if (r == 0) finish();
    hc.context = "insecure-ctx";
    memset(&c, 0, sizeof c);
    r = start("kubeconfig-cert", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL &&
          contains(le_https_errmsg(&T), "insecure-skip-tls-verify"),
          "kubeconfig: insecure-skip-tls-verify refused", le_https_errmsg(&T));
    if (r == 0) finish();
    hc.context = "nope";
    memset(&c, 0, sizeof c);
    r = start("kubeconfig-cert", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL && contains(le_https_errmsg(&T), "'nope'"),
          "kubeconfig: unknown context named", le_https_errmsg(&T));
    if (r == 0) finish();

    /* relative certificate-authority and tokenFile paths */
    snprintf(path, sizeof path, "%s/rel-ca.crt", tmp);
    write_file(path, read_file(ca));
    snprintf(path, sizeof path, "%s/rel.token", tmp);
    write_file(path, read_file(user_tok));
    snprintf(kc, sizeof kc,
        "apiVersion: v1\nclusters:\n- cluster:\n"
        "    certificate-authority: rel-ca.crt\n"
        "    server: %s\n  name: c\n"
        "contexts:\n- context:\n    cluster: c\n    user: u\n  name: x\n"
        "current-context: x\nkind: Config\n"
        "users:\n- name: u\n  user:\n    tokenFile: rel.token\n", server);
    snprintf(path, sizeof path, "%s/kubeconfig-rel", tmp);
    write_file(path, kc);
    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    hc.kubeconfig = path;
    r = start("kubeconfig-rel", &hc, &c, 2000, 1500, 300);
    check(r == 0 && !strcmp(c.ns, "default"),
          "kubeconfig: relative paths, tokenFile, default namespace",
          le_https_errmsg(&T));
    if (r == 0) {
        check(drive(5000, p_leading) == 1, "kubeconfig: leads with tokenFile",
              O.errs);
        finish();
    }
    write_file(path, "{\"apiVersion\":\"v1\"}\n");
    memset(&c, 0, sizeof c);
    r = start("kubeconfig-rel", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL && contains(le_https_errmsg(&T), "JSON"),
          "kubeconfig: JSON refused with a hint", le_https_errmsg(&T));
    if (r == 0) finish();
}

static void t_tls(void) {
    le_https_config hc;
    le_config c;
    char url[128];
    int r;

    /* a CA that did not sign the server's certificate */
    base(&hc, &c, user_tok);
    hc.ca_file = wrong_ca;
    r = start("wrongca", &hc, &c, 2000, 1500, 300);
    if (r == 0) {
        drive(2000, p_error);
        check(has_code(LE_ETLS) && contains(O.errs, wrong_ca) &&
              contains(O.errs, "le-test-ca") && contains(O.errs, "did not sign")
              && O.starts == 0,
              "tls: wrong CA refused, message names the CA file and the "
              "server's issuer", O.errs);
        finish();
    } else {
        check(0, "tls: wrong CA", le_https_errmsg(&T));
    }

    /* a name the certificate does not list */
    base(&hc, &c, user_tok);
    hc.tls_server_name = "wrong.example";
    r = start("badname", &hc, &c, 2000, 1500, 300);
    if (r == 0) {
        drive(2000, p_error);
        check(has_code(LE_ETLS) && contains(O.errs, "not for 'wrong.example'")
              && contains(O.errs, "localhost") && O.starts == 0,
              "tls: host name mismatch refused, message lists the "
              "certificate's names", O.errs);
        finish();
    }
    /* a DNS name it does list, while connecting to an IP */
    base(&hc, &c, user_tok);
    hc.tls_server_name = "kubernetes.default.svc";
    r = start("goodname", &hc, &c, 2000, 1500, 300);
    if (r == 0) {
        check(drive(5000, p_leading) == 1, "tls: tls_server_name "
              "kubernetes.default.svc accepted", O.errs);
        finish();
    }
    /* an IP it does not list: 127.0.0.2 through the relay */
    if (relay_open(&R, "127.0.0.2") == 0) {
        base(&hc, &c, user_tok);
        snprintf(url, sizeof url, "https://127.0.0.2:%d", R.port);
        hc.server = url;
        r = start("badip", &hc, &c, 2000, 1500, 300);
        if (r == 0) {
            drive(2000, p_error);
            check(has_code(LE_ETLS) && contains(O.errs, "not for '127.0.0.2'")
                  && contains(O.errs, "127.0.0.1") && O.starts == 0,
                  "tls: IP mismatch refused (iPAddress SANs checked)", O.errs);
        }
        finish();
    } else {
        check(0, "tls: relay on 127.0.0.2", strerror(errno));
    }

    /* an RSA chain (root -> intermediate -> leaf), from a plain TLS server
       that is not an API server: the handshake must succeed, the reply is
       not a Lease */
    if (rsa_port && rsa_ca) {
        base(&hc, &c, user_tok);
        snprintf(url, sizeof url, "https://127.0.0.1:%s", rsa_port);
        hc.server = url;
        hc.ca_file = rsa_ca;
        r = start("rsa", &hc, &c, 2000, 1500, 300);
        if (r == 0) {
            drive(2000, p_error);
            check(T.stats.handshakes >= 1 && !has_code(LE_ETLS),
                  "tls: RSA chain with an intermediate verifies", O.errs);
            if (verbose) printf("  . RSA server: %s\n", T.tls_version);
            finish();
        }
    }

    /* plain http: refused unless allowed, and only to loopback */
    base(&hc, &c, user_tok);
    hc.server = "http://127.0.0.1:8001";
    r = start("http", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL && contains(le_https_errmsg(&T), "allow_http"),
          "http: refused without allow_http", le_https_errmsg(&T));
    if (r == 0) finish();
    hc.allow_http = 1;
    hc.server = "http://10.1.2.3:8001";
    r = start("http", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL && contains(le_https_errmsg(&T), "loopback"),
          "http: refused to a non-loopback address", le_https_errmsg(&T));
    if (r == 0) finish();
}

static void t_errors(void) {
    le_https_config hc;
    le_config c;
    char url[128];
    int r, s, port;
    struct sockaddr_in a;
    socklen_t al = sizeof a;

    /* 403: a token without rights */
    base(&hc, &c, norbac_tok);
    r = start("norbac", &hc, &c, 2000, 1500, 300);
    if (r == 0) {
        drive(2000, p_error);
        check(O.s403 > 0 && contains(O.errs, "RBAC does not allow") &&
              O.starts == 0, "errors: token without rights -> 403 message",
              O.errs);
        finish();
    }

    /* connection refused, with backoff */
    s = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    close(s);
    base(&hc, &c, user_tok);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
    hc.server = url;
    r = start("refused", &hc, &c, 2000, 1500, 300);
    if (r == 0) {
        char m[64];
        snprintf(m, sizeof m, "127.0.0.1:%d", port);
        drive(4000, 0);
        check(has_code(LE_ECONNECT) && contains(O.errs, m) &&
              contains(O.errs, "Connection refused") &&
              contains(O.errs, "is the API server running"),
              "errors: connection refused -> names the address", O.errs);
        printf("  %llu connection attempts and %d errors in 4 s (one attempt per "
               "request: the follower polls every 0.3-0.66 s)\n",
               (unsigned long long)T.stats.failures, O.errors);
        /* every request gets its attempt, so a recovered server is seen at
           the next poll; every error names an attempt that was made */
        check(T.stats.failures >= 5 && T.stats.failures <= 16 &&
              (uint64_t)O.errors == T.stats.failures &&
              contains(O.errs, "failed connection attempts in a row"),
              "errors: one connection attempt per request, each one reported", O.errs);
        finish();
    }

    /* DNS failure */
    base(&hc, &c, user_tok);
    hc.server = "https://no-such-host.invalid:6443";
    r = start("dns", &hc, &c, 2000, 1500, 300);
    if (r == 0) {
        drive(2000, p_error);
        check(has_code(LE_ECONNECT) && contains(O.errs, "cannot resolve") &&
              contains(O.errs, "no-such-host.invalid"),
              "errors: DNS failure names the host", O.errs);
        finish();
    }

    /* a malformed URL, a path */
    base(&hc, &c, user_tok);
    hc.server = "https://127.0.0.1:6443/k8s/clusters/c-1";
    r = start("url", &hc, &c, 2000, 1500, 300);
    check(r == LE_EINVAL && contains(le_https_errmsg(&T), "has a path"),
          "errors: server URL with a path refused", le_https_errmsg(&T));
    if (r == 0) finish();
    /* hosts that are no host: what KUBERNETES_SERVICE_HOST="[" and
       _PORT="]" compose to, and a user@ part */
    {
        static const char *const bad_url[] = {"https://[:]", "https://[no-v6]:6443",
                                              "https://user@127.0.0.1:6443"};
        static const char *const why[] = {"not an IPv6 address", "not an IPv6 address",
                                          "neither a DNS name nor an IP address"};
        int i;
        for (i = 0; i < 3; i++) {
            base(&hc, &c, user_tok);
            hc.server = bad_url[i];
            r = start("url", &hc, &c, 2000, 1500, 300);
            check(r == LE_EINVAL && contains(le_https_errmsg(&T), why[i]),
                  "errors: a server URL whose host is no host refused", le_https_errmsg(&T));
            if (r == 0) finish();
        }
    }
}

/* A listener that accepts and never answers: the leader stops leading
   within RenewDeadline of the last successful renew. */
static void t_silent(void) {
    le_https_config hc;
    le_config c;
    char url[128], m[256];
    int64_t t0, lat;
    if (relay_open(&R, "127.0.0.1")) {
        check(0, "silent: relay", strerror(errno));
        return;
    }
    base(&hc, &c, user_tok);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", R.port);
    hc.server = url;
    if (start("silent", &hc, &c, 2000, 1500, 300)) {
        check(0, "silent: init", le_https_errmsg(&T));
        relay_close(&R);
        return;
    }
    if (drive(5000, p_leading) != 1) {
        check(0, "silent: leads through the relay", O.errs);
        finish();
        return;
    }
    drive(700, 0);
    R.mode = R_SILENT; /* from now on: accept, read, never answer */
    t0 = le_clock().mono_ms;
    drive(4000, p_stopped);
    lat = O.stopped_at - t0;
    snprintf(m, sizeof m, "stopped %lld ms after the server went silent "
             "(RenewDeadline 1500 ms), reason %d, %d connection(s) accepted",
             (long long)lat, (int)O.reason, R.accepted);
    printf("  %s\n", m);
    check(O.stops == 1 && O.reason == LE_STOP_DEADLINE && lat <= 1500 + 50,
          "silent: leader stops leading within RenewDeadline", m);
    check(!le_is_leader(&E, le_clock().mono_ms), "silent: le_is_leader false", 0);
    drive(2500, 0);
    check(R.accepted >= 2 && contains(O.errs, "did not complete in time"),
          "silent: a new connection that never answers is bounded too", O.errs);
    /* and it recovers when the server answers again */
    R.mode = R_RELAY;
    while (R.n) relay_drop(&R, 0, 0);
    check(drive(12000, p_leading) == 1, "silent: leads again once the server "
          "answers", O.errs);
    /* le_https_close() while a request waits for its reply */
    {
        uint64_t req;
        R.mode = R_SILENT;
        req = T.stats.requests;
        while (T.stats.requests == req) drive(5, 0); /* written, no reply */
        le_https_close(&T, &E, le_clock());
        R.mode = R_RELAY;
        while (R.n) relay_drop(&R, 0, 0);
        drive(1000, 0);
        check(has_code(LE_EIO) && contains(O.errs, "closed by le_https_close()")
              && le_is_leader(&E, le_clock().mono_ms) && O.stops == 1,
              "silent: le_https_close() fails the request in flight; the "
              "elector goes on", O.errs);
    }
    finish();
}

/* A connection reset in the middle of a reply is survived. */
static void t_reset(void) {
    le_https_config hc;
    le_config c;
    char url[128], m[200];
    if (relay_open(&R, "127.0.0.1")) {
        check(0, "reset: relay", strerror(errno));
        return;
    }
    base(&hc, &c, user_tok);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", R.port);
    hc.server = url;
    if (start("reset", &hc, &c, 2000, 1500, 300)) {
        check(0, "reset: init", le_https_errmsg(&T));
        relay_close(&R);
        return;
    }
    if (drive(5000, p_leading) != 1) {
        check(0, "reset: leads through the relay", O.errs);
        finish();
        return;
    }
    drive(700, 0);
    R.mode = R_RESET_NEXT;
    drive(3000, 0);
    snprintf(m, sizeof m, "resets %d, connections %llu, stops %d", R.resets,
             (unsigned long long)T.stats.connects, O.stops);
    check(R.resets == 1 && O.stops == 0 && le_is_leader(&E, le_clock().mono_ms)
          && T.stats.connects == 2 && has_code(LE_EIO),
          "reset: connection reset mid-reply survived, one reconnect", m);
    if (verbose) printf("  . %s\n", m);
    /* the server closes the idle keep-alive connection between renews:
       noticed while idle, reopened at the next request, no error */
    {
        uint64_t req = T.stats.requests, conns = T.stats.connects;
        int errs = O.errors;
        while (T.stats.requests == req) drive(5, 0);
        drive(60, 0); /* the reply is in; the connection idles */
        while (R.n) relay_drop(&R, 0, 0); /* FIN to the elector */
        drive(1500, 0);
        snprintf(m, sizeof m, "connections %llu -> %llu, errors %d -> %d, "
                 "stops %d", (unsigned long long)conns,
                 (unsigned long long)T.stats.connects, errs, O.errors, O.stops);
        check(T.stats.connects == conns + 1 && O.errors == errs && O.stops == 0,
              "reset: an idle connection closed by the server is reopened "
              "quietly", m);
    }
    finish();
}

/* The API server refuses connections for 2 s, less than RenewDeadline
   (3 s). The reconnect backoff (1 s, doubling) grows past the leader's
   deadline within that time; the leader must still try at every
   RetryPeriod (500 ms: renewals at about 0.5, 1, 1.5 and 2 s into the
   outage, each a PUT and client-go's slow-path GET, none put off by the
   backoff), reconnect when the server is back, and keep leading. */
static void t_outage(void) {
    le_https_config hc;
    le_config c;
    char url[128], m[200];
    int port;
    int64_t back;
    if (relay_open(&R, "127.0.0.1")) {
        check(0, "outage: relay", strerror(errno));
        return;
    }
    port = R.port;
    base(&hc, &c, user_tok);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
    hc.server = url;
    hc.backoff_min_ms = 1000;
    hc.backoff_max_ms = 8000;
    if (start("outage", &hc, &c, 4000, 3000, 500)) {
        check(0, "outage: init", le_https_errmsg(&T));
        relay_close(&R);
        return;
    }
    if (drive(5000, p_leading) != 1) {
        check(0, "outage: leads through the relay", O.errs);
        finish();
        return;
    }
    drive(300, 0);
    relay_close(&R); /* connection refused from now on */
    drive(2000, 0);
    if (relay_open_port(&R, "127.0.0.1", port)) {
        check(0, "outage: relay back on its port", strerror(errno));
        finish();
        return;
    }
    back = le_clock().mono_ms;
    drive(3500, 0);
    snprintf(m, sizeof m, "stops %d, connection failures %llu, connections %llu, "
             "leader %d", O.stops, (unsigned long long)T.stats.failures,
             (unsigned long long)T.stats.connects, le_is_leader(&E, le_clock().mono_ms));
    if (verbose) printf("  . %s (%lld ms after the server came back)\n", m,
                        (long long)(le_clock().mono_ms - back));
    check(O.stops == 0 && le_is_leader(&E, le_clock().mono_ms) && T.stats.failures >= 4 &&
          T.stats.connects >= 2,
          "outage: 2 s of refused connections (< RenewDeadline), backoff "
          "beyond the deadline: the leader tries at every RetryPeriod and "
          "keeps leading", m);
    finish();
}

/* Token rotation. The token file gets a fresh TokenRequest token (of
   another ServiceAccount) while the old token stops working.
   periodic: the file is re-read every 500 ms, the new token is in use
   before the old one's ServiceAccount is deleted: no 401 at all.
   401: no periodic reload in time (1 h); the old token's ServiceAccount is
   deleted and created again at once (new UID, same rights), so the old
   token keeps its rights but turns invalid: 401 once kube-apiserver's
   token cache (10 s) expires. The elector re-reads the file at once and
   keeps leading. */
static int p_401(void) { return O.s401 > 0; }
static void t_rotation(int periodic) {
    le_https_config hc;
    le_config c;
    char tok[4096], sa_a[128], sa_b[128], path[600], tmpp[620];
    static char m[17000];
    const char *tag = periodic ? "rot-periodic" : "rot-401";
    int got401 = 1;
    snprintf(sa_a, sizeof sa_a, "%s-%s-a", lease_prefix, tag);
    snprintf(sa_b, sizeof sa_b, "%s-%s-b", lease_prefix, tag);
    snprintf(path, sizeof path, "%s/%s.token", tmp, tag);
    snprintf(tmpp, sizeof tmpp, "%s.new", path);
    if (peer(tok, sizeof tok, "token", "--sa", sa_a, 0, 0) || !tok[0]) {
        check(0, "rotation: le-peer token", tok);
        return;
    }
    write_file(path, tok);
    base(&hc, &c, path);
    hc.token_reload_ms = periodic ? 500 : 3600000;
    if (start(tag, &hc, &c, 3000, 2000, 400)) {
        check(0, "rotation: init", le_https_errmsg(&T));
        return;
    }
    if (drive(5000, p_leading) != 1) {
        check(0, "rotation: leads with a TokenRequest token", O.errs);
        finish();
        return;
    }
    if (peer(tok, sizeof tok, "token", "--sa", sa_b, 0, 0) || !tok[0]) {
        check(0, "rotation: le-peer token (new)", tok);
        finish();
        return;
    }
    write_file(tmpp, tok);
    rename(tmpp, path); /* atomic, like the kubelet's ..data swap */
    if (periodic) {
        drive(1500, 0);
        peer(0, 0, "delete-sa", "--sa", sa_a, 0, 0);
        drive(4000, 0);
    } else {
        peer(0, 0, "delete-sa", "--sa", sa_a, 0, 0);
        peer(tok, sizeof tok, "token", "--sa", sa_a, 0, 0); /* new UID */
        got401 = drive(20000, p_401) == 1;
        drive(3000, 0);
    }
    snprintf(m, sizeof m, "401s %d, token reloads %llu, stops %d, errors: %s",
             O.s401, (unsigned long long)T.stats.token_reloads, O.stops, O.errs);
    if (periodic) {
        int errs = O.errors;
        check(O.stops == 0 && O.s401 == 0 && T.stats.token_reloads == 1 &&
              le_is_leader(&E, le_clock().mono_ms),
              "rotation: periodic reload picks up the new token, no 401, no "
              "gap", m);
        unlink(path); /* the file vanishes: keep the token, say so once */
        drive(2000, 0);
        check(O.errors == errs + 1 &&
              contains(O.errs, "still using the token read before") &&
              O.stops == 0 && le_is_leader(&E, le_clock().mono_ms),
              "rotation: a vanished token file is reported once, the token "
              "in use is kept", O.errs);
    }
    else
        check(got401 && O.stops == 0 && T.stats.token_reloads == 1 &&
              le_is_leader(&E, le_clock().mono_ms),
              "rotation: old token turns invalid -> 401 -> token file re-read "
              "at once, keeps leading without a gap", m);
    finish();
    peer(0, 0, "delete-sa", "--sa", sa_a, 0, 0);
    peer(0, 0, "delete-sa", "--sa", sa_b, 0, 0);
}

static void t_rotation_401(void) { t_rotation(0); }
static void t_rotation_periodic(void) { t_rotation(1); }

/* le_run with a transport of its own (plain callbacks) and a cancel. */
typedef struct cbt { le_https *t; int sends, recvs, closes; } cbt;
static long cb_send(void *ctx, const void *d, size_t n, int64_t deadline,
                    char *err) {
    cbt *x = (cbt *)ctx;
    (void)d; (void)n; (void)deadline;
    x->sends++;
    snprintf(err, LE_ERRMSG_MAX, "custom transport: nothing to send to");
    return LE_ECONNECT;
}
static long cb_recv(void *ctx, void *b, size_t n, int64_t deadline,
                    char *err) {
    cbt *x = (cbt *)ctx;
    (void)b; (void)n; (void)deadline; (void)err;
    x->recvs++;
    return 0;
}
static void cb_close(void *ctx) { ((cbt *)ctx)->closes++; }
static le_cancel cb_cancel;
static int64_t cb_tick(void *ctx, le_elector *e, le_time now) {
    cbt *x = (cbt *)ctx;
    (void)e;
    if (x->sends >= 3) le_cancel_fire(&cb_cancel);
    return now.mono_ms + 100;
}

static void t_run_custom(void) {
    le_config c;
    le_io io;
    cbt x;
    int r;
    memset(&c, 0, sizeof c);
    memset(&O, 0, sizeof O);
    memset(&x, 0, sizeof x);
    c.ns = "default";
    c.name = "custom";
    c.identity = "custom-0";
    c.lease_duration_ms = 2000;
    c.renew_deadline_ms = 1500;
    c.retry_period_ms = 100;
    c.on_event = on_event;
    c.user = &O;
    le_init(&E, &c);
    le_cancel_init(&cb_cancel);
    memset(&io, 0, sizeof io);
    io.ctx = &x;
    io.send = cb_send;
    io.recv = cb_recv;
    io.close = cb_close;
    io.tick = cb_tick;
    io.cancel = &cb_cancel;
    r = le_run(&E, &io);
    check(r == 0 && x.sends >= 3 && has_code(LE_ECONNECT) &&
          contains(O.errs, "custom transport"),
          "le_run: custom transport callbacks, errors reach events, cancel "
          "returns", O.errs);
    le_cancel_free(&cb_cancel);
}

/* le_run with the bundled transport, cancelled by a signal while the
   server has gone silent: the release cannot complete, le_run returns when
   it gives up (RenewDeadline), without spinning meanwhile. The relay runs
   in a child process, since le_run blocks. */
static volatile sig_atomic_t child_silent;
static void on_usr1(int sig) { (void)sig; child_silent = 1; }
static le_cancel rc_cancel;
static void on_usr2(int sig) { (void)sig; le_cancel_fire(&rc_cancel); }
typedef struct rcx { pid_t child; int64_t silenced_at, fired_at; } rcx;
static int64_t rc_tick(void *ctx, le_elector *e, le_time now) {
    rcx *x = (rcx *)ctx;
    if (!x->silenced_at && le_is_leader(e, now.mono_ms) &&
        now.mono_ms - O.started_at > 600) {
        kill(x->child, SIGUSR1);
        x->silenced_at = now.mono_ms;
    }
    if (x->silenced_at && !x->fired_at && now.mono_ms - x->silenced_at > 100) {
        x->fired_at = now.mono_ms;
        raise(SIGUSR2); /* the handler calls le_cancel_fire() */
    }
    return now.mono_ms + 50;
}
static int64_t cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static void t_run_cancel(void) {
    le_https_config hc;
    le_config c;
    le_io io;
    rcx x;
    char url[128], m[300];
    int64_t cpu0, cpu, back;
    int r;
    if (relay_open(&R, "127.0.0.1")) {
        check(0, "run-cancel: relay", strerror(errno));
        return;
    }
    memset(&x, 0, sizeof x);
    signal(SIGUSR1, on_usr1);
    x.child = fork();
    if (x.child == 0) { /* the relay */
        for (;;) {
            if (child_silent) R.mode = R_SILENT;
            drive(50, 0);
        }
    }
    close(R.lfd); /* the parent's copy */
    R.on = 0;
    base(&hc, &c, user_tok);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", R.port);
    hc.server = url;
    if (start("runcancel", &hc, &c, 2000, 1500, 300)) {
        check(0, "run-cancel: init", le_https_errmsg(&T));
        kill(x.child, SIGKILL);
        waitpid(x.child, 0, 0);
        return;
    }
    le_cancel_init(&rc_cancel);
    signal(SIGUSR2, on_usr2);
    memset(&io, 0, sizeof io);
    io.https = &T;
    io.cancel = &rc_cancel;
    io.ctx = &x;
    io.tick = rc_tick;
    cpu0 = cpu_ms();
    r = le_run(&E, &io);
    back = le_clock().mono_ms;
    cpu = cpu_ms() - cpu0;
    running = 0;
    le_https_free(&T);
    le_cancel_free(&rc_cancel);
    kill(x.child, SIGKILL);
    waitpid(x.child, 0, 0);
    snprintf(m, sizeof m, "le_run returned %d, %lld ms after the cancel, "
             "stops %d (reason %d), %lld ms CPU in le_run", r,
             (long long)(back - x.fired_at), O.stops, (int)O.reason,
             (long long)cpu);
    printf("  %s\n", m);
    check(r == 0 && x.fired_at && O.stops == 1 && O.reason == LE_STOP_CANCEL &&
          back - x.fired_at <= 1500 + 100,
          "run-cancel: a signal stops leading at once; le_run returns within "
          "RenewDeadline though the release cannot complete", m);
    check(cpu < 300, "run-cancel: no busy waiting while the release hangs", m);
}

/* Plain HTTP to a loopback address, through kubectl proxy (it adds the
   credentials): allowed only with allow_http. */
static void t_http_proxy(void) {
    le_https_config hc;
    le_config c;
    char url[64];
    const char *port = getenv("LE_TEST_PROXY_PORT");
    if (!port) {
        check(0, "http: kubectl proxy did not start (no LE_TEST_PROXY_PORT)", "");
        return;
    }
    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    snprintf(url, sizeof url, "http://127.0.0.1:%s", port);
    hc.server = url;
    hc.allow_http = 1;
    c.ns = "default";
    if (start("proxy", &hc, &c, 2000, 1500, 300)) {
        check(0, "http: init", le_https_errmsg(&T));
        return;
    }
    check(drive(5000, p_leading) == 1, "http: leads over plain HTTP through "
          "kubectl proxy (loopback, allow_http)", O.errs);
    drive(1000, 0);
    check(T.stats.connects == 1 && T.stats.handshakes == 0 && O.errors == 0,
          "http: one keep-alive connection, no TLS", O.errs);
    finish();
}

/* le_https_step under edge-triggered epoll: the descriptor is registered
   once for EPOLLIN|EPOLLOUT|EPOLLET and again only when le_step.conn says
   it is a new socket (after a reconnect the number is often the same); the
   wait honours the deadline. */
static void t_epoll(void) {
    le_https_config hc;
    le_config c;
    char m[200];
    int ep = epoll_create1(EPOLL_CLOEXEC), reg = -1, changes = 0;
    unsigned reg_conn = 0;
    uint64_t req0 = 0;
    int64_t end, dropped_at = 0;
    base(&hc, &c, user_tok);
    if (ep < 0 || start("epoll", &hc, &c, 2000, 1500, 300)) {
        check(0, "epoll: init", le_https_errmsg(&T));
        if (ep >= 0) close(ep);
        return;
    }
    end = le_clock().mono_ms + 4000;
    for (;;) {
        struct epoll_event ev, out[4];
        le_time now = le_clock();
        le_step st;
        if (now.mono_ms >= end) break;
        if (O.leading && !req0) req0 = T.stats.requests;
        if (O.leading && !dropped_at && T.stats.requests >= req0 + 3) {
            drive(60, 0); /* the reply is in: the connection idles */
            le_https_close(&T, &E, le_clock()); /* a new connection */
            dropped_at = now.mono_ms;
            continue;
        }
        st = le_https_step(&T, &E, now);
        if (st.fd != reg || st.conn != reg_conn) {
            if (reg >= 0) epoll_ctl(ep, EPOLL_CTL_DEL, reg, 0); /* may be gone */
            if (st.fd >= 0) {
                memset(&ev, 0, sizeof ev);
                ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
                ev.data.fd = st.fd;
                epoll_ctl(ep, EPOLL_CTL_ADD, st.fd, &ev);
                changes++;
            }
            reg = st.fd;
            reg_conn = st.conn;
        }
        epoll_wait(ep, out, 4, le_timeout_ms(st.deadline < end ? st.deadline : end,
                                             le_clock().mono_ms));
    }
    snprintf(m, sizeof m, "leading %d, stops %d, errors %d, requests %llu, "
             "connections %llu, fd registrations %d", O.leading, O.stops, O.errors,
             (unsigned long long)T.stats.requests,
             (unsigned long long)T.stats.connects, changes);
    check(O.leading && O.stops == 0 && O.errors == 0 && T.stats.connects == 2 &&
          T.stats.requests >= req0 + 8,
          "epoll: edge-triggered loop, fd re-registered after a reconnect", m);
    close(ep);
    finish();
}

typedef struct scen { const char *name; void (*fn)(void); } scen;
static const scen scens[] = {
    {"steady", t_steady},
    {"incluster", t_incluster},
    {"kubeconfig", t_kubeconfig},
    {"tls", t_tls},
    {"errors", t_errors},
    {"silent", t_silent},
    {"reset", t_reset},
    {"outage", t_outage},
    {"rotation-401", t_rotation_401},
    {"rotation-periodic", t_rotation_periodic},
    {"run-custom", t_run_custom},
    {"run-cancel", t_run_cancel},
    {"http-proxy", t_http_proxy},
    {"epoll", t_epoll},
};

static const char *need(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "test_https: %s is not set (run tests/https/run.sh)\n",
                name);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    size_t i;
    int a, any = 0;
    const char *colon;
    signal(SIGPIPE, SIG_IGN);
    server = need("LE_SERVER");
    ca = need("LE_CA");
    user_tok = need("LE_USER_TOKEN_FILE");
    admin_tok = need("LE_ADMIN_TOKEN_FILE");
    norbac_tok = need("LE_NORBAC_TOKEN_FILE");
    kubecfg = need("LE_KUBECONFIG");
    user_cert = need("LE_USER_CERT");
    user_key = need("LE_USER_KEY");
    peer_bin = need("LE_PEER");
    tmp = need("LE_TEST_TMP");
    wrong_ca = need("LE_TEST_WRONG_CA");
    rsa_port = getenv("LE_TEST_RSA_PORT");
    rsa_ca = getenv("LE_TEST_RSA_CA");
    (void)admin_tok;
    colon = strrchr(server, ':');
    api_port = colon ? atoi(colon + 1) : 443;
    snprintf(lease_prefix, sizeof lease_prefix, "h%ld", (long)getpid());
    unsetenv("POD_NAME");
    unsetenv("POD_NAMESPACE");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    printf("test_https: %s, %s\n", MBEDTLS_VERSION_STRING_FULL, server);
    for (a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "-v")) {
            verbose = 1;
            continue;
        }
        for (i = 0; i < sizeof scens / sizeof scens[0]; i++)
            if (!strcmp(argv[a], scens[i].name)) break;
        if (i == sizeof scens / sizeof scens[0]) {
            fprintf(stderr, "test_https: no scenario '%s'\n", argv[a]);
            return 2;
        }
    }
    for (i = 0; i < sizeof scens / sizeof scens[0]; i++) {
        int run = 1;
        for (a = 1; a < argc; a++) {
            if (!strcmp(argv[a], "-v")) continue;
            run = 0;
            any = 1;
        }
        for (a = 1; a < argc && !run; a++)
            if (!strcmp(argv[a], scens[i].name)) run = 1;
        if (!run) continue;
        printf("-- %s\n", scens[i].name);
        fflush(stdout);
        scens[i].fn();
    }
    (void)any;
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
