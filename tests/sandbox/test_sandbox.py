"""Unit tests of the sandbox tool's pure parts (no root, no hosts needed)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mrqsandbox import cli, common, config, hosts, image

SANDBOX = Path(__file__).with_name("sandbox.py")


def test_allocate_ip_takes_first_free_from_first_host_offset() -> None:
    assert hosts.allocate_ip(set()) == "10.231.7.10"
    assert hosts.allocate_ip({"10.231.7.10", "10.231.7.11"}) == "10.231.7.12"
    assert hosts.allocate_ip({"10.231.7.11"}) == "10.231.7.10"


def test_allocate_ip_fails_when_bridge_is_full() -> None:
    used = {str(config.SUBNET.network_address + i) for i in range(256)}
    with pytest.raises(common.SandboxError, match="no free address"):
        hosts.allocate_ip(used)


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("web-1", ("web-1", None, "bookworm")),
        ("db=10.231.7.100", ("db", "10.231.7.100", "bookworm")),
        ("old@bullseye", ("old", None, "bullseye")),
        ("new=10.231.7.21@trixie", ("new", "10.231.7.21", "trixie")),
    ],
)
def test_parse_host_arg_accepts_names_and_pinned_addresses(arg: str, expected: tuple) -> None:
    assert cli.parse_host_arg(arg) == expected


@pytest.mark.parametrize(
    "arg",
    [
        "bad_name",
        "x" * 41,
        "h=10.9.9.9",
        "h=10.231.7.1",
        "h=10.231.7.5",
        "h=not-an-ip",
        "../etc",
        "h@sid",
        "h=10.231.7.20@",
        "h@trixie@trixie",
    ],
)
def test_parse_host_arg_rejects_bad_input(arg: str) -> None:
    with pytest.raises(common.SandboxError):
        cli.parse_host_arg(arg)


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("bad_name", "invalid host name 'bad_name' (letters, digits and '-')"),
        ("h=10.9.9.9", "h=10.9.9.9: address must be in 10.231.7.0/24, from .10 on"),
        ("h=10.231.7.20@sid", "unknown release 'sid' (one of bullseye, bookworm, trixie)"),
    ],
)
def test_parse_host_arg_says_what_is_wrong(arg: str, message: str) -> None:
    with pytest.raises(common.SandboxError) as err:
        cli.parse_host_arg(arg)
    assert str(err.value) == message


def test_hosts_file_lists_controller_and_every_host() -> None:
    hs = [hosts.Host("b", "10.231.7.11", 1, "/img"), hosts.Host("a", "10.231.7.10", 2, "/img")]
    lines = hosts.hosts_file(hs).splitlines()
    assert "10.231.7.1 controller" in lines
    assert lines[-2:] == ["10.231.7.10 a", "10.231.7.11 b"]


def test_recipe_hash_changes_with_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    before = image.recipe_hash()
    assert image.recipe_hash() == before
    monkeypatch.setattr(image, "PACKAGES", image.PACKAGES + ",curl")
    assert image.recipe_hash() != before


def test_each_release_has_its_own_image_and_sources() -> None:
    dirs = {r: image.image_dir(r) for r in image.RELEASES}
    assert len(set(dirs.values())) == 3
    assert all(image.image_release(d) == r for r, d in dirs.items())
    sources = image.golden_files("trixie")["etc/apt/sources.list"]
    assert sources.splitlines() == [
        "deb http://deb.debian.org/debian trixie main",
        "deb http://deb.debian.org/debian trixie-updates main",
        "deb http://deb.debian.org/debian-security trixie-security main",
    ]


def test_run_raises_sandbox_error_with_the_command_and_its_stderr() -> None:
    with pytest.raises(common.SandboxError, match=r"^sh -c echo oops >&2; exit 3 failed \(3\): oops$"):
        common.run("sh", "-c", "echo oops >&2; exit 3")
    assert common.run("false", check=False, quiet=True).returncode == 1


def failed_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run cli.main(argv), expect exit 1, return what it wrote to stderr."""
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 1
    return capsys.readouterr().err


def test_main_reports_a_sandbox_error_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(_: argparse.Namespace) -> None:
        raise common.SandboxError("it broke")

    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    monkeypatch.setattr(cli, "cmd_status", fail)
    assert failed_main(["status"], capsys) == "sandbox: error: it broke\n"


def test_main_refuses_to_run_without_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(cli, "cmd_status", lambda _: pytest.fail("ran as non-root"))
    assert failed_main(["status"], capsys) == "sandbox: error: must run as root\n"


def test_main_reports_a_bad_host_argument_before_doing_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    monkeypatch.setattr(cli, "build_image", lambda _: pytest.fail("went past the arguments"))
    err = failed_main(["up", "ok", "bad_name"], capsys)
    assert err == "sandbox: error: invalid host name 'bad_name' (letters, digits and '-')\n"


def test_launcher_prints_the_package_docstring_as_help() -> None:
    res = subprocess.run([sys.executable, str(SANDBOX), "--help"], capture_output=True, text=True)
    assert res.returncode == 0
    assert res.stdout.startswith("usage: sandbox [-h] {image,up,down,restart,status,ssh,check,purge} ...")
    assert "Commands (all idempotent; run as root):" in res.stdout


def test_pid_alive_until_a_zombie_even_with_a_parenthesis_in_its_name(tmp_path: Path) -> None:
    odd = tmp_path / "a) Z b"  # the name /proc/PID/stat shows between parentheses
    odd.write_bytes(Path("/bin/sleep").read_bytes())
    odd.chmod(0o755)
    proc = subprocess.Popen([str(odd), "30"])
    try:
        assert common.pid_alive(proc.pid)
        proc.kill()
        for _ in range(100):  # killed, not yet reaped: a zombie
            if not common.pid_alive(proc.pid):
                break
            time.sleep(0.05)
        assert not common.pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert not common.pid_alive(proc.pid)


def test_cgroup_pids_walk_the_tree_and_skip_what_vanishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a/b").mkdir(parents=True)
    (tmp_path / "cgroup.procs").write_text("1\n")
    (tmp_path / "a/b/cgroup.procs").write_text("2\n3\n")
    assert sorted(hosts.cgroup_pids(tmp_path)) == [1, 2, 3]
    real_scandir = os.scandir

    def vanishing(path: Any) -> Any:  # a session scope gone between listing and reading
        if str(path).endswith("/a"):
            raise FileNotFoundError(path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", vanishing)
    assert hosts.cgroup_pids(tmp_path) == [1]


def test_commands_that_change_shared_state_wait_for_each_other(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    probe = (
        "import fcntl, sys\n"
        "f = open(sys.argv[1], 'a')\n"
        "try:\n"
        "    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    sys.exit(3)\n"
    )

    def other_may_take_it() -> bool:
        res = subprocess.run([sys.executable, "-c", probe, str(lock)])
        assert res.returncode in (0, 3)
        return res.returncode == 0

    with common.exclusive(lock):
        assert not other_may_take_it()
    assert other_may_take_it()


def test_down_of_named_hosts_keeps_the_bridge_while_other_hosts_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped: list[str] = []
    torn_down: list[bool] = []
    others = [hosts.Host(name="other", ip="10.231.7.20", pid=1, image="x")]
    monkeypatch.setattr(cli, "LOCK", tmp_path / "lock")
    monkeypatch.setattr(cli, "stop_host", stopped.append)
    monkeypatch.setattr(cli, "hosts", lambda: others)
    monkeypatch.setattr(cli, "teardown_shared", lambda: torn_down.append(True))
    cli.cmd_down(argparse.Namespace(names=["mine"]))
    assert stopped == ["mine"] and not torn_down
    others.clear()  # the last host of the last scenario: the bridge goes
    cli.cmd_down(argparse.Namespace(names=["last"]))
    assert stopped == ["mine", "last"] and torn_down == [True]


def test_hosts_get_every_cpu_whatever_the_caller_was_pinned_to(monkeypatch: pytest.MonkeyPatch) -> None:
    masks: list[tuple[int, set[int]]] = []
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cli.os, "sched_setaffinity", lambda pid, cpus: masks.append((pid, set(cpus))))
    monkeypatch.setattr(cli, "cmd_status", lambda _: None)
    cli.main(["status"])
    assert masks == [(0, {0, 1})]


def test_a_child_of_a_pinned_process_runs_on_every_cpu_after_the_reset() -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 CPUs")
    code = (
        "import os, sys\n"
        "os.sched_setaffinity(0, {1})\n"  # as Mitogen leaves an Ansible worker
        "sys.path.insert(0, sys.argv[1])\n"
        "from mrqsandbox import cli\n"
        "cli.use_every_cpu()\n"
        "print(sorted(os.sched_getaffinity(0)))\n"
    )
    res = subprocess.run([sys.executable, "-c", code, str(SANDBOX.parent)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(list(range(os.cpu_count() or 1)))
