/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The backoff's schedule, exactly, with injected time and seeded randomness. */
#include "config.h"

#include "wgm-backoff.h"

#define MS  G_TIME_SPAN_MILLISECOND
#define SEC G_USEC_PER_SEC

static void
test_schedule_exact(void)
{
    WgmBackoffParams p      = WGM_BACKOFF_PARAMS_GUARD;
    g_autoptr(GRand) rand   = g_rand_new_with_seed(1);
    g_autoptr(WgmBackoff) b = NULL;
    const gint64 expect[]   = { 800 * MS, 1600 * MS, 3200 * MS, 6400 * MS, 12800 * MS, 25600 * MS };
    gint64       now        = 5 * SEC;

    p.jitter     = 0;
    p.max_spread = 0;
    b            = wgm_backoff_new(&p, now, rand);
    for (guint i = 0; i < G_N_ELEMENTS(expect); i++) {
        gint64 d = wgm_backoff_next(b, now, rand);

        g_assert_cmpint(d, ==, expect[i]);
        now += d;
    }
    /* capped at 30 s from then on */
    for (guint i = 0; i < 5; i++)
        g_assert_cmpint(wgm_backoff_next(b, now, rand), ==, 30 * SEC);
    g_assert_cmpuint(b->attempts, ==, 11);
}

static void
test_jitter_and_spread(void)
{
    WgmBackoffParams p      = WGM_BACKOFF_PARAMS_GUARD;
    g_autoptr(GRand) rand_a = g_rand_new_with_seed(7);
    g_autoptr(GRand) rand_b = g_rand_new_with_seed(7);
    g_autoptr(WgmBackoff) a = wgm_backoff_new(&p, 0, rand_a);
    g_autoptr(WgmBackoff) b = wgm_backoff_new(&p, 0, rand_b);
    gint64 interval         = 800 * MS;

    g_assert_cmpint(a->spread, >=, 0);
    g_assert_cmpint(a->spread, <, 15 * SEC);
    for (guint i = 0; i < 12; i++) {
        gint64 da = wgm_backoff_next(a, 0, rand_a);
        gint64 db = wgm_backoff_next(b, 0, rand_b);
        gint64 base;

        /* the same seed gives the same schedule */
        g_assert_cmpint(da, ==, db);
        base = interval >= 30 * SEC ? 30 * SEC : interval;
        g_assert_cmpint(da - (interval >= 30 * SEC ? a->spread : 0), >=, base * 9 / 10 - 1);
        g_assert_cmpint(da - (interval >= 30 * SEC ? a->spread : 0), <=, base * 11 / 10 + 1);
        interval = MIN(interval * 2, 30 * SEC);
    }
}

/* 10,000 backoffs created in the same instant retry spread over 15 s. */
static void
test_spread_keeps_peers_apart(void)
{
    WgmBackoffParams p    = WGM_BACKOFF_PARAMS_GUARD;
    g_autoptr(GRand) rand = g_rand_new_with_seed(3);
    guint buckets[15]     = { 0 };

    for (guint i = 0; i < 10000; i++) {
        g_autoptr(WgmBackoff) b = wgm_backoff_new(&p, 0, rand);

        buckets[b->spread / SEC]++;
    }
    for (guint i = 0; i < G_N_ELEMENTS(buckets); i++) {
        g_assert_cmpuint(buckets[i], >, 500);
        g_assert_cmpuint(buckets[i], <, 850);
    }
}

/* Firezone's fix: give-up counts from the first failure, so a peer that was
 * fine for an hour gets the whole window when it then fails. */
static void
test_give_up_from_first_failure(void)
{
    WgmBackoffParams p      = WGM_BACKOFF_PARAMS_GUARD;
    g_autoptr(GRand) rand   = g_rand_new_with_seed(5);
    g_autoptr(WgmBackoff) b = NULL;
    gint64 hour             = (gint64)3600 * SEC;
    gint64 now;
    guint  steps = 0;

    p.give_up_after = 60 * SEC;
    b               = wgm_backoff_new(&p, hour, rand); /* first failure after an hour */
    now             = hour;
    for (;;) {
        gint64 d = wgm_backoff_next(b, now, rand);

        if (d < 0)
            break;
        steps++;
        now += d;
    }
    g_assert_cmpint(now - hour, >=, 60 * SEC);
    g_assert_cmpint(now - hour, <, 60 * SEC + 30 * SEC * 11 / 10 + 15 * SEC);
    g_assert_cmpuint(steps, >=, 6);
    g_assert_false(wgm_backoff_expired(b, hour + 60 * SEC - 1));
    g_assert_true(wgm_backoff_expired(b, hour + 60 * SEC));
}

static void
test_never_gives_up_by_default(void)
{
    WgmBackoffParams p      = WGM_BACKOFF_PARAMS_GUARD;
    g_autoptr(GRand) rand   = g_rand_new_with_seed(9);
    g_autoptr(WgmBackoff) b = wgm_backoff_new(&p, 0, rand);

    g_assert_false(wgm_backoff_expired(b, (gint64)365 * 24 * 3600 * SEC));
    g_assert_cmpint(wgm_backoff_next(b, (gint64)365 * 24 * 3600 * SEC, rand), >, 0);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/backoff/schedule-exact", test_schedule_exact);
    g_test_add_func("/backoff/jitter-and-spread", test_jitter_and_spread);
    g_test_add_func("/backoff/spread-keeps-peers-apart", test_spread_keeps_peers_apart);
    g_test_add_func("/backoff/give-up-from-first-failure", test_give_up_from_first_failure);
    g_test_add_func("/backoff/never-gives-up-by-default", test_never_gives_up_by_default);
    return g_test_run();
}
