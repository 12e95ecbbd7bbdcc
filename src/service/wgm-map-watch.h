/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading and watching the network map file (wgm-network-map.h): read in a
 * worker thread (checked first: who may write it), parsed as wg-quick
 * [Peer] sections; watched through its directory, so that a replace by
 * write + rename (as generators do) is seen like an edit in place, and
 * changes within WGM_MAP_SETTLE_MS coalesced into one reading.
 */
#pragma once

#include <gio/gio.h>

#include "wgm-wgquick.h"

#define WGM_MAP_SETTLE_MS 300

/* Reads and parses the map at @path off the main loop.  Errors: the
 * file's check (G_IO_ERROR_NOT_FOUND when it does not exist), reading it,
 * or FILE:LINE: Key: what is wrong. */
void        wgm_map_read_async(const char         *path,
                               GCancellable       *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer            user_data);
WgmWgQuick *wgm_map_read_finish(GAsyncResult *result, GError **error);

typedef struct _WgmMapWatch WgmMapWatch;

/* Called after each settled change with the new reading (the callee's to
 * free), or NULL and its error (G_IO_ERROR_NOT_FOUND: the file is gone). */
typedef void (*WgmMapWatchFunc)(WgmWgQuick *map, const GError *error, gpointer user_data);

WgmMapWatch *wgm_map_watch_new(const char     *path,
                               WgmMapWatchFunc func,
                               gpointer        user_data,
                               GError        **error);
/* No call of func after this. */
void wgm_map_watch_free(WgmMapWatch *watch);
