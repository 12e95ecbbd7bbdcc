/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A private, system-bus-like dbus-daemon for tests, and a launcher for
 * nm-wgmesh-service on it.
 *
 * The bus listens on a socket *path* in a fresh temporary directory, not an
 * abstract socket: abstract sockets belong to a network namespace, and the
 * service under test may run in another one.  libnm's NMVpnServicePlugin
 * connects to the system bus, so the service gets DBUS_SYSTEM_BUS_ADDRESS.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _WgmTestBus     WgmTestBus;
typedef struct _WgmTestService WgmTestService;

/* Starts dbus-daemon and waits until it has printed its address. */
WgmTestBus *wgm_test_bus_new(GError **error);
/* The same with the system bus's default policy (deny owning names and
 * method calls, as in Debian's system.conf) plus @policy_file, e.g. the
 * service's own data/nm-wgmesh-service.conf; other users may connect. */
WgmTestBus *wgm_test_bus_new_with_policy(const char *policy_file, GError **error);
/* "unix:path=…,guid=…" */
const char *wgm_test_bus_get_address(WgmTestBus *bus);
/* SIGTERMs the daemon (SIGKILL after 3 s), reaps it, removes its directory. */
void wgm_test_bus_free(WgmTestBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmTestBus, wgm_test_bus_free)

/*
 * Runs $WGM_SERVICE_BIN (set by tests/meson.build) on @bus, behind
 * @prefix_argv if given (e.g. wgm_test_net_wrap_argv()), with
 * `--bus-name @bus_name` unless @bus_name is NULL (then the default name
 * org.freedesktop.NetworkManager.wgmesh is awaited) and `--debug` if @debug.
 * stdout and stderr go to a log file (wgm_test_service_get_log()).  Waits,
 * iterating the default main context, up to 10 s until the bus name has an
 * owner.  The service gets SIGTERM should the test process die first.
 */
WgmTestService *wgm_test_service_spawn(WgmTestBus        *bus,
                                       const char *const *prefix_argv,
                                       const char        *bus_name,
                                       gboolean           debug,
                                       GError           **error);
/* PID of the spawned process (the wrappers exec, so this is the service). */
GPid wgm_test_service_get_pid(WgmTestService *svc);
/* Whether the process has not exited yet (dispatches pending events first). */
gboolean wgm_test_service_is_running(WgmTestService *svc);
/* Everything the service wrote so far; newly allocated. */
char *wgm_test_service_get_log(WgmTestService *svc);
/* Path of the log file. */
const char *wgm_test_service_get_log_path(WgmTestService *svc);
/* Whether @path exists as the service sees it (its own mount namespace). */
gboolean wgm_test_service_has_file(WgmTestService *svc, const char *path);
/* Iterates the default main context until the service exits or @timeout_ms
 * pass; TRUE if it exited, with its wait status in @out_status. */
gboolean wgm_test_service_wait_exit(WgmTestService *svc, guint timeout_ms, int *out_status);
/* SIGTERM if alive, SIGKILL after 3 s, reap, remove the log. */
void wgm_test_service_free(WgmTestService *svc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmTestService, wgm_test_service_free)

/* Iterates the default main context until *@flag is TRUE or @timeout_ms pass;
 * returns *@flag. */
gboolean wgm_test_wait_flag(const gboolean *flag, guint timeout_ms);

G_END_DECLS
