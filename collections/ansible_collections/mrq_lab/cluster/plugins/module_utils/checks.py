"""The checks a role's argument spec cannot express: ranges, addresses (parsed,
never matched as text), passwords, settings reserved to the roles. One function
per role returns every problem found, each naming the variable, the bad value
(never a secret's) and what is allowed:

    redis_port: 70000 is not allowed; a TCP port, 1-65535

The roles call them through the lookup `mrq_lab.cluster.problems` in their
validate.yml, which runs before anything changes on a host. Types, choices and
required variables are the argument specs' job; a value of the wrong type is
reported here too (the specs convert "6379" to 6379, not "lots" to a number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.mrq_lab.cluster.plugins.module_utils.endpoints import (
    is_loopback,
    is_wildcard,
    parse_ip,
)
from ansible_collections.mrq_lab.cluster.plugins.module_utils.firewall import (
    network_problem,
    opening_problems,
)
from ansible_collections.mrq_lab.cluster.plugins.module_utils.tls import (
    covers,
    keypair_problems,
    names,
    server_problems,
)

Vars = Mapping[str, Any]
HIDDEN = "(value hidden)"
RESERVED = "the role sets it (through its own variable, if any)"

# Words that mark a value as a placeholder, not a password.
PLACEHOLDERS = ("change-me", "changeme", "change_me", "password", "secret")
MIN_PASSWORD = 12
# Unit instance names, queue and database names: letters, digits and a few signs.
NAME = re.compile(r"[A-Za-z0-9_]+\Z")
QUEUE = re.compile(r"[A-Za-z0-9_.:-]+\Z")
TASK_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\Z")
# MRQ 0.9.10's raw queue kinds, longest suffix first (Queue.get_queue_type).
RAW_KINDS = ("timed_set", "sorted_set", "set", "raw")
RAW_QUEUE_KEYS = frozenset({"name", "task", "param", "retry_queue", "store_jobs"})
USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}\Z")
# Redis sizes: 0, 100, 256mb, 2gb, 1GB...
SIZE = re.compile(r"(0|[1-9][0-9]*(k|kb|m|mb|g|gb)?)\Z", re.IGNORECASE)
COMMAND = re.compile(r"[A-Za-z][A-Za-z|-]*\Z")
DIRECTIVE = re.compile(r"[a-z][a-z0-9-]*\Z")

# redis.conf directives the role sets and guarantees (README: "What each role guarantees").
REDIS_RESERVED = frozenset(
    {
        "bind",
        "port",
        "protected-mode",
        "requirepass",
        "masterauth",
        "user",
        "aclfile",
        "rename-command",
        "maxmemory-policy",
        "include",
        "dir",
        "daemonize",
        "supervised",
        "pidfile",
        "unixsocket",
        "unixsocketperm",
        "enable-debug-command",
        "enable-module-command",
        "enable-protected-configs",
        "tls-port",
        "tls-cert-file",
        "tls-key-file",
        "tls-ca-cert-file",
        "tls-auth-clients",
        "tls-protocols",
    }
)
# mongod.conf settings the role sets and guarantees, as dotted paths; a prefix
# covers everything under it.
MONGODB_RESERVED = (
    "security",
    "net.bindIp",
    "net.bindIpAll",
    "net.port",
    "net.tls",
    "net.ssl",
    "storage.dbPath",
    "systemLog.path",
    "systemLog.destination",
    "processManagement",
    "setParameter.enableLocalhostAuthBypass",
)
# Directories the system owns: mongodb_backup_dir may not be one of them (the
# role chowns it) nor lie in the trees below (read-only or private to the
# backup service's sandbox, or someone else's).
SYSTEM_DIRS = (
    "/",
    "/var/",
    "/var/backups/",
    "/var/lib/",
    "/var/log/",
    "/var/cache/",
    "/srv/",
    "/opt/",
    "/mnt/",
)
SYSTEM_TREES = ("/etc/", "/usr/", "/boot/", "/bin/", "/sbin/", "/lib/", "/home/", "/root/", "/tmp/")
SYSTEM_TREES += ("/proc/", "/sys/", "/dev/", "/run/", "/var/tmp/")
PORTS = (1, 65535)
UNPRIVILEGED_PORTS = (1024, 65535)


class Problems:
    """Collects the problems of one role's variables."""

    def __init__(self, values: Vars) -> None:
        self.values = values
        self.found: list[str] = []

    def add(self, name: str, message: str, secret: bool = False) -> None:
        """The variable `name` as a whole is refused."""
        self.refuse(name, HIDDEN if secret else self.values.get(name), message)

    def refuse(self, label: str, value: Any, message: str) -> None:
        """A part of a variable (an entry, a key, a field) is refused."""
        shown = value if value is HIDDEN else repr(value)
        self.found.append(f"{label}: {shown} is not allowed; {message}")

    def integer(self, name: str, low: int, high: int | None = None, what: str = "") -> None:
        value = as_int(self.values.get(name))
        if value is None or value < low or (high is not None and value > high):
            allowed = f"{low}-{high}" if high is not None else f">= {low}"
            self.add(name, f"{what}, {allowed}" if what else f"an integer {allowed}")

    def password(self, name: str, required: bool = True) -> None:
        value = self.values.get(name)
        if not required and value in (None, ""):
            return
        problem = password_problem(value)
        if problem:
            self.add(name, problem, secret=True)

    def addresses(self, name: str, host_addresses: Iterable[str], allow_empty: bool = False) -> None:
        value = self.values.get(name)
        entries = [value] if isinstance(value, str) else value
        if not isinstance(entries, list) or (not entries and not allow_empty):
            self.add(name, "at least one IP address")
            return
        for entry in entries:
            problem = address_problem(entry, host_addresses)
            if problem:
                self.refuse(name, entry, problem)

    def networks(self, name: str) -> None:
        """A list of IP addresses and networks (a firewall allow-list)."""
        value = self.values.get(name)
        if not isinstance(value, list):
            self.add(name, "a list of IP addresses and networks")
            return
        for entry in value:
            problem = network_problem(entry)
            if problem:
                self.refuse(name, entry, problem)

    def each(self, name: str, pattern: re.Pattern[str], what: str, allow_empty: bool = True) -> None:
        value = self.values.get(name)
        if not isinstance(value, list) or (not value and not allow_empty):
            self.add(name, f"a non-empty list of {what}" if not allow_empty else f"a list of {what}")
            return
        for item in value:
            if not isinstance(item, str) or not pattern.match(item):
                self.refuse(name, item, what)


def as_int(value: Any) -> int | None:
    """An integer, or its digits as a string (`-e name=6379` gives a string); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    return None


def as_bool(value: Any) -> bool:
    """A boolean as Ansible's `bool` filter reads it (`-e name=true` gives a string)."""
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "on", "1", "true", "y", "t")
    return value is True or (isinstance(value, int) and value == 1)


def password_problem(value: Any) -> str | None:
    """Why `value` is not a usable password, or None. Never includes the value."""
    if not isinstance(value, str):
        return "a string is required"
    if len(value) < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    if not re.fullmatch(r"[ -~]+", value):
        return "printable ASCII only: no control character (a trailing newline from a YAML | block?)"
    if value != value.strip():
        return "no leading or trailing space"
    lowered = value.lower()
    if any(word in lowered for word in PLACEHOLDERS):
        return f"a placeholder (contains one of: {', '.join(PLACEHOLDERS)}); generate a password"
    return None


def address_problem(entry: Any, host_addresses: Iterable[str]) -> str | None:
    """Why a bind entry cannot be bound on this host, or None."""
    if not isinstance(entry, str):
        return "an IP address (a string)"
    if is_wildcard(entry) or is_loopback(entry):
        return None
    ip = parse_ip(entry)
    if ip is None:
        return "an IP address (host names are not bound), a wildcard (0.0.0.0, ::) or loopback"
    own = {parse_ip(a) for a in host_addresses}
    if ip not in own:
        own_list = ", ".join(sorted(str(a) for a in host_addresses)) or "none"
        return f"not an address of this host (it has: {own_list})"
    return None


def _items(tree: Any) -> list[tuple[Any, Any]]:
    return list(tree.items()) if isinstance(tree, Mapping) else []


def _dotted(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, Mapping):
            paths.extend(_dotted(value, f"{path}."))
    return paths


def redis_problems(v: Vars, host_addresses: Iterable[str]) -> list[str]:
    p = Problems(v)
    p.integer("redis_port", *PORTS, what="a TCP port")
    p.password("redis_requirepass")
    p.password("redis_mrq_password")
    if v.get("redis_mrq_password") == v.get("redis_requirepass"):
        p.add("redis_mrq_password", "MRQ's password must differ from the administrator's", secret=True)
    user = v.get("redis_mrq_user")
    if not isinstance(user, str) or not USER.match(user) or user == "default":
        p.add("redis_mrq_user", "an ACL user name other than default: lowercase letters, digits, _ and -")
    if not re.fullmatch(r"[ -~]+", str(v.get("redis_mrq_acl"))):
        p.add("redis_mrq_acl", "ACL rules on one line of printable ASCII")
    p.addresses("redis_bind", host_addresses)
    p.networks("redis_allow")
    if as_bool(v.get("redis_tls")):
        tls = [v.get(f"redis_tls_{part}") for part in ("ca_cert", "cert", "key")]
        p.found.extend(server_problems("redis_tls", *tls))
    p.integer("redis_timeout", 0, what="idle seconds (0: never)")
    p.integer("redis_databases", 1, 10000, what="a number of databases")
    save = v.get("redis_save")
    if not isinstance(save, list):
        p.add("redis_save", 'a list of "SECONDS CHANGES" rules')
    for rule in save if isinstance(save, list) else []:
        parts = str(rule).split()
        if len(parts) != 2 or not all(x.isdigit() and int(x) > 0 for x in parts):
            p.refuse("redis_save", rule, '"SECONDS CHANGES", two positive integers')
    if not SIZE.match(str(v.get("redis_maxmemory"))):
        p.add("redis_maxmemory", 'a size: "0" (no limit), bytes, or a number with kb, mb, gb')
    renames = v.get("redis_rename_commands")
    for command, new in _items(renames):
        if not COMMAND.match(str(command)) or str(command).upper() in {"AUTH", "HELLO"}:
            p.refuse("redis_rename_commands", command, "a command name other than AUTH, HELLO")
        elif not re.fullmatch(r"[A-Za-z0-9_-]*", str(new)):
            p.refuse(f"redis_rename_commands[{command!r}]", new, "letters, digits, _ and -")
    for name, value in _items(v.get("redis_extra_config")):
        key = str(name).lower()
        if key in REDIS_RESERVED:
            p.refuse("redis_extra_config", name, RESERVED)
        elif not DIRECTIVE.match(key):
            p.refuse("redis_extra_config", name, "a redis.conf directive name")
        elif not re.fullmatch(r"[ -~]*", str(value)):
            p.refuse(f"redis_extra_config[{name!r}]", value, "one line of printable ASCII")
    return p.found


def mongodb_problems(v: Vars, host_addresses: Iterable[str]) -> list[str]:
    p = Problems(v)
    p.integer("mongodb_port", *PORTS, what="a TCP port")
    p.addresses("mongodb_bind", host_addresses)
    p.networks("mongodb_allow")
    if as_bool(v.get("mongodb_tls")):
        tls = [v.get(f"mongodb_tls_{part}") for part in ("ca_cert", "cert", "key")]
        p.found.extend(server_problems("mongodb_tls", *tls))
    binds = v.get("mongodb_bind") if isinstance(v.get("mongodb_bind"), list) else []
    beyond = [b for b in binds if isinstance(b, str) and not is_loopback(b)]
    if beyond and v.get("mongodb_authorization") is not True:
        p.add(
            "mongodb_authorization",
            f"must be true while mongod listens beyond loopback ({', '.join(beyond)})",
        )
    p.password("mongodb_admin_password")
    users = v.get("mongodb_users")
    for user in users if isinstance(users, list) else []:
        user = user if isinstance(user, Mapping) else {}
        name = user.get("name")
        label = f"mongodb_users[{name!r}]"
        if not isinstance(name, str) or not USER.match(name.lower()):
            p.refuse("mongodb_users", name, "a user name of letters, digits, _ and -")
        if not NAME.match(str(user.get("database"))):
            p.refuse(f"{label}.database", user.get("database"), "a database name of letters, digits and _")
        # A user without a password takes mongodb_mrq_password (the default user does).
        own = user.get("password")
        problem = password_problem(own if own else v.get("mongodb_mrq_password"))
        if problem:
            p.refuse(f"{label}.password" if own else "mongodb_mrq_password", HIDDEN, problem)
    for path_var in ("mongodb_db_path", "mongodb_log_path", "mongodb_backup_dir"):
        if not str(v.get(path_var, "")).startswith("/"):
            p.add(path_var, "an absolute path")
    p.integer("mongodb_log_keep_days", 1, what="days")
    p.integer("mongodb_backup_keep", 1, what="a number of dumps per database")
    p.integer("mongodb_backup_max_age_days", 1, what="days")
    backup_dir = str(v.get("mongodb_backup_dir", "")).rstrip("/") + "/"
    if backup_dir.startswith(str(v.get("mongodb_db_path", "")).rstrip("/") + "/"):
        p.add("mongodb_backup_dir", "a directory outside mongodb_db_path")
    elif backup_dir in SYSTEM_DIRS or backup_dir.startswith(SYSTEM_TREES):
        p.add("mongodb_backup_dir", "a directory of its own (the role makes it the backup user's, 0700)")
    backup_user = v.get("mongodb_backup_user")
    taken = {"root", "mongodb", v.get("mongodb_admin_user")}
    if not isinstance(backup_user, str) or not USER.match(backup_user) or backup_user in taken:
        p.add(
            "mongodb_backup_user",
            "a system user name (lowercase letters, digits, _ and -), not root, mongodb or the administrator",
        )
    if not re.fullmatch(r"[ -~]+", str(v.get("mongodb_backup_schedule", ""))):
        p.add("mongodb_backup_schedule", "a systemd calendar event (OnCalendar=), e.g. daily or *-*-* 03:00")
    extra = v.get("mongodb_extra_config")
    for path in _dotted(extra) if isinstance(extra, Mapping) else []:
        if any(path == r or path.startswith(f"{r}.") for r in MONGODB_RESERVED):
            p.refuse("mongodb_extra_config", path, RESERVED)
    return p.found


# Per-task settings (mrq_tasks) and their lowest allowed value.
TASK_SETTINGS = {"timeout": 1, "max_retries": 0}


def mrq_problems(v: Vars, host_addresses: Iterable[str]) -> list[str]:
    p = Problems(v)
    user = v.get("mrq_user")
    if not isinstance(user, str) or not USER.match(user) or user == "root":
        p.add("mrq_user", "an unprivileged system user name (not root): lowercase letters, digits, _ and -")
    p.addresses("mrq_dashboard_bind", host_addresses)
    p.networks("mrq_dashboard_allow")
    p.integer("mrq_dashboard_port", *UNPRIVILEGED_PORTS, what="a port the unprivileged service user may bind")
    p.password("mrq_dashboard_password", required=False)
    if as_bool(v.get("mrq_dashboard_tls")) and "dashboard" in (v.get("mrq_components") or []):
        dashboard_tls_problems(p)
    for name in ("mrq_scheduler_interval", "mrq_scheduler_maintenance_interval"):
        p.integer(name, 1, what="seconds")
    p.integer("mrq_worker_stop_timeout", 1, what="seconds")
    p.integer("mrq_health_settle", 1, what="seconds")
    p.integer("mrq_job_timeout", 1, what="seconds")
    p.integer("mrq_max_retries", 0, what="a number of retries")
    p.integer("mrq_requeue_within", 45, what="seconds (a worker silent for the bound - 15 s is dead)")
    p.integer("mrq_success_ttl", 1, what="seconds")
    # MRQ 0.9.10 gives every job not started, succeeded, cancelled or aborted -
    # a requeued, retried or interrupted one too - this TTL from when it was first
    # queued: a short one would delete jobs still waiting to run.
    p.integer(
        "mrq_failed_ttl", 7 * 86400, what="seconds, at least 7 days (jobs waiting to run expire with it too)"
    )
    p.each("mrq_scheduler_queues", QUEUE, "queue names: letters, digits, _ . : -")
    if not NAME.match(str(v.get("mrq_mongodb_database"))):
        p.add("mrq_mongodb_database", "a database name of letters, digits and _")
    raw_names = raw_queue_problems(p, v.get("mrq_raw_queues"))
    groups = v.get("mrq_worker_groups")
    groups = [g if isinstance(g, Mapping) else {} for g in groups] if isinstance(groups, list) else []
    names = [g.get("name") for g in groups]
    for group in groups:
        name = group.get("name")
        label = f"mrq_worker_groups[{name!r}]"
        if not isinstance(name, str) or not NAME.match(name):
            p.refuse("mrq_worker_groups", name, "a name of letters, digits and _")
        elif names.count(name) > 1:
            p.refuse("mrq_worker_groups", name, "a name used twice; names are unique")
        queues = group.get("queues")
        if not isinstance(queues, list) or not queues:
            p.refuse(f"{label}.queues", queues, "at least one queue (without, MRQ takes 'default')")
        for queue in queues if isinstance(queues, list) else []:
            if not isinstance(queue, str) or not QUEUE.match(queue):
                p.refuse(f"{label}.queues", queue, "letters, digits, _ . : -")
            elif raw_kind(queue) and queue not in raw_names:
                p.refuse(f"{label}.queues", queue, "a raw queue (by its suffix) that mrq_raw_queues defines")
        # Left out: the argument spec's defaults (the template's too).
        greenlets = as_int(group.get("greenlets", 20))
        if greenlets is None or greenlets < 1:
            p.refuse(f"{label}.greenlets", group.get("greenlets"), "an integer >= 1")
        processes = group.get("processes", 0)
        if processes != "auto" and (as_int(processes) is None or as_int(processes) < 0):
            p.refuse(f"{label}.processes", processes, "an integer >= 0, or auto (one per CPU)")
    for path, settings in _items(v.get("mrq_tasks")):
        if not isinstance(settings, Mapping):
            p.refuse(f"mrq_tasks[{path!r}]", settings, "a dict of timeout, max_retries")
            continue
        for key, value in settings.items():
            low, number = TASK_SETTINGS.get(key), as_int(value)
            if low is None or number is None or number < low:
                p.refuse(f"mrq_tasks[{path!r}].{key}", value, "timeout (seconds >= 1) or max_retries (>= 0)")
    return p.found


def raw_kind(queue: str) -> str:
    """The raw queue kind MRQ 0.9.10 reads from a queue name's suffix ("" for regular)."""
    return next((kind for kind in RAW_KINDS if queue.endswith(f"_{kind}")), "")


def raw_queue_problems(p: Problems, queues: Any) -> list[str]:
    """mrq_raw_queues; returns the names defined."""
    if not isinstance(queues, list):
        p.add("mrq_raw_queues", "a list of {name, task, retry_queue, param, store_jobs}")
        return []
    entries = [q if isinstance(q, Mapping) else {} for q in queues]
    names = [q.get("name") for q in entries]
    for queue in entries:
        name = queue.get("name")
        label = f"mrq_raw_queues[{name!r}]"
        if not isinstance(name, str) or not QUEUE.match(name) or not raw_kind(name):
            p.refuse(
                "mrq_raw_queues",
                name,
                "a queue name (letters, digits, _ . : -) ending in _raw, _set, _sorted_set or _timed_set",
            )
        elif names.count(name) > 1:
            p.refuse("mrq_raw_queues", name, "a name used twice; names are unique")
        if not isinstance(queue.get("task"), str) or not TASK_PATH.match(queue["task"]):
            p.refuse(f"{label}.task", queue.get("task"), "a task's dotted path, e.g. tasks_push.task1")
        retry = queue.get("retry_queue")
        if not isinstance(retry, str) or not QUEUE.match(retry) or raw_kind(retry):
            p.refuse(
                f"{label}.retry_queue", retry, "a regular queue (letters, digits, _ . : -; no raw suffix)"
            )
        param = queue.get("param", "")
        if not isinstance(param, str) or (param and not NAME.match(param)):
            p.refuse(f"{label}.param", param, "empty, or a name of letters, digits and _")
        if not isinstance(queue.get("store_jobs", True), bool):
            p.refuse(f"{label}.store_jobs", queue.get("store_jobs"), "true or false")
        unknown = sorted(set(queue) - RAW_QUEUE_KEYS)
        if unknown:
            p.refuse(label, ", ".join(map(str, unknown)), f"only {', '.join(sorted(RAW_QUEUE_KEYS))}")
    return [n for n in names if isinstance(n, str)]


def dashboard_tls_problems(p: Problems) -> None:
    """mrq_dashboard_tls: nginx's certificate and key, for the address browsers connect to."""
    pem = {part: p.values.get(f"mrq_dashboard_tls_{part}") for part in ("cert", "key")}
    missing = [part for part, value in pem.items() if not str(value or "").strip()]
    for part in missing:
        p.add(f"mrq_dashboard_tls_{part}", "mrq_dashboard_tls needs it (PEM text)", secret=part == "key")
    if missing:
        return
    problems = keypair_problems("mrq_dashboard_tls", pem["cert"], pem["key"])
    bind = str(p.values.get("mrq_dashboard_bind"))
    if not problems and not is_wildcard(bind) and not covers(pem["cert"], bind):
        named = ", ".join(names(pem["cert"])) or "nothing"
        problems.append(
            f"mrq_dashboard_tls_cert: names {named} (subjectAltName), not {bind} (mrq_dashboard_bind),"
            " the address browsers connect to: they would refuse it. Add it to the certificate."
        )
    p.found.extend(problems)


def firewall_problems(v: Vars, host_addresses: Iterable[str]) -> list[str]:
    p = Problems(v)
    if v.get("firewall_enabled"):
        inventory = (v.get("groups") or {}).get("all", [])
        ssh_port = as_int(v.get("ansible_port")) or 22
        p.found.extend(opening_problems(v.get("firewall_openings"), ssh_port, inventory))
    return p.found


ROLES: dict[str, Callable[[Vars, Iterable[str]], list[str]]] = {
    "redis": redis_problems,
    "mongodb": mongodb_problems,
    "mrq": mrq_problems,
    "firewall": firewall_problems,
}


def host_addresses(facts: Mapping[str, Any]) -> list[str]:
    """The host's own IP addresses, from Ansible's network facts."""
    return [str(a) for key in ("all_ipv4_addresses", "all_ipv6_addresses") for a in facts.get(key) or []]
