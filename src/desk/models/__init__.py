"""SQLModel tables: the whole domain schema (docs/roles-and-workflows.md).

No queries, no sessions here.
"""

from sqlmodel import SQLModel

from desk.models.audit import AuditEntry
from desk.models.callbacks import Callback, CallbackAttempt
from desk.models.contacts import Contact, ContactRing, VerificationAttempt
from desk.models.customers import (
    Account,
    AccountAddOn,
    Bill,
    BillItem,
    Customer,
    CustomerPhone,
    Payment,
)
from desk.models.figures import AgentHour, ChurnSnapshot, ContactHour
from desk.models.handover import Handover
from desk.models.inbox import InboxMessage
from desk.models.knowledge import CannedReply, KnowledgeArticle, KnowledgeDoc
from desk.models.ladder import LadderStep
from desk.models.meta import ChangeCounter, JobLease, Meta
from desk.models.org import Branch, Department, Shift, ShiftNote, StaffUser
from desk.models.quality import SpotCheck, SpotCheckScore
from desk.models.work_orders import WorkOrder, WorkOrderBillItem, WorkOrderEvent

metadata = SQLModel.metadata

__all__ = [
    "Account",
    "AccountAddOn",
    "AgentHour",
    "AuditEntry",
    "Bill",
    "BillItem",
    "Branch",
    "Callback",
    "CallbackAttempt",
    "ChangeCounter",
    "CannedReply",
    "ChurnSnapshot",
    "Contact",
    "ContactRing",
    "ContactHour",
    "Customer",
    "CustomerPhone",
    "Department",
    "Handover",
    "InboxMessage",
    "JobLease",
    "KnowledgeArticle",
    "KnowledgeDoc",
    "LadderStep",
    "Meta",
    "Payment",
    "Shift",
    "ShiftNote",
    "SpotCheck",
    "SpotCheckScore",
    "StaffUser",
    "VerificationAttempt",
    "WorkOrder",
    "WorkOrderBillItem",
    "WorkOrderEvent",
    "metadata",
]
