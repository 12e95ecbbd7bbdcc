/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The export only observes the mesh: it follows the mesh's signals
 * ("peer-added", "peer-removed", "peers-changed", "changed") and never
 * clears anything the mesh keeps, so other observers see the same changes.
 * Its methods and writable properties are the one way in; each call is
 * authorized (wgm-auth.h) before it touches the mesh, so a refused call
 * changes nothing.
 *
 * The bus budget (the rule is in the interface XML): a peer's statistics
 * (counters, LatestHandshake, the guard's Attempts and NextRetry) move on
 * almost every poll of a large mesh, so they are not pushed into the
 * skeletons with the rest.  Reads of them are answered from the mesh
 * (the Peer skeleton's hooked get_property and get_properties), and
 * only a flush -- a State change, or the StatisticsRefreshRateMs timer --
 * sets them on the skeleton, whose PropertiesChanged then carries them.
 */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-dbus-export.h"

#include "wgm-auth.h"
#include "wgm-dbus-generated.h"
#include "wgm-error.h"
#include "wgm-glib-utils.h"

/* ---- authorized calls ---------------------------------------------------- */

/* What an authorized call does, on @self (a skeleton below); it completes
 * @invocation (takes it). */
typedef void (*AuthorizedFunc)(gpointer self, GDBusMethodInvocation *invocation, const char *arg);

typedef struct {
    GObject               *self;
    GDBusMethodInvocation *invocation; /* the handler's reference, until completed */
    char                  *arg;
    AuthorizedFunc         func;
} Call;

static void
call_free(Call *call)
{
    g_warn_if_fail(call->invocation == NULL);
    g_object_unref(call->self);
    g_free(call->arg);
    g_free(call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Call, call_free)

/* A method's name, or for Properties.Set the property's: what errors and
 * log lines start with. */
static const char *
call_name(GDBusMethodInvocation *invocation)
{
    const GDBusPropertyInfo *property = g_dbus_method_invocation_get_property_info(invocation);

    return property ? property->name : g_dbus_method_invocation_get_method_name(invocation);
}

static void
authorized_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(Call) call              = user_data;
    g_autoptr(GError) error           = NULL;
    GDBusMethodInvocation *invocation = g_steal_pointer(&call->invocation);
    const char            *name       = call_name(invocation);

    if (wgm_auth_check_finish(result, &error)) {
        g_debug("%s: caller %s authorized", name, g_dbus_method_invocation_get_sender(invocation));
        call->func(call->self, invocation, call->arg);
        return;
    }
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_dbus_method_invocation_return_error(invocation,
                                              WGM_ERROR,
                                              WGM_ERROR_FAILED,
                                              "%s: the mesh stopped before the call was authorized",
                                              name);
        return;
    }
    g_message("%s: %s", name, error->message);
    g_prefix_error(&error, "%s: ", name);
    g_dbus_method_invocation_return_gerror(invocation, error);
}

/* Runs @func once the caller is authorized; a D-Bus handler's return value.
 * @cancellable: the export's, cancelled when it goes away: a call still
 * waiting for polkit then fails without touching the (stopping) mesh. */
static gboolean
authorize_then(gpointer               self,
               GCancellable          *cancellable,
               GDBusMethodInvocation *invocation,
               const char            *arg,
               AuthorizedFunc         func)
{
    Call *call       = g_new0(Call, 1);
    call->self       = g_object_ref(self);
    call->invocation = invocation;
    call->arg        = g_strdup(arg);
    call->func       = func;

    wgm_auth_check_async(g_dbus_method_invocation_get_connection(invocation),
                         g_dbus_method_invocation_get_sender(invocation),
                         WGM_AUTH_ACTION_MODIFY,
                         cancellable,
                         authorized_cb,
                         call);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- writable properties ---------------------------------------------------- */

/*
 * The generated skeletons set a written property synchronously in their
 * set_property handler, with no way to wait for polkit.  Without a
 * set_property in the vtable, GDBus hands Properties.Set to method_call
 * instead (GDBusInterfaceVTable, since GLib 2.38), having checked that the
 * property exists, is writable and that the value has its type; the
 * invocation then carries the property's info.  So each skeleton below
 * hooks its class's vtable: Set goes through authorize_then(), everything
 * else to the generated method_call unchanged.
 *
 * A write never sets the skeleton's property itself: the mesh's setter
 * emits "changed" / "peers-changed" before it returns, the export syncs
 * the skeletons from that (which queues PropertiesChanged), and only then
 * is the call answered, so a client reading after the reply sees the value.
 */
typedef struct {
    gsize                       once;
    const GDBusInterfaceVTable *parent;
    GDBusInterfaceVTable        vtable;
} HookedVTable;

/* @get_property: NULL for the generated one. */
static GDBusInterfaceVTable *
hook_vtable(HookedVTable                 *hooked,
            GDBusInterfaceSkeletonClass  *parent_class,
            GDBusInterfaceSkeleton       *skeleton,
            GDBusInterfaceMethodCallFunc  method_call,
            GDBusInterfaceGetPropertyFunc get_property)
{
    if (g_once_init_enter(&hooked->once)) {
        hooked->parent              = parent_class->get_vtable(skeleton);
        hooked->vtable              = *hooked->parent;
        hooked->vtable.method_call  = method_call;
        hooked->vtable.set_property = NULL;
        if (get_property)
            hooked->vtable.get_property = get_property;
        g_once_init_leave(&hooked->once, 1);
    }
    return &hooked->vtable;
}

/* Properties.Set on either skeleton goes through authorize_then() to its
 * setter; any other call to the generated handler.  (Below both classes.) */
static void hooked_method_call(GDBusConnection       *connection,
                               const char            *sender,
                               const char            *object_path,
                               const char            *interface_name,
                               const char            *method_name,
                               GVariant              *parameters,
                               GDBusMethodInvocation *invocation,
                               gpointer               user_data);

static gboolean
is_properties_set(const char *interface_name, const char *method_name)
{
    return g_str_equal(interface_name, "org.freedesktop.DBus.Properties")
           && g_str_equal(method_name, "Set");
}

/* The value of an authorized Properties.Set (Set's "(ssv)" parameters). */
static GVariant *
set_value(GDBusMethodInvocation *invocation)
{
    GVariant *value = NULL;

    g_variant_get(
        g_dbus_method_invocation_get_parameters(invocation), "(&s&sv)", NULL, NULL, &value);
    return value;
}

/* Answers a Properties.Set: logs an accepted write (@what is the object,
 * e.g. "mesh" or "peer[abcdefgh]"; @old the value before), else returns
 * the mesh's error prefixed with the property's name. */
static void
finish_set(GDBusMethodInvocation *invocation,
           const char            *what,
           GVariant              *old,
           GVariant              *value,
           gboolean               ok,
           GError                *error)
{
    const char      *name      = call_name(invocation);
    g_autofree char *old_str   = g_variant_print(old, FALSE);
    g_autofree char *value_str = g_variant_print(value, FALSE);

    if (!ok) {
        g_message("%s: %s := %s by %s refused: %s",
                  what,
                  name,
                  value_str,
                  g_dbus_method_invocation_get_sender(invocation),
                  error->message);
        g_prefix_error(&error, "%s: ", name);
        g_dbus_method_invocation_return_gerror(invocation, error);
        return;
    }
    g_message("%s: %s %s -> %s, set over D-Bus by %s",
              what,
              name,
              old_str,
              value_str,
              g_dbus_method_invocation_get_sender(invocation));
    g_dbus_method_invocation_return_value(invocation, NULL);
}

/* ---- the Mesh object: a skeleton whose methods and writes ask wgm-auth ---- */

#define WGM_TYPE_EXPORT_MESH (wgm_export_mesh_get_type())
G_DECLARE_FINAL_TYPE(WgmExportMesh, wgm_export_mesh, WGM, EXPORT_MESH, WgmDBusMeshSkeleton)

struct _WgmExportMesh {
    WgmDBusMeshSkeleton parent;
    WgmMesh            *mesh;
    GCancellable       *cancellable; /* the export's */
    WgmDBusExport *export;           /* not owned; NULL once it is freed */
};

static void set_statistics_rate(WgmDBusExport *self, guint rate_ms);

static void wgm_export_mesh_iface_init(WgmDBusMeshIface *iface);

G_DEFINE_TYPE_WITH_CODE(WgmExportMesh,
                        wgm_export_mesh,
                        WGM_DBUS_TYPE_MESH_SKELETON,
                        G_IMPLEMENT_INTERFACE(WGM_DBUS_TYPE_MESH, wgm_export_mesh_iface_init))

static HookedVTable mesh_vtable;

static void
reset_backoff(gpointer object, GDBusMethodInvocation *invocation, const char *arg)
{
    WgmExportMesh *self = object;

    wgm_mesh_reset_backoff(self->mesh);
    wgm_dbus_mesh_complete_reset_backoff(WGM_DBUS_MESH(self), invocation);
}

static void
connect_peer(gpointer object, GDBusMethodInvocation *invocation, const char *public_key)
{
    WgmExportMesh *self     = object;
    g_autoptr(GError) error = NULL;
    WgmKey key;

    /* Not echoed: a mistaken caller may have pasted a private key. */
    if (!wgm_key_from_base64(public_key, &key, &error)) {
        g_dbus_method_invocation_return_error(invocation,
                                              WGM_ERROR,
                                              WGM_ERROR_INVALID_SETTING,
                                              "ConnectPeer: public_key %s",
                                              error->message);
        return;
    }
    if (!wgm_mesh_connect_peer(self->mesh, &key, &error)) {
        g_prefix_error(&error, "ConnectPeer: ");
        g_dbus_method_invocation_return_gerror(invocation, error);
        return;
    }
    wgm_dbus_mesh_complete_connect_peer(WGM_DBUS_MESH(self), invocation);
}

static void
set_mesh_property(gpointer object, GDBusMethodInvocation *invocation, const char *arg)
{
    WgmExportMesh *self       = object;
    const char    *name       = call_name(invocation);
    g_autoptr(GVariant) value = set_value(invocation);
    g_autoptr(GVariant) old   = NULL;
    g_autoptr(GError) error   = NULL;
    gboolean ok;

    if (g_str_equal(name, "LazyConnections")) {
        old = g_variant_ref_sink(g_variant_new_boolean(wgm_mesh_get_lazy_connections(self->mesh)));
        ok  = wgm_mesh_set_lazy_connections(self->mesh, g_variant_get_boolean(value), &error);
    } else if (g_str_equal(name, "InactivityTimeout")) {
        old = g_variant_ref_sink(g_variant_new_uint32(wgm_mesh_get_inactivity_timeout(self->mesh)));
        ok  = wgm_mesh_set_inactivity_timeout(self->mesh, g_variant_get_uint32(value), &error);
    } else if (g_str_equal(name, "StatisticsRefreshRateMs")) {
        /* The export's own setting, not the mesh's: what D-Bus is told. */
        old = g_variant_ref_sink(g_variant_new_uint32(
            wgm_dbus_mesh_get_statistics_refresh_rate_ms(WGM_DBUS_MESH(self))));
        ok  = self->export != NULL;
        if (ok)
            set_statistics_rate(self->export, g_variant_get_uint32(value));
        else
            g_set_error(&error, WGM_ERROR, WGM_ERROR_FAILED, "the mesh stopped");
    } else {
        /* A readwrite property in the XML that nobody handles here. */
        g_dbus_method_invocation_return_error(
            invocation, WGM_ERROR, WGM_ERROR_FAILED, "%s: cannot be written", name);
        return;
    }
    finish_set(invocation, "mesh", old, value, ok, error);
}

static GDBusInterfaceVTable *
wgm_export_mesh_get_vtable(GDBusInterfaceSkeleton *skeleton)
{
    return hook_vtable(&mesh_vtable,
                       G_DBUS_INTERFACE_SKELETON_CLASS(wgm_export_mesh_parent_class),
                       skeleton,
                       hooked_method_call,
                       NULL);
}

static gboolean
handle_reset_backoff(WgmDBusMesh *object, GDBusMethodInvocation *invocation)
{
    WgmExportMesh *self = WGM_EXPORT_MESH(object);

    return authorize_then(self, self->cancellable, invocation, NULL, reset_backoff);
}

static gboolean
handle_connect_peer(WgmDBusMesh *object, GDBusMethodInvocation *invocation, const char *public_key)
{
    WgmExportMesh *self = WGM_EXPORT_MESH(object);

    return authorize_then(self, self->cancellable, invocation, public_key, connect_peer);
}

static void
wgm_export_mesh_iface_init(WgmDBusMeshIface *iface)
{
    iface->handle_reset_backoff = handle_reset_backoff;
    iface->handle_connect_peer  = handle_connect_peer;
}

static void
wgm_export_mesh_init(WgmExportMesh *self)
{
}

static void
wgm_export_mesh_finalize(GObject *object)
{
    WgmExportMesh *self = WGM_EXPORT_MESH(object);

    g_clear_object(&self->mesh);
    g_clear_object(&self->cancellable);
    G_OBJECT_CLASS(wgm_export_mesh_parent_class)->finalize(object);
}

static void
wgm_export_mesh_class_init(WgmExportMeshClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize                    = wgm_export_mesh_finalize;
    G_DBUS_INTERFACE_SKELETON_CLASS(klass)->get_vtable = wgm_export_mesh_get_vtable;
}

static WgmExportMesh *
wgm_export_mesh_new(WgmMesh *mesh, GCancellable *cancellable)
{
    WgmExportMesh *self = g_object_new(WGM_TYPE_EXPORT_MESH, NULL);

    self->mesh        = g_object_ref(mesh);
    self->cancellable = g_object_ref(cancellable);
    return self;
}

/* ---- a Peer object: a skeleton whose writes ask wgm-auth ----------------- */

#define WGM_TYPE_EXPORT_PEER (wgm_export_peer_get_type())
G_DECLARE_FINAL_TYPE(WgmExportPeer, wgm_export_peer, WGM, EXPORT_PEER, WgmDBusPeerSkeleton)

/* Knows its peer by key, not by pointer: a write authorized after the peer
 * left the mesh finds nothing (NotFound) instead of a freed WgmPeer. */
struct _WgmExportPeer {
    WgmDBusPeerSkeleton parent;
    WgmMesh            *mesh;
    GCancellable       *cancellable; /* the export's */
    WgmKey              key;
    char                short_key[WGM_KEY_SHORT_LEN + 1];
};

G_DEFINE_TYPE(WgmExportPeer, wgm_export_peer, WGM_DBUS_TYPE_PEER_SKELETON)

static HookedVTable peer_vtable;

/* The value of @name if it is one of @peer's statistics, else NULL. */
static GVariant *
statistic_value(const WgmPeer *peer, const char *name)
{
    if (g_str_equal(name, "LatestHandshake"))
        return g_variant_new_uint64((guint64)peer->last_handshake);
    if (g_str_equal(name, "RxBytes"))
        return g_variant_new_uint64(peer->rx_bytes);
    if (g_str_equal(name, "TxBytes"))
        return g_variant_new_uint64(peer->tx_bytes);
    if (g_str_equal(name, "Attempts"))
        return g_variant_new_uint32(peer->attempts);
    if (g_str_equal(name, "NextRetry"))
        return g_variant_new_uint64((guint64)peer->next_retry);
    return NULL;
}

/* Get and GetAll: statistics from the mesh, the rest from the skeleton.
 * A peer that left the mesh keeps what its skeleton last showed. */
static GVariant *
peer_get_property(GDBusConnection *connection,
                  const char      *sender,
                  const char      *object_path,
                  const char      *interface_name,
                  const char      *property_name,
                  GError         **error,
                  gpointer         user_data)
{
    WgmExportPeer *self  = WGM_EXPORT_PEER(user_data);
    const WgmPeer *peer  = wgm_mesh_lookup_peer(self->mesh, &self->key);
    GVariant      *value = peer ? statistic_value(peer, property_name) : NULL;

    if (value)
        return value;
    return peer_vtable.parent->get_property(
        connection, sender, object_path, interface_name, property_name, error, user_data);
}

/* GetManagedObjects and InterfacesAdded: the same. */
static GVariant *
wgm_export_peer_get_properties(GDBusInterfaceSkeleton *skeleton)
{
    WgmExportPeer *self = WGM_EXPORT_PEER(skeleton);
    const WgmPeer *peer = wgm_mesh_lookup_peer(self->mesh, &self->key);
    GVariant      *generated =
        G_DBUS_INTERFACE_SKELETON_CLASS(wgm_export_peer_parent_class)->get_properties(skeleton);
    GVariantBuilder builder;
    GVariantIter    iter;
    const char     *name;
    GVariant       *value;

    if (!peer)
        return generated;
    g_variant_ref_sink(generated);
    g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
    g_variant_iter_init(&iter, generated);
    while (g_variant_iter_next(&iter, "{&sv}", &name, &value)) {
        GVariant *fresh = statistic_value(peer, name);

        g_variant_builder_add(&builder, "{sv}", name, fresh ? fresh : value);
        g_variant_unref(value);
    }
    g_variant_unref(generated);
    /* Floating, as the generated function returns it. */
    return g_variant_builder_end(&builder);
}

static void
set_peer_property(gpointer object, GDBusMethodInvocation *invocation, const char *arg)
{
    WgmExportPeer   *self     = object;
    const char      *name     = call_name(invocation);
    g_autofree char *what     = g_strdup_printf("peer[%s]", self->short_key);
    g_autoptr(GVariant) value = set_value(invocation);
    g_autoptr(GVariant) old   = NULL;
    g_autoptr(GError) error   = NULL;
    gboolean ok;

    if (!g_str_equal(name, "Lazy")) {
        g_dbus_method_invocation_return_error(
            invocation, WGM_ERROR, WGM_ERROR_FAILED, "%s: cannot be written", name);
        return;
    }
    old = g_variant_ref_sink(g_variant_new_boolean(wgm_dbus_peer_get_lazy(WGM_DBUS_PEER(self))));
    ok  = wgm_mesh_set_peer_lazy(self->mesh, &self->key, g_variant_get_boolean(value), &error);
    finish_set(invocation, what, old, value, ok, error);
}

static GDBusInterfaceVTable *
wgm_export_peer_get_vtable(GDBusInterfaceSkeleton *skeleton)
{
    return hook_vtable(&peer_vtable,
                       G_DBUS_INTERFACE_SKELETON_CLASS(wgm_export_peer_parent_class),
                       skeleton,
                       hooked_method_call,
                       peer_get_property);
}

static void
wgm_export_peer_init(WgmExportPeer *self)
{
}

static void
wgm_export_peer_finalize(GObject *object)
{
    WgmExportPeer *self = WGM_EXPORT_PEER(object);

    g_clear_object(&self->mesh);
    g_clear_object(&self->cancellable);
    G_OBJECT_CLASS(wgm_export_peer_parent_class)->finalize(object);
}

static void
wgm_export_peer_class_init(WgmExportPeerClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize                        = wgm_export_peer_finalize;
    G_DBUS_INTERFACE_SKELETON_CLASS(klass)->get_vtable     = wgm_export_peer_get_vtable;
    G_DBUS_INTERFACE_SKELETON_CLASS(klass)->get_properties = wgm_export_peer_get_properties;
}

static WgmDBusPeer *
wgm_export_peer_new(WgmMesh *mesh, GCancellable *cancellable, const WgmPeer *peer)
{
    WgmExportPeer *self = g_object_new(WGM_TYPE_EXPORT_PEER, NULL);

    self->mesh        = g_object_ref(mesh);
    self->cancellable = g_object_ref(cancellable);
    self->key         = peer->public_key;
    g_strlcpy(self->short_key, peer->short_key, sizeof self->short_key);
    return WGM_DBUS_PEER(self);
}

static void
hooked_method_call(GDBusConnection       *connection,
                   const char            *sender,
                   const char            *object_path,
                   const char            *interface_name,
                   const char            *method_name,
                   GVariant              *parameters,
                   GDBusMethodInvocation *invocation,
                   gpointer               user_data)
{
    gboolean            is_mesh = WGM_IS_EXPORT_MESH(user_data);
    const HookedVTable *hooked  = is_mesh ? &mesh_vtable : &peer_vtable;

    if (!is_properties_set(interface_name, method_name)) {
        hooked->parent->method_call(connection,
                                    sender,
                                    object_path,
                                    interface_name,
                                    method_name,
                                    parameters,
                                    invocation,
                                    user_data);
    } else if (is_mesh) {
        authorize_then(user_data,
                       WGM_EXPORT_MESH(user_data)->cancellable,
                       invocation,
                       NULL,
                       set_mesh_property);
    } else {
        authorize_then(user_data,
                       WGM_EXPORT_PEER(user_data)->cancellable,
                       invocation,
                       NULL,
                       set_peer_property);
    }
}

/* ---- the export --------------------------------------------------------- */

struct _WgmDBusExport {
    GDBusConnection          *connection;
    WgmMesh                  *mesh;
    gulong                    changed_id;
    gulong                    peers_changed_id;
    gulong                    peer_added_id;
    gulong                    peer_removed_id;
    GCancellable             *cancellable;
    WgmExportMesh            *mesh_skeleton;
    GDBusObjectManagerServer *manager;
    GHashTable               *peer_objects; /* WgmPeer* -> WgmDBusObjectSkeleton* (owned) */

    /* Mesh.StatisticsRefreshRateMs; with a rate, the peers whose
     * statistics changed since the last flush, flushed by one timer no
     * sooner than the rate after the last flush. */
    guint       stats_rate_ms;
    GHashTable *stats_pending; /* set of WgmPeer* */
    GSource    *stats_timer;
    gint64      stats_flushed; /* monotonic, 0 = never */
};

static char *
endpoint_string(const WgmPeer *peer)
{
    char buf[WGM_IP_STRLEN];

    if (peer->has_reported_endpoint)
        return g_strdup(wgm_endpoint_to_string(&peer->reported_endpoint, buf));
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

/* What the skeleton holds of the statistics is what was last signalled
 * (reads never see it): setting them makes its next PropertiesChanged
 * carry those that changed since.  Traffic and handshake only grow (our
 * counters keep their history), so "unchanged since signalled" means
 * unchanged since any read too, and a client that reads once and then
 * follows signals stays right; Attempts and NextRetry go back and forth,
 * so only the timer flushes them. */
static void
sync_traffic(WgmDBusPeer *skeleton, const WgmPeer *peer)
{
    wgm_dbus_peer_set_latest_handshake(skeleton, peer->last_handshake);
    wgm_dbus_peer_set_rx_bytes(skeleton, peer->rx_bytes);
    wgm_dbus_peer_set_tx_bytes(skeleton, peer->tx_bytes);
}

static void
sync_statistics(WgmDBusPeer *skeleton, const WgmPeer *peer)
{
    sync_traffic(skeleton, peer);
    wgm_dbus_peer_set_attempts(skeleton, peer->attempts);
    wgm_dbus_peer_set_next_retry(skeleton, peer->next_retry);
}

/* Setting a generated property to its current value emits nothing, and the
 * skeleton coalesces the rest into one PropertiesChanged per main-loop
 * iteration: a poll that touches a peer costs at most one signal for it.
 * Name and allowed IPs are synced too: a new network map may change them
 * on a peer that keeps its key (and its object).  Of the statistics, the
 * traffic and handshake go along with a State change (a client that
 * follows State sees the handshake that made the peer Connected); the
 * rest is the timer's. */
static void
sync_peer(WgmDBusPeer *skeleton, const WgmPeer *peer)
{
    g_autofree char *endpoint = endpoint_string(peer);
    g_auto(GStrv) allowed_ips = allowed_ips_strv(peer);
    gboolean state_changed = wgm_dbus_peer_get_state_since(skeleton) != (guint64)peer->state_since;

    wgm_dbus_peer_set_name(skeleton, peer->name ?: "");
    wgm_dbus_peer_set_allowed_ips(skeleton, (const char *const *)allowed_ips);
    wgm_dbus_peer_set_state(skeleton, wgm_peer_state_to_string(peer->state));
    wgm_dbus_peer_set_state_since(skeleton, peer->state_since);
    wgm_dbus_peer_set_endpoint(skeleton, endpoint);
    wgm_dbus_peer_set_lazy(skeleton, peer->lazy);
    wgm_dbus_peer_set_last_error(skeleton, peer->last_error ?: "");
    if (state_changed)
        sync_traffic(skeleton, peer);
}

static void
sync_mesh(WgmDBusExport *self)
{
    WgmDBusMesh *skeleton = WGM_DBUS_MESH(self->mesh_skeleton);
    guint        n_idle, n_connecting, n_connected;

    wgm_mesh_count_states(self->mesh, &n_idle, &n_connecting, &n_connected);
    wgm_dbus_mesh_set_listen_port(skeleton, wgm_mesh_get_listen_port(self->mesh));
    wgm_dbus_mesh_set_peers_idle(skeleton, n_idle);
    wgm_dbus_mesh_set_peers_connecting(skeleton, n_connecting);
    wgm_dbus_mesh_set_peers_connected(skeleton, n_connected);
    wgm_dbus_mesh_set_last_network_change(skeleton,
                                          (guint64)wgm_mesh_get_last_network_change(self->mesh));
    wgm_dbus_mesh_set_backend_restarts(skeleton, wgm_mesh_get_backend_restarts(self->mesh));
    wgm_dbus_mesh_set_lazy_connections(skeleton, wgm_mesh_get_lazy_connections(self->mesh));
    wgm_dbus_mesh_set_inactivity_timeout(skeleton, wgm_mesh_get_inactivity_timeout(self->mesh));
}

static void
export_peer(WgmDBusExport *self, WgmPeer *peer)
{
    g_autofree char       *path     = g_strdup_printf(WGM_DBUS_PEER_PATH "/%u", peer->object_id);
    WgmDBusObjectSkeleton *object   = wgm_dbus_object_skeleton_new(path);
    g_autoptr(WgmDBusPeer) skeleton = wgm_export_peer_new(self->mesh, self->cancellable, peer);

    wgm_dbus_peer_set_public_key(skeleton, peer->public_key_b64);
    sync_peer(skeleton, peer);
    sync_statistics(skeleton, peer);
    wgm_dbus_object_skeleton_set_peer(object, skeleton);
    /* A removed peer's object still at this path is replaced. */
    g_dbus_object_manager_server_export(self->manager, G_DBUS_OBJECT_SKELETON(object));
    g_hash_table_insert(self->peer_objects, peer, object);
}

/* ---- statistics, at most every StatisticsRefreshRateMs ------------------ */

static gboolean
flush_statistics_cb(gpointer user_data)
{
    WgmDBusExport *self = user_data;
    GHashTableIter iter;
    gpointer       peer;

    self->stats_flushed = g_get_monotonic_time();
    g_hash_table_iter_init(&iter, self->stats_pending);
    while (g_hash_table_iter_next(&iter, &peer, NULL)) {
        WgmDBusObject *object = g_hash_table_lookup(self->peer_objects, peer);

        if (object)
            sync_statistics(wgm_dbus_object_peek_peer(object), peer);
        g_hash_table_iter_remove(&iter);
    }
    return G_SOURCE_CONTINUE;
}

/* The timer, if not armed yet: at the rate after the last flush. */
static void
schedule_flush(WgmDBusExport *self)
{
    gint64 due = self->stats_flushed + (gint64)self->stats_rate_ms * G_TIME_SPAN_MILLISECOND;

    if (!self->stats_timer)
        self->stats_timer = wgm_source_attach(
            wgm_ready_time_source_new(), flush_statistics_cb, self, "[wgm] statistics flush");
    if (g_source_get_ready_time(self->stats_timer) == -1)
        g_source_set_ready_time(self->stats_timer, MAX(due, g_get_monotonic_time()));
}

static void
set_statistics_rate(WgmDBusExport *self, guint rate_ms)
{
    GHashTableIter iter;
    gpointer       peer;

    self->stats_rate_ms = rate_ms;
    wgm_dbus_mesh_set_statistics_refresh_rate_ms(WGM_DBUS_MESH(self->mesh_skeleton), rate_ms);
    g_hash_table_remove_all(self->stats_pending);
    if (rate_ms == 0) {
        if (self->stats_timer)
            g_source_set_ready_time(self->stats_timer, -1);
        return;
    }
    /* Whatever changed while nobody was told is told at the next flush;
     * a changed rate applies from there on. */
    g_hash_table_iter_init(&iter, self->peer_objects);
    while (g_hash_table_iter_next(&iter, &peer, NULL))
        g_hash_table_add(self->stats_pending, peer);
    if (self->stats_timer)
        g_source_set_ready_time(self->stats_timer, -1);
    schedule_flush(self);
}

/* ---- following the mesh ------------------------------------------------- */

static void
mesh_changed_cb(WgmMesh *mesh, WgmDBusExport *self)
{
    sync_mesh(self);
}

static void
peers_changed_cb(WgmMesh *mesh, gpointer peers_ptr, WgmDBusExport *self)
{
    GPtrArray *peers = peers_ptr;

    for (guint i = 0; i < peers->len; i++) {
        WgmPeer       *peer   = peers->pdata[i];
        WgmDBusObject *object = g_hash_table_lookup(self->peer_objects, peer);

        if (!object)
            continue;
        sync_peer(wgm_dbus_object_peek_peer(object), peer);
        if (self->stats_rate_ms > 0) {
            g_hash_table_add(self->stats_pending, peer);
            schedule_flush(self);
        }
    }
}

static void
peer_added_cb(WgmMesh *mesh, gpointer peer, WgmDBusExport *self)
{
    g_return_if_fail(!g_hash_table_contains(self->peer_objects, peer));
    export_peer(self, peer);
}

/* The WgmPeer is freed right after this signal: nothing may keep it. */
static void
peer_removed_cb(WgmMesh *mesh, gpointer peer, WgmDBusExport *self)
{
    GDBusObject *object = g_hash_table_lookup(self->peer_objects, peer);
    const char  *path;
    g_autoptr(GDBusObject) current = NULL;

    if (!object)
        return;
    path    = g_dbus_object_get_object_path(object);
    current = g_dbus_object_manager_get_object(G_DBUS_OBJECT_MANAGER(self->manager), path);
    /* A peer added first at the same path has replaced this object already. */
    if (current == object)
        g_dbus_object_manager_server_unexport(self->manager, path);
    g_hash_table_remove(self->stats_pending, peer);
    g_hash_table_remove(self->peer_objects, peer);
}

static void
connect_signals(WgmDBusExport *self)
{
    self->changed_id = g_signal_connect(self->mesh, "changed", G_CALLBACK(mesh_changed_cb), self);
    self->peers_changed_id =
        g_signal_connect(self->mesh, "peers-changed", G_CALLBACK(peers_changed_cb), self);
    self->peer_added_id =
        g_signal_connect(self->mesh, "peer-added", G_CALLBACK(peer_added_cb), self);
    self->peer_removed_id =
        g_signal_connect(self->mesh, "peer-removed", G_CALLBACK(peer_removed_cb), self);
}

WgmDBusExport *
wgm_dbus_export_new(GDBusConnection *connection,
                    WgmMesh         *mesh,
                    const char      *profile_uuid,
                    GError         **error)
{
    WgmDBusExport *self    = g_new0(WgmDBusExport, 1);
    GPtrArray     *peers   = wgm_mesh_get_peers(mesh);
    WgmBackend    *backend = wgm_mesh_get_backend(mesh);

    self->connection    = g_object_ref(connection);
    self->mesh          = g_object_ref(mesh);
    self->cancellable   = g_cancellable_new();
    self->peer_objects  = g_hash_table_new_full(NULL, NULL, NULL, g_object_unref);
    self->stats_pending = g_hash_table_new(NULL, NULL);

    /* A GDBusObjectManagerServer will not manage an object at its own path,
     * so the Mesh interface is exported directly on the manager's path. */
    self->mesh_skeleton         = wgm_export_mesh_new(mesh, self->cancellable);
    self->mesh_skeleton->export = self;
    wgm_dbus_mesh_set_interface(WGM_DBUS_MESH(self->mesh_skeleton),
                                wgm_backend_get_ifname(backend));
    wgm_dbus_mesh_set_backend(WGM_DBUS_MESH(self->mesh_skeleton), wgm_backend_get_name(backend));
    sync_mesh(self);
    wgm_dbus_export_set_profile_status(self, NULL, NULL);
    if (!g_dbus_interface_skeleton_export(
            G_DBUS_INTERFACE_SKELETON(self->mesh_skeleton), connection, WGM_DBUS_PATH, error)) {
        g_prefix_error(error, "exporting %s: ", WGM_DBUS_PATH);
        wgm_dbus_export_free(self);
        return NULL;
    }
    /* Set after the export, so that its PropertiesChanged goes out
     * whatever the skeleton does with changes made before (it sends them
     * too, on its next idle): a client waiting for the mesh of a profile
     * (the editor) learns of it without polling. */
    wgm_dbus_mesh_set_connection(WGM_DBUS_MESH(self->mesh_skeleton),
                                 profile_uuid ? profile_uuid : "");

    self->manager = g_dbus_object_manager_server_new(WGM_DBUS_PATH);
    for (guint i = 0; i < peers->len; i++)
        export_peer(self, peers->pdata[i]);
    g_dbus_object_manager_server_set_connection(self->manager, connection);

    connect_signals(self);
    return self;
}

void
wgm_dbus_export_set_profile_status(WgmDBusExport     *self,
                                   const char *const *pending_reconnect,
                                   const char        *last_error)
{
    static const char *const none[] = { NULL };
    WgmDBusMesh             *mesh   = WGM_DBUS_MESH(self->mesh_skeleton);

    wgm_dbus_mesh_set_pending_reconnect(mesh, pending_reconnect ? pending_reconnect : none);
    wgm_dbus_mesh_set_last_error(mesh, last_error ? last_error : "");
}

void
wgm_dbus_export_free(WgmDBusExport *self)
{
    if (!self)
        return;
    g_clear_signal_handler(&self->changed_id, self->mesh);
    g_clear_signal_handler(&self->peers_changed_id, self->mesh);
    g_clear_signal_handler(&self->peer_added_id, self->mesh);
    g_clear_signal_handler(&self->peer_removed_id, self->mesh);
    g_cancellable_cancel(self->cancellable);
    wgm_clear_source(&self->stats_timer);
    if (self->mesh_skeleton)
        self->mesh_skeleton->export = NULL;
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
    g_clear_pointer(&self->peer_objects, g_hash_table_unref);
    g_clear_pointer(&self->stats_pending, g_hash_table_unref);
    g_clear_object(&self->cancellable);
    g_clear_object(&self->mesh);
    g_clear_object(&self->connection);
    g_free(self);
}
