"""The status page's pure rules: public-safe text, the maintenance notice, finding what we marked;
linking a status-page incident to a PagerDuty incident, judging the communication, the timeline."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from estate_ops.domain.statuspage import (
    COMPONENT_TIME,
    EXPLICIT,
    PdIncident,
    communication_rows,
    judge_step,
    link_incidents,
    maintenance_notice,
    marked,
    parse_status_incident,
    public_text,
    timeline,
)

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize("text,expected", [
    ("db upgrade", "db upgrade"),
    ("  two\n\tlines  ", "two lines"),
    ("<img src=x onerror=alert(1)>", "img src=x onerror=alert(1)"),
    ("[click](https://evil) `code`", "click(https://evil) code"),
    ("right\u202eleft\x00", "rightleft"),
    ("", ""),
])
def test_public_text(text, expected):
    assert public_text(text) == expected


def test_public_text_is_bounded():
    assert public_text("x" * 1000, 50) == "x" * 49 + "…"


def test_maintenance_notice_states_the_window_in_both_zones():
    start = dt.datetime(2027, 3, 14, 6, tzinfo=dt.UTC)  # spring forward: 02:00 EST does not exist
    name, body = maintenance_notice(start, start + dt.timedelta(hours=3), "<b>kernel</b>", NY, ["Legacy API"])
    assert name == "Planned maintenance: Legacy API"
    assert "Sun 14 Mar 2027 01:00 EST-05:00 EDT (06:00-09:00 UTC)" in body  # the zone changes inside
    assert body.endswith("Reason: bkernel/b.")


def test_marked_finds_only_our_id():
    incidents = [{"id": "a", "metadata": {"estate_ops": {"window_id": "mw-1"}}},
                 {"id": "b", "metadata": {"estate_ops": {"window_id": "mw-10"}}},
                 {"id": "c", "metadata": {"other": {"window_id": "mw-1"}}},
                 {"id": "d", "metadata": None}, {"id": "e"}]
    assert [i["id"] for i in marked(incidents, "window_id", "mw-1")] == ["a"]


# --- communicate: linking and judging

T0 = dt.datetime(2026, 10, 9, 2, 10, tzinfo=dt.UTC)
AS_OF = dt.datetime(2026, 11, 1, 11, tzinfo=dt.UTC)
COMPONENTS = {"PLEGAPI": ["cmpapi"], "PLEGWEB": ["cmpweb"]}
WEB = "https://status.example"


def _pd(id_="PD1", severity="P0", service="PLEGAPI", start=T0, minutes=95):
    return PdIncident(id_, 7, severity, service, start, start + dt.timedelta(minutes=minutes) if minutes else None,
                      f"https://legacy.pagerduty.com/incidents/{id_}")


def _sp(id_, *, first=5, resolved=110, components=("cmpapi",), metadata=None, body="Investigating", start=T0,
        scheduled=False, shortlink=None):
    first_at = start + dt.timedelta(minutes=first)
    updates = [{"id": f"{id_}u1", "created_at": first_at.isoformat(), "body": body}]
    raw = {"id": id_, "name": "Degraded", "created_at": first_at.isoformat(), "metadata": metadata or {},
           "components": [{"id": c} for c in components], "incident_updates": updates,
           "resolved_at": (start + dt.timedelta(minutes=resolved)).isoformat() if resolved else None,
           "shortlink": shortlink, "status": "scheduled" if scheduled else "resolved",
           "scheduled_for": start.isoformat() if scheduled else None}
    return raw


def _parsed(*raws):
    return [s for s in (parse_status_incident(r, WEB) for r in raws) if s is not None]


def test_explicit_reference_wins_over_time_overlap():
    by_time = _sp("sptime", first=2)
    explicit = _sp("spref", first=30, components=("cmpweb",), metadata={"pagerduty": {"incident_id": "PD1"}})
    links = link_incidents([_pd()], _parsed(by_time, explicit), COMPONENTS, AS_OF)
    assert (links["PD1"].status.id, links["PD1"].rule) == ("spref", EXPLICIT)


def test_reference_by_url_in_the_first_update_and_ids_are_whole_words():
    url = _sp("spurl", body="See https://legacy.pagerduty.com/incidents/PD1 for details", components=())
    prefix = _sp("spprefix", body="about PD10", components=())
    links = link_incidents([_pd(), _pd("PD10", start=T0 + dt.timedelta(days=3))], _parsed(url, prefix),
                           COMPONENTS, AS_OF)
    assert (links["PD1"].status.id, links["PD10"].status.id) == ("spurl", "spprefix")


def test_component_and_time_link_one_candidate_and_report_two():
    one = link_incidents([_pd()], _parsed(_sp("sp1")), COMPONENTS, AS_OF)["PD1"]
    assert (one.status.id, one.rule) == ("sp1", COMPONENT_TIME)
    two = link_incidents([_pd()], _parsed(_sp("sp1"), _sp("sp2", first=20)), COMPONENTS, AS_OF)["PD1"]
    assert two.status is None and two.rule is None and "2 candidates" in two.note and "sp1, sp2" in two.note


@pytest.mark.parametrize("raw,linked", [
    (_sp("other", components=("cmpweb",)), False),  # another service's component
    (_sp("before", first=-200, resolved=-100), False),  # resolved before the incident began
    (_sp("after", first=100, resolved=150), False),  # begins after the PagerDuty resolve
    (_sp("touching", first=94, resolved=150), True),  # begins a minute before the resolve
    (_sp("maint", scheduled=True), False),  # a scheduled maintenance is no incident's communication
    (_sp("late", first=60 * 24 * 30), False),  # opened after the report's as_of
])
def test_component_and_time_rules(raw, linked):
    links = link_incidents([_pd()], _parsed(raw), COMPONENTS, AS_OF)
    assert (links["PD1"].status is not None) is linked


def test_claimed_by_reference_is_not_anyone_elses_by_time():
    ref = _sp("spref", metadata={"pd": "PD1"})
    links = link_incidents([_pd(), _pd("PD2", service="PLEGAPI")], _parsed(ref), COMPONENTS, AS_OF)
    assert links["PD1"].status.id == "spref" and links["PD2"].status is None


@pytest.mark.parametrize("done,state", [(15, "on_time"), (15.01, "late"), (None, "never")])
def test_first_update_target_at_its_boundary(done, state):
    deadline = T0 + dt.timedelta(minutes=15)
    assert judge_step(T0 + dt.timedelta(minutes=done) if done is not None else None, deadline, AS_OF) == state
    assert judge_step(None, deadline, deadline) == "pending"  # not yet due at as_of


def _row(raw, pd=None, as_of=AS_OF):
    pd = pd or _pd()
    status = _parsed(raw) if raw else []
    links = link_incidents([pd], status, COMPONENTS, as_of)
    (row,) = communication_rows([pd], links, first_update_minutes={"P0": 15, "P1": 60},
                                resolved_within_minutes=60, as_of=as_of)
    return row


@pytest.mark.parametrize("first,resolved,verdict", [
    (15, 95 + 60, "on_time"),  # both exactly at their deadlines
    (16, 95 + 60, "late"),  # first update a minute late
    (5, 95 + 61, "late"),  # the page resolved a minute late
    (5, None, "late"),  # the page never resolved
])
def test_communication_verdict(first, resolved, verdict):
    row = _row(_sp("sp", first=first, resolved=resolved, metadata={"pd": "PD1"}))
    assert row["communication"] == verdict


def test_never_communicated_and_pending():
    assert _row(None)["communication"] == "never"
    early = T0 + dt.timedelta(minutes=10)  # as_of before the first-update deadline, nothing yet
    row = _row(None, pd=_pd(minutes=None), as_of=early)
    assert (row["communication"], row["first_update"], row["status_page_resolve"]) == ("pending", "pending", "pending")


def test_timeline_sources():
    row = _row(_sp("sp", first=7, metadata={"pd": "PD1"}))
    steps = timeline(_pd(), triaged_at=T0 + dt.timedelta(minutes=3), triage_source="first acknowledgement",
                     communication=row, postmortem={"evidence_at": T0 + dt.timedelta(hours=20),
                                                    "evidence_source": "note", "evidence": "https://wiki/pm"})
    assert [(s["step"], s["minutes_after_detect"]) for s in steps] == [
        ("detect", 0.0), ("triage", 3.0), ("communicate", 7.0), ("resolve", 95.0), ("review", 1200.0)]
    assert steps[2]["source"] == "first public update of status-page incident sp (explicit reference)"
    assert steps[4]["source"] == "post-mortem note: https://wiki/pm"
    bare = timeline(_pd(), triaged_at=None, triage_source="first acknowledgement", communication=_row(None),
                    postmortem=None)
    assert [s["source"] for s in bare][1:3] == ["none", "none"] and bare[4]["at"] is None


@pytest.mark.parametrize("shortlink,expected", [
    ("https://stspg.io/abc", "https://stspg.io/abc"),
    ("javascript:alert(1)", f"{WEB}/incidents/sp"),
    ("https://x.io/a>b", f"{WEB}/incidents/sp"),
])
def test_status_page_link_is_only_a_plain_https_url(shortlink, expected):
    (parsed,) = _parsed(_sp("sp", shortlink=shortlink))
    assert parsed.link == expected


def test_bad_status_page_time_is_named():
    raw = _sp("spbad")
    raw["created_at"] = "yesterday"
    with pytest.raises(ValueError, match="status-page incident spbad created_at: not an ISO 8601 time"):
        parse_status_incident(raw, WEB)


# ----------------------------------------------------------------------------- status_page_sync


def _open(raw: dict) -> dict:
    return {**raw, "status": "investigating", "resolved_at": None}


def test_sync_drafts_only_the_unasked_and_unlinked():
    from estate_ops.domain.statuspage import OPEN, sync_work

    fresh, asked, linked, two = (_pd("PDNEW", minutes=None), _pd("PDASKED", minutes=None),
                                 _pd("PDLINK", service="PLEGWEB", minutes=None),
                                 _pd("PDTWO", service="PLEGWEB", minutes=None))
    unresolved = [_open(_sp("spref", metadata={"x": "PDLINK"}, components=("cmpapi",))),
                  _open(_sp("spa", components=("cmpweb",))), _open(_sp("spb", components=("cmpweb",), first=9))]
    work = sync_work([fresh, asked, linked, two], unresolved, {("PDASKED", OPEN)}, COMPONENTS, WEB, AS_OF)
    # PDNEW is on cmpapi, whose only open status incident is PDLINK's by reference.
    assert [p.id for p in work.to_open] == ["PDNEW"]
    assert work.skipped["PDASKED"] == "asked before"
    assert work.skipped["PDLINK"] == f"status-page incident spref ({EXPLICIT})"
    assert "2 candidates" in work.skipped["PDTWO"]
    assert work.to_resolve == []


def test_sync_proposes_resolve_only_for_ours_whose_incident_closed():
    from estate_ops.domain.statuspage import RESOLVED, sync_work

    ours = {"estate_ops": {"pagerduty_incident": "PDGONE"}}
    unresolved = [_open(_sp("spgone", metadata=ours)),
                  _open(_sp("spopen", metadata={"estate_ops": {"pagerduty_incident": "PDSTILL"}})),
                  _open(_sp("spdone", metadata={"estate_ops": {"pagerduty_incident": "PDDONE"}})),
                  _open(_sp("spbad", metadata={"estate_ops": {"pagerduty_incident": "../../x"}})),
                  _open(_sp("spperson", metadata={}))]
    work = sync_work([_pd("PDSTILL", minutes=None)], unresolved, {("PDDONE", RESOLVED)}, COMPONENTS, WEB, AS_OF)
    assert work.to_resolve == [("PDGONE", "spgone")]


@pytest.mark.parametrize("text,error", [
    ("Outage: API\nno separator", "a line '---'"),
    ("<>\n---\nbody", "empty name or body"),  # markup only: nothing left of the name
    ("Name\n---\n<> []", "empty name or body"),
])
def test_split_draft_refuses_a_template_without_its_shape(text, error):
    from estate_ops.domain.statuspage import split_draft

    with pytest.raises(ValueError, match=error):
        split_draft(text)


def test_draft_values_never_carry_markup_and_name_both_zones():
    from estate_ops.domain.statuspage import draft_values, split_draft

    values = draft_values("open", "P1", "High", ["Web <!channel>", "[x](y)"], T0, NY)
    assert values["components"] == "Web !channel, x(y)" and values["impact"] == "major"
    assert values["started"] == "Thu 08 Oct 2026 22:10 EDT (02:10 UTC)"
    name, body = split_draft("Degraded: " + values["components"] + "\n---\nline <b>one</b>\nline two")
    assert name == "Degraded: Web !channel, x(y)" and body == "line bone/b\nline two"
