"""The organisation: branches, departments with their calendars, staff and shifts."""

from __future__ import annotations

from desk.demo.geography import CITIES
from desk.demo.model import DEMO_USERS
from desk.demo.people import People
from desk.demo.world import SHIFT_NAMES, SHIFT_SECONDS, World
from desk.rules.vocab import DepartmentKind, Role

CENTER, BILLING, NETWORK, HQ, MARKETING = "CSC", "BILLING", "NETWORK", "HQ", "MARKETING"

_DEPARTMENTS: tuple[tuple[str, str, DepartmentKind], ...] = (
    (CENTER, "客户服务中心", DepartmentKind.CENTER),
    (BILLING, "计费账务中心", DepartmentKind.BILLING),
    (NETWORK, "网络维护中心", DepartmentKind.NETWORK),
    (HQ, "省公司客户服务部", DepartmentKind.HEADQUARTERS),
    (MARKETING, "市场营销部", DepartmentKind.MARKETING),
)


def branch_department_code(city_code: str) -> str:
    return f"BR-{city_code}"


def write_org(w: World, password_hash: str) -> None:
    """Branches, departments, staff (demo users first) and every shift up to now."""
    sink = w.sink
    w.branch_ids = list(range(1, len(CITIES) + 1))
    sink.insert(
        "branch",
        ("id", "code", "name", "region"),
        (
            (i + 1, f"BR-{city.code}", f"{city.name[:-1]}分公司", city.name)
            for i, city in enumerate(CITIES)
        ),
    )
    calendars = w.policy.departments
    rows: list[tuple[str, str, DepartmentKind, int | None]] = []
    for code, name, kind in _DEPARTMENTS:
        rows.append((code, name, kind, None))
    for i, city in enumerate(CITIES):
        rows.append(
            (
                branch_department_code(city.code),
                f"{city.name[:-1]}分公司",
                DepartmentKind.BRANCH,
                w.branch_ids[i],
            )
        )
    for dept_id, (code, _name, kind, _branch) in enumerate(rows, start=1):
        w.department_ids[code] = dept_id
        w.department_kinds[dept_id] = kind
    w.branch_departments = [w.department_ids[branch_department_code(c.code)] for c in CITIES]
    sink.insert(
        "department",
        ("id", "code", "name", "kind", "branch_id", "calendar", "active"),
        (
            (dept_id, code, name, kind.value, branch, calendars.calendar_name(kind), 1)
            for dept_id, (code, name, kind, branch) in enumerate(rows, start=1)
        ),
    )
    _write_staff(w, password_hash)
    _write_shifts(w)


def _write_staff(w: World, password_hash: str) -> None:
    people = People(w.rng)
    n = w.n
    counts = {
        Role.AGENT: max(12, min(400, n // 4_000)),
        Role.LEAD: max(6, min(24, n // 50_000 + 6)),
        Role.COMPLAINT_LEAD: 3,
        Role.SUPERVISOR: 2,
        Role.ADMIN: 1,
    }
    center = w.department(CENTER)
    created = w.stamps(w.start_s - 200 * 86_400)
    staff: list[tuple[object, ...]] = []

    def add(login: str, role: Role, department: int | None) -> int:
        user_id = len(staff) + 1
        name = people.name(w.rng.random() < 0.45)
        w.staff.setdefault(role, []).append(user_id)
        w.staff_names[user_id] = name
        staff.append((user_id, login, name, role.value, department, password_hash, 1, 0, created))
        return user_id

    for login, role in DEMO_USERS.items():
        department: int | None = w.department(NETWORK) if role is Role.HANDLER else center
        if role is Role.ADMIN:
            department = None
        w.users[login] = add(login, role, department)
    w.handlers_by_department[w.department(NETWORK)] = [w.users["handler1"]]
    prefixes = {
        Role.AGENT: "agent",
        Role.LEAD: "lead",
        Role.COMPLAINT_LEAD: "complaint",
        Role.SUPERVISOR: "supervisor",
        Role.ADMIN: "admin",
    }
    for role, count in counts.items():
        for number in range(2, count + 1):
            add(f"{prefixes[role]}{number}", role, None if role is Role.ADMIN else center)
    for dept_id, kind in w.department_kinds.items():
        if kind is DepartmentKind.CENTER:
            continue
        code = next(code for code, i in w.department_ids.items() if i == dept_id)
        for number in range(1, 3):
            login = f"h_{code.lower().replace('-', '_')}{number}"
            w.handlers_by_department.setdefault(dept_id, []).append(
                add(login, Role.HANDLER, dept_id)
            )
    w.sink.insert(
        "staff_user",
        (
            "id",
            "login",
            "display_name",
            "role",
            "department_id",
            "password_hash",
            "active",
            "failed_logins",
            "created_at",
        ),
        staff,
    )


def _write_shifts(w: World) -> None:
    """Every shift from the first day to the current one, each with a lead; ``lead1`` leads
    the current shift so the demo's lead sees it as theirs."""
    leads = w.staff[Role.LEAD]
    current = w.current_shift
    w.shift_leads = [leads[(index * 7 + index // 3) % len(leads)] for index in range(current + 1)]
    w.shift_leads[current] = w.users["lead1"]
    if current > 0 and w.shift_leads[current - 1] == w.users["lead1"]:
        w.shift_leads[current - 1] = leads[1]
    stamps, first = w.stamps, w.first_shift_s
    w.sink.insert(
        "shift",
        ("id", "name", "starts_at", "ends_at", "lead_id"),
        (
            (
                index + 1,
                SHIFT_NAMES[index % 3],
                stamps(first + index * SHIFT_SECONDS),
                stamps(first + (index + 1) * SHIFT_SECONDS),
                w.shift_leads[index],
            )
            for index in range(current + 1)
        ),
    )
