/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-test-vpn.h"

#include <unistd.h>

#include "wgm-dbus-export.h"
#include "wgm-test-util.h"

#define VPN_PATH        "/org/freedesktop/NetworkManager/VPN/Plugin"
#define VPN_IFACE       "org.freedesktop.NetworkManager.VPN.Plugin"
#define CALL_TIMEOUT_MS 30000

struct _WgmTestVpn {
    GDBusConnection *connection;
    char            *bus_name;
    guint            subscription;
    guint            props_subscription;
    GQueue           signals; /* of Signal* */
};

typedef struct {
    char     *name;
    GVariant *params;
} Signal;

static void
signal_free(Signal *s)
{
    g_free(s->name);
    g_variant_unref(s->params);
    g_free(s);
}

static void
on_signal(GDBusConnection *connection,
          const char      *sender,
          const char      *path,
          const char      *iface,
          const char      *name,
          GVariant        *params,
          gpointer         user_data)
{
    WgmTestVpn *vpn = user_data;
    Signal     *s   = g_new0(Signal, 1);

    /* Property changes are told apart by the object they come from. */
    if (g_str_equal(name, "PropertiesChanged"))
        s->name = g_strconcat(name, ":", path, NULL);
    else
        s->name = g_strdup(name);
    s->params = g_variant_ref(params);
    g_queue_push_tail(&vpn->signals, s);
}

WgmTestVpn *
wgm_test_vpn_new(const char *bus_address, const char *bus_name)
{
    WgmTestVpn *vpn         = g_new0(WgmTestVpn, 1);
    g_autoptr(GError) error = NULL;

    vpn->connection = wgm_test_dbus_connect(bus_address, &error);
    g_assert_no_error(error);
    vpn->bus_name     = g_strdup(bus_name);
    vpn->subscription = g_dbus_connection_signal_subscribe(vpn->connection,
                                                           NULL,
                                                           VPN_IFACE,
                                                           NULL,
                                                           VPN_PATH,
                                                           NULL,
                                                           G_DBUS_SIGNAL_FLAGS_NONE,
                                                           on_signal,
                                                           vpn,
                                                           NULL);
    vpn->props_subscription =
        g_dbus_connection_signal_subscribe(vpn->connection,
                                           NULL,
                                           "org.freedesktop.DBus.Properties",
                                           "PropertiesChanged",
                                           NULL,
                                           "org.freedesktop.NetworkManager.wgmesh.Peer",
                                           G_DBUS_SIGNAL_FLAGS_NONE,
                                           on_signal,
                                           vpn,
                                           NULL);
    g_queue_init(&vpn->signals);
    return vpn;
}

void
wgm_test_vpn_free(WgmTestVpn *vpn)
{
    if (!vpn)
        return;
    g_dbus_connection_signal_unsubscribe(vpn->connection, vpn->subscription);
    g_dbus_connection_signal_unsubscribe(vpn->connection, vpn->props_subscription);
    g_queue_clear_full(&vpn->signals, (GDestroyNotify)signal_free);
    g_dbus_connection_close_sync(vpn->connection, NULL, NULL);
    g_object_unref(vpn->connection);
    g_free(vpn->bus_name);
    g_free(vpn);
}

GDBusConnection *
wgm_test_vpn_get_connection(WgmTestVpn *vpn)
{
    return vpn->connection;
}

GVariant *
wgm_test_vpn_connection_new(const char *id, const char *const *data, const char *const *secrets)
{
    g_autoptr(NMConnection) connection = nm_simple_connection_new();
    g_autofree char *uuid              = nm_utils_uuid_generate();
    NMSetting       *s_con             = nm_setting_connection_new();
    NMSetting       *s_vpn             = nm_setting_vpn_new();

    g_object_set(s_con,
                 NM_SETTING_CONNECTION_ID,
                 id,
                 NM_SETTING_CONNECTION_UUID,
                 uuid,
                 NM_SETTING_CONNECTION_TYPE,
                 NM_SETTING_VPN_SETTING_NAME,
                 NULL);
    g_object_set(s_vpn, NM_SETTING_VPN_SERVICE_TYPE, "org.freedesktop.NetworkManager.wgmesh", NULL);
    for (guint i = 0; data && data[i]; i += 2)
        nm_setting_vpn_add_data_item(NM_SETTING_VPN(s_vpn), data[i], data[i + 1]);
    for (guint i = 0; secrets && secrets[i]; i += 2)
        nm_setting_vpn_add_secret(NM_SETTING_VPN(s_vpn), secrets[i], secrets[i + 1]);
    nm_connection_add_setting(connection, s_con);
    nm_connection_add_setting(connection, s_vpn);
    return g_variant_ref_sink(nm_connection_to_dbus(connection, NM_CONNECTION_SERIALIZE_ALL));
}

static GVariant *
call(WgmTestVpn *vpn, const char *method, GVariant *params, const char *reply_type, GError **error)
{
    return g_dbus_connection_call_sync(vpn->connection,
                                       vpn->bus_name,
                                       VPN_PATH,
                                       VPN_IFACE,
                                       method,
                                       params,
                                       reply_type ? G_VARIANT_TYPE(reply_type) : NULL,
                                       G_DBUS_CALL_FLAGS_NONE,
                                       CALL_TIMEOUT_MS,
                                       NULL,
                                       error);
}

gboolean
wgm_test_vpn_connect(WgmTestVpn *vpn, GVariant *connection, GError **error)
{
    g_autoptr(GVariant) reply =
        call(vpn, "Connect", g_variant_new("(@a{sa{sv}})", connection), "()", error);

    return reply != NULL;
}

gboolean
wgm_test_vpn_connect_interactive(WgmTestVpn *vpn, GVariant *connection, GError **error)
{
    g_autoptr(GVariant) reply = call(
        vpn,
        "ConnectInteractive",
        g_variant_new(
            "(@a{sa{sv}}@a{sv})", connection, g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
        "()",
        error);

    return reply != NULL;
}

gboolean
wgm_test_vpn_new_secrets(WgmTestVpn *vpn, GVariant *connection, GError **error)
{
    g_autoptr(GVariant) reply =
        call(vpn, "NewSecrets", g_variant_new("(@a{sa{sv}})", connection), "()", error);

    return reply != NULL;
}

char *
wgm_test_vpn_connection_get_uuid(GVariant *connection)
{
    g_autoptr(GVariant) s_con = g_variant_lookup_value(connection, "connection", NULL);
    char *uuid                = NULL;

    g_assert_nonnull(s_con);
    g_assert_true(g_variant_lookup(s_con, "uuid", "s", &uuid));
    return uuid;
}

char *
wgm_test_vpn_need_secrets(WgmTestVpn *vpn, GVariant *connection, GError **error)
{
    g_autoptr(GVariant) reply =
        call(vpn, "NeedSecrets", g_variant_new("(@a{sa{sv}})", connection), "(s)", error);
    char *name = NULL;

    if (!reply)
        return NULL;
    g_variant_get(reply, "(s)", &name);
    return name;
}

gboolean
wgm_test_vpn_disconnect(WgmTestVpn *vpn, GError **error)
{
    g_autoptr(GVariant) reply = call(vpn, "Disconnect", NULL, "()", error);

    return reply != NULL;
}

static gboolean
timeout_cb(gpointer user_data)
{
    *(gboolean *)user_data = TRUE;
    return G_SOURCE_REMOVE;
}

void
wgm_test_iterate(guint ms)
{
    gboolean done = FALSE;
    guint    id   = g_timeout_add(ms, timeout_cb, &done);

    while (!done)
        g_main_context_iteration(NULL, TRUE);
    (void)id;
}

static Signal *
take_signal(WgmTestVpn *vpn, const char *name)
{
    for (GList *l = vpn->signals.head; l; l = l->next) {
        Signal *s = l->data;

        if (g_str_equal(s->name, name)) {
            g_queue_delete_link(&vpn->signals, l);
            return s;
        }
    }
    return NULL;
}

GVariant *
wgm_test_vpn_wait_signal(WgmTestVpn *vpn, const char *name, guint timeout_ms)
{
    gboolean timed_out = FALSE;
    guint    id        = g_timeout_add(timeout_ms, timeout_cb, &timed_out);
    Signal  *s;

    while (!(s = take_signal(vpn, name)) && !timed_out)
        g_main_context_iteration(NULL, TRUE);
    if (!timed_out)
        g_source_remove(id);
    if (s) {
        GVariant *params = g_variant_ref(s->params);

        signal_free(s);
        return params;
    }
    return NULL;
}

GPtrArray *
wgm_test_vpn_take_signals(WgmTestVpn *vpn, const char *name)
{
    GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
    Signal    *s;

    while (g_main_context_iteration(NULL, FALSE))
        ;
    while ((s = take_signal(vpn, name))) {
        g_ptr_array_add(all, g_variant_ref(s->params));
        signal_free(s);
    }
    return all;
}

gboolean
wgm_test_vpn_has_signal(WgmTestVpn *vpn, const char *name)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
    for (GList *l = vpn->signals.head; l; l = l->next) {
        if (g_str_equal(((Signal *)l->data)->name, name))
            return TRUE;
    }
    return FALSE;
}

gboolean
wgm_test_vpn_wait_state(WgmTestVpn *vpn, guint state, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        gint64 left                = deadline - g_get_monotonic_time();
        g_autoptr(GVariant) params = NULL;
        guint got;

        if (left <= 0)
            return FALSE;
        params = wgm_test_vpn_wait_signal(vpn, "StateChanged", left / 1000 + 1);
        if (!params)
            return FALSE;
        g_variant_get(params, "(u)", &got);
        if (got == state)
            return TRUE;
    }
}

GVariant *
wgm_test_vpn_get_managed_objects(WgmTestVpn *vpn, GError **error)
{
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(vpn->connection,
                                                            vpn->bus_name,
                                                            WGM_DBUS_PATH,
                                                            "org.freedesktop.DBus.ObjectManager",
                                                            "GetManagedObjects",
                                                            NULL,
                                                            G_VARIANT_TYPE("(a{oa{sa{sv}}})"),
                                                            G_DBUS_CALL_FLAGS_NONE,
                                                            CALL_TIMEOUT_MS,
                                                            NULL,
                                                            error);

    return reply ? g_variant_get_child_value(reply, 0) : NULL;
}

GVariant *
wgm_test_vpn_get_mesh(WgmTestVpn *vpn, GError **error)
{
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        vpn->connection,
        vpn->bus_name,
        WGM_DBUS_PATH,
        "org.freedesktop.DBus.Properties",
        "GetAll",
        g_variant_new("(s)", "org.freedesktop.NetworkManager.wgmesh.Mesh"),
        G_VARIANT_TYPE("(a{sv})"),
        G_DBUS_CALL_FLAGS_NONE,
        CALL_TIMEOUT_MS,
        NULL,
        error);

    return reply ? g_variant_get_child_value(reply, 0) : NULL;
}

GHashTable *
wgm_test_vpn_get_peers(WgmTestVpn *vpn, GError **error)
{
    g_autoptr(GVariant) objects = wgm_test_vpn_get_managed_objects(vpn, error);
    GHashTable  *peers;
    GVariantIter iter;
    GVariant    *ifaces;
    const char  *path;

    if (!objects)
        return NULL;
    peers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
    g_variant_iter_init(&iter, objects);
    while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
        g_autoptr(GVariant) props = g_variant_lookup_value(
            ifaces, "org.freedesktop.NetworkManager.wgmesh.Peer", G_VARIANT_TYPE_VARDICT);
        const char *key;

        g_variant_unref(ifaces);
        if (!props || !g_variant_lookup(props, "PublicKey", "&s", &key))
            continue;
        g_assert_true(g_str_has_prefix(path, WGM_DBUS_PEER_PATH "/"));
        g_hash_table_insert(peers, g_strdup(key), g_steal_pointer(&props));
    }
    return peers;
}

static gboolean
peer_in_state(gpointer props, const char *state)
{
    const char *s = NULL;

    return props && g_variant_lookup(props, "State", "&s", &s) && g_str_equal(s, state);
}

GHashTable *
wgm_test_vpn_wait_peer_state(WgmTestVpn *vpn,
                             const char *public_key,
                             const char *state,
                             guint       timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    do {
        g_autoptr(GHashTable) peers = wgm_test_vpn_get_peers(vpn, NULL);
        gboolean done               = peers && g_hash_table_size(peers) > 0;

        if (done && public_key) {
            done = peer_in_state(g_hash_table_lookup(peers, public_key), state);
        } else if (done) {
            GHashTableIter iter;
            gpointer       props;

            g_hash_table_iter_init(&iter, peers);
            while (done && g_hash_table_iter_next(&iter, NULL, &props))
                done = peer_in_state(props, state);
        }
        if (done)
            return g_steal_pointer(&peers);
        wgm_test_iterate(50);
    } while (g_get_monotonic_time() < deadline);
    return NULL;
}

gboolean
wgm_test_vpn_wait_peers_state(WgmTestVpn *vpn, const char *state, guint timeout_ms)
{
    g_autoptr(GHashTable) peers = wgm_test_vpn_wait_peer_state(vpn, NULL, state, timeout_ms);

    return peers != NULL;
}

void
wgm_test_harness_start_service(WgmTestHarness    *harness,
                               const char *const *prefix_argv,
                               const char        *bus_name,
                               gboolean           debug)
{
    /* A service run as root never runs in the host's namespaces, even for
     * tests that expect it to refuse a profile before touching anything: a
     * network and mount namespace of its own (dropped with it), a private
     * /run.  The bus is a socket path, so it is reached from there. */
    static const char *const isolated[] = {
        "unshare", "--net",
        "--mount", "--propagation",
        "slave",   "sh",
        "-c",      "mount -t tmpfs tmpfs /run && mkdir -p /run/wireguard && exec \"$@\"",
        "sh",      NULL,
    };
    g_autoptr(GError) error = NULL;

    if (!prefix_argv && geteuid() == 0)
        prefix_argv = isolated;
    harness->service = wgm_test_service_spawn(harness->bus, prefix_argv, bus_name, debug, &error);
    g_assert_no_error(error);
    harness->vpn = wgm_test_vpn_new(wgm_test_bus_get_address(harness->bus), bus_name);
}

void
wgm_test_harness_clear(WgmTestHarness *harness)
{
    g_clear_pointer(&harness->vpn, wgm_test_vpn_free);
    g_clear_pointer(&harness->service, wgm_test_service_free);
    g_clear_pointer(&harness->bus, wgm_test_bus_free);
    g_clear_pointer(&harness->net, wgm_test_net_free);
}
