/* witness - the CMD of tests/le-run: it records when it lives, so the test
   can check that no two runs overlap.

   At start it appends "start MONO_NS PID PGID IDENTITY TERM" to $WITNESS_LOG
   (CLOCK_MONOTONIC, the same clock as the test's), then forks a grandchild
   into the same process group that ignores SIGTERM (so only a group kill
   ends it). Both connect to the test's Unix socket $WITNESS_SOCK and keep
   the connection open: the kernel closes it when the process dies, however
   it dies, and the test stamps that moment as the end. On SIGTERM the child
   appends "end ..." and exits 0, unless $WITNESS_CTL/stubborn exists (then
   it ignores SIGTERM too); SIGUSR1 makes it exit 3 (a crash). With
   WITNESS_EXIT=N it exits N after WITNESS_EXIT_MS ms (default 300). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void note(const char *what) {
    char b[512];
    const char *path = getenv("WITNESS_LOG"), *id = getenv("LE_IDENTITY"),
               *term = getenv("LE_TERM");
    int fd, n;
    if (!path) return;
    n = snprintf(b, sizeof b, "%s %lld %ld %ld %s %s\n", what, mono_ns(), (long)getpid(),
                 (long)getpgrp(), id ? id : "-", term ? term : "-");
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return;
    if (write(fd, b, (size_t)n) != n) {}
    close(fd);
}

static void hello(const char *role) {
    const char *path = getenv("WITNESS_SOCK");
    struct sockaddr_un a;
    char b[128];
    int fd, n;
    if (!path) return;
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) { close(fd); return; }
    n = snprintf(b, sizeof b, "%s %ld %ld\n", role, (long)getpid(), (long)getpgrp());
    if (write(fd, b, (size_t)n) != n) {}
    /* kept open until death, never inherited by the grandchild */
}

static int stubborn(void) {
    char p[600];
    struct stat st;
    const char *d = getenv("WITNESS_CTL");
    if (!d) return 0;
    snprintf(p, sizeof p, "%s/stubborn", d);
    return stat(p, &st) == 0;
}

static void on_term(int s) {
    (void)s;
    note("end");
    _exit(0);
}
static void on_usr1(int s) {
    (void)s;
    note("crash");
    _exit(3);
}

int main(void) {
    struct sigaction sa;
    const char *ex = getenv("WITNESS_EXIT");
    pid_t g;
    note("start");
    g = fork();
    if (g == 0) {
        signal(SIGTERM, SIG_IGN);
        note("gstart");
        hello("grandchild");
        for (;;) pause();
    }
    hello("child");
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = stubborn() ? SIG_IGN : on_term;
    sigaction(SIGTERM, &sa, 0);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    if (ex) {
        const char *ms = getenv("WITNESS_EXIT_MS");
        struct timespec ts;
        long v = ms ? atol(ms) : 300;
        ts.tv_sec = v / 1000;
        ts.tv_nsec = (v % 1000) * 1000000L;
        nanosleep(&ts, 0);
        note("exit");
        return atoi(ex);
    }
    for (;;) pause();
}
