/* Fuzz target "env": the in-cluster environment through le_https_init
   (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT, POD_NAME,
   POD_NAMESPACE) with sa_dir a temp directory holding ca.crt, token and the
   namespace file. Input: byte 0 says which variables are set (bits 0-3)
   and whether the namespace file exists (bit 4); then NUL-separated values
   HOST, PORT, POD_NAME, POD_NAMESPACE, and the namespace file's content.
   Invariants: a documented code with a message; on success the server is
   https://HOST:PORT with PORT decimal in 1..65535 (a "/" after it, as
   client-go's URL parsing allows) and HOST exactly the
   host (an IPv6 address in brackets), identity = POD_NAME and ns =
   POD_NAMESPACE when set, the namespace file's content when not (or a
   value le_init refuses, never another valid namespace), and the
   first request is clean (no header injection, Host = le_config.host);
   no leak (LeakSanitizer). */
#include "tls.h"

static le_https T;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    static char in[4096];
    static const char *const names[4] = {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
                                         "POD_NAME", "POD_NAMESPACE"};
    const char *v[5];
    size_t vl[5], i, o;
    le_https_config hc;
    le_config c;
    int flags, r, k;
    tmp_init();
    if (n == 0) return 0;
    flags = data[0];
    if (n - 1 > sizeof in - 1) n = sizeof in;
    memcpy(in, data + 1, n - 1);
    in[n - 1] = 0;
    /* split at NULs into 5 values (the last may hold anything) */
    for (k = 0, o = 0; k < 5; k++) {
        v[k] = in + o;
        vl[k] = k < 4 ? strlen(in + o) : (n - 1) - o;
        o += vl[k] + (o + vl[k] < n - 1 ? 1 : 0);
        if (o > n - 1) o = n - 1;
    }
    for (k = 0; k < 4; k++) {
        if (flags >> k & 1) setenv(names[k], v[k], 1);
        else unsetenv(names[k]);
    }
    if (flags & 16) put_file("namespace", v[4], vl[4]);
    else rm_file("namespace");

    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    hc.sa_dir = TMP;
    r = le_https_init(&T, &hc, &c);
    check_errmsg(&T, r);
    if (r == 0) {
        const char *h = v[0], *p = v[1];
        long port = 0;
        if (!(flags & 1) || !(flags & 2) || !*h || !*p) bad("in cluster without HOST and PORT", 0);
        for (i = 0; p[i]; i++) {
            if (p[i] == '/' && !p[i + 1] && i) break; /* "443/": client-go's URL takes it too */
            if (p[i] < '0' || p[i] > '9') bad("a port that is not a decimal number accepted", p);
            port = port * 10 + (p[i] - '0'); /* leading zeros are fine, as in Go */
            if (port > 65535) bad("a port above 65535 accepted", p);
        }
        if (port != T.port) bad("the port used is not KUBERNETES_SERVICE_PORT", p);
        if (strcmp(T.host, h)) bad("the host used is not KUBERNETES_SERVICE_HOST", h);
        if (!T.tls) bad("in-cluster server without TLS", 0);
        if ((flags & 4) && *v[2] && strcmp(c.identity, v[2])) bad("identity is not POD_NAME", 0);
        if ((flags & 8) && *v[3] && strcmp(c.ns, v[3])) bad("ns is not POD_NAMESPACE", 0);
        if (!((flags & 8) && *v[3])) {
            /* from the file: its content without surrounding blanks */
            const char *s = v[4], *e = v[4] + vl[4];
            if (!(flags & 16)) bad("ns without POD_NAMESPACE or namespace file", 0);
            while (s < e && strchr(" \t\r\n", *s) && *s) s++;
            while (e > s && strchr(" \t\r\n", e[-1]) && e[-1]) e--;
            /* anything else must be refused by le_init, never used */
            if ((strlen(c.ns) != (size_t)(e - s) || memcmp(c.ns, s, (size_t)(e - s))) &&
                le__dns1123(c.ns, LE__NS_MAX, 0))
                bad("ns is a namespace other than the namespace file's", c.ns);
        }
        check_config(&c);
    }
    le_https_free(&T);
    return 0;
}
