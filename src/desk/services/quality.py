"""Quality spot checks (暗访/抽查): a lead scores a finished contact, or a branch office, on a
score card of the policy (``[quality.cards.*]``); the results feed the reports.

A check stores the card's key, each item's mark and weight as they were, the total (in
hundredths of a point, :mod:`desk.rules.quality`) and whether it passed, and is written to the
audit log in the same transaction. A contact is checked once per card, and never by the agent
who took it. The checks are listed newest first, keyset-paged; the contacts a lead may pick
from are the finished ones, newest first, each saying whether it was checked already.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, insert, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from desk.clock import as_utc
from desk.infra.database import now_of, reads, writes
from desk.infra.errors import InvalidInput, NotFound
from desk.models import Branch, Contact, Customer, SpotCheck, SpotCheckScore, StaffUser, metadata
from desk.rules.masking import mask_name
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy, ScoreCard
from desk.rules.quality import MarksRefused, pass_rate, score
from desk.rules.vocab import SpotCheckTarget
from desk.services import audit
from desk.services.access import require
from desk.services.work_orders import clean_text, staff_names

if TYPE_CHECKING:
    from desk.rules.periods import Period
    from desk.services.reports import Section

REMARK_MAX = 2000
PAGE_MAX = 200
_CHECK = metadata.tables["spot_check"]
_CONTACT = metadata.tables["contact"]


# --- read models ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemMark:
    item: str
    name: str  # in Chinese, as the card says
    name_en: str
    mark: int
    weight: int


@dataclass(frozen=True, slots=True)
class SpotCheckView:
    id: int
    at: datetime
    checker: str
    target: SpotCheckTarget
    card: str
    card_name: str  # Chinese
    card_name_en: str
    subject: str  # the branch's name, or "#<contact id>"
    contact_id: int | None
    agent: str | None  # the checked contact's agent
    branch_id: int | None
    score: float  # 0 … 100, two decimals
    passed: bool
    remark: str
    items: tuple[ItemMark, ...]


@dataclass(frozen=True, slots=True)
class SpotCheckPage:
    rows: tuple[SpotCheckView, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ContactToCheck:
    id: int
    offered_at: datetime
    channel: str
    request_type: str | None
    agent: str | None
    customer: str | None  # masked
    seconds: int | None  # answered to ended
    outcome: str | None
    checks: int  # checks made of it already


@dataclass(frozen=True, slots=True)
class ContactPage:
    rows: tuple[ContactToCheck, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class BranchToCheck:
    id: int
    code: str
    name: str
    region: str
    checks: int
    last_at: datetime | None
    last_score: float | None


# --- cursors ---------------------------------------------------------------------------------


def _cursor(at: datetime, identifier: int) -> str:
    return f"{as_utc(at).isoformat()}|{identifier}"


def _decode(text: str, what: str) -> tuple[datetime, int]:
    try:
        at, identifier = text.rsplit("|", 1)
        return as_utc(datetime.fromisoformat(at)), int(identifier)
    except (ValueError, TypeError):
        raise InvalidInput(f"not a cursor of the {what}", field="cursor") from None


def _limit(limit: int) -> None:
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput(f"between 1 and {PAGE_MAX}", field="limit")


def _newest_first(table: Any, at: Any, after: str | None, what: str) -> list[Any]:
    """The keyset condition for a page after ``after``, newest first."""
    if after is None:
        return []
    instant, identifier = _decode(after, what)
    return [or_(at < instant, and_(at == instant, table.c.id < identifier))]


# --- scoring ---------------------------------------------------------------------------------


def _card(policy: Policy, key: str, target: SpotCheckTarget) -> ScoreCard:
    card = policy.quality.cards.get(key)
    if card is None:
        known = ", ".join(sorted(policy.quality.cards))
        raise InvalidInput(f"no score card {key!r} in the policy (cards: {known})", field="card")
    if card.target is not target:
        raise InvalidInput(
            f"card {key!r} scores a {card.target.value}, not a {target}", field="card"
        )
    return card


def _view(
    session: Session, check: SpotCheck, policy: Policy, names: Mapping[int, str]
) -> SpotCheckView:
    assert check.id is not None
    card = policy.quality.cards.get(check.card)
    labels = {item.key: (item.name, item.name_en) for item in card.items} if card else {}
    scores = session.exec(
        select(SpotCheckScore).where(col(SpotCheckScore.spot_check_id) == check.id)
    ).all()
    order = [item.key for item in card.items] if card else []
    scores = sorted(
        scores, key=lambda s: (order.index(s.item) if s.item in order else len(order), s.item)
    )
    if check.branch_id is not None:
        branch = session.get(Branch, check.branch_id)
        subject = branch.name if branch else f"#{check.branch_id}"
    else:
        subject = f"#{check.contact_id}"
    return SpotCheckView(
        id=check.id,
        at=as_utc(check.at),
        checker=names.get(check.checker_id, "?"),
        target=SpotCheckTarget(check.target),
        card=check.card,
        card_name=card.name if card else check.card,
        card_name_en=card.name_en if card else check.card,
        subject=subject,
        contact_id=check.contact_id,
        agent=names.get(check.agent_id) if check.agent_id else None,
        branch_id=check.branch_id,
        score=check.total_hundredths / 100,
        passed=check.passed,
        remark=check.remark,
        items=tuple(
            ItemMark(
                item=s.item,
                name=labels.get(s.item, (s.item, s.item))[0],
                name_en=labels.get(s.item, (s.item, s.item))[1],
                mark=s.mark,
                weight=s.weight,
            )
            for s in scores
        ),
    )


def _names_of(session: Session, checks: list[SpotCheck]) -> dict[int, str]:
    ids = {c.checker_id for c in checks} | {c.agent_id for c in checks if c.agent_id}
    return staff_names(session, ids)


@writes
def record_spot_check(
    session: Session,
    *,
    actor: Actor,
    policy: Policy,
    card: str,
    marks: Mapping[str, int],
    contact_id: int | None = None,
    branch_id: int | None = None,
    remark: str = "",
) -> SpotCheckView:
    """Score a finished contact (``contact_id``) or a branch office (``branch_id``) on the
    policy's score card ``card``: every item marked 0..scale. Audited."""
    require(session, actor, Permission.SPOT_CHECK)
    if (contact_id is None) == (branch_id is None):
        raise InvalidInput("score one contact or one branch office", field="target")
    target = SpotCheckTarget.CONTACT if contact_id is not None else SpotCheckTarget.BRANCH
    found_card = _card(policy, card, target)
    try:
        result = score(found_card, marks, policy.quality)
    except MarksRefused as refused:
        raise InvalidInput(str(refused), field="marks") from None
    said = clean_text(remark or "", name="remark", limit=REMARK_MAX, required=False)
    agent_id: int | None = None
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound(f"no contact {contact_id}")
        if contact.ended_at is None:
            raise InvalidInput(f"contact {contact_id} is still open", field="contact")
        if contact.agent_id is None:
            raise InvalidInput(f"contact {contact_id} was not taken by an agent", field="contact")
        if contact.agent_id == actor.user_id:
            raise InvalidInput("a contact is not scored by the agent who took it", field="contact")
        earlier = session.exec(
            select(SpotCheck).where(
                col(SpotCheck.contact_id) == contact_id, col(SpotCheck.card) == card
            )
        ).first()
        if earlier is not None:
            who = staff_names(session, {earlier.checker_id}).get(earlier.checker_id, "?")
            raise InvalidInput(
                f"contact {contact_id} was scored on this card already by {who} "
                f"at {as_utc(earlier.at).isoformat(timespec='minutes')}",
                field="contact",
            )
        agent_id = contact.agent_id
    else:
        branch = session.get(Branch, branch_id)
        if branch is None:
            raise NotFound(f"no branch office {branch_id}")
        if not branch.active:
            raise InvalidInput(f"branch office {branch.code} is disabled", field="branch")
    now = now_of(session)
    check = SpotCheck(
        at=now,
        checker_id=actor.user_id,
        target=target.value,
        card=card,
        contact_id=contact_id,
        agent_id=agent_id,
        branch_id=branch_id,
        total_hundredths=result.hundredths,
        passed=result.passed,
        remark=said,
    )
    session.add(check)
    session.flush()
    assert check.id is not None
    session.execute(
        insert(SpotCheckScore),
        [
            {
                "spot_check_id": check.id,
                "item": item.key,
                "mark": marks[item.key],
                "weight": item.weight,
            }
            for item in found_card.items
        ],
    )
    audit.record(
        session,
        action="spot_check.record",
        actor=actor,
        target_type="contact" if contact_id is not None else "branch",
        target_id=contact_id if contact_id is not None else branch_id,
        detail={
            "spot_check": check.id,
            "card": card,
            "score": result.points,
            "passed": result.passed,
        },
    )
    return _view(session, check, policy, _names_of(session, [check]))


@reads
def spot_checks(
    session: Session,
    *,
    actor: Actor,
    policy: Policy,
    target: SpotCheckTarget | None = None,
    after: str | None = None,
    limit: int = 50,
) -> SpotCheckPage:
    """The checks made, newest first (of one kind of target, or all), a page at a time."""
    require(session, actor, Permission.SPOT_CHECK)
    _limit(limit)
    query = core_select(_CHECK.c.id, _CHECK.c.at).where(
        *_newest_first(_CHECK, _CHECK.c.at, after, "spot checks")
    )
    if target is not None:
        query = query.where(_CHECK.c.target == SpotCheckTarget(target).value)
    raw = list(
        session.connection().execute(
            query.order_by(_CHECK.c.at.desc(), _CHECK.c.id.desc()).limit(limit + 1)
        )
    )
    more = len(raw) > limit
    raw = raw[:limit]
    found = {
        c.id: c
        for c in session.exec(select(SpotCheck).where(col(SpotCheck.id).in_([r.id for r in raw])))
    }
    checks = [found[r.id] for r in raw]
    names = _names_of(session, checks)
    rows = tuple(_view(session, check, policy, names) for check in checks)
    return SpotCheckPage(rows, _cursor(raw[-1].at, raw[-1].id) if more else None)


@reads
def contacts_to_check(
    session: Session, *, actor: Actor, after: str | None = None, limit: int = 50
) -> ContactPage:
    """The finished contacts an agent took, newest first, a page at a time, each with its
    checks so far (the lead's own contacts are left out: nobody scores themself)."""
    require(session, actor, Permission.SPOT_CHECK)
    _limit(limit)
    c = _CONTACT.c
    checks = (
        core_select(func.count())
        .where(_CHECK.c.contact_id == c.id)
        .correlate(_CONTACT)
        .scalar_subquery()
    )
    query = (
        core_select(
            c.id,
            c.offered_at,
            c.answered_at,
            c.ended_at,
            c.channel,
            c.request_type,
            c.agent_id,
            c.customer_id,
            c.outcome,
            checks.label("checks"),
        )
        .where(
            c.ended_at.is_not(None),
            c.agent_id.is_not(None),  # answered by an agent: an abandoned call has no one to score
            c.agent_id != actor.user_id,
            *_newest_first(_CONTACT, c.offered_at, after, "contacts"),
        )
        .order_by(c.offered_at.desc(), c.id.desc())
        .limit(limit + 1)
    )
    raw = list(session.connection().execute(query))
    more = len(raw) > limit
    raw = raw[:limit]
    names = staff_names(session, {r.agent_id for r in raw if r.agent_id})
    customer_ids = sorted({r.customer_id for r in raw if r.customer_id})
    customers = (
        {
            row[0]: row[1]
            for row in session.exec(
                select(Customer.id, Customer.name).where(col(Customer.id).in_(customer_ids))
            )
        }
        if customer_ids
        else {}
    )
    rows = tuple(
        ContactToCheck(
            id=r.id,
            offered_at=as_utc(r.offered_at),
            channel=r.channel,
            request_type=r.request_type,
            agent=names.get(r.agent_id) if r.agent_id else None,
            customer=mask_name(customers[r.customer_id]) if r.customer_id in customers else None,
            seconds=(
                int((as_utc(r.ended_at) - as_utc(r.answered_at)).total_seconds())
                if r.answered_at and r.ended_at
                else None
            ),
            outcome=r.outcome,
            checks=int(r.checks),
        )
        for r in raw
    )
    return ContactPage(rows, _cursor(raw[-1].offered_at, raw[-1].id) if more else None)


@reads
def branches_to_check(session: Session, *, actor: Actor) -> tuple[BranchToCheck, ...]:
    """The active branch offices, each with its checks so far and the last one's score."""
    require(session, actor, Permission.SPOT_CHECK)
    branch = Branch.__table__.c  # type: ignore[attr-defined]
    last = (
        core_select(_CHECK.c.id)
        .where(_CHECK.c.branch_id == branch.id)
        .order_by(_CHECK.c.at.desc(), _CHECK.c.id.desc())
        .limit(1)
        .correlate(Branch.__table__)  # type: ignore[attr-defined]
        .scalar_subquery()
    )
    counted = (
        core_select(func.count())
        .where(_CHECK.c.branch_id == branch.id)
        .correlate(Branch.__table__)  # type: ignore[attr-defined]
        .scalar_subquery()
    )
    rows = session.connection().execute(
        core_select(
            branch.id,
            branch.code,
            branch.name,
            branch.region,
            counted.label("checks"),
            _CHECK.c.at,
            _CHECK.c.total_hundredths,
        )
        .outerjoin(_CHECK, _CHECK.c.id == last)
        .where(branch.active.is_(True))
        .order_by(branch.code)
    )
    return tuple(
        BranchToCheck(
            id=r.id,
            code=r.code,
            name=r.name,
            region=r.region,
            checks=int(r.checks),
            last_at=as_utc(r.at) if r.at else None,
            last_score=r.total_hundredths / 100 if r.total_hundredths is not None else None,
        )
        for r in rows
    )


# --- the reports' sections -----------------------------------------------------------------


def quality_sections(session: Session, *, period: Period, policy: Policy) -> tuple[Section, ...]:
    """Spot checks made in the period: per agent (contacts) and per branch office — checks,
    average score and the pass rate against the policy's pass score. For ``desk report``."""
    from desk.services.reports import Column, ColumnKind, Section

    within = and_(_CHECK.c.at >= period.start, _CHECK.c.at < period.end)
    passed = func.sum(case((_CHECK.c.passed.is_(True), 1), else_=0))

    staff = StaffUser.__table__  # type: ignore[attr-defined]
    branch = Branch.__table__  # type: ignore[attr-defined]
    columns = (
        Column("checks", "Checks", ColumnKind.INTEGER),
        Column("average", "Average score", ColumnKind.NUMBER),
        Column("passed", "Passed", ColumnKind.INTEGER),
        Column("pass_rate", "Pass rate %", ColumnKind.PERCENT),
    )

    def rows_of(name: Any, join: Any, target: SpotCheckTarget) -> tuple[tuple[Any, ...], ...]:
        found = session.connection().execute(
            core_select(
                func.coalesce(name, "(none)").label("name"),
                func.count().label("checks"),
                func.avg(_CHECK.c.total_hundredths).label("average"),
                passed.label("passed"),
            )
            .select_from(join)
            .where(within, _CHECK.c.target == target.value)
            .group_by(name)
            .order_by(name)
        )
        result = []
        for row in found:
            checks, ok = int(row.checks), int(row.passed or 0)
            share = pass_rate(ok, checks)
            result.append(
                (
                    row.name,
                    checks,
                    round(float(row.average) / 100, 2),
                    ok,
                    None if share is None else round(share, 2),
                )
            )
        return tuple(result)

    note = (
        f"Items marked 0–{policy.quality.scale}, weighted to a score out of 100; "
        f"a check passes at {policy.quality.pass_score:g} or more."
    )
    return (
        Section(
            "quality_agents",
            "Quality spot checks of contacts, per agent (抽查)",
            (Column("agent", "Agent"), *columns),
            rows_of(
                staff.c.display_name,
                _CHECK.outerjoin(staff, staff.c.id == _CHECK.c.agent_id),
                SpotCheckTarget.CONTACT,
            ),
            note=note,
        ),
        Section(
            "quality_branches",
            "Quality spot checks of branch offices (暗访)",
            (Column("branch", "Branch"), *columns),
            rows_of(
                branch.c.name,
                _CHECK.outerjoin(branch, branch.c.id == _CHECK.c.branch_id),
                SpotCheckTarget.BRANCH,
            ),
            note=note,
        ),
    )
