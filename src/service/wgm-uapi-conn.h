/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One persistent connection to a UAPI socket (wireguard-go's
 * /var/run/wireguard/<ifname>.sock).  Requests wait in a queue and go out
 * one at a time, each reply read to its end before the next request is
 * written; a failed request costs the connection, and the next request
 * opens a new one.  A request that goes unanswered for too long fails and
 * costs the connection too.  Buffers that held secrets are wiped.
 */
#pragma once

#include <gio/gio.h>

#include "wgm-backend.h"

#define WGM_TYPE_UAPI_CONN (wgm_uapi_conn_get_type())
G_DECLARE_FINAL_TYPE(WgmUapiConn, wgm_uapi_conn, WGM, UAPI_CONN, GObject)

/* Connects to @path when first needed.  @ifname only names the device in
 * messages ("wireguard-go for wg0 closed its control socket"). */
WgmUapiConn *wgm_uapi_conn_new(const char *path, const char *ifname);
const char  *wgm_uapi_conn_get_path(WgmUapiConn *self);

#define WGM_UAPI_CONN_DEFAULT_TIMEOUT_MS 5000
/* Each request may take 1 ms more per this many bytes of it (a peer of a
 * set is about 180 bytes: 10,000 peers get 18 s more). */
#define WGM_UAPI_CONN_BYTES_PER_MS 100

/* How long a request may wait for its reply, counted from the moment it is
 * written (time spent queued behind another request does not count): then
 * it fails with G_IO_ERROR_TIMED_OUT, the connection is dropped (the stream
 * is out of step) and the next request goes out on a new one.  Applies to
 * requests written after this call, each of which gets 1 ms more per
 * WGM_UAPI_CONN_BYTES_PER_MS bytes of it.  @timeout_ms > 0; default
 * WGM_UAPI_CONN_DEFAULT_TIMEOUT_MS. */
void wgm_uapi_conn_set_timeout(WgmUapiConn *self, guint timeout_ms);

/* Signal "unanswered" (guint n_in_a_row, guint timeout_ms): a request got
 * no reply within @timeout_ms; it has failed and the connection is dropped
 * already.  @n_in_a_row counts such requests since the last reply (any
 * reply, even errno != 0, starts the count again), so one slow reply reads
 * 1 and a process that stopped answering reads 1, 2, ...  Not emitted once
 * closed.  What to make of it is the owner's policy (wgm-backend-uapi.c). */

/* Connects now unless connected already: requests connect by themselves,
 * this tells whether anyone listens yet.  Fails with the GIO error of the
 * attempt (G_IO_ERROR_CONNECTION_REFUSED for a stale socket file...), and
 * then fails the requests waiting for it too. */
void     wgm_uapi_conn_connect_async(WgmUapiConn        *self,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data);
gboolean wgm_uapi_conn_connect_finish(WgmUapiConn *self, GAsyncResult *result, GError **error);

/* Sends @request ("set=1\n...\n\n", from wgm_uapi_build_set(); taken, and
 * wiped once written) after every earlier request has its reply.
 *
 * Errors: WGM_ERROR_BACKEND for errno != 0 or a lost connection,
 * WGM_ERROR_PROTOCOL for a malformed reply, G_IO_ERROR_TIMED_OUT when no
 * reply came in time (see wgm_uapi_conn_set_timeout()), G_IO_ERROR_CANCELLED
 * when @cancellable fires (a request already sent still has its reply read,
 * within the same time limit, so the next one gets its own), the close()
 * error once closed.  A request that fails takes the connection with it:
 * wireguard-go may have left part of it unread. */
void     wgm_uapi_conn_set_async(WgmUapiConn        *self,
                                 GString            *request,
                                 GCancellable       *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data);
gboolean wgm_uapi_conn_set_finish(WgmUapiConn *self, GAsyncResult *result, GError **error);

/* Sends "get=1\n\n" in the same queue; the reply's secrets are never kept. */
void            wgm_uapi_conn_get_async(WgmUapiConn        *self,
                                        GCancellable       *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer            user_data);
WgmDeviceStats *wgm_uapi_conn_get_finish(WgmUapiConn *self, GAsyncResult *result, GError **error);

/* Drops the connection for good.  Every pending connect and request fails
 * with a copy of @error, from the main loop (never inside this call);
 * later calls fail with G_IO_ERROR_CLOSED.  Idempotent. */
void wgm_uapi_conn_close(WgmUapiConn *self, const GError *error);
