"""Gateway benchmark: what full transaction logging costs, against a direct call and a bare proxy.

    python bench/gateway.py [--duration 10] [--rounds 10] [--warmup 2] [--postgres-url URL]

Starts, on free loopback ports, a fast upstream (``bench/upstream_app.py``), a pass-through
proxy on the hub's stack (``bench/passthrough.py``) and the real hub (``hub serve``) on a
fresh SQLite file and on a fresh PostgreSQL database, then loads each with ``wrk`` at
concurrency 1 and 32, one small JSON POST per request, and prints one table and the target
checks. It also checks that the hub logged one transaction per answered request. Beside the
latencies, each row shows where the CPU time of an answered request went (Linux ``/proc``):
the target's processes (the hub's include its log writer process), for the hub on
PostgreSQL the PostgreSQL server's processes, the upstream's, and ``wrk``'s; and the shares
of the machine's time that were idle and stolen by the host. On a machine where everything
shares the cores, that budget is what decides the throughput.

Each target gets ``--duration`` seconds per concurrency, measured in ``--rounds`` slices that
visit the targets in turn (rotating the order), so a change in the machine's load during the
run hits every target alike. Figures are medians over the slices; the checks compare the
slices of one round with each other. Needs ``wrk`` (``scripts/setup --bench``).
Exits 1 when a target or the logging check fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    CLIENT,
    WrkResult,
    basic_token,
    children_cpu_seconds,
    cpu_seconds,
    hub_env,
    hub_serving,
    machine_ticks,
    postgres_cpu_seconds,
    report,
    require_wrk,
    run_wrk,
    serving,
    tree_cpu_seconds,
)
from sqlalchemy import create_engine, func, make_url, select, text

from hub.transactions.models import Status, Transaction

CONCURRENCIES = (1, 32)
TARGET_RATIO = 0.70
TARGET_ADDED_P50_MS = 2.0
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


@dataclass(frozen=True, slots=True)
class Reading:
    """CPU time used so far, s: the target's processes, PostgreSQL's, the upstream's, the load's
    (ended ``wrk`` runs); and the machine's clock ticks (in all, idle, stolen)."""

    target: float
    postgres: float
    upstream: float
    load: float
    ticks: tuple[int, int, int]

    @classmethod
    def now(cls, target_pid: int, upstream_pid: int, *, postgres: bool) -> Reading:
        return cls(
            tree_cpu_seconds(target_pid),
            postgres_cpu_seconds() if postgres else 0.0,
            cpu_seconds(upstream_pid),
            children_cpu_seconds(),
            machine_ticks(),
        )


@dataclass(frozen=True, slots=True)
class Costs:
    """One slice's CPU time per answered request, µs, and the machine's idle and stolen shares."""

    target_us: float
    postgres_us: float
    upstream_us: float  # for the direct target, its own: counted once, under target_us
    load_us: float
    idle: float
    steal: float

    @classmethod
    def between(cls, before: Reading, after: Reading, requests: int, *, upstream: bool) -> Costs:
        per_request = 1e6 / max(1, requests)
        ticks, idle, steal = (b - a for a, b in zip(before.ticks, after.ticks, strict=True))
        return cls(
            (after.target - before.target) * per_request,
            (after.postgres - before.postgres) * per_request,
            (after.upstream - before.upstream) * per_request if upstream else 0.0,
            (after.load - before.load) * per_request,
            idle / max(1, ticks),
            steal / max(1, ticks),
        )


@dataclass
class Target:
    name: str
    url: str
    pid: int
    upstream_pid: int
    database_url: str | None = None
    slices: dict[int, list[WrkResult]] = field(default_factory=dict)
    costs: dict[int, list[Costs]] = field(default_factory=dict)
    answered: int = 0  # warm-ups included: the hub logs those too
    cut_off: int = 0  # requests wrk may have sent but not seen answered when a run ended

    def median(self, concurrency: int, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.slices[concurrency])

    def median_cost(self, concurrency: int, attribute: str) -> float:
        return statistics.median(getattr(c, attribute) for c in self.costs[concurrency])

    @property
    def on_postgresql(self) -> bool:
        return bool(self.database_url and self.database_url.startswith("postgresql"))


# -- processes ----------------------------------------------------------------------------------------


@contextmanager
def hub(name: str, database_url: str, config: Path, work: Path, upstream_pid: int) -> Iterator[Target]:
    """``hub db upgrade`` then ``hub serve`` on ``database_url``."""
    env = hub_env(database_url, config, embedded_worker=True)
    with hub_serving(name, env, work) as served:
        yield Target(name, served.url + PATH, served.pid, upstream_pid, database_url)


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
    token = basic_token()
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{REQUEST_BODY}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Basic {token}"\n'
    )
    return path


def wrk(target: Target, script: Path, concurrency: int, seconds: int) -> WrkResult:
    def reading() -> Reading:
        return Reading.now(target.pid, target.upstream_pid, postgres=target.on_postgresql)

    before = reading()
    result = run_wrk(target.url, script, concurrency=concurrency, seconds=seconds)
    costs = Costs.between(before, reading(), result.requests, upstream=target.upstream_pid != target.pid)
    target.costs.setdefault(concurrency, []).append(costs)
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
            target.slices[c], target.costs[c] = [], []
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
    """The figures, and where each request's CPU time went: the target's processes (the hub's
    include its log writer), PostgreSQL's, the upstream's and wrk's; with the machine's idle and
    stolen shares, a row shows whether the cores were full."""
    lines = [
        "| target | concurrency | requests/s | p50 ms | p99 ms | errors "
        "| CPU µs/req | PostgreSQL µs/req | upstream µs/req | wrk µs/req | idle | steal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in CONCURRENCIES:
        for t in targets:
            errors = sum(s.errors for s in t.slices[c])
            db_cpu = f"{t.median_cost(c, 'postgres_us'):.0f}" if t.on_postgresql else "-"
            upstream = f"{t.median_cost(c, 'upstream_us'):.0f}" if t.upstream_pid != t.pid else "-"
            lines.append(
                f"| {t.name} | {c} | {t.median(c, 'rps'):.0f} | {t.median(c, 'p50_ms'):.2f} "
                f"| {t.median(c, 'p99_ms'):.2f} | {errors} | {t.median_cost(c, 'target_us'):.0f} | {db_cpu} "
                f"| {upstream} | {t.median_cost(c, 'load_us'):.0f} | {t.median_cost(c, 'idle'):.0%} "
                f"| {t.median_cost(c, 'steal'):.0%} |"
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
    require_wrk()

    print(f"gateway benchmark: {environment()}; {args.duration}s per target and concurrency", flush=True)
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        script = write_script(work / "post.lua")
        env = dict(os.environ)
        upstream = stack.enter_context(
            serving("upstream", [sys.executable, "bench/upstream_app.py"], work, env)
        )
        proxy = stack.enter_context(
            serving("passthrough", [sys.executable, "bench/passthrough.py", upstream.url], work, env)
        )
        config = work / "hub.yaml"
        config.write_text(HUB_CONFIG.format(client=CLIENT, upstream=upstream.url))
        databases = [("hub-sqlite", f"sqlite:///{work / 'hub-bench.db'}")]
        if args.postgres_url:
            databases.append(("hub-postgresql", stack.enter_context(postgres_database(args.postgres_url))))
        direct = Target("direct", upstream.url + PATH, upstream.pid, upstream.pid)
        ceiling = Target("passthrough", proxy.url + PATH, proxy.pid, upstream.pid)
        hubs = [stack.enter_context(hub(name, url, config, work, upstream.pid)) for name, url in databases]
        targets = [direct, ceiling, *hubs]
        measure(targets, script, duration=args.duration, rounds=args.rounds, warmup=args.warmup)
        verdicts = checks(direct, ceiling, hubs) + [logged(h) for h in hubs]

    print()
    print(table(targets))
    print()
    return report(verdicts)


if __name__ == "__main__":
    sys.exit(main())
