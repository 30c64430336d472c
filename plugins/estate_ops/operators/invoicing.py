"""Support invoicing: timesheets -> drafts -> a human's approval -> numbered invoices.

- `DraftInvoicesOperator` reads `timesheets/YYYY-MM/*.csv` (and the neighbouring months' folders:
  an entry belongs to the ET month it started in), validates every row, writes
  `invoices/YYYY-MM/rejected.csv`, computes one draft per client and stores it under
  `invoices/YYYY-MM/_drafts/<client_id>.json`. A client-month that already has an invoice is left
  alone (a rerun returns it unchanged); with `reissue` a client whose draft differs from its
  invoice gets a new draft. A bad file or an empty month fails the task with a clear message and
  writes nothing.
- `ApproveInvoicesOperator` (Airflow's HITL branch operator) shows each draft's summary and waits
  for Approve / Reject; when approval is switched off for the deployment, or nothing new is to be
  issued, it goes straight on.
- `IssueInvoicesOperator` allocates numbers (`INV-YYYY-NNNN`, `CN-YYYY-NNNN`) with S3 conditional
  writes, writes `invoices/YYYY-MM/<client_id>/<number>.{json,csv,pdf}`, posts one Slack summary,
  and writes the run manifest. `RecordRejectionOperator` records a rejection: nothing is issued.

Numbers: `invoices/numbers/<number>.json` is created with If-None-Match (never overwritten, so never
reused); `invoices/ledger/YYYY-MM/<client_id>/{invoice,credit}-<k>.json` binds the k-th invoice
(or credit note) of a client-month to its number, so an interrupted run resumes with the same
number and a rerun finds what was issued. A number is claimed only once every document it goes on
(json, csv, pdf, and a reissue's credit note) has been rendered with a placeholder number
(`PROOF_NUMBERS`): a document that cannot be rendered fails the task having claimed no number and
written no file, so the rerun numbers on without a gap. Each document is rendered whole in memory
before its first file is written (`write_document`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from typing import Any

from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import BaseOperator

from estate_ops.hooks.ledgers import InvoiceLedger, document_key
from estate_ops.operators import run_as_of

DAG_ID = "support_invoicing"
DRAFT_TASK = "draft_invoices"
ISSUE_TASK = "issue_invoices"
REJECT_TASK = "record_rejection"
APPROVAL_ENV = "ESTATE_OPS_INVOICE_APPROVAL"


def approval_required(plan: Any, estate: Any, environ: dict[str, str] | None = None) -> bool:
    """Whether a human approves drafts: ESTATE_OPS_INVOICE_APPROVAL, else estate.yaml, else plan.yaml."""
    environ = os.environ if environ is None else environ
    value = (environ.get(APPROVAL_ENV) or "").strip().lower()
    if value:
        if value in ("required", "on", "true", "1", "yes"):
            return True
        if value in ("off", "false", "0", "no"):
            return False
        raise ValueError(f"{APPROVAL_ENV} must be 'required' or 'off', got {value!r}")
    if estate.invoicing.approval_required is not None:
        return estate.invoicing.approval_required
    return plan.invoicing.approval_required


def _fail(message: str):
    from airflow.sdk.exceptions import AirflowFailException

    # Bad input is not transient: fail now (no retries), with the message a person acts on.
    return AirflowFailException(message)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "on")


def render_document(document: dict[str, Any]) -> list[tuple[str, bytes]]:
    """Every file of `document` (csv, pdf, json), rendered in memory: (key, bytes), the JSON last."""
    from estate_ops.domain.invoicing import document_csv
    from estate_ops.domain.serialize import canonical_json
    from estate_ops.reports.invoice_pdf import render_invoice_pdf

    month, client_id, number = document["month"], document["client_id"], document["number"]
    return [(document_key(month, client_id, number, "csv"), document_csv(document)),
            (document_key(month, client_id, number, "pdf"), render_invoice_pdf(document)),
            (document_key(month, client_id, number, "json"), canonical_json(document))]


def write_document(store: Any, document: dict[str, Any]) -> list[str]:
    """Render every file first, then write CSV and PDF, the JSON last: an invoice whose JSON exists is
    complete, and a rendering failure writes nothing."""
    files = render_document(document)
    for key, data in files:
        store.put_bytes(key, data)
    return [key for key, _ in files]


# A number of the right shape that is never allocated (sequence 0): the documents are rendered with
# it before any number is claimed, so a document that cannot be rendered claims nothing.
PROOF_NUMBERS = {"invoice": "INV-0000-0000", "credit_note": "CN-0000-0000"}


# ------------------------------------------------------------------------------------ drafting


def load_month(store: Any, month: Any, plan: Any, estate: Any, now: dt.datetime):
    """The month's validated entries from its folder and both neighbours' (TimesheetError when unusable)."""
    from estate_ops.domain.timesheets import TimesheetFile, validate_month

    files = []
    for folder in (month.previous(), month, month.next()):
        for key in store.list_keys(f"timesheets/{folder}/"):
            if key.lower().endswith(".csv"):
                files.append(TimesheetFile(key, store.get_bytes(key)))
    return validate_month(files, month, client_ids={c.id for c in estate.clients}, now=now,
                          tz=plan.contract_month_timezone)


class DraftInvoicesOperator(BaseOperator):
    """Validate the month's time entries and store one draft invoice per client to be issued."""

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config
        from estate_ops.domain.invoicing import (
            approval_line,
            build_drafts,
            clients_from_config,
            rules_from_config,
        )
        from estate_ops.domain.periods import PeriodError, report_month
        from estate_ops.domain.serialize import canonical_json
        from estate_ops.domain.timesheets import TimesheetError, rejected_csv
        from estate_ops.hooks.artifacts import ArtifactStore

        plan, estate = load_config()
        params = context.get("params") or {}
        now = dt.datetime.now(dt.UTC)
        try:
            month = report_month(run_as_of(context), params.get("month") or None, tz=plan.contract_month_timezone,
                                 now=now)
        except PeriodError as exc:
            raise _fail(f"support_invoicing: {exc}") from None
        only = (params.get("client") or "").strip()
        known = sorted(c.id for c in estate.clients)
        if only and only not in known:
            raise _fail(f"support_invoicing: client {only!r} is not in estate.yaml clients {known}")
        reissue = _truthy(params.get("reissue", False))
        if reissue and not only:
            raise _fail("support_invoicing: reissue corrects one client-month at a time: give `client` too")

        store = ArtifactStore.for_estate(estate)
        try:
            validated = load_month(store, month, plan, estate, now)
        except TimesheetError as exc:
            raise _fail(f"support_invoicing {month}: {exc}. No invoice was issued and nothing was written.") from None

        ledger = InvoiceLedger(store)
        clients = [c for c in clients_from_config(plan, estate) if not only or c.id == only]
        rollover_in, notes = self._rollover(store, ledger, month, plan, estate, clients, now)
        drafts = build_drafts(validated.entries, month, rules_from_config(plan), clients, tz=plan.contract_month_timezone,
                              rollover_in=rollover_in, rejected_by_client=validated.rejected_by_client())

        rejected_key = f"invoices/{month}/rejected.csv"
        store.put_bytes(rejected_key, rejected_csv(validated.rejected))
        slots = ledger.slots(str(month))
        to_issue, issued, unchanged = [], [], []
        for draft in drafts:
            body = canonical_json(draft.as_dict())
            digest = _sha256(body)
            state = ledger.state(str(month), draft.client_id, slots.get(draft.client_id, {}))
            if state["current"]:
                current = store.get_json(state["current_key"])
                if not reissue:
                    issued.append({"client_id": draft.client_id, "number": state["current"]})
                    continue
                if current.get("draft_sha256") == digest:
                    unchanged.append({"client_id": draft.client_id, "number": state["current"]})
                    continue
            draft_key = f"invoices/{month}/_drafts/{draft.client_id}.json"
            store.put_bytes(draft_key, body)
            to_issue.append({"client_id": draft.client_id, "client_name": draft.summary["client_name"],
                             "action": "reissue" if state["current"] else "new", "replaces": state["current"],
                             "draft_key": draft_key, "draft_sha256": digest, "total": str(draft.total),
                             "currency": draft.summary["currency"], "summary": approval_line(draft.summary)})
        result = {
            "month": str(month), "client": only or None, "reissue": reissue,
            "to_issue": to_issue, "already_issued": issued, "unchanged": unchanged,
            "rejected_rows": len(validated.rejected), "rejected_key": rejected_key,
            "duplicates_dropped": len(validated.duplicates_dropped),
            "overlapping_entries": len(validated.overlaps),
            "entries": len(validated.entries), "rows_read": validated.rows_read,
            "other_months": validated.other_months, "files": validated.files, "notes": notes,
        }
        self.log.info("%s: %d entries accepted, %d rows rejected (%s), %d identical repeats dropped, "
                      "%d drafts to issue, %d already issued", month, result["entries"], result["rejected_rows"],
                      rejected_key, result["duplicates_dropped"], len(to_issue), len(issued))
        for note in notes:
            self.log.info(note)
        return result

    def _rollover(self, store: Any, ledger: InvoiceLedger, month: Any, plan: Any, estate: Any,
                  clients: list, now: dt.datetime) -> tuple[dict[str, int], list[str]]:
        """Last month's unused included seconds of each client with rollover: from its issued invoice,
        else recomputed from last month's timesheets, else none."""
        from estate_ops.domain.invoicing import build_drafts, rules_from_config
        from estate_ops.domain.timesheets import TimesheetError

        wanted = [c for c in clients if c.rollover]
        if not wanted:
            return {}, []
        previous = month.previous()
        result, notes, missing = {}, [], []
        slots = ledger.slots(str(previous))
        for client in wanted:
            state = ledger.state(str(previous), client.id, slots.get(client.id, {}))
            if state["current"]:
                doc = store.get_json(state["current_key"])
                result[client.id] = int(doc["seconds"]["unused_included"])
                notes.append(f"rollover for {client.id}: {doc['hours']['unused_included']} h unused on "
                             f"{state['current']} ({previous})")
            else:
                missing.append(client)
        if missing:
            try:
                before = load_month(store, previous, plan, estate, now)
                drafts = build_drafts(before.entries, previous, rules_from_config(plan), missing,
                                      tz=plan.contract_month_timezone)
                for draft in drafts:
                    result[draft.client_id] = int(draft.summary["seconds"]["unused_included"])
                    notes.append(f"rollover for {draft.client_id}: {draft.summary['hours']['unused_included']} h "
                                 f"unused in {previous}, computed from its timesheets (no invoice issued)")
            except TimesheetError as exc:
                for client in missing:
                    result[client.id] = 0
                    notes.append(f"rollover for {client.id}: none, {previous} cannot be read ({exc})")
        return result, notes


# ------------------------------------------------------------------------------------ approval


class ApproveInvoicesOperator(HITLBranchOperator):
    """A person approves the month's drafts (Approve -> issue, Reject -> nothing issued)."""

    def __init__(self, *, draft_task_id: str = DRAFT_TASK, **kwargs: Any) -> None:
        kwargs.setdefault("subject", "Approve support invoices")
        kwargs.setdefault("options", ["Approve", "Reject"])
        kwargs.setdefault("options_mapping", {"Approve": ISSUE_TASK, "Reject": REJECT_TASK})
        super().__init__(**kwargs)
        self.draft_task_id = draft_task_id

    def execute(self, context: Any):
        from estate_ops.config import load_config

        plan, estate = load_config()
        drafts = context["ti"].xcom_pull(task_ids=self.draft_task_id)
        if not drafts["to_issue"]:
            self.log.info("nothing new to issue for %s: no approval needed", drafts["month"])
            return self.do_branch(context, [ISSUE_TASK])
        if not approval_required(plan, estate):
            self.log.info("approval is switched off for this deployment (%s, estate.yaml invoicing."
                          "approval_required, plan.yaml): issuing", APPROVAL_ENV)
            return self.do_branch(context, [ISSUE_TASK])
        self.subject = f"Approve {len(drafts['to_issue'])} support invoice(s) for {drafts['month']}"
        self.body = approval_body(drafts)
        self._announce(context, plan, estate, drafts)
        return super().execute(context)

    def _announce(self, context: Any, plan: Any, estate: Any, drafts: dict[str, Any]) -> None:
        """Tell the channel a decision is waiting (once per set of drafts), with a link when the UI is known."""
        from estate_ops.alerting import SeverityRouter
        from estate_ops.hooks.artifacts import ArtifactStore

        try:
            link = self.generate_link_to_ui_from_context(context=context)
        except ValueError:  # no api.base_url configured: the message still says where to look
            link = "Airflow > Required Actions"
        digest = _sha256("|".join(i["draft_sha256"] for i in drafts["to_issue"]).encode())[:16]
        from estate_ops.domain.slacktext import slack_escape as e

        text = (f"*{e(self.subject)}* - waiting for a decision: {link}\n"
                + "\n".join(f"• {e(i['summary'])}" for i in drafts["to_issue"]))
        SeverityRouter(plan, estate, ArtifactStore.for_estate(estate)).post_slack_once(
            f"{DAG_ID}/{drafts['month']}/approval/{digest}", text)


def approval_body(drafts: dict[str, Any]) -> str:
    lines = [f"Draft invoices for **{drafts['month']}**"
             + (" (reissue: a credit note cancels the current invoice)" if drafts["reissue"] else "") + ":", ""]
    for item in drafts["to_issue"]:
        replaces = f" - replaces {item['replaces']}" if item["replaces"] else ""
        lines.append(f"- {item['summary']}{replaces}")
    lines.append("")
    lines.append(f"{drafts['entries']} entries accepted; {drafts['rejected_rows']} row(s) rejected "
                 f"(`{drafts['rejected_key']}`); {drafts['duplicates_dropped']} identical repeat(s) dropped; "
                 f"{drafts['overlapping_entries']} overlapping entr(ies) flagged.")
    if drafts["already_issued"]:
        lines.append("Already issued, unchanged: "
                     + ", ".join(f"{i['client_id']} {i['number']}" for i in drafts["already_issued"]) + ".")
    lines.append("Drafts: `invoices/" + drafts["month"] + "/_drafts/`. Approve issues them all; Reject issues nothing.")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ issuing


class IssueInvoicesOperator(BaseOperator):
    """Number, write and announce the approved drafts; return what was issued."""

    def __init__(self, *, draft_task_id: str = DRAFT_TASK, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.draft_task_id = draft_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        import json

        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.invoicing import credit_note_document, invoice_document
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        drafts = context["ti"].xcom_pull(task_ids=self.draft_task_id)
        month = drafts["month"]
        store = ArtifactStore.for_estate(estate)
        ledger = InvoiceLedger(store)
        issued_on = run_as_of(context).astimezone(plan.timezone).date()
        issuer = estate.invoicing.issuer.model_dump()
        keys = [drafts["rejected_key"]]
        issued: list[dict[str, Any]] = []
        # Every document of every approved draft is rendered once with a placeholder number before
        # any number is claimed: a rendering failure stops the run having claimed and written nothing.
        for item in drafts["to_issue"]:
            self._prove_renderings(store, ledger, month, item, issued_on, issuer, plan)
        for item in drafts["to_issue"]:
            body = store.get_bytes(item["draft_key"])
            if _sha256(body) != item["draft_sha256"]:
                raise _fail(f"{item['draft_key']} changed after it was approved; run support_invoicing again")
            draft = json.loads(body)
            client_id = item["client_id"]
            state = ledger.state(month, client_id)
            if item["action"] == "reissue" and state["current"]:
                original = store.get_json(state["current_key"])
                slot = state["next_slot"] - 1
                number, on = ledger.claim(month, client_id, f"credit-{slot}", "credit_note", issued_on)
                credit = credit_note_document(original, number=number, issued_on=on,
                                              reason="reissued with corrected time entries")
                keys += write_document(store, credit)
                issued.append({"client_id": client_id, "number": number, "kind": "credit_note",
                               "total": str(credit["total"]), "cancels": original["number"]})
                state = ledger.state(month, client_id)
            elif state["current"]:
                # Issued meanwhile (e.g. by a concurrent run): keep it, never issue twice.
                continue
            if state.get("credit_pending"):
                # A reissue stopped after numbering its credit note: write it before the new invoice.
                pending = state["credit_pending"]
                credit = credit_note_document(store.get_json(state["cancelled_key"]), number=pending["number"],
                                              issued_on=dt.date.fromisoformat(pending["issued_on"]),
                                              reason="reissued with corrected time entries")
                keys += write_document(store, credit)
                issued.append({"client_id": client_id, "number": pending["number"], "kind": "credit_note",
                               "total": str(credit["total"]), "cancels": state["cancelled"]})
            slot = state["pending"]["slot"] if state["pending"] else state["next_slot"]
            number, on = ledger.claim(month, client_id, f"invoice-{slot}", "invoice", issued_on)
            document = invoice_document(draft, number=number, issued_on=on,
                                        payment_terms_days=plan.invoicing.payment_terms_days, issuer=issuer,
                                        plan_version=plan.plan.version, draft_sha256=item["draft_sha256"],
                                        replaces=item["replaces"] or state.get("cancelled"))
            keys += write_document(store, document)
            issued.append({"client_id": client_id, "number": number, "kind": "invoice",
                           "total": str(document["total"]), "summary": item["summary"]})
        # Everything current for the month (issued now or before), for the summary and the manifest.
        current = []
        slots = ledger.slots(month)
        for client_id in sorted(slots):
            if drafts["client"] and client_id != drafts["client"]:
                continue
            state = ledger.state(month, client_id, slots[client_id])
            if state["current"]:
                doc = store.get_json(state["current_key"])
                keys += [document_key(month, client_id, state["current"], ext) for ext in ("json", "csv", "pdf")]
                current.append({"client_id": client_id, "client_name": doc["client"]["name"],
                                "number": state["current"], "total": doc["total"], "currency": doc["currency"],
                                "hours": doc["hours"]})
        router = SeverityRouter(plan, estate, store)
        posted = False
        if current:
            digest = _sha256("|".join(f"{c['client_id']}={c['number']}" for c in current).encode())[:16]
            posted = router.post_slack_once(f"{DAG_ID}/{month}/{digest}", slack_summary(month, current, drafts))
        # What the month stands at, not what this run did: a rerun writes the same manifest bytes.
        headline = {"invoices": len(current), "numbers": [c["number"] for c in current],
                    "rejected_rows": drafts["rejected_rows"]}
        keys.append(write_run_manifest(store, DAG_ID, month, keys, headline))
        self.log.info("%s: issued %s; current %s; Slack %s", month, [i["number"] for i in issued],
                      [c["number"] for c in current], "posted" if posted else "already posted")
        return {"month": month, "issued": issued, "current": current, "slack_posted": posted,
                "artifacts": sorted(set(keys))}


    def _prove_renderings(self, store: Any, ledger: InvoiceLedger, month: str, item: dict[str, Any],
                          issued_on: dt.date, issuer: dict[str, Any], plan: Any) -> None:
        """Render (in memory, discarded) the documents `execute` would issue for `item`, numbered with
        PROOF_NUMBERS; fail the task, claiming nothing, when one cannot be rendered."""
        import json

        from estate_ops.domain.invoicing import credit_note_document, invoice_document

        body = store.get_bytes(item["draft_key"])
        if _sha256(body) != item["draft_sha256"]:
            raise _fail(f"{item['draft_key']} changed after it was approved; run support_invoicing again")
        client_id = item["client_id"]
        state = ledger.state(month, client_id)
        documents = []
        cancelled = state.get("cancelled")
        if item["action"] == "reissue" and state["current"]:
            original = store.get_json(state["current_key"])
            cancelled = original["number"]
            documents.append(credit_note_document(original, number=PROOF_NUMBERS["credit_note"], issued_on=issued_on,
                                                  reason="reissued with corrected time entries"))
        elif state["current"]:
            return  # issued meanwhile: execute keeps it
        if state.get("credit_pending"):
            documents.append(credit_note_document(store.get_json(state["cancelled_key"]),
                                                  number=PROOF_NUMBERS["credit_note"], issued_on=issued_on,
                                                  reason="reissued with corrected time entries"))
        documents.append(invoice_document(json.loads(body), number=PROOF_NUMBERS["invoice"], issued_on=issued_on,
                                          payment_terms_days=plan.invoicing.payment_terms_days, issuer=issuer,
                                          plan_version=plan.plan.version, draft_sha256=item["draft_sha256"],
                                          replaces=item["replaces"] or cancelled))
        for document in documents:
            try:
                render_document(document)
            except Exception as exc:
                raise _fail(f"support_invoicing {month}: the {document['kind'].replace('_', ' ')} for {client_id} "
                            f"cannot be rendered ({type(exc).__name__}: {exc}). No invoice number was claimed and "
                            f"nothing was written; fix the cause and run the task again.") from exc


def slack_summary(month: str, current: list[dict[str, Any]], drafts: dict[str, Any]) -> str:
    from decimal import Decimal

    from estate_ops.domain.slacktext import slack_escape as e

    lines = [f"*Support invoices for {month}*: {len(current)} issued"]
    for c in current:
        h = c["hours"]
        lines.append(f"• {e(c['client_name'])}: {e(c['number'])} {e(c['currency'])} {Decimal(c['total']):,.2f} - "
                     f"{h['used']} of {h['allowance']} h used, overage {h['overage']} h, "
                     f"out of scope {h['out_of_scope']} h")
    if drafts["rejected_rows"]:
        lines.append(f"{drafts['rejected_rows']} time entry row(s) rejected: `{e(drafts['rejected_key'])}`")
    return "\n".join(lines)


class RecordRejectionOperator(BaseOperator):
    """The approver rejected the drafts: nothing is issued; the run manifest says so."""

    def __init__(self, *, draft_task_id: str = DRAFT_TASK, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.draft_task_id = draft_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.reports.publish import write_run_manifest

        _plan, estate = load_config()
        drafts = context["ti"].xcom_pull(task_ids=self.draft_task_id)
        store = ArtifactStore.for_estate(estate)
        clients = [i["client_id"] for i in drafts["to_issue"]]
        write_run_manifest(store, DAG_ID, drafts["month"], [drafts["rejected_key"]],
                           {"rejected_drafts": clients, "rejected_rows": drafts["rejected_rows"]}, status="rejected")
        self.log.info("%s: drafts for %s rejected by the approver; nothing issued", drafts["month"], clients)
        return {"month": drafts["month"], "rejected_drafts": clients}


class SupportHoursWatchOperator(BaseOperator):
    """The current contract month's hours so far, per client: Slack once per threshold per month.

    Drafts the month so far with the invoice's own function (`build_drafts`: the same rounding,
    tiers and scope), then judges each draft with `hours_watch`. Writes
    `invoices/YYYY-MM/hours-watch/YYYY-MM-DD.json`. Rollover is not counted (the watch warns early).
    """

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.invoicing import (
            build_drafts,
            clients_from_config,
            hours_watch,
            hours_watch_text,
            rules_from_config,
        )
        from estate_ops.domain.periods import Month, PeriodError
        from estate_ops.domain.timesheets import TimesheetError
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        tz = plan.contract_month_timezone
        now = dt.datetime.now(dt.UTC)
        day_param = (context.get("params") or {}).get("date")
        if day_param:
            try:
                day = dt.date.fromisoformat(str(day_param))
            except ValueError:
                raise PeriodError(f"date must be YYYY-MM-DD, got {day_param!r}") from None
            as_of = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC)
            if as_of > now:
                raise PeriodError(f"day {day} ({tz.key}) has not ended yet")
        else:
            as_of = min(run_as_of(context), now)
        as_of_local = (as_of - dt.timedelta(seconds=1)).astimezone(tz)
        month, watched_day = Month.of(as_of_local.date()), as_of_local.date()
        store = ArtifactStore.for_estate(estate)
        try:
            validated = load_month(store, month, plan, estate, now)
        except TimesheetError as exc:
            self.log.info("%s: nothing to watch yet (%s)", month, exc)
            return {"month": str(month), "clients": [], "posted": []}
        entries = validated.entries[validated.entries["started_at"] < as_of]  # the month so far
        drafts = build_drafts(entries, month, rules_from_config(plan), clients_from_config(plan, estate), tz=tz,
                              rejected_by_client=validated.rejected_by_client())
        router = SeverityRouter(plan, estate, store)
        watches, posted = [], []
        for draft in drafts:
            watch = hours_watch(draft.summary, thresholds=plan.invoicing.hours_watch_percent, as_of=as_of, tz=tz)
            watches.append(watch)
            ids = {t: f"{self.dag_id}/{month}/{draft.client_id}/{t}" for t in watch["crossed_percent"]}
            unsent = [t for t in watch["crossed_percent"] if not router.summary_sent(ids[t])]
            if unsent:  # one message for the highest threshold crossed since the last one sent
                top = unsent[-1]
                router.post_slack_once(ids[top], hours_watch_text(watch, top), covers=[ids[t] for t in unsent[:-1]])
                posted.append({"client_id": draft.client_id, "percent": top})
        key = f"invoices/{month}/hours-watch/{watched_day.isoformat()}.json"
        store.put_json(key, {"month": str(month), "as_of": as_of, "clients": watches})
        headline = {"hours_used": {"value": ", ".join(f"{w['client_id']} {w['used_hours']}/{w['included_hours']}"
                                                      for w in watches), "unit": "h"},
                    "messages_posted": {"value": len(posted), "unit": ""}}
        write_run_manifest(store, self.dag_id, watched_day.isoformat(), [key], headline)
        self.log.info("%s as of %s: %s", month, as_of.isoformat(),
                      "; ".join(f"{w['client_id']} {w['used_hours']}/{w['included_hours']} h" for w in watches))
        return {"month": str(month), "key": key, "clients": [w["client_id"] for w in watches], "posted": posted}
