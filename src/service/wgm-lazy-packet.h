/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a datagram on the lazy activity socket is (pure: no sockets, no
 * clock, no allocation).  WireGuard sends a lazy peer's handshake
 * initiation to the peer's loopback address when the first packet for it
 * appears; only such an initiation, meant for that peer, wakes it.
 *
 * A handshake initiation (WireGuard whitepaper, section 5.4.2) is 148
 * bytes: type 1 and three zero bytes, sender index (4), ephemeral (32),
 * encrypted static (48), encrypted timestamp (28), mac1 (16), mac2 (16).
 * mac1 = MAC(HASH("mac1----" || S_pub_responder), msg[0:116]), keyed with
 * the *responder's* public key: the peer WireGuard wants to reach.  mac1
 * only proves knowledge of that public key, so it tells initiations meant
 * for this peer from garbage, misdirected and stale datagrams, not from a
 * local forger; the source check in wgm-lazy.c (loopback, the interface's
 * own listen port) narrows that down, and a wrong wake-up costs only one
 * handshake.
 */
#pragma once

#include <glib.h>

#include "wgm-key.h"

#define WGM_LAZY_INITIATION_LEN 148
#define WGM_LAZY_MAC1_OFFSET    116
#define WGM_LAZY_MAC1_LEN       16
#define WGM_LAZY_MAC1_KEY_LEN   32

typedef enum {
    WGM_LAZY_PACKET_INITIATION,   /* a handshake initiation for this peer */
    WGM_LAZY_PACKET_WRONG_SIZE,   /* not 148 bytes */
    WGM_LAZY_PACKET_WRONG_TYPE,   /* 148 bytes, but not type 1 with zero reserved bytes */
    WGM_LAZY_PACKET_BAD_MAC1,     /* an initiation, not for this peer */
    WGM_LAZY_PACKET_WRONG_SOURCE, /* not from the interface's listen port on loopback */
    WGM_LAZY_PACKET_UNKNOWN_PEER, /* to a loopback address no lazy peer has */
    WGM_LAZY_PACKET_N_VERDICTS,
} WgmLazyVerdict;

/* "initiation", "wrong size", "wrong type", "bad mac1", "wrong source",
 * "unknown peer" (for logs and counters). */
const char *wgm_lazy_verdict_to_string(WgmLazyVerdict verdict);

/* Whether a datagram from @src_addr:@src_port (IPv4, host byte order)
 * came from the WireGuard interface's own socket: any loopback address,
 * and exactly its @listen_port (0 = not known yet: nothing is). */
gboolean wgm_lazy_packet_source_ok(guint32 src_addr, guint16 src_port, guint16 listen_port);

/* HASH("mac1----" || @peer_public_key): computed once per lazy peer. */
void wgm_lazy_mac1_key(const WgmKey *peer_public_key, guint8 key[WGM_LAZY_MAC1_KEY_LEN]);

/* Size, type and mac1 of @data (@len bytes, any content) against the mac1
 * key of the peer it was addressed to.  The mac1 comparison is constant
 * time.  Never reads beyond @len. */
WgmLazyVerdict wgm_lazy_packet_classify(const guint8 *data,
                                        gsize         len,
                                        const guint8  mac1_key[WGM_LAZY_MAC1_KEY_LEN]);
