"""The device key store and the ``crypto key generate|zeroize`` commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tunnelgate.pki import (
    ConfirmationRequired,
    KeyCommandError,
    KeyExists,
    KeyKind,
    KeyNotFound,
    KeyStore,
    KeyStoreError,
    KeyUsage,
    UnsupportedKeySize,
    execute_key_command,
)

NOW = datetime(2024, 3, 5, 9, 7, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def filled() -> KeyStore:
    """One store with each kind of key, generated once (RSA generation is slow)."""
    store = KeyStore()
    store.generate_rsa(None, 1024, False, NOW)
    store.generate_rsa("uk", 1024, True, NOW)
    store.generate_ecdsa("ec", 256, NOW)
    return store


# --------------------------------------------------------------------------- the store


def test_default_labels_and_usages(filled: KeyStore) -> None:
    assert filled.labels() == ["<Default-RSA-Key>", "uk", "ec"]
    assert filled.labels(KeyKind.ECDSA) == ["ec"]
    assert [p.usage for p in filled.get("uk")] == [KeyUsage.SIGNATURE, KeyUsage.ENCRYPTION]
    assert filled.get("<Default-RSA-Key>")[0].usage is KeyUsage.GENERAL


def test_default_ecdsa_label() -> None:
    store = KeyStore()
    pair = store.generate_ecdsa(None, 384, NOW)
    assert pair.label == "<Default-ECDSA-Key>"


@pytest.mark.parametrize("modulus", [1024, 2048])
def test_rsa_sizes(modulus: int) -> None:
    pair = KeyStore().generate_rsa("k", modulus, False, NOW)[0]
    key = pair.private_key()
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == modulus == pair.size_bits


@pytest.mark.parametrize("curve", [256, 384, 521])
def test_ecdsa_curves(curve: int) -> None:
    pair = KeyStore().generate_ecdsa("k", curve, NOW)
    key = pair.private_key()
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size == curve


@pytest.mark.parametrize("modulus", [512, 768])
def test_weak_rsa_refused(modulus: int) -> None:
    store = KeyStore()
    with pytest.raises(UnsupportedKeySize, match="no longer supported"):
        store.generate_rsa(None, modulus, False, NOW)
    assert store.labels() == []


def test_odd_sizes_refused() -> None:
    with pytest.raises(UnsupportedKeySize):
        KeyStore().generate_rsa(None, 1536, False, NOW)
    with pytest.raises(UnsupportedKeySize):
        KeyStore().generate_ecdsa(None, 224, NOW)


def test_existing_label() -> None:
    store = KeyStore()
    first = store.generate_ecdsa("k", 256, NOW)
    with pytest.raises(KeyExists, match="already defined named k"):
        store.generate_ecdsa("k", 384, NOW)
    assert store.get("k") == (first,)
    replaced = store.generate_ecdsa("k", 384, NOW, replace=True)
    assert store.get("k") == (replaced,)
    with pytest.raises(KeyExists, match="held by an ECDSA key pair"):
        store.generate_rsa("k", 1024, False, NOW, replace=True)


def test_zeroize() -> None:
    store = KeyStore()
    store.generate_ecdsa("a", 256, NOW)
    store.generate_ecdsa(None, 256, NOW)
    with pytest.raises(KeyNotFound):
        store.zeroize(KeyKind.RSA)
    with pytest.raises(KeyNotFound):
        store.zeroize(KeyKind.RSA, "a")
    assert store.zeroize(KeyKind.ECDSA, "a") == ["a"]
    assert store.zeroize(KeyKind.ECDSA) == ["<Default-ECDSA-Key>"]
    assert store.labels() == []


def test_bytes_round_trip(filled: KeyStore) -> None:
    data = filled.to_bytes()
    assert KeyStore.from_bytes(data) == filled
    doc = json.loads(data)
    assert doc["format"] == "tunnelgate-keystore"
    assert all(k["private_key"].startswith("-----BEGIN PRIVATE KEY-----") for k in doc["keys"])


@pytest.mark.parametrize(
    "data", [b"", b"{}", b"not json", b'{"format": "tunnelgate-keystore", "version": 1}']
)
def test_malformed_bytes(data: bytes) -> None:
    with pytest.raises(KeyStoreError):
        KeyStore.from_bytes(data)


def test_mismatched_description_refused(filled: KeyStore) -> None:
    doc = json.loads(filled.to_bytes())
    doc["keys"][0]["size_bits"] = 4096
    with pytest.raises(KeyStoreError, match="does not match"):
        KeyStore.from_bytes(json.dumps(doc).encode())


def test_no_private_key_in_repr(filled: KeyStore) -> None:
    pair = filled.get("ec")[0]
    assert "PRIVATE" not in repr(pair) and "PRIVATE" not in repr(filled)
    assert repr(filled) == "KeyStore(labels=['<Default-RSA-Key>', 'uk', 'ec'])"


def test_describe_public_keys(filled: KeyStore) -> None:
    text = filled.describe_public_keys(KeyKind.RSA)
    lines = text.splitlines()
    assert lines[:6] == [
        "Key pair was generated at: 09:07:01 UTC Mar 5 2024",
        "Key name: <Default-RSA-Key>",
        " Usage: General Purpose Key",
        " Modulus Size (bits): 1024",
        " Key Data:",
        "",
    ]
    der = filled.get("<Default-RSA-Key>")[0].public_der()
    assert lines[6] == "  " + " ".join(der[i : i + 4].hex() for i in range(0, 32, 4))
    assert " Usage: Signature Key" in lines and " Usage: Encryption Key" in lines
    assert "<Default-ECDSA-Key>" not in text and "Key name: ec" not in text
    ec_text = filled.describe_public_keys(KeyKind.ECDSA)
    assert "Key name: ec\n Usage: General Purpose Key\n EC Size (bits): 256\n" in ec_text
    assert KeyStore().describe_public_keys(KeyKind.RSA) == ""


# --------------------------------------------------------------------------- exec commands


def test_generate_rsa_command() -> None:
    store = KeyStore()
    out = execute_key_command(store, "crypto key generate rsa modulus 1024", NOW)
    assert out == (
        "INFO: The name for the keys will be: <Default-RSA-Key>\n"
        "Keypair generation process begin. Please wait...\n"
    )
    assert store.get("<Default-RSA-Key>")[0].size_bits == 1024


def test_generate_rsa_usage_keys_with_label_abbreviated() -> None:
    store = KeyStore()
    execute_key_command(store, "cry key gen rsa usage lab vpn mod 1024", NOW)
    assert [p.usage for p in store.get("vpn")] == [KeyUsage.SIGNATURE, KeyUsage.ENCRYPTION]


def test_generate_ecdsa_command_defaults_to_p384() -> None:
    store = KeyStore()
    out = execute_key_command(store, "crypto key generate ecdsa", NOW)
    assert "<Default-ECDSA-Key>" in out
    assert store.get("<Default-ECDSA-Key>")[0].size_bits == 384
    execute_key_command(store, "crypto key generate ecdsa label e elliptic-curve 521", NOW)
    assert store.get("e")[0].size_bits == 521


def test_replace_asks_then_noconfirm_replaces() -> None:
    store = KeyStore()
    execute_key_command(store, "crypto key generate ecdsa elliptic-curve 256", NOW)
    before = store.get("<Default-ECDSA-Key>")
    with pytest.raises(ConfirmationRequired) as info:
        execute_key_command(store, "crypto key generate ecdsa elliptic-curve 256", NOW)
    assert info.value.prompt == (
        "WARNING: You have a ECDSA keypair already defined named <Default-ECDSA-Key>.\n\n"
        "Do you really want to replace them? [yes/no]:"
    )
    assert store.get("<Default-ECDSA-Key>") == before
    execute_key_command(store, "crypto key generate ecdsa elliptic-curve 256 noconfirm", NOW)
    assert store.get("<Default-ECDSA-Key>") != before


@pytest.mark.parametrize(
    ("line", "message", "column"),
    [
        (
            "crypto key generate rsa modulus 512",
            "RSA modulus 512 is no longer supported; use one of 1024, 2048, 3072, 4096",
            32,
        ),
        (
            "crypto key generate rsa modulus 1000",
            "RSA modulus must be one of 1024, 2048, 3072, 4096",
            32,
        ),
        (
            "crypto key generate ecdsa elliptic-curve 255",
            "elliptic curve must be one of 256, 384, 521",
            41,
        ),
        ("crypto key generate rsa modules 2048", "% Invalid input detected at '^' marker.", 24),
        ("crypto key generate rsa modulus", "% Incomplete command", 31),
        ("crypto key generate rsa label a label b", "label is given more than once", 30),
        (
            "crypto key generate rsa general-keys usage-keys",
            "general-keys and usage-keys cannot be combined",
            None,
        ),
        ("crypto key zeroize rsa default label x", "default and label cannot be combined", 37),
    ],
)
def test_command_errors(line: str, message: str, column: int | None) -> None:
    store = KeyStore()
    with pytest.raises(KeyCommandError) as info:
        execute_key_command(store, line, NOW)
    assert info.value.diagnostic.message == message
    assert info.value.diagnostic.column == column
    assert store.labels() == []


def test_command_error_renders_caret() -> None:
    with pytest.raises(KeyCommandError) as info:
        execute_key_command(KeyStore(), "crypto key generate rsa modulus 768", NOW)
    assert isinstance(info.value, KeyStoreError)
    assert str(info.value) == info.value.diagnostic.message
    assert info.value.render() == (
        "crypto key generate rsa modulus 768\n"
        "                                ^\n"
        "ERROR: RSA modulus 768 is no longer supported; use one of 1024, 2048, 3072, 4096"
    )


def test_zeroize_commands() -> None:
    store = KeyStore()
    store.generate_ecdsa(None, 256, NOW)
    store.generate_ecdsa("a", 256, NOW)
    with pytest.raises(KeyNotFound, match="there are no RSA keys"):
        execute_key_command(store, "crypto key zeroize rsa noconfirm", NOW)
    with pytest.raises(KeyNotFound, match="no ECDSA key pair is labelled b"):
        execute_key_command(store, "crypto key zeroize ecdsa label b", NOW)
    with pytest.raises(ConfirmationRequired) as info:
        execute_key_command(store, "crypto key zeroize ecdsa default", NOW)
    assert info.value.prompt.startswith(
        "WARNING: The ECDSA key pair <Default-ECDSA-Key> will be removed.\n"
    )
    assert store.labels() == ["<Default-ECDSA-Key>", "a"]
    assert execute_key_command(store, "crypto key zeroize ecdsa default noconfirm", NOW) == ""
    assert store.labels() == ["a"]
    with pytest.raises(ConfirmationRequired, match="All ECDSA keys will be removed"):
        execute_key_command(store, "crypto key zeroize ecdsa", NOW)
    execute_key_command(store, "crypto key zeroize ecdsa noconfirm", NOW)
    assert store.labels() == []
