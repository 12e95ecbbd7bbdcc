/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-peer.h"

WgmPeer *
wgm_peer_new(const WgmConfig *config, const WgmPeerConfig *pc, gint64 now)
{
    WgmPeer  *peer = g_new0(WgmPeer, 1);
    char      b64[WGM_KEY_B64_LEN + 1];
    WgmIpAddr literal;

    peer->public_key = pc->public_key;
    wgm_key_to_short(&peer->public_key, peer->short_key);
    wgm_key_to_base64(&peer->public_key, b64);
    peer->public_key_b64   = g_strdup(b64);
    peer->name             = g_strdup(pc->name);
    peer->object_id        = pc->index;
    peer->endpoint_host    = g_strdup(pc->endpoint_host);
    peer->endpoint_port    = pc->endpoint_port;
    peer->endpoint_is_name = pc->endpoint_host && !wgm_ip_addr_parse(pc->endpoint_host, &literal);
    peer->persistent_keepalive = pc->persistent_keepalive;
    peer->has_preshared_key    = pc->has_preshared_key;
    if (pc->has_preshared_key)
        peer->preshared_key = pc->preshared_key;
    peer->lazy          = wgm_peer_config_is_lazy(config, pc);
    peer->lazy_override = pc->lazy;
    peer->give_up_after = (gint64)wgm_peer_config_give_up_after(config, pc) * G_USEC_PER_SEC;
    peer->wanted        = !peer->lazy;
    peer->allowed_ips = g_array_sized_new(FALSE, FALSE, sizeof(WgmIpPrefix), pc->allowed_ips->len);
    g_array_append_vals(peer->allowed_ips, pc->allowed_ips->data, pc->allowed_ips->len);

    peer->state       = peer->wanted ? WGM_PEER_STATE_CONNECTING : WGM_PEER_STATE_IDLE;
    peer->state_since = now;
    peer->dirty       = TRUE;
    return peer;
}

void
wgm_peer_free(WgmPeer *peer)
{
    if (!peer)
        return;
    wgm_key_wipe(&peer->preshared_key);
    wgm_guard_clear(&peer->guard);
    g_free(peer->public_key_b64);
    g_free(peer->name);
    g_free(peer->endpoint_host);
    g_free(peer->last_error);
    g_clear_pointer(&peer->resolved, g_array_unref);
    g_array_unref(peer->allowed_ips);
    g_free(peer);
}

const char *
wgm_peer_state_to_string(WgmPeerState state)
{
    switch (state) {
    case WGM_PEER_STATE_IDLE:
        return "idle";
    case WGM_PEER_STATE_CONNECTING:
        return "connecting";
    case WGM_PEER_STATE_CONNECTED:
        return "connected";
    }
    g_return_val_if_reached("idle");
}

gboolean
wgm_peer_has_session(const WgmPeer *peer, gint64 now_mono)
{
    return peer->handshake_mono > 0 && now_mono - peer->handshake_mono < WGM_REJECT_AFTER_USEC;
}

static gboolean
handshake_is_fresh(const WgmPeer *peer, gint64 now_mono)
{
    gint64 limit = WGM_REJECT_AFTER_USEC;

    if (peer->state == WGM_PEER_STATE_CONNECTED)
        limit += WGM_STALE_MARGIN_USEC;
    return peer->handshake_mono > 0 && now_mono - peer->handshake_mono < limit;
}

WgmPeerState
wgm_peer_derive_state(const WgmPeer *peer, gint64 now_mono)
{
    /* While an attempt is on, only a handshake that completed after it
     * began counts: an older one is what the attempt is replacing (a peer
     * that went silent).  A peer that is not trying (lazy, gave up) is
     * Connected by any fresh handshake, e.g. the other side's. */
    if (handshake_is_fresh(peer, now_mono)
        && (peer->attempt_since == 0 || peer->handshake_mono >= peer->attempt_since))
        return WGM_PEER_STATE_CONNECTED;
    return peer->wanted && !peer->guard.gave_up ? WGM_PEER_STATE_CONNECTING : WGM_PEER_STATE_IDLE;
}

gboolean
wgm_peer_update_state(WgmPeer *peer, gint64 now, gint64 now_mono)
{
    WgmPeerState state = wgm_peer_derive_state(peer, now_mono);

    if (state == peer->state)
        return FALSE;

    wgm_peer_info(
        peer, "%s -> %s", wgm_peer_state_to_string(peer->state), wgm_peer_state_to_string(state));
    peer->state       = state;
    peer->state_since = now;
    if (state == WGM_PEER_STATE_CONNECTED) {
        peer->attempt_since = 0;
        peer->attempts      = 0;
        peer->next_retry    = 0;
        wgm_guard_succeeded(&peer->guard);
        g_clear_pointer(&peer->last_error, g_free);
    }
    peer->dirty = TRUE;
    return TRUE;
}

void
wgm_peer_kicked(WgmPeer *peer, gint64 now_mono)
{
    peer->last_kick_mono = now_mono;
    peer->recheck        = FALSE;
    if (peer->state == WGM_PEER_STATE_CONNECTED)
        return;
    if (peer->attempt_since == 0)
        peer->attempt_since = now_mono;
    peer->attempts++;
    peer->dirty = TRUE;
}

void
wgm_peer_begin_attempt(WgmPeer *peer, gint64 now_mono, gboolean urgent)
{
    if (peer->attempt_since == 0)
        peer->attempt_since = now_mono;
    wgm_guard_begin(&peer->guard, now_mono, urgent);
    peer->dirty = TRUE;
}

gint64
wgm_peer_next_kick(const WgmPeer *peer, gint64 now_mono)
{
    if (!peer->wanted && peer->state != WGM_PEER_STATE_CONNECTED)
        return 0;

    switch (peer->state) {
    case WGM_PEER_STATE_CONNECTING:
        /* A peer without an endpoint of its own can only be reached. */
        if (!peer->endpoint_host)
            return 0;
        return wgm_guard_next_deadline(&peer->guard);
    case WGM_PEER_STATE_CONNECTED:
        if (!peer->has_endpoint && !peer->has_reported_endpoint)
            return 0;
        if (peer->recheck)
            return now_mono;
        if (!peer->wanted)
            return 0;
        /* Deadlines relative to the handshake, each kicked once. */
        if (peer->last_kick_mono < peer->handshake_mono + WGM_REFRESH_FIRST_USEC)
            return peer->handshake_mono + WGM_REFRESH_FIRST_USEC;
        if (peer->last_kick_mono < peer->handshake_mono + WGM_REFRESH_AFTER_EXPIRY_USEC)
            return peer->handshake_mono + WGM_REFRESH_AFTER_EXPIRY_USEC;
        return 0;
    case WGM_PEER_STATE_IDLE:
        break;
    }
    return 0;
}

static gboolean
endpoints_equal(GArray *a, GArray *b)
{
    if (!a || !b || a->len != b->len)
        return FALSE;
    for (guint i = 0; i < a->len; i++) {
        if (!wgm_endpoint_equal(&g_array_index(a, WgmEndpoint, i),
                                &g_array_index(b, WgmEndpoint, i)))
            return FALSE;
    }
    return TRUE;
}

gboolean
wgm_peer_set_resolved(WgmPeer *peer, GArray *endpoints)
{
    g_return_val_if_fail(endpoints && endpoints->len > 0, FALSE);

    if (endpoints_equal(peer->resolved, endpoints))
        return FALSE;
    g_clear_pointer(&peer->resolved, g_array_unref);
    peer->resolved       = g_array_ref(endpoints);
    peer->resolved_index = 0;
    if (peer->has_endpoint
        && wgm_endpoint_equal(&peer->endpoint, &g_array_index(endpoints, WgmEndpoint, 0)))
        return FALSE;
    peer->endpoint         = g_array_index(endpoints, WgmEndpoint, 0);
    peer->has_endpoint     = TRUE;
    peer->endpoint_pending = TRUE;
    peer->dirty            = TRUE;
    return TRUE;
}

void
wgm_peer_set_literal_endpoint(WgmPeer *peer)
{
    g_autoptr(GArray) one = g_array_new(FALSE, TRUE, sizeof(WgmEndpoint));
    WgmEndpoint endpoint  = { .port = peer->endpoint_port };

    g_return_if_fail(peer->endpoint_host && !peer->endpoint_is_name);
    if (!wgm_ip_addr_parse(peer->endpoint_host, &endpoint.addr))
        g_return_if_reached();
    g_array_append_val(one, endpoint);
    wgm_peer_set_resolved(peer, one);
}

gboolean
wgm_peer_rotate_endpoint(WgmPeer *peer)
{
    if (!peer->resolved || peer->resolved->len < 2)
        return FALSE;
    peer->resolved_index   = (peer->resolved_index + 1) % peer->resolved->len;
    peer->endpoint         = g_array_index(peer->resolved, WgmEndpoint, peer->resolved_index);
    peer->endpoint_pending = TRUE;
    peer->dirty            = TRUE;
    return TRUE;
}

void
wgm_peer_set_error(WgmPeer *peer, const char *message)
{
    if (g_strcmp0(peer->last_error, message) == 0)
        return;
    g_free(peer->last_error);
    peer->last_error = g_strdup(message);
    peer->dirty      = TRUE;
}

/* WireGuard's counters restart at 0 when it forgets the peer (re-created,
 * process restarted); ours carry on from where they were. */
static void
take_counter(guint64 *raw, guint64 *total, guint64 value)
{
    if (value < *raw)
        *raw = 0;
    *total += value - *raw;
    *raw = value;
}

gboolean
wgm_peer_update_from_stats(WgmPeer *peer, const WgmPeerStats *stats, gint64 now, gint64 now_mono)
{
    guint64  rx = peer->rx_bytes, tx = peer->tx_bytes;
    guint64  drx, dtx, allowance;
    gboolean handshook = FALSE;

    if (peer->has_reported_endpoint != stats->has_endpoint
        || (stats->has_endpoint
            && !wgm_endpoint_equal(&peer->reported_endpoint, &stats->endpoint))) {
        peer->has_reported_endpoint = stats->has_endpoint;
        if (stats->has_endpoint)
            peer->reported_endpoint = stats->endpoint;
        peer->dirty = TRUE;
    }
    if (peer->last_handshake != stats->last_handshake_usec) {
        peer->last_handshake = stats->last_handshake_usec;
        /* How long ago, by the wall clock of this moment; a handshake
         * "in the future" (the clock went back) happened now at the latest. */
        peer->handshake_mono = peer->last_handshake
                                   ? now_mono - CLAMP(now - peer->last_handshake, 0, now_mono - 1)
                                   : 0;
        peer->dirty          = TRUE;
        handshook            = peer->last_handshake != 0;
    }
    /* Traffic, for the inactivity of lazy peers: the counters moved by more
     * than keepalives and one handshake explain. */
    drx       = stats->rx_bytes >= peer->rx_raw ? stats->rx_bytes - peer->rx_raw : stats->rx_bytes;
    dtx       = stats->tx_bytes >= peer->tx_raw ? stats->tx_bytes - peer->tx_raw : stats->tx_bytes;
    allowance = wgm_guard_keepalive_allowance(
        peer->persistent_keepalive,
        peer->guard.sample_mono ? now_mono - peer->guard.sample_mono : 0);
    if (handshook)
        allowance += WGM_GUARD_INITIATION_BYTES;
    if (drx > allowance || dtx > allowance)
        peer->active_mono = now_mono;
    take_counter(&peer->rx_raw, &peer->rx_bytes, stats->rx_bytes);
    take_counter(&peer->tx_raw, &peer->tx_bytes, stats->tx_bytes);
    if (peer->rx_bytes != rx || peer->tx_bytes != tx)
        peer->dirty = TRUE;

    return wgm_guard_sample(
               &peer->guard, stats->rx_bytes, stats->tx_bytes, peer->persistent_keepalive, now_mono)
           && peer->state == WGM_PEER_STATE_CONNECTED;
}

void
wgm_peer_fill_update(const WgmPeer *peer, WgmPeerUpdate *update)
{
    update->public_key           = peer->public_key;
    update->persistent_keepalive = peer->persistent_keepalive;
    if (peer->parked) {
        update->has_endpoint         = TRUE;
        update->endpoint             = peer->lazy_endpoint;
        update->persistent_keepalive = 0;
    } else if (peer->has_endpoint) {
        update->has_endpoint = TRUE;
        update->endpoint     = peer->endpoint;
    }
    if (peer->has_preshared_key) {
        update->has_preshared_key = TRUE;
        update->preshared_key     = peer->preshared_key;
    }
    update->replace_allowed_ips = TRUE;
    update->allowed_ips         = g_array_ref(peer->allowed_ips);
}
