"""P3's release dates from a file estate.yaml names (`pagerduty.releases_file`)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import yaml
from estate_ops.config import ConfigError, load_config

from tests.config.test_config import ESTATE, edited, files  # noqa: F401 - fixture

FROM_FILE = edited(edited(ESTATE, "pagerduty.releases", delete=True), "pagerduty.releases_file", "releases.yaml")


def test_the_file_s_dates_are_the_releases_sorted(files, tmp_path):  # noqa: F811
    (tmp_path / "releases.yaml").write_text("- 2026-11-24\n- 2026-10-13\n- 2026-10-27\n")
    files(estate=FROM_FILE)
    assert load_config()[1].pagerduty.releases == [dt.date(2026, 10, 13), dt.date(2026, 10, 27), dt.date(2026, 11, 24)]


def test_a_mapping_with_releases_is_accepted_too(files, tmp_path):  # noqa: F811
    (tmp_path / "releases.yaml").write_text(yaml.safe_dump({"releases": ["2026-10-13"]}))
    files(estate=FROM_FILE)
    assert load_config()[1].pagerduty.releases == [dt.date(2026, 10, 13)]


def test_an_edited_file_is_read_again(files, tmp_path):  # noqa: F811
    releases = tmp_path / "releases.yaml"
    releases.write_text("- 2026-10-13\n")
    files(estate=FROM_FILE)
    assert load_config()[1].pagerduty.releases == [dt.date(2026, 10, 13)]
    releases.write_text("- 2026-10-13\n- 2026-10-27\n")
    os.utime(releases, ns=(1, 2))  # a different mtime even within the filesystem's resolution
    assert load_config()[1].pagerduty.releases == [dt.date(2026, 10, 13), dt.date(2026, 10, 27)]


@pytest.mark.parametrize(("name", "estate", "file_text", "fragments"), [
    ("both list and file", edited(ESTATE, "pagerduty.releases_file", "releases.yaml"), "- 2026-10-13\n",
     ["estate.yaml: pagerduty", "not both"]),
    ("neither", edited(ESTATE, "pagerduty.releases", delete=True), None,
     ["estate.yaml: pagerduty", "releases (a list of dates) or releases_file"]),
    ("file missing", FROM_FILE, None,
     ["pagerduty.releases_file", "releases.yaml not found", "YAML list of release dates"]),
    ("bad date on the third line", FROM_FILE, "- 2026-10-13\n- 2026-10-27\n- 2026-13-01\n",
     ["releases.yaml: [2]:", "2026-13-01"]),
    ("not a list", FROM_FILE, "next: 2026-10-13\n", ["releases.yaml: expected a non-empty YAML list", "got dict"]),
    ("empty", FROM_FILE, "[]\n", ["releases.yaml: expected a non-empty YAML list"]),
    ("not YAML", FROM_FILE, "- [2026-10-13\n", ["releases.yaml: not valid YAML at line"]),
])
def test_bad_releases_are_named(files, tmp_path, name, estate, file_text, fragments):  # noqa: F811
    if file_text is not None:
        (tmp_path / "releases.yaml").write_text(file_text)
    files(estate=estate)
    with pytest.raises(ConfigError) as raised:
        load_config()
    for fragment in fragments:
        assert fragment in str(raised.value), (name, str(raised.value))


def test_a_releases_file_says_each_thing_once(files, tmp_path):  # noqa: F811
    releases = tmp_path / "releases.yaml"
    releases.write_text("releases: [2026-10-13]\nreleases: [2026-10-27]\n")
    files(estate=FROM_FILE)
    with pytest.raises(ConfigError) as raised:
        load_config()
    assert str(raised.value).startswith(f"{releases}: releases: the key 'releases' is given twice in one mapping, "
                                        f"at line 1 and at line 2")
