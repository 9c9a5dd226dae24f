"""``mlp serve`` starting on a full disk, and on a damaged ``token.key`` or ``tls/server.key``: exit 1
with a message naming the data folder (or the file) and what to do, never "unexpected error" or a raw
SSL error; nothing left half-written (no temporary file, no account without its keys), so that the same
folder starts once there is room."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mlp_server.private_files import write_private
from mlp_testing import CAN_MOUNT, clean_env, fill_disk, mlp_script, small_disk
from volcengine_ml_platform.models.model import Model


def serve(
    data: Path, home: Path, seconds: float = 5, extra: tuple[str, ...] = (), *, stderr: bool = False
) -> str:
    """``mlp serve``'s exit and output, or "STARTED" when it still runs after ``seconds`` (with
    ``stderr``, followed by what it wrote to stderr until then)."""
    argv = [mlp_script(), "serve", "--data-dir", str(data), "--port", "0", "--perf-workers", "0",
            "--log-level", "warning", *extra]  # fmt: skip
    try:
        done = subprocess.run(argv, env=clean_env(home), capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired as exc:
        said = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return "STARTED" + (f" {said}" if stderr else "")
    return f"rc={done.returncode} {done.stdout}{done.stderr}"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    if not CAN_MOUNT:
        pytest.skip("mounting a small tmpfs needs root")
    with small_disk(tmp_path / "small") as mount:
        yield mount


def test_starting_on_a_full_disk_names_the_data_folder_and_leaves_it_usable(
    small_fs: Path, tmp_path: Path
) -> None:
    # Each gap stops the start somewhere else: creating the database, its schema, the credentials
    # file, the account, the token key, the object store's folders.
    refused = 0
    for gap in range(56, 72, 2):
        data = small_fs / f"data-{gap}"
        filler = fill_disk(small_fs, gap)
        out = serve(data, tmp_path)
        filler.unlink()
        if out == "STARTED":
            break  # and with more room it starts too
        refused += 1
        assert out.startswith("rc=1 ") and "unexpected error" not in out, out
        assert f"the disk of the data folder {data} is full" in out, out
        assert [p.name for p in data.rglob("*") if p.is_file() and "tmp" in p.name] == []
        Model(data_dir=data).list_models()  # with room again: it opens, and its credentials work
        (small_fs / f"data-{gap}").rename(small_fs / f"done-{gap}")  # keep the tmpfs's usage alike
    assert refused > 0, "no gap was tight enough to stop the start: the test no longer tests anything"


def test_a_short_token_key_names_the_file_and_the_remedy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert serve(data, tmp_path) == "STARTED"
    (data / "token.key").write_bytes(b"")  # what a power loss could leave of an un-fsynced new file

    out = serve(data, tmp_path)

    assert out.startswith("rc=1 ") and "unexpected error" not in out, out
    assert f"{data / 'token.key'} holds 0 bytes" in out and "Remove it and start again" in out, out
    (data / "token.key").unlink()
    assert serve(data, tmp_path) == "STARTED"


def test_a_private_file_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "token.key"
    assert write_private(path, b"first", keep_existing=True)
    assert not write_private(path, b"second", keep_existing=True)  # the first writer wins
    assert path.read_bytes() == b"first" and path.stat().st_mode & 0o777 == 0o600
    write_private(path, b"replaced")
    assert path.read_bytes() == b"replaced"
    with pytest.raises(FileNotFoundError):
        write_private(tmp_path / "no-folder" / "x", b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token.key"]  # no temporary file left


def test_a_full_disk_while_the_tls_files_are_made_leaves_no_temporary_file(
    small_fs: Path, tmp_path: Path
) -> None:
    # The self-signed CA and certificate are made first thing: with no page free, writing them fails.
    data = small_fs / "data"
    filler = fill_disk(small_fs, 0)
    out = serve(data, tmp_path, extra=("--tls-self-signed",))
    filler.unlink()
    assert out.startswith("rc=1 ") and "unexpected error" not in out, out
    assert f"the disk of the data folder {data} is full" in out, out
    assert sorted(p.name for p in data.rglob("*") if p.is_file()) == [], out  # no temporary key file
    assert serve(data, tmp_path, extra=("--tls-self-signed",)) == "STARTED"  # with room it starts
    assert (data / "tls" / "server.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("name", "keep", "said"),
    [
        ("server.key", 0, "holds 0 bytes, not a PEM private key"),
        ("server.key", 60, "holds 60 bytes, not a PEM private key"),
        ("server.pem", 100, "holds 100 bytes, not a PEM certificate chain"),
        ("ca.pem", 0, "holds 0 bytes, not a PEM CA certificate"),
    ],
)
def test_a_torn_tls_file_names_the_file_and_the_remedy(
    tmp_path: Path, name: str, keep: int, said: str
) -> None:
    data = tmp_path / "data"
    tls = ("--tls-self-signed",)
    assert serve(data, tmp_path, extra=tls) == "STARTED"
    torn = data / "tls" / name
    torn.write_bytes(torn.read_bytes()[:keep])  # what a power loss could leave of an un-fsynced file

    out = serve(data, tmp_path, extra=tls)

    assert out.startswith("rc=1 ") and "unexpected error" not in out and "Traceback" not in out, out
    assert f"{torn} {said}" in out and f"Remove the folder {data / 'tls'} and start again" in out, out
    shutil.rmtree(data / "tls")
    assert serve(data, tmp_path, extra=tls) == "STARTED"


def tls_state(folder: Path) -> tuple[bytes, bytes, bytes]:
    return tuple(  # type: ignore[return-value]
        (folder / name).read_bytes() for name in ("server.key", "server.pem", "ca.pem")
    )


def handshake(folder: Path) -> str:
    """A TLS handshake of a client trusting ``ca.pem`` with a server on ``server.pem``/``server.key``,
    for localhost: the subject's common name the client saw."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(folder / "server.pem", folder / "server.key")
    client_ctx = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    ours, theirs = socket.socketpair()

    def serve_one() -> None:
        with contextlib.suppress(OSError):  # ssl.SSLError too: the client refused the certificate
            server_ctx.wrap_socket(theirs, server_side=True).close()

    with ours, theirs:
        served = threading.Thread(target=serve_one)
        served.start()
        try:
            with client_ctx.wrap_socket(ours, server_hostname="localhost") as tls:
                seen = tls.getpeercert()
        finally:
            served.join(10)
    return str(dict(x[0] for x in seen["subject"])["commonName"])


def test_a_tls_key_that_is_not_the_certificates_is_made_again_when_the_platform_made_them(
    tmp_path: Path,
) -> None:
    """A crash between writing the key and the certificate (another key beside the certificate): both
    are the platform's own, so it makes a new CA and certificate and says so, instead of stopping."""
    data, other = tmp_path / "data", tmp_path / "other"
    tls = ("--tls-self-signed",)
    assert serve(data, tmp_path, extra=tls) == "STARTED"
    assert serve(other, tmp_path, extra=tls) == "STARTED"
    shutil.copyfile(other / "tls" / "server.key", data / "tls" / "server.key")
    with pytest.raises(ssl.SSLError):
        handshake(data / "tls")  # what uvicorn would have served

    out = serve(data, tmp_path, extra=tls, seconds=8, stderr=True)

    assert out.startswith("STARTED"), out
    said = f"{data / 'tls' / 'server.key'} was not the key of the certificate in server.pem"
    assert said in out and f"clients must trust the new {data / 'tls' / 'ca.pem'}" in out, out
    assert handshake(data / "tls") == "localhost"
    assert (data / "tls" / "server.key").read_bytes() != (other / "tls" / "server.key").read_bytes()
    again = serve(data, tmp_path, extra=tls, seconds=8, stderr=True)
    assert again.startswith("STARTED") and said not in again, again  # they pair now: kept


def test_a_ca_file_that_does_not_sign_the_certificate_is_written_again_when_the_platform_made_it(
    tmp_path: Path,
) -> None:
    """A crash between writing the chain and ca.pem (the previous CA's file beside the new chain):
    clients that trust ca.pem could not connect. ca.pem is written again from the chain, and said."""
    data, other = tmp_path / "data", tmp_path / "other"
    tls = ("--tls-self-signed",)
    assert serve(data, tmp_path, extra=tls) == "STARTED"
    assert serve(other, tmp_path, extra=tls) == "STARTED"
    shutil.copyfile(other / "tls" / "ca.pem", data / "tls" / "ca.pem")
    key, chain, _ = tls_state(data / "tls")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(data / "tls")

    out = serve(data, tmp_path, extra=tls, seconds=8, stderr=True)

    assert out.startswith("STARTED"), out
    assert handshake(data / "tls") == "localhost"
    assert f"{data / 'tls' / 'ca.pem'} did not sign the certificate in server.pem" in out, out
    assert tls_state(data / "tls")[:2] == (key, chain)  # the chain and key served before, kept


def users_tls_files(folder: Path, *, names: list[str]) -> None:
    """A certificate of the user's own CA ("corp CA"), for ``names``, with its key and ca.pem."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corp CA")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])

    def builder(subject: x509.Name, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=30))
        )

    ca = (
        builder(ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    alt = x509.SubjectAlternativeName([x509.DNSName(n) for n in names])
    leaf = (
        builder(leaf_name, key.public_key()).add_extension(alt, critical=False).sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    plain = serialization.NoEncryption()
    (folder / "server.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, plain))
    (folder / "server.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))


def test_tls_files_someone_else_put_in_the_folder_are_never_overwritten(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    tls = ("--tls-self-signed",)
    folder = data / "tls"
    users_tls_files(folder, names=["corp.example"])  # not for localhost: the platform would use another
    users_tls_files(elsewhere, names=["corp.example"])
    state = tls_state(folder)

    out = serve(data, tmp_path, extra=tls, seconds=8, stderr=True)
    assert tls_state(folder) == state, "the user's files were overwritten"
    assert out.startswith("STARTED") and f"{folder / 'server.pem'} is not the platform's own" in out, out

    # Their key beside another certificate: named, left as it is.
    shutil.copyfile(elsewhere / "server.key", folder / "server.key")
    state = tls_state(folder)
    out = serve(data, tmp_path, extra=tls)
    assert out.startswith("rc=1 ") and "Traceback" not in out, out
    assert f"{folder / 'server.key'} is not the key of the certificate in {folder / 'server.pem'}" in out, out
    assert tls_state(folder) == state

    # Their ca.pem that does not sign their certificate: named, left as it is.
    users_tls_files(folder, names=["corp.example"])
    shutil.copyfile(elsewhere / "ca.pem", folder / "ca.pem")
    state = tls_state(folder)
    out = serve(data, tmp_path, extra=tls)
    assert out.startswith("rc=1 ") and "Traceback" not in out, out
    assert f"{folder / 'ca.pem'} does not sign the certificate in {folder / 'server.pem'}" in out, out
    assert tls_state(folder) == state


@pytest.mark.parametrize("missing", ["ca.pem", "server.key"])
def test_tls_files_someone_else_put_in_the_folder_are_kept_when_one_is_missing(
    tmp_path: Path, missing: str
) -> None:
    """Their certificate and key without ca.pem (clients trust a public CA), or without the key: the
    platform made a new CA, key and certificate over theirs (their key lost). Named, left as it is."""
    data = tmp_path / "data"
    folder = data / "tls"
    users_tls_files(folder, names=["localhost"])
    (folder / missing).unlink()
    kept = {
        name: (folder / name).read_bytes()
        for name in ("server.key", "server.pem", "ca.pem")
        if name != missing
    }

    out = serve(data, tmp_path, extra=("--tls-self-signed",))

    assert {name: (folder / name).read_bytes() for name in kept} == kept, "the user's files were overwritten"
    assert not (folder / missing).exists()
    assert out.startswith("rc=1 ") and "Traceback" not in out, out
    said = f"{folder / missing} missing beside {folder / 'server.pem'}, which is not the platform's own"
    assert said in out, out


def test_the_embedded_platform_names_a_short_token_key_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    argv = [mlp_script(), "models", "list", "--data-dir", str(data)]
    assert subprocess.run(argv, env=clean_env(tmp_path), capture_output=True, timeout=120).returncode == 0
    (data / "token.key").write_bytes(b"")

    done = subprocess.run(argv, env=clean_env(tmp_path), capture_output=True, text=True, timeout=120)

    assert done.returncode == 1, done.stderr
    said = f"mlp: error: the embedded platform cannot open {data}: {data / 'token.key'} holds 0 bytes"
    assert done.stderr.startswith(said) and "Remove it and start again" in done.stderr, done.stderr
