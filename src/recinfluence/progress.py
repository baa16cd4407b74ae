"""Progress lines with an ETA for long work (a study retrains thousands of times)."""

from __future__ import annotations

import sys
import time


class Progress:
    """Prints ``done/total <what>, <seconds> s each, ETA <seconds> s`` to ``log`` (``None``:
    silent) after each step, at most once every ``every`` seconds and always after the last."""

    def __init__(self, total: int, what: str, log=sys.stderr, every: float = 5.0):
        self.total, self.what, self.log, self.every = total, what, log, every
        self.done, self.started, self.printed = 0, time.perf_counter(), -float("inf")

    def step(self, count: int = 1) -> None:
        self.done += count
        now = time.perf_counter()
        if self.log is None or (now - self.printed < self.every and self.done < self.total):
            return
        self.printed = now
        each = (now - self.started) / max(self.done, 1)
        print(
            f"{self.done}/{self.total} {self.what}, {each:.2f} s each, ETA {each * (self.total - self.done):.0f} s",
            file=self.log,
            flush=True,
        )
