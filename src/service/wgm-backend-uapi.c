/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-backend-uapi.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wgm-child.h"
#include "wgm-error.h"
#include "wgm-glib-utils.h"
#include "wgm-uapi-conn.h"
#include "wgm-uapi.h"
#include "wgm-tun.h"

/*
 * Facts this file relies on, measured with wireguard-go 0.0.20220316 (the
 * process itself is in wgm-child.c, its control socket in wgm-uapi-conn.c):
 *
 * - It creates the tun device, then listens on SOCKET_DIR/<ifname>.sock
 *   (removing a stale socket file first).  The kernel link starts DOWN.
 * - It brings its own device "up" (binds the UDP port, starts peers) when
 *   it believes the tun is up; until then a get reply has no listen_port
 *   line and turning keepalive on sends nothing.  On this kernel its probe
 *   (a zero-length write to the tun) already says "up" while the link is
 *   down, on others only the link going up does: we set IFF_UP ourselves
 *   (the kernel needs it anyway to route packets into the tun) and wait for
 *   listen_port before calling the device started.
 * - All of that takes well under a second.  A start that takes longer has
 *   gone wrong somewhere (a previous instance that will not exit, a process
 *   stopped or deadlocked before or after opening its socket), so the whole
 *   start, from the previous child's exit to listen_port, has one deadline;
 *   each request on the way has its own (wgm-uapi-conn.c).
 * - It answers a request within milliseconds (a 10,000-peer set: 0.7 s).
 *   One request without a reply in 5 s may be bad luck; when the request
 *   sent after it on a fresh connection goes unanswered too (we send one at
 *   once if nobody else does), the process is stopped or wedged: it would
 *   hold the interface and answer nothing for good.  We kill it (SIGKILL,
 *   through the GSubprocess that knows whether the pid is still ours) and
 *   report it dead, so the owner starts it again.
 *
 * Restarts: after "died" or stop() the same object starts again.  The new
 * start waits until the previous process is reaped and its socket file
 * removed, then spawns a fresh one.  The tun device is persistent
 * (wgm-tun.h): after a death the new process attaches to the same
 * interface, whose ifindex, addresses and routes stay; only stop() deletes
 * it.  (With the test hooks' stand-in there is no tun at all.)
 */

#define SOCKET_DIR        "/var/run/wireguard"
#define START_TIMEOUT_SEC 10
#define SOCKET_POLL_MS    20
#define UP_POLL_MS        10
#define STUCK_AFTER       2                  /* requests in a row without a reply */
#define SOURCE_NAME       "wgm-backend-uapi" /* for GSource debugging */

typedef enum {
    STATE_IDLE,
    STATE_STARTING,
    STATE_RUNNING,
    STATE_STOPPED,
} State;

/* Each start is a generation with its own child, connection and
 * cancellable: a late callback knows its place by comparing those. */
struct _WgmBackendUapi {
    WgmBackend parent_instance;

    char *wireguard_go;
    char *sock_path;
    State state;

    GCancellable *cancellable; /* this generation's wait for the previous child */
    WgmChild     *child;
    WgmChild     *old_child; /* stopped, maybe not yet gone: for wait_stopped() and restarts */
    WgmUapiConn  *conn;
    gboolean      connecting;     /* the first connect of a start is under way */
    gboolean      tun_persistent; /* we made the tun persistent: stop() deletes it */

    GTask   *start_task;
    GSource *start_cancel_source;
    GSource *start_timeout_source;
    GSource *poll_source; /* socket or device-up polling while starting */

    /* Test hooks (wgm_backend_uapi_set_test_hooks()). */
    char                  *socket_dir;
    guint                  request_timeout_ms; /* 0: wgm-uapi-conn's default */
    WgmBackendUapiLinkFunc link_up;
};

G_DEFINE_FINAL_TYPE(WgmBackendUapi, wgm_backend_uapi, WGM_TYPE_BACKEND)

static gboolean up_poll(gpointer user_data);
static void     wgm_backend_uapi_stop(WgmBackend *backend);

static const char *
ifname_of(WgmBackendUapi *self)
{
    return wgm_backend_get_ifname(WGM_BACKEND(self));
}

/* ---- the child ---------------------------------------------------------- */

/* Ends this generation: no callback of it does anything after this, and
 * its requests fail (later) with @error. */
static void
teardown(WgmBackendUapi *self, const GError *error)
{
    g_cancellable_cancel(self->cancellable);
    g_clear_object(&self->cancellable);
    wgm_clear_source(&self->start_cancel_source);
    wgm_clear_source(&self->start_timeout_source);
    wgm_clear_source(&self->poll_source);
    if (self->conn) {
        g_signal_handlers_disconnect_by_data(self->conn, self);
        wgm_uapi_conn_close(self->conn, error);
        g_clear_object(&self->conn);
    }
    self->connecting = FALSE;
    if (self->child) {
        g_signal_handlers_disconnect_by_data(self->child, self);
        g_set_object(&self->old_child, self->child);
        g_clear_object(&self->child);
    }
    self->state = STATE_STOPPED;
    wgm_backend_set_ifindex(WGM_BACKEND(self), 0);
}

/* The child exited by itself (its output is drained, or waited for long
 * enough; a socket file left behind is gone): everything fails, and the
 * owner hears about it. */
static void
child_exited_cb(WgmChild *child, gpointer user_data)
{
    WgmBackendUapi *self           = user_data;
    g_autoptr(WgmBackendUapi) keep = g_object_ref(self);
    g_autoptr(GError) error        = NULL;
    g_autoptr(GTask) start_task    = g_steal_pointer(&self->start_task);
    g_autofree char *how           = wgm_child_describe_exit(child);
    g_autofree char *last_words    = wgm_child_get_last_words(child);

    error = wgm_backend_error_new("wireguard-go for %s %s%s%s%s",
                                  ifname_of(self),
                                  how,
                                  start_task ? " before it was ready" : "",
                                  last_words ? ": " : "",
                                  last_words ? last_words : "");
    g_message("%s", error->message);

    teardown(self, error);
    if (start_task)
        wgm_task_return_error_idle(g_steal_pointer(&start_task), g_error_copy(error));
    else
        wgm_backend_emit_died(WGM_BACKEND(self), error);
}

/* Only the connection's count cares about the probe's reply. */
static void
probe_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmDeviceStats) stats = NULL;

    stats = wgm_uapi_conn_get_finish(WGM_UAPI_CONN(source), result, NULL);
}

/* A request went unanswered and the connection is gone with it: one more
 * chance on a fresh connection, then the process is taken for stuck. */
static void
unanswered_cb(WgmUapiConn *conn, guint n_in_a_row, guint timeout_ms, gpointer user_data)
{
    WgmBackendUapi *self           = user_data;
    g_autoptr(WgmBackendUapi) keep = NULL;
    g_autoptr(GError) error        = NULL;
    g_autofree char *limit         = NULL;

    /* While starting, the start fails with the request (up_poll_cb()). */
    if (self->state != STATE_RUNNING)
        return;
    if (n_in_a_row < STUCK_AFTER) {
        /* Sent whether or not the owner asks anything soon. */
        wgm_uapi_conn_get_async(conn, self->cancellable, probe_cb, NULL);
        return;
    }

    keep  = g_object_ref(self);
    limit = wgm_describe_msec(timeout_ms);
    error = wgm_backend_error_new(
        "wireguard-go for %s stopped answering on %s (no reply in %s, %u requests in a row)",
        ifname_of(self),
        self->sock_path,
        limit,
        n_in_a_row);
    g_message("%s; killing it", error->message);
    /* The child stays ours (old_child) until reaped: a restart waits. */
    wgm_child_kill(self->child);
    teardown(self, error);
    wgm_backend_emit_died(WGM_BACKEND(self), error);
}

/* ---- starting ----------------------------------------------------------- */

static void
start_failed(WgmBackendUapi *self, GError *error)
{
    g_autoptr(GTask) task = g_steal_pointer(&self->start_task);

    g_message("%s", error->message);
    wgm_backend_uapi_stop(WGM_BACKEND(self));
    if (task)
        wgm_task_return_error_idle(g_steal_pointer(&task), error);
    else
        g_error_free(error);
}

static void
up_poll_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmBackendUapi) self  = user_data;
    g_autoptr(WgmDeviceStats) stats = NULL;
    GError *error                   = NULL;

    stats = wgm_uapi_conn_get_finish(WGM_UAPI_CONN(source), result, &error);
    if (WGM_UAPI_CONN(source) != self->conn || self->state != STATE_STARTING) {
        g_clear_error(&error);
        return;
    }
    if (!stats) {
        start_failed(self, error);
        return;
    }
    if (stats->listen_port >= 0) {
        g_autoptr(GTask) task = g_steal_pointer(&self->start_task);

        g_debug("wireguard-go[%s]: up, listening on port %d, ifindex %d",
                ifname_of(self),
                stats->listen_port,
                wgm_backend_get_ifindex(WGM_BACKEND(self)));
        self->state = STATE_RUNNING;
        wgm_clear_source(&self->start_cancel_source);
        wgm_clear_source(&self->start_timeout_source);
        g_task_return_boolean(task, TRUE);
        return;
    }
    self->poll_source =
        wgm_source_attach(g_timeout_source_new(UP_POLL_MS), up_poll, self, SOURCE_NAME);
}

/* Asks for listen_port, which wireguard-go has only once its device is up.
 * The only request while starting: transactions wait until it says so. */
static gboolean
up_poll(gpointer user_data)
{
    WgmBackendUapi *self = user_data;

    wgm_clear_source(&self->poll_source);
    wgm_uapi_conn_get_async(self->conn, NULL, up_poll_cb, g_object_ref(self));
    return G_SOURCE_REMOVE;
}

static gboolean
set_link_up(const char *ifname, GError **error)
{
    struct ifreq ifr = { 0 };
    int          fd;
    int          errsv = 0;

    /* One SIOCSIFFLAGS ioctl: instant, and needs no netlink library.
     * WireGuard sends handshakes only from a device it considers up, and
     * the kernel routes into the tun only while the link is up. */
    g_strlcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        errsv = errno;
    else if (!(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
            errsv = errno;
    }
    if (fd >= 0)
        close(fd);
    if (errsv)
        g_propagate_error(
            error, wgm_backend_error_new("Could not bring %s up: %s", ifname, g_strerror(errsv)));
    return !errsv;
}

/* The real WgmBackendUapiLinkFunc. */
static int
link_up(const char *ifname, GError **error)
{
    unsigned ifindex;

    /* wireguard-go created the tun before its socket. */
    ifindex = if_nametoindex(ifname);
    if (ifindex == 0) {
        int errsv = errno;

        g_propagate_error(error,
                          wgm_backend_error_new("wireguard-go is listening but interface %s is "
                                                "missing: %s",
                                                ifname,
                                                g_strerror(errsv)));
        return 0;
    }
    if (!set_link_up(ifname, error))
        return 0;
    return (int)ifindex;
}

/* The first connection of a start: the device exists, bring it up. */
static void
connected(WgmBackendUapi *self)
{
    GError *error = NULL;
    int     ifindex;

    wgm_clear_source(&self->poll_source);
    ifindex = (self->link_up ? self->link_up : link_up)(ifname_of(self), &error);
    if (ifindex <= 0) {
        start_failed(self, error);
        return;
    }
    wgm_backend_set_ifindex(WGM_BACKEND(self), ifindex);
    up_poll(self);
}

static void
connect_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmBackendUapi) self = user_data;
    g_autoptr(GError) error        = NULL;
    gboolean ok;

    ok = wgm_uapi_conn_connect_finish(WGM_UAPI_CONN(source), result, &error);
    /* Closed since: an earlier generation, which must not touch this one. */
    if (WGM_UAPI_CONN(source) != self->conn)
        return;
    self->connecting = FALSE;
    if (!ok) {
        /* A stale socket file of an earlier instance: wireguard-go replaces
         * it in a moment, socket_poll_cb() tries again. */
        g_debug("wireguard-go[%s]: not yet: %s", ifname_of(self), error->message);
        return;
    }
    connected(self);
}

static gboolean
socket_poll_cb(gpointer user_data)
{
    WgmBackendUapi *self = user_data;

    if (!self->connecting && g_file_test(self->sock_path, G_FILE_TEST_EXISTS)) {
        self->connecting = TRUE;
        wgm_uapi_conn_connect_async(self->conn, NULL, connect_cb, g_object_ref(self));
    }
    return G_SOURCE_CONTINUE;
}

static void
spawn(WgmBackendUapi *self)
{
    GError *error = NULL;

    /* The interface outlives a wireguard-go that dies (wgm-tun.h). */
    if (!self->link_up) {
        if (!wgm_tun_make_persistent(ifname_of(self), &error)) {
            start_failed(self, error);
            return;
        }
        self->tun_persistent = TRUE;
    }
    self->child = wgm_child_spawn(self->wireguard_go, ifname_of(self), self->sock_path, &error);
    if (!self->child) {
        start_failed(self, error);
        return;
    }
    g_signal_connect(self->child, "exited", G_CALLBACK(child_exited_cb), self);

    self->poll_source =
        wgm_source_attach(g_timeout_source_new(SOCKET_POLL_MS), socket_poll_cb, self, SOURCE_NAME);
}

static void
old_child_gone_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmBackendUapi) self = user_data;

    /* Cancelled: that start was stopped. */
    if (wgm_child_wait_finish(WGM_CHILD(source), result, NULL) && self->state == STATE_STARTING)
        spawn(self);
}

/* Says which step the start is stuck at. */
static gboolean
start_timeout_cb(gpointer user_data)
{
    WgmBackendUapi *self = user_data;
    GError         *error;

    wgm_clear_source(&self->start_timeout_source);
    if (!self->child)
        error = wgm_backend_error_new("The previous wireguard-go for %s did not exit within %d s",
                                      ifname_of(self),
                                      START_TIMEOUT_SEC);
    else if (wgm_backend_get_ifindex(WGM_BACKEND(self)) == 0)
        error = wgm_backend_error_new("wireguard-go for %s did not open %s within %d s",
                                      ifname_of(self),
                                      self->sock_path,
                                      START_TIMEOUT_SEC);
    else
        error = wgm_backend_error_new("wireguard-go for %s did not bring the device up within %d s",
                                      ifname_of(self),
                                      START_TIMEOUT_SEC);
    start_failed(self, error);
    return G_SOURCE_REMOVE;
}

static gboolean
start_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
    WgmBackendUapi *self = user_data;

    wgm_clear_source(&self->start_cancel_source);
    wgm_backend_uapi_stop(WGM_BACKEND(self));
    return G_SOURCE_REMOVE;
}

static void
wgm_backend_uapi_start_async(WgmBackend         *backend,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
    WgmBackendUapi *self   = WGM_BACKEND_UAPI(backend);
    const char     *ifname = ifname_of(self);
    GTask          *task;

    if (self->state == STATE_STARTING || self->state == STATE_RUNNING) {
        g_task_report_new_error(self,
                                callback,
                                user_data,
                                wgm_backend_uapi_start_async,
                                WGM_ERROR,
                                WGM_ERROR_BACKEND,
                                "wireguard-go for %s is already running",
                                ifname);
        return;
    }
    /* The name becomes a path: no room for surprises. */
    if (!ifname[0] || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/') || ifname[0] == '.') {
        g_task_report_new_error(
            self,
            callback,
            user_data,
            wgm_backend_uapi_start_async,
            WGM_ERROR,
            WGM_ERROR_INVALID_SETTING,
            "Invalid interface name \"%s\": expected 1 to %d characters, no '/'",
            ifname,
            IFNAMSIZ - 1);
        return;
    }

    task = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(task, wgm_backend_uapi_start_async);
    g_free(self->sock_path);
    self->sock_path =
        g_strdup_printf("%s/%s.sock", self->socket_dir ? self->socket_dir : SOCKET_DIR, ifname);
    self->state       = STATE_STARTING;
    self->cancellable = g_cancellable_new();
    self->conn        = wgm_uapi_conn_new(self->sock_path, ifname);
    self->start_task  = task;
    if (self->request_timeout_ms)
        wgm_uapi_conn_set_timeout(self->conn, self->request_timeout_ms);
    g_signal_connect(self->conn, "unanswered", G_CALLBACK(unanswered_cb), self);
    if (cancellable) {
        self->start_cancel_source = wgm_source_attach(g_cancellable_source_new(cancellable),
                                                      G_SOURCE_FUNC(start_cancelled_cb),
                                                      self,
                                                      SOURCE_NAME);
    }
    self->start_timeout_source = wgm_source_attach(
        g_timeout_source_new_seconds(START_TIMEOUT_SEC), start_timeout_cb, self, SOURCE_NAME);

    /* A restart: the previous process may still hold the interface name,
     * its socket file (after a SIGKILL) may still be there.  The wait
     * completes once both are free, at once if they are already. */
    if (self->old_child) {
        wgm_child_wait_async(
            self->old_child, self->cancellable, old_child_gone_cb, g_object_ref(self));
        return;
    }
    spawn(self);
}

static gboolean
wgm_backend_uapi_start_finish(WgmBackend *backend, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, backend), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- transactions and stats --------------------------------------------- */

/* Only the start talks to wireguard-go before it completes (up_poll()). */
static gboolean
check_running(WgmBackendUapi *self, GTask *task)
{
    if (self->state == STATE_RUNNING)
        return TRUE;
    g_task_return_error(
        task, wgm_backend_error_new("wireguard-go for %s is not running", ifname_of(self)));
    g_object_unref(task);
    return FALSE;
}

static void
apply_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GTask) task = user_data;
    GError *error         = NULL;

    if (wgm_uapi_conn_set_finish(WGM_UAPI_CONN(source), result, &error))
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, error);
}

static void
wgm_backend_uapi_apply_async(WgmBackend            *backend,
                             const WgmDeviceUpdate *update,
                             GCancellable          *cancellable,
                             GAsyncReadyCallback    callback,
                             gpointer               user_data)
{
    WgmBackendUapi *self = WGM_BACKEND_UAPI(backend);
    GTask          *task = g_task_new(self, cancellable, callback, user_data);

    g_task_set_source_tag(task, wgm_backend_uapi_apply_async);
    g_debug("wireguard-go[%s]: set: %u peer(s)%s",
            ifname_of(self),
            update->peers ? update->peers->len : 0,
            update->replace_peers ? ", replacing all" : "");
    for (guint i = 0; update->peers && i < update->peers->len; i++) {
        const WgmPeerUpdate *peer = update->peers->pdata[i];
        char                 short_key[WGM_KEY_SHORT_LEN + 1];

        if (!peer->kick || peer->remove)
            continue;
        wgm_key_to_short(&peer->public_key, short_key);
        g_debug("peer[%s]: asking wireguard-go for a handshake", short_key);
    }
    if (!check_running(self, task))
        return;
    wgm_uapi_conn_set_async(self->conn, wgm_uapi_build_set(update), cancellable, apply_cb, task);
}

static gboolean
wgm_backend_uapi_apply_finish(WgmBackend *backend, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, backend), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

static void
get_stats_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GTask) task = user_data;
    GError         *error = NULL;
    WgmDeviceStats *stats;

    stats = wgm_uapi_conn_get_finish(WGM_UAPI_CONN(source), result, &error);
    if (stats)
        g_task_return_pointer(task, stats, (GDestroyNotify)wgm_device_stats_free);
    else
        g_task_return_error(task, error);
}

static void
wgm_backend_uapi_get_stats_async(WgmBackend         *backend,
                                 GCancellable       *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data)
{
    WgmBackendUapi *self = WGM_BACKEND_UAPI(backend);
    GTask          *task = g_task_new(self, cancellable, callback, user_data);

    g_task_set_source_tag(task, wgm_backend_uapi_get_stats_async);
    if (!check_running(self, task))
        return;
    wgm_uapi_conn_get_async(self->conn, cancellable, get_stats_cb, task);
}

static WgmDeviceStats *
wgm_backend_uapi_get_stats_finish(WgmBackend *backend, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, backend), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- stopping ----------------------------------------------------------- */

static void
wgm_backend_uapi_stop(WgmBackend *backend)
{
    WgmBackendUapi *self        = WGM_BACKEND_UAPI(backend);
    g_autoptr(GTask) start_task = NULL;
    g_autoptr(GError) error     = NULL;
    g_autoptr(WgmChild) child   = NULL;

    /* Ours, persistent: it goes with the mesh, not with the process (also
     * after a death, when nothing else is left to stop). */
    if (self->tun_persistent) {
        g_autoptr(GError) link_error = NULL;

        self->tun_persistent = FALSE;
        if (!wgm_link_delete(ifname_of(self), &link_error))
            g_warning("%s", link_error->message);
    }
    if (self->state != STATE_STARTING && self->state != STATE_RUNNING)
        return;

    g_debug("wireguard-go[%s]: stopping", ifname_of(self));
    start_task = g_steal_pointer(&self->start_task);
    if (self->child)
        child = g_object_ref(self->child);
    error = g_error_new(
        G_IO_ERROR, G_IO_ERROR_CANCELLED, "wireguard-go for %s was stopped", ifname_of(self));
    teardown(self, error);

    /* wireguard-go removes the interface and its socket on SIGTERM; the
     * child removes a socket file left behind (after a SIGKILL). */
    if (child)
        wgm_child_terminate(child);
    if (start_task)
        wgm_task_return_error_idle(g_steal_pointer(&start_task), g_error_copy(error));
}

static void
wgm_backend_uapi_wait_stopped(WgmBackend *backend, guint timeout_ms)
{
    WgmBackendUapi *self = WGM_BACKEND_UAPI(backend);

    wgm_backend_uapi_stop(backend);
    if (self->old_child)
        wgm_child_wait_gone(self->old_child, timeout_ms);
}

/* ---- GObject ------------------------------------------------------------ */

WgmBackend *
wgm_backend_uapi_new(const char *ifname, const char *wireguard_go_path)
{
    WgmBackendUapi *self;
    const char     *env = g_getenv("WGM_WIREGUARD_GO");

    g_return_val_if_fail(ifname, NULL);

    self = g_object_new(WGM_TYPE_BACKEND_UAPI, "ifname", ifname, NULL);
    if (wireguard_go_path)
        self->wireguard_go = g_strdup(wireguard_go_path);
    else if (env && env[0])
        self->wireguard_go = g_strdup(env);
    else
        self->wireguard_go = g_strdup(WGM_WIREGUARD_GO);
    return WGM_BACKEND(self);
}

void
wgm_backend_uapi_set_test_hooks(WgmBackend            *backend,
                                const char            *socket_dir,
                                guint                  request_timeout_ms,
                                WgmBackendUapiLinkFunc link_up_func)
{
    WgmBackendUapi *self;

    g_return_if_fail(WGM_IS_BACKEND_UAPI(backend));
    self = WGM_BACKEND_UAPI(backend);
    g_return_if_fail(self->state == STATE_IDLE);

    g_free(self->socket_dir);
    self->socket_dir         = g_strdup(socket_dir);
    self->request_timeout_ms = request_timeout_ms;
    self->link_up            = link_up_func;
}

static void
wgm_backend_uapi_init(WgmBackendUapi *self)
{
    self->state = STATE_IDLE;
}

static void
wgm_backend_uapi_dispose(GObject *object)
{
    WgmBackendUapi *self = WGM_BACKEND_UAPI(object);

    wgm_backend_uapi_stop(WGM_BACKEND(self));
    g_clear_object(&self->old_child);
    G_OBJECT_CLASS(wgm_backend_uapi_parent_class)->dispose(object);
}

static void
wgm_backend_uapi_finalize(GObject *object)
{
    WgmBackendUapi *self = WGM_BACKEND_UAPI(object);

    g_free(self->wireguard_go);
    g_free(self->sock_path);
    g_free(self->socket_dir);
    G_OBJECT_CLASS(wgm_backend_uapi_parent_class)->finalize(object);
}

static void
wgm_backend_uapi_class_init(WgmBackendUapiClass *klass)
{
    GObjectClass    *object_class  = G_OBJECT_CLASS(klass);
    WgmBackendClass *backend_class = WGM_BACKEND_CLASS(klass);

    object_class->dispose  = wgm_backend_uapi_dispose;
    object_class->finalize = wgm_backend_uapi_finalize;

    backend_class->name             = "userspace";
    backend_class->start_async      = wgm_backend_uapi_start_async;
    backend_class->start_finish     = wgm_backend_uapi_start_finish;
    backend_class->apply_async      = wgm_backend_uapi_apply_async;
    backend_class->apply_finish     = wgm_backend_uapi_apply_finish;
    backend_class->get_stats_async  = wgm_backend_uapi_get_stats_async;
    backend_class->get_stats_finish = wgm_backend_uapi_get_stats_finish;
    backend_class->stop             = wgm_backend_uapi_stop;
    backend_class->wait_stopped     = wgm_backend_uapi_wait_stopped;
}
