/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guard against real wireguard-go peers (root): a peer whose path dies
 * under traffic, and comes back; a name that starts resolving to another
 * address.  Times are printed, never asserted against a clock of their own:
 * only against the guard's own schedule (NextRetry) and generous bounds.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "netns-mesh.h"
#include "wgm-test-util.h"

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

static GVariant *
peer_props(Fixture *f, guint i)
{
    g_autoptr(GError) error     = NULL;
    g_autoptr(GHashTable) peers = wgm_test_vpn_get_peers(f->vpn, &error);

    g_assert_no_error(error);
    return g_variant_ref(g_hash_table_lookup(peers, wgm_test_net_get_peer(f->net, i)->public_key));
}

static char *
peer_str(Fixture *f, guint i, const char *prop)
{
    g_autoptr(GVariant) p = peer_props(f, i);
    char *s               = NULL;

    g_assert_true(g_variant_lookup(p, prop, "s", &s));
    return s;
}

static void
assert_peer_str(Fixture *f, guint i, const char *prop, const char *expected)
{
    g_autofree char *s = peer_str(f, i, prop);

    g_assert_cmpstr(s, ==, expected);
}

static guint64
peer_t(Fixture *f, guint i, const char *prop)
{
    g_autoptr(GVariant) p = peer_props(f, i);
    guint64 v             = 0;

    if (!g_variant_lookup(p, prop, "t", &v)) {
        guint32 u = 0;

        g_assert_true(g_variant_lookup(p, prop, "u", &u));
        v = u;
    }
    return v;
}

/* Traffic to @addr from the service's namespace, 5 pings a second, in a
 * process group of its own (killed by PID at the end, or by the watchdog). */
static GPid
start_pinging(Fixture *f, const char *addr)
{
    g_autoptr(GError) error   = NULL;
    g_auto(GStrv) wrap        = wgm_test_net_wrap_argv(f->net, wgm_test_net_get_svc_ns(f->net));
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_auto(GStrv) argv        = NULL;
    GPid pid                  = 0;

    g_strv_builder_addv(b, (const char **)wrap);
    g_strv_builder_add_many(b, "ping", "-q", "-i", "0.2", "-w", "120", addr, NULL);
    argv = g_strv_builder_end(b);
    g_assert_true(g_spawn_async(NULL,
                                argv,
                                NULL,
                                G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
                                    | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                wgm_test_child_setup_setsid,
                                NULL,
                                &pid,
                                &error));
    g_assert_no_error(error);
    wgm_test_net_track_pgid(f->net, pid);
    return pid;
}

static void
stop_pinging(Fixture *f, GPid pid)
{
    kill(-pid, SIGKILL);
    wgm_test_waitpid(pid);
    wgm_test_net_untrack_pgid(f->net, pid);
}

static double
since(gint64 t0)
{
    return (g_get_monotonic_time() - t0) / 1e6;
}

/* Peer 1's link goes down in its namespace while we ping it: Connecting
 * within 20 s (the dead-peer rule, not WireGuard's 180 s), attempts growing
 * on the guard's backoff; back up, Connected within one backoff step.
 * Peer 2 is not disturbed. */
static void
test_dead_peer_and_recovery(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn = NULL;
    g_autoptr(GError) error  = NULL;
    g_autofree char *err     = NULL;
    const char      *key1;
    GPid             ping;
    gint64           t_block, t_unblock;
    double           detect, reconnect, step_left;
    guint64          attempts_seen = 0, attempts;
    guint64          next_retry;

    if (!f->net)
        return;
    key1 = wgm_test_net_get_peer(f->net, 1)->public_key;
    conn = wgm_test_mesh_connection(f->net, 0);
    wgm_test_mesh_bring_up(f, conn, NULL);
    g_assert_true(wgm_test_vpn_wait_peers_state(f->vpn, "connected", 15000));

    /* Traffic flows for a while first, as it would in real use (the mesh
     * then reads counters every 2 s, not every 5 s). */
    ping = start_pinging(f, wgm_test_net_get_peer(f->net, 1)->tunnel);
    wgm_test_iterate(6000);
    g_assert_true(wgm_test_net_peer_exec(f->net, 1, NULL, &error, "ip link set vsvc down"));
    g_assert_no_error(error);
    t_block = g_get_monotonic_time();

    g_assert_nonnull(wgm_test_vpn_wait_peer_state(f->vpn, key1, "connecting", 30000));
    detect = since(t_block);
    err    = peer_str(f, 1, "LastError");
    g_test_message(
        "path dead: peer 1 connecting %.1f s after its link went down (\"%s\")", detect, err);
    g_assert_cmpfloat(detect, <=, 20.0);
    g_assert_true(g_str_has_prefix(err, "no reply for"));

    /* The guard retries on its backoff: attempts grow, NextRetry ahead. */
    for (gint64 end = g_get_monotonic_time() + 25 * G_USEC_PER_SEC; g_get_monotonic_time() < end;) {
        wgm_test_iterate(1000);
        attempts   = peer_t(f, 1, "Attempts");
        next_retry = peer_t(f, 1, "NextRetry");
        if (attempts != attempts_seen) {
            g_test_message("  t=%5.1f s  Attempts %" G_GUINT64_FORMAT "  NextRetry in %.1f s",
                           since(t_block),
                           attempts,
                           ((gint64)next_retry - g_get_real_time()) / 1e6);
            attempts_seen = attempts;
        }
    }
    g_assert_cmpuint(attempts_seen, >=, 3);
    assert_peer_str(f, 2, "State", "connected");
    assert_peer_str(f, 1, "State", "connecting");

    next_retry = peer_t(f, 1, "NextRetry");
    g_assert_cmpuint(next_retry, >, 0);
    step_left = ((gint64)next_retry - g_get_real_time()) / 1e6;
    g_assert_true(wgm_test_net_peer_exec(f->net, 1, NULL, &error, "ip link set vsvc up"));
    g_assert_no_error(error);
    t_unblock = g_get_monotonic_time();
    g_assert_nonnull(wgm_test_vpn_wait_peer_state(f->vpn, key1, "connected", 60000));
    reconnect = since(t_unblock);
    g_test_message("path back: peer 1 connected %.1f s after its link came up (next step was "
                   "%.1f s away)",
                   reconnect,
                   step_left);
    /* one backoff step (at most the remaining one plus WireGuard's own 5 s
     * retransmission), plus a poll */
    g_assert_cmpfloat(reconnect, <=, MAX(step_left, 5.0) + 3.0);
    assert_peer_str(f, 1, "LastError", "");
    g_assert_cmpuint(peer_t(f, 1, "Attempts"), ==, 0);

    stop_pinging(f, ping);
    for (guint i = 1; i <= 2; i++)
        g_assert_true(wgm_test_net_ping(f->net,
                                        wgm_test_net_get_svc_ns(f->net),
                                        wgm_test_net_get_peer(f->net, i)->tunnel,
                                        1,
                                        5));
    wgm_test_mesh_tear_down_and_check(f);
}

/* Rewrites @path in place: a bind mount follows the inode, not the name. */
static void
write_in_place(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    g_assert_nonnull(fp);
    g_assert_cmpint(fputs(text, fp), >=, 0);
    g_assert_cmpint(fclose(fp), ==, 0);
}

/* A name endpoint that starts resolving to a new address (the test's
 * resolver: /etc/hosts in the service's own mount namespace) is picked up
 * on the guard's next retry. */
static void
test_endpoint_new_address(Fixture *f, gconstpointer data)
{
    g_autoptr(GVariant) conn = NULL;
    g_autoptr(GError) error  = NULL;
    g_autofree char *dir     = NULL;
    g_autofree char *hosts   = NULL;
    g_autofree char *ep      = NULL;
    gint64           t0;
    double           step_left;

    if (!f->net)
        return;
    dir = g_dir_make_tmp("wgm-hosts-XXXXXX", &error);
    g_assert_no_error(error);
    hosts = g_build_filename(dir, "hosts", NULL);
    write_in_place(hosts, "10.200.2.99 peer-two.wgm-test.invalid\n"); /* nobody there */
    g_assert_true(wgm_test_net_exec_in_service(f->net,
                                               wgm_test_service_get_pid(f->service),
                                               NULL,
                                               &error,
                                               "mount --bind %s /etc/hosts",
                                               hosts));
    g_assert_no_error(error);

    conn = wgm_test_mesh_connection_named(f->net, 0, 2, "peer-two.wgm-test.invalid");
    wgm_test_mesh_bring_up(f, conn, NULL);
    g_assert_nonnull(wgm_test_vpn_wait_peer_state(
        f->vpn, wgm_test_net_get_peer(f->net, 1)->public_key, "connected", 15000));
    wgm_test_iterate(6000); /* past the grace time: peer 2 is on its backoff */
    assert_peer_str(f, 2, "State", "connecting");
    ep = peer_str(f, 2, "Endpoint");
    g_assert_cmpstr(ep, ==, "10.200.2.99:51820");

    step_left = ((gint64)peer_t(f, 2, "NextRetry") - g_get_real_time()) / 1e6;
    write_in_place(hosts, "10.200.2.2 peer-two.wgm-test.invalid\n");
    t0 = g_get_monotonic_time();
    g_assert_nonnull(wgm_test_vpn_wait_peer_state(
        f->vpn, wgm_test_net_get_peer(f->net, 2)->public_key, "connected", 60000));
    g_test_message("new address picked up: connected %.1f s after the name changed "
                   "(next retry was %.1f s away)",
                   since(t0),
                   step_left);
    g_free(ep);
    ep = peer_str(f, 2, "Endpoint");
    g_assert_cmpstr(ep, ==, "10.200.2.2:51820");
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
    g_test_add("/netns/guard/dead-peer-and-recovery",
               Fixture,
               GUINT_TO_POINTER(2),
               fixture_setup,
               test_dead_peer_and_recovery,
               fixture_teardown);
    g_test_add("/netns/guard/endpoint-new-address",
               Fixture,
               GUINT_TO_POINTER(2),
               fixture_setup,
               test_endpoint_new_address,
               fixture_teardown);
    return g_test_run();
}
