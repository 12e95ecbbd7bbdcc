/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "wgm-error.h"

#include <gio/gio.h>
#include <string.h>

#define WGM_ERROR_DBUS_PREFIX "org.freedesktop.NetworkManager.wgmesh.Error."

static const GDBusErrorEntry wgm_error_entries[] = {
    { WGM_ERROR_FAILED, WGM_ERROR_DBUS_PREFIX "Failed" },
    { WGM_ERROR_INVALID_SETTING, WGM_ERROR_DBUS_PREFIX "InvalidSetting" },
    { WGM_ERROR_BACKEND, WGM_ERROR_DBUS_PREFIX "Backend" },
    { WGM_ERROR_NOT_FOUND, WGM_ERROR_DBUS_PREFIX "NotFound" },
    { WGM_ERROR_PROTOCOL, WGM_ERROR_DBUS_PREFIX "Protocol" },
    { WGM_ERROR_NOT_AUTHORIZED, WGM_ERROR_DBUS_PREFIX "NotAuthorized" },
};

G_STATIC_ASSERT(G_N_ELEMENTS(wgm_error_entries) == WGM_ERROR_NOT_AUTHORIZED + 1);

GQuark
wgm_error_quark(void)
{
    static gsize quark = 0;

    /* Registering maps the GError to a D-Bus error name both ways, so a
     * client calling the Mesh API gets back a WGM_ERROR with the same code. */
    g_dbus_error_register_error_domain(
        "wgm-error-quark", &quark, wgm_error_entries, G_N_ELEMENTS(wgm_error_entries));
    return (GQuark)quark;
}

#define QUOTE_MAX 64

char *
wgm_error_quote_value(const char *value)
{
    g_autofree char *cut       = NULL;
    char             keep[129] = { 0 };
    gsize            len;
    gboolean         truncated = FALSE;
    gboolean         utf8;
    guint            i;

    if (!value)
        return g_strdup("(null)");

    len  = strlen(value);
    utf8 = g_utf8_validate(value, len, NULL);
    if (len > QUOTE_MAX) {
        const char *end = value + QUOTE_MAX;

        /* Cut on a character boundary so the result stays valid UTF-8. */
        if (utf8 && (((guchar)*end) & 0xc0) == 0x80)
            end = g_utf8_find_prev_char(value, end);
        len       = end - value;
        truncated = TRUE;
    }
    cut = g_strndup(value, len);

    /* g_strescape() would turn every non-ASCII byte into octal; spare them
     * when the text is UTF-8 (a peer called "Büro" should read as such). */
    if (utf8) {
        for (i = 0x80; i <= 0xff; i++)
            keep[i - 0x80] = (char)i;
    }

    {
        g_autofree char *escaped = g_strescape(cut, keep);

        return truncated ? g_strconcat(escaped, "…", NULL) : g_steal_pointer(&escaped);
    }
}
