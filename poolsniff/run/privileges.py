"""Dropping root once the capture sockets are open: ``sniff --user`` (run mode helper).

source (opened as root) -> **drop root** -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

``sniff`` opens its packet sockets as root (CAP_NET_RAW), then becomes an unprivileged user
for the rest of the run; with ``--jobs`` the workers are forked after that, so none of them
holds root either.
"""

from __future__ import annotations

import os
import pwd
import sys

from poolsniff.errors import ConfigError


def drop_privileges(user: str) -> None:
    """Become ``user`` (its uid, gid, no supplementary groups); ConfigError if that is not possible."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ConfigError(f"--user {user}: no such user") from None
    if os.getuid() == os.geteuid() == entry.pw_uid:
        return
    imports = [p for p in sys.path if p and os.path.isdir(p)]
    try:
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    except PermissionError as e:
        raise ConfigError(
            f"--user {user}: cannot switch to that user ({e.strerror}); "
            "--user works when poolsniff starts as root"
        ) from e
    # Python imports modules lazily: a user who cannot read them would fail later, mid-capture
    blocked = [p for p in imports if not os.access(p, os.R_OK | os.X_OK)]
    if blocked:
        raise ConfigError(
            f"--user {user}: that user cannot read {blocked[0]}; install Python and poolsniff "
            "where it can read them, or run without --user"
        )
