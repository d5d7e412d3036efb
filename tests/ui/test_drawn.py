"""Paragraphs and grids drawn by desk (a work order's history): columns aligned by cell width,
Chinese text included, the last column folded and never cut, styles kept, and the same
lines whether Rich prints them or a Static paints them through RenderedOnce."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from desk.widgets.drawn import Drawn, Grid
from desk.widgets.painted import RenderedOnce
from tests.ui.conftest import screen_text

REPLY = "经核查,该彩铃业务系第三方渠道误订,已为客户退订并退还10月三次扣费共计三十元,下月账单体现。"


def history() -> Grid:
    rows = [
        (Text("11-02 16:58"), Text("朱雪可"), Text("Created → New"), Text("")),
        (Text("11-02 17:28"), Text("desk"), Text("Deadline missed", style="red"), Text("")),
        (Text("11-03 09:12"), Text("罗昊"), Text("Replied (计费中心)"), Text(REPLY)),
        (Text("11-03 09:40"), Text("lead1"), Text("Note"), Text("[b]急[/b] call back")),
    ]
    header = [Text("When"), Text("Who"), Text("What"), Text("Note / reason")]
    return Grid(rows, header=header, expand=True)


def text_of(line: list[Segment]) -> str:
    return "".join(segment.text for segment in line)


def test_a_grid_aligns_its_columns_by_cell_width_and_folds_the_last() -> None:
    console = Console(width=60)
    texts = [text_of(line) for line in Drawn([history()]).lines(console, 60)]
    assert all(cell_len(text) <= 60 for text in texts)

    def at(text: str, part: str) -> int:
        return cell_len(text[: text.index(part)])

    rows = {0: ("Who", "What"), 1: ("朱雪可", "Created"), 2: ("desk", "Deadline")}
    rows[3] = ("罗昊", "Replied")
    assert {at(texts[n], who) for n, (who, _what) in rows.items()} == {13}  # 11 + gap
    assert len({at(texts[n], what) for n, (_who, what) in rows.items()}) == 1
    reply = texts[3 : texts.index(next(t for t in texts if "lead1" in t))]
    assert len(reply) > 1  # folded over several lines, every character kept
    assert REPLY in "".join(line.rstrip().rsplit("  ", 1)[-1] for line in reply)
    assert texts[-1].endswith("[b]急[/b] call back")  # as written, not as markup


def test_styles_of_the_text_and_of_the_column_are_kept() -> None:
    console = Console(width=80)
    facts = Grid([(Text("Type"), Text("Complaint", style="bold"))], styles=("dim",))
    lines = Drawn([facts, history()]).lines(console, 80)
    label = next(s for s in lines[0] if s.text == "Type")
    value = next(s for s in lines[0] if s.text == "Complaint")
    assert label.style is not None
    assert label.style.dim
    assert value.style is not None
    assert value.style.bold
    assert not value.style.dim
    missed = next(s for line in lines for s in line if s.text == "Deadline missed")
    assert missed.style == Style.parse("red")
    header = next(s for s in lines[1] if s.text == "When")
    assert header.style is not None
    assert header.style.bold


def test_rich_prints_the_lines_drawn() -> None:
    console = Console(width=50, record=True, color_system=None)
    drawn = Drawn([Text("WO1  断网三天", style="bold"), Text("\nHistory"), history()])
    with console.capture() as capture:
        console.print(drawn)
    printed = [line.rstrip() for line in capture.get().splitlines()]
    assert printed == [text_of(line).rstrip() for line in drawn.lines(console, 50)]
    assert printed[1] == ""  # the heading's new line


async def test_rendered_once_paints_a_drawn_as_textual_paints_it() -> None:
    drawn = Drawn([Text("WO1  断网三天", style="bold"), history()])

    class Two(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(id="once")
            yield Static(drawn, id="plain")

    app = Two()
    async with app.run_test(size=(60, 40)) as pilot:
        once = app.query_one("#once", Static)
        once.update(RenderedOnce(once, drawn))
        await pilot.pause()
        await pilot.pause()
        height = once.size.height
        assert height == app.query_one("#plain", Static).size.height > 6
        shown = screen_text(pilot).splitlines()
        assert shown[:height] == shown[height : 2 * height]
        assert "朱雪可" in shown[2]


def test_a_paragraph_of_several_lines_is_split_at_its_line_breaks_as_wrapping_would() -> None:
    """A heading with a blank line above it, lines that each fit: split where they break,
    the same lines and styles that wrapping gives."""
    console = Console(width=40)
    text = Text("\nRecent contacts (3 in 30 days)\n客户资料", style="bold underline")
    drawn = Drawn([text]).lines(console, 40)
    wrapped = [
        list(line.render(console))
        for line in text.wrap(console, 40, overflow="fold", no_wrap=False)
    ]
    assert [text_of(line) for line in drawn] == ["", "Recent contacts (3 in 30 days)", "客户资料"]
    assert [text_of(line) for line in drawn] == ["".join(s.text for s in line) for line in wrapped]
    assert all(s.style == console.get_style("bold underline") for s in drawn[1])


def test_a_grid_too_wide_for_a_narrow_line_draws_each_row_as_a_paragraph() -> None:
    """Five columns in 38 cells (the card's recent contacts at 80×24): rather than fold a
    date over five lines of four cells, each row is one paragraph, its cells in order, its
    later lines indented; at 160 cells the same grid keeps its columns."""
    rows = [
        (
            Text("2026-12-02 12:05"),
            Text("Phone"),
            Text("Consultation"),
            Text("Settled"),
            Text("任晨林"),
        ),
        (
            Text("2026-11-14 11:35"),
            Text("Web"),
            Text("Suggestion"),
            Text("Work order created"),
            Text("石亦婷"),
        ),
    ]
    header = [Text("When"), Text("Channel"), Text("Request"), Text("Outcome"), Text("Agent")]
    grid = Grid(rows, header=header, styles=("dim",))
    console = Console(width=38)
    narrow = [text_of(line) for line in Drawn([grid]).lines(console, 38)]
    assert all(cell_len(line) <= 38 for line in narrow)
    assert narrow[0].startswith("When  Channel")
    first = next(n for n, line in enumerate(narrow) if line.startswith("2026-12-02 12:05"))
    second = next(n for n, line in enumerate(narrow) if line.startswith("2026-11-14 11:35"))
    assert all(line.startswith("  ") for line in narrow[first + 1 : second])
    assert "".join(line.strip() for line in narrow[first:second]).replace(" ", "") == (
        "2026-12-0212:05PhoneConsultationSettled任晨林"
    )
    lines = Drawn([grid]).lines(console, 38)
    date = next(s for s in lines[first] if s.text.startswith("2026"))
    assert date.style is not None
    assert date.style.dim  # the column's style kept
    wide = [text_of(line) for line in Drawn([grid]).lines(Console(width=160), 160)]
    assert len(wide) == 3  # the header and a line a row
    assert wide[1].index("Phone") == wide[2].index("Web")
