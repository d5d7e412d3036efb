"""The policy file: the shipped one passes, broken ones name every bad key."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from desk.rules.policy import (
    Policy,
    PolicyError,
    check_policy_file,
    default_policy_text,
    load_policy,
    policy_text,
    validate_policy_text,
)
from desk.rules.vocab import Channel, ClockKind, DepartmentKind, Priority, RequestType


def toml_text(data: dict[str, Any]) -> str:
    return tomlkit.dumps(data)


def _write_toml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(toml_text(data), encoding="utf-8")
    return path


def _raw() -> dict[str, Any]:
    return tomllib.loads(default_policy_text())


def test_shipped_policy_passes(policy: Policy) -> None:
    assert validate_policy_text(default_policy_text())[1] == []
    assert policy.verification.max_failures == 5
    assert policy.verification.validity_minutes == 15
    assert policy.login.max_failures == 5
    assert policy.login.lock_minutes == 30
    assert policy.targets.manual_answer_rate == 85
    assert policy.targets.churn_other_max == 30
    assert policy.kpi.short_abandon_seconds == 5
    assert policy.chase.reminder_within_minutes == 120
    assert policy.major.repeat_complaint_count == 3


def test_shipped_file_checks_clean_from_disk() -> None:
    shipped = Path(__file__).parents[2] / "data" / "policy.toml"
    assert check_policy_file(shipped) == []


def test_every_request_type_has_an_sla(policy: Policy) -> None:
    for category in RequestType:
        sla = policy.sla.for_category(category)
        assert sla.dispatch_due > 0
        assert sla.reply_due > 0


def test_written_policy_reads_back_equal(policy: Policy, tmp_path: Path) -> None:
    path = tmp_path / "again.toml"
    path.write_text(policy_text(policy, default_policy_text()), encoding="utf-8")
    assert load_policy(path) == policy


def test_check_reports_every_bad_key(tmp_path: Path) -> None:
    raw = _raw()
    raw["sla"]["complaint"]["reply_due"] = 0
    raw["sla"]["warning_percent"] = 140
    raw["verification"]["max_failures"] = -1
    raw["verification"]["colour"] = "blue"
    raw["kpi"]["voice_channels"] = ["phone", "pigeon"]
    raw["calendars"]["office"]["hours"]["tue"] = ["17:00-09:00"]
    raw["departments"]["calendar_by_kind"]["billing"] = "moon"
    del raw["targets"]["satisfaction"]
    path = _write_toml(tmp_path / "broken.toml", raw)

    problems = check_policy_file(path)
    by_key = {problem.key: problem.message for problem in problems}

    assert by_key["sla.complaint.reply_due"] == "must be > 0"
    assert by_key["sla.warning_percent"] == "must be <= 100.0"
    assert by_key["verification.max_failures"] == "must be > 0"
    assert by_key["verification.colour"] == "unknown key"
    assert "must be one of" in by_key["kpi.voice_channels.1"]
    assert "ends before it starts" in by_key["calendars.office.hours.tue.0"]
    assert "unknown calendar 'moon'" in by_key["departments.calendar_by_kind.billing"]
    assert by_key["targets.satisfaction"] == "missing"
    assert len(problems) == 8
    assert str(problems[0]) == f"{problems[0].key}: {problems[0].message}"


def test_load_raises_with_all_problems(tmp_path: Path) -> None:
    raw = _raw()
    raw["sla"]["complaint"]["reply_due"] = 0
    raw["login"]["lock_minutes"] = 0
    path = _write_toml(tmp_path / "broken.toml", raw)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    keys = {problem.key for problem in caught.value.problems}
    assert keys == {"sla.complaint.reply_due", "login.lock_minutes"}
    assert "sla.complaint.reply_due: must be > 0" in str(caught.value)


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "syntax.toml"
    path.write_text("version = 1\n[verification\nmax_failures = 5\n", encoding="utf-8")
    (problem,) = check_policy_file(path)
    assert problem.key == "line 2, column 14"
    assert problem.message.startswith("TOML syntax:")


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    (problem,) = check_policy_file(tmp_path / "absent.toml")
    assert problem.key == "(file)"
    with pytest.raises(PolicyError):
        load_policy(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (["8:30-12:00"], None),
        (["08:30-12:00", "11:00-13:00"], "overlaps"),
        (["08:30"], "must look like"),
        (["08:75-09:00"], "below 60"),
        (["00:00-24:00"], None),
        (["09:00-25:00"], "must be <= 1440"),
    ],
)
def test_working_hours_are_validated(hours: list[str], message: str | None) -> None:
    raw = _raw()
    raw["calendars"]["office"]["hours"]["mon"] = hours
    policy, problems = validate_policy_text(toml_text(raw))
    if message is None:
        assert problems == []
        assert policy is not None
    else:
        assert policy is None
        assert any(message in problem.message for problem in problems), problems
        assert all(problem.key.startswith("calendars.office.hours.mon") for problem in problems)


def test_a_calendar_without_any_hours_is_refused() -> None:
    raw = _raw()
    for day in ("mon", "tue", "wed", "thu", "fri"):
        raw["calendars"]["office"]["hours"][day] = []
    problems = validate_policy_text(toml_text(raw))[1]
    assert [problem.key for problem in problems] == ["calendars.office.hours"]


def test_personal_data_matches_cannot_exceed_fields() -> None:
    raw = _raw()
    raw["verification"]["personal_data_required_matches"] = 4
    problems = validate_policy_text(toml_text(raw))[1]
    assert [problem.key for problem in problems] == ["verification"]
    assert "exceeds" in problems[0].message


def test_policy_built_in_code_checks_references() -> None:
    raw = _raw()
    raw["sla"]["clock_calendar"]["reply"] = "nowhere"
    with pytest.raises(ValueError, match="unknown calendar 'nowhere'"):
        Policy.model_validate(raw)


def test_calendar_for_a_clock(policy: Policy) -> None:
    assert policy.calendar_name_for(ClockKind.DISPATCH, DepartmentKind.BRANCH) == "center"
    assert policy.calendar_name_for(ClockKind.REPLY, DepartmentKind.BRANCH) == "office"
    assert policy.calendar_name_for(ClockKind.REPLY, DepartmentKind.CENTER) == "center"
    assert policy.calendar_name_for(ClockKind.REPLY, None) == "office"


def test_overrides_are_keyed_by_vocabulary(policy: Policy) -> None:
    complaint = policy.sla.complaint
    assert complaint.channel[Channel.VIP_LINE].reply_due == 225
    assert complaint.priority[Priority.URGENT].resolution_due == 900
    assert complaint.callback.not_before == 15 * 60 + 30


def test_extra_dates_round_trip(tmp_path: Path) -> None:
    raw = _raw()
    raw["calendars"]["office"]["extra_holidays"] = [date(2027, 2, 11)]
    raw["calendars"]["office"]["extra_workdays"] = [date(2027, 2, 20)]
    path = _write_toml(tmp_path / "extra.toml", raw)
    loaded = load_policy(path)
    assert loaded.calendars["office"].extra_holidays == (date(2027, 2, 11),)
    again = tmp_path / "again.toml"
    again.write_text(policy_text(loaded, path.read_text(encoding="utf-8")), encoding="utf-8")
    assert load_policy(again) == loaded


def test_a_date_both_holiday_and_workday_is_refused() -> None:
    raw = _raw()
    raw["calendars"]["office"]["extra_holidays"] = [date(2027, 2, 11)]
    raw["calendars"]["office"]["extra_workdays"] = [date(2027, 2, 11)]
    problems = validate_policy_text(toml_text(raw))[1]
    assert [problem.key for problem in problems] == ["calendars.office"]


def test_shown_policy_keeps_the_files_comments_and_marks_defaults() -> None:
    """The text shown is the file's own (comments, units, layout), with each key the file
    leaves to its default added and marked; it reads back to the same policy."""
    raw = _raw()
    del raw["inbox"]
    del raw["kpi"]["satisfied_min_mark"]
    source = "# our center's policy\n" + toml_text(raw).replace(
        "validity_minutes = 15", "validity_minutes = 15  # minutes, per contact"
    )
    policy, problems = validate_policy_text(source)
    assert policy is not None, problems
    shown = policy_text(policy, source)
    assert shown.startswith("# our center's policy\n")
    assert "validity_minutes = 15  # minutes, per contact" in shown
    assert "satisfied_min_mark = 4 # default" in shown
    assert "[inbox] # default" in shown
    assert validate_policy_text(shown) == (policy, [])


def test_the_shipped_policy_is_shown_as_shipped() -> None:
    shipped = default_policy_text()
    policy, _ = validate_policy_text(shipped)
    assert policy is not None
    assert policy_text(policy, shipped) == shipped


def test_greeting_holidays_are_checked_on_as_few_years_as_needed() -> None:
    """Validating the greetings' holiday names reads China's table a year at a time until
    every name is found (the shipped names need at most two years, not all eleven), and a
    name that is no holiday is still refused with the whole list of known names."""
    from desk.rules import policy as policy_module

    policy_module._china_holiday_names_in.cache_clear()
    assert validate_policy_text(default_policy_text())[1] == []
    assert policy_module._china_holiday_names_in.cache_info().currsize <= 2
    assert policy_module.unknown_china_holidays(("National Day", "Christmas Day")) == [
        "Christmas Day"
    ]
    raw = _raw()
    raw["callbacks"]["greeting"]["holidays"] = ["National Day", "Christmas Day"]
    problems = validate_policy_text(toml_text(raw))[1]
    assert any("'Christmas Day' is not a holiday of China" in str(p) for p in problems)
    assert any("Tomb-Sweeping Day" in str(p) for p in problems)  # the known names listed
