/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-backoff.h"

WgmBackoff *
wgm_backoff_new(const WgmBackoffParams *params, gint64 now_mono, GRand *rand)
{
    WgmBackoff *backoff = g_new0(WgmBackoff, 1);

    g_return_val_if_fail(params->initial > 0 && params->factor >= 1.0, backoff);

    backoff->params        = *params;
    backoff->first_failure = now_mono;
    backoff->interval      = params->initial;
    if (params->max_spread > 0)
        backoff->spread = (gint64)(g_rand_double(rand) * (double)params->max_spread);
    return backoff;
}

void
wgm_backoff_free(WgmBackoff *backoff)
{
    g_free(backoff);
}

gboolean
wgm_backoff_expired(const WgmBackoff *backoff, gint64 now_mono)
{
    return backoff->params.give_up_after > 0
           && now_mono - backoff->first_failure >= backoff->params.give_up_after;
}

gint64
wgm_backoff_next(WgmBackoff *backoff, gint64 now_mono, GRand *rand)
{
    const WgmBackoffParams *p = &backoff->params;
    gint64                  delay;
    double                  jitter;

    if (wgm_backoff_expired(backoff, now_mono))
        return -1;

    delay = backoff->interval;
    if (p->jitter > 0) {
        jitter = (g_rand_double(rand) * 2.0 - 1.0) * p->jitter;
        delay  = (gint64)((double)delay * (1.0 + jitter));
    }
    /* Once the interval is at its ceiling, the per-backoff spread keeps
     * peers that failed in the same instant apart for good. */
    if (backoff->interval >= p->max_interval)
        delay += backoff->spread;

    backoff->attempts++;
    backoff->interval = MIN((gint64)((double)backoff->interval * p->factor), p->max_interval);
    return MAX(delay, 1);
}
