/* Fuzz target "status": API Status objects (the fuzzed bytes are the JSON
   body) in error replies to every kind of request; see core.h, framed.h.
   Besides core.h's invariants: every error reply that is not handled by a
   re-read (409, a 404 to anything but a create) gives one error event with
   that HTTP status, whose message starts with "HTTP <status>". */
#define FZ_RECORD_BIT 0 /* ctrl2 bit 4 picks the status here */
#include "core.h"
#include "framed.h"

static const int CODES[16] = {401, 403, 404, 409, 422, 429, 500, 503,
                              502, 504, 400, 410, 418, 301, 304, 204};

static int fz_status(int ctrl1, int ctrl2) {
    (void)ctrl1;
    return CODES[(ctrl2 >> 4) & 15];
}

static void core_after_feed(int status, int method, int nerr_before, int ctrl1, int ctrl2) {
    char want[16];
    (void)ctrl1;
    if (E.state == LE__WAITING) return;          /* not taken as a reply */
    if ((ctrl2 & 3) >= 2) return;                /* too large: LE_ETOOBIG */
    if (status == 409 || (status == 404 && method != RQ_POST)) return; /* re-read */
    if (status == 204 || status == 304) return;  /* no body: the rest is garbage */
    if (S.nerr == nerr_before) bad("an error reply gave no error event", 0);
    if (S.last_err_status != status) bad("the error event does not carry the reply's status", S.last_msg);
    snprintf(want, sizeof want, "HTTP %d ", status);
    if (strncmp(S.last_msg, want, strlen(want))) bad("the error message does not name the status", S.last_msg);
}
