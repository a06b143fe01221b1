"""Settings, read once from the environment (prefix EVIDEX_) by whoever builds the app or CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

INSECURE_SECRET = "changethis"


def data_home() -> Path:
    """The user's data folder for evidex (XDG), where the default SQLite file lives."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "evidex"


def default_database_url() -> str:
    return f"sqlite:///{data_home() / 'evidex.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVIDEX_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(default_factory=default_database_url)
    node_party: str = Field(default="RS", pattern=r"^[A-Z]{2}$", description="The Party this node serves")
    evidence_dir: Path = Field(default_factory=lambda: data_home() / "evidence")
    # Payloads over 64 KiB received from other nodes, one file each (exchange/spool.py); back it up
    # with the database.
    spool_dir: Path = Field(default_factory=lambda: data_home() / "spool")
    evidence_url: str | None = None  # s3://bucket/prefix for object storage (AWS_* settings for endpoint, keys)
    secret_key: SecretStr = SecretStr(INSECURE_SECRET)
    # Secrets replaced by a rotation: their evidence keys still unwrap until `evidex evidence rewrap` has run.
    previous_secret_keys: list[SecretStr] = []
    session_minutes: int = Field(default=480, gt=0, le=7 * 24 * 60)
    parties_file: Path | None = None  # Party profiles replacing the shipped (example) set
    node_dir: Path = Field(default_factory=lambda: data_home() / "node")  # keys from `evidex node init`
    node_key_passphrase: SecretStr | None = None  # opens the node's private keys (federation)
    # Requests served at once in worker threads (the rest wait their turn in the event loop): more
    # threads than cores only make them fight over the interpreter lock (bench/api_bench.py).
    api_threads: int = Field(default=8, ge=1, le=256)
    # Evidence limits (issue 12): the largest file one may declare, and the sum of the declared sizes
    # of a request's live (not disposed, not abandoned) files; both refused at the start of an upload.
    max_evidence_bytes: int = Field(default=64 << 30, gt=0, le=1 << 40)
    request_evidence_quota_bytes: int = Field(default=256 << 30, gt=0, le=1 << 52)
    upload_idle_hours: float = Field(default=24.0, gt=0)  # an upload with no chunk for this long is abandoned
    # Bytes one peer's received payloads may occupy in the spool (orphans count until swept); over it,
    # a batch is answered 503 with Retry-After and nothing is kept.
    spool_peer_quota_bytes: int = Field(default=4 << 30, gt=0)
    # Package chunks accepted per second from one peer (token bucket, per server process), and the burst.
    package_chunk_rate: float = Field(default=50.0, gt=0)
    package_chunk_burst: int = Field(default=100, ge=1)

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_means_default(cls, v: object) -> object:
        return default_database_url() if isinstance(v, str) and not v.strip() else v

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key.get_secret_value() == INSECURE_SECRET:
            raise ValueError("EVIDEX_SECRET_KEY must be set to a secret value in production")
        return self
