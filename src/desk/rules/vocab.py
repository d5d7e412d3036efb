"""The words of the domain, shared by every layer (values stored as these strings)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    LEAD = "lead"
    COMPLAINT_LEAD = "complaint_lead"
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Channel(StrEnum):
    PHONE = "phone"
    VIP_LINE = "vip_line"
    CHAT = "chat"
    WECHAT = "wechat"
    QQ = "qq"
    WEB_MESSAGE = "web_message"
    EMAIL = "email"
    SMS = "sms"
    WALK_IN = "walk_in"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class RequestType(StrEnum):
    """业务类型."""

    CONSULTATION = "consultation"  # 咨询
    BILL_INQUIRY = "bill_inquiry"  # 话费查询
    FAULT_REPORT = "fault_report"  # 故障申告
    COMPLAINT = "complaint"  # 投诉
    SERVICE_REQUEST = "service_request"  # 业务受理
    SUGGESTION = "suggestion"  # 建议


class ContactOutcome(StrEnum):
    SETTLED = "settled"
    WORK_ORDER = "work_order"
    REFUSED = "refused"
    TRANSFERRED = "transferred"
    DROPPED = "dropped"
    ABANDONED = "abandoned"  # offered, never answered


class VerificationMethod(StrEnum):
    NONE = "none"
    SERVICE_PASSWORD = "service_password"
    PERSONAL_DATA = "personal_data"


class WorkOrderStatus(StrEnum):
    NEW = "new"
    DISPATCHED = "dispatched"
    REPLIED = "replied"
    CALLBACK = "callback"
    CLOSED = "closed"
    REOPENED = "reopened"


class WaitingReason(StrEnum):
    """A work order waiting on the customer: its clocks are paused."""

    CUSTOMER_UNREACHABLE = "customer_unreachable"
    WAITING_FOR_CUSTOMER = "waiting_for_customer"


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class WorkOrderSource(StrEnum):
    AGENT = "agent"
    WEB_FORM = "web_form"
    VOICE_MESSAGE = "voice_message"
    REGULATOR = "regulator"  # 通信管理局
    MEDIA = "media"
    MESSAGE = "message"  # a WeChat, QQ or e-mail message (客户留言)


class MajorSource(StrEnum):
    REGULATOR = "regulator"
    MEDIA = "media"
    REPEAT_COMPLAINER = "repeat_complainer"


class ClockKind(StrEnum):
    DISPATCH = "dispatch"
    REPLY = "reply"
    RESOLUTION = "resolution"
    CALLBACK = "callback"
    HQ_REPLY = "hq_reply"  # headquarters' answer to an escalated complaint


class EventKind(StrEnum):
    """What can happen to a work order; each is one row of its history."""

    CREATED = "created"
    DISPATCHED = "dispatched"
    REPLIED = "replied"
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # the lead returns a reply: a re-dispatch
    CALLBACK_ATTEMPT = "callback_attempt"
    CLOSED = "closed"
    REOPENED = "reopened"
    PAUSED = "paused"
    RESUMED = "resumed"
    NOTE = "note"
    WARNING = "warning"
    BREACH = "breach"
    REMINDER = "reminder"  # 督促
    ESCALATION_PROPOSED = "escalation_proposed"
    ESCALATION_CONFIRMED = "escalation_confirmed"
    MAJOR_FLAGGED = "major_flagged"
    LINKED = "linked"  # joined to a mass-fault parent (or unlinked from it)


class InboxChannel(StrEnum):
    """How a message left outside a call arrived (客户留言, 网上工单)."""

    WEB = "web"  # a web form
    VOICEMAIL = "voicemail"
    WECHAT = "wechat"
    QQ = "qq"
    EMAIL = "email"


class InboxStatus(StrEnum):
    """Where a message stands: waiting for a lead, or handled one of three ways."""

    NEW = "new"
    CONVERTED = "converted"  # turned into a work order
    ANSWERED = "answered"  # answered with a recorded reply
    DISCARDED = "discarded"  # spam, a duplicate, nothing to do (with a reason)


class Tier(StrEnum):
    STANDARD = "standard"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"
    DIAMOND = "diamond"


class BigCustomerClass(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class CallbackKind(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    VISIT = "visit"


class CallbackPurpose(StrEnum):
    ROUTINE = "routine"
    SURVEY = "survey"
    SATISFACTION = "satisfaction"
    GREETING = "greeting"
    WIN_BACK = "win_back"
    APOLOGY = "apology"


class CallbackStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DepartmentKind(StrEnum):
    CENTER = "center"  # the customer-service center itself
    BILLING = "billing"
    NETWORK = "network"
    BRANCH = "branch"
    HEADQUARTERS = "headquarters"
    MARKETING = "marketing"


class BillItemKind(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    DATA = "data"
    VALUE_ADDED = "value_added"


class AccountData(StrEnum):
    """Account data an agent may read out or change; the policy says which need verifying."""

    CURRENT_BILL = "current_bill"  # 当月话费
    ITEMIZED_DETAIL = "itemized_detail"  # 详单
    HISTORY_BILLS = "history_bills"  # 历史账单
    BALANCE = "balance"  # 余额
    PERSONAL_DATA_CHANGE = "personal_data_change"  # 资料变更
    PAYMENTS = "payments"  # 缴费记录 (the last payment is a verification answer)


class PersonalDataField(StrEnum):
    """What a personal-data check (资料核实) may ask the caller."""

    NAME = "name"  # registered name
    ID_LAST6 = "id_last6"  # last 6 of the ID-card number
    LAST_PAYMENT_AMOUNT = "last_payment_amount"  # amount of the last payment


class RefusalReason(StrEnum):
    """Why a request was refused; recorded on the contact."""

    ARREARS = "arrears"  # 欠费
    VERIFICATION_LOCKED = "verification_locked"
    NOT_VERIFIED = "not_verified"  # the caller could not be verified
    NO_CONSENT = "no_consent"  # the caller did not agree to a work order
    AGENT_BUSY = "agent_busy"  # rung to an agent on a call: abandoned at once (desk ring)
    OTHER = "other"


class ServiceRequestKind(StrEnum):
    """业务受理: what a service request changes on the account."""

    PLAN_CHANGE = "plan_change"  # 套餐变更
    ADD_ON = "add_on"  # 增值业务/流量包订购
    SUSPEND = "suspend"  # 停机保号
    RESUME = "resume"  # 复机
    PASSWORD_RESET = "password_reset"  # 服务密码重置


class ContactState(StrEnum):
    """Where a contact stands on the agent's console."""

    RINGING = "ringing"  # offered to an agent, not answered yet
    ACTIVE = "active"  # answered (or started by the agent), not closed
    CLOSED = "closed"


class VerificationOutcome(StrEnum):
    """What the verification gate says about one request."""

    ALLOW = "allow"
    VERIFY_FIRST = "verify_first"
    REFUSE = "refuse"


class VerifyReason(StrEnum):
    """Why the gate asks for a verification first."""

    NOT_VERIFIED = "not_verified"
    EXPIRED = "expired"  # verified in this contact, but longer ago than the policy allows
    HOLDER_MUST_VERIFY = "holder_must_verify"  # the caller speaks on behalf of the holder


class ClockState(StrEnum):
    """Where a work-order clock stands at an instant."""

    NOT_STARTED = "not_started"
    RUNNING = "running"
    PAUSED = "paused"  # waiting on the customer
    STOPPED = "stopped"  # what it measured happened


class CallbackOutcome(StrEnum):
    """How a callback ended (its ``status`` says whether it is still to make)."""

    REACHED = "reached"  # the customer was reached: the call is made
    UNREACHABLE = "unreachable"  # the policy's tries all failed
    DECLINED = "declined"  # reached, but the customer would not take the call
    CANCELLED = "cancelled"  # a lead called it off (with a reason)


class ShiftNoteKind(StrEnum):
    """What a problem noted for the shift handover is about."""

    EQUIPMENT = "equipment"
    SYSTEM = "system"
    OTHER = "other"


class SpotCheckTarget(StrEnum):
    """What a quality spot check (暗访/抽查) scores."""

    CONTACT = "contact"  # one contact (a call, a chat) of an agent
    BRANCH = "branch"  # a branch office (a mystery visit or call, 暗访)
