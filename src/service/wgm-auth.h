/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Who may change a running mesh over D-Bus (its methods and writable
 * properties): root always; any other caller only if polkit authorizes the
 * action org.freedesktop.NetworkManager.wgmesh.modify for it.  Without
 * polkit on the bus only root may.  Reads need no authorization.
 */
#pragma once

#include <gio/gio.h>

#define WGM_AUTH_ACTION_MODIFY "org.freedesktop.NetworkManager.wgmesh.modify"

/* Checks @sender (a unique bus name) on @bus; completes with TRUE if it may,
 * or FALSE with a WGM_ERROR_NOT_AUTHORIZED error saying why not. */
void     wgm_auth_check_async(GDBusConnection    *bus,
                              const char         *sender,
                              const char         *action_id,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data);
gboolean wgm_auth_check_finish(GAsyncResult *result, GError **error);
