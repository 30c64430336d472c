"""The control API under `/_sandbox/`: what tests and benchmarks use to steer the sandbox.

Served on both the PagerDuty and the Slack port (same handlers, same state). Control calls are
never counted, rate limited or authenticated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request

from sandbox import aws

if TYPE_CHECKING:
    from sandbox.server import Sandbox


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _bad(message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify({"ok": False, "error": message}), status


def _aws_removers(region: str) -> dict[str, Callable[[str], bool]]:
    def pop(service: str, attribute: str) -> Callable[[str], bool]:
        def remove(id_: str) -> bool:
            return getattr(aws.backend(service, region), attribute).pop(id_, None) is not None
        return remove

    return {
        "rds_instance": pop("rds", "databases"),
        "rds_snapshot": pop("rds", "database_snapshots"),
        "rds_subnet_group": pop("rds", "subnet_groups"),
        "s3_bucket": lambda id_: aws.remove_bucket(aws.backend("s3"), id_),
        "log_group": pop("logs", "groups"),
        "health_check": pop("route53", "health_checks"),
    }


PAGERDUTY_KINDS = ("service", "incident", "schedule", "escalation_policy", "user", "priority",
                   "maintenance_window")


def blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")
    gates = {"pagerduty": sandbox.pagerduty_gate, "events": sandbox.events_gate,
             "statuspage": sandbox.statuspage_gate,
             "slack": sandbox.slack_gate, "sentry": sandbox.sentry_gate, "mixpanel": sandbox.mixpanel_gate}

    @bp.get("/health")
    def health() -> Response:
        return jsonify({"ok": True})

    @bp.get("/info")
    def info() -> Response:
        return jsonify(sandbox.info() | {"last_reset_seconds": sandbox.last_reset_seconds})

    @bp.post("/reset")
    def reset() -> Response:
        seconds = sandbox.reset()
        return jsonify({"ok": True, "seconds": seconds, "seed_seconds": sandbox.seed_timings})

    @bp.get("/requests")
    def requests_get() -> Response:
        return jsonify(sandbox.counter.snapshot())

    @bp.delete("/requests")
    def requests_clear() -> Response:
        sandbox.counter.clear()
        return jsonify({"ok": True})

    @bp.post("/rate_limit")
    def rate_limit() -> Any:
        body = _body()
        api = body.get("api", "pagerduty")
        if api not in gates:
            return _bad(f"api must be one of {sorted(gates)}")
        try:
            next_n = int(body.get("next", 0))
            per_minute = int(body["per_minute"]) if body.get("per_minute") is not None else None
            reset_seconds = int(body.get("reset_seconds", 2))
        except (TypeError, ValueError):
            return _bad("next, per_minute and reset_seconds must be integers")
        if next_n <= 0 and per_minute is None:
            return _bad("give next (a count of requests) or per_minute (a budget)")
        gates[api].set_rate_limit(next_n=next_n, per_minute=per_minute, reset_seconds=reset_seconds)
        return jsonify({"ok": True})

    @bp.delete("/rate_limit")
    def rate_limit_clear() -> Response:
        for gate in gates.values():
            gate.set_rate_limit()
        return jsonify({"ok": True})

    @bp.post("/aws/throttle")
    def aws_throttle() -> Any:
        body = _body()
        if not body.get("service"):
            return _bad("service is required (e.g. rds, logs, cloudwatch, s3)")
        sandbox.aws_throttle.add(body["service"], int(body.get("count", 1)), body.get("action"))
        return jsonify({"ok": True})

    @bp.delete("/aws/throttle")
    def aws_throttle_clear() -> Response:
        sandbox.aws_throttle.clear()
        return jsonify({"ok": True})

    @bp.post("/revoke_token")
    def revoke_token() -> Any:
        body = _body()
        api = body.get("api", "pagerduty")
        if api not in gates:
            return _bad(f"api must be one of {sorted(gates)}")
        return jsonify({"ok": True, "revoked": gates[api].revoke(body.get("token"))})

    @bp.post("/remove")
    def remove() -> Any:
        body = _body()
        kind, id_ = body.get("kind"), body.get("id")
        if not kind or not id_:
            return _bad("kind and id are required")
        if kind.startswith("pagerduty_") and kind[len("pagerduty_"):] in PAGERDUTY_KINDS:
            found = sandbox.pagerduty_store.remove(kind[len("pagerduty_"):], id_)
        elif kind == "slack_channel":
            found = sandbox.slack_store.remove(id_)
        elif kind in ("statuspage_component", "statuspage_incident") and sandbox.statuspage_store is not None:
            found = sandbox.statuspage_store.remove(kind[len("statuspage_"):], id_)
        elif kind in (removers := _aws_removers(body.get("region") or sandbox.estate.aws.region)):
            found = removers[kind](id_)
        else:
            kinds = sorted([f"pagerduty_{k}" for k in PAGERDUTY_KINDS] + ["slack_channel", "statuspage_component",
                                                                            "statuspage_incident"]
                           + list(removers))
            return _bad(f"unknown kind {kind!r}; one of {kinds}")
        if not found:
            return _bad(f"no {kind} {id_!r}", 404)
        return jsonify({"ok": True})

    @bp.post("/slack/deny_history")
    def slack_deny_history() -> Any:
        """The token may not read this channel's history (a token without channels:history), until reset."""
        channel = sandbox.slack_store.find_channel(_body().get("channel"))
        if channel is None:
            return _bad("channel: no such Slack channel", 404)
        sandbox.slack_store.history_denied.add(channel["id"])
        return jsonify({"ok": True})

    @bp.post("/pagerduty/incident")
    def pagerduty_incident() -> Any:
        """Open an incident now on a service with a priority (as a person triaging it would set), or
        resolve one: {"service_id", "priority_id", "title"} or {"resolve": id}."""
        store = sandbox.pagerduty_store
        body = _body()
        now = store.clock.now()
        if body.get("resolve"):
            if body["resolve"] not in store.incidents:
                return _bad(f"no pagerduty incident {body['resolve']!r}", 404)
            return jsonify(store.resolve(body["resolve"], now, None))
        if not body.get("service_id") or not body.get("title"):
            return _bad("service_id and title are required")
        incident = store.add_incident(service_id=body["service_id"], title=str(body["title"]), created_at=now,
                                      priority_id=body.get("priority_id"))
        return jsonify(incident)

    @bp.get("/pagerduty/events")
    def pagerduty_events() -> Response:
        store = sandbox.pagerduty_store
        with store.lock:
            return jsonify(list(store.events))

    @bp.get("/slack/messages")
    def slack_messages() -> Response:
        store = sandbox.slack_store
        with store.lock:
            return jsonify(list(store.messages))

    return bp
