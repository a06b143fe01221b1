"""The web session and CSRF protection.

The session is the same server-side session the API issues at /auth/login (parties.service.login):
its token travels in a cookie that scripts cannot read (HttpOnly), that no other site's page sends
(SameSite=Strict), over TLS only when the node serves HTTPS (Secure, and the `__Host-` prefix that
pins it to this host and path). Signing out revokes it on the server, not only in the browser.

Every form carries a CSRF token: an HMAC, under a key derived from the node secret, of the session
token (or, before sign-in, of a random cookie of the browser's own), checked on every unsafe request.
No token is stored; one stolen from a page is useless without the cookie it is bound to."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request

from evidex.core.secretbox import derive_keys
from evidex.core.settings import Settings

SESSION_COOKIE = "evidex_session"
ANON_COOKIE = "evidex_anon"  # binds the sign-in form's CSRF token before there is a session
LANG_COOKIE = "evidex_lang"  # the language chosen before sign-in (no personal data)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class WebSecurity:
    def __init__(self, settings: Settings) -> None:
        secret = settings.secret_key.get_secret_value().encode()
        previous = [p.get_secret_value().encode() for p in settings.previous_secret_keys]
        current, keys = derive_keys(secret, previous, label=b"evidex web csrf v1")
        self._key = keys[current]
        self.https = settings.https
        self.session_max_age = settings.session_minutes * 60

    def cookie_name(self, base: str) -> str:
        return f"__Host-{base}" if self.https else base

    def csrf_token(self, binding: str) -> str:
        return hmac.new(self._key, b"csrf\x00" + binding.encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, binding: str | None, token: str | None) -> bool:
        if not binding or not token:
            return False
        return hmac.compare_digest(self.csrf_token(binding), token)

    @staticmethod
    def new_anonymous_binding() -> str:
        return secrets.token_urlsafe(24)

    def script_session(self, request: Request) -> str | None:
        """The session token of a page's own script calling the API (api/deps.py get_uploader_token):
        the session cookie, only when the request carries the CSRF header bound to it."""
        token = request.cookies.get(self.cookie_name(SESSION_COOKIE))
        return token if token and self.csrf_valid(token, request.headers.get(CSRF_HEADER)) else None

    def cookie_options(self, *, max_age: int | None) -> dict[str, object]:
        return {"httponly": True, "samesite": "strict", "secure": self.https, "path": "/", "max_age": max_age}


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this node: never `//host`, a scheme, or a backslash trick (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(c in target for c in "\r\n\t") or len(target) > 2000:
        return default
    return target
