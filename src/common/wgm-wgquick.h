/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wg-quick files and profiles: the reader turns a wg-quick(8) file into the
 * vpn.data and vpn.secrets keys of a wgmesh profile, the writer turns a
 * profile back into a file.  Shared by the editor plugin (import/export),
 * the service (the network map) and the tests.
 *
 * Reader: [Interface] PrivateKey, Address (at most one IPv4 and one IPv6
 * prefix), DNS (addresses, and search domains as NetworkManager takes
 * them), MTU, ListenPort; [Peer] PublicKey, PresharedKey, Endpoint,
 * AllowedIPs, PersistentKeepalive, and hints in comments that wg-quick
 * ignores ("# Name = laptop", "# Lazy = yes").  Keys are case-insensitive;
 * PreUp/PostUp/PreDown/PostDown/SaveConfig are ignored with a warning;
 * Table and FwMark are refused unless they ask for the default.  Every peer
 * is kept, in file order (peer.1, peer.2, ...); a duplicate PublicKey is an
 * error.  Each value is checked with the profile's own field parsers, and
 * errors name "FILE:LINE: Key: what is wrong"; on error nothing is
 * returned.  Secrets go to @secrets only, never to @data, and no message
 * quotes them.
 *
 * Settings wg-quick has no word for travel in comments the writer puts
 * there and the reader takes back (checked like the rest), so that
 * profile -> file -> profile keeps them: "# wgmesh: KEY = VALUE" in
 * [Interface] for backend, lazy-connections, inactivity-timeout,
 * give-up-after and network-map, and "# wgmesh: give-up-after = N" in a
 * [Peer] (there, not in [Interface], because peers are numbered in file
 * order: a profile's peer.7 may come back as peer.3).
 *
 * Values in @data: lists joined with ", ", numbers without leading zeros,
 * "Lazy" as yes/no, PersistentKeepalive "off"/0 and ListenPort 0 left out
 * ("# wgmesh:" values are kept as written, once checked);
 * a PrivateKey or PresharedKey also sets its "...-flags" key to "0" (stored
 * by NetworkManager).  In PROFILE mode, a file without a PrivateKey is
 * accepted with a warning (the rest is checked with a stand-in key); an
 * Address is required.  In PEERS_ONLY mode each peer is checked on its own
 * (no checks across peers but the duplicate PublicKey).
 */
#pragma once

#include <NetworkManager.h>

typedef enum {
    WGM_WGQUICK_PROFILE,    /* one [Interface] (required) and any [Peer]s */
    WGM_WGQUICK_PEERS_ONLY, /* [Peer]s only: a network map */
} WgmWgQuickMode;

typedef struct {
    GHashTable *data;     /* vpn.data: key -> value (owned strings) */
    GHashTable *secrets;  /* vpn.secrets: key -> value; values wiped when freed */
    GPtrArray  *warnings; /* of char*: "FILE:LINE: PostUp is ignored (...)" */
    guint       n_peers;
} WgmWgQuick;

/* @contents need not be NUL-terminated when @len >= 0.  @filename is only
 * used in messages. */
WgmWgQuick *wgm_wgquick_read(const char    *contents,
                             gssize         len,
                             const char    *filename,
                             WgmWgQuickMode mode,
                             GError       **error);
void        wgm_wgquick_free(WgmWgQuick *wq);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmWgQuick, wgm_wgquick_free)

/* A new VPN setting (service type WGM_VPN_SERVICE_TYPE) holding @wq's data
 * and secrets, e.g. for the connection an import makes. */
NMSettingVpn *wgm_wgquick_to_setting(const WgmWgQuick *wq);

/* A wgmesh profile's VPN setting as a wg-quick file that `wg-quick strip`
 * and `wg setconf` accept.  The private key and preshared keys are written
 * if @s_vpn carries them as secrets; a missing private key is left out, with
 * a comment saying so (NetworkManager's export carries no secrets).  Peer
 * names and lazy choices go into "# Name =" / "# Lazy =" comments.  The
 * profile is checked first (as wgm_config_new_from_setting() does, the
 * private key aside): on error NULL is returned.  Peers come in index
 * order.  The text holds the keys when @s_vpn does: free it with
 * wgm_secret_free(). */
char *wgm_wgquick_write(NMSettingVpn *s_vpn, GError **error);
