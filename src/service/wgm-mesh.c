/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-mesh.h"

#include "wgm-error.h"

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

gboolean
wgm_mesh_get_gateway(WgmMesh *self, WgmIpAddr *out)
{
    for (guint i = 0; i < self->peers->len; i++) {
        const WgmPeer *peer = self->peers->pdata[i];

        if (peer->has_endpoint) {
            *out = peer->endpoint.addr;
            return TRUE;
        }
    }
    return FALSE;
}

/* ---- the guard ---------------------------------------------------------- */

static void
plan_peer(WgmMesh *self, WgmPeer *peer, gint64 now_real, gint64 now_mono)
{
    gint64 kick = wgm_peer_next_kick(peer, now_real, now_mono);

    if (kick != peer->next_kick_mono) {
        gint64 retry = (kick && peer->state == WGM_PEER_STATE_CONNECTING) ? mono_to_real(kick) : 0;

        peer->next_kick_mono = kick;
        if (retry / G_USEC_PER_SEC != peer->next_retry / G_USEC_PER_SEC) {
            peer->next_retry = retry;
            peer->dirty      = TRUE;
        }
    }
}

static void
apply_kicks_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WgmMesh *self           = user_data;
    g_autoptr(GError) error = NULL;

    if (!wgm_backend_apply_finish(WGM_BACKEND(source), result, &error)) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_warning("asking WireGuard for handshakes failed: %s", error->message);
    }
    self->apply_in_flight = FALSE;
    if (self->running)
        reschedule(self);
    g_object_unref(self);
}

/* One transaction for every peer whose kick is due. */
static void
kick_due_peers(WgmMesh *self, gint64 now_real, gint64 now_mono)
{
    g_autoptr(WgmDeviceUpdate) update = NULL;

    if (self->apply_in_flight)
        return;

    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer       *peer = self->peers->pdata[i];
        WgmPeerUpdate *pu;

        if (!peer->next_kick_mono || peer->next_kick_mono > now_mono)
            continue;
        if (!update)
            update = wgm_device_update_new();
        pu                       = wgm_device_update_add_peer(update, &peer->public_key);
        pu->persistent_keepalive = peer->persistent_keepalive;
        pu->kick                 = TRUE;
        wgm_peer_kicked(peer, now_real, now_mono);
        wgm_peer_debug(peer,
                       "asking WireGuard for a handshake (%s)",
                       peer->state == WGM_PEER_STATE_CONNECTED ? "refresh" : "retry");
        peer->next_kick_mono = 0;
        plan_peer(self, peer, now_real, now_mono);
    }
    if (!update)
        return;

    self->poll_interval   = POLL_FAST_MIN_USEC;
    self->next_poll_mono  = MIN(self->next_poll_mono, now_mono + POLL_FIRST_USEC);
    self->apply_in_flight = TRUE;
    wgm_backend_apply_async(
        self->backend, update, self->cancellable, apply_kicks_cb, g_object_ref(self));
}

static gboolean
any_peer_connecting(WgmMesh *self)
{
    for (guint i = 0; i < self->peers->len; i++) {
        const WgmPeer *peer = self->peers->pdata[i];

        if (peer->state == WGM_PEER_STATE_CONNECTING)
            return TRUE;
    }
    return FALSE;
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
        wgm_peer_update_from_stats(peer, ps);
    }

    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        if (!g_hash_table_contains(seen, peer))
            wgm_peer_set_error(peer, "WireGuard does not know this peer");
        wgm_peer_update_state(peer, now_real);
        plan_peer(self, peer, now_real, now_mono);
        changed |= peer->dirty;
    }

    if (any_peer_connecting(self)) {
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
    gint64   now_real = g_get_real_time();

    kick_due_peers(self, now_real, now_mono);

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

/* Re-arms the one timer to the earliest deadline of the poll and all kicks. */
static void
reschedule(WgmMesh *self)
{
    gint64 deadline = self->poll_in_flight ? G_MAXINT64 : self->next_poll_mono;

    if (!self->apply_in_flight) {
        for (guint i = 0; i < self->peers->len; i++) {
            const WgmPeer *peer = self->peers->pdata[i];

            if (peer->next_kick_mono)
                deadline = MIN(deadline, peer->next_kick_mono);
        }
    }
    g_source_set_ready_time(self->timer, deadline == G_MAXINT64 ? -1 : deadline);
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
    gint64 now                        = g_get_real_time();
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
            peer->attempt_since = now;
            if (peer->has_endpoint) {
                pu->kick = TRUE;
                wgm_peer_kicked(peer, now, g_get_monotonic_time());
                n_kick++;
            }
        }
        plan_peer(self, peer, now, g_get_monotonic_time());
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

typedef struct {
    GTask *task;
    char  *public_key_b64;
} ResolveData;

static void
resolved_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    ResolveData *rd         = user_data;
    WgmMesh     *self       = g_task_get_source_object(rd->task);
    g_autoptr(GError) error = NULL;
    GList   *addrs          = g_resolver_lookup_by_name_finish(G_RESOLVER(source), result, &error);
    WgmKey   key;
    WgmPeer *peer;

    if (wgm_key_from_base64(rd->public_key_b64, &key, NULL)
        && (peer = wgm_mesh_lookup_peer(self, &key))) {
        if (!addrs) {
            g_autofree char *msg = g_strdup_printf(
                "endpoint: cannot resolve \"%s\": %s", peer->endpoint_host, error->message);
            wgm_peer_warning(peer, "%s", msg);
            wgm_peer_set_error(peer, msg);
        } else {
            /* Prefer IPv4, as wg-quick does via getaddrinfo ordering. */
            GInetAddress *pick = NULL;

            for (GList *l = addrs; l; l = l->next) {
                if (g_inet_address_get_family(l->data) == G_SOCKET_FAMILY_IPV4) {
                    pick = l->data;
                    break;
                }
            }
            if (!pick)
                pick = addrs->data;
            peer->endpoint.addr.family =
                g_inet_address_get_family(pick) == G_SOCKET_FAMILY_IPV4 ? AF_INET : AF_INET6;
            memcpy(peer->endpoint.addr.addr,
                   g_inet_address_to_bytes(pick),
                   g_inet_address_get_native_size(pick));
            peer->endpoint.port = peer->endpoint_port;
            peer->has_endpoint  = TRUE;
        }
    }
    g_resolver_free_addresses(addrs);
    start_step_done(rd->task);
    g_free(rd->public_key_b64);
    g_free(rd);
}

void
wgm_mesh_start_async(WgmMesh            *self,
                     GCancellable       *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer            user_data)
{
    GTask     *task     = g_task_new(self, cancellable, callback, user_data);
    StartData *data     = g_new0(StartData, 1);
    GResolver *resolver = NULL;

    g_task_set_source_tag(task, wgm_mesh_start_async);
    g_task_set_task_data(task, data, (GDestroyNotify)start_data_free);

    g_return_if_fail(!self->timer);
    self->timer = g_source_new(&timer_source_funcs, sizeof(GSource));
    g_source_set_callback(self->timer, timer_dispatch, self, NULL);
    g_source_set_static_name(self->timer, "wgm-mesh-scheduler");
    g_source_set_ready_time(self->timer, -1);
    g_source_attach(self->timer, g_main_context_get_thread_default());

    self->died_id = g_signal_connect_swapped(self->backend, "died", G_CALLBACK(backend_died), self);

    /* The backend comes up while names resolve; the transaction waits for both. */
    data->pending = 1;
    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer     *peer = self->peers->pdata[i];
        ResolveData *rd;

        if (!peer->endpoint_host)
            continue;
        if (wgm_ip_addr_parse(peer->endpoint_host, &peer->endpoint.addr)) {
            peer->endpoint.port = peer->endpoint_port;
            peer->has_endpoint  = TRUE;
            continue;
        }
        if (!resolver)
            resolver = g_resolver_get_default();
        rd                 = g_new0(ResolveData, 1);
        rd->task           = task;
        rd->public_key_b64 = g_strdup(peer->public_key_b64);
        data->pending++;
        g_resolver_lookup_by_name_async(
            resolver, peer->endpoint_host, cancellable, resolved_cb, rd);
    }
    g_clear_object(&resolver);

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
