/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * End to end (root): a mesh of 10,000 peers through the real NetworkManager
 * of the sandbox (tests/e2e/nm-sandbox.sh), the peers in a network map.
 *
 * NetworkManager 1.42 handles vpn.data in quadratic time and blocks its main
 * loop meanwhile (10,000 inline peers: no nmcli answer for minutes), so a
 * large mesh lives in a map the service reads itself.  This test checks that
 * this path keeps NetworkManager responsive:
 *
 *   - `nmcli connection up` of a profile with one real peer inline and
 *     network-map= naming 10,000 more succeeds within UP_TIMEOUT_S;
 *   - while it runs, and until WireGuard has every peer, `nmcli general` is
 *     asked every POLL_MS and each call is answered within MAX_GENERAL_MS;
 *   - WireGuard on the mesh's interface has all 10,001 peers, D-Bus shows
 *     10,001 Peer objects, and the inline real peer is connected.
 *
 * The map's peers have endpoints in 198.18.0.0/15 (RFC 2544 benchmarking),
 * which the sandbox's "world" namespace blackholes: nothing leaves the
 * sandbox.  Their /32s lie inside the mesh's 10.64.0.0/10, so they need no
 * routes.  Timings and memory go to the TAP log.
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wgm-test-nm.h"
#include "wgm-test-util.h"
#include "wgm-test-vpn.h"

#define CONN_PREFIX    WGM_TEST_NM_VPN_SERVICE ".Connection_"
#define MESH_IFACE     "org.freedesktop.NetworkManager.wgmesh.Mesh"
#define PROFILE        "scale"
#define N_MAP_PEERS    10000
#define UP_TIMEOUT_S   60
#define POLL_MS        200
#define MAX_GENERAL_MS 1000
#define CONNECT_MS     15000
/* Inside 10.64.0.0/10 with the real peer's 10.77.1.2; the map's peers are
 * 10.100.0.1 to 10.100.39.250. */
#define MESH_ADDRESS "10.77.1.1/10"
#define UNREACHABLE  "198.18.0.0/15"

/* ---- the map ---- */

static char *
map_key(GRand *rand)
{
    guint8 key[32];

    for (guint i = 0; i < sizeof(key); i += 4) {
        guint32 r = g_rand_int(rand);

        memcpy(key + i, &r, sizeof(r));
    }
    return g_base64_encode(key, sizeof(key));
}

/* N_MAP_PEERS peers, the same on every run: random keys from a fixed seed,
 * endpoints nobody answers, /32s inside the mesh's prefix. */
static char *
map_text(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(12);
    GString *s            = g_string_sized_new(N_MAP_PEERS * 120);

    g_string_append(s, "# test-scale-e2e: " G_STRINGIFY(N_MAP_PEERS) " unreachable peers\n");
    for (guint i = 0; i < N_MAP_PEERS; i++) {
        g_autofree char *key = map_key(rand);

        g_string_append_printf(s,
                               "\n[Peer]\n"
                               "# Name = map-%u\n"
                               "PublicKey = %s\n"
                               "Endpoint = 198.18.%u.%u:51820\n"
                               "AllowedIPs = 10.100.%u.%u/32\n",
                               i,
                               key,
                               i / 256,
                               i % 256,
                               i / 250,
                               i % 250 + 1);
    }
    return g_string_free(s, FALSE);
}

/* Owned by root (the test), mode 0644, in the sandbox's directory, which
 * NetworkManager and the service see at the same path. */
static char *
write_map(WgmTestNm *nm)
{
    g_autofree char *text   = map_text();
    char            *path   = g_build_filename(wgm_test_nm_get_dir(nm), "peers.conf", NULL);
    g_autoptr(GError) error = NULL;
    struct stat st;

    g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_NONE, 0644, &error);
    g_assert_no_error(error);
    g_assert_cmpint(chmod(path, 0644), ==, 0); /* whatever the umask */
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_uid, ==, 0);
    g_test_message("network map %s: %u peers, %zu bytes", path, N_MAP_PEERS, strlen(text));
    return path;
}

/* The map's endpoints end in the sandbox's world namespace: make that
 * explicit with a blackhole there, and check the way there. */
static void
blackhole_map_endpoints(WgmTestNm *nm)
{
    const char *world       = wgm_test_nm_get_var(nm, "NS_WORLD");
    g_autoptr(GError) error = NULL;
    g_autofree char *out    = NULL;

    g_assert_nonnull(world);
    {
        const char *argv[] = { "ip", "-n", world, "route", "add", "blackhole", UNREACHABLE, NULL };

        wgm_test_run(argv, NULL, &error);
        g_assert_no_error(error);
    }
    /* Out of NetworkManager's namespace by its default route, into the
     * world namespace, which has no way further (no default route) and
     * drops them. */
    {
        int status = wgm_test_nm_exec_status(nm, &out, "ip -4 route get 198.18.0.1 | head -n 1");

        g_assert_cmpint(status, ==, 0);
        g_test_message("NetworkManager's namespace: %s", g_strstrip(out));
        g_assert_nonnull(strstr(out, "via 10.210.0.1 dev wan0"));
        g_clear_pointer(&out, g_free);
    }
    {
        const char *argv[] = { "ip", "-n", world, "-4", "route", "show", NULL };

        wgm_test_run(argv, &out, &error);
        g_assert_no_error(error);
        g_test_message("the world namespace's routes:\n%s", out);
        g_assert_nonnull(strstr(out, "blackhole " UNREACHABLE));
        g_assert_null(strstr(out, "default"));
    }
}

/* ---- observations ---- */

/* "comm[pid]" -> pid of the one process @comm in NetworkManager's namespace,
 * 0 if none. */
static GPid
process_pid(WgmTestNm *nm, const char *comm)
{
    g_autoptr(GPtrArray) procs = wgm_test_nm_processes(nm, comm);
    const char *open;

    if (procs->len != 1)
        return 0;
    open = strrchr(procs->pdata[0], '[');
    return open ? (GPid)g_ascii_strtoll(open + 1, NULL, 10) : 0;
}

/* A "VmXXX:" line of /proc/@pid/status, in MiB; -1 if unknown. */
static double
proc_mib(GPid pid, const char *field)
{
    g_autofree char *path     = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *contents = NULL;
    const char      *line;

    if (!pid || !g_file_get_contents(path, &contents, NULL, NULL))
        return -1;
    line = strstr(contents, field);
    if (!line)
        return -1;
    return g_ascii_strtod(line + strlen(field) + 1, NULL) / 1024.0;
}

/* utime + stime of @pid, in seconds; -1 if unknown. */
static double
proc_cpu_s(GPid pid)
{
    g_autofree char *path     = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *contents = NULL;
    g_auto(GStrv) fields      = NULL;
    const char *rest;

    if (!pid || !g_file_get_contents(path, &contents, NULL, NULL))
        return -1;
    rest = strrchr(contents, ')');
    if (!rest)
        return -1;
    /* After "pid (comm) ": state is field 3, utime 14, stime 15. */
    fields = g_strsplit(rest + 2, " ", -1);
    if (g_strv_length(fields) < 13)
        return -1;
    return (g_ascii_strtod(fields[11], NULL) + g_ascii_strtod(fields[12], NULL))
           / sysconf(_SC_CLK_TCK);
}

/* The mesh's interface (Mesh.Interface), read with gdbus inside. */
static char *
mesh_interface(WgmTestNm *nm, const char *bus_name)
{
    g_autoptr(GError) error   = NULL;
    g_autofree char *out      = NULL;
    g_autoptr(GVariant) reply = NULL;
    g_autoptr(GVariant) value = NULL;

    wgm_test_nm_exec(nm,
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
    return g_variant_dup_string(value, NULL);
}

/* Peers WireGuard has on @ifname (`wg show IFACE peers`), -1 if wg fails. */
static int
wg_peer_count(WgmTestNm *nm, const char *ifname)
{
    g_autofree char *out = NULL;

    if (wgm_test_nm_exec_status(nm, &out, "wg show %s peers | wc -l", ifname) != 0)
        return -1;
    return (int)g_ascii_strtoll(out, NULL, 10);
}

/* The end of the sandbox's log (NetworkManager's and the plugin's lines). */
static void
print_log_tail(WgmTestNm *nm)
{
    g_autofree char *log = wgm_test_nm_log_since(nm, 0);
    gsize            len = strlen(log);

    g_test_message("the sandbox's log (its end):\n%s", log + (len > 30000 ? len - 30000 : 0));
}

/* The service's own info and warning lines since @mark (not its per-peer
 * debug lines): where the time of an activation goes. */
static void
print_service_timeline(WgmTestNm *nm, gsize mark)
{
    g_autofree char *log    = wgm_test_nm_log_since(nm, mark);
    g_auto(GStrv) lines     = g_strsplit(log, "\n", -1);
    g_autoptr(GString) kept = g_string_new(NULL);
    guint n                 = 0;

    for (guint i = 0; lines[i] && n < 40; i++) {
        if (strstr(lines[i], "nm-wgmesh[") && !g_str_has_prefix(lines[i], "<debug>")
            && !g_str_has_prefix(lines[i], "<trace>")) {
            g_string_append_printf(kept, "\n%s", lines[i]);
            n++;
        }
    }
    g_test_message("the service's log during the activation:%s", kept->str);
}

/* ---- `nmcli general` while the mesh comes up ---- */

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

/*
 * `nmcli general` every POLL_MS, in one shell loop inside the sandbox (a
 * new nm-sandbox.sh exec per call would cost more CPU than nmcli itself on
 * a 2-core machine, and slow what is measured), until @stop exists.  Each
 * line: nmcli's wall time in microseconds, its exit status, when it answered
 * (CLOCK_REALTIME, microseconds: this process may read the line late),
 * NetworkManager's STATE.  A stalled NetworkManager is cut off after 5 s (status 124).
 */
static const char poller_script[] = "while [ ! -e %s ]; do\n"
                                    "    t0=$(date +%%s%%N)\n"
                                    "    out=$(timeout 5 nmcli general 2>&1); rc=$?\n"
                                    "    t1=$(date +%%s%%N)\n"
                                    "    echo \"$(((t1 - t0) / 1000)) $rc $((t1 / 1000)) $(echo "
                                    "\"$out\" | sed -n '2{s/ .*//;p}')\"\n"
                                    "    sleep %u.%03u\n"
                                    "done\n";

typedef struct {
    GDataInputStream *in;
    gint64            t0; /* when nmcli connection up started, g_get_real_time() */
    gboolean          eof;
    guint             n;
    double            max_ms;
    double            sum_ms;
    double            max_at_ms; /* when the slowest answer came, from t0 */
    double            last_at_ms;
    double            max_gap_ms; /* between answers (from t0 for the first) */
    char             *states;     /* NetworkManager's STATE as it changed */
} Poller;

static void poller_read(Poller *p);

static void
poller_line_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Poller *p               = user_data;
    g_autoptr(GError) error = NULL;
    g_autofree char *line   = g_data_input_stream_read_line_finish_utf8(
        G_DATA_INPUT_STREAM(source), result, NULL, &error);
    g_auto(GStrv) words = NULL;
    double at_ms, ms;

    g_assert_no_error(error);
    if (!line) {
        p->eof = TRUE;
        return;
    }
    words = g_strsplit(line, " ", 4);
    g_assert_cmpuint(g_strv_length(words), ==, 4);
    ms    = g_ascii_strtoll(words[0], NULL, 10) / 1000.0;
    at_ms = (g_ascii_strtoll(words[2], NULL, 10) - p->t0) / 1000.0;
    if (!g_str_equal(words[1], "0") || ms > MAX_GENERAL_MS)
        g_error("nmcli general, answered %.0f ms after nmcli connection up started: exit %s after "
                "%.0f ms (at most %u ms allowed)",
                at_ms,
                words[1],
                ms,
                MAX_GENERAL_MS);
    p->n++;
    p->sum_ms += ms;
    p->max_gap_ms = MAX(p->max_gap_ms, at_ms - p->last_at_ms);
    p->last_at_ms = at_ms;
    if (ms > p->max_ms) {
        p->max_ms    = ms;
        p->max_at_ms = at_ms;
    }
    if (!p->states || !g_str_has_suffix(p->states, words[3])) {
        char *old = p->states;

        p->states = g_strdup_printf("%s%s%s", old ? old : "", old ? " -> " : "", words[3]);
        g_free(old);
    }
    poller_read(p);
}

static void
poller_read(Poller *p)
{
    g_data_input_stream_read_line_async(p->in, G_PRIORITY_DEFAULT, NULL, poller_line_cb, p);
}

static void
test_scale_map(void)
{
    g_autoptr(GError) error    = NULL;
    g_autoptr(WgmTestNm) nm    = NULL;
    g_autoptr(GSubprocess) up  = NULL;
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(WgmTestVpn) vpn  = NULL;
    g_autoptr(GHashTable) seen = NULL;
    g_autofree char *map       = NULL;
    g_autofree char *data      = NULL;
    g_autofree char *q_data    = NULL;
    g_autofree char *q_secret  = NULL;
    g_autofree char *bus_name  = NULL;
    g_autofree char *ifname    = NULL;
    g_autofree char *out       = NULL;
    const char      *real_key;
    g_autoptr(GSubprocess) poller_proc = NULL;
    g_autofree char *stop              = NULL;
    Nmcli            nmcli             = { 0 };
    Poller           lat               = { 0 };
    GPid             nm_pid, svc_pid, wg_pid;
    double           nm_cpu0, nm_cpu1;
    gint64           t0, t_up = 0, t_wg = 0, t_connected, deadline;
    int              n_wg = 0;
    gsize            mark;

    if (!wgm_test_nm_require())
        return;
    nm = wgm_test_nm_new(1, 1, &error);
    g_assert_no_error(error);
    blackhole_map_endpoints(nm);
    map = write_map(nm);

    /* The real peer inline: NetworkManager's gateway, and one peer that
     * connects. */
    real_key = wgm_test_nm_get_var(nm, "PEER_1_PUBLIC_KEY");
    data     = g_strdup_printf("address=" MESH_ADDRESS ", listen-port=%s, "
                               "peer.1.public-key=%s, peer.1.endpoint=%s, "
                               "peer.1.allowed-ips=10.77.1.2/32, peer.1.name=peer-1, "
                               "network-map=%s",
                           wgm_test_nm_get_var(nm, "MESH_1_LISTEN_PORT"),
                           real_key,
                           wgm_test_nm_get_var(nm, "PEER_1_ENDPOINT"),
                           map);
    q_data   = g_shell_quote(data);
    {
        g_autofree char *secret =
            g_strdup_printf("private-key=%s", wgm_test_nm_get_var(nm, "MESH_1_PRIVATE_KEY"));

        q_secret = g_shell_quote(secret);
    }
    wgm_test_nm_exec(nm,
                     NULL,
                     &error,
                     "nmcli connection add type vpn con-name " PROFILE
                     " vpn-type %s vpn.data %s vpn.secrets %s",
                     WGM_TEST_NM_VPN_SERVICE,
                     q_data,
                     q_secret);
    g_assert_no_error(error);

    nm_pid  = wgm_test_nm_get_nm_pid(nm);
    nm_cpu0 = proc_cpu_s(nm_pid);

    /* `nmcli general` every POLL_MS from before the start until WireGuard
     * has every peer; up in the background meanwhile. */
    stop = g_build_filename(wgm_test_nm_get_dir(nm), "poller.stop", NULL);
    poller_proc =
        wgm_test_nm_spawn(nm, &error, poller_script, stop, POLL_MS / 1000, POLL_MS % 1000);
    g_assert_no_error(error);
    lat.in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(poller_proc));
    t0     = g_get_monotonic_time();
    lat.t0 = g_get_real_time();
    poller_read(&lat);
    while (lat.n == 0 && !lat.eof && g_get_monotonic_time() < t0 + 10 * G_USEC_PER_SEC)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(lat.n, >, 0);
    g_test_message(
        "nmcli general before the start: %.0f ms, NetworkManager %s", lat.max_ms, lat.states);

    mark     = wgm_test_nm_log_mark(nm);
    t0       = g_get_monotonic_time();
    deadline = t0 + (gint64)UP_TIMEOUT_S * G_USEC_PER_SEC;
    lat      = (Poller){ .in = lat.in, .t0 = g_get_real_time() };
    up = wgm_test_nm_spawn(nm, &error, "nmcli --wait %u connection up " PROFILE, UP_TIMEOUT_S);
    g_assert_no_error(error);
    g_subprocess_communicate_utf8_async(up, NULL, NULL, nmcli_done_cb, &nmcli);
    while (!t_up || !t_wg) {
        gint64 next = g_get_monotonic_time() + POLL_MS * 1000;

        while (g_main_context_iteration(NULL, FALSE))
            ;
        g_assert_false(lat.eof);
        if (nmcli.done && !t_up) {
            t_up = g_get_monotonic_time();
            g_test_message("$ nmcli connection up " PROFILE " (%.0f ms)\n%s",
                           (t_up - t0) / 1000.0,
                           nmcli.output);
            if (nmcli.status != 0) {
                print_log_tail(nm);
                g_error("nmcli connection up " PROFILE ": exit %d after %.0f ms: %s",
                        nmcli.status,
                        (t_up - t0) / 1000.0,
                        nmcli.output);
            }
            names = wgm_test_nm_list_names(nm, CONN_PREFIX);
            g_assert_cmpuint(names->len, ==, 1);
            bus_name = g_strdup(names->pdata[0]);
            ifname   = mesh_interface(nm, bus_name);
        }
        if (t_up && !t_wg) {
            n_wg = wg_peer_count(nm, ifname);
            if (n_wg >= N_MAP_PEERS + 1)
                t_wg = g_get_monotonic_time();
        }
        if (g_get_monotonic_time() > deadline) {
            print_log_tail(nm);
            g_error("not up after %u s: nmcli connection up %s, WireGuard has %d peers; "
                    "nmcli general: %u answers, max %.0f ms",
                    UP_TIMEOUT_S,
                    nmcli.done ? "done" : "still running",
                    n_wg,
                    lat.n,
                    lat.max_ms);
        }
        while (g_get_monotonic_time() < next) {
            g_main_context_iteration(NULL, FALSE);
            g_usleep(10 * 1000);
        }
    }
    /* One more answer after WireGuard has every peer, then stop. */
    {
        guint n = lat.n;

        while (lat.n == n && !lat.eof)
            g_main_context_iteration(NULL, TRUE);
    }
    g_assert_true(g_file_set_contents(stop, "", 0, NULL));
    while (!lat.eof)
        g_main_context_iteration(NULL, TRUE);
    g_subprocess_wait(poller_proc, NULL, &error);
    g_assert_no_error(error);
    g_clear_object(&lat.in);
    nm_cpu1 = proc_cpu_s(nm_pid);
    print_service_timeline(nm, mark);
    svc_pid = process_pid(nm, "nm-wgmesh-servi");
    wg_pid  = process_pid(nm, "wireguard-go");
    g_test_message("memory right after up: service VmHWM %.1f MiB; wireguard-go VmRSS %.1f MiB",
                   proc_mib(svc_pid, "VmHWM:"),
                   proc_mib(wg_pid, "VmRSS:"));
    g_test_message("nmcli connection up: %.0f ms; WireGuard has %d peers %.0f ms after the start; "
                   "NetworkManager CPU %.2f s meanwhile",
                   (t_up - t0) / 1000.0,
                   n_wg,
                   (t_wg - t0) / 1000.0,
                   nm_cpu1 - nm_cpu0);
    g_test_message("nmcli general every %u ms: %u answers, max %.0f ms (answered %.0f ms after "
                   "the start), mean %.0f ms, longest gap between answers %.0f ms; "
                   "NetworkManager %s",
                   POLL_MS,
                   lat.n,
                   lat.max_ms,
                   lat.max_at_ms,
                   lat.sum_ms / MAX(lat.n, 1),
                   lat.max_gap_ms,
                   lat.states);
    g_assert_cmpint(n_wg, ==, N_MAP_PEERS + 1);
    /* Answered throughout, not once before and once after: no gap longer
     * than one slow answer plus the pause and some scheduling slack. */
    g_assert_cmpfloat(lat.max_gap_ms, <=, MAX_GENERAL_MS + POLL_MS + 500);
    g_free(lat.states);

    /* NetworkManager's view. */
    wgm_test_nm_exec(nm, &out, &error, "nmcli -g GENERAL.STATE connection show " PROFILE);
    g_assert_no_error(error);
    g_assert_cmpstr(g_strstrip(out), ==, "activated");

    /* The real peer has a handshake in WireGuard, and is connected on
     * D-Bus among 10,001 peers. */
    {
        g_autoptr(GVariant) objects = NULL;
        gint64 tg                   = g_get_monotonic_time();

        vpn     = wgm_test_vpn_new(wgm_test_nm_get_bus_address(nm), bus_name);
        objects = wgm_test_vpn_get_managed_objects(vpn, &error);
        g_assert_no_error(error);
        g_test_message("GetManagedObjects: %zu objects, %zu bytes, %.0f ms",
                       g_variant_n_children(objects),
                       g_variant_get_size(objects),
                       (g_get_monotonic_time() - tg) / 1000.0);
    }
    seen        = wgm_test_vpn_wait_peer_state(vpn, real_key, "connected", CONNECT_MS);
    t_connected = g_get_monotonic_time();
    if (!seen) {
        print_log_tail(nm);
        g_error("peer-1 (the sandbox's real peer) not connected within %u ms", CONNECT_MS);
    }
    g_test_message("peer-1 connected on D-Bus %.0f ms after the start",
                   (t_connected - t0) / 1000.0);
    g_assert_cmpuint(g_hash_table_size(seen), ==, N_MAP_PEERS + 1);
    g_clear_pointer(&out, g_free);
    wgm_test_nm_exec(nm, &out, &error, "wg show %s latest-handshakes", ifname);
    g_assert_no_error(error);
    {
        g_autofree char *prefix = g_strdup_printf("%s\t", real_key);
        const char      *line   = strstr(out, prefix);

        g_assert_nonnull(line);
        g_assert_cmpint(g_ascii_strtoll(line + strlen(prefix), NULL, 10), >, 0);
    }

    g_test_message("memory after GetManagedObjects: service VmHWM %.1f MiB, VmRSS "
                   "%.1f MiB; wireguard-go VmRSS %.1f MiB; NetworkManager VmHWM %.1f MiB",
                   proc_mib(svc_pid, "VmHWM:"),
                   proc_mib(svc_pid, "VmRSS:"),
                   proc_mib(wg_pid, "VmRSS:"),
                   proc_mib(nm_pid, "VmHWM:"));

    {
        gint64 td = g_get_monotonic_time();

        wgm_test_nm_exec(nm, NULL, &error, "nmcli --wait 30 connection down " PROFILE);
        g_assert_no_error(error);
        g_test_message("nmcli connection down: %.0f ms", (g_get_monotonic_time() - td) / 1000.0);
    }
    g_clear_pointer(&vpn, wgm_test_vpn_free);
    wgm_test_nm_stop(nm, &error);
    g_assert_no_error(error);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/e2e/scale/map-10000-up", test_scale_map);
    return g_test_run();
}
