/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Watches the host's network for changes that make WireGuard paths worth
 * re-checking: NetworkManager's primary connection, its connectivity, the
 * IP configuration of active devices, and resume from sleep (logind's
 * PrepareForSleep(false)).  A burst of changes becomes one
 * "network-changed" signal after a quiet time (GLib's
 * queue_network_changed pattern).  Changes of the ignored interface (the
 * mesh's own) never count, so the mesh coming up triggers nothing.
 *
 * Everything is asynchronous; a bus without NetworkManager or logind is
 * not an error: the monitor logs that once and watches what is there.
 */
#pragma once

#include <gio/gio.h>

#define WGM_TYPE_NETMON (wgm_netmon_get_type())
G_DECLARE_FINAL_TYPE(WgmNetmon, wgm_netmon, WGM, NETMON, GObject)

/* The default quiet time before a burst of changes is reported. */
#define WGM_NETMON_DEBOUNCE_MS 300

/* @bus: the system bus connection to watch NetworkManager and logind on
 * (the plugin passes its own).  @ignore_ifname: the mesh's interface, or
 * NULL; its device, the connection on it and a VPN connection of our own
 * service type never count.  @debounce_ms: the quiet time (a burst that
 * goes on is reported after ten quiet times at the latest).  Starts
 * watching at once (asynchronously); dropping the monitor stops everything,
 * also a start still under way. */
WgmNetmon *wgm_netmon_new(GDBusConnection *bus, const char *ignore_ifname, guint debounce_ms);

/* Signal "network-changed" (const char *what): after the quiet time; @what
 * says what changed, each thing once, in the order first seen, e.g.
 * "primary connection eth0 -> wlan0, connectivity full, ip config of eth0,
 * resume".  The primary connection and the connectivity are compared with
 * the last report when the quiet time ends: back where they were, they are
 * no change. */
