/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared between wgm-mesh.c (the object, start, restart, the peer set) and
 * wgm-mesh-sched.c (the one scheduler: guards, kicks, polls, endpoints).
 * Nothing outside the mesh includes this.
 */
#pragma once

#include "wgm-backoff.h"
#include "wgm-lazy.h"
#include "wgm-mesh.h"

struct _WgmMesh {
    GObject parent_instance;

    WgmBackend *backend;
    gulong      died_id;
    WgmKey      private_key; /* kept to re-apply the device; wiped in finalize */
    gint32      config_listen_port;
    guint       listen_port; /* as WireGuard reports it */

    GHashTable *peers_by_key; /* WgmKey* -> WgmPeer* (not owning) */
    GPtrArray  *peers;        /* WgmPeer*, owning, profile order */

    WgmMeshClock clock;
    gboolean     driven; /* a test's clock: it calls wgm_mesh_dispatch(), the timer stays off */
    GRand       *rand;

    GCancellable *cancellable;
    GSource      *timer;      /* the one scheduler source */
    guint         generation; /* bumped when the backend dies: late callbacks are ignored */
    gint64        next_poll_mono;
    gint64        poll_interval;
    gboolean      poll_in_flight;
    gboolean      apply_in_flight;
    gboolean      peers_changed_meanwhile; /* set_peers during a restart's re-apply */
    gint64        kick_pause_until;        /* monotonic: no kicks before, after a refused batch */
    gboolean      running;                 /* started, and the backend is up */
    gboolean      changed;                 /* mesh-wide values changed since the last "changed" */

    gint64 last_network_change; /* realtime */

    /* lazy connections (wgm-mesh-lazy.c) */
    WgmLazy *lazy; /* the activity socket, from start on */
    gboolean lazy_connections;
    guint    inactivity_timeout; /* seconds */

    /* the backend's guard */
    gboolean    restarting; /* the backend died; restart_at or a start under way */
    gint64      restart_at; /* monotonic, 0 = under way */
    WgmBackoff *crash_backoff;
    gint64      crashes[WGM_MESH_MAX_CRASHES]; /* monotonic, most recent first */
    guint       restarts;
    gint64      up_since; /* monotonic: the backend last came up */
};

static inline gint64
wgm_mesh_now_mono(WgmMesh *self)
{
    return self->clock.now_mono(self->clock.user_data);
}

static inline gint64
wgm_mesh_now_real(WgmMesh *self)
{
    return self->clock.now_real(self->clock.user_data);
}

/* wgm-mesh.c */
void wgm_mesh_emit_changes(WgmMesh *self);
void wgm_mesh_backend_died(WgmMesh *self, const GError *error);
void wgm_mesh_restart_backend(WgmMesh *self);

/* wgm-mesh-sched.c */
void             wgm_mesh_sched_start(WgmMesh *self);
void             wgm_mesh_reschedule(WgmMesh *self);
void             wgm_mesh_plan_peer(WgmMesh *self, WgmPeer *peer, gint64 now_mono);
void             wgm_mesh_resolve_peer(WgmMesh *self, WgmPeer *peer, GTask *start_task);
WgmDeviceUpdate *wgm_mesh_build_full_update(WgmMesh *self, gint64 now_mono, guint *n_kick);
WgmBackoffParams wgm_mesh_guard_params(const WgmPeer *peer);

/* wgm-mesh-lazy.c */
gboolean wgm_mesh_lazy_start(WgmMesh *self, GError **error);
void     wgm_mesh_lazy_stop(WgmMesh *self);
/* After a poll: woken peers that went inactive go Idle, parked peers the
 * other side connected to are awake. */
void wgm_mesh_lazy_check(WgmMesh *self, gint64 now_mono);
/* A lazy peer that gave up goes Idle and waits for traffic again. */
void wgm_mesh_lazy_gave_up(WgmMesh *self, WgmPeer *peer);
/* A peer joined (set_peers): a lazy one is parked on its own address (if
 * the addresses ran out, it is eager, with a warning). */
void wgm_mesh_lazy_peer_added(WgmMesh *self, WgmPeer *peer, gint64 now_mono);
/* A parked peer is to connect without a wake-up (ConnectPeer). */
void wgm_mesh_lazy_unpark(WgmMesh *self, WgmPeer *peer);
/* Tells the activity socket's thread where to replay @peer's next
 * initiation: its real endpoint while it is parked, nowhere otherwise. */
void wgm_mesh_lazy_arm(WgmMesh *self, WgmPeer *peer);
/* Makes the next poll come soon (a handshake is awaited). */
void wgm_mesh_poll_soon(WgmMesh *self, gint64 now_mono);

/* Resolution during start reports here (wgm-mesh.c). */
void wgm_mesh_start_step_done(GTask *task);
