/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Route aggregation: the same addresses go into the mesh with the fewest
 * routes; checked by cases and against every address of a small space. */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "wgm-route-set.h"

static WgmIpPrefix
prefix(const char *str)
{
    g_autoptr(GError) error = NULL;
    WgmIpPrefix p;

    g_assert_true(wgm_ip_prefix_parse(str, TRUE, &p, &error));
    g_assert_no_error(error);
    return p;
}

/* @allowed: comma-separated; @own: NULL for none.  Returns the routes as
 * "a, b, c" for one comparison per case. */
static char *
compute(int family, const char *allowed, const char *own, WgmRouteSet *out)
{
    g_auto(GStrv) items    = g_strsplit(allowed, ",", -1);
    g_autoptr(GArray) in   = g_array_new(FALSE, FALSE, sizeof(WgmIpPrefix));
    g_autoptr(GString) str = g_string_new(NULL);
    WgmIpPrefix own_p;

    for (guint i = 0; items[i]; i++) {
        g_strstrip(items[i]);
        if (items[i][0]) {
            WgmIpPrefix p = prefix(items[i]);

            g_array_append_val(in, p);
        }
    }
    if (own)
        own_p = prefix(own);
    wgm_route_set_compute(
        out, family, (const WgmIpPrefix *)(void *)in->data, in->len, own ? &own_p : NULL);
    for (guint i = 0; i < out->routes->len; i++) {
        char buf[WGM_IP_STRLEN];

        g_string_append_printf(
            str,
            "%s%s",
            i ? ", " : "",
            wgm_ip_prefix_to_string(&g_array_index(out->routes, WgmIpPrefix, i), buf));
    }
    return g_string_free(g_steal_pointer(&str), FALSE);
}

#define CHECK(family, allowed, own, expect)                         \
    G_STMT_START                                                    \
    {                                                               \
        WgmRouteSet      s_;                                        \
        g_autofree char *got_ = compute(family, allowed, own, &s_); \
                                                                    \
        g_assert_cmpstr(got_, ==, expect);                          \
        wgm_route_set_clear(&s_);                                   \
    }                                                               \
    G_STMT_END

static void
test_covered_by_own(void)
{
    WgmRouteSet      s;
    g_autofree char *got = compute(
        AF_INET, "10.64.0.2/32, 10.100.0.0/16, 10.64.0.0/10, 10.128.0.1/32", "10.64.0.1/10", &s);

    /* Inside the on-link /10, the /10 itself included; next door is not. */
    g_assert_cmpstr(got, ==, "10.128.0.1/32");
    g_assert_cmpuint(s.n_allowed, ==, 4);
    g_assert_cmpuint(s.n_on_link, ==, 3);
    g_assert_false(s.has_default);
    wgm_route_set_clear(&s);

    /* A prefix wider than the on-link subnet stays. */
    CHECK(AF_INET, "10.0.0.0/8, 10.64.0.2/32", "10.64.0.1/10", "10.0.0.0/8");

    CHECK(AF_INET6, "fd77::3/128, fd77::/64, fd77:0:0:1::/64", "fd77::1/64", "fd77:0:0:1::/64");
    CHECK(AF_INET6, "fd77::/48", "fd77::1/64", "fd77::/48");
}

/* The address is kept as written ("10.77.0.1/24"): its network is what the
 * kernel routes on-link.  Allowed IPs with host bits count as their network. */
static void
test_host_bits(void)
{
    CHECK(AF_INET, "10.77.0.5/32, 10.77.0.128/25, 10.77.1.1/32", "10.77.0.201/24", "10.77.1.1/32");
    CHECK(AF_INET, "10.0.0.5/24, 10.0.1.7/24", NULL, "10.0.0.0/23");
    CHECK(AF_INET6, "fd77::5/128, fd78::1/64", "fd77::1:2:3:4/64", "fd78::/64");
}

static void
test_adjacent(void)
{
    CHECK(AF_INET, "10.0.0.128/25, 10.0.0.0/25", NULL, "10.0.0.0/24");
    /* Adjacent, but not the two halves of one prefix. */
    CHECK(AF_INET, "10.0.0.128/25, 10.0.1.0/25", NULL, "10.0.0.128/25, 10.0.1.0/25");
    /* Halves of different sizes do not pair. */
    CHECK(AF_INET, "10.0.0.0/25, 10.0.0.128/26", NULL, "10.0.0.0/25, 10.0.0.128/26");
    CHECK(AF_INET6, "fd00::/65, fd00::8000:0:0:0/65", NULL, "fd00::/64");
    /* Across a byte boundary and down to /1. */
    CHECK(AF_INET, "10.0.0.0/8, 11.0.0.0/8", NULL, "10.0.0.0/7");
    /* wg-quick's way around the default route stays as it is: no /0. */
    CHECK(AF_INET, "0.0.0.0/1, 128.0.0.0/1", NULL, "0.0.0.0/1, 128.0.0.0/1");
    CHECK(AF_INET6, "::/1, 8000::/1, ::/2", NULL, "::/1, 8000::/1");
}

static void
test_nested(void)
{
    CHECK(AF_INET, "10.1.2.3/32, 10.1.0.0/16, 10.0.0.0/8, 10.255.255.255/32", NULL, "10.0.0.0/8");
    CHECK(AF_INET, "10.0.0.0/8, 10.0.0.0/16, 10.0.0.0/32", NULL, "10.0.0.0/8");
    CHECK(AF_INET6, "fd00::1/128, fd00::/16", NULL, "fd00::/16");
}

static void
test_repeated_merge(void)
{
    CHECK(AF_INET, "10.0.0.192/26, 10.0.0.64/26, 10.0.0.128/26, 10.0.0.0/26", NULL, "10.0.0.0/24");
    /* The merged /25 pairs with the /25 below it. */
    CHECK(AF_INET, "10.0.0.0/25, 10.0.0.128/26, 10.0.0.192/26", NULL, "10.0.0.0/24");
    /* 0..7 as /32s, one of them twice, one inside a /31. */
    CHECK(AF_INET,
          "10.0.0.7, 10.0.0.6, 10.0.0.5, 10.0.0.4, 10.0.0.3, 10.0.0.2/31, 10.0.0.2, 10.0.0.1, "
          "10.0.0.0, 10.0.0.0",
          NULL,
          "10.0.0.0/29");
    /* Merging stops where a half is missing. */
    CHECK(AF_INET, "10.0.0.0/26, 10.0.0.64/26, 10.0.0.128/26", NULL, "10.0.0.0/25, 10.0.0.128/26");
}

static void
test_mixed_families(void)
{
    const char *mixed = "10.0.0.0/25, fd00::/65, 10.0.0.128/25, fd00::8000:0:0:0/65, fd77::2/128, "
                        "10.77.0.2/32, ::/0";
    WgmRouteSet s;
    g_autofree char *v4 = compute(AF_INET, mixed, "10.77.0.1/24", &s);

    g_assert_cmpstr(v4, ==, "10.0.0.0/24");
    g_assert_cmpuint(s.n_allowed, ==, 3);
    g_assert_cmpuint(s.n_on_link, ==, 1);
    g_assert_false(s.has_default); /* ::/0 is IPv6's */
    wgm_route_set_clear(&s);

    /* The IPv4 address says nothing about IPv6. */
    CHECK(AF_INET6, mixed, "10.77.0.1/24", "fd00::/64, fd77::2/128");
    CHECK(AF_INET6, mixed, "fd77::1/64", "fd00::/64");
}

static void
test_default(void)
{
    WgmRouteSet      s;
    g_autofree char *got =
        compute(AF_INET, "0.0.0.0/0, 10.99.0.0/16, 10.77.0.3/32", "10.77.0.1/24", &s);

    /* A /0 is not a route (never-default FALSE instead) and hides nothing. */
    g_assert_cmpstr(got, ==, "10.99.0.0/16");
    g_assert_true(s.has_default);
    g_assert_cmpuint(s.n_allowed, ==, 2);
    wgm_route_set_clear(&s);

    g_free(g_steal_pointer(&got));
    got = compute(AF_INET6, "::/0, 0.0.0.0/0", NULL, &s);
    g_assert_cmpstr(got, ==, "");
    g_assert_true(s.has_default);
    g_assert_cmpuint(s.n_allowed, ==, 0);
    wgm_route_set_clear(&s);
}

static void
test_duplicates_and_order(void)
{
    WgmRouteSet      s;
    g_autofree char *got = compute(AF_INET, "10.1.0.0/16, 10.1.0.0/16, 10.1.0.0/16", NULL, &s);

    g_assert_cmpstr(got, ==, "10.1.0.0/16");
    g_assert_cmpuint(s.n_allowed, ==, 3);
    wgm_route_set_clear(&s);

    CHECK(AF_INET,
          "192.168.0.0/16, 10.0.0.1/32, 172.16.0.0/12, 10.0.0.0/32",
          NULL,
          "10.0.0.0/31, 172.16.0.0/12, 192.168.0.0/16");
}

static void
test_empty(void)
{
    WgmRouteSet s;

    wgm_route_set_compute(&s, AF_INET, NULL, 0, NULL);
    g_assert_cmpuint(s.routes->len, ==, 0);
    g_assert_cmpuint(s.n_allowed, ==, 0);
    g_assert_false(s.has_default);
    wgm_route_set_clear(&s);
    g_assert_null(s.routes);

    CHECK(AF_INET6, "", "fd00::1/64", "");
}

/* ---- every address of a 10-bit space, random sets ---------------------- */

#define SPACE_BITS 10

static WgmIpPrefix
space_prefix(int family, guint offset, guint plen_in_space)
{
    WgmIpPrefix p = { .addr.family = family };
    gsize       n = family == AF_INET ? 4 : 16;

    if (family == AF_INET)
        p.addr.addr[0] = 10;
    else
        p.addr.addr[0] = 0xfd;
    p.addr.addr[n - 2] = (offset >> 8) & 0xff;
    p.addr.addr[n - 1] = offset & 0xff;
    p.plen             = (guint8)(n * 8 - SPACE_BITS + plen_in_space);
    return p;
}

static gboolean
covered_by(const WgmIpPrefix *addr, const WgmIpPrefix *list, guint n)
{
    for (guint i = 0; i < n; i++)
        if (wgm_ip_prefix_contains(&list[i], addr))
            return TRUE;
    return FALSE;
}

static void
check_random_set(int family, GRand *rand)
{
    guint        n = g_rand_int_range(rand, 0, 24);
    WgmIpPrefix  in[24];
    WgmIpPrefix  own;
    gboolean     has_own = g_rand_boolean(rand);
    WgmRouteSet  s;
    WgmIpPrefix *out;

    /* Host bits left in, as users write them. */
    for (guint i = 0; i < n; i++)
        in[i] = space_prefix(family,
                             g_rand_int_range(rand, 0, 1 << SPACE_BITS),
                             g_rand_int_range(rand, 0, SPACE_BITS + 1));
    own = space_prefix(family,
                       g_rand_int_range(rand, 0, 1 << SPACE_BITS),
                       g_rand_int_range(rand, 1, SPACE_BITS + 1));
    wgm_route_set_compute(&s, family, in, n, has_own ? &own : NULL);
    out = (WgmIpPrefix *)(void *)s.routes->data;
    g_assert_cmpuint(s.n_allowed, ==, n);
    g_assert_cmpuint(s.routes->len, <=, n);

    for (guint a = 0; a < 1u << SPACE_BITS; a++) {
        WgmIpPrefix addr    = space_prefix(family, a, SPACE_BITS);
        gboolean    on_link = has_own && wgm_ip_prefix_contains(&own, &addr);
        gboolean    before  = covered_by(&addr, in, n);
        gboolean    after   = covered_by(&addr, out, s.routes->len);

        /* The mesh gets the same addresses (the on-link route adds its own). */
        g_assert_cmpint(before || on_link, ==, after || on_link);
    }

    for (guint i = 0; i < s.routes->len; i++) {
        WgmIpPrefix norm    = out[i];
        WgmIpPrefix own_net = own;

        wgm_ip_prefix_normalize(&norm);
        wgm_ip_prefix_normalize(&own_net);
        g_assert_true(wgm_ip_prefix_equal(&norm, &out[i]));
        g_assert_false(has_own && wgm_ip_prefix_contains(&own_net, &out[i]));
        for (guint j = i + 1; j < s.routes->len; j++) {
            WgmIpPrefix parent = out[i];

            g_assert_cmpint(
                memcmp(out[i].addr.addr, out[j].addr.addr, family == AF_INET ? 4 : 16), <, 0);
            g_assert_false(wgm_ip_prefix_contains(&out[i], &out[j]));
            g_assert_false(wgm_ip_prefix_contains(&out[j], &out[i]));
            /* Not the two halves of one prefix (other than /0). */
            if (out[i].plen == out[j].plen && parent.plen > 1) {
                parent.plen--;
                g_assert_false(wgm_ip_prefix_contains(&parent, &out[j]));
            }
        }
    }
    wgm_route_set_clear(&s);
}

static void
test_random_equivalence(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(g_test_rand_int());

    for (guint i = 0; i < 400; i++) {
        check_random_set(AF_INET, rand);
        check_random_set(AF_INET6, rand);
    }
}

/* ---- 10,000 peers ------------------------------------------------------- */

/* @n consecutive /32s from @base, in a shuffled order. */
static GArray *
hosts(const char *base, guint n, GRand *rand)
{
    GArray     *a     = g_array_sized_new(FALSE, FALSE, sizeof(WgmIpPrefix), n);
    WgmIpPrefix first = prefix(base);

    for (guint i = 0; i < n; i++) {
        WgmIpPrefix p = first;

        p.addr.addr4 = htonl(ntohl(first.addr.addr4) + i);
        g_array_append_val(a, p);
    }
    for (guint i = n; i > 1; i--) {
        guint       j = g_rand_int_range(rand, 0, i);
        WgmIpPrefix t = g_array_index(a, WgmIpPrefix, i - 1);

        g_array_index(a, WgmIpPrefix, i - 1) = g_array_index(a, WgmIpPrefix, j);
        g_array_index(a, WgmIpPrefix, j)     = t;
    }
    return a;
}

static gint64
time_compute(GArray *in)
{
    gint64 best = G_MAXINT64;

    for (guint r = 0; r < 3; r++) {
        WgmRouteSet s;
        gint64      t0 = g_get_monotonic_time();

        wgm_route_set_compute(&s, AF_INET, (WgmIpPrefix *)(void *)in->data, in->len, NULL);
        best = MIN(best, g_get_monotonic_time() - t0);
        wgm_route_set_clear(&s);
    }
    return MAX(best, 1);
}

static void
test_ten_thousand(void)
{
    g_autoptr(GRand) rand  = g_rand_new_with_seed(12);
    g_autoptr(GArray) in   = hosts("10.64.0.2", 10000, rand);
    g_autoptr(GArray) out  = hosts("10.200.0.0", 10000, rand);
    g_autoptr(GArray) big  = hosts("20.0.0.0", 200000, rand);
    g_autoptr(GArray) tens = hosts("20.0.0.0", 20000, rand);
    WgmIpPrefix      own   = prefix("10.64.0.1/10");
    WgmRouteSet      s;
    g_autofree char *got = NULL;
    gint64           t_small, t_big;

    wgm_route_set_compute(&s, AF_INET, (WgmIpPrefix *)(void *)in->data, in->len, &own);
    g_assert_cmpuint(s.routes->len, ==, 0);
    g_assert_cmpuint(s.n_on_link, ==, 10000);
    wgm_route_set_clear(&s);

    /* 10,000 = 8192 + 1024 + 512 + 256 + 16 */
    wgm_route_set_compute(&s, AF_INET, (WgmIpPrefix *)(void *)out->data, out->len, &own);
    g_assert_cmpuint(s.routes->len, ==, 5);
    {
        static const char *const expect[] = {
            "10.200.0.0/19", "10.200.32.0/22", "10.200.36.0/23", "10.200.38.0/24", "10.200.39.0/28",
        };

        for (guint i = 0; i < 5; i++) {
            char buf[WGM_IP_STRLEN];

            g_assert_cmpstr(wgm_ip_prefix_to_string(&g_array_index(s.routes, WgmIpPrefix, i), buf),
                            ==,
                            expect[i]);
        }
    }
    wgm_route_set_clear(&s);

    /* Ten times the input, far less than a hundred times the time: not
     * quadratic (a sort is about 12 times here). */
    t_small = time_compute(tens);
    t_big   = time_compute(big);
    g_test_message("20,000 prefixes: %" G_GINT64_FORMAT " us, 200,000: %" G_GINT64_FORMAT " us",
                   t_small,
                   t_big);
    g_assert_cmpint(t_big, <, 50 * t_small + 20000);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/route-set/covered-by-own", test_covered_by_own);
    g_test_add_func("/route-set/host-bits", test_host_bits);
    g_test_add_func("/route-set/adjacent", test_adjacent);
    g_test_add_func("/route-set/nested", test_nested);
    g_test_add_func("/route-set/repeated-merge", test_repeated_merge);
    g_test_add_func("/route-set/mixed-families", test_mixed_families);
    g_test_add_func("/route-set/default", test_default);
    g_test_add_func("/route-set/duplicates-and-order", test_duplicates_and_order);
    g_test_add_func("/route-set/empty", test_empty);
    g_test_add_func("/route-set/random-equivalence", test_random_equivalence);
    g_test_add_func("/route-set/ten-thousand", test_ten_thousand);
    return g_test_run();
}
