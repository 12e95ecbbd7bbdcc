/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mesh's one scheduler: a single GSource re-armed to the earliest
 * deadline of all peers, which runs every peer's guard (wgm-guard.h),
 * batches what they decide into one transaction, polls WireGuard's
 * counters in one batched read, and resolves endpoint names.
 */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-error.h"
#include "wgm-glib-utils.h"
#include "wgm-mesh-private.h"
#include "wgm-resolve.h"
#include "wgm-settings-keys.h"

/* Polling: fast while a handshake is awaited (100 ms doubling to 1 s), slow
 * otherwise.  At 10,000 peers a full get=1 is ~22 ms in wireguard-go.  The
 * first poll after asking for handshakes comes sooner: on a LAN they
 * complete within a millisecond or two, and "connected" should say so. */
#define POLL_FIRST_USEC    (10 * G_TIME_SPAN_MILLISECOND)
#define POLL_FAST_MIN_USEC (100 * G_TIME_SPAN_MILLISECOND)
#define POLL_FAST_MAX_USEC (1 * G_USEC_PER_SEC)
#define POLL_SLOW_USEC     (5 * G_USEC_PER_SEC)
/* While connected peers carry traffic of ours: how late a dead path can be
 * noticed after the 15 s rule (the silence is only known to have begun at
 * the last sample in which something came back). */
#define POLL_TRAFFIC_USEC (2 * G_USEC_PER_SEC)
/* When every peer is Idle, polls only notice a peer that connected to us;
 * a full read costs wireguard-go a few ms per thousand peers (and as much
 * again here), so a large all-idle mesh is polled less often: 30 s, or
 * 10 ms a peer (100 s at 10,000), at most 5 min. */
#define POLL_IDLE_USEC          (30 * G_USEC_PER_SEC)
#define POLL_IDLE_PER_PEER_USEC (10 * G_TIME_SPAN_MILLISECOND)
#define POLL_IDLE_MAX_USEC      (300 * G_USEC_PER_SEC)
/* After WireGuard refused a batch of kicks, the next batch waits this long. */
#define KICK_PAUSE_USEC (1 * G_USEC_PER_SEC)

static const char peer_unknown_error[] = "WireGuard does not know this peer";

WgmBackoffParams
wgm_mesh_guard_params(const WgmPeer *peer)
{
    WgmBackoffParams params = WGM_BACKOFF_PARAMS_GUARD;

    params.give_up_after = peer->give_up_after;
    return params;
}

/* Realtime of a monotonic deadline, for the NextRetry property. */
static gint64
mono_to_real(WgmMesh *self, gint64 mono)
{
    return wgm_mesh_now_real(self) + (mono - wgm_mesh_now_mono(self));
}

/* NextRetry is when the next retry really goes out: an ordinary step that
 * would fall inside WireGuard's rate limit waits for its end (step_peer()),
 * so that end is shown from the start, and NextRetry changes once per
 * retry (D-Bus signals it at most that often), not again when the step is
 * put off.  Jitter between the two clocks is no change. */
#define NEXT_RETRY_SLACK_USEC (100 * G_TIME_SPAN_MILLISECOND)

void
wgm_mesh_plan_peer(WgmMesh *self, WgmPeer *peer, gint64 now_mono)
{
    gint64 next  = wgm_peer_next_kick(peer, now_mono);
    gint64 retry = 0;

    peer->next_kick_mono = next;
    if (next && peer->state == WGM_PEER_STATE_CONNECTING) {
        if (!peer->guard.urgent && !wgm_peer_has_session(peer, now_mono))
            next = MAX(next, wgm_guard_kick_allowed_at(&peer->guard));
        retry = mono_to_real(self, next);
    }
    if ((retry == 0) != (peer->next_retry == 0)
        || ABS(retry - peer->next_retry) >= NEXT_RETRY_SLACK_USEC) {
        peer->next_retry = retry;
        peer->dirty      = TRUE;
    }
    /* Parking, waking and new endpoints pass here; one that did not would
     * only cost the replay from the main loop instead (wake()). */
    wgm_mesh_lazy_arm(self, peer);
}

/* ---- the full configuration (start, restart) ---------------------------- */

WgmDeviceUpdate *
wgm_mesh_build_full_update(WgmMesh *self, gint64 now_mono, guint *n_kick)
{
    WgmDeviceUpdate *update = wgm_device_update_new();

    *n_kick                 = 0;
    update->has_private_key = TRUE;
    update->private_key     = self->private_key;
    update->listen_port     = self->config_listen_port;
    update->replace_peers   = TRUE;

    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer       *peer = self->peers->pdata[i];
        WgmPeerUpdate *pu   = wgm_device_update_add_peer(update, &peer->public_key);

        /* A lazy peer nothing has woken waits on its loopback address. */
        if (peer->lazy && !peer->wanted && peer->has_lazy_endpoint) {
            peer->parked        = TRUE;
            peer->attempt_since = now_mono;
        }
        wgm_peer_fill_update(peer, pu);
        peer->endpoint_pending = FALSE;
        wgm_guard_reset_counters(&peer->guard);
        if (peer->wanted) {
            /* A (re)started WireGuard has no session: whatever handshake
             * we knew of is history. */
            peer->attempt_since = now_mono;
            wgm_peer_begin_attempt(peer, now_mono, FALSE);
            if (peer->has_endpoint) {
                pu->kick = TRUE;
                wgm_peer_kicked(peer, now_mono);
                wgm_guard_acted(&peer->guard, WGM_GUARD_ACTION_KICK, FALSE, now_mono);
                (*n_kick)++;
            } else if (peer->endpoint_host) {
                /* The name did not resolve: that was the first failure. */
                WgmBackoffParams params = wgm_mesh_guard_params(peer);

                wgm_guard_failed(&peer->guard, &params, now_mono, self->rand);
            }
        }
        wgm_mesh_plan_peer(self, peer, now_mono);
    }
    return update;
}

/* ---- endpoints ---------------------------------------------------------- */

typedef struct {
    WgmMesh *self;
    WgmKey   public_key; /* looked up again: set_peers may drop the peer meanwhile */
    GTask   *start_task;
} Resolve;

static void
resolved_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Resolve *r                = user_data;
    WgmMesh *self             = r->self;
    WgmPeer *peer             = wgm_mesh_lookup_peer(self, &r->public_key);
    g_autoptr(GError) error   = NULL;
    g_autoptr(GArray) results = wgm_endpoint_resolve_all_finish(result, &error);

    if (!peer || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        if (r->start_task)
            wgm_mesh_start_step_done(r->start_task);
        goto out;
    }
    peer->resolving = FALSE;
    if (results) {
        gboolean had     = peer->has_endpoint;
        gboolean changed = wgm_peer_set_resolved(peer, results);

        if (peer->last_error && g_str_has_prefix(peer->last_error, WGM_PEER_FIELD_ENDPOINT ": "))
            wgm_peer_set_error(peer, NULL);
        /* A new address is worth a try at once, not at the next step. */
        if (changed && !r->start_task && peer->state == WGM_PEER_STATE_CONNECTING) {
            wgm_peer_info(peer,
                          "endpoint %s resolves to %s address",
                          peer->endpoint_host,
                          had ? "a new" : "an");
            peer->guard.urgent    = TRUE;
            peer->guard.next_step = wgm_mesh_now_mono(self);
        }
    } else {
        g_autofree char *msg = g_strdup_printf(WGM_PEER_FIELD_ENDPOINT ": %s", error->message);

        wgm_peer_warning(peer, "%s", msg);
        wgm_peer_set_error(peer, msg);
    }

    if (r->start_task) {
        peer->endpoint_pending = FALSE; /* the first transaction carries it */
        wgm_mesh_start_step_done(r->start_task);
    } else if (self->timer) {
        wgm_mesh_plan_peer(self, peer, wgm_mesh_now_mono(self));
        wgm_mesh_reschedule(self);
        wgm_mesh_emit_changes(self);
    }
out:
    g_object_unref(self);
    g_free(r);
}

void
wgm_mesh_resolve_peer(WgmMesh *self, WgmPeer *peer, GTask *start_task)
{
    Resolve *r = g_new0(Resolve, 1);

    r->self         = g_object_ref(self);
    r->public_key   = peer->public_key;
    r->start_task   = start_task;
    peer->resolving = TRUE;
    wgm_endpoint_resolve_async(
        peer->endpoint_host, peer->endpoint_port, self->cancellable, resolved_cb, r);
}

/* ---- guard steps -------------------------------------------------------- */

static void
give_up(WgmMesh *self, WgmPeer *peer, gint64 now_mono)
{
    gboolean         parks = peer->lazy && peer->has_lazy_endpoint;
    g_autofree char *msg   = g_strdup_printf(
        "gave up after %u attempts in %d s without a handshake; %s",
        peer->attempts,
        (int)((now_mono - peer->guard.backoff->first_failure) / G_USEC_PER_SEC),
        parks ? "idle until the next packet for it" : "retrying on the next network change");

    wgm_peer_message(peer, "%s", msg);
    wgm_peer_set_error(peer, msg);
    if (parks)
        wgm_mesh_lazy_gave_up(self, peer);
}

/* What @peer, due at @now_mono, does on the wire now (WAIT: nothing). */
static WgmGuardAction
step_peer(WgmMesh *self, WgmPeer *peer, gint64 now_mono, gboolean *has_session)
{
    WgmGuard        *guard  = &peer->guard;
    WgmBackoffParams params = wgm_mesh_guard_params(peer);
    WgmGuardAction   action;
    gboolean         fresh;

    *has_session = wgm_peer_has_session(peer, now_mono);
    if (peer->state == WGM_PEER_STATE_CONNECTED)
        return wgm_guard_choose_action(guard, now_mono, *has_session, TRUE);

    /* Connecting (every attempt begins with wgm_peer_begin_attempt()).
     * The grace time ran out: the first failure. */
    if (!guard->next_step) {
        if (!wgm_guard_failed(guard, &params, now_mono, self->rand))
            give_up(self, peer, now_mono);
        return WGM_GUARD_ACTION_WAIT;
    }
    if (guard->backoff && wgm_backoff_expired(guard->backoff, now_mono)) {
        wgm_guard_failed(guard, &params, now_mono, self->rand);
        give_up(self, peer, now_mono);
        return WGM_GUARD_ACTION_WAIT;
    }

    /* A step: look the name up again (a new address comes back urgent)... */
    if (peer->endpoint_is_name && !peer->resolving && !guard->urgent)
        wgm_mesh_resolve_peer(self, peer, NULL);
    if (!peer->has_endpoint) {
        wgm_guard_failed(guard, &params, now_mono, self->rand);
        return WGM_GUARD_ACTION_WAIT;
    }
    /* ... and make WireGuard initiate, where it will. */
    action = wgm_guard_choose_action(guard, now_mono, *has_session, FALSE);
    if (action == WGM_GUARD_ACTION_WAIT) {
        guard->next_step = wgm_guard_kick_allowed_at(guard);
        return action;
    }
    /* The address tried last did not answer: the next one of the name. */
    if (!guard->urgent && guard->backoff)
        wgm_peer_rotate_endpoint(peer);
    /* A fresh attempt (network change, ConnectPeer) waits out its grace
     * time; otherwise the backoff says when the next step is. */
    fresh = guard->backoff == NULL;
    if (fresh)
        guard->next_step = 0;
    else
        wgm_guard_failed(guard, &params, now_mono, self->rand);
    return action;
}

/* What a batch of kicks changed, to undo it if WireGuard refuses. */
typedef struct {
    WgmPeer *peer;
    gint64   last_kick_mono;
    gint64   attempt_since;
    guint    attempts;
    gboolean endpoint_pending;
    gboolean recheck;
    gint64   last_initiation;
} KickUndo;

typedef struct {
    WgmMesh *self;
    guint    generation;
    GArray  *undo; /* of KickUndo */
} KickBatch;

static void
apply_kicks_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    KickBatch *batch        = user_data;
    WgmMesh   *self         = batch->self;
    g_autoptr(GError) error = NULL;
    gboolean ok             = wgm_backend_apply_finish(WGM_BACKEND(source), result, &error);

    if (batch->generation != self->generation)
        goto out;
    self->apply_in_flight = FALSE;
    if (!ok && self->running && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        gint64 now_mono = wgm_mesh_now_mono(self);

        /* Nothing was asked of WireGuard: no attempt to count, and the
         * kicks are due again after a short pause. */
        g_warning("asking WireGuard for handshakes failed: %s", error->message);
        for (guint i = 0; i < batch->undo->len; i++) {
            const KickUndo *u = &g_array_index(batch->undo, KickUndo, i);

            u->peer->last_kick_mono        = u->last_kick_mono;
            u->peer->attempt_since         = u->attempt_since;
            u->peer->attempts              = u->attempts;
            u->peer->endpoint_pending      = u->endpoint_pending;
            u->peer->recheck               = u->recheck;
            u->peer->guard.last_initiation = u->last_initiation;
            if (u->peer->guard.next_step)
                u->peer->guard.next_step = now_mono;
            u->peer->dirty = TRUE;
            wgm_mesh_plan_peer(self, u->peer, now_mono);
        }
        self->kick_pause_until = now_mono + KICK_PAUSE_USEC;
        wgm_mesh_emit_changes(self);
    }
    if (self->running)
        wgm_mesh_reschedule(self);
out:
    g_array_unref(batch->undo);
    g_object_unref(self);
    g_free(batch);
}

static void
add_action(WgmDeviceUpdate *update, WgmPeer *peer, WgmGuardAction action)
{
    WgmPeerUpdate *pu;

    if (action == WGM_GUARD_ACTION_RECREATE) {
        /* Remove and add back, all settings, in this same transaction:
         * WireGuard's rate limit and the dead session go with it. */
        wgm_device_update_add_peer(update, &peer->public_key)->remove = TRUE;
        pu = wgm_device_update_add_peer(update, &peer->public_key);
        wgm_peer_fill_update(peer, pu);
        pu->kick = TRUE;
        return;
    }
    pu                       = wgm_device_update_add_peer(update, &peer->public_key);
    pu->persistent_keepalive = peer->persistent_keepalive;
    pu->kick                 = TRUE;
    /* Only a new endpoint of a peer that is not connected: setting it
     * again would undo WireGuard's roaming to where the peer really is. */
    if (peer->endpoint_pending && peer->state != WGM_PEER_STATE_CONNECTED) {
        pu->has_endpoint = TRUE;
        pu->endpoint     = peer->endpoint;
    }
}

static const char *
action_name(const WgmPeer *peer, WgmGuardAction action)
{
    if (action == WGM_GUARD_ACTION_RECREATE)
        return "re-creating it for a handshake now";
    if (peer->state == WGM_PEER_STATE_CONNECTED)
        return peer->recheck ? "keepalive to re-check the path" : "refresh";
    return "asking WireGuard for a handshake";
}

/* One transaction for every peer whose step is due. */
static void
run_due_peers(WgmMesh *self, gint64 now_mono)
{
    g_autoptr(WgmDeviceUpdate) update = NULL;
    KickBatch *batch;

    if (self->apply_in_flight || now_mono < self->kick_pause_until)
        return;

    batch       = g_new0(KickBatch, 1);
    batch->undo = g_array_new(FALSE, FALSE, sizeof(KickUndo));
    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer       *peer = self->peers->pdata[i];
        KickUndo       undo = { peer,
                                peer->last_kick_mono,
                                peer->attempt_since,
                                peer->attempts,
                                peer->endpoint_pending,
                                peer->recheck,
                                peer->guard.last_initiation };
        WgmGuardAction action;
        gboolean       had_session;

        if (!peer->next_kick_mono || peer->next_kick_mono > now_mono)
            continue;
        action = step_peer(self, peer, now_mono, &had_session);
        if (action != WGM_GUARD_ACTION_WAIT) {
            if (!update)
                update = wgm_device_update_new();
            wgm_peer_debug(peer, "%s", action_name(peer, action));
            add_action(update, peer, action);
            g_array_append_val(batch->undo, undo);
            wgm_peer_kicked(peer, now_mono);
            wgm_guard_acted(&peer->guard, action, had_session, now_mono);
            peer->endpoint_pending = FALSE;
        }
        wgm_peer_update_state(peer, wgm_mesh_now_real(self), now_mono);
        wgm_mesh_plan_peer(self, peer, now_mono);
    }
    if (!update) {
        g_array_unref(batch->undo);
        g_free(batch);
        return;
    }

    wgm_mesh_poll_soon(self, now_mono);
    self->apply_in_flight = TRUE;
    batch->self           = g_object_ref(self);
    batch->generation     = self->generation;
    wgm_backend_apply_async(self->backend, update, self->cancellable, apply_kicks_cb, batch);
}

/* ---- polling ------------------------------------------------------------ */

/* Polling is fast only while WireGuard is trying a handshake we asked for
 * (it gives up after 90 s), or while a connected peer has traffic without
 * an answer (so a dead path shows within about a second of the 15 s rule,
 * not a slow poll later); a peer that can only wait to be contacted, or
 * whose endpoint does not resolve, does not keep the mesh polling fast. */
static gboolean
any_peer_needs_fast_poll(WgmMesh *self, gint64 now_mono)
{
    for (guint i = 0; i < self->peers->len; i++) {
        const WgmPeer *peer = self->peers->pdata[i];

        if (peer->state == WGM_PEER_STATE_CONNECTING && peer->last_kick_mono
            && now_mono - peer->last_kick_mono < WGM_REKEY_ATTEMPT_USEC)
            return TRUE;
        if (peer->state == WGM_PEER_STATE_CONNECTED && peer->guard.unanswered_since)
            return TRUE;
    }
    return FALSE;
}

/* Between polls when no handshake is awaited: while our traffic flows, 2 s
 * (dead paths); when every peer is Idle (an all-lazy mesh without traffic),
 * POLL_IDLE_USEC or more, only to notice a peer that connected to us;
 * otherwise 5 s. */
static gint64
slow_poll_interval(WgmMesh *self)
{
    gboolean all_idle = TRUE;

    for (guint i = 0; i < self->peers->len; i++) {
        const WgmPeer *peer = self->peers->pdata[i];

        if (peer->state == WGM_PEER_STATE_CONNECTED && peer->guard.sending)
            return POLL_TRAFFIC_USEC;
        if (peer->state != WGM_PEER_STATE_IDLE)
            all_idle = FALSE;
    }
    if (!all_idle)
        return POLL_SLOW_USEC;
    return CLAMP(
        (gint64)self->peers->len * POLL_IDLE_PER_PEER_USEC, POLL_IDLE_USEC, POLL_IDLE_MAX_USEC);
}

/* States follow the clock even when a poll fails: a peer whose handshake
 * grows old stops being Connected whether or not WireGuard answers. */
static void
update_states(WgmMesh *self, gint64 now_real, gint64 now_mono)
{
    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        wgm_peer_update_state(peer, now_real, now_mono);
        wgm_mesh_plan_peer(self, peer, now_mono);
    }
}

static void
peer_went_dead(WgmMesh *self, WgmPeer *peer, gint64 now_mono)
{
    g_autofree char *msg = g_strdup_printf("no reply for %d s to traffic sent",
                                           (int)(WGM_GUARD_DEAD_USEC / G_USEC_PER_SEC));

    wgm_peer_message(peer, "%s: the path is gone, reconnecting", msg);
    wgm_peer_set_error(peer, msg);
    /* Only a handshake after this moment makes it Connected again. */
    peer->attempt_since = now_mono;
    wgm_peer_begin_attempt(peer, now_mono, TRUE);
}

static void
take_stats(WgmMesh *self, WgmDeviceStats *stats, gint64 now_real, gint64 now_mono)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);

    if (stats->listen_port > 0 && (guint)stats->listen_port != self->listen_port) {
        self->listen_port = stats->listen_port;
        self->changed     = TRUE;
    }
    if (self->lazy)
        wgm_lazy_set_listen_port(self->lazy, (guint16)self->listen_port);
    for (guint i = 0; i < stats->peers->len; i++) {
        WgmPeerStats ps   = g_array_index(stats->peers, WgmPeerStats, i);
        WgmPeer     *peer = wgm_mesh_lookup_peer(self, &ps.public_key);

        if (!peer)
            continue;
        g_hash_table_add(seen, peer);
        /* A parked peer's loopback address is ours, not where it is. */
        if (ps.has_endpoint && self->lazy && wgm_lazy_is_lazy_endpoint(self->lazy, &ps.endpoint))
            ps.has_endpoint = FALSE;
        if (wgm_peer_update_from_stats(peer, &ps, now_real, now_mono))
            peer_went_dead(self, peer, now_mono);
    }
    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer  = self->peers->pdata[i];
        gboolean known = g_hash_table_contains(seen, peer);

        if (!known)
            wgm_peer_set_error(peer, peer_unknown_error);
        else if (g_strcmp0(peer->last_error, peer_unknown_error) == 0)
            wgm_peer_set_error(peer, NULL);
    }
}

typedef struct {
    WgmMesh *self;
    guint    generation;
} PollData;

static void
poll_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    PollData *poll                  = user_data;
    WgmMesh  *self                  = poll->self;
    g_autoptr(GError) error         = NULL;
    g_autoptr(WgmDeviceStats) stats = NULL;
    gint64 now_real, now_mono;

    stats = wgm_backend_get_stats_finish(WGM_BACKEND(source), result, &error);
    if (poll->generation != self->generation)
        goto out;
    self->poll_in_flight = FALSE;
    if (!self->running)
        goto out;

    now_real = wgm_mesh_now_real(self);
    now_mono = wgm_mesh_now_mono(self);
    if (!stats) {
        /* A dying backend reports through "died"; anything else is logged
         * and the next poll tries again. */
        g_warning("reading WireGuard peer statistics failed: %s", error->message);
        self->next_poll_mono = now_mono + POLL_SLOW_USEC;
    } else {
        take_stats(self, stats, now_real, now_mono);
    }
    update_states(self, now_real, now_mono);
    if (stats && self->lazy)
        wgm_mesh_lazy_check(self, now_mono);

    if (stats && any_peer_needs_fast_poll(self, now_mono)) {
        self->next_poll_mono = now_mono + self->poll_interval;
        self->poll_interval  = MIN(self->poll_interval * 2, POLL_FAST_MAX_USEC);
    } else if (stats) {
        self->next_poll_mono = now_mono + slow_poll_interval(self);
        self->poll_interval  = POLL_FAST_MIN_USEC;
    }
    wgm_mesh_emit_changes(self);
    wgm_mesh_reschedule(self);
out:
    g_object_unref(self);
    g_free(poll);
}

/* ---- the timer ---------------------------------------------------------- */

void
wgm_mesh_dispatch(WgmMesh *self)
{
    gint64 now_mono = wgm_mesh_now_mono(self);

    if (self->restarting) {
        if (self->restart_at && self->restart_at <= now_mono)
            wgm_mesh_restart_backend(self);
        wgm_mesh_reschedule(self);
        return;
    }
    if (!self->running)
        return;

    run_due_peers(self, now_mono);

    if (!self->poll_in_flight && self->next_poll_mono <= now_mono) {
        PollData *poll = g_new0(PollData, 1);

        poll->self           = g_object_ref(self);
        poll->generation     = self->generation;
        self->poll_in_flight = TRUE;
        self->next_poll_mono = G_MAXINT64;
        wgm_backend_get_stats_async(self->backend, self->cancellable, poll_cb, poll);
    }
    wgm_mesh_emit_changes(self);
    wgm_mesh_reschedule(self);
}

static gboolean
timer_dispatch(gpointer user_data)
{
    wgm_mesh_dispatch(user_data);
    return G_SOURCE_CONTINUE;
}

gint64
wgm_mesh_get_next_deadline(WgmMesh *self)
{
    gint64 deadline;

    if (self->restarting)
        return self->restart_at ? self->restart_at : G_MAXINT64;
    if (!self->running)
        return G_MAXINT64;

    deadline = self->poll_in_flight ? G_MAXINT64 : self->next_poll_mono;
    if (self->apply_in_flight)
        return deadline;
    for (guint i = 0; i < self->peers->len; i++) {
        const WgmPeer *peer = self->peers->pdata[i];

        if (peer->next_kick_mono)
            deadline = MIN(deadline, MAX(peer->next_kick_mono, self->kick_pause_until));
    }
    return deadline;
}

/* Re-arms the one timer to the earliest deadline (on the mesh's clock). */
void
wgm_mesh_reschedule(WgmMesh *self)
{
    gint64 deadline = wgm_mesh_get_next_deadline(self);
    gint64 now_mono;

    if (!self->timer)
        return;
    if (deadline == G_MAXINT64 || self->driven) {
        g_source_set_ready_time(self->timer, -1);
        return;
    }
    now_mono = wgm_mesh_now_mono(self);
    g_source_set_ready_time(self->timer, g_get_monotonic_time() + MAX(deadline - now_mono, 0));
}

void
wgm_mesh_poll_soon(WgmMesh *self, gint64 now_mono)
{
    self->poll_interval  = POLL_FAST_MIN_USEC;
    self->next_poll_mono = MIN(self->next_poll_mono, now_mono + POLL_FIRST_USEC);
}

void
wgm_mesh_sched_start(WgmMesh *self)
{
    if (!self->timer) {
        self->timer = wgm_source_attach(
            wgm_ready_time_source_new(), timer_dispatch, self, "wgm-mesh-scheduler");
    }
    self->poll_interval  = POLL_FAST_MIN_USEC;
    self->next_poll_mono = wgm_mesh_now_mono(self) + POLL_FIRST_USEC;
    wgm_mesh_reschedule(self);
}

/* ---- from outside: network changes, ResetBackoff, ConnectPeer ----------- */

static void
retry_peer_now(WgmMesh *self, WgmPeer *peer, gint64 now_mono)
{
    if (peer->endpoint_is_name && !peer->resolving)
        wgm_mesh_resolve_peer(self, peer, NULL);
    if (peer->state == WGM_PEER_STATE_CONNECTED) {
        peer->recheck = TRUE;
    } else if (peer->wanted) {
        wgm_peer_begin_attempt(peer, now_mono, TRUE);
        wgm_peer_update_state(peer, wgm_mesh_now_real(self), now_mono);
    }
    wgm_mesh_plan_peer(self, peer, now_mono);
}

static void
retry_all_now(WgmMesh *self)
{
    gint64 now_mono = wgm_mesh_now_mono(self);

    for (guint i = 0; i < self->peers->len; i++)
        retry_peer_now(self, self->peers->pdata[i], now_mono);
    self->kick_pause_until = 0;
    wgm_mesh_emit_changes(self);
    wgm_mesh_reschedule(self);
}

void
wgm_mesh_network_changed(WgmMesh *self, const char *what)
{
    g_message("network changed (%s): dropping every backoff and retrying all peers now", what);
    self->last_network_change = wgm_mesh_now_real(self);
    self->changed             = TRUE;
    retry_all_now(self);
}

void
wgm_mesh_reset_backoff(WgmMesh *self)
{
    g_message("backoff reset: retrying all peers now");
    retry_all_now(self);
}

gboolean
wgm_mesh_connect_peer(WgmMesh *self, const WgmKey *public_key, GError **error)
{
    WgmPeer *peer = wgm_mesh_lookup_peer(self, public_key);
    char     b64[WGM_KEY_B64_LEN + 1];

    if (!peer) {
        wgm_key_to_base64(public_key, b64);
        g_set_error(
            error, WGM_ERROR, WGM_ERROR_NOT_FOUND, "the mesh has no peer with public key %s", b64);
        return FALSE;
    }
    wgm_peer_message(peer, "retrying now, as asked over D-Bus");
    wgm_mesh_lazy_unpark(self, peer);
    peer->wanted = TRUE;
    retry_peer_now(self, peer, wgm_mesh_now_mono(self));
    wgm_mesh_emit_changes(self);
    wgm_mesh_reschedule(self);
    return TRUE;
}
