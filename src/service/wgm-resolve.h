/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Endpoint resolution: "host:port" from the profile to the address WireGuard
 * is given.  Literal addresses complete at once (from the main loop); names
 * go through GResolver, asynchronously.
 */
#pragma once

#include <gio/gio.h>

#include "wgm-ip.h"

void wgm_endpoint_resolve_async(const char         *host,
                                guint16             port,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data);
/* The error says which name failed and why, e.g.
 * "cannot resolve \"peer.example.org\": Name or service not known". */
gboolean wgm_endpoint_resolve_finish(GAsyncResult *result, WgmEndpoint *out, GError **error);
/* Every address of the name (a literal gives one), IPv4 first, without
 * duplicates: a GArray of WgmEndpoint, never empty. */
GArray *wgm_endpoint_resolve_all_finish(GAsyncResult *result, GError **error);
