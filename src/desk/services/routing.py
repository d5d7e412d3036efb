"""The department and priority proposed for a new work order, resolved to a department.

The rule is :func:`desk.rules.routing.propose` (a department *kind* and a priority from the
policy's ``[routing]``); this module picks the department of that kind: for ``branch``, the
customer's own branch office's department when there is one, else the first active
department of the kind by code. The work-order form shows the proposal and every active
department, so the agent can change it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from desk.infra.database import reads
from desk.models import Customer, Department
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.routing import propose
from desk.rules.vocab import Channel, DepartmentKind, Priority, RequestType, Tier
from desk.services.access import require


@dataclass(frozen=True, slots=True)
class DepartmentOption:
    id: int
    code: str
    name: str
    kind: DepartmentKind


@dataclass(frozen=True, slots=True)
class RoutingChoice:
    priority: Priority
    department_kind: DepartmentKind
    department_id: int | None  # None: no active department of that kind
    urgent_because: tuple[str, ...]
    to_shift_leads: bool
    departments: tuple[DepartmentOption, ...]  # every active department, by code


@reads
def propose_routing(
    session: Session,
    *,
    actor: Actor,
    category: RequestType,
    policy: Policy,
    topic: str | None = None,
    channel: Channel = Channel.PHONE,
    customer_id: int | None = None,
) -> RoutingChoice:
    require(session, actor, Permission.CREATE_WORK_ORDER)
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    proposal = propose(
        RequestType(category),
        policy,
        topic=topic,
        channel=Channel(channel),
        tier=Tier(customer.tier) if customer else None,
        big_customer_class=customer.big_customer_class if customer else None,
    )
    rows = session.exec(
        select(Department).where(col(Department.active)).order_by(col(Department.code))
    ).all()
    options = tuple(
        DepartmentOption(row.id or 0, row.code, row.name, DepartmentKind(row.kind)) for row in rows
    )
    kind = proposal.department_kind
    chosen: DepartmentOption | None = None
    if kind is DepartmentKind.BRANCH and customer is not None and customer.branch_id is not None:
        branch = customer.branch_id
        own = [row for row in rows if row.kind == kind.value and row.branch_id == branch]
        if own:
            chosen = next(option for option in options if option.id == own[0].id)
    if chosen is None:
        chosen = next((option for option in options if option.kind is kind), None)
    return RoutingChoice(
        priority=proposal.priority,
        department_kind=kind,
        department_id=chosen.id if chosen else None,
        urgent_because=proposal.urgent_because,
        to_shift_leads=proposal.to_shift_leads,
        departments=options,
    )
