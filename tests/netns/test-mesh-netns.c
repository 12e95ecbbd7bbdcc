/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A real mesh (root): the service in a network namespace of its own, real
 * wireguard-go peers in theirs, joined by veth pairs.  The test plays
 * NetworkManager: it calls Connect over a private bus and applies the IP
 * configuration the service reports, exactly as NetworkManager would
 * (address, MTU, link up, one route per allowed IP).  Then real packets.
 */
#include "config.h"

#include <arpa/inet.h>
#include <glib/gstdio.h>
#include <signal.h>

#include "netns-mesh.h"
#include "wgm-test-util.h"

#define BUS_NAME      WGM_TEST_BUS_NAME
#define STATE_STARTED WGM_TEST_STATE_STARTED
#define STATE_STOPPED WGM_TEST_STATE_STOPPED
#define PEER1_PATH    "/org/freedesktop/NetworkManager/wgmesh/Peer/1"

typedef WgmTestHarness Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    wgm_test_mesh_harness_setup(f, GPOINTER_TO_UINT(data));
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    wgm_test_harness_clear(f);
}

static void
set_statistics_rate(Fixture *f, guint32 rate_ms)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync(wgm_test_vpn_get_connection(f->vpn),
                                    BUS_NAME,
                                    "/org/freedesktop/NetworkManager/wgmesh",
                                    "org.freedesktop.DBus.Properties",
                                    "Set",
                                    g_variant_new("(ssv)",
                                                  "org.freedesktop.NetworkManager.wgmesh.Mesh",
                                                  "StatisticsRefreshRateMs",
                                                  g_variant_new_uint32(rate_ms)),
                                    G_VARIANT_TYPE_UNIT,
                                    G_DBUS_CALL_FLAGS_NONE,
                                    10000,
                                    NULL,
                                    &error);

    g_assert_no_error(error);
}

static void
test_three_peers(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn     = NULL;
    g_autoptr(GHashTable) before = NULL;
    g_autoptr(GHashTable) after  = NULL;
    g_autoptr(GVariant) mesh     = NULL;
    g_autoptr(GError) error      = NULL;
    g_autofree char *log         = NULL;
    guint            n;
    guint            u;
    gint64           t0;

    if (!f->net)
        return; /* skipped */
    n    = wgm_test_net_get_n_peers(f->net);
    conn = wgm_test_mesh_connection(f->net, 0);

    t0 = g_get_monotonic_time();
    wgm_test_mesh_bring_up(f, conn, NULL);

    /* Eager peers connect without any traffic: the service asked WireGuard
     * to handshake with each at once. */
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "connected", 15000));
    g_test_message("all %u peers connected %.0f ms after Connect, before any traffic",
                   n,
                   (g_get_monotonic_time() - t0) / 1000.0);

    mesh = wgm_test_vpn_get_mesh(f->vpn, &error);
    g_assert_no_error(error);
    g_assert_true(g_variant_lookup(mesh, "PeersConnected", "u", &u));
    g_assert_cmpuint(u, ==, n);
    g_assert_true(g_variant_lookup(mesh, "PeersConnecting", "u", &u));
    g_assert_cmpuint(u, ==, 0);

    before = wgm_test_vpn_get_peers(f->vpn, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_hash_table_size(before), ==, n);
    for (guint i = 1; i <= n; i++) {
        const WgmTestPeer *peer = wgm_test_net_get_peer(f->net, i);

        g_assert_cmpuint(wgm_test_mesh_peer_u64(before, peer->public_key, "LatestHandshake"), >, 0);
        g_assert_cmpuint(wgm_test_mesh_peer_u64(before, peer->public_key, "StateSince"), >, 0);
    }

    /* Real packets through the tunnel, to every peer.  Counters are
     * signalled only when asked for (StatisticsRefreshRateMs, written as
     * root here); Peer 1's property changes are watched meanwhile: its
     * counters arrive together, at most once per 5 s. */
    set_statistics_rate(f, 5000);
    g_ptr_array_unref(wgm_test_vpn_take_signals(f->vpn, "PropertiesChanged:" PEER1_PATH));
    t0 = g_get_monotonic_time();
    for (guint i = 1; i <= n; i++) {
        const WgmTestPeer *peer = wgm_test_net_get_peer(f->net, i);

        g_assert_true(
            wgm_test_net_ping(f->net, wgm_test_net_get_svc_ns(f->net), peer->tunnel, 3, 5));
        g_test_message("ping %s (peer %u) through wgm0: ok", peer->tunnel, i);
    }

    /* Counters move on D-Bus (read fresh, whatever is signalled). */
    for (gint64 deadline = g_get_monotonic_time() + 12 * G_USEC_PER_SEC;;) {
        gboolean moved = TRUE;

        g_clear_pointer(&after, g_hash_table_unref);
        after = wgm_test_vpn_get_peers(f->vpn, &error);
        g_assert_no_error(error);
        for (guint i = 1; i <= n && moved; i++) {
            const char *key = wgm_test_net_get_peer(f->net, i)->public_key;

            moved = wgm_test_mesh_peer_u64(after, key, "RxBytes")
                        > wgm_test_mesh_peer_u64(before, key, "RxBytes")
                    && wgm_test_mesh_peer_u64(after, key, "TxBytes")
                           > wgm_test_mesh_peer_u64(before, key, "TxBytes");
        }
        if (moved)
            break;
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        wgm_test_iterate(250);
    }
    {
        g_autoptr(GPtrArray) changes =
            g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
        gboolean counters = FALSE;
        guint    max;

        /* The counters that moved are signalled within the rate. */
        for (gint64 deadline = g_get_monotonic_time() + 8 * G_USEC_PER_SEC; !counters;) {
            g_autoptr(GPtrArray) more =
                wgm_test_vpn_take_signals(f->vpn, "PropertiesChanged:" PEER1_PATH);

            for (guint i = 0; i < more->len; i++) {
                g_autoptr(GVariant) changed = g_variant_get_child_value(more->pdata[i], 1);

                counters = counters || g_variant_lookup(changed, "RxBytes", "t", NULL);
            }
            g_ptr_array_extend_and_steal(changes, g_steal_pointer(&more));
            if (!counters) {
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                wgm_test_iterate(250);
            }
        }
        max = (g_get_monotonic_time() - t0) / (5 * G_USEC_PER_SEC) + 2;

        g_test_message("peer 1: %u PropertiesChanged in %.1f s of traffic, 5 s rate",
                       changes->len,
                       (g_get_monotonic_time() - t0) / 1e6);
        g_assert_cmpuint(changes->len, >=, 1);
        g_assert_cmpuint(changes->len, <=, max);
        for (guint i = 0; i < changes->len; i++) {
            g_autoptr(GVariant) changed = g_variant_get_child_value(changes->pdata[i], 1);

            if (g_variant_lookup(changed, "RxBytes", "t", NULL))
                g_assert_true(g_variant_lookup(changed, "TxBytes", "t", NULL));
        }
    }
    for (guint i = 1; i <= n; i++) {
        const char *key = wgm_test_net_get_peer(f->net, i)->public_key;
        GVariant   *p   = g_hash_table_lookup(after, key);
        const char *s;

        g_assert_true(g_variant_lookup(p, "State", "&s", &s));
        g_assert_cmpstr(s, ==, "connected");
        g_assert_true(g_variant_lookup(p, "Endpoint", "&s", &s));
        g_assert_true(g_str_has_prefix(s, wgm_test_net_get_peer(f->net, i)->underlay));
        g_assert_true(g_variant_lookup(p, "LastError", "&s", &s));
        g_assert_cmpstr(s, ==, "");
    }

    wgm_test_mesh_tear_down_and_check(f);

    log = wgm_test_service_get_log(f->service);
    g_assert_null(strstr(log, wgm_test_net_get_svc_private_key(f->net)));
}

/* 1,000 peers in one `set` transaction; all 1,000 Peer objects appear. */
static void
test_scale_1000(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn    = NULL;
    g_autoptr(GHashTable) peers = NULL;
    g_autoptr(GError) error     = NULL;
    g_autofree char *out        = NULL;
    g_autofree char *log        = NULL;
    const char      *line;
    gint64           config_usec;
    guint            count = 0;

    if (!f->net)
        return;
    conn = wgm_test_mesh_connection(f->net, 1000 - wgm_test_net_get_n_peers(f->net));
    wgm_test_mesh_bring_up(f, conn, &config_usec);

    peers = wgm_test_vpn_get_peers(f->vpn, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_hash_table_size(peers), ==, 1000);

    g_assert_true(wgm_test_net_exec_in_service(
        f->net, wgm_test_service_get_pid(f->service), &out, &error, "wg show wgm0 peers"));
    g_assert_no_error(error);
    for (const char *p = out; *p; p++)
        count += *p == '\n';
    g_assert_cmpuint(count, ==, 1000);

    /* The real peer still connects among the 999 that never answer. */
    {
        const char *key           = wgm_test_net_get_peer(f->net, 1)->public_key;
        g_autoptr(GHashTable) now = wgm_test_vpn_wait_peer_state(f->vpn, key, "connected", 15000);

        g_assert_nonnull(now);
        g_assert_true(wgm_test_net_ping(f->net,
                                        wgm_test_net_get_svc_ns(f->net),
                                        wgm_test_net_get_peer(f->net, 1)->tunnel,
                                        1,
                                        5));
    }

    log  = wgm_test_service_get_log(f->service);
    line = strstr(log, "applied 1000 peers in one transaction in ");
    g_assert_nonnull(line);
    g_test_message("Connect -> Config with 1,000 peers: %.0f ms; service: %.*s",
                   config_usec / 1000.0,
                   (int)(strchr(line, '\n') - line),
                   line);
    g_assert_null(strstr(log, "applied 1 peers"));

    wgm_test_mesh_tear_down_and_check(f);
}

/* The service's only child: the wireguard-go it started. */
static GPid
wireguard_go_pid(Fixture *f)
{
    g_autofree char *children = NULL;
    g_autofree char *path     = g_strdup_printf("/proc/%d/task/%d/children",
                                            wgm_test_service_get_pid(f->service),
                                            wgm_test_service_get_pid(f->service));

    if (!g_file_get_contents(path, &children, NULL, NULL))
        return 0;
    return (GPid)g_ascii_strtoll(children, NULL, 10);
}

static GPtrArray *
peer_paths(Fixture *f)
{
    g_autoptr(GError) error     = NULL;
    g_autoptr(GVariant) objects = wgm_test_vpn_get_managed_objects(f->vpn, &error);
    GPtrArray   *paths          = g_ptr_array_new_with_free_func(g_free);
    GVariantIter iter;
    const char  *path;

    g_assert_no_error(error);
    g_variant_iter_init(&iter, objects); /* a{oa{sa{sv}}} */
    while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, NULL))
        g_ptr_array_add(paths, g_strdup(path));
    g_ptr_array_sort(paths, wgm_test_compare_strings);
    return paths;
}

/* wireguard-go dies under a running mesh: the service restarts it,
 * re-applies everything in one transaction, and every peer connects again
 * behind the same D-Bus objects; NetworkManager hears nothing of it. */
static void
test_wireguard_go_crash(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn    = NULL;
    g_autoptr(GVariant) mesh    = NULL;
    g_autoptr(GError) error     = NULL;
    g_autoptr(GPtrArray) before = NULL;
    g_autoptr(GPtrArray) after  = NULL;
    g_autofree char *log        = NULL;
    const char      *svc;
    GPid             wg_pid, new_pid;
    guint            restarts = 0;
    gint64           t0;

    if (!f->net)
        return;
    svc  = wgm_test_net_get_svc_ns(f->net);
    conn = wgm_test_mesh_connection(f->net, 0);
    wgm_test_mesh_bring_up(f, conn, NULL);
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "connected", 15000));
    before = peer_paths(f);

    wg_pid = wireguard_go_pid(f);
    g_assert_cmpint(wg_pid, >, 0);
    t0 = g_get_monotonic_time();
    g_assert_cmpint(kill(wg_pid, SIGKILL), ==, 0);

    /* Down, then back: a new process, every peer connected again. */
    g_assert_nonnull(wgm_test_vpn_wait_peer_state(
        f->vpn, wgm_test_net_get_peer(f->net, 1)->public_key, "connecting", 10000));
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "connected", 20000));
    g_test_message("wireguard-go SIGKILLed: all %u peers connected again after %.0f ms",
                   wgm_test_net_get_n_peers(f->net),
                   (g_get_monotonic_time() - t0) / 1000.0);
    new_pid = wireguard_go_pid(f);
    g_assert_cmpint(new_pid, >, 0);
    g_assert_cmpint(new_pid, !=, wg_pid);
    after = peer_paths(f);
    g_assert_cmpuint(after->len, ==, before->len);
    for (guint i = 0; i < before->len; i++)
        g_assert_cmpstr(after->pdata[i], ==, before->pdata[i]);
    mesh = wgm_test_vpn_get_mesh(f->vpn, &error);
    g_assert_no_error(error);
    g_assert_true(g_variant_lookup(mesh, "BackendRestarts", "u", &restarts));
    g_assert_cmpuint(restarts, ==, 1);
    g_assert_false(wgm_test_vpn_has_signal(f->vpn, "Failure"));

    for (guint i = 1; i <= wgm_test_net_get_n_peers(f->net); i++)
        g_assert_true(
            wgm_test_net_ping(f->net, svc, wgm_test_net_get_peer(f->net, i)->tunnel, 1, 5));
    log = wgm_test_service_get_log(f->service);
    g_assert_nonnull(strstr(log, "killed by signal 9"));
    g_assert_nonnull(strstr(log, "wireguard-go restarted"));
    wgm_test_mesh_tear_down_and_check(f);
}

/* An endpoint given by name that does not resolve at first (DNS not up yet,
 * as at boot): the peer says why and when it will try again, the rest of
 * the mesh works, and once the name resolves the peer connects by itself. */
static void
test_endpoint_resolves_later(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn    = NULL;
    g_autoptr(GHashTable) peers = NULL;
    g_autoptr(GError) error     = NULL;
    g_autofree char *dir        = NULL;
    g_autofree char *hosts      = NULL;
    const char      *key2;
    const char      *s;
    guint64          t;
    GVariant        *p;

    if (!f->net)
        return;
    key2 = wgm_test_net_get_peer(f->net, 2)->public_key;
    conn = wgm_test_mesh_connection_named(f->net, 0, 2, "peer-two.wgm-test.invalid");
    wgm_test_mesh_bring_up(f, conn, NULL);

    /* Peer 1 connects; peer 2 waits for its name, and says so. */
    peers = wgm_test_vpn_wait_peer_state(
        f->vpn, wgm_test_net_get_peer(f->net, 1)->public_key, "connected", 15000);
    g_assert_nonnull(peers);
    p = g_hash_table_lookup(peers, key2);
    g_assert_true(g_variant_lookup(p, "State", "&s", &s));
    g_assert_cmpstr(s, ==, "connecting");
    g_assert_true(g_variant_lookup(p, "LastError", "&s", &s));
    g_test_message("peer 2: %s", s);
    g_assert_true(g_str_has_prefix(s, "endpoint: cannot resolve \"peer-two.wgm-test.invalid\""));
    g_assert_true(g_variant_lookup(p, "NextRetry", "t", &t));
    g_assert_cmpuint(t, >, 0);

    /* The name appears, in the service's own mount namespace only (the
     * host's /etc/hosts is not touched). */
    dir = g_dir_make_tmp("wgm-hosts-XXXXXX", &error);
    g_assert_no_error(error);
    hosts = g_build_filename(dir, "hosts", NULL);
    g_assert_true(g_file_set_contents(hosts, "10.200.2.2 peer-two.wgm-test.invalid\n", -1, &error));
    g_assert_true(wgm_test_net_exec_in_service(f->net,
                                               wgm_test_service_get_pid(f->service),
                                               NULL,
                                               &error,
                                               "mount --bind %s /etc/hosts",
                                               hosts));
    g_assert_no_error(error);

    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "connected", 30000));
    g_clear_pointer(&peers, g_hash_table_unref);
    peers = wgm_test_vpn_get_peers(f->vpn, &error);
    p     = g_hash_table_lookup(peers, key2);
    g_assert_true(g_variant_lookup(p, "LastError", "&s", &s));
    g_assert_cmpstr(s, ==, "");
    g_assert_true(g_variant_lookup(p, "Endpoint", "&s", &s));
    g_assert_cmpstr(s, ==, "10.200.2.2:51820");
    g_assert_true(wgm_test_net_ping(
        f->net, wgm_test_net_get_svc_ns(f->net), wgm_test_net_get_peer(f->net, 2)->tunnel, 1, 5));

    wgm_test_mesh_tear_down_and_check(f);
    g_unlink(hosts);
    g_rmdir(dir);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

    g_test_add("/netns/mesh/three-peers",
               Fixture,
               GUINT_TO_POINTER(3),
               fixture_setup,
               test_three_peers,
               fixture_teardown);
    g_test_add("/netns/mesh/scale-1000",
               Fixture,
               GUINT_TO_POINTER(1),
               fixture_setup,
               test_scale_1000,
               fixture_teardown);
    g_test_add("/netns/mesh/wireguard-go-crash",
               Fixture,
               GUINT_TO_POINTER(2),
               fixture_setup,
               test_wireguard_go_crash,
               fixture_teardown);
    g_test_add("/netns/mesh/endpoint-resolves-later",
               Fixture,
               GUINT_TO_POINTER(2),
               fixture_setup,
               test_endpoint_resolves_later,
               fixture_teardown);
    return g_test_run();
}
