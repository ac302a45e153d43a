"""Fold `perf script` output into stacks and print the frames' shares of the samples.

    perf script -i perf.data | python3 docs/profile/perf_summary.py --folded out.folded [PATTERN]

Each stack of the output (`--folded`) is one line `thread;root frame;...;leaf frame COUNT`, the
format flame graph tools read. The summary lists every frame whose inclusive share (samples
with that frame anywhere on the stack) is at least `--min` percent, optionally only frames
matching the regular expression PATTERN, then the share of samples spent in the kernel.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator

KERNEL_ENTRY = "entry_SYSCALL_64_after_hwframe"


def samples(lines: Iterable[str]) -> Iterator[list[str]]:
    """Each sample's stack, root first, named by its thread (`comm-tid`)."""
    block: list[str] = []
    for line in [*lines, ""]:
        line = line.rstrip("\n")
        if line:
            block.append(line)
            continue
        if block:
            head = block[0].split()
            frames = []
            for frame in block[1:]:
                parts = frame.strip().split(None, 1)
                if len(parts) == 2:
                    symbol = parts[1].rsplit(" (", 1)[0]
                    frames.append(re.sub(r"\+0x[0-9a-f]+$", "", symbol))
            yield [f"{head[0]}-{head[1]}", *reversed(frames)]
        block = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", nargs="?", help="only frames matching this expression")
    parser.add_argument("--folded", help="write the folded stacks here")
    parser.add_argument("--min", type=float, default=1.0, help="least share listed, percent")
    args = parser.parse_args()
    stacks = Counter(";".join(stack) for stack in samples(sys.stdin))
    if args.folded:
        with open(args.folded, "w") as out:
            out.writelines(f"{stack} {n}\n" for stack, n in stacks.most_common())
    total = sum(stacks.values())
    inclusive: Counter[str] = Counter()
    kernel = 0
    for stack, n in stacks.items():
        frames = stack.split(";")
        inclusive.update({frame: n for frame in set(frames[1:])})
        kernel += n if KERNEL_ENTRY in frames else 0
    wanted = re.compile(args.pattern) if args.pattern else None
    print(f"{total} samples")
    for frame, n in inclusive.most_common():
        share = 100 * n / total
        if share < args.min:
            break
        if wanted is None or wanted.search(frame):
            print(f"{share:5.1f}%  {frame[:140]}")
    print(f"{100 * kernel / total:5.1f}%  in system calls (kernel)")


if __name__ == "__main__":
    main()
