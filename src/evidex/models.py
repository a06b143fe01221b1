"""Import every model module so the metadata is complete (migrations, tests)."""

from __future__ import annotations


def import_all_models() -> None:
    import evidex.audit.models
    import evidex.cases.models
    import evidex.core.idempotency
    import evidex.core.ratelimit
    import evidex.evidence.models
    import evidex.exchange.models
    import evidex.parties.models
    import evidex.requests.models  # noqa: F401
