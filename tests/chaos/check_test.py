#!/usr/bin/env python3
"""The chaos checker on made-up histories: it must see every overlap it is
meant to see, and end a frozen or killed tenure where the rules say.

    python3 tests/chaos/check_test.py"""
import os, sys, traceback

sys.path.insert(0, os.path.dirname(__file__))
from check import gaps, judge_gap, live_pieces, overlaps  # noqa: E402

S = 10 ** 9


def ev(t, k, **kw):
    d = {"t": int(t * S), "ev": k}
    d.update({x: int(v * S) for x, v in kw.items()})
    return d


def secs(pieces):
    return [(a / S, b / S) for a, b in pieces]


tests = []


def test(fn):
    tests.append(fn)
    return fn


@test
def plain_overlap():
    a = [ev(1, "started"), ev(5, "stopped")]
    b = [ev(4, "started"), ev(9, "stopped")]
    o = overlaps({"a": live_pieces(a, 20 * S), "b": live_pieces(b, 20 * S)})
    assert len(o) == 1 and o[0][1] == 1 * S, o
    o = overlaps({"a": live_pieces(a, 20 * S), "b": live_pieces([ev(5, "started")], 20 * S)})
    assert o == [], "touching tenures are no overlap: %s" % o


@test
def still_leading_at_the_end():
    o = overlaps({"a": live_pieces([ev(1, "started")], 10 * S),
                  "b": live_pieces([ev(9, "started")], 10 * S)})
    assert len(o) == 1, o


@test
def kill_ends_tenure():
    a = [ev(1, "started"), ev(3, "killed"), ev(4, "stopped")]
    assert secs(live_pieces(a, 10 * S)) == [(1, 3)]


@test
def le_h_horizon_ends_frozen_tenure():
    # renewed until 4.5 s, frozen at 3, another leads from 7, thawed at 9,
    # stopped at 9.001: le_is_leader() said no from 4.5 on
    a = [ev(1, "started"), ev(1.01, "until", until=4.5), ev(3, "frozen"), ev(9, "thawed"),
         ev(9.001, "stopped")]
    b = [ev(7, "started")]
    pa = live_pieces(a, 20 * S)
    assert secs(pa) == [(1, 3)], secs(pa)
    assert overlaps({"a": pa, "b": live_pieces(b, 20 * S)}) == []


@test
def resumed_leader_that_keeps_believing_overlaps():
    # a process with no horizon (client-go) resumed after a takeover still
    # believes until its stopped event: that is an overlap
    a = [ev(1, "started"), ev(3, "frozen"), ev(9, "thawed"), ev(11, "stopped")]
    b = [ev(7, "started")]
    pa = live_pieces(a, 20 * S)
    assert secs(pa) == [(1, 3), (9, 11)], secs(pa)
    o = overlaps({"a": pa, "b": live_pieces(b, 20 * S)})
    assert len(o) == 1 and o[0][0] == 9 * S and o[0][1] == 2 * S, o


@test
def horizon_moves_with_renews():
    a = [ev(1, "started"), ev(1, "until", until=4), ev(2, "until", until=5), ev(3, "until", until=6),
         ev(8, "stopped")]
    assert secs(live_pieces(a, 20 * S)) == [(1, 6)]
    # a horizon that passed without a stopped event ends the tenure
    o = overlaps({"a": live_pieces(a, 20 * S), "b": live_pieces([ev(6.5, "started")], 20 * S)})
    assert o == [], o


@test
def gap_measured_after_faults():
    pieces = {"a": [(1 * S, 5 * S)], "b": [(12 * S, 20 * S)]}
    g = gaps(pieces, 0, 20 * S)
    assert secs(g) == [(0, 1), (5, 12)], secs(g)
    procs = [{"kind": "c", "spawn": 0, "events": []}]
    v = judge_gap(g[1], [(5 * S, 5 * S, "kill")], procs, {"c": 8 * S})
    assert v["ok"] and v["measured"] == 7 * S, v
    v = judge_gap(g[1], [(5 * S, 5 * S, "kill")], procs, {"c": 6 * S})
    assert not v["ok"], "a 7 s gap passed a 6 s bound: %s" % v
    # a partition lifted at 9: only 3 s count
    v = judge_gap(g[1], [(5 * S, 5 * S, "kill"), (6 * S, 9 * S, "partition")], procs, {"c": 4 * S})
    assert v["ok"] and v["measured"] == 3 * S, v
    # ended while a fault was still active: not measured
    assert judge_gap(g[1], [(6 * S, 13 * S, "partition")], procs, {"c": 1}) is None


@test
def gap_candidates():
    g = (5 * S, 12 * S)
    w = [(5 * S, 5 * S, "kill")]
    # the only le.h replica was frozen until 10: it has until 10 + bound
    procs = [{"kind": "c", "spawn": 0, "events": [ev(4, "frozen"), ev(10, "thawed")]}]
    v = judge_gap(g, w, procs, {"c": 3 * S})
    assert v["ok"] and v["bound"] == 8 * S, v
    # restarted at 11: 1 s later it had not led yet, within its bound
    procs = [{"kind": "c", "spawn": 11 * S, "events": []}]
    assert judge_gap(g, w, procs, {"c": 3 * S})["ok"]
    # a client-go replica only: client-go's bound applies
    procs = [{"kind": "go", "spawn": 0, "events": []}]
    v = judge_gap(g, w, procs, {"c": 3 * S, "go": 6 * S})
    assert not v["ok"] and v["kind"] == "go", v
    # the earliest deadline decides
    procs = [{"kind": "go", "spawn": 0, "events": []}, {"kind": "c", "spawn": 0, "events": []}]
    v = judge_gap(g, w, procs, {"c": 3 * S, "go": 20 * S})
    assert not v["ok"] and v["kind"] == "c", v


def main():
    passed = failed = 0
    for fn in tests:
        try:
            fn()
            passed += 1
            print("chaos-check: %-46s ok" % fn.__name__)
        except Exception as e:
            failed += 1
            print("chaos-check: %-46s FAIL %s" % (fn.__name__, e))
            traceback.print_exc()
    print("chaos-check: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
