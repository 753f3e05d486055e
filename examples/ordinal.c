/* ordinal.c - "pod -0 leads": the StatefulSet ordinal approach.

   No API access, no Lease: a StatefulSet's pods are named <set>-0, <set>-1,
   ..., and the pod with ordinal 0 does the work. The ordinal comes from the
   pod-index label (Kubernetes >= 1.28 sets apps.kubernetes.io/pod-index; pass
   it as POD_INDEX through the downward API, see
   examples/deploy/statefulset.yaml), else from POD_NAME.

   Know its limits before choosing it over a Lease (examples/periodic.c):
   - no failover: while pod -0 is stuck (an unreachable node, a hung
     process), nobody leads, for as long as Kubernetes takes to replace it
     (with an unreachable node: until someone deletes the pod by force);
   - with .spec.ordinals.start > 0 there is no pod -0 at all;
   - during a rolling update pod -0 restarts like the others, and nothing
     stops an old and a new pod -0 from overlapping briefly when the pod is
     force-deleted.

     ordinal              runs the periodic work if this is pod -0, else
                          idles; exits on SIGTERM
     ordinal --check      exit 0 if this pod leads, 1 if not, 2 on error
                          (for scripts: ordinal --check && run-migration)
*/
#define _POSIX_C_SOURCE 200809L
#define LE_IMPLEMENTATION
#include "le.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
    const char *pod = getenv("POD_NAME");
    const char *idx = getenv("POD_INDEX"); /* the pod-index label, if passed */
    const char *src = idx && *idx ? idx : pod;
    int check = argc > 1 && !strcmp(argv[1], "--check");
    long ordinal, units = 0;
    struct sigaction sa;
    struct timespec second;

    if (!pod || !*pod) pod = "?";
    if (!src || !*src) {
        fprintf(stderr, "ordinal: set POD_NAME (downward API: metadata.name) "
                        "or POD_INDEX (metadata.labels['apps.kubernetes.io/"
                        "pod-index'])\n");
        return 2;
    }
    if (le_ordinal(src, &ordinal) != 0) {
        fprintf(stderr, "ordinal: '%s' is not a StatefulSet pod name (<set>-<n>)"
                        " or pod index; is this pod part of a StatefulSet?\n",
                src);
        return 2;
    }
    if (check) {
        printf("[%s] ordinal %ld: %s\n", pod, ordinal,
               ordinal == 0 ? "leader" : "not the leader");
        return ordinal == 0 ? 0 : 1;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, 0);
    sigaction(SIGINT, &sa, 0);
    second.tv_sec = 1;
    second.tv_nsec = 0;
    if (ordinal != 0) {
        printf("[%s] ordinal %ld: not the leader; idle (pod -0 leads, with no "
               "failover while it is down)\n", pod, ordinal);
        fflush(stdout);
        while (!stop) nanosleep(&second, 0);
        return 0;
    }
    printf("[%s] ordinal 0: leading\n", pod);
    fflush(stdout);
    while (!stop) {
        printf("[%s] work %ld\n", pod, ++units);
        fflush(stdout);
        nanosleep(&second, 0);
    }
    printf("[%s] exiting after %ld units of work\n", pod, units);
    return 0;
}
