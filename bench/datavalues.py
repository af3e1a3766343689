"""Benchmark: DHIS2 dataValueSet import, raw JSON parsing ceiling vs the hub's whole pipeline.

    .venv/bin/python bench/datavalues.py [--values 5000000] [--backends sqlite,postgresql]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--workdir /tmp/dv-bench]

Generates realistic metadata (10,101 org units, 200 data elements of which half disaggregated by
a 4-option combo, one monthly data set assigned to every facility) and one JSON dataValueSet of
``--values`` values, then runs each variant in its own child process and reports values/s and the
child's peak RSS (plus its writer process's, for the hub): (a) the fastest available JSON parser
reading the whole file (the ceiling) and (b) the hub's parse → resolve id schemes → validate →
store + queue (one DHIS2 target) per backend.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DISTRICTS = 100
FACILITIES_PER_DISTRICT = 100
ELEMENTS = 200
PERIOD = "202401"
SEX_AGE_COCS = ["BenchCoc001", "BenchCoc002", "BenchCoc003", "BenchCoc004"]


def uid(prefix: str, n: int) -> str:
    return f"{prefix}{n:0{11 - len(prefix)}d}"


def facilities() -> list[str]:
    return [uid("F", n) for n in range(DISTRICTS * FACILITIES_PER_DISTRICT)]


def metadata() -> dict[str, Any]:
    units = [{"id": "BenchRoot01", "name": "Country", "shortName": "Country", "openingDate": "2000-01-01"}]
    units += [
        {
            "id": uid("D", d),
            "name": f"District {d}",
            "shortName": f"D{d}",
            "openingDate": "2000-01-01",
            "parent": {"id": "BenchRoot01"},
        }
        for d in range(DISTRICTS)
    ]
    units += [
        {
            "id": f,
            "name": f"Facility {n}",
            "shortName": f"F{n}",
            "code": f"FAC{n}",
            "openingDate": "2000-01-01",
            "parent": {"id": uid("D", n // FACILITIES_PER_DISTRICT)},
        }
        for n, f in enumerate(facilities())
    ]
    options = [
        {"id": uid("Opt", n), "name": name, "shortName": name, "code": name}
        for n, name in enumerate(["F", "M", "U5", "O5"])
    ]
    elements = [
        {
            "id": uid("E", n),
            "name": f"Element {n}",
            "shortName": f"E{n}",
            "code": f"DE{n}",
            "valueType": "INTEGER_ZERO_OR_POSITIVE",
            "aggregationType": "SUM",
            "domainType": "AGGREGATE",
            "zeroIsSignificant": True,
            "categoryCombo": {"id": "BenchCombo1" if n % 2 else "bjDvmb4bfuf"},
        }
        for n in range(ELEMENTS)
    ]
    return {
        "organisationUnits": units,
        "categoryOptions": options,
        "categories": [
            {
                "id": "BenchSex001",
                "name": "Sex",
                "shortName": "Sex",
                "dataDimensionType": "DISAGGREGATION",
                "categoryOptions": [{"id": options[0]["id"]}, {"id": options[1]["id"]}],
            },
            {
                "id": "BenchAge001",
                "name": "Age",
                "shortName": "Age",
                "dataDimensionType": "DISAGGREGATION",
                "categoryOptions": [{"id": options[2]["id"]}, {"id": options[3]["id"]}],
            },
        ],
        "categoryCombos": [
            {
                "id": "BenchCombo1",
                "name": "Sex and age",
                "dataDimensionType": "DISAGGREGATION",
                "categories": [{"id": "BenchSex001"}, {"id": "BenchAge001"}],
            }
        ],
        "categoryOptionCombos": [
            {
                "id": coc,
                "name": f"combo {n}",
                "categoryCombo": {"id": "BenchCombo1"},
                "categoryOptions": [{"id": options[n // 2]["id"]}, {"id": options[2 + n % 2]["id"]}],
            }
            for n, coc in enumerate(SEX_AGE_COCS)
        ],
        "dataElements": elements,
        "dataSets": [
            {
                "id": "BenchDSet01",
                "name": "Monthly facility report",
                "periodType": "Monthly",
                "dataSetElements": [{"dataElement": {"id": e["id"]}} for e in elements],
                "organisationUnits": [{"id": f} for f in facilities()],
            }
        ],
    }


def write_payload(path: Path, count: int) -> None:
    """A dataValueSet of ``count`` values, written value by value."""
    combos = [
        (uid("E", n), coc) for n in range(ELEMENTS) for coc in (SEX_AGE_COCS if n % 2 else ["HllvX50cXC0"])
    ]
    with path.open("wb") as fh:
        fh.write(b'{"dataSet":"BenchDSet01","period":"' + PERIOD.encode() + b'","dataValues":[')
        written = 0
        for facility in facilities():
            for element, coc in combos:
                if written == count:
                    break
                value = {
                    "dataElement": element,
                    "period": PERIOD,
                    "orgUnit": facility,
                    "categoryOptionCombo": coc,
                    "attributeOptionCombo": "HllvX50cXC0",
                    "value": str(written % 997),
                    "followup": False,
                }
                fh.write((b"," if written else b"") + orjson.dumps(value))
                written += 1
        fh.write(b"]}")
    if written < count:
        raise SystemExit(f"metadata allows {written} distinct values, fewer than {count}")


def peak_rss_mb() -> float:
    """This process's peak plus its largest finished child's: the hub's writer process counts too."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def parse_orjson(payload: str) -> int:
    with open(payload, "rb") as fh:
        return len(orjson.loads(fh.read())["dataValues"])


class Value(msgspec.Struct):
    dataElement: str  # noqa: N815 - DHIS2's field names
    period: str
    orgUnit: str  # noqa: N815
    categoryOptionCombo: str  # noqa: N815
    attributeOptionCombo: str  # noqa: N815
    value: str
    followup: bool = False


class Payload(msgspec.Struct):
    dataValues: list[Value]  # noqa: N815


def parse_msgspec(payload: str) -> int:
    with open(payload, "rb") as fh:
        return len(msgspec.json.decode(fh.read(), type=Payload).dataValues)


def hub_import(payload: str, database_url: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from hub.db.session import Database
    from hub.dhis2.config import Dhis2Target
    from hub.dhis2.datavalues import log, service
    from hub.dhis2.datavalues.models import DataValue
    from hub.outbox.models import Delivery
    from hub.settings import Settings

    db = Database(database_url)
    target = Dhis2Target.model_validate(
        {
            "name": "national",
            "base_url": "https://dhis2.example.org",
            "auth": {"type": "basic", "username": "hub", "secret_env": "DHIS2_PW"},
        }
    )
    options = service.ImportOptions(fmt="json", params={}, client="bench", roots=("BenchRoot01",))
    settings = Settings(env="test")
    size = Path(payload).stat().st_size
    transaction_id, _ = log.open_entry(
        db,
        client="bench",
        method="POST",
        path="/api/dataValueSets",
        query="",
        headers={},
        body=None,
        size=size,
        instance=settings.instance_name,
    )
    started = time.perf_counter()
    with open(payload, "rb") as fh:
        summary = service.import_values(
            db,
            source=fh,
            options=options,
            transaction_id=transaction_id,
            targets=[target],
            settings=settings,
        )
    seconds = time.perf_counter() - started
    with db.session() as session:
        stored = session.scalar(select(func.count()).select_from(DataValue))
        queued = session.scalar(select(func.count()).select_from(Delivery))
    db.dispose()
    return {
        "seconds": seconds,
        "summary": summary.count.as_dict(),
        "status": summary.status,
        "stored": stored,
        "deliveries": queued,
    }


def _child(fn: Callable[..., Any], args: tuple[Any, ...], out: Any) -> None:
    started = time.perf_counter()
    result = fn(*args)
    # a variant that sets up (opens the DB, logs the transaction) times only its own work
    seconds = result.pop("seconds") if isinstance(result, dict) else time.perf_counter() - started
    out.put({"seconds": seconds, "result": result, "peak_rss_mb": peak_rss_mb()})


def measure(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a fresh process: its own peak RSS, untouched by the other variants."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, out))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"{fn.__name__} failed in its child process (exit code {proc.exitcode})")
    return out.get(timeout=10)


def prepare_database(url: str, doc: dict[str, Any]) -> None:
    from hub.db.migrate import upgrade
    from hub.db.session import Database
    from hub.dhis2.metadata.importer import import_metadata
    from hub.dhis2.metadata.stream import from_document

    upgrade(url)
    db = Database(url)
    with db.session() as session:
        report = import_metadata(session, source=from_document(doc))
        if report.status != "OK":
            raise SystemExit(f"metadata import failed: {report}")
    db.dispose()


def database_urls(backends: list[str], workdir: Path, pg_url: str) -> dict[str, str]:
    from sqlalchemy import create_engine, text

    urls = {}
    if "sqlite" in backends:
        path = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        urls["sqlite"] = f"sqlite:///{path}"
    if "postgresql" in backends:
        name = f"dv_bench_{uuid.uuid4().hex[:8]}"
        with create_engine(pg_url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        urls["postgresql"] = pg_url.rsplit("/", 1)[0] + "/" + name
    return urls


def drop_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    with create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--values", type=int, default=5_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "dv-bench"))
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    payload = workdir / f"dataValueSet-{args.values}.json"
    if not payload.exists():
        write_payload(payload, args.values)
    size_mb = payload.stat().st_size / 1e6
    units = DISTRICTS * FACILITIES_PER_DISTRICT + DISTRICTS + 1
    print(
        f"payload: {args.values:,} values, {size_mb:,.0f} MB; {units:,} org units, {ELEMENTS} data elements"
    )
    rows = []
    for name, fn in (
        ("(a) orjson.loads, whole file", parse_orjson),
        ("(a) msgspec typed decode", parse_msgspec),
    ):
        rows.append((name, measure(fn, str(payload))))
    doc = metadata()
    for backend, url in database_urls(args.backends.split(","), workdir, args.pg_url).items():
        try:
            prepare_database(url, doc)
            rows.append((f"(b) hub import, {backend}", measure(hub_import, str(payload), url)))
        finally:
            if backend == "postgresql":
                drop_database(args.pg_url, url.rsplit("/", 1)[1])
    print("\n| variant | seconds | values/s | peak RSS (MB) |\n|---|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['seconds']:.1f} | {args.values / r['seconds']:,.0f} | {r['peak_rss_mb']:.0f} |")
    for name, r in rows:
        if isinstance(r["result"], dict):
            print(f"{name}: {json.dumps(r['result'])}")


if __name__ == "__main__":
    main()
