/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The userspace backend's tun device, made persistent before wireguard-go
 * starts: wireguard-go attaches to an existing tun of its name, so when it
 * dies and is started again the interface stays, with its ifindex and the
 * addresses and routes NetworkManager put on it, and NetworkManager never
 * notices the restart.  The price: the device must be deleted explicitly
 * when the mesh goes down (wireguard-go exiting no longer removes it).
 */
#pragma once

#include <glib.h>

/* Creates tun device @ifname (IFF_TUN | IFF_NO_PI, as wireguard-go opens
 * it) and makes it persistent; an existing one of ours is kept. */
gboolean wgm_tun_make_persistent(const char *ifname, GError **error);

/* Deletes link @ifname (RTM_DELLINK), also while a process holds it;
 * a link that does not exist is not an error. */
gboolean wgm_link_delete(const char *ifname, GError **error);
