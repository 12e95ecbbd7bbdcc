/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-uapi-conn.h"

#include <gio/gunixsocketaddress.h>

#include "wgm-error.h"
#include "wgm-glib-utils.h"
#include "wgm-uapi.h"

/*
 * Facts this file relies on, measured with wireguard-go 0.0.20220316:
 *
 * - One connection serves any number of requests, strictly one at a time:
 *   the set parser reads ahead, so a pipelined request could be swallowed.
 * - After a set that fails (errno != 0) it stops reading that request
 *   midway; whatever of it was not yet read is then taken for the next
 *   command, which makes it close the connection.  We reconnect after every
 *   failed request instead of guessing.
 * - A get reply carries the private key and the preshared keys.
 * - It answers a request within milliseconds; one that hangs (a deadlock, a
 *   SIGSTOP) would hold up every later one for good, so each request gets a
 *   deadline once written, and the connection goes with it: a late reply
 *   would be taken for the next request's.
 */

#define READ_BUF_SIZE (64 * 1024)
#define SOURCE_NAME   "wgm-uapi-conn" /* for GSource debugging */

/* One request on the socket, with the task waiting for its reply. */
typedef struct {
    WgmUapiConn   *self;    /* not a reference: an op never outlives its queue */
    GTask         *task;    /* NULL once answered early (cancelled); the reply is dropped */
    GString       *request; /* may hold secrets: wiped once written */
    gboolean       want_stats;
    WgmUapiReader *reader;
    GSource       *cancel_source;
    GSource       *timeout_source; /* armed once written: only the request in flight has one */
    guint          timeout_ms;
} Op;

/* A connect_async() caller, answered when the attempt under way ends. */
typedef struct {
    WgmUapiConn *self; /* not a reference, as for Op */
    GTask       *task;
    GSource     *cancel_source;
} Waiter;

struct _WgmUapiConn {
    GObject parent_instance;

    char *path;
    char *ifname;

    GCancellable      *cancellable; /* connecting; cancelled by close() */
    GSocketClient     *client;
    GSocketConnection *conn;
    GCancellable      *io_cancellable; /* reads and writes on conn; cancelled when it is dropped */
    guint              timeout_ms;
    gboolean           connecting;
    gboolean           closed;
    GQueue             waiters; /* Waiter*, for the attempt under way */
    GQueue             ops;     /* Op*, waiting to be sent */
    Op                *current;
    guint8            *read_buf;   /* READ_BUF_SIZE; GObject instances must stay < 64 KiB */
    guint              unanswered; /* requests timed out since the last reply */
};

enum {
    SIGNAL_UNANSWERED,
    N_SIGNALS,
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE(WgmUapiConn, wgm_uapi_conn, G_TYPE_OBJECT)

static void pump(WgmUapiConn *self);

/* ---- requests ----------------------------------------------------------- */

static void
op_free(Op *op)
{
    wgm_clear_source(&op->cancel_source);
    wgm_clear_source(&op->timeout_source);
    g_clear_object(&op->task);
    g_clear_pointer(&op->request, wgm_secret_gstring_free);
    g_clear_pointer(&op->reader, wgm_uapi_reader_free);
    g_free(op);
}

/* Fails every request, later (from the main loop). */
static void
fail_all_ops(WgmUapiConn *self, const GError *error)
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
            wgm_task_return_error_idle(g_steal_pointer(&op->task), g_error_copy(error));
        op_free(op);
    }
}

static void
finish_op(WgmUapiConn *self, GError *error)
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
drop_connection(WgmUapiConn *self)
{
    /* I/O still under way (a request that timed out) ends now, before its
     * request is freed; its callback then finds a stream not ours. */
    if (self->io_cancellable) {
        g_cancellable_cancel(self->io_cancellable);
        g_clear_object(&self->io_cancellable);
    }
    if (self->conn) {
        /* Closing a socket does not block. */
        g_socket_close(g_socket_connection_get_socket(self->conn), NULL);
        g_clear_object(&self->conn);
    }
}

/* Whether @stream belongs to the connection in use: I/O on one dropped
 * since (after a timeout) has nothing to say about the current request. */
static gboolean
is_current_stream(WgmUapiConn *self, gpointer stream)
{
    return self->conn
           && (stream == g_io_stream_get_input_stream(G_IO_STREAM(self->conn))
               || stream == g_io_stream_get_output_stream(G_IO_STREAM(self->conn)));
}

/* The socket broke mid-request: fail that request, carry on with a new
 * connection (if wireguard-go is dying, the owner closes this one). */
static void
connection_lost(WgmUapiConn *self, GError *error)
{
    g_debug("wireguard-go[%s]: control socket: %s", self->ifname, error->message);
    drop_connection(self);
    finish_op(self, error);
    pump(self);
}

static void read_more(WgmUapiConn *self);

static void
read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmUapiConn) self = user_data;
    GError             *error   = NULL;
    gssize              n;
    gsize               consumed = 0;
    WgmUapiReaderStatus status;

    n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);
    if (self->closed || !is_current_stream(self, source)) {
        /* Cancelled by close() or a timeout: the request was failed there. */
        g_clear_error(&error);
        return;
    }
    g_return_if_fail(self->current);
    if (n < 0) {
        connection_lost(
            self, wgm_backend_error_new("Reading from %s failed: %s", self->path, error->message));
        g_error_free(error);
        return;
    }
    if (n == 0) {
        connection_lost(
            self,
            wgm_backend_error_new("wireguard-go for %s closed its control socket", self->ifname));
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
        self->unanswered = 0;
        finish_op(self, NULL);
        break;
    case WGM_UAPI_READER_ERROR:
        if (!g_error_matches(error, WGM_ERROR, WGM_ERROR_BACKEND) || consumed < (gsize)n) {
            connection_lost(self, error);
            return;
        }
        /* errno != 0: in step, but the rest of a failed set may still be
         * unread on the other side (see the top of this file).  A reply all
         * the same: wireguard-go is alive. */
        self->unanswered = 0;
        g_debug("wireguard-go[%s]: %s", self->ifname, error->message);
        drop_connection(self);
        finish_op(self, error);
        break;
    }
    pump(self);
}

static void
read_more(WgmUapiConn *self)
{
    g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(self->conn)),
                              self->read_buf,
                              READ_BUF_SIZE,
                              G_PRIORITY_DEFAULT,
                              self->io_cancellable,
                              read_cb,
                              g_object_ref(self));
}

static void
write_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmUapiConn) self = user_data;
    GError *error               = NULL;

    if (self->closed || !is_current_stream(self, source)) {
        /* Cancelled by close() or a timeout, or done just before. */
        g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, NULL);
        return;
    }
    g_return_if_fail(self->current);
    if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, &error)) {
        connection_lost(
            self, wgm_backend_error_new("Writing to %s failed: %s", self->path, error->message));
        g_error_free(error);
        return;
    }
    g_clear_pointer(&self->current->request, wgm_secret_gstring_free);
    read_more(self);
}

/* ---- connecting --------------------------------------------------------- */

static void
waiter_free(Waiter *waiter)
{
    wgm_clear_source(&waiter->cancel_source);
    g_clear_object(&waiter->task);
    g_free(waiter);
}

static void
connect_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmUapiConn) self = user_data;
    g_autoptr(GError) error     = NULL;
    GSocketConnection *conn;
    GQueue             waiters;
    Waiter            *waiter;

    conn = g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, &error);
    if (self->closed) {
        /* Cancelled by close(): everyone waiting was failed there. */
        g_clear_object(&conn);
        return;
    }
    self->conn       = conn;
    self->connecting = FALSE;
    if (conn)
        self->io_cancellable = g_cancellable_new();
    else {
        g_autoptr(GError) failed =
            wgm_backend_error_new("Could not connect to %s: %s", self->path, error->message);

        fail_all_ops(self, failed);
    }

    /* Their callbacks may queue requests, connect again or close(). */
    waiters       = self->waiters;
    self->waiters = (GQueue)G_QUEUE_INIT;
    while ((waiter = g_queue_pop_head(&waiters))) {
        if (self->conn)
            g_task_return_boolean(waiter->task, TRUE);
        else if (error)
            g_task_return_error(waiter->task, g_error_copy(error));
        else
            g_task_return_new_error(waiter->task,
                                    G_IO_ERROR,
                                    G_IO_ERROR_CLOSED,
                                    "Connection to %s is closed",
                                    self->path);
        waiter_free(waiter);
    }
    pump(self);
}

static void
start_connect(WgmUapiConn *self)
{
    g_autoptr(GSocketAddress) address = NULL;

    if (self->connecting)
        return;
    address          = g_unix_socket_address_new(self->path);
    self->connecting = TRUE;
    g_socket_client_connect_async(self->client,
                                  G_SOCKET_CONNECTABLE(address),
                                  self->cancellable,
                                  connect_cb,
                                  g_object_ref(self));
}

static gboolean
waiter_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
    Waiter *waiter = user_data;

    /* The attempt goes on: requests may be waiting for it too. */
    g_queue_remove(&waiter->self->waiters, waiter);
    g_task_return_error_if_cancelled(waiter->task);
    waiter_free(waiter);
    return G_SOURCE_REMOVE;
}

void
wgm_uapi_conn_connect_async(WgmUapiConn        *self,
                            GCancellable       *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer            user_data)
{
    GTask  *task;
    Waiter *waiter;

    g_return_if_fail(WGM_IS_UAPI_CONN(self));

    task = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(task, wgm_uapi_conn_connect_async);
    if (self->closed) {
        g_task_return_new_error(
            task, G_IO_ERROR, G_IO_ERROR_CLOSED, "Connection to %s is closed", self->path);
        g_object_unref(task);
        return;
    }
    if (self->conn) {
        g_task_return_boolean(task, TRUE);
        g_object_unref(task);
        return;
    }

    waiter       = g_new0(Waiter, 1);
    waiter->self = self;
    waiter->task = task;
    if (cancellable) {
        waiter->cancel_source = wgm_source_attach(g_cancellable_source_new(cancellable),
                                                  G_SOURCE_FUNC(waiter_cancelled_cb),
                                                  waiter,
                                                  SOURCE_NAME);
    }
    g_queue_push_tail(&self->waiters, waiter);
    start_connect(self);
}

gboolean
wgm_uapi_conn_connect_finish(WgmUapiConn *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- the queue ---------------------------------------------------------- */

/* The request in flight went unanswered: its reply, should it still come,
 * would be read as the next one's, so the connection goes too. */
static gboolean
op_timeout_cb(gpointer user_data)
{
    Op *op                      = user_data;
    g_autoptr(WgmUapiConn) self = g_object_ref(op->self);
    g_autofree char *limit      = wgm_describe_msec(op->timeout_ms);
    guint            timeout_ms = op->timeout_ms;
    GError          *error;

    g_return_val_if_fail(op == self->current, G_SOURCE_REMOVE);
    wgm_clear_source(&op->timeout_source);
    error = g_error_new(G_IO_ERROR,
                        G_IO_ERROR_TIMED_OUT,
                        "wireguard-go for %s did not answer within %s",
                        self->ifname,
                        limit);
    g_message("%s, dropping its control connection", error->message);
    self->unanswered++;
    /* Frees @op; the request's callback may close or drop us. */
    connection_lost(self, error);
    if (!self->closed)
        g_signal_emit(self, signals[SIGNAL_UNANSWERED], 0, self->unanswered, timeout_ms);
    return G_SOURCE_REMOVE;
}

/* Sends the next request, if the socket is free. */
static void
pump(WgmUapiConn *self)
{
    Op *op;

    if (self->closed || self->current || g_queue_is_empty(&self->ops))
        return;
    if (!self->conn) {
        start_connect(self);
        return;
    }

    op = self->current = g_queue_pop_head(&self->ops);
    op->reader         = wgm_uapi_reader_new(op->want_stats);
    /* From the write on: a wireguard-go that stopped reading hangs it too.
     * The limit grows with the request: wireguard-go needs about half a
     * millisecond per peer of a set that also asks for a handshake (10,000
     * peers: 4.9-5.3 s, measured), so a large set is not taken for a hang;
     * a small request keeps the plain limit. */
    op->timeout_ms =
        self->timeout_ms + (guint)MIN(op->request->len / WGM_UAPI_CONN_BYTES_PER_MS, 600000);
    op->timeout_source =
        wgm_source_attach(g_timeout_source_new(op->timeout_ms), op_timeout_cb, op, SOURCE_NAME);
    g_output_stream_write_all_async(g_io_stream_get_output_stream(G_IO_STREAM(self->conn)),
                                    op->request->str,
                                    op->request->len,
                                    G_PRIORITY_DEFAULT,
                                    self->io_cancellable,
                                    write_cb,
                                    g_object_ref(self));
}

static gboolean
op_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
    Op          *op   = user_data;
    WgmUapiConn *self = op->self;
    GTask       *task = g_steal_pointer(&op->task);

    wgm_clear_source(&op->cancel_source);
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
queue_op(WgmUapiConn *self, GTask *task, GString *request, gboolean want_stats)
{
    GCancellable *cancellable = g_task_get_cancellable(task);
    Op           *op;

    if (self->closed) {
        g_task_return_new_error(
            task, G_IO_ERROR, G_IO_ERROR_CLOSED, "Connection to %s is closed", self->path);
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
        op->cancel_source = wgm_source_attach(
            g_cancellable_source_new(cancellable), G_SOURCE_FUNC(op_cancelled_cb), op, SOURCE_NAME);
    }
    g_queue_push_tail(&self->ops, op);
    pump(self);
}

void
wgm_uapi_conn_set_async(WgmUapiConn        *self,
                        GString            *request,
                        GCancellable       *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer            user_data)
{
    GTask *task;

    g_return_if_fail(WGM_IS_UAPI_CONN(self));
    g_return_if_fail(request && request->len > 0);

    task = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(task, wgm_uapi_conn_set_async);
    queue_op(self, task, request, FALSE);
}

gboolean
wgm_uapi_conn_set_finish(WgmUapiConn *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

void
wgm_uapi_conn_get_async(WgmUapiConn        *self,
                        GCancellable       *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer            user_data)
{
    GTask *task;

    g_return_if_fail(WGM_IS_UAPI_CONN(self));

    task = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(task, wgm_uapi_conn_get_async);
    queue_op(self, task, g_string_new(WGM_UAPI_GET_REQUEST), TRUE);
}

WgmDeviceStats *
wgm_uapi_conn_get_finish(WgmUapiConn *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- closing ------------------------------------------------------------ */

void
wgm_uapi_conn_close(WgmUapiConn *self, const GError *error)
{
    Waiter *waiter;

    g_return_if_fail(WGM_IS_UAPI_CONN(self));
    g_return_if_fail(error);

    if (self->closed)
        return;
    self->closed = TRUE;
    /* No callback of the I/O under way does anything after this. */
    g_cancellable_cancel(self->cancellable);
    drop_connection(self);
    self->connecting = FALSE;

    while ((waiter = g_queue_pop_head(&self->waiters))) {
        wgm_task_return_error_idle(g_steal_pointer(&waiter->task), g_error_copy(error));
        waiter_free(waiter);
    }
    fail_all_ops(self, error);
}

/* ---- GObject ------------------------------------------------------------ */

WgmUapiConn *
wgm_uapi_conn_new(const char *path, const char *ifname)
{
    WgmUapiConn *self;

    g_return_val_if_fail(path, NULL);
    g_return_val_if_fail(ifname, NULL);

    self         = g_object_new(WGM_TYPE_UAPI_CONN, NULL);
    self->path   = g_strdup(path);
    self->ifname = g_strdup(ifname);
    return self;
}

const char *
wgm_uapi_conn_get_path(WgmUapiConn *self)
{
    g_return_val_if_fail(WGM_IS_UAPI_CONN(self), NULL);
    return self->path;
}

void
wgm_uapi_conn_set_timeout(WgmUapiConn *self, guint timeout_ms)
{
    g_return_if_fail(WGM_IS_UAPI_CONN(self));
    g_return_if_fail(timeout_ms > 0);
    self->timeout_ms = timeout_ms;
}

static void
wgm_uapi_conn_init(WgmUapiConn *self)
{
    self->cancellable = g_cancellable_new();
    self->client      = g_socket_client_new();
    self->read_buf    = g_malloc(READ_BUF_SIZE);
    self->timeout_ms  = WGM_UAPI_CONN_DEFAULT_TIMEOUT_MS;
    g_queue_init(&self->waiters);
    g_queue_init(&self->ops);
}

static void
wgm_uapi_conn_dispose(GObject *object)
{
    WgmUapiConn *self = WGM_UAPI_CONN(object);

    /* Every pending task holds a reference: nothing is waiting by now. */
    if (!self->closed) {
        g_autoptr(GError) error =
            g_error_new(G_IO_ERROR, G_IO_ERROR_CLOSED, "Connection to %s is closed", self->path);

        wgm_uapi_conn_close(self, error);
    }
    g_clear_object(&self->client);
    G_OBJECT_CLASS(wgm_uapi_conn_parent_class)->dispose(object);
}

static void
wgm_uapi_conn_finalize(GObject *object)
{
    WgmUapiConn *self = WGM_UAPI_CONN(object);

    wgm_memzero(self->read_buf, READ_BUF_SIZE);
    g_free(self->read_buf);
    g_clear_object(&self->cancellable);
    g_free(self->path);
    g_free(self->ifname);
    G_OBJECT_CLASS(wgm_uapi_conn_parent_class)->finalize(object);
}

static void
wgm_uapi_conn_class_init(WgmUapiConnClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->dispose  = wgm_uapi_conn_dispose;
    object_class->finalize = wgm_uapi_conn_finalize;

    /**
     * WgmUapiConn::unanswered:
     * @n_in_a_row: requests that went unanswered since the last reply
     * @timeout_ms: the limit this one had
     *
     * A request got no reply in time; it has failed and the connection is
     * dropped already.  Any reply (even errno != 0) starts the count again.
     */
    signals[SIGNAL_UNANSWERED] = g_signal_new("unanswered",
                                              G_TYPE_FROM_CLASS(klass),
                                              G_SIGNAL_RUN_LAST,
                                              0,
                                              NULL,
                                              NULL,
                                              NULL,
                                              G_TYPE_NONE,
                                              2,
                                              G_TYPE_UINT,
                                              G_TYPE_UINT);
}
