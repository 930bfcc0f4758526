"""``sniff --user``: becoming another user once the sockets are open (the live test is in test_sniff)."""

from __future__ import annotations

import os
import pwd

import pytest

from poolsniff.errors import ConfigError
from poolsniff.run.privileges import drop_privileges


def test_unknown_user() -> None:
    with pytest.raises(ConfigError, match="--user no-such-user-x: no such user"):
        drop_privileges("no-such-user-x")


def test_dropping_to_oneself_is_a_no_op() -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    drop_privileges(me)
    assert os.getuid() == pwd.getpwnam(me).pw_uid
