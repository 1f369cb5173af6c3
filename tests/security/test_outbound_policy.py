"""With ``HUB_PROXY_DENY_PRIVATE=true`` the hub contacts no address of its own network on
anyone's behalf (docs/security.md, "Outbound connections").

The decision is made before connecting: the host name is resolved once, every address it
answers is checked (a single non-global one refuses the call), and the connection goes to a
checked address only, while the ``Host`` header, TLS SNI and the certificate check keep using
the name. A denied listener therefore never sees a TCP connection: the tests count them with
loopback listeners (tests/support/listener.py). Host names are answered by a stand-in for the
system resolver (tests/support/dns.py), the network edge.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from integration_hub.db.models import Connection
from integration_hub.outbound.upstream_http import address_denied
from integration_hub.queue import job_queue
from tests.support.tls import issue, serve_tls

PUBLIC = "93.184.216.34"

DENIED = [
    # IPv4: private, loopback, link-local, unspecified, broadcast
    "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.1",
    "169.254.169.254", "0.0.0.0", "0.1.2.3", "255.255.255.255",
    # shared address space (carrier-grade NAT), 100.64.0.0/10
    "100.64.0.1", "100.127.255.254",
    # other special-purpose blocks: protocol assignments, documentation, benchmarking,
    # multicast, reserved
    "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.1",
    "239.255.255.250", "240.0.0.1",
    # IPv6: loopback, unspecified, link-local (with a zone), unique local, site-local,
    # multicast, documentation, discard-only
    "::1", "::", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "ff0e::1",
    "2001:db8::1", "100::1",
    # IPv4 addresses carried in IPv6: mapped, compatible, 6to4, NAT64 (well-known and
    # local-use prefix), Teredo (the client address is stored inverted)
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:100.64.0.1", "::ffff:169.254.169.254",
    "::127.0.0.1", "::10.0.0.1",
    "2002:7f00:1::", "2002:a00:1::1", "2002:a9fe:a9fe::1", "2002:6440:1::",
    "64:ff9b::127.0.0.1", "64:ff9b::a00:1", "64:ff9b::169.254.169.254", "64:ff9b::100.64.0.1",
    "64:ff9b:1::5db8:d822", "64:ff9b:1::a00:1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:5db8:d822::f5ff:fffe",
]

ALLOWED = [
    PUBLIC, "1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.32.0.1",
    "2606:4700:4700::1111", "2a00:1450:4001:81c::200e",
    "::ffff:93.184.216.34", "2002:5db8:d822::1", "64:ff9b::93.184.216.34",
]


@pytest.mark.parametrize("address", DENIED)
def test_non_global_addresses_are_denied(address):
    assert address_denied(address) is True


@pytest.mark.parametrize("address", ALLOWED)
def test_global_addresses_are_allowed(address):
    assert address_denied(address) is False


# -- nobody connects to a denied address -----------------------------------------------------------

@pytest.fixture
def internal(make_integration):
    """Factory: an API-key integration on ``base`` with a health check, shared with mia."""

    def make(base: str) -> str:
        return make_integration("Internal", auth_type="apikey", api_key="integration-key-1",
                                api_key_name="X-Api-Key", api_base_uri=base,
                                data={"healthCheck": "/health"}, shares={"mia": 2})

    return make


HOSTS = {
    "address": lambda dns: "127.0.0.1",
    "name": lambda dns: dns.add("internal.hub.test", "127.0.0.1"),
    "name-with-a-public-address-first": lambda dns: dns.add("mixed.hub.test", PUBLIC,
                                                             "127.0.0.1"),
    "name-of-a-mapped-address": lambda dns: dns.add("mapped.hub.test", "::ffff:127.0.0.1"),
}


def raw_door(client, caller, integration):
    return client.get(f"/api/integrations/{integration}/request/items", headers=caller.headers)


def envelope_door(client, caller, integration):
    return client.post(f"/api/integrations/{integration}/request", headers=caller.headers,
                       json={"url": "items", "envelope": True})


@pytest.mark.parametrize("door", [raw_door, envelope_door], ids=["raw", "envelope"])
@pytest.mark.parametrize("host", list(HOSTS))
def test_the_proxy_never_connects_to_a_denied_address(guarded, dns, listener, internal, member,
                                                      door, host):
    integration = internal(f"http://{HOSTS[host](dns)}:{listener.port}/v1")

    answer = door(guarded.test_client(), member, integration)

    assert answer.status_code == 403, answer.get_data(as_text=True)
    assert answer.get_json()["code"] == "upstream_address_denied"
    assert listener.accepted() == 0
    assert listener.received == []


def test_health_checks_never_connect_to_a_denied_address(guarded, session, dns, listener,
                                                         internal, member):
    integration = internal(f"http://{dns.add('internal.hub.test', '127.0.0.1')}:{listener.port}")
    client = guarded.test_client()

    connect = client.post(f"/api/integrations/{integration}/connect", headers=member.headers,
                          json={"apiKey": "members-own-key"})
    assert connect.status_code == 403, connect.get_data(as_text=True)
    assert connect.get_json()["code"] == "upstream_address_denied"
    assert session.scalars(select(Connection)).all() == []  # nothing was stored
    still = client.get(f"/api/integrations/{integration}/connection", headers=member.headers)
    assert (still.status_code, still.get_json()["credentials"]) == (200, "integration")

    checked = client.post(f"/api/integrations/{integration}/test", headers=member.headers)
    assert checked.status_code == 200 and checked.get_json()["ok"] is False

    assert listener.accepted() == 0


# -- webhooks ----------------------------------------------------------------------------------------

PRIVATE_TARGETS = [
    "http://100.64.0.1/hook",
    "http://100.100.100.200/latest/meta-data",
    "http://[2002:7f00:1::]/hook",
    "http://[2002:a9fe:a9fe::]/latest/meta-data",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
    "http://[64:ff9b:1::a00:1]/hook",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
    "http://[::ffff:100.64.0.1]/hook",
    "http://[::127.0.0.1]/hook",
]


@pytest.mark.parametrize("url", PRIVATE_TARGETS)
def test_webhook_targets_naming_private_addresses_are_refused(guarded, admin, url):
    client = guarded.test_client()
    answer = client.post("/api/webhooks", headers=admin.headers,
                         json={"url": url, "events": ["*"], "secret": "whsec-private-target"})

    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.get_json()["code"] == "webhook_target_invalid"
    assert client.get("/api/webhooks", headers=admin.headers).get_json()["total"] == 0


def test_webhook_deliveries_never_connect_to_a_denied_address(guarded, dns, listener, admin):
    client = guarded.test_client()
    target = f"http://{dns.add('hooks.hub.test', '127.0.0.1')}:{listener.port}/hook"
    created = client.post("/api/webhooks", headers=admin.headers,
                          json={"url": target, "events": ["*"], "secret": "whsec-deliveries-by-name"})
    assert created.status_code == 201  # a name may resolve elsewhere later: checked at sending
    hook = created.get_json()["id"]
    assert client.post(f"/api/webhooks/{hook}/ping", headers=admin.headers).status_code == 202

    huey = job_queue(guarded).webhooks
    task = huey.dequeue()
    huey.execute(task)

    [delivery] = client.get(f"/api/webhooks/{hook}/deliveries",
                            headers=admin.headers).get_json()["_embedded"]["inf:webhook-delivery"]
    attempts = client.get(f"/api/webhooks/{hook}/deliveries/{delivery['id']}",
                          headers=admin.headers).get_json()["attempts"]
    assert [a["errorCode"] for a in attempts] == ["receiver_address_denied"]
    assert listener.accepted() == 0


# -- the name stays the name ---------------------------------------------------------------------------

def test_a_resolved_upstream_is_still_called_by_its_name(client, dns, upstream, internal, member):
    name = dns.add("api.hub.test", "127.0.0.1")
    integration = internal(f"http://{name}:{upstream.port}/v1")

    answer = raw_door(client, member, integration)

    assert answer.status_code == 200, answer.get_data(as_text=True)
    [received] = upstream.requests()
    assert received.header("Host") == f"{name}:{upstream.port}"


@pytest.fixture
def tls_upstream(tmp_path, monkeypatch):
    """Factory: an HTTPS server on 127.0.0.1 with a certificate for ``name``, from a
    certificate authority the hub's process trusts for this test."""
    servers = []

    def make(name: str):
        issued = issue(tmp_path / name, name)
        monkeypatch.setenv("SSL_CERT_FILE", str(issued.ca))
        servers.append(serve_tls(issued))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


def test_tls_checks_the_certificate_and_sends_sni_for_the_name(client, dns, tls_upstream,
                                                               internal, member):
    server = tls_upstream("api.hub.test")
    name = dns.add("api.hub.test", "127.0.0.1")
    integration = internal(f"https://{name}:{server.port}/v1")

    answer = raw_door(client, member, integration)

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert server.server_names == [name]
    assert server.hosts == [f"{name}:{server.port}"]


def test_tls_refuses_a_certificate_for_another_name(client, dns, tls_upstream, internal, member):
    server = tls_upstream("other.hub.test")
    name = dns.add("tls-mismatch.hub.test", "127.0.0.1")
    integration = internal(f"https://{name}:{server.port}/v1")

    answer = raw_door(client, member, integration)

    assert answer.status_code == 502 and answer.get_json()["code"] == "upstream_unreachable"
    assert server.server_names == [name]  # the handshake asked for the name, and failed on it
    assert server.hosts == []
