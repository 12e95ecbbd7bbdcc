/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

/* Registered with D-Bus names org.freedesktop.NetworkManager.wgmesh.Error.<Name>. */
typedef enum {
    WGM_ERROR_FAILED,          /* .Failed */
    WGM_ERROR_INVALID_SETTING, /* .InvalidSetting: a vpn.data/vpn.secrets key is bad */
    WGM_ERROR_BACKEND,         /* .Backend: wireguard-go / kernel refused or died */
    WGM_ERROR_NOT_FOUND,       /* .NotFound: no such peer */
    WGM_ERROR_PROTOCOL,        /* .Protocol: malformed reply from the backend */
} WgmError;

#define WGM_ERROR (wgm_error_quark())
GQuark wgm_error_quark(void);
