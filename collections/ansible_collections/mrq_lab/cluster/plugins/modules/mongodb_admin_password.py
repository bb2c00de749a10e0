"""Give MongoDB's administrator the inventory's password, logging in with the kept one if needed."""

from __future__ import annotations

import os
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mrq_lab.cluster.plugins.module_utils.mongodb_tls import tls_options

DOCUMENTATION = r"""
module: mongodb_admin_password
short_description: Rotate the MongoDB administrator's password without the old one in the inventory
description:
  - Logs in as I(user) on C(admin) with I(password). If the server refuses it,
    logs in with the password kept in I(kept_file) (the one this module last
    set) and sets I(password) (C(updateUser)). Then keeps I(password) in
    I(kept_file) (root, 0600).
  - Fails, naming the file, when the server accepts neither.
  - Needs pymongo (3.x or 4.x) in the Python that runs the module.
options:
  login_host: {description: Server address, type: str, default: 127.0.0.1}
  login_port: {description: Server port, type: int, default: 27017}
  tls_ca_file:
    description: [With a CA file, TLS checking the server's certificate against it, not its name (loopback).]
    type: str
    default: ""
  user: {description: The administrator, type: str, required: true}
  password: {description: Its password, as the inventory has it, type: str, required: true, no_log: true}
  kept_file: {description: Where the current password is kept, type: path, required: true}
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "login_host": {"type": "str", "default": "127.0.0.1"},
            "login_port": {"type": "int", "default": 27017},
            "tls_ca_file": {"type": "str", "default": ""},
            "user": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "kept_file": {"type": "path", "required": True},
        },
        supports_check_mode=True,
    )
    try:
        import pymongo
        from pymongo.errors import OperationFailure, PyMongoError
    except ImportError:
        module.fail_json(msg="pymongo is needed in the Python that runs mongodb_admin_password")

    params = module.params
    kept_file = Path(params["kept_file"])
    kept = kept_file.read_text() if kept_file.is_file() else None

    def client(password: str) -> pymongo.MongoClient | None:
        """A client logged in with `password`, or None if the server refuses it."""
        conn = pymongo.MongoClient(
            params["login_host"],
            params["login_port"],
            username=params["user"],
            password=password,
            authSource="admin",
            serverSelectionTimeoutMS=5000,
            **tls_options(params["tls_ca_file"]),
        )
        try:
            conn.admin.command("ping")
            return conn
        except OperationFailure:
            conn.close()
            return None

    changed = False
    try:
        conn = client(params["password"])
        if conn is None and kept is not None and kept != params["password"]:
            conn = client(kept)
            if conn is not None:
                changed = True
                if not module.check_mode:
                    conn.admin.command("updateUser", params["user"], pwd=params["password"])
        if conn is None:
            module.fail_json(
                msg=f"mongodb_admin_password: the server accepts neither it nor the password kept in "
                f"{kept_file} for {params['user']}. Put the current password in that file "
                "(root, 0600) and re-run: the role then sets the inventory's."
            )
        conn.close()
    except PyMongoError as exc:
        module.fail_json(msg=f"MongoDB on {params['login_host']}:{params['login_port']}: {exc}")
    if kept != params["password"]:
        changed = True
        if not module.check_mode:
            fd = os.open(kept_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(params["password"])
            kept_file.chmod(0o600)
    module.exit_json(changed=changed)


if __name__ == "__main__":
    main()
