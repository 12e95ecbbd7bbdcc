/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-peer.h"

WgmPeer *
wgm_peer_new(const WgmConfig *config, const WgmPeerConfig *pc, gint64 now)
{
    WgmPeer *peer = g_new0(WgmPeer, 1);
    char     b64[WGM_KEY_B64_LEN + 1];

    peer->public_key = pc->public_key;
    wgm_key_to_short(&peer->public_key, peer->short_key);
    wgm_key_to_base64(&peer->public_key, b64);
    peer->public_key_b64       = g_strdup(b64);
    peer->name                 = g_strdup(pc->name);
    peer->object_id            = pc->index;
    peer->endpoint_host        = g_strdup(pc->endpoint_host);
    peer->endpoint_port        = pc->endpoint_port;
    peer->persistent_keepalive = pc->persistent_keepalive;
    peer->has_preshared_key    = pc->has_preshared_key;
    if (pc->has_preshared_key)
        peer->preshared_key = pc->preshared_key;
    peer->lazy        = wgm_peer_config_is_lazy(config, pc);
    peer->wanted      = !peer->lazy;
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
    g_free(peer->public_key_b64);
    g_free(peer->name);
    g_free(peer->endpoint_host);
    g_free(peer->last_error);
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
    if (handshake_is_fresh(peer, now_mono)) {
        /* While we are trying, only a handshake that completed after the
         * attempt began counts: an older one is what the attempt is
         * replacing (e.g. a peer that went silent). */
        if (!peer->wanted || peer->attempt_since == 0
            || peer->handshake_mono >= peer->attempt_since)
            return WGM_PEER_STATE_CONNECTED;
    }
    return peer->wanted ? WGM_PEER_STATE_CONNECTING : WGM_PEER_STATE_IDLE;
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
        g_clear_pointer(&peer->last_error, g_free);
    }
    peer->dirty = TRUE;
    return TRUE;
}

void
wgm_peer_kicked(WgmPeer *peer, gint64 now_mono)
{
    peer->last_kick_mono = now_mono;
    if (peer->state == WGM_PEER_STATE_CONNECTED)
        return;
    if (peer->attempt_since == 0)
        peer->attempt_since = now_mono;
    peer->attempts++;
    peer->dirty = TRUE;
}

gint64
wgm_peer_next_kick(const WgmPeer *peer, gint64 now_mono)
{
    if (!peer->wanted || !peer->has_endpoint)
        return 0;

    switch (peer->state) {
    case WGM_PEER_STATE_CONNECTING:
        if (peer->attempts == 0)
            return now_mono;
        return peer->last_kick_mono + WGM_RETRY_CONNECTING_USEC;
    case WGM_PEER_STATE_CONNECTED:
        /* Deadlines relative to the handshake, each kicked once. */
        if (peer->last_kick_mono < peer->handshake_mono + WGM_REFRESH_FIRST_USEC)
            return peer->handshake_mono + WGM_REFRESH_FIRST_USEC;
        if (peer->last_kick_mono < peer->handshake_mono + WGM_REFRESH_AFTER_EXPIRY_USEC)
            return peer->handshake_mono + WGM_REFRESH_AFTER_EXPIRY_USEC;
        return peer->last_kick_mono + WGM_RETRY_CONNECTING_USEC;
    case WGM_PEER_STATE_IDLE:
        break;
    }
    return 0;
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

void
wgm_peer_update_from_stats(WgmPeer *peer, const WgmPeerStats *stats, gint64 now, gint64 now_mono)
{
    if (peer->has_current_endpoint != stats->has_endpoint
        || (stats->has_endpoint
            && !wgm_endpoint_equal(&peer->current_endpoint, &stats->endpoint))) {
        peer->has_current_endpoint = stats->has_endpoint;
        if (stats->has_endpoint)
            peer->current_endpoint = stats->endpoint;
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
    }
    if (peer->rx_bytes != stats->rx_bytes || peer->tx_bytes != stats->tx_bytes) {
        peer->rx_bytes = stats->rx_bytes;
        peer->tx_bytes = stats->tx_bytes;
        peer->dirty    = TRUE;
    }
}

void
wgm_peer_fill_update(const WgmPeer *peer, WgmPeerUpdate *update)
{
    update->public_key = peer->public_key;
    if (peer->has_endpoint) {
        update->has_endpoint = TRUE;
        update->endpoint     = peer->endpoint;
    }
    if (peer->has_preshared_key) {
        update->has_preshared_key = TRUE;
        update->preshared_key     = peer->preshared_key;
    }
    update->persistent_keepalive = peer->persistent_keepalive;
    update->replace_allowed_ips  = TRUE;
    update->allowed_ips          = g_array_ref(peer->allowed_ips);
}
