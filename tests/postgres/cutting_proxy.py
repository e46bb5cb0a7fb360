"""A TCP proxy in front of PostgreSQL that can cut a connection right after COMMIT landed.

The real shape of "the connection died at COMMIT but the commit landed": the
server receives the COMMIT, commits, answers, and the answer never reaches
the client. Armed (`Proxy.cut_next_answer`), the proxy forwards the client's
next message (the COMMIT), waits for the server's answer (so the commit is
done), drops it and closes both sides: the client sees a lost connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class Proxy:
    """Listens on 127.0.0.1 (``port``) and forwards every connection to ``target``."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._armed = threading.Event()
        #: How many answers were dropped (each one a connection cut after its COMMIT).
        self.cuts = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_next_answer(self) -> None:
        """Cut the connection whose client sends next, once the server has answered it."""
        self._armed.set()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._target)
            cut = threading.Event()  # set: this pair's next server answer is dropped
            threading.Thread(target=self._up, args=(client, server, cut), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, cut), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, cut: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                if self._armed.is_set():
                    self._armed.clear()
                    cut.set()
                server.sendall(data)
        _close(client, server)

    def _down(self, server: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := server.recv(65536):
                if cut.is_set():
                    self.cuts += 1
                    break  # the answer (the commit is done) never reaches the client
                client.sendall(data)
        _close(client, server)


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
