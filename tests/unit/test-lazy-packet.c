/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BLAKE2s against published and independently computed vectors, and the
 * classifier of the lazy activity socket against a handshake initiation
 * whose mac1 was computed outside this code base.
 *
 * The expected values below come from RFC 7693 appendix B ("abc") and from
 * CPython's hashlib.blake2s (data[i] = i & 0xff, key[i] = i), e.g.
 *   hashlib.blake2s(bytes(range(65)), key=bytes(range(32))).hexdigest()
 * so none of them can pass by construction.
 */
#include "config.h"

#include <string.h>

#include "wgm-blake2s.h"
#include "wgm-lazy-packet.h"

static void
unhex(const char *hex, guint8 *out, gsize len)
{
    g_assert_cmpuint(strlen(hex), ==, 2 * len);
    for (gsize i = 0; i < len; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]);
        int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

        g_assert(hi >= 0 && lo >= 0);
        out[i] = (guint8)(hi << 4 | lo);
    }
}

static void
fill_pattern(guint8 *buf, gsize len)
{
    for (gsize i = 0; i < len; i++)
        buf[i] = (guint8)i;
}

/* RFC 7693 appendix B: BLAKE2s-256("abc"). */
static void
test_blake2s_rfc7693(void)
{
    static const guint8 expect[32] = {
        0x50, 0x8C, 0x5E, 0x8C, 0x32, 0x7C, 0x14, 0xE2, 0xE1, 0xA7, 0x2B,
        0xA3, 0x4E, 0xEB, 0x45, 0x2F, 0x37, 0x45, 0x8B, 0x20, 0x9E, 0xD6,
        0x3A, 0x29, 0x4D, 0x99, 0x9B, 0x4C, 0x86, 0x67, 0x59, 0x82,
    };
    guint8 out[32];

    wgm_blake2s(out, sizeof(out), NULL, 0, "abc", 3);
    g_assert_cmpmem(out, sizeof(out), expect, sizeof(expect));
}

typedef struct {
    gsize       keylen; /* key[i] = i; 0: unkeyed */
    gsize       outlen;
    gsize       len; /* data[i] = i & 0xff */
    const char *hex;
} Vector;

/* Lengths around the 64-byte block: a message that fills its last block
 * exactly must not be compressed before final sets the last-block flag. */
static const Vector vectors[] = {
    { 32, 32, 0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49" },
    { 32, 32, 1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1" },
    { 32, 32, 63, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd" },
    { 32, 32, 64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4" },
    { 32, 32, 65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8" },
    { 32, 32, 128, "0c311f38c35a4fb90d651c289d486856cd1413df9b0677f53ece2cd9e477c60a" },
    { 32, 32, 255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd" },
    { 0, 32, 0, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9" },
    { 0, 32, 1, "e34d74dbaf4ff4c6abd871cc220451d2ea2648846c7757fbaac82fe51ad64bea" },
    { 0, 32, 63, "e57cb79487dd57902432b250733813bd96a84efce59f650fac26e6696aefafc3" },
    { 0, 32, 64, "56f34e8b96557e90c1f24b52d0c89d51086acf1b00f634cf1dde9233b8eaaa3e" },
    { 0, 32, 65, "1b53ee94aaf34e4b159d48de352c7f0661d0a40edff95a0b1639b4090e974472" },
    { 0, 32, 128, "1fa877de67259d19863a2a34bcc6962a2b25fcbf5cbecd7ede8f1fa36688a796" },
    { 0, 32, 255, "f03f5789d3336b80d002d59fdf918bdb775b00956ed5528e86aa994acb38fe2d" },
    /* Other key and digest lengths: both go into the parameter block. */
    { 1, 16, 100, "dfa8075fcbac70143eeb7c6d02ee610a" },
    { 17, 1, 64, "e7" },
    { 32, 16, 116, "072e94ffbfc684bd8ab2a1b9dade2fd5" },
    { 5, 20, 1000, "a2fd76fb1293ef6c90387bf4628535ba54b11d5d" },
};

static void
test_blake2s_vectors(void)
{
    guint8 key[32], data[1000];

    fill_pattern(key, sizeof(key));
    fill_pattern(data, sizeof(data));
    for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
        const Vector *v = &vectors[i];
        guint8        expect[32], out[32];

        g_test_message("key %" G_GSIZE_FORMAT ", out %" G_GSIZE_FORMAT ", len %" G_GSIZE_FORMAT,
                       v->keylen,
                       v->outlen,
                       v->len);
        unhex(v->hex, expect, v->outlen);
        memset(out, 0xaa, sizeof(out));
        wgm_blake2s(out, v->outlen, v->keylen ? key : NULL, v->keylen, data, v->len);
        g_assert_cmpmem(out, v->outlen, expect, v->outlen);
        /* Not a byte more than asked for. */
        for (gsize j = v->outlen; j < sizeof(out); j++)
            g_assert_cmpuint(out[j], ==, 0xaa);
    }
}

/* Where the input is cut must not matter, nor do empty updates. */
static void
test_blake2s_incremental(void)
{
    static const gsize chunks[] = { 1, 3, 0, 5, 7, 13, 31, 63, 64, 65, 2 };
    guint8             key[32], data[1000];

    fill_pattern(key, sizeof(key));
    fill_pattern(data, sizeof(data));
    for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
        const Vector *v = &vectors[i];

        for (guint start = 0; start < G_N_ELEMENTS(chunks); start++) {
            WgmBlake2s s;
            guint8     expect[32], out[32];
            gsize      pos = 0;
            guint      c   = start;

            unhex(v->hex, expect, v->outlen);
            wgm_blake2s_init(&s, v->outlen, v->keylen ? key : NULL, v->keylen);
            while (pos < v->len) {
                gsize n = MIN(chunks[c % G_N_ELEMENTS(chunks)], v->len - pos);

                wgm_blake2s_update(&s, data + pos, n);
                pos += n;
                c++;
            }
            wgm_blake2s_final(&s, out);
            g_assert_cmpmem(out, v->outlen, expect, v->outlen);
        }
    }
}

static void
test_blake2s_final_wipes(void)
{
    static const guint8 zero[sizeof(WgmBlake2s)] = { 0 };
    guint8              key[32], out[32];
    WgmBlake2s          s;

    fill_pattern(key, sizeof(key));
    wgm_blake2s_init(&s, 32, key, sizeof(key));
    wgm_blake2s_update(&s, "abc", 3);
    wgm_blake2s_final(&s, out);
    g_assert_cmpmem(&s, sizeof(s), zero, sizeof(zero));
}

/*
 * A handshake initiation as WireGuard would send it to peer A.  The mac1
 * construction is the one wireguard-go uses (device/cookie.go:
 * mac1 key = BLAKE2s-256("mac1----" || responder public key), mac1 =
 * BLAKE2s-128 keyed with it over the first 116 bytes), computed in Python:
 *   ka   = hashlib.blake2s(b"mac1----" + pk_a).digest()
 *   mac1 = hashlib.blake2s(pkt[:116], key=ka, digest_size=16).digest()
 * The body is random bytes (random.Random(20240601)); mac2 is zero, as it is
 * when no cookie is in force.  tests/fuzz/corpus-lazy-packet/initiation.bin
 * holds the same 148 bytes.
 */
static const char pk_a_hex[] = "3ce9d7f38479d9a267dec127b6d495ac194180409e26bd8517d36bec19f3869c";
static const char pk_b_hex[] = "682c884673afcf1bd4944a903680a0dd09216a74c1d4f064a32fda747e8dc5d7";
static const char ka_hex[]   = "89ecc3d74ed416f5cff01f49ce6eb1b1da4e6edb1a0cc21e3bdd6f5009654415";
static const char kb_hex[]   = "e5d6801e19fbcb0ffe73362c1915c03b779a4b0b9433cef0dbb67aa1de4eabe3";
static const char initiation_hex[] =
    "01000000fac55a4d21a8c2d381af6c5ec6815c74c549eda5fa2db9ce651ccb8aace29aee"
    "3806108efa44172e2be8296aecbab1ba4449c608fc3af169b406a1a363f02a3c754dcb97"
    "a833bfa11c4be258b632127030533a5ec7929971bdea52a50e557ed95ac96c879ec82691"
    "b8e3b7d49c6fffe41cfc961bce9c2e4d4ec15019b231c521000000000000000000000000"
    "00000000";

static void
load_initiation(guint8 pkt[WGM_LAZY_INITIATION_LEN])
{
    unhex(initiation_hex, pkt, WGM_LAZY_INITIATION_LEN);
}

static void
test_mac1_key(void)
{
    WgmKey pk_a, pk_b;
    guint8 expect[WGM_LAZY_MAC1_KEY_LEN], key[WGM_LAZY_MAC1_KEY_LEN];

    unhex(pk_a_hex, pk_a.bytes, WGM_KEY_LEN);
    unhex(pk_b_hex, pk_b.bytes, WGM_KEY_LEN);

    unhex(ka_hex, expect, sizeof(expect));
    wgm_lazy_mac1_key(&pk_a, key);
    g_assert_cmpmem(key, sizeof(key), expect, sizeof(expect));

    unhex(kb_hex, expect, sizeof(expect));
    wgm_lazy_mac1_key(&pk_b, key);
    g_assert_cmpmem(key, sizeof(key), expect, sizeof(expect));
}

static void
test_classify_valid(void)
{
    guint8 pkt[WGM_LAZY_INITIATION_LEN], ka[WGM_LAZY_MAC1_KEY_LEN];
    WgmKey pk_a;

    load_initiation(pkt);
    unhex(pk_a_hex, pk_a.bytes, WGM_KEY_LEN);
    wgm_lazy_mac1_key(&pk_a, ka);
    g_assert_cmpint(wgm_lazy_packet_classify(pkt, sizeof(pkt), ka), ==, WGM_LAZY_PACKET_INITIATION);

    /* mac2 is not covered by mac1 (it changes with cookies). */
    pkt[WGM_LAZY_MAC1_OFFSET + WGM_LAZY_MAC1_LEN] ^= 0x01;
    pkt[WGM_LAZY_INITIATION_LEN - 1] ^= 0x80;
    g_assert_cmpint(wgm_lazy_packet_classify(pkt, sizeof(pkt), ka), ==, WGM_LAZY_PACKET_INITIATION);
}

static void
test_classify_bad_mac1(void)
{
    guint8 pkt[WGM_LAZY_INITIATION_LEN], ka[WGM_LAZY_MAC1_KEY_LEN], kb[WGM_LAZY_MAC1_KEY_LEN];

    load_initiation(pkt);
    unhex(ka_hex, ka, sizeof(ka));
    unhex(kb_hex, kb, sizeof(kb));

    /* Meant for A, arrived at B's address. */
    g_assert_cmpint(wgm_lazy_packet_classify(pkt, sizeof(pkt), kb), ==, WGM_LAZY_PACKET_BAD_MAC1);

    /* Every single bit of mac1, and every bit of the body it covers
     * (except the type word, which is checked first). */
    for (guint bit = 4 * 8; bit < (WGM_LAZY_MAC1_OFFSET + WGM_LAZY_MAC1_LEN) * 8; bit++) {
        pkt[bit / 8] ^= 1u << (bit % 8);
        g_assert_cmpint(
            wgm_lazy_packet_classify(pkt, sizeof(pkt), ka), ==, WGM_LAZY_PACKET_BAD_MAC1);
        pkt[bit / 8] ^= 1u << (bit % 8);
    }
    g_assert_cmpint(wgm_lazy_packet_classify(pkt, sizeof(pkt), ka), ==, WGM_LAZY_PACKET_INITIATION);

    /* An all-zero mac1 is no wildcard. */
    memset(pkt + WGM_LAZY_MAC1_OFFSET, 0, WGM_LAZY_MAC1_LEN);
    g_assert_cmpint(wgm_lazy_packet_classify(pkt, sizeof(pkt), ka), ==, WGM_LAZY_PACKET_BAD_MAC1);
}

static void
test_classify_wrong_size(void)
{
    static const gsize sizes[] = { 1, 4, 116, 132, 147, 149, 1500 };
    guint8             ka[WGM_LAZY_MAC1_KEY_LEN];
    g_autofree guint8 *buf = g_malloc0(1500);

    unhex(ka_hex, ka, sizeof(ka));
    g_assert_cmpint(wgm_lazy_packet_classify(NULL, 0, ka), ==, WGM_LAZY_PACKET_WRONG_SIZE);
    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        /* A valid initiation at the front, the size alone is wrong; the
         * copy is exactly @len bytes so ASan sees any over-read. */
        g_autofree guint8 *exact = NULL;

        load_initiation(buf);
        exact = g_memdup2(buf, sizes[i]);
        g_assert_cmpint(
            wgm_lazy_packet_classify(exact, sizes[i], ka), ==, WGM_LAZY_PACKET_WRONG_SIZE);
    }
}

static void
test_classify_wrong_type(void)
{
    guint8 pkt[WGM_LAZY_INITIATION_LEN], ka[WGM_LAZY_MAC1_KEY_LEN];

    unhex(ka_hex, ka, sizeof(ka));

    /* Response (2), cookie reply (3), transport data (4), and nonsense. */
    for (guint type = 0; type <= 255; type++) {
        if (type == 1)
            continue;
        load_initiation(pkt);
        pkt[0] = (guint8)type;
        g_assert_cmpint(
            wgm_lazy_packet_classify(pkt, sizeof(pkt), ka), ==, WGM_LAZY_PACKET_WRONG_TYPE);
    }
    for (guint i = 1; i <= 3; i++) {
        load_initiation(pkt);
        pkt[i] = 0x01;
        g_assert_cmpint(
            wgm_lazy_packet_classify(pkt, sizeof(pkt), ka), ==, WGM_LAZY_PACKET_WRONG_TYPE);
    }
}

/* Only the interface's own socket counts: loopback, its listen port. */
static void
test_source(void)
{
    g_assert_true(wgm_lazy_packet_source_ok(0x7f000001, 51820, 51820));  /* 127.0.0.1 */
    g_assert_true(wgm_lazy_packet_source_ok(0x7f4d0001, 51820, 51820));  /* 127.77.0.1 */
    g_assert_false(wgm_lazy_packet_source_ok(0x7f000001, 51821, 51820)); /* another port */
    g_assert_false(wgm_lazy_packet_source_ok(0x7f000001, 40000, 51820));
    g_assert_false(wgm_lazy_packet_source_ok(0x0a000001, 51820, 51820)); /* 10.0.0.1 */
    g_assert_false(wgm_lazy_packet_source_ok(0x80000001, 51820, 51820)); /* 128.0.0.1 */
    g_assert_false(wgm_lazy_packet_source_ok(0x7f000001, 0, 0));         /* port not known */
    g_assert_false(wgm_lazy_packet_source_ok(0x7f000001, 51820, 0));
}

static void
test_verdict_strings(void)
{
    g_assert_cmpstr(wgm_lazy_verdict_to_string(WGM_LAZY_PACKET_INITIATION), ==, "initiation");
    g_assert_cmpstr(wgm_lazy_verdict_to_string(WGM_LAZY_PACKET_WRONG_SIZE), ==, "wrong size");
    g_assert_cmpstr(wgm_lazy_verdict_to_string(WGM_LAZY_PACKET_WRONG_TYPE), ==, "wrong type");
    g_assert_cmpstr(wgm_lazy_verdict_to_string(WGM_LAZY_PACKET_BAD_MAC1), ==, "bad mac1");
    g_assert_cmpstr(wgm_lazy_verdict_to_string(WGM_LAZY_PACKET_WRONG_SOURCE), ==, "wrong source");
    g_assert_cmpstr(wgm_lazy_verdict_to_string(WGM_LAZY_PACKET_UNKNOWN_PEER), ==, "unknown peer");
    g_assert_cmpstr(wgm_lazy_verdict_to_string(WGM_LAZY_PACKET_N_VERDICTS), ==, "unknown");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/blake2s/rfc7693", test_blake2s_rfc7693);
    g_test_add_func("/blake2s/vectors", test_blake2s_vectors);
    g_test_add_func("/blake2s/incremental", test_blake2s_incremental);
    g_test_add_func("/blake2s/final-wipes", test_blake2s_final_wipes);
    g_test_add_func("/lazy-packet/mac1-key", test_mac1_key);
    g_test_add_func("/lazy-packet/valid", test_classify_valid);
    g_test_add_func("/lazy-packet/source", test_source);
    g_test_add_func("/lazy-packet/bad-mac1", test_classify_bad_mac1);
    g_test_add_func("/lazy-packet/wrong-size", test_classify_wrong_size);
    g_test_add_func("/lazy-packet/wrong-type", test_classify_wrong_type);
    g_test_add_func("/lazy-packet/verdict-strings", test_verdict_strings);

    return g_test_run();
}
