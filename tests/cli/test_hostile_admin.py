"""The admin commands tried as a new user would, with hostile input: bad files, wrong
encodings, broken mapping TOML, missing columns, huge numbers, directories where files go.
Each failure is one sentence on standard error and an exit code, and writes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from desk.cli.failures import EXIT_REFUSED, EXIT_USAGE
from tests.cli.test_failures import _one_line_error, _run, initialised  # noqa: F401
from tests.services.test_imports import TELCO_ROWS, _telco

MAPPINGS = {
    "broken.toml": b'kind = "customers"\n[columns\n',
    "latin1.toml": b'kind = "customers"\n# caf\xe9\n',
    "bills.toml": b'kind = "bills"\n',
    "unknown.toml": b'kind = "customers"\ncolumns = {bogus = "x"}\n',
    "missing.toml": (
        b'kind = "customers"\ncolumns = {customer_no = "no", name = "Nom", region = "r"}\n'
    ),
    "zero.toml": b'kind = "customers"\ntruncate = {name = 0}\n',
    "kind.toml": b"kind = 5\n",
}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.csv").write_text("customer_no,name,region\nC1,张三,杭州\n", encoding="utf-8")
    (folder / "binary.csv").write_bytes(b"\xff\xfe\x00\x00garbage\x81\x82\x00")
    (folder / "lacking.csv").write_text("customer_no,nom\nC1,张三\n", encoding="utf-8")
    (folder / "fake.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    late = "customer_no,name,region\n" + "".join(f"C{n},客户,杭州\n" for n in range(30))
    (folder / "late.csv").write_bytes(late.encode("utf-8") + b"C99,\xff\xfe,x\n")
    (folder / "adir").mkdir()
    for name, body in MAPPINGS.items():
        (folder / name).write_bytes(body)
    return folder


CASES = {
    "no file": (["import", "customers", "{in}/nope.csv"], EXIT_USAGE, "no file"),
    "a directory": (["import", "customers", "{in}/adir"], EXIT_USAGE, "is a directory"),
    "an unknown kind": (["import", "people", "{in}/good.csv"], EXIT_USAGE, "'people'"),
    "no encoding": (["import", "customers", "{in}/binary.csv"], EXIT_REFUSED, "--encoding"),
    "a bad byte late": (
        ["import", "customers", "{in}/late.csv", "--encoding", "utf-8"],
        EXIT_REFUSED,
        "line 32 is not utf-8",
    ),
    "no such encoding": (
        ["import", "customers", "{in}/good.csv", "--encoding", "klingon"],
        EXIT_REFUSED,
        "not an encoding",
    ),
    "UTF-16 without a BOM": (
        ["import", "customers", "{in}/good.csv", "--encoding", "utf-16"],
        EXIT_REFUSED,
        "is not utf-16",
    ),
    "a required column missing": (
        ["import", "customers", "{in}/lacking.csv"],
        EXIT_REFUSED,
        "no column 'name', 'region'",
    ),
    "not a workbook": (["import", "customers", "{in}/fake.xlsx"], EXIT_REFUSED, "not an XLSX"),
    "broken TOML": (
        ["import", "customers", "{in}/good.csv", "--map", "{in}/broken.toml"],
        EXIT_REFUSED,
        "is not TOML",
    ),
    "a mapping not in UTF-8": (
        ["import", "customers", "{in}/good.csv", "--map", "{in}/latin1.toml"],
        EXIT_REFUSED,
        "is not UTF-8 text",
    ),
    "a mapping of another kind": (
        ["import", "customers", "{in}/good.csv", "--map", "{in}/bills.toml"],
        EXIT_REFUSED,
        "maps bills, not customers",
    ),
    "a mapping naming no field": (
        ["import", "customers", "{in}/good.csv", "--map", "{in}/unknown.toml"],
        EXIT_REFUSED,
        "unknown customers field(s) bogus",
    ),
    "a mapped column the file lacks": (
        ["import", "customers", "{in}/good.csv", "--map", "{in}/missing.toml"],
        EXIT_REFUSED,
        "no column 'Nom'",
    ),
    "a mapping's absurd number": (
        ["import", "customers", "{in}/good.csv", "--map", "{in}/zero.toml"],
        EXIT_REFUSED,
        "truncate.name",
    ),
    "a mapping's wrong type": (
        ["import", "customers", "{in}/good.csv", "--map", "{in}/kind.toml"],
        EXIT_REFUSED,
        "kind",
    ),
    "a directory as the mapping": (
        ["import", "customers", "{in}/good.csv", "--map", "{in}/adir"],
        EXIT_REFUSED,
        "is a directory",
    ),
    "an export into a directory": (
        ["export", "customers", "-o", "{in}/adir"],
        EXIT_REFUSED,
        "--output",
    ),
    "an export into no directory": (
        ["export", "customers", "-o", "{in}/nowhere/x.csv"],
        EXIT_REFUSED,
        "no directory",
    ),
    "a date that is none": (
        ["export", "customers", "--from", "yesterday"],
        EXIT_USAGE,
        "--from",
    ),
    "a restore without a manifest": (
        ["restore", "{in}/good.csv"],
        EXIT_REFUSED,
        "no manifest",
    ),
    "a mapping neither here nor shipped": (
        ["import", "customers", "{in}/good.csv", "--map", "telco"],
        EXIT_REFUSED,
        "nor one shipped with desk (comcast_complaints, telco_customer_churn)",
    ),
    "a huge keep": (["backup", "{in}/copies", "--keep", str(10**30)], EXIT_USAGE, ""),
    "an unknown role": (["user", "set-role", "admin", "superuser"], EXIT_USAGE, "'superuser'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_admin_input_is_one_sentence_and_an_exit_code(
    initialised: Path,  # noqa: F811
    files: Path,
    case: str,
) -> None:
    args, code, said = CASES[case]
    before = _customers(initialised)
    result = _run("--db", f"sqlite:///{initialised}", *(a.format(in_=files) for a in _in(args)))
    _one_line_error(result, code, said)
    assert "Value error" not in result.stderr
    assert ".part" not in result.stderr
    assert _customers(initialised) == before
    assert not list(files.glob("**/*.part"))


def _in(args: list[str]) -> list[str]:
    return [a.replace("{in}", "{in_}") for a in args]


def _customers(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM customer").fetchone()[0])


@pytest.mark.parametrize("name", ["telco_customer_churn", "telco_customer_churn.toml"])
def test_a_shipped_mapping_by_its_bare_name(
    initialised: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # no file of that name here: the shipped one is taken
    before = _customers(initialised)
    args = ["import", "customers", str(_telco(tmp_path)), "--map", name]
    result = _run("--db", f"sqlite:///{initialised}", *args)
    assert result.exit_code == 0, result.output
    assert _customers(initialised) == before + len(TELCO_ROWS)
