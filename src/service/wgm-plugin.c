/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-plugin.h"

#include <arpa/inet.h>
#include <net/if.h>

#include "wgm-backend-uapi.h"
#include "wgm-config.h"
#include "wgm-dbus-export.h"
#include "wgm-error.h"
#include "wgm-mesh.h"
#include "wgm-netmon.h"
#include "wgm-profile-watch.h"
#include "wgm-map-watch.h"
#include "wgm-network-map.h"
#include "wgm-route-set.h"
#include "wgm-settings-keys.h"

struct _WgmPlugin {
    NMVpnServicePlugin parent_instance;

    guint         ifname_hint; /* first N to try for "wgmN" */
    GCancellable *cancellable;
    WgmMesh      *mesh;
    WgmDBusExport *export;
    gulong           failed_id;
    WgmNetmon       *netmon;       /* network changes reset the mesh's guards */
    WgmProfileWatch *watch;        /* edits of the profile while up */
    char            *uuid;         /* of the profile */
    NMConnection    *started_from; /* the profile at Connect, without secrets */
    WgmConfig       *config;       /* as applied (secrets: wiped when freed) */
    NMSettingVpn    *applied_vpn;  /* the vpn setting it came from, without secrets */
    /* The profile's vpn setting as applied, with its secrets, and the
     * network map's last good reading: a map edit is merged into it. */
    NMSettingVpn *profile_vpn;
    WgmWgQuick   *map;
    WgmMapWatch  *map_watch;
    GStrv         pending; /* Mesh.PendingReconnect as last said */

    /* What SetConfig/SetIp4Config/SetIp6Config will say, computed from the
     * profile at Connect (no secrets in here). */
    guint32   mtu;
    GVariant *ip4_config;
    GVariant *ip6_config;

    /* Backends being stopped, so process exit can wait for their helpers. */
    GPtrArray *stopping;

    /* ConnectInteractive: secrets asked for again (no values in here). */
    guint  secret_rounds;
    guint  secrets_idle;
    char  *secrets_message;
    char **secrets_hints;
};

G_DEFINE_FINAL_TYPE(WgmPlugin, wgm_plugin, NM_TYPE_VPN_SERVICE_PLUGIN)

/* ---- IP configuration for NetworkManager -------------------------------- */

typedef struct {
    gboolean  has_default;
    GVariant *routes;
} RouteSet;

/* Once per computation, so a map edit that changes no route shows too. */
static void
log_routes(int family, const WgmRouteSet *set, const WgmIpPrefix *on_link)
{
    g_autoptr(GString) note = g_string_new(NULL);
    char subnet[WGM_IP_STRLEN];

    if (set->n_on_link > 0) {
        WgmIpPrefix own = *on_link;

        wgm_ip_prefix_normalize(&own);
        g_string_append_printf(
            note, " (%u inside on-link %s)", set->n_on_link, wgm_ip_prefix_to_string(&own, subnet));
    }
    if (set->has_default)
        g_string_append(note, ", and everything through the mesh");
    g_message("%s routes: %u allowed IP%s -> %u route%s%s",
              family == AF_INET ? "IPv4" : "IPv6",
              set->n_allowed,
              set->n_allowed == 1 ? "" : "s",
              set->routes->len,
              set->routes->len == 1 ? "" : "s",
              note->str);
}

/* Routes are the peers' allowed IPs as the fewest prefixes, without those
 * the interface's own subnet already covers (wgm-route-set.c); a /0 is not
 * a route but makes NetworkManager route everything through the mesh
 * (never-default FALSE), just as wg-quick does for 0.0.0.0/0. */
static void
collect_routes(const WgmConfig *config, int family, RouteSet *out)
{
    const WgmIpPrefix *on_link = family == AF_INET ? &config->address4 : &config->address6;
    g_autoptr(GArray) allowed  = g_array_new(FALSE, FALSE, sizeof(WgmIpPrefix));
    WgmRouteSet     set;
    GVariantBuilder builder;

    for (guint i = 0; i < config->peers->len; i++) {
        const WgmPeerConfig *pc = config->peers->pdata[i];

        g_array_append_vals(allowed, pc->allowed_ips->data, pc->allowed_ips->len);
    }
    /* Only called for a family the mesh has an address of. */
    wgm_route_set_compute(
        &set, family, (const WgmIpPrefix *)(void *)allowed->data, allowed->len, on_link);
    log_routes(family, &set, on_link);

    out->has_default = set.has_default;
    g_variant_builder_init(&builder,
                           family == AF_INET ? G_VARIANT_TYPE("aau") : G_VARIANT_TYPE("a(ayuayu)"));
    for (guint i = 0; i < set.routes->len; i++) {
        const WgmIpPrefix *p = &g_array_index(set.routes, WgmIpPrefix, i);

        if (family == AF_INET) {
            guint32 route[4] = { p->addr.addr4, p->plen, 0, 0 };

            g_variant_builder_add_value(
                &builder,
                g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, route, 4, sizeof(guint32)));
        } else {
            static const guint8 zero[16] = { 0 };

            g_variant_builder_add(
                &builder,
                "(@ayu@ayu)",
                g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, p->addr.addr, 16, 1),
                (guint32)p->plen,
                g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, zero, 16, 1),
                (guint32)0);
        }
    }
    out->routes = g_variant_builder_end(&builder);
    wgm_route_set_clear(&set);
}

static GVariant *
build_ip_config(const WgmConfig *config, int family)
{
    const WgmIpPrefix *address = family == AF_INET ? &config->address4 : &config->address6;
    GVariantBuilder    builder;
    GVariantBuilder    dns;
    RouteSet           routes;

    g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
    if (family == AF_INET) {
        g_variant_builder_add(&builder,
                              "{sv}",
                              NM_VPN_PLUGIN_IP4_CONFIG_ADDRESS,
                              g_variant_new_uint32(address->addr.addr4));
    } else {
        g_variant_builder_add(
            &builder,
            "{sv}",
            NM_VPN_PLUGIN_IP6_CONFIG_ADDRESS,
            g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, address->addr.addr, 16, 1));
    }
    /* The keys are the same strings for both families. */
    g_variant_builder_add(
        &builder, "{sv}", NM_VPN_PLUGIN_IP4_CONFIG_PREFIX, g_variant_new_uint32(address->plen));

    collect_routes(config, family, &routes);
    g_variant_builder_add(&builder, "{sv}", NM_VPN_PLUGIN_IP4_CONFIG_ROUTES, routes.routes);
    g_variant_builder_add(&builder,
                          "{sv}",
                          NM_VPN_PLUGIN_IP4_CONFIG_NEVER_DEFAULT,
                          g_variant_new_boolean(!routes.has_default));

    g_variant_builder_init(&dns, family == AF_INET ? G_VARIANT_TYPE("au") : G_VARIANT_TYPE("aay"));
    for (guint i = 0; i < config->dns->len; i++) {
        const WgmIpAddr *a = &g_array_index(config->dns, WgmIpAddr, i);

        if (a->family != family)
            continue;
        if (family == AF_INET)
            g_variant_builder_add(&dns, "u", a->addr4);
        else
            g_variant_builder_add_value(
                &dns, g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, a->addr, 16, 1));
    }
    g_variant_builder_add(
        &builder, "{sv}", NM_VPN_PLUGIN_IP4_CONFIG_DNS, g_variant_builder_end(&dns));
    /* Search domains once: with the IPv4 configuration if there is one. */
    if (config->dns_search[0] && (family == AF_INET || !config->has_address4)) {
        g_variant_builder_add(&builder,
                              "{sv}",
                              NM_VPN_PLUGIN_IP4_CONFIG_DOMAINS,
                              g_variant_new_strv((const char *const *)config->dns_search, -1));
    }
    return g_variant_ref_sink(g_variant_builder_end(&builder));
}

static GVariant *
build_generic_config(WgmPlugin *self, const WgmIpAddr *gateway)
{
    GVariantBuilder builder;

    g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(
        &builder,
        "{sv}",
        NM_VPN_PLUGIN_CONFIG_TUNDEV,
        g_variant_new_string(wgm_backend_get_ifname(wgm_mesh_get_backend(self->mesh))));
    /* NetworkManager 1.42 refuses a config without an external gateway; it
     * pins a host route to it through the underlay. */
    if (gateway->family == AF_INET)
        g_variant_builder_add(&builder,
                              "{sv}",
                              NM_VPN_PLUGIN_CONFIG_EXT_GATEWAY,
                              g_variant_new_uint32(gateway->addr4));
    else
        g_variant_builder_add(&builder,
                              "{sv}",
                              NM_VPN_PLUGIN_CONFIG_EXT_GATEWAY,
                              g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, gateway->addr, 16, 1));
    g_variant_builder_add(
        &builder, "{sv}", NM_VPN_PLUGIN_CONFIG_MTU, g_variant_new_uint32(self->mtu));
    g_variant_builder_add(&builder,
                          "{sv}",
                          NM_VPN_PLUGIN_CONFIG_HAS_IP4,
                          g_variant_new_boolean(self->ip4_config != NULL));
    g_variant_builder_add(&builder,
                          "{sv}",
                          NM_VPN_PLUGIN_CONFIG_HAS_IP6,
                          g_variant_new_boolean(self->ip6_config != NULL));
    return g_variant_builder_end(&builder);
}

/* ---- connect / disconnect ----------------------------------------------- */

static void
teardown(WgmPlugin *self)
{
    if (self->cancellable) {
        g_cancellable_cancel(self->cancellable);
        g_clear_object(&self->cancellable);
    }
    g_clear_object(&self->netmon);
    if (self->watch) {
        g_signal_handlers_disconnect_by_data(self->watch, self);
        g_clear_object(&self->watch);
    }
    g_clear_handle_id(&self->secrets_idle, g_source_remove);
    g_clear_pointer(&self->secrets_message, g_free);
    g_clear_pointer(&self->secrets_hints, g_strfreev);
    g_clear_pointer(&self->uuid, g_free);
    g_clear_object(&self->started_from);
    g_clear_pointer(&self->config, wgm_config_free);
    g_clear_object(&self->applied_vpn);
    g_clear_object(&self->profile_vpn);
    g_clear_pointer(&self->map, wgm_wgquick_free);
    g_clear_pointer(&self->map_watch, wgm_map_watch_free);
    g_object_set_data(G_OBJECT(self), "wgm-connecting", NULL);
    g_clear_pointer(&self->pending, g_strfreev);
    g_clear_pointer(&self->export, wgm_dbus_export_free);
    if (self->mesh) {
        g_clear_signal_handler(&self->failed_id, self->mesh);
        g_ptr_array_add(self->stopping, g_object_ref(wgm_mesh_get_backend(self->mesh)));
        wgm_mesh_stop(self->mesh);
        g_clear_object(&self->mesh);
    }
    g_clear_pointer(&self->ip4_config, g_variant_unref);
    g_clear_pointer(&self->ip6_config, g_variant_unref);
}

static void
mesh_failed_cb(WgmMesh *mesh, const GError *error, WgmPlugin *self)
{
    g_warning("the mesh failed: %s", error->message);
    nm_vpn_service_plugin_failure(NM_VPN_SERVICE_PLUGIN(self),
                                  NM_VPN_PLUGIN_FAILURE_CONNECT_FAILED);
}

static void
network_changed_cb(WgmNetmon *netmon, const char *what, WgmPlugin *self)
{
    if (self->mesh)
        wgm_mesh_network_changed(self->mesh, what);
}

/* ---- edits of the profile while up ------------------------------------- */

/* Keys of @now that differ from @was and cannot be applied live; @now takes
 * @was's values for them, so that it says what is applied. */
static GPtrArray *
pending_reconnect(const WgmConfig *was, WgmConfig *now)
{
    GPtrArray *keys = g_ptr_array_new();

    if (!wgm_key_equal(&was->private_key, &now->private_key)) {
        g_ptr_array_add(keys, (gpointer)WGM_KEY_PRIVATE_KEY);
        wgm_key_wipe(&now->private_key);
        now->private_key = was->private_key;
    }
    if (was->has_address4 != now->has_address4 || was->has_address6 != now->has_address6
        || (was->has_address4 && !wgm_ip_prefix_equal(&was->address4, &now->address4))
        || (was->has_address6 && !wgm_ip_prefix_equal(&was->address6, &now->address6))) {
        g_ptr_array_add(keys, (gpointer)WGM_KEY_ADDRESS);
        now->has_address4 = was->has_address4;
        now->address4     = was->address4;
        now->has_address6 = was->has_address6;
        now->address6     = was->address6;
    }
    if (was->mtu != now->mtu) {
        g_ptr_array_add(keys, (gpointer)WGM_KEY_MTU);
        now->mtu = was->mtu;
    }
    if (was->listen_port != now->listen_port) {
        g_ptr_array_add(keys, (gpointer)WGM_KEY_LISTEN_PORT);
        now->listen_port = was->listen_port;
    }
    if (was->backend != now->backend) {
        g_ptr_array_add(keys, (gpointer)WGM_KEY_BACKEND);
        now->backend = was->backend;
    }
    if (g_strcmp0(was->network_map, now->network_map) != 0) {
        g_ptr_array_add(keys, (gpointer)WGM_KEY_NETWORK_MAP);
        g_free(now->network_map);
        now->network_map = g_strdup(was->network_map);
    }
    g_ptr_array_add(keys, NULL);
    return keys;
}

/* The lazy choices the edit changed (a choice made over D-Bus since stays
 * unless the profile's own changed). */
static gboolean
apply_lazy(WgmPlugin *self, const WgmConfig *was, const WgmConfig *now, GError **error)
{
    if (was->lazy_connections != now->lazy_connections
        && !wgm_mesh_set_lazy_connections(self->mesh, now->lazy_connections, error))
        return FALSE;
    if (was->inactivity_timeout != now->inactivity_timeout
        && !wgm_mesh_set_inactivity_timeout(self->mesh, now->inactivity_timeout, error))
        return FALSE;
    for (guint i = 0; i < now->peers->len; i++) {
        const WgmPeerConfig *pc  = now->peers->pdata[i];
        const WgmPeerConfig *old = wgm_config_find_peer(was, &pc->public_key);
        gboolean             ok  = TRUE;

        /* A peer that joins comes with its choice (set_peers). */
        if (!old || old->lazy == pc->lazy)
            continue;
        if (pc->lazy >= 0)
            ok = wgm_mesh_set_peer_lazy(self->mesh, &pc->public_key, pc->lazy, error);
        else
            ok = wgm_mesh_clear_peer_lazy(self->mesh, &pc->public_key, error);
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

static void
apply_ip_config(WgmPlugin *self, const WgmConfig *config)
{
    g_autoptr(GVariant) ip4 = config->has_address4 ? build_ip_config(config, AF_INET) : NULL;
    g_autoptr(GVariant) ip6 = config->has_address6 ? build_ip_config(config, AF_INET6) : NULL;

    /* NetworkManager hears again only when routes or DNS changed. */
    if (ip4 && (!self->ip4_config || !g_variant_equal(ip4, self->ip4_config))) {
        g_clear_pointer(&self->ip4_config, g_variant_unref);
        self->ip4_config = g_steal_pointer(&ip4);
        g_message("IPv4 routes or DNS changed: telling NetworkManager");
        nm_vpn_service_plugin_set_ip4_config(NM_VPN_SERVICE_PLUGIN(self), self->ip4_config);
    }
    if (ip6 && (!self->ip6_config || !g_variant_equal(ip6, self->ip6_config))) {
        g_clear_pointer(&self->ip6_config, g_variant_unref);
        self->ip6_config = g_steal_pointer(&ip6);
        g_message("IPv6 routes or DNS changed: telling NetworkManager");
        nm_vpn_service_plugin_set_ip6_config(NM_VPN_SERVICE_PLUGIN(self), self->ip6_config);
    }
}

/* The vpn setting @self->config was made from, kept without its secrets
 * (those are compared through the configs). */
static void
copy_data_item(const char *key, const char *value, gpointer user_data)
{
    nm_setting_vpn_add_data_item(user_data, key, value);
}

static void
remember_applied(WgmPlugin *self, NMSettingVpn *s_vpn)
{
    g_clear_object(&self->applied_vpn);
    self->applied_vpn = NM_SETTING_VPN(nm_setting_vpn_new());
    g_object_set(self->applied_vpn,
                 NM_SETTING_VPN_SERVICE_TYPE,
                 nm_setting_vpn_get_service_type(s_vpn),
                 NULL);
    nm_setting_vpn_foreach_data_item(s_vpn, copy_data_item, self->applied_vpn);
}

/* Whether @a and @b, whose vpn.data are the same, have the same secrets. */
static gboolean
same_secrets(const WgmConfig *a, const WgmConfig *b)
{
    if (!wgm_key_equal(&a->private_key, &b->private_key) || a->peers->len != b->peers->len)
        return FALSE;
    for (guint i = 0; i < b->peers->len; i++) {
        const WgmPeerConfig *pb = b->peers->pdata[i];
        const WgmPeerConfig *pa = wgm_config_find_peer(a, &pb->public_key);

        if (!pa || pa->has_preshared_key != pb->has_preshared_key
            || (pb->has_preshared_key && !wgm_key_equal(&pa->preshared_key, &pb->preshared_key)))
            return FALSE;
    }
    return TRUE;
}

/* The config of @profile with the peers of @map (NULL: none) joined, as
 * the service runs it: checked as a whole, and for what it cannot do yet;
 * an error about a map peer names the map's [Peer] section. */
static WgmConfig *
config_with_map(NMSettingVpn *profile, const WgmWgQuick *map, GError **error)
{
    g_autoptr(NMSettingVpn) merged = map ? wgm_network_map_merge(profile, map) : NULL;
    g_autoptr(GError) local        = NULL;
    WgmConfig *config              = wgm_config_new_from_setting(merged ? merged : profile, &local);

    if (config && !wgm_config_check_supported(config, &local))
        g_clear_pointer(&config, wgm_config_free);
    if (!config) {
        const char *path = nm_setting_vpn_get_data_item(profile, WGM_KEY_NETWORK_MAP);

        if (map && path) {
            g_autofree char *message =
                wgm_network_map_describe_error(profile, path, local->message);

            g_set_error_literal(error, local->domain, local->code, message);
        } else
            g_propagate_error(error, g_steal_pointer(&local));
    }
    return config;
}

/* Mesh.PendingReconnect (@pending, NULL: as last said) and Mesh.LastError. */
static void
set_status(WgmPlugin *self, GPtrArray *pending, const char *last_error)
{
    if (pending) {
        g_strfreev(self->pending);
        self->pending = g_strdupv((char **)pending->pdata);
    }
    wgm_dbus_export_set_profile_status(
        self->export, (const char *const *)self->pending, last_error);
}

/* Applies @config (the profile's @s_vpn with the map's peers) to the
 * running mesh as a diff; @what says what changed, for the log. */
static gboolean
apply_live(WgmPlugin    *self,
           WgmConfig    *config,
           NMSettingVpn *s_vpn,
           const char   *what,
           GError      **error)
{
    g_autoptr(GPtrArray) pending = pending_reconnect(self->config, config);

    /* Lazy toggles first: peers that join follow the new default. */
    if (!apply_lazy(self, self->config, config, error))
        return FALSE;
    wgm_mesh_set_peers(self->mesh, config);
    apply_ip_config(self, config);
    if (pending->len > 1) {
        g_autofree char *list = g_strjoinv(", ", (char **)pending->pdata);

        g_message("%s: applied live, except %s (at the next connect)", what, list);
    } else
        g_message("%s: applied live (%u peers)", what, config->peers->len);
    set_status(self, pending, NULL);
    g_clear_pointer(&self->config, wgm_config_free);
    self->config = config;
    remember_applied(self, s_vpn);
    if (s_vpn != self->profile_vpn) {
        g_clear_object(&self->profile_vpn);
        self->profile_vpn = NM_SETTING_VPN(nm_setting_duplicate(NM_SETTING(s_vpn)));
    }
    return TRUE;
}

static void
profile_changed_cb(WgmProfileWatch *watch, NMConnection *profile, WgmPlugin *self)
{
    NMSettingVpn *s_vpn         = nm_connection_get_setting_vpn(profile);
    const char   *id            = nm_connection_get_id(profile);
    g_autoptr(GError) error     = NULL;
    g_autoptr(WgmConfig) config = NULL;
    g_autofree char *message    = NULL;
    g_autofree char *what       = NULL;

    if (!self->mesh || !self->config)
        return;
    if (s_vpn)
        wgm_config_keep_unsaved_secrets(self->config, s_vpn);
    config = s_vpn ? config_with_map(s_vpn, self->map, &error) : NULL;
    if (!config) {
        if (!error)
            g_set_error(&error, WGM_ERROR, WGM_ERROR_INVALID_SETTING, "no vpn setting");
        message = g_strdup_printf("edit of profile \"%s\" not applied: %s", id, error->message);
        g_warning("%s", message);
        set_status(self, NULL, message);
        return;
    }
    /* NetworkManager signals Updated also when a client only read the
     * secrets (nmcli -s, an editor opening): nothing to apply, nothing to say. */
    if (self->applied_vpn
        && nm_setting_compare(NM_SETTING(s_vpn),
                              NM_SETTING(self->applied_vpn),
                              NM_SETTING_COMPARE_FLAG_IGNORE_SECRETS)
        && same_secrets(self->config, config)) {
        g_debug("profile \"%s\" re-read: unchanged", id);
        return;
    }
    what = g_strdup_printf("profile \"%s\" edited", id);
    if (!apply_live(self, config, s_vpn, what, &error)) {
        message = g_strdup_printf("edit of profile \"%s\" not applied: %s", id, error->message);
        g_warning("%s", message);
        set_status(self, NULL, message);
        return;
    }
    config = NULL; /* taken */
}

/* The network map changed on disk (settled): applied like a profile edit;
 * a broken or vanished map leaves the mesh as it was, and says so. */
static void
map_changed_cb(WgmWgQuick *taken, const GError *read_error, gpointer user_data)
{
    g_autoptr(WgmWgQuick) map = taken;
    WgmPlugin  *self          = user_data;
    const char *path          = self->config ? self->config->network_map : NULL;
    g_autoptr(GError) error   = NULL;
    g_autofree char *message  = NULL;
    g_autofree char *what     = NULL;
    WgmConfig       *config;

    if (!self->mesh || !self->profile_vpn || !path)
        return;
    if (read_error && g_error_matches(read_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
        message = g_strdup_printf("network map %s is gone: keeping its last %u peers",
                                  path,
                                  self->map ? self->map->n_peers : 0);
        g_warning("%s", message);
        set_status(self, NULL, message);
        return;
    }
    config = read_error ? NULL : config_with_map(self->profile_vpn, map, &error);
    if (!config) {
        message = g_strdup_printf("network map %s not applied: %s",
                                  path,
                                  read_error ? read_error->message : error->message);
        g_warning("%s", message);
        set_status(self, NULL, message);
        return;
    }
    what = g_strdup_printf("network map %s changed", path);
    if (!apply_live(self, config, self->profile_vpn, what, &error)) {
        wgm_config_free(config);
        message = g_strdup_printf("network map %s not applied: %s", path, error->message);
        g_warning("%s", message);
        set_status(self, NULL, message);
        return;
    }
    g_clear_pointer(&self->map, wgm_wgquick_free);
    self->map = g_steal_pointer(&map);
}

static void
mesh_started_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    WgmPlugin *self         = user_data;
    g_autoptr(GError) error = NULL;
    WgmIpAddr gateway;
    char      buf[WGM_IP_STRLEN];

    if (!wgm_mesh_start_finish(WGM_MESH(source), result, &error)) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_warning("bringing up the mesh failed: %s", error->message);
            nm_vpn_service_plugin_failure(NM_VPN_SERVICE_PLUGIN(self),
                                          NM_VPN_PLUGIN_FAILURE_CONNECT_FAILED);
        }
        g_object_unref(self);
        return;
    }
    if (self->mesh != WGM_MESH(source)) {
        g_object_unref(self);
        return;
    }

    if (!wgm_mesh_get_gateway(self->mesh, &gateway)) {
        g_warning(
            "no peer endpoint could be resolved; NetworkManager needs one as the VPN gateway");
        nm_vpn_service_plugin_failure(NM_VPN_SERVICE_PLUGIN(self),
                                      NM_VPN_PLUGIN_FAILURE_CONNECT_FAILED);
        g_object_unref(self);
        return;
    }

    g_message("mesh is up on %s (%u peers), gateway %s",
              wgm_backend_get_ifname(wgm_mesh_get_backend(self->mesh)),
              wgm_mesh_get_peers(self->mesh)->len,
              wgm_ip_addr_to_string(&gateway, buf));
    /* Watched from now on, so the mesh coming up is not a change; changes
     * of its own interface never are. */
    self->netmon = wgm_netmon_new(nm_vpn_service_plugin_get_connection(NM_VPN_SERVICE_PLUGIN(self)),
                                  wgm_backend_get_ifname(wgm_mesh_get_backend(self->mesh)),
                                  WGM_NETMON_DEBOUNCE_MS);
    g_signal_connect(self->netmon, "network-changed", G_CALLBACK(network_changed_cb), self);
    if (self->uuid) {
        self->watch =
            wgm_profile_watch_new(nm_vpn_service_plugin_get_connection(NM_VPN_SERVICE_PLUGIN(self)),
                                  self->uuid,
                                  self->started_from);
        g_signal_connect(self->watch, "changed", G_CALLBACK(profile_changed_cb), self);
    }
    if (self->config->network_map) {
        g_autoptr(GError) map_error = NULL;

        self->map_watch =
            wgm_map_watch_new(self->config->network_map, map_changed_cb, self, &map_error);
        if (!self->map_watch)
            g_warning("network map %s: its changes go unnoticed: %s",
                      self->config->network_map,
                      map_error->message);
    }
    nm_vpn_service_plugin_set_config(NM_VPN_SERVICE_PLUGIN(self),
                                     build_generic_config(self, &gateway));
    if (self->ip4_config)
        nm_vpn_service_plugin_set_ip4_config(NM_VPN_SERVICE_PLUGIN(self), self->ip4_config);
    if (self->ip6_config)
        nm_vpn_service_plugin_set_ip6_config(NM_VPN_SERVICE_PLUGIN(self), self->ip6_config);
    g_object_unref(self);
}

/* wgmN, N from NetworkManager's Connection_N when it gave one, else the
 * first free number: two meshes never fight over a name, and a mesh whose
 * helper is still exiting keeps its name until it is gone. */
static char *
pick_ifname(WgmPlugin *self)
{
    for (guint n = self->ifname_hint;; n++) {
        char             ifname[IF_NAMESIZE];
        g_autofree char *sock = NULL;

        g_snprintf(ifname, sizeof(ifname), "wgm%u", n);
        sock = g_strdup_printf("/var/run/wireguard/%s.sock", ifname);
        if (if_nametoindex(ifname) == 0 && !g_file_test(sock, G_FILE_TEST_EXISTS))
            return g_strdup(ifname);
    }
}

/* Brings the mesh of @config (@connection's, with its map's peers if it
 * has one; taken) up. */
static gboolean
start_mesh(WgmPlugin *self, NMConnection *connection, WgmConfig *config, GError **error)
{
    g_autoptr(WgmConfig) owned    = config;
    g_autoptr(WgmBackend) backend = NULL;
    g_autofree char *ifname       = NULL;
    NMSettingVpn    *s_vpn        = nm_connection_get_setting_vpn(connection);

    ifname     = pick_ifname(self);
    backend    = wgm_backend_uapi_new(ifname, NULL);
    self->mesh = wgm_mesh_new(backend, config);
    self->mtu  = config->mtu;
    if (config->has_address4)
        self->ip4_config = build_ip_config(config, AF_INET);
    if (config->has_address6)
        self->ip6_config = build_ip_config(config, AF_INET6);

    self->uuid = g_strdup(nm_connection_get_uuid(connection));
    self->export =
        wgm_dbus_export_new(nm_vpn_service_plugin_get_connection(NM_VPN_SERVICE_PLUGIN(self)),
                            self->mesh,
                            self->uuid,
                            error);
    if (!self->export) {
        teardown(self);
        return FALSE;
    }
    self->failed_id = g_signal_connect(self->mesh, "failed", G_CALLBACK(mesh_failed_cb), self);
    if (!self->cancellable)
        self->cancellable = g_cancellable_new();
    self->started_from = nm_simple_connection_new_clone(connection);
    nm_connection_clear_secrets(self->started_from);

    g_message("connecting \"%s\" on %s: %u peers%s, backend %s",
              nm_connection_get_id(connection),
              ifname,
              config->peers->len,
              self->map ? " (with the network map's)" : "",
              wgm_backend_get_name(backend));
    self->config = g_steal_pointer(&owned);
    remember_applied(self, s_vpn);
    self->profile_vpn = NM_SETTING_VPN(nm_setting_duplicate(NM_SETTING(s_vpn)));
    wgm_mesh_start_async(self->mesh, self->cancellable, mesh_started_cb, g_object_ref(self));
    return TRUE;
}

/* The map of the profile being connected has been read. */
static void
connect_map_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(WgmPlugin) self          = user_data;
    g_autoptr(GError) error            = NULL;
    g_autoptr(WgmWgQuick) map          = wgm_map_read_finish(result, &error);
    g_autoptr(NMConnection) connection = g_object_steal_data(G_OBJECT(self), "wgm-connecting");
    WgmConfig *config                  = NULL;

    if (!connection || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* disconnected (or connected again) meanwhile */
    if (map)
        config = config_with_map(nm_connection_get_setting_vpn(connection), map, &error);
    if (config) {
        self->map = g_steal_pointer(&map);
        if (start_mesh(self, connection, config, &error))
            return;
    }
    g_warning("refusing connection \"%s\": %s", nm_connection_get_id(connection), error->message);
    teardown(self);
    nm_vpn_service_plugin_failure(NM_VPN_SERVICE_PLUGIN(self),
                                  NM_VPN_PLUGIN_FAILURE_CONNECT_FAILED);
}

static gboolean
real_connect(NMVpnServicePlugin *plugin, NMConnection *connection, GError **error)
{
    WgmPlugin    *self = WGM_PLUGIN(plugin);
    NMSettingVpn *s_vpn;
    g_autoptr(WgmConfig) config = NULL;

    s_vpn = nm_connection_get_setting_vpn(connection);
    if (!s_vpn) {
        g_set_error(
            error, WGM_ERROR, WGM_ERROR_INVALID_SETTING, "the connection has no vpn setting");
        return FALSE;
    }
    /* The profile on its own first: its errors are its own. */
    config = wgm_config_new_from_setting(s_vpn, error);
    if (config && config->network_map) {
        if (!wgm_network_map_check_file(config->network_map, error))
            g_clear_pointer(&config, wgm_config_free);
    } else if (config && !wgm_config_check_supported(config, error))
        g_clear_pointer(&config, wgm_config_free);
    if (!config) {
        g_warning(
            "refusing connection \"%s\": %s", nm_connection_get_id(connection), (*error)->message);
        return FALSE;
    }

    teardown(self);
    if (!config->network_map)
        return start_mesh(self, connection, g_steal_pointer(&config), error);

    /* Its peers come with the map, read off the main loop; the rest
     * follows in connect_map_read_cb(). */
    self->cancellable = g_cancellable_new();
    g_object_set_data_full(G_OBJECT(self),
                           "wgm-connecting",
                           nm_simple_connection_new_clone(connection),
                           g_object_unref);
    wgm_map_read_async(
        config->network_map, self->cancellable, connect_map_read_cb, g_object_ref(self));
    return TRUE;
}

/* ---- secrets asked for while connecting --------------------------------- */

/* NetworkManager gets what NeedSecrets names from the agents before
 * Connect, but cannot tell a key from a typo.  With ConnectInteractive
 * (NetworkManager uses it when every agent passes hints on) a secret still
 * missing, or given by an agent and refused, is asked for again by name
 * instead of failing the connection; after a few rounds Connect's own
 * error stands. */
#define WGM_MAX_SECRET_ROUNDS 3

static gboolean
secrets_required_cb(gpointer user_data)
{
    WgmPlugin *self = user_data;

    self->secrets_idle = 0;
    /* NetworkManager adds the message to the hints as "x-vpn-message:". */
    nm_vpn_service_plugin_secrets_required(
        NM_VPN_SERVICE_PLUGIN(self), self->secrets_message, (const char **)self->secrets_hints);
    g_clear_pointer(&self->secrets_message, g_free);
    g_clear_pointer(&self->secrets_hints, g_strfreev);
    return G_SOURCE_REMOVE;
}

/* Whether @connection lacks secrets the user can give again; if so they are
 * asked for and NewSecrets continues. */
static gboolean
ask_secrets_again(WgmPlugin *self, NMConnection *connection)
{
    NMSettingVpn *s_vpn   = nm_connection_get_setting_vpn(connection);
    const char   *id      = nm_connection_get_id(connection);
    g_auto(GStrv) missing = NULL;
    g_auto(GStrv) bad     = NULL;
    g_autofree char *list = NULL;

    if (!s_vpn || self->secret_rounds >= WGM_MAX_SECRET_ROUNDS)
        return FALSE;
    missing = wgm_config_need_secrets(s_vpn);
    if (!missing)
        bad = wgm_config_bad_agent_secrets(s_vpn);
    if (!missing && !bad)
        return FALSE;

    self->secret_rounds++;
    g_clear_handle_id(&self->secrets_idle, g_source_remove);
    g_free(self->secrets_message);
    g_strfreev(self->secrets_hints);
    list = g_strjoinv(", ", missing ? missing : bad);
    g_message("connection \"%s\": asking again for %s (%s)",
              id,
              list,
              missing ? "missing" : "not a WireGuard key");
    if (missing)
        self->secrets_message = g_strdup_printf("\"%s\" still needs: %s.", id, list);
    else
        self->secrets_message =
            g_strdup_printf("Not a WireGuard key (44 characters of base64, as wg genkey "
                            "prints): %s.  Enter it again.",
                            list);
    self->secrets_hints = missing ? g_steal_pointer(&missing) : g_steal_pointer(&bad);
    /* After the reply: libnm starts its connect timer when the method
     * returns, and only a SecretsRequired sent later stops it. */
    self->secrets_idle = g_idle_add(secrets_required_cb, self);
    return TRUE;
}

static gboolean
real_connect_interactive(NMVpnServicePlugin *plugin,
                         NMConnection       *connection,
                         GVariant           *details,
                         GError            **error)
{
    WgmPlugin *self = WGM_PLUGIN(plugin);

    self->secret_rounds = 0;
    if (ask_secrets_again(self, connection))
        return TRUE;
    return real_connect(plugin, connection, error);
}

static gboolean
real_new_secrets(NMVpnServicePlugin *plugin, NMConnection *connection, GError **error)
{
    if (ask_secrets_again(WGM_PLUGIN(plugin), connection))
        return TRUE;
    return real_connect(plugin, connection, error);
}

static gboolean
real_need_secrets(NMVpnServicePlugin *plugin,
                  NMConnection       *connection,
                  const char        **setting_name,
                  GError            **error)
{
    NMSettingVpn *s_vpn   = nm_connection_get_setting_vpn(connection);
    g_auto(GStrv) missing = NULL;
    g_autofree char *list = NULL;

    if (!s_vpn) {
        g_set_error(
            error, WGM_ERROR, WGM_ERROR_INVALID_SETTING, "the connection has no vpn setting");
        return FALSE;
    }
    missing = wgm_config_need_secrets(s_vpn);
    if (!missing)
        return FALSE;

    list = g_strjoinv(", ", missing);
    g_message("connection \"%s\" needs secrets: %s", nm_connection_get_id(connection), list);
    *setting_name = NM_SETTING_VPN_SETTING_NAME;
    return TRUE;
}

static gboolean
real_disconnect(NMVpnServicePlugin *plugin, GError **error)
{
    WgmPlugin *self = WGM_PLUGIN(plugin);

    if (self->mesh)
        g_message("disconnecting %s", wgm_backend_get_ifname(wgm_mesh_get_backend(self->mesh)));
    teardown(self);
    return TRUE;
}

/* ---- object ------------------------------------------------------------- */

WgmPlugin *
wgm_plugin_new(const char *bus_name, gboolean watch_peer, GError **error)
{
    WgmPlugin  *self;
    const char *suffix;

    self = g_initable_new(WGM_TYPE_PLUGIN,
                          NULL,
                          error,
                          NM_VPN_SERVICE_PLUGIN_DBUS_SERVICE_NAME,
                          bus_name,
                          NM_VPN_SERVICE_PLUGIN_DBUS_WATCH_PEER,
                          watch_peer,
                          NULL);
    if (!self)
        return NULL;

    /* NetworkManager names the N-th concurrent connection "<service>.Connection_N". */
    suffix = strstr(bus_name, ".Connection_");
    if (suffix)
        self->ifname_hint = (guint)g_ascii_strtoull(suffix + strlen(".Connection_"), NULL, 10);
    return self;
}

void
wgm_plugin_shutdown(WgmPlugin *self)
{
    teardown(self);
}

void
wgm_plugin_wait_stopped(WgmPlugin *self, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (guint i = 0; i < self->stopping->len; i++) {
        gint64 left = deadline - g_get_monotonic_time();

        wgm_backend_wait_stopped(self->stopping->pdata[i], MAX(left / 1000, 0));
    }
    g_ptr_array_set_size(self->stopping, 0);
}

static void
wgm_plugin_init(WgmPlugin *self)
{
    self->stopping = g_ptr_array_new_with_free_func(g_object_unref);
}

static void
wgm_plugin_dispose(GObject *object)
{
    WgmPlugin *self = WGM_PLUGIN(object);

    teardown(self);
    G_OBJECT_CLASS(wgm_plugin_parent_class)->dispose(object);
}

static void
wgm_plugin_finalize(GObject *object)
{
    WgmPlugin *self = WGM_PLUGIN(object);

    g_ptr_array_unref(self->stopping);
    G_OBJECT_CLASS(wgm_plugin_parent_class)->finalize(object);
}

static void
wgm_plugin_class_init(WgmPluginClass *klass)
{
    GObjectClass            *object_class = G_OBJECT_CLASS(klass);
    NMVpnServicePluginClass *plugin_class = NM_VPN_SERVICE_PLUGIN_CLASS(klass);

    object_class->dispose  = wgm_plugin_dispose;
    object_class->finalize = wgm_plugin_finalize;

    plugin_class->connect             = real_connect;
    plugin_class->connect_interactive = real_connect_interactive;
    plugin_class->new_secrets         = real_new_secrets;
    plugin_class->need_secrets        = real_need_secrets;
    plugin_class->disconnect          = real_disconnect;
}
