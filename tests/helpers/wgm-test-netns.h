/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Real networks for root tests: a service namespace joined by veth pairs to
 * peer namespaces, each peer running a real wireguard-go.
 *
 *   wgmt<pid>-svc  vp<i> 10.200.<i>.1/24  <-veth->  vsvc 10.200.<i>.2/24  wgmt<pid>-p<i>
 *                                                   wgp0 10.77.0.<i+1>/24, port 51820
 *
 * The service side is left to the test (10.77.0.1/24 by convention).  Every
 * address lives inside these namespaces; the host's interfaces, routes and
 * firewall are never touched.  Each peer runs in one process group with its
 * own tmpfs /run, so UAPI sockets never collide with the host's.
 *
 * A watchdog process (setsid, so a test runner killing the test's process
 * group spares it) removes the namespaces and process groups should the test
 * process die without wgm_test_net_free() (an assertion aborts).
 *
 * Peer indices are 1-based, like the namespace names.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define WGM_TEST_PEER_PORT 51820

typedef struct _WgmTestNet WgmTestNet;

typedef struct {
    guint       index;       /* 1..n */
    const char *ns;          /* "wgmt<pid>-p<i>" */
    const char *public_key;  /* base64 */
    const char *private_key; /* base64 */
    const char *underlay;    /* "10.200.<i>.2" */
    guint16     port;        /* WGM_TEST_PEER_PORT */
    const char *tunnel;      /* "10.77.0.<i+1>" (a /24 on wgp0) */
    GPid        pid;         /* leader of its process group; 0 while stopped */
} WgmTestPeer;

/* Whether root tests can run here; if not, why. */
gboolean wgm_test_root_checks(char **out_reason);
/* TRUE if they can.  Otherwise: with CI=true in the environment, g_error()
 * (CI must run them); else g_test_skip() and FALSE. */
gboolean wgm_test_require_root(void);
#define WGM_TEST_REQUIRE_ROOT()       \
    G_STMT_START                      \
    {                                 \
        if (!wgm_test_require_root()) \
            return;                   \
    }                                 \
    G_STMT_END

WgmTestNet *wgm_test_net_new(guint n_peers, GError **error);
/* Kills the peers and tracked groups, SIGTERMs (then SIGKILLs) whatever
 * else still runs in the namespaces (free a service under test first), removes
 * the namespaces and checks they are gone. */
void wgm_test_net_free(WgmTestNet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmTestNet, wgm_test_net_free)

const char        *wgm_test_net_get_svc_ns(WgmTestNet *net);
const char        *wgm_test_net_get_svc_private_key(WgmTestNet *net);
const char        *wgm_test_net_get_svc_public_key(WgmTestNet *net);
guint              wgm_test_net_get_n_peers(WgmTestNet *net);
const WgmTestPeer *wgm_test_net_get_peer(WgmTestNet *net, guint i);
/* "10.200.<i>.2:51820" */
char *wgm_test_net_peer_endpoint(WgmTestNet *net, guint i);

/*
 * A prefix argv running a command inside @ns with a private tmpfs /run
 * (and /run/wireguard): append the command and spawn.  The wrappers exec, so
 * the spawned PID is the command's.  NULL-terminated; g_strfreev() it.
 */
char **wgm_test_net_wrap_argv(WgmTestNet *net, const char *ns);

/*
 * Registers a process group (e.g. a wireguard-go the test started behind
 * wgm_test_net_wrap_argv() in its own session) for the watchdog, which
 * SIGKILLs it should the test die.  wgm_test_net_free() kills it as well.
 */
void wgm_test_net_track_pgid(WgmTestNet *net, GPid pgid);
/* Forgets a tracked group: call it when reaping its leader (from then on its
 * ID may be anyone's).  wgm_test_net_free() kills a tracked group only while
 * its leader is an unreaped child of the test process. */
void wgm_test_net_untrack_pgid(WgmTestNet *net, GPid pgid);

/* Runs `sh -c CMD` in network namespace @ns, but the host's mount namespace
 * (for `wg`, use wgm_test_net_exec_in_service() or wgm_test_net_peer_exec());
 * on failure, an error with its stderr and stdout (wgm_test_run()). */
gboolean wgm_test_net_exec(WgmTestNet *net,
                           const char *ns,
                           char      **out_stdout,
                           GError    **error,
                           const char *cmd_fmt,
                           ...) G_GNUC_PRINTF(5, 6);
/* Runs `sh -c CMD` in the network and mount namespaces of process @pid
 * (e.g. the service under test: `wg show wgm0` reads its /run). */
gboolean wgm_test_net_exec_in_service(WgmTestNet *net,
                                      GPid        pid,
                                      char      **out_stdout,
                                      GError    **error,
                                      const char *cmd_fmt,
                                      ...) G_GNUC_PRINTF(5, 6);
/* The same in peer @i's namespaces (its wireguard-go is `wgp0`). */
gboolean wgm_test_net_peer_exec(WgmTestNet *net,
                                guint       i,
                                char      **out_stdout,
                                GError    **error,
                                const char *cmd_fmt,
                                ...) G_GNUC_PRINTF(5, 6);

/* ping -c @count from @ns; TRUE if every reply came within @timeout_s. */
gboolean wgm_test_net_ping(WgmTestNet *net,
                           const char *ns,
                           const char *addr,
                           guint       count,
                           guint       timeout_s);
/* Polls until @ifname no longer exists in @ns; FALSE on timeout. */
gboolean wgm_test_net_wait_link_gone(WgmTestNet *net,
                                     const char *ns,
                                     const char *ifname,
                                     guint       timeout_ms);
/* Number of live processes whose network namespace is @ns. */
guint wgm_test_net_count_processes(WgmTestNet *net, const char *ns);
/* Polls until exactly @n live processes are in @ns; FALSE on timeout. */
gboolean wgm_test_net_wait_processes(WgmTestNet *net, const char *ns, guint n, guint timeout_ms);

/* SIGKILLs peer @i's process group (its wireguard-go dies, wgp0 vanishes). */
void wgm_test_net_peer_kill(WgmTestNet *net, guint i);
/* Starts peer @i again (killing it first if alive): same keys and addresses. */
gboolean wgm_test_net_peer_restart(WgmTestNet *net, guint i, GError **error);

G_END_DECLS
