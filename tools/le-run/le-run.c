/* le-run - run a program only while this replica holds a Kubernetes Lease.

     le-run --lease NAME [options] -- CMD ARGS...

   While this replica leads, CMD runs in its own process group; when
   leadership ends the group gets SIGTERM at once and SIGKILL after --grace,
   and the grace is bounded so that the group is dead before any other
   replica can take the Lease. --once KEY runs CMD to success once per KEY
   across all replicas (migrations). --http serves /healthz, /leader and
   /metrics from the same poll loop. Everything is in le-run --help.

   Process layout: le-run (elector, HTTP, supervision) forks a watchdog that
   holds the read end of a pipe only le-run can write to; it is told the
   process group of the running CMD and kills that group when the pipe hits
   EOF, i.e. when le-run dies in any way, kill -9 included. CMD itself also
   gets PR_SET_PDEATHSIG, and does not exec before the watchdog knows its
   group. le-run is a child subreaper (and reaps everything as PID 1), so
   whatever CMD leaves behind is reaped here. */
#define _POSIX_C_SOURCE 200809L
#define LE_IMPLEMENTATION
#define LE_HTTPS
#include "le.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LE_RUN_VERSION "0.1.0"
#define KILL_MARGIN_MS 500   /* of LeaseDuration - RenewDeadline, for SIGKILL to land */
#define HTTP_CONNS 8
#define HTTP_IN 1024
#define HTTP_OUT 6144
#define HTTP_TIMEOUT_MS 2000 /* a whole request and its reply, per connection */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define EXIT_LOST 3          /* --exit-on-loss */
#define ERR_KINDS 19

/* ---- options -------------------------------------------------------------- */

enum { K_STR, K_DUR, K_FLAG };
enum {
    O_LEASE, O_NAMESPACE, O_IDENTITY, O_KUBECONFIG, O_CONTEXT, O_SERVER, O_CA,
    O_TOKEN_FILE, O_LEASE_DURATION, O_RENEW_DEADLINE, O_RETRY_PERIOD, O_GRACE,
    O_RESTART, O_EXIT_ON_LOSS, O_ONCE, O_ONCE_RECORD, O_HTTP, O_HEALTHZ_TIMEOUT,
    O_COUNT
};

typedef struct opt {
    const char *name, *arg, *env, *def, *help;
    int kind;
} opt;

static const opt OPTS[O_COUNT] = {
    {"lease", "NAME", "LE_RUN_LEASE", "(required)",
     "name of the coordination.k8s.io/v1 Lease all replicas share", K_STR},
    {"namespace", "NS", "LE_RUN_NAMESPACE",
     "$POD_NAMESPACE, the service account's, the kubeconfig context's, \"default\"",
     "namespace of the Lease", K_STR},
    {"identity", "ID", "LE_RUN_IDENTITY", "$POD_NAME, else host name + random suffix",
     "this replica's holderIdentity; unique per replica", K_STR},
    {"kubeconfig", "FILE", "LE_RUN_KUBECONFIG", "$KUBECONFIG outside a cluster",
     "kubeconfig with a token or client-certificate user (in a pod: the "
     "service account is used)", K_STR},
    {"context", "NAME", "LE_RUN_CONTEXT", "current-context", "kubeconfig context",
     K_STR},
    {"server", "URL", "LE_RUN_SERVER", "in cluster / kubeconfig",
     "API server, https://host:port (with --ca and --token-file)", K_STR},
    {"ca", "FILE", "LE_RUN_CA", "the service account's ca.crt",
     "PEM CA bundle to verify the API server with", K_STR},
    {"token-file", "FILE", "LE_RUN_TOKEN_FILE", "the service account's token",
     "bearer token file (re-read every minute and after a 401)", K_STR},
    {"lease-duration", "D", "LE_RUN_LEASE_DURATION", "15s",
     "how long followers wait after the last renew they saw (whole seconds)",
     K_DUR},
    {"renew-deadline", "D", "LE_RUN_RENEW_DEADLINE", "10s",
     "the leader stops leading (and stops CMD) when no renew succeeded for "
     "this long", K_DUR},
    {"retry-period", "D", "LE_RUN_RETRY_PERIOD", "2s",
     "renew interval; followers poll every RetryPeriod x [1, 2.2)", K_DUR},
    {"grace", "D", "LE_RUN_GRACE", "LeaseDuration - RenewDeadline - 500ms (4.5s)",
     "time between SIGTERM and SIGKILL of CMD's process group; at most "
     "LeaseDuration - RenewDeadline - 500ms, so CMD is dead before another "
     "replica can take over", K_DUR},
    {"restart", 0, "LE_RUN_RESTART", "off",
     "when CMD exits while leading, run it again (backoff 1s doubling to 30s, "
     "reset after 30s of running) instead of releasing the Lease and exiting "
     "with its status", K_FLAG},
    {"exit-on-loss", 0, "LE_RUN_EXIT_ON_LOSS", "off",
     "when leadership is lost, exit 3 once CMD is dead instead of contending "
     "again", K_FLAG},
    {"once", "KEY", "LE_RUN_ONCE", "off",
     "run CMD to success once per KEY across all replicas (see ONCE)", K_STR},
    {"once-record", "NAME", "LE_RUN_ONCE_RECORD", "once",
     "record that holds the done KEYs: annotation le.h/NAME on the Lease", K_STR},
    {"http", "ADDR", "LE_RUN_HTTP", "off",
     "serve /healthz, /leader, /metrics on ADDR (host:port, :port, [v6]:port)",
     K_STR},
    {"healthz-timeout", "D", "LE_RUN_HEALTHZ_TIMEOUT", "20s",
     "/healthz fails when this replica believes it leads and its last renew "
     "is older than LeaseDuration + this", K_DUR},
};

static const char HELP_HEAD[] =
"usage: le-run --lease NAME [options] -- CMD [ARGS...]\n"
"\n"
"Runs CMD only while this replica holds the Lease NAME: contends for it,\n"
"starts CMD in its own process group when leading, and on loss of\n"
"leadership sends SIGTERM to the group at once and SIGKILL after --grace.\n"
"--grace is bounded so that the group is dead before any other replica can\n"
"take over. Then it contends again (or exits 3 with --exit-on-loss). When\n"
"CMD exits on its own, le-run kills what is left in its group, releases the\n"
"Lease and exits with CMD's status (128+N for signal N), or runs it again\n"
"with --restart. SIGTERM/SIGINT: CMD is stopped the same way, the Lease\n"
"released, exit 0. SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH are\n"
"forwarded to CMD's group. If le-run itself dies (kill -9), its watchdog\n"
"process kills CMD's group at once. As PID 1 it reaps every orphan.\n"
"CMD's environment: LE_TERM (leaseTransitions of this tenure: a fencing\n"
"token), LE_IDENTITY, LE_LEASE, LE_NAMESPACE, LE_ONCE (with --once).\n"
"\n"
"Every option can also be set by its environment variable (the option\n"
"wins); flags take 1/true/yes or 0/false/no. Durations: 500ms, 4s, 1m30s.\n"
"In a pod nothing else is needed: server, CA, token and namespace come\n"
"from the service account. Outside: --kubeconfig (or KUBECONFIG), or\n"
"--server with --ca and --token-file.\n"
"\n"
"options:\n";

static const char HELP_TAIL[] =
"  --help, --version\n"
"\n"
"ONCE (--once KEY, e.g. the release version; for migrations and setup)\n"
"  All replicas contend for the Lease; the leader runs CMD unless KEY is\n"
"  already recorded. On success it records KEY in the annotation\n"
"  le.h/NAME (--once-record) as part of a renew, a write the API server\n"
"  applies only if this replica still holds the Lease (conditional on its\n"
"  resourceVersion), waits until the stored Lease shows it, releases the\n"
"  Lease and exits 0. The other replicas wait and exit 0 once they see KEY\n"
"  recorded; a replica started later exits 0 at once. Two CMDs never run at\n"
"  the same time (the same rule as above). Exactly what is guaranteed:\n"
"  - KEY recorded means a CMD for KEY exited 0 on the replica that recorded\n"
"    it, and every replica that sees it exits 0 without running CMD.\n"
"  - A runner that dies or loses the Lease while CMD runs: its CMD group is\n"
"    killed first, then another replica takes over and runs CMD again. What\n"
"    the killed CMD did is left as it was: make it one transaction, or\n"
"    safe to run again.\n"
"  - A runner that dies between CMD's success and the stored record: CMD\n"
"    runs again on the next leader (at least once, not exactly once). A\n"
"    runner that only lost the Lease in that window writes just the record\n"
"    when it leads again.\n"
"  - CMD fails (non-zero): nothing is recorded; this replica releases the\n"
"    Lease and exits with CMD's status, so a waiting replica runs CMD next;\n"
"    with --restart it retries itself with backoff while it leads. A pod's\n"
"    restart policy retries the rest.\n"
"  The record keeps the done KEYs, newest first, separated by spaces, as\n"
"  many as fit in 1024 bytes: a rollback to an older KEY still in it runs\n"
"  nothing; a KEY that fell off the end runs again. To run a KEY again,\n"
"  remove the annotation (kubectl annotate lease NAME le.h/once-).\n"
"\n"
"HTTP (--http)\n"
"  /healthz  200 \"ok\"; 500 when this replica believes it holds the Lease\n"
"            and its last successful renew is older than LeaseDuration +\n"
"            --healthz-timeout (client-go's HealthzAdaptor rule)\n"
"  /leader   {\"name\":\"<holder>\"} as last observed (\"\" when free)\n"
"  /metrics  Prometheus text: leader_election_master_status{name},\n"
"            leader_election_slowpath_total{name} (client-go's names) and\n"
"            le_run_* counters\n"
"  At most 8 connections, 1 KB requests, 2 s per connection; never blocks\n"
"  the elector.\n"
"\n"
"exit status: CMD's (128+N for signal N); 0 after SIGTERM/SIGINT and when\n"
"--once is done; 1 for bad options or configuration, an API server that\n"
"refuses our credentials or RBAC before the first successful request, or\n"
"an internal failure; 3 with --exit-on-loss.\n";

/* ---- state ------------------------------------------------------------------ */

typedef struct hconn {
    int fd;
    unsigned seq;
    int64_t deadline;
    size_t in_len, out_len, out_off;
    int writing;
    char in[HTTP_IN];
    char out[HTTP_OUT];
} hconn;

enum { ONCE_OFF, ONCE_WAIT, ONCE_RECORDING, ONCE_DONE };

typedef struct run {
    /* configuration */
    const char *val[O_COUNT];
    int64_t lease_ms, renew_ms, retry_ms, grace_ms, healthz_ms;
    int restart, exit_on_loss;
    char **cmd;
    const char *ns, *name, *id;
    /* elector */
    le_elector *e;
    le_https *t;
    int contact;        /* a reply from the API server was understood */
    int fatal;          /* exit 1 after stopping */
    int elector_stopped;
    int quit;           /* stop CMD, release, exit */
    int exit_code;
    uint64_t leader_changes, err_by[ERR_KINDS + 1];
    /* CMD */
    pid_t pid, pgid;    /* pid: the direct child, 0 once reaped; pgid: 0 once
                           the whole group is gone */
    int64_t started_at, term_at, kill_at;
    int killed, status, have_status, stop_asked;
    int64_t restart_at, backoff_ms;
    uint64_t starts, exits;
    int last_exit;
    /* watchdog */
    pid_t wd_pid;
    int wd_fd, wd_ack;
    /* --once */
    int once;
    char once_val[LE_RECORD_MAX + 1];
    int once_ok;        /* CMD succeeded here; only the record is missing */
    uint64_t once_runs;
    /* HTTP */
    int lfd;
    int64_t lfd_paused_until;
    unsigned hseq;
    hconn h[HTTP_CONNS];
} run;

static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_got[65];

static const char *log_id = "";

/* ---- output: write(2), no stdio ---------------------------------------------- */

/* On the minimal mbedTLS (tools/mbedtls) formatting comes from its
   snprintf without floating point: with no printf, stdio or strtol left, a
   static le-run is 17 KB smaller. */
#if defined(MBEDTLS_PLATFORM_VSNPRINTF_MACRO)
#define lr_snprintf le_mbedtls_snprintf
#define lr_vsnprintf le_mbedtls_vsnprintf
#else
#include <stdio.h>
#define lr_snprintf snprintf
#define lr_vsnprintf vsnprintf
#endif

static void out_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void out_str(int fd, const char *s) { out_all(fd, s, strlen(s)); }

/* one line to fd: PREFIX, then fmt, then a newline, in one write */
static void out_line(int fd, const char *prefix, const char *fmt, va_list ap) {
    char b[1024];
    size_t n = strlen(prefix);
    int m;
    if (n > sizeof b / 2) n = sizeof b / 2;
    memcpy(b, prefix, n);
    m = lr_vsnprintf(b + n, sizeof b - n - 1, fmt, ap);
    if (m > 0) n += (size_t)m < sizeof b - n - 1 ? (size_t)m : sizeof b - n - 2;
    b[n++] = '\n';
    out_all(fd, b, n);
}

static void say(const char *fmt, ...) {
    char pre[300];
    va_list ap;
    lr_snprintf(pre, sizeof pre, "le-run[%s]: ", log_id);
    va_start(ap, fmt);
    out_line(2, pre, fmt, ap);
    va_end(ap);
}

static int64_t mono(void) { return le_clock().mono_ms; }

static void on_signal(int s) {
    int saved = errno;
    unsigned char c = (unsigned char)s;
    ssize_t w;
    if (s > 0 && s < 65) sig_got[s] = 1;
    w = write(sig_pipe[1], &c, 1); /* a full pipe has woken the loop already */
    (void)w;
    errno = saved;
}

static void cloexec_nonblock(int fd, int nonblock) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (nonblock) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static const char *signame(int s) {
    switch (s) {
    case SIGHUP: return "SIGHUP"; case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT"; case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV"; case SIGTERM: return "SIGTERM";
    case SIGABRT: return "SIGABRT"; case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2"; case SIGPIPE: return "SIGPIPE";
    case SIGBUS: return "SIGBUS"; case SIGFPE: return "SIGFPE";
    case SIGALRM: return "SIGALRM";
    }
    return "a signal";
}

/* ---- parsing ---------------------------------------------------------------- */

/* "1h2m3.5s", "500ms", "0": milliseconds, or -1. Integers only (no
   strtod: a static binary without the float scanner is 6 KB smaller). */
static int64_t parse_dur(const char *s) {
    int64_t total = 0;
    const char *p = s;
    if (!strcmp(s, "0")) return 0;
    if (!*p) return -1;
    while (*p) {
        int64_t whole = 0, frac = 0, scale = 1, unit;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            whole = whole * 10 + (*p++ - '0');
            digits++;
            if (whole > 1000000000) return -1;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                if (scale < 1000000) { frac = frac * 10 + (*p - '0'); scale *= 10; }
                p++;
                digits++;
            }
        }
        if (!digits) return -1;
        if (!strncmp(p, "ms", 2)) { unit = 1; p += 2; }
        else if (*p == 's') { unit = 1000; p++; }
        else if (*p == 'm') { unit = 60000; p++; }
        else if (*p == 'h') { unit = 3600000; p++; }
        else return -1;
        total += whole * unit + (frac * unit + scale / 2) / scale;
        if (total > (int64_t)86400000 * 366) return -1;
    }
    return total;
}

static int parse_flag(const char *s) {
    if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes")) return 1;
    if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") || !*s) return 0;
    return -1;
}

static void fmt_ms(char *b, size_t n, int64_t ms) {
    if (ms % 1000 == 0) lr_snprintf(b, n, "%llds", (long long)(ms / 1000));
    else lr_snprintf(b, n, "%lldms", (long long)ms);
}

/* "  --name ARG   help..." wrapped at 79 columns, then the variable and default */
static void usage_line(const opt *o) {
    char left[64], b[200];
    const char *h = o->help;
    int first = 1;
    if (o->arg) lr_snprintf(left, sizeof left, "--%s %s", o->name, o->arg);
    else lr_snprintf(left, sizeof left, "--%s", o->name);
    while (*h) {
        size_t n = strlen(h);
        if (n > 52) {
            n = 52;
            while (n > 0 && h[n] != ' ') n--;
            if (n == 0) n = 52;
        }
        lr_snprintf(b, sizeof b, "  %-24s %.*s\n", first ? left : "", (int)n, h);
        out_str(1, b);
        first = 0;
        h += n;
        while (*h == ' ') h++;
    }
    lr_snprintf(b, sizeof b, "  %-24s [$%s; default: %s]\n", "", o->env, o->def);
    out_str(1, b);
}

static void help(void) {
    int i;
    out_str(1, HELP_HEAD);
    for (i = 0; i < O_COUNT; i++) usage_line(&OPTS[i]);
    out_str(1, HELP_TAIL);
}

static int bad(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    out_line(2, "le-run: ", fmt, ap);
    va_end(ap);
    return 1;
}

static int once_key_ok(const char *k) {
    size_t n = strlen(k), i;
    if (n == 0 || n > 253) return 0;
    for (i = 0; i < n; i++)
        if (k[i] <= ' ' || k[i] >= 0x7f) return 0;
    return 1;
}

/* Options from the environment first, then the command line. */
static int parse_args(run *r, int argc, char **argv) {
    int i, j;
    int64_t max_grace;
    for (i = 0; i < O_COUNT; i++) {
        const char *v = getenv(OPTS[i].env);
        if (v && *v) r->val[i] = v;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *eq;
        size_t n;
        if (!strcmp(a, "--")) { i++; break; }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); exit(0); }
        if (!strcmp(a, "--version")) {
            char b[160];
            lr_snprintf(b, sizeof b, "le-run %s (le.h %s, mbedTLS %s%s)\n", LE_RUN_VERSION,
                   LE_RUN_VERSION, MBEDTLS_VERSION_STRING,
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
                   ", TLS 1.2 and 1.3"
#else
                   ", TLS 1.2"
#endif
                   );
            out_str(1, b);
            exit(0);
        }
        if (strncmp(a, "--", 2)) {
            if (a[0] == '-') return bad("unknown option %s (see le-run --help)", a);
            break; /* CMD without "--" */
        }
        a += 2;
        eq = strchr(a, '=');
        n = eq ? (size_t)(eq - a) : strlen(a);
        for (j = 0; j < O_COUNT; j++)
            if (strlen(OPTS[j].name) == n && !strncmp(OPTS[j].name, a, n)) break;
        if (j == O_COUNT) return bad("unknown option --%.*s (see le-run --help)", (int)n, a);
        if (OPTS[j].kind == K_FLAG) {
            r->val[j] = eq ? eq + 1 : "1";
        } else if (eq) {
            r->val[j] = eq + 1;
        } else {
            if (i + 1 >= argc) return bad("--%s needs a value (%s)", OPTS[j].name, OPTS[j].arg);
            r->val[j] = argv[++i];
        }
    }
    if (i >= argc) return bad("no command: le-run [options] -- CMD [ARGS...] (see le-run --help)");
    r->cmd = argv + i;
    if (!r->val[O_LEASE]) return bad("no Lease name: give --lease NAME or $LE_RUN_LEASE");
    for (j = 0; j < O_COUNT; j++) {
        const char *v = r->val[j];
        if (!v) continue;
        if (OPTS[j].kind == K_DUR && parse_dur(v) < 0)
            return bad("--%s %s: not a duration (examples: 500ms, 4s, 1m30s) [$%s]",
                       OPTS[j].name, v, OPTS[j].env);
        if (OPTS[j].kind == K_FLAG && parse_flag(v) < 0)
            return bad("--%s=%s: a flag takes 1/true/yes or 0/false/no [$%s]",
                       OPTS[j].name, v, OPTS[j].env);
        if (OPTS[j].kind == K_STR && !*v)
            return bad("--%s: empty value [$%s]", OPTS[j].name, OPTS[j].env);
    }
    r->lease_ms = r->val[O_LEASE_DURATION] ? parse_dur(r->val[O_LEASE_DURATION]) : 15000;
    r->renew_ms = r->val[O_RENEW_DEADLINE] ? parse_dur(r->val[O_RENEW_DEADLINE]) : 10000;
    r->retry_ms = r->val[O_RETRY_PERIOD] ? parse_dur(r->val[O_RETRY_PERIOD]) : 2000;
    r->healthz_ms = r->val[O_HEALTHZ_TIMEOUT] ? parse_dur(r->val[O_HEALTHZ_TIMEOUT]) : 20000;
    r->restart = r->val[O_RESTART] ? parse_flag(r->val[O_RESTART]) : 0;
    r->exit_on_loss = r->val[O_EXIT_ON_LOSS] ? parse_flag(r->val[O_EXIT_ON_LOSS]) : 0;
    if (r->lease_ms > INT_MAX || r->renew_ms > INT_MAX || r->retry_ms > INT_MAX)
        return bad("durations above 24 days are not supported");
    if (r->lease_ms % 1000)
        return bad("--lease-duration %s: the Lease stores whole seconds; give e.g. %llds",
                   r->val[O_LEASE_DURATION], (long long)(r->lease_ms / 1000 + 1));
    if (r->lease_ms <= r->renew_ms)
        return bad("--lease-duration must be longer than --renew-deadline (%lld ms <= %lld ms): "
                   "the gap is the time a stopped leader has to stop CMD before others take over",
                   (long long)r->lease_ms, (long long)r->renew_ms);
    if (r->renew_ms * 10 <= r->retry_ms * 12)
        return bad("--renew-deadline must be longer than 1.2 x --retry-period "
                   "(client-go's rule: several renews must fit into it)");
    max_grace = r->lease_ms - r->renew_ms - KILL_MARGIN_MS;
    if (max_grace < 0) {
        char l[32], d[32];
        fmt_ms(l, sizeof l, r->lease_ms);
        fmt_ms(d, sizeof d, r->renew_ms);
        return bad("--lease-duration %s - --renew-deadline %s leaves less than 500ms: another "
                   "replica may take over that long after this one stops leading, and le-run "
                   "needs 500ms of it to be sure CMD is dead. Make the difference at least 1s.",
                   l, d);
    }
    if (r->val[O_GRACE]) {
        r->grace_ms = parse_dur(r->val[O_GRACE]);
        if (r->grace_ms > max_grace) {
            char g[32], l[32], d[32], m[32], diff[32];
            fmt_ms(g, sizeof g, r->grace_ms);
            fmt_ms(l, sizeof l, r->lease_ms);
            fmt_ms(d, sizeof d, r->renew_ms);
            fmt_ms(m, sizeof m, max_grace);
            fmt_ms(diff, sizeof diff, r->lease_ms - r->renew_ms);
            return bad("--grace %s is too long: another replica can take the Lease %s "
                       "(LeaseDuration %s - RenewDeadline %s) after this one stops leading, "
                       "and CMD must be dead by then; le-run keeps 500ms of that for SIGKILL "
                       "to land, so --grace can be at most %s. Shorten --grace, or lengthen "
                       "--lease-duration (or shorten --renew-deadline) on every replica.",
                       g, diff, l, d, m);
        }
    } else {
        r->grace_ms = max_grace;
    }
    if (r->val[O_ONCE]) {
        if (!once_key_ok(r->val[O_ONCE]))
            return bad("--once %s: KEY must be 1 to 253 printable ASCII characters "
                       "without spaces (e.g. the release version)", r->val[O_ONCE]);
        if (strlen(r->val[O_ONCE]) + 1 > LE_RECORD_MAX)
            return bad("--once: KEY longer than the record (%d bytes)", LE_RECORD_MAX);
        r->once = ONCE_WAIT;
    }
    if (r->val[O_ONCE_RECORD]) {
        const char *k = r->val[O_ONCE_RECORD];
        size_t n = strlen(k), q;
        int okk = n >= 1 && n <= LE_RECORD_KEY_MAX;
        for (q = 0; okk && q < n; q++) {
            char c = k[q];
            int an = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            if (!an && ((c != '-' && c != '_' && c != '.') || q == 0 || q == n - 1)) okk = 0;
        }
        if (!okk)
            return bad("--once-record %s: 1 to %d of [A-Za-z0-9._-], starting and ending "
                       "with a letter or digit (it becomes the annotation le.h/NAME)",
                       k, LE_RECORD_KEY_MAX);
    }
    return 0;
}

/* ---- the watchdog ------------------------------------------------------------ */

/* Runs in its own process: reads process-group ids from rfd (0 = none) and
   acknowledges each on afd; when rfd hits EOF (le-run died or exited) it
   kills the last group it was given, and exits. */
static void watchdog_main(int rfd, int afd) {
    pid_t g = 0;
    int i;
    static const int ign[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
                              SIGPIPE, SIGWINCH, SIGCHLD};
    struct sigaction sa;
    sigset_t none;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < (int)(sizeof ign / sizeof ign[0]); i++) sigaction(ign[i], &sa, 0);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, 0);
    for (i = 3; i < 1024; i++)
        if (i != rfd && i != afd) close(i);
    prctl(PR_SET_NAME, "le-run-watchdog", 0, 0, 0);
    for (;;) {
        int32_t v;
        ssize_t n = read(rfd, &v, sizeof v);
        if (n == (ssize_t)sizeof v) {
            ssize_t w;
            g = (pid_t)v;
            w = write(afd, "k", 1);
            (void)w;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break; /* EOF: le-run is gone */
    }
    if (g > 0) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        for (i = 0; i < 100; i++) { /* until the group is reaped by somebody */
            if (kill(-g, SIGKILL) < 0 && errno == ESRCH) break;
            nanosleep(&ts, 0);
        }
    }
    _exit(0);
}

static int watchdog_start(run *r) {
    int to[2], back[2];
    pid_t p;
    if (pipe(to) || pipe(back)) return -1;
    p = fork();
    if (p < 0) {
        close(to[0]); close(to[1]); close(back[0]); close(back[1]);
        return -1;
    }
    if (p == 0) {
        close(to[1]);
        close(back[0]);
        watchdog_main(to[0], back[1]);
    }
    close(to[0]);
    close(back[1]);
    cloexec_nonblock(to[1], 0);
    cloexec_nonblock(back[0], 0);
    r->wd_pid = p;
    r->wd_fd = to[1];
    r->wd_ack = back[0];
    return 0;
}

/* Tells the watchdog which group to kill; 0 once it knows (1 s at most). */
static int watchdog_set(run *r, pid_t g) {
    int32_t v = (int32_t)g;
    struct pollfd p;
    char c;
    if (r->wd_fd < 0) return -1;
    if (write(r->wd_fd, &v, sizeof v) != (ssize_t)sizeof v) return -1;
    p.fd = r->wd_ack;
    p.events = POLLIN;
    p.revents = 0;
    while (poll(&p, 1, 1000) < 0 && errno == EINTR) {}
    if (!(p.revents & POLLIN) || read(r->wd_ack, &c, 1) != 1) return -1;
    return 0;
}

static void watchdog_lost(run *r) {
    if (r->wd_fd >= 0) close(r->wd_fd);
    if (r->wd_ack >= 0) close(r->wd_ack);
    r->wd_fd = r->wd_ack = -1;
    r->wd_pid = 0;
}

/* ---- CMD -------------------------------------------------------------------- */

static int child_active(const run *r) { return r->pgid != 0; }

static void set_env_num(const char *k, long long v) {
    char b[32];
    lr_snprintf(b, sizeof b, "%lld", v);
    setenv(k, b, 1);
}

static void child_start(run *r, le_time now) {
    int go[2], i;
    pid_t p, parent = getpid();
    long long term = (long long)le_term(r->e);
    if (r->wd_fd < 0) {
        say("not starting CMD: no watchdog to kill it if le-run dies");
        r->restart_at = now.mono_ms + 1000;
        return;
    }
    if (pipe(go)) {
        say("not starting CMD: pipe: %s", strerror(errno));
        r->restart_at = now.mono_ms + 1000;
        return;
    }
    p = fork();
    if (p < 0) {
        say("not starting CMD: fork: %s", strerror(errno));
        close(go[0]); close(go[1]);
        r->restart_at = now.mono_ms + 1000;
        return;
    }
    if (p == 0) {
        struct sigaction sa;
        sigset_t none;
        char b;
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != parent) _exit(127); /* le-run died before prctl */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        for (i = 1; i < 65; i++) sigaction(i, &sa, 0);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, 0);
        close(go[1]);
        /* no exec before the watchdog knows this group: EOF = le-run died */
        if (read(go[0], &b, 1) != 1) _exit(127);
        close(go[0]);
        set_env_num("LE_TERM", term);
        setenv("LE_IDENTITY", r->id, 1);
        setenv("LE_LEASE", r->name, 1);
        setenv("LE_NAMESPACE", r->ns, 1);
        if (r->once) setenv("LE_ONCE", r->val[O_ONCE], 1);
        execvp(r->cmd[0], r->cmd);
        {
            int err = errno;
            char b[600];
            lr_snprintf(b, sizeof b, "le-run[%s]: cannot run %s: %s%s\n", r->id, r->cmd[0],
                        strerror(err), err == ENOENT ? " (not found in $PATH)" : "");
            out_str(2, b);
            _exit(err == ENOENT ? 127 : 126);
        }
    }
    setpgid(p, p); /* also here, so it holds before either side goes on */
    close(go[0]);
    r->pid = p;
    r->pgid = p;
    r->started_at = now.mono_ms;
    r->term_at = r->kill_at = 0;
    r->killed = r->have_status = r->stop_asked = 0;
    if (watchdog_set(r, p)) {
        say("watchdog does not answer; killing CMD before it starts");
        kill(p, SIGKILL);
        close(go[1]);
        r->stop_asked = 1;
        r->restart_at = now.mono_ms + 1000;
        return;
    }
    if (write(go[1], "g", 1) != 1) kill(p, SIGKILL);
    close(go[1]);
    r->starts++;
    if (r->once) r->once_runs++;
    say("leading (term %lld): started %s (pid %ld)%s%s", term, r->cmd[0], (long)p,
        r->once ? " for once key " : "", r->once ? r->val[O_ONCE] : "");
}

/* SIGTERM to the group now, SIGKILL at grace. */
static void child_stop(run *r, int64_t now, const char *why) {
    if (!child_active(r) || r->term_at) return;
    r->term_at = now;
    r->kill_at = now + r->grace_ms;
    r->stop_asked = 1;
    say("stopping %s (group %ld): %s; SIGKILL in %lld ms", r->cmd[0], (long)r->pgid,
        why, (long long)r->grace_ms);
    kill(-r->pgid, SIGTERM);
    kill(-r->pgid, SIGCONT); /* a stopped process acts on SIGTERM only when continued */
    if (r->grace_ms == 0) {
        kill(-r->pgid, SIGKILL);
        r->killed = 1;
    }
}

static void reap(run *r) {
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p <= 0) break;
        if (p == r->wd_pid) {
            say("the watchdog exited; starting a new one");
            watchdog_lost(r);
            continue;
        }
        if (p == r->pid) {
            r->pid = 0;
            r->status = st;
            r->have_status = 1;
            r->exits++;
            r->last_exit = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            if (WIFEXITED(st))
                say("%s exited with status %d", r->cmd[0], WEXITSTATUS(st));
            else
                say("%s was killed by %s%s", r->cmd[0], signame(WTERMSIG(st)),
                    r->killed && WTERMSIG(st) == SIGKILL ? " (grace ran out)" : "");
            /* what CMD left in its group dies with it */
            if (r->pgid) kill(-r->pgid, SIGKILL);
        }
        /* anything else: an orphan we adopted as subreaper or PID 1 */
    }
    if (r->pgid && !r->pid) {
        if (kill(-r->pgid, SIGKILL) < 0 && errno == ESRCH) {
            r->pgid = 0;
            if (watchdog_set(r, 0)) say("watchdog does not answer");
        }
    }
}

/* ---- --once ----------------------------------------------------------------- */

static int once_seen(const run *r) {
    char v[LE_RECORD_MAX + 1];
    const char *k = r->val[O_ONCE], *p;
    size_t kl = strlen(k);
    long n = le_record_get(r->e, r->val[O_ONCE_RECORD] ? r->val[O_ONCE_RECORD] : "once",
                           v, sizeof v);
    if (n < 0) return 0;
    for (p = v; *p;) {
        const char *q = strchr(p, ' ');
        size_t l = q ? (size_t)(q - p) : strlen(p);
        if (l == kl && !memcmp(p, k, kl)) return 1;
        if (!q) break;
        p = q + 1;
    }
    return 0;
}

/* KEY first, then the other KEYs already recorded, as many as fit. */
static void once_value(run *r) {
    char old[LE_RECORD_MAX + 1];
    const char *k = r->val[O_ONCE], *p;
    size_t kl = strlen(k), len;
    long n = le_record_get(r->e, r->val[O_ONCE_RECORD] ? r->val[O_ONCE_RECORD] : "once",
                           old, sizeof old);
    memcpy(r->once_val, k, kl + 1);
    len = kl;
    if (n <= 0) return;
    for (p = old; *p;) {
        const char *q = strchr(p, ' ');
        size_t l = q ? (size_t)(q - p) : strlen(p);
        if (l && !(l == kl && !memcmp(p, k, kl))) {
            if (len + 1 + l > LE_RECORD_MAX) break;
            r->once_val[len++] = ' ';
            memcpy(r->once_val + len, p, l);
            len += l;
            r->once_val[len] = 0;
        }
        if (!q) break;
        p = q + 1;
    }
}

static void once_record(run *r, le_time now) {
    int rc;
    once_value(r);
    rc = le_record_set(r->e, now, r->val[O_ONCE_RECORD] ? r->val[O_ONCE_RECORD] : "once",
                       r->once_val);
    if (rc == 0) {
        r->once = ONCE_RECORDING;
        say("recording once key %s on the Lease", r->val[O_ONCE]);
    } else if (rc == LE_ENOTLEADER) {
        say("CMD succeeded but leadership ended before the record could be written; "
            "the record is written when this replica leads again");
    } else {
        say("cannot record once key: %s", le_strerror(rc));
        r->fatal = 1;
        r->quit = 1;
        r->exit_code = 1;
    }
}

/* ---- supervision -------------------------------------------------------------- */

static void finish(run *r, int code, const char *why) {
    if (r->quit) return;
    r->quit = 1;
    r->exit_code = code;
    say("%s", why);
}

/* After the CMD group is gone: what next. */
static void after_child(run *r, le_time now, int leading) {
    int code = r->last_exit;
    int ran = now.mono_ms - r->started_at;
    if (!r->have_status) return;
    r->have_status = 0;
    if (r->quit) return;
    if (r->stop_asked) { /* we stopped it: leadership ended or shutdown */
        if (r->exit_on_loss && !leading) {
            r->quit = 1;
            r->exit_code = EXIT_LOST;
            say("leadership lost and CMD stopped: exiting %d (--exit-on-loss)", EXIT_LOST);
        }
        return;
    }
    if (r->once) {
        if (code == 0) {
            r->once_ok = 1;
            if (leading) once_record(r, now);
            return;
        }
        if (!r->restart) {
            char m[200];
            lr_snprintf(m, sizeof m, "CMD failed (status %d): nothing recorded; releasing the "
                     "Lease so another replica can run it", code);
            finish(r, code, m);
            return;
        }
    } else if (!r->restart) {
        char m[120];
        lr_snprintf(m, sizeof m, "CMD is done (status %d): releasing the Lease and exiting", code);
        finish(r, code, m);
        return;
    }
    if (ran >= BACKOFF_MAX_MS) r->backoff_ms = BACKOFF_MIN_MS;
    r->restart_at = now.mono_ms + r->backoff_ms;
    say("running CMD again in %lld ms (--restart)", (long long)r->backoff_ms);
    r->backoff_ms *= 2;
    if (r->backoff_ms > BACKOFF_MAX_MS) r->backoff_ms = BACKOFF_MAX_MS;
}

static void supervise(run *r, le_time now, int leading) {
    if (child_active(r)) {
        if (!leading) child_stop(r, now.mono_ms, "leadership ended");
        else if (r->quit) child_stop(r, now.mono_ms, "le-run is shutting down");
        if (r->term_at && !r->killed && now.mono_ms >= r->kill_at) {
            say("grace of %lld ms is over: SIGKILL to group %ld", (long long)r->grace_ms,
                (long)r->pgid);
            kill(-r->pgid, SIGKILL);
            r->killed = 1;
        }
        return;
    }
    after_child(r, now, leading);
    if (r->once == ONCE_RECORDING && !leading) r->once = ONCE_WAIT;
    if (r->once && r->once != ONCE_DONE && once_seen(r)) {
        r->once = ONCE_DONE;
        finish(r, 0, r->once_ok ? "once key recorded: done, releasing the Lease"
                                : "once key already recorded: nothing to run");
    }
    if (r->quit || !leading || now.mono_ms < r->restart_at) return;
    if (r->once == ONCE_RECORDING || r->once == ONCE_DONE) return;
    if (r->once && r->once_ok) { /* CMD ran here; only the record is missing */
        once_record(r, now);
        return;
    }
    child_start(r, now);
}

/* ---- events ------------------------------------------------------------------- */

static const char *const ERR_NAME[ERR_KINDS + 1] = {
    "ok", "invalid", "timeout", "io", "proto", "json", "lease", "toobig",
    "unauthorized", "forbidden", "notfound", "conflict", "unprocessable",
    "throttled", "server", "http", "tls", "connect", "notleader", "other"};

static void on_event(void *user, const le_event *ev) {
    run *r = (run *)user;
    switch (ev->type) {
    case LE_EV_STARTED_LEADING:
        r->contact = 1;
        say("leading the Lease %s/%s (term %lld)", r->ns, r->name, (long long)ev->term);
        break;
    case LE_EV_STOPPED_LEADING:
        say("stopped leading (term %lld): %s", (long long)ev->term,
            ev->reason == LE_STOP_DEADLINE ? "no renew succeeded for RenewDeadline"
            : ev->reason == LE_STOP_LOST ? "another replica holds the Lease" : "shutting down");
        break;
    case LE_EV_NEW_LEADER:
        r->contact = 1;
        r->leader_changes++;
        if (!ev->leader[0]) say("the Lease is free");
        else if (strcmp(ev->leader, r->id)) say("following %s", ev->leader);
        break;
    case LE_EV_ERROR: {
        int k = -ev->error;
        if (k < 0 || k >= ERR_KINDS) k = ERR_KINDS;
        r->err_by[k]++;
        say("error: %s", ev->message ? ev->message : le_strerror(ev->error));
        /* credentials, RBAC or a missing namespace before anything worked:
           a configuration problem, not an outage */
        if (!r->contact && !r->quit &&
            (ev->error == LE_EUNAUTHORIZED || ev->error == LE_EFORBIDDEN ||
             ev->error == LE_ENOTFOUND || ev->error == LE_EINVALID)) {
            r->fatal = 1;
            r->quit = 1;
            r->exit_code = 1;
            say("giving up: the API server refuses this configuration (see above)");
        }
        break;
    }
    case LE_EV_RECORD_STORED:
        if (r->once == ONCE_RECORDING && ev->key && ev->value &&
            !strcmp(ev->key, r->val[O_ONCE_RECORD] ? r->val[O_ONCE_RECORD] : "once") &&
            !strcmp(ev->value, r->once_val)) {
            say("once key %s is stored on the Lease", r->val[O_ONCE]);
            r->once = ONCE_DONE;
            r->quit = 1;
            r->exit_code = 0;
        }
        break;
    }
}

/* ---- HTTP ----------------------------------------------------------------------- */

typedef struct buf { char *p; size_t cap, len; } buf;

static void bput(buf *b, const char *fmt, ...) {
    va_list ap;
    int n;
    if (b->len >= b->cap) return;
    va_start(ap, fmt);
    n = lr_vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    b->len += (size_t)n;
    if (b->len > b->cap) b->len = b->cap; /* truncated: caught below */
}

/* JSON string or Prometheus label value: quotes, backslashes, control bytes */
static void bquote(buf *b, const char *s) {
    bput(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') bput(b, "\\%c", c);
        else if (c == '\n') bput(b, "\\n");
        else if (c < 0x20) bput(b, "\\u%04x", c);
        else bput(b, "%c", c);
    }
    bput(b, "\"");
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
    char host[64];
    const char *colon;
    long port = 0;
    const char *d;
    memset(ss, 0, sizeof *ss);
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host) return -1;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = 0;
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host) return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = 0;
    }
    for (d = colon + 1; *d >= '0' && *d <= '9' && port <= 65535; d++) port = port * 10 + (*d - '0');
    if (!colon[1] || *d || port > 65535) return -1;
    if (s[0] == '[') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return -1;
        *len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (!host[0]) a->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return -1;
        *len = sizeof *a;
    }
    return 0;
}

static int http_listen(run *r) {
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    char shown[80];
    const char *a = r->val[O_HTTP];
    if (parse_addr(a, &ss, &len))
        return bad("--http %s: give host:port with an IP address (0.0.0.0:8080, :8080, "
                   "127.0.0.1:0, [::]:8080); names are not resolved", a);
    r->lfd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (r->lfd < 0) return bad("--http %s: socket: %s", a, strerror(errno));
    setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(r->lfd, (struct sockaddr *)&ss, len) || listen(r->lfd, 16))
        return bad("--http %s: cannot listen: %s%s", a, strerror(errno),
                   errno == EADDRINUSE ? " (another process has the port)" :
                   errno == EACCES ? " (ports below 1024 need privileges)" : "");
    cloexec_nonblock(r->lfd, 1);
    len = sizeof ss;
    getsockname(r->lfd, (struct sockaddr *)&ss, &len);
    le__https_addr_text(shown, sizeof shown, (const struct sockaddr *)&ss); /* le.h's, no printf */
    say("serving /healthz /leader /metrics on http://%s", shown);
    return 0;
}

static void hclose(hconn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

static int healthy(const run *r, int64_t now, int64_t *age) {
    le_stats st = le_get_stats(r->e);
    *age = st.observed_ms == INT64_MIN ? -1 : now - st.observed_ms;
    if (strcmp(le_leader(r->e), r->id)) return 1; /* not the holder as observed */
    return !(st.observed_ms != INT64_MIN && *age > r->lease_ms + r->healthz_ms);
}

static void metrics(const run *r, buf *b, int64_t now) {
    le_stats st = le_get_stats(r->e);
    int i;
    const char *n = r->name;
    int64_t age;
    int ok = healthy(r, now, &age);
#define M(name, type, help) bput(b, "# HELP " name " " help "\n# TYPE " name " " type "\n")
    M("leader_election_master_status", "gauge",
      "1 while this replica holds the Lease, 0 otherwise (client-go's metric).");
    bput(b, "leader_election_master_status{name=\"%s\"} %d\n", n, le_is_leader(r->e, now));
    M("leader_election_slowpath_total", "counter",
      "Renews whose single PUT failed and needed a GET first (client-go's metric).");
    bput(b, "leader_election_slowpath_total{name=\"%s\"} %llu\n", n,
         (unsigned long long)st.slowpath);
    M("le_run_leading_started_total", "counter", "Times this replica started leading.");
    bput(b, "le_run_leading_started_total{name=\"%s\"} %llu\n", n, (unsigned long long)st.started);
    M("le_run_leading_stopped_total", "counter", "Times this replica stopped leading.");
    bput(b, "le_run_leading_stopped_total{name=\"%s\"} %llu\n", n, (unsigned long long)st.stopped);
    M("le_run_leader_changes_total", "counter", "Changes of the holder this replica observed.");
    bput(b, "le_run_leader_changes_total{name=\"%s\"} %llu\n", n,
         (unsigned long long)r->leader_changes);
    M("le_run_term", "gauge", "leaseTransitions of this replica's current or last tenure, -1 if none.");
    bput(b, "le_run_term{name=\"%s\"} %lld\n", n, (long long)le_term(r->e));
    M("le_run_api_requests_total", "counter", "Requests sent to the API server.");
    bput(b, "le_run_api_requests_total{name=\"%s\"} %llu\n", n, (unsigned long long)st.requests);
    M("le_run_errors_total", "counter", "Election and transport errors, by kind.");
    for (i = 1; i <= ERR_KINDS; i++)
        bput(b, "le_run_errors_total{name=\"%s\",kind=\"%s\"} %llu\n", n, ERR_NAME[i],
             (unsigned long long)r->err_by[i]);
    M("le_run_healthy", "gauge", "1 while /healthz answers 200.");
    bput(b, "le_run_healthy{name=\"%s\"} %d\n", n, ok);
    M("le_run_child_running", "gauge", "1 while CMD (its process group) exists.");
    bput(b, "le_run_child_running{name=\"%s\"} %d\n", n, child_active(r));
    M("le_run_child_starts_total", "counter", "Times CMD was started.");
    bput(b, "le_run_child_starts_total{name=\"%s\"} %llu\n", n, (unsigned long long)r->starts);
    M("le_run_child_exits_total", "counter", "Times CMD exited or was killed.");
    bput(b, "le_run_child_exits_total{name=\"%s\"} %llu\n", n, (unsigned long long)r->exits);
    M("le_run_child_last_exit_code", "gauge", "CMD's last exit status (128+N for signal N), -1 if none.");
    bput(b, "le_run_child_last_exit_code{name=\"%s\"} %d\n", n, r->exits ? r->last_exit : -1);
    if (r->once) {
        M("le_run_once_done", "gauge", "1 once the --once KEY is recorded on the Lease.");
        bput(b, "le_run_once_done{name=\"%s\",key=", n);
        bquote(b, r->val[O_ONCE]);
        bput(b, "} %d\n", r->once == ONCE_DONE);
        M("le_run_once_runs_total", "counter", "Times this replica ran CMD for the --once KEY.");
        bput(b, "le_run_once_runs_total{name=\"%s\"} %llu\n", n, (unsigned long long)r->once_runs);
    }
#undef M
}

static void respond(run *r, hconn *c, int64_t now) {
    char body[HTTP_OUT - 200];
    buf b, o;
    const char *status = "200 OK", *type = "text/plain; charset=utf-8";
    char method[8], path[128];
    size_t i, j;
    int head;
    b.p = body; b.cap = sizeof body; b.len = 0;
    for (i = 0; i < sizeof method - 1 && c->in[i] && c->in[i] != ' '; i++) method[i] = c->in[i];
    method[i] = 0;
    while (c->in[i] == ' ') i++;
    for (j = 0; j < sizeof path - 1 && c->in[i] && c->in[i] != ' ' && c->in[i] != '?' &&
                c->in[i] != '\r' && c->in[i] != '\n'; i++, j++)
        path[j] = c->in[i];
    path[j] = 0;
    head = !strcmp(method, "HEAD");
    if (strcmp(method, "GET") && !head) {
        status = "405 Method Not Allowed";
        bput(&b, "only GET and HEAD\n");
    } else if (!strcmp(path, "/healthz")) {
        int64_t age;
        if (healthy(r, now, &age)) {
            bput(&b, "ok\n");
        } else {
            status = "500 Internal Server Error";
            bput(&b, "leaderElection: this replica holds the Lease %s/%s as last observed but "
                 "has not renewed it for %lld ms (> LeaseDuration + timeout, %lld ms)\n",
                 r->ns, r->name, (long long)age, (long long)(r->lease_ms + r->healthz_ms));
        }
    } else if (!strcmp(path, "/leader")) {
        type = "application/json";
        bput(&b, "{\"name\":");
        bquote(&b, le_leader(r->e));
        bput(&b, "}\n");
    } else if (!strcmp(path, "/metrics")) {
        type = "text/plain; version=0.0.4; charset=utf-8";
        metrics(r, &b, now);
    } else {
        status = "404 Not Found";
        bput(&b, "not found: /healthz, /leader, /metrics\n");
    }
    if (b.len >= b.cap) { /* never expected: the body is bounded by design */
        b.len = 0;
        status = "500 Internal Server Error";
        bput(&b, "reply too large\n");
    }
    o.p = c->out; o.cap = sizeof c->out; o.len = 0;
    bput(&o, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %lu\r\nConnection: close\r\n\r\n",
         status, type, (unsigned long)b.len);
    if (!head && o.len + b.len <= o.cap) {
        memcpy(c->out + o.len, body, b.len);
        o.len += b.len;
    }
    c->out_len = o.len;
    c->out_off = 0;
    c->writing = 1;
}

static void http_accept(run *r, int64_t now) {
    int k;
    for (k = 0; k < 16; k++) {
        int fd = accept(r->lfd, 0, 0), i, slot = -1;
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) r->lfd_paused_until = now + 100;
            return;
        }
        cloexec_nonblock(fd, 1);
        for (i = 0; i < HTTP_CONNS; i++)
            if (r->h[i].fd < 0) { slot = i; break; }
        if (slot < 0) { /* full: the oldest connection makes room */
            slot = 0;
            for (i = 1; i < HTTP_CONNS; i++)
                if (r->h[i].seq < r->h[slot].seq) slot = i;
            hclose(&r->h[slot]);
        }
        r->h[slot].fd = fd;
        r->h[slot].seq = ++r->hseq;
        r->h[slot].deadline = now + HTTP_TIMEOUT_MS;
        r->h[slot].in_len = r->h[slot].out_len = r->h[slot].out_off = 0;
        r->h[slot].writing = 0;
    }
}

static void http_io(run *r, hconn *c, int64_t now) {
    if (!c->writing) {
        for (;;) {
            ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - 1 - c->in_len, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            if (n <= 0) { hclose(c); return; }
            c->in_len += (size_t)n;
            c->in[c->in_len] = 0;
            if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n")) break;
            if (c->in_len == sizeof c->in - 1) { /* too long for what we serve */
                buf o;
                o.p = c->out; o.cap = sizeof c->out; o.len = 0;
                bput(&o, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n");
                c->out_len = o.len; c->out_off = 0; c->writing = 1;
                break;
            }
        }
        if (!c->writing) respond(r, c, now);
    }
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) { hclose(c); return; }
        c->out_off += (size_t)n;
    }
    shutdown(c->fd, SHUT_WR);
    hclose(c);
}

/* ---- main --------------------------------------------------------------------- */

static void install_signals(void) {
    static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
                                  SIGWINCH, SIGCHLD};
    struct sigaction sa;
    size_t i;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (i = 0; i < sizeof handled / sizeof handled[0]; i++) sigaction(handled[i], &sa, 0);
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, 0);
}

static void handle_signals(run *r) {
    static const int fwd[] = {SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    unsigned char b[64];
    size_t i;
    while (read(sig_pipe[0], b, sizeof b) > 0) {}
    if (sig_got[SIGTERM] || sig_got[SIGINT]) {
        int s = sig_got[SIGTERM] ? SIGTERM : SIGINT;
        sig_got[SIGTERM] = sig_got[SIGINT] = 0;
        if (!r->quit) {
            say("%s: stopping CMD, releasing the Lease, exiting", signame(s));
            r->quit = 1;
            r->exit_code = 0;
        }
    }
    for (i = 0; i < sizeof fwd / sizeof fwd[0]; i++) {
        if (!sig_got[fwd[i]]) continue;
        sig_got[fwd[i]] = 0;
        if (child_active(r)) kill(-r->pgid, fwd[i]);
    }
    sig_got[SIGCHLD] = 0;
}

int main(int argc, char **argv) {
    static run r;
    static le_https t;
    static le_elector e;
    le_https_config hc;
    le_config c;
    int i, rc;

    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    r.lfd = -1;
    r.wd_fd = r.wd_ack = -1;
    r.backoff_ms = BACKOFF_MIN_MS;
    for (i = 0; i < HTTP_CONNS; i++) r.h[i].fd = -1;
    if (parse_args(&r, argc, argv)) return 1;

    /* before anything else is open: the watchdog inherits nothing */
    if (watchdog_start(&r)) return bad("cannot start the watchdog process: %s", strerror(errno));
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); /* CMD's orphans come back to us */
    if (pipe(sig_pipe)) return bad("pipe: %s", strerror(errno));
    cloexec_nonblock(sig_pipe[0], 1);
    cloexec_nonblock(sig_pipe[1], 1);
    install_signals();

    hc.kubeconfig = r.val[O_KUBECONFIG];
    hc.context = r.val[O_CONTEXT];
    hc.server = r.val[O_SERVER];
    hc.ca_file = r.val[O_CA];
    hc.token_file = r.val[O_TOKEN_FILE];
    if (!hc.server && !hc.kubeconfig && !getenv("KUBERNETES_SERVICE_HOST")) {
        hc.kubeconfig = getenv("KUBECONFIG");
        if (!hc.kubeconfig || !*hc.kubeconfig)
            return bad("not in a pod ($KUBERNETES_SERVICE_HOST is unset) and no kubeconfig: "
                       "give --kubeconfig FILE (or $KUBECONFIG), or --server URL with --ca "
                       "and --token-file");
        if (strchr(hc.kubeconfig, ':'))
            return bad("$KUBECONFIG lists several files (%s); le-run reads one: give "
                       "--kubeconfig FILE", hc.kubeconfig);
    }
    c.name = r.val[O_LEASE];
    c.ns = r.val[O_NAMESPACE];
    c.identity = r.val[O_IDENTITY];
    c.lease_duration_ms = (int)r.lease_ms;
    c.renew_deadline_ms = (int)r.renew_ms;
    c.retry_period_ms = (int)r.retry_ms;
    c.user_agent = "le-run/" LE_RUN_VERSION;
    c.on_event = on_event;
    c.user = &r;
    r.e = &e;
    r.t = &t;
    rc = le_https_init(&t, &hc, &c);
    if (rc) {
        bad("%s", le_https_errmsg(&t));
        le_https_free(&t);
        return 1;
    }
    if (le_init(&e, &c)) {
        bad("%s", le_errmsg(&e));
        le_https_free(&t);
        return 1;
    }
    r.ns = c.ns;
    r.name = c.name;
    r.id = c.identity;
    log_id = r.id;
    if (r.val[O_HTTP] && http_listen(&r)) return 1;
    {
        char g[32];
        fmt_ms(g, sizeof g, r.grace_ms);
        say("contending for the Lease %s/%s at %s (lease %llds, renew deadline %llds, "
            "retry %llds, grace %s)", r.ns, r.name, c.host, (long long)(r.lease_ms / 1000),
            (long long)(r.renew_ms / 1000), (long long)(r.retry_ms / 1000), g);
    }

    for (;;) {
        struct pollfd p[5 + HTTP_CONNS];
        int np = 0, hidx[HTTP_CONNS], li = -1, leading;
        int64_t until;
        le_time now;
        le_step s;

        handle_signals(&r);
        reap(&r);
        if (!r.wd_pid && watchdog_start(&r) == 0 && r.pgid && watchdog_set(&r, r.pgid)) {
            say("new watchdog does not answer");
        }
        if (!r.wd_pid && r.pgid) child_stop(&r, mono(), "no watchdog");
        now = le_clock();
        if (r.quit && !r.elector_stopped && !child_active(&r)) {
            le_stop(&e, now);
            r.elector_stopped = 1;
        }
        now = le_clock(); /* fresh, right before the step */
        s = le_https_step(&t, &e, now);
        now = le_clock();
        leading = le_is_leader(&e, now.mono_ms);
        supervise(&r, now, leading);
        if (s.done && !child_active(&r)) break;
        if (r.quit && !r.elector_stopped && !child_active(&r)) continue;

        until = s.deadline;
        if (child_active(&r)) {
            if (r.term_at && !r.killed && r.kill_at < until) until = r.kill_at;
            if (!r.pid || r.killed) { /* group still has members: look again soon */
                if (now.mono_ms + 10 < until) until = now.mono_ms + 10;
            }
        } else if (leading && !r.quit && r.restart_at > now.mono_ms && r.restart_at < until) {
            until = r.restart_at;
        }
        /* the elector's descriptors: le_https_step() does their IO */
        if (s.fd >= 0) {
            p[np].fd = s.fd; p[np].events = s.events; p[np].revents = 0; np++;
        }
        if (s.wfd >= 0) {
            p[np].fd = s.wfd; p[np].events = s.wevents; p[np].revents = 0; np++;
        }
        p[np].fd = sig_pipe[0]; p[np].events = POLLIN; p[np].revents = 0; np++;
        if (r.lfd >= 0 && now.mono_ms >= r.lfd_paused_until) {
            p[np].fd = r.lfd; p[np].events = POLLIN; p[np].revents = 0; li = np++;
        } else if (r.lfd >= 0 && r.lfd_paused_until < until) {
            until = r.lfd_paused_until;
        }
        for (i = 0; i < HTTP_CONNS; i++) {
            hidx[i] = -1;
            if (r.h[i].fd < 0) continue;
            if (now.mono_ms >= r.h[i].deadline) { hclose(&r.h[i]); continue; }
            if (r.h[i].deadline < until) until = r.h[i].deadline;
            p[np].fd = r.h[i].fd;
            p[np].events = r.h[i].writing ? POLLOUT : POLLIN;
            p[np].revents = 0;
            hidx[i] = np++;
        }
        if (poll(p, (nfds_t)np, le_timeout_ms(until, le_clock().mono_ms)) <= 0) continue;
        now = le_clock();
        if (li >= 0 && p[li].revents) http_accept(&r, now.mono_ms);
        for (i = 0; i < HTTP_CONNS; i++)
            if (hidx[i] >= 0 && p[hidx[i]].revents && r.h[i].fd == p[hidx[i]].fd)
                http_io(&r, &r.h[i], now.mono_ms);
    }

    for (i = 0; i < HTTP_CONNS; i++) hclose(&r.h[i]);
    if (r.lfd >= 0) close(r.lfd);
    say("exiting with status %d", r.exit_code);
    le_https_free(&t);
    le_https_global_free();
    if (r.wd_fd >= 0) close(r.wd_fd); /* the watchdog sees EOF, has no group: exits */
    return r.exit_code;
}
