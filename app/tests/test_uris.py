from pathlib import Path

import pytest
from mrqlab.uris import RedisTarget, mongodb_uri, parse_redis_uri, redis_uri

NASTY = "p@ss w:rd/%#?x"


def test_redis_uri_round_trips_any_password() -> None:
    target = parse_redis_uri(redis_uri("10.0.0.5", 6380, NASTY, db=2))
    assert (target.host, target.port, target.db, target.password, target.username) == (
        "10.0.0.5",
        6380,
        2,
        NASTY,
        None,
    )


def test_redis_uri_without_password() -> None:
    assert redis_uri("localhost") == "redis://localhost:6379/0"
    assert parse_redis_uri("redis://localhost").password is None


def test_original_setups_password_as_user_part_is_a_password() -> None:
    assert parse_redis_uri("redis://s3cret@127.0.0.1:6379/0").password == "s3cret"


def test_acl_user_round_trips() -> None:
    uri = redis_uri("h", 1, NASTY, username="mrq")
    assert uri == "redis://mrq:p%40ss%20w%3Ard%2F%25%23%3Fx@h:1/0"
    target = parse_redis_uri(uri)
    assert (target.username, target.password) == ("mrq", NASTY)


def test_acl_user_and_password() -> None:
    target = parse_redis_uri("redis://mrq:pw%40x@h:1/0")
    assert (target.username, target.password) == ("mrq", "pw@x")


def test_ipv6_hosts_are_bracketed() -> None:
    assert redis_uri("::1", 6379, "x") == "redis://:x@[::1]:6379/0"
    assert parse_redis_uri(redis_uri("::1", 6379, "x")).host == "::1"


def test_mongodb_uri_encodes_credentials_and_sets_auth_source() -> None:
    uri = mongodb_uri([("db1", 27017), ("db2", 27018)], "mrq", "mrq", NASTY)
    assert uri == "mongodb://mrq:p%40ss%20w%3Ard%2F%25%23%3Fx@db1:27017,db2:27018/mrq?authSource=mrq"
    assert mongodb_uri([("h", 1)], "mrq") == "mongodb://h:1/mrq"
    assert mongodb_uri([("h", 1)], "mrq", "u", "p", auth_source="admin").endswith("?authSource=admin")


def test_pymongo_reads_back_what_we_build() -> None:
    from pymongo.uri_parser import parse_uri

    parsed = parse_uri(mongodb_uri([("db1", 27017)], "mrq", "mrq", NASTY))
    assert (parsed["username"], parsed["password"], parsed["database"]) == ("mrq", NASTY, "mrq")
    assert parsed["options"]["authsource"] == "mrq"


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_redis_uri("http://x")
    with pytest.raises(ValueError):
        mongodb_uri([], "mrq")


def test_tls_uri_round_trips_with_its_ca_file() -> None:
    ca_file = "/etc/mrq/redis ca.crt"
    uri = redis_uri("10.0.10.10", 6379, "p@ss w:rd", username="mrq", tls=True, ca_file=ca_file)
    assert uri.startswith("rediss://mrq:")
    target = parse_redis_uri(uri)
    assert (target.tls, target.ca_file, target.host, target.password) == (
        True,
        "/etc/mrq/redis ca.crt",
        "10.0.10.10",
        "p@ss w:rd",
    )
    no_ca = RedisTarget("cache1", 6380, 0, None, "pw", tls=True, ca_file=None)
    assert parse_redis_uri("rediss://:pw@cache1:6380/0") == no_ca


@pytest.mark.parametrize(
    "uri",
    [
        "rediss://:pw@cache1:6379/0?ssl_ca_cert=/etc/ca.crt",  # misspelt: must not drop the check
        "rediss://:pw@cache1:6379/0?ssl_cert_reqs=none",
        "redis://:pw@cache1:6379/0?ssl_ca_certs=/etc/ca.crt",  # a CA for a plain connection
        "rediss://:pw@cache1:6379/0?ssl_ca_certs",
    ],
)
def test_unknown_or_misplaced_uri_options_are_refused(uri: str) -> None:
    with pytest.raises(ValueError):
        parse_redis_uri(uri)


def test_a_ca_file_needs_tls() -> None:
    with pytest.raises(ValueError):
        redis_uri("cache1", ca_file="/etc/ca.crt")


def test_mongodb_tls_uri_is_read_back_by_pymongo_with_its_ca_file(tmp_path: Path) -> None:
    from pymongo.uri_parser import parse_uri

    ca_file = tmp_path / "mongo ca.crt"  # pymongo opens it
    ca_file.write_text("")
    uri = mongodb_uri([("10.0.10.20", 27017)], "mrq", "mrq", NASTY, tls=True, ca_file=str(ca_file))
    options = parse_uri(uri)["options"]  # pymongo 3 (MRQ's) names them ssl*
    assert options == {"authSource": "mrq", "ssl": True, "ssl_ca_certs": str(ca_file)}  # and checks the name
    assert "ssl" not in parse_uri(mongodb_uri([("h", 1)], "mrq", "u", "p"))["options"]
    with pytest.raises(ValueError):
        mongodb_uri([("h", 1)], "mrq", tls=False, ca_file="/ca.crt")
