"""The actions of a work order, by key, for every screen that shows one (the queue, the
work-order screen).

A screen mixes in :class:`OrderActions`, adds :data:`ACTION_BINDINGS` to its bindings and
says which order is current (:meth:`OrderActions.current_orders`). A key opens the action's
form (:class:`~desk.screens.forms.ActionForm`); the form calls the service in its own
worker and closes on success; the screen then reloads (:meth:`OrderActions.after_action`).
Keys the role or the order's state forbid are dimmed, by the same rule the service applies
(:func:`desk.rules.work_orders.refusal`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.binding import Binding

from desk.i18n import N_, vocab_label
from desk.i18n import gettext as _
from desk.rules.vocab import WaitingReason
from desk.rules.work_orders import Action, OrderState, Refusal, refusal
from desk.screens.forms import ActionForm, ChoiceField, FormField, TextField
from desk.widgets.format import local_time

if TYPE_CHECKING:
    from desk.rules.permissions import Actor
    from desk.rules.policy import Policy
    from desk.screens.base import SignedIn
    from desk.services.queue import FloorDirectory


@dataclass(frozen=True, slots=True)
class OrderRef:
    """What a screen knows of the order an action is for."""

    id: int
    number: str
    version: int
    state: OrderState
    children: int = 0  # open orders linked to it (a mass-fault parent)


ACTION_KEYS: dict[Action, tuple[str, str]] = {
    # action: key, msgid of what it does
    Action.DISPATCH: ("d", N_("wo_action.dispatch")),
    Action.REPLY: ("y", N_("wo_action.reply")),
    Action.ACCEPT: ("a", N_("wo_action.accept")),
    Action.RETURN: ("r", N_("wo_action.return")),
    Action.REMIND: ("m", N_("wo_action.remind")),
    Action.PROPOSE_ESCALATION: ("e", N_("wo_action.propose_escalation")),
    Action.CONFIRM_ESCALATION: ("E", N_("wo_action.confirm_escalation")),
    Action.HQ_ANSWER: ("h", N_("wo_action.hq_answer")),
    Action.CALLBACK_RESULT: ("c", N_("wo_action.callback_result")),
    Action.CLOSE: ("x", N_("wo_action.close")),
    Action.REOPEN: ("o", N_("wo_action.reopen")),
    Action.PAUSE: ("p", N_("wo_action.pause")),
    Action.RESUME: ("p", N_("wo_action.resume")),
    Action.LINK: ("l", N_("wo_action.link")),
    Action.NOTE: ("n", N_("wo_action.note")),
}

ACTION_BINDINGS: list[Binding] = [
    Binding(key, f"order_action('{action.value}')", msgid, id=f"order.{action.value}")
    for action, (key, msgid) in ACTION_KEYS.items()
]

REFUSAL_LABELS: dict[Refusal, str] = {
    Refusal.ROLE: N_("refusal.role"),
    Refusal.STATUS: N_("refusal.status"),
    Refusal.PAUSED: N_("refusal.paused"),
    Refusal.NOT_PAUSED: N_("refusal.not_paused"),
    Refusal.OTHER_DEPARTMENT: N_("refusal.other_department"),
    Refusal.NOT_CHASED: N_("refusal.not_chased"),
    Refusal.ESCALATION_LEVEL: N_("refusal.escalation_level"),
}

SATISFACTION_LABELS: dict[int, str] = {
    5: N_("satisfaction.5"),
    4: N_("satisfaction.4"),
    3: N_("satisfaction.3"),
    2: N_("satisfaction.2"),
    1: N_("satisfaction.1"),
}


def describe_error(error: BaseException) -> str:
    """A service error in the reader's language where the catalog has it, else its message."""
    from desk.infra.errors import DeskError
    from desk.services.work_order_actions import ActionDenied, ActionNotNow
    from desk.services.work_orders import WorkOrderChanged

    if isinstance(error, WorkOrderChanged):
        return _(
            "wo_action.changed",
            number=error.number,
            who=error.by or _("work_order.desk"),
            at=local_time(error.at, "%H:%M:%S"),
        )
    if isinstance(error, ActionDenied | ActionNotNow):
        return f"{error.number}: {_(REFUSAL_LABELS[error.refusal])}"
    if isinstance(error, DeskError):
        return error.message
    return f"{type(error).__name__}: {error}"


class OrderActions:
    """Mixed into a screen with a current work order (see the module docstring)."""

    signed_in: SignedIn
    directory: FloorDirectory | None = None

    # --- what the screen provides ----------------------------------------------------------

    def current_orders(self, action: Action) -> Sequence[OrderRef]:
        """The orders ``action`` is for: the current one (or the marked ones, for a batch
        dispatch). Empty when there is none."""
        raise NotImplementedError

    def after_action(self, action: Action, result: object) -> None:
        """Reload what the screen shows, and say what was done."""
        raise NotImplementedError

    # --- keys ------------------------------------------------------------------------------

    @property
    def _actor(self) -> Actor:
        return self.signed_in.actor

    @property
    def _policy(self) -> Policy:
        return self.signed_in.backend.policy

    def order_action_allowed(self, name: str) -> bool | None:
        """For ``check_action``: True when the action may be taken on every current order;
        None (dimmed) when it may not now; False (hidden) for the pause/resume pair's other
        half, so one key does both."""
        action = Action(name)
        orders = self.current_orders(action)
        if not orders:
            return None
        for order in orders:
            verdict = refusal(action, self._actor, order.state, self._policy)
            if verdict is not None:
                if action is Action.PAUSE and verdict is Refusal.PAUSED:
                    return False
                if action is Action.RESUME and verdict is Refusal.NOT_PAUSED:
                    return False
                return None
        return True

    def action_order_action(self, name: str) -> None:
        action = Action(name)
        orders = list(self.current_orders(action))
        if not orders or self.order_action_allowed(name) is not True:
            return
        form = self._form(action, orders)
        screen: Any = self
        screen.app.push_screen(form, lambda result: self._action_closed(action, result))

    def _action_closed(self, action: Action, result: object) -> None:
        if result is not None:
            self.after_action(action, result)

    # --- the forms -------------------------------------------------------------------------

    def _form(self, action: Action, orders: list[OrderRef]) -> ActionForm:
        first = orders[0]
        title = _(ACTION_KEYS[action][1])
        if len(orders) > 1:
            title += " — " + _("wo_action.several", count=len(orders))
        else:
            title += f" — {first.number}"
        fields = self._fields(action, orders)
        versions = {order.id: order.version for order in orders}

        def run(values: Mapping[str, str]) -> object:
            return self._call(action, orders, versions, values)

        def reload() -> str:
            from desk.services.work_orders import work_order_detail

            detail = work_order_detail(
                self.signed_in.db, actor=self._actor, work_order_id=first.id, policy=self._policy
            )
            versions[first.id] = detail.order.version
            return _(
                "wo_action.reloaded",
                number=detail.order.number,
                status=vocab_label(detail.order.status),
                who=detail.updated_by_name or _("work_order.desk"),
                at=local_time(detail.order.updated_at, "%H:%M:%S"),
            )

        return ActionForm(
            title,
            fields,
            run,
            reload=reload if len(orders) == 1 else None,
            describe_error=describe_error,
        )

    def _fields(self, action: Action, orders: list[OrderRef]) -> list[FormField]:
        note = TextField("note", _("wo_form.note"))
        reason = TextField("reason", _("wo_form.reason"), required=True)
        if action is Action.DISPATCH:
            departments = self.directory.departments if self.directory else ()
            current = orders[0].state.department_id if len(orders) == 1 else None
            return [
                ChoiceField(
                    "department",
                    _("wo_form.department"),
                    tuple((str(d.id), d.name) for d in departments),
                    value=str(current) if current else None,
                ),
                note,
            ]
        if action is Action.REPLY:
            return [TextField("text", _("wo_form.reply"), required=True)]
        if action is Action.HQ_ANSWER:
            return [TextField("text", _("wo_form.hq_answer"), required=True)]
        if action in (Action.RETURN, Action.PROPOSE_ESCALATION, Action.REOPEN):
            return [reason]
        if action is Action.NOTE:
            return [TextField("note", _("wo_form.note"), required=True)]
        if action is Action.CALLBACK_RESULT:
            return [
                ChoiceField(
                    "reached",
                    _("wo_form.reached"),
                    (("yes", _("wo_form.reached_yes")), ("no", _("wo_form.reached_no"))),
                ),
                ChoiceField(
                    "satisfaction",
                    _("wo_form.satisfaction"),
                    tuple((str(k), _(v)) for k, v in SATISFACTION_LABELS.items()),
                    required=False,
                ),
                note,
            ]
        if action is Action.CLOSE:
            fields: list[FormField] = [reason]
            if orders[0].children:
                fields.append(
                    ChoiceField(
                        "children",
                        _("wo_form.close_children", count=orders[0].children),
                        (("yes", _("wo_form.yes")), ("no", _("wo_form.no"))),
                        value="yes",
                    )
                )
            return fields
        if action is Action.PAUSE:
            return [
                ChoiceField(
                    "reason",
                    _("wo_form.waiting_reason"),
                    tuple((r.value, vocab_label(r)) for r in WaitingReason),
                    value=WaitingReason.WAITING_FOR_CUSTOMER.value,
                ),
                note,
            ]
        if action is Action.LINK:
            return [TextField("parent", _("wo_form.parent"), max_length=20)]
        return [note]  # accept, remind, confirm escalation, resume

    def _call(
        self,
        action: Action,
        orders: list[OrderRef],
        versions: dict[int, int],
        values: Mapping[str, str],
    ) -> object:
        from desk.infra.errors import InvalidInput
        from desk.services import work_order_actions as service

        db, actor, policy = self.signed_in.db, self._actor, self._policy
        order = orders[0]
        common: dict[str, Any] = {
            "actor": actor,
            "work_order_id": order.id,
            "version": versions[order.id],
            "policy": policy,
        }
        note = values.get("note") or None
        if action is Action.DISPATCH:
            if not values.get("department"):
                raise InvalidInput(_("wo_form.department"), field="department")
            department = int(values["department"])
            if len(orders) > 1:
                return service.dispatch_work_orders(
                    db,
                    actor=actor,
                    orders=[(o.id, versions[o.id]) for o in orders],
                    department_id=department,
                    note=note,
                    policy=policy,
                )
            return service.dispatch_work_order(db, department_id=department, note=note, **common)
        if action is Action.REPLY:
            return service.reply_work_order(db, reply=values["text"], **common)
        if action is Action.ACCEPT:
            return service.accept_reply(db, note=note, **common)
        if action is Action.RETURN:
            return service.return_reply(db, reason=values["reason"], **common)
        if action is Action.REMIND:
            return service.send_reminder(db, note=note, **common)
        if action is Action.PROPOSE_ESCALATION:
            return service.propose_escalation(db, reason=values["reason"], **common)
        if action is Action.CONFIRM_ESCALATION:
            return service.confirm_escalation(db, note=note, **common)
        if action is Action.HQ_ANSWER:
            return service.record_hq_answer(db, answer=values["text"], **common)
        if action is Action.CALLBACK_RESULT:
            reached = values.get("reached") == "yes"
            score = int(values["satisfaction"]) if values.get("satisfaction") else None
            return service.record_callback_result(
                db,
                reached=reached,
                satisfaction=score if reached else None,
                note=note,
                **common,
            )
        if action is Action.CLOSE:
            return service.close_work_order(
                db,
                reason=values["reason"],
                close_children=values.get("children") == "yes",
                **common,
            )
        if action is Action.REOPEN:
            return service.reopen_work_order(db, reason=values["reason"], **common)
        if action is Action.PAUSE:
            return service.pause_work_order(
                db, reason=WaitingReason(values["reason"]), note=note, **common
            )
        if action is Action.RESUME:
            return service.resume_work_order(db, note=note, **common)
        if action is Action.LINK:
            return service.link_work_order(db, parent_number=values.get("parent") or None, **common)
        return service.add_note(db, note=values["note"], **common)
