"""Pseudonyms on bidder tapes: a keyed HMAC of the debtor and invoice ids under the seller's key.

Customer and invoice numbers are often sequential, so an unkeyed hash or a public key lets a
bidder recompute every pseudonym and re-identify the debtors. There is no default key: the key
comes from DEBTFLOW_PSEUDONYM_KEY (a random secret), or, in a demo home only, from the random
key `debtflow demo` writes to HOME/secrets/pseudonym.key. A weak or published key is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
from collections import Counter

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings

MIN_CHARS = 32
MIN_BITS = 128  # estimated from the characters' frequencies: a real random key has far more
PUBLISHED = {"debtflow-demo-key"}  # the public default of earlier versions
DIGITS = 24  # hex digits of a pseudonym: 96 bits, no collisions in any book
HOW = (
    "set DEBTFLOW_PSEUDONYM_KEY to a random secret of at least 32 characters kept in your secret "
    "store, for example the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
)


def weakness(key: str) -> str | None:
    """Why `key` must not pseudonymise a tape, or None when it may."""
    if key in PUBLISHED:
        return "it is the public demo key of earlier versions, which anyone can read"
    if len(key) < MIN_CHARS:
        return f"it has {len(key)} characters; at least {MIN_CHARS} are needed"
    counts = Counter(key)
    bits = max(0.0, -sum(n * math.log2(n / len(key)) for n in counts.values()))
    if bits < MIN_BITS:
        return f"it is not random enough (about {bits:.0f} bits; at least {MIN_BITS} are needed)"
    return None


def key(settings: Settings) -> bytes:
    """The seller's pseudonymisation key; a DebtflowError says why there is none to use."""
    if settings.pseudonym_key is not None:
        value, source = settings.pseudonym_key.get_secret_value(), "DEBTFLOW_PSEUDONYM_KEY"
    elif settings.pseudonym_key_file.exists():
        value = settings.pseudonym_key_file.read_text(encoding="utf-8").strip()
        source = str(settings.pseudonym_key_file)
    else:
        raise DebtflowError(f"no pseudonymisation key for bidder tapes: {HOW}")
    problem = weakness(value)
    if problem:
        raise DebtflowError(f"the pseudonymisation key in {source} is refused: {problem}; {HOW}")
    return value.encode()


def make_demo_key(settings: Settings) -> None:
    """A random key for a demo home, readable by its owner only; an existing one is kept."""
    path = settings.pseudonym_key_file
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_urlsafe(32) + "\n")


def pseudonym(secret: bytes, kind: str, value: str) -> str:
    """`kind` (debtor, invoice) keeps a debtor and an invoice with the same id apart."""
    message = f"{kind}:{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:DIGITS]


def fingerprint(secret: bytes) -> str:
    """Names the key in a manifest without revealing it: the seller can tell which key made a
    tape (to map a buyer's answers back) and a bidder learns nothing."""
    return pseudonym(secret, "fingerprint", "debtflow")[:12]
