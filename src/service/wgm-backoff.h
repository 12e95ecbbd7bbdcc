/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Exponential backoff, as NetBird's guard uses it and with Firezone's fix:
 * the backoff is created on the *first failure* and dropped on success, so
 * "give up after" counts from the first failure, never from when the peer
 * (or process) came to be.  A peer connected for an hour that then fails
 * gets the whole retry window.
 *
 * A pure value type: it reads no clock and owns no randomness; callers pass
 * monotonic time and a GRand (seeded in tests, so schedules are exact).
 */
#pragma once

#include <glib.h>

typedef struct {
    gint64 initial;       /* usec: the first interval */
    double factor;        /* each interval is this many times the previous */
    double jitter;        /* each delay is the interval ± this fraction */
    gint64 max_interval;  /* usec: intervals stop growing here ... */
    gint64 max_spread;    /* usec: ... plus a random 0..max_spread fixed per backoff */
    gint64 give_up_after; /* usec from the first failure, 0 = never */
} WgmBackoffParams;

/* NetBird's guard: 800 ms, ×2, ±10 %, at most 30 s + 0–15 s spread (so
 * that 10,000 peers that failed together do not retry together). */
#define WGM_BACKOFF_PARAMS_GUARD                                                \
    {                                                                           \
        .initial = 800 * G_TIME_SPAN_MILLISECOND, .factor = 2.0, .jitter = 0.1, \
        .max_interval = 30 * G_USEC_PER_SEC, .max_spread = 15 * G_USEC_PER_SEC, \
        .give_up_after = 0,                                                     \
    }

typedef struct {
    WgmBackoffParams params;
    gint64           first_failure; /* monotonic usec */
    guint            attempts;      /* delays handed out so far */
    gint64           interval;      /* usec: the next delay before jitter */
    gint64           spread;        /* usec: this backoff's share of max_spread */
} WgmBackoff;

/* The first failure, at @now_mono. */
WgmBackoff *wgm_backoff_new(const WgmBackoffParams *params, gint64 now_mono, GRand *rand);
void        wgm_backoff_free(WgmBackoff *backoff);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmBackoff, wgm_backoff_free)

/* The delay (usec, > 0) until the next attempt after one that failed at
 * @now_mono, or -1 when the give-up time has passed (counted from the
 * first failure). */
gint64 wgm_backoff_next(WgmBackoff *backoff, gint64 now_mono, GRand *rand);

/* Whether the give-up time has passed at @now_mono. */
gboolean wgm_backoff_expired(const WgmBackoff *backoff, gint64 now_mono);
