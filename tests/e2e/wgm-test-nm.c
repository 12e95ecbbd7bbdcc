/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-test-nm.h"

#include <string.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wgm-test-netns.h"
#include "wgm-test-util.h"

struct _WgmTestNm {
    char            *script; /* nm-sandbox.sh */
    char            *dir;
    char            *prefix;
    GHashTable      *vars; /* sandbox.env */
    char            *bus_address;
    GDBusConnection *bus;
    WgmTestWatchdog  watchdog;
    gboolean         stopped;
};

/* EOF without "done": the test process died; remove its sandboxes. */
static const char watchdog_script[] =
    "while read -r line; do [ \"$line\" = done ] && exit 0; done\n"
    "echo \"wgm-test-nm watchdog: test process $WGM_TEST_PID died; removing its sandboxes\" >&2\n"
    "exec \"$WGM_NM_SANDBOX\" stop-owner \"$WGM_TEST_PID\" >/dev/null\n";

static const char *
sandbox_script(void)
{
    return wgm_test_getenv_or("WGM_NM_SANDBOX", WGM_NM_SANDBOX_SH);
}

static const char *
build_root(void)
{
    return wgm_test_getenv_or("WGM_BUILD_DIR", WGM_BUILD_ROOT);
}

gboolean
wgm_test_nm_require(void)
{
    static const char *const programs[] = { "NetworkManager", "nmcli",   "nm-online", "dbus-daemon",
                                            "gdbus",          "python3", "unshare" };
    const char              *ci         = g_getenv("CI");
    g_autofree char         *script     = NULL;

    if (!wgm_test_require_root())
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(programs); i++) {
        g_autofree char *path = g_find_program_in_path(programs[i]);

        if (!path) {
            g_autofree char *reason =
                g_strdup_printf("`%s` not found (the e2e sandbox needs it)", programs[i]);

            if (g_strcmp0(ci, "true") == 0 || g_strcmp0(ci, "1") == 0)
                g_error("e2e tests must run in CI, but: %s", reason);
            g_test_skip(reason);
            return FALSE;
        }
    }
    script = g_build_filename(build_root(), "data", "nm-wgmesh-service.build.name", NULL);
    if (!g_file_test(script, G_FILE_TEST_EXISTS))
        g_error("%s is missing: is %s a configured build tree?", script, build_root());
    return TRUE;
}

/* ---- the watchdog ---- */

static gboolean
watchdog_start(WgmTestNm *nm, GError **error)
{
    g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "WGM_NM_SANDBOX", nm->script, TRUE);

    return wgm_test_watchdog_start(
        &nm->watchdog, watchdog_script, "wgm-test-nm-watchdog", envp, error);
}

/* ---- start and stop ---- */

static gboolean
load_vars(WgmTestNm *nm, GError **error)
{
    g_autofree char *path     = g_build_filename(nm->dir, "sandbox.env", NULL);
    g_autofree char *contents = NULL;
    g_auto(GStrv) lines       = NULL;

    if (!g_file_get_contents(path, &contents, NULL, error))
        return FALSE;
    lines = g_strsplit(contents, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char *eq = strchr(lines[i], '=');
        char *value;

        if (!eq)
            continue;
        /* NAME=VALUE with VALUE quoted for the shell (printf %q), which
         * sources the file. */
        value = g_shell_unquote(eq + 1, error);
        if (!value) {
            g_prefix_error(error, "%s, line %u: ", path, i + 1);
            return FALSE;
        }
        g_hash_table_insert(nm->vars, g_strndup(lines[i], eq - lines[i]), value);
    }
    return TRUE;
}

WgmTestNm *
wgm_test_nm_new(guint n_peers, guint n_meshes, GError **error)
{
    g_autoptr(WgmTestNm) nm = g_new0(WgmTestNm, 1);
    g_autofree char *peers  = g_strdup_printf("%u", n_peers);
    g_autofree char *meshes = g_strdup_printf("%u", n_meshes);
    g_autofree char *owner  = g_strdup_printf("%d", (int)getpid());
    g_autofree char *out    = NULL;
    gint64           t0     = g_get_monotonic_time();

    nm->watchdog = (WgmTestWatchdog)WGM_TEST_WATCHDOG_INIT;
    nm->script   = g_strdup(sandbox_script());
    nm->vars     = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (!watchdog_start(nm, error))
        return NULL;
    {
        const char *argv[] = { nm->script, "start",      "--peers", peers, "--meshes", meshes,
                               "--build",  build_root(), "--owner", owner, NULL };

        if (!wgm_test_run(argv, &out, error)) {
            nm->stopped = TRUE; /* start removes what it made when it fails */
            return NULL;
        }
    }
    nm->dir = g_strdup(g_strstrip(out));
    if (!load_vars(nm, error))
        return NULL;
    nm->prefix      = g_strdup(wgm_test_nm_get_var(nm, "PREFIX"));
    nm->bus_address = g_strdup_printf("unix:path=%s/run/dbus/system_bus_socket", nm->dir);
    nm->bus         = wgm_test_dbus_connect(nm->bus_address, error);
    if (!nm->bus)
        return NULL;
    g_test_message("sandbox %s: NetworkManager pid %d, %u peers, ready in %.0f ms",
                   nm->prefix,
                   (int)wgm_test_nm_get_nm_pid(nm),
                   n_peers,
                   (g_get_monotonic_time() - t0) / 1000.0);
    return g_steal_pointer(&nm);
}

/* Identities (device, inode) of the sandbox's network namespaces. */
static GArray *
namespace_ids(WgmTestNm *nm)
{
    GArray *ids          = g_array_new(FALSE, FALSE, sizeof(struct stat));
    g_autoptr(GDir) dir  = g_dir_open(WGM_TEST_NETNS_DIR, 0, NULL);
    g_autofree char *pfx = g_strdup_printf("%s-", nm->prefix);
    const char      *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(WGM_TEST_NETNS_DIR, name, NULL);
        struct stat      st;

        if (g_str_has_prefix(name, pfx) && stat(path, &st) == 0)
            g_array_append_val(ids, st);
    }
    return ids;
}

/* "comm[pid]" of live processes in any of the namespaces @ids. */
static GPtrArray *
processes_in(GArray *ids, const char *only_comm)
{
    GPtrArray *found = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) pids =
        wgm_test_netns_pids((const struct stat *)(gpointer)ids->data, ids->len);

    for (guint i = 0; i < pids->len; i++) {
        GPid             pid  = g_array_index(pids, GPid, i);
        g_autofree char *comm = NULL;

        if (!wgm_test_pid_alive(pid))
            continue;
        comm = wgm_test_process_name(pid);
        if (only_comm && !g_str_equal(comm, only_comm))
            continue;
        g_ptr_array_add(found, g_strdup_printf("%s[%d]", comm, (int)pid));
    }
    g_ptr_array_sort(found, wgm_test_compare_strings);
    return found;
}

gboolean
wgm_test_nm_stop(WgmTestNm *nm, GError **error)
{
    g_autoptr(GArray) ids       = NULL;
    g_autoptr(GPtrArray) left   = NULL;
    g_autoptr(GString) problems = g_string_new(NULL);
    g_autofree char *mountinfo  = NULL;
    g_autoptr(GError) local     = NULL;
    const char *argv[]          = { nm->script, "stop", nm->dir, NULL };

    if (nm->stopped)
        return TRUE;
    nm->stopped = TRUE;
    if (nm->bus) {
        g_dbus_connection_close_sync(nm->bus, NULL, NULL);
        g_clear_object(&nm->bus);
    }

    ids = namespace_ids(nm);
    if (!wgm_test_run(argv, NULL, &local))
        g_string_append_printf(problems, "%s; ", local->message);
    wgm_test_watchdog_finish(&nm->watchdog);

    /* The namespaces are deleted; their processes must be gone with them
     * (a process would keep its namespace alive). */
    left = processes_in(ids, NULL);
    if (left->len) {
        g_autofree char *list = wgm_test_join(left);

        g_string_append_printf(problems, "processes left: %s; ", list);
    }
    {
        g_autoptr(GArray) after = namespace_ids(nm);

        if (after->len)
            g_string_append_printf(problems, "%u namespaces %s-* left; ", after->len, nm->prefix);
    }
    if (g_file_test(nm->dir, G_FILE_TEST_EXISTS))
        g_string_append_printf(problems, "%s is left; ", nm->dir);
    /* All mounts were made in the sandbox's own mount namespaces. */
    if (g_file_get_contents("/proc/self/mountinfo", &mountinfo, NULL, NULL)
        && (strstr(mountinfo, nm->dir) || strstr(mountinfo, nm->prefix)))
        g_string_append_printf(
            problems, "a mount of %s is in the test's mount namespace; ", nm->dir);

    if (problems->len) {
        g_string_truncate(problems, problems->len - 2);
        g_set_error(
            error, G_IO_ERROR, G_IO_ERROR_FAILED, "sandbox %s: %s", nm->prefix, problems->str);
        return FALSE;
    }
    return TRUE;
}

void
wgm_test_nm_free(WgmTestNm *nm)
{
    g_autoptr(GError) error = NULL;

    if (!nm)
        return;
    if (nm->dir && !wgm_test_nm_stop(nm, &error))
        g_warning("%s", error->message);
    wgm_test_watchdog_finish(&nm->watchdog);
    g_clear_object(&nm->bus);
    g_free(nm->script);
    g_free(nm->dir);
    g_free(nm->prefix);
    g_free(nm->bus_address);
    g_hash_table_unref(nm->vars);
    g_free(nm);
}

/* ---- accessors ---- */

const char *
wgm_test_nm_get_dir(WgmTestNm *nm)
{
    return nm->dir;
}

const char *
wgm_test_nm_get_var(WgmTestNm *nm, const char *name)
{
    return g_hash_table_lookup(nm->vars, name);
}

guint
wgm_test_nm_get_n_peers(WgmTestNm *nm)
{
    return (guint)g_ascii_strtoull(wgm_test_nm_get_var(nm, "PEERS"), NULL, 10);
}

char *
wgm_test_nm_vpn_data(WgmTestNm *nm, guint mesh)
{
    g_autofree char *m      = g_strdup_printf("%u", mesh);
    const char      *argv[] = { nm->script, "vpn-data", nm->dir, m, NULL };
    g_autoptr(GError) error = NULL;
    char *out               = NULL;

    if (!wgm_test_run(argv, &out, &error))
        g_error("%s", error->message);
    return g_strstrip(out);
}

char *
wgm_test_nm_peer_tunnel(guint mesh, guint peer)
{
    return g_strdup_printf("10.77.%u.%u", mesh, peer + 1);
}

char *
wgm_test_nm_mesh_address(guint mesh)
{
    return g_strdup_printf("10.77.%u.1/24", mesh);
}

GDBusConnection *
wgm_test_nm_get_bus(WgmTestNm *nm)
{
    return nm->bus;
}

const char *
wgm_test_nm_get_bus_address(WgmTestNm *nm)
{
    return nm->bus_address;
}

/* ---- commands inside ---- */

static char **exec_argv_va(WgmTestNm *nm, const char *shell_prefix, const char *fmt, va_list ap)
    G_GNUC_PRINTF(3, 0);

/* `nm-sandbox.sh exec DIR sh -c '<@shell_prefix><@fmt...>'` */
static char **
exec_argv_va(WgmTestNm *nm, const char *shell_prefix, const char *fmt, va_list ap)
{
    g_autofree char *cmd    = g_strdup_vprintf(fmt, ap);
    g_autofree char *script = g_strconcat(shell_prefix, cmd, NULL);
    const char      *argv[] = { nm->script, "exec", nm->dir, "sh", "-c", script, NULL };

    return g_strdupv((char **)argv);
}

gboolean
wgm_test_nm_exec(WgmTestNm *nm, char **out_stdout, GError **error, const char *fmt, ...)
{
    g_auto(GStrv) argv = NULL;
    va_list ap;

    va_start(ap, fmt);
    argv = exec_argv_va(nm, "", fmt, ap);
    va_end(ap);
    return wgm_test_run((const char *const *)argv, out_stdout, error);
}

int
wgm_test_nm_exec_status(WgmTestNm *nm, char **out_output, const char *fmt, ...)
{
    g_autofree char *out    = NULL;
    g_auto(GStrv) argv      = NULL;
    g_autoptr(GError) error = NULL;
    int     status;
    va_list ap;

    va_start(ap, fmt);
    argv = exec_argv_va(nm, "exec 2>&1\n", fmt, ap);
    va_end(ap);
    if (!g_spawn_sync(NULL,
                      argv,
                      NULL,
                      G_SPAWN_STDIN_FROM_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL,
                      NULL,
                      &out,
                      NULL,
                      &status,
                      &error)) {
        if (out_output)
            *out_output = g_strdup(error->message);
        return -1;
    }
    if (out_output)
        *out_output = g_steal_pointer(&out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

GSubprocess *
wgm_test_nm_spawn(WgmTestNm *nm, GError **error, const char *fmt, ...)
{
    g_auto(GStrv) argv = NULL;
    va_list ap;

    va_start(ap, fmt);
    argv = exec_argv_va(nm, "", fmt, ap);
    va_end(ap);
    return g_subprocess_newv((const char *const *)argv,
                             G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                             error);
}

/* ---- NetworkManager itself ---- */

GPid
wgm_test_nm_get_nm_pid(WgmTestNm *nm)
{
    g_autofree char *path     = g_build_filename(nm->dir, "nm.pid", NULL);
    g_autofree char *contents = NULL;
    GPid             pid;

    if (!g_file_get_contents(path, &contents, NULL, NULL))
        return 0;
    pid = (GPid)g_ascii_strtoll(g_strstrip(contents), NULL, 10);
    return pid > 0 && wgm_test_pid_alive(pid) ? pid : 0;
}

GPid
wgm_test_nm_get_bus_pid(WgmTestNm *nm)
{
    g_autofree char *path     = g_build_filename(nm->dir, "anchor.pid", NULL);
    g_autofree char *contents = NULL;

    if (!g_file_get_contents(path, &contents, NULL, NULL))
        return 0;
    return (GPid)g_ascii_strtoll(contents, NULL, 10);
}

gboolean
wgm_test_nm_stop_nm(WgmTestNm *nm, GError **error)
{
    const char *argv[] = { nm->script, "nm-stop", nm->dir, NULL };

    return wgm_test_run(argv, NULL, error);
}

gboolean
wgm_test_nm_start_nm(WgmTestNm *nm, GError **error)
{
    const char *argv[] = { nm->script, "nm-start", nm->dir, NULL };

    return wgm_test_run(argv, NULL, error);
}

/* ---- observations ---- */

static char *
log_path(WgmTestNm *nm)
{
    return g_build_filename(nm->dir, "log", "nm.log", NULL);
}

gsize
wgm_test_nm_log_mark(WgmTestNm *nm)
{
    g_autofree char *path = log_path(nm);
    struct stat      st;

    return stat(path, &st) == 0 ? (gsize)st.st_size : 0;
}

char *
wgm_test_nm_log_since(WgmTestNm *nm, gsize mark)
{
    g_autofree char *path     = log_path(nm);
    g_autofree char *contents = NULL;
    gsize            len      = 0;

    if (!g_file_get_contents(path, &contents, &len, NULL) || mark >= len)
        return g_strdup("");
    return g_strdup(contents + mark);
}

GPtrArray *
wgm_test_nm_processes(WgmTestNm *nm, const char *comm)
{
    g_autofree char *path =
        g_build_filename(WGM_TEST_NETNS_DIR, wgm_test_nm_get_var(nm, "NS_NM"), NULL);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(struct stat));
    struct stat st;

    if (stat(path, &st) == 0)
        g_array_append_val(ids, st);
    return processes_in(ids, comm);
}

int
wgm_test_nm_count_fds(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)pid);
    g_autoptr(GDir) dir   = g_dir_open(path, 0, NULL);
    int n                 = 0;

    if (!dir)
        return -1;
    while (g_dir_read_name(dir))
        n++;
    return n;
}

char *
wgm_test_nm_links(WgmTestNm *nm)
{
    const char *argv[] = {
        "ip", "-n", wgm_test_nm_get_var(nm, "NS_NM"), "-o", "link", "show", NULL
    };
    g_autoptr(GError) error    = NULL;
    g_autofree char *out       = NULL;
    g_auto(GStrv) lines        = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

    if (!wgm_test_run(argv, &out, &error))
        return g_strdup(error->message);
    lines = g_strsplit(out, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) fields = g_strsplit(lines[i], ": ", 3);
        char *at;

        if (g_strv_length(fields) < 2)
            continue;
        at = strchr(fields[1], '@');
        if (at)
            *at = '\0';
        g_ptr_array_add(names, g_strdup(fields[1]));
    }
    g_ptr_array_sort(names, wgm_test_compare_strings);
    return wgm_test_join(names);
}

GPtrArray *
wgm_test_nm_list_names(WgmTestNm *nm, const char *prefix)
{
    GPtrArray *found           = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GVariant) reply  = NULL;
    g_autoptr(GVariantIter) it = NULL;
    g_autoptr(GError) error    = NULL;
    const char *name;

    reply = g_dbus_connection_call_sync(nm->bus,
                                        "org.freedesktop.DBus",
                                        "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus",
                                        "ListNames",
                                        NULL,
                                        G_VARIANT_TYPE("(as)"),
                                        G_DBUS_CALL_FLAGS_NONE,
                                        5000,
                                        NULL,
                                        &error);
    if (!reply) {
        g_test_message("ListNames: %s", error->message);
        return found;
    }
    g_variant_get(reply, "(as)", &it);
    while (g_variant_iter_next(it, "&s", &name)) {
        if (g_str_has_prefix(name, prefix))
            g_ptr_array_add(found, g_strdup(name));
    }
    g_ptr_array_sort(found, wgm_test_compare_strings);
    return found;
}

GHashTable *
wgm_test_nm_peers(WgmTestNm *nm, const char *bus_name)
{
    GHashTable *peers =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
    g_autoptr(GError) error     = NULL;
    g_autofree char *out        = NULL;
    g_autoptr(GVariant) reply   = NULL;
    g_autoptr(GVariant) objects = NULL;
    GVariantIter iter;
    GVariant    *ifaces;

    wgm_test_nm_exec(nm,
                     &out,
                     &error,
                     "gdbus call --system --dest %s --object-path %s "
                     "--method org.freedesktop.DBus.ObjectManager.GetManagedObjects",
                     bus_name,
                     WGM_TEST_NM_MESH_PATH);
    g_assert_no_error(error);
    reply = g_variant_parse(G_VARIANT_TYPE("(a{oa{sa{sv}}})"), out, NULL, NULL, &error);
    g_assert_no_error(error);
    objects = g_variant_get_child_value(reply, 0);
    g_variant_iter_init(&iter, objects);
    while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", NULL, &ifaces)) {
        GVariant *props =
            g_variant_lookup_value(ifaces, "org.freedesktop.NetworkManager.wgmesh.Peer", NULL);
        const char *name = NULL;

        g_variant_unref(ifaces);
        if (!props)
            continue;
        g_assert_true(g_variant_lookup(props, "Name", "&s", &name));
        g_hash_table_insert(peers, g_strdup(name), props);
    }
    return peers;
}

void
wgm_test_nm_clear(WgmTestNm **nm)
{
    g_autoptr(GError) error = NULL;

    if (!*nm)
        return;
    wgm_test_nm_stop(*nm, &error);
    g_assert_no_error(error);
    g_clear_pointer(nm, wgm_test_nm_free);
}

gboolean
wgm_test_nm_log_find(const char *log, const char *needle, double *out_t, char **out_line)
{
    const char *hit = strstr(log, needle);
    const char *start, *end, *bracket;

    if (!hit)
        return FALSE;
    for (start = hit; start > log && start[-1] != '\n'; start--)
        ;
    end = strchr(hit, '\n');
    if (!end)
        end = hit + strlen(hit);
    bracket = memchr(start, '[', hit - start);
    if (out_t)
        *out_t = bracket ? g_ascii_strtod(bracket + 1, NULL) : 0;
    if (out_line)
        *out_line = g_strndup(start, end - start);
    return TRUE;
}

gboolean
wgm_test_nm_log_wait(WgmTestNm  *nm,
                     gsize       mark,
                     const char *needle,
                     guint       timeout_s,
                     double     *out_t,
                     char      **out_line)
{
    for (gint64 end = g_get_monotonic_time() + timeout_s * G_USEC_PER_SEC;;) {
        g_autofree char *log = wgm_test_nm_log_since(nm, mark);

        if (wgm_test_nm_log_find(log, needle, out_t, out_line))
            return TRUE;
        if (g_get_monotonic_time() > end)
            return FALSE;
        g_usleep(20 * 1000);
    }
}
