"""A self-signed certificate for serving the local platform over HTTPS (``mlp serve --tls-self-signed``).

SDK inner clients always call ``https://{ML_PLATFORM_HOST}``, so a local platform needs HTTPS for them.
This makes a small private CA and a server certificate it signs (for localhost, 127.0.0.1, ::1 and the
listening host), both kept in ``<data dir>/tls`` and reused on later starts. Clients trust the CA file
(``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``). A separate CA, not one self-signed leaf, because strict
verifiers refuse a leaf that is its own issuer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .private_files import write_private
from .settings import DataFolderError

T = TypeVar("T")

TLS_DIR = "tls"
VALIDITY = timedelta(days=825)  # the longest lifetime clients accept for a server certificate


@dataclass(frozen=True)
class TLSFiles:
    cert: Path  # the server's certificate chain (leaf, then CA)
    key: Path
    ca: Path  # what clients trust


def self_signed(data_dir: Path, host: str) -> TLSFiles:
    """The data folder's CA and server certificate, made on first use (and again for a new host).

    Each file is written whole and durable (:func:`write_private`). One found unusable (torn or empty
    by a crash of an earlier release, or a key that is not the certificate's) is a
    :class:`DataFolderError` naming it and the remedy, never a raw SSL error at start."""
    folder = data_dir / TLS_DIR
    files = TLSFiles(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    names = _names(host)
    if files.cert.is_file() and files.key.is_file() and files.ca.is_file() and _usable(files, names):
        return files
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now(UTC) - timedelta(minutes=5)  # tolerate a client clock slightly behind
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlp local platform CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0].value)])
    leaf = (
        _builder(leaf_name, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write(files.key, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _write(files.cert, leaf.public_bytes(pem) + ca.public_bytes(pem))
    _write(files.ca, ca.public_bytes(pem))
    return files


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    addresses = {"127.0.0.1", "::1"}
    try:
        addresses.add(str(ipaddress.ip_address(host)))
    except ValueError:
        if host and host != "localhost":
            names.append(x509.DNSName(host))
    addresses -= {"0.0.0.0", "::"}  # a wildcard listen address is no name a client connects to
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)]
    return names


def _usable(files: TLSFiles, names: list[x509.GeneralName]) -> bool:
    """Whether ``files`` can be served for ``names`` as they are (False: make new ones); raises
    :class:`DataFolderError` for a file that is damaged."""
    chain = _read(files.cert, "certificate chain", x509.load_pem_x509_certificates)
    _read(files.ca, "CA certificate", x509.load_pem_x509_certificate)
    key = _read(files.key, "private key", lambda data: serialization.load_pem_private_key(data, None))
    if key.public_key() != chain[0].public_key():
        # each file is whole, but a crash between writing the key and the certificate pairs them wrong
        raise _damaged(
            files.key, "is not the key of the certificate in server.pem (a crash while they were written?)"
        )
    alt = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    fresh = chain[0].not_valid_after_utc - datetime.now(UTC) > timedelta(days=1)
    return fresh and all(name in alt for name in names)


def _read(path: Path, what: str, load: Callable[[bytes], T]) -> T:
    data = path.read_bytes()
    try:
        return load(data)
    except ValueError:
        why = "a crash while an earlier release wrote it can leave it torn or empty"
        raise _damaged(path, f"holds {len(data)} bytes, not a PEM {what} ({why})") from None


def _damaged(path: Path, what: str) -> DataFolderError:
    return DataFolderError(
        f"{path} {what}. Remove the folder {path.parent} and start again; a new CA is made, and "
        f"clients must then trust the new {path.parent / 'ca.pem'}"
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, data: bytes) -> None:
    # Owner-only (the key is private), fsynced and swapped in whole: a crash leaves the old file or
    # the new one, never a torn one; a full disk leaves no temporary file.
    write_private(path, data)
