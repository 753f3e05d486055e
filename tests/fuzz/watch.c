/* Fuzz target "watch": a follower's watch stream. The elector follows a
   Lease held by another (a canned GET), opens its watch, and every record
   of the input is either watch stream bytes or a raw reply on the request
   stream (for the take-over PUT, GETs after a 410 ...).

   Record: [ctrl0][ctrl1][ctrl2][len hi][len lo][bytes], as in core.h, but
   ctrl0 bit 4 sends the record on the request stream (a raw reply, as in
   the reply target) instead of the watch. On the watch, ctrl1 bits 0-1
   pick how the stream starts when it has not yet: a 200 with chunked
   events, a 200 delimited by the connection's close, or nothing (the
   record holds its own status line); ctrl2 is the chunk size.

   Invariants (with core.h's): a watch never makes the elector lead (only
   writes on the request stream answered as the Lease as written do); the
   watch request is a clean GET whose resourceVersion parameter is a plain
   token (nothing from the server can inject into its URL); the leader and
   a stopped elector do not watch; every PUT carries a resourceVersion the
   server sent (in a reply or an event). */
#define FZ_POLL_ONLY 0
#define FZ_OWN_PLAY
#include "core.h"
#include "raw.h"

static __attribute__((unused)) void core_after_feed(int status, int method, int nerr_before,
                                                    int ctrl1, int ctrl2) {
    (void)status; (void)method; (void)nerr_before; (void)ctrl1; (void)ctrl2;
}

static int WHEAD;  /* the watch connection's response head was sent */
static int WMODE;  /* how: 0 chunked, 1 close-delimited, 2 the fuzzer's */

static void check_watch_request(const char *p, size_t n) {
    static const char pre[] = "GET /apis/coordination.k8s.io/v1/namespaces/default/leases?";
    const char *rv, *sp, *end = memmem(p, n, "\r\n\r\n", 4);
    size_t i;
    if (!end || (size_t)(end + 4 - p) != n) bad("watch request: not one header", 0);
    for (i = 0; p + i < end; i++)
        if (((unsigned char)p[i] < 0x20 && p[i] != '\r' && p[i] != '\n') ||
            (unsigned char)p[i] > 0x7e)
            bad("watch request: a byte outside printable ASCII", 0);
    if (strncmp(p, pre, sizeof pre - 1)) bad("watch request: path", 0);
    sp = memchr(p + 4, ' ', n - 4);
    if (!sp || strncmp(sp, " HTTP/1.1\r\n", 11)) bad("watch request: request line", 0);
    if (!memmem(p, (size_t)(sp - p), "fieldSelector=metadata.name%3D" LEASE_NAME "&", 32) ||
        !memmem(p, (size_t)(sp - p), "watch=true", 10))
        bad("watch request: not a watch of this Lease", 0);
    rv = memmem(p, (size_t)(sp - p), "&resourceVersion=", 17);
    if (!rv) bad("watch request: no resourceVersion", 0);
    for (rv += 17; rv < sp && *rv != '&'; rv++)
        if (!((*rv >= '0' && *rv <= '9') || (*rv >= 'a' && *rv <= 'z') ||
              (*rv >= 'A' && *rv <= 'Z') || *rv == '-' || *rv == '_' || *rv == '.'))
            bad("watch request: resourceVersion is not a plain token", 0);
}

/* Every "resourceVersion": "..." in bytes the server sent counts as sent. */
static void scan_rvs(const char *p, size_t n) {
    static const char key[] = "\"resourceVersion\"";
    const char *q = p, *e = p + n;
    while ((q = memmem(q, (size_t)(e - q), key, sizeof key - 1))) {
        const char *s = q + sizeof key - 1, *t;
        fz_json j;
        char out[FZ_RV_MAX];
        q = s;
        while (s < e && (*s == ' ' || *s == ':')) s++;
        if (s >= e || *s != '"') continue;
        for (t = ++s; t < e && *t != '"'; t++)
            if (*t == '\\') t++;
        if (t >= e) continue;
        j.s = p; j.n = 1;
        j.t[0].type = JSMN_STRING; j.t[0].start = (int)(s - p); j.t[0].end = (int)(t - p);
        if (fz_str(&j, 0, out, sizeof out) > 0) seen_add(out);
    }
}

/* Drives both streams until someone waits for bytes (1) or done (0). */
static int drive(void) {
    int i;
    for (i = 0; i < 48; i++) {
        le_action a = next();
        if (a.watch == LE_WANT_SEND) {
            check_watch_request(a.wdata, a.wlen);
            le_watch_sent(&E, at(NOW), a.wlen);
            WHEAD = 0;
            continue;
        }
        if (a.watch == LE_WANT_CLOSE) WHEAD = 0;
        switch (a.want) {
        case LE_WANT_DONE: return 0;
        case LE_WANT_SEND: le_sent(&E, at(NOW), a.len); continue;
        case LE_WANT_CLOSE: continue;
        case LE_WANT_RECV: return 1;
        case LE_WANT_WAIT:
            if (a.watch == LE_WANT_RECV) return 1;
            if (a.watch == LE_WANT_CLOSE) continue;
            NOW = a.deadline;
            continue;
        }
    }
    bad("no progress after 48 steps", 0);
    return 0;
}

static void wfeed(const char *p, size_t n) {
    int r;
    S.errs_seen = 0;
    trace("le_watch_feed %zu bytes: %.*s", n, (int)(n > 300 ? 300 : n), p ? p : "");
    r = le_watch_feed(&E, at(NOW), p, n);
    if (r > 0) bad("le_watch_feed returned a positive value", 0);
    if (r < 0 && !(S.errs_seen & (1u << (-r & 31))))
        bad("le_watch_feed returned an error it did not report", le_strerror(r));
    check_leader(NOW);
}

static char WB[1 << 17];

static void watch_record(int c0, int c1, int c2, const uint8_t *p, size_t len) {
    static const size_t steps[8] = {1, 2, 3, 5, 8, 13, 64, (size_t)-1};
    static const size_t chunks[4] = {1, 7, 100, 1 << 20};
    size_t o = 0, bl, i, step = steps[c0 & 7], cs = chunks[c2 & 3];
    char *body = WB + sizeof WB / 2;
    bl = fz_subst((const char *)p, len, body, sizeof WB / 2);
    scan_rvs(body, bl);
    if (!WHEAD) {
        WMODE = (c1 & 3) == 3 ? 0 : c1 & 3;
        if (WMODE == 0)
            o += (size_t)snprintf(WB, 256, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n");
        else if (WMODE == 1)
            o += (size_t)snprintf(WB, 256, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                  "Connection: close\r\n\r\n");
        WHEAD = 1;
    }
    if (WMODE == 0) {
        for (i = 0; i < bl; i += cs) {
            size_t k = bl - i < cs ? bl - i : cs;
            if (o + k + 32 > sizeof WB / 2) break;
            o += (size_t)snprintf(WB + o, 16, "%zx\r\n", k);
            memcpy(WB + o, body + i, k);
            o += k;
            WB[o++] = '\r'; WB[o++] = '\n';
        }
        if (c0 & 8) o += (size_t)snprintf(WB + o, 8, "0\r\n\r\n"); /* the server ends it */
    } else {
        memmove(WB + o, body, bl);
        o += bl;
    }
    for (i = 0; i < o; i += step) {
        wfeed(WB + i, o - i < step ? o - i : step);
        if (E.w_state != 2) return; /* ended: the rest is for nobody */
    }
    if (c0 & 8 && WMODE != 0) { wfeed(NULL, 0); WHEAD = 0; }
}

static void play(const uint8_t *data, size_t n) {
    static const int64_t adv[8] = {0, 1, RETRY_MS / 2, RETRY_MS, TIMEOUT_MS - 1,
                                   TIMEOUT_MS + 1, LEASE_MS, 10 * LEASE_MS};
    int live = 1;
    if (n == 0) return;
    setup(K_GET);
    WHEAD = 0;
    canned_reply(200, "other", "5"); /* follows another holder */
    if (!drive()) bad("setup: done", 0);
    while (n >= 5 && live) {
        int c0 = data[0], c1 = data[1], c2 = data[2], status = 0, eof;
        size_t len = (size_t)data[3] << 8 | data[4], rl, blen = 0;
        const char *body = NULL, *rec;
        data += 5; n -= 5;
        if (len > n) len = n;
        rec = (const char *)data;
        data += len; n -= len;
        eof = (c0 >> 3) & 1;
        NOW += adv[c0 >> 5];
        {
            le_action a = next(); /* the clock moved: maybe timeouts */
            if (a.want != LE_WANT_RECV && a.watch != LE_WANT_RECV) { live = drive(); continue; }
        }
        if (c0 & 16) {
            if (E.state != LE__WAITING) { live = drive(); continue; }
            rl = core_reply(c1, c2, (const uint8_t *)rec, len, OUT, sizeof OUT, &status, &body,
                            &blen, &eof);
            scan_rvs(OUT, rl);
            shadow_reply(status, body, blen);
            feed_split(OUT, rl, c0 & 7);
            if (eof && E.state == LE__WAITING) feed(NULL, 0);
            if (E.state == LE__WAITING) { NOW = E.req_until; next(); }
        } else if (E.w_state == 2) {
            watch_record(c0, c1, c2, (const uint8_t *)rec, len);
        }
        live = drive();
    }
    le_stop(&E, at(NOW));
    S.stopped = 1;
    check_leader(NOW);
    {
        int i;
        for (i = 0; i < 12; i++) {
            le_action a = next();
            if (a.want == LE_WANT_DONE) return;
            if (a.want == LE_WANT_SEND) le_sent(&E, at(NOW), a.len);
            if (a.want == LE_WANT_RECV || a.want == LE_WANT_WAIT) NOW = a.deadline;
        }
        bad("not done after le_stop() and RenewDeadline", 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    play(data, n);
    return 0;
}
