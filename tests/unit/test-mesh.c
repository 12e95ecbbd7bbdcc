/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mesh's scheduler and guards against a stand-in backend
 * (fake-backend.c) on a fake clock: no root, no wireguard-go, no sleeping.
 * (The real thing runs in the netns suite; this is where exact schedules,
 * transactions and signals are checked.)
 */
#include "config.h"

#include <arpa/inet.h>

#include "fake-backend.h"
#include "wgm-error.h"
#include "wgm-mesh.h"
#include "wgm-settings-keys.h"

#define SEC   G_USEC_PER_SEC
#define MONO0 FAKE_MONO0
#define REAL0 FAKE_REAL0
#define AT(s) (MONO0 + (gint64)((s)*SEC))

typedef struct {
    gint64       mono;
    FakeBackend *backend;
    WgmMesh     *mesh;
    guint        n_peers;
    guint        n_changed_signals;
    guint        n_added;
    guint        n_removed;
    GError      *failed;
} Fixture;

static void
add_peer_settings(NMSettingVpn *s, guint i, const char *extra_key, const char *extra_value)
{
    WgmKey           key;
    char             b64[WGM_KEY_B64_LEN + 1];
    g_autofree char *k_pub = g_strdup_printf("peer.%u.public-key", i);
    g_autofree char *k_ep  = g_strdup_printf("peer.%u.endpoint", i);
    g_autofree char *k_ips = g_strdup_printf("peer.%u.allowed-ips", i);
    g_autofree char *ep    = g_strdup_printf("192.0.2.%u:%u", 1 + i % 250, 51000 + i / 250);
    g_autofree char *ips =
        g_strdup_printf("10.%u.%u.%u/32", 100 + i / 65536, (i / 256) % 256, i % 256);
    g_autofree char *k_xtra = extra_key ? g_strdup_printf("peer.%u.%s", i, extra_key) : NULL;

    fake_peer_key(i, &key);
    wgm_key_to_base64(&key, b64);
    nm_setting_vpn_add_data_item(s, k_pub, b64);
    nm_setting_vpn_add_data_item(s, k_ep, ep);
    nm_setting_vpn_add_data_item(s, k_ips, ips);
    if (k_xtra)
        nm_setting_vpn_add_data_item(s, k_xtra, extra_value);
}

/* @n peers 1..n; peer @special gets @extra_key = @extra_value. */
static WgmConfig *
make_config(guint n, guint special, const char *extra_key, const char *extra_value)
{
    g_autoptr(NMSettingVpn) s = fake_vpn_setting_new();
    g_autoptr(GError) error   = NULL;
    WgmConfig *config;

    for (guint i = 1; i <= n; i++)
        add_peer_settings(s, i, i == special ? extra_key : NULL, extra_value);
    config = wgm_config_new_from_setting(s, &error);
    g_assert_no_error(error);
    return config;
}

static void
changed_cb(WgmMesh *mesh, Fixture *f)
{
    f->n_changed_signals++;
}

static void
added_cb(WgmMesh *mesh, WgmPeer *peer, Fixture *f)
{
    f->n_added++;
}

static void
removed_cb(WgmMesh *mesh, WgmPeer *peer, Fixture *f)
{
    f->n_removed++;
}

static void
failed_cb(WgmMesh *mesh, const GError *error, Fixture *f)
{
    g_clear_error(&f->failed);
    f->failed = g_error_copy(error);
}

static void
started_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(wgm_mesh_start_finish(WGM_MESH(source), result, &error));
    g_assert_no_error(error);
    *(gboolean *)user_data = TRUE;
}

static void
start_mesh(Fixture *f, WgmConfig *config)
{
    WgmMeshClock clock   = fake_clock(&f->mono);
    gboolean     started = FALSE;

    f->mono    = MONO0;
    f->backend = fake_backend_new();
    f->mesh    = wgm_mesh_new(WGM_BACKEND(f->backend), config);
    f->n_peers = config->peers->len;
    wgm_mesh_set_clock(f->mesh, &clock, 1234);
    g_signal_connect(f->mesh, "changed", G_CALLBACK(changed_cb), f);
    g_signal_connect(f->mesh, "peer-added", G_CALLBACK(added_cb), f);
    g_signal_connect(f->mesh, "peer-removed", G_CALLBACK(removed_cb), f);
    g_signal_connect(f->mesh, "failed", G_CALLBACK(failed_cb), f);
    wgm_mesh_start_async(f->mesh, NULL, started_cb, &started);
    while (!started)
        g_main_context_iteration(NULL, TRUE);
    fake_iterate();
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    if (f->mesh)
        wgm_mesh_stop(f->mesh);
    fake_iterate();
    g_clear_object(&f->mesh);
    g_clear_object(&f->backend);
    g_clear_error(&f->failed);
}

/* Runs the scheduler on the fake clock up to @t (seconds after start),
 * deadline by deadline, letting the fake backend answer in between. */
static void
run_until(Fixture *f, double t)
{
    fake_run_until(f->mesh, &f->mono, AT(t));
}

static WgmPeer *
peer_n(Fixture *f, guint i)
{
    WgmKey key;

    fake_peer_key(i, &key);
    return wgm_mesh_lookup_peer(f->mesh, &key);
}

static void
handshake(Fixture *f, guint i, guint64 rx, guint64 tx)
{
    WgmKey key;

    fake_peer_key(i, &key);
    fake_backend_set_peer(f->backend, &key, fake_clock_real(&f->mono), rx, tx);
}

/* Times (seconds after start) at which @i was kicked or re-created. */
static GArray *
kick_times(Fixture *f, guint i, GArray *times_of_transactions)
{
    GPtrArray *ts  = fake_backend_get_transactions(f->backend);
    GArray    *out = g_array_new(FALSE, FALSE, sizeof(double));
    WgmKey     key;

    fake_peer_key(i, &key);
    for (guint j = 0; j < ts->len; j++) {
        if (fake_transaction_count(ts->pdata[j], &key, FALSE, TRUE) > 0)
            g_array_append_val(out, g_array_index(times_of_transactions, double, j));
    }
    return out;
}

/* Records, per transaction, the fake time at which it was applied. */
static void
run_recording(Fixture *f, double until, GArray *times)
{
    GPtrArray *ts = fake_backend_get_transactions(f->backend);

    while ((double)(f->mono - MONO0) / SEC < until) {
        gint64 next = wgm_mesh_get_next_deadline(f->mesh);
        double now;

        if (next > AT(until))
            break;
        f->mono = MAX(f->mono, next);
        wgm_mesh_dispatch(f->mesh);
        fake_iterate();
        now = (double)(f->mono - MONO0) / SEC;
        while (times->len < ts->len)
            g_array_append_val(times, now);
    }
    f->mono = MAX(f->mono, AT(until));
}

static void
test_start_and_guard_schedule(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_config(3, 0, NULL, NULL);
    g_autoptr(GArray) times     = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) kicks     = NULL;
    FakeTransaction *first;
    WgmPeer         *p3;
    WgmKey           key;

    start_mesh(f, config);
    /* one transaction: everything, every eager peer asked to handshake */
    g_assert_cmpuint(fake_backend_get_transactions(f->backend)->len, ==, 1);
    first = fake_backend_get_transactions(f->backend)->pdata[0];
    g_assert_true(first->replace_peers);
    for (guint i = 1; i <= 3; i++) {
        fake_peer_key(i, &key);
        g_assert_cmpuint(fake_transaction_count(first, &key, FALSE, TRUE), ==, 1);
        g_assert_cmpint(peer_n(f, i)->state, ==, WGM_PEER_STATE_CONNECTING);
        g_assert_cmpuint(peer_n(f, i)->attempts, ==, 1);
    }
    g_array_append_val(times, (double){ 0 });

    /* peers 1 and 2 answer, 3 never does */
    handshake(f, 1, 92, 148);
    handshake(f, 2, 92, 148);
    run_recording(f, 0.5, times);
    g_assert_cmpint(peer_n(f, 1)->state, ==, WGM_PEER_STATE_CONNECTED);
    g_assert_cmpint(peer_n(f, 2)->state, ==, WGM_PEER_STATE_CONNECTED);
    p3 = peer_n(f, 3);
    g_assert_cmpint(p3->state, ==, WGM_PEER_STATE_CONNECTING);
    g_assert_null(p3->guard.backoff); /* still in its grace time */

    run_recording(f, 120, times);
    kicks = kick_times(f, 3, times);
    /* grace 3 s, then steps of 0.8, 1.6, 3.2 s moved onto WireGuard's 5 s
     * rhythm, then 6.4, 12.8, 25.6 s (±10 %), then 30 s + spread */
    g_assert_cmpuint(kicks->len, >=, 7);
    g_assert_cmpuint(kicks->len, <=, 9);
    g_assert_cmpfloat(g_array_index(kicks, double, 0), ==, 0);
    for (guint i = 1; i < kicks->len; i++) {
        double gap = g_array_index(kicks, double, i) - g_array_index(kicks, double, i - 1);

        g_assert_cmpfloat(gap, >=, 5.0); /* never inside REKEY_TIMEOUT */
        if (i >= 5)
            g_assert_cmpfloat(gap, >, 5.7); /* growing: 6.4 s and more */
    }
    g_assert_cmpfloat(g_array_index(kicks, double, 1), ==, 5.0);
    g_assert_cmpuint(p3->attempts, ==, kicks->len);
    g_assert_nonnull(p3->guard.backoff);
    /* NextRetry says when the next step is, on the wall clock */
    g_assert_cmpint(p3->next_retry, >, fake_clock_real(&f->mono));
    g_assert_cmpint(p3->next_retry / SEC, ==, (REAL0 + (p3->next_kick_mono - MONO0)) / SEC);
    /* the connected ones were left alone (no refresh before 125 s) */
    g_assert_cmpuint(kick_times(f, 1, times)->len, ==, 1);
    g_assert_cmpuint(f->n_changed_signals, >, 0);
}

static void
test_give_up_and_network_change(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_config(2, 2, WGM_PEER_FIELD_GIVE_UP_AFTER, "20");
    WgmPeer *p2;
    guint    n_before;

    start_mesh(f, config);
    handshake(f, 1, 92, 148);
    run_until(f, 60);
    p2 = peer_n(f, 2);
    g_assert_cmpint(p2->state, ==, WGM_PEER_STATE_IDLE);
    g_assert_true(p2->guard.gave_up);
    g_assert_nonnull(p2->last_error);
    g_assert_true(g_str_has_prefix(p2->last_error, "gave up after"));
    g_assert_cmpint(p2->next_kick_mono, ==, 0);
    g_assert_cmpint(peer_n(f, 1)->state, ==, WGM_PEER_STATE_CONNECTED);

    /* nothing more happens to it ... */
    n_before = fake_backend_get_transactions(f->backend)->len;
    run_until(f, 115);
    g_assert_cmpuint(fake_backend_get_transactions(f->backend)->len, ==, n_before);

    /* ... until the network changes: at once, in one transaction that also
     * re-checks the connected peer's path with a keepalive */
    wgm_mesh_network_changed(f->mesh, "test");
    g_assert_cmpint(p2->state, ==, WGM_PEER_STATE_CONNECTING);
    g_assert_cmpint(wgm_mesh_get_last_network_change(f->mesh), ==, fake_clock_real(&f->mono));
    wgm_mesh_dispatch(f->mesh);
    fake_iterate();
    {
        GPtrArray       *ts = fake_backend_get_transactions(f->backend);
        FakeTransaction *t  = ts->pdata[ts->len - 1];
        WgmKey           k1, k2;

        g_assert_cmpuint(ts->len, ==, n_before + 1);
        fake_peer_key(1, &k1);
        fake_peer_key(2, &k2);
        g_assert_cmpuint(fake_transaction_count(t, &k1, FALSE, TRUE), ==, 1);
        g_assert_cmpuint(fake_transaction_count(t, &k2, FALSE, TRUE), ==, 1);
    }
    g_assert_false(p2->guard.gave_up);
    g_assert_null(p2->guard.backoff);
}

/* A network change while a peer is deep in its backoff retries it at once,
 * re-creating it when WireGuard would drop a kick. */
static void
test_network_change_resets_backoff(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_config(1, 0, NULL, NULL);
    WgmPeer         *p;
    GPtrArray       *ts;
    FakeTransaction *t;
    WgmKey           k;
    gint64           step_before;

    start_mesh(f, config);
    run_until(f, 200);
    p = peer_n(f, 1);
    g_assert_nonnull(p->guard.backoff);
    step_before = p->next_kick_mono;
    g_assert_cmpint(step_before - f->mono, >, 0);

    /* let the kick be recent: a plain kick would be dropped by WireGuard */
    f->mono = p->guard.last_initiation + 2 * SEC;
    wgm_mesh_network_changed(f->mesh, "primary connection eth0 -> wlan0");
    g_assert_null(p->guard.backoff);
    g_assert_cmpint(wgm_mesh_get_next_deadline(f->mesh), ==, f->mono);
    wgm_mesh_dispatch(f->mesh);
    fake_iterate();
    ts = fake_backend_get_transactions(f->backend);
    t  = ts->pdata[ts->len - 1];
    fake_peer_key(1, &k);
    g_assert_cmpuint(fake_transaction_count(t, &k, TRUE, FALSE), ==, 1); /* removed ... */
    g_assert_cmpuint(fake_transaction_count(t, &k, FALSE, TRUE), ==, 1); /* ... and back */
    /* then a fresh grace time, and a backoff from scratch */
    g_assert_cmpint(p->next_kick_mono, ==, f->mono + WGM_GUARD_GRACE_USEC);
    handshake(f, 1, 92, 148);
    run_until(f, (double)(f->mono - MONO0) / SEC + 0.5);
    g_assert_cmpint(p->state, ==, WGM_PEER_STATE_CONNECTED);
    g_assert_cmpuint(p->attempts, ==, 0);
    g_assert_null(p->guard.backoff);
}

static void
test_dead_peer(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_config(2, 0, NULL, NULL);
    WgmPeer *p1, *p2;
    double   t;
    double   dead_at = -1;

    start_mesh(f, config);
    handshake(f, 1, 92, 148);
    handshake(f, 2, 92, 148);
    run_until(f, 1);
    p1 = peer_n(f, 1);
    p2 = peer_n(f, 2);
    g_assert_cmpint(p1->state, ==, WGM_PEER_STATE_CONNECTED);

    /* peer 1's path dies under traffic; peer 2 is idle except for one of
     * our keepalives, which is never answered */
    for (t = 2; t < 40; t += 1) {
        WgmKey k1;

        fake_peer_key(1, &k1);
        fake_backend_set_peer(f->backend, &k1, REAL0, 92, 148 + (guint64)(t * 100));
        if (t == 10)
            handshake(f, 2, 92, 148 + 32);
        run_until(f, t);
        if (p1->state != WGM_PEER_STATE_CONNECTED && dead_at < 0)
            dead_at = t;
    }
    g_assert_cmpfloat(dead_at, >=, 15);
    g_assert_cmpfloat(dead_at, <=, 22);
    g_assert_cmpint(p1->state, ==, WGM_PEER_STATE_CONNECTING);
    g_assert_nonnull(p1->last_error);
    g_assert_true(g_str_has_prefix(p1->last_error, "no reply"));
    g_assert_cmpuint(p1->attempts, >, 0);
    g_assert_cmpint(p2->state, ==, WGM_PEER_STATE_CONNECTED);
    /* the counters keep their history across the re-created peer */
    g_assert_cmpuint(p1->tx_bytes, >=, 148 + 3900);
}

static void
test_backend_restart(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_config(3, 0, NULL, NULL);
    WgmPeer         *before[3];
    GPtrArray       *ts;
    FakeTransaction *t;

    start_mesh(f, config);
    for (guint i = 1; i <= 3; i++) {
        handshake(f, i, 1000, 2000);
        before[i - 1] = peer_n(f, i);
    }
    run_until(f, 1);
    g_assert_cmpint(before[0]->state, ==, WGM_PEER_STATE_CONNECTED);

    fake_backend_die(f->backend, "wireguard-go was killed by signal 9");
    g_assert_null(f->failed);
    run_until(f, 3);
    g_assert_cmpuint(fake_backend_get_n_starts(f->backend), ==, 2);
    g_assert_cmpuint(wgm_mesh_get_backend_restarts(f->mesh), ==, 1);
    ts = fake_backend_get_transactions(f->backend);
    t  = ts->pdata[ts->len - 1];
    g_assert_true(t->replace_peers);
    g_assert_cmpuint(t->entries->len, ==, 3);
    g_assert_cmpint(t->listen_port, ==, 51820); /* the port the peers know */
    for (guint i = 1; i <= 3; i++) {
        g_assert_true(peer_n(f, i) == before[i - 1]); /* same objects */
        g_assert_cmpint(before[i - 1]->state, ==, WGM_PEER_STATE_CONNECTING);
        handshake(f, i, 50, 60);
    }
    run_until(f, 4);
    for (guint i = 0; i < 3; i++) {
        g_assert_cmpint(before[i]->state, ==, WGM_PEER_STATE_CONNECTED);
        g_assert_cmpuint(before[i]->rx_bytes, ==, 1050); /* history kept */
    }

    /* five deaths within a minute (this was the first): give up, say so */
    for (guint i = 0; i < 3; i++) {
        fake_backend_die(f->backend, "crash");
        run_until(f, (double)(f->mono - MONO0) / SEC + 10);
    }
    g_assert_null(f->failed);
    fake_backend_die(f->backend, "crash again");
    g_assert_nonnull(f->failed);
    g_assert_true(g_error_matches(f->failed, WGM_ERROR, WGM_ERROR_BACKEND));
    g_assert_nonnull(strstr(f->failed->message, "5 times"));
}

/* A peer set changed while a restarted wireguard-go is being given the
 * whole configuration (built before the change) is given again once that
 * is done: WireGuard does not keep a removed peer or miss a new one. */
static void
test_set_peers_during_restart(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_config(3, 0, NULL, NULL);
    g_autoptr(WgmConfig) next   = make_config(4, 0, NULL, NULL);
    GPtrArray       *ts         = NULL;
    FakeTransaction *t;
    WgmKey           k4;
    gboolean         has4 = FALSE;

    start_mesh(f, config);
    run_until(f, 1);
    fake_backend_hold_applies(f->backend);
    fake_backend_die(f->backend, "wireguard-go was killed by signal 9");
    run_until(f, 3);
    ts = fake_backend_get_transactions(f->backend);
    t  = ts->pdata[ts->len - 1];
    g_assert_true(t->replace_peers); /* the restart's, not answered yet */
    g_assert_cmpuint(t->entries->len, ==, 3);

    wgm_mesh_set_peers(f->mesh, next);
    g_assert_true(ts->pdata[ts->len - 1] == t);
    fake_backend_release_applies(f->backend);
    fake_iterate();
    t = ts->pdata[ts->len - 1];
    g_assert_true(t->replace_peers);
    g_assert_cmpuint(t->entries->len, ==, 4);
    fake_peer_key(4, &k4);
    for (guint i = 0; i < t->entries->len; i++)
        has4 |= wgm_key_equal(&g_array_index(t->entries, FakeEntry, i).public_key, &k4);
    g_assert_true(has4);
}

static void
test_set_peers_diff(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_config(3, 0, NULL, NULL);
    g_autoptr(WgmConfig) next   = NULL;
    WgmPeer         *p1;
    GPtrArray       *ts;
    FakeTransaction *t;
    WgmKey           k;
    guint            n_before;

    start_mesh(f, config);
    handshake(f, 1, 92, 148);
    run_until(f, 1);
    p1 = peer_n(f, 1);
    g_assert_cmpint(p1->state, ==, WGM_PEER_STATE_CONNECTED);

    /* 1 unchanged, 2 changed (keepalive), 3 gone, 4 new */
    {
        g_autoptr(NMSettingVpn) s = fake_vpn_setting_new();
        g_autoptr(GError) error   = NULL;

        add_peer_settings(s, 1, NULL, NULL);
        add_peer_settings(s, 2, WGM_PEER_FIELD_PERSISTENT_KEEPALIVE, "25");
        add_peer_settings(s, 4, NULL, NULL);
        next = wgm_config_new_from_setting(s, &error);
        g_assert_no_error(error);
    }
    n_before = fake_backend_get_transactions(f->backend)->len;
    wgm_mesh_set_peers(f->mesh, next);
    fake_iterate();
    /* the diff first, in one transaction (kicks for the new peer follow) */
    ts = fake_backend_get_transactions(f->backend);
    g_assert_cmpuint(ts->len, >=, n_before + 1);
    t = ts->pdata[n_before];
    g_assert_false(t->replace_peers);
    fake_peer_key(1, &k);
    g_assert_cmpuint(fake_transaction_count(t, &k, FALSE, FALSE), ==, 0);
    fake_peer_key(2, &k);
    g_assert_cmpuint(fake_transaction_count(t, &k, FALSE, FALSE), ==, 1);
    fake_peer_key(3, &k);
    g_assert_cmpuint(fake_transaction_count(t, &k, TRUE, FALSE), ==, 1);
    fake_peer_key(4, &k);
    g_assert_cmpuint(fake_transaction_count(t, &k, FALSE, FALSE), ==, 1);
    g_assert_cmpuint(t->entries->len, ==, 3);
    g_assert_cmpuint(f->n_added, ==, 1);
    g_assert_cmpuint(f->n_removed, ==, 1);
    g_assert_true(peer_n(f, 1) == p1);
    g_assert_cmpint(p1->state, ==, WGM_PEER_STATE_CONNECTED);
    g_assert_null(peer_n(f, 3));
    g_assert_cmpuint(peer_n(f, 2)->persistent_keepalive, ==, 25);
    g_assert_cmpuint(wgm_mesh_get_peers(f->mesh)->len, ==, 3);
    /* the new peer is asked to handshake at once */
    run_until(f, (double)(f->mono - MONO0) / SEC);
    fake_peer_key(4, &k);
    g_assert_cmpuint(ts->len, >, n_before + 1);
    g_assert_cmpuint(fake_transaction_count(ts->pdata[n_before + 1], &k, FALSE, TRUE), ==, 1);
    g_assert_cmpuint(peer_n(f, 4)->attempts, ==, 1);
}

/* 10,000 guards, one timer: the deadline is the earliest of them all, and a
 * dispatch takes exactly the peers that are due. */
static void
test_earliest_deadline_10000(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_config(10000, 0, NULL, NULL);
    GPtrArray *peers;
    gint64     earliest = G_MAXINT64;
    guint      n_due    = 0;
    GPtrArray *ts;

    start_mesh(f, config);
    /* the first steps all land on WireGuard's 5 s rhythm (5, 10, 15 s);
     * from the 6.4 s step on, jitter and spread set them apart */
    run_until(f, 16);
    peers = wgm_mesh_get_peers(f->mesh);
    for (guint i = 0; i < peers->len; i++) {
        const WgmPeer *p = peers->pdata[i];

        if (p->next_kick_mono)
            earliest = MIN(earliest, p->next_kick_mono);
    }
    g_assert_cmpint(earliest, >, f->mono);
    g_assert_cmpint(wgm_mesh_get_next_deadline(f->mesh), <=, earliest);
    /* step to the earliest peer deadline (polls may come first) */
    while (wgm_mesh_get_next_deadline(f->mesh) < earliest) {
        f->mono = wgm_mesh_get_next_deadline(f->mesh);
        wgm_mesh_dispatch(f->mesh);
        fake_iterate();
    }
    g_assert_cmpint(wgm_mesh_get_next_deadline(f->mesh), ==, earliest);
    f->mono = earliest;
    for (guint i = 0; i < peers->len; i++)
        n_due += ((const WgmPeer *)peers->pdata[i])->next_kick_mono == earliest;
    fake_backend_clear_transactions(f->backend);
    wgm_mesh_dispatch(f->mesh);
    fake_iterate();
    ts = fake_backend_get_transactions(f->backend);
    g_assert_cmpuint(ts->len, ==, 1);
    g_assert_cmpuint(((FakeTransaction *)ts->pdata[0])->entries->len, ==, n_due);
    /* the jitter and spread keep them apart: few share an instant */
    g_assert_cmpuint(n_due, <, 10);
}

static void
test_connect_peer(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_config(2, 0, NULL, NULL);
    g_autoptr(GError) error     = NULL;
    WgmKey   k;
    WgmPeer *p;

    start_mesh(f, config);
    run_until(f, 100);
    fake_peer_key(99, &k);
    g_assert_false(wgm_mesh_connect_peer(f->mesh, &k, &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_NOT_FOUND);

    fake_peer_key(2, &k);
    p = peer_n(f, 2);
    g_assert_nonnull(p->guard.backoff);
    g_assert_true(wgm_mesh_connect_peer(f->mesh, &k, NULL));
    g_assert_null(p->guard.backoff);
    g_assert_cmpint(wgm_mesh_get_next_deadline(f->mesh), ==, f->mono);
    g_assert_cmpint(peer_n(f, 1)->next_kick_mono, !=, f->mono); /* only that one */
}

/* ---- lazy connections ---------------------------------------------------- */

/* @n lazy peers (lazy-connections=yes, inactivity-timeout 10 s), peer
 * @eager (if not 0) with its own peer.N.lazy=no. */
static WgmConfig *
make_lazy_config(guint n, guint eager)
{
    g_autoptr(NMSettingVpn) s = fake_vpn_setting_new();
    g_autoptr(GError) error   = NULL;
    WgmConfig *config;

    nm_setting_vpn_add_data_item(s, WGM_KEY_LAZY_CONNECTIONS, "yes");
    nm_setting_vpn_add_data_item(s, WGM_KEY_INACTIVITY_TIMEOUT, "10");
    for (guint i = 1; i <= n; i++)
        add_peer_settings(s, i, i == eager ? WGM_PEER_FIELD_LAZY : NULL, "no");
    config = wgm_config_new_from_setting(s, &error);
    g_assert_no_error(error);
    return config;
}

static gboolean
is_lazy_endpoint(const FakeEntry *e)
{
    return e->has_endpoint && e->endpoint.addr.family == AF_INET
           && (ntohl(e->endpoint.addr.addr4) >> 16) == 0x7f4d; /* 127.77.0.0/16 */
}

/* The last entry for peer @i in transaction @t, NULL if none. */
static const FakeEntry *
last_entry(const FakeTransaction *t, guint i)
{
    const FakeEntry *found = NULL;
    WgmKey           key;

    fake_peer_key(i, &key);
    for (guint j = 0; j < t->entries->len; j++) {
        const FakeEntry *e = &g_array_index(t->entries, FakeEntry, j);

        if (wgm_key_equal_func(&e->public_key, &key))
            found = e;
    }
    return found;
}

static const FakeTransaction *
last_transaction(Fixture *f)
{
    GPtrArray *ts = fake_backend_get_transactions(f->backend);

    g_assert_cmpuint(ts->len, >, 0);
    return ts->pdata[ts->len - 1];
}

/* Lazy peers start parked: their endpoint a distinct 127.77.x.y, never
 * kicked; the eager one is kicked with its real endpoint. */
static void
test_lazy_parked_at_start(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_lazy_config(3, 2);
    const FakeTransaction *t;
    const FakeEntry       *e1, *e2, *e3;
    GPtrArray             *ts;
    WgmKey                 k1;

    start_mesh(f, config);
    ts = fake_backend_get_transactions(f->backend);
    t  = ts->pdata[0];
    e1 = last_entry(t, 1);
    e2 = last_entry(t, 2);
    e3 = last_entry(t, 3);
    g_assert_true(is_lazy_endpoint(e1));
    g_assert_true(is_lazy_endpoint(e3));
    g_assert_false(wgm_endpoint_equal(&e1->endpoint, &e3->endpoint));
    g_assert_cmpuint(e1->endpoint.port, ==, e3->endpoint.port);
    g_assert_false(e1->kick);
    g_assert_false(is_lazy_endpoint(e2));
    g_assert_true(e2->kick);
    g_assert_cmpint(peer_n(f, 1)->state, ==, WGM_PEER_STATE_IDLE);
    g_assert_cmpint(peer_n(f, 2)->state, ==, WGM_PEER_STATE_CONNECTING);
    g_assert_true(wgm_mesh_get_lazy_connections(f->mesh));
    g_assert_cmpuint(wgm_mesh_get_inactivity_timeout(f->mesh), ==, 10);

    /* A minute later nobody has asked anything of peers 1 and 3. */
    run_until(f, 60);
    fake_peer_key(1, &k1);
    for (guint j = 0; j < ts->len; j++)
        g_assert_cmpuint(fake_transaction_count(ts->pdata[j], &k1, FALSE, TRUE), ==, 0);
    g_assert_cmpint(peer_n(f, 1)->state, ==, WGM_PEER_STATE_IDLE);
    g_assert_cmpint(peer_n(f, 3)->next_kick_mono, ==, 0);
}

/* A peer's real endpoint inside the lazy range (127.77.0.0/16) is never
 * handed out as a lazy peer's address. */
static void
test_lazy_reserved_endpoint(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s   = fake_vpn_setting_new();
    g_autoptr(WgmConfig) config = NULL;
    WgmKey                 key;
    char                   b64[WGM_KEY_B64_LEN + 1];
    const FakeTransaction *t;

    nm_setting_vpn_add_data_item(s, WGM_KEY_LAZY_CONNECTIONS, "yes");
    add_peer_settings(s, 1, NULL, NULL);
    fake_peer_key(2, &key);
    wgm_key_to_base64(&key, b64);
    nm_setting_vpn_add_data_item(s, "peer.2.public-key", b64);
    nm_setting_vpn_add_data_item(s, "peer.2.endpoint", "127.77.0.1:51820");
    nm_setting_vpn_add_data_item(s, "peer.2.allowed-ips", "10.99.0.2/32");
    config = wgm_config_new_from_setting(s, NULL);
    g_assert_nonnull(config);
    start_mesh(f, config);
    t = fake_backend_get_transactions(f->backend)->pdata[0];
    for (guint i = 1; i <= 2; i++) {
        const FakeEntry *e = last_entry(t, i);

        g_assert_true(is_lazy_endpoint(e));
        g_assert_cmpuint(ntohl(e->endpoint.addr.addr4), !=, 0x7f4d0001);
    }
}

/* A woken lazy peer stays while its counters move beyond keepalives, and is
 * parked (re-created on its loopback address) once they stand still for the
 * inactivity timeout. */
static void
test_lazy_inactivity(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_lazy_config(2, 0);
    const FakeEntry *e;
    WgmPeer         *p;
    WgmKey           k;
    guint64          rx = 240, tx = 276;

    start_mesh(f, config);
    p = peer_n(f, 1);
    fake_peer_key(1, &k);
    g_assert_true(wgm_mesh_connect_peer(f->mesh, &k, NULL)); /* awake without traffic */
    g_assert_false(p->parked);
    run_until(f, 1);
    e = last_entry(last_transaction(f), 1);
    g_assert_nonnull(e);
    g_assert_false(is_lazy_endpoint(e));
    g_assert_true(e->has_endpoint);

    /* Traffic for 30 s (a handshake, then 1 kB every 5 s). */
    handshake(f, 1, rx, tx);
    for (double t = 2; t <= 30; t += 5) {
        run_until(f, t);
        rx += 1000;
        tx += 1000;
        fake_backend_set_peer(f->backend, &k, FAKE_REAL0 + AT(2) - MONO0, rx, tx);
    }
    /* The last traffic was seen by the poll after 27 s (polls come every
     * 2 s while traffic flows); a keepalive at 35 s (32 bytes each way) is
     * not traffic, so it is idle 10 s after that poll, not after 35 s. */
    run_until(f, 35);
    g_assert_cmpint(p->state, ==, WGM_PEER_STATE_CONNECTED);
    fake_backend_set_peer(f->backend, &k, FAKE_REAL0 + AT(2) - MONO0, rx + 32, tx + 32);
    run_until(f, 38);
    g_assert_cmpint(p->state, ==, WGM_PEER_STATE_CONNECTED);
    g_assert_false(p->parked);
    run_until(f, 42);
    g_assert_cmpint(p->state, ==, WGM_PEER_STATE_IDLE);
    g_assert_true(p->parked);
    e = last_entry(last_transaction(f), 1);
    g_assert_true(is_lazy_endpoint(e));
    g_assert_cmpuint(fake_transaction_count(last_transaction(f), &k, TRUE, FALSE), ==, 1);
    g_assert_cmpint(peer_n(f, 2)->state, ==, WGM_PEER_STATE_IDLE);
}

/* The toggles: off connects every peer that follows the mesh (kicked with
 * its real endpoint); on parks those not connected and leaves a live one;
 * a peer's own override is not moved by the mesh's toggle. */
static void
test_lazy_toggle(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_lazy_config(3, 0);
    g_autoptr(GError) error     = NULL;
    const FakeTransaction *t;
    WgmKey                 k3;
    guint                  n_changed;

    start_mesh(f, config);
    fake_peer_key(3, &k3);
    g_assert_true(wgm_mesh_set_peer_lazy(f->mesh, &k3, TRUE, NULL)); /* its own, same value */
    n_changed = f->n_changed_signals;
    g_assert_true(wgm_mesh_set_lazy_connections(f->mesh, FALSE, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(f->n_changed_signals, >, n_changed);
    g_assert_false(wgm_mesh_get_lazy_connections(f->mesh));
    g_assert_false(peer_n(f, 1)->lazy);
    g_assert_true(peer_n(f, 3)->lazy);
    g_assert_cmpint(peer_n(f, 1)->state, ==, WGM_PEER_STATE_CONNECTING);
    g_assert_cmpint(peer_n(f, 3)->state, ==, WGM_PEER_STATE_IDLE);
    wgm_mesh_dispatch(f->mesh);
    fake_iterate();
    t = last_transaction(f);
    g_assert_true(last_entry(t, 1)->kick);
    g_assert_true(last_entry(t, 1)->has_endpoint);
    g_assert_false(is_lazy_endpoint(last_entry(t, 1)));
    g_assert_null(last_entry(t, 3));

    /* Peer 1 connects, peer 2 does not; lazy again: 2 is parked, 1 stays. */
    handshake(f, 1, 92, 148);
    run_until(f, 2);
    g_assert_cmpint(peer_n(f, 1)->state, ==, WGM_PEER_STATE_CONNECTED);
    g_assert_true(wgm_mesh_set_lazy_connections(f->mesh, TRUE, NULL));
    g_assert_cmpint(peer_n(f, 1)->state, ==, WGM_PEER_STATE_CONNECTED);
    g_assert_cmpint(peer_n(f, 2)->state, ==, WGM_PEER_STATE_IDLE);
    fake_iterate();
    t = last_transaction(f);
    g_assert_true(is_lazy_endpoint(last_entry(t, 2)));
    g_assert_null(last_entry(t, 1));

    /* The timeout's range. */
    g_assert_false(wgm_mesh_set_inactivity_timeout(f->mesh, 0, &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
    g_clear_error(&error);
    g_assert_false(
        wgm_mesh_set_inactivity_timeout(f->mesh, WGM_MAX_INACTIVITY_TIMEOUT + 1, &error));
    g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
    g_assert_true(wgm_mesh_set_inactivity_timeout(f->mesh, 120, NULL));
    g_assert_cmpuint(wgm_mesh_get_inactivity_timeout(f->mesh), ==, 120);
}

/* A lazy peer whose activation fails is guarded like any Connecting peer,
 * and after giving up it is parked, Idle until traffic. */
static void
test_lazy_give_up(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s   = fake_vpn_setting_new();
    g_autoptr(WgmConfig) config = NULL;
    WgmPeer *p;
    WgmKey   k;

    nm_setting_vpn_add_data_item(s, WGM_KEY_LAZY_CONNECTIONS, "yes");
    add_peer_settings(s, 1, WGM_PEER_FIELD_GIVE_UP_AFTER, "20");
    config = wgm_config_new_from_setting(s, NULL);
    g_assert_nonnull(config);
    start_mesh(f, config);
    p = peer_n(f, 1);
    fake_peer_key(1, &k);
    g_assert_true(wgm_mesh_connect_peer(f->mesh, &k, NULL));
    run_until(f, 10);
    g_assert_cmpint(p->state, ==, WGM_PEER_STATE_CONNECTING);
    g_assert_cmpuint(p->attempts, >=, 2);
    run_until(f, 60);
    g_assert_cmpint(p->state, ==, WGM_PEER_STATE_IDLE);
    g_assert_true(p->parked);
    g_assert_true(g_str_has_suffix(p->last_error, "idle until the next packet for it"));
    g_assert_true(is_lazy_endpoint(last_entry(last_transaction(f), 1)));
    g_assert_cmpint(p->next_kick_mono, ==, 0);
}

/* NextRetry (which D-Bus signals at most as often as it changes) changes
 * once per retry: a step put off to the end of WireGuard's rate limit
 * shows that end from the start, not first its own time. */
static void
test_next_retry_once_per_retry(Fixture *f, gconstpointer data)
{
    g_autoptr(WgmConfig) config = make_config(1, 0, NULL, NULL);
    WgmPeer *p;
    gint64   next_retry;
    guint    attempts, n_retry_changes = 0, n_retries = 0;

    start_mesh(f, config);
    p          = peer_n(f, 1);
    next_retry = p->next_retry;
    attempts   = p->attempts;
    g_assert_cmpint(next_retry, ==, REAL0 + 5 * SEC); /* WireGuard's 5 s, not the 3 s grace */
    while (f->mono < AT(180)) {
        f->mono = MAX(f->mono, wgm_mesh_get_next_deadline(f->mesh));
        wgm_mesh_dispatch(f->mesh);
        fake_iterate();
        n_retry_changes += p->next_retry != next_retry;
        n_retries += p->attempts != attempts;
        next_retry = p->next_retry;
        attempts   = p->attempts;
    }
    g_test_message(
        "180 s unanswered: %u retries, NextRetry changed %u times", n_retries, n_retry_changes);
    g_assert_cmpuint(n_retries, >=, 8);
    g_assert_cmpuint(n_retry_changes, ==, n_retries);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);
    g_setenv(WGM_ENV_TEST_INACTIVITY_MIN, "1", TRUE);
    /* The mesh warns about crashes and refused transactions, which these
     * tests cause on purpose; criticals stay fatal. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, NULL, fn, fixture_teardown)
    ADD("/mesh/start-and-guard-schedule", test_start_and_guard_schedule);
    ADD("/mesh/give-up-and-network-change", test_give_up_and_network_change);
    ADD("/mesh/network-change-resets-backoff", test_network_change_resets_backoff);
    ADD("/mesh/dead-peer", test_dead_peer);
    ADD("/mesh/backend-restart", test_backend_restart);
    ADD("/mesh/set-peers-diff", test_set_peers_diff);
    ADD("/mesh/set-peers-during-restart", test_set_peers_during_restart);
    ADD("/mesh/earliest-deadline-10000", test_earliest_deadline_10000);
    ADD("/mesh/connect-peer", test_connect_peer);
    ADD("/mesh/next-retry-once-per-retry", test_next_retry_once_per_retry);
    ADD("/mesh/lazy/parked-at-start", test_lazy_parked_at_start);
    ADD("/mesh/lazy/reserved-endpoint", test_lazy_reserved_endpoint);
    ADD("/mesh/lazy/inactivity", test_lazy_inactivity);
    ADD("/mesh/lazy/toggle", test_lazy_toggle);
    ADD("/mesh/lazy/give-up", test_lazy_give_up);
    return g_test_run();
}
