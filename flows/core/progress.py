"""Progress of long steps for the person at the command line: a line per finished unit of work
(a dbt node, a landing batch, a scoring phase) on stderr, so stdout stays the result.

Nothing is shown until the command line turns it on (`start`): flows run by a Prefect worker, and
code calling the services, stay quiet. In a terminal the line is rewritten in place (a status
line, cleared before anything else is printed); elsewhere (a pipe, a log file, CI) each update is
a line of its own, and what is merely starting is not shown.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from typing import TextIO

CLEAR = "\r\x1b[K"  # carriage return, erase to the end of the line


class Progress:
    def __init__(self, stream: TextIO, live: bool) -> None:
        self.stream, self.live = stream, live
        self.shown = False  # a status line is on screen (live only)
        self.lock = threading.Lock()  # dbt reports its nodes from its worker threads

    def show(self, line: str, finished: bool) -> None:
        with self.lock:
            if self.live:
                width = shutil.get_terminal_size().columns - 1  # a wrapped line cannot be erased
                if len(line) > width:  # cut the middle: the count and the seconds stay in view
                    line = line[: max(width - 12, 0)] + "…" + line[-11:]
                self.stream.write(CLEAR + line)
                self.shown = True
            elif finished:
                self.stream.write(line + "\n")
            else:
                return
            self.stream.flush()

    def note(self, line: str) -> None:
        with self.lock:
            self.stream.write((CLEAR if self.shown else "") + line + "\n")
            self.shown = False
            self.stream.flush()

    def clear(self) -> None:
        with self.lock:
            if self.shown:
                self.stream.write(CLEAR)
                self.stream.flush()
                self.shown = False


_current: Progress | None = None


def start(stream: TextIO | None = None, live: bool | None = None) -> None:
    """Show progress on `stream` (stderr), in place when it is a terminal."""
    global _current
    stream = stream or sys.stderr
    _current = Progress(stream, stream.isatty() if live is None else live)


def stop() -> None:
    global _current
    clear()
    _current = None


def working(line: str) -> None:
    """What runs now: shown in a terminal only, replaced by the next line."""
    if _current:
        _current.show(line, finished=False)


def done(line: str) -> None:
    """A finished unit of work: in place in a terminal, a line of its own elsewhere."""
    if _current:
        _current.show(line, finished=True)


def note(line: str) -> None:
    """A line that stays, also in a terminal (a failed node)."""
    if _current:
        _current.note(line)


def clear() -> None:
    """Erase the status line, before the result or a log line is printed."""
    if _current:
        _current.clear()


def counted(index: int, total: int | None, what: str, seconds: float | None = None) -> str:
    """'  [ 45/195] model int_ledger ... 3.2 s'."""
    of = f"{index:>{len(str(total))}}/{total}" if total else str(index)
    return f"  [{of}] {what}" + ("" if seconds is None else f" ... {seconds:.1f} s")


class ClearsStatusLine(logging.Filter):
    """On a log handler writing to the same terminal: erase the status line first, so a log
    record never lands at the end of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        clear()
        return True
