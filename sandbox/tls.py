"""A throwaway certificate authority for the PagerDuty stand-in.

The `pagerduty` client library (and so the provider's PagerdutyHook) refuses any base URL that
is not `https://`, so the stand-in serves TLS with a server certificate for 127.0.0.1 and
localhost (plus the advertised `--host` and every `--tls-name`, e.g. `sandbox` for the other
containers of docker-compose.yaml), made at each start and signed by a sandbox CA. The CA is made once and kept in a CA directory
(default `<repo>/.sandbox/ca`, git-ignored) shared by every sandbox on the machine, so a
process that trusts it trusts every sandbox, even several at once. Each state dir gets a
`ca-bundle.pem`: the roots the environment already trusts (its SSL_CERT_FILE, else certifi's)
plus the sandbox CA, so nothing else stops working when `SSL_CERT_FILE`/`REQUESTS_CA_BUNDLE`
point at it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CA_FILE = "ca.pem"
CA_BUNDLE_FILE = "ca-bundle.pem"
_CA_KEY_FILE = "ca-key.pem"
_CERT_FILE = "tls-cert.pem"
_KEY_FILE = "tls-key.pem"
DEFAULT_CA_DIR = Path(__file__).resolve().parents[1] / ".sandbox" / "ca"
ALWAYS_NAMES = ("127.0.0.1", "localhost")
_DNS_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_DNS_NAME = re.compile(rf"(\*\.)?{_DNS_LABEL}(\.{_DNS_LABEL})*\.?")


def tls_name(text: str) -> str:
    """`text` as a certificate name: an IP address (normalised) or a DNS name (lower case).
    ValueError says what was expected."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    name = text.lower()
    if len(name) > 253 or not _DNS_NAME.fullmatch(name):
        raise ValueError(f"expected a DNS name or an IP address, got {text!r}")
    return name.rstrip(".")


def _general_name(name: str):
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    ca_bundle: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_tls_files(state_dir: Path, ca_dir: Path = DEFAULT_CA_DIR,
                   names: Iterable[str] = ()) -> TlsFiles:
    """The shared CA (made on first use) and a fresh server certificate in `state_dir`, valid
    for 127.0.0.1, localhost and each of `names` (DNS names or IP addresses)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key, ca_cert = _shared_ca(ca_dir)
    # Validity is checked against the real clock, whatever the sandbox's --now says.
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    # dict: no duplicate entries, in the order given.
    alt_names = [_general_name(n) for n in dict.fromkeys(
        tls_name(n) for n in (*ALWAYS_NAMES, *names))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    files = TlsFiles(ca_dir / CA_FILE, state_dir / CA_BUNDLE_FILE, state_dir / _CERT_FILE,
                     state_dir / _KEY_FILE)
    _write_bundle(files.ca_bundle, ca_cert.public_bytes(pem))
    files.cert_file.write_bytes(cert.public_bytes(pem))
    files.key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    files.key_file.chmod(0o600)
    return files


def _shared_ca(ca_dir: Path):
    """Load the CA from `ca_dir`, or make it (under a lock: sandboxes may start together)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    with open(ca_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cert_path, key_path = ca_dir / CA_FILE, ca_dir / _CA_KEY_FILE
        if cert_path.exists() and key_path.exists():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if cert.not_valid_after_utc > now + dt.timedelta(days=60):
                return key, cert
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "estate-ops sandbox CA")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        cert_path.write_bytes(cert.public_bytes(pem))
        return key, cert


def _write_bundle(path: Path, ca_pem: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(_trusted_roots() + b"\n" + ca_pem)
    tmp.replace(path)


def _trusted_roots() -> bytes:
    """The roots this environment already trusts (its SSL_CERT_FILE, which may hold a proxy's
    CA), else certifi's: pointing SSL_CERT_FILE at the bundle must not distrust anything."""
    import os

    for candidate in (os.environ.get("SSL_CERT_FILE"), os.environ.get("REQUESTS_CA_BUNDLE")):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes()
    try:
        import certifi

        return Path(certifi.where()).read_bytes()
    except (ImportError, OSError):
        return b""
