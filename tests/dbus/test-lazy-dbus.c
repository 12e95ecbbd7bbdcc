/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lazy connections controlled at run time over D-Bus: the writable
 * Mesh.LazyConnections, Mesh.InactivityTimeout and Peer.Lazy of a running
 * mesh, written as root and as user nobody, on a bus with the system bus's
 * default policy, the service's own and polkit's (tests/dbus/polkit-bus.conf),
 * with python3-dbusmock's polkitd template in place of polkitd or without
 * any.  The mesh runs for real (wireguard-go in a network namespace of the
 * test's own); its two peers never answer, so an eager one stays Connecting
 * and a lazy one Idle: what a write changed shows in their Lazy and State.
 */
#include "config.h"

#include "wgm-auth.h"
#include "wgm-error.h"
#include "wgm-test-polkit.h"
#include "wgm-test-util.h"
#include "wgm-test-vpn.h"

#define BUS_NAME    "org.freedesktop.NetworkManager.wgmesh"
#define MESH_PATH   "/org/freedesktop/NetworkManager/wgmesh"
#define PEER1_PATH  MESH_PATH "/Peer/1"
#define PEER2_PATH  MESH_PATH "/Peer/2"
#define MESH_IFACE  "org.freedesktop.NetworkManager.wgmesh.Mesh"
#define PEER_IFACE  "org.freedesktop.NetworkManager.wgmesh.Peer"
#define PROPS_IFACE "org.freedesktop.DBus.Properties"
#define ERROR_NAME  "org.freedesktop.NetworkManager.wgmesh.Error."
#define PRIV        "8I46Pf0oR5ITg1FpXuGYVcjS7z5rEsx2YmrcVbQ9iUc="
#define PUB1        "pPuiF6dSmqSzn11tpl8qJUNAacVVaS460WlScc6r214="
#define PUB2        "CW8COZql9EH6Hq8Og8O3edFwZBWNA/515w9CmTK4plI="
#define TIMEOUT_S   600 /* the profile's inactivity-timeout */

/* How long a peer may take to reach the state a write put it in: the
 * mesh acts at once, a poll (≈1 s while something connects) shows it. */
#define STATE_WAIT_MS 10000

/* NMVpnServiceState */

typedef struct {
    WgmTestHarness h;
    WgmTestPolkit *polkit;
    guint          mesh_subscription;
    GPtrArray     *mesh_changes; /* of GVariant a{sv}: the Mesh's PropertiesChanged */
} Fixture;

/* clang-format off */
static const char *const profile_data[] = {
    "address",            "10.77.0.1/24",
    "listen-port",        "51820",
    "lazy-connections",   "yes",
    "inactivity-timeout", G_STRINGIFY(TIMEOUT_S),
    "peer.1.public-key",  PUB1,
    "peer.1.endpoint",    "10.200.1.2:51820",
    "peer.1.allowed-ips", "10.77.0.2/32",
    "peer.2.public-key",  PUB2,
    "peer.2.endpoint",    "10.200.2.2:51820",
    "peer.2.allowed-ips", "10.77.0.3/32",
    "peer.2.lazy",        "no",
    NULL,
};
static const char *const profile_secrets[] = { "private-key", PRIV, NULL };
/* clang-format on */

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
    if (f->mesh_subscription)
        g_dbus_connection_signal_unsubscribe(wgm_test_vpn_get_connection(f->h.vpn),
                                             f->mesh_subscription);
    g_clear_pointer(&f->mesh_changes, g_ptr_array_unref);
    g_clear_pointer(&f->polkit, wgm_test_polkit_free);
    wgm_test_harness_clear(&f->h);
}

static void
mesh_changed_cb(GDBusConnection *connection,
                const char      *sender,
                const char      *path,
                const char      *iface,
                const char      *name,
                GVariant        *params,
                gpointer         user_data)
{
    Fixture *f = user_data;

    g_ptr_array_add(f->mesh_changes, g_variant_get_child_value(params, 1));
}

/* Brings the mesh up as NetworkManager would, then follows the Mesh's
 * PropertiesChanged; FALSE if the test skips. */
static gboolean
start_mesh(Fixture *f)
{
    if (!wgm_test_polkit_harness_connect(&f->h, BUS_NAME, "lazy", profile_data, profile_secrets))
        return FALSE;
    f->mesh_changes      = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
    f->mesh_subscription = g_dbus_connection_signal_subscribe(wgm_test_vpn_get_connection(f->h.vpn),
                                                              NULL,
                                                              PROPS_IFACE,
                                                              "PropertiesChanged",
                                                              MESH_PATH,
                                                              MESH_IFACE,
                                                              G_DBUS_SIGNAL_FLAGS_NONE,
                                                              mesh_changed_cb,
                                                              f,
                                                              NULL);
    return TRUE;
}

static void
start_polkit(Fixture *f, const char *allowed)
{
    f->polkit = wgm_test_polkit_new_allowing(f->h.bus, allowed);
}

/* ---- reading and writing ------------------------------------------------- */

static GVariant *
get_prop(Fixture *f, const char *path, const char *iface, const char *name)
{
    g_autoptr(GError) error   = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(wgm_test_vpn_get_connection(f->h.vpn),
                                                            BUS_NAME,
                                                            path,
                                                            PROPS_IFACE,
                                                            "Get",
                                                            g_variant_new("(ss)", iface, name),
                                                            G_VARIANT_TYPE("(v)"),
                                                            G_DBUS_CALL_FLAGS_NONE,
                                                            30000,
                                                            NULL,
                                                            &error);
    GVariant *value;

    g_assert_no_error(error);
    g_variant_get(reply, "(v)", &value);
    return value;
}

static gboolean
get_bool(Fixture *f, const char *path, const char *iface, const char *name)
{
    g_autoptr(GVariant) value = get_prop(f, path, iface, name);

    return g_variant_get_boolean(value);
}

static guint32
get_timeout(Fixture *f)
{
    g_autoptr(GVariant) value = get_prop(f, MESH_PATH, MESH_IFACE, "InactivityTimeout");

    return g_variant_get_uint32(value);
}

static char *
get_state(Fixture *f, const char *path)
{
    g_autoptr(GVariant) value = get_prop(f, path, PEER_IFACE, "State");

    return g_variant_dup_string(value, NULL);
}

/* Properties.Set as root; @value is sunk. */
static gboolean
root_set(Fixture    *f,
         const char *path,
         const char *iface,
         const char *name,
         GVariant   *value,
         GError    **error)
{
    g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync(wgm_test_vpn_get_connection(f->h.vpn),
                                    BUS_NAME,
                                    path,
                                    PROPS_IFACE,
                                    "Set",
                                    g_variant_new("(ssv)", iface, name, value),
                                    G_VARIANT_TYPE_UNIT,
                                    G_DBUS_CALL_FLAGS_NONE,
                                    30000,
                                    NULL,
                                    error);

    if (error && *error)
        g_test_message("root: Set %s -> %s", name, (*error)->message);
    return reply != NULL;
}

/* Properties.Set as nobody; @value in GVariant text format, e.g. "<false>". */
static gboolean
nobody_set(Fixture    *f,
           const char *path,
           const char *iface,
           const char *name,
           const char *value,
           char      **out_error)
{
    g_autofree char *iface_arg = g_strdup_printf("'%s'", iface);
    g_autofree char *name_arg  = g_strdup_printf("'%s'", name);
    const char      *args[]    = { iface_arg, name_arg, value, NULL };

    return wgm_test_gdbus_call(f->h.bus, TRUE, BUS_NAME, path, PROPS_IFACE ".Set", args, out_error);
}

/* What the writes below may change, in one string. */
static char *
snapshot(Fixture *f)
{
    g_autofree char *state1 = get_state(f, PEER1_PATH);
    g_autofree char *state2 = get_state(f, PEER2_PATH);

    return g_strdup_printf("LazyConnections=%d InactivityTimeout=%u "
                           "Peer1.Lazy=%d Peer1.State=%s Peer2.Lazy=%d Peer2.State=%s",
                           get_bool(f, MESH_PATH, MESH_IFACE, "LazyConnections"),
                           get_timeout(f),
                           get_bool(f, PEER1_PATH, PEER_IFACE, "Lazy"),
                           state1,
                           get_bool(f, PEER2_PATH, PEER_IFACE, "Lazy"),
                           state2);
}

/* Waits until the Mesh signalled @name == @expected (sunk) in a
 * PropertiesChanged. */
static void
wait_mesh_changed(Fixture *f, const char *name, GVariant *expected)
{
    g_autoptr(GVariant) want = g_variant_ref_sink(expected);
    gint64 deadline          = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    for (;;) {
        for (guint i = 0; i < f->mesh_changes->len; i++) {
            g_autoptr(GVariant) got = g_variant_lookup_value(f->mesh_changes->pdata[i], name, NULL);

            if (got && g_variant_equal(got, want)) {
                g_ptr_array_remove_range(f->mesh_changes, 0, i + 1);
                return;
            }
        }
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        wgm_test_iterate(50);
    }
}

/* Waits until Peer @path signalled Lazy == @lazy in a PropertiesChanged. */
static void
wait_peer_lazy_changed(Fixture *f, const char *path, gboolean lazy)
{
    g_autofree char *signal   = g_strconcat("PropertiesChanged:", path, NULL);
    gint64           deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    for (;;) {
        gint64 left                = (deadline - g_get_monotonic_time()) / 1000;
        g_autoptr(GVariant) params = NULL;
        g_autoptr(GVariant) props  = NULL;
        gboolean got;

        g_assert_cmpint(left, >, 0);
        params = wgm_test_vpn_wait_signal(f->h.vpn, signal, (guint)left);
        g_assert_nonnull(params);
        props = g_variant_get_child_value(params, 1);
        if (g_variant_lookup(props, "Lazy", "b", &got) && got == lazy)
            return;
    }
}

static void
wait_state(Fixture *f, const char *key, const char *state)
{
    g_autoptr(GHashTable) peers = wgm_test_vpn_wait_peer_state(f->h.vpn, key, state, STATE_WAIT_MS);

    if (!peers)
        g_error("peer %s did not become %s", key, state);
}

/* Peer @key stays in @state for @ms (what WireGuard still had under way
 * for it, e.g. a handshake retransmitted every 5 s, must not undo that). */
static void
assert_stays(Fixture *f, const char *key, const char *state, guint ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

    do {
        g_autoptr(GError) error     = NULL;
        g_autoptr(GHashTable) peers = wgm_test_vpn_get_peers(f->h.vpn, &error);
        const char *got             = NULL;

        g_assert_no_error(error);
        g_assert_true(g_variant_lookup(g_hash_table_lookup(peers, key), "State", "&s", &got));
        g_assert_cmpstr(got, ==, state);
        wgm_test_iterate(250);
    } while (g_get_monotonic_time() < end);
}

static void
assert_logged(Fixture *f, const char *line)
{
    g_autofree char *log = wgm_test_service_get_log(f->h.service);

    if (!strstr(log, line))
        g_error("the service did not log \"%s\":\n%s", line, log);
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_initial(Fixture *f, gconstpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after  = NULL;

    if (!start_mesh(f))
        return;
    g_assert_true(get_bool(f, MESH_PATH, MESH_IFACE, "LazyConnections"));
    g_assert_cmpuint(get_timeout(f), ==, TIMEOUT_S);
    g_assert_true(get_bool(f, PEER1_PATH, PEER_IFACE, "Lazy"));
    g_assert_false(get_bool(f, PEER2_PATH, PEER_IFACE, "Lazy"));
    wait_state(f, PUB1, "idle");
    wait_state(f, PUB2, "connecting");

    /* Read-only properties stay so, even for root: GDBus refuses before the
     * service sees the call (GLib answers InvalidArgs, not PropertyReadOnly). */
    before = snapshot(f);
    g_assert_false(
        root_set(f, PEER2_PATH, PEER_IFACE, "State", g_variant_new_string("idle"), &error));
    g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
    g_assert_nonnull(strstr(error->message, "is not writable"));
    g_clear_error(&error);
    g_assert_false(
        root_set(f, MESH_PATH, MESH_IFACE, "PeersIdle", g_variant_new_uint32(7), &error));
    g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
    g_assert_nonnull(strstr(error->message, "is not writable"));
    g_clear_error(&error);
    /* Nor does a value of the wrong type get through. */
    g_assert_false(
        root_set(f, MESH_PATH, MESH_IFACE, "LazyConnections", g_variant_new_string("no"), &error));
    g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
    g_clear_error(&error);
    after = snapshot(f);
    g_assert_cmpstr(after, ==, before);
}

static void
test_root(Fixture *f, gconstpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after  = NULL;

    if (!start_mesh(f))
        return;
    wait_state(f, PUB1, "idle");
    wait_state(f, PUB2, "connecting");

    /* Off: peer 1 follows the mesh and connects; peer 2 has its own. */
    g_assert_true(root_set(
        f, MESH_PATH, MESH_IFACE, "LazyConnections", g_variant_new_boolean(FALSE), &error));
    g_assert_no_error(error);
    /* Taken effect by the time Set returned. */
    g_assert_false(get_bool(f, MESH_PATH, MESH_IFACE, "LazyConnections"));
    g_assert_false(get_bool(f, PEER1_PATH, PEER_IFACE, "Lazy"));
    wait_mesh_changed(f, "LazyConnections", g_variant_new_boolean(FALSE));
    wait_peer_lazy_changed(f, PEER1_PATH, FALSE);
    wait_state(f, PUB1, "connecting");
    assert_logged(f, "mesh: LazyConnections true -> false, set over D-Bus by :");

    /* On again: peer 1 is not connected, so it is parked at once. */
    g_assert_true(
        root_set(f, MESH_PATH, MESH_IFACE, "LazyConnections", g_variant_new_boolean(TRUE), &error));
    g_assert_no_error(error);
    g_assert_true(get_bool(f, MESH_PATH, MESH_IFACE, "LazyConnections"));
    g_assert_true(get_bool(f, PEER1_PATH, PEER_IFACE, "Lazy"));
    wait_mesh_changed(f, "LazyConnections", g_variant_new_boolean(TRUE));
    wait_peer_lazy_changed(f, PEER1_PATH, TRUE);
    wait_state(f, PUB1, "idle");
    assert_stays(f, PUB1, "idle", 6000);
    g_assert_false(get_bool(f, PEER2_PATH, PEER_IFACE, "Lazy"));
    wait_state(f, PUB2, "connecting");

    /* Peer 2's own override, written. */
    g_assert_true(root_set(f, PEER2_PATH, PEER_IFACE, "Lazy", g_variant_new_boolean(TRUE), &error));
    g_assert_no_error(error);
    g_assert_true(get_bool(f, PEER2_PATH, PEER_IFACE, "Lazy"));
    wait_peer_lazy_changed(f, PEER2_PATH, TRUE);
    wait_state(f, PUB2, "idle");
    assert_logged(f, "Lazy false -> true, set over D-Bus by :");

    g_assert_true(
        root_set(f, MESH_PATH, MESH_IFACE, "InactivityTimeout", g_variant_new_uint32(120), &error));
    g_assert_no_error(error);
    g_assert_cmpuint(get_timeout(f), ==, 120);
    wait_mesh_changed(f, "InactivityTimeout", g_variant_new_uint32(120));
    assert_logged(f, "mesh: InactivityTimeout 600 -> 120, set over D-Bus by :");

    /* Out of range: refused, naming the property; nothing changes. */
    before = snapshot(f);
    g_assert_false(
        root_set(f, MESH_PATH, MESH_IFACE, "InactivityTimeout", g_variant_new_uint32(5), &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
    g_dbus_error_strip_remote_error(error);
    g_assert_true(g_str_has_prefix(error->message, "InactivityTimeout: "));
    g_clear_error(&error);
    g_assert_false(root_set(
        f, MESH_PATH, MESH_IFACE, "InactivityTimeout", g_variant_new_uint32(86401), &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
    g_dbus_error_strip_remote_error(error);
    g_assert_true(g_str_has_prefix(error->message, "InactivityTimeout: "));
    g_clear_error(&error);
    after = snapshot(f);
    g_assert_cmpstr(after, ==, before);
    g_assert_cmpuint(get_timeout(f), ==, 120);
}

/* Every write as nobody is refused for @why, and changes nothing. */
static void
assert_nobody_refused(Fixture *f, const char *why)
{
    static const struct {
        const char *path, *iface, *name, *value;
    } writes[] = {
        { MESH_PATH, MESH_IFACE, "LazyConnections", "<false>" },
        { MESH_PATH, MESH_IFACE, "InactivityTimeout", "<uint32 120>" },
        { PEER1_PATH, PEER_IFACE, "Lazy", "<false>" },
        { PEER2_PATH, PEER_IFACE, "Lazy", "<true>" },
    };
    g_autofree char *before = snapshot(f);
    g_autofree char *after  = NULL;
    g_autofree char *log    = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(writes); i++) {
        g_autofree char *err = NULL;
        g_autofree char *prefix =
            g_strdup_printf(ERROR_NAME "NotAuthorized: %s: caller :", writes[i].name);

        g_assert_false(
            nobody_set(f, writes[i].path, writes[i].iface, writes[i].name, writes[i].value, &err));
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(err, prefix));
        g_assert_nonnull(strstr(err, "(uid 65534) refused for " WGM_AUTH_ACTION_MODIFY ": "));
        g_assert_nonnull(strstr(err, why));
    }
    /* A poll or two, for anything a write might have set off. */
    wgm_test_iterate(1500);
    after = snapshot(f);
    g_assert_cmpstr(after, ==, before);
    log = wgm_test_service_get_log(f->h.service);
    g_assert_null(strstr(log, "set over D-Bus"));
    g_assert_null(strstr(log, "lazy connections turned"));
}

static void
test_nobody_refused(Fixture *f, gconstpointer user_data)
{
    if (!start_mesh(f))
        return;
    wait_state(f, PUB1, "idle");
    wait_state(f, PUB2, "connecting");

    assert_nobody_refused(f, "polkit is not available and the caller is not root");
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
    wait_state(f, PUB1, "idle");
    wait_state(f, PUB2, "connecting");
    start_polkit(f, WGM_AUTH_ACTION_MODIFY);

    g_assert_true(nobody_set(f, MESH_PATH, MESH_IFACE, "LazyConnections", "<false>", NULL));
    g_assert_false(get_bool(f, MESH_PATH, MESH_IFACE, "LazyConnections"));
    g_assert_false(get_bool(f, PEER1_PATH, PEER_IFACE, "Lazy"));
    wait_mesh_changed(f, "LazyConnections", g_variant_new_boolean(FALSE));
    wait_state(f, PUB1, "connecting");

    g_assert_true(nobody_set(f, PEER2_PATH, PEER_IFACE, "Lazy", "<true>", NULL));
    g_assert_true(get_bool(f, PEER2_PATH, PEER_IFACE, "Lazy"));
    wait_state(f, PUB2, "idle");

    g_assert_true(nobody_set(f, MESH_PATH, MESH_IFACE, "InactivityTimeout", "<uint32 3600>", NULL));
    g_assert_cmpuint(get_timeout(f), ==, 3600);

    /* Authorized, and still checked. */
    g_assert_false(nobody_set(f, MESH_PATH, MESH_IFACE, "InactivityTimeout", "<uint32 59>", &err));
    g_assert_nonnull(strstr(err, ERROR_NAME "InvalidSetting: InactivityTimeout: "));
    g_assert_cmpuint(get_timeout(f), ==, 3600);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);
    /* Maps the service's D-Bus errors back to WGM_ERROR codes. */
    (void)WGM_ERROR;

#define ADD(path, fn) g_test_add(path, Fixture, NULL, NULL, fn, fixture_teardown)
    ADD("/lazy-dbus/initial", test_initial);
    ADD("/lazy-dbus/root", test_root);
    ADD("/lazy-dbus/nobody-refused", test_nobody_refused);
    ADD("/lazy-dbus/nobody-polkit-allows", test_nobody_polkit_allows);
#undef ADD

    return g_test_run();
}
