/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * End to end (root): network changes reach the guard.  A real
 * NetworkManager 1.42 in a sandbox (tests/e2e/nm-sandbox.sh), the plugin
 * from the build tree, real wireguard-go peers, and a stand-in logind of
 * the test's own on the sandbox's system bus.
 *
 * One peer is cut off (the world router's end of its link goes down, with
 * pings going its way that it no longer answers) until the guard has found
 * it dead and backed off to steps more than WireGuard's 5 s REKEY_TIMEOUT
 * apart.  Between two steps it is let back, and then:
 *   - nothing happens: it comes back when WireGuard's own retransmission or
 *     the guard's next step gets through (printed, for comparison);
 *   - NetworkManager's uplink gets another address (nmcli device reapply):
 *     the peer must be connected within 1 s of nmcli returning;
 *   - logind says the host resumed (PrepareForSleep(false)): within 1 s of
 *     the signal.
 * Each in a block / unblock cycle of its own, one sandbox for all; a cycle
 * in which WireGuard's own retransmission, not the service, got the peer
 * back (told by LatestHandshake against LastNetworkChange) is repeated.
 * The mesh coming up, its own interface and the peer's link in another
 * namespace never count as a change: until the first deliberate event the
 * service logs no "network changed" line and LastNetworkChange stays 0.
 */
#include "config.h"

#include "wgm-test-nm.h"
#include "wgm-test-util.h"

#define CONN_PREFIX  WGM_TEST_NM_VPN_SERVICE ".Connection_"
#define PEER_IFACE   "org.freedesktop.NetworkManager.wgmesh.Peer"
#define MESH_IFACE   "org.freedesktop.NetworkManager.wgmesh.Mesh"
#define LOGIND_NAME  "org.freedesktop.login1"
#define LOGIND_PATH  "/org/freedesktop/login1"
#define LOGIND_IFACE "org.freedesktop.login1.Manager"

#define N_PEERS      3
#define BLOCKED_PEER 2
#define UPLINK       "uplink"
#define UPLINK_DEV   "wan0"
/* What the feature promises: connected this soon after the event. */
#define EVENT_BOUND_MS 1000
/* Steps of the guard longer than WireGuard's rhythm: it has backed off. */
#define BACKED_OFF_USEC (6 * G_USEC_PER_SEC)
/* The peer comes back this long after such a step, before the next one:
 * more than REKEY_TIMEOUT after the guard's kick, as most of a backed-off
 * peer's time is.  WireGuard, which retransmits an unanswered initiation by
 * itself every 5 s (plus up to 1/3 s), has just sent one of its own, so a
 * plain kick now would be dropped by its rate limit: only a retry that gets
 * past it connects the peer at once. */
#define LET_BACK_AFTER_STEP_USEC (5500 * G_TIME_SPAN_MILLISECOND)
/* Generous waits for a noisy 2-core machine. */
#define UP_TIMEOUT_MS        30000
#define DEAD_TIMEOUT_MS      60000
#define BACKOFF_TIMEOUT_MS   60000
#define RECONNECT_TIMEOUT_MS 30000
#define LOG_TIMEOUT_MS       5000
#define CALL_TIMEOUT_MS      10000
#define SETTLE_MS            3000
/* Unanswered pings (every 500 ms) the peer receives before it is cut off. */
#define PING_QUIET_MS 1200
/* A handshake the service's retry asked for completes within milliseconds
 * on these veths; this is generous for a loaded machine. */
#define RETRY_TO_HANDSHAKE_USEC (100 * G_TIME_SPAN_MILLISECOND)
/* WireGuard retransmits an unanswered initiation by itself every 5 s: one
 * of those may get the peer back before the service acts on the event, or
 * soon after a retry of the service's that did not: the cycle then proves
 * nothing either way and is repeated. */
#define MAX_TRIES 4

typedef enum {
    EVENT_NONE,
    EVENT_UPLINK,
    EVENT_RESUME,
} Event;

static const char *const event_names[] = { "nothing", "uplink address", "resume" };
/* What the service's "network changed (...)" line must name. */
static const char *const event_keys[] = { NULL, UPLINK_DEV, "resume" };

typedef struct {
    double event_ms;     /* from the event to State "connected", as seen on D-Bus */
    double service_ms;   /* ... to the service's StateSince */
    double handshake_ms; /* ... to the handshake (LatestHandshake) */
    double nmcli_ms;     /* how long the nmcli command itself took (EVENT_UPLINK) */
    double blocked_s;    /* how long the peer was cut off */
    double next_step_ms; /* the guard's own next step, from the event */
    guint  tries;
} Result;

typedef struct {
    WgmTestNm       *nm;
    GDBusConnection *bus;    /* the sandbox's bus, for reading the mesh */
    GDBusConnection *logind; /* the stand-in logind's own connection */
    char            *bus_name;
    char            *peer_path;
    const char      *peer_key; /* the blocked peer's public key */
    GSubprocess     *ping;
    guint            n_addresses; /* added to the uplink so far */
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    if (!wgm_test_nm_require())
        return;
    f->nm = wgm_test_nm_new(N_PEERS, 1, &error);
    g_assert_no_error(error);
    f->bus = wgm_test_nm_get_bus(f->nm);
}

static void
ping_stop(Fixture *f)
{
    if (!f->ping)
        return;
    /* Our own process, by its PID (nm-sandbox.sh, nsenter and sh exec). */
    g_subprocess_send_signal(f->ping, SIGTERM);
    g_subprocess_wait(f->ping, NULL, NULL);
    g_clear_object(&f->ping);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    if (!f->nm)
        return;
    ping_stop(f);
    if (f->logind) {
        g_dbus_connection_close_sync(f->logind, NULL, NULL);
        g_clear_object(&f->logind);
    }
    wgm_test_nm_stop(f->nm, &error);
    g_assert_no_error(error);
    g_clear_pointer(&f->nm, wgm_test_nm_free);
    g_clear_pointer(&f->bus_name, g_free);
    g_clear_pointer(&f->peer_path, g_free);
}

/* ---- the stand-in logind ---- */

/* Owns org.freedesktop.login1 on the sandbox's bus, over a connection of
 * its own; the service only listens for its PrepareForSleep signal. */
static void
logind_start(Fixture *f)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(GVariant) reply = NULL;
    guint32 result;

    f->logind = wgm_test_dbus_connect(wgm_test_nm_get_bus_address(f->nm), &error);
    g_assert_no_error(error);
    reply = g_dbus_connection_call_sync(f->logind,
                                        "org.freedesktop.DBus",
                                        "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus",
                                        "RequestName",
                                        g_variant_new("(su)", LOGIND_NAME, 4 /* DO_NOT_QUEUE */),
                                        G_VARIANT_TYPE("(u)"),
                                        G_DBUS_CALL_FLAGS_NONE,
                                        CALL_TIMEOUT_MS,
                                        NULL,
                                        &error);
    g_assert_no_error(error);
    g_variant_get(reply, "(u)", &result);
    g_assert_cmpuint(result, ==, 1 /* PRIMARY_OWNER */);
}

static void
logind_prepare_for_sleep(Fixture *f, gboolean sleeping)
{
    g_autoptr(GError) error = NULL;

    g_dbus_connection_emit_signal(f->logind,
                                  NULL,
                                  LOGIND_PATH,
                                  LOGIND_IFACE,
                                  "PrepareForSleep",
                                  g_variant_new("(b)", sleeping),
                                  &error);
    g_assert_no_error(error);
    g_dbus_connection_flush_sync(f->logind, NULL, &error);
    g_assert_no_error(error);
}

/* ---- the mesh, read over D-Bus ---- */

static GVariant *
get_property(Fixture *f, const char *path, const char *iface, const char *name)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(GVariant) reply = NULL;
    GVariant *value;

    reply = g_dbus_connection_call_sync(f->bus,
                                        f->bus_name,
                                        path,
                                        "org.freedesktop.DBus.Properties",
                                        "Get",
                                        g_variant_new("(ss)", iface, name),
                                        G_VARIANT_TYPE("(v)"),
                                        G_DBUS_CALL_FLAGS_NONE,
                                        CALL_TIMEOUT_MS,
                                        NULL,
                                        &error);
    g_assert_no_error(error);
    g_variant_get(reply, "(v)", &value);
    return value;
}

static char *
peer_state(Fixture *f)
{
    g_autoptr(GVariant) v = get_property(f, f->peer_path, PEER_IFACE, "State");

    return g_variant_dup_string(v, NULL);
}

static guint64
peer_u64(Fixture *f, const char *name)
{
    g_autoptr(GVariant) v = get_property(f, f->peer_path, PEER_IFACE, name);

    return g_variant_get_uint64(v);
}

static guint32
peer_u32(Fixture *f, const char *name)
{
    g_autoptr(GVariant) v = get_property(f, f->peer_path, PEER_IFACE, name);

    return g_variant_get_uint32(v);
}

static guint64
last_network_change(Fixture *f)
{
    g_autoptr(GVariant) v = get_property(f, WGM_TEST_NM_MESH_PATH, MESH_IFACE, "LastNetworkChange");

    return g_variant_get_uint64(v);
}

/* Every peer's State, and the object path of the one with @public_key. */
static gboolean
all_connected(Fixture *f, const char *public_key, char **out_path)
{
    g_autoptr(GError) error     = NULL;
    g_autoptr(GVariant) reply   = NULL;
    g_autoptr(GVariant) objects = NULL;
    GVariantIter iter;
    GVariant    *ifaces;
    const char  *path;
    guint        n = 0, connected = 0;

    reply = g_dbus_connection_call_sync(f->bus,
                                        f->bus_name,
                                        WGM_TEST_NM_MESH_PATH,
                                        "org.freedesktop.DBus.ObjectManager",
                                        "GetManagedObjects",
                                        NULL,
                                        G_VARIANT_TYPE("(a{oa{sa{sv}}})"),
                                        G_DBUS_CALL_FLAGS_NONE,
                                        CALL_TIMEOUT_MS,
                                        NULL,
                                        &error);
    if (!reply)
        return FALSE;
    objects = g_variant_get_child_value(reply, 0);
    g_variant_iter_init(&iter, objects);
    while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
        g_autoptr(GVariant) props = g_variant_lookup_value(ifaces, PEER_IFACE, NULL);
        const char *state = NULL, *key = NULL;

        g_variant_unref(ifaces);
        if (!props)
            continue;
        n++;
        if (g_variant_lookup(props, "State", "&s", &state) && g_str_equal(state, "connected"))
            connected++;
        if (g_variant_lookup(props, "PublicKey", "&s", &key) && g_str_equal(key, public_key)) {
            g_free(*out_path);
            *out_path = g_strdup(path);
        }
    }
    return n == N_PEERS && connected == N_PEERS && *out_path;
}

/* ---- the sandbox's log ---- */

/* The first line after @mark of the plugin ("nm-wgmesh[PID]: ") that
 * contains @what, or NULL. */
static char *
plugin_log_line(Fixture *f, gsize mark, const char *what)
{
    g_autofree char *log = wgm_test_nm_log_since(f->nm, mark);
    g_auto(GStrv) lines  = g_strsplit(log, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        if (strstr(lines[i], "nm-wgmesh[") && strstr(lines[i], what))
            return g_strdup(lines[i]);
    }
    return NULL;
}

static char *
wait_log_line(Fixture *f, gsize mark, const char *what)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)LOG_TIMEOUT_MS * 1000;

    for (;;) {
        char *line = plugin_log_line(f, mark, what);

        if (line || g_get_monotonic_time() > deadline)
            return line;
        g_usleep(20 * 1000);
    }
}

/* The sink's stamp of a line, "<level> [seconds.frac] ...": realtime usec. */
static gint64
log_line_time(const char *line)
{
    const char *open = strchr(line, '[');

    g_assert_nonnull(open);
    return (gint64)(g_ascii_strtod(open + 1, NULL) * G_USEC_PER_SEC);
}

/* Nothing since @mark counted as a network change.  A failure, but not
 * fatal: the measurements that follow still say whether events work. */
static gboolean
check_quiet(Fixture *f, gsize mark, const char *when)
{
    g_autofree char *log = wgm_test_nm_log_since(f->nm, mark);
    g_auto(GStrv) lines  = g_strsplit(log, "\n", -1);
    guint n              = 0;

    for (guint i = 0; lines[i]; i++) {
        if (strstr(lines[i], "nm-wgmesh[") && strstr(lines[i], "network changed")) {
            g_test_message("%s: %s", when, lines[i]);
            n++;
        }
    }
    if (n)
        g_test_fail_printf("%s, the service saw a network change (%u lines above)", when, n);
    return n == 0;
}

/* What the plugin logged since @mark about the peer with @key, and the
 * network changes it saw. */
static void
print_plugin_log(Fixture *f, gsize mark, const char *key)
{
    g_autofree char *log       = wgm_test_nm_log_since(f->nm, mark);
    g_autofree char *short_key = g_strdup_printf("peer[%.8s", key);
    g_auto(GStrv) lines        = g_strsplit(log, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        const char *msg = strstr(lines[i], "nm-wgmesh[");

        if (msg && (strstr(msg, short_key) || strstr(msg, "network changed (")))
            g_test_message("  | %s", lines[i]);
    }
}

/* ---- bringing the mesh up ---- */

static void
add_profile(Fixture *f, const char *name)
{
    g_autofree char *data = wgm_test_nm_vpn_data(f->nm, 1);
    g_autofree char *secret =
        g_strdup_printf("private-key=%s", wgm_test_nm_get_var(f->nm, "MESH_1_PRIVATE_KEY"));
    g_autofree char *q_data   = g_shell_quote(data);
    g_autofree char *q_secret = g_shell_quote(secret);
    g_autoptr(GError) error   = NULL;

    wgm_test_nm_exec(f->nm,
                     NULL,
                     &error,
                     "nmcli connection add type vpn con-name %s vpn-type %s vpn.data %s "
                     "vpn.secrets %s",
                     name,
                     WGM_TEST_NM_VPN_SERVICE,
                     q_data,
                     q_secret);
    g_assert_no_error(error);
}

/* nmcli connection up, then every peer connected; sets the plugin's bus
 * name and the blocked peer's object path. */
static void
bring_up(Fixture *f, const char *name)
{
    g_autoptr(GPtrArray) before = wgm_test_nm_list_names(f->nm, CONN_PREFIX);
    g_autoptr(GPtrArray) after  = NULL;
    g_autoptr(GError) error     = NULL;
    g_autofree char *var        = g_strdup_printf("PEER_%u_PUBLIC_KEY", BLOCKED_PEER);
    gint64           t0         = g_get_monotonic_time();
    gint64           deadline   = t0 + (gint64)UP_TIMEOUT_MS * 1000;

    wgm_test_nm_exec(f->nm, NULL, &error, "nmcli connection up %s", name);
    g_assert_no_error(error);
    after = wgm_test_nm_list_names(f->nm, CONN_PREFIX);
    for (guint i = 0; i < after->len && !f->bus_name; i++) {
        gboolean old = FALSE;

        for (guint j = 0; j < before->len; j++)
            old = old || g_str_equal(after->pdata[i], before->pdata[j]);
        if (!old)
            f->bus_name = g_strdup(after->pdata[i]);
    }
    g_assert_nonnull(f->bus_name);
    f->peer_key = wgm_test_nm_get_var(f->nm, var);
    while (!all_connected(f, f->peer_key, &f->peer_path)) {
        if (g_get_monotonic_time() > deadline)
            g_error("%s: not every peer connected %u ms after nmcli connection up",
                    name,
                    UP_TIMEOUT_MS);
        g_usleep(50 * 1000);
    }
    g_test_message("%s is up on %s: all %u peers connected %.0f ms after nmcli connection up; "
                   "peer-%u is %s",
                   name,
                   f->bus_name,
                   N_PEERS,
                   (g_get_monotonic_time() - t0) / 1000.0,
                   BLOCKED_PEER,
                   f->peer_path);
}

/* Pings toward the blocked peer, all along: traffic without replies is how
 * the guard finds a Connected peer dead. */
static void
ping_start(Fixture *f)
{
    g_autofree char *addr   = wgm_test_nm_peer_tunnel(1, BLOCKED_PEER);
    g_autoptr(GError) error = NULL;

    f->ping = wgm_test_nm_spawn(f->nm, &error, "exec ping -n -q -i 0.5 %s", addr);
    g_assert_no_error(error);
}

/* ---- cutting the peer off and letting it back ---- */

/*
 * The peer's cable is pulled at the switch: the world router's end of its
 * veth goes down.  The world then has no route to the peer and drops what
 * comes for it at once.  With only the peer's own end down, the world keeps
 * its route and queues packets for the peer while it tries ARP, for up to
 * 3 s, and delivers them when the link comes back: a stale handshake
 * initiation makes a reconnection nobody asked for, or arrives back to back
 * with the fresh one of a re-created peer, whose answer then goes missing
 * (seen here: the peer answered only WireGuard's next retransmission).
 */
static void
set_peer_link(Fixture *f, const char *state)
{
    g_autofree char *dev    = g_strdup_printf("p%u", BLOCKED_PEER);
    const char      *world  = wgm_test_nm_get_var(f->nm, "NS_WORLD");
    const char      *argv[] = { "ip", "-n", world, "link", "set", dev, state, NULL };
    g_autoptr(GError) error = NULL;

    wgm_test_run(argv, NULL, &error);
    g_assert_no_error(error);
}

/*
 * The peer stops answering pings a moment before it is cut off, and starts
 * again once it is back.  Its last reply would otherwise still await an
 * answer when the cut comes, and WireGuard on the peer, having sent data
 * and heard nothing for 15 s, would initiate handshakes of its own every
 * 5 s: a second source of reconnections that are no one's doing here.  An
 * unanswered ping it received clears that (any packet from the mesh does);
 * the peer then only ever answers the mesh's initiations.
 */
static void
set_peer_answers_pings(Fixture *f, gboolean answer)
{
    g_autofree char *var = g_strdup_printf("PEER_%u_NS", BLOCKED_PEER);
    g_autofree char *script =
        g_strdup_printf("echo %d >/proc/sys/net/ipv4/icmp_echo_ignore_all", answer ? 0 : 1);
    const char *ns          = wgm_test_nm_get_var(f->nm, var);
    const char *argv[]      = { "ip", "netns", "exec", ns, "sh", "-c", script, NULL };
    g_autoptr(GError) error = NULL;

    wgm_test_run(argv, NULL, &error);
    g_assert_no_error(error);
}

static void
wait_state(Fixture *f, const char *state, guint timeout_ms, const char *why)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        g_autofree char *now = peer_state(f);

        if (g_str_equal(now, state))
            return;
        if (g_get_monotonic_time() > deadline)
            g_error("peer-%u still %s %u ms after %s", BLOCKED_PEER, now, timeout_ms, why);
        g_usleep(100 * 1000);
    }
}

/* Until the guard's NextRetry jumps by BACKED_OFF_USEC or more: a step just
 * ran and the next is that far away.  Returns how long that took; the
 * step's moment (monotonic, as seen here) in @out_step and the next step
 * (realtime) in @out_next. */
static double
wait_backed_off(Fixture *f, gint64 *out_step, gint64 *out_next)
{
    gint64  t0       = g_get_monotonic_time();
    gint64  deadline = t0 + (gint64)BACKOFF_TIMEOUT_MS * 1000;
    guint64 prev     = peer_u64(f, "NextRetry");

    for (;;) {
        g_autofree char *state = peer_state(f);
        guint64          next  = peer_u64(f, "NextRetry");

        g_assert_cmpstr(state, ==, "connecting");
        if (prev && next > prev && next - prev >= BACKED_OFF_USEC) {
            g_test_message("peer-%u: the guard's next step is %.1f s after the last one "
                           "(%u attempts so far)",
                           BLOCKED_PEER,
                           (next - prev) / 1e6,
                           peer_u32(f, "Attempts"));
            *out_step = g_get_monotonic_time();
            *out_next = (gint64)next;
            return (*out_step - t0) / 1e6;
        }
        if (g_get_monotonic_time() > deadline)
            g_error("peer-%u: the guard did not back off to %.0f s steps in %u ms",
                    BLOCKED_PEER,
                    BACKED_OFF_USEC / 1e6,
                    BACKOFF_TIMEOUT_MS);
        if (next)
            prev = next;
        g_usleep(50 * 1000);
    }
}

/* ---- one case ---- */

typedef struct {
    gint64 start;      /* monotonic: the command began */
    gint64 start_real; /* the same, realtime */
    gint64 at;         /* monotonic: the event (the command returned) */
    gint64 at_real;    /* the same, realtime */
} Moment;

/* Makes the event happen (nothing for EVENT_NONE: the peer was just let
 * back) and says when. */
static void
make_event(Fixture *f, Event event, Moment *m)
{
    g_autoptr(GError) error = NULL;

    m->start      = g_get_monotonic_time();
    m->start_real = g_get_real_time();
    switch (event) {
    case EVENT_NONE:
        break;
    case EVENT_UPLINK:
        wgm_test_nm_exec(f->nm, NULL, &error, "nmcli device reapply " UPLINK_DEV);
        g_assert_no_error(error);
        break;
    case EVENT_RESUME:
        logind_prepare_for_sleep(f, FALSE);
        break;
    }
    m->at      = g_get_monotonic_time();
    m->at_real = g_get_real_time();
}

/* One block / unblock cycle; FALSE if WireGuard's own retransmission got
 * the peer back before the service could act on the event. */
static gboolean
run_cycle(Fixture *f, Event event, Result *r)
{
    g_autofree char *line    = NULL;
    g_autofree char *now     = NULL;
    gsize            mark    = wgm_test_nm_log_mark(f->nm);
    guint64          before  = last_network_change(f);
    gint64           t_block = g_get_monotonic_time();
    gint64           deadline, t_connected, handshake, since, changed, last;
    gint64           t_step, next_step;
    double           dead_s, backoff_s;
    gsize            mark_unblock;
    Moment           m;

    set_peer_answers_pings(f, FALSE);
    g_usleep(PING_QUIET_MS * 1000);
    set_peer_link(f, "down");
    if (event == EVENT_RESUME)
        logind_prepare_for_sleep(f, TRUE); /* going to sleep is no change yet */
    wait_state(f, "connecting", DEAD_TIMEOUT_MS, "its link went down");
    dead_s    = (g_get_monotonic_time() - t_block) / 1e6;
    backoff_s = wait_backed_off(f, &t_step, &next_step);
    if (event == EVENT_UPLINK) {
        g_autoptr(GError) error = NULL;

        /* Only the profile: the device changes with the reapply. */
        f->n_addresses++;
        wgm_test_nm_exec(f->nm,
                         NULL,
                         &error,
                         "nmcli connection modify " UPLINK " +ipv4.addresses 10.210.0.%u/24",
                         10 + f->n_addresses);
        g_assert_no_error(error);
    }
    if (check_quiet(f, mark, "while the peer was cut off"))
        g_assert_cmpuint(last_network_change(f), ==, before);
    before = last_network_change(f);

    /* Between two steps, more than REKEY_TIMEOUT after the last one. */
    if (g_get_monotonic_time() < t_step + LET_BACK_AFTER_STEP_USEC)
        g_usleep(t_step + LET_BACK_AFTER_STEP_USEC - g_get_monotonic_time());

    mark_unblock = wgm_test_nm_log_mark(f->nm);
    set_peer_link(f, "up");
    r->blocked_s = (g_get_monotonic_time() - t_block) / 1e6;
    make_event(f, event, &m);
    r->next_step_ms = (next_step - m.at_real) / 1000.0;
    r->nmcli_ms     = (m.at - m.start) / 1000.0;

    deadline = m.at + (gint64)RECONNECT_TIMEOUT_MS * 1000;
    for (;;) {
        g_free(now);
        now         = peer_state(f);
        t_connected = g_get_monotonic_time();
        if (g_str_equal(now, "connected"))
            break;
        if (t_connected > deadline)
            g_error("peer-%u still %s %u ms after %s",
                    BLOCKED_PEER,
                    now,
                    RECONNECT_TIMEOUT_MS,
                    event_names[event]);
        g_usleep(5 * 1000);
    }
    set_peer_answers_pings(f, TRUE);
    handshake       = (gint64)peer_u64(f, "LatestHandshake");
    since           = (gint64)peer_u64(f, "StateSince");
    r->event_ms     = (t_connected - m.at) / 1000.0;
    r->service_ms   = (since - m.at_real) / 1000.0;
    r->handshake_ms = (handshake - m.at_real) / 1000.0;
    g_test_message("%s: peer-%u cut off %.1f s (connecting after %.1f s, backed off %.1f s "
                   "later), the guard's next step %.1f s after the event; connected %.0f ms "
                   "after the event on D-Bus (StateSince %+.0f ms, handshake %+.0f ms)",
                   event_names[event],
                   BLOCKED_PEER,
                   r->blocked_s,
                   dead_s,
                   backoff_s,
                   r->next_step_ms / 1000.0,
                   r->event_ms,
                   r->service_ms,
                   r->handshake_ms);
    if (event == EVENT_UPLINK)
        g_test_message("  nmcli device reapply took %.0f ms; measured from its return",
                       r->nmcli_ms);
    /* What the service did about it (the log may lag a little). */
    g_usleep(100 * 1000);
    print_plugin_log(f, mark_unblock, f->peer_key);

    if (event == EVENT_NONE) {
        if (check_quiet(f, mark, "with no event"))
            g_assert_cmpuint(last_network_change(f), ==, before);
        return TRUE;
    }

    line = wait_log_line(f, mark, "network changed (");
    if (!line)
        g_error("%s: the service logged no \"network changed\" line in %u ms",
                event_names[event],
                LOG_TIMEOUT_MS);
    g_test_message("  the service: %s", strstr(line, "nm-wgmesh["));
    g_assert_nonnull(strstr(line, event_keys[event]));
    changed = log_line_time(line);
    /* The service's own stamp, taken as it retries every peer. */
    last = (gint64)last_network_change(f);
    g_test_message("  logged %+.0f ms, LastNetworkChange %+.0f ms after the event; "
                   "handshake %+.0f ms after that",
                   (changed - m.at_real) / 1000.0,
                   (last - m.at_real) / 1000.0,
                   (handshake - last) / 1000.0);
    /* LastNetworkChange moved, to after the event began. */
    g_assert_cmpint(last, >, (gint64)before);
    g_assert_cmpint(last, >=, m.start_real);

    if (handshake < last) {
        g_test_message("  inconclusive: the handshake came %.0f ms before the service acted "
                       "(WireGuard's own retransmission); once more",
                       (last - handshake) / 1000.0);
        return FALSE;
    }
    if (r->event_ms <= EVENT_BOUND_MS && handshake > last + RETRY_TO_HANDSHAKE_USEC) {
        g_test_message("  inconclusive: the handshake came %.0f ms after the service's retry, "
                       "too late to be its answer (WireGuard's own retransmission); once more",
                       (handshake - last) / 1000.0);
        return FALSE;
    }
    if (r->event_ms > EVENT_BOUND_MS) {
        /* Not fatal: the other event is still measured. */
        g_test_fail_printf("%s: peer-%u connected %.0f ms after the event, more than %u ms",
                           event_names[event],
                           BLOCKED_PEER,
                           r->event_ms,
                           EVENT_BOUND_MS);
    }
    return TRUE;
}

static void
run_case(Fixture *f, Event event, Result *r)
{
    for (r->tries = 1; r->tries <= MAX_TRIES; r->tries++) {
        if (run_cycle(f, event, r))
            return;
    }
    g_error("%s: WireGuard's own retransmission got the peer back first %u times in a row",
            event_names[event],
            MAX_TRIES);
}

/* ---- the test ---- */

static void
test_netchange(Fixture *f, gconstpointer data)
{
    g_autofree char *logind_seen = NULL;
    Result           r[3]        = { 0 };
    gboolean         quiet;
    gsize            mark_up;
    gint64           t0 = g_get_monotonic_time();

    if (!f->nm)
        return;
    /* Before the mesh: the service subscribes as it comes up. */
    logind_start(f);
    add_profile(f, "mesh");
    mark_up = wgm_test_nm_log_mark(f->nm);
    bring_up(f, "mesh");
    /* The service sees the stand-in, or resume could not work. */
    logind_seen = wait_log_line(f, mark_up, "logind is on the bus");
    g_assert_nonnull(logind_seen);
    ping_start(f);

    g_usleep(SETTLE_MS * 1000);
    quiet = check_quiet(f, mark_up, "in the first seconds after the mesh came up");
    if (quiet)
        g_assert_cmpuint(last_network_change(f), ==, 0);

    run_case(f, EVENT_NONE, &r[EVENT_NONE]);
    if (quiet) {
        quiet =
            check_quiet(f, mark_up, "between the mesh coming up and the first deliberate event");
    }
    if (quiet) {
        g_assert_cmpuint(last_network_change(f), ==, 0);
        g_test_message("no network change from the mesh coming up until the first event "
                       "(%.0f s)",
                       (g_get_monotonic_time() - t0) / 1e6);
    }

    run_case(f, EVENT_UPLINK, &r[EVENT_UPLINK]);
    run_case(f, EVENT_RESUME, &r[EVENT_RESUME]);
    ping_stop(f);
    {
        g_autoptr(GPtrArray) pings = wgm_test_nm_processes(f->nm, "ping");

        g_assert_cmpuint(pings->len, ==, 0);
    }

    for (guint e = EVENT_NONE; e <= EVENT_RESUME; e++) {
        g_test_message("%-14s -> peer-%u connected: %5.0f ms after the event (D-Bus), "
                       "StateSince %+5.0f ms, handshake %+5.0f ms; cut off %.1f s, %u tr%s",
                       event_names[e],
                       BLOCKED_PEER,
                       r[e].event_ms,
                       r[e].service_ms,
                       r[e].handshake_ms,
                       r[e].blocked_s,
                       r[e].tries,
                       r[e].tries == 1 ? "y" : "ies");
    }
    g_test_message("whole test %.0f s", (g_get_monotonic_time() - t0) / 1e6);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

    g_test_add(
        "/e2e/netchange/events", Fixture, NULL, fixture_setup, test_netchange, fixture_teardown);
    return g_test_run();
}
