"""The verdict sentence every report opens with (issue 20): the answer first, in words.

One pure function per report kind, each composing one sentence from the report JSON alone (a dict
as the domain builds it, or as read back from report.json: values may be Decimals, datetimes or
their JSON strings). Templates display it (`report.html.j2`'s header); nothing here computes a
figure, it only words the ones the report carries. `verdict(report)` picks the kind's function; a
kind without one (a new kind, or `preflight`'s generic layout) gets `generic_verdict`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

Report = dict[str, Any]


# ----------------------------------------------------------------------------- wording helpers


def _value(report: Report, section: str, name: str) -> Any:
    figure = (report.get(section) or {}).get(name)
    return figure.get("value") if isinstance(figure, dict) else figure


def _number(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(str(value)), "f")
    return str(value)


def _instant(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _day(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _day_text(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def when(value: Any) -> str:
    """An instant as a sentence says it: "9 October at 06:44 UTC"."""
    instant = _instant(value)
    return f"{instant.day} {instant:%B} at {instant:%H:%M} UTC"


def period_text(report: Report) -> str:
    """The period as a sentence opens: "October 2026" for a month, "2 November 2026" for a day."""
    period = report.get("period") or {}
    month = period.get("month")
    if month:
        year, number = str(month).split("-")[:2]
        return f"{dt.date(int(year), int(number), 1):%B %Y}"
    for key in ("date", "day", "start"):
        day = _day(period.get(key))
        if day:
            return _day_text(day)
    return str(report.get("title") or report.get("kind") or "Report")


def _plural(count: Any, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


# ----------------------------------------------------------------------------- per kind


def availability_verdict(report: Report) -> str:
    """e.g. "October 2026: 99.7557 % — below the 99.9 % target; the error budget ran out on 9 October at 06:44 UTC." """
    head = period_text(report)
    composite = _value(report, "headline", "composite_availability")
    target = _number(_value(report, "headline", "target"))
    if composite is None:
        return f"{head}: availability cannot be computed — no counted minute has data (it is not 0 % and not 100 %)."
    status = _value(report, "headline", "status")
    text = f"{head}: {_number(composite)} % — "
    if status == "met":
        remaining = _value(report, "figures", "error_budget_remaining")
        allowed = _value(report, "figures", "error_budget_allowed")
        return text + (f"meets the {target} % target; {_number(remaining)} of {_number(allowed)} "
                       "error-budget minutes remain.")
    exhausted = _value(report, "figures", "error_budget_exhausted_at")
    text += f"below the {target} % target"
    if exhausted is not None:
        text += f"; the error budget ran out on {when(exhausted)}"
    return _sentence(text)


def incidents_verdict(report: Report) -> str:
    """e.g. "October 2026: 12 incidents, 83.3 % within the §1.2 targets; 2 breached; 1 post-mortem missing or late." """
    head = period_text(report)
    incidents = _value(report, "headline", "incidents") or 0
    if not incidents:
        return f"{head}: no incidents, so no response or resolution target was at stake."
    compliance = _value(report, "headline", "compliance")
    breaches = _value(report, "headline", "breaches") or 0
    late = _value(report, "headline", "postmortems_missing_or_late") or 0
    parts = [f"{head}: {_plural(incidents, 'incident')}"]
    parts.append(f"{_number(compliance)} % within the §1.2 targets" if compliance is not None
                 else "none decided yet (all within their targets so far)")
    text = ", ".join(parts)
    text += f"; {breaches} breached" if breaches else "; none breached"
    if late:
        text += f"; {_plural(late, 'post-mortem')} missing or late"
    status_page = _value(report, "headline", "status_page_late_or_never") or 0
    if status_page:
        text += f"; the status page late or never updated for {_plural(status_page, 'P0/P1 incident')}"
    return _sentence(text)


def backups_verdict(report: Report) -> str:
    """e.g. "2 November 2026: red — 3 of 14 checks failed; 1/2 databases green; 2 P0/P1 findings." """
    head = period_text(report)
    status = _value(report, "headline", "status")
    checks = (report.get("inputs") or {}).get("checks", 0)
    failed = _value(report, "figures", "checks_failed") or 0
    green = _value(report, "headline", "databases_green")
    if status == "green" and not failed:
        return f"{head}: green — every §4.1 backup promise verified ({checks} checks; {green} databases green)."
    urgent = _value(report, "headline", "findings_p1") or 0
    text = f"{head}: {status} — {failed} of {checks} checks failed; {green} databases green"
    if urgent:
        text += f"; {_plural(urgent, 'P0/P1 finding')}"
    return _sentence(text)


def drill_verdict(report: Report) -> str:
    """e.g. "2 November 2026: 2/2 databases restored and verified; worst RTO 45.0 min (target < 240 min), worst data RPO 115.0 min — over the < 60 min target; 1 finding." """
    head = period_text(report)
    verified = _value(report, "headline", "databases_verified")
    text = f"{head}: {verified} databases restored and verified"
    measured = []
    for label, worst, target in (("RTO", "worst_rto_minutes", "rto_target_minutes"),
                                 ("data RPO", "worst_data_rpo_minutes", "rpo_target_minutes")):
        value, limit = _value(report, "headline", worst), _value(report, "figures", target)
        if value is None:
            continue
        if limit is not None and Decimal(str(value)) >= Decimal(str(limit)):  # the plan says "< limit"
            measured.append(f"worst {label} {_number(value)} min — over the < {_number(limit)} min target")
        else:
            measured.append(f"worst {label} {_number(value)} min (target < {_number(limit)} min)")
    if measured:
        text += "; " + ", ".join(measured)
    findings = len(report.get("findings") or [])
    if findings:
        text += f"; {_plural(findings, 'finding')}"
    return _sentence(text)


def retention_verdict(report: Report) -> str:
    """e.g. "2 November 2026: 2 snapshots deleted, 5 protected; 1 database refused; no action failed." """
    head = period_text(report)
    deleted = _value(report, "headline", "snapshots_deleted") or 0
    protected = _value(report, "headline", "snapshots_protected") or 0
    refused = _value(report, "headline", "databases_refused") or 0
    failed = _value(report, "headline", "actions_failed") or 0
    text = f"{head}: {_plural(deleted, 'snapshot')} deleted, {protected} protected"
    text += f"; {_plural(refused, 'database')} refused" if refused else "; no database refused"
    text += f"; {_plural(failed, 'action')} failed" if failed else "; no action failed"
    return _sentence(text)


def preflight_verdict(report: Report) -> str:
    """e.g. "2 November 2026: not ready — 2 of 14 resources missing." """
    head = period_text(report)
    checked = _value(report, "headline", "resources_checked") or 0
    missing = _value(report, "headline", "resources_missing") or 0
    if not missing:
        return f"{head}: ready — all {_plural(checked, 'resource')} the estate names exist."
    return f"{head}: not ready — {missing} of {_plural(checked, 'resource')} missing."


def review_verdict(report: Report) -> str:
    """e.g. "October 2026 for Northwind: complete — availability 99.7557 % (below target); 58 incidents,
    9 breaches; 17.50 of 20.00 h in scope; invoice INV-2026-0003." """
    head = f"{period_text(report)} for {(report.get('cover') or {}).get('client', '')}"
    if not report.get("complete"):
        return _sentence(f"{head}: incomplete — {', '.join(report.get('incomplete_sections') or [])} "
                         "not available; not for sending")
    s = report.get("sections") or {}
    a, i, h = s.get("availability") or {}, s.get("incidents") or {}, s.get("support") or {}
    return _sentence(f"{head}: complete — availability {_number(a.get('composite_percent'))} % ({a.get('target_status')}); "
                     f"{_plural(i.get('incidents'), 'incident')}, {_plural(i.get('breaches'), 'breach', 'breaches')}; "
                     f"{h.get('used_in_scope_hours')} of {h.get('included_hours')} h in scope; invoice {h.get('number')}")


def generic_verdict(report: Report) -> str:
    """A kind without its own sentence: its headline figures in words, then its findings."""
    head = period_text(report)
    figures = [f"{name.replace('_', ' ')} {_figure(value)}" for name, value in (report.get("headline") or {}).items()]
    findings = report.get("findings") or []
    text = f"{head}: " + ("; ".join(figures[:4]) if figures else "report")
    text += f"; {_plural(len(findings), 'finding')}" if findings else "; no findings"
    return _sentence(text)


def _figure(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        number = value["value"]
        if number is None:
            return "—"
        if isinstance(number, dt.datetime):
            return when(number)
        return f"{_number(number)} {value.get('unit') or ''}".strip()
    return _number(value)


VERDICTS: dict[str, Callable[[Report], str]] = {
    "availability": availability_verdict,
    "incidents": incidents_verdict,
    "backups": backups_verdict,
    "drill": drill_verdict,
    "retention": retention_verdict,
    "preflight": preflight_verdict,
    "review": review_verdict,
}


def verdict(report: Report) -> str:
    """The sentence `report` opens with (its kind's function, else `generic_verdict`)."""
    return VERDICTS.get(report.get("kind", ""), generic_verdict)(report)
