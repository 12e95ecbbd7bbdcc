/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzzes what the lazy activity socket does with a datagram, and the pool
 * of loopback addresses.
 *
 * Input: a datagram, e.g. the handshake initiations in corpus-lazy-packet/
 * (initiation.bin is valid for PEER_KEY_HEX, the peer A of
 * tests/unit/test-lazy-packet.c).  It is classified against that peer's mac1
 * key; the verdict must follow from its size and type alone, and patched
 * into an initiation with the right mac1 (or one bit off) it must be told
 * apart.  BLAKE2s over the input in chunks drawn from it must equal the
 * one-shot hash.  Then the same bytes are read as pool operations
 * (alloc, release, reserve) checked against a plain model of the pool.
 * Whatever the input: no crash, no leak, no over-read.
 */
#include <string.h>

#include "wgm-blake2s.h"
#include "wgm-error.h"
#include "wgm-lazy-packet.h"
#include "wgm-lazy-pool.h"

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

#define PEER_KEY_HEX "3ce9d7f38479d9a267dec127b6d495ac194180409e26bd8517d36bec19f3869c"

/* Small, across /24 boundaries, with .0 and .255 inside. */
#define POOL_FIRST 0x7f0100fau /* 127.1.0.250 */
#define POOL_LAST  0x7f010305u /* 127.1.3.5 */
#define POOL_BITS  (POOL_LAST - POOL_FIRST + 1)

enum { FREE, ALLOCATED, RESERVED };

static const guint8 *
peer_mac1_key(void)
{
    static guint8 key[WGM_LAZY_MAC1_KEY_LEN];
    static gsize  done = 0;

    if (g_once_init_enter(&done)) {
        WgmKey pk;

        gboolean ok = wgm_key_from_hex(PEER_KEY_HEX, strlen(PEER_KEY_HEX), &pk);

        g_assert(ok);
        wgm_lazy_mac1_key(&pk, key);
        g_once_init_leave(&done, 1);
    }
    return key;
}

static void
fuzz_classify(const guint8 *data, size_t size)
{
    const guint8  *key = peer_mac1_key();
    WgmLazyVerdict verdict;
    guint8         pkt[WGM_LAZY_INITIATION_LEN];
    guint          bit;

    verdict = wgm_lazy_packet_classify(data, size, key);
    wgm_lazy_verdict_to_string(verdict);
    if (size != WGM_LAZY_INITIATION_LEN)
        g_assert_cmpint(verdict, ==, WGM_LAZY_PACKET_WRONG_SIZE);
    else if (data[0] != 1 || data[1] != 0 || data[2] != 0 || data[3] != 0)
        g_assert_cmpint(verdict, ==, WGM_LAZY_PACKET_WRONG_TYPE);
    else
        g_assert(verdict == WGM_LAZY_PACKET_INITIATION || verdict == WGM_LAZY_PACKET_BAD_MAC1);

    /* The input made into an initiation for the peer: accepted; with one
     * bit of mac1 wrong: refused. */
    memset(pkt, 0, sizeof(pkt));
    if (size > 0)
        memcpy(pkt, data, MIN(size, sizeof(pkt)));
    pkt[0] = 1;
    pkt[1] = pkt[2] = pkt[3] = 0;
    wgm_blake2s(pkt + WGM_LAZY_MAC1_OFFSET,
                WGM_LAZY_MAC1_LEN,
                key,
                WGM_LAZY_MAC1_KEY_LEN,
                pkt,
                WGM_LAZY_MAC1_OFFSET);
    g_assert_cmpint(
        wgm_lazy_packet_classify(pkt, sizeof(pkt), key), ==, WGM_LAZY_PACKET_INITIATION);
    bit = size > 0 ? data[size - 1] % (WGM_LAZY_MAC1_LEN * 8) : 0;
    pkt[WGM_LAZY_MAC1_OFFSET + bit / 8] ^= 1u << (bit % 8);
    g_assert_cmpint(wgm_lazy_packet_classify(pkt, sizeof(pkt), key), ==, WGM_LAZY_PACKET_BAD_MAC1);
}

/* Keyed with the input's first bytes, outlen and chunk sizes from it. */
static void
fuzz_blake2s(const guint8 *data, size_t size)
{
    guint8     whole[WGM_BLAKE2S_OUT_MAX], chunked[WGM_BLAKE2S_OUT_MAX];
    gsize      keylen = size > 0 ? data[0] % (WGM_BLAKE2S_KEY_MAX + 1) : 0;
    gsize      outlen = size > 1 ? 1 + data[1] % WGM_BLAKE2S_OUT_MAX : WGM_BLAKE2S_OUT_MAX;
    WgmBlake2s s;
    gsize      pos = 0;

    keylen = MIN(keylen, size);
    wgm_blake2s(whole, outlen, keylen ? data : NULL, keylen, data, size);

    wgm_blake2s_init(&s, outlen, keylen ? data : NULL, keylen);
    while (pos < size) {
        gsize n = MIN(size - pos, (gsize)(1 + data[pos] % 130));

        wgm_blake2s_update(&s, data + pos, n);
        pos += n;
    }
    wgm_blake2s_final(&s, chunked);
    g_assert(memcmp(whole, chunked, outlen) == 0);
}

static gboolean
usable(guint i)
{
    guint8 octet = (POOL_FIRST + i) & 0xff;

    return octet != 0 && octet != 255;
}

/* Each op is one byte: the low two bits say what, the rest (with the next
 * byte) where. */
static void
fuzz_pool(const guint8 *data, size_t size)
{
    g_autoptr(WgmLazyPool) pool = wgm_lazy_pool_new(POOL_FIRST, POOL_LAST);
    guint8 model[POOL_BITS]     = { FREE };
    guint  n_used = 0, n_usable = 0;

    for (guint i = 0; i < POOL_BITS; i++)
        n_usable += usable(i);
    g_assert_cmpuint(wgm_lazy_pool_get_size(pool), ==, n_usable);

    for (size_t pos = 0; pos < size; pos++) {
        guint8 op    = data[pos] & 3;
        guint  where = (data[pos] >> 2) | (pos + 1 < size ? data[pos + 1] << 6 : 0);
        /* Some outside the range, most inside. */
        guint32 addr            = POOL_FIRST - 8 + where % (POOL_BITS + 16);
        g_autoptr(GError) error = NULL;

        switch (op) {
        case 0:
        case 1: {
            guint    lowest = 0;
            gboolean ok;

            while (lowest < POOL_BITS && (model[lowest] != FREE || !usable(lowest)))
                lowest++;
            ok = wgm_lazy_pool_alloc(pool, &addr, &error);
            if (lowest == POOL_BITS) {
                g_assert(!ok);
                g_assert_error(error, WGM_ERROR, WGM_ERROR_FAILED);
            } else {
                g_assert(ok);
                g_assert_no_error(error);
                g_assert_cmphex(addr, ==, POOL_FIRST + lowest);
                model[lowest] = ALLOCATED;
                n_used++;
            }
            break;
        }
        case 2:
            wgm_lazy_pool_release(pool, addr);
            if (addr >= POOL_FIRST && addr <= POOL_LAST && model[addr - POOL_FIRST] != FREE) {
                model[addr - POOL_FIRST] = FREE;
                n_used--;
            }
            pos++;
            break;
        case 3: {
            gboolean in  = addr >= POOL_FIRST && addr <= POOL_LAST && usable(addr - POOL_FIRST);
            gboolean ok  = wgm_lazy_pool_reserve(pool, addr, &error);
            gboolean was = in && model[addr - POOL_FIRST] != FREE;

            g_assert(ok == !was);
            if (was)
                g_assert_error(error, WGM_ERROR, WGM_ERROR_FAILED);
            if (in && !was) {
                model[addr - POOL_FIRST] = RESERVED;
                n_used++;
            }
            pos++;
            break;
        }
        }
        g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, n_used);
    }
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    fuzz_classify(data, size);
    fuzz_blake2s(data, size);
    fuzz_pool(data, size);
    return 0;
}
