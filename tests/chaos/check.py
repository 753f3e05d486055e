"""The chaos checker: leadership intervals of live processes, overlaps, and
leaderless gaps against their bound.

Every process reports events as dicts {"t": CLOCK_MONOTONIC ns, "ev": ...};
the runner adds marks of what it did to the process ("frozen" once the
kernel shows it stopped, "thawed" just before SIGCONT, "killed" once kill -9
has reaped it, "exited" after SIGTERM).

When a process believes it leads (live_pieces):
  - from its "started" event
  - until its own "stopped" event (le.h: LE_EV_STOPPED_LEADING; client-go:
    the leading context cancelled, tools/kube/peer), its "exit", or the
    kill -9 ("killed");
  - le.h also reports "until", the last instant le_is_leader() answers yes
    as the elector stands; its belief ends there even if no stopped event
    comes (le_is_leader() turns false at that instant whether the process
    runs or not);
  - a frozen process (SIGSTOP .. SIGCONT) does nothing, so the frozen span
    is not part of its tenure; after SIGCONT it believes it still leads
    until it notices: its stopped event, or for le.h the "until" horizon
    if that already passed. A client-go leader has no such horizon: it
    keeps its leading context after SIGCONT until its renew loop gives up,
    up to RenewDeadline later.
Two pieces of different processes that intersect are an overlap.

A leaderless gap [a, b] is measured once faults end: E = the end of the
last fault window that started before b; the gap counts from max(a, E).
A replica that runs (alive, not frozen) from r <= b is a candidate that
must have led by r + its bound; r = max(a, E, its spawn, its last thaw).
The gap must end by the earliest candidate deadline. Gaps that end while a
fault is active are not measured."""

INF = float("inf")
DEATH = ("killed", "exit", "exited")


def merge(pieces):
    out = []
    for a, b in sorted(pieces):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def live_pieces(events, now_ns):
    """[(a, b)] in ns: the process ran and believed it led."""
    out = []
    leading = frozen = dead = False
    horizon = INF
    cur = None
    for ev in sorted(events, key=lambda e: e["t"]):
        t = ev["t"]
        if leading and not frozen and cur is not None:
            b = min(t, horizon)
            if b > cur:
                out.append((cur, b))
        cur = t
        k = ev["ev"]
        if dead:
            continue
        if k == "started":
            leading, horizon = True, INF
        elif k == "until":
            if leading:
                horizon = ev["until"]
        elif k == "stopped":
            leading = False
        elif k in DEATH:
            leading, dead = False, True
        elif k == "frozen":
            frozen = True
        elif k == "thawed":
            frozen = False
    if leading and not frozen and not dead and cur is not None:
        b = min(now_ns, horizon)
        if b > cur:
            out.append((cur, b))
    return merge(out)


def overlaps(pieces_by_proc):
    """[(start, ns, key_a, key_b)]: every pair of processes leading at once."""
    flat = sorted((a, b, k) for k, ps in pieces_by_proc.items() for a, b in ps)
    out = []
    for i, (a, b, k) in enumerate(flat):
        for a2, b2, k2 in flat[i + 1:]:
            if a2 >= b:
                break
            if k2 != k:
                out.append((a2, min(b, b2) - a2, k, k2))
    return out


def gaps(pieces_by_proc, start, end):
    """Leaderless spans [a, b] within [start, end]."""
    u = merge([p for ps in pieces_by_proc.values() for p in ps])
    out, cur = [], start
    for a, b in u:
        if b <= cur:
            continue
        if a > cur:
            out.append((cur, min(a, end)))
        cur = max(cur, b)
        if cur >= end:
            break
    if cur < end:
        out.append((cur, end))
    return [(a, b) for a, b in out if b > a]


def frozen_spans(events):
    out, since = [], None
    for ev in sorted(events, key=lambda e: e["t"]):
        if ev["ev"] == "frozen":
            since = ev["t"]
        elif ev["ev"] in ("thawed",) + DEATH and since is not None:
            out.append((since, ev["t"]))
            since = None
    if since is not None:
        out.append((since, INF))
    return out


def death_time(events):
    ts = [ev["t"] for ev in events if ev["ev"] in DEATH]
    return min(ts) if ts else INF


def judge_gap(gap, windows, procs, bounds):
    """Verdict on one leaderless gap.

    windows: [(start, end, kind)] of faults; procs: [{"kind", "spawn",
    "events"}]; bounds: {kind: ns}. Returns None when the gap ended during
    faults, else a dict: measured (b - max(a, E)), bound (earliest candidate
    deadline - max(a, E)), ok, and the deciding candidate's kind (None: no
    replica could lead)."""
    a, b = gap
    e = max([w[1] for w in windows if w[0] < b] or [a])
    if e >= b:
        return None
    e = max(a, e)
    best = None
    for p in procs:
        if p["spawn"] >= b or death_time(p["events"]) <= b:
            continue
        r, ok = max(e, p["spawn"]), True
        for fa, fb in frozen_spans(p["events"]):
            if fa < b <= fb:
                ok = False  # frozen when the gap ended
            elif fb < b:
                r = max(r, fb)
        if not ok or r >= b or p["kind"] not in bounds:
            continue
        d = r + bounds[p["kind"]]
        if best is None or d < best[0]:
            best = (d, p["kind"])
    if best is None:
        return {"measured": b - e, "bound": None, "ok": True, "kind": None, "from": e}
    return {"measured": b - e, "bound": best[0] - e, "ok": b <= best[0], "kind": best[1], "from": e}
