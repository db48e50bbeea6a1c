"""Who may use the admin endpoints the console adds: keys whose role is `admin`.

The same rule as the key-management API: the first of `API_KEYS` and managed keys created with the
`admin` role are admins; every other valid key gets 403, no key or an unknown one 401. A managed key
this process has not cached yet is looked up in the state store first.
"""

from __future__ import annotations

from worker.core.errors import Forbidden, Unauthorized
from worker.core.identity import Identity
from worker.state import AppState
from worker.web.asgi import Scope, header
from worker.web.auth import UnknownKey, bearer_token


async def identify(state: AppState, scope: Scope) -> Identity:
    """The caller's identity (401 for a missing, unknown, revoked or expired key)."""
    token = bearer_token(header(scope, b"authorization"))
    try:
        identity = state.keys.identify(token)
    except UnknownKey as miss:
        if state.key_cache is None:
            raise
        await state.key_cache.fetch(miss.key_id)
        identity = state.keys.identify(token)
    if identity is None:
        raise Unauthorized(detail="The API key is not valid")
    return identity


async def require_admin(state: AppState, scope: Scope) -> None:
    if state.keys.open:  # ALLOW_NO_AUTH without keys: a development gateway where anyone is admin
        return
    if not (await identify(state, scope)).is_admin:
        raise Forbidden(detail="This endpoint needs an admin key")
