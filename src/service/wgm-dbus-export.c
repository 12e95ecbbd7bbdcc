/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-dbus-export.h"

#include "wgm-dbus-generated.h"

struct _WgmDBusExport {
    GDBusConnection          *connection;
    WgmMesh                  *mesh;
    gulong                    changed_id;
    WgmDBusMesh              *mesh_skeleton;
    GDBusObjectManagerServer *manager;
    GHashTable               *peer_skeletons; /* WgmPeer* -> WgmDBusPeer* (owned) */
};

static char *
endpoint_string(const WgmPeer *peer)
{
    char buf[WGM_IP_STRLEN];

    if (peer->has_current_endpoint)
        return g_strdup(wgm_endpoint_to_string(&peer->current_endpoint, buf));
    if (peer->has_endpoint)
        return g_strdup(wgm_endpoint_to_string(&peer->endpoint, buf));
    return g_strdup("");
}

static char **
allowed_ips_strv(const WgmPeer *peer)
{
    char **strv = g_new0(char *, peer->allowed_ips->len + 1);
    char   buf[WGM_IP_STRLEN];

    for (guint i = 0; i < peer->allowed_ips->len; i++)
        strv[i] = g_strdup(
            wgm_ip_prefix_to_string(&g_array_index(peer->allowed_ips, WgmIpPrefix, i), buf));
    return strv;
}

/* Setting a generated property to its current value emits nothing, and the
 * skeleton coalesces the rest into one PropertiesChanged per main-loop
 * iteration: a poll that touches a peer costs at most one signal for it. */
static void
sync_peer(WgmDBusPeer *skeleton, WgmPeer *peer)
{
    g_autofree char *endpoint = endpoint_string(peer);

    wgm_dbus_peer_set_state(skeleton, wgm_peer_state_to_string(peer->state));
    wgm_dbus_peer_set_state_since(skeleton, peer->state_since);
    wgm_dbus_peer_set_endpoint(skeleton, endpoint);
    wgm_dbus_peer_set_latest_handshake(skeleton, peer->last_handshake);
    wgm_dbus_peer_set_rx_bytes(skeleton, peer->rx_bytes);
    wgm_dbus_peer_set_tx_bytes(skeleton, peer->tx_bytes);
    wgm_dbus_peer_set_lazy(skeleton, peer->lazy);
    wgm_dbus_peer_set_attempts(skeleton, peer->attempts);
    wgm_dbus_peer_set_next_retry(skeleton, peer->next_retry);
    wgm_dbus_peer_set_last_error(skeleton, peer->last_error ?: "");
    peer->dirty = FALSE;
}

static void
sync_mesh(WgmDBusExport *self)
{
    guint n_idle, n_connecting, n_connected;

    wgm_mesh_count_states(self->mesh, &n_idle, &n_connecting, &n_connected);
    wgm_dbus_mesh_set_listen_port(self->mesh_skeleton, wgm_mesh_get_listen_port(self->mesh));
    wgm_dbus_mesh_set_peers_idle(self->mesh_skeleton, n_idle);
    wgm_dbus_mesh_set_peers_connecting(self->mesh_skeleton, n_connecting);
    wgm_dbus_mesh_set_peers_connected(self->mesh_skeleton, n_connected);
}

static void
mesh_changed_cb(WgmMesh *mesh, WgmDBusExport *self)
{
    GHashTableIter iter;
    gpointer       peer, skeleton;

    g_hash_table_iter_init(&iter, self->peer_skeletons);
    while (g_hash_table_iter_next(&iter, &peer, &skeleton)) {
        if (((WgmPeer *)peer)->dirty)
            sync_peer(skeleton, peer);
    }
    sync_mesh(self);
}

static void
export_peer(WgmDBusExport *self, WgmPeer *peer)
{
    g_autofree char *path = g_strdup_printf(WGM_DBUS_PEER_PATH "/%u", peer->object_id);
    g_autoptr(WgmDBusObjectSkeleton) object = wgm_dbus_object_skeleton_new(path);
    g_auto(GStrv) allowed_ips               = allowed_ips_strv(peer);
    WgmDBusPeer *skeleton                   = wgm_dbus_peer_skeleton_new();

    wgm_dbus_peer_set_public_key(skeleton, peer->public_key_b64);
    wgm_dbus_peer_set_name(skeleton, peer->name ?: "");
    wgm_dbus_peer_set_allowed_ips(skeleton, (const char *const *)allowed_ips);
    sync_peer(skeleton, peer);

    wgm_dbus_object_skeleton_set_peer(object, skeleton);
    g_dbus_object_manager_server_export(self->manager, G_DBUS_OBJECT_SKELETON(object));
    g_hash_table_insert(self->peer_skeletons, peer, skeleton);
}

WgmDBusExport *
wgm_dbus_export_new(GDBusConnection *connection, WgmMesh *mesh, GError **error)
{
    WgmDBusExport *self    = g_new0(WgmDBusExport, 1);
    GPtrArray     *peers   = wgm_mesh_get_peers(mesh);
    WgmBackend    *backend = wgm_mesh_get_backend(mesh);

    self->connection     = g_object_ref(connection);
    self->mesh           = g_object_ref(mesh);
    self->peer_skeletons = g_hash_table_new_full(NULL, NULL, NULL, g_object_unref);

    /* A GDBusObjectManagerServer will not manage an object at its own path,
     * so the Mesh interface is exported directly on the manager's path. */
    self->mesh_skeleton = wgm_dbus_mesh_skeleton_new();
    wgm_dbus_mesh_set_interface(self->mesh_skeleton, wgm_backend_get_ifname(backend));
    wgm_dbus_mesh_set_backend(self->mesh_skeleton, wgm_backend_get_name(backend));
    sync_mesh(self);
    if (!g_dbus_interface_skeleton_export(
            G_DBUS_INTERFACE_SKELETON(self->mesh_skeleton), connection, WGM_DBUS_PATH, error)) {
        g_prefix_error(error, "exporting %s: ", WGM_DBUS_PATH);
        wgm_dbus_export_free(self);
        return NULL;
    }

    self->manager = g_dbus_object_manager_server_new(WGM_DBUS_PATH);
    for (guint i = 0; i < peers->len; i++)
        export_peer(self, peers->pdata[i]);
    g_dbus_object_manager_server_set_connection(self->manager, connection);

    self->changed_id = g_signal_connect(mesh, "changed", G_CALLBACK(mesh_changed_cb), self);
    return self;
}

void
wgm_dbus_export_free(WgmDBusExport *self)
{
    if (!self)
        return;
    g_clear_signal_handler(&self->changed_id, self->mesh);
    if (self->manager) {
        g_dbus_object_manager_server_set_connection(self->manager, NULL);
        g_clear_object(&self->manager);
    }
    if (self->mesh_skeleton
        && g_dbus_interface_skeleton_get_connection(
            G_DBUS_INTERFACE_SKELETON(self->mesh_skeleton))) {
        g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(self->mesh_skeleton));
    }
    g_clear_object(&self->mesh_skeleton);
    g_clear_pointer(&self->peer_skeletons, g_hash_table_unref);
    g_clear_object(&self->mesh);
    g_clear_object(&self->connection);
    g_free(self);
}
