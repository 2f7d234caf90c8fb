"""The guard that keeps tests off the internet really refuses non-loopback connections."""

import socket

import pytest

from tests.conftest import NetworkAccessError


def test_connection_to_a_public_address_fails_before_leaving_the_machine() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(NetworkAccessError):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never reached, the guard refuses first
    sock.close()


def test_loopback_connections_are_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    client = socket.create_connection(server.getsockname())
    client.close()
    server.close()
