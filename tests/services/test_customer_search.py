"""Customer search: every kind, keyset paging both ways, masking, permissions, index use.

Runs on SQLite and PostgreSQL (the ``db`` fixture). Customers are written with the same
derived search keys the import and the demo write (``desk.rules.names``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from desk.infra import migrations
from desk.infra.database import Database, now_of
from desk.infra.errors import InvalidInput, PermissionDenied
from desk.models import Customer, CustomerPhone, StaffUser, WorkOrder
from desk.rules.masking import mask_id_card, mask_name, mask_phone
from desk.rules.names import name_keys, reverse
from desk.rules.permissions import Actor
from desk.rules.vocab import Role
from desk.services.search import (
    MAX_LIMIT,
    CustomerHit,
    SearchKind,
    SearchPage,
    Unsearchable,
    _warming_reads,
    classify_query,
    search_customers,
    warm_search_indexes,
)
from tests.conftest import set_user

K = SearchKind

# --- helpers shared with test_customer_card.py ---------------------------------------------


@dataclass(frozen=True)
class NewCustomer:
    name: str
    phones: Sequence[str] = ()
    id_card: str = "110101199001010000"
    customer_no: str | None = None
    tier: str = "standard"
    big_customer_class: str | None = None
    status: str = "active"
    region: str = "北京市朝阳区"
    address: str | None = None
    arrears_cents: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def add_customers(db: Database, people: Sequence[NewCustomer]) -> list[int]:
    """Write customers and their phones (first phone primary); returns their ids in order."""
    ids: list[int] = []
    with db.session(write=True) as session:
        now = now_of(session)
        for person in people:
            keys = name_keys(person.name)
            customer = Customer(
                customer_no=person.customer_no or "",
                name=person.name,
                name_spaced=keys.spaced,
                name_pinyin=keys.pinyin,
                name_initials=keys.initials,
                id_card_no=person.id_card,
                id_card_rev=reverse(person.id_card),
                tier=person.tier,
                big_customer_class=person.big_customer_class,
                status=person.status,
                region=person.region,
                address=person.address,
                arrears_cents=person.arrears_cents,
                created_at=now,
                **person.extra,  # type: ignore[arg-type]
            )
            session.add(customer)
            session.flush()
            assert customer.id is not None
            if not person.customer_no:
                customer.customer_no = f"C{customer.id:09d}"
            for index, phone in enumerate(person.phones):
                session.add(
                    CustomerPhone(
                        customer_id=customer.id,
                        phone=phone,
                        phone_rev=reverse(phone),
                        kind="fixed" if phone.startswith("0") else "mobile",
                        is_primary=index == 0,
                    )
                )
            ids.append(customer.id)
    return ids


def add_staff(db: Database, *roles: Role, login: str | None = None) -> list[Actor]:
    """Real staff rows (the audit log's actor_id is a foreign key) and their Actors, written in
    one transaction; each login is the role's name unless ``login`` is given."""
    actors: list[Actor] = []
    with db.session(write=True) as session:
        for role in roles:
            name = login or role.value
            user = StaffUser(
                login=name,
                display_name=f"{name} name",
                role=role.value,
                password_hash="-",
                created_at=now_of(session),
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            actors.append(Actor(user.id, name, role, user.display_name))
    return actors


@pytest.fixture
def staff(db: Database) -> dict[Role, Actor]:
    return {actor.role: actor for actor in add_staff(db, *Role)}


def all_pages(
    db: Database, actor: Actor, query: str, *, limit: int
) -> tuple[list[SearchPage], list[SearchPage]]:
    """Every page forward from the start, then every page backward from the last one."""
    forward = [search_customers(db, actor=actor, query=query, limit=limit)]
    while forward[-1].next_cursor is not None:
        cursor = forward[-1].next_cursor
        forward.append(search_customers(db, actor=actor, query=query, after=cursor, limit=limit))
        assert len(forward) < 100
    backward = [forward[-1]]
    while backward[-1].prev_cursor is not None:
        cursor = backward[-1].prev_cursor
        backward.append(search_customers(db, actor=actor, query=query, before=cursor, limit=limit))
        assert len(backward) < 100
    return forward, backward[::-1]


def ids_of(pages: Sequence[SearchPage]) -> list[int]:
    return [hit.id for page in pages for hit in page.hits]


# --- classify_query (pure) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        ("13812345678", (K.PHONE_EXACT,)),
        ("１３８１２３４５６７８", (K.PHONE_EXACT,)),  # full-width, from a Chinese IME
        ("ｚｓｆ", (K.PINYIN_INITIALS, K.PINYIN_FULL)),
        ("١٣٨١٢٣٤٥٦٧٨", ()),  # other scripts' digits are not phone digits
        (" 138 1234 5678 ", (K.PHONE_EXACT,)),
        ("138-1234-5678", (K.PHONE_EXACT,)),
        ("+8613812345678", (K.PHONE_EXACT,)),
        ("+86 138 1234 5678", (K.PHONE_EXACT,)),
        ("01088886666", (K.PHONE_EXACT,)),
        ("010-88886666", (K.PHONE_EXACT,)),
        ("(0755)88886666", (K.PHONE_EXACT,)),
        ("1234", (K.PHONE_SUFFIX, K.ID_SUFFIX)),
        ("123456", (K.PHONE_SUFFIX, K.ID_SUFFIX)),
        ("12345678", (K.CUSTOMER_NO, K.PHONE_SUFFIX, K.ID_SUFFIX)),
        ("2345678901234", (K.CUSTOMER_NO, K.ID_SUFFIX)),
        ("11010119900101123X", (K.ID_SUFFIX,)),
        ("123x", (K.ID_SUFFIX,)),
        ("0123X", (K.ID_SUFFIX,)),
        ("张", (K.NAME_FRAGMENT,)),
        ("张三", (K.NAME_FRAGMENT,)),
        ("张 三", (K.NAME_FRAGMENT,)),
        ("阿依·买", (K.NAME_FRAGMENT,)),
        ("zs", (K.PINYIN_INITIALS, K.PINYIN_FULL)),
        ("ZSF", (K.PINYIN_INITIALS, K.PINYIN_FULL)),
        ("zhan", (K.PINYIN_INITIALS, K.PINYIN_FULL)),
        ("zhang", (K.PINYIN_FULL, K.PINYIN_INITIALS)),
        ("zhangsanfeng", (K.PINYIN_FULL, K.PINYIN_INITIALS)),
        ("WO20261102000123", (K.WORK_ORDER,)),
        ("wo20261102000123", (K.WORK_ORDER,)),
        ("C000000123", (K.CUSTOMER_NO,)),
        ("c000000123", (K.CUSTOMER_NO,)),
        ("", ()),
        ("   ", ()),
        ("z", ()),
        ("123", ()),
        ("1234567890123456789", ()),
        ("张san", ()),
        ("zhang san!", ()),
        ("%", ()),
        ('"', ()),
        ("12a34", ()),
    ],
)
def test_classify_query(query: str, kinds: tuple[SearchKind, ...]) -> None:
    assert classify_query(query) == kinds


@given(st.from_regex(r"1[0-9]{10}", fullmatch=True))
def test_any_11_digits_starting_with_1_is_an_exact_phone(query: str) -> None:
    assert classify_query(query) == (K.PHONE_EXACT,)


@given(st.text(max_size=40))
def test_classify_never_raises(query: str) -> None:
    kinds = classify_query(query)
    assert len(set(kinds)) == len(kinds)
    assert all(isinstance(kind, SearchKind) for kind in kinds)


# --- every kind finds the right customer -----------------------------------------------------


@pytest.fixture
def people(db: Database) -> dict[str, int]:
    names = [
        NewCustomer("张三丰", ["13800001234"], "11010119900101123X", "C000000101"),
        NewCustomer("张三", ["13900004321", "13700009999"], "110101199001015678"),
        NewCustomer("李四", ["01088886666"], "440305198512310021"),
        NewCustomer("欧阳娜娜", ["15000002468"], "310115200002020042"),
        NewCustomer("王五", ["18600001357"], "510107197707070777"),
    ]
    ids = add_customers(db, names)
    with db.session(write=True) as session:
        session.add(
            WorkOrder(
                number="WO20261102000001",
                customer_id=ids[2],
                category="complaint",
                title="t",
                description="d",
                created_at=now_of(session),
                updated_at=now_of(session),
            )
        )
    return {person.name: customer_id for person, customer_id in zip(names, ids, strict=True)}


FINDS: list[tuple[str, SearchKind, list[str]]] = [
    ("13800001234", K.PHONE_EXACT, ["张三丰"]),
    ("+86 138 0000 1234", K.PHONE_EXACT, ["张三丰"]),
    ("１３８００００１２３４", K.PHONE_EXACT, ["张三丰"]),
    ("13700009999", K.PHONE_EXACT, ["张三"]),  # a second phone
    ("010-88886666", K.PHONE_EXACT, ["李四"]),  # stored as digits
    ("01088886666", K.PHONE_EXACT, ["李四"]),
    ("1234", K.PHONE_SUFFIX, ["张三丰"]),
    ("9999", K.PHONE_SUFFIX, ["张三"]),
    ("86666", K.PHONE_SUFFIX, ["李四"]),
    ("123X", K.ID_SUFFIX, ["张三丰"]),
    ("123x", K.ID_SUFFIX, ["张三丰"]),
    ("310021", K.ID_SUFFIX, ["李四"]),
    ("440305198512310021", K.ID_SUFFIX, ["李四"]),
    ("张", K.NAME_FRAGMENT, ["张三丰", "张三"]),
    ("三", K.NAME_FRAGMENT, ["张三丰", "张三"]),
    ("三丰", K.NAME_FRAGMENT, ["张三丰"]),
    ("张三丰", K.NAME_FRAGMENT, ["张三丰"]),
    ("娜娜", K.NAME_FRAGMENT, ["欧阳娜娜"]),
    ("欧阳娜娜", K.NAME_FRAGMENT, ["欧阳娜娜"]),  # longer than a gram
    ("阳娜娜", K.NAME_FRAGMENT, ["欧阳娜娜"]),
    ("zsf", K.PINYIN_INITIALS, ["张三丰"]),
    ("ZS", K.PINYIN_INITIALS, ["张三", "张三丰"]),  # by (initials, id)
    ("oynn", K.PINYIN_INITIALS, ["欧阳娜娜"]),
    ("zhangsan", K.PINYIN_FULL, ["张三", "张三丰"]),
    ("zhangsanf", K.PINYIN_FULL, ["张三丰"]),
    ("ouyang", K.PINYIN_FULL, ["欧阳娜娜"]),
    ("WO20261102000001", K.WORK_ORDER, ["李四"]),
    ("wo20261102000001", K.WORK_ORDER, ["李四"]),
    ("C000000101", K.CUSTOMER_NO, ["张三丰"]),
    ("c000000101", K.CUSTOMER_NO, ["张三丰"]),
]


def test_every_kind_finds_the_right_customer(
    db: Database, people: dict[str, int], staff: dict[Role, Actor]
) -> None:
    for query, kind, expected in FINDS:
        page = search_customers(db, actor=staff[Role.AGENT], query=query)
        assert [hit.id for hit in page.hits] == [people[name] for name in expected], query
        assert {hit.matched_by for hit in page.hits} == {kind}, query
        assert page.next_cursor is None, query
        assert page.prev_cursor is None, query


def test_a_query_matching_nobody_gives_an_empty_page(
    db: Database, people: dict[str, int], staff: dict[Role, Actor]
) -> None:
    nobody = ["13800009999", "5555", "999X", "赵", "张四", "qq", "WO20990101000001", "C999999999"]
    for query in nobody:
        page = search_customers(db, actor=staff[Role.AGENT], query=query)
        assert page.kinds == classify_query(query) != ()
        assert page == SearchPage(query, page.kinds, (), None, None)


def test_hits_are_masked(db: Database, people: dict[str, int], staff: dict[Role, Actor]) -> None:
    (hit,) = search_customers(db, actor=staff[Role.AGENT], query="9999").hits
    assert hit == CustomerHit(
        id=people["张三"],
        customer_no=f"C{people['张三']:09d}",
        name_masked="张*",
        phone_masked="137****9999",  # the phone that matched, not the primary one
        id_card_masked="110***********5678",
        tier="standard",
        big_customer_class=None,
        status="active",
        region="北京市朝阳区",
        arrears_cents=0,
        matched_by=K.PHONE_SUFFIX,
    )
    (by_name,) = search_customers(db, actor=staff[Role.AGENT], query="张三丰").hits
    assert by_name.phone_masked == mask_phone("13800001234")  # the primary phone
    assert by_name.name_masked == mask_name("张三丰") == "张**"
    assert by_name.id_card_masked == mask_id_card("11010119900101123X")
    assert "张三丰" not in repr(by_name)
    assert "13800001234" not in repr(by_name)


# --- paging ----------------------------------------------------------------------------------


GIVEN = "一二三四五六七八九十百千万亿金木水火土日月星辰山川"


def test_paging_a_name_fragment_forward_and_back(db: Database, staff: dict[Role, Actor]) -> None:
    ids = add_customers(
        db,
        [NewCustomer("王" + char, [f"1390000{n:04d}"]) for n, char in enumerate(GIVEN)]
        + [NewCustomer("李雷", ["13900009998"])],
    )
    wang = ids[:-1]
    forward, backward = all_pages(db, staff[Role.AGENT], "王", limit=10)
    assert [len(page.hits) for page in forward] == [10, 10, len(wang) - 20]
    assert ids_of(forward) == sorted(wang)  # every match once, in customer-id order
    assert [ids_of([page]) for page in backward] == [ids_of([page]) for page in forward]
    assert forward[0].prev_cursor is None
    assert backward[0].prev_cursor is None
    assert forward[-1].next_cursor is None


def test_paging_pinyin_across_both_kinds_shows_each_customer_once(
    db: Database, staff: dict[Role, Actor]
) -> None:
    people = (
        [NewCustomer("王安" + char) for char in "一二三四五六七"]  # initials wax, pinyin wangan…
        + [NewCustomer("万" + char) for char in "金木水火土日"]  # initials w…, pinyin wan…
        + [NewCustomer("吴爱" + char) for char in "山川"]  # initials wax, pinyin wuai…
        + [NewCustomer("李" + char) for char in "金木"]  # neither
    )
    ids = add_customers(db, people)
    keyed = [(name_keys(person.name), cid) for person, cid in zip(people, ids, strict=True)]
    by_initials = sorted((k.initials, cid) for k, cid in keyed if k.initials.startswith("wa"))
    seen = {cid for _, cid in by_initials}
    by_pinyin = sorted(
        (k.pinyin, cid) for k, cid in keyed if k.pinyin.startswith("wa") and cid not in seen
    )
    expected = [cid for _, cid in by_initials] + [cid for _, cid in by_pinyin]
    assert len(by_initials) == 9
    assert len(by_pinyin) == 6

    forward, backward = all_pages(db, staff[Role.AGENT], "wa", limit=4)
    assert ids_of(forward) == expected
    assert [ids_of([page]) for page in backward] == [ids_of([page]) for page in forward]
    kinds = [hit.matched_by for page in forward for hit in page.hits]
    assert kinds == [K.PINYIN_INITIALS] * 9 + [K.PINYIN_FULL] * 6
    # a page that straddles the two kinds
    assert {hit.matched_by for hit in forward[2].hits} == {K.PINYIN_INITIALS, K.PINYIN_FULL}


def test_short_digit_queries_and_a_4_digit_tail(db: Database, staff: dict[Role, Actor]) -> None:
    people = [
        NewCustomer("甲", ["13800001234"], id_card="110101199001010000"),
        NewCustomer("乙", ["13800002000"], id_card="110101199001021234"),
        NewCustomer("丙", ["13800003000"], id_card="110101199001030000"),
    ]
    ids = add_customers(db, people)
    agent = staff[Role.AGENT]
    assert search_customers(db, actor=agent, query="234").hits == ()  # 3 digits mean nothing
    hits = search_customers(db, actor=agent, query="1234").hits
    assert [(hit.id, hit.matched_by) for hit in hits] == [
        (ids[0], K.PHONE_SUFFIX),
        (ids[1], K.ID_SUFFIX),
    ]


def test_paging_phone_then_id_tails_shows_each_customer_once(
    db: Database, staff: dict[Role, Actor]
) -> None:
    query = "0077"
    people = [
        NewCustomer(f"甲{n}", [f"138{n:04d}0077"], f"1101011990{n:04d}1000") for n in range(7)
    ]
    people += [
        NewCustomer(f"乙{n}", [f"139{n:04d}1100"], f"1101011990{n:04d}0077") for n in range(6)
    ]
    people += [
        NewCustomer("丙", ["13899990077"], "110101199099990077"),  # phone and ID tails
        NewCustomer("丁", ["13799990077", "13699990077"], "110101199099991111"),  # two phones
        NewCustomer("戊", ["13599991111"], "110101199099992222"),  # neither
    ]
    ids = add_customers(db, people)
    pairs = list(zip(people, ids, strict=True))
    phone_matches = sorted(
        (min(reverse(p) for p in person.phones if p.endswith(query)), cid)
        for person, cid in pairs
        if any(p.endswith(query) for p in person.phones)
    )
    seen = {cid for _, cid in phone_matches}
    id_matches = sorted(
        (reverse(person.id_card), cid)
        for person, cid in pairs
        if person.id_card.endswith(query) and cid not in seen
    )
    expected = [cid for _, cid in phone_matches] + [cid for _, cid in id_matches]
    assert (len(phone_matches), len(id_matches)) == (9, 6)

    forward, backward = all_pages(db, staff[Role.AGENT], query, limit=4)
    assert [len(page.hits) for page in forward] == [4, 4, 4, 3]
    assert ids_of(forward) == expected
    assert [ids_of([page]) for page in backward] == [ids_of([page]) for page in forward]
    hits = [hit for page in forward for hit in page.hits]
    assert [hit.matched_by for hit in hits] == [K.PHONE_SUFFIX] * 9 + [K.ID_SUFFIX] * 6
    ding = next(hit for hit in hits if hit.id == ids[-2])
    assert ding.phone_masked == mask_phone("13699990077")  # its first phone in stream order
    assert ids[-1] not in ids_of(forward)


def _reforged(cursor: str, change: Callable[[list[Any]], None]) -> str:
    """A real cursor, decoded, edited by ``change`` and encoded again (what someone editing
    the page marker by hand could send: its fingerprint still matches the query)."""
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    change(payload)
    raw = json.dumps(payload, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _set(index: int, value: object, part: int | None = None) -> Callable[[list[Any]], None]:
    def change(payload: list[Any]) -> None:
        if part is None:
            payload[index] = value
        else:
            payload[index][part] = value

    return change


FORGERIES = {
    "text for an id": ("张", _set(3, "abc", 0)),
    "an id past 64 bits": ("张", _set(3, 2**70, 0)),
    "a negative id": ("张", _set(3, -1, 0)),
    "a float id": ("张", _set(3, 1.5, 0)),
    "true for an id": ("张", _set(3, True, 0)),
    "a NUL byte in a text key": ("zs", _set(3, "zs\x00", 0)),
    "an id for a text key": ("zs", _set(3, 7, 0)),
    "text for the id after a text key": ("zs", _set(3, "x", 1)),
    "a key too short": ("zs", _set(3, ["zs"])),
    "a stream that does not exist": ("zs", _set(2, 9)),
    "a negative place": ("张", _set(4, -5)),
    "an older version": ("张", _set(0, 1)),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_forged_cursor_is_invalid_input_never_a_database_error(
    db: Database, people: dict[str, int], staff: dict[Role, Actor], forgery: str
) -> None:
    query, change = FORGERIES[forgery]
    agent = staff[Role.AGENT]
    first = search_customers(db, actor=agent, query=query, limit=1)
    assert first.next_cursor is not None
    forged = _reforged(first.next_cursor, change)
    for direction in ("after", "before"):
        with pytest.raises(InvalidInput) as refused:
            search_customers(db, actor=agent, query=query, limit=1, **{direction: forged})
        assert refused.value.field == "cursor"


@pytest.mark.parametrize("query", ["张\x00", "\x00", "1381234\x005678", "zs\x1b[2J"])
def test_a_control_character_in_a_query_is_invalid_input(
    db: Database, people: dict[str, int], staff: dict[Role, Actor], query: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        search_customers(db, actor=staff[Role.AGENT], query=query)
    assert refused.value.field == "query"


def test_cursors_are_checked(
    db: Database, people: dict[str, int], staff: dict[Role, Actor]
) -> None:
    agent = staff[Role.AGENT]
    first = search_customers(db, actor=agent, query="张", limit=1)
    assert first.next_cursor is not None
    with pytest.raises(InvalidInput) as error:
        search_customers(db, actor=agent, query="三", after=first.next_cursor, limit=1)
    assert error.value.field == "cursor"
    for bad in ["", "nonsense", "W1tdXQ", first.next_cursor[:-2]]:
        with pytest.raises(InvalidInput):
            search_customers(db, actor=agent, query="张", after=bad, limit=1)
    with pytest.raises(InvalidInput):
        search_customers(
            db, actor=agent, query="张", after=first.next_cursor, before=first.next_cursor
        )
    for limit in (0, MAX_LIMIT + 1):
        with pytest.raises(InvalidInput) as error:
            search_customers(db, actor=agent, query="张", limit=limit)
        assert error.value.field == "limit"
    assert len(search_customers(db, actor=agent, query="张", limit=MAX_LIMIT).hits) == 2


# --- permissions and queries that mean nothing --------------------------------------------------


def test_a_handler_may_not_search(db: Database, staff: dict[Role, Actor]) -> None:
    with pytest.raises(PermissionDenied):
        search_customers(db, actor=staff[Role.HANDLER], query="张")
    with pytest.raises(PermissionDenied):
        search_customers(db, actor=staff[Role.ADMIN], query="")


@pytest.mark.parametrize("role", [Role.AGENT, Role.LEAD, Role.COMPLAINT_LEAD, Role.SUPERVISOR])
def test_the_floor_may_search(
    db: Database, people: dict[str, int], staff: dict[Role, Actor], role: Role
) -> None:
    assert [hit.id for hit in search_customers(db, actor=staff[role], query="李").hits] == [
        people["李四"]
    ]


@pytest.mark.parametrize("query", ["13800001234", "张", "13800009999", "5678", "", "%%"])
def test_a_disabled_agent_is_refused_whether_the_query_finds_anyone(
    db: Database, people: dict[str, int], staff: dict[Role, Actor], query: str
) -> None:
    """The check rides on the page's first statement that finds a row: a hit, a hit of the
    second stream only (5678 ends an ID card, no phone), no hit and no statement at all each
    refuse a user disabled since sign-in, and one demoted to a role that may not search."""
    agent, lead = staff[Role.AGENT], staff[Role.LEAD]
    assert search_customers(db, actor=agent, query=query).query == query
    set_user(db, agent.user_id, active=False)
    with pytest.raises(PermissionDenied, match="no longer an active user"):
        search_customers(db, actor=agent, query=query)
    set_user(db, lead.user_id, role=Role.HANDLER.value)
    with pytest.raises(PermissionDenied, match="is now handler"):
        search_customers(db, actor=lead, query=query)


def test_a_disabled_agent_with_a_bad_cursor_hears_that_first(
    db: Database, people: dict[str, int], staff: dict[Role, Actor]
) -> None:
    agent = staff[Role.AGENT]
    set_user(db, agent.user_id, active=False)
    with pytest.raises(PermissionDenied):
        search_customers(db, actor=agent, query="张", after="forged")


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def _record(_conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", _record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", _record)


def test_a_lookup_is_one_statement_outside_any_transaction(
    db: Database, people: dict[str, int], staff: dict[Role, Actor]
) -> None:
    """An exact phone found: the page and the check that the agent may still search are one
    statement; on PostgreSQL without BEGIN/COMMIT around it (the driver in autocommit)."""
    seen: list[tuple[str, bool]] = []

    def _record(conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        driver = conn.connection.driver_connection
        seen.append((statement, bool(getattr(driver, "autocommit", False))))

    event.listen(db.engine, "before_cursor_execute", _record)
    try:
        page = search_customers(db, actor=staff[Role.AGENT], query="13800001234")
    finally:
        event.remove(db.engine, "before_cursor_execute", _record)
    assert [hit.id for hit in page.hits] == [people["张三丰"]]
    sent = [(s, auto) for s, auto in seen if s.strip().upper() != "BEGIN"]  # SQLite's own
    assert len(sent) == 1, seen
    assert "staff_user" in sent[0][0]
    assert sent[0][1] is (not db.is_sqlite)
    with db.session(write=False) as session:  # the pool's connection is as it was
        assert session.connection().connection.driver_connection is not None
        driver = session.connection().connection.driver_connection
        assert not getattr(driver, "autocommit", False)


def test_an_empty_first_stream_passes_the_check_to_the_next_statement(
    db: Database, people: dict[str, int], staff: dict[Role, Actor], statements: list[str]
) -> None:
    """5678 ends no phone but an ID card: the phone stream's statement finds nothing, so the
    ID stream's statement reads the agent's role, and no statement reads it on its own."""
    page = search_customers(db, actor=staff[Role.AGENT], query="5678")
    assert [hit.id for hit in page.hits] == [people["张三"]]
    assert page.hits[0].matched_by is K.ID_SUFFIX
    reads = [s for s in statements if re.search(r"\bFROM\b", s, re.IGNORECASE)]
    assert len(reads) == 2, reads
    assert ["staff_user" in s for s in reads] == [True, True]
    assert not [s for s in reads if re.match(r"\s*SELECT\b[^(]*\bFROM staff_user\b", s)]


def test_a_query_that_means_nothing_reads_no_table(
    db: Database, people: dict[str, int], staff: dict[Role, Actor], statements: list[str]
) -> None:
    why = {
        "": (None, ""),
        "   ": (None, ""),
        "z": (Unsearchable.TOO_SHORT, ""),
        "7": (Unsearchable.TOO_SHORT, ""),
        "123": (Unsearchable.TOO_SHORT, ""),
        "%%": (Unsearchable.CHARACTERS, "%"),
        "张3": (Unsearchable.MIXED, ""),
        "ab!cd": (Unsearchable.CHARACTERS, "!"),
        "张三!?": (Unsearchable.CHARACTERS, "!?"),
        "1234567890123456789": (Unsearchable.TOO_LONG, ""),
    }
    for query, (reason, odd) in why.items():
        page = search_customers(db, actor=staff[Role.AGENT], query=query)
        assert page == SearchPage(query, (), (), None, None, unsearchable=reason, odd=odd)
    # Only the check that the agent is still an active user reads a table.
    reads = [s for s in statements if re.search(r"\bFROM\b", s, re.IGNORECASE)]
    assert reads
    assert not [s for s in reads if not re.search(r"FROM staff_user\s", s)]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(query=st.text(max_size=24))
def test_search_never_fails_on_any_text(
    db: Database, people: dict[str, int], staff: dict[Role, Actor], query: str
) -> None:
    """Any text is a page or InvalidInput naming the query (a control character, a NUL byte:
    nothing the database would refuse ever reaches it)."""
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", query):
        with pytest.raises(InvalidInput) as refused:
            search_customers(db, actor=staff[Role.AGENT], query=query, limit=3)
        assert refused.value.field == "query"
        return
    page = search_customers(db, actor=staff[Role.AGENT], query=query, limit=3)
    assert page.kinds == classify_query(query)
    assert len(page.hits) <= 3
    if page.kinds:
        assert page.unsearchable is None


# --- the plans: index order, no sort of the whole match set -----------------------------------

RANGE_QUERIES = {
    "1234": ("ix_customer_phone_rev", "ix_customer_phone_rev_c"),
    "123X": ("ix_customer_id_card_rev", "ix_customer_id_card_rev_c"),
    "zsf": ("ix_customer_name_initials", "ix_customer_name_initials_c"),
    "zhangsan": ("ix_customer_name_pinyin", "ix_customer_name_pinyin_c"),
    "张": ("VIRTUAL TABLE", "customer_name_gram_pkey"),  # FTS5 over customer_fts
    "张三": ("VIRTUAL TABLE", "customer_name_gram_pkey"),
}


@pytest.mark.parametrize("query", list(RANGE_QUERIES))
def test_each_stream_reads_its_index_in_order(
    db: Database,
    people: dict[str, int],
    staff: dict[Role, Actor],
    statements: list[str],
    query: str,
) -> None:
    """The first stream's query is served by its index, already sorted (no sort step), so a
    page stops after ``limit`` rows whatever the number of matches."""
    search_customers(db, actor=staff[Role.AGENT], query=query)
    first = next(s for s in statements if "ORDER BY" in s and "LIMIT" in s)
    sqlite_index, pg_index = RANGE_QUERIES[query]
    captured: dict[str, object] = {}

    def _params(
        _conn: Connection, _cursor: object, statement: str, params: object, *_: object
    ) -> None:
        if statement == first:
            captured["params"] = params

    event.listen(db.engine, "before_cursor_execute", _params)
    try:
        search_customers(db, actor=staff[Role.AGENT], query=query)
    finally:
        event.remove(db.engine, "before_cursor_execute", _params)
    params = captured["params"]
    with db.engine.connect() as connection:
        if db.is_sqlite:
            rows = list(connection.exec_driver_sql("EXPLAIN QUERY PLAN " + first, params))  # type: ignore[arg-type]
            page = _sqlite_subtree(rows, "MATERIALIZE s")
            assert sqlite_index in " | ".join(page), rows
            assert not [step for step in page if "TEMP B-TREE" in step], rows
        else:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            (plan,) = connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + first,
                params,  # type: ignore[arg-type]
            ).one()
            limits = [  # the primary-phone sub-plan has its own LIMIT 1
                node for node in _pg_nodes(plan[0]["Plan"], "Limit") if "Subplan Name" not in node
            ]
            assert len(limits) == 1, plan  # the page is cut inside, before the details join
            below = limits[0]["Plans"][0]
            assert "Sort" not in below["Node Type"], plan  # the index delivers the order
            assert pg_index in json.dumps(below), plan
            assert 'COLLATE "C"' in first or "customer_name_gram" in first


def _sqlite_subtree(rows: Sequence[Sequence[object]], head: str) -> list[str]:
    """The plan steps under the step named ``head`` (EXPLAIN QUERY PLAN: id, parent, -, text)."""
    top = next(row[0] for row in rows if str(row[3]).startswith(head))
    inside = {top}
    steps: list[str] = []
    for row in rows:
        if row[1] in inside:
            inside.add(row[0])
            steps.append(str(row[3]))
    return steps


def _pg_nodes(node: dict[str, Any], kind: str) -> Iterator[dict[str, Any]]:
    if node["Node Type"] == kind:
        yield node
    for child in node.get("Plans", []):
        yield from _pg_nodes(child, kind)


def test_postgres_ranges_compare_bytes(pg_db: Database) -> None:
    """Under a language collation a prefix range is not contiguous; our columns are compared
    with COLLATE "C", where it is, and where U+10FFFF sorts after every character."""
    with pg_db.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT 'zs' COLLATE \"C\" < 'zsa' COLLATE \"C\", "
                "'zsa' COLLATE \"C\" < ('zs' || chr(1114111)) COLLATE \"C\", "
                "'zt' COLLATE \"C\" > ('zs' || chr(1114111)) COLLATE \"C\""
            )
        ).one()
    assert tuple(row) == (True, True, True)


# --- names as people say them ----------------------------------------------------------------

SAID = [NewCustomer("单田芳"), NewCustomer("解晓东"), NewCustomer("尉迟恭"), NewCustomer("张三")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("shantianfang", ["单田芳"]),
        ("shan tian", ["单田芳"]),
        ("stf", ["单田芳"]),
        ("xie xiao dong", ["解晓东"]),
        ("xxd", ["解晓东"]),
        ("yuchi", ["尉迟恭"]),
        ("zhang san", ["张三"]),  # a space between syllables finds what zhangsan finds
        ("zhangsan", ["张三"]),
        ("dantian", []),  # the reading nobody says
        ("jiexiao", []),
    ],
)
def test_names_are_found_as_people_say_them(
    db: Database, staff: dict[Role, Actor], query: str, expected: list[str]
) -> None:
    ids = dict(zip([c.name for c in SAID], add_customers(db, SAID), strict=True))
    hits = search_customers(db, actor=staff[Role.AGENT], query=query).hits
    assert [hit.id for hit in hits] == [ids[name] for name in expected]


def test_migration_0014_reads_surnames_of_customers_indexed_before(
    db: Database, staff: dict[Role, Actor]
) -> None:
    """Customers indexed character by character (as before 0014) are found by the surname's
    reading once 0014 ran; a name without such a surname is left as it was."""
    ids = add_customers(db, SAID)

    def keys() -> list[tuple[str, str]]:
        with db.session(write=False) as session:
            rows = session.execute(
                text(
                    "SELECT name_pinyin, name_initials FROM customer WHERE id IN (:a, :b, :c, :d)"
                ),
                dict(zip("abcd", ids, strict=True)),
            )
            return sorted((str(row[0]), str(row[1])) for row in rows)

    migrations.downgrade(db, "0013_workspace_indexes")
    try:
        assert keys() == sorted(
            [("dantianfang", "dtf"), ("jiexiaodong", "jxd"), ("weichigong", "wcg"),
             ("zhangsan", "zs")]
        )  # fmt: skip
        assert search_customers(db, actor=staff[Role.AGENT], query="shantian").hits == ()
    finally:
        migrations.upgrade(db)
    assert keys() == sorted(
        [("shantianfang", "stf"), ("xiexiaodong", "xxd"), ("yuchigong", "ycg"), ("zhangsan", "zs")]
    )
    hits = search_customers(db, actor=staff[Role.AGENT], query="shantian").hits
    assert [hit.id for hit in hits] == ids[:1]


# --- warming after a start ------------------------------------------------------------------


def test_warming_reads_each_search_index_and_changes_nothing(
    db: Database, people: dict[str, int], staff: dict[Role, Actor]
) -> None:
    """Each range read of the warm-up walks its index alone (a covering index on SQLite, no
    table), the whole set runs on both databases, and lookups find what they found."""
    before = search_customers(db, actor=staff[Role.AGENT], query="zs")
    warm_search_indexes(db)
    assert search_customers(db, actor=staff[Role.AGENT], query="zs") == before
    if db.is_sqlite:
        with db.connection(write=False) as connection:
            for statement in _warming_reads("sqlite")[:7]:
                compiled = statement.compile(dialect=connection.dialect)
                plan = " ".join(
                    str(row[-1])
                    for row in connection.exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params.values())
                    )
                )
                assert "COVERING INDEX" in plan, (str(compiled), plan)


# --- migration 0002 --------------------------------------------------------------------------


def test_migration_0002_backfills_and_keeps_name_grams(
    db: Database, staff: dict[Role, Actor]
) -> None:
    ids = add_customers(db, [NewCustomer("赵钱孙"), NewCustomer("钱多多")])
    migrations.downgrade(db, "0001")
    try:
        migrations.upgrade(db)
        hits = search_customers(db, actor=staff[Role.AGENT], query="钱").hits
        assert [hit.id for hit in hits] == ids
        with db.session(write=True) as session:  # a rename moves the name's grams
            session.execute(
                text(
                    "UPDATE customer SET name = '孙悟空', name_spaced = '孙 悟 空' WHERE id = :id"
                ),
                {"id": ids[1]},
            )
        assert [
            h.id for h in search_customers(db, actor=staff[Role.AGENT], query="钱").hits
        ] == ids[:1]
        assert [
            h.id for h in search_customers(db, actor=staff[Role.AGENT], query="悟空").hits
        ] == ids[1:]
        with db.session(write=True) as session:  # a removed customer leaves no grams behind
            session.execute(text("DELETE FROM customer WHERE id = :id"), {"id": ids[0]})
        assert search_customers(db, actor=staff[Role.AGENT], query="赵").hits == ()
    finally:
        migrations.upgrade(db)
    assert migrations.is_current(db)


def _grams(spaced: str) -> set[str]:
    """Every 1-, 2- and 3-character run of a name, separators removed (what 0002 defined)."""
    letters = re.sub(r"[\s·•]+", "", spaced)
    return {letters[i : i + n] for n in (1, 2, 3) for i in range(len(letters) - n + 1)}


GRAM_NAMES = [
    "张 三",
    "欧 阳 娜 娜",
    "娜 娜 娜 娜",
    "王",
    "",
    "阿 卜 杜 · 热 合 曼",
    "李•四",
    "Anna Li",
]


def test_migration_0019_makes_the_same_grams_and_drops_only_unused_indexes(
    pg_db: Database,
) -> None:
    """The loop of 0019 makes the grams the self-joins of 0002 made; going back and forth
    keeps the grams of customers added on either side, and the indexes search reads."""
    db = pg_db
    (agent,) = add_staff(db, Role.AGENT)

    def grams_of(spaced: str) -> set[str]:
        with db.session(write=False) as session:
            found = session.execute(text("SELECT desk_name_grams(:s)"), {"s": spaced})
            return {str(gram) for (gram,) in found}

    def indexes() -> set[str]:
        with db.session(write=False) as session:
            found = session.execute(
                text(
                    "SELECT indexname FROM pg_indexes "
                    "WHERE tablename IN ('customer', 'customer_phone')"
                )
            )
            return {str(name) for (name,) in found}

    now = {spaced: grams_of(spaced) for spaced in GRAM_NAMES}
    assert now == {spaced: _grams(spaced) for spaced in GRAM_NAMES}
    after = indexes()
    assert "ix_customer_name_tsv" not in after
    assert "ix_customer_name_pinyin" not in after
    assert {"ix_customer_name_pinyin_c", "ix_customer_phone_rev_c"} <= after
    migrations.downgrade(db, "0018_handover_indexes")
    try:
        assert {spaced: grams_of(spaced) for spaced in GRAM_NAMES} == now
        assert indexes() - after == {
            "ix_customer_name",  # migration 0021 on the way
            "ix_customer_name_tsv",
            "ix_customer_name_pinyin",
            "ix_customer_name_initials",
            "ix_customer_id_card_rev",
            "ix_customer_phone_rev",
        }
        before = add_customers(db, [NewCustomer("钱多多")])
    finally:
        migrations.upgrade(db)
    assert indexes() == after
    later = add_customers(db, [NewCustomer("钱多")])
    hits = search_customers(db, actor=agent, query="钱多").hits
    assert [hit.id for hit in hits] == before + later


def test_birthday_and_other_columns_do_not_disturb_search(
    db: Database, staff: dict[Role, Actor]
) -> None:
    (cid,) = add_customers(
        db, [NewCustomer("周杰", ["13512345678"], extra={"birthday": date(1990, 1, 18)})]
    )
    assert [h.id for h in search_customers(db, actor=staff[Role.AGENT], query="zj").hits] == [cid]


def test_migration_0020_inserts_grams_of_new_customers_without_a_conflict_check(
    pg_db: Database,
) -> None:
    """A new customer's grams go in without ON CONFLICT (each gram of a name comes once: a
    name of one character repeated is one gram row a width); either way they are found, and
    a gram row that is already there is refused, not passed over."""
    db = pg_db
    (agent,) = add_staff(db, Role.AGENT)

    def trigger_checks() -> bool:
        with db.session(write=False) as session:
            source = session.execute(
                text("SELECT prosrc FROM pg_proc WHERE proname = 'customer_name_gram_inserted'")
            ).scalar_one()
        return "ON CONFLICT" in str(source)

    assert not trigger_checks()
    first = add_customers(db, [NewCustomer("娜娜娜娜"), NewCustomer("欧阳娜娜")])
    migrations.downgrade(db, "0019_pg_import_speed")
    try:
        assert trigger_checks()
        second = add_customers(db, [NewCustomer("娜娜")])
    finally:
        migrations.upgrade(db)
    assert not trigger_checks()
    hits = search_customers(db, actor=agent, query="娜娜").hits
    assert sorted(hit.id for hit in hits) == sorted(first + second)
    with db.session(write=True) as session:
        session.execute(
            text("INSERT INTO customer_name_gram (gram, customer_id) VALUES ('钱', :id)"),
            {"id": second[0] + 1000},
        )
    with pytest.raises(IntegrityError), db.session(write=True) as session:
        session.execute(
            text(
                "INSERT INTO customer (id, customer_no, name, name_spaced, name_pinyin, "
                "name_initials, id_card_no, id_card_rev, region, created_at) VALUES "
                "(:id, 'C-LEFT', '钱', '钱', 'qian', 'q', '', '', '杭州', now())"
            ),
            {"id": second[0] + 1000},
        )
