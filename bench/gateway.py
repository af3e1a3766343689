"""Gateway benchmark: what full transaction logging costs, against a direct call and a bare proxy.

    python bench/gateway.py [--duration 10] [--rounds 10] [--warmup 2] [--postgres-url URL]

Starts, on free loopback ports, a fast upstream (``bench/upstream_app.py``), a pass-through
proxy on the hub's stack (``bench/passthrough.py``) and the real hub (``hub serve``) on a
fresh SQLite file and on a fresh PostgreSQL database, then loads each with ``wrk`` at
concurrency 1 and 32, one small JSON POST per request, and prints one table and the target
checks. It also checks that the hub logged one transaction per answered request.

Each target gets ``--duration`` seconds per concurrency, measured in ``--rounds`` slices that
visit the targets in turn (rotating the order), so a change in the machine's load during the
run hits every target alike. Figures are medians over the slices; the checks compare the
slices of one round with each other. Needs ``wrk`` (``scripts/setup --bench``).
Exits 1 when a target or the logging check fails.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, func, make_url, select, text

from hub.transactions.models import Status, Transaction

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCIES = (1, 32)
TARGET_RATIO = 0.70
TARGET_ADDED_P50_MS = 2.0
CLIENT, PASSWORD = "bench-client", "bench-password-1"
PG_DATABASE = "hub_bench"
PATH = "/bench/observations"
REQUEST_BODY = (
    '{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org",'
    '"code":"8867-4"}]},"subject":{"reference":"Patient/123"},"valueQuantity":{"value":72,"unit":"/min"}}'
)
HUB_CONFIG = """\
clients:
  - client_id: {client}
    name: Benchmark client
    roles: [bench]
    password_env: BENCH_CLIENT_PASSWORD
channels:
  - name: bench
    url_pattern: /bench/.*
    allowed_roles: [bench]
    routes:
      - name: upstream
        url: {upstream}
        primary: true
"""
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(slots=True)
class Slice:
    """One wrk run."""

    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float


@dataclass
class Target:
    name: str
    url: str
    database_url: str | None = None
    slices: dict[int, list[Slice]] = field(default_factory=dict)
    answered: int = 0  # warm-ups included: the hub logs those too
    cut_off: int = 0  # requests wrk may have sent but not seen answered when a run ended

    def median(self, concurrency: int, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.slices[concurrency])


# -- processes ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout:g}s")


@contextmanager
def serving(name: str, args: list[str], log_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """Run ``args`` plus a free ``PORT`` as a process; terminate it (and only it) afterwards."""
    port = free_port()
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*args, str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}"
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


def hub_command() -> str:
    """The ``hub`` entry point of the interpreter running this script (the project's venv)."""
    beside = Path(sys.executable).parent / "hub"
    found = str(beside) if beside.exists() else shutil.which("hub")
    if not found:
        raise SystemExit("the hub command is not installed: run scripts/setup")
    return found


def hub_env(database_url: str, config: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_CONFIG": str(config),
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_SECRET_KEY": "bench-secret-key-not-for-production",
        "HUB_EMBEDDED_WORKER": "true",
        "BENCH_CLIENT_PASSWORD": PASSWORD,
    }


@contextmanager
def hub(name: str, database_url: str, config: Path, work: Path) -> Iterator[Target]:
    """``hub db upgrade`` then ``hub serve`` on ``database_url``."""
    command = hub_command()
    env = hub_env(database_url, config)
    subprocess.run([command, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    with serving(name, [command, "serve", "--host", "127.0.0.1", "--port"], work, env) as url:
        yield Target(name, url + PATH, database_url)


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh, empty database ``hub_bench`` on the server of ``admin_url``, dropped afterwards."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
        yield make_url(admin_url).set(database=PG_DATABASE).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        admin.dispose()


# -- load ---------------------------------------------------------------------------------------------


def write_script(path: Path) -> Path:
    token = base64.b64encode(f"{CLIENT}:{PASSWORD}".encode()).decode()
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{REQUEST_BODY}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Basic {token}"\n'
    )
    return path


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", value).groups()  # type: ignore[union-attr]
    return float(number) * UNITS_MS[unit]


def parse_wrk(output: str) -> Slice:
    """The figures of one ``wrk --latency`` run."""
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(n) for n in sockets.groups()) if sockets else 0
    )
    return Slice(requests, errors, rps, p50, p99)


def wrk(target: Target, script: Path, concurrency: int, seconds: int) -> Slice:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(script), target.url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = parse_wrk(out)
    target.answered += result.requests
    # wrk stops with up to `concurrency` requests sent but unanswered; the server still handles them.
    target.cut_off += concurrency
    return result


def measure(targets: list[Target], script: Path, *, duration: int, rounds: int, warmup: int) -> None:
    for target in targets:
        if warmup:
            wrk(target, script, max(CONCURRENCIES), warmup)
    seconds = max(1, duration // rounds)
    for c in CONCURRENCIES:
        for target in targets:
            target.slices[c] = []
        for r in range(rounds):
            for target in targets[r % len(targets) :] + targets[: r % len(targets)]:
                target.slices[c].append(wrk(target, script, c, seconds))
        for target in targets:
            rps = sorted(s.rps for s in target.slices[c])
            print(
                f"  {target.name:<16} c={c:<3} {target.median(c, 'rps'):>8.0f} req/s "
                f"(rounds {rps[0]:.0f}..{rps[-1]:.0f})  p50 {target.median(c, 'p50_ms'):6.2f} ms  "
                f"p99 {target.median(c, 'p99_ms'):6.2f} ms",
                flush=True,
            )


# -- checks and report --------------------------------------------------------------------------------


def logged(target: Target) -> tuple[bool, str]:
    """Did the hub write one finished transaction per answered request?"""
    assert target.database_url is not None
    engine = create_engine(target.database_url)
    try:
        deadline = time.monotonic() + 10
        while True:
            with engine.connect() as conn:
                counts = dict(
                    conn.execute(select(Transaction.status, func.count()).group_by(Transaction.status)).all()
                )
            if not counts.get(Status.PROCESSING) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        engine.dispose()
    rows = sum(counts.values())
    ok = target.answered <= rows <= target.answered + target.cut_off
    ok = ok and counts.get(Status.SUCCESSFUL, 0) == rows
    detail = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return ok, (
        f"{target.name}: {rows} transactions ({detail}) for {target.answered} answered requests "
        f"(+ at most {target.cut_off} unanswered at wrk cut-offs)"
    )


def table(targets: list[Target]) -> str:
    lines = [
        "| target | concurrency | requests/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c in CONCURRENCIES:
        for t in targets:
            errors = sum(s.errors for s in t.slices[c])
            lines.append(
                f"| {t.name} | {c} | {t.median(c, 'rps'):.0f} | {t.median(c, 'p50_ms'):.2f} "
                f"| {t.median(c, 'p99_ms'):.2f} | {errors} |"
            )
    return "\n".join(lines)


def checks(direct: Target, ceiling: Target, hubs: list[Target]) -> list[tuple[bool, str]]:
    """The targets, each from the slices of one round compared with each other, median over rounds."""
    out = []
    top = max(CONCURRENCIES)
    for hub in hubs:
        ratio = statistics.median(
            h.rps / p.rps for h, p in zip(hub.slices[top], ceiling.slices[top], strict=True)
        )
        out.append(
            (
                ratio >= TARGET_RATIO,
                f"{hub.name}: throughput at c={top} is {ratio:.0%} of the pass-through proxy's "
                f"(target ≥ {TARGET_RATIO:.0%})",
            )
        )
        added = statistics.median(
            h.p50_ms - d.p50_ms for h, d in zip(hub.slices[1], direct.slices[1], strict=True)
        )
        out.append(
            (
                added <= TARGET_ADDED_P50_MS,
                f"{hub.name}: adds {added:.2f} ms to the direct p50 at c=1 "
                f"(target ≤ {TARGET_ADDED_P50_MS:g} ms)",
            )
        )
    return out


def environment() -> str:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return (
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, "
        f"uvicorn 1 worker with {loop} + {http}, load by wrk -t1"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds measured per target and concurrency"
    )
    parser.add_argument("--rounds", type=int, default=10, help="slices the duration is measured in")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load on each target first")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HUB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help=f"a server where database {PG_DATABASE} may be created and dropped; '' skips PostgreSQL",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: run scripts/setup --bench")

    print(f"gateway benchmark: {environment()}; {args.duration}s per target and concurrency", flush=True)
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        script = write_script(work / "post.lua")
        env = dict(os.environ)
        upstream = stack.enter_context(
            serving("upstream", [sys.executable, "bench/upstream_app.py"], work, env)
        )
        proxy = stack.enter_context(
            serving("passthrough", [sys.executable, "bench/passthrough.py", upstream], work, env)
        )
        config = work / "hub.yaml"
        config.write_text(HUB_CONFIG.format(client=CLIENT, upstream=upstream))
        databases = [("hub-sqlite", f"sqlite:///{work / 'hub-bench.db'}")]
        if args.postgres_url:
            databases.append(("hub-postgresql", stack.enter_context(postgres_database(args.postgres_url))))
        direct, ceiling = Target("direct", upstream + PATH), Target("passthrough", proxy + PATH)
        hubs = [stack.enter_context(hub(name, url, config, work)) for name, url in databases]
        targets = [direct, ceiling, *hubs]
        measure(targets, script, duration=args.duration, rounds=args.rounds, warmup=args.warmup)
        verdicts = checks(direct, ceiling, hubs) + [logged(h) for h in hubs]

    print()
    print(table(targets))
    print()
    for ok, message in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {message}")
    return 0 if all(ok for ok, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
