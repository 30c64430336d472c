"""Writing a report and its renderings to the reports bucket, and the run manifest.

The run manifest (`runs/<dag_id>/<period>.json`) lists what a DAG wrote for a period and its
headline figures: it is how `make demo` and anyone auditing a month find a run's outputs.

A report's JSON never depends on its renderings (issue 14 §3): with `render_failures`, a rendering
that raises is recorded there and left out, and the JSON and the other renderings are still
written; `links.ReportPublisher` turns each into a `report_render_failed` finding and fails the task
once its alerts and summary have gone out.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from estate_ops.reports import render


class RenderFailure(NamedTuple):
    key: str  # the rendering that was not written
    error: str  # "ExceptionType: message"


def publish_report(store: Any, prefix: str, report: dict[str, Any], *, name: str = "report",
                   charts: dict[str, tuple[str, bytes]] | None = None, pdf: bool = True,
                   render_failures: list[RenderFailure] | None = None) -> list[str]:
    """Write `<prefix>/<name>.json`, `.html`, `.pdf` (optional) and each chart PNG.

    `charts` maps a chart title to (file name, PNG bytes); files go beside the report so the HTML
    links them relatively. Returns every key, written or already identical. A rendering that
    raises is appended to `render_failures` and not written (without the list, it raises).
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
    renderings = [(f"{prefix}/{name}.html", lambda: render.render_html(report, {t: f for t, (f, _) in charts.items()}))]
    if pdf:
        renderings.append((f"{prefix}/{name}.pdf",
                           lambda: render.render_pdf(report, {t: png for t, (_, png) in charts.items()})))
    for key, rendering in renderings:
        try:
            data = rendering()
        except Exception as exc:
            if render_failures is None:
                raise
            render_failures.append(RenderFailure(key, f"{type(exc).__name__}: {exc}"[:500]))
            continue
        put(key, data)
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
