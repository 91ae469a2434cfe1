/* tunnelgate.esp._fast: the ESP fast path of the gateway daemon, in C around OpenSSL's EVP.
 *
 * Python's data path (gateway/core.py, esp/) decides everything and stays the reference: it
 * picks the SA of a flow, checks the flow, keeps lifetimes and counters. Once it has cached
 * a decision (a flow's SA outbound, an SPI's SA and a passing flow inbound), the packets
 * that hit those caches are handled here, from the read to the send, without Python objects
 * per packet:
 *
 *   Sa         one ESP SA direction: AES-GCM (RFC 4106), or AES-CBC/3DES/DES with an HMAC
 *              (EVP_MAC keyed once); the sequence number and counters it shares with
 *              Python's EspSaState (which reads and writes them through the attributes), the
 *              limits up to which this code may use them, and (inbound) the anti-replay
 *              window (the ReplayWindow protocol).
 *   FastPath   the bursts: tun_burst (TUN -> seal -> raw ESP with sendmmsg, or UDP 4500 with
 *              GSO), udp_burst (UDP 4500 with GRO -> open -> TUN) and esp_burst (raw ESP with
 *              recvmmsg -> TUN). With vnet headers on the TUN, TCP super-segments read from
 *              it are cut here and decrypted TCP segments are written back as GSO packets.
 *              Inner packets are IPv4 (next header 4) or IPv6 (41), TCP super-segments and
 *              GSO writes of either family.
 *
 * Anything else (a cache miss, a limit reached, an error of any kind) is handed back to
 * Python before it changes any state, in the order it arrived, and Python does exactly what
 * it did before. Encryption, decryption, HMAC, random IVs and the ICV comparison are
 * OpenSSL's: nothing cryptographic is implemented here (the TCP/IP checksums are not).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define MAX_WINDOW_WORDS 16 /* 1024 bits: the largest ASA replay window */
#define ICV 16
#define IV 8
#define ESP_HEADER 8
#define MAX_PACKET 65535
#define GSO_SEGMENTS 64
#define GSO_BYTES (65535 - 20 - 8)
#define RAW_BATCH 64
#define RAW_SLOT 2048
#define UNLIMITED UINT64_MAX
#define MAX_OVERHEAD (ESP_HEADER + 16 + 17 + 32) /* header, IV, padding + trailer, ICV */
#define VNET_HDR 10 /* struct virtio_net_hdr, TUNSETVNETHDRSZ */

/* ------------------------------------------------------------------------------- Sa */

typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *ctx;
    EVP_MAC_CTX *mac; /* CBC SAs: the HMAC, keyed once; NULL for AES-GCM */
    int block;        /* CBC block size (16 AES, 8 3DES/DES); 0 for AES-GCM */
    int icv;          /* CBC: the truncated HMAC's length */
    int encrypt;
    uint8_t salt[4];
    uint32_t spi;
    unsigned long long seq;      /* last sequence number used (outbound) */
    unsigned long long seq_stop; /* the fast path sends only while seq + 1 < seq_stop */
    unsigned long long packets;
    unsigned long long bytes;
    unsigned long long byte_stop; /* ... and while bytes + len < byte_stop */
    int enabled;                  /* 0: every packet of this SA goes to Python */
    /* outbound */
    unsigned int max_inner; /* the largest inner packet sent without fragmentation */
    int df_mode;            /* 0 copy the inner DF, 1 set, 2 clear (``set df-bit``) */
    int udp;                /* ESP in UDP 4500 (also: inbound must come from peer_port) */
    uint32_t local;         /* network order */
    uint32_t peer;          /* network order */
    unsigned int peer_port;
    /* inbound: the anti-replay window (esp/replay.py's semantics) */
    unsigned int window_size;
    unsigned long long highest;
    uint64_t window[MAX_WINDOW_WORDS]; /* bit i: highest - i was accepted */
} SaObject;

static void
Sa_dealloc(SaObject *self)
{
    if (self->ctx != NULL)
        EVP_CIPHER_CTX_free(self->ctx);
    if (self->mac != NULL)
        EVP_MAC_CTX_free(self->mac);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The HMAC of a CBC SA, keyed once (EVP_MAC "HMAC" with ``digest``); NULL on failure. */
static EVP_MAC_CTX *
hmac_keyed(const char *digest, const unsigned char *key, size_t len)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    if (ctx == NULL)
        return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(ctx, key, len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int
Sa_init(SaObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"keymat", "spi",    "encrypt", "window_size",
                             "cipher", "auth_key", "digest", "icv",
                             NULL};
    Py_buffer key, auth = {0};
    unsigned long spi;
    int encrypt, icv = 0;
    unsigned int window_size = 64;
    const char *name = "aes-gcm", *digest = "";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*kp|Isy*si", kwlist, &key, &spi, &encrypt,
                                     &window_size, &name, &auth, &digest, &icv))
        return -1;
    const EVP_CIPHER *cipher = NULL;
    int gcm = strcmp(name, "aes-gcm") == 0, block = 0;
    unsigned char des3[24];
    const unsigned char *k = key.buf;
    if (gcm) {
        switch (key.len) {
        case 20: cipher = EVP_aes_128_gcm(); break;
        case 28: cipher = EVP_aes_192_gcm(); break;
        case 36: cipher = EVP_aes_256_gcm(); break;
        }
    } else if (strcmp(name, "aes-cbc") == 0) {
        block = 16;
        switch (key.len) {
        case 16: cipher = EVP_aes_128_cbc(); break;
        case 24: cipher = EVP_aes_192_cbc(); break;
        case 32: cipher = EVP_aes_256_cbc(); break;
        }
    } else if (strcmp(name, "3des-cbc") == 0 && (key.len == 24 || key.len == 8)) {
        block = 8; /* DES is EDE with K1 = K2 = K3, as crypto/cipher.py does it */
        cipher = EVP_des_ede3_cbc();
        for (int i = 0; i < 24; i++)
            des3[i] = k[i % key.len];
        k = des3;
    }
    int bad = cipher == NULL || spi > 0xFFFFFFFFUL || window_size < 32
              || window_size > 64 * MAX_WINDOW_WORDS
              || (!gcm && (auth.buf == NULL || icv < 12 || icv > 32 || !*digest));
    if (bad) {
        PyBuffer_Release(&key);
        if (auth.buf != NULL)
            PyBuffer_Release(&auth);
        PyErr_SetString(PyExc_ValueError,
                        "keymat must be an AES-GCM key + 4-byte salt (or an AES-CBC or 3DES key "
                        "with auth_key, digest and icv 12..32), spi 32 bits, window 32..1024");
        return -1;
    }
    if (self->ctx != NULL)
        EVP_CIPHER_CTX_free(self->ctx);
    if (self->mac != NULL)
        EVP_MAC_CTX_free(self->mac);
    self->mac = NULL;
    self->ctx = EVP_CIPHER_CTX_new();
    int ok = self->ctx != NULL;
    if (ok && encrypt)
        ok = EVP_EncryptInit_ex(self->ctx, cipher, NULL, k, NULL) == 1;
    else if (ok)
        ok = EVP_DecryptInit_ex(self->ctx, cipher, NULL, k, NULL) == 1;
    if (ok && !gcm) {
        ok = EVP_CIPHER_CTX_set_padding(self->ctx, 0) == 1; /* ESP pads itself */
        self->mac = ok ? hmac_keyed(digest, auth.buf, (size_t)auth.len) : NULL;
        ok = self->mac != NULL && EVP_MAC_CTX_get_mac_size(self->mac) >= (size_t)icv;
    }
    if (gcm)
        memcpy(self->salt, k + key.len - 4, 4);
    OPENSSL_cleanse(des3, sizeof des3);
    PyBuffer_Release(&key);
    if (auth.buf != NULL)
        PyBuffer_Release(&auth);
    if (!ok) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL refused the key or the digest");
        return -1;
    }
    self->block = block;
    self->icv = gcm ? 0 : icv;
    self->encrypt = encrypt;
    self->spi = (uint32_t)spi;
    self->seq = self->packets = self->bytes = 0;
    self->seq_stop = self->byte_stop = UNLIMITED;
    self->enabled = 0;
    self->max_inner = 0;
    self->window_size = window_size;
    self->highest = 0;
    memset(self->window, 0, sizeof self->window);
    return 0;
}

/* HMAC of ``data`` into ``out`` (the full digest; callers take ``icv`` bytes). */
static int
hmac(SaObject *sa, const uint8_t *data, size_t n, uint8_t *out)
{
    size_t len = 0;
    return EVP_MAC_init(sa->mac, NULL, 0, NULL) == 1 && EVP_MAC_update(sa->mac, data, n) == 1
           && EVP_MAC_final(sa->mac, out, &len, 64) == 1 && len >= (size_t)sa->icv;
}

/* CBC + HMAC (RFC 4303 with RFC 3602 / 2451 and RFC 2404 / 4868): a random IV from
 * OpenSSL's generator, padding to the block, the truncated HMAC over header, IV and
 * ciphertext. Returns the ESP length or -1. */
static Py_ssize_t
seal_cbc(SaObject *sa, unsigned long long seq, const uint8_t *inner, Py_ssize_t n,
         int next_header, uint8_t *out)
{
    uint32_t spi = htonl(sa->spi), seq32 = htonl((uint32_t)seq);
    int block = sa->block;
    memcpy(out, &spi, 4);
    memcpy(out + 4, &seq32, 4);
    uint8_t *iv = out + ESP_HEADER, *body = iv + block;
    if (RAND_bytes(iv, block) != 1)
        return -1;
    int pad = (int)((block - ((n + 2) % block)) % block);
    uint8_t trailer[34];
    for (int i = 0; i < pad; i++)
        trailer[i] = (uint8_t)(i + 1);
    trailer[pad] = (uint8_t)pad;
    trailer[pad + 1] = (uint8_t)next_header;
    int len = 0, total = 0;
    if (EVP_EncryptInit_ex(sa->ctx, NULL, NULL, NULL, iv) != 1
        || EVP_EncryptUpdate(sa->ctx, body, &len, inner, (int)n) != 1)
        return -1;
    total = len;
    if (EVP_EncryptUpdate(sa->ctx, body + total, &len, trailer, pad + 2) != 1)
        return -1;
    total += len;
    if (EVP_EncryptFinal_ex(sa->ctx, body + total, &len) != 1)
        return -1;
    total += len;
    size_t covered = (size_t)(ESP_HEADER + block + total);
    uint8_t mac[64];
    if (!hmac(sa, out, covered, mac))
        return -1;
    memcpy(out + covered, mac, (size_t)sa->icv);
    return (Py_ssize_t)covered + sa->icv;
}

/* CBC: verify the ICV (constant time) before decrypting; the same return values as
 * ``open_into``. */
static Py_ssize_t
open_cbc(SaObject *sa, const uint8_t *esp, Py_ssize_t size, uint8_t *out, int *next_header)
{
    int block = sa->block;
    if (size < ESP_HEADER + block + block + sa->icv)
        return -2;
    Py_ssize_t body = size - ESP_HEADER - block - sa->icv;
    if (body % block)
        return -2;
    uint8_t mac[64];
    if (!hmac(sa, esp, (size_t)(size - sa->icv), mac)
        || CRYPTO_memcmp(mac, esp + size - sa->icv, (size_t)sa->icv) != 0)
        return -1;
    int len = 0, total = 0;
    if (EVP_DecryptInit_ex(sa->ctx, NULL, NULL, NULL, esp + ESP_HEADER) != 1
        || EVP_DecryptUpdate(sa->ctx, out, &len, esp + ESP_HEADER + block, (int)body) != 1)
        return -1;
    total = len;
    if (EVP_DecryptFinal_ex(sa->ctx, out + total, &len) != 1)
        return -1;
    total += len;
    int pad = out[total - 2];
    *next_header = out[total - 1];
    if (pad + 2 > total)
        return -3;
    for (int i = 0; i < pad; i++)
        if (out[total - 2 - pad + i] != (uint8_t)(i + 1))
            return -3;
    return total - 2 - pad;
}

/* Encrypt ``inner`` + trailer into ``out`` (ESP header to ICV); returns its length or -1. */
static Py_ssize_t
seal_into(SaObject *sa, unsigned long long seq, const uint8_t *inner, Py_ssize_t n,
          int next_header, uint8_t *out)
{
    if (sa->block)
        return seal_cbc(sa, seq, inner, n, next_header, out);
    uint8_t nonce[12];
    uint32_t spi = htonl(sa->spi), seq32 = htonl((uint32_t)seq);
    memcpy(out, &spi, 4);
    memcpy(out + 4, &seq32, 4);
    for (int i = 0; i < IV; i++) /* the explicit IV: the 64-bit sequence number (D66) */
        out[ESP_HEADER + i] = (uint8_t)(seq >> (56 - 8 * i));
    memcpy(nonce, sa->salt, 4);
    memcpy(nonce + 4, out + ESP_HEADER, IV);
    int pad = (int)((4 - ((n + 2) & 3)) & 3);
    uint8_t trailer[5];
    for (int i = 0; i < pad; i++)
        trailer[i] = (uint8_t)(i + 1);
    trailer[pad] = (uint8_t)pad;
    trailer[pad + 1] = (uint8_t)next_header;
    int len = 0, total = 0;
    uint8_t *body = out + ESP_HEADER + IV;
    if (EVP_EncryptInit_ex(sa->ctx, NULL, NULL, NULL, nonce) != 1
        || EVP_EncryptUpdate(sa->ctx, NULL, &len, out, ESP_HEADER) != 1
        || EVP_EncryptUpdate(sa->ctx, body, &len, inner, (int)n) != 1)
        return -1;
    total = len;
    if (EVP_EncryptUpdate(sa->ctx, body + total, &len, trailer, pad + 2) != 1)
        return -1;
    total += len;
    if (EVP_EncryptFinal_ex(sa->ctx, body + total, &len) != 1)
        return -1;
    total += len;
    if (EVP_CIPHER_CTX_ctrl(sa->ctx, EVP_CTRL_GCM_GET_TAG, ICV, body + total) != 1)
        return -1;
    return ESP_HEADER + IV + total + ICV;
}

/* Verify and decrypt the ESP payload ``esp`` (SPI onwards) into ``out``; the inner length,
 * or -1 ICV/decryption refused, -2 bad length, -3 bad padding. Changes no state. */
static Py_ssize_t
open_into(SaObject *sa, const uint8_t *esp, Py_ssize_t size, uint8_t *out, int *next_header)
{
    if (sa->block)
        return open_cbc(sa, esp, size, out, next_header);
    if (size < ESP_HEADER + IV + 4 + ICV)
        return -2;
    Py_ssize_t body = size - ESP_HEADER - IV - ICV;
    if (body % 4)
        return -2;
    uint8_t nonce[12], tag[ICV];
    memcpy(nonce, sa->salt, 4);
    memcpy(nonce + 4, esp + ESP_HEADER, IV);
    memcpy(tag, esp + size - ICV, ICV);
    int len = 0, total = 0;
    if (EVP_DecryptInit_ex(sa->ctx, NULL, NULL, NULL, nonce) != 1
        || EVP_DecryptUpdate(sa->ctx, NULL, &len, esp, ESP_HEADER) != 1
        || EVP_DecryptUpdate(sa->ctx, out, &len, esp + ESP_HEADER + IV, (int)body) != 1)
        return -1;
    total = len;
    if (EVP_CIPHER_CTX_ctrl(sa->ctx, EVP_CTRL_GCM_SET_TAG, ICV, tag) != 1)
        return -1;
    if (EVP_DecryptFinal_ex(sa->ctx, out + total, &len) != 1)
        return -1; /* OpenSSL compares the tag in constant time */
    total += len;
    int pad = out[total - 2];
    *next_header = out[total - 1];
    if (pad + 2 > total)
        return -3; /* as Python's open_esp: a pad length beyond the payload is bad padding */
    for (int i = 0; i < pad; i++)
        if (out[total - 2 - pad + i] != (uint8_t)(i + 1))
            return -3;
    return total - 2 - pad;
}

/* The replay window: esp/replay.py's check and commit, on a bitmap of up to 1024 bits. */
static int
window_bit(SaObject *sa, unsigned long long offset)
{
    return (int)((sa->window[offset / 64] >> (offset % 64)) & 1);
}

static int
window_check(SaObject *sa, unsigned long long seq)
{
    if (seq == 0)
        return 0;
    if (seq > sa->highest)
        return 1;
    unsigned long long offset = sa->highest - seq;
    if (offset >= sa->window_size)
        return 0;
    return !window_bit(sa, offset);
}

static void
window_shift(SaObject *sa, unsigned long long shift)
{
    int words = (int)((sa->window_size + 63) / 64);
    if (shift >= sa->window_size) {
        memset(sa->window, 0, sizeof sa->window);
        return;
    }
    int wshift = (int)(shift / 64), bshift = (int)(shift % 64);
    for (int i = words - 1; i >= 0; i--) {
        uint64_t v = 0;
        if (i - wshift >= 0) {
            v = sa->window[i - wshift] << bshift;
            if (bshift && i - wshift - 1 >= 0)
                v |= sa->window[i - wshift - 1] >> (64 - bshift);
        }
        sa->window[i] = v;
    }
    /* bits at or beyond window_size are forgotten */
    for (int i = words; i < MAX_WINDOW_WORDS; i++)
        sa->window[i] = 0;
    unsigned int top = sa->window_size % 64;
    if (top)
        sa->window[words - 1] &= ((uint64_t)1 << top) - 1;
}

static int
window_commit(SaObject *sa, unsigned long long seq)
{
    if (!window_check(sa, seq))
        return 0;
    if (seq > sa->highest) {
        window_shift(sa, seq - sa->highest);
        sa->window[0] |= 1;
        sa->highest = seq;
    } else {
        unsigned long long offset = sa->highest - seq;
        sa->window[offset / 64] |= (uint64_t)1 << (offset % 64);
    }
    return 1;
}

static PyObject *
Sa_seal(SaObject *self, PyObject *args)
{
    unsigned long long seq;
    Py_buffer inner;
    int next_header;
    if (!PyArg_ParseTuple(args, "Ky*i", &seq, &inner, &next_header))
        return NULL;
    if (!self->encrypt || inner.len > MAX_PACKET) {
        PyBuffer_Release(&inner);
        PyErr_SetString(PyExc_ValueError, "not an outbound SA, or the packet is too long");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, inner.len + MAX_OVERHEAD);
    if (out == NULL) {
        PyBuffer_Release(&inner);
        return NULL;
    }
    Py_ssize_t n = seal_into(self, seq, inner.buf, inner.len, next_header,
                             (uint8_t *)PyBytes_AS_STRING(out));
    PyBuffer_Release(&inner);
    if (n < 0) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL failed to encrypt");
        return NULL;
    }
    _PyBytes_Resize(&out, n);
    return out;
}

static PyObject *
Sa_open(SaObject *self, PyObject *arg)
{
    Py_buffer esp;
    if (PyObject_GetBuffer(arg, &esp, PyBUF_SIMPLE) < 0)
        return NULL;
    if (self->encrypt) {
        PyBuffer_Release(&esp);
        PyErr_SetString(PyExc_ValueError, "not an inbound SA");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, esp.len > 0 ? esp.len : 1);
    if (out == NULL) {
        PyBuffer_Release(&esp);
        return NULL;
    }
    int next_header = 0;
    Py_ssize_t n = open_into(self, esp.buf, esp.len, (uint8_t *)PyBytes_AS_STRING(out),
                             &next_header);
    PyBuffer_Release(&esp);
    if (n < 0) {
        Py_DECREF(out);
        return PyUnicode_FromString(n == -1 ? "icv-failed"
                                    : n == -2 ? "bad-length"
                                              : "bad-padding");
    }
    _PyBytes_Resize(&out, n);
    return Py_BuildValue("(Ni)", out, next_header);
}

static PyObject *
Sa_check(SaObject *self, PyObject *arg)
{
    unsigned long long seq = PyLong_AsUnsignedLongLong(arg);
    if (seq == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    return PyBool_FromLong(window_check(self, seq));
}

static PyObject *
Sa_commit(SaObject *self, PyObject *arg)
{
    unsigned long long seq = PyLong_AsUnsignedLongLong(arg);
    if (seq == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    return PyBool_FromLong(window_commit(self, seq));
}

static PyObject *
Sa_get_bitmap(SaObject *self, void *closure)
{
    PyObject *value = PyLong_FromLong(0);
    for (int i = MAX_WINDOW_WORDS - 1; i >= 0 && value != NULL; i--) {
        PyObject *shift = PyLong_FromLong(64), *word = PyLong_FromUnsignedLongLong(self->window[i]);
        PyObject *shifted = shift ? PyNumber_Lshift(value, shift) : NULL;
        PyObject *next = shifted && word ? PyNumber_Or(shifted, word) : NULL;
        Py_XDECREF(shift);
        Py_XDECREF(word);
        Py_XDECREF(shifted);
        Py_DECREF(value);
        value = next;
    }
    return value;
}

static int
Sa_set_bitmap(SaObject *self, PyObject *value, void *closure)
{
    if (value == NULL || !PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "bitmap must be an int");
        return -1;
    }
    unsigned char octets[8 * MAX_WINDOW_WORDS]; /* the int, little-endian */
    if (_PyLong_AsByteArray((PyLongObject *)value, octets, sizeof octets, 1, 0) < 0)
        return -1;
    for (int i = 0; i < MAX_WINDOW_WORDS; i++) {
        uint64_t word = 0;
        for (int b = 7; b >= 0; b--)
            word = word << 8 | octets[8 * i + b];
        self->window[i] = word;
    }
    window_shift(self, 0); /* forget bits at or beyond window_size */
    return 0;
}

static PyMemberDef Sa_members[] = {
    {"spi", T_UINT, offsetof(SaObject, spi), READONLY, "the SPI"},
    {"seq", T_ULONGLONG, offsetof(SaObject, seq), 0, "last sequence number used"},
    {"seq_stop", T_ULONGLONG, offsetof(SaObject, seq_stop), 0, "fast path while seq+1 < it"},
    {"packets", T_ULONGLONG, offsetof(SaObject, packets), 0, "packets counted"},
    {"bytes", T_ULONGLONG, offsetof(SaObject, bytes), 0, "inner bytes counted"},
    {"byte_stop", T_ULONGLONG, offsetof(SaObject, byte_stop), 0, "fast while bytes+n < it"},
    {"enabled", T_INT, offsetof(SaObject, enabled), 0, "0: every packet goes to Python"},
    {"max_inner", T_UINT, offsetof(SaObject, max_inner), 0, "largest inner packet"},
    {"df_mode", T_INT, offsetof(SaObject, df_mode), 0, "0 copy, 1 set, 2 clear"},
    {"udp", T_INT, offsetof(SaObject, udp), 0, "ESP in UDP 4500"},
    {"local", T_UINT, offsetof(SaObject, local), 0, "local address (network order)"},
    {"peer", T_UINT, offsetof(SaObject, peer), 0, "peer address (network order)"},
    {"peer_port", T_UINT, offsetof(SaObject, peer_port), 0, "peer UDP port"},
    {"window_size", T_UINT, offsetof(SaObject, window_size), READONLY, "replay window"},
    {"highest", T_ULONGLONG, offsetof(SaObject, highest), 0, "highest accepted sequence"},
    {NULL},
};

static PyGetSetDef Sa_getset[] = {
    {"bitmap", (getter)Sa_get_bitmap, (setter)Sa_set_bitmap, "bit i: highest - i accepted", NULL},
    {NULL},
};

static PyMethodDef Sa_methods[] = {
    {"seal", (PyCFunction)Sa_seal, METH_VARARGS, "seal(seq, inner, next_header) -> ESP bytes"},
    {"open", (PyCFunction)Sa_open, METH_O, "open(esp) -> (inner, next_header) | reason"},
    {"check", (PyCFunction)Sa_check, METH_O, "replay window check (no state change)"},
    {"commit", (PyCFunction)Sa_commit, METH_O, "replay window commit"},
    {NULL},
};

static PyTypeObject SaType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tunnelgate.esp._fast.Sa",
    .tp_basicsize = sizeof(SaObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One AES-GCM ESP SA direction shared with Python's EspSaState.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Sa_init,
    .tp_dealloc = (destructor)Sa_dealloc,
    .tp_members = Sa_members,
    .tp_getset = Sa_getset,
    .tp_methods = Sa_methods,
};

/* ------------------------------------------------------------------------- FastPath */

#define RX_BATCH 32

/* The receive buffers of esp_burst (recvmmsg), allocated on first use. */
typedef struct {
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iov[RX_BATCH];
    struct sockaddr_in from[RX_BATCH];
    uint8_t buf[RX_BATCH][MAX_PACKET + 1];
} RxBatch;

#define MAX_LOCALS 8

typedef struct {
    uint32_t address; /* network order */
    int raw_fd;
    int udp_fd;
    int udp_df; /* -1 unknown, 0 off, 1 on: the IP_MTU_DISCOVER mode set on udp_fd */
} Local;

typedef struct {
    PyObject_HEAD
    int tun_fd;
    int gso;
    int nlocals;
    Local locals[MAX_LOCALS];
    uint16_t ident;
    unsigned long long counts[16]; /* by the C_ names below (NCOUNTS of them) */
    /* UDP GSO batch */
    int gso_fd;
    struct sockaddr_in gso_to;
    int gso_df;
    size_t gso_size, gso_len;
    int gso_count;
    uint8_t gso_buf[GSO_BYTES + 64];
    /* raw ESP batch */
    int raw_fd;
    int raw_count;
    struct mmsghdr raw_msgs[RAW_BATCH];
    struct iovec raw_iov[RAW_BATCH];
    struct sockaddr_in raw_to[RAW_BATCH];
    uint8_t raw_buf[RAW_BATCH][RAW_SLOT];
    /* TUN with IFF_VNET_HDR: segments cut from a super-segment, and the TCP segments being
     * gathered for one GSO write */
    int vnet;
    RxBatch *rx;
    uint8_t seg[MAX_PACKET + 64];
    size_t gro_len, gro_hlen, gro_mss, gro_l3; /* gro_l3: 20 (IPv4) or 40 (IPv6) */
    int gro_count, gro_last_full, gro_psh;
    uint32_t gro_next_seq;
    uint8_t gro_buf[MAX_PACKET + 64];
    uint8_t buf[MAX_PACKET + 64];
    uint8_t out[MAX_PACKET + 128];
} FastPathObject;

enum {
    C_SENT,
    C_SEND_FULL,
    C_SEND_ERROR,
    C_GSO_FALLBACK,
    C_TUN_WRITE,
    C_RECEIVED,
    C_BAD_FRAME,
    C_COALESCED,
    C_SUPER_READS
};
static const char *count_names[] = {"fast-sent",     "send-buffer-full", "send-error",
                                    "gso-fallback",  "tun-write",        "fast-received",
                                    "tun-bad-frame", "tun-coalesced",    "tun-super-segments"};
#define NCOUNTS 9
_Static_assert(NCOUNTS <= 16 && sizeof count_names / sizeof *count_names == NCOUNTS,
               "one name per counter, and room for them");

static PyObject *s_fast_out, *s_fast_in;

static int
FastPath_init(FastPathObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"tun_fd", "vnet_hdr", NULL};
    self->vnet = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i|p", kwlist, &self->tun_fd, &self->vnet))
        return -1;
    self->gro_count = 0;
    PyMem_Free(self->rx);
    self->rx = NULL;
    self->gso = 1;
    self->nlocals = 0;
    self->gso_count = 0;
    self->raw_count = 0;
    self->ident = (uint16_t)getpid();
    memset(self->counts, 0, sizeof self->counts);
    return 0;
}

static Local *
find_local(FastPathObject *self, uint32_t address)
{
    for (int i = 0; i < self->nlocals; i++)
        if (self->locals[i].address == address)
            return &self->locals[i];
    return NULL;
}

static PyObject *
FastPath_add_local(FastPathObject *self, PyObject *args)
{
    unsigned int address;
    int raw_fd, udp_fd;
    if (!PyArg_ParseTuple(args, "Iii", &address, &raw_fd, &udp_fd))
        return NULL;
    Local *local = find_local(self, address);
    if (local == NULL) {
        if (self->nlocals == MAX_LOCALS) {
            PyErr_SetString(PyExc_ValueError, "too many local addresses");
            return NULL;
        }
        local = &self->locals[self->nlocals++];
    }
    local->address = address;
    local->raw_fd = raw_fd;
    local->udp_fd = udp_fd;
    local->udp_df = -1;
    Py_RETURN_NONE;
}

static int
set_df(Local *local, int df)
{
    if (local->udp_df == df)
        return 0;
    int mode = df ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
    if (setsockopt(local->udp_fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof mode) < 0)
        return -1;
    local->udp_df = df;
    return 0;
}

static PyObject *
FastPath_udp_df(FastPathObject *self, PyObject *args)
{
    unsigned int address;
    int df;
    if (!PyArg_ParseTuple(args, "Ip", &address, &df))
        return NULL;
    Local *local = find_local(self, address);
    if (local == NULL || set_df(local, df) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    Py_RETURN_NONE;
}

static void
count_send_error(FastPathObject *self, int n)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        self->counts[C_SEND_FULL] += n;
    else
        self->counts[C_SEND_ERROR] += n;
}

static void
flush_gso(FastPathObject *self)
{
    if (self->gso_count == 0)
        return;
    if (self->gso_count > 1 && self->gso) {
        struct iovec iov = {self->gso_buf, self->gso_len};
        char control[CMSG_SPACE(sizeof(uint16_t))];
        memset(control, 0, sizeof control);
        struct msghdr msg = {0};
        msg.msg_name = &self->gso_to;
        msg.msg_namelen = sizeof self->gso_to;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t size = (uint16_t)self->gso_size;
        memcpy(CMSG_DATA(cm), &size, sizeof size);
        if (sendmsg(self->gso_fd, &msg, 0) >= 0) {
            self->counts[C_SENT] += self->gso_count;
            self->gso_count = 0;
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            self->counts[C_SEND_FULL] += self->gso_count;
            self->gso_count = 0;
            return;
        }
        self->counts[C_GSO_FALLBACK] += 1;
        if (errno == EIO || errno == ENOPROTOOPT || errno == EOPNOTSUPP)
            self->gso = 0;
    }
    size_t offset = 0;
    for (int i = 0; i < self->gso_count; i++) {
        size_t n = self->gso_len - offset < self->gso_size ? self->gso_len - offset
                                                            : self->gso_size;
        if (sendto(self->gso_fd, self->gso_buf + offset, n, 0, (struct sockaddr *)&self->gso_to,
                   sizeof self->gso_to) < 0)
            count_send_error(self, 1);
        else
            self->counts[C_SENT] += 1;
        offset += n;
    }
    self->gso_count = 0;
}

static void
flush_raw(FastPathObject *self)
{
    int done = 0;
    while (done < self->raw_count) {
        int n = sendmmsg(self->raw_fd, self->raw_msgs + done, (unsigned)(self->raw_count - done),
                         0);
        if (n <= 0) {
            count_send_error(self, 1); /* that packet is lost; go on with the next */
            done += 1;
            continue;
        }
        self->counts[C_SENT] += n;
        done += n;
    }
    self->raw_count = 0;
}

static void
flush_all(FastPathObject *self)
{
    flush_gso(self);
    flush_raw(self);
}

/* Queue one ESP packet of ``sa``; ``esp`` points into self->out with ROOM bytes before it. */
static void
queue_udp(FastPathObject *self, Local *local, SaObject *sa, const uint8_t *esp, size_t n, int df)
{
    if (self->gso_count > 0) {
        int same = self->gso_fd == local->udp_fd && self->gso_df == df
                   && self->gso_to.sin_addr.s_addr == sa->peer
                   && self->gso_to.sin_port == htons((uint16_t)sa->peer_port);
        int last_full = self->gso_len % self->gso_size == 0;
        if (!(same && n <= self->gso_size && last_full && self->gso_count < GSO_SEGMENTS
              && self->gso_len + n <= GSO_BYTES))
            flush_gso(self);
    }
    if (self->gso_count == 0) {
        if (set_df(local, df) < 0) {
            self->counts[C_SEND_ERROR] += 1;
            return;
        }
        self->gso_fd = local->udp_fd;
        self->gso_df = df;
        memset(&self->gso_to, 0, sizeof self->gso_to);
        self->gso_to.sin_family = AF_INET;
        self->gso_to.sin_addr.s_addr = sa->peer;
        self->gso_to.sin_port = htons((uint16_t)sa->peer_port);
        self->gso_size = n;
        self->gso_len = 0;
    }
    memcpy(self->gso_buf + self->gso_len, esp, n);
    self->gso_len += n;
    self->gso_count += 1;
    if (!self->gso)
        flush_gso(self);
}

static void
queue_raw(FastPathObject *self, Local *local, SaObject *sa, const uint8_t *esp, size_t n, int df,
          int tos)
{
    if (self->raw_count > 0 && (self->raw_fd != local->raw_fd || self->raw_count == RAW_BATCH))
        flush_raw(self);
    int i = self->raw_count;
    uint8_t *p = self->raw_buf[i];
    size_t total = 20 + n;
    self->ident = (uint16_t)(self->ident + 1);
    p[0] = 0x45;
    p[1] = (uint8_t)tos;
    p[2] = (uint8_t)(total >> 8);
    p[3] = (uint8_t)total;
    p[4] = (uint8_t)(self->ident >> 8);
    p[5] = (uint8_t)self->ident;
    p[6] = df ? 0x40 : 0;
    p[7] = 0;
    p[8] = 64;
    p[9] = 50;
    p[10] = p[11] = 0;
    memcpy(p + 12, &sa->local, 4);
    memcpy(p + 16, &sa->peer, 4);
    uint32_t sum = 0;
    for (int w = 0; w < 20; w += 2)
        sum += (uint32_t)(p[w] << 8 | p[w + 1]);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    uint16_t csum = (uint16_t)~sum;
    p[10] = (uint8_t)(csum >> 8);
    p[11] = (uint8_t)csum;
    memcpy(p + 20, esp, n);
    self->raw_fd = local->raw_fd;
    memset(&self->raw_to[i], 0, sizeof self->raw_to[i]);
    self->raw_to[i].sin_family = AF_INET;
    self->raw_to[i].sin_addr.s_addr = sa->peer;
    self->raw_iov[i].iov_base = p;
    self->raw_iov[i].iov_len = total;
    memset(&self->raw_msgs[i], 0, sizeof self->raw_msgs[i]);
    self->raw_msgs[i].msg_hdr.msg_name = &self->raw_to[i];
    self->raw_msgs[i].msg_hdr.msg_namelen = sizeof self->raw_to[i];
    self->raw_msgs[i].msg_hdr.msg_iov = &self->raw_iov[i];
    self->raw_msgs[i].msg_hdr.msg_iovlen = 1;
    self->raw_count += 1;
}

/* gateway/flow.py's flow_key into ``key`` (13, 10 or 9 bytes); 0 when there is none. The
 * protocols with ports are PORT_PROTOCOLS (TCP, UDP); tests hold the two to the same bytes. */
static Py_ssize_t
flow_key(const uint8_t *p, Py_ssize_t n, uint8_t *key)
{
    if (n >= 44 && p[0] >> 4 == 6) { /* gateway/flow.py's _ipv6_key: no extension headers */
        if (40 + ((Py_ssize_t)p[4] << 8 | p[5]) > n)
            return 0;
        int next = p[6];
        if (next == 0 || next == 43 || next == 44 || next == 60)
            return 0;
        Py_ssize_t len6 = next == 6 || next == 17 ? 37 : next == 58 ? 34 : 33;
        key[0] = (uint8_t)next;
        memcpy(key + 1, p + 8, (size_t)len6 - 1);
        return len6;
    }
    if (n < 24 || p[0] != 0x45 || (p[6] & 0x1F) || p[7])
        return 0;
    int protocol = p[9];
    Py_ssize_t len = protocol == 6 || protocol == 17 ? 13 : protocol == 1 ? 10 : 9;
    key[0] = (uint8_t)protocol;
    memcpy(key + 1, p + 12, (size_t)len - 1);
    return len;
}

#define FLOW_KEY_MAX 40 /* an IPv6 TCP/UDP key: 37 bytes */

/* The SA attribute ``name`` of an InstalledSa, borrowed-like (a new reference) or NULL. */
static SaObject *
sa_of(PyObject *installed, PyObject *name)
{
    PyObject *sa = PyObject_GetAttr(installed, name);
    if (sa == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (!PyObject_TypeCheck(sa, &SaType)) {
        Py_DECREF(sa);
        return NULL;
    }
    return (SaObject *)sa;
}

static int
append_bytes(PyObject *list, const uint8_t *data, Py_ssize_t n)
{
    PyObject *item = PyBytes_FromStringAndSize((const char *)data, n);
    if (item == NULL)
        return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

/* One plain IPv4 packet from the TUN: sealed and queued when its flow is cached on an SA
 * the fast path may use, else appended to ``slow`` for Python. -1 on a Python error. */
static int
outbound_one(FastPathObject *self, PyObject *flows, const uint8_t *pkt, Py_ssize_t n,
             PyObject *slow)
{
    uint8_t keybuf[FLOW_KEY_MAX];
    Py_ssize_t klen = flow_key(pkt, n, keybuf);
    int v6 = klen > 16;
    SaObject *sa = NULL;
    if (klen > 0) {
        PyObject *key = PyBytes_FromStringAndSize((const char *)keybuf, klen);
        PyObject *installed = key ? PyDict_GetItemWithError(flows, key) : NULL;
        Py_XDECREF(key);
        if (installed != NULL)
            sa = sa_of(installed, s_fast_out);
        PyErr_Clear();
    }
    Local *local = sa != NULL ? find_local(self, sa->local) : NULL;
    Py_ssize_t esp = -1;
    if (sa != NULL && local != NULL && sa->enabled && (size_t)n <= sa->max_inner
        && sa->seq + 1 < sa->seq_stop && sa->bytes + (unsigned long long)n < sa->byte_stop
        && (size_t)n + 20 + MAX_OVERHEAD <= RAW_SLOT)
        esp = seal_into(sa, sa->seq + 1, pkt, n, v6 ? 41 : 4, self->out);
    if (esp < 0) { /* not ours, or OpenSSL failed: Python's own path decides and says why */
        Py_XDECREF(sa);
        return append_bytes(slow, pkt, n);
    }
    /* IPv6 is never fragmented on the way: as if DF were set; its traffic class is the TOS */
    int inner_df = v6 || (pkt[6] & 0x40) != 0;
    int df = sa->df_mode == 1 ? 1 : sa->df_mode == 2 ? 0 : inner_df;
    int tos = v6 ? ((pkt[0] & 0x0F) << 4 | pkt[1] >> 4) : pkt[1];
    sa->seq += 1;
    sa->packets += 1;
    sa->bytes += (unsigned long long)n;
    if (sa->udp)
        queue_udp(self, local, sa, self->out, (size_t)esp, df);
    else
        queue_raw(self, local, sa, self->out, (size_t)esp, df, tos);
    Py_DECREF(sa);
    return 0;
}

/* ------------------------------------------------------------ TUN offloads (vnet_hdr) */

/* One's-complement sum of the big-endian 16-bit words of p, folded to 16 bits and added to
 * ``sum`` (a partial sum callers fold later). Summed as native 32-bit words and byte-swapped
 * once at the end: the sum does not depend on byte order (RFC 1071 §2(B)). */
static uint64_t
ones_add(uint64_t sum, const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    uint32_t w;
    while (n >= 16) {
        uint32_t a, b, c, d;
        memcpy(&a, p, 4);
        memcpy(&b, p + 4, 4);
        memcpy(&c, p + 8, 4);
        memcpy(&d, p + 12, 4);
        s += (uint64_t)a + b + c + d;
        p += 16;
        n -= 16;
    }
    while (n >= 4) {
        memcpy(&w, p, 4);
        s += w;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        uint16_t h;
        memcpy(&h, p, 2);
        s += h;
        p += 2;
        n -= 2;
    }
    if (n) {
        uint8_t last[2] = {p[0], 0};
        uint16_t h;
        memcpy(&h, last, 2);
        s += h;
    }
    s = (s & 0xFFFFFFFFu) + (s >> 32);
    s = (s & 0xFFFFFFFFu) + (s >> 32);
    s = (s & 0xFFFF) + (s >> 16);
    s = (s & 0xFFFF) + (s >> 16);
    s = (s & 0xFFFF) + (s >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    s = ((s & 0xFF) << 8) | (s >> 8);
#endif
    return sum + s;
}

static uint16_t
ones_fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)sum;
}

static void
put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static unsigned
get16(const uint8_t *p)
{
    return (unsigned)(p[0] << 8 | p[1]);
}

static void
ip_checksum(uint8_t *ip, size_t ihl)
{
    ip[10] = ip[11] = 0;
    put16(ip + 10, (uint16_t)~ones_fold(ones_add(0, ip, ihl)));
}

/* The TCP/UDP pseudo-header sum of an IPv4 packet for an L4 length ``len``. */
static uint64_t
pseudo_sum(const uint8_t *ip, unsigned protocol, size_t len)
{
    return ones_add(0, ip + 12, 8) + protocol + len;
}

/* The TCP pseudo-header sum of an IPv6 packet for a TCP length ``len`` (RFC 8200 §8.1). */
static uint64_t
pseudo6_sum(const uint8_t *ip, size_t len)
{
    return ones_add(0, ip + 8, 32) + 6 + len;
}

/* Complete a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at start + offset
 * holds the pseudo-header sum; the sum covers the packet from start. 0 when done. */
static int
complete_checksum(uint8_t *p, size_t n, unsigned start, unsigned offset)
{
    if (start >= n || start + offset + 2 > n)
        return -1;
    uint16_t value = (uint16_t)~ones_fold(ones_add(0, p + start, n - start));
    put16(p + start + offset, value ? value : 0xFFFF);
    return 0;
}

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80
#define VNET_NEEDS_CSUM 1
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_TCPV6 4
#define VNET_GSO_ECN 0x80
#define GRO_SEGMENTS 64

/* A TCP super-segment (GSO_TCPV4 or GSO_TCPV6) cut as the kernel's GSO would: segments of
 * ``mss`` payload bytes, the headers copied (IPv6 extension headers included: the TCP header
 * is at ``l4``, the vnet header's csum_start; IPv4 at its IHL), the IP lengths (IPv4: the ID
 * counting up and the header checksum), the sequence numbers, FIN/PSH on the last only, CWR
 * on the first only, and each TCP checksum recomputed; each segment then goes through
 * ``outbound_one``. 1 when the frame is not a TCP super-segment it can cut. */
static int
segment_tcp(FastPathObject *self, PyObject *flows, const uint8_t *p, size_t n, unsigned mss,
            size_t l4, int v6, PyObject *slow)
{
    if (mss == 0)
        return 1;
    if (v6) {
        if (n < 60 || p[0] >> 4 != 6 || l4 < 40 || n < l4 + 20)
            return 1;
    } else {
        if (n < 40 || p[0] >> 4 != 4 || p[9] != 6)
            return 1;
        l4 = (size_t)(p[0] & 0x0F) * 4;
        if (l4 < 20 || n < l4 + 20)
            return 1;
    }
    size_t doff = (size_t)(p[l4 + 12] >> 4) * 4;
    size_t hlen = l4 + doff;
    if (doff < 20 || n < hlen)
        return 1;
    uint8_t *seg = self->seg;
    unsigned ident = get16(p + 4);
    uint32_t seq0 = (uint32_t)get16(p + l4 + 4) << 16 | get16(p + l4 + 6);
    int flags = p[l4 + 13];
    size_t payload = n - hlen, offset = 0;
    unsigned i = 0;
    do {
        size_t len = payload - offset < mss ? payload - offset : mss;
        int last = offset + len >= payload;
        memcpy(seg, p, hlen);
        memcpy(seg + hlen, p + hlen + offset, len);
        if (v6) {
            put16(seg + 4, (unsigned)(hlen - 40 + len));
        } else {
            put16(seg + 2, (unsigned)(hlen + len));
            put16(seg + 4, (ident + i) & 0xFFFF);
            ip_checksum(seg, l4);
        }
        uint32_t seq = seq0 + (uint32_t)offset;
        put16(seg + l4 + 4, seq >> 16);
        put16(seg + l4 + 6, seq & 0xFFFF);
        int f = flags;
        if (!last)
            f &= ~(TCP_FIN | TCP_PSH);
        if (i > 0)
            f &= ~TCP_CWR;
        seg[l4 + 13] = (uint8_t)f;
        seg[l4 + 16] = seg[l4 + 17] = 0;
        uint64_t pseudo = v6 ? pseudo6_sum(seg, doff + len) : pseudo_sum(seg, 6, doff + len);
        uint16_t value = (uint16_t)~ones_fold(pseudo + ones_add(0, seg + l4, doff + len));
        put16(seg + l4 + 16, value ? value : 0xFFFF);
        if (outbound_one(self, flows, seg, (Py_ssize_t)(hlen + len), slow) < 0)
            return -1;
        offset += len;
        i += 1;
    } while (offset < payload);
    return 0;
}

/* One read of a TUN opened with IFF_VNET_HDR: the virtio_net_hdr, then a packet (its
 * checksum maybe partial) or a TCP/IPv4 super-segment. */
static int
outbound_frame(FastPathObject *self, PyObject *flows, uint8_t *frame, size_t n, PyObject *slow)
{
    if (n < VNET_HDR + 20) {
        self->counts[C_BAD_FRAME] += 1;
        return 0;
    }
    uint16_t gso_size, csum_start, csum_offset;
    memcpy(&gso_size, frame + 4, 2);
    memcpy(&csum_start, frame + 6, 2);
    memcpy(&csum_offset, frame + 8, 2);
    int flags = frame[0], gso = frame[1] & ~VNET_GSO_ECN;
    uint8_t *p = frame + VNET_HDR;
    n -= VNET_HDR;
    if (gso == VNET_GSO_TCPV4 || gso == VNET_GSO_TCPV6) {
        self->counts[C_SUPER_READS] += 1;
        int rc = segment_tcp(self, flows, p, n, gso_size, csum_start, gso == VNET_GSO_TCPV6,
                             slow);
        if (rc > 0)
            self->counts[C_BAD_FRAME] += 1;
        return rc < 0 ? -1 : 0;
    }
    if (gso != VNET_GSO_NONE) {
        self->counts[C_BAD_FRAME] += 1; /* not asked for (TUN_F_TSO4|TSO6|CSUM only) */
        return 0;
    }
    if ((flags & VNET_NEEDS_CSUM) && complete_checksum(p, n, csum_start, csum_offset) < 0) {
        self->counts[C_BAD_FRAME] += 1;
        return 0;
    }
    return outbound_one(self, flows, p, (Py_ssize_t)n, slow);
}

/* tun_burst(flows, limit) -> [packet, ...]: read up to ``limit`` times from the TUN; seal
 * and send the packets whose flow key ``flows`` (the gateway's outbound flow cache) maps to
 * an InstalledSa with a usable ``fast_out``; return the others, in order, for Python. */
static PyObject *
FastPath_tun_burst(FastPathObject *self, PyObject *args)
{
    PyObject *flows;
    int limit;
    if (!PyArg_ParseTuple(args, "O!i", &PyDict_Type, &flows, &limit))
        return NULL;
    PyObject *slow = PyList_New(0);
    if (slow == NULL)
        return NULL;
    for (int i = 0; i < limit; i++) {
        ssize_t n = read(self->tun_fd, self->buf, MAX_PACKET + VNET_HDR);
        if (n < 0) /* EAGAIN: drained; any other error: the next readiness tells again */
            break;
        int rc = self->vnet ? outbound_frame(self, flows, self->buf, (size_t)n, slow)
                            : outbound_one(self, flows, self->buf, n, slow);
        if (rc < 0) {
            flush_all(self);
            Py_DECREF(slow);
            return NULL;
        }
    }
    flush_all(self);
    return slow;
}

/* --------------------------------------------------------------------- TUN writes */

static const uint8_t vnet_zero[VNET_HDR];

static void
tun_write_plain(FastPathObject *self, const uint8_t *pkt, size_t n)
{
    ssize_t rc;
    if (self->vnet) {
        struct iovec iov[2] = {{(void *)vnet_zero, VNET_HDR}, {(void *)pkt, n}};
        rc = writev(self->tun_fd, iov, 2);
    } else {
        rc = write(self->tun_fd, pkt, n);
    }
    if (rc < 0)
        self->counts[C_TUN_WRITE] += 1;
}

/* Write the TCP segments gathered in ``gro`` as one GSO_TCPV4 packet (its checksum partial:
 * the kernel's receiver accepts it as the segments it was made of, each verified here). */
static void
gro_flush(FastPathObject *self)
{
    if (self->gro_count == 0)
        return;
    uint8_t *p = self->gro_buf;
    size_t n = self->gro_len, ihl = self->gro_l3;
    if (self->gro_count == 1) {
        tun_write_plain(self, p, n);
        self->gro_count = 0;
        return;
    }
    if (self->gro_psh)
        p[ihl + 13] |= TCP_PSH;
    if (ihl == 40) {
        put16(p + 4, (unsigned)(n - 40));
        put16(p + ihl + 16, ones_fold(pseudo6_sum(p, n - ihl)));
    } else {
        put16(p + 2, (unsigned)n);
        ip_checksum(p, ihl);
        put16(p + ihl + 16, ones_fold(pseudo_sum(p, 6, n - ihl)));
    }
    uint8_t hdr[VNET_HDR];
    uint16_t hdr_len = (uint16_t)self->gro_hlen, gso_size = (uint16_t)self->gro_mss;
    uint16_t csum_start = (uint16_t)ihl, csum_offset = 16;
    hdr[0] = VNET_NEEDS_CSUM;
    hdr[1] = ihl == 40 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
    memcpy(hdr + 2, &hdr_len, 2);
    memcpy(hdr + 4, &gso_size, 2);
    memcpy(hdr + 6, &csum_start, 2);
    memcpy(hdr + 8, &csum_offset, 2);
    struct iovec iov[2] = {{hdr, VNET_HDR}, {p, n}};
    if (writev(self->tun_fd, iov, 2) < 0)
        self->counts[C_TUN_WRITE] += self->gro_count;
    else
        self->counts[C_COALESCED] += self->gro_count;
    self->gro_count = 0;
}

/* Whether ``p`` (``n`` bytes) is a TCP/IPv4 data segment that may start or join a GSO
 * packet: no IP options, not a fragment, ACK with at most PSH besides, data, the lengths
 * consistent and the TCP checksum right. Its header length in ``*hlen``. */
static int
gro_candidate(const uint8_t *p, size_t n, size_t *hlen, size_t *l3)
{
    size_t ip;
    uint64_t pseudo;
    if (n >= 60 && p[0] >> 4 == 6 && p[6] == 6 && 40 + (size_t)get16(p + 4) == n) {
        ip = 40; /* IPv6 without extension headers */
        pseudo = pseudo6_sum(p, n - 40);
    } else if (n >= 40 && p[0] == 0x45 && p[9] == 6 && !(p[6] & 0x3F) && !p[7]
               && get16(p + 2) == n) {
        ip = 20;
        pseudo = pseudo_sum(p, 6, n - 20);
    } else {
        return 0;
    }
    size_t doff = (size_t)(p[ip + 12] >> 4) * 4;
    if (doff < 20 || ip + doff >= n)
        return 0;
    int flags = p[ip + 13];
    if (!(flags & TCP_ACK) || (flags & ~(TCP_ACK | TCP_PSH)))
        return 0;
    if (ones_fold(pseudo + ones_add(0, p + ip, n - ip)) != 0xFFFF)
        return 0;
    *hlen = ip + doff;
    *l3 = ip;
    return 1;
}

/* Hand one decrypted inner packet to the TUN: with vnet headers, consecutive segments of
 * one TCP flow are gathered into one GSO packet (as the kernel's GRO would), else as is. */
static void
tun_deliver(FastPathObject *self, const uint8_t *p, size_t n)
{
    if (!self->vnet) {
        tun_write_plain(self, p, n);
        return;
    }
    size_t hlen = 0, ip = 0;
    if (!gro_candidate(p, n, &hlen, &ip)) {
        gro_flush(self);
        tun_write_plain(self, p, n);
        return;
    }
    size_t len = n - hlen;
    if (self->gro_count > 0) {
        const uint8_t *g = self->gro_buf;
        const uint8_t *t = p + ip, *gt = g + ip; /* the TCP headers */
        uint32_t next = (uint32_t)get16(t + 4) << 16 | get16(t + 6);
        int same_ip = ip == 20 ? p[1] == g[1] && p[6] == g[6] && p[8] == g[8]
                                     && memcmp(p + 12, g + 12, 8) == 0 /* TOS, DF, TTL, addresses */
                               : memcmp(p, g, 4) == 0 && p[7] == g[7]
                                     && memcmp(p + 8, g + 8, 32) == 0; /* class, flow, hops */
        int joins = !self->gro_psh && self->gro_last_full && ip == self->gro_l3
                    && hlen == self->gro_hlen && len <= self->gro_mss
                    && next == self->gro_next_seq && self->gro_count < GRO_SEGMENTS
                    && self->gro_len + len <= 65535 && same_ip
                    && memcmp(t, gt, 4) == 0                        /* ports */
                    && memcmp(t + 8, gt + 8, 5) == 0                /* ack, data offset */
                    && memcmp(t + 14, gt + 14, 2) == 0              /* window */
                    && memcmp(t + 18, gt + 18, hlen - ip - 18) == 0; /* urgent, options */
        if (joins) {
            memcpy(self->gro_buf + self->gro_len, p + hlen, len);
            self->gro_len += len;
            self->gro_count += 1;
            self->gro_next_seq += (uint32_t)len;
            self->gro_last_full = len == self->gro_mss;
            if (t[13] & TCP_PSH)
                self->gro_psh = 1;
            return;
        }
        gro_flush(self);
    }
    memcpy(self->gro_buf, p, n);
    self->gro_len = n;
    self->gro_hlen = hlen;
    self->gro_l3 = ip;
    self->gro_mss = len;
    self->gro_count = 1;
    self->gro_last_full = 1;
    self->gro_psh = (p[ip + 13] & TCP_PSH) != 0;
    self->gro_next_seq = ((uint32_t)get16(p + ip + 4) << 16 | get16(p + ip + 6)) + (uint32_t)len;
}

static PyObject *
source_tuple(const struct sockaddr_in *from)
{
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &from->sin_addr, text, sizeof text);
    return Py_BuildValue("(si)", text, (int)ntohs(from->sin_port));
}

/* One ESP payload (SPI onwards) from ``from``: opened, checked and written to the TUN, or
 * appended to ``slow`` as (source, data) before any state changed, or as (source, inner,
 * installed) once decrypted and committed when only the inner packet's checks remain. */
static int
inbound_one(FastPathObject *self, PyObject *spis, PyObject *passed, const uint8_t *esp,
            Py_ssize_t n, const struct sockaddr_in *from, int udp, PyObject *slow)
{
    SaObject *sa = NULL;
    PyObject *installed = NULL;
    if (n >= 8) {
        uint32_t spi_n;
        memcpy(&spi_n, esp, 4);
        PyObject *spi = PyLong_FromUnsignedLong(ntohl(spi_n));
        PyObject *known = spi ? PyDict_GetItemWithError(spis, spi) : NULL;
        Py_XDECREF(spi);
        if (known != NULL && PyTuple_Check(known) && PyTuple_GET_SIZE(known) == 2) {
            installed = PyTuple_GET_ITEM(known, 1);
            sa = sa_of(installed, s_fast_in);
        }
        PyErr_Clear();
    }
    int usable = sa != NULL && sa->enabled && sa->peer == from->sin_addr.s_addr
                 && (!udp || !sa->udp || sa->peer_port == ntohs(from->sin_port));
    unsigned long long seq = 0;
    Py_ssize_t inner = -1;
    int next_header = 0;
    if (usable) {
        uint32_t seq_n;
        memcpy(&seq_n, esp + 4, 4);
        seq = ntohl(seq_n);
        usable = window_check(sa, seq);
    }
    if (usable) {
        inner = open_into(sa, esp, n, self->out, &next_header);
        /* an IPv4 or IPv6 inner packet whose own length fits; TFC padding after it is cut
         * (esp/packet.py's _strip_tfc); anything else is Python's to refuse */
        Py_ssize_t length = -1;
        if (inner >= 20 && next_header == 4 && self->out[0] >> 4 == 4)
            length = (Py_ssize_t)self->out[2] << 8 | self->out[3];
        else if (inner >= 40 && next_header == 41 && self->out[0] >> 4 == 6)
            length = 40 + ((Py_ssize_t)self->out[4] << 8 | self->out[5]);
        usable = length >= 20 && length <= inner;
        if (usable)
            inner = length;
        usable = usable && sa->bytes + (unsigned long long)inner < sa->byte_stop;
    }
    if (!usable) {
        Py_XDECREF(sa);
        PyObject *source = source_tuple(from);
        PyObject *item = source ? Py_BuildValue("(Ny#)", source, (const char *)esp, n) : NULL;
        int rc = item ? PyList_Append(slow, item) : -1;
        Py_XDECREF(item);
        return rc;
    }
    window_commit(sa, seq);
    sa->packets += 1;
    sa->bytes += (unsigned long long)inner;
    Py_DECREF(sa);
    self->counts[C_RECEIVED] += 1;
    uint8_t keybuf[FLOW_KEY_MAX];
    Py_ssize_t klen = flow_key(self->out, inner, keybuf);
    PyObject *owner = NULL;
    if (klen > 0) {
        PyObject *key = PyBytes_FromStringAndSize((const char *)keybuf, klen);
        owner = key ? PyDict_GetItemWithError(passed, key) : NULL;
        Py_XDECREF(key);
        PyErr_Clear();
    }
    if (owner != NULL && owner == installed) {
        tun_deliver(self, self->out, (size_t)inner);
        return 0;
    }
    PyObject *source = source_tuple(from);
    PyObject *item = source ? Py_BuildValue("(Ny#O)", source, (const char *)self->out, inner,
                                            installed)
                            : NULL;
    int rc = item ? PyList_Append(slow, item) : -1;
    Py_XDECREF(item);
    return rc;
}

/* udp_burst(fd, spis, passed, limit) -> [item, ...]: read UDP 4500 (GRO-coalesced reads
 * split by the cmsg's size); ESP of a known SA goes through ``inbound_one``; everything else
 * (IKE, keepalives, the rest) is returned as (source, datagram). */
static PyObject *
FastPath_udp_burst(FastPathObject *self, PyObject *args)
{
    int fd, limit;
    PyObject *spis, *passed;
    if (!PyArg_ParseTuple(args, "iO!O!i", &fd, &PyDict_Type, &spis, &PyDict_Type, &passed,
                          &limit))
        return NULL;
    PyObject *slow = PyList_New(0);
    if (slow == NULL)
        return NULL;
    int received = 0;
    while (received < limit) {
        struct sockaddr_in from;
        struct iovec iov = {self->buf, MAX_PACKET};
        char control[CMSG_SPACE(sizeof(int))];
        struct msghdr msg = {0};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof from;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = recvmsg(fd, &msg, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            received += 1; /* e.g. a queued ICMP error: the next read goes on */
            continue;
        }
        int size = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
            if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO
                && cm->cmsg_len >= CMSG_LEN(sizeof(int)))
                memcpy(&size, CMSG_DATA(cm), sizeof size);
        if (size <= 0 || size >= n)
            size = (int)n;
        for (ssize_t offset = 0; offset < n; offset += size) {
            ssize_t len = n - offset < size ? n - offset : size;
            const uint8_t *d = self->buf + offset;
            int esp = len >= 8 && ((uint32_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3]) > 255;
            int rc;
            if (esp) {
                rc = inbound_one(self, spis, passed, d, len, &from, 1, slow);
            } else {
                PyObject *source = source_tuple(&from);
                PyObject *item =
                    source ? Py_BuildValue("(Ny#)", source, (const char *)d, (Py_ssize_t)len)
                           : NULL;
                rc = item ? PyList_Append(slow, item) : -1;
                Py_XDECREF(item);
            }
            if (rc < 0) {
                gro_flush(self);
                Py_DECREF(slow);
                return NULL;
            }
            received += 1;
        }
    }
    gro_flush(self);
    return slow;
}

/* esp_burst(fd, spis, passed, limit) -> [item, ...]: the same for the raw ESP socket (each
 * read is an IPv4 packet; the ESP payload follows its header). */
static PyObject *
FastPath_esp_burst(FastPathObject *self, PyObject *args)
{
    int fd, limit;
    PyObject *spis, *passed;
    if (!PyArg_ParseTuple(args, "iO!O!i", &fd, &PyDict_Type, &spis, &PyDict_Type, &passed,
                          &limit))
        return NULL;
    PyObject *slow = PyList_New(0);
    if (slow == NULL)
        return NULL;
    if (self->rx == NULL) {
        self->rx = PyMem_Malloc(sizeof *self->rx);
        if (self->rx == NULL) {
            Py_DECREF(slow);
            return PyErr_NoMemory();
        }
    }
    RxBatch *rx = self->rx;
    int received = 0;
    while (received < limit) { /* recvmmsg: up to RX_BATCH packets per system call */
        int want = limit - received < RX_BATCH ? limit - received : RX_BATCH;
        for (int k = 0; k < want; k++) {
            rx->iov[k].iov_base = rx->buf[k];
            rx->iov[k].iov_len = sizeof rx->buf[k];
            memset(&rx->msgs[k], 0, sizeof rx->msgs[k]);
            rx->msgs[k].msg_hdr.msg_name = &rx->from[k];
            rx->msgs[k].msg_hdr.msg_namelen = sizeof rx->from[k];
            rx->msgs[k].msg_hdr.msg_iov = &rx->iov[k];
            rx->msgs[k].msg_hdr.msg_iovlen = 1;
        }
        int got = recvmmsg(fd, rx->msgs, (unsigned)want, MSG_DONTWAIT, NULL);
        if (got <= 0) {
            if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                received += 1; /* e.g. a queued error: the next call goes on */
                continue;
            }
            break;
        }
        received += got;
        for (int k = 0; k < got; k++) {
            ssize_t n = (ssize_t)rx->msgs[k].msg_len;
            const uint8_t *b = rx->buf[k];
            if (n < 20 || (rx->msgs[k].msg_hdr.msg_flags & MSG_TRUNC))
                continue;
            ssize_t ihl = (b[0] & 0x0F) * 4;
            if (ihl < 20 || ihl > n)
                continue;
            rx->from[k].sin_port = 0;
            if (inbound_one(self, spis, passed, b + ihl, n - ihl, &rx->from[k], 0, slow) < 0) {
                gro_flush(self);
                Py_DECREF(slow);
                return NULL;
            }
        }
    }
    gro_flush(self);
    return slow;
}

static PyObject *
FastPath_counts(FastPathObject *self, PyObject *unused)
{
    PyObject *d = PyDict_New();
    for (int i = 0; d != NULL && i < NCOUNTS; i++) {
        if (self->counts[i] == 0)
            continue;
        PyObject *v = PyLong_FromUnsignedLongLong(self->counts[i]);
        if (v == NULL || PyDict_SetItemString(d, count_names[i], v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static void
FastPath_dealloc(FastPathObject *self)
{
    PyMem_Free(self->rx);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef FastPath_methods[] = {
    {"add_local", (PyCFunction)FastPath_add_local, METH_VARARGS,
     "add_local(address, raw_fd, udp_fd): the sockets of one local address"},
    {"udp_df", (PyCFunction)FastPath_udp_df, METH_VARARGS,
     "udp_df(address, df): IP_MTU_DISCOVER of that address's UDP 4500 socket"},
    {"tun_burst", (PyCFunction)FastPath_tun_burst, METH_VARARGS, "outbound burst"},
    {"udp_burst", (PyCFunction)FastPath_udp_burst, METH_VARARGS, "UDP 4500 burst"},
    {"esp_burst", (PyCFunction)FastPath_esp_burst, METH_VARARGS, "raw ESP burst"},
    {"counts", (PyCFunction)FastPath_counts, METH_NOARGS, "the fast path's own counters"},
    {NULL},
};

static PyTypeObject FastPathType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tunnelgate.esp._fast.FastPath",
    .tp_basicsize = sizeof(FastPathObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The packet bursts of one gateway's I/O shell.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)FastPath_init,
    .tp_dealloc = (destructor)FastPath_dealloc,
    .tp_methods = FastPath_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tunnelgate.esp._fast",
    "The ESP fast path (AES-GCM through OpenSSL EVP) of the gateway daemon.", -1, NULL,
};

PyMODINIT_FUNC
PyInit__fast(void)
{
    if (PyType_Ready(&SaType) < 0 || PyType_Ready(&FastPathType) < 0)
        return NULL;
    s_fast_out = PyUnicode_InternFromString("fast_out");
    s_fast_in = PyUnicode_InternFromString("fast_in");
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&SaType);
    Py_INCREF(&FastPathType);
    if (PyModule_AddObject(m, "Sa", (PyObject *)&SaType) < 0
        || PyModule_AddObject(m, "FastPath", (PyObject *)&FastPathType) < 0)
        return NULL;
    return m;
}
