/* tests/fuzz/raw.h - a raw reply (the fuzzer's bytes, after @-placeholders;
   @L in its header becomes the length of the body after it)
   and the shadow's own reading of it with llhttp: the first final (non-1xx)
   response, its status and, if complete, its body. */
static struct {
    llhttp_t p;
    llhttp_settings_t s;
    int status, done;
    char body[LE_BODY_MAX * 2];
    size_t n;
} H;

static int h_headers(llhttp_t *p) {
    int st = llhttp_get_status_code(p);
    if (st / 100 != 1) H.status = st;
    return 0;
}
static int h_body(llhttp_t *p, const char *at, size_t n) {
    (void)p;
    if (n > sizeof H.body - H.n) n = sizeof H.body - H.n;
    memcpy(H.body + H.n, at, n);
    H.n += n;
    return 0;
}
static int h_done(llhttp_t *p) {
    if (llhttp_get_status_code(p) / 100 == 1) { H.n = 0; return 0; }
    H.done = 1;
    return HPE_PAUSED;
}

static size_t core_reply(int ctrl1, int ctrl2, const uint8_t *p, size_t n, char *out,
                         size_t cap, int *status, const char **body, size_t *blen, int *eof) {
    llhttp_errno_t rc;
    (void)ctrl1; (void)ctrl2;
    n = fz_subst((const char *)p, n, out, cap);
    { /* @L in the header: the length of what follows it, once substituted */
        char *he = memmem(out, n, "\r\n\r\n", 4), *l;
        while (he && (l = memmem(out, (size_t)(he - out), "@L", 2))) {
            char num[24];
            size_t k = (size_t)snprintf(num, sizeof num, "%zu", n - (size_t)(he + 4 - out));
            if (n + k > cap) break;
            memmove(l + k, l + 2, n - (size_t)(l + 2 - out));
            memcpy(l, num, k);
            n = n - 2 + k;
            he = memmem(out, n, "\r\n\r\n", 4);
        }
    }
    llhttp_settings_init(&H.s);
    H.s.on_headers_complete = h_headers;
    H.s.on_body = h_body;
    H.s.on_message_complete = h_done;
    llhttp_init(&H.p, HTTP_RESPONSE, &H.s);
    H.status = H.done = 0;
    H.n = 0;
    rc = llhttp_execute(&H.p, out, n);
    if (rc == HPE_OK && *eof && !H.done) llhttp_finish(&H.p);
    *status = H.status;
    *body = H.done ? H.body : NULL;
    *blen = H.n;
    return n;
}

