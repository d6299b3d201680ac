"""Progress reporting for long batch jobs (edit distances, WER/CER).

``progress=True`` draws a text bar on stderr; a callable is called as
``progress(done, total)`` (pairs) after each chunk of work.  The work runs in
chunks of at least ``MIN_CHUNK`` pairs (one parallel kernel call each), about
``UPDATES`` of them per job, so the results are exactly those of one call.
"""
import math
import sys
import time

MIN_CHUNK = 4096
UPDATES = 200


def check_progress(progress):
    if progress is None or progress is False or progress is True or callable(progress):
        return progress
    raise TypeError(
        "Expected progress to be a bool, None or a callable(done, total), but got %r"
        % (progress,))


class _Bar:
    """A text progress bar on a stream: redrawn in place on a terminal (at most
    ~10 times a second), a new line every few seconds elsewhere (logs)."""

    def __init__(self, label, total, stream=None):
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.tty = bool(self.stream.isatty())
        except Exception:
            self.tty = False
        self.t0 = time.perf_counter()
        self.last = -1.0

    def __call__(self, done):
        now = time.perf_counter()
        final = done >= self.total
        if not final and self.last >= 0 and now - self.last < (0.1 if self.tty else 5.0):
            return
        self.last = now
        frac = done / self.total if self.total else 1.0
        width = 24
        filled = int(frac * width)
        elapsed = now - self.t0
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        line = "%s: %3d%% [%s%s] %d/%d pairs, %.1fs elapsed, %s pairs/s, ETA %.1fs" % (
            self.label, int(frac * 100), "#" * filled, "." * (width - filled), done,
            self.total, elapsed, _si(rate), eta)
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _si(x):
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if x >= div:
            return "%.1f%s" % (x / div, unit)
    return "%.0f" % x


def reporter(progress, total, label):
    """(callback(done) or None, pairs per chunk) for a job of ``total`` pairs."""
    if progress is None or progress is False:
        return None, 0
    chunk = max(MIN_CHUNK, int(math.ceil(total / UPDATES)))
    if progress is True:
        return _Bar(label, total), chunk
    return (lambda done: progress(done, total)), chunk
