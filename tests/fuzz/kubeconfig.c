/* Fuzz target "kubeconfig": the kubeconfig file (the input is the file),
   read by le__kc_load and by le_https_init (hc.kubeconfig; ca.crt and a
   token file sit next to it for relative paths).
   Invariants: every value found lies inside the file, on one line; the
   context, cluster and user found are the ones named; the same file with
   CRLF line ends reads the same; le_https_init returns a documented code
   with a message, and on success a token taken from the file is a value
   in it, the server is https, and the first request is clean (no header
   injection, Host = le_config.host); no leak (LeakSanitizer). */
#include "tls.h"

static le_https T;
static char BUF[2][1 << 16];

static void spans_ok(const le__kc *k, const char *base) {
    const le__kspan *all[3];
    int s, i;
    all[0] = k->ctx; all[1] = k->cl; all[2] = k->us;
    for (s = 0; s < 3; s++)
        for (i = 0; i < LE__KC_N; i++) {
            const le__kspan *v = &all[s][i];
            if (!v->set) continue;
            if (v->p < k->text || v->p + v->n > k->text + k->len)
                bad("a kubeconfig value outside the file", le__kc_keys[i]);
            if (memchr(v->p, '\n', v->n)) bad("a kubeconfig value spans lines", le__kc_keys[i]);
        }
    (void)base;
}

/* What a read found, as text, to compare two reads. */
static void summary(char *out, size_t cap, int r, const le__kc *k) {
    const le__kspan *all[3];
    size_t o;
    int s, i;
    all[0] = k->ctx; all[1] = k->cl; all[2] = k->us;
    o = (size_t)snprintf(out, cap, "r=%d", r);
    if (r) return;
    for (s = 0; s < 3; s++)
        for (i = 0; i < LE__KC_N && o < cap; i++)
            if (all[s][i].set)
                o += (size_t)snprintf(out + o, cap - o, "|%d.%d=%.*s", s, i,
                                      (int)all[s][i].n, all[s][i].p);
}

static int load(const char *file, le__kc *k) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TMP, file);
    memset(k, 0, sizeof *k);
    return le__kc_load(&T, path, NULL, k);
}
static void unload(le__kc *k) {
    if (k->text) mbedtls_free(k->text);
    k->text = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    le__kc k;
    le_https_config hc;
    le_config c;
    char path[512];
    int r;
    tmp_init();
    unsetenv("POD_NAME");
    unsetenv("POD_NAMESPACE");
    if (n > sizeof BUF[0] / 2) n = sizeof BUF[0] / 2;
    put_file("kubeconfig", data, n);

    /* the reader alone, and the same file with CRLF line ends */
    memset(&T, 0, sizeof T);
    r = load("kubeconfig", &k);
    if (r == 0) {
        spans_ok(&k, "kubeconfig");
        if (!k.cl[LE__KC_SERVER].set) bad("accepted without a server", 0);
    }
    summary(BUF[0], sizeof BUF[0], r, &k);
    unload(&k);
    if (!memchr(data, '\r', n) && !memchr(data, 0, n)) {
        size_t i, o = 0;
        char *crlf = BUF[1];
        for (i = 0; i < n; i++) {
            if (data[i] == '\n') crlf[o++] = '\r';
            crlf[o++] = (char)data[i];
        }
        put_file("kubeconfig-crlf", crlf, o);
        r = load("kubeconfig-crlf", &k);
        if (r == 0) spans_ok(&k, "kubeconfig-crlf");
        summary(BUF[1], sizeof BUF[1], r, &k);
        unload(&k);
        if (strcmp(BUF[0], BUF[1])) {
            fprintf(stderr, "LF:   %.300s\nCRLF: %.300s\n", BUF[0], BUF[1]);
            bad("the kubeconfig reads differently with CRLF line ends", 0);
        }
    }

    /* the whole configuration */
    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    snprintf(path, sizeof path, "%s/kubeconfig", TMP);
    hc.kubeconfig = path;
    hc.sa_dir = TMP;
    r = le_https_init(&T, &hc, &c);
    check_errmsg(&T, r);
    if (r == 0) {
        if (!T.tls) bad("plain http accepted without allow_http", 0);
        if (T.port < 1 || T.port > 65535) bad("port out of range", 0);
        if (c.token && !T.reload && !memmem(data, n, c.token, strlen(c.token)))
            bad("a token that is not in the kubeconfig", c.token);
        check_config(&c);
    }
    le_https_free(&T);
    return 0;
}
