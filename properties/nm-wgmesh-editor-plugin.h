/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The GTK-free half of the editor: what libnm clients (nmcli, GNOME
 * Settings, nm-connection-editor) load from the .name file's [libnm]
 * plugin= path.  It says what the plugin can do, imports and exports
 * wg-quick files, and loads the GTK3 or GTK4 editor only when a client
 * asks for an editor widget.
 */
#pragma once

#include <gmodule.h>

#include <NetworkManager.h>

G_BEGIN_DECLS

#define WGM_TYPE_EDITOR_PLUGIN (wgm_editor_plugin_get_type())
G_DECLARE_FINAL_TYPE(WgmEditorPlugin, wgm_editor_plugin, WGM, EDITOR_PLUGIN, GObject)

/* The GTK editor libraries, installed next to this plugin. */
#define WGM_EDITOR_GTK3_MODULE "libnm-vpn-plugin-wgmesh-editor.so"
#define WGM_EDITOR_GTK4_MODULE "libnm-gtk4-vpn-plugin-wgmesh-editor.so"

/* What each of them exports, of this type. */
#define WGM_EDITOR_FACTORY_SYMBOL "nm_vpn_editor_factory_wgmesh"
typedef NMVpnEditor *(*WgmEditorFactory)(NMVpnEditorPlugin *plugin,
                                         NMConnection      *connection,
                                         GError           **error);

/* The entry point libnm looks up; the only symbol the module exports. */
G_MODULE_EXPORT NMVpnEditorPlugin *nm_vpn_editor_plugin_factory(GError **error);

G_END_DECLS
