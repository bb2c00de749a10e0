"""The stat override module reads dpkg's listing and compares modes as numbers."""

from ansible_collections.mrq_lab.cluster.plugins.modules.dpkg_statoverride import parse, wanted


def test_a_listed_override_is_read():
    assert parse("redis redis 640 /etc/redis/redis.conf\n") == ("redis", "redis", "640")


def test_no_override_listed():
    assert parse("") is None


def test_the_wanted_mode_compares_as_dpkg_lists_it():
    assert wanted("root", "redis", "0640") == ("root", "redis", "640")
    assert wanted("root", "redis", "2750") == ("root", "redis", "2750")
    assert parse("root redis 640 /etc/redis/redis.conf") == wanted("root", "redis", "0640")
    assert parse("redis redis 640 /etc/redis/redis.conf") != wanted("root", "redis", "0640")
