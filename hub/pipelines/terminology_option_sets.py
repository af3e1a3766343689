"""Keep DHIS2 option sets in step with the hub's value sets (ICD-10 first).

``build_payload`` reads the hub (the value set's expansion as a metadata payload with derived
UIDs); ``push`` compares it with what DHIS2 has and imports it only when something changed, so
a daily run against an unchanged value set sends nothing. The Airflow DAG
``dags/terminology_option_sets.py`` and ``hub terminology push-option-set`` run these same
functions.

Example::

    payload = build_payload(db, value_set_url=icd10.CODES_VALUE_SET)
    with Dhis2Client(config) as dhis2:
        result = push(dhis2, payload)
    print(result.changes.added, result.report.stats if result.report else "unchanged")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.common.errors import AdapterError
from adapters.dhis2 import Dhis2Client, ImportReport, ReportStatus
from hub.db.session import Database
from hub.dhis2.config import load as load_dhis2_settings
from hub.settings import Settings
from terminology import dhis2, icd10
from terminology.catalog import catalog_for

FIELDS = "id,code,name,options[id,code,name,sortOrder]"


class PushRejected(RuntimeError):
    """DHIS2 refused the option set import; the message lists its error reports."""

    def __init__(self, report: ImportReport) -> None:
        errors = "; ".join(f"{e.error_code}: {e.message}" for e in report.error_reports[:5]) or report.message
        super().__init__(f"DHIS2 refused the option set ({report.status}): {errors}")
        self.report = report


@dataclass
class Changes:
    """How the payload differs from the option set in DHIS2, by option code."""

    option_set: str  # UID
    created: bool = False  # the option set is new to DHIS2
    renamed: bool = False  # its code or name changed
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # name or order
    removed: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return self.created or self.renamed or bool(self.added or self.changed or self.removed)


@dataclass
class PushResult:
    changes: Changes
    report: ImportReport | None  # None when nothing needed sending

    def summary(self) -> dict[str, Any]:
        return {
            "option_set": self.changes.option_set,
            "created": self.changes.created,
            "added": len(self.changes.added),
            "changed": len(self.changes.changed),
            "removed": len(self.changes.removed),
            "imported": self.report is not None,
            "status": str(self.report.status) if self.report else None,
        }


def build_payload(
    db: Database,
    *,
    value_set_url: str,
    version: str | None = None,
    code: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The DHIS2 metadata payload for value set ``value_set_url`` as stored in the hub."""
    return dhis2.for_value_set(catalog_for(db), url=value_set_url, version=version, code=code, name=name)


def current(client: Dhis2Client, uid: str) -> dict[str, Any] | None:
    """The option set as DHIS2 has it, or None when DHIS2 does not have it."""
    try:
        return client.get(f"optionSets/{uid}", params={"fields": FIELDS})
    except AdapterError as exc:
        if exc.status == 404:
            return None
        raise


def compare(payload: dict[str, Any], existing: dict[str, Any] | None) -> Changes:
    wanted = payload["optionSets"][0]
    changes = Changes(option_set=wanted["id"])
    if existing is None:
        changes.created = True
        changes.added = [o["code"] for o in payload["options"]]
        return changes
    changes.renamed = (existing.get("code"), existing.get("name")) != (wanted["code"], wanted["name"])
    have = {o.get("code"): o for o in existing.get("options", [])}
    for option in payload["options"]:
        old = have.pop(option["code"], None)
        if old is None:
            changes.added.append(option["code"])
        elif (old.get("id"), old.get("name"), old.get("sortOrder")) != (
            option["id"],
            option["name"],
            option["sortOrder"],
        ):
            changes.changed.append(option["code"])
    changes.removed = sorted(str(code) for code in have)
    return changes


def push(client: Dhis2Client, payload: dict[str, Any], *, dry_run: bool = False) -> PushResult:
    """Import ``payload`` into DHIS2 when it differs from what DHIS2 has (validate only if ``dry_run``)."""
    changes = compare(payload, current(client, payload["optionSets"][0]["id"]))
    if not changes.any:
        return PushResult(changes, None)
    report = client.metadata.import_(payload, import_mode="VALIDATE" if dry_run else "COMMIT")
    if report.status is ReportStatus.ERROR:
        raise PushRejected(report)
    return PushResult(changes, report)


def run(settings: Settings) -> dict[str, Any]:
    """``hub run terminology-option-sets``: push the ICD-10 codes to the ``metadata_source`` DHIS2."""
    from hub.pipelines.dhis2_metadata_sync import adapter_config

    dhis2_settings = load_dhis2_settings(settings.config)
    if not dhis2_settings.metadata_source:
        raise ValueError("dhis2.metadata_source is not set in the hub's YAML file")
    db = Database(settings.database_url)
    try:
        payload = build_payload(db, value_set_url=icd10.CODES_VALUE_SET)
    finally:
        db.dispose()
    with Dhis2Client(adapter_config(dhis2_settings.target(dhis2_settings.metadata_source))) as client:
        return push(client, payload).summary()
