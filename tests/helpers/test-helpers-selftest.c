/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The test helpers, tested on their own (no nm-wgmesh-service needed): the
 * private bus, the service launcher (this binary stands in for the service),
 * a three-peer WireGuard network with real wireguard-go on both ends, and the
 * watchdog that cleans up after a test that aborted.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "wgm-test-bus.h"
#include "wgm-test-netns.h"
#include "wgm-test-util.h"

/* The stand-in's behaviour comes from the bus name it is given (the test
 * process must not call setenv() once GLib has threads). */
#define FAKE_NAME        "org.example.WgmSelftest"
#define FAKE_NAME_MARKER "org.example.WgmSelftest.Marker" /* writes FAKE_MARKER first */
#define FAKE_NAME_FAIL   "org.example.WgmSelftest.Fail"   /* exits 1 at once */
#define FAKE_MARKER      "/run/wireguard/fake.marker"

/* ---- this binary as a stand-in for nm-wgmesh-service ---- */

typedef struct {
    GMainLoop *loop;
    gboolean   debug;
    int        status;
} Fake;

static gboolean
fake_quit(gpointer user_data)
{
    Fake *fake = user_data;

    g_main_loop_quit(fake->loop);
    return G_SOURCE_REMOVE;
}

static void
fake_acquired(GDBusConnection *connection, const char *name, gpointer user_data)
{
    Fake *fake = user_data;

    /* One line on each stream: the launcher captures both. */
    printf("fake service: owned %s\n", name);
    fflush(stdout);
    fprintf(stderr, "fake service: stderr works\n");
    /* Like the real service without --debug: quit once done. */
    if (!fake->debug)
        g_timeout_add(200, fake_quit, fake);
}

static void
fake_lost(GDBusConnection *connection, const char *name, gpointer user_data)
{
    Fake *fake = user_data;

    fprintf(stderr, "fake service: lost %s\n", name);
    fake->status = 2;
    g_main_loop_quit(fake->loop);
}

static int
fake_service_main(int argc, char **argv)
{
    g_autoptr(GDBusConnection) connection = NULL;
    g_autoptr(GError) error               = NULL;
    const char *name                      = "org.freedesktop.NetworkManager.wgmesh";
    Fake        fake                      = { 0 };

    for (int i = 1; i < argc; i++) {
        if (g_str_equal(argv[i], "--bus-name") && i + 1 < argc)
            name = argv[++i];
        else if (g_str_equal(argv[i], "--debug"))
            fake.debug = TRUE;
    }
    if (g_str_equal(name, FAKE_NAME_FAIL)) {
        fprintf(stderr, "fake service: failing as asked\n");
        return 1;
    }
    if (g_str_equal(name, FAKE_NAME_MARKER)
        && !g_file_set_contents(FAKE_MARKER, "fake\n", -1, &error)) {
        fprintf(stderr, "fake service: %s\n", error->message);
        return 1;
    }
    /* DBUS_SYSTEM_BUS_ADDRESS, as libnm's NMVpnServicePlugin would use it. */
    connection = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (!connection) {
        fprintf(stderr, "fake service: %s\n", error->message);
        return 1;
    }
    fake.loop = g_main_loop_new(NULL, FALSE);
    g_bus_own_name_on_connection(
        connection, name, G_BUS_NAME_OWNER_FLAGS_NONE, fake_acquired, fake_lost, &fake, NULL);
    g_unix_signal_add(SIGTERM, fake_quit, &fake);
    g_main_loop_run(fake.loop);
    g_main_loop_unref(fake.loop);
    printf("fake service: exiting\n");
    return fake.status;
}

/* ---- small things ---- */

/* Spawns @cmd behind the namespace wrapper, in its own session. */
static GPid
spawn_wrapped(WgmTestNet *net, const char *const *cmd)
{
    g_auto(GStrv) wrap        = wgm_test_net_wrap_argv(net, wgm_test_net_get_svc_ns(net));
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_auto(GStrv) argv        = NULL;
    g_autoptr(GError) error   = NULL;
    GPid pid                  = 0;

    g_strv_builder_addv(b, (const char **)wrap);
    g_strv_builder_addv(b, (const char **)cmd);
    argv = g_strv_builder_end(b);
    g_spawn_async(NULL,
                  argv,
                  NULL,
                  G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL
                      | G_SPAWN_STDERR_TO_DEV_NULL,
                  wgm_test_child_setup_setsid,
                  NULL,
                  &pid,
                  &error);
    g_assert_no_error(error);
    wgm_test_net_track_pgid(net, pid);
    return pid;
}

/* ---- the bus ---- */

static void
name_acquired(GDBusConnection *connection, const char *name, gpointer user_data)
{
    *(gboolean *)user_data = TRUE;
}

static void
connection_closed(GDBusConnection *connection,
                  gboolean         remote_peer_vanished,
                  GError          *error,
                  gpointer         user_data)
{
    *(gboolean *)user_data = TRUE;
}

static void
test_bus(void)
{
    g_autoptr(WgmTestBus) bus       = NULL;
    g_autoptr(GDBusConnection) conn = NULL;
    g_autoptr(GVariant) reply       = NULL;
    g_autoptr(GError) error         = NULL;
    g_autofree char *socket         = NULL;
    const char      *address;
    const char      *owner;
    gboolean         acquired = FALSE;
    gboolean         closed   = FALSE;
    guint            own;

    bus = wgm_test_bus_new(&error);
    g_assert_no_error(error);
    address = wgm_test_bus_get_address(bus);
    g_test_message("bus at %s", address);
    /* A socket path, not an abstract socket: those are per network namespace. */
    g_assert_true(g_str_has_prefix(address, "unix:path=/"));
    socket =
        g_strndup(address + strlen("unix:path="), strcspn(address + strlen("unix:path="), ","));
    g_assert_true(g_file_test(socket, G_FILE_TEST_EXISTS));

    conn = wgm_test_dbus_connect(address, &error);
    g_assert_no_error(error);
    g_signal_connect(conn, "closed", G_CALLBACK(connection_closed), &closed);

    own = g_bus_own_name_on_connection(
        conn, FAKE_NAME, G_BUS_NAME_OWNER_FLAGS_NONE, name_acquired, NULL, &acquired, NULL);
    g_assert_true(wgm_test_wait_flag(&acquired, 5000));
    reply = g_dbus_connection_call_sync(conn,
                                        "org.freedesktop.DBus",
                                        "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus",
                                        "GetNameOwner",
                                        g_variant_new("(s)", FAKE_NAME),
                                        G_VARIANT_TYPE("(s)"),
                                        G_DBUS_CALL_FLAGS_NONE,
                                        5000,
                                        NULL,
                                        &error);
    g_assert_no_error(error);
    g_variant_get(reply, "(&s)", &owner);
    g_assert_cmpstr(owner, ==, g_dbus_connection_get_unique_name(conn));
    g_bus_unown_name(own);

    g_clear_pointer(&bus, wgm_test_bus_free);
    g_assert_true(wgm_test_wait_flag(&closed, 5000));
    g_assert_false(g_file_test(socket, G_FILE_TEST_EXISTS));
}

/* ---- the service launcher (with this binary as the service) ---- */

static void
test_service(void)
{
    g_autoptr(WgmTestBus) bus     = NULL;
    g_autoptr(WgmTestService) svc = NULL;
    g_autoptr(GError) error       = NULL;
    g_autofree char *log          = NULL;
    g_autofree char *log_path     = NULL;
    int              status       = -1;

    bus = wgm_test_bus_new(&error);
    g_assert_no_error(error);

    /* --debug: runs until SIGTERM. */
    svc = wgm_test_service_spawn(bus, NULL, FAKE_NAME, TRUE, &error);
    g_assert_no_error(error);
    g_assert_cmpint(wgm_test_service_get_pid(svc), >, 0);
    g_assert_true(wgm_test_service_is_running(svc));
    g_assert_true(wgm_test_service_has_file(svc, "/proc/self"));
    g_assert_false(wgm_test_service_wait_exit(svc, 300, &status));
    log = wgm_test_service_get_log(svc);
    g_assert_nonnull(strstr(log, "owned " FAKE_NAME));
    g_assert_nonnull(strstr(log, "stderr works"));
    g_clear_pointer(&log, g_free);
    log_path = g_strdup(wgm_test_service_get_log_path(svc));
    g_clear_pointer(&svc, wgm_test_service_free);
    g_assert_false(g_file_test(log_path, G_FILE_TEST_EXISTS));

    /* Default name, no --debug: it quits by itself. */
    svc = wgm_test_service_spawn(bus, NULL, NULL, FALSE, &error);
    g_assert_no_error(error);
    g_assert_true(wgm_test_service_wait_exit(svc, 5000, &status));
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_false(wgm_test_service_is_running(svc));
    log = wgm_test_service_get_log(svc);
    g_assert_nonnull(strstr(log, "owned org.freedesktop.NetworkManager.wgmesh"));
    g_clear_pointer(&svc, wgm_test_service_free);

    /* A service that dies before owning its name is an error, at once. */
    svc = wgm_test_service_spawn(bus, NULL, FAKE_NAME_FAIL, TRUE, &error);
    g_assert_null(svc);
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_FAILED);
    g_test_message("expected: %s", error->message);
}

/* ---- networks (root) ---- */

static void
test_netns_ping(void)
{
    g_autoptr(WgmTestNet) net   = NULL;
    g_autoptr(GError) error     = NULL;
    g_autoptr(GString) peers    = g_string_new(NULL);
    g_autoptr(GPtrArray) names  = g_ptr_array_new_with_free_func(g_free);
    g_autofree char   *out      = NULL;
    g_autofree char   *cmd      = NULL;
    const char        *wg_cmd[] = { wgm_test_wireguard_go(), "-f", "wgs0", NULL };
    const WgmTestPeer *p2;
    gint64             t0;
    GPid               wg;
    int                status;
    gboolean           ok;

    WGM_TEST_REQUIRE_ROOT();

    t0  = g_get_monotonic_time();
    net = wgm_test_net_new(3, &error);
    g_assert_no_error(error);
    g_test_message("wgm_test_net_new(3): %.1f ms", (g_get_monotonic_time() - t0) / 1000.0);

    g_assert_cmpuint(wgm_test_net_get_n_peers(net), ==, 3);
    g_assert_cmpuint(strlen(wgm_test_net_get_svc_public_key(net)), ==, 44);
    g_assert_cmpuint(strlen(wgm_test_net_get_svc_private_key(net)), ==, 44);
    g_ptr_array_add(names, g_strdup(wgm_test_net_get_svc_ns(net)));
    for (guint i = 1; i <= 3; i++) {
        const WgmTestPeer *p        = wgm_test_net_get_peer(net, i);
        g_autofree char   *endpoint = wgm_test_net_peer_endpoint(net, i);
        g_autofree char   *tunnel   = g_strdup_printf("10.77.0.%u", i + 1);
        g_autofree char   *port     = NULL;

        g_assert_cmpuint(p->index, ==, i);
        g_assert_cmpuint(p->port, ==, WGM_TEST_PEER_PORT);
        g_assert_cmpstr(p->tunnel, ==, tunnel);
        g_assert_cmpuint(strlen(p->public_key), ==, 44);
        g_assert_cmpint(p->pid, >, 0);
        g_assert_true(wgm_test_netns_exists(p->ns));
        g_ptr_array_add(names, g_strdup(p->ns));

        /* The peer's own wg sees its own wireguard-go in its own /run. */
        g_assert_true(wgm_test_net_peer_exec(net, i, &port, &error, "wg show wgp0 listen-port"));
        g_assert_no_error(error);
        g_assert_cmpstr(g_strstrip(port), ==, "51820");

        g_string_append_printf(
            peers, " peer %s endpoint %s allowed-ips %s/32", p->public_key, endpoint, p->tunnel);
    }
    /* Nothing of theirs on the host. */
    g_assert_false(g_file_test("/run/wireguard/wgp0.sock", G_FILE_TEST_EXISTS));
    g_assert_true(wgm_test_net_ping(net, wgm_test_net_get_svc_ns(net), "10.200.3.2", 1, 5));

    /* The service side by hand: a plain wireguard-go behind the wrapper. */
    wg = spawn_wrapped(net, wg_cmd);
    /* (The error first: it says why, with the command's output.) */
    ok = wgm_test_net_exec_in_service(
        net,
        wg,
        NULL,
        &error,
        "n=0; while [ ! -S /run/wireguard/wgs0.sock ]; do n=$((n + 1)); [ $n -lt 1000 ] || exit 1; "
        "sleep 0.01; done; "
        "(umask 077; printf '%%s\\n' '%s' >/run/wgs0.key); "
        "wg set wgs0 listen-port 51820 private-key /run/wgs0.key%s && "
        "ip addr add 10.77.0.1/24 dev wgs0 && ip link set wgs0 up",
        wgm_test_net_get_svc_private_key(net),
        peers->str);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_false(g_file_test("/run/wireguard/wgs0.sock", G_FILE_TEST_EXISTS));

    t0 = g_get_monotonic_time();
    for (guint i = 1; i <= 3; i++)
        g_assert_true(wgm_test_net_ping(
            net, wgm_test_net_get_svc_ns(net), wgm_test_net_get_peer(net, i)->tunnel, 2, 5));
    g_test_message("3 x 2 pings through the tunnel: %.1f ms",
                   (g_get_monotonic_time() - t0) / 1000.0);

    g_assert_true(
        wgm_test_net_exec_in_service(net, wg, &out, &error, "wg show wgs0 latest-handshakes"));
    g_assert_no_error(error);
    g_test_message("latest handshakes:\n%s", out);
    for (guint i = 1; i <= 3; i++)
        g_assert_nonnull(strstr(out, wgm_test_net_get_peer(net, i)->public_key));
    g_assert_null(strstr(out, "\t0\n"));
    g_clear_pointer(&out, g_free);

    /* Peer 2 dies: no answer.  It comes back with the same keys; dropping the
     * stale session on our side makes the next packet start a handshake. */
    p2 = wgm_test_net_get_peer(net, 2);
    wgm_test_net_peer_kill(net, 2);
    g_assert_cmpint(p2->pid, ==, 0);
    g_assert_true(wgm_test_net_wait_link_gone(net, p2->ns, "wgp0", 5000));
    g_assert_false(wgm_test_net_ping(net, wgm_test_net_get_svc_ns(net), p2->tunnel, 1, 1));
    t0 = g_get_monotonic_time();
    g_assert_true(wgm_test_net_peer_restart(net, 2, &error));
    g_assert_no_error(error);
    g_test_message("peer restart: %.1f ms", (g_get_monotonic_time() - t0) / 1000.0);
    g_assert_cmpint(p2->pid, >, 0);
    cmd = wgm_test_net_peer_endpoint(net, 2);
    g_assert_true(wgm_test_net_exec_in_service(net,
                                               wg,
                                               NULL,
                                               &error,
                                               "wg set wgs0 peer %s remove && "
                                               "wg set wgs0 peer %s endpoint %s allowed-ips %s/32",
                                               p2->public_key,
                                               p2->public_key,
                                               cmd,
                                               p2->tunnel));
    g_assert_no_error(error);
    g_assert_true(wgm_test_net_ping(net, wgm_test_net_get_svc_ns(net), p2->tunnel, 2, 5));

    /* Errors carry the command's stderr. */
    g_assert_false(wgm_test_net_exec(
        net, wgm_test_net_get_svc_ns(net), NULL, &error, "echo oops >&2; exit 3"));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "oops"));
    g_clear_error(&error);

    /* Our wireguard-go: the wrapper exec'd, so the PID is wireguard-go's. */
    g_assert_cmpuint(wgm_test_net_count_processes(net, wgm_test_net_get_svc_ns(net)), ==, 1);
    kill(wg, SIGTERM);
    g_assert_cmpint(waitpid(wg, &status, 0), ==, wg);
    /* Reaped: from now on its ID may be anyone's. */
    wgm_test_net_untrack_pgid(net, wg);
    g_assert_true(wgm_test_net_wait_link_gone(net, wgm_test_net_get_svc_ns(net), "wgs0", 5000));

    t0 = g_get_monotonic_time();
    g_clear_pointer(&net, wgm_test_net_free);
    g_test_message("wgm_test_net_free(): %.1f ms", (g_get_monotonic_time() - t0) / 1000.0);
    for (guint i = 0; i < names->len; i++)
        g_assert_false(wgm_test_netns_exists(names->pdata[i]));
}

/* The service launcher behind the namespace wrapper: private /run. */
static void
test_netns_service(void)
{
    g_autoptr(WgmTestNet) net     = NULL;
    g_autoptr(WgmTestBus) bus     = NULL;
    g_autoptr(WgmTestService) svc = NULL;
    g_autoptr(GError) error       = NULL;
    g_auto(GStrv) wrap            = NULL;
    g_autofree char *out          = NULL;
    const char      *ns;

    WGM_TEST_REQUIRE_ROOT();

    net = wgm_test_net_new(0, &error);
    g_assert_no_error(error);
    ns  = wgm_test_net_get_svc_ns(net);
    bus = wgm_test_bus_new(&error);
    g_assert_no_error(error);
    g_assert_cmpuint(wgm_test_net_count_processes(net, ns), ==, 0);

    wrap = wgm_test_net_wrap_argv(net, ns);
    svc  = wgm_test_service_spawn(bus, (const char *const *)wrap, FAKE_NAME_MARKER, TRUE, &error);
    g_assert_no_error(error);

    g_assert_true(wgm_test_service_has_file(svc, FAKE_MARKER));
    g_assert_false(g_file_test(FAKE_MARKER, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(wgm_test_net_count_processes(net, ns), ==, 1);
    g_assert_true(wgm_test_net_exec_in_service(net,
                                               wgm_test_service_get_pid(svc),
                                               &out,
                                               &error,
                                               "cat /run/wireguard/fake.marker; ip -o link show"));
    g_assert_no_error(error);
    g_assert_nonnull(strstr(out, "fake\n"));
    g_assert_nonnull(strstr(out, "lo:"));
    g_assert_null(strstr(out, "vp1"));

    g_clear_pointer(&svc, wgm_test_service_free);
    g_assert_cmpuint(wgm_test_net_count_processes(net, ns), ==, 0);
}

/* Runs in a subprocess: builds a net, starts processes (tracked and not),
 * reports what it made, and aborts like a failed assertion. */
static void
test_netns_watchdog_subprocess(void)
{
    WgmTestNet *net;
    g_autoptr(GError) error = NULL;
    const char *sleep_cmd[] = { "sleep", "600", NULL };
    const char *loose[]     = { "ip", "netns", "exec", NULL, "sleep", "600", NULL };
    const char *nss[3];
    g_autoptr(GString) report = g_string_new(NULL);
    GPid pid;

    if (!g_test_subprocess()) {
        g_test_skip("only run by /helpers/netns/watchdog");
        return;
    }
    net = wgm_test_net_new(2, &error);
    g_assert_no_error(error);
    spawn_wrapped(net, sleep_cmd);
    /* Not tracked, not in a session of its own: found through its namespace. */
    loose[3] = wgm_test_net_get_svc_ns(net);
    g_spawn_async(NULL,
                  (char **)loose,
                  NULL,
                  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                  NULL,
                  NULL,
                  &pid,
                  &error);
    g_assert_no_error(error);

    nss[0] = wgm_test_net_get_svc_ns(net);
    nss[1] = wgm_test_net_get_peer(net, 1)->ns;
    nss[2] = wgm_test_net_get_peer(net, 2)->ns;
    /* Both sleeps in the service namespace (the loose one enters it once
     * `ip netns exec` has run), however slow the machine. */
    g_assert_true(wgm_test_net_wait_processes(net, nss[0], 2, 30000));
    for (guint i = 0; i < G_N_ELEMENTS(nss); i++) {
        const char      *argv[] = { "ip", "netns", "pids", nss[i], NULL };
        g_autofree char *pids   = NULL;
        g_auto(GStrv) lines     = NULL;

        g_spawn_sync(
            NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &pids, NULL, NULL, &error);
        g_assert_no_error(error);
        g_string_append_printf(report, "WGM ns %s\n", nss[i]);
        lines = g_strsplit(g_strstrip(pids), "\n", -1);
        for (guint k = 0; lines[k]; k++)
            if (*lines[k])
                g_string_append_printf(report, "WGM pid %s\n", lines[k]);
    }
    /* (g_test_trap_get_stdout() is too new for GLib 2.74.) */
    g_file_set_contents(g_getenv("WGM_SELFTEST_REPORT"), report->str, -1, &error);
    g_assert_no_error(error);
    abort();
}

static void
test_netns_watchdog(void)
{
    g_autoptr(GError) error = NULL;
    const char      *path   = g_getenv("WGM_SELFTEST_REPORT");
    g_autofree char *report = NULL;
    g_auto(GStrv) lines     = NULL;
    guint    n_ns = 0, n_pids = 0;
    gint64   t0;
    gint64   deadline;
    gboolean clean;

    WGM_TEST_REQUIRE_ROOT();

    t0 = g_get_monotonic_time();
    g_test_trap_subprocess(
        "/helpers/netns/watchdog/subprocess", 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_message("subprocess (net_new(2) + abort + watchdog cleanup): %.1f ms",
                   (g_get_monotonic_time() - t0) / 1000.0);
    g_test_trap_assert_stderr("*wgm-test watchdog: test process * died*");

    g_file_get_contents(path, &report, NULL, &error);
    g_assert_no_error(error);
    g_unlink(path);
    lines = g_strsplit(report, "\n", -1);
    /* The trap waits for the watchdog (it holds the child's stderr), so all
     * should be gone already; allow a moment for the kernel. */
    deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    do {
        clean = TRUE;
        n_ns = n_pids = 0;
        for (guint i = 0; lines[i]; i++) {
            if (g_str_has_prefix(lines[i], "WGM ns ")) {
                n_ns++;
                clean = clean && !wgm_test_netns_exists(lines[i] + strlen("WGM ns "));
            } else if (g_str_has_prefix(lines[i], "WGM pid ")) {
                n_pids++;
                clean = clean && !wgm_test_pid_alive(atoi(lines[i] + strlen("WGM pid ")));
            }
        }
        if (!clean)
            g_usleep(50 * 1000);
    } while (!clean && g_get_monotonic_time() < deadline);

    g_test_message(
        "%u namespaces, %u processes (peers' shells and wireguard-go, two sleeps)", n_ns, n_pids);
    g_assert_cmpuint(n_ns, ==, 3);
    /* 2 × (sh + wireguard-go) + tracked sleep + loose sleep */
    g_assert_cmpuint(n_pids, >=, 6);
    for (guint i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "WGM ns "))
            g_assert_false(wgm_test_netns_exists(lines[i] + strlen("WGM ns ")));
        else if (g_str_has_prefix(lines[i], "WGM pid "))
            g_assert_false(wgm_test_pid_alive(atoi(lines[i] + strlen("WGM pid "))));
    }
}

static void
test_netns_stale_subprocess(void)
{
    g_autoptr(WgmTestNet) net = NULL;
    g_autoptr(GError) error   = NULL;

    if (!g_test_subprocess()) {
        g_test_skip("only run by /helpers/netns/stale");
        return;
    }
    net = wgm_test_net_new(0, &error);
    g_assert_no_error(error);
}

/* A namespace left by a run killed with its watchdog goes at the next start. */
static void
test_netns_stale(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *ns     = NULL;
    pid_t            dead;
    int              status;

    WGM_TEST_REQUIRE_ROOT();

    dead = fork();
    g_assert_cmpint(dead, >=, 0);
    if (dead == 0)
        _exit(0);
    g_assert_cmpint(waitpid(dead, &status, 0), ==, dead);
    ns = g_strdup_printf("wgmt%d-svc", (int)dead);
    {
        const char *argv[] = { "ip", "netns", "add", ns, NULL };

        g_spawn_sync(NULL,
                     (char **)argv,
                     NULL,
                     G_SPAWN_SEARCH_PATH,
                     NULL,
                     NULL,
                     NULL,
                     NULL,
                     &status,
                     &error);
        g_assert_no_error(error);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    g_assert_true(wgm_test_netns_exists(ns));

    g_test_trap_subprocess(
        "/helpers/netns/stale/subprocess", 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
    if (wgm_test_netns_exists(ns)) {
        const char *argv[] = { "ip", "netns", "del", ns, NULL };

        g_spawn_sync(
            NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
    }
    g_test_trap_assert_passed();
    g_assert_false(wgm_test_netns_exists(ns));
}

int
main(int argc, char *argv[])
{
    g_autofree char *self = NULL;

    /* Started by wgm_test_service_spawn() as the "service" (GTest
     * subprocesses inherit the variable too, but have GTest options). */
    if (g_getenv("WGM_SELFTEST_FAKE_SERVICE")
        && (argc == 1 || g_str_equal(argv[1], "--bus-name") || g_str_equal(argv[1], "--debug")))
        return fake_service_main(argc, argv);

    /* All setenv() before g_test_init(), while there is one thread. */
    self = g_file_read_link("/proc/self/exe", NULL);
    g_assert_nonnull(self);
    g_setenv("WGM_SERVICE_BIN", self, TRUE);
    g_setenv("WGM_SELFTEST_FAKE_SERVICE", "1", TRUE);
    if (!g_getenv("WGM_SELFTEST_REPORT")) {
        g_autofree char *name = g_strdup_printf("wgm-selftest-%d.report", (int)getpid());
        g_autofree char *path = g_build_filename(g_get_tmp_dir(), name, NULL);

        g_setenv("WGM_SELFTEST_REPORT", path, TRUE);
    }

    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/helpers/bus", test_bus);
    g_test_add_func("/helpers/service", test_service);
    g_test_add_func("/helpers/netns/ping", test_netns_ping);
    g_test_add_func("/helpers/netns/service", test_netns_service);
    g_test_add_func("/helpers/netns/watchdog", test_netns_watchdog);
    g_test_add_func("/helpers/netns/watchdog/subprocess", test_netns_watchdog_subprocess);
    g_test_add_func("/helpers/netns/stale", test_netns_stale);
    g_test_add_func("/helpers/netns/stale/subprocess", test_netns_stale_subprocess);

    return g_test_run();
}
