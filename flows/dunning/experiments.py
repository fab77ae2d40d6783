"""A/B tests of the dunning policy: experiments in policy.yml, and which arm each debtor is in.

An experiment runs from `start` to `end` (both included). Its hold-out share of the debtors is the
control group: they get the base policy and are what every variant is compared with. Each
variant gets the base policy with its `overlay` applied: another channel, timing or wording for
a step, or another order of a ladder's steps. The hold-out and the variants' shares sum to 1.

Assignment is deterministic and sticky: a debtor's arm depends only on the experiment's name, the
debtor's id and the shares (sha256 of "name|debtor_id" read as a number in [0, 1), then the arm
whose cumulative share first exceeds it). A run, a re-run, a policy reload, a new policy version
or a change to another experiment never moves a debtor. Changing the shares (or the name) of a
running experiment does re-assign debtors, and mixes the arms' histories: end it and start a new
one instead. At most one experiment runs on any day, so each action has one arm.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

CONTROL = "control"  # the hold-out's arm: the base policy
SHARE_TOLERANCE = 1e-9
# what an overlay may change: per step, these fields; per ladder, the order of its steps
STEP_FIELDS = ("channel", "fallback", "min_days_past_due", "min_gap_days", "label", "wording")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(_Strict):
    name: str
    share: float = Field(gt=0, le=1)
    # ladders: {<ladder name>: {steps: {<step name>: {<field>: value}}, order: [<step names>]}}
    overlay: dict[str, Any] = Field(min_length=1)


class Experiment(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    start: date
    end: date
    holdout: float = Field(gt=0, lt=1)  # the control group, which every variant is compared with
    variants: tuple[Variant, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self):
        if self.end < self.start:
            raise ValueError(f"ends ({self.end}) before it starts ({self.start})")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names) or CONTROL in names:
            raise ValueError(f"variant names must be unique and not {CONTROL!r}: {names}")
        total = self.holdout + sum(v.share for v in self.variants)
        if abs(total - 1) > SHARE_TOLERANCE:
            raise ValueError(
                f"holdout ({self.holdout}) and the variants' shares "
                f"({', '.join(f'{v.name} {v.share}' for v in self.variants)}) sum to "
                f"{total:g}, not 1"
            )
        return self

    def running(self, day: date) -> bool:
        return self.start <= day <= self.end

    def arm(self, debtor_id: str) -> str:
        """The debtor's arm: CONTROL or a variant's name."""
        u, edge = unit(self.name, debtor_id), self.holdout
        if u < edge:
            return CONTROL
        for variant in self.variants:
            edge += variant.share
            if u < edge:
                return variant.name
        return self.variants[-1].name  # shares summing to 1 - 1e-16


def unit(experiment: str, debtor_id: str) -> float:
    """A uniform number in [0, 1) fixed by the experiment's name and the debtor's id."""
    digest = hashlib.sha256(f"{experiment}|{debtor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def check_no_overlap(experiments: tuple[Experiment, ...]) -> None:
    """Names are unique and no two experiments run on the same day."""
    names = [e.name for e in experiments]
    if len(set(names)) != len(names):
        raise ValueError(f"experiment names repeat: {names}")
    spans = sorted(experiments, key=lambda e: e.start)
    for a, b in zip(spans, spans[1:], strict=False):
        if b.start <= a.end:
            raise ValueError(
                f"experiments {a.name!r} ({a.start} to {a.end}) and {b.name!r} ({b.start} to "
                f"{b.end}) overlap: a debtor can be in one experiment at a time"
            )


def overlaid(base: dict, overlay: dict, where: str) -> dict:
    """The base policy's spec (a dict as in policy.yml) with `overlay` applied. `where` names the
    variant in errors; a key that names no ladder, step or changeable field is an error."""
    unknown = set(overlay) - {"ladders"}
    if unknown:
        raise ValueError(f"{where}: overlay keys {sorted(unknown)} are not allowed (only ladders)")
    ladders = {lad["name"]: lad for lad in base["ladders"]}
    changed = []
    for name, change in (overlay.get("ladders") or {}).items():
        if name not in ladders:
            raise ValueError(f"{where}: ladders.{name}: no such ladder (have {sorted(ladders)})")
        if not isinstance(change, dict) or not change or set(change) - {"steps", "order"}:
            raise ValueError(f"{where}: ladders.{name}: give `steps` and/or `order`")
        steps = {s["name"]: dict(s) for s in ladders[name]["steps"]}
        for step, fields in (change.get("steps") or {}).items():
            at = f"{where}: ladders.{name}.steps.{step}"
            if step not in steps:
                raise ValueError(f"{at}: no such step in ladder {name} (have {list(steps)})")
            if not isinstance(fields, dict) or not fields or set(fields) - set(STEP_FIELDS):
                raise ValueError(f"{at}: give fields to change, any of {', '.join(STEP_FIELDS)}")
            steps[step].update(fields)
        order = change.get("order") or list(steps)
        missing = [s for s in order if s not in steps]
        if missing or len(set(order)) != len(order):
            raise ValueError(
                f"{where}: ladders.{name}.order: name each step once, of {list(steps)} "
                f"(got {order})"
            )
        changed.append({**ladders[name], "steps": [steps[s] for s in order]})
    by_name = {lad["name"]: lad for lad in changed}
    return {**base, "ladders": [by_name.get(lad["name"], lad) for lad in base["ladders"]]}
