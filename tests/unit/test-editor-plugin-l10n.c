/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The editor plugin speaks the user's language: loaded the way clients load
 * it (the build tree's .name file), with LANGUAGE=de, its name, its own
 * errors and those of the shared code it runs (a wg-quick import) come back
 * in German from po/de.po.
 *
 * The plugin binds its gettext domain to LOCALEDIR, where a build tree has
 * installed nothing.  The test checks that binding, then points the domain
 * at the build tree's po/ (meson builds po/de/LC_MESSAGES/ there, the
 * layout of an installed LOCALEDIR) instead of giving the plugin a
 * test-only override.
 */
#include "config.h"

#include <libintl.h>
#include <locale.h>
#include <string.h>

#include <glib/gstdio.h>

#include <NetworkManager.h>

#include "wgm-settings-keys.h"

static NMVpnEditorPlugin *plugin;
/* The plugin's binding, read before the test moves it. */
static char *bound_dir;
static char *bound_codeset;

/* LANGUAGE=@lang in the locale C.UTF-8: any locale but "C", where glibc
 * ignores LANGUAGE; C.UTF-8 is built into glibc 2.35 and later, so no German
 * locale need be generated.  Through "C" because glibc's gettext caches
 * translations until the locale changes. */
static gboolean
set_language(const char *lang)
{
    g_setenv("LANGUAGE", lang, TRUE);
    setlocale(LC_ALL, "C");
    return setlocale(LC_ALL, "C.UTF-8") != NULL;
}

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
    p = nm_vpn_plugin_info_load_editor_plugin(info, &error);
    g_assert_no_error(error);
    return g_object_ref(p);
}

static void
test_bound(void)
{
    /* Its own domain, in UTF-8 whatever the client's charset... */
    g_assert_cmpstr(bound_dir, ==, LOCALEDIR);
    g_assert_cmpstr(bound_codeset, ==, "UTF-8");
    /* ...and never the client's default domain. */
    g_assert_cmpstr(textdomain(NULL), ==, "messages");
}

static void
test_name(void)
{
    g_autofree char *name = NULL;
    g_autofree char *desc = NULL;

    g_object_get(
        plugin, NM_VPN_EDITOR_PLUGIN_NAME, &name, NM_VPN_EDITOR_PLUGIN_DESCRIPTION, &desc, NULL);
    g_assert_cmpstr(name, ==, "WireGuard-Mesh (wgmesh)");
    g_assert_true(g_str_has_prefix(desc, "Eine WireGuard-Schnittstelle mit vielen Gegenstellen"));
}

/* An error of the shared wg-quick reader and key parser (src/common). */
static void
test_import_error(void)
{
    g_autoptr(GError) error      = NULL;
    g_autoptr(NMConnection) conn = NULL;
    g_autofree char *dir         = g_dir_make_tmp("wgm-l10n-XXXXXX", &error);
    g_autofree char *path        = NULL;
    g_autofree char *expected    = NULL;

    g_assert_no_error(error);
    path = g_build_filename(dir, "wg0.conf", NULL);
    g_assert_true(g_file_set_contents(path, "[Interface]\nPrivateKey = abc\n", -1, &error));
    g_assert_no_error(error);

    conn = nm_vpn_editor_plugin_import(plugin, path, &error);
    g_assert_null(conn);
    g_assert_nonnull(error);
    expected = g_strdup_printf("%s:2: PrivateKey: ist kein WireGuard-Schlüssel: 44 Zeichen in "
                               "base64 erwartet, 3 erhalten",
                               path);
    g_assert_cmpstr(error->message, ==, expected);

    g_unlink(path);
    g_rmdir(dir);
}

/* An error of the plugin itself. */
static void
test_export_error(void)
{
    g_autoptr(GError) error      = NULL;
    g_autoptr(NMConnection) conn = nm_simple_connection_new();
    NMSetting *s_con             = nm_setting_connection_new();
    NMSetting *s_vpn             = nm_setting_vpn_new();

    g_object_set(s_con,
                 NM_SETTING_CONNECTION_ID,
                 "büro",
                 NM_SETTING_CONNECTION_TYPE,
                 NM_SETTING_VPN_SETTING_NAME,
                 NULL);
    nm_connection_add_setting(conn, s_con);
    g_object_set(
        s_vpn, NM_SETTING_VPN_SERVICE_TYPE, "org.freedesktop.NetworkManager.openvpn", NULL);
    nm_connection_add_setting(conn, s_vpn);

    g_assert_false(nm_vpn_editor_plugin_export(plugin, "/nonexistent/x.conf", conn, &error));
    g_assert_error(error, NM_VPN_PLUGIN_ERROR, NM_VPN_PLUGIN_ERROR_INVALID_CONNECTION);
    g_assert_cmpstr(error->message,
                    ==,
                    "Das Profil »büro« ist kein wgmesh-VPN (vpn.service-type " WGM_VPN_SERVICE_TYPE
                    " erwartet)");
}

/* A language without a translation gets the English text. */
static void
test_untranslated_language(void)
{
    g_autofree char *name = NULL;

    set_language("xx");
    g_object_get(plugin, NM_VPN_EDITOR_PLUGIN_NAME, &name, NULL);
    set_language("de");
    g_assert_cmpstr(name, ==, "WireGuard mesh (wgmesh)");
}

static void
test_no_locale(void)
{
    g_test_skip("no C.UTF-8 locale: gettext ignores LANGUAGE in the C locale");
}

int
main(int argc, char *argv[])
{
    g_autofree char *podir = NULL;

    g_test_init(&argc, &argv, NULL);

    if (!set_language("de")) {
        g_test_add_func("/editor-plugin-l10n/no-locale", test_no_locale);
        return g_test_run();
    }

    plugin        = load_plugin();
    bound_dir     = g_strdup(bindtextdomain(GETTEXT_PACKAGE, NULL));
    bound_codeset = g_strdup(bind_textdomain_codeset(GETTEXT_PACKAGE, NULL));
    podir         = g_test_build_filename(G_TEST_BUILT, "..", "po", NULL);
    bindtextdomain(GETTEXT_PACKAGE, podir);

    g_test_add_func("/editor-plugin-l10n/bound", test_bound);
    g_test_add_func("/editor-plugin-l10n/name", test_name);
    g_test_add_func("/editor-plugin-l10n/import-error", test_import_error);
    g_test_add_func("/editor-plugin-l10n/export-error", test_export_error);
    g_test_add_func("/editor-plugin-l10n/untranslated-language", test_untranslated_language);
    return g_test_run();
}
