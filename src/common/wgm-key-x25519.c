/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Key pairs as wg(8) makes them ("wg genkey", "wg pubkey"): a clamped
 * random Curve25519 scalar and its X25519 public key (nettle's
 * curve25519_mul_g, RFC 7748).  Used by the editor's Generate button.
 */
#include "config.h"

#include "wgm-key.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <nettle/curve25519.h>

#include "wgm-error.h"

G_STATIC_ASSERT(CURVE25519_SIZE == WGM_KEY_LEN);

gboolean
wgm_key_generate_private(WgmKey *out, GError **error)
{
    gsize got = 0;

    while (got < WGM_KEY_LEN) {
        ssize_t n = getrandom(out->bytes + got, WGM_KEY_LEN - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int errsv = errno;

            wgm_key_wipe(out);
            g_set_error(error,
                        G_IO_ERROR,
                        g_io_error_from_errno(errsv),
                        _("cannot get random bytes for a key: %s"),
                        g_strerror(errsv));
            return FALSE;
        }
        got += (gsize)n;
    }
    /* Clamped as wg genkey does (RFC 7748, section 5). */
    out->bytes[0] &= 248;
    out->bytes[31] = (out->bytes[31] & 127) | 64;
    return TRUE;
}

void
wgm_key_public_from_private(const WgmKey *private_key, WgmKey *public_key)
{
    /* curve25519_mul_g clamps the scalar itself, as X25519 does: a key
     * written by hand (not clamped) gives the public key wg pubkey gives. */
    curve25519_mul_g(public_key->bytes, private_key->bytes);
}
