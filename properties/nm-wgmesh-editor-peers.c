/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The editor's peers: the list (one row a peer, with its live state), the
 * add/edit dialog and the paste dialog for wg-quick [Peer] sections.  The
 * dialogs are modal (also over a client's modal window) but never run a
 * nested main loop (no gtk_dialog_run(), gone in GTK 4): their answer
 * comes as "response", and an accessibility client driving them is not
 * stuck waiting for the button it pressed.
 */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "nm-wgmesh-editor-private.h"

#include <stdlib.h>
#include <string.h>

#include "wgm-config.h"
#include <nma-ui-utils.h>

#include "wgm-key.h"
#include "wgm-parse.h"
#include "wgm-peer-config.h"
#include "wgm-settings-keys.h"
#include "wgm-wgquick.h"

#define WGM_EDITOR_UI_RESOURCE "/org/freedesktop/network-manager-wgmesh/nm-wgmesh-editor.ui"

WgmEditorPeer *
wgm_editor_peer_new(void)
{
    WgmEditorPeer *peer = g_new0(WgmEditorPeer, 1);

    peer->lazy  = -1;
    peer->state = g_strdup("");
    return peer;
}

void
wgm_editor_peer_free(WgmEditorPeer *peer)
{
    if (!peer)
        return;
    g_free(peer->name);
    g_free(peer->public_key);
    g_free(peer->endpoint);
    g_free(peer->allowed_ips);
    g_free(peer->keepalive);
    wgm_secret_free(peer->preshared_key);
    g_free(peer->lazy_invalid);
    g_free(peer->give_up_after);
    g_free(peer->state);
    g_free(peer);
}

char *
wgm_editor_peer_display(const WgmEditorPeer *peer)
{
    g_autofree char *short_key = g_strndup(peer->public_key ? peer->public_key : "", 8);

    if (peer->name && peer->name[0])
        return g_strdup_printf("%s (%s…)", peer->name, short_key);
    return g_strdup_printf("%s…", short_key);
}

static const char *
lazy_label(int lazy)
{
    return lazy < 0 ? _("as the mesh") : lazy ? _("always") : _("never");
}

/* ---- the list ---- */

static gboolean
find_iter(WgmEditor *self, const WgmEditorPeer *peer, GtkTreeIter *iter)
{
    GtkTreeModel *model = GTK_TREE_MODEL(self->peers_store);
    gboolean      valid = gtk_tree_model_get_iter_first(model, iter);

    while (valid) {
        WgmEditorPeer *p;

        gtk_tree_model_get(model, iter, WGM_PEER_COL_PEER, &p, -1);
        if (p == peer)
            return TRUE;
        valid = gtk_tree_model_iter_next(model, iter);
    }
    return FALSE;
}

static void
set_row(WgmEditor *self, GtkTreeIter *iter, const WgmEditorPeer *peer)
{
    g_autofree char *handshake =
        peer->state[0] ? wgm_editor_live_handshake_label(peer->latest_handshake, g_get_real_time())
                       : g_strdup("");

    gtk_list_store_set(self->peers_store,
                       iter,
                       WGM_PEER_COL_PEER,
                       peer,
                       WGM_PEER_COL_NAME,
                       peer->name ? peer->name : "",
                       WGM_PEER_COL_PUBLIC_KEY,
                       peer->public_key,
                       WGM_PEER_COL_ENDPOINT,
                       peer->endpoint ? peer->endpoint : "",
                       WGM_PEER_COL_ALLOWED_IPS,
                       peer->allowed_ips ? peer->allowed_ips : "",
                       WGM_PEER_COL_LAZY,
                       lazy_label(peer->lazy),
                       WGM_PEER_COL_STATE,
                       wgm_editor_live_state_label(peer->state),
                       WGM_PEER_COL_HANDSHAKE,
                       handshake,
                       -1);
}

void
wgm_editor_peers_refresh_row(WgmEditor *self, const WgmEditorPeer *peer)
{
    GtkTreeIter iter;

    if (find_iter(self, peer, &iter))
        set_row(self, &iter, peer);
}

void
wgm_editor_peers_refresh_all(WgmEditor *self)
{
    GtkTreeModel *model = GTK_TREE_MODEL(self->peers_store);
    GtkTreeIter   iter;
    gboolean      valid = gtk_tree_model_get_iter_first(model, &iter);

    for (; valid; valid = gtk_tree_model_iter_next(model, &iter)) {
        WgmEditorPeer *peer;

        gtk_tree_model_get(model, &iter, WGM_PEER_COL_PEER, &peer, -1);
        set_row(self, &iter, peer);
    }
}

/* Takes @peer. */
static void
append_peer(WgmEditor *self, WgmEditorPeer *peer)
{
    GtkTreeIter iter;

    g_ptr_array_add(self->peers, peer);
    gtk_list_store_append(self->peers_store, &iter);
    set_row(self, &iter, peer);
}

WgmEditorPeer *
wgm_editor_peers_find(WgmEditor *self, const char *public_key)
{
    for (guint i = 0; i < self->peers->len; i++) {
        WgmEditorPeer *peer = self->peers->pdata[i];

        if (g_strcmp0(peer->public_key, public_key) == 0)
            return peer;
    }
    return NULL;
}

const WgmEditorPeer *
wgm_editor_peers_nth(WgmEditor *self, guint index)
{
    GtkTreeIter    iter;
    WgmEditorPeer *peer = NULL;

    if (index == 0
        || !gtk_tree_model_iter_nth_child(
            GTK_TREE_MODEL(self->peers_store), &iter, NULL, index - 1))
        return NULL;
    gtk_tree_model_get(GTK_TREE_MODEL(self->peers_store), &iter, WGM_PEER_COL_PEER, &peer, -1);
    return peer;
}

static WgmEditorPeer *
selected_peer(WgmEditor *self, GtkTreeIter *iter)
{
    GtkTreeView   *view = GTK_TREE_VIEW(wgm_editor_widget(self, "peers-view"));
    GtkTreeIter    it;
    WgmEditorPeer *peer = NULL;

    if (!gtk_tree_selection_get_selected(gtk_tree_view_get_selection(view), NULL, &it))
        return NULL;
    gtk_tree_model_get(GTK_TREE_MODEL(self->peers_store), &it, WGM_PEER_COL_PEER, &peer, -1);
    if (iter)
        *iter = it;
    return peer;
}

static void
selection_changed_cb(GtkTreeSelection *selection, WgmEditor *self)
{
    gboolean any = selected_peer(self, NULL) != NULL;

    gtk_widget_set_sensitive(wgm_editor_widget(self, "edit-peer-button"), any);
    gtk_widget_set_sensitive(wgm_editor_widget(self, "remove-peer-button"), any);
}

/* ---- profile <-> list ---- */

/* "peer.N.<field>" of @s_vpn, data or secret. */
static const char *
peer_item(NMSettingVpn *s_vpn, guint n, const char *field, gboolean secret)
{
    char key[64];

    g_snprintf(key, sizeof key, WGM_KEY_PEER_PREFIX "%u.%s", n, field);
    return secret ? nm_setting_vpn_get_secret(s_vpn, key)
                  : nm_setting_vpn_get_data_item(s_vpn, key);
}

/* The peers of @s_vpn, in index order. */
static GPtrArray *
peers_from_setting(NMSettingVpn *s_vpn)
{
    g_autofree const char **keys = nm_setting_vpn_get_data_keys(s_vpn, NULL);
    g_autoptr(GArray) indexes    = wgm_peer_indexes(keys, WGM_PEER_FIELD_PUBLIC_KEY);
    GPtrArray *peers = g_ptr_array_new_with_free_func((GDestroyNotify)wgm_editor_peer_free);

    for (guint i = 0; i < indexes->len; i++) {
        guint          n    = g_array_index(indexes, guint, i);
        WgmEditorPeer *peer = wgm_editor_peer_new();
        const char    *lazy = peer_item(s_vpn, n, WGM_PEER_FIELD_LAZY, FALSE);
        char           key[64];

        peer->public_key  = g_strdup(peer_item(s_vpn, n, WGM_PEER_FIELD_PUBLIC_KEY, FALSE));
        peer->name        = g_strdup(peer_item(s_vpn, n, WGM_PEER_FIELD_NAME, FALSE));
        peer->endpoint    = g_strdup(peer_item(s_vpn, n, WGM_PEER_FIELD_ENDPOINT, FALSE));
        peer->allowed_ips = g_strdup(peer_item(s_vpn, n, WGM_PEER_FIELD_ALLOWED_IPS, FALSE));
        peer->keepalive = g_strdup(peer_item(s_vpn, n, WGM_PEER_FIELD_PERSISTENT_KEEPALIVE, FALSE));
        peer->give_up_after = g_strdup(peer_item(s_vpn, n, WGM_PEER_FIELD_GIVE_UP_AFTER, FALSE));
        peer->preshared_key = g_strdup(peer_item(s_vpn, n, WGM_PEER_FIELD_PRESHARED_KEY, TRUE));
        g_snprintf(key, sizeof key, WGM_KEY_PEER_PREFIX "%u." WGM_PEER_FIELD_PRESHARED_KEY, n);
        nm_setting_get_secret_flags(NM_SETTING(s_vpn), key, &peer->preshared_key_flags, NULL);
        if (lazy) {
            gboolean b;

            /* Not valid: kept as written (the check names it) until the
             * peer is edited. */
            if (wgm_parse_bool(WGM_PEER_FIELD_LAZY, lazy, &b, NULL))
                peer->lazy = b;
            else
                peer->lazy_invalid = g_strdup(lazy);
        }
        g_ptr_array_add(peers, peer);
    }
    return peers;
}

void
wgm_editor_peers_load(WgmEditor *self, NMSettingVpn *s_vpn)
{
    g_autoptr(GPtrArray) peers = peers_from_setting(s_vpn);

    gtk_list_store_clear(self->peers_store);
    g_ptr_array_set_size(self->peers, 0);
    for (guint i = 0; i < peers->len; i++) {
        append_peer(self, peers->pdata[i]);
        peers->pdata[i] = NULL;
    }
}

static void
add_peer_item(NMSettingVpn *s_vpn, guint n, const char *field, const char *value)
{
    char key[64];

    if (!value || !value[0])
        return;
    g_snprintf(key, sizeof key, WGM_KEY_PEER_PREFIX "%u.%s", n, field);
    nm_setting_vpn_add_data_item(s_vpn, key, value);
}

void
wgm_editor_peers_save(WgmEditor *self, NMSettingVpn *s_vpn)
{
    GtkTreeModel *model = GTK_TREE_MODEL(self->peers_store);
    GtkTreeIter   iter;
    gboolean      valid = gtk_tree_model_get_iter_first(model, &iter);
    guint         n     = 0;

    for (; valid; valid = gtk_tree_model_iter_next(model, &iter)) {
        WgmEditorPeer *peer;
        char           key[64];

        gtk_tree_model_get(model, &iter, WGM_PEER_COL_PEER, &peer, -1);
        n++;
        add_peer_item(s_vpn, n, WGM_PEER_FIELD_PUBLIC_KEY, peer->public_key);
        add_peer_item(s_vpn, n, WGM_PEER_FIELD_NAME, peer->name);
        add_peer_item(s_vpn, n, WGM_PEER_FIELD_ENDPOINT, peer->endpoint);
        add_peer_item(s_vpn, n, WGM_PEER_FIELD_ALLOWED_IPS, peer->allowed_ips);
        add_peer_item(s_vpn, n, WGM_PEER_FIELD_PERSISTENT_KEEPALIVE, peer->keepalive);
        add_peer_item(s_vpn, n, WGM_PEER_FIELD_GIVE_UP_AFTER, peer->give_up_after);
        if (peer->lazy_invalid)
            add_peer_item(s_vpn, n, WGM_PEER_FIELD_LAZY, peer->lazy_invalid);
        else if (peer->lazy >= 0)
            add_peer_item(s_vpn, n, WGM_PEER_FIELD_LAZY, peer->lazy ? "yes" : "no");
        g_snprintf(key, sizeof key, WGM_KEY_PEER_PREFIX "%u." WGM_PEER_FIELD_PRESHARED_KEY, n);
        /* As for the private key: "ask every time" keeps no key. */
        if (peer->preshared_key && peer->preshared_key[0]
            && !(peer->preshared_key_flags
                 & (NM_SETTING_SECRET_FLAG_NOT_SAVED | NM_SETTING_SECRET_FLAG_NOT_REQUIRED)))
            nm_setting_vpn_add_secret(s_vpn, key, peer->preshared_key);
        if (peer->preshared_key_flags != NM_SETTING_SECRET_FLAG_NONE
            || (peer->preshared_key && peer->preshared_key[0]))
            nm_setting_set_secret_flags(NM_SETTING(s_vpn), key, peer->preshared_key_flags, NULL);
    }
}

/* ---- one peer checked ---- */

/* The dialog's entry for each peer.N field, and its label. */
static const struct {
    const char *field;
    const char *entry;
    const char *label;
} peer_fields[] = {
    { WGM_PEER_FIELD_NAME, "peer-name-entry", "peer-name-label" },
    { WGM_PEER_FIELD_PUBLIC_KEY, "peer-public-key-entry", "peer-public-key-label" },
    { WGM_PEER_FIELD_ENDPOINT, "peer-endpoint-entry", "peer-endpoint-label" },
    { WGM_PEER_FIELD_ALLOWED_IPS, "peer-allowed-ips-entry", "peer-allowed-ips-label" },
    { WGM_PEER_FIELD_PERSISTENT_KEEPALIVE, "peer-keepalive-entry", "peer-keepalive-label" },
    { WGM_PEER_FIELD_LAZY, "peer-lazy-combo", "peer-lazy-label" },
    { WGM_PEER_FIELD_PRESHARED_KEY, "peer-preshared-key-entry", "peer-preshared-key-label" },
    { WGM_PEER_FIELD_GIVE_UP_AFTER, NULL, NULL },
};

gboolean
wgm_editor_peer_check(const WgmEditorPeer *peer, const char **field, GError **error)
{
    g_autoptr(NMSettingVpn) s_vpn = NM_SETTING_VPN(nm_setting_vpn_new());
    g_autoptr(WgmConfig) config   = NULL;
    g_autoptr(GError) local       = NULL;
    const char *prefix            = WGM_KEY_PEER_PREFIX "1.";
    WgmKey      stand_in;
    char        b64[WGM_KEY_B64_LEN + 1];

    *field = NULL;
    if (!peer->public_key || !peer->public_key[0]) {
        *field = WGM_PEER_FIELD_PUBLIC_KEY;
        g_set_error(
            error, NM_CONNECTION_ERROR, NM_CONNECTION_ERROR_MISSING_PROPERTY, _("required"));
        return FALSE;
    }
    /* The peer alone in a profile that is otherwise valid. */
    memset(&stand_in, 0x42, sizeof stand_in);
    wgm_key_to_base64(&stand_in, b64);
    nm_setting_vpn_add_secret(s_vpn, WGM_KEY_PRIVATE_KEY, b64);
    /* Both families, so that either kind of allowed IP passes; the whole
     * profile's check says whether its own addresses cover them. */
    nm_setting_vpn_add_data_item(s_vpn, WGM_KEY_ADDRESS, "192.0.2.254/32, 2001:db8::fe/128");
    add_peer_item(s_vpn, 1, WGM_PEER_FIELD_PUBLIC_KEY, peer->public_key);
    add_peer_item(s_vpn, 1, WGM_PEER_FIELD_NAME, peer->name);
    add_peer_item(s_vpn, 1, WGM_PEER_FIELD_ENDPOINT, peer->endpoint);
    add_peer_item(s_vpn, 1, WGM_PEER_FIELD_ALLOWED_IPS, peer->allowed_ips);
    add_peer_item(s_vpn, 1, WGM_PEER_FIELD_PERSISTENT_KEEPALIVE, peer->keepalive);
    add_peer_item(s_vpn, 1, WGM_PEER_FIELD_GIVE_UP_AFTER, peer->give_up_after);
    if (peer->preshared_key && peer->preshared_key[0])
        nm_setting_vpn_add_secret(
            s_vpn, "peer.1." WGM_PEER_FIELD_PRESHARED_KEY, peer->preshared_key);

    config = wgm_config_new_from_setting(s_vpn, &local);
    if (config)
        return TRUE;
    /* "peer.1.endpoint: ..." -> the field, and the message without the key. */
    if (g_str_has_prefix(local->message, prefix)) {
        const char *rest  = local->message + strlen(prefix);
        const char *colon = strstr(rest, ": ");

        for (guint i = 0; colon && i < G_N_ELEMENTS(peer_fields); i++) {
            if (strlen(peer_fields[i].field) == (gsize)(colon - rest)
                && strncmp(rest, peer_fields[i].field, colon - rest) == 0) {
                *field = peer_fields[i].field;
                g_set_error_literal(error, local->domain, local->code, colon + 2);
                return FALSE;
            }
        }
    }
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
}

/* ---- the add/edit dialog ---- */

static GtkWidget *
dialog_widget(GtkWidget *dialog, const char *id)
{
    GtkBuilder *builder = g_object_get_data(G_OBJECT(dialog), "wgm-builder");

    return GTK_WIDGET(gtk_builder_get_object(builder, id));
}

static char *
dialog_text(GtkWidget *dialog, const char *id)
{
    return g_strstrip(g_strdup(gtk_editable_get_text(GTK_EDITABLE(dialog_widget(dialog, id)))));
}

/* The client may destroy a dialog with its window (they are destroyed with
 * their parent): the editor forgets it then. */
static void
dialog_destroyed_cb(GtkWidget *dialog, WgmEditor *self)
{
    if (self->peer_dialog == dialog) {
        self->peer_dialog  = NULL;
        self->peer_editing = NULL;
    }
    if (self->paste_dialog == dialog)
        self->paste_dialog = NULL;
}

/* A dialog holding the @content_id object of the .ui (which names its
 * translation domain), NULL if the .ui cannot be read. */
static GtkWidget *
new_dialog(WgmEditor *self, const char *title, const char *content_id, const char *ok_label)
{
    const char *ids[]   = { content_id, NULL };
    GtkBuilder *builder = gtk_builder_new();
    GtkRoot    *root    = gtk_widget_get_root(self->widget);
    GtkWidget  *dialog;
    g_autoptr(GError) error = NULL;

#if GTK_CHECK_VERSION(4, 0, 0)
    if (!gtk_builder_add_objects_from_resource(builder, WGM_EDITOR_UI_RESOURCE, ids, &error)) {
#else
    if (!gtk_builder_add_objects_from_resource(
            builder, WGM_EDITOR_UI_RESOURCE, (char **)ids, &error)) {
#endif
        g_critical("the editor's own .ui failed to load: %s", error->message);
        g_object_unref(builder);
        return NULL;
    }
    dialog = gtk_dialog_new_with_buttons(title,
                                         GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
                                         GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                         _("_Cancel"),
                                         GTK_RESPONSE_CANCEL,
                                         ok_label,
                                         GTK_RESPONSE_OK,
                                         NULL);
    gtk_dialog_set_default_response(GTK_DIALOG(dialog), GTK_RESPONSE_OK);
    gtk_box_append(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(dialog))),
                   GTK_WIDGET(gtk_builder_get_object(builder, content_id)));
    g_object_set_data_full(G_OBJECT(dialog), "wgm-builder", builder, g_object_unref);
    g_signal_connect(dialog, "destroy", G_CALLBACK(dialog_destroyed_cb), self);
    return dialog;
}

static void
peer_dialog_fill(GtkWidget *dialog, const WgmEditorPeer *peer)
{
    static const char *lazy_ids[] = { "default", "no", "yes" };

    gtk_editable_set_text(GTK_EDITABLE(dialog_widget(dialog, "peer-name-entry")),
                          peer->name ? peer->name : "");
    gtk_editable_set_text(GTK_EDITABLE(dialog_widget(dialog, "peer-public-key-entry")),
                          peer->public_key ? peer->public_key : "");
    gtk_editable_set_text(GTK_EDITABLE(dialog_widget(dialog, "peer-endpoint-entry")),
                          peer->endpoint ? peer->endpoint : "");
    gtk_editable_set_text(GTK_EDITABLE(dialog_widget(dialog, "peer-allowed-ips-entry")),
                          peer->allowed_ips ? peer->allowed_ips : "");
    gtk_editable_set_text(GTK_EDITABLE(dialog_widget(dialog, "peer-keepalive-entry")),
                          peer->keepalive ? peer->keepalive : "");
    gtk_editable_set_text(GTK_EDITABLE(dialog_widget(dialog, "peer-preshared-key-entry")),
                          peer->preshared_key ? peer->preshared_key : "");
    /* Who keeps it, as for the private key. */
    nma_utils_setup_password_storage(dialog_widget(dialog, "peer-preshared-key-entry"),
                                     peer->preshared_key_flags,
                                     NULL,
                                     NULL,
                                     FALSE,
                                     FALSE);
    gtk_combo_box_set_active_id(GTK_COMBO_BOX(dialog_widget(dialog, "peer-lazy-combo")),
                                lazy_ids[peer->lazy + 1]);
}

/* The dialog's fields over a copy of @base (the fields it does not show
 * are kept). */
static WgmEditorPeer *
peer_dialog_read(GtkWidget *dialog, const WgmEditorPeer *base)
{
    WgmEditorPeer *peer = wgm_editor_peer_new();
    const char    *lazy =
        gtk_combo_box_get_active_id(GTK_COMBO_BOX(dialog_widget(dialog, "peer-lazy-combo")));

    peer->name          = dialog_text(dialog, "peer-name-entry");
    peer->public_key    = dialog_text(dialog, "peer-public-key-entry");
    peer->endpoint      = dialog_text(dialog, "peer-endpoint-entry");
    peer->allowed_ips   = dialog_text(dialog, "peer-allowed-ips-entry");
    peer->keepalive     = dialog_text(dialog, "peer-keepalive-entry");
    peer->preshared_key = dialog_text(dialog, "peer-preshared-key-entry");
    peer->lazy          = g_strcmp0(lazy, "yes") == 0 ? 1 : g_strcmp0(lazy, "no") == 0 ? 0 : -1;
    peer->preshared_key_flags =
        nma_utils_menu_to_secret_flags(dialog_widget(dialog, "peer-preshared-key-entry"));
    if (base) {
        peer->give_up_after = g_strdup(base->give_up_after);
        g_free(peer->state);
        peer->state            = g_strdup(base->state);
        peer->latest_handshake = base->latest_handshake;
    }
    return peer;
}

static void
peer_dialog_mark(GtkWidget *dialog, const char *field, const char *message)
{
    for (guint i = 0; i < G_N_ELEMENTS(peer_fields); i++) {
        GtkWidget *widget;

        if (!peer_fields[i].entry)
            continue;
        widget = dialog_widget(dialog, peer_fields[i].entry);
        if (g_strcmp0(field, peer_fields[i].field) == 0) {
            gtk_widget_add_css_class(widget, "error");
            gtk_widget_set_tooltip_text(widget, message);
        } else {
            gtk_widget_remove_css_class(widget, "error");
            gtk_widget_set_tooltip_text(widget, NULL);
        }
    }
    gtk_label_set_text(GTK_LABEL(dialog_widget(dialog, "peer-error-label")),
                       message ? message : "");
}

/* Checks the dialog's peer; on error marks the field and says why. */
static gboolean
peer_dialog_check(WgmEditor *self, GtkWidget *dialog, const WgmEditorPeer *peer)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *msg    = NULL;
    const char      *field  = NULL;
    WgmEditorPeer   *other  = wgm_editor_peers_find(self, peer->public_key);

    if (!wgm_editor_peer_check(peer, &field, &error)) {
        const char *label = NULL;

        for (guint i = 0; field && i < G_N_ELEMENTS(peer_fields); i++) {
            if (strcmp(field, peer_fields[i].field) == 0 && peer_fields[i].label)
                label = gtk_label_get_text(GTK_LABEL(dialog_widget(dialog, peer_fields[i].label)));
        }
        msg = label ? g_strdup_printf("%s: %s", label, error->message) : g_strdup(error->message);
    } else if (other && other != self->peer_editing) {
        g_autofree char *display = wgm_editor_peer_display(other);

        field = WGM_PEER_FIELD_PUBLIC_KEY;
        msg   = g_strdup_printf(_("Public key: peer %s has this key already"), display);
    }
    peer_dialog_mark(dialog, field, msg);
    return msg == NULL;
}

static void
peer_dialog_response_cb(GtkDialog *dialog, int response, WgmEditor *self)
{
    if (response == GTK_RESPONSE_OK) {
        g_autoptr(WgmEditorPeer) peer = peer_dialog_read(GTK_WIDGET(dialog), self->peer_editing);
        GtkTreeIter iter;

        if (!peer_dialog_check(self, GTK_WIDGET(dialog), peer))
            return;
        if (self->peer_editing && find_iter(self, self->peer_editing, &iter)) {
            /* Same place in the list, new fields. */
            guint i;

            g_ptr_array_find(self->peers, self->peer_editing, &i);
            g_ptr_array_index(self->peers, i) = g_steal_pointer(&peer);
            set_row(self, &iter, self->peers->pdata[i]);
            wgm_editor_peer_free(self->peer_editing);
        } else {
            append_peer(self, g_steal_pointer(&peer));
        }
        self->peer_editing = NULL;
        wgm_editor_changed(self);
    }
    self->peer_editing = NULL;
    self->peer_dialog  = NULL;
    gtk_window_destroy(GTK_WINDOW(dialog));
}

static void
open_peer_dialog(WgmEditor *self, WgmEditorPeer *peer)
{
    g_autoptr(WgmEditorPeer) blank = NULL;
    GtkWidget *dialog;

    /* One at a time: what is typed in an open one is not thrown away. */
    if (self->peer_dialog) {
        gtk_window_present(GTK_WINDOW(self->peer_dialog));
        return;
    }
    dialog = new_dialog(self, peer ? _("Edit peer") : _("Add peer"), "peer-grid", _("_OK"));
    if (!dialog)
        return;
    if (!peer)
        blank = wgm_editor_peer_new();
    peer_dialog_fill(dialog, peer ? peer : blank);
    self->peer_editing = peer;
    self->peer_dialog  = dialog;
    g_signal_connect(dialog, "response", G_CALLBACK(peer_dialog_response_cb), self);
#if !GTK_CHECK_VERSION(4, 0, 0)
    gtk_widget_show_all(dialog);
#endif
    gtk_window_present(GTK_WINDOW(dialog));
}

static void
add_clicked_cb(GtkButton *button, WgmEditor *self)
{
    open_peer_dialog(self, NULL);
}

static void
edit_clicked_cb(GtkButton *button, WgmEditor *self)
{
    WgmEditorPeer *peer = selected_peer(self, NULL);

    if (peer)
        open_peer_dialog(self, peer);
}

static void
row_activated_cb(GtkTreeView *view, GtkTreePath *path, GtkTreeViewColumn *column, WgmEditor *self)
{
    edit_clicked_cb(NULL, self);
}

static void
remove_clicked_cb(GtkButton *button, WgmEditor *self)
{
    GtkTreeIter    iter;
    WgmEditorPeer *peer = selected_peer(self, &iter);

    if (!peer)
        return;
    if (self->peer_dialog && self->peer_editing == peer)
        gtk_window_destroy(GTK_WINDOW(g_steal_pointer(&self->peer_dialog)));
    if (self->peer_editing == peer)
        self->peer_editing = NULL;
    gtk_list_store_remove(self->peers_store, &iter);
    g_ptr_array_remove(self->peers, peer);
    wgm_editor_changed(self);
}

/* ---- the paste dialog ---- */

#define KEEP(field)                             \
    do {                                        \
        if (!peer->field || !peer->field[0]) {  \
            g_free(peer->field);                \
            peer->field = g_strdup(old->field); \
        }                                       \
    } while (0)

/* @peer, as pasted, over @old, the peer with the same key. */
static void
merge_peer(WgmEditorPeer *peer, const WgmEditorPeer *old)
{
    KEEP(name);
    KEEP(endpoint);
    KEEP(allowed_ips);
    KEEP(keepalive);
    KEEP(give_up_after);
    if (peer->lazy < 0 && !peer->lazy_invalid) {
        peer->lazy         = old->lazy;
        peer->lazy_invalid = g_strdup(old->lazy_invalid);
    }
    if (!peer->preshared_key || !peer->preshared_key[0]) {
        wgm_secret_free(peer->preshared_key);
        peer->preshared_key       = g_strdup(old->preshared_key);
        peer->preshared_key_flags = old->preshared_key_flags;
    }
    g_free(peer->state);
    peer->state            = g_strdup(old->state);
    peer->latest_handshake = old->latest_handshake;
}
#undef KEEP

/* Peers of a wg-quick reading (peer.N.* in @wq), added to the list or
 * updating the peer with the same public key.  All are checked first:
 * on error nothing changes. */
static gboolean
paste_peers(WgmEditor *self, WgmWgQuick *wq, GError **error)
{
    g_autoptr(NMSettingVpn) s_vpn = wgm_wgquick_to_setting(wq);
    g_autoptr(GPtrArray) peers    = peers_from_setting(s_vpn);
    for (guint i = 0; i < peers->len; i++) {
        const char *field;

        if (!wgm_editor_peer_check(peers->pdata[i], &field, error))
            return FALSE;
    }
    for (guint i = 0; i < peers->len; i++) {
        WgmEditorPeer *peer = peers->pdata[i];
        WgmEditorPeer *old  = wgm_editor_peers_find(self, peer->public_key);

        if (old) {
            /* Updated in place: what the pasted section does not say
             * (name, keepalive, lazy, preshared key, give-up-after, and the
             * live state) stays as it was. */
            merge_peer(peer, old);
            GtkTreeIter it;
            guint       j;

            find_iter(self, old, &it);
            g_ptr_array_find(self->peers, old, &j);
            if (self->peer_editing == old)
                self->peer_editing = NULL;
            g_ptr_array_index(self->peers, j) = peers->pdata[i];
            peers->pdata[i]                   = NULL;
            set_row(self, &it, self->peers->pdata[j]);
            wgm_editor_peer_free(old);
        } else {
            append_peer(self, peers->pdata[i]);
            peers->pdata[i] = NULL;
        }
    }
    return TRUE;
}

static void
paste_dialog_response_cb(GtkDialog *dialog, int response, WgmEditor *self)
{
    if (response == GTK_RESPONSE_OK) {
        GtkTextBuffer *buffer = gtk_text_view_get_buffer(
            GTK_TEXT_VIEW(dialog_widget(GTK_WIDGET(dialog), "paste-view")));
        GtkTextIter start, end;
        g_autoptr(GError) error = NULL;
        g_autofree char *text   = NULL;
        WgmWgQuick      *wq;

        gtk_text_buffer_get_bounds(buffer, &start, &end);
        text = gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
        wq   = wgm_wgquick_read(text, -1, _("pasted text"), WGM_WGQUICK_PEERS_ONLY, &error);
        wgm_memzero(text, strlen(text));
        if (wq && wq->n_peers == 0)
            g_set_error_literal(&error,
                                NM_CONNECTION_ERROR,
                                NM_CONNECTION_ERROR_MISSING_PROPERTY,
                                _("no [Peer] section found"));
        if (wq && !error)
            paste_peers(self, wq, &error);
        g_clear_pointer(&wq, wgm_wgquick_free);
        if (error) {
            gtk_label_set_text(GTK_LABEL(dialog_widget(GTK_WIDGET(dialog), "paste-error-label")),
                               error->message);
            return;
        }
        wgm_editor_changed(self);
    }
    self->paste_dialog = NULL;
    gtk_window_destroy(GTK_WINDOW(dialog));
}

static void
paste_clicked_cb(GtkButton *button, WgmEditor *self)
{
    GtkWidget *dialog;

    if (self->paste_dialog) {
        gtk_window_present(GTK_WINDOW(self->paste_dialog));
        return;
    }
    dialog = new_dialog(self, _("Paste [Peer] sections"), "paste-box", _("_Add"));
    if (!dialog)
        return;
    g_signal_connect(dialog, "response", G_CALLBACK(paste_dialog_response_cb), self);
    self->paste_dialog = dialog;
#if !GTK_CHECK_VERSION(4, 0, 0)
    gtk_widget_show_all(dialog);
#endif
    gtk_window_present(GTK_WINDOW(dialog));
}

/* ---- life ---- */

static void
add_column(GtkTreeView *view, const char *title, int col, gboolean ellipsize)
{
    GtkCellRenderer   *renderer = gtk_cell_renderer_text_new();
    GtkTreeViewColumn *column;

    if (ellipsize)
        g_object_set(renderer, "ellipsize", PANGO_ELLIPSIZE_MIDDLE, "width-chars", 12, NULL);
    column = gtk_tree_view_column_new_with_attributes(title, renderer, "text", col, NULL);
    gtk_tree_view_column_set_resizable(column, TRUE);
    gtk_tree_view_column_set_expand(column, ellipsize);
    gtk_tree_view_append_column(view, column);
}

void
wgm_editor_peers_init(WgmEditor *self)
{
    GtkTreeView *view = GTK_TREE_VIEW(wgm_editor_widget(self, "peers-view"));

    self->peers       = g_ptr_array_new_with_free_func((GDestroyNotify)wgm_editor_peer_free);
    self->peers_store = gtk_list_store_new(WGM_PEER_N_COLS,
                                           G_TYPE_POINTER,
                                           G_TYPE_STRING,
                                           G_TYPE_STRING,
                                           G_TYPE_STRING,
                                           G_TYPE_STRING,
                                           G_TYPE_STRING,
                                           G_TYPE_STRING,
                                           G_TYPE_STRING);
    gtk_tree_view_set_model(view, GTK_TREE_MODEL(self->peers_store));
    add_column(view, _("Name"), WGM_PEER_COL_NAME, FALSE);
    add_column(view, _("Public key"), WGM_PEER_COL_PUBLIC_KEY, TRUE);
    add_column(view, _("Endpoint"), WGM_PEER_COL_ENDPOINT, FALSE);
    add_column(view, _("Allowed IPs"), WGM_PEER_COL_ALLOWED_IPS, FALSE);
    add_column(view, _("Lazy"), WGM_PEER_COL_LAZY, FALSE);
    add_column(view, _("State"), WGM_PEER_COL_STATE, FALSE);
    add_column(view, _("Last handshake"), WGM_PEER_COL_HANDSHAKE, FALSE);

    g_signal_connect(
        gtk_tree_view_get_selection(view), "changed", G_CALLBACK(selection_changed_cb), self);
    g_signal_connect(view, "row-activated", G_CALLBACK(row_activated_cb), self);
    g_signal_connect(
        wgm_editor_widget(self, "add-peer-button"), "clicked", G_CALLBACK(add_clicked_cb), self);
    g_signal_connect(
        wgm_editor_widget(self, "edit-peer-button"), "clicked", G_CALLBACK(edit_clicked_cb), self);
    g_signal_connect(wgm_editor_widget(self, "remove-peer-button"),
                     "clicked",
                     G_CALLBACK(remove_clicked_cb),
                     self);
    g_signal_connect(wgm_editor_widget(self, "paste-peer-button"),
                     "clicked",
                     G_CALLBACK(paste_clicked_cb),
                     self);
    selection_changed_cb(NULL, self);
}

void
wgm_editor_peers_close(WgmEditor *self)
{
    if (self->peer_dialog)
        gtk_window_destroy(GTK_WINDOW(g_steal_pointer(&self->peer_dialog)));
    if (self->paste_dialog)
        gtk_window_destroy(GTK_WINDOW(g_steal_pointer(&self->paste_dialog)));
    self->peer_editing = NULL;
    if (self->builder) {
        /* NULL once the view is destroyed. */
        GtkTreeSelection *selection =
            gtk_tree_view_get_selection(GTK_TREE_VIEW(wgm_editor_widget(self, "peers-view")));

        if (selection)
            g_signal_handlers_disconnect_by_data(selection, self);
    }
}

void
wgm_editor_peers_dispose(WgmEditor *self)
{
    wgm_editor_peers_close(self);
    g_clear_object(&self->peers_store);
    g_clear_pointer(&self->peers, g_ptr_array_unref);
}
