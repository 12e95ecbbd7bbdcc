/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guard: per-peer retry policy, pure (reads no clock, calls nothing).
 * One WgmGuard lives in every WgmPeer; the mesh feeds it times and counters
 * and carries out what it decides, in one transaction for all peers.
 *
 * The loop, after NetBird's guard:
 *   - a new or reset attempt first gets WGM_GUARD_GRACE_USEC for its first
 *     handshake;
 *   - then, while the peer is wanted and not Connected, each step of a
 *     WgmBackoff (created on that first failure, dropped on success) is a
 *     retry: re-resolve a name, rotate to the next of its addresses, and
 *     make WireGuard initiate a handshake;
 *   - a backoff past its give-up time leaves the peer Idle until the next
 *     network change.
 *
 * How steps under 5 s relate to WireGuard: both wireguard-go and the kernel
 * send at most one handshake initiation per peer every REKEY_TIMEOUT (5 s)
 * and then retransmit it themselves every 5 s for 90 s.  A kick sooner than
 * 5 s after the last initiation is silently dropped, so an ordinary step
 * that falls inside that window is moved to its end (the 800 ms, 1.6 s and
 * 3.2 s steps all land on the 5 s rhythm; they still count).  An *urgent*
 * retry (network change, ConnectPeer, a newly resolved address) cannot
 * wait: it re-creates the peer instead (remove and add it back with all its
 * settings in the same transaction), which resets WireGuard's rate limit.
 * It does so even 5 s after our last kick, since WireGuard's own
 * retransmissions (which we do not see) move the limit on.  A peer without
 * a live session loses nothing by that.
 *
 * Dead peers: a Connected peer whose transmit counter grows while its
 * receive counter stands still for WGM_GUARD_DEAD_USEC has lost its path
 * (an alive WireGuard peer answers data within KEEPALIVE_TIMEOUT, 10 s,
 * with data or a keepalive).  Keepalives are never answered, so transmit
 * growth that persistent keepalives (and our own refresh kicks) explain does
 * not count: an idle eager peer does not flap.
 */
#pragma once

#include "wgm-backoff.h"

#define WGM_GUARD_GRACE_USEC         (3 * G_USEC_PER_SEC)
#define WGM_GUARD_REKEY_TIMEOUT_USEC (5 * G_USEC_PER_SEC)
#define WGM_GUARD_DEAD_USEC          (15 * G_USEC_PER_SEC)
/* A keepalive on the wire (and in WireGuard's tx counter): header + tag. */
#define WGM_GUARD_KEEPALIVE_BYTES 32
/* The largest handshake message (an initiation). */
#define WGM_GUARD_INITIATION_BYTES 148

typedef enum {
    WGM_GUARD_ACTION_WAIT,     /* nothing now: WireGuard would drop the kick */
    WGM_GUARD_ACTION_KICK,     /* make WireGuard initiate (or send a keepalive) */
    WGM_GUARD_ACTION_RECREATE, /* remove and add the peer back, then kick */
} WgmGuardAction;

typedef struct {
    WgmBackoff *backoff;         /* NULL until the first failure; freed on success */
    gint64      grace_until;     /* monotonic: the first handshake is awaited until then */
    gint64      next_step;       /* monotonic: the next retry, 0 = none */
    gint64      last_initiation; /* monotonic: WireGuard last asked to initiate, 0 = never */
    gboolean    urgent;          /* the next step is now, and cannot wait */
    gboolean    gave_up;         /* Idle until the next network change */

    /* the dead-peer rule */
    gint64   sample_mono; /* last counter sample, 0 = none */
    guint64  rx;
    guint64  tx;
    gint64   unanswered_since; /* monotonic: sent without reply since, 0 = all answered */
    gboolean sending;          /* the last sample saw traffic of ours (beyond keepalives) */
} WgmGuard;

void wgm_guard_clear(WgmGuard *guard);

/* A new attempt (start, reset, network change): backoff and give-up are
 * dropped and the grace time starts; @urgent makes the first step now. */
void wgm_guard_begin(WgmGuard *guard, gint64 now_mono, gboolean urgent);
/* The peer connected: the backoff is dropped (Firezone's fix). */
void wgm_guard_succeeded(WgmGuard *guard);
/* An attempt failed at @now_mono (the grace time ran out, a step found the
 * peer still not connected, the peer went dead): creates the backoff on the
 * first failure and schedules the next step.  Returns FALSE when the peer
 * gives up (then gave_up is set and no step is scheduled). */
gboolean wgm_guard_failed(WgmGuard               *guard,
                          const WgmBackoffParams *params,
                          gint64                  now_mono,
                          GRand                  *rand);

/* The guard's next deadline for a Connecting peer (grace end or step), 0 = none. */
gint64 wgm_guard_next_deadline(const WgmGuard *guard);

/* What a step due at @now_mono does on the wire.  @has_session: WireGuard
 * holds a session for the peer (a handshake within 180 s), in which case a
 * kick only sends a keepalive on it.  @refresh: the peer is Connected and
 * only its path is to be re-checked (a keepalive, never rate-limited). */
WgmGuardAction wgm_guard_choose_action(const WgmGuard *guard,
                                       gint64          now_mono,
                                       gboolean        has_session,
                                       gboolean        refresh);
/* When WireGuard will take a kick again (last initiation + REKEY_TIMEOUT). */
gint64 wgm_guard_kick_allowed_at(const WgmGuard *guard);
/* The mesh carried out @action at @now_mono. */
void wgm_guard_acted(WgmGuard *guard, WgmGuardAction action, gboolean had_session, gint64 now_mono);

/* Feeds one counter sample; returns TRUE when, by the dead-peer rule, the
 * peer stopped answering (sent for WGM_GUARD_DEAD_USEC, nothing back).
 * @keepalive_sec: the peer's persistent keepalive (0 = off). */
gboolean wgm_guard_sample(WgmGuard *guard,
                          guint64   rx_bytes,
                          guint64   tx_bytes,
                          guint16   keepalive_sec,
                          gint64    now_mono);
/* Bytes of keepalives WireGuard may send in @span (usec) without any data:
 * persistent ones (@keepalive_sec, 0 = off) plus one other (a passive
 * keepalive, or one of our refresh kicks). */
guint64 wgm_guard_keepalive_allowance(guint16 keepalive_sec, gint64 span);
/* Forgets counter history (after a re-create or a backend restart the
 * counters start again from zero). */
void wgm_guard_reset_counters(WgmGuard *guard);
