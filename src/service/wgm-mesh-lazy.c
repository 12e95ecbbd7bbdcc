/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lazy connections, the mesh's side: which peers are parked (Idle, their
 * WireGuard endpoint on the activity socket), waking one when WireGuard
 * sends it an initiation, parking woken ones again after inactivity, and
 * the run-time toggles.  The wire side is wgm-lazy.c.
 *
 * A peer is parked by re-creating it in WireGuard (remove and add back in
 * one transaction) with its loopback endpoint and no keepalive: the session
 * and whatever WireGuard queued go with it, so the next packet for the peer
 * makes WireGuard initiate a handshake, which is what wakes it.
 */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-error.h"
#include "wgm-glib-utils.h"
#include "wgm-mesh-private.h"
#include "wgm-settings-keys.h"

/* ---- transactions ------------------------------------------------------- */

typedef struct {
    WgmMesh *self;
    guint    generation;
    char    *what;
} LazyApply;

static void
lazy_apply_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    LazyApply *apply        = user_data;
    g_autoptr(GError) error = NULL;

    /* A failure leaves WireGuard where it was; the next poll shows it (a
     * peer that still connects is simply awake), and a restarted backend
     * gets the whole configuration anyway. */
    if (!wgm_backend_apply_finish(WGM_BACKEND(source), result, &error)
        && apply->generation == apply->self->generation
        && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning("%s failed: %s", apply->what, error->message);
    g_object_unref(apply->self);
    g_free(apply->what);
    g_free(apply);
}

static void
lazy_apply(WgmMesh *self, WgmDeviceUpdate *update, const char *what)
{
    LazyApply *apply = g_new0(LazyApply, 1);

    apply->self       = g_object_ref(self);
    apply->generation = self->generation;
    apply->what       = g_strdup(what);
    wgm_backend_apply_async(self->backend, update, self->cancellable, lazy_apply_cb, apply);
}

/* ---- parking and waking ------------------------------------------------- */

static void
park(WgmMesh *self, WgmPeer *peer, WgmDeviceUpdate *update, gint64 now_mono)
{
    peer->parked   = TRUE;
    peer->wanted   = FALSE;
    peer->recheck  = FALSE;
    peer->attempts = 0;
    /* Only a handshake after this makes it Connected again. */
    peer->attempt_since    = now_mono;
    peer->endpoint_pending = FALSE;
    peer->dirty            = TRUE;
    wgm_guard_clear(&peer->guard);

    wgm_device_update_add_peer(update, &peer->public_key)->remove = TRUE;
    wgm_peer_fill_update(peer, wgm_device_update_add_peer(update, &peer->public_key));
    wgm_peer_update_state(peer, wgm_mesh_now_real(self), now_mono);
    wgm_mesh_plan_peer(self, peer, now_mono);
}

/* Awake without a wake-up (turned eager, ConnectPeer): the guard connects
 * it, with its real endpoint. */
static void
unpark(WgmPeer *peer, gint64 now_mono)
{
    if (!peer->parked)
        return;
    peer->parked           = FALSE;
    peer->endpoint_pending = peer->has_endpoint;
    peer->active_mono      = now_mono;
}

void
wgm_mesh_lazy_unpark(WgmMesh *self, WgmPeer *peer)
{
    unpark(peer, wgm_mesh_now_mono(self));
    wgm_mesh_lazy_arm(self, peer);
}

void
wgm_mesh_lazy_arm(WgmMesh *self, WgmPeer *peer)
{
    if (self->lazy && peer->has_lazy_endpoint)
        wgm_lazy_arm(self->lazy,
                     &peer->public_key,
                     peer->parked && peer->has_endpoint ? &peer->endpoint : NULL);
}

/* One peer WireGuard sent an initiation to: there is traffic for it. */
static void
wake_one(WgmMesh *self, const WgmLazyWake *w, WgmDeviceUpdate *update, gint64 now_mono)
{
    WgmPeer *peer           = wgm_mesh_lookup_peer(self, &w->public_key);
    g_autoptr(GError) error = NULL;
    gboolean       replayed = FALSE;
    WgmPeerUpdate *pu;
    char           buf[WGM_IP_STRLEN];

    /* Retransmissions and initiations already on their way when it woke
     * (a replay of one of them by the thread is harmless: WireGuard drops
     * a response to a handshake it no longer waits for). */
    if (!peer || !peer->parked)
        return;

    peer->parked      = FALSE;
    peer->wanted      = TRUE;
    peer->active_mono = now_mono;
    wgm_lazy_arm(self->lazy, &peer->public_key, NULL);
    wgm_peer_begin_attempt(peer, now_mono, FALSE);

    if (peer->has_endpoint) {
        /* Replayed by the thread to the endpoint the peer still has: the
         * other side answered WireGuard's own initiation, the handshake is
         * done (or on its way) and so is the packet that woke the peer.
         * Otherwise (not armed, or its name resolved anew) replay here. */
        replayed = w->replayed && wgm_endpoint_equal(&w->replayed_to, &peer->endpoint);
        if (replayed)
            wgm_peer_info(peer,
                          "traffic for the idle peer: replayed WireGuard's handshake initiation "
                          "to %s (%.2f ms after it came)",
                          wgm_endpoint_to_string(&peer->endpoint, buf),
                          w->since_arrival_ms);
        else if (wgm_lazy_can_replay(self->lazy, peer->endpoint.addr.family)) {
            replayed = wgm_lazy_replay(
                self->lazy, w->initiation, (guint16)self->listen_port, &peer->endpoint, &error);
            if (replayed)
                wgm_peer_info(peer,
                              "traffic for the idle peer: replayed WireGuard's handshake "
                              "initiation to %s",
                              wgm_endpoint_to_string(&peer->endpoint, buf));
            else
                wgm_peer_warning(peer, "%s; re-creating it instead", error->message);
        }
    }
    if (replayed) {
        /* Nothing needed the real endpoint sooner: the other side's
         * response already makes WireGuard use the address it came from. */
        wgm_guard_acted(&peer->guard, WGM_GUARD_ACTION_KICK, FALSE, now_mono);
        wgm_peer_kicked(peer, now_mono);
        pu                       = wgm_device_update_add_peer(update, &peer->public_key);
        pu->has_endpoint         = TRUE;
        pu->endpoint             = peer->endpoint;
        pu->persistent_keepalive = peer->persistent_keepalive;
    } else if (peer->has_endpoint) {
        /* Without a raw socket: a new handshake at once, but the packet
         * that woke the peer is lost with the peer WireGuard forgets. */
        wgm_peer_info(peer, "traffic for the idle peer: re-creating it for a handshake");
        wgm_device_update_add_peer(update, &peer->public_key)->remove = TRUE;
        pu = wgm_device_update_add_peer(update, &peer->public_key);
        wgm_peer_fill_update(peer, pu);
        pu->kick = TRUE;
        wgm_guard_acted(&peer->guard, WGM_GUARD_ACTION_RECREATE, FALSE, now_mono);
        wgm_peer_kicked(peer, now_mono);
    } else {
        /* Its name has not resolved: the guard takes it from here. */
        wgm_peer_info(peer, "traffic for the idle peer, whose endpoint has no address yet");
        peer->endpoint_pending   = TRUE;
        pu                       = wgm_device_update_add_peer(update, &peer->public_key);
        pu->persistent_keepalive = peer->persistent_keepalive;
        if (peer->endpoint_is_name && !peer->resolving)
            wgm_mesh_resolve_peer(self, peer, NULL);
    }
    wgm_peer_update_state(peer, wgm_mesh_now_real(self), now_mono);
    wgm_mesh_plan_peer(self, peer, now_mono);
}

/* The activity socket's wake-ups: those it replayed come a moment after
 * the replay (WGM_LAZY_WAKE_DELAY_MS), together.  WireGuard is told their
 * real endpoints and keepalives in one transaction, and D-Bus hears of
 * them. */
static void
wake(const WgmLazyWake *wakes, guint n_wakes, gpointer user_data)
{
    WgmMesh *self                     = user_data;
    g_autoptr(WgmDeviceUpdate) update = NULL;
    gint64 now_mono;

    if (!self->running)
        return;
    now_mono = wgm_mesh_now_mono(self);
    update   = wgm_device_update_new();
    for (guint i = 0; i < n_wakes; i++)
        wake_one(self, &wakes[i], update, now_mono);
    if (update->peers->len == 0)
        return;
    lazy_apply(self, update, "waking lazy peers");
    wgm_mesh_poll_soon(self, now_mono);
    wgm_mesh_emit_changes(self);
    wgm_mesh_reschedule(self);
}

void
wgm_mesh_lazy_check(WgmMesh *self, gint64 now_mono)
{
    g_autoptr(WgmDeviceUpdate) update = NULL;
    gint64 timeout                    = (gint64)self->inactivity_timeout * G_USEC_PER_SEC;

    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        if (peer->parked && peer->state == WGM_PEER_STATE_CONNECTED) {
            /* The other side connected to us (WireGuard now has its real
             * address): awake, with its keepalive back. */
            wgm_peer_info(peer, "the other side connected: awake");
            peer->parked      = FALSE;
            peer->wanted      = TRUE;
            peer->active_mono = now_mono;
            if (peer->persistent_keepalive) {
                if (!update)
                    update = wgm_device_update_new();
                wgm_device_update_add_peer(update, &peer->public_key)->persistent_keepalive =
                    peer->persistent_keepalive;
            }
            wgm_mesh_plan_peer(self, peer, now_mono);
            continue;
        }
        if (!peer->lazy || peer->parked || !peer->has_lazy_endpoint
            || peer->state != WGM_PEER_STATE_CONNECTED || now_mono - peer->active_mono < timeout)
            continue;
        wgm_peer_info(peer,
                      "no traffic for %u s: idle until the next packet for it",
                      self->inactivity_timeout);
        if (!update)
            update = wgm_device_update_new();
        park(self, peer, update, now_mono);
    }
    if (update)
        lazy_apply(self, update, "parking inactive lazy peers");
}

void
wgm_mesh_lazy_gave_up(WgmMesh *self, WgmPeer *peer)
{
    g_autoptr(WgmDeviceUpdate) update = NULL;

    if (!peer->lazy || !peer->has_lazy_endpoint)
        return;
    update = wgm_device_update_new();
    park(self, peer, update, wgm_mesh_now_mono(self));
    lazy_apply(self, update, "parking a lazy peer that gave up");
}

/* ---- loopback addresses ------------------------------------------------- */

/* Every peer of @peers that WireGuard could reach gets a loopback address,
 * or none does (the addresses ran out). */
static gboolean
ensure_lazy_endpoints(WgmMesh *self, GPtrArray *peers, GError **error)
{
    g_autoptr(GPtrArray) added = g_ptr_array_new();

    for (guint i = 0; i < peers->len; i++) {
        WgmPeer *peer = peers->pdata[i];

        if (!peer->endpoint_host || peer->has_lazy_endpoint)
            continue;
        if (!wgm_lazy_add_peer(self->lazy, &peer->public_key, &peer->lazy_endpoint, error)) {
            for (guint j = 0; j < added->len; j++) {
                WgmPeer *undo = added->pdata[j];

                wgm_lazy_remove_peer(self->lazy, &undo->public_key);
                undo->has_lazy_endpoint = FALSE;
            }
            return FALSE;
        }
        peer->has_lazy_endpoint = TRUE;
        g_ptr_array_add(added, peer);
    }
    return TRUE;
}

static void
reserve_endpoint(WgmMesh *self, WgmPeer *peer)
{
    g_autoptr(GError) error = NULL;
    WgmIpAddr addr;

    if (!peer->endpoint_host || peer->endpoint_is_name
        || !wgm_ip_addr_parse(peer->endpoint_host, &addr))
        return;
    if (!wgm_lazy_reserve(self->lazy, &addr, &error))
        wgm_peer_warning(peer,
                         "endpoint %s collides with a lazy peer's loopback address: %s",
                         peer->endpoint_host,
                         error->message);
}

static GPtrArray *
lazy_peers(WgmMesh *self)
{
    GPtrArray *peers = g_ptr_array_new();

    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        if (peer->lazy)
            g_ptr_array_add(peers, peer);
    }
    return peers;
}

gboolean
wgm_mesh_lazy_start(WgmMesh *self, GError **error)
{
    g_autoptr(GPtrArray) peers = NULL;

    if (self->lazy)
        return TRUE;
    self->lazy = wgm_lazy_new(wake, self, error);
    if (!self->lazy)
        return FALSE;
    if (self->listen_port > 0)
        wgm_lazy_set_listen_port(self->lazy, (guint16)self->listen_port);
    /* A peer's real endpoint inside the range is never a lazy address. */
    for (guint i = 0; i < self->peers->len; i++)
        reserve_endpoint(self, self->peers->pdata[i]);
    peers = lazy_peers(self);
    if (!ensure_lazy_endpoints(self, peers, error)) {
        g_prefix_error(error, "lazy connections: ");
        return FALSE;
    }
    if (peers->len > 0)
        g_message("lazy connections: %u lazy peers, activity socket on port %u, "
                  "inactivity timeout %u s",
                  peers->len,
                  wgm_lazy_get_port(self->lazy),
                  self->inactivity_timeout);
    return TRUE;
}

void
wgm_mesh_lazy_peer_added(WgmMesh *self, WgmPeer *peer, gint64 now_mono)
{
    g_autoptr(GError) error = NULL;

    if (self->lazy)
        reserve_endpoint(self, peer);
    /* The profile's default may have been toggled since. */
    if (peer->lazy_override < 0) {
        peer->lazy   = self->lazy_connections;
        peer->wanted = !peer->lazy;
        wgm_peer_update_state(peer, wgm_mesh_now_real(self), now_mono);
    }
    if (!self->lazy || !peer->lazy || !peer->endpoint_host)
        return;
    if (!wgm_lazy_add_peer(self->lazy, &peer->public_key, &peer->lazy_endpoint, &error)) {
        wgm_peer_warning(peer, "%s: connecting it eagerly", error->message);
        peer->lazy   = FALSE;
        peer->wanted = TRUE;
        return;
    }
    peer->has_lazy_endpoint = TRUE;
    peer->parked            = TRUE;
    peer->attempt_since     = now_mono;
}

void
wgm_mesh_lazy_stop(WgmMesh *self)
{
    g_clear_pointer(&self->lazy, wgm_lazy_free);
}

/* ---- the toggles -------------------------------------------------------- */

static void
set_lazy(WgmMesh *self, WgmPeer *peer, gboolean lazy, WgmDeviceUpdate *update, gint64 now_mono)
{
    if (peer->lazy == lazy)
        return;
    peer->lazy  = lazy;
    peer->dirty = TRUE;

    if (lazy) {
        /* A live session stays until it goes inactive. */
        if (peer->state == WGM_PEER_STATE_CONNECTED) {
            peer->active_mono = now_mono;
        } else if (peer->has_lazy_endpoint) {
            park(self, peer, update, now_mono);
        } else {
            /* Nothing WireGuard could reach by itself: it waits. */
            peer->wanted = FALSE;
            wgm_peer_update_state(peer, wgm_mesh_now_real(self), now_mono);
            wgm_mesh_plan_peer(self, peer, now_mono);
        }
        return;
    }

    /* Eager: connected now, by the guard. */
    unpark(peer, now_mono);
    if (peer->has_lazy_endpoint) {
        wgm_lazy_remove_peer(self->lazy, &peer->public_key);
        peer->has_lazy_endpoint = FALSE;
    }
    peer->wanted = TRUE;
    if (peer->state != WGM_PEER_STATE_CONNECTED) {
        wgm_peer_begin_attempt(peer, now_mono, TRUE);
        wgm_peer_update_state(peer, wgm_mesh_now_real(self), now_mono);
    }
    wgm_mesh_plan_peer(self, peer, now_mono);
}

/* All of @peers lazy or eager, or (addresses ran out) none changed. */
static gboolean
set_lazy_peers(WgmMesh *self, GPtrArray *peers, gboolean lazy, GError **error)
{
    g_autoptr(WgmDeviceUpdate) update = NULL;
    gint64 now_mono                   = wgm_mesh_now_mono(self);

    if (!self->lazy) {
        g_set_error(error, WGM_ERROR, WGM_ERROR_FAILED, "the mesh is not running");
        return FALSE;
    }
    if (lazy && !ensure_lazy_endpoints(self, peers, error))
        return FALSE;
    update = wgm_device_update_new();
    for (guint i = 0; i < peers->len; i++)
        set_lazy(self, peers->pdata[i], lazy, update, now_mono);
    if (update->peers->len > 0)
        lazy_apply(self, update, "parking lazy peers");
    self->kick_pause_until = 0;
    wgm_mesh_emit_changes(self);
    wgm_mesh_reschedule(self);
    return TRUE;
}

gboolean
wgm_mesh_get_lazy_connections(WgmMesh *self)
{
    return self->lazy_connections;
}

gboolean
wgm_mesh_set_lazy_connections(WgmMesh *self, gboolean lazy, GError **error)
{
    g_autoptr(GPtrArray) following = g_ptr_array_new();

    lazy = !!lazy;
    if (self->lazy_connections == lazy)
        return TRUE;
    for (guint i = 0; i < self->peers->len; i++) {
        WgmPeer *peer = self->peers->pdata[i];

        if (peer->lazy_override < 0)
            g_ptr_array_add(following, peer);
    }
    if (!set_lazy_peers(self, following, lazy, error)) {
        g_prefix_error(error, "lazy connections: ");
        return FALSE;
    }
    self->lazy_connections = lazy;
    self->changed          = TRUE;
    g_message("lazy connections turned %s (%u of %u peers follow it)",
              lazy ? "on" : "off",
              following->len,
              self->peers->len);
    wgm_mesh_emit_changes(self);
    return TRUE;
}

gboolean
wgm_mesh_set_peer_lazy(WgmMesh *self, const WgmKey *public_key, gboolean lazy, GError **error)
{
    WgmPeer *peer            = wgm_mesh_lookup_peer(self, public_key);
    g_autoptr(GPtrArray) one = g_ptr_array_new();
    char b64[WGM_KEY_B64_LEN + 1];

    if (!peer) {
        wgm_key_to_base64(public_key, b64);
        g_set_error(
            error, WGM_ERROR, WGM_ERROR_NOT_FOUND, "the mesh has no peer with public key %s", b64);
        return FALSE;
    }
    lazy = !!lazy;
    g_ptr_array_add(one, peer);
    if (!set_lazy_peers(self, one, lazy, error))
        return FALSE;
    peer->lazy_override = lazy;
    wgm_peer_message(peer, "%s", lazy ? "lazy" : "eager (not lazy)");
    return TRUE;
}

gboolean
wgm_mesh_clear_peer_lazy(WgmMesh *self, const WgmKey *public_key, GError **error)
{
    WgmPeer *peer = wgm_mesh_lookup_peer(self, public_key);

    if (peer && peer->lazy_override < 0)
        return TRUE;
    if (!wgm_mesh_set_peer_lazy(self, public_key, self->lazy_connections, error))
        return FALSE;
    peer->lazy_override = -1;
    return TRUE;
}

guint
wgm_mesh_get_inactivity_timeout(WgmMesh *self)
{
    return self->inactivity_timeout;
}

gboolean
wgm_mesh_set_inactivity_timeout(WgmMesh *self, guint seconds, GError **error)
{
    guint min = wgm_config_inactivity_timeout_min();

    if (seconds < min || seconds > WGM_MAX_INACTIVITY_TIMEOUT) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    "%u s is out of range (expected %u-%u)",
                    seconds,
                    min,
                    (guint)WGM_MAX_INACTIVITY_TIMEOUT);
        return FALSE;
    }
    if (self->inactivity_timeout == seconds)
        return TRUE;
    self->inactivity_timeout = seconds;
    self->changed            = TRUE;
    g_message("inactivity timeout of lazy peers set to %u s", seconds);
    wgm_mesh_emit_changes(self);
    return TRUE;
}
