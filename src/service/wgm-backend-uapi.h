/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The userspace backend: one wireguard-go child per interface, driven over
 * one persistent UAPI socket connection (/var/run/wireguard/<ifname>.sock).
 */
#pragma once

#include "wgm-backend.h"

#define WGM_TYPE_BACKEND_UAPI (wgm_backend_uapi_get_type())
G_DECLARE_FINAL_TYPE(WgmBackendUapi, wgm_backend_uapi, WGM, BACKEND_UAPI, WgmBackend)

/* @wireguard_go_path: the binary to spawn; NULL for $WGM_WIREGUARD_GO when
 * set, else the path configured at build time (-Dwireguard_go). */
WgmBackend *wgm_backend_uapi_new(const char *ifname, const char *wireguard_go_path);
