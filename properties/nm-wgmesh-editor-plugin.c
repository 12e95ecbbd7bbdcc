/* SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE  /* dladdr() */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "nm-wgmesh-editor-plugin.h"

#include <dlfcn.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <gmodule.h>

#include "wgm-settings-keys.h"
#include "wgm-wgquick.h"

/* Translated when read: the client may set its locale after loading us. */
#define WGM_PLUGIN_NAME N_("WireGuard mesh (wgmesh)")
#define WGM_PLUGIN_DESC                                                                            \
    N_("One WireGuard interface with many peers, each connected, watched and retried on its own; " \
       "imports and exports wg-quick files.")

struct _WgmEditorPlugin {
    GObject parent_instance;
};

enum {
    PROP_0,
    PROP_NAME,
    PROP_DESC,
    PROP_SERVICE,
};

static void wgm_editor_plugin_interface_init(NMVpnEditorPluginInterface *iface);

G_DEFINE_TYPE_WITH_CODE(WgmEditorPlugin,
                        wgm_editor_plugin,
                        G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(NM_TYPE_VPN_EDITOR_PLUGIN,
                                              wgm_editor_plugin_interface_init))

/* Buffers that may hold a private or preshared key. */
static void
wipe_free(char *buf, gsize len)
{
    if (!buf)
        return;
    explicit_bzero(buf, len);
    g_free(buf);
}

/* ---- import ---- */

/* "wg0.conf" -> "wg0": the name wg-quick would give the interface. */
static char *
id_from_path(const char *path)
{
    g_autofree char *base = g_path_get_basename(path);
    gsize            len  = strlen(base);

    if (len > strlen(".conf") && g_str_has_suffix(base, ".conf"))
        base[len - strlen(".conf")] = '\0';
    return g_steal_pointer(&base);
}

static NMConnection *
connection_from_wgquick(const char *id, WgmWgQuick *wq, GError **error)
{
    g_autoptr(NMConnection) connection = nm_simple_connection_new();
    g_autofree char *uuid              = nm_utils_uuid_generate();
    NMSetting       *s_con             = nm_setting_connection_new();
    NMSettingVpn    *s_vpn             = NM_SETTING_VPN(nm_setting_vpn_new());
    NMSetting       *s_ip4             = nm_setting_ip4_config_new();
    NMSetting       *s_ip6             = nm_setting_ip6_config_new();
    GHashTableIter   iter;
    gpointer         key, value;

    /* Not autoconnect, like every other VPN import: the user decides when a
     * file someone handed them goes live. */
    g_object_set(s_con,
                 NM_SETTING_CONNECTION_ID,
                 id,
                 NM_SETTING_CONNECTION_UUID,
                 uuid,
                 NM_SETTING_CONNECTION_TYPE,
                 NM_SETTING_VPN_SETTING_NAME,
                 NM_SETTING_CONNECTION_AUTOCONNECT,
                 FALSE,
                 NULL);
    nm_connection_add_setting(connection, s_con);

    g_object_set(s_vpn, NM_SETTING_VPN_SERVICE_TYPE, WGM_VPN_SERVICE_TYPE, NULL);
    g_hash_table_iter_init(&iter, wq->data);
    while (g_hash_table_iter_next(&iter, &key, &value))
        nm_setting_vpn_add_data_item(s_vpn, key, value);
    /* With no "-flags" item a secret is system-owned: NetworkManager keeps it
     * in the profile and `nmcli connection up` needs no agent. */
    g_hash_table_iter_init(&iter, wq->secrets);
    while (g_hash_table_iter_next(&iter, &key, &value))
        nm_setting_vpn_add_secret(s_vpn, key, value);
    nm_connection_add_setting(connection, NM_SETTING(s_vpn));

    /* "auto" on a VPN means: what the service reports in its Ip4Config and
     * Ip6Config, which it builds from vpn.data (Address, DNS, AllowedIPs). */
    g_object_set(s_ip4, NM_SETTING_IP_CONFIG_METHOD, NM_SETTING_IP4_CONFIG_METHOD_AUTO, NULL);
    nm_connection_add_setting(connection, s_ip4);
    g_object_set(s_ip6, NM_SETTING_IP_CONFIG_METHOD, NM_SETTING_IP6_CONFIG_METHOD_AUTO, NULL);
    nm_connection_add_setting(connection, s_ip6);

    if (!nm_connection_normalize(connection, NULL, NULL, error))
        return NULL;
    return g_steal_pointer(&connection);
}

static NMConnection *
import_from_file(NMVpnEditorPlugin *iface, const char *path, GError **error)
{
    g_autoptr(WgmWgQuick) wq = NULL;
    g_autofree char *id      = NULL;
    char            *contents;
    gsize            len;

    g_return_val_if_fail(path != NULL, NULL);

    if (!g_file_get_contents(path, &contents, &len, error))
        return NULL;
    wq = wgm_wgquick_read(contents, len, path, WGM_WGQUICK_PROFILE, error);
    wipe_free(contents, len);
    if (!wq)
        return NULL;

    /* Things wg-quick would do that a profile does not (PostUp, SaveConfig):
     * imported without them.  nmcli shows these lines on stderr. */
    for (guint i = 0; wq->warnings && i < wq->warnings->len; i++)
        g_message("%s", (const char *)wq->warnings->pdata[i]);

    id = id_from_path(path);
    return connection_from_wgquick(id, wq, error);
}

/* ---- export ---- */

static gboolean
export_to_file(NMVpnEditorPlugin *iface, const char *path, NMConnection *connection, GError **error)
{
    NMSettingVpn *s_vpn = nm_connection_get_setting_vpn(connection);
    char         *text;
    gboolean      ok;

    if (!s_vpn || g_strcmp0(nm_setting_vpn_get_service_type(s_vpn), WGM_VPN_SERVICE_TYPE) != 0) {
        g_set_error(error,
                    NM_VPN_PLUGIN_ERROR,
                    NM_VPN_PLUGIN_ERROR_INVALID_CONNECTION,
                    _("profile “%s” is not a wgmesh VPN (vpn.service-type %s expected)"),
                    nm_connection_get_id(connection),
                    WGM_VPN_SERVICE_TYPE);
        return FALSE;
    }
    text = wgm_wgquick_write(s_vpn, error);
    if (!text)
        return FALSE;
    /* 0600 whatever the umask: the file holds the keys the profile's
     * secrets carried, and replaces any older file atomically. */
    ok = g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
    wipe_free(text, strlen(text));
    return ok;
}

static char *
get_suggested_filename(NMVpnEditorPlugin *iface, NMConnection *connection)
{
    const char      *id   = nm_connection_get_id(connection);
    g_autofree char *name = g_strdup(id && *id ? id : "wgmesh");

    /* wg-quick names the interface after the file: keep to the characters
     * it accepts there (which also rules out '/' and a leading dot). */
    for (char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("_=+.-", *p))
            *p = '_';
    }
    if (name[0] == '.')
        name[0] = '_';
    return g_strconcat(name, ".conf", NULL);
}

static guint32
get_capabilities(NMVpnEditorPlugin *iface)
{
    return NM_VPN_EDITOR_PLUGIN_CAPABILITY_IMPORT | NM_VPN_EDITOR_PLUGIN_CAPABILITY_EXPORT
           | NM_VPN_EDITOR_PLUGIN_CAPABILITY_IPV6;
}

/* ---- the GTK editor ---- */

/* A client with GTK 3 in its process gets the GTK 3 editor, any other the
 * GTK 4 one: loading GTK 4 next to GTK 3 would abort the client.
 * gtk_container_add() exists in GTK 3 only. */
static const char *
editor_module_name(void)
{
    GModule *self     = g_module_open(NULL, 0);
    gpointer gtk3_sym = NULL;

    if (self) {
        g_module_symbol(self, "gtk_container_add", &gtk3_sym);
        g_module_close(self);
    }
    return gtk3_sym ? WGM_EDITOR_GTK3_MODULE : WGM_EDITOR_GTK4_MODULE;
}

/* The editor library's factory, loaded once from this plugin's directory.
 * It registers GTypes, which can never be unregistered: once loaded it
 * stays, and a process only ever uses one GTK anyway. */
static WgmEditorFactory
load_editor_factory(GError **error)
{
    static GMutex           lock;
    static WgmEditorFactory factory;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&lock);
    const char      *module_name   = editor_module_name();
    g_autofree char *dir           = NULL;
    g_autofree char *path          = NULL;
    GModule         *module;
    gpointer         symbol = NULL;
    Dl_info          info;

    if (factory)
        return factory;

    if (!dladdr((void *)load_editor_factory, &info) || !info.dli_fname) {
        /* dladdr() need not set dlerror(), and reading it clears it. */
        const char *why = dlerror();

        g_set_error(error,
                    NM_VPN_PLUGIN_ERROR,
                    NM_VPN_PLUGIN_ERROR_FAILED,
                    _("cannot find where the wgmesh plugin is installed: %s"),
                    why ? why : _("no error reported"));
        return NULL;
    }
    dir  = g_path_get_dirname(info.dli_fname);
    path = g_build_filename(dir, module_name, NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        /* G_FILE_ERROR_NOENT: what clients such as nm-applet take for a
         * package not installed, rather than a broken one. */
        g_set_error(error,
                    G_FILE_ERROR,
                    G_FILE_ERROR_NOENT,
                    _("the wgmesh editor for GTK is not installed (%s in %s)"),
                    module_name,
                    dir);
        return NULL;
    }
    module = g_module_open(path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
    if (!module) {
        g_set_error(error,
                    NM_VPN_PLUGIN_ERROR,
                    NM_VPN_PLUGIN_ERROR_FAILED,
                    _("cannot load the wgmesh editor %s: %s"),
                    path,
                    g_module_error());
        return NULL;
    }
    if (!g_module_symbol(module, WGM_EDITOR_FACTORY_SYMBOL, &symbol) || !symbol) {
        g_set_error(error,
                    NM_VPN_PLUGIN_ERROR,
                    NM_VPN_PLUGIN_ERROR_FAILED,
                    _("the wgmesh editor %s has no %s()"),
                    path,
                    WGM_EDITOR_FACTORY_SYMBOL);
        g_module_close(module);
        return NULL;
    }
    g_module_make_resident(module);
    factory = (WgmEditorFactory)symbol;
    return factory;
}

static NMVpnEditor *
get_editor(NMVpnEditorPlugin *iface, NMConnection *connection, GError **error)
{
    WgmEditorFactory factory;
    NMVpnEditor     *editor;

    g_return_val_if_fail(NM_IS_CONNECTION(connection), NULL);

    factory = load_editor_factory(error);
    if (!factory)
        return NULL;
    editor = factory(iface, connection, error);
    if (!editor && error && !*error)
        g_set_error_literal(error,
                            NM_VPN_PLUGIN_ERROR,
                            NM_VPN_PLUGIN_ERROR_FAILED,
                            _("the wgmesh editor failed without saying why"));
    return editor;
}

/* ---- GObject ---- */

static void
get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
    switch (prop_id) {
    case PROP_NAME:
        g_value_set_string(value, _(WGM_PLUGIN_NAME));
        break;
    case PROP_DESC:
        g_value_set_string(value, _(WGM_PLUGIN_DESC));
        break;
    case PROP_SERVICE:
        g_value_set_string(value, WGM_VPN_SERVICE_TYPE);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
}

static void
wgm_editor_plugin_init(WgmEditorPlugin *plugin)
{
}

static void
wgm_editor_plugin_interface_init(NMVpnEditorPluginInterface *iface)
{
    iface->get_editor             = get_editor;
    iface->get_capabilities       = get_capabilities;
    iface->import_from_file       = import_from_file;
    iface->export_to_file         = export_to_file;
    iface->get_suggested_filename = get_suggested_filename;
}

static void
wgm_editor_plugin_class_init(WgmEditorPluginClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->get_property = get_property;
    g_object_class_override_property(object_class, PROP_NAME, NM_VPN_EDITOR_PLUGIN_NAME);
    g_object_class_override_property(object_class, PROP_DESC, NM_VPN_EDITOR_PLUGIN_DESCRIPTION);
    g_object_class_override_property(object_class, PROP_SERVICE, NM_VPN_EDITOR_PLUGIN_SERVICE);
}

G_MODULE_EXPORT NMVpnEditorPlugin *
nm_vpn_editor_plugin_factory(GError **error)
{
    static gsize bound;

    g_return_val_if_fail(!error || !*error, NULL);

    /* Our messages come from our own domain through dgettext (_() of
     * gi18n-lib.h), also for the editor and the shared code loaded with us:
     * bind it, in UTF-8 whatever the client's charset, as GTK wants.  Never
     * textdomain(): the process's default domain is the client's. */
    if (g_once_init_enter(&bound)) {
        bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        g_once_init_leave(&bound, 1);
    }

    return g_object_new(WGM_TYPE_EDITOR_PLUGIN, NULL);
}
