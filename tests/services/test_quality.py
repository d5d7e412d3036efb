"""Quality spot checks: scored on the policy's cards, once per contact and card, never by the
agent who took it, audited, listed newest first by keyset, and counted in the reports; on
both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, NotFound, PermissionDenied
from desk.models import AuditEntry, Branch, SpotCheck, SpotCheckScore
from desk.rules.policy import Policy, load_policy
from desk.rules.quality import score
from desk.rules.vocab import SpotCheckTarget
from desk.services import quality
from desk.services.reports import ReportKind, report
from tests.services.shift_world import World, make_world

CALL = {
    "greeting": 5,
    "verification": 5,
    "understanding": 4,
    "accuracy": 4,
    "work_order": 5,
    "attitude": 5,
    "closing": 3,
}
BRANCH = {"waiting": 2, "reception": 3, "knowledge": 2, "resolution": 1, "environment": 4}


@pytest.fixture
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def _contact(world: World, clock: FixedClock, agent: str = "agent1", minutes: int = 30) -> int:
    return world.contact(
        world.customer("王小明"), at=clock.now() - timedelta(minutes=minutes), agent=agent
    )


def test_the_score_is_the_weighted_marks_out_of_100(policy: Policy) -> None:
    card = policy.quality.cards["call"]
    full = {item.key: policy.quality.scale for item in card.items}
    assert score(card, full, policy.quality).hundredths == 10_000
    # 10×5 + 15×5 + 15×4 + 25×4 + 15×5 + 10×5 + 10×3 = 440 of 500 → 88.00
    result = score(card, CALL, policy.quality)
    assert (result.hundredths, result.passed) == (8800, True)
    branch = score(policy.quality.cards["branch"], BRANCH, policy.quality)
    # (15×2 + 20×3 + 25×2 + 25×1 + 15×4) / 5 = 45.00: below the pass score of 80
    assert (branch.hundredths, branch.passed) == (4500, False)


def test_a_lead_scores_a_contact_and_it_is_audited(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    contact = _contact(world, clock)
    lead = world.actor("lead1")
    check = quality.record_spot_check(
        db,
        actor=lead,
        policy=policy,
        card="call",
        contact_id=contact,
        marks=CALL,
        remark="  结束语未邀评  ",
    )
    assert (check.score, check.passed, check.target) == (88.0, True, SpotCheckTarget.CONTACT)
    assert (check.checker, check.agent, check.subject) == ("王班长", "李小红", f"#{contact}")
    assert check.remark == "结束语未邀评"
    assert [(i.item, i.mark, i.weight) for i in check.items][:2] == [
        ("greeting", 5, 10),
        ("verification", 5, 15),
    ]
    assert check.items[-1].name_en == "Closing and satisfaction ask"
    stored = db.run(lambda s: s.exec(select(SpotCheck)).one(), write=False)
    assert (stored.total_hundredths, stored.agent_id, stored.at) == (
        8800,
        world.actor("agent1").user_id,
        clock.now(),
    )
    marks = db.run(lambda s: s.exec(select(SpotCheckScore)).all(), write=False)
    assert sum(m.weight for m in marks) == 100
    entries = db.run(
        lambda s: s.exec(select(AuditEntry).where(AuditEntry.action == "spot_check.record")).all(),
        write=False,
    )
    assert [(e.target_type, e.target_id, e.detail["score"]) for e in entries] == [
        ("contact", str(contact), 88.0)
    ]


def test_a_branch_office_is_scored_on_its_card(db: Database, world: World, policy: Policy) -> None:
    check = quality.record_spot_check(
        db,
        actor=world.actor("lead2"),
        policy=policy,
        card="branch",
        branch_id=world.branch_id,
        marks=BRANCH,
    )
    assert (check.subject, check.score, check.passed) == ("北京分公司", 45.0, False)
    (listed,) = quality.branches_to_check(db, actor=world.actor("lead1"))
    assert (listed.name, listed.checks, listed.last_score) == ("北京分公司", 1, 45.0)


BAD_INPUT: list[tuple[dict[str, object], str, str]] = [
    ({"card": "nope"}, "card", "no score card 'nope'"),
    ({"card": "branch"}, "card", "scores a branch, not a contact"),
    ({"marks": {**CALL, "closing": 6}}, "marks", "closing: a mark is 0 to 5"),
    ({"marks": {k: v for k, v in CALL.items() if k != "accuracy"}}, "marks", "not marked"),
    ({"marks": {**CALL, "smile": 3}}, "marks", "smile is not an item"),
    ({"remark": "长" * 2001}, "remark", "at most 2000"),
    ({"branch_id": 1}, "target", "one contact or one branch office"),
]


def test_bad_input_is_refused_and_nothing_is_written(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    contact = _contact(world, clock)
    for change, field, words in BAD_INPUT:
        arguments: dict[str, object] = {
            "card": "call",
            "contact_id": contact,
            "marks": CALL,
            "remark": "",
            **change,
        }
        with pytest.raises(InvalidInput, match=words) as refused:
            quality.record_spot_check(
                db,
                actor=world.actor("lead1"),
                policy=policy,
                **arguments,  # type: ignore[arg-type]
            )
        assert refused.value.field == field, change
    assert db.run(lambda s: s.exec(select(SpotCheck)).all(), write=False) == []


def test_a_contact_is_scored_once_per_card_never_by_its_own_agent_nor_while_open(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    contact = _contact(world, clock)
    lead1, lead2 = world.actor("lead1"), world.actor("lead2")
    quality.record_spot_check(
        db, actor=lead1, policy=policy, card="call", contact_id=contact, marks=CALL
    )
    with pytest.raises(InvalidInput, match="already by 王班长"):
        quality.record_spot_check(
            db, actor=lead2, policy=policy, card="call", contact_id=contact, marks=CALL
        )
    own = _contact(world, clock, agent="lead2")
    with pytest.raises(InvalidInput, match="not scored by the agent who took it"):
        quality.record_spot_check(
            db, actor=lead2, policy=policy, card="call", contact_id=own, marks=CALL
        )

    def reopen(session: object) -> None:
        from desk.models import Contact

        row = session.get(Contact, own)  # type: ignore[attr-defined]
        row.ended_at = None

    world.run(reopen)
    with pytest.raises(InvalidInput, match="still open"):
        quality.record_spot_check(
            db, actor=lead1, policy=policy, card="call", contact_id=own, marks=CALL
        )
    with pytest.raises(NotFound):
        quality.record_spot_check(
            db, actor=lead1, policy=policy, card="call", contact_id=999_999, marks=CALL
        )


def test_a_disabled_branch_and_a_missing_one_are_refused(
    db: Database, world: World, policy: Policy
) -> None:
    def disable(session: object) -> None:
        row = session.get(Branch, world.branch_id)  # type: ignore[attr-defined]
        row.active = False

    world.run(disable)
    lead = world.actor("lead1")
    with pytest.raises(InvalidInput, match="disabled"):
        quality.record_spot_check(
            db, actor=lead, policy=policy, card="branch", branch_id=world.branch_id, marks=BRANCH
        )
    with pytest.raises(NotFound):
        quality.record_spot_check(
            db, actor=lead, policy=policy, card="branch", branch_id=999_999, marks=BRANCH
        )
    assert quality.branches_to_check(db, actor=lead) == ()


def test_only_leads_score(db: Database, world: World, policy: Policy) -> None:
    for login in ("agent1", "complaint1", "handler1", "supervisor1", "admin1"):
        with pytest.raises(PermissionDenied):
            quality.record_spot_check(
                db,
                actor=world.actor(login),
                policy=policy,
                card="branch",
                branch_id=world.branch_id,
                marks=BRANCH,
            )


def test_checks_and_contacts_come_newest_first_a_page_at_a_time(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    lead = world.actor("lead1")
    contacts = [_contact(world, clock, minutes=60 - n) for n in range(5)]  # oldest first
    own = _contact(world, clock, agent="lead1", minutes=1)
    dropped = world.contact(None, at=clock.now() - timedelta(minutes=2), answered=False)
    first = quality.contacts_to_check(db, actor=lead, limit=3)
    assert [row.id for row in first.rows] == contacts[::-1][:3]  # the lead's own left out
    assert own not in [row.id for row in first.rows]
    assert dropped not in [row.id for row in first.rows]  # abandoned: no one to score
    with pytest.raises(InvalidInput, match="not taken by an agent"):
        quality.record_spot_check(
            db, actor=lead, policy=policy, card="call", contact_id=dropped, marks=CALL
        )
    assert (first.rows[0].customer, first.rows[0].agent) == ("王**", "李小红")
    assert first.rows[0].seconds == 5 * 60 - 10
    second = quality.contacts_to_check(db, actor=lead, after=first.next_cursor, limit=3)
    assert [row.id for row in second.rows] == contacts[::-1][3:]
    assert second.next_cursor is None
    for contact in contacts:
        clock.advance(timedelta(minutes=1))
        quality.record_spot_check(
            db, actor=lead, policy=policy, card="call", contact_id=contact, marks=CALL
        )
    quality.record_spot_check(
        db, actor=lead, policy=policy, card="branch", branch_id=world.branch_id, marks=BRANCH
    )
    page = quality.spot_checks(db, actor=lead, policy=policy, limit=4)
    assert [row.target for row in page.rows] == [SpotCheckTarget.BRANCH] + 3 * [
        SpotCheckTarget.CONTACT
    ]
    rest = quality.spot_checks(db, actor=lead, policy=policy, after=page.next_cursor, limit=4)
    assert [row.contact_id for row in rest.rows] == contacts[:2][::-1]
    assert rest.next_cursor is None
    only = quality.spot_checks(db, actor=lead, policy=policy, target=SpotCheckTarget.BRANCH)
    assert len(only.rows) == 1
    checked = quality.contacts_to_check(db, actor=lead, limit=10)
    assert {row.checks for row in checked.rows} == {1}
    with pytest.raises(InvalidInput, match="cursor"):
        quality.spot_checks(db, actor=lead, policy=policy, after="x|y")


def test_the_reports_count_the_checks_of_their_period(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    lead = world.actor("lead1")
    for agent, marks in (("agent1", CALL), ("agent1", {**CALL, "accuracy": 0}), ("agent2", CALL)):
        quality.record_spot_check(
            db,
            actor=lead,
            policy=policy,
            card="call",
            contact_id=_contact(world, clock, agent=agent),
            marks=marks,
        )
    quality.record_spot_check(
        db, actor=lead, policy=policy, card="branch", branch_id=world.branch_id, marks=BRANCH
    )
    today = clock.now().date()
    found = report(
        db,
        actor=world.actor("supervisor1"),
        policy=policy,
        kind=ReportKind.DAILY,
        first=today,
        last=today,
    )
    agents = found.section("quality_agents")
    # agent1: 88.00 and 68.00 (accuracy 0 loses 20 points) → 78.00, one passed of two
    assert agents.rows == (("张明", 1, 88.0, 1, 100.0), ("李小红", 2, 78.0, 1, 50.0))
    assert found.section("quality_branches").rows == (("北京分公司", 1, 45.0, 0, 0.0),)
    assert "passes at 80" in agents.note
    yesterday = report(
        db,
        actor=world.actor("supervisor1"),
        policy=policy,
        kind=ReportKind.DAILY,
        first=today - timedelta(days=1),
        last=today - timedelta(days=1),
    )
    assert yesterday.section("quality_agents").rows == ()
