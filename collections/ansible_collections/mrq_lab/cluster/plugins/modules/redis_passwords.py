"""Apply Redis passwords to the running server, without a restart."""

from __future__ import annotations

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mrq_lab.cluster.plugins.module_utils.redis_auth import (
    RedisError,
    Resp,
    parse_requirepass,
    parse_tls_ca,
    sha256,
)

DOCUMENTATION = r"""
module: redis_passwords
short_description: Set the administrator's password and an ACL user's on a running Redis
description:
  - Logs in as the administrator with I(requirepass), or else with the
    password found in I(auth_files) (the one the server was started with), and
    sets I(requirepass) with C(CONFIG SET).
  - With I(user), makes that ACL user I(rules) with the password I(password);
    with I(keep_previous) the user's other passwords stay valid too, so that
    clients still on the old one keep working until they are reconfigured; without it
    they are removed (the end of a rotation).
  - A server without any password (a fresh install, before its configuration)
    is left alone. Changes nothing else and restarts nothing.
options:
  port: {description: The server's port on 127.0.0.1, type: int, required: true}
  config:
    description:
      - The redis.conf the running server was started with; when it serves TLS
        (tls-port), the connection is TLS, checked against its tls-ca-cert-file.
    type: path
    default: /etc/redis/redis.conf
  auth_files:
    description: Files to read the current requirepass from (the first that has one).
    type: list
    elements: path
  requirepass: {description: The administrator's password, type: str, required: true, no_log: true}
  user: {description: ACL user name (Redis 6 and later), type: str}
  password: {description: The ACL user's password, type: str, no_log: true}
  rules: {description: The ACL user's rules, as in redis.conf, type: str, default: ""}
  keep_previous: {description: Keep the user's other passwords valid, type: bool, default: true}
"""


def login(module: AnsibleModule, conn: Resp) -> str | None:
    """Authenticate as the administrator; the password that worked, or None if the
    server has no password at all."""
    candidates = [module.params["requirepass"]]
    for path in module.params["auth_files"] or []:
        file = Path(path)
        if file.is_file():
            found = parse_requirepass(file.read_text())
            if found is not None:
                candidates.append(found)
                break
    for password in dict.fromkeys(candidates):
        try:
            conn.call("AUTH", password)
            return password
        except RedisError as exc:
            if "without any password configured" in str(exc) or "no password is set" in str(exc):
                return None
    module.fail_json(
        msg="redis_requirepass: the server accepts neither it nor the password it was started with "
        f"(from {', '.join(module.params['auth_files'] or [])})"
    )
    raise AssertionError  # not reached


def acl_line(conn: Resp, user: str) -> str | None:
    for line in conn.call("ACL", "LIST") or []:
        if str(line).split(" ", 2)[1:2] == [user]:
            return str(line)
    return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "port": {"type": "int", "required": True},
            "config": {"type": "path", "default": "/etc/redis/redis.conf"},
            "auth_files": {"type": "list", "elements": "path", "default": []},
            "requirepass": {"type": "str", "required": True, "no_log": True},
            "user": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "rules": {"type": "str", "default": ""},
            "keep_previous": {"type": "bool", "default": True},
        },
        required_together=[("user", "password")],
        supports_check_mode=True,
    )
    changed = False
    result: dict[str, object] = {}
    try:
        config = Path(module.params["config"])
        tls_ca = parse_tls_ca(config.read_text()) if config.is_file() else None
        with Resp("127.0.0.1", module.params["port"], tls_ca=tls_ca) as conn:
            current = login(module, conn)
            if current is None:
                module.exit_json(changed=False, msg="no password set yet: nothing to apply")
            if current != module.params["requirepass"]:
                changed = True
                if not module.check_mode:
                    conn.call("CONFIG", "SET", "requirepass", module.params["requirepass"])
            user = module.params["user"]
            if user:
                wanted = sha256(module.params["password"])
                before = acl_line(conn, user)
                hashes = [word[1:] for word in (before or "").split() if word.startswith("#")]
                kept = [h for h in hashes if h != wanted] if module.params["keep_previous"] else []
                result["previous_passwords"] = len(kept)
                if module.check_mode:
                    changed = changed or wanted not in hashes or len(hashes) != len(kept) + 1
                else:
                    rules = module.params["rules"].split()
                    conn.call(
                        "ACL", "SETUSER", user, "reset", "on", f"#{wanted}", *[f"#{h}" for h in kept], *rules
                    )
                    changed = changed or acl_line(conn, user) != before
    except (OSError, RedisError) as exc:
        module.fail_json(msg=f"Redis on 127.0.0.1:{module.params['port']}: {exc}")
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
