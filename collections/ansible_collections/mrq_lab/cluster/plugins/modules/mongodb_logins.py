"""Which of these MongoDB logins does the server accept? (read-only)"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mrq_lab.cluster.plugins.module_utils.mongodb_tls import tls_options

DOCUMENTATION = r"""
module: mongodb_logins
short_description: Try MongoDB logins, report which the server accepts
description:
  - Authenticates each login in turn and reports C(accepted), a list of
    booleans in the same order. Changes nothing.
  - What the mongodb role uses to tell whether a password in the inventory is
    already the one the server has (no change, no restart) or must be set.
  - Needs pymongo (3.x or 4.x) in the Python that runs the module.
options:
  login_host: {description: Server address, type: str, default: 127.0.0.1}
  login_port: {description: Server port, type: int, default: 27017}
  tls_ca_file:
    description: [With a CA file, TLS checking the server's certificate against it, not its name (loopback).]
    type: str
    default: ""
  logins:
    description: The logins to try.
    type: list
    elements: dict
    required: true
    suboptions:
      name: {description: User name, type: str, required: true}
      database: {description: Authentication database, type: str, required: true}
      password: {description: Password, type: str, required: true, no_log: true}
      roles: {description: Ignored (so that mongodb_users entries can be passed as they are), type: raw}
"""

AUTH_FAILED = 18  # MongoDB's error code for AuthenticationFailed


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "login_host": {"type": "str", "default": "127.0.0.1"},
            "login_port": {"type": "int", "default": 27017},
            "tls_ca_file": {"type": "str", "default": ""},
            "logins": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "database": {"type": "str", "required": True},
                    "password": {"type": "str", "required": True, "no_log": True},
                    "roles": {"type": "raw"},
                },
            },
        },
        supports_check_mode=True,
    )
    try:
        import pymongo
        from pymongo.errors import OperationFailure, PyMongoError
    except ImportError:
        module.fail_json(msg="pymongo is needed in the Python that runs mongodb_logins")

    accepted = []
    for login in module.params["logins"]:
        client = pymongo.MongoClient(
            module.params["login_host"],
            module.params["login_port"],
            username=login["name"],
            password=login["password"],
            authSource=login["database"],
            serverSelectionTimeoutMS=5000,
            **tls_options(module.params["tls_ca_file"]),
            connect=False,
        )
        try:
            client[login["database"]].command("ping")
            accepted.append(True)
        except OperationFailure as exc:
            if exc.code != AUTH_FAILED and "uthentication failed" not in str(exc):
                module.fail_json(msg=f"{login['name']}@{login['database']}: {exc}")
            accepted.append(False)
        except PyMongoError as exc:
            module.fail_json(msg=f"cannot reach MongoDB on {module.params['login_host']}: {exc}")
        finally:
            client.close()
    module.exit_json(changed=False, accepted=accepted)


if __name__ == "__main__":
    main()
