/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lazy connections against real wireguard-go peers (root): peers Idle with
 * nothing on the wire until the first packet for one, which wakes it
 * without being lost (`ping -c 1 -W 1` must succeed), Idle again after the
 * inactivity timeout, the run-time toggle over D-Bus, a peer that connects
 * to us, garbage on the activity socket, and one socket for 1,000 peers.
 *
 * The inactivity timeout is seconds here through the test-only
 * WGM_TEST_INACTIVITY_MIN (wgm-settings-keys.h), which the service
 * inherits from this process.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>

#include "netns-mesh.h"
#include "wgm-test-util.h"

#define MESH_PATH  "/org/freedesktop/NetworkManager/wgmesh"
#define MESH_IFACE "org.freedesktop.NetworkManager.wgmesh.Mesh"
#define INACTIVITY "3"

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

static const char *const lazy_settings[] = {
    "lazy-connections", "yes", "inactivity-timeout", INACTIVITY, NULL,
};

/* The service without CAP_NET_RAW (dropped from its bounding set, so the
 * root process it execs does not have it). */
static void
fixture_setup_no_raw(Fixture *f, gconstpointer data)
{
    static const char *const no_raw[] = { "setpriv", "--bounding-set", "-net_raw", "--", NULL };

    wgm_test_mesh_harness_setup_with(f, GPOINTER_TO_UINT(data), no_raw);
}

static GVariant *
lazy_connection(Fixture *f, guint n_extra, const char *extra_host)
{
    const char *const *more = lazy_settings;

    return wgm_test_mesh_connection_with(f->net, n_extra, extra_host, more);
}

static const char *
key_of(Fixture *f, guint i)
{
    return wgm_test_net_get_peer(f->net, i)->public_key;
}

static char *
peer_state(Fixture *f, guint i)
{
    g_autoptr(GError) error     = NULL;
    g_autoptr(GHashTable) peers = wgm_test_vpn_get_peers(f->vpn, &error);
    GVariant *p;
    char     *state = NULL;

    g_assert_no_error(error);
    p = g_hash_table_lookup(peers, key_of(f, i));
    g_assert_nonnull(p);
    g_assert_true(g_variant_lookup(p, "State", "s", &state));
    return state;
}

static void
assert_state(Fixture *f, guint i, const char *expected)
{
    g_autofree char *state = peer_state(f, i);

    g_assert_cmpstr(state, ==, expected);
}

static void
wait_state(Fixture *f, guint i, const char *state, guint timeout_ms)
{
    g_autoptr(GHashTable) peers =
        wgm_test_vpn_wait_peer_state(f->vpn, key_of(f, i), state, timeout_ms);

    if (!peers) {
        g_autofree char *now = peer_state(f, i);

        g_error("peer %u is %s, not %s, after %u ms", i, now, state, timeout_ms);
    }
}

/* `ping -c 1 -W 1`: one packet, its reply within a second. */
static gboolean
ping_once(Fixture *f, guint i, double *out_ms)
{
    g_autoptr(GError) error = NULL;
    gint64   t0             = g_get_monotonic_time();
    gboolean ok             = wgm_test_net_exec(f->net,
                                    wgm_test_net_get_svc_ns(f->net),
                                    NULL,
                                    &error,
                                    "ping -n -q -c 1 -W 1 %s",
                                    wgm_test_net_get_peer(f->net, i)->tunnel);

    if (!ok)
        g_test_message("ping peer %u: %s", i, error->message);
    if (out_ms)
        *out_ms = (g_get_monotonic_time() - t0) / 1000.0;
    return ok;
}

/* What `wg show wgm0 DUMPKIND` says in the service's namespaces. */
static char *
wg_show(Fixture *f, const char *what)
{
    g_autoptr(GError) error = NULL;
    char *out               = NULL;

    g_assert_true(wgm_test_net_exec_in_service(
        f->net, wgm_test_service_get_pid(f->service), &out, &error, "wg show wgm0 %s", what));
    g_assert_no_error(error);
    return out;
}

/* The activity socket's port: every parked peer's endpoint is 127.77.x.y:P. */
static guint
activity_port(Fixture *f)
{
    g_autofree char *out = wg_show(f, "endpoints");
    g_auto(GStrv) lines  = g_strsplit(out, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        const char *ep = strstr(lines[i], "\t127.77.");
        const char *colon;

        if (ep && (colon = strrchr(ep, ':')))
            return (guint)g_ascii_strtoull(colon + 1, NULL, 10);
    }
    g_error("no peer has a lazy endpoint: %s", out);
    return 0;
}

static void
set_mesh_property(Fixture *f, const char *name, GVariant *value)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) ret =
        g_dbus_connection_call_sync(wgm_test_vpn_get_connection(f->vpn),
                                    WGM_TEST_BUS_NAME,
                                    MESH_PATH,
                                    "org.freedesktop.DBus.Properties",
                                    "Set",
                                    g_variant_new("(ssv)", MESH_IFACE, name, value),
                                    NULL,
                                    G_DBUS_CALL_FLAGS_NONE,
                                    10000,
                                    NULL,
                                    &error);

    g_assert_no_error(error);
    g_assert_nonnull(ret);
}

/* No handshake anywhere: neither side has one, nothing was received. */
static void
assert_nothing_on_the_wire(Fixture *f)
{
    g_autofree char *handshakes = wg_show(f, "latest-handshakes");
    g_autofree char *transfer   = wg_show(f, "transfer");
    g_auto(GStrv) lines         = g_strsplit(handshakes, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        if (*lines[i])
            g_assert_true(g_str_has_suffix(lines[i], "\t0"));
    }
    g_strfreev(lines);
    lines = g_strsplit(transfer, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (*lines[i])
            g_assert_true(g_str_has_suffix(lines[i], "\t0\t0"));
    }
}

/* Three lazy peers: all Idle with nothing on the wire; one ping wakes one
 * (its first packet answered within a second), the others stay Idle; Idle
 * again after the inactivity timeout; the next ping wakes it again. */
static void
test_wake_idle_wake(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn = NULL;
    double ms;
    gint64 t0;

    if (!f->net)
        return;
    conn = lazy_connection(f, 0, "10.200.1.2");
    wgm_test_mesh_bring_up(f, conn, NULL);
    for (guint i = 1; i <= 3; i++)
        assert_state(f, i, "idle");
    /* Long enough for an eager mesh to have connected many times over. */
    wgm_test_iterate(1500);
    for (guint i = 1; i <= 3; i++)
        assert_state(f, i, "idle");
    assert_nothing_on_the_wire(f);

    for (guint round = 1; round <= 2; round++) {
        g_assert_true(ping_once(f, 2, &ms));
        g_test_message("round %u: first ping through the idle peer answered in %.1f ms", round, ms);
        wait_state(f, 2, "connected", 5000);
        assert_state(f, 1, "idle");
        assert_state(f, 3, "idle");

        t0 = g_get_monotonic_time();
        wait_state(f, 2, "idle", 30000);
        g_test_message("round %u: idle again %.1f s after the ping (timeout " INACTIVITY " s)",
                       round,
                       (g_get_monotonic_time() - t0) / 1e6);
    }
    wgm_test_mesh_tear_down_and_check(f);
}

/* LazyConnections false: every peer connects; true: they go Idle after the
 * inactivity timeout, without traffic. */
static void
test_toggle(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn = NULL;

    if (!f->net)
        return;
    conn = lazy_connection(f, 0, "10.200.1.2");
    wgm_test_mesh_bring_up(f, conn, NULL);
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "idle", 2000));

    set_mesh_property(f, "LazyConnections", g_variant_new_boolean(FALSE));
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "connected", 10000));
    for (guint i = 1; i <= 3; i++)
        g_assert_true(ping_once(f, i, NULL));

    set_mesh_property(f, "LazyConnections", g_variant_new_boolean(TRUE));
    /* Live sessions stay until they are inactive. */
    for (guint i = 1; i <= 3; i++)
        assert_state(f, i, "connected");
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "idle", 30000));
    /* And they still wake. */
    g_assert_true(ping_once(f, 3, NULL));
    wait_state(f, 3, "connected", 5000);
    wgm_test_mesh_tear_down_and_check(f);
}

/* A remote peer that initiates to us makes the local peer Connected. */
static void
test_remote_initiates(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn = NULL;
    g_autoptr(GError) error  = NULL;

    if (!f->net)
        return;
    conn = lazy_connection(f, 0, "10.200.1.2");
    wgm_test_mesh_bring_up(f, conn, NULL);
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "idle", 2000));

    /* Peer 2 learns where we are, and sends us a packet. */
    g_assert_true(wgm_test_net_peer_exec(f->net,
                                         2,
                                         NULL,
                                         &error,
                                         "wg set wgp0 peer %s endpoint 10.200.2.1:51820",
                                         wgm_test_net_get_svc_public_key(f->net)));
    g_assert_no_error(error);
    g_assert_true(wgm_test_net_exec(f->net,
                                    wgm_test_net_get_peer(f->net, 2)->ns,
                                    NULL,
                                    &error,
                                    "ping -n -q -c 1 -W 2 10.77.0.1"));
    g_assert_no_error(error);
    /* Idle peers are polled every 30 s: the next poll notices. */
    wait_state(f, 2, "connected", 40000);
    assert_state(f, 1, "idle");
    /* It is a woken lazy peer now: Idle again after inactivity. */
    wait_state(f, 2, "idle", 30000);
    wgm_test_mesh_tear_down_and_check(f);
}

/* Datagrams of every wrong kind, and a flood, at the activity socket: from
 * the wrong port, from the listen port (spoofed with a raw socket) but of
 * the wrong size or type or with a bad mac1, to addresses of no peer.  No
 * peer wakes, and the mesh still works. */
static const char garbage_py[] =
    "import os, socket, struct, sys\n"
    "port = int(sys.argv[1]); peers = sys.argv[2:]\n"
    "def spoof(dst, payload, sport=51820):\n"
    "    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)\n"
    "    r.sendto(struct.pack('!HHHH', sport, port, 8 + len(payload), 0) + payload, (dst, 0))\n"
    "    r.close()\n"
    "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "for dst in peers + ['127.77.200.1']:\n"
    "    init = b'\\x01\\x00\\x00\\x00' + os.urandom(144)\n"
    "    u.sendto(init, (dst, port))                     # wrong source port\n"
    "    spoof(dst, init)                                # bad mac1\n"
    "    spoof(dst, b'\\x04\\x00\\x00\\x00' + os.urandom(144))  # wrong type\n"
    "    spoof(dst, b'\\x01\\x00\\x00\\x01' + os.urandom(144))  # reserved bytes\n"
    "    for n in (0, 1, 147, 149, 1400):\n"
    "        spoof(dst, b'\\x01\\x00\\x00\\x00' + os.urandom(max(n - 4, 0)))\n"
    "for n in range(20000):                              # then a flood\n"
    "    u.sendto(os.urandom(n % 200), (peers[n % len(peers)], port))\n";

static void
test_garbage(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn = NULL;
    g_autoptr(GError) error  = NULL;
    g_autofree char *script  = NULL;
    g_autofree char *dir     = g_dir_make_tmp("wgm-lazy-XXXXXX", &error);
    g_autofree char *log     = NULL;
    guint            port;

    if (!f->net)
        return;
    g_assert_no_error(error);
    conn = lazy_connection(f, 0, "10.200.1.2");
    wgm_test_mesh_bring_up(f, conn, NULL);
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "idle", 2000));
    port = activity_port(f);

    script = g_build_filename(dir, "garbage.py", NULL);
    g_assert_true(g_file_set_contents(script, garbage_py, -1, &error));
    g_assert_true(wgm_test_net_exec(f->net,
                                    wgm_test_net_get_svc_ns(f->net),
                                    NULL,
                                    &error,
                                    "/usr/bin/python3 %s %u 127.77.0.1 127.77.0.2 127.77.0.3",
                                    script,
                                    port));
    g_assert_no_error(error);
    g_unlink(script);
    g_rmdir(dir);

    wgm_test_iterate(500);
    g_assert_true(wgm_test_service_is_running(f->service));
    for (guint i = 1; i <= 3; i++)
        assert_state(f, i, "idle");
    log = wgm_test_service_get_log(f->service);
    for (guint v = 0; v < 5; v++) {
        static const char *const kinds[] = {
            "(wrong source)", "(bad mac1)", "(wrong type)", "(wrong size)", "(unknown peer)",
        };

        if (!strstr(log, kinds[v]))
            g_error("the service did not report a datagram %s", kinds[v]);
    }
    /* The mesh keeps working: a ping still wakes a peer. */
    g_assert_true(ping_once(f, 1, NULL));
    wait_state(f, 1, "connected", 5000);
    assert_state(f, 2, "idle");
    wgm_test_mesh_tear_down_and_check(f);
}

/* A peer whose real endpoint is IPv6: its lazy address is still an IPv4
 * loopback one, and the replayed initiation goes out over IPv6. */
static void
test_ipv6_endpoint(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn = NULL;
    g_autoptr(GError) error  = NULL;
    g_autofree char   *eps   = NULL;
    const WgmTestPeer *p3;

    if (!f->net)
        return;
    p3 = wgm_test_net_get_peer(f->net, 3);
    g_assert_true(wgm_test_net_exec(f->net,
                                    wgm_test_net_get_svc_ns(f->net),
                                    NULL,
                                    &error,
                                    "ip addr add fd00:200:3::1/64 dev vp3 nodad"));
    g_assert_no_error(error);
    g_assert_true(wgm_test_net_exec(
        f->net, p3->ns, NULL, &error, "ip addr add fd00:200:3::2/64 dev vsvc nodad"));
    g_assert_no_error(error);
    conn = wgm_test_mesh_connection_named_with(f->net, 3, "[fd00:200:3::2]", lazy_settings);
    wgm_test_mesh_bring_up(f, conn, NULL);
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "idle", 2000));
    eps = wg_show(f, "endpoints");
    g_assert_nonnull(strstr(eps, "\t127.77."));
    g_assert_null(strstr(eps, "fd00:"));

    g_assert_true(ping_once(f, 3, NULL));
    wait_state(f, 3, "connected", 5000);
    g_free(eps);
    eps = wg_show(f, "endpoints");
    g_assert_nonnull(strstr(eps, "[fd00:200:3::2]:51820"));
    assert_state(f, 1, "idle");
    wgm_test_mesh_tear_down_and_check(f);
}

/* Without a raw socket a lazy peer is woken by re-creating it: it still
 * connects at once, but the packet that woke it is lost (ping's next one
 * gets through); the service says so. */
static void
test_no_raw_fallback(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn = NULL;
    g_autoptr(GError) error  = NULL;
    g_autofree char *log     = NULL;
    g_autofree char *out     = NULL;
    gint64           t0;

    if (!f->net)
        return;
    conn = lazy_connection(f, 0, "10.200.1.2");
    wgm_test_mesh_bring_up(f, conn, NULL);
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "idle", 2000));
    t0 = g_get_monotonic_time();
    g_assert_true(wgm_test_net_exec(f->net,
                                    wgm_test_net_get_svc_ns(f->net),
                                    &out,
                                    &error,
                                    "ping -n -c 3 -i 0.5 -w 5 %s",
                                    wgm_test_net_get_peer(f->net, 1)->tunnel));
    g_assert_no_error(error);
    g_test_message("without CAP_NET_RAW: %.1f s to 3 replies; ping: %s",
                   (g_get_monotonic_time() - t0) / 1e6,
                   strstr(out, "packets transmitted") ?: out);
    wait_state(f, 1, "connected", 5000);
    assert_state(f, 2, "idle");
    log = wgm_test_service_get_log(f->service);
    g_assert_nonnull(strstr(log, "no raw socket"));
    g_assert_nonnull(strstr(log, "re-creating it for a handshake"));
    wgm_test_mesh_tear_down_and_check(f);
}

static guint
count_fds(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", pid);
    g_autoptr(GDir) dir   = g_dir_open(path, 0, NULL);
    guint n               = 0;

    g_assert_nonnull(dir);
    while (g_dir_read_name(dir))
        n++;
    return n;
}

/* The service's file descriptors with 3 lazy peers and with 1,000: the
 * same, one activity socket for all; every peer Idle on its own address. */
static void
test_thousand_one_socket(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) small  = NULL;
    g_autoptr(GVariant) large  = NULL;
    g_autofree char *endpoints = NULL;
    g_auto(GStrv) lines        = NULL;
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    GPid  pid;
    guint fds_small, fds_large, n_lazy = 0;

    if (!f->net)
        return;
    pid   = wgm_test_service_get_pid(f->service);
    small = lazy_connection(f, 0, "127.0.0.1");
    wgm_test_mesh_bring_up(f, small, NULL);
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "idle", 2000));
    wgm_test_iterate(200);
    fds_small = count_fds(pid);
    wgm_test_mesh_tear_down_and_check(f);

    large = lazy_connection(f, 997, "127.0.0.1");
    wgm_test_mesh_bring_up(f, large, NULL);
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "idle", 10000));
    wgm_test_iterate(200);
    fds_large = count_fds(pid);
    g_test_message("service fds: %u with 3 lazy peers, %u with 1,000", fds_small, fds_large);
    g_assert_cmpuint(fds_large, ==, fds_small);

    endpoints = wg_show(f, "endpoints");
    lines     = g_strsplit(endpoints, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        const char *ep = strchr(lines[i], '\t');

        if (ep && g_str_has_prefix(ep + 1, "127.77.")) {
            g_assert_false(g_hash_table_contains(seen, ep + 1));
            g_hash_table_add(seen, (gpointer)(ep + 1));
            n_lazy++;
        }
    }
    g_assert_cmpuint(n_lazy, ==, 1000);
    g_assert_true(ping_once(f, 3, NULL));
    wait_state(f, 3, "connected", 5000);
    wgm_test_mesh_tear_down_and_check(f);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_setenv("WGM_TEST_INACTIVITY_MIN", "1", TRUE);

#define ADD(path, n, fn) \
    g_test_add(path, Fixture, GUINT_TO_POINTER(n), fixture_setup, fn, fixture_teardown)
    ADD("/lazy/netns/wake-idle-wake", 3, test_wake_idle_wake);
    ADD("/lazy/netns/toggle", 3, test_toggle);
    ADD("/lazy/netns/remote-initiates", 3, test_remote_initiates);
    ADD("/lazy/netns/garbage", 3, test_garbage);
    ADD("/lazy/netns/ipv6-endpoint", 3, test_ipv6_endpoint);
    g_test_add("/lazy/netns/no-raw-fallback",
               Fixture,
               GUINT_TO_POINTER(3),
               fixture_setup_no_raw,
               test_no_raw_fallback,
               fixture_teardown);
    ADD("/lazy/netns/thousand-one-socket", 3, test_thousand_one_socket);
    return g_test_run();
}
