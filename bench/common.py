"""Plumbing shared by the benchmark scripts: free ports, child servers, the hub, ``wrk`` and verdicts.

Imported as ``common``: ``python bench/<script>.py`` puts bench/ first on ``sys.path``.
"""

from __future__ import annotations

import base64
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLIENT, PASSWORD = "bench-client", "bench-password-1"
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


# -- processes ----------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(port: int, ready_path: str | None) -> bool:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) != 0:
            return False
    if ready_path is None:
        return True
    try:
        return httpx.get(f"http://127.0.0.1:{port}{ready_path}").status_code == 200
    except httpx.TransportError:
        return False


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0, ready_path: str | None = None
) -> None:
    """Wait until ``proc`` listens on ``port`` (and, with ``ready_path``, answers it with 200)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode} before listening")
        if _ready(port, ready_path):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout:g}s")


@dataclass(frozen=True, slots=True)
class Served:
    """A server process a benchmark started: where it answers, and its pid (for its CPU time)."""

    url: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time so far of process ``pid`` and of the processes it started, theirs included (the
    hub's log writer process is a child of its fork server). A child that has ended no longer
    counts, so compare readings taken while the processes run."""
    total = 0.0
    try:
        total += cpu_seconds(pid)
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_seconds(int(child))
    except (OSError, IndexError, ValueError):  # it ended meanwhile
        pass
    return total


def postgres_cpu_seconds() -> float:
    """CPU time so far of every PostgreSQL server process on this machine (backends, WAL writer…)."""
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(proc.name))
        except (OSError, IndexError, ValueError):  # it ended meanwhile
            continue
    return total


def children_cpu_seconds() -> float:
    """User plus system CPU time of this process's ended and reaped children (each ``wrk`` run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_ticks() -> tuple[int, int, int]:
    """All CPUs' clock ticks so far (Linux ``/proc/stat``): (in all, idle, stolen by the host)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields[:8]), idle, fields[7]  # user … steal (guest time is inside user)


@contextmanager
def serving(
    name: str, args: list[str], log_dir: Path, env: dict[str, str], *, ready_path: str | None = None
) -> Iterator[Served]:
    """Run ``args`` plus a free port as a process logging to ``log_dir/<name>.log``; yield where it serves.

    Terminates it (and only it) afterwards; on an error, prints the tail of its log to stderr.
    """
    port = free_port()
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*args, str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, proc, ready_path=ready_path)
            yield Served(f"http://127.0.0.1:{port}", proc.pid)
        except BaseException:
            sys.stderr.write(log_path.read_text(errors="replace")[-3000:])
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the hub ------------------------------------------------------------------------------------------


def hub_command() -> str:
    """The ``hub`` entry point of the interpreter running this script (the project's venv)."""
    beside = Path(sys.executable).parent / "hub"
    found = str(beside) if beside.exists() else shutil.which("hub")
    if not found:
        raise SystemExit("the hub command is not installed: run scripts/setup")
    return found


def hub_env(database_url: str, config: Path, *, embedded_worker: bool, **extra: str) -> dict[str, str]:
    """This process's environment plus the hub's settings; ``BENCH_CLIENT_PASSWORD`` is ``PASSWORD``."""
    return {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_CONFIG": str(config),
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_SECRET_KEY": "bench-secret-key-not-for-production",
        "HUB_EMBEDDED_WORKER": "true" if embedded_worker else "false",
        "BENCH_CLIENT_PASSWORD": PASSWORD,
        **extra,
    }


@contextmanager
def hub_serving(
    name: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    after_upgrade: Callable[[], None] | None = None,
    ready_path: str | None = None,
) -> Iterator[Served]:
    """``hub db upgrade``, then ``after_upgrade()``, then ``hub serve`` on a free port; yield it."""
    command = hub_command()
    subprocess.run([command, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    if after_upgrade is not None:
        after_upgrade()
    serve = [command, "serve", "--host", "127.0.0.1", "--port"]
    with serving(name, serve, log_dir, env, ready_path=ready_path) as served:
        yield served


def basic_token(client: str = CLIENT, password: str = PASSWORD) -> str:
    """The credentials part of an HTTP ``Authorization: Basic …`` header."""
    return base64.b64encode(f"{client}:{password}".encode()).decode()


# -- wrk ----------------------------------------------------------------------------------------------


def require_wrk() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: run scripts/setup --bench")


@dataclass(slots=True)
class WrkResult:
    """The figures of one ``wrk --latency`` run."""

    requests: int
    non_2xx: int
    socket_errors: int
    rps: float
    p50_ms: float
    p99_ms: float

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def to_ms(value: str) -> float:
    """A wrk duration such as ``1.23ms`` or ``850.00us`` in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", value).groups()  # type: ignore[union-attr]
    return float(number) * UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """The figures in the output of one ``wrk --latency`` run."""
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests=requests,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        rps=rps,
        p50_ms=p50,
        p99_ms=p99,
    )


def run_wrk(url: str, script: Path, *, concurrency: int, seconds: float) -> WrkResult:
    """``wrk`` with one thread, ``concurrency`` connections and the Lua ``script`` for ``seconds``."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_wrk(out)


# -- figures and verdicts -----------------------------------------------------------------------------


def percentile(samples: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``samples``, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(verdicts: list[tuple[bool, str]]) -> int:
    """Print one ``PASS``/``FAIL`` line per verdict; the exit code: 0 when all passed, else 1."""
    for ok, message in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {message}")
    return 0 if all(ok for ok, _ in verdicts) else 1
