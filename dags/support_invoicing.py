"""support_invoicing: a month of logged support time -> approved, numbered invoices per client tier (plan §5)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, CronTriggerTimetable, Param
from estate_ops.dag_defaults import (
    ET,
    default_args,
    month_close_asset,
    month_param,
    tags,
)
from estate_ops.operators.invoicing import (
    DRAFT_TASK,
    ISSUE_TASK,
    REJECT_TASK,
    ApproveInvoicesOperator,
    DraftInvoicesOperator,
    IssueInvoicesOperator,
    RecordRejectionOperator,
)

with DAG(
    dag_id="support_invoicing",
    doc_md="""
### Support invoicing (plan §5: Basic 20 h / $5,000, Standard 40 h / $10,000, Premium 80 h / $18,000)

Monthly, on the 1st at 07:00 ET, for the previous calendar month (or the `month` of a manual run).

1. **draft_invoices** reads `timesheets/YYYY-MM/*.csv` (DESIGN.md §4; an entry belongs to the ET
   month it started in, so the neighbouring months' folders are read too), validates every row and
   writes the rejected ones to `invoices/YYYY-MM/rejected.csv` with file, line and reason. Each
   client's draft: entries rounded up to 15 minutes, in-scope hours against the tier's allowance
   (prorated by days on a tier change; plus last month's unused hours for clients with rollover),
   overage at the tier's rate, out-of-scope work listed for a quote. A wrong header, a file that
   is not UTF-8 or a month without entries fails here: nothing is issued or written.
2. **approve_invoices** asks a person (Airflow's Required Actions) to Approve or Reject, showing
   each draft's hours used / included, overage, out-of-scope hours and rejected rows. Switched
   off by `invoicing.approval_required: false` in estate.yaml or `ESTATE_OPS_INVOICE_APPROVAL=off`.
3. **issue_invoices** numbers them `INV-YYYY-NNNN` (atomic S3 conditional writes, never reused),
   writes `invoices/YYYY-MM/<client_id>/<number>.{json,csv,pdf}` and posts one Slack summary.
   **record_rejection** runs instead on Reject: nothing is issued.

A rerun for a client-month that has an invoice returns it unchanged. To correct one, trigger with
`client` and `reissue`: a credit note `CN-YYYY-NNNN` cancels the invoice and a new one is issued.
A failed run is P3.
""",
    schedule=CronTriggerTimetable("0 7 1 * *", timezone=ET),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P3"),
    tags=tags("invoicing"),
    params={
        "month": month_param("YYYY-MM to invoice; empty: the previous calendar month."),
        "client": Param(None, type=["null", "string"], title="Client",
                        description="One client id from estate.yaml; empty: every client."),
        "reissue": Param(False, type="boolean", title="Reissue",
                         description="Cancel the client's invoice for the month with a credit note and "
                                     "issue a corrected one (needs `client`)."),
    },
) as dag:
    draft = DraftInvoicesOperator(task_id=DRAFT_TASK)
    # Unanswered for a week, the run fails (a P3 alert) rather than waiting forever.
    approve = ApproveInvoicesOperator(task_id="approve_invoices", draft_task_id=DRAFT_TASK,
                                      response_timeout=dt.timedelta(days=7))
    issue = IssueInvoicesOperator(task_id=ISSUE_TASK, draft_task_id=DRAFT_TASK,
                                  outlets=[month_close_asset("estate_ops_invoices_month")])
    reject = RecordRejectionOperator(task_id=REJECT_TASK, draft_task_id=DRAFT_TASK)
    draft >> approve >> [issue, reject]
