/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-backend.h"

/* ---- one transaction ---------------------------------------------------- */

static void
peer_update_free(gpointer data)
{
    WgmPeerUpdate *peer = data;

    wgm_key_wipe(&peer->preshared_key);
    g_clear_pointer(&peer->allowed_ips, g_array_unref);
    g_free(peer);
}

WgmDeviceUpdate *
wgm_device_update_new(void)
{
    WgmDeviceUpdate *update = g_new0(WgmDeviceUpdate, 1);

    update->listen_port = -1;
    update->peers       = g_ptr_array_new_with_free_func(peer_update_free);
    return update;
}

WgmPeerUpdate *
wgm_device_update_add_peer(WgmDeviceUpdate *update, const WgmKey *public_key)
{
    WgmPeerUpdate *peer;

    g_return_val_if_fail(update, NULL);
    g_return_val_if_fail(public_key, NULL);

    peer             = g_new0(WgmPeerUpdate, 1);
    peer->public_key = *public_key;
    g_ptr_array_add(update->peers, peer);
    return peer;
}

void
wgm_device_update_free(WgmDeviceUpdate *update)
{
    if (!update)
        return;
    wgm_key_wipe(&update->private_key);
    g_clear_pointer(&update->peers, g_ptr_array_unref);
    g_free(update);
}

/* ---- one batched read --------------------------------------------------- */

WgmDeviceStats *
wgm_device_stats_new(void)
{
    WgmDeviceStats *stats = g_new0(WgmDeviceStats, 1);

    stats->listen_port = -1;
    stats->peers       = g_array_new(FALSE, TRUE, sizeof(WgmPeerStats));
    return stats;
}

void
wgm_device_stats_free(WgmDeviceStats *stats)
{
    if (!stats)
        return;
    g_clear_pointer(&stats->peers, g_array_unref);
    g_free(stats);
}

/* ---- the backend -------------------------------------------------------- */

typedef struct {
    char *ifname;
    int   ifindex;
} WgmBackendPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(WgmBackend, wgm_backend, G_TYPE_OBJECT)

enum {
    PROP_0,
    PROP_IFNAME,
    N_PROPS,
};
static GParamSpec *props[N_PROPS];

enum {
    SIGNAL_DIED,
    N_SIGNALS,
};
static guint signals[N_SIGNALS];

static void
wgm_backend_init(WgmBackend *self)
{
}

static void
wgm_backend_set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
    WgmBackendPrivate *priv = wgm_backend_get_instance_private(WGM_BACKEND(object));

    switch (prop_id) {
    case PROP_IFNAME:
        g_free(priv->ifname);
        priv->ifname = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
}

static void
wgm_backend_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
    WgmBackendPrivate *priv = wgm_backend_get_instance_private(WGM_BACKEND(object));

    switch (prop_id) {
    case PROP_IFNAME:
        g_value_set_string(value, priv->ifname);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
}

static void
wgm_backend_finalize(GObject *object)
{
    WgmBackendPrivate *priv = wgm_backend_get_instance_private(WGM_BACKEND(object));

    g_free(priv->ifname);
    G_OBJECT_CLASS(wgm_backend_parent_class)->finalize(object);
}

static void
wgm_backend_class_init(WgmBackendClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->set_property = wgm_backend_set_property;
    object_class->get_property = wgm_backend_get_property;
    object_class->finalize     = wgm_backend_finalize;

    props[PROP_IFNAME] =
        g_param_spec_string("ifname",
                            "Interface name",
                            "Name of the WireGuard interface",
                            NULL,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, props);

    /**
     * WgmBackend::died:
     * @error: what happened (a #GError, never %NULL)
     *
     * The device is gone: the helper process exited or was killed, or the
     * interface was deleted.  Pending operations have already failed.
     */
    signals[SIGNAL_DIED] = g_signal_new("died",
                                        G_TYPE_FROM_CLASS(klass),
                                        G_SIGNAL_RUN_LAST,
                                        0,
                                        NULL,
                                        NULL,
                                        NULL,
                                        G_TYPE_NONE,
                                        1,
                                        G_TYPE_ERROR);
}

const char *
wgm_backend_get_ifname(WgmBackend *self)
{
    WgmBackendPrivate *priv;

    g_return_val_if_fail(WGM_IS_BACKEND(self), NULL);
    priv = wgm_backend_get_instance_private(self);
    return priv->ifname;
}

const char *
wgm_backend_get_name(WgmBackend *self)
{
    g_return_val_if_fail(WGM_IS_BACKEND(self), NULL);
    return WGM_BACKEND_GET_CLASS(self)->name;
}

int
wgm_backend_get_ifindex(WgmBackend *self)
{
    WgmBackendPrivate *priv;

    g_return_val_if_fail(WGM_IS_BACKEND(self), 0);
    priv = wgm_backend_get_instance_private(self);
    return priv->ifindex;
}

void
wgm_backend_set_ifindex(WgmBackend *self, int ifindex)
{
    WgmBackendPrivate *priv;

    g_return_if_fail(WGM_IS_BACKEND(self));
    g_return_if_fail(ifindex >= 0);
    priv          = wgm_backend_get_instance_private(self);
    priv->ifindex = ifindex;
}

void
wgm_backend_emit_died(WgmBackend *self, const GError *error)
{
    g_return_if_fail(WGM_IS_BACKEND(self));
    g_return_if_fail(error);

    /* The boxed GError is copied for the emission, so handlers may stop or
     * drop the backend without the caller's error going away under them. */
    g_object_ref(self);
    g_signal_emit(self, signals[SIGNAL_DIED], 0, error);
    g_object_unref(self);
}

void
wgm_backend_start_async(WgmBackend         *self,
                        GCancellable       *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer            user_data)
{
    g_return_if_fail(WGM_IS_BACKEND(self));
    g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));
    WGM_BACKEND_GET_CLASS(self)->start_async(self, cancellable, callback, user_data);
}

gboolean
wgm_backend_start_finish(WgmBackend *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(WGM_IS_BACKEND(self), FALSE);
    g_return_val_if_fail(G_IS_ASYNC_RESULT(result), FALSE);
    g_return_val_if_fail(!error || !*error, FALSE);
    return WGM_BACKEND_GET_CLASS(self)->start_finish(self, result, error);
}

void
wgm_backend_apply_async(WgmBackend            *self,
                        const WgmDeviceUpdate *update,
                        GCancellable          *cancellable,
                        GAsyncReadyCallback    callback,
                        gpointer               user_data)
{
    g_return_if_fail(WGM_IS_BACKEND(self));
    g_return_if_fail(update);
    g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));
    WGM_BACKEND_GET_CLASS(self)->apply_async(self, update, cancellable, callback, user_data);
}

gboolean
wgm_backend_apply_finish(WgmBackend *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(WGM_IS_BACKEND(self), FALSE);
    g_return_val_if_fail(G_IS_ASYNC_RESULT(result), FALSE);
    g_return_val_if_fail(!error || !*error, FALSE);
    return WGM_BACKEND_GET_CLASS(self)->apply_finish(self, result, error);
}

void
wgm_backend_get_stats_async(WgmBackend         *self,
                            GCancellable       *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer            user_data)
{
    g_return_if_fail(WGM_IS_BACKEND(self));
    g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));
    WGM_BACKEND_GET_CLASS(self)->get_stats_async(self, cancellable, callback, user_data);
}

WgmDeviceStats *
wgm_backend_get_stats_finish(WgmBackend *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(WGM_IS_BACKEND(self), NULL);
    g_return_val_if_fail(G_IS_ASYNC_RESULT(result), NULL);
    g_return_val_if_fail(!error || !*error, NULL);
    return WGM_BACKEND_GET_CLASS(self)->get_stats_finish(self, result, error);
}

void
wgm_backend_stop(WgmBackend *self)
{
    g_return_if_fail(WGM_IS_BACKEND(self));
    WGM_BACKEND_GET_CLASS(self)->stop(self);
}

void
wgm_backend_wait_stopped(WgmBackend *self, guint timeout_ms)
{
    WgmBackendClass *klass;

    g_return_if_fail(WGM_IS_BACKEND(self));
    klass = WGM_BACKEND_GET_CLASS(self);
    if (klass->wait_stopped)
        klass->wait_stopped(self, timeout_ms);
}
