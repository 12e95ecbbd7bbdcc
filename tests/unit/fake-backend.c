/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "fake-backend.h"

#include <string.h>

#include "wgm-glib-utils.h"
#include "wgm-settings-keys.h"

struct _FakeBackend {
    WgmBackend  parent_instance;
    GPtrArray  *transactions; /* of FakeTransaction* */
    GHashTable *stats;        /* WgmKey* -> WgmPeerStats* (owned) */
    guint       fail_applies;
    GPtrArray  *held; /* of GTask*: applies not answered yet (hold_applies) */
    guint       fail_starts;
    guint       n_starts;
    guint       n_polls;
    gboolean    running;
};

G_DEFINE_FINAL_TYPE(FakeBackend, fake_backend, WGM_TYPE_BACKEND)

static void
transaction_free(FakeTransaction *t)
{
    g_array_unref(t->entries);
    g_free(t);
}

static void
fake_start_async(WgmBackend         *backend,
                 GCancellable       *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer            user_data)
{
    FakeBackend *self = FAKE_BACKEND(backend);
    GTask       *task = g_task_new(self, cancellable, callback, user_data);

    self->n_starts++;
    if (self->fail_starts > 0) {
        self->fail_starts--;
        wgm_task_return_error_idle(task, wgm_backend_error_new("fake start refused"));
        return;
    }
    self->running = TRUE;
    wgm_backend_set_ifindex(backend, 42);
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
}

static gboolean
fake_finish_boolean(WgmBackend *backend, GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}

static WgmPeerStats *
ensure_peer(FakeBackend *self, const WgmKey *key)
{
    WgmPeerStats *s = g_hash_table_lookup(self->stats, key);

    if (!s) {
        s             = g_new0(WgmPeerStats, 1);
        s->public_key = *key;
        g_hash_table_insert(self->stats, &s->public_key, s);
    }
    return s;
}

/* Like WireGuard, report every peer it was given, with zeros at first. */
static void
track_peers(FakeBackend *self, const FakeTransaction *t)
{
    if (t->replace_peers)
        g_hash_table_remove_all(self->stats);
    for (guint i = 0; i < t->entries->len; i++) {
        const FakeEntry *e = &g_array_index(t->entries, FakeEntry, i);

        if (e->remove)
            g_hash_table_remove(self->stats, &e->public_key);
        else
            ensure_peer(self, &e->public_key);
    }
}

static void
fake_apply_async(WgmBackend            *backend,
                 const WgmDeviceUpdate *update,
                 GCancellable          *cancellable,
                 GAsyncReadyCallback    callback,
                 gpointer               user_data)
{
    FakeBackend     *self = FAKE_BACKEND(backend);
    GTask           *task = g_task_new(self, cancellable, callback, user_data);
    FakeTransaction *t;

    if (!self->running || self->fail_applies > 0) {
        if (self->running)
            self->fail_applies--;
        wgm_task_return_error_idle(task, wgm_backend_error_new("fake apply refused"));
        return;
    }
    t                = g_new0(FakeTransaction, 1);
    t->replace_peers = update->replace_peers;
    t->listen_port   = update->listen_port;
    t->entries       = g_array_new(FALSE, TRUE, sizeof(FakeEntry));
    for (guint i = 0; i < update->peers->len; i++) {
        const WgmPeerUpdate *pu = update->peers->pdata[i];
        FakeEntry            e  = {
                        .public_key    = pu->public_key,
                        .remove        = pu->remove,
                        .kick          = pu->kick,
                        .has_endpoint  = pu->has_endpoint,
                        .endpoint      = pu->endpoint,
                        .n_allowed_ips = pu->allowed_ips ? pu->allowed_ips->len : 0,
        };

        g_array_append_val(t->entries, e);
    }
    g_ptr_array_add(self->transactions, t);
    track_peers(self, t);
    if (self->held) {
        g_ptr_array_add(self->held, task);
        return;
    }
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
}

static void
fake_get_stats_async(WgmBackend         *backend,
                     GCancellable       *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer            user_data)
{
    FakeBackend    *self  = FAKE_BACKEND(backend);
    GTask          *task  = g_task_new(self, cancellable, callback, user_data);
    WgmDeviceStats *stats = wgm_device_stats_new();
    GHashTableIter  iter;
    gpointer        value;

    self->n_polls++;
    if (!self->running) {
        wgm_device_stats_free(stats);
        wgm_task_return_error_idle(task, wgm_backend_error_new("fake backend not running"));
        return;
    }
    stats->listen_port = 51820;
    g_hash_table_iter_init(&iter, self->stats);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_array_append_val(stats->peers, *(WgmPeerStats *)value);
    g_task_return_pointer(task, stats, (GDestroyNotify)wgm_device_stats_free);
    g_object_unref(task);
}

static WgmDeviceStats *
fake_get_stats_finish(WgmBackend *backend, GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

static void
fake_stop(WgmBackend *backend)
{
    FAKE_BACKEND(backend)->running = FALSE;
}

static void
fake_wait_stopped(WgmBackend *backend, guint timeout_ms)
{
}

FakeBackend *
fake_backend_new(void)
{
    return g_object_new(FAKE_TYPE_BACKEND, "ifname", "wgmtest0", NULL);
}

static void
fake_backend_init(FakeBackend *self)
{
    self->transactions = g_ptr_array_new_with_free_func((GDestroyNotify)transaction_free);
    self->stats        = g_hash_table_new_full(wgm_key_hash, wgm_key_equal_func, NULL, g_free);
}

static void
fake_backend_finalize(GObject *object)
{
    FakeBackend *self = FAKE_BACKEND(object);

    g_ptr_array_unref(self->transactions);
    g_hash_table_unref(self->stats);
    G_OBJECT_CLASS(fake_backend_parent_class)->finalize(object);
}

static void
fake_backend_class_init(FakeBackendClass *klass)
{
    GObjectClass    *object_class  = G_OBJECT_CLASS(klass);
    WgmBackendClass *backend_class = WGM_BACKEND_CLASS(klass);

    object_class->finalize          = fake_backend_finalize;
    backend_class->name             = "fake";
    backend_class->start_async      = fake_start_async;
    backend_class->start_finish     = fake_finish_boolean;
    backend_class->apply_async      = fake_apply_async;
    backend_class->apply_finish     = fake_finish_boolean;
    backend_class->get_stats_async  = fake_get_stats_async;
    backend_class->get_stats_finish = fake_get_stats_finish;
    backend_class->stop             = fake_stop;
    backend_class->wait_stopped     = fake_wait_stopped;
}

GPtrArray *
fake_backend_get_transactions(FakeBackend *self)
{
    return self->transactions;
}

void
fake_backend_clear_transactions(FakeBackend *self)
{
    g_ptr_array_set_size(self->transactions, 0);
}

guint
fake_backend_get_n_starts(FakeBackend *self)
{
    return self->n_starts;
}

guint
fake_backend_get_n_polls(FakeBackend *self)
{
    return self->n_polls;
}

void
fake_backend_set_peer(FakeBackend  *self,
                      const WgmKey *key,
                      gint64        last_handshake,
                      guint64       rx,
                      guint64       tx)
{
    WgmPeerStats *s = ensure_peer(self, key);

    s->last_handshake_usec = last_handshake;
    s->rx_bytes            = rx;
    s->tx_bytes            = tx;
}

void
fake_backend_hold_applies(FakeBackend *self)
{
    if (!self->held)
        self->held = g_ptr_array_new();
}

void
fake_backend_release_applies(FakeBackend *self)
{
    g_autoptr(GPtrArray) held = g_steal_pointer(&self->held);

    for (guint i = 0; held && i < held->len; i++) {
        g_task_return_boolean(held->pdata[i], TRUE);
        g_object_unref(held->pdata[i]);
    }
}

void
fake_backend_fail_applies(FakeBackend *self, guint n)
{
    self->fail_applies = n;
}

void
fake_backend_fail_starts(FakeBackend *self, guint n)
{
    self->fail_starts = n;
}

void
fake_backend_die(FakeBackend *self, const char *why)
{
    g_autoptr(GError) error = wgm_backend_error_new("%s", why);

    self->running = FALSE;
    g_hash_table_remove_all(self->stats);
    wgm_backend_emit_died(WGM_BACKEND(self), error);
}

guint
fake_transaction_count(const FakeTransaction *t, const WgmKey *key, gboolean remove, gboolean kick)
{
    guint n = 0;

    for (guint i = 0; i < t->entries->len; i++) {
        const FakeEntry *e = &g_array_index(t->entries, FakeEntry, i);

        if (wgm_key_equal(&e->public_key, key) && e->remove == remove && e->kick == kick)
            n++;
    }
    return n;
}

static gint64
clock_mono(gpointer user_data)
{
    return *(const gint64 *)user_data;
}

gint64
fake_clock_real(const gint64 *mono)
{
    return FAKE_REAL0 + (*mono - FAKE_MONO0);
}

static gint64
clock_real(gpointer user_data)
{
    return fake_clock_real(user_data);
}

WgmMeshClock
fake_clock(gint64 *mono)
{
    return (WgmMeshClock){ clock_mono, clock_real, mono };
}

void
fake_peer_key(guint i, WgmKey *key)
{
    memset(key, 0, sizeof(*key));
    key->bytes[0] = 0x10;
    key->bytes[1] = i & 0xff;
    key->bytes[2] = (i >> 8) & 0xff;
}

void
fake_iterate(void)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

void
fake_run_until(WgmMesh *mesh, gint64 *mono, gint64 end)
{
    for (;;) {
        gint64 next = wgm_mesh_get_next_deadline(mesh);

        if (next > end)
            break;
        *mono = MAX(*mono, next);
        wgm_mesh_dispatch(mesh);
        fake_iterate();
    }
    *mono = MAX(*mono, end);
    wgm_mesh_dispatch(mesh);
    fake_iterate();
}

NMSettingVpn *
fake_vpn_setting_new(void)
{
    NMSettingVpn *s = NM_SETTING_VPN(nm_setting_vpn_new());

    g_object_set(s, NM_SETTING_VPN_SERVICE_TYPE, WGM_VPN_SERVICE_TYPE, NULL);
    nm_setting_vpn_add_secret(
        s, WGM_KEY_PRIVATE_KEY, "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=");
    nm_setting_vpn_add_data_item(s, WGM_KEY_ADDRESS, "10.0.0.1/8");
    return s;
}
