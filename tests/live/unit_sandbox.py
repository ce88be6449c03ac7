"""Run a command inside the sandbox deploy/cctv-monitor.service asks systemd for, without systemd.

systemd is not PID 1 where the tests run, so ``systemd-run`` cannot start the unit. This
helper rebuilds the parts of the sandbox that could stop the sensor from working, the way
systemd builds them, and ``exec``s the command inside:

* ``SystemCallFilter=`` and ``SystemCallErrorNumber=``: an allow-list seccomp filter of the
  unit's system call groups, resolved by ``systemd-analyze syscall-filter`` (an allow-list
  also admits ``@default``, as systemd does); other calls fail with the errno;
* ``MemoryDenyWriteExecute=yes``: a second filter refusing ``mmap`` with PROT_WRITE and
  PROT_EXEC, ``mprotect``/``pkey_mprotect`` with PROT_EXEC and ``shmat`` with SHM_EXEC
  (systemd's rules);
* ``RestrictAddressFamilies=``: a third filter refusing ``socket()`` for other families
  with EAFNOSUPPORT;
* ``NoNewPrivileges=yes`` (needed to load the filters unprivileged).

The user, the capabilities (``setpriv``) and ``ProtectProc=``/``ProcSubset=`` (a private
``/proc`` mount) are set up by the caller, see :func:`sandboxed`. The filters need
libseccomp (``libseccomp.so.2``), loaded with ctypes.

Usage: python unit_sandbox.py UNIT_FILE COMMAND...
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
SCMP_CMP_GE = 5
SCMP_CMP_MASKED_EQ = 7
PR_SET_NO_NEW_PRIVS = 38
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
AF_MAX = 46


def errno_action(code: int) -> int:
    """SCMP_ACT_ERRNO(code)."""
    return 0x00050000 | (code & 0xFFFF)


class ArgCmp(ctypes.Structure):
    """libseccomp's struct scmp_arg_cmp."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def unit_settings(unit: Path) -> dict[str, list[str]]:
    """Every ``Key=value`` of the unit's [Service] section, values of repeated keys in order."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in unit.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def syscall_groups() -> dict[str, list[str]]:
    """systemd's system call groups (``@name`` -> members, groups among them)."""
    text = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not raw.startswith(" ") and line.startswith("@"):
            current = groups.setdefault(line, [])
        elif current is not None and line and not line.startswith("#"):
            current.append(line)
        elif not line:
            current = None
    return groups


def expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    """System call names, with groups resolved recursively."""
    out: set[str] = set()
    for name in names:
        if name.startswith("@"):
            out |= expand(groups[name], groups)
        else:
            out.add(name)
    return out


def allowed_syscalls(settings: dict[str, list[str]]) -> tuple[set[str], int]:
    """The names the unit's SystemCallFilter= lines allow, and the errno for the others.

    The first line decides allow-list (no ``~``) or deny-list; later ``~`` lines take away.
    """
    groups = syscall_groups()
    allowed: set[str] = expand(["@default"], groups)
    lines = settings.get("SystemCallFilter", [])
    if not lines or lines[0].startswith("~"):
        raise SystemExit("the unit has no allow-list SystemCallFilter=")
    for line in lines:
        deny = line.startswith("~")
        names = expand(line.lstrip("~").split(), groups)
        allowed = allowed - names if deny else allowed | names
    code = settings.get("SystemCallErrorNumber", ["EPERM"])[-1]
    return allowed, getattr(errno, code)


class Seccomp:
    """The few libseccomp calls the filters need."""

    def __init__(self) -> None:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(ArgCmp),
        ]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        self.lib = lib

    def load(self, default: int, rules: list[tuple[int, str, list[ArgCmp]]]) -> None:
        """One filter: ``default`` action, and (action, syscall, conditions) rules."""
        ctx = self.lib.seccomp_init(default)
        if not ctx:
            raise OSError("seccomp_init failed")
        for action, name, conds in rules:
            nr = self.lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                continue  # not a system call of this architecture
            array = (ArgCmp * max(len(conds), 1))(*conds)
            rc = self.lib.seccomp_rule_add_array(ctx, action, nr, len(conds), array)
            if rc < 0:
                raise OSError(-rc, f"seccomp_rule_add {name}: {os.strerror(-rc)}")
        rc = self.lib.seccomp_load(ctx)
        self.lib.seccomp_release(ctx)
        if rc < 0:
            raise OSError(-rc, f"seccomp_load: {os.strerror(-rc)}")


def families(settings: dict[str, list[str]]) -> set[int]:
    """The socket families RestrictAddressFamilies= allows."""
    names = " ".join(settings.get("RestrictAddressFamilies", [])).split()
    return {int(getattr(socket, name)) for name in names}


def apply(unit: Path) -> None:
    """NoNewPrivileges, then the three filters of ``unit``, in this process."""
    settings = unit_settings(unit)
    allowed, code = allowed_syscalls(settings)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    sc = Seccomp()
    if settings.get("MemoryDenyWriteExecute", ["no"])[-1] == "yes":
        eperm = errno_action(errno.EPERM)
        wx = PROT_WRITE | PROT_EXEC
        sc.load(
            SCMP_ACT_ALLOW,
            [
                (eperm, "mmap", [ArgCmp(2, SCMP_CMP_MASKED_EQ, wx, wx)]),
                (eperm, "mprotect", [ArgCmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)]),
                (eperm, "pkey_mprotect", [ArgCmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)]),
                (eperm, "shmat", [ArgCmp(2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC)]),
            ],
        )
    keep = families(settings)
    if keep:
        refuse = errno_action(errno.EAFNOSUPPORT)
        rules = [(refuse, "socket", [ArgCmp(0, SCMP_CMP_EQ, f, 0)]) for f in range(AF_MAX)]
        rules = [r for r in rules if r[2][0].datum_a not in keep]
        rules.append((refuse, "socket", [ArgCmp(0, SCMP_CMP_GE, AF_MAX, 0)]))
        sc.load(SCMP_ACT_ALLOW, rules)
    # Last, as systemd does: once it is in place, seccomp() itself is no longer allowed.
    sc.load(errno_action(code), [(SCMP_ACT_ALLOW, name, []) for name in sorted(allowed)])


def main(argv: list[str]) -> None:
    unit, command = Path(argv[0]), argv[1:]
    apply(unit)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
