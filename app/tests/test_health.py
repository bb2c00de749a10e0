"""mrqlab-health: what the end of a converge reports about MRQ's links."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MRQ_PASSWORD, MRQ_USER, free_port
from mrqlab import health
from mrqlab.uris import mongodb_uri, redis_uri


def write_config(tmp_path: Path, redis: str, mongodb: str) -> Path:
    config = tmp_path / "mrq-config.py"
    config.write_text(f"REDIS = {redis!r}\nMONGODB_JOBS = {mongodb!r}\n")
    return config


def unreachable_mongodb() -> str:
    return mongodb_uri([("127.0.0.1", free_port())], "mrq", "mrq", "mongo s3cret pw")


def test_mrqs_redis_credential_is_ok(redis_port: int) -> None:
    uri = redis_uri("127.0.0.1", redis_port, MRQ_PASSWORD, username=MRQ_USER)
    health.check_redis(uri)  # no exception: write and read back as MRQ's ACL user


def test_a_wrong_redis_password_fails_without_showing_it(
    redis_port: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(health, "TIMEOUT_S", 0.5)
    wrong = "wrong p@ss w:rd"
    config = write_config(
        tmp_path, redis_uri("127.0.0.1", redis_port, wrong, username=MRQ_USER), unreachable_mongodb()
    )
    assert health.main(["--config", str(config)]) == 1
    out = capsys.readouterr().out
    redis_line, mongodb_line = out.splitlines()
    assert redis_line.startswith("redis: AuthenticationError") or "WRONGPASS" in redis_line
    assert mongodb_line.startswith("mongodb: ServerSelectionTimeoutError")
    assert wrong not in out and "s3cret" not in out
    assert "w%3Ard" not in out  # nor percent-encoded


def test_a_missing_setting_is_named() -> None:
    assert health.run_checks({"REDIS": ""}) == {
        "redis": "REDIS is not set in the config",
        "mongodb": "MONGODB_JOBS is not set in the config",
    }
