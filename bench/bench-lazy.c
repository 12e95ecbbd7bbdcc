/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lazy connections against real wireguard-go peers, measured (root).  The
 * service runs as in the netns suite: in a namespace of its own, on a
 * private bus, driven like NetworkManager, with inactivity-timeout 1 s
 * (WGM_TEST_INACTIVITY_MIN, which it inherits from this process).  One run
 * measures:
 *
 *   1. the first reply through a peer, `ping -c 1 -W 1`: lazy (an Idle
 *      peer, woken by that packet) against eager (a WireGuard peer with its
 *      real endpoint and no session yet: a cold handshake, the baseline
 *      FIELD-NOTES "Lazy activation" names), as a ratio, and the first
 *      packets lost (no reply within the second);
 *   2. a lazy mesh of SIZE peers against the N_REAL-peer one, on the same
 *      service: its file descriptors (one activity socket for all), the
 *      service's and its wireguard-go's RSS, Connect -> every peer Idle;
 *   3. the CPU that all-idle SIZE-peer mesh costs the service and its
 *      wireguard-go (the service polls it only to notice a peer that
 *      connected to us), in all and by 10 s slices, and whether any peer
 *      left Idle meanwhile.
 *
 * Item 1, lazy: the mesh of the N_REAL real peers; each round pings every
 * peer once (each Idle, its WireGuard peer parked: loopback endpoint, no
 * handshake, checked with `wg show` first), then waits until all are Idle
 * again.  Eager: the service disconnected, a plain wireguard-go of this
 * program's in the service's namespace with the same key, address and
 * peers (real endpoints, no keepalive); each activation removes the peer
 * and adds it back (no session, no handshake rate limit), then pings.  The
 * two take turns, two lazy rounds (peers parked at Connect, then parked
 * again after inactivity) and then as many eager ones, the same peers in
 * the same order at the same pace, so that whatever else the machine does
 * weighs on both alike; ROUNDS lazy rounds in all (rounded up to turns).
 * Beside each, a second ping right after the first: the warm session.
 *
 * Item 2 compares the SIZE-peer mesh with the N_REAL-peer ones connected
 * just before and just after it: what each Connect/Disconnect leaves
 * behind shows apart from what the size costs.  The real peers are
 * restarted before it: each still has a session with us that it last used
 * to send (its ping replies), and 15 s without anything back make it
 * retry a handshake to our listen port for 90 s, which would wake it (the
 * other side connected) in the mesh measured as all-idle.
 *
 * Times are ping's own (its time=, from the echo request leaving to the
 * reply), so spawning the command does not count.  Nothing is asserted
 * against a clock: the program fails only if something did not work at all
 * (a peer never went Idle again, processes left after Disconnect).
 *
 *   bench-lazy N_REAL ROUNDS SIZE
 *
 * WGM_BENCH_CPU_S: the window of item 3 in seconds (default 60; shorter
 * for a quick run); WGM_BENCH_CPU_SETTLE_S: how long after every peer is
 * Idle (and 1 s more) the window starts (default 5).  WGM_BENCH_LOG=FILE:
 * the service's log (it runs with --debug) is copied to FILE at the end.
 */
#include "config.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "bench-proc.h"
#include "bench-util.h"
#include "netns-mesh.h"
#include "wgm-dbus-export.h"
#include "wgm-test-util.h"

#define INACTIVITY "1" /* s; WGM_TEST_INACTIVITY_MIN allows it */
#define EAGER_IF   "wgeager0"
/* Lazy rounds a turn: the first wakes peers parked at Connect, the second
 * peers parked again after inactivity. */
#define LAZY_ROUNDS_A_TURN 2
#define IDLE_TIMEOUT_MS    60000
#define SETTLE_MS          1000 /* after every peer is Idle, before counting fds */
#define CPU_SETTLE_S       5    /* after that, before the CPU window */
#define CPU_S_DEFAULT      60
#define CPU_SLICE_S        10
#define POLL_MS            50
/* Before each first ping, on both sides: WireGuard has been quiet for a
 * moment, as a first packet finds it.  Right after the eager side's
 * `wg set` wireguard-go's threads were still awake and answered about a
 * quarter of a millisecond sooner (lazy/eager 1.15x without the pause,
 * 0.97x with it, in one pair of runs). */
#define QUIET_S          "0.05"
#define MAX_ROUND_FACTOR 3 /* rounds with peers found not cold are made up, up to this */

static const char *const lazy_more[] = {
    "lazy-connections", "yes", "inactivity-timeout", INACTIVITY, NULL,
};

typedef struct {
    WgmTestHarness h;
    guint          n_real;
    guint          rounds;
    guint          size;
    GPid           eager_wg; /* our own wireguard-go (item 1, eager); 0 if none */
} Bench;

/* One side of item 1. */
typedef struct {
    GArray *first; /* double ms: the first ping's time= */
    GArray *warm;  /* double ms: the ping right after it */
    guint   tries;
    guint   lost; /* first pings without a reply within 1 s */
    guint   warm_lost;
} Side;

/* What a mesh of some size cost (item 2). */
typedef struct {
    guint       peers;
    double      config_s; /* Connect -> Config */
    double      idle_s;   /* Connect -> every peer Idle */
    guint       fds;
    GHashTable *fd_kinds; /* "udp socket", "pipe"... -> count */
    guint       rss_kib;
    guint       wg_rss_kib;
    guint       wg_rss_down_kib; /* before the interface came up */
    GPid        wg;
} MeshCost;

static double
secs(gint64 usec)
{
    return usec / 1e6;
}

/* The median of @a's values from index @from on. */
static double
median_from(GArray *a, guint from)
{
    g_autoptr(GArray) tail = g_array_new(FALSE, FALSE, sizeof(double));

    if (from < a->len)
        g_array_append_vals(tail, &g_array_index(a, double, from), a->len - from);
    return bench_quantile(tail, 0.5);
}

/* ---- processes ---------------------------------------------------------- */

static GPid
service_pid(Bench *b)
{
    return wgm_test_service_get_pid(b->h.service);
}

/* ---- the mesh ----------------------------------------------------------- */

/* A "u" property of the Mesh object, -1 if it cannot be read. */
static gint64
mesh_u32(Bench *b, const char *name)
{
    g_autoptr(GVariant) props = wgm_test_vpn_get_mesh(b->h.vpn, NULL);
    guint32 v;

    return props && g_variant_lookup(props, name, "u", &v) ? (gint64)v : -1;
}

/* Until the Mesh counts @n Idle peers; FALSE on timeout. */
static gboolean
wait_all_idle(Bench *b, guint n, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (mesh_u32(b, "PeersIdle") != n) {
        if (g_get_monotonic_time() > deadline)
            return FALSE;
        wgm_test_iterate(POLL_MS);
    }
    return TRUE;
}

/* What NetworkManager does with Config + Ip4Config, in one `ip -batch`
 * (NetworkManager speaks netlink; 10,000 `ip route` processes would take
 * longer than the mesh). */
static gboolean
apply_ip4_config(Bench *b, GVariant *config, GVariant *ip4)
{
    g_autoptr(GVariant) cfg    = g_variant_get_child_value(config, 0);
    g_autoptr(GVariant) dict   = g_variant_get_child_value(ip4, 0);
    g_autoptr(GVariant) routes = g_variant_lookup_value(dict, "routes", G_VARIANT_TYPE("aau"));
    g_autoptr(GString) batch   = g_string_new(NULL);
    g_autoptr(GError) error    = NULL;
    g_autofree char *dir       = NULL;
    g_autofree char *path      = NULL;
    const char      *tundev;
    guint32          addr, prefix, mtu;
    char             buf[INET_ADDRSTRLEN];
    GVariantIter     iter;
    GVariant        *route;
    gboolean         ok;

    if (!g_variant_lookup(cfg, "tundev", "&s", &tundev) || !g_variant_lookup(cfg, "mtu", "u", &mtu)
        || !g_variant_lookup(dict, "address", "u", &addr)
        || !g_variant_lookup(dict, "prefix", "u", &prefix)) {
        bench_fail(&b->h, "Config or Ip4Config lacks tundev, mtu, address or prefix");
        return FALSE;
    }
    g_string_append_printf(batch,
                           "addr add %s/%u dev %s\nlink set %s mtu %u up\n",
                           inet_ntop(AF_INET, &addr, buf, sizeof(buf)),
                           prefix,
                           tundev,
                           tundev,
                           mtu);
    if (routes)
        g_variant_iter_init(&iter, routes);
    while (routes && (route = g_variant_iter_next_value(&iter))) {
        gsize          n;
        const guint32 *r = g_variant_get_fixed_array(route, &n, sizeof(guint32));

        g_string_append_printf(batch,
                               "route replace %s/%u dev %s\n",
                               inet_ntop(AF_INET, &r[0], buf, sizeof(buf)),
                               r[1],
                               tundev);
        g_variant_unref(route);
    }

    dir  = g_dir_make_tmp("wgm-bench-lazy-XXXXXX", &error);
    path = dir ? g_build_filename(dir, "ip4.batch", NULL) : NULL;
    ok   = path && g_file_set_contents(path, batch->str, -1, &error);
    if (ok) {
        const char *argv[] = {
            "ip", "-n", wgm_test_net_get_svc_ns(b->h.net), "-batch", path, NULL,
        };

        ok = wgm_test_run(argv, NULL, &error);
    }
    if (path)
        g_unlink(path);
    if (dir)
        g_rmdir(dir);
    if (!ok)
        bench_fail(&b->h, "applying the IPv4 configuration: %s", error->message);
    return ok;
}

/* Connect, as NetworkManager does, timed from the call: Config, then every
 * peer Idle; then the IP configuration applied, and what it all costs once
 * settled. */
static gboolean
bring_up(Bench *b, guint n_peers, MeshCost *out)
{
    g_autoptr(GVariant) con = wgm_test_mesh_connection_with(
        b->h.net, n_peers - b->n_real, "127.0.0.1", (const char *const *)lazy_more);
    g_autoptr(GVariant) config = NULL;
    g_autoptr(GVariant) ip4    = NULL;
    g_autoptr(GError) error    = NULL;
    gint64 t0;

    out->peers = n_peers;
    t0         = g_get_monotonic_time();
    if (!wgm_test_vpn_connect(b->h.vpn, con, &error)) {
        bench_fail(&b->h, "Connect (%u peers): %s", n_peers, error->message);
        return FALSE;
    }
    config = wgm_test_vpn_wait_signal(b->h.vpn, "Config", 120000);
    if (!config) {
        bench_fail(&b->h, "no Config within 120 s of Connect (%u peers)", n_peers);
        return FALSE;
    }
    out->config_s = secs(g_get_monotonic_time() - t0);
    ip4           = wgm_test_vpn_wait_signal(b->h.vpn, "Ip4Config", 5000);
    if (!ip4 || !wgm_test_vpn_wait_state(b->h.vpn, WGM_TEST_STATE_STARTED, 5000)) {
        bench_fail(&b->h, "no Ip4Config or StateChanged(started) within 5 s of Config");
        return FALSE;
    }
    if (!wait_all_idle(b, n_peers, IDLE_TIMEOUT_MS)) {
        bench_fail(&b->h,
                   "%" G_GINT64_FORMAT " of %u peers Idle %u s after Connect",
                   mesh_u32(b, "PeersIdle"),
                   n_peers,
                   IDLE_TIMEOUT_MS / 1000);
        return FALSE;
    }
    out->idle_s = secs(g_get_monotonic_time() - t0);
    out->wg     = bench_wireguard_go_pid(&b->h);
    if (!out->wg) {
        bench_fail(&b->h, "the service has no wireguard-go child");
        return FALSE;
    }
    /* wireguard-go starts a peer's goroutines only once the interface is
     * up: its memory before and after. */
    out->wg_rss_down_kib = bench_proc_rss_kib(out->wg);
    if (!apply_ip4_config(b, config, ip4))
        return FALSE;

    wgm_test_iterate(SETTLE_MS);
    if (bench_wireguard_go_pid(&b->h) != out->wg) {
        bench_fail(&b->h, "the service's wireguard-go %d went away", out->wg);
        return FALSE;
    }
    out->fds        = bench_proc_count_fds(service_pid(b));
    out->fd_kinds   = bench_proc_fd_kinds(service_pid(b));
    out->rss_kib    = bench_proc_rss_kib(service_pid(b));
    out->wg_rss_kib = bench_proc_rss_kib(out->wg);
    printf("mesh of %u lazy peers: Config %.2f s and every peer Idle %.2f s after Connect; "
           "service %u fds, RSS %.1f MiB; wireguard-go RSS %.1f MiB (%.1f MiB before the "
           "interface came up)\n",
           n_peers,
           out->config_s,
           out->idle_s,
           out->fds,
           out->rss_kib / 1024.0,
           out->wg_rss_kib / 1024.0,
           out->wg_rss_down_kib / 1024.0);
    fflush(stdout);
    return TRUE;
}

/* ---- pings -------------------------------------------------------------- */

/*
 * `ping -c 1 -W 1` to real peer @i and then another: their time= in @side
 * (a first ping without a reply counts as lost).  @prefix, if not NULL,
 * runs first in the same shell (the eager side's fresh peer); @pid, if not
 * 0, is whose namespaces it runs in, else the service's network namespace.
 */
static gboolean
ping_twice(Bench *b, GPid pid, const char *prefix, guint i, Side *side)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out    = NULL;
    g_autofree char *cmd    = NULL;
    g_auto(GStrv) lines     = NULL;
    const char *addr        = wgm_test_net_get_peer(b->h.net, i)->tunnel;
    double      ms[2]       = { -1, -1 };
    int         rc[2]       = { -1, -1 };
    guint       which       = 0;
    gboolean    ok;

    cmd = g_strdup_printf("%s%ssleep %s; for n in 1 2; do ping -n -c 1 -W 1 %s; echo \"@rc=$?\"; "
                          "done",
                          prefix ? prefix : "",
                          prefix ? " || exit 1; " : "",
                          QUIET_S,
                          addr);
    ok  = pid ? wgm_test_net_exec_in_service(b->h.net, pid, &out, &error, "%s", cmd)
              : wgm_test_net_exec(
                 b->h.net, wgm_test_net_get_svc_ns(b->h.net), &out, &error, "%s", cmd);
    if (!ok) {
        bench_fail(&b->h, "pinging peer %u: %s", i, error->message);
        return FALSE;
    }
    lines = g_strsplit(out, "\n", -1);
    for (guint l = 0; lines[l] && which < 2; l++) {
        const char *t = strstr(lines[l], " time=");

        if (t)
            ms[which] = g_ascii_strtod(t + strlen(" time="), NULL);
        else if (g_str_has_prefix(lines[l], "@rc="))
            rc[which++] = atoi(lines[l] + strlen("@rc="));
    }
    side->tries++;
    if (rc[0] == 0 && ms[0] >= 0)
        bench_add(side->first, ms[0]);
    else
        side->lost++;
    if (rc[1] == 0 && ms[1] >= 0)
        bench_add(side->warm, ms[1]);
    else
        side->warm_lost++;
    return TRUE;
}

/* One ping to every real peer's underlay address from the service's
 * namespace. */
static gboolean
warm_neighbours(Bench *b)
{
    g_autoptr(GString) cmd  = g_string_new("");
    g_autoptr(GError) error = NULL;

    for (guint i = 1; i <= b->n_real; i++)
        g_string_append_printf(cmd,
                               "%sping -n -q -c 1 -W 1 %s >/dev/null",
                               i > 1 ? " && " : "",
                               wgm_test_net_get_peer(b->h.net, i)->underlay);
    if (!wgm_test_net_exec(
            b->h.net, wgm_test_net_get_svc_ns(b->h.net), NULL, &error, "%s", cmd->str)) {
        bench_fail(&b->h, "pinging the peers' underlay addresses: %s", error->message);
        return FALSE;
    }
    return TRUE;
}

/* ---- 1, lazy ------------------------------------------------------------ */

/* Which real peers WireGuard has parked with no session (@cold[i]): its
 * endpoint the peer's loopback address, no handshake.  An Idle peer the
 * other side connected to meanwhile (the service notices at its next poll)
 * would answer warm: not a lazy activation. */
static gboolean
find_cold(Bench *b, gboolean *cold)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out    = NULL;
    g_auto(GStrv) lines     = NULL;

    if (!wgm_test_net_exec_in_service(
            b->h.net, service_pid(b), &out, &error, "wg show wgm0 dump")) {
        bench_fail(&b->h, "wg show wgm0 dump: %s", error->message);
        return FALSE;
    }
    lines = g_strsplit(out, "\n", -1);
    for (guint i = 1; i <= b->n_real; i++)
        cold[i] = FALSE;
    for (guint l = 1; lines[l]; l++) {
        g_auto(GStrv) f = g_strsplit(lines[l], "\t", -1);

        if (g_strv_length(f) < 5)
            continue;
        for (guint i = 1; i <= b->n_real; i++) {
            if (g_str_equal(f[0], wgm_test_net_get_peer(b->h.net, i)->public_key))
                cold[i] = g_str_has_prefix(f[2], "127.77.") && g_str_equal(f[4], "0");
        }
    }
    return TRUE;
}

/*
 * @rounds rounds: every real peer Idle and parked, one ping each (the first
 * packet wakes it), until every one is Idle again (@idle_again: s from the
 * round's last ping).  Peers found not cold are made up for in further
 * rounds (up to MAX_ROUND_FACTOR times as many) until @rounds * N_REAL
 * activations were measured.  @order gets the peers in the order they were
 * pinged.
 */
static gboolean
run_lazy(Bench *b, guint rounds, Side *side, GArray *idle_again, GArray *order, guint *not_cold)
{
    g_autofree gboolean *cold   = g_new0(gboolean, b->n_real + 1);
    guint                target = side->tries + rounds * b->n_real;

    for (guint r = 1; side->tries < target && r <= MAX_ROUND_FACTOR * rounds; r++) {
        guint  before = side->tries, lost = side->lost;
        gint64 t_last;

        if (!find_cold(b, cold))
            return FALSE;
        for (guint i = 1; i <= b->n_real && side->tries < target; i++) {
            if (!cold[i]) {
                (*not_cold)++;
                continue;
            }
            if (!ping_twice(b, 0, NULL, i, side))
                return FALSE;
            g_array_append_val(order, i);
        }
        if (side->tries == before)
            wgm_test_iterate(1000);
        t_last = g_get_monotonic_time();
        if (!wait_all_idle(b, b->n_real, IDLE_TIMEOUT_MS)) {
            bench_fail(&b->h,
                       "the peers were not all Idle again %u s after their pings",
                       IDLE_TIMEOUT_MS / 1000);
            return FALSE;
        }
        bench_add(idle_again, secs(g_get_monotonic_time() - t_last));
        printf("  lazy:  %2u peers woken by a ping, %u first packets lost; all Idle again %.1f s "
               "later\n",
               side->tries - before,
               side->lost - lost,
               g_array_index(idle_again, double, idle_again->len - 1));
        fflush(stdout);
    }
    return TRUE;
}

/* ---- 1, eager ----------------------------------------------------------- */

static void
eager_stop(Bench *b)
{
    if (!b->eager_wg)
        return;
    kill(-b->eager_wg, SIGKILL);
    wgm_test_waitpid(b->eager_wg);
    wgm_test_net_untrack_pgid(b->h.net, b->eager_wg);
    b->eager_wg = 0;
    wgm_test_net_wait_link_gone(b->h.net, wgm_test_net_get_svc_ns(b->h.net), EAGER_IF, 5000);
}

/* A plain wireguard-go in the service's namespace (its own /run, its own
 * session and process group, tracked for the watchdog), configured as the
 * service configures an eager mesh: same key, address, listen port, peers
 * with their real endpoints and no keepalive. */
static gboolean
eager_start(Bench *b)
{
    const char *cmd[]         = { wgm_test_wireguard_go(), "-f", EAGER_IF, NULL };
    g_autoptr(GError) error   = NULL;
    g_autoptr(GString) script = g_string_new(NULL);
    gint64 deadline;

    b->eager_wg = bench_spawn_in_svc_ns(&b->h, cmd);
    if (!b->eager_wg)
        return FALSE;

    for (deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;; g_usleep(20 * 1000)) {
        if (wgm_test_net_exec_in_service(
                b->h.net, b->eager_wg, NULL, NULL, "test -S /run/wireguard/" EAGER_IF ".sock"))
            break;
        if (!wgm_test_pid_alive(b->eager_wg) || g_get_monotonic_time() > deadline) {
            bench_fail(&b->h, "our wireguard-go made no UAPI socket within 10 s");
            return FALSE;
        }
    }
    g_string_append_printf(script,
                           "(umask 077 && printf '%%s\\n' '%s' >/run/" EAGER_IF ".key) && "
                           "wg set " EAGER_IF " listen-port %u private-key /run/" EAGER_IF ".key",
                           wgm_test_net_get_svc_private_key(b->h.net),
                           WGM_TEST_PEER_PORT);
    for (guint i = 1; i <= b->n_real; i++) {
        const WgmTestPeer *p = wgm_test_net_get_peer(b->h.net, i);

        g_string_append_printf(script,
                               " peer %s endpoint %s:%u allowed-ips %s/32",
                               p->public_key,
                               p->underlay,
                               p->port,
                               p->tunnel);
    }
    g_string_append(script,
                    " && rm /run/" EAGER_IF ".key && ip addr add 10.77.0.1/24 dev " EAGER_IF
                    " && ip link set " EAGER_IF " mtu 1420 up");
    if (!wgm_test_net_exec_in_service(b->h.net, b->eager_wg, NULL, &error, "%s", script->str)) {
        bench_fail(&b->h, "configuring our wireguard-go: %s", error->message);
        return FALSE;
    }
    return TRUE;
}

/* The lazy side's activations again (@order, from @from on), the same peers
 * in the same order, a round every @gap_ms: each a fresh peer (removed,
 * added back with its real endpoint: no session), then the pings. */
static gboolean
run_eager(Bench *b, GArray *order, guint from, guint gap_ms, Side *side)
{
    guint tries = side->tries, lost = side->lost;

    for (guint k = from; k < order->len; k++) {
        guint              i      = g_array_index(order, guint, k);
        const WgmTestPeer *p      = wgm_test_net_get_peer(b->h.net, i);
        g_autofree char   *prefix = g_strdup_printf("wg set " EAGER_IF " peer %s remove && "
                                                    "wg set " EAGER_IF " peer %s endpoint %s:%u "
                                                    "allowed-ips %s/32",
                                                  p->public_key,
                                                  p->public_key,
                                                  p->underlay,
                                                  p->port,
                                                  p->tunnel);

        if (k > from && (k - from) % b->n_real == 0)
            wgm_test_iterate(gap_ms);
        if (!ping_twice(b, b->eager_wg, prefix, i, side))
            return FALSE;
    }
    printf("  eager: %2u cold handshakes, %u first packets lost\n",
           side->tries - tries,
           side->lost - lost);
    fflush(stdout);
    return TRUE;
}

/* ---- 3 ------------------------------------------------------------------ */

static guint
count_in(const char *haystack, const char *needle)
{
    guint n = 0;

    for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Item 3: utime + stime of the service and of its wireguard-go over the
 * window, as % of one core, in all and by slice. */
typedef struct {
    guint   settle_s; /* after every peer is Idle and SETTLE_MS */
    guint   window_s;
    double  svc_pct;
    double  wg_pct;
    GArray *svc_slices; /* double % */
    GArray *wg_slices;
    guint   woken; /* peers that left Idle meanwhile (the service's log) */
} Cpu;

static gboolean
measure_cpu(Bench *b, GPid wg, Cpu *cpu)
{
    double           tck = sysconf(_SC_CLK_TCK);
    g_autofree char *log = NULL;
    gsize            log_len;
    gint64           svc0, wg0, t0, svc_prev, wg_prev, t_prev;

    cpu->svc_slices = g_array_new(FALSE, FALSE, sizeof(double));
    cpu->wg_slices  = g_array_new(FALSE, FALSE, sizeof(double));
    wgm_test_iterate(cpu->settle_s * 1000);
    log     = wgm_test_service_get_log(b->h.service);
    log_len = strlen(log);
    g_clear_pointer(&log, g_free);
    t0 = t_prev = g_get_monotonic_time();
    svc0 = svc_prev = bench_proc_cpu_ticks(service_pid(b));
    wg0 = wg_prev = bench_proc_cpu_ticks(wg);
    for (guint done = 0; done < cpu->window_s;) {
        guint  slice = MIN(CPU_SLICE_S, cpu->window_s - done);
        gint64 svc1, wg1, t1;

        wgm_test_iterate(slice * 1000);
        done += slice;
        svc1 = bench_proc_cpu_ticks(service_pid(b));
        wg1  = bench_proc_cpu_ticks(wg);
        t1   = g_get_monotonic_time();
        if (svc0 < 0 || wg0 < 0 || svc1 < 0 || wg1 < 0 || bench_wireguard_go_pid(&b->h) != wg) {
            bench_fail(
                &b->h, "the service or its wireguard-go %d went away during the CPU window", wg);
            return FALSE;
        }
        bench_add(cpu->svc_slices, 100.0 * (svc1 - svc_prev) / tck / secs(t1 - t_prev));
        bench_add(cpu->wg_slices, 100.0 * (wg1 - wg_prev) / tck / secs(t1 - t_prev));
        svc_prev = svc1;
        wg_prev  = wg1;
        t_prev   = t1;
    }
    cpu->svc_pct = 100.0 * (svc_prev - svc0) / tck / secs(t_prev - t0);
    cpu->wg_pct  = 100.0 * (wg_prev - wg0) / tck / secs(t_prev - t0);
    log          = wgm_test_service_get_log(b->h.service);
    cpu->woken   = count_in(log + MIN(log_len, strlen(log)), ": idle -> ");
    return TRUE;
}

static void
cpu_clear(Cpu *cpu)
{
    g_clear_pointer(&cpu->svc_slices, g_array_unref);
    g_clear_pointer(&cpu->wg_slices, g_array_unref);
}

static void
print_slices(const char *name, GArray *a)
{
    printf("   %-14s", name);
    for (guint i = 0; i < a->len; i++)
        printf(" %6.3f", g_array_index(a, double, i));
    printf("\n");
}

/* ---- main --------------------------------------------------------------- */

static Side
side_new(void)
{
    return (Side){
        .first = g_array_new(FALSE, FALSE, sizeof(double)),
        .warm  = g_array_new(FALSE, FALSE, sizeof(double)),
    };
}

static void
side_free(Side *side)
{
    g_array_unref(side->first);
    g_array_unref(side->warm);
}

static void
print_side(const char *name, GArray *a, guint lost, guint tries)
{
    printf("   %-45s %8.3f %8.3f %8.3f %8.3f %8.3f   %u/%u\n",
           name,
           bench_mean(a),
           bench_quantile(a, 0.5),
           bench_quantile(a, 0.9),
           bench_quantile(a, 0),
           bench_quantile(a, 1),
           lost,
           tries);
}

int
main(int argc, char *argv[])
{
    g_autofree char *reason       = NULL;
    g_autofree char *log          = NULL;
    g_autoptr(GError) error       = NULL;
    g_autoptr(GArray) again       = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) order       = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GArray) turn_ratios = g_array_new(FALSE, FALSE, sizeof(double));
    guint            n_turns;
    Side             lazy = side_new(), eager = side_new();
    Bench            b     = { 0 };
    MeshCost         small = { 0 }, large = { 0 }, again_small = { 0 };
    g_autofree char *fd_diff   = NULL;
    g_autofree char *fd_cycles = NULL;
    const char      *save_log  = g_getenv("WGM_BENCH_LOG");
    guint            not_cold  = 0, replayed, recreated;
    Cpu              cpu       = { 0 };
    gint64           t0        = g_get_monotonic_time();
    int              status    = 1;

    g_set_prgname("bench-lazy");

    b.n_real     = argc > 1 ? (guint)atoi(argv[1]) : 10;
    b.rounds     = argc > 2 ? (guint)atoi(argv[2]) : 5;
    b.size       = argc > 3 ? (guint)atoi(argv[3]) : 10000;
    cpu.window_s = (guint)atoi(wgm_test_getenv_or("WGM_BENCH_CPU_S", G_STRINGIFY(CPU_S_DEFAULT)));
    cpu.settle_s =
        (guint)atoi(wgm_test_getenv_or("WGM_BENCH_CPU_SETTLE_S", G_STRINGIFY(CPU_SETTLE_S)));
    if (b.n_real < 1 || b.n_real > 250 || b.rounds < 1 || b.size < b.n_real || cpu.window_s < 1) {
        fprintf(stderr,
                "usage: bench-lazy N_REAL(1-250) ROUNDS(>= 1) SIZE(>= N_REAL); "
                "WGM_BENCH_CPU_S >= 1\n");
        return 2;
    }
    n_turns = (b.rounds + LAZY_ROUNDS_A_TURN - 1) / LAZY_ROUNDS_A_TURN;
    if (!wgm_test_root_checks(&reason)) {
        fprintf(stderr, "bench-lazy: %s; skipped\n", reason);
        return 77;
    }
    /* The service inherits it: inactivity-timeout 1 s is allowed. */
    g_setenv("WGM_TEST_INACTIVITY_MIN", INACTIVITY, TRUE);

    printf("bench-lazy: %u real wireguard-go peers, %u rounds; then a lazy mesh of %u peers, "
           "CPU over %u s\n",
           b.n_real,
           b.rounds,
           b.size,
           cpu.window_s);
    fflush(stdout);
    /* --debug: it stays for the next Connect, and its log says what it did. */
    if (!bench_harness_start(&b.h, b.n_real, TRUE))
        goto out;

    /* Both sides start with the peers' link-layer addresses known: else the
     * first turn's lazy round alone would wait for ARP on every peer. */
    if (!warm_neighbours(&b))
        goto out;

    /* 1: lazy and eager in turns, LAZY_ROUNDS_A_TURN rounds each, so that
     * what else the machine does at the time weighs on both alike.  The
     * last Connect is also the small side of 2, "before". */
    for (guint turn = 1; turn <= n_turns; turn++) {
        guint    from   = order->len;
        guint    l_from = lazy.first->len, e_from = eager.first->len;
        MeshCost other = { 0 };
        gboolean ok;

        printf("turn %u of %u:\n", turn, n_turns);
        ok = bring_up(&b, b.n_real, turn == n_turns ? &small : &other)
             && run_lazy(&b, LAZY_ROUNDS_A_TURN, &lazy, again, order, &not_cold)
             && bench_tear_down(&b.h) && eager_start(&b)
             && run_eager(&b,
                          order,
                          from,
                          (guint)(1000 * g_array_index(again, double, again->len - 1)),
                          &eager);
        eager_stop(&b);
        g_clear_pointer(&other.fd_kinds, g_hash_table_unref);
        if (!ok)
            goto out;
        bench_add(turn_ratios,
                  median_from(lazy.first, l_from) / MAX(median_from(eager.first, e_from), 1e-3));
    }
    log       = wgm_test_service_get_log(b.h.service);
    replayed  = count_in(log, "traffic for the idle peer: replayed");
    recreated = count_in(log, "traffic for the idle peer: re-creating");
    g_clear_pointer(&log, g_free);

    /* 2 and 3, with peers that do not know us any more (see above). */
    for (guint i = 1; i <= b.n_real; i++) {
        if (!wgm_test_net_peer_restart(b.h.net, i, &error)) {
            bench_fail(&b.h, "restarting peer %u: %s", i, error->message);
            goto out;
        }
    }
    if (!bring_up(&b, b.size, &large) || !measure_cpu(&b, large.wg, &cpu))
        goto out;
    if (mesh_u32(&b, "PeersIdle") != b.size) {
        bench_fail(&b.h, "the peers did not all stay Idle through the CPU window");
        goto out;
    }
    if (!bench_tear_down(&b.h))
        goto out;
    /* The small one again, "after": what a Connect/Disconnect cycle leaves
     * behind shows apart from what the size costs. */
    if (!bring_up(&b, b.n_real, &again_small) || !bench_tear_down(&b.h))
        goto out;

    printf("\nlazy connections against %u real wireguard-go peers (netns + veth), "
           "inactivity-timeout " INACTIVITY " s\n",
           b.n_real);
    printf("1. first reply, `ping -c 1 -W 1` time= (ms)         mean   median      p90      min"
           "      max   lost\n");
    print_side("lazy: an Idle peer, woken by the packet", lazy.first, lazy.lost, lazy.tries);
    print_side(
        "eager: cold handshake (endpoint, no session)", eager.first, eager.lost, eager.tries);
    print_side("warm session, lazy mesh", lazy.warm, lazy.warm_lost, lazy.tries);
    print_side("warm session, eager", eager.warm, eager.warm_lost, eager.tries);
    printf("   ratio lazy/eager: median %.2fx, mean %.2fx (target <= 1.1x); first packets lost: "
           "lazy %u/%u, eager %u/%u\n",
           bench_quantile(lazy.first, 0.5) / MAX(bench_quantile(eager.first, 0.5), 1e-3),
           bench_mean(lazy.first) / MAX(bench_mean(eager.first), 1e-3),
           lazy.lost,
           lazy.tries,
           eager.lost,
           eager.tries);
    printf("   per turn (%u lazy rounds, then as many eager), median lazy/eager:",
           LAZY_ROUNDS_A_TURN);
    for (guint t = 0; t < turn_ratios->len; t++)
        printf(" %.2fx", g_array_index(turn_ratios, double, t));
    printf("\n");
    printf("   the service's log: %u wake-ups by replay, %u by re-creation; %u peers found with a "
           "session while Idle (not pinged); Idle again %.1f s (median) after a round\n",
           replayed,
           recreated,
           not_cold,
           bench_quantile(again, 0.5));
    {
        g_autofree char *c1 = g_strdup_printf("%u peers", small.peers);
        g_autofree char *c2 = g_strdup_printf("%u peers", large.peers);
        g_autofree char *c3 = g_strdup_printf("%u peers", again_small.peers);

        printf("2. lazy meshes, one service   %13s %13s %13s   ratio\n", c1, c2, c3);
        printf("   (one after the other)      %13s %13s %13s   %s/%s\n",
               "before",
               "then",
               "after",
               c2,
               c1);
    }
    printf("   service file descriptors   %13u %13u %13u   %.2fx (%.2fx against the mean of before "
           "and after)\n",
           small.fds,
           large.fds,
           again_small.fds,
           (double)large.fds / MAX(small.fds, 1),
           2.0 * large.fds / MAX(small.fds + again_small.fds, 1));
    fd_diff   = bench_proc_fd_kinds_diff(small.fd_kinds, large.fd_kinds);
    fd_cycles = bench_proc_fd_kinds_diff(small.fd_kinds, again_small.fd_kinds);
    if (*fd_diff || *fd_cycles)
        printf("   (file descriptors, before -> then: %s; before -> after: %s)\n",
               *fd_diff ? fd_diff : "the same",
               *fd_cycles ? fd_cycles : "the same");
    printf("   service RSS (MiB)          %13.1f %13.1f %13.1f   %.2fx\n",
           small.rss_kib / 1024.0,
           large.rss_kib / 1024.0,
           again_small.rss_kib / 1024.0,
           (double)large.rss_kib / MAX(small.rss_kib, 1));
    printf("   wireguard-go RSS (MiB)     %13.1f %13.1f %13.1f   %.2fx\n",
           small.wg_rss_kib / 1024.0,
           large.wg_rss_kib / 1024.0,
           again_small.wg_rss_kib / 1024.0,
           (double)large.wg_rss_kib / MAX(small.wg_rss_kib, 1));
    printf("   wireguard-go RSS, down     %13.1f %13.1f %13.1f   %.2fx\n",
           small.wg_rss_down_kib / 1024.0,
           large.wg_rss_down_kib / 1024.0,
           again_small.wg_rss_down_kib / 1024.0,
           (double)large.wg_rss_down_kib / MAX(small.wg_rss_down_kib, 1));
    printf("   Connect -> Config (s)      %13.2f %13.2f %13.2f\n",
           small.config_s,
           large.config_s,
           again_small.config_s);
    printf("   Connect -> all Idle (s)    %13.2f %13.2f %13.2f\n",
           small.idle_s,
           large.idle_s,
           again_small.idle_s);
    printf("3. CPU of the all-idle %u-peer lazy mesh over %u s, from %u s after every peer was "
           "Idle (%% of one core): service %.3f %%, wireguard-go %.3f %%, together %.3f %% "
           "(target < 0.5 %%); %u peers left Idle meanwhile\n",
           b.size,
           cpu.window_s,
           cpu.settle_s + SETTLE_MS / 1000,
           cpu.svc_pct,
           cpu.wg_pct,
           cpu.svc_pct + cpu.wg_pct,
           cpu.woken);
    printf("   by %u s slices:\n", CPU_SLICE_S);
    print_slices("service", cpu.svc_slices);
    print_slices("wireguard-go", cpu.wg_slices);
    printf("run time %.0f s\n", secs(g_get_monotonic_time() - t0));
    status = 0;
out:
    fflush(stdout);
    if (save_log && b.h.service) {
        g_autofree char *all = wgm_test_service_get_log(b.h.service);

        g_clear_error(&error);
        if (!g_file_set_contents(save_log, all, -1, &error))
            fprintf(stderr, "bench-lazy: %s\n", error->message);
    }
    if (b.h.net)
        eager_stop(&b);
    wgm_test_harness_clear(&b.h);
    side_free(&lazy);
    side_free(&eager);
    g_clear_pointer(&small.fd_kinds, g_hash_table_unref);
    g_clear_pointer(&large.fd_kinds, g_hash_table_unref);
    g_clear_pointer(&again_small.fd_kinds, g_hash_table_unref);
    cpu_clear(&cpu);
    return status;
}
