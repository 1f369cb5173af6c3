"""The counting listener (tests/support/listener.py) counts exactly the connections made to
it, whether or not they sent anything, and answers and records HTTP requests."""

from __future__ import annotations

import socket

import pytest
import requests

from tests.support.listener import Answer, start_listener


@pytest.fixture
def listener():
    started = start_listener(Answer(status=418, body=b'{"teapot": true}'))
    yield started
    started.stop()


def test_a_fresh_listener_counts_nothing(listener):
    assert listener.accepted() == 0
    assert listener.accepted() == 0  # its own probes are not counted


def test_silent_connections_are_counted(listener):
    for _ in range(3):
        socket.create_connection(("127.0.0.1", listener.port)).close()
    assert listener.accepted() == 3
    assert listener.received == []


def test_requests_are_answered_and_recorded(listener):
    session = requests.Session()
    session.trust_env = False
    answer = session.post(f"{listener.url}/token", data={"client_secret": "s3cret"}, timeout=10)

    assert answer.status_code == 418 and answer.json() == {"teapot": True}
    assert listener.accepted() == 1
    [received] = listener.received
    assert received.startswith(b"POST /token HTTP/1.1\r\n")
    assert received.endswith(b"client_secret=s3cret")
