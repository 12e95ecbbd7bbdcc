/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small things the test helpers share (GLib only): running a command,
 * errno errors, processes and network namespaces as /proc and /run/netns
 * show them, and the watchdog process that cleans up after a test process
 * that died without doing so itself (an assertion aborts).
 */
#pragma once

#include <sys/stat.h>

#include <gio/gio.h>

G_BEGIN_DECLS

#define WGM_TEST_NETNS_DIR "/run/netns"

/* $@name unless unset or empty, else @fallback. */
const char *wgm_test_getenv_or(const char *name, const char *fallback);
/* $WGM_WIREGUARD_GO, else the wireguard-go the build was configured with. */
const char *wgm_test_wireguard_go(void);

/* Sets a G_IO_ERROR for @errsv, "<@fmt...>: <strerror>"; returns FALSE. */
gboolean wgm_test_fail_errno(GError **error, int errsv, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Runs @argv (searched in PATH, stdin /dev/null) and waits.  TRUE if it
 * exits 0, with its stdout in @out_stdout; otherwise FALSE and an error
 * naming the command and its wait status, carrying its stderr and stdout. */
gboolean wgm_test_run(const char *const *argv, char **out_stdout, GError **error);
/* waitpid() for @pid, again after EINTR; returns the wait status. */
int wgm_test_waitpid(GPid pid);
/* A GSpawnChildSetupFunc: the child leads a new session (and process group). */
void wgm_test_child_setup_setsid(gpointer user_data);

/* Whether @pid is a process that has not exited (a zombie has). */
gboolean wgm_test_pid_alive(GPid pid);
/* Its /proc/PID/comm, "?" once it is gone. */
char *wgm_test_process_name(GPid pid);
/* Whether @name is "@prefix<pid>-..." for a <pid> no process has any more:
 * what a test process that died left behind. */
gboolean wgm_test_name_is_stale(const char *name, const char *prefix);

/* Whether /run/netns/@ns exists. */
gboolean wgm_test_netns_exists(const char *ns);
/* PIDs (GPid) of the processes whose network namespace is one of the @n_ids
 * namespaces identified (device, inode) by @ids, e.g. stat() of
 * /run/netns/NAME.  Zombies have no namespace any more and are not listed. */
GArray *wgm_test_netns_pids(const struct stat *ids, guint n_ids);

/* Removes the files in @path, then @path (flat directories only); warns
 * about what cannot be removed.  NULL does nothing. */
void wgm_test_remove_dir(const char *path);
/* Removes the temporary directories ("wgm-bus-<pid>-*", "wgm-service-<pid>-*")
 * of test processes that died without removing them.  Runs by itself when a
 * test binary linked with this file starts. */
void wgm_test_remove_stale_dirs(void);

/* "a b c" from strings a, b, c. */
char *wgm_test_join(GPtrArray *strings);
/* For g_ptr_array_sort() of strings. */
gint wgm_test_compare_strings(gconstpointer a, gconstpointer b);

/* A connection to the message bus (dbus-daemon) at @address. */
GDBusConnection *wgm_test_dbus_connect(const char *address, GError **error);

/*
 * A watchdog: `sh -c SCRIPT` in its own session (a test runner killing the
 * test's process group spares it), with $WGM_TEST_PID set to the test
 * process's PID, reading lines on its stdin.  The test writes what there is
 * to clean up and finally "done\n"; EOF without "done" means the test
 * process died, and the script then cleans up.
 */
typedef struct {
    GPid pid;
    int  fd; /* the write end; -1 while not running */
} WgmTestWatchdog;

#define WGM_TEST_WATCHDOG_INIT \
    {                          \
        0, -1                  \
    }

/* Starts @script as @name (its $0) with @envp (NULL: the test's own
 * environment) plus WGM_TEST_PID.  Ignores SIGPIPE from now on: a dead
 * watchdog must not kill the test. */
gboolean wgm_test_watchdog_start(WgmTestWatchdog *watchdog,
                                 const char      *script,
                                 const char      *name,
                                 char           **envp,
                                 GError         **error);
/* Writes a line (with its "\n") to the watchdog; nothing if not running. */
void wgm_test_watchdog_send(WgmTestWatchdog *watchdog, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Sends "done\n", closes the pipe and reaps the watchdog. */
void wgm_test_watchdog_finish(WgmTestWatchdog *watchdog);

G_END_DECLS
