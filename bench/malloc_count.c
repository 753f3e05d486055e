/* malloc_count.so: an LD_PRELOAD heap-call counter for bench/side_by_side.py.
   Counts malloc, calloc, realloc, free, the aligned allocators (and the
   bytes they were asked for) and connect() in the process it is preloaded
   into, and prints the counts as one JSON line (one write(2)) on SIGUSR1
   and at exit:

     {"t":<CLOCK_MONOTONIC ns>,"ev":"mallocs","malloc":N,"calloc":N,
      "realloc":N,"free":N,"memalign":N,"bytes":N,"connect":N,
      "at":"signal"|"exit"}

   to the file descriptor in LE_MALLOC_COUNT_FD (default 2).
   LE_MALLOC_COUNT_TRACE=1 also writes, after the first SIGUSR1, one line
   and a backtrace (backtrace_symbols_fd) per allocation call there, to
   find where allocations in a window come from.
   The allocators forward to glibc's __libc_* entry points, so no dlsym is
   needed for them (dlsym itself may call calloc). The handler only reads
   counters, formats digits by hand and calls write(): async-signal-safe.
   It is installed with SA_RESTART; a poll() it interrupts returns EINTR.

   cc -O2 -shared -fPIC bench/malloc_count.c -o malloc_count.so -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static unsigned long n_malloc, n_calloc, n_realloc, n_free, n_memalign, n_connect;
static unsigned long long n_bytes; /* bytes asked for by all the allocators */
static int out_fd = 2;
static int trace_want;              /* LE_MALLOC_COUNT_TRACE=1 */
static volatile int trace_on;       /* after the first SIGUSR1 */
static __thread int in_trace;       /* backtrace() may allocate */

static void trace(const char *what, size_t n) {
    void *bt[32];
    char buf[64], *o = buf;
    int k;
    unsigned long long v = n;
    char tmp[24];
    if (!trace_on || in_trace) return;
    in_trace = 1;
    while (*what) *o++ = *what++;
    *o++ = ' ';
    k = 0;
    do tmp[k++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (k) *o++ = tmp[--k];
    *o++ = '\n';
    if (write(out_fd, buf, (size_t)(o - buf)) < 0) { /* nothing to do */ }
    k = backtrace(bt, 32);
    backtrace_symbols_fd(bt, k, out_fd);
    in_trace = 0;
}

#define COUNT(x) __atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define BYTES(n) __atomic_fetch_add(&n_bytes, (unsigned long long)(n), __ATOMIC_RELAXED)

void *malloc(size_t n) { COUNT(n_malloc); BYTES(n); trace("malloc", n); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) {
    COUNT(n_calloc); BYTES(a * b); trace("calloc", a * b);
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) { COUNT(n_realloc); BYTES(n); trace("realloc", n); return __libc_realloc(p, n); }
void free(void *p) { if (p) COUNT(n_free); __libc_free(p); }
void *memalign(size_t al, size_t n) { COUNT(n_memalign); BYTES(n); return __libc_memalign(al, n); }
void *aligned_alloc(size_t al, size_t n) { COUNT(n_memalign); BYTES(n); return __libc_memalign(al, n); }
int posix_memalign(void **out, size_t al, size_t n) {
    void *p;
    COUNT(n_memalign);
    BYTES(n);
    if (al < sizeof(void *) || (al & (al - 1))) return EINVAL;
    p = __libc_memalign(al, n);
    if (!p && n) return ENOMEM;
    *out = p;
    return 0;
}

int connect(int fd, const struct sockaddr *a, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "connect");
    COUNT(n_connect);
    return real(fd, a, len);
}

static char *put_u(char *o, unsigned long long v) {
    char tmp[24];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (n) *o++ = tmp[--n];
    return o;
}

static char *put_s(char *o, const char *s) {
    while (*s) *o++ = *s++;
    return o;
}

static void report(const char *at) {
    char buf[512], *o = buf;
    struct timespec ts;
    int saved = errno;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    o = put_s(o, "{\"t\":");
    o = put_u(o, (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
    o = put_s(o, ",\"ev\":\"mallocs\",\"malloc\":");
    o = put_u(o, LOAD(n_malloc));
    o = put_s(o, ",\"calloc\":");
    o = put_u(o, LOAD(n_calloc));
    o = put_s(o, ",\"realloc\":");
    o = put_u(o, LOAD(n_realloc));
    o = put_s(o, ",\"free\":");
    o = put_u(o, LOAD(n_free));
    o = put_s(o, ",\"memalign\":");
    o = put_u(o, LOAD(n_memalign));
    o = put_s(o, ",\"bytes\":");
    o = put_u(o, LOAD(n_bytes));
    o = put_s(o, ",\"connect\":");
    o = put_u(o, LOAD(n_connect));
    o = put_s(o, ",\"at\":\"");
    o = put_s(o, at);
    o = put_s(o, "\"}\n");
    if (write(out_fd, buf, (size_t)(o - buf)) < 0) { /* nothing to do */ }
    errno = saved;
}

static void on_usr1(int s) { (void)s; report("signal"); trace_on = trace_want; }

__attribute__((constructor)) static void mc_init(void) {
    struct sigaction sa;
    const char *fd = getenv("LE_MALLOC_COUNT_FD");
    const char *tr = getenv("LE_MALLOC_COUNT_TRACE");
    if (fd && *fd) out_fd = atoi(fd);
    if (tr && *tr == '1') {
        void *bt[4];
        trace_want = 1;
        in_trace = 1;
        backtrace(bt, 4); /* loads what it needs now, not inside an allocation */
        in_trace = 0;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, 0);
}

__attribute__((destructor)) static void mc_fini(void) { report("exit"); }
