/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BLAKE2s (RFC 7693), plain and keyed: what WireGuard's mac1 is made of
 * (HASH = BLAKE2s-256, MAC = keyed BLAKE2s-128).  Only for checking that a
 * captured handshake initiation was meant for a peer; nothing secret goes
 * through it (the mac1 key is derived from a public key).
 */
#pragma once

#include <glib.h>

#define WGM_BLAKE2S_BLOCK_LEN 64
#define WGM_BLAKE2S_OUT_MAX   32
#define WGM_BLAKE2S_KEY_MAX   32

typedef struct {
    guint32 h[8];
    guint32 t[2];
    guint8  buf[WGM_BLAKE2S_BLOCK_LEN];
    gsize   buflen;
    gsize   outlen;
} WgmBlake2s;

/* @outlen 1..32; @key may be NULL (then @keylen 0), else @keylen 1..32. */
void wgm_blake2s_init(WgmBlake2s *s, gsize outlen, const guint8 *key, gsize keylen);
void wgm_blake2s_update(WgmBlake2s *s, const void *in, gsize len);
/* Writes outlen bytes and wipes @s. */
void wgm_blake2s_final(WgmBlake2s *s, guint8 *out);

/* One call: @out gets @outlen bytes of BLAKE2s(@key, @in). */
void wgm_blake2s(guint8       *out,
                 gsize         outlen,
                 const guint8 *key,
                 gsize         keylen,
                 const void   *in,
                 gsize         len);
