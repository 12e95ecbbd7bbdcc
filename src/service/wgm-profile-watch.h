/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Watches the profile a mesh was connected from for edits made while it is
 * up (`nmcli connection modify`, an editor): NetworkManager does not tell a
 * VPN service about them.  The profile is found by UUID through an
 * asynchronous NMClient on the service's bus; after each edit its secrets
 * are fetched too (the service runs as root) and "changed" hands over the
 * whole profile.  Edits that come while secrets are being fetched are
 * folded into one more fetch.  A bus without NetworkManager (the service
 * run by tests) is not an error: nothing is watched.
 */
#pragma once

#include <NetworkManager.h>

#define WGM_TYPE_PROFILE_WATCH (wgm_profile_watch_get_type())
G_DECLARE_FINAL_TYPE(WgmProfileWatch, wgm_profile_watch, WGM, PROFILE_WATCH, GObject)

/* @started_from: the profile as the mesh was started from it (its vpn.data
 * is compared with NetworkManager's once the watch finds the profile: an
 * edit made while the mesh came up counts); NULL: none. */
WgmProfileWatch *wgm_profile_watch_new(GDBusConnection *bus,
                                       const char      *uuid,
                                       NMConnection    *started_from);

/* Signal "changed" (NMConnection *profile): a copy of the edited profile
 * with its vpn secrets, valid during the emission. */
