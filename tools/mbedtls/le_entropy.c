/* le_entropy.c - mbedTLS's entropy source for le.h builds: getrandom(2).

   mbedTLS 3.6 calls getrandom only when built against glibc; with musl it
   opens /dev/urandom, which an empty (FROM scratch) root does not have, and
   psa_crypto_init fails. With MBEDTLS_NO_PLATFORM_ENTROPY and
   MBEDTLS_ENTROPY_HARDWARE_ALT (le_mbedtls_config.h) this is the only
   source, on any libc: the getrandom system call (Linux >= 3.17), and
   /dev/urandom only where the kernel lacks it (ENOSYS). Compiled into
   libmbedcrypto.a by build.sh. */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* syscall() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
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
