/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cross-platform WireGuard userspace API (wireguard.com/xplatform), as
 * spoken by wireguard-go on /var/run/wireguard/<ifname>.sock: pure text in,
 * text out, no I/O here so it can be unit-tested and fuzzed.
 */
#pragma once

#include "wgm-backend.h"

/* Renders "set=1\n...\n\n" for @update.  The result may hold secrets (hex
 * private/preshared keys): free it with wgm_secret_gstring_free(). */
GString *wgm_uapi_build_set(const WgmDeviceUpdate *update);

/* "get=1\n\n" */
#define WGM_UAPI_GET_REQUEST "get=1\n\n"

/* Incremental reader of one reply ("key=value\n" lines, ending with
 * "errno=N\n\n").  Feed chunks as they arrive, of any size. */
typedef struct _WgmUapiReader WgmUapiReader;

typedef enum {
    WGM_UAPI_READER_MORE,  /* need more input */
    WGM_UAPI_READER_DONE,  /* complete reply consumed; see *out_consumed */
    WGM_UAPI_READER_ERROR, /* malformed reply or errno != 0; see error */
} WgmUapiReaderStatus;

/* @want_stats: TRUE for a get reply (peers are collected into stats), FALSE
 * for a set reply (only errno is expected). */
WgmUapiReader *wgm_uapi_reader_new(gboolean want_stats);
void           wgm_uapi_reader_free(WgmUapiReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmUapiReader, wgm_uapi_reader_free)

/* Consumes up to @len bytes; *out_consumed says how many were used (after
 * DONE the rest belongs to the next reply).  Secret lines (private_key,
 * preshared_key) are skipped and their bytes wiped from the reader's buffer. */
WgmUapiReaderStatus wgm_uapi_reader_feed(WgmUapiReader *reader,
                                         const char    *data,
                                         gsize          len,
                                         gsize         *out_consumed,
                                         GError       **error);

/* After DONE for a get reply: the parsed stats (transfer full). */
WgmDeviceStats *wgm_uapi_reader_steal_stats(WgmUapiReader *reader);
