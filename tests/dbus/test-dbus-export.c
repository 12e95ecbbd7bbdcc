/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgm-dbus-export follows the mesh's signals: a mesh on the stand-in backend
 * (tests/unit/fake-backend.c) and a fake clock, exported on a private bus
 * and read back over it by a second connection of this process, as any
 * client would.  No root, no wireguard-go.
 */
#include "config.h"

#include <string.h>

#include "fake-backend.h"
#include "wgm-dbus-export.h"
#include "wgm-settings-keys.h"
#include "wgm-test-bus.h"
#include "wgm-test-util.h"

#define SEC   G_USEC_PER_SEC
#define MONO0 FAKE_MONO0
#define REAL0 FAKE_REAL0
#define AT(s) (MONO0 + (gint64)((s)*SEC))

#define PROFILE_UUID "5b1e3a4c-7f0d-4e2b-9a61-0c8d2f3e4b5a"

#define PEER_IFACE "org.freedesktop.NetworkManager.wgmesh.Peer"
#define MESH_IFACE "org.freedesktop.NetworkManager.wgmesh.Mesh"

typedef struct {
    gint64           mono;
    WgmTestBus      *bus;
    GDBusConnection *service; /* the export's */
    GDBusConnection *client;
    FakeBackend     *backend;
    WgmMesh         *mesh;
    WgmDBusExport *export;
    guint    n_peers_changed;      /* seen by a second observer */
    gboolean connection_signalled; /* PropertiesChanged carried Mesh.Connection */
} Fixture;

static char *
peer_key_b64(guint i)
{
    WgmKey key;
    char   b64[WGM_KEY_B64_LEN + 1];

    fake_peer_key(i, &key);
    wgm_key_to_base64(&key, b64);
    return g_strdup(b64);
}

/* Peers peer.N for each N in @indices (0-terminated), named "p<N>"; peer
 * @renamed (if any) is named "renamed" and routes one more prefix. */
static WgmConfig *
make_config(const guint *indices, guint renamed)
{
    g_autoptr(NMSettingVpn) s = fake_vpn_setting_new();
    g_autoptr(GError) error   = NULL;
    WgmConfig *config;

    for (guint j = 0; indices[j]; j++) {
        guint            i     = indices[j];
        g_autofree char *pub   = peer_key_b64(i);
        g_autofree char *k_pub = g_strdup_printf("peer.%u.public-key", i);
        g_autofree char *k_ep  = g_strdup_printf("peer.%u.endpoint", i);
        g_autofree char *k_ips = g_strdup_printf("peer.%u.allowed-ips", i);
        g_autofree char *k_nam = g_strdup_printf("peer.%u.name", i);
        g_autofree char *ep    = g_strdup_printf("192.0.2.%u:51820", i);
        g_autofree char *ips   = i == renamed ? g_strdup_printf("10.0.0.%u/32, 10.9.0.0/16", i + 1)
                                              : g_strdup_printf("10.0.0.%u/32", i + 1);
        g_autofree char *name  = i == renamed ? g_strdup("renamed") : g_strdup_printf("p%u", i);

        nm_setting_vpn_add_data_item(s, k_pub, pub);
        nm_setting_vpn_add_data_item(s, k_ep, ep);
        nm_setting_vpn_add_data_item(s, k_ips, ips);
        nm_setting_vpn_add_data_item(s, k_nam, name);
    }
    config = wgm_config_new_from_setting(s, &error);
    g_assert_no_error(error);
    return config;
}

static void
peers_changed_cb(WgmMesh *mesh, gpointer peers, Fixture *f)
{
    f->n_peers_changed++;
}

/* A client waiting for its profile's mesh (the editor) hears of it. */
static void
mesh_changed_cb(GDBusConnection *bus,
                const char      *sender,
                const char      *path,
                const char      *interface,
                const char      *signal,
                GVariant        *parameters,
                gpointer         user_data)
{
    Fixture *f                  = user_data;
    g_autoptr(GVariant) changed = g_variant_get_child_value(parameters, 1);
    const char *uuid;

    if (g_variant_lookup(changed, "Connection", "&s", &uuid) && strcmp(uuid, PROFILE_UUID) == 0)
        f->connection_signalled = TRUE;
}

static void
started_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(wgm_mesh_start_finish(WGM_MESH(source), result, &error));
    g_assert_no_error(error);
    *(gboolean *)user_data = TRUE;
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    static const guint indices[] = { 1, 2, 0 };
    g_autoptr(WgmConfig) config  = make_config(indices, 0);
    g_autoptr(GError) error      = NULL;
    WgmMeshClock clock           = fake_clock(&f->mono);
    gboolean     started         = FALSE;

    f->bus = wgm_test_bus_new(&error);
    g_assert_no_error(error);
    f->service = wgm_test_dbus_connect(wgm_test_bus_get_address(f->bus), &error);
    g_assert_no_error(error);
    f->client = wgm_test_dbus_connect(wgm_test_bus_get_address(f->bus), &error);
    g_assert_no_error(error);

    g_dbus_connection_signal_subscribe(f->client,
                                       NULL,
                                       "org.freedesktop.DBus.Properties",
                                       "PropertiesChanged",
                                       WGM_DBUS_PATH,
                                       "org.freedesktop.NetworkManager.wgmesh.Mesh",
                                       G_DBUS_SIGNAL_FLAGS_NONE,
                                       mesh_changed_cb,
                                       f,
                                       NULL);
    f->mono    = MONO0;
    f->backend = fake_backend_new();
    f->mesh    = wgm_mesh_new(WGM_BACKEND(f->backend), config);
    wgm_mesh_set_clock(f->mesh, &clock, 1234);
    /* Exported before the start, as the plugin does. */
    f->export = wgm_dbus_export_new(f->service, f->mesh, PROFILE_UUID, &error);
    g_assert_no_error(error);
    g_signal_connect(f->mesh, "peers-changed", G_CALLBACK(peers_changed_cb), f);
    wgm_mesh_start_async(f->mesh, NULL, started_cb, &started);
    while (!started)
        g_main_context_iteration(NULL, TRUE);
    fake_iterate();
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    g_clear_pointer(&f->export, wgm_dbus_export_free);
    if (f->mesh)
        wgm_mesh_stop(f->mesh);
    fake_iterate();
    g_clear_object(&f->mesh);
    g_clear_object(&f->backend);
    if (f->client)
        g_dbus_connection_close_sync(f->client, NULL, NULL);
    if (f->service)
        g_dbus_connection_close_sync(f->service, NULL, NULL);
    g_clear_object(&f->client);
    g_clear_object(&f->service);
    g_clear_pointer(&f->bus, wgm_test_bus_free);
}

/* Runs the scheduler on the fake clock up to @t seconds after start. */
static void
run_until(Fixture *f, double t)
{
    fake_run_until(f->mesh, &f->mono, AT(t));
}

static void
call_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    *(GAsyncResult **)user_data = g_object_ref(result);
}

/* A call from the client; the export answers from this very main loop. */
static GVariant *
client_call(Fixture *f, const char *path, const char *iface, const char *method, GVariant *params)
{
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GError) error        = NULL;
    GVariant *reply;

    g_dbus_connection_call(f->client,
                           g_dbus_connection_get_unique_name(f->service),
                           path,
                           iface,
                           method,
                           params,
                           NULL,
                           G_DBUS_CALL_FLAGS_NONE,
                           10000,
                           NULL,
                           call_done_cb,
                           &result);
    while (!result)
        g_main_context_iteration(NULL, TRUE);
    reply = g_dbus_connection_call_finish(f->client, result, &error);
    g_assert_no_error(error);
    return reply;
}

/* Peer property dicts by path, as GetManagedObjects shows them. */
static GHashTable *
get_peers(Fixture *f)
{
    g_autoptr(GVariant) reply = client_call(
        f, WGM_DBUS_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL);
    GHashTable *peers =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
    g_autoptr(GVariant) objects = g_variant_get_child_value(reply, 0);
    GVariantIter iter;
    const char  *path;
    GVariant    *ifaces;

    g_variant_iter_init(&iter, objects);
    while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
        GVariant *props = g_variant_lookup_value(ifaces, PEER_IFACE, G_VARIANT_TYPE_VARDICT);

        g_assert_nonnull(props);
        g_hash_table_insert(peers, g_strdup(path), props);
        g_variant_unref(ifaces);
    }
    return peers;
}

static GVariant *
get_mesh(Fixture *f)
{
    g_autoptr(GVariant) reply = client_call(f,
                                            WGM_DBUS_PATH,
                                            "org.freedesktop.DBus.Properties",
                                            "GetAll",
                                            g_variant_new("(s)", MESH_IFACE));

    return g_variant_get_child_value(reply, 0);
}

static const char *
peer_string(GHashTable *peers, guint i, const char *prop)
{
    g_autofree char *path  = g_strdup_printf(WGM_DBUS_PEER_PATH "/%u", i);
    GVariant        *props = g_hash_table_lookup(peers, path);
    const char      *s     = NULL;

    g_assert_nonnull(props);
    g_assert_true(g_variant_lookup(props, prop, "&s", &s));
    return s;
}

static void
test_peers_changed(Fixture *f, gconstpointer data)
{
    g_autoptr(GHashTable) peers = get_peers(f);
    g_autoptr(GVariant) mesh    = get_mesh(f);
    g_autofree char *pub1       = peer_key_b64(1);
    guint            n_seen;
    guint32          u;
    WgmKey           k;
    const char      *s;

    /* Which profile this mesh is (the editor finds its bus name by it). */
    g_assert_true(g_variant_lookup(mesh, "Connection", "&s", &s));
    g_assert_cmpstr(s, ==, PROFILE_UUID);
    /* ... and says so once exported, for a client that waits for it. */
    g_assert_true(f->connection_signalled);
    g_assert_cmpuint(g_hash_table_size(peers), ==, 2);
    g_assert_cmpstr(peer_string(peers, 1, "PublicKey"), ==, pub1);
    g_assert_cmpstr(peer_string(peers, 1, "Name"), ==, "p1");
    g_assert_cmpstr(peer_string(peers, 1, "State"), ==, "connecting");
    g_assert_true(g_variant_lookup(mesh, "PeersConnecting", "u", &u));
    g_assert_cmpuint(u, ==, 2);
    g_assert_true(g_variant_lookup(mesh, "BackendRestarts", "u", &u));
    g_assert_cmpuint(u, ==, 0);

    /* Peer 1 connects: its object and the Mesh counts follow, and another
     * observer of the mesh sees the same changes (the export clears
     * nothing). */
    n_seen = f->n_peers_changed;
    fake_peer_key(1, &k);
    fake_backend_set_peer(f->backend, &k, fake_clock_real(&f->mono), 92, 148);
    run_until(f, 2);
    g_assert_cmpuint(f->n_peers_changed, >, n_seen);
    g_clear_pointer(&peers, g_hash_table_unref);
    peers = get_peers(f);
    g_assert_cmpstr(peer_string(peers, 1, "State"), ==, "connected");
    g_assert_cmpstr(peer_string(peers, 2, "State"), ==, "connecting");
    g_clear_pointer(&mesh, g_variant_unref);
    mesh = get_mesh(f);
    g_assert_true(g_variant_lookup(mesh, "PeersConnected", "u", &u));
    g_assert_cmpuint(u, ==, 1);
}

static void
test_set_peers(Fixture *f, gconstpointer data)
{
    static const guint next_indices[] = { 1, 3, 0 };
    g_autoptr(WgmConfig) next         = make_config(next_indices, 1);
    g_autoptr(GHashTable) peers       = NULL;
    g_autoptr(GVariant) mesh          = NULL;
    g_autofree char        *pub3      = peer_key_b64(3);
    g_autofree const char **ips       = NULL;
    GVariant               *p1;
    guint32                 u;

    /* 1 stays (renamed, one more prefix), 2 goes, 3 comes. */
    wgm_mesh_set_peers(f->mesh, next);
    run_until(f, 1);
    peers = get_peers(f);
    g_assert_cmpuint(g_hash_table_size(peers), ==, 2);
    g_assert_false(g_hash_table_contains(peers, WGM_DBUS_PEER_PATH "/2"));
    g_assert_cmpstr(peer_string(peers, 1, "Name"), ==, "renamed");
    p1 = g_hash_table_lookup(peers, WGM_DBUS_PEER_PATH "/1");
    g_assert_true(g_variant_lookup(p1, "AllowedIPs", "^a&s", &ips));
    g_assert_cmpuint(g_strv_length((char **)ips), ==, 2);
    g_assert_cmpstr(peer_string(peers, 3, "PublicKey"), ==, pub3);
    g_assert_cmpstr(peer_string(peers, 3, "Name"), ==, "p3");
    mesh = get_mesh(f);
    g_assert_true(g_variant_lookup(mesh, "PeersConnecting", "u", &u));
    g_assert_cmpuint(u, ==, 2);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/dbus-export/peers-changed", test_peers_changed);
    ADD("/dbus-export/set-peers", test_set_peers);
#undef ADD

    return g_test_run();
}
