/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-parse.h"

#include <NetworkManager.h>

#include <glib/gi18n-lib.h>

#include "wgm-error.h"

/* NM_SETTING_SECRET_FLAG_ALL is not public API. */
#define SECRET_FLAGS_ALL                                                   \
    (NM_SETTING_SECRET_FLAG_AGENT_OWNED | NM_SETTING_SECRET_FLAG_NOT_SAVED \
     | NM_SETTING_SECRET_FLAG_NOT_REQUIRED)

gboolean
wgm_parse_fail(GError **error, const char *key, const char *fmt, ...)
{
    g_autofree char *k   = wgm_error_quote_value(key);
    g_autofree char *msg = NULL;
    va_list          ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING, "%s: %s", k, msg);
    return FALSE;
}

gboolean
wgm_parse_fail_prefix(GError **error, const char *key)
{
    g_autofree char *k = wgm_error_quote_value(key);

    g_prefix_error(error, "%s: ", k);
    return FALSE;
}

gboolean
wgm_parse_fail_secret_in_data(GError **error, const char *key)
{
    /* Never quote the value: it is the secret. */
    return wgm_parse_fail(error,
                          key,
                          _("is a secret: store it in vpn.secrets, not in vpn.data, which every "
                            "local user can read"));
}

gboolean
wgm_parse_uint(const char *key,
               const char *value,
               guint32     min,
               guint32     max,
               guint32    *out,
               GError    **error)
{
    g_autofree char *quoted = wgm_error_quote_value(value);
    guint64          v      = 0;
    const char      *s;

    if (!value[0])
        return wgm_parse_fail(error, key, _("\"\" is not a number (expected %u-%u)"), min, max);
    for (s = value; *s; s++) {
        if (!g_ascii_isdigit(*s)) {
            return wgm_parse_fail(
                error, key, _("\"%s\" is not a number (expected %u-%u)"), quoted, min, max);
        }
        if (v <= G_MAXUINT32)
            v = v * 10 + (guint64)(*s - '0');
    }
    if (v < min || v > max)
        return wgm_parse_fail(
            error, key, _("\"%s\" is out of range (expected %u-%u)"), quoted, min, max);
    *out = (guint32)v;
    return TRUE;
}

gboolean
wgm_parse_bool(const char *key, const char *value, gboolean *out, GError **error)
{
    static const char *const yes[]  = { "yes", "true", "1" };
    static const char *const no[]   = { "no", "false", "0" };
    g_autofree char         *quoted = NULL;
    guint                    i;

    for (i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(value, yes[i]) == 0) {
            *out = TRUE;
            return TRUE;
        }
        if (g_ascii_strcasecmp(value, no[i]) == 0) {
            *out = FALSE;
            return TRUE;
        }
    }
    quoted = wgm_error_quote_value(value);
    return wgm_parse_fail(error, key, _("\"%s\" is not a boolean (expected yes or no)"), quoted);
}

gboolean
wgm_parse_secret_flags(const char *key, const char *value, GError **error)
{
    guint32 flags;

    return wgm_parse_uint(key, value, 0, SECRET_FLAGS_ALL, &flags, error);
}

char **
wgm_parse_split_list(const char *value)
{
    char     **items = g_strsplit_set(value, WGM_PARSE_LIST_SEPARATORS, -1);
    GPtrArray *out   = g_ptr_array_new();
    guint      i;

    for (i = 0; items[i]; i++) {
        if (items[i][0])
            g_ptr_array_add(out, items[i]);
        else
            g_free(items[i]);
    }
    g_free(items); /* the strings moved to @out or were freed */
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}
