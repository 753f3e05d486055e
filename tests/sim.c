/* Deterministic simulation: many le.h cores in one process against a
   simulated Lease store with the API server's write rules (conditional on
   resourceVersion), over a network that delays, drops and fails requests,
   with clocks of different offsets and slightly different rates, and with
   replicas that crash, freeze and stop gracefully.

   Checked, at every simulated millisecond:
   - never two live electors answer le_is_leader() yes at the same instant;
   - the term (leaseTransitions) grows whenever the holder changes;
   - after a leader dies or leaves, someone leads again in bounded time.

   The store is a model of the API server's optimistic concurrency for one
   object, used only to drive the cores; le.h against the real API server is
   tested in tests/integration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LE_IMPLEMENTATION
#include "le.h"

#define N 5
#define MINUTES 10

static int failures;
#define FAIL(...) do { failures++; fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } while (0)

/* ---- random ------------------------------------------------------------- */
static uint64_t rs;
static uint32_t rnd(void) {
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (uint32_t)(rs >> 16);
}
static int chance(int per_mille) { return (int)(rnd() % 1000) < per_mille; }
static int64_t between(int64_t a, int64_t b) { return a + (int64_t)(rnd() % (uint32_t)(b - a + 1)); }

/* ---- the store ------------------------------------------------------------ */
typedef struct {
    int exists;
    long rv;
    char holder[64];
    long dur, tr;
    char acq[48], ren[48];
} store_t;
static store_t S;
static int64_t G; /* global time, ms */
static int64_t written_at; /* when the store last changed */

static int field(const char *body, const char *key, char *out, size_t cap) {
    const char *p = strstr(body, key);
    size_t n = 0;
    if (!p) return 0;
    p += strlen(key);
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && n + 1 < cap) out[n++] = *p++;
    } else {
        while (*p && *p != ',' && *p != '}' && n + 1 < cap) out[n++] = *p++;
    }
    out[n] = 0;
    return 1;
}

static void render(char *out, size_t cap, int status) {
    char body[1024];
    const char *reason = status == 200 ? "OK" : status == 201 ? "Created" : "Error";
    if (status == 200 || status == 201)
        snprintf(body, sizeof body,
                 "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{"
                 "\"name\":\"sim\",\"namespace\":\"default\",\"resourceVersion\":\"%ld\"},"
                 "\"spec\":{\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":%ld,"
                 "\"acquireTime\":\"%s\",\"renewTime\":\"%s\",\"leaseTransitions\":%ld}}",
                 S.rv, S.holder, S.dur, S.acq, S.ren, S.tr);
    else
        snprintf(body, sizeof body, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
                 "\"Failure\",\"message\":\"simulated %d\",\"code\":%d}", status, status);
    snprintf(out, cap, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             status, reason, strlen(body), body);
}

/* Applies one request to the store; the reply goes into out. */
static void serve(const char *req, char *out, size_t cap) {
    const char *body = strstr(req, "\r\n\r\n");
    char rv[32], h[64], d[16], tr[16], acq[48], ren[48];
    body = body ? body + 4 : "";
    if (!strncmp(req, "GET ", 4)) {
        render(out, cap, S.exists ? 200 : 404);
        return;
    }
    field(body, "\"holderIdentity\":", h, sizeof h);
    field(body, "\"leaseDurationSeconds\":", d, sizeof d);
    field(body, "\"leaseTransitions\":", tr, sizeof tr);
    field(body, "\"acquireTime\":", acq, sizeof acq);
    field(body, "\"renewTime\":", ren, sizeof ren);
    if (!strncmp(req, "POST ", 5)) {
        if (S.exists) { render(out, cap, 409); return; }
        S.exists = 1;
        S.rv = 1;
    } else {
        if (!S.exists) { render(out, cap, 404); return; }
        if (!field(body, "\"resourceVersion\":", rv, sizeof rv) || atol(rv) != S.rv) {
            render(out, cap, 409);
            return;
        }
        S.rv++;
    }
    written_at = G;
    snprintf(S.holder, sizeof S.holder, "%s", h);
    S.dur = atol(d);
    S.tr = atol(tr);
    snprintf(S.acq, sizeof S.acq, "%s", acq);
    snprintf(S.ren, sizeof S.ren, "%s", ren);
    render(out, cap, !strncmp(req, "POST ", 5) ? 201 : 200);
}

/* ---- replicas ------------------------------------------------------------- */
enum { ALIVE, DEAD, FROZEN, STOPPING };
typedef struct {
    le_elector e;
    char id[32];
    int state, gen;
    int64_t until;          /* DEAD/FROZEN until this global ms */
    int64_t off, rate;      /* local = off + g * rate / 1000000 */
    /* the one exchange in flight */
    int has_req, has_reply;
    char req[LE_REQ_MAX + 1];
    int64_t serve_at, reply_at;
    char reply[4096];
    int drop_reply;
    int starts;
} replica;
static replica R[N];

static le_time local(const replica *r) {
    le_time t;
    t.mono_ms = r->off + G * r->rate / 1000000;
    t.wall_us = 1790000000000000LL + t.mono_ms * 1000 + r->off * 7; /* skewed */
    return t;
}

static int last_leader = -1;
static long last_term = -1;
static int64_t leaderless_since, worst_gap;
static long handovers, takeovers, starts_total;

static void on_event(void *user, const le_event *ev) {
    replica *r = (replica *)user;
    if (ev->type == LE_EV_STARTED_LEADING) {
        int i = (int)(r - R);
        starts_total++;
        if (last_leader >= 0 && strcmp(R[last_leader].id, r->id) && ev->term <= last_term)
            FAIL("t=%lld: %s started with term %lld, not above %s's term %ld", (long long)G,
                 r->id, (long long)ev->term, R[last_leader].id, last_term);
        last_leader = i;
        last_term = (long)ev->term;
    }
}

static void start(replica *r, int new_identity) {
    le_config c;
    if (new_identity) r->gen++;
    snprintf(r->id, sizeof r->id, "pod-%d-%d", (int)(r - R), r->gen);
    memset(&c, 0, sizeof c);
    c.ns = "default"; c.name = "sim"; c.identity = r->id;
    c.seed = rs;
    c.on_event = on_event;
    c.user = r;
    if (le_init(&r->e, &c)) FAIL("init: %s", le_errmsg(&r->e));
    r->state = ALIVE;
    r->has_req = r->has_reply = 0;
}

/* Drives one replica until it waits. */
static void drive(replica *r) {
    int guard;
    for (guard = 0; guard < 16; guard++) {
        le_time now = local(r);
        le_action a = le_next(&r->e, now);
        switch (a.want) {
        case LE_WANT_SEND:
            if (chance(10)) { /* connection refused */
                le_io_error(&r->e, now, LE_ECONNECT, "simulated refusal");
                continue;
            }
            memcpy(r->req, a.data, a.len);
            r->req[a.len] = 0;
            le_sent(&r->e, now, a.len);
            r->has_req = !chance(20); /* lost on the way */
            r->serve_at = G + (chance(40) ? between(500, 8000) : between(1, 30));
            r->has_reply = 0;
            r->drop_reply = chance(20); /* written, but the reply is lost */
            continue;
        case LE_WANT_RECV:
            if (r->has_reply && G >= r->reply_at) {
                r->has_reply = 0;
                le_feed(&r->e, now, r->reply, strlen(r->reply));
                continue;
            }
            return;
        case LE_WANT_CLOSE:
            r->has_req = r->has_reply = 0;
            continue;
        case LE_WANT_DONE:
            r->state = DEAD;
            r->until = G + between(1000, 20000);
            return;
        default:
            return;
        }
    }
}

static void network(void) {
    int i;
    for (i = 0; i < N; i++) {
        replica *r = &R[i];
        if (r->has_req && G >= r->serve_at) {
            r->has_req = 0;
            if (chance(15)) render(r->reply, sizeof r->reply, 500);
            else serve(r->req, r->reply, sizeof r->reply);
            if (!r->drop_reply) {
                r->has_reply = 1;
                r->reply_at = G + (chance(30) ? between(300, 6000) : between(1, 20));
            }
        }
    }
}

static int run(uint64_t seed) {
    int i, f0 = failures;
    rs = seed * 2654435761u + 88172645463325252ULL;
    memset(&S, 0, sizeof S);
    memset(R, 0, sizeof R);
    last_leader = -1;
    last_term = -1;
    leaderless_since = 0;
    worst_gap = 0;
    for (i = 0; i < N; i++) {
        R[i].off = between(0, 100000000);
        R[i].rate = between(990000, 1010000); /* +-1% clock rate */
        start(&R[i], 1);
    }
    for (G = 0; G < MINUTES * 60000; G++) {
        int leaders = 0, who = -1, live_free = 0;
        network();
        for (i = 0; i < N; i++) {
            replica *r = &R[i];
            if ((r->state == DEAD || r->state == FROZEN) && G >= r->until) {
                if (r->state == DEAD) start(r, chance(500));
                else r->state = ALIVE;
            }
            if (r->state == ALIVE || r->state == STOPPING) drive(r);
            if (r->state == ALIVE && G % 1000 == 0) {
                int lead = le_is_leader(&r->e, local(r).mono_ms);
                if (lead && chance(8)) { /* the leader crashes (kill -9) */
                    r->state = DEAD;
                    r->until = G + between(1000, 30000);
                    takeovers++;
                } else if (lead && chance(6)) { /* rolling update: graceful */
                    le_stop(&r->e, local(r));
                    r->state = STOPPING;
                    handovers++;
                } else if (chance(lead ? 12 : 3)) { /* frozen: SIGSTOP, a GC, a VM pause */
                    r->state = FROZEN;
                    r->until = G + between(100, 25000);
                }
            }
        }
        for (i = 0; i < N; i++) {
            replica *r = &R[i];
            if (r->state == DEAD) continue;
            if (r->state != FROZEN) live_free = 1;
            if (le_is_leader(&r->e, local(r).mono_ms)) { leaders++; who = i; }
        }
        if (leaders > 1) {
            FAIL("seed %llu t=%lld: %d electors lead at once", (unsigned long long)seed, (long long)G, leaders);
            return 0;
        }
        (void)who;
        if (leaders == 1 || !live_free) leaderless_since = G;
        else if (G - leaderless_since > worst_gap) worst_gap = G - leaderless_since;
    }
    /* the network drops, delays (up to 8 s + 6 s) and fails requests at
       random, so the bound is loose; what matters is that it exists */
    if (worst_gap > 60000)
        FAIL("seed %llu: nobody led for %lld ms while replicas were up", (unsigned long long)seed, (long long)worst_gap);
    return failures == f0;
}

/* Without faults: takeover after a crash, handover after a graceful stop. */
static void timing(void) {
    int i, seed;
    int64_t worst_take = 0, worst_hand = 0;
    for (seed = 1; seed <= 40; seed++) {
        int64_t killed_at = 0, last_renew = 0;
        int leader = -1;
        rs = (uint64_t)seed * 977 + 1;
        last_leader = -1;
        last_term = -1;
        memset(&S, 0, sizeof S);
        memset(R, 0, sizeof R);
        for (i = 0; i < 3; i++) { R[i].off = between(0, 1000000); R[i].rate = 1000000; start(&R[i], 1); }
        for (i = 3; i < N; i++) R[i].state = DEAD, R[i].until = INT64_MAX;
        for (G = 0; G < 60000; G++) { /* settle, no faults: drive directly */
            for (i = 0; i < 3; i++) {
                replica *r = &R[i];
                int guard;
                if (r->state == DEAD) continue;
                for (guard = 0; guard < 8; guard++) {
                    le_time now = local(r);
                    le_action a = le_next(&r->e, now);
                    if (a.want == LE_WANT_SEND) {
                        char req[LE_REQ_MAX + 1];
                        memcpy(req, a.data, a.len); req[a.len] = 0;
                        le_sent(&r->e, now, a.len);
                        serve(req, r->reply, sizeof r->reply);
                        le_feed(&r->e, now, r->reply, strlen(r->reply));
                    } else if (a.want == LE_WANT_CLOSE) continue;
                    else break;
                }
            }
            if (G == 30000) {
                for (i = 0; i < 3; i++) if (le_is_leader(&R[i].e, local(&R[i]).mono_ms)) leader = i;
                if (leader < 0) { FAIL("timing seed %d: no leader after 30 s", seed); break; }
                if (seed % 2) R[leader].state = DEAD, R[leader].until = INT64_MAX; /* crash */
                else le_stop(&R[leader].e, local(&R[leader]));               /* graceful */
                killed_at = G;
                last_renew = written_at;
            }
            if (G > 30000) {
                int found = 0;
                for (i = 0; i < 3; i++)
                    if (i != leader && R[i].state != DEAD && le_is_leader(&R[i].e, local(&R[i]).mono_ms)) found = 1;
                if (found) {
                    int64_t d = G - killed_at;
                    if (seed % 2 && G - last_renew < 15000)
                        FAIL("timing seed %d: took over %lld ms after the last renew", seed,
                             (long long)(G - last_renew));
                    if (seed % 2) { if (d > worst_take) worst_take = d; }
                    else if (d > worst_hand) worst_hand = d;
                    break;
                }
                if (R[leader].state != DEAD && le_next(&R[leader].e, local(&R[leader])).want == LE_WANT_DONE)
                    R[leader].state = DEAD, R[leader].until = INT64_MAX;
            }
        }
        if (G == 60000) FAIL("timing seed %d: no new leader within 30 s", seed);
    }
    /* crash: LeaseDuration after the follower last saw a renew (<= one
       jittered poll, 4.4 s, after the real one) */
    if (worst_take > 15000 + 4400 + 10) FAIL("takeover took %lld ms", (long long)worst_take);
    /* graceful: the next jittered poll of a follower */
    if (worst_hand > 4400 + 10) FAIL("handover took %lld ms", (long long)worst_hand);
    printf("sim: no faults, 20 crashes: worst takeover %lld ms; 20 releases: worst handover %lld ms\n",
           (long long)worst_take, (long long)worst_hand);
}

int main(int argc, char **argv) {
    int seeds = argc > 1 ? atoi(argv[1]) : 12, s, ok = 0;
    for (s = 1; s <= seeds; s++) {
        ok += run((uint64_t)s);
        printf("sim: seed %d: %d min simulated, %ld crashes, %ld graceful stops, %ld leaderships, "
               "worst leaderless gap %lld ms\n",
               s, MINUTES, takeovers, handovers, starts_total, (long long)worst_gap);
        takeovers = handovers = starts_total = 0;
    }
    timing();
    printf("sim: %d passed, %d failed\n", ok + (failures == 0), failures);
    return failures ? 1 : 0;
}
