/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "netns-mesh.h"

#include <arpa/inet.h>

/* vpn.data for the mesh: the test network's peers first, then @n_extra
 * made-up peers (random keys, endpoints on peer 1's host where nothing
 * listens) to reach a given size. */
void
wgm_test_mesh_harness_setup_with(WgmTestHarness *f, guint n_peers, const char *const *wrap_more)
{
    g_autoptr(GError) error   = NULL;
    g_auto(GStrv) wrap        = NULL;
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_auto(GStrv) argv        = NULL;

    if (!wgm_test_require_root())
        return;
    f->net = wgm_test_net_new(n_peers, &error);
    g_assert_no_error(error);
    f->bus = wgm_test_bus_new(&error);
    g_assert_no_error(error);
    wrap = wgm_test_net_wrap_argv(f->net, wgm_test_net_get_svc_ns(f->net));
    g_strv_builder_addv(b, (const char **)wrap);
    if (wrap_more)
        g_strv_builder_addv(b, (const char **)wrap_more);
    argv = g_strv_builder_end(b);
    wgm_test_harness_start_service(f, (const char *const *)argv, WGM_TEST_BUS_NAME, TRUE);
}

void
wgm_test_mesh_harness_setup(WgmTestHarness *f, guint n_peers)
{
    wgm_test_mesh_harness_setup_with(f, n_peers, NULL);
}

/* Made-up peers' endpoints on @extra_host; @more: further key/value pairs. */
static GVariant *
mesh_connection(WgmTestNet        *net,
                guint              n_extra,
                const char        *extra_host,
                guint              named_peer,
                const char        *host_name,
                const char *const *more)
{
    g_autoptr(GPtrArray) data = g_ptr_array_new_with_free_func(g_free);
    const char *secrets[]     = { "private-key", wgm_test_net_get_svc_private_key(net), NULL };
    guint       n             = wgm_test_net_get_n_peers(net);

    g_ptr_array_add(data, g_strdup("address"));
    g_ptr_array_add(data, g_strdup("10.77.0.1/24"));
    g_ptr_array_add(data, g_strdup("listen-port"));
    g_ptr_array_add(data, g_strdup("51820"));
    for (guint i = 1; i <= n; i++) {
        const WgmTestPeer *peer = wgm_test_net_get_peer(net, i);

        g_ptr_array_add(data, g_strdup_printf("peer.%u.public-key", i));
        g_ptr_array_add(data, g_strdup(peer->public_key));
        g_ptr_array_add(data, g_strdup_printf("peer.%u.endpoint", i));
        if (i == named_peer)
            g_ptr_array_add(data, g_strdup_printf("%s:%u", host_name, peer->port));
        else
            g_ptr_array_add(data, wgm_test_net_peer_endpoint(net, i));
        g_ptr_array_add(data, g_strdup_printf("peer.%u.allowed-ips", i));
        g_ptr_array_add(data, g_strdup_printf("%s/32", peer->tunnel));
        g_ptr_array_add(data, g_strdup_printf("peer.%u.name", i));
        g_ptr_array_add(data, g_strdup_printf("peer-%u", i));
    }
    for (guint i = n + 1; i <= n + n_extra; i++) {
        guint8 key[32];

        for (guint j = 0; j < sizeof(key); j++)
            key[j] = g_random_int_range(0, 256);
        g_ptr_array_add(data, g_strdup_printf("peer.%u.public-key", i));
        g_ptr_array_add(data, g_base64_encode(key, sizeof(key)));
        g_ptr_array_add(data, g_strdup_printf("peer.%u.endpoint", i));
        g_ptr_array_add(data, g_strdup_printf("%s:%u", extra_host, 20000 + i));
        g_ptr_array_add(data, g_strdup_printf("peer.%u.allowed-ips", i));
        g_ptr_array_add(data, g_strdup_printf("10.%u.%u.0/24", 100 + i / 256, i % 256));
    }
    for (guint i = 0; more && more[i]; i++)
        g_ptr_array_add(data, g_strdup(more[i]));
    g_ptr_array_add(data, NULL);
    return wgm_test_vpn_connection_new("mesh", (const char *const *)data->pdata, secrets);
}

GVariant *
wgm_test_mesh_connection_named(WgmTestNet *net,
                               guint       n_extra,
                               guint       named_peer,
                               const char *host_name)
{
    return mesh_connection(net, n_extra, "10.200.1.2", named_peer, host_name, NULL);
}

GVariant *
wgm_test_mesh_connection_extra_at(WgmTestNet *net, guint n_extra, const char *extra_host)
{
    return mesh_connection(net, n_extra, extra_host, 0, NULL, NULL);
}

GVariant *
wgm_test_mesh_connection_named_with(WgmTestNet        *net,
                                    guint              named_peer,
                                    const char        *host_name,
                                    const char *const *more)
{
    return mesh_connection(net, 0, "10.200.1.2", named_peer, host_name, more);
}

GVariant *
wgm_test_mesh_connection_with(WgmTestNet        *net,
                              guint              n_extra,
                              const char        *extra_host,
                              const char *const *more)
{
    return mesh_connection(net, n_extra, extra_host, 0, NULL, more);
}

GVariant *
wgm_test_mesh_connection(WgmTestNet *net, guint n_extra)
{
    return wgm_test_mesh_connection_named(net, n_extra, 0, NULL);
}

/* What NetworkManager does with Config + Ip4Config for a tun device. */
static void
apply_ip4_config_like_nm(WgmTestHarness *f, GVariant *config, GVariant *ip4)
{
    g_autoptr(GVariant) cfg    = g_variant_get_child_value(config, 0);
    g_autoptr(GVariant) dict   = g_variant_get_child_value(ip4, 0);
    g_autoptr(GVariant) routes = NULL;
    g_autoptr(GError) error    = NULL;
    g_autoptr(GString) script  = g_string_new(NULL);
    const char  *tundev;
    guint32      addr, prefix, mtu;
    char         buf[INET_ADDRSTRLEN];
    GVariantIter iter;
    GVariant    *route;

    g_assert_true(g_variant_lookup(cfg, "tundev", "&s", &tundev));
    g_assert_true(g_variant_lookup(cfg, "mtu", "u", &mtu));
    g_assert_true(g_variant_lookup(dict, "address", "u", &addr));
    g_assert_true(g_variant_lookup(dict, "prefix", "u", &prefix));
    g_string_append_printf(script,
                           "ip addr add %s/%u dev %s && ip link set %s mtu %u up",
                           inet_ntop(AF_INET, &addr, buf, sizeof(buf)),
                           prefix,
                           tundev,
                           tundev,
                           mtu);

    routes = g_variant_lookup_value(dict, "routes", G_VARIANT_TYPE("aau"));
    g_variant_iter_init(&iter, routes);
    while ((route = g_variant_iter_next_value(&iter))) {
        gsize          n;
        const guint32 *r = g_variant_get_fixed_array(route, &n, sizeof(guint32));

        g_string_append_printf(script,
                               " && ip route replace %s/%u dev %s",
                               inet_ntop(AF_INET, &r[0], buf, sizeof(buf)),
                               r[1],
                               tundev);
        g_variant_unref(route);
    }
    g_assert_true(wgm_test_net_exec(
        f->net, wgm_test_net_get_svc_ns(f->net), NULL, &error, "%s", script->str));
    g_assert_no_error(error);
}

void
wgm_test_mesh_bring_up(WgmTestHarness *f, GVariant *connection, gint64 *out_config_usec)
{
    g_autoptr(GError) error    = NULL;
    g_autoptr(GVariant) config = NULL;
    g_autoptr(GVariant) ip4    = NULL;
    gint64 t0                  = g_get_monotonic_time();

    g_assert_true(wgm_test_vpn_connect(f->vpn, connection, &error));
    g_assert_no_error(error);
    config = wgm_test_vpn_wait_signal(f->vpn, "Config", 60000);
    g_assert_nonnull(config);
    if (out_config_usec)
        *out_config_usec = g_get_monotonic_time() - t0;
    ip4 = wgm_test_vpn_wait_signal(f->vpn, "Ip4Config", 5000);
    g_assert_nonnull(ip4);
    g_assert_true(wgm_test_vpn_wait_state(f->vpn, WGM_TEST_STATE_STARTED, 5000));
    apply_ip4_config_like_nm(f, config, ip4);
}

void
wgm_test_mesh_tear_down_and_check(WgmTestHarness *f)
{
    g_autoptr(GError) error = NULL;
    const char *svc         = wgm_test_net_get_svc_ns(f->net);

    g_assert_true(wgm_test_vpn_disconnect(f->vpn, &error));
    g_assert_no_error(error);
    g_assert_true(wgm_test_vpn_wait_state(f->vpn, WGM_TEST_STATE_STOPPED, 5000));
    /* No interface, no wireguard-go (only the service is left in its
     * namespace), no UAPI socket, no D-Bus objects. */
    g_assert_true(wgm_test_net_wait_link_gone(f->net, svc, "wgm0", 5000));
    g_assert_true(wgm_test_net_wait_processes(f->net, svc, 1, 5000));
    g_assert_false(wgm_test_service_has_file(f->service, "/run/wireguard/wgm0.sock"));
    g_assert_null(wgm_test_vpn_get_managed_objects(f->vpn, &error));
    g_assert_nonnull(error);
}

guint64
wgm_test_mesh_peer_u64(GHashTable *peers, const char *key, const char *prop)
{
    GVariant *p = g_hash_table_lookup(peers, key);
    guint64   v = 0;

    g_assert_nonnull(p);
    g_assert_true(g_variant_lookup(p, prop, "t", &v));
    return v;
}
