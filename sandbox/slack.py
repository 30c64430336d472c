"""The Slack Web API stand-in: chat.postMessage, auth.test, conversations.list/info.

Answers like Slack: HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error": "..."}`
(`not_authed`, `invalid_auth`, `token_revoked`, `channel_not_found`, `no_text`), and 429 with
`Retry-After` when a rate limit is simulated. Arguments are read from the query string, a form
body or a JSON body, as Slack accepts all three. The provider's SlackHook works against it with
`{"base_url": "<slack_url>/api/"}` in the connection extra.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from sandbox.state import Gate, RequestCounter
from sandbox.timeutil import Clock, iso

TEAM_ID = "T0SANDBOX"
TEAM_NAME = "Legacy Sandbox"
BOT_USER_ID = "U0SANDBOXBOT"
BOT_ID = "B0SANDBOXBOT"


class SlackStore:
    """Channels and posted messages."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        # Channels whose history the token may not read (a token without channels:history).
        self.history_denied: set[str] = set()
        self._ts_counter = itertools.count(1)

    def add_channel(self, name: str, *, id: str | None = None, is_private: bool = False,
                    purpose: str = "", topic: str = "", is_member: bool = True) -> dict[str, Any]:
        name = name.lstrip("#")
        channel_id = id or "C" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()
        created = int(self.clock.anchor.timestamp()) - 86400 * 400
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "created": created,
            "is_archived": False,
            "is_general": name == "general",
            "unlinked": 0,
            "name_normalized": name,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "is_member": is_member,
            "creator": BOT_USER_ID,
            "topic": {"value": topic, "creator": BOT_USER_ID if topic else "", "last_set": 0},
            "purpose": {"value": purpose, "creator": BOT_USER_ID if purpose else "",
                        "last_set": 0},
            "num_members": 5,
        }
        with self.lock:
            self.channels[channel_id] = channel
        return channel

    def find_channel(self, ref: str | None) -> dict[str, Any] | None:
        """By id (`C…`) or by name, with or without `#`."""
        if not ref:
            return None
        with self.lock:
            if ref in self.channels:
                return self.channels[ref]
            name = ref.lstrip("#")
            return next((c for c in self.channels.values() if c["name"] == name), None)

    def remove(self, ref: str) -> bool:
        with self.lock:
            channel = self.find_channel(ref)
            if channel is None:
                return False
            del self.channels[channel["id"]]
            return True

    def next_ts(self) -> str:
        # Unique, increasing message timestamps in Slack's "seconds.micro" form.
        seconds = int(self.clock.now().timestamp())
        return f"{seconds}.{next(self._ts_counter):06d}"


def _args() -> dict[str, Any]:
    args: dict[str, Any] = dict(request.args.items())
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            args.update(body)
    else:
        args.update(request.form.items())
    return args


def _token(args: dict[str, Any]) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[len("Bearer "):].strip()
    return args.get("token")


def _ok(body: dict[str, Any] | None = None, headers: dict | None = None) -> Response:
    return Response(json.dumps({"ok": True} | (body or {})), status=200,
                    mimetype="application/json", headers=headers or {})


def _fail(error: str, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps({"ok": False, "error": error}), status=status,
                    mimetype="application/json", headers=headers or {})


def _missing_scope(needed: str) -> Response:
    """Slack's answer to a token without the scope a method needs (HTTP 200, ok false)."""
    return Response(json.dumps({"ok": False, "error": "missing_scope", "needed": needed,
                                "provided": "chat:write,channels:read"}), mimetype="application/json")


def _maybe_json(value: Any) -> Any:
    # Form-encoded calls carry blocks/attachments as JSON text.
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def create_app(get_store: Callable[[], SlackStore], gate: Gate, counter: RequestCounter,
               web_url: str = "https://legacy-sandbox.slack.com/") -> Flask:
    app = Flask("sandbox.slack")

    @app.before_request
    def _gatekeeper() -> Response | None:
        if request.path.startswith("/_sandbox/"):
            return None
        counter.count("slack", request.method, request.path,
                      request.url_rule.rule if request.url_rule else None)
        if request.url_rule is None:
            return None  # answered by the unknown_method handler below
        limited = gate.check_rate()
        if limited is not None:
            return _fail("ratelimited", 429, {"Retry-After": str(limited[2])})
        token = _token(_args())
        if not token:
            return _fail("not_authed")
        if token in gate.revoked_tokens:
            return _fail("token_revoked")
        if not gate.token_ok(token):
            return _fail("invalid_auth")
        return None

    @app.errorhandler(404)
    def _unknown_method(_err: Exception) -> Response:
        return _fail("unknown_method")  # Slack answers 200 with ok: false

    @app.route("/api/auth.test", methods=["GET", "POST"])
    def auth_test() -> Response:
        return _ok({"url": web_url, "team": TEAM_NAME, "user": "estate-ops",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                    "is_enterprise_install": False})

    @app.route("/api/chat.postMessage", methods=["POST"])
    def post_message() -> Response:
        store = get_store()
        args = _args()
        channel = store.find_channel(args.get("channel"))
        if channel is None:
            return _fail("channel_not_found")
        if channel["is_archived"]:
            return _fail("is_archived")
        text = args.get("text")
        blocks = _maybe_json(args.get("blocks"))
        attachments = _maybe_json(args.get("attachments"))
        if not text and not blocks and not attachments:
            return _fail("no_text")
        ts = store.next_ts()
        message = {"type": "message", "subtype": "bot_message", "text": text or "",
                   "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts, "team": TEAM_ID}
        if blocks:
            message["blocks"] = blocks
        if attachments:
            message["attachments"] = attachments
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        record = {
            "received_at": iso(store.clock.now()),
            "channel": channel["id"],
            "channel_name": "#" + channel["name"],
            "ts": ts,
            "text": text,
            "blocks": blocks,
            "attachments": attachments,
            "thread_ts": args.get("thread_ts"),
            "args": {k: _maybe_json(v) for k, v in args.items() if k != "token"},
        }
        with store.lock:
            store.messages.append(record)
        app.config["MESSAGE_SINK"](record)
        return _ok({"channel": channel["id"], "ts": ts, "message": message})

    @app.route("/api/conversations.history", methods=["GET", "POST"])
    def conversations_history() -> Response:
        """A channel's messages, newest first; `oldest`/`latest` bound them (exclusive), `limit` (default
        100, at most 999) and `cursor` page them."""
        store = get_store()
        args = _args()
        channel = store.find_channel(args.get("channel"))
        if channel is None:
            return _fail("channel_not_found")
        if channel["id"] in store.history_denied:
            return _missing_scope("channels:history")
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or "inf")
        with store.lock:
            found = [m for m in store.messages if m["channel"] == channel["id"]
                     and oldest < float(m["ts"]) < latest]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        limit = max(1, min(int(args.get("limit") or 100), 999))
        start = int(args.get("cursor") or 0)
        page = found[start:start + limit]
        more = start + limit < len(found)
        messages = [{"type": "message", "subtype": "bot_message", "text": m["text"] or "", "ts": m["ts"],
                     "bot_id": BOT_ID, **({"blocks": m["blocks"]} if m.get("blocks") else {})} for m in page]
        return _ok({"messages": messages, "has_more": more,
                    "response_metadata": {"next_cursor": str(start + limit) if more else ""}})

    @app.route("/api/conversations.list", methods=["GET", "POST"])
    def conversations_list() -> Response:
        store = get_store()
        args = _args()
        try:
            limit = max(1, min(int(args.get("limit") or 100), 1000))
            start = int(args.get("cursor") or 0)
        except ValueError:
            return _fail("invalid_cursor")
        types = set(str(args.get("types") or "public_channel").split(","))
        exclude_archived = str(args.get("exclude_archived", "false")).lower() in ("true", "1")
        with store.lock:
            items = [c for c in store.channels.values()
                     if ("private_channel" if c["is_private"] else "public_channel") in types
                     and not (exclude_archived and c["is_archived"])]
        items.sort(key=lambda c: c["name"])
        page = items[start:start + limit]
        next_cursor = str(start + limit) if start + limit < len(items) else ""
        return _ok({"channels": page, "response_metadata": {"next_cursor": next_cursor}})

    @app.route("/api/conversations.info", methods=["GET", "POST"])
    def conversations_info() -> Response:
        channel = get_store().find_channel(_args().get("channel"))
        if channel is None:
            return _fail("channel_not_found")
        return _ok({"channel": channel})

    app.config["MESSAGE_SINK"] = lambda record: None
    return app

