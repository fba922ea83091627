"""Reading the simulator's JSON files (broker, symbols, calendar): one place that turns a
missing, unreadable or malformed file into an error naming the file and what to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: str | Path, kind: str, error: type[ValueError]) -> Any:
    """The parsed document of `path`; any failure is raised as `error`, worded for an operator."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"cannot read {kind} {path}: not found; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {kind} {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{kind} {path} is not valid JSON ({exc}); fix the file") from None
