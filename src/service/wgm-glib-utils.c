/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-glib-utils.h"

#include "wgm-error.h"

#define TASK_ERROR_KEY "wgm-error"

void
wgm_clear_source(GSource **source)
{
    if (*source) {
        g_source_destroy(*source);
        g_clear_pointer(source, g_source_unref);
    }
}

GSource *
wgm_source_attach(GSource *source, GSourceFunc func, gpointer data, const char *static_name)
{
    g_source_set_callback(source, func, data, NULL);
    g_source_set_static_name(source, static_name);
    g_source_attach(source, g_main_context_get_thread_default());
    return source;
}

static gboolean
ready_time_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    /* A ready time stays set until cleared: disarm before the callback,
     * which may arm it again. */
    g_source_set_ready_time(source, -1);
    return callback(user_data);
}

static GSourceFuncs ready_time_funcs = {
    .dispatch = ready_time_dispatch,
};

GSource *
wgm_ready_time_source_new(void)
{
    GSource *source = g_source_new(&ready_time_funcs, sizeof(GSource));

    g_source_set_ready_time(source, -1);
    return source;
}

GError *
wgm_backend_error_new(const char *fmt, ...)
{
    GError *error;
    va_list ap;

    va_start(ap, fmt);
    error = g_error_new_valist(WGM_ERROR, WGM_ERROR_BACKEND, fmt, ap);
    va_end(ap);
    return error;
}

static gboolean
return_error_idle_cb(gpointer data)
{
    GTask  *task  = data;
    GError *error = g_object_steal_data(G_OBJECT(task), TASK_ERROR_KEY);

    g_task_return_error(task, error);
    return G_SOURCE_REMOVE;
}

void
wgm_task_return_error_idle(GTask *task, GError *error)
{
    GSource *source;

    g_return_if_fail(G_IS_TASK(task));
    g_return_if_fail(error);

    /* Kept on the task: should the source never run, the task's
     * finalization frees the error. */
    g_object_set_data_full(G_OBJECT(task), TASK_ERROR_KEY, error, (GDestroyNotify)g_error_free);
    source = g_idle_source_new();
    g_source_set_callback(source, return_error_idle_cb, task, g_object_unref);
    g_source_set_static_name(source, "wgm-task-return-error");
    g_source_attach(source, g_task_get_context(task));
    g_source_unref(source);
}

char *
wgm_describe_msec(guint msec)
{
    if (msec % 1000 == 0)
        return g_strdup_printf("%u s", msec / 1000);
    return g_strdup_printf("%u ms", msec);
}
