/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The service's small GLib helpers (wgm-glib-utils.h): above all that a task
 * failed "later" is answered from its own main context, never inside the
 * call, exactly once, and let go of afterwards.
 */
#include "config.h"

#include "wgm-error.h"
#include "wgm-glib-utils.h"

#define TIMEOUT_MS 5000

typedef struct {
    guint   n_calls;
    GError *error;
} Answer;

static void
answer_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Answer *answer = user_data;

    answer->n_calls++;
    g_assert_false(g_task_propagate_boolean(G_TASK(result), &answer->error));
}

static void
iterate_until(GMainContext *context, const guint *counter, guint value)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

    while (*counter < value && g_get_monotonic_time() < deadline)
        g_main_context_iteration(context, FALSE);
}

static void
test_task_return_error_idle(void)
{
    g_autoptr(GMainContext) context = g_main_context_new();
    g_autoptr(GObject) owner        = g_object_new(G_TYPE_OBJECT, NULL);
    Answer answer                   = { 0 };
    GTask *task;

    /* The task belongs to @context, not to the global default context. */
    g_main_context_push_thread_default(context);
    task = g_task_new(owner, NULL, answer_cb, &answer);
    g_object_add_weak_pointer(G_OBJECT(task), (gpointer *)&task);

    wgm_task_return_error_idle(task, wgm_backend_error_new("wireguard-go for %s died", "wg7"));
    g_assert_cmpuint(answer.n_calls, ==, 0);

    /* Not from another context... */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_assert_cmpuint(answer.n_calls, ==, 0);

    /* ...but from the task's own, once. */
    iterate_until(context, &answer.n_calls, 1);
    g_assert_cmpuint(answer.n_calls, ==, 1);
    g_assert_error(answer.error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_cmpstr(answer.error->message, ==, "wireguard-go for wg7 died");
    while (g_main_context_iteration(context, FALSE))
        ;
    g_assert_cmpuint(answer.n_calls, ==, 1);
    /* The idle source held the only reference. */
    g_assert_null(task);

    g_main_context_pop_thread_default(context);
    g_clear_error(&answer.error);
}

static gboolean
count_cb(gpointer user_data)
{
    (*(guint *)user_data)++;
    return G_SOURCE_REMOVE;
}

static void
test_source_attach_and_clear(void)
{
    g_autoptr(GMainContext) context = g_main_context_new();
    g_autoptr(GSource) kept         = NULL;
    GSource *source;
    guint    n_calls = 0;

    g_main_context_push_thread_default(context);

    /* Attached to the thread-default context, named, and dispatched there. */
    source = wgm_source_attach(g_idle_source_new(), count_cb, &n_calls, "wgm-test-idle");
    g_assert_true(g_source_get_context(source) == context);
    g_assert_cmpstr(g_source_get_name(source), ==, "wgm-test-idle");
    iterate_until(context, &n_calls, 1);
    g_assert_cmpuint(n_calls, ==, 1);
    wgm_clear_source(&source);
    g_assert_null(source);

    /* Cleared before it fires: destroyed, never dispatched. */
    source = wgm_source_attach(g_timeout_source_new(0), count_cb, &n_calls, "wgm-test-timeout");
    kept   = g_source_ref(source);
    wgm_clear_source(&source);
    g_assert_null(source);
    g_assert_true(g_source_is_destroyed(kept));
    while (g_main_context_iteration(context, FALSE))
        ;
    g_assert_cmpuint(n_calls, ==, 1);

    /* NULL stays NULL. */
    wgm_clear_source(&source);
    g_assert_null(source);

    g_main_context_pop_thread_default(context);
}

static void
test_backend_error(void)
{
    g_autoptr(GError) error = wgm_backend_error_new("Could not bring %s up: %s", "wg0", "busy");

    g_assert_error(error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_cmpstr(error->message, ==, "Could not bring wg0 up: busy");
}

static void
test_describe_msec(void)
{
    g_autofree char *a = wgm_describe_msec(5000);
    g_autofree char *b = wgm_describe_msec(250);
    g_autofree char *c = wgm_describe_msec(1500);

    g_assert_cmpstr(a, ==, "5 s");
    g_assert_cmpstr(b, ==, "250 ms");
    g_assert_cmpstr(c, ==, "1500 ms");
}

static gboolean
count_and_continue_cb(gpointer user_data)
{
    (*(guint *)user_data)++;
    return G_SOURCE_CONTINUE;
}

/* Armed: dispatched once, then idle until armed again. */
static void
test_ready_time_source(void)
{
    guint    n = 0;
    GSource *source =
        wgm_source_attach(wgm_ready_time_source_new(), count_and_continue_cb, &n, "test");

    g_assert_cmpint(g_source_get_ready_time(source), ==, -1);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_assert_cmpuint(n, ==, 0);

    g_source_set_ready_time(source, g_get_monotonic_time());
    while (n == 0)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpint(g_source_get_ready_time(source), ==, -1);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_assert_cmpuint(n, ==, 1);
    wgm_clear_source(&source);
    g_assert_null(source);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/glib-utils/task-return-error-idle", test_task_return_error_idle);
    g_test_add_func("/glib-utils/source-attach-and-clear", test_source_attach_and_clear);
    g_test_add_func("/glib-utils/backend-error", test_backend_error);
    g_test_add_func("/glib-utils/describe-msec", test_describe_msec);
    g_test_add_func("/glib-utils/ready-time-source", test_ready_time_source);

    return g_test_run();
}
