/* A race tests/sim.c found (make sim-repro): le_stop() decides to release
   when the cached record names this elector, and the release is built at
   the next le_next(). A follower that lost the Lease at its deadline still
   holds a record naming itself; a watch event fed between le_stop() and
   le_next() (a loop that reads ready descriptors first, a SIGTERM handled
   right after SIGCONT) must not turn the release into a conditional write
   of *another* holder's record with that record's resourceVersion, which
   the API server would apply, freeing the new leader's Lease under it.
   Exit 0: no release of B's record; 1: there is one (printed). */
#include <stdio.h>
#include <string.h>

#define LE_IMPLEMENTATION
#include "le.h"

static le_time at(int64_t ms) {
    le_time t;
    t.mono_ms = ms;
    t.wall_us = 1795000000000000LL + ms * 1000;
    return t;
}

static void reply(le_elector *e, int64_t ms, int code, const char *body) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s", code, strlen(body), body);
    le_feed(e, at(ms), buf, (size_t)n);
}

static void lease(char *out, size_t cap, const char *rv, const char *holder,
                  const char *renew, int tr) {
    snprintf(out, cap, "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\","
             "\"metadata\":{\"name\":\"sim\",\"namespace\":\"default\",\"uid\":\"u1\","
             "\"resourceVersion\":\"%s\"},\"spec\":{\"holderIdentity\":\"%s\","
             "\"leaseDurationSeconds\":15,\"acquireTime\":\"%s\",\"renewTime\":\"%s\","
             "\"leaseTransitions\":%d}}", rv, holder, renew, renew, tr);
}

int main(void) {
    static le_elector e;
    le_config c;
    le_action a;
    char body[2048], ren[64] = "";
    const char *p;
    int64_t t = 1000;
    int watching = 0;
    memset(&c, 0, sizeof c);
    c.ns = "default"; c.name = "sim"; c.identity = "a";
    if (le_init(&e, &c)) return 2;
    /* A creates the Lease and leads */
    a = le_next(&e, at(t));                       /* GET */
    le_sent(&e, at(t), a.len);
    reply(&e, t, 404, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"code\":404}");
    a = le_next(&e, at(t));                       /* POST */
    p = strstr(a.data, "\"renewTime\":\"");
    if (!p) return 2;
    memcpy(ren, p + 13, 27);
    le_sent(&e, at(t), a.len);
    lease(body, sizeof body, "10", "a", ren, 0);
    reply(&e, t, 201, body);
    if (!le_is_leader(&e, t)) { puts("setup: not leading"); return 2; }
    /* its renews go unanswered: it stops leading at its deadline, follows
       (its cached record still names it) and opens a watch */
    for (t = 1001; t <= 12000; t++) {
        a = le_next(&e, at(t));
        if (a.want == LE_WANT_SEND) le_sent(&e, at(t), a.len);
        if (a.watch == LE_WANT_SEND) {
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n";
            le_watch_sent(&e, at(t), a.wlen);
            le_watch_feed(&e, at(t), ok, sizeof ok - 1);
            watching = 1;
        }
    }
    if (le_is_leader(&e, t) || !watching || !le_get_stats(&e).watching) {
        puts("setup: still leading, or not watching");
        return 2;
    }
    /* SIGTERM: le_stop(); before the loop calls le_next() again, it reads
       the watch connection: B has taken the Lease over */
    le_stop(&e, at(t));
    {
        char ev[2600], chunk[2700];
        lease(body, sizeof body, "20", "b", "2026-11-18T11:00:00.000000Z", 1);
        snprintf(ev, sizeof ev, "{\"type\":\"MODIFIED\",\"object\":%s}\n", body);
        snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", strlen(ev), ev);
        le_watch_feed(&e, at(t), chunk, strlen(chunk));
    }
    for (; t < 12010; t++) {
        a = le_next(&e, at(t));
        if (a.want == LE_WANT_DONE) break;
        if (a.want == LE_WANT_SEND) {
            int bug = strstr(a.data, "\"resourceVersion\":\"20\"") &&
                      strstr(a.data, "\"holderIdentity\":\"\"");
            if (bug) printf("release_race: FAIL: the release is a write of b's record:\n%.*s\n",
                            (int)a.len, a.data);
            else puts("release_race: 1 passed, 0 failed (the release writes only a's own record)");
            return bug;
        }
    }
    puts("release_race: 1 passed, 0 failed (no release sent)");
    return 0;
}
