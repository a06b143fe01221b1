"""The rule data copied for a test to change (tests of the loader and of the periods)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from evidex.rules.loader import data_dir


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(data_dir(), dst)
    return dst


def edit(path: Path, fn) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
