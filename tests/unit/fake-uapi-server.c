/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "fake-uapi-server.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define POLL_MS 20

/* ------------------------------------------------------------------------ */
/* The fake server */

static void
reply_free(Reply *reply)
{
    g_free(reply->text);
    g_free(reply);
}

static void
server_changed(FakeServer *srv)
{
    g_cond_broadcast(&srv->cond);
    g_main_context_wakeup(srv->context);
}

/* Waits up to POLL_MS for @fd; FALSE once quitting. */
static gboolean
server_poll(FakeServer *srv, int fd, int *out_ready)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    gboolean      quit;

    *out_ready = poll(&pfd, 1, POLL_MS) > 0;
    g_mutex_lock(&srv->lock);
    quit = srv->quit;
    g_mutex_unlock(&srv->lock);
    return !quit;
}

static gboolean
server_send(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}

/* Data waiting on @fd, within 2 ms (EOF is none). */
static gboolean
has_input(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    char          peek;

    return poll(&pfd, 1, 2) > 0 && recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Answers requests on @fd until the client goes, or a reply says to cut;
 * FALSE if a reply said to swallow, and @fd stays open. */
static gboolean
serve_connection(FakeServer *srv, int fd)
{
    g_autoptr(GString) buf = g_string_new(NULL);

    for (;;) {
        g_autofree char *request = NULL;
        g_autofree char *text    = NULL;
        Reply           *reply;
        const char      *end;
        guint            number;
        gsize            len;
        int              ready;
        gboolean         pipelined = FALSE;

        while (!(end = strstr(buf->str, "\n\n"))) {
            char    chunk[4096];
            ssize_t n;

            if (!server_poll(srv, fd, &ready))
                return TRUE;
            if (!ready)
                continue;
            n = recv(fd, chunk, sizeof(chunk), 0);
            if (n <= 0)
                return TRUE;
            g_string_append_len(buf, chunk, n);
        }
        len     = end + 2 - buf->str;
        request = g_strndup(buf->str, len);
        g_string_erase(buf, 0, len);
        pipelined = buf->len > 0;

        g_mutex_lock(&srv->lock);
        g_ptr_array_add(srv->requests, g_strdup(request));
        number = srv->requests->len;
        reply  = g_queue_pop_head(&srv->script);
        server_changed(srv);
        if (reply && reply->swallow) {
            /* A hung wireguard-go: no reply, no EOF. */
            g_array_append_val(srv->swallowed, fd);
            g_mutex_unlock(&srv->lock);
            reply_free(reply);
            return FALSE;
        }
        if (reply && reply->hold) {
            while (!srv->releases && !srv->quit)
                g_cond_wait(&srv->cond, &srv->lock);
            if (srv->releases)
                srv->releases--;
        }
        g_mutex_unlock(&srv->lock);

        if (reply && reply->text)
            text = g_strdup(reply->text);
        else if (g_str_has_prefix(request, "get=1\n"))
            text = g_strdup_printf("listen_port=%u\nerrno=0\n\n", number);
        else
            text = g_strdup("errno=0\n\n");

        len = strlen(text);
        if (reply && reply->cut)
            len = MIN(len, reply->cut_after);
        for (gsize pos = 0; pos < len;) {
            gsize n = reply && reply->chunk ? MIN(reply->chunk, len - pos) : len - pos;

            /* Until the reply is complete, the client has no business
             * writing: anything sent by now was pipelined. */
            if (pos + n == len && has_input(fd))
                pipelined = TRUE;
            if (!server_send(fd, text + pos, n))
                break;
            pos += n;
            /* Give the client a chance to read each piece on its own. */
            if (pos < len)
                g_usleep(100);
        }
        if (pipelined) {
            g_mutex_lock(&srv->lock);
            srv->pipelined = TRUE;
            g_mutex_unlock(&srv->lock);
        }
        if (reply && reply->cut) {
            reply_free(reply);
            return TRUE;
        }
        g_clear_pointer(&reply, reply_free);
    }
}

static gpointer
server_thread(gpointer data)
{
    FakeServer *srv = data;
    int         ready;

    while (server_poll(srv, srv->listen_fd, &ready)) {
        int fd;

        if (!ready)
            continue;
        fd = accept(srv->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        g_mutex_lock(&srv->lock);
        srv->n_connections++;
        server_changed(srv);
        g_mutex_unlock(&srv->lock);
        if (serve_connection(srv, fd))
            close(fd);
    }
    return NULL;
}

FakeServer *
fake_server_new(void)
{
    FakeServer        *srv   = g_new0(FakeServer, 1);
    struct sockaddr_un addr  = { .sun_family = AF_UNIX };
    GError            *error = NULL;

    srv->dir = g_dir_make_tmp("test-uapi-conn-XXXXXX", &error);
    g_assert_no_error(error);
    srv->path = g_build_filename(srv->dir, "wg-test.sock", NULL);
    g_assert_cmpuint(strlen(srv->path), <, sizeof(addr.sun_path));
    g_strlcpy(addr.sun_path, srv->path, sizeof(addr.sun_path));

    srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(srv->listen_fd, >=, 0);
    g_assert_cmpint(bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(srv->listen_fd, 8), ==, 0);

    srv->context   = g_main_context_ref_thread_default();
    srv->requests  = g_ptr_array_new_with_free_func(g_free);
    srv->swallowed = g_array_new(FALSE, FALSE, sizeof(int));
    g_mutex_init(&srv->lock);
    g_cond_init(&srv->cond);
    g_queue_init(&srv->script);
    srv->thread = g_thread_new("fake-uapi", server_thread, srv);
    return srv;
}

void
fake_server_free(FakeServer *srv)
{
    g_mutex_lock(&srv->lock);
    srv->quit = TRUE;
    server_changed(srv);
    g_mutex_unlock(&srv->lock);
    g_thread_join(srv->thread);

    close(srv->listen_fd);
    for (guint i = 0; i < srv->swallowed->len; i++)
        close(g_array_index(srv->swallowed, int, i));
    g_array_unref(srv->swallowed);
    g_assert_cmpint(unlink(srv->path), ==, 0);
    g_assert_cmpint(rmdir(srv->dir), ==, 0);
    g_queue_clear_full(&srv->script, (GDestroyNotify)reply_free);
    g_ptr_array_unref(srv->requests);
    g_cond_clear(&srv->cond);
    g_mutex_clear(&srv->lock);
    g_main_context_unref(srv->context);
    g_free(srv->path);
    g_free(srv->dir);
    g_free(srv);
}

/* Queues @reply (copied) for the next request without one. */
void
fake_server_script(FakeServer *srv, Reply reply)
{
    Reply *copy = g_new(Reply, 1);

    *copy      = reply;
    copy->text = g_strdup(reply.text);
    g_mutex_lock(&srv->lock);
    g_queue_push_tail(&srv->script, copy);
    g_mutex_unlock(&srv->lock);
}

void
fake_server_release(FakeServer *srv)
{
    g_mutex_lock(&srv->lock);
    srv->releases++;
    server_changed(srv);
    g_mutex_unlock(&srv->lock);
}

Seen
fake_server_seen(FakeServer *srv)
{
    Seen seen;

    g_mutex_lock(&srv->lock);
    seen.n_requests    = srv->requests->len;
    seen.n_connections = srv->n_connections;
    seen.pipelined     = srv->pipelined;
    g_mutex_unlock(&srv->lock);
    return seen;
}

char *
fake_server_request(FakeServer *srv, guint i)
{
    char *request;

    g_mutex_lock(&srv->lock);
    g_assert_cmpuint(i, <, srv->requests->len);
    request = g_strdup(srv->requests->pdata[i]);
    g_mutex_unlock(&srv->lock);
    return request;
}
