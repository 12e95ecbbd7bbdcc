/* SPDX-License-Identifier: GPL-2.0-or-later */
/* State derivation of a peer from what WireGuard reports, without sleeping:
 * every function takes "now" explicitly. */
#include "config.h"

#include "wgm-peer.h"

#define SEC G_USEC_PER_SEC
#define T0  ((gint64)1700000000 * SEC)

typedef struct {
    WgmConfig     config;
    WgmPeerConfig pc;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    WgmIpPrefix p = { 0 };

    f->config.peers = g_ptr_array_new();
    g_ptr_array_add(f->config.peers, &f->pc);
    f->config.lazy_connections = GPOINTER_TO_INT(data);

    f->pc.index = 7;
    memset(f->pc.public_key.bytes, 0x42, WGM_KEY_LEN);
    f->pc.name        = "alpha";
    f->pc.lazy        = -1;
    f->pc.allowed_ips = g_array_new(FALSE, FALSE, sizeof(WgmIpPrefix));
    g_assert_true(wgm_ip_prefix_parse("10.77.0.2/32", FALSE, &p, NULL));
    g_array_append_val(f->pc.allowed_ips, p);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    g_array_unref(f->pc.allowed_ips);
    g_ptr_array_unref(f->config.peers);
}

static WgmPeerStats
stats_with_handshake(const WgmPeer *peer, gint64 handshake)
{
    WgmPeerStats s = { 0 };

    s.public_key          = peer->public_key;
    s.last_handshake_usec = handshake;
    s.rx_bytes            = 92;
    s.tx_bytes            = 148;
    return s;
}

static void
test_initial_states(Fixture *f, gconstpointer data)
{
    WgmPeer *peer = wgm_peer_new(&f->config, &f->pc, T0);

    g_assert_cmpuint(peer->object_id, ==, 7);
    g_assert_cmpstr(peer->name, ==, "alpha");
    g_assert_cmpuint(peer->allowed_ips->len, ==, 1);
    g_assert_true(peer->dirty);
    g_assert_cmpint(peer->state_since, ==, T0);
    if (f->config.lazy_connections) {
        g_assert_true(peer->lazy);
        g_assert_false(peer->wanted);
        g_assert_cmpint(peer->state, ==, WGM_PEER_STATE_IDLE);
    } else {
        g_assert_false(peer->lazy);
        g_assert_true(peer->wanted);
        g_assert_cmpint(peer->state, ==, WGM_PEER_STATE_CONNECTING);
    }
    wgm_peer_free(peer);
}

static void
test_per_peer_lazy_override(Fixture *f, gconstpointer data)
{
    WgmPeer *peer;

    f->pc.lazy = 1; /* lazy-connections=no, but this peer is lazy */
    peer       = wgm_peer_new(&f->config, &f->pc, T0);
    g_assert_true(peer->lazy);
    g_assert_cmpint(peer->state, ==, WGM_PEER_STATE_IDLE);
    wgm_peer_free(peer);
}

/* A moment d seconds into the test on both clocks: the wall clock (what
 * WireGuard reports and D-Bus shows) and the monotonic one (what is
 * compared and scheduled).  They start far apart on purpose. */
#define M0   ((gint64)1000 * SEC)
#define R(d) (T0 + (gint64)((d)*SEC))
#define M(d) (M0 + (gint64)((d)*SEC))

static void
report(WgmPeer *peer, gint64 handshake_real, double now_d)
{
    WgmPeerStats s = stats_with_handshake(peer, handshake_real);

    wgm_peer_update_from_stats(peer, &s, R(now_d), M(now_d));
}

static void
test_handshake_after_attempt_connects(Fixture *f, gconstpointer data)
{
    WgmPeer *peer = wgm_peer_new(&f->config, &f->pc, R(0));

    wgm_peer_kicked(peer, M(0));
    wgm_peer_kicked(peer, M(90)); /* a retry keeps the attempt's start */
    g_assert_cmpuint(peer->attempts, ==, 2);
    g_assert_cmpint(peer->attempt_since, ==, M(0));

    /* Nothing yet: stays Connecting, no state change to report. */
    g_assert_false(wgm_peer_update_state(peer, R(91), M(91)));
    g_assert_cmpint(peer->state, ==, WGM_PEER_STATE_CONNECTING);

    peer->dirty = FALSE;
    report(peer, R(91), 91.5);
    g_assert_true(peer->dirty);
    g_assert_cmpint(peer->last_handshake, ==, R(91));
    g_assert_cmpint(peer->handshake_mono, ==, M(91));
    g_assert_true(wgm_peer_update_state(peer, R(92), M(92)));
    g_assert_cmpint(peer->state, ==, WGM_PEER_STATE_CONNECTED);
    g_assert_cmpint(peer->state_since, ==, R(92));
    /* Success ends the attempt. */
    g_assert_cmpuint(peer->attempts, ==, 0);
    g_assert_cmpint(peer->attempt_since, ==, 0);
    g_assert_cmpint(peer->next_retry, ==, 0);

    /* The same report again changes nothing. */
    peer->dirty = FALSE;
    report(peer, R(91), 93);
    g_assert_false(peer->dirty);
    g_assert_cmpint(peer->handshake_mono, ==, M(91));
    wgm_peer_free(peer);
}

static void
test_old_handshake_does_not_count(Fixture *f, gconstpointer data)
{
    WgmPeer *peer = wgm_peer_new(&f->config, &f->pc, R(0));

    /* A handshake that predates the current attempt is what the attempt
     * replaces (a peer that went silent): not Connected. */
    report(peer, R(10), 15);
    wgm_peer_kicked(peer, M(20));
    g_assert_cmpint(wgm_peer_derive_state(peer, M(21)), ==, WGM_PEER_STATE_CONNECTING);

    report(peer, R(20), 21);
    g_assert_cmpint(wgm_peer_derive_state(peer, M(21)), ==, WGM_PEER_STATE_CONNECTED);
    wgm_peer_free(peer);
}

static void
test_handshake_expires(Fixture *f, gconstpointer data)
{
    WgmPeer     *peer = wgm_peer_new(&f->config, &f->pc, R(0));
    WgmPeerState expired =
        f->config.lazy_connections ? WGM_PEER_STATE_IDLE : WGM_PEER_STATE_CONNECTING;
    gint64 stale = M(0) + WGM_REJECT_AFTER_USEC + WGM_STALE_MARGIN_USEC;

    /* Not yet Connected: a handshake past WireGuard's reject-after time does
     * not make it so. */
    report(peer, R(0), 1);
    g_assert_cmpint(wgm_peer_derive_state(peer, M(0) + WGM_REJECT_AFTER_USEC), ==, peer->state);

    g_assert_true(wgm_peer_update_state(peer, R(1), M(1)));
    g_assert_cmpint(peer->state, ==, WGM_PEER_STATE_CONNECTED);

    /* Connected stays so for the margin past reject-after (its refresh is
     * under way), then ends. */
    g_assert_cmpint(wgm_peer_derive_state(peer, stale - 1), ==, WGM_PEER_STATE_CONNECTED);
    g_assert_cmpint(wgm_peer_derive_state(peer, stale), ==, expired);
    g_assert_true(wgm_peer_update_state(peer, R(400), stale));
    g_assert_cmpint(peer->state, ==, expired);
    g_assert_cmpint(peer->state_since, ==, R(400));
    wgm_peer_free(peer);
}

/* The wall clock steps (NTP, a wrong RTC at boot): freshness does not. */
static void
test_clock_steps(Fixture *f, gconstpointer data)
{
    WgmPeer *peer = wgm_peer_new(&f->config, &f->pc, R(0));
    gint64   back = (gint64)3600 * SEC;

    /* Reported 10 s after it happened: 10 s ago on the monotonic clock. */
    report(peer, R(0), 10);
    g_assert_cmpint(peer->handshake_mono, ==, M(0));
    g_assert_true(wgm_peer_update_state(peer, R(10), M(10)));

    /* The wall clock jumps an hour back: the peer still goes stale 180 s
     * (plus the margin) after the handshake, by the monotonic clock. */
    g_assert_cmpint(wgm_peer_derive_state(peer, M(100)), ==, WGM_PEER_STATE_CONNECTED);
    g_assert_cmpint(
        wgm_peer_derive_state(peer, M(0) + WGM_REJECT_AFTER_USEC + WGM_STALE_MARGIN_USEC),
        !=,
        WGM_PEER_STATE_CONNECTED);

    /* A handshake reported "in the future" (the clock went back between
     * the handshake and the poll) happened now at the latest. */
    {
        WgmPeerStats s = stats_with_handshake(peer, R(20));

        wgm_peer_update_from_stats(peer, &s, R(21) - back, M(21));
        g_assert_cmpint(peer->handshake_mono, ==, M(21));
    }
    wgm_peer_free(peer);
}

/* The guard's schedule. */
static void
test_next_kick(Fixture *f, gconstpointer data)
{
    WgmPeer *peer = wgm_peer_new(&f->config, &f->pc, R(0));

    /* No endpoint: nothing to kick. */
    g_assert_cmpint(wgm_peer_next_kick(peer, M(0)), ==, 0);
    peer->endpoint_host = g_strdup("10.200.1.2");
    peer->endpoint_port = 51820;
    wgm_peer_set_literal_endpoint(peer);
    g_assert_true(peer->has_endpoint);
    g_assert_true(peer->endpoint_pending);

    /* Connecting: the guard decides (grace time after the attempt began,
     * then its backoff steps); polls never push it back. */
    wgm_peer_begin_attempt(peer, M(0), FALSE);
    wgm_peer_kicked(peer, M(0));
    g_assert_cmpint(wgm_peer_next_kick(peer, M(1)), ==, M(0) + WGM_GUARD_GRACE_USEC);
    g_assert_cmpint(wgm_peer_next_kick(peer, M(2)), ==, M(0) + WGM_GUARD_GRACE_USEC);
    /* an urgent retry (network change) is due at once */
    wgm_peer_begin_attempt(peer, M(2), TRUE);
    g_assert_cmpint(wgm_peer_next_kick(peer, M(2)), ==, M(2));
    g_assert_cmpint(peer->attempt_since, ==, M(0)); /* the same attempt */

    /* Connected at 2 s: refresh at 125 s, then (if nothing new) at 181 s;
     * a refresh is not an attempt. */
    report(peer, R(2), 3);
    g_assert_true(wgm_peer_update_state(peer, R(3), M(3)));
    g_assert_cmpint(peer->state, ==, WGM_PEER_STATE_CONNECTED);
    g_assert_cmpint(wgm_peer_next_kick(peer, M(3)), ==, M(2) + WGM_REFRESH_FIRST_USEC);
    wgm_peer_kicked(peer, M(127));
    g_assert_cmpuint(peer->attempts, ==, 0);
    g_assert_cmpint(peer->attempt_since, ==, 0);
    g_assert_cmpint(wgm_peer_next_kick(peer, M(128)), ==, M(2) + WGM_REFRESH_AFTER_EXPIRY_USEC);
    wgm_peer_kicked(peer, M(183));
    g_assert_cmpint(wgm_peer_next_kick(peer, M(184)), ==, 0);   /* expiry: Connecting next */
    g_assert_cmpint(peer->state, ==, WGM_PEER_STATE_CONNECTED); /* derived state unchanged */
    /* a network change re-checks a Connected peer's path at once */
    peer->recheck = TRUE;
    g_assert_cmpint(wgm_peer_next_kick(peer, M(184)), ==, M(184));
    peer->recheck = FALSE;

    /* A new handshake starts the refresh schedule over. */
    report(peer, R(184), 185);
    g_assert_cmpint(wgm_peer_next_kick(peer, M(185)), ==, M(184) + WGM_REFRESH_FIRST_USEC);

    /* Lazy and not woken: never kicked. */
    peer->wanted = FALSE;
    g_assert_cmpint(wgm_peer_next_kick(peer, M(185)), ==, 0);
    wgm_peer_free(peer);
}

static void
test_never_handshaken(Fixture *f, gconstpointer data)
{
    WgmPeer *peer = wgm_peer_new(&f->config, &f->pc, T0);

    /* last_handshake 0 is "never", however small "now" is. */
    g_assert_cmpint(wgm_peer_derive_state(peer, 1 * SEC),
                    ==,
                    f->config.lazy_connections ? WGM_PEER_STATE_IDLE : WGM_PEER_STATE_CONNECTING);
    wgm_peer_free(peer);
}

static void
test_endpoint_and_counters(Fixture *f, gconstpointer data)
{
    WgmPeer     *peer = wgm_peer_new(&f->config, &f->pc, T0);
    WgmPeerStats s    = stats_with_handshake(peer, 0);

    peer->dirty    = FALSE;
    s.has_endpoint = TRUE;
    g_assert_true(wgm_endpoint_parse("10.200.1.2:51820", &s.endpoint, NULL));
    wgm_peer_update_from_stats(peer, &s, R(1), M(1));
    g_assert_true(peer->dirty);
    g_assert_true(peer->has_reported_endpoint);
    g_assert_cmpuint(peer->rx_bytes, ==, 92);

    /* Roaming to a new port is a change. */
    s.endpoint.port = 51821;
    peer->dirty     = FALSE;
    wgm_peer_update_from_stats(peer, &s, R(2), M(2));
    g_assert_true(peer->dirty);
    g_assert_cmpuint(peer->reported_endpoint.port, ==, 51821);

    s.tx_bytes += 32;
    peer->dirty = FALSE;
    wgm_peer_update_from_stats(peer, &s, R(3), M(3));
    g_assert_true(peer->dirty);
    g_assert_cmpuint(peer->tx_bytes, ==, 180);

    /* WireGuard forgot the peer (re-created, restarted): its counters start
     * again at 0, ours keep the history. */
    s.rx_bytes = 10;
    s.tx_bytes = 20;
    wgm_peer_update_from_stats(peer, &s, R(4), M(4));
    g_assert_cmpuint(peer->rx_bytes, ==, 102);
    g_assert_cmpuint(peer->tx_bytes, ==, 200);
    s.rx_bytes = 15;
    wgm_peer_update_from_stats(peer, &s, R(5), M(5));
    g_assert_cmpuint(peer->rx_bytes, ==, 107);
    wgm_peer_free(peer);
}

static void
test_error_and_strings(Fixture *f, gconstpointer data)
{
    WgmPeer *peer = wgm_peer_new(&f->config, &f->pc, T0);

    peer->dirty = FALSE;
    wgm_peer_set_error(peer, "endpoint: cannot resolve \"x\"");
    g_assert_true(peer->dirty);
    peer->dirty = FALSE;
    wgm_peer_set_error(peer, "endpoint: cannot resolve \"x\"");
    g_assert_false(peer->dirty);

    g_assert_cmpstr(wgm_peer_state_to_string(WGM_PEER_STATE_IDLE), ==, "idle");
    g_assert_cmpstr(wgm_peer_state_to_string(WGM_PEER_STATE_CONNECTING), ==, "connecting");
    g_assert_cmpstr(wgm_peer_state_to_string(WGM_PEER_STATE_CONNECTED), ==, "connected");
    wgm_peer_free(peer);
}

static void
test_fill_update(Fixture *f, gconstpointer data)
{
    WgmPeer *peer                     = wgm_peer_new(&f->config, &f->pc, T0);
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
    WgmPeerUpdate *pu;

    peer->has_endpoint = TRUE;
    g_assert_true(wgm_endpoint_parse("[fd00::2]:51820", &peer->endpoint, NULL));
    peer->persistent_keepalive = 25;
    pu                         = wgm_device_update_add_peer(update, &peer->public_key);
    wgm_peer_fill_update(peer, pu);
    g_assert_true(wgm_key_equal(&pu->public_key, &peer->public_key));
    g_assert_true(pu->has_endpoint);
    g_assert_true(wgm_endpoint_equal(&pu->endpoint, &peer->endpoint));
    g_assert_cmpuint(pu->persistent_keepalive, ==, 25);
    g_assert_true(pu->replace_allowed_ips);
    g_assert_cmpuint(pu->allowed_ips->len, ==, 1);
    g_assert_false(pu->has_preshared_key);
    g_assert_false(pu->kick);
    wgm_peer_free(peer);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);

#define ADD(path, fn, lazy) \
    g_test_add(path, Fixture, GINT_TO_POINTER(lazy), fixture_setup, fn, fixture_teardown)
    ADD("/peer/eager/initial", test_initial_states, FALSE);
    ADD("/peer/lazy/initial", test_initial_states, TRUE);
    ADD("/peer/lazy/per-peer-override", test_per_peer_lazy_override, FALSE);
    ADD("/peer/eager/handshake-after-attempt", test_handshake_after_attempt_connects, FALSE);
    ADD("/peer/eager/old-handshake", test_old_handshake_does_not_count, FALSE);
    ADD("/peer/eager/expires", test_handshake_expires, FALSE);
    ADD("/peer/lazy/expires", test_handshake_expires, TRUE);
    ADD("/peer/eager/never", test_never_handshaken, FALSE);
    ADD("/peer/lazy/never", test_never_handshaken, TRUE);
    ADD("/peer/eager/next-kick", test_next_kick, FALSE);
    ADD("/peer/eager/clock-steps", test_clock_steps, FALSE);
    ADD("/peer/stats", test_endpoint_and_counters, FALSE);
    ADD("/peer/error-and-strings", test_error_and_strings, FALSE);
    ADD("/peer/fill-update", test_fill_update, FALSE);
#undef ADD

    return g_test_run();
}
