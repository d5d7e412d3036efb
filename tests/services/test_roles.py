"""Every service entry point that acts for someone checks its permission, for every role.

The table below names each public service function that takes an ``actor`` and the permission
it needs. A new service function fails this test until it is added here, so no entry point goes
unchecked. The public functions that take a ``Session`` (or a ``Connection``), the parts a
transaction is made of, are found the same way: those that act for someone are in
SESSION_ENTRY_POINTS and checked like the rest, inside a transaction of their own; every other
one is named in SESSION_PARTS with why it needs no check of its own. Each function is called
once per role with every other argument left empty: roles without the permission must be
refused before anything else is looked at; roles with it must not be refused (whatever else the
empty arguments then cause).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from types import ModuleType
from typing import Any

import pytest
from sqlmodel import Session

import desk.services
from desk.infra.database import SERVICE_CALLS, Database, is_service_call, now_of
from desk.infra.errors import PermissionDenied
from desk.models import StaffUser
from desk.rules.permissions import ROLE_PERMISSIONS, Actor, Permission
from desk.rules.vocab import Role

# function -> the permission it requires (None: any signed-in person may call it; a set: any
# one of them)
ENTRY_POINTS: dict[str, Permission | frozenset[Permission] | None] = {
    "audit.reseal": Permission.MANAGE_DATA,
    "audit.verify_chain": Permission.VIEW_AUDIT,
    "bills.account_overview": Permission.VIEW_BILLS,
    "bills.bill_inquiry": Permission.VIEW_BILLS,
    "bills.bill_items": Permission.VIEW_BILLS,
    "bills.payments": Permission.VIEW_BILLS,
    "callbacks.assign_callback": Permission.ASSIGN_CALLBACKS,
    "callbacks.callback_detail": Permission.MAKE_CALLBACKS,
    "callbacks.cancel_callback": Permission.ASSIGN_CALLBACKS,
    "callbacks.list_callbacks": Permission.MAKE_CALLBACKS,
    "callbacks.plan_callbacks": Permission.RUN_SWEEP,
    "callbacks.record_attempt": Permission.MAKE_CALLBACKS,
    "callbacks.take_callback": Permission.MAKE_CALLBACKS,
    "calls.answer_call": Permission.TAKE_CONTACTS,
    "calls.start_call": Permission.TAKE_CONTACTS,
    "calls.start_call_for_customer": Permission.TAKE_CONTACTS,
    "card.customer_card": Permission.VIEW_CUSTOMER_CARD,
    "card.unmask_field": Permission.UNMASK_PERSONAL_DATA,
    "contacts.answer_ring": Permission.TAKE_CONTACTS,
    "contacts.close_contact": Permission.TAKE_CONTACTS,
    "contacts.contact_view": Permission.TAKE_CONTACTS,
    "contacts.decline_ring": Permission.TAKE_CONTACTS,
    "contacts.expire_rings": Permission.TAKE_CONTACTS,
    "contacts.open_contact": Permission.TAKE_CONTACTS,
    "contacts.open_work_order": Permission.CREATE_WORK_ORDER,
    "contacts.pending_ring": Permission.TAKE_CONTACTS,
    "contacts.quick_create_customer": Permission.TAKE_CONTACTS,
    "ringing.ring": Permission.RING_AGENTS,
    "contacts.save_draft": Permission.TAKE_CONTACTS,
    "contacts.start_contact": Permission.TAKE_CONTACTS,
    "contacts.start_contact_for_customer": Permission.TAKE_CONTACTS,
    "customer_analysis.customer_analysis": Permission.VIEW_CUSTOMER_ANALYSIS,
    "customer_analysis.set_big_customer": Permission.MANAGE_BIG_CUSTOMERS,
    "dashboard.dashboard": Permission.VIEW_DASHBOARD,
    "satisfaction.satisfaction_analysis": Permission.VIEW_DASHBOARD,
    "handover.acknowledge_handover": Permission.SIGN_HANDOVER,
    "handover.handover_log": Permission.VIEW_DASHBOARD,
    "handover.handover_view": Permission.SIGN_HANDOVER,
    "handover.note_shift_problem": Permission.NOTE_SHIFT_PROBLEM,
    "handover.sign_handover": Permission.SIGN_HANDOVER,
    "inbox.add_messages": Permission.MANAGE_DATA,
    "inbox.answer_message": Permission.DISPATCH_WORK_ORDER,
    "inbox.convert_message": Permission.DISPATCH_WORK_ORDER,
    "inbox.discard_message": Permission.DISPATCH_WORK_ORDER,
    "inbox.inbox_page": Permission.DISPATCH_WORK_ORDER,
    "inbox.match_message": Permission.DISPATCH_WORK_ORDER,
    "inbox.message": Permission.DISPATCH_WORK_ORDER,
    "quality.branches_to_check": Permission.SPOT_CHECK,
    "quality.contacts_to_check": Permission.SPOT_CHECK,
    "quality.record_spot_check": Permission.SPOT_CHECK,
    "quality.spot_checks": Permission.SPOT_CHECK,
    "queue.floor_directory": Permission.VIEW_WORK_ORDERS,
    "queue.queue_figures": Permission.VIEW_WORK_ORDERS,
    "queue.work_order_queue": Permission.VIEW_WORK_ORDERS,
    "knowledge.canned_reply_text": None,
    "knowledge.read_article": None,
    "knowledge.search_knowledge": None,
    "knowledge.sync_articles": Permission.MANAGE_DATA,
    "knowledge.sync_replies": Permission.MANAGE_DATA,
    "routing.propose_routing": Permission.CREATE_WORK_ORDER,
    "reports.report": Permission.RUN_REPORTS,
    "search.search_customers": Permission.SEARCH_CUSTOMERS,
    "service_requests.add_add_on": Permission.CHANGE_ACCOUNTS,
    "service_requests.change_address": Permission.CHANGE_ACCOUNTS,
    "service_requests.change_plan": Permission.CHANGE_ACCOUNTS,
    "service_requests.reset_service_password": Permission.CHANGE_ACCOUNTS,
    "service_requests.resume_account": Permission.CHANGE_ACCOUNTS,
    "service_requests.suspend_account": Permission.CHANGE_ACCOUNTS,
    "session_info.current_shift": None,
    "sweep.run_sweep": Permission.RUN_SWEEP,
    "users.add_user": Permission.MANAGE_USERS,
    "users.disable_user": Permission.MANAGE_USERS,
    "users.enable_user": Permission.MANAGE_USERS,
    "users.list_users": Permission.MANAGE_USERS,
    "users.reset_password": Permission.MANAGE_USERS,
    "work_order_actions.accept_reply": Permission.REVIEW_WORK_ORDER,
    "work_order_actions.add_note": Permission.VIEW_WORK_ORDERS,
    "work_order_actions.close_work_order": Permission.REVIEW_WORK_ORDER,
    "work_order_actions.confirm_escalation": Permission.CONFIRM_ESCALATION,
    "work_order_actions.dispatch_work_order": Permission.DISPATCH_WORK_ORDER,
    "work_order_actions.dispatch_work_orders": Permission.DISPATCH_WORK_ORDER,
    "work_order_actions.link_work_order": Permission.DISPATCH_WORK_ORDER,
    "work_order_actions.pause_work_order": frozenset(
        {Permission.DISPATCH_WORK_ORDER, Permission.REPLY_WORK_ORDER}
    ),
    "work_order_actions.propose_escalation": Permission.CHASE_COMPLAINTS,
    "work_order_actions.record_callback_result": Permission.MAKE_CALLBACKS,
    "work_order_actions.record_hq_answer": Permission.CONFIRM_ESCALATION,
    "work_order_actions.reopen_work_order": Permission.REVIEW_WORK_ORDER,
    "work_order_actions.reply_work_order": frozenset(
        {Permission.DISPATCH_WORK_ORDER, Permission.REPLY_WORK_ORDER}
    ),
    "work_order_actions.resume_work_order": frozenset(
        {Permission.DISPATCH_WORK_ORDER, Permission.REPLY_WORK_ORDER}
    ),
    "work_order_actions.return_reply": Permission.REVIEW_WORK_ORDER,
    "work_order_actions.send_reminder": Permission.CHASE_COMPLAINTS,
    "work_orders.create_work_order": Permission.CREATE_WORK_ORDER,
    "work_orders.work_order_detail": Permission.VIEW_WORK_ORDERS,
    "org.add_branch": Permission.MANAGE_ORG,
    "org.list_branches": Permission.MANAGE_ORG,
    "org.rename_branch": Permission.MANAGE_ORG,
    "org.disable_branch": Permission.MANAGE_ORG,
    "org.add_department": Permission.MANAGE_ORG,
    "org.list_departments": Permission.MANAGE_ORG,
    "org.rename_department": Permission.MANAGE_ORG,
    "org.disable_department": Permission.MANAGE_ORG,
    "backups.backup": Permission.MANAGE_DATA,
    "backups.restore": Permission.MANAGE_DATA,
    "backups.check": Permission.MANAGE_DATA,
    "imports.run_import": Permission.MANAGE_DATA,
    "sweep.preview_sweep": Permission.RUN_SWEEP,
    "exports.export": Permission.MANAGE_DATA,
    "users.set_role": Permission.MANAGE_USERS,
    "users.set_department": Permission.MANAGE_USERS,
    "verification.check_personal_data": Permission.VERIFY_CALLER,
    "verification.check_service_password": Permission.VERIFY_CALLER,
    "verification.gate_decision": Permission.TAKE_CONTACTS,
    "verification.lift_lock": Permission.LIFT_VERIFICATION_LOCK,
    "verification.locked_customers": Permission.LIFT_VERIFICATION_LOCK,
    "verification.verification_state": Permission.VERIFY_CALLER,
}

pytestmark = pytest.mark.filterwarnings("ignore:fully NULL primary key")  # the empty ids


# Public service functions called with a Database that act for nobody: each says why it needs
# no person's permission. A new one without an ``actor`` fails until it is named here.
NO_ACTOR: dict[str, str] = {
    "audit.ensure_key": "desk init makes the machine's audit key before any user exists",
    "callbacks.plan_if_due": "the console's timer, as desk's system actor inside",
    "changes.counters": "says only that something changed, never what",
    "dashboard.period_now": "the calendar's period at now; no row leaves",
    "setup.meta_value": "schema facts (revision, demo flag) read at start",
    "setup.is_demo": "whether the database is a demo, read at start",
    "users.actor_for_login": "who a named admin command runs as; the command checks then",
    "setup.initialise": "desk init: the schema and the first admin, before any user exists",
    "setup.ensure_current": "the schema revision check at start",
    "summaries.refresh_summaries": "figures of figures, rebuilt by the timer; no row leaves",
    "summaries.refresh_summaries_if_due": "the console's timer",
    "sweep.sweep_if_due": "the console's timer, as desk's system actor inside",
    "sweep.last_sweep": "when the sweep last ran; no row leaves",
    "users.authenticate": "signing in: there is no actor yet",
    "housekeeping.run_due_jobs": "the console's timer: the sweep, plan and summaries above",
    "search.warm_search_indexes": "reads indexes into the cache after start; no row leaves",
}


# Public functions that take a Session or a Connection and act for someone: checked per role
# like ENTRY_POINTS, called inside a transaction.
SESSION_ENTRY_POINTS: dict[str, Permission] = {
    "audit.reseal_in": Permission.MANAGE_DATA,
    "callbacks.record_work_order_attempt": Permission.MAKE_CALLBACKS,
    "card.read_card": Permission.VIEW_CUSTOMER_CARD,
    "contacts.begin_contact": Permission.TAKE_CONTACTS,
    "contacts.begin_contact_for_customer": Permission.TAKE_CONTACTS,
    "contacts.take_ring": Permission.TAKE_CONTACTS,
    "verification.read_verification_state": Permission.VERIFY_CALLER,
    "users.add_user_in": Permission.MANAGE_USERS,
    "work_orders.create_in_session": Permission.CREATE_WORK_ORDER,
}

# The other public functions that take a Session or a Connection, by why they check nothing
# themselves. A new one fails test_every_session_function_is_named until it is named here.
_PARTS: dict[str, tuple[str, ...]] = {
    "the permission check itself": (
        "access.require",
        "access.require_active",
        "access.require_seen",
    ),
    "writes what its caller did, after the caller's check (the actor is who is recorded)": (
        "audit.record",
        "sealing.append",
        "changes.bump",
        "contacts.note_refusal",
        "callbacks.add_work_order_callback",
    ),
    "checks that the contact is the actor's own, after its entry point's permission check": (
        "contacts.agents_contact",
    ),
    "the verification gate, asked by an entry point after its permission check": (
        "verification.caller_state",
        "verification.gate",
        "verification.require_gate",
    ),
    "a read inside an entry point's transaction, after its check": (
        "contacts.customer_by_number",
        "contacts.latest_verification",
        "contacts.view_of",
        "work_orders.staff_names",
        "work_orders.history_of",
        "handover.open_shifts",
        "handover.shift_summary",
        "dashboard.current_shift_bounds",
        "dashboard.resolve_period",
    ),
    "the figures of a report, dashboard or analysis, built after its entry point's check": (
        "customer_analysis.tier_rows",
        "customer_analysis.tier_days",
        "customer_analysis.tier_months",
        "customer_analysis.churned_members",
        "customer_analysis.frequent_callers",
        "customer_analysis.birthdays",
        "customer_analysis.assessment",
        "customer_analysis.build_analysis",
        "customer_analysis.customer_sections",
        "dashboard.build_dashboard",
        "figures.without_jit",
        "figures.contact_hours",
        "figures.contact_figures",
        "figures.hot_spots_and_attention",
        "figures.complaint_tally",
        "figures.hot_spots",
        "figures.attention",
        "figures.churn_tally",
        "figures.live_churn",
        "quality.quality_sections",
        "reports.build_report",
        "reports.satisfaction_sections",
        "satisfaction.build_satisfaction",
    ),
    "desk's own upkeep (timers, the sweep, init, the demo build), as in NO_ACTOR": (
        "audit.check_key",
        "audit.head_of",
        "summaries.summary_state",
        "sweep.refresh_ladder",
        "ringing.expire_due",
        "sweep.prime_ladder",
        "sweep.plan_ladder",
        "users.ensure_system_users",
        "knowledge.rebuild_index",
    ),
}
SESSION_PARTS: dict[str, str] = {name: why for why, names in _PARTS.items() for name in names}


Source = tuple[str, ModuleType, str]  # a services module's short name, the module, its source
_DESK_DECORATORS = frozenset({"reads", "reads_autocommit", "writes", "reads_audited"})


def _services() -> list[Source]:
    found: list[Source] = []
    for info in pkgutil.walk_packages(desk.services.__path__, prefix="desk.services."):
        module = importlib.import_module(info.name)
        found.append((info.name.removeprefix("desk.services."), module, inspect.getsource(module)))
    return found


@dataclass(frozen=True)
class _Definition:
    """A public function as its module's source defines it (whatever decorates it), and the
    object the module exposes under its name."""

    obj: Any
    first: str  # the first parameter's name
    first_type: str  # its annotation as written
    parameters: frozenset[str]
    decorators: tuple[str, ...]  # each one's last name: "writes" for @database.writes

    @property
    def service_call(self) -> bool:
        """Called with a Database: made by @reads/@writes (the registry says so, not a
        ``__wrapped__``), or a plain function whose first parameter is ``db``."""
        return is_service_call(self.obj) or (not self.decorators and self.first == "db")

    @property
    def takes_session(self) -> bool:
        return not self.decorators and bool(re.search(r"\b(Session|Connection)\b", self.first_type))


def _definitions(sources: list[Source] | None = None) -> dict[str, _Definition]:
    """Every public top-level function of the services, found in their source: a decorator
    that hides a function (no ``functools.wraps``, another module's name) cannot hide it."""
    found: dict[str, _Definition] = {}
    for short, module, source in _services() if sources is None else sources:
        for node in ast.parse(source).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if node.name.startswith("_"):
                continue
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            first = arguments[0] if arguments else None
            found[f"{short}.{node.name}"] = _Definition(
                obj=getattr(module, node.name),
                first="" if first is None else first.arg,
                first_type=""
                if first is None or first.annotation is None
                else ast.unparse(first.annotation),
                parameters=frozenset(a.arg for a in arguments),
                decorators=tuple(
                    ast.unparse(d.func if isinstance(d, ast.Call) else d).rsplit(".", 1)[-1]
                    for d in node.decorator_list
                ),
            )
    return found


def _unseen(sources: list[Source] | None = None) -> list[str]:
    """Public functions the role tests could not call as what they are: a @reads/@writes
    function whose module exposes something else under its name (wrapped again, replaced),
    and a function taking a Database, Session or Connection under a decorator that is not
    desk's own (what it is called with cannot be known)."""
    problems: list[str] = []
    defined = _definitions(sources)
    for short, module, _ in _services() if sources is None else sources:
        for name, obj in vars(module).items():
            key = f"{short}.{name}"
            if not name.startswith("_") and is_service_call(obj) and key not in defined:
                problems.append(f"{key}: a service call bound to a name, not defined by it")
    for key, found in sorted(defined.items()):
        ours = [d for d in found.decorators if d in _DESK_DECORATORS]
        if ours and not is_service_call(found.obj):
            problems.append(f"{key}: @{ours[0]} is not what its module exposes")
        others = [d for d in found.decorators if d not in _DESK_DECORATORS]
        takes_a_database = found.first in ("db", "session", "connection") or re.search(
            r"\b(Database|Session|Connection)\b", found.first_type
        )
        if others and takes_a_database:
            problems.append(f"{key}: decorated by @{others[0]}, not one of desk's")
    return problems


def _session_functions(
    sources: list[Source] | None = None,
) -> dict[str, tuple[Callable[..., Any], bool]]:
    """Every public function of desk.services whose first parameter is a Session or a
    Connection (not a @reads/@writes service call: those are called with a Database), and
    whether it takes an ``actor``."""
    return {
        key: (found.obj, "actor" in found.parameters)
        for key, found in _definitions(sources).items()
        if found.takes_session and not is_service_call(found.obj)
    }


def _service_functions(
    sources: list[Source] | None = None,
) -> dict[str, tuple[Callable[..., Any], bool]]:
    """Every public function of desk.services called with a Database (a @reads/@writes
    service call, or its first parameter ``db``), and whether it takes an ``actor``."""
    return {
        key: (found.obj, "actor" in found.parameters)
        for key, found in _definitions(sources).items()
        if found.service_call
    }


def _entry_points() -> dict[str, Callable[..., Any]]:
    return {name: func for name, (func, acts) in _service_functions().items() if acts}


def role_actors(db: Database) -> dict[Role, Actor]:
    """One real, active user per role (no password: nothing here signs in)."""

    def add(session: Session) -> dict[Role, Actor]:
        actors: dict[Role, Actor] = {}
        for role in Role:
            user = StaffUser(
                login=f"role-{role.value}".replace("_", "-"),
                display_name=role.value,
                role=role.value,
                password_hash="!",
                created_at=now_of(session),
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            actors[role] = Actor(user.id, user.login, role)
        return actors

    return db.run(add, write=True)


def test_a_disabled_actor_is_refused_everywhere(db: Database) -> None:
    """Every entry point reads the actor's row: a user disabled since sign-in is refused
    whatever the role held."""
    admin = role_actors(db)[Role.ADMIN]

    def disable(session: Session) -> None:
        user = session.get(StaffUser, admin.user_id)
        assert user is not None
        user.active = False
        session.add(user)

    db.run(disable, write=True)
    for name, func in sorted(_entry_points().items()):
        try:
            _call_with_nothing(func, db, admin)
        except PermissionDenied:
            continue
        pytest.fail(f"{name} let a disabled user through")  # pragma: no cover


def test_a_role_changed_since_sign_in_is_judged_by_the_role_it_has_now(db: Database) -> None:
    actors = role_actors(db)
    stale = replace(actors[Role.AGENT], role=Role.ADMIN)  # signed in as admin, now an agent

    def demote(session: Session) -> None:
        user = session.get(StaffUser, stale.user_id)
        assert user is not None
        user.role = Role.AGENT.value
        session.add(user)

    db.run(demote, write=True)
    with pytest.raises(PermissionDenied, match="now agent"):
        _call_with_nothing(_entry_points()["users.list_users"], db, stale)


def test_every_entry_point_is_in_the_table() -> None:
    assert sorted(_entry_points()) == sorted(ENTRY_POINTS)


def test_an_entry_point_without_an_actor_must_say_why() -> None:
    """A public service function called with a Database and no actor checks no permission:
    only those named in NO_ACTOR, each with its reason, may exist."""
    without = sorted(name for name, (_, acts) in _service_functions().items() if not acts)
    assert without == sorted(NO_ACTOR)


def _empty(hint: object) -> object:
    """The emptiest value of a parameter: an enum's first member (so it parses), else None."""
    if isinstance(hint, type) and issubclass(hint, Enum):
        return next(iter(hint))
    return None


def _parameter_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The parameters' types (a return type imported only for type checking, where a service
    imports a heavy module lazily, is left out)."""
    target = inspect.unwrap(func)
    try:
        return typing.get_type_hints(target)
    except NameError:

        def shim() -> None: ...

        shim.__annotations__ = {k: v for k, v in target.__annotations__.items() if k != "return"}
        return typing.get_type_hints(shim, globalns=target.__globals__)


def _call_with_nothing(func: Callable[..., Any], db: Database, actor: Actor) -> None:
    hints = _parameter_hints(func)
    parameters = list(inspect.signature(func).parameters.values())[1:]  # after db / session
    kwargs = {
        p.name: _empty(hints.get(p.name))
        for p in parameters
        if p.name != "actor" and p.default is p.empty
    }
    func(db, actor=actor, **kwargs)


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_entry_point_refuses_roles_without_its_permission(db: Database, name: str) -> None:
    func = _entry_points()[name]
    permission = ENTRY_POINTS[name]
    actors = role_actors(db)
    for role in Role:
        actor = actors[role]
        needed = {permission} if isinstance(permission, Permission) else permission
        allowed = needed is None or bool(needed & ROLE_PERMISSIONS[role])
        if allowed:
            try:
                _call_with_nothing(func, db, actor)
            except PermissionDenied as error:  # pragma: no cover - the failure message
                pytest.fail(f"{name} refused {role.value}, which holds {permission}: {error}")
            except Exception:  # noqa: BLE001, S110 - empty arguments may fail after the check
                pass
        else:
            with pytest.raises(PermissionDenied):
                _call_with_nothing(func, db, actor)


def test_every_session_function_is_named() -> None:
    """A public function that takes a Session is either checked per role or says why not."""
    found = _session_functions()
    assert sorted(found) == sorted(SESSION_ENTRY_POINTS | SESSION_PARTS)
    for name in SESSION_ENTRY_POINTS:
        assert found[name][1], f"{name} takes no actor: it cannot check one"


def _call_in_a_transaction(func: Callable[..., Any], db: Database, actor: Actor) -> None:
    hints = typing.get_type_hints(func)
    parameters = list(inspect.signature(func).parameters.values())[1:]
    kwargs = {
        p.name: _empty(hints.get(p.name))
        for p in parameters
        if p.name != "actor" and p.default is p.empty
    }
    db.run(lambda session: func(session, actor=actor, **kwargs), write=True)


@pytest.mark.parametrize("name", sorted(SESSION_ENTRY_POINTS))
def test_session_entry_point_refuses_roles_without_its_permission(db: Database, name: str) -> None:
    func = _session_functions()[name][0]
    permission = SESSION_ENTRY_POINTS[name]
    actors = role_actors(db)
    for role in Role:
        if permission in ROLE_PERMISSIONS[role]:
            try:
                _call_in_a_transaction(func, db, actors[role])
            except PermissionDenied as error:  # pragma: no cover - the failure message
                pytest.fail(f"{name} refused {role.value}, which holds {permission}: {error}")
            except Exception:  # noqa: BLE001, S110 - empty arguments may fail after the check
                pass
        else:
            with pytest.raises(PermissionDenied):
                _call_in_a_transaction(func, db, actors[role])


def test_no_service_function_escapes_the_role_tests() -> None:
    """Every @reads/@writes function is what its module exposes (so the tables above see
    it), and no function taking a Database, Session or Connection hides under a decorator
    of another kind; every service call made in desk.services is a public function found
    in its module's source (or a private helper
    never bound to a public name)."""
    assert _unseen() == []
    defined = _definitions()
    for key, made in SERVICE_CALLS.items():
        if not made.module.startswith("desk.services.") or made.name.startswith("_"):
            continue
        short = f"{made.module.removeprefix('desk.services.')}.{made.name}"
        assert short in defined, f"{key} is made a service call outside a module's top level"
        assert defined[short].obj is made.call, f"{key} is exposed as something else"


PROBE = """
import functools

from desk.infra.database import writes


def hides(func):
    def inner(*args, **kwargs):
        return func(*args, **kwargs)

    return inner


@hides
@writes
def wrapped_again(session, *, actor):
    return actor


@hides
def plain_hidden(db, *, actor):
    return actor


@functools.lru_cache
def cached(session: "Session", *, actor):
    return actor


@writes
def honest(session, *, actor):
    return actor


def looks_decorated(session: "Session", actor):
    return actor


looks_decorated.__wrapped__ = honest


def plain(db, *, actor):
    return actor


def _helper(session, *, actor):
    return actor


exposed = writes(_helper)
"""


def test_a_decorator_cannot_hide_an_entry_point_from_the_role_tests() -> None:
    """A probe module: a @writes function wrapped again by a decorator without
    functools.wraps, a db function under such a decorator, a Session function behind
    lru_cache, and a Session function that merely carries ``__wrapped__`` (what the old
    test took for a @reads/@writes call). Each is either found for what it is or named as
    one the role tests cannot see."""
    module = ModuleType("desk.services.probe")
    before = set(SERVICE_CALLS)
    try:
        exec(compile(PROBE, "probe.py", "exec"), module.__dict__)  # noqa: S102 - the probe's own text
        source: list[Source] = [("probe", module, PROBE)]
        assert sorted(_service_functions(source)) == ["probe.honest", "probe.plain"]
        assert sorted(_session_functions(source)) == ["probe.looks_decorated"]
        assert _unseen(source) == [
            "probe.exposed: a service call bound to a name, not defined by it",
            "probe.cached: decorated by @lru_cache, not one of desk's",
            "probe.plain_hidden: decorated by @hides, not one of desk's",
            "probe.wrapped_again: @writes is not what its module exposes",
            "probe.wrapped_again: decorated by @hides, not one of desk's",
        ]
    finally:
        for key in set(SERVICE_CALLS) - before:
            del SERVICE_CALLS[key]
