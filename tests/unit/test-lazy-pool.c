/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The loopback addresses of lazy peers: lowest free first, never .0 or
 * .255, never a reserved one, and an error that names the range. */
#include "config.h"

#include <string.h>

#include "wgm-error.h"
#include "wgm-lazy-pool.h"

#define ADDR(a, b, c, d) (((guint32)(a) << 24) | ((guint32)(b) << 16) | ((guint32)(c) << 8) | (d))

static guint32
alloc_ok(WgmLazyPool *pool)
{
    g_autoptr(GError) error = NULL;
    guint32 addr            = 0;

    g_assert_true(wgm_lazy_pool_alloc(pool, &addr, &error));
    g_assert_no_error(error);
    g_assert_true(wgm_lazy_pool_contains(pool, addr));
    return addr;
}

static void
test_first_addresses(void)
{
    g_autoptr(WgmLazyPool) pool = wgm_lazy_pool_new(WGM_LAZY_POOL_FIRST, WGM_LAZY_POOL_LAST);

    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 1));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 2));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 3));
    g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, 3);
}

static void
test_default_size(void)
{
    g_autoptr(WgmLazyPool) pool = wgm_lazy_pool_new(WGM_LAZY_POOL_FIRST, WGM_LAZY_POOL_LAST);

    /* 256 blocks of 254 */
    g_assert_cmpuint(wgm_lazy_pool_get_size(pool), ==, 65024);
    g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, 0);
    g_assert_true(wgm_lazy_pool_contains(pool, ADDR(127, 77, 0, 1)));
    g_assert_true(wgm_lazy_pool_contains(pool, ADDR(127, 77, 255, 254)));
    g_assert_false(wgm_lazy_pool_contains(pool, ADDR(127, 77, 0, 0)));
    g_assert_false(wgm_lazy_pool_contains(pool, ADDR(127, 77, 255, 255)));
    g_assert_false(wgm_lazy_pool_contains(pool, ADDR(127, 0, 0, 1)));
}

/* Across a /24 boundary: .254, then .1 of the next block. */
static void
test_skips_0_and_255(void)
{
    g_autoptr(WgmLazyPool) pool = wgm_lazy_pool_new(ADDR(127, 5, 0, 250), ADDR(127, 5, 2, 3));
    const guint32 expect[]      = {
             ADDR(127, 5, 0, 250), ADDR(127, 5, 0, 251), ADDR(127, 5, 0, 252), ADDR(127, 5, 0, 253),
             ADDR(127, 5, 0, 254), ADDR(127, 5, 1, 1),   ADDR(127, 5, 1, 2),
    };

    for (guint i = 0; i < G_N_ELEMENTS(expect); i++)
        g_assert_cmphex(alloc_ok(pool), ==, expect[i]);

    /* A whole /24 in between. */
    for (guint i = 3; i <= 254; i++)
        g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 5, 1, i));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 5, 2, 1));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 5, 2, 2));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 5, 2, 3));
    g_assert_cmpuint(wgm_lazy_pool_get_size(pool), ==, 5 + 254 + 3);
    g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, wgm_lazy_pool_get_size(pool));

    /* Releasing .0 or .255 (never handed out) changes nothing. */
    wgm_lazy_pool_release(pool, ADDR(127, 5, 1, 0));
    wgm_lazy_pool_release(pool, ADDR(127, 5, 0, 255));
    g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, wgm_lazy_pool_get_size(pool));
    g_assert_false(wgm_lazy_pool_alloc(pool, &(guint32){ 0 }, NULL));
}

static void
test_release_reuses_lowest(void)
{
    g_autoptr(WgmLazyPool) pool = wgm_lazy_pool_new(WGM_LAZY_POOL_FIRST, WGM_LAZY_POOL_LAST);

    for (guint i = 1; i <= 10; i++)
        g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, i));

    wgm_lazy_pool_release(pool, ADDR(127, 77, 0, 7));
    wgm_lazy_pool_release(pool, ADDR(127, 77, 0, 3));
    g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, 8);
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 3));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 7));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 11));

    /* Twice, or something never handed out, or outside: ignored. */
    wgm_lazy_pool_release(pool, ADDR(127, 77, 0, 5));
    wgm_lazy_pool_release(pool, ADDR(127, 77, 0, 5));
    wgm_lazy_pool_release(pool, ADDR(127, 77, 9, 9));
    wgm_lazy_pool_release(pool, ADDR(10, 0, 0, 1));
    g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, 10);
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 5));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 12));
}

static void
test_exhaustion(void)
{
    g_autoptr(WgmLazyPool) pool = wgm_lazy_pool_new(ADDR(127, 1, 1, 250), ADDR(127, 1, 2, 3));
    g_autoptr(GError) error     = NULL;
    guint32 addr                = 0;

    /* .250-.254 and 2.1-2.3 */
    g_assert_cmpuint(wgm_lazy_pool_get_size(pool), ==, 8);
    for (guint i = 0; i < 8; i++)
        alloc_ok(pool);

    g_assert_false(wgm_lazy_pool_alloc(pool, &addr, &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_FAILED);
    g_assert_cmpstr(error->message,
                    ==,
                    "no free loopback address for a lazy peer: all 8 of 127.1.1.250-127.1.2.3 "
                    "are in use");
    g_clear_error(&error);

    /* Still exhausted on a second try; one released is the one handed out. */
    g_assert_false(wgm_lazy_pool_alloc(pool, &addr, NULL));
    wgm_lazy_pool_release(pool, ADDR(127, 1, 2, 2));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 1, 2, 2));
    g_assert_false(wgm_lazy_pool_alloc(pool, &addr, &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_FAILED);
}

/* Ranges of one address, and of none usable. */
static void
test_tiny_ranges(void)
{
    g_autoptr(WgmLazyPool) one  = wgm_lazy_pool_new(ADDR(127, 9, 9, 9), ADDR(127, 9, 9, 9));
    g_autoptr(WgmLazyPool) none = wgm_lazy_pool_new(ADDR(127, 9, 9, 255), ADDR(127, 9, 10, 0));
    g_autoptr(GError) error     = NULL;
    guint32 addr;

    g_assert_cmpuint(wgm_lazy_pool_get_size(one), ==, 1);
    g_assert_cmphex(alloc_ok(one), ==, ADDR(127, 9, 9, 9));
    g_assert_false(wgm_lazy_pool_alloc(one, &addr, NULL));

    g_assert_cmpuint(wgm_lazy_pool_get_size(none), ==, 0);
    g_assert_false(wgm_lazy_pool_alloc(none, &addr, &error));
    g_assert_cmpstr(error->message,
                    ==,
                    "no free loopback address for a lazy peer: all 0 of 127.9.9.255-127.9.10.0 "
                    "are in use");
}

static void
test_reserve(void)
{
    g_autoptr(WgmLazyPool) pool = wgm_lazy_pool_new(WGM_LAZY_POOL_FIRST, WGM_LAZY_POOL_LAST);
    g_autoptr(GError) error     = NULL;

    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 1));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 2));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 3));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 4));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 5));

    /* Somebody's real endpoint is an address a lazy peer already has. */
    g_assert_false(wgm_lazy_pool_reserve(pool, ADDR(127, 77, 0, 5), &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_FAILED);
    g_assert_cmpstr(
        error->message, ==, "127.77.0.5 is already the loopback address of a lazy peer");
    g_clear_error(&error);

    /* Outside the range, or never handed out: nothing to do. */
    g_assert_true(wgm_lazy_pool_reserve(pool, ADDR(127, 0, 0, 1), &error));
    g_assert_true(wgm_lazy_pool_reserve(pool, ADDR(192, 0, 2, 1), &error));
    g_assert_true(wgm_lazy_pool_reserve(pool, ADDR(127, 77, 1, 0), &error));
    g_assert_true(wgm_lazy_pool_reserve(pool, ADDR(127, 77, 1, 255), &error));
    g_assert_no_error(error);
    g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, 5);

    /* Reserved ones are skipped. */
    g_assert_true(wgm_lazy_pool_reserve(pool, ADDR(127, 77, 0, 6), &error));
    g_assert_true(wgm_lazy_pool_reserve(pool, ADDR(127, 77, 0, 8), &error));
    g_assert_no_error(error);
    g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, 7);
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 7));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 9));

    /* Reserving twice names the address too. */
    g_assert_false(wgm_lazy_pool_reserve(pool, ADDR(127, 77, 0, 8), &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "127.77.0.8"));
    g_clear_error(&error);

    /* A released reservation is free again, lowest first. */
    wgm_lazy_pool_release(pool, ADDR(127, 77, 0, 6));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 6));
    g_assert_cmphex(alloc_ok(pool), ==, ADDR(127, 77, 0, 10));
}

/* A reserved address is never handed out, even when it is the last one. */
static void
test_reserved_never_handed_out(void)
{
    g_autoptr(WgmLazyPool) pool = wgm_lazy_pool_new(ADDR(127, 3, 0, 1), ADDR(127, 3, 0, 200));
    g_autoptr(GHashTable) seen  = g_hash_table_new(NULL, NULL);
    guint32 addr;

    for (guint i = 1; i <= 200; i += 3)
        g_assert_true(wgm_lazy_pool_reserve(pool, ADDR(127, 3, 0, i), NULL));
    while (wgm_lazy_pool_alloc(pool, &addr, NULL)) {
        g_assert_cmpuint((addr & 0xff) % 3, !=, 1);
        g_assert_false(g_hash_table_contains(seen, GUINT_TO_POINTER(addr)));
        g_hash_table_add(seen, GUINT_TO_POINTER(addr));
    }
    g_assert_cmpuint(g_hash_table_size(seen), ==, 200 - 67);
    g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, 200);
}

/* 10,000 lazy peers in one go (a big mesh activating). */
static void
test_many(void)
{
    g_autoptr(WgmLazyPool) pool = wgm_lazy_pool_new(WGM_LAZY_POOL_FIRST, WGM_LAZY_POOL_LAST);
    guint32 prev                = 0;

    for (guint i = 0; i < 10000; i++) {
        guint32 addr = alloc_ok(pool);

        g_assert_cmphex(addr, >, prev);
        g_assert_cmpuint(addr & 0xff, !=, 0);
        g_assert_cmpuint(addr & 0xff, !=, 255);
        prev = addr;
    }
    /* 39 full blocks of 254, then 94 of the 40th. */
    g_assert_cmphex(prev, ==, ADDR(127, 77, 39, 94));
    g_assert_cmpuint(wgm_lazy_pool_get_n_used(pool), ==, 10000);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/lazy-pool/first-addresses", test_first_addresses);
    g_test_add_func("/lazy-pool/default-size", test_default_size);
    g_test_add_func("/lazy-pool/skips-0-and-255", test_skips_0_and_255);
    g_test_add_func("/lazy-pool/release-reuses-lowest", test_release_reuses_lowest);
    g_test_add_func("/lazy-pool/exhaustion", test_exhaustion);
    g_test_add_func("/lazy-pool/tiny-ranges", test_tiny_ranges);
    g_test_add_func("/lazy-pool/reserve", test_reserve);
    g_test_add_func("/lazy-pool/reserved-never-handed-out", test_reserved_never_handed_out);
    g_test_add_func("/lazy-pool/many", test_many);

    return g_test_run();
}
