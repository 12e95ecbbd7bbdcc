/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The built editor plugin, loaded the way nmcli and GNOME load it: through
 * the build tree's .name file and its [libnm] plugin= path.  Imports the
 * wg-quick files in tests/data/editor/, exports them again, and checks what
 * a client sees.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include <NetworkManager.h>

#include "wgm-settings-keys.h"

/* The keys in tests/data/editor/mesh.conf (wg(8)'s documentation keys). */
#define PRIV "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define PUB1 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define PUB2 "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
#define PSK  "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="

static NMVpnEditorPlugin *plugin;

static char *
data_file(const char *name)
{
    return g_test_build_filename(G_TEST_DIST, "data", "editor", name, NULL);
}

/* As a client does: the .name file, then the plugin it names. */
static NMVpnEditorPlugin *
load_plugin(void)
{
    g_autofree char *name_file =
        g_test_build_filename(G_TEST_BUILT, "..", "data", "nm-wgmesh-service.build.name", NULL);
    g_autoptr(NMVpnPluginInfo) info = NULL;
    g_autoptr(GError) error         = NULL;
    NMVpnEditorPlugin *p;

    info = nm_vpn_plugin_info_new_from_file(name_file, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(nm_vpn_plugin_info_get_name(info), ==, "wgmesh");
    g_assert_cmpstr(nm_vpn_plugin_info_get_service(info), ==, WGM_VPN_SERVICE_TYPE);
    g_assert_true(g_str_has_suffix(nm_vpn_plugin_info_get_plugin(info),
                                   "/properties/libnm-vpn-plugin-wgmesh.so"));
    /* libnm refuses a plugin writable by group or others, or owned by
     * someone other than root or the caller. */
    p = nm_vpn_plugin_info_load_editor_plugin(info, &error);
    g_assert_no_error(error);
    g_assert_true(NM_IS_VPN_EDITOR_PLUGIN(p));
    /* The info owns the plugin; keep it past the info. */
    return g_object_ref(p);
}

/* vpn.data or vpn.secrets as a key -> value table. */
static GHashTable *
vpn_table(NMSettingVpn *s_vpn, gboolean secrets)
{
    GHashTable             *t    = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autofree const char **keys = secrets ? nm_setting_vpn_get_secret_keys(s_vpn, NULL)
                                           : nm_setting_vpn_get_data_keys(s_vpn, NULL);

    for (guint i = 0; keys && keys[i]; i++) {
        const char *value = secrets ? nm_setting_vpn_get_secret(s_vpn, keys[i])
                                    : nm_setting_vpn_get_data_item(s_vpn, keys[i]);

        g_hash_table_insert(t, g_strdup(keys[i]), g_strdup(value));
    }
    return t;
}

static void
assert_tables_equal(GHashTable *a, GHashTable *b, const char *what)
{
    GHashTableIter iter;
    gpointer       key, value;

    g_hash_table_iter_init(&iter, a);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        if (g_strcmp0(value, g_hash_table_lookup(b, key)) != 0)
            g_error("%s %s: %s before, %s after",
                    what,
                    (char *)key,
                    (char *)value,
                    (char *)g_hash_table_lookup(b, key));
    }
    g_assert_cmpuint(g_hash_table_size(a), ==, g_hash_table_size(b));
}

static NMConnection *
import_ok(const char *path)
{
    g_autoptr(GError) error  = NULL;
    NMConnection *connection = nm_vpn_editor_plugin_import(plugin, path, &error);

    g_assert_no_error(error);
    g_assert_true(NM_IS_CONNECTION(connection));
    nm_connection_verify(connection, &error);
    g_assert_no_error(error);
    return connection;
}

/* ---- the tests ---- */

static void
test_properties(void)
{
    g_autofree char *name    = NULL;
    g_autofree char *desc    = NULL;
    g_autofree char *service = NULL;

    g_object_get(plugin,
                 NM_VPN_EDITOR_PLUGIN_NAME,
                 &name,
                 NM_VPN_EDITOR_PLUGIN_DESCRIPTION,
                 &desc,
                 NM_VPN_EDITOR_PLUGIN_SERVICE,
                 &service,
                 NULL);
    g_assert_cmpstr(name, ==, "WireGuard mesh (wgmesh)");
    g_assert_cmpstr(service, ==, WGM_VPN_SERVICE_TYPE);
    g_assert_nonnull(desc);
    g_assert_cmpuint(strlen(desc), >, 0);
    g_assert_cmpuint(nm_vpn_editor_plugin_get_capabilities(plugin),
                     ==,
                     NM_VPN_EDITOR_PLUGIN_CAPABILITY_IMPORT | NM_VPN_EDITOR_PLUGIN_CAPABILITY_EXPORT
                         | NM_VPN_EDITOR_PLUGIN_CAPABILITY_IPV6);
}

/* Loading by path with the service check, as nm_vpn_editor_plugin_load()
 * callers do, gives the same plugin type. */
static void
test_load_from_file(void)
{
    g_autofree char *name_file =
        g_test_build_filename(G_TEST_BUILT, "..", "data", "nm-wgmesh-service.build.name", NULL);
    g_autoptr(NMVpnPluginInfo) info = nm_vpn_plugin_info_new_from_file(name_file, NULL);
    g_autoptr(NMVpnEditorPlugin) p  = NULL;
    g_autoptr(GError) error         = NULL;

    g_assert_nonnull(info);
    p = nm_vpn_editor_plugin_load_from_file(
        nm_vpn_plugin_info_get_plugin(info), WGM_VPN_SERVICE_TYPE, getuid(), NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(G_OBJECT_TYPE(p) == G_OBJECT_TYPE(plugin));

    /* A plugin for another service is refused. */
    g_clear_object(&p);
    p = nm_vpn_editor_plugin_load_from_file(nm_vpn_plugin_info_get_plugin(info),
                                            "org.freedesktop.NetworkManager.openvpn",
                                            getuid(),
                                            NULL,
                                            NULL,
                                            &error);
    g_assert_null(p);
    g_assert_nonnull(error);
}

static void
test_import(void)
{
    g_autofree char *path              = data_file("mesh.conf");
    g_autoptr(NMConnection) connection = import_ok(path);
    NMSettingConnection *s_con         = nm_connection_get_setting_connection(connection);
    NMSettingVpn        *s_vpn         = nm_connection_get_setting_vpn(connection);
    NMSettingIPConfig   *s_ip4         = nm_connection_get_setting_ip4_config(connection);
    NMSettingIPConfig   *s_ip6         = nm_connection_get_setting_ip6_config(connection);
    g_autoptr(GHashTable) data         = NULL;
    GHashTableIter iter;
    gpointer       key, value;

    g_assert_cmpstr(nm_setting_connection_get_id(s_con), ==, "mesh");
    g_assert_cmpstr(nm_setting_connection_get_connection_type(s_con), ==, "vpn");
    g_assert_true(g_uuid_string_is_valid(nm_setting_connection_get_uuid(s_con)));
    g_assert_false(nm_setting_connection_get_autoconnect(s_con));
    g_assert_cmpstr(nm_setting_vpn_get_service_type(s_vpn), ==, WGM_VPN_SERVICE_TYPE);
    g_assert_cmpstr(nm_setting_ip_config_get_method(s_ip4), ==, NM_SETTING_IP4_CONFIG_METHOD_AUTO);
    g_assert_cmpstr(nm_setting_ip_config_get_method(s_ip6), ==, NM_SETTING_IP6_CONFIG_METHOD_AUTO);

    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_ADDRESS), ==, "10.77.9.1/24");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_LISTEN_PORT), ==, "51829");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.public-key"), ==, PUB1);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.endpoint"), ==, "192.0.2.10:51820");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.allowed-ips"), ==, "10.77.9.2/32");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.name"), ==, "laptop");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.2.public-key"), ==, PUB2);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.2.persistent-keepalive"), ==, "25");

    /* Secrets are secrets: in vpn.secrets, nowhere in vpn.data. */
    g_assert_cmpstr(nm_setting_vpn_get_secret(s_vpn, WGM_KEY_PRIVATE_KEY), ==, PRIV);
    g_assert_cmpstr(nm_setting_vpn_get_secret(s_vpn, "peer.2.preshared-key"), ==, PSK);
    data = vpn_table(s_vpn, FALSE);
    g_assert_false(g_hash_table_contains(data, WGM_KEY_PRIVATE_KEY));
    g_assert_false(g_hash_table_contains(data, "peer.2.preshared-key"));
    g_hash_table_iter_init(&iter, data);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        g_assert_null(strstr(value, PRIV));
        g_assert_null(strstr(value, PSK));
    }
}

static void
assert_no_line_starting(const char *text, const char *prefix)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        const char *l = lines[i] + strspn(lines[i], " \t");

        if (g_ascii_strncasecmp(l, prefix, strlen(prefix)) == 0)
            g_error("line %u: %s", i + 1, lines[i]);
    }
}

/* Import, export, import again: the same vpn.data and vpn.secrets; the file
 * is 0600 whatever the umask. */
static void
test_round_trip(void)
{
    g_autofree char *path              = data_file("mesh.conf");
    g_autoptr(NMConnection) connection = import_ok(path);
    g_autoptr(NMConnection) again      = NULL;
    g_autoptr(GError) error            = NULL;
    g_autofree char *dir               = g_dir_make_tmp("wgm-editor-XXXXXX", &error);
    g_autofree char *out               = NULL;
    g_autofree char *text              = NULL;
    g_autoptr(GHashTable) data1        = NULL;
    g_autoptr(GHashTable) data2        = NULL;
    g_autoptr(GHashTable) secrets1     = NULL;
    g_autoptr(GHashTable) secrets2     = NULL;
    mode_t      old_umask;
    struct stat st;

    g_assert_no_error(error);
    out       = g_build_filename(dir, "wgm7.conf", NULL);
    old_umask = umask(0);
    nm_vpn_editor_plugin_export(plugin, out, connection, &error);
    umask(old_umask);
    g_assert_no_error(error);
    g_assert_cmpint(g_stat(out, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0600);
    g_assert_true(g_file_get_contents(out, &text, NULL, NULL));
    g_test_message("exported:\n%s", text);
    g_assert_nonnull(strstr(text, PRIV));

    again = import_ok(out);
    g_assert_cmpstr(nm_connection_get_id(again), ==, "wgm7");
    data1    = vpn_table(nm_connection_get_setting_vpn(connection), FALSE);
    data2    = vpn_table(nm_connection_get_setting_vpn(again), FALSE);
    secrets1 = vpn_table(nm_connection_get_setting_vpn(connection), TRUE);
    secrets2 = vpn_table(nm_connection_get_setting_vpn(again), TRUE);
    assert_tables_equal(data1, data2, "vpn.data");
    assert_tables_equal(secrets1, secrets2, "vpn.secrets");

    g_unlink(out);
    g_rmdir(dir);
}

/* A profile as NetworkManager hands it to nmcli export: no secrets.  The
 * file says so instead of carrying a PrivateKey line. */
static void
test_export_without_secrets(void)
{
    g_autofree char *path              = data_file("mesh.conf");
    g_autoptr(NMConnection) connection = import_ok(path);
    NMSettingVpn *s_vpn                = nm_connection_get_setting_vpn(connection);
    g_autoptr(GError) error            = NULL;
    g_autofree char *dir               = g_dir_make_tmp("wgm-editor-XXXXXX", &error);
    g_autofree char *out               = NULL;
    g_autofree char *text              = NULL;

    g_assert_no_error(error);
    nm_setting_vpn_remove_secret(s_vpn, WGM_KEY_PRIVATE_KEY);
    nm_setting_vpn_remove_secret(s_vpn, "peer.2.preshared-key");
    out = g_build_filename(dir, "mesh.conf", NULL);
    nm_vpn_editor_plugin_export(plugin, out, connection, &error);
    g_assert_no_error(error);
    g_assert_true(g_file_get_contents(out, &text, NULL, NULL));
    g_test_message("exported:\n%s", text);
    assert_no_line_starting(text, "PrivateKey");
    assert_no_line_starting(text, "PresharedKey");
    g_assert_nonnull(strstr(text, PUB1));
    g_assert_nonnull(strstr(text, PUB2));

    g_unlink(out);
    g_rmdir(dir);
}

static void
test_export_not_wgmesh(void)
{
    g_autoptr(NMConnection) connection = nm_simple_connection_new();
    NMSetting *s_vpn                   = nm_setting_vpn_new();
    g_autoptr(GError) error            = NULL;

    g_object_set(
        s_vpn, NM_SETTING_VPN_SERVICE_TYPE, "org.freedesktop.NetworkManager.openvpn", NULL);
    nm_connection_add_setting(connection, s_vpn);
    g_assert_false(nm_vpn_editor_plugin_export(plugin, "/nonexistent/x.conf", connection, &error));
    g_assert_error(error, NM_VPN_PLUGIN_ERROR, NM_VPN_PLUGIN_ERROR_INVALID_CONNECTION);
    g_assert_nonnull(strstr(error->message, WGM_VPN_SERVICE_TYPE));
}

/* The reader's "FILE:LINE: Key: ..." reaches the caller, and nothing is
 * imported. */
static void
test_bad_file(void)
{
    g_autofree char *path    = data_file("bad-key.conf");
    g_autofree char *where   = g_strdup_printf("%s:3:", path);
    g_autofree char *missing = data_file("no-such-file.conf");
    g_autoptr(GError) error  = NULL;
    NMConnection *connection;

    connection = nm_vpn_editor_plugin_import(plugin, path, &error);
    g_assert_null(connection);
    g_assert_nonnull(error);
    g_test_message("%s", error->message);
    g_assert_true(g_str_has_prefix(error->message, where));
    g_assert_nonnull(strstr(error->message, "PrivateKey"));
    /* A private key, even a broken one, never shows in a message. */
    g_assert_null(strstr(error->message, "not-a-key"));
    g_clear_error(&error);

    connection = nm_vpn_editor_plugin_import(plugin, missing, &error);
    g_assert_null(connection);
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

static void
test_suggested_filename(void)
{
    g_autoptr(NMConnection) connection = nm_simple_connection_new();
    NMSetting       *s_con             = nm_setting_connection_new();
    g_autofree char *name              = NULL;

    nm_connection_add_setting(connection, s_con);
    g_object_set(s_con, NM_SETTING_CONNECTION_ID, "office/home mesh", NULL);
    name = nm_vpn_editor_plugin_get_suggested_filename(plugin, connection);
    g_assert_cmpstr(name, ==, "office_home_mesh.conf");
    g_clear_pointer(&name, g_free);

    g_object_set(s_con, NM_SETTING_CONNECTION_ID, "../wg0", NULL);
    name = nm_vpn_editor_plugin_get_suggested_filename(plugin, connection);
    g_assert_null(strchr(name, '/'));
    g_assert_cmpstr(name, ==, "_._wg0.conf");
}

/* No GTK editor is built yet: a clear error naming the missing library
 * (the GTK 4 one here: this process has no GTK 3). */
/* Without an editor library next to it (a GTK-free install), the plugin
 * says so instead of failing in the client.  A copy of the plugin in a
 * directory of its own, loaded in a child process (its GType must not
 * meet the one loaded already). */
static void
test_editor_missing(void)
{
    g_autofree char *path              = NULL;
    g_autoptr(NMConnection) connection = NULL;
    g_autoptr(GError) error            = NULL;
    g_autoptr(NMVpnEditorPlugin) alone = NULL;
    g_autofree char *dir               = NULL;
    g_autofree char *copy              = NULL;
    g_autofree char *built             = NULL;
    g_autofree char *contents          = NULL;
    gsize            len;
    NMVpnEditor     *editor;

    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        return;
    }
    built =
        g_test_build_filename(G_TEST_BUILT, "..", "properties", "libnm-vpn-plugin-wgmesh.so", NULL);
    dir = g_dir_make_tmp("wgm-plugin-XXXXXX", &error);
    g_assert_no_error(error);
    copy = g_build_filename(dir, "libnm-vpn-plugin-wgmesh.so", NULL);
    g_assert_true(g_file_get_contents(built, &contents, &len, &error));
    g_assert_true(g_file_set_contents(copy, contents, (gssize)len, &error));
    g_assert_no_error(error);
    alone = nm_vpn_editor_plugin_load_from_file(
        copy, WGM_VPN_SERVICE_TYPE, getuid(), NULL, NULL, &error);
    g_assert_no_error(error);
    g_unlink(copy);
    g_rmdir(dir);

    path       = data_file("mesh.conf");
    connection = nm_vpn_editor_plugin_import(alone, path, &error);
    g_assert_no_error(error);
    editor = nm_vpn_editor_plugin_get_editor(alone, connection, &error);
    g_assert_null(editor);
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    g_test_message("%s", error->message);
    g_assert_true(g_str_has_prefix(error->message, "the wgmesh editor for GTK is not installed"));
    g_assert_nonnull(strstr(error->message, "libnm-gtk4-vpn-plugin-wgmesh-editor.so"));
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    if (!g_test_subprocess())
        plugin = load_plugin();

    g_test_add_func("/editor-plugin/properties", test_properties);
    g_test_add_func("/editor-plugin/load-from-file", test_load_from_file);
    g_test_add_func("/editor-plugin/import", test_import);
    g_test_add_func("/editor-plugin/round-trip", test_round_trip);
    g_test_add_func("/editor-plugin/export-without-secrets", test_export_without_secrets);
    g_test_add_func("/editor-plugin/export-not-wgmesh", test_export_not_wgmesh);
    g_test_add_func("/editor-plugin/bad-file", test_bad_file);
    g_test_add_func("/editor-plugin/suggested-filename", test_suggested_filename);
    g_test_add_func("/editor-plugin/editor-missing", test_editor_missing);

    ret = g_test_run();
    g_clear_object(&plugin);
    return ret;
}
