"""``crypto ca authenticate|enroll|import`` and ``show crypto ca certificates`` in the shell:
the paste protocol (lines until ``quit``, then yes/no), the ASA's wording, every refusal."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.helpers import load
from tests.pki.factory import FAR_AHEAD, NOW, make_ca, make_leaf
from tunnelgate.cli.shell import SaveKeys, Shell, ShellOutput
from tunnelgate.pki.keystore import KeyStore, TrustpointCertificates
from tunnelgate.pki.trustpoints import (
    is_ca_command,
    key_label,
    parse_subject,
    show_certificates,
)

ROOT = make_ca("Lab Root")
OTHER_ROOT = make_ca("Other Root")
GW_KEY, GW_CERT = make_leaf(
    ROOT, "gw.example.com", key_usage=("digital_signature", "key_encipherment")
)

CONFIG = """\
hostname gw
domain-name example.com
crypto ca trustpoint TP
 enrollment terminal
 keypair GW
 subject-name CN=gw.example.com,OU=VPN,O=Example
 fqdn gw.example.com
crypto ca trustpoint BARE
crypto ca trustpoint SELF
 enrollment self
 keypair GW
"""


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def shell(store: KeyStore | None = None, *, key: bool = True) -> Shell:
    store = store if store is not None else KeyStore()
    if key and store.kind_of("GW") is None:
        store.import_key("GW", GW_KEY, NOW)
    return Shell(load(CONFIG), keystore=store, clock=lambda: NOW)


def paste(sh: Shell, command: str, text: str, *answers: str) -> list[ShellOutput]:
    """``command``, each line of ``text``, ``quit``, then ``answers``: every output."""
    outputs = [sh.execute(command)]
    outputs += [sh.execute(line) for line in text.splitlines()]
    outputs.append(sh.execute("quit"))
    outputs += [sh.execute(answer) for answer in answers]
    return outputs


def authenticated(sh: Shell) -> Shell:
    *_, last = paste(sh, "crypto ca authenticate TP", pem(ROOT.certificate), "yes")
    assert last.ok, last.text
    return sh


# --------------------------------------------------------------------------- authenticate


def test_authenticate_prompts_collects_until_quit_and_asks() -> None:
    sh = shell()
    start = sh.execute("crypto ca authenticate TP")
    assert start.ok and start.text == (
        'Enter the base 64 encoded CA certificate.\nEnd with the word "quit" on a line by itself\n'
    )
    assert sh.awaiting_input and sh.prompt == ""
    for line in pem(ROOT.certificate).splitlines():
        out = sh.execute(line)
        assert out.ok and out.text == "" and not out.effects
    question = sh.execute("quit")
    assert "INFO: Certificate has the following attributes:" in question.text
    md5 = ROOT.certificate.fingerprint(hashes.MD5()).hex()
    sha1 = ROOT.certificate.fingerprint(hashes.SHA1()).hex()
    assert f"Fingerprint MD5: {md5[:8]} {md5[8:16]}" in question.text
    assert f"Fingerprint SHA1: {sha1[:8]}" in question.text
    assert question.text.endswith("Do you accept this certificate? [yes/no]:")
    assert not question.effects and sh.keystore.trustpoints() == []
    maybe = sh.execute("perhaps")
    assert "Please answer 'yes' or 'no'" in maybe.text and sh.awaiting_input
    accepted = sh.execute("yes")
    assert accepted.ok and "Trustpoint CA certificate accepted." in accepted.text
    assert not sh.awaiting_input and sh.prompt == "gw#"
    assert isinstance(accepted.effects[0], SaveKeys)
    assert KeyStore.from_bytes(accepted.effects[0].data).certificates("TP").ca == (
        ROOT.certificate,
    )


def test_authenticate_refused_answer_stores_nothing() -> None:
    sh = shell()
    *_, last = paste(sh, "crypto ca authenticate TP", pem(ROOT.certificate), "no")
    assert not last.ok and not last.effects and sh.keystore.trustpoints() == []
    assert not sh.awaiting_input


def test_authenticate_nointeractive_and_one_request_holding_the_paste() -> None:
    sh = shell()
    text = f"crypto ca authenticate TP nointeractive\n{pem(ROOT.certificate)}quit\n"
    out = sh.execute(text)
    assert out.ok and "Trustpoint CA certificate accepted." in out.text
    assert "Do you accept" not in out.text and isinstance(out.effects[-1], SaveKeys)
    assert sh.keystore.certificates("TP").ca == (ROOT.certificate,)


def test_authenticate_in_config_mode_and_abbreviated() -> None:
    sh = shell()
    sh.execute("configure terminal")
    *_, last = paste(sh, "cry ca auth TP", pem(ROOT.certificate), "y")
    assert last.ok and sh.prompt == "gw(config)#"
    assert sh.keystore.certificates("TP").ca == (ROOT.certificate,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("this is not a certificate\n", "% Invalid certificate"),
        ("", "% No certificate was pasted"),
        (pem(GW_CERT), "% The certificate is not a CA certificate"),
        (pem(make_ca("No BC", basic_constraints=False).certificate), "not a CA certificate"),
        (
            pem(make_ca("Old", not_after=NOW - timedelta(days=1)).certificate),
            "% The CA certificate has expired",
        ),
        (
            pem(make_ca("Future", not_before=NOW + timedelta(days=1)).certificate),
            "% The CA certificate is not yet valid",
        ),
    ],
)
def test_bad_ca_pastes_are_refused(text: str, message: str) -> None:
    sh = shell()
    *_, last = paste(sh, "crypto ca authenticate TP", text)
    assert not last.ok and message in last.text
    assert not last.effects and sh.keystore.trustpoints() == [] and not sh.awaiting_input


def test_authenticate_unknown_trustpoint_and_privilege() -> None:
    sh = shell()
    out = sh.execute("crypto ca authenticate NOPE")
    assert not out.ok and "% Trustpoint NOPE not found" in out.text and not sh.awaiting_input
    sh.privileged = False
    assert "privileged" in sh.execute("crypto ca authenticate TP").text
    assert not Shell(load(CONFIG)).execute("crypto ca authenticate TP").ok  # no key store


def test_reauthenticate_with_another_ca_keeps_a_matching_identity_only() -> None:
    sh = authenticated(shell())
    paste(sh, "crypto ca import TP certificate", pem(GW_CERT))
    *_, last = paste(sh, "crypto ca authenticate TP", pem(OTHER_ROOT.certificate))
    assert not last.ok and "was not issued by this CA" in last.text
    assert sh.keystore.certificates("TP").ca == (ROOT.certificate,)


# --------------------------------------------------------------------------- import certificate


def test_import_certificate() -> None:
    sh = authenticated(shell())
    start, *_, last = paste(sh, "crypto ca import TP certificate", pem(GW_CERT))
    assert start.text.startswith("Enter the base 64 encoded certificate.\n")
    assert last.ok and "% Certificate successfully imported" in last.text
    assert "Subject: CN=gw.example.com" in last.text
    assert isinstance(last.effects[0], SaveKeys)
    assert sh.keystore.certificates("TP").chain == (GW_CERT,)


def test_import_certificate_with_intermediate_chain() -> None:
    sub = make_ca("Lab Sub", issuer=ROOT)
    key, leaf = make_leaf(sub, "gw2")
    store = KeyStore()
    store.import_key("GW", key, NOW)
    sh = authenticated(shell(store))
    *_, last = paste(sh, "crypto ca import TP certificate", pem(leaf) + pem(sub.certificate))
    assert last.ok, last.text
    assert sh.keystore.certificates("TP").chain == (leaf, sub.certificate)


def _other_key_cert() -> x509.Certificate:
    return make_leaf(ROOT, "other")[1]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: pem(_other_key_cert()), "% The certificate does not match the trustpoint's key"),
        (
            lambda: pem(make_leaf(OTHER_ROOT, "x", private_key=GW_KEY)[1]),
            "% The certificate does not chain to the trustpoint's CA certificate",
        ),
        (
            lambda: pem(
                make_leaf(ROOT, "x", private_key=GW_KEY, not_after=NOW - timedelta(days=1))[1]
            ),
            "% The certificate has expired",
        ),
        (lambda: "garbage\n", "% Invalid certificate"),
    ],
)
def test_bad_identity_certificates_are_refused(make: object, message: str) -> None:
    sh = authenticated(shell())
    assert callable(make)
    *_, last = paste(sh, "crypto ca import TP certificate", make())
    assert not last.ok and message in last.text and not last.effects
    assert sh.keystore.certificates("TP").chain == ()


def test_import_certificate_needs_the_ca_and_the_key() -> None:
    sh = shell()
    *_, last = paste(sh, "crypto ca import TP certificate", pem(GW_CERT))
    assert not last.ok and "You must authenticate the Certificate Authority" in last.text
    sh = authenticated(shell(key=False))
    *_, last = paste(sh, "crypto ca import TP certificate", pem(GW_CERT))
    assert not last.ok and "key pair GW of trustpoint TP does not exist" in last.text


# --------------------------------------------------------------------------- pkcs12


def _p12(passphrase: bytes, *, cas: list[x509.Certificate] | None = None) -> str:
    data = pkcs12.serialize_key_and_certificates(
        b"gw",
        GW_KEY,
        GW_CERT,
        [ROOT.certificate] if cas is None else cas,
        serialization.BestAvailableEncryption(passphrase),
    )
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + 64] + "\n" for i in range(0, len(text), 64))


def test_import_pkcs12_stores_key_certificate_and_ca() -> None:
    store = KeyStore()
    sh = shell(store, key=False)
    start, *_, last = paste(sh, "crypto ca import TP pkcs12 s3cret", _p12(b"s3cret"))
    assert start.text.startswith("Enter the base 64 encoded pkcs12.\n")
    assert last.ok and "INFO: Import PKCS12 operation completed successfully" in last.text
    assert "PRIVATE" not in last.text
    held = store.certificates("TP")
    assert held.ca == (ROOT.certificate,) and held.chain == (GW_CERT,)
    assert store.kind_of("GW") == "rsa"  # the trustpoint's keypair label
    assert "s3cret" not in repr(sh.pending) and "s3cret" not in last.text


def test_import_pkcs12_without_keypair_uses_the_trustpoint_name() -> None:
    store = KeyStore()
    sh = shell(store, key=False)
    *_, last = paste(sh, "crypto ca import BARE pkcs12 pw nointeractive", _p12(b"pw"))
    assert last.ok, last.text
    assert store.kind_of("BARE") == "rsa"
    assert key_label(sh.config.trustpoints["BARE"], store) == "BARE"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_p12(b"right"), "wrong passphrase"),
        ("bm90IGEgYnVuZGxl\n", "% Import PKCS12 operation failed"),
        ("", "% No PKCS12 data was pasted"),
    ],
)
def test_bad_pkcs12_is_refused(text: str, message: str) -> None:
    store = KeyStore()
    sh = shell(store, key=False)
    *_, last = paste(sh, "crypto ca import TP pkcs12 wrong", text)
    assert not last.ok and message in last.text
    assert store.trustpoints() == [] and store.labels() == []


def test_pkcs12_against_a_different_key_under_the_label_is_refused() -> None:
    store = KeyStore()
    other, _ = make_leaf(ROOT, "other")
    store.import_key("GW", other, NOW)
    sh = shell(store)
    *_, last = paste(sh, "crypto ca import TP pkcs12 pw", _p12(b"pw"))
    assert not last.ok and "A different key pair is already labelled GW" in last.text
    assert store.trustpoints() == []


def test_pkcs12_without_ca_needs_an_authenticated_trustpoint() -> None:
    sh = shell(KeyStore(), key=False)
    *_, last = paste(sh, "crypto ca import TP pkcs12 pw", _p12(b"pw", cas=[]))
    assert not last.ok and "holds no CA certificate" in last.text
    sh = authenticated(shell(KeyStore(), key=False))
    *_, last = paste(sh, "crypto ca import TP pkcs12 pw", _p12(b"pw", cas=[]))
    assert last.ok, last.text


# --------------------------------------------------------------------------- enroll


def _request(text: str) -> x509.CertificateSigningRequest:
    body = text.split("Certificate Request follows:\n\n")[1].split("\n---End")[0]
    return x509.load_der_x509_csr(base64.b64decode(body))


def test_enroll_terminal_prints_a_signed_request() -> None:
    sh = authenticated(shell())
    out = sh.execute("crypto ca enroll TP noconfirm")
    assert out.ok and out.text.startswith("% Start certificate enrollment ..\n")
    assert "% The subject name in the certificate will be: CN=gw.example.com,OU=VPN,O=Example" in (
        out.text
    )
    assert "% The fully-qualified domain name in the certificate will be: gw.example.com" in (
        out.text
    )
    assert "---End - This line not part of the certificate request---" in out.text
    csr = _request(out.text)
    assert csr.is_signature_valid
    assert csr.subject == parse_subject("CN=gw.example.com,OU=VPN,O=Example")
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["gw.example.com"]
    assert csr.public_key() == GW_KEY.public_key()
    assert not out.effects


def test_enroll_asks_before_displaying() -> None:
    sh = authenticated(shell())
    question = sh.execute("crypto ca enroll TP")
    assert question.text.endswith("Display Certificate Request to terminal? [yes/no]:")
    assert sh.awaiting_input
    shown = sh.execute("yes")
    assert _request(shown.text).is_signature_valid and not sh.awaiting_input
    sh.execute("crypto ca enroll TP")
    assert "not displayed" in sh.execute("no").text


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("", "You must authenticate the Certificate Authority certificate"),
        ("nokey", "% Key pair GW does not exist"),
        ("bare", "has no enrollment method"),
    ],
)
def test_enroll_refusals(setup: str, message: str) -> None:
    sh = authenticated(shell(key=setup != "nokey")) if setup else shell()
    out = sh.execute(f"crypto ca enroll {'BARE' if setup == 'bare' else 'TP'} noconfirm")
    assert not out.ok and message in out.text and not sh.awaiting_input


def test_enroll_self_issues_a_self_signed_certificate() -> None:
    sh = shell()
    out = sh.execute("crypto ca enroll SELF noconfirm")
    assert out.ok and isinstance(out.effects[0], SaveKeys)
    cert = sh.keystore.certificates("SELF").identity
    assert cert is not None and cert.subject == cert.issuer
    assert cert.subject.rfc4514_string() == "CN=gw.example.com"
    assert cert.public_key() == GW_KEY.public_key()


def test_parse_subject_refuses_unknown_attributes() -> None:
    with pytest.raises(Exception, match="Invalid subject-name attribute 'XX=1'"):
        parse_subject("CN=a,XX=1")
    assert parse_subject(r"CN=a\,b").rfc4514_string() == r"CN=a\,b"


# --------------------------------------------------------------------------- show, no trustpoint


def test_show_crypto_ca_certificates() -> None:
    sh = authenticated(shell())
    paste(sh, "crypto ca import TP certificate", pem(GW_CERT))
    out = sh.execute("show crypto ca certificates")
    assert out.ok
    text = out.text
    assert text.index("Certificate\n  Status: Available") < text.index("CA Certificate\n")
    assert f"  Certificate Serial Number: {GW_CERT.serial_number:x}\n" in text
    assert "  Certificate Usage: General Purpose\n" in text
    assert "  Certificate Usage: Signature\n" in text  # the CA: keyCertSign, cRLSign
    assert "  Public Key Type: RSA (2048 bits)\n" in text
    assert "  Signature Algorithm: SHA256 with RSA Encryption\n" in text
    assert "  Issuer Name:\n    cn=Lab Root\n  Subject Name:\n    cn=gw.example.com\n" in text
    assert "  Validity Date:\n    start date: 00:00:00 UTC Jan 1 2020\n" in text
    assert "    end   date: 00:00:00 UTC Jan 1 2040\n" in text
    assert text.count("  Associated Trustpoints: TP\n") == 2
    assert sh.execute("show crypto ca certificates TP").text == text
    assert sh.execute("show crypto ca certificates BARE").text == ""
    assert not sh.execute("show crypto ca certificates NOPE").ok


def test_show_lists_a_shared_ca_once_with_every_trustpoint() -> None:
    store = KeyStore()
    ca = TrustpointCertificates((ROOT.certificate,))
    store.set_certificates("A", ca)
    store.set_certificates("B", ca)
    text = show_certificates(store, now=FAR_AHEAD + timedelta(days=1))
    assert text.count("CA Certificate") == 1 and "Associated Trustpoints: A B" in text
    assert "Status: Expired" in text


def test_no_crypto_ca_trustpoint_destroys_its_certificates() -> None:
    sh = authenticated(shell())
    sh.execute("configure terminal")
    out = sh.execute("no crypto ca trustpoint TP")
    assert out.ok and "WARNING: Removing an enrolled trustpoint will destroy all" in out.text
    assert isinstance(out.effects[0], SaveKeys)
    assert sh.keystore.trustpoints() == [] and "TP" not in sh.config.trustpoints
    quiet = sh.execute("no crypto ca trustpoint BARE")
    assert quiet.ok and not quiet.effects and "WARNING" not in quiet.text


def test_is_ca_command() -> None:
    assert is_ca_command("crypto ca authenticate TP")
    assert is_ca_command("cry ca imp TP certificate")
    assert not is_ca_command("crypto ca trustpoint TP")
    assert not is_ca_command("crypto ca certificate map M 10")
    assert not is_ca_command("crypto key generate rsa")


# --------------------------------------------------------------------------- control-socket session


class FakeLive:
    """What ``OperatorSession`` needs from the running gateway (no gateway behind it)."""

    def __init__(self, store: KeyStore) -> None:
        self.config = load(CONFIG)
        self.keystore = store
        self.saved_keys: list[bytes] = []
        self.reconfigured = 0

    def reconfigure(self) -> str:
        self.reconfigured += 1
        return ""

    def save_config(self, text: str) -> None:
        raise AssertionError("not expected")

    def save_keys(self, data: bytes) -> None:
        self.saved_keys.append(data)

    def snapshot(self) -> object:
        raise AssertionError("not expected")

    def clear_ipsec(self, peer: str | None, map_name: str | None) -> int:
        return 0

    def clear_ike(self, peer: str | None, version: int | None = None) -> int:
        return 0

    def clear_counters(self) -> None:
        pass


def test_paste_through_an_operator_session_saves_and_reconfigures() -> None:
    from tunnelgate.daemon.session import OperatorSession

    live = FakeLive(KeyStore())
    session = OperatorSession(live)  # type: ignore[arg-type]
    first = session.handle("crypto ca authenticate TP")
    assert first.ok and first.prompt == ""
    for line in pem(ROOT.certificate).splitlines():
        assert session.handle(line).ok
    assert session.handle("quit").output.endswith("[yes/no]:")
    done = session.handle("yes")
    assert done.ok and "accepted" in done.output and done.prompt == "gw#"
    assert live.reconfigured == 1 and len(live.saved_keys) == 1
    assert KeyStore.from_bytes(live.saved_keys[0]).certificates("TP").ca == (ROOT.certificate,)
    show = session.handle("show crypto ca certificates")
    assert "Associated Trustpoints: TP" in show.output


def test_one_session_request_may_hold_the_command_and_its_paste() -> None:
    from tunnelgate.daemon.session import OperatorSession

    live = FakeLive(KeyStore())
    session = OperatorSession(live)  # type: ignore[arg-type]
    request = f"crypto ca authenticate TP nointeractive\n{pem(ROOT.certificate)}quit"
    answer = session.handle(request)
    assert answer.ok and "Trustpoint CA certificate accepted." in answer.output
    assert answer.prompt == "gw#" and live.reconfigured == 1


def test_help_and_completion_list_the_crypto_ca_commands() -> None:
    sh = shell()
    assert {c.text for c in sh.candidates("crypto ca ")} >= {"authenticate", "enroll", "import"}
    assert {c.text for c in sh.candidates("crypto ca import TP ")} == {"certificate", "pkcs12"}
    sh.execute("configure terminal")
    texts = [c.text for c in sh.candidates("crypto ")]
    assert "ca" in texts and len(texts) == len(set(texts))  # once, not per grammar
    assert {c.text for c in sh.candidates("crypto ca ")} >= {"trustpoint", "authenticate"}
    locked = Shell(load("hostname gw\n"), privileged=False)
    assert "ca" not in {c.text for c in locked.candidates("crypto ")}
