/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NetworkManager side: a NMVpnServicePlugin that turns Connect() into a
 * running WgmMesh, reports its IP configuration to NetworkManager and
 * publishes it on D-Bus.
 */
#pragma once

#include <NetworkManager.h>

#define WGM_TYPE_PLUGIN (wgm_plugin_get_type())
G_DECLARE_FINAL_TYPE(WgmPlugin, wgm_plugin, WGM, PLUGIN, NMVpnServicePlugin)

/* @watch_peer: quit when the caller of Connect() leaves the bus (as under
 * NetworkManager); FALSE keeps the service alive for debugging. */
WgmPlugin *wgm_plugin_new(const char *bus_name, gboolean watch_peer, GError **error);

/* Tears down any running mesh (as Disconnect would). */
void wgm_plugin_shutdown(WgmPlugin *self);

/* Waits (bounded) until helper processes of torn-down meshes are gone; for
 * process exit only, after the main loop has stopped. */
void wgm_plugin_wait_stopped(WgmPlugin *self, guint timeout_ms);
