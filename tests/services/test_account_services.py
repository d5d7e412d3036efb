"""Bills and account data for verified callers only, audited; service requests that change
the account for real or are refused with the reason on the contact. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, StaleRecord
from desk.models import Account, AccountAddOn, AuditEntry, Contact, Customer
from desk.rules.policy import load_policy
from desk.rules.vocab import RefusalReason, VerifyReason
from desk.services import bills, contacts, service_requests, verification
from desk.services.secrets import verify_secret
from desk.services.service_requests import AddressChange
from desk.services.verification import GateRefused
from tests.workspace_world import LI_PHONE, SERVICE_PASSWORD, ZHANG_PHONE, World, build_world

POLICY = load_policy()


@pytest.fixture
def world(db: Database, clock: FixedClock) -> World:
    return build_world(db, clock.now())


def _verified(db: Database, world: World, number: str = ZHANG_PHONE) -> int:
    contact_id = contacts.start_contact(db, actor=world.agent, number=number).id
    result = verification.check_service_password(
        db, actor=world.agent, contact_id=contact_id, password=SERVICE_PASSWORD, policy=POLICY
    )
    assert result.passed
    return contact_id


def _audit(db: Database, action: str) -> list[AuditEntry]:
    return list(
        db.run(
            lambda s: s.exec(
                select(AuditEntry)
                .where(col(AuditEntry.action) == action)
                .order_by(col(AuditEntry.id))
            ).all(),
            write=False,
        )
    )


def test_account_data_is_refused_to_an_unverified_caller(db: Database, world: World) -> None:
    contact_id = contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE).id
    for call in (
        lambda: bills.account_overview(db, actor=world.agent, contact_id=contact_id, policy=POLICY),
        lambda: bills.bill_inquiry(db, actor=world.agent, contact_id=contact_id, policy=POLICY),
        lambda: bills.payments(db, actor=world.agent, contact_id=contact_id, policy=POLICY),
        lambda: bills.bill_items(
            db,
            actor=world.agent,
            contact_id=contact_id,
            bill_id=world.current_bill,
            policy=POLICY,
        ),
    ):
        with pytest.raises(GateRefused) as raised:
            call()
        assert raised.value.decision.verify_reason is VerifyReason.NOT_VERIFIED
        assert raised.value.decision.failures_left == 5
    assert _audit(db, "account.view") == []


def test_a_verified_caller_hears_balance_bills_and_payments_and_each_view_is_audited(
    db: Database, world: World
) -> None:
    contact_id = _verified(db, world)
    overview = bills.account_overview(db, actor=world.agent, contact_id=contact_id, policy=POLICY)
    assert overview.balance_cents == 1_200
    assert [line.plan_code for line in overview.accounts] == ["P5G58"]
    inquiry = bills.bill_inquiry(db, actor=world.agent, contact_id=contact_id, policy=POLICY)
    assert inquiry.current_period == "2026-11"
    assert [line.amount_cents for line in inquiry.current] == [6_000]
    assert inquiry.history is not None
    assert [line.period for line in inquiry.history] == ["2026-10"]  # 2025-09 is too old
    paid = bills.payments(db, actor=world.agent, contact_id=contact_id, policy=POLICY)
    assert [line.amount_cents for line in paid] == [5_850, 5_800]
    views = _audit(db, "account.view")
    assert [entry.detail["what"] for entry in views] == ["balance", "bills", "payments"]
    assert {entry.target_id for entry in views} == {str(world.zhang)}


def test_itemized_records_come_by_keyset_pages_with_masked_numbers(
    db: Database, world: World
) -> None:
    contact_id = _verified(db, world)
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = bills.bill_items(
            db,
            actor=world.agent,
            contact_id=contact_id,
            bill_id=world.current_bill,
            policy=POLICY,
            after=cursor,
            limit=3,
        )
        pages += 1
        assert page.number == pages
        seen.extend(item.id for item in page.items)
        for item in page.items:
            assert item.counterpart_masked in (None, "135****5678")
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(world.items)
    assert pages == 3
    assert len(_audit(db, "account.view")) == 3
    with pytest.raises(InvalidInput, match="cursor"):
        bills.bill_items(
            db,
            actor=world.agent,
            contact_id=contact_id,
            bill_id=world.current_bill,
            policy=POLICY,
            after="bogus",
        )


def test_another_customers_bill_is_not_found(db: Database, world: World) -> None:
    contact_id = _verified(db, world, LI_PHONE)
    with pytest.raises(Exception, match="no bill"):
        bills.bill_items(
            db,
            actor=world.agent,
            contact_id=contact_id,
            bill_id=world.current_bill,
            policy=POLICY,
        )


def test_a_plan_change_changes_the_account_and_is_audited(db: Database, world: World) -> None:
    contact_id = _verified(db, world)
    result = service_requests.change_plan(
        db,
        actor=world.agent,
        contact_id=contact_id,
        account_id=world.zhang_account,
        plan_code="P5G128",
        policy=POLICY,
    )
    assert result.done
    account = db.run(lambda s: s.get(Account, world.zhang_account), write=False)
    assert account is not None
    assert (account.plan_code, account.monthly_fee_cents) == ("P5G128", 12_800)
    (entry,) = _audit(db, "service_request.plan_change")
    assert entry.detail["from"] == "P5G58"
    with pytest.raises(InvalidInput, match="no plan"):
        service_requests.change_plan(
            db,
            actor=world.agent,
            contact_id=contact_id,
            account_id=world.zhang_account,
            plan_code="NOPE",
            policy=POLICY,
        )


def test_add_on_suspend_resume_and_password_reset(db: Database, world: World) -> None:
    contact_id = _verified(db, world)
    common = {"actor": world.agent, "contact_id": contact_id, "policy": POLICY}
    assert service_requests.add_add_on(
        db, account_id=world.zhang_account, code="DATA10G", **common
    ).done
    with pytest.raises(InvalidInput, match="already"):
        service_requests.add_add_on(db, account_id=world.zhang_account, code="DATA10G", **common)
    assert service_requests.suspend_account(db, account_id=world.zhang_account, **common).done
    with pytest.raises(InvalidInput, match="suspended"):
        service_requests.add_add_on(db, account_id=world.zhang_account, code="CRBT", **common)
    assert service_requests.resume_account(db, account_id=world.zhang_account, **common).done
    with pytest.raises(InvalidInput, match="run of digits"):
        service_requests.reset_service_password(
            db, new_password="123456", confirm="123456", **common
        )
    with pytest.raises(InvalidInput) as raised:
        service_requests.reset_service_password(
            db, new_password="480273", confirm="480274", **common
        )
    assert raised.value.field == "confirm"
    assert service_requests.reset_service_password(
        db, new_password="480273", confirm="480273", **common
    ).done
    customer = db.run(lambda s: s.get(Customer, world.zhang), write=False)
    assert customer is not None
    assert verify_secret(customer.service_password_hash, "480273")
    add_ons = db.run(lambda s: s.exec(select(AccountAddOn)).all(), write=False)
    assert [a.code for a in add_ons] == ["DATA10G"]
    for action in ("add_on", "suspend", "resume", "password_reset"):
        (entry,) = _audit(db, f"service_request.{action}")
        assert "480273" not in str(entry.detail)


def test_a_caller_in_arrears_is_refused_with_the_reason_on_the_contact(
    db: Database, world: World
) -> None:
    contact_id = _verified(db, world, LI_PHONE)
    result = service_requests.change_plan(
        db,
        actor=world.agent,
        contact_id=contact_id,
        account_id=world.li_account,
        plan_code="P5G128",
        policy=POLICY,
    )
    assert not result.done
    assert result.refusal is RefusalReason.ARREARS
    assert result.amount_owed_cents == 8_800
    assert result.owed_since is not None
    assert result.owed_since.isoformat() == "2026-09-20"
    contact = db.run(lambda s: s.get(Contact, contact_id), write=False)
    assert contact is not None
    assert contact.refusal_reason == "arrears"
    assert contact.version == result.contact_version
    account = db.run(lambda s: s.get(Account, world.li_account), write=False)
    assert account is not None
    assert account.plan_code == "P5G58"


def test_an_unverified_service_request_is_refused_and_nothing_changes(
    db: Database, world: World
) -> None:
    contact_id = contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE).id
    result = service_requests.suspend_account(
        db, actor=world.agent, contact_id=contact_id, account_id=world.zhang_account, policy=POLICY
    )
    assert not result.done
    assert result.decision.verify_reason is VerifyReason.NOT_VERIFIED
    account = db.run(lambda s: s.get(Account, world.zhang_account), write=False)
    assert account is not None
    assert account.status == "active"


def test_two_agents_changing_the_same_customer_the_second_is_told_who_and_when(
    db: Database, world: World
) -> None:
    first = _verified(db, world)
    contact2 = contacts.start_contact(db, actor=world.agent2, number=ZHANG_PHONE).id
    assert verification.check_service_password(
        db, actor=world.agent2, contact_id=contact2, password=SERVICE_PASSWORD, policy=POLICY
    ).passed
    service_requests.change_address(
        db,
        actor=world.agent,
        contact_id=first,
        version=1,
        change=AddressChange(address="北京市朝阳区建国路88号"),
        policy=POLICY,
    )
    with pytest.raises(StaleRecord, match="changed by AGENT1 at"):
        service_requests.change_address(
            db,
            actor=world.agent2,
            contact_id=contact2,
            version=1,
            change=AddressChange(address="北京市海淀区中关村大街1号"),
            policy=POLICY,
        )
    customer = db.run(lambda s: s.get(Customer, world.zhang), write=False)
    assert customer is not None
    assert (customer.address, customer.version) == ("北京市朝阳区建国路88号", 2)
