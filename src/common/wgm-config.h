/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <NetworkManager.h>

#include "wgm-ip.h"
#include "wgm-key.h"

typedef enum {
    WGM_BACKEND_KIND_AUTO,
    WGM_BACKEND_KIND_USERSPACE,
    WGM_BACKEND_KIND_KERNEL,
} WgmBackendKind;

typedef struct {
    guint    index; /* N of peer.N.* */
    char    *name;  /* peer.N.name, or NULL */
    WgmKey   public_key;
    gboolean has_preshared_key;
    WgmKey   preshared_key; /* secret: wiped by wgm_config_free() */
    char    *endpoint_host; /* NULL: no endpoint (the peer has to reach us) */
    guint16  endpoint_port;
    GArray  *allowed_ips;          /* of WgmIpPrefix, normalized (host bits cleared) */
    guint16  persistent_keepalive; /* seconds, 0 = off */
    int      lazy;                 /* -1 = follow lazy-connections, 0/1 = per-peer override */
    gint64   give_up_after;        /* seconds, -1 = follow give-up-after, 0 = never */
} WgmPeerConfig;

typedef struct {
    WgmKey         private_key; /* secret: wiped by wgm_config_free() */
    gint32         listen_port; /* -1 = let WireGuard pick */
    gboolean       has_address4;
    WgmIpPrefix    address4; /* as written: host bits kept */
    gboolean       has_address6;
    WgmIpPrefix    address6;
    GArray        *dns;        /* of WgmIpAddr */
    char         **dns_search; /* NULL-terminated, never NULL */
    guint32        mtu;
    WgmBackendKind backend;
    gboolean       lazy_connections;
    guint32        inactivity_timeout; /* seconds */
    guint32        give_up_after;      /* seconds from the first failure, 0 = never (default) */
    char          *network_map;        /* path, or NULL */
    GPtrArray     *peers;              /* of WgmPeerConfig*, ordered by index */
} WgmConfig;

/*
 * Validates everything before returning anything: on error nothing is
 * returned, and the GError (WGM_ERROR_INVALID_SETTING) names the key and
 * what was expected, e.g.
 *   "peer.2.allowed-ips: \"10.0.0.300/32\" is not an IP prefix (expected ADDRESS/LENGTH)".
 * Secret values are never quoted in messages.
 * Unknown keys are rejected; the flags keys NM stores for secrets are accepted.
 * The private key is required here: ask for it with wgm_config_need_secrets() first.
 */
WgmConfig *wgm_config_new_from_setting(NMSettingVpn *s_vpn, GError **error);
void       wgm_config_free(WgmConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmConfig, wgm_config_free)

/* Checks @value of the interface key @key of vpn.data (not a peer key, not
 * a secret) on its own, by the rules of wgm_config_new_from_setting(), for
 * importers that report where a value came from: the checks against other
 * keys (an MTU against an IPv6 address) are left to the whole profile.
 * Messages start with @name (e.g. the wg-quick key) instead of @key. */
gboolean wgm_config_check_value(const char *key,
                                const char *value,
                                const char *name,
                                GError    **error);

/* What a valid @config may still ask for that the service cannot do yet
 * (the kernel backend, no peer with an endpoint), refused
 * at Connect, in an edit while up and by the editor alike. */
gboolean wgm_config_check_supported(const WgmConfig *config, GError **error);

/* Secret names (vpn.secrets keys) that are missing and that NM may ask an agent
 * for, honouring their flags (NOT_REQUIRED secrets are never asked for;
 * NOT_SAVED/AGENT_OWNED ones are, when absent).  Returns NULL when complete,
 * and when a secret sits in vpn.data: no agent is asked for what Connect will
 * refuse anyway; wgm_config_new_from_setting() says where it belongs. */
char **wgm_config_need_secrets(NMSettingVpn *s_vpn);

/* Secret names (the private key, peer.N.preshared-key) whose value an agent
 * gave (flags AGENT_OWNED or NOT_SAVED) and that wgm_config_new_from_setting()
 * refuses (not a WireGuard key): worth asking the user again.  NULL if none.
 * Secrets NetworkManager stores are left to the profile's own error. */
char **wgm_config_bad_agent_secrets(NMSettingVpn *s_vpn);

/* The peer of @config with @public_key, NULL if none. */
const WgmPeerConfig *wgm_config_find_peer(const WgmConfig *config, const WgmKey *public_key);

/* A profile re-read while up (its secrets fetched by the service, which
 * has no agent) lacks the secrets an agent gave at Connect or that are
 * never saved (AGENT_OWNED, NOT_SAVED): each such secret @s_vpn lacks gets
 * the value @applied runs with (a preshared key: for the same public key). */
void wgm_config_keep_unsaved_secrets(const WgmConfig *applied, NMSettingVpn *s_vpn);

/* The smallest inactivity-timeout accepted (WGM_MIN_INACTIVITY_TIMEOUT,
 * or less for tests: WGM_ENV_TEST_INACTIVITY_MIN). */
guint wgm_config_inactivity_timeout_min(void);

gboolean wgm_peer_config_is_lazy(const WgmConfig *config, const WgmPeerConfig *peer);
/* Seconds from a peer's first failure until it gives up, 0 = never. */
guint32     wgm_peer_config_give_up_after(const WgmConfig *config, const WgmPeerConfig *peer);
const char *wgm_backend_kind_to_string(WgmBackendKind kind);
