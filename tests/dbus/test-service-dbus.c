/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nm-wgmesh-service on a private system bus, driven exactly as
 * NetworkManager drives it: Connect/NeedSecrets/Disconnect on
 * org.freedesktop.NetworkManager.VPN.Plugin with a connection serialised by
 * libnm, then the Config/Ip4Config/Ip6Config/StateChanged signals and the
 * mesh's own objects.  Settings errors need no privileges; bringing a mesh up
 * needs root (a real wireguard-go in a network namespace of the test's own).
 */
#include "config.h"

#include <arpa/inet.h>

#include "wgm-test-bus.h"
#include "wgm-test-netns.h"
#include "wgm-test-vpn.h"

#define BUS_NAME "org.freedesktop.NetworkManager.wgmesh"
#define PRIV     "8I46Pf0oR5ITg1FpXuGYVcjS7z5rEsx2YmrcVbQ9iUc="
#define PRIV_HEX "f08e3a3dfd2847921383516a5ee19855c8d2ef3e6b12cc76626adc55b43d8947"
#define PUB1     "pPuiF6dSmqSzn11tpl8qJUNAacVVaS460WlScc6r214="
#define PUB2     "CW8COZql9EH6Hq8Og8O3edFwZBWNA/515w9CmTK4plI="
#define PSK      "iBqyJc2owvl0ST4ktC5p3wBiG+eofogw8KQoa12/HHs="

/* NMVpnServiceState */
#define STATE_STARTED 4
#define STATE_STOPPED 6

typedef WgmTestHarness Fixture;

/* clang-format off */
static const char *const good_data[] = {
    "address",            "10.77.0.1/24, fd77::1/64",
    "listen-port",        "51820",
    "dns",                "10.77.0.53",
    "dns-search",         "mesh.test",
    "peer.1.public-key",  PUB1,
    "peer.1.endpoint",    "10.200.1.2:51820",
    "peer.1.allowed-ips", "10.77.0.2/32, 10.99.0.0/16",
    "peer.1.name",        "one",
    "peer.2.public-key",  PUB2,
    "peer.2.endpoint",    "10.200.2.2:51820",
    "peer.2.allowed-ips", "10.77.0.3/32, fd77::3/128",
    NULL,
};
static const char *const good_secrets[] = {
    "private-key",          PRIV,
    "peer.2.preshared-key", PSK,
    NULL,
};
/* clang-format on */

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->bus = wgm_test_bus_new(&error);
    g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    wgm_test_harness_clear(f);
}

/* The log and every property must be free of key material. */
static void
assert_no_secret(const char *text)
{
    g_assert_null(strstr(text, PRIV));
    g_assert_null(strstr(text, PRIV_HEX));
    g_assert_null(strstr(text, PSK));
}

static GVariant *
with_override(const char *key, const char *value, gboolean secret)
{
    g_autoptr(GPtrArray) data    = g_ptr_array_new();
    g_autoptr(GPtrArray) secrets = g_ptr_array_new();
    gboolean done                = FALSE;

    for (guint i = 0; good_data[i]; i += 2) {
        if (!secret && g_str_equal(good_data[i], key)) {
            done = TRUE;
            if (!value)
                continue;
            g_ptr_array_add(data, (char *)key);
            g_ptr_array_add(data, (char *)value);
            continue;
        }
        g_ptr_array_add(data, (char *)good_data[i]);
        g_ptr_array_add(data, (char *)good_data[i + 1]);
    }
    for (guint i = 0; good_secrets[i]; i += 2) {
        if (secret && g_str_equal(good_secrets[i], key)) {
            done = TRUE;
            if (!value)
                continue;
            g_ptr_array_add(secrets, (char *)key);
            g_ptr_array_add(secrets, (char *)value);
            continue;
        }
        g_ptr_array_add(secrets, (char *)good_secrets[i]);
        g_ptr_array_add(secrets, (char *)good_secrets[i + 1]);
    }
    if (!done && value) {
        g_ptr_array_add(secret ? secrets : data, (char *)key);
        g_ptr_array_add(secret ? secrets : data, (char *)value);
    }
    g_ptr_array_add(data, NULL);
    g_ptr_array_add(secrets, NULL);
    return wgm_test_vpn_connection_new(
        "bad", (const char *const *)data->pdata, (const char *const *)secrets->pdata);
}

static void
test_need_secrets(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error      = NULL;
    g_autoptr(GVariant) complete = with_override("listen-port", "51820", FALSE);
    g_autoptr(GVariant) missing  = with_override("private-key", NULL, TRUE);
    g_autofree char *name        = NULL;
    g_autofree char *log         = NULL;

    wgm_test_harness_start_service(f, NULL, BUS_NAME, TRUE);

    name = wgm_test_vpn_need_secrets(f->vpn, missing, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(name, ==, "vpn");
    g_clear_pointer(&name, g_free);

    name = wgm_test_vpn_need_secrets(f->vpn, complete, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(name, ==, "");

    log = wgm_test_service_get_log(f->service);
    g_assert_nonnull(strstr(log, "needs secrets: private-key"));
    assert_no_secret(log);
}

static const struct {
    const char *key;
    const char *value;
    gboolean    secret;
} bad_settings[] = {
    { "listen-port", "70000", FALSE },
    { "address", "10.77.0.300/24", FALSE },
    { "peer.1.allowed-ips", "10.77.0.2/33", FALSE },
    { "peer.2.public-key", "not-a-key", FALSE },
    { "peer.2.public-key", PUB1, FALSE }, /* duplicate of peer.1 */
    { "peer.1.endpoint", "10.200.1.2", FALSE },
    { "mtu", "twelve", FALSE },
    { "frobnicate", "1", FALSE },
    { "peer.1.colour", "blue", FALSE },
    { "private-key", "8I46Pf0oR5ITg1FpXuGYVcjS7z5rEsx2YmrcVbQ9iU==", TRUE },
    { "private-key", NULL, TRUE },
    /* a secret where every local user can read it */
    { "private-key", "8I46Pf0oR5ITg1FpXuGYVcjS7z5rEsx2YmrcVbQ9iU0=", FALSE },
    { "give-up-after", "soon", FALSE },
    { "peer.1.give-up-after", "2592001", FALSE },
    /* known, but not applied yet: refused, not ignored */
    { "network-map", "/etc/wgmesh/peers.conf", FALSE },
};

static void
test_bad_settings(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) good = with_override("listen-port", "51820", FALSE);
    g_autoptr(GError) error  = NULL;
    g_autofree char *log     = NULL;
    g_autofree char *name    = NULL;

    wgm_test_harness_start_service(f, NULL, BUS_NAME, TRUE);

    for (guint i = 0; i < G_N_ELEMENTS(bad_settings); i++) {
        g_autoptr(GVariant) conn =
            with_override(bad_settings[i].key, bad_settings[i].value, bad_settings[i].secret);
        g_autofree char *remote = NULL;

        g_test_message("bad setting %s=%s", bad_settings[i].key, bad_settings[i].value);
        g_assert_false(wgm_test_vpn_connect(f->vpn, conn, &error));
        g_assert_nonnull(error);
        remote = g_dbus_error_get_remote_error(error);
        g_assert_cmpstr(remote, ==, "org.freedesktop.NetworkManager.wgmesh.Error.InvalidSetting");
        g_dbus_error_strip_remote_error(error);
        g_test_message("  -> %s", error->message);
        g_assert_true(g_str_has_prefix(error->message, bad_settings[i].key));
        if (bad_settings[i].value && bad_settings[i].secret)
            g_assert_null(strstr(error->message, bad_settings[i].value));
        assert_no_secret(error->message);
        g_clear_error(&error);

        /* The failed Connect leaves the service stopped, not stuck (libnm
         * only signals a change, so only the first failure says so; the
         * next Connect would be refused for a wrong state otherwise). */
        if (i == 0)
            g_assert_true(wgm_test_vpn_wait_state(f->vpn, STATE_STOPPED, 5000));
    }

    /* Still alive and answering: a complete profile is accepted past validation. */
    g_assert_true(wgm_test_service_is_running(f->service));
    name = wgm_test_vpn_need_secrets(f->vpn, good, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(name, ==, "");

    log = wgm_test_service_get_log(f->service);
    g_assert_nonnull(strstr(log, "refusing connection"));
    assert_no_secret(log);
}

/* Under NetworkManager (no --debug) the service watches its caller and
 * quits once stopped, so NetworkManager starts a fresh one next time: a
 * failed Connect must end in a clean exit, not a hang or a crash. */
static void
test_bad_settings_exits_cleanly(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn = with_override("peer.1.allowed-ips", "10.77.0.2/33", FALSE);
    g_autoptr(GError) error  = NULL;
    int status;

    wgm_test_harness_start_service(f, NULL, BUS_NAME, FALSE);
    g_assert_false(wgm_test_vpn_connect(f->vpn, conn, &error));
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "peer.1.allowed-ips"));
    g_assert_true(wgm_test_service_wait_exit(f->service, 10000, &status));
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static void
test_bad_call(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(GVariant) reply = NULL;

    wgm_test_harness_start_service(f, NULL, BUS_NAME, TRUE);

    /* Not a connection dict at all. */
    reply = g_dbus_connection_call_sync(wgm_test_vpn_get_connection(f->vpn),
                                        BUS_NAME,
                                        "/org/freedesktop/NetworkManager/VPN/Plugin",
                                        "org.freedesktop.NetworkManager.VPN.Plugin",
                                        "Connect",
                                        g_variant_new("(s)", "garbage"),
                                        NULL,
                                        G_DBUS_CALL_FLAGS_NONE,
                                        5000,
                                        NULL,
                                        &error);
    g_assert_null(reply);
    g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
    g_clear_error(&error);

    /* A connection without a vpn setting. */
    {
        g_autoptr(NMConnection) c = nm_simple_connection_new();
        NMSetting *s_con          = nm_setting_connection_new();

        g_object_set(s_con,
                     NM_SETTING_CONNECTION_ID,
                     "no-vpn",
                     NM_SETTING_CONNECTION_UUID,
                     "8a7b0f0e-1111-4222-8333-444455556666",
                     NM_SETTING_CONNECTION_TYPE,
                     "vpn",
                     NULL);
        nm_connection_add_setting(c, s_con);
        g_autoptr(GVariant) dict = NULL;

        dict = g_variant_ref_sink(nm_connection_to_dbus(c, NM_CONNECTION_SERIALIZE_ALL));
        g_assert_false(wgm_test_vpn_connect(f->vpn, dict, &error));
        g_assert_nonnull(error);
        g_test_message("no vpn setting -> %s", error->message);
        g_clear_error(&error);
    }
    g_assert_true(wgm_test_service_is_running(f->service));
}

static guint32
ip4(const char *s)
{
    guint32 a;

    g_assert_cmpint(inet_pton(AF_INET, s, &a), ==, 1);
    return a;
}

static gboolean
routes4_contain(GVariant *routes, const char *dest, guint32 plen)
{
    GVariantIter iter;
    GVariant    *route;

    g_variant_iter_init(&iter, routes);
    while ((route = g_variant_iter_next_value(&iter))) {
        gsize          n;
        const guint32 *r     = g_variant_get_fixed_array(route, &n, sizeof(guint32));
        gboolean       match = n == 4 && r[0] == ip4(dest) && r[1] == plen;

        g_variant_unref(route);
        if (match)
            return TRUE;
    }
    return FALSE;
}

static void
test_connect_and_export(Fixture *f, gconstpointer data)
{
    WgmTestNet *net;
    g_autoptr(GError) error     = NULL;
    g_autoptr(GVariant) conn    = with_override("listen-port", "51820", FALSE);
    g_autoptr(GVariant) config  = NULL;
    g_autoptr(GVariant) ip4cfg  = NULL;
    g_autoptr(GVariant) ip6cfg  = NULL;
    g_autoptr(GVariant) dict    = NULL;
    g_autoptr(GVariant) routes  = NULL;
    g_autoptr(GVariant) objects = NULL;
    g_autoptr(GVariant) mesh    = NULL;
    g_autoptr(GHashTable) peers = NULL;
    g_auto(GStrv) wrap          = NULL;
    g_autofree char *dump       = NULL;
    g_autofree char *log        = NULL;
    g_autofree char *out        = NULL;
    GVariant        *p;
    const char      *s;
    guint32          u;
    gboolean         b;

    WGM_TEST_REQUIRE_ROOT();

    /* Two peer hosts exist but run no WireGuard of ours here: this test is
     * about the NetworkManager conversation, the netns suite about traffic. */
    net = f->net = wgm_test_net_new(0, &error);
    g_assert_no_error(error);
    wrap = wgm_test_net_wrap_argv(net, wgm_test_net_get_svc_ns(net));
    wgm_test_harness_start_service(f, (const char *const *)wrap, BUS_NAME, TRUE);

    wgm_test_vpn_connect(f->vpn, conn, &error);
    g_assert_no_error(error);

    config = wgm_test_vpn_wait_signal(f->vpn, "Config", 15000);
    g_assert_nonnull(config);
    g_variant_get(config, "(@a{sv})", &dict);
    g_assert_true(g_variant_lookup(dict, "tundev", "&s", &s));
    g_assert_cmpstr(s, ==, "wgm0");
    g_assert_true(g_variant_lookup(dict, "gateway", "u", &u));
    g_assert_cmpuint(u, ==, ip4("10.200.1.2"));
    g_assert_true(g_variant_lookup(dict, "mtu", "u", &u));
    g_assert_cmpuint(u, ==, 1420);
    g_assert_true(g_variant_lookup(dict, "has-ip4", "b", &b) && b);
    g_assert_true(g_variant_lookup(dict, "has-ip6", "b", &b) && b);
    g_clear_pointer(&dict, g_variant_unref);

    ip4cfg = wgm_test_vpn_wait_signal(f->vpn, "Ip4Config", 5000);
    g_assert_nonnull(ip4cfg);
    g_variant_get(ip4cfg, "(@a{sv})", &dict);
    g_assert_true(g_variant_lookup(dict, "address", "u", &u));
    g_assert_cmpuint(u, ==, ip4("10.77.0.1"));
    g_assert_true(g_variant_lookup(dict, "prefix", "u", &u));
    g_assert_cmpuint(u, ==, 24);
    g_assert_true(g_variant_lookup(dict, "never-default", "b", &b) && b);
    routes = g_variant_lookup_value(dict, "routes", G_VARIANT_TYPE("aau"));
    g_assert_nonnull(routes);
    /* The peers' /32s lie in the interface's 10.77.0.0/24: the on-link
     * route covers them, only 10.99.0.0/16 is a route (as in wg-quick). */
    g_assert_cmpuint(g_variant_n_children(routes), ==, 1);
    g_assert_false(routes4_contain(routes, "10.77.0.2", 32));
    g_assert_true(routes4_contain(routes, "10.99.0.0", 16));
    p = g_variant_lookup_value(dict, "dns", G_VARIANT_TYPE("au"));
    g_assert_cmpuint(g_variant_n_children(p), ==, 1);
    g_variant_unref(p);
    p = g_variant_lookup_value(dict, "domains", G_VARIANT_TYPE("as"));
    g_assert_nonnull(p);
    g_variant_unref(p);
    g_clear_pointer(&dict, g_variant_unref);

    ip6cfg = wgm_test_vpn_wait_signal(f->vpn, "Ip6Config", 5000);
    g_assert_nonnull(ip6cfg);
    g_variant_get(ip6cfg, "(@a{sv})", &dict);
    g_assert_true(g_variant_lookup(dict, "prefix", "u", &u));
    g_assert_cmpuint(u, ==, 64);
    g_clear_pointer(&routes, g_variant_unref);
    routes = g_variant_lookup_value(dict, "routes", G_VARIANT_TYPE("a(ayuayu)"));
    g_assert_cmpuint(g_variant_n_children(routes), ==, 0); /* fd77::3 is on-link */

    g_assert_true(wgm_test_vpn_wait_state(f->vpn, STATE_STARTED, 5000));

    /* The mesh on D-Bus: the root object and one object per peer. */
    mesh = wgm_test_vpn_get_mesh(f->vpn, &error);
    g_assert_no_error(error);
    g_assert_true(g_variant_lookup(mesh, "Interface", "&s", &s));
    g_assert_cmpstr(s, ==, "wgm0");
    g_assert_true(g_variant_lookup(mesh, "Backend", "&s", &s));
    g_assert_cmpstr(s, ==, "userspace");
    {
        g_autofree char *uuid = wgm_test_vpn_connection_get_uuid(conn);

        g_assert_true(g_variant_lookup(mesh, "Connection", "&s", &s));
        g_assert_cmpstr(s, ==, uuid);
    }
    g_assert_true(g_variant_lookup(mesh, "ListenPort", "u", &u));
    g_assert_cmpuint(u, ==, 51820);
    g_assert_true(g_variant_lookup(mesh, "PeersConnecting", "u", &u));
    g_assert_cmpuint(u, ==, 2);

    peers = wgm_test_vpn_get_peers(f->vpn, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_hash_table_size(peers), ==, 2);
    p = g_hash_table_lookup(peers, PUB1);
    g_assert_nonnull(p);
    g_assert_true(g_variant_lookup(p, "Name", "&s", &s));
    g_assert_cmpstr(s, ==, "one");
    /* Nobody answers at these endpoints: WireGuard was asked, and keeps trying. */
    g_assert_true(g_variant_lookup(p, "State", "&s", &s));
    g_assert_cmpstr(s, ==, "connecting");
    g_assert_true(g_variant_lookup(p, "Endpoint", "&s", &s));
    g_assert_cmpstr(s, ==, "10.200.1.2:51820");
    g_assert_true(g_variant_lookup(p, "Attempts", "u", &u));
    g_assert_cmpuint(u, >=, 1);
    p = g_hash_table_lookup(peers, PUB2);
    g_assert_nonnull(p);
    {
        g_autofree const char **ips = NULL;

        g_assert_true(g_variant_lookup(p, "AllowedIPs", "^a&s", &ips));
        g_assert_cmpuint(g_strv_length((char **)ips), ==, 2);
        g_assert_cmpstr(ips[0], ==, "10.77.0.3/32");
        g_assert_cmpstr(ips[1], ==, "fd77::3/128");
    }

    objects = wgm_test_vpn_get_managed_objects(f->vpn, &error);
    dump    = g_variant_print(objects, TRUE);
    assert_no_secret(dump);

    /* WireGuard has what the profile said (wg reads the service's own /run). */
    g_assert_true(wgm_test_net_exec_in_service(
        net, wgm_test_service_get_pid(f->service), &out, &error, "wg show wgm0 dump"));
    g_assert_no_error(error);
    g_assert_nonnull(strstr(out, PUB1));
    g_assert_nonnull(strstr(out, "10.200.2.2:51820"));

    /* Disconnect: interface, wireguard-go and socket file all gone. */
    g_assert_true(wgm_test_vpn_disconnect(f->vpn, &error));
    g_assert_no_error(error);
    g_assert_true(wgm_test_vpn_wait_state(f->vpn, STATE_STOPPED, 5000));
    g_assert_true(wgm_test_net_wait_link_gone(net, wgm_test_net_get_svc_ns(net), "wgm0", 5000));
    g_assert_true(wgm_test_net_wait_processes(net, wgm_test_net_get_svc_ns(net), 1, 5000));
    g_assert_false(wgm_test_service_has_file(f->service, "/run/wireguard/wgm0.sock"));
    g_assert_null(wgm_test_vpn_get_managed_objects(f->vpn, &error));
    g_assert_nonnull(error);

    log = wgm_test_service_get_log(f->service);
    assert_no_secret(log);
}

/* A peer that routes everything (0.0.0.0/0, as in wg-quick): no /0 route,
 * but never-default off, so NetworkManager makes the mesh the default route
 * (and pins the gateway through the underlay).  IPv6 stays never-default. */
static void
test_default_route(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) conn =
        with_override("peer.1.allowed-ips", "0.0.0.0/0, 10.99.0.0/16", FALSE);
    g_autoptr(GVariant) ip4    = NULL;
    g_autoptr(GVariant) ip6    = NULL;
    g_autoptr(GVariant) dict4  = NULL;
    g_autoptr(GVariant) dict6  = NULL;
    g_autoptr(GVariant) routes = NULL;
    g_auto(GStrv) wrap         = NULL;
    gboolean b;

    WGM_TEST_REQUIRE_ROOT();

    f->net = wgm_test_net_new(0, &error);
    g_assert_no_error(error);
    wrap = wgm_test_net_wrap_argv(f->net, wgm_test_net_get_svc_ns(f->net));
    wgm_test_harness_start_service(f, (const char *const *)wrap, BUS_NAME, TRUE);
    g_assert_true(wgm_test_vpn_connect(f->vpn, conn, &error));
    g_assert_no_error(error);

    ip4 = wgm_test_vpn_wait_signal(f->vpn, "Ip4Config", 15000);
    g_assert_nonnull(ip4);
    g_variant_get(ip4, "(@a{sv})", &dict4);
    g_assert_true(g_variant_lookup(dict4, "never-default", "b", &b));
    g_assert_false(b);
    routes = g_variant_lookup_value(dict4, "routes", G_VARIANT_TYPE("aau"));
    g_assert_cmpuint(g_variant_n_children(routes), ==, 1); /* 10.77.0.3/32 is on-link */
    g_assert_true(routes4_contain(routes, "10.99.0.0", 16));
    g_assert_false(routes4_contain(routes, "0.0.0.0", 0));

    ip6 = wgm_test_vpn_wait_signal(f->vpn, "Ip6Config", 5000);
    g_assert_nonnull(ip6);
    g_variant_get(ip6, "(@a{sv})", &dict6);
    g_assert_true(g_variant_lookup(dict6, "never-default", "b", &b));
    g_assert_true(b);
    g_assert_true(wgm_test_vpn_disconnect(f->vpn, &error));
    g_assert_no_error(error);
}

/* good_data with private-key-flags=@flags (2: NOT_SAVED, an agent gives
 * it), good_secrets with the private key @priv (NULL: none). */
static GVariant *
with_private_key(const char *flags, const char *priv)
{
    g_autoptr(GPtrArray) data    = g_ptr_array_new();
    g_autoptr(GPtrArray) secrets = g_ptr_array_new();

    for (guint i = 0; good_data[i]; i++)
        g_ptr_array_add(data, (char *)good_data[i]);
    g_ptr_array_add(data, "private-key-flags");
    g_ptr_array_add(data, (char *)flags);
    g_ptr_array_add(data, NULL);
    if (priv) {
        g_ptr_array_add(secrets, "private-key");
        g_ptr_array_add(secrets, (char *)priv);
    }
    g_ptr_array_add(secrets, "peer.2.preshared-key");
    g_ptr_array_add(secrets, PSK);
    g_ptr_array_add(secrets, NULL);
    return wgm_test_vpn_connection_new(
        "mesh", (const char *const *)data->pdata, (const char *const *)secrets->pdata);
}

/* Waits for SecretsRequired and checks that it names exactly @key. */
static char *
wait_secrets_required(Fixture *f, const char *key)
{
    g_autoptr(GVariant) params    = wgm_test_vpn_wait_signal(f->vpn, "SecretsRequired", 5000);
    g_autofree const char **hints = NULL;
    const char             *message;

    g_assert_nonnull(params);
    g_variant_get(params, "(&s^a&s)", &message, &hints);
    g_test_message("SecretsRequired: %s", message);
    g_assert_cmpuint(g_strv_length((char **)hints), ==, 1);
    g_assert_cmpstr(hints[0], ==, key);
    g_assert_nonnull(strstr(message, key));
    return g_strdup(message);
}

/* Typed by a user, not a key, and must never show up anywhere. */
#define TYPO "typo-SECRET-typo"

/* ConnectInteractive (every agent passes hints on): a secret an agent
 * gives and Connect refuses, or one still missing, is asked for again by
 * name (SecretsRequired) and NewSecrets continues; a few rounds, then
 * Connect's own error.  A stored bad secret fails at once, as Connect. */
static void
test_interactive_secrets(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(GVariant) none  = with_private_key("2", NULL);
    g_autoptr(GVariant) typo  = with_private_key("2", TYPO);
    g_autoptr(GVariant) saved = with_private_key("0", TYPO);
    g_autofree char *remote   = NULL;
    g_autofree char *log      = NULL;

    wgm_test_harness_start_service(f, NULL, BUS_NAME, TRUE);

    g_assert_true(wgm_test_vpn_connect_interactive(f->vpn, none, &error));
    g_assert_no_error(error);
    g_free(wait_secrets_required(f, "private-key"));

    for (guint round = 2; round <= 3; round++) {
        g_autofree char *message = NULL;

        g_assert_true(wgm_test_vpn_new_secrets(f->vpn, typo, &error));
        g_assert_no_error(error);
        message = wait_secrets_required(f, "private-key");
        g_assert_nonnull(strstr(message, "Not a WireGuard key"));
        g_assert_null(strstr(message, TYPO));
    }

    g_assert_false(wgm_test_vpn_new_secrets(f->vpn, typo, &error));
    remote = g_dbus_error_get_remote_error(error);
    g_assert_cmpstr(remote, ==, "org.freedesktop.NetworkManager.wgmesh.Error.InvalidSetting");
    g_assert_nonnull(strstr(error->message, "private-key"));
    g_assert_null(strstr(error->message, TYPO));
    g_clear_error(&error);
    g_clear_pointer(&remote, g_free);
    g_assert_true(wgm_test_vpn_wait_state(f->vpn, STATE_STOPPED, 5000));
    g_assert_false(wgm_test_vpn_has_signal(f->vpn, "SecretsRequired"));

    /* Stored by NetworkManager: the profile's to fix, not asked again. */
    g_assert_false(wgm_test_vpn_connect_interactive(f->vpn, saved, &error));
    remote = g_dbus_error_get_remote_error(error);
    g_assert_cmpstr(remote, ==, "org.freedesktop.NetworkManager.wgmesh.Error.InvalidSetting");
    g_assert_false(wgm_test_vpn_has_signal(f->vpn, "SecretsRequired"));

    log = wgm_test_service_get_log(f->service);
    g_assert_nonnull(strstr(log, "asking again for private-key (missing)"));
    g_assert_nonnull(strstr(log, "asking again for private-key (not a WireGuard key)"));
    g_assert_null(strstr(log, TYPO));
    assert_no_secret(log);
}

/* The key an agent gives in NewSecrets brings the mesh up, and the mesh
 * says which profile it runs (Mesh.Connection). */
static void
test_interactive_connect(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error    = NULL;
    g_autoptr(GVariant) none   = with_private_key("2", NULL);
    g_autoptr(GVariant) given  = with_private_key("2", PRIV);
    g_autoptr(GVariant) config = NULL;
    g_autoptr(GVariant) mesh   = NULL;
    g_autofree char *uuid      = wgm_test_vpn_connection_get_uuid(given);
    g_auto(GStrv) wrap         = NULL;
    const char *s;

    WGM_TEST_REQUIRE_ROOT();

    f->net = wgm_test_net_new(0, &error);
    g_assert_no_error(error);
    wrap = wgm_test_net_wrap_argv(f->net, wgm_test_net_get_svc_ns(f->net));
    wgm_test_harness_start_service(f, (const char *const *)wrap, BUS_NAME, TRUE);

    g_assert_true(wgm_test_vpn_connect_interactive(f->vpn, none, &error));
    g_assert_no_error(error);
    g_free(wait_secrets_required(f, "private-key"));
    g_assert_true(wgm_test_vpn_new_secrets(f->vpn, given, &error));
    g_assert_no_error(error);

    config = wgm_test_vpn_wait_signal(f->vpn, "Config", 15000);
    g_assert_nonnull(config);
    g_assert_true(wgm_test_vpn_wait_state(f->vpn, STATE_STARTED, 5000));
    mesh = wgm_test_vpn_get_mesh(f->vpn, &error);
    g_assert_no_error(error);
    g_assert_true(g_variant_lookup(mesh, "Connection", "&s", &s));
    g_assert_cmpstr(s, ==, uuid);
    g_assert_true(wgm_test_vpn_disconnect(f->vpn, &error));
    g_assert_no_error(error);
}

/* Runs gdbus as user nobody; TRUE if the call succeeded, else its error. */
static gboolean
gdbus_as_nobody(Fixture    *f,
                const char *dest,
                const char *path,
                const char *method,
                char      **out_error)
{
    const char *argv[]      = { "setpriv",
                                "--reuid=nobody",
                                "--regid=nogroup",
                                "--clear-groups",
                                "gdbus",
                                "call",
                                "--address",
                                wgm_test_bus_get_address(f->bus),
                                "--dest",
                                dest,
                                "--object-path",
                                path,
                                "--method",
                                method,
                                NULL };
    g_autoptr(GError) error = NULL;
    int status;

    g_assert_true(g_spawn_sync(NULL,
                               (char **)argv,
                               NULL,
                               G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL,
                               NULL,
                               NULL,
                               out_error,
                               &status,
                               &error));
    g_assert_no_error(error);
    return g_spawn_check_wait_status(status, NULL);
}

static void
assert_nobody_may(Fixture *f, const char *path, const char *method, gboolean allowed)
{
    g_autofree char *err = NULL;
    gboolean         ok  = gdbus_as_nobody(f, BUS_NAME ".Connection_7", path, method, &err);

    g_test_message("nobody: %s %s -> %s", path, method, ok ? "ok" : g_strstrip(err));
    if (allowed)
        g_assert_true(ok || !strstr(err, "AccessDenied"));
    else
        g_assert_true(!ok && strstr(err, "org.freedesktop.DBus.Error.AccessDenied"));
}

/* data/nm-wgmesh-service.conf on a bus with the system bus's default
 * policy: root (NetworkManager) owns the .Connection_N names and drives the
 * VPN plugin; any local user may watch the mesh, and ask to change it (the
 * Mesh methods, Properties.Set): the service itself lets root through and
 * asks polkit about anyone else (test-mesh-methods.c), but the VPN plugin
 * stays root's alone. */
static void
test_policy(Fixture *f, gconstpointer data)
{
    g_autofree char *policy = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) bad = with_override("listen-port", "70000", FALSE);
    g_autofree char *remote = NULL;

    WGM_TEST_REQUIRE_ROOT();

    policy = g_build_filename(g_getenv("WGM_SOURCE_ROOT"), "data", "nm-wgmesh-service.conf", NULL);
    g_clear_pointer(&f->bus, wgm_test_bus_free);
    f->bus = wgm_test_bus_new_with_policy(policy, &error);
    g_assert_no_error(error);
    wgm_test_harness_start_service(f, NULL, BUS_NAME ".Connection_7", TRUE);

    /* Root gets through to the plugin (and its settings check). */
    g_assert_false(wgm_test_vpn_connect(f->vpn, bad, &error));
    remote = g_dbus_error_get_remote_error(error);
    g_assert_cmpstr(remote, ==, "org.freedesktop.NetworkManager.wgmesh.Error.InvalidSetting");

    assert_nobody_may(f,
                      "/org/freedesktop/NetworkManager/wgmesh",
                      "org.freedesktop.DBus.Introspectable.Introspect",
                      TRUE);
    assert_nobody_may(f,
                      "/org/freedesktop/NetworkManager/wgmesh",
                      "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
                      TRUE);
    assert_nobody_may(f,
                      "/org/freedesktop/NetworkManager/VPN/Plugin",
                      "org.freedesktop.NetworkManager.VPN.Plugin.Disconnect",
                      FALSE);
    assert_nobody_may(f,
                      "/org/freedesktop/NetworkManager/VPN/Plugin",
                      "org.freedesktop.NetworkManager.VPN.Plugin.SetFailure",
                      FALSE);
    assert_nobody_may(
        f, "/org/freedesktop/NetworkManager/wgmesh", "org.freedesktop.DBus.Properties.Set", TRUE);
    assert_nobody_may(f,
                      "/org/freedesktop/NetworkManager/wgmesh",
                      "org.freedesktop.NetworkManager.wgmesh.Mesh.ResetBackoff",
                      TRUE);
    assert_nobody_may(f,
                      "/org/freedesktop/NetworkManager/wgmesh",
                      "org.freedesktop.NetworkManager.wgmesh.Mesh.ConnectPeer",
                      TRUE);
    /* The hole is the Mesh interface only: any other method stays closed. */
    assert_nobody_may(f,
                      "/org/freedesktop/NetworkManager/wgmesh/Peer/1",
                      "org.freedesktop.NetworkManager.wgmesh.Peer.Frobnicate",
                      FALSE);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/dbus/need-secrets", test_need_secrets);
    ADD("/dbus/bad-settings", test_bad_settings);
    ADD("/dbus/bad-settings-exits-cleanly", test_bad_settings_exits_cleanly);
    ADD("/dbus/bad-call", test_bad_call);
    ADD("/dbus/connect-and-export", test_connect_and_export);
    ADD("/dbus/default-route", test_default_route);
    ADD("/dbus/interactive-secrets", test_interactive_secrets);
    ADD("/dbus/interactive-connect", test_interactive_connect);
    ADD("/dbus/policy", test_policy);
#undef ADD

    return g_test_run();
}
