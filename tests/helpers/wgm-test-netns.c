/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-test-netns.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "wgm-test-util.h"

#define READY_TIMEOUT_MS 10000
#define TERM_GRACE_MS    3000

typedef struct {
    WgmTestPeer pub;
    char       *log_path;
    int         ready_fd;
} Peer;

struct _WgmTestNet {
    char           *prefix; /* "wgmt<pid>" */
    char           *svc_ns;
    char           *svc_private_key;
    char           *svc_public_key;
    char           *dir;        /* peer logs */
    GPtrArray      *peers;      /* Peer*, index 0 is peer 1 */
    GPtrArray      *namespaces; /* char*, every one we (tried to) create */
    GArray         *pgids;      /* GPid, extra groups from wgm_test_net_track_pgid() */
    WgmTestWatchdog watchdog;
};

/*
 * The watchdog: reads "pg N", "unpg N", "ns NAME", "dir PATH" lines and a
 * final "done".  EOF without "done" means the test process died: kill the
 * recorded process groups and whatever still runs in the recorded
 * namespaces (only our tests' processes live there), delete those
 * namespaces and the log directory.
 *
 * The watchdog is not the group leaders' parent: by now they may have been
 * reaped and their IDs reused.  A recorded group is ours only while one of
 * its processes is still in one of our namespaces (a process group ID is
 * not reused while the group has members), so only such groups are killed.
 */
static const char watchdog_script[] =
    "pgs= nss= dir=\n"
    "while read -r kind arg; do\n"
    "    case \"$kind\" in\n"
    "    pg) pgs=\"$pgs $arg\" ;;\n"
    "    unpg) new=; for p in $pgs; do [ \"$p\" = \"$arg\" ] || new=\"$new $p\"; done; pgs=$new "
    ";;\n"
    "    ns) nss=\"$nss $arg\" ;;\n"
    "    dir) dir=$arg ;;\n"
    "    done) exit 0 ;;\n"
    "    esac\n"
    "done\n"
    "echo \"wgm-test watchdog: test process $WGM_TEST_PID died; removing$nss\" >&2\n"
    "inside=\n"
    "for n in $nss; do inside=\"$inside $(ip netns pids \"$n\" 2>/dev/null)\"; done\n"
    "killed=\n"
    "for p in $inside; do\n"
    "    s=$(cat \"/proc/$p/stat\" 2>/dev/null) || continue\n"
    "    set -- ${s##*) }\n"
    "    for g in $pgs; do\n"
    "        case \" $killed \" in *\" $g \"*) continue ;; esac\n"
    "        [ \"$3\" = \"$g\" ] || continue\n"
    "        kill -KILL -- \"-$g\" 2>/dev/null\n"
    "        killed=\"$killed $g\"\n"
    "    done\n"
    "done\n"
    "for n in $nss; do\n"
    "    for p in $(ip netns pids \"$n\" 2>/dev/null); do kill -KILL \"$p\" 2>/dev/null; done\n"
    "done\n"
    "for n in $nss; do ip netns del \"$n\" 2>/dev/null; done\n"
    "case \"$dir\" in /*/wgm-net-*) rm -rf -- \"$dir\" ;; esac\n"
    "exit 0\n";

/*
 * One peer's whole life in one process tree (its own session and process
 * group), inside `ip netns exec`, which already gives it a mount namespace
 * whose mounts do not propagate back to the host: a tmpfs /run keeps the
 * UAPI socket and the key file private.  fd 3 tells the test "ready".
 */
static const char peer_script[] =
    "set -e\n"
    "exec 3>&1 >>\"$WGM_LOG\" 2>&1\n"
    "mount -t tmpfs -o mode=0755 tmpfs /run\n"
    "mkdir -p /run/wireguard\n"
    "(umask 077; printf '%s\\n' \"$WGM_KEY\" >/run/wgp0.key)\n"
    "\"$WGM_WG_GO\" -f wgp0 3>&- &\n"
    "wgpid=$!\n"
    "n=0\n"
    "while [ ! -S /run/wireguard/wgp0.sock ]; do\n"
    "    kill -0 $wgpid 2>/dev/null || { echo \"wireguard-go exited\" >&2; exit 1; }\n"
    "    n=$((n + 1)); [ $n -lt 1000 ] || { echo \"no UAPI socket after 10 s\" >&2; exit 1; }\n"
    "    sleep 0.01\n"
    "done\n"
    "wg set wgp0 listen-port \"$WGM_PORT\" private-key /run/wgp0.key \\\n"
    "    peer \"$WGM_SVC_PUB\" allowed-ips 10.77.0.1/32\n"
    "ip addr add \"$WGM_ADDR\" dev wgp0\n"
    "ip link set wgp0 up\n"
    "echo ready >&3\n"
    "exec 3>&-\n"
    "wait $wgpid\n";

static gboolean
run_sh(const char *script, char **out_stdout, GError **error)
{
    const char *argv[] = { "sh", "-e", "-c", script, NULL };

    return wgm_test_run(argv, out_stdout, error);
}

/* ---- namespaces and their processes ---- */

/* PIDs of the live processes whose network namespace is @ns. */
static GArray *
netns_pids(const char *ns)
{
    g_autofree char *path = g_build_filename(WGM_TEST_NETNS_DIR, ns, NULL);
    struct stat      st_ns;

    if (stat(path, &st_ns) < 0)
        return g_array_new(FALSE, FALSE, sizeof(GPid));
    return wgm_test_netns_pids(&st_ns, 1);
}

/* Ends whatever still runs in @ns: SIGTERM, then SIGKILL after @grace_ms.
 * Only processes our tests started live in our namespaces. */
static gboolean
netns_signal_all(const char *ns, int sig)
{
    g_autoptr(GArray) pids = netns_pids(ns);

    for (guint i = 0; i < pids->len; i++) {
        GPid             pid  = g_array_index(pids, GPid, i);
        g_autofree char *comm = wgm_test_process_name(pid);

        g_test_message("%s: sending %s to leftover process %d (%s)",
                       ns,
                       sig == SIGTERM ? "SIGTERM" : "SIGKILL",
                       (int)pid,
                       comm);
        kill(pid, sig);
    }
    return pids->len > 0;
}

static gboolean
netns_wait_empty(const char *ns, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        g_autoptr(GArray) pids = netns_pids(ns);

        if (pids->len == 0)
            return TRUE;
        if (g_get_monotonic_time() >= deadline)
            return FALSE;
        g_usleep(20 * 1000);
    }
}

static void
netns_kill_all(const char *ns, guint grace_ms)
{
    if (!netns_signal_all(ns, SIGTERM) || netns_wait_empty(ns, grace_ms))
        return;
    netns_signal_all(ns, SIGKILL);
    if (!netns_wait_empty(ns, 5000))
        g_warning("%s: processes survive SIGKILL", ns);
}

/* Namespaces "wgmt<pid>-*" whose test process is gone: a SIGKILLed run whose
 * watchdog died with it (e.g. the whole session was killed). */
static void
remove_stale_namespaces(void)
{
    static gboolean done = FALSE;
    g_autoptr(GDir) dir  = NULL;
    const char *name;
    g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func(g_free);

    if (done)
        return;
    done = TRUE;
    dir  = g_dir_open(WGM_TEST_NETNS_DIR, 0, NULL);
    while (dir && (name = g_dir_read_name(dir))) {
        if (wgm_test_name_is_stale(name, "wgmt"))
            g_ptr_array_add(stale, g_strdup(name));
    }
    for (guint i = 0; i < stale->len; i++) {
        const char *ns          = stale->pdata[i];
        const char *argv[]      = { "ip", "netns", "del", ns, NULL };
        g_autoptr(GError) error = NULL;

        g_test_message("removing stale test namespace %s", ns);
        netns_kill_all(ns, 500);
        if (!wgm_test_run(argv, NULL, &error))
            g_test_message("%s", error->message);
    }
}

/* ---- root checks ---- */

gboolean
wgm_test_root_checks(char **out_reason)
{
    static const char *const programs[] = { "ip", "wg", "ping", "nsenter", "sh" };
    g_autofree char         *ns         = NULL;
    g_autoptr(GError) error             = NULL;
    const char      *wggo               = wgm_test_wireguard_go();
    g_autofree char *wggo_path          = NULL;
    int              fd;

#define FAIL(...)                                       \
    G_STMT_START                                        \
    {                                                   \
        if (out_reason)                                 \
            *out_reason = g_strdup_printf(__VA_ARGS__); \
        return FALSE;                                   \
    }                                                   \
    G_STMT_END

    if (geteuid() != 0)
        FAIL("needs root (network namespaces, veth, TUN)");
    for (guint i = 0; i < G_N_ELEMENTS(programs); i++) {
        g_autofree char *path = g_find_program_in_path(programs[i]);

        if (!path)
            FAIL("`%s` not found in PATH", programs[i]);
    }
    wggo_path = g_find_program_in_path(wggo);
    if (!wggo_path)
        FAIL("wireguard-go not found at %s (set WGM_WIREGUARD_GO)", wggo);
    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0 && (errno == ENOENT || errno == ENODEV)) {
        /* A minimal host may not have loaded the module yet (loading a
         * module changes nothing on the host's network). */
        const char *modprobe[] = { "modprobe", "tun", NULL };

        if (!wgm_test_run(modprobe, NULL, &error))
            g_test_message("no /dev/net/tun, and %s", error->message);
        g_clear_error(&error);
        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    }
    if (fd < 0)
        FAIL("cannot open /dev/net/tun: %s", g_strerror(errno));
    close(fd);

    ns = g_strdup_printf("wgmt%d-chk", (int)getpid());
    {
        const char *add[] = { "ip", "netns", "add", ns, NULL };
        const char *del[] = { "ip", "netns", "del", ns, NULL };

        if (!wgm_test_run(add, NULL, &error))
            FAIL("cannot create a network namespace: %s", error->message);
        if (!wgm_test_run(del, NULL, &error))
            FAIL("cannot delete network namespace %s: %s", ns, error->message);
    }
#undef FAIL
    if (out_reason)
        *out_reason = NULL;
    return TRUE;
}

gboolean
wgm_test_require_root(void)
{
    static gsize    checked = 0;
    static gboolean ok;
    static char    *reason;
    const char     *ci = g_getenv("CI");

    if (g_once_init_enter(&checked)) {
        ok = wgm_test_root_checks(&reason);
        g_once_init_leave(&checked, 1);
    }
    if (ok)
        return TRUE;
    if (g_strcmp0(ci, "true") == 0 || g_strcmp0(ci, "1") == 0)
        g_error("root tests must run in CI, but: %s", reason);
    g_test_skip(reason);
    return FALSE;
}

/* ---- process groups ---- */

/* Whether @pid is a child of ours not reaped yet (alive or a zombie): then
 * its ID, and the process group it leads, cannot belong to anyone else. */
static gboolean
leader_unreaped(GPid pid)
{
    siginfo_t info = { 0 };
    int       r;

    do
        r = waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT);
    while (r < 0 && errno == EINTR);
    return r == 0;
}

/* ---- peers ---- */

static Peer *
get_peer(WgmTestNet *net, guint i)
{
    g_return_val_if_fail(i >= 1 && i <= net->peers->len, NULL);
    return net->peers->pdata[i - 1];
}

static void
peer_free(Peer *p)
{
    if (p->ready_fd >= 0)
        close(p->ready_fd);
    g_free((char *)p->pub.ns);
    g_free((char *)p->pub.public_key);
    g_free((char *)p->pub.private_key);
    g_free((char *)p->pub.underlay);
    g_free((char *)p->pub.tunnel);
    g_free(p->log_path);
    g_free(p);
}

static gboolean
peer_spawn(WgmTestNet *net, Peer *p, GError **error)
{
    g_autofree char *addr = g_strdup_printf("%s/24", p->pub.tunnel);
    g_autofree char *port = g_strdup_printf("%u", p->pub.port);
    g_auto(GStrv) envp    = g_get_environ();
    const char *argv[] = { "ip", "netns", "exec", p->pub.ns, "sh", "-c", peer_script, "sh", NULL };
    int         log_fd;
    gboolean    ok;

    envp = g_environ_setenv(envp, "WGM_LOG", p->log_path, TRUE);
    envp = g_environ_setenv(envp, "WGM_KEY", p->pub.private_key, TRUE);
    envp = g_environ_setenv(envp, "WGM_SVC_PUB", net->svc_public_key, TRUE);
    envp = g_environ_setenv(envp, "WGM_ADDR", addr, TRUE);
    envp = g_environ_setenv(envp, "WGM_PORT", port, TRUE);
    envp = g_environ_setenv(envp, "WGM_WG_GO", wgm_test_wireguard_go(), TRUE);

    /* Errors of `ip netns exec` itself land in the log too. */
    log_fd = g_open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0)
        return wgm_test_fail_errno(error, errno, "%s", p->log_path);
    ok = g_spawn_async_with_pipes_and_fds(NULL,
                                          argv,
                                          (const char *const *)envp,
                                          G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
                                              | G_SPAWN_STDIN_FROM_DEV_NULL,
                                          wgm_test_child_setup_setsid,
                                          NULL,
                                          -1,
                                          -1,
                                          log_fd,
                                          NULL,
                                          NULL,
                                          0,
                                          &p->pub.pid,
                                          NULL,
                                          &p->ready_fd,
                                          NULL,
                                          error);
    close(log_fd);
    if (!ok) {
        g_prefix_error(error, "peer %u: ", p->pub.index);
        return FALSE;
    }
    /* setsid() made the PID the process group ID. */
    wgm_test_watchdog_send(&net->watchdog, "pg %d\n", (int)p->pub.pid);
    return TRUE;
}

static char *
peer_log(Peer *p)
{
    char *log = NULL;

    return g_file_get_contents(p->log_path, &log, NULL, NULL) ? log : g_strdup("");
}

/* Reads @fd to EOF; FALSE if the deadline passes first. */
static gboolean
read_to_eof(int fd, gint64 deadline, GString *out)
{
    for (;;) {
        struct pollfd pfd  = { .fd = fd, .events = POLLIN };
        gint64        left = (deadline - g_get_monotonic_time()) / 1000;
        char          buf[64];
        ssize_t       n;

        if (left <= 0)
            return FALSE;
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return TRUE;
        g_string_append_len(out, buf, n);
    }
}

/* Waits until every started peer has said "ready" and closed its pipe.  They
 * all start at once; waiting for one after another costs nothing more. */
static gboolean
peers_wait_ready(WgmTestNet *net, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)READY_TIMEOUT_MS * 1000;

    for (guint i = 0; i < net->peers->len; i++) {
        Peer *p                = net->peers->pdata[i];
        g_autoptr(GString) out = g_string_new(NULL);
        g_autofree char *log   = NULL;
        gboolean         eof;

        if (p->ready_fd < 0)
            continue;
        eof = read_to_eof(p->ready_fd, deadline, out);
        close(p->ready_fd);
        p->ready_fd = -1;
        if (eof && g_str_equal(out->str, "ready\n"))
            continue;
        log = peer_log(p);
        g_set_error(error,
                    G_IO_ERROR,
                    eof ? G_IO_ERROR_FAILED : G_IO_ERROR_TIMED_OUT,
                    "peer %u (%s) %s; its log:\n%s",
                    p->pub.index,
                    p->pub.ns,
                    eof ? "failed to start" : "not ready in time",
                    log);
        return FALSE;
    }
    return TRUE;
}

static void
peer_stop(WgmTestNet *net, Peer *p)
{
    if (p->pub.pid <= 0)
        return;
    /* Reaped only here: until then the group's ID is ours. */
    if (!leader_unreaped(p->pub.pid))
        g_warning("peer %u: process %d is not an unreaped child", p->pub.index, (int)p->pub.pid);
    else if (kill(-p->pub.pid, SIGKILL) < 0 && errno != ESRCH)
        g_warning("peer %u: kill(-%d): %s", p->pub.index, (int)p->pub.pid, g_strerror(errno));
    wgm_test_waitpid(p->pub.pid);
    wgm_test_watchdog_send(&net->watchdog, "unpg %d\n", (int)p->pub.pid);
    p->pub.pid = 0;
    if (p->ready_fd >= 0) {
        close(p->ready_fd);
        p->ready_fd = -1;
    }
}

/* ---- the net ---- */

static gboolean
make_keys(WgmTestNet *net, guint n, GError **error)
{
    g_autofree char *script = g_strdup_printf(
        "i=0; while [ $i -le %u ]; do k=$(wg genkey); p=$(printf '%%s\\n' \"$k\" | wg pubkey); "
        "echo \"$k $p\"; i=$((i + 1)); done",
        n);
    g_autofree char *out = NULL;
    g_auto(GStrv) lines  = NULL;

    if (!run_sh(script, &out, error))
        return FALSE;
    lines = g_strsplit(g_strstrip(out), "\n", -1);
    if (g_strv_length(lines) != n + 1) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "wg genkey printed: %s", out);
        return FALSE;
    }
    for (guint i = 0; i <= n; i++) {
        g_auto(GStrv) kp = g_strsplit(lines[i], " ", 2);

        if (g_strv_length(kp) != 2 || strlen(kp[0]) != 44 || strlen(kp[1]) != 44) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "bad key pair: %s", lines[i]);
            return FALSE;
        }
        if (i == 0) {
            net->svc_private_key = g_strdup(kp[0]);
            net->svc_public_key  = g_strdup(kp[1]);
        } else {
            Peer *p = net->peers->pdata[i - 1];

            p->pub.private_key = g_strdup(kp[0]);
            p->pub.public_key  = g_strdup(kp[1]);
        }
    }
    return TRUE;
}

WgmTestNet *
wgm_test_net_new(guint n_peers, GError **error)
{
    g_autoptr(WgmTestNet) net = g_new0(WgmTestNet, 1);
    g_autoptr(GString) script = g_string_new(NULL);

    g_return_val_if_fail(n_peers <= 250, NULL);

    net->watchdog   = (WgmTestWatchdog)WGM_TEST_WATCHDOG_INIT;
    net->prefix     = g_strdup_printf("wgmt%d", (int)getpid());
    net->svc_ns     = g_strdup_printf("%s-svc", net->prefix);
    net->peers      = g_ptr_array_new_with_free_func((GDestroyNotify)peer_free);
    net->namespaces = g_ptr_array_new_with_free_func(g_free);
    net->pgids      = g_array_new(FALSE, FALSE, sizeof(GPid));

    remove_stale_namespaces();

    net->dir = g_dir_make_tmp("wgm-net-XXXXXX", error);
    if (!net->dir)
        return NULL;
    if (!wgm_test_watchdog_start(&net->watchdog, watchdog_script, "wgm-test-watchdog", NULL, error))
        return NULL;
    wgm_test_watchdog_send(&net->watchdog, "dir %s\n", net->dir);

    for (guint i = 1; i <= n_peers; i++) {
        Peer *p = g_new0(Peer, 1);

        p->ready_fd     = -1;
        p->pub.index    = i;
        p->pub.ns       = g_strdup_printf("%s-p%u", net->prefix, i);
        p->pub.underlay = g_strdup_printf("10.200.%u.2", i);
        p->pub.port     = WGM_TEST_PEER_PORT;
        p->pub.tunnel   = g_strdup_printf("10.77.0.%u", i + 1);
        p->log_path     = g_strdup_printf("%s/p%u.log", net->dir, i);
        g_ptr_array_add(net->peers, p);
    }
    if (!make_keys(net, n_peers, error))
        return NULL;

    /* Told to the watchdog before they exist, so a crash half-way is covered. */
    g_ptr_array_add(net->namespaces, g_strdup(net->svc_ns));
    for (guint i = 1; i <= n_peers; i++)
        g_ptr_array_add(net->namespaces, g_strdup(get_peer(net, i)->pub.ns));
    for (guint i = 0; i < net->namespaces->len; i++)
        wgm_test_watchdog_send(&net->watchdog, "ns %s\n", (const char *)net->namespaces->pdata[i]);

    /* Every command names its namespace (-n, or netns on both veth ends, so
     * the veth is created inside them and never exists on the host). */
    g_string_append_printf(script, "ip netns add %s\n", net->svc_ns);
    g_string_append_printf(script, "ip -n %s link set lo up\n", net->svc_ns);
    for (guint i = 1; i <= n_peers; i++) {
        const char *ns = get_peer(net, i)->pub.ns;

        g_string_append_printf(script,
                               "ip netns add %2$s\n"
                               "ip -n %2$s link set lo up\n"
                               "ip link add vp%3$u netns %1$s type veth peer name vsvc netns %2$s\n"
                               "ip -n %1$s addr add 10.200.%3$u.1/24 dev vp%3$u\n"
                               "ip -n %1$s link set vp%3$u up\n"
                               "ip -n %2$s addr add 10.200.%3$u.2/24 dev vsvc\n"
                               "ip -n %2$s link set vsvc up\n",
                               net->svc_ns,
                               ns,
                               i);
    }
    if (!run_sh(script->str, NULL, error)) {
        g_prefix_error(error, "setting up the test namespaces: ");
        return NULL;
    }

    for (guint i = 1; i <= n_peers; i++) {
        if (!peer_spawn(net, get_peer(net, i), error))
            return NULL;
    }
    if (!peers_wait_ready(net, error))
        return NULL;
    return g_steal_pointer(&net);
}

void
wgm_test_net_free(WgmTestNet *net)
{
    g_autoptr(GString) script = g_string_new(NULL);
    g_autoptr(GError) error   = NULL;

    if (!net)
        return;

    for (guint i = 1; i <= net->peers->len; i++)
        peer_stop(net, get_peer(net, i));
    for (guint i = 0; i < net->pgids->len; i++) {
        GPid pgid = g_array_index(net->pgids, GPid, i);

        /* A leader reaped already (untrack it when reaping it) may have left
         * its ID to someone else; whatever of its group is left is in our
         * namespaces, which are emptied below anyway. */
        if (!leader_unreaped(pgid))
            g_test_message("tracked process group %d: its leader is reaped; not killing it",
                           (int)pgid);
        else if (kill(-pgid, SIGKILL) == 0)
            g_test_message("killed tracked process group %d", (int)pgid);
        wgm_test_watchdog_send(&net->watchdog, "unpg %d\n", (int)pgid);
    }

    /* E.g. a service under test still running, or a wireguard-go it left. */
    for (guint i = 0; i < net->namespaces->len; i++)
        netns_kill_all(net->namespaces->pdata[i], TERM_GRACE_MS);

    for (guint i = 0; i < net->namespaces->len; i++) {
        const char *ns = net->namespaces->pdata[i];

        if (wgm_test_netns_exists(ns))
            g_string_append_printf(script, "ip netns del %s\n", ns);
    }
    if (script->len && !run_sh(script->str, NULL, &error))
        g_warning("removing the test namespaces: %s", error->message);
    for (guint i = 0; i < net->namespaces->len; i++) {
        const char *ns = net->namespaces->pdata[i];

        if (wgm_test_netns_exists(ns))
            g_warning("network namespace %s is still there", ns);
    }

    wgm_test_watchdog_finish(&net->watchdog);
    wgm_test_remove_dir(net->dir);

    g_free(net->prefix);
    g_free(net->svc_ns);
    if (net->svc_private_key)
        memset(net->svc_private_key, 0, strlen(net->svc_private_key));
    g_free(net->svc_private_key);
    g_free(net->svc_public_key);
    g_free(net->dir);
    g_ptr_array_unref(net->peers);
    g_ptr_array_unref(net->namespaces);
    g_array_unref(net->pgids);
    g_free(net);
}

const char *
wgm_test_net_get_svc_ns(WgmTestNet *net)
{
    return net->svc_ns;
}

const char *
wgm_test_net_get_svc_private_key(WgmTestNet *net)
{
    return net->svc_private_key;
}

const char *
wgm_test_net_get_svc_public_key(WgmTestNet *net)
{
    return net->svc_public_key;
}

guint
wgm_test_net_get_n_peers(WgmTestNet *net)
{
    return net->peers->len;
}

const WgmTestPeer *
wgm_test_net_get_peer(WgmTestNet *net, guint i)
{
    Peer *p = get_peer(net, i);

    return p ? &p->pub : NULL;
}

char *
wgm_test_net_peer_endpoint(WgmTestNet *net, guint i)
{
    Peer *p = get_peer(net, i);

    return p ? g_strdup_printf("%s:%u", p->pub.underlay, p->pub.port) : NULL;
}

char **
wgm_test_net_wrap_argv(WgmTestNet *net, const char *ns)
{
    /* `ip netns exec` unshares the mount namespace and makes it a slave of
     * the host's, so this /run never shows on the host; it execs, and so
     * does the shell, so the caller's PID is the command's. */
    static const char script[] =
        "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/wireguard && exec \"$@\"";
    const char *argv[] = { "ip", "netns", "exec", ns, "sh", "-c", script, "sh", NULL };

    return g_strdupv((char **)argv);
}

void
wgm_test_net_track_pgid(WgmTestNet *net, GPid pgid)
{
    g_return_if_fail(pgid > 0);
    g_array_append_val(net->pgids, pgid);
    wgm_test_watchdog_send(&net->watchdog, "pg %d\n", (int)pgid);
}

void
wgm_test_net_untrack_pgid(WgmTestNet *net, GPid pgid)
{
    for (guint i = 0; i < net->pgids->len; i++) {
        if (g_array_index(net->pgids, GPid, i) == pgid) {
            g_array_remove_index_fast(net->pgids, i);
            wgm_test_watchdog_send(&net->watchdog, "unpg %d\n", (int)pgid);
            return;
        }
    }
    g_warning("process group %d is not tracked", (int)pgid);
}

static gboolean exec_va(const char *const *prefix,
                        char             **out_stdout,
                        GError           **error,
                        const char        *cmd_fmt,
                        va_list            ap) G_GNUC_PRINTF(4, 0);

static gboolean
exec_va(const char *const *prefix,
        char             **out_stdout,
        GError           **error,
        const char        *cmd_fmt,
        va_list            ap)
{
    g_autofree char *cmd      = g_strdup_vprintf(cmd_fmt, ap);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();

    for (guint i = 0; prefix[i]; i++)
        g_ptr_array_add(argv, (char *)prefix[i]);
    g_ptr_array_add(argv, "sh");
    g_ptr_array_add(argv, "-c");
    g_ptr_array_add(argv, cmd);
    g_ptr_array_add(argv, NULL);
    return wgm_test_run((const char *const *)argv->pdata, out_stdout, error);
}

gboolean
wgm_test_net_exec(WgmTestNet *net,
                  const char *ns,
                  char      **out_stdout,
                  GError    **error,
                  const char *cmd_fmt,
                  ...)
{
    const char *prefix[] = { "ip", "netns", "exec", ns, NULL };
    va_list     ap;
    gboolean    ok;

    va_start(ap, cmd_fmt);
    ok = exec_va(prefix, out_stdout, error, cmd_fmt, ap);
    va_end(ap);
    return ok;
}

static gboolean exec_in_pid_va(GPid        pid,
                               char      **out_stdout,
                               GError    **error,
                               const char *cmd_fmt,
                               va_list     ap) G_GNUC_PRINTF(4, 0);

/* Whether @pid's namespace of @kind ("mnt", "net") is not this process's. */
static gboolean
ns_differs(GPid pid, const char *kind)
{
    g_autofree char *path   = g_strdup_printf("/proc/%d/ns/%s", (int)pid, kind);
    g_autofree char *self   = g_strdup_printf("/proc/self/ns/%s", kind);
    g_autofree char *theirs = g_file_read_link(path, NULL);
    g_autofree char *ours   = g_file_read_link(self, NULL);

    return theirs && ours && !g_str_equal(theirs, ours);
}

/* A process just spawned through wgm_test_net_wrap_argv() enters its
 * namespaces a moment later (`ip netns exec` joins the network namespace,
 * then unshares the mount namespace); nsenter before that would run the
 * command in the host's.  Waits (10 s at most) until it has. */
static gboolean
wait_own_namespaces(GPid pid, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!ns_differs(pid, "net") || !ns_differs(pid, "mnt")) {
        if (!wgm_test_pid_alive(pid) || g_get_monotonic_time() > deadline) {
            g_set_error(error,
                        G_IO_ERROR,
                        G_IO_ERROR_FAILED,
                        "process %d is not in network and mount namespaces of its own",
                        (int)pid);
            return FALSE;
        }
        g_usleep(5 * G_TIME_SPAN_MILLISECOND);
    }
    return TRUE;
}

static gboolean
exec_in_pid_va(GPid pid, char **out_stdout, GError **error, const char *cmd_fmt, va_list ap)
{
    g_autofree char *target   = g_strdup_printf("%d", (int)pid);
    const char      *prefix[] = { "nsenter", "-t", target, "-m", "-n", NULL };

    if (!wait_own_namespaces(pid, error))
        return FALSE;
    return exec_va(prefix, out_stdout, error, cmd_fmt, ap);
}

gboolean
wgm_test_net_exec_in_service(WgmTestNet *net,
                             GPid        pid,
                             char      **out_stdout,
                             GError    **error,
                             const char *cmd_fmt,
                             ...)
{
    va_list  ap;
    gboolean ok;

    va_start(ap, cmd_fmt);
    ok = exec_in_pid_va(pid, out_stdout, error, cmd_fmt, ap);
    va_end(ap);
    return ok;
}

gboolean
wgm_test_net_peer_exec(WgmTestNet *net,
                       guint       i,
                       char      **out_stdout,
                       GError    **error,
                       const char *cmd_fmt,
                       ...)
{
    Peer    *p = get_peer(net, i);
    va_list  ap;
    gboolean ok;

    g_return_val_if_fail(p, FALSE);
    if (p->pub.pid <= 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "peer %u is not running", i);
        return FALSE;
    }
    va_start(ap, cmd_fmt);
    ok = exec_in_pid_va(p->pub.pid, out_stdout, error, cmd_fmt, ap);
    va_end(ap);
    return ok;
}

gboolean
wgm_test_net_ping(WgmTestNet *net, const char *ns, const char *addr, guint count, guint timeout_s)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out    = NULL;

    /* With -c and -w, ping fails unless @count replies come before the deadline. */
    if (!wgm_test_net_exec(
            net, ns, &out, &error, "ping -n -q -i 0.2 -c %u -w %u %s", count, timeout_s, addr)) {
        g_test_message("ping %s from %s: %s", addr, ns, error->message);
        return FALSE;
    }
    return TRUE;
}

gboolean
wgm_test_net_wait_link_gone(WgmTestNet *net, const char *ns, const char *ifname, guint timeout_ms)
{
    gint64      deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    const char *argv[]   = { "ip", "-n", ns, "link", "show", "dev", ifname, NULL };

    for (;;) {
        if (!wgm_test_run(argv, NULL, NULL))
            return TRUE;
        if (g_get_monotonic_time() >= deadline)
            return FALSE;
        g_usleep(50 * 1000);
    }
}

guint
wgm_test_net_count_processes(WgmTestNet *net, const char *ns)
{
    g_autoptr(GArray) pids = netns_pids(ns);
    guint n                = 0;

    for (guint i = 0; i < pids->len; i++)
        n += wgm_test_pid_alive(g_array_index(pids, GPid, i));
    return n;
}

gboolean
wgm_test_net_wait_processes(WgmTestNet *net, const char *ns, guint n, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (wgm_test_net_count_processes(net, ns) != n) {
        if (g_get_monotonic_time() >= deadline)
            return FALSE;
        g_usleep(10 * 1000);
    }
    return TRUE;
}

void
wgm_test_net_peer_kill(WgmTestNet *net, guint i)
{
    Peer *p = get_peer(net, i);

    g_return_if_fail(p);
    peer_stop(net, p);
}

gboolean
wgm_test_net_peer_restart(WgmTestNet *net, guint i, GError **error)
{
    Peer *p = get_peer(net, i);

    g_return_val_if_fail(p, FALSE);
    peer_stop(net, p);
    /* The old wireguard-go may outlive its reaped shell by a moment; its
     * TUN device goes with it. */
    if (!wgm_test_net_wait_link_gone(net, p->pub.ns, "wgp0", 5000)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY, "peer %u: old wgp0 still exists", i);
        return FALSE;
    }
    if (!peer_spawn(net, p, error))
        return FALSE;
    return peers_wait_ready(net, error);
}
