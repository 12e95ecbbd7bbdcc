/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-test-bus.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "wgm-test-util.h"

#define ADDRESS_TIMEOUT_MS  10000
#define OWNER_TIMEOUT_MS    10000
#define TERM_GRACE_MS       3000
#define DEFAULT_SERVICE_BUS "org.freedesktop.NetworkManager.wgmesh"

struct _WgmTestBus {
    char *dir;
    char *address;
    GPid  pid;
    int   stdout_fd;
};

struct _WgmTestService {
    char    *dir;
    char    *log_path;
    char    *bus_name;
    GPid     pid;
    guint    child_watch;
    gboolean exited;
    int      status;
    /* An exit we asked for (or wait for) is not worth a log dump. */
    gboolean expect_exit;
    /* Owned its bus name: from then on it must end with a clean exit. */
    gboolean ready;
};

/* The test process may die on an assertion without running any cleanup:
 * the kernel then tells our children, which end themselves. */
static void
child_setup_pdeathsig(gpointer user_data)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Signals @pid, waits up to @grace_ms for it to exit, SIGKILLs it otherwise,
 * and reaps it.  Only for children not watched by a GChildWatchSource. */
static int
terminate_and_reap(GPid pid, guint grace_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)grace_ms * 1000;
    int    status   = 0;

    if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
        g_warning("kill(%d): %s", (int)pid, g_strerror(errno));
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid || (r < 0 && errno != EINTR))
            return status;
        if (r == 0 && g_get_monotonic_time() >= deadline) {
            kill(pid, SIGKILL);
            return wgm_test_waitpid(pid);
        }
        g_usleep(10 * 1000);
    }
}

/* Reads from @fd until a newline, EOF or @timeout_ms. */
static char *
read_line(int fd, guint timeout_ms, GError **error)
{
    g_autoptr(GString) line = g_string_new(NULL);
    gint64 deadline         = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (!strchr(line->str, '\n')) {
        struct pollfd pfd  = { .fd = fd, .events = POLLIN };
        gint64        left = (deadline - g_get_monotonic_time()) / 1000;
        char          buf[256];
        ssize_t       n;
        int           r;

        if (left <= 0) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "nothing after %u ms", timeout_ms);
            return NULL;
        }
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            wgm_test_fail_errno(error, errno, "poll");
            return NULL;
        }
        if (r == 0)
            continue;
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error,
                        G_IO_ERROR,
                        G_IO_ERROR_CLOSED,
                        "closed before a full line (got \"%s\")",
                        line->str);
            return NULL;
        }
        g_string_append_len(line, buf, n);
    }
    *strchr(line->str, '\n') = '\0';
    return g_string_free(g_steal_pointer(&line), FALSE);
}

static const char bus_config_head[] =
    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
    "<busconfig>\n"
    "  <type>system</type>\n"
    "  <listen>unix:path=%s</listen>\n"
    "  <auth>EXTERNAL</auth>\n";

static const char bus_policy_allow_all[] = "  <policy context=\"default\">\n"
                                           "    <allow user=\"*\"/>\n"
                                           "    <allow own=\"*\"/>\n"
                                           "    <allow send_destination=\"*\"/>\n"
                                           "    <allow receive_sender=\"*\"/>\n"
                                           "  </policy>\n";

/* The default policy of Debian's /usr/share/dbus-1/system.conf: services
 * punch their own holes (the file included after it). */
static const char bus_policy_system[] =
    "  <policy context=\"default\">\n"
    "    <allow user=\"*\"/>\n"
    "    <deny own=\"*\"/>\n"
    "    <deny send_type=\"method_call\"/>\n"
    "    <allow send_type=\"signal\"/>\n"
    "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
    "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
    "    <allow receive_type=\"method_call\"/>\n"
    "    <allow receive_type=\"method_return\"/>\n"
    "    <allow receive_type=\"error\"/>\n"
    "    <allow receive_type=\"signal\"/>\n"
    "    <allow send_destination=\"org.freedesktop.DBus\"\n"
    "           send_interface=\"org.freedesktop.DBus\"/>\n"
    "    <allow send_destination=\"org.freedesktop.DBus\"\n"
    "           send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
    "    <allow send_destination=\"org.freedesktop.DBus\"\n"
    "           send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
    "  </policy>\n"
    "  <include>%s</include>\n";

WgmTestBus *
wgm_test_bus_new(GError **error)
{
    return wgm_test_bus_new_with_policy(NULL, error);
}

WgmTestBus *
wgm_test_bus_new_with_policy(const char *policy_file, GError **error)
{
    g_autoptr(WgmTestBus) bus = g_new0(WgmTestBus, 1);
    g_autofree char *socket   = NULL;
    g_autofree char *config   = NULL;
    g_autofree char *head     = NULL;
    g_autofree char *policy   = NULL;
    g_autofree char *text     = NULL;
    g_autofree char *arg      = NULL;
    g_autofree char *tmpl     = NULL;
    const char      *argv[]   = { "dbus-daemon", "--nofork", "--print-address=1", NULL, NULL };

    bus->stdout_fd = -1;
    tmpl           = g_strdup_printf("wgm-bus-%d-XXXXXX", (int)getpid());
    bus->dir       = g_dir_make_tmp(tmpl, error);
    if (!bus->dir)
        return NULL;
    /* Other users reach the socket only with a real policy to test. */
    if (policy_file && g_chmod(bus->dir, 0755) != 0) {
        wgm_test_fail_errno(error, errno, "chmod %s", bus->dir);
        return NULL;
    }
    socket = g_build_filename(bus->dir, "bus", NULL);
    config = g_build_filename(bus->dir, "bus.conf", NULL);
    head   = g_markup_printf_escaped(bus_config_head, socket);
    policy = policy_file ? g_markup_printf_escaped(bus_policy_system, policy_file)
                         : g_strdup(bus_policy_allow_all);
    text   = g_strconcat(head, policy, "</busconfig>\n", NULL);
    if (!g_file_set_contents(config, text, -1, error))
        return NULL;

    arg     = g_strconcat("--config-file=", config, NULL);
    argv[3] = arg;
    if (!g_spawn_async_with_pipes_and_fds(NULL,
                                          argv,
                                          NULL,
                                          G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
                                              | G_SPAWN_STDIN_FROM_DEV_NULL,
                                          child_setup_pdeathsig,
                                          NULL,
                                          -1,
                                          -1,
                                          -1,
                                          NULL,
                                          NULL,
                                          0,
                                          &bus->pid,
                                          NULL,
                                          &bus->stdout_fd,
                                          NULL,
                                          error)) {
        g_prefix_error(error, "cannot run dbus-daemon: ");
        return NULL;
    }

    bus->address = read_line(bus->stdout_fd, ADDRESS_TIMEOUT_MS, error);
    if (!bus->address) {
        g_prefix_error(error, "dbus-daemon printed no address: ");
        return NULL;
    }
    g_debug("test bus at %s (pid %d)", bus->address, (int)bus->pid);
    return g_steal_pointer(&bus);
}

const char *
wgm_test_bus_get_address(WgmTestBus *bus)
{
    return bus->address;
}

void
wgm_test_bus_free(WgmTestBus *bus)
{
    if (!bus)
        return;
    if (bus->pid > 0)
        terminate_and_reap(bus->pid, TERM_GRACE_MS);
    if (bus->stdout_fd >= 0)
        close(bus->stdout_fd);
    wgm_test_remove_dir(bus->dir);
    g_free(bus->dir);
    g_free(bus->address);
    g_free(bus);
}

gboolean
wgm_test_wait_flag(const gboolean *flag, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (!*flag && g_get_monotonic_time() < deadline) {
        /* Wake up at least every 50 ms to look at the clock. */
        g_autoptr(GSource) tick = g_timeout_source_new(50);

        g_source_set_dummy_callback(tick);
        g_source_attach(tick, NULL);
        g_main_context_iteration(NULL, TRUE);
        g_source_destroy(tick);
    }
    return *flag;
}

static void
service_print_log(WgmTestService *svc, const char *why)
{
    g_autofree char *log = wgm_test_service_get_log(svc);

    g_test_message("nm-wgmesh-service (pid %d) %s; its log:\n%s", (int)svc->pid, why, log);
}

static void
service_exited(GPid pid, int status, gpointer user_data)
{
    WgmTestService  *svc = user_data;
    g_autofree char *why = NULL;

    svc->exited      = TRUE;
    svc->status      = status;
    svc->child_watch = 0;
    g_spawn_close_pid(pid);

    if (WIFEXITED(status))
        why = g_strdup_printf("exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        why = g_strdup_printf(
            "was killed by signal %d (%s)", WTERMSIG(status), g_strsignal(WTERMSIG(status)));
    else
        why = g_strdup_printf("ended with wait status 0x%x", status);

    if (!svc->expect_exit || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        service_print_log(svc, why);
    else
        g_test_message("nm-wgmesh-service (pid %d) %s", (int)pid, why);
}

static void
name_appeared(GDBusConnection *connection, const char *name, const char *owner, gpointer user_data)
{
    *(gboolean *)user_data = TRUE;
}

/* Until the name has an owner or the service is gone. */
static gboolean
service_wait_owner(WgmTestService *svc, WgmTestBus *bus, GError **error)
{
    g_autoptr(GDBusConnection) connection = NULL;
    gint64   deadline = g_get_monotonic_time() + (gint64)OWNER_TIMEOUT_MS * 1000;
    gboolean owned    = FALSE;
    guint    watch;

    connection = wgm_test_dbus_connect(bus->address, error);
    if (!connection)
        return FALSE;

    watch = g_bus_watch_name_on_connection(connection,
                                           svc->bus_name,
                                           G_BUS_NAME_WATCHER_FLAGS_NONE,
                                           name_appeared,
                                           NULL,
                                           &owned,
                                           NULL);
    while (!owned && !svc->exited && g_get_monotonic_time() < deadline)
        wgm_test_wait_flag(&owned, 100);
    g_bus_unwatch_name(watch);
    g_dbus_connection_close_sync(connection, NULL, NULL);

    if (owned)
        return TRUE;
    if (svc->exited) {
        g_set_error(error,
                    G_IO_ERROR,
                    G_IO_ERROR_FAILED,
                    "nm-wgmesh-service exited (wait status 0x%x) before owning %s",
                    svc->status,
                    svc->bus_name);
    } else {
        service_print_log(svc, "did not own its bus name in time");
        g_set_error(error,
                    G_IO_ERROR,
                    G_IO_ERROR_TIMED_OUT,
                    "nm-wgmesh-service did not own %s within %d ms",
                    svc->bus_name,
                    OWNER_TIMEOUT_MS);
    }
    return FALSE;
}

WgmTestService *
wgm_test_service_spawn(WgmTestBus        *bus,
                       const char *const *prefix_argv,
                       const char        *bus_name,
                       gboolean           debug,
                       GError           **error)
{
    g_autoptr(WgmTestService) svc = g_new0(WgmTestService, 1);
    g_autoptr(GPtrArray) argv     = g_ptr_array_new();
    g_auto(GStrv) envp            = g_get_environ();
    const char      *bin          = g_getenv("WGM_SERVICE_BIN");
    g_autofree char *tmpl         = NULL;
    int              log_fd;
    gboolean         ok;

    g_return_val_if_fail(bus != NULL, NULL);

    if (!bin || !g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE)) {
        g_set_error(error,
                    G_IO_ERROR,
                    G_IO_ERROR_NOT_FOUND,
                    "WGM_SERVICE_BIN (%s) is not an executable; run the tests with meson test",
                    bin ? bin : "unset");
        return NULL;
    }

    svc->bus_name = g_strdup(bus_name ? bus_name : DEFAULT_SERVICE_BUS);
    tmpl          = g_strdup_printf("wgm-service-%d-XXXXXX", (int)getpid());
    svc->dir      = g_dir_make_tmp(tmpl, error);
    if (!svc->dir)
        return NULL;
    svc->log_path = g_build_filename(svc->dir, "service.log", NULL);

    for (guint i = 0; prefix_argv && prefix_argv[i]; i++)
        g_ptr_array_add(argv, (char *)prefix_argv[i]);
    g_ptr_array_add(argv, (char *)bin);
    if (bus_name) {
        g_ptr_array_add(argv, "--bus-name");
        g_ptr_array_add(argv, (char *)bus_name);
    }
    if (debug)
        g_ptr_array_add(argv, "--debug");
    g_ptr_array_add(argv, NULL);

    envp = g_environ_setenv(envp, "DBUS_SYSTEM_BUS_ADDRESS", bus->address, TRUE);

    log_fd = g_open(svc->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        wgm_test_fail_errno(error, errno, "cannot create %s", svc->log_path);
        return NULL;
    }
    ok = g_spawn_async_with_pipes_and_fds(NULL,
                                          (const char *const *)argv->pdata,
                                          (const char *const *)envp,
                                          G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
                                              | G_SPAWN_STDIN_FROM_DEV_NULL,
                                          child_setup_pdeathsig,
                                          NULL,
                                          -1,
                                          log_fd,
                                          log_fd,
                                          NULL,
                                          NULL,
                                          0,
                                          &svc->pid,
                                          NULL,
                                          NULL,
                                          NULL,
                                          error);
    close(log_fd);
    if (!ok) {
        g_prefix_error(error, "cannot run %s: ", (const char *)argv->pdata[0]);
        return NULL;
    }
    svc->child_watch = g_child_watch_add(svc->pid, service_exited, svc);
    /* Should the test abort, the log stays there until the next test
     * binary starts (wgm_test_remove_stale_dirs()). */
    g_test_message("nm-wgmesh-service: pid %d, log %s", (int)svc->pid, svc->log_path);

    if (!service_wait_owner(svc, bus, error))
        return NULL;
    svc->ready = TRUE;
    return g_steal_pointer(&svc);
}

GPid
wgm_test_service_get_pid(WgmTestService *svc)
{
    return svc->pid;
}

const char *
wgm_test_service_get_log_path(WgmTestService *svc)
{
    return svc->log_path;
}

char *
wgm_test_service_get_log(WgmTestService *svc)
{
    g_autoptr(GError) error = NULL;
    char *text              = NULL;

    if (!g_file_get_contents(svc->log_path, &text, NULL, &error))
        return g_strdup_printf("(no log: %s)", error->message);
    return text;
}

gboolean
wgm_test_service_is_running(WgmTestService *svc)
{
    siginfo_t info = { 0 };

    while (g_main_context_iteration(NULL, FALSE))
        ;
    if (svc->exited)
        return FALSE;
    /* Exited but the child watch has not run yet?  Peek without reaping
     * (ECHILD: GLib has reaped it and is about to dispatch). */
    if (waitid(P_PID, svc->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 ? info.si_pid == svc->pid
                                                                         : errno == ECHILD)
        wgm_test_wait_flag(&svc->exited, 5000);
    return !svc->exited;
}

gboolean
wgm_test_service_has_file(WgmTestService *svc, const char *path)
{
    g_autofree char *root = NULL;
    g_autofree char *full = NULL;

    g_return_val_if_fail(g_path_is_absolute(path), FALSE);
    if (svc->exited)
        return g_file_test(path, G_FILE_TEST_EXISTS);
    /* /proc/PID/root resolves in the process's own mount namespace. */
    root = g_strdup_printf("/proc/%d/root", (int)svc->pid);
    full = g_build_filename(root, path, NULL);
    return g_file_test(full, G_FILE_TEST_EXISTS);
}

gboolean
wgm_test_service_wait_exit(WgmTestService *svc, guint timeout_ms, int *out_status)
{
    gboolean expected = svc->expect_exit;

    svc->expect_exit = TRUE;
    wgm_test_wait_flag(&svc->exited, timeout_ms);
    svc->expect_exit = expected;
    if (svc->exited && out_status)
        *out_status = svc->status;
    return svc->exited;
}

void
wgm_test_service_free(WgmTestService *svc)
{
    if (!svc)
        return;
    if (svc->pid > 0 && !svc->exited) {
        svc->expect_exit = TRUE;
        kill(svc->pid, SIGTERM);
        if (!wgm_test_wait_flag(&svc->exited, TERM_GRACE_MS)) {
            service_print_log(svc, "ignored SIGTERM for 3 s; sending SIGKILL");
            kill(svc->pid, SIGKILL);
            if (!wgm_test_wait_flag(&svc->exited, 10000))
                g_warning("nm-wgmesh-service (pid %d) survived SIGKILL?", (int)svc->pid);
        }
    }
    /* A service that crashed, leaked under LeakSanitizer (exit 23) or
     * needed SIGKILL fails the test that used it. */
    if (svc->ready && svc->exited && !(WIFEXITED(svc->status) && WEXITSTATUS(svc->status) == 0)) {
        g_test_message("nm-wgmesh-service did not exit cleanly (wait status 0x%x)", svc->status);
        g_test_fail();
    }
    g_clear_handle_id(&svc->child_watch, g_source_remove);
    wgm_test_remove_dir(svc->dir);
    g_free(svc->dir);
    g_free(svc->log_path);
    g_free(svc->bus_name);
    g_free(svc);
}
