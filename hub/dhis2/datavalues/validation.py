"""Checks each data value as DHIS2's DataValueSetImportValidator does, in its order, stopping at
the first conflict; a value that passes comes out as a row ready to store (every id a UID).

Set level: unknown data set (E7600), org unit (E7603), attribute option combo (E7604) abort the
import. Value level: E7610-E7613/E7615 unknown ids, E7611 period syntax, E7617 outside the
client's hierarchy, E7618 no value, E7619 value type, E7620 comment, E7621 option set, E7632
period type of the data set(s), E7636 org unit not assigned to the data set(s), E7640 expired,
E7641 after the latest open future period. A zero the data element does not store is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hub.dhis2.datavalues import periods, value_types
from hub.dhis2.datavalues.parsers import Disaggregation, Header, RawValue
from hub.dhis2.datavalues.resolver import DataElementInfo, DataSetInfo, Resolver
from hub.dhis2.datavalues.summary import Code, ImportSummary

NUMERIC_TYPES = frozenset(
    {"NUMBER", "INTEGER", "INTEGER_POSITIVE", "INTEGER_NEGATIVE", "INTEGER_ZERO_OR_POSITIVE",
     "UNIT_INTERVAL", "PERCENTAGE"}
)  # fmt: skip
COMMENT_MAX_LENGTH = 50_000
# org unit, period, data element, category option combo, attribute option combo,
# value, comment, stored by, followup, remove, numeric value (for min/max)
Row = tuple[str, str, str, str, str, str | None, str | None, str | None, bool, bool, float | None]
DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class SetContext:
    """What the dataValueSet itself says, resolved once."""

    data_set: DataSetInfo | None
    org_unit: tuple[str, bool] | None  # (UID, inside the client's hierarchy)
    attribute_option_combo: str | None
    period: str | None


def set_context(header: Header, resolver: Resolver, summary: ImportSummary) -> SetContext | None:
    """Resolve the set-level fields; None (and the summary aborted) when one names nothing."""
    data_set = resolver.data_set(header.data_set) if header.data_set else None
    if header.data_set and data_set is None:
        summary.abort(Code.E7600, header.data_set)
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
    return SetContext(data_set, org_unit, aoc, header.period)


@dataclass(frozen=True, slots=True)
class Target:
    """What a value's (data element, COC, AOC, data set) identifiers resolve to, cached per import."""

    element: DataElementInfo | None
    coc: str | None
    coc_error: str | None  # the identifier as given, when it names nothing
    aoc: str | None
    aoc_error: str | None
    data_set: DataSetInfo | None
    org_units: frozenset[str] | None  # where the data set(s) are assigned; None: no data set says


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
        self.summary = summary
        self.delete_all = strategy == DELETE
        self.client = client
        self.today = today
        self._targets: dict[tuple[object, ...], Target] = {}
        self._assigned: dict[tuple[str, ...], frozenset[str]] = {}
        self._period_checks: dict[tuple[str, str, str | None], tuple[Code, tuple[str, ...]] | None] = {}

    def _target(
        self, de_id: str | None, coc_id: Disaggregation, aoc_id: Disaggregation, ds_id: str | None
    ) -> Target:
        resolver, ctx = self.resolver, self.context
        element = resolver.data_element(de_id) if de_id else None
        data_set = resolver.data_set(ds_id) if ds_id else ctx.data_set
        coc = aoc = None
        if element is not None and coc_id:
            coc = resolver.category_option_combo(coc_id, element.category_combo_uid)
        combo = data_set.category_combo_uid if data_set else None
        aoc = resolver.attribute_option_combo(aoc_id, combo) if aoc_id else ctx.attribute_option_combo
        data_sets = (data_set,) if data_set else element.data_sets if element else ()
        org_units = None
        if data_sets:
            key = tuple(ds.uid for ds in data_sets)
            if key not in self._assigned:
                self._assigned[key] = frozenset().union(*(ds.org_units for ds in data_sets))
            org_units = self._assigned[key]
        return Target(
            element,
            coc or resolver.default_coc,
            _show(coc_id) if coc_id and coc is None else None,
            aoc or resolver.default_coc,
            _show(aoc_id) if aoc_id and aoc is None else None,
            data_set,
            org_units,
        )

    def check(self, index: int, raw: RawValue) -> Row | None:
        """The row to store, or None when the value is rejected (conflict recorded) or ignored."""
        de_id, pe_id, ou_id, coc_id, aoc_id, value, comment, stored_by, followup, deleted, ds_id = raw
        summary = self.summary
        key = (de_id, coc_id, aoc_id, ds_id)
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = self._target(de_id, coc_id, aoc_id, ds_id)
        element = target.element
        if element is None:
            return summary.conflict(index, Code.E7610, de_id or "")
        pe_id = pe_id or self.context.period
        period = periods.parse(pe_id) if pe_id else None
        if period is None:
            return summary.conflict(index, Code.E7611, pe_id or "")
        unit = self.resolver.org_unit(ou_id) if ou_id else self.context.org_unit
        if unit is None:
            return summary.conflict(index, Code.E7612, ou_id or "")
        if target.coc_error is not None:
            return summary.conflict(index, Code.E7613, target.coc_error)
        if target.aoc_error is not None:
            return summary.conflict(index, Code.E7615, target.aoc_error)
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
        data_set = target.data_set
        period_key = (period.iso, element.uid, data_set.uid if data_set else None)
        if period_key not in self._period_checks:
            self._period_checks[period_key] = self._period_problem(period, element, data_set)
        found = self._period_checks[period_key]
        if found is not None:
            return summary.conflict(index, found[0], *found[1])
        if target.org_units is not None and unit[0] not in target.org_units:
            return summary.conflict(index, Code.E7636, ou_id or unit[0], element.uid)
        return (unit[0], period.iso, element.uid, target.coc, target.aoc,  # type: ignore[return-value]
                value, comment, stored_by, followup, remove, numeric)  # fmt: skip

    def _period_problem(
        self, period: periods.Period, element: DataElementInfo, data_set: DataSetInfo | None
    ) -> tuple[Code, tuple[str, ...]] | None:
        """E7632, E7640 or E7641 for ``period``: they depend only on the period and the data sets."""
        data_sets = (data_set,) if data_set else element.data_sets
        if not data_sets:
            return None
        if all(ds.period_type != period.period_type for ds in data_sets):
            return Code.E7632, (period.iso, element.uid)
        relevant = [ds for ds in data_sets if ds.period_type == period.period_type]
        if not any(
            ds.expiry_days <= 0 or self.today <= period.end + timedelta(days=ds.expiry_days)
            for ds in relevant
        ):
            return Code.E7640, (period.iso, relevant[0].uid)
        current = periods.containing(period.period_type, self.today)
        if current is not None:
            latest = periods.shift(current, max(ds.open_future_periods for ds in relevant))
            if period.start > latest.end:
                return Code.E7641, (period.iso, element.uid, latest.iso)
        return None


def _show(disaggregation: str | tuple[tuple[str, str], ...]) -> str:
    """An option combo as the payload named it (ADX: ``Sex=F,Age=<5``)."""
    if isinstance(disaggregation, str):
        return disaggregation
    return ",".join(f"{category}={option}" for category, option in disaggregation)
