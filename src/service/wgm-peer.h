/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One peer of the mesh: a plain struct (not a GObject), owned by WgmMesh,
 * keyed by public key.  What it was configured with, what WireGuard last
 * reported, and the state we derive from that.
 */
#pragma once

#include "wgm-backend.h"
#include "wgm-config.h"

typedef enum {
    WGM_PEER_STATE_IDLE,
    WGM_PEER_STATE_CONNECTING,
    WGM_PEER_STATE_CONNECTED,
} WgmPeerState;

/*
 * Timing, all from WireGuard's own timers (whitepaper, section 6):
 *
 * - REJECT_AFTER_TIME (180 s): a session older than this carries no data, so
 *   an older handshake does not make a peer Connected.  A peer that *is*
 *   Connected stays so for a margin beyond that, which covers its refresh
 *   (below) and one slow poll, so an idle eager peer does not flap.
 * - After a packet is queued without a session, WireGuard retries the
 *   handshake every REKEY_TIMEOUT (5 s) for REKEY_ATTEMPT_TIME (90 s), then
 *   drops it.  A Connecting peer is kicked again 90 s after the last kick:
 *   earlier would only duplicate WireGuard's own retries.
 * - An initiator re-keys by itself after REKEY_AFTER_TIME (120 s) when it
 *   sends.  An eager peer without traffic would let its session lapse, so it
 *   is kicked at 125 s (we initiated the session: a new handshake at once)
 *   and again at 181 s (we responded: the expired session makes WireGuard
 *   initiate).
 */
#define WGM_REJECT_AFTER_USEC         (180 * G_USEC_PER_SEC)
#define WGM_STALE_MARGIN_USEC         (15 * G_USEC_PER_SEC)
#define WGM_RETRY_CONNECTING_USEC     (90 * G_USEC_PER_SEC)
#define WGM_REFRESH_FIRST_USEC        (125 * G_USEC_PER_SEC)
#define WGM_REFRESH_AFTER_EXPIRY_USEC (181 * G_USEC_PER_SEC)

typedef struct {
    /* configuration */
    WgmKey   public_key;
    char     short_key[WGM_KEY_SHORT_LEN + 1]; /* for "peer[...]" log prefixes */
    char    *public_key_b64;
    char    *name;
    guint    object_id;     /* D-Bus object path suffix: peer.N's N */
    char    *endpoint_host; /* as configured, NULL if none */
    guint16  endpoint_port;
    GArray  *allowed_ips; /* of WgmIpPrefix */
    guint16  persistent_keepalive;
    gboolean has_preshared_key;
    WgmKey   preshared_key; /* secret, wiped by wgm_peer_free() */
    gboolean lazy;

    /* what we want and did */
    gboolean    wanted;       /* eager, or lazy and woken by traffic */
    gboolean    has_endpoint; /* endpoint resolved */
    WgmEndpoint endpoint;
    gint64      attempt_since;     /* monotonic usec the current attempt began, 0 = none */
    guint       attempts;          /* handshakes asked for since last connected */
    gint64      next_retry;        /* realtime usec, 0 = none */
    gint64      last_kick_mono;    /* monotonic usec of the last kick, 0 = never */
    gint64      next_kick_mono;    /* monotonic usec of the next scheduled kick, 0 = none */
    gint64      next_resolve_mono; /* monotonic usec to resolve the endpoint again, 0 = none */
    gint64      resolve_interval;  /* after a failed lookup: usec until the next */
    gboolean    resolving;
    gboolean    endpoint_pending; /* resolved after start, not yet given to WireGuard */
    char       *last_error;

    /* what WireGuard last reported */
    gboolean    has_current_endpoint;
    WgmEndpoint current_endpoint;
    gint64      last_handshake; /* realtime usec as WireGuard reports it, 0 = never */
    /* The same instant on the monotonic clock, taken once when it changes:
     * freshness and deadlines never follow a step of the wall clock. */
    gint64  handshake_mono;
    guint64 rx_bytes;
    guint64 tx_bytes;

    /* derived */
    WgmPeerState state;
    gint64       state_since; /* realtime usec */

    /* set whenever something exported changed; the D-Bus export clears it */
    gboolean dirty;
} WgmPeer;

/* Times: @now is CLOCK_REALTIME (only for what D-Bus shows: StateSince,
 * LatestHandshake, NextRetry), @now_mono g_get_monotonic_time() (everything
 * that is compared or scheduled), both in microseconds. */

WgmPeer *wgm_peer_new(const WgmConfig *config, const WgmPeerConfig *pc, gint64 now);
void     wgm_peer_free(WgmPeer *peer);

const char  *wgm_peer_state_to_string(WgmPeerState state);
WgmPeerState wgm_peer_derive_state(const WgmPeer *peer, gint64 now_mono);

/* Takes in one poll's report; sets ->dirty if anything exported changed. */
void wgm_peer_update_from_stats(WgmPeer            *peer,
                                const WgmPeerStats *stats,
                                gint64              now,
                                gint64              now_mono);

/* Re-derives the state; returns TRUE if it changed.  Reaching Connected ends
 * the attempt (attempts go back to 0). */
gboolean wgm_peer_update_state(WgmPeer *peer, gint64 now, gint64 now_mono);

/* WireGuard was asked for a handshake (kicked): for a Connecting peer that is
 * one more attempt, for a Connected one a refresh. */
void wgm_peer_kicked(WgmPeer *peer, gint64 now_mono);

/* When the peer should next be kicked (monotonic; at or before @now_mono
 * means at once), 0 for never: lazy peers that are not woken and peers
 * without an endpoint are never kicked. */
gint64 wgm_peer_next_kick(const WgmPeer *peer, gint64 now_mono);

void wgm_peer_set_error(WgmPeer *peer, const char *message);

/* Fills a WgmPeerUpdate with everything configured (full re-apply). */
void wgm_peer_fill_update(const WgmPeer *peer, WgmPeerUpdate *update);

/* "peer[AbCdEfGh] " prefix for log lines, plus the name when there is one. */
#define _wgm_peer_log(level, peer, fmt, ...) \
    g_log(G_LOG_DOMAIN,                      \
          level,                             \
          "peer[%s%s%s]: " fmt,              \
          (peer)->short_key,                 \
          (peer)->name ? " " : "",           \
          (peer)->name ?: "",                \
          ##__VA_ARGS__)
#define wgm_peer_debug(peer, ...)   _wgm_peer_log(G_LOG_LEVEL_DEBUG, peer, __VA_ARGS__)
#define wgm_peer_info(peer, ...)    _wgm_peer_log(G_LOG_LEVEL_INFO, peer, __VA_ARGS__)
#define wgm_peer_message(peer, ...) _wgm_peer_log(G_LOG_LEVEL_MESSAGE, peer, __VA_ARGS__)
#define wgm_peer_warning(peer, ...) _wgm_peer_log(G_LOG_LEVEL_WARNING, peer, __VA_ARGS__)
