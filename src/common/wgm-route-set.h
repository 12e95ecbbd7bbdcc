/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "wgm-ip.h"

/* The smallest route set that sends the same addresses into the mesh as the
 * peers' allowed IPs do.  Pure: no I/O, no NetworkManager. */

typedef struct {
    GArray  *routes;      /* WgmIpPrefix: network form, sorted, none nested or mergeable */
    guint    n_allowed;   /* allowed IPs of the family, duplicates included, /0 not */
    guint    n_on_link;   /* of those, lying in the on-link prefix (dropped) */
    gboolean has_default; /* a /0 was among them: not a route, see collect_routes() */
} WgmRouteSet;

/* @allowed: the peers' allowed IPs, both families mixed; only @family's are
 * read.  @on_link: the interface's address prefix of @family (host bits may be
 * set, as written in the profile), or NULL: the kernel's on-link route for it
 * already covers every allowed IP inside it, as wg-quick relies on.
 * Runs in O(n log n). */
void wgm_route_set_compute(WgmRouteSet       *out,
                           int                family,
                           const WgmIpPrefix *allowed,
                           guint              n_allowed,
                           const WgmIpPrefix *on_link);
void wgm_route_set_clear(WgmRouteSet *set);

/* TRUE when @outer contains every address of @inner (same family). */
gboolean wgm_ip_prefix_contains(const WgmIpPrefix *outer, const WgmIpPrefix *inner);
