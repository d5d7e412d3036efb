"""Knowledge-base articles shipped with desk as Markdown files with a small front-matter.

A file in ``data/knowledge/`` (the package ``desk.data``) looks like::

    ---
    code: KB-PLAN-001
    title: 5G 套餐资费说明
    category: plan
    keywords: 5G, 套餐, 资费
    ---
    正文 (Markdown) …
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

REQUIRED = ("code", "title", "category")


@dataclass(frozen=True, slots=True)
class Article:
    code: str
    title: str
    category: str
    keywords: str
    body: str


def parse_article(text: str, *, source: str = "article") -> Article:
    """One article from its Markdown text; ``ValueError`` names the file and what is wrong."""
    text = text.lstrip("\ufeff")
    if not text.startswith("---\n"):
        raise ValueError(f"{source}: no front-matter (the file must start with '---')")
    head, sep, body = text[4:].partition("\n---\n")
    if not sep:
        raise ValueError(f"{source}: the front-matter is not closed with '---'")
    fields: dict[str, str] = {}
    for number, line in enumerate(head.splitlines(), start=2):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"{source}: line {number}: expected 'key: value'")
        fields[key.strip()] = value.strip()
    missing = [key for key in REQUIRED if not fields.get(key)]
    if missing:
        raise ValueError(f"{source}: missing {', '.join(missing)}")
    if not body.strip():
        raise ValueError(f"{source}: the article has no body")
    return Article(
        code=fields["code"],
        title=fields["title"],
        category=fields["category"],
        keywords=fields.get("keywords", ""),
        body=body.strip() + "\n",
    )


def shipped_articles() -> list[Article]:
    """Every article shipped in ``data/knowledge``, ordered by code."""
    folder = resources.files("desk.data").joinpath("knowledge")
    articles = [
        parse_article(entry.read_text(encoding="utf-8"), source=entry.name)
        for entry in folder.iterdir()
        if entry.name.endswith(".md")
    ]
    return sorted(articles, key=lambda article: article.code)
