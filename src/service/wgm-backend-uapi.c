/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-backend-uapi.h"

#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "wgm-error.h"
#include "wgm-uapi.h"

/*
 * Facts this file relies on, measured with wireguard-go 0.0.20220316:
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
 * - One connection serves any number of requests, strictly one at a time:
 *   the set parser reads ahead, so a pipelined request could be swallowed.
 * - After a set that fails (errno != 0) it stops reading that request
 *   midway; whatever of it was not yet read is then taken for the next
 *   command, which makes it close the connection.  We reconnect after every
 *   failed request instead of guessing.
 * - On SIGTERM it deletes the interface and its socket file and exits 0
 *   within ~0.1 s.  After SIGKILL the kernel deletes the interface (the tun
 *   fd closes) but the socket file stays behind: we unlink it.
 * - It logs to stdout ("DEBUG: (wg0) <date> <time> ..." / "ERROR: ..."),
 *   naming peers by a short public key only, and prints a banner claiming
 *   kernel support to stderr unless WG_PROCESS_FOREGROUND=1.
 */

#define SOCKET_DIR        "/var/run/wireguard"
#define START_TIMEOUT_SEC 5
#define SOCKET_POLL_MS    20
#define UP_POLL_MS        10
#define LOG_DRAIN_MS      250
#define LOG_TAIL_LINES    3
#define LOG_RECENT_USEC   (2 * G_USEC_PER_SEC)
#define READ_BUF_SIZE     (64 * 1024)

typedef enum {
    STATE_IDLE,
    STATE_STARTING,
    STATE_RUNNING,
    STATE_STOPPED,
} State;

/* wireguard-go's output (stderr merged into stdout), read until EOF
 * whatever happens to the backend: the reader owns it together with the
 * backend, which may let go first. */
typedef struct {
    char             *ifname;
    GDataInputStream *in;
    gboolean          open;
    GQueue            tail;      /* char*: the last error lines, for error messages */
    gint64            tail_time; /* monotonic time of the last one */
    char             *fatal;     /* a Go runtime "panic: ..." or "fatal error: ..." line */
    WgmBackendUapi   *owner;     /* not a reference; cleared when the backend lets go */
} ChildLog;

/* One request on the socket, with the task waiting for its reply. */
typedef struct {
    WgmBackendUapi *self;    /* not a reference: an op never outlives its queue */
    GTask          *task;    /* NULL once answered early (cancelled); the reply is dropped */
    GString        *request; /* may hold secrets: wiped once written */
    gboolean        want_stats;
    WgmUapiReader  *reader;
    GSource        *cancel_source;
} Op;

struct _WgmBackendUapi {
    WgmBackend parent_instance;

    char *wireguard_go;
    char *sock_path;
    State state;
    guint generation; /* bumped by every start, so late callbacks know their place */

    GCancellable *cancellable; /* this generation's child watch, connect and I/O */
    GSubprocess  *proc;
    GSubprocess  *old_proc; /* stopped, maybe not yet gone: for wait_stopped() and restarts */
    ChildLog     *log;
    gboolean      child_exited;

    GTask   *start_task;
    GSource *start_cancel_source;
    gint64   start_deadline;
    GSource *poll_source; /* socket or device-up polling while starting */
    GSource *drain_source;

    GSocketClient     *client;
    GSocketConnection *conn;
    gboolean           connecting;
    GQueue             ops; /* Op*, waiting to be sent */
    Op                *current;
    guint8            *read_buf; /* READ_BUF_SIZE; GObject instances must stay < 64 KiB */
};

G_DEFINE_FINAL_TYPE(WgmBackendUapi, wgm_backend_uapi, WGM_TYPE_BACKEND)

static void     pump(WgmBackendUapi *self);
static void     child_gone(WgmBackendUapi *self);
static gboolean up_poll(gpointer user_data);
static void     wgm_backend_uapi_stop(WgmBackend *backend);

static const char *
ifname_of(WgmBackendUapi *self)
{
    return wgm_backend_get_ifname(WGM_BACKEND(self));
}

static void
clear_source(GSource **source)
{
    if (*source) {
        g_source_destroy(*source);
        g_clear_pointer(source, g_source_unref);
    }
}

static GError *backend_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static GError *
backend_error(const char *fmt, ...)
{
    GError *error;
    va_list ap;

    va_start(ap, fmt);
    error = g_error_new_valist(WGM_ERROR, WGM_ERROR_BACKEND, fmt, ap);
    va_end(ap);
    return error;
}

/* Attaches @source, calling @func(@data), to the thread-default context. */
static GSource *
arm(GSource *source, GSourceFunc func, gpointer data)
{
    g_source_set_callback(source, func, data, NULL);
    g_source_set_static_name(source, "wgm-backend-uapi");
    g_source_attach(source, g_main_context_get_thread_default());
    return source;
}

/* Answers @task from the main loop rather than from inside the caller's
 * stop() or a signal handler, so no callback runs under the caller's feet. */
static gboolean
return_error_idle(gpointer data)
{
    GTask  *task  = data;
    GError *error = g_object_steal_data(G_OBJECT(task), "wgm-error");

    g_task_return_error(task, error);
    return G_SOURCE_REMOVE;
}

static void
return_error_later(GTask *task, GError *error)
{
    GSource *source = g_idle_source_new();

    g_object_set_data_full(G_OBJECT(task), "wgm-error", error, (GDestroyNotify)g_error_free);
    g_source_set_callback(source, return_error_idle, task, g_object_unref);
    g_source_set_static_name(source, "wgm-backend-uapi-return");
    g_source_attach(source, g_task_get_context(task));
    g_source_unref(source);
}

/* ---- wireguard-go's output ---------------------------------------------- */

static void
child_log_clear(gpointer data)
{
    ChildLog *log = data;

    g_free(log->ifname);
    g_clear_object(&log->in);
    g_queue_clear_full(&log->tail, g_free);
    g_free(log->fatal);
}

static void
child_log_unref(ChildLog *log)
{
    g_atomic_rc_box_release_full(log, child_log_clear);
}

/* "ERROR: (wg0) 2022/03/16 10:00:00 Failed to ..." -> "Failed to ..." */
static const char *
strip_log_prefix(const char *line, const char *ifname)
{
    g_autofree char *tag = g_strdup_printf("(%s) ", ifname);
    const char      *p   = line;

    if (g_str_has_prefix(p, "ERROR: "))
        p += 7;
    if (g_str_has_prefix(p, tag))
        p += strlen(tag);
    /* "yyyy/mm/dd hh:mm:ss " */
    if (strlen(p) > 20 && p[4] == '/' && p[7] == '/' && p[10] == ' ' && p[19] == ' ')
        p += 20;
    return p;
}

static void
log_line_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    ChildLog        *log  = user_data;
    g_autofree char *raw  = NULL;
    g_autofree char *line = NULL;
    gint64           now  = g_get_monotonic_time();

    raw = g_data_input_stream_read_line_finish(log->in, result, NULL, NULL);
    if (!raw) {
        /* EOF (the child is gone) or a read error. */
        log->open = FALSE;
        if (log->owner && log->owner->child_exited)
            child_gone(log->owner);
        child_log_unref(log);
        return;
    }

    line = g_utf8_make_valid(raw, -1);
    if (g_str_has_prefix(line, "DEBUG: ")) {
        g_debug("wireguard-go[%s]: %s", log->ifname, line);
    } else {
        g_message("wireguard-go[%s]: %s", log->ifname, line);
        /* Older errors (a refused set long ago) say nothing about an exit. */
        if (now - log->tail_time > LOG_RECENT_USEC)
            g_queue_clear_full(&log->tail, g_free);
        g_queue_push_tail(&log->tail, g_strdup(strip_log_prefix(line, log->ifname)));
        if (log->tail.length > LOG_TAIL_LINES)
            g_free(g_queue_pop_head(&log->tail));
        log->tail_time = now;
        /* A crash ends in a long goroutine dump: keep its first line. */
        if (!log->fatal
            && (g_str_has_prefix(line, "panic: ") || g_str_has_prefix(line, "fatal error: ")))
            log->fatal = g_strdup(line);
    }
    g_data_input_stream_read_line_async(log->in, G_PRIORITY_DEFAULT, NULL, log_line_cb, log);
}

/* ": error; later error" from what the child said last, or "" */
static char *
log_tail_suffix(ChildLog *log)
{
    GString *str = g_string_new(NULL);

    if (log && log->fatal)
        g_string_append_printf(str, ": %s", log->fatal);
    else if (log && g_get_monotonic_time() - log->tail_time <= LOG_RECENT_USEC) {
        for (GList *l = log->tail.head; l; l = l->next)
            g_string_append_printf(str, "%s%s", str->len ? "; " : ": ", (char *)l->data);
    }
    return g_string_free(str, FALSE);
}

/* ---- requests ----------------------------------------------------------- */

static void
op_free(Op *op)
{
    clear_source(&op->cancel_source);
    g_clear_object(&op->task);
    g_clear_pointer(&op->request, wgm_secret_gstring_free);
    g_clear_pointer(&op->reader, wgm_uapi_reader_free);
    g_free(op);
}

/* Fails every request, later (from the main loop): for stop() and deaths. */
static void
fail_all_ops(WgmBackendUapi *self, const GError *error)
{
    GQueue ops = self->ops;
    Op    *op;

    self->ops = (GQueue)G_QUEUE_INIT;
    if (self->current) {
        /* Its reply will never be read: the connection goes with it. */
        g_queue_push_head(&ops, self->current);
        self->current = NULL;
    }
    while ((op = g_queue_pop_head(&ops))) {
        if (op->task)
            return_error_later(g_steal_pointer(&op->task), g_error_copy(error));
        op_free(op);
    }
}

static void
finish_op(WgmBackendUapi *self, GError *error)
{
    Op *op = g_steal_pointer(&self->current);

    if (op->task) {
        if (error)
            g_task_return_error(op->task, g_steal_pointer(&error));
        else if (op->want_stats)
            g_task_return_pointer(op->task,
                                  wgm_uapi_reader_steal_stats(op->reader),
                                  (GDestroyNotify)wgm_device_stats_free);
        else
            g_task_return_boolean(op->task, TRUE);
    }
    g_clear_error(&error);
    op_free(op);
}

static void
drop_connection(WgmBackendUapi *self)
{
    if (self->conn) {
        /* Closing a socket does not block; pending I/O was cancelled or done. */
        g_socket_close(g_socket_connection_get_socket(self->conn), NULL);
        g_clear_object(&self->conn);
    }
}

/* The socket broke mid-request: fail that request, carry on with a new
 * connection (if wireguard-go is dying, its exit fails the rest). */
static void
connection_lost(WgmBackendUapi *self, GError *error)
{
    g_debug("wireguard-go[%s]: control socket: %s", ifname_of(self), error->message);
    drop_connection(self);
    finish_op(self, error);
    pump(self);
}

static void read_more(WgmBackendUapi *self);

static void
read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmBackendUapi) self = user_data;
    GError             *error      = NULL;
    gssize              n;
    gsize               consumed = 0;
    WgmUapiReaderStatus status;

    n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);
    if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        /* stop() or a death: the requests were failed there. */
        g_error_free(error);
        return;
    }
    g_return_if_fail(self->current);
    if (n < 0) {
        connection_lost(
            self, backend_error("Reading from %s failed: %s", self->sock_path, error->message));
        g_error_free(error);
        return;
    }
    if (n == 0) {
        connection_lost(
            self, backend_error("wireguard-go for %s closed its control socket", ifname_of(self)));
        return;
    }

    status = wgm_uapi_reader_feed(
        self->current->reader, (const char *)self->read_buf, n, &consumed, &error);
    /* A get reply carries the private key and preshared keys. */
    wgm_memzero(self->read_buf, n);

    switch (status) {
    case WGM_UAPI_READER_MORE:
        read_more(self);
        return;
    case WGM_UAPI_READER_DONE:
        if (consumed < (gsize)n) {
            connection_lost(self,
                            g_error_new(WGM_ERROR,
                                        WGM_ERROR_PROTOCOL,
                                        "Malformed reply from wireguard-go: %" G_GSIZE_FORMAT
                                        " unexpected bytes after the reply",
                                        n - consumed));
            return;
        }
        finish_op(self, NULL);
        break;
    case WGM_UAPI_READER_ERROR:
        if (!g_error_matches(error, WGM_ERROR, WGM_ERROR_BACKEND) || consumed < (gsize)n) {
            connection_lost(self, error);
            return;
        }
        /* errno != 0: in step, but the rest of a failed set may still be
         * unread on the other side (see the top of this file). */
        g_debug("wireguard-go[%s]: %s", ifname_of(self), error->message);
        drop_connection(self);
        finish_op(self, error);
        break;
    }
    pump(self);
}

static void
read_more(WgmBackendUapi *self)
{
    g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(self->conn)),
                              self->read_buf,
                              READ_BUF_SIZE,
                              G_PRIORITY_DEFAULT,
                              self->cancellable,
                              read_cb,
                              g_object_ref(self));
}

static void
write_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmBackendUapi) self = user_data;
    GError *error                  = NULL;

    if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, &error)) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_error_free(error);
            return;
        }
        g_return_if_fail(self->current);
        connection_lost(self,
                        backend_error("Writing to %s failed: %s", self->sock_path, error->message));
        g_error_free(error);
        return;
    }
    g_clear_pointer(&self->current->request, wgm_secret_gstring_free);
    read_more(self);
}

static void connected(WgmBackendUapi *self);

static void
connect_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmBackendUapi) self = user_data;
    g_autoptr(GError) error        = NULL;
    gboolean first = self->state == STATE_STARTING && !wgm_backend_get_ifindex(WGM_BACKEND(self));
    GSocketConnection *conn;

    /* Cancelled: an earlier generation, which must not touch this one. */
    conn = g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    self->conn       = conn;
    self->connecting = FALSE;
    if (!self->conn && first) {
        /* A stale socket file of an earlier instance: wireguard-go replaces
         * it in a moment, socket_poll_cb() tries again. */
        g_debug("wireguard-go[%s]: not yet: %s", ifname_of(self), error->message);
    } else if (!self->conn) {
        g_autoptr(GError) failed =
            backend_error("Could not connect to %s: %s", self->sock_path, error->message);

        fail_all_ops(self, failed);
    } else if (first) {
        connected(self);
    } else {
        pump(self);
    }
}

static void
connect_socket(WgmBackendUapi *self)
{
    g_autoptr(GSocketAddress) address = g_unix_socket_address_new(self->sock_path);

    if (self->connecting)
        return;
    self->connecting = TRUE;
    g_socket_client_connect_async(self->client,
                                  G_SOCKET_CONNECTABLE(address),
                                  self->cancellable,
                                  connect_cb,
                                  g_object_ref(self));
}

/* Sends the next request, if the socket is free. */
static void
pump(WgmBackendUapi *self)
{
    if (self->current || g_queue_is_empty(&self->ops))
        return;
    if (self->state != STATE_STARTING && self->state != STATE_RUNNING)
        return;
    if (!self->conn) {
        connect_socket(self);
        return;
    }

    self->current         = g_queue_pop_head(&self->ops);
    self->current->reader = wgm_uapi_reader_new(self->current->want_stats);
    g_output_stream_write_all_async(g_io_stream_get_output_stream(G_IO_STREAM(self->conn)),
                                    self->current->request->str,
                                    self->current->request->len,
                                    G_PRIORITY_DEFAULT,
                                    self->cancellable,
                                    write_cb,
                                    g_object_ref(self));
}

static gboolean
op_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
    Op             *op   = user_data;
    WgmBackendUapi *self = op->self;
    GTask          *task = g_steal_pointer(&op->task);

    clear_source(&op->cancel_source);
    /* Sent already: keep reading its reply so the stream stays in step. */
    if (op != self->current) {
        g_queue_remove(&self->ops, op);
        op_free(op);
    }
    g_task_return_error_if_cancelled(task);
    g_object_unref(task);
    return G_SOURCE_REMOVE;
}

static void
queue_op(WgmBackendUapi *self, GTask *task, GString *request, gboolean want_stats)
{
    GCancellable *cancellable = g_task_get_cancellable(task);
    Op           *op;

    if (self->state != STATE_RUNNING
        && !(self->state == STATE_STARTING && g_task_get_source_tag(task) == (gpointer)up_poll)) {
        g_task_return_error(task,
                            backend_error("wireguard-go for %s is not running", ifname_of(self)));
        g_object_unref(task);
        wgm_secret_gstring_free(request);
        return;
    }

    op             = g_new0(Op, 1);
    op->self       = self;
    op->task       = task;
    op->request    = request;
    op->want_stats = want_stats;
    if (cancellable) {
        op->cancel_source =
            arm(g_cancellable_source_new(cancellable), G_SOURCE_FUNC(op_cancelled_cb), op);
    }
    g_queue_push_tail(&self->ops, op);
    pump(self);
}

/* ---- the child ---------------------------------------------------------- */

/* After our child has gone: removes its socket file if nothing listens
 * there (the same test wireguard-go makes before replacing one). */
static void
unlink_stale_socket(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int                fd;
    gboolean           stale;

    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return;
    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    /* A unix socket connect() never waits: accepted, queued or refused. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    stale = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno == ECONNREFUSED;
    close(fd);
    if (stale && unlink(path) == 0)
        g_debug("removed stale %s", path);
}

static void
reaped_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autofree char *path = user_data;

    g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
    unlink_stale_socket(path);
}

/* Ends this generation: no callback of it does anything after this. */
static void
teardown(WgmBackendUapi *self)
{
    g_cancellable_cancel(self->cancellable);
    g_clear_object(&self->cancellable);
    clear_source(&self->start_cancel_source);
    clear_source(&self->poll_source);
    clear_source(&self->drain_source);
    drop_connection(self);
    self->connecting = FALSE;
    if (self->log) {
        self->log->owner = NULL;
        g_clear_pointer(&self->log, child_log_unref);
    }
    if (self->proc) {
        g_set_object(&self->old_proc, self->proc);
        g_clear_object(&self->proc);
    }
    self->state = STATE_STOPPED;
    wgm_backend_set_ifindex(WGM_BACKEND(self), 0);
}

static char *
describe_exit(GSubprocess *proc)
{
    if (g_subprocess_get_if_exited(proc))
        return g_strdup_printf("exited with status %d", g_subprocess_get_exit_status(proc));
    if (g_subprocess_get_if_signaled(proc)) {
        static const struct {
            int         sig;
            const char *name;
        } names[] = {
            { SIGKILL, "SIGKILL" }, { SIGTERM, "SIGTERM" }, { SIGSEGV, "SIGSEGV" },
            { SIGABRT, "SIGABRT" }, { SIGINT, "SIGINT" },   { SIGHUP, "SIGHUP" },
            { SIGBUS, "SIGBUS" },   { SIGQUIT, "SIGQUIT" }, { SIGPIPE, "SIGPIPE" },
        };
        int         sig  = g_subprocess_get_term_sig(proc);
        const char *name = NULL;

        for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
            if (names[i].sig == sig)
                name = names[i].name;
        }
        return g_strdup_printf("was killed by signal %d (%s)", sig, name ? name : g_strsignal(sig));
    }
    return g_strdup("exited");
}

/* The child exited by itself (its output is drained, or waited for long
 * enough): everything fails, and the owner hears about it. */
static void
child_gone(WgmBackendUapi *self)
{
    g_autoptr(WgmBackendUapi) keep = g_object_ref(self);
    g_autoptr(GError) error        = NULL;
    g_autoptr(GTask) start_task    = g_steal_pointer(&self->start_task);
    g_autofree char *how           = describe_exit(self->proc);
    g_autofree char *tail          = log_tail_suffix(self->log);

    error = backend_error("wireguard-go for %s %s%s%s",
                          ifname_of(self),
                          how,
                          start_task ? " before it was ready" : "",
                          tail);
    g_message("%s", error->message);

    teardown(self);
    unlink_stale_socket(self->sock_path);
    fail_all_ops(self, error);
    if (start_task)
        return_error_later(g_steal_pointer(&start_task), g_error_copy(error));
    else
        wgm_backend_emit_died(WGM_BACKEND(self), error);
}

static gboolean
drain_timeout_cb(gpointer user_data)
{
    WgmBackendUapi *self = user_data;

    clear_source(&self->drain_source);
    child_gone(self);
    return G_SOURCE_REMOVE;
}

static void
child_wait_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GWeakRef *weak                 = user_data;
    g_autoptr(WgmBackendUapi) self = g_weak_ref_get(weak);
    g_autoptr(GError) error        = NULL;

    g_weak_ref_clear(weak);
    g_free(weak);
    if (!g_subprocess_wait_finish(G_SUBPROCESS(source), result, &error))
        return; /* cancelled: stopped on purpose */
    if (!self || self->proc != G_SUBPROCESS(source))
        return;

    /* Its last words (why it exited) may still be in the pipes. */
    self->child_exited = TRUE;
    if (self->log && self->log->open) {
        self->drain_source = arm(g_timeout_source_new(LOG_DRAIN_MS), drain_timeout_cb, self);
        return;
    }
    child_gone(self);
}

static void
child_setup(gpointer user_data)
{
    /* If the service dies without stopping us, wireguard-go gets SIGTERM
     * and removes its interface instead of lingering.  Runs between fork()
     * and exec(): async-signal-safe calls only. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* ---- starting ----------------------------------------------------------- */

static void
start_failed(WgmBackendUapi *self, GError *error)
{
    g_autoptr(GTask) task = g_steal_pointer(&self->start_task);

    g_message("%s", error->message);
    wgm_backend_uapi_stop(WGM_BACKEND(self));
    if (task)
        return_error_later(g_steal_pointer(&task), error);
    else
        g_error_free(error);
}

static void
up_poll_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WgmBackendUapi *self            = WGM_BACKEND_UAPI(source);
    guint           generation      = GPOINTER_TO_UINT(user_data);
    g_autoptr(WgmDeviceStats) stats = NULL;
    GError *error                   = NULL;

    stats = g_task_propagate_pointer(G_TASK(result), &error);
    if (generation != self->generation || self->state != STATE_STARTING) {
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
        clear_source(&self->start_cancel_source);
        g_task_return_boolean(task, TRUE);
        return;
    }
    if (g_get_monotonic_time() > self->start_deadline) {
        start_failed(self,
                     backend_error("wireguard-go for %s did not bring the device up within %d s",
                                   ifname_of(self),
                                   START_TIMEOUT_SEC));
        return;
    }
    self->poll_source = arm(g_timeout_source_new(UP_POLL_MS), up_poll, self);
}

/* Asks for listen_port, which wireguard-go has only once its device is up. */
static gboolean
up_poll(gpointer user_data)
{
    WgmBackendUapi *self = user_data;
    GTask          *task = g_task_new(self, NULL, up_poll_cb, GUINT_TO_POINTER(self->generation));

    clear_source(&self->poll_source);
    g_task_set_source_tag(task, up_poll);
    queue_op(self, task, g_string_new(WGM_UAPI_GET_REQUEST), TRUE);
    return G_SOURCE_REMOVE;
}

static gboolean
set_link_up(WgmBackendUapi *self, GError **error)
{
    struct ifreq ifr = { 0 };
    int          fd;
    int          errsv = 0;

    /* One SIOCSIFFLAGS ioctl: instant, and needs no netlink library.
     * WireGuard sends handshakes only from a device it considers up, and
     * the kernel routes into the tun only while the link is up. */
    g_strlcpy(ifr.ifr_name, ifname_of(self), sizeof(ifr.ifr_name));
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
            error, backend_error("Could not bring %s up: %s", ifname_of(self), g_strerror(errsv)));
    return !errsv;
}

/* The first connection of a start: the device exists, bring it up. */
static void
connected(WgmBackendUapi *self)
{
    GError  *error = NULL;
    unsigned ifindex;

    clear_source(&self->poll_source);

    /* wireguard-go created the tun before its socket. */
    ifindex = if_nametoindex(ifname_of(self));
    if (ifindex == 0) {
        int errsv = errno;

        start_failed(
            self,
            backend_error("wireguard-go is listening on %s but interface %s is missing: %s",
                          self->sock_path,
                          ifname_of(self),
                          g_strerror(errsv)));
        return;
    }
    wgm_backend_set_ifindex(WGM_BACKEND(self), (int)ifindex);
    if (!set_link_up(self, &error)) {
        start_failed(self, error);
        return;
    }
    up_poll(self);
}

static gboolean
socket_poll_cb(gpointer user_data)
{
    WgmBackendUapi *self = user_data;

    if (g_get_monotonic_time() > self->start_deadline) {
        start_failed(self,
                     backend_error("wireguard-go for %s did not open %s within %d s",
                                   ifname_of(self),
                                   self->sock_path,
                                   START_TIMEOUT_SEC));
        return G_SOURCE_REMOVE; /* start_failed() destroyed it already */
    }
    if (g_file_test(self->sock_path, G_FILE_TEST_EXISTS))
        connect_socket(self);
    return G_SOURCE_CONTINUE;
}

static void
spawn(WgmBackendUapi *self)
{
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    GError   *error                         = NULL;
    GWeakRef *weak;

    launcher =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
    /* -f already keeps it in the foreground; this only silences a banner
     * that claims the kernel has WireGuard. */
    g_subprocess_launcher_setenv(launcher, "WG_PROCESS_FOREGROUND", "1", TRUE);
    g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
    self->proc = g_subprocess_launcher_spawn(
        launcher, &error, self->wireguard_go, "-f", ifname_of(self), NULL);
    if (!self->proc) {
        g_prefix_error(&error, "Could not start %s: ", self->wireguard_go);
        start_failed(self, error);
        return;
    }
    g_debug("wireguard-go[%s]: started %s, pid %s",
            ifname_of(self),
            self->wireguard_go,
            g_subprocess_get_identifier(self->proc));

    self->child_exited = FALSE;
    self->log          = g_atomic_rc_box_new0(ChildLog);
    self->log->ifname  = g_strdup(ifname_of(self));
    self->log->in      = g_data_input_stream_new(g_subprocess_get_stdout_pipe(self->proc));
    self->log->open    = TRUE;
    self->log->owner   = self;
    g_data_input_stream_read_line_async(
        self->log->in, G_PRIORITY_DEFAULT, NULL, log_line_cb, g_atomic_rc_box_acquire(self->log));

    weak = g_new0(GWeakRef, 1);
    g_weak_ref_init(weak, self);
    g_subprocess_wait_async(self->proc, self->cancellable, child_wait_cb, weak);

    self->start_deadline = g_get_monotonic_time() + START_TIMEOUT_SEC * G_USEC_PER_SEC;
    self->poll_source    = arm(g_timeout_source_new(SOCKET_POLL_MS), socket_poll_cb, self);
}

static void
old_proc_gone_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmBackendUapi) self = user_data;

    if (g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL)
        && self->state == STATE_STARTING)
        spawn(self);
}

static gboolean
start_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
    WgmBackendUapi *self = user_data;

    clear_source(&self->start_cancel_source);
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
    self->sock_path = g_strdup_printf(SOCKET_DIR "/%s.sock", ifname);
    self->generation++;
    self->state       = STATE_STARTING;
    self->cancellable = g_cancellable_new();
    self->start_task  = task;
    if (cancellable) {
        self->start_cancel_source =
            arm(g_cancellable_source_new(cancellable), G_SOURCE_FUNC(start_cancelled_cb), self);
    }

    /* Restarted before the previous child has gone: it still holds the
     * interface name. */
    if (self->old_proc && g_subprocess_get_identifier(self->old_proc)) {
        g_subprocess_wait_async(
            self->old_proc, self->cancellable, old_proc_gone_cb, g_object_ref(self));
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
    queue_op(self, task, wgm_uapi_build_set(update), FALSE);
}

static gboolean
wgm_backend_uapi_apply_finish(WgmBackend *backend, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, backend), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
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
    queue_op(self, task, g_string_new(WGM_UAPI_GET_REQUEST), TRUE);
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
    g_autoptr(GSubprocess) proc = NULL;

    if (self->state != STATE_STARTING && self->state != STATE_RUNNING)
        return;

    g_debug("wireguard-go[%s]: stopping", ifname_of(self));
    start_task = g_steal_pointer(&self->start_task);
    if (self->proc)
        proc = g_object_ref(self->proc);
    teardown(self);

    if (proc) {
        /* wireguard-go removes the interface and its socket on SIGTERM;
         * after a SIGKILL (wait_stopped) the socket file needs removing. */
        g_subprocess_send_signal(proc, SIGTERM);
        g_subprocess_wait_async(proc, NULL, reaped_cb, g_strdup(self->sock_path));
    }

    error = g_error_new(
        G_IO_ERROR, G_IO_ERROR_CANCELLED, "wireguard-go for %s was stopped", ifname_of(self));
    fail_all_ops(self, error);
    if (start_task)
        return_error_later(g_steal_pointer(&start_task), g_error_copy(error));
}

/* GSubprocess reaps on GLib's worker thread: the identifier goes away when
 * the child has, without iterating any main context here. */
static gboolean
wait_gone(GSubprocess *proc, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;

    while (g_subprocess_get_identifier(proc) && g_get_monotonic_time() < deadline)
        g_usleep(5 * G_TIME_SPAN_MILLISECOND);
    return !g_subprocess_get_identifier(proc);
}

static void
wgm_backend_uapi_wait_stopped(WgmBackend *backend, guint timeout_ms)
{
    WgmBackendUapi *self = WGM_BACKEND_UAPI(backend);

    wgm_backend_uapi_stop(backend);
    if (!self->old_proc)
        return;

    if (!wait_gone(self->old_proc, timeout_ms)) {
        g_message("wireguard-go for %s did not exit within %u ms of SIGTERM, killing it",
                  ifname_of(self),
                  timeout_ms);
        g_subprocess_force_exit(self->old_proc);
        wait_gone(self->old_proc, 1000);
    }
    if (!g_subprocess_get_identifier(self->old_proc))
        unlink_stale_socket(self->sock_path);
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

static void
wgm_backend_uapi_init(WgmBackendUapi *self)
{
    self->state    = STATE_IDLE;
    self->client   = g_socket_client_new();
    self->read_buf = g_malloc(READ_BUF_SIZE);
    g_queue_init(&self->ops);
}

static void
wgm_backend_uapi_dispose(GObject *object)
{
    WgmBackendUapi *self = WGM_BACKEND_UAPI(object);

    wgm_backend_uapi_stop(WGM_BACKEND(self));
    g_clear_object(&self->old_proc);
    g_clear_object(&self->client);
    G_OBJECT_CLASS(wgm_backend_uapi_parent_class)->dispose(object);
}

static void
wgm_backend_uapi_finalize(GObject *object)
{
    WgmBackendUapi *self = WGM_BACKEND_UAPI(object);

    wgm_memzero(self->read_buf, READ_BUF_SIZE);
    g_free(self->read_buf);
    g_free(self->wireguard_go);
    g_free(self->sock_path);
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
