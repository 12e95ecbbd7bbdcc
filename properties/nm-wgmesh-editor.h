/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The wgmesh profile editor: the widget GNOME Settings (GTK 4) and
 * nm-connection-editor (GTK 3) show for a wgmesh VPN profile.  Built twice
 * from one source, as libnm-vpn-plugin-wgmesh-editor.so and
 * libnm-gtk4-vpn-plugin-wgmesh-editor.so; the GTK-free plugin
 * (nm-wgmesh-editor-plugin.c) loads the one matching the client's GTK.
 */
#pragma once

#include <gmodule.h>

#include <NetworkManager.h>

G_BEGIN_DECLS

#define WGM_TYPE_EDITOR (wgm_editor_get_type())
G_DECLARE_FINAL_TYPE(WgmEditor, wgm_editor, WGM, EDITOR, GObject)

/* What the library exports (WGM_EDITOR_FACTORY_SYMBOL). */
G_MODULE_EXPORT NMVpnEditor *nm_vpn_editor_factory_wgmesh(NMVpnEditorPlugin *plugin,
                                                          NMConnection      *connection,
                                                          GError           **error);

G_END_DECLS
