/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small GLib helpers the service's modules share, in the spirit of
 * NetworkManager's nm-glib-aux: GSource ownership, answering a GTask from
 * the main loop, and the backend's error.
 */
#pragma once

#include <gio/gio.h>

/* Destroys *@source (if set), drops the reference and sets it to NULL. */
void wgm_clear_source(GSource **source);

/* Makes @func(@data) @source's callback, names it @static_name (a string
 * that outlives the source, e.g. a literal) and attaches it to the
 * thread-default main context.  Returns @source, whose reference the caller
 * keeps (for wgm_clear_source()). */
GSource *wgm_source_attach(GSource    *source,
                           GSourceFunc func,
                           gpointer    data,
                           const char *static_name);

/* A source with nothing but a ready time (g_source_set_ready_time(), -1 =
 * idle), disarmed before each dispatch: one timer re-armed to a deadline
 * costs one call, however many deadlines stand behind it. */
GSource *wgm_ready_time_source_new(void);

/* A WGM_ERROR_BACKEND error (wireguard-go or the kernel refused or died). */
GError *wgm_backend_error_new(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Fails @task with @error (both taken) from an idle source on @task's main
 * context rather than now, so no callback runs under the caller's feet
 * (inside a stop() or close(), or a signal handler). */
void wgm_task_return_error_idle(GTask *task, GError *error);

/* "5 s" for whole seconds, else "250 ms": how messages state time limits. */
char *wgm_describe_msec(guint msec);
