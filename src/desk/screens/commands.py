"""The command palette (Ctrl+P): the keys of the current screen, by what they do.

It reads :func:`desk.widgets.keys.keymap_of`, the table behind the footer and F1, so the
palette offers exactly what the keys offer; what the role may not do is not offered.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from desk.widgets.keys import KeyRow, keymap_of

_SELF = ("command_palette", "app.command_palette")


class KeymapCommands(Provider):
    def _rows(self) -> list[KeyRow]:
        return [
            row
            for row in keymap_of(self.screen, self.app)
            if row.enabled and row.action not in _SELF
        ]

    async def _run(self, row: KeyRow) -> None:
        await self.app.run_action(row.action, row.namespace)

    async def discover(self) -> Hits:
        for row in self._rows():
            yield DiscoveryHit(row.description, partial(self._run, row), help=row.key)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for row in self._rows():
            score = matcher.match(row.description)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(row.description),
                    partial(self._run, row),
                    text=row.description,
                    help=row.key,
                )
