/* SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE /* pipe2, close_range */
#include "config.h"

#include "wgm-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

const char *
wgm_test_getenv_or(const char *name, const char *fallback)
{
    const char *env = g_getenv(name);

    return env && *env ? env : fallback;
}

const char *
wgm_test_wireguard_go(void)
{
    return wgm_test_getenv_or("WGM_WIREGUARD_GO", WGM_WIREGUARD_GO);
}

gboolean
wgm_test_fail_errno(GError **error, int errsv, const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list          ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errsv), "%s: %s", what, g_strerror(errsv));
    return FALSE;
}

/* ---- processes ---- */

gboolean
wgm_test_run(const char *const *argv, char **out_stdout, GError **error)
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
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_autofree char *cmd = g_strjoinv(" ", (char **)argv);

        g_strstrip(err);
        g_strstrip(out);
        g_set_error(error,
                    G_IO_ERROR,
                    G_IO_ERROR_FAILED,
                    "`%s` failed (wait status 0x%x): %s%s%s",
                    cmd,
                    status,
                    err,
                    *err && *out ? "\n" : "",
                    out);
        return FALSE;
    }
    if (out_stdout)
        *out_stdout = g_steal_pointer(&out);
    return TRUE;
}

int
wgm_test_waitpid(GPid pid)
{
    int status = 0;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

void
wgm_test_child_setup_setsid(gpointer user_data)
{
    setsid();
}

gboolean
wgm_test_pid_alive(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *stat = NULL;
    const char      *paren;

    if (!g_file_get_contents(path, &stat, NULL, NULL))
        return FALSE;
    /* "pid (comm) S ...": a zombie holds nothing any more. */
    paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

char *
wgm_test_process_name(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/comm", (int)pid);
    char            *comm = NULL;

    if (!g_file_get_contents(path, &comm, NULL, NULL))
        return g_strdup("?");
    return g_strstrip(comm);
}

gboolean
wgm_test_name_is_stale(const char *name, const char *prefix)
{
    const char *rest;
    char       *end;
    long        pid;

    if (!g_str_has_prefix(name, prefix))
        return FALSE;
    rest = name + strlen(prefix);
    pid  = strtol(rest, &end, 10);
    if (end == rest || *end != '-' || pid <= 0)
        return FALSE;
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* ---- network namespaces ---- */

gboolean
wgm_test_netns_exists(const char *ns)
{
    g_autofree char *path = g_build_filename(WGM_TEST_NETNS_DIR, ns, NULL);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}

GArray *
wgm_test_netns_pids(const struct stat *ids, guint n_ids)
{
    GArray *pids         = g_array_new(FALSE, FALSE, sizeof(GPid));
    g_autoptr(GDir) proc = NULL;
    const char *name;

    if (n_ids == 0)
        return pids;
    proc = g_dir_open("/proc", 0, NULL);
    while (proc && (name = g_dir_read_name(proc))) {
        g_autofree char *link = NULL;
        struct stat      st;
        char            *end;
        long             pid = strtol(name, &end, 10);

        if (*end || pid <= 0)
            continue;
        link = g_strdup_printf("/proc/%ld/ns/net", pid);
        /* Zombies have no namespaces any more, and that is fine: they
         * hold nothing. */
        if (stat(link, &st) < 0)
            continue;
        for (guint i = 0; i < n_ids; i++) {
            if (st.st_ino == ids[i].st_ino && st.st_dev == ids[i].st_dev) {
                GPid p = (GPid)pid;

                g_array_append_val(pids, p);
                break;
            }
        }
    }
    return pids;
}

/* ---- files and strings ---- */

/* Removes the files of flat directory @path, then @path; quiet about what
 * is gone already (another test binary may be at the same). */
static void
remove_stale_dir(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        if (g_unlink(child) < 0 && errno != ENOENT)
            g_message("cannot remove %s: %s", child, g_strerror(errno));
    }
    if (g_rmdir(path) < 0 && errno != ENOENT)
        g_message("cannot remove %s: %s", path, g_strerror(errno));
}

void
wgm_test_remove_stale_dirs(void)
{
    const char *tmp     = g_get_tmp_dir();
    g_autoptr(GDir) dir = g_dir_open(tmp, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        struct stat      st;

        if (!wgm_test_name_is_stale(name, "wgm-bus-")
            && !wgm_test_name_is_stale(name, "wgm-service-"))
            continue;
        path = g_build_filename(tmp, name, NULL);
        /* Ours: a real directory of our user, not someone's symlink. */
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid())
            remove_stale_dir(path);
    }
}

/* At the start of every test binary linked with the helpers, before any
 * test: a test process SIGKILLed (a timeout) or aborted leaves its bus and
 * service directories behind. */
__attribute__((constructor)) static void
remove_stale_dirs_at_start(void)
{
    wgm_test_remove_stale_dirs();
}

void
wgm_test_remove_dir(const char *path)
{
    g_autoptr(GDir) dir = NULL;
    const char *name;

    if (!path)
        return;
    dir = g_dir_open(path, 0, NULL);
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        if (g_unlink(child) < 0)
            g_warning("cannot remove %s: %s", child, g_strerror(errno));
    }
    if (g_rmdir(path) < 0 && errno != ENOENT)
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
}

char *
wgm_test_join(GPtrArray *strings)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < strings->len; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", (const char *)strings->pdata[i]);
    return g_string_free(s, FALSE);
}

gint
wgm_test_compare_strings(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

GDBusConnection *
wgm_test_dbus_connect(const char *address, GError **error)
{
    return g_dbus_connection_new_for_address_sync(
        address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
            | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL,
        NULL,
        error);
}

/* ---- the watchdog ---- */

gboolean
wgm_test_watchdog_start(WgmTestWatchdog *watchdog,
                        const char      *script,
                        const char      *name,
                        char           **envp,
                        GError         **error)
{
    g_autofree char *test_pid = g_strdup_printf("%d", (int)getpid());
    char            *argv[]   = { "sh", "-c", (char *)script, (char *)name, NULL };
    g_auto(GStrv) env         = envp ? g_strdupv(envp) : g_get_environ();
    int   fds[2];
    int   devnull;
    pid_t pid;

    /* A dead watchdog must not kill the test with SIGPIPE (GSocket ignores
     * SIGPIPE process-wide for the same reason). */
    signal(SIGPIPE, SIG_IGN);

    env     = g_environ_setenv(env, "WGM_TEST_PID", test_pid, TRUE);
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || pipe2(fds, O_CLOEXEC) < 0) {
        int errsv = errno;

        if (devnull >= 0)
            close(devnull);
        return wgm_test_fail_errno(error, errsv, "watchdog pipe");
    }

    pid = fork();
    if (pid < 0) {
        int errsv = errno;

        close(fds[0]);
        close(fds[1]);
        close(devnull);
        return wgm_test_fail_errno(error, errsv, "fork");
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here to exec.  Its own session:
         * a test runner killing the test's process group must spare it. */
        setsid();
        if (dup2(fds[0], 0) < 0 || dup2(devnull, 1) < 0)
            _exit(127);
        /* Nothing else: above all not the write end, or EOF never comes. */
        close_range(3, ~0U, 0);
        execve("/bin/sh", argv, env);
        _exit(127);
    }
    close(fds[0]);
    close(devnull);
    watchdog->pid = pid;
    watchdog->fd  = fds[1];
    return TRUE;
}

void
wgm_test_watchdog_send(WgmTestWatchdog *watchdog, const char *fmt, ...)
{
    g_autofree char *line = NULL;
    va_list          ap;
    gsize            len, off = 0;

    if (watchdog->fd < 0)
        return;
    va_start(ap, fmt);
    line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    len = strlen(line);
    while (off < len) {
        ssize_t n = write(watchdog->fd, line + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_warning("watchdog pipe: %s", g_strerror(errno));
            return;
        }
        off += n;
    }
}

void
wgm_test_watchdog_finish(WgmTestWatchdog *watchdog)
{
    if (watchdog->fd < 0)
        return;
    wgm_test_watchdog_send(watchdog, "done\n");
    close(watchdog->fd);
    watchdog->fd = -1;
    wgm_test_waitpid(watchdog->pid);
    watchdog->pid = 0;
}
