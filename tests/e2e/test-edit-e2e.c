/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * End to end (root): the profile edited with `nmcli connection modify`
 * while the mesh is up, in the real NetworkManager of the sandbox.  The
 * service applies each edit live as a diff: a peer added, a peer removed,
 * an endpoint changed, a preshared key set, lazy-connections toggled; peers the edit did not touch
 * keep their session (their LatestHandshake does not move, no new handshake).  An edit into an
 * invalid profile changes nothing and says why on D-Bus (Mesh.LastError); an edit of the address
 * waits for the next connect (Mesh.PendingReconnect).
 */
#include "config.h"

#include <string.h>

#include "wgm-test-nm.h"
#include "wgm-test-util.h"

#define CONN_PREFIX WGM_TEST_NM_VPN_SERVICE ".Connection_"
#define MESH_IFACE  "org.freedesktop.NetworkManager.wgmesh.Mesh"
#define N_PEERS     3
#define TIMEOUT_MS  15000
#define PROFILE     "edited"

static const char *
state_of(GHashTable *peers, const char *name)
{
    GVariant   *props = g_hash_table_lookup(peers, name);
    const char *state = NULL;

    if (props)
        g_variant_lookup(props, "State", "&s", &state);
    return state;
}

static guint64
handshake_of(GHashTable *peers, const char *name)
{
    GVariant *props = g_hash_table_lookup(peers, name);
    guint64   t     = 0;

    if (props)
        g_variant_lookup(props, "LatestHandshake", "t", &t);
    return t;
}

/* A Mesh property, printed by gdbus. */
static char *
mesh_property(WgmTestNm *nm, const char *bus_name, const char *property)
{
    g_autoptr(GError) error = NULL;
    char *out               = NULL;

    wgm_test_nm_exec(nm,
                     &out,
                     &error,
                     "gdbus call --system --dest %s --object-path %s "
                     "--method org.freedesktop.DBus.Properties.Get %s %s",
                     bus_name,
                     WGM_TEST_NM_MESH_PATH,
                     MESH_IFACE,
                     property);
    g_assert_no_error(error);
    return g_strstrip(out);
}

/* Waits until peer @name is in @state (NULL: gone); FALSE on timeout. */
static gboolean
wait_peer(WgmTestNm *nm, const char *bus_name, const char *name, const char *state)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * 1000;

    for (;;) {
        g_autoptr(GHashTable) peers = wgm_test_nm_peers(nm, bus_name);

        if (g_strcmp0(state_of(peers, name), state) == 0)
            return TRUE;
        if (g_get_monotonic_time() > deadline) {
            g_autofree char *log = wgm_test_nm_log_since(nm, 0);

            g_test_message("%s is %s, not %s; the sandbox's log:\n%s",
                           name,
                           state_of(peers, name),
                           state,
                           log);
            return FALSE;
        }
        g_usleep(100 * 1000);
    }
}

/* Waits until peer @name's Endpoint (WireGuard's) is @endpoint. */
static gboolean
wait_endpoint(WgmTestNm *nm, const char *bus_name, const char *name, const char *endpoint)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * 1000;

    for (;;) {
        g_autoptr(GHashTable) peers = wgm_test_nm_peers(nm, bus_name);
        GVariant   *props           = g_hash_table_lookup(peers, name);
        const char *now             = NULL;

        if (props)
            g_variant_lookup(props, "Endpoint", "&s", &now);
        if (g_strcmp0(now, endpoint) == 0)
            return TRUE;
        if (g_get_monotonic_time() > deadline) {
            g_test_message("%s's endpoint is %s, not %s", name, now, endpoint);
            return FALSE;
        }
        g_usleep(100 * 1000);
    }
}

/* The mesh's interface (its Mesh.Interface). */
static char *
mesh_ifname(WgmTestNm *nm, const char *bus_name)
{
    g_autofree char *prop = mesh_property(nm, bus_name, "Interface");

    /* "(<'wgm0'>,)" */
    g_assert_true(g_str_has_prefix(prop, "(<'"));
    return g_strndup(prop + 3, strcspn(prop + 3, "'"));
}

/* Waits until NetworkManager has (@present) or has not a route to @addr
 * on the mesh's interface. */
static gboolean
wait_route(WgmTestNm *nm, const char *bus_name, const char *addr, gboolean present)
{
    g_autofree char *ifname   = mesh_ifname(nm, bus_name);
    gint64           deadline = g_get_monotonic_time() + TIMEOUT_MS * 1000;
    g_autoptr(GError) error   = NULL;

    for (;;) {
        g_autofree char *out  = NULL;
        g_autofree char *want = g_strdup_printf("%s ", addr);

        wgm_test_nm_exec(nm, &out, &error, "ip -4 route show dev %s", ifname);
        g_assert_no_error(error);
        if ((strstr(out, want) != NULL) == present)
            return TRUE;
        if (g_get_monotonic_time() > deadline) {
            g_test_message("routes on %s: %s", ifname, out);
            return FALSE;
        }
        g_usleep(100 * 1000);
    }
}

/* Waits until WireGuard (`wg show IFACE preshared-keys`) has @psk for the
 * peer with @public_key. */
static gboolean
wait_psk(WgmTestNm *nm, const char *bus_name, const char *public_key, const char *psk)
{
    g_autofree char *ifname   = mesh_ifname(nm, bus_name);
    g_autofree char *want     = g_strdup_printf("%s\t%s", public_key, psk);
    gint64           deadline = g_get_monotonic_time() + TIMEOUT_MS * 1000;

    for (;;) {
        g_autofree char *out    = NULL;
        g_autoptr(GError) error = NULL;

        wgm_test_nm_exec(nm, &out, &error, "wg show %s preshared-keys", ifname);
        g_assert_no_error(error);
        if (strstr(out, want))
            return TRUE;
        if (g_get_monotonic_time() > deadline) {
            g_autofree char *log = wgm_test_nm_log_since(nm, 0);

            g_test_message("WireGuard's preshared keys never showed the new one; the "
                           "sandbox's log:\n%s",
                           log);
            return FALSE;
        }
        g_usleep(100 * 1000);
    }
}

static void
modify(WgmTestNm *nm, const char *args)
{
    g_autoptr(GError) error = NULL;

    wgm_test_nm_exec(nm, NULL, &error, "nmcli connection modify " PROFILE " %s", args);
    g_assert_no_error(error);
}

static void
test_edit_live(void)
{
    g_autoptr(GError) error       = NULL;
    g_autoptr(WgmTestNm) nm       = NULL;
    g_autoptr(GPtrArray) names    = NULL;
    g_autoptr(GHashTable) before  = NULL;
    g_autoptr(GHashTable) after   = NULL;
    g_autofree char *data         = NULL;
    g_autofree char *q_data       = NULL;
    g_autofree char *q_secret     = NULL;
    g_autofree char *peer3        = NULL;
    g_autoptr(GString) peer2_keys = g_string_new("");
    g_autofree char *bus_name     = NULL;
    g_autofree char *prop         = NULL;
    g_autoptr(GString) kept       = g_string_new("");
    g_auto(GStrv) items           = NULL;
    gint64 t0;

    if (!wgm_test_nm_require())
        return;
    nm = wgm_test_nm_new(N_PEERS, 1, &error);
    g_assert_no_error(error);

    /* The profile starts with peers 1 and 2; peer 3's keys are kept for
     * the edit that adds it. */
    data  = wgm_test_nm_vpn_data(nm, 1);
    items = g_strsplit(data, ",", -1);
    for (guint i = 0; items[i]; i++) {
        char *item = g_strstrip(items[i]);

        if (g_str_has_prefix(item, "peer.2."))
            g_string_append_printf(
                peer2_keys, " -vpn.data %.*s", (int)(strchr(item, '=') - item), item);
        if (g_str_has_prefix(item, "peer.3.")) {
            g_autofree char *old = peer3;

            peer3 = g_strdup_printf("%s%s%s", old ? old : "", old ? "," : "", item);
        } else
            g_string_append_printf(kept, "%s%s", kept->len ? "," : "", item);
    }
    g_assert_nonnull(peer3);
    q_data   = g_shell_quote(kept->str);
    q_secret = g_strdup_printf("private-key=%s", wgm_test_nm_get_var(nm, "MESH_1_PRIVATE_KEY"));
    {
        g_autofree char *q = g_shell_quote(q_secret);

        wgm_test_nm_exec(nm,
                         NULL,
                         &error,
                         "nmcli connection add type vpn con-name " PROFILE
                         " vpn-type %s vpn.data %s vpn.secrets %s",
                         WGM_TEST_NM_VPN_SERVICE,
                         q_data,
                         q);
        g_assert_no_error(error);
    }
    wgm_test_nm_exec(nm, NULL, &error, "nmcli connection up " PROFILE);
    g_assert_no_error(error);
    names = wgm_test_nm_list_names(nm, CONN_PREFIX);
    g_assert_cmpuint(names->len, ==, 1);
    bus_name = g_strdup(names->pdata[0]);
    g_assert_true(wait_peer(nm, bus_name, "peer-1", "connected"));
    g_assert_true(wait_peer(nm, bus_name, "peer-2", "connected"));
    before = wgm_test_nm_peers(nm, bus_name);
    g_assert_null(state_of(before, "peer-3"));

    /* Add peer 3: it connects; the others keep their sessions. */
    {
        /* With a lazy choice of its own: it comes with the peer; and a
         * prefix outside the mesh's 10.77.1.0/24, which needs a route. */
        g_auto(GStrv) halves   = g_strsplit(peer3, "peer.3.allowed-ips=10.77.1.4/32", 2);
        g_autofree char *wider = NULL;
        g_autofree char *with  = NULL;
        g_autofree char *q     = NULL;
        g_autofree char *a     = NULL;

        g_assert_cmpuint(g_strv_length(halves), ==, 2);
        wider = g_strjoinv("peer.3.allowed-ips=10.77.1.4/32 10.78.3.0/24", halves);
        with  = g_strdup_printf("%s,peer.3.lazy=no", wider);
        q     = g_shell_quote(with);
        a     = g_strdup_printf("+vpn.data %s", q);

        t0 = g_get_monotonic_time();
        modify(nm, a);
    }
    g_assert_true(wait_peer(nm, bus_name, "peer-3", "connected"));
    g_test_message("peer added by nmcli modify: connected %.0f ms later",
                   (g_get_monotonic_time() - t0) / 1000.0);
    after = wgm_test_nm_peers(nm, bus_name);
    g_assert_cmpuint(handshake_of(after, "peer-1"), ==, handshake_of(before, "peer-1"));
    g_assert_cmpuint(handshake_of(after, "peer-2"), ==, handshake_of(before, "peer-2"));
    prop = mesh_property(nm, bus_name, "LastError");
    g_assert_cmpstr(prop, ==, "(<''>,)");
    g_clear_pointer(&prop, g_free);
    /* Its prefix outside the mesh reached NetworkManager as a route; its
     * /32 inside did not (the on-link 10.77.1.0/24 covers it, as in
     * wg-quick). */
    g_assert_true(wait_route(nm, bus_name, "10.78.3.0/24", TRUE));
    g_assert_true(wait_route(nm, bus_name, "10.77.1.4", FALSE));

    /* A new endpoint for peer 3 (where nothing listens): WireGuard has it
     * at once; peers 1 and 2 keep their sessions. */
    modify(nm, "+vpn.data peer.3.endpoint=10.211.3.99:51820");
    g_assert_true(wait_endpoint(nm, bus_name, "peer-3", "10.211.3.99:51820"));
    g_clear_pointer(&after, g_hash_table_unref);
    after = wgm_test_nm_peers(nm, bus_name);
    g_assert_cmpuint(handshake_of(after, "peer-1"), ==, handshake_of(before, "peer-1"));
    g_assert_cmpuint(handshake_of(after, "peer-2"), ==, handshake_of(before, "peer-2"));

    /* Secrets alone: a preshared key for peer 3 reaches WireGuard. */
    {
        guint8           psk[32];
        g_autofree char *b64 = NULL;
        g_autofree char *a   = NULL;

        for (guint i = 0; i < sizeof(psk); i++)
            psk[i] = (guint8)g_random_int();
        b64 = g_base64_encode(psk, sizeof(psk));
        /* nmcli modifies vpn.secrets as a whole (it does not read the
         * ones stored): the private key goes along. */
        a = g_strdup_printf("vpn.secrets 'private-key=%s, peer.3.preshared-key=%s'",
                            wgm_test_nm_get_var(nm, "MESH_1_PRIVATE_KEY"),
                            b64);
        modify(nm, a);
        g_assert_true(wait_psk(nm, bus_name, wgm_test_nm_get_var(nm, "PEER_3_PUBLIC_KEY"), b64));
    }

    /* Remove peer 2: its object goes; peer 1 keeps its session. */
    {
        g_autofree char *a = g_strdup(peer2_keys->str);

        g_test_message("nmcli connection modify " PROFILE " %s", a);
        modify(nm, a);
    }
    g_assert_true(wait_peer(nm, bus_name, "peer-2", NULL));
    /* Peer 2's /32 was never a route of its own; peer 3's stays. */
    g_assert_true(wait_route(nm, bus_name, "10.77.1.3", FALSE));
    g_assert_true(wait_route(nm, bus_name, "10.78.3.0/24", TRUE));
    g_clear_pointer(&after, g_hash_table_unref);
    after = wgm_test_nm_peers(nm, bus_name);
    g_assert_cmpuint(handshake_of(after, "peer-1"), ==, handshake_of(before, "peer-1"));

    /* Lazy on: nothing live is parked at once (inactivity decides). */
    modify(nm, "+vpn.data lazy-connections=yes");
    prop = mesh_property(nm, bus_name, "LazyConnections");
    for (gint64 end = g_get_monotonic_time() + TIMEOUT_MS * 1000;
         !g_str_equal(prop, "(<true>,)") && g_get_monotonic_time() < end;) {
        g_usleep(100 * 1000);
        g_free(prop);
        prop = mesh_property(nm, bus_name, "LazyConnections");
    }
    if (!g_str_equal(prop, "(<true>,)")) {
        g_autofree char *log = wgm_test_nm_log_since(nm, 0);

        g_test_message("the sandbox's log:\n%s", log);
    }
    g_assert_cmpstr(prop, ==, "(<true>,)");
    g_clear_pointer(&prop, g_free);

    /* Invalid: nothing changes, and LastError says why. */
    modify(nm, "+vpn.data peer.1.allowed-ips=10.77.1.300/32");
    prop = mesh_property(nm, bus_name, "LastError");
    for (gint64 end = g_get_monotonic_time() + TIMEOUT_MS * 1000;
         g_str_equal(prop, "(<''>,)") && g_get_monotonic_time() < end;) {
        g_usleep(100 * 1000);
        g_free(prop);
        prop = mesh_property(nm, bus_name, "LastError");
    }
    g_test_message("LastError: %s", prop);
    g_assert_nonnull(strstr(prop, "peer.1.allowed-ips"));
    g_clear_pointer(&prop, g_free);
    g_clear_pointer(&after, g_hash_table_unref);
    after = wgm_test_nm_peers(nm, bus_name);
    g_assert_cmpstr(state_of(after, "peer-1"), ==, "connected");
    g_assert_cmpuint(handshake_of(after, "peer-1"), ==, handshake_of(before, "peer-1"));

    /* The address waits for the next connect. */
    modify(nm, "+vpn.data peer.1.allowed-ips=10.77.1.2/32 +vpn.data address=10.77.1.9/24");
    prop = mesh_property(nm, bus_name, "PendingReconnect");
    for (gint64 end = g_get_monotonic_time() + TIMEOUT_MS * 1000;
         !strstr(prop, "address") && g_get_monotonic_time() < end;) {
        g_usleep(100 * 1000);
        g_free(prop);
        prop = mesh_property(nm, bus_name, "PendingReconnect");
    }
    g_test_message("PendingReconnect: %s", prop);
    g_assert_nonnull(strstr(prop, "'address'"));
    g_clear_pointer(&prop, g_free);
    prop = mesh_property(nm, bus_name, "LastError");
    g_assert_cmpstr(prop, ==, "(<''>,)");

    wgm_test_nm_exec(nm, NULL, &error, "nmcli connection down " PROFILE);
    g_assert_no_error(error);
    wgm_test_nm_stop(nm, &error);
    g_assert_no_error(error);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/e2e/nm/edit-live", test_edit_live);
    return g_test_run();
}
