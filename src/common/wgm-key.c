/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-key.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "wgm-error.h"

/*
 * Private and preshared keys pass through here, so the decoders run without
 * branches or table look-ups indexed by the key material (the same habit as
 * wireguard-tools' encoding.c): how long a decode takes says nothing about
 * the key.  Only the final verdict branches.
 */

/* -1 when a <= c <= b, else 0; c, a, b are bytes, so everything fits in an int
 * and the sign bit of the AND is set exactly when both differences are negative. */
#define CT_IN_RANGE(c, a, b) ((((int)(a)-1 - (int)(c)) & ((int)(c) - (int)(b)-1)) >> 8)

/* Value 0..63 of a standard base64 character, or -1. */
static int
b64_value(guint8 c)
{
    int v = -1;

    v += CT_IN_RANGE(c, 'A', 'Z') & (c - 'A' + 1);
    v += CT_IN_RANGE(c, 'a', 'z') & (c - 'a' + 26 + 1);
    v += CT_IN_RANGE(c, '0', '9') & (c - '0' + 52 + 1);
    v += CT_IN_RANGE(c, '+', '+') & (62 + 1);
    v += CT_IN_RANGE(c, '/', '/') & (63 + 1);
    return v;
}

static char
b64_char(unsigned v)
{
    int c = (int)v;

    /* 'A' + v, shifted into the next range when v passes 25, 51, 61, 62. */
    c += 'A';
    c += ((25 - (int)v) >> 8) & ('a' - 'A' - 26);
    c += ((51 - (int)v) >> 8) & ('0' - 'a' - 26);
    c += ((61 - (int)v) >> 8) & ('+' - '0' - 10);
    c += ((62 - (int)v) >> 8) & ('/' - '+' - 1);
    return (char)c;
}

/* Value 0..15 of a hex digit (either case), or -1. */
static int
hex_value(guint8 c)
{
    int v = -1;

    v += CT_IN_RANGE(c, '0', '9') & (c - '0' + 1);
    v += CT_IN_RANGE(c, 'a', 'f') & (c - 'a' + 10 + 1);
    v += CT_IN_RANGE(c, 'A', 'F') & (c - 'A' + 10 + 1);
    return v;
}

static char
hex_char(unsigned v)
{
    return (char)('0' + (int)v + (((9 - (int)v) >> 8) & ('a' - '0' - 10)));
}

gboolean
wgm_key_from_base64(const char *str, WgmKey *out, GError **error)
{
    WgmKey   key = { 0 };
    gsize    len;
    int      bad = 0;
    guint32  acc;
    unsigned i;

    g_return_val_if_fail(out, FALSE);
    g_return_val_if_fail(!error || !*error, FALSE);

    len = str ? strlen(str) : 0;
    if (len != WGM_KEY_B64_LEN) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("is not a WireGuard key: expected %d characters of base64, got %lu"),
                    WGM_KEY_B64_LEN,
                    (gulong)len);
        return FALSE;
    }
    if (str[WGM_KEY_B64_LEN - 1] != '=') {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("is not a WireGuard key: expected %d characters of base64 ending in '='"),
                    WGM_KEY_B64_LEN);
        return FALSE;
    }

    /* 10 groups of 4 characters give 30 bytes ... */
    for (i = 0; i < 10; i++) {
        int a = b64_value((guint8)str[i * 4]);
        int b = b64_value((guint8)str[i * 4 + 1]);
        int c = b64_value((guint8)str[i * 4 + 2]);
        int d = b64_value((guint8)str[i * 4 + 3]);

        bad |= a | b | c | d;
        acc              = ((guint32)a << 18) | ((guint32)b << 12) | ((guint32)c << 6) | (guint32)d;
        key.bytes[i * 3] = (guint8)(acc >> 16);
        key.bytes[i * 3 + 1] = (guint8)(acc >> 8);
        key.bytes[i * 3 + 2] = (guint8)acc;
    }
    /* ... and the last 3 characters 18 bits: 2 bytes plus 2 bits that must be
     * zero, else two different strings would name the same key. */
    {
        int a = b64_value((guint8)str[40]);
        int b = b64_value((guint8)str[41]);
        int c = b64_value((guint8)str[42]);

        bad |= a | b | c;
        acc           = ((guint32)a << 12) | ((guint32)b << 6) | (guint32)c;
        key.bytes[30] = (guint8)(acc >> 10);
        key.bytes[31] = (guint8)(acc >> 2);
        bad |= -(int)(acc & 3u);
    }
    wgm_memzero(&acc, sizeof(acc));

    if (bad < 0) {
        wgm_key_wipe(&key);
        g_set_error(
            error,
            WGM_ERROR,
            WGM_ERROR_INVALID_SETTING,
            _("is not a WireGuard key: expected %d characters of base64 that decode to %d bytes"),
            WGM_KEY_B64_LEN,
            WGM_KEY_LEN);
        return FALSE;
    }

    *out = key;
    wgm_key_wipe(&key);
    return TRUE;
}

gboolean
wgm_key_from_hex(const char *str, gsize len, WgmKey *out)
{
    WgmKey   key = { 0 };
    int      bad = 0;
    unsigned i;

    g_return_val_if_fail(out, FALSE);

    if (!str || len != WGM_KEY_HEX_LEN)
        return FALSE;

    for (i = 0; i < WGM_KEY_LEN; i++) {
        int hi = hex_value((guint8)str[i * 2]);
        int lo = hex_value((guint8)str[i * 2 + 1]);

        bad |= hi | lo;
        key.bytes[i] = (guint8)(((unsigned)hi << 4) | (unsigned)lo);
    }
    if (bad < 0) {
        wgm_key_wipe(&key);
        return FALSE;
    }
    *out = key;
    wgm_key_wipe(&key);
    return TRUE;
}

void
wgm_key_to_base64(const WgmKey *key, char buf[WGM_KEY_B64_LEN + 1])
{
    unsigned i;
    guint32  acc;

    g_return_if_fail(key && buf);

    for (i = 0; i < 10; i++) {
        acc = ((guint32)key->bytes[i * 3] << 16) | ((guint32)key->bytes[i * 3 + 1] << 8)
              | key->bytes[i * 3 + 2];
        buf[i * 4]     = b64_char((acc >> 18) & 63);
        buf[i * 4 + 1] = b64_char((acc >> 12) & 63);
        buf[i * 4 + 2] = b64_char((acc >> 6) & 63);
        buf[i * 4 + 3] = b64_char(acc & 63);
    }
    acc     = ((guint32)key->bytes[30] << 8) | key->bytes[31];
    buf[40] = b64_char((acc >> 10) & 63);
    buf[41] = b64_char((acc >> 4) & 63);
    buf[42] = b64_char((acc << 2) & 63);
    buf[43] = '=';
    buf[44] = '\0';
}

void
wgm_key_to_hex(const WgmKey *key, char buf[WGM_KEY_HEX_LEN + 1])
{
    unsigned i;

    g_return_if_fail(key && buf);

    for (i = 0; i < WGM_KEY_LEN; i++) {
        buf[i * 2]     = hex_char(key->bytes[i] >> 4);
        buf[i * 2 + 1] = hex_char(key->bytes[i] & 0xf);
    }
    buf[WGM_KEY_HEX_LEN] = '\0';
}

void
wgm_key_to_short(const WgmKey *key, char buf[WGM_KEY_SHORT_LEN + 1])
{
    char b64[WGM_KEY_B64_LEN + 1];

    g_return_if_fail(key && buf);

    wgm_key_to_base64(key, b64);
    memcpy(buf, b64, WGM_KEY_SHORT_LEN);
    buf[WGM_KEY_SHORT_LEN] = '\0';
    wgm_memzero(b64, sizeof(b64));
}

gboolean
wgm_key_is_zero(const WgmKey *key)
{
    guint8   acc = 0;
    unsigned i;

    g_return_val_if_fail(key, TRUE);

    for (i = 0; i < WGM_KEY_LEN; i++)
        acc |= key->bytes[i];
    return acc == 0;
}

gboolean
wgm_key_equal(const WgmKey *a, const WgmKey *b)
{
    guint8   acc = 0;
    unsigned i;

    g_return_val_if_fail(a && b, FALSE);

    /* Constant time: preshared keys are compared too. */
    for (i = 0; i < WGM_KEY_LEN; i++)
        acc |= a->bytes[i] ^ b->bytes[i];
    return acc == 0;
}

guint
wgm_key_hash(gconstpointer key)
{
    const WgmKey *k = key;
    guint32       h = 2166136261u; /* FNV-1a */
    unsigned      i;

    /* Only public keys go into hash tables; hashing all 32 bytes keeps
     * hand-made keys with a common prefix from colliding. */
    for (i = 0; i < WGM_KEY_LEN; i++) {
        h ^= k->bytes[i];
        h *= 16777619u;
    }
    return h;
}

gboolean
wgm_key_equal_func(gconstpointer a, gconstpointer b)
{
    return wgm_key_equal(a, b);
}

void
wgm_memzero(void *p, gsize len)
{
    if (p && len)
        explicit_bzero(p, len);
}

void
wgm_key_wipe(WgmKey *key)
{
    if (key)
        wgm_memzero(key->bytes, sizeof(key->bytes));
}

void
wgm_secret_free(char *str)
{
    if (!str)
        return;
    wgm_memzero(str, strlen(str));
    g_free(str);
}

void
wgm_secret_gstring_free(GString *str)
{
    if (!str)
        return;
    /* The whole allocation: a secret may have been longer before a truncate,
     * or been copied around by a realloc we cannot reach anymore (nothing to
     * do about that one but keep secrets in pre-sized GStrings). */
    wgm_memzero(str->str, str->allocated_len);
    g_string_free(str, TRUE);
}
