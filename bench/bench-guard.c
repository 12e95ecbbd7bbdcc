/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guard against real wireguard-go peers, timed (root).  The service runs
 * as in the netns suite: in a namespace of its own, on a private bus, driven
 * like NetworkManager; a python3-dbusmock logind on that bus plays the host
 * resuming from sleep.  One run measures, for a mesh of SIZE peers:
 *
 *   1. the path comes back after a network change: links up -> every real
 *      peer Connected again, with the network-change reset (logind's
 *      PrepareForSleep(false)) against without it (the guard's backoff and
 *      WireGuard's own retransmission only), as a ratio;
 *   2. a dead peer under traffic: link down -> Connecting;
 *   3. wireguard-go SIGKILLed -> every real peer Connected again.
 *
 * 1,000 wireguard-go processes do not fit a small machine: only N_REAL peers
 * are real (namespaces, veth, wireguard-go); the mesh is filled up to SIZE
 * with made-up peers whose endpoints lead nowhere, which the service handles
 * like any other (retries, re-creation on a reset, re-applied after a
 * crash).  Every time is measured on the real peers only.
 *
 * Times come from the service's own StateSince (and WireGuard's
 * LatestHandshake), so how often this program polls does not matter.
 * Nothing is asserted against a clock: the program fails only if something
 * did not work at all (a peer never came back).
 *
 *   bench-guard N_REAL SIZE ROUNDS [BLOCK_S]   (ROUNDS per side of item 1)
 *
 * With WGM_BENCH_LOG=FILE the service runs with --debug and its log is
 * copied to FILE at the end.  The made-up peers' endpoints are on
 * 127.0.0.1 in the service's namespace (a port unreachable at once), or on
 * WGM_BENCH_EXTRA_HOST: 10.200.1.2, peer 1's host as in the netns suite,
 * puts them behind a link this program takes down.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "bench-util.h"
#include "netns-mesh.h"
#include "wgm-dbus-export.h"
#include "wgm-mesh.h"
#include "wgm-test-util.h"

#define LOGIND_NAME     "org.freedesktop.login1"
#define LOGIND_PATH     "/org/freedesktop/login1"
#define LOGIND_IFACE    "org.freedesktop.login1.Manager"
#define MOCK_IFACE      "org.freedesktop.DBus.Mock"
#define PEER_IFACE      "org.freedesktop.NetworkManager.wgmesh.Peer"
#define MESH_IFACE      "org.freedesktop.NetworkManager.wgmesh.Mesh"
#define PROPS_IFACE     "org.freedesktop.DBus.Properties"
#define DBUSMOCK_PYTHON "/usr/bin/python3" /* Debian's, with python3-dbusmock */

/* Links down at least this long by default (BLOCK_S): the guard's steps are
 * 6.4 s and more apart by then, and the links come back after the next step
 * that is followed by a gap of STEP_FAR_USEC or more (40-50 s down here). */
#define BLOCK_S_DEFAULT 35
/* The links come back between two guard steps at least this far apart. */
#define STEP_FAR_USEC (10 * G_USEC_PER_SEC)
/* A burst of kills, this far apart: the service gives up after five within
 * a minute, and restarts after 250 ms doubling while they come that fast. */
#define CRASH_BURST     4
#define CRASH_GAP_USEC  (5 * G_USEC_PER_SEC)
#define TRAFFIC_LEAD_MS 6000
#define POLL_MS         100
#define CALL_TIMEOUT_MS 10000

typedef struct {
    WgmTestHarness h;
    guint          n_real;
    guint          size;
    gint64         block;     /* usec: links down at least this long */
    gint64         last_kill; /* realtime usec, 0 = none */
    guint          kills;
    GPid           logind;
    char         **paths; /* object path of real peer i at [i], 1-based */
} Bench;

/* What one real peer reported when it reached the state waited for. */
typedef struct {
    gint64  state_since; /* realtime usec */
    gint64  handshake;   /* realtime usec, 0 = none */
    gint64  next_retry;  /* realtime usec, 0 = none */
    guint32 attempts;
} PeerSample;

typedef struct {
    GArray *all;       /* double s: links up -> every real peer Connected */
    GArray *per_peer;  /* double s: its link up -> it Connected */
    GArray *handshake; /* double s: its link up -> its handshake */
    GArray *next_step; /* double s: the guard's next step at link up */
} Side;

static double
secs(gint64 usec)
{
    return usec / 1e6;
}

/* "min 0.31 s, median 0.35 s, max 0.40 s (n=8)" */
static char *
stats(GArray *a)
{
    return g_strdup_printf("min %.2f s, median %.2f s, max %.2f s (n=%u)",
                           bench_quantile(a, 0),
                           bench_quantile(a, 0.5),
                           bench_quantile(a, 1),
                           a->len);
}

/* ---- D-Bus -------------------------------------------------------------- */

static GDBusConnection *
bus(Bench *b)
{
    return wgm_test_vpn_get_connection(b->h.vpn);
}

static GVariant *
get_all(Bench *b, const char *path, const char *iface)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(bus(b),
                                                            WGM_TEST_BUS_NAME,
                                                            path,
                                                            PROPS_IFACE,
                                                            "GetAll",
                                                            g_variant_new("(s)", iface),
                                                            G_VARIANT_TYPE("(a{sv})"),
                                                            G_DBUS_CALL_FLAGS_NONE,
                                                            CALL_TIMEOUT_MS,
                                                            NULL,
                                                            &error);

    if (!reply) {
        fprintf(stderr, "bench-guard: GetAll %s: %s\n", path, error->message);
        return NULL;
    }
    return g_variant_get_child_value(reply, 0);
}

static guint64
lookup_t(GVariant *props, const char *name)
{
    guint64 v = 0;

    g_variant_lookup(props, name, "t", &v);
    return v;
}

/* A "u" or "t" property of the Mesh object, -1 if it cannot be read. */
static gint64
mesh_prop(Bench *b, const char *name)
{
    g_autoptr(GVariant) props = get_all(b, WGM_DBUS_PATH, MESH_IFACE);
    g_autoptr(GVariant) v     = props ? g_variant_lookup_value(props, name, NULL) : NULL;

    if (v && g_variant_is_of_type(v, G_VARIANT_TYPE_UINT32))
        return g_variant_get_uint32(v);
    return v && g_variant_is_of_type(v, G_VARIANT_TYPE_UINT64) ? (gint64)g_variant_get_uint64(v)
                                                               : -1;
}

/* The real peers' object paths, by their public keys. */
static gboolean
find_paths(Bench *b)
{
    g_autoptr(GError) error     = NULL;
    g_autoptr(GVariant) objects = wgm_test_vpn_get_managed_objects(b->h.vpn, &error);
    GVariantIter iter;
    GVariant    *ifaces;
    const char  *path;
    guint        found = 0, total = 0;

    if (!objects) {
        bench_fail(&b->h, "GetManagedObjects: %s", error->message);
        return FALSE;
    }
    b->paths = g_new0(char *, b->n_real + 2);
    g_variant_iter_init(&iter, objects);
    while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
        g_autoptr(GVariant) props = g_variant_lookup_value(ifaces, PEER_IFACE, NULL);
        const char *key;

        g_variant_unref(ifaces);
        if (!props || !g_variant_lookup(props, "PublicKey", "&s", &key))
            continue;
        total++;
        for (guint i = 1; i <= b->n_real; i++) {
            if (g_str_equal(key, wgm_test_net_get_peer(b->h.net, i)->public_key)) {
                b->paths[i] = g_strdup(path);
                found++;
            }
        }
    }
    if (found != b->n_real || total != b->size) {
        bench_fail(&b->h,
                   "the mesh exports %u peers, %u of them real; expected %u, %u",
                   total,
                   found,
                   b->size,
                   b->n_real);
        return FALSE;
    }
    return TRUE;
}

/*
 * Polls the real peers until each reports @state with a StateSince not
 * before its @since[i]; fills @out[i] at that moment.  FALSE on timeout.
 */
static gboolean
wait_real(Bench *b, const char *state, const gint64 *since, guint timeout_ms, PeerSample *out)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    memset(out, 0, sizeof(PeerSample) * (b->n_real + 1));
    for (;;) {
        guint done = 0;

        for (guint i = 1; i <= b->n_real; i++) {
            g_autoptr(GVariant) props = NULL;
            const char *s             = NULL;

            if (out[i].state_since) {
                done++;
                continue;
            }
            props = get_all(b, b->paths[i], PEER_IFACE);
            if (!props || !g_variant_lookup(props, "State", "&s", &s) || !g_str_equal(s, state)
                || (gint64)lookup_t(props, "StateSince") < since[i])
                continue;
            out[i].state_since = lookup_t(props, "StateSince");
            out[i].handshake   = lookup_t(props, "LatestHandshake");
            done++;
        }
        if (done == b->n_real)
            return TRUE;
        if (g_get_monotonic_time() > deadline) {
            for (guint i = 1; i <= b->n_real; i++) {
                if (!out[i].state_since)
                    fprintf(stderr, "bench-guard: peer %u never became %s\n", i, state);
            }
            return FALSE;
        }
        wgm_test_iterate(POLL_MS);
    }
}

/* The guard's schedule of every real peer, now. */
static void
read_schedule(Bench *b, PeerSample *out)
{
    for (guint i = 1; i <= b->n_real; i++) {
        g_autoptr(GVariant) props = get_all(b, b->paths[i], PEER_IFACE);

        out[i].next_retry = props ? (gint64)lookup_t(props, "NextRetry") : 0;
        if (props)
            g_variant_lookup(props, "Attempts", "u", &out[i].attempts);
    }
}

/* ---- logind ------------------------------------------------------------- */

/* python3-dbusmock's logind on the private bus (DBUS_SYSTEM_BUS_ADDRESS is
 * where dbus-python finds the system bus), in a process group of its own
 * that the test network's watchdog kills should this program die. */
static gboolean
logind_start(Bench *b)
{
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) envp      = g_environ_setenv(
        g_get_environ(), "DBUS_SYSTEM_BUS_ADDRESS", wgm_test_bus_get_address(b->h.bus), TRUE);
    const char *argv[] = { DBUSMOCK_PYTHON, "-m", "dbusmock", "--template", "logind", NULL };
    gint64      deadline;

    if (!g_spawn_async(NULL,
                       (char **)argv,
                       envp,
                       G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                       wgm_test_child_setup_setsid,
                       NULL,
                       &b->logind,
                       &error)) {
        bench_fail(&b->h, "starting python3-dbusmock: %s", error->message);
        return FALSE;
    }
    wgm_test_net_track_pgid(b->h.net, b->logind);
    for (deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
         g_get_monotonic_time() < deadline;) {
        g_autoptr(GVariant) reply = g_dbus_connection_call_sync(bus(b),
                                                                "org.freedesktop.DBus",
                                                                "/org/freedesktop/DBus",
                                                                "org.freedesktop.DBus",
                                                                "NameHasOwner",
                                                                g_variant_new("(s)", LOGIND_NAME),
                                                                G_VARIANT_TYPE("(b)"),
                                                                G_DBUS_CALL_FLAGS_NONE,
                                                                CALL_TIMEOUT_MS,
                                                                NULL,
                                                                NULL);
        gboolean has              = FALSE;

        if (reply)
            g_variant_get(reply, "(b)", &has);
        if (has)
            return TRUE;
        if (!wgm_test_pid_alive(b->logind))
            break;
        g_usleep(50 * 1000);
    }
    bench_fail(&b->h, "python3-dbusmock's logind did not appear on the bus");
    return FALSE;
}

static void
logind_stop(Bench *b)
{
    if (!b->logind)
        return;
    kill(-b->logind, SIGKILL);
    wgm_test_waitpid(b->logind);
    wgm_test_net_untrack_pgid(b->h.net, b->logind);
    b->logind = 0;
}

/* What logind says on resume: PrepareForSleep(false). */
static gboolean
emit_resume(Bench *b)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(GVariant) reply = NULL;
    GVariantBuilder args;

    g_variant_builder_init(&args, G_VARIANT_TYPE("av"));
    g_variant_builder_add(&args, "v", g_variant_new_boolean(FALSE));
    reply = g_dbus_connection_call_sync(
        bus(b),
        LOGIND_NAME,
        LOGIND_PATH,
        MOCK_IFACE,
        "EmitSignal",
        g_variant_new(
            "(sss@av)", LOGIND_IFACE, "PrepareForSleep", "b", g_variant_builder_end(&args)),
        NULL,
        G_DBUS_CALL_FLAGS_NONE,
        CALL_TIMEOUT_MS,
        NULL,
        &error);
    if (!reply)
        bench_fail(&b->h, "EmitSignal PrepareForSleep: %s", error->message);
    return reply != NULL;
}

/* ---- the real peers' paths ---------------------------------------------- */

/* Traffic to real peer @i from the service's namespace, 5 pings a second,
 * in a process group of its own (killed by PID, or by the watchdog). */
static GPid
start_pinging(Bench *b, guint i)
{
    const char *cmd[] = {
        "ping", "-q", "-i", "0.2", "-w", "300", wgm_test_net_get_peer(b->h.net, i)->tunnel, NULL,
    };

    return bench_spawn_in_svc_ns(&b->h, cmd);
}

static void
stop_pinging(Bench *b, GPid *pids)
{
    for (guint i = 1; i <= b->n_real; i++) {
        if (!pids[i])
            continue;
        kill(-pids[i], SIGKILL);
        wgm_test_waitpid(pids[i]);
        wgm_test_net_untrack_pgid(b->h.net, pids[i]);
        pids[i] = 0;
    }
}

/*
 * Every real peer's veth end in its own namespace goes down, or up; @t[i]:
 * when peer i's command returned (realtime).
 *
 * Before a link comes back, the service side's neighbour entry for the peer
 * is flushed.  While the link was down, the kernel kept WireGuard's latest
 * handshake initiation queued on that (unresolved) entry and would deliver
 * it within a second of the link coming back, and a reset's new initiation
 * would wait for the entry's next ARP probe (up to 1 s): a veth artefact.
 * On a real network, what was sent while the path was dead is lost.
 */
static gboolean
set_links(Bench *b, gboolean up, gint64 *t)
{
    for (guint i = 1; i <= b->n_real; i++) {
        g_autoptr(GError) error  = NULL;
        g_autofree char *vp      = g_strdup_printf("vp%u", i);
        const char      *flush[] = { "ip",    "-n",    wgm_test_net_get_svc_ns(b->h.net),
                                     "neigh", "flush", "dev",
                                     vp,      NULL };
        const char      *updown  = up ? "up" : "down";
        const char      *argv[]  = {
                  "ip", "-n", wgm_test_net_get_peer(b->h.net, i)->ns, "link", "set", "vsvc", updown, NULL,
        };

        if ((up && !wgm_test_run(flush, NULL, &error)) || !wgm_test_run(argv, NULL, &error)) {
            bench_fail(&b->h, "peer %u: %s", i, error->message);
            return FALSE;
        }
        t[i] = g_get_real_time();
    }
    return TRUE;
}

/* ---- 1 and 2: the path dies, and comes back ----------------------------- */

/*
 * The links stay down BLOCK_S, then until the guard takes a step for real
 * peer 1 after which its next one is at least STEP_FAR_USEC away, then
 * @after usec: the path comes back between two steps far apart, early or
 * late in the gap (the other peers' schedules drift by the guard's
 * jitter).  Returns how long after the step it came (usec).
 */
static gint64
wait_for_unblock(Bench *b, gint64 t_down, gint64 after)
{
    gint64 wait     = t_down + b->block - g_get_real_time();
    gint64 deadline = g_get_monotonic_time() + 90 * G_USEC_PER_SEC;
    gint64 seen     = -1, next, t_step;

    if (wait > 0)
        wgm_test_iterate(wait / 1000);
    for (;;) {
        g_autoptr(GVariant) props = get_all(b, b->paths[1], PEER_IFACE);

        next = props ? (gint64)lookup_t(props, "NextRetry") : 0;
        /* A step moves NextRetry on (by 5 s or more). */
        if (seen >= 0 && next != seen && next - g_get_real_time() >= STEP_FAR_USEC)
            break;
        seen = next;
        if (g_get_monotonic_time() > deadline) {
            printf("  (no guard step with the next %.0f s away; unblocking now)\n",
                   secs(STEP_FAR_USEC));
            return 0;
        }
        wgm_test_iterate(POLL_MS);
    }
    /* Seen within a poll of the step. */
    t_step = g_get_real_time() - POLL_MS * 1000 / 2;
    wgm_test_iterate((guint)(MIN(after, next - g_get_real_time() - G_USEC_PER_SEC) / 1000));
    return g_get_real_time() - t_step;
}

/*
 * All real peers connected; traffic to each for TRAFFIC_LEAD_MS; their links
 * go down until the dead-peer rule makes each Connecting (@detect gets those
 * times); traffic stops; the links stay down as wait_for_unblock() says;
 * then up, with logind's resume signal if @reset, and each real peer is
 * awaited Connected.
 */
static gboolean
run_round(Bench *b, guint round, gboolean reset, gint64 after, Side *side, GArray *detect)
{
    g_autofree gint64     *t_down = g_new0(gint64, b->n_real + 1);
    g_autofree gint64     *t_up   = g_new0(gint64, b->n_real + 1);
    g_autofree GPid       *pings  = g_new0(GPid, b->n_real + 1);
    g_autofree PeerSample *got    = g_new0(PeerSample, b->n_real + 1);
    g_autofree PeerSample *sched  = g_new0(PeerSample, b->n_real + 1);
    g_autofree gint64     *zero   = g_new0(gint64, b->n_real + 1);
    g_autoptr(GArray) r_detect    = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) r_next      = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) r_attempts  = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) r_handshake = g_array_new(FALSE, FALSE, sizeof(double));
    gint64   change_before, change_after, last_up, after_step, all = 0;
    gboolean ok = FALSE;

    if (!wait_real(b, "connected", zero, 60000, got)) {
        bench_fail(&b->h, "round %u: the real peers are not all connected to begin with", round);
        return FALSE;
    }
    change_before = mesh_prop(b, "LastNetworkChange");
    for (guint i = 1; i <= b->n_real; i++) {
        if (!(pings[i] = start_pinging(b, i)))
            goto out;
    }
    /* Traffic flowing for a poll or more before the path dies: the service
     * reads counters every 2 s (not 5) once it has seen traffic of ours. */
    wgm_test_iterate(TRAFFIC_LEAD_MS);

    if (!set_links(b, FALSE, t_down))
        goto out;
    if (!wait_real(b, "connecting", t_down, 60000, got)) {
        bench_fail(
            &b->h, "round %u: the dead-peer rule did not make every real peer Connecting", round);
        goto out;
    }
    for (guint i = 1; i <= b->n_real; i++) {
        bench_add(detect, secs(got[i].state_since - t_down[i]));
        bench_add(r_detect, secs(got[i].state_since - t_down[i]));
    }
    stop_pinging(b, pings);

    after_step = wait_for_unblock(b, t_down[1], after);
    read_schedule(b, sched);

    if (!set_links(b, TRUE, t_up))
        goto out;
    last_up = t_up[b->n_real];
    if (reset && !emit_resume(b))
        goto out;
    if (!wait_real(b, "connected", t_up, 120000, got)) {
        bench_fail(&b->h,
                   "round %u (%s): the real peers did not all connect again within 120 s",
                   round,
                   reset ? "with reset" : "without reset");
        goto out;
    }

    for (guint i = 1; i <= b->n_real; i++) {
        all = MAX(all, got[i].state_since - last_up);
        bench_add(side->per_peer, secs(got[i].state_since - t_up[i]));
        if (got[i].handshake) {
            bench_add(side->handshake, secs(got[i].handshake - t_up[i]));
            bench_add(r_handshake, secs(got[i].handshake - t_up[i]));
        }
        if (sched[i].next_retry) {
            bench_add(side->next_step, secs(sched[i].next_retry - t_up[i]));
            bench_add(r_next, secs(sched[i].next_retry - t_up[i]));
        }
        bench_add(r_attempts, sched[i].attempts);
    }
    bench_add(side->all, secs(all));

    /* The reset came from the signal, not from anything else. */
    change_after = mesh_prop(b, "LastNetworkChange");
    if (reset && change_after < last_up) {
        bench_fail(
            &b->h, "round %u: the service did not see logind's PrepareForSleep(false)", round);
        goto out;
    }
    if (!reset && change_after != change_before) {
        bench_fail(
            &b->h, "round %u: a network change nobody made (LastNetworkChange moved)", round);
        goto out;
    }
    printf("  round %u %-13s dead peers detected in %.1f-%.1f s; links up %.0f s later, %.1f s "
           "after a guard step, the next %.1f-%.1f s away (attempts %u-%u); handshakes %.2f-%.2f "
           "s and all %u real peers connected %.2f s after links up\n",
           round,
           reset ? "with reset:" : "without:",
           bench_quantile(r_detect, 0),
           bench_quantile(r_detect, 1),
           secs(t_up[1] - t_down[1]),
           secs(after_step),
           bench_quantile(r_next, 0),
           bench_quantile(r_next, 1),
           (guint)bench_quantile(r_attempts, 0),
           (guint)bench_quantile(r_attempts, 1),
           bench_quantile(r_handshake, 0),
           bench_quantile(r_handshake, 1),
           b->n_real,
           secs(all));
    fflush(stdout);
    ok = TRUE;
out:
    stop_pinging(b, pings);
    return ok;
}

/* ---- 3: wireguard-go dies ----------------------------------------------- */

/* Kills the service's wireguard-go; @out: SIGKILL -> every real peer
 * Connected again (s). */
static gboolean
crash_once(Bench *b, double *out)
{
    g_autofree gint64     *since = g_new0(gint64, b->n_real + 1);
    g_autofree PeerSample *got   = g_new0(PeerSample, b->n_real + 1);
    gint64                 t_kill, all = 0;
    GPid                   pid;

    if (!wait_real(b, "connected", since, 30000, got)) {
        bench_fail(
            &b->h, "kill %u: the real peers are not all connected to begin with", b->kills + 1);
        return FALSE;
    }
    pid = bench_wireguard_go_pid(&b->h);
    if (pid <= 0) {
        bench_fail(&b->h, "kill %u: the service has no wireguard-go child", b->kills + 1);
        return FALSE;
    }
    t_kill = b->last_kill = g_get_real_time();
    if (kill(pid, SIGKILL) != 0) {
        bench_fail(&b->h, "SIGKILL wireguard-go %d: %s", pid, g_strerror(errno));
        return FALSE;
    }
    b->kills++;
    for (guint i = 1; i <= b->n_real; i++)
        since[i] = t_kill;
    if (!wait_real(b, "connected", since, 60000, got)) {
        bench_fail(
            &b->h, "kill %u: the real peers did not all connect again within 60 s", b->kills);
        return FALSE;
    }
    for (guint i = 1; i <= b->n_real; i++)
        all = MAX(all, got[i].state_since - t_kill);
    *out = secs(all);
    if (mesh_prop(b, "BackendRestarts") != (gint64)b->kills) {
        bench_fail(&b->h,
                   "BackendRestarts is %" G_GINT64_FORMAT " after %u kills",
                   mesh_prop(b, "BackendRestarts"),
                   b->kills);
        return FALSE;
    }
    printf("  kill %u: wireguard-go %d SIGKILLed, all %u real peers connected again %.2f s "
           "later\n",
           b->kills,
           pid,
           b->n_real,
           *out);
    fflush(stdout);
    return TRUE;
}

/* A burst of kills CRASH_GAP_USEC apart; the first, a minute after any
 * other, goes to @quiet, the rest to @burst. */
static gboolean
run_crash_burst(Bench *b, GArray *quiet, GArray *burst)
{
    for (guint k = 0; k < CRASH_BURST; k++) {
        gint64 wait = b->last_kill + CRASH_GAP_USEC - g_get_real_time();
        double t;

        if (k > 0 && wait > 0)
            wgm_test_iterate(wait / 1000);
        if (!crash_once(b, &t))
            return FALSE;
        bench_add(k == 0 ? quiet : burst, t);
    }
    return TRUE;
}

/* ---- main --------------------------------------------------------------- */

static Side
side_new(void)
{
    return (Side){
        g_array_new(FALSE, FALSE, sizeof(double)),
        g_array_new(FALSE, FALSE, sizeof(double)),
        g_array_new(FALSE, FALSE, sizeof(double)),
        g_array_new(FALSE, FALSE, sizeof(double)),
    };
}

static void
side_free(Side *side)
{
    g_array_unref(side->all);
    g_array_unref(side->per_peer);
    g_array_unref(side->handshake);
    g_array_unref(side->next_step);
}

static void
report(Bench  *b,
       guint   rounds,
       Side   *with,
       Side   *without,
       GArray *detect,
       GArray *quiet,
       GArray *burst)
{
    g_autofree char *s_with    = stats(with->all);
    g_autofree char *s_without = stats(without->all);
    g_autofree char *p_with    = stats(with->per_peer);
    g_autofree char *p_without = stats(without->per_peer);
    g_autofree char *h_without = stats(without->handshake);
    g_autofree char *n_without = stats(without->next_step);
    g_autofree char *s_detect  = stats(detect);
    g_autofree char *s_quiet   = stats(quiet);

    printf("\nguard, mesh of %u peers: %u real wireguard-go peers", b->size, b->n_real);
    if (b->size > b->n_real)
        printf(" + %u made-up peers whose endpoints lead nowhere", b->size - b->n_real);
    printf(";\nevery time is for the %u real peers (from the service's StateSince)\n", b->n_real);
    printf("1. path back after a network change (links down %.0f s and more, up 1.5-9.5 s "
           "after a guard step, the next >= %.0f s away; %u rounds a side), links up -> all %u "
           "real peers connected:\n",
           secs(b->block),
           secs(STEP_FAR_USEC),
           rounds,
           b->n_real);
    printf("   with reset (PrepareForSleep(false)): %s\n", s_with);
    printf("   without reset:                       %s\n", s_without);
    printf("   ratio without/with: median %.1fx, min %.1fx\n",
           bench_quantile(without->all, 0.5) / MAX(bench_quantile(with->all, 0.5), 1e-3),
           bench_quantile(without->all, 0) / MAX(bench_quantile(with->all, 0), 1e-3));
    printf("   per peer, its link up -> it connected: with %s; without %s\n", p_with, p_without);
    printf("   without reset: its link up -> its handshake %s; the guard's next step was %s away\n",
           h_without,
           n_without);
    printf("2. dead peer under traffic, link down -> connecting: %s\n", s_detect);
    printf("3. wireguard-go SIGKILL -> all %u real peers connected: %s\n", b->n_real, s_quiet);
    printf("   then kills %.0f s apart (restart delay 250 ms doubling, by design):",
           secs(CRASH_GAP_USEC));
    for (guint i = 0; i < burst->len; i++)
        printf(" %.2f s", g_array_index(burst, double, i));
    printf("\n");
}

int
main(int argc, char *argv[])
{
    g_autofree char *reason  = NULL;
    g_autoptr(GError) error  = NULL;
    g_autoptr(GVariant) con  = NULL;
    g_autoptr(GArray) detect = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) quiet  = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) burst  = g_array_new(FALSE, FALSE, sizeof(double));
    double      t;
    Side        with = side_new(), without = side_new();
    Bench       b          = { 0 };
    guint       rounds     = argc > 3 ? (guint)atoi(argv[3]) : 2;
    guint       block      = argc > 4 ? (guint)atoi(argv[4]) : BLOCK_S_DEFAULT;
    const char *save_log   = g_getenv("WGM_BENCH_LOG");
    const char *extra_host = wgm_test_getenv_or("WGM_BENCH_EXTRA_HOST", "127.0.0.1");
    gint64      t0         = g_get_monotonic_time();
    int         status     = 1;

    g_set_prgname("bench-guard");

    b.n_real = argc > 1 ? (guint)atoi(argv[1]) : 10;
    b.size   = argc > 2 ? (guint)atoi(argv[2]) : b.n_real;
    b.block  = (gint64)block * G_USEC_PER_SEC;
    if (b.n_real < 1 || b.n_real > 250 || b.size < b.n_real || rounds < 1 || block < 25) {
        fprintf(stderr,
                "usage: bench-guard N_REAL(1-250) SIZE(>= N_REAL) ROUNDS(>= 1) [BLOCK_S(>= 25)]\n");
        return 2;
    }
    if (!wgm_test_root_checks(&reason)) {
        fprintf(stderr, "bench-guard: %s; skipped\n", reason);
        return 77;
    }
    if (!g_file_test(DBUSMOCK_PYTHON, G_FILE_TEST_IS_EXECUTABLE)
        || !wgm_test_run(
            (const char *const[]){ DBUSMOCK_PYTHON, "-c", "import dbusmock", NULL }, NULL, NULL)) {
        fprintf(stderr, "bench-guard: needs python3-dbusmock for " DBUSMOCK_PYTHON "; skipped\n");
        return 77;
    }

    printf("bench-guard: mesh of %u peers, %u of them real, the others' endpoints on %s\n",
           b.size,
           b.n_real,
           extra_host);
    fflush(stdout);
    if (!bench_harness_start(&b.h, b.n_real, save_log != NULL))
        goto out;
    /* Before Connect: the service subscribes to logind when the mesh is up. */
    if (!logind_start(&b))
        goto out;
    con = wgm_test_mesh_connection_extra_at(b.h.net, b.size - b.n_real, extra_host);
    wgm_test_mesh_bring_up(&b.h, con, NULL);
    if (!find_paths(&b))
        goto out;
    printf("mesh up in %.1f s\n", secs(g_get_monotonic_time() - t0));

    /* A crash after a quiet time; another after the rounds, then a burst. */
    if (!crash_once(&b, &t))
        goto out;
    bench_add(quiet, t);

    /* Alternating, so that drift over the run hits both sides alike; on
     * both, the links come back at the same points after a guard step,
     * spread over 1.5-9.5 s (WireGuard's own retransmission every 5 s after
     * it, and the guard's 5 s rate limit, make the phase matter). */
    for (guint r = 1; r <= 2 * rounds; r++) {
        gboolean reset = r % 2 == 0;
        gint64   after = (gint64)((1.5 + ((r - 1) / 2 + 0.5) * 8.0 / rounds) * G_USEC_PER_SEC);

        if (!run_round(&b, r, reset, after, reset ? &with : &without, detect))
            goto out;
    }
    if (g_get_real_time() - b.last_kill < WGM_MESH_CRASH_WINDOW_USEC + G_USEC_PER_SEC)
        wgm_test_iterate(
            (b.last_kill + WGM_MESH_CRASH_WINDOW_USEC + G_USEC_PER_SEC - g_get_real_time()) / 1000);
    if (!run_crash_burst(&b, quiet, burst) || !bench_tear_down(&b.h))
        goto out;
    report(&b, rounds, &with, &without, detect, quiet, burst);
    printf("run time %.0f s\n", secs(g_get_monotonic_time() - t0));
    status = 0;
out:
    fflush(stdout);
    if (save_log && b.h.service) {
        g_autofree char *log = wgm_test_service_get_log(b.h.service);

        if (!g_file_set_contents(save_log, log, -1, &error))
            fprintf(stderr, "bench-guard: %s\n", error->message);
    }
    if (b.h.net)
        logind_stop(&b);
    wgm_test_harness_clear(&b.h);
    g_strfreev(b.paths);
    side_free(&with);
    side_free(&without);
    return status;
}
