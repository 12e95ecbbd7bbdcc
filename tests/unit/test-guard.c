/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guard's pure rules: grace and backoff, "re-create versus kick" from
 * the time of the last initiation, and the dead-peer rule from counter
 * sequences. */
#include "config.h"

#include "wgm-guard.h"

#define SEC  G_USEC_PER_SEC
#define T(s) ((gint64)((1000.0 + (s)) * SEC)) /* monotonic, never 0 */

static void
test_grace_then_backoff(void)
{
    WgmBackoffParams p    = WGM_BACKOFF_PARAMS_GUARD;
    g_autoptr(GRand) rand = g_rand_new_with_seed(1);
    WgmGuard guard        = { 0 };

    p.jitter = 0;
    wgm_guard_begin(&guard, T(0), FALSE);
    g_assert_null(guard.backoff); /* nothing failed yet */
    g_assert_cmpint(wgm_guard_next_deadline(&guard), ==, T(3));

    g_assert_true(wgm_guard_failed(&guard, &p, T(3), rand));
    g_assert_nonnull(guard.backoff);
    g_assert_cmpint(guard.backoff->first_failure, ==, T(3));
    g_assert_cmpint(wgm_guard_next_deadline(&guard), ==, T(3) + 800 * G_TIME_SPAN_MILLISECOND);

    wgm_guard_succeeded(&guard);
    g_assert_null(guard.backoff);
    g_assert_cmpint(wgm_guard_next_deadline(&guard), ==, 0);

    /* urgent: the first step is now */
    wgm_guard_begin(&guard, T(50), TRUE);
    g_assert_cmpint(wgm_guard_next_deadline(&guard), ==, T(50));
    wgm_guard_clear(&guard);
}

static void
test_give_up_and_reset(void)
{
    WgmBackoffParams p    = WGM_BACKOFF_PARAMS_GUARD;
    g_autoptr(GRand) rand = g_rand_new_with_seed(2);
    WgmGuard guard        = { 0 };
    gint64   now          = T(3600); /* connected for an hour, then fails */

    p.give_up_after = 20 * SEC;
    wgm_guard_begin(&guard, now - 3 * SEC, FALSE);
    while (wgm_guard_failed(&guard, &p, now, rand))
        now = guard.next_step;
    g_assert_true(guard.gave_up);
    g_assert_cmpint(now - T(3600), >=, 20 * SEC);
    g_assert_cmpint(wgm_guard_next_deadline(&guard), ==, 0);

    /* a network change retries it */
    wgm_guard_begin(&guard, now + 100 * SEC, TRUE);
    g_assert_false(guard.gave_up);
    g_assert_null(guard.backoff);
    g_assert_cmpint(wgm_guard_next_deadline(&guard), ==, now + 100 * SEC);
    wgm_guard_clear(&guard);
}

/* WireGuard sends one initiation per REKEY_TIMEOUT (5 s): a kick sooner
 * does nothing, so the guard waits, or re-creates the peer if it cannot. */
static void
test_recreate_versus_kick(void)
{
    WgmGuard guard = { 0 };

    /* never initiated: kick */
    g_assert_cmpint(wgm_guard_choose_action(&guard, T(0), FALSE, FALSE), ==, WGM_GUARD_ACTION_KICK);
    wgm_guard_acted(&guard, WGM_GUARD_ACTION_KICK, FALSE, T(0));
    g_assert_cmpint(wgm_guard_kick_allowed_at(&guard), ==, T(5));

    /* 4.9 s later: an ordinary step waits, an urgent one re-creates */
    g_assert_cmpint(
        wgm_guard_choose_action(&guard, T(4.9), FALSE, FALSE), ==, WGM_GUARD_ACTION_WAIT);
    guard.urgent = TRUE;
    g_assert_cmpint(
        wgm_guard_choose_action(&guard, T(4.9), FALSE, FALSE), ==, WGM_GUARD_ACTION_RECREATE);
    wgm_guard_acted(&guard, WGM_GUARD_ACTION_RECREATE, FALSE, T(4.9));
    g_assert_false(guard.urgent);
    g_assert_cmpint(guard.last_initiation, ==, T(4.9));

    /* 5 s after the last initiation a kick works again ... */
    g_assert_cmpint(
        wgm_guard_choose_action(&guard, T(9.9), FALSE, FALSE), ==, WGM_GUARD_ACTION_KICK);
    /* ... but an urgent retry still re-creates: WireGuard's own
     * retransmissions, which we do not see, may have moved its limit on */
    guard.urgent = TRUE;
    g_assert_cmpint(
        wgm_guard_choose_action(&guard, T(60), FALSE, FALSE), ==, WGM_GUARD_ACTION_RECREATE);
    guard.urgent = FALSE;
    /* a peer never asked to initiate is simply kicked, urgent or not */
    {
        WgmGuard fresh = { .urgent = TRUE };

        g_assert_cmpint(
            wgm_guard_choose_action(&fresh, T(0), FALSE, FALSE), ==, WGM_GUARD_ACTION_KICK);
    }

    /* a session that went dead: a kick would only send a keepalive on it */
    g_assert_cmpint(
        wgm_guard_choose_action(&guard, T(100), TRUE, FALSE), ==, WGM_GUARD_ACTION_RECREATE);
    /* a Connected peer's path re-check is a keepalive, never rate-limited */
    g_assert_cmpint(wgm_guard_choose_action(&guard, T(5), TRUE, TRUE), ==, WGM_GUARD_ACTION_KICK);
    /* and a keepalive on a session is no initiation */
    wgm_guard_acted(&guard, WGM_GUARD_ACTION_KICK, TRUE, T(200));
    g_assert_cmpint(guard.last_initiation, ==, T(4.9));
}

typedef struct {
    double  t;
    guint64 rx;
    guint64 tx;
} Sample;

static double
first_dead(const Sample *samples, guint n, guint16 keepalive)
{
    WgmGuard guard = { 0 };

    for (guint i = 0; i < n; i++) {
        if (wgm_guard_sample(&guard, samples[i].rx, samples[i].tx, keepalive, T(samples[i].t)))
            return samples[i].t;
    }
    return -1;
}

static void
test_dead_peer_rule(void)
{
    /* pings every second into a dead path: tx grows, rx stands still */
    const Sample dead[] = {
        { 0, 1000, 2000 },  { 5, 1000, 2500 },  { 10, 1000, 3000 },
        { 15, 1000, 3500 }, { 20, 1000, 4000 }, { 25, 1000, 4500 },
    };
    /* the same, but answered */
    const Sample alive[] = {
        { 0, 1000, 2000 },  { 5, 1500, 2500 },  { 10, 2000, 3000 },
        { 15, 2500, 3500 }, { 20, 3000, 4000 }, { 25, 3500, 4500 },
    };
    /* one datagram sent, the peer's passive keepalive comes 10 s later */
    const Sample passive[] = {
        { 0, 1000, 2000 },  { 5, 1000, 2096 },  { 10, 1000, 2096 },
        { 15, 1032, 2096 }, { 20, 1032, 2096 }, { 25, 1032, 2096 },
    };
    /* an idle eager peer without persistent keepalive: only our refresh
     * keepalive goes out, and keepalives are never answered */
    const Sample refresh[] = {
        { 0, 1000, 2000 },   { 5, 1000, 2000 },   { 125, 1000, 2032 },
        { 130, 1000, 2032 }, { 150, 1000, 2032 }, { 175, 1000, 2032 },
    };
    /* persistent keepalive 1 s to a silent peer: 32 bytes a second */
    const Sample persistent[] = {
        { 0, 1000, 2000 },  { 5, 1000, 2160 },  { 10, 1000, 2320 },
        { 15, 1000, 2480 }, { 20, 1000, 2640 }, { 25, 1000, 2800 },
    };
    /* counters that went back (re-created peer) start over */
    const Sample restarted[] = {
        { 0, 1000, 2000 }, { 5, 1000, 2500 }, { 10, 0, 148 },
        { 15, 0, 300 },    { 20, 0, 300 },    { 30, 0, 600 },
    };

    g_assert_cmpfloat(first_dead(dead, G_N_ELEMENTS(dead), 0), ==, 15);
    g_assert_cmpfloat(first_dead(alive, G_N_ELEMENTS(alive), 0), ==, -1);
    g_assert_cmpfloat(first_dead(passive, G_N_ELEMENTS(passive), 0), ==, -1);
    g_assert_cmpfloat(first_dead(refresh, G_N_ELEMENTS(refresh), 0), ==, -1);
    g_assert_cmpfloat(first_dead(persistent, G_N_ELEMENTS(persistent), 1), ==, -1);
    /* without the keepalive allowance the same counters would look dead */
    g_assert_cmpfloat(first_dead(persistent, G_N_ELEMENTS(persistent), 0), ==, 15);
    g_assert_cmpfloat(first_dead(restarted, G_N_ELEMENTS(restarted), 0), ==, 30);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/guard/grace-then-backoff", test_grace_then_backoff);
    g_test_add_func("/guard/give-up-and-reset", test_give_up_and_reset);
    g_test_add_func("/guard/recreate-versus-kick", test_recreate_versus_kick);
    g_test_add_func("/guard/dead-peer-rule", test_dead_peer_rule);
    return g_test_run();
}
