/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * WgmUapiConn, the persistent UAPI connection, against a fake UAPI server
 * that this test serves itself (a thread, a unix socket in a temporary
 * directory; no root needed).
 *
 * The fake stands in for wireguard-go only to script failures the real one
 * cannot be made to produce on demand: replies cut into tiny pieces, a
 * connection closed mid-reply, a reply held back while its request is
 * cancelled, garbage after a reply, a request never answered.  The netns
 * suite drives the real wireguard-go.  Like wireguard-go, the fake answers
 * requests on one connection strictly in order; it also notes any request
 * that arrived before the previous reply was written, which the connection
 * must never send (wireguard-go's set parser reads ahead).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake-uapi-server.h"
#include "wgm-error.h"
#include "wgm-uapi-conn.h"
#include "wgm-uapi.h"

#define TIMEOUT_SEC 10

/* ------------------------------------------------------------------------ */
/* Fixture and helpers */

typedef struct {
    FakeServer  *srv;
    WgmUapiConn *conn;
    guint        n_completed;
    guint        heartbeat;
} Fixture;

/* One request's outcome. */
typedef struct {
    Fixture        *f;
    gboolean        done;
    guint           order; /* 1 for the first to complete */
    gboolean        ok;
    WgmDeviceStats *stats;
    GError         *error;
} Result;

static gboolean
heartbeat_cb(gpointer data)
{
    /* Only so that a blocking iteration re-checks its deadline. */
    return G_SOURCE_CONTINUE;
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    f->srv       = fake_server_new();
    f->conn      = wgm_uapi_conn_new(f->srv->path, "test0");
    f->heartbeat = g_timeout_add(50, heartbeat_cb, NULL);
}

typedef gboolean (*Predicate)(gpointer data);

static void
run_until(Predicate done, gpointer data)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_SEC * G_USEC_PER_SEC;

    while (!done(data)) {
        if (g_get_monotonic_time() > deadline)
            g_error("timed out after %d s", TIMEOUT_SEC);
        g_main_context_iteration(NULL, TRUE);
    }
}

static gboolean
is_true(gpointer data)
{
    return *(gboolean *)data;
}

static gboolean
is_null(gpointer data)
{
    return *(gpointer *)data == NULL;
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CLOSED, "test over");
    WgmUapiConn *conn       = f->conn;

    wgm_uapi_conn_close(f->conn, error);
    /* Every callback of the connection runs and lets go of it. */
    g_object_add_weak_pointer(G_OBJECT(conn), (gpointer *)&conn);
    g_clear_object(&f->conn);
    run_until(is_null, &conn);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_clear_handle_id(&f->heartbeat, g_source_remove);
    fake_server_free(f->srv);
}

static void
result_clear(Result *r)
{
    g_clear_pointer(&r->stats, wgm_device_stats_free);
    g_clear_error(&r->error);
}

/* A callback's outcome: @ok, with an error exactly when not. */
static void
result_done(Result *r, gboolean ok)
{
    g_assert_false(r->done);
    r->ok = ok;
    g_assert_true(r->ok == (r->error == NULL));
    r->done  = TRUE;
    r->order = ++r->f->n_completed;
}

static void
get_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    Result *r = data;

    r->stats = wgm_uapi_conn_get_finish(WGM_UAPI_CONN(source), result, &r->error);
    result_done(r, r->stats != NULL);
}

static void
set_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    Result *r = data;

    result_done(r, wgm_uapi_conn_set_finish(WGM_UAPI_CONN(source), result, &r->error));
}

static void
connect_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    Result *r = data;

    result_done(r, wgm_uapi_conn_connect_finish(WGM_UAPI_CONN(source), result, &r->error));
}

static void
get(Fixture *f, Result *r, GCancellable *cancellable)
{
    r->f = f;
    wgm_uapi_conn_get_async(f->conn, cancellable, get_cb, r);
}

static void
set(Fixture *f, Result *r, const char *request, GCancellable *cancellable)
{
    r->f = f;
    wgm_uapi_conn_set_async(f->conn, g_string_new(request), cancellable, set_cb, r);
}

static gboolean
is_done(gpointer data)
{
    return ((Result *)data)->done;
}

static void
wait_done(Result *r)
{
    run_until(is_done, r);
}

typedef struct {
    FakeServer *srv;
    guint       n;
} Count;

static gboolean
has_requests(gpointer data)
{
    Count *c = data;

    return fake_server_seen(c->srv).n_requests >= c->n;
}

static void
wait_requests(Fixture *f, guint n)
{
    Count c = { f->srv, n };

    run_until(has_requests, &c);
}

static void
connect_now(Fixture *f)
{
    Result r = { .f = f };

    wgm_uapi_conn_connect_async(f->conn, NULL, connect_cb, &r);
    wait_done(&r);
    g_assert_no_error(r.error);
    g_assert_true(r.ok);
    f->n_completed = 0;
}

static void
assert_request(Fixture *f, guint i, const char *expected)
{
    g_autofree char *request = fake_server_request(f->srv, i);

    g_assert_cmpstr(request, ==, expected);
}

static char *
read_data(const char *name)
{
    g_autofree char *path  = g_test_build_filename(G_TEST_DIST, "unit", "data", name, NULL);
    GError          *error = NULL;
    char            *text  = NULL;

    g_file_get_contents(path, &text, NULL, &error);
    g_assert_no_error(error);
    return text;
}

static WgmDeviceStats *
parse_at_once(const char *text)
{
    g_autoptr(WgmUapiReader) reader = wgm_uapi_reader_new(TRUE);
    GError *error                   = NULL;
    gsize   consumed                = 0;

    g_assert_cmpint(wgm_uapi_reader_feed(reader, text, strlen(text), &consumed, &error),
                    ==,
                    WGM_UAPI_READER_DONE);
    g_assert_no_error(error);
    g_assert_cmpuint(consumed, ==, strlen(text));
    return wgm_uapi_reader_steal_stats(reader);
}

static void
assert_same_stats(const WgmDeviceStats *a, const WgmDeviceStats *b)
{
    g_assert_cmpint(a->listen_port, ==, b->listen_port);
    g_assert_cmpuint(a->peers->len, ==, b->peers->len);
    for (guint i = 0; i < a->peers->len; i++) {
        const WgmPeerStats *pa = &g_array_index(a->peers, WgmPeerStats, i);
        const WgmPeerStats *pb = &g_array_index(b->peers, WgmPeerStats, i);

        g_assert_true(wgm_key_equal(&pa->public_key, &pb->public_key));
        g_assert_cmpint(pa->last_handshake_usec, ==, pb->last_handshake_usec);
        g_assert_cmpuint(pa->rx_bytes, ==, pb->rx_bytes);
        g_assert_cmpuint(pa->tx_bytes, ==, pb->tx_bytes);
        g_assert_cmpuint(pa->n_allowed_ips, ==, pb->n_allowed_ips);
    }
}

#define GET_ONE_PEER                                                                   \
    "private_key=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"   \
    "listen_port=51820\n"                                                              \
    "public_key=8406511af529737afe8cf682422986214c3ddf72cb5742d7c835f354a338897c\n"    \
    "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n" \
    "endpoint=127.0.0.1:51821\n"                                                       \
    "last_handshake_time_sec=0\n"                                                      \
    "last_handshake_time_nsec=0\n"                                                     \
    "rx_bytes=92\n"                                                                    \
    "tx_bytes=148\n"                                                                   \
    "persistent_keepalive_interval=25\n"                                               \
    "allowed_ip=10.0.0.2/32\n"                                                         \
    "errno=0\n\n"

/* ------------------------------------------------------------------------ */
/* Tests */

static void
test_round_trip(Fixture *f, gconstpointer data)
{
    Result              r[3] = { 0 };
    const WgmPeerStats *peer;

    connect_now(f);
    /* Connected already: at once. */
    connect_now(f);

    fake_server_script(f->srv, (Reply){ .text = GET_ONE_PEER });
    get(f, &r[0], NULL);
    wait_done(&r[0]);
    g_assert_no_error(r[0].error);
    g_assert_cmpint(r[0].stats->listen_port, ==, 51820);
    g_assert_cmpuint(r[0].stats->peers->len, ==, 1);
    peer = &g_array_index(r[0].stats->peers, WgmPeerStats, 0);
    g_assert_true(peer->has_endpoint);
    g_assert_cmpuint(peer->rx_bytes, ==, 92);
    g_assert_cmpuint(peer->tx_bytes, ==, 148);
    g_assert_cmpuint(peer->persistent_keepalive, ==, 25);
    g_assert_cmpuint(peer->n_allowed_ips, ==, 1);

    set(f, &r[1], "set=1\nlisten_port=51821\n\n", NULL);
    wait_done(&r[1]);
    g_assert_no_error(r[1].error);
    g_assert_true(r[1].ok);

    get(f, &r[2], NULL);
    wait_done(&r[2]);
    g_assert_no_error(r[2].error);
    g_assert_cmpint(r[2].stats->listen_port, ==, 3);

    g_assert_cmpuint(fake_server_seen(f->srv).n_requests, ==, 3);
    assert_request(f, 0, "get=1\n\n");
    assert_request(f, 1, "set=1\nlisten_port=51821\n\n");
    assert_request(f, 2, "get=1\n\n");
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 1);
    g_assert_false(fake_server_seen(f->srv).pipelined);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++)
        result_clear(&r[i]);
}

#define N_QUEUED 60

static void
test_queued_in_order(Fixture *f, gconstpointer data)
{
    Result r[N_QUEUED] = { 0 };

    /* All queued before the first connect has even started. */
    for (guint i = 0; i < N_QUEUED; i++) {
        g_autofree char *request = g_strdup_printf("set=1\nlisten_port=%u\n\n", 1000 + i);

        if (i % 2 == 0)
            get(f, &r[i], NULL);
        else
            set(f, &r[i], request, NULL);
    }
    wait_done(&r[N_QUEUED - 1]);

    for (guint i = 0; i < N_QUEUED; i++) {
        g_autofree char *request = g_strdup_printf("set=1\nlisten_port=%u\n\n", 1000 + i);

        g_assert_true(r[i].done);
        g_assert_no_error(r[i].error);
        g_assert_cmpuint(r[i].order, ==, i + 1);
        if (i % 2 == 0) {
            /* The fake answers a get with its request number. */
            g_assert_cmpint(r[i].stats->listen_port, ==, i + 1);
            assert_request(f, i, "get=1\n\n");
        } else {
            assert_request(f, i, request);
        }
        result_clear(&r[i]);
    }
    g_assert_cmpuint(fake_server_seen(f->srv).n_requests, ==, N_QUEUED);
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 1);
    g_assert_false(fake_server_seen(f->srv).pipelined);
}

static void
test_tiny_chunks(Fixture *f, gconstpointer data)
{
    static const gsize chunks[]        = { 1, 2, 7, 64 };
    g_autofree char   *mesh            = read_data("uapi-get-mesh.txt");
    g_autoptr(WgmDeviceStats) expected = parse_at_once(mesh);
    Result r[G_N_ELEMENTS(chunks) + 1] = { 0 };

    g_assert_cmpuint(expected->peers->len, >, 0);
    for (guint i = 0; i < G_N_ELEMENTS(chunks); i++) {
        fake_server_script(f->srv, (Reply){ .text = mesh, .chunk = chunks[i] });
        get(f, &r[i], NULL);
    }
    fake_server_script(f->srv, (Reply){ .text = "errno=0\n\n", .chunk = 1 });
    set(f, &r[G_N_ELEMENTS(chunks)], "set=1\nfwmark=0\n\n", NULL);
    wait_done(&r[G_N_ELEMENTS(chunks)]);

    for (guint i = 0; i < G_N_ELEMENTS(chunks); i++) {
        g_assert_no_error(r[i].error);
        assert_same_stats(r[i].stats, expected);
        result_clear(&r[i]);
    }
    g_assert_no_error(r[G_N_ELEMENTS(chunks)].error);
    g_assert_true(r[G_N_ELEMENTS(chunks)].ok);
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 1);
    g_assert_false(fake_server_seen(f->srv).pipelined);
}

static void
test_errno_reconnects(Fixture *f, gconstpointer data)
{
    Result r[4] = { 0 };

    connect_now(f);
    /* wireguard-go may not have read the rest of a refused set: what
     * follows on that connection is not to be trusted. */
    fake_server_script(f->srv, (Reply){ .text = "errno=22\n\n" });
    fake_server_script(f->srv, (Reply){ 0 });
    fake_server_script(f->srv, (Reply){ .text = "errno=5\n\n", .chunk = 3 });
    set(f, &r[0], "set=1\nlisten_port=99999\n\n", NULL);
    get(f, &r[1], NULL);
    get(f, &r[2], NULL);
    set(f, &r[3], "set=1\nfwmark=0\n\n", NULL);
    wait_done(&r[3]);

    g_assert_error(r[0].error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_nonnull(strstr(r[0].error->message, "refused the configuration"));
    g_assert_no_error(r[1].error);
    g_assert_cmpint(r[1].stats->listen_port, ==, 2);
    g_assert_error(r[2].error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_nonnull(strstr(r[2].error->message, "could not report the device state"));
    g_assert_no_error(r[3].error);
    g_assert_true(r[3].ok);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++) {
        g_assert_cmpuint(r[i].order, ==, i + 1);
        result_clear(&r[i]);
    }
    /* A new connection after each failure, in order. */
    g_assert_cmpuint(fake_server_seen(f->srv).n_requests, ==, 4);
    assert_request(f, 0, "set=1\nlisten_port=99999\n\n");
    assert_request(f, 3, "set=1\nfwmark=0\n\n");
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 3);
    g_assert_false(fake_server_seen(f->srv).pipelined);
}

static void
test_closed_mid_reply(Fixture *f, gconstpointer data)
{
    Result r[4] = { 0 };
    Result last = { 0 };

    fake_server_script(f->srv, (Reply){ .text = GET_ONE_PEER, .cut = TRUE, .cut_after = 100 });
    fake_server_script(f->srv, (Reply){ .cut = TRUE, .cut_after = 0 });
    fake_server_script(f->srv, (Reply){ .text = GET_ONE_PEER, .chunk = 5 });
    get(f, &r[0], NULL);
    set(f, &r[1], "set=1\nfwmark=0\n\n", NULL);
    get(f, &r[2], NULL);
    wait_done(&r[2]);

    g_assert_error(r[0].error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_nonnull(strstr(r[0].error->message, "test0 closed its control socket"));
    g_assert_error(r[1].error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_no_error(r[2].error);
    g_assert_cmpint(r[2].stats->listen_port, ==, 51820);
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 3);

    /* Garbage after a reply: the stream cannot be trusted any more. */
    fake_server_script(f->srv, (Reply){ .text = "errno=0\n\nlisten_port=1\n" });
    set(f, &r[3], "set=1\nfwmark=0\n\n", NULL);
    wait_done(&r[3]);
    g_assert_error(r[3].error, WGM_ERROR, WGM_ERROR_PROTOCOL);
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 3);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++)
        result_clear(&r[i]);

    /* And the next request goes out on a fresh connection. */
    get(f, &last, NULL);
    wait_done(&last);
    g_assert_no_error(last.error);
    g_assert_cmpint(last.stats->listen_port, ==, 5);
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 4);
    result_clear(&last);
}

static void
test_cancel_queued(Fixture *f, gconstpointer data)
{
    g_autoptr(GCancellable) cancel_b = g_cancellable_new();
    g_autoptr(GCancellable) cancel_d = g_cancellable_new();
    Result r[4]                      = { 0 };

    connect_now(f);
    fake_server_script(f->srv, (Reply){ .text = "listen_port=1\nerrno=0\n\n", .hold = TRUE });
    fake_server_script(f->srv, (Reply){ .text = "listen_port=3\nerrno=0\n\n" });
    get(f, &r[0], NULL);
    set(f, &r[1], "set=1\nprivate_key=secret\n\n", cancel_b);
    get(f, &r[2], NULL);
    /* Cancelled before it is even queued. */
    g_cancellable_cancel(cancel_d);
    set(f, &r[3], "set=1\nfwmark=4\n\n", cancel_d);
    wait_requests(f, 1);

    g_cancellable_cancel(cancel_b);
    wait_done(&r[1]);
    wait_done(&r[3]);
    g_assert_error(r[1].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_error(r[3].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_false(r[0].done);
    g_assert_false(r[2].done);

    fake_server_release(f->srv);
    wait_done(&r[2]);
    g_assert_no_error(r[0].error);
    g_assert_cmpint(r[0].stats->listen_port, ==, 1);
    g_assert_no_error(r[2].error);
    g_assert_cmpint(r[2].stats->listen_port, ==, 3);
    g_assert_cmpuint(r[0].order, <, r[2].order);

    /* The cancelled requests never went out. */
    g_assert_cmpuint(fake_server_seen(f->srv).n_requests, ==, 2);
    assert_request(f, 1, "get=1\n\n");
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 1);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++)
        result_clear(&r[i]);
}

static void
test_cancel_in_flight(Fixture *f, gconstpointer data)
{
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    g_autofree char *mesh               = read_data("uapi-get-mesh.txt");
    Result           r[2]               = { 0 };

    connect_now(f);
    /* A long reply in small pieces: many reads to drop. */
    fake_server_script(f->srv, (Reply){ .text = mesh, .chunk = 5, .hold = TRUE });
    fake_server_script(f->srv, (Reply){ .text = "listen_port=2\nerrno=0\n\n" });
    get(f, &r[0], cancellable);
    wait_requests(f, 1);

    /* Answered at once, although its reply has not even started. */
    g_cancellable_cancel(cancellable);
    wait_done(&r[0]);
    g_assert_error(r[0].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

    get(f, &r[1], NULL);
    fake_server_release(f->srv);
    wait_done(&r[1]);
    g_assert_no_error(r[1].error);
    /* Its own reply, not the cancelled one's. */
    g_assert_cmpint(r[1].stats->listen_port, ==, 2);
    g_assert_cmpuint(r[1].stats->peers->len, ==, 0);
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 1);
    g_assert_false(fake_server_seen(f->srv).pipelined);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++)
        result_clear(&r[i]);
}

static void
test_cancel_in_flight_refused(Fixture *f, gconstpointer data)
{
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Result r[2]                         = { 0 };

    connect_now(f);
    fake_server_script(f->srv, (Reply){ .text = "errno=22\n\n", .hold = TRUE });
    set(f, &r[0], "set=1\nlisten_port=99999\n\n", cancellable);
    wait_requests(f, 1);
    g_cancellable_cancel(cancellable);
    wait_done(&r[0]);
    g_assert_error(r[0].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

    /* Dropped with its failure all the same: a new connection. */
    get(f, &r[1], NULL);
    fake_server_release(f->srv);
    wait_done(&r[1]);
    g_assert_no_error(r[1].error);
    g_assert_cmpint(r[1].stats->listen_port, ==, 2);
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 2);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++)
        result_clear(&r[i]);
}

#define SHORT_TIMEOUT_MS 100

static void
test_timeout(Fixture *f, gconstpointer data)
{
    Result r[2] = { 0 };

    connect_now(f);
    fake_server_script(f->srv, (Reply){ .swallow = TRUE });
    wgm_uapi_conn_set_timeout(f->conn, SHORT_TIMEOUT_MS);
    get(f, &r[0], NULL);
    wait_requests(f, 1);
    /* Only the first one is meant to time out: the second gets all the
     * time it needs, however slow the machine. */
    wgm_uapi_conn_set_timeout(f->conn, TIMEOUT_SEC * 1000);
    set(f, &r[1], "set=1\nfwmark=0\n\n", NULL);
    wait_done(&r[1]);

    g_assert_error(r[0].error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_cmpstr(r[0].error->message, ==, "wireguard-go for test0 did not answer within 100 ms");
    /* Behind it in the queue, then sent on a new connection. */
    g_assert_no_error(r[1].error);
    g_assert_true(r[1].ok);
    g_assert_cmpuint(r[0].order, <, r[1].order);
    g_assert_cmpuint(fake_server_seen(f->srv).n_requests, ==, 2);
    assert_request(f, 1, "set=1\nfwmark=0\n\n");
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 2);
    g_assert_false(fake_server_seen(f->srv).pipelined);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++)
        result_clear(&r[i]);
}

static void
test_timeout_message(Fixture *f, gconstpointer data)
{
    Result r = { 0 };

    /* Whole seconds read as such, as the default does. */
    fake_server_script(f->srv, (Reply){ .swallow = TRUE });
    wgm_uapi_conn_set_timeout(f->conn, 1000);
    get(f, &r, NULL);
    wait_done(&r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_cmpstr(r.error->message, ==, "wireguard-go for test0 did not answer within 1 s");
    result_clear(&r);
}

static void
test_timeout_cancelled_in_flight(Fixture *f, gconstpointer data)
{
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Result r[2]                         = { 0 };

    connect_now(f);
    fake_server_script(f->srv, (Reply){ .swallow = TRUE });
    wgm_uapi_conn_set_timeout(f->conn, SHORT_TIMEOUT_MS);
    set(f, &r[0], "set=1\nfwmark=1\n\n", cancellable);
    /* In flight from here (connected: written at once).  Cancelled before
     * waiting for the server, which on a loaded machine may take longer
     * than the short limit. */
    g_cancellable_cancel(cancellable);
    wait_requests(f, 1);
    wgm_uapi_conn_set_timeout(f->conn, TIMEOUT_SEC * 1000);
    /* Answered at once; its reply, never coming, is still waited for, but
     * not for ever: the next request goes out after the timeout. */
    get(f, &r[1], NULL);
    wait_done(&r[1]);

    g_assert_error(r[0].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_no_error(r[1].error);
    g_assert_cmpint(r[1].stats->listen_port, ==, 2);
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 2);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++)
        result_clear(&r[i]);
}

static gboolean
set_true(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

static void
test_timeout_not_while_queued(Fixture *f, gconstpointer data)
{
    Result   r[3]   = { 0 };
    gboolean waited = FALSE;

    connect_now(f);
    fake_server_script(f->srv, (Reply){ .hold = TRUE });
    /* Slow but answering: sent with all the time it needs. */
    wgm_uapi_conn_set_timeout(f->conn, TIMEOUT_SEC * 1000);
    get(f, &r[0], NULL);
    wait_requests(f, 1);
    /* Queued behind it with a short limit, and kept waiting well past it:
     * the one in flight governs them. */
    wgm_uapi_conn_set_timeout(f->conn, SHORT_TIMEOUT_MS);
    set(f, &r[1], "set=1\nfwmark=1\n\n", NULL);
    get(f, &r[2], NULL);
    g_timeout_add(5 * SHORT_TIMEOUT_MS, set_true, &waited);
    run_until(is_true, &waited);
    g_assert_false(r[0].done);
    g_assert_false(r[1].done);
    g_assert_false(r[2].done);

    /* Their own replies need not race the short limit on a slow machine. */
    wgm_uapi_conn_set_timeout(f->conn, TIMEOUT_SEC * 1000);
    fake_server_release(f->srv);
    wait_done(&r[2]);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++) {
        g_assert_no_error(r[i].error);
        g_assert_cmpuint(r[i].order, ==, i + 1);
        result_clear(&r[i]);
    }
    g_assert_cmpuint(fake_server_seen(f->srv).n_requests, ==, 3);
    g_assert_cmpuint(fake_server_seen(f->srv).n_connections, ==, 1);
}

typedef struct {
    guint n_signals;
    guint in_a_row;
    guint timeout_ms;
} Unanswered;

static void
unanswered_cb(WgmUapiConn *conn, guint in_a_row, guint timeout_ms, gpointer data)
{
    Unanswered *u = data;

    u->n_signals++;
    u->in_a_row   = in_a_row;
    u->timeout_ms = timeout_ms;
}

/* Each request without a reply is signalled with the count since the last
 * reply, so the owner can tell one slow reply from a process that stopped
 * answering; any reply, even errno != 0, starts the count again. */
static void
test_unanswered_count(Fixture *f, gconstpointer data)
{
    static const struct {
        Reply reply;
        guint in_a_row; /* 0: answered, no signal */
    } steps[] = {
        { { .swallow = TRUE }, 1 },        { { .swallow = TRUE }, 2 }, { { .swallow = TRUE }, 3 },
        { { .text = "errno=22\n\n" }, 0 }, { { .swallow = TRUE }, 1 }, { { .text = NULL }, 0 },
        { { .swallow = TRUE }, 1 },
    };
    Unanswered u = { 0 };

    g_signal_connect(f->conn, "unanswered", G_CALLBACK(unanswered_cb), &u);
    connect_now(f);
    for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
        Result r = { 0 };
        guint  n = u.n_signals;

        fake_server_script(f->srv, steps[i].reply);
        /* Answered ones get all the time they need on a slow machine. */
        wgm_uapi_conn_set_timeout(f->conn,
                                  steps[i].in_a_row ? SHORT_TIMEOUT_MS : TIMEOUT_SEC * 1000);
        get(f, &r, NULL);
        wait_done(&r);
        if (steps[i].in_a_row) {
            g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
            g_assert_cmpuint(u.n_signals, ==, n + 1);
            g_assert_cmpuint(u.in_a_row, ==, steps[i].in_a_row);
            g_assert_cmpuint(u.timeout_ms, ==, SHORT_TIMEOUT_MS);
        } else {
            g_assert_cmpuint(u.n_signals, ==, n);
        }
        result_clear(&r);
    }
    g_signal_handlers_disconnect_by_data(f->conn, &u);
}

typedef struct {
    Fixture      *f;
    Result       *r;
    const GError *error;
    gboolean      ran;
} CloseCall;

static gboolean
close_from_main_loop(gpointer data)
{
    CloseCall *call = data;

    wgm_uapi_conn_close(call->f->conn, call->error);
    wgm_uapi_conn_close(call->f->conn, call->error);
    /* Never from inside close(): the caller may be halfway through. */
    g_assert_false(call->r[0].done);
    g_assert_false(call->r[1].done);
    call->ran = TRUE;
    return G_SOURCE_REMOVE;
}

static void
test_close(Fixture *f, gconstpointer data)
{
    CloseCall call          = { 0 };
    g_autoptr(GError) error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED, "stopped");
    Result r[3]             = { 0 };

    connect_now(f);
    fake_server_script(f->srv, (Reply){ .hold = TRUE });
    get(f, &r[0], NULL);
    set(f, &r[1], "set=1\nfwmark=0\n\n", NULL);
    wait_requests(f, 1);

    /* From a dispatch, where a GTask would complete at once. */
    call.f     = f;
    call.r     = r;
    call.error = error;
    g_idle_add(close_from_main_loop, &call);
    run_until(is_true, &call.ran);
    wait_done(&r[0]);
    wait_done(&r[1]);
    g_assert_error(r[0].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpstr(r[0].error->message, ==, "stopped");
    g_assert_error(r[1].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpuint(r[0].order, <, r[1].order);

    get(f, &r[2], NULL);
    wait_done(&r[2]);
    g_assert_error(r[2].error, G_IO_ERROR, G_IO_ERROR_CLOSED);
    fake_server_release(f->srv);
    g_assert_cmpuint(fake_server_seen(f->srv).n_requests, ==, 1);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++)
        result_clear(&r[i]);
}

static void
test_connect_failure(Fixture *f, gconstpointer data)
{
    g_autofree char *missing            = g_build_filename(f->srv->dir, "missing.sock", NULL);
    g_autoptr(WgmUapiConn) conn         = wgm_uapi_conn_new(missing, "test1");
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Result r[4]                         = { 0 };

    g_assert_cmpstr(wgm_uapi_conn_get_path(conn), ==, missing);
    r[0].f = f;
    wgm_uapi_conn_connect_async(conn, NULL, connect_cb, &r[0]);
    r[1].f = f;
    wgm_uapi_conn_get_async(conn, NULL, get_cb, &r[1]);
    r[2].f = f;
    wgm_uapi_conn_connect_async(conn, NULL, connect_cb, &r[2]);
    r[3].f = f;
    g_cancellable_cancel(cancellable);
    wgm_uapi_conn_connect_async(conn, cancellable, connect_cb, &r[3]);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++)
        wait_done(&r[i]);

    /* The caller of connect sees what GIO said, a request why it failed. */
    g_assert_error(r[0].error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_error(r[2].error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_error(r[1].error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_true(g_str_has_prefix(r[1].error->message, "Could not connect to "));
    g_assert_error(r[3].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    for (guint i = 0; i < G_N_ELEMENTS(r); i++)
        result_clear(&r[i]);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
    ADD("/uapi-conn/round-trip", test_round_trip);
    ADD("/uapi-conn/queued-in-order", test_queued_in_order);
    ADD("/uapi-conn/tiny-chunks", test_tiny_chunks);
    ADD("/uapi-conn/errno-reconnects", test_errno_reconnects);
    ADD("/uapi-conn/closed-mid-reply", test_closed_mid_reply);
    ADD("/uapi-conn/cancel-queued", test_cancel_queued);
    ADD("/uapi-conn/cancel-in-flight", test_cancel_in_flight);
    ADD("/uapi-conn/cancel-in-flight-refused", test_cancel_in_flight_refused);
    ADD("/uapi-conn/timeout", test_timeout);
    ADD("/uapi-conn/timeout-message", test_timeout_message);
    ADD("/uapi-conn/timeout-cancelled-in-flight", test_timeout_cancelled_in_flight);
    ADD("/uapi-conn/timeout-not-while-queued", test_timeout_not_while_queued);
    ADD("/uapi-conn/unanswered-count", test_unanswered_count);
    ADD("/uapi-conn/close", test_close);
    ADD("/uapi-conn/connect-failure", test_connect_failure);
#undef ADD

    return g_test_run();
}
