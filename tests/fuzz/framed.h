/* tests/fuzz/framed.h - replies framed by the harness around a fuzzed body
   (for the lease and status targets), so the fuzzer spends its effort on
   the JSON while the HTTP framing varies in controlled ways.

   ctrl1 bits 0-1: the target's status choice; bits 2-3 framing:
   Content-Length, chunked, delimited by the connection's close, or
   Content-Length after a 100 Continue; bits 4-6 a Retry-After header
   (none, 0, 1, 3, 600, 999999, -1, an HTTP-date); bit 7 Connection: close.
   ctrl2 bits 0-1 pad the body with blanks to LE_BODY_MAX, LE_BODY_MAX + 1
   or 4 x LE_BODY_MAX bytes; bits 2-3 the chunk size; bits 4-7 the status
   target's status choice (the lease target: core.h's bits 4 and 5). */

static int fz_status(int ctrl1, int ctrl2); /* the target's */

static char BODY[4 * LE_BODY_MAX + 64];

static size_t core_reply(int ctrl1, int ctrl2, const uint8_t *p, size_t n, char *out,
                         size_t cap, int *status, const char **body, size_t *blen, int *eof) {
    static const char *const ra[8] = {NULL, "0", "1", "3", "600", "999999", "-1",
                                      "Fri, 31 Dec 1999 23:59:59 GMT"};
    static const size_t pads[4] = {0, LE_BODY_MAX, LE_BODY_MAX + 1, 4 * LE_BODY_MAX};
    static const size_t chunks[4] = {7, 100, 1000, 1 << 20};
    int framing = (ctrl1 >> 2) & 3, st = fz_status(ctrl1, ctrl2);
    size_t bn, o = 0, pad = pads[ctrl2 & 3];
    bn = fz_subst((const char *)p, n, BODY, sizeof BODY - 1);
    if (pad > bn) { memset(BODY + bn, ' ', pad - bn); bn = pad; }
    *status = st;
    *body = BODY;
    *blen = bn;
#define PUT(...) (o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__))
    if (framing == 3) PUT("HTTP/1.1 100 Continue\r\n\r\n");
    PUT("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n", st);
    if (ra[(ctrl1 >> 4) & 7]) PUT("Retry-After: %s\r\n", ra[(ctrl1 >> 4) & 7]);
    if (ctrl1 & 0x80) PUT("Connection: close\r\n");
    if (framing == 1) {
        size_t i, cs = chunks[(ctrl2 >> 2) & 3];
        PUT("Transfer-Encoding: chunked\r\n\r\n");
        for (i = 0; i < bn && o + cs + 32 < cap; i += cs) {
            size_t k = bn - i < cs ? bn - i : cs;
            PUT("%zx\r\n", k);
            memcpy(out + o, BODY + i, k);
            o += k;
            PUT("\r\n");
        }
        PUT("0\r\n\r\n");
    } else {
        if (framing == 2) *eof = 1;
        else PUT("Content-Length: %zu\r\n", bn);
        PUT("\r\n");
        if (o + bn > cap) bn = cap - o;
        memcpy(out + o, BODY, bn);
        o += bn;
    }
#undef PUT
    return o < cap ? o : cap;
}
