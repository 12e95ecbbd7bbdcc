/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The network map (network-map=PATH) through the real service, driven as
 * NetworkManager drives it: a profile with one peer of its own and a map
 * file of wg-quick [Peer] sections (1,000 of them peers nobody answers
 * for, and a few the test edits), edited while the mesh is up the way
 * generators do it (write a temporary file, rename() it over the map).
 * Each edit is a diff: untouched peers keep their D-Bus objects and their
 * WireGuard session; a broken or vanished map leaves the mesh as it was
 * and says why in Mesh.LastError.  A map that is missing or writable by
 * others refuses the Connect.  Bringing a mesh up needs root (a real
 * wireguard-go in a network namespace of the test's own); the refusals
 * do not.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include "wgm-dbus-export.h"
#include "wgm-test-bus.h"
#include "wgm-test-netns.h"
#include "wgm-test-util.h"
#include "wgm-test-vpn.h"

#define BUS_NAME  "org.freedesktop.NetworkManager.wgmesh"
#define PEER_HOST "10.200.1.2" /* peer 1's host: ports other than 51820 are closed */

/* NMVpnServiceState */
#define STATE_STARTED 4
#define STATE_STOPPED 6

/* The service coalesces changes for ~300 ms, then reads and applies. */
#define EDIT_TIMEOUT_MS 3000
/* Peers every map also holds, nobody answering for them: an edit of one
 * peer among a thousand must change that one only. */
#define N_FILLER 1000

typedef struct {
    WgmTestHarness h;
    char          *dir;
    char          *map_path; /* <dir>/peers.conf */
    guint          refusals;
} Fixture;

typedef struct {
    const char *name;
    const char *key;
    const char *endpoint;
    const char *allowed_ips;
} MapPeer;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->h.bus = wgm_test_bus_new(&error);
    g_assert_no_error(error);
    f->dir = g_dir_make_tmp("wgm-map-XXXXXX", &error);
    g_assert_no_error(error);
    f->map_path = g_build_filename(f->dir, "peers.conf", NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    wgm_test_harness_clear(&f->h);
    wgm_test_remove_dir(f->dir);
    g_free(f->dir);
    g_free(f->map_path);
}

static char *
random_key(void)
{
    guint8 key[32];

    for (guint i = 0; i < sizeof(key); i++)
        key[i] = g_random_int_range(0, 256);
    return g_base64_encode(key, sizeof(key));
}

/* The filler peers' [Peer] sections, the same in every version of the map. */
static void
append_fillers(GString *s)
{
    for (guint i = 0; i < N_FILLER; i++) {
        guint8           key[32] = { 0x57, 0x47, (guint8)(i >> 8), (guint8)i };
        g_autofree char *b64     = g_base64_encode(key, sizeof(key));

        g_string_append_printf(s,
                               "\n[Peer]\nPublicKey = %s\nEndpoint = " PEER_HOST
                               ":%u\nAllowedIPs = 10.96.%u.%u/32\n",
                               b64,
                               30000 + i,
                               i / 250,
                               i % 250 + 1);
    }
}

static char *
map_text(const MapPeer *peers, guint n_peers)
{
    GString *s = g_string_new("# written by test-network-map-dbus\n");

    append_fillers(s);

    for (guint i = 0; i < n_peers; i++) {
        g_string_append_printf(s, "\n[Peer]\n");
        if (peers[i].name)
            g_string_append_printf(s, "# Name = %s\n", peers[i].name);
        g_string_append_printf(s,
                               "PublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\n",
                               peers[i].key,
                               peers[i].endpoint,
                               peers[i].allowed_ips);
    }
    return g_string_free(s, FALSE);
}

/* As a generator replaces the map: write peers.conf.tmp, rename() it over. */
static void
replace_map(Fixture *f, const char *text, int mode)
{
    g_autofree char *tmp    = g_strconcat(f->map_path, ".tmp", NULL);
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_set_contents_full(tmp, text, -1, G_FILE_SET_CONTENTS_NONE, mode, &error));
    g_assert_no_error(error);
    g_assert_cmpint(g_chmod(tmp, mode), ==, 0); /* whatever the umask */
    g_assert_cmpint(g_rename(tmp, f->map_path), ==, 0);
}

static void
replace_map_peers(Fixture *f, const MapPeer *peers, guint n_peers)
{
    g_autofree char *text = map_text(peers, n_peers);

    replace_map(f, text, 0644);
}

/* ---- the mesh as D-Bus shows it ---- */

typedef struct {
    char     *path;
    GVariant *props; /* a{sv} of the Peer interface */
} PeerObject;

static void
peer_object_free(PeerObject *p)
{
    g_free(p->path);
    g_variant_unref(p->props);
    g_free(p);
}

/* PublicKey -> PeerObject, from one GetManagedObjects. */
static GHashTable *
get_peer_objects(Fixture *f)
{
    g_autoptr(GError) error     = NULL;
    g_autoptr(GVariant) objects = wgm_test_vpn_get_managed_objects(f->h.vpn, &error);
    GHashTable *peers =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)peer_object_free);
    GVariantIter iter;
    GVariant    *ifaces;
    const char  *path;

    g_assert_no_error(error);
    g_variant_iter_init(&iter, objects);
    while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
        g_autoptr(GVariant) props = g_variant_lookup_value(
            ifaces, "org.freedesktop.NetworkManager.wgmesh.Peer", G_VARIANT_TYPE_VARDICT);
        PeerObject *p;
        const char *key;

        g_variant_unref(ifaces);
        if (!props || !g_variant_lookup(props, "PublicKey", "&s", &key))
            continue;
        g_assert_true(g_str_has_prefix(path, WGM_DBUS_PEER_PATH "/"));
        p        = g_new0(PeerObject, 1);
        p->path  = g_strdup(path);
        p->props = g_steal_pointer(&props);
        g_hash_table_insert(peers, g_strdup(key), p);
    }
    return peers;
}

static const char *
peer_str(GHashTable *peers, const char *key, const char *prop)
{
    PeerObject *p = g_hash_table_lookup(peers, key);
    const char *s = NULL;

    g_assert_nonnull(p);
    g_assert_true(g_variant_lookup(p->props, prop, "&s", &s));
    return s;
}

static guint64
peer_u64(GHashTable *peers, const char *key, const char *prop)
{
    PeerObject *p = g_hash_table_lookup(peers, key);
    guint64     v = 0;

    g_assert_nonnull(p);
    g_assert_true(g_variant_lookup(p->props, prop, "t", &v));
    return v;
}

static char *
get_last_error(Fixture *f)
{
    g_autoptr(GError) error  = NULL;
    g_autoptr(GVariant) mesh = wgm_test_vpn_get_mesh(f->h.vpn, &error);
    char *s                  = NULL;

    g_assert_no_error(error);
    g_assert_true(g_variant_lookup(mesh, "LastError", "s", &s));
    return s;
}

/* Every peer of @before still has its object path in @after. */
static void
assert_paths_kept(GHashTable *before, GHashTable *after)
{
    GHashTableIter iter;
    gpointer       key, value;

    g_hash_table_iter_init(&iter, before);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        PeerObject *was = value;
        PeerObject *now = g_hash_table_lookup(after, key);

        if (!now)
            g_error("peer %s (%s) is gone", (char *)key, was->path);
        if (!g_str_equal(was->path, now->path))
            g_error("peer %s moved from %s to %s (recreated, not kept)",
                    (char *)key,
                    was->path,
                    now->path);
    }
}

/* ---- polling ---- */

typedef gboolean (*Condition)(Fixture *f, gconstpointer arg);

/* Polls @done every 50 ms for up to @timeout_ms; the milliseconds it took,
 * or -1 on timeout. */
static gint64
poll_until(Fixture *f, Condition done, gconstpointer arg, guint timeout_ms)
{
    gint64 t0       = g_get_monotonic_time();
    gint64 deadline = t0 + (gint64)timeout_ms * 1000;

    for (;;) {
        if (done(f, arg))
            return (g_get_monotonic_time() - t0) / 1000;
        if (g_get_monotonic_time() >= deadline)
            return -1;
        wgm_test_iterate(50);
    }
}

static gboolean
has_n_peers(Fixture *f, gconstpointer arg)
{
    g_autoptr(GHashTable) peers = get_peer_objects(f);

    return g_hash_table_size(peers) == GPOINTER_TO_UINT(arg);
}

typedef struct {
    const char *key;
    const char *endpoint;
} EndpointIs;

static gboolean
has_endpoint(Fixture *f, gconstpointer arg)
{
    const EndpointIs *e         = arg;
    g_autoptr(GHashTable) peers = get_peer_objects(f);

    return g_hash_table_contains(peers, e->key)
           && g_str_equal(peer_str(peers, e->key, "Endpoint"), e->endpoint);
}

static gboolean
last_error_has(Fixture *f, gconstpointer needle)
{
    g_autofree char *s = get_last_error(f);

    return *s && strstr(s, needle);
}

static gboolean
last_error_empty(Fixture *f, gconstpointer arg)
{
    g_autofree char *s = get_last_error(f);

    return *s == '\0';
}

/* Runs `wg show wgm0 CMD` where the service runs (its own /run). */
static char *
wg_show(Fixture *f, const char *cmd)
{
    g_autoptr(GError) error = NULL;
    char *out               = NULL;

    g_assert_true(wgm_test_net_exec_in_service(
        f->h.net, wgm_test_service_get_pid(f->h.service), &out, &error, "wg show wgm0 %s", cmd));
    g_assert_no_error(error);
    return out;
}

/* Some line of @log holds every one of @needles. */
static gboolean
log_line_has(const char *log, const char *const *needles)
{
    g_auto(GStrv) lines = g_strsplit(log, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        gboolean all = TRUE;

        for (guint j = 0; all && needles[j]; j++)
            all = strstr(lines[i], needles[j]) != NULL;
        if (all)
            return TRUE;
    }
    return FALSE;
}

/* ---- the tests ---- */

/*
 * Up with one profile peer and two map peers (one of them a real
 * wireguard-go that handshakes), then five replacements of the map: a peer
 * added, an endpoint changed, a broken file, the file deleted, a good file
 * back.  Each good one applied as a diff within a few seconds; the bad
 * ones change nothing and say what and where.
 */
static void
test_connect_and_edit(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error       = NULL;
    g_autoptr(GVariant) conn      = NULL;
    g_autoptr(GVariant) config    = NULL;
    g_autoptr(GVariant) ip4       = NULL;
    g_autoptr(GHashTable) before  = NULL;
    g_autoptr(GHashTable) after   = NULL;
    g_auto(GStrv) wrap            = NULL;
    g_autofree char   *inline_key = random_key();
    g_autofree char   *key_a      = random_key();
    g_autofree char   *key_b      = random_key();
    g_autofree char   *real_ep    = NULL;
    g_autofree char   *out        = NULL;
    g_autofree char   *last_error = NULL;
    g_autofree char   *log        = NULL;
    g_autofree char   *path_line  = NULL;
    const WgmTestPeer *real;
    MapPeer            map[3];
    guint64            handshake;
    gint64             ms;
    gint64             t0 = g_get_monotonic_time();

    WGM_TEST_REQUIRE_ROOT();

    f->h.net = wgm_test_net_new(1, &error);
    g_assert_no_error(error);
    real    = wgm_test_net_get_peer(f->h.net, 1);
    real_ep = wgm_test_net_peer_endpoint(f->h.net, 1);
    wrap    = wgm_test_net_wrap_argv(f->h.net, wgm_test_net_get_svc_ns(f->h.net));
    wgm_test_harness_start_service(&f->h, (const char *const *)wrap, BUS_NAME, TRUE);

    /* The real peer and one nobody answers for. */
    map[0] = (MapPeer){ "real", real->public_key, real_ep, "10.77.0.2/32" };
    map[1] = (MapPeer){ "a", key_a, PEER_HOST ":20001", "10.77.0.11/32" };
    map[2] = (MapPeer){ NULL, key_b, PEER_HOST ":20002", "10.77.0.12/32, 10.98.0.0/16" };
    replace_map_peers(f, map, 2);

    {
        const char *vpn_data[] = {
            "address",         "10.77.0.1/24",      "listen-port",
            "51820",           "peer.1.public-key", inline_key,
            "peer.1.endpoint", PEER_HOST ":20000",  "peer.1.allowed-ips",
            "10.77.0.10/32",   "peer.1.name",       "inline",
            "network-map",     f->map_path,         NULL,
        };
        const char *secrets[] = { "private-key", wgm_test_net_get_svc_private_key(f->h.net), NULL };

        conn = wgm_test_vpn_connection_new("map", vpn_data, secrets);
    }
    g_assert_true(wgm_test_vpn_connect(f->h.vpn, conn, &error));
    g_assert_no_error(error);
    config = wgm_test_vpn_wait_signal(f->h.vpn, "Config", 15000);
    g_assert_nonnull(config);
    ip4 = wgm_test_vpn_wait_signal(f->h.vpn, "Ip4Config", 5000);
    g_assert_nonnull(ip4);
    g_assert_true(wgm_test_vpn_wait_state(f->h.vpn, STATE_STARTED, 5000));
    /* What NetworkManager then does with the tun device (the peers' /32s
     * are on-link in 10.77.0.0/24). */
    g_assert_true(wgm_test_net_exec(f->h.net,
                                    wgm_test_net_get_svc_ns(f->h.net),
                                    NULL,
                                    &error,
                                    "ip addr add 10.77.0.1/24 dev wgm0 && ip link set wgm0 up"));
    g_assert_no_error(error);
    g_test_message("up in %.1f s", (g_get_monotonic_time() - t0) / 1e6);

    /* The profile's peer and the map's, on D-Bus and in WireGuard. */
    before = get_peer_objects(f);
    g_assert_cmpuint(g_hash_table_size(before), ==, 3 + N_FILLER);
    g_assert_true(g_hash_table_contains(before, inline_key));
    g_assert_true(g_hash_table_contains(before, real->public_key));
    g_assert_true(g_hash_table_contains(before, key_a));
    g_assert_cmpstr(peer_str(before, key_a, "Name"), ==, "a");
    g_assert_cmpstr(peer_str(before, inline_key, "Name"), ==, "inline");
    out = wg_show(f, "peers");
    g_assert_nonnull(strstr(out, real->public_key));
    g_assert_nonnull(strstr(out, key_a));
    g_clear_pointer(&out, g_free);

    g_assert_nonnull(wgm_test_vpn_wait_peer_state(f->h.vpn, real->public_key, "connected", 15000));
    g_clear_pointer(&before, g_hash_table_unref);
    before    = get_peer_objects(f);
    handshake = peer_u64(before, real->public_key, "LatestHandshake");
    g_assert_cmpuint(handshake, >, 0);
    g_test_message("real peer connected after %.1f s", (g_get_monotonic_time() - t0) / 1e6);

    /* 1. A peer added: one more object, the others kept, the session too. */
    replace_map_peers(f, map, 3);
    ms = poll_until(f, has_n_peers, GUINT_TO_POINTER(4 + N_FILLER), EDIT_TIMEOUT_MS);
    if (ms < 0)
        g_error("a peer added to the map: not 4 + N_FILLER peers after %u ms", EDIT_TIMEOUT_MS);
    g_test_message("peer added: applied in %" G_GINT64_FORMAT " ms", ms);
    after = get_peer_objects(f);
    assert_paths_kept(before, after);
    g_assert_cmpuint(peer_u64(after, real->public_key, "LatestHandshake"), ==, handshake);
    g_assert_cmpstr(peer_str(after, real->public_key, "State"), ==, "connected");
    out = wg_show(f, "peers");
    g_assert_nonnull(strstr(out, key_b));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&before, g_hash_table_unref);
    before = g_steal_pointer(&after);

    /* 2. One peer's endpoint changed: that peer follows, nobody is recreated. */
    map[1].endpoint = PEER_HOST ":20099";
    replace_map_peers(f, map, 3);
    {
        const EndpointIs e = { key_a, PEER_HOST ":20099" };

        ms = poll_until(f, has_endpoint, &e, EDIT_TIMEOUT_MS);
    }
    if (ms < 0) {
        after = get_peer_objects(f);
        g_error("peer a's endpoint changed in the map: Peer.Endpoint still \"%s\" after %u ms",
                peer_str(after, key_a, "Endpoint"),
                EDIT_TIMEOUT_MS);
    }
    g_test_message("endpoint changed: applied in %" G_GINT64_FORMAT " ms", ms);
    after = get_peer_objects(f);
    g_assert_cmpuint(g_hash_table_size(after), ==, 4 + N_FILLER);
    assert_paths_kept(before, after);
    g_assert_cmpuint(peer_u64(after, real->public_key, "LatestHandshake"), ==, handshake);
    out = wg_show(f, "endpoints");
    g_assert_nonnull(strstr(out, PEER_HOST ":20099"));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&after, g_hash_table_unref);

    /* 3. A broken map: the mesh stays as it was; the error says where. */
    replace_map(f,
                "[Peer]\n"
                "PublicKey = garbage\n"
                "Endpoint = " PEER_HOST ":20003\n"
                "AllowedIPs = 10.77.0.13/32\n",
                0644);
    ms         = poll_until(f, last_error_has, f->map_path, EDIT_TIMEOUT_MS);
    last_error = get_last_error(f);
    if (ms < 0)
        g_error("broken map: Mesh.LastError is \"%s\" after %u ms, expected it to name %s",
                last_error,
                EDIT_TIMEOUT_MS,
                f->map_path);
    g_test_message("broken map: LastError after %" G_GINT64_FORMAT " ms: %s", ms, last_error);
    g_assert_nonnull(strstr(last_error, ":2:"));
    g_assert_nonnull(strstr(last_error, "PublicKey"));
    after = get_peer_objects(f);
    g_assert_cmpuint(g_hash_table_size(after), ==, 4 + N_FILLER);
    assert_paths_kept(before, after);
    g_clear_pointer(&after, g_hash_table_unref);
    path_line = g_strconcat(f->map_path, ":2:", NULL);
    log       = wgm_test_service_get_log(f->h.service);
    {
        const char *const needles[] = { path_line, NULL };

        if (!log_line_has(log, needles))
            g_error("broken map: no log line names %s\nlog:\n%s", path_line, log);
    }
    g_clear_pointer(&last_error, g_free);

    /* 4. The map deleted: the last good peers stay, and it says so. */
    g_assert_cmpint(g_unlink(f->map_path), ==, 0);
    ms         = poll_until(f, last_error_has, "gone", EDIT_TIMEOUT_MS);
    last_error = get_last_error(f);
    if (ms < 0)
        g_error("map deleted: Mesh.LastError is \"%s\" after %u ms, expected \"gone\"",
                last_error,
                EDIT_TIMEOUT_MS);
    g_test_message("map deleted: LastError after %" G_GINT64_FORMAT " ms: %s", ms, last_error);
    g_assert_nonnull(strstr(last_error, f->map_path));
    after = get_peer_objects(f);
    g_assert_cmpuint(g_hash_table_size(after), ==, 4 + N_FILLER);
    assert_paths_kept(before, after);
    g_assert_cmpuint(peer_u64(after, real->public_key, "LatestHandshake"), ==, handshake);
    g_clear_pointer(&after, g_hash_table_unref);
    out = wg_show(f, "peers");
    g_assert_nonnull(strstr(out, key_b));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&last_error, g_free);

    /* 5. A good map back (the same peers): the error clears, nothing moves. */
    replace_map_peers(f, map, 3);
    ms = poll_until(f, last_error_empty, NULL, EDIT_TIMEOUT_MS);
    if (ms < 0) {
        last_error = get_last_error(f);
        g_error(
            "good map back: Mesh.LastError still \"%s\" after %u ms", last_error, EDIT_TIMEOUT_MS);
    }
    g_test_message("good map back: LastError cleared in %" G_GINT64_FORMAT " ms", ms);
    after = get_peer_objects(f);
    g_assert_cmpuint(g_hash_table_size(after), ==, 4 + N_FILLER);
    assert_paths_kept(before, after);
    g_assert_cmpuint(peer_u64(after, real->public_key, "LatestHandshake"), ==, handshake);
    g_assert_cmpstr(peer_str(after, real->public_key, "State"), ==, "connected");

    g_assert_true(wgm_test_vpn_disconnect(f->h.vpn, &error));
    g_assert_no_error(error);
    g_assert_true(wgm_test_vpn_wait_state(f->h.vpn, STATE_STOPPED, 5000));
    g_test_message("whole test %.1f s", (g_get_monotonic_time() - t0) / 1e6);
}

/* A profile with one peer of its own and network-map=@map_path. */
static GVariant *
refused_connection(const char *map_path)
{
    g_autofree char *key    = random_key();
    const char      *data[] = {
             "address",
             "10.77.0.1/24",
             "peer.1.public-key",
             key,
             "peer.1.endpoint",
             "192.0.2.1:51820",
             "peer.1.allowed-ips",
             "10.77.0.2/32",
             "network-map",
             map_path,
             NULL,
    };
    const char *secrets[] = { "private-key", "8I46Pf0oR5ITg1FpXuGYVcjS7z5rEsx2YmrcVbQ9iUc=", NULL };

    return wgm_test_vpn_connection_new("map", data, secrets);
}

/* Connect is refused, at once or by a Failure before anything is up; the
 * reason (the call's error, else the service's log) holds every one of
 * @needles. */
static void
assert_connect_refused(Fixture *f, const char *map_path, const char *const *needles)
{
    g_autoptr(GVariant) conn = refused_connection(map_path);
    g_autoptr(GError) error  = NULL;
    g_autofree char *remote  = NULL;
    g_autofree char *reason  = NULL;

    if (wgm_test_vpn_connect(f->h.vpn, conn, &error)) {
        g_autoptr(GVariant) failure = wgm_test_vpn_wait_signal(f->h.vpn, "Failure", 10000);

        if (!failure)
            g_error("Connect with network-map=%s accepted, and no Failure within 10 s", map_path);
        g_assert_true(wgm_test_vpn_wait_state(f->h.vpn, STATE_STOPPED, 5000));
        reason = wgm_test_service_get_log(f->h.service);
        g_test_message("Connect accepted, then Failure; checking the log");
        if (!log_line_has(reason, needles))
            g_error("no log line says why network-map=%s failed\nlog:\n%s", map_path, reason);
        return;
    }
    remote = g_dbus_error_get_remote_error(error);
    g_dbus_error_strip_remote_error(error);
    g_test_message("refused (%s): %s", remote, error->message);
    for (guint i = 0; needles[i]; i++) {
        if (!strstr(error->message, needles[i]))
            g_error("Connect refused, but \"%s\" does not say \"%s\"", error->message, needles[i]);
    }
    /* libnm signals only a change of state: the first refusal says so. */
    if (f->refusals++ == 0)
        g_assert_true(wgm_test_vpn_wait_state(f->h.vpn, STATE_STOPPED, 5000));
}

/* A map that is missing, or that others could write, refuses the Connect
 * with a reason naming the setting and the file. */
static void
test_connect_refused(Fixture *f, gconstpointer data)
{
    g_autofree char *missing = g_build_filename(f->dir, "no-such-map.conf", NULL);
    g_autoptr(GError) error  = NULL;
    g_autofree char *text    = NULL;
    g_autofree char *key     = random_key();
    MapPeer          peer    = { "x", key, "192.0.2.2:51820", "10.77.0.3/32" };

    /* As root, the harness isolates the service in namespaces of its own;
     * unprivileged, it runs as the test user, who owns the map. */
    wgm_test_harness_start_service(&f->h, NULL, BUS_NAME, TRUE);

    {
        const char *const needles[] = { "network-map", missing, NULL };

        assert_connect_refused(f, missing, needles);
    }

    text = map_text(&peer, 1);
    replace_map(f, text, 0666);
    {
        const char *const needles[] = { "network-map", f->map_path, "writable by everyone", NULL };

        assert_connect_refused(f, f->map_path, needles);
    }

    /* Someone else's map (as root only: nobody else can hand it over). */
    if (geteuid() == 0) {
        const char *const needles[] = { "network-map", f->map_path, "root", NULL };

        g_assert_cmpint(g_chmod(f->map_path, 0644), ==, 0);
        g_assert_cmpint(chown(f->map_path, 65534, 65534), ==, 0);
        assert_connect_refused(f, f->map_path, needles);
    }

    g_assert_true(wgm_test_service_is_running(f->h.service));
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/network-map/connect-and-edit", test_connect_and_edit);
    ADD("/network-map/connect-refused", test_connect_refused);
#undef ADD

    return g_test_run();
}
