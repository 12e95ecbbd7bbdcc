/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The loopback addresses of lazy peers (pure): each lazy peer gets its own
 * IPv4 address in 127.0.0.0/8 (every one of them is local on Linux, no
 * configuration needed), so one socket tells them apart by destination.
 * Addresses are handed out lowest-free-first from a fixed range, skipping
 * those ending in .0 and .255; an address that is somebody else's (a
 * peer's real endpoint inside the range) can be reserved so it is never
 * handed out.
 */
#pragma once

#include <glib.h>

/* 127.77.0.1 - 127.77.255.254: 65,024 lazy peers at most. */
#define WGM_LAZY_POOL_FIRST 0x7f4d0001u
#define WGM_LAZY_POOL_LAST  0x7f4dfffeu

typedef struct _WgmLazyPool WgmLazyPool;

/* Addresses in host byte order, @first <= @last, both in 127.0.0.0/8. */
WgmLazyPool *wgm_lazy_pool_new(guint32 first, guint32 last);
void         wgm_lazy_pool_free(WgmLazyPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmLazyPool, wgm_lazy_pool_free)

/* The lowest free address; FALSE with WGM_ERROR_FAILED when none is left
 * ("no free loopback address for a lazy peer: all N of 127.a.b.c-127.d.e.f
 * are in use"). */
gboolean wgm_lazy_pool_alloc(WgmLazyPool *pool, guint32 *addr, GError **error);
/* Gives back an address from wgm_lazy_pool_alloc() (or a reservation);
 * anything else is ignored. */
void wgm_lazy_pool_release(WgmLazyPool *pool, guint32 addr);
/* Marks @addr as somebody else's.  Outside the range: TRUE, nothing to do.
 * Ending in .0 or .255: TRUE, never handed out anyway.  Already handed out
 * or reserved: FALSE with WGM_ERROR_FAILED naming the address ("127.77.0.5
 * is already the loopback address of a lazy peer", or "... is already
 * reserved in the loopback range of lazy peers"). */
gboolean wgm_lazy_pool_reserve(WgmLazyPool *pool, guint32 addr, GError **error);
gboolean wgm_lazy_pool_contains(const WgmLazyPool *pool, guint32 addr); /* in the range */
guint    wgm_lazy_pool_get_n_used(const WgmLazyPool *pool);             /* handed out or reserved */
guint    wgm_lazy_pool_get_size(const WgmLazyPool *pool);               /* usable addresses */
