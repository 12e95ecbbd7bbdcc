/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Publishes a WgmMesh on D-Bus: the Mesh object at WGM_DBUS_PATH and one
 * Peer object per peer under it, listed by an ObjectManager on that path.
 */
#pragma once

#include "wgm-mesh.h"

#define WGM_DBUS_PATH      "/org/freedesktop/NetworkManager/wgmesh"
#define WGM_DBUS_PEER_PATH WGM_DBUS_PATH "/Peer"

typedef struct _WgmDBusExport WgmDBusExport;

/* @profile_uuid: the NetworkManager profile the mesh runs (Mesh.Connection), or NULL. */
WgmDBusExport *wgm_dbus_export_new(GDBusConnection *connection,
                                   WgmMesh         *mesh,
                                   const char      *profile_uuid,
                                   GError         **error);
/* Unexports everything; NULL-safe. */
void wgm_dbus_export_free(WgmDBusExport *export);
/* Mesh.PendingReconnect (NULL: none) and Mesh.LastError (NULL: none). */
void wgm_dbus_export_set_profile_status(WgmDBusExport *export,
                                        const char *const *pending_reconnect,
                                        const char        *last_error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmDBusExport, wgm_dbus_export_free)
