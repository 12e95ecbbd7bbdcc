/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The network map (network-map=PATH): a file of wg-quick [Peer] sections,
 * with the "# Name =" / "# Lazy =" hints, whose peers join those of the
 * profile.  It decides who may reach this machine, so the file must belong
 * to root (or to the user the service runs as) and be writable by no one
 * else.  Read with wgm_wgquick_read() in WGM_WGQUICK_PEERS_ONLY mode, then
 * merged here into the profile's VPN setting, where the profile's own
 * checks see the peers of both together (a public key in both is an
 * error).  Watching the file and applying it to a running mesh is the
 * service's part.
 */
#pragma once

#include <NetworkManager.h>

#include "wgm-wgquick.h"

/* Whether the map at @path may be used: an absolute path to a regular file
 * (symbolic links followed) owned by root or by the effective user and not
 * writable by group or others.  The error names the setting and the file,
 * and says what to change. */
gboolean wgm_network_map_check_file(const char *path, GError **error);

/* A new VPN setting: @profile's items and secrets, and @map's peers after
 * the profile's, numbered from one more than the profile's highest peer
 * number in file order.  Nothing is checked here; errors of
 * wgm_config_new_from_setting() about a map peer can be told apart with
 * wgm_network_map_describe_error(). */
NMSettingVpn *wgm_network_map_merge(NMSettingVpn *profile, const WgmWgQuick *map);

/* For @message, an error about the setting wgm_network_map_merge() made of
 * @profile and the map at @path: if it is about a map peer ("peer.K...."),
 * the same message saying which [Peer] section of which file it is about;
 * otherwise a copy. */
char *wgm_network_map_describe_error(NMSettingVpn *profile, const char *path, const char *message);
