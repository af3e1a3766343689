"""Checks each data value as DHIS2's DataValueSetImportValidator does, in its order, stopping at
the first conflict; a value that passes comes out as a row ready to store (every id a UID).

Set level: unknown data set (E7600), no data set under ``strictDataElements`` (E7602), org unit
(E7603), attribute option combo (E7604) abort the import. Value level: E7610-E7613/E7615 unknown
ids, E7611 period syntax, E7614/E7616 an option of the combo the client may not write data to
(category option sharing), E7617 outside the client's hierarchy, E7618 no value, E7619 value type,
E7620 comment, E7621 option set, E7630/E7631 option combo required, E7632 period type of the data
set(s), E7633-E7635 the strict options, E7636 org unit not assigned to the data set(s), E7640
expired, E7641 after the latest open future period (E7640/E7641 waived by a superuser's ``force``).
A zero the data element does not store is ignored. A value without ``storedBy`` is stored by the
posting client, as DHIS2 stores it by the current user; the set's ``period``, ``orgUnit`` and
``attributeOptionCombo``, when given, override each value's, as in DHIS2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from hub.auth.principal import ADMIN_ROLE
from hub.dhis2.datavalues import periods, value_types
from hub.dhis2.datavalues.parsers import Disaggregation, Header, RawValue
from hub.dhis2.datavalues.resolver import DataElementInfo, DataSetInfo, Resolver
from hub.dhis2.datavalues.summary import Code, ImportSummary
from hub.dhis2.metadata.sharing import can_write_data

NUMERIC_TYPES = frozenset(
    {"NUMBER", "INTEGER", "INTEGER_POSITIVE", "INTEGER_NEGATIVE", "INTEGER_ZERO_OR_POSITIVE",
     "UNIT_INTERVAL", "PERCENTAGE"}
)  # fmt: skip
COMMENT_MAX_LENGTH = 50_000
STORED_BY_MAX_LENGTH = 255  # DHIS2's, and the store's column
# org unit, period, data element, category option combo, attribute option combo,
# value, comment, stored by, followup, remove, numeric value (for min/max)
Row = tuple[str, str, str, str, str, str | None, str | None, str | None, bool, bool, float | None]
DELETE = "DELETE"
# a conflict code and the arguments of each conflict it raises (E7614: one per option)
Problem = tuple[Code, tuple[tuple[str, ...], ...]]


def stored_by_problem(stored_by: str) -> str | None:
    """DHIS2's error key for a ``storedBy`` the store cannot hold; None when it can."""
    if len(stored_by) > STORED_BY_MAX_LENGTH:
        return "stored_by_length_greater_than_max_length"
    if "\x00" in stored_by:  # PostgreSQL's text cannot hold it
        return "stored_by_contains_nul_character"
    return None


def _one(code: Code, *args: str) -> Problem:
    return code, (args,)


@dataclass(frozen=True, slots=True)
class Rules:
    """The request's options that change validation, and what the posting client may do.

    DHIS2 takes the options as query parameters of ``POST /api/dataValueSets``; ``force`` counts
    only for a superuser (a client with the ``admin`` role), as DHIS2 ignores it for anyone else.
    A client's roles stand for the DHIS2 user groups it is a member of, for category option sharing.
    ``preheatCache`` and ``skipAudit`` are accepted and change nothing here.
    """

    groups: frozenset[str] = frozenset()
    superuser: bool = False
    force: bool = False
    strict_data_elements: bool = False
    strict_category_option_combos: bool = False
    strict_attribute_option_combos: bool = False
    require_category_option_combo: bool = False
    require_attribute_option_combo: bool = False

    @classmethod
    def from_request(cls, flag: Callable[[str], bool], roles: Iterable[str]) -> Rules:
        """From the request's boolean parameters (``flag(name)``) and the client's roles."""
        groups = frozenset(roles)
        superuser = ADMIN_ROLE in groups
        return cls(
            groups=groups,
            superuser=superuser,
            force=superuser and flag("force"),
            strict_data_elements=flag("strictDataElements"),
            strict_category_option_combos=flag("strictCategoryOptionCombos"),
            strict_attribute_option_combos=flag("strictAttributeOptionCombos"),
            require_category_option_combo=flag("requireCategoryOptionCombo"),
            require_attribute_option_combo=flag("requireAttributeOptionCombo"),
        )


@dataclass(frozen=True, slots=True)
class SetContext:
    """What the dataValueSet itself says, resolved once, and the rules of the request."""

    data_set: DataSetInfo | None
    org_unit: tuple[str, bool] | None  # (UID, inside the client's hierarchy)
    attribute_option_combo: str | None
    period: str | None
    rules: Rules = field(default_factory=Rules)


def set_context(
    header: Header, resolver: Resolver, summary: ImportSummary, rules: Rules | None = None
) -> SetContext | None:
    """Resolve the set-level fields; None (and the summary aborted) when one names nothing."""
    rules = rules or Rules()
    data_set = resolver.data_set(header.data_set) if header.data_set else None
    if header.data_set and data_set is None:
        summary.abort(Code.E7600, header.data_set)
    if rules.strict_data_elements and not header.data_set and not header.grouped:
        summary.abort(Code.E7602)
    org_unit = resolver.org_unit(header.org_unit) if header.org_unit else None
    if header.org_unit and org_unit is None:
        summary.abort(Code.E7603, header.org_unit)
    aoc = None
    if header.attribute_option_combo:
        aoc = resolver.attribute_option_combo(header.attribute_option_combo, None)
        if aoc is None:
            summary.abort(Code.E7604, header.attribute_option_combo)
    if summary.aborted:
        return None
    return SetContext(data_set, org_unit, aoc, header.period, rules)


class DataWriteAccess:
    """Which options of an option combo the client may not write data to, by category option sharing.

    A superuser writes everything. Each option is decided once per import, each combo too.
    """

    def __init__(self, resolver: Resolver, rules: Rules) -> None:
        self.resolver = resolver
        self.rules = rules
        self._writable: dict[str, bool] = {}
        self._denied: dict[str, tuple[str, ...]] = {}

    def denied(self, option_combo: str | None) -> tuple[str, ...]:
        """The combo's options (UIDs, sorted) the client may not write data to; none for no combo."""
        if option_combo is None or self.rules.superuser:
            return ()
        found = self._denied.get(option_combo)
        if found is None:
            options = self.resolver.category_options(option_combo)
            found = self._denied[option_combo] = tuple(sorted(o for o in options if not self._may_write(o)))
        return found

    def _may_write(self, option: str) -> bool:
        allowed = self._writable.get(option)
        if allowed is None:
            allowed = can_write_data(self.resolver.sharing(option), self.rules.groups)
            self._writable[option] = allowed
        return allowed


@dataclass(frozen=True, slots=True)
class Target:
    """What a value's (data element, COC, AOC, data set) identifiers resolve to, cached per import,
    with the conflicts that depend on nothing else."""

    element: DataElementInfo | None
    coc: str
    aoc: str
    data_set: DataSetInfo | None
    org_units: frozenset[str] | None  # where the data set(s) are assigned; None: no data set says
    combo_problem: Problem | None = None  # E7613-E7616
    required_problem: Problem | None = None  # E7630, E7631
    strict_problem: Problem | None = None  # E7633-E7635


class Validator:
    """Turns raw values into storable rows, recording conflicts in ``summary``.

    Millions of values name a few thousand distinct things, so every answer that depends only on
    identifiers (what they resolve to, whether a period suits the data sets) is computed once.
    """

    def __init__(
        self,
        resolver: Resolver,
        context: SetContext,
        summary: ImportSummary,
        *,
        strategy: str,
        client: str,
        today: date,
    ) -> None:
        self.resolver = resolver
        self.context = context
        self.rules = context.rules
        self.summary = summary
        self.delete_all = strategy == DELETE
        self.client = client
        self.today = today
        self.access = DataWriteAccess(resolver, context.rules)
        self._targets: dict[tuple[object, ...], Target] = {}
        self._assigned: dict[tuple[str, ...], frozenset[str]] = {}
        self._period_checks: dict[tuple[str, str, str | None], tuple[Problem | None, Problem | None]] = {}

    def _target(
        self, de_id: str | None, coc_id: Disaggregation, aoc_id: Disaggregation, ds_id: str | None
    ) -> Target:
        resolver, ctx = self.resolver, self.context
        element = resolver.data_element(de_id) if de_id else None
        data_set = resolver.data_set(ds_id) if ds_id else ctx.data_set
        coc = None
        if element is not None and coc_id:
            coc = resolver.category_option_combo(coc_id, element.category_combo_uid)
        combo = data_set.category_combo_uid if data_set else None
        aoc = resolver.attribute_option_combo(aoc_id, combo) if aoc_id else ctx.attribute_option_combo
        final_coc, final_aoc = coc or resolver.default_coc, aoc or resolver.default_coc
        org_units = self._org_units(element, data_set)
        if element is None:
            return Target(element, final_coc, final_aoc, data_set, org_units)
        shown_coc = _show(coc_id) if coc_id else final_coc
        shown_aoc = _show(aoc_id) if aoc_id else final_aoc
        return Target(
            element,
            final_coc,
            final_aoc,
            data_set,
            org_units,
            self._combo_problem((shown_coc, coc_id, coc), (shown_aoc, aoc_id, aoc)),
            self._required_problem(coc_id, aoc),
            self._strict_problem(element, data_set, (shown_coc, final_coc), (shown_aoc, final_aoc)),
        )

    def _org_units(
        self, element: DataElementInfo | None, data_set: DataSetInfo | None
    ) -> frozenset[str] | None:
        """Where the value's data set, else its element's data sets, are assigned (None: no data set)."""
        data_sets = (data_set,) if data_set else element.data_sets if element else ()
        if not data_sets:
            return None
        key = tuple(ds.uid for ds in data_sets)
        if key not in self._assigned:
            self._assigned[key] = frozenset().union(*(ds.org_units for ds in data_sets))
        return self._assigned[key]

    def _combo_problem(
        self, coc: tuple[str, Disaggregation, str | None], aoc: tuple[str, Disaggregation, str | None]
    ) -> Problem | None:
        """E7613-E7616 for (shown, given, resolved) combos: unknown, then an option not writable.

        As in DHIS2, the COC's options are checked when the value names it, the AOC's when the
        value or the set does; the default combo they fall back to is not checked.
        """
        for (shown, given, uid), unknown, denied in (
            (coc, Code.E7613, Code.E7614),
            (aoc, Code.E7615, Code.E7616),
        ):
            if given and uid is None:
                return _one(unknown, shown)
            if options := self.access.denied(uid):
                return denied, tuple((shown, option) for option in options)
        return None

    def _required_problem(self, coc_id: Disaggregation, aoc: str | None) -> Problem | None:
        """E7630/E7631: ``require*OptionCombo`` and the value (or, for the AOC, the set) names none."""
        if self.rules.require_category_option_combo and not coc_id:
            return _one(Code.E7630)
        if self.rules.require_attribute_option_combo and aoc is None:
            return _one(Code.E7631)
        return None

    def _strict_problem(
        self,
        element: DataElementInfo,
        data_set: DataSetInfo | None,
        coc: tuple[str, str],
        aoc: tuple[str, str],
    ) -> Problem | None:
        """E7633-E7635 under the strict options, for (shown, UID) combos."""
        rules, resolver = self.rules, self.resolver
        if (
            rules.strict_data_elements
            and data_set is not None
            and all(ds.uid != data_set.uid for ds in element.data_sets)
        ):
            return _one(Code.E7633, element.uid, data_set.uid)
        if rules.strict_category_option_combos and coc[1] not in resolver.option_combos(
            element.category_combos
        ):
            return _one(Code.E7634, coc[0], element.uid)
        data_set_combos = frozenset(ds.category_combo_uid for ds in element.data_sets)
        if rules.strict_attribute_option_combos and aoc[1] not in resolver.option_combos(data_set_combos):
            return _one(Code.E7635, aoc[0], element.uid)
        return None

    def check(self, index: int, raw: RawValue) -> Row | None:
        """The row to store, or None when the value is rejected (conflict recorded) or ignored."""
        de_id, pe_id, ou_id, coc_id, aoc_id, value, comment, stored_by, followup, deleted, ds_id = raw
        summary, ctx = self.summary, self.context
        if ctx.attribute_option_combo is not None:
            aoc_id = None  # the set's period, org unit and attribute option combo win over the value's
        key = (de_id, coc_id, aoc_id, ds_id)
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = self._target(de_id, coc_id, aoc_id, ds_id)
        element = target.element
        if element is None:
            return summary.conflict(index, Code.E7610, de_id or "")
        pe_id = ctx.period or pe_id
        period = periods.parse(pe_id) if pe_id else None
        if period is None:
            return summary.conflict(index, Code.E7611, pe_id or "")
        unit = ctx.org_unit or (self.resolver.org_unit(ou_id) if ou_id else None)
        if unit is None:
            return summary.conflict(index, Code.E7612, ou_id or "")
        if target.combo_problem is not None:
            return summary.reject(index, *target.combo_problem)
        if not unit[1]:
            return summary.conflict(index, Code.E7617, ou_id or unit[0], self.client)
        remove = deleted or self.delete_all
        numeric = None
        if not remove:
            if value is None and comment is None:
                return summary.conflict(index, Code.E7618, element.uid)
            if value is not None:
                value_type = element.value_type
                if value_type in value_types.BOOLEAN_TYPES:
                    value = value_types.normalise(value, value_type)
                problem = value_types.error(value, value_type)
                if problem:
                    return summary.conflict(index, Code.E7619, element.uid, problem)
                if element.option_codes is not None and value not in element.option_codes:
                    return summary.conflict(index, Code.E7621, element.uid)
                if value_type in NUMERIC_TYPES:
                    numeric = float(value)
                    if numeric == 0 and not element.zero_is_significant:
                        summary.count.ignored += 1
                        return None
            if comment is not None and len(comment) > COMMENT_MAX_LENGTH:
                return summary.conflict(index, Code.E7620, "comment_length_greater_than_max_length")
            if comment is not None and "\x00" in comment:
                return summary.conflict(index, Code.E7620, "comment_contains_nul_character")
        if stored_by is not None and (problem := stored_by_problem(stored_by)):
            return summary.conflict(index, Code.E7637, problem)
        if target.required_problem is not None:
            return summary.reject(index, *target.required_problem)
        data_set = target.data_set
        period_key = (period.iso, element.uid, data_set.uid if data_set else None)
        found = self._period_checks.get(period_key)
        if found is None:
            found = self._period_checks[period_key] = self._period_problems(period, element, data_set)
        if found[0] is not None:
            return summary.reject(index, *found[0])
        if target.strict_problem is not None:
            return summary.reject(index, *target.strict_problem)
        if target.org_units is not None and unit[0] not in target.org_units:
            return summary.conflict(index, Code.E7636, ou_id or unit[0], element.uid)
        if found[1] is not None:
            return summary.reject(index, *found[1])
        return (unit[0], period.iso, element.uid, target.coc, target.aoc,  # type: ignore[return-value]
                value, comment, stored_by if stored_by and stored_by.strip() else self.client,
                followup, remove, numeric)  # fmt: skip

    def _period_problems(
        self, period: periods.Period, element: DataElementInfo, data_set: DataSetInfo | None
    ) -> tuple[Problem | None, Problem | None]:
        """(E7632, E7640 or E7641) for ``period``: they depend only on the period and the data sets."""
        data_sets = (data_set,) if data_set else element.data_sets
        if not data_sets:
            return None, None
        relevant = [ds for ds in data_sets if ds.period_type == period.period_type]
        if not relevant:
            return _one(Code.E7632, period.iso, element.uid), None
        if self.rules.force:
            return None, None
        return None, self._input_closed(period, element, relevant)

    def _input_closed(
        self, period: periods.Period, element: DataElementInfo, data_sets: list[DataSetInfo]
    ) -> Problem | None:
        """E7640 when every data set's expiry days are past, E7641 when after the open future periods."""
        if not any(
            ds.expiry_days <= 0 or self.today <= period.end + timedelta(days=ds.expiry_days)
            for ds in data_sets
        ):
            return _one(Code.E7640, period.iso, data_sets[0].uid)
        current = periods.containing(period.period_type, self.today)
        if current is not None:
            latest = periods.shift(current, max(ds.open_future_periods for ds in data_sets))
            if period.start > latest.end:
                return _one(Code.E7641, period.iso, element.uid, latest.iso)
        return None


def _show(disaggregation: str | tuple[tuple[str, str], ...]) -> str:
    """An option combo as the payload named it (ADX: ``Sex=F,Age=<5``)."""
    if isinstance(disaggregation, str):
        return disaggregation
    return ",".join(f"{category}={option}" for category, option in disaggregation)
