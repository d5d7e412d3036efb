"""Knowledge text as search terms, the same for what is indexed and what is asked.

Chinese has no spaces between words, so a run of CJK characters is indexed as its character
pairs, in order, and its last character alone (every character then begins a term: a query
of one character is a prefix); Latin text as lowercase words (a hyphenated word as its
parts). The terms are written space-separated, which both databases'
plain tokenizers (SQLite FTS5 ``unicode61``, PostgreSQL's ``simple`` configuration) read as
one term per word.

A query is cut into pieces the same way: a CJK piece of two or more characters is the phrase
of its pairs (consecutive in the index, so ``停机保号`` matches only where those four characters
stand together), a single character matches the terms it begins, a Latin word is the phrase
of its parts, and the last word, while it is still being typed (no space after it), also
matches as a prefix.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:[-'][a-z0-9]+)*")
_JOINERS = re.compile(r"[-']")


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _is_cjk(run: str) -> bool:
    return run[0] > "\u2fff"


def _run_terms(run: str) -> list[str]:
    if not _is_cjk(run):
        return [part for part in _JOINERS.split(run) if part]
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def index_terms(text: str) -> str:
    """The terms ``text`` is indexed by, space-separated."""
    return " ".join(term for run in _RUN.findall(normalise(text)) for term in _run_terms(run))


@dataclass(frozen=True, slots=True)
class Piece:
    """One piece of a query: ``terms`` in this order (a phrase); ``prefix``: the last term
    also matches the words it begins."""

    text: str
    terms: tuple[str, ...]
    prefix: bool


def query_pieces(query: str) -> list[Piece]:
    text = normalise(query)
    runs = list(_RUN.finditer(text))
    pieces: list[Piece] = []
    for index, match in enumerate(runs):
        run = match.group(0)
        if _is_cjk(run):
            if len(run) == 1:
                pieces.append(Piece(run, (run,), prefix=True))
            else:
                pieces.append(Piece(run, tuple(run[i : i + 2] for i in range(len(run) - 1)), False))
            continue
        typing = index == len(runs) - 1 and match.end() == len(text)
        pieces.append(Piece(run, tuple(_run_terms(run)), prefix=typing))
    return pieces
