"""Who may use the admin endpoints the console adds: the admin key, the first of `API_KEYS`.

Until keys carry roles of their own, the first configured key is the admin key (as the key-management
API defines it); every other valid key is a user key and gets 403, no key or an unknown one 401.
"""

from __future__ import annotations

import hashlib
import hmac

from worker.core.errors import GatewayError
from worker.state import AppState
from worker.web.asgi import Scope, header
from worker.web.auth import authenticate, bearer_token


class Forbidden(GatewayError):
    status = 403
    code = "forbidden"
    cloudflare_code = 10000
    message = "Forbidden"


def require_admin(state: AppState, scope: Scope) -> None:
    authorization = header(scope, b"authorization")
    authenticate(state.keys, authorization)  # 401 for a missing or unknown key
    keys = state.settings.api_keys
    if not keys:  # ALLOW_NO_AUTH without keys: a development gateway where anyone is admin
        return
    presented = hashlib.sha256(bearer_token(authorization).encode()).digest()
    if not hmac.compare_digest(presented, hashlib.sha256(keys[0].encode()).digest()):
        raise Forbidden(detail="This endpoint needs the admin key")
