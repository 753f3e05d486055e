/* Fuzz target "lease": Lease objects (the fuzzed bytes are the JSON body)
   as 200/201 replies to every kind of request; see core.h and framed.h. */
#include "core.h"
#include "framed.h"

static int fz_status(int ctrl1, int ctrl2) {
    (void)ctrl2;
    switch (ctrl1 & 3) {
    case 0: return S.method == RQ_POST ? 201 : 200; /* what the API server sends */
    case 2: return 201;
    default: return 200;
    }
}

static void core_after_feed(int status, int method, int nerr_before, int ctrl1, int ctrl2) {
    (void)status; (void)method; (void)nerr_before; (void)ctrl1; (void)ctrl2;
}
