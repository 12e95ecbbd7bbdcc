/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One peer of a profile, from its "peer.N.FIELD" keys: splitting such a
 * key, parsing each field (all in vpn.data but the preshared key, the one
 * secret), and a peer's effective settings.  The profile (wgm-config.c)
 * gathers the peers and checks them against each other.
 */
#pragma once

#include "wgm-config.h"

typedef enum {
    WGM_PEER_KEY_NONE,  /* not a peer key at all */
    WGM_PEER_KEY_VALID, /* "peer.N.FIELD" with a good N (FIELD not checked) */
    WGM_PEER_KEY_BAD,   /* starts with "peer." but is malformed: error set */
} WgmPeerKey;

WgmPeerKey wgm_peer_key_split(const char  *key,
                              guint       *out_index,
                              const char **out_field,
                              GError     **error);

/* The indexes N of the keys "peer.N.@field" among @keys (NULL-terminated,
 * may be NULL), sorted: the peers of a profile by their public-key key,
 * for instance.  Malformed keys are left out. */
GArray *wgm_peer_indexes(const char *const *keys, const char *field);

/* Nothing set: no endpoint, lazy and give-up-after follow the profile. */
WgmPeerConfig *wgm_peer_config_new(guint index);
void           wgm_peer_config_free(WgmPeerConfig *peer); /* wipes the preshared key */

/* Whether @field names a peer field, in vpn.data or vpn.secrets. */
gboolean wgm_peer_config_is_field(const char *field);

/* Checks the vpn.data key @key ("peer.N.@field") before any peer is made:
 * unknown fields and the preshared key (a secret) are errors. */
gboolean wgm_peer_config_check_data_field(const char *key, const char *field, GError **error);

/* Parses a checked vpn.data field of @peer from a non-empty @value. */
gboolean wgm_peer_config_parse_data(WgmPeerConfig *peer,
                                    const char    *key,
                                    const char    *field,
                                    const char    *value,
                                    GError       **error);

/* Parses the preshared key (vpn.secrets) of @peer from a non-empty @value,
 * which no message quotes. */
gboolean wgm_peer_config_parse_preshared_key(WgmPeerConfig *peer,
                                             const char    *key,
                                             const char    *value,
                                             GError       **error);
