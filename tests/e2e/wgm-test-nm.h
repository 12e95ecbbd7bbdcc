/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A real NetworkManager for e2e tests: tests/e2e/nm-sandbox.sh driven from C.
 *
 * The sandbox is NetworkManager in network, mount and UTS namespaces of its
 * own, on a private system bus, with an active "uplink" ethernet connection
 * (a veth to a "world" namespace that routes to the peers), the build tree's
 * .name file, and real wireguard-go peers in namespaces of their own (see
 * nm-sandbox.sh for the addresses).  Commands run inside it see the sandbox's
 * system bus at its default path: nmcli, gdbus, busctl work unchanged.
 *
 * A watchdog process (its own session, so a test runner killing the test's
 * process group spares it) removes every sandbox of this test process should
 * the process die without wgm_test_nm_stop() (an assertion aborts).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define WGM_TEST_NM_VPN_SERVICE "org.freedesktop.NetworkManager.wgmesh"
#define WGM_TEST_NM_MESH_PATH   "/org/freedesktop/NetworkManager/wgmesh"

typedef struct _WgmTestNm WgmTestNm;

/* wgm_test_require_root() plus what the sandbox needs (NetworkManager,
 * nmcli, dbus-daemon, gdbus, python3): TRUE if e2e tests can run;
 * otherwise g_error() with CI=true, else g_test_skip() and FALSE. */
gboolean wgm_test_nm_require(void);

/* Starts a sandbox with @n_peers peers and @n_meshes mesh key pairs. */
WgmTestNm *wgm_test_nm_new(guint n_peers, guint n_meshes, GError **error);
/* Removes the sandbox (NetworkManager is stopped first, then everything in
 * its namespaces) and checks that no namespace, process, mount or file of it
 * is left; FALSE with what is left in @error. */
gboolean wgm_test_nm_stop(WgmTestNm *nm, GError **error);
/* wgm_test_nm_stop() if not done yet (warning on leftovers), then frees. */
void wgm_test_nm_free(WgmTestNm *nm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmTestNm, wgm_test_nm_free)
/* A fixture's teardown: stops *@nm (asserting it stopped cleanly), frees it
 * and sets it to NULL; nothing if NULL (the test skipped). */
void wgm_test_nm_clear(WgmTestNm **nm);

/* The sandbox's directory, its namespace prefix. */
const char *wgm_test_nm_get_dir(WgmTestNm *nm);
/* A value recorded by nm-sandbox.sh (sandbox.env), e.g. "MESH_1_PRIVATE_KEY",
 * "PEER_2_PUBLIC_KEY", "NS_NM"; NULL if unknown. */
const char *wgm_test_nm_get_var(WgmTestNm *nm, const char *name);
guint       wgm_test_nm_get_n_peers(WgmTestNm *nm);
/* vpn.data for mesh @mesh (1-based) with every peer, as nmcli takes it. */
char *wgm_test_nm_vpn_data(WgmTestNm *nm, guint mesh);
/* "10.77.<mesh>.<peer + 1>": peer @peer's tunnel address in mesh @mesh. */
char *wgm_test_nm_peer_tunnel(guint mesh, guint peer);
/* "10.77.<mesh>.1/24" */
char *wgm_test_nm_mesh_address(guint mesh);

/* Peer Name -> its Peer properties (a{sv}), from `gdbus call ...
 * GetManagedObjects` on the plugin's @bus_name, run inside the sandbox as
 * a user would. */
GHashTable *wgm_test_nm_peers(WgmTestNm *nm, const char *bus_name);

/* A bus connection to the sandbox's system bus (from the test's own
 * namespaces: the socket is a path). */
GDBusConnection *wgm_test_nm_get_bus(WgmTestNm *nm);
/* "unix:path=<dir>/run/dbus/system_bus_socket" */
const char *wgm_test_nm_get_bus_address(WgmTestNm *nm);

/*
 * Runs `sh -c CMD` inside NetworkManager's namespaces.  TRUE if it exits 0,
 * with its stdout in @out_stdout; otherwise FALSE and an error carrying its
 * stdout and stderr.
 */
gboolean wgm_test_nm_exec(WgmTestNm *nm, char **out_stdout, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
/* The same, but returns the exit status (-1 if it could not run) and
 * stdout and stderr together in @out_output. */
int wgm_test_nm_exec_status(WgmTestNm *nm, char **out_output, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
/* Starts `sh -c CMD` inside NetworkManager's namespaces without waiting:
 * stdout and stderr merged into one pipe. */
GSubprocess *wgm_test_nm_spawn(WgmTestNm *nm, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* NetworkManager's PID, 0 when it is stopped. */
GPid wgm_test_nm_get_nm_pid(WgmTestNm *nm);
/* PID of the sandbox's dbus-daemon. */
GPid wgm_test_nm_get_bus_pid(WgmTestNm *nm);
/* SIGTERM to NetworkManager, waits until it has exited. */
gboolean wgm_test_nm_stop_nm(WgmTestNm *nm, GError **error);
/* Starts NetworkManager again and waits until the uplink is active. */
gboolean wgm_test_nm_start_nm(WgmTestNm *nm, GError **error);

/* The sandbox's log: NetworkManager's lines and the plugin's syslog lines.
 * A mark is an offset; wgm_test_nm_log_since() returns what came after. */
gsize wgm_test_nm_log_mark(WgmTestNm *nm);
char *wgm_test_nm_log_since(WgmTestNm *nm, gsize mark);
/* The timestamp ("[1796315034.1946]") of the first line of @log holding
 * @needle, with that line in @out_line (either may be NULL); FALSE if
 * none. */
gboolean wgm_test_nm_log_find(const char *log, const char *needle, double *out_t, char **out_line);
/* Waits up to @timeout_s until the log since @mark holds @needle, as
 * wgm_test_nm_log_find() reads it; FALSE if it did not. */
gboolean wgm_test_nm_log_wait(WgmTestNm  *nm,
                              gsize       mark,
                              const char *needle,
                              guint       timeout_s,
                              double     *out_t,
                              char      **out_line);

/* Live processes (not zombies) in NetworkManager's network namespace, as
 * "comm[pid]" strings, sorted; in @comm only if not NULL. */
GPtrArray *wgm_test_nm_processes(WgmTestNm *nm, const char *comm);
/* Open file descriptors of @pid; -1 if it is gone. */
int wgm_test_nm_count_fds(GPid pid);
/* Network interfaces in NetworkManager's namespace, sorted, space-separated. */
char *wgm_test_nm_links(WgmTestNm *nm);

/* The well-known names on the sandbox's bus starting with @prefix, sorted. */
GPtrArray *wgm_test_nm_list_names(WgmTestNm *nm, const char *prefix);

G_END_DECLS
