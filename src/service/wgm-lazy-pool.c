/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-lazy-pool.h"

#include <string.h>

#include "wgm-error.h"

#define ADDR_STRLEN 16 /* "255.255.255.255" */

/* Bit i stands for address first + i.  In @taken, a set bit is an address
 * that cannot be handed out: allocated, reserved, ending in .0 or .255, or
 * past the end of the range (the tail of the last word), so that a search
 * for a free address is a search for a zero bit, a word at a time.
 * @reserved only tells reservations from allocations. */
struct _WgmLazyPool {
    guint32  first;
    guint32  last;
    guint32  n_bits;
    gsize    n_words;
    guint64 *taken;
    guint64 *reserved;
    guint    size;   /* addresses not ending in .0 or .255 */
    guint    n_used; /* allocated or reserved */
    /* No free address below this index: allocating n addresses in a row
     * scans the bitmap once, not n times. */
    guint32 hint;
};

static const char *
format_addr(guint32 addr, char buf[ADDR_STRLEN])
{
    g_snprintf(buf,
               ADDR_STRLEN,
               "%u.%u.%u.%u",
               (addr >> 24) & 0xff,
               (addr >> 16) & 0xff,
               (addr >> 8) & 0xff,
               addr & 0xff);
    return buf;
}

/* .0 and .255 look like network and broadcast addresses to people and to
 * some tools, even though all of 127.0.0.0/8 is one local route. */
static gboolean
addr_is_unusable(guint32 addr)
{
    guint8 octet = addr & 0xff;

    return octet == 0 || octet == 255;
}

static gboolean
bit_get(const guint64 *map, guint32 i)
{
    return (map[i / 64] >> (i % 64)) & 1;
}

static void
bit_set(guint64 *map, guint32 i)
{
    map[i / 64] |= G_GUINT64_CONSTANT(1) << (i % 64);
}

static void
bit_clear(guint64 *map, guint32 i)
{
    map[i / 64] &= ~(G_GUINT64_CONSTANT(1) << (i % 64));
}

WgmLazyPool *
wgm_lazy_pool_new(guint32 first, guint32 last)
{
    WgmLazyPool *pool;
    guint32      i;

    g_return_val_if_fail(first <= last, NULL);
    g_return_val_if_fail((first >> 24) == 127 && (last >> 24) == 127, NULL);

    pool           = g_new0(WgmLazyPool, 1);
    pool->first    = first;
    pool->last     = last;
    pool->n_bits   = last - first + 1;
    pool->n_words  = (pool->n_bits + 63) / 64;
    pool->taken    = g_new0(guint64, pool->n_words);
    pool->reserved = g_new0(guint64, pool->n_words);

    for (i = 0; i < pool->n_bits; i++) {
        if (addr_is_unusable(first + i))
            bit_set(pool->taken, i);
        else
            pool->size++;
    }
    if (pool->n_bits % 64 != 0)
        pool->taken[pool->n_words - 1] |= ~G_GUINT64_CONSTANT(0) << (pool->n_bits % 64);
    return pool;
}

void
wgm_lazy_pool_free(WgmLazyPool *pool)
{
    if (!pool)
        return;
    g_free(pool->taken);
    g_free(pool->reserved);
    g_free(pool);
}

gboolean
wgm_lazy_pool_contains(const WgmLazyPool *pool, guint32 addr)
{
    g_return_val_if_fail(pool, FALSE);

    return addr >= pool->first && addr <= pool->last;
}

guint
wgm_lazy_pool_get_n_used(const WgmLazyPool *pool)
{
    g_return_val_if_fail(pool, 0);

    return pool->n_used;
}

guint
wgm_lazy_pool_get_size(const WgmLazyPool *pool)
{
    g_return_val_if_fail(pool, 0);

    return pool->size;
}

gboolean
wgm_lazy_pool_alloc(WgmLazyPool *pool, guint32 *addr, GError **error)
{
    gsize w;

    g_return_val_if_fail(pool, FALSE);
    g_return_val_if_fail(addr, FALSE);
    g_return_val_if_fail(!error || !*error, FALSE);

    for (w = pool->hint / 64; w < pool->n_words; w++) {
        guint64 word = pool->taken[w];
        guint32 i;

        /* Bits below the hint in its own word count as taken. */
        if (w == pool->hint / 64)
            word |= (G_GUINT64_CONSTANT(1) << (pool->hint % 64)) - 1;
        if (word == ~G_GUINT64_CONSTANT(0))
            continue;

        i = (guint32)(w * 64) + (guint32)__builtin_ctzll(~word);
        bit_set(pool->taken, i);
        pool->n_used++;
        pool->hint = i + 1;
        *addr      = pool->first + i;
        return TRUE;
    }

    pool->hint = pool->n_bits;
    {
        char first[ADDR_STRLEN], last[ADDR_STRLEN];

        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_FAILED,
                    "no free loopback address for a lazy peer: all %u of %s-%s are in use",
                    pool->size,
                    format_addr(pool->first, first),
                    format_addr(pool->last, last));
    }
    return FALSE;
}

void
wgm_lazy_pool_release(WgmLazyPool *pool, guint32 addr)
{
    guint32 i;

    g_return_if_fail(pool);

    if (!wgm_lazy_pool_contains(pool, addr) || addr_is_unusable(addr))
        return;
    i = addr - pool->first;
    if (!bit_get(pool->taken, i))
        return;
    bit_clear(pool->taken, i);
    bit_clear(pool->reserved, i);
    pool->n_used--;
    pool->hint = MIN(pool->hint, i);
}

gboolean
wgm_lazy_pool_reserve(WgmLazyPool *pool, guint32 addr, GError **error)
{
    char    buf[ADDR_STRLEN];
    guint32 i;

    g_return_val_if_fail(pool, FALSE);
    g_return_val_if_fail(!error || !*error, FALSE);

    /* Never handed out anyway. */
    if (!wgm_lazy_pool_contains(pool, addr) || addr_is_unusable(addr))
        return TRUE;

    i = addr - pool->first;
    if (bit_get(pool->reserved, i)) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_FAILED,
                    "%s is already reserved in the loopback range of lazy peers",
                    format_addr(addr, buf));
        return FALSE;
    }
    if (bit_get(pool->taken, i)) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_FAILED,
                    "%s is already the loopback address of a lazy peer",
                    format_addr(addr, buf));
        return FALSE;
    }
    bit_set(pool->taken, i);
    bit_set(pool->reserved, i);
    pool->n_used++;
    return TRUE;
}
