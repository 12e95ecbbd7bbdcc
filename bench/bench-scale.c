/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Large meshes through the real NetworkManager of the e2e tests
 * (tests/e2e/nm-sandbox.sh; root), issue 12's benchmark.  A mesh of SIZE
 * peers is the sandbox's one real wireguard-go peer (inline in the profile:
 * NetworkManager needs a gateway) and SIZE - 1 made-up ones (random keys;
 * endpoints 10.212.x.y:51820, which the sandbox's "world" namespace does
 * not route, so nothing leaves the sandbox; allowed IPs 10.77.x.y/32 inside
 * the mesh's 10.77.0.0/16).  For each SIZE (default 100 300 1000 10000):
 *
 *   1. up until all SIZE peers are configured in WireGuard, three ways:
 *      - bare `wg setconf` of the same peers to a fresh wireguard-go of this
 *        program's (started in the sandbox's namespaces, stopped by PID);
 *      - `wg-quick up` of the same peers (userspace:
 *        WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go; `wg-quick down`;
 *        MTU = 1420 as the service's default, Address 10.77.1.1/16: it
 *        adds no route, but checks each allowed IP with `ip route show`);
 *      - `nmcli connection up` of a profile whose made-up peers are in a
 *        network map (network-map=PATH, root's, mode 0644);
 *      and, up to 1,000 peers, the same peers inline in vpn.data (a keyfile
 *      loaded with `nmcli connection load`: from ~900 peers on vpn.data no
 *      longer fits one nmcli argument, so every inline size takes the same
 *      route).  A profile is "up" once nmcli has returned and the service
 *      has logged `applied N peers in one transaction` (polling `wg show`
 *      at 10,000 peers would cost wireguard-go ~22 ms a call, during the
 *      apply measured), checked by `wg show IF peers` having all N;
 *   2. the routes the service sends NetworkManager (its "IPv4 routes: N
 *      allowed IPs -> M routes" line) and what NetworkManager shows
 *      (`nmcli -g IP4.ROUTE`);
 * and NetworkManager's own activation of a profile with the one real peer
 * (3 rounds), the baseline the target adds to bare `wg setconf`.
 * At the largest SIZE, while its map profile is up:
 *   3. the service's VmHWM after up and after three full GetManagedObjects
 *      (`gdbus call` in the sandbox, each timed); then, idle, the CPU of the
 *      service and its wireguard-go and the service's PropertiesChanged
 *      (a match rule on the sandbox's bus) over WGM_BENCH_IDLE_S (60 s);
 *   4. EDITS rounds of one made-up peer's endpoint changed in the map
 *      (the new file written beside, then rename()d over the map inside
 *      the sandbox): from the rename to `wg show IF endpoints` having it,
 *      and the transaction's size (the service's "peer set changed: N
 *      entries"); against a full re-apply, `nmcli connection down` + `up`
 *      until every peer is configured again.
 *
 * Times run from a `date +%s.%N` taken inside the sandbox right before the
 * command to a second one, or to the sandbox log's timestamps (the same
 * wall clock).  Nothing is asserted against a clock: the program fails
 * only if something did not work.
 *
 *   bench-scale [SIZE...]                   (default 100 300 1000 10000)
 *
 * WGM_BENCH_IDLE_S: the idle window (default 60); WGM_BENCH_EDITS: map
 * edits (default 3); WGM_BENCH_DAT=FILE: up-times for bench/scale.gp;
 * WGM_BENCH_LOG=FILE: the sandbox's log is copied to FILE at the end.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench-proc.h"
#include "bench-scale.h"
#include "bench-util.h"
#include "wgm-test-nm.h"
#include "wgm-test-util.h"

/* One `up` through NetworkManager. */
typedef struct {
    double up_s;     /* from nmcli to every peer configured */
    double nmcli_s;  /* nmcli returned */
    double apply_ms; /* the service's own "applied ... in" */
    double nm_cpu_ms;
    guint  routes_in, routes_out, nm_routes;
} Up;

typedef struct {
    guint  size;
    double bare_s, bare_start_s, quick_s, map_s, inline_s, load_s;
    guint  bare_hwm_kib;
    Up     map, inl;
} Row;

void
fail(Bench *b, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    g_autofree char *log = b->nm ? wgm_test_nm_log_since(b->nm, 0) : NULL;
    va_list          ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (log) {
        gsize len = strlen(log);

        fprintf(
            stderr, "--- end of the sandbox's log ---\n%s\n", log + (len > 6000 ? len - 6000 : 0));
    }
    fprintf(stderr, "bench-scale: FAILED: %s\n", msg);
}

static double
cpu_ms(GPid pid)
{
    gint64 ticks = pid > 0 ? bench_proc_cpu_ticks(pid) : -1;

    return ticks < 0 ? 0 : 1000.0 * (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* `sh -c SCRIPT` in the sandbox, "set -e": the "@t=" lines its STAMPs
 * printed go to @stamps (seconds), "@key=value" lines to @vals. */
static gboolean
run(Bench *b, const char *script, GArray *stamps, GHashTable *vals)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out    = NULL;
    g_auto(GStrv) lines     = NULL;

    if (!wgm_test_nm_exec(b->nm, &out, &error, "set -e\n%s", script)) {
        fail(b, "in the sandbox: %s\n%s", script, error->message);
        return FALSE;
    }
    lines = g_strsplit(out, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        const char *eq = strchr(lines[i], '=');

        if (g_str_has_prefix(lines[i], "@t=")) {
            double t = g_ascii_strtod(lines[i] + 3, NULL);

            if (stamps)
                g_array_append_val(stamps, t);
        } else if (lines[i][0] == '@' && eq && vals)
            g_hash_table_insert(vals, g_strndup(lines[i] + 1, eq - lines[i] - 1), g_strdup(eq + 1));
    }
    return TRUE;
}

#define STAMP_AT(a, i) g_array_index((a), double, (i))

static GHashTable *
vals_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static guint
val_uint(GHashTable *vals, const char *key)
{
    const char *v = g_hash_table_lookup(vals, key);

    return v ? (guint)g_ascii_strtoull(v, NULL, 10) : 0;
}

/* Waits until the sandbox's log since @mark holds @needle. */
static gboolean
log_wait(Bench *b, gsize mark, const char *needle, double *out_t, char **out_line)
{
    if (wgm_test_nm_log_wait(b->nm, mark, needle, LOG_TIMEOUT_S, out_t, out_line))
        return TRUE;
    fail(b, "no \"%s\" in the sandbox's log within %d s", needle, LOG_TIMEOUT_S);
    return FALSE;
}

/* ---- the service ---- */

static GPid
service_pid(Bench *b)
{
    g_autoptr(GVariant) reply = NULL;
    guint32 pid               = 0;

    if (!b->bus_name)
        return 0;
    reply = g_dbus_connection_call_sync(wgm_test_nm_get_bus(b->nm),
                                        "org.freedesktop.DBus",
                                        "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus",
                                        "GetConnectionUnixProcessID",
                                        g_variant_new("(s)", b->bus_name),
                                        G_VARIANT_TYPE("(u)"),
                                        G_DBUS_CALL_FLAGS_NONE,
                                        5000,
                                        NULL,
                                        NULL);
    if (reply)
        g_variant_get(reply, "(u)", &pid);
    return (GPid)pid;
}

/* wireguard-go processes in the sandbox's namespace: "comm[pid]" -> pid. */
static GArray *
wg_go_pids(Bench *b)
{
    g_autoptr(GPtrArray) procs = wgm_test_nm_processes(b->nm, "wireguard-go");
    GArray *pids               = g_array_new(FALSE, FALSE, sizeof(GPid));

    for (guint i = 0; i < procs->len; i++) {
        const char *p   = strrchr(procs->pdata[i], '[');
        GPid        pid = p ? (GPid)atoi(p + 1) : 0;

        if (pid > 0)
            g_array_append_val(pids, pid);
    }
    return pids;
}

/* The service's own wireguard-go (its child), 0 if none. */
static GPid
service_wg_go(Bench *b, GPid svc)
{
    g_autoptr(GArray) pids = wg_go_pids(b);

    for (guint i = 0; i < pids->len; i++) {
        if (bench_proc_ppid(g_array_index(pids, GPid, i)) == svc)
            return g_array_index(pids, GPid, i);
    }
    return 0;
}

static gboolean
find_service(Bench *b)
{
    g_clear_pointer(&b->bus_name, g_free);
    for (gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC; !b->bus_name;) {
        g_autoptr(GPtrArray) names = wgm_test_nm_list_names(b->nm, CONN_PREFIX);

        if (names->len > 0)
            b->bus_name = g_strdup(names->pdata[0]);
        else if (g_get_monotonic_time() > end) {
            fail(b, "no " CONN_PREFIX "* on the bus");
            return FALSE;
        } else
            g_usleep(50 * 1000);
    }
    return TRUE;
}

/* ---- the three ways up ---- */

/* A shell loop: until `wg show $IF peers` has $1 peers (it is polled only
 * after the service said it applied them: one check, as a rule). */
#define WAIT_PEERS                                                                            \
    "wait_peers() {\n"                                                                        \
    "    n=0\n"                                                                               \
    "    until [ \"$(wg show \"$IF\" peers 2>/dev/null | wc -l)\" -ge \"$1\" ]; do\n"         \
    "        n=$((n + 1)); [ $n -lt 600 ] || { echo \"not $1 peers on $IF\" >&2; exit 3; }\n" \
    "        sleep 0.2\n"                                                                     \
    "    done\n"                                                                              \
    "}\n"

/* Bare: a wireguard-go of ours, `wg setconf`, stopped by its PID. */
static gboolean
up_bare(Bench *b, guint size, Row *row)
{
    g_autofree char *conf   = wg_conf(b, size, FALSE);
    g_autofree char *path   = sandbox_file(b, "bare.conf");
    g_autofree char *script = NULL;
    g_autoptr(GArray) t     = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GHashTable) v = vals_new();

    if (!write_file(b, path, conf, 0600))
        return FALSE;
    script =
        g_strdup_printf(STAMP_FMT "wireguard-go -f " BARE_IF " </dev/null >/dev/null 2>&1 &\n"
                                  "pid=$!\n"
                                  "n=0\n"
                                  "until [ -S /run/wireguard/" BARE_IF ".sock ]; do\n"
                                  "    kill -0 $pid\n"
                                  "    n=$((n + 1)); [ $n -lt 1000 ] || exit 4\n"
                                  "    sleep 0.01\n"
                                  "done\n" STAMP_FMT "wg setconf " BARE_IF " '%s'\n" STAMP_FMT
                                  "echo @count=$(wg show " BARE_IF " peers | wc -l)\n"
                                  "echo @hwm=$(awk '/^VmHWM/ { print $2 }' /proc/$pid/status)\n"
                                  "kill $pid\n"
                                  "wait $pid || true\n",
                        path);
    if (!run(b, script, t, v))
        return FALSE;
    if (val_uint(v, "count") != size) {
        fail(b, "wg setconf: %u peers, not %u", val_uint(v, "count"), size);
        return FALSE;
    }
    row->bare_start_s = STAMP_AT(t, 1) - STAMP_AT(t, 0);
    row->bare_s       = STAMP_AT(t, 2) - STAMP_AT(t, 1);
    row->bare_hwm_kib = val_uint(v, "hwm");
    return TRUE;
}

/* wg-quick up / down, userspace.  Its wireguard-go daemonizes; `down`
 * deletes the link, after which it exits; should it not, it is stopped by
 * the PID seen while up (one that was not there before). */
static gboolean
up_quick(Bench *b, guint size, Row *row)
{
    g_autofree char *conf   = wg_conf(b, size, TRUE);
    g_autofree char *path   = sandbox_file(b, QUICK_IF ".conf");
    g_autofree char *script = NULL;
    g_autoptr(GArray) t     = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GHashTable) v = vals_new();
    g_autoptr(GArray) pre   = wg_go_pids(b);
    g_autoptr(GArray) ours  = g_array_new(FALSE, FALSE, sizeof(GPid));
    g_autoptr(GArray) mid   = NULL;
    g_autoptr(GError) error = NULL;

    if (!write_file(b, path, conf, 0600))
        return FALSE;
    script =
        g_strdup_printf(STAMP_FMT "WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go "
                                  "wg-quick up '%s' >/dev/null 2>&1\n" STAMP_FMT
                                  "echo @count=$(wg show " QUICK_IF " peers | wc -l)\n"
                                  "echo @routes=$(ip -4 route show dev " QUICK_IF " | wc -l)\n",
                        path);
    if (!run(b, script, t, v))
        return FALSE;
    mid = wg_go_pids(b);
    for (guint i = 0; i < mid->len; i++) {
        GPid     pid   = g_array_index(mid, GPid, i);
        gboolean known = FALSE;

        for (guint j = 0; j < pre->len; j++)
            known = known || g_array_index(pre, GPid, j) == pid;
        if (!known)
            g_array_append_val(ours, pid);
    }
    if (!wgm_test_nm_exec(b->nm, NULL, &error, "wg-quick down '%s' >/dev/null 2>&1", path)) {
        fail(b, "wg-quick down: %s", error->message);
        return FALSE;
    }
    for (guint i = 0; i < ours->len; i++) {
        GPid pid = g_array_index(ours, GPid, i);

        for (guint n = 0; n < 100 && bench_proc_cpu_ticks(pid) >= 0; n++)
            g_usleep(20 * 1000);
        if (bench_proc_cpu_ticks(pid) >= 0) {
            fprintf(stderr, "bench-scale: wg-quick's wireguard-go %d left: stopped\n", pid);
            kill(pid, SIGTERM);
        }
    }
    if (val_uint(v, "count") != size) {
        fail(b, "wg-quick up: %u peers, not %u", val_uint(v, "count"), size);
        return FALSE;
    }
    row->quick_s = STAMP_AT(t, 1) - STAMP_AT(t, 0);
    return TRUE;
}

/* `nmcli connection up NAME` (after `down` if @down) until all @size peers
 * are configured; the routes the service sent. */
static gboolean
up_nm(Bench *b, const char *name, guint size, gboolean down, Up *u)
{
    g_autoptr(GArray) t     = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GHashTable) v = vals_new();
    g_autofree char *needle = g_strdup_printf("applied %u peers in one transaction in ", size);
    g_autofree char *line   = NULL;
    g_autofree char *script = NULL;
    g_autofree char *routes = NULL;
    g_autoptr(GError) error = NULL;
    gsize       mark        = wgm_test_nm_log_mark(b->nm);
    GPid        nm          = wgm_test_nm_get_nm_pid(b->nm);
    double      nm_cpu      = cpu_ms(nm);
    double      applied     = 0;
    const char *p;

    /* After `down`, the stamp before `up` is the second. */
    script = down
                 ? g_strdup_printf(STAMP_FMT "nmcli connection down %s >/dev/null\n" STAMP_FMT
                                             "nmcli connection up %s >/dev/null\n" STAMP_FMT,
                                   name,
                                   name)
                 : g_strdup_printf(STAMP_FMT "nmcli connection up %s >/dev/null\n" STAMP_FMT, name);
    if (!run(b, script, t, NULL) || !log_wait(b, mark, needle, &applied, &line))
        return FALSE;
    u->nm_cpu_ms = cpu_ms(nm) - nm_cpu;
    p            = strstr(line, needle);
    u->apply_ms  = g_ascii_strtod(p + strlen(needle), NULL);
    if (!find_service(b))
        return FALSE;
    g_clear_pointer(&b->ifname, g_free);
    {
        g_autofree char *out = NULL;

        if (!wgm_test_nm_exec(b->nm, &out, &error, "wg show interfaces")) {
            fail(b, "wg show interfaces: %s", error->message);
            return FALSE;
        }
        b->ifname = g_strdup(g_strstrip(out));
    }
    {
        g_autofree char *check = g_strdup_printf("IF=%s\n" WAIT_PEERS "wait_peers %u\n" STAMP_FMT
                                                 "echo @routes=$(nmcli -g IP4.ROUTE connection "
                                                 "show %s | tr '|' '\\n' | grep -c . || true)\n",
                                                 b->ifname,
                                                 size,
                                                 name);

        if (!run(b, check, t, v))
            return FALSE;
    }
    /* t: [down,] up, nmcli returned, peers checked. */
    u->nmcli_s   = STAMP_AT(t, t->len - 2) - STAMP_AT(t, 0);
    u->up_s      = MAX(STAMP_AT(t, t->len - 2), applied) - STAMP_AT(t, 0);
    u->nm_routes = val_uint(v, "routes");
    if (!log_wait(b, mark, "IPv4 routes: ", NULL, &routes))
        return FALSE;
    p = strstr(routes, "IPv4 routes: ");
    sscanf(p, "IPv4 routes: %u allowed IP%*s -> %u", &u->routes_in, &u->routes_out);
    return TRUE;
}

static gboolean
down_nm(Bench *b, const char *name)
{
    g_autoptr(GError) error = NULL;

    /* Until the service's wireguard-go is gone: the next measurement runs
     * on a quiet machine. */
    if (!wgm_test_nm_exec(b->nm,
                          NULL,
                          &error,
                          "nmcli connection down %s >/dev/null\n"
                          "n=0\n"
                          "while [ -n \"$(wg show interfaces)\" ]; do\n"
                          "    n=$((n + 1)); [ $n -lt 500 ] || exit 3\n"
                          "    sleep 0.02\n"
                          "done\n",
                          name)) {
        fail(b, "nmcli connection down %s: %s", name, error->message);
        return FALSE;
    }
    g_clear_pointer(&b->bus_name, g_free);
    return TRUE;
}

/* ---- at the largest size ---- */

static void
signal_cb(GDBusConnection *c,
          const char      *sender,
          const char      *path,
          const char      *iface,
          const char      *member,
          GVariant        *params,
          gpointer         user_data)
{
    (*(guint *)user_data)++;
}

typedef struct {
    guint  hwm_up_kib, hwm_gmo_kib, rss_gmo_kib, wg_rss_kib;
    double gmo_ms[3];
    gsize  gmo_bytes;
    double idle_s, svc_cpu, wg_cpu;
    guint  signals;
} Idle;

static gboolean
measure_idle(Bench *b, guint size, guint idle_s, Idle *r)
{
    GPid svc                = service_pid(b);
    GPid wg                 = service_wg_go(b, svc);
    g_autoptr(GArray) t     = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GHashTable) v = vals_new();
    g_autofree char *script = NULL;
    double           svc0, wg0;
    gint64           t0, end;
    guint            sub;

    if (!svc || !wg) {
        fail(b, "the service (%d) or its wireguard-go (%d) not found", svc, wg);
        return FALSE;
    }
    r->hwm_up_kib = bench_proc_hwm_kib(svc);
    script        = g_strdup_printf(
        "for i in 1 2 3; do\n" STAMP_FMT "    gdbus call --system --dest %s --object-path %s "
               "--method org.freedesktop.DBus.ObjectManager.GetManagedObjects >/run/gmo.out\n"
               "done\n" STAMP_FMT "echo @bytes=$(wc -c </run/gmo.out)\n"
               "echo @peers=$(grep -o \"'PublicKey'\" /run/gmo.out | wc -l)\n"
               "rm -f /run/gmo.out\n",
        b->bus_name,
        WGM_TEST_NM_MESH_PATH);
    if (!run(b, script, t, v))
        return FALSE;
    for (guint i = 0; i < 3; i++)
        r->gmo_ms[i] = 1000 * (STAMP_AT(t, i + 1) - STAMP_AT(t, i));
    r->gmo_bytes   = val_uint(v, "bytes");
    r->hwm_gmo_kib = bench_proc_hwm_kib(svc);
    r->rss_gmo_kib = bench_proc_rss_kib(svc);
    r->wg_rss_kib  = bench_proc_rss_kib(wg);
    if (val_uint(v, "peers") < size)
        fprintf(stderr,
                "bench-scale: GetManagedObjects: %u PublicKey properties, expected %u\n",
                val_uint(v, "peers"),
                size);

    g_usleep(5 * G_USEC_PER_SEC);
    sub = g_dbus_connection_signal_subscribe(wgm_test_nm_get_bus(b->nm),
                                             b->bus_name,
                                             "org.freedesktop.DBus.Properties",
                                             "PropertiesChanged",
                                             NULL,
                                             NULL,
                                             G_DBUS_SIGNAL_FLAGS_NONE,
                                             signal_cb,
                                             &r->signals,
                                             NULL);
    /* The match rule is in place once a round trip to the bus is done. */
    g_dbus_connection_call_sync(wgm_test_nm_get_bus(b->nm),
                                "org.freedesktop.DBus",
                                "/org/freedesktop/DBus",
                                "org.freedesktop.DBus",
                                "GetId",
                                NULL,
                                NULL,
                                G_DBUS_CALL_FLAGS_NONE,
                                5000,
                                NULL,
                                NULL);
    r->signals = 0;
    svc0       = cpu_ms(svc);
    wg0        = cpu_ms(wg);
    t0         = g_get_monotonic_time();
    end        = t0 + (gint64)idle_s * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end) {
        while (g_main_context_iteration(NULL, FALSE))
            ;
        g_usleep(50 * 1000);
    }
    while (g_main_context_iteration(NULL, FALSE))
        ;
    r->idle_s  = (g_get_monotonic_time() - t0) / 1e6;
    r->svc_cpu = (cpu_ms(svc) - svc0) / 10.0 / r->idle_s; /* % of a core */
    r->wg_cpu  = (cpu_ms(wg) - wg0) / 10.0 / r->idle_s;
    g_dbus_connection_signal_unsubscribe(wgm_test_nm_get_bus(b->nm), sub);
    return TRUE;
}

typedef struct {
    GArray *applied_ms, *wg_ms, *entries;
} Edits;

/* One made-up peer's endpoint changed in the map by rename(). */
static gboolean
edit_map(Bench *b, guint size, const char *map_path, guint round, Edits *e)
{
    guint            peer     = size / 2 + round;
    g_autofree char *endpoint = g_strdup_printf("10.213.0.%u:51820", round);
    g_autofree char *text     = map_conf(b, size, peer, endpoint);
    g_autofree char *next     = sandbox_file(b, "map-next.conf");
    g_autofree char *script   = NULL;
    g_autofree char *line     = NULL;
    g_autoptr(GArray) t       = g_array_new(FALSE, FALSE, sizeof(double));
    double applied            = 0;
    guint  entries            = 0;
    gsize  mark;

    /* Written outside the watched directory, then renamed over the map. */
    if (!write_file(b, next, text, 0644))
        return FALSE;
    mark   = wgm_test_nm_log_mark(b->nm);
    script = g_strdup_printf(STAMP_FMT "mv -f '%s' '%s'\n"
                                       "n=0\n"
                                       "until wg show %s endpoints | awk -v k='%s' -v v='%s' "
                                       "'$1 == k && $2 == v { f = 1 } END { exit !f }'; do\n"
                                       "    n=$((n + 1)); [ $n -lt 1500 ] || exit 3\n"
                                       "    sleep 0.01\n"
                                       "done\n" STAMP_FMT,
                             next,
                             map_path,
                             b->ifname,
                             (char *)b->keys->pdata[peer],
                             endpoint);
    if (!run(b, script, t, NULL) || !log_wait(b, mark, "changed: applied live", &applied, NULL)
        || !log_wait(b, mark, "peer set changed: ", NULL, &line))
        return FALSE;
    sscanf(strstr(line, "peer set changed: "), "peer set changed: %u", &entries);
    bench_add(e->applied_ms, 1000 * (applied - STAMP_AT(t, 0)));
    bench_add(e->wg_ms, 1000 * (STAMP_AT(t, 1) - STAMP_AT(t, 0)));
    bench_add(e->entries, entries);
    return TRUE;
}

/* ---- main ---- */

int
main(int argc, char *argv[])
{
    g_autofree char *reason = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GArray) one   = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) rows  = g_array_new(FALSE, TRUE, sizeof(Row));
    Edits       edits       = { g_array_new(FALSE, FALSE, sizeof(double)),
                                g_array_new(FALSE, FALSE, sizeof(double)),
                                g_array_new(FALSE, FALSE, sizeof(double)) };
    Bench       b           = { 0 };
    Idle        idle        = { 0 };
    Up          full        = { 0 };
    guint       max         = 0;
    guint       idle_s, n_edits;
    gint64      t0       = g_get_monotonic_time();
    int         status   = 1;
    const char *save_log = g_getenv("WGM_BENCH_LOG");
    const char *dat      = g_getenv("WGM_BENCH_DAT");

    g_set_prgname("bench-scale");
    for (int i = 1; i < argc; i++) {
        guint n = (guint)atoi(argv[i]);

        /* Increasing: each size's interfaces grow from the last one's. */
        if (n < 2 || n > 20000
            || (sizes->len && n <= g_array_index(sizes, guint, sizes->len - 1))) {
            fprintf(stderr, "usage: bench-scale [SIZE(2-20000), increasing...]\n");
            return 2;
        }
        g_array_append_val(sizes, n);
    }
    if (sizes->len == 0) {
        static const guint def[] = { 100, 300, 1000, 10000 };

        g_array_append_vals(sizes, def, G_N_ELEMENTS(def));
    }
    for (guint i = 0; i < sizes->len; i++)
        max = MAX(max, g_array_index(sizes, guint, i));
    idle_s  = (guint)atoi(wgm_test_getenv_or("WGM_BENCH_IDLE_S", "60"));
    n_edits = (guint)atoi(wgm_test_getenv_or("WGM_BENCH_EDITS", "3"));
    if (!wgm_test_root_checks(&reason)) {
        fprintf(stderr, "bench-scale: %s; skipped\n", reason);
        return 77;
    }
    {
        static const char *const programs[] = {
            "NetworkManager", "nmcli", "wg", "wg-quick", "wireguard-go"
        };

        for (guint i = 0; i < G_N_ELEMENTS(programs); i++) {
            g_autofree char *path = g_find_program_in_path(programs[i]);

            if (!path) {
                fprintf(stderr, "bench-scale: `%s` not found; skipped\n", programs[i]);
                return 77;
            }
        }
    }
    if (!wgm_test_nm_require()) {
        fprintf(stderr, "bench-scale: the e2e sandbox cannot run here; skipped\n");
        return 77;
    }
    printf("bench-scale: meshes of up to %u peers in NetworkManager's sandbox (1 real wireguard-go "
           "peer, the others made up); idle window %u s, %u map edits\n",
           max,
           idle_s,
           n_edits);
    fflush(stdout);

    b.nm = wgm_test_nm_new(1, 1, &error);
    if (!b.nm) {
        fprintf(stderr, "bench-scale: FAILED: the sandbox: %s\n", error->message);
        goto out;
    }
    b.keys      = g_ptr_array_new_with_free_func(g_free);
    b.endpoints = g_ptr_array_new_with_free_func(g_free);
    b.allowed   = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(b.keys, g_strdup(wgm_test_nm_get_var(b.nm, "PEER_1_PUBLIC_KEY")));
    g_ptr_array_add(b.endpoints, g_strdup(wgm_test_nm_get_var(b.nm, "PEER_1_ENDPOINT")));
    g_ptr_array_add(b.allowed, g_strdup("10.77.1.2/32"));
    for (guint i = 1; i < max; i++) {
        g_ptr_array_add(b.keys, random_key());
        g_ptr_array_add(b.endpoints, g_strdup_printf("10.212.%u.%u:51820", i / 250, i % 250 + 1));
        g_ptr_array_add(b.allowed, g_strdup_printf("10.77.%u.%u/32", 2 + i / 250, i % 250 + 1));
    }
    /* The maps in a directory of their own: the service watches the map's
     * directory, and the sandbox's own holds the busy log. */
    b.maps_dir = sandbox_file(&b, "maps");
    if (mkdir(b.maps_dir, 0755) != 0 || chmod(b.maps_dir, 0755) != 0) {
        fail(&b, "mkdir %s: %s", b.maps_dir, g_strerror(errno));
        goto out;
    }

    /* NetworkManager's own activation of the one real peer. */
    if (!add_profile(&b, "one", NULL))
        goto out;
    for (guint r = 0; r < ONE_ROUNDS; r++) {
        Up u = { 0 };

        if (!up_nm(&b, "one", 1, FALSE, &u) || !down_nm(&b, "one"))
            goto out;
        bench_add(one, u.up_s);
    }
    printf("NetworkManager, 1-peer profile: up in %.3f s (median of %u: %.3f-%.3f)\n",
           bench_quantile(one, 0.5),
           ONE_ROUNDS,
           bench_quantile(one, 0),
           bench_quantile(one, 1));
    fflush(stdout);

    for (guint s = 0; s < sizes->len; s++) {
        guint            size     = g_array_index(sizes, guint, s);
        g_autofree char *name     = g_strdup_printf("map-%u", size);
        g_autofree char *map_file = g_strdup_printf("%s/%s.conf", b.maps_dir, name);
        g_autofree char *map_text = map_conf(&b, size, 0, NULL);
        g_autofree char *extra    = g_strdup_printf(", network-map=%s", map_file);
        Row              row      = { .size = size };

        if (!up_bare(&b, size, &row) || !up_quick(&b, size, &row))
            goto out;
        if (!write_file(&b, map_file, map_text, 0644) || !add_profile(&b, name, extra)
            || !up_nm(&b, name, size, FALSE, &row.map))
            goto out;
        row.map_s = row.map.up_s;
        if (size == max) {
            if (!measure_idle(&b, size, idle_s, &idle))
                goto out;
            for (guint r = 1; r <= n_edits; r++) {
                g_usleep(G_USEC_PER_SEC);
                if (!edit_map(&b, size, map_file, r, &edits))
                    goto out;
            }
            g_usleep(G_USEC_PER_SEC);
            if (!up_nm(&b, name, size, TRUE, &full))
                goto out;
        }
        if (!down_nm(&b, name))
            goto out;

        if (size <= MAX_INLINE) {
            g_autofree char *iname = g_strdup_printf("inline-%u", size);
            g_autofree char *kf    = inline_keyfile(&b, iname, size);
            g_autofree char *kname =
                g_strdup_printf("etc-nm/system-connections/%s.nmconnection", iname);
            g_autofree char *kpath = sandbox_file(&b, kname);
            g_autofree char *load  = g_strdup_printf(
                STAMP_FMT "nmcli connection load "
                           "/etc/NetworkManager/system-connections/%s.nmconnection\n" STAMP_FMT,
                iname);
            g_autoptr(GArray) t = g_array_new(FALSE, FALSE, sizeof(double));

            if (!write_file(&b, kpath, kf, 0600) || !run(&b, load, t, NULL))
                goto out;
            row.load_s = STAMP_AT(t, 1) - STAMP_AT(t, 0);
            if (!up_nm(&b, iname, size, FALSE, &row.inl) || !down_nm(&b, iname))
                goto out;
            row.inline_s = row.inl.up_s;
        }
        g_array_append_val(rows, row);
        printf("%5u peers: wg setconf %.3f s, wg-quick up %.3f s, map %.3f s, inline %.3f s\n",
               size,
               row.bare_s,
               row.quick_s,
               row.map_s,
               row.inline_s);
        fflush(stdout);
    }

    {
        double base = bench_quantile(one, 0.5);

        printf(
            "\n1-2. up until every peer is configured (s); ratios to bare `wg setconf`; routes\n");
        printf("   %6s %10s %10s %10s %10s %12s %8s %8s %16s %10s\n",
               "peers",
               "setconf",
               "wg-quick",
               "nmcli+map",
               "inline",
               "(NM CPU s)",
               "quick/",
               "map/",
               "map/(setconf+NM1)",
               "routes");
        for (guint i = 0; i < rows->len; i++) {
            Row             *r = &g_array_index(rows, Row, i);
            g_autofree char *inl =
                r->inline_s > 0 ? g_strdup_printf("%.3f", r->inline_s) : g_strdup("-");
            g_autofree char *nmcpu =
                r->inline_s > 0
                    ? g_strdup_printf("%.1f/%.1f", r->map.nm_cpu_ms / 1000, r->inl.nm_cpu_ms / 1000)
                    : g_strdup_printf("%.1f", r->map.nm_cpu_ms / 1000);

            printf("   %6u %10.3f %10.3f %10.3f %10s %12s %7.1fx %7.1fx %15.2fx %4u->%u(%u)\n",
                   r->size,
                   r->bare_s,
                   r->quick_s,
                   r->map_s,
                   inl,
                   nmcpu,
                   r->quick_s / r->bare_s,
                   r->map_s / r->bare_s,
                   r->map_s / (r->bare_s + base),
                   r->map.routes_in,
                   r->map.routes_out,
                   r->map.nm_routes);
        }
        printf("   (NM1 = NetworkManager's 1-peer activation, %.3f s; routes: the service's "
               "allowed IPs -> routes (NetworkManager's IP4.ROUTE count))\n",
               base);
        for (guint i = 0; i < rows->len; i++) {
            Row *r = &g_array_index(rows, Row, i);

            printf("   %u peers: wireguard-go start %.3f s, its VmHWM after setconf %.1f MiB; "
                   "service's own apply %.0f ms; nmcli returned %.3f s",
                   r->size,
                   r->bare_start_s,
                   r->bare_hwm_kib / 1024.0,
                   r->map.apply_ms,
                   r->map.nmcli_s);
            if (r->inline_s > 0)
                printf("; inline: keyfile load %.3f s, up %.2fx the map",
                       r->load_s,
                       r->inline_s / r->map_s);
            printf("\n");
        }
        if (rows->len > 0) {
            Row   *r      = &g_array_index(rows, Row, rows->len - 1);
            double target = 1.2 * (r->bare_s + base);

            printf("   target (%u peers): up <= 1.2 x (setconf %.3f + NM1 %.3f) = %.3f s: %.3f s, "
                   "%s\n",
                   r->size,
                   r->bare_s,
                   base,
                   target,
                   r->map_s,
                   r->map_s <= target ? "MET" : "MISSED");
        }
        printf(
            "3. %u peers up: service VmHWM %.1f MiB after up, %.1f MiB after 3 GetManagedObjects "
            "(%.0f, %.0f, %.0f ms; %zu bytes as gdbus prints it), RSS then %.1f MiB (target "
            "VmHWM <= 48 MiB: %s); its wireguard-go RSS %.1f MiB\n",
            max,
            idle.hwm_up_kib / 1024.0,
            idle.hwm_gmo_kib / 1024.0,
            idle.gmo_ms[0],
            idle.gmo_ms[1],
            idle.gmo_ms[2],
            idle.gmo_bytes,
            idle.rss_gmo_kib / 1024.0,
            idle.hwm_gmo_kib <= 48 * 1024 ? "MET" : "MISSED",
            idle.wg_rss_kib / 1024.0);
        printf("   idle %.0f s: CPU service %.3f %% (target < 0.5 %%: %s), wireguard-go %.3f %%; "
               "PropertiesChanged %u = %.1f a minute = %.4f per peer per minute (target <= 1: "
               "%s)\n",
               idle.idle_s,
               idle.svc_cpu,
               idle.svc_cpu < 0.5 ? "MET" : "MISSED",
               idle.wg_cpu,
               idle.signals,
               idle.signals * 60.0 / idle.idle_s,
               idle.signals * 60.0 / idle.idle_s / max,
               idle.signals * 60.0 / idle.idle_s / max <= 1 ? "MET" : "MISSED");
        printf("4. one peer's endpoint edited in the %u-peer map (rename), %u rounds: applied live "
               "%.0f ms (%.0f-%.0f) after the rename, in `wg show` %.0f ms (%.0f-%.0f); "
               "transaction %.0f entries\n"
               "   full re-apply (nmcli down + up): %.3f s (NM CPU %.1f s), transaction %u peers; "
               "full / edit %.1fx\n",
               max,
               edits.wg_ms->len,
               bench_quantile(edits.applied_ms, 0.5),
               bench_quantile(edits.applied_ms, 0),
               bench_quantile(edits.applied_ms, 1),
               bench_quantile(edits.wg_ms, 0.5),
               bench_quantile(edits.wg_ms, 0),
               bench_quantile(edits.wg_ms, 1),
               bench_quantile(edits.entries, 0.5),
               full.up_s,
               full.nm_cpu_ms / 1000,
               max,
               1000 * full.up_s / MAX(bench_quantile(edits.wg_ms, 0.5), 1e-3));
    }
    if (dat) {
        GString *s = g_string_new("# peers setconf wg-quick nmcli+map inline (s); bench-scale\n");

        for (guint i = 0; i < rows->len; i++) {
            Row *r = &g_array_index(rows, Row, i);

            g_autofree char *inl =
                r->inline_s > 0 ? g_strdup_printf("%.4f", r->inline_s) : g_strdup("nan");

            g_string_append_printf(
                s, "%u %.4f %.4f %.4f %s\n", r->size, r->bare_s, r->quick_s, r->map_s, inl);
        }
        if (!g_file_set_contents(dat, s->str, -1, &error))
            fprintf(stderr, "bench-scale: %s\n", error->message);
        g_clear_error(&error);
        g_string_free(s, TRUE);
    }
    printf("run time %.0f s\n", (g_get_monotonic_time() - t0) / 1e6);
    status = 0;
out:
    fflush(stdout);
    g_clear_error(&error);
    if (save_log && b.nm) {
        g_autofree char *log = wgm_test_nm_log_since(b.nm, 0);

        if (!g_file_set_contents(save_log, log, -1, &error))
            fprintf(stderr, "bench-scale: %s\n", error->message);
        g_clear_error(&error);
    }
    if (b.nm && !wgm_test_nm_stop(b.nm, &error)) {
        fprintf(stderr, "bench-scale: FAILED: %s\n", error->message);
        status = 1;
    }
    g_clear_pointer(&b.nm, wgm_test_nm_free);
    g_clear_pointer(&b.keys, g_ptr_array_unref);
    g_clear_pointer(&b.endpoints, g_ptr_array_unref);
    g_clear_pointer(&b.allowed, g_ptr_array_unref);
    g_clear_pointer(&edits.applied_ms, g_array_unref);
    g_clear_pointer(&edits.wg_ms, g_array_unref);
    g_clear_pointer(&edits.entries, g_array_unref);
    g_free(b.maps_dir);
    g_free(b.bus_name);
    g_free(b.ifname);
    return status;
}
