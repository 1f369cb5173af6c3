"""Where the hub listens and where it is reached from this machine, read from HUB_BIND."""

import socket

import pytest

from integration_hub.edge.serving import busy_message, configured_bind, host_and_port, in_use, local_url

# (HUB_BIND, (host, port) as gunicorn binds it, the address the demo and curl lines use)
TABLE = [
    ("127.0.0.1:8100", ("127.0.0.1", 8100), "http://127.0.0.1:8100"),
    ("localhost:9000", ("localhost", 9000), "http://localhost:9000"),
    ("0.0.0.0:8000", ("0.0.0.0", 8000), "http://127.0.0.1:8000"),    # everywhere: loopback
    (":8000", ("", 8000), "http://127.0.0.1:8000"),
    ("[::]:8100", ("::", 8100), "http://[::1]:8100"),
    ("[::1]:8100", ("::1", 8100), "http://[::1]:8100"),
    ("::1", ("::1", 8000), "http://[::1]:8000"),                     # gunicorn's port
    ("example.internal", ("example.internal", 8000), "http://example.internal:8000"),
    ("unix:/run/hub.sock", None, None),                               # only HUB_PUBLIC_URL says
    ("fd://3", None, None),
    ("127.0.0.1:http", None, None),
    ("127.0.0.1:70000", None, None),
]


@pytest.mark.parametrize(("bind", "address", "url"), TABLE)
def test_a_bind_is_read_as_gunicorn_reads_it(bind, address, url):
    assert host_and_port(bind) == address
    assert local_url(bind) == url


def test_hub_bind_or_the_default():
    assert configured_bind({}) == "127.0.0.1:8000"
    assert configured_bind({"HUB_BIND": "  "}) == "127.0.0.1:8000"
    assert configured_bind({"HUB_BIND": "127.0.0.1:8100"}) == "127.0.0.1:8100"


def test_a_port_someone_listens_on_is_in_use_and_the_message_offers_a_free_one():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        bind = f"127.0.0.1:{port}"
        assert in_use(bind)
        said = busy_message(bind)
        offered = int(said.split("make run PORT=")[1].split()[0])
        assert said.startswith(f"{bind} is already in use")
        assert offered > port and not in_use(f"127.0.0.1:{offered}")
        assert f"--bind 127.0.0.1:{offered}" in said and f"HUB_BIND=127.0.0.1:{offered}" in said
    assert not in_use(bind)  # closed: free again
