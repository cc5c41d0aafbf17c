"""A local certificate authority and the server certificate for mocksrv's HTTPS listener.

mocksrv creates the CA on first use in a directory private to the user (0700; the key files 0600)
and issues one server certificate that names every real host a partner's client may hard-code, so
a client that keeps its built-in `https://` host works once that name resolves to mocksrv.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The AGCOD endpoints (NA, EU, FE; sandbox and production), Prime, STS and the S3 endpoint names
# (path style and, through the wildcards, virtual-host style), plus the loopback names.
AGCOD_HOSTS = (
    "agcod-v2-gamma.amazon.com",
    "agcod-v2.amazon.com",
    "agcod-v2-eu-gamma.amazon.com",
    "agcod-v2-eu.amazon.com",
    "agcod-v2-fe-gamma.amazon.com",
    "agcod-v2-fe.amazon.com",
)
PRIME_HOSTS = ("prime-apis.amazon.com",)
S3_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1")
S3_HOSTS = (
    "s3.amazonaws.com",
    "*.s3.amazonaws.com",
    *(name for r in S3_REGIONS for name in (f"s3.{r}.amazonaws.com", f"*.s3.{r}.amazonaws.com")),
)
STS_HOSTS = ("sts.amazonaws.com", *(f"sts.{r}.amazonaws.com" for r in S3_REGIONS))
LOCAL_HOSTS = ("localhost", "*.localhost")
LOCAL_IPS = ("127.0.0.1", "::1")
SERVER_HOSTS = (*AGCOD_HOSTS, *PRIME_HOSTS, *S3_HOSTS, *STS_HOSTS, *LOCAL_HOSTS)

CA_NAME = "mocksrv local CA"
CA_DAYS = 3650
LEAF_DAYS = 397  # the longest validity browsers and TLS stacks accept for a server certificate
RENEW_BEFORE = dt.timedelta(days=30)
CA_CERT, CA_KEY = "ca.pem", "ca-key.pem"
LEAF_CERT, LEAF_KEY = "server.pem", "server-key.pem"
log = logging.getLogger("mocksrv")


class TLSError(Exception):
    """The CA directory cannot be used (permissions, a damaged file)."""


@dataclass(frozen=True)
class CertPaths:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def default_ca_dir() -> Path:
    """`$MOCKSRV_CA_DIR`, else `$XDG_DATA_HOME/mocksrv/ca`, else `~/.local/share/mocksrv/ca`."""
    explicit = os.environ.get("MOCKSRV_CA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mocksrv" / "ca"


def ensure_certs(ca_dir: Path | None = None, now: dt.datetime | None = None) -> CertPaths:
    """The CA and server certificate in `ca_dir`, created or renewed as needed."""
    ca_dir = Path(ca_dir or default_ca_dir())
    now = now or dt.datetime.now(dt.UTC)
    try:
        ca_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path, was, now_mode in _tighten(ca_dir):
            log.warning("%s was readable by others (mode %o): tightened to %o", path, was, now_mode)
        os.chmod(ca_dir, 0o700)  # the owner's bits too: mocksrv writes there
        ca_cert, ca_key = _load_or_make_ca(ca_dir, now)
        paths = CertPaths(ca_dir / CA_CERT, ca_dir / LEAF_CERT, ca_dir / LEAF_KEY)
        if _leaf_needs_renewal(paths.server_cert, ca_cert, now):
            _make_leaf(paths, ca_cert, ca_key, now)
    except (OSError, ValueError) as exc:
        raise TLSError(f"cannot use the CA directory {ca_dir}: {exc}") from None
    return paths


def _tighten(ca_dir: Path) -> list[tuple[Path, int, int]]:
    """The CA folder private (0700) and the key files there private (0600), whatever made them
    otherwise (an older mocksrv, a copy, a umask); what was changed: (path, old mode, new)."""
    changed = []
    for path, private in ((ca_dir, 0o700), (ca_dir / CA_KEY, 0o600), (ca_dir / LEAF_KEY, 0o600)):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(path, private)
            changed.append((path, mode, private))
    return changed


def server_context(paths: CertPaths) -> ssl.SSLContext:
    """A TLS 1.2+ server context serving the mocksrv certificate (HTTP/1.1 over ALPN)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(paths.server_cert, paths.server_key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def trust_instructions(paths: CertPaths, tls_port: int | None = None) -> str:
    """What `mocksrv ca` prints: the CA path, how to trust it, and the hosts-file lines."""
    ca = paths.ca_cert
    port = f":{tls_port}" if tls_port else ":<tls-port>"
    hosts = " ".join(h for h in (*AGCOD_HOSTS, *PRIME_HOSTS, *STS_HOSTS[:1], "s3.amazonaws.com"))
    return "\n".join(
        [
            str(ca),
            "",
            "Trust it for one command or shell:",
            f"  export AWS_CA_BUNDLE={ca}        # aws CLI, boto3, botocore",
            f"  export REQUESTS_CA_BUNDLE={ca}   # python requests",
            f"  export NODE_EXTRA_CA_CERTS={ca}  # Node.js (AWS SDK for JavaScript, npm clients)",
            f"  export SSL_CERT_FILE={ca}        # OpenSSL-based tools, Python's ssl module",
            f"  curl --cacert {ca} ...",
            "Or in the system store (Debian/Ubuntu, as root):",
            f"  cp {ca} /usr/local/share/ca-certificates/mocksrv.crt && update-ca-certificates",
            "",
            "Point the real host names at mocksrv (/etc/hosts):",
            f"  127.0.0.1 {hosts}",
            "  (S3 virtual-host names: add `127.0.0.1 <bucket>.s3.amazonaws.com` per bucket)",
            "",
            f"Clients then use https://<host>{port}; without a port in the URL, serve with --tls-port 443.",
        ]
    )


def _load_or_make_ca(ca_dir: Path, now: dt.datetime) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_path, key_path = ca_dir / CA_CERT, ca_dir / CA_KEY
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if cert.not_valid_after_utc - RENEW_BEFORE > now:
            return cert, key
    key = _new_key()
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, CA_NAME)])
    builder = (
        _base(name, name, key.public_key(), now, CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = _sign(builder, key)
    _write_private(key_path, _key_pem(key))
    _write_public(cert_path, cert)
    (ca_dir / LEAF_CERT).unlink(missing_ok=True)  # issued by the old CA
    return cert, key


def _leaf_needs_renewal(path: Path, ca_cert: Any, now: dt.datetime) -> bool:
    from cryptography import x509

    if not path.exists() or not path.with_name(LEAF_KEY).exists():
        return True
    leaf = x509.load_pem_x509_certificate(path.read_bytes())
    names = set(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    return (
        leaf.issuer != ca_cert.subject
        or leaf.not_valid_after_utc - RENEW_BEFORE <= now
        or names != set(_san_entries())
    )


def _make_leaf(paths: CertPaths, ca_cert: Any, ca_key: Any, now: dt.datetime) -> None:
    from cryptography import x509

    key = _new_key()
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "mocksrv")])
    builder = (
        _base(subject, ca_cert.subject, key.public_key(), now, LEAF_DAYS)
        .add_extension(x509.SubjectAlternativeName(_san_entries()), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    _write_private(paths.server_key, _key_pem(key))
    _write_public(paths.server_cert, _sign(builder, ca_key))


def _san_entries() -> list[Any]:
    from cryptography import x509

    entries: list[Any] = [x509.DNSName(h) for h in SERVER_HOSTS]
    entries += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOCAL_IPS]
    return entries


def _base(subject: Any, issuer: Any, public_key: Any, now: dt.datetime, days: int) -> Any:
    from cryptography import x509

    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def _key_usage(*, ca: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _sign(builder: Any, key: Any) -> Any:
    from cryptography.hazmat.primitives import hashes

    return builder.sign(key, hashes.SHA256())


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _write_private(path: Path, data: bytes) -> None:
    """Written 0600 from the start (never readable by others, not even briefly), then renamed."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, cert: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, path)
