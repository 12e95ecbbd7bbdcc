/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One wireguard-go process: spawned in the foreground for one interface,
 * its output forwarded to our log (and its last errors kept for messages),
 * its socket file removed if it leaves one behind.
 */
#pragma once

#include <gio/gio.h>

#define WGM_TYPE_CHILD (wgm_child_get_type())
G_DECLARE_FINAL_TYPE(WgmChild, wgm_child, WGM, CHILD, GObject)

/* Runs "@binary -f @ifname", which will listen on @socket_path.  The object
 * stays alive (its own references) until the process is reaped and its
 * output read to the end.
 *
 * Signal "exited" (no arguments): emitted once, from the main loop, when
 * the process is gone and its last words are read (or took too long).  It
 * is emitted whether or not wgm_child_terminate() was called: disconnect
 * from it to stop caring. */
WgmChild *wgm_child_spawn(const char *binary,
                          const char *ifname,
                          const char *socket_path,
                          GError    **error);

/* TRUE once the process is reaped (no longer holds the interface name). */
gboolean wgm_child_is_gone(WgmChild *self);

/* Completes when the process is reaped and a socket file it left behind
 * is removed: the interface name and the socket path are free. */
void     wgm_child_wait_async(WgmChild           *self,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data);
gboolean wgm_child_wait_finish(WgmChild *self, GAsyncResult *result, GError **error);

/* After "exited": "exited with status 1", "was killed by signal 9 (SIGKILL)". */
char *wgm_child_describe_exit(WgmChild *self);

/* What the process said last, for an error message: a Go panic's first
 * line, else its error lines of the last seconds ("a; b"), else NULL. */
char *wgm_child_get_last_words(WgmChild *self);

/* Sends SIGTERM: wireguard-go then removes its interface and socket.  A
 * process still there 3 s later (stopped, wedged) gets SIGKILL. */
void wgm_child_terminate(WgmChild *self);

/* Sends SIGKILL now (never to a process already reaped): the kernel then
 * removes the interface, the child the socket file. */
void wgm_child_kill(WgmChild *self);

/* Blocks, without iterating any main context, until the process is gone:
 * after @timeout_ms it is killed (SIGKILL) and given another second.  Then
 * removes the socket file if left behind.  Only for process exit. */
gboolean wgm_child_wait_gone(WgmChild *self, guint timeout_ms);
