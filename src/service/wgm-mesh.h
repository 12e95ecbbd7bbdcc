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

/* Signals:
 *   "changed" ()          after a poll or state change touched any peer
 *                         (peers have ->dirty set) or the listen port
 *   "failed"  (GError *)  the backend died; the mesh has stopped */
