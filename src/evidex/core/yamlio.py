"""Safe YAML reading with one-line errors (line and column), shared by every YAML boundary."""

from __future__ import annotations

from typing import Any

import yaml

from evidex.core.errors import EvidexError

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_text(text: str, where: str, error: type[EvidexError]) -> Any:
    """Parse YAML safely; any failure becomes `error` naming `where` (never a traceback)."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{where}: not valid YAML{at}: {getattr(e, 'problem', None) or e}") from e
    except RecursionError as e:
        raise error(f"{where}: YAML nested too deeply") from e
    except (ValueError, TypeError, OverflowError) as e:  # e.g. a YAML timestamp such as 2026-13-01
        raise error(f"{where}: a value is not a date or cannot be read: {e}") from e
