/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A big profile edited while it is up, measured in the real NetworkManager
 * of the e2e tests (tests/e2e/nm-sandbox.sh; root).  The profile holds the
 * sandbox's N_REAL real wireguard-go peers and made-up ones up to SIZE
 * (random keys; endpoints 10.212.x.y, which the sandbox's "world"
 * namespace does not route: it forwards only to its peers; allowed-ips
 * 10.78.x.y/32).  One run measures:
 *
 *   1. `nmcli connection import type wgmesh file` of a wg-quick file with
 *      SIZE peers against one with the N_REAL real peers only, and
 *      `nmcli connection export` of both; `wg-quick strip` must accept the
 *      big export with every peer;
 *   2. the big profile up (`nmcli connection up`) until every real peer is
 *      "connected" on D-Bus; then, ROUNDS times over:
 *        - `nmcli connection modify` of a made-up peer's endpoint, of the
 *          made-up peer whose keys sort last in vpn.data (NetworkManager's
 *          own work grows with that), and of a real peer's
 *          persistent-keepalive: from running nmcli to the service's
 *          `profile "big" edited: applied live` line (and from
 *          NetworkManager's audit line of the update to it), to nmcli
 *          returning, and to WireGuard (`wg show`) having the new value;
 *          the backend transaction (`peer set changed: N entries`); the CPU
 *          the service and NetworkManager spent meanwhile; the real peers
 *          the edit did not touch must keep their session (LatestHandshake
 *          on D-Bus and in `wg show`);
 *        - the full re-apply the edit saves: `nmcli connection down` and
 *          `up` of the same profile, until every real peer is connected
 *          again (the latest of their StateSince, the service's own clock),
 *          and the transaction at start (`applying N peers in one
 *          transaction`);
 *      and the ratio full re-apply / live edit.
 *
 * Times run from a `date +%s.%N` taken inside the sandbox right before the
 * nmcli command to the sandbox log's timestamps (the syslog sink's
 * time.time()), a second `date` in the same shell, or the service's
 * StateSince: the same wall clock, and spawning the shell does not count.
 * Nothing is asserted against a clock: the program fails only if something
 * did not work (an import refused, a peer never connected, an edit never
 * applied, an untouched peer's handshake moved).
 *
 *   bench-edit [N_REAL [SIZE [ROUNDS]]]     (default 3 300 3; meson: 3 300 5)
 *
 * WGM_BENCH_LOG=FILE: the sandbox's log (NetworkManager's and the
 * service's lines) is copied to FILE at the end.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-proc.h"
#include "bench-util.h"
#include "wgm-test-nm.h"
#include "wgm-test-util.h"
#include "wgm-test-vpn.h"

#define CONN_PREFIX   WGM_TEST_NM_VPN_SERVICE ".Connection_"
#define MESH          1
#define PROFILE       "big"
#define SMALL         "small"
#define UP_TIMEOUT_MS 60000
#define LOG_TIMEOUT_S 15
/* Between edits: the service takes NetworkManager's Updated signals within
 * 500 ms of its own secrets fetch for that fetch's (wgm-profile-watch.c). */
#define EDIT_GAP_MS 1500
/* "echo @t=<seconds since the epoch>" inside the sandbox; STAMP_FMT in a
 * printf format. */
#define STAMP     "echo @t=$(date +%s.%N)\n"
#define STAMP_FMT "echo @t=$(date +%%s.%%N)\n"

typedef struct {
    WgmTestNm  *nm;
    guint       n_real, size, rounds;
    GPtrArray  *keys;      /* every peer's public key, peer.1 first */
    GPtrArray  *endpoints; /* the same order */
    char       *bus_name;  /* the service of the active profile */
    char       *ifname;
    WgmTestVpn *vpn;
} Bench;

/* One full start of the profile. */
typedef struct {
    double total_s, down_s, up_s; /* down_s: 0 for the first up */
    guint  size, kicked;
    double apply_ms;
    double nm_cpu_ms, svc_cpu_ms; /* NetworkManager's meanwhile; the new service's */
} Start;

/* Of each edit: ms from running nmcli to the service's "applied live", of
 * which after NetworkManager saved the profile (its audit line), to nmcli
 * returning, to WireGuard having it; the transaction's entries; CPU ms of
 * the service and of NetworkManager meanwhile. */
typedef struct {
    GArray *live, *service, *nmcli, *wg, *size, *svc_cpu, *nm_cpu;
} Edits;

static void fail(Bench *b, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
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
    fprintf(stderr, "bench-edit: FAILED: %s\n", msg);
}

static Edits
edits_new(void)
{
    Edits e;

    e.live    = g_array_new(FALSE, FALSE, sizeof(double));
    e.service = g_array_new(FALSE, FALSE, sizeof(double));
    e.nmcli   = g_array_new(FALSE, FALSE, sizeof(double));
    e.wg      = g_array_new(FALSE, FALSE, sizeof(double));
    e.size    = g_array_new(FALSE, FALSE, sizeof(double));
    e.svc_cpu = g_array_new(FALSE, FALSE, sizeof(double));
    e.nm_cpu  = g_array_new(FALSE, FALSE, sizeof(double));
    return e;
}

static void
edits_clear(Edits *e)
{
    g_clear_pointer(&e->live, g_array_unref);
    g_clear_pointer(&e->service, g_array_unref);
    g_clear_pointer(&e->svc_cpu, g_array_unref);
    g_clear_pointer(&e->nm_cpu, g_array_unref);
    g_clear_pointer(&e->nmcli, g_array_unref);
    g_clear_pointer(&e->wg, g_array_unref);
    g_clear_pointer(&e->size, g_array_unref);
}

static char *
sandbox_file(Bench *b, const char *name)
{
    return g_build_filename(wgm_test_nm_get_dir(b->nm), name, NULL);
}

/* `sh -c SCRIPT` in the sandbox, "set -e"; the "@t=" lines its STAMPs
 * printed are appended to @stamps (seconds), the rest of its output goes
 * to @out_rest. */
static gboolean
run_stamped(Bench *b, const char *script, GArray *stamps, char **out_rest)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out    = NULL;
    g_auto(GStrv) lines     = NULL;
    GString *rest           = g_string_new(NULL);

    if (!wgm_test_nm_exec(b->nm, &out, &error, "set -e\n%s", script)) {
        fail(b, "in the sandbox: %s\n%s", script, error->message);
        g_string_free(rest, TRUE);
        return FALSE;
    }
    lines = g_strsplit(out, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "@t=")) {
            double t = g_ascii_strtod(lines[i] + 3, NULL);

            g_array_append_val(stamps, t);
        } else if (*lines[i])
            g_string_append_printf(rest, "%s\n", lines[i]);
    }
    if (out_rest)
        *out_rest = g_string_free(rest, FALSE);
    else
        g_string_free(rest, TRUE);
    return TRUE;
}

#define STAMP_AT(a, i) g_array_index((a), double, (i))

/* Waits until the sandbox's log since @mark holds @needle. */
static gboolean
log_wait(Bench *b, gsize mark, const char *needle, double *out_t, char **out_line)
{
    if (wgm_test_nm_log_wait(b->nm, mark, needle, LOG_TIMEOUT_S, out_t, out_line))
        return TRUE;
    fail(b, "no \"%s\" in the sandbox's log within %d s", needle, LOG_TIMEOUT_S);
    return FALSE;
}

/* utime + stime of @pid in ms, 0 if it is gone. */
static double
cpu_ms(GPid pid)
{
    gint64 ticks = pid > 0 ? bench_proc_cpu_ticks(pid) : -1;

    return ticks < 0 ? 0 : 1000.0 * (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* The service of the active profile, by its bus name (the sandbox has no
 * PID namespace of its own); 0 if unknown. */
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

/* ---- the wg-quick files ---- */

/* 32 random bytes, as WireGuard writes a public key. */
static char *
random_key(void)
{
    guint8 raw[32];

    for (guint i = 0; i < sizeof raw; i++)
        raw[i] = (guint8)g_random_int_range(0, 256);
    return g_base64_encode(raw, sizeof raw);
}

/* The mesh as a wg-quick file: the first @n_peers of b->keys. */
static char *
mesh_conf(Bench *b, guint n_peers)
{
    g_autofree char *address = wgm_test_nm_mesh_address(MESH);
    GString         *s       = g_string_new(NULL);

    g_string_append_printf(s,
                           "[Interface]\nPrivateKey = %s\nAddress = %s\nListenPort = %s\n",
                           wgm_test_nm_get_var(b->nm, "MESH_1_PRIVATE_KEY"),
                           address,
                           wgm_test_nm_get_var(b->nm, "MESH_1_LISTEN_PORT"));
    for (guint i = 0; i < n_peers; i++) {
        g_autofree char *allowed = i < b->n_real
                                       ? wgm_test_nm_peer_tunnel(MESH, i + 1)
                                       : g_strdup_printf("10.78.%u.%u", i / 250, i % 250 + 1);

        g_string_append_printf(s,
                               "\n[Peer]\n# Name = %s-%u\nPublicKey = %s\nEndpoint = %s\n"
                               "AllowedIPs = %s/32\n",
                               i < b->n_real ? "peer" : "made-up",
                               i + 1,
                               (char *)b->keys->pdata[i],
                               (char *)b->endpoints->pdata[i],
                               allowed);
    }
    return g_string_free(s, FALSE);
}

/* Import and export of @name.conf with @n_peers: ms into @import, @export. */
static gboolean
import_export(Bench *b, const char *name, guint n_peers, GArray *import, GArray *export)
{
    g_autofree char *conf     = mesh_conf(b, n_peers);
    g_autofree char *file     = g_strdup_printf("%s.conf", name);
    g_autofree char *out_file = g_strdup_printf("%s-out.conf", name);
    g_autofree char *path     = sandbox_file(b, file);
    g_autofree char *out_path = sandbox_file(b, out_file);
    g_autofree char *script   = NULL;
    g_autofree char *rest     = NULL;
    g_autofree char *text     = NULL;
    g_autoptr(GArray) t       = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GError) error   = NULL;
    guint n                   = 0;

    if (!g_file_set_contents_full(path, conf, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error)) {
        fail(b, "%s", error->message);
        return FALSE;
    }
    script = g_strdup_printf(STAMP_FMT "nmcli connection import type wgmesh file '%s'\n" STAMP_FMT
                                       "nmcli connection export '%s' '%s'\n" STAMP_FMT,
                             path,
                             name,
                             out_path);
    if (!run_stamped(b, script, t, &rest))
        return FALSE;
    if (t->len != 3 || !strstr(rest, "successfully added")) {
        fail(b, "import of %s: %s", path, rest);
        return FALSE;
    }
    bench_add(import, 1000 * (STAMP_AT(t, 1) - STAMP_AT(t, 0)));
    bench_add(export, 1000 * (STAMP_AT(t, 2) - STAMP_AT(t, 1)));
    if (!g_file_get_contents(out_path, &text, NULL, &error)) {
        fail(b, "the export: %s", error->message);
        return FALSE;
    }
    for (const char *p = text; (p = strstr(p, "[Peer]")); p++)
        n++;
    if (n != n_peers) {
        fail(b, "the export of %s has %u peers, not %u", name, n, n_peers);
        return FALSE;
    }
    return TRUE;
}

/* `wg-quick strip` of the big export: every peer's key, no Address. */
static gboolean
check_strip(Bench *b)
{
    g_autofree char *path   = sandbox_file(b, PROFILE "-out.conf");
    g_autofree char *out    = NULL;
    g_autoptr(GError) error = NULL;
    guint n                 = 0;

    if (!wgm_test_nm_exec(b->nm, &out, &error, "wg-quick strip '%s'", path)) {
        fail(b, "wg-quick strip %s: %s", path, error->message);
        return FALSE;
    }
    for (const char *p = out; (p = strstr(p, "\nPublicKey = ")); p++)
        n++;
    if (n != b->size || strstr(out, "Address")) {
        fail(b, "wg-quick strip %s: %u peers (not %u), or an Address left", path, n, b->size);
        return FALSE;
    }
    printf("   `wg-quick strip` of the %u-peer export: %u peers\n", b->size, n);
    return TRUE;
}

/* ---- up, and the full re-apply ---- */

static guint64
peer_u64(GHashTable *peers, const char *key, const char *prop)
{
    GVariant *props = g_hash_table_lookup(peers, key);
    guint64   v     = 0;

    if (props)
        g_variant_lookup(props, prop, "t", &v);
    return v;
}

/* The service NetworkManager started for the profile (not @old), found on
 * the bus, with its interface. */
static gboolean
attach(Bench *b, const char *old)
{
    g_autoptr(GError) error  = NULL;
    g_autoptr(GVariant) mesh = NULL;
    const char *ifname       = NULL;

    g_clear_pointer(&b->bus_name, g_free);
    g_clear_pointer(&b->vpn, wgm_test_vpn_free);
    g_clear_pointer(&b->ifname, g_free);
    for (gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC; !b->bus_name;) {
        g_autoptr(GPtrArray) names = wgm_test_nm_list_names(b->nm, CONN_PREFIX);

        for (guint i = 0; i < names->len && !b->bus_name; i++) {
            if (g_strcmp0(names->pdata[i], old) != 0)
                b->bus_name = g_strdup(names->pdata[i]);
        }
        if (!b->bus_name && g_get_monotonic_time() > end) {
            fail(b, "no " CONN_PREFIX "* on the bus 10 s after `nmcli connection up`");
            return FALSE;
        }
        if (!b->bus_name)
            g_usleep(50 * 1000);
    }
    b->vpn = wgm_test_vpn_new(wgm_test_nm_get_bus_address(b->nm), b->bus_name);
    mesh   = wgm_test_vpn_get_mesh(b->vpn, &error);
    if (!mesh || !g_variant_lookup(mesh, "Interface", "&s", &ifname) || !*ifname) {
        fail(b, "the Mesh's Interface: %s", error ? error->message : "none");
        return FALSE;
    }
    b->ifname = g_strdup(ifname);
    return TRUE;
}

/* `nmcli connection up` (after `down` if @down) of the big profile, until
 * every real peer is connected, with the start's transaction. */
static gboolean
start_profile(Bench *b, gboolean down, Start *s)
{
    g_autoptr(GArray) t        = g_array_new(FALSE, FALSE, sizeof(double));
    g_autofree char *old       = g_strdup(b->bus_name);
    g_autofree char *line      = NULL;
    g_autofree char *log       = NULL;
    g_autoptr(GHashTable) last = NULL;
    gsize       mark           = wgm_test_nm_log_mark(b->nm);
    GPid        nm             = wgm_test_nm_get_nm_pid(b->nm);
    double      nm_cpu         = cpu_ms(nm);
    guint64     connected      = 0;
    const char *p;

    if (!run_stamped(b,
                     down ? STAMP "nmcli connection down " PROFILE " >/dev/null\n" STAMP
                                  "nmcli connection up " PROFILE " >/dev/null\n" STAMP
                          : STAMP "nmcli connection up " PROFILE " >/dev/null\n" STAMP,
                     t,
                     NULL)
        || !attach(b, old))
        return FALSE;
    for (guint i = 0; i < b->n_real; i++) {
        g_clear_pointer(&last, g_hash_table_unref);
        last = wgm_test_vpn_wait_peer_state(b->vpn, b->keys->pdata[i], "connected", UP_TIMEOUT_MS);
        if (!last) {
            fail(b,
                 "peer-%u not connected %d s after `nmcli connection up`",
                 i + 1,
                 UP_TIMEOUT_MS / 1000);
            return FALSE;
        }
    }
    s->nm_cpu_ms  = cpu_ms(nm) - nm_cpu;
    s->svc_cpu_ms = cpu_ms(service_pid(b));
    for (guint i = 0; i < b->n_real; i++)
        connected = MAX(connected, peer_u64(last, b->keys->pdata[i], "StateSince"));
    s->total_s = connected / 1e6 - STAMP_AT(t, 0);
    s->down_s  = down ? STAMP_AT(t, 1) - STAMP_AT(t, 0) : 0;
    s->up_s    = connected / 1e6 - STAMP_AT(t, t->len - 2);
    if (!log_wait(b, mark, "peers in one transaction (", NULL, &line))
        return FALSE;
    p = strstr(line, "applying ");
    if (!p || sscanf(p, "applying %u peers in one transaction (%u", &s->size, &s->kicked) != 2) {
        fail(b, "not the start's transaction: %s", line);
        return FALSE;
    }
    log         = wgm_test_nm_log_since(b->nm, mark);
    p           = strstr(log, "peers in one transaction in ");
    s->apply_ms = p ? g_ascii_strtod(p + strlen("peers in one transaction in "), NULL) : 0;
    return TRUE;
}

/* ---- the live edits ---- */

/* WireGuard's latest handshake (s) of each real peer, from `wg show`. */
static GHashTable *
wg_handshakes(Bench *b)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out    = NULL;
    g_auto(GStrv) lines     = NULL;
    GHashTable *h           = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    if (!wgm_test_nm_exec(b->nm, &out, &error, "wg show %s latest-handshakes", b->ifname)) {
        fail(b, "wg show: %s", error->message);
        g_hash_table_unref(h);
        return NULL;
    }
    lines = g_strsplit(out, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(lines[i], "\t", 2);

        if (g_strv_length(f) == 2)
            g_hash_table_insert(
                h, g_strdup(f[0]), GSIZE_TO_POINTER(g_ascii_strtoull(f[1], NULL, 10)));
    }
    return h;
}

/*
 * `nmcli connection modify PROFILE +vpn.data peer.<@index>.<@field>=<@value>`
 * while up; then `wg show <if> <@wg_field>` must show @wg_value for the
 * peer.  The real peers other than @index keep their handshakes.
 */
static gboolean
edit(Bench      *b,
     guint       index,
     const char *field,
     const char *value,
     const char *wg_field,
     const char *wg_value,
     Edits      *e,
     guint      *n_checked)
{
    const char *key             = b->keys->pdata[index - 1];
    g_autoptr(GArray) t         = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GHashTable) wg0   = wg_handshakes(b);
    g_autoptr(GHashTable) wg1   = NULL;
    g_autoptr(GHashTable) dbus0 = NULL;
    g_autoptr(GHashTable) dbus1 = NULL;
    g_autoptr(GError) error     = NULL;
    g_autofree char *script     = NULL;
    g_autofree char *line       = NULL;
    g_autofree char *needle     = g_strdup_printf("profile \"%s\" edited: applied live", PROFILE);
    g_autofree char *log        = NULL;
    GPid             svc        = service_pid(b);
    GPid             nm         = wgm_test_nm_get_nm_pid(b->nm);
    double           svc_cpu = cpu_ms(svc), nm_cpu = cpu_ms(nm);
    double           applied = 0, saved = 0;
    guint            entries = 0;
    gsize            mark;
    const char      *p;

    dbus0 = wgm_test_vpn_get_peers(b->vpn, &error);
    if (!wg0 || !dbus0) {
        fail(b, "the peers before the edit: %s", error ? error->message : "wg show");
        return FALSE;
    }
    mark   = wgm_test_nm_log_mark(b->nm);
    script = g_strdup_printf(
        STAMP_FMT
        "nmcli connection modify " PROFILE " +vpn.data peer.%u.%s=%s\n" STAMP_FMT "n=0\n"
        "until wg show %s %s | awk -v k='%s' -v v='%s' '$1 == k && $2 == v { f = 1 } "
        "END { exit !f }'; do\n"
        "    n=$((n + 1)); [ $n -lt 3000 ] || { echo 'WireGuard never had it' >&2; exit 3; }\n"
        "    sleep 0.005\n"
        "done\n" STAMP_FMT,
        index,
        field,
        value,
        b->ifname,
        wg_field,
        key,
        wg_value);
    if (!run_stamped(b, script, t, NULL) || !log_wait(b, mark, needle, &applied, NULL)
        || !log_wait(b, mark, "peer set changed: ", NULL, &line))
        return FALSE;
    bench_add(e->svc_cpu, cpu_ms(svc) - svc_cpu);
    bench_add(e->nm_cpu, cpu_ms(nm) - nm_cpu);
    p = strstr(line, "peer set changed: ");
    sscanf(p, "peer set changed: %u entries", &entries);
    log = wgm_test_nm_log_since(b->nm, mark);
    if (!wgm_test_nm_log_find(log, "audit: op=\"connection-update\"", &saved, NULL)) {
        fail(b, "NetworkManager did not log the update of the profile");
        return FALSE;
    }
    bench_add(e->live, 1000 * (applied - STAMP_AT(t, 0)));
    bench_add(e->service, 1000 * (applied - saved));
    bench_add(e->nmcli, 1000 * (STAMP_AT(t, 1) - STAMP_AT(t, 0)));
    bench_add(e->wg, 1000 * (STAMP_AT(t, 2) - STAMP_AT(t, 0)));
    bench_add(e->size, entries);

    /* The untouched real peers kept their sessions. */
    wg1   = wg_handshakes(b);
    dbus1 = wgm_test_vpn_get_peers(b->vpn, &error);
    if (!wg1 || !dbus1) {
        fail(b, "the peers after the edit: %s", error ? error->message : "wg show");
        return FALSE;
    }
    for (guint i = 1; i <= b->n_real; i++) {
        const char *k  = b->keys->pdata[i - 1];
        guint64     d0 = peer_u64(dbus0, k, "LatestHandshake"),
                d1     = peer_u64(dbus1, k, "LatestHandshake");
        gpointer w0 = g_hash_table_lookup(wg0, k), w1 = g_hash_table_lookup(wg1, k);

        if (i == index)
            continue;
        if (d0 != d1 || w0 != w1 || !w0) {
            fail(b,
                 "peer-%u, untouched by the edit of peer.%u.%s, has a new handshake: D-Bus "
                 "%" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT ", wg show %zu -> %zu",
                 i,
                 index,
                 field,
                 d0,
                 d1,
                 GPOINTER_TO_SIZE(w0),
                 GPOINTER_TO_SIZE(w1));
            return FALSE;
        }
        (*n_checked)++;
    }
    return TRUE;
}

/* ---- results ---- */

static void
print_edits(const char *what, Edits *e)
{
    g_autofree char *size =
        g_strdup_printf("%.0f-%.0f", bench_quantile(e->size, 0), bench_quantile(e->size, 1));

    printf("   %-27s %5.0f (%4.0f-%4.0f) %9.0f %6.0f %6.0f %5s %8.0f %6.0f\n",
           what,
           bench_quantile(e->live, 0.5),
           bench_quantile(e->live, 0),
           bench_quantile(e->live, 1),
           bench_quantile(e->service, 0.5),
           bench_quantile(e->nmcli, 0.5),
           bench_quantile(e->wg, 0.5),
           size,
           bench_quantile(e->svc_cpu, 0.5),
           bench_quantile(e->nm_cpu, 0.5));
}

static void
print_ms(const char *what, GArray *small, GArray *big)
{
    printf("   %-10s %9.1f %9.1f   %6.2fx   (%u a side; %.1f-%.1f, %.1f-%.1f)\n",
           what,
           bench_quantile(small, 0.5),
           bench_quantile(big, 0.5),
           bench_quantile(big, 0.5) / MAX(bench_quantile(small, 0.5), 1e-3),
           small->len,
           bench_quantile(small, 0),
           bench_quantile(small, 1),
           bench_quantile(big, 0),
           bench_quantile(big, 1));
}

int
main(int argc, char *argv[])
{
    g_autofree char *reason        = NULL;
    g_autoptr(GError) error        = NULL;
    g_autoptr(GArray) imp_small    = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) imp_big      = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) exp_small    = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) exp_big      = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) full         = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) full_down    = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) full_up      = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) full_size    = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) full_apply   = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) full_nm_cpu  = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) full_svc_cpu = g_array_new(FALSE, FALSE, sizeof(double));
    Edits       ep = edits_new(), ka = edits_new(), lst = edits_new();
    guint       last_key  = 0;
    Bench       b         = { 0 };
    Start       first     = { 0 };
    guint       n_checked = 0;
    gint64      t0        = g_get_monotonic_time();
    int         status    = 1;
    const char *save_log  = g_getenv("WGM_BENCH_LOG");

    g_set_prgname("bench-edit");
    b.n_real = argc > 1 ? (guint)atoi(argv[1]) : 3;
    b.size   = argc > 2 ? (guint)atoi(argv[2]) : 300;
    b.rounds = argc > 3 ? (guint)atoi(argv[3]) : 3;
    if (b.n_real < 1 || b.n_real > 20 || b.size <= b.n_real || b.size > 10000 || b.rounds < 1) {
        fprintf(stderr, "usage: bench-edit [N_REAL(1-20) [SIZE(> N_REAL) [ROUNDS(>= 1)]]]\n");
        return 2;
    }
    if (!wgm_test_root_checks(&reason)) {
        fprintf(stderr, "bench-edit: %s; skipped\n", reason);
        return 77;
    }
    {
        static const char *const programs[] = { "NetworkManager", "nmcli", "wg", "wg-quick" };

        for (guint i = 0; i < G_N_ELEMENTS(programs); i++) {
            g_autofree char *path = g_find_program_in_path(programs[i]);

            if (!path) {
                fprintf(stderr, "bench-edit: `%s` not found; skipped\n", programs[i]);
                return 77;
            }
        }
    }
    if (!wgm_test_nm_require()) {
        fprintf(stderr, "bench-edit: the e2e sandbox cannot run here; skipped\n");
        return 77;
    }
    printf("bench-edit: a %u-peer profile (%u real wireguard-go peers, %u made up) in "
           "NetworkManager's sandbox, %u rounds\n",
           b.size,
           b.n_real,
           b.size - b.n_real,
           b.rounds);
    fflush(stdout);

    b.nm = wgm_test_nm_new(b.n_real, 1, &error);
    if (!b.nm) {
        fprintf(stderr, "bench-edit: FAILED: the sandbox: %s\n", error->message);
        goto out;
    }
    b.keys      = g_ptr_array_new_with_free_func(g_free);
    b.endpoints = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 1; i <= b.size; i++) {
        g_autofree char *k = g_strdup_printf("PEER_%u_PUBLIC_KEY", i);
        g_autofree char *e = g_strdup_printf("PEER_%u_ENDPOINT", i);

        if (i <= b.n_real) {
            g_ptr_array_add(b.keys, g_strdup(wgm_test_nm_get_var(b.nm, k)));
            g_ptr_array_add(b.endpoints, g_strdup(wgm_test_nm_get_var(b.nm, e)));
        } else {
            g_ptr_array_add(b.keys, random_key());
            g_ptr_array_add(b.endpoints,
                            g_strdup_printf("10.212.%u.%u:51820", i / 250, i % 250 + 1));
        }
    }

    /* NetworkManager's own work on an update grows with how far the first
     * changed vpn.data key sorts (measured: 0.3 s of its CPU for peer.100,
     * 1.1 s for peer.99 of 300), so one edit is of the made-up peer whose
     * keys sort last. */
    for (guint i = b.n_real + 1; i <= b.size; i++) {
        g_autofree char *a = g_strdup_printf("peer.%u.", i);
        g_autofree char *z = g_strdup_printf("peer.%u.", last_key);

        if (!last_key || strcmp(a, z) > 0)
            last_key = i;
    }

    /* 1: import and export, the small file and the big one in turns; the
     * big profile stays. */
    for (guint r = 1; r <= b.rounds; r++) {
        if (!import_export(&b, SMALL, b.n_real, imp_small, exp_small)
            || !import_export(&b, PROFILE, b.size, imp_big, exp_big))
            goto out;
        if (!wgm_test_nm_exec(b.nm,
                              NULL,
                              &error,
                              r < b.rounds ? "nmcli connection delete " SMALL " " PROFILE
                                           : "nmcli connection delete " SMALL)) {
            fail(&b, "nmcli connection delete: %s", error->message);
            goto out;
        }
    }

    /* 2: up, then edits and full re-applies in turns. */
    if (!start_profile(&b, FALSE, &first))
        goto out;
    printf("up: %u peers in one transaction (%u asked to handshake), applied in %.1f ms; all %u "
           "real peers connected %.2f s after `nmcli connection up`\n",
           first.size,
           first.kicked,
           first.apply_ms,
           b.n_real,
           first.total_s);
    fflush(stdout);
    for (guint r = 1; r <= b.rounds; r++) {
        guint            made_up   = b.n_real + r;
        g_autofree char *endpoint  = g_strdup_printf("10.213.0.%u:51820", r);
        g_autofree char *endpoint2 = g_strdup_printf("10.213.1.%u:51820", r);
        g_autofree char *ka_value  = g_strdup_printf("%u", 20 + r);
        Start            s         = { 0 };

        g_usleep(EDIT_GAP_MS * 1000);
        if (!edit(&b, made_up, "endpoint", endpoint, "endpoints", endpoint, &ep, &n_checked))
            goto out;
        g_usleep(EDIT_GAP_MS * 1000);
        if (!edit(&b, last_key, "endpoint", endpoint2, "endpoints", endpoint2, &lst, &n_checked))
            goto out;
        g_usleep(EDIT_GAP_MS * 1000);
        if (!edit(&b,
                  1,
                  "persistent-keepalive",
                  ka_value,
                  "persistent-keepalive",
                  ka_value,
                  &ka,
                  &n_checked))
            goto out;
        g_usleep(EDIT_GAP_MS * 1000);
        if (!start_profile(&b, TRUE, &s))
            goto out;
        bench_add(full, 1000 * s.total_s);
        bench_add(full_down, 1000 * s.down_s);
        bench_add(full_up, 1000 * s.up_s);
        bench_add(full_size, s.size);
        bench_add(full_apply, s.apply_ms);
        bench_add(full_nm_cpu, s.nm_cpu_ms);
        bench_add(full_svc_cpu, s.svc_cpu_ms);
        printf("round %u: edits live in %.0f, %.0f ms (endpoints), %.0f ms (keepalive); down + up "
               "%.0f ms\n",
               r,
               g_array_index(ep.live, double, ep.live->len - 1),
               g_array_index(lst.live, double, lst.live->len - 1),
               g_array_index(ka.live, double, ka.live->len - 1),
               1000 * s.total_s);
        fflush(stdout);
    }
    if (!wgm_test_nm_exec(b.nm, NULL, &error, "nmcli connection down " PROFILE)) {
        fail(&b, "nmcli connection down: %s", error->message);
        goto out;
    }

    printf("\nthe %u-peer profile while up, %u rounds: ms from running nmcli (median, and "
           "min-max)\n",
           b.size,
           b.rounds);
    printf("2. live edit, `nmcli connection modify`: the service's \"applied live\" (of which "
           "after NetworkManager saved the profile), nmcli returned, WireGuard has it; entries "
           "in the transaction; CPU ms of the service and NetworkManager meanwhile\n");
    printf("   %-27s %-17s %9s %6s %6s %5s %8s %6s\n",
           "",
           "applied live",
           "after NM",
           "nmcli",
           "in wg",
           "size",
           "CPU svc",
           "NM");
    {
        g_autofree char *a = g_strdup_printf("peer.%u.endpoint", b.n_real + 1);
        g_autofree char *z = g_strdup_printf("peer.%u.endpoint", last_key);

        print_edits(a, &ep);
        print_edits(z, &lst);
        print_edits("peer.1.persistent-keepalive", &ka);
    }
    printf("   (made-up peers' endpoints: peer.%u.. a round, and the peer whose keys sort last; "
           "a real peer's keepalive)\n",
           b.n_real + 1);
    printf("   full re-apply, `nmcli connection down` + `up`: all %u real peers connected "
           "%.0f (%.0f-%.0f; down %.0f, up -> connected %.0f)\n"
           "      transaction %.0f peers (applied in %.1f ms); CPU ms: new service %.0f, NM %.0f\n",
           b.n_real,
           bench_quantile(full, 0.5),
           bench_quantile(full, 0),
           bench_quantile(full, 1),
           bench_quantile(full_down, 0.5),
           bench_quantile(full_up, 0.5),
           bench_quantile(full_size, 0.5),
           bench_quantile(full_apply, 0.5),
           bench_quantile(full_svc_cpu, 0.5),
           bench_quantile(full_nm_cpu, 0.5));
    printf("   ratio full re-apply / live edit: %.2fx, %.2fx, %.2fx; transaction %.0f peers / "
           "%.0f entry\n",
           bench_quantile(full, 0.5) / MAX(bench_quantile(ep.live, 0.5), 1e-3),
           bench_quantile(full, 0.5) / MAX(bench_quantile(lst.live, 0.5), 1e-3),
           bench_quantile(full, 0.5) / MAX(bench_quantile(ka.live, 0.5), 1e-3),
           bench_quantile(full_size, 0.5),
           bench_quantile(ep.size, 0.5));
    printf("   untouched real peers' LatestHandshake (D-Bus and wg show) unchanged: %u/%u\n",
           n_checked,
           n_checked);
    printf("3. wg-quick files through nmcli (ms)   %u peers  %u peers   ratio\n", b.n_real, b.size);
    print_ms("import", imp_small, imp_big);
    print_ms("export", exp_small, exp_big);
    if (!check_strip(&b))
        goto out;
    printf("run time %.0f s\n", (g_get_monotonic_time() - t0) / 1e6);
    status = 0;
out:
    fflush(stdout);
    g_clear_error(&error);
    if (save_log && b.nm) {
        g_autofree char *log = wgm_test_nm_log_since(b.nm, 0);

        if (!g_file_set_contents(save_log, log, -1, &error))
            fprintf(stderr, "bench-edit: %s\n", error->message);
        g_clear_error(&error);
    }
    g_clear_pointer(&b.vpn, wgm_test_vpn_free);
    if (b.nm && !wgm_test_nm_stop(b.nm, &error)) {
        fprintf(stderr, "bench-edit: FAILED: %s\n", error->message);
        status = 1;
    }
    g_clear_pointer(&b.nm, wgm_test_nm_free);
    g_clear_pointer(&b.keys, g_ptr_array_unref);
    g_clear_pointer(&b.endpoints, g_ptr_array_unref);
    g_free(b.bus_name);
    g_free(b.ifname);
    edits_clear(&ep);
    edits_clear(&ka);
    edits_clear(&lst);
    return status;
}
