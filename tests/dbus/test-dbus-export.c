/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgm-dbus-export follows the mesh's signals: a mesh on the stand-in backend
 * (tests/unit/fake-backend.c) and a fake clock, exported on a private bus
 * and read back over it by a second connection of this process, as any
 * client would.  No wireguard-go; root only where a write is made as
 * another user (the signal budget's StatisticsRefreshRateMs).
 */
#include "config.h"

#include <string.h>

#include <unistd.h>

#include "fake-backend.h"
#include "wgm-auth.h"
#include "wgm-dbus-export.h"
#include "wgm-error.h"
#include "wgm-settings-keys.h"
#include "wgm-test-bus.h"
#include "wgm-test-polkit.h"
#include "wgm-test-util.h"

#define SEC   G_USEC_PER_SEC
#define MONO0 FAKE_MONO0
#define REAL0 FAKE_REAL0
#define AT(s) (MONO0 + (gint64)((s)*SEC))

#define PROFILE_UUID "5b1e3a4c-7f0d-4e2b-9a61-0c8d2f3e4b5a"

#define PEER_IFACE  "org.freedesktop.NetworkManager.wgmesh.Peer"
#define MESH_IFACE  "org.freedesktop.NetworkManager.wgmesh.Mesh"
#define PROPS_IFACE "org.freedesktop.DBus.Properties"
#define PEER1_PATH  WGM_DBUS_PEER_PATH "/1"
#define PEER2_PATH  WGM_DBUS_PEER_PATH "/2"
#define RATE_PROP   "StatisticsRefreshRateMs"
/* A name for the export on a bus with the system bus's policy, under the
 * prefix the service's policy opens to callers. */
#define POLICY_NAME "org.freedesktop.NetworkManager.wgmesh.ExportTest"

/* The fixture on a bus with the service's and polkit's policy (another
 * user may call), else on a plain one. */
#define WITH_POLICY GINT_TO_POINTER(1)

/* A Peer's PropertiesChanged, as the client received it. */
typedef struct {
    char     *path;
    gint64    time;       /* monotonic */
    gboolean  statistics; /* carried a statistic */
    GVariant *changed;    /* a{sv} */
} PeerSignal;

static void
peer_signal_free(PeerSignal *sig)
{
    g_free(sig->path);
    g_variant_unref(sig->changed);
    g_free(sig);
}

static const char *const statistics[] = {
    "RxBytes", "TxBytes", "LatestHandshake", "Attempts", "NextRetry", NULL,
};

typedef struct {
    gint64           mono;
    WgmTestBus      *bus;
    GDBusConnection *service; /* the export's */
    GDBusConnection *client;
    FakeBackend     *backend;
    WgmMesh         *mesh;
    WgmDBusExport *export;
    guint          n_peers_changed;      /* seen by a second observer */
    gboolean       connection_signalled; /* PropertiesChanged carried Mesh.Connection */
    GPtrArray     *peer_signals;         /* of PeerSignal*, oldest first */
    WgmTestPolkit *polkit;
    gboolean       skipped;
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
peer_changed_cb(GDBusConnection *bus,
                const char      *sender,
                const char      *path,
                const char      *interface,
                const char      *signal,
                GVariant        *parameters,
                gpointer         user_data)
{
    Fixture    *f   = user_data;
    PeerSignal *sig = g_new0(PeerSignal, 1);

    sig->path    = g_strdup(path);
    sig->time    = g_get_monotonic_time();
    sig->changed = g_variant_get_child_value(parameters, 1);
    for (guint i = 0; statistics[i]; i++) {
        g_autoptr(GVariant) value = g_variant_lookup_value(sig->changed, statistics[i], NULL);

        sig->statistics = sig->statistics || value;
    }
    g_ptr_array_add(f->peer_signals, sig);
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

    if (data == WITH_POLICY) {
        g_autofree char *policy = NULL;

        if (!wgm_test_polkit_require()) {
            f->skipped = TRUE;
            return;
        }
        policy = wgm_test_polkit_bus_policy();
        f->bus = wgm_test_bus_new_with_policy(policy, &error);
    } else {
        f->bus = wgm_test_bus_new(&error);
    }
    g_assert_no_error(error);
    f->service = wgm_test_dbus_connect(wgm_test_bus_get_address(f->bus), &error);
    g_assert_no_error(error);
    f->client = wgm_test_dbus_connect(wgm_test_bus_get_address(f->bus), &error);
    g_assert_no_error(error);
    if (data == WITH_POLICY) {
        g_autoptr(GVariant) reply =
            g_dbus_connection_call_sync(f->service,
                                        "org.freedesktop.DBus",
                                        "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus",
                                        "RequestName",
                                        g_variant_new("(su)", POLICY_NAME, 0u),
                                        G_VARIANT_TYPE("(u)"),
                                        G_DBUS_CALL_FLAGS_NONE,
                                        5000,
                                        NULL,
                                        &error);
        g_assert_no_error(error);
    }
    f->peer_signals = g_ptr_array_new_with_free_func((GDestroyNotify)peer_signal_free);
    g_dbus_connection_signal_subscribe(f->client,
                                       NULL,
                                       PROPS_IFACE,
                                       "PropertiesChanged",
                                       NULL,
                                       PEER_IFACE,
                                       G_DBUS_SIGNAL_FLAGS_NONE,
                                       peer_changed_cb,
                                       f,
                                       NULL);

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
    g_clear_pointer(&f->polkit, wgm_test_polkit_free);
    g_clear_pointer(&f->peer_signals, g_ptr_array_unref);
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

/* ---- the signal budget ---------------------------------------------------- */

/* Everything the export queued has gone out and been dispatched here: its
 * idle emissions run, then a round trip (the bus keeps the service's
 * messages in order, so its signals arrive before the reply). */
static void
settle(Fixture *f)
{
    g_autoptr(GVariant) reply = NULL;

    fake_iterate();
    reply = client_call(f, WGM_DBUS_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL);
    fake_iterate();
}

/* Iterates the default main context for @ms of real time. */
static void
iterate_for(guint ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(2000);
    }
}

static GVariant *
get_prop(Fixture *f, const char *path, const char *iface, const char *name)
{
    g_autoptr(GVariant) reply =
        client_call(f, path, PROPS_IFACE, "Get", g_variant_new("(ss)", iface, name));
    GVariant *value;

    g_variant_get(reply, "(v)", &value);
    return value;
}

static guint64
get_u64(Fixture *f, const char *path, const char *name)
{
    g_autoptr(GVariant) value = get_prop(f, path, PEER_IFACE, name);

    return g_variant_get_uint64(value);
}

static guint32
get_rate(Fixture *f)
{
    g_autoptr(GVariant) value = get_prop(f, WGM_DBUS_PATH, MESH_IFACE, RATE_PROP);

    return g_variant_get_uint32(value);
}

/* Properties.Set of the rate by the client (this process's user). */
static gboolean
client_set_rate(Fixture *f, guint32 rate_ms, GError **error)
{
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GVariant) reply      = NULL;

    g_dbus_connection_call(
        f->client,
        g_dbus_connection_get_unique_name(f->service),
        WGM_DBUS_PATH,
        PROPS_IFACE,
        "Set",
        g_variant_new("(ssv)", MESH_IFACE, RATE_PROP, g_variant_new_uint32(rate_ms)),
        NULL,
        G_DBUS_CALL_FLAGS_NONE,
        10000,
        NULL,
        call_done_cb,
        &result);
    while (!result)
        g_main_context_iteration(NULL, TRUE);
    reply = g_dbus_connection_call_finish(f->client, result, error);
    return reply != NULL;
}

/* Without polkit only root may write: elsewhere the write is refused, and
 * the test skips.  (test_rate_authorization() writes as another user.) */
static gboolean
require_rate(Fixture *f, guint32 rate_ms)
{
    g_autoptr(GError) error = NULL;

    if (geteuid() == 0) {
        g_assert_true(client_set_rate(f, rate_ms, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(get_rate(f), ==, rate_ms);
        return TRUE;
    }
    g_assert_false(client_set_rate(f, rate_ms, &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_NOT_AUTHORIZED);
    g_test_skip("writing " RATE_PROP " needs root here (no polkit on the test bus)");
    return FALSE;
}

static guint
count_signals(Fixture *f, const char *path, gboolean statistics_only)
{
    guint n = 0;

    for (guint i = 0; i < f->peer_signals->len; i++) {
        const PeerSignal *sig = f->peer_signals->pdata[i];

        if ((!path || g_str_equal(sig->path, path)) && (!statistics_only || sig->statistics))
            n++;
    }
    return n;
}

/* The two peers never answer, but WireGuard's counters move on every poll
 * (retransmitted initiations): @from..@to seconds after start, one more
 * initiation each second. */
static void
run_unanswered(Fixture *f, guint from, guint to)
{
    WgmKey k1, k2;

    fake_peer_key(1, &k1);
    fake_peer_key(2, &k2);
    for (guint t = from; t <= to; t++) {
        fake_backend_set_peer(f->backend, &k1, 0, 0, 148 * t);
        fake_backend_set_peer(f->backend, &k2, 0, 0, 148 * t);
        run_until(f, t);
    }
}

/* StatisticsRefreshRateMs 0 (the default): counters and retries cost no
 * signal, yet every read is fresh; a State change is signalled at once,
 * with the statistics as of then. */
static void
test_statistics_quiet(Fixture *f, gconstpointer data)
{
    g_autoptr(GHashTable) peers = NULL;
    const PeerSignal *sig;
    const char       *state;
    GVariant         *p2;
    guint64           tx, handshake;
    guint32           attempts;
    WgmKey            k1;

    g_assert_cmpuint(get_rate(f), ==, 0);
    settle(f);
    g_ptr_array_set_size(f->peer_signals, 0);

    run_unanswered(f, 1, 60);
    settle(f);
    g_test_message("60 s of unanswered peers: %u PropertiesChanged on the peers",
                   count_signals(f, NULL, FALSE));
    g_assert_cmpuint(count_signals(f, NULL, FALSE), ==, 0);

    /* Get, GetAll and GetManagedObjects read them as of the last poll. */
    fake_peer_key(1, &k1);
    tx = get_u64(f, PEER1_PATH, "TxBytes");
    g_assert_cmpuint(tx, >, 148 * 50);
    g_assert_cmpuint(tx, ==, wgm_mesh_lookup_peer(f->mesh, &k1)->tx_bytes);
    {
        g_autoptr(GVariant) reply =
            client_call(f, PEER1_PATH, PROPS_IFACE, "GetAll", g_variant_new("(s)", PEER_IFACE));
        g_autoptr(GVariant) all = g_variant_get_child_value(reply, 0);
        guint64 v;

        g_assert_true(g_variant_lookup(all, "TxBytes", "t", &v));
        g_assert_cmpuint(v, ==, tx);
        g_assert_true(g_variant_lookup(all, "Attempts", "u", &attempts));
        g_assert_cmpuint(attempts, >, 3); /* retried meanwhile, unsignalled */
        g_assert_true(g_variant_lookup(all, "NextRetry", "t", &v));
        g_assert_cmpuint(v, >, (guint64)fake_clock_real(&f->mono));
    }
    peers = get_peers(f);
    p2    = g_hash_table_lookup(peers, PEER2_PATH);
    g_assert_true(g_variant_lookup(p2, "TxBytes", "t", &tx));
    g_assert_cmpuint(tx, ==, get_u64(f, PEER2_PATH, "TxBytes"));
    g_assert_cmpuint(tx, >, 148 * 50);

    /* Peer 1 answers: its State goes out with the poll that saw it, and
     * carries the handshake and the counters. */
    handshake = (guint64)fake_clock_real(&f->mono);
    fake_backend_set_peer(f->backend, &k1, (gint64)handshake, 92, 148 * 61);
    run_until(f, 61);
    settle(f);
    g_assert_cmpuint(count_signals(f, PEER1_PATH, FALSE), ==, 1);
    g_assert_cmpuint(count_signals(f, PEER2_PATH, FALSE), ==, 0);
    sig = f->peer_signals->pdata[0];
    g_assert_true(g_variant_lookup(sig->changed, "State", "&s", &state));
    g_assert_cmpstr(state, ==, "connected");
    g_assert_true(g_variant_lookup(sig->changed, "LatestHandshake", "t", &tx));
    g_assert_cmpuint(tx, ==, handshake);
    g_assert_true(g_variant_lookup(sig->changed, "RxBytes", "t", &tx));
    g_assert_cmpuint(tx, ==, 92);
    g_assert_true(g_variant_lookup(sig->changed, "TxBytes", "t", &tx));
    g_assert_cmpuint(tx, ==, 148 * 61);
    {
        g_autoptr(GVariant) value = get_prop(f, PEER1_PATH, PEER_IFACE, "Attempts");

        g_assert_cmpuint(g_variant_get_uint32(value), ==, 0);
    }
}

/* StatisticsRefreshRateMs 1000: counters that move on every poll are
 * signalled, at most once a second per peer; 0 again stops them. */
static void
test_statistics_rate(Fixture *f, gconstpointer data)
{
    gint64 t0;
    double elapsed;
    guint  t = 0;

    if (!require_rate(f, 1000))
        return;
    settle(f);
    g_ptr_array_set_size(f->peer_signals, 0);

    /* A poll (or more) every 100 ms of real time, for 3.5 s. */
    t0 = g_get_monotonic_time();
    while (g_get_monotonic_time() - t0 < 3500 * G_TIME_SPAN_MILLISECOND) {
        t++;
        run_unanswered(f, t, t);
        iterate_for(100);
    }
    settle(f);
    elapsed = (g_get_monotonic_time() - t0) / 1e6;

    for (guint p = 1; p <= 2; p++) {
        g_autofree char *path = g_strdup_printf(WGM_DBUS_PEER_PATH "/%u", p);
        guint            n    = count_signals(f, path, TRUE);
        gint64           last = 0;

        g_test_message("peer %u: %u of %u PropertiesChanged with statistics in %.1f s, %u polls",
                       p,
                       n,
                       count_signals(f, path, FALSE),
                       elapsed,
                       t);
        g_assert_cmpuint(n, >=, 2);
        g_assert_cmpuint(n, <=, (guint)elapsed + 1);
        for (guint i = 0; i < f->peer_signals->len; i++) {
            const PeerSignal *sig = f->peer_signals->pdata[i];

            if (!sig->statistics || !g_str_equal(sig->path, path))
                continue;
            if (last)
                g_assert_cmpint(sig->time - last, >=, 900 * G_TIME_SPAN_MILLISECOND);
            last = sig->time;
        }
    }
    /* Once the last change is flushed, what was signalled last is what
     * a read says. */
    iterate_for(1100);
    settle(f);
    {
        guint64 tx = 0, signalled = 0;

        for (guint i = 0; i < f->peer_signals->len; i++) {
            const PeerSignal *sig = f->peer_signals->pdata[i];

            if (g_str_equal(sig->path, PEER1_PATH)
                && g_variant_lookup(sig->changed, "TxBytes", "t", &tx))
                signalled = tx;
        }
        g_assert_cmpuint(signalled, ==, get_u64(f, PEER1_PATH, "TxBytes"));
    }

    /* Back to 0: silent again. */
    g_assert_true(require_rate(f, 0));
    settle(f);
    g_ptr_array_set_size(f->peer_signals, 0);
    for (guint i = 0; i < 12; i++) {
        t++;
        run_unanswered(f, t, t);
        iterate_for(100);
    }
    settle(f);
    g_assert_cmpuint(count_signals(f, NULL, TRUE), ==, 0);
}

/* StatisticsRefreshRateMs is written as the other writable properties
 * are: by root, or by whom polkit authorizes; a refused write changes
 * nothing. */
static void
test_rate_authorization(Fixture *f, gconstpointer data)
{
    const char      *args[] = { "'" MESH_IFACE "'", "'" RATE_PROP "'", "<uint32 500>", NULL };
    const char      *method = PROPS_IFACE ".Set";
    g_autofree char *err    = NULL;
    g_autoptr(GError) error = NULL;

    if (f->skipped)
        return;
    g_assert_false(
        wgm_test_gdbus_call(f->bus, TRUE, POLICY_NAME, WGM_DBUS_PATH, method, args, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err, "NotAuthorized: " RATE_PROP ": caller :"));
    g_assert_nonnull(strstr(err, "polkit is not available and the caller is not root"));
    g_assert_cmpuint(get_rate(f), ==, 0);

    f->polkit =
        wgm_test_polkit_new_allowing(f->bus, "org.freedesktop.NetworkManager.network-control");
    g_clear_pointer(&err, g_free);
    g_assert_false(
        wgm_test_gdbus_call(f->bus, TRUE, POLICY_NAME, WGM_DBUS_PATH, method, args, &err));
    g_assert_nonnull(strstr(err, "not authorized by polkit"));
    g_assert_cmpuint(get_rate(f), ==, 0);
    g_clear_pointer(&f->polkit, wgm_test_polkit_free);

    f->polkit = wgm_test_polkit_new_allowing(f->bus, WGM_AUTH_ACTION_MODIFY);
    g_assert_true(
        wgm_test_gdbus_call(f->bus, TRUE, POLICY_NAME, WGM_DBUS_PATH, method, args, NULL));
    g_assert_cmpuint(get_rate(f), ==, 500);

    /* Root needs nobody's word. */
    g_assert_true(client_set_rate(f, 0, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(get_rate(f), ==, 0);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/dbus-export/peers-changed", test_peers_changed);
    ADD("/dbus-export/set-peers", test_set_peers);
    ADD("/dbus-export/statistics-quiet", test_statistics_quiet);
    ADD("/dbus-export/statistics-rate", test_statistics_rate);
#undef ADD
    g_test_add("/dbus-export/statistics-rate-authorization",
               Fixture,
               WITH_POLICY,
               fixture_setup,
               test_rate_authorization,
               fixture_teardown);

    return g_test_run();
}
