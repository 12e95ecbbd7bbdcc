/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-mesh.h"

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

enum {
    SIGNAL_CHANGED,
    SIGNAL_FAILED,
    N_SIGNALS,
};
static guint signals[N_SIGNALS];

struct _WgmMesh {
    GObject parent_instance;

    WgmBackend *backend;
    gulong      died_id;
    WgmKey      private_key; /* kept to re-apply the device; wiped in finalize */
    gint32      config_listen_port;
    guint       listen_port; /* as WireGuard reports it */

    GHashTable *peers_by_key; /* WgmKey* -> WgmPeer* (not owning) */
    GPtrArray  *peers;        /* WgmPeer*, owning, profile order */

    GCancellable *cancellable;
    GSource      *timer; /* the one scheduler source */
    gint64        next_poll_mono;
    gint64        poll_interval;
    gboolean      poll_in_flight;
    gboolean      apply_in_flight;
    gint64        kick_pause_until; /* monotonic: no kicks before, after a refused batch */
    gboolean      running;
};

G_DEFINE_FINAL_TYPE(WgmMesh, wgm_mesh, G_TYPE_OBJECT)

static void reschedule(WgmMesh *self);
static void backend_died(WgmMesh *self, const GError *error);

/* Realtime "now" of a monotonic deadline, for the NextRetry property. */
static gint64
mono_to_real(gint64 mono)
{
    return g_get_real_time() + (mono - g_get_monotonic_time());
}

/* ---- construction ------------------------------------------------------- */

WgmMesh *
wgm_mesh_new(WgmBackend *backend, const WgmConfig *config)
{
    WgmMesh *self = g_object_new(WGM_TYPE_MESH, NULL);
    gint64   now  = g_get_real_time();

    self->backend            = g_object_ref(backend);
    self->private_key        = config->private_key;
    self->config_listen_port = config->listen_port;
    self->listen_port        = config->listen_port > 0 ? (guint)config->listen_port : 0;

    for (guint i = 0; i < config->peers->len; i++) {
        WgmPeer *peer = wgm_peer_new(config, config->peers->pdata[i], now);

        g_ptr_array_add(self->peers, peer);
        g_hash_table_insert(self->peers_by_key, &peer->public_key, peer);
    }
    return self;
}

static void
wgm_mesh_init(WgmMesh *self)
{
    self->peers_by_key  = g_hash_table_new(wgm_key_hash, wgm_key_equal_func);
    self->peers         = g_ptr_array_new_with_free_func((GDestroyNotify)wgm_peer_free);
    self->cancellable   = g_cancellable_new();
    self->poll_interval = POLL_FAST_MIN_USEC;
}

static void
wgm_mesh_dispose(GObject *object)
{
    WgmMesh *self = WGM_MESH(object);

    wgm_mesh_stop(self);
    g_clear_object(&self->backend);
    G_OBJECT_CLASS(wgm_mesh_parent_class)->dispose(object);
}

static void
wgm_mesh_finalize(GObject *object)
{
    WgmMesh *self = WGM_MESH(object);

    wgm_key_wipe(&self->private_key);
    g_hash_table_unref(self->peers_by_key);
    g_ptr_array_unref(self->peers);
    g_clear_object(&self->cancellable);
    G_OBJECT_CLASS(wgm_mesh_parent_class)->finalize(object);
}

static void
wgm_mesh_class_init(WgmMeshClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->dispose  = wgm_mesh_dispose;
    object_class->finalize = wgm_mesh_finalize;

    signals[SIGNAL_CHANGED] = g_signal_new("changed",
                                           G_TYPE_FROM_CLASS(klass),
                                           G_SIGNAL_RUN_LAST,
                                           0,
                                           NULL,
                                           NULL,
                                           NULL,
                                           G_TYPE_NONE,
                                           0);
    signals[SIGNAL_FAILED]  = g_signal_new("failed",
                                          G_TYPE_FROM_CLASS(klass),
                                          G_SIGNAL_RUN_LAST,
                                          0,
                                          NULL,
                                          NULL,
                                          NULL,
                                          G_TYPE_NONE,
                                          1,
                                          G_TYPE_ERROR);
}

/* ---- accessors ---------------------------------------------------------- */

WgmBackend *
wgm_mesh_get_backend(WgmMesh *self)
{
    return self->backend;
}

GPtrArray *
wgm_mesh_get_peers(WgmMesh *self)
{
    return self->peers;
}

WgmPeer *
wgm_mesh_lookup_peer(WgmMesh *self, const WgmKey *public_key)
{
    return g_hash_table_lookup(self->peers_by_key, public_key);
}

guint
wgm_mesh_get_listen_port(WgmMesh *self)
{
    return self->listen_port;
}

void
wgm_mesh_count_states(WgmMesh *self, guint *n_idle, guint *n_connecting, guint *n_connected)
{
    guint n[3] = { 0 };

    for (guint i = 0; i < self->peers->len; i++) {
        const WgmPeer *peer = self->peers->pdata[i];

        n[peer->state]++;
    }
    *n_idle       = n[WGM_PEER_STATE_IDLE];
    *n_connecting = n[WGM_PEER_STATE_CONNECTING];
    *n_connected  = n[WGM_PEER_STATE_CONNECTED];
}

static gboolean
routes_default(const WgmPeer *peer)
{
    for (guint i = 0; i < peer->allowed_ips->len; i++) {
        if (wgm_ip_prefix_is_default(&g_array_index(peer->allowed_ips, WgmIpPrefix, i)))
            return TRUE;
    }
    return FALSE;
}

/* NetworkManager pins a host route to the gateway through the underlay.
 * When a peer routes everything (an exit node), that must be its endpoint:
 * pinned to any other, the exit node's own packets would be routed into the
 * tunnel to itself. */
gboolean
wgm_mesh_get_gateway(WgmMesh *self, WgmIpAddr *out)
{
    const WgmPeer *first = NULL;

    for (guint i = 0; i < self->peers->len; i++) {
        const WgmPeer *peer = self->peers->pdata[i];

        if (!peer->has_endpoint)
            continue;
        if (routes_default(peer)) {
            *out = peer->endpoint.addr;
            return TRUE;
        }
        if (!first)
            first = peer;
    }
    if (!first)
        return FALSE;
    *out = first->endpoint.addr;
    return TRUE;
}

/* ---- the guard ---------------------------------------------------------- */

/* An endpoint that did not resolve (at boot, say, before DNS works) is
 * looked up again after 2 s, then twice as long each time, up to a minute. */
#define RESOLVE_RETRY_MIN_USEC (2 * G_USEC_PER_SEC)
#define RESOLVE_RETRY_MAX_USEC (60 * G_USEC_PER_SEC)
/* After WireGuard refused a batch of kicks, the next batch waits this long. */
#define KICK_PAUSE_USEC (1 * G_USEC_PER_SEC)

static const char peer_unknown_error[] = "WireGuard does not know this peer";

static void resolve_peer(WgmMesh *self, WgmPeer *peer, GTask *start_task);

static void
plan_peer(WgmMesh *self, WgmPeer *peer, gint64 now_mono)
{
    gint64 kick = wgm_peer_next_kick(peer, now_mono);
    gint64 next = kick;
    gint64 retry;

    if (peer->next_resolve_mono && (!next || peer->next_resolve_mono < next))
        next = peer->next_resolve_mono;
    peer->next_kick_mono = kick;

    retry = (next && peer->state == WGM_PEER_STATE_CONNECTING) ? mono_to_real(next) : 0;
    if (retry / G_USEC_PER_SEC != peer->next_retry / G_USEC_PER_SEC) {
        peer->next_retry = retry;
        peer->dirty      = TRUE;
    }
}

/* What a batch of kicks changed, to undo it if WireGuard refuses. */
typedef struct {
    WgmPeer *peer;
    gint64   last_kick_mono;
    gint64   attempt_since;
    guint    attempts;
    gboolean endpoint_pending;
} KickUndo;

typedef struct {
    WgmMesh *self;
    GArray  *undo; /* of KickUndo */
} KickBatch;

static void
apply_kicks_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    KickBatch *batch        = user_data;
    WgmMesh   *self         = batch->self;
    g_autoptr(GError) error = NULL;

    self->apply_in_flight = FALSE;
    if (!wgm_backend_apply_finish(WGM_BACKEND(source), result, &error) && self->running
        && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        gint64 now_mono = g_get_monotonic_time();

        /* Nothing was asked of WireGuard: no attempt to count, and the
         * kicks are due again after a short pause. */
        g_warning("asking WireGuard for handshakes failed: %s", error->message);
        for (guint i = 0; i < batch->undo->len; i++) {
            const KickUndo *u = &g_array_index(batch->undo, KickUndo, i);

            u->peer->last_kick_mono   = u->last_kick_mono;
            u->peer->attempt_since    = u->attempt_since;
            u->peer->attempts         = u->attempts;
            u->peer->endpoint_pending = u->endpoint_pending;
            u->peer->dirty            = TRUE;
            plan_peer(self, u->peer, now_mono);
        }
        self->kick_pause_until = now_mono + KICK_PAUSE_USEC;
    }
    if (self->running)
        reschedule(self);
    g_array_unref(batch->undo);
    g_object_unref(self);
    g_free(batch);
}

/* One transaction for every peer whose kick is due. */
static void
kick_due_peers(WgmMesh *self, gint64 now_mono)
{
    g_autoptr(WgmDeviceUpdate) update = NULL;
    KickBatch *batch;

    if (self->apply_in_flight || now_mono < self->kick_pause_until)
        return;

    batch       = g_new0(KickBatch, 1);
    batch->undo = g_array_new(FALSE, FALSE, sizeof(KickUndo));
    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer       *peer = self->peers->pdata[i];
        WgmPeerUpdate *pu;
        KickUndo       undo;

        if (!peer->next_kick_mono || peer->next_kick_mono > now_mono)
            continue;
        if (!update)
            update = wgm_device_update_new();
        pu                       = wgm_device_update_add_peer(update, &peer->public_key);
        pu->persistent_keepalive = peer->persistent_keepalive;
        pu->kick                 = TRUE;
        /* Only a newly resolved endpoint: setting it again would undo
         * WireGuard's roaming to where the peer really is. */
        if (peer->endpoint_pending) {
            pu->has_endpoint = TRUE;
            pu->endpoint     = peer->endpoint;
        }
        undo = (KickUndo){
            .peer             = peer,
            .last_kick_mono   = peer->last_kick_mono,
            .attempt_since    = peer->attempt_since,
            .attempts         = peer->attempts,
            .endpoint_pending = peer->endpoint_pending,
        };
        g_array_append_val(batch->undo, undo);
        wgm_peer_kicked(peer, now_mono);
        peer->endpoint_pending = FALSE;
        wgm_peer_debug(peer,
                       "asking WireGuard for a handshake (%s)",
                       peer->state == WGM_PEER_STATE_CONNECTED ? "refresh" : "attempt");
        plan_peer(self, peer, now_mono);
    }
    if (!update) {
        g_array_unref(batch->undo);
        g_free(batch);
        return;
    }

    self->poll_interval   = POLL_FAST_MIN_USEC;
    self->next_poll_mono  = MIN(self->next_poll_mono, now_mono + POLL_FIRST_USEC);
    self->apply_in_flight = TRUE;
    batch->self           = g_object_ref(self);
    wgm_backend_apply_async(self->backend, update, self->cancellable, apply_kicks_cb, batch);
}

/* Polling is fast only while WireGuard is trying a handshake we asked for
 * (it gives up after 90 s); a peer that can only wait to be contacted, or
 * whose endpoint does not resolve, does not keep the mesh polling fast. */
static gboolean
any_peer_awaiting_handshake(WgmMesh *self, gint64 now_mono)
{
    for (guint i = 0; i < self->peers->len; i++) {
        const WgmPeer *peer = self->peers->pdata[i];

        if (peer->state == WGM_PEER_STATE_CONNECTING && peer->last_kick_mono
            && now_mono - peer->last_kick_mono < WGM_RETRY_CONNECTING_USEC)
            return TRUE;
    }
    return FALSE;
}

/* States follow the clock even when a poll fails: a peer whose handshake
 * grows old stops being Connected whether or not WireGuard answers. */
static gboolean
update_states(WgmMesh *self, gint64 now_real, gint64 now_mono)
{
    gboolean changed = FALSE;

    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        wgm_peer_update_state(peer, now_real, now_mono);
        plan_peer(self, peer, now_mono);
        changed |= peer->dirty;
    }
    return changed;
}

static void
poll_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WgmMesh *self                   = user_data;
    g_autoptr(GError) error         = NULL;
    g_autoptr(WgmDeviceStats) stats = NULL;
    g_autoptr(GHashTable) seen      = NULL;
    gint64   now_real;
    gint64   now_mono;
    gboolean changed = FALSE;

    self->poll_in_flight = FALSE;
    stats                = wgm_backend_get_stats_finish(WGM_BACKEND(source), result, &error);
    if (!self->running)
        goto out;

    now_real = g_get_real_time();
    now_mono = g_get_monotonic_time();

    if (!stats) {
        /* A dying backend reports through "died"; anything else is logged
         * and the next poll tries again. */
        g_warning("reading WireGuard peer statistics failed: %s", error->message);
        self->next_poll_mono = now_mono + POLL_SLOW_USEC;
        if (update_states(self, now_real, now_mono))
            g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
        goto out;
    }

    if (stats->listen_port > 0 && (guint)stats->listen_port != self->listen_port) {
        self->listen_port = stats->listen_port;
        changed           = TRUE;
    }

    seen = g_hash_table_new(NULL, NULL);
    for (guint i = 0; i < stats->peers->len; i++) {
        const WgmPeerStats *ps   = &g_array_index(stats->peers, WgmPeerStats, i);
        WgmPeer            *peer = wgm_mesh_lookup_peer(self, &ps->public_key);

        if (!peer)
            continue;
        g_hash_table_add(seen, peer);
        wgm_peer_update_from_stats(peer, ps, now_real, now_mono);
    }
    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer  = self->peers->pdata[i];
        gboolean known = g_hash_table_contains(seen, peer);

        if (!known)
            wgm_peer_set_error(peer, peer_unknown_error);
        else if (g_strcmp0(peer->last_error, peer_unknown_error) == 0)
            wgm_peer_set_error(peer, NULL);
    }
    changed |= update_states(self, now_real, now_mono);

    if (any_peer_awaiting_handshake(self, now_mono)) {
        self->next_poll_mono = now_mono + self->poll_interval;
        self->poll_interval  = MIN(self->poll_interval * 2, POLL_FAST_MAX_USEC);
    } else {
        self->next_poll_mono = now_mono + POLL_SLOW_USEC;
        self->poll_interval  = POLL_FAST_MIN_USEC;
    }

    if (changed)
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);

out:
    if (self->running)
        reschedule(self);
    g_object_unref(self);
}

static gboolean
timer_dispatch(gpointer user_data)
{
    WgmMesh *self     = user_data;
    gint64   now_mono = g_get_monotonic_time();

    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        if (peer->next_resolve_mono && peer->next_resolve_mono <= now_mono && !peer->resolving)
            resolve_peer(self, peer, NULL);
    }

    kick_due_peers(self, now_mono);

    if (!self->poll_in_flight && self->next_poll_mono <= now_mono) {
        self->poll_in_flight = TRUE;
        self->next_poll_mono = G_MAXINT64;
        wgm_backend_get_stats_async(self->backend, self->cancellable, poll_cb, g_object_ref(self));
    }

    reschedule(self);
    return G_SOURCE_CONTINUE;
}

/* A source with nothing but a ready time: re-arming it is one
 * g_source_set_ready_time(), whatever the number of peers. */
static gboolean
timer_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    g_source_set_ready_time(source, -1);
    return callback(user_data);
}

static GSourceFuncs timer_source_funcs = {
    .dispatch = timer_source_dispatch,
};

/* Re-arms the one timer to the earliest deadline of the poll, all kicks and
 * all endpoint lookups. */
static void
reschedule(WgmMesh *self)
{
    gint64 deadline = self->poll_in_flight ? G_MAXINT64 : self->next_poll_mono;

    for (guint i = 0; i < self->peers->len; i++) {
        const WgmPeer *peer = self->peers->pdata[i];

        if (peer->next_kick_mono && !self->apply_in_flight)
            deadline = MIN(deadline, MAX(peer->next_kick_mono, self->kick_pause_until));
        if (peer->next_resolve_mono && !peer->resolving)
            deadline = MIN(deadline, peer->next_resolve_mono);
    }
    if (self->timer)
        g_source_set_ready_time(self->timer, deadline == G_MAXINT64 ? -1 : deadline);
}

/* ---- endpoints ---------------------------------------------------------- */

typedef struct {
    WgmMesh *self;
    WgmPeer *peer; /* lives as long as the mesh */
    GTask   *start_task;
} Resolve;

static void start_step_done(GTask *task);

static void
resolved_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Resolve *r              = user_data;
    WgmMesh *self           = r->self;
    WgmPeer *peer           = r->peer;
    g_autoptr(GError) error = NULL;
    WgmEndpoint endpoint;

    peer->resolving = FALSE;
    if (wgm_endpoint_resolve_finish(result, &endpoint, &error)) {
        peer->endpoint         = endpoint;
        peer->has_endpoint     = TRUE;
        peer->resolve_interval = 0;
        /* After start, the next kick hands it to WireGuard. */
        peer->endpoint_pending = r->start_task == NULL;
        if (peer->last_error && g_str_has_prefix(peer->last_error, WGM_PEER_FIELD_ENDPOINT ": "))
            wgm_peer_set_error(peer, NULL);
    } else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_autofree char *msg = g_strdup_printf(WGM_PEER_FIELD_ENDPOINT ": %s", error->message);

        peer->resolve_interval =
            CLAMP(peer->resolve_interval * 2, RESOLVE_RETRY_MIN_USEC, RESOLVE_RETRY_MAX_USEC);
        wgm_peer_warning(
            peer, "%s; trying again in %d s", msg, (int)(peer->resolve_interval / G_USEC_PER_SEC));
        wgm_peer_set_error(peer, msg);
        peer->next_resolve_mono = g_get_monotonic_time() + peer->resolve_interval;
    }

    if (r->start_task) {
        start_step_done(r->start_task);
    } else if (self->running) {
        plan_peer(self, peer, g_get_monotonic_time());
        reschedule(self);
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
    }
    g_object_unref(self);
    g_free(r);
}

static void
resolve_peer(WgmMesh *self, WgmPeer *peer, GTask *start_task)
{
    Resolve *r = g_new0(Resolve, 1);

    r->self                 = g_object_ref(self);
    r->peer                 = peer;
    r->start_task           = start_task;
    peer->resolving         = TRUE;
    peer->next_resolve_mono = 0;
    wgm_endpoint_resolve_async(
        peer->endpoint_host, peer->endpoint_port, self->cancellable, resolved_cb, r);
}

/* ---- start / stop ------------------------------------------------------- */

typedef struct {
    guint   pending;
    GError *error;
    gint64  apply_started; /* monotonic, for the log */
} StartData;

static void
start_data_free(StartData *data)
{
    g_clear_error(&data->error);
    g_free(data);
}

static void
initial_apply_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GTask) task   = user_data;
    WgmMesh   *self         = g_task_get_source_object(task);
    StartData *data         = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;

    self->apply_in_flight = FALSE;
    if (!wgm_backend_apply_finish(WGM_BACKEND(source), result, &error)) {
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    g_message("applied %u peers in one transaction in %.1f ms",
              self->peers->len,
              (g_get_monotonic_time() - data->apply_started) / 1000.0);
    if (g_task_return_error_if_cancelled(task))
        return;

    self->running        = TRUE;
    self->next_poll_mono = g_get_monotonic_time() + POLL_FIRST_USEC;
    reschedule(self);
    g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
    g_task_return_boolean(task, TRUE);
}

/* Everything in one transaction: WireGuard gets the whole mesh at once, and
 * nothing is half-applied if it refuses. */
static void
apply_initial(GTask *task)
{
    WgmMesh   *self                   = g_task_get_source_object(task);
    StartData *data                   = g_task_get_task_data(task);
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
    gint64 now_mono                   = g_get_monotonic_time();
    guint  n_kick                     = 0;

    update->has_private_key = TRUE;
    update->private_key     = self->private_key;
    update->listen_port     = self->config_listen_port;
    update->replace_peers   = TRUE;

    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer       *peer = self->peers->pdata[i];
        WgmPeerUpdate *pu   = wgm_device_update_add_peer(update, &peer->public_key);

        wgm_peer_fill_update(peer, pu);
        if (peer->wanted) {
            peer->attempt_since = now_mono;
            if (peer->has_endpoint) {
                pu->kick = TRUE;
                wgm_peer_kicked(peer, now_mono);
                n_kick++;
            }
        }
        plan_peer(self, peer, now_mono);
    }

    g_message("applying %u peers in one transaction (%u asked to handshake now)",
              self->peers->len,
              n_kick);
    data->apply_started   = g_get_monotonic_time();
    self->apply_in_flight = TRUE;
    wgm_backend_apply_async(
        self->backend, update, g_task_get_cancellable(task), initial_apply_cb, task);
}

static void
start_step_done(GTask *task)
{
    StartData *data = g_task_get_task_data(task);

    if (--data->pending > 0)
        return;
    if (data->error) {
        g_task_return_error(task, g_steal_pointer(&data->error));
        g_object_unref(task);
        return;
    }
    apply_initial(task);
}

static void
backend_started_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GTask     *task  = user_data;
    StartData *data  = g_task_get_task_data(task);
    GError    *error = NULL;

    if (!wgm_backend_start_finish(WGM_BACKEND(source), result, &error)) {
        if (data->error)
            g_error_free(error);
        else
            data->error = error;
    }
    start_step_done(task);
}

void
wgm_mesh_start_async(WgmMesh            *self,
                     GCancellable       *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer            user_data)
{
    GTask     *task;
    StartData *data;

    g_return_if_fail(WGM_IS_MESH(self));
    g_return_if_fail(!self->timer);

    task = g_task_new(self, cancellable, callback, user_data);
    data = g_new0(StartData, 1);
    g_task_set_source_tag(task, wgm_mesh_start_async);
    g_task_set_task_data(task, data, (GDestroyNotify)start_data_free);

    self->timer = g_source_new(&timer_source_funcs, sizeof(GSource));
    g_source_set_callback(self->timer, timer_dispatch, self, NULL);
    g_source_set_static_name(self->timer, "wgm-mesh-scheduler");
    g_source_set_ready_time(self->timer, -1);
    g_source_attach(self->timer, g_main_context_get_thread_default());

    self->died_id = g_signal_connect_swapped(self->backend, "died", G_CALLBACK(backend_died), self);

    /* The backend comes up while names resolve; the transaction waits for both. */
    data->pending = 1;
    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        if (!peer->endpoint_host)
            continue;
        data->pending++;
        resolve_peer(self, peer, task);
    }

    wgm_backend_start_async(self->backend, cancellable, backend_started_cb, task);
}

gboolean
wgm_mesh_start_finish(WgmMesh *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

static void
backend_died(WgmMesh *self, const GError *error)
{
    gboolean was_running = self->running;

    wgm_mesh_stop(self);
    if (was_running)
        g_signal_emit(self, signals[SIGNAL_FAILED], 0, error);
}

void
wgm_mesh_stop(WgmMesh *self)
{
    self->running = FALSE;
    g_cancellable_cancel(self->cancellable);
    if (self->timer) {
        g_source_destroy(self->timer);
        g_clear_pointer(&self->timer, g_source_unref);
    }
    if (self->backend) {
        g_clear_signal_handler(&self->died_id, self->backend);
        wgm_backend_stop(self->backend);
    }
}
