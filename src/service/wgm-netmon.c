/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-netmon.h"

#include <NetworkManager.h>

#include "wgm-glib-utils.h"
#include "wgm-settings-keys.h"

#define LOGIND_NAME  "org.freedesktop.login1"
#define LOGIND_PATH  "/org/freedesktop/login1"
#define LOGIND_IFACE "org.freedesktop.login1.Manager"

/* A burst that never calms down (a flapping link) is still reported, at
 * most this many quiet times after its first change. */
#define MAX_DELAY_FACTOR 10

#define INIT_DATA_KEY "wgm-netmon"

enum {
    SIGNAL_NETWORK_CHANGED,
    N_SIGNALS,
};

static guint signals[N_SIGNALS];

/* One pending change; a later change with the same key replaces the text
 * but keeps the place.  A NULL text is worked out when the quiet time ends
 * (settle_state()). */
typedef struct {
    char *key;
    char *text;
} Change;

/* A device we watch and the IP configurations we are connected to. */
typedef struct {
    WgmNetmon  *self;
    NMDevice   *device;
    NMIPConfig *config[2]; /* IPv4, IPv6 */
    gboolean    was_active;
    char       *signature; /* addresses and gateways, as last seen */
} DeviceWatch;

struct _WgmNetmon {
    GObject parent_instance;

    GDBusConnection *bus;
    char            *ignore_ifname;
    gint64           debounce_us;

    GCancellable *init_cancellable; /* while NMClient initialises */
    NMClient     *client;
    GHashTable   *devices; /* NMDevice -> DeviceWatch */
    /* As last reported: the primary connection not ours ("none" if none),
     * the connectivity. */
    char               *primary;
    NMConnectivityState connectivity;
    gboolean            nm_missing_logged;

    guint    sleep_subscription;
    guint    logind_watch;
    gboolean logind_missing_logged;

    GSource   *timer; /* ready time: end of the quiet time, -1 when idle */
    gint64     burst_start;
    GPtrArray *pending; /* of Change */
};

G_DEFINE_FINAL_TYPE(WgmNetmon, wgm_netmon, G_TYPE_OBJECT)

static char *settle_state(WgmNetmon *self, const char *key);

/*****************************************************************************/
/* Coalescing */

static void
change_free(Change *change)
{
    g_free(change->key);
    g_free(change->text);
    g_free(change);
}

static gboolean
timer_cb(gpointer user_data)
{
    WgmNetmon *self         = user_data;
    g_autoptr(GString) what = g_string_new(NULL);

    for (guint i = 0; i < self->pending->len; i++) {
        const Change    *change  = self->pending->pdata[i];
        g_autofree char *settled = change->text ? NULL : settle_state(self, change->key);
        const char      *text    = change->text ?: settled;

        if (!text)
            continue;
        if (what->len)
            g_string_append(what, ", ");
        g_string_append(what, text);
    }
    g_ptr_array_set_size(self->pending, 0);
    self->burst_start = 0;
    if (!what->len) {
        g_debug("netmon: the changes cancelled out");
        return G_SOURCE_CONTINUE;
    }

    g_message("network changed: %s", what->str);
    /* The last use of self: a handler may drop the monitor. */
    g_signal_emit(self, signals[SIGNAL_NETWORK_CHANGED], 0, what->str);
    return G_SOURCE_CONTINUE;
}

/* Records a change (@text taken; NULL: compare the state with the last
 * report when the quiet time ends) and (re)arms the timer to the end of
 * the quiet time: GLib's queue_network_changed with a trailing edge. */
static void
note_change(WgmNetmon *self, const char *key, char *text)
{
    gint64  now = g_get_monotonic_time();
    Change *change;

    g_debug("netmon: %s", text ?: key);
    for (guint i = 0; i < self->pending->len; i++) {
        change = self->pending->pdata[i];
        if (g_str_equal(change->key, key)) {
            g_free(change->text);
            change->text = text;
            goto arm;
        }
    }
    change       = g_new(Change, 1);
    change->key  = g_strdup(key);
    change->text = text;
    g_ptr_array_add(self->pending, change);

arm:
    if (!self->burst_start)
        self->burst_start = now;
    if (!self->timer) {
        self->timer =
            wgm_source_attach(wgm_ready_time_source_new(), timer_cb, self, "wgm-netmon-debounce");
    }
    g_source_set_ready_time(
        self->timer,
        MIN(now + self->debounce_us, self->burst_start + MAX_DELAY_FACTOR * self->debounce_us));
}

/*****************************************************************************/
/* What belongs to the mesh itself */

static gboolean
is_ignored_device(WgmNetmon *self, NMDevice *device)
{
    return self->ignore_ifname
           && (g_strcmp0(nm_device_get_iface(device), self->ignore_ifname) == 0
               || g_strcmp0(nm_device_get_ip_iface(device), self->ignore_ifname) == 0);
}

static gboolean
configs_share_address(NMIPConfig *a, NMIPConfig *b)
{
    GPtrArray *aa = nm_ip_config_get_addresses(a);
    GPtrArray *ba = nm_ip_config_get_addresses(b);

    for (guint i = 0; i < aa->len; i++) {
        for (guint j = 0; j < ba->len; j++) {
            if (g_str_equal(nm_ip_address_get_address(aa->pdata[i]),
                            nm_ip_address_get_address(ba->pdata[j])))
                return TRUE;
        }
    }
    return FALSE;
}

/* NetworkManager does not say which interface a VPN's IP configuration went
 * to (its Devices are the ones it runs over); a VPN of our type counts as
 * the mesh itself unless its addresses are not those of the mesh's
 * interface (another mesh, on another interface). */
static gboolean
vpn_runs_elsewhere(WgmNetmon *self, NMActiveConnection *ac)
{
    NMDevice *device = nm_client_get_device_by_iface(self->client, self->ignore_ifname);
    gboolean  known  = FALSE;

    if (!device)
        return FALSE;
    for (int i = 0; i < 2; i++) {
        NMIPConfig *vpn =
            i ? nm_active_connection_get_ip6_config(ac) : nm_active_connection_get_ip4_config(ac);
        NMIPConfig *own = i ? nm_device_get_ip6_config(device) : nm_device_get_ip4_config(device);

        if (!vpn || !own || !nm_ip_config_get_addresses(vpn)->len
            || !nm_ip_config_get_addresses(own)->len)
            continue;
        if (configs_share_address(vpn, own))
            return FALSE;
        known = TRUE;
    }
    return known;
}

/* The mesh coming up must not count as a change of the network: its own
 * interface (with the connection NetworkManager makes up for it) and its own
 * VPN connection are not the host's network. */
static gboolean
is_own_connection(WgmNetmon *self, NMActiveConnection *ac)
{
    const GPtrArray    *devices = nm_active_connection_get_devices(ac);
    NMRemoteConnection *connection;
    NMSettingVpn       *s_vpn;

    if (!self->ignore_ifname)
        return FALSE;
    if (!nm_active_connection_get_vpn(ac)) {
        for (guint i = 0; devices && i < devices->len; i++) {
            if (is_ignored_device(self, devices->pdata[i]))
                return TRUE;
        }
        return FALSE;
    }
    connection = nm_active_connection_get_connection(ac);
    s_vpn      = connection ? nm_connection_get_setting_vpn(NM_CONNECTION(connection)) : NULL;
    if (!s_vpn || g_strcmp0(nm_setting_vpn_get_service_type(s_vpn), WGM_VPN_SERVICE_TYPE) != 0)
        return FALSE;
    return !vpn_runs_elsewhere(self, ac);
}

static gboolean
nm_running(WgmNetmon *self)
{
    return self->client && nm_client_get_nm_running(self->client);
}

/*****************************************************************************/
/* Devices and their IP configuration */

static gboolean
device_is_active(NMDevice *device)
{
    return nm_device_get_active_connection(device)
           || nm_device_get_state(device) == NM_DEVICE_STATE_ACTIVATED;
}

static const char *
device_name(NMDevice *device)
{
    const char *name = nm_device_get_ip_iface(device);

    return name && *name ? name : nm_device_get_iface(device);
}

static void
append_config(GString *out, NMIPConfig *config)
{
    GPtrArray *addresses = config ? nm_ip_config_get_addresses(config) : NULL;

    for (guint i = 0; addresses && i < addresses->len; i++) {
        NMIPAddress *a = addresses->pdata[i];

        g_string_append_printf(
            out, "%s/%u,", nm_ip_address_get_address(a), nm_ip_address_get_prefix(a));
    }
    g_string_append_printf(out, "gw=%s;", (config ? nm_ip_config_get_gateway(config) : NULL) ?: "");
}

/* What of a device's IP configuration can move a WireGuard path: its
 * addresses and gateways.  Routes alone never count: NetworkManager adds
 * host routes to the VPN's gateway on the uplink when the mesh itself comes
 * up, and may publish a new configuration object with nothing else new. */
static char *
device_signature(DeviceWatch *watch)
{
    GString *out = g_string_new(NULL);

    append_config(out, watch->config[0]);
    append_config(out, watch->config[1]);
    return g_string_free(out, FALSE);
}

/* A change counts while the device is active, and once more when it stops
 * being so (it lost its addresses). */
static void
device_changed(DeviceWatch *watch)
{
    WgmNetmon       *self      = watch->self;
    gboolean         active    = device_is_active(watch->device);
    g_autofree char *signature = device_signature(watch);
    gboolean         same      = g_strcmp0(signature, watch->signature) == 0;

    g_free(watch->signature);
    watch->signature = g_steal_pointer(&signature);
    if (same && active == watch->was_active)
        return;
    if ((active || watch->was_active) && nm_running(self)) {
        const char      *name = device_name(watch->device);
        g_autofree char *key  = g_strconcat("ip:", name, NULL);

        note_change(self, key, g_strdup_printf("ip config of %s", name));
    }
    watch->was_active = active;
}

static void
config_changed_cb(GObject *config, GParamSpec *pspec, gpointer user_data)
{
    device_changed(user_data);
}

static void
watch_config(DeviceWatch *watch, int i, NMIPConfig *config)
{
    if (watch->config[i] == config)
        return;
    if (watch->config[i]) {
        g_signal_handlers_disconnect_by_data(watch->config[i], watch);
        g_clear_object(&watch->config[i]);
    }
    if (!config)
        return;
    watch->config[i] = g_object_ref(config);
    g_signal_connect(
        config, "notify::" NM_IP_CONFIG_ADDRESSES, G_CALLBACK(config_changed_cb), watch);
    g_signal_connect(config, "notify::" NM_IP_CONFIG_GATEWAY, G_CALLBACK(config_changed_cb), watch);
}

static void
device_config_cb(NMDevice *device, GParamSpec *pspec, gpointer user_data)
{
    DeviceWatch *watch = user_data;
    NMIPConfig  *ip4   = nm_device_get_ip4_config(device);
    NMIPConfig  *ip6   = nm_device_get_ip6_config(device);

    if (ip4 == watch->config[0] && ip6 == watch->config[1])
        return;
    watch_config(watch, 0, ip4);
    watch_config(watch, 1, ip6);
    device_changed(watch);
}

static void
device_watch_free(DeviceWatch *watch)
{
    watch_config(watch, 0, NULL);
    watch_config(watch, 1, NULL);
    g_signal_handlers_disconnect_by_data(watch->device, watch);
    g_object_unref(watch->device);
    g_free(watch->signature);
    g_free(watch);
}

/* A device that appears counts only once its IP configuration changes:
 * when NetworkManager restarts, every device appears again, unchanged. */
static void
watch_device(WgmNetmon *self, NMDevice *device)
{
    DeviceWatch *watch;

    if (is_ignored_device(self, device) || g_hash_table_contains(self->devices, device))
        return;
    watch             = g_new0(DeviceWatch, 1);
    watch->self       = self;
    watch->device     = g_object_ref(device);
    watch->was_active = device_is_active(device);
    watch_config(watch, 0, nm_device_get_ip4_config(device));
    watch_config(watch, 1, nm_device_get_ip6_config(device));
    watch->signature = device_signature(watch);
    g_signal_connect(device, "notify::" NM_DEVICE_IP4_CONFIG, G_CALLBACK(device_config_cb), watch);
    g_signal_connect(device, "notify::" NM_DEVICE_IP6_CONFIG, G_CALLBACK(device_config_cb), watch);
    g_hash_table_insert(self->devices, device, watch);
}

static void
device_added_cb(NMClient *client, NMDevice *device, gpointer user_data)
{
    watch_device(user_data, device);
}

static void
device_removed_cb(NMClient *client, NMDevice *device, gpointer user_data)
{
    WgmNetmon   *self  = user_data;
    DeviceWatch *watch = g_hash_table_lookup(self->devices, device);

    if (!watch)
        return;
    if (watch->was_active && nm_running(self)) {
        const char      *name = device_name(device);
        g_autofree char *key  = g_strconcat("ip:", name, NULL);

        note_change(self, key, g_strdup_printf("device %s removed", name));
    }
    g_hash_table_remove(self->devices, device);
}

/*****************************************************************************/
/* NetworkManager */

/* A device's connection by its interface, a VPN by its name (it runs over
 * the device that was primary before). */
static const char *
connection_name(NMActiveConnection *ac)
{
    const GPtrArray *devices = ac ? nm_active_connection_get_devices(ac) : NULL;

    if (!ac)
        return "none";
    if (!nm_active_connection_get_vpn(ac) && devices && devices->len)
        return device_name(devices->pdata[0]);
    return nm_active_connection_get_id(ac) ?: "?";
}

/* The primary connection's name, NULL if it is the mesh's own. */
static const char *
primary_name(WgmNetmon *self)
{
    NMActiveConnection *ac = nm_client_get_primary_connection(self->client);

    return ac && is_own_connection(self, ac) ? NULL : connection_name(ac);
}

static const char *
connectivity_name(NMConnectivityState state)
{
    switch (state) {
    case NM_CONNECTIVITY_NONE:
        return "none";
    case NM_CONNECTIVITY_PORTAL:
        return "portal";
    case NM_CONNECTIVITY_LIMITED:
        return "limited";
    case NM_CONNECTIVITY_FULL:
        return "full";
    default:
        return "unknown";
    }
}

/* Compared only when the quiet time ends: libnm shows a primary connection
 * whose objects are still being read as none for a moment, and a value
 * back where it was is no change. */
static char *
settle_state(WgmNetmon *self, const char *key)
{
    char *text = NULL;

    if (!nm_running(self))
        return NULL;
    if (g_str_equal(key, "primary")) {
        const char *name = primary_name(self);

        if (!name || g_str_equal(name, self->primary))
            return NULL;
        text = g_strdup_printf("primary connection %s -> %s", self->primary, name);
        g_free(self->primary);
        self->primary = g_strdup(name);
    } else if (g_str_equal(key, "connectivity")) {
        NMConnectivityState state = nm_client_get_connectivity(self->client);

        if (state == self->connectivity)
            return NULL;
        text               = g_strdup_printf("connectivity %s", connectivity_name(state));
        self->connectivity = state;
    }
    return text;
}

static void
primary_changed_cb(NMClient *client, GParamSpec *pspec, gpointer user_data)
{
    if (nm_running(user_data))
        note_change(user_data, "primary", NULL);
}

static void
connectivity_changed_cb(NMClient *client, GParamSpec *pspec, gpointer user_data)
{
    if (nm_running(user_data))
        note_change(user_data, "connectivity", NULL);
}

/* While NetworkManager is away nothing counts and the last state is kept:
 * coming back unchanged (a restart) is no change either. */
static void
nm_running_changed_cb(NMClient *client, GParamSpec *pspec, gpointer user_data)
{
    WgmNetmon *self = user_data;

    if (nm_client_get_nm_running(client))
        g_info("NetworkManager appeared on the bus: watching it");
    else if (!self->nm_missing_logged)
        g_message("NetworkManager left the bus: only resume from sleep counts until it is back");
    else
        g_info("NetworkManager left the bus");
    self->nm_missing_logged = TRUE;
}

static void
client_start(WgmNetmon *self)
{
    const GPtrArray *devices = nm_client_get_devices(self->client);

    g_signal_connect(self->client,
                     "notify::" NM_CLIENT_PRIMARY_CONNECTION,
                     G_CALLBACK(primary_changed_cb),
                     self);
    g_signal_connect(
        self->client, "notify::" NM_CLIENT_CONNECTIVITY, G_CALLBACK(connectivity_changed_cb), self);
    g_signal_connect(
        self->client, "notify::" NM_CLIENT_NM_RUNNING, G_CALLBACK(nm_running_changed_cb), self);
    g_signal_connect(self->client, "device-added", G_CALLBACK(device_added_cb), self);
    g_signal_connect(self->client, "device-removed", G_CALLBACK(device_removed_cb), self);

    if (!nm_client_get_nm_running(self->client)) {
        g_message("NetworkManager is not running: only resume from sleep counts until it "
                  "appears");
        self->nm_missing_logged = TRUE;
        return;
    }
    for (guint i = 0; i < devices->len; i++)
        watch_device(self, devices->pdata[i]);
    if (primary_name(self)) {
        g_free(self->primary);
        self->primary = g_strdup(primary_name(self));
    }
    self->connectivity = nm_client_get_connectivity(self->client);
    g_info("NetworkManager %s: watching primary connection %s, connectivity %s, %u devices",
           nm_client_get_version(self->client) ?: "(unknown version)",
           self->primary,
           connectivity_name(self->connectivity),
           g_hash_table_size(self->devices));
}

/* @user_data: a reference to the init cancellable, which dispose cancels;
 * uncancelled, it carries the monitor. */
static void
client_ready_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GCancellable) cancellable = user_data;
    g_autoptr(GError) error             = NULL;
    g_autoptr(GObject) client           = NULL;
    WgmNetmon *self;

    client = g_async_initable_new_finish(G_ASYNC_INITABLE(source), result, &error);
    if (g_cancellable_is_cancelled(cancellable))
        return;
    self = g_object_get_data(G_OBJECT(cancellable), INIT_DATA_KEY);
    g_clear_object(&self->init_cancellable);
    if (!client) {
        g_message("cannot watch NetworkManager (%s): only resume from sleep counts",
                  error->message);
        self->nm_missing_logged = TRUE;
        return;
    }
    self->client = NM_CLIENT(g_steal_pointer(&client));
    client_start(self);
}

/*****************************************************************************/
/* logind */

static void
prepare_for_sleep_cb(GDBusConnection *connection,
                     const char      *sender,
                     const char      *path,
                     const char      *interface,
                     const char      *signal,
                     GVariant        *parameters,
                     gpointer         user_data)
{
    gboolean sleeping;

    if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(b)")))
        return;
    g_variant_get(parameters, "(b)", &sleeping);
    if (sleeping)
        g_debug("netmon: going to sleep");
    else
        note_change(user_data, "resume", g_strdup("resume"));
}

static void
logind_appeared_cb(GDBusConnection *connection,
                   const char      *name,
                   const char      *owner,
                   gpointer         user_data)
{
    g_info("logind is on the bus: watching for resume from sleep");
}

static void
logind_vanished_cb(GDBusConnection *connection, const char *name, gpointer user_data)
{
    WgmNetmon *self = user_data;

    if (self->logind_missing_logged) {
        g_info("logind left the bus");
        return;
    }
    self->logind_missing_logged = TRUE;
    g_message("logind is not on the bus: resume from sleep goes unnoticed until it appears");
}

/*****************************************************************************/

static void
wgm_netmon_init(WgmNetmon *self)
{
    self->devices      = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)device_watch_free);
    self->pending      = g_ptr_array_new_with_free_func((GDestroyNotify)change_free);
    self->primary      = g_strdup("none");
    self->connectivity = NM_CONNECTIVITY_UNKNOWN;
}

static void
wgm_netmon_dispose(GObject *object)
{
    WgmNetmon *self = WGM_NETMON(object);

    if (self->init_cancellable) {
        g_cancellable_cancel(self->init_cancellable);
        g_clear_object(&self->init_cancellable);
    }
    if (self->sleep_subscription) {
        g_dbus_connection_signal_unsubscribe(self->bus, self->sleep_subscription);
        self->sleep_subscription = 0;
    }
    g_clear_handle_id(&self->logind_watch, g_bus_unwatch_name);
    g_hash_table_remove_all(self->devices);
    if (self->client) {
        g_signal_handlers_disconnect_by_data(self->client, self);
        g_clear_object(&self->client);
    }
    wgm_clear_source(&self->timer);
    g_ptr_array_set_size(self->pending, 0);

    G_OBJECT_CLASS(wgm_netmon_parent_class)->dispose(object);
}

static void
wgm_netmon_finalize(GObject *object)
{
    WgmNetmon *self = WGM_NETMON(object);

    g_hash_table_unref(self->devices);
    g_ptr_array_unref(self->pending);
    g_free(self->primary);
    g_free(self->ignore_ifname);
    g_clear_object(&self->bus);

    G_OBJECT_CLASS(wgm_netmon_parent_class)->finalize(object);
}

static void
wgm_netmon_class_init(WgmNetmonClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->dispose  = wgm_netmon_dispose;
    object_class->finalize = wgm_netmon_finalize;

    signals[SIGNAL_NETWORK_CHANGED] = g_signal_new("network-changed",
                                                   G_TYPE_FROM_CLASS(klass),
                                                   G_SIGNAL_RUN_LAST,
                                                   0,
                                                   NULL,
                                                   NULL,
                                                   NULL,
                                                   G_TYPE_NONE,
                                                   1,
                                                   G_TYPE_STRING);
}

WgmNetmon *
wgm_netmon_new(GDBusConnection *bus, const char *ignore_ifname, guint debounce_ms)
{
    WgmNetmon *self;

    g_return_val_if_fail(G_IS_DBUS_CONNECTION(bus), NULL);

    self                = g_object_new(WGM_TYPE_NETMON, NULL);
    self->bus           = g_object_ref(bus);
    self->ignore_ifname = ignore_ifname && *ignore_ifname ? g_strdup(ignore_ifname) : NULL;
    self->debounce_us   = (gint64)debounce_ms * 1000;

    self->sleep_subscription = g_dbus_connection_signal_subscribe(bus,
                                                                  LOGIND_NAME,
                                                                  LOGIND_IFACE,
                                                                  "PrepareForSleep",
                                                                  LOGIND_PATH,
                                                                  NULL,
                                                                  G_DBUS_SIGNAL_FLAGS_NONE,
                                                                  prepare_for_sleep_cb,
                                                                  self,
                                                                  NULL);
    self->logind_watch       = g_bus_watch_name_on_connection(bus,
                                                        LOGIND_NAME,
                                                        G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                        logind_appeared_cb,
                                                        logind_vanished_cb,
                                                        self,
                                                        NULL);

    /* Never a _sync call: NetworkManager may be slow, or not there. */
    self->init_cancellable = g_cancellable_new();
    g_object_set_data(G_OBJECT(self->init_cancellable), INIT_DATA_KEY, self);
    g_async_initable_new_async(NM_TYPE_CLIENT,
                               G_PRIORITY_DEFAULT,
                               self->init_cancellable,
                               client_ready_cb,
                               g_object_ref(self->init_cancellable),
                               NM_CLIENT_DBUS_CONNECTION,
                               bus,
                               NULL);
    return self;
}
