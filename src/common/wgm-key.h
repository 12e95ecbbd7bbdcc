/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#define WGM_KEY_LEN       32
#define WGM_KEY_B64_LEN   44 /* without NUL */
#define WGM_KEY_HEX_LEN   64 /* without NUL */
#define WGM_KEY_SHORT_LEN 8  /* log prefix peer[abcdefgh] */

typedef struct {
    guint8 bytes[WGM_KEY_LEN];
} WgmKey;

/* Strict: exactly 44 characters of standard base64 ending in '=' that decode
 * to 32 bytes.  On error, says what was wrong without echoing the input (it
 * may be a secret). */
gboolean wgm_key_from_base64(const char *str, WgmKey *out, GError **error);
gboolean wgm_key_from_hex(const char *str, gsize len, WgmKey *out);
void     wgm_key_to_base64(const WgmKey *key, char buf[WGM_KEY_B64_LEN + 1]);
void     wgm_key_to_hex(const WgmKey *key, char buf[WGM_KEY_HEX_LEN + 1]);
/* First 8 base64 characters, for log lines; only for public keys. */
void     wgm_key_to_short(const WgmKey *key, char buf[WGM_KEY_SHORT_LEN + 1]);
gboolean wgm_key_is_zero(const WgmKey *key);
gboolean wgm_key_equal(const WgmKey *a, const WgmKey *b);
guint    wgm_key_hash(gconstpointer key);
gboolean wgm_key_equal_func(gconstpointer a, gconstpointer b);

/* A new private key as "wg genkey" makes it (random, clamped); fails only
 * if the kernel has no random bytes to give. */
gboolean wgm_key_generate_private(WgmKey *out, GError **error);
/* Its X25519 public key, as "wg pubkey" computes it. */
void wgm_key_public_from_private(const WgmKey *private_key, WgmKey *public_key);

/* Wipe memory so the compiler cannot elide it. */
void wgm_memzero(void *p, gsize len);
void wgm_key_wipe(WgmKey *key);
/* Frees a string (NUL-terminated) after wiping it; NULL-safe. */
void wgm_secret_free(char *str);
/* Frees a GString after wiping its whole allocation; NULL-safe. */
void wgm_secret_gstring_free(GString *str);

/* g_auto(WgmKey) key = { 0 }; wipes it when it goes out of scope. */
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(WgmKey, wgm_key_wipe)
