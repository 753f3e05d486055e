/* Fuzz target "lerun": le-run's HTTP server (/healthz, /leader, /metrics),
   tools/le-run/le-run.c compiled in with its main renamed. The input is
   the bytes a client sends (byte 0: bits 0-2 the size of the pieces they
   arrive in, bit 3 --once on, bit 4 the elector has seen a holder); they go
   through a socketpair into le-run's own http_io(), and the reply is read
   from the other end.
   Invariants: a reply only once the header is complete ("\r\n\r\n" or
   "\n\n" within 1023 bytes), 431 when it is not by then, none when the
   client closes before; for a well-formed origin-form request line the
   status le-run documents (GET/HEAD: /healthz 200 or 500, /leader and
   /metrics 200, anything else 404; other methods 405); every reply is
   "HTTP/1.1 NNN ...", Content-Length equal to the body (none for HEAD),
   Connection: close, no control bytes; /leader's body is a JSON
   object whose name is le_leader(); /metrics lines are Prometheus text. */
#define main le_run_main
#include "tools/le-run/le-run.c"
#undef main

#include <stdio.h>

static run R;
static le_elector EL;
static hconn C;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz: invariant broken: %s%s%.300s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static const char *find(const char *h, size_t n, const char *needle) {
    size_t k = strlen(needle), i;
    for (i = 0; i + k <= n; i++)
        if (!memcmp(h + i, needle, k)) return h + i;
    return NULL;
}

/* A holder with a quote, a backslash, a control byte and UTF-8. */
static void follow(void) {
    static const char body[] =
        "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":"
        "\"f\",\"namespace\":\"default\",\"resourceVersion\":\"5\"},\"spec\":{\"holderIdentity\":"
        "\"p\\\"o\\\\d\\u0001-\\u00e9\",\"leaseDurationSeconds\":15,\"renewTime\":"
        "\"2026-11-24T09:00:00.000000Z\",\"leaseTransitions\":1}}";
    char rep[1024];
    int n = snprintf(rep, sizeof rep, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof body - 1, body);
    le_time t = le_clock();
    le_action a = le_next(&EL, t);
    if (a.want != LE_WANT_SEND) fail("setup", 0);
    le_sent(&EL, t, a.len);
    le_feed(&EL, t, rep, (size_t)n);
    if (!le_leader(&EL)[0]) fail("setup: no holder", le_errmsg(&EL));
}

static void setup(int flags) {
    le_config c;
    memset(&c, 0, sizeof c);
    c.ns = "default"; c.name = "f"; c.identity = "me"; c.poll_only = 1;
    if (le_init(&EL, &c)) fail("le_init", le_errmsg(&EL));
    if (flags & 16) follow();
    memset(&R, 0, sizeof R);
    R.e = &EL;
    R.ns = "default"; R.name = "f"; R.id = "me";
    R.lease_ms = 15000; R.renew_ms = 10000; R.retry_ms = 2000; R.healthz_ms = 20000;
    R.val[O_ONCE] = "migrate-\"v2\"\\x";
    R.once = flags & 8 ? ONCE_WAIT : ONCE_OFF;
    R.lfd = -1;
}

static char PATH[1024]; /* of the last well-formed request line */

/* What the status must be, for a well-formed request line; 0 if not. */
static int expected(const char *s) {
    const char *sp = strchr(s, ' '), *sp2, *eol;
    char path[1024];
    size_t n, m;
    if (!sp) return 0;
    m = (size_t)(sp - s);
    eol = strchr(s, '\n');
    if (!eol || eol < sp || m == 0) return 0;
    for (n = 0; n < m; n++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-", s[n])) return 0;
    sp2 = strchr(sp + 1, ' ');
    if (!sp2 || sp2 > eol || sp[1] != '/') return 0;
    if (strncmp(sp2, " HTTP/1.", 8) || !(sp2[8] == '0' || sp2[8] == '1') ||
        !(sp2[9] == '\r' || sp2[9] == '\n'))
        return 0;
    n = (size_t)(sp2 - sp - 1);
    if (n >= sizeof path || memchr(sp + 1, '%', n)) return 0;
    for (m = 0; m < n; m++)
        if ((unsigned char)sp[1 + m] <= 0x20 || (unsigned char)sp[1 + m] >= 0x7f) return 0;
    m = (size_t)(sp - s);
    memcpy(path, sp + 1, n);
    path[n] = 0;
    if (strchr(path, '?')) *strchr(path, '?') = 0;
    memcpy(PATH, path, sizeof PATH);
    if (!(m == 3 && !strncmp(s, "GET", 3)) && !(m == 4 && !strncmp(s, "HEAD", 4))) return 405;
    if (!strcmp(path, "/healthz")) return 200; /* or 500 */
    if (!strcmp(path, "/leader") || !strcmp(path, "/metrics")) return 200;
    return 404;
}

static void check_metrics(const char *b, size_t n) {
    const char *l = b, *e = b + n;
    while (l < e) {
        const char *eol = memchr(l, '\n', (size_t)(e - l)), *p = l;
        if (!eol) fail("metrics: a line without newline", l);
        if (*l != '#') {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
                fail("metrics: a sample without a name", l);
            while (p < eol && *p != '{' && *p != ' ') p++;
            if (p < eol && *p == '{') { /* labels: name="value" with \\ \" \n only */
                for (p++; p < eol && *p != '}';) {
                    while (p < eol && *p != '=') p++;
                    if (p + 1 >= eol || p[1] != '"') fail("metrics: a label without a quoted value", l);
                    for (p += 2; p < eol && *p != '"'; p++)
                        if (*p == '\\' && (p + 1 >= eol || !strchr("\\\"n", *++p)))
                            fail("metrics: a label value with an escape Prometheus does not have", l);
                    p++;
                    if (p < eol && *p == ',') p++;
                }
                p++;
            }
            if (p >= eol || *p != ' ') fail("metrics: no value", l);
            {
                char *end;
                strtod(p + 1, &end);
                if (end != eol) fail("metrics: value is not a number", l);
            }
        }
        l = eol + 1;
    }
}

static void check_leader_json(const char *b, size_t n) {
    jsmn_parser p;
    jsmntok_t t[8];
    char out[600];
    int k;
    size_t o = 0;
    jsmn_init(&p);
    k = jsmn_parse(&p, b, n, t, 8);
    if (k != 3 || t[0].type != JSMN_OBJECT || t[2].type != JSMN_STRING ||
        strncmp(b + t[1].start, "name", 4))
        fail("/leader: not {\"name\": string}", b);
    for (k = t[2].start; k < t[2].end && o < sizeof out - 8; k++) {
        char c = b[k];
        if (c == '\\') {
            c = b[++k];
            if (c == 'u') { /* only \u00XX is produced */
                unsigned v = (unsigned)strtoul((char[5]){b[k + 1], b[k + 2], b[k + 3], b[k + 4], 0}, NULL, 16);
                k += 4;
                out[o++] = (char)v;
                continue;
            }
            out[o++] = c == 'n' ? '\n' : c;
            continue;
        }
        out[o++] = c;
    }
    out[o] = 0;
    if (strcmp(out, le_leader(&EL))) fail("/leader: name is not le_leader()", out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    static const size_t steps[8] = {1, 2, 7, 64, 300, 1023, 1024, 100000};
    static char rep[65536], seen[1024];
    int sv[2], flags, want;
    size_t i, step, got = 0, upto;
    const char *hdr_end, *st;
    if (n == 0) return 0;
    flags = data[0];
    data++; n--;
    if (n > 32768) n = 32768;
    setup(flags);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) fail("socketpair", strerror(errno));
    cloexec_nonblock(sv[0], 1);
    cloexec_nonblock(sv[1], 1);
    memset(&C, 0, sizeof C);
    C.fd = sv[0];
    C.deadline = mono() + HTTP_TIMEOUT_MS;
    step = steps[flags & 7];
    for (i = 0; i < n && C.fd >= 0; i += step) {
        size_t k = n - i < step ? n - i : step;
        ssize_t w = send(sv[1], data + i, k, MSG_NOSIGNAL);
        if (w < 0) break; /* le-run closed its end */
        if ((size_t)w < k) k = (size_t)w;
        i = i + k - step;
        http_io(&R, &C, mono());
    }
    if (C.fd >= 0) { shutdown(sv[1], SHUT_WR); http_io(&R, &C, mono()); }
    if (C.fd >= 0) fail("the connection is still open after the client closed", 0);
    for (;;) {
        ssize_t r = recv(sv[1], rep + got, sizeof rep - 1 - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
    }
    rep[got] = 0;
    close(sv[1]);

    /* what le-run saw: at most 1023 bytes, as a C string */
    upto = n < sizeof seen - 1 ? n : sizeof seen - 1;
    memcpy(seen, data, upto);
    seen[upto] = 0;
    hdr_end = strstr(seen, "\r\n\r\n");
    if (!hdr_end) hdr_end = strstr(seen, "\n\n");
    if (!hdr_end && upto < sizeof seen - 1) {
        if (got) fail("a reply before the request header was complete", rep);
        return 0;
    }
    if (!got) fail("no reply to a complete request header", 0);
    for (i = 0; i < got; i++)
        if ((unsigned char)rep[i] == 0x7f || ((unsigned char)rep[i] < 0x20 && rep[i] != '\r' && rep[i] != '\n'))
            fail("a control byte in the reply", rep);
    if (strncmp(rep, "HTTP/1.1 ", 9) || !(rep[9] >= '1' && rep[9] <= '5') || rep[12] != ' ')
        fail("not an HTTP/1.1 status line", rep);
    st = rep + 9;
    if (!hdr_end) {
        if (strncmp(st, "431", 3)) fail("an over-long header not answered 431", rep);
    } else {
        want = expected(seen);
        if (want && strncmp(st, want == 200 ? "200" : want == 404 ? "404" : "405", 3) &&
            !(want == 200 && !strncmp(st, "500", 3) && strstr(seen, "/healthz")))
            fail("wrong status for a well-formed request", seen);
    }
    {
        const char *he = find(rep, got, "\r\n\r\n"), *cl = find(rep, got, "\r\nContent-Length: ");
        size_t blen, clen;
        int head = !strncmp(seen, "HEAD ", 5);
        if (!he || !cl || cl > he) fail("reply without Content-Length", rep);
        if (!find(rep, (size_t)(he - rep), "\r\nConnection: close")) fail("reply without Connection: close", rep);
        clen = strtoul(cl + 18, NULL, 10);
        blen = got - (size_t)(he + 4 - rep);
        if (head ? blen != 0 : blen != clen) fail("body length is not Content-Length", rep);
        if (!head && hdr_end && !strncmp(st, "200", 3) && expected(seen)) {
            if (!strcmp(PATH, "/leader")) check_leader_json(he + 4, blen);
            if (!strcmp(PATH, "/metrics")) check_metrics(he + 4, blen);
        }
    }
    return 0;
}
