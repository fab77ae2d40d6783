"""A YAML configuration file validated by a pydantic model: errors name the file, the key and why."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from debtflow.flows.core.errors import DebtflowError

M = TypeVar("M", bound=BaseModel)


def load(path: Path, model: type[M], what: str, default: Path) -> M:
    """`path` read as `model`, given the text's digest (first 12 hex digits of its SHA-256) as
    the key `digest`. `what` names the file in errors ("dunning policy"); `default` is the file
    whose comments explain the keys."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DebtflowError(f"{what} {path}: cannot read it ({exc.strerror})") from None
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DebtflowError(f"{what} {path}: not valid YAML: {exc}") from None
    if not isinstance(spec, dict):
        raise DebtflowError(f"{what} {path}: expected a mapping of keys at the top")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    try:
        return model.model_validate({**spec, "digest": digest})
    except ValidationError as exc:
        raise DebtflowError(
            f"{what} {path} is not valid; fix these keys (see the comments in "
            f"the shipped {default.name}):\n" + "\n".join(f"  {p}" for p in problems(exc))
        ) from None


def problems(exc: ValidationError) -> list[str]:
    """'key.path: why' per error. A key whose item failed also reports itself as too short:
    name the deepest key only."""
    errors = [(tuple(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
    deepest = [
        (loc, msg)
        for loc, msg in errors
        if not any(other[: len(loc)] == loc and other != loc for other, _ in errors)
    ]
    return [f"{'.'.join(loc) or '(top)'}: {msg}" for loc, msg in deepest]
