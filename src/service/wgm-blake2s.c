/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BLAKE2s written from RFC 7693: 32-bit words, 10 rounds, rotations
 * 16/12/8/7, a 64-byte block, the same IV as SHA-256.
 */
#include "config.h"

#include "wgm-blake2s.h"

#include <string.h>

#include "wgm-key.h"

/* RFC 7693 section 2.6: the SHA-256 IV. */
static const guint32 blake2s_iv[8] = {
    0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
};

/* RFC 7693 section 2.7: message word schedule; BLAKE2s uses rows 0..9. */
static const guint8 blake2s_sigma[10][16] = {
    { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
    { 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
    { 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
    { 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
    { 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
    { 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
    { 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
    { 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
    { 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
    { 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
};

static inline guint32
rotr32(guint32 x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static inline guint32
load32_le(const guint8 *p)
{
    return (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) | ((guint32)p[3] << 24);
}

/* RFC 7693 section 3.1: the mixing function G. */
#define G(a, b, c, d, x, y)             \
    do {                                \
        v[a] = v[a] + v[b] + (x);       \
        v[d] = rotr32(v[d] ^ v[a], 16); \
        v[c] = v[c] + v[d];             \
        v[b] = rotr32(v[b] ^ v[c], 12); \
        v[a] = v[a] + v[b] + (y);       \
        v[d] = rotr32(v[d] ^ v[a], 8);  \
        v[c] = v[c] + v[d];             \
        v[b] = rotr32(v[b] ^ v[c], 7);  \
    } while (0)

/* RFC 7693 section 3.2: the compression function F on the block in s->buf,
 * with the counter already advanced past it. */
static void
blake2s_compress(WgmBlake2s *s, gboolean last)
{
    guint32 v[16];
    guint32 m[16];
    guint   i;

    for (i = 0; i < 16; i++)
        m[i] = load32_le(s->buf + 4 * i);
    for (i = 0; i < 8; i++) {
        v[i]     = s->h[i];
        v[i + 8] = blake2s_iv[i];
    }
    v[12] ^= s->t[0];
    v[13] ^= s->t[1];
    if (last)
        v[14] = ~v[14];

    for (i = 0; i < 10; i++) {
        const guint8 *sg = blake2s_sigma[i];

        G(0, 4, 8, 12, m[sg[0]], m[sg[1]]);
        G(1, 5, 9, 13, m[sg[2]], m[sg[3]]);
        G(2, 6, 10, 14, m[sg[4]], m[sg[5]]);
        G(3, 7, 11, 15, m[sg[6]], m[sg[7]]);
        G(0, 5, 10, 15, m[sg[8]], m[sg[9]]);
        G(1, 6, 11, 12, m[sg[10]], m[sg[11]]);
        G(2, 7, 8, 13, m[sg[12]], m[sg[13]]);
        G(3, 4, 9, 14, m[sg[14]], m[sg[15]]);
    }
    for (i = 0; i < 8; i++)
        s->h[i] ^= v[i] ^ v[i + 8];

    wgm_memzero(v, sizeof(v));
    wgm_memzero(m, sizeof(m));
}

#undef G

/* The byte counter t is 64 bits over two words (RFC 7693 section 2.3). */
static void
blake2s_add_counter(WgmBlake2s *s, guint32 n)
{
    s->t[0] += n;
    if (s->t[0] < n)
        s->t[1]++;
}

void
wgm_blake2s_init(WgmBlake2s *s, gsize outlen, const guint8 *key, gsize keylen)
{
    g_return_if_fail(s);
    /* Zeroed first: after a failed check, final writes nothing (outlen 0). */
    memset(s, 0, sizeof(*s));
    g_return_if_fail(outlen >= 1 && outlen <= WGM_BLAKE2S_OUT_MAX);
    g_return_if_fail(key ? keylen >= 1 && keylen <= WGM_BLAKE2S_KEY_MAX : keylen == 0);

    memcpy(s->h, blake2s_iv, sizeof(s->h));
    /* Parameter block word 0: digest length, key length, fanout 1, depth 1. */
    s->h[0] ^= 0x01010000u ^ ((guint32)keylen << 8) ^ (guint32)outlen;
    s->outlen = outlen;

    /* A key is the first block, zero padded (RFC 7693 section 3.3). */
    if (keylen > 0) {
        memcpy(s->buf, key, keylen);
        s->buflen = WGM_BLAKE2S_BLOCK_LEN;
    }
}

void
wgm_blake2s_update(WgmBlake2s *s, const void *in, gsize len)
{
    const guint8 *p = in;

    g_return_if_fail(s);
    g_return_if_fail(in || len == 0);

    while (len > 0) {
        gsize n;

        /* A full buffer is compressed only once more input follows: the
         * last block, even a full one, must go through final with the
         * finalization flag set. */
        if (s->buflen == WGM_BLAKE2S_BLOCK_LEN) {
            blake2s_add_counter(s, WGM_BLAKE2S_BLOCK_LEN);
            blake2s_compress(s, FALSE);
            s->buflen = 0;
        }
        n = MIN(len, WGM_BLAKE2S_BLOCK_LEN - s->buflen);
        memcpy(s->buf + s->buflen, p, n);
        s->buflen += n;
        p += n;
        len -= n;
    }
}

void
wgm_blake2s_final(WgmBlake2s *s, guint8 *out)
{
    guint8 digest[WGM_BLAKE2S_OUT_MAX];
    guint  i;

    g_return_if_fail(s);
    g_return_if_fail(out);

    blake2s_add_counter(s, (guint32)s->buflen);
    memset(s->buf + s->buflen, 0, WGM_BLAKE2S_BLOCK_LEN - s->buflen);
    blake2s_compress(s, TRUE);

    for (i = 0; i < 8; i++) {
        digest[4 * i]     = (guint8)s->h[i];
        digest[4 * i + 1] = (guint8)(s->h[i] >> 8);
        digest[4 * i + 2] = (guint8)(s->h[i] >> 16);
        digest[4 * i + 3] = (guint8)(s->h[i] >> 24);
    }
    memcpy(out, digest, s->outlen);

    wgm_memzero(digest, sizeof(digest));
    wgm_memzero(s, sizeof(*s));
}

void
wgm_blake2s(guint8 *out, gsize outlen, const guint8 *key, gsize keylen, const void *in, gsize len)
{
    WgmBlake2s s;

    wgm_blake2s_init(&s, outlen, key, keylen);
    wgm_blake2s_update(&s, in, len);
    wgm_blake2s_final(&s, out);
}
