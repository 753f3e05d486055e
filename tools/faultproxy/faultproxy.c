/* faultproxy - a TCP proxy that injects network faults between electors
   and the API server, for the chaos tests (tests/chaos/run.py).

     faultproxy --upstream 127.0.0.1:16443 --clients 5 --control SOCK
                --log FILE [--seed N] [--schedule FILE]

   It listens on one loopback port per client (a replica), so faults can
   hit some replicas while others reach the server, and prints
   "faultproxy: ports P0 P1 ..." on stdout when ready. It relays bytes
   (TLS stays end to end: the server's certificate has the IP SAN
   127.0.0.1, so every replica still verifies it). Faults, per client:

     delay C MS [JITTER]  each chunk waits MS (+ up to JITTER) ms, both ways
     reset C SEL          abort connections with an RST (SO_LINGER 0)
     drop C SEL           stop relaying them: bytes read and discarded, the
                          connection stays open (a dead path nobody reports)
     blackhole C on|off   new connections are accepted and relay nothing
                          (held open); existing ones are dropped
     partition C[,C...]   exactly these clients are cut off: nothing crosses
                          either way, new connections wait; heal resumes
                          them and delivers what was queued, as TCP would
     heal                 no client partitioned
     clear                heal, delay 0, blackhole off for every client

   C is a client number, a list "0,2" or "*"; SEL is all, oldest, newest,
   stream (the connection with the longest run of server bytes since the
   client last sent any: a watch), random, or a connection id. Other
   commands: conns (list), stats (faults by kind), mark TEXT (into the log),
   quit. Commands come from the control socket (one per line, one reply
   line "ok ..." or "err ...") or from --schedule (lines "MS command", MS
   after start). The log has one JSON line per fault injected ("fault"),
   per fault lifted ("end") and per connection opened or closed ("ev"),
   each stamped "t" with CLOCK_MONOTONIC in ns. --seed drives the jitter
   and "random".

   One thread, one poll() loop, non-blocking sockets, fixed buffers: a
   connection whose buffer is full is not read until it drains. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 16
#define MAX_CONNS 128
#define MAX_CTL 4
#define BUF_CAP 65536 /* per direction and connection */
#define SEG_MAX 256   /* delayed chunks per direction */
#define CTL_IN 1024
#define CTL_OUT 32768
#define MAX_ARGS 8

enum { K_DELAY, K_RESET, K_DROP, K_BLACKHOLE, K_PARTITION, K_NKINDS };
static const char *const kind_name[K_NKINDS] = {"delay", "reset", "drop", "blackhole", "partition"};

typedef struct seg {
    uint32_t len;
    int64_t due; /* ns: not passed on before */
} seg;

/* Bytes read from one side, waiting to be written to the other. */
typedef struct half {
    unsigned char buf[BUF_CAP];
    size_t off, len;
    seg segs[SEG_MAX];
    unsigned head, n;
    int eof;         /* the source sent FIN */
    int64_t eof_due; /* when the FIN may be passed on */
    int shut;        /* FIN passed on */
} half;

enum {
    S_FREE,
    S_CONNECTING, /* upstream connect in progress */
    S_RELAY,
    S_PENDING, /* accepted while partitioned: upstream connect waits for heal */
    S_HELD,    /* accepted while blackholed: never relayed */
    S_DROPPED  /* relayed once, now discarded */
};
static const char *const state_name[] = {"free", "connecting", "relay", "pending", "held", "dropped"};

typedef struct conn {
    int state, id, client;
    int cfd, ufd; /* client side, upstream side (-1: none) */
    int64_t opened;
    uint64_t c2s, s2c, discarded;
    unsigned run; /* server reads since the client last sent */
    half up, down; /* up: client -> server */
} conn;

typedef struct client {
    int lfd, port;
    int delay_ms, jitter_ms;
    int blackhole, paused;
} client;

typedef struct ctl {
    int fd;
    char in[CTL_IN];
    size_t inlen;
    char out[CTL_OUT];
    size_t outlen;
} ctl;

typedef struct sched {
    int64_t at; /* ns after start */
    char *cmd;
} sched;

typedef struct proxy {
    struct sockaddr_in upstream;
    client cl[MAX_CLIENTS];
    int ncl;
    conn *conns[MAX_CONNS];
    int next_id;
    int ctl_lfd;
    ctl ctls[MAX_CTL];
    FILE *log;
    uint64_t rng;
    uint64_t faults[K_NKINDS];
    sched *sch;
    size_t nsch, isch;
    int64_t t0;
    int quit;
} proxy;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rnd(proxy *p) { /* xorshift64* */
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return p->rng * 2685821657736338717ULL;
}

static void plog(proxy *p, const char *fmt, ...) {
    va_list ap;
    if (!p->log) return;
    fprintf(p->log, "{\"t\":%lld,", (long long)now_ns());
    va_start(ap, fmt);
    vfprintf(p->log, fmt, ap);
    va_end(ap);
    fputs("}\n", p->log);
    fflush(p->log);
}

static void die(const char *fmt, ...) {
    va_list ap;
    fputs("faultproxy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static int nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* close with an RST instead of a FIN */
static void close_rst(int fd) {
    struct linger l;
    if (fd < 0) return;
    l.l_onoff = 1;
    l.l_linger = 0;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* ---- buffers ---------------------------------------------------------- */

static size_t half_space(half *h) {
    if (h->eof || h->n == SEG_MAX) return 0;
    if (h->off && h->off + h->len == BUF_CAP) {
        memmove(h->buf, h->buf + h->off, h->len);
        h->off = 0;
    }
    if (h->len == 0) h->off = 0;
    return BUF_CAP - h->off - h->len;
}

static void half_push(half *h, size_t n, int64_t due) {
    seg *last = h->n ? &h->segs[(h->head + h->n - 1) % SEG_MAX] : NULL;
    h->len += n;
    if (last && due <= last->due) { /* FIFO: never overtakes an earlier chunk */
        last->len += (uint32_t)n;
        return;
    }
    h->segs[(h->head + h->n) % SEG_MAX].len = (uint32_t)n;
    h->segs[(h->head + h->n) % SEG_MAX].due = due;
    h->n++;
}

static size_t half_ready(const half *h, int64_t now) {
    size_t r = 0;
    unsigned i;
    for (i = 0; i < h->n; i++) {
        const seg *s = &h->segs[(h->head + i) % SEG_MAX];
        if (s->due > now) break;
        r += s->len;
    }
    return r;
}

static void half_consume(half *h, size_t n) {
    h->off += n;
    h->len -= n;
    while (n) {
        seg *s = &h->segs[h->head];
        size_t k = n < s->len ? n : s->len;
        s->len -= (uint32_t)k;
        n -= k;
        if (!s->len) {
            h->head = (h->head + 1) % SEG_MAX;
            h->n--;
        }
    }
}

static int64_t half_last_due(const half *h, int64_t dflt) {
    return h->n ? h->segs[(h->head + h->n - 1) % SEG_MAX].due : dflt;
}

/* the next moment something in h becomes due, or INT64_MAX */
static int64_t half_next(const half *h, int64_t now) {
    if (h->n) {
        int64_t d = h->segs[h->head].due;
        return d > now ? d : INT64_MAX; /* due now: POLLOUT covers it */
    }
    if (h->eof && !h->shut && h->eof_due > now) return h->eof_due;
    return INT64_MAX;
}

/* ---- connections ------------------------------------------------------ */

static void conn_free(proxy *p, int i, const char *how, int rst) {
    conn *c = p->conns[i];
    plog(p, "\"ev\":\"close\",\"client\":%d,\"conn\":%d,\"how\":\"%s\",\"state\":\"%s\","
            "\"c2s\":%llu,\"s2c\":%llu,\"discarded\":%llu",
         c->client, c->id, how, state_name[c->state], (unsigned long long)c->c2s,
         (unsigned long long)c->s2c, (unsigned long long)c->discarded);
    if (rst) {
        close_rst(c->cfd);
        close_rst(c->ufd);
    } else {
        if (c->cfd >= 0) close(c->cfd);
        if (c->ufd >= 0) close(c->ufd);
    }
    free(c);
    p->conns[i] = NULL;
}

/* Starts the upstream connection; on a refusal the client gets an RST, as
   it would from a server that is down. 0, or -1 when the conn is gone. */
static int conn_connect(proxy *p, int i) {
    conn *c = p->conns[i];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || nonblock(fd) < 0) {
        if (fd >= 0) close(fd);
        conn_free(p, i, "no-socket", 1);
        return -1;
    }
    nodelay(fd);
    c->ufd = fd;
    if (connect(fd, (const struct sockaddr *)&p->upstream, sizeof p->upstream) == 0) {
        c->state = S_RELAY;
    } else if (errno == EINPROGRESS) {
        c->state = S_CONNECTING;
    } else {
        conn_free(p, i, "refused", 1);
        return -1;
    }
    return 0;
}

static void conn_drop(conn *c) {
    c->state = S_DROPPED;
    c->up.len = c->down.len = 0;
    c->up.off = c->down.off = 0;
    c->up.n = c->down.n = 0;
}

static void accept_on(proxy *p, int ci) {
    for (;;) {
        int fd = accept(p->cl[ci].lfd, NULL, NULL), i;
        conn *c;
        if (fd < 0) return;
        for (i = 0; i < MAX_CONNS && p->conns[i]; i++) {}
        if (i == MAX_CONNS || nonblock(fd) < 0 || !(c = calloc(1, sizeof *c))) {
            plog(p, "\"ev\":\"refused\",\"client\":%d,\"why\":\"connection table full\"", ci);
            close_rst(fd);
            continue;
        }
        nodelay(fd);
        c->id = ++p->next_id;
        c->client = ci;
        c->cfd = fd;
        c->ufd = -1;
        c->opened = now_ns();
        p->conns[i] = c;
        c->state = p->cl[ci].blackhole ? S_HELD : S_PENDING;
        plog(p, "\"ev\":\"open\",\"client\":%d,\"conn\":%d,\"state\":\"%s\"", ci, c->id,
             p->cl[ci].blackhole ? "held" : p->cl[ci].paused ? "pending" : "relay");
        if (c->state == S_PENDING && !p->cl[ci].paused) conn_connect(p, i);
    }
}

static int64_t delay_due(proxy *p, const client *cl, int64_t now) {
    int64_t d = (int64_t)cl->delay_ms * 1000000;
    if (cl->jitter_ms > 0) d += (int64_t)(rnd(p) % ((uint64_t)cl->jitter_ms * 1000000 + 1));
    return now + d;
}

/* Reads once from src into h. 1: data or EOF, 0: nothing, -1: error. */
static int pull(proxy *p, conn *c, int src, half *h, int up, int64_t now) {
    size_t sp = half_space(h);
    ssize_t n;
    if (!sp) return 0;
    n = recv(src, h->buf + h->off + h->len, sp, 0);
    if (n > 0) {
        half_push(h, (size_t)n, delay_due(p, &p->cl[c->client], now));
        if (up) {
            c->c2s += (uint64_t)n;
            c->run = 0;
        } else {
            c->s2c += (uint64_t)n;
            c->run++;
        }
        return 1;
    }
    if (n == 0) {
        h->eof = 1;
        h->eof_due = half_last_due(h, delay_due(p, &p->cl[c->client], now));
        return 1;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

/* Writes what is due from h to dst; passes a FIN on when all is written. */
static int push(int dst, half *h, int64_t now) {
    size_t r = half_ready(h, now);
    if (r) {
        ssize_t n = send(dst, h->buf + h->off, r, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        half_consume(h, (size_t)n);
    }
    if (h->eof && !h->len && !h->shut && now >= h->eof_due) {
        shutdown(dst, SHUT_WR);
        h->shut = 1;
    }
    return 0;
}

/* Discards what arrives on fd. 1: still open, 0: closed or failed. */
static int discard(conn *c, int fd) {
    unsigned char tmp[16384];
    for (;;) {
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n > 0) {
            c->discarded += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 1;
        return 0;
    }
}

/* ---- faults ------------------------------------------------------------ */

static int live(const conn *c) {
    return c->state == S_CONNECTING || c->state == S_RELAY || c->state == S_PENDING;
}

/* Indexes of the client's connections that SEL picks; their count. */
static int pick(proxy *p, int ci, const char *sel, int *out) {
    int i, n = 0, best = -1;
    char *end;
    long id = strtol(sel, &end, 10);
    int byid = *sel && !*end;
    for (i = 0; i < MAX_CONNS; i++) {
        conn *c = p->conns[i];
        if (!c || c->client != ci) continue;
        if (byid) {
            if (c->id == id) out[n++] = i;
        } else if (!strcmp(sel, "all")) {
            out[n++] = i;
        } else if (!live(c)) {
            continue;
        } else if (!strcmp(sel, "oldest")) {
            if (best < 0 || c->id < p->conns[best]->id) best = i;
        } else if (!strcmp(sel, "newest")) {
            if (best < 0 || c->id > p->conns[best]->id) best = i;
        } else if (!strcmp(sel, "stream")) {
            if (c->run >= 3 && (best < 0 || c->run > p->conns[best]->run)) best = i;
        } else if (!strcmp(sel, "random")) {
            out[n++] = i;
        }
    }
    if (!strcmp(sel, "random") && n > 1) {
        out[0] = out[rnd(p) % (uint64_t)n];
        n = 1;
    }
    if (best >= 0) out[n++] = best;
    return n;
}

static int known_sel(const char *s) {
    char *end;
    if (strtol(s, &end, 10) >= 0 && *s && !*end) return 1;
    return !strcmp(s, "all") || !strcmp(s, "oldest") || !strcmp(s, "newest") ||
           !strcmp(s, "stream") || !strcmp(s, "random");
}

/* "*", "3" or "0,2,4" -> bit mask; -1 if malformed */
static long clients_of(const proxy *p, const char *s) {
    long m = 0;
    if (!strcmp(s, "*")) return (1L << p->ncl) - 1;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v >= p->ncl) return -1;
        m |= 1L << v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return m ? m : -1;
}

static void reply(ctl *k, const char *fmt, ...) {
    va_list ap;
    int n;
    if (!k || k->outlen >= CTL_OUT - 1) return;
    va_start(ap, fmt);
    n = vsnprintf(k->out + k->outlen, CTL_OUT - k->outlen, fmt, ap);
    va_end(ap);
    if (n > 0) k->outlen += (size_t)n < CTL_OUT - k->outlen ? (size_t)n : CTL_OUT - k->outlen - 1;
}

/* the ids of picked connections as a JSON array */
static void ids_json(proxy *p, const int *idx, int n, char *o, size_t cap) {
    size_t u = 0;
    int j;
    o[u++] = '[';
    for (j = 0; j < n && u + 16 < cap; j++)
        u += (size_t)snprintf(o + u, cap - u, "%s%d", j ? "," : "", p->conns[idx[j]]->id);
    o[u++] = ']';
    o[u] = 0;
}

static void cmd_conn_fault(proxy *p, ctl *k, int kind, long mask, const char *sel) {
    int ci, total = 0;
    for (ci = 0; ci < p->ncl; ci++) {
        int idx[MAX_CONNS], n, j;
        char ids[MAX_CONNS * 8];
        unsigned run = 0;
        if (!(mask & (1L << ci))) continue;
        n = pick(p, ci, sel, idx);
        ids_json(p, idx, n, ids, sizeof ids);
        if (n == 1) run = p->conns[idx[0]]->run;
        for (j = 0; j < n; j++) {
            if (kind == K_RESET) conn_free(p, idx[j], "reset", 1);
            else conn_drop(p->conns[idx[j]]);
        }
        if (n) p->faults[kind]++;
        plog(p, "\"fault\":\"%s\",\"client\":%d,\"sel\":\"%s\",\"conns\":%s,\"run\":%u",
             kind_name[kind], ci, sel, ids, run);
        total += n;
    }
    reply(k, "ok %d\n", total);
}

static void set_partition(proxy *p, long mask) {
    int ci, i;
    for (ci = 0; ci < p->ncl; ci++) p->cl[ci].paused = (mask >> ci) & 1;
    /* connections accepted while cut off connect now */
    for (i = 0; i < MAX_CONNS; i++)
        if (p->conns[i] && p->conns[i]->state == S_PENDING && !p->cl[p->conns[i]->client].paused)
            conn_connect(p, i);
}

static void mask_json(const proxy *p, long mask, char *o, size_t cap) {
    size_t u = 0;
    int ci;
    o[u++] = '[';
    for (ci = 0; ci < p->ncl && u + 8 < cap; ci++)
        if (mask & (1L << ci)) u += (size_t)snprintf(o + u, cap - u, "%s%d", u > 1 ? "," : "", ci);
    o[u++] = ']';
    o[u] = 0;
}

static void command(proxy *p, ctl *k, char *line) {
    char *av[MAX_ARGS], *s = line, js[128];
    int ac = 0, ci, i;
    long mask = 0;
    while (ac < MAX_ARGS) {
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (!*s) break;
        av[ac++] = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\r') s++;
        if (*s) *s++ = 0;
    }
    if (!ac) return;
    if (ac >= 2 && strcmp(av[0], "mark") && strcmp(av[0], "partition") &&
        (mask = clients_of(p, av[1])) < 0) {
        reply(k, "err bad client list '%s' (0..%d, a,b or *)\n", av[1], p->ncl - 1);
        return;
    }
    if (!strcmp(av[0], "delay") && (ac == 3 || ac == 4)) {
        int ms = atoi(av[2]), jit = ac == 4 ? atoi(av[3]) : 0;
        if (ms < 0 || jit < 0 || ms > 600000 || jit > 600000) {
            reply(k, "err delay and jitter are 0..600000 ms\n");
            return;
        }
        for (ci = 0; ci < p->ncl; ci++) {
            if (!(mask & (1L << ci))) continue;
            p->cl[ci].delay_ms = ms;
            p->cl[ci].jitter_ms = jit;
            if (ms || jit) {
                p->faults[K_DELAY]++;
                plog(p, "\"fault\":\"delay\",\"client\":%d,\"ms\":%d,\"jitter\":%d", ci, ms, jit);
            } else {
                plog(p, "\"end\":\"delay\",\"client\":%d", ci);
            }
        }
        reply(k, "ok\n");
    } else if ((!strcmp(av[0], "reset") || !strcmp(av[0], "drop")) && ac == 3) {
        if (!known_sel(av[2])) {
            reply(k, "err selector is all, oldest, newest, stream, random or a connection id\n");
            return;
        }
        cmd_conn_fault(p, k, av[0][0] == 'r' ? K_RESET : K_DROP, mask, av[2]);
    } else if (!strcmp(av[0], "blackhole") && ac == 3 &&
               (!strcmp(av[2], "on") || !strcmp(av[2], "off"))) {
        int on = !strcmp(av[2], "on");
        for (ci = 0; ci < p->ncl; ci++) {
            int n = 0;
            if (!(mask & (1L << ci))) continue;
            p->cl[ci].blackhole = on;
            if (!on) {
                plog(p, "\"end\":\"blackhole\",\"client\":%d", ci);
                continue;
            }
            for (i = 0; i < MAX_CONNS; i++)
                if (p->conns[i] && p->conns[i]->client == ci && live(p->conns[i])) {
                    conn_drop(p->conns[i]);
                    n++;
                }
            p->faults[K_BLACKHOLE]++;
            plog(p, "\"fault\":\"blackhole\",\"client\":%d,\"dropped\":%d", ci, n);
        }
        reply(k, "ok\n");
    } else if (!strcmp(av[0], "partition") && ac == 2) {
        if ((mask = clients_of(p, av[1])) < 0) {
            reply(k, "err bad client list '%s'\n", av[1]);
            return;
        }
        set_partition(p, mask);
        p->faults[K_PARTITION]++;
        mask_json(p, mask, js, sizeof js);
        plog(p, "\"fault\":\"partition\",\"clients\":%s", js);
        reply(k, "ok\n");
    } else if ((!strcmp(av[0], "heal") || !strcmp(av[0], "clear")) && ac == 1) {
        set_partition(p, 0);
        plog(p, "\"end\":\"partition\"");
        if (av[0][0] == 'c') {
            for (ci = 0; ci < p->ncl; ci++) {
                p->cl[ci].delay_ms = p->cl[ci].jitter_ms = 0;
                p->cl[ci].blackhole = 0;
            }
            plog(p, "\"end\":\"all\"");
        }
        reply(k, "ok\n");
    } else if (!strcmp(av[0], "conns") && ac == 1) {
        int64_t now = now_ns();
        int n = 0;
        for (i = 0; i < MAX_CONNS; i++) {
            conn *c = p->conns[i];
            if (!c) continue;
            n++;
            reply(k, "conn %d client %d state %s age_ms %lld c2s %llu s2c %llu run %u discarded %llu\n",
                  c->id, c->client, state_name[c->state], (long long)((now - c->opened) / 1000000),
                  (unsigned long long)c->c2s, (unsigned long long)c->s2c, c->run,
                  (unsigned long long)c->discarded);
        }
        reply(k, "ok %d\n", n);
    } else if (!strcmp(av[0], "stats") && ac == 1) {
        reply(k, "ok");
        for (i = 0; i < K_NKINDS; i++)
            reply(k, " %s %llu", kind_name[i], (unsigned long long)p->faults[i]);
        reply(k, "\n");
    } else if (!strcmp(av[0], "mark")) {
        char text[256];
        size_t u = 0;
        for (i = 1; i < ac; i++) {
            const char *w = av[i];
            if (i > 1 && u + 1 < sizeof text) text[u++] = ' ';
            for (; *w && u + 1 < sizeof text; w++)
                if (*w != '"' && *w != '\\' && (unsigned char)*w >= 0x20) text[u++] = *w;
        }
        text[u] = 0;
        plog(p, "\"mark\":\"%s\"", text);
        reply(k, "ok\n");
    } else if (!strcmp(av[0], "quit") && ac == 1) {
        p->quit = 1;
        reply(k, "ok\n");
    } else {
        reply(k, "err unknown command '%s': delay C MS [JITTER], reset C SEL, drop C SEL, "
                 "blackhole C on|off, partition C[,C], heal, clear, conns, stats, mark TEXT, quit\n",
              av[0]);
    }
}

/* ---- control socket and schedule --------------------------------------- */

static void ctl_read(proxy *p, ctl *k) {
    ssize_t n = recv(k->fd, k->in + k->inlen, sizeof k->in - 1 - k->inlen, 0);
    char *nl;
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        close(k->fd);
        k->fd = -1;
        return;
    }
    k->inlen += (size_t)n;
    k->in[k->inlen] = 0;
    while ((nl = strchr(k->in, '\n'))) {
        size_t used = (size_t)(nl - k->in) + 1;
        *nl = 0;
        command(p, k, k->in);
        memmove(k->in, k->in + used, k->inlen - used + 1);
        k->inlen -= used;
    }
    if (k->inlen == sizeof k->in - 1) { /* a line too long: drop it */
        reply(k, "err line longer than %d bytes\n", CTL_IN - 2);
        k->inlen = 0;
    }
}

static void ctl_write(ctl *k) {
    ssize_t n = send(k->fd, k->out, k->outlen, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        close(k->fd);
        k->fd = -1;
        return;
    }
    memmove(k->out, k->out + n, k->outlen - (size_t)n);
    k->outlen -= (size_t)n;
}

static void load_schedule(proxy *p, const char *path) {
    FILE *f = fopen(path, "r");
    char line[CTL_IN];
    size_t cap = 0;
    double last = 0;
    if (!f) die("cannot open schedule %s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *s = line, *end;
        double ms;
        line[strcspn(line, "\n")] = 0;
        while (*s == ' ') s++;
        if (!*s || *s == '#') continue;
        ms = strtod(s, &end);
        if (end == s || ms < last) die("schedule %s: '%s': want 'MS command', MS not decreasing", path, line);
        last = ms;
        if (p->nsch == cap) {
            cap = cap ? 2 * cap : 64;
            p->sch = realloc(p->sch, cap * sizeof *p->sch);
            if (!p->sch) die("out of memory");
        }
        p->sch[p->nsch].at = (int64_t)(ms * 1e6);
        p->sch[p->nsch].cmd = strdup(end);
        if (!p->sch[p->nsch].cmd) die("out of memory");
        p->nsch++;
    }
    fclose(f);
}

static int listen_on(int port, int *got) {
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0) die("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 64) || nonblock(fd))
        die("listen on 127.0.0.1:%d: %s", port, strerror(errno));
    getsockname(fd, (struct sockaddr *)&a, &al);
    *got = ntohs(a.sin_port);
    return fd;
}

/* ---- the loop ------------------------------------------------------------ */

enum { W_LISTEN, W_CTL_LISTEN, W_CTL, W_CFD, W_UFD };
typedef struct who {
    int what, i;
} who;

static void add(struct pollfd *pf, who *w, int *n, int fd, short ev, int what, int i) {
    pf[*n].fd = fd;
    pf[*n].events = ev;
    pf[*n].revents = 0;
    w[*n].what = what;
    w[*n].i = i;
    (*n)++;
}

/* the poll events wanted on conn i's two sockets, and the next timer */
static void wants(proxy *p, int i, short *cev, short *uev, int64_t now, int64_t *next) {
    conn *c = p->conns[i];
    int64_t t;
    *cev = *uev = 0;
    if (p->cl[c->client].paused) return; /* nothing crosses a partition */
    switch (c->state) {
    case S_HELD:
    case S_DROPPED:
        *cev = POLLIN;
        if (c->ufd >= 0) *uev = POLLIN;
        return;
    case S_CONNECTING:
        *uev = POLLOUT;
        if (half_space(&c->up)) *cev = POLLIN;
        return;
    case S_RELAY:
        if (half_space(&c->up)) *cev |= POLLIN;
        if (half_space(&c->down)) *uev |= POLLIN;
        if (half_ready(&c->up, now)) *uev |= POLLOUT;
        if (half_ready(&c->down, now)) *cev |= POLLOUT;
        t = half_next(&c->up, now);
        if (t < *next) *next = t;
        t = half_next(&c->down, now);
        if (t < *next) *next = t;
        return;
    default:
        return;
    }
}

static void on_conn(proxy *p, int i, int upside, short re, int64_t now) {
    conn *c = p->conns[i];
    if (!c || p->cl[c->client].paused) return;
    if (c->state == S_HELD || c->state == S_DROPPED) {
        if (!upside && !discard(c, c->cfd)) {
            conn_free(p, i, "client-closed", 0);
        } else if (upside && c->ufd >= 0 && !discard(c, c->ufd)) {
            close(c->ufd); /* the client is not told: nothing is relayed */
            c->ufd = -1;
        }
        return;
    }
    if (c->state == S_CONNECTING) {
        if (upside) {
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) {
                conn_free(p, i, "refused", 1);
                return;
            }
            c->state = S_RELAY;
        } else if (pull(p, c, c->cfd, &c->up, 1, now) < 0) {
            conn_free(p, i, "client-error", 1);
        }
        return;
    }
    if (c->state != S_RELAY) return;
    if (!upside) {
        if ((re & (POLLIN | POLLHUP | POLLERR)) && pull(p, c, c->cfd, &c->up, 1, now) < 0) {
            conn_free(p, i, "client-error", 1);
            return;
        }
        if ((re & POLLOUT) && push(c->cfd, &c->down, now) < 0) {
            conn_free(p, i, "client-error", 1);
            return;
        }
    } else {
        if ((re & (POLLIN | POLLHUP | POLLERR)) && pull(p, c, c->ufd, &c->down, 0, now) < 0) {
            conn_free(p, i, "server-error", 1);
            return;
        }
        if ((re & POLLOUT) && push(c->ufd, &c->up, now) < 0) {
            conn_free(p, i, "server-error", 1);
            return;
        }
    }
}

/* FINs and delayed bytes that became due without a poll event */
static void timers(proxy *p, int64_t now) {
    int i;
    for (i = 0; i < MAX_CONNS; i++) {
        conn *c = p->conns[i];
        if (!c || c->state != S_RELAY || p->cl[c->client].paused) continue;
        if (push(c->ufd, &c->up, now) < 0 || push(c->cfd, &c->down, now) < 0) {
            conn_free(p, i, "error", 1);
            continue;
        }
        if (c->up.shut && c->down.shut) conn_free(p, i, "eof", 0);
    }
    while (p->isch < p->nsch && now - p->t0 >= p->sch[p->isch].at) {
        plog(p, "\"schedule\":%lld", (long long)(p->sch[p->isch].at / 1000000));
        command(p, NULL, p->sch[p->isch].cmd);
        p->isch++;
    }
}

static void run(proxy *p) {
    enum { NPF = MAX_CLIENTS + 1 + MAX_CTL + 2 * MAX_CONNS };
    struct pollfd pf[NPF];
    who w[NPF];
    while (!p->quit) {
        int n = 0, i, tmo;
        int64_t now = now_ns(), next = INT64_MAX;
        for (i = 0; i < p->ncl; i++) add(pf, w, &n, p->cl[i].lfd, POLLIN, W_LISTEN, i);
        add(pf, w, &n, p->ctl_lfd, POLLIN, W_CTL_LISTEN, 0);
        for (i = 0; i < MAX_CTL; i++)
            if (p->ctls[i].fd >= 0)
                add(pf, w, &n, p->ctls[i].fd, (short)(POLLIN | (p->ctls[i].outlen ? POLLOUT : 0)),
                    W_CTL, i);
        for (i = 0; i < MAX_CONNS; i++) {
            short cev, uev;
            if (!p->conns[i]) continue;
            wants(p, i, &cev, &uev, now, &next);
            if (cev) add(pf, w, &n, p->conns[i]->cfd, cev, W_CFD, i);
            if (uev) add(pf, w, &n, p->conns[i]->ufd, uev, W_UFD, i);
        }
        if (p->isch < p->nsch && p->t0 + p->sch[p->isch].at < next) next = p->t0 + p->sch[p->isch].at;
        tmo = next == INT64_MAX ? -1 : next <= now ? 0 : (int)((next - now + 999999) / 1000000);
        if (poll(pf, (nfds_t)n, tmo) < 0 && errno != EINTR) die("poll: %s", strerror(errno));
        now = now_ns();
        for (i = 0; i < n; i++) {
            short re = pf[i].revents;
            if (!re) continue;
            switch (w[i].what) {
            case W_LISTEN:
                accept_on(p, w[i].i);
                break;
            case W_CTL_LISTEN: {
                int fd = accept(p->ctl_lfd, NULL, NULL), j;
                if (fd < 0) break;
                for (j = 0; j < MAX_CTL && p->ctls[j].fd >= 0; j++) {}
                if (j == MAX_CTL || nonblock(fd) < 0) {
                    close(fd);
                    break;
                }
                p->ctls[j].fd = fd;
                p->ctls[j].inlen = p->ctls[j].outlen = 0;
                break;
            }
            case W_CTL:
                if (re & POLLOUT) ctl_write(&p->ctls[w[i].i]);
                if (p->ctls[w[i].i].fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
                    ctl_read(p, &p->ctls[w[i].i]);
                break;
            case W_CFD:
            case W_UFD:
                /* a conn freed earlier in this round may have been replaced */
                if (p->conns[w[i].i] &&
                    pf[i].fd == (w[i].what == W_CFD ? p->conns[w[i].i]->cfd : p->conns[w[i].i]->ufd))
                    on_conn(p, w[i].i, w[i].what == W_UFD, re, now);
                break;
            }
        }
        timers(p, now_ns());
    }
}

static void usage(void) {
    fprintf(stderr, "usage: faultproxy --upstream IP:PORT --clients N --control SOCKET --log FILE\n"
                    "                  [--seed N] [--schedule FILE] [--port-base P]\n"
                    "(the header of tools/faultproxy/faultproxy.c lists the commands)\n");
    exit(2);
}

int main(int argc, char **argv) {
    static proxy px; /* fixed state (control buffers: 130 KB); connections are allocated */
    proxy *p = &px;
    const char *up = NULL, *ctlpath = NULL, *logpath = NULL, *schedpath = NULL;
    int i, base = 0;
    struct sockaddr_un su;
    unsigned long long seed = 1;
    for (i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(k, "--upstream")) up = v;
        else if (!strcmp(k, "--clients")) p->ncl = atoi(v);
        else if (!strcmp(k, "--control")) ctlpath = v;
        else if (!strcmp(k, "--log")) logpath = v;
        else if (!strcmp(k, "--seed")) seed = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--schedule")) schedpath = v;
        else if (!strcmp(k, "--port-base")) base = atoi(v);
        else usage();
    }
    if (!up || !ctlpath || !logpath || p->ncl < 1 || p->ncl > MAX_CLIENTS) usage();
    {
        char host[64];
        const char *colon = strrchr(up, ':');
        size_t hl = colon ? (size_t)(colon - up) : 0;
        if (!colon || hl >= sizeof host) die("--upstream wants IP:PORT, got '%s'", up);
        memcpy(host, up, hl);
        host[hl] = 0;
        p->upstream.sin_family = AF_INET;
        p->upstream.sin_port = htons((uint16_t)atoi(colon + 1));
        if (inet_pton(AF_INET, host, &p->upstream.sin_addr) != 1)
            die("--upstream wants an IPv4 address, got '%s'", host);
    }
    signal(SIGPIPE, SIG_IGN);
    p->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    if (!(p->log = fopen(logpath, "a"))) die("cannot open log %s: %s", logpath, strerror(errno));
    if (schedpath) load_schedule(p, schedpath);
    for (i = 0; i < MAX_CTL; i++) p->ctls[i].fd = -1;
    for (i = 0; i < p->ncl; i++) p->cl[i].lfd = listen_on(base ? base + i : 0, &p->cl[i].port);
    memset(&su, 0, sizeof su);
    su.sun_family = AF_UNIX;
    if (strlen(ctlpath) >= sizeof su.sun_path) die("control socket path too long: %s", ctlpath);
    strcpy(su.sun_path, ctlpath);
    unlink(ctlpath);
    if ((p->ctl_lfd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
        bind(p->ctl_lfd, (struct sockaddr *)&su, sizeof su) || listen(p->ctl_lfd, 4) ||
        nonblock(p->ctl_lfd))
        die("control socket %s: %s", ctlpath, strerror(errno));
    p->t0 = now_ns();
    plog(p, "\"ev\":\"start\",\"upstream\":\"%s\",\"clients\":%d,\"seed\":%llu", up, p->ncl, seed);
    printf("faultproxy: ports");
    for (i = 0; i < p->ncl; i++) printf(" %d", p->cl[i].port);
    printf("\n");
    fflush(stdout);
    run(p);
    for (i = 0; i < MAX_CONNS; i++)
        if (p->conns[i]) conn_free(p, i, "quit", 0);
    plog(p, "\"ev\":\"quit\"");
    unlink(ctlpath);
    return 0;
}
