"""Progress of long saves, loads and verifies: a tqdm bar in a terminal, a log line every few seconds elsewhere.

The bar (elements, MB, rate and, where the count is known, time left) goes to stderr when it is a
terminal and appears only once the work has run for a second (`DATASET_ASSETS_PROGRESS_DELAY`), so short saves print nothing.
`DATASET_ASSETS_PROGRESS=0` (or `dataset-assets --no-progress`) turns the bar off; then, and outside a
terminal, progress goes to the `dataset_assets` logger at INFO every `every_seconds`.
"""

from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger("dataset_assets")
PROGRESS_ENV = "DATASET_ASSETS_PROGRESS"
DELAY_ENV = "DATASET_ASSETS_PROGRESS_DELAY"
DEFAULT_DELAY = 1.0


def bar_delay() -> float:
    try:
        return max(float(os.environ.get(DELAY_ENV) or DEFAULT_DELAY), 0.0)
    except ValueError:
        return DEFAULT_DELAY


def bars_enabled() -> bool:
    if os.environ.get(PROGRESS_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def _columns() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


def log_to_stderr() -> None:
    """Send the `dataset_assets` logger's INFO lines to stderr (the CLI does; a library leaves logging to its user)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s dataset_assets: %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


class Progress:
    """Counts elements and bytes of one long operation; `total` (elements; None or < 0: unknown) gives the time left."""

    def __init__(self, what: str, total=None, every_seconds: float = 5.0):
        self.what = what
        self.every = every_seconds
        self.start = self.last = time.perf_counter()
        self.elements = 0
        self.bytes = 0
        total = None if total is None else int(total)
        self.total = total if total is not None and total >= 0 else None
        self.bar = None
        if bars_enabled():
            from tqdm import tqdm

            sized = _columns() > 0  # a pseudo-terminal nobody sized reports 0 x 0: tqdm would draw nothing
            self.bar = tqdm(
                total=self.total, desc=what, unit=" el", unit_scale=True, delay=bar_delay(), file=sys.stderr, leave=False,
                dynamic_ncols=sized, ncols=None if sized else 100, nrows=None if sized else 24,
            )

    def update(self, elements: int, nbytes: int) -> None:
        self.elements += elements
        self.bytes += nbytes
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.bytes / 1e6:,.1f} MB", refresh=False)
            self.bar.update(elements)
            return
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            log.info("%s: %s", self.what, self.summary())

    def summary(self) -> str:
        secs = max(time.perf_counter() - self.start, 1e-9)
        of = f" of {self.total:,}" if self.total is not None else ""
        return f"{self.elements:,}{of} elements, {self.bytes / 1e6:,.1f} MB in {secs:.1f} s ({self.bytes / 1e6 / secs:,.1f} MB/s)"

    def done(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        log.debug("%s done: %s", self.what, self.summary())
