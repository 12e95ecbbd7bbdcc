/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Mesh methods (ResetBackoff, ConnectPeer) of a running mesh, called as
 * root and as user nobody, on a bus with the system bus's default policy,
 * the service's own and polkit's (tests/dbus/polkit-bus.conf), with
 * python3-dbusmock's polkitd template in place of polkitd or without any.
 * The mesh runs for real (wireguard-go in a network namespace of the test's
 * own); its two peers never answer, so they stay Connecting and the guard
 * keeps retrying them: what a call changes shows in their Attempts and
 * NextRetry.
 */
#include "config.h"

#include "wgm-auth.h"
#include "wgm-error.h"
#include "wgm-test-polkit.h"
#include "wgm-test-util.h"
#include "wgm-test-vpn.h"

#define BUS_NAME   "org.freedesktop.NetworkManager.wgmesh"
#define MESH_PATH  "/org/freedesktop/NetworkManager/wgmesh"
#define MESH_IFACE "org.freedesktop.NetworkManager.wgmesh.Mesh"
#define ERROR_NAME "org.freedesktop.NetworkManager.wgmesh.Error."
#define PRIV       "8I46Pf0oR5ITg1FpXuGYVcjS7z5rEsx2YmrcVbQ9iUc="
#define PUB1       "pPuiF6dSmqSzn11tpl8qJUNAacVVaS460WlScc6r214="
#define PUB2       "CW8COZql9EH6Hq8Og8O3edFwZBWNA/515w9CmTK4plI="
#define UNKNOWN    "nAsX3X1fnpgBT1hkrk2K1RA8YMTgetXnnpPYBeKhA1Q=" /* a key, not a peer */
#define MALFORMED  "not-a-key"

/* How long no retry may be due when calls whose effect is checked begin.
 * Retries come every 5 s at first (REKEY_TIMEOUT), so there is such a
 * window after each. */
#define QUIET_MS 2500

/* NMVpnServiceState */

typedef struct {
    WgmTestHarness h;
    WgmTestPolkit *polkit;
} Fixture;

/* clang-format off */
static const char *const profile_data[] = {
    "address",            "10.77.0.1/24",
    "listen-port",        "51820",
    "peer.1.public-key",  PUB1,
    "peer.1.endpoint",    "10.200.1.2:51820",
    "peer.1.allowed-ips", "10.77.0.2/32",
    "peer.2.public-key",  PUB2,
    "peer.2.endpoint",    "10.200.2.2:51820",
    "peer.2.allowed-ips", "10.77.0.3/32",
    NULL,
};
static const char *const profile_secrets[] = { "private-key", PRIV, NULL };
/* clang-format on */

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
    g_clear_pointer(&f->polkit, wgm_test_polkit_free);
    wgm_test_harness_clear(&f->h);
}

static gboolean
start_mesh(Fixture *f)
{
    return wgm_test_polkit_harness_connect(
        &f->h, BUS_NAME, "methods", profile_data, profile_secrets);
}

static void
start_polkit(Fixture *f, const char *allowed)
{
    f->polkit = wgm_test_polkit_new_allowing(f->h.bus, allowed);
}

/* ---- calls ---------------------------------------------------------------- */

static gboolean
root_call(Fixture *f, const char *method, GVariant *params, GError **error)
{
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(wgm_test_vpn_get_connection(f->h.vpn),
                                                            BUS_NAME,
                                                            MESH_PATH,
                                                            MESH_IFACE,
                                                            method,
                                                            params,
                                                            G_VARIANT_TYPE_UNIT,
                                                            G_DBUS_CALL_FLAGS_NONE,
                                                            30000,
                                                            NULL,
                                                            error);

    if (error && *error)
        g_test_message("root: %s -> %s", method, (*error)->message);
    return reply != NULL;
}

/* As nobody; @key for ConnectPeer, NULL for ResetBackoff. */
static gboolean
nobody_call(Fixture *f, const char *key, char **out_error)
{
    g_autofree char *arg    = key ? g_strdup_printf("'%s'", key) : NULL;
    const char      *args[] = { arg, NULL };

    return wgm_test_gdbus_call(f->h.bus,
                               TRUE,
                               BUS_NAME,
                               MESH_PATH,
                               key ? MESH_IFACE ".ConnectPeer" : MESH_IFACE ".ResetBackoff",
                               args,
                               out_error);
}

/* gdbus's message says who was refused, for which action and why. */
static void
assert_refused(const char *err, const char *method, const char *why)
{
    g_autofree char *prefix = g_strdup_printf(ERROR_NAME "NotAuthorized: %s: caller :", method);

    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err, prefix));
    g_assert_nonnull(strstr(err, "(uid 65534) refused for " WGM_AUTH_ACTION_MODIFY ": "));
    g_assert_nonnull(strstr(err, why));
}

/* ---- what a call changed ---------------------------------------------------- */

/* Every peer's "key attempts next-retry", sorted; @out_soonest: the
 * earliest NextRetry (realtime usec), 0 if none. */
static char *
retry_snapshot(Fixture *f, gint64 *out_soonest)
{
    g_autoptr(GError) error     = NULL;
    g_autoptr(GHashTable) peers = wgm_test_vpn_get_peers(f->h.vpn, &error);
    g_autoptr(GPtrArray) lines  = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter iter;
    gpointer       key, props;

    g_assert_no_error(error);
    g_assert_cmpuint(g_hash_table_size(peers), ==, 2);
    *out_soonest = 0;
    g_hash_table_iter_init(&iter, peers);
    while (g_hash_table_iter_next(&iter, &key, &props)) {
        guint32 attempts;
        guint64 next;

        g_assert_true(g_variant_lookup(props, "Attempts", "u", &attempts));
        g_assert_true(g_variant_lookup(props, "NextRetry", "t", &next));
        if (next && (!*out_soonest || (gint64)next < *out_soonest))
            *out_soonest = (gint64)next;
        g_ptr_array_add(lines,
                        g_strdup_printf("%s %u %" G_GUINT64_FORMAT, (char *)key, attempts, next));
    }
    g_ptr_array_sort(lines, wgm_test_compare_strings);
    g_ptr_array_add(lines, NULL);
    return g_strjoinv("; ", (char **)lines->pdata);
}

/* The retry state once no retry is due within @quiet_ms; @out_due: when
 * the next one is (realtime usec), 0 if none. */
static char *
quiet_snapshot(Fixture *f, guint quiet_ms, gint64 *out_due)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

    for (;;) {
        gint64 wait_ms;
        char  *snapshot = retry_snapshot(f, out_due);

        if (!*out_due || *out_due > g_get_real_time() + (gint64)quiet_ms * 1000)
            return snapshot;
        g_free(snapshot);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        /* Past that retry, and past the poll that shows it. */
        wait_ms = (*out_due - g_get_real_time()) / 1000 + 500;
        wgm_test_iterate((guint)CLAMP(wait_ms, 200, 30000));
    }
}

/* Makes calls and asserts their replies. */
typedef void (*CallsFunc)(Fixture *f, gconstpointer data);

/*
 * Runs @calls between two scheduled retries and checks whether they changed
 * the peers' retry state: a change seen before the next scheduled retry was
 * due can only be theirs, and so can its absence until then.  A round in
 * which that retry came first proves nothing and is run again.
 */
static void
check_calls(Fixture *f, CallsFunc calls, gconstpointer data, gboolean expect_change)
{
    for (guint round = 1; round <= 5; round++) {
        gint64           due, end;
        g_autofree char *before = quiet_snapshot(f, QUIET_MS, &due);
        g_autofree char *after  = NULL;
        gboolean         changed;

        calls(f, data);
        /* An accepted call shows within a poll or two. */
        end = g_get_real_time() + (expect_change ? 1500 : 700) * 1000;
        do {
            gint64 soonest;

            g_clear_pointer(&after, g_free);
            after   = retry_snapshot(f, &soonest);
            changed = !g_str_equal(after, before);
            if (!changed)
                wgm_test_iterate(100);
        } while (!changed && g_get_real_time() < end);
        if (due && g_get_real_time() >= due) {
            g_test_message("round %u: a scheduled retry came first; again", round);
            continue;
        }
        g_test_message("before: %s\nafter:  %s", before, after);
        g_assert_cmpint(changed, ==, expect_change);
        return;
    }
    g_assert_not_reached();
}

/* ---- the calls ---------------------------------------------------------- */

static void
root_reset_backoff(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(root_call(f, "ResetBackoff", NULL, &error));
    g_assert_no_error(error);
}

static void
root_connect_peer(Fixture *f, gconstpointer key)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(root_call(f, "ConnectPeer", g_variant_new("(s)", (const char *)key), &error));
    g_assert_no_error(error);
}

/* ResetBackoff, or ConnectPeer @key, as nobody with polkit's consent. */
static void
nobody_allowed(Fixture *f, gconstpointer key)
{
    g_assert_true(nobody_call(f, key, NULL));
}

/* Nobody is refused, by polkit or for want of it, before anything else is
 * looked at (even a malformed key). */
static void
nobody_refused(Fixture *f, gconstpointer why)
{
    static const char *const keys[] = { NULL, PUB1, UNKNOWN, MALFORMED };

    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        g_autofree char *err = NULL;

        g_assert_false(nobody_call(f, keys[i], &err));
        assert_refused(err, keys[i] ? "ConnectPeer" : "ResetBackoff", why);
    }
}

static void
assert_nobody_refused(Fixture *f, const char *why)
{
    g_autofree char *log = NULL;

    check_calls(f, nobody_refused, why, FALSE);
    /* Nor did the mesh log a retry it was asked for. */
    log = wgm_test_service_get_log(f->h.service);
    g_assert_null(strstr(log, "backoff reset"));
    g_assert_null(strstr(log, "as asked over D-Bus"));
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_root_without_polkit(Fixture *f, gconstpointer user_data)
{
    g_autoptr(GError) error  = NULL;
    g_autoptr(GVariant) mesh = NULL;
    guint64 t;
    guint32 u;

    if (!start_mesh(f))
        return;

    mesh = wgm_test_vpn_get_mesh(f->h.vpn, &error);
    g_assert_no_error(error);
    g_assert_true(g_variant_lookup(mesh, "LastNetworkChange", "t", &t));
    g_assert_true(g_variant_lookup(mesh, "BackendRestarts", "u", &u));
    g_assert_cmpuint(u, ==, 0);

    check_calls(f, root_reset_backoff, NULL, TRUE);
    check_calls(f, root_connect_peer, PUB1, TRUE);

    g_assert_false(root_call(f, "ConnectPeer", g_variant_new("(s)", UNKNOWN), &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, "ConnectPeer: "));
    g_assert_nonnull(strstr(error->message, "no peer with public key " UNKNOWN));
    g_clear_error(&error);

    g_assert_false(root_call(f, "ConnectPeer", g_variant_new("(s)", MALFORMED), &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
    g_assert_nonnull(strstr(error->message, "ConnectPeer: public_key is not a WireGuard key"));
    g_assert_null(strstr(error->message, MALFORMED)); /* it could have been a secret */
}

static void
test_nobody_without_polkit(Fixture *f, gconstpointer user_data)
{
    if (!start_mesh(f))
        return;
    assert_nobody_refused(f, "polkit is not available and the caller is not root");
}

static void
test_nobody_polkit_denies(Fixture *f, gconstpointer user_data)
{
    if (!start_mesh(f))
        return;
    /* Another action allowed is not this one. */
    start_polkit(f, "org.freedesktop.NetworkManager.network-control");
    assert_nobody_refused(f, "not authorized by polkit");
}

static void
test_nobody_polkit_allows(Fixture *f, gconstpointer user_data)
{
    g_autofree char *err = NULL;

    if (!start_mesh(f))
        return;
    start_polkit(f, WGM_AUTH_ACTION_MODIFY);

    check_calls(f, nobody_allowed, NULL, TRUE);
    check_calls(f, nobody_allowed, PUB2, TRUE);

    g_assert_false(nobody_call(f, UNKNOWN, &err));
    g_assert_nonnull(strstr(err, ERROR_NAME "NotFound: ConnectPeer: "));
    g_clear_pointer(&err, g_free);
    g_assert_false(nobody_call(f, MALFORMED, &err));
    g_assert_nonnull(strstr(err, ERROR_NAME "InvalidSetting: ConnectPeer: public_key"));
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);
    /* Maps the service's D-Bus errors back to WGM_ERROR codes. */
    (void)WGM_ERROR;

#define ADD(path, fn) g_test_add(path, Fixture, NULL, NULL, fn, fixture_teardown)
    ADD("/mesh-methods/root-without-polkit", test_root_without_polkit);
    ADD("/mesh-methods/nobody-without-polkit", test_nobody_without_polkit);
    ADD("/mesh-methods/nobody-polkit-denies", test_nobody_polkit_denies);
    ADD("/mesh-methods/nobody-polkit-allows", test_nobody_polkit_allows);
#undef ADD

    return g_test_run();
}
