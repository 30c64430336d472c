"""`--host` and `--tls-name`: the sandbox as other machines (docker-compose's containers) reach
it. Every server binds the host; ready.json's URLs stay connectable from this machine; the
PagerDuty certificate names what the callers use; a host that cannot be bound is refused with
a clear error."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from cryptography import x509

from sandbox import net
from sandbox.processes import free_port as _free_port
from sandbox.runner import REPO_ROOT, SandboxError, start_sandbox
from sandbox.tls import make_tls_files, tls_name

BASE_ONLY = ["--scenarios", ""]
NOT_LOCAL = "203.0.113.1"  # TEST-NET-3: never an address of this machine


def _non_loopback_address() -> str | None:
    """An IPv4 address of this machine other than loopback, or None."""
    candidates = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((NOT_LOCAL, 9))  # UDP: picks the outgoing interface, sends nothing
            candidates.append(probe.getsockname()[0])
    except OSError:
        pass
    try:
        candidates += subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                                     timeout=10, check=False).stdout.split()
    except (OSError, subprocess.SubprocessError):
        pass
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if address.version == 4 and not (address.is_loopback or address.is_unspecified):
            try:
                net.check_host(candidate)
            except OSError:
                continue
            return candidate
    return None


@pytest.fixture(scope="module")
def lan_address() -> str:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has only loopback addresses: nothing to reach the sandbox by")
    return address


@pytest.fixture
def no_proxy(monkeypatch, lan_address):
    # A proxy from the environment would carry the calls elsewhere than to this machine.
    for key in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(key, lan_address)


def _port(url: str) -> int:
    return urlsplit(url).port


def _san(state_dir: Path) -> tuple[list[str], list[str]]:
    cert = x509.load_pem_x509_certificate((state_dir / "tls-cert.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (san.get_values_for_type(x509.DNSName),
            [str(ip) for ip in san.get_values_for_type(x509.IPAddress)])


def _tls_handshake(address: str, port: int, server_name: str, ca_bundle: str) -> None:
    """A verified TLS handshake with `address`, checking the certificate against `server_name`."""
    context = ssl.create_default_context(cafile=ca_bundle)
    with socket.create_connection((address, port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=server_name):
        pass


def _listening(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((address, port)) == 0


def test_wildcard_host_is_reachable_on_a_lan_address(tmp_path, lan_address, no_proxy):
    with start_sandbox(tmp_path / "wild", host="0.0.0.0", extra_args=BASE_ONLY,
                       tls_names=["sandbox.test", lan_address], reference_month="2026-10",
                       now="2026-11-02T12:00:00Z") as handle:
        # Advertised: connectable from this machine.
        assert handle.aws_url.startswith("http://127.0.0.1:")
        assert handle.pagerduty_url.startswith("https://127.0.0.1:")
        assert handle.slack_url.startswith("http://127.0.0.1:")
        expected_buckets = [b["Name"] for b in handle.boto3_client("s3").list_buckets()["Buckets"]]
        assert expected_buckets

        # AWS, through the LAN address.
        s3 = boto3.client("s3", endpoint_url=f"http://{lan_address}:{_port(handle.aws_url)}",
                          region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == expected_buckets

        # PagerDuty: https, verified with the CA bundle, for each --tls-name.
        pd_port = _port(handle.pagerduty_url)
        response = requests.get(f"https://{lan_address}:{pd_port}/services", timeout=30,
                                verify=handle.ca_bundle,
                                headers={"Authorization": f"Token token={handle.pagerduty_token}"})
        assert response.status_code == 200 and response.json()["services"]
        _tls_handshake(lan_address, pd_port, "sandbox.test", handle.ca_bundle)
        with pytest.raises(ssl.SSLCertVerificationError, match="elsewhere.test"):
            _tls_handshake(lan_address, pd_port, "elsewhere.test", handle.ca_bundle)

        # Slack too.
        slack = requests.post(f"http://{lan_address}:{_port(handle.slack_url)}/api/auth.test",
                              timeout=10, headers={"Authorization": f"Bearer {handle.slack_token}"})
        assert slack.json()["ok"] is True

        dns_names, ips = _san(handle.state_dir)
        assert dns_names == ["localhost", "sandbox.test"]
        assert ips == ["127.0.0.1", lan_address]


def test_specific_host_is_bound_advertised_and_in_the_certificate(tmp_path, lan_address,
                                                                   no_proxy):
    with start_sandbox(tmp_path / "specific", host=lan_address, extra_args=BASE_ONLY) as handle:
        urls = {"aws": handle.aws_url, "pagerduty": handle.pagerduty_url,
                "slack": handle.slack_url}
        assert urls == {"aws": f"http://{lan_address}:{_port(handle.aws_url)}",
                        "pagerduty": f"https://{lan_address}:{_port(handle.pagerduty_url)}",
                        "slack": f"http://{lan_address}:{_port(handle.slack_url)}"}
        # Bound to that address only: nothing on loopback.
        assert not any(_listening("127.0.0.1", _port(u)) for u in urls.values())
        # The advertised URLs work, the control API included (reset goes through it).
        assert handle.boto3_client("s3").list_buckets()["Buckets"]
        requests.get(handle.pagerduty_url + "/services", timeout=30, verify=handle.ca_bundle,
                     headers={"Authorization": f"Token token={handle.pagerduty_token}"}
                     ).raise_for_status()
        handle.reset()
        assert _san(handle.state_dir) == (["localhost"], ["127.0.0.1", lan_address])


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("args", "message"), [
    (["--host", NOT_LOCAL], f"--host: cannot listen on {NOT_LOCAL}"),
    (["--host", "not a host"], "argument --host: expected a DNS name or an IP address"),
    (["--tls-name", "under score.test"], "argument --tls-name: expected a DNS name"),
    (["--tls-name=-leading-dash.test"], "argument --tls-name: expected a DNS name"),
    (["--tls-name", "a..b"], "argument --tls-name: expected a DNS name"),
])
def test_bad_host_or_tls_name_is_refused_without_a_traceback(tmp_path, args, message):
    result = _run_cli("--state-dir", str(tmp_path / "bad"), *BASE_ONLY, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "bad" / "ready.json").exists()


def test_unbindable_host_fails_start_sandbox_with_the_address(tmp_path):
    with pytest.raises(SandboxError, match=f"cannot listen on {NOT_LOCAL}"):
        start_sandbox(tmp_path / "unbindable", host=NOT_LOCAL, extra_args=BASE_ONLY)


def test_busy_aws_port_fails_with_the_reason_instead_of_hanging(tmp_path):
    """werkzeug exits (SystemExit) when it cannot bind: in moto's server thread that used to
    leave the sandbox waiting for the AWS server forever."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SandboxError, match=f"aws: cannot listen on 127.0.0.1:{port}: "
                                               f"Port {port} is in use"):
            start_sandbox(tmp_path / "busy", extra_args=BASE_ONLY, timeout=60,
                          ports={"aws": port, "pagerduty": _free_port(), "slack": _free_port()})


def test_certificate_names_are_normalised_and_deduplicated(tmp_path):
    make_tls_files(tmp_path, tmp_path / "ca",
                   names=["127.0.0.1", "Sandbox", "sandbox", "localhost", "10.0.0.7", "::1"])
    assert _san(tmp_path) == (["localhost", "sandbox"], ["127.0.0.1", "10.0.0.7", "::1"])


@pytest.mark.parametrize(("text", "expected"), [
    ("sandbox", "sandbox"),
    ("Sandbox.Example.", "sandbox.example"),
    ("airflow_worker", "airflow_worker"),
    ("*.sandbox.test", "*.sandbox.test"),
    ("0:0:0:0:0:0:0:1", "::1"),
    ("192.0.2.10", "192.0.2.10"),
])
def test_tls_name_accepts_dns_names_and_addresses(text, expected):
    assert tls_name(text) == expected


@pytest.mark.parametrize("text", ["", "two words", "a..b", "-x.test", "x-.test", "é.test",
                                  "a" * 64 + ".test", "http://sandbox"])
def test_tls_name_refuses_anything_else(text):
    with pytest.raises(ValueError, match="expected a DNS name or an IP address"):
        tls_name(text)


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", "http://127.0.0.1:80"),
    ("0.0.0.0", "http://127.0.0.1:80"),
    ("::", "http://127.0.0.1:80"),
    ("192.0.2.10", "http://192.0.2.10:80"),
    ("::1", "http://[::1]:80"),
    ("localhost", "http://localhost:80"),
])
def test_urls_advertise_a_connectable_host(host, expected):
    assert net.url("http", host, 80) == expected
