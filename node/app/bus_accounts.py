"""Accounts on the nats-server a node starts (issue 10): only the node itself publishes on
`yiwang.>`; department systems get subscribe-only accounts (`yiwang bus user add NAME`), which
may read the YIWANG stream and run consumers on it but publish nothing a subscriber would take
for an entry. A forged `case_decided` from a department's account is refused by the server.

The accounts live in `<data dir>/nats/accounts.json` (mode 0600, in the 0700 data directory);
the server's configuration is written from them and reloaded (SIGHUP to the server's pid in
run.json) when one is added.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from node.domain.bounds import check
from node.domain.errors import InvalidInput

ACCOUNTS_FILE = "accounts.json"
CONFIG_FILE = "nats.conf"
NODE_USER = "yiwang-node"

# What a subscriber may publish: JetStream's read and consumer API for the YIWANG stream, acks,
# flow control and replies. Never a `yiwang.>` subject, never a stream's create, purge or delete.
SUBSCRIBER_PUBLISH = [
    "$JS.API.INFO",
    "$JS.API.STREAM.NAMES",  # js.subscribe(filter) finds the stream by its subject
    "$JS.API.STREAM.INFO.YIWANG",
    "$JS.API.STREAM.MSG.GET.YIWANG",
    "$JS.API.DIRECT.GET.YIWANG.>",
    "$JS.API.CONSUMER.>",
    "$JS.ACK.YIWANG.>",
    "$JS.FC.>",
    "_INBOX.>",
]


@dataclass
class BusAccounts:
    node_password: str
    subscribers: dict[str, str] = field(default_factory=dict)  # name -> password

    @classmethod
    def load(cls, folder: Path) -> BusAccounts:
        """The accounts of the server in `folder`, made (with a new node password) the first time."""
        path = folder / ACCOUNTS_FILE
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(data["node_password"]), {str(k): str(v) for k, v in data["subscribers"].items()})
        accounts = cls(secrets.token_urlsafe(24))
        accounts.save(folder)
        return accounts

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        data = {"node_password": self.node_password, "subscribers": self.subscribers}
        _write_private(folder / ACCOUNTS_FILE, json.dumps(data))

    def write_config(self, port: int, folder: Path) -> Path:
        """The server's configuration file in `folder` (mode 0600: it holds the passwords)."""
        path = folder / CONFIG_FILE
        _write_private(path, self.config(port, folder))
        return path

    def add_subscriber(self, name: str) -> str:
        """A new subscribe-only account's password (shown once by the CLI)."""
        check("NAME", name, "request_id")  # ASCII letters, digits and . _ : / -
        if name == NODE_USER or name in self.subscribers:
            raise InvalidInput("NAME", "a bus account of that name exists")
        self.subscribers[name] = secrets.token_urlsafe(24)
        return self.subscribers[name]

    def config(self, port: int, store_dir: Path) -> str:
        """The nats-server configuration: 127.0.0.1 only, JetStream, these accounts."""
        users = [
            {"user": NODE_USER, "password": self.node_password, "permissions": {"publish": [">"], "subscribe": [">"]}},
            *(
                {
                    "user": name,
                    "password": password,
                    "permissions": {"publish": {"allow": SUBSCRIBER_PUBLISH}, "subscribe": [">"]},
                }
                for name, password in sorted(self.subscribers.items())
            ),
        ]
        return (
            f"listen: 127.0.0.1:{port}\n"
            f"jetstream {{ store_dir: {json.dumps(str(store_dir))} }}\n"
            f"authorization {{ users: {json.dumps(users)} }}\n"
        )


def _write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by the owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
