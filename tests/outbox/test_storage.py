"""How delivery bodies are stored: whole, and on PostgreSQL compressed with lz4 rather than pglz."""

from __future__ import annotations

import orjson
from sqlalchemy import select, text

from hub.db.session import Database
from hub.outbox.models import Delivery
from hub.outbox.service import DeliverySpec, enqueue


def test_big_delivery_bodies_are_kept_whole_and_lz4_compressed_on_postgresql(db: Database) -> None:
    values = [{"dataElement": f"E{i:010d}", "orgUnit": "O6uvpzGd5pu", "value": str(i)} for i in range(20_000)]
    body = orjson.dumps({"dataValues": values})
    spec = DeliverySpec("dhis2:national", "POST", "https://dhis2.example.org/api/dataValueSets",
                        {"content-type": "application/json"}, body, 30.0, 5)  # fmt: skip
    with db.session() as session:
        enqueue(session, transaction_id=None, deliveries=[spec])
    with db.session() as session:
        assert session.scalars(select(Delivery.body)).one() == body
        if db.dialect == "postgresql":
            method = session.scalar(text("SELECT pg_column_compression(body) FROM deliveries"))
            assert method == "lz4"
