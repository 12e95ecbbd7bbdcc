/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-child.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wgm-glib-utils.h"

/*
 * Facts this file relies on, measured with wireguard-go 0.0.20220316:
 *
 * - It creates the tun device, then listens on its socket file (removing
 *   a stale one first).
 * - On SIGTERM it deletes the interface and its socket file and exits 0
 *   within ~0.1 s.  After SIGKILL the kernel deletes the interface (the tun
 *   fd closes) but the socket file stays behind: we unlink it.  A stopped
 *   (SIGSTOP) or wedged process never acts on SIGTERM: TERM_GRACE_MS after
 *   it, it gets SIGKILL, so that a restart is never held up for good.
 * - The interface name is free again once the process is reaped: its fds,
 *   the tun among them, are closed before it becomes a zombie.
 * - It logs to stdout ("DEBUG: (wg0) <date> <time> ..." / "ERROR: ..."),
 *   naming peers by a short public key only, and prints a banner claiming
 *   kernel support to stderr unless WG_PROCESS_FOREGROUND=1.
 * - A Go runtime crash ends in a long goroutine dump after a first line
 *   "panic: ..." or "fatal error: ...".
 */

#define LOG_DRAIN_MS    250
#define LOG_TAIL_LINES  3
#define LOG_RECENT_USEC (2 * G_USEC_PER_SEC)
#define TERM_GRACE_MS   3000

struct _WgmChild {
    GObject parent_instance;

    char        *ifname;
    char        *socket_path;
    GSubprocess *proc;

    /* Its output (stderr merged into stdout), read until EOF whatever
     * happens to the owner: each read holds a reference. */
    GDataInputStream *out;
    gboolean          out_open;
    GQueue            tail;      /* char*: the last error lines, for error messages */
    gint64            tail_time; /* monotonic time of the last one */
    char             *fatal;     /* a Go runtime "panic: ..." or "fatal error: ..." line */

    gboolean reaped;  /* and its socket file dealt with */
    GQueue   waiters; /* Waiter*: wgm_child_wait_async() callers */
    gboolean exited_emitted;
    GSource *drain_source;
    GSource *kill_source; /* SIGKILL after an ignored SIGTERM */
};

enum {
    SIGNAL_EXITED,
    N_SIGNALS,
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE(WgmChild, wgm_child, G_TYPE_OBJECT)

/* A wgm_child_wait_async() caller. */
typedef struct {
    WgmChild *self; /* not a reference: the task holds one */
    GTask    *task;
    GSource  *cancel_source;
} Waiter;

static void
waiter_free(Waiter *waiter)
{
    wgm_clear_source(&waiter->cancel_source);
    g_clear_object(&waiter->task);
    g_free(waiter);
}

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
emit_exited(WgmChild *self)
{
    g_autoptr(WgmChild) keep = g_object_ref(self);

    wgm_clear_source(&self->drain_source);
    if (self->exited_emitted)
        return;
    self->exited_emitted = TRUE;
    g_signal_emit(self, signals[SIGNAL_EXITED], 0);
}

/* ---- its output --------------------------------------------------------- */

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
    g_autoptr(WgmChild) self = user_data;
    g_autofree char *raw     = NULL;
    g_autofree char *line    = NULL;
    gint64           now     = g_get_monotonic_time();

    raw = g_data_input_stream_read_line_finish(self->out, result, NULL, NULL);
    if (!raw) {
        /* EOF (the child is gone) or a read error: the pipe is done with,
         * even while the stopped child is kept a while (wait_stopped()). */
        self->out_open = FALSE;
        g_input_stream_close(G_INPUT_STREAM(self->out), NULL, NULL);
        if (self->reaped)
            emit_exited(self);
        return;
    }

    line = g_utf8_make_valid(raw, -1);
    if (g_str_has_prefix(line, "DEBUG: ")) {
        g_debug("wireguard-go[%s]: %s", self->ifname, line);
    } else {
        g_message("wireguard-go[%s]: %s", self->ifname, line);
        /* Older errors (a refused set long ago) say nothing about an exit. */
        if (now - self->tail_time > LOG_RECENT_USEC)
            g_queue_clear_full(&self->tail, g_free);
        g_queue_push_tail(&self->tail, g_strdup(strip_log_prefix(line, self->ifname)));
        if (self->tail.length > LOG_TAIL_LINES)
            g_free(g_queue_pop_head(&self->tail));
        self->tail_time = now;
        if (!self->fatal
            && (g_str_has_prefix(line, "panic: ") || g_str_has_prefix(line, "fatal error: ")))
            self->fatal = g_strdup(line);
    }
    g_data_input_stream_read_line_async(
        self->out, G_PRIORITY_DEFAULT, NULL, log_line_cb, g_object_ref(self));
}

char *
wgm_child_get_last_words(WgmChild *self)
{
    GString *str;

    g_return_val_if_fail(WGM_IS_CHILD(self), NULL);

    if (self->fatal)
        return g_strdup(self->fatal);
    if (g_get_monotonic_time() - self->tail_time > LOG_RECENT_USEC)
        return NULL;
    str = g_string_new(NULL);
    for (GList *l = self->tail.head; l; l = l->next)
        g_string_append_printf(str, "%s%s", str->len ? "; " : "", (char *)l->data);
    if (!str->len) {
        g_string_free(str, TRUE);
        return NULL;
    }
    return g_string_free(str, FALSE);
}

/* ---- its exit ----------------------------------------------------------- */

static gboolean
drain_timeout_cb(gpointer user_data)
{
    emit_exited(user_data);
    return G_SOURCE_REMOVE;
}

static void
wait_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmChild) self = user_data;
    Waiter *waiter;

    g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
    wgm_clear_source(&self->kill_source);
    /* Left behind after a SIGKILL or a crash.  Before anyone waiting may
     * start a successor: later, the file could be the successor's, bound
     * but not yet listening. */
    unlink_stale_socket(self->socket_path);
    self->reaped = TRUE;
    while ((waiter = g_queue_pop_head(&self->waiters))) {
        g_task_return_boolean(waiter->task, TRUE);
        waiter_free(waiter);
    }

    /* Its last words (why it exited) may still be in the pipe. */
    if (self->out_open) {
        self->drain_source = wgm_source_attach(
            g_timeout_source_new(LOG_DRAIN_MS), drain_timeout_cb, self, "wgm-child-drain");
        return;
    }
    emit_exited(self);
}

gboolean
wgm_child_is_gone(WgmChild *self)
{
    g_return_val_if_fail(WGM_IS_CHILD(self), TRUE);
    /* GSubprocess reaps on GLib's worker thread: the identifier goes away
     * when the child has, before any callback runs. */
    return !g_subprocess_get_identifier(self->proc);
}

static gboolean
waiter_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
    Waiter *waiter = user_data;

    g_queue_remove(&waiter->self->waiters, waiter);
    g_task_return_error_if_cancelled(waiter->task);
    waiter_free(waiter);
    return G_SOURCE_REMOVE;
}

void
wgm_child_wait_async(WgmChild           *self,
                     GCancellable       *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer            user_data)
{
    GTask  *task;
    Waiter *waiter;

    g_return_if_fail(WGM_IS_CHILD(self));

    task = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(task, wgm_child_wait_async);
    /* Answered from wait_cb(), once the socket file is dealt with. */
    if (self->reaped) {
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
                                                  "wgm-child-wait");
    }
    g_queue_push_tail(&self->waiters, waiter);
}

gboolean
wgm_child_wait_finish(WgmChild *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

char *
wgm_child_describe_exit(WgmChild *self)
{
    GSubprocess *proc;

    g_return_val_if_fail(WGM_IS_CHILD(self), NULL);

    proc = self->proc;
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

static gboolean
kill_timeout_cb(gpointer user_data)
{
    WgmChild *self = user_data;

    wgm_clear_source(&self->kill_source);
    g_message("wireguard-go for %s did not exit within %u ms of SIGTERM, killing it",
              self->ifname,
              (guint)TERM_GRACE_MS);
    wgm_child_kill(self);
    return G_SOURCE_REMOVE;
}

void
wgm_child_terminate(WgmChild *self)
{
    g_return_if_fail(WGM_IS_CHILD(self));

    if (self->reaped)
        return;
    /* A no-op once reaped (GSubprocess knows: never a recycled pid). */
    g_subprocess_send_signal(self->proc, SIGTERM);
    /* The pending wait holds a reference until the reap clears this. */
    if (!self->kill_source) {
        self->kill_source = wgm_source_attach(
            g_timeout_source_new(TERM_GRACE_MS), kill_timeout_cb, self, "wgm-child-kill");
    }
}

void
wgm_child_kill(WgmChild *self)
{
    const char *pid;

    g_return_if_fail(WGM_IS_CHILD(self));

    pid = g_subprocess_get_identifier(self->proc);
    if (!pid)
        return;
    g_debug("wireguard-go[%s]: sending SIGKILL to pid %s", self->ifname, pid);
    g_subprocess_force_exit(self->proc);
}

static gboolean
wait_gone(GSubprocess *proc, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;

    while (g_subprocess_get_identifier(proc) && g_get_monotonic_time() < deadline)
        g_usleep(5 * G_TIME_SPAN_MILLISECOND);
    return !g_subprocess_get_identifier(proc);
}

gboolean
wgm_child_wait_gone(WgmChild *self, guint timeout_ms)
{
    g_return_val_if_fail(WGM_IS_CHILD(self), FALSE);

    if (!wait_gone(self->proc, timeout_ms)) {
        g_message("wireguard-go for %s did not exit within %u ms of SIGTERM, killing it",
                  self->ifname,
                  timeout_ms);
        g_subprocess_force_exit(self->proc);
        wait_gone(self->proc, 1000);
    }
    if (g_subprocess_get_identifier(self->proc))
        return FALSE;
    /* No main loop will run wait_cb() now. */
    unlink_stale_socket(self->socket_path);
    return TRUE;
}

/* ---- spawning ----------------------------------------------------------- */

static void
child_setup(gpointer user_data)
{
    /* If the service dies without stopping us, wireguard-go gets SIGTERM
     * and removes its interface instead of lingering.  Runs between fork()
     * and exec(): async-signal-safe calls only. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

WgmChild *
wgm_child_spawn(const char *binary, const char *ifname, const char *socket_path, GError **error)
{
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autoptr(GError) local                 = NULL;
    GSubprocess *proc;
    WgmChild    *self;

    g_return_val_if_fail(binary && ifname && socket_path, NULL);
    g_return_val_if_fail(!error || !*error, NULL);

    launcher =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
    /* -f already keeps it in the foreground; this only silences a banner
     * that claims the kernel has WireGuard. */
    g_subprocess_launcher_setenv(launcher, "WG_PROCESS_FOREGROUND", "1", TRUE);
    g_subprocess_launcher_set_child_setup(launcher, child_setup, NULL, NULL);
    proc = g_subprocess_launcher_spawn(launcher, &local, binary, "-f", ifname, NULL);
    if (!proc) {
        g_propagate_prefixed_error(error, g_steal_pointer(&local), "Could not start %s: ", binary);
        return NULL;
    }
    g_debug(
        "wireguard-go[%s]: started %s, pid %s", ifname, binary, g_subprocess_get_identifier(proc));

    self              = g_object_new(WGM_TYPE_CHILD, NULL);
    self->ifname      = g_strdup(ifname);
    self->socket_path = g_strdup(socket_path);
    self->proc        = proc;
    self->out         = g_data_input_stream_new(g_subprocess_get_stdout_pipe(proc));
    self->out_open    = TRUE;
    g_data_input_stream_read_line_async(
        self->out, G_PRIORITY_DEFAULT, NULL, log_line_cb, g_object_ref(self));
    g_subprocess_wait_async(proc, NULL, wait_cb, g_object_ref(self));
    return self;
}

/* ---- GObject ------------------------------------------------------------ */

static void
wgm_child_init(WgmChild *self)
{
    g_queue_init(&self->tail);
    g_queue_init(&self->waiters);
}

static void
wgm_child_finalize(GObject *object)
{
    WgmChild *self = WGM_CHILD(object);

    /* The drain timer holds no reference, but only runs while the output
     * read (which does) is pending. */
    wgm_clear_source(&self->drain_source);
    wgm_clear_source(&self->kill_source);
    g_clear_object(&self->out);
    g_clear_object(&self->proc);
    g_queue_clear_full(&self->tail, g_free);
    g_free(self->fatal);
    g_free(self->ifname);
    g_free(self->socket_path);
    G_OBJECT_CLASS(wgm_child_parent_class)->finalize(object);
}

static void
wgm_child_class_init(WgmChildClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->finalize = wgm_child_finalize;

    signals[SIGNAL_EXITED] = g_signal_new(
        "exited", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}
