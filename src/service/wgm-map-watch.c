/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-map-watch.h"

#include <errno.h>
#include <string.h>

#include "wgm-error.h"
#include "wgm-key.h"
#include "wgm-network-map.h"

/* ---- reading ---- */

static void
read_in_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
    const char *path        = task_data;
    g_autoptr(GError) error = NULL;
    char       *contents    = NULL;
    gsize       len         = 0;
    WgmWgQuick *map;

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_task_return_new_error(task,
                                G_IO_ERROR,
                                G_IO_ERROR_NOT_FOUND,
                                "network-map: %s: %s",
                                path,
                                g_strerror(ENOENT));
        return;
    }
    if (!wgm_network_map_check_file(path, &error)
        || !g_file_get_contents(path, &contents, &len, &error)) {
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    map = wgm_wgquick_read(contents, (gssize)len, path, WGM_WGQUICK_PEERS_ONLY, &error);
    /* It may hold preshared keys. */
    wgm_memzero(contents, len);
    g_free(contents);
    if (!map) {
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    g_task_return_pointer(task, map, (GDestroyNotify)wgm_wgquick_free);
}

void
wgm_map_read_async(const char         *path,
                   GCancellable       *cancellable,
                   GAsyncReadyCallback callback,
                   gpointer            user_data)
{
    g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);

    g_task_set_source_tag(task, wgm_map_read_async);
    g_task_set_task_data(task, g_strdup(path), g_free);
    g_task_run_in_thread(task, read_in_thread);
}

WgmWgQuick *
wgm_map_read_finish(GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- watching ---- */

struct _WgmMapWatch {
    char           *path;
    char           *name; /* its basename */
    GFileMonitor   *monitor;
    guint           settle_id;
    GCancellable   *cancellable; /* of the reading in flight; knows "wgm-watch" */
    gboolean        reading;
    gboolean        again; /* changed while reading */
    WgmMapWatchFunc func;
    gpointer        user_data;
};

static void start_reading(WgmMapWatch *self);

static void
read_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GCancellable) cancellable = user_data;
    g_autoptr(GError) error             = NULL;
    g_autoptr(WgmWgQuick) map           = wgm_map_read_finish(result, &error);
    WgmMapWatch *self                   = g_object_get_data(G_OBJECT(cancellable), "wgm-watch");

    if (!self)
        return; /* freed meanwhile */
    self->reading = FALSE;
    if (self->again) {
        self->again = FALSE;
        start_reading(self);
        return;
    }
    self->func(g_steal_pointer(&map), error, self->user_data);
}

static void
start_reading(WgmMapWatch *self)
{
    if (self->reading) {
        self->again = TRUE;
        return;
    }
    self->reading = TRUE;
    wgm_map_read_async(
        self->path, self->cancellable, read_done_cb, g_object_ref(self->cancellable));
}

static gboolean
settled_cb(gpointer user_data)
{
    WgmMapWatch *self = user_data;

    self->settle_id = 0;
    start_reading(self);
    return G_SOURCE_REMOVE;
}

static gboolean
is_ours(WgmMapWatch *self, GFile *file)
{
    g_autofree char *name = file ? g_file_get_basename(file) : NULL;

    return name && strcmp(name, self->name) == 0;
}

static void
changed_cb(GFileMonitor     *monitor,
           GFile            *file,
           GFile            *other,
           GFileMonitorEvent event,
           gpointer          user_data)
{
    WgmMapWatch *self = user_data;

    /* A rename onto the map names it as the other file. */
    if (!is_ours(self, file) && !is_ours(self, other))
        return;
    if (event == G_FILE_MONITOR_EVENT_CHANGED)
        return; /* wait for CHANGES_DONE_HINT */
    g_clear_handle_id(&self->settle_id, g_source_remove);
    self->settle_id = g_timeout_add(WGM_MAP_SETTLE_MS, settled_cb, self);
}

WgmMapWatch *
wgm_map_watch_new(const char *path, WgmMapWatchFunc func, gpointer user_data, GError **error)
{
    WgmMapWatch *self       = g_new0(WgmMapWatch, 1);
    g_autoptr(GFile) file   = g_file_new_for_path(path);
    g_autoptr(GFile) parent = g_file_get_parent(file);

    self->path        = g_strdup(path);
    self->name        = g_file_get_basename(file);
    self->func        = func;
    self->user_data   = user_data;
    self->cancellable = g_cancellable_new();
    g_object_set_data(G_OBJECT(self->cancellable), "wgm-watch", self);
    self->monitor =
        parent
            ? g_file_monitor_directory(parent, G_FILE_MONITOR_WATCH_MOVES, self->cancellable, error)
            : NULL;
    if (!self->monitor) {
        if (!parent)
            g_set_error(
                error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME, "%s has no directory", path);
        wgm_map_watch_free(self);
        return NULL;
    }
    g_signal_connect(self->monitor, "changed", G_CALLBACK(changed_cb), self);
    return self;
}

void
wgm_map_watch_free(WgmMapWatch *self)
{
    if (!self)
        return;
    g_object_set_data(G_OBJECT(self->cancellable), "wgm-watch", NULL);
    g_cancellable_cancel(self->cancellable);
    g_clear_object(&self->cancellable);
    if (self->monitor) {
        g_signal_handlers_disconnect_by_data(self->monitor, self);
        g_file_monitor_cancel(self->monitor);
    }
    g_clear_object(&self->monitor);
    g_clear_handle_id(&self->settle_id, g_source_remove);
    g_free(self->path);
    g_free(self->name);
    g_free(self);
}
