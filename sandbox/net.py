"""Where the sandbox listens (`--host`) and the URLs it advertises for it.

Every server binds the same host. The URLs in ready.json must be connectable from the same
machine, so a wildcard host (0.0.0.0, ::) is advertised as 127.0.0.1; any other host as given.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

DEFAULT_HOST = "127.0.0.1"
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def advertised_host(host: str) -> str:
    """The host to put in URLs for a server bound to `host`."""
    return DEFAULT_HOST if host in WILDCARD_HOSTS else host


def url(scheme: str, host: str, port: int) -> str:
    shown = advertised_host(host)
    if ":" in shown:  # an IPv6 literal
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}"


def _family(host: str) -> socket.AddressFamily:
    # As werkzeug chooses it (werkzeug.serving.select_address_family).
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_host(host: str) -> None:
    """Raise OSError naming `host` if nothing can listen on it (not an address of this
    machine, or a name that does not resolve)."""
    cause = _bind_error(host, 0)
    if cause is not None:
        raise OSError(f"cannot listen on {host}: {cause.strerror or cause}")


def make_server(what: str, host: str, port: int, app: Any, **kwargs: Any) -> Any:
    """werkzeug's make_server, but a failure to bind raises OSError naming the address.

    werkzeug prints the reason and calls sys.exit(1) instead: in a server thread (moto's) that
    ends the thread silently and leaves its starter waiting forever."""
    from werkzeug.serving import make_server as werkzeug_make_server

    try:
        return werkzeug_make_server(host, port, app, **kwargs)
    except SystemExit:
        cause = _bind_error(host, port)
        if cause is None:
            reason = "the server could not bind (see the messages above)"
        elif cause.errno == errno.EADDRINUSE:
            reason = f"Port {port} is in use by another program"
        else:
            reason = cause.strerror or str(cause)
        raise OSError(f"{what}: cannot listen on {host}:{port}: {reason}") from None


def _bind_error(host: str, port: int) -> OSError | None:
    """Why binding (host, port) fails, found by trying again as werkzeug does."""
    try:
        infos = socket.getaddrinfo(host, port, _family(host), socket.SOCK_STREAM,
                                   socket.IPPROTO_TCP)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(infos[0][4])
    except OSError as exc:
        return exc
    return None
