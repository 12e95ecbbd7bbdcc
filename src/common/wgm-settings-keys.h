/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one namespace of vpn.data / vpn.secrets keys, shared by the service,
 * the editor, the command-line tool and the tests.
 */
#pragma once

#define WGM_VPN_SERVICE_TYPE "org.freedesktop.NetworkManager.wgmesh"

/* vpn.secrets */
#define WGM_KEY_PRIVATE_KEY       "private-key"
#define WGM_KEY_PRIVATE_KEY_FLAGS "private-key-flags" /* vpn.data, as NM stores flags */
/* What an auth dialog answers when no secret is needed ("true"; openvpn's
 * convention, so that the agent has something to return): accepted and
 * ignored. */
#define WGM_KEY_NO_SECRET "no-secret"

/* vpn.data: interface */
#define WGM_KEY_LISTEN_PORT        "listen-port"
#define WGM_KEY_ADDRESS            "address" /* comma list, at most one IPv4 and one IPv6 */
#define WGM_KEY_DNS                "dns"
#define WGM_KEY_DNS_SEARCH         "dns-search"
#define WGM_KEY_MTU                "mtu"
#define WGM_KEY_BACKEND            "backend" /* "auto" | "userspace" | "kernel" */
#define WGM_KEY_LAZY_CONNECTIONS   "lazy-connections"
#define WGM_KEY_INACTIVITY_TIMEOUT "inactivity-timeout" /* seconds */
#define WGM_KEY_NETWORK_MAP        "network-map"
#define WGM_KEY_GIVE_UP_AFTER      "give-up-after" /* seconds from the first failure, 0 = never */

/* vpn.data (and vpn.secrets for preshared-key): inline peers "peer.N.<field>" */
#define WGM_KEY_PEER_PREFIX                 "peer."
#define WGM_PEER_FIELD_PUBLIC_KEY           "public-key"
#define WGM_PEER_FIELD_ENDPOINT             "endpoint"
#define WGM_PEER_FIELD_ALLOWED_IPS          "allowed-ips"
#define WGM_PEER_FIELD_PERSISTENT_KEEPALIVE "persistent-keepalive"
#define WGM_PEER_FIELD_LAZY                 "lazy"
#define WGM_PEER_FIELD_NAME                 "name"
#define WGM_PEER_FIELD_GIVE_UP_AFTER        "give-up-after"
#define WGM_PEER_FIELD_PRESHARED_KEY        "preshared-key"       /* secret */
#define WGM_PEER_FIELD_PRESHARED_KEY_FLAGS  "preshared-key-flags" /* vpn.data */

/* Defaults */
#define WGM_DEFAULT_MTU                1420
#define WGM_DEFAULT_INACTIVITY_TIMEOUT (15 * 60) /* seconds */
#define WGM_MIN_INACTIVITY_TIMEOUT     60
#define WGM_MAX_INACTIVITY_TIMEOUT     (24 * 3600)
/* Test-only: a smaller minimum for inactivity-timeout, in seconds (1..59),
 * so tests need not wait a minute.  Read from the environment of the
 * process that parses settings; a service NetworkManager starts inherits
 * NetworkManager's environment, which only root controls. */
#define WGM_ENV_TEST_INACTIVITY_MIN "WGM_TEST_INACTIVITY_MIN"
#define WGM_MAX_PEERS               100000
#define WGM_MAX_GIVE_UP_AFTER       (30 * 24 * 3600) /* seconds: 30 days */
