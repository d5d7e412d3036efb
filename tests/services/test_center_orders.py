"""The center's own work orders (consultations, suggestions about the center): they are with
the center's department, which has no back-office handlers, so the shift leads answer them as
that department; nobody else may, and a lead still may not answer another department's."""

from __future__ import annotations

import pytest

from desk.infra.database import Database
from desk.rules.vocab import Channel, Priority, RequestType, WorkOrderSource, WorkOrderStatus
from desk.rules.work_orders import Action
from desk.services import work_order_actions as woa
from desk.services.work_orders import WorkOrderDraft, create_work_order, work_order_detail
from tests.floor_world import POLICY, Floor, build_floor


def dispatched(db: Database, floor: Floor, category: RequestType, department: int) -> int:
    view = create_work_order(
        db,
        actor=floor.actor("agent1"),
        draft=WorkOrderDraft(
            customer_id=floor.customers[0],
            contact_id=None,
            category=category,
            topic=None,
            title="套餐资费咨询",
            description="客户想了解 5G 套餐的资费,坐席未能当场答复",
            priority=Priority.NORMAL,
            department_id=department,
            callback_number=None,
            channel=Channel.PHONE,
            source=WorkOrderSource.AGENT,
            consent=True,
        ),
        policy=POLICY,
    )
    woa.dispatch_work_order(
        db,
        actor=floor.actor("lead1"),
        work_order_id=view.id,
        version=view.version,
        department_id=department,
        note=None,
        policy=POLICY,
    )
    return view.id


def version(db: Database, floor: Floor, work_order_id: int) -> int:
    lead = floor.actor("lead1")
    return work_order_detail(
        db, actor=lead, work_order_id=work_order_id, policy=POLICY
    ).order.version


def reply(db: Database, floor: Floor, login: str, work_order_id: int) -> object:
    return woa.reply_work_order(
        db,
        actor=floor.actor(login),
        work_order_id=work_order_id,
        version=version(db, floor, work_order_id),
        reply="已电话告知客户 5G 畅享 128 元档的资费与流量",
        policy=POLICY,
    )


def test_a_lead_answers_the_centers_consultation_and_another_lead_reviews_it(
    db: Database,
) -> None:
    floor = build_floor(db)
    order = dispatched(db, floor, RequestType.CONSULTATION, floor.center)
    detail = work_order_detail(db, actor=floor.actor("lead2"), work_order_id=order, policy=POLICY)
    assert detail.center_owned
    assert Action.REPLY in detail.allowed
    reply(db, floor, "lead2", order)
    woa.accept_reply(
        db,
        actor=floor.actor("lead1"),
        work_order_id=order,
        version=version(db, floor, order),
        note=None,
        policy=POLICY,
    )
    after = work_order_detail(db, actor=floor.actor("lead1"), work_order_id=order, policy=POLICY)
    assert after.order.status is WorkOrderStatus.CALLBACK
    replied = [event for event in after.events if event.to_status is WorkOrderStatus.REPLIED]
    assert [event.actor_name for event in replied] == ["陈班长"]


@pytest.mark.parametrize("login", ["handler1", "complaint1", "agent1", "supervisor1"])
def test_nobody_else_answers_for_the_center(db: Database, login: str) -> None:
    floor = build_floor(db)
    order = dispatched(db, floor, RequestType.CONSULTATION, floor.center)
    with pytest.raises(woa.PermissionDenied):
        reply(db, floor, login, order)
    state = work_order_detail(db, actor=floor.actor("lead1"), work_order_id=order, policy=POLICY)
    assert state.order.status is WorkOrderStatus.DISPATCHED


def test_a_lead_does_not_answer_for_another_department(db: Database) -> None:
    floor = build_floor(db)
    order = dispatched(db, floor, RequestType.BILL_INQUIRY, floor.billing)
    detail = work_order_detail(db, actor=floor.actor("lead1"), work_order_id=order, policy=POLICY)
    assert not detail.center_owned
    assert Action.REPLY not in detail.allowed
    with pytest.raises(woa.ActionDenied, match="not with your department"):
        reply(db, floor, "lead1", order)
    reply(db, floor, "handler1", order)  # billing's own handler does
