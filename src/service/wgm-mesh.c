/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-mesh-private.h"

#include <string.h>

#include "wgm-error.h"
#include "wgm-glib-utils.h"

/* wireguard-go restarts: 250 ms (a crash is rare: come back fast), then
 * doubling; the backoff is dropped once the process has stayed up for the
 * crash window. */
static const WgmBackoffParams crash_params = {
    .initial      = 250 * G_TIME_SPAN_MILLISECOND,
    .factor       = 2.0,
    .jitter       = 0.1,
    .max_interval = 30 * G_USEC_PER_SEC,
};

enum {
    SIGNAL_PEER_ADDED,
    SIGNAL_PEER_REMOVED,
    SIGNAL_PEERS_CHANGED,
    SIGNAL_CHANGED,
    SIGNAL_FAILED,
    N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE(WgmMesh, wgm_mesh, G_TYPE_OBJECT)

static gint64
glib_mono(gpointer user_data)
{
    return g_get_monotonic_time();
}

static gint64
glib_real(gpointer user_data)
{
    return g_get_real_time();
}

/* ---- construction ------------------------------------------------------- */

static void
add_peer(WgmMesh *self, WgmPeer *peer)
{
    g_ptr_array_add(self->peers, peer);
    g_hash_table_insert(self->peers_by_key, &peer->public_key, peer);
}

WgmMesh *
wgm_mesh_new(WgmBackend *backend, const WgmConfig *config)
{
    WgmMesh *self = g_object_new(WGM_TYPE_MESH, NULL);
    gint64   now  = wgm_mesh_now_real(self);

    self->backend            = g_object_ref(backend);
    self->private_key        = config->private_key;
    self->config_listen_port = config->listen_port;
    self->listen_port        = config->listen_port > 0 ? (guint)config->listen_port : 0;
    self->lazy_connections   = config->lazy_connections;
    self->inactivity_timeout = config->inactivity_timeout;

    for (guint i = 0; i < config->peers->len; i++)
        add_peer(self, wgm_peer_new(config, config->peers->pdata[i], now));
    return self;
}

void
wgm_mesh_set_clock(WgmMesh *self, const WgmMeshClock *clock, guint32 seed)
{
    g_return_if_fail(!self->timer);
    self->clock  = *clock;
    self->driven = TRUE;
    g_rand_set_seed(self->rand, seed);
}

static void
wgm_mesh_init(WgmMesh *self)
{
    self->peers_by_key = g_hash_table_new(wgm_key_hash, wgm_key_equal_func);
    self->peers        = g_ptr_array_new_with_free_func((GDestroyNotify)wgm_peer_free);
    self->cancellable  = g_cancellable_new();
    self->clock        = (WgmMeshClock){ glib_mono, glib_real, NULL };
    self->rand         = g_rand_new();
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
    g_clear_pointer(&self->crash_backoff, wgm_backoff_free);
    g_rand_free(self->rand);
    G_OBJECT_CLASS(wgm_mesh_parent_class)->finalize(object);
}

static void
wgm_mesh_class_init(WgmMeshClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GType         type         = G_TYPE_FROM_CLASS(klass);

    object_class->dispose  = wgm_mesh_dispose;
    object_class->finalize = wgm_mesh_finalize;

    signals[SIGNAL_PEER_ADDED] = g_signal_new(
        "peer-added", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
    signals[SIGNAL_PEER_REMOVED]  = g_signal_new("peer-removed",
                                                type,
                                                G_SIGNAL_RUN_LAST,
                                                0,
                                                NULL,
                                                NULL,
                                                NULL,
                                                G_TYPE_NONE,
                                                1,
                                                G_TYPE_POINTER);
    signals[SIGNAL_PEERS_CHANGED] = g_signal_new("peers-changed",
                                                 type,
                                                 G_SIGNAL_RUN_LAST,
                                                 0,
                                                 NULL,
                                                 NULL,
                                                 NULL,
                                                 G_TYPE_NONE,
                                                 1,
                                                 G_TYPE_POINTER);
    signals[SIGNAL_CHANGED] =
        g_signal_new("changed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
    signals[SIGNAL_FAILED] = g_signal_new(
        "failed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
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

gint64
wgm_mesh_get_last_network_change(WgmMesh *self)
{
    return self->last_network_change;
}

guint
wgm_mesh_get_backend_restarts(WgmMesh *self)
{
    return self->restarts;
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

/* The mesh is the one source of change: it reports what changed and clears
 * its own marks; observers only read. */
void
wgm_mesh_emit_changes(WgmMesh *self)
{
    g_autoptr(GPtrArray) changed = NULL;

    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        if (!peer->dirty)
            continue;
        if (!changed)
            changed = g_ptr_array_new();
        g_ptr_array_add(changed, peer);
        peer->dirty = FALSE;
    }
    if (changed)
        g_signal_emit(self, signals[SIGNAL_PEERS_CHANGED], 0, changed);
    if (changed || self->changed) {
        self->changed = FALSE;
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
    }
}

/* ---- start -------------------------------------------------------------- */

typedef struct {
    guint   pending;
    GError *error;
    gint64  apply_started; /* monotonic, for the log */
    guint   n_kick;
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

    self->running  = TRUE;
    self->up_since = wgm_mesh_now_mono(self);
    wgm_mesh_sched_start(self);
    wgm_mesh_emit_changes(self);
    g_task_return_boolean(task, TRUE);
}

/* Everything in one transaction: WireGuard gets the whole mesh at once, and
 * nothing is half-applied if it refuses. */
static void
apply_initial(GTask *task)
{
    WgmMesh   *self = g_task_get_source_object(task);
    StartData *data = g_task_get_task_data(task);
    g_autoptr(WgmDeviceUpdate) update =
        wgm_mesh_build_full_update(self, wgm_mesh_now_mono(self), &data->n_kick);

    g_message("applying %u peers in one transaction (%u asked to handshake now)",
              self->peers->len,
              data->n_kick);
    data->apply_started   = g_get_monotonic_time();
    self->apply_in_flight = TRUE;
    wgm_backend_apply_async(
        self->backend, update, g_task_get_cancellable(task), initial_apply_cb, task);
}

void
wgm_mesh_start_step_done(GTask *task)
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
    wgm_mesh_start_step_done(task);
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

    if (!wgm_mesh_lazy_start(self, &data->error)) {
        g_task_return_error(task, g_steal_pointer(&data->error));
        g_object_unref(task);
        return;
    }

    self->died_id =
        g_signal_connect_swapped(self->backend, "died", G_CALLBACK(wgm_mesh_backend_died), self);

    /* The backend comes up while names resolve; the transaction waits for both. */
    data->pending = 1;
    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        if (!peer->endpoint_host)
            continue;
        data->pending++;
        wgm_mesh_resolve_peer(self, peer, task);
    }

    wgm_backend_start_async(self->backend, cancellable, backend_started_cb, task);
}

gboolean
wgm_mesh_start_finish(WgmMesh *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- the backend's guard ------------------------------------------------ */

static void restart_failed(WgmMesh *self, const GError *error);
static void set_peers_cb(GObject *source, GAsyncResult *result, gpointer user_data);

static void
restart_apply_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WgmMesh *self           = user_data;
    g_autoptr(GError) error = NULL;

    self->apply_in_flight = FALSE;
    if (!wgm_backend_apply_finish(WGM_BACKEND(source), result, &error)) {
        /* (A death already counted has set restart_at again.) */
        if (self->restarting && self->restart_at == 0
            && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            restart_failed(self, error);
        g_object_unref(self);
        return;
    }
    if (self->restarting && self->restart_at == 0) {
        self->restarting = FALSE;
        self->running    = TRUE;
        self->up_since   = wgm_mesh_now_mono(self);
        self->restarts++;
        self->changed = TRUE;
        g_message("wireguard-go restarted (restart %u); all %u peers re-applied in one transaction",
                  self->restarts,
                  self->peers->len);
        if (self->peers_changed_meanwhile) {
            guint n_kick;
            g_autoptr(WgmDeviceUpdate) again =
                wgm_mesh_build_full_update(self, wgm_mesh_now_mono(self), &n_kick);

            self->peers_changed_meanwhile = FALSE;
            g_message("the peer set changed during the restart: all %u peers again",
                      self->peers->len);
            wgm_backend_apply_async(
                self->backend, again, self->cancellable, set_peers_cb, g_object_ref(self));
        }
        wgm_mesh_sched_start(self);
        wgm_mesh_emit_changes(self);
    }
    g_object_unref(self);
}

static void
restart_started_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WgmMesh *self                     = user_data;
    g_autoptr(GError) error           = NULL;
    g_autoptr(WgmDeviceUpdate) update = NULL;
    guint n_kick                      = 0;

    if (!wgm_backend_start_finish(WGM_BACKEND(source), result, &error)) {
        if (self->restarting && self->restart_at == 0
            && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            restart_failed(self, error);
        g_object_unref(self);
        return;
    }
    if (!self->restarting || self->restart_at != 0) {
        g_object_unref(self);
        return;
    }
    /* The whole configuration again, on the port the peers know us by. */
    update = wgm_mesh_build_full_update(self, wgm_mesh_now_mono(self), &n_kick);
    if (self->listen_port > 0)
        update->listen_port = self->listen_port;
    self->apply_in_flight = TRUE;
    wgm_backend_apply_async(self->backend, update, self->cancellable, restart_apply_cb, self);
}

/* Called by the scheduler when restart_at is due. */
void
wgm_mesh_restart_backend(WgmMesh *self)
{
    self->restart_at = 0;
    g_message("restarting wireguard-go for %s", wgm_backend_get_ifname(self->backend));
    wgm_backend_start_async(
        self->backend, self->cancellable, restart_started_cb, g_object_ref(self));
}

static void
fail(WgmMesh *self, const GError *error)
{
    wgm_mesh_stop(self);
    g_signal_emit(self, signals[SIGNAL_FAILED], 0, error);
}

/* The backend died (or a restart failed) at @now: count it, give up after
 * WGM_MESH_MAX_CRASHES within the window, else restart after a backoff. */
static void
crashed(WgmMesh *self, const GError *error)
{
    gint64 now = wgm_mesh_now_mono(self);
    gint64 delay;

    /* Up for a whole window since the last restart: that was a success. */
    if (self->crash_backoff && self->up_since && now - self->up_since >= WGM_MESH_CRASH_WINDOW_USEC)
        g_clear_pointer(&self->crash_backoff, wgm_backoff_free);

    memmove(&self->crashes[1], &self->crashes[0], sizeof(self->crashes) - sizeof(self->crashes[0]));
    self->crashes[0] = now;
    if (self->crashes[WGM_MESH_MAX_CRASHES - 1]
        && now - self->crashes[WGM_MESH_MAX_CRASHES - 1] < WGM_MESH_CRASH_WINDOW_USEC) {
        g_autoptr(GError) final = g_error_new(WGM_ERROR,
                                              WGM_ERROR_BACKEND,
                                              "wireguard-go died %d times within %d s, giving up; "
                                              "last: %s",
                                              WGM_MESH_MAX_CRASHES,
                                              (int)(WGM_MESH_CRASH_WINDOW_USEC / G_USEC_PER_SEC),
                                              error->message);

        g_warning("%s", final->message);
        fail(self, final);
        return;
    }

    if (!self->crash_backoff)
        self->crash_backoff = wgm_backoff_new(&crash_params, now, self->rand);
    delay = wgm_backoff_next(self->crash_backoff, now, self->rand);
    g_warning("%s; restarting it in %.1f s", error->message, delay / (double)G_USEC_PER_SEC);
    /* The sessions went with the process: no peer is connected now, and
     * only a handshake after this moment makes one so again. */
    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        peer->attempt_since = now;
        wgm_peer_update_state(peer, wgm_mesh_now_real(self), now);
    }
    self->restarting = TRUE;
    self->restart_at = now + delay;
    self->up_since   = 0;
    self->changed    = TRUE;
    wgm_mesh_reschedule(self);
    wgm_mesh_emit_changes(self);
}

static void
restart_failed(WgmMesh *self, const GError *error)
{
    g_autoptr(GError) e = g_error_new(
        WGM_ERROR, WGM_ERROR_BACKEND, "restarting wireguard-go failed: %s", error->message);

    /* Whatever half-started goes before the next try. */
    self->generation++;
    crashed(self, e);
}

void
wgm_mesh_backend_died(WgmMesh *self, const GError *error)
{
    if (!self->running && !self->restarting)
        return; /* during start: the start reports it */
    /* Late callbacks of the dead backend must not act on the next one. */
    self->generation++;
    self->running         = FALSE;
    self->poll_in_flight  = FALSE;
    self->apply_in_flight = FALSE;
    crashed(self, error);
}

/* ---- the peer set as a diff -------------------------------------------- */

static gboolean
prefixes_equal(GArray *a, GArray *b)
{
    return a->len == b->len && memcmp(a->data, b->data, (gsize)a->len * sizeof(WgmIpPrefix)) == 0;
}

/* Takes @pc's settings into @peer; returns TRUE if WireGuard must hear of it. */
static gboolean
update_peer(WgmPeer *peer, const WgmConfig *config, const WgmPeerConfig *pc)
{
    gboolean wg_changed = FALSE;

    if (g_strcmp0(peer->endpoint_host, pc->endpoint_host) != 0
        || peer->endpoint_port != pc->endpoint_port) {
        WgmIpAddr literal;

        g_free(peer->endpoint_host);
        peer->endpoint_host = g_strdup(pc->endpoint_host);
        peer->endpoint_port = pc->endpoint_port;
        peer->endpoint_is_name =
            pc->endpoint_host && !wgm_ip_addr_parse(pc->endpoint_host, &literal);
        g_clear_pointer(&peer->resolved, g_array_unref);
        peer->has_endpoint = FALSE;
        wg_changed         = TRUE;
    }
    if (!prefixes_equal(peer->allowed_ips, pc->allowed_ips)) {
        g_array_set_size(peer->allowed_ips, 0);
        g_array_append_vals(peer->allowed_ips, pc->allowed_ips->data, pc->allowed_ips->len);
        wg_changed = TRUE;
    }
    if (peer->persistent_keepalive != pc->persistent_keepalive
        || peer->has_preshared_key != pc->has_preshared_key
        || (pc->has_preshared_key && !wgm_key_equal(&peer->preshared_key, &pc->preshared_key))) {
        peer->persistent_keepalive = pc->persistent_keepalive;
        peer->has_preshared_key    = pc->has_preshared_key;
        wgm_key_wipe(&peer->preshared_key);
        if (pc->has_preshared_key)
            peer->preshared_key = pc->preshared_key;
        wg_changed = TRUE;
    }
    if (g_strcmp0(peer->name, pc->name) != 0) {
        g_free(peer->name);
        peer->name = g_strdup(pc->name);
    }
    peer->give_up_after = (gint64)wgm_peer_config_give_up_after(config, pc) * G_USEC_PER_SEC;
    peer->dirty         = TRUE;
    return wg_changed;
}

static void
set_peers_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WgmMesh *self           = user_data;
    g_autoptr(GError) error = NULL;

    if (!wgm_backend_apply_finish(WGM_BACKEND(source), result, &error)
        && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && self->running) {
        g_autoptr(GError) e = g_error_new(
            WGM_ERROR, WGM_ERROR_BACKEND, "applying a new peer set failed: %s", error->message);

        /* wireguard-go applies a refused set half-way: start it afresh and
         * re-apply everything, as after a crash. */
        wgm_mesh_backend_died(self, e);
        wgm_backend_stop(self->backend);
    }
    g_object_unref(self);
}

void
wgm_mesh_set_peers(WgmMesh *self, const WgmConfig *config)
{
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
    g_autoptr(GHashTable) keep        = g_hash_table_new(NULL, NULL);
    gint64 now_mono                   = wgm_mesh_now_mono(self);
    gint64 now_real                   = wgm_mesh_now_real(self);

    for (guint i = 0; i < config->peers->len; i++) {
        const WgmPeerConfig *pc    = config->peers->pdata[i];
        WgmPeer             *peer  = wgm_mesh_lookup_peer(self, &pc->public_key);
        gboolean             added = peer == NULL;

        if (added) {
            peer = wgm_peer_new(config, pc, now_real);
            add_peer(self, peer);
            wgm_mesh_lazy_peer_added(self, peer, now_mono);
            g_signal_emit(self, signals[SIGNAL_PEER_ADDED], 0, peer);
        } else if (!update_peer(peer, config, pc)) {
            g_hash_table_add(keep, peer);
            continue;
        }
        g_hash_table_add(keep, peer);
        /* An address is known now; a name is looked up (the guard retries). */
        if (peer->endpoint_host && !peer->has_endpoint && !peer->endpoint_is_name)
            wgm_peer_set_literal_endpoint(peer);
        else if (peer->endpoint_is_name && !peer->has_endpoint && !peer->resolving)
            wgm_mesh_resolve_peer(self, peer, NULL);
        wgm_peer_fill_update(peer, wgm_device_update_add_peer(update, &peer->public_key));
        peer->endpoint_pending = FALSE;
        if (peer->wanted && peer->state != WGM_PEER_STATE_CONNECTED)
            wgm_peer_begin_attempt(peer, now_mono, TRUE);
        wgm_mesh_plan_peer(self, peer, now_mono);
    }
    /* Sweep: peers no longer in the set leave WireGuard and D-Bus. */
    for (guint i = self->peers->len; i-- > 0;) {
        WgmPeer *peer = self->peers->pdata[i];

        if (g_hash_table_contains(keep, peer))
            continue;
        wgm_device_update_add_peer(update, &peer->public_key)->remove = TRUE;
        if (self->lazy)
            wgm_lazy_remove_peer(self->lazy, &peer->public_key);
        g_signal_emit(self, signals[SIGNAL_PEER_REMOVED], 0, peer);
        g_hash_table_remove(self->peers_by_key, &peer->public_key);
        g_ptr_array_remove_index(self->peers, i);
    }
    g_message("peer set changed: %u entries for WireGuard in one transaction", update->peers->len);
    if (update->peers->len > 0 && self->running)
        wgm_backend_apply_async(
            self->backend, update, self->cancellable, set_peers_cb, g_object_ref(self));
    else if (update->peers->len > 0 && self->restarting && self->apply_in_flight)
        /* The restart's whole configuration, on its way, predates this. */
        self->peers_changed_meanwhile = TRUE;
    wgm_mesh_emit_changes(self);
    wgm_mesh_reschedule(self);
}

/* ---- stop --------------------------------------------------------------- */

void
wgm_mesh_stop(WgmMesh *self)
{
    self->running    = FALSE;
    self->restarting = FALSE;
    g_cancellable_cancel(self->cancellable);
    wgm_clear_source(&self->timer);
    wgm_mesh_lazy_stop(self);
    if (self->backend) {
        g_clear_signal_handler(&self->died_id, self->backend);
        wgm_backend_stop(self->backend);
    }
}
