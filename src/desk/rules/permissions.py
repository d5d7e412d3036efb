"""Who may do what: roles to permissions. Services check these; screens only dim keys."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from desk.rules.vocab import Role


class Permission(StrEnum):
    SEARCH_CUSTOMERS = "search_customers"
    VIEW_CUSTOMER_CARD = "view_customer_card"
    UNMASK_PERSONAL_DATA = "unmask_personal_data"
    TAKE_CONTACTS = "take_contacts"
    VERIFY_CALLER = "verify_caller"
    LIFT_VERIFICATION_LOCK = "lift_verification_lock"
    VIEW_BILLS = "view_bills"
    CREATE_WORK_ORDER = "create_work_order"
    VIEW_WORK_ORDERS = "view_work_orders"
    DISPATCH_WORK_ORDER = "dispatch_work_order"
    REPLY_WORK_ORDER = "reply_work_order"
    REVIEW_WORK_ORDER = "review_work_order"
    CHASE_COMPLAINTS = "chase_complaints"
    CONFIRM_ESCALATION = "confirm_escalation"
    MAKE_CALLBACKS = "make_callbacks"
    ASSIGN_CALLBACKS = "assign_callbacks"  # give a callback to someone, or call it off
    NOTE_SHIFT_PROBLEM = "note_shift_problem"  # an equipment or system problem, for the handover
    SPOT_CHECK = "spot_check"  # score a contact or a branch office (暗访/抽查)
    SIGN_HANDOVER = "sign_handover"
    VIEW_DASHBOARD = "view_dashboard"  # the center's figures (services, reports)
    WATCH_FLOOR = "watch_floor"  # the F7 dashboard screen on the console
    VIEW_CUSTOMER_ANALYSIS = "view_customer_analysis"  # tiers, churn, big customers
    RUN_REPORTS = "run_reports"  # desk report
    MANAGE_BIG_CUSTOMERS = "manage_big_customers"  # the big-customer file: class, manager
    MANAGE_USERS = "manage_users"
    MANAGE_ORG = "manage_org"  # branches and departments
    MANAGE_DATA = "manage_data"  # import, export, backup, restore
    RUN_SWEEP = "run_sweep"
    VIEW_AUDIT = "view_audit"
    RING_AGENTS = "ring_agents"  # the telephony side offers a call to an agent (desk ring)
    CHANGE_ACCOUNTS = "change_accounts"  # service requests (业务受理) for a verified caller


_P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset(
        {
            _P.SEARCH_CUSTOMERS,
            _P.VIEW_CUSTOMER_CARD,
            _P.TAKE_CONTACTS,
            _P.VERIFY_CALLER,
            _P.VIEW_BILLS,
            _P.CHANGE_ACCOUNTS,
            _P.CREATE_WORK_ORDER,
            _P.VIEW_WORK_ORDERS,
            _P.MAKE_CALLBACKS,
            _P.NOTE_SHIFT_PROBLEM,
        }
    ),
    Role.LEAD: frozenset(
        {
            _P.SEARCH_CUSTOMERS,
            _P.VIEW_CUSTOMER_CARD,
            _P.UNMASK_PERSONAL_DATA,
            _P.TAKE_CONTACTS,
            _P.VERIFY_CALLER,
            _P.LIFT_VERIFICATION_LOCK,
            _P.VIEW_BILLS,
            _P.CHANGE_ACCOUNTS,
            _P.CREATE_WORK_ORDER,
            _P.VIEW_WORK_ORDERS,
            _P.DISPATCH_WORK_ORDER,
            _P.REVIEW_WORK_ORDER,
            _P.MAKE_CALLBACKS,
            _P.ASSIGN_CALLBACKS,
            _P.NOTE_SHIFT_PROBLEM,
            _P.SIGN_HANDOVER,
            _P.SPOT_CHECK,
            _P.VIEW_DASHBOARD,
            _P.WATCH_FLOOR,
        }
    ),
    Role.COMPLAINT_LEAD: frozenset(
        {
            _P.SEARCH_CUSTOMERS,
            _P.VIEW_CUSTOMER_CARD,
            _P.UNMASK_PERSONAL_DATA,
            _P.VIEW_WORK_ORDERS,
            _P.CHASE_COMPLAINTS,
            _P.CONFIRM_ESCALATION,
            _P.MAKE_CALLBACKS,
            _P.ASSIGN_CALLBACKS,
            _P.VIEW_DASHBOARD,
            _P.WATCH_FLOOR,
        }
    ),
    Role.HANDLER: frozenset({_P.VIEW_WORK_ORDERS, _P.REPLY_WORK_ORDER}),
    Role.SUPERVISOR: frozenset(
        {
            _P.SEARCH_CUSTOMERS,
            _P.VIEW_CUSTOMER_CARD,
            _P.UNMASK_PERSONAL_DATA,
            _P.VIEW_WORK_ORDERS,
            _P.CHASE_COMPLAINTS,
            _P.VIEW_DASHBOARD,
            _P.WATCH_FLOOR,
            _P.VIEW_CUSTOMER_ANALYSIS,
            _P.MANAGE_BIG_CUSTOMERS,
            _P.RUN_REPORTS,
            _P.VIEW_AUDIT,
        }
    ),
    Role.ADMIN: frozenset(
        {
            _P.MANAGE_USERS,
            _P.MANAGE_ORG,
            _P.MANAGE_DATA,
            _P.RUN_SWEEP,
            _P.VIEW_AUDIT,
            _P.RUN_REPORTS,
            _P.VIEW_DASHBOARD,
            _P.RING_AGENTS,
            _P.VIEW_CUSTOMER_ANALYSIS,
        }
    ),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """The person a service call acts for."""

    user_id: int
    login: str
    role: Role
    display_name: str = ""
    department_id: int | None = None


SYSTEM_LOGIN = "system"
SHELL_LOGIN = "shell"
SYSTEM_USER_ID = 0
SHELL_USER_ID = -1
SYSTEM_USERS: tuple[tuple[int, str, str], ...] = (
    (SYSTEM_USER_ID, SYSTEM_LOGIN, "desk (scheduled jobs)"),
    (SHELL_USER_ID, SHELL_LOGIN, "desk (admin command line)"),
)
"""desk's own actors: real ``staff_user`` rows (id, login, display name) with the admin role,
marked ``is_system``, without a password, so no one signs in as them. Every migrated database
has them; their checks run like anyone's (a disabled row refuses them)."""


def shell_actor(os_user: str) -> Actor:
    """The admin at the command line (``desk user …``, ``desk init``, ``desk sweep``): the
    shell already holds the database. It acts as the ``shell`` row; the audit log names the
    operating-system user (``cli:<user>``)."""
    return Actor(
        user_id=SHELL_USER_ID, login=f"cli:{os_user}"[:32], role=Role.ADMIN, display_name=os_user
    )


def system_actor() -> Actor:
    """desk itself, for work no person starts (the console's sweep timer): the ``system``
    row. Only jobs desk runs on its own may use it, never a person's action."""
    return Actor(user_id=SYSTEM_USER_ID, login=SYSTEM_LOGIN, role=Role.ADMIN, display_name="desk")


def can(actor: Actor, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(actor.role, frozenset())
