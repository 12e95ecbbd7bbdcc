/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every WireGuard backend (wireguard-go over UAPI, later the kernel over
 * generic netlink) offers the mesh: bring a device up, apply a batch of
 * changes in one transaction, read every peer's counters in one batch.
 */
#pragma once

#include <gio/gio.h>

#include "wgm-ip.h"
#include "wgm-key.h"

/* ---- one transaction ---------------------------------------------------- */

typedef struct {
    WgmKey      public_key;
    gboolean    remove;
    gboolean    has_endpoint;
    WgmEndpoint endpoint;
    gboolean    has_preshared_key;
    WgmKey      preshared_key;        /* secret: wiped by wgm_device_update_free() */
    guint16     persistent_keepalive; /* the value to leave configured */
    gboolean    replace_allowed_ips;
    GArray     *allowed_ips; /* of WgmIpPrefix; may be NULL */
    /* Make WireGuard initiate a handshake now, even with keepalive off.
     * Both wireguard-go and the kernel send a keepalive (and so a handshake
     * initiation) when persistent keepalive goes from off to on while the
     * device is up; the backend then restores persistent_keepalive. */
    gboolean kick;
} WgmPeerUpdate;

typedef struct {
    gboolean   has_private_key;
    WgmKey     private_key; /* secret: wiped by wgm_device_update_free() */
    gint32     listen_port; /* -1: leave as is */
    gboolean   replace_peers;
    GPtrArray *peers; /* of WgmPeerUpdate*, owned */
} WgmDeviceUpdate;

WgmDeviceUpdate *wgm_device_update_new(void);
WgmPeerUpdate   *wgm_device_update_add_peer(WgmDeviceUpdate *update, const WgmKey *public_key);
void             wgm_device_update_free(WgmDeviceUpdate *update);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmDeviceUpdate, wgm_device_update_free)

/* ---- one batched read --------------------------------------------------- */

typedef struct {
    WgmKey      public_key;
    gboolean    has_endpoint;
    WgmEndpoint endpoint;
    gint64      last_handshake_usec; /* CLOCK_REALTIME, 0 = never */
    guint64     rx_bytes;
    guint64     tx_bytes;
    guint16     persistent_keepalive;
    guint       n_allowed_ips;
} WgmPeerStats;

typedef struct {
    gint32  listen_port; /* -1 if not reported */
    GArray *peers;       /* of WgmPeerStats */
} WgmDeviceStats;

WgmDeviceStats *wgm_device_stats_new(void);
void            wgm_device_stats_free(WgmDeviceStats *stats);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmDeviceStats, wgm_device_stats_free)

/* ---- the backend -------------------------------------------------------- */

#define WGM_TYPE_BACKEND (wgm_backend_get_type())
G_DECLARE_DERIVABLE_TYPE(WgmBackend, wgm_backend, WGM, BACKEND, GObject)

struct _WgmBackendClass {
    GObjectClass parent_class;

    const char *name; /* "userspace", "kernel" */

    /* Creates the interface; completes when it can take a transaction.
     * Also a restart, after stop() or "died" (refused while starting or
     * running): it waits for the old device to be gone and brings up an
     * empty one, same name, new ifindex, to be given the full configuration
     * (private key, listen port, replace_peers).  A start that fails says
     * so through its callback only, never through "died". */
    void (*start_async)(WgmBackend         *self,
                        GCancellable       *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer            user_data);
    gboolean (*start_finish)(WgmBackend *self, GAsyncResult *result, GError **error);

    /* Applies @update as one transaction.  The backend copies what it needs
     * before returning (the caller frees @update at once). */
    void (*apply_async)(WgmBackend            *self,
                        const WgmDeviceUpdate *update,
                        GCancellable          *cancellable,
                        GAsyncReadyCallback    callback,
                        gpointer               user_data);
    gboolean (*apply_finish)(WgmBackend *self, GAsyncResult *result, GError **error);

    void (*get_stats_async)(WgmBackend         *self,
                            GCancellable       *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer            user_data);
    WgmDeviceStats *(*get_stats_finish)(WgmBackend *self, GAsyncResult *result, GError **error);

    /* Removes the interface and ends helper processes; idempotent.  Pending
     * operations complete with G_IO_ERROR_CANCELLED. */
    void (*stop)(WgmBackend *self);

    /* Blocks (at most @timeout_ms) until the helper process, if any, is gone.
     * Only for process exit, never on the main loop of a running service. */
    void (*wait_stopped)(WgmBackend *self, guint timeout_ms);
};

const char *wgm_backend_get_ifname(WgmBackend *self);
const char *wgm_backend_get_name(WgmBackend *self);
int         wgm_backend_get_ifindex(WgmBackend *self); /* 0 until started */

void            wgm_backend_start_async(WgmBackend         *self,
                                        GCancellable       *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer            user_data);
gboolean        wgm_backend_start_finish(WgmBackend *self, GAsyncResult *result, GError **error);
void            wgm_backend_apply_async(WgmBackend            *self,
                                        const WgmDeviceUpdate *update,
                                        GCancellable          *cancellable,
                                        GAsyncReadyCallback    callback,
                                        gpointer               user_data);
gboolean        wgm_backend_apply_finish(WgmBackend *self, GAsyncResult *result, GError **error);
void            wgm_backend_get_stats_async(WgmBackend         *self,
                                            GCancellable       *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer            user_data);
WgmDeviceStats *wgm_backend_get_stats_finish(WgmBackend   *self,
                                             GAsyncResult *result,
                                             GError      **error);
void            wgm_backend_stop(WgmBackend *self);
void            wgm_backend_wait_stopped(WgmBackend *self, guint timeout_ms);

/* For subclasses: the "died" signal (a GError saying what happened) tells the
 * owner that the device is gone (helper crashed, stopped answering,
 * interface deleted).  At most once per completed start; the backend is
 * stopped by then (pending operations fail, ifindex 0, stop() not needed)
 * and may be started again, from the handler too. */
void wgm_backend_emit_died(WgmBackend *self, const GError *error);
void wgm_backend_set_ifindex(WgmBackend *self, int ifindex);
