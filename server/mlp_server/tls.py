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
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .private_files import write_private
from .settings import DataFolderError

T = TypeVar("T")

TLS_DIR = "tls"
VALIDITY = timedelta(days=825)  # the longest lifetime clients accept for a server certificate


CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlp local platform CA")])


@dataclass(frozen=True)
class TLSFiles:
    cert: Path  # the server's certificate chain (leaf, then CA)
    key: Path
    ca: Path  # what clients trust
    note: str = ""  # what was done to files found in the folder (made again, served as they are)


def self_signed(data_dir: Path, host: str) -> TLSFiles:
    """The data folder's CA and server certificate, made on first use (and again for a new host).

    Each file is written whole and durable (:func:`write_private`), but a crash between two of them
    (key, chain, CA: in that order) pairs a new file with an old one. Files the platform made (its CA
    signs the chain) that do not match are made again: all of them for a key that is not the
    certificate's, ``ca.pem`` alone (from the chain) for one that does not sign it. Files someone
    else put there are never overwritten: a key or ``ca.pem`` of theirs that does not match is a
    :class:`DataFolderError` naming it, as is a file found torn or empty (never a raw SSL error at
    start); otherwise they are served as they are."""
    folder = data_dir / TLS_DIR
    files = TLSFiles(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    names = _names(host)
    note = ""
    missing = [path for path in (files.key, files.ca) if not path.is_file()]
    if files.cert.is_file() and missing:
        chain = _read(files.cert, "certificate chain", x509.load_pem_x509_certificates)
        if not _ours(chain):  # someone else's certificate: theirs to complete, never replaced
            named = " and ".join(str(path) for path in missing)
            raise DataFolderError(
                f"{named} missing beside {files.cert}, which is not the platform's own (left as it is). "
                f"Put {'them' if len(missing) > 1 else 'it'} there, or remove the folder {folder} and "
                "start again (a new CA is made, which clients must then trust)"
            )
    if files.cert.is_file() and not missing:
        verdict, note = _judge(files, names)
        if verdict == "serve":
            return TLSFiles(files.cert, files.key, files.ca, note)
        if verdict == "ca":
            chain = x509.load_pem_x509_certificates(files.cert.read_bytes())
            _write(files.ca, chain[1].public_bytes(serialization.Encoding.PEM))
            return TLSFiles(files.cert, files.key, files.ca, note)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now(UTC) - timedelta(minutes=5)  # tolerate a client clock slightly behind
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = CA_NAME
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
    return TLSFiles(files.cert, files.key, files.ca, note)


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


def _judge(files: TLSFiles, names: list[x509.GeneralName]) -> tuple[str, str]:
    """What to do with the folder's files, and why: ``serve`` them as they are, ``make`` new ones, or
    write ``ca`` again from the chain. Raises :class:`DataFolderError` for a file that is damaged, or
    one someone else put there that does not match (never overwritten)."""
    chain = _read(files.cert, "certificate chain", x509.load_pem_x509_certificates)
    ca = _read(files.ca, "CA certificate", x509.load_pem_x509_certificate)
    key = _read(files.key, "private key", lambda data: serialization.load_pem_private_key(data, None))
    ours = _ours(chain)
    if key.public_key() != chain[0].public_key():
        if ours:  # a crash between writing the key and the certificate paired them wrong
            return "make", (
                f"{files.key} was not the key of the certificate in server.pem (a crash while they were "
                f"written?): made a new CA and certificate; clients must trust the new {files.ca}"
            )
        raise DataFolderError(
            f"{files.key} is not the key of the certificate in {files.cert}, which is not the platform's own "
            f"(left as it is). Put the key of that certificate in {files.key}, or remove the folder "
            f"{files.key.parent} and start again (a new CA is made, which clients must then trust)"
        )
    if not any(cert == ca or _issued_by(cert, ca) for cert in chain):
        if ours and ca.subject == CA_NAME:  # a crash between writing the chain and the CA
            return "ca", (
                f"{files.ca} did not sign the certificate in server.pem (a crash while they were "
                "written?): wrote it again from the chain; clients must trust it"
            )
        raise DataFolderError(
            f"{files.ca} does not sign the certificate in {files.cert}: clients that trust it cannot "
            f"connect. Put the CA of that certificate in {files.ca}, or remove the folder {files.ca.parent} "
            "and start again (a new CA is made, which clients must then trust)"
        )
    if not ours:
        return "serve", f"{files.cert} is not the platform's own certificate: served as it is"
    alt = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    fresh = chain[0].not_valid_after_utc - datetime.now(UTC) > timedelta(days=1)
    return ("serve", "") if fresh and all(name in alt for name in names) else ("make", "")


def _ours(chain: list[x509.Certificate]) -> bool:
    """Whether the chain is one the platform made: a certificate and the CA named as its own, which
    signed it."""
    return len(chain) == 2 and chain[1].subject == CA_NAME and _issued_by(chain[0], chain[1])


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key signed ``cert`` (and its name is ``cert``'s issuer)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


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
