"""Which URLs lockgen fetches from or writes into a project: https anywhere, http only to this machine
(localhost, 127.0.0.1, [::1] - a local index or test server), and file://. Anything else (plain http to another
host, ftp:, javascript:, a relative path) is refused by the callers with one line naming where the URL came from.
"""

from __future__ import annotations

from urllib.parse import urlsplit

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def url_problem(url: str) -> str | None:
    """Why lockgen will not use `url`, or None when it may (see the module docstring)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError as e:
        return f"not a URL ({e})"
    scheme = parts.scheme.lower()
    if scheme == "https":
        return None if host else "has no host"
    if scheme == "http":
        if host in LOCAL_HOSTS:
            return None
        return "uses plain http to another machine: use https:// (http:// only to localhost, 127.0.0.1 or [::1])"
    if scheme == "file":
        return None if parts.path else "names no file"
    if not scheme:
        return "is not an absolute URL: use https://..., http://localhost/... or file:///..."
    return f"uses {scheme}:, which lockgen does not fetch from (https://, http:// to localhost, file://)"
