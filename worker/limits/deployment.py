"""Refusing to start where a configured limit could not hold exactly.

A limit kept in one process's memory holds for that process only: run two and each admits the whole
limit, so the real limit silently becomes the limit times the number of processes. That happens to a
model's own limits (the model table's `rpm`, `tpm`, `max_concurrency`) when there is no state store
(`STATE_URL=off`) and the gateway runs as more than one process:

- `qwq-gateway --workers N` with N > 1 (checked by the command before it starts any worker);
- `WEB_CONCURRENCY` above 1, which uvicorn's and gunicorn's own commands read as their process count
  when the app is started by them rather than by `qwq-gateway`;
- a Cloudflare Python Worker, where every isolate is a process of its own and no store is reachable
  from Python (the bundle has neither SQLite on a lasting disk nor a Redis client).

Keys' limits need no check: they exist only with managed keys, which live in the state store, and the
limits are kept in the same store.
"""

from __future__ import annotations

from collections.abc import Mapping

from worker.config.models import ModelTable, limited_models
from worker.config.settings import SettingsError


def check_exact(
    table: ModelTable, has_store: bool, workers: int, environ: Mapping[str, str], platform: str
) -> None:
    """Raise `SettingsError` (one line, for a person) when a model's limit would be multiplied."""
    if has_store:
        return
    models = limited_models(table)
    if not models:
        return
    named = ", ".join(repr(slug) for slug in models)
    fix = "set STATE_URL to a SQLite file or a Redis server, or remove the model's rpm/tpm/max_concurrency"
    if workers > 1:
        raise SettingsError(
            f"the limits of model {named} cannot hold across --workers {workers} with STATE_URL=off "
            f"(each process would admit the whole limit): {fix}"
        )
    concurrency = environ.get("WEB_CONCURRENCY", "").strip()
    if concurrency.isdigit() and int(concurrency) > 1:
        raise SettingsError(
            f"the limits of model {named} cannot hold across WEB_CONCURRENCY={concurrency} processes "
            f"with STATE_URL=off (each process would admit the whole limit): {fix}"
        )
    if platform == "emscripten":
        raise SettingsError(
            f"the limits of model {named} cannot hold in a Cloudflare Worker, where each isolate keeps "
            "its own count and no state store is reachable: remove the model's rpm/tpm/max_concurrency "
            "and use Cloudflare's rate limiting rules"
        )
