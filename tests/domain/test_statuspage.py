"""The status page's pure rules: public-safe text, the maintenance notice, finding what we marked."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from estate_ops.domain.statuspage import maintenance_notice, marked, public_text

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
