"""Keep a path's owner, group and mode through package upgrades (dpkg-statoverride)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: dpkg_statoverride
short_description: Register a dpkg stat override for a path
description:
  - Registers (or replaces) the owner, group and mode dpkg applies to I(path)
    whenever a package installs or upgrades it, and applies them now.
  - Needed where a package's maintainer script would otherwise reset a
    path on every upgrade (Debian's redis-tools resets C(/etc/redis) to
    C(redis:redis 2770) unless an override is registered).
options:
  path: {description: The path, type: path, required: true}
  owner: {description: User name, type: str, required: true}
  group: {description: Group name, type: str, required: true}
  mode:
    description: Octal mode as a string, for example C("0750").
    type: str
    required: true
"""


def parse(listing: str) -> tuple[str, str, str] | None:
    """`dpkg-statoverride --list PATH` output -> (owner, group, mode), or None."""
    fields = listing.split()
    if len(fields) < 4:
        return None
    return fields[0], fields[1], fields[2]


def wanted(owner: str, group: str, mode: str) -> tuple[str, str, str]:
    return owner, group, format(int(mode, 8), "o")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "owner": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "mode": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    try:
        want = wanted(module.params["owner"], module.params["group"], module.params["mode"])
    except ValueError:
        module.fail_json(msg=f"mode must be octal, got {module.params['mode']!r}")
    tool = module.get_bin_path("dpkg-statoverride", required=True)
    rc, out, _err = module.run_command([tool, "--list", path])
    current = parse(out) if rc == 0 else None
    if current == want:
        module.exit_json(changed=False, path=path)
    if module.check_mode:
        module.exit_json(changed=True, path=path, previous=current)
    if current is not None:
        module.run_command([tool, "--remove", path], check_rc=True)
    module.run_command([tool, "--update", "--add", *want, path], check_rc=True)
    module.exit_json(changed=True, path=path, previous=current)


if __name__ == "__main__":
    main()
