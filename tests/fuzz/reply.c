/* Fuzz target "reply": raw bytes as the reply to every kind of request
   (status line, headers, framing, body: all the fuzzer's); see core.h.
   The shadow reads each record with its own llhttp parser: the first
   final (non-1xx) response in it, its status and, if complete, its body,
   decide what the server accepted. ctrl1 and ctrl2 are unused. */
#include "core.h"

#include "raw.h"

static void core_after_feed(int status, int method, int nerr_before, int ctrl1, int ctrl2) {
    (void)status; (void)method; (void)nerr_before; (void)ctrl1; (void)ctrl2;
}
