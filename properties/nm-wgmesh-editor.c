/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The editor: interface fields, the private key with libnma's storage
 * menu, and the checks.  What the user types is checked with the
 * profile's own validator (wgm-config), the one the service runs at
 * Connect: a field that is wrong is marked and its message shown, and
 * update_connection() refuses the profile with that message.
 */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "nm-wgmesh-editor-private.h"

#include <string.h>

#include <nma-ui-utils.h>

#include "wgm-config.h"
#include "wgm-key.h"
#include "wgm-parse.h"
#include "wgm-settings-keys.h"

#define WGM_EDITOR_UI_RESOURCE "/org/freedesktop/network-manager-wgmesh/nm-wgmesh-editor.ui"

static void wgm_editor_interface_init(NMVpnEditorInterface *iface);

G_DEFINE_TYPE_WITH_CODE(WgmEditor,
                        wgm_editor,
                        G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(NM_TYPE_VPN_EDITOR, wgm_editor_interface_init))

/* The interface keys an entry edits: vpn.data key, widget, its label. */
static const struct {
    const char *key;
    const char *widget;
    const char *label; /* widget id of its label: the name messages use */
} entry_keys[] = {
    { WGM_KEY_ADDRESS, "address-entry", "address-label" },
    { WGM_KEY_LISTEN_PORT, "listen-port-entry", "listen-port-label" },
    { WGM_KEY_MTU, "mtu-entry", "mtu-label" },
    { WGM_KEY_DNS, "dns-entry", "dns-label" },
    { WGM_KEY_DNS_SEARCH, "dns-search-entry", "dns-search-label" },
};

/* Where a message about a vpn.data key is shown. */
static const struct {
    const char *key;
    const char *widget;
    const char *label; /* its label, whose text replaces the key in messages */
} key_widgets[] = {
    { WGM_KEY_PRIVATE_KEY, "private-key-entry", "private-key-label" },
    { WGM_KEY_ADDRESS, "address-entry", "address-label" },
    { WGM_KEY_LISTEN_PORT, "listen-port-entry", "listen-port-label" },
    { WGM_KEY_MTU, "mtu-entry", "mtu-label" },
    { WGM_KEY_DNS_SEARCH, "dns-search-entry", "dns-search-label" },
    { WGM_KEY_DNS, "dns-entry", "dns-label" },
    { WGM_KEY_LAZY_CONNECTIONS, "lazy-switch", "lazy-label" },
    { WGM_KEY_INACTIVITY_TIMEOUT, "inactivity-spin", "inactivity-label" },
    { WGM_KEY_NETWORK_MAP, "network-map-button", "network-map-label" },
    { WGM_KEY_BACKEND, "backend-combo", "backend-label" },
    { WGM_KEY_PEER_PREFIX, "peers-view", NULL },
};

/* Keys the editor writes; every other vpn.data key is kept as it was. */
static gboolean
is_edited_key(const char *key)
{
    if (g_str_has_prefix(key, WGM_KEY_PEER_PREFIX) || strcmp(key, WGM_KEY_PRIVATE_KEY_FLAGS) == 0
        || strcmp(key, WGM_KEY_LAZY_CONNECTIONS) == 0
        || strcmp(key, WGM_KEY_INACTIVITY_TIMEOUT) == 0 || strcmp(key, WGM_KEY_NETWORK_MAP) == 0
        || strcmp(key, WGM_KEY_BACKEND) == 0)
        return TRUE;
    for (guint i = 0; i < G_N_ELEMENTS(entry_keys); i++) {
        if (strcmp(key, entry_keys[i].key) == 0)
            return TRUE;
    }
    return FALSE;
}

GtkWidget *
wgm_editor_widget(WgmEditor *self, const char *id)
{
    GObject *object = gtk_builder_get_object(self->builder, id);

    g_return_val_if_fail(GTK_IS_WIDGET(object), NULL);
    return GTK_WIDGET(object);
}

static const char *
entry_text(WgmEditor *self, const char *id)
{
    return gtk_editable_get_text(GTK_EDITABLE(wgm_editor_widget(self, id)));
}

/* The label of @id without its mnemonic underscore: "Listen port". */
static char *
label_name(WgmEditor *self, const char *id)
{
    const char *text = gtk_label_get_text(GTK_LABEL(wgm_editor_widget(self, id)));

    return g_strdup(text);
}

/* ---- the private key ---- */

static NMSettingSecretFlags
private_key_flags(WgmEditor *self)
{
    return nma_utils_menu_to_secret_flags(wgm_editor_widget(self, "private-key-entry"));
}

/* Whether NetworkManager or the user's agent keeps the key, so that the
 * profile carries it (not "ask every time", not "not required"). */
static gboolean
private_key_is_kept(NMSettingSecretFlags flags)
{
    return !(flags & (NM_SETTING_SECRET_FLAG_NOT_SAVED | NM_SETTING_SECRET_FLAG_NOT_REQUIRED));
}

static void
update_public_key(WgmEditor *self)
{
    g_auto(WgmKey) private_key = { 0 };
    WgmKey      public_key;
    char        b64[WGM_KEY_B64_LEN + 1] = "";
    const char *text                     = entry_text(self, "private-key-entry");

    if (text[0] && wgm_key_from_base64(text, &private_key, NULL)) {
        wgm_key_public_from_private(&private_key, &public_key);
        wgm_key_to_base64(&public_key, b64);
    }
    gtk_editable_set_text(GTK_EDITABLE(wgm_editor_widget(self, "public-key-entry")), b64);
}

static void
generate_clicked_cb(GtkButton *button, WgmEditor *self)
{
    g_autoptr(GError) error = NULL;
    g_auto(WgmKey) key      = { 0 };
    char       b64[WGM_KEY_B64_LEN + 1];
    GtkWidget *entry = wgm_editor_widget(self, "private-key-entry");

    if (!wgm_key_generate_private(&key, &error)) {
        gtk_label_set_text(GTK_LABEL(wgm_editor_widget(self, "error-label")), error->message);
        return;
    }
    /* A key just made must be kept somewhere: "ask every time" would lose it. */
    if (!private_key_is_kept(private_key_flags(self)))
        nma_utils_update_password_storage(entry, NM_SETTING_SECRET_FLAG_NONE, NULL, NULL);
    wgm_key_to_base64(&key, b64);
    gtk_editable_set_text(GTK_EDITABLE(entry), b64);
    wgm_memzero(b64, sizeof b64);
}

static void
copy_clicked_cb(GtkButton *button, WgmEditor *self)
{
    GtkWidget  *entry = wgm_editor_widget(self, "public-key-entry");
    const char *text  = gtk_editable_get_text(GTK_EDITABLE(entry));

    if (!text[0])
        return;
#if GTK_CHECK_VERSION(4, 0, 0)
    gdk_clipboard_set_text(gtk_widget_get_clipboard(entry), text);
#else
    gtk_clipboard_set_text(gtk_widget_get_clipboard(entry, GDK_SELECTION_CLIPBOARD), text, -1);
#endif
}

/* ---- the network map ---- */

static void
update_network_map_button(WgmEditor *self)
{
    GtkWidget       *button = wgm_editor_widget(self, "network-map-button");
    g_autofree char *base   = self->network_map ? g_path_get_basename(self->network_map) : NULL;

    gtk_button_set_label(GTK_BUTTON(button), base ? base : _("(None)"));
    gtk_widget_set_tooltip_text(button, self->network_map);
    gtk_widget_set_sensitive(wgm_editor_widget(self, "network-map-clear-button"),
                             self->network_map != NULL);
}

static void
file_dialog_response_cb(GtkDialog *dialog, int response, WgmEditor *self)
{
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));

        if (file) {
            g_free(self->network_map);
            self->network_map = g_file_get_path(file);
            update_network_map_button(self);
            wgm_editor_changed(self);
        }
    }
    self->file_dialog = NULL;
    gtk_window_destroy(GTK_WINDOW(dialog));
}

/* Also destroyed with the client's window. */
static void
file_dialog_destroyed_cb(WgmEditor *self)
{
    self->file_dialog = NULL;
}

static void
network_map_clicked_cb(GtkButton *button, WgmEditor *self)
{
    GtkRoot   *root = gtk_widget_get_root(GTK_WIDGET(button));
    GtkWidget *dialog;

    if (self->file_dialog) {
        gtk_window_present(GTK_WINDOW(self->file_dialog));
        return;
    }
    dialog = gtk_file_chooser_dialog_new(_("Choose a network map"),
                                         GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
                                         GTK_FILE_CHOOSER_ACTION_OPEN,
                                         _("_Cancel"),
                                         GTK_RESPONSE_CANCEL,
                                         _("_Select"),
                                         GTK_RESPONSE_ACCEPT,
                                         NULL);
    if (self->network_map) {
        g_autoptr(GFile) file = g_file_new_for_path(self->network_map);

        gtk_file_chooser_set_file(GTK_FILE_CHOOSER(dialog), file, NULL);
    }
    gtk_window_set_modal(GTK_WINDOW(dialog), TRUE);
    g_signal_connect(dialog, "response", G_CALLBACK(file_dialog_response_cb), self);
    g_signal_connect_swapped(dialog, "destroy", G_CALLBACK(file_dialog_destroyed_cb), self);
    self->file_dialog = dialog;
    gtk_window_present(GTK_WINDOW(dialog));
}

static void
network_map_clear_cb(GtkButton *button, WgmEditor *self)
{
    g_clear_pointer(&self->network_map, g_free);
    update_network_map_button(self);
    wgm_editor_changed(self);
}

/* ---- profile -> widgets ---- */

static void
load_setting(WgmEditor *self, NMSettingVpn *s_vpn)
{
    NMSettingSecretFlags flags = NM_SETTING_SECRET_FLAG_NONE;
    const char          *value;
    GtkWidget           *key_entry = wgm_editor_widget(self, "private-key-entry");
    GtkAdjustment       *adj;
    gboolean             lazy = FALSE;

    for (guint i = 0; i < G_N_ELEMENTS(entry_keys); i++) {
        value = nm_setting_vpn_get_data_item(s_vpn, entry_keys[i].key);
        gtk_editable_set_text(GTK_EDITABLE(wgm_editor_widget(self, entry_keys[i].widget)),
                              value ? value : "");
    }

    value = nm_setting_vpn_get_secret(s_vpn, WGM_KEY_PRIVATE_KEY);
    gtk_editable_set_text(GTK_EDITABLE(key_entry), value ? value : "");
    nm_setting_get_secret_flags(NM_SETTING(s_vpn), WGM_KEY_PRIVATE_KEY, &flags, NULL);
    /* The menu only: the profile's flags are written by update_connection. */
    nma_utils_setup_password_storage(key_entry, flags, NULL, NULL, FALSE, FALSE);
    update_public_key(self);

    /* A value that is not valid shows as off and is kept as it was until
     * the switch is moved (build_setting): the check says what is wrong. */
    value = nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_LAZY_CONNECTIONS);
    if (!value || !wgm_parse_bool(WGM_KEY_LAZY_CONNECTIONS, value, &lazy, NULL))
        lazy = FALSE;
    gtk_switch_set_active(GTK_SWITCH(wgm_editor_widget(self, "lazy-switch")), lazy);
    self->lazy_loaded = lazy;

    adj =
        gtk_spin_button_get_adjustment(GTK_SPIN_BUTTON(wgm_editor_widget(self, "inactivity-spin")));
    gtk_adjustment_set_lower(adj, wgm_config_inactivity_timeout_min());
    gtk_adjustment_set_upper(adj, WGM_MAX_INACTIVITY_TIMEOUT);
    value = nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_INACTIVITY_TIMEOUT);
    gtk_adjustment_set_value(adj,
                             value ? g_ascii_strtod(value, NULL) : WGM_DEFAULT_INACTIVITY_TIMEOUT);
    self->timeout_loaded = (int)gtk_adjustment_get_value(adj);

    value = nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_BACKEND);
    if (!gtk_combo_box_set_active_id(GTK_COMBO_BOX(wgm_editor_widget(self, "backend-combo")),
                                     value ? value : "auto"))
        gtk_combo_box_set_active_id(GTK_COMBO_BOX(wgm_editor_widget(self, "backend-combo")),
                                    "auto");

    g_free(self->network_map);
    self->network_map = g_strdup(nm_setting_vpn_get_data_item(s_vpn, WGM_KEY_NETWORK_MAP));
    if (self->network_map && !self->network_map[0])
        g_clear_pointer(&self->network_map, g_free);
    update_network_map_button(self);

    wgm_editor_peers_load(self, s_vpn);
}

/* ---- widgets -> profile ---- */

static void
set_item(NMSettingVpn *s_vpn, const char *key, const char *value)
{
    g_autofree char *v = g_strstrip(g_strdup(value ? value : ""));

    if (v[0])
        nm_setting_vpn_add_data_item(s_vpn, key, v);
}

/* Whether @key should be written with @value: always when it differs from
 * the default, and when the profile had it. */
static gboolean
keep_key(WgmEditor *self, const char *key, gboolean is_default)
{
    return !is_default || nm_setting_vpn_get_data_item(self->orig, key) != NULL;
}

/* A value of the profile its widget cannot show (not valid: a switch is on
 * or off, a spin button clamps) stays as it was while the widget is
 * @untouched, so that the check names it rather than the editor silently
 * changing it.  Returns whether it did. */
static gboolean
keep_invalid(WgmEditor *self, NMSettingVpn *s_vpn, const char *key, gboolean untouched)
{
    const char *raw = nm_setting_vpn_get_data_item(self->orig, key);

    if (!untouched || !raw || wgm_config_check_value(key, raw, key, NULL))
        return FALSE;
    nm_setting_vpn_add_data_item(s_vpn, key, raw);
    return TRUE;
}

/* The secrets the editor writes: the private key and the peers' keys. */
static gboolean
is_edited_secret(const char *key)
{
    return strcmp(key, WGM_KEY_PRIVATE_KEY) == 0 || g_str_has_prefix(key, WGM_KEY_PEER_PREFIX);
}

/* The original setting (its own properties, vpn.timeout and the like, and
 * the keys the editor does not show) without what the editor writes. */
static NMSettingVpn *
setting_base(WgmEditor *self)
{
    NMSettingVpn           *s_vpn   = NM_SETTING_VPN(nm_setting_duplicate(NM_SETTING(self->orig)));
    g_autofree const char **keys    = nm_setting_vpn_get_data_keys(self->orig, NULL);
    g_autofree const char **secrets = nm_setting_vpn_get_secret_keys(self->orig, NULL);

    g_object_set(s_vpn, NM_SETTING_VPN_SERVICE_TYPE, WGM_VPN_SERVICE_TYPE, NULL);
    for (guint i = 0; keys && keys[i]; i++) {
        if (is_edited_key(keys[i]))
            nm_setting_vpn_remove_data_item(s_vpn, keys[i]);
    }
    for (guint i = 0; secrets && secrets[i]; i++) {
        if (is_edited_secret(secrets[i]))
            nm_setting_vpn_remove_secret(s_vpn, secrets[i]);
    }
    return s_vpn;
}

static NMSettingVpn *
build_setting(WgmEditor *self)
{
    NMSettingVpn        *s_vpn    = setting_base(self);
    NMSettingSecretFlags flags    = private_key_flags(self);
    const char          *key_text = entry_text(self, "private-key-entry");
    const char          *backend;
    gboolean             lazy;
    int                  timeout;

    for (guint i = 0; i < G_N_ELEMENTS(entry_keys); i++)
        set_item(s_vpn, entry_keys[i].key, entry_text(self, entry_keys[i].widget));

    if (private_key_is_kept(flags) && key_text[0]) {
        g_autofree char *stripped = g_strstrip(g_strdup(key_text));

        nm_setting_vpn_add_secret(s_vpn, WGM_KEY_PRIVATE_KEY, stripped);
        wgm_memzero(stripped, strlen(stripped));
    }
    nm_setting_set_secret_flags(NM_SETTING(s_vpn), WGM_KEY_PRIVATE_KEY, flags, NULL);

    lazy = gtk_switch_get_active(GTK_SWITCH(wgm_editor_widget(self, "lazy-switch")));
    if (keep_invalid(self, s_vpn, WGM_KEY_LAZY_CONNECTIONS, lazy == self->lazy_loaded))
        ;
    else if (keep_key(self, WGM_KEY_LAZY_CONNECTIONS, !lazy))
        nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_LAZY_CONNECTIONS, lazy ? "yes" : "no");

    timeout = gtk_spin_button_get_value_as_int(
        GTK_SPIN_BUTTON(wgm_editor_widget(self, "inactivity-spin")));
    if (keep_invalid(self, s_vpn, WGM_KEY_INACTIVITY_TIMEOUT, timeout == self->timeout_loaded))
        ;
    else if (keep_key(
                 self, WGM_KEY_INACTIVITY_TIMEOUT, timeout == WGM_DEFAULT_INACTIVITY_TIMEOUT)) {
        char buf[16];

        g_snprintf(buf, sizeof buf, "%d", timeout);
        nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_INACTIVITY_TIMEOUT, buf);
    }

    backend = gtk_combo_box_get_active_id(GTK_COMBO_BOX(wgm_editor_widget(self, "backend-combo")));
    if (backend && keep_key(self, WGM_KEY_BACKEND, strcmp(backend, "auto") == 0))
        nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_BACKEND, backend);

    if (self->network_map)
        nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_NETWORK_MAP, self->network_map);

    wgm_editor_peers_save(self, s_vpn);
    return s_vpn;
}

/* ---- checks ---- */

/* Marks @id as wrong, saying why in its tooltip; @message NULL: as it was,
 * with the tooltip of the .ui. */
static void
mark(WgmEditor *self, const char *id, const char *message)
{
    GtkWidget *widget = wgm_editor_widget(self, id);

    if (!g_object_get_data(G_OBJECT(widget), "wgm-tooltip")) {
#if GTK_CHECK_VERSION(4, 0, 0)
        char *tooltip = g_strdup(gtk_widget_get_tooltip_text(widget));
#else
        char *tooltip = gtk_widget_get_tooltip_text(widget); /* a copy in GTK 3 */
#endif
        g_object_set_data_full(
            G_OBJECT(widget), "wgm-tooltip", tooltip ? tooltip : g_strdup(""), g_free);
    }
    if (message) {
        gtk_widget_add_css_class(widget, "error");
        gtk_widget_set_tooltip_text(widget, message);
    } else {
        const char *tooltip = g_object_get_data(G_OBJECT(widget), "wgm-tooltip");

        gtk_widget_remove_css_class(widget, "error");
        gtk_widget_set_tooltip_text(widget, tooltip[0] ? tooltip : NULL);
    }
}

/* The entry of key_widgets a message about @key belongs to, or -1. */
static int
widget_for_key(const char *key)
{
    for (guint i = 0; i < G_N_ELEMENTS(key_widgets); i++) {
        if (strcmp(key, key_widgets[i].key) == 0
            || (!key_widgets[i].label && g_str_has_prefix(key, key_widgets[i].key)))
            return (int)i;
    }
    return -1;
}

/* A message of the validator ("peer.2.endpoint: ...") for the user: a
 * peer's number becomes the peer's name. */
static char *
describe_error(WgmEditor *self, const char *message, const char **widget)
{
    const char          *colon = strchr(message, ':');
    g_autofree char     *key   = colon ? g_strndup(message, colon - message) : g_strdup("");
    const WgmEditorPeer *peer  = NULL;
    int                  i     = widget_for_key(key);
    guint64              n;
    char                *end;

    *widget = i >= 0 ? key_widgets[i].widget : NULL;
    if (i >= 0 && key_widgets[i].label) {
        /* "backend: ..." -> "Backend: ...", as the field is called. */
        g_autofree char *name = label_name(self, key_widgets[i].label);

        return g_strdup_printf("%s%s", name, colon);
    }
    if (g_str_has_prefix(key, WGM_KEY_PEER_PREFIX)) {
        n = g_ascii_strtoull(key + strlen(WGM_KEY_PEER_PREFIX), &end, 10);
        if (end != key + strlen(WGM_KEY_PEER_PREFIX) && *end == '.')
            peer = wgm_editor_peers_nth(self, (guint)n);
    }
    if (peer) {
        g_autofree char *display = wgm_editor_peer_display(peer);

        /* TRANSLATORS: "Peer laptop (TXJ0/L3g…): peer.2.endpoint: …" */
        return g_strdup_printf(_("Peer %s: %s"), display, message);
    }
    return g_strdup(message);
}

/* Checks what the widgets say: marks each wrong field; returns the first
 * message, NULL when the profile is valid. */
static char *
check(WgmEditor *self, NMSettingVpn *s_vpn)
{
    g_autoptr(GError) error       = NULL;
    g_autoptr(NMSetting) copy     = NULL;
    g_autoptr(WgmConfig) config   = NULL;
    g_autofree char     *first    = NULL;
    const char          *widget   = NULL;
    NMSettingSecretFlags flags    = private_key_flags(self);
    const char          *key_text = entry_text(self, "private-key-entry");
    g_auto(WgmKey) key            = { 0 };

    for (guint i = 0; i < G_N_ELEMENTS(key_widgets); i++)
        mark(self, key_widgets[i].widget, NULL);

    /* Each field on its own, so that every wrong one is marked. */
    for (guint i = 0; i < G_N_ELEMENTS(entry_keys); i++) {
        g_autofree char *name = label_name(self, entry_keys[i].label);

        if (!wgm_config_check_value(
                entry_keys[i].key, entry_text(self, entry_keys[i].widget), name, &error)) {
            mark(self, entry_keys[i].widget, error->message);
            if (!first)
                first = g_strdup(error->message);
            g_clear_error(&error);
        }
    }
    /* Required when NetworkManager keeps it; one the user's agent keeps
     * (a keyring that is locked now) is asked for at connect if missing. */
    if (flags == NM_SETTING_SECRET_FLAG_NONE && !key_text[0]) {
        g_autofree char *msg = g_strdup_printf(
            _("%s: required (or choose \"Ask for this password every time\")"), _("Private key"));
        mark(self, "private-key-entry", msg);
        if (!first)
            first = g_steal_pointer(&msg);
    } else if (key_text[0]) {
        char    *stripped = g_strstrip(g_strdup(key_text));
        gboolean ok       = wgm_key_from_base64(stripped, &key, &error);

        wgm_secret_free(stripped);
        if (!ok) {
            g_autofree char *msg = g_strdup_printf("%s: %s", _("Private key"), error->message);

            mark(self, "private-key-entry", msg);
            if (!first)
                first = g_steal_pointer(&msg);
            g_clear_error(&error);
        }
    }
    if (first)
        return g_steal_pointer(&first);

    /* The whole profile, as Connect checks it: with a stand-in key when
     * the key is asked for at connect time. */
    copy = nm_setting_duplicate(NM_SETTING(s_vpn));
    if (!nm_setting_vpn_get_secret(NM_SETTING_VPN(copy), WGM_KEY_PRIVATE_KEY)) {
        char b64[WGM_KEY_B64_LEN + 1];

        memset(&key, 0x42, sizeof key);
        wgm_key_to_base64(&key, b64);
        nm_setting_vpn_add_secret(NM_SETTING_VPN(copy), WGM_KEY_PRIVATE_KEY, b64);
    }
    config = wgm_config_new_from_setting(NM_SETTING_VPN(copy), &error);
    if (config)
        wgm_config_check_supported(config, &error);
    if (!error)
        return NULL;
    first = describe_error(self, error->message, &widget);
    if (widget)
        mark(self, widget, first);
    return g_steal_pointer(&first);
}

void
wgm_editor_changed(WgmEditor *self)
{
    g_autoptr(NMSettingVpn) s_vpn = NULL;
    g_autofree char *message      = NULL;

    if (self->loading)
        return;
    s_vpn   = build_setting(self);
    message = check(self, s_vpn);
    gtk_label_set_text(GTK_LABEL(wgm_editor_widget(self, "error-label")), message ? message : "");
    g_signal_emit_by_name(self, "changed");
}

static void
widget_changed_cb(GObject *object, GParamSpec *pspec, WgmEditor *self)
{
    wgm_editor_changed(self);
}

static void
private_key_changed_cb(GObject *object, GParamSpec *pspec, WgmEditor *self)
{
    update_public_key(self);
    wgm_editor_changed(self);
}

/* ---- NMVpnEditor ---- */

static GObject *
get_widget(NMVpnEditor *editor)
{
    return G_OBJECT(WGM_EDITOR(editor)->widget);
}

static gboolean
update_connection(NMVpnEditor *editor, NMConnection *connection, GError **error)
{
    WgmEditor       *self    = WGM_EDITOR(editor);
    NMSettingVpn    *s_vpn   = build_setting(self);
    g_autofree char *message = check(self, s_vpn);

    gtk_label_set_text(GTK_LABEL(wgm_editor_widget(self, "error-label")), message ? message : "");
    if (message) {
        g_object_unref(s_vpn);
        g_set_error_literal(
            error, NM_CONNECTION_ERROR, NM_CONNECTION_ERROR_INVALID_PROPERTY, message);
        return FALSE;
    }
    nm_connection_add_setting(connection, NM_SETTING(s_vpn));
    return TRUE;
}

static void
wgm_editor_interface_init(NMVpnEditorInterface *iface)
{
    iface->get_widget        = get_widget;
    iface->update_connection = update_connection;
}

/* ---- life ---- */

/* Our handlers off the widgets: when the client destroys them (their
 * signals fire while they go) and when the editor goes. */
static void
disconnect_widgets(WgmEditor *self)
{
    g_autoptr(GSList) objects = NULL;

    if (!self->builder)
        return;
    self->loading = TRUE;
    objects       = gtk_builder_get_objects(self->builder);
    for (GSList *l = objects; l; l = l->next)
        g_signal_handlers_disconnect_by_data(l->data, self);
}

static void
widget_destroy_cb(GtkWidget *widget, WgmEditor *self)
{
    disconnect_widgets(self);
    wgm_editor_peers_close(self);
    if (self->file_dialog)
        gtk_window_destroy(GTK_WINDOW(g_steal_pointer(&self->file_dialog)));
    g_clear_pointer(&self->live, wgm_editor_live_free);
    g_clear_handle_id(&self->refresh_id, g_source_remove);
}

static void
connect_signals(WgmEditor *self)
{
    static const char *entries[] = {
        "address-entry", "listen-port-entry", "mtu-entry", "dns-entry", "dns-search-entry"
    };
    GtkWidget *key_entry = wgm_editor_widget(self, "private-key-entry");

    for (guint i = 0; i < G_N_ELEMENTS(entries); i++)
        g_signal_connect(wgm_editor_widget(self, entries[i]),
                         "notify::text",
                         G_CALLBACK(widget_changed_cb),
                         self);
    g_signal_connect(key_entry, "notify::text", G_CALLBACK(private_key_changed_cb), self);
    /* libnma's menu shows its choice as the entry's icon. */
    g_signal_connect(key_entry, "notify::secondary-icon-name", G_CALLBACK(widget_changed_cb), self);
    g_signal_connect(wgm_editor_widget(self, "lazy-switch"),
                     "notify::active",
                     G_CALLBACK(widget_changed_cb),
                     self);
    g_signal_connect(wgm_editor_widget(self, "inactivity-spin"),
                     "notify::value",
                     G_CALLBACK(widget_changed_cb),
                     self);
    g_signal_connect(wgm_editor_widget(self, "backend-combo"),
                     "notify::active",
                     G_CALLBACK(widget_changed_cb),
                     self);
    g_signal_connect(wgm_editor_widget(self, "generate-button"),
                     "clicked",
                     G_CALLBACK(generate_clicked_cb),
                     self);
    g_signal_connect(
        wgm_editor_widget(self, "copy-button"), "clicked", G_CALLBACK(copy_clicked_cb), self);
    g_signal_connect(wgm_editor_widget(self, "network-map-button"),
                     "clicked",
                     G_CALLBACK(network_map_clicked_cb),
                     self);
    g_signal_connect(wgm_editor_widget(self, "network-map-clear-button"),
                     "clicked",
                     G_CALLBACK(network_map_clear_cb),
                     self);
    g_signal_connect(self->widget, "destroy", G_CALLBACK(widget_destroy_cb), self);
}

static NMVpnEditor *
wgm_editor_new(NMConnection *connection, GError **error)
{
    g_autoptr(WgmEditor) self = g_object_new(WGM_TYPE_EDITOR, NULL);
    NMSettingVpn *s_vpn       = nm_connection_get_setting_vpn(connection);

    /* The .ui names its translation domain: setting it here as well
     * trips a GTK bug (a read of freed memory in GTK 3, a leak in GTK 4). */
    self->builder = gtk_builder_new();
    if (!gtk_builder_add_from_resource(self->builder, WGM_EDITOR_UI_RESOURCE, error))
        return NULL;
    self->widget = g_object_ref_sink(wgm_editor_widget(self, "wgmesh-vbox"));
    self->uuid   = g_strdup(nm_connection_get_uuid(connection));
    self->orig   = s_vpn ? NM_SETTING_VPN(nm_setting_duplicate(NM_SETTING(s_vpn)))
                         : NM_SETTING_VPN(nm_setting_vpn_new());

    wgm_editor_peers_init(self);
    self->loading = TRUE;
    load_setting(self, self->orig);
    self->loading = FALSE;
    connect_signals(self);
    wgm_editor_changed(self);
    if (self->uuid)
        self->live = wgm_editor_live_new(self);
    return NM_VPN_EDITOR(g_steal_pointer(&self));
}

static void
wgm_editor_init(WgmEditor *self)
{
}

static void
wgm_editor_dispose(GObject *object)
{
    WgmEditor *self = WGM_EDITOR(object);

    g_clear_pointer(&self->live, wgm_editor_live_free);
    g_clear_handle_id(&self->refresh_id, g_source_remove);
    if (self->file_dialog)
        gtk_window_destroy(GTK_WINDOW(g_steal_pointer(&self->file_dialog)));
    disconnect_widgets(self);
    wgm_editor_peers_dispose(self);
    g_clear_object(&self->widget);
    g_clear_object(&self->builder);
    g_clear_object(&self->orig);
    G_OBJECT_CLASS(wgm_editor_parent_class)->dispose(object);
}

static void
wgm_editor_finalize(GObject *object)
{
    WgmEditor *self = WGM_EDITOR(object);

    g_free(self->uuid);
    g_free(self->network_map);
    G_OBJECT_CLASS(wgm_editor_parent_class)->finalize(object);
}

static void
wgm_editor_class_init(WgmEditorClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->dispose  = wgm_editor_dispose;
    object_class->finalize = wgm_editor_finalize;
}

NMVpnEditor *
nm_vpn_editor_factory_wgmesh(NMVpnEditorPlugin *plugin, NMConnection *connection, GError **error)
{
    g_return_val_if_fail(NM_IS_CONNECTION(connection), NULL);

    bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    return wgm_editor_new(connection, error);
}
