/* le_platform.c - what the minimal mbedTLS (le_mbedtls_config.h) takes from
   here instead of the C library: an entropy source and snprintf. Compiled
   into libmbedcrypto.a by build.sh.

   1. Entropy: getrandom(2).
   mbedTLS 3.6 calls getrandom only when built against glibc; with musl it
   opens /dev/urandom, which an empty (FROM scratch) root does not have, and
   psa_crypto_init fails. With MBEDTLS_NO_PLATFORM_ENTROPY and
   MBEDTLS_ENTROPY_HARDWARE_ALT (le_mbedtls_config.h) this is the only
   source, on any libc: the getrandom system call (Linux >= 3.17), and
   /dev/urandom only where the kernel lacks it (ENOSYS).

   2. le_mbedtls_snprintf / le_mbedtls_vsnprintf (MBEDTLS_PLATFORM_SNPRINTF_
   MACRO): C99 snprintf for integers, characters and strings, no floating
   point. mbedTLS formats certificate names and error texts with it; a C
   library's printf brings its float formatting and stdio along, about 10 KB
   of a static binary. tools/le-run uses it too when built on this mbedTLS. */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* syscall() */
#endif
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen);

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen) {
    size_t got = 0;
    (void)data;
    *olen = 0;
#if defined(SYS_getrandom)
    while (got < len) {
        long r = syscall(SYS_getrandom, output + got, len - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (got == len) {
        *olen = len;
        return 0;
    }
    if (errno != ENOSYS) return -1; /* MBEDTLS_ERR_ENTROPY_SOURCE_FAILED */
#endif
    {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        while (got < len) {
            ssize_t r = read(fd, output + got, len - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        close(fd);
    }
    if (got != len) return -1;
    *olen = len;
    return 0;
}

int le_mbedtls_vsnprintf(char *out, size_t cap, const char *fmt, va_list ap);
int le_mbedtls_snprintf(char *out, size_t cap, const char *fmt, ...);

/* stores what fits (always NUL-terminated when cap > 0), counts it all */
typedef struct { char *p; size_t cap, len; } le__fmt_out;

static void le__fmt_put(le__fmt_out *o, char c, size_t times) {
    for (; times; times--, o->len++)
        if (o->len + 1 < o->cap) o->p[o->len] = c;
}

static void le__fmt_str(le__fmt_out *o, const char *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++, o->len++)
        if (o->len + 1 < o->cap) o->p[o->len] = s[i];
}

int le_mbedtls_vsnprintf(char *out, size_t cap, const char *fmt, va_list ap) {
    le__fmt_out o;
    o.p = out; o.cap = cap; o.len = 0;
    while (*fmt) {
        int left = 0, zero = 0, plus = 0, space = 0, alt = 0, lng = 0;
        long width = 0, prec = -1;
        char digits[24], sign = 0;
        const char *s;
        size_t n, pad;
        uintmax_t v = 0;
        unsigned base = 10;
        int upper = 0, is_signed = 0, nonzero;
        if (*fmt != '%') { le__fmt_put(&o, *fmt++, 1); continue; }
        fmt++;
        for (;; fmt++) {
            if (*fmt == '-') left = 1;
            else if (*fmt == '0') zero = 1;
            else if (*fmt == '+') plus = 1;
            else if (*fmt == ' ') space = 1;
            else if (*fmt == '#') alt = 1;
            else break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) { left = 1; width = -width; }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9' && width < 100000) width = width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') { prec = va_arg(ap, int); fmt++; }
            else while (*fmt >= '0' && *fmt <= '9' && prec < 100000) prec = prec * 10 + (*fmt++ - '0');
        }
        for (;; fmt++) { /* hh h: -2 -1, l ll: 1 2, z j t: 3 */
            if (*fmt == 'l') lng++;
            else if (*fmt == 'h') lng--;
            else if (*fmt == 'z' || *fmt == 'j' || *fmt == 't') lng = 3;
            else break;
        }
        switch (*fmt) {
        case 'd': case 'i': is_signed = 1; break;
        case 'u': break;
        case 'o': base = 8; break;
        case 'x': base = 16; break;
        case 'X': base = 16; upper = 1; break;
        case 'p': base = 16; alt = 1; lng = 4; break; /* as %#lx */
        case 'c':
            digits[0] = (char)va_arg(ap, int);
            s = digits; n = 1;
            goto text;
        case 's':
            s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            for (n = 0; (prec < 0 || n < (size_t)prec) && s[n]; n++) {}
            goto text;
        case '%': le__fmt_put(&o, '%', 1); fmt++; continue;
        default: /* unknown or missing conversion: shown as written */
            le__fmt_put(&o, '%', 1);
            continue;
        }
        fmt++;
        if (is_signed) {
            intmax_t sv = lng <= 0 ? va_arg(ap, int) : lng == 1 ? va_arg(ap, long) :
                          lng == 2 ? va_arg(ap, long long) : va_arg(ap, intmax_t);
            if (lng == -1) sv = (short)sv;
            if (lng <= -2) sv = (signed char)sv;
            v = sv < 0 ? (uintmax_t)0 - (uintmax_t)sv : (uintmax_t)sv;
            sign = sv < 0 ? '-' : plus ? '+' : space ? ' ' : 0;
        } else {
            v = lng <= 0 ? va_arg(ap, unsigned) : lng == 1 ? va_arg(ap, unsigned long) :
                lng == 2 ? va_arg(ap, unsigned long long) :
                lng == 3 ? va_arg(ap, uintmax_t) : (uintptr_t)va_arg(ap, void *);
            if (lng == -1) v = (unsigned short)v;
            if (lng <= -2) v = (unsigned char)v;
        }
        nonzero = v != 0;
        n = 0;
        while (v || (n == 0 && prec != 0)) {
            unsigned d = (unsigned)(v % base);
            digits[sizeof digits - 1 - n++] = (char)(d < 10 ? '0' + d : (upper ? 'A' : 'a') + d - 10);
            v /= base;
        }
        {
            size_t lead = prec > 0 && (size_t)prec > n ? (size_t)prec - n : 0;
            const char *pre = sign == '-' ? "-" : sign == '+' ? "+" : sign == ' ' ? " " :
                              alt && base == 16 && nonzero ? (upper ? "0X" : "0x") :
                              alt && base == 8 && !lead && (n == 0 || nonzero) ? "0" : "";
            size_t body = strlen(pre) + lead + n;
            pad = (size_t)width > body ? (size_t)width - body : 0;
            if (zero && !left && prec < 0) { lead += pad; pad = 0; }
            if (!left) le__fmt_put(&o, ' ', pad);
            le__fmt_str(&o, pre, strlen(pre));
            le__fmt_put(&o, '0', lead);
            le__fmt_str(&o, digits + sizeof digits - n, n);
            if (left) le__fmt_put(&o, ' ', pad);
        }
        continue;
    text:
        fmt++;
        pad = (size_t)width > n ? (size_t)width - n : 0;
        if (!left) le__fmt_put(&o, ' ', pad);
        le__fmt_str(&o, s, n);
        if (left) le__fmt_put(&o, ' ', pad);
    }
    if (cap) out[o.len < cap ? o.len : cap - 1] = 0;
    return o.len > 0x7fffffff ? -1 : (int)o.len;
}

int le_mbedtls_snprintf(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = le_mbedtls_vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n;
}
