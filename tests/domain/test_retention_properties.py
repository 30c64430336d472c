"""Invariants of the pruning plan over random snapshot sets (hypothesis)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal

from estate_ops.domain import retention as R
from hypothesis import given, settings
from hypothesis import strategies as st

UTC = dt.UTC
DAY = dt.date(2026, 11, 2)
DAY_START = dt.datetime(2026, 11, 2, tzinfo=UTC)
DBS = ["db-a", "db-b", "db-gone", "db-foreign"]
ESTATE = ["db-a", "db-b", "db-gone"]
EXISTING = ["db-a", "db-b", "db-foreign"]
PROTECT = ("legal-hold", "keep")


def tag_spellings(words: list[str]):
    """A tag name as people and tools write it: any case, any of -, _, space or nothing between the
    words, surrounding space."""
    letters = st.lists(st.booleans(), min_size=sum(map(len, words)), max_size=sum(map(len, words)))
    separators = st.lists(st.sampled_from(["-", "_", " ", "", "--", " _ "]), min_size=len(words) - 1,
                          max_size=len(words) - 1)

    def spell(upper, seps, before, after):
        chars = iter(upper)
        cased = ["".join(c.upper() if next(chars) else c for c in w) for w in words]
        return before + "".join(w + sep for w, sep in zip(cased, [*seps, ""])) + after

    return st.builds(spell, letters, separators, st.sampled_from(["", " ", "  "]), st.sampled_from(["", " ", "\t"]))


# Protect tags spelled every way, tags that only look like them, and unrelated tags.
TAGS = st.one_of(tag_spellings(["legal", "hold"]), tag_spellings(["keep"]),
                 st.sampled_from(["owner", "cost-centre", "legal-holder", "keeper", "no-keep", "hold-legal"]))


def tag_key(name: str) -> str:
    """The test's own reading of the rule (ASCII spellings only): case, space, - and _ do not count."""
    return re.sub(r"[-_\s]", "", name).lower()


@st.composite
def snapshot_sets(draw, max_size: int = 60):
    n = draw(st.integers(0, max_size))
    snaps = []
    for i in range(n):
        age_minutes = draw(st.integers(0, 120 * 24 * 60))
        created = None if draw(st.integers(0, 40)) == 0 else DAY_START - dt.timedelta(minutes=age_minutes)
        tags = draw(st.lists(st.sampled_from(["legal-hold", "KEEP", "owner", "keep", "cost-centre"]),
                             max_size=2, unique=True))
        snaps.append(R.Snapshot(
            snapshot_id=f"s{i:03d}",
            db_id=draw(st.sampled_from(DBS)),
            snapshot_type=draw(st.sampled_from(["manual"] * 6 + ["automated", "awsbackup", "shared"])),
            status=draw(st.sampled_from(["available"] * 8 + ["creating", "deleting"])),
            created_at=created,
            tags=tuple((t, "x") for t in tags),
        ))
    return snaps


policies = st.builds(
    R.PruningPolicy,
    retention_days=st.integers(1, 35),
    keep_newest=st.integers(0, 10),
    protect_tags=st.just(PROTECT),
    delete_final_snapshots=st.booleans(),
    max_deletions_per_run=st.integers(0, 60),
    max_fraction_per_database=st.decimals(Decimal(0), Decimal(1), places=2),
    verification_max_age_hours=st.just(26),
)


def _plan(snaps, pol):
    return R.plan_snapshots(snaps, estate_db_ids=ESTATE, existing_db_ids=EXISTING, day=DAY, policy=pol)


def _protected(s: R.Snapshot, pol: R.PruningPolicy) -> bool:
    """Protection computed independently of the code under test, from the rules as written."""
    return (s.snapshot_type != "manual" or s.snapshot_id.startswith("awsbackup:") or s.db_id not in ESTATE
            or any(tag_key(k) in {tag_key(t) for t in PROTECT} for k, _ in s.tags) or s.status != "available"
            or s.created_at is None)


@settings(max_examples=120, deadline=None)
@given(snapshot_sets(), policies)
def test_a_protected_snapshot_is_never_planned(snaps, pol):
    for d in _plan(snaps, pol):
        if _protected(d.snapshot, pol):
            assert not d.delete, d


@settings(max_examples=120, deadline=None)
@given(snapshot_sets(), policies)
def test_the_newest_n_manual_snapshots_of_each_database_survive(snaps, pol):
    planned = {d.snapshot.snapshot_id for d in _plan(snaps, pol) if d.delete}
    for db in DBS:
        manual = [s for s in snaps if s.db_id == db and s.snapshot_type == "manual"]
        manual.sort(key=lambda s: (s.created_at or dt.datetime.max.replace(tzinfo=UTC), s.snapshot_id), reverse=True)
        # ties on time are broken by id; either way the N newest by time are kept
        newest_times = sorted((s.created_at or dt.datetime.max.replace(tzinfo=UTC) for s in manual), reverse=True)
        if pol.keep_newest and manual:
            threshold = newest_times[min(pol.keep_newest, len(manual)) - 1]
            strictly_newer = [s for s in manual if (s.created_at or dt.datetime.max.replace(tzinfo=UTC)) > threshold]
            assert not planned & {s.snapshot_id for s in strictly_newer}
        survivors = [s for s in manual if s.snapshot_id not in planned]
        assert len(survivors) >= min(pol.keep_newest, len(manual))


@settings(max_examples=120, deadline=None)
@given(snapshot_sets(), policies)
def test_nothing_younger_than_the_retention_period_is_planned(snaps, pol):
    cutoff = DAY_START - dt.timedelta(days=pol.retention_days)
    for d in _plan(snaps, pol):
        if d.delete:
            assert d.snapshot.created_at < cutoff
            # and so it is older than the retention period at any time of the run's day
            assert DAY_START - d.snapshot.created_at > dt.timedelta(days=pol.retention_days)


@settings(max_examples=120, deadline=None)
@given(snapshot_sets(), policies, st.randoms(use_true_random=False))
def test_the_plan_does_not_depend_on_listing_order(snaps, pol, rnd):
    shuffled = list(snaps)
    rnd.shuffle(shuffled)
    assert _plan(snaps, pol) == _plan(shuffled, pol)


@settings(max_examples=100, deadline=None)
@given(snapshot_sets(), policies, st.booleans())
def test_the_gate_only_approves_candidates_within_the_caps(snaps, pol, confirm):
    decisions = _plan(snaps, pol)
    result = R.gate(decisions, {"db-b": "not green"}, pol, confirm_over_cap=confirm)
    candidates = {d.snapshot.snapshot_id for d in decisions if d.delete}
    approved = [d for ds in result.approved.values() for d in ds]
    assert {d.snapshot.snapshot_id for d in approved} <= candidates
    assert "db-b" not in result.approved
    if not confirm:
        assert len(approved) <= pol.max_deletions_per_run
        for db, ds in result.approved.items():
            manual = sum(1 for s in snaps if s.db_id == db and s.snapshot_type == "manual"
                         and not s.snapshot_id.startswith("awsbackup:"))
            assert Decimal(len(ds)) <= pol.max_fraction_per_database * manual


@st.composite
def listings(draw):
    """What AWS might list: every snapshot once or more (overlapping pages, retries), a copy sometimes
    carrying tags the others lack (tagged between pages), now and then a copy that disagrees."""
    listed = []
    for s in draw(snapshot_sets(max_size=25)):
        for _ in range(draw(st.integers(1, 3))):
            tags = tuple((t, "x") for t in draw(st.lists(TAGS, max_size=2, unique=True)))
            copy = dataclasses.replace(s, tags=s.tags + tags)
            if draw(st.integers(0, 30)) == 0:
                copy = dataclasses.replace(copy, status="deleting")
            listed.append(copy)
    return listed


def _summary(decisions):
    return {d.snapshot.snapshot_id: (d.delete, d.reasons, d.why) for d in decisions}


@settings(max_examples=120, deadline=None)
@given(listings(), policies, st.randoms(use_true_random=False), st.data())
def test_the_plan_is_the_same_whatever_the_order_and_repetition_of_the_listing(listed, pol, rnd, data):
    # the same copies, shuffled, some listed yet again
    again = data.draw(st.lists(st.sampled_from(listed), max_size=10)) if listed else []
    shuffled = listed + again
    rnd.shuffle(shuffled)
    first, second = _plan(listed, pol), _plan(shuffled, pol)
    assert _summary(first) == _summary(second)
    assert first == second
    assert len(first) == len({s.snapshot_id for s in listed})  # one decision per snapshot


@settings(max_examples=120, deadline=None)
@given(listings(), policies)
def test_no_snapshot_with_a_protect_tag_on_any_copy_is_ever_planned(listed, pol):
    copies: dict[str, list[R.Snapshot]] = {}
    for s in listed:
        copies.setdefault(s.snapshot_id, []).append(s)
    for d in _plan(listed, pol):
        group = copies[d.snapshot.snapshot_id]
        if any(_protected(c, pol) for c in group):
            assert not d.delete, (d, group)
        if any(tag_key(k) in {tag_key(t) for t in PROTECT} for c in group for k, _ in c.tags):
            assert "protect_tag" in d.reasons
        if len({dataclasses.replace(c, tags=()) for c in group}) > 1:
            assert "listed_inconsistently" in d.reasons and not d.delete
