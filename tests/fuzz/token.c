/* Fuzz target "token": the bearer token file (the input is the file).
   LE_HTTPS_TOKEN_MAX is 64 here so the size limit is within reach.
   Invariants: a token file holds one word of bytes that can go in an
   Authorization header (0x21..0x7e), with blanks (space, tab, CR, LF)
   around it; the token read is exactly that word, whole or not at all:
   anything else is an error (no word, two words, another byte such as a
   NUL: LE_EINVAL; a word longer than LE_HTTPS_TOKEN_MAX: LE_ETOOBIG),
   never a shortened token; reading the same file again changes nothing;
   every message is NUL-terminated and names the file. */
#define LE_HTTPS_TOKEN_MAX 64
#include "tls.h"

static le_https T;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char msg[LE_ERRMSG_MAX];
    size_t s = 0, e = n;
    int changed = -1, r, r2;
    tmp_init();
    put_file("token", data, n);
    memset(&T, 0, sizeof T);
    snprintf(T.token_path, sizeof T.token_path, "%s/token", TMP);
    T.reload = 1;
    { /* the model: words, their bytes */
        size_t i, words = 0, ws = 0, we = 0;
        int badbyte = 0, in = 0;
        for (i = 0; i < n; i++) {
            unsigned char c = data[i];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') { in = 0; continue; }
            if (c < 0x21 || c > 0x7e) badbyte = 1;
            if (!in) { words++; ws = i; }
            in = 1;
            we = i + 1;
        }
        s = ws; e = we;
        r = le__https_read_token(&T, msg, sizeof msg, &changed, 0);
        if (strnlen(msg, sizeof msg) == sizeof msg) bad("message not NUL-terminated", 0);
        if (badbyte || words != 1) {
            if (r != LE_EINVAL) bad("no word, two words or a byte that is not header-safe: not LE_EINVAL", msg);
            if (!strstr(msg, T.token_path)) bad("the message does not name the file", msg);
            return 0;
        }
        if (e - s > LE_HTTPS_TOKEN_MAX) {
            if (r != LE_ETOOBIG) bad("a token longer than LE_HTTPS_TOKEN_MAX: not LE_ETOOBIG (truncated?)", msg);
            if (!strstr(msg, T.token_path)) bad("the message does not name the file", msg);
            return 0;
        }
    }
    if (r) bad("a good token file was refused", msg);
    if (strlen(T.token) != e - s || memcmp(T.token, data + s, e - s))
        bad("the token read is not the file's word (truncated or cut at a NUL)", T.token);
    if (changed != 1) bad("a new token not reported as changed", 0);
    r2 = le__https_read_token(&T, msg, sizeof msg, &changed, 1);
    if (r2 || changed) bad("reading the same token file again changed the token", 0);
    return 0;
}
