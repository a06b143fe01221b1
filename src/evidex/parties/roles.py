"""Roles of MISSION.md, and the principal every service call acts as."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    competent_authority = "competent_authority"  # investigator, prosecutor, judge: drafts
    central_authority = "central_authority"  # ETS185 Art 27(2): sends, receives, decides
    contact_24_7 = "contact_24_7"  # ETS185 Art 35: urgent preservation and emergencies
    service_provider = "service_provider"  # receives direct requests and orders
    notified_authority = "notified_authority"  # CETS224 Art 7(5)
    data_protection_officer = "data_protection_officer"  # CETS224 Art 14
    administrator = "administrator"
    system = "system"  # the node itself (deadline worker): never a person


PEOPLE_ROLES = frozenset(r for r in Role if r is not Role.system)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: every service call takes one, explicitly."""

    user_id: uuid.UUID | None
    username: str
    party: str
    role: Role
    provider: str | None = None  # a service provider's organisation: sees only its own requests

    @classmethod
    def system(cls, party: str) -> Principal:
        return cls(user_id=None, username="system", party=party, role=Role.system)
