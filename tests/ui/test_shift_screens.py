"""F5 callbacks and F6 shift handover with the real keys: what the screen shows and what the
database then holds."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select
from textual.widgets import DataTable, TextArea

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import Callback, CallbackAttempt, Handover, Shift, StaffUser
from desk.rules.permissions import shell_actor, system_actor
from desk.rules.policy import load_policy
from desk.rules.vocab import Role
from desk.screens.dialogs import ChoiceDialog
from desk.services import callbacks, users
from tests.ui.conftest import (
    PASSWORD,
    NewCustomer,
    Notes,
    add_customers,
    add_staff,
    make_app,
    screen_text,
    settle,
    sign_in,
)


def _lead2(db: Database) -> None:
    users.add_user(
        db,
        actor=shell_actor("test"),
        new=users.NewUser(login="lead2", display_name="陈班长", role=Role.LEAD, password=PASSWORD),
    )


def _user_id(db: Database, login: str) -> int:
    user = db.run(
        lambda s: s.exec(select(StaffUser).where(StaffUser.login == login)).one(), write=False
    )
    assert user.id is not None
    return user.id


def _morning_shift(db: Database, clock: FixedClock, lead_id: int) -> None:
    start = clock.now() - timedelta(hours=2)  # 08:00 Shanghai
    db.run(
        lambda s: s.add(
            Shift(name="早班", starts_at=start, ends_at=start + timedelta(hours=8), lead_id=lead_id)
        ),
        write=True,
    )


def _handovers(db: Database) -> list[Handover]:
    return db.run(lambda s: list(s.exec(select(Handover)).all()), write=False)


async def test_a_lead_signs_once_and_the_next_lead_acknowledges(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "lead1")
    _lead2(sqlite_db)
    _morning_shift(sqlite_db, clock, _user_id(sqlite_db, "lead1"))
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "lead1")
        await pilot.press("f6")
        await settle(pilot)
        assert "早班" in screen_text(pilot)
        assert app.screen.query_one("#handover-notes", TextArea).has_focus
        await pilot.press(*"all clear")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceDialog)
        assert "A shift is signed once" in app.screen.choice_title
        await pilot.press("enter")  # "Sign off now"
        await settle(pilot)
        (signed,) = _handovers(sqlite_db)
        assert signed.notes == "all clear"
        assert signed.signed_at == clock.now()
        assert signed.acknowledged_at is None
        assert "Signed off by 王班长" in screen_text(pilot)
        await pilot.press("ctrl+s")  # dimmed now: no second sign-off
        await settle(pilot)
        assert len(_handovers(sqlite_db)) == 1
        assert app.screen.query_one("#handover-notes", TextArea).read_only
        await pilot.press("f10")
        await settle(pilot)
        clock.advance(timedelta(minutes=10))
        await sign_in(pilot, "lead2")
        await pilot.press("f6")
        await settle(pilot)
        assert "To acknowledge: 早班" in screen_text(pilot)
        await pilot.press("ctrl+k")
        await settle(pilot)
        await pilot.press(*"read")
        await pilot.press("enter")
        await settle(pilot)
        (acknowledged,) = _handovers(sqlite_db)
        assert acknowledged.incoming_lead_id == _user_id(sqlite_db, "lead2")
        assert acknowledged.acknowledged_at == clock.now()
        assert acknowledged.acknowledgement == "read"
        assert "To acknowledge" not in screen_text(pilot)


async def test_the_handover_reads_in_chinese_at_80_by_24(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "lead1")
    _morning_shift(sqlite_db, clock, _user_id(sqlite_db, "lead1"))
    app = make_app(sqlite_db, clock, language="zh_CN")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "lead1")
        await pilot.press("f6")
        await settle(pilot)
        text = screen_text(pilot)
        assert "交接班" in text
        assert "各业务类型受理量" in text
        assert "交班备注" in text


def _survey(db: Database, clock: FixedClock) -> int:
    (customer,) = add_customers(
        db,
        [
            NewCustomer(
                name="张三",
                phone="13800001111",
                id_card="110101199001011234",
                customer_no="C00000001",
            )
        ],
    )
    policy = load_policy()
    survey = policy.callbacks.survey.model_copy(update={"sample_percent": 100})
    policy = policy.model_copy(
        update={"callbacks": policy.callbacks.model_copy(update={"survey": survey})}
    )
    from desk.models import Contact

    at = clock.now() - timedelta(hours=3)
    db.run(
        lambda s: s.add(
            Contact(
                customer_id=customer,
                channel="phone",
                request_type="bill_inquiry",
                offered_at=at,
                answered_at=at,
                ended_at=at + timedelta(minutes=4),
                outcome="settled",
            )
        ),
        write=True,
    )
    report = callbacks.plan_callbacks(db, actor=system_actor(), policy=policy)
    assert report.added["survey"] == 1
    return customer


def _callback(db: Database) -> Callback:
    return db.run(lambda s: s.exec(select(Callback)).one(), write=False)


async def test_an_unreachable_survey_is_retried_then_closed(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "agent1")
    _survey(sqlite_db, clock)
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await sign_in(pilot, "agent1")
        await pilot.press("f5")
        await settle(pilot)
        table = app.screen.query_one("#callbacks-table", DataTable)
        assert table.row_count == 1
        assert "Survey" in screen_text(pilot)
        assert "Tries left" in screen_text(pilot)
        for attempt in (1, 2, 3):
            await pilot.press("enter")  # record a try
            await settle(pilot)
            await pilot.press("down", "down", "enter")  # not reached
            await settle(pilot)
            await pilot.press(*"busy", "enter")  # the note
            await settle(pilot)
            row = _callback(sqlite_db)
            assert row.attempts == attempt
        assert (row.status, row.outcome) == ("failed", "unreachable")
        notes = sqlite_db.run(
            lambda s: [a.note for a in s.exec(select(CallbackAttempt)).all()], write=False
        )
        assert notes == ["busy", "busy", "busy"]
        assert table.row_count == 0
        await pilot.press("c")  # the closed ones
        await settle(pilot)
        assert table.row_count == 1
        assert "unreachable" in screen_text(pilot)


async def test_a_reached_survey_records_the_satisfaction_in_chinese(
    sqlite_db: Database, clock: FixedClock
) -> None:
    add_staff(sqlite_db, "lead1")
    _survey(sqlite_db, clock)
    app = make_app(sqlite_db, clock, language="zh_CN")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "lead1")
        await pilot.press("f5")
        await settle(pilot)
        assert "满意度调查" in screen_text(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")  # reached
        await settle(pilot)
        await pilot.press("down", "enter")  # 4 — satisfied
        await settle(pilot)
        await pilot.press("enter")  # no note
        await settle(pilot)
        row = _callback(sqlite_db)
        assert (row.status, row.outcome, row.satisfaction) == ("done", "reached", 4)


async def test_tab_goes_round_the_acknowledge_dialog_and_its_button_acknowledges(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """The acknowledgement dialog: Tab from the words to Acknowledge (OK), to Cancel and
    round again; Enter on the button stores the words typed."""
    from textual.widgets import Button, Input

    from desk.screens.handover import TextDialog

    add_staff(sqlite_db, "lead1")
    _lead2(sqlite_db)
    _morning_shift(sqlite_db, clock, _user_id(sqlite_db, "lead1"))
    app = make_app(sqlite_db, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "lead1")
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("f10")
        await settle(pilot)
        await sign_in(pilot, "lead2")
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("ctrl+k")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, TextDialog)
        assert isinstance(app.focused, Input)
        await pilot.press(*"ok")
        await pilot.press("tab")
        assert isinstance(app.focused, Button)
        assert app.focused.id == "dialog-confirm"
        await pilot.press("tab")
        assert app.focused.id == "dialog-cancel"
        await pilot.press("tab")
        assert isinstance(app.focused, Input)
        await pilot.press("shift+tab")
        assert app.focused.id == "dialog-cancel"
        await pilot.press("shift+tab")
        assert app.focused.id == "dialog-confirm"
        assert "OK" in screen_text(pilot)
        assert "Cancel" in screen_text(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, TextDialog)
        (acknowledged,) = _handovers(sqlite_db)
        assert acknowledged.acknowledgement == "ok"
        assert acknowledged.incoming_lead_id == _user_id(sqlite_db, "lead2")


async def test_a_problem_noted_on_either_screen_reaches_the_handover(
    sqlite_db: Database, clock: FixedClock
) -> None:
    """Ctrl+N on the handover (F6) and on the callbacks (F5) notes a problem of the shift: its
    kind, then its words; both are stored for the shift on now and listed on the handover."""
    from desk.models import ShiftNote

    add_staff(sqlite_db, "lead1")
    _morning_shift(sqlite_db, clock, _user_id(sqlite_db, "lead1"))
    app = make_app(sqlite_db, clock)
    said = Notes()
    async with app.run_test(size=(160, 48), message_hook=said) as pilot:
        await sign_in(pilot, "lead1")
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceDialog)
        assert app.screen.choice_title == "What kind of problem?"
        await pilot.press("down", "enter")  # system
        await settle(pilot)
        await pilot.press(*"CRM slow", "enter")
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("enter")  # equipment
        await settle(pilot)
        await pilot.press(*"headset 12", "enter")
        await settle(pilot)
        assert said.messages.count("Problem noted for the handover.") == 2
        notes = sqlite_db.run(
            lambda s: [(n.kind, n.text) for n in s.exec(select(ShiftNote)).all()], write=False
        )
        assert sorted(notes) == [("equipment", "headset 12"), ("system", "CRM slow")]
        await pilot.press("f6")
        await settle(pilot)
        shown = screen_text(pilot)
        assert "CRM slow" in shown
        assert "headset 12" in shown
