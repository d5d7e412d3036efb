"""Customers, their phones and accounts, bills, itemized records and payments.

Money is stored in fen (分, integer cents). Search columns (``name_spaced``, ``name_pinyin``,
``name_initials``, ``id_card_rev``, ``phone_rev``) are derived from the source columns when a
row is written; they exist so every lookup of customer search has an index to use (see
docs/architecture.md, "Customer search").
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

_LOCKED = text("verification_locked_at IS NOT NULL")


class Customer(SQLModel, table=True):
    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_name_pinyin", "name_pinyin"),
        Index("ix_customer_name_initials", "name_initials"),
        Index("ix_customer_id_card_rev", "id_card_rev"),
        Index("ix_customer_last_activity", "last_activity_at"),
        Index("ix_customer_arrears", "arrears_cents"),
        # The leads' list of customers whose verification is locked, newest lock first.
        Index(
            "ix_customer_verification_locked",
            "verification_locked_at",
            "id",
            sqlite_where=_LOCKED,
            postgresql_where=_LOCKED,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_no: str = Field(max_length=20, unique=True)
    name: str = Field(max_length=64)
    name_spaced: str = Field(max_length=160)  # "张 三 丰": one token per character
    name_pinyin: str = Field(max_length=160)  # "zhangsanfeng"
    name_initials: str = Field(max_length=32)  # "zsf"
    id_card_no: str = Field(max_length=18)
    id_card_rev: str = Field(max_length=18)  # reversed, for suffix search by range
    service_password_hash: str | None = Field(default=None, max_length=255)
    tier: str = Field(default="standard", max_length=16)  # Tier
    is_member: bool = False
    big_customer_class: str | None = Field(default=None, max_length=4)  # BigCustomerClass
    account_manager_name: str | None = Field(default=None, max_length=64)
    account_manager_phone: str | None = Field(default=None, max_length=20)
    birthday: date | None = None
    address: str | None = Field(default=None, max_length=200)
    region: str = Field(max_length=64)
    branch_id: int | None = Field(default=None, foreign_key="branch.id", index=True)
    status: str = Field(default="active", max_length=16)  # CustomerStatus
    balance_cents: int = 0
    arrears_cents: int = 0
    arrears_since: date | None = None
    member_since: date | None = None
    last_activity_at: datetime | None = None  # last customer-driven activity
    verification_locked_at: datetime | None = None  # set by the 5th failure, lifted by a lead
    verification_lock_lifted_at: datetime | None = None  # failures before it no longer count
    created_at: datetime
    updated_at: datetime | None = None
    updated_by: int | None = Field(default=None, foreign_key="staff_user.id")
    version: int = 1  # guards concurrent saves of the customer's data


class CustomerPhone(SQLModel, table=True):
    __tablename__ = "customer_phone"
    __table_args__ = (Index("ix_customer_phone_rev", "phone_rev"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    phone: str = Field(max_length=20, unique=True)
    phone_rev: str = Field(max_length=20)  # reversed, for suffix search by range
    kind: str = Field(default="mobile", max_length=8)  # mobile | fixed
    is_primary: bool = True


class Account(SQLModel, table=True):
    """A billing account with its plan (套餐)."""

    __tablename__ = "account"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    account_no: str = Field(max_length=20, unique=True)
    plan_code: str = Field(max_length=16)
    plan_name: str = Field(max_length=64)
    monthly_fee_cents: int = 0
    status: str = Field(default="active", max_length=16)
    opened_on: date


class AccountAddOn(SQLModel, table=True):
    """An add-on (增值业务, 流量包) on an account, from ``added_at`` until ``removed_at``."""

    __tablename__ = "account_add_on"
    __table_args__ = (Index("ix_account_add_on_account", "account_id", "removed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    code: str = Field(max_length=16)
    name: str = Field(max_length=64)
    monthly_fee_cents: int = 0
    added_at: datetime
    added_by: int | None = Field(default=None, foreign_key="staff_user.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    removed_at: datetime | None = None


class Bill(SQLModel, table=True):
    """A monthly bill of an account."""

    __tablename__ = "bill"
    __table_args__ = (
        UniqueConstraint("account_id", "period", name="uq_bill_account_period"),
        Index("ix_bill_customer_period", "customer_id", "period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    customer_id: int = Field(foreign_key="customer.id")
    period: str = Field(max_length=7)  # YYYY-MM
    amount_cents: int
    paid_cents: int = 0
    due_date: date
    status: str = Field(default="unpaid", max_length=16)  # paid | partial | unpaid
    issued_at: datetime


class BillItem(SQLModel, table=True):
    """One itemized record (详单) of a bill."""

    __tablename__ = "bill_item"
    __table_args__ = (Index("ix_bill_item_bill_time", "bill_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    bill_id: int = Field(foreign_key="bill.id")
    occurred_at: datetime
    kind: str = Field(max_length=16)  # BillItemKind
    counterpart: str | None = Field(default=None, max_length=32)
    quantity: int = 0  # seconds, messages or KB, by kind
    amount_cents: int = 0
    description: str = Field(default="", max_length=120)


class Payment(SQLModel, table=True):
    __tablename__ = "payment"
    __table_args__ = (Index("ix_payment_customer_time", "customer_id", "paid_at"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    account_id: int | None = Field(default=None, foreign_key="account.id")
    paid_at: datetime
    amount_cents: int
    channel: str = Field(max_length=16)  # counter | app | bank | card
