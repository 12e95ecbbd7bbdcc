/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * End to end (root): a real NetworkManager 1.42 in a sandbox
 * (tests/e2e/nm-sandbox.sh), driven with nmcli exactly as a user would,
 * the plugin from the build tree, real wireguard-go peers, real packets.
 * Peer states are read with gdbus inside the sandbox, from the
 * bus name NetworkManager gave the plugin; NetworkManager's own view comes
 * from nmcli.  Each test gets a fresh sandbox and checks it leaves nothing.
 */
#include "config.h"

#include <stdlib.h>

#include "wgm-test-netns.h"
#include "wgm-test-nm.h"
#include "wgm-test-util.h"
#include "wgm-test-vpn.h"

#define CONN_PREFIX     WGM_TEST_NM_VPN_SERVICE ".Connection_"
#define MESH_IFACE      "org.freedesktop.NetworkManager.wgmesh.Mesh"
#define UP_TIMEOUT_MS   30000
#define GONE_TIMEOUT_MS 5000
#define N_PEERS         3
#define N_CYCLES        20

typedef struct {
    WgmTestNm *nm;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    if (!wgm_test_nm_require())
        return;
    f->nm = wgm_test_nm_new(N_PEERS, 2, &error);
    g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    wgm_test_nm_clear(&f->nm);
}

/* ---- profiles ---- */

/* nmcli connection add: mesh @mesh's vpn.data plus @extra_data (", k=v"),
 * and vpn.secrets @secrets (NULL: the mesh's private key, "": none). */
static void
add_profile(Fixture *f, const char *name, guint mesh, const char *extra_data, const char *secrets)
{
    g_autofree char *data     = wgm_test_nm_vpn_data(f->nm, mesh);
    g_autofree char *var      = g_strdup_printf("MESH_%u_PRIVATE_KEY", mesh);
    g_autofree char *own      = g_strdup_printf("private-key=%s", wgm_test_nm_get_var(f->nm, var));
    g_autofree char *full     = g_strconcat(data, extra_data ? extra_data : "", NULL);
    g_autofree char *q_name   = g_shell_quote(name);
    g_autofree char *q_data   = g_shell_quote(full);
    g_autofree char *q_secret = g_shell_quote(secrets ? secrets : own);
    g_autoptr(GError) error   = NULL;

    wgm_test_nm_exec(f->nm,
                     NULL,
                     &error,
                     "nmcli connection add type vpn con-name %s vpn-type %s "
                     "vpn.data %s%s%s",
                     q_name,
                     WGM_TEST_NM_VPN_SERVICE,
                     q_data,
                     secrets && !*secrets ? "" : " vpn.secrets ",
                     secrets && !*secrets ? "" : q_secret);
    g_assert_no_error(error);
}

/* ---- D-Bus, as a user reads it inside the sandbox ---- */

static const char *
peer_state(GHashTable *peers, const char *peer_name)
{
    GVariant   *props = g_hash_table_lookup(peers, peer_name);
    const char *state = NULL;

    if (props)
        g_variant_lookup(props, "State", "&s", &state);
    return state;
}

static void
print_states(Fixture *f, const char *bus_name, const char *when)
{
    g_autoptr(GHashTable) peers = wgm_test_nm_peers(f->nm, bus_name);

    for (guint i = 1; i <= wgm_test_nm_get_n_peers(f->nm); i++) {
        g_autofree char *peer = g_strdup_printf("peer-%u", i);

        g_test_message("%s %s: %s %s", bus_name, when, peer, peer_state(peers, peer));
    }
}

/* The mesh's interface: its Mesh.Interface property, read with gdbus. */
static char *
cli_mesh_interface(Fixture *f, const char *bus_name)
{
    g_autoptr(GError) error   = NULL;
    g_autofree char *out      = NULL;
    g_autoptr(GVariant) reply = NULL;
    g_autoptr(GVariant) value = NULL;

    wgm_test_nm_exec(f->nm,
                     &out,
                     &error,
                     "gdbus call --system --dest %s --object-path %s "
                     "--method org.freedesktop.DBus.Properties.Get %s Interface",
                     bus_name,
                     WGM_TEST_NM_MESH_PATH,
                     MESH_IFACE);
    g_assert_no_error(error);
    reply = g_variant_parse(G_VARIANT_TYPE("(v)"), out, NULL, NULL, &error);
    g_assert_no_error(error);
    g_variant_get(reply, "(v)", &value);
    g_assert_true(g_variant_is_of_type(value, G_VARIANT_TYPE_STRING));
    return g_variant_dup_string(value, NULL);
}

static gboolean
peers_all(GHashTable *peers, guint n, const char *state)
{
    GHashTableIter iter;
    gpointer       props;

    if (!peers || g_hash_table_size(peers) != n)
        return FALSE;
    g_hash_table_iter_init(&iter, peers);
    while (g_hash_table_iter_next(&iter, NULL, &props)) {
        const char *s = NULL;

        if (!g_variant_lookup(props, "State", "&s", &s) || !g_str_equal(s, state))
            return FALSE;
    }
    return TRUE;
}

/* ---- bringing a mesh up ---- */

typedef struct {
    gboolean done;
    char    *output;
    int      status;
} Nmcli;

static void
nmcli_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Nmcli *n                = user_data;
    g_autoptr(GError) error = NULL;

    if (!g_subprocess_communicate_utf8_finish(
            G_SUBPROCESS(source), result, &n->output, NULL, &error))
        n->output = g_strdup(error->message);
    n->status = g_subprocess_get_if_exited(G_SUBPROCESS(source))
                    ? g_subprocess_get_exit_status(G_SUBPROCESS(source))
                    : -1;
    n->done   = TRUE;
}

static gboolean
strv_contains(GPtrArray *names, const char *name)
{
    for (guint i = 0; i < names->len; i++) {
        if (g_str_equal(names->pdata[i], name))
            return TRUE;
    }
    return FALSE;
}

/*
 * `nmcli connection up @name`, while watching the sandbox's bus from
 * outside: the plugin's new Connection_N name, then its peers.  Returns that
 * bus name once nmcli succeeded and every peer is connected; the times from
 * starting nmcli to nmcli's exit and to all peers connected.
 */
static char *
bring_up_until(Fixture    *f,
               const char *name,
               const char *until,
               double     *out_nmcli_ms,
               double     *out_connected_ms)
{
    g_autoptr(GPtrArray) before = wgm_test_nm_list_names(f->nm, CONN_PREFIX);
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GError) error     = NULL;
    g_autoptr(WgmTestVpn) vpn   = NULL;
    g_autofree char *q_name     = g_shell_quote(name);
    g_autofree char *bus_name   = NULL;
    guint            n          = wgm_test_nm_get_n_peers(f->nm);
    Nmcli            nmcli      = { 0 };
    gint64           t0, deadline, t_nmcli = 0, t_connected = 0;

    t0       = g_get_monotonic_time();
    deadline = t0 + (gint64)UP_TIMEOUT_MS * 1000;
    proc     = wgm_test_nm_spawn(f->nm, &error, "nmcli connection up %s", q_name);
    g_assert_no_error(error);
    g_subprocess_communicate_utf8_async(proc, NULL, NULL, nmcli_done_cb, &nmcli);

    while (!nmcli.done || !t_connected) {
        if (nmcli.done && !t_nmcli) {
            t_nmcli = g_get_monotonic_time();
            if (nmcli.status != 0)
                g_error("nmcli connection up %s: exit %d: %s", name, nmcli.status, nmcli.output);
        }
        if (!bus_name) {
            g_autoptr(GPtrArray) now = wgm_test_nm_list_names(f->nm, CONN_PREFIX);

            for (guint i = 0; i < now->len && !bus_name; i++) {
                if (!strv_contains(before, now->pdata[i]))
                    bus_name = g_strdup(now->pdata[i]);
            }
            if (bus_name)
                vpn = wgm_test_vpn_new(wgm_test_nm_get_bus_address(f->nm), bus_name);
        }
        if (vpn && !t_connected) {
            g_autoptr(GHashTable) peers = wgm_test_vpn_get_peers(vpn, NULL);

            if (peers_all(peers, n, until))
                t_connected = g_get_monotonic_time();
        }
        if (g_get_monotonic_time() > deadline)
            g_error("%s: not up after %u ms (nmcli %s, bus name %s, peers %s, waiting for %s)",
                    name,
                    UP_TIMEOUT_MS,
                    nmcli.done ? "done" : "still running",
                    bus_name ? bus_name : "none",
                    t_connected ? until : "not all there",
                    until);
        wgm_test_iterate(5);
    }
    g_free(nmcli.output);
    /* The peers may be connected before nmcli has returned: then both ended
     * in the last iteration. */
    if (!t_nmcli)
        t_nmcli = g_get_monotonic_time();
    if (out_nmcli_ms)
        *out_nmcli_ms = (t_nmcli - t0) / 1000.0;
    if (out_connected_ms)
        *out_connected_ms = (t_connected - t0) / 1000.0;
    return g_steal_pointer(&bus_name);
}

static char *
bring_up(Fixture *f, const char *name, double *out_nmcli_ms, double *out_connected_ms)
{
    return bring_up_until(f, name, "connected", out_nmcli_ms, out_connected_ms);
}

static void
ping_all(Fixture *f, guint mesh, const char *iface)
{
    for (guint i = 1; i <= wgm_test_nm_get_n_peers(f->nm); i++) {
        g_autofree char *addr   = wgm_test_nm_peer_tunnel(mesh, i);
        g_autofree char *route  = NULL;
        g_autofree char *out    = NULL;
        g_autofree char *dev    = g_strdup_printf(" dev %s ", iface);
        g_autoptr(GError) error = NULL;

        /* Through the tunnel, not around it. */
        wgm_test_nm_exec(f->nm, &route, &error, "ip -4 route get %s", addr);
        g_assert_no_error(error);
        g_assert_nonnull(strstr(route, dev));
        /* With -c and -w, ping fails unless every reply comes in time. */
        wgm_test_nm_exec(f->nm,
                         &out,
                         &error,
                         "ping -n -q -i 0.2 -c 3 -W 2 -w 5 %s | tail -n 2 | tr '\\n' ' '",
                         addr);
        g_assert_no_error(error);
        g_test_message("ping %s (peer-%u) via %s: %s", addr, i, iface, g_strstrip(out));
    }
}

/*
 * Everything a user can see of an active mesh agrees: NetworkManager says
 * activated with the mesh's address, the plugin's interface carries that
 * address, every peer's State on D-Bus is "connected", pings go through.
 * Returns the interface.
 */
static char *
check_mesh(Fixture *f, const char *name, guint mesh, const char *bus_name)
{
    g_autofree char *address    = wgm_test_nm_mesh_address(mesh);
    g_autofree char *expected   = g_strdup_printf("activated\n%s", address);
    g_autofree char *nm_view    = NULL;
    g_autofree char *kernel     = NULL;
    g_autofree char *q_name     = g_shell_quote(name);
    g_autofree char *iface      = NULL;
    g_autoptr(GHashTable) peers = NULL;
    g_autoptr(GError) error     = NULL;

    wgm_test_nm_exec(
        f->nm, &nm_view, &error, "nmcli -g GENERAL.STATE,IP4.ADDRESS connection show %s", q_name);
    g_assert_no_error(error);
    g_assert_cmpstr(g_strstrip(nm_view), ==, expected);

    iface = cli_mesh_interface(f, bus_name);
    g_assert_true(g_str_has_prefix(iface, "wgm"));
    wgm_test_nm_exec(f->nm, &kernel, &error, "ip -o -4 addr show dev %s", iface);
    g_assert_no_error(error);
    g_assert_nonnull(strstr(kernel, address));

    /* This bus name serves this mesh: its peers route this mesh's
     * addresses, and all are connected. */
    peers = wgm_test_nm_peers(f->nm, bus_name);
    g_assert_cmpuint(g_hash_table_size(peers), ==, wgm_test_nm_get_n_peers(f->nm));
    for (guint i = 1; i <= wgm_test_nm_get_n_peers(f->nm); i++) {
        g_autofree char        *peer    = g_strdup_printf("peer-%u", i);
        g_autofree char        *tunnel  = wgm_test_nm_peer_tunnel(mesh, i);
        g_autofree char        *allowed = g_strdup_printf("%s/32", tunnel);
        g_autofree const char **ips     = NULL;

        g_assert_cmpstr(peer_state(peers, peer), ==, "connected");
        g_assert_true(
            g_variant_lookup(g_hash_table_lookup(peers, peer), "AllowedIPs", "^a&s", &ips));
        g_assert_cmpuint(g_strv_length((char **)ips), ==, 1);
        g_assert_cmpstr(ips[0], ==, allowed);
    }
    g_test_message("%s: NetworkManager says %s on %s; %s has %u peers, all connected",
                   name,
                   g_strdelimit(nm_view, "\n", ' '),
                   iface,
                   bus_name,
                   g_hash_table_size(peers));
    ping_all(f, mesh, iface);
    return g_steal_pointer(&iface);
}

static gboolean
wait_gone(Fixture *f, const char *bus_name, const char *iface, GString *why)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)GONE_TIMEOUT_MS * 1000;

    for (;;) {
        g_autoptr(GPtrArray) plugins = wgm_test_nm_processes(f->nm, "nm-wgmesh-servi");
        g_autoptr(GPtrArray) wggo    = wgm_test_nm_processes(f->nm, "wireguard-go");
        g_autoptr(GPtrArray) names   = wgm_test_nm_list_names(f->nm, CONN_PREFIX);
        g_autofree char *links       = wgm_test_nm_links(f->nm);
        g_autofree char *sock =
            g_strdup_printf("%s/run/wireguard/%s.sock", wgm_test_nm_get_dir(f->nm), iface);
        gboolean link_left = iface && strstr(links, iface);
        gboolean name_left = bus_name && strv_contains(names, bus_name);
        gboolean sock_left = iface && g_file_test(sock, G_FILE_TEST_EXISTS);

        if (!plugins->len && !wggo->len && !link_left && !name_left && !sock_left)
            return TRUE;
        if (g_get_monotonic_time() > deadline) {
            g_string_printf(why,
                            "%u plugin and %u wireguard-go processes, links: %s, bus name %s, "
                            "UAPI socket %s",
                            plugins->len,
                            wggo->len,
                            links,
                            name_left ? "still owned" : "released",
                            sock_left ? "left" : "gone");
            return FALSE;
        }
        g_usleep(20 * 1000);
    }
}

static void
assert_gone(Fixture *f, const char *bus_name, const char *iface)
{
    g_autoptr(GString) why = g_string_new(NULL);

    if (!wait_gone(f, bus_name, iface, why))
        g_error("not cleaned up %u ms after: %s", GONE_TIMEOUT_MS, why->str);
}

static void
take_down(Fixture *f, const char *name)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *q_name = g_shell_quote(name);

    wgm_test_nm_exec(f->nm, NULL, &error, "nmcli connection down %s", q_name);
    g_assert_no_error(error);
}

/* ---- the tests ---- */

/* nmcli connection add + up: nmcli succeeds, every peer is connected on
 * D-Bus, NetworkManager's view matches, pings reach every peer through the
 * tunnel. */
static void
test_up(Fixture *f, gconstpointer data)
{
    g_autofree char *bus_name = NULL;
    g_autofree char *iface    = NULL;
    double           nmcli_ms, connected_ms;

    if (!f->nm)
        return;
    add_profile(f, "mesh", 1, NULL, NULL);
    bus_name = bring_up(f, "mesh", &nmcli_ms, &connected_ms);
    g_test_message("nmcli connection up: returned after %.0f ms; all %u peers connected on D-Bus "
                   "%.0f ms after it started",
                   nmcli_ms,
                   wgm_test_nm_get_n_peers(f->nm),
                   connected_ms);
    g_assert_true(g_str_has_prefix(bus_name, CONN_PREFIX));
    print_states(f, bus_name, "before ping");
    iface = check_mesh(f, "mesh", 1, bus_name);
    print_states(f, bus_name, "after ping");
}

/* nmcli connection down leaves no interface, no wireguard-go, no plugin
 * process, no bus name, no UAPI socket; the uplink stays up. */
static void
test_down(Fixture *f, gconstpointer data)
{
    g_autofree char *bus_name = NULL;
    g_autofree char *iface    = NULL;
    g_autofree char *active   = NULL;
    g_autoptr(GError) error   = NULL;
    g_auto(GStrv) names       = NULL;

    if (!f->nm)
        return;
    add_profile(f, "mesh", 1, NULL, NULL);
    bus_name = bring_up(f, "mesh", NULL, NULL);
    iface    = cli_mesh_interface(f, bus_name);

    take_down(f, "mesh");
    assert_gone(f, bus_name, iface);
    wgm_test_nm_exec(f->nm, &active, &error, "nmcli -g NAME connection show --active");
    g_assert_no_error(error);
    names = g_strsplit(g_strstrip(active), "\n", -1);
    g_assert_false(g_strv_contains((const char *const *)names, "mesh"));
    g_assert_true(g_strv_contains((const char *const *)names, "uplink"));
    g_test_message("after nmcli connection down: no plugin, no wireguard-go, no %s, %s released; "
                   "active: %s",
                   iface,
                   bus_name,
                   g_strdelimit(active, "\n", ' '));
}

/* @pid's open descriptors once the count holds still for 100 ms (a client
 * that has just exited may still hold one for a moment); at most 2 s. */
static int
count_fds_settled(GPid pid)
{
    gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    int    n        = wgm_test_nm_count_fds(pid);

    for (;;) {
        int again;

        g_usleep(100 * 1000);
        again = wgm_test_nm_count_fds(pid);
        if (again == n || g_get_monotonic_time() >= deadline)
            return again;
        n = again;
    }
}

/* Up and down 20 times: every cycle works, and nothing accumulates
 * (processes, descriptors of NetworkManager and the bus, interfaces). */
static void
test_cycles(Fixture *f, gconstpointer data)
{
    g_autofree char *links0 = NULL;
    g_autofree char *procs0 = NULL;
    GPid             nm_pid, bus_pid;
    int              nm_fds0 = 0, bus_fds0 = 0;
    double           worst = 0, sum = 0;
    gint64           t0;

    if (!f->nm)
        return;
    nm_pid  = wgm_test_nm_get_nm_pid(f->nm);
    bus_pid = wgm_test_nm_get_bus_pid(f->nm);
    add_profile(f, "mesh", 1, NULL, NULL);

    t0 = g_get_monotonic_time();
    for (guint c = 1; c <= N_CYCLES; c++) {
        g_autofree char *bus_name = NULL;
        g_autofree char *iface    = NULL;
        g_autofree char *out      = NULL;
        g_autofree char *addr     = wgm_test_nm_peer_tunnel(1, 1 + c % N_PEERS);
        g_autoptr(GError) error   = NULL;
        double connected_ms;

        bus_name = bring_up(f, "mesh", NULL, &connected_ms);
        iface    = cli_mesh_interface(f, bus_name);
        wgm_test_nm_exec(f->nm, &out, &error, "ping -n -q -c 1 -W 2 %s", addr);
        g_assert_no_error(error);
        take_down(f, "mesh");
        assert_gone(f, bus_name, iface);
        worst = MAX(worst, connected_ms);
        sum += connected_ms;

        if (c == 1) {
            g_autoptr(GPtrArray) procs = wgm_test_nm_processes(f->nm, NULL);

            /* After one full cycle: what a quiet sandbox looks like. */
            links0   = wgm_test_nm_links(f->nm);
            procs0   = wgm_test_join(procs);
            nm_fds0  = count_fds_settled(nm_pid);
            bus_fds0 = count_fds_settled(bus_pid);
            g_test_message("after cycle 1: processes %s; links %s; fds: NetworkManager %d, bus %d",
                           procs0,
                           links0,
                           nm_fds0,
                           bus_fds0);
        }
    }
    g_test_message(
        "%u up/down cycles in %.1f s; up -> all peers connected: mean %.0f ms, worst %.0f ms",
        N_CYCLES,
        (g_get_monotonic_time() - t0) / 1e6,
        sum / N_CYCLES,
        worst);
    {
        g_autofree char *procs_n = NULL;
        g_autofree char *links_n = NULL;
        g_autofree char *wg_dir =
            g_build_filename(wgm_test_nm_get_dir(f->nm), "run", "wireguard", NULL);
        g_autoptr(GDir) dir = NULL;
        gint64 deadline     = g_get_monotonic_time() + (gint64)GONE_TIMEOUT_MS * 1000;
        int    nm_fds, bus_fds;

        /* NetworkManager and the bus close a client's descriptors a moment
         * after nmcli has exited: poll until all is as after cycle 1. */
        for (;;) {
            g_autoptr(GPtrArray) procs = wgm_test_nm_processes(f->nm, NULL);

            g_free(procs_n);
            g_free(links_n);
            procs_n = wgm_test_join(procs);
            links_n = wgm_test_nm_links(f->nm);
            nm_fds  = wgm_test_nm_count_fds(nm_pid);
            bus_fds = wgm_test_nm_count_fds(bus_pid);
            if ((g_str_equal(procs_n, procs0) && g_str_equal(links_n, links0) && nm_fds == nm_fds0
                 && bus_fds == bus_fds0)
                || g_get_monotonic_time() >= deadline)
                break;
            g_usleep(20 * 1000);
        }
        dir = g_dir_open(wg_dir, 0, NULL);
        g_test_message("after cycle %u: processes %s; links %s; fds: NetworkManager %d, bus %d",
                       N_CYCLES,
                       procs_n,
                       links_n,
                       nm_fds,
                       bus_fds);
        g_assert_cmpstr(procs_n, ==, procs0);
        g_assert_cmpstr(links_n, ==, links0);
        g_assert_cmpint(nm_fds, ==, nm_fds0);
        g_assert_cmpint(bus_fds, ==, bus_fds0);
        g_assert_nonnull(dir);
        g_assert_null(g_dir_read_name(dir)); /* no UAPI socket left */
    }
}

/* Two meshes at once: two plugin processes, each with its own bus name and
 * interface, each watched on its own; one going down leaves the other. */
static void
test_two_meshes(Fixture *f, gconstpointer data)
{
    g_autofree char *bus1        = NULL;
    g_autofree char *bus2        = NULL;
    g_autofree char *iface1      = NULL;
    g_autofree char *iface2      = NULL;
    g_autoptr(GPtrArray) plugins = NULL;
    g_autoptr(WgmTestVpn) vpn2   = NULL;
    g_autoptr(GHashTable) peers  = NULL;
    double connected_ms;

    if (!f->nm)
        return;
    add_profile(f, "mesh-a", 1, NULL, NULL);
    add_profile(f, "mesh-b", 2, NULL, NULL);
    bus1 = bring_up(f, "mesh-a", NULL, &connected_ms);
    g_test_message("mesh-a: all peers connected %.0f ms after nmcli connection up", connected_ms);
    bus2 = bring_up(f, "mesh-b", NULL, &connected_ms);
    g_test_message("mesh-b: all peers connected %.0f ms after nmcli connection up", connected_ms);
    g_assert_cmpstr(bus1, !=, bus2);

    plugins = wgm_test_nm_processes(f->nm, "nm-wgmesh-servi");
    g_assert_cmpuint(plugins->len, ==, 2);

    iface1 = check_mesh(f, "mesh-a", 1, bus1);
    iface2 = check_mesh(f, "mesh-b", 2, bus2);
    g_assert_cmpstr(iface1, !=, iface2);
    g_test_message("mesh-a: %s on %s; mesh-b: %s on %s", bus1, iface1, bus2, iface2);

    /* Watching mesh-b alone, over a connection of its own. */
    vpn2 = wgm_test_vpn_new(wgm_test_nm_get_bus_address(f->nm), bus2);
    take_down(f, "mesh-a");
    {
        gint64 deadline = g_get_monotonic_time() + (gint64)GONE_TIMEOUT_MS * 1000;

        for (;;) {
            g_autoptr(GPtrArray) names = wgm_test_nm_list_names(f->nm, CONN_PREFIX);
            g_autoptr(GPtrArray) procs = wgm_test_nm_processes(f->nm, "nm-wgmesh-servi");
            g_autofree char *links     = wgm_test_nm_links(f->nm);

            if (!strv_contains(names, bus1) && strv_contains(names, bus2) && procs->len == 1
                && !strstr(links, iface1) && strstr(links, iface2))
                break;
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            g_usleep(20 * 1000);
        }
    }
    peers = wgm_test_vpn_get_peers(vpn2, NULL);
    g_assert_true(peers_all(peers, wgm_test_nm_get_n_peers(f->nm), "connected"));
    g_clear_pointer(&iface2, g_free);
    iface2 = check_mesh(f, "mesh-b", 2, bus2);

    take_down(f, "mesh-b");
    assert_gone(f, bus2, iface2);
}

/* The line of @log naming @key: NetworkManager's own ("failed to connect:
 * '...'") if there is one, else the plugin's (its syslog, which the journal
 * would show with NetworkManager's lines); NULL if none. */
static char *
log_line(const char *log, const char *key)
{
    g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
    const char *found   = NULL;

    for (guint i = 0; lines[i]; i++) {
        if (!strstr(lines[i], key))
            continue;
        if (strstr(lines[i], "failed to connect"))
            return g_strdup(lines[i]);
        if (!found)
            found = lines[i];
    }
    return g_strdup(found);
}

typedef struct {
    const char *what;
    const char *extra_data; /* appended to the good vpn.data */
    const char *secrets;    /* NULL: the good private key; "": none */
    const char *key;        /* the setting the error must name */
} BadProfile;

/* Bad profiles fail with an error naming the setting, leave nothing behind,
 * and the next good profile comes up. */
static void
test_bad_profiles(Fixture *f, gconstpointer data)
{
    static const BadProfile bad[] = {
        { "bad CIDR", ", peer.2.allowed-ips=10.77.1.300/32", NULL, "peer.2.allowed-ips" },
        { "bad public key", ", peer.3.public-key=not-a-key", NULL, "peer.3.public-key" },
        { "bad private key", NULL, "private-key=AAAA", "private-key" },
        { "unknown key", ", listen-prot=51821", NULL, "listen-prot" },
        { "bad port", ", listen-port=70000", NULL, "listen-port" },
        { "missing secret", NULL, "", "private-key" },
    };
    g_autofree char *bus_name = NULL;
    g_autofree char *iface    = NULL;

    if (!f->nm)
        return;
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *name   = g_strdup_printf("bad-%u", i + 1);
        g_autofree char *output = NULL;
        g_autofree char *log    = NULL;
        g_autofree char *line   = NULL;
        g_autoptr(GString) why  = g_string_new(NULL);
        gsize mark;
        int   status;

        /* vpn.data keys must be unique: the bad value replaces the good
         * one where the profile already has that key. */
        add_profile(f, name, 1, bad[i].extra_data, bad[i].secrets);
        mark   = wgm_test_nm_log_mark(f->nm);
        status = wgm_test_nm_exec_status(f->nm, &output, "nmcli connection up %s", name);
        g_assert_cmpint(status, !=, 0);
        /* The plugin and NetworkManager have had their say once nothing
         * is left. */
        if (!wait_gone(f, NULL, NULL, why))
            g_error("%s: not cleaned up: %s", bad[i].what, why->str);
        log  = wgm_test_nm_log_since(f->nm, mark);
        line = log_line(log, bad[i].key);
        g_assert_true(strstr(output, bad[i].key) || line);
        g_test_message(
            "%s: nmcli says: %s", bad[i].what, g_strdelimit(g_strstrip(output), "\n", ' '));
        g_test_message("%s: the log says: %s", bad[i].what, line);
        /* No secret ever shows up in the log. */
        g_assert_null(strstr(log, wgm_test_nm_get_var(f->nm, "MESH_1_PRIVATE_KEY")));
    }

    add_profile(f, "good", 1, NULL, NULL);
    bus_name = bring_up(f, "good", NULL, NULL);
    iface    = check_mesh(f, "good", 1, bus_name);
    take_down(f, "good");
    assert_gone(f, bus_name, iface);
}

/* NetworkManager stops (SIGTERM) while a mesh is up: the plugin and its
 * wireguard-go exit cleanly and take the interface with them; started
 * again, NetworkManager brings the mesh up again. */
static void
test_nm_stopped(Fixture *f, gconstpointer data)
{
    g_autofree char *bus_name    = NULL;
    g_autofree char *iface       = NULL;
    g_autofree char *log         = NULL;
    g_autofree char *exiting     = NULL;
    g_autoptr(GPtrArray) plugins = NULL;
    g_autoptr(GPtrArray) left    = NULL;
    g_autofree char *left_list   = NULL;
    g_autoptr(GError) error      = NULL;
    gsize  mark;
    gint64 t0;

    if (!f->nm)
        return;
    add_profile(f, "mesh", 1, NULL, NULL);
    bus_name = bring_up(f, "mesh", NULL, NULL);
    iface    = check_mesh(f, "mesh", 1, bus_name);
    plugins  = wgm_test_nm_processes(f->nm, "nm-wgmesh-servi");
    g_assert_cmpuint(plugins->len, ==, 1);

    mark = wgm_test_nm_log_mark(f->nm);
    t0   = g_get_monotonic_time();
    wgm_test_nm_stop_nm(f->nm, &error);
    g_assert_no_error(error);
    assert_gone(f, bus_name, iface);
    g_test_message("NetworkManager stopped; plugin, wireguard-go and %s gone %.0f ms after SIGTERM",
                   iface,
                   (g_get_monotonic_time() - t0) / 1000.0);

    /* A clean exit: the plugin's last words, "exiting", from the same PID
     * ("nm-wgmesh-servi[PID]" is its process). */
    log     = wgm_test_nm_log_since(f->nm, mark);
    exiting = g_strdup_printf("nm-wgmesh%s: exiting", strchr(plugins->pdata[0], '['));
    g_assert_nonnull(strstr(log, exiting));
    g_test_message("the plugin's log ends with \"%s\"", exiting);
    /* Only the sandbox's own bus and syslog sink remain. */
    left      = wgm_test_nm_processes(f->nm, NULL);
    left_list = wgm_test_join(left);
    g_test_message("left in NetworkManager's namespace: %s", left_list);
    for (guint i = 0; i < left->len; i++) {
        const char *p = left->pdata[i];

        g_assert_true(g_str_has_prefix(p, "dbus-daemon[") || g_str_has_prefix(p, "python3["));
    }

    wgm_test_nm_start_nm(f->nm, &error);
    g_assert_no_error(error);
    g_clear_pointer(&bus_name, g_free);
    g_clear_pointer(&iface, g_free);
    bus_name = bring_up(f, "mesh", NULL, NULL);
    iface    = check_mesh(f, "mesh", 1, bus_name);
    take_down(f, "mesh");
    assert_gone(f, bus_name, iface);
}

static gboolean
all_connected(Fixture *f, const char *bus_name)
{
    g_autoptr(GHashTable) peers = wgm_test_nm_peers(f->nm, bus_name);

    for (guint i = 1; i <= wgm_test_nm_get_n_peers(f->nm); i++) {
        g_autofree char *peer = g_strdup_printf("peer-%u", i);

        if (g_strcmp0(peer_state(peers, peer), "connected") != 0)
            return FALSE;
    }
    return TRUE;
}

/* wireguard-go is SIGKILLed under a real NetworkManager: the plugin starts
 * it again on the same (persistent) interface, NetworkManager keeps the VPN
 * activated with its address and routes, every peer answers again. */
static void
test_wireguard_go_crash(Fixture *f, gconstpointer data)
{
    g_autofree char *bus_name = NULL;
    g_autofree char *iface    = NULL;
    g_autofree char *again    = NULL;
    g_autofree char *log      = NULL;
    g_autoptr(GPtrArray) wggo = NULL;
    g_autoptr(GError) error   = NULL;
    const char *bracket;
    gsize       mark;
    gint64      t0, deadline;

    if (!f->nm)
        return;
    add_profile(f, "mesh", 1, NULL, NULL);
    bus_name = bring_up(f, "mesh", NULL, NULL);
    iface    = check_mesh(f, "mesh", 1, bus_name);
    wggo     = wgm_test_nm_processes(f->nm, "wireguard-go");
    g_assert_cmpuint(wggo->len, ==, 1);
    bracket = strchr(wggo->pdata[0], '[');
    g_assert_nonnull(bracket);

    mark = wgm_test_nm_log_mark(f->nm);
    t0   = g_get_monotonic_time();
    wgm_test_nm_exec(f->nm, NULL, &error, "kill -KILL %d", atoi(bracket + 1));
    g_assert_no_error(error);

    /* Back: a new wireguard-go, every peer connected on D-Bus. */
    deadline = t0 + 20 * G_USEC_PER_SEC;
    for (;;) {
        g_autoptr(GPtrArray) now = wgm_test_nm_processes(f->nm, "wireguard-go");

        if (now->len == 1 && g_strcmp0(now->pdata[0], wggo->pdata[0]) != 0
            && all_connected(f, bus_name))
            break;
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(20 * 1000);
    }
    g_test_message("wireguard-go SIGKILLed under NetworkManager: all %u peers connected again "
                   "%.0f ms later",
                   wgm_test_nm_get_n_peers(f->nm),
                   (g_get_monotonic_time() - t0) / 1000.0);
    log = wgm_test_nm_log_since(f->nm, mark);
    g_assert_nonnull(strstr(log, "wireguard-go restarted"));
    /* NetworkManager never noticed: still activated, same interface with
     * its address, routes through it, pings answered. */
    again = check_mesh(f, "mesh", 1, bus_name);
    g_assert_cmpstr(again, ==, iface);
    take_down(f, "mesh");
    assert_gone(f, bus_name, iface);
}

/* Polls the peers with gdbus until every one of @names is in @state. */
static void
wait_cli_states(Fixture *f, const char *bus_name, const char *const *names, const char *state)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    for (;;) {
        g_autoptr(GHashTable) peers = wgm_test_nm_peers(f->nm, bus_name);
        guint i;

        for (i = 0; names[i]; i++) {
            if (g_strcmp0(peer_state(peers, names[i]), state) != 0)
                break;
        }
        if (!names[i])
            return;
        if (g_get_monotonic_time() > deadline)
            g_error("%s is %s, not %s", names[i], peer_state(peers, names[i]), state);
        wgm_test_iterate(50);
    }
}

/* A lazy profile through nmcli: every peer idle, none asked to handshake;
 * `ping -c 1 -W 1` through one wakes it, its first packet answered; the
 * others stay idle; LazyConnections set to false with gdbus (root, inside
 * the sandbox) connects them all. */
static void
test_lazy(Fixture *f, gconstpointer data)
{
    static const char *const all[]    = { "peer-1", "peer-2", "peer-3", NULL };
    static const char *const two[]    = { "peer-2", NULL };
    static const char *const others[] = { "peer-1", "peer-3", NULL };
    g_autofree char         *bus_name = NULL;
    g_autofree char         *addr     = NULL;
    g_autoptr(GError) error           = NULL;
    double idle_ms;
    gint64 t0;

    if (!f->nm)
        return;
    add_profile(f, "lazy", 1, ", lazy-connections=yes", NULL);
    bus_name = bring_up_until(f, "lazy", "idle", NULL, &idle_ms);
    g_test_message("nmcli connection up (lazy): all %u peers idle on D-Bus after %.0f ms",
                   wgm_test_nm_get_n_peers(f->nm),
                   idle_ms);
    wgm_test_iterate(1000);
    wait_cli_states(f, bus_name, all, "idle");

    addr = wgm_test_nm_peer_tunnel(1, 2);
    t0   = g_get_monotonic_time();
    wgm_test_nm_exec(f->nm, NULL, &error, "ping -n -q -c 1 -W 1 %s", addr);
    g_assert_no_error(error);
    g_test_message("first ping through idle peer-2 answered; ping took %.0f ms",
                   (g_get_monotonic_time() - t0) / 1000.0);
    wait_cli_states(f, bus_name, two, "connected");
    wait_cli_states(f, bus_name, others, "idle");

    wgm_test_nm_exec(f->nm,
                     NULL,
                     &error,
                     "gdbus call --system --dest %s --object-path %s "
                     "--method org.freedesktop.DBus.Properties.Set %s LazyConnections '<false>'",
                     bus_name,
                     WGM_TEST_NM_MESH_PATH,
                     MESH_IFACE);
    g_assert_no_error(error);
    wait_cli_states(f, bus_name, all, "connected");
    take_down(f, "lazy");
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

    g_test_add("/e2e/nm/up", Fixture, NULL, fixture_setup, test_up, fixture_teardown);
    g_test_add("/e2e/nm/wireguard-go-crash",
               Fixture,
               NULL,
               fixture_setup,
               test_wireguard_go_crash,
               fixture_teardown);
    g_test_add("/e2e/nm/down", Fixture, NULL, fixture_setup, test_down, fixture_teardown);
    g_test_add("/e2e/nm/cycles-20", Fixture, NULL, fixture_setup, test_cycles, fixture_teardown);
    g_test_add(
        "/e2e/nm/two-meshes", Fixture, NULL, fixture_setup, test_two_meshes, fixture_teardown);
    g_test_add(
        "/e2e/nm/bad-profiles", Fixture, NULL, fixture_setup, test_bad_profiles, fixture_teardown);
    g_test_add(
        "/e2e/nm/nm-stopped", Fixture, NULL, fixture_setup, test_nm_stopped, fixture_teardown);
    g_test_add("/e2e/nm/lazy", Fixture, NULL, fixture_setup, test_lazy, fixture_teardown);
    return g_test_run();
}
