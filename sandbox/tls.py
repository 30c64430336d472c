"""A throwaway certificate authority for the PagerDuty stand-in.

The `pagerduty` client library (and so the provider's PagerdutyHook) refuses any base URL that
is not `https://`, so the stand-in serves TLS with a server certificate for 127.0.0.1 signed by
a CA made fresh in the state dir at every start. Clients trust it through `ca-bundle.pem`
(certifi's public roots plus the sandbox CA, so nothing else stops working when
`SSL_CERT_FILE`/`REQUESTS_CA_BUNDLE` point at it).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

CA_FILE = "ca.pem"
CA_BUNDLE_FILE = "ca-bundle.pem"
_CERT_FILE = "tls-cert.pem"
_KEY_FILE = "tls-key.pem"


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


def make_tls_files(state_dir: Path) -> TlsFiles:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    # Validity is checked against the real clock, whatever the sandbox's --now says.
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "estate-ops sandbox CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca_cert.public_bytes(pem)
    files = TlsFiles(state_dir / CA_FILE, state_dir / CA_BUNDLE_FILE, state_dir / _CERT_FILE,
                     state_dir / _KEY_FILE)
    files.ca_file.write_bytes(ca_pem)
    files.cert_file.write_bytes(cert.public_bytes(pem))
    files.key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    files.key_file.chmod(0o600)
    files.ca_bundle.write_bytes(_public_roots() + b"\n" + ca_pem)
    return files


def _public_roots() -> bytes:
    try:
        import certifi

        return Path(certifi.where()).read_bytes()
    except (ImportError, OSError):
        return b""
