"""Bookkeeping kept in the reports bucket, beside the artifact store: the records that make a job
resumable and exactly-once. Operators call these; none of them decides anything (the rules are in
`domain/`).

- Retention audit (`retention/audit/records/<day>/<group>/...`): `AuditWriter` writes the intents
  of a batch of actions in one object before the batch and the results in bundles (every N or T s
  and at the end); `load_records` / `record_keys` read a day back (one GET per bundle).
- Invoice ledger (`invoices/numbers/`, `invoices/ledger/`, `invoices/void/`): `InvoiceLedger`
  allocates `INV-`/`CN-` numbers atomically and binds each client-month slot to its number.
- Alert ledger (`alerts/sent/`): `AlertLedger` remembers each finding and summary sent, so a rerun
  pages nobody again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

# --------------------------------------------------------------------------- retention audit

RECORDS = "retention/audit/records"
ESTATE_GROUP = "_estate"  # records of actions that belong to no database (log groups, buckets)

# The records of a day are kept in bundles, one object holding many records by their (virtual) key
# `<prefix><action_id>~<result>[~attempt].json`: `_intents~...` (the intents of a batch of deletions,
# written before the batch), `_results~...` (results, flushed every N records or T seconds and at the
# end) and the older `_summary~...`. An object whose name does not start with `_` is one record of
# the older layout (one object per result), still read.
SUMMARY, INTENTS, RESULTS = "_summary~", "_intents~", "_results~"
BUNDLE_PREFIXES = (SUMMARY, INTENTS, RESULTS)


def record_prefix(day: str, group: str | None = None) -> str:
    return f"{RECORDS}/{day}/" + (f"{group}/" if group else "")


def record_key_result(key: str) -> tuple[str, str]:
    """(action_id, result) from a record key `.../<action_id>~<result>[~attempt].json`."""
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    kind, target, result = name.split("~")[:3]
    return f"{kind}~{target}", result


def _is_bundle(key: str, kinds: tuple[str, ...] = BUNDLE_PREFIXES) -> bool:
    return key.rsplit("/", 1)[-1].startswith(kinds)


def load_records(store: Any, day: str, groups: list[str] | None = None, *,
                 results_only: bool = False) -> dict[str, dict[str, Any]]:
    """The day's record objects by record key; with `results_only`, without the intents.

    One LIST per group and one GET per bundle: a day of 10,000 deletions is a few dozen GETs
    (`results_only` leaves the intents' bundles, about half the bytes, unread). A record key
    found in two objects is the same record (the first one read is kept).
    """
    from concurrent.futures import ThreadPoolExecutor

    def want(key: str) -> bool:
        return not results_only or record_key_result(key)[1] != "started"

    prefixes = [record_prefix(day, g) for g in groups] if groups else [record_prefix(day)]
    keys = [k for prefix in prefixes for k in store.list_keys(prefix) if k.endswith(".json")]
    bundles = sorted(k for k in keys if _is_bundle(k, (SUMMARY, RESULTS) if results_only else BUNDLE_PREFIXES))
    found: dict[str, dict[str, Any]] = {}
    if bundles:
        with ThreadPoolExecutor(max_workers=min(16, len(bundles))) as pool:
            for doc in pool.map(store.get_json, bundles):
                for k, v in doc["records"].items():
                    if want(k):
                        found.setdefault(k, v)
    missing = [k for k in keys if not _is_bundle(k) and k not in found and want(k)]
    if missing:
        with ThreadPoolExecutor(max_workers=min(16, len(missing))) as pool:
            found.update(zip(missing, pool.map(store.get_json, missing), strict=True))
    return dict(sorted(found.items()))


def record_keys(store: Any, day: str, group: str | None = None) -> list[str]:
    """Keys of the day's action records (one per result or intent)."""
    return list(load_records(store, day, [group] if group else None))


class AuditWriter:
    """Writes one day and group's action records in bundles; thread-safe.

    `write_intents(batch)` puts one object naming a batch of actions before any of their AWS calls;
    `write(...)` buffers a result, flushed as one object every `flush_every` results or
    `flush_seconds`, and by `flush()` at the end. A result not flushed when the process dies is
    settled by the rerun from its intent (see the operators). Object names carry the run, the try
    and a sequence number, so no write replaces another (each is an atomic create).
    """

    def __init__(self, store: Any, day: str, group: str, run_id: str, try_number: int, *,
                 flush_every: int = 500, flush_seconds: float = 10.0) -> None:
        import threading
        import time

        self.store, self.day, self.group = store, day, group
        self.attempt = f"{_safe(run_id)}.{try_number}"
        self.run_id = run_id
        self.flush_every, self.flush_seconds = flush_every, flush_seconds
        self.written: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._clock = time.monotonic
        self._last_flush = self._clock()
        self._seq = 0

    def key(self, action_id: str, result: str, terminal: bool) -> str:
        suffix = "" if terminal else f"~{self.attempt}"
        return f"{record_prefix(self.day, self.group)}{action_id}~{result}{suffix}.json"

    def _bundle_key(self, kind: str) -> str:
        self._seq += 1
        return f"{record_prefix(self.day, self.group)}_{kind}~{self.attempt}~{self._seq:05d}.json"

    def _put_bundle(self, kind: str, records: dict[str, dict[str, Any]]) -> str:
        from estate_ops.domain.serialize import canonical_json

        key = self._bundle_key(kind)
        if not self.store.put_if_absent(key, canonical_json({"records": records})):
            raise RuntimeError(f"audit bundle {key} already exists: two writers with the same run and try")
        return key

    def write(self, action: dict[str, Any], entry: dict[str, Any] | None, result: str, detail: str) -> bool:
        from estate_ops.domain.retention import TERMINAL_RESULTS, audit_record
        from estate_ops.domain.serialize import json_data

        record = audit_record(action, result, dt.datetime.now(dt.UTC), detail, self.run_id)
        key = self.key(action["action_id"], result, result in TERMINAL_RESULTS)
        obj = json_data({"record": record, "action": action, "entry": entry})
        with self._lock:
            if key in self.written or key in self._pending:
                return False
            self._pending[key] = obj
            if len(self._pending) >= self.flush_every or self._clock() - self._last_flush >= self.flush_seconds:
                self.flush()
        return True

    def write_intents(self, items: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> str | None:
        """Before a batch's AWS calls: if the process dies after AWS acted, the rerun finds these."""
        from estate_ops.domain.serialize import json_data

        if not items:
            return None
        at = dt.datetime.now(dt.UTC)
        records = {self.key(a["action_id"], "started", True): json_data(
            {"intent": a, "entry": e, "run_id": self.run_id, "at": at}) for a, e in items}
        with self._lock:
            key = self._put_bundle("intents", records)
            self.written.update(records)
        return key

    def flush(self) -> str | None:
        """Write the buffered results as one object (nothing when none are buffered)."""
        with self._lock:
            self._last_flush = self._clock()
            if not self._pending:
                return None
            key = self._put_bundle("results", self._pending)
            self.written.update(self._pending)
            self._pending = {}
            return key

    write_summary = flush  # what an acting task calls when it ends


def _safe(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_")

# --------------------------------------------------------------------------- invoice ledger

LEDGER_PREFIX = "invoices/ledger"
NUMBERS_PREFIX = "invoices/numbers"
VOID_PREFIX = "invoices/void"


class InvoiceLedger:
    """Invoice numbers and which invoice of a client-month holds which, in the reports bucket."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def allocate(self, kind: str, year: int, owner: dict[str, Any]) -> str:
        """The next free number of `kind` in `year`, claimed atomically: two callers never get the same one."""
        from estate_ops.domain.invoicing import (
            NUMBER_PREFIXES,
            format_number,
            next_sequence,
        )
        from estate_ops.domain.serialize import canonical_json

        prefix = f"{NUMBERS_PREFIX}/{NUMBER_PREFIXES[kind]}-{year:04d}-"
        taken = [key.rsplit("/", 1)[1].removesuffix(".json") for key in self.store.list_keys(prefix)]
        sequence = next_sequence(taken, kind, year)
        while True:
            number = format_number(kind, year, sequence)
            if self.store.put_if_absent(f"{NUMBERS_PREFIX}/{number}.json",
                                        canonical_json({**owner, "number": number, "kind": kind})):
                return number
            sequence += 1  # taken meanwhile by another run: try the next one

    def slots(self, month: str) -> dict[str, dict[str, str]]:
        """client_id -> {slot name: ledger key} for `month`."""
        result: dict[str, dict[str, str]] = {}
        for key in self.store.list_keys(f"{LEDGER_PREFIX}/{month}/"):
            client_id, name = key.split("/")[-2:]
            result.setdefault(client_id, {})[name.removesuffix(".json")] = key
        return result

    def state(self, month: str, client_id: str, slots: dict[str, str] | None = None) -> dict[str, Any]:
        """The client-month's invoices: the current one (issued, not cancelled) and the next slot."""
        if slots is None:
            slots = self.slots(month).get(client_id, {})
        invoices = sorted(int(s.split("-")[1]) for s in slots if s.startswith("invoice-"))
        state: dict[str, Any] = {"current": None, "current_key": None, "next_slot": 1, "pending": None}
        if not invoices:
            return state
        k = invoices[-1]
        record = self.store.get_json(slots[f"invoice-{k}"])
        doc_key = document_key(month, client_id, record["number"], "json")
        if not self.store.exists(doc_key):
            state["pending"] = {**record, "slot": k}  # claimed, not yet written: finish it
            state["next_slot"] = k
        elif f"credit-{k}" in slots:
            state["next_slot"] = k + 1  # cancelled: a reissue stopped before its new invoice
            state["cancelled"] = record["number"]
            state["cancelled_key"] = doc_key
            credit = self.store.get_json(slots[f"credit-{k}"])
            if not self.store.exists(document_key(month, client_id, credit["number"], "json")):
                state["credit_pending"] = credit  # its documents were not written yet
        else:
            state["current"] = record["number"]
            state["current_key"] = doc_key
            state["next_slot"] = k + 1
        return state

    def claim(self, month: str, client_id: str, slot: str, kind: str, issued_on: dt.date) -> tuple[str, dt.date]:
        """The number bound to a client-month's slot, allocating it the first time."""
        from estate_ops.domain.serialize import canonical_json

        pointer = f"{LEDGER_PREFIX}/{month}/{client_id}/{slot}.json"
        if self.store.exists(pointer):
            record = self.store.get_json(pointer)
            return record["number"], dt.date.fromisoformat(record["issued_on"])
        owner = {"client_id": client_id, "month": month, "slot": slot, "issued_on": issued_on.isoformat()}
        number = self.allocate(kind, issued_on.year, owner)
        if self.store.put_if_absent(pointer, canonical_json({**owner, "number": number})):
            return number, issued_on
        # Another run bound this slot first: our number stays claimed (never reused) and is voided.
        self.store.put_json(f"{VOID_PREFIX}/{number}.json",
                            {**owner, "number": number, "reason": "slot bound by a concurrent run"})
        record = self.store.get_json(pointer)
        return record["number"], dt.date.fromisoformat(record["issued_on"])


def document_key(month: str, client_id: str, number: str, ext: str) -> str:
    return f"invoices/{month}/{client_id}/{number}.{ext}"


# --------------------------------------------------------------------------- alert ledger


class AlertLedger:
    """`alerts/sent/<dedup key>.json` per finding sent, `alerts/sent/summary~<id>.json` per summary."""

    PREFIX = "alerts/sent/"

    def __init__(self, store: Any) -> None:
        self.store = store

    def finding_key(self, dedup_key: str) -> str:
        return self.PREFIX + dedup_key.replace("/", "~") + ".json"

    def summary_key(self, summary_id: str) -> str:
        return self.PREFIX + "summary~" + summary_id.replace("/", "~") + ".json"

    def sent(self, key: str) -> bool:
        return self.store.exists(key)

    def record(self, key: str, entry: dict[str, Any]) -> None:
        from estate_ops.domain.serialize import canonical_json

        self.store.put_if_absent(key, canonical_json(entry))
