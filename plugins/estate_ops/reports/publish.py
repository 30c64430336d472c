"""Writing a report and its renderings to the reports bucket, and the run manifest.

The run manifest (`runs/<dag_id>/<period>.json`) lists what a DAG wrote for a period and its
headline figures: it is how `make demo` and anyone auditing a month find a run's outputs.
"""

from __future__ import annotations

from typing import Any

from estate_ops.reports.render import render_html, render_pdf


def publish_report(store: Any, prefix: str, report: dict[str, Any], *, name: str = "report",
                   charts: dict[str, tuple[str, bytes]] | None = None, pdf: bool = True) -> list[str]:
    """Write `<prefix>/<name>.json`, `.html`, `.pdf` (optional) and each chart PNG.

    `charts` maps a chart title to (file name, PNG bytes); files go beside the report so the HTML
    links them relatively. Returns every key, written or already identical.
    """
    prefix = prefix.rstrip("/")
    charts = charts or {}
    keys: list[str] = []

    def put(key: str, data: bytes) -> None:
        store.put_bytes(key, data)
        keys.append(key)

    for file_name, png in charts.values():
        put(f"{prefix}/{file_name}", png)
    put(f"{prefix}/{name}.json", _json(report))
    put(f"{prefix}/{name}.html", render_html(report, {t: f for t, (f, _) in charts.items()}))
    if pdf:
        put(f"{prefix}/{name}.pdf", render_pdf(report, {t: png for t, (_, png) in charts.items()}))
    return keys


def write_run_manifest(store: Any, dag_id: str, period: str, artifacts: list[str],
                       headline: dict[str, Any], status: str = "ok") -> str:
    key = f"runs/{dag_id}/{period}.json"
    store.put_json(key, {"dag_id": dag_id, "period": period, "status": status,
                         "artifacts": sorted(set(artifacts)), "headline": headline})
    return key


def _json(report: dict[str, Any]) -> bytes:
    from estate_ops.domain.serialize import canonical_json

    return canonical_json(report)
