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
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from estate_ops.domain.periods import Month

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
            self._table = entry_table(self.typed_entries, self.summary["month"], self.tz)
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


def prepare_entries(entries: pd.DataFrame, month: Month, rules: InvoicingRules, clients: list[ClientTerms],
                    tz: ZoneInfo) -> pd.DataFrame:
    """Tier of each entry's day, scope, billed seconds; sorted by client, start, entry id."""
    # Only the clients being drafted (a run for one client ignores the others' entries).
    entries = entries[entries["client_id"].isin([c.id for c in clients])]
    frame = entries.sort_values(["client_id", "started_at", "entry_id"], kind="stable").reset_index(drop=True)
    # The tier of every client on every day of the month, and which categories each tier includes:
    # small tables indexed by codes, so no merge copies the (possibly million-row) frame.
    tier_names = sorted(rules.tiers)
    client_row = pd.Index([c.id for c in clients]).get_indexer(frame["client_id"])
    day = frame["day"].to_numpy(np.int64)
    if (client_row < 0).any() or ((day < 1) | (day > len(month.days))).any():
        bad = int(np.flatnonzero((client_row < 0) | (day < 1) | (day > len(month.days)))[0])
        raise ValueError(f"entry {frame['entry_id'].iloc[bad]!r} of client {frame['client_id'].iloc[bad]!r} "
                         f"on day {day[bad]} is not in {month} or its client is not configured")
    calendar = np.array([[tier_names.index(c.tier_on(d)) for d in month.days] for c in clients], dtype=np.int64)
    tier_code = calendar[client_row, day - 1]
    category = pd.Categorical(frame["category"])
    allowed = np.array([[cat in rules.tiers[t].includes for cat in category.categories] for t in tier_names],
                       dtype=bool).reshape(len(tier_names), len(category.categories))
    frame["tier"] = pd.Categorical.from_codes(tier_code, categories=tier_names).astype(str)
    frame["in_scope"] = allowed[tier_code, category.codes] if len(frame) else np.zeros(0, dtype=bool)
    increment = rules.rounding_minutes * 60
    raw = frame["raw_seconds"].to_numpy(np.int64)
    frame["billed_seconds"] = -(-raw // increment) * increment
    return frame


def build_drafts(entries: pd.DataFrame, month: Month, rules: InvoicingRules, clients: list[ClientTerms], *,
                 tz: ZoneInfo, rollover_in: dict[str, int] | None = None,
                 rejected_by_client: dict[str, int] | None = None) -> list[InvoiceDraft]:
    """One draft per configured client (a client without entries still owes its fee), sorted by id.

    `entries` are validated entries of `month` (timesheets.validate_month); `rollover_in` maps a
    client with rollover to last month's unused included seconds.
    """
    rollover_in = rollover_in or {}
    rejected_by_client = rejected_by_client or {}
    frame = prepare_entries(entries, month, rules, clients, tz)
    spans = {c.id: tier_spans(c, month, rules) for c in clients}
    included = pd.Series({c.id: sum(s.included_seconds for s in spans[c.id]) for c in clients}, dtype=np.int64)
    rollover = pd.Series({c.id: min(int(rollover_in.get(c.id, 0)), int(included[c.id])) if c.rollover else 0
                          for c in clients}, dtype=np.int64)
    allowance = (included + rollover).reindex(frame["client_id"]).to_numpy(np.int64)
    in_scope = frame["in_scope"].to_numpy()
    counted = np.where(in_scope, frame["billed_seconds"].to_numpy(np.int64), 0)
    # Chronological use of the allowance: what passes it is overage.
    cumulative = pd.Series(counted).groupby(frame["client_id"].to_numpy()).cumsum().to_numpy(np.int64)
    over = np.minimum(counted, np.clip(cumulative - allowance, 0, None))
    frame["overage_seconds"] = over

    in_frame = frame.assign(scope_billed=counted,
                            scope_raw=np.where(in_scope, frame["raw_seconds"].to_numpy(np.int64), 0),
                            out_billed=np.where(in_scope, 0, frame["billed_seconds"].to_numpy(np.int64)),
                            in_scope_n=in_scope.astype(np.int64),
                            overlapping=(frame["overlap"] != "").to_numpy(np.int64))
    # Aggregates as plain dicts: the per-client loop below must not pay pandas' per-call overhead.
    per_client = in_frame.groupby("client_id").agg(
        entries=("entry_id", "size"), in_scope=("in_scope_n", "sum"), scope_billed=("scope_billed", "sum"),
        scope_raw=("scope_raw", "sum"), out_billed=("out_billed", "sum"),
        overlapping=("overlapping", "sum")).to_dict("index")
    overage_by_tier: dict[str, dict[str, int]] = {}
    for (cid, tier), seconds in in_frame.groupby(["client_id", "tier"])["overage_seconds"].sum().items():
        overage_by_tier.setdefault(cid, {})[tier] = int(seconds)
    by_category: dict[str, list[dict[str, Any]]] = {}
    categories = in_frame.groupby(["client_id", "category", "in_scope"]).agg(
        entries=("entry_id", "size"), raw=("raw_seconds", "sum"), billed=("billed_seconds", "sum")).reset_index()
    for row in categories.to_dict("records"):
        by_category.setdefault(row["client_id"], []).append(row)

    out = frame[["entry_id", "day", "started_at", "ended_at", "utc_offset_minutes", "engineer", "category",
                 "ticket", "description", "tier", "in_scope", "raw_seconds", "billed_seconds", "overage_seconds",
                 "overlap"]]
    # `frame` is sorted by client: each client's entries are one contiguous slice.
    ids = frame["client_id"].to_numpy(object)
    firsts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], dtype=int)
    bounds = dict(zip(ids[firsts], zip(firsts, np.r_[firsts[1:], len(ids)])))

    drafts = []
    for client in sorted(clients, key=lambda c: c.id):
        cid = client.id
        start, stop = bounds.get(cid, (0, 0))
        drafts.append(_draft(client, month, rules, spans[cid], int(rollover[cid]), per_client.get(cid),
                             overage_by_tier.get(cid, {}), by_category.get(cid, []),
                             int(rejected_by_client.get(cid, 0)), out.iloc[start:stop], tz))
    return drafts


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
        "period": {"month": str(month), "start": month.first_day.isoformat(), "end": month.last_day.isoformat()},
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
    """An invoice's CSV: every billed entry with raw and billed minutes; a credit note's: its lines."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if document["kind"] == "invoice":
        writer.writerow(["invoice", *ENTRY_COLUMNS])
        for entry in document["entries"]:
            writer.writerow([document["number"], *(_cell(entry[c]) for c in ENTRY_COLUMNS)])
    else:
        columns = ("kind", "tier", "description", "quantity", "unit", "unit_price", "amount")
        writer.writerow(["credit_note", "cancels", *columns])
        for line in document["lines"]:
            writer.writerow([document["number"], document["cancels"], *(_cell(line.get(c)) for c in columns)])
    return buffer.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)
