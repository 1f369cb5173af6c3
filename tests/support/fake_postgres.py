"""A PostgreSQL server on loopback that records how its clients try to log in.

It speaks just enough of the protocol for libpq: it declines GSSAPI encryption (counting the
requests), answers an SSL request with ``N``, or with ``S`` and a TLS handshake that asks for a
client certificate when made ``FakePostgres(tls=...)``; it records the startup packet's
parameters (``user``, ``database``...), asks for a clear-text password, records it, and
refuses it (``28P01``), so the client gives up.

:attr:`startups`, :attr:`passwords` and :attr:`client_certificates` (DER, or None for a TLS
client that sent none) say what each connection sent; :attr:`connections` counts them.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.tls import Issued, issue

_SSL_REQUEST, _GSSENC_REQUEST, _PROTOCOL_3 = 80877103, 80877104, 196608


@dataclass
class ClientCertificate:
    ca: Path
    certificate: Path
    key: Path


def client_certificate(folder: Path, common_name: str = "hub-machine") -> ClientCertificate:
    """A throwaway CA and a client certificate it signed (files in ``folder``; the key 0600,
    as libpq wants)."""
    now = datetime.datetime.now(datetime.UTC)
    name = lambda common: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])  # noqa: E731
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("client CA")).issuer_name(name("client CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    made = ClientCertificate(folder / "client-ca.pem", folder / "postgresql.crt",
                             folder / "postgresql.key")
    made.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    made.certificate.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    made.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    made.key.chmod(0o600)
    return made


@dataclass
class FakePostgres:
    tls: tuple[Issued, Path] | None = None  # (the server's certificate, client CA to accept)
    host: str = "127.0.0.1"
    port: int = 0
    connections: int = 0
    gssenc_requests: int = 0
    startups: list[dict[str, str]] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)
    client_certificates: list[bytes | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._context = None
        if self.tls:
            issued, client_ca = self.tls
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(issued.certificate, issued.key)
            self._context.verify_mode = ssl.CERT_OPTIONAL
            self._context.load_verify_locations(client_ca)
        self._listener = socket.create_server((self.host, 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    def with_tls(cls, folder: Path, client_ca: Path) -> FakePostgres:
        return cls(tls=(issue(folder, "localhost"), client_ca))

    def close(self) -> None:
        self._listener.close()

    def __enter__(self) -> FakePostgres:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(10)
        try:
            self._talk(connection)
        except (OSError, ValueError):
            pass  # the client went away: what it sent is recorded
        finally:
            connection.close()

    def _talk(self, connection: socket.socket) -> None:
        while True:
            body = _read_startup(connection)
            code = struct.unpack("!i", body[:4])[0]
            if code == _GSSENC_REQUEST:
                with self._lock:
                    self.gssenc_requests += 1
                connection.sendall(b"N")
            elif code == _SSL_REQUEST and self._context is None:
                connection.sendall(b"N")
            elif code == _SSL_REQUEST:
                connection.sendall(b"S")
                connection = self._context.wrap_socket(connection, server_side=True)
                with self._lock:
                    self.client_certificates.append(connection.getpeercert(binary_form=True))
            elif code == _PROTOCOL_3:
                break
            else:
                return
        words = body[4:].split(b"\0")
        with self._lock:
            self.startups.append({words[i].decode(): words[i + 1].decode()
                                  for i in range(0, len(words) - 1, 2) if words[i]})
        connection.sendall(b"R" + struct.pack("!ii", 8, 3))  # clear-text password, please
        kind, message = _read_message(connection)
        if kind == b"p":
            with self._lock:
                self.passwords.append(message.rstrip(b"\0").decode())
        fields = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0"
        connection.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ValueError("the client closed the connection")
        data += chunk
    return data


def _read_startup(connection: socket.socket) -> bytes:
    length = struct.unpack("!i", _read_exactly(connection, 4))[0]
    return _read_exactly(connection, length - 4)


def _read_message(connection: socket.socket) -> tuple[bytes, bytes]:
    kind = _read_exactly(connection, 1)
    length = struct.unpack("!i", _read_exactly(connection, 4))[0]
    return kind, _read_exactly(connection, length - 4)
