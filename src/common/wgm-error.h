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
    WGM_ERROR_NOT_AUTHORIZED,  /* .NotAuthorized: neither root nor allowed by polkit */
} WgmError;

#define WGM_ERROR (wgm_error_quark())
GQuark wgm_error_quark(void);

/* A user-supplied value made safe to quote in an error message or a log line:
 * control characters, quotes and backslashes escaped (C style), UTF-8 kept,
 * cut to 64 bytes with "…" appended when longer.  Never use it on a secret. */
char *wgm_error_quote_value(const char *value);
