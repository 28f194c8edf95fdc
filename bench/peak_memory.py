"""Peak resident memory of this process while a block runs, for the benchmarks (bench/ is not a
package: scripts here import it as ``from peak_memory import PeakMemory``)."""

from __future__ import annotations

import os
import threading


class PeakMemory:
    """The peak resident memory of this process while the block runs (sampled every 20 ms).

    ``peak`` is in bytes and starts at the resident memory when the block is entered, so memory
    freed before the block does not count; a peak shorter than the 20 ms interval can be missed
    (``resource.getrusage``'s ``ru_maxrss`` gives the process's lifetime peak without that gap).
    """

    def __enter__(self) -> PeakMemory:
        self.start = self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    @staticmethod
    def rss() -> int:
        """The resident memory of this process now, in bytes."""
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.rss())
