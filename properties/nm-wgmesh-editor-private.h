/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The editor's parts: the editor itself (nm-wgmesh-editor.c), its peers
 * list and dialogs (nm-wgmesh-editor-peers.c) and the live state read
 * from the service (nm-wgmesh-editor-live.c).  One source for GTK 3 and
 * GTK 4: GTK 4 names are used, and mapped onto GTK 3 below.
 */
#pragma once

#include <glib/gi18n-lib.h>
#include <gtk/gtk.h>

#include <NetworkManager.h>

#include "nm-wgmesh-editor.h"

#if !GTK_CHECK_VERSION(4, 0, 0)
#define gtk_editable_get_text(e)    gtk_entry_get_text(GTK_ENTRY(e))
#define gtk_editable_set_text(e, t) gtk_entry_set_text(GTK_ENTRY(e), (t))
#define gtk_window_destroy(w)       gtk_widget_destroy(GTK_WIDGET(w))
#define gtk_widget_get_root(w)      gtk_widget_get_toplevel(w)
typedef GtkWidget GtkRoot;
#define gtk_box_append(b, w) gtk_container_add(GTK_CONTAINER(b), (w))
#define gtk_widget_add_css_class(w, c) \
    gtk_style_context_add_class(gtk_widget_get_style_context(w), (c))
#define gtk_widget_remove_css_class(w, c) \
    gtk_style_context_remove_class(gtk_widget_get_style_context(w), (c))
#endif

/* A peer as the editor holds it: the fields of peer.N.* as text, checked
 * with the profile's own validator (wgm-config) before they are kept. */
typedef struct {
    char                *name;
    char                *public_key;
    char                *endpoint;
    char                *allowed_ips;
    char                *keepalive;     /* "" = off */
    int                  lazy;          /* -1 = as the mesh, 0 = never, 1 = always */
    char                *lazy_invalid;  /* peer.N.lazy as written when not valid */
    char                *preshared_key; /* secret: wiped when freed; NULL = none */
    NMSettingSecretFlags preshared_key_flags;
    char                *give_up_after; /* kept as it was; the editor does not show it */
    /* Live, from the service: "" when the profile is not up. */
    char  *state;
    gint64 latest_handshake; /* µs since the epoch, 0 = never */
} WgmEditorPeer;

WgmEditorPeer *wgm_editor_peer_new(void);
void           wgm_editor_peer_free(WgmEditorPeer *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmEditorPeer, wgm_editor_peer_free)

typedef struct _WgmEditorLive WgmEditorLive;

struct _WgmEditor {
    GObject     parent_instance;
    GtkBuilder *builder;
    GtkWidget  *widget; /* the top box, owned */
    char       *uuid;
    /* What the profile had that the editor does not show, kept as it was. */
    NMSettingVpn *orig;
    char         *network_map; /* path, or NULL */
    gboolean      loading;     /* filling the widgets: no "changed" */
    gboolean      lazy_loaded; /* the lazy switch as loaded */
    int           timeout_loaded;

    GtkListStore *peers_store; /* COL_PEER points into peers */
    GPtrArray    *peers;       /* of WgmEditorPeer*, owned */

    GtkWidget     *peer_dialog;  /* the add/edit dialog while open */
    WgmEditorPeer *peer_editing; /* the peer it edits, NULL = a new one */
    GtkWidget     *paste_dialog;
    GtkWidget     *file_dialog;

    WgmEditorLive *live;
    guint          refresh_id; /* "12 s ago" texts while live */
};

enum {
    WGM_PEER_COL_PEER, /* pointer: WgmEditorPeer*, owned by WgmEditor.peers */
    WGM_PEER_COL_NAME,
    WGM_PEER_COL_PUBLIC_KEY,
    WGM_PEER_COL_ENDPOINT,
    WGM_PEER_COL_ALLOWED_IPS,
    WGM_PEER_COL_LAZY,
    WGM_PEER_COL_STATE,
    WGM_PEER_COL_HANDSHAKE,
    WGM_PEER_N_COLS,
};

GtkWidget *wgm_editor_widget(WgmEditor *self, const char *id);
/* Something changed: check it all again, mark what is wrong, tell the
 * client ("changed"). */
void wgm_editor_changed(WgmEditor *self);

/* ---- nm-wgmesh-editor-peers.c ---- */
void wgm_editor_peers_init(WgmEditor *self);
/* Closes the dialogs and lets go of the list's widgets (they are being
 * destroyed); the peers stay until dispose. */
void wgm_editor_peers_close(WgmEditor *self);
void wgm_editor_peers_dispose(WgmEditor *self);
/* Reads peer.N.* of @s_vpn into the list. */
void wgm_editor_peers_load(WgmEditor *self, NMSettingVpn *s_vpn);
/* Writes the list as peer.1.* ... into @s_vpn, in list order. */
void wgm_editor_peers_save(WgmEditor *self, NMSettingVpn *s_vpn);
/* The display name of the peer that is peer.@index.* in what
 * wgm_editor_peers_save() wrote (1-based), NULL if none. */
const WgmEditorPeer *wgm_editor_peers_nth(WgmEditor *self, guint index);
void                 wgm_editor_peers_refresh_row(WgmEditor *self, const WgmEditorPeer *peer);
void                 wgm_editor_peers_refresh_all(WgmEditor *self);
WgmEditorPeer       *wgm_editor_peers_find(WgmEditor *self, const char *public_key);
/* "laptop (TXJ0/L3g…)" or the key alone. */
char *wgm_editor_peer_display(const WgmEditorPeer *peer);
/* Checks one peer on its own with the profile's validator: on error the
 * message names the field ("Endpoint: ...") and *@field the peer.N field. */
gboolean wgm_editor_peer_check(const WgmEditorPeer *peer, const char **field, GError **error);

/* ---- nm-wgmesh-editor-live.c ---- */
/* Follows the service that runs the profile @self->uuid, if any, and
 * shows each peer's state and last handshake in the list. */
WgmEditorLive *wgm_editor_live_new(WgmEditor *self);
void           wgm_editor_live_free(WgmEditorLive *live);
/* "Connected", "Idle", … for a Peer.State value. */
const char *wgm_editor_live_state_label(const char *state);
/* "never", "12 s ago", "3 min ago", … */
char *wgm_editor_live_handshake_label(gint64 latest_handshake_us, gint64 now_us);
