/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The userspace backend: one wireguard-go child per interface, driven over
 * one persistent UAPI socket connection (/var/run/wireguard/<ifname>.sock).
 *
 * Death and restart:
 * - "died" is emitted once per start that completed, when wireguard-go
 *   exits or is killed by anyone ("wireguard-go for wg0 was killed by
 *   signal 9 (SIGKILL)"), or when it stops answering: a request without a
 *   reply in 5 s, then the one sent after it on a fresh connection (sent at
 *   once if nobody else asks) too.  Then the backend kills it (SIGKILL) and
 *   says "wireguard-go for wg0 stopped answering on
 *   /var/run/wireguard/wg0.sock (no reply in 5 s, 2 requests in a row)".
 *   A start that fails reports through its own callback, never "died".
 * - When "died" is emitted the backend is stopped already: pending and
 *   later operations fail, the ifindex reads 0, stop() is a no-op.
 * - wgm_backend_start_async() may then be called again on the same object
 *   (from the "died" handler too), as after stop(): it waits until the
 *   previous process is reaped and its socket file removed (SIGKILL 3 s
 *   after an ignored SIGTERM), spawns a fresh wireguard-go and completes
 *   when its device is up.  The interface is the same (a persistent tun,
 *   wgm-tun.h: same ifindex, addresses and routes), but WireGuard has
 *   nothing configured: no private key, a random listen port, no peers.
 *   stop() deletes the interface.
 */
#pragma once

#include "wgm-backend.h"

#define WGM_TYPE_BACKEND_UAPI (wgm_backend_uapi_get_type())
G_DECLARE_FINAL_TYPE(WgmBackendUapi, wgm_backend_uapi, WGM, BACKEND_UAPI, WgmBackend)

/* @wireguard_go_path: the binary to spawn; NULL for $WGM_WIREGUARD_GO when
 * set, else the path configured at build time (-Dwireguard_go). */
WgmBackend *wgm_backend_uapi_new(const char *ifname, const char *wireguard_go_path);

/* Finds interface @ifname and brings it up: its ifindex (> 0), or 0 and
 * @error set. */
typedef int (*WgmBackendUapiLinkFunc)(const char *ifname, GError **error);

/* For unit tests with a stand-in for wireguard-go, which creates no tun
 * device and needs no root.  Before the first start: the socket in
 * @socket_dir instead of /var/run/wireguard, each request's time limit
 * @request_timeout_ms (0: the default 5 s), the interface found and brought
 * up by @link_up (NULL: the real interface). */
void wgm_backend_uapi_set_test_hooks(WgmBackend            *backend,
                                     const char            *socket_dir,
                                     guint                  request_timeout_ms,
                                     WgmBackendUapiLinkFunc link_up);
