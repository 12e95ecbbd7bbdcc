/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-route-set.h"

#include <string.h>

/* A mesh of 10,000 peers lists 10,000 host prefixes, usually all inside the
 * interface's own subnet, and NetworkManager installs and tracks every route
 * it is given, while the kernel already sends that subnet to the interface
 * through the on-link route of the address (wg-quick adds no route for it
 * either).  So the set is the union of the allowed IPs not inside the
 * on-link subnet, written as the fewest CIDR blocks: sorted by address (shorter
 * first on a tie), a prefix is either inside the last kept one or starts
 * after it ends, and two kept siblings are replaced by their parent, which
 * may in turn pair with the one below it. */

static gsize
addr_len(int family)
{
    return family == AF_INET ? 4 : 16;
}

static guint
bit_at(const WgmIpAddr *a, guint i)
{
    return (a->addr[i / 8] >> (7 - i % 8)) & 1;
}

gboolean
wgm_ip_prefix_contains(const WgmIpPrefix *outer, const WgmIpPrefix *inner)
{
    guint full, rest;

    g_return_val_if_fail(outer && inner, FALSE);

    if (outer->addr.family != inner->addr.family || outer->plen > inner->plen)
        return FALSE;
    full = outer->plen / 8;
    rest = outer->plen % 8;
    if (memcmp(outer->addr.addr, inner->addr.addr, full) != 0)
        return FALSE;
    if (rest == 0)
        return TRUE;
    return ((outer->addr.addr[full] ^ inner->addr.addr[full]) & (guint8)(0xff << (8 - rest))) == 0;
}

/* @a below @b on the stack: the two halves of one parent prefix.  Never the
 * halves of /0: 0.0.0.0/1 + 128.0.0.0/1 is how wg-quick users send everything
 * through the tunnel without replacing the default route, and a /0 is no
 * route for NetworkManager (never-default). */
static gboolean
are_siblings(const WgmIpPrefix *a, const WgmIpPrefix *b)
{
    WgmIpPrefix parent;

    if (a->plen != b->plen || a->plen <= 1)
        return FALSE;
    if (bit_at(&a->addr, a->plen - 1) != 0 || bit_at(&b->addr, b->plen - 1) != 1)
        return FALSE;
    parent      = *a;
    parent.plen = a->plen - 1;
    return wgm_ip_prefix_contains(&parent, b);
}

static int
compare_prefix(gconstpointer pa, gconstpointer pb)
{
    const WgmIpPrefix *a = pa;
    const WgmIpPrefix *b = pb;
    int                c = memcmp(a->addr.addr, b->addr.addr, addr_len(a->addr.family));

    if (c != 0)
        return c;
    return (int)a->plen - (int)b->plen;
}

/* In place: the kept prefixes are a stack in the front of @routes, never
 * longer than what has been read. */
static void
aggregate(GArray *routes)
{
    WgmIpPrefix *r   = (WgmIpPrefix *)(void *)routes->data;
    guint        top = 0; /* stack size */

    g_array_sort(routes, compare_prefix);
    for (guint i = 0; i < routes->len; i++) {
        /* Sorting puts a covering prefix first: only the top can hold it. */
        if (top > 0 && wgm_ip_prefix_contains(&r[top - 1], &r[i]))
            continue;
        r[top++] = r[i];
        /* The left sibling starts the parent: it only loses a bit. */
        while (top >= 2 && are_siblings(&r[top - 2], &r[top - 1])) {
            r[top - 2].plen--;
            top--;
        }
    }
    g_array_set_size(routes, top);
}

void
wgm_route_set_compute(WgmRouteSet       *out,
                      int                family,
                      const WgmIpPrefix *allowed,
                      guint              n_allowed,
                      const WgmIpPrefix *on_link)
{
    WgmIpPrefix own;
    gboolean    has_own = FALSE;

    g_return_if_fail(out);
    g_return_if_fail(family == AF_INET || family == AF_INET6);
    g_return_if_fail(allowed || n_allowed == 0);

    memset(out, 0, sizeof(*out));
    out->routes = g_array_new(FALSE, FALSE, sizeof(WgmIpPrefix));
    if (on_link && on_link->addr.family == family) {
        own = *on_link;
        wgm_ip_prefix_normalize(&own);
        has_own = TRUE;
    }

    for (guint i = 0; i < n_allowed; i++) {
        WgmIpPrefix p = allowed[i];

        if (p.addr.family != family)
            continue;
        if (wgm_ip_prefix_is_default(&p)) {
            out->has_default = TRUE;
            continue;
        }
        out->n_allowed++;
        wgm_ip_prefix_normalize(&p);
        if (has_own && wgm_ip_prefix_contains(&own, &p)) {
            out->n_on_link++;
            continue;
        }
        g_array_append_val(out->routes, p);
    }
    aggregate(out->routes);
}

void
wgm_route_set_clear(WgmRouteSet *set)
{
    g_return_if_fail(set);

    g_clear_pointer(&set->routes, g_array_unref);
    memset(set, 0, sizeof(*set));
}
