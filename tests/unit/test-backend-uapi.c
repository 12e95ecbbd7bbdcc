/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * WgmBackendUapi's life cycle with fake-wireguard-go standing in for
 * wireguard-go (a socket in a temporary directory, a fake link step: no tun,
 * no root): death and restart on the same object, as the mesh does it, and
 * a wireguard-go that stops answering (SIGSTOP), which must end in "died"
 * while a single slow reply must not.  The netns suite runs the real one.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/types.h>

#include "wgm-backend-uapi.h"
#include "wgm-error.h"

#define IFNAME        "wgt0"
#define TIMEOUT_SEC   10
#define PORT_DEFAULT  51820 /* what the stand-in reports until a set changes it */
#define PORT_SET      51999
#define SHORT_TIMEOUT 500 /* ms per request, in the stopped-answering tests */

#define PUB1 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define PRIV "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="

static char *test_dir;
static int   next_ifindex = 100;

typedef struct {
    WgmBackend *backend;
    guint       n_died;
    GError     *died_error;
    int         ifindex_at_death;
    gboolean    restart_when_died; /* start again from inside the handler */
    gboolean    restart_done;
    GError     *restart_error;
} Fixture;

/* The link step of a stand-in that creates no tun: a new ifindex each time,
 * as the kernel gives a recreated interface. */
static int
fake_link_up(const char *ifname, GError **error)
{
    g_assert_cmpstr(ifname, ==, IFNAME);
    return ++next_ifindex;
}

static char *
path_in_dir(const char *suffix)
{
    return g_strdup_printf("%s/" IFNAME "%s", test_dir, suffix);
}

static gboolean
heartbeat_cb(gpointer data)
{
    /* Only so that a blocking iteration re-checks its deadline. */
    return G_SOURCE_CONTINUE;
}

typedef gboolean (*Predicate)(gpointer data);

static void
run_until(Predicate done, gpointer data)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_SEC * G_USEC_PER_SEC;
    guint  id       = g_timeout_add(50, heartbeat_cb, NULL);

    while (!done(data)) {
        if (g_get_monotonic_time() > deadline)
            g_error("timed out after %d s", TIMEOUT_SEC);
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(id);
}

static gboolean
is_true(gpointer data)
{
    return *(gboolean *)data;
}

static gboolean
set_true(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

/* Lets the main loop run for @ms. */
static void
run_for(guint ms)
{
    gboolean done = FALSE;

    g_timeout_add(ms, set_true, &done);
    run_until(is_true, &done);
}

/* ---- the backend's operations, run to completion -------------------------- */

typedef struct {
    gboolean        done;
    gboolean        ok;
    WgmDeviceStats *stats;
    GError         *error;
} Result;

static void
start_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    Result *r = data;

    r->ok   = wgm_backend_start_finish(WGM_BACKEND(source), result, &r->error);
    r->done = TRUE;
}

static void
apply_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    Result *r = data;

    r->ok   = wgm_backend_apply_finish(WGM_BACKEND(source), result, &r->error);
    r->done = TRUE;
}

static void
get_stats_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    Result *r = data;

    r->stats = wgm_backend_get_stats_finish(WGM_BACKEND(source), result, &r->error);
    r->ok    = r->stats != NULL;
    r->done  = TRUE;
}

static void
start(Fixture *f)
{
    Result r = { 0 };

    wgm_backend_start_async(f->backend, NULL, start_cb, &r);
    run_until(is_true, &r.done);
    g_assert_no_error(r.error);
    g_assert_true(r.ok);
    g_assert_cmpint(wgm_backend_get_ifindex(f->backend), ==, next_ifindex);
}

/* The full configuration in one transaction, as the mesh applies it after
 * a restart. */
static GError *
apply_full(Fixture *f)
{
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
    WgmPeerUpdate *peer;
    WgmKey         key;
    Result         r = { 0 };

    g_assert_true(wgm_key_from_base64(PRIV, &update->private_key, NULL));
    update->has_private_key = TRUE;
    update->listen_port     = PORT_SET;
    update->replace_peers   = TRUE;
    g_assert_true(wgm_key_from_base64(PUB1, &key, NULL));
    peer                       = wgm_device_update_add_peer(update, &key);
    peer->persistent_keepalive = 25;
    wgm_backend_apply_async(f->backend, update, NULL, apply_cb, &r);
    g_clear_pointer(&update, wgm_device_update_free);
    run_until(is_true, &r.done);
    g_assert_true(r.ok == (r.error == NULL));
    return r.error;
}

/* The listen port wireguard-go reports, or -1 with @error set. */
static int
get_port(Fixture *f, GError **error)
{
    Result r = { 0 };
    int    port;

    wgm_backend_get_stats_async(f->backend, NULL, get_stats_cb, &r);
    run_until(is_true, &r.done);
    if (!r.ok) {
        g_propagate_error(error, r.error);
        return -1;
    }
    port = r.stats->listen_port;
    wgm_device_stats_free(r.stats);
    return port;
}

static void
assert_works(Fixture *f)
{
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(get_port(f, &error), ==, PORT_DEFAULT);
    g_assert_no_error(error);
    error = apply_full(f);
    g_assert_no_error(error);
    g_assert_cmpint(get_port(f, &error), ==, PORT_SET);
    g_assert_no_error(error);
}

/* The stand-in's pid, as it wrote it. */
static GPid
stand_in_pid(void)
{
    g_autofree char *path     = path_in_dir(".pid");
    g_autofree char *contents = NULL;
    g_autoptr(GError) error   = NULL;
    GPid pid;

    g_assert_true(g_file_get_contents(path, &contents, NULL, &error));
    g_assert_no_error(error);
    pid = (GPid)g_ascii_strtoll(contents, NULL, 10);
    g_assert_cmpint(pid, >, 1);
    return pid;
}

/* GSubprocess reaps our children: a pid of ours that is gone reads ESRCH. */
static gboolean
is_gone(gpointer data)
{
    return kill(GPOINTER_TO_INT(data), 0) < 0 && errno == ESRCH;
}

/* ---- fixture ------------------------------------------------------------- */

static void
restart_cb(GObject *source, GAsyncResult *result, gpointer data)
{
    Fixture *f = data;

    wgm_backend_start_finish(WGM_BACKEND(source), result, &f->restart_error);
    f->restart_done = TRUE;
}

static void
died_cb(WgmBackend *backend, const GError *error, gpointer data)
{
    Fixture *f = data;

    f->n_died++;
    g_clear_error(&f->died_error);
    f->died_error       = g_error_copy(error);
    f->ifindex_at_death = wgm_backend_get_ifindex(backend);
    if (f->restart_when_died)
        wgm_backend_start_async(backend, NULL, restart_cb, f);
}

static gboolean
has_died(gpointer data)
{
    return ((Fixture *)data)->n_died > 0;
}

static void
setup_with_timeout(Fixture *f, guint timeout_ms)
{
    g_autofree char *binary =
        g_test_build_filename(G_TEST_BUILT, "unit", "fake-wireguard-go", NULL);

    f->backend = wgm_backend_uapi_new(IFNAME, binary);
    wgm_backend_uapi_set_test_hooks(f->backend, test_dir, timeout_ms, fake_link_up);
    g_signal_connect(f->backend, "died", G_CALLBACK(died_cb), f);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    setup_with_timeout(f, 0);
}

static void
fixture_setup_short(Fixture *f, gconstpointer data)
{
    setup_with_timeout(f, SHORT_TIMEOUT);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *sock = path_in_dir(".sock");
    g_autofree char *pid  = path_in_dir(".pid");

    g_signal_handlers_disconnect_by_data(f->backend, f);
    /* A stand-in still stopped by a failed test is killed here. */
    wgm_backend_wait_stopped(f->backend, 2000);
    g_clear_object(&f->backend);
    run_for(50);
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    g_unlink(pid);
    g_clear_error(&f->died_error);
    g_clear_error(&f->restart_error);
}

/* ---- tests --------------------------------------------------------------- */

/* Killed from outside (a crash, the OOM killer): "died", then a start on the
 * same object brings up a fresh process with a new ifindex and no state. */
static void
test_restart_after_kill(Fixture *f, gconstpointer data)
{
    g_autofree char *sock   = path_in_dir(".sock");
    g_autoptr(GError) error = NULL;
    GPid old_pid;
    int  old_ifindex;

    start(f);
    assert_works(f);
    old_pid     = stand_in_pid();
    old_ifindex = wgm_backend_get_ifindex(f->backend);

    g_assert_cmpint(kill(old_pid, SIGKILL), ==, 0);
    run_until(has_died, f);
    g_assert_cmpuint(f->n_died, ==, 1);
    g_assert_error(f->died_error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_cmpstr(
        f->died_error->message, ==, "wireguard-go for " IFNAME " was killed by signal 9 (SIGKILL)");
    /* Stopped already when it says so. */
    g_assert_cmpint(f->ifindex_at_death, ==, 0);
    g_assert_cmpint(get_port(f, &error), ==, -1);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_clear_error(&error);
    /* The stale socket file is gone before "died". */
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    wgm_backend_stop(f->backend); /* a no-op, harmless */

    start(f);
    g_assert_cmpint(stand_in_pid(), !=, old_pid);
    g_assert_cmpint(wgm_backend_get_ifindex(f->backend), !=, old_ifindex);
    /* A fresh process: the listen port set before is gone with the old one. */
    assert_works(f);
    g_assert_cmpuint(f->n_died, ==, 1);
}

/* The restart may be started from the "died" handler itself. */
static void
test_restart_from_died_handler(Fixture *f, gconstpointer data)
{
    start(f);
    f->restart_when_died = TRUE;
    g_assert_cmpint(kill(stand_in_pid(), SIGKILL), ==, 0);
    run_until(is_true, &f->restart_done);
    g_assert_no_error(f->restart_error);
    g_assert_cmpuint(f->n_died, ==, 1);
    g_assert_cmpint(wgm_backend_get_ifindex(f->backend), ==, next_ifindex);
    assert_works(f);
}

/* After an explicit stop() a start is allowed too: the same path. */
static void
test_restart_after_stop(Fixture *f, gconstpointer data)
{
    GPid old_pid;

    start(f);
    old_pid = stand_in_pid();
    wgm_backend_stop(f->backend);
    g_assert_cmpint(wgm_backend_get_ifindex(f->backend), ==, 0);
    /* At once: the start waits for the old process to exit. */
    start(f);
    g_assert_true(is_gone(GINT_TO_POINTER(old_pid)));
    assert_works(f);
    g_assert_cmpuint(f->n_died, ==, 0);
}

/* Stopped (SIGSTOP): a request and the probe after it go unanswered, the
 * backend kills the process and reports it dead; a restart works. */
static void
test_stopped_answering(Fixture *f, gconstpointer data)
{
    g_autofree char *sock     = path_in_dir(".sock");
    g_autofree char *expected = NULL;
    g_autoptr(GError) error   = NULL;
    GPid   pid;
    gint64 t0;
    Result pending = { 0 };

    start(f);
    pid = stand_in_pid();
    g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);

    t0 = g_get_monotonic_time();
    g_assert_cmpint(get_port(f, &error), ==, -1);
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_clear_error(&error);
    /* One unanswered request is not enough. */
    g_assert_cmpuint(f->n_died, ==, 0);
    /* Queued meanwhile: fails with the reason. */
    wgm_backend_get_stats_async(f->backend, NULL, get_stats_cb, &pending);

    run_until(has_died, f);
    g_test_message("died after %" G_GINT64_FORMAT " ms", (g_get_monotonic_time() - t0) / 1000);
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 2 * SHORT_TIMEOUT * 1000);
    expected = g_strdup_printf("wireguard-go for " IFNAME " stopped answering on %s (no reply in "
                               "%u ms, 2 requests in a row)",
                               sock,
                               SHORT_TIMEOUT);
    g_assert_error(f->died_error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_cmpstr(f->died_error->message, ==, expected);
    g_assert_cmpuint(f->n_died, ==, 1);
    /* Queued behind the probe: fails with the same reason. */
    run_until(is_true, &pending.done);
    g_assert_false(pending.ok);
    g_assert_error(pending.error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_cmpstr(pending.error->message, ==, expected);
    g_clear_error(&pending.error);

    /* Killed by the pid it spawned, reaped, its socket file removed. */
    run_until(is_gone, GINT_TO_POINTER(pid));
    run_for(100);
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    start(f);
    g_assert_cmpint(stand_in_pid(), !=, pid);
    assert_works(f);
    g_assert_cmpuint(f->n_died, ==, 1);
}

/* One reply that comes too late costs that request only. */
static void
test_slow_reply_survives(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    GPid pid;

    start(f);
    pid = stand_in_pid();
    g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
    g_assert_cmpint(get_port(f, &error), ==, -1);
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_clear_error(&error);
    /* Back before the probe sent after the timeout runs out of time. */
    g_assert_cmpint(kill(pid, SIGCONT), ==, 0);

    run_for(3 * SHORT_TIMEOUT);
    g_assert_cmpuint(f->n_died, ==, 0);
    g_assert_cmpint(stand_in_pid(), ==, pid);
    assert_works(f);

    /* The count starts again after a reply: one more slow one is fine. */
    g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
    g_assert_cmpint(get_port(f, &error), ==, -1);
    g_clear_error(&error);
    g_assert_cmpint(kill(pid, SIGCONT), ==, 0);
    run_for(3 * SHORT_TIMEOUT);
    g_assert_cmpuint(f->n_died, ==, 0);
    g_assert_cmpint(get_port(f, &error), ==, PORT_SET);
    g_assert_no_error(error);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_dir = g_dir_make_tmp("wgm-test-backend-XXXXXX", &error);
    g_assert_no_error(error);
    /* Inherited by the stand-in: where it listens. */
    g_setenv("WGM_TEST_SOCKET_DIR", test_dir, TRUE);

#define ADD(path, setup, fn) g_test_add(path, Fixture, NULL, setup, fn, fixture_teardown)
    ADD("/backend-uapi/restart-after-kill", fixture_setup, test_restart_after_kill);
    ADD("/backend-uapi/restart-from-died-handler", fixture_setup, test_restart_from_died_handler);
    ADD("/backend-uapi/restart-after-stop", fixture_setup, test_restart_after_stop);
    ADD("/backend-uapi/stopped-answering", fixture_setup_short, test_stopped_answering);
    ADD("/backend-uapi/slow-reply-survives", fixture_setup_short, test_slow_reply_survives);
#undef ADD

    ret = g_test_run();
    g_rmdir(test_dir);
    g_free(test_dir);
    return ret;
}
