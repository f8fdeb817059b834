"""``python -m benchmarks.cgexec PROCS_FILE CMD...``: join a cgroup, then become CMD.

Writing our own pid into the cgroup's ``cgroup.procs`` before ``exec`` puts the
whole life of CMD under the cgroup's limits, start-up included (moving a running
process in afterwards would let its start-up run free).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    """Join the cgroup and exec the command (returns only on bad arguments)."""
    if len(argv) < 2:
        print("usage: python -m benchmarks.cgexec PROCS_FILE CMD...", file=sys.stderr)
        return 2
    with open(argv[0], "w", encoding="ascii") as f:
        f.write(str(os.getpid()))
    os.execvp(argv[1], argv[1:])
    return 1  # unreachable: execvp does not return


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
