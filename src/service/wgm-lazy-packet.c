/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-lazy-packet.h"

#include "wgm-blake2s.h"

/* The label WireGuard hashes in front of the responder's public key
 * (whitepaper section 5.4.4; wireguard-go device/cookie.go, WGLabelMAC1). */
#define MAC1_LABEL     "mac1----"
#define MAC1_LABEL_LEN 8

static const char *const verdict_names[WGM_LAZY_PACKET_N_VERDICTS] = {
    [WGM_LAZY_PACKET_INITIATION]   = "initiation",
    [WGM_LAZY_PACKET_WRONG_SIZE]   = "wrong size",
    [WGM_LAZY_PACKET_WRONG_TYPE]   = "wrong type",
    [WGM_LAZY_PACKET_BAD_MAC1]     = "bad mac1",
    [WGM_LAZY_PACKET_WRONG_SOURCE] = "wrong source",
    [WGM_LAZY_PACKET_UNKNOWN_PEER] = "unknown peer",
};

const char *
wgm_lazy_verdict_to_string(WgmLazyVerdict verdict)
{
    if ((guint)verdict >= WGM_LAZY_PACKET_N_VERDICTS)
        return "unknown";
    return verdict_names[verdict];
}

void
wgm_lazy_mac1_key(const WgmKey *peer_public_key, guint8 key[WGM_LAZY_MAC1_KEY_LEN])
{
    WgmBlake2s s;

    g_return_if_fail(peer_public_key);
    g_return_if_fail(key);

    wgm_blake2s_init(&s, WGM_LAZY_MAC1_KEY_LEN, NULL, 0);
    wgm_blake2s_update(&s, MAC1_LABEL, MAC1_LABEL_LEN);
    wgm_blake2s_update(&s, peer_public_key->bytes, WGM_KEY_LEN);
    wgm_blake2s_final(&s, key);
}

WgmLazyVerdict
wgm_lazy_packet_classify(const guint8 *data,
                         gsize         len,
                         const guint8  mac1_key[WGM_LAZY_MAC1_KEY_LEN])
{
    guint8          mac1[WGM_LAZY_MAC1_LEN];
    volatile guint8 diff = 0; /* keeps the compiler from ending the loop early */
    guint           i;

    g_return_val_if_fail(data || len == 0, WGM_LAZY_PACKET_WRONG_SIZE);
    g_return_val_if_fail(mac1_key, WGM_LAZY_PACKET_BAD_MAC1);

    if (len != WGM_LAZY_INITIATION_LEN)
        return WGM_LAZY_PACKET_WRONG_SIZE;
    /* Message type 1 (handshake initiation) as a little-endian 32-bit
     * word: the three reserved bytes must be zero. */
    if (data[0] != 1 || data[1] != 0 || data[2] != 0 || data[3] != 0)
        return WGM_LAZY_PACKET_WRONG_TYPE;

    wgm_blake2s(mac1, sizeof(mac1), mac1_key, WGM_LAZY_MAC1_KEY_LEN, data, WGM_LAZY_MAC1_OFFSET);
    /* Constant time, like WireGuard's own check: how much of a forged
     * mac1 was right must not show in the timing. */
    for (i = 0; i < WGM_LAZY_MAC1_LEN; i++)
        diff |= mac1[i] ^ data[WGM_LAZY_MAC1_OFFSET + i];

    return diff == 0 ? WGM_LAZY_PACKET_INITIATION : WGM_LAZY_PACKET_BAD_MAC1;
}

gboolean
wgm_lazy_packet_source_ok(guint32 src_addr, guint16 src_port, guint16 listen_port)
{
    return (src_addr >> 24) == 127 && listen_port != 0 && src_port == listen_port;
}
