/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The running mesh: the peers, the backend that carries them, and the one
 * scheduler that polls WireGuard and asks it for handshakes.  Knows nothing
 * of NetworkManager or D-Bus.
 */
#pragma once

#include "wgm-backend.h"
#include "wgm-config.h"
#include "wgm-peer.h"

#define WGM_TYPE_MESH (wgm_mesh_get_type())
G_DECLARE_FINAL_TYPE(WgmMesh, wgm_mesh, WGM, MESH, GObject)

/* Where the mesh reads time (monotonic for every decision, realtime only
 * for what D-Bus shows).  Tests pass a fake one and drive the scheduler
 * with wgm_mesh_dispatch(), without sleeping. */
typedef struct {
    gint64 (*now_mono)(gpointer user_data);
    gint64 (*now_real)(gpointer user_data);
    gpointer user_data;
} WgmMeshClock;

/* wireguard-go dying this many times within WGM_MESH_CRASH_WINDOW_USEC
 * ends the connection. */
#define WGM_MESH_MAX_CRASHES       5
#define WGM_MESH_CRASH_WINDOW_USEC (60 * G_USEC_PER_SEC)

/* Takes a reference on @backend; copies what it needs from @config
 * (including the private key, wiped when the mesh is finalized). */
WgmMesh *wgm_mesh_new(WgmBackend *backend, const WgmConfig *config);

/* Starts the backend, resolves endpoints, applies the private key, listen
 * port and every peer in one transaction, then keeps polling. */
void     wgm_mesh_start_async(WgmMesh            *self,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data);
gboolean wgm_mesh_start_finish(WgmMesh *self, GAsyncResult *result, GError **error);

/* Before start: @clock instead of GLib's clocks, @seed for the jitter; the
 * mesh's own timer then stays off and the caller runs wgm_mesh_dispatch(). */
void wgm_mesh_set_clock(WgmMesh *self, const WgmMeshClock *clock, guint32 seed);
/* The scheduler's next deadline on the mesh's monotonic clock, G_MAXINT64
 * for none; wgm_mesh_dispatch() does whatever is due now (the timer calls
 * it; tests may too). */
gint64 wgm_mesh_get_next_deadline(WgmMesh *self);
void   wgm_mesh_dispatch(WgmMesh *self);

/* Stops polling and the backend (interface and helper process go away). */
void wgm_mesh_stop(WgmMesh *self);

WgmBackend *wgm_mesh_get_backend(WgmMesh *self);
GPtrArray  *wgm_mesh_get_peers(WgmMesh *self); /* of WgmPeer*, in profile order */
WgmPeer    *wgm_mesh_lookup_peer(WgmMesh *self, const WgmKey *public_key);
guint       wgm_mesh_get_listen_port(WgmMesh *self);
void wgm_mesh_count_states(WgmMesh *self, guint *n_idle, guint *n_connecting, guint *n_connected);
/* The underlay address NetworkManager pins a route to: the endpoint of a
 * peer that routes everything if there is one, else the first resolved one. */
gboolean wgm_mesh_get_gateway(WgmMesh *self, WgmIpAddr *out);

/* ---- the guard, from outside ------------------------------------------- */

/* The host's network changed (NetworkManager or resume): every backoff is
 * dropped, endpoints are re-resolved, every Connecting peer (and every peer
 * that gave up) is retried at once, and every Connected peer is sent a
 * keepalive so its path is re-checked.  @what is logged and kept. */
void wgm_mesh_network_changed(WgmMesh *self, const char *what);
/* Retry everything now (D-Bus Mesh.ResetBackoff): as above, without it
 * counting as a network change. */
void wgm_mesh_reset_backoff(WgmMesh *self);
/* Retry one peer now (D-Bus Mesh.ConnectPeer); WGM_ERROR_NOT_FOUND if the
 * mesh has no such peer. */
gboolean wgm_mesh_connect_peer(WgmMesh *self, const WgmKey *public_key, GError **error);

/* Realtime usec of the last network change, 0 = none yet. */
gint64 wgm_mesh_get_last_network_change(WgmMesh *self);
/* How often the backend (wireguard-go) was restarted after it died. */
guint wgm_mesh_get_backend_restarts(WgmMesh *self);

/* ---- lazy connections (wgm-lazy.h), from outside ---------------------- */

/* The mesh-wide default (Mesh.LazyConnections); peers without their own
 * override (peer.N.lazy, Peer.Lazy) follow it.  Turning it off connects
 * every such peer at once; turning it on parks every one that is not
 * Connected and leaves live sessions alone until they go inactive.  Fails,
 * changing nothing, when lazy peers would need more loopback addresses
 * than are left. */
gboolean wgm_mesh_get_lazy_connections(WgmMesh *self);
gboolean wgm_mesh_set_lazy_connections(WgmMesh *self, gboolean lazy, GError **error);
/* One peer's own override (Peer.Lazy), as above; WGM_ERROR_NOT_FOUND if
 * the mesh has no such peer. */
gboolean wgm_mesh_set_peer_lazy(WgmMesh      *self,
                                const WgmKey *public_key,
                                gboolean      lazy,
                                GError      **error);
/* Drops that override: the peer follows LazyConnections again. */
gboolean wgm_mesh_clear_peer_lazy(WgmMesh *self, const WgmKey *public_key, GError **error);
/* Seconds without traffic after which a woken lazy peer goes Idle again
 * (Mesh.InactivityTimeout); WGM_ERROR_INVALID_SETTING outside
 * wgm_config_inactivity_timeout_min() .. WGM_MAX_INACTIVITY_TIMEOUT. */
guint    wgm_mesh_get_inactivity_timeout(WgmMesh *self);
gboolean wgm_mesh_set_inactivity_timeout(WgmMesh *self, guint seconds, GError **error);

/* Replaces the peer set with @configs (of WgmPeerConfig*) as a diff: peers
 * whose public key stays keep their session, counters and D-Bus objects;
 * changed settings go to WireGuard in one transaction. */
void wgm_mesh_set_peers(WgmMesh *self, const WgmConfig *config);

/* Signals (the mesh is the one source of change; observers never clear
 * anything; "changed" also covers LazyConnections and InactivityTimeout,
 * "peers-changed" a peer's Lazy):
 *   "peer-added"    (gpointer WgmPeer *)   a peer joined (set_peers)
 *   "peer-removed"  (gpointer WgmPeer *)   about to be freed (set_peers)
 *   "peers-changed" (gpointer GPtrArray *) of WgmPeer* whose exported
 *                   fields changed since the last emission (the array is
 *                   only valid during the emission)
 *   "changed" ()    mesh-wide values changed: listen port, state counts,
 *                   last network change, backend restarts
 *   "failed"  (GError *)  the backend died for good (or too often); the
 *                         mesh has stopped */
