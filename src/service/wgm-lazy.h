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
 * calls the wake function.  Everything else is counted and dropped, and a
 * dispatch reads a bounded number of datagrams into one stack buffer: no
 * datagram allocates, and a flood cannot starve the main loop.
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

/* @initiation is WGM_LAZY_INITIATION_LEN bytes, valid during the call. */
typedef void (*WgmLazyWakeFunc)(const WgmKey *public_key,
                                const guint8 *initiation,
                                gpointer      user_data);

/* Binds the activity socket (an ephemeral port) and opens the raw sockets
 * if allowed; the socket is watched on the thread-default main context. */
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

/* During a wake function: milliseconds since the initiation arrived (the
 * kernel's receive time), -1 if unknown. */
double wgm_lazy_since_arrival(WgmLazy *self);

/* Datagrams seen, by verdict (WGM_LAZY_PACKET_N_VERDICTS of them). */
const guint64 *wgm_lazy_get_counts(WgmLazy *self);
guint          wgm_lazy_get_n_peers(WgmLazy *self);
