"""Id schemes to metadata, for one import: what each identifier in the payload names.

Everything a value can name is loaded once per import into dictionaries keyed by the identifier
the payload uses (UID, code, name or an attribute value): 10,000 org units and a few hundred data
elements take a few megabytes, and each value then costs a few dictionary lookups, no queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.dhis2.datavalues.parsers import Disaggregation, Header
from hub.dhis2.metadata import models
from hub.dhis2.metadata.lookup import IdScheme
from hub.dhis2.metadata.schema import OBJECT_TYPES
from hub.dhis2.metadata.sharing import Sharing
from hub.errors import BadRequest

DEFAULT_COMBO = "HllvX50cXC0"  # every DHIS2 instance has it, so a metadata export may leave it out
DEFAULT_CATEGORY_COMBO = "bjDvmb4bfuf"
TYPE_NAMES: dict[type[models.Identifiable], str] = {t.model: t.simple_name for t in OBJECT_TYPES}
Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class DataSetInfo:
    uid: str
    period_type: str
    expiry_days: float
    open_future_periods: int
    category_combo_uid: str | None
    org_units: frozenset[str]


@dataclass(frozen=True, slots=True)
class DataElementInfo:
    uid: str
    value_type: str
    category_combo_uid: str | None
    option_codes: frozenset[str] | None
    zero_is_significant: bool
    data_sets: tuple[DataSetInfo, ...]
    # its own combo and those its data sets override it with (DHIS2's getCategoryCombos); None: default
    category_combos: frozenset[str | None]


@dataclass(frozen=True, slots=True)
class Schemes:
    data_element: IdScheme
    org_unit: IdScheme
    category_option_combo: IdScheme
    attribute_option_combo: IdScheme
    data_set: IdScheme
    general: IdScheme

    @classmethod
    def from_request(cls, params: dict[str, str], header: Header, default: str) -> Schemes:
        """Specific schemes beat ``idScheme``; the payload's own beat the query's."""
        merged = {**params, **header.id_schemes}
        try:
            general = IdScheme.parse(merged.get("idScheme"), IdScheme.parse(default))

            def pick(key: str) -> IdScheme:
                return IdScheme.parse(merged.get(key), general)

            return cls(
                data_element=pick("dataElementIdScheme"),
                org_unit=pick("orgUnitIdScheme"),
                category_option_combo=pick("categoryOptionComboIdScheme"),
                attribute_option_combo=pick("attributeOptionComboIdScheme"),
                data_set=pick("dataSetIdScheme"),
                general=general,
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc


def identifiers(session: Session, model: type[models.Identifiable], scheme: IdScheme) -> dict[str, str]:
    """identifier -> UID for every cached object of ``model`` that has an identifier under ``scheme``."""
    if scheme.kind == "attribute":
        av = models.AttributeValue
        query = select(av.value, av.object_uid).where(
            av.object_type == TYPE_NAMES[model], av.attribute_uid == scheme.attribute
        )
    else:
        column = {"uid": model.uid, "code": model.code, "name": model.name}[scheme.kind]
        query = select(column, model.uid).where(column.is_not(None))
    found: dict[str, str] = {}
    for identifier, uid in session.execute(query):
        found.setdefault(identifier, uid)
    return found


class Resolver:
    """Answers "what does this identifier name?" for one import, from memory."""

    def __init__(self, session: Session, *, schemes: Schemes, roots: Iterable[str]) -> None:
        self.schemes = schemes
        self.data_sets = _data_sets(session)
        self._data_set_ids = identifiers(session, models.DataSet, schemes.data_set)
        self._cocs = _option_combos(session)
        self.default_coc = DEFAULT_COMBO if DEFAULT_COMBO in self._cocs else _default_by_name(session)
        self._cocs.setdefault(self.default_coc, (DEFAULT_CATEGORY_COMBO, frozenset()))
        self._coc_ids = self._combo_ids(session, schemes.category_option_combo)
        self._aoc_ids = self._combo_ids(session, schemes.attribute_option_combo)
        self._data_elements = self._load_data_elements(session)
        self._org_units = self._load_org_units(session, frozenset(roots))
        self._options = identifiers(session, models.CategoryOption, schemes.general)
        self._categories = identifiers(session, models.Category, schemes.general)
        self._combos: dict[tuple[Pairs, str | None], str | None] = {}
        self._sharing = _option_sharing(session)
        self._combo_members: dict[frozenset[str | None], frozenset[str]] = {}

    def _combo_ids(self, session: Session, scheme: IdScheme) -> dict[str, str]:
        ids = identifiers(session, models.CategoryOptionCombo, scheme)
        ids.setdefault(self.default_coc if scheme.kind == "uid" else "default", self.default_coc)
        return ids

    def _load_data_elements(self, session: Session) -> dict[str, DataElementInfo]:
        de, option = models.DataElement, models.Option
        by_element: dict[str, list[DataSetInfo]] = defaultdict(list)
        overrides: dict[str, set[str]] = defaultdict(set)
        dse = models.DataSetElement
        for data_set, element, combo in session.execute(
            select(dse.data_set_uid, dse.data_element_uid, dse.category_combo_uid)
        ):
            by_element[element].append(self.data_sets[data_set])
            if combo:
                overrides[element].add(combo)
        codes: dict[str, set[str]] = defaultdict(set)
        for option_set, code in session.execute(select(option.option_set_uid, option.code)):
            if option_set and code is not None:
                codes[option_set].add(code)
        infos = {
            r.uid: DataElementInfo(
                r.uid,
                r.value_type,
                r.category_combo_uid,
                frozenset(codes[r.option_set_uid]) if r.option_set_uid else None,
                bool(r.zero_is_significant),
                tuple(by_element.get(r.uid, ())),
                frozenset({r.category_combo_uid, *overrides.get(r.uid, ())}),
            )
            for r in session.execute(
                select(
                    de.uid, de.value_type, de.category_combo_uid, de.option_set_uid, de.zero_is_significant
                )
            )
        }
        ids = identifiers(session, de, self.schemes.data_element)
        return {identifier: infos[uid] for identifier, uid in ids.items() if uid in infos}

    def _load_org_units(self, session: Session, roots: frozenset[str]) -> dict[str, tuple[str, bool]]:
        """identifier -> (UID, inside the client's hierarchy: one of its roots is on the path)."""
        ou = models.OrgUnit
        inside = {
            uid: not roots.isdisjoint((path or f"/{uid}").split("/"))
            for uid, path in session.execute(select(ou.uid, ou.path))
        }
        ids = identifiers(session, ou, self.schemes.org_unit)
        return {identifier: (uid, inside[uid]) for identifier, uid in ids.items() if uid in inside}

    # -- answers ---------------------------------------------------------------------------------

    def data_element(self, identifier: str) -> DataElementInfo | None:
        return self._data_elements.get(identifier)

    def org_unit(self, identifier: str) -> tuple[str, bool] | None:
        """(UID, inside the client's hierarchy) or None when unknown."""
        return self._org_units.get(identifier)

    def data_set(self, identifier: str) -> DataSetInfo | None:
        uid = self._data_set_ids.get(identifier)
        return self.data_sets.get(uid) if uid else None

    def category_option_combo(self, given: Disaggregation, combo: str | None) -> str | None:
        return self._combo(given, combo, self._coc_ids)

    def attribute_option_combo(self, given: Disaggregation, combo: str | None) -> str | None:
        return self._combo(given, combo, self._aoc_ids)

    def option_combos(self, combos: frozenset[str | None]) -> frozenset[str]:
        """The option combos of these category combos (None: the default combo), computed once each."""
        members = self._combo_members.get(combos)
        if members is None:
            owners = {combo or self.default_combo for combo in combos}
            members = frozenset(uid for uid, (owner, _) in self._cocs.items() if owner in owners)
            self._combo_members[combos] = members
        return members

    @property
    def default_combo(self) -> str:
        return self._cocs[self.default_coc][0] or DEFAULT_CATEGORY_COMBO

    def category_options(self, option_combo: str) -> frozenset[str]:
        """The category options an option combo is made of (UIDs)."""
        return self._cocs.get(option_combo, (None, frozenset()))[1]

    def sharing(self, category_option: str) -> Sharing | None:
        """The category option's sharing; None when the metadata said nothing (public)."""
        return self._sharing.get(category_option)

    def _combo(self, given: Disaggregation, combo: str | None, ids: dict[str, str]) -> str | None:
        if isinstance(given, str):
            return ids.get(given)
        if not given:
            return None
        if (given, combo) not in self._combos:
            self._combos[given, combo] = self._by_options(given, combo)
        return self._combos[given, combo]

    def _by_options(self, pairs: Pairs, combo: str | None) -> str | None:
        """ADX ``category="option"`` pairs -> the option combo (of ``combo``) made of those options."""
        if any(category not in self._categories for category, _ in pairs):
            return None
        options = frozenset(self._options.get(option) for _, option in pairs)
        if None in options:
            return None
        return next(
            (uid for uid, (owner, opts) in self._cocs.items() if opts == options and combo in (None, owner)),
            None,
        )


def _data_sets(session: Session) -> dict[str, DataSetInfo]:
    ds, dso = models.DataSet, models.DataSetOrgUnit
    org_units: dict[str, set[str]] = defaultdict(set)
    for data_set, org_unit in session.execute(select(dso.data_set_uid, dso.org_unit_uid)):
        org_units[data_set].add(org_unit)
    rows = session.execute(
        select(ds.uid, ds.period_type, ds.expiry_days, ds.open_future_periods, ds.category_combo_uid)
    )
    return {
        uid: DataSetInfo(uid, period_type, expiry or 0, future or 0, combo, frozenset(org_units[uid]))
        for uid, period_type, expiry, future, combo in rows
    }


def _option_combos(session: Session) -> dict[str, tuple[str | None, frozenset[str]]]:
    """Every option combo: uid -> (its category combo, its category options)."""
    coc, option = models.CategoryOptionCombo, models.CategoryOptionComboOption
    options: dict[str, set[str]] = defaultdict(set)
    for combo, category_option in session.execute(
        select(option.category_option_combo_uid, option.category_option_uid)
    ):
        options[combo].add(category_option)
    return {
        uid: (combo, frozenset(options[uid]))
        for uid, combo in session.execute(select(coc.uid, coc.category_combo_uid))
    }


def _option_sharing(session: Session) -> dict[str, Sharing]:
    """category option -> its sharing, for the options whose metadata had any."""
    option = models.CategoryOption
    rows = session.execute(select(option.uid, option.sharing))
    return {uid: sharing for uid, sharing in rows if sharing is not None}


def _default_by_name(session: Session) -> str:
    coc = models.CategoryOptionCombo
    return session.scalar(select(coc.uid).where(coc.name == "default").limit(1)) or DEFAULT_COMBO
