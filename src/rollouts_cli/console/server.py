"""Serve the console on 127.0.0.1 in a thread of this process (werkzeug's threaded server)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, make_server

from rollouts_cli.console.app import Settings, create_app
from rollouts_cli.console.source import Source

if TYPE_CHECKING:
    from rollouts_cli.cli import Where

# How often a page asks again: the local engine compresses time, AWS bakes for minutes.
LOCAL_POLL_MS = 1000
AWS_POLL_MS = 3000


class ConsoleServer:
    """The console for one control plane, on ``127.0.0.1:port`` (0: any free port)."""

    def __init__(self, where: Where, port: int = 0, *, allow_actions: bool = False) -> None:
        self.settings = Settings(
            source=Source(where),
            allow_actions=allow_actions,
            poll_ms=LOCAL_POLL_MS if where.connection.endpoint_url else AWS_POLL_MS,
            where=where.connection.where,
        )
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT/``: where the pages are (each needs the key's cookie)."""
        if self._server is None:
            raise RuntimeError("the console is not started")
        return f"http://127.0.0.1:{self._server.server_port}/"

    @property
    def url(self) -> str:
        """The URL to open: the list, with the console's key (it becomes a cookie)."""
        return f"{self.base}?key={self.settings.key}"

    def start(self) -> str:
        """Bind (OSError when the port is taken) and serve; returns the console's URL."""
        # One line per request (a page polls every second) would drown everything else.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app = create_app(self.settings)
        self._server = make_server("127.0.0.1", self._port, app, threaded=True)
        port = self._server.server_port
        self.settings.hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rollouts-console", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
