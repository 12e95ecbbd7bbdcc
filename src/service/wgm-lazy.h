/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lazy connections, the wire side: one UDP activity socket for every lazy
 * peer of a mesh, their loopback addresses, and the replay that turns a
 * captured handshake initiation into a real one.
 *
 * An Idle lazy peer's WireGuard endpoint is its own loopback address
 * 127.77.x.y, all with the same port P.  One socket bound to 0.0.0.0:P on
 * "lo" (SO_BINDTODEVICE, IP_PKTINFO for the destination address) receives
 * for all of them, so file descriptors do not grow with peers.  When the
 * first packet for the peer appears, WireGuard sends a handshake
 * initiation there; a datagram from the interface's own listen port that
 * is such an initiation for the peer at that address (wgm-lazy-packet.h)
 * wakes the peer.  Everything else is counted and dropped, and the socket
 * is read a bounded number of datagrams at a time into one stack buffer:
 * no datagram allocates, and a flood cannot starve anything.
 *
 * The socket is read by a thread of its own, so that the replay (below)
 * does not wait for the main loop; the wake function is then called on
 * the main loop.
 *
 * Activation replays the captured initiation from the listen port to the
 * peer's real endpoint through a raw socket (IPv4 or IPv6); the peer's
 * response then completes the handshake WireGuard already began, and the
 * packet that triggered it goes out without waiting for WireGuard's 5 s
 * retransmission.  Raw sockets need CAP_NET_RAW; without it
 * wgm_lazy_can_replay() is FALSE and the mesh re-creates the peer instead
 * (the triggering packet is then lost, costing about a second to ping).
 */
#pragma once

#include "wgm-ip.h"
#include "wgm-key.h"
#include "wgm-lazy-packet.h"

typedef struct _WgmLazy WgmLazy;

typedef struct {
    WgmKey        public_key;
    const guint8 *initiation; /* WGM_LAZY_INITIATION_LEN bytes, valid during the call */
    /* The thread already replayed it (the peer was armed), to: */
    gboolean    replayed;
    WgmEndpoint replayed_to;
    /* Milliseconds from the kernel's receive time to the replay (or to the
     * wake-up being queued, if not replayed); -1 if unknown. */
    double since_arrival_ms;
} WgmLazyWake;

/* Called on the main context wgm_lazy_new() ran on, with every wake-up
 * queued since the last call.  One that was replayed comes about
 * WGM_LAZY_WAKE_DELAY_MS after its replay (sooner if another wake-up is
 * due first): on a LAN the handshake completes within a millisecond or
 * two, and work of ours (and of wireguard-go answering us) in the meantime
 * would only compete with it for the CPU; any other comes at once. */
typedef void (*WgmLazyWakeFunc)(const WgmLazyWake *wakes, guint n_wakes, gpointer user_data);

#define WGM_LAZY_WAKE_DELAY_MS 10

/* Binds the activity socket (an ephemeral port), opens the raw sockets if
 * allowed and starts the thread that reads the socket; wake-ups are
 * delivered on the thread-default main context. */
WgmLazy *wgm_lazy_new(WgmLazyWakeFunc wake, gpointer user_data, GError **error);
void     wgm_lazy_free(WgmLazy *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmLazy, wgm_lazy_free)

guint16 wgm_lazy_get_port(WgmLazy *self);
/* The WireGuard interface's listen port: only datagrams from it count (0:
 * not known yet, nothing counts). */
void wgm_lazy_set_listen_port(WgmLazy *self, guint16 listen_port);

/* Gives @public_key a loopback address (the same one again if it has one)
 * and fills @lazy_endpoint with it and the socket's port; fails when the
 * addresses ran out. */
gboolean wgm_lazy_add_peer(WgmLazy      *self,
                           const WgmKey *public_key,
                           WgmEndpoint  *lazy_endpoint,
                           GError      **error);
void     wgm_lazy_remove_peer(WgmLazy *self, const WgmKey *public_key);
/* While @public_key is Idle on its loopback address and its real endpoint
 * is known: the thread replays the next initiation for it to @replay_to at
 * once, and disarms it.  NULL (or a family without a raw socket) disarms. */
void wgm_lazy_arm(WgmLazy *self, const WgmKey *public_key, const WgmEndpoint *replay_to);
/* @addr is somebody's real endpoint: never hand it out.  Outside the
 * loopback range of lazy peers: TRUE, nothing to do; already a lazy peer's
 * address: FALSE with an error naming it. */
gboolean wgm_lazy_reserve(WgmLazy *self, const WgmIpAddr *addr, GError **error);
/* @endpoint is a peer's loopback address (WireGuard reports it as the
 * endpoint of an Idle lazy peer). */
gboolean wgm_lazy_is_lazy_endpoint(WgmLazy *self, const WgmEndpoint *endpoint);

gboolean wgm_lazy_can_replay(WgmLazy *self, int family);
/* Sends @initiation as a UDP datagram from port @from_port to @to. */
gboolean wgm_lazy_replay(WgmLazy           *self,
                         const guint8      *initiation,
                         guint16            from_port,
                         const WgmEndpoint *to,
                         GError           **error);

/* Datagrams seen so far, by verdict. */
void  wgm_lazy_get_counts(WgmLazy *self, guint64 counts[WGM_LAZY_PACKET_N_VERDICTS]);
guint wgm_lazy_get_n_peers(WgmLazy *self);
