/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One peer of the mesh: a plain struct (not a GObject), owned by WgmMesh,
 * keyed by public key.  What it was configured with, what WireGuard last
 * reported, and the state we derive from that.
 */
#pragma once

#include "wgm-backend.h"
#include "wgm-config.h"
#include "wgm-guard.h"

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
 * - Retrying a Connecting peer is the guard's business (wgm-guard.h).
 * - An initiator re-keys by itself after REKEY_AFTER_TIME (120 s) when it
 *   sends.  An eager peer without traffic would let its session lapse, so it
 *   is kicked at 125 s (we initiated the session: a new handshake at once)
 *   and again at 181 s (we responded: the expired session makes WireGuard
 *   initiate).
 * - WireGuard gives up retransmitting an initiation after REKEY_ATTEMPT_TIME
 *   (90 s): until then a Connecting peer we kicked keeps polling fast.
 */
#define WGM_REJECT_AFTER_USEC         (180 * G_USEC_PER_SEC)
#define WGM_STALE_MARGIN_USEC         (15 * G_USEC_PER_SEC)
#define WGM_REKEY_ATTEMPT_USEC        (90 * G_USEC_PER_SEC)
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
    gboolean endpoint_is_name; /* endpoint_host is a DNS name, not an address */
    GArray  *allowed_ips;      /* of WgmIpPrefix */
    guint16  persistent_keepalive;
    gboolean has_preshared_key;
    WgmKey   preshared_key; /* secret, wiped by wgm_peer_free() */
    gboolean lazy;          /* in effect: lazy_override, or the mesh's default */
    int      lazy_override; /* -1 = follow the mesh, else 0/1 (peer.N.lazy, Peer.Lazy) */
    gint64   give_up_after; /* usec from the first failure, 0 = never */

    /* endpoints: "configured" is endpoint_host:port above; "resolved" are
     * its addresses (IPv4 first); "current" the one WireGuard was given */
    GArray     *resolved; /* of WgmEndpoint, NULL until resolved */
    guint       resolved_index;
    gboolean    has_endpoint; /* ->endpoint is set */
    WgmEndpoint endpoint;
    gboolean    endpoint_pending; /* not yet given to WireGuard */
    gboolean    resolving;

    /* lazy connections (wgm-mesh-lazy.c) */
    gboolean    has_lazy_endpoint; /* a loopback address of the activity socket */
    WgmEndpoint lazy_endpoint;
    gboolean    parked;      /* WireGuard's endpoint is lazy_endpoint: Idle until traffic */
    gint64      active_mono; /* monotonic: the counters last showed traffic */

    /* what we want and did */
    gboolean wanted;         /* eager, or lazy and woken by traffic */
    gint64   attempt_since;  /* monotonic usec the current attempt began, 0 = none */
    guint    attempts;       /* handshakes asked for since last connected */
    gint64   next_retry;     /* realtime usec, 0 = none (D-Bus NextRetry) */
    gint64   last_kick_mono; /* monotonic usec of the last kick, 0 = never */
    gint64   next_kick_mono; /* monotonic usec of the next deadline, 0 = none */
    gboolean recheck;        /* Connected: send a keepalive now (network change) */
    WgmGuard guard;
    char    *last_error;

    /* what WireGuard last reported ("reported" endpoint) */
    gboolean    has_reported_endpoint;
    WgmEndpoint reported_endpoint;
    gint64      last_handshake; /* realtime usec as WireGuard reports it, 0 = never */
    /* The same instant on the monotonic clock, taken once when it changes:
     * freshness and deadlines never follow a step of the wall clock. */
    gint64  handshake_mono;
    guint64 rx_raw;   /* WireGuard's counters, which restart at 0 when the */
    guint64 tx_raw;   /* peer is re-created or wireguard-go restarts ... */
    guint64 rx_bytes; /* ... and ours, which keep their history */
    guint64 tx_bytes;

    /* derived */
    WgmPeerState state;
    gint64       state_since; /* realtime usec */

    /* something exported changed; the mesh reports and clears it */
    gboolean dirty;
} WgmPeer;

/* Times: @now is CLOCK_REALTIME (only for what D-Bus shows: StateSince,
 * LatestHandshake, NextRetry), @now_mono g_get_monotonic_time() (everything
 * that is compared or scheduled), both in microseconds. */

WgmPeer *wgm_peer_new(const WgmConfig *config, const WgmPeerConfig *pc, gint64 now);
void     wgm_peer_free(WgmPeer *peer);

const char  *wgm_peer_state_to_string(WgmPeerState state);
WgmPeerState wgm_peer_derive_state(const WgmPeer *peer, gint64 now_mono);

/* Takes in one poll's report; sets ->dirty if anything exported changed.
 * Returns TRUE if the peer, Connected, just went dead (wgm-guard.h). */
gboolean wgm_peer_update_from_stats(WgmPeer            *peer,
                                    const WgmPeerStats *stats,
                                    gint64              now,
                                    gint64              now_mono);

/* Re-derives the state; returns TRUE if it changed.  Reaching Connected ends
 * the attempt (attempts go back to 0, the guard drops its backoff). */
gboolean wgm_peer_update_state(WgmPeer *peer, gint64 now, gint64 now_mono);

/* A session WireGuard still holds (a handshake within REJECT_AFTER_TIME). */
gboolean wgm_peer_has_session(const WgmPeer *peer, gint64 now_mono);

/* WireGuard was asked for a handshake (kicked): for a Connecting peer that is
 * one more attempt, for a Connected one a refresh. */
void wgm_peer_kicked(WgmPeer *peer, gint64 now_mono);

/* When the peer next needs the mesh (monotonic; at or before @now_mono
 * means at once), 0 for never: a first kick, a guard step or grace end, a
 * refresh.  Lazy peers that are not woken, peers that gave up and peers
 * with nothing to reach are never due. */
gint64 wgm_peer_next_kick(const WgmPeer *peer, gint64 now_mono);

/* A new attempt now (start, network change, ConnectPeer, dead peer):
 * the backoff is dropped and, if @urgent, the first step is now. */
void wgm_peer_begin_attempt(WgmPeer *peer, gint64 now_mono, gboolean urgent);

/* New addresses for the configured name; returns TRUE if they differ from
 * the ones the peer had (then the first is pending for WireGuard). */
gboolean wgm_peer_set_resolved(WgmPeer *peer, GArray *endpoints);
/* An endpoint given as an address needs no lookup: takes it at once. */
void wgm_peer_set_literal_endpoint(WgmPeer *peer);
/* The next of several resolved addresses after one that did not answer;
 * returns TRUE if the endpoint changed. */
gboolean wgm_peer_rotate_endpoint(WgmPeer *peer);

void wgm_peer_set_error(WgmPeer *peer, const char *message);

/* Fills a WgmPeerUpdate with everything configured (full re-apply); a
 * parked peer gets its loopback endpoint and no keepalive. */
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
