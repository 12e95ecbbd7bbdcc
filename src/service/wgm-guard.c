/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-guard.h"

void
wgm_guard_clear(WgmGuard *guard)
{
    g_clear_pointer(&guard->backoff, wgm_backoff_free);
    *guard = (WgmGuard){ 0 };
}

void
wgm_guard_begin(WgmGuard *guard, gint64 now_mono, gboolean urgent)
{
    g_clear_pointer(&guard->backoff, wgm_backoff_free);
    guard->gave_up     = FALSE;
    guard->grace_until = now_mono + WGM_GUARD_GRACE_USEC;
    guard->urgent      = urgent;
    guard->next_step   = urgent ? now_mono : 0;
}

void
wgm_guard_succeeded(WgmGuard *guard)
{
    g_clear_pointer(&guard->backoff, wgm_backoff_free);
    guard->gave_up     = FALSE;
    guard->urgent      = FALSE;
    guard->next_step   = 0;
    guard->grace_until = 0;
}

gboolean
wgm_guard_failed(WgmGuard *guard, const WgmBackoffParams *params, gint64 now_mono, GRand *rand)
{
    gint64 delay;

    if (!guard->backoff)
        guard->backoff = wgm_backoff_new(params, now_mono, rand);
    guard->urgent      = FALSE;
    guard->grace_until = 0;
    delay              = wgm_backoff_next(guard->backoff, now_mono, rand);
    if (delay < 0) {
        guard->gave_up   = TRUE;
        guard->next_step = 0;
        return FALSE;
    }
    guard->next_step = now_mono + delay;
    /* Give up when the time is up, not at the first step after it. */
    if (guard->backoff->params.give_up_after > 0)
        guard->next_step = MIN(
            guard->next_step, guard->backoff->first_failure + guard->backoff->params.give_up_after);
    return TRUE;
}

gint64
wgm_guard_next_deadline(const WgmGuard *guard)
{
    if (guard->gave_up)
        return 0;
    if (guard->next_step)
        return guard->next_step;
    return guard->grace_until;
}

gint64
wgm_guard_kick_allowed_at(const WgmGuard *guard)
{
    return guard->last_initiation ? guard->last_initiation + WGM_GUARD_REKEY_TIMEOUT_USEC : 0;
}

WgmGuardAction
wgm_guard_choose_action(const WgmGuard *guard,
                        gint64          now_mono,
                        gboolean        has_session,
                        gboolean        refresh)
{
    gboolean rate_limited = now_mono < wgm_guard_kick_allowed_at(guard);

    /* A keepalive on a live session is never rate-limited: it re-checks
     * the path and lets the other side learn where we are now. */
    if (refresh)
        return WGM_GUARD_ACTION_KICK;
    /* A kick on a session that stopped working only sends a keepalive on
     * it, and no new handshake: start afresh. */
    if (has_session)
        return WGM_GUARD_ACTION_RECREATE;
    /* An urgent retry of a peer WireGuard has been trying: it retransmits
     * its initiation by itself every 5 s, unseen by us, so a kick now would
     * likely fall inside its rate limit and be dropped (measured under a
     * real NetworkManager: 3.4-4.9 s lost).  Only a peer never asked yet
     * can simply be kicked. */
    if (guard->urgent)
        return guard->last_initiation ? WGM_GUARD_ACTION_RECREATE : WGM_GUARD_ACTION_KICK;
    return rate_limited ? WGM_GUARD_ACTION_WAIT : WGM_GUARD_ACTION_KICK;
}

void
wgm_guard_acted(WgmGuard *guard, WgmGuardAction action, gboolean had_session, gint64 now_mono)
{
    switch (action) {
    case WGM_GUARD_ACTION_WAIT:
        return;
    case WGM_GUARD_ACTION_KICK:
        /* With a session a kick is a keepalive, not an initiation. */
        if (!had_session)
            guard->last_initiation = now_mono;
        break;
    case WGM_GUARD_ACTION_RECREATE:
        guard->last_initiation = now_mono;
        wgm_guard_reset_counters(guard);
        break;
    }
    guard->urgent = FALSE;
}

void
wgm_guard_reset_counters(WgmGuard *guard)
{
    guard->sample_mono      = 0;
    guard->rx               = 0;
    guard->tx               = 0;
    guard->unanswered_since = 0;
    guard->sending          = FALSE;
}

guint64
wgm_guard_keepalive_allowance(guint16 keepalive_sec, gint64 span)
{
    guint64 n = 1;

    if (keepalive_sec > 0)
        n += (guint64)(span / ((gint64)keepalive_sec * G_USEC_PER_SEC)) + 1;
    return n * WGM_GUARD_KEEPALIVE_BYTES;
}

gboolean
wgm_guard_sample(WgmGuard *guard,
                 guint64   rx_bytes,
                 guint64   tx_bytes,
                 guint16   keepalive_sec,
                 gint64    now_mono)
{
    gboolean first = guard->sample_mono == 0;
    gint64   span  = now_mono - guard->sample_mono;
    guint64  sent;

    /* Counters that went back belong to a new WireGuard peer (re-created,
     * or a restarted process): start over. */
    if (first || rx_bytes < guard->rx || tx_bytes < guard->tx) {
        guard->sending          = FALSE;
        guard->sample_mono      = now_mono;
        guard->rx               = rx_bytes;
        guard->tx               = tx_bytes;
        guard->unanswered_since = 0;
        return FALSE;
    }

    sent               = tx_bytes - guard->tx;
    guard->sample_mono = now_mono;
    guard->tx          = tx_bytes;
    guard->sending     = sent > wgm_guard_keepalive_allowance(keepalive_sec, span);
    if (rx_bytes != guard->rx) {
        guard->rx               = rx_bytes;
        guard->unanswered_since = 0;
        return FALSE;
    }
    if (guard->unanswered_since == 0) {
        if (guard->sending)
            guard->unanswered_since = now_mono - span; /* sent since the previous sample */
        return FALSE;
    }
    return now_mono - guard->unanswered_since >= WGM_GUARD_DEAD_USEC;
}
