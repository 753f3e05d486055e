#!/usr/bin/env python3
"""Applies the deliberate bugs of tests/mutants/mutants.txt to a copy of le.h.

  tests/mutants/apply.py LE_H MUTANTS_TXT OUTDIR [NAME...]

writes OUTDIR/NAME/le.h for every mutant (or the ones named) and prints the
names. Every original fragment must occur exactly once in le.h: le.h changes,
and a fragment that no longer matches must be fixed, never skipped, so this
fails loudly, naming the mutant and the fragment."""
import os
import sys


def parse(path):
    """[(name, [(original, replacement), ...]), ...] from the list's blocks:
    '=== name' starts a mutant, '--- original' and '+++ replacement' start
    the two halves of each edit; '#' lines outside edits are comments."""
    mutants, cur, part, buf = [], None, None, []

    def flush():
        if part is None:
            return
        text = "".join(buf)
        if part == "orig":
            cur[1].append([text, None])
        else:
            cur[1][-1][1] = text

    with open(path) as f:
        for line in f:
            if line.startswith("=== "):
                flush()
                cur, part, buf = (line[4:].split()[0], []), None, []
                mutants.append(cur)
            elif line.startswith("--- original"):
                flush()
                part, buf = "orig", []
            elif line.startswith("+++ replacement"):
                flush()
                part, buf = "repl", []
            elif part is None:
                continue
            else:
                buf.append(line)
        flush()
    for name, edits in mutants:
        if not edits or any(r is None or not o.strip() for o, r in edits):
            sys.exit(f"{path}: mutant {name}: every edit needs an original and a replacement")
    return mutants


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    le_h, listing, out = sys.argv[1:4]
    only = set(sys.argv[4:])
    src = open(le_h).read()
    bad = 0
    for name, edits in parse(listing):
        if only and name not in only:
            continue
        text = src
        for orig, repl in edits:
            n = src.count(orig)
            if n != 1:
                print(f"mutant {name}: the fragment below occurs {n} times in {le_h}, "
                      f"not exactly once; le.h changed: update it in {listing}\n"
                      f"----\n{orig}----", file=sys.stderr)
                bad += 1
                break
            text = text.replace(orig, repl)
        else:
            os.makedirs(os.path.join(out, name), exist_ok=True)
            dst = os.path.join(out, name, "le.h")
            if not os.path.exists(dst) or open(dst).read() != text:
                with open(dst, "w") as f:
                    f.write(text)
            print(name)
    if bad:
        sys.exit(f"apply.py: {bad} mutant(s) no longer apply")


if __name__ == "__main__":
    main()
