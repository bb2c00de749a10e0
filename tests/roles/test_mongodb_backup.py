"""roles/mongodb's backup script: naming, retention by count and age, and a
dump that gets its password on stdin and leaves only complete 0600 files."""

from __future__ import annotations

import datetime
import importlib.util
import socket
import stat
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles/mongodb/files/usr/local/sbin/mongodb-backup.py"
_spec = importlib.util.spec_from_file_location("mongodb_backup", SCRIPT)
assert _spec and _spec.loader
backup = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = backup
_spec.loader.exec_module(backup)

UTC = datetime.timezone.utc
# Something listening, for the script's wait for the server (the fake mongodump connects to nothing).
SERVER = socket.create_server(("127.0.0.1", 0))
NOW = datetime.datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
DAY = datetime.timedelta(days=1)


def names(db: str, *days_ago: float) -> list[str]:
    return [backup.dump_name(db, NOW - d * DAY) for d in days_ago]


def test_names_carry_the_database_and_the_utc_time() -> None:
    name = backup.dump_name("mrq", NOW)
    assert name == "mrq-20261128T120000Z.archive.gz"
    assert backup.dump_time("mrq", name) == NOW
    assert backup.dump_time("mrq2", name) is None
    assert backup.dump_time("mrq", ".mrq-20261128T120000Z.partial") is None
    assert backup.dump_time("m.q", "mxq-20261128T120000Z.archive.gz") is None


def test_count_keeps_the_newest() -> None:
    dumps = names("mrq", 0, 1, 2, 3, 4)
    assert backup.to_remove("mrq", dumps, 3, 30 * DAY, NOW) == dumps[3:]


def test_age_removes_old_ones_within_the_count() -> None:
    dumps = names("mrq", 0, 1, 15, 20)
    assert backup.to_remove("mrq", dumps, 7, 14 * DAY, NOW) == dumps[2:]


def test_the_newest_is_kept_however_old() -> None:
    dumps = names("mrq", 40, 50)
    assert backup.to_remove("mrq", dumps, 1, 14 * DAY, NOW) == dumps[1:]
    assert backup.to_remove("mrq", dumps[:1], 1, 14 * DAY, NOW) == []


def test_other_files_and_other_databases_are_left_alone() -> None:
    others = [*names("other", 30, 31), "notes.txt", ".mrq-20201128T120000Z.partial", "mrq-latest.archive.gz"]
    dumps = names("mrq", 0, 30)
    assert backup.to_remove("mrq", [*others, *dumps], 1, 14 * DAY, NOW) == dumps[1:]


FAKE_MONGODUMP = """#!/bin/sh
# Fails unless the password arrives on stdin; writes the archive it is given.
read pw
[ "$pw" = "s3cret-pw" ] || { echo "auth failed" >&2; exit 1; }
for a in "$@"; do case "$a" in --archive=*) echo "dump of $*" > "${a#--archive=}";; esac; done
"""


def run(tmp_path: Path, password: str, keep: int = 2, port: int = 0, tls: list[str] | None = None) -> int:
    tool = tmp_path / "mongodump"
    tool.write_text(FAKE_MONGODUMP)
    tool.chmod(0o755)
    pw = tmp_path / "password"
    pw.write_text(password + "\n")
    argv = ["--dir", str(tmp_path / "dumps"), "--db", "mrq", "--user", "bk", "--password-file", str(pw)]
    argv += ["--keep", str(keep), "--max-age-days", "14", "--mongodump", str(tool)]
    argv += ["--port", str(port or SERVER.getsockname()[1]), "--wait", "1", *(tls or [])]
    return backup.main(argv)


def test_a_dump_is_complete_private_and_named(tmp_path: Path) -> None:
    (tmp_path / "dumps").mkdir()
    old = names("mrq", 1, 2)
    for name in [*old, ".mrq-20261127T030000Z.partial"]:  # and one of a killed run
        (tmp_path / "dumps" / name).write_text("old")
    assert run(tmp_path, "s3cret-pw") == 0
    files = sorted(p.name for p in (tmp_path / "dumps").iterdir())
    assert len(files) == 2 and files[0] == old[0]  # keep 2: the new one and the newest old one
    made = backup.dump_time("mrq", files[1])
    assert made and abs(datetime.datetime.now(UTC) - made) < datetime.timedelta(seconds=60)
    path = tmp_path / "dumps" / files[1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_text()
    assert "--db mrq" in content and "--gzip" in content and "--ssl" not in content
    assert "s3cret-pw" not in content  # not on the command line


def test_with_a_ca_file_mongodump_connects_over_tls(tmp_path: Path) -> None:
    (tmp_path / "dumps").mkdir()
    assert run(tmp_path, "s3cret-pw", tls=["--ca-file", "/etc/mongodb-tls/ca.crt"]) == 0
    (dump,) = (tmp_path / "dumps").iterdir()
    assert "--ssl --sslCAFile=/etc/mongodb-tls/ca.crt --sslAllowInvalidHostnames" in dump.read_text()


def test_a_failed_dump_leaves_no_file_and_removes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dumps").mkdir()
    old = names("mrq", 1, 2, 3)
    for name in old:
        (tmp_path / "dumps" / name).write_text("old")
    assert run(tmp_path, "wrong-pw", keep=1) == 1
    assert sorted(p.name for p in (tmp_path / "dumps").iterdir()) == sorted(old)
    assert "mongodump of mrq failed (exit 1): auth failed" in capsys.readouterr().err


def test_keep_must_be_at_least_one(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        run(tmp_path, "s3cret-pw", keep=0)


def test_no_server_no_dump(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dumps").mkdir()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert run(tmp_path, "s3cret-pw", port=port) == 1
    assert list((tmp_path / "dumps").iterdir()) == []
    assert "did not accept connections in 1 s" in capsys.readouterr().err
