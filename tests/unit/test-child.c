/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * WgmChild, the wireguard-go process, with a shell script standing in for
 * wireguard-go: the real one cannot be made to panic, ignore SIGTERM or fail
 * with a given message on demand (the netns suite runs the real one,
 * including a SIGKILL under a live mesh).  The script's behaviour is chosen
 * by the interface name it is given, as "-f NAME".
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wgm-child.h"

static const char fake_script[] =
    "#!/bin/sh\n"
    "[ \"$1\" = -f ] || exit 64\n"
    "[ \"$WG_PROCESS_FOREGROUND\" = 1 ] || exit 65\n"
    "case \"$2\" in\n"
    "fail)  echo \"DEBUG: ($2) 2026/11/25 10:00:00 Starting wireguard-go\"\n"
    "       echo \"ERROR: ($2) 2026/11/25 10:00:00 Failed to create TUN device: busy\"\n"
    "       exit 3 ;;\n"
    "panic) echo 'panic: runtime error: index out of range'; echo 'goroutine 1 [running]:'\n"
    "       exit 2 ;;\n"
    "quiet) exit 0 ;;\n"
    "term)  trap 'echo bye; exit 0' TERM; echo ready\n"
    "       while :; do sleep 0.02; done ;;\n"
    "stubborn) trap '' TERM; echo ready\n"
    "       while :; do sleep 0.02; done ;;\n"
    "esac\n"
    "exit 70\n";

/* What the child logged (the service logs through the structured API, which
 * g_test_expect_message() does not see). */
static GString *logged;

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
    for (gsize i = 0; i < n_fields; i++) {
        if (g_str_equal(fields[i].key, "MESSAGE"))
            g_string_append_printf(logged, "%s\n", (const char *)fields[i].value);
    }
    return G_LOG_WRITER_HANDLED;
}

static void
assert_logged(const char *text)
{
    if (!strstr(logged->str, text))
        g_error("expected \"%s\" in the log:\n%s", text, logged->str);
}

typedef struct {
    char *dir;
    char *binary;
    char *socket_path;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->dir = g_dir_make_tmp("wgm-test-child-XXXXXX", &error);
    g_assert_no_error(error);
    f->binary      = g_build_filename(f->dir, "fake-wireguard-go", NULL);
    f->socket_path = g_build_filename(f->dir, "wgt0.sock", NULL);
    g_assert_true(g_file_set_contents(f->binary, fake_script, -1, &error));
    g_string_truncate(logged, 0);
    g_assert_cmpint(g_chmod(f->binary, 0755), ==, 0);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    g_unlink(f->socket_path);
    g_unlink(f->binary);
    g_rmdir(f->dir);
    g_free(f->socket_path);
    g_free(f->binary);
    g_free(f->dir);
}

static void
exited_cb(WgmChild *child, gboolean *flag)
{
    *flag = TRUE;
}

static gboolean
timeout_cb(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

/* Until the script has set up its SIGTERM trap: a fixed sleep is not
 * enough on a loaded machine. */
static void
wait_ready(const char *name)
{
    g_autofree char *line = g_strdup_printf("wireguard-go[%s]: ready", name);
    gint64           end  = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!strstr(logged->str, line)) {
        if (g_get_monotonic_time() > end)
            g_error("no \"%s\" in the log:\n%s", line, logged->str);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

static WgmChild *
spawn_and_wait_exit(Fixture *f, const char *name, gboolean terminate)
{
    g_autoptr(GError) error = NULL;
    gboolean  exited        = FALSE;
    gboolean  timed_out     = FALSE;
    WgmChild *child;
    guint     id;

    child = wgm_child_spawn(f->binary, name, f->socket_path, &error);
    g_assert_no_error(error);
    g_object_ref(child);
    g_signal_connect(child, "exited", G_CALLBACK(exited_cb), &exited);
    if (terminate) {
        wait_ready(name);
        wgm_child_terminate(child);
    }
    id = g_timeout_add(10000, timeout_cb, &timed_out);
    while (!exited && !timed_out)
        g_main_context_iteration(NULL, TRUE);
    g_assert_false(timed_out);
    g_source_remove(id);
    g_assert_true(wgm_child_is_gone(child));
    return child;
}

static void
test_exit_status_and_last_words(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmChild) child = NULL;
    g_autofree char *why      = NULL;
    g_autofree char *words    = NULL;

    child = spawn_and_wait_exit(f, "fail", FALSE);

    assert_logged("wireguard-go[fail]: DEBUG: (fail) 2026/11/25 10:00:00 Starting wireguard-go");
    assert_logged("Failed to create TUN device: busy");
    why = wgm_child_describe_exit(child);
    g_assert_cmpstr(why, ==, "exited with status 3");
    /* Its error lines, without wireguard-go's log prefix and timestamp. */
    words = wgm_child_get_last_words(child);
    g_assert_nonnull(words);
    g_assert_nonnull(strstr(words, "Failed to create TUN device: busy"));
    g_assert_null(strstr(words, "2026/11/25"));
    g_assert_null(strstr(words, "Starting")); /* debug output is no reason */
}

static void
test_panic(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmChild) child = NULL;
    g_autofree char *why      = NULL;
    g_autofree char *words    = NULL;

    child = spawn_and_wait_exit(f, "panic", FALSE);

    assert_logged("wireguard-go[panic]: panic: runtime error");
    why = wgm_child_describe_exit(child);
    g_assert_cmpstr(why, ==, "exited with status 2");
    words = wgm_child_get_last_words(child);
    g_assert_cmpstr(words, ==, "panic: runtime error: index out of range");
}

static void
test_terminate(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmChild) child = NULL;
    g_autofree char *why      = NULL;

    child = spawn_and_wait_exit(f, "term", TRUE);
    assert_logged("wireguard-go[term]: bye");
    why = wgm_child_describe_exit(child);
    g_assert_cmpstr(why, ==, "exited with status 0");
}

/* A helper that ignores SIGTERM must not hold up process exit. */
static void
test_wait_gone_kills(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(WgmChild) child = NULL;
    g_autofree char *why      = NULL;
    gint64           t0;

    child = wgm_child_spawn(f->binary, "stubborn", f->socket_path, &error);
    g_assert_no_error(error);
    g_object_ref(child);
    wait_ready("stubborn");
    wgm_child_terminate(child);

    t0 = g_get_monotonic_time();
    g_assert_true(wgm_child_wait_gone(child, 200));
    assert_logged("did not exit within 200 ms");
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 200 * 1000);
    g_assert_true(wgm_child_is_gone(child));
    why = wgm_child_describe_exit(child);
    g_assert_cmpstr(why, ==, "was killed by signal 9 (SIGKILL)");
}

/* A helper that ignores SIGTERM (or is stopped) is killed after a grace
 * period, with the main loop running: a restart is never held up for good. */
static void
test_terminate_escalates(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmChild) child = NULL;
    g_autofree char *why      = NULL;
    gint64           t0       = g_get_monotonic_time();

    child = spawn_and_wait_exit(f, "stubborn", TRUE);
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 3 * G_USEC_PER_SEC);
    assert_logged("did not exit within 3000 ms of SIGTERM, killing it");
    why = wgm_child_describe_exit(child);
    g_assert_cmpstr(why, ==, "was killed by signal 9 (SIGKILL)");
    /* Both are no-ops once it is gone. */
    wgm_child_kill(child);
    wgm_child_terminate(child);
}

static void
test_kill(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(WgmChild) child = NULL;
    g_autofree char *why      = NULL;
    gboolean         exited   = FALSE;

    child = wgm_child_spawn(f->binary, "stubborn", f->socket_path, &error);
    g_assert_no_error(error);
    g_object_ref(child);
    g_signal_connect(child, "exited", G_CALLBACK(exited_cb), &exited);
    wgm_child_kill(child);
    while (!exited)
        g_main_context_iteration(NULL, TRUE);
    why = wgm_child_describe_exit(child);
    g_assert_cmpstr(why, ==, "was killed by signal 9 (SIGKILL)");
}

/* A socket file nobody listens on (left by a SIGKILLed wireguard-go) is
 * removed once the child is gone; one that is in use is not. */
static void
test_stale_socket(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmChild) child = NULL;
    struct sockaddr_un addr   = { .sun_family = AF_UNIX };
    int                fd     = socket(AF_UNIX, SOCK_STREAM, 0);

    g_strlcpy(addr.sun_path, f->socket_path, sizeof(addr.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fd, 1), ==, 0);

    /* In use: kept. */
    child = spawn_and_wait_exit(f, "quiet", FALSE);
    g_assert_true(g_file_test(f->socket_path, G_FILE_TEST_EXISTS));
    g_clear_object(&child);

    /* Nobody listens any more: removed. */
    close(fd);
    child = spawn_and_wait_exit(f, "quiet", FALSE);
    g_assert_false(g_file_test(f->socket_path, G_FILE_TEST_EXISTS));
}

static void
test_spawn_failure(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    WgmChild        *child;
    g_autofree char *missing = g_build_filename(f->dir, "no-such-wireguard-go", NULL);

    child = wgm_child_spawn(missing, "wgt0", f->socket_path, &error);
    g_assert_null(child);
    g_assert_nonnull(error);
    g_test_message("%s", error->message);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);
    logged = g_string_new(NULL);
    g_log_set_writer_func(capture_writer, NULL, NULL);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/child/exit-status-and-last-words", test_exit_status_and_last_words);
    ADD("/child/panic", test_panic);
    ADD("/child/terminate", test_terminate);
    ADD("/child/wait-gone-kills", test_wait_gone_kills);
    ADD("/child/terminate-escalates", test_terminate_escalates);
    ADD("/child/kill", test_kill);
    ADD("/child/stale-socket", test_stale_socket);
    ADD("/child/spawn-failure", test_spawn_failure);
#undef ADD

    return g_test_run();
}
