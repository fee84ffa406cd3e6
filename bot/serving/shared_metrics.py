"""The metric files the processes of `herald serve --workers N` share, so that the server's
`/metrics` shows what its workers counted (Slack calls, commands, job runs and failures).

prometheus-client's multiprocess mode: each process writes its values to memory-mapped
files named after its pid in one directory, and the server's `MultiProcessCollector` sums
them at scrape time. The directory is made per server run under the system temp dir and
removed at shutdown; one left by a server that was killed is removed when the next starts.

A worker that died leaves its files: its `live*` gauges are dropped (prometheus-client's
`mark_process_dead`), and its counters, histograms and `max`/`min`/`sum` gauges are folded
into one `*_folded.db` file per kind, so totals never go backwards while the files of dead
workers do not pile up. The server folds between two scrapes (both run on its event loop,
neither awaits), so no scrape sees a dead worker's counts twice or not at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import values
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

log = logging.getLogger(__name__)
PREFIX = "herald-metrics-"  # then the server's pid, a dash and mkdtemp's random part
FOLDED = "folded"  # stands where the pid is in the name of a file of folded counts
FOLDED_KINDS = ("counter", "histogram", "summary", "gauge_max", "gauge_min", "gauge_sum")


class MetricFiles:
    """One server run's directory of metric files."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, *, under: Path | None = None) -> MetricFiles:
        """A new directory for this server run; those of servers no longer running go."""
        parent = Path(under if under is not None else tempfile.gettempdir())
        for stale in remove_stale(parent):
            log.info("removed the metric files of a server that is gone: %s", stale)
        return cls(Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent)))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def fold_dead(self, pid: int) -> None:
        """The process `pid` exited: drop its live gauges, add the rest to the folded files."""
        mark_process_dead(pid, str(self.path))
        for kind in FOLDED_KINDS:
            dead = self.path / f"{kind}_{pid}.db"
            if dead.exists():
                self._fold(kind, dead)

    def _fold(self, kind: str, dead: Path) -> None:
        into = self.path / f"{kind}_{FOLDED}.db"
        sources = [str(path) for path in (into, dead) if path.exists()]
        merged = MultiProcessCollector.merge(sources, accumulate=False)
        draft = self.path / f"{kind}_{FOLDED}.db.draft"  # not *.db: no scrape reads it
        draft.unlink(missing_ok=True)
        written = MmapedDict(str(draft))
        try:
            for metric in merged:
                for sample in metric.samples:
                    labels = sample.labels
                    key = mmap_key(
                        metric.name,
                        sample.name,
                        list(labels),
                        list(labels.values()),
                        metric.documentation,
                    )
                    written.write_value(key, sample.value, 0.0)
        finally:
            written.close()
        os.replace(draft, into)
        dead.unlink()


def share_in_this_process(path: Path) -> None:
    """From now on, metrics this process creates write their values under `path`.

    prometheus-client chooses where values live when each metric (and label set) is created:
    in the process (the default), or — once `values.ValueClass` is its multiprocess kind —
    in files under `PROMETHEUS_MULTIPROC_DIR`, read then. So this runs before Herald's
    metrics are built; a spawned worker inherits the variable and starts in that mode."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    if not getattr(values.ValueClass, "_multiprocess", False):  # one set of files a process
        values.ValueClass = values.MultiProcessValue()


def remove_stale(parent: Path) -> list[Path]:
    """Remove the metric directories of servers whose process is gone; which ones. One named
    after this process is an earlier run's (in a container Herald may be pid 1 every time,
    and /tmp an emptyDir that outlives a restart)."""
    removed = []
    for path in parent.glob(f"{PREFIX}*"):
        pid = path.name.removeprefix(PREFIX).split("-", 1)[0]
        if not (path.is_dir() and pid.isdigit()):
            continue
        if int(pid) == os.getpid() or not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"  # a zombie is gone, only not yet reaped
    return True
