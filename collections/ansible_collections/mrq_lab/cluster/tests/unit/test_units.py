"""What a host starts, and stops when it leaves a group or a worker group is removed."""

from ansible_collections.mrq_lab.cluster.plugins.module_utils.units import unit_plan

RUNNING = {"activestate": "active", "unitfilestate": "enabled"}
ALL = ["mrq-worker@task1", "mrq-worker@task2", "mrq-dashboard", "mrq-scheduler"]


def present(*units):
    return {f"{u}.service": dict(RUNNING) for u in units}


def test_nothing_to_do_when_everything_runs():
    assert unit_plan(present(*ALL), ALL, "/etc/mrq") == {
        "running": ALL,
        "start": [],
        "stop": [],
        "remove": [],
    }


def test_a_fresh_host_starts_everything_and_restarts_nothing():
    plan = unit_plan({}, ALL, "/etc/mrq")
    assert plan["start"] == ALL
    assert plan["running"] == []


def test_stopped_or_disabled_units_are_started():
    units = present(*ALL)
    units["mrq-dashboard.service"] = {"activestate": "inactive", "unitfilestate": "enabled"}
    units["mrq-scheduler.service"] = {"activestate": "active", "unitfilestate": "disabled"}
    units["mrq-worker@task1.service"] = {"activestate": "failed", "unitfilestate": "enabled"}
    plan = unit_plan(units, ALL, "/etc/mrq")
    assert plan["start"] == ["mrq-worker@task1", "mrq-dashboard", "mrq-scheduler"]
    assert plan["running"] == ["mrq-worker@task2", "mrq-scheduler"]  # running, though disabled


def test_a_removed_worker_group_is_stopped():
    plan = unit_plan(present(*ALL), ["mrq-worker@task1", "mrq-dashboard", "mrq-scheduler"], "/etc/mrq")
    assert (plan["stop"], plan["remove"]) == (["mrq-worker@task2"], ["/etc/mrq/workers/task2.env"])


def test_a_host_leaving_the_scheduler_group():
    plan = unit_plan(present(*ALL), ALL[:3], "/etc/mrq")
    assert plan["stop"] == ["mrq-scheduler"]
    assert plan["remove"] == ["/etc/systemd/system/mrq-scheduler.service"]


def test_a_host_leaving_the_workers_loses_the_template_too():
    plan = unit_plan(present(*ALL), ["mrq-dashboard"], "/srv/mrq")
    assert plan["stop"] == ["mrq-scheduler", "mrq-worker@task1", "mrq-worker@task2"]
    assert plan["remove"] == [
        "/etc/systemd/system/mrq-scheduler.service",
        "/srv/mrq/workers/task1.env",
        "/srv/mrq/workers/task2.env",
        "/etc/systemd/system/mrq-worker@.service",
    ]


def test_units_already_stopped_and_disabled_are_left_alone():
    units = present(*ALL)
    units["mrq-scheduler.service"] = {"activestate": "inactive", "unitfilestate": "disabled"}
    assert unit_plan(units, ALL[:3], "/etc/mrq")["stop"] == []


def test_other_mrq_units_are_not_the_roles():
    present = {
        "mrq-lab-firewall.service": {"activestate": "active", "unitfilestate": "enabled"},
        "mrq-backup-of-mine.service": {"activestate": "active", "unitfilestate": "enabled"},
    }
    plan = unit_plan(present, [], "/etc/mrq")
    assert plan["stop"] == [] and plan["remove"] == []


def test_the_dashboards_socket_with_mrq_dashboard_tls():
    tls = ["mrq-dashboard.socket", *ALL]
    assert unit_plan(present(*ALL), tls, "/etc/mrq")["start"] == ["mrq-dashboard.socket"]
    units = {**present(*ALL), "mrq-dashboard.socket": dict(RUNNING)}
    assert unit_plan(units, tls, "/etc/mrq")["running"] == tls


def test_mrq_dashboard_tls_off_again_stops_the_socket_and_removes_its_unit():
    units = {**present(*ALL), "mrq-dashboard.socket": dict(RUNNING)}
    plan = unit_plan(units, ALL, "/etc/mrq")
    assert (plan["stop"], plan["remove"]) == (
        ["mrq-dashboard.socket"],
        ["/etc/systemd/system/mrq-dashboard.socket"],
    )


def test_a_host_leaving_the_dashboard_group_stops_the_socket_before_the_service():
    units = {**present(*ALL), "mrq-dashboard.socket": dict(RUNNING)}
    plan = unit_plan(units, [u for u in ALL if u != "mrq-dashboard"], "/etc/mrq")
    assert plan["stop"] == ["mrq-dashboard.socket", "mrq-dashboard"]
    assert plan["remove"] == [
        "/etc/systemd/system/mrq-dashboard.socket",
        "/etc/systemd/system/mrq-dashboard.service",
    ]
