/* SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE /* pipe2, close_range */
#include "config.h"

#include "wgm-test-nm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wgm-test-netns.h"

#define NETNS_DIR "/run/netns"

struct _WgmTestNm {
    char            *script; /* nm-sandbox.sh */
    char            *dir;
    char            *prefix;
    GHashTable      *vars; /* sandbox.env */
    char            *bus_address;
    GDBusConnection *bus;
    GPid             watchdog_pid;
    int              watchdog_fd;
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
    const char *env = g_getenv("WGM_NM_SANDBOX");

    return env && *env ? env : WGM_NM_SANDBOX_SH;
}

static const char *
build_root(void)
{
    const char *env = g_getenv("WGM_BUILD_DIR");

    return env && *env ? env : WGM_BUILD_ROOT;
}

/* Runs @argv; FALSE with its output in @error unless it exits 0. */
static gboolean
run(const char *const *argv, char **out_stdout, GError **error)
{
    g_autofree char *out    = NULL;
    g_autofree char *err    = NULL;
    int              status = 0;

    if (!g_spawn_sync(NULL,
                      (char **)argv,
                      NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL,
                      NULL,
                      NULL,
                      &out,
                      &err,
                      &status,
                      error))
        return FALSE;
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_autofree char *cmd = g_strjoinv(" ", (char **)argv);

        g_set_error(error,
                    G_IO_ERROR,
                    G_IO_ERROR_FAILED,
                    "`%s` failed (wait status 0x%x): %s%s%s",
                    cmd,
                    status,
                    g_strstrip(err),
                    *err && *out ? "\n" : "",
                    g_strstrip(out));
        return FALSE;
    }
    if (out_stdout)
        *out_stdout = g_steal_pointer(&out);
    return TRUE;
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
    g_autofree char *test_pid = g_strdup_printf("%d", (int)getpid());
    char            *argv[] = { "sh", "-c", (char *)watchdog_script, "wgm-test-nm-watchdog", NULL };
    g_auto(GStrv) envp      = g_get_environ();
    int   fds[2];
    int   devnull;
    pid_t pid;

    /* A dead watchdog must not kill the test with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    envp    = g_environ_setenv(envp, "WGM_TEST_PID", test_pid, TRUE);
    envp    = g_environ_setenv(envp, "WGM_NM_SANDBOX", nm->script, TRUE);
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || pipe2(fds, O_CLOEXEC) < 0) {
        int errsv = errno;

        if (devnull >= 0)
            close(devnull);
        g_set_error(error,
                    G_IO_ERROR,
                    g_io_error_from_errno(errsv),
                    "watchdog pipe: %s",
                    g_strerror(errsv));
        return FALSE;
    }
    pid = fork();
    if (pid < 0) {
        int errsv = errno;

        close(fds[0]);
        close(fds[1]);
        close(devnull);
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errsv), "fork: %s", g_strerror(errsv));
        return FALSE;
    }
    if (pid == 0) {
        /* Async-signal-safe calls only.  Its own session: a test runner
         * killing the test's process group must spare it. */
        setsid();
        if (dup2(fds[0], 0) < 0 || dup2(devnull, 1) < 0)
            _exit(127);
        /* Above all not the write end, or EOF never comes. */
        close_range(3, ~0U, 0);
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    close(fds[0]);
    close(devnull);
    nm->watchdog_pid = pid;
    nm->watchdog_fd  = fds[1];
    return TRUE;
}

static void
watchdog_finish(WgmTestNm *nm)
{
    static const char done[] = "done\n";
    int               status;

    if (nm->watchdog_fd < 0)
        return;
    if (write(nm->watchdog_fd, done, sizeof(done) - 1) < 0)
        g_warning("watchdog: %s", g_strerror(errno));
    close(nm->watchdog_fd);
    nm->watchdog_fd = -1;
    while (waitpid(nm->watchdog_pid, &status, 0) < 0 && errno == EINTR)
        ;
    nm->watchdog_pid = 0;
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

        if (!eq)
            continue;
        g_hash_table_insert(nm->vars, g_strndup(lines[i], eq - lines[i]), g_strdup(eq + 1));
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

    nm->watchdog_fd = -1;
    nm->script      = g_strdup(sandbox_script());
    nm->vars        = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (!watchdog_start(nm, error))
        return NULL;
    {
        const char *argv[] = { nm->script, "start",      "--peers", peers, "--meshes", meshes,
                               "--build",  build_root(), "--owner", owner, NULL };

        if (!run(argv, &out, error)) {
            nm->stopped = TRUE; /* start removes what it made when it fails */
            return NULL;
        }
    }
    nm->dir = g_strdup(g_strstrip(out));
    if (!load_vars(nm, error))
        return NULL;
    nm->prefix      = g_strdup(wgm_test_nm_get_var(nm, "PREFIX"));
    nm->bus_address = g_strdup_printf("unix:path=%s/run/dbus/system_bus_socket", nm->dir);
    nm->bus =
        g_dbus_connection_new_for_address_sync(nm->bus_address,
                                               G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
                                                   | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                               NULL,
                                               NULL,
                                               error);
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
    g_autoptr(GDir) dir  = g_dir_open(NETNS_DIR, 0, NULL);
    g_autofree char *pfx = g_strdup_printf("%s-", nm->prefix);
    const char      *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(NETNS_DIR, name, NULL);
        struct stat      st;

        if (g_str_has_prefix(name, pfx) && stat(path, &st) == 0)
            g_array_append_val(ids, st);
    }
    return ids;
}

static gboolean
pid_alive(const char *pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%s/stat", pid);
    g_autofree char *stat = NULL;
    const char      *paren;

    if (!g_file_get_contents(path, &stat, NULL, NULL))
        return FALSE;
    /* "pid (comm) S ...": a zombie holds nothing any more. */
    paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static char *
comm_of(const char *pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%s/comm", pid);
    char            *comm = NULL;

    if (!g_file_get_contents(path, &comm, NULL, NULL))
        return g_strdup("?");
    return g_strstrip(comm);
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

/* "comm[pid]" of live processes in any of the namespaces @ids. */
static GPtrArray *
processes_in(GArray *ids, const char *only_comm)
{
    GPtrArray *found     = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
    const char *name;

    while (proc && (name = g_dir_read_name(proc))) {
        g_autofree char *link = NULL;
        g_autofree char *comm = NULL;
        struct stat      st;
        gboolean         match = FALSE;

        if (!g_ascii_isdigit(name[0]))
            continue;
        link = g_strdup_printf("/proc/%s/ns/net", name);
        if (stat(link, &st) < 0)
            continue;
        for (guint i = 0; i < ids->len && !match; i++) {
            const struct stat *ns = &g_array_index(ids, struct stat, i);

            match = ns->st_ino == st.st_ino && ns->st_dev == st.st_dev;
        }
        if (!match || !pid_alive(name))
            continue;
        comm = comm_of(name);
        if (only_comm && !g_str_equal(comm, only_comm))
            continue;
        g_ptr_array_add(found, g_strdup_printf("%s[%s]", comm, name));
    }
    g_ptr_array_sort(found, compare_strings);
    return found;
}

static char *
join(GPtrArray *strings)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < strings->len; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", (const char *)strings->pdata[i]);
    return g_string_free(s, FALSE);
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
    if (!run(argv, NULL, &local))
        g_string_append_printf(problems, "%s; ", local->message);
    watchdog_finish(nm);

    /* The namespaces are deleted; their processes must be gone with them
     * (a process would keep its namespace alive). */
    left = processes_in(ids, NULL);
    if (left->len) {
        g_autofree char *list = join(left);

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
    watchdog_finish(nm);
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

    if (!run(argv, &out, &error))
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

static char **
exec_argv(WgmTestNm *nm, const char *cmd)
{
    const char *argv[] = { nm->script, "exec", nm->dir, "sh", "-c", cmd, NULL };

    return g_strdupv((char **)argv);
}

gboolean
wgm_test_nm_exec(WgmTestNm *nm, char **out_stdout, GError **error, const char *fmt, ...)
{
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv   = NULL;
    va_list ap;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    argv = exec_argv(nm, cmd);
    return run((const char *const *)argv, out_stdout, error);
}

int
wgm_test_nm_exec_status(WgmTestNm *nm, char **out_output, const char *fmt, ...)
{
    g_autofree char *cmd    = NULL;
    g_autofree char *merged = NULL;
    g_autofree char *out    = NULL;
    g_auto(GStrv) argv      = NULL;
    g_autoptr(GError) error = NULL;
    int     status;
    va_list ap;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    merged = g_strdup_printf("exec 2>&1\n%s", cmd);
    argv   = exec_argv(nm, merged);
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
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv   = NULL;
    va_list ap;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    argv = exec_argv(nm, cmd);
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
    g_autofree char *pid      = NULL;

    if (!g_file_get_contents(path, &contents, NULL, NULL))
        return 0;
    pid = g_strdup(g_strstrip(contents));
    return pid_alive(pid) ? (GPid)g_ascii_strtoll(pid, NULL, 10) : 0;
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

    return run(argv, NULL, error);
}

gboolean
wgm_test_nm_start_nm(WgmTestNm *nm, GError **error)
{
    const char *argv[] = { nm->script, "nm-start", nm->dir, NULL };

    return run(argv, NULL, error);
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
    g_autofree char *path = g_build_filename(NETNS_DIR, wgm_test_nm_get_var(nm, "NS_NM"), NULL);
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

    if (!run(argv, &out, &error))
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
    g_ptr_array_sort(names, compare_strings);
    return join(names);
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
    g_ptr_array_sort(found, compare_strings);
    return found;
}
