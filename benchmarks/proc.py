"""What the benchmarks share: CPU time of a process, and commands read from stdin.

The benchmarks run the relay in a child process and drive it by lines on its stdin.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process (all of its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def stdin_commands(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str]:
    """Lines of stdin as they come, on ``loop``; ``quit`` when stdin closes."""
    commands: asyncio.Queue[str] = asyncio.Queue()

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, "quit")

    threading.Thread(target=reader, daemon=True).start()
    return commands
