"""Knowledge-base articles shipped with desk: parsed by :mod:`desk.services.knowledge`,
which also keeps them in the database and searches them; the demo writes them as they are."""

from __future__ import annotations

from desk.services.knowledge import Article, parse_article, shipped_articles, shipped_replies

__all__ = ["Article", "parse_article", "shipped_articles", "shipped_replies"]
