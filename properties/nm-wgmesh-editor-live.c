/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The peers' live state in the editor: while the profile is up, the
 * service that runs it (bus name org.freedesktop.NetworkManager.wgmesh or
 * ...wgmesh.Connection_N, told apart by Mesh.Connection, the profile's
 * UUID) publishes one object per peer; the editor follows them with an
 * object manager and shows State and LatestHandshake, updated on
 * PropertiesChanged.  Reading needs no privilege (the bus policy lets
 * anyone read).  Everything is asynchronous and cancelled with the editor.
 */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "nm-wgmesh-editor-private.h"

#include <string.h>

#include "wgm-settings-keys.h"

#define WGM_MESH_PATH       "/org/freedesktop/NetworkManager/wgmesh"
#define WGM_MESH_INTERFACE  WGM_VPN_SERVICE_TYPE ".Mesh"
#define WGM_PEER_INTERFACE  WGM_VPN_SERVICE_TYPE ".Peer"
#define WGM_REFRESH_SECONDS 5

struct _WgmEditorLive {
    WgmEditor       *editor;
    GCancellable    *cancellable; /* of everything; knows "wgm-live" until freed */
    GDBusConnection *bus;
    guint            name_watch;
    guint            mesh_watch;
    /* The service serving our profile: being attached (attach set, manager
     * NULL) or attached (both set); its unique name once known. */
    GCancellable       *attach;
    GDBusObjectManager *manager;
    char               *owner;
};

const char *
wgm_editor_live_state_label(const char *state)
{
    if (!state || !state[0])
        return "";
    if (strcmp(state, "idle") == 0)
        return _("Idle");
    if (strcmp(state, "connecting") == 0)
        return _("Connecting");
    if (strcmp(state, "connected") == 0)
        return _("Connected");
    return state;
}

char *
wgm_editor_live_handshake_label(gint64 latest_handshake_us, gint64 now_us)
{
    gint64 ago;

    if (latest_handshake_us <= 0)
        return g_strdup(_("never"));
    ago = MAX(now_us - latest_handshake_us, 0) / G_USEC_PER_SEC;
    if (ago < 60)
        return g_strdup_printf(g_dngettext(GETTEXT_PACKAGE, "%d second ago", "%d seconds ago", ago),
                               (int)ago);
    if (ago < 3600)
        return g_strdup_printf(
            g_dngettext(GETTEXT_PACKAGE, "%d minute ago", "%d minutes ago", ago / 60),
            (int)(ago / 60));
    if (ago < 86400)
        return g_strdup_printf(
            g_dngettext(GETTEXT_PACKAGE, "%d hour ago", "%d hours ago", ago / 3600),
            (int)(ago / 3600));
    return g_strdup_printf(g_dngettext(GETTEXT_PACKAGE, "%d day ago", "%d days ago", ago / 86400),
                           (int)(ago / 86400));
}

/* ---- peers ---- */

static void
show_peer(WgmEditorLive *live, GDBusProxy *proxy)
{
    g_autoptr(GVariant) key       = g_dbus_proxy_get_cached_property(proxy, "PublicKey");
    g_autoptr(GVariant) state     = g_dbus_proxy_get_cached_property(proxy, "State");
    g_autoptr(GVariant) handshake = g_dbus_proxy_get_cached_property(proxy, "LatestHandshake");
    WgmEditorPeer *peer;

    if (!key || !g_variant_is_of_type(key, G_VARIANT_TYPE_STRING))
        return;
    peer = wgm_editor_peers_find(live->editor, g_variant_get_string(key, NULL));
    if (!peer)
        return; /* not in the profile as edited (added or removed here) */
    if (state && g_variant_is_of_type(state, G_VARIANT_TYPE_STRING)) {
        g_free(peer->state);
        peer->state = g_variant_dup_string(state, NULL);
    }
    if (handshake && g_variant_is_of_type(handshake, G_VARIANT_TYPE_UINT64))
        peer->latest_handshake = (gint64)g_variant_get_uint64(handshake);
    wgm_editor_peers_refresh_row(live->editor, peer);
}

static void
show_object(WgmEditorLive *live, GDBusObject *object)
{
    g_autoptr(GDBusInterface) iface = g_dbus_object_get_interface(object, WGM_PEER_INTERFACE);

    if (iface)
        show_peer(live, G_DBUS_PROXY(iface));
}

static void
object_added_cb(GDBusObjectManager *manager, GDBusObject *object, WgmEditorLive *live)
{
    show_object(live, object);
}

static void
properties_changed_cb(GDBusObjectManagerClient *manager,
                      GDBusObjectProxy         *object,
                      GDBusProxy               *proxy,
                      GVariant                 *changed,
                      const char *const        *invalidated,
                      WgmEditorLive            *live)
{
    if (strcmp(g_dbus_proxy_get_interface_name(proxy), WGM_PEER_INTERFACE) == 0)
        show_peer(live, proxy);
}

/* Every peer back to "not running". */
static void
clear_states(WgmEditorLive *live)
{
    WgmEditor *self = live->editor;

    for (guint i = 0; self->peers && i < self->peers->len; i++) {
        WgmEditorPeer *peer = self->peers->pdata[i];

        g_free(peer->state);
        peer->state            = g_strdup("");
        peer->latest_handshake = 0;
    }
    if (self->peers_store)
        wgm_editor_peers_refresh_all(self);
}

static void
object_removed_cb(GDBusObjectManager *manager, GDBusObject *object, WgmEditorLive *live)
{
    g_autoptr(GDBusInterface) iface = g_dbus_object_get_interface(object, WGM_PEER_INTERFACE);
    g_autoptr(GVariant) key =
        iface ? g_dbus_proxy_get_cached_property(G_DBUS_PROXY(iface), "PublicKey") : NULL;
    WgmEditorPeer *peer;

    if (!key || !g_variant_is_of_type(key, G_VARIANT_TYPE_STRING))
        return;
    peer = wgm_editor_peers_find(live->editor, g_variant_get_string(key, NULL));
    if (!peer)
        return;
    g_free(peer->state);
    peer->state            = g_strdup("");
    peer->latest_handshake = 0;
    wgm_editor_peers_refresh_row(live->editor, peer);
}

static WgmEditorLive *
live_of(GCancellable *cancellable)
{
    return g_object_get_data(G_OBJECT(cancellable), "wgm-live");
}

/* The peers' latest handshakes, read fresh: the service signals them only
 * with a state change (Mesh.StatisticsRefreshRateMs is 0 unless root set
 * it), and WireGuard renews a session every two minutes. */
static void
objects_got_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GCancellable) attach = data;
    g_autoptr(GVariant) reply =
        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, NULL);
    g_autoptr(GVariant) objects = NULL;
    WgmEditorLive *live         = live_of(attach);
    GVariantIter   iter;
    GVariant      *interfaces;

    if (!reply || !live || attach != live->attach)
        return;
    objects = g_variant_get_child_value(reply, 0);
    g_variant_iter_init(&iter, objects);
    while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", NULL, &interfaces)) {
        g_autoptr(GVariant) owned = interfaces;
        g_autoptr(GVariant) props =
            g_variant_lookup_value(interfaces, WGM_PEER_INTERFACE, G_VARIANT_TYPE_VARDICT);
        const char    *key;
        guint64        handshake;
        WgmEditorPeer *peer;

        if (!props || !g_variant_lookup(props, "PublicKey", "&s", &key)
            || !g_variant_lookup(props, "LatestHandshake", "t", &handshake))
            continue;
        peer = wgm_editor_peers_find(live->editor, key);
        if (peer && peer->state[0])
            peer->latest_handshake = (gint64)handshake;
    }
    wgm_editor_peers_refresh_all(live->editor);
}

static gboolean
refresh_cb(gpointer data)
{
    WgmEditorLive *live = data;

    wgm_editor_peers_refresh_all(live->editor);
    if (live->manager && live->owner)
        g_dbus_connection_call(live->bus,
                               live->owner,
                               WGM_MESH_PATH,
                               "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects",
                               NULL,
                               G_VARIANT_TYPE("(a{oa{sa{sv}}})"),
                               G_DBUS_CALL_FLAGS_NO_AUTO_START,
                               -1,
                               live->attach,
                               objects_got_cb,
                               g_object_ref(live->attach));
    return G_SOURCE_CONTINUE;
}

static void
detach(WgmEditorLive *live)
{
    if (live->attach)
        g_cancellable_cancel(live->attach);
    g_clear_object(&live->attach);
    if (live->manager)
        g_signal_handlers_disconnect_by_data(live->manager, live);
    g_clear_object(&live->manager);
    g_clear_pointer(&live->owner, g_free);
    g_clear_handle_id(&live->editor->refresh_id, g_source_remove);
    clear_states(live);
}

static void
manager_ready_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GCancellable) attach        = data;
    g_autoptr(GError) error               = NULL;
    g_autoptr(GDBusObjectManager) manager = g_dbus_object_manager_client_new_finish(result, &error);
    g_autolist(GDBusObject) list          = NULL;
    WgmEditorLive *live                   = live_of(attach);

    /* Detached meanwhile (cancelled), or the editor is gone. */
    if (!live || g_cancellable_is_cancelled(attach) || attach != live->attach)
        return;
    if (!manager) {
        g_debug("cannot follow the mesh's peers: %s", error->message);
        g_clear_object(&live->attach);
        return;
    }
    live->manager = g_steal_pointer(&manager);
    live->owner =
        g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(live->manager));
    g_signal_connect(live->manager, "object-added", G_CALLBACK(object_added_cb), live);
    g_signal_connect(live->manager, "object-removed", G_CALLBACK(object_removed_cb), live);
    g_signal_connect(live->manager,
                     "interface-proxy-properties-changed",
                     G_CALLBACK(properties_changed_cb),
                     live);
    list = g_dbus_object_manager_get_objects(live->manager);
    for (GList *l = list; l; l = l->next)
        show_object(live, l->data);
    if (!live->editor->refresh_id)
        live->editor->refresh_id = g_timeout_add_seconds(WGM_REFRESH_SECONDS, refresh_cb, live);
}

/* Follows the peers of the service at @name (well-known or unique). */
static void
attach(WgmEditorLive *live, const char *name)
{
    detach(live);
    live->attach = g_cancellable_new();
    g_object_set_data(G_OBJECT(live->attach), "wgm-live", live);
    g_dbus_object_manager_client_new(live->bus,
                                     G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
                                     name,
                                     WGM_MESH_PATH,
                                     NULL,
                                     NULL,
                                     NULL,
                                     live->attach,
                                     manager_ready_cb,
                                     g_object_ref(live->attach));
}

/* ---- which service runs the profile ---- */

static void
connection_got_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GCancellable) cancellable = data;
    g_autoptr(GError) error             = NULL;
    g_autoptr(GVariant) reply =
        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
    g_autoptr(GVariant) value = NULL;
    WgmEditorLive *live       = live_of(cancellable);
    const char    *name       = g_object_get_data(G_OBJECT(cancellable), "wgm-probed");

    /* Not a mesh (yet: a service exports its Mesh at Connect, and then
     * signals Mesh.Connection), or the editor is gone. */
    if (!reply || !live || live->attach)
        return;
    g_variant_get(reply, "(v)", &value);
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)
        && g_strcmp0(g_variant_get_string(value, NULL), live->editor->uuid) == 0)
        attach(live, name);
}

static gboolean
is_mesh_name(const char *name)
{
    return strcmp(name, WGM_VPN_SERVICE_TYPE) == 0
           || g_str_has_prefix(name, WGM_VPN_SERVICE_TYPE ".");
}

/* Asks @name which profile its mesh runs (Mesh.Connection). */
static void
probe(WgmEditorLive *live, const char *name)
{
    /* A cancellable of its own carries the name; cancelled with the editor. */
    GCancellable *c = g_cancellable_new();

    g_object_set_data(G_OBJECT(c), "wgm-live", live);
    g_object_set_data_full(G_OBJECT(c), "wgm-probed", g_strdup(name), g_free);
    g_signal_connect_object(
        live->cancellable, "cancelled", G_CALLBACK(g_cancellable_cancel), c, G_CONNECT_SWAPPED);
    g_dbus_connection_call(live->bus,
                           name,
                           WGM_MESH_PATH,
                           "org.freedesktop.DBus.Properties",
                           "Get",
                           g_variant_new("(ss)", WGM_MESH_INTERFACE, "Connection"),
                           G_VARIANT_TYPE("(v)"),
                           G_DBUS_CALL_FLAGS_NO_AUTO_START,
                           -1,
                           c,
                           connection_got_cb,
                           c);
}

static void
names_listed_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply =
        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
    g_autofree const char **names = NULL;
    WgmEditorLive          *live  = data;

    if (!reply)
        return; /* cancelled: live is gone */
    g_variant_get(reply, "(^a&s)", &names);
    for (guint i = 0; names && names[i]; i++) {
        if (is_mesh_name(names[i]))
            probe(live, names[i]);
    }
}

static void
scan(WgmEditorLive *live)
{
    g_dbus_connection_call(live->bus,
                           "org.freedesktop.DBus",
                           "/org/freedesktop/DBus",
                           "org.freedesktop.DBus",
                           "ListNames",
                           NULL,
                           G_VARIANT_TYPE("(as)"),
                           G_DBUS_CALL_FLAGS_NONE,
                           -1,
                           live->cancellable,
                           names_listed_cb,
                           live);
}

static void
name_owner_changed_cb(GDBusConnection *bus,
                      const char      *sender,
                      const char      *path,
                      const char      *interface,
                      const char      *signal,
                      GVariant        *parameters,
                      gpointer         data)
{
    /* Signals already queued may arrive after unsubscribing: @data is the
     * cancellable, which knows the live state until it is freed. */
    WgmEditorLive *live = live_of(data);
    const char    *name, *old_owner, *new_owner;

    if (!live)
        return;
    g_variant_get(parameters, "(&s&s&s)", &name, &old_owner, &new_owner);
    if (!is_mesh_name(name))
        return;
    if (old_owner[0] && g_strcmp0(old_owner, live->owner) == 0) {
        /* Ours went: another one may run the profile now. */
        detach(live);
        scan(live);
    } else if (new_owner[0] && !live->attach) {
        probe(live, name);
    }
}

/* A mesh says which profile it runs (Mesh.Connection, set and signalled
 * once at Connect): it may be ours, just connected. */
static void
mesh_changed_cb(GDBusConnection *bus,
                const char      *sender,
                const char      *path,
                const char      *interface,
                const char      *signal,
                GVariant        *parameters,
                gpointer         data)
{
    WgmEditorLive *live         = live_of(data);
    g_autoptr(GVariant) changed = NULL;
    const char *uuid            = NULL;

    if (!live || live->attach || !sender
        || !g_variant_is_of_type(parameters, G_VARIANT_TYPE("(sa{sv}as)")))
        return;
    changed = g_variant_get_child_value(parameters, 1);
    if (g_variant_lookup(changed, "Connection", "&s", &uuid)
        && g_strcmp0(uuid, live->editor->uuid) == 0)
        attach(live, sender);
}

static void
bus_got_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    GDBusConnection *bus    = g_bus_get_finish(result, &error);
    WgmEditorLive   *live   = data;

    if (!bus) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_debug("no system bus: peers' live state is not shown: %s", error->message);
        return;
    }
    live->bus        = bus;
    live->name_watch = g_dbus_connection_signal_subscribe(bus,
                                                          "org.freedesktop.DBus",
                                                          "org.freedesktop.DBus",
                                                          "NameOwnerChanged",
                                                          "/org/freedesktop/DBus",
                                                          WGM_VPN_SERVICE_TYPE,
                                                          G_DBUS_SIGNAL_FLAGS_MATCH_ARG0_NAMESPACE,
                                                          name_owner_changed_cb,
                                                          g_object_ref(live->cancellable),
                                                          g_object_unref);
    live->mesh_watch = g_dbus_connection_signal_subscribe(bus,
                                                          NULL,
                                                          "org.freedesktop.DBus.Properties",
                                                          "PropertiesChanged",
                                                          WGM_MESH_PATH,
                                                          WGM_MESH_INTERFACE,
                                                          G_DBUS_SIGNAL_FLAGS_NONE,
                                                          mesh_changed_cb,
                                                          g_object_ref(live->cancellable),
                                                          g_object_unref);
    scan(live);
}

WgmEditorLive *
wgm_editor_live_new(WgmEditor *self)
{
    WgmEditorLive *live = g_new0(WgmEditorLive, 1);

    live->editor      = self;
    live->cancellable = g_cancellable_new();
    g_object_set_data(G_OBJECT(live->cancellable), "wgm-live", live);
    g_bus_get(G_BUS_TYPE_SYSTEM, live->cancellable, bus_got_cb, live);
    return live;
}

void
wgm_editor_live_free(WgmEditorLive *live)
{
    /* Callbacks still in flight see the cancellation (or no "wgm-live" on
     * their cancellable) and touch nothing. */
    g_object_set_data(G_OBJECT(live->cancellable), "wgm-live", NULL);
    g_cancellable_cancel(live->cancellable);
    g_clear_handle_id(&live->editor->refresh_id, g_source_remove); /* its data is @live */
    if (live->attach) {
        g_object_set_data(G_OBJECT(live->attach), "wgm-live", NULL);
        g_cancellable_cancel(live->attach);
    }
    g_clear_object(&live->attach);
    if (live->manager)
        g_signal_handlers_disconnect_by_data(live->manager, live);
    g_clear_object(&live->manager);
    if (live->name_watch)
        g_dbus_connection_signal_unsubscribe(live->bus, live->name_watch);
    if (live->mesh_watch)
        g_dbus_connection_signal_unsubscribe(live->bus, live->mesh_watch);
    g_clear_object(&live->bus);
    g_clear_object(&live->cancellable);
    g_free(live->owner);
    g_free(live);
}
