/* malloc_count.c - counts heap allocations of the whole process (glibc).

   Defining malloc/calloc/realloc in the executable interposes them for the
   shared libraries too (libmbedtls.so included), so every allocation made
   after le_test_count_reset() shows in le_test_mallocs. Forwards to glibc's
   __libc_* entry points; C only (C++ headers declare malloc noexcept). */
#include <stddef.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

unsigned long le_test_mallocs; /* malloc + calloc + realloc calls */
int le_test_counting;

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void free(void *p);
void le_test_count_start(void);
unsigned long le_test_count_stop(void);

void *malloc(size_t n) {
    if (le_test_counting) le_test_mallocs++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t m) {
    if (le_test_counting) le_test_mallocs++;
    return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n) {
    if (le_test_counting) le_test_mallocs++;
    return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }

void le_test_count_start(void) {
    le_test_mallocs = 0;
    le_test_counting = 1;
}
unsigned long le_test_count_stop(void) {
    le_test_counting = 0;
    return le_test_mallocs;
}
