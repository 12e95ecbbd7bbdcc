/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the reader (wgm-wgquick.c) and the writer (wgm-wgquick-write.c). */
#pragma once

#include <NetworkManager.h>

/* "# wgmesh: KEY = VALUE": a setting wg-quick has no word for. */
#define WGM_WGQUICK_WGMESH_PREFIX "wgmesh:"

/* A number the profile's own parser has accepted, without leading zeros. */
char *wgm_wgquick_normalize_number(const char *digits);

/* Adds a stand-in private key (not a secret) to a profile that has none,
 * so that the rest of it can be checked. */
void wgm_wgquick_add_placeholder_key(NMSettingVpn *s_vpn);
