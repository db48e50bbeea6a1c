"""Starting, measuring and stopping the benchmark's servers, by process id only.

CPU time and resident memory come from the kernel's own accounting of the server's process tree
(`/proc/<pid>/stat` utime+stime, `/proc/<pid>/status` VmRSS), summed over the started process and its
descendants (LiteLLM and npx-style launchers fork).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def process_tree(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(tree.get(current, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICK


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def wait_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    pids: list[int] = field(default_factory=list)

    def refresh(self) -> list[int]:
        self.pids = process_tree(self.process.pid)
        return self.pids

    def cpu(self) -> float:
        return cpu_seconds(self.refresh())

    def rss(self) -> int:
        return rss_kb(self.refresh())

    def stop(self) -> None:
        """Stop this server's own process group (it was started in a session of its own)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def start(
    name: str,
    argv: list[str],
    core: int | str,
    port: int,
    log: Path,
    env: dict[str, str],
    timeout: float = 60,
) -> Server:
    """Start `argv` pinned to `core` (a core, or taskset's list such as "0,1"); return once `port`
    accepts connections (or raise RuntimeError)."""
    out = log.open("wb")
    process = subprocess.Popen(
        ["taskset", "-c", str(core), *argv],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
        start_new_session=True,
    )
    server = Server(name, process, port, log)
    if not wait_port(port, timeout, process) or process.poll() is not None:
        server.stop()
        tail = log.read_text(errors="replace")[-600:]
        raise RuntimeError(f"{name} did not start on port {port}: {tail}")
    return server
