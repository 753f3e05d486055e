/* tests/fuzz/tls.h - what the transport targets (kubeconfig, token, env)
   share: le.h with LE_HTTPS, a private temp directory with a CA
   certificate in it (from $LE_FUZZ_CA, default build/libfuzzer/ca.crt, made by
   tests/fuzz/run.sh with openssl; no key is kept), file functions, and the
   checks of a request built from what was read. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define LE_IMPLEMENTATION
#define LE_HTTPS
#include "le.h"

static char TMP[256];

static void bad(const char *what, const char *detail) {
    fprintf(stderr, "fuzz: invariant broken: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static void put_file(const char *name, const void *p, size_t n) {
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", TMP, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) bad("cannot write", path);
}
static void rm_file(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TMP, name);
    unlink(path);
}
static void tmp_cleanup(void) {
    static const char *const names[] = {"ca.crt", "token", "namespace", "kubeconfig",
                                        "kubeconfig-crlf", NULL};
    int i;
    for (i = 0; names[i]; i++) rm_file(names[i]);
    rmdir(TMP);
}

/* The temp directory with ca.crt and token in it. */
static void tmp_init(void) {
    const char *ca = getenv("LE_FUZZ_CA");
    static char pem[16384];
    size_t n;
    FILE *f;
    if (TMP[0]) return;
    snprintf(TMP, sizeof TMP, "/tmp/le-fuzz-XXXXXX");
    if (!mkdtemp(TMP)) bad("mkdtemp", strerror(errno));
    atexit(tmp_cleanup);
    if (!ca) ca = "build/libfuzzer/ca.crt";
    f = fopen(ca, "rb");
    if (!f) {
        fprintf(stderr, "fuzz: no CA certificate at %s: run tests/fuzz/run.sh, or set "
                "LE_FUZZ_CA to a PEM certificate\n", ca);
        exit(2);
    }
    n = fread(pem, 1, sizeof pem, f);
    fclose(f);
    put_file("ca.crt", pem, n);
    put_file("token", "fake-token-from-file\n", 21);
}

/* A request built from configuration read from files or the environment:
   CRLF-terminated "Name: value" lines, no bare CR or LF, no NUL (no header
   injection), and its Host header is c->host. */
static void check_request(const char *p, size_t n, const char *host) {
    const char *end = memmem(p, n, "\r\n\r\n", 4), *l, *h;
    if (!end) bad("request without end of header", 0);
    if (memchr(p, 0, (size_t)(end - p))) bad("NUL in request header", 0);
    for (l = p; l < end; ) {
        const char *e = memmem(l, (size_t)(end + 2 - l), "\r\n", 2);
        const char *c;
        if (!e) bad("request line without CRLF", 0);
        for (c = l; c < e; c++)
            if (*c == '\r' || *c == '\n') bad("bare CR or LF in a request header (injection)", 0);
        if (l != p && !memchr(l, ':', (size_t)(e - l))) bad("request header line without a colon", 0);
        l = e + 2;
    }
    h = memmem(p, (size_t)(end - p), "\r\nHost: ", 8);
    if (!h || strncmp(h + 8, host, strlen(host)) || h[8 + strlen(host)] != '\r')
        bad("Host header is not le_config.host", host);
}

/* le_init with what le_https_init filled in; if that accepts it, the first
   request must be clean (or refused with an error, as a token with spaces
   is). */
static __attribute__((unused)) void check_config(le_config *c) {
    static le_elector e;
    le_action a;
    le_time t;
    c->name = "f";
    c->poll_only = 1;
    if (!c->ns || !c->identity || !c->host) bad("le_https_init left ns, identity or host unset", 0);
    if (le_init(&e, c)) return; /* a clear le_init error */
    t.mono_ms = 1000;
    t.wall_us = 1790000000000000LL;
    a = le_next(&e, t);
    if (a.want == LE_WANT_SEND) check_request(a.data, a.len, c->host);
    else if (!le_errmsg(&e)[0]) bad("no first request and no error", 0); /* e.g. a bad token */
}

static __attribute__((unused)) void check_errmsg(const le_https *t, int r) {
    size_t n = strnlen(t->errmsg, sizeof t->errmsg);
    if (n == sizeof t->errmsg) bad("error message not NUL-terminated", 0);
    if (r && n == 0) bad("an error without a message", 0);
    if (r != 0 && r != LE_EINVAL && r != LE_ETLS && r != LE_EIO && r != LE_ETOOBIG)
        bad("le_https_init returned an undocumented code", le_strerror(r));
}
