"""The web port of `yiwang run`: the application served by uvicorn in a thread, on a socket
bound here (so port 0 works and the bound port is known), TLS required off loopback."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import threading
import time
from pathlib import Path

import uvicorn

from node.config import WEB_SECRET_NAME
from node.context import Node
from node.domain.errors import SetupError
from node.web.app import make_app


def session_secret(data_dir: Path) -> str:
    """The key that signs session cookies: made once, kept beside the node key (mode 0600)."""
    path = data_dir / WEB_SECRET_NAME
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class WebServer:
    def __init__(self, node: Node, listen: str, tls_cert: str = "", tls_key: str = "") -> None:
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise SetupError(f"web.listen {listen!r} is not HOST:PORT")
        tls = bool(tls_cert and tls_key)
        if not is_loopback(host) and not tls:
            raise SetupError(f"web.listen {listen} is off loopback: set web.tls_cert and web.tls_key (TLS is required)")
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.bind((host, int(port)))
        except OSError as exc:
            self.sock.close()
            raise SetupError(f"cannot bind the web port {listen} (web.listen): {exc.strerror}") from None
        self.sock.listen(128)
        self.address = f"{host}:{self.sock.getsockname()[1]}"
        app = make_app(node, session_secret(node.settings.data_dir), secure_cookies=tls)
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            server_header=False,
            ssl_certfile=tls_cert or None,
            ssl_keyfile=tls_key or None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True, name="web")

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise SetupError(f"the web port {self.address} did not start")
        return self.address

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
