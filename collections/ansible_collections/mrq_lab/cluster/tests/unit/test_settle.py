"""When a unit counts as settled, and how a crash loop is recognised."""

from ansible_collections.mrq_lab.cluster.plugins.module_utils.settle import parse_show, problem, settled

UP = {
    "LoadState": "loaded",
    "ActiveState": "active",
    "SubState": "running",
    "Result": "success",
    "NRestarts": "0",
    "ActiveEnterTimestampMonotonic": "5000000",
}


def test_show_output_of_two_units_is_split_in_order():
    text = "Id=a.service\nActiveState=active\nNRestarts=0\n\nId=b.service\nActiveState=failed\nNRestarts=3\n"
    assert parse_show(text) == [
        {"Id": "a.service", "ActiveState": "active", "NRestarts": "0"},
        {"Id": "b.service", "ActiveState": "failed", "NRestarts": "3"},
    ]


def test_a_unit_up_for_long_is_settled_at_once():
    assert problem(UP, UP) is None
    assert settled(UP, clock_us=5_000_000 + 10_000_000, settle_s=10)


def test_a_unit_started_just_now_is_not_settled_yet():
    assert problem(UP, UP) is None
    assert not settled(UP, clock_us=5_000_000 + 3_000_000, settle_s=10)


def test_a_restart_by_systemd_is_a_crash_loop():
    looping = dict(UP, ActiveState="activating", SubState="auto-restart", NRestarts="2")
    assert "restarted 2 time(s)" in problem(UP, looping)
    # even when the sample catches it active again
    assert "crash loop" in problem(UP, dict(UP, NRestarts="1", ActiveEnterTimestampMonotonic="9000000"))


def test_a_second_start_without_systemds_restart_counter_is_caught_too():
    assert "started again" in problem(UP, dict(UP, ActiveEnterTimestampMonotonic="9000000"))


def test_failed_inactive_and_missing_units():
    assert problem(UP, dict(UP, ActiveState="failed", SubState="failed", Result="exit-code")) == (
        "is failed (failed, result exit-code)"
    )
    assert problem(UP, dict(UP, ActiveState="inactive", SubState="dead")).startswith("is inactive")
    assert problem(UP, {"LoadState": "not-found", "ActiveState": "inactive"}) == "is not installed"


def test_a_unit_still_starting_is_neither_a_problem_nor_settled():
    starting = dict(UP, ActiveState="activating", SubState="start", ActiveEnterTimestampMonotonic="0")
    first = dict(starting)
    assert problem(first, starting) is None
    assert not settled(starting, clock_us=10**9, settle_s=10)
