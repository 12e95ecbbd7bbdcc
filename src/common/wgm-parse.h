/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The value parsers and error helpers the settings code shares (the
 * profile in wgm-config.c, its peers in wgm-peer-config.c): every error is
 * WGM_ERROR_INVALID_SETTING and starts with the key it is about,
 *   "listen-port: \"http\" is not a number (expected 1-65535)".
 */
#pragma once

#include <glib.h>

/* Separators of list values: nmcli users write "a, b" as often as "a,b". */
#define WGM_PARSE_LIST_SEPARATORS ", \t\n"

/* Sets "@key: <message>" and returns FALSE.  @key is quoted safely. */
gboolean wgm_parse_fail(GError **error, const char *key, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Prefixes an error of the ip/key helpers, which say what is wrong but not
 * where, with "@key: ".  Returns FALSE. */
gboolean wgm_parse_fail_prefix(GError **error, const char *key);

/* For a secret found in vpn.data.  Returns FALSE. */
gboolean wgm_parse_fail_secret_in_data(GError **error, const char *key);

/* A plain unsigned decimal in @min..@max: digits only (no sign, no spaces,
 * no base prefix, no unit). */
gboolean wgm_parse_uint(const char *key,
                        const char *value,
                        guint32     min,
                        guint32     max,
                        guint32    *out,
                        GError    **error);

/* yes/no, true/false, 1/0, in any case. */
gboolean wgm_parse_bool(const char *key, const char *value, gboolean *out, GError **error);

/* The value of a "...-flags" key NetworkManager stores for a secret. */
gboolean wgm_parse_secret_flags(const char *key, const char *value, GError **error);

/* Non-empty items of a comma/space separated list; never NULL. */
char **wgm_parse_split_list(const char *value);
