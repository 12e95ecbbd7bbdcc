/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The GTK editor, built for GTK 3 and GTK 4 and tested with both (this
 * file is compiled twice): loaded the way clients load it (the build
 * tree's .name file, its GTK-free plugin, which picks the editor library
 * of the toolkit in the process), shown in a window on a private Xvfb
 * display (tests/unit/run-with-xvfb.sh), its widgets set as a user would,
 * and what update_connection() makes of them checked.
 */
#include <string.h>

#include <gtk/gtk.h>
#include <nma-ui-utils.h>

#include <NetworkManager.h>

#include "wgm-dbus-generated.h"
#include "wgm-key.h"
#include "wgm-settings-keys.h"

/* wg(8)'s documentation keys. */
#define PRIV "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define PUB1 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define PUB2 "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
#define PUB3 "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA="
#define PSK  "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="

typedef struct {
    NMVpnPluginInfo   *info;
    NMVpnEditorPlugin *plugin; /* owned by info */
    NMConnection      *connection;
    NMVpnEditor       *editor;
    GtkWidget         *window;
    GtkWidget         *widget;
    guint              changed;
} Fixture;

static void
spin(void)
{
    for (int i = 0; i < 50 && g_main_context_iteration(NULL, FALSE); i++)
        ;
}

static const char *
widget_id(GtkWidget *widget)
{
#if GTK_CHECK_VERSION(4, 0, 0)
    return gtk_buildable_get_buildable_id(GTK_BUILDABLE(widget));
#else
    return gtk_buildable_get_name(GTK_BUILDABLE(widget));
#endif
}

static GtkWidget *
find_in(GtkWidget *root, const char *id)
{
    const char *name = widget_id(root);

    if (name && strcmp(name, id) == 0)
        return root;
#if GTK_CHECK_VERSION(4, 0, 0)
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *found = find_in(c, id);

        if (found)
            return found;
    }
#else
    if (GTK_IS_CONTAINER(root)) {
        g_autoptr(GList) children = gtk_container_get_children(GTK_CONTAINER(root));

        for (GList *l = children; l; l = l->next) {
            GtkWidget *found = find_in(l->data, id);

            if (found)
                return found;
        }
    }
#endif
    return NULL;
}

static GtkWidget *
w(Fixture *f, const char *id)
{
    GtkWidget *widget = find_in(f->widget, id);

    g_assert_nonnull(widget);
    return widget;
}

static const char *
text(GtkWidget *entry)
{
#if GTK_CHECK_VERSION(4, 0, 0)
    return gtk_editable_get_text(GTK_EDITABLE(entry));
#else
    return gtk_entry_get_text(GTK_ENTRY(entry));
#endif
}

static void
set_text(GtkWidget *entry, const char *t)
{
#if GTK_CHECK_VERSION(4, 0, 0)
    gtk_editable_set_text(GTK_EDITABLE(entry), t);
#else
    gtk_entry_set_text(GTK_ENTRY(entry), t);
#endif
    spin();
}

static char *
tooltip(GtkWidget *widget)
{
#if GTK_CHECK_VERSION(4, 0, 0)
    return g_strdup(gtk_widget_get_tooltip_text(widget));
#else
    return gtk_widget_get_tooltip_text(widget);
#endif
}

static gboolean
has_error_class(GtkWidget *widget)
{
#if GTK_CHECK_VERSION(4, 0, 0)
    return gtk_widget_has_css_class(widget, "error");
#else
    return gtk_style_context_has_class(gtk_widget_get_style_context(widget), "error");
#endif
}

/* The open dialog titled @title, or NULL. */
static GtkWidget *
find_dialog(const char *title)
{
    GtkWidget *found = NULL;
#if GTK_CHECK_VERSION(4, 0, 0)
    GListModel *toplevels = gtk_window_get_toplevels();

    for (guint i = 0; !found && i < g_list_model_get_n_items(toplevels); i++) {
        g_autoptr(GtkWindow) win = g_list_model_get_item(toplevels, i);

        if (GTK_IS_DIALOG(win) && g_strcmp0(gtk_window_get_title(win), title) == 0)
            found = GTK_WIDGET(win);
    }
#else
    g_autoptr(GList) toplevels = gtk_window_list_toplevels();

    for (GList *l = toplevels; !found && l; l = l->next) {
        if (GTK_IS_DIALOG(l->data) && gtk_widget_get_visible(l->data)
            && g_strcmp0(gtk_window_get_title(l->data), title) == 0)
            found = l->data;
    }
#endif
    return found;
}

static GtkWidget *
dialog_child(GtkWidget *dialog, const char *id)
{
    GtkWidget *widget = find_in(gtk_dialog_get_content_area(GTK_DIALOG(dialog)), id);

    g_assert_nonnull(widget);
    return widget;
}

static NMConnection *
make_connection(void)
{
    NMConnection *connection = nm_simple_connection_new();
    NMSetting    *s_con      = nm_setting_connection_new();
    NMSettingVpn *s_vpn      = NM_SETTING_VPN(nm_setting_vpn_new());

    g_object_set(s_con,
                 NM_SETTING_CONNECTION_ID,
                 "mesh",
                 NM_SETTING_CONNECTION_UUID,
                 "0d7d7d35-8b3c-4f0b-9d2c-3a6d6a6f0a11",
                 NM_SETTING_CONNECTION_TYPE,
                 NM_SETTING_VPN_SETTING_NAME,
                 NULL);
    g_object_set(s_vpn,
                 NM_SETTING_VPN_SERVICE_TYPE,
                 WGM_VPN_SERVICE_TYPE,
                 NM_SETTING_VPN_TIMEOUT,
                 42,
                 NM_SETTING_VPN_PERSISTENT,
                 TRUE,
                 NULL);
    nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_ADDRESS, "10.77.1.1/24");
    nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_LISTEN_PORT, "51821");
    nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_LAZY_CONNECTIONS, "yes");
    nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_INACTIVITY_TIMEOUT, "120");
    nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_GIVE_UP_AFTER, "600");
    nm_setting_vpn_add_data_item(s_vpn, "peer.1.public-key", PUB1);
    nm_setting_vpn_add_data_item(s_vpn, "peer.1.name", "alpha");
    nm_setting_vpn_add_data_item(s_vpn, "peer.1.endpoint", "192.0.2.1:51820");
    nm_setting_vpn_add_data_item(s_vpn, "peer.1.allowed-ips", "10.77.1.2/32");
    nm_setting_vpn_add_data_item(s_vpn, "peer.1.give-up-after", "30");
    nm_setting_vpn_add_data_item(s_vpn, "peer.7.public-key", PUB2);
    nm_setting_vpn_add_data_item(s_vpn, "peer.7.endpoint", "192.0.2.2:51820");
    nm_setting_vpn_add_data_item(s_vpn, "peer.7.allowed-ips", "10.77.1.3/32");
    nm_setting_vpn_add_data_item(s_vpn, "peer.7.lazy", "no");
    nm_setting_vpn_add_data_item(s_vpn, "peer.7.persistent-keepalive", "25");
    nm_setting_vpn_add_secret(s_vpn, WGM_KEY_PRIVATE_KEY, PRIV);
    nm_setting_set_secret_flags(NM_SETTING(s_vpn), WGM_KEY_PRIVATE_KEY, 0, NULL);
    nm_setting_vpn_add_secret(s_vpn, "peer.7.preshared-key", PSK);
    nm_setting_set_secret_flags(NM_SETTING(s_vpn), "peer.7.preshared-key", 0, NULL);
    nm_connection_add_setting(connection, s_con);
    nm_connection_add_setting(connection, NM_SETTING(s_vpn));
    return connection;
}

static void
changed_cb(NMVpnEditor *editor, Fixture *f)
{
    f->changed++;
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    g_autofree char *name_file =
        g_test_build_filename(G_TEST_BUILT, "..", "data", "nm-wgmesh-service.build.name", NULL);
    g_autoptr(GError) error = NULL;

    f->info = nm_vpn_plugin_info_new_from_file(name_file, &error);
    g_assert_no_error(error);
    f->plugin = nm_vpn_plugin_info_load_editor_plugin(f->info, &error);
    g_assert_no_error(error);
    f->connection = make_connection();
    f->editor     = nm_vpn_editor_plugin_get_editor(f->plugin, f->connection, &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->editor);
    g_signal_connect(f->editor, "changed", G_CALLBACK(changed_cb), f);
    f->widget = GTK_WIDGET(nm_vpn_editor_get_widget(f->editor));
#if GTK_CHECK_VERSION(4, 0, 0)
    f->window = gtk_window_new();
    gtk_window_set_child(GTK_WINDOW(f->window), f->widget);
#else
    f->window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
    gtk_container_add(GTK_CONTAINER(f->window), f->widget);
    gtk_widget_show_all(f->window);
#endif
    gtk_window_present(GTK_WINDOW(f->window));
    spin();
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
#if GTK_CHECK_VERSION(4, 0, 0)
    gtk_window_destroy(GTK_WINDOW(f->window));
#else
    gtk_widget_destroy(f->window);
#endif
    g_clear_object(&f->editor);
    g_clear_object(&f->connection);
    g_clear_object(&f->info);
    spin();
}

/* update_connection() into a copy of the profile; NULL and @error on refusal. */
static NMSettingVpn *
update(Fixture *f, GError **error)
{
    g_autoptr(NMConnection) copy = nm_simple_connection_new_clone(f->connection);

    if (!nm_vpn_editor_update_connection(f->editor, copy, error))
        return NULL;
    return g_object_ref(nm_connection_get_setting_vpn(copy));
}

static NMSettingVpn *
update_ok(Fixture *f)
{
    g_autoptr(GError) error = NULL;
    NMSettingVpn *s_vpn     = update(f, &error);

    g_assert_no_error(error);
    g_assert_nonnull(s_vpn);
    return s_vpn;
}

static void
assert_refused(Fixture *f, const char *needle)
{
    g_autoptr(GError) error       = NULL;
    g_autoptr(NMSettingVpn) s_vpn = update(f, &error);

    g_assert_null(s_vpn);
    g_assert_nonnull(error);
    g_test_message("refused: %s", error->message);
    g_assert_nonnull(strstr(error->message, needle));
    g_assert_cmpstr(gtk_label_get_text(GTK_LABEL(w(f, "error-label"))), ==, error->message);
}

static int
n_peers(Fixture *f)
{
    GtkTreeModel *model = gtk_tree_view_get_model(GTK_TREE_VIEW(w(f, "peers-view")));

    return gtk_tree_model_iter_n_children(model, NULL);
}

static void
test_load(Fixture *f, gconstpointer data)
{
    g_auto(WgmKey) priv = { 0 };
    WgmKey pub;
    char   b64[WGM_KEY_B64_LEN + 1];

    g_assert_cmpstr(text(w(f, "address-entry")), ==, "10.77.1.1/24");
    g_assert_cmpstr(text(w(f, "listen-port-entry")), ==, "51821");
    g_assert_cmpstr(text(w(f, "mtu-entry")), ==, "");
    g_assert_true(gtk_switch_get_active(GTK_SWITCH(w(f, "lazy-switch"))));
    g_assert_cmpint(
        gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(w(f, "inactivity-spin"))), ==, 120);
    g_assert_cmpstr(gtk_combo_box_get_active_id(GTK_COMBO_BOX(w(f, "backend-combo"))), ==, "auto");
    g_assert_cmpint(n_peers(f), ==, 2);
    /* The public key shown is the private key's. */
    g_assert_true(wgm_key_from_base64(PRIV, &priv, NULL));
    wgm_key_public_from_private(&priv, &pub);
    wgm_key_to_base64(&pub, b64);
    g_assert_cmpstr(text(w(f, "public-key-entry")), ==, b64);
    g_assert_false(gtk_editable_get_editable(GTK_EDITABLE(w(f, "public-key-entry"))));
    g_assert_cmpstr(gtk_label_get_text(GTK_LABEL(w(f, "error-label"))), ==, "");
}

/* Nothing touched: the profile comes back as it was (peers renumbered
 * 1..n in list order, everything else kept, also keys the editor does
 * not show). */
static void
test_round_trip(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s_vpn = update_ok(f);
    NMSettingSecretFlags flags    = 99;

    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_ADDRESS), ==, "10.77.1.1/24");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_LISTEN_PORT), ==, "51821");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_LAZY_CONNECTIONS), ==, "yes");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_INACTIVITY_TIMEOUT), ==, "120");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_GIVE_UP_AFTER), ==, "600");
    g_assert_null(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_MTU));
    g_assert_null(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_BACKEND));
    g_assert_cmpstr(nm_setting_vpn_get_secret(s_vpn, WGM_KEY_PRIVATE_KEY), ==, PRIV);
    g_assert_true(
        nm_setting_get_secret_flags(NM_SETTING(s_vpn), WGM_KEY_PRIVATE_KEY, &flags, NULL));
    g_assert_cmpint(flags, ==, NM_SETTING_SECRET_FLAG_NONE);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.public-key"), ==, PUB1);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.name"), ==, "alpha");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.give-up-after"), ==, "30");
    g_assert_null(nm_setting_vpn_get_data_item(s_vpn, "peer.1.lazy"));
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.2.public-key"), ==, PUB2);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.2.lazy"), ==, "no");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.2.persistent-keepalive"), ==, "25");
    g_assert_cmpstr(nm_setting_vpn_get_secret(s_vpn, "peer.2.preshared-key"), ==, PSK);
    g_assert_null(nm_setting_vpn_get_data_item(s_vpn, "peer.7.public-key"));
    /* The setting's own properties too. */
    g_assert_cmpuint(nm_setting_vpn_get_timeout(s_vpn), ==, 42);
    g_assert_true(nm_setting_vpn_get_persistent(s_vpn));
    g_assert_cmpuint(
        nm_setting_vpn_get_num_data_items(s_vpn),
        ==,
        nm_setting_vpn_get_num_data_items(nm_connection_get_setting_vpn(f->connection)));
}

static void
test_fields(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s_vpn = NULL;
    guint before                  = f->changed;

    gtk_switch_set_active(GTK_SWITCH(w(f, "lazy-switch")), FALSE);
    set_text(w(f, "mtu-entry"), "1380");
    set_text(w(f, "dns-entry"), "10.77.1.53");
    set_text(w(f, "dns-search-entry"), "mesh.example");
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(w(f, "inactivity-spin")), 300);
    gtk_combo_box_set_active_id(GTK_COMBO_BOX(w(f, "backend-combo")), "userspace");
    spin();
    g_assert_cmpuint(f->changed, >=, before + 6);

    s_vpn = update_ok(f);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_LAZY_CONNECTIONS), ==, "no");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_MTU), ==, "1380");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_DNS), ==, "10.77.1.53");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_DNS_SEARCH), ==, "mesh.example");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_INACTIVITY_TIMEOUT), ==, "300");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_BACKEND), ==, "userspace");
}

/* Bad input is marked on its field with the validator's message, and
 * update_connection() refuses it until it is fixed. */
static void
test_refusals(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s_vpn = NULL;

    set_text(w(f, "mtu-entry"), "big");
    g_assert_true(has_error_class(w(f, "mtu-entry")));
    assert_refused(f, "MTU");
    set_text(w(f, "address-entry"), "10.77.1.300/24");
    g_assert_true(has_error_class(w(f, "address-entry")));
    g_assert_true(has_error_class(w(f, "mtu-entry")));
    set_text(w(f, "mtu-entry"), "");
    g_assert_false(has_error_class(w(f, "mtu-entry")));
    {
        g_autofree char *tip = tooltip(w(f, "mtu-entry"));

        g_assert_null(tip);
    }
    assert_refused(f, "Addresses");
    set_text(w(f, "address-entry"), "10.77.1.1/24");
    g_assert_false(has_error_class(w(f, "address-entry")));

    set_text(w(f, "private-key-entry"), "not a key");
    assert_refused(f, "Private key");
    set_text(w(f, "private-key-entry"), "");
    assert_refused(f, "Private key");
    set_text(w(f, "private-key-entry"), PRIV);
    /* The field's own help is back once it is right. */
    {
        g_autofree char *tip = tooltip(w(f, "private-key-entry"));

        g_assert_true(g_str_has_prefix(tip, "This machine's WireGuard private key"));
    }

    /* What Connect would refuse, the editor refuses too. */
    gtk_combo_box_set_active_id(GTK_COMBO_BOX(w(f, "backend-combo")), "kernel");
    spin();
    assert_refused(f, "kernel");
    g_assert_true(has_error_class(w(f, "backend-combo")));
    gtk_combo_box_set_active_id(GTK_COMBO_BOX(w(f, "backend-combo")), "auto");
    spin();

    s_vpn = update_ok(f);
    g_assert_cmpstr(gtk_label_get_text(GTK_LABEL(w(f, "error-label"))), ==, "");
}

/* libnma's storage menu: "ask every time" keeps no key in the profile. */
static void
test_secret_flags(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s_vpn = NULL;
    NMSettingSecretFlags flags    = 0;
    GtkWidget           *entry    = w(f, "private-key-entry");

    nma_utils_update_password_storage(entry, NM_SETTING_SECRET_FLAG_NOT_SAVED, NULL, NULL);
    spin();
    s_vpn = update_ok(f);
    g_assert_null(nm_setting_vpn_get_secret(s_vpn, WGM_KEY_PRIVATE_KEY));
    g_assert_true(
        nm_setting_get_secret_flags(NM_SETTING(s_vpn), WGM_KEY_PRIVATE_KEY, &flags, NULL));
    g_assert_cmpint(flags, ==, NM_SETTING_SECRET_FLAG_NOT_SAVED);
    g_clear_object(&s_vpn);

    /* Kept by the user's agent: the key may be missing now (a locked
     * keyring), it is asked for at connect. */
    nma_utils_update_password_storage(entry, NM_SETTING_SECRET_FLAG_AGENT_OWNED, NULL, NULL);
    set_text(entry, "");
    g_clear_object(&s_vpn);
    s_vpn = update_ok(f);
    g_assert_null(nm_setting_vpn_get_secret(s_vpn, WGM_KEY_PRIVATE_KEY));
    g_clear_object(&s_vpn);
    set_text(entry, PRIV);
    s_vpn = update_ok(f);
    g_assert_cmpstr(nm_setting_vpn_get_secret(s_vpn, WGM_KEY_PRIVATE_KEY), ==, PRIV);
    g_assert_true(
        nm_setting_get_secret_flags(NM_SETTING(s_vpn), WGM_KEY_PRIVATE_KEY, &flags, NULL));
    g_assert_cmpint(flags, ==, NM_SETTING_SECRET_FLAG_AGENT_OWNED);
}

static void
test_generate(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s_vpn = NULL;
    g_auto(WgmKey) priv           = { 0 };
    WgmKey      pub;
    char        b64[WGM_KEY_B64_LEN + 1];
    const char *key;

    g_signal_emit_by_name(w(f, "generate-button"), "clicked");
    spin();
    key = text(w(f, "private-key-entry"));
    g_assert_cmpstr(key, !=, PRIV);
    g_assert_true(wgm_key_from_base64(key, &priv, NULL));
    wgm_key_public_from_private(&priv, &pub);
    wgm_key_to_base64(&pub, b64);
    g_assert_cmpstr(text(w(f, "public-key-entry")), ==, b64);
    s_vpn = update_ok(f);
    g_assert_cmpstr(nm_setting_vpn_get_secret(s_vpn, WGM_KEY_PRIVATE_KEY), ==, key);
}

static void
select_row(Fixture *f, int n)
{
    GtkTreeView *view = GTK_TREE_VIEW(w(f, "peers-view"));
    GtkTreePath *path = gtk_tree_path_new_from_indices(n, -1);

    gtk_tree_selection_select_path(gtk_tree_view_get_selection(view), path);
    gtk_tree_path_free(path);
    spin();
}

static void
test_peer_dialog(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s_vpn = NULL;
    GtkWidget *dialog;

    /* Add: a bad endpoint is marked and keeps the dialog open. */
    g_signal_emit_by_name(w(f, "add-peer-button"), "clicked");
    spin();
    dialog = find_dialog("Add peer");
    g_assert_nonnull(dialog);
    g_assert_true(gtk_window_get_modal(GTK_WINDOW(dialog)));
    set_text(dialog_child(dialog, "peer-name-entry"), "gamma");
    set_text(dialog_child(dialog, "peer-public-key-entry"), PUB3);
    set_text(dialog_child(dialog, "peer-endpoint-entry"), "192.0.2.3");
    set_text(dialog_child(dialog, "peer-allowed-ips-entry"), "10.77.1.4/32");
    gtk_dialog_response(GTK_DIALOG(dialog), GTK_RESPONSE_OK);
    spin();
    g_assert_true(find_dialog("Add peer") == dialog);
    g_test_message("dialog says: %s",
                   gtk_label_get_text(GTK_LABEL(dialog_child(dialog, "peer-error-label"))));
    g_assert_true(g_str_has_prefix(
        gtk_label_get_text(GTK_LABEL(dialog_child(dialog, "peer-error-label"))), "Endpoint: "));
    g_assert_true(has_error_class(dialog_child(dialog, "peer-endpoint-entry")));
    g_assert_cmpint(n_peers(f), ==, 2);

    /* A key another peer has. */
    set_text(dialog_child(dialog, "peer-endpoint-entry"), "192.0.2.3:51820");
    set_text(dialog_child(dialog, "peer-public-key-entry"), PUB1);
    gtk_dialog_response(GTK_DIALOG(dialog), GTK_RESPONSE_OK);
    spin();
    g_test_message("dialog says: %s",
                   gtk_label_get_text(GTK_LABEL(dialog_child(dialog, "peer-error-label"))));
    g_assert_nonnull(
        strstr(gtk_label_get_text(GTK_LABEL(dialog_child(dialog, "peer-error-label"))), "alpha"));

    set_text(dialog_child(dialog, "peer-public-key-entry"), PUB3);
    gtk_combo_box_set_active_id(GTK_COMBO_BOX(dialog_child(dialog, "peer-lazy-combo")), "yes");
    gtk_dialog_response(GTK_DIALOG(dialog), GTK_RESPONSE_OK);
    spin();
    g_assert_null(find_dialog("Add peer"));
    g_assert_cmpint(n_peers(f), ==, 3);
    s_vpn = update_ok(f);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.3.public-key"), ==, PUB3);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.3.name"), ==, "gamma");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.3.endpoint"), ==, "192.0.2.3:51820");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.3.lazy"), ==, "yes");
    g_clear_object(&s_vpn);

    /* Edit the first: its hidden give-up-after stays. */
    select_row(f, 0);
    g_signal_emit_by_name(w(f, "edit-peer-button"), "clicked");
    spin();
    dialog = find_dialog("Edit peer");
    g_assert_nonnull(dialog);
    g_assert_cmpstr(text(dialog_child(dialog, "peer-name-entry")), ==, "alpha");
    set_text(dialog_child(dialog, "peer-endpoint-entry"), "alpha.example:51999");
    gtk_dialog_response(GTK_DIALOG(dialog), GTK_RESPONSE_OK);
    spin();
    g_assert_null(find_dialog("Edit peer"));
    s_vpn = update_ok(f);
    g_assert_cmpstr(
        nm_setting_vpn_get_data_item(s_vpn, "peer.1.endpoint"), ==, "alpha.example:51999");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.give-up-after"), ==, "30");
    g_clear_object(&s_vpn);

    /* A preshared key "asked every time" is not kept in the profile. */
    select_row(f, 1);
    g_signal_emit_by_name(w(f, "edit-peer-button"), "clicked");
    spin();
    dialog = find_dialog("Edit peer");
    g_assert_nonnull(dialog);
    nma_utils_update_password_storage(dialog_child(dialog, "peer-preshared-key-entry"),
                                      NM_SETTING_SECRET_FLAG_NOT_SAVED,
                                      NULL,
                                      NULL);
    set_text(dialog_child(dialog, "peer-preshared-key-entry"), PSK);
    gtk_dialog_response(GTK_DIALOG(dialog), GTK_RESPONSE_OK);
    spin();
    g_assert_null(find_dialog("Edit peer"));
    s_vpn = update_ok(f);
    g_assert_null(nm_setting_vpn_get_secret(s_vpn, "peer.2.preshared-key"));
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.2.preshared-key-flags"), ==, "2");
    g_clear_object(&s_vpn);

    /* Remove the second: the third moves up. */
    select_row(f, 1);
    g_signal_emit_by_name(w(f, "remove-peer-button"), "clicked");
    spin();
    g_assert_cmpint(n_peers(f), ==, 2);
    s_vpn = update_ok(f);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.2.public-key"), ==, PUB3);
    g_assert_null(nm_setting_vpn_get_data_item(s_vpn, "peer.3.public-key"));
    g_assert_null(nm_setting_vpn_get_secret(s_vpn, "peer.2.preshared-key"));
}

/* IPv6 allowed IPs in the dialog (the profile has an IPv6 address). */
static void
test_peer_ipv6(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s_vpn = NULL;
    GtkWidget *dialog;

    set_text(w(f, "address-entry"), "10.77.1.1/24, fd77::1/64");
    g_signal_emit_by_name(w(f, "add-peer-button"), "clicked");
    spin();
    dialog = find_dialog("Add peer");
    set_text(dialog_child(dialog, "peer-public-key-entry"), PUB3);
    set_text(dialog_child(dialog, "peer-endpoint-entry"), "[2001:db8::3]:51820");
    set_text(dialog_child(dialog, "peer-allowed-ips-entry"), "fd77::3/128");
    gtk_dialog_response(GTK_DIALOG(dialog), GTK_RESPONSE_OK);
    spin();
    g_assert_null(find_dialog("Add peer"));
    s_vpn = update_ok(f);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.3.allowed-ips"), ==, "fd77::3/128");
}

/* The client destroys its window while the editor's dialogs are open (they
 * go with it): nothing is left pointing at them.  The teardown destroys the
 * window first, then drops the editor. */
static void
test_dialogs_open_at_close(Fixture *f, gconstpointer data)
{
    g_signal_emit_by_name(w(f, "add-peer-button"), "clicked");
    g_signal_emit_by_name(w(f, "paste-peer-button"), "clicked");
    spin();
    g_assert_nonnull(find_dialog("Add peer"));
    g_assert_nonnull(find_dialog("Paste [Peer] sections"));
}

/* A value the widgets cannot show is kept, and named by the check, until
 * the user changes it. */
static void
test_invalid_kept(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s_vpn = NULL;
    NMSettingVpn *orig            = nm_connection_get_setting_vpn(f->connection);
    g_autoptr(GError) error       = NULL;

    nm_setting_vpn_add_data_item(orig, WGM_KEY_LAZY_CONNECTIONS, "sometimes");
    nm_setting_vpn_add_data_item(orig, "peer.7.lazy", "perhaps");
    g_clear_object(&f->editor);
    f->editor = nm_vpn_editor_plugin_get_editor(f->plugin, f->connection, &error);
    g_assert_no_error(error);
#if GTK_CHECK_VERSION(4, 0, 0)
    gtk_window_set_child(GTK_WINDOW(f->window), GTK_WIDGET(nm_vpn_editor_get_widget(f->editor)));
#else
    gtk_container_remove(GTK_CONTAINER(f->window), f->widget);
    gtk_container_add(GTK_CONTAINER(f->window), GTK_WIDGET(nm_vpn_editor_get_widget(f->editor)));
#endif
    f->widget = GTK_WIDGET(nm_vpn_editor_get_widget(f->editor));
    spin();
    assert_refused(f, "Lazy connections");
    gtk_switch_set_active(GTK_SWITCH(w(f, "lazy-switch")), TRUE);
    spin();
    assert_refused(f, "perhaps");
}

static void
paste(GtkWidget *dialog, const char *contents)
{
    GtkTextBuffer *buffer =
        gtk_text_view_get_buffer(GTK_TEXT_VIEW(dialog_child(dialog, "paste-view")));

    gtk_text_buffer_set_text(buffer, contents, -1);
    gtk_dialog_response(GTK_DIALOG(dialog), GTK_RESPONSE_OK);
    spin();
}

static void
test_paste(Fixture *f, gconstpointer data)
{
    g_autoptr(NMSettingVpn) s_vpn = NULL;
    GtkWidget  *dialog;
    const char *message;

    g_signal_emit_by_name(w(f, "paste-peer-button"), "clicked");
    spin();
    dialog = find_dialog("Paste [Peer] sections");
    g_assert_nonnull(dialog);
    paste(dialog, "[Peer]\nPublicKey = " PUB3 "\nEndpoint = 192.0.2.9:nope\n");
    message = gtk_label_get_text(GTK_LABEL(dialog_child(dialog, "paste-error-label")));
    g_test_message("paste says: %s", message);
    g_assert_true(g_str_has_prefix(message, "pasted text:3: Endpoint"));
    g_assert_cmpint(n_peers(f), ==, 2);

    /* One new peer, one update of a peer listed already. */
    paste(dialog,
          "[Peer]\n# Name = gamma\nPublicKey = " PUB3 "\nEndpoint = 192.0.2.9:51820\n"
          "AllowedIPs = 10.77.1.9/32\n\n"
          "[Peer]\nPublicKey = " PUB1 "\nEndpoint = 192.0.2.1:51000\nAllowedIPs = 10.77.1.2/32\n");
    g_assert_null(find_dialog("Paste [Peer] sections"));
    g_assert_cmpint(n_peers(f), ==, 3);
    s_vpn = update_ok(f);
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.endpoint"), ==, "192.0.2.1:51000");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.3.name"), ==, "gamma");
    /* What the pasted section did not say stays as it was. */
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.name"), ==, "alpha");
    g_assert_cmpstr(nm_setting_vpn_get_data_item(s_vpn, "peer.1.give-up-after"), ==, "30");
}

/* A check across peers names the peer by its name. */
static void
test_whole_profile(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    set_text(w(f, "address-entry"), "10.77.1.1/24, 10.99.0.1/24");
    g_assert_true(has_error_class(w(f, "address-entry")));
    assert_refused(f, "Addresses");
    set_text(w(f, "address-entry"), "10.77.1.1/24");
    /* No peer with an endpoint: NetworkManager needs one. */
    select_row(f, 0);
    g_signal_emit_by_name(w(f, "remove-peer-button"), "clicked");
    select_row(f, 0);
    g_signal_emit_by_name(w(f, "remove-peer-button"), "clicked");
    spin();
    assert_refused(f, "endpoint");
    g_assert_true(has_error_class(w(f, "peers-view")));
}

/* ---- live state ---- */

/* A stand-in for the service on the test's "system" bus (a private
 * dbus-daemon): the real service needs root and NetworkManager (the UI
 * tests in tests/ui show its peers' state in the real applications).  It
 * exports the same generated interfaces the service does. */
typedef struct {
    GDBusConnection          *bus;
    GDBusObjectManagerServer *manager;
    WgmDBusMesh              *mesh;
    WgmDBusPeer              *peer;
} StandIn;

static void
stand_in_start(StandIn *s, const char *name, const char *uuid, const char *state)
{
    g_autoptr(GError) error            = NULL;
    g_autoptr(WgmDBusObjectSkeleton) o = NULL;
    g_autoptr(WgmDBusMesh) mesh        = NULL;
    g_autoptr(GVariant) reply          = NULL;

    s->mesh = mesh = wgm_dbus_mesh_skeleton_new();
    g_object_ref(mesh);
    s->bus =
        g_dbus_connection_new_for_address_sync(g_getenv("DBUS_SYSTEM_BUS_ADDRESS"),
                                               G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
                                                   | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                               NULL,
                                               NULL,
                                               &error);
    g_assert_no_error(error);
    reply = g_dbus_connection_call_sync(s->bus,
                                        "org.freedesktop.DBus",
                                        "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus",
                                        "RequestName",
                                        g_variant_new("(su)", name, 4 /* DO_NOT_QUEUE */),
                                        G_VARIANT_TYPE("(u)"),
                                        G_DBUS_CALL_FLAGS_NONE,
                                        -1,
                                        NULL,
                                        &error);
    g_assert_no_error(error);
    /* As the service: the name first (NetworkManager starts it), the
     * mesh at Connect, seen only then (Mesh.Connection signalled): the
     * editor's first look finds no mesh. */
    for (gint64 until = g_get_monotonic_time() + 150 * 1000; g_get_monotonic_time() < until;) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    /* As the service does: the Mesh at the object manager's own path. */
    s->manager = g_dbus_object_manager_server_new("/org/freedesktop/NetworkManager/wgmesh");
    g_dbus_interface_skeleton_export(
        G_DBUS_INTERFACE_SKELETON(mesh), s->bus, "/org/freedesktop/NetworkManager/wgmesh", &error);
    g_assert_no_error(error);
    /* Set once exported, as the service does: signalled. */
    wgm_dbus_mesh_set_connection(mesh, uuid);

    o       = wgm_dbus_object_skeleton_new("/org/freedesktop/NetworkManager/wgmesh/Peer/1");
    s->peer = wgm_dbus_peer_skeleton_new();
    wgm_dbus_peer_set_public_key(s->peer, PUB1);
    wgm_dbus_peer_set_state(s->peer, state);
    wgm_dbus_object_skeleton_set_peer(o, s->peer);
    g_dbus_object_manager_server_export(s->manager, G_DBUS_OBJECT_SKELETON(o));
    g_dbus_object_manager_server_set_connection(s->manager, s->bus);

    g_assert_no_error(error);
}

static void
stand_in_stop(StandIn *s)
{
    g_dbus_connection_close_sync(s->bus, NULL, NULL);
    g_clear_object(&s->peer);
    g_clear_object(&s->mesh);
    g_clear_object(&s->manager);
    g_clear_object(&s->bus);
}

static char *
cell(Fixture *f, int row, int col)
{
    GtkTreeModel *model = gtk_tree_view_get_model(GTK_TREE_VIEW(w(f, "peers-view")));
    GtkTreeIter   iter;
    char         *value = NULL;

    g_assert_true(gtk_tree_model_iter_nth_child(model, &iter, NULL, row));
    gtk_tree_model_get(model, &iter, col, &value, -1);
    return value;
}

static void
wait_ms(int ms)
{
    gint64 until = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < until) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

/* Spins until column @col (6 = State, 7 = Last handshake) of @row is
 * @want, for at most 5 s. */
static void
wait_cell(Fixture *f, int row, int col, const char *want)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    for (;;) {
        g_autofree char *v = cell(f, row, col);

        if (g_strcmp0(v, want) == 0)
            return;
        if (g_get_monotonic_time() > deadline)
            g_error("row %d column %d is \"%s\", not \"%s\", after 5 s", row, col, v, want);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

static void
test_live(Fixture *f, gconstpointer data)
{
    StandIn          other = { 0 }, ours = { 0 };
    g_autofree char *handshake = NULL;

    /* A mesh of another profile, up before the editor looks: not ours. */
    stand_in_start(&other, WGM_VPN_SERVICE_TYPE, "6f3e0c51-0000-4000-8000-000000000000", "idle");
    /* Ours comes up while the editor is open. */
    stand_in_start(&ours,
                   WGM_VPN_SERVICE_TYPE ".Connection_3",
                   nm_connection_get_uuid(f->connection),
                   "connecting");
    wait_cell(f, 0, 6, "Connecting");
    wait_cell(f, 0, 7, "never");
    {
        g_autofree char *second = cell(f, 1, 6);

        g_assert_cmpstr(second, ==, ""); /* PUB2 has no object */
    }

    /* PropertiesChanged reaches the row. */
    wgm_dbus_peer_set_latest_handshake(ours.peer,
                                       (guint64)(g_get_real_time() - 90 * G_USEC_PER_SEC));
    wgm_dbus_peer_set_state(ours.peer, "connected");
    wait_cell(f, 0, 6, "Connected");
    handshake = cell(f, 0, 7);
    g_assert_cmpstr(handshake, ==, "1 minute ago");

    /* The other mesh changing is not shown. */
    wgm_dbus_peer_set_state(other.peer, "connecting");
    wait_ms(200);
    wait_cell(f, 0, 6, "Connected");

    /* The peer leaves the mesh (its object goes), and comes back. */
    g_assert_true(g_dbus_object_manager_server_unexport(
        ours.manager, "/org/freedesktop/NetworkManager/wgmesh/Peer/1"));
    wait_cell(f, 0, 6, "");
    {
        g_autoptr(WgmDBusObjectSkeleton) o =
            wgm_dbus_object_skeleton_new("/org/freedesktop/NetworkManager/wgmesh/Peer/1");

        wgm_dbus_object_skeleton_set_peer(o, ours.peer);
        g_dbus_object_manager_server_export(ours.manager, G_DBUS_OBJECT_SKELETON(o));
    }
    wait_cell(f, 0, 6, "Connected");

    /* Ours goes down: no state shown; up again under another name (a
     * reconnect): followed again. */
    stand_in_stop(&ours);
    wait_cell(f, 0, 6, "");
    stand_in_start(
        &ours, WGM_VPN_SERVICE_TYPE ".Connection_4", nm_connection_get_uuid(f->connection), "idle");
    wait_cell(f, 0, 6, "Idle");
    stand_in_stop(&ours);
    wait_cell(f, 0, 6, "");
    stand_in_stop(&other);
}

int
main(int argc, char **argv)
{
    g_autoptr(GTestDBus) system_bus = NULL;
    int status;

    g_test_init(&argc, &argv, NULL);
    /* The editor's "system" bus: a private one (its session bus address
     * is not used by anything here: no accessibility, no dconf). */
    g_autofree char *display = g_strdup(g_getenv("DISPLAY"));

    system_bus = g_test_dbus_new(G_TEST_DBUS_NONE);
    g_test_dbus_up(system_bus); /* it unsets DISPLAY */
    if (display)
        g_setenv("DISPLAY", display, TRUE);
    g_setenv("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address(system_bus), TRUE);
#if GTK_CHECK_VERSION(4, 0, 0)
    if (!gtk_init_check()) {
#else
    if (!gtk_init_check(&argc, &argv)) {
#endif
        g_test_skip("no display: run through tests/unit/run-with-xvfb.sh");
        status = g_test_run();
        g_test_dbus_down(system_bus);
        return status;
    }
#define ADD(path, fn) \
    g_test_add("/editor-gtk/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("load", test_load);
    ADD("round-trip", test_round_trip);
    ADD("fields", test_fields);
    ADD("refusals", test_refusals);
    ADD("secret-flags", test_secret_flags);
    ADD("generate", test_generate);
    ADD("peer-dialog", test_peer_dialog);
    ADD("paste", test_paste);
    ADD("whole-profile", test_whole_profile);
    ADD("peer-ipv6", test_peer_ipv6);
    ADD("dialogs-open-at-close", test_dialogs_open_at_close);
    ADD("invalid-kept", test_invalid_kept);
    ADD("live", test_live);
    status = g_test_run();
    g_test_dbus_down(system_bus);
    return status;
}
