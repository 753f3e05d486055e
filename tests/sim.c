/* Deterministic simulation: 3-7 le.h cores in one process against a model
   of the API server's Lease storage, over per-replica connections that
   delay, lose and reset, with crashes, freezes, partitions, clock drift and
   broken wall clocks. Time jumps from event to event (every replica's
   le_next() deadline, deliveries, fault changes), so hours of simulated
   time take milliseconds.

   The store follows kube-apiserver's write rules for a Lease:
   - GET: 200 or 404; POST: 201, or 409 AlreadyExists;
   - PUT: 409 on a resourceVersion mismatch, 422 without one (Leases do not
     allow unconditional updates), 409 when the object's uid names a Lease
     that was deleted (the uid precondition), a create when the object has
     no uid (AllowCreateOnUpdate);
   - a PUT whose object encodes byte-identically to the stored one is a
     no-op: same resourceVersion, no watch event (GuaranteedUpdate);
   - the Lease can be deleted and re-created (new uid, leaseTransitions
     from 0) by somebody else;
   - watches (?watch=true&resourceVersion=RV): a chunked 200 with ADDED,
     MODIFIED, DELETED, BOOKMARK events from a window of recent events, an
     ERROR 410 Gone when RV is older than the window, the stream ended after
     timeoutSeconds; a restart clears the window.
   The network: each replica has a request connection and a watch
   connection. Bytes on one connection arrive in order; a connection can
   stall (lost packets), be reset, or be closed by the server. A reply
   belongs to the request outstanding on its connection: when the elector
   abandons an exchange it must ask to close the connection (LE_WANT_CLOSE);
   only then are the late bytes of that exchange discarded, so a missing
   close shows up as a stale reply fed to the next request.

   Checked at every event instant (leadership starts only when a reply is
   fed and ends at a deadline le_next() reports, so this is every instant
   at which the answer can change):
   - overlap: two live electors answer le_is_leader() yes at once;
   - margin: a leader answers yes although a follower with the fastest
     clock allowed, reading the Lease with no delay the moment its current
     record was stored, could already have taken it over (the condition
     under which no schedule of the others can overlap);
   - terms: leaseTransitions grows by exactly one whenever the holder
     changes and stays otherwise, and a STARTED_LEADING term is a record
     this elector wrote;
   - le_stop(): no longer leader at once;
   - fenced records: le.h/ annotations change only in writes of the holder
     of the record they replace, and a value reported stored was stored;
   - liveness: after each fault phase a fault-free window, in which someone
     must lead within a bound derived from the timing and then keep leading.
   A failure prints its seed, the faults that preceded it and the command
   that replays it exactly; --trace SECONDS shows what happened from then.

   Modes: --drift-sweep runs client-go's timing with clocks of two rates and
   reports where overlaps start (theory: a rate ratio of LeaseDuration /
   RenewDeadline); --delete-held deletes and replaces the Lease while it is
   held, and fails only if a replica that had seen the deleted object takes
   it while its holder still leads (one that never saw it cannot know);
   --no-margin checks overlaps only (to see a mutant's actual overlap);
   --expect-fail stops at the first failure and succeeds only if there is one.

   Usage: sim [--seeds A-B | --seed N] [--hours H] [--jobs J] [--verbose]
              [--stop-at-first] [--expect-fail] [--no-margin] [--trace T0]
          sim --drift-sweep | --delete-held [--seeds A-B] [--hours H] [--jobs J] */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LE_IMPLEMENTATION
#include "le.h"

#define MAXN 7
#define RXCAP (512 * 1024)
#define SVCAP 32768
#define MSGMAX 4096
#define NMSG 2048
#define NHIST 64
#define FAR INT64_MAX
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- faults and results -------------------------------------------------- */

enum {
    F_CRASH, F_STOP, F_FREEZE, F_PARTITION, F_DEGRADE, F_STALL, F_RESTART,
    F_WALL_FREEZE, F_WALL_ZERO, F_WALL_BACK, F_RATE, F_IOERR, F_DELETE,
    F_RECREATE, F_ANNOTATE, F_WATCH_LAG, F_WATCH_DROP, F_WATCH_DUP,
    F_WATCH_SILENT, F_WATCH_GONE, F_WATCH_END,
    /* per message */
    F_LOSS, F_DELAY, F_5XX, F_5XX_APPLIED, F_429, F_DUP_REQ, F_SRV_CLOSE,
    F_UNSOLICITED, F_LATE_WRITE, F_NOOP, F_SPLIT,
    NF
};
static const char *const fault_name[NF] = {
    "leader or replica crashed (kill -9)", "graceful stop (le_stop, release)",
    "process frozen (GC, SIGSTOP)", "replica partitioned from the API server",
    "degraded network period", "API server stalled (writes applied late)",
    "API server restarted (connections reset or dead)",
    "wall clock stood still", "wall clock read 0", "wall clock jumped",
    "clock rate changed (drift)", "transient I/O error, connection left open",
    "Lease deleted by somebody else (while free or expired, unless --delete-held)", "Lease re-created by somebody else",
    "Lease annotated by somebody else", "watch stream lagging",
    "watch events dropped", "watch events duplicated", "watch stream silent",
    "watch 410 Gone mid-stream", "watch ended early by the server",
    "bytes lost (connection stalls)", "delayed message (100 ms .. 2 x timeout)",
    "5xx reply, not applied", "5xx reply, write applied",
    "429 with Retry-After", "request applied twice (proxy retry)",
    "server closed the connection after a reply",
    "unsolicited bytes on an idle connection",
    "write applied after the client gave up", "no-op update (same object)",
    "split writes and reads",
};

typedef struct {
    double hours;
    uint64_t seeds, failed_seeds, events;
    uint64_t faults[NF];
    uint64_t tenures, takeovers, handovers, creations, renews, conflicts;
    uint64_t requests, watch_events, stale_discarded, errors;
    uint64_t overlaps, margin, terms, liveness, other;
    uint64_t fresh_overlaps;       /* --drift-sweep; --delete-held: by a replica that had not seen it */
    uint64_t quiet_windows, records_set, records_stored;
    double worst_first_ratio;      /* time to the first leader / its bound */
    int64_t worst_first_ms, worst_first_bound;
    int64_t worst_fault_gap_ms;    /* longest leaderless stretch while faults ran */
    int64_t max_overlap_ms;        /* --drift-sweep, --delete-held */
    uint64_t first_fail_seed;
    double hours_to_fail;          /* simulated hours run before the first failure */
    char first_fail[200];
} totals;

/* ---- options ------------------------------------------------------------- */

static struct {
    const char *argv0;
    double hours;
    int stop_at_first, verbose, sweep, delete_held, no_margin;
    int64_t trace_from;            /* ms, -1: off */
    int64_t sweep_ppm;             /* --drift-sweep: fast clock rate */
} opt = {0, 2.0, 0, 0, 0, 0, 0, -1, 0};

/* ---- random ----------------------------------------------------------------- */

static uint64_t rs;
static uint64_t rnd64(void) {
    uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint32_t rnd(void) { return (uint32_t)(rnd64() >> 32); }
static int pm(int per_mille) { return (int)(rnd() % 1000) < per_mille; }
static int64_t between(int64_t a, int64_t b) {
    return b <= a ? a : a + (int64_t)(rnd64() % (uint64_t)(b - a + 1));
}

/* ---- the world ------------------------------------------------------------ */

typedef struct {
    const char *name;
    int n, lease, renew, retry, timeout;
    int64_t rmin, rmax;            /* clock rates allowed, ppm of true time */
    int exact;                     /* every clock at exactly true rate */
    int zero_delay;                /* most messages arrive in the same ms */
    int watch_pm;                  /* per mille of replicas that watch */
    int64_t fault_mean;            /* mean ms between fault events */
    int64_t bound;                 /* liveness bound of a quiet window, ms */
    int64_t dmax;                  /* largest one-way delay when quiet, ms */
} profile;

typedef struct { char k[96], v[160]; } kv;

typedef struct {
    int exists;
    char uid[40], created[32];
    int64_t rv;
    int nlab, nann;
    kv lab[4], ann[8];
    int has_holder;
    char holder[300];
    long dur, tr;                  /* -1: absent */
    char acq[48], ren[48];         /* "": absent */
    int epoch;                     /* deletions so far */
    int64_t content_since;         /* true ms the record le.h compares last changed */
} lease_obj;

typedef struct { int64_t rv, at; int type; size_t len; char obj[2600]; } hev;
enum { EV_ADDED, EV_MODIFIED, EV_DELETED };

typedef struct {
    int open, stuck, dead;
    unsigned id;
    char *rx;                      /* bytes that arrived, not yet fed */
    size_t rx_len;
    int rx_eof;
    int64_t up_last, down_last;    /* arrivals stay in order */
    /* the server's side of this connection */
    int w_on, w_silent, w_drop, w_dup;
    int64_t w_end, w_bm, w_lag, w_rv;
} conn;

enum { WALL_OK, WALL_FROZEN, WALL_ZERO };
enum { P_UP = 1, P_DOWN = 2, P_REFUSE = 4 };

typedef struct {
    le_elector e;
    char id[48];
    int gen, up, stopping, watch;
    int64_t restart_at, frozen_until, wake;
    int dirty;
    int64_t g0, l0, rate;          /* mono = l0 + (G - g0) * rate / 1e6 */
    int64_t wall_off;
    int wall_mode;
    int64_t wall_fixed, wall_until;
    int part;
    int64_t part_until;
    conn c[2];
    le_want last_want, last_watch;
    int ioerr;                     /* armed: 1 request stream, 2 watch */
    int stop_pending;              /* SIGTERM while frozen */
    int64_t saw_lease_at;          /* last Lease delivered to this process, -1 none */
    char saw_uid[40];              /* uid of the last Lease object delivered */
    int knew;                      /* had seen the Lease object last deleted */
    int64_t lead_since;            /* its tenure started (STARTED_LEADING) */
    int was_leader;
} replica;

typedef struct {
    int used, r, s, up, eof;
    char who[48];                  /* up: the identity of the sending process */
    unsigned cid;
    int64_t at;
    uint64_t seq;                  /* order of sending: one connection is a pipe */
    size_t len;
    char data[MSGMAX];
} msg;

static profile P;
static replica R[MAXN];
static msg M[NMSG];
static int nmsg_hi;
static lease_obj S;
static int64_t G, END;
static int64_t revision, next_noise;
static unsigned next_cid;
static uint64_t next_seq;
static hev hist[NHIST];
static int hist_n;
static int64_t hist_floor, hist_window;
static int64_t server_down_until, stall_until, degrade_until, next_fault, next_record;
static int phase_quiet, delete_pending;
static int64_t last_gone_at = -1;  /* the Lease last deleted or replaced */
static char gone_uid[40];          /* its uid */
static int64_t phase_end, q_start;
static int q_led, q_reported, q_led_fresh;
static int64_t q_mono0[MAXN];      /* each clock when the window began */
static int64_t last_led_at;
static uint64_t cur_seed;
static int seed_failed;
static totals T;                   /* this process's totals */
static uint64_t uid_counter;
/* the last tenure started, for the term rule */
static int lt_epoch = -1;
static long lt_term = -1;
static char lt_holder[48];
/* writes naming a holder, for checking STARTED_LEADING terms */
static struct { int epoch; long tr; char holder[300]; } wlog[64];
static int wlog_n;
static int64_t overlap_since = -1;

static void print_recent(void);
static void trace(const char *fmt, ...) {
    va_list ap;
    if (opt.trace_from < 0 || G < opt.trace_from) return;
    printf("%10.3f ", (double)G / 1000);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void fail(int *counter, const char *fmt, ...) {
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    (*counter)++;
    if (seed_failed++) return; /* one report per seed: the first is the cause */
    fprintf(stderr, "sim: FAIL seed %llu (%s, %d replicas) at t=%.3f s: %s\n"
            "sim: replay: %s --seed %llu --hours %g%s%s\n",
            (unsigned long long)cur_seed, P.name, P.n, (double)G / 1000, what,
            opt.argv0, (unsigned long long)cur_seed, opt.hours,
            opt.delete_held ? " --delete-held" : "", opt.no_margin ? " --no-margin" : "");
    print_recent();
    if (!T.first_fail[0]) {
        T.first_fail_seed = cur_seed;
        T.hours_to_fail = T.hours + (double)G / 3600000;
        snprintf(T.first_fail, sizeof T.first_fail, "%s", what);
    }
}
#define FAILC(c, ...) fail_u64(&T.c, __VA_ARGS__)
static void fail_u64(uint64_t *c, const char *fmt, ...) {
    char what[200];
    int dummy = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    (*c)++;
    fail(&dummy, "%s", what);
}

/* The last fault events, printed with a failure: what led to it. */
static struct { int64_t at; int kind; char who[48]; } recent[8];
static int nrecent;
static void note(int kind, int ri) {
    int k = nrecent++ % 8;
    T.faults[kind]++;
    recent[k].at = G;
    recent[k].kind = kind;
    snprintf(recent[k].who, sizeof recent[k].who, "%s", ri >= 0 ? R[ri].id : "");
    trace("fault: %s %s", fault_name[kind], recent[k].who);
}
static void print_recent(void) {
    int i, n = nrecent < 8 ? nrecent : 8;
    fprintf(stderr, "sim: the faults before it:");
    for (i = nrecent - n; i < nrecent; i++)
        fprintf(stderr, "%s t=%.3f %s%s%s", i > nrecent - n ? ";" : "", (double)recent[i % 8].at / 1000,
                fault_name[recent[i % 8].kind], recent[i % 8].who[0] ? " " : "", recent[i % 8].who);
    fprintf(stderr, "\n");
}

/* ---- clocks --------------------------------------------------------------- */

static int64_t mono_at(const replica *r, int64_t g) {
    return r->l0 + (g - r->g0) * r->rate / 1000000;
}
static int64_t mono(const replica *r) { return mono_at(r, G); }
/* The first true instant >= G at which r's clock reads d. */
static int64_t true_at(const replica *r, int64_t d) {
    int64_t g;
    if (d == FAR || d - mono(r) > (int64_t)1 << 40) return FAR;
    if (mono(r) >= d) return G;
    g = r->g0 + ((d - r->l0) * 1000000 + r->rate - 1) / r->rate;
    if (g < G) g = G;
    while (mono_at(r, g) < d) g++;
    return g;
}
static void set_rate(replica *r, int64_t rate) {
    r->l0 = mono(r);
    r->g0 = G;
    r->rate = rate;
}
static int64_t pick_rate(void) {
    if (P.exact) return 1000000;
    return between(P.rmin, P.rmax);
}
static le_time now_of(const replica *r) {
    le_time t;
    t.mono_ms = mono(r);
    t.wall_us = r->wall_mode == WALL_FROZEN ? r->wall_fixed
              : r->wall_mode == WALL_ZERO ? 0
              : r->wall_off + t.mono_ms * 1000 + (G * 7919) % 1000;
    return t;
}

/* ---- JSON in the server ----------------------------------------------------- */

static int js_str(const char *s, const jsmntok_t *t, char *out, size_t cap) {
    int i, n = 0;
    if (t->type != JSMN_STRING) return -1;
    for (i = t->start; i < t->end; i++) {
        char c = s[i];
        if (c == '\\') {
            char d = s[++i];
            if (d == 'u') {
                unsigned v = 0;
                int k;
                for (k = 0; k < 4; k++) {
                    char h = s[++i];
                    v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
                }
                c = (char)(v < 0x80 ? v : '?');
            } else {
                c = d == 'n' ? '\n' : d == 't' ? '\t' : d == 'r' ? '\r' : d;
            }
        }
        if ((size_t)n + 1 >= cap) return -1;
        out[n++] = c;
    }
    out[n] = 0;
    return n;
}
static int js_skip(const jsmntok_t *t, int n, int i) {
    int left = 1;
    while (left > 0 && i < n) { left += t[i].size - 1; i++; }
    return i;
}
static int js_is(const char *s, const jsmntok_t *t, const char *lit) {
    size_t n = strlen(lit);
    return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n &&
           !memcmp(s + t->start, lit, n);
}
static int js_null(const char *s, const jsmntok_t *t) {
    return t->type == JSMN_PRIMITIVE && s[t->start] == 'n';
}
static int js_long(const char *s, const jsmntok_t *t, long *v) {
    char b[24];
    int n = t->end - t->start, i;
    if (t->type != JSMN_PRIMITIVE || n <= 0 || n >= 20) return -1;
    memcpy(b, s + t->start, (size_t)n);
    b[n] = 0;
    for (i = b[0] == '-'; i < n; i++)
        if (b[i] < '0' || b[i] > '9') return -1;
    *v = atol(b);
    return 0;
}
/* RFC 3339 with a fraction, as MicroTime decodes it. */
static int ts_ok(const char *t) {
    int i;
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.";
    for (i = 0; pat[i]; i++)
        if (pat[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != pat[i]) return 0;
    for (; t[i] >= '0' && t[i] <= '9'; i++) {}
    return t[i] == 'Z' && t[i + 1] == 0 && i > 20;
}

typedef struct {
    char name[64], ns[64], uid[40], rv[40], kind[32], api[64];
    int has_uid, has_rv, has_name;
    int nlab, nann;
    kv lab[4], ann[8];
    int has_holder, dur_set, tr_set;
    char holder[300];
    long dur, tr;
    char acq[48], ren[48];
    char why[120];
} lease_in;

static int kv_cmp(const void *a, const void *b) { return strcmp(((const kv *)a)->k, ((const kv *)b)->k); }

static int parse_map(const char *s, jsmntok_t *t, int n, int v, kv *out, int max, int *cnt) {
    int m;
    *cnt = 0;
    if (js_null(s, &t[v])) return 0;
    if (t[v].type != JSMN_OBJECT) return -1;
    for (m = v + 1; m < js_skip(t, n, v); m = js_skip(t, n, m + 1)) {
        if (*cnt == max) return -1;
        if (js_str(s, &t[m], out[*cnt].k, sizeof out[*cnt].k) < 0 ||
            js_str(s, &t[m + 1], out[*cnt].v, sizeof out[*cnt].v) < 0)
            return -1;
        (*cnt)++;
    }
    qsort(out, (size_t)*cnt, sizeof *out, kv_cmp);
    return 0;
}

/* Decodes a Lease the way the API server would; 0, or -1 with q->why. */
static int parse_lease(const char *s, size_t len, lease_in *q) {
    static jsmntok_t t[512];
    jsmn_parser p;
    int n, i;
    memset(q, 0, sizeof *q);
    q->dur = q->tr = -1;
    jsmn_init(&p);
    n = jsmn_parse(&p, s, len, t, 512);
    if (n <= 0 || t[0].type != JSMN_OBJECT) {
        snprintf(q->why, sizeof q->why, "body is not a JSON object");
        return -1;
    }
    for (i = 1; i < n; i = js_skip(t, n, i + 1)) {
        int v = i + 1, m;
        if (js_is(s, &t[i], "kind")) js_str(s, &t[v], q->kind, sizeof q->kind);
        else if (js_is(s, &t[i], "apiVersion")) js_str(s, &t[v], q->api, sizeof q->api);
        else if (js_is(s, &t[i], "metadata") && t[v].type == JSMN_OBJECT) {
            for (m = v + 1; m < js_skip(t, n, v); m = js_skip(t, n, m + 1)) {
                int mv = m + 1;
                if (js_is(s, &t[m], "name")) q->has_name = js_str(s, &t[mv], q->name, sizeof q->name) >= 0;
                else if (js_is(s, &t[m], "namespace")) js_str(s, &t[mv], q->ns, sizeof q->ns);
                else if (js_is(s, &t[m], "uid")) q->has_uid = js_str(s, &t[mv], q->uid, sizeof q->uid) > 0;
                else if (js_is(s, &t[m], "resourceVersion")) q->has_rv = js_str(s, &t[mv], q->rv, sizeof q->rv) >= 0;
                else if (js_is(s, &t[m], "labels")) {
                    if (parse_map(s, t, n, mv, q->lab, 4, &q->nlab)) { snprintf(q->why, sizeof q->why, "bad labels"); return -1; }
                } else if (js_is(s, &t[m], "annotations")) {
                    if (parse_map(s, t, n, mv, q->ann, 8, &q->nann)) { snprintf(q->why, sizeof q->why, "bad annotations"); return -1; }
                }
            }
        } else if (js_is(s, &t[i], "spec") && t[v].type == JSMN_OBJECT) {
            for (m = v + 1; m < js_skip(t, n, v); m = js_skip(t, n, m + 1)) {
                int mv = m + 1;
                if (js_is(s, &t[m], "holderIdentity")) {
                    if (js_null(s, &t[mv])) continue;
                    if (js_str(s, &t[mv], q->holder, sizeof q->holder) < 0) { snprintf(q->why, sizeof q->why, "bad holderIdentity"); return -1; }
                    q->has_holder = 1;
                } else if (js_is(s, &t[m], "leaseDurationSeconds")) {
                    if (js_null(s, &t[mv])) continue;
                    q->dur_set = 1;
                    if (js_long(s, &t[mv], &q->dur)) { snprintf(q->why, sizeof q->why, "bad leaseDurationSeconds"); return -1; }
                } else if (js_is(s, &t[m], "leaseTransitions")) {
                    if (js_null(s, &t[mv])) continue;
                    q->tr_set = 1;
                    if (js_long(s, &t[mv], &q->tr)) { snprintf(q->why, sizeof q->why, "bad leaseTransitions"); return -1; }
                } else if (js_is(s, &t[m], "acquireTime") || js_is(s, &t[m], "renewTime")) {
                    char *dst = js_is(s, &t[m], "acquireTime") ? q->acq : q->ren;
                    if (js_null(s, &t[mv])) continue;
                    if (js_str(s, &t[mv], dst, 48) < 0 || !ts_ok(dst)) {
                        snprintf(q->why, sizeof q->why, "a timestamp is not RFC 3339 MicroTime");
                        return -1;
                    }
                }
            }
        }
    }
    return 0;
}

/* ---- the store's output ------------------------------------------------------ */

typedef struct { char *p; size_t cap, len; } sbuf;
static void sb(sbuf *b, const char *fmt, ...) {
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        fprintf(stderr, "sim: internal buffer too small\n");
        exit(2);
    }
    b->len += (size_t)n;
}
static void sb_map(sbuf *b, const char *name, const kv *m, int n) {
    int i;
    if (!n) return;
    sb(b, ",\"%s\":{", name);
    for (i = 0; i < n; i++) sb(b, "%s\"%s\":\"%s\"", i ? "," : "", m[i].k, m[i].v);
    sb(b, "}");
}
/* The object as the API server encodes it (field order of the Go types,
   null fields omitted). */
static size_t render_obj(char *out, size_t cap, const lease_obj *o) {
    sbuf b;
    b.p = out; b.cap = cap; b.len = 0;
    sb(&b, "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{"
           "\"name\":\"sim\",\"namespace\":\"default\",\"uid\":\"%s\",\"resourceVersion\":\"%lld\","
           "\"creationTimestamp\":\"%s\"", o->uid, (long long)o->rv, o->created);
    sb_map(&b, "labels", o->lab, o->nlab);
    sb_map(&b, "annotations", o->ann, o->nann);
    sb(&b, "},\"spec\":{");
    {
        const char *sep = "";
        if (o->has_holder) { sb(&b, "\"holderIdentity\":\"%s\"", o->holder); sep = ","; }
        if (o->dur >= 0) { sb(&b, "%s\"leaseDurationSeconds\":%ld", sep, o->dur); sep = ","; }
        if (o->acq[0]) { sb(&b, "%s\"acquireTime\":\"%s\"", sep, o->acq); sep = ","; }
        if (o->ren[0]) { sb(&b, "%s\"renewTime\":\"%s\"", sep, o->ren); sep = ","; }
        if (o->tr >= 0) sb(&b, "%s\"leaseTransitions\":%ld", sep, o->tr);
    }
    sb(&b, "}}");
    return b.len;
}

static const char *reason_of(int code) {
    switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    default: return "Service Unavailable";
    }
}
static size_t render_status(char *out, size_t cap, int code, const char *reason,
                            const char *message) {
    sbuf b;
    b.p = out; b.cap = cap; b.len = 0;
    sb(&b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
           "\"message\":\"%s\",\"reason\":\"%s\",\"details\":{\"name\":\"sim\",\"group\":"
           "\"coordination.k8s.io\",\"kind\":\"leases\"},\"code\":%d}", message, reason, code);
    return b.len;
}
/* HTTP/1.1 reply with kube-apiserver's headers; chunked now and then. */
static size_t render_http(char *out, size_t cap, int code, const char *body,
                          size_t blen, int retry_after, int close) {
    sbuf b;
    b.p = out; b.cap = cap; b.len = 0;
    sb(&b, "HTTP/1.1 %d %s\r\nAudit-Id: %08x-0000-4000-8000-%012x\r\n"
           "Cache-Control: no-cache, private\r\nContent-Type: application/json\r\n"
           "X-Kubernetes-Pf-Flowschema-Uid: 5e6c-sim\r\nX-Kubernetes-Pf-Prioritylevel-Uid: 9a1b-sim\r\n"
           "Date: Tue, 24 Nov 2026 10:00:00 GMT\r\n", code, reason_of(code), rnd(), rnd());
    if (retry_after) sb(&b, "Retry-After: %d\r\n", retry_after);
    if (close) sb(&b, "Connection: close\r\n");
    if (pm(150)) {
        size_t cut = blen ? (size_t)between(1, (int64_t)blen) : 0;
        sb(&b, "Transfer-Encoding: chunked\r\n\r\n");
        if (cut) sb(&b, "%zx\r\n%.*s\r\n", cut, (int)cut, body);
        if (blen > cut) sb(&b, "%zx\r\n%.*s\r\n", blen - cut, (int)(blen - cut), body + cut);
        sb(&b, "0\r\n\r\n");
    } else {
        sb(&b, "Content-Length: %zu\r\n\r\n%.*s", blen, (int)blen, body);
    }
    return b.len;
}

/* ---- network ------------------------------------------------------------------ */

static int64_t delay(int up) {
    (void)up;
    if (phase_quiet) return between(0, P.dmax);
    if (G < degrade_until ? pm(250) : pm(15)) {
        T.faults[F_DELAY]++;
        return between(100, 2 * (int64_t)P.timeout);
    }
    if (P.zero_delay) return pm(650) ? 0 : between(1, 5);
    return between(1, 25);
}

static msg *new_msg(void) {
    int i;
    for (i = 0; i < NMSG; i++)
        if (!M[i].used) {
            if (i >= nmsg_hi) nmsg_hi = i + 1;
            memset(&M[i], 0, offsetof(msg, data));
            M[i].used = 1;
            return &M[i];
        }
    fprintf(stderr, "sim: too many messages in flight\n");
    exit(2);
}

/* Bytes from replica r on stream s's current connection towards the server
   (up) or back. Returns 0 if lost on the way (the connection stalls). */
static int post(int ri, int s, int up, const char *data, size_t len, int eof,
                int64_t extra) {
    replica *r = &R[ri];
    conn *c = &r->c[s];
    msg *m;
    int64_t at;
    if (c->stuck) return 0;
    if ((up && (r->part & P_UP)) || (!up && (r->part & P_DOWN))) {
        c->stuck = 1;
        return 0;
    }
    if (!phase_quiet && !eof && pm(G < degrade_until ? 30 : 2)) {
        T.faults[F_LOSS]++;
        c->stuck = 1;
        return 0;
    }
    if (len > MSGMAX) { fprintf(stderr, "sim: message of %zu bytes\n", len); exit(2); }
    at = G + delay(up) + extra;
    if (up) { at = MAX(at, c->up_last); c->up_last = at; }
    else { at = MAX(at, c->down_last); c->down_last = at; }
    m = new_msg();
    m->r = ri; m->s = s; m->up = up; m->eof = eof; m->cid = c->id;
    if (up) memcpy(m->who, r->id, sizeof m->who);
    m->at = at;
    m->seq = ++next_seq;
    m->len = len;
    if (len) memcpy(m->data, data, len);
    return 1;
}

static void conn_close(replica *r, int s) {
    conn *c = &r->c[s];
    c->open = 0;
    c->rx_len = 0;
    c->rx_eof = 0;
    c->stuck = 0;
    c->dead = 0;
    c->w_on = 0;
}
static int conn_connect(replica *r, int s) {
    conn *c = &r->c[s];
    if (G < server_down_until || (r->part & P_REFUSE)) return -1;
    conn_close(r, s);
    c->open = 1;
    c->id = ++next_cid;
    c->up_last = c->down_last = G;
    c->w_silent = c->w_drop = c->w_dup = 0;
    c->w_lag = 0;
    /* a black-holed network accepts the SYN nowhere: the request just hangs */
    if (r->part & (P_UP | P_DOWN)) c->stuck = 1;
    return 0;
}

/* ---- the store ----------------------------------------------------------------- */

static void hist_push(int type) {
    hev *h;
    if (hist_n == NHIST) {
        hist_floor = hist[0].rv;
        memmove(hist, hist + 1, sizeof hist[0] * (NHIST - 1));
        hist_n--;
    }
    h = &hist[hist_n++];
    h->rv = S.rv;
    h->at = G;
    h->type = type;
    h->len = render_obj(h->obj, sizeof h->obj, &S);
}
static void hist_expire(void) {
    /* the watch cache keeps a window of recent events (all the Leases of
       the cluster share it, so it turns over quickly) */
    while (hist_n && hist[0].at < G - hist_window) {
        hist_floor = hist[0].rv;
        memmove(hist, hist + 1, sizeof hist[0] * (size_t)(hist_n - 1));
        hist_n--;
    }
}

static void watch_send_event(int ri, const char *json, size_t jl, int force);
static void notify_watchers(void) {
    int i;
    const hev *h = &hist[hist_n - 1];
    char ev[2900];
    sbuf b;
    b.p = ev; b.cap = sizeof ev; b.len = 0;
    sb(&b, "{\"type\":\"%s\",\"object\":%.*s}\n",
       h->type == EV_ADDED ? "ADDED" : h->type == EV_DELETED ? "DELETED" : "MODIFIED",
       (int)h->len, h->obj);
    for (i = 0; i < P.n; i++)
        if (R[i].c[1].w_on) {
            watch_send_event(i, ev, b.len, 0);
            R[i].c[1].w_rv = h->rv;
        }
}

static int same_record(const lease_obj *a, const lease_in *q) {
    return a->has_holder == q->has_holder && !strcmp(a->holder, q->holder) &&
           a->dur == q->dur && a->tr == q->tr && !strcmp(a->acq, q->acq) &&
           !strcmp(a->ren, q->ren);
}
static int same_map(const kv *a, int na, const kv *b, int nb) {
    int i;
    if (na != nb) return 0;
    for (i = 0; i < na; i++)
        if (strcmp(a[i].k, b[i].k) || strcmp(a[i].v, b[i].v)) return 0;
    return 1;
}

/* Store-level rule: leaseTransitions +1 exactly when the holder changes to
   a new one, unchanged otherwise (a release keeps it). */
static void check_transitions(const lease_in *q, const char *who) {
    const char *oh = S.has_holder ? S.holder : "";
    const char *nh = q->has_holder ? q->holder : "";
    long old = S.tr < 0 ? 0 : S.tr; /* absent reads as 0, as in client-go */
    long want = (nh[0] && strcmp(oh, nh)) ? old + 1 : old;
    if (q->tr != want)
        FAILC(terms, "%s wrote leaseTransitions %ld (holder %s -> %s, was %ld): "
              "the term must grow by one exactly when the holder changes",
              who, q->tr, oh[0] ? oh : "(none)", nh[0] ? nh : "(none)", S.tr);
}

static void store_set(const lease_in *q) {
    int changed = !same_record(&S, q);
    S.has_holder = q->has_holder;
    snprintf(S.holder, sizeof S.holder, "%s", q->holder);
    S.dur = q->dur;
    S.tr = q->tr;
    snprintf(S.acq, sizeof S.acq, "%s", q->acq);
    snprintf(S.ren, sizeof S.ren, "%s", q->ren);
    S.nlab = q->nlab;
    memcpy(S.lab, q->lab, sizeof S.lab);
    S.nann = q->nann;
    memcpy(S.ann, q->ann, sizeof S.ann);
    if (changed) S.content_since = G;
    if (q->has_holder && q->holder[0] && q->tr >= 0) {
        int k = wlog_n++ % 64;
        wlog[k].epoch = S.epoch;
        wlog[k].tr = q->tr;
        snprintf(wlog[k].holder, sizeof wlog[k].holder, "%s", q->holder);
    }
}

static void store_create(const lease_in *q, int copy_meta) {
    S.exists = 1;
    snprintf(S.uid, sizeof S.uid, "0b1e%04x-5a1d-4c0d-9e5e-%012llx", (unsigned)(S.epoch & 0xffff),
             (unsigned long long)++uid_counter);
    snprintf(S.created, sizeof S.created, "2026-11-24T10:%02d:%02dZ", (int)(G / 60000 % 60),
             (int)(G / 1000 % 60));
    S.rv = ++revision;
    S.has_holder = 0; S.holder[0] = 0; S.dur = S.tr = -1; S.acq[0] = S.ren[0] = 0;
    S.nlab = S.nann = 0;
    store_set(q);
    if (!copy_meta) { S.nlab = 0; S.nann = 0; }
    S.content_since = G;
    T.creations++;
    hist_push(EV_ADDED);
    notify_watchers();
}

static void store_delete(void) {
    S.exists = 0;
    S.rv = ++revision;
    hist_push(EV_DELETED);
    notify_watchers();
    S.epoch++;
}

/* What the API server answers to one request (and does to the store). */
typedef struct { int code; char body[2600]; size_t blen; int applied, retry_after; } answer;

static void status_answer(answer *a, int code, const char *reason, const char *msgtext) {
    a->code = code;
    a->blen = render_status(a->body, sizeof a->body, code, reason, msgtext);
}

/* Fenced records: le.h/ annotations change only in writes of the holder
   of the record they replace; a value reported stored was stored. */
static struct { char k[96], v[160]; } rec_log[256];
static int rec_n;
static int records_differ(const lease_in *q) {
    int i, j;
    for (i = 0; i < q->nann; i++) {
        if (strncmp(q->ann[i].k, "le.h/", 5)) continue;
        for (j = 0; j < S.nann; j++)
            if (!strcmp(S.ann[j].k, q->ann[i].k)) break;
        if (j == S.nann || strcmp(S.ann[j].v, q->ann[i].v)) return 1;
    }
    for (j = 0; j < S.nann; j++) {
        if (strncmp(S.ann[j].k, "le.h/", 5)) continue;
        for (i = 0; i < q->nann; i++)
            if (!strcmp(S.ann[j].k, q->ann[i].k)) break;
        if (i == q->nann) return 1;
    }
    return 0;
}
static void records_log(void) {
    int i;
    for (i = 0; i < S.nann; i++)
        if (!strncmp(S.ann[i].k, "le.h/", 5)) {
            int k = rec_n++ % 256;
            memcpy(rec_log[k].k, S.ann[i].k, sizeof rec_log[k].k);
            memcpy(rec_log[k].v, S.ann[i].v, sizeof rec_log[k].v);
        }
}

static void serve_lease(const char *who, const char *method, const char *path,
                        const char *body, size_t blen, answer *a) {
    static const char base[] = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
    lease_in q;
    memset(a, 0, sizeof *a);
    if (strncmp(path, base, sizeof base - 1)) { status_answer(a, 404, "NotFound", "the server could not find the requested resource"); return; }
    path += sizeof base - 1;
    if (!strcmp(method, "GET") && !strcmp(path, "/sim")) {
        if (!S.exists) { status_answer(a, 404, "NotFound", "leases.coordination.k8s.io \\\"sim\\\" not found"); return; }
        a->code = 200;
        a->blen = render_obj(a->body, sizeof a->body, &S);
        return;
    }
    if (strcmp(method, "POST") && strcmp(method, "PUT")) { status_answer(a, 405, "MethodNotAllowed", "method not allowed"); return; }
    if (parse_lease(body, blen, &q)) { status_answer(a, 400, "BadRequest", q.why); return; }
    if (strcmp(q.kind, "Lease") || strcmp(q.api, "coordination.k8s.io/v1")) { status_answer(a, 400, "BadRequest", "wrong kind or apiVersion"); return; }
    if (!q.has_name || strcmp(q.name, "sim") || (q.ns[0] && strcmp(q.ns, "default"))) { status_answer(a, 400, "BadRequest", "the name of the object does not match the name on the URL"); return; }
    if ((q.dur_set && q.dur <= 0) || (q.tr_set && q.tr < 0)) { status_answer(a, 422, "Invalid", "spec: Invalid value: leaseDurationSeconds must be greater than 0, leaseTransitions not negative"); return; }
    if (!strcmp(method, "POST")) {
        if (strcmp(path, "")) { status_answer(a, 405, "MethodNotAllowed", "POST to a name"); return; }
        if (q.has_rv && q.rv[0]) { status_answer(a, 400, "BadRequest", "resourceVersion should not be set on objects to be created"); return; }
        if (S.exists) { status_answer(a, 409, "AlreadyExists", "leases.coordination.k8s.io \\\"sim\\\" already exists"); return; }
        if (q.tr != 0 && q.has_holder && q.holder[0])
            FAILC(terms, "%s created the Lease with leaseTransitions %ld, not 0", who, q.tr);
        store_create(&q, 1);
        a->applied = 1;
        a->code = 201;
        a->blen = render_obj(a->body, sizeof a->body, &S);
        return;
    }
    if (strcmp(path, "/sim")) { status_answer(a, 405, "MethodNotAllowed", "PUT without a name"); return; }
    if (!S.exists) {
        if (q.has_uid) { status_answer(a, 409, "Conflict", "Precondition failed: UID in precondition: x, UID in object meta: "); return; }
        store_create(&q, 1);
        a->applied = 1;
        a->code = 201;
        a->blen = render_obj(a->body, sizeof a->body, &S);
        return;
    }
    if (q.has_uid && strcmp(q.uid, S.uid)) { status_answer(a, 409, "Conflict", "Precondition failed: UID in precondition"); return; }
    if (!q.has_rv || !q.rv[0] || !strcmp(q.rv, "0")) { status_answer(a, 422, "Invalid", "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"); return; }
    if (strtoll(q.rv, 0, 10) != S.rv) {
        T.conflicts++;
        status_answer(a, 409, "Conflict", "Operation cannot be fulfilled on leases.coordination.k8s.io \\\"sim\\\": the object has been modified; please apply your changes to the latest version and try again");
        return;
    }
    /* what the writer does not own must come back as it was read */
    {
        int i, nf = 0, ns = 0;
        kv fq[8], fs[8];
        for (i = 0; i < q.nann; i++) if (strncmp(q.ann[i].k, "le.h/", 5)) fq[nf++] = q.ann[i];
        for (i = 0; i < S.nann; i++) if (strncmp(S.ann[i].k, "le.h/", 5)) fs[ns++] = S.ann[i];
        if (!same_map(fq, nf, fs, ns) || !same_map(q.lab, q.nlab, S.lab, S.nlab))
            FAILC(other, "%s's write dropped or changed labels/annotations it does not own", who);
    }
    if (same_record(&S, &q) && same_map(q.ann, q.nann, S.ann, S.nann) &&
        same_map(q.lab, q.nlab, S.lab, S.nlab)) {
        T.faults[F_NOOP]++; /* GuaranteedUpdate: byte-identical, nothing written */
        a->code = 200;
        a->blen = render_obj(a->body, sizeof a->body, &S);
        return;
    }
    check_transitions(&q, who);
    if (records_differ(&q) && (!S.has_holder || strcmp(S.holder, who)))
        FAILC(other, "%s changed a fenced record (le.h/ annotation) of a Lease held by %s",
              who, S.has_holder && S.holder[0] ? S.holder : "nobody");
    {
        const char *oh = S.has_holder ? S.holder : "";
        const char *nh = q.has_holder ? q.holder : "";
        if (nh[0] && strcmp(oh, nh)) { if (oh[0]) T.takeovers++; else T.handovers++; }
        else if (nh[0]) T.renews++;
    }
    store_set(&q);
    records_log();
    S.rv = ++revision;
    hist_push(EV_MODIFIED);
    notify_watchers();
    a->applied = 1;
    a->code = 200;
    a->blen = render_obj(a->body, sizeof a->body, &S);
}

/* ---- watches ------------------------------------------------------------------- */

static void watch_send_event(int ri, const char *json, size_t jl, int force) {
    conn *c = &R[ri].c[1];
    char out[MSGMAX];
    sbuf b;
    if (!force) {
        if (c->w_silent) return;
        if (c->w_drop > 0) { c->w_drop--; return; }
    }
    b.p = out; b.cap = sizeof out; b.len = 0;
    if (jl > 40 && pm(100)) { /* one event over two chunks */
        size_t cut = (size_t)between(1, (int64_t)jl - 1);
        sb(&b, "%zx\r\n%.*s\r\n%zx\r\n%.*s\r\n", cut, (int)cut, json, jl - cut, (int)(jl - cut), json + cut);
    } else {
        sb(&b, "%zx\r\n%.*s\r\n", jl, (int)jl, json);
    }
    if (post(ri, 1, 0, out, b.len, 0, c->w_lag)) T.watch_events++;
    if (!force && c->w_dup > 0) {
        c->w_dup--;
        post(ri, 1, 0, out, b.len, 0, c->w_lag);
    }
}

static void watch_end_stream(int ri) {
    conn *c = &R[ri].c[1];
    c->w_on = 0;
    post(ri, 1, 0, "0\r\n\r\n", 5, 0, c->w_lag);
}

static void watch_gone(int ri, int64_t want) {
    char ev[512];
    sbuf b;
    b.p = ev; b.cap = sizeof ev; b.len = 0;
    sb(&b, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
           "\"status\":\"Failure\",\"message\":\"too old resource version: %lld (%lld)\","
           "\"reason\":\"Expired\",\"code\":410}}\n", (long long)want, (long long)hist_floor);
    watch_send_event(ri, ev, b.len, 1);
    watch_end_stream(ri);
}

static void watch_bookmark(int ri) {
    conn *c = &R[ri].c[1];
    char ev[512];
    sbuf b;
    b.p = ev; b.cap = sizeof ev; b.len = 0;
    sb(&b, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\","
           "\"metadata\":{\"resourceVersion\":\"%lld\",\"creationTimestamp\":null},\"spec\":{}}}\n",
       (long long)revision);
    watch_send_event(ri, ev, b.len, 0);
    if (!c->w_silent) c->w_rv = revision;
    c->w_bm = G + between(50000, 70000);
}

static int qparam(const char *path, const char *key, char *out, size_t cap) {
    const char *p = strchr(path, '?');
    size_t kl = strlen(key);
    while (p) {
        p++;
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            size_t n = 0;
            p += kl + 1;
            while (*p && *p != '&' && n + 1 < cap) out[n++] = *p++;
            out[n] = 0;
            return 1;
        }
        p = strchr(p, '&');
    }
    return 0;
}

#define WATCH_PATH "/apis/coordination.k8s.io/v1/namespaces/default/leases?"
static void serve_watch(int ri, const char *path) {
    conn *c = &R[ri].c[1];
    char rv[40], to[16], fs[96], hdr[512];
    int64_t from;
    int i;
    sbuf b;
    if (!qparam(path, "watch", to, sizeof to) || strcmp(to, "true") ||
        !qparam(path, "fieldSelector", fs, sizeof fs) || strcmp(fs, "metadata.name%3Dsim") ||
        !qparam(path, "resourceVersion", rv, sizeof rv) ||
        strncmp(path, WATCH_PATH, sizeof WATCH_PATH - 1))
        FAILC(other, "%s sent a watch request the simulator does not expect: %.200s", R[ri].id, path);
    from = strtoll(rv, 0, 10);
    hist_expire();
    b.p = hdr; b.cap = sizeof hdr; b.len = 0;
    if (pm(50) && from < hist_floor) { /* too old, as an HTTP status */
        char body[600];
        size_t bl = render_status(body, sizeof body, 410, "Expired", "too old resource version");
        char out[1500];
        size_t n = render_http(out, sizeof out, 410, body, bl, 0, 0);
        post(ri, 1, 0, out, n, 0, 0);
        return;
    }
    sb(&b, "HTTP/1.1 200 OK\r\nAudit-Id: %08x-0000-4000-8000-000000000000\r\nCache-Control: no-cache, private\r\n"
           "Content-Type: application/json\r\nDate: Tue, 24 Nov 2026 10:00:00 GMT\r\n"
           "Transfer-Encoding: chunked\r\n\r\n", rnd());
    post(ri, 1, 0, hdr, b.len, 0, 0);
    c->w_on = 1;
    c->w_rv = from;
    c->w_lag = 0;
    if (from < hist_floor) { watch_gone(ri, from); return; }
    for (i = 0; i < hist_n; i++) {
        if (hist[i].rv <= from) continue;
        {
            char ev[2900];
            sbuf e;
            e.p = ev; e.cap = sizeof ev; e.len = 0;
            sb(&e, "{\"type\":\"%s\",\"object\":%.*s}\n",
               hist[i].type == EV_ADDED ? "ADDED" : hist[i].type == EV_DELETED ? "DELETED" : "MODIFIED",
               (int)hist[i].len, hist[i].obj);
            watch_send_event(ri, ev, e.len, 0);
            c->w_rv = hist[i].rv;
        }
    }
    {
        long secs = qparam(path, "timeoutSeconds", to, sizeof to) ? atol(to) : 1800;
        c->w_end = G + secs * 1000;
    }
    c->w_bm = G + between(1000, 60000);
}

/* ---- the server's side of a connection ------------------------------------ */

static void on_request(int ri, int s, int live, const char *who, const char *req, size_t hl,
                       const char *body, size_t bl) {
    char method[8], path[600];
    const char *sp = memchr(req, ' ', hl), *sp2;
    answer a;
    char out[MSGMAX];
    size_t n;
    int close, ra = 0;
    memset(&a, 0, sizeof a);
    if (!sp || sp - req >= (long)sizeof method) { FAILC(other, "malformed request line: %.60s", req); return; }
    memcpy(method, req, (size_t)(sp - req));
    method[sp - req] = 0;
    sp2 = memchr(sp + 1, ' ', hl - (size_t)(sp + 1 - req));
    if (!sp2 || sp2 - sp - 1 >= (long)sizeof path) { FAILC(other, "malformed request target"); return; }
    memcpy(path, sp + 1, (size_t)(sp2 - sp - 1));
    path[sp2 - sp - 1] = 0;
    T.requests++;
    if (strchr(path, '?')) {
        if (s != 1) FAILC(other, "%s sent a watch on its request connection", R[ri].id);
        if (live) serve_watch(ri, path);
        return;
    }
    if (s == 1) FAILC(other, "%s sent %s on its watch connection", R[ri].id, method);
    /* the API server fails now and then: before or after writing */
    if (!phase_quiet && strcmp(method, "GET") && pm(G < degrade_until ? 60 : 8)) {
        int after = pm(500);
        if (after) serve_lease(who, method, path, body, bl, &a);
        T.faults[after && a.applied ? F_5XX_APPLIED : F_5XX]++;
        status_answer(&a, pm(500) ? 500 : 503, "InternalError", "etcdserver: request timed out");
    } else if (!phase_quiet && pm(G < degrade_until ? 40 : 4)) {
        T.faults[F_429]++;
        status_answer(&a, 429, "TooManyRequests", "the server is receiving too many requests");
        ra = (int)between(1, 3);
    } else {
        serve_lease(who, method, path, body, bl, &a);
        if (!phase_quiet && a.applied && strcmp(method, "GET") && pm(5)) {
            /* a proxy retried it: the server got it twice; the client gets
               the second answer */
            answer b2;
            T.faults[F_DUP_REQ]++;
            serve_lease(who, method, path, body, bl, &b2);
            a = b2;
        }
    }
    if (!live) {
        if (a.applied) T.faults[F_LATE_WRITE]++;
        return;
    }
    close = !phase_quiet && pm(10);
    if (close) T.faults[F_SRV_CLOSE]++;
    n = render_http(out, sizeof out, a.code, a.body, a.blen, ra, close);
    trace("server -> %s: %d (rv %lld)", R[ri].id, a.code, (long long)S.rv);
    post(ri, s, 0, out, n, 0, 0);
    if (close) post(ri, s, 0, 0, 0, 1, 0);
}

static size_t find_hdr_end(const char *p, size_t n) {
    size_t i;
    for (i = 0; i + 3 < n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return i + 4;
    return 0;
}
static long content_length(const char *h, size_t n) {
    size_t i;
    for (i = 0; i + 16 < n; i++)
        if ((h[i] | 0x20) == 'c' && !strncmp(h + i + 1, "ontent-Length: ", 15))
            return atol(h + i + 16);
    return 0;
}

/* The server's receive buffer of a connection (the most recent ones; one
   holding part of a request is kept longest). */
#define NSVB 128
static struct { unsigned cid; int broken, late; uint64_t used; char who[48]; size_t len; char data[SVCAP]; } svb[NSVB];
static uint64_t svb_clock;
/* A free slot: no bytes waiting and not broken (a broken connection's
   later bytes must still find it, or they would start a request anew). */
#define SVB_FREE(i) (svb[i].len == 0 && !svb[i].broken)
static int svb_find(unsigned cid) {
    int i, old = 0;
    for (i = 0; i < NSVB; i++) {
        if (svb[i].cid == cid) { svb[i].used = ++svb_clock; return i; }
        if (SVB_FREE(i) > SVB_FREE(old) ||
            (SVB_FREE(i) == SVB_FREE(old) && svb[i].used < svb[old].used))
            old = i;
    }
    svb[old].cid = cid;
    svb[old].len = 0;
    svb[old].broken = svb[old].late = 0;
    svb[old].used = ++svb_clock;
    return old;
}

/* Bytes arrived at the server on a connection; live: the client still has
   it open (else the reply goes nowhere). */
static void server_bytes(int ri, int s, const msg *m, int live) {
    int k = svb_find(m->cid);
    char *buf = svb[k].data;
    size_t *len = &svb[k].len;
    if (!*len) memcpy(svb[k].who, m->who, sizeof svb[k].who);
    if (*len + m->len > SVCAP) { fprintf(stderr, "sim: server buffer overflow\n"); exit(2); }
    memcpy(buf + *len, m->data, m->len);
    *len += m->len;
    for (;;) {
        size_t he = find_hdr_end(buf, *len);
        long cl;
        if (!he) return;
        cl = content_length(buf, he);
        if (*len < he + (size_t)cl) return;
        on_request(ri, s, live, svb[k].who, buf, he, buf + he, (size_t)cl);
        memmove(buf, buf + he + cl, *len - he - (size_t)cl);
        *len -= he + (size_t)cl;
    }
}

/* ---- replicas ------------------------------------------------------------------- */

static void on_event(void *user, const le_event *ev) {
    replica *r = (replica *)user;
    if (ev->type == LE_EV_ERROR) { T.errors++; trace("%s error %d: %s", r->id, ev->error, ev->message); }
    if (ev->type == LE_EV_STOPPED_LEADING) trace("%s stopped leading (reason %d)", r->id, ev->reason);
    if (ev->type == LE_EV_RECORD_STORED) {
        char k[96];
        int i;
        snprintf(k, sizeof k, "le.h/%s", ev->key);
        for (i = 0; i < 256 && i < rec_n; i++)
            if (!strcmp(rec_log[i].k, k) && !strcmp(rec_log[i].v, ev->value)) break;
        T.records_stored++;
        if (i == 256 || i == rec_n)
            FAILC(other, "%s reported record %s=%s stored, which no write stored", r->id, ev->key, ev->value);
    }
    if (ev->type == LE_EV_STARTED_LEADING) {
        int k, epoch = -1;
        T.tenures++;
        r->lead_since = G;
        trace("%s started leading, term %lld", r->id, (long long)ev->term);
        for (k = 0; k < 64 && k < wlog_n; k++) {
            int i = (wlog_n - 1 - k) % 64;
            if (!strcmp(wlog[i].holder, r->id) && wlog[i].tr == ev->term) { epoch = wlog[i].epoch; break; }
        }
        if (epoch < 0) {
            FAILC(terms, "%s started leading with term %lld, which no write naming it stored", r->id,
                  (long long)ev->term);
            return;
        }
        if (epoch < lt_epoch && !opt.delete_held)
            FAILC(terms, "%s started leading on a record of a deleted Lease", r->id);
        else if (epoch == lt_epoch && strcmp(lt_holder, r->id) && ev->term <= lt_term)
            FAILC(terms, "%s started leading with term %lld after %s's term %ld: terms must grow "
                  "when the holder changes", r->id, (long long)ev->term, lt_holder, lt_term);
        lt_epoch = epoch;
        lt_term = (long)ev->term;
        snprintf(lt_holder, sizeof lt_holder, "%s", r->id);
    }
}

static void start(replica *r, int new_identity) {
    le_config c;
    int i = (int)(r - R);
    if (new_identity) {
        r->gen++;
        /* a new pod, maybe on another node: another clock */
        r->l0 = between(1000000, 900000000);
        r->g0 = G;
        r->rate = opt.sweep ? ((i & 1) ? opt.sweep_ppm : 1000000) : pick_rate();
        r->wall_off = 1795000000000000LL + between(-60000000, 60000000) - r->l0 * 1000;
        r->watch = pm(P.watch_pm);
    }
    snprintf(r->id, sizeof r->id, "pod-%d-%d", i, r->gen);
    memset(&c, 0, sizeof c);
    c.ns = "default";
    c.name = "sim";
    c.identity = r->id;
    c.lease_duration_ms = P.lease;
    c.renew_deadline_ms = P.renew;
    c.retry_period_ms = P.retry;
    c.request_timeout_ms = P.timeout;
    c.poll_only = !r->watch;
    c.seed = rnd64();
    c.on_event = on_event;
    c.user = r;
    if (le_init(&r->e, &c)) { fprintf(stderr, "sim: le_init: %s\n", le_errmsg(&r->e)); exit(2); }
    r->up = 1;
    r->stopping = 0;
    r->frozen_until = 0;
    r->wake = G;
    r->dirty = 1;
    r->wall_mode = WALL_OK;
    r->wall_until = FAR;
    r->last_want = r->last_watch = (le_want)0;
    r->ioerr = 0;
    r->stop_pending = 0;
    r->saw_lease_at = -1;
    r->saw_uid[0] = 0;
    r->knew = 0;
    r->lead_since = -1;
    conn_close(r, 0);
    conn_close(r, 1);
    if (phase_quiet) q_mono0[i] = mono(r);
    trace("%s starts (%s, rate %lld ppm)", r->id, r->watch ? "watch" : "poll", (long long)r->rate);
}

static void do_stop(replica *r);
static void crash(replica *r, int64_t down_for) {
    r->up = 0;
    r->restart_at = G + down_for;
    conn_close(r, 0);
    conn_close(r, 1);
    trace("%s crashed", r->id);
}

/* Feeds what arrived on stream s, in pieces now and then. */
static int feed_conn(replica *r, int s) {
    conn *c = &r->c[s];
    size_t off = 0;
    if (!c->open || (!c->rx_len && !c->rx_eof)) return 0;
    while (off < c->rx_len) {
        size_t n = c->rx_len - off;
        if (n > 1 && pm(100)) { n = (size_t)between(1, (int64_t)n - 1); T.faults[F_SPLIT]++; }
        if (s == 0) le_feed(&r->e, now_of(r), c->rx + off, n);
        else le_watch_feed(&r->e, now_of(r), c->rx + off, n);
        off += n;
    }
    c->rx_len = 0;
    if (c->rx_eof) {
        if (s == 0) le_feed(&r->e, now_of(r), "", 0);
        else le_watch_feed(&r->e, now_of(r), "", 0);
        conn_close(r, s); /* the transport saw the close */
    }
    return 1;
}

static int do_send(replica *r, int s, const char *data, size_t len) {
    conn *c = &r->c[s];
    size_t n = len;
    if (!c->open && conn_connect(r, s)) {
        if (s == 0) le_io_error(&r->e, now_of(r), LE_ECONNECT, "connection refused (simulated)");
        else le_watch_error(&r->e, now_of(r), LE_ECONNECT, "connection refused (simulated)");
        return 1;
    }
    if (c->dead) {
        if (s == 0) le_io_error(&r->e, now_of(r), LE_EIO, "write: connection reset by peer");
        else le_watch_error(&r->e, now_of(r), LE_EIO, "write: connection reset by peer");
        conn_close(r, s);
        return 1;
    }
    if (n > 1 && pm(50)) { n = (size_t)between(1, (int64_t)n - 1); T.faults[F_SPLIT]++; }
    post((int)(r - R), s, 1, data, n, 0, 0);
    if (s == 0) le_sent(&r->e, now_of(r), n);
    else le_watch_sent(&r->e, now_of(r), n);
    return 1;
}

static void do_stop(replica *r) {
    r->stop_pending = 0;
    le_stop(&r->e, now_of(r));
    if (le_is_leader(&r->e, mono(r)))
        FAILC(other, "%s still answers le_is_leader() yes right after le_stop()", r->id);
    r->stopping = 1;
    r->dirty = 1;
}

/* Runs a replica's loop until it waits. */
static void drive(replica *r) {
    int guard, did = 1;
    le_action a;
    memset(&a, 0, sizeof a);
    r->dirty = 0;
    /* a SIGTERM that came while it was stopped: its handler runs before or
       after the loop reads what is waiting on the connections */
    if (r->stop_pending && pm(500)) do_stop(r);
    for (guard = 0; did; guard++) {
        int first = (int)(rnd() & 1);
        if (guard == 500) { FAILC(other, "%s: le_next() never waits (busy loop)", r->id); return; }
        did = feed_conn(r, first);
        did |= feed_conn(r, !first);
        if (r->stop_pending) do_stop(r);
        a = le_next(&r->e, now_of(r));
        r->last_want = a.want;
        r->last_watch = a.watch;
        if (r->ioerr == 1 && a.want == LE_WANT_RECV) {
            r->ioerr = 0;
            note(F_IOERR, (int)(r - R));
            le_io_error(&r->e, now_of(r), LE_EIO, "read: transient error (simulated)");
            did = 1;
            continue;
        }
        if (r->ioerr == 2 && a.watch == LE_WANT_RECV) {
            r->ioerr = 0;
            note(F_IOERR, (int)(r - R));
            le_watch_error(&r->e, now_of(r), LE_EIO, "read: transient error (simulated)");
            did = 1;
            continue;
        }
        switch (a.want) {
        case LE_WANT_SEND: did |= do_send(r, 0, a.data, a.len); break;
        case LE_WANT_CLOSE:
            conn_close(r, 0);
            did = 1;
            break;
        case LE_WANT_DONE:
            trace("%s done", r->id);
            crash(r, phase_quiet ? 0 : between(200, 2 * (int64_t)P.lease));
            return;
        default: break;
        }
        if (a.watch == LE_WANT_SEND) did |= do_send(r, 1, a.wdata, a.wlen);
        else if (a.watch == LE_WANT_CLOSE || (a.watch == 0 && r->c[1].open)) {
            conn_close(r, 1);
            did = 1;
        }
    }
    r->wake = true_at(r, a.deadline);
}

/* ---- faults ------------------------------------------------------------------------ */

static int leader_index(void) {
    int i;
    for (i = 0; i < P.n; i++)
        if (R[i].up && le_is_leader(&R[i].e, mono(&R[i]))) return i;
    return -1;
}
static int pick_replica(int prefer_leader) {
    int l = leader_index(), i, k;
    if (l >= 0 && prefer_leader) return l;
    for (k = 0; k < 8; k++) {
        i = (int)(rnd() % (unsigned)P.n);
        if (R[i].up) return i;
    }
    return -1;
}

/* Deleting a held Lease lets a new holder start at once while the old one
   still leads: outside the guarantee (--delete-held shows it). */
static int lease_expired_for_all(void) {
    int64_t dur;
    if (!S.exists) return 0;
    if (!S.has_holder || !S.holder[0]) return 1;
    dur = S.dur > 0 ? S.dur * 1000 : 0;
    return G > S.content_since + (dur * 1000000 + P.rmin - 1) / P.rmin + 2;
}

static void inject(void) {
    int k = (int)(rnd() % 100), i;
    replica *r;
    int64_t lease = P.lease;
    if (opt.sweep) k = k < 50 ? 30 : k < 70 ? 0 : k < 85 ? 20 : 10; /* partitions, crashes, freezes, stops */
    if (k < 8) { /* crash, leader first */
        if ((i = pick_replica(pm(700))) < 0) return;
        note(F_CRASH, i);
        r = &R[i];
        crash(r, between(300, 3 * lease));
        r->gen += 0; /* same identity or not: decided at restart */
    } else if (k < 14) {
        if ((i = pick_replica(pm(700))) < 0 || R[i].stopping || R[i].stop_pending) return;
        r = &R[i];
        note(F_STOP, i);
        /* SIGTERM: a stopped process handles it when it runs again */
        if (r->frozen_until > G) r->stop_pending = 1;
        else do_stop(r);
    } else if (k < 24) {
        int64_t d;
        if ((i = pick_replica(pm(600))) < 0) return;
        r = &R[i];
        d = pm(700) ? between(10, 500) : pm(830) ? between(500, P.renew) : between(P.renew, 3 * lease);
        note(F_FREEZE, i);
        r->frozen_until = MAX(r->frozen_until, G + d);
        trace("%s frozen for %lld ms", r->id, (long long)d);
    } else if (k < 36) {
        int kind = (int)(rnd() % 4);
        if ((i = pick_replica(pm(600))) < 0) return;
        r = &R[i];
        note(F_PARTITION, i);
        r->part = kind == 0 ? P_UP | P_DOWN : kind == 1 ? P_UP | P_DOWN | P_REFUSE : kind == 2 ? P_DOWN : P_UP;
        r->part_until = G + between(200, 3 * lease);
        if (r->part & P_DOWN) r->c[0].stuck = r->c[1].stuck = 1;
        trace("%s partitioned (%d) until %.3f", r->id, r->part, (double)r->part_until / 1000);
    } else if (k < 40) {
        note(F_DEGRADE, -1);
        degrade_until = G + between(1000, 2 * lease);
    } else if (k < 44) {
        note(F_STALL, -1);
        stall_until = G + between(100, 2 * (int64_t)P.timeout);
    } else if (k < 47) {
        note(F_RESTART, -1);
        server_down_until = G + between(200, lease / 2);
        for (i = 0; i < P.n; i++) {
            int s;
            for (s = 0; s < 2; s++) {
                conn *c = &R[i].c[s];
                c->w_on = 0;
                if (!c->open) continue;
                if (pm(500)) { post(i, s, 0, 0, 0, 1, 0); c->dead = 1; }
                else c->stuck = 1; /* half-open: silence until the client gives up */
            }
        }
        for (i = 0; i < nmsg_hi; i++) if (M[i].used && M[i].up) M[i].used = 0;
        memset(svb, 0, sizeof svb);
        hist_n = 0;
        hist_floor = revision;
        trace("API server restarts");
    } else if (k < 55) {
        int w = (int)(rnd() % 3);
        if ((i = pick_replica(pm(300))) < 0) return;
        r = &R[i];
        if (w == 0) {
            note(F_WALL_FREEZE, i);
            r->wall_fixed = now_of(r).wall_us;
            r->wall_mode = WALL_FROZEN;
            r->wall_until = G + between(1000, 5 * lease);
        } else if (w == 1) {
            note(F_WALL_ZERO, i);
            r->wall_mode = WALL_ZERO;
            r->wall_until = G + between(1000, 5 * lease);
        } else {
            note(F_WALL_BACK, i);
            r->wall_off += pm(800) ? -between(1000000, 3600000000LL) : between(1000000, 600000000);
        }
    } else if (k < 60) {
        if (P.exact || (i = pick_replica(0)) < 0) return;
        note(F_RATE, i);
        set_rate(&R[i], pick_rate());
        R[i].dirty = 1;
    } else if (k < 66) {
        /* the next wait for a reply on one stream ends in a read error
           while the reply is on its way: the connection stays open unless
           the elector asks to close it */
        if ((i = pick_replica(pm(600))) < 0) return;
        R[i].ioerr = pm(700) ? 1 : 2;
    } else if (k < 69) {
        delete_pending = 1; /* an operator deletes it as soon as nobody holds it */
    } else if (k < 71) {
        lease_in q;
        if (S.exists) return;
        note(F_RECREATE, -1);
        memset(&q, 0, sizeof q);
        q.dur = q.tr = -1;
        snprintf(q.lab[0].k, sizeof q.lab[0].k, "app");
        snprintf(q.lab[0].v, sizeof q.lab[0].v, "sim");
        q.nlab = 1;
        if (pm(300)) { q.tr = 0; q.has_holder = 1; q.dur = 15; } /* a manifest with an empty holder */
        store_create(&q, 1);
        trace("Lease re-created by somebody else");
    } else if (k < 74) {
        if (!S.exists) return;
        note(F_ANNOTATE, -1);
        {
            kv a;
            int j, found = 0;
            snprintf(a.k, sizeof a.k, "ops.example.com/note");
            snprintf(a.v, sizeof a.v, "n%u", rnd() % 1000);
            for (j = 0; j < S.nann; j++) if (!strcmp(S.ann[j].k, a.k)) { S.ann[j] = a; found = 1; }
            if (!found && S.nann < 8) S.ann[S.nann++] = a;
            qsort(S.ann, (size_t)S.nann, sizeof a, kv_cmp);
        }
        S.rv = ++revision;
        hist_push(EV_MODIFIED);
        notify_watchers();
    } else if (k < 92) {
        int w = (int)(rnd() % 6);
        for (i = 0; i < P.n; i++) if (R[i].c[1].w_on && pm(400)) break;
        if (i == P.n) return;
        r = &R[i];
        switch (w) {
        case 0: note(F_WATCH_LAG, i); r->c[1].w_lag = pm(500) ? between(0, lease) : 0; break;
        case 1: note(F_WATCH_DROP, i); r->c[1].w_drop = (int)between(1, 3); break;
        case 2: note(F_WATCH_DUP, i); r->c[1].w_dup = (int)between(1, 3); break;
        case 3: note(F_WATCH_SILENT, i); r->c[1].w_silent = 1; break;
        case 4: note(F_WATCH_GONE, i); watch_gone(i, r->c[1].w_rv); break;
        default: note(F_WATCH_END, i); watch_end_stream(i); break;
        }
    } else {
        /* bytes the server sends on an idle request connection */
        for (i = 0; i < P.n; i++) {
            r = &R[i];
            if (r->up && r->c[0].open && r->last_want == LE_WANT_WAIT && S.exists) {
                char body[2600], out[MSGMAX];
                size_t bl = render_obj(body, sizeof body, &S);
                size_t n = render_http(out, sizeof out, 200, body, bl, 0, 0);
                T.faults[F_UNSOLICITED]++;
                post(i, 0, 0, out, n, 0, 0);
                break;
            }
        }
    }
}

/* ---- time ---------------------------------------------------------------------------- */

static void begin_quiet(void);
static void begin_faults(void);

static int64_t next_time(void) {
    int64_t t = MIN(END + 1, phase_end);
    int i, s;
    t = MIN(t, next_fault);
    t = MIN(t, next_noise);
    t = MIN(t, next_record);
    if (stall_until > G) t = MIN(t, stall_until);
    for (i = 0; i < nmsg_hi; i++)
        if (M[i].used) t = MIN(t, M[i].at);
    for (i = 0; i < P.n; i++) {
        replica *r = &R[i];
        if (!r->up) { t = MIN(t, r->restart_at); continue; }
        if (r->frozen_until > G) t = MIN(t, r->frozen_until);
        else if (r->dirty) t = MIN(t, G);
        else t = MIN(t, r->wake);
        if (r->part) t = MIN(t, r->part_until);
        if (r->wall_mode != WALL_OK) t = MIN(t, r->wall_until);
        for (s = 1; s < 2; s++)
            if (r->c[s].w_on && !r->c[s].w_silent) t = MIN(t, MIN(r->c[s].w_bm, r->c[s].w_end));
    }
    return MAX(t, G);
}

static const char *memmem_(const char *h, size_t n, const char *needle) {
    size_t k = strlen(needle), i;
    for (i = 0; i + k <= n; i++)
        if (h[i] == needle[0] && !memcmp(h + i, needle, k)) return h + i;
    return 0;
}

static void deliver(msg *m) {
    replica *r = &R[m->r];
    conn *c = &r->c[m->s];
    int live = r->up && c->open && c->id == m->cid && !c->stuck;
    if (m->up && G >= server_down_until && G < stall_until) {
        int j;
        m->at = stall_until + between(0, 50); /* queued in the server */
        for (j = 0; j < nmsg_hi; j++) /* and what follows it on the connection */
            if (M[j].used && M[j].cid == m->cid && M[j].up && M[j].seq > m->seq)
                M[j].at = MAX(M[j].at, m->at);
        if (c->id == m->cid) c->up_last = MAX(c->up_last, m->at);
        return;
    }
    m->used = 0;
    if (m->up) {
        if (G < server_down_until) return;
        int k = svb_find(m->cid);
        /* once bytes of a connection are lost, nothing after them arrives */
        if (svb[k].broken) return;
        if (!live && c->id == m->cid && c->stuck) { svb[k].broken = 1; return; }
        if (!live && !svb[k].late++ && !pm(700)) svb[k].broken = 1; /* the server saw the close first */
        if (svb[k].broken) return;
        server_bytes(m->r, m->s, m, live);
        return;
    }
    if (!live) {
        if (r->up && !m->eof && (c->id != m->cid || !c->open)) T.stale_discarded++;
        return;
    }
    if (m->eof) { c->rx_eof = 1; c->dead = 1; }
    else {
        const char *u = m->len > 20 ? memmem_(m->data, m->len, "\"uid\":\"") : 0;
        if (u) { /* a Lease object reached this process */
            size_t k = 0;
            u += 7;
            while (u < m->data + m->len && *u != '"' && k + 1 < sizeof r->saw_uid) r->saw_uid[k++] = *u++;
            r->saw_uid[k] = 0;
            r->saw_lease_at = G;
            if (!strcmp(r->saw_uid, gone_uid)) r->knew = 1; /* it reached it late */
        }
        if (c->rx_len + m->len > RXCAP) { fprintf(stderr, "sim: client buffer overflow\n"); exit(2); }
        memcpy(c->rx + c->rx_len, m->data, m->len);
        c->rx_len += m->len;
    }
    r->dirty = 1;
}

static void timers(void) {
    int i;
    if (G >= next_noise) { /* writes to other objects move the revision */
        revision += between(1, 5);
        next_noise = G + between(100, 5000);
    }
    if (G >= phase_end) {
        if (phase_quiet) {
            if (!q_led && !q_reported && !opt.sweep)
                FAILC(liveness, "nobody led in a fault-free window of %lld ms (bound %lld ms)",
                      (long long)(G - q_start), (long long)P.bound);
            begin_faults();
        } else {
            begin_quiet();
        }
    }
    if (delete_pending && (opt.delete_held ? S.exists : lease_expired_for_all())) {
        delete_pending = 0;
        note(F_DELETE, -1);
        trace("Lease deleted");
        {
            int j;
            for (j = 0; j < P.n; j++) R[j].knew = R[j].up && !strcmp(R[j].saw_uid, S.uid);
        }
        memcpy(gone_uid, S.uid, sizeof gone_uid);
        store_delete();
        last_gone_at = G;
        if (pm(300)) { /* and applied again from a manifest (kubectl replace --force) */
            lease_in q;
            memset(&q, 0, sizeof q);
            q.dur = q.tr = -1;
            note(F_RECREATE, -1);
            store_create(&q, 1);
        }
    }
    if (G >= next_record) { /* the leader's work stores its progress */
        int i2 = (int)(rnd() % (unsigned)P.n);
        replica *r = &R[i2];
        next_record = G + between(1, 4 * (int64_t)P.lease);
        if (r->up && r->frozen_until <= G) {
            char v[32];
            int lead = le_is_leader(&r->e, mono(r)) && !r->stopping, rc;
            snprintf(v, sizeof v, "%s@%lld", r->id, (long long)G);
            rc = le_record_set(&r->e, now_of(r), pm(500) ? "progress" : "epoch", v);
            if (rc != (lead ? 0 : LE_ENOTLEADER))
                FAILC(other, "le_record_set() by %s returned %d while %s", r->id, rc,
                      lead ? "leading" : "not leading");
            if (!rc) T.records_set++;
            r->dirty = 1;
        }
    }
    if (G >= next_fault) {
        inject();
        next_fault = phase_quiet ? FAR : G + between(1, 2 * P.fault_mean);
    }
    for (i = 0; i < P.n; i++) {
        replica *r = &R[i];
        conn *w = &r->c[1];
        if (!r->up && G >= r->restart_at) start(r, !pm(500));
        if (r->part && G >= r->part_until) r->part = 0;
        if (r->wall_mode != WALL_OK && G >= r->wall_until) r->wall_mode = WALL_OK;
        if (w->w_on && !w->w_silent && G >= w->w_end) watch_end_stream(i);
        if (w->w_on && !w->w_silent && G >= w->w_bm) watch_bookmark(i);
    }
}

/* One event instant: everything due now, in a random order. */
static void instant(void) {
    int cand[NMSG + MAXN], nc, i, guard;
    timers();
    for (guard = 0; guard < 100000; guard++) {
        nc = 0;
        for (i = 0; i < nmsg_hi; i++)
            if (M[i].used && M[i].at <= G) {
                /* bytes of one connection and direction arrive in order */
                int j;
                for (j = 0; j < nmsg_hi; j++)
                    if (M[j].used && M[j].cid == M[i].cid && M[j].up == M[i].up && M[j].seq < M[i].seq)
                        break;
                if (j == nmsg_hi) cand[nc++] = i;
            }
        for (i = 0; i < P.n; i++)
            if (R[i].up && R[i].frozen_until <= G && (R[i].dirty || R[i].wake <= G))
                cand[nc++] = NMSG + i;
        if (!nc) return;
        i = cand[rnd() % (unsigned)nc];
        if (i < NMSG) deliver(&M[i]);
        else drive(&R[i - NMSG]);
    }
    FAILC(other, "the instant never ends (a replica and the network in a loop)");
}

/* ---- checks ---------------------------------------------------------------------------- */

static void check(void) {
    int i, leaders = 0, who = -1, any_up = 0;
    for (i = 0; i < P.n; i++) {
        replica *r = &R[i];
        int lead;
        if (!r->up) continue;
        any_up = 1;
        lead = le_is_leader(&r->e, mono(r));
        if (!lead) continue;
        leaders++;
        if (who < 0) who = i;
        if (r->stopping)
            FAILC(other, "%s leads after le_stop()", r->id);
        if (!opt.sweep && !opt.delete_held && !opt.no_margin) {
            /* the earliest instant a follower with the fastest clock, having
               read the current record the moment it was stored, may take
               over: after (dur - 1) / rate of its ms have passed */
            int64_t dur = S.dur > 0 ? S.dur * 1000 : 0;
            int64_t first = S.content_since + (dur - 1) * 1000000 / P.rmax + 1;
            if (!S.exists || !S.has_holder || strcmp(S.holder, r->id))
                FAILC(margin, "%s leads but the Lease %s", r->id,
                      S.exists ? "names another holder" : "does not exist");
            else if (G >= first)
                FAILC(margin, "%s still leads %lld ms after its record was stored: a follower "
                      "could have taken over %lld ms ago", r->id,
                      (long long)(G - S.content_since), (long long)(G - first));
        }
    }
    if (leaders > 1) {
        if (overlap_since < 0) {
            overlap_since = G;
            int j, nw = -1;
            /* the newer of the two tenures: the one whose write the stored
               Lease holds (a reply delayed past a deletion can make the
               older write's tenure start later), else the later start */
            for (j = 0; j < P.n; j++)
                if (R[j].up && le_is_leader(&R[j].e, mono(&R[j])) && S.exists &&
                    S.has_holder && !strcmp(S.holder, R[j].id))
                    nw = j;
            if (nw < 0)
                for (j = 0; j < P.n; j++)
                    if (R[j].up && le_is_leader(&R[j].e, mono(&R[j])) &&
                        (nw < 0 || R[j].lead_since > R[nw].lead_since))
                        nw = j;
            if (opt.delete_held && nw >= 0 && R[nw].knew && R[nw].lead_since >= last_gone_at) {
                /* it had seen the Lease object that was deleted or
                   replaced: its holder may still lead, so it must wait */
                FAILC(overlaps, "%s, which had seen the Lease deleted or replaced "
                      "at t=%.3f s, leads while its holder still does", R[nw].id,
                      (double)last_gone_at / 1000);
            } else if (opt.sweep || opt.delete_held) {
                T.fresh_overlaps++;
                if (opt.verbose) printf("sim: seed %llu: overlap at t=%.3f s\n", (unsigned long long)cur_seed, (double)G / 1000);
            }
            else {
                int j;
                char who_s[200] = "";
                for (j = 0; j < P.n; j++)
                    if (R[j].up && le_is_leader(&R[j].e, mono(&R[j])))
                        snprintf(who_s + strlen(who_s), sizeof who_s - strlen(who_s), " %s", R[j].id);
                FAILC(overlaps, "%d electors lead at once:%s", leaders, who_s);
            }
        }
        T.max_overlap_ms = MAX(T.max_overlap_ms, G - overlap_since);
    } else {
        overlap_since = -1;
    }
    if (leaders) last_led_at = G;
    /* a leader from before the window may lapse while its first renew
       goes out again; once one has renewed after the faults ended,
       leadership must not lapse */
    if (phase_quiet && who >= 0 && le_get_stats(&R[who].e).last_renew_ms >= q_mono0[who])
        q_led_fresh = 1;
    if (phase_quiet) {
        if (leaders && !q_led) {
            int64_t d = G - q_start;
            double ratio = (double)d / (double)P.bound;
            q_led = 1;
            if (ratio > T.worst_first_ratio) { T.worst_first_ratio = ratio; T.worst_first_ms = d; T.worst_first_bound = P.bound; }
            if (d > P.bound && !opt.sweep)
                FAILC(liveness, "the first leader of a fault-free window came after %lld ms, "
                      "over the bound of %lld ms", (long long)d, (long long)P.bound);
        } else if (!leaders && q_led && !opt.sweep && q_led_fresh) {
            if (!q_reported++) FAILC(liveness, "leadership lapsed in a fault-free window");
        } else if (!leaders && !q_led && G - q_start > P.bound && !opt.sweep && !q_reported) {
            q_reported = 1;
            FAILC(liveness, "nobody led within %lld ms of the faults ending (bound %lld ms)",
                  (long long)(G - q_start), (long long)P.bound);
        }
    } else if (any_up && !leaders) {
        T.worst_fault_gap_ms = MAX(T.worst_fault_gap_ms, G - last_led_at);
    }
}

/* ---- phases ------------------------------------------------------------------------------ */

static void begin_quiet(void) {
    int i, s;
    phase_quiet = 1;
    q_start = G;
    q_led = q_reported = q_led_fresh = 0;
    T.quiet_windows++;
    phase_end = G + MAX(2 * P.bound, 60000);
    next_fault = FAR;
    delete_pending = 0;
    server_down_until = stall_until = degrade_until = 0;
    /* every fault ends: the network resets its connections once */
    for (i = 0; i < nmsg_hi; i++) M[i].used = 0;
    for (i = 0; i < P.n; i++) {
        replica *r = &R[i];
        r->part = 0;
        r->wall_mode = WALL_OK;
        if (r->frozen_until > G) r->frozen_until = G;
        if (r->up && r->stop_pending) do_stop(r); /* the last fault, at its start */
        q_mono0[i] = mono(r);
        if (!r->up) { r->restart_at = G; continue; }
        for (s = 0; s < 2; s++) {
            conn *c = &r->c[s];
            c->w_on = 0;
            if (c->open) { c->stuck = 0; post(i, s, 0, 0, 0, 1, 0); c->dead = 1; }
        }
        r->dirty = 1;
    }
    trace("fault-free window until %.3f", (double)phase_end / 1000);
}

static void begin_faults(void) {
    int64_t len = between(10, 40) * 60000 * MAX(P.lease, 5000) / 15000;
    int64_t qlen = MAX(2 * P.bound, 60000);
    phase_quiet = 0;
    phase_end = MIN(G + len, END - qlen);
    if (phase_end <= G) phase_end = G; /* the run ends with its quiet window */
    next_fault = G + between(1, 2 * P.fault_mean);
    last_led_at = G;
}

/* ---- profiles ------------------------------------------------------------------------------ */

static void choose_profile(uint64_t seed) {
    int kind = (int)(seed % 4);
    memset(&P, 0, sizeof P);
    P.n = (int)between(3, MAXN);
    P.rmin = P.rmax = 1000000;
    if (opt.sweep) kind = 4;
    switch (kind) {
    case 0: /* client-go's defaults, followers watching or polling */
    case 3: /* ... polling only, like client-go */
        P.name = kind == 0 ? "defaults" : "defaults, polling";
        P.lease = 15000; P.renew = 10000; P.retry = 2000; P.timeout = 5000;
        P.rmin = 950000; P.rmax = 1050000;
        P.watch_pm = kind == 0 ? 600 : 0;
        break;
    case 1: /* 1 ms of margin: any off-by-one in a deadline overlaps */
        P.name = "tight";
        P.lease = 2000; P.renew = 1999; P.retry = 1000; P.timeout = 999;
        P.exact = 1;
        P.zero_delay = 1;
        P.watch_pm = 700;
        break;
    case 4: /* --drift-sweep: defaults, fast and slow clocks, prompt network */
        P.name = "drift sweep";
        P.lease = 15000; P.renew = 10000; P.retry = 2000; P.timeout = 5000;
        P.rmin = 1000000; P.rmax = opt.sweep_ppm;
        P.zero_delay = 1;
        P.watch_pm = 800;
        break;
    default: { /* any timing client-go accepts */
        double rho, h;
        P.name = "random timing";
        P.retry = (int)between(100, 4000);
        P.renew = P.retry * 6 / 5 + 1 + (int)between(0, 3 * (int64_t)P.retry);
        P.lease = (P.renew / 1000 + (int)between(1, 10)) * 1000;
        P.timeout = (int)between(MAX(20, P.renew / 10), P.renew - 1);
        P.watch_pm = (int)between(0, 1000);
        P.zero_delay = pm(300);
        /* drift: half the ratio the margin allows, checked against the
           millisecond rounding of both clocks */
        rho = 1 + ((double)P.lease / P.renew - 1) / 2;
        h = (rho - 1) / (rho + 1);
        if (h > 0.10) h = 0.10;
        for (;;) {
            P.rmin = (int64_t)(1e6 * (1 - h));
            P.rmax = (int64_t)(1e6 * (1 + h));
            if ((double)(P.lease - 1) * 1e6 / (double)P.rmax > (double)(P.renew + 1) * 1e6 / (double)P.rmin + 2)
                break;
            if (h < 1e-6) { P.exact = 1; P.rmin = P.rmax = 1000000; break; }
            h /= 2;
        }
        break;
    }
    }
    if (P.exact) P.rmin = P.rmax = 1000000;
    /* when faults end, a round trip fits in what a renew leaves before the
       deadline (RenewDeadline - RetryPeriod, twice, on the fastest clock):
       otherwise no elector could keep the lease, fault or not */
    P.dmax = ((int64_t)P.renew - P.retry) * 1000000 / P.rmax / 4 - 1;
    /* ... and within the request timeout */
    P.dmax = MIN(P.dmax, (int64_t)P.timeout * 1000000 / P.rmax / 2 - 1);
    P.dmax = MAX(0, MIN(P.dmax, P.zero_delay ? 1 : 25));
    P.fault_mean = MAX((int64_t)P.lease, 4000);
    /* liveness once faults end: a request under way may time out, the next
       attempt waits at most RetryPeriod * 2.2 (or a Retry-After of 3 s),
       then the record seen expires after LeaseDuration; all in the slowest
       clock's ms; plus three round trips (GET, expiry poll, PUT) */
    P.bound = ((int64_t)P.timeout + MAX((int64_t)P.retry * 22 / 10, 3000) + P.lease) * 1000000 / P.rmin
              + 6 * P.dmax + 10;
}

/* ---- one seed ------------------------------------------------------------------------------- */

static void run_seed(uint64_t seed) {
    int i;
    uint64_t before = T.overlaps + T.margin + T.terms + T.liveness + T.other;
    cur_seed = seed;
    seed_failed = 0;
    rs = seed * 0x2545f4914f6cdd1dULL + 0x1234567;
    rnd64();
    choose_profile(seed);
    memset(&S, 0, sizeof S);
    S.dur = S.tr = -1;
    for (i = 0; i < NMSG; i++) M[i].used = 0;
    nmsg_hi = 0;
    nrecent = 0;
    G = 0;
    END = (int64_t)(opt.hours * 3600000);
    revision = between(100, 100000);
    next_noise = 0;
    hist_n = 0;
    hist_floor = revision;
    hist_window = between(5000, 300000);
    server_down_until = stall_until = degrade_until = 0;
    lt_epoch = -1; lt_term = -1; lt_holder[0] = 0;
    last_gone_at = -1;
    gone_uid[0] = 0;
    wlog_n = 0;
    rec_n = 0;
    next_record = between(1000, 10000);
    overlap_since = -1;
    q_start = -1;
    memset(svb, 0, sizeof svb);
    for (i = 0; i < MAXN; i++) {
        char *rx0 = R[i].c[0].rx, *rx1 = R[i].c[1].rx;
        memset(&R[i], 0, sizeof R[i]);
        R[i].c[0].rx = rx0;
        R[i].c[1].rx = rx1;
    }
    for (i = 0; i < P.n; i++) start(&R[i], 1);
    begin_faults();
    while (!(opt.stop_at_first && seed_failed)) {
        G = next_time();
        if (G > END) break;
        T.events++;
        instant();
        check();
    }
    if (G > END) G = END;
    T.hours += (double)G / 3600000;
    T.seeds++;
    if (T.overlaps + T.margin + T.terms + T.liveness + T.other > before) T.failed_seeds++;
    if (opt.verbose)
        printf("sim: seed %llu (%s, %d replicas, lease %d/%d/%d ms, rates %lld..%lld ppm): "
               "%.2f h, %llu events%s\n",
               (unsigned long long)seed, P.name, P.n, P.lease, P.renew, P.retry,
               (long long)P.rmin, (long long)P.rmax, (double)G / 3600000,
               (unsigned long long)T.events, seed_failed ? ", FAILED" : "");
}

/* ---- many seeds, in parallel -------------------------------------------------------------- */

static void add(totals *a, const totals *b) {
    int i;
    a->hours += b->hours; a->seeds += b->seeds; a->failed_seeds += b->failed_seeds;
    a->events += b->events;
    for (i = 0; i < NF; i++) a->faults[i] += b->faults[i];
    a->tenures += b->tenures; a->takeovers += b->takeovers; a->handovers += b->handovers;
    a->creations += b->creations; a->renews += b->renews; a->conflicts += b->conflicts;
    a->requests += b->requests; a->watch_events += b->watch_events;
    a->stale_discarded += b->stale_discarded; a->errors += b->errors;
    a->overlaps += b->overlaps; a->margin += b->margin; a->terms += b->terms;
    a->fresh_overlaps += b->fresh_overlaps;
    a->liveness += b->liveness; a->other += b->other; a->quiet_windows += b->quiet_windows;
    a->records_set += b->records_set; a->records_stored += b->records_stored;
    if (b->worst_first_ratio > a->worst_first_ratio) {
        a->worst_first_ratio = b->worst_first_ratio;
        a->worst_first_ms = b->worst_first_ms;
        a->worst_first_bound = b->worst_first_bound;
    }
    a->worst_fault_gap_ms = MAX(a->worst_fault_gap_ms, b->worst_fault_gap_ms);
    a->max_overlap_ms = MAX(a->max_overlap_ms, b->max_overlap_ms);
    if (b->first_fail[0] && (!a->first_fail[0] || b->first_fail_seed < a->first_fail_seed)) {
        a->first_fail_seed = b->first_fail_seed;
        a->hours_to_fail = b->hours_to_fail;
        memcpy(a->first_fail, b->first_fail, sizeof a->first_fail);
    }
}

/* Seeds lo..hi over jobs processes; the totals come back through pipes.
   Each seed's run depends only on the seed and the hours. */
static totals run_seeds(uint64_t lo, uint64_t hi, int jobs) {
    totals sum;
    int j, fds[16];
    pid_t pids[16];
    memset(&sum, 0, sizeof sum);
    if (jobs < 1) jobs = 1;
    if (jobs > 16) jobs = 16;
    fflush(stdout); /* or every worker prints what is buffered */
    for (j = 0; j < jobs; j++) {
        int p[2];
        if (jobs > 1 && pipe(p)) { perror("pipe"); exit(2); }
        if (jobs > 1 && (pids[j] = fork()) < 0) { perror("fork"); exit(2); }
        if (jobs == 1 || pids[j] == 0) {
            uint64_t s;
            memset(&T, 0, sizeof T);
            for (s = lo + (uint64_t)j; s <= hi; s += (uint64_t)jobs) {
                run_seed(s);
                if (opt.stop_at_first && T.first_fail[0]) break;
            }
            if (jobs == 1) return T;
            fflush(stdout);
            if (write(p[1], &T, sizeof T) != (ssize_t)sizeof T) _exit(2);
            _exit(0);
        }
        close(p[1]);
        fds[j] = p[0];
    }
    for (j = 0; j < jobs; j++) {
        totals t;
        size_t got = 0;
        int st, k;
        while (got < sizeof t) {
            ssize_t n = read(fds[j], (char *)&t + got, sizeof t - got);
            if (n <= 0) break;
            got += (size_t)n;
        }
        close(fds[j]);
        waitpid(pids[j], &st, 0);
        if (got != sizeof t || !WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "sim: worker %d died\n", j);
            exit(2);
        }
        add(&sum, &t);
        if (opt.stop_at_first && t.first_fail[0]) { /* caught: the others stop */
            for (k = j + 1; k < jobs; k++) {
                kill(pids[k], SIGKILL);
                waitpid(pids[k], &st, 0);
                close(fds[k]);
            }
            break;
        }
    }
    return sum;
}

static void report(const totals *t, double wall_s, int jobs) {
    int i;
    printf("sim: %.0f simulated hours over %llu seeds (%llu events) in %.1f s on %d processes\n",
           t->hours, (unsigned long long)t->seeds, (unsigned long long)t->events, wall_s, jobs);
    printf("sim: %llu tenures: %llu takeovers after expiry, %llu handovers after a release, "
           "%llu creations; %llu renews, %llu conflicts, %llu requests, %llu watch events\n",
           (unsigned long long)t->tenures, (unsigned long long)t->takeovers,
           (unsigned long long)t->handovers, (unsigned long long)t->creations,
           (unsigned long long)t->renews, (unsigned long long)t->conflicts,
           (unsigned long long)t->requests, (unsigned long long)t->watch_events);
    printf("sim: faults injected:");
    for (i = 0; i < NF; i++)
        printf("%s %s %llu", i ? ";" : "", fault_name[i], (unsigned long long)t->faults[i]);
    printf("\nsim: fenced records: %llu set by the leader, %llu reported stored\n",
           (unsigned long long)t->records_set, (unsigned long long)t->records_stored);
    printf("sim: late bytes discarded because the elector had closed their connection: %llu\n",
           (unsigned long long)t->stale_discarded);
    printf("sim: %llu fault-free windows: first leader after at most %.0f%% of the bound "
           "(%lld ms of %lld ms); longest leaderless stretch under faults %lld ms\n",
           (unsigned long long)t->quiet_windows, t->worst_first_ratio * 100,
           (long long)t->worst_first_ms, (long long)t->worst_first_bound,
           (long long)t->worst_fault_gap_ms);
    printf("sim: violations: overlaps %llu, margin %llu, terms %llu, liveness %llu, other %llu\n",
           (unsigned long long)t->overlaps, (unsigned long long)t->margin,
           (unsigned long long)t->terms, (unsigned long long)t->liveness,
           (unsigned long long)t->other);
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    uint64_t lo = 1, hi = 40;
    int jobs = 1, i, expect_fail = 0;
    double t0 = wall_now();
    totals t;
    opt.argv0 = argv[0];
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
        if (!strcmp(a, "--seed") && v) { lo = hi = strtoull(v, 0, 10); i++; }
        else if (!strcmp(a, "--seeds") && v) {
            char *dash;
            lo = strtoull(v, &dash, 10);
            hi = *dash == '-' ? strtoull(dash + 1, 0, 10) : lo;
            i++;
        } else if (!strcmp(a, "--hours") && v) { opt.hours = atof(v); i++; }
        else if (!strcmp(a, "--jobs") && v) { jobs = atoi(v); i++; }
        else if (!strcmp(a, "--trace") && v) { opt.trace_from = (int64_t)(atof(v) * 1000); i++; }
        else if (!strcmp(a, "--verbose")) opt.verbose = 1;
        else if (!strcmp(a, "--stop-at-first")) opt.stop_at_first = 1;
        else if (!strcmp(a, "--expect-fail")) expect_fail = opt.stop_at_first = 1;
        else if (!strcmp(a, "--drift-sweep")) opt.sweep = 1;
        else if (!strcmp(a, "--delete-held")) opt.delete_held = 1;
        else if (!strcmp(a, "--no-margin")) opt.no_margin = 1;
        else {
            fprintf(stderr, "usage: %s [--seeds A-B | --seed N] [--hours H] [--jobs J] [--verbose] "
                    "[--stop-at-first] [--expect-fail] [--trace SECONDS] [--drift-sweep] [--delete-held] [--no-margin]\n",
                    argv[0]);
            return 2;
        }
    }
    for (i = 0; i < MAXN; i++) {
        R[i].c[0].rx = malloc(RXCAP);
        R[i].c[1].rx = malloc(RXCAP);
        if (!R[i].c[0].rx || !R[i].c[1].rx) return 2;
    }
    if (opt.sweep) {
        /* the follower's clock faster than the leader's by the ratio
           LeaseDuration / RenewDeadline (1.5) lets a takeover come before
           the leader gives up: (L - R) / L of a lease period is the margin */
        int64_t ppm, first = 0;
        printf("sim: drift sweep, LeaseDuration 15 s, RenewDeadline 10 s: theory says "
               "overlaps need a clock-rate ratio >= 15/10 = 1.50\n");
        for (ppm = 1400000; ppm <= 1600000; ppm += 10000) {
            opt.sweep_ppm = ppm;
            t = run_seeds(lo, hi, jobs);
            printf("sim: rate ratio %.2f: %llu overlaps in %.0f simulated hours, longest %lld ms\n",
                   (double)ppm / 1e6, (unsigned long long)t.fresh_overlaps, t.hours,
                   (long long)t.max_overlap_ms);
            if (t.fresh_overlaps && !first) first = ppm;
            fflush(stdout);
        }
        if (first) printf("sim: smallest ratio with overlaps: %.2f (theory: 1.50)\n", (double)first / 1e6);
        else printf("sim: no overlaps up to a ratio of 1.60\n");
        return 0;
    }
    t = run_seeds(lo, hi, jobs);
    if (opt.delete_held) {
        report(&t, wall_now() - t0, jobs);
        printf("sim: a held Lease deleted or replaced: %llu overlaps by replicas that had not seen "
               "that Lease (outside the guarantee), longest %lld ms; %llu by replicas that had\n",
               (unsigned long long)t.fresh_overlaps, (long long)t.max_overlap_ms,
               (unsigned long long)t.overlaps);
        if (expect_fail) {
            if (t.first_fail[0]) {
                printf("sim: caught after %.1f simulated hours (seed %llu): %s\n", t.hours_to_fail,
                       (unsigned long long)t.first_fail_seed, t.first_fail);
                return 0;
            }
            printf("sim: NOT caught in %.0f simulated hours\n", t.hours);
            return 1;
        }
        return t.failed_seeds ? 1 : 0;
    }
    if (expect_fail) {
        if (t.first_fail[0]) {
            printf("sim: caught after %.1f simulated hours (seed %llu): %s\n", t.hours_to_fail,
                   (unsigned long long)t.first_fail_seed, t.first_fail);
            return 0;
        }
        printf("sim: NOT caught in %.0f simulated hours\n", t.hours);
        return 1;
    }
    report(&t, wall_now() - t0, jobs);
    if (t.failed_seeds) {
        printf("sim: %llu of %llu seeds FAILED\n", (unsigned long long)t.failed_seeds,
               (unsigned long long)t.seeds);
        return 1;
    }
    printf("sim: %llu passed, 0 failed\n", (unsigned long long)t.seeds);
    return 0;
}
