"""F8 quality spot checks with the real keys: a lead scores a finished contact (lowering one
item) and a branch office, then reads the checks; the screen at 80×24 in Chinese; a role
without spot checks is told so."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select
from textual.pilot import Pilot
from textual.widgets import OptionList, Select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import AuditEntry, Contact, SpotCheck
from desk.screens.forms import ActionForm
from desk.screens.quality import QualityScreen
from desk.services import secrets
from tests.floor_world import Floor, build_floor
from tests.ui.conftest import PASSWORD, Notes, make_app, screen_text, settle, sign_in


def _floor(db: Database, clock: FixedClock) -> tuple[Floor, int]:
    floor = build_floor(db, password_hash=secrets.hash_secret(PASSWORD))
    start = clock.now() - timedelta(minutes=40)

    def add(session: object) -> int:
        contact = Contact(
            customer_id=floor.customers[0],
            channel="phone",
            request_type="bill_inquiry",
            offered_at=start,
            answered_at=start + timedelta(seconds=8),
            ended_at=start + timedelta(minutes=6),
            agent_id=floor.actor("agent1").user_id,
            outcome="settled",
        )
        session.add(contact)  # type: ignore[attr-defined]
        session.flush()  # type: ignore[attr-defined]
        assert contact.id is not None
        return contact.id

    return floor, db.run(add, write=True)


async def _mark(pilot: Pilot[None], mark: str) -> None:
    """Open the focused mark with Enter and walk to ``mark``."""
    select_ = pilot.app.focused
    assert isinstance(select_, Select)
    await pilot.press("enter")
    await pilot.pause()
    options = select_.query_one(OptionList)
    for _ in range(len(options.options) + 1):
        highlighted = options.highlighted
        if highlighted is not None and str(options.get_option_at_index(highlighted).prompt) == mark:
            break
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()


async def test_a_lead_scores_a_contact_and_a_branch_by_keys(
    sqlite_db: Database, clock: FixedClock
) -> None:
    floor, contact = _floor(sqlite_db, clock)
    notes = Notes()
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 36), message_hook=notes) as pilot:
        await sign_in(pilot, "lead1")
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, QualityScreen)
        text = screen_text(pilot)
        assert "Contacts to check" in text
        assert "李小红" in text  # the contact's agent
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ActionForm)
        assert f"Call quality — contact #{contact} of 李小红" in screen_text(pilot)
        await pilot.press("tab", "tab", "tab")  # greeting, verification, understanding → accuracy
        await _mark(pilot, "2")
        await pilot.press("tab", "tab", "tab", "tab")  # → the remark
        await pilot.press(*"wrong balance")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, QualityScreen), screen_text(pilot)
        check = sqlite_db.run(lambda s: s.exec(select(SpotCheck)).one(), write=False)
        # accuracy 2 of 5 at weight 25 loses 15 points
        assert (check.total_hundredths, check.passed, check.remark) == (8500, True, "wrong balance")
        assert check.agent_id == floor.actor("agent1").user_id
        assert any("85.00, passed" in note for note in notes.messages)
        assert "checked" in screen_text(pilot)  # the row says so now

        await pilot.press("3")  # the branch offices
        await settle(pilot)
        assert "城东分公司" in screen_text(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ActionForm)
        assert "Branch mystery visit — 城东分公司" in screen_text(pilot)
        await pilot.press("ctrl+s")  # full marks
        await settle(pilot)
        await pilot.press("1")  # the checks made
        await settle(pilot)
        text = screen_text(pilot)
        assert "100.00 passed" in text
        assert "85.00 passed" in text
        assert "Branch mystery visit" in text  # the newest, selected: its marks beside
        assert "Premises" in text
    audited = sqlite_db.run(
        lambda s: s.exec(select(AuditEntry).where(AuditEntry.action == "spot_check.record")).all(),
        write=False,
    )
    assert len(audited) == 2


async def test_the_spot_checks_read_in_chinese_at_80_by_24(
    sqlite_db: Database, clock: FixedClock
) -> None:
    _floor(sqlite_db, clock)
    app = make_app(sqlite_db, clock, language="zh_CN")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "lead1")
        await pilot.press("f8")
        await settle(pilot)
        text = screen_text(pilot)
        assert "待抽查的接触" in text
        assert "李小红" in text
        assert "查询话费" in text or "话费查询" in text
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(pilot)
        assert "通话质检" in text
        assert "开头语与礼貌用语(权重 10)" in text


async def test_an_agent_is_told_spot_checks_are_not_theirs(
    sqlite_db: Database, clock: FixedClock
) -> None:
    _floor(sqlite_db, clock)
    notes = Notes()
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(120, 36), message_hook=notes) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f8")
        await settle(pilot)
        assert not isinstance(app.screen, QualityScreen)
        assert notes.messages
