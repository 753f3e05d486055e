/* text.c - the printf-free text of a static build, against the C library's.

   A static le-run or example carries neither printf nor inet_ntop (each
   would bring the C library's float formatting and stdio along): the
   minimal mbedTLS formats with le_mbedtls_snprintf (tools/mbedtls/
   le_platform.c) and le.h writes addresses itself (le__https_ip). Both must
   write what glibc writes, byte for byte, including the return value and
   truncation; this compares them over fixed cases and seeded random ones.
   Needs no server. Built against the minimal mbedTLS (build/https3).

   Usage: text [SEED] */
#define _POSIX_C_SOURCE 200809L
#define LE_IMPLEMENTATION
#define LE_HTTPS
#include "le.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stdarg.h>
#include <arpa/inet.h>

static int passed, failed;
static long compared, wrong, shown;

/* one comparison; a group of them passes when none differs */
static void check(int ok, const char *what, const char *got, const char *want) {
    compared++;
    if (ok) return;
    wrong++;
    if (shown++ < 20) printf("  differs: %s: got \"%s\", want \"%s\"\n", what, got, want);
}

static void group(const char *name) {
    static long wrong_before;
    int ok = wrong == wrong_before;
    wrong_before = wrong;
    if (ok) passed++;
    else failed++;
    printf("%s %s\n", ok ? "PASS" : "FAIL", name);
}

static uint64_t rng = 88172645463325252u;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Both formatters, every capacity from 0 to past the end: same bytes, same
   return value, the NUL where C99 puts it, nothing written past cap. */
static void same(const char *fmt, ...) {
    char want[256], got[256];
    va_list ap, aq;
    int wn, gn, ok;
    size_t cap;
    va_start(ap, fmt);
    va_copy(aq, ap);
    wn = vsnprintf(want, sizeof want, fmt, aq);
    va_end(aq);
    va_copy(aq, ap);
    gn = le_mbedtls_vsnprintf(got, sizeof got, fmt, aq);
    va_end(aq);
    ok = wn == gn && !strcmp(want, got);
    for (cap = 0; ok && cap <= (size_t)wn + 1 && cap < sizeof got; cap++) {
        size_t end = cap == 0 ? 0 : cap - 1 < (size_t)wn ? cap - 1 : (size_t)wn;
        memset(got, '#', sizeof got);
        va_copy(aq, ap);
        gn = le_mbedtls_vsnprintf(got, cap, fmt, aq);
        va_end(aq);
        ok = gn == wn && got[cap] == '#' &&
             (cap == 0 || (got[end] == 0 && !memcmp(got, want, end)));
    }
    va_end(ap);
    check(ok, fmt, got, want);
}

/* the snprintf mbedTLS calls is the same function */
static void same_wrapper(void) {
    char a[32], b[32];
    int n = le_mbedtls_snprintf(a, sizeof a, "%s=%04X", "code", 0x2700);
    int m = snprintf(b, sizeof b, "%s=%04X", "code", 0x2700);
    check(n == m && !strcmp(a, b), "le_mbedtls_snprintf", a, b);
    group("le_mbedtls_snprintf, the function mbedTLS calls");
}

static void formats(void) {
    int i;
    const char *strs[] = {"", "a", "CN=le-test, O=le", "0123456789abcdef0123"};
    same("%s", "plain");
    same("%%%s%%", "x");
    same("UNKNOWN ERROR CODE (%04X)", 0x7780);
    same("%s%s\n", "  ! ", "The certificate validity has expired");
    same("%c", 'Z');
    same("\\%c", ',');
    same("%02X%s", 0xab, ":");
    same("%04d-%02d-%02d %02d:%02d:%02d", 2026, 12, 3, 9, 5, 7);
    same("%-24s|%24s|", "--lease NAME", "right");
    same("%.*s|", 5, "truncated here");
    same("%.3s|%.0s|", "abcdef", "gone");
    same("%*d|%-*d|", 6, 42, 6, 42);
    same("%lld %llu %ld %lu", (long long)INT64_MIN, (unsigned long long)UINT64_MAX,
         (long)-7, (unsigned long)7);
    same("%zu %d %i %u", (size_t)123456789, INT32_MIN, -1, 4000000000u);
    same("%x %X %o %#x %#o %#X", 0xdeadbeefu, 0xcafeu, 8u, 255u, 8u, 0u);
    same("%+d % d %+d % d", 5, 5, -5, -5);
    same("%05d|%-05d|%5.3d|%.0d|%.0d|", -42, 42, 7, 0, 1);
    same("%08.3x|%#010x|", 0xabu, 0xabu);
    same("%hhu %hu %hd %hhd %hhx", 300, 70000, -3, 200, -1);
    same("%#o %#x %#.0o %#.0x %.0x|", 0u, 0u, 0u, 0u, 0u);
    same("%s", "ends with %");
    group("formats mbedTLS and le-run use, flags, widths, precisions, lengths");
    for (i = 0; i < 4000; i++) {
        long long v = (long long)next();
        int w = (int)(next() % 30), p = (int)(next() % 25) - 1;
        const char *s = strs[next() % 4];
        switch (i % 8) {
        case 0: same("%*.*lld", w, p, v); break;
        case 1: same("%-*.*llu", w, p, (unsigned long long)v); break;
        case 2: same("%0*llx", w, (unsigned long long)v); break;
        case 3: same("%*.*s|", w, p, s); break;
        case 4: same("%-*s|%d", w, s, (int)v); break;
        case 5: same("%#*.*llX", w, p, (unsigned long long)v); break;
        case 6: same("%+0*d", w, (int)v); break;
        default: same("%*c|%-*c|", w, 'a' + (int)(next() % 26), w, 'q'); break;
        }
    }
    group("4000 random integer, string and character conversions at every capacity");
}

static void ip_same(int v6, const unsigned char *a) {
    char want[64], got[64];
    le__sb b = le__https_sb(got, sizeof got);
    inet_ntop(v6 ? AF_INET6 : AF_INET, a, want, sizeof want);
    le__https_ip(&b, v6, a);
    le__cstr(&b);
    check(!strcmp(got, want), v6 ? "IPv6 address" : "IPv4 address", got, want);
}

static void addresses(void) {
    static const char *fixed[] = {
        "::", "::1", "1::", "1::1", "fe80::1:2", "2001:db8::", "2001:db8:0:0:1:0:0:1",
        "2001:0:0:1:0:0:0:1", "0:0:1::", "1:0:0:0:0:0:0:0", "1:2:3:4:5:6:7:8",
        "1:0:3:0:5:0:7:0", "::ffff:10.96.0.1", "::10.0.0.1", "::ffff:0:1.2.3.4",
        "::0.0.1.2", "0:0:0:0:0:1:0:0", "fd00::a:0:0:0:b",
    };
    unsigned char a[16];
    size_t i;
    int j;
    for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        inet_pton(AF_INET6, fixed[i], a);
        ip_same(1, a);
    }
    group("IPv6 addresses: zero runs, ties, ends, IPv4-mapped and -compatible");
    for (i = 0; i < 20000; i++) {
        /* groups zero with probability 1/2, so zero runs of every length and
           place occur; some as ::ffff:a.b.c.d */
        for (j = 0; j < 8; j++) {
            unsigned w = next() % 2 ? 0 : (unsigned)(next() % 3 ? next() & 0xffff : next() & 0xf);
            a[2 * j] = (unsigned char)(w >> 8);
            a[2 * j + 1] = (unsigned char)w;
        }
        if (i % 10 == 0) {
            memset(a, 0, 10);
            a[10] = a[11] = 0xff;
        }
        ip_same(1, a);
        ip_same(0, a + 12);
    }
    a[0] = 0; a[1] = 0; a[2] = 0; a[3] = 0;
    ip_same(0, a);
    memset(a, 255, 4);
    ip_same(0, a);
    group("20000 random IPv6 and IPv4 addresses as inet_ntop writes them");
}

int main(int argc, char **argv) {
    if (argc > 1) rng = strtoull(argv[1], 0, 10) | 1;
    formats();
    same_wrapper();
    addresses();
    printf("text: %d passed, %d failed (%ld comparisons with glibc)\n", passed, failed, compared);
    return failed ? 1 : 0;
}
