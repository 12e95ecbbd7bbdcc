/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-profile-watch.h"

#include "wgm-glib-utils.h"

struct _WgmProfileWatch {
    GObject parent_instance;

    char               *uuid;
    GCancellable       *cancellable; /* the client's start and every secrets fetch */
    NMClient           *client;
    NMRemoteConnection *profile;
    gulong              changed_id;
    gboolean            fetching; /* a secrets fetch is under way */
    gboolean            again;    /* and another edit came meanwhile */
    GSource            *settle;   /* a burst of "changed" (one per property) ends */
    GVariant           *last;     /* the settings (no secrets) last handed over */
    GDBusConnection    *bus;
    guint               updated_id;  /* NetworkManager's Updated signal of the profile */
    gboolean            updated;     /* it came since the last fetch */
    gint64              quiet_until; /* monotonic: the next Updated before is our fetch's */
    GVariant           *initial;     /* the vpn.data the mesh started from, until watched */
};

/*
 * What counts as an edit: NetworkManager's Updated signal of the profile
 * (an edit of settings or secrets), or a change of its settings.  The
 * NMConnection's "changed" alone is not one: it comes for every property
 * replaced, and after each secrets fetch too; and NetworkManager 1.42
 * signals Updated after each GetSecrets as well (measured: fetching on
 * either fetched again every 57 ms).  So an Updated signal during a fetch,
 * and the first within OWN_UPDATE_MS after it, are taken for the fetch's
 * own; an edit of secrets alone in that moment goes unnoticed until the
 * next edit.  Both are looked at once a burst is over.
 */
#define SETTLE_MS                    50
#define OWN_UPDATE_MS                500
#define NM_SETTINGS_CONNECTION_IFACE "org.freedesktop.NetworkManager.Settings.Connection"

G_DEFINE_FINAL_TYPE(WgmProfileWatch, wgm_profile_watch, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

#define WATCH_KEY "wgm-profile-watch"

static void fetch(WgmProfileWatch *self);

/* Callbacks get a reference to the cancellable, which dispose cancels:
 * uncancelled, it carries the watch. */
static WgmProfileWatch *
watch_from(GCancellable *cancellable)
{
    return g_cancellable_is_cancelled(cancellable)
               ? NULL
               : g_object_get_data(G_OBJECT(cancellable), WATCH_KEY);
}

static void
secrets_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GCancellable) cancellable = user_data;
    g_autoptr(GError) error             = NULL;
    g_autoptr(GVariant) secrets         = NULL;
    g_autoptr(NMConnection) copy        = NULL;
    WgmProfileWatch *self;

    secrets = nm_remote_connection_get_secrets_finish(NM_REMOTE_CONNECTION(source), result, &error);
    self    = watch_from(cancellable);
    if (!self)
        return;
    self->fetching    = FALSE;
    self->quiet_until = g_get_monotonic_time() + OWN_UPDATE_MS * 1000;
    copy              = nm_simple_connection_new_clone(NM_CONNECTION(self->profile));
    if (!secrets
        || !nm_connection_update_secrets(copy, NM_SETTING_VPN_SETTING_NAME, secrets, &error))
        /* Without them the profile lacks its private key: the mesh says so
         * when it checks the profile, and nothing is applied. */
        g_warning("profile %s was edited, but its secrets could not be read: %s",
                  self->uuid,
                  error ? error->message : "no secrets");
    if (self->again) {
        self->again = FALSE;
        fetch(self);
    } else
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0, copy);
}

static void
fetch(WgmProfileWatch *self)
{
    if (self->fetching) {
        self->again = TRUE;
        return;
    }
    self->fetching = TRUE;
    nm_remote_connection_get_secrets_async(self->profile,
                                           NM_SETTING_VPN_SETTING_NAME,
                                           self->cancellable,
                                           secrets_cb,
                                           g_object_ref(self->cancellable));
}

/* What of a profile the service runs from: its vpn.data (secrets are
 * fetched with each edit). */
static GVariant *
settings_of(NMConnection *connection)
{
    g_autoptr(GVariant) all =
        g_variant_ref_sink(nm_connection_to_dbus(connection, NM_CONNECTION_SERIALIZE_NO_SECRETS));
    g_autoptr(GVariant) vpn =
        all ? g_variant_lookup_value(all, NM_SETTING_VPN_SETTING_NAME, NULL) : NULL;
    GVariant *data = vpn ? g_variant_lookup_value(vpn, NM_SETTING_VPN_DATA, NULL) : NULL;

    return data ? data : g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{ss}"), NULL, 0));
}

static gboolean
settled_cb(gpointer user_data)
{
    WgmProfileWatch *self        = user_data;
    g_autoptr(GVariant) settings = settings_of(NM_CONNECTION(self->profile));

    g_clear_pointer(&self->settle, g_source_unref);
    if (!self->updated && self->last && g_variant_equal(settings, self->last))
        return G_SOURCE_REMOVE;
    self->updated = FALSE;
    g_clear_pointer(&self->last, g_variant_unref);
    self->last = g_steal_pointer(&settings);
    g_debug("profile %s was edited", self->uuid);
    fetch(self);
    return G_SOURCE_REMOVE;
}

static void
profile_changed_cb(NMConnection *connection, gpointer user_data)
{
    WgmProfileWatch *self = user_data;

    wgm_clear_source(&self->settle);
    self->settle =
        wgm_source_attach(g_timeout_source_new(SETTLE_MS), settled_cb, self, "wgm-profile-settle");
}

static void
updated_cb(GDBusConnection *bus,
           const char      *sender,
           const char      *path,
           const char      *iface,
           const char      *signal,
           GVariant        *params,
           gpointer         user_data)
{
    WgmProfileWatch *self = user_data;

    if (self->fetching)
        return;
    /* The first one after our fetch is its own. */
    if (g_get_monotonic_time() < self->quiet_until) {
        self->quiet_until = 0;
        return;
    }
    self->updated = TRUE;
    profile_changed_cb(NM_CONNECTION(self->profile), self);
}

static void
watch_profile(WgmProfileWatch *self)
{
    NMRemoteConnection *profile = nm_client_get_connection_by_uuid(self->client, self->uuid);

    if (!profile || profile == self->profile)
        return;
    if (self->profile)
        g_clear_signal_handler(&self->changed_id, self->profile);
    g_set_object(&self->profile, profile);
    g_clear_pointer(&self->last, g_variant_unref);
    /* What the mesh was started from: an edit made meanwhile is one. */
    self->last =
        self->initial ? g_steal_pointer(&self->initial) : settings_of(NM_CONNECTION(profile));
    self->changed_id =
        g_signal_connect(profile, NM_CONNECTION_CHANGED, G_CALLBACK(profile_changed_cb), self);
    if (self->updated_id)
        g_dbus_connection_signal_unsubscribe(self->bus, self->updated_id);
    self->updated_id = g_dbus_connection_signal_subscribe(self->bus,
                                                          NM_DBUS_SERVICE,
                                                          NM_SETTINGS_CONNECTION_IFACE,
                                                          "Updated",
                                                          nm_object_get_path(NM_OBJECT(profile)),
                                                          NULL,
                                                          G_DBUS_SIGNAL_FLAGS_NONE,
                                                          updated_cb,
                                                          self,
                                                          NULL);
    {
        g_autoptr(GVariant) now = settings_of(NM_CONNECTION(profile));

        if (!g_variant_equal(now, self->last))
            profile_changed_cb(NM_CONNECTION(profile), self);
    }
    g_debug("watching profile %s for edits", self->uuid);
}

static void
connection_added_cb(NMClient *client, NMRemoteConnection *connection, gpointer user_data)
{
    watch_profile(user_data);
}

static void
client_ready_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GCancellable) cancellable = user_data;
    g_autoptr(GError) error             = NULL;
    g_autoptr(GObject) client =
        g_async_initable_new_finish(G_ASYNC_INITABLE(source), result, &error);
    WgmProfileWatch *self = watch_from(cancellable);

    if (!self)
        return;
    if (!client) {
        g_message("cannot watch profile %s for edits: %s", self->uuid, error->message);
        return;
    }
    self->client = NM_CLIENT(g_steal_pointer(&client));
    g_signal_connect(
        self->client, NM_CLIENT_CONNECTION_ADDED, G_CALLBACK(connection_added_cb), self);
    watch_profile(self);
    if (!self->profile && nm_client_get_nm_running(self->client))
        g_message("profile %s is not among NetworkManager's: its edits go unnoticed", self->uuid);
}

WgmProfileWatch *
wgm_profile_watch_new(GDBusConnection *bus, const char *uuid, NMConnection *started_from)
{
    WgmProfileWatch *self;

    g_return_val_if_fail(G_IS_DBUS_CONNECTION(bus), NULL);
    g_return_val_if_fail(uuid != NULL, NULL);

    self              = g_object_new(WGM_TYPE_PROFILE_WATCH, NULL);
    self->uuid        = g_strdup(uuid);
    self->cancellable = g_cancellable_new();
    self->bus         = g_object_ref(bus);
    self->initial     = started_from ? settings_of(started_from) : NULL;
    g_object_set_data(G_OBJECT(self->cancellable), WATCH_KEY, self);
    /* Never a _sync call: NetworkManager may be slow, or not there. */
    g_async_initable_new_async(NM_TYPE_CLIENT,
                               G_PRIORITY_DEFAULT,
                               self->cancellable,
                               client_ready_cb,
                               g_object_ref(self->cancellable),
                               NM_CLIENT_DBUS_CONNECTION,
                               bus,
                               NULL);
    return self;
}

static void
wgm_profile_watch_init(WgmProfileWatch *self)
{
}

static void
wgm_profile_watch_dispose(GObject *object)
{
    WgmProfileWatch *self = WGM_PROFILE_WATCH(object);

    if (self->cancellable)
        g_cancellable_cancel(self->cancellable);
    wgm_clear_source(&self->settle);
    g_clear_pointer(&self->last, g_variant_unref);
    g_clear_pointer(&self->initial, g_variant_unref);
    if (self->updated_id) {
        g_dbus_connection_signal_unsubscribe(self->bus, self->updated_id);
        self->updated_id = 0;
    }
    if (self->profile)
        g_clear_signal_handler(&self->changed_id, self->profile);
    if (self->client)
        g_signal_handlers_disconnect_by_data(self->client, self);
    g_clear_object(&self->profile);
    g_clear_object(&self->client);
    G_OBJECT_CLASS(wgm_profile_watch_parent_class)->dispose(object);
}

static void
wgm_profile_watch_finalize(GObject *object)
{
    WgmProfileWatch *self = WGM_PROFILE_WATCH(object);

    g_clear_object(&self->cancellable);
    g_clear_object(&self->bus);
    g_free(self->uuid);
    G_OBJECT_CLASS(wgm_profile_watch_parent_class)->finalize(object);
}

static void
wgm_profile_watch_class_init(WgmProfileWatchClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->dispose  = wgm_profile_watch_dispose;
    object_class->finalize = wgm_profile_watch_finalize;

    signals[SIGNAL_CHANGED] = g_signal_new("changed",
                                           G_TYPE_FROM_CLASS(klass),
                                           G_SIGNAL_RUN_LAST,
                                           0,
                                           NULL,
                                           NULL,
                                           NULL,
                                           G_TYPE_NONE,
                                           1,
                                           NM_TYPE_CONNECTION);
}
