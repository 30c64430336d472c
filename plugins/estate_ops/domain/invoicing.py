"""Support-hours invoicing (plan §5): a month of validated time entries -> one draft invoice per client.

The contract arithmetic, in the order a client would check it:
- Scope: an entry counts against the hours when its category is included in the tier in force on
  the entry's day (ET); anything else is listed as out of scope (billable on quote), not counted.
- Rounding: each entry is rounded up to the plan's increment (default 15 min); raw and billed kept.
- Tier changes take effect on their date: the fee and the included hours are prorated by days
  (fee to the cent, hours to the hundredth), and each entry is priced under the tier of its day.
- Allowance = included hours (+ last month's unused included hours when the client has rollover,
  capped at this month's included hours). Rollover hours are used first, as they expire.
- Overage = billed in-scope time beyond the allowance, taken chronologically, each hour priced at
  the overage rate of the tier of its day (plan default: fee / included hours, to the cent).
- Money is Decimal; each line rounds half-up to the cent and the total is the sum of the rounded
  lines.

Validation and aggregation are vectorised with pandas (the benchmark feeds a million entries);
per-client Decimal arithmetic runs once per client. Pure: no Airflow, no boto3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from estate_ops.domain.periods import Month, month_bounds

CENT = Decimal("0.01")
HUNDREDTH = Decimal("0.01")
ENTRY_COLUMNS: tuple[str, ...] = (
    "entry_id", "day", "started_at", "ended_at", "engineer", "category", "ticket", "description",
    "tier", "in_scope", "raw_minutes", "billed_minutes", "overage_minutes", "flag",
)


def money(value: Decimal) -> Decimal:
    """Half-up to the cent: how every line of an invoice is rounded."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def hours_of(seconds: int) -> Decimal:
    """Seconds as hours to the hundredth (exact for the 15-minute default and prorated allowances)."""
    return (Decimal(int(seconds)) / Decimal(3600)).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Tier:
    id: str
    name: str
    hours_per_month: int
    monthly_fee: Decimal
    includes: frozenset[str]

    @property
    def overage_rate(self) -> Decimal:
        """The plan's default: the tier's own hourly rate, fee / included hours, to the cent."""
        return money(self.monthly_fee / Decimal(self.hours_per_month))


@dataclass(frozen=True)
class ClientTerms:
    id: str
    name: str
    tier: str
    tier_changes: tuple[tuple[dt.date, str], ...] = ()
    rollover: bool = False
    address: str | None = None

    def tier_on(self, day: dt.date) -> str:
        tier = self.tier
        for effective, changed in sorted(self.tier_changes):
            if effective <= day:
                tier = changed
        return tier


@dataclass(frozen=True)
class InvoicingRules:
    currency: str
    rounding_minutes: int
    tiers: dict[str, Tier]


def rules_from_config(plan: Any) -> InvoicingRules:
    tiers = {tid: Tier(tid, t.name, t.hours_per_month, Decimal(t.monthly_fee), frozenset(t.includes))
             for tid, t in plan.tiers.items()}
    return InvoicingRules(plan.invoicing.currency, plan.invoicing.rounding_minutes, tiers)


def clients_from_config(plan: Any, estate: Any) -> list[ClientTerms]:
    default = plan.invoicing.rollover_default
    return [ClientTerms(c.id, c.name, c.tier, tuple((ch.effective, ch.tier) for ch in c.tier_changes),
                        default if c.rollover is None else c.rollover, getattr(c, "address", None))
            for c in estate.clients]


@dataclass(frozen=True)
class TierSpan:
    """A run of days of the month under one tier, with its prorated fee and included time."""

    tier: str
    first_day: dt.date
    last_day: dt.date
    days: int
    month_days: int
    fee: Decimal  # prorated, rounded to the cent (a line of its own)
    included_hours: Decimal  # prorated, to the hundredth of an hour

    @property
    def included_seconds(self) -> int:
        return int(self.included_hours * 3600)


def tier_spans(client: ClientTerms, month: Month, rules: InvoicingRules) -> list[TierSpan]:
    days = month.days
    spans: list[list] = []
    for day in days:
        tier = client.tier_on(day)
        if spans and spans[-1][0] == tier:
            spans[-1][2] = day
        else:
            spans.append([tier, day, day])
    total = len(days)
    result = []
    for tier_id, first, last in spans:
        tier = rules.tiers[tier_id]
        n = (last - first).days + 1
        share = Decimal(n) / Decimal(total)
        result.append(TierSpan(tier_id, first, last, n, total, money(tier.monthly_fee * share),
                               (Decimal(tier.hours_per_month) * share).quantize(HUNDREDTH, ROUND_HALF_UP)))
    return result


@dataclass
class InvoiceDraft:
    """What would be invoiced: `summary` (lines, totals, hours, breakdowns) and the billed entries.

    The entries are kept typed (UTC times, seconds) and formatted for a reader (ET times, minutes)
    only when asked: drafting a month for hundreds of clients does not format a million strings.
    """

    client_id: str
    summary: dict[str, Any]
    typed_entries: pd.DataFrame = field(repr=False)  # chronological
    tz: ZoneInfo | None = field(default=None, repr=False)
    _table: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def total(self) -> Decimal:
        return self.summary["total"]

    @property
    def entries(self) -> pd.DataFrame:
        """ENTRY_COLUMNS as a client reads them: ET times, minutes, tier, scope."""
        if self._table is None:
            typed = self.typed_entries.take() if isinstance(self.typed_entries, _LazyTake) else self.typed_entries
            self._table = entry_table(typed, self.summary["month"], self.tz)
        return self._table

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary, "entries": entry_records(self.entries)}


def entry_table(frame: pd.DataFrame, month: str, tz: ZoneInfo | None) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ENTRY_COLUMNS})
    return pd.DataFrame({
        "entry_id": frame["entry_id"],
        "day": f"{month}-" + frame["day"].astype(str).str.zfill(2),
        "started_at": _iso_local(frame["started_at"], frame["utc_offset_minutes"]),
        "ended_at": _iso_local(frame["ended_at"], _offsets(frame["ended_at"], tz)),
        "engineer": frame["engineer"], "category": frame["category"], "ticket": frame["ticket"],
        "description": frame["description"], "tier": frame["tier"], "in_scope": frame["in_scope"],
        "raw_minutes": _minutes_text(frame["raw_seconds"].to_numpy(np.int64)),
        "billed_minutes": _minutes_text(frame["billed_seconds"].to_numpy(np.int64)),
        "overage_minutes": _minutes_text(frame["overage_seconds"].to_numpy(np.int64)),
        "flag": frame["overlap"],
    }).reset_index(drop=True)


def entry_records(entries: pd.DataFrame) -> list[dict[str, Any]]:
    records = entries[list(ENTRY_COLUMNS)].to_dict("records")
    for r in records:
        r["in_scope"] = bool(r["in_scope"])
    return records


def _minutes_text(seconds: np.ndarray) -> np.ndarray:
    whole = seconds % 60 == 0
    return np.where(whole, (seconds // 60).astype(str), np.char.mod("%.2f", seconds / 60.0))


def _iso_local(utc: pd.Series, offset_minutes: pd.Series) -> np.ndarray:
    """ISO 8601 wall time with its offset (e.g. 2026-10-05T09:00:00-04:00), vectorised (no strftime)."""
    offsets = offset_minutes.to_numpy(np.int64)
    wall = utc.dt.tz_localize(None).to_numpy("datetime64[s]") + offsets.astype("timedelta64[m]")
    text = np.datetime_as_string(wall, unit="s").astype(object)
    sign = np.where(offsets < 0, "-", "+")
    magnitude = np.abs(offsets)
    suffix = pd.Series(sign).str.cat([pd.Series(magnitude // 60).astype(str).str.zfill(2),
                                      pd.Series(magnitude % 60).astype(str).str.zfill(2)], sep="")
    suffix = suffix.str.slice(0, 3) + ":" + suffix.str.slice(3)
    return (pd.Series(text) + suffix.to_numpy()).to_numpy()


def _offsets(utc: pd.Series, tz: ZoneInfo) -> pd.Series:
    local = utc.dt.tz_convert(tz)
    return ((local.dt.tz_localize(None) - utc.dt.tz_localize(None)).dt.total_seconds() // 60).astype(np.int64)


def _chronological_order(client_row: np.ndarray, starts: np.ndarray, entry_ids: pd.Series) -> np.ndarray:
    """Positions sorted by client, start, then entry id (so reordering the input changes nothing)."""
    order = np.lexsort((starts, client_row))
    c, s = client_row[order], starts[order]
    same = np.r_[False, (c[1:] == c[:-1]) & (s[1:] == s[:-1])]
    if same.any():
        # Ties on (client, start) are few: order each tied run by entry id in Python.
        ids = entry_ids.to_numpy(object)
        tied = np.flatnonzero(same)  # row i ties with row i - 1
        breaks = np.flatnonzero(np.diff(tied) != 1)
        for first, last in zip(np.r_[tied[0], tied[breaks + 1]], np.r_[tied[breaks], tied[-1]]):
            block = order[first - 1:last + 1]
            order[first - 1:last + 1] = block[np.argsort(ids[block].astype(str), kind="stable")]
    return order


def prepare_entries(entries: pd.DataFrame, month: Month, rules: InvoicingRules,
                    clients: list[ClientTerms]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The entries of `clients` (input order) with tier, scope and billed seconds, and code arrays
    in chronological order per client (`order`, `client`, `tier`, ...) for the arithmetic."""
    ids = [c.id for c in clients]
    client_row = pd.Index(ids).get_indexer(entries["client_id"])
    if (client_row < 0).any():
        # Only the clients being drafted (a run for one client ignores the others' entries).
        entries = entries[client_row >= 0]
        client_row = client_row[client_row >= 0]
    frame = entries.copy(deep=False)
    day = frame["day"].to_numpy(np.int64)
    if ((day < 1) | (day > len(month.days))).any():
        bad = int(np.flatnonzero((day < 1) | (day > len(month.days)))[0])
        raise ValueError(f"entry {frame['entry_id'].iloc[bad]!r} on day {day[bad]} is not in {month}")
    # The tier of every client on every day of the month, and which categories each tier includes:
    # small tables indexed by codes, so nothing joins or copies the (possibly million-row) frame.
    tier_names = sorted(rules.tiers)
    calendar = np.array([[tier_names.index(c.tier_on(d)) for d in month.days] for c in clients],
                        dtype=np.int64).reshape(len(clients), len(month.days))
    tier_code = calendar[client_row, day - 1] if len(frame) else np.zeros(0, dtype=np.int64)
    category_code, categories = pd.factorize(frame["category"], sort=True)
    allowed = np.array([[cat in rules.tiers[t].includes for cat in categories] for t in tier_names],
                       dtype=bool).reshape(len(tier_names), len(categories))
    in_scope = allowed[tier_code, category_code] if len(frame) else np.zeros(0, dtype=bool)
    increment = rules.rounding_minutes * 60
    raw = frame["raw_seconds"].to_numpy(np.int64)
    billed = -(-raw // increment) * increment
    frame["tier"] = np.asarray(tier_names, dtype=object)[tier_code]
    frame["in_scope"] = in_scope
    frame["billed_seconds"] = billed
    starts = frame["started_at"].dt.as_unit("ns").astype("int64").to_numpy()
    order = _chronological_order(client_row, starts, frame["entry_id"])
    codes = {"order": order, "client": client_row, "tier": tier_code, "category": category_code,
             "categories": np.asarray(categories, dtype=object), "tier_names": np.asarray(tier_names, dtype=object),
             "in_scope": in_scope, "raw": raw, "billed": billed,
             "overlapping": (frame["overlap"] != "").to_numpy(bool)}
    return frame, codes


def build_drafts(entries: pd.DataFrame, month: Month, rules: InvoicingRules, clients: list[ClientTerms], *,
                 tz: ZoneInfo, rollover_in: dict[str, int] | None = None,
                 rejected_by_client: dict[str, int] | None = None) -> list[InvoiceDraft]:
    """One draft per configured client (a client without entries still owes its fee), sorted by id.

    `entries` are validated entries of `month` (timesheets.validate_month); `rollover_in` maps a
    client with rollover to last month's unused included seconds.
    """
    rollover_in = rollover_in or {}
    rejected_by_client = rejected_by_client or {}
    frame, k = prepare_entries(entries, month, rules, clients)
    n_clients, n_tiers, n_categories = len(clients), len(k["tier_names"]), len(k["categories"])
    spans = {c.id: tier_spans(c, month, rules) for c in clients}
    included = np.array([sum(s.included_seconds for s in spans[c.id]) for c in clients], dtype=np.int64)
    rollover = np.array([min(int(rollover_in.get(c.id, 0)), int(included[i])) if c.rollover else 0
                         for i, c in enumerate(clients)], dtype=np.int64)
    # Chronological use of the allowance, per client: what passes it is overage.
    order, client = k["order"], k["client"]
    counted = np.where(k["in_scope"], k["billed"], 0)
    sorted_counted = counted[order]
    sorted_client = client[order]
    cumulative = np.cumsum(sorted_counted)
    first = np.r_[True, sorted_client[1:] != sorted_client[:-1]] if len(order) else np.zeros(0, dtype=bool)
    # Subtract what the clients before this one used: the running sum restarts at each client.
    before = np.maximum.accumulate(np.where(first, cumulative - sorted_counted, 0)) if len(order) else cumulative
    cumulative = cumulative - before
    allowance = (included + rollover)[sorted_client]
    over_sorted = np.minimum(sorted_counted, np.clip(cumulative - allowance, 0, None))
    over = np.empty_like(over_sorted)
    over[order] = over_sorted
    frame["overage_seconds"] = over

    # Per-client sums with bincount: no groupby over strings.
    def per(values: np.ndarray, key: np.ndarray = client, size: int = n_clients) -> np.ndarray:
        return np.bincount(key, weights=values, minlength=size).astype(np.int64) if len(key) else np.zeros(size, np.int64)

    in_scope = k["in_scope"]
    stats = {
        "entries": per(np.ones(len(client))), "in_scope": per(in_scope.astype(np.int64)),
        "scope_billed": per(counted), "scope_raw": per(np.where(in_scope, k["raw"], 0)),
        "out_billed": per(np.where(in_scope, 0, k["billed"])), "overlapping": per(k["overlapping"].astype(np.int64)),
    }
    overage_by_tier = per(over, client * n_tiers + k["tier"], n_clients * n_tiers).reshape(n_clients, n_tiers)
    cat_key = (client * n_categories + k["category"]) * 2 + in_scope
    cat_size = n_clients * n_categories * 2
    cat_entries = per(np.ones(len(client)), cat_key, cat_size).reshape(n_clients, n_categories, 2)
    cat_raw = per(k["raw"], cat_key, cat_size).reshape(n_clients, n_categories, 2)
    cat_billed = per(k["billed"], cat_key, cat_size).reshape(n_clients, n_categories, 2)

    # Each client's entries, chronological: positions into `frame`, taken only when read.
    starts_at = np.searchsorted(sorted_client, np.arange(n_clients), side="left")
    stops_at = np.searchsorted(sorted_client, np.arange(n_clients), side="right")
    columns = ["entry_id", "day", "started_at", "ended_at", "utc_offset_minutes", "engineer", "category", "ticket",
               "description", "tier", "in_scope", "raw_seconds", "billed_seconds", "overage_seconds", "overlap"]
    typed = frame[columns]

    drafts = []
    for i, client_terms in sorted(enumerate(clients), key=lambda ic: ic[1].id):
        client_stats = {name: int(values[i]) for name, values in stats.items()} if stats["entries"][i] else None
        tiers_over = {k["tier_names"][t]: int(overage_by_tier[i, t]) for t in range(n_tiers) if overage_by_tier[i, t]}
        breakdown = [{"category": k["categories"][c], "in_scope": bool(s), "entries": int(cat_entries[i, c, s]),
                      "raw": int(cat_raw[i, c, s]), "billed": int(cat_billed[i, c, s])}
                     for c in range(n_categories) for s in (0, 1) if cat_entries[i, c, s]]
        positions = order[starts_at[i]:stops_at[i]]
        drafts.append(_draft(client_terms, month, rules, spans[client_terms.id], int(rollover[i]), client_stats,
                             tiers_over, breakdown, int(rejected_by_client.get(client_terms.id, 0)),
                             _LazyTake(typed, positions), tz))
    return drafts


class _LazyTake:
    """Rows of a frame at `positions`, taken when first read (drafting a month formats nothing)."""

    def __init__(self, frame: pd.DataFrame, positions: np.ndarray) -> None:
        self.frame, self.positions = frame, positions

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def empty(self) -> bool:
        return len(self.positions) == 0

    def take(self) -> pd.DataFrame:
        return self.frame.take(self.positions).reset_index(drop=True)


def _draft(client: ClientTerms, month: Month, rules: InvoicingRules, spans: list[TierSpan], rollover_s: int,
           stats: dict[str, Any] | None, tiers_over: dict[str, int], categories: list[dict[str, Any]],
           rejected: int, entries: pd.DataFrame, tz: ZoneInfo) -> InvoiceDraft:
    lines: list[dict[str, Any]] = []
    for span in spans:
        tier = rules.tiers[span.tier]
        prorated = span.days != span.month_days
        lines.append({
            "kind": "fee",
            "description": f"{tier.name} support, {span.first_day.isoformat()} to {span.last_day.isoformat()}"
                           + (f" ({span.days} of {span.month_days} days)" if prorated else "")
                           + f", {span.included_hours} h included",
            "tier": span.tier,
            "quantity": f"{span.days}/{span.month_days}",
            "unit": "month",
            "unit_price": tier.monthly_fee,
            "amount": span.fee,  # already rounded half-up to the cent
        })
    overage_s = 0
    for span_tier in dict.fromkeys(s.tier for s in spans):
        seconds = tiers_over.get(span_tier, 0)
        if seconds <= 0:
            continue
        overage_s += seconds
        tier = rules.tiers[span_tier]
        lines.append({
            "kind": "overage",
            "description": f"Hours beyond the allowance, {tier.name} rate (fee / included hours)",
            "tier": span_tier,
            "quantity": hours_of(seconds),
            "unit": "h",
            "unit_price": tier.overage_rate,
            "amount": money(Decimal(seconds) * tier.overage_rate / Decimal(3600)),
        })
    total = sum((line["amount"] for line in lines), Decimal("0.00"))

    included_s = sum(s.included_seconds for s in spans)
    used_s = int(stats["scope_billed"]) if stats is not None else 0
    allowance_s = included_s + rollover_s
    unused_included_s = max(0, included_s - max(0, used_s - rollover_s))
    breakdown = []
    for row in sorted(categories, key=lambda r: (r["category"], bool(r["in_scope"]))):
        breakdown.append({"category": row["category"], "in_scope": bool(row["in_scope"]),
                          "entries": int(row["entries"]), "raw_hours": hours_of(int(row["raw"])),
                          "billed_hours": hours_of(int(row["billed"]))})
    out_scope_s = int(stats["out_billed"]) if stats is not None else 0
    summary = {
        "client_id": client.id,
        "client_name": client.name,
        "client_address": client.address,
        "month": str(month),
        "period": {"month": str(month), "start": month.first_day.isoformat(), "end": month.last_day.isoformat(),
                   "bounds": month_bounds(month, tz).as_dict()},
        "currency": rules.currency,
        "rounding_minutes": rules.rounding_minutes,
        "tiers": [{"tier": s.tier, "name": rules.tiers[s.tier].name, "from": s.first_day.isoformat(),
                   "to": s.last_day.isoformat(), "days": s.days, "month_days": s.month_days,
                   "included_hours": s.included_hours, "fee": s.fee,
                   "overage_rate": rules.tiers[s.tier].overage_rate,
                   "includes": sorted(rules.tiers[s.tier].includes)} for s in spans],
        "lines": lines,
        "total": total,
        "hours": {
            "included": hours_of(included_s),
            "rollover": hours_of(rollover_s),
            "allowance": hours_of(allowance_s),
            "used": hours_of(used_s),
            "used_raw": hours_of(int(stats["scope_raw"])) if stats is not None else Decimal("0.00"),
            "remaining": hours_of(max(0, allowance_s - used_s)),
            "overage": hours_of(overage_s),
            "out_of_scope": hours_of(out_scope_s),
            "unused_included": hours_of(unused_included_s),
        },
        "seconds": {"included": included_s, "rollover": rollover_s, "used": used_s, "overage": overage_s,
                    "out_of_scope": out_scope_s, "unused_included": unused_included_s},
        "by_category": breakdown,
        "counts": {
            "entries": int(stats["entries"]) if stats is not None else 0,
            "in_scope_entries": int(stats["in_scope"]) if stats is not None else 0,
            "out_of_scope_entries": int(stats["entries"] - stats["in_scope"]) if stats is not None else 0,
            "overlapping_entries": int(stats["overlapping"]) if stats is not None else 0,
            "rejected_rows": rejected,
        },
    }
    return InvoiceDraft(client.id, summary, entries, tz)


def approval_line(summary: dict[str, Any]) -> str:
    """One line per draft for the approver: hours used / included, overage, out of scope, rejected."""
    h, c = summary["hours"], summary["counts"]
    parts = [f"**{summary['client_name']}** (`{summary['client_id']}`): {h['used']} h used of {h['allowance']} h"
             + (f" ({h['included']} included + {h['rollover']} rollover)" if Decimal(h["rollover"]) else ""),
             f"overage {h['overage']} h",
             f"out of scope {h['out_of_scope']} h",
             f"total {summary['currency']} {summary['total']}"]
    if c["rejected_rows"]:
        parts.append(f"**{c['rejected_rows']} rejected row(s)** (see rejected.csv)")
    if c["overlapping_entries"]:
        parts.append(f"{c['overlapping_entries']} overlapping entr{'y' if c['overlapping_entries'] == 1 else 'ies'}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------ documents

NUMBER_PREFIXES = {"invoice": "INV", "credit_note": "CN"}


def format_number(kind: str, year: int, sequence: int) -> str:
    """INV-YYYY-NNNN / CN-YYYY-NNNN: sequential per year and kind."""
    if sequence < 1 or sequence > 9999:
        raise ValueError(f"sequence {sequence} out of range 1..9999 for {kind} numbers of {year}")
    return f"{NUMBER_PREFIXES[kind]}-{year:04d}-{sequence:04d}"


def next_sequence(numbers: list[str], kind: str, year: int) -> int:
    """The sequence after the highest number of `kind` already taken in `year` (1 when none)."""
    prefix = f"{NUMBER_PREFIXES[kind]}-{year:04d}-"
    taken = [int(n[len(prefix):]) for n in numbers if n.startswith(prefix) and n[len(prefix):].isdigit()]
    return max(taken, default=0) + 1


def invoice_document(draft: dict[str, Any], *, number: str, issued_on: dt.date, payment_terms_days: int,
                     issuer: dict[str, Any], plan_version: str, draft_sha256: str,
                     replaces: str | None = None) -> dict[str, Any]:
    """The issued invoice: the approved draft with its number, dates and parties. Computes nothing."""
    return {
        **draft,
        "kind": "invoice",
        "title": f"Invoice {number}",
        "number": number,
        "status": "issued",
        "issued_on": issued_on.isoformat(),
        "due_on": (issued_on + dt.timedelta(days=payment_terms_days)).isoformat(),
        "issuer": issuer,
        "client": {"id": draft["client_id"], "name": draft["client_name"], "address": draft.get("client_address")},
        "plan_version": plan_version,
        "draft_sha256": draft_sha256,
        "replaces": replaces,
    }


def credit_note_document(invoice: dict[str, Any], *, number: str, issued_on: dt.date, reason: str) -> dict[str, Any]:
    """A credit note cancelling `invoice` in full: every line negated, so the two sum to zero."""
    lines = [{**line, "description": f"Cancels {invoice['number']}: {line['description']}",
              "amount": -Decimal(line["amount"])} for line in invoice["lines"]]
    return {
        "kind": "credit_note",
        "title": f"Credit note {number}",
        "number": number,
        "status": "issued",
        "issued_on": issued_on.isoformat(),
        "cancels": invoice["number"],
        "reason": reason,
        "issuer": invoice["issuer"],
        "client": invoice["client"],
        "client_id": invoice["client_id"],
        "month": invoice["month"],
        "period": invoice["period"],
        "currency": invoice["currency"],
        "plan_version": invoice["plan_version"],
        "lines": lines,
        "total": sum((line["amount"] for line in lines), Decimal("0.00")),
    }


def document_csv(document: dict[str, Any]) -> bytes:
    """An invoice's CSV: every billed entry with raw and billed minutes; a credit note's: its lines.
    Written by `csvsafe.csv_bytes`: amounts stay numbers, text that would start a formula is quoted."""
    from estate_ops.domain.csvsafe import csv_bytes

    if document["kind"] == "invoice":
        return csv_bytes(["invoice", *ENTRY_COLUMNS],
                         ([document["number"], *(entry[c] for c in ENTRY_COLUMNS)] for entry in document["entries"]))
    columns = ("kind", "tier", "description", "quantity", "unit", "unit_price", "amount")
    return csv_bytes(["credit_note", "cancels", *columns],
                     ([document["number"], document["cancels"], *(line.get(c) for c in columns)]
                      for line in document["lines"]))


# ------------------------------------------------------------------------------------ hours watch


def working_days(days: Iterable[dt.date]) -> int:
    """Monday to Friday (the plan names no holidays)."""
    return sum(1 for d in days if d.weekday() < 5)


def hours_watch(summary: dict[str, Any], *, thresholds: Sequence[int], as_of: dt.datetime,
                tz: ZoneInfo) -> dict[str, Any]:
    """Where a client's in-scope hours stand mid-month (issue #18 §3), from its draft's own figures.

    `summary` is `build_drafts` on the month's entries so far. A threshold is crossed when the hours
    used reach that share of the tier's included hours (exactly 80 % is 80 %). The projection keeps
    the pace of the working days gone by (Mon-Fri before `as_of`'s day in `tz`) over the month's
    working days; with none gone by yet there is no pace and no projection.
    """
    hours = summary["hours"]
    included, used, allowance = (Decimal(hours[k]) for k in ("included", "used", "allowance"))
    month = Month.parse(summary["month"])
    today = as_of.astimezone(tz).date()
    elapsed = working_days(d for d in month.days if d < today)
    total = working_days(month.days)
    crossed = [t for t in thresholds if included > 0 and used * 100 >= included * t]
    projected = overage = cost = None
    if elapsed:
        projected = (used / elapsed * total).quantize(HUNDREDTH, ROUND_HALF_UP)
        overage = max(Decimal("0.00"), projected - allowance)
        rate = Decimal(summary["tiers"][-1]["overage_rate"])  # the tier at the month's end bills the overage
        cost = money(overage * rate)
    return {
        "client_id": summary["client_id"], "client_name": summary["client_name"], "month": str(month),
        "as_of": as_of, "included_hours": included, "allowance_hours": allowance, "used_hours": used,
        "used_percent": (used * 100 / included).quantize(HUNDREDTH, ROUND_HALF_UP) if included else None,
        "crossed_percent": crossed, "working_days_elapsed": elapsed, "working_days_in_month": total,
        "projected_hours": projected, "projected_overage_hours": overage, "projected_overage_cost": cost,
        "currency": summary["currency"], "rejected_rows": summary["counts"]["rejected_rows"],
    }


def hours_watch_text(watch: dict[str, Any], threshold: int) -> str:
    """The Slack message for a crossed threshold (the client's name is outside text: escaped)."""
    from estate_ops.domain.slacktext import slack_escape as e

    lines = [(f"*Support hours: {e(watch['client_name'])} ({watch['month']})* reached {threshold} % of the "
              f"tier's hours: {watch['used_hours']} h of {watch['included_hours']} h in scope "
              f"({watch['used_percent']} %).")]
    if watch["projected_hours"] is None:
        lines.append("No working day has gone by yet: no projection.")
    else:
        lines.append(f"At the pace of {watch['working_days_elapsed']} of {watch['working_days_in_month']} working "
                     f"days the month ends near {watch['projected_hours']} h: {watch['projected_overage_hours']} h "
                     f"over the {watch['allowance_hours']} h allowance, {watch['currency']} "
                     f"{watch['projected_overage_cost']} of overage.")
    if watch["rejected_rows"]:
        lines.append(f"{watch['rejected_rows']} bad timesheet row(s) are left out of these figures.")
    return "\n".join(lines)
