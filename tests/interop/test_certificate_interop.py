"""Certificate authentication against strongSwan's charon, IKEv2 and IKEv1, RSA and ECDSA.

The topology of ``test_gateway_interop.py``: host-a — gw-a (tunnelgate) — inet — gw-b (charon) —
host-b. The test makes a CA and both gateways' identity certificates with pyca/cryptography,
gives charon its certificate through its swanctl directory, and gives tunnelgate its own the
way an operator's script would: ``tunnelgate pki import --config … TP --ca … --cert … --key …``
into the key store beside the startup configuration, read by ``tunnelgate run``. Each tunnel
carries real traffic (pings both ways, a TCP transfer checked by SHA-256). A charon whose
certificate comes from another CA is refused.

CRLs: tunnelgate's trustpoint gets ``revocation-check crl`` and a ``crl configure`` block
(``policy static``, ``url 1 file:///…/ca.crl``); the CRL, made with pyca and signed by the CA,
is written beside the configuration. One that revokes charon's certificate makes tunnelgate
refuse charon's initiation, naming the revocation; an empty one lets the tunnel come up.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.interop.conftest import StartCharon
from tests.interop.harness import (
    HarnessError,
    Sites,
    TunnelgateDaemon,
    wait_until,
)
from tests.interop.test_gateway_interop import Lab, assert_traffic, unexpected_drops

TRUSTPOINT = "SITE-TP"
KEYPAIR = "SITE-KEY"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


# ---------------------------------------------------------------------------------------------
# A small PKI


def _key(kind: str) -> PrivateKey:
    if kind in ("rsa", "rsa4096"):
        size = 4096 if kind == "rsa4096" else 2048
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    return ec.generate_private_key(ec.SECP256R1() if kind == "ecdsa" else ec.SECP384R1())


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tunnelgate"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "interop"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass(frozen=True)
class Issued:
    key: PrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def dn(self) -> str:
        """The subject as strongSwan writes an identity: ``C=US, O=tunnelgate, …``."""
        short = {
            NameOID.COUNTRY_NAME: "C",
            NameOID.ORGANIZATION_NAME: "O",
            NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
            NameOID.COMMON_NAME: "CN",
        }
        return ", ".join(f"{short[a.oid]}={a.value!s}" for a in self.cert.subject)


def _sign_algorithm(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    return hashes.SHA384() if isinstance(key, ec.EllipticCurvePrivateKey) else hashes.SHA256()


def make_ca(cn: str, kind: str, issuer: Issued | None = None) -> Issued:
    """A root CA, or with ``issuer`` an intermediate CA it signs."""
    key = _key(kind)
    now = dt.datetime.now(dt.UTC)
    signer = issuer.key if issuer is not None else key
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer is not None else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(signer, _sign_algorithm(signer))
    )
    return Issued(key, cert)


def make_leaf(ca: Issued, cn: str, kind: str, address: str) -> Issued:
    key = _key(kind)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(f"{cn}.example.net"),
                    x509.IPAddress(ipaddress.IPv4Address(address)),
                ]
            ),
            critical=False,
        )
        .sign(ca.key, _sign_algorithm(ca.key))
    )
    return Issued(key, cert)


@dataclass(frozen=True)
class Pki:
    ca: Issued
    gw_a: Issued  # tunnelgate
    gw_b: Issued  # charon
    intermediate: Issued | None = None  # issued both gateways' certificates, when given

    @property
    def chain_pem(self) -> bytes:
        """Below the root: what each gateway sends after its own certificate."""
        return self.intermediate.cert_pem if self.intermediate is not None else b""


def make_pki(kind: str) -> Pki:
    ca = make_ca("tunnelgate interop CA", kind)
    return Pki(
        ca,
        make_leaf(ca, "gw-a", kind, Sites.GW_A),
        make_leaf(ca, "gw-b", kind, Sites.GW_B),
    )


# ---------------------------------------------------------------------------------------------
# Configurations


CRL_PLACEHOLDER = "{crl_path}"  # replaced by the ``prepare`` hook with the CRL file's path
CRL_LINES = f"""\
 revocation-check crl
 crl configure
  policy static
  url 1 file://{CRL_PLACEHOLDER}
"""


def tunnelgate_config(version: int, *, crl: bool = False) -> str:
    if version == 2:
        ike = """\
crypto ipsec ikev2 ipsec-proposal P
 protocol esp encryption aes-gcm-256
 protocol esp integrity null
crypto map MAP 10 set ikev2 ipsec-proposal P
crypto ikev2 policy 10
 encryption aes-256
 integrity sha256
 group 19
 prf sha256
crypto ikev2 enable outside"""
        group = """\
 ikev2 remote-authentication certificate
 ikev2 local-authentication certificate SITE-TP"""
    else:
        ike = """\
crypto ipsec ikev1 transform-set TS esp-aes-256 esp-sha-hmac
crypto map MAP 10 set ikev1 transform-set TS
crypto ikev1 policy 10
 authentication rsa-sig
 encryption aes-256
 hash sha
 group 5
 lifetime 3600
crypto ikev1 enable outside"""
        group = " ikev1 trust-point SITE-TP"
    return f"""\
hostname gw-a
interface {{outside_if}}
 nameif outside
 security-level 0
 ip address {Sites.GW_A} 255.255.255.0
access-list VPN extended permit ip 10.1.0.0 255.255.255.0 10.2.0.0 255.255.255.0
route outside 0.0.0.0 0.0.0.0 192.0.2.254
crypto ca trustpoint {TRUSTPOINT}
 enrollment terminal
 keypair {KEYPAIR}
{CRL_LINES if crl else ""}crypto map MAP 10 match address VPN
crypto map MAP 10 set peer {Sites.GW_B}
{ike}
crypto map MAP interface outside
tunnel-group {Sites.GW_B} type ipsec-l2l
tunnel-group {Sites.GW_B} ipsec-attributes
{group}
 isakmp keepalive disable
"""


def charon_config(version: int, pki: Pki) -> str:
    proposals = "aes256-sha256-ecp256" if version == 2 else "aes256-sha1-modp1536"
    esp = "aes256gcm16" if version == 2 else "aes256-sha1"
    return f"""\
connections {{
    gw {{
        version = {version}
        local_addrs = {Sites.GW_B}
        remote_addrs = {Sites.GW_A}
        proposals = {proposals}
        local {{
            auth = pubkey
            certs = gw-b.pem
            id = "{pki.gw_b.dn}"
        }}
        remote {{
            auth = pubkey
            id = "{pki.gw_a.dn}"
        }}
        children {{
            gw {{
                local_ts = 10.2.0.0/24
                remote_ts = 10.1.0.0/24
                esp_proposals = {esp}
            }}
        }}
    }}
}}
"""


def charon_files(pki: Pki, ca: Issued | None = None) -> dict[str, bytes]:
    files = {
        "x509ca/ca.pem": (ca or pki.ca).cert_pem,
        "x509/gw-b.pem": pki.gw_b.cert_pem,
        "private/gw-b.pem": pki.gw_b.key_pem,
    }
    if pki.intermediate is not None:
        files["x509ca/intermediate.pem"] = pki.intermediate.cert_pem
    return files


def import_credentials(pki: Pki, crl: bytes | None = None) -> Callable[[Path], None]:
    """``prepare`` hook: ``tunnelgate pki import`` beside the daemon's configuration; with
    ``crl``, that CRL is written there too and the configuration's URL pointed at it."""

    def prepare(config: Path) -> None:
        folder = config.parent
        if crl is not None:
            (folder / "ca.crl").write_bytes(crl)
            text = config.read_text()
            assert CRL_PLACEHOLDER in text
            config.write_text(text.replace(CRL_PLACEHOLDER, str(folder / "ca.crl")))
        (folder / "ca.pem").write_bytes(pki.ca.cert_pem)
        (folder / "gw-a.pem").write_bytes(pki.gw_a.cert_pem + pki.chain_pem)
        (folder / "gw-a.key").write_bytes(pki.gw_a.key_pem)
        (folder / "gw-a.key").chmod(0o600)
        result = subprocess.run(
            [
                *(sys.executable, "-m", "tunnelgate", "pki", "import"),
                *("--config", str(config), TRUSTPOINT),
                *("--ca", str(folder / "ca.pem")),
                *("--cert", str(folder / "gw-a.pem"), "--key", str(folder / "gw-a.key")),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "BEGIN" not in result.stdout + result.stderr  # never the key

    return prepare


def bring_up(
    sites: Sites,
    start_charon: StartCharon,
    gateways: list[TunnelgateDaemon],
    version: int,
    pki: Pki,
    *,
    charon_ca: Issued | None = None,
    crl: bytes | None = None,
) -> Lab:
    charon = start_charon(
        sites.gw_b,
        charon_config(version, pki),
        name="gw-b",
        files=charon_files(pki, charon_ca),
    )
    config = tunnelgate_config(version, crl=crl is not None)
    config = config.replace("{outside_if}", sites.gw_a_outside)
    prepare = import_credentials(pki, crl)
    gateway = TunnelgateDaemon(sites.gw_a, config, prepare=prepare)
    gateways.append(gateway)
    gateway.start()
    return Lab(sites, charon, gateway)


def _initiate(lab: Lab, initiator: str) -> None:
    if initiator == "charon":
        try:
            lab.charon.initiate("gw", timeout=20)
        except HarnessError as exc:
            raise AssertionError(f"{exc}\n{lab.gateway.text()}") from exc
        return
    from tests.interop.harness import ping

    sent, received, out = ping(lab.sites.host_a, Sites.HOST_B, 3)
    assert (sent, received) == (3, 3), f"{out}\n{lab.gateway.text()}\n{lab.charon.log_tail()}"


# ---------------------------------------------------------------------------------------------
# Tests

CASES = [
    pytest.param(2, "rsa", "tunnelgate", id="ikev2-rsa-tunnelgate-initiates"),
    pytest.param(2, "rsa", "charon", id="ikev2-rsa-charon-initiates"),
    pytest.param(2, "ecdsa", "tunnelgate", id="ikev2-ecdsa-tunnelgate-initiates"),
    pytest.param(2, "ecdsa", "charon", id="ikev2-ecdsa-charon-initiates"),
    pytest.param(1, "rsa", "tunnelgate", id="ikev1-rsa-tunnelgate-initiates"),
    pytest.param(1, "rsa", "charon", id="ikev1-rsa-charon-initiates"),
    pytest.param(1, "ecdsa", "tunnelgate", id="ikev1-ecdsa-tunnelgate-initiates"),
    pytest.param(1, "ecdsa", "charon", id="ikev1-ecdsa-charon-initiates"),
]


@pytest.mark.interop
@pytest.mark.parametrize(("version", "kind", "initiator"), CASES)
def test_certificate_tunnel_with_traffic(
    sites: Sites,
    start_charon: StartCharon,
    gateways: list[TunnelgateDaemon],
    version: int,
    kind: str,
    initiator: str,
) -> None:
    pki = make_pki(kind)
    lab = bring_up(sites, start_charon, gateways, version, pki)
    _initiate(lab, initiator)
    established = "IkeSaEstablished" if version == 2 else "Ikev1SaEstablished"
    ike = lab.gateway.wait_event(established)[0]
    assert ike["initiator"] is (initiator == "tunnelgate"), ike
    sa = lab.charon.wait_established("gw", "gw", timeout=15)
    assert sa.raw.get("remote-id") == pki.gw_a.dn, sa.raw
    assert_traffic(lab)
    # charon authenticated us with our certificate's key type
    expected = "RSA" if kind == "rsa" else "ECDSA"
    wait_until(
        lambda: f"authentication of '{pki.gw_a.dn}' with {expected}" in lab.charon.log(),
        timeout=5,
        what="charon's authentication line",
    )
    listing = "show crypto ikev2 sa" if version == 2 else "show crypto isakmp sa"
    assert Sites.GW_B in lab.gateway.show(listing)
    assert unexpected_drops(lab.gateway) == {}


@pytest.mark.interop
@pytest.mark.parametrize("version", [2, 1])
def test_certificate_from_another_ca_is_refused(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon], version: int
) -> None:
    pki = make_pki("rsa")
    rogue_ca = make_ca("rogue CA", "rsa")
    rogue = Pki(pki.ca, pki.gw_a, make_leaf(rogue_ca, "gw-b", "rsa", Sites.GW_B))
    # charon trusts both CAs, so only tunnelgate's check can refuse the rogue certificate
    lab = bring_up(sites, start_charon, gateways, version, rogue)
    with pytest.raises((AssertionError, HarnessError)):
        lab.charon.initiate("gw", timeout=10)
    failed = lab.gateway.wait_event("IkeSaFailed" if version == 2 else "Ikev1SaFailed")
    assert any("not a trusted CA" in str(e) or "trusted" in str(e) for e in failed), failed
    assert not lab.gateway.find("IkeSaEstablished") and not lab.gateway.find("Ikev1SaEstablished")


# ---------------------------------------------------------------------------------------------
# CRLs from the trustpoint's ``crl configure`` (policy static, a file:// URL)


def make_crl(ca: Issued, revoked: list[x509.Certificate]) -> bytes:
    """A current CRL of ``ca`` listing ``revoked``, PEM."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=1))
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(now - dt.timedelta(hours=1))
            .build()
        )
    return builder.sign(ca.key, _sign_algorithm(ca.key)).public_bytes(serialization.Encoding.PEM)


def _crl_warnings(lab: Lab) -> list[dict[str, object]]:
    return [e for e in lab.gateway.find("PkiWarning") if "CRL" in str(e.get("message"))]


@pytest.mark.interop
@pytest.mark.parametrize("version", [2, 1])
def test_static_crl_revoking_charon_refuses_it(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon], version: int
) -> None:
    pki = make_pki("rsa")
    lab = bring_up(
        sites, start_charon, gateways, version, pki, crl=make_crl(pki.ca, [pki.gw_b.cert])
    )
    assert _crl_warnings(lab) == [], lab.gateway.text()  # the CRL was read
    rendered = lab.gateway.show("show running-config crypto ca")
    assert " crl configure\n  policy static\n  url 1 file:///" in rendered, rendered
    with pytest.raises((AssertionError, HarnessError)):
        lab.charon.initiate("gw", timeout=10)
    failed = lab.gateway.wait_event("IkeSaFailed" if version == 2 else "Ikev1SaFailed")
    serial = f"0x{pki.gw_b.cert.serial_number:X}"
    assert any("revoked" in str(e) and serial in str(e) for e in failed), failed
    assert not lab.gateway.find("IkeSaEstablished") and not lab.gateway.find("Ikev1SaEstablished")


@pytest.mark.interop
@pytest.mark.parametrize("version", [2, 1])
def test_static_empty_crl_lets_the_tunnel_up(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon], version: int
) -> None:
    pki = make_pki("rsa")
    lab = bring_up(sites, start_charon, gateways, version, pki, crl=make_crl(pki.ca, []))
    assert _crl_warnings(lab) == [], lab.gateway.text()
    _initiate(lab, "charon")
    lab.gateway.wait_event("IkeSaEstablished" if version == 2 else "Ikev1SaEstablished")
    lab.charon.wait_established("gw", "gw", timeout=15)
    assert_traffic(lab)
    assert unexpected_drops(lab.gateway) == {}


@pytest.mark.interop
@pytest.mark.parametrize("version", [2, 1])
def test_a_4096_bit_chain_with_an_intermediate_rides_on_ike_fragmentation(
    sites: Sites, start_charon: StartCharon, gateways: list[TunnelgateDaemon], version: int
) -> None:
    """Root → issuing CA → gateways, 4096-bit RSA: IKE_AUTH / MM5-MM6 carry two certificates
    (about 3 KB), more than the 576-octet fragment size, so both sides fragment (RFC 7383;
    the FRAGMENTATION vendor id for IKEv1) and reassemble the other's fragments."""
    root = make_ca("tunnelgate interop root", "rsa4096")
    issuing = make_ca("tunnelgate interop issuing CA", "rsa4096", issuer=root)
    pki = Pki(
        root,
        make_leaf(issuing, "gw-a", "rsa4096", Sites.GW_A),
        make_leaf(issuing, "gw-b", "rsa4096", Sites.GW_B),
        intermediate=issuing,
    )
    lab = bring_up(sites, start_charon, gateways, version, pki)
    _initiate(lab, "tunnelgate")
    lab.gateway.wait_event("IkeSaEstablished" if version == 2 else "Ikev1SaEstablished")
    sa = lab.charon.wait_established("gw", "gw", timeout=15)
    assert sa.raw.get("remote-id") == pki.gw_a.dn, sa.raw
    assert_traffic(lab)
    log = lab.charon.log()
    # charon reassembled our fragments and fragmented its own answer (which we reassembled)
    assert "reassembled fragmented IKE message" in log, log[-3000:]
    assert "splitting IKE message" in log, log[-3000:]
