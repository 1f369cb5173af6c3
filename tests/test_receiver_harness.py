"""The webhook receiver harness (tests/support/receiver.py) works end to end.

No hub here: plain HTTP calls (requests, raw sockets) against the real server, proving the
recordings, the signature check and the behaviours that the hub's webhook tests rely on.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import pytest
import requests

from tests.support.receiver import MAX_BODY, sign, start_receiver

SECRET = "whsec-test-secret"


@pytest.fixture
def session():
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment between the test and 127.0.0.1
    yield session
    session.close()


def deliver(session, url: str, payload: dict, secret: str | None = SECRET, event: str = "connection.created",
            signature: str | None = None, timeout: float = 5) -> requests.Response:
    """POST ``payload`` as the hub does (signature: ``sign(secret, body)`` unless given)."""
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Event": event,
               "X-Hub-Event-Id": str(uuid.uuid4()), "X-Hub-Delivery": str(uuid.uuid4())}
    if signature is None and secret is not None:
        signature = sign(secret, body)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return session.post(url, data=body, headers=headers, timeout=timeout)


# -- recording and signatures ---------------------------------------------------------------------
def test_a_validly_signed_delivery_is_recorded_as_sent_and_answered_ok(receiver, session):
    receiver.expect_secret("/hook", SECRET)
    response = deliver(session, receiver.url() + "?attempt=1", {"id": "c1", "n": 1})

    assert receiver.url() == f"http://127.0.0.1:{receiver.port}/hook"
    assert (response.status_code, response.text) == (200, "ok")
    (delivery,) = receiver.deliveries()
    assert (delivery.method, delivery.path, delivery.query) == ("POST", "/hook", "attempt=1")
    assert delivery.body == json.dumps({"id": "c1", "n": 1}).encode()
    assert delivery.json == {"id": "c1", "n": 1}
    assert delivery.event == "connection.created"
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["x-hub-signature-256"] == sign(SECRET, delivery.body)
    assert uuid.UUID(delivery.headers["x-hub-delivery"]) and uuid.UUID(delivery.headers["x-hub-event-id"])
    assert delivery.status == 200 and delivery.signature_valid is True


BAD_SIGNATURES = {
    "wrong-secret": lambda body: sign("another-secret", body),
    "missing": lambda body: None,
    "no-prefix": lambda body: sign(SECRET, body).removeprefix("sha256="),
    "wrong-hex": lambda body: "sha256=" + "0" * 64,
    "upper-case-hex": lambda body: "sha256=" + sign(SECRET, body).removeprefix("sha256=").upper(),
    "non-ascii": lambda body: "sha256=\u00e9t\u00e9",
}


@pytest.mark.parametrize("bad", BAD_SIGNATURES)
def test_a_bad_signature_is_recorded_as_invalid_and_answered_401(receiver, session, bad):
    receiver.expect_secret("/hook", SECRET)
    payload = {"id": "c2"}
    signature = BAD_SIGNATURES[bad](json.dumps(payload).encode())
    response = deliver(session, receiver.url(), payload, secret=None, signature=signature)

    assert response.status_code == 401
    (delivery,) = receiver.deliveries()
    assert delivery.status == 401 and delivery.signature_valid is False
    assert delivery.json == payload


def test_without_an_expected_secret_signatures_are_not_checked(receiver, session):
    receiver.expect_secret("/checked", SECRET)
    response = deliver(session, receiver.url("/other"), {"id": "c3"}, secret="anything")

    assert response.status_code == 200
    (delivery,) = receiver.deliveries("/other")
    assert delivery.signature_valid is None and delivery.status == 200


def test_deliveries_filter_by_exact_path_in_arrival_order(receiver, session):
    for path in ("/a", "/b", "/a", "/a/sub"):
        deliver(session, receiver.url(path), {"path": path})
    assert [d.path for d in receiver.deliveries()] == ["/a", "/b", "/a", "/a/sub"]
    assert [d.path for d in receiver.deliveries("/a")] == ["/a", "/a"]
    assert receiver.deliveries("/none") == []


def test_a_body_over_1_mib_is_answered_413_without_being_kept(receiver, session):
    receiver.expect_secret("/hook", SECRET)
    receiver.fail("/hook", status=503)
    response = session.post(receiver.url(), data=b"x" * (MAX_BODY + 1), timeout=5)

    assert response.status_code == 413
    (delivery,) = receiver.deliveries()
    assert delivery.status == 413 and delivery.body == b"" and delivery.signature_valid is False
    assert deliver(session, receiver.url(), {"after": True}).status_code == 503  # behaviour still queued


# -- behaviours -----------------------------------------------------------------------------------
def test_fail_answers_the_next_requests_then_ok_again(receiver, session):
    receiver.fail("/hook", times=2, status=503)
    statuses = [deliver(session, receiver.url(), {"try": n}).status_code for n in range(3)]

    assert statuses == [503, 503, 200]
    assert [d.status for d in receiver.deliveries()] == [503, 503, 200]
    assert deliver(session, receiver.url("/elsewhere"), {}).status_code == 200


def test_a_queued_behaviour_wins_over_the_401_of_a_bad_signature(receiver, session):
    receiver.expect_secret("/hook", SECRET)
    receiver.fail("/hook", status=502)
    response = deliver(session, receiver.url(), {"id": "c4"}, secret="wrong")

    assert response.status_code == 502
    (delivery,) = receiver.deliveries()
    assert delivery.status == 502 and delivery.signature_valid is False


def test_drop_closes_the_connection_without_an_answer(receiver, session):
    deliver(session, receiver.url(), {"warm": "keep-alive connection"})
    receiver.drop("/hook")
    with pytest.raises(requests.ConnectionError):
        deliver(session, receiver.url(), {"id": "dropped"})

    assert [d.status for d in receiver.deliveries()] == [200, 0]
    assert receiver.deliveries()[1].json == {"id": "dropped"}
    assert deliver(session, receiver.url(), {"id": "next"}).status_code == 200


def test_drop_writes_not_a_single_byte(receiver):
    receiver.drop("/hook")
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
        sock.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        try:
            received = sock.recv(1024)
        except ConnectionResetError:
            received = b""
    assert received == b""
    assert [d.status for d in receiver.deliveries()] == [0]


def test_behaviours_are_taken_first_in_first_out(receiver, session):
    receiver.fail("/hook", status=500)
    receiver.drop("/hook")
    receiver.fail("/hook", status=429)

    assert deliver(session, receiver.url(), {}).status_code == 500
    with pytest.raises(requests.ConnectionError):
        deliver(session, receiver.url(), {})
    assert deliver(session, receiver.url(), {}).status_code == 429
    assert deliver(session, receiver.url(), {}).status_code == 200
    assert [d.status for d in receiver.deliveries()] == [500, 0, 429, 200]


def test_hang_longer_than_the_client_timeout_makes_the_client_time_out(receiver, session):
    receiver.hang("/slow", seconds=2.0)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        deliver(session, receiver.url("/slow"), {"id": "slow"}, timeout=0.2)

    assert time.monotonic() - started < 1.5
    (delivery,) = receiver.deliveries("/slow")  # recorded on arrival, with the answer it will give
    assert delivery.status == 200 and delivery.json == {"id": "slow"}


def test_hang_shorter_than_the_client_timeout_answers_ok_late(receiver, session):
    receiver.hang("/slow", seconds=0.2)
    started = time.monotonic()
    response = deliver(session, receiver.url("/slow"), {}, timeout=5)

    assert response.status_code == 200 and time.monotonic() - started >= 0.2


# -- waiting and resetting ------------------------------------------------------------------------
def test_wait_for_returns_once_a_delivery_arrives_from_another_thread(receiver, session):
    sender = threading.Timer(0.1, deliver, (session, receiver.url(), {"id": "late"}))
    sender.start()
    try:
        (delivery,) = receiver.wait_for(1, "/hook", timeout=5)
    finally:
        sender.join()
    assert delivery.json == {"id": "late"}
    assert receiver.wait_for(1) == receiver.deliveries()


def test_wait_for_raises_with_what_was_received_on_timeout(receiver, session):
    deliver(session, receiver.url("/other"), {}, event="integration.deleted")
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"expected 1 deliveries on /hook .*received 1:.*"
                                             r"POST /other integration\.deleted -> 200"):
        receiver.wait_for(1, "/hook", timeout=0.1)
    assert time.monotonic() - started < 1


def test_reset_forgets_deliveries_behaviours_and_secrets(receiver, session):
    receiver.expect_secret("/hook", SECRET)
    receiver.fail("/hook", times=3)
    receiver.hang("/hook", seconds=5)
    deliver(session, receiver.url(), {"before": True}, secret="wrong")
    receiver.reset()

    assert receiver.deliveries() == []
    response = deliver(session, receiver.url(), {"after": True}, secret="wrong")
    assert response.status_code == 200
    (delivery,) = receiver.deliveries()
    assert delivery.signature_valid is None and delivery.status == 200


def test_stop_closes_the_port_and_may_be_called_twice():
    receiver = start_receiver()
    port = receiver.port
    receiver.stop()
    receiver.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
